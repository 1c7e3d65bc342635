/* SPDX-License-Identifier: GPL-3.0-or-later
 *
 * pp-termsim-storage.c: the terminal's files and its keys at rest.
 *
 * Keys are kept as AES-256-GCM ciphertext under the device storage key;
 * the AAD binds each sealed key to its terminal, slot and header, so a
 * sealed key copied into another slot or folder does not open.
 */
#include "config.h"

#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include "pp-openssl-types.h"
#include "pp-termsim-private.h"

#define GCM_IV_LEN  12
#define GCM_TAG_LEN 16

gboolean
pp_termsim_write_file (const char  *dir,
                       const char  *name,
                       const void  *data,
                       gsize        len,
                       GError     **error)
{
  g_autofree char *path = g_build_filename (dir, name, NULL);
  g_autoptr(GError) local = NULL;

  if (!g_file_set_contents_full (path, data, len, G_FILE_SET_CONTENTS_CONSISTENT, 0600, &local))
    {
      g_set_error (error, PP_TERMSIM_ERROR, PP_TERMSIM_ERROR_IO,
                   "Cannot write %s: %s", path, local->message);
      return FALSE;
    }
  return TRUE;
}

static gboolean
crypto_fail (GError    **error,
             const char *what)
{
  g_set_error (error, PP_TERMSIM_ERROR, PP_TERMSIM_ERROR_CRYPTO, "%s", what);
  return FALSE;
}

char *
pp_termsim_seal (const PpSecureBuffer *storage_key,
                 const PpSecureBuffer *key,
                 const char           *aad,
                 GError              **error)
{
  g_autoptr(EVP_CIPHER_CTX) ctx = EVP_CIPHER_CTX_new ();
  gsize klen = pp_secure_buffer_get_len (key);
  g_autofree guint8 *out = g_malloc (GCM_IV_LEN + klen + GCM_TAG_LEN);
  int n = 0, fin = 0;

  g_return_val_if_fail (pp_secure_buffer_get_len (storage_key) == 32, NULL);

  if (ctx == NULL || RAND_bytes (out, GCM_IV_LEN) != 1 ||
      EVP_EncryptInit_ex (ctx, EVP_aes_256_gcm (), NULL, pp_secure_buffer_peek (storage_key), out) != 1 ||
      EVP_EncryptUpdate (ctx, NULL, &n, (const guint8 *) aad, (int) strlen (aad)) != 1 ||
      EVP_EncryptUpdate (ctx, out + GCM_IV_LEN, &n, pp_secure_buffer_peek (key), (int) klen) != 1 ||
      EVP_EncryptFinal_ex (ctx, out + GCM_IV_LEN + n, &fin) != 1 ||
      EVP_CIPHER_CTX_ctrl (ctx, EVP_CTRL_GCM_GET_TAG, GCM_TAG_LEN, out + GCM_IV_LEN + klen) != 1)
    {
      crypto_fail (error, "AES-256-GCM sealing failed");
      return NULL;
    }
  {
    gsize total = GCM_IV_LEN + klen + GCM_TAG_LEN;
    GString *hex = g_string_sized_new (2 * total);

    for (gsize i = 0; i < total; i++)
      g_string_append_printf (hex, "%02X", out[i]);
    return g_string_free (hex, FALSE);
  }
}

PpSecureBuffer *
pp_termsim_unseal (const PpSecureBuffer *storage_key,
                   const char           *sealed,
                   const char           *aad,
                   GError              **error)
{
  g_autoptr(EVP_CIPHER_CTX) ctx = EVP_CIPHER_CTX_new ();
  gsize hlen = strlen (sealed);
  gsize len = hlen / 2;
  g_autofree guint8 *raw = NULL;
  g_autoptr(PpSecureBuffer) key = NULL;
  int n = 0, fin = 0;

  if (hlen % 2 != 0 || len < GCM_IV_LEN + GCM_TAG_LEN + 1)
    {
      g_set_error (error, PP_TERMSIM_ERROR, PP_TERMSIM_ERROR_CORRUPT, "A sealed key is malformed");
      return NULL;
    }
  raw = g_malloc (len);
  for (gsize i = 0; i < len; i++)
    {
      int hi = g_ascii_xdigit_value (sealed[2 * i]);
      int lo = g_ascii_xdigit_value (sealed[2 * i + 1]);

      if (hi < 0 || lo < 0)
        {
          g_set_error (error, PP_TERMSIM_ERROR, PP_TERMSIM_ERROR_CORRUPT, "A sealed key is not hex");
          return NULL;
        }
      raw[i] = (guint8) (hi << 4 | lo);
    }
  key = pp_secure_buffer_new (len - GCM_IV_LEN - GCM_TAG_LEN);
  if (ctx == NULL ||
      EVP_DecryptInit_ex (ctx, EVP_aes_256_gcm (), NULL, pp_secure_buffer_peek (storage_key), raw) != 1 ||
      EVP_DecryptUpdate (ctx, NULL, &n, (const guint8 *) aad, (int) strlen (aad)) != 1 ||
      EVP_DecryptUpdate (ctx, pp_secure_buffer_get_data (key), &n, raw + GCM_IV_LEN,
                         (int) pp_secure_buffer_get_len (key)) != 1 ||
      EVP_CIPHER_CTX_ctrl (ctx, EVP_CTRL_GCM_SET_TAG, GCM_TAG_LEN, raw + len - GCM_TAG_LEN) != 1 ||
      EVP_DecryptFinal_ex (ctx, pp_secure_buffer_get_data (key) + n, &fin) != 1)
    {
      g_set_error (error, PP_TERMSIM_ERROR, PP_TERMSIM_ERROR_CORRUPT,
                   "A sealed key does not open under the storage key (altered or moved)");
      return NULL;
    }
  return g_steal_pointer (&key);
}
