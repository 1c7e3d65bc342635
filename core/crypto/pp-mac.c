/* SPDX-License-Identifier: GPL-3.0-or-later
 *
 * pp-mac.c: ISO/IEC 9797-1 MAC algorithm 3 on OpenSSL 3 EVP.
 */
#include "config.h"

#include <string.h>

#include <openssl/crypto.h>

#include "pp-block-cipher.h"
#include "pp-mac.h"

G_DEFINE_QUARK (pp-mac-error-quark, pp_mac_error)

/* The padded message; it may hold secrets (a PIN block, a key under test),
 * so it lives in a secure buffer. */
static PpSecureBuffer *
pad_message (const guint8  *data,
             gsize          len,
             PpMacPadding   padding,
             GError       **error)
{
  PpSecureBuffer *padded;
  gsize prefix = 0, body;
  guint8 *p;

  switch (padding)
    {
    case PP_MAC_PADDING_METHOD_1:
      /* An empty message still gets one block of zeros. */
      body = len == 0 ? 8 : (len + 7) / 8 * 8;
      break;
    case PP_MAC_PADDING_METHOD_2:
      body = (len / 8 + 1) * 8;
      break;
    case PP_MAC_PADDING_METHOD_3:
      prefix = 8;
      body = (len + 7) / 8 * 8;
      break;
    default:
      g_set_error (error, PP_MAC_ERROR, PP_MAC_ERROR_PADDING,
                   "ISO 9797-1 padding method %d is not supported (1, 2 or 3)",
                   (int) padding);
      return NULL;
    }

  padded = pp_secure_buffer_new (prefix + body);
  p = pp_secure_buffer_get_data (padded);
  if (padding == PP_MAC_PADDING_METHOD_3)
    {
      /* The length of the data in bits, right-justified in one block. */
      guint64 bits = (guint64) len * 8;

      for (guint i = 0; i < 8; i++)
        p[i] = (guint8) (bits >> (56 - 8 * i));
    }
  if (len > 0)
    memcpy (p + prefix, data, len);
  if (padding == PP_MAC_PADDING_METHOD_2)
    p[prefix + len] = 0x80;

  return padded;
}

gboolean
pp_mac_retail_compute (const PpSecureBuffer  *key,
                       const guint8          *data,
                       gsize                  len,
                       PpMacPadding           padding,
                       guint8                 out[PP_MAC_RETAIL_LEN],
                       GError               **error)
{
  g_autoptr(PpSecureBuffer) padded = NULL;
  g_autoptr(PpSecureBuffer) chain = NULL;
  const guint8 *k;
  guint8 *c, *p;
  gsize n;
  gboolean ok = TRUE;

  g_return_val_if_fail (key != NULL, FALSE);
  g_return_val_if_fail (data != NULL || len == 0, FALSE);
  g_return_val_if_fail (out != NULL, FALSE);

  if (pp_secure_buffer_get_len (key) != 16)
    {
      g_set_error (error, PP_MAC_ERROR, PP_MAC_ERROR_KEY_LENGTH,
                   "A retail MAC key is K || K', 16 bytes, not %" G_GSIZE_FORMAT,
                   pp_secure_buffer_get_len (key));
      return FALSE;
    }

  padded = pad_message (data, len, padding, error);
  if (padded == NULL)
    return FALSE;

  k = pp_secure_buffer_peek (key);
  p = pp_secure_buffer_get_data (padded);
  n = pp_secure_buffer_get_len (padded);

  /* Single-DES CBC under K over all but the last block; the last block
   * then goes through K-decrypt(K')-K, which is 2-key TDES with K || K'. */
  chain = pp_secure_buffer_new (n);
  c = pp_secure_buffer_get_data (chain);
  if (n > 8)
    ok = pp_block_cipher_tdes_cbc (k, 8, TRUE, NULL, p, c, n - 8);
  for (guint i = 0; i < 8; i++)
    p[n - 8 + i] ^= n > 8 ? c[n - 16 + i] : 0;
  ok = ok && pp_block_cipher_tdes_ecb (k, 16, TRUE, p + n - 8, out, 8);

  if (!ok)
    {
      OPENSSL_cleanse (out, PP_MAC_RETAIL_LEN);
      g_set_error_literal (error, PP_MAC_ERROR, PP_MAC_ERROR_CRYPTO,
                           "DES encryption failed");
      return FALSE;
    }

  return TRUE;
}

gboolean
pp_mac_retail_verify (const PpSecureBuffer  *key,
                      const guint8          *data,
                      gsize                  len,
                      PpMacPadding           padding,
                      const guint8          *mac,
                      gsize                  mac_len,
                      GError               **error)
{
  guint8 expected[PP_MAC_RETAIL_LEN];
  gboolean same;

  g_return_val_if_fail (mac != NULL, FALSE);

  if (mac_len < 4 || mac_len > PP_MAC_RETAIL_LEN)
    {
      g_set_error (error, PP_MAC_ERROR, PP_MAC_ERROR_MAC_LENGTH,
                   "A retail MAC is 4 to 8 bytes, not %" G_GSIZE_FORMAT, mac_len);
      return FALSE;
    }

  if (!pp_mac_retail_compute (key, data, len, padding, expected, error))
    return FALSE;

  same = CRYPTO_memcmp (expected, mac, mac_len) == 0;
  OPENSSL_cleanse (expected, sizeof expected);

  if (!same)
    {
      g_set_error_literal (error, PP_MAC_ERROR, PP_MAC_ERROR_MISMATCH,
                           "The MAC does not match");
      return FALSE;
    }

  return TRUE;
}
