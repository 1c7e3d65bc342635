/* SPDX-License-Identifier: GPL-3.0-or-later
 *
 * pp-kcv.c: key check values on the shared block cipher primitives.
 */
#include "config.h"

#include <string.h>

#include "pp-block-cipher.h"
#include "pp-hex.h"
#include "pp-kcv.h"

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
  static const guint8 zero[8] = { 0 };
  gsize len = pp_secure_buffer_get_len (key);

  /* Single, double and triple length keys all run as 3-key TDES. */
  if (len != 8 && len != 16 && len != 24)
    {
      g_set_error (error, PP_KCV_ERROR, PP_KCV_ERROR_KEY_LENGTH,
                   "A TDES key is 8, 16 or 24 bytes, not %" G_GSIZE_FORMAT, len);
      return FALSE;
    }

  if (!pp_block_cipher_tdes_ecb (pp_secure_buffer_peek (key), len, TRUE,
                                 zero, out, sizeof zero))
    {
      g_set_error_literal (error, PP_KCV_ERROR, PP_KCV_ERROR_CRYPTO,
                           "TDES encryption failed");
      return FALSE;
    }

  return TRUE;
}

static gboolean
kcv_aes (const PpSecureBuffer *key,
         guint8                out[16],
         GError              **error)
{
  static const guint8 zero[16] = { 0 };
  gsize len = pp_secure_buffer_get_len (key);

  if (len != 16 && len != 24 && len != 32)
    {
      g_set_error (error, PP_KCV_ERROR, PP_KCV_ERROR_KEY_LENGTH,
                   "An AES key is 16, 24 or 32 bytes, not %" G_GSIZE_FORMAT, len);
      return FALSE;
    }

  if (!pp_block_cipher_aes_cmac (pp_secure_buffer_peek (key), len,
                                 zero, sizeof zero, NULL, 0, out))
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
