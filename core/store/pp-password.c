/* SPDX-License-Identifier: GPL-3.0-or-later
 *
 * pp-password.c: scrypt password hashing and constant-time verification.
 */
#include "config.h"

#include <glib/gi18n-lib.h>

#include <string.h>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/kdf.h>
#include <openssl/params.h>
#include <openssl/rand.h>

#include "pp-password.h"

G_DEFINE_AUTOPTR_CLEANUP_FUNC (EVP_KDF, EVP_KDF_free)
G_DEFINE_AUTOPTR_CLEANUP_FUNC (EVP_KDF_CTX, EVP_KDF_CTX_free)

G_DEFINE_QUARK (pp-password-error-quark, pp_password_error)

#define SALT_LENGTH 16
#define HASH_LENGTH 32
#define SCRYPT_R 8
#define SCRYPT_P 1
/* A stored hash may not make verification take more memory than this. */
#define MAX_MEMORY (G_GUINT64_CONSTANT (256) * 1024 * 1024)

static gboolean
derive (const char    *password,
        const guchar  *salt,
        gsize          salt_len,
        guint64        n,
        guint32        r,
        guint32        p,
        guchar        *out,
        gsize          out_len,
        GError       **error)
{
  g_autoptr(EVP_KDF) kdf = EVP_KDF_fetch (NULL, "SCRYPT", NULL);
  g_autoptr(EVP_KDF_CTX) ctx = NULL;
  /* 128 * r * N bytes are needed; leave room above OpenSSL's default cap. */
  guint64 maxmem = 128 * (guint64) r * n * (guint64) p + 16 * 1024 * 1024;
  OSSL_PARAM params[7];

  if (kdf == NULL || (ctx = EVP_KDF_CTX_new (kdf)) == NULL)
    {
      g_set_error_literal (error, PP_PASSWORD_ERROR, PP_PASSWORD_ERROR_CRYPTO,
                           _("scrypt is not available in this OpenSSL"));
      return FALSE;
    }

  params[0] = OSSL_PARAM_construct_octet_string (OSSL_KDF_PARAM_PASSWORD,
                                                 (void *) password, strlen (password));
  params[1] = OSSL_PARAM_construct_octet_string (OSSL_KDF_PARAM_SALT, (void *) salt, salt_len);
  params[2] = OSSL_PARAM_construct_uint64 (OSSL_KDF_PARAM_SCRYPT_N, &n);
  params[3] = OSSL_PARAM_construct_uint32 (OSSL_KDF_PARAM_SCRYPT_R, &r);
  params[4] = OSSL_PARAM_construct_uint32 (OSSL_KDF_PARAM_SCRYPT_P, &p);
  params[5] = OSSL_PARAM_construct_uint64 (OSSL_KDF_PARAM_SCRYPT_MAXMEM, &maxmem);
  params[6] = OSSL_PARAM_construct_end ();

  if (EVP_KDF_derive (ctx, out, out_len, params) != 1)
    {
      g_set_error_literal (error, PP_PASSWORD_ERROR, PP_PASSWORD_ERROR_CRYPTO,
                           _("scrypt key derivation failed"));
      return FALSE;
    }
  return TRUE;
}

char *
pp_password_hash_with_cost (const char  *password,
                            guint        log2_n,
                            GError     **error)
{
  guchar salt[SALT_LENGTH];
  guchar hash[HASH_LENGTH];
  g_autofree char *salt_b64 = NULL;
  g_autofree char *hash_b64 = NULL;
  guint64 n;

  g_return_val_if_fail (password != NULL, NULL);
  g_return_val_if_fail (log2_n >= PP_PASSWORD_MIN_LOG2_N && log2_n <= PP_PASSWORD_MAX_LOG2_N, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  n = G_GUINT64_CONSTANT (1) << log2_n;
  if (RAND_bytes (salt, sizeof salt) != 1)
    {
      g_set_error_literal (error, PP_PASSWORD_ERROR, PP_PASSWORD_ERROR_CRYPTO,
                           _("no random bytes for the salt"));
      return NULL;
    }
  if (!derive (password, salt, sizeof salt, n, SCRYPT_R, SCRYPT_P, hash, sizeof hash, error))
    return NULL;

  salt_b64 = g_base64_encode (salt, sizeof salt);
  hash_b64 = g_base64_encode (hash, sizeof hash);
  OPENSSL_cleanse (hash, sizeof hash);

  return g_strdup_printf ("scrypt$%" G_GUINT64_FORMAT "$%u$%u$%s$%s",
                          n, SCRYPT_R, SCRYPT_P, salt_b64, hash_b64);
}

char *
pp_password_hash (const char  *password,
                  GError     **error)
{
  return pp_password_hash_with_cost (password, PP_PASSWORD_DEFAULT_LOG2_N, error);
}

static gboolean
parse_uint (const char *text,
            guint64     min,
            guint64     max,
            guint64    *out)
{
  return g_ascii_string_to_unsigned (text, 10, min, max, out, NULL);
}

static guchar *
decode_b64 (const char *text,
            gsize      *out_len)
{
  /* g_base64_decode accepts junk silently; insist on the alphabet. */
  gsize n = strlen (text);

  if (n == 0 || n % 4 != 0)
    return NULL;
  for (gsize i = 0; i < n; i++)
    if (!g_ascii_isalnum (text[i]) && text[i] != '+' && text[i] != '/' &&
        !(text[i] == '=' && i >= n - 2))
      return NULL;
  return g_base64_decode (text, out_len);
}

gboolean
pp_password_verify (const char  *password,
                    const char  *encoded,
                    GError     **error)
{
  g_auto(GStrv) parts = NULL;
  g_autofree guchar *salt = NULL;
  g_autofree guchar *expected = NULL;
  g_autofree guchar *actual = NULL;
  gsize salt_len = 0;
  gsize hash_len = 0;
  guint64 n, r, p;
  gboolean match;

  g_return_val_if_fail (password != NULL, FALSE);
  g_return_val_if_fail (encoded != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  parts = g_strsplit (encoded, "$", -1);
  if (g_strv_length (parts) != 6 || !g_str_equal (parts[0], "scrypt") ||
      !parse_uint (parts[1], 2, G_GUINT64_CONSTANT (1) << PP_PASSWORD_MAX_LOG2_N, &n) ||
      (n & (n - 1)) != 0 ||
      !parse_uint (parts[2], 1, 32, &r) ||
      !parse_uint (parts[3], 1, 16, &p) ||
      (salt = decode_b64 (parts[4], &salt_len)) == NULL || salt_len < 8 ||
      (expected = decode_b64 (parts[5], &hash_len)) == NULL || hash_len < 16 || hash_len > 64 ||
      128 * r * n * p > MAX_MEMORY)
    {
      g_set_error_literal (error, PP_PASSWORD_ERROR, PP_PASSWORD_ERROR_FORMAT,
                           _("stored password hash is not in scrypt$N$r$p$salt$hash form"));
      return FALSE;
    }

  actual = g_malloc (hash_len);
  if (!derive (password, salt, salt_len, n, (guint32) r, (guint32) p, actual, hash_len, error))
    return FALSE;
  match = CRYPTO_memcmp (actual, expected, hash_len) == 0;
  OPENSSL_cleanse (actual, hash_len);
  OPENSSL_cleanse (expected, hash_len);

  if (!match)
    {
      g_set_error_literal (error, PP_PASSWORD_ERROR, PP_PASSWORD_ERROR_MISMATCH,
                           _("wrong password"));
      return FALSE;
    }
  return TRUE;
}
