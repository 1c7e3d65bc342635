/* SPDX-License-Identifier: GPL-3.0-or-later
 *
 * pp-store-key-host.c: what the store keeps for the key host (its
 * configuration, its journal entries) and the users' sealed TOTP secrets.
 * The key releases themselves are work-order steps (pp-store-orders.c).
 */
#include "config.h"

#include <inttypes.h>
#include <string.h>

#include <glib/gi18n-lib.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/x509.h>

#include "pp-openssl-types.h"
#include "pp-store-private.h"
#include "pp-totp.h"
#include "pp-tr34.h"

/* ---- configuration ---- */

PpKeyHostConfig *
pp_key_host_config_new (void)
{
  PpKeyHostConfig *config = g_new0 (PpKeyHostConfig, 1);

  config->ca_krd = g_ptr_array_new_with_free_func ((GDestroyNotify) g_bytes_unref);
  return config;
}

void
pp_key_host_config_free (PpKeyHostConfig *config)
{
  if (config == NULL)
    return;
  g_free (config->kdh_key_label);
  g_clear_pointer (&config->kdh_certificate, g_bytes_unref);
  g_clear_pointer (&config->kdh_crl, g_bytes_unref);
  g_clear_pointer (&config->ca_krd, g_ptr_array_unref);
  g_free (config->updated_by);
  g_free (config);
}

static gboolean
check_cert_der (GBytes      *der,
                const char  *what,
                GError     **error)
{
  gsize len = 0;
  const guint8 *p = der != NULL ? g_bytes_get_data (der, &len) : NULL;
  const guint8 *end = p;
  X509 *cert = p != NULL ? d2i_X509 (NULL, &end, (long) len) : NULL;
  gboolean ok = cert != NULL && end == p + len;

  X509_free (cert);
  if (!ok)
    g_set_error (error, PP_STORE_ERROR, PP_STORE_ERROR_INVALID,
                 _("the key host's %s is not a DER certificate"), what);
  return ok;
}

static gboolean
check_crl_der (GBytes  *der,
               GError **error)
{
  gsize len = 0;
  const guint8 *p = g_bytes_get_data (der, &len);
  const guint8 *end = p;
  X509_CRL *crl = p != NULL ? d2i_X509_CRL (NULL, &end, (long) len) : NULL;
  gboolean ok = crl != NULL && end == p + len;

  X509_CRL_free (crl);
  if (!ok)
    g_set_error_literal (error, PP_STORE_ERROR, PP_STORE_ERROR_INVALID,
                         _("the key host's CRL is not a DER CRL"));
  return ok;
}

static gboolean
check_label (const char  *label,
             GError     **error)
{
  gsize n = label != NULL ? strlen (label) : 0;
  gboolean ok = n > 0 && n <= 64 && label[0] != '.' && label[0] != '-';

  for (gsize i = 0; ok && i < n; i++)
    ok = g_ascii_isalnum (label[i]) || strchr ("-_.", label[i]) != NULL;
  if (!ok)
    g_set_error_literal (error, PP_STORE_ERROR, PP_STORE_ERROR_INVALID,
                         _("the KDH key label must be 1 to 64 letters, digits, “.”, “-” or “_”, "
                           "not starting with “.” or “-”"));
  return ok;
}

static char *
bytes_sha256 (GBytes *bytes)
{
  return g_compute_checksum_for_bytes (G_CHECKSUM_SHA256, bytes);
}

static gboolean
bind_step (PpStore       *self,
           sqlite3_stmt  *stmt,
           const char    *what,
           GError       **error)
{
  if (sqlite3_step (stmt) != SQLITE_DONE)
    {
      pp_store_set_sql_error (self, error, what);
      return FALSE;
    }
  return TRUE;
}

static void
bind_bytes (sqlite3_stmt *stmt,
            int           col,
            GBytes       *bytes)
{
  gsize len = 0;
  const void *p;

  if (bytes == NULL)
    {
      sqlite3_bind_null (stmt, col);
      return;
    }
  p = g_bytes_get_data (bytes, &len);
  sqlite3_bind_blob (stmt, col, p != NULL ? p : "", (int) len, SQLITE_STATIC);
}

static GBytes *
column_bytes (sqlite3_stmt *stmt,
              int           col)
{
  if (sqlite3_column_type (stmt, col) == SQLITE_NULL)
    return NULL;
  return g_bytes_new (sqlite3_column_blob (stmt, col), (gsize) sqlite3_column_bytes (stmt, col));
}

static gboolean
set_config_step (PpStore               *self,
                 const PpKeyHostConfig *config,
                 const char            *actor,
                 GError               **error)
{
  g_autoptr(PpUser) admin = NULL;
  g_autoptr(sqlite3_stmt) stmt = NULL;
  g_autoptr(JsonBuilder) b = json_builder_new ();
  g_autofree char *cert_fp = NULL;

  admin = pp_store_require_actor (self, actor, PP_USER_ROLE_BIT (PP_USER_ROLE_ADMINISTRATOR),
                                  "configure the key host", error);
  if (admin == NULL)
    return FALSE;
  /* The fingerprint key's check value stays: it belongs to the key store. */
  stmt = pp_store_prepare (self,
                           "INSERT INTO key_host_config (id, kdh_key_label, kdh_certificate, kdh_crl, "
                           "updated_at, updated_by) VALUES (1, ?, ?, ?, ?, ?) ON CONFLICT (id) DO UPDATE "
                           "SET kdh_key_label = excluded.kdh_key_label, kdh_certificate = "
                           "excluded.kdh_certificate, kdh_crl = excluded.kdh_crl, updated_at = "
                           "excluded.updated_at, updated_by = excluded.updated_by", error);
  if (stmt == NULL)
    return FALSE;
  sqlite3_bind_text (stmt, 1, config->kdh_key_label, -1, SQLITE_STATIC);
  bind_bytes (stmt, 2, config->kdh_certificate);
  bind_bytes (stmt, 3, config->kdh_crl);
  sqlite3_bind_int64 (stmt, 4, pp_store_now ());
  sqlite3_bind_text (stmt, 5, admin->username, -1, SQLITE_STATIC);
  if (!bind_step (self, stmt, _("cannot store the key host configuration"), error) ||
      !pp_store_exec (self, "DELETE FROM key_host_trust", error))
    return FALSE;
  g_clear_pointer (&stmt, sqlite3_finalize);

  cert_fp = bytes_sha256 (config->kdh_certificate);
  json_builder_begin_object (b);
  json_builder_set_member_name (b, "kdh_key_label");
  json_builder_add_string_value (b, config->kdh_key_label);
  json_builder_set_member_name (b, "kdh_certificate");
  json_builder_add_string_value (b, cert_fp);
  json_builder_set_member_name (b, "kdh_crl");
  if (config->kdh_crl != NULL)
    {
      g_autofree char *crl_fp = bytes_sha256 (config->kdh_crl);

      json_builder_add_string_value (b, crl_fp);
    }
  else
    json_builder_add_null_value (b);
  json_builder_set_member_name (b, "ca_krd");
  json_builder_begin_array (b);
  for (guint i = 0; i < config->ca_krd->len; i++)
    {
      GBytes *der = g_ptr_array_index (config->ca_krd, i);
      g_autofree char *fp = bytes_sha256 (der);

      stmt = pp_store_prepare (self, "INSERT INTO key_host_trust (position, certificate) VALUES (?, ?)",
                               error);
      if (stmt == NULL)
        return FALSE;
      sqlite3_bind_int (stmt, 1, (int) i);
      bind_bytes (stmt, 2, der);
      if (!bind_step (self, stmt, _("cannot store the key host configuration"), error))
        return FALSE;
      g_clear_pointer (&stmt, sqlite3_finalize);
      json_builder_add_string_value (b, fp);
    }
  json_builder_end_array (b);
  json_builder_end_object (b);
  return pp_store_audit_append (self, admin->username, "keyhost.config", "key host",
                                json_builder_get_root (b), error);
}

gboolean
pp_store_set_key_host_config (PpStore               *self,
                              const PpKeyHostConfig *config,
                              const char            *actor,
                              GError               **error)
{
  g_return_val_if_fail (PP_IS_STORE (self), FALSE);
  g_return_val_if_fail (config != NULL, FALSE);
  g_return_val_if_fail (actor != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  if (!check_label (config->kdh_key_label, error) ||
      !check_cert_der (config->kdh_certificate, _("KDH certificate"), error) ||
      (config->kdh_crl != NULL && !check_crl_der (config->kdh_crl, error)))
    return FALSE;
  if (config->ca_krd == NULL || config->ca_krd->len == 0)
    {
      g_set_error_literal (error, PP_STORE_ERROR, PP_STORE_ERROR_INVALID,
                           _("the key host needs the root and CA_KRD certificates that terminal "
                             "certificates chain to"));
      return FALSE;
    }
  for (guint i = 0; i < config->ca_krd->len; i++)
    if (!check_cert_der (g_ptr_array_index (config->ca_krd, i), _("CA_KRD certificate"), error))
      return FALSE;

  if (!pp_store_begin (self, error))
    return FALSE;
  if (!set_config_step (self, config, actor, error))
    {
      pp_store_rollback (self);
      return FALSE;
    }
  return pp_store_commit (self, error);
}

PpKeyHostConfig *
pp_store_get_key_host_config (PpStore  *self,
                              GError  **error)
{
  g_autoptr(PpKeyHostConfig) config = NULL;
  g_autoptr(sqlite3_stmt) stmt = NULL;
  int rc;

  g_return_val_if_fail (PP_IS_STORE (self), NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  stmt = pp_store_prepare (self, "SELECT kdh_key_label, kdh_certificate, kdh_crl, updated_at, updated_by "
                                 "FROM key_host_config WHERE id = 1", error);
  if (stmt == NULL)
    return NULL;
  rc = sqlite3_step (stmt);
  if (rc == SQLITE_DONE)
    {
      g_set_error_literal (error, PP_STORE_ERROR, PP_STORE_ERROR_NOT_FOUND,
                           _("the key host is not configured (posprov-registry init sets it up)"));
      return NULL;
    }
  if (rc != SQLITE_ROW)
    {
      pp_store_set_sql_error (self, error, _("cannot read the key host configuration"));
      return NULL;
    }
  config = pp_key_host_config_new ();
  config->kdh_key_label = g_strdup ((const char *) sqlite3_column_text (stmt, 0));
  config->kdh_certificate = column_bytes (stmt, 1);
  config->kdh_crl = column_bytes (stmt, 2);
  config->updated_at = sqlite3_column_int64 (stmt, 3);
  config->updated_by = g_strdup ((const char *) sqlite3_column_text (stmt, 4));
  g_clear_pointer (&stmt, sqlite3_finalize);

  stmt = pp_store_prepare (self, "SELECT certificate FROM key_host_trust ORDER BY position", error);
  if (stmt == NULL)
    return NULL;
  while ((rc = sqlite3_step (stmt)) == SQLITE_ROW)
    g_ptr_array_add (config->ca_krd, column_bytes (stmt, 0));
  if (rc != SQLITE_DONE)
    {
      pp_store_set_sql_error (self, error, _("cannot read the key host configuration"));
      return NULL;
    }
  return g_steal_pointer (&config);
}

gboolean
pp_store_set_key_host_profile (PpStore     *self,
                               const char  *model,
                               const char  *profile,
                               const char  *actor,
                               GError     **error)
{
  g_autoptr(PpUser) admin = NULL;
  g_autoptr(sqlite3_stmt) stmt = NULL;
  g_autoptr(JsonBuilder) b = NULL;
  PpTr34Profile parsed;

  g_return_val_if_fail (PP_IS_STORE (self), FALSE);
  g_return_val_if_fail (model != NULL && profile != NULL && actor != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  if (*model == '\0' || !pp_tr34_profile_from_string (profile, &parsed, NULL))
    {
      g_set_error (error, PP_STORE_ERROR, PP_STORE_ERROR_INVALID,
                   _("“%s” is not a TR-34 profile for terminal model “%s”"), profile, model);
      return FALSE;
    }
  if (!pp_store_begin (self, error))
    return FALSE;
  admin = pp_store_require_actor (self, actor, PP_USER_ROLE_BIT (PP_USER_ROLE_ADMINISTRATOR),
                                  "set the TR-34 profile of a terminal model", error);
  if (admin == NULL)
    goto fail;
  stmt = pp_store_prepare (self, "INSERT INTO key_host_profiles (model, profile) VALUES (?, ?) "
                                 "ON CONFLICT (model) DO UPDATE SET profile = excluded.profile", error);
  if (stmt == NULL)
    goto fail;
  sqlite3_bind_text (stmt, 1, model, -1, SQLITE_STATIC);
  sqlite3_bind_text (stmt, 2, pp_tr34_profile_to_string (parsed), -1, SQLITE_STATIC);
  if (!bind_step (self, stmt, _("cannot store the TR-34 profile"), error))
    goto fail;
  b = json_builder_new ();
  json_builder_begin_object (b);
  json_builder_set_member_name (b, "model");
  json_builder_add_string_value (b, model);
  json_builder_set_member_name (b, "profile");
  json_builder_add_string_value (b, pp_tr34_profile_to_string (parsed));
  json_builder_end_object (b);
  if (!pp_store_audit_append (self, admin->username, "keyhost.profile", "key host",
                              json_builder_get_root (b), error))
    goto fail;
  return pp_store_commit (self, error);

fail:
  pp_store_rollback (self);
  return FALSE;
}

char *
pp_store_get_key_host_profile (PpStore     *self,
                               const char  *model,
                               GError     **error)
{
  g_autoptr(sqlite3_stmt) stmt = NULL;
  int rc;

  g_return_val_if_fail (PP_IS_STORE (self), NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  stmt = pp_store_prepare (self, "SELECT profile FROM key_host_profiles WHERE model = ?", error);
  if (stmt == NULL)
    return NULL;
  sqlite3_bind_text (stmt, 1, model != NULL ? model : "", -1, SQLITE_STATIC);
  rc = sqlite3_step (stmt);
  if (rc == SQLITE_ROW)
    return g_strdup ((const char *) sqlite3_column_text (stmt, 0));
  if (rc != SQLITE_DONE)
    {
      pp_store_set_sql_error (self, error, _("cannot read the TR-34 profile"));
      return NULL;
    }
  return g_strdup (pp_tr34_profile_to_string (PP_TR34_PROFILE_STRICT));
}

char *
pp_store_claim_key_host_fingerprint_kcv (PpStore     *self,
                                         const char  *kcv,
                                         GError     **error)
{
  g_autoptr(sqlite3_stmt) stmt = NULL;
  char *recorded = NULL;
  int rc;

  g_return_val_if_fail (PP_IS_STORE (self), NULL);
  g_return_val_if_fail (kcv != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  if (!pp_store_begin (self, error))
    return NULL;
  stmt = pp_store_prepare (self, "SELECT fingerprint_kcv FROM key_host_config WHERE id = 1", error);
  if (stmt == NULL)
    goto fail;
  rc = sqlite3_step (stmt);
  if (rc == SQLITE_DONE)
    {
      g_set_error_literal (error, PP_STORE_ERROR, PP_STORE_ERROR_NOT_FOUND,
                           _("the key host is not configured (posprov-registry init sets it up)"));
      goto fail;
    }
  if (rc != SQLITE_ROW)
    {
      pp_store_set_sql_error (self, error, _("cannot read the key host configuration"));
      goto fail;
    }
  if (sqlite3_column_type (stmt, 0) != SQLITE_NULL)
    recorded = g_strdup ((const char *) sqlite3_column_text (stmt, 0));
  g_clear_pointer (&stmt, sqlite3_finalize);
  if (recorded == NULL)
    {
      stmt = pp_store_prepare (self, "UPDATE key_host_config SET fingerprint_kcv = ? WHERE id = 1", error);
      if (stmt == NULL)
        goto fail;
      sqlite3_bind_text (stmt, 1, kcv, -1, SQLITE_STATIC);
      if (!bind_step (self, stmt, _("cannot store the key host configuration"), error))
        goto fail;
      recorded = g_strdup (kcv);
    }
  if (!pp_store_commit (self, error))
    {
      g_free (recorded);
      return NULL;
    }
  return recorded;

fail:
  pp_store_rollback (self);
  g_free (recorded);
  return NULL;
}

gboolean
pp_store_journal_key_host (PpStore     *self,
                           const char  *actor,
                           const char  *action,
                           gint64       order_id,
                           JsonNode    *detail,
                           GError     **error)
{
  g_autoptr(JsonNode) owned = detail;
  g_autofree char *subject = NULL;

  g_return_val_if_fail (PP_IS_STORE (self), FALSE);
  g_return_val_if_fail (actor != NULL, FALSE);
  g_return_val_if_fail (action != NULL && g_str_has_prefix (action, "keyhost."), FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  subject = order_id > 0 ? g_strdup_printf ("work order %" G_GINT64_FORMAT, order_id)
                         : g_strdup ("key host");
  if (!pp_store_begin (self, error))
    return FALSE;
  if (!pp_store_audit_append (self, actor, action, subject, g_steal_pointer (&owned), error))
    {
      pp_store_rollback (self);
      return FALSE;
    }
  return pp_store_commit (self, error);
}

/* ---- TOTP secrets ---- */

#define SEAL_NONCE_LEN 12
#define SEAL_TAG_LEN   16

/* The key store's TOTP sealing key, made on first use. */
static PpSecureBuffer *
totp_seal_key (PpKeyStore  *key_store,
               gboolean     create,
               GError     **error)
{
  g_autoptr(GError) local = NULL;
  g_autofree char *kcv = NULL;
  PpSecureBuffer *key;
  PpTmkType type;

  key = pp_key_store_export_tmk (key_store, PP_STORE_TOTP_KEY_LABEL, &type, &local);
  if (key == NULL && create && g_error_matches (local, PP_KEYSTORE_ERROR, PP_KEYSTORE_ERROR_NOT_FOUND))
    {
      g_clear_error (&local);
      kcv = pp_key_store_generate_tmk (key_store, PP_STORE_TOTP_KEY_LABEL, PP_TMK_AES_256, NULL, &local);
      /* Another process may have made it meanwhile: use theirs. */
      if (kcv != NULL || g_error_matches (local, PP_KEYSTORE_ERROR, PP_KEYSTORE_ERROR_EXISTS))
        {
          g_clear_error (&local);
          key = pp_key_store_export_tmk (key_store, PP_STORE_TOTP_KEY_LABEL, &type, &local);
        }
    }
  if (key == NULL)
    {
      g_propagate_prefixed_error (error, g_steal_pointer (&local),
                                  _("cannot use the key store's one-time code key: "));
      return NULL;
    }
  if (type != PP_TMK_AES_256)
    {
      pp_secure_buffer_free (key);
      g_set_error (error, PP_STORE_ERROR, PP_STORE_ERROR_INVALID,
                   _("the key store's “%s” is not an AES-256 key"), PP_STORE_TOTP_KEY_LABEL);
      return NULL;
    }
  return key;
}

/* What binds a sealed secret to its user: moved to another user's row it
 * no longer opens. */
static char *
seal_aad (const char *username)
{
  return g_strconcat ("posprov-totp-1:", username, NULL);
}

static GBytes *
seal_secret (const PpSecureBuffer *key,
             const char           *username,
             const PpSecureBuffer *secret,
             GError              **error)
{
  g_autoptr(EVP_CIPHER_CTX) ctx = EVP_CIPHER_CTX_new ();
  g_autofree char *aad = seal_aad (username);
  gsize len = pp_secure_buffer_get_len (secret);
  guint8 *out = g_malloc (SEAL_NONCE_LEN + len + SEAL_TAG_LEN);
  int n = 0, m = 0;

  if (ctx == NULL || RAND_bytes (out, SEAL_NONCE_LEN) != 1 ||
      EVP_EncryptInit_ex (ctx, EVP_aes_256_gcm (), NULL, pp_secure_buffer_peek (key), out) != 1 ||
      EVP_EncryptUpdate (ctx, NULL, &n, (const guint8 *) aad, (int) strlen (aad)) != 1 ||
      EVP_EncryptUpdate (ctx, out + SEAL_NONCE_LEN, &n, pp_secure_buffer_peek (secret), (int) len) != 1 ||
      EVP_EncryptFinal_ex (ctx, out + SEAL_NONCE_LEN + n, &m) != 1 ||
      EVP_CIPHER_CTX_ctrl (ctx, EVP_CTRL_GCM_GET_TAG, SEAL_TAG_LEN, out + SEAL_NONCE_LEN + len) != 1)
    {
      g_free (out);
      g_set_error_literal (error, PP_STORE_ERROR, PP_STORE_ERROR_INVALID,
                           _("cannot seal the one-time code secret (OpenSSL failed)"));
      return NULL;
    }
  return g_bytes_new_take (out, SEAL_NONCE_LEN + len + SEAL_TAG_LEN);
}

static PpSecureBuffer *
open_secret (const PpSecureBuffer *key,
             const char           *username,
             GBytes               *sealed,
             GError              **error)
{
  g_autoptr(EVP_CIPHER_CTX) ctx = EVP_CIPHER_CTX_new ();
  g_autoptr(PpSecureBuffer) secret = NULL;
  g_autofree char *aad = seal_aad (username);
  gsize total = 0;
  const guint8 *p = g_bytes_get_data (sealed, &total);
  gsize len;
  int n = 0, m = 0;

  if (p == NULL || total <= SEAL_NONCE_LEN + SEAL_TAG_LEN)
    goto bad;
  len = total - SEAL_NONCE_LEN - SEAL_TAG_LEN;
  secret = pp_secure_buffer_new (len + 16);
  if (ctx == NULL ||
      EVP_DecryptInit_ex (ctx, EVP_aes_256_gcm (), NULL, pp_secure_buffer_peek (key), p) != 1 ||
      EVP_DecryptUpdate (ctx, NULL, &n, (const guint8 *) aad, (int) strlen (aad)) != 1 ||
      EVP_DecryptUpdate (ctx, pp_secure_buffer_get_data (secret), &n, p + SEAL_NONCE_LEN, (int) len) != 1 ||
      EVP_CIPHER_CTX_ctrl (ctx, EVP_CTRL_GCM_SET_TAG, SEAL_TAG_LEN, (void *) (p + SEAL_NONCE_LEN + len)) != 1 ||
      EVP_DecryptFinal_ex (ctx, pp_secure_buffer_get_data (secret) + n, &m) != 1)
    goto bad;
  pp_secure_buffer_truncate (secret, len);
  return g_steal_pointer (&secret);

bad:
  g_set_error (error, PP_STORE_ERROR, PP_STORE_ERROR_INVALID,
               _("the one-time code secret of “%s” does not open with the key store's key "
                 "(another key store, or the record was changed); enrol the user again"), username);
  return NULL;
}

PpSecureBuffer *
pp_store_enroll_otp (PpStore     *self,
                     PpKeyStore  *key_store,
                     const char  *username,
                     const char  *actor,
                     GError     **error)
{
  g_autoptr(PpSecureBuffer) key = NULL;
  g_autoptr(PpSecureBuffer) secret = NULL;
  g_autoptr(GBytes) sealed = NULL;
  g_autoptr(PpUser) user = NULL;
  g_autoptr(PpUser) who = NULL;
  g_autoptr(sqlite3_stmt) stmt = NULL;
  g_autofree char *lower = NULL;
  g_autofree char *what = NULL;

  g_return_val_if_fail (PP_IS_STORE (self), NULL);
  g_return_val_if_fail (PP_IS_KEY_STORE (key_store), NULL);
  g_return_val_if_fail (username != NULL && actor != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  /* The key store first: a token may be slow, and the write lock waits for no one. */
  key = totp_seal_key (key_store, TRUE, error);
  if (key == NULL)
    return NULL;
  secret = pp_secure_buffer_new (PP_TOTP_SECRET_LEN);
  if (RAND_bytes (pp_secure_buffer_get_data (secret), PP_TOTP_SECRET_LEN) != 1)
    {
      g_set_error_literal (error, PP_STORE_ERROR, PP_STORE_ERROR_INVALID,
                           _("cannot make a one-time code secret (no randomness)"));
      return NULL;
    }
  lower = g_ascii_strdown (username, -1);
  sealed = seal_secret (key, lower, secret, error);
  if (sealed == NULL)
    return NULL;

  if (!pp_store_begin (self, error))
    return NULL;
  user = pp_store_lookup_user (self, lower, NULL, error);
  if (user == NULL)
    goto fail;
  /* Users enrol themselves; an administrator may enrol anyone. */
  what = g_strdup_printf ("enrol a one-time code for “%s”", user->username);
  who = pp_store_require_actor (self, actor, PP_USER_ROLE_BIT (PP_USER_ROLE_FIELD_MANAGER) |
                                PP_USER_ROLE_BIT (PP_USER_ROLE_REVIEWER) |
                                PP_USER_ROLE_BIT (PP_USER_ROLE_ADMINISTRATOR), what, error);
  if (who == NULL)
    goto fail;
  if (!g_str_equal (who->username, user->username) && who->role != PP_USER_ROLE_ADMINISTRATOR)
    {
      g_set_error (error, PP_STORE_ERROR, PP_STORE_ERROR_PERMISSION,
                   _("user “%s” may not enrol a one-time code for “%s”; only that user or an "
                     "administrator may"), who->username, user->username);
      goto fail;
    }
  stmt = pp_store_prepare (self, "INSERT INTO user_otp (username, sealed, enrolled_at, enrolled_by, last_step) "
                                 "VALUES (?, ?, ?, ?, -1) ON CONFLICT (username) DO UPDATE SET sealed = "
                                 "excluded.sealed, enrolled_at = excluded.enrolled_at, enrolled_by = "
                                 "excluded.enrolled_by, last_step = -1", error);
  if (stmt == NULL)
    goto fail;
  sqlite3_bind_text (stmt, 1, user->username, -1, SQLITE_STATIC);
  bind_bytes (stmt, 2, sealed);
  sqlite3_bind_int64 (stmt, 3, pp_store_now ());
  sqlite3_bind_text (stmt, 4, who->username, -1, SQLITE_STATIC);
  if (!bind_step (self, stmt, _("cannot store the one-time code secret"), error) ||
      !pp_store_audit_append (self, who->username, "user.otp_enroll", user->username, NULL, error) ||
      !pp_store_commit (self, error))
    goto fail;
  return pp_totp_uri (PP_STORE_TOTP_ISSUER, user->username, secret);

fail:
  pp_store_rollback (self);
  return NULL;
}

gboolean
pp_store_has_otp (PpStore     *self,
                  const char  *username,
                  gboolean    *out_enrolled,
                  GError     **error)
{
  g_autoptr(sqlite3_stmt) stmt = NULL;
  g_autofree char *lower = NULL;
  int rc;

  g_return_val_if_fail (PP_IS_STORE (self), FALSE);
  g_return_val_if_fail (username != NULL && out_enrolled != NULL, FALSE);

  lower = g_ascii_strdown (username, -1);
  stmt = pp_store_prepare (self, "SELECT 1 FROM user_otp WHERE username = ?", error);
  if (stmt == NULL)
    return FALSE;
  sqlite3_bind_text (stmt, 1, lower, -1, SQLITE_STATIC);
  rc = sqlite3_step (stmt);
  if (rc != SQLITE_ROW && rc != SQLITE_DONE)
    {
      pp_store_set_sql_error (self, error, _("cannot read the one-time code secrets"));
      return FALSE;
    }
  *out_enrolled = rc == SQLITE_ROW;
  return TRUE;
}

static gboolean
journal_otp_failure (PpStore     *self,
                     const char  *username,
                     const GError *why,
                     GError     **error)
{
  g_autoptr(JsonBuilder) b = json_builder_new ();

  json_builder_begin_object (b);
  json_builder_set_member_name (b, "reason");
  json_builder_add_string_value (b, g_error_matches (why, PP_TOTP_ERROR, PP_TOTP_ERROR_REPLAYED)
                                      ? "replayed" : "wrong_code");
  json_builder_end_object (b);
  if (!pp_store_begin (self, error))
    return FALSE;
  if (!pp_store_audit_append (self, username, "user.otp_failed", username, json_builder_get_root (b), error))
    {
      pp_store_rollback (self);
      return FALSE;
    }
  return pp_store_commit (self, error);
}

gboolean
pp_store_verify_otp (PpStore     *self,
                     PpKeyStore  *key_store,
                     const char  *username,
                     const char  *code,
                     gint64       now,
                     GError     **error)
{
  g_autoptr(PpSecureBuffer) key = NULL;
  g_autoptr(PpSecureBuffer) secret = NULL;
  g_autoptr(sqlite3_stmt) stmt = NULL;
  g_autoptr(GBytes) sealed = NULL;
  g_autoptr(GError) local = NULL;
  g_autoptr(GError) journal_error = NULL;
  g_autofree char *lower = NULL;
  gint64 last_step, step = -1;
  int rc;

  g_return_val_if_fail (PP_IS_STORE (self), FALSE);
  g_return_val_if_fail (PP_IS_KEY_STORE (key_store), FALSE);
  g_return_val_if_fail (username != NULL && code != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  lower = g_ascii_strdown (username, -1);
  key = totp_seal_key (key_store, FALSE, error);
  if (key == NULL)
    return FALSE;
  /* Read, check and record the step in one write transaction: two requests
   * with the same code cannot both pass. */
  if (!pp_store_begin (self, error))
    return FALSE;
  stmt = pp_store_prepare (self, "SELECT sealed, last_step FROM user_otp WHERE username = ?", error);
  if (stmt == NULL)
    goto fail;
  sqlite3_bind_text (stmt, 1, lower, -1, SQLITE_STATIC);
  rc = sqlite3_step (stmt);
  if (rc == SQLITE_DONE)
    {
      g_set_error (error, PP_STORE_ERROR, PP_STORE_ERROR_NOT_FOUND,
                   _("“%s” has no one-time code enrolled"), lower);
      goto fail;
    }
  if (rc != SQLITE_ROW)
    {
      pp_store_set_sql_error (self, error, _("cannot read the one-time code secrets"));
      goto fail;
    }
  sealed = column_bytes (stmt, 0);
  last_step = sqlite3_column_int64 (stmt, 1);
  g_clear_pointer (&stmt, sqlite3_finalize);
  secret = open_secret (key, lower, sealed, error);
  if (secret == NULL)
    goto fail;
  if (!pp_totp_verify (secret, code, now, last_step, &step, &local))
    {
      pp_store_rollback (self);
      if (!journal_otp_failure (self, lower, local, &journal_error))
        g_prefix_error (&local, "%s; ", journal_error->message);
      g_propagate_error (error, g_steal_pointer (&local));
      return FALSE;
    }
  stmt = pp_store_prepare (self, "UPDATE user_otp SET last_step = ? WHERE username = ?", error);
  if (stmt == NULL)
    goto fail;
  sqlite3_bind_int64 (stmt, 1, step);
  sqlite3_bind_text (stmt, 2, lower, -1, SQLITE_STATIC);
  if (!bind_step (self, stmt, _("cannot record the one-time code"), error))
    goto fail;
  return pp_store_commit (self, error);

fail:
  pp_store_rollback (self);
  return FALSE;
}
