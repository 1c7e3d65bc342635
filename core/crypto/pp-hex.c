/* SPDX-License-Identifier: GPL-3.0-or-later
 *
 * pp-hex.c: hexadecimal helpers shared by the crypto code and the tool.
 */
#include "config.h"

#include <string.h>

#include <openssl/crypto.h>

#include "pp-hex.h"

G_DEFINE_QUARK (pp-hex-error-quark, pp_hex_error)

gboolean
pp_hex_validate (const char  *hex,
                 gsize       *out_len,
                 GError     **error)
{
  gsize n;

  g_return_val_if_fail (hex != NULL, FALSE);

  n = strlen (hex);
  if (n == 0)
    {
      g_set_error_literal (error, PP_HEX_ERROR, PP_HEX_ERROR_EMPTY,
                           "Hex value is empty");
      return FALSE;
    }

  for (gsize i = 0; i < n; i++)
    {
      if (!g_ascii_isxdigit (hex[i]))
        {
          g_set_error (error, PP_HEX_ERROR, PP_HEX_ERROR_INVALID_CHARACTER,
                       "Invalid hex character at position %" G_GSIZE_FORMAT,
                       i + 1);
          return FALSE;
        }
    }

  if (n % 2 != 0)
    {
      g_set_error (error, PP_HEX_ERROR, PP_HEX_ERROR_ODD_LENGTH,
                   "Hex value has an odd number of digits (%" G_GSIZE_FORMAT ")",
                   n);
      return FALSE;
    }

  if (out_len != NULL)
    *out_len = n / 2;

  return TRUE;
}

/* The caller has validated @hex and sized @out to strlen(hex)/2. */
void
pp_hex_decode_into (const char *hex,
                    guint8     *out,
                    gsize       out_len)
{
  for (gsize i = 0; i < out_len; i++)
    out[i] = (g_ascii_xdigit_value (hex[2 * i]) << 4) |
             g_ascii_xdigit_value (hex[2 * i + 1]);
}

GBytes *
pp_hex_decode (const char  *hex,
               GError     **error)
{
  guint8 *out;
  gsize len;

  if (!pp_hex_validate (hex, &len, error))
    return NULL;

  out = g_malloc (len);
  pp_hex_decode_into (hex, out, len);

  return g_bytes_new_take (out, len);
}

char *
pp_hex_encode (const guint8 *data,
               gsize         len)
{
  static const char digits[] = "0123456789ABCDEF";
  char *out = g_malloc (len * 2 + 1);

  for (gsize i = 0; i < len; i++)
    {
      out[2 * i] = digits[data[i] >> 4];
      out[2 * i + 1] = digits[data[i] & 0xf];
    }
  out[len * 2] = '\0';

  return out;
}

void
pp_hex_free_secret (char *hex)
{
  if (hex == NULL)
    return;

  OPENSSL_cleanse (hex, strlen (hex));
  g_free (hex);
}
