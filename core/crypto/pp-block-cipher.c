/* SPDX-License-Identifier: GPL-3.0-or-later
 *
 * pp-block-cipher.c: TDES and AES block operations and CMAC on OpenSSL 3
 * EVP.
 */
#include "config.h"

#include <string.h>

#include <openssl/core_names.h>
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

/* Single and double length keys become K1|K1|K1 and K1|K2|K1, which is
 * exactly single DES and 2-key TDES; every TDES operation runs as
 * DES-EDE3 on the result. */
static gboolean
tdes_expand (const guint8 *key,
             gsize         key_len,
             guint8        out[24])
{
  switch (key_len)
    {
    case 8:
      memcpy (out, key, 8); memcpy (out + 8, key, 8); memcpy (out + 16, key, 8);
      return TRUE;
    case 16:
      memcpy (out, key, 16); memcpy (out + 16, key, 8);
      return TRUE;
    case 24:
      memcpy (out, key, 24);
      return TRUE;
    default:
      return FALSE;
    }
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

  if (len % PP_BLOCK_CIPHER_DES_BLOCK != 0 || !tdes_expand (key, key_len, k))
    return FALSE;

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

static gboolean
aes (const guint8 *key,
     gsize         key_len,
     gboolean      encrypt,
     const guint8 *iv,
     const guint8 *in,
     guint8       *out,
     gsize         len)
{
  gboolean cbc = iv != NULL;
  const EVP_CIPHER *cipher;

  if (len % PP_BLOCK_CIPHER_AES_BLOCK != 0)
    return FALSE;

  switch (key_len)
    {
    case 16: cipher = cbc ? EVP_aes_128_cbc () : EVP_aes_128_ecb (); break;
    case 24: cipher = cbc ? EVP_aes_192_cbc () : EVP_aes_192_ecb (); break;
    case 32: cipher = cbc ? EVP_aes_256_cbc () : EVP_aes_256_ecb (); break;
    default: return FALSE;
    }

  return run_cipher (cipher, key, iv, encrypt, in, out, len);
}

gboolean
pp_block_cipher_aes_ecb (const guint8 *key,
                         gsize         key_len,
                         gboolean      encrypt,
                         const guint8 *in,
                         guint8       *out,
                         gsize         len)
{
  g_return_val_if_fail (key != NULL && in != NULL && out != NULL, FALSE);

  return aes (key, key_len, encrypt, NULL, in, out, len);
}

gboolean
pp_block_cipher_aes_cbc (const guint8 *key,
                         gsize         key_len,
                         gboolean      encrypt,
                         const guint8 *iv,
                         const guint8 *in,
                         guint8       *out,
                         gsize         len)
{
  static const guint8 zero_iv[PP_BLOCK_CIPHER_AES_BLOCK] = { 0 };

  g_return_val_if_fail (key != NULL && in != NULL && out != NULL, FALSE);

  return aes (key, key_len, encrypt, iv != NULL ? iv : zero_iv, in, out, len);
}

static gboolean
cmac (const char   *cipher,
      const guint8 *key,
      gsize         key_len,
      const guint8 *a,
      gsize         a_len,
      const guint8 *b,
      gsize         b_len,
      guint8       *out,
      gsize         out_len)
{
  g_autoptr(EVP_MAC) mac = EVP_MAC_fetch (NULL, "CMAC", NULL);
  g_autoptr(EVP_MAC_CTX) ctx = mac != NULL ? EVP_MAC_CTX_new (mac) : NULL;
  OSSL_PARAM params[2];
  gsize outl = 0;

  params[0] = OSSL_PARAM_construct_utf8_string (OSSL_MAC_PARAM_CIPHER, (char *) cipher, 0);
  params[1] = OSSL_PARAM_construct_end ();

  return ctx != NULL &&
         EVP_MAC_init (ctx, key, key_len, params) == 1 &&
         (a_len == 0 || EVP_MAC_update (ctx, a, a_len) == 1) &&
         (b_len == 0 || EVP_MAC_update (ctx, b, b_len) == 1) &&
         EVP_MAC_final (ctx, out, &outl, out_len) == 1 &&
         outl == out_len;
}

gboolean
pp_block_cipher_tdes_cmac (const guint8 *key,
                           gsize         key_len,
                           const guint8 *a,
                           gsize         a_len,
                           const guint8 *b,
                           gsize         b_len,
                           guint8        out[PP_BLOCK_CIPHER_DES_BLOCK])
{
  guint8 k[24];
  gboolean ok;

  g_return_val_if_fail (key != NULL && out != NULL, FALSE);
  g_return_val_if_fail (a != NULL || a_len == 0, FALSE);
  g_return_val_if_fail (b != NULL || b_len == 0, FALSE);

  if (!tdes_expand (key, key_len, k))
    return FALSE;

  ok = cmac ("DES-EDE3-CBC", k, sizeof k, a, a_len, b, b_len, out,
             PP_BLOCK_CIPHER_DES_BLOCK);
  OPENSSL_cleanse (k, sizeof k);

  return ok;
}

gboolean
pp_block_cipher_aes_cmac (const guint8 *key,
                          gsize         key_len,
                          const guint8 *a,
                          gsize         a_len,
                          const guint8 *b,
                          gsize         b_len,
                          guint8        out[PP_BLOCK_CIPHER_AES_BLOCK])
{
  const char *cipher;

  g_return_val_if_fail (key != NULL && out != NULL, FALSE);
  g_return_val_if_fail (a != NULL || a_len == 0, FALSE);
  g_return_val_if_fail (b != NULL || b_len == 0, FALSE);

  switch (key_len)
    {
    case 16: cipher = "AES-128-CBC"; break;
    case 24: cipher = "AES-192-CBC"; break;
    case 32: cipher = "AES-256-CBC"; break;
    default: return FALSE;
    }

  return cmac (cipher, key, key_len, a, a_len, b, b_len, out, PP_BLOCK_CIPHER_AES_BLOCK);
}
