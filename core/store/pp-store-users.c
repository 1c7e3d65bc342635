/* SPDX-License-Identifier: GPL-3.0-or-later
 *
 * pp-store-users.c: users, roles and password login.
 */
#include "config.h"

#include <string.h>

#include <glib/gi18n-lib.h>

#include "pp-password.h"
#include "pp-store-private.h"

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
                           _("The user name must have 2 to 32 characters"));
      return NULL;
    }
  for (gsize i = 0; i < n; i++)
    if (!g_ascii_isalnum (lower[i]) && lower[i] != '.' && lower[i] != '_' && lower[i] != '-')
      {
        g_set_error_literal (error, PP_STORE_ERROR, PP_STORE_ERROR_INVALID,
                             _("The user name may hold only letters a–z, digits, “.”, “_” and “-”"));
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
                           "INSERT INTO users (username, display_name, role, password_hash, created_at, "
                           "created_by, role_set_by, password_set_by) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                           error);
  if (stmt == NULL)
    return FALSE;
  sqlite3_bind_text (stmt, 1, username, -1, SQLITE_STATIC);
  sqlite3_bind_text (stmt, 2, display_name, -1, SQLITE_STATIC);
  sqlite3_bind_text (stmt, 3, pp_user_role_to_string (role), -1, SQLITE_STATIC);
  sqlite3_bind_text (stmt, 4, password_hash, -1, SQLITE_STATIC);
  sqlite3_bind_int64 (stmt, 5, pp_store_now ());
  for (int i = 6; i <= 8; i++)
    sqlite3_bind_text (stmt, i, actor, -1, SQLITE_STATIC);
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

static gboolean
count_users (PpStore  *self,
             gint64   *out_n,
             GError  **error)
{
  g_autoptr(sqlite3_stmt) stmt = pp_store_prepare (self, "SELECT count(*) FROM users", error);

  if (stmt == NULL)
    return FALSE;
  if (sqlite3_step (stmt) != SQLITE_ROW)
    {
      pp_store_set_sql_error (self, error, _("cannot count users"));
      return FALSE;
    }
  *out_n = sqlite3_column_int64 (stmt, 0);
  return TRUE;
}

/* Inside the open transaction: only an administrator creates accounts,
 * except the first account of a store without any, which is the first
 * administrator (first-run setup) and records @actor as given. *out_actor
 * gets the name to record. */
static gboolean
check_account_admin (PpStore     *self,
                     const char  *actor,
                     PpUserRole   role,
                     char       **out_actor,
                     GError     **error)
{
  g_autoptr(PpUser) admin = NULL;
  gint64 n_users = 0;

  if (!count_users (self, &n_users, error))
    return FALSE;
  if (n_users == 0)
    {
      if (role != PP_USER_ROLE_ADMINISTRATOR)
        {
          g_set_error (error, PP_STORE_ERROR, PP_STORE_ERROR_PERMISSION,
                       _("the first account of a station must be an administrator, not a %s"),
                       role_names[role].id);
          return FALSE;
        }
      *out_actor = g_strdup (actor);
      return TRUE;
    }
  admin = pp_store_require_actor (self, actor, PP_USER_ROLE_BIT (PP_USER_ROLE_ADMINISTRATOR),
                                  "add users", error);
  if (admin == NULL)
    return FALSE;
  *out_actor = g_strdup (admin->username);
  return TRUE;
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
  g_autofree char *admin = NULL;
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
  /* Every account's password passes the policy (a demo store's accounts
   * come from the demo seed only, never from here). */
  if (!pp_password_check_policy (password, name, error))
    return NULL;

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
  if (!check_account_admin (self, actor, role, &admin, error) ||
      !pp_store_insert_user (self, name, display, role, hash, admin, error) ||
      !pp_store_commit (self, error))
    {
      pp_store_rollback (self);
      return NULL;
    }
  return pp_store_lookup_user (self, name, NULL, error);
}

PpUser *
pp_store_create_first_administrator (PpStore     *self,
                                     const char  *username,
                                     const char  *display_name,
                                     const char  *password,
                                     GError     **error)
{
  g_autofree char *name = NULL;
  g_autofree char *display = NULL;
  g_autofree char *hash = NULL;
  g_autoptr(GError) local = NULL;
  gboolean has_users = FALSE;

  g_return_val_if_fail (PP_IS_STORE (self), NULL);
  g_return_val_if_fail (username != NULL, NULL);
  g_return_val_if_fail (password != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  if (pp_store_is_demo_store (self))
    {
      g_set_error (error, PP_STORE_ERROR, PP_STORE_ERROR_DEMO,
                   _("%s is a demo store: its accounts are the demo's, and a real "
                     "administrator belongs in a real store"), self->path);
      return NULL;
    }
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
  if (!pp_password_check_policy (password, name, error))
    return NULL;

  /* Checked before the slow hash too, so a second setup hears it at once. */
  if (!pp_store_has_users (self, &has_users, error))
    return NULL;
  if (has_users)
    goto has_users;

  hash = pp_password_hash (password, &local);
  if (hash == NULL)
    {
      g_set_error (error, PP_STORE_ERROR, PP_STORE_ERROR_SQL, _("cannot hash password: %s"),
                   local->message);
      return NULL;
    }

  if (!pp_store_begin (self, error))
    return NULL;
  /* Again inside the write transaction: two setups at once make one administrator. */
  if (!pp_store_has_users (self, &has_users, error))
    goto fail;
  if (has_users)
    {
      pp_store_rollback (self);
      goto has_users;
    }
  if (!pp_store_insert_user (self, name, display, PP_USER_ROLE_ADMINISTRATOR, hash, name, error) ||
      !pp_store_commit (self, error))
    goto fail;
  return pp_store_lookup_user (self, name, NULL, error);

has_users:
  g_set_error (error, PP_STORE_ERROR, PP_STORE_ERROR_PERMISSION,
               _("This station already has user accounts; ask its administrator for one"));
  return NULL;

fail:
  pp_store_rollback (self);
  return NULL;
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

/* The journal's name for a login with a user name the station does not
 * know. The text typed is not kept, not even hashed: it is as likely a
 * password typed into the wrong field as a name, and any hash of it the
 * journal could keep would be open to a dictionary attack by whoever
 * reads the file. */
#define UNKNOWN_USER "(unknown)"

/* @username NULL: a name that is not a user of the station. */
static void
journal_login (PpStore    *self,
               const char *username,
               const char *action,
               const char *reason)
{
  g_autoptr(JsonBuilder) detail = json_builder_new ();

  json_builder_begin_object (detail);
  if (reason != NULL)
    {
      json_builder_set_member_name (detail, "reason");
      json_builder_add_string_value (detail, reason);
    }
  json_builder_end_object (detail);
  /* Own transaction: a failed login is journalled although nothing else changes. */
  if (!pp_store_begin (self, NULL))
    return;
  if (!pp_store_audit_append (self, username != NULL ? username : UNKNOWN_USER, action,
                              username != NULL ? username : UNKNOWN_USER,
                              json_builder_get_root (detail), NULL) ||
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
      if (user == NULL)
        journal_login (self, NULL, "user.login_failed", "unknown user name");
      else
        journal_login (self, user->username, "user.login_failed", "wrong password");
      /* Same message for unknown user and wrong password. */
      g_set_error_literal (error, PP_STORE_ERROR, PP_STORE_ERROR_PERMISSION,
                           _("wrong user name or password"));
      return NULL;
    }
  journal_login (self, user->username, "user.login", NULL);
  return g_steal_pointer (&user);
}

static char *
hash_password (const char  *password,
               GError     **error)
{
  g_autoptr(GError) local = NULL;
  char *hash = pp_password_hash (password, &local);

  if (hash == NULL)
    g_set_error (error, PP_STORE_ERROR, PP_STORE_ERROR_SQL, _("cannot hash password: %s"),
                 local->message);
  return hash;
}

/* Stores @hash for @username (lower case) if the stored one is still
 * @old_hash (NULL: whatever it is), recording @by as who set it. */
static gboolean
store_password (PpStore     *self,
                const char  *username,
                const char  *hash,
                const char  *old_hash,
                const char  *by,
                GError     **error)
{
  g_autoptr(sqlite3_stmt) stmt =
    pp_store_prepare (self, old_hash != NULL
                              ? "UPDATE users SET password_hash = ?1, password_set_by = ?3 "
                                "WHERE username = ?2 AND password_hash = ?4"
                              : "UPDATE users SET password_hash = ?1, password_set_by = ?3 "
                                "WHERE username = ?2", error);

  if (stmt == NULL)
    return FALSE;
  sqlite3_bind_text (stmt, 1, hash, -1, SQLITE_STATIC);
  sqlite3_bind_text (stmt, 2, username, -1, SQLITE_STATIC);
  sqlite3_bind_text (stmt, 3, by, -1, SQLITE_STATIC);
  if (old_hash != NULL)
    sqlite3_bind_text (stmt, 4, old_hash, -1, SQLITE_STATIC);
  if (sqlite3_step (stmt) != SQLITE_DONE)
    {
      pp_store_set_sql_error (self, error, _("cannot change password"));
      return FALSE;
    }
  if (sqlite3_changes (self->db) != 1)
    {
      g_set_error (error, PP_STORE_ERROR, old_hash != NULL ? PP_STORE_ERROR_BUSY : PP_STORE_ERROR_NOT_FOUND,
                   old_hash != NULL ? _("the password of “%s” was changed meanwhile; try again")
                                    : _("no user “%s”"), username);
      return FALSE;
    }
  return TRUE;
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
  g_autoptr(PpUser) admin = NULL;
  g_autoptr(PpUser) user = NULL;

  g_return_val_if_fail (PP_IS_STORE (self), FALSE);
  g_return_val_if_fail (username != NULL, FALSE);
  g_return_val_if_fail (password != NULL, FALSE);
  g_return_val_if_fail (actor != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  lower = g_ascii_strdown (username, -1);
  if (!pp_password_check_policy (password, lower, error))
    return FALSE;
  hash = hash_password (password, error);
  if (hash == NULL)
    return FALSE;

  if (!pp_store_begin (self, error))
    return FALSE;
  {
    g_autofree char *what = g_strdup_printf (_("reset the password of “%s”"), lower);

    admin = pp_store_require_actor (self, actor, PP_USER_ROLE_BIT (PP_USER_ROLE_ADMINISTRATOR),
                                    what, error);
    if (admin == NULL)
      goto fail;
  }
  if (g_str_equal (admin->username, lower))
    {
      g_set_error (error, PP_STORE_ERROR, PP_STORE_ERROR_PERMISSION,
                   _("“%s” may not reset their own password; change it with the current one"),
                   admin->username);
      goto fail;
    }
  user = pp_store_lookup_user (self, lower, NULL, error);
  if (user == NULL ||
      !store_password (self, user->username, hash, NULL, admin->username, error) ||
      !pp_store_audit_append (self, admin->username, "user.password_reset", user->username, NULL, error))
    goto fail;
  return pp_store_commit (self, error);

fail:
  pp_store_rollback (self);
  return FALSE;
}

gboolean
pp_store_change_password (PpStore     *self,
                          const char  *username,
                          const char  *old_password,
                          const char  *new_password,
                          GError     **error)
{
  g_autoptr(PpUser) user = NULL;
  g_autofree char *old_hash = NULL;
  g_autofree char *hash = NULL;
  g_autoptr(GError) local = NULL;

  g_return_val_if_fail (PP_IS_STORE (self), FALSE);
  g_return_val_if_fail (username != NULL, FALSE);
  g_return_val_if_fail (old_password != NULL, FALSE);
  g_return_val_if_fail (new_password != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  if (!pp_password_check_policy (new_password, username, error))
    return FALSE;
  user = pp_store_lookup_user (self, username, &old_hash, &local);
  if (user == NULL)
    {
      if (g_error_matches (local, PP_STORE_ERROR, PP_STORE_ERROR_NOT_FOUND))
        g_set_error (error, PP_STORE_ERROR, PP_STORE_ERROR_PERMISSION,
                     "wrong user name or password");
      else
        g_propagate_error (error, g_steal_pointer (&local));
      return FALSE;
    }
  if (!pp_password_verify (old_password, old_hash, NULL))
    {
      journal_login (self, user->username, "user.password_change_failed", "wrong current password");
      g_set_error (error, PP_STORE_ERROR, PP_STORE_ERROR_PERMISSION,
                   _("the current password of “%s” is wrong; the password is unchanged"), user->username);
      return FALSE;
    }
  hash = hash_password (new_password, error);
  if (hash == NULL)
    return FALSE;

  if (!pp_store_begin (self, error))
    return FALSE;
  if (!store_password (self, user->username, hash, old_hash, user->username, error) ||
      !pp_store_audit_append (self, user->username, "user.password_change", user->username, NULL, error) ||
      !pp_store_commit (self, error))
    {
      pp_store_rollback (self);
      return FALSE;
    }
  return TRUE;
}

gboolean
pp_store_set_user_role (PpStore     *self,
                        const char  *username,
                        PpUserRole   role,
                        const char  *actor,
                        GError     **error)
{
  g_autofree char *lower = NULL;
  g_autoptr(PpUser) admin = NULL;
  g_autoptr(PpUser) user = NULL;
  g_autoptr(sqlite3_stmt) stmt = NULL;
  g_autoptr(JsonBuilder) detail = json_builder_new ();

  g_return_val_if_fail (PP_IS_STORE (self), FALSE);
  g_return_val_if_fail (username != NULL, FALSE);
  g_return_val_if_fail (role >= 0 && role < PP_N_USER_ROLES, FALSE);
  g_return_val_if_fail (actor != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  lower = g_ascii_strdown (username, -1);
  if (!pp_store_begin (self, error))
    return FALSE;
  {
    g_autofree char *what = g_strdup_printf (_("assign roles (“%s” to %s)"), lower, role_names[role].id);

    admin = pp_store_require_actor (self, actor, PP_USER_ROLE_BIT (PP_USER_ROLE_ADMINISTRATOR),
                                    what, error);
    if (admin == NULL)
      goto fail;
  }
  if (g_str_equal (admin->username, lower))
    {
      g_set_error (error, PP_STORE_ERROR, PP_STORE_ERROR_PERMISSION,
                   _("“%s” may not change their own role; another administrator must"),
                   admin->username);
      goto fail;
    }
  user = pp_store_lookup_user (self, lower, NULL, error);
  if (user == NULL)
    goto fail;
  stmt = pp_store_prepare (self, "UPDATE users SET role = ?, role_set_by = ? WHERE id = ?", error);
  if (stmt == NULL)
    goto fail;
  sqlite3_bind_text (stmt, 1, role_names[role].id, -1, SQLITE_STATIC);
  sqlite3_bind_text (stmt, 2, admin->username, -1, SQLITE_STATIC);
  sqlite3_bind_int64 (stmt, 3, user->id);
  if (sqlite3_step (stmt) != SQLITE_DONE)
    {
      pp_store_set_sql_error (self, error, _("cannot change role"));
      goto fail;
    }
  json_builder_begin_object (detail);
  json_builder_set_member_name (detail, "from");
  json_builder_add_string_value (detail, role_names[user->role].id);
  json_builder_set_member_name (detail, "to");
  json_builder_add_string_value (detail, role_names[role].id);
  json_builder_end_object (detail);
  if (!pp_store_audit_append (self, admin->username, "user.role", user->username,
                              json_builder_get_root (detail), error))
    goto fail;
  return pp_store_commit (self, error);

fail:
  pp_store_rollback (self);
  return FALSE;
}
