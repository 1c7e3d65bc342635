/* SPDX-License-Identifier: GPL-3.0-or-later
 *
 * pp-kcv.c: key check values on OpenSSL 3 EVP.
 */
#include "config.h"

#include <string.h>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "pp-hex.h"
#include "pp-kcv.h"
#include "pp-openssl-types.h"

G_DEFINE_QUARK (pp-kcv-error-quark, pp_kcv_error)

guint
pp_kcv_default_length (PpKeyAlgorithm algorithm)
{
  return algorithm == PP_KEY_ALGORITHM_AES ? PP_KCV_DEFAULT_LENGTH_AES
                                           : PP_KCV_DEFAULT_LENGTH_TDES;
}

static gboolean
kcv_tdes (const PpSecureBuffer *key,
          guint8                out[8],
          GError              **error)
{
  g_autoptr(EVP_CIPHER_CTX) ctx = EVP_CIPHER_CTX_new ();
  static const guint8 zero[8] = { 0 };
  guint8 k[24];
  gsize len = pp_secure_buffer_get_len (key);
  const guint8 *src = pp_secure_buffer_peek (key);
  int outl = 0;
  gboolean ok;

  /* Single, double and triple length keys all run as 3-key TDES. */
  switch (len)
    {
    case 8:
      memcpy (k, src, 8); memcpy (k + 8, src, 8); memcpy (k + 16, src, 8);
      break;
    case 16:
      memcpy (k, src, 16); memcpy (k + 16, src, 8);
      break;
    case 24:
      memcpy (k, src, 24);
      break;
    default:
      g_set_error (error, PP_KCV_ERROR, PP_KCV_ERROR_KEY_LENGTH,
                   "A TDES key is 8, 16 or 24 bytes, not %" G_GSIZE_FORMAT, len);
      return FALSE;
    }

  ok = ctx != NULL &&
       EVP_EncryptInit_ex2 (ctx, EVP_des_ede3_ecb (), k, NULL, NULL) == 1 &&
       EVP_CIPHER_CTX_set_padding (ctx, 0) == 1 &&
       EVP_EncryptUpdate (ctx, out, &outl, zero, sizeof zero) == 1 &&
       outl == 8;
  OPENSSL_cleanse (k, sizeof k);

  if (!ok)
    g_set_error_literal (error, PP_KCV_ERROR, PP_KCV_ERROR_CRYPTO,
                         "TDES encryption failed");
  return ok;
}

static gboolean
kcv_aes (const PpSecureBuffer *key,
         guint8                out[16],
         GError              **error)
{
  static const guint8 zero[16] = { 0 };
  g_autoptr(EVP_MAC) mac = NULL;
  g_autoptr(EVP_MAC_CTX) ctx = NULL;
  gsize len = pp_secure_buffer_get_len (key);
  const char *cipher;
  OSSL_PARAM params[2];
  gsize outl = 0;

  switch (len)
    {
    case 16: cipher = "AES-128-CBC"; break;
    case 24: cipher = "AES-192-CBC"; break;
    case 32: cipher = "AES-256-CBC"; break;
    default:
      g_set_error (error, PP_KCV_ERROR, PP_KCV_ERROR_KEY_LENGTH,
                   "An AES key is 16, 24 or 32 bytes, not %" G_GSIZE_FORMAT, len);
      return FALSE;
    }

  params[0] = OSSL_PARAM_construct_utf8_string (OSSL_MAC_PARAM_CIPHER,
                                                (char *) cipher, 0);
  params[1] = OSSL_PARAM_construct_end ();

  mac = EVP_MAC_fetch (NULL, "CMAC", NULL);
  ctx = mac != NULL ? EVP_MAC_CTX_new (mac) : NULL;
  if (ctx == NULL ||
      EVP_MAC_init (ctx, pp_secure_buffer_peek (key), len, params) != 1 ||
      EVP_MAC_update (ctx, zero, sizeof zero) != 1 ||
      EVP_MAC_final (ctx, out, &outl, 16) != 1 ||
      outl != 16)
    {
      g_set_error_literal (error, PP_KCV_ERROR, PP_KCV_ERROR_CRYPTO,
                           "AES-CMAC failed");
      return FALSE;
    }

  return TRUE;
}

char *
pp_kcv_compute (PpKeyAlgorithm         algorithm,
                const PpSecureBuffer  *key,
                guint                  length,
                GError               **error)
{
  guint8 block[16];
  gboolean ok;
  guint max;

  g_return_val_if_fail (key != NULL, NULL);

  max = algorithm == PP_KEY_ALGORITHM_AES ? 16 : 8;
  if (length < PP_KCV_MIN_LENGTH || length > PP_KCV_MAX_LENGTH || length > max)
    {
      g_set_error (error, PP_KCV_ERROR, PP_KCV_ERROR_KCV_LENGTH,
                   "A check value is %d to %d bytes long, not %u",
                   PP_KCV_MIN_LENGTH, PP_KCV_MAX_LENGTH, length);
      return NULL;
    }

  if (algorithm == PP_KEY_ALGORITHM_AES)
    ok = kcv_aes (key, block, error);
  else
    ok = kcv_tdes (key, block, error);

  if (!ok)
    return NULL;

  return pp_hex_encode (block, length);
}

gboolean
pp_kcv_equal (const char *a,
              const char *b)
{
  gsize la, lb;
  guint8 diff = 0;

  g_return_val_if_fail (a != NULL && b != NULL, FALSE);

  la = strlen (a);
  lb = strlen (b);
  if (la != lb || la == 0)
    return FALSE;

  for (gsize i = 0; i < la; i++)
    diff |= (guint8) (g_ascii_toupper (a[i]) ^ g_ascii_toupper (b[i]));

  return diff == 0;
}
