/* SPDX-License-Identifier: GPL-3.0-or-later
 *
 * pp-store-users.c: users, roles and password login.
 */
#include "config.h"

#include <string.h>

#include <glib/gi18n-lib.h>

#include "pp-password.h"
#include "pp-store-private.h"

#define PASSWORD_MIN_LENGTH 4

static const struct {
  const char *id;
  const char *label;
} role_names[PP_N_USER_ROLES] = {
  [PP_USER_ROLE_FIELD_MANAGER] = { "field_manager", N_("Field manager") },
  [PP_USER_ROLE_REVIEWER] = { "reviewer", N_("Reviewer") },
  [PP_USER_ROLE_ADMINISTRATOR] = { "administrator", N_("Administrator") },
};

const char *
pp_user_role_to_string (PpUserRole role)
{
  g_return_val_if_fail (role >= 0 && role < PP_N_USER_ROLES, NULL);
  return role_names[role].id;
}

gboolean
pp_user_role_from_string (const char *s,
                          PpUserRole *out)
{
  g_return_val_if_fail (s != NULL, FALSE);

  for (int i = 0; i < PP_N_USER_ROLES; i++)
    if (g_str_equal (s, role_names[i].id))
      {
        if (out != NULL)
          *out = (PpUserRole) i;
        return TRUE;
      }
  return FALSE;
}

const char *
pp_user_role_get_label (PpUserRole role)
{
  g_return_val_if_fail (role >= 0 && role < PP_N_USER_ROLES, NULL);
  return g_dgettext (GETTEXT_PACKAGE, role_names[role].label);
}

void
pp_user_free (PpUser *user)
{
  if (user == NULL)
    return;
  g_free (user->username);
  g_free (user->display_name);
  g_free (user);
}

static char *
normalize_username (const char  *username,
                    GError     **error)
{
  g_autofree char *lower = g_ascii_strdown (username, -1);
  gsize n = strlen (lower);

  if (n < 2 || n > 32)
    {
      g_set_error_literal (error, PP_STORE_ERROR, PP_STORE_ERROR_INVALID,
                           _("user name must be 2 to 32 characters"));
      return NULL;
    }
  for (gsize i = 0; i < n; i++)
    if (!g_ascii_isalnum (lower[i]) && lower[i] != '.' && lower[i] != '_' && lower[i] != '-')
      {
        g_set_error_literal (error, PP_STORE_ERROR, PP_STORE_ERROR_INVALID,
                             _("user name may hold only letters, digits, “.”, “_” and “-”"));
        return NULL;
      }
  return g_steal_pointer (&lower);
}

#define USER_COLUMNS "id, username, display_name, role, created_at"

static PpUser *
user_from_stmt (sqlite3_stmt *stmt)
{
  PpUser *user = g_new0 (PpUser, 1);

  user->id = sqlite3_column_int64 (stmt, 0);
  user->username = g_strdup ((const char *) sqlite3_column_text (stmt, 1));
  user->display_name = g_strdup ((const char *) sqlite3_column_text (stmt, 2));
  if (!pp_user_role_from_string ((const char *) sqlite3_column_text (stmt, 3), &user->role))
    user->role = PP_USER_ROLE_FIELD_MANAGER; /* unreachable: CHECK constraint */
  user->created_at = sqlite3_column_int64 (stmt, 4);
  return user;
}

/* @hash_out (optional) receives the stored password hash. */
PpUser *
pp_store_lookup_user (PpStore     *self,
                      const char  *username,
                      char       **hash_out,
                      GError     **error)
{
  g_autoptr(sqlite3_stmt) stmt = NULL;
  g_autofree char *lower = g_ascii_strdown (username, -1);
  int rc;

  stmt = pp_store_prepare (self, "SELECT " USER_COLUMNS ", password_hash FROM users WHERE username = ?",
                           error);
  if (stmt == NULL)
    return NULL;
  sqlite3_bind_text (stmt, 1, lower, -1, SQLITE_STATIC);
  rc = sqlite3_step (stmt);
  if (rc == SQLITE_DONE)
    {
      g_set_error (error, PP_STORE_ERROR, PP_STORE_ERROR_NOT_FOUND, _("no user “%s”"), lower);
      return NULL;
    }
  if (rc != SQLITE_ROW)
    {
      pp_store_set_sql_error (self, error, _("cannot read user"));
      return NULL;
    }
  if (hash_out != NULL)
    *hash_out = g_strdup ((const char *) sqlite3_column_text (stmt, 5));
  return user_from_stmt (stmt);
}

/* "reviewer", "field_manager or administrator", ... */
static char *
describe_roles (guint roles)
{
  g_autoptr(GString) text = g_string_new (NULL);
  guint n = 0, seen = 0;

  for (int i = 0; i < PP_N_USER_ROLES; i++)
    if (roles & PP_USER_ROLE_BIT (i))
      n++;
  for (int i = 0; i < PP_N_USER_ROLES; i++)
    if (roles & PP_USER_ROLE_BIT (i))
      {
        if (seen > 0)
          g_string_append (text, seen + 1 == n ? " or " : ", ");
        g_string_append (text, role_names[i].id);
        seen++;
      }
  return g_string_free (g_steal_pointer (&text), FALSE);
}

PpUser *
pp_store_require_actor (PpStore     *self,
                        const char  *username,
                        guint        allowed_roles,
                        const char  *what,
                        GError     **error)
{
  g_autoptr(GError) local = NULL;
  g_autoptr(PpUser) user = NULL;
  g_autofree char *roles = NULL;

  g_return_val_if_fail (username != NULL, NULL);
  g_return_val_if_fail (what != NULL, NULL);

  user = pp_store_lookup_user (self, username, NULL, &local);
  if (user == NULL)
    {
      if (g_error_matches (local, PP_STORE_ERROR, PP_STORE_ERROR_NOT_FOUND))
        g_set_error (error, PP_STORE_ERROR, PP_STORE_ERROR_PERMISSION,
                     _("“%s” is not a user of this station and may not %s"), username, what);
      else
        g_propagate_error (error, g_steal_pointer (&local));
      return NULL;
    }
  if ((allowed_roles & PP_USER_ROLE_BIT (user->role)) == 0)
    {
      roles = describe_roles (allowed_roles);
      g_set_error (error, PP_STORE_ERROR, PP_STORE_ERROR_PERMISSION,
                   _("user “%s” (%s) may not %s; only a %s may"),
                   user->username, role_names[user->role].id, what, roles);
      return NULL;
    }
  return g_steal_pointer (&user);
}

gboolean
pp_store_insert_user (PpStore     *self,
                      const char  *username,
                      const char  *display_name,
                      PpUserRole   role,
                      const char  *password_hash,
                      const char  *actor,
                      GError     **error)
{
  g_autoptr(sqlite3_stmt) stmt = NULL;
  g_autoptr(JsonBuilder) detail = json_builder_new ();

  stmt = pp_store_prepare (self,
                           "INSERT INTO users (username, display_name, role, password_hash, created_at) "
                           "VALUES (?, ?, ?, ?, ?)", error);
  if (stmt == NULL)
    return FALSE;
  sqlite3_bind_text (stmt, 1, username, -1, SQLITE_STATIC);
  sqlite3_bind_text (stmt, 2, display_name, -1, SQLITE_STATIC);
  sqlite3_bind_text (stmt, 3, pp_user_role_to_string (role), -1, SQLITE_STATIC);
  sqlite3_bind_text (stmt, 4, password_hash, -1, SQLITE_STATIC);
  sqlite3_bind_int64 (stmt, 5, pp_store_now ());
  if (sqlite3_step (stmt) != SQLITE_DONE)
    {
      if (sqlite3_extended_errcode (self->db) == SQLITE_CONSTRAINT_UNIQUE)
        g_set_error (error, PP_STORE_ERROR, PP_STORE_ERROR_DUPLICATE,
                     _("user “%s” already exists"), username);
      else
        pp_store_set_sql_error (self, error, _("cannot add user"));
      return FALSE;
    }

  json_builder_begin_object (detail);
  json_builder_set_member_name (detail, "role");
  json_builder_add_string_value (detail, pp_user_role_to_string (role));
  json_builder_set_member_name (detail, "display_name");
  json_builder_add_string_value (detail, display_name);
  json_builder_end_object (detail);
  return pp_store_audit_append (self, actor, "user.add", username, json_builder_get_root (detail), error);
}

PpUser *
pp_store_add_user (PpStore     *self,
                   const char  *username,
                   const char  *display_name,
                   PpUserRole   role,
                   const char  *password,
                   const char  *actor,
                   GError     **error)
{
  return pp_store_add_user_with_cost (self, username, display_name, role, password,
                                      PP_PASSWORD_DEFAULT_LOG2_N, actor, error);
}

PpUser *
pp_store_add_user_with_cost (PpStore     *self,
                             const char  *username,
                             const char  *display_name,
                             PpUserRole   role,
                             const char  *password,
                             guint        password_log2_n,
                             const char  *actor,
                             GError     **error)
{
  g_autofree char *name = NULL;
  g_autofree char *display = NULL;
  g_autofree char *hash = NULL;
  g_autoptr(GError) local = NULL;

  g_return_val_if_fail (PP_IS_STORE (self), NULL);
  g_return_val_if_fail (username != NULL, NULL);
  g_return_val_if_fail (role >= 0 && role < PP_N_USER_ROLES, NULL);
  g_return_val_if_fail (password != NULL, NULL);
  g_return_val_if_fail (password_log2_n >= PP_PASSWORD_MIN_LOG2_N &&
                        password_log2_n <= PP_PASSWORD_MAX_LOG2_N, NULL);
  g_return_val_if_fail (actor != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  name = normalize_username (username, error);
  if (name == NULL)
    return NULL;
  display = g_strstrip (g_strdup (display_name != NULL ? display_name : ""));
  if (*display == '\0')
    {
      g_free (display);
      display = g_strdup (name);
    }
  if (!g_utf8_validate (display, -1, NULL) || g_utf8_strlen (display, -1) > 64)
    {
      g_set_error_literal (error, PP_STORE_ERROR, PP_STORE_ERROR_INVALID,
                           _("display name must be text of at most 64 characters"));
      return NULL;
    }
  if (g_utf8_strlen (password, -1) < PASSWORD_MIN_LENGTH)
    {
      g_set_error (error, PP_STORE_ERROR, PP_STORE_ERROR_INVALID,
                   _("password must have at least %d characters"), PASSWORD_MIN_LENGTH);
      return NULL;
    }

  /* Hash before taking the write lock: scrypt is slow on purpose. */
  hash = pp_password_hash_with_cost (password, password_log2_n, &local);
  if (hash == NULL)
    {
      g_set_error (error, PP_STORE_ERROR, PP_STORE_ERROR_SQL, _("cannot hash password: %s"),
                   local->message);
      return NULL;
    }

  if (!pp_store_begin (self, error))
    return NULL;
  if (!pp_store_insert_user (self, name, display, role, hash, actor, error) ||
      !pp_store_commit (self, error))
    {
      pp_store_rollback (self);
      return NULL;
    }
  return pp_store_lookup_user (self, name, NULL, error);
}

PpUser *
pp_store_get_user (PpStore     *self,
                   const char  *username,
                   GError     **error)
{
  g_return_val_if_fail (PP_IS_STORE (self), NULL);
  g_return_val_if_fail (username != NULL, NULL);

  return pp_store_lookup_user (self, username, NULL, error);
}

GPtrArray *
pp_store_list_users (PpStore  *self,
                     GError  **error)
{
  g_autoptr(sqlite3_stmt) stmt = NULL;
  g_autoptr(GPtrArray) result = NULL;
  int rc;

  g_return_val_if_fail (PP_IS_STORE (self), NULL);

  stmt = pp_store_prepare (self, "SELECT " USER_COLUMNS " FROM users ORDER BY username", error);
  if (stmt == NULL)
    return NULL;
  result = g_ptr_array_new_with_free_func ((GDestroyNotify) pp_user_free);
  while ((rc = sqlite3_step (stmt)) == SQLITE_ROW)
    g_ptr_array_add (result, user_from_stmt (stmt));
  if (rc != SQLITE_DONE)
    {
      pp_store_set_sql_error (self, error, _("cannot list users"));
      return NULL;
    }
  return g_steal_pointer (&result);
}

static void
journal_login (PpStore    *self,
               const char *username,
               gboolean    ok)
{
  /* Own transaction: a failed login is journalled although nothing else changes. */
  if (!pp_store_begin (self, NULL))
    return;
  if (!pp_store_audit_append (self, username, ok ? "user.login" : "user.login_failed",
                              username, NULL, NULL) ||
      !pp_store_commit (self, NULL))
    pp_store_rollback (self);
}

PpUser *
pp_store_authenticate (PpStore     *self,
                       const char  *username,
                       const char  *password,
                       GError     **error)
{
  g_autoptr(PpUser) user = NULL;
  g_autofree char *hash = NULL;
  g_autofree char *lower = NULL;
  g_autoptr(GError) local = NULL;

  g_return_val_if_fail (PP_IS_STORE (self), NULL);
  g_return_val_if_fail (username != NULL, NULL);
  g_return_val_if_fail (password != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  lower = g_ascii_strdown (username, -1);
  user = pp_store_lookup_user (self, lower, &hash, &local);
  if (user == NULL && !g_error_matches (local, PP_STORE_ERROR, PP_STORE_ERROR_NOT_FOUND))
    {
      g_propagate_error (error, g_steal_pointer (&local));
      return NULL;
    }
  g_clear_error (&local);

  if (user == NULL)
    {
      /* Spend the same scrypt time as for a known user, so how long a
       * refusal takes does not tell which user names exist. */
      static gsize dummy_once = 0;
      static char *dummy_hash = NULL;

      if (g_once_init_enter (&dummy_once))
        {
          dummy_hash = pp_password_hash ("", NULL);
          g_once_init_leave (&dummy_once, 1);
        }
      if (dummy_hash != NULL)
        pp_password_verify (password, dummy_hash, NULL);
    }
  if (user == NULL || !pp_password_verify (password, hash, &local))
    {
      journal_login (self, lower, FALSE);
      /* Same message for unknown user and wrong password. */
      g_set_error_literal (error, PP_STORE_ERROR, PP_STORE_ERROR_PERMISSION,
                           _("wrong user name or password"));
      return NULL;
    }
  journal_login (self, lower, TRUE);
  return g_steal_pointer (&user);
}

gboolean
pp_store_set_password (PpStore     *self,
                       const char  *username,
                       const char  *password,
                       const char  *actor,
                       GError     **error)
{
  g_autofree char *lower = NULL;
  g_autofree char *hash = NULL;
  g_autoptr(sqlite3_stmt) stmt = NULL;
  g_autoptr(GError) local = NULL;

  g_return_val_if_fail (PP_IS_STORE (self), FALSE);
  g_return_val_if_fail (username != NULL, FALSE);
  g_return_val_if_fail (password != NULL, FALSE);
  g_return_val_if_fail (actor != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  if (g_utf8_strlen (password, -1) < PASSWORD_MIN_LENGTH)
    {
      g_set_error (error, PP_STORE_ERROR, PP_STORE_ERROR_INVALID,
                   _("password must have at least %d characters"), PASSWORD_MIN_LENGTH);
      return FALSE;
    }
  lower = g_ascii_strdown (username, -1);
  hash = pp_password_hash (password, &local);
  if (hash == NULL)
    {
      g_set_error (error, PP_STORE_ERROR, PP_STORE_ERROR_SQL, _("cannot hash password: %s"),
                   local->message);
      return FALSE;
    }

  if (!pp_store_begin (self, error))
    return FALSE;
  stmt = pp_store_prepare (self, "UPDATE users SET password_hash = ? WHERE username = ?", error);
  if (stmt == NULL)
    goto fail;
  sqlite3_bind_text (stmt, 1, hash, -1, SQLITE_STATIC);
  sqlite3_bind_text (stmt, 2, lower, -1, SQLITE_STATIC);
  if (sqlite3_step (stmt) != SQLITE_DONE)
    {
      pp_store_set_sql_error (self, error, _("cannot change password"));
      goto fail;
    }
  if (sqlite3_changes (self->db) != 1)
    {
      g_set_error (error, PP_STORE_ERROR, PP_STORE_ERROR_NOT_FOUND, _("no user “%s”"), lower);
      goto fail;
    }
  if (!pp_store_audit_append (self, actor, "user.password", lower, NULL, error))
    goto fail;
  return pp_store_commit (self, error);

fail:
  pp_store_rollback (self);
  return FALSE;
}
