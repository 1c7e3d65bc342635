/* SPDX-License-Identifier: GPL-3.0-or-later
 *
 * pp-block-cipher.c: TDES and AES block operations on OpenSSL 3 EVP.
 */
#include "config.h"

#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "pp-block-cipher.h"
#include "pp-openssl-types.h"

static gboolean
run_cipher (const EVP_CIPHER *cipher,
            const guint8     *key,
            const guint8     *iv,
            gboolean          encrypt,
            const guint8     *in,
            guint8           *out,
            gsize             len)
{
  g_autoptr(EVP_CIPHER_CTX) ctx = EVP_CIPHER_CTX_new ();
  int outl = 0;
  int finl = 0;

  if (ctx == NULL || len > G_MAXINT)
    return FALSE;

  /* No padding: callers always hand whole blocks, and EVP must not keep a
   * partial block back (in-place operation relies on that). */
  return EVP_CipherInit_ex2 (ctx, cipher, key, iv, encrypt ? 1 : 0, NULL) == 1 &&
         EVP_CIPHER_CTX_set_padding (ctx, 0) == 1 &&
         EVP_CipherUpdate (ctx, out, &outl, in, (int) len) == 1 &&
         (gsize) outl == len &&
         EVP_CipherFinal_ex (ctx, out + outl, &finl) == 1 &&
         finl == 0;
}

static gboolean
tdes (const guint8 *key,
      gsize         key_len,
      gboolean      encrypt,
      const guint8 *iv,
      const guint8 *in,
      guint8       *out,
      gsize         len)
{
  guint8 k[24];
  gboolean ok;

  if (len % PP_BLOCK_CIPHER_DES_BLOCK != 0)
    return FALSE;

  /* Single and double length keys become K1|K1|K1 and K1|K2|K1, which is
   * exactly single DES and 2-key TDES. */
  switch (key_len)
    {
    case 8:
      memcpy (k, key, 8); memcpy (k + 8, key, 8); memcpy (k + 16, key, 8);
      break;
    case 16:
      memcpy (k, key, 16); memcpy (k + 16, key, 8);
      break;
    case 24:
      memcpy (k, key, 24);
      break;
    default:
      return FALSE;
    }

  ok = run_cipher (iv != NULL ? EVP_des_ede3_cbc () : EVP_des_ede3_ecb (),
                   k, iv, encrypt, in, out, len);
  OPENSSL_cleanse (k, sizeof k);

  return ok;
}

gboolean
pp_block_cipher_tdes_ecb (const guint8 *key,
                          gsize         key_len,
                          gboolean      encrypt,
                          const guint8 *in,
                          guint8       *out,
                          gsize         len)
{
  g_return_val_if_fail (key != NULL && in != NULL && out != NULL, FALSE);

  return tdes (key, key_len, encrypt, NULL, in, out, len);
}

gboolean
pp_block_cipher_tdes_cbc (const guint8 *key,
                          gsize         key_len,
                          gboolean      encrypt,
                          const guint8 *iv,
                          const guint8 *in,
                          guint8       *out,
                          gsize         len)
{
  static const guint8 zero_iv[PP_BLOCK_CIPHER_DES_BLOCK] = { 0 };

  g_return_val_if_fail (key != NULL && in != NULL && out != NULL, FALSE);

  return tdes (key, key_len, encrypt, iv != NULL ? iv : zero_iv, in, out, len);
}

gboolean
pp_block_cipher_aes_ecb (const guint8 *key,
                         gsize         key_len,
                         gboolean      encrypt,
                         const guint8 *in,
                         guint8       *out,
                         gsize         len)
{
  const EVP_CIPHER *cipher;

  g_return_val_if_fail (key != NULL && in != NULL && out != NULL, FALSE);

  if (len % PP_BLOCK_CIPHER_AES_BLOCK != 0)
    return FALSE;

  switch (key_len)
    {
    case 16: cipher = EVP_aes_128_ecb (); break;
    case 24: cipher = EVP_aes_192_ecb (); break;
    case 32: cipher = EVP_aes_256_ecb (); break;
    default: return FALSE;
    }

  return run_cipher (cipher, key, NULL, encrypt, in, out, len);
}
