/* SPDX-License-Identifier: GPL-3.0-or-later
 *
 * pp-totp.c: TOTP (RFC 6238), base32 (RFC 4648) and the otpauth:// Key URI.
 */
#include "config.h"

#include <string.h>

#include <glib/gi18n-lib.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "pp-totp.h"

G_DEFINE_QUARK (pp-totp-error-quark, pp_totp_error)

static const char base32_alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

char *
pp_base32_encode (const guint8 *data,
                  gsize         len,
                  gboolean      pad)
{
  GString *out = g_string_sized_new ((len + 4) / 5 * 8 + 1);
  guint32 buffer = 0;
  guint bits = 0;

  g_return_val_if_fail (data != NULL || len == 0, NULL);

  for (gsize i = 0; i < len; i++)
    {
      buffer = (buffer << 8) | data[i];
      bits += 8;
      while (bits >= 5)
        {
          g_string_append_c (out, base32_alphabet[(buffer >> (bits - 5)) & 0x1f]);
          bits -= 5;
        }
    }
  if (bits > 0)
    g_string_append_c (out, base32_alphabet[(buffer << (5 - bits)) & 0x1f]);
  if (pad)
    while (out->len % 8 != 0)
      g_string_append_c (out, '=');
  buffer = 0;
  return g_string_free (out, FALSE);
}

PpSecureBuffer *
pp_base32_decode (const char  *text,
                  GError     **error)
{
  g_autoptr(PpSecureBuffer) out = NULL;
  guint8 *p;
  gsize n = 0, len;
  guint32 buffer = 0;
  guint bits = 0;
  gboolean padding = FALSE;

  g_return_val_if_fail (text != NULL, NULL);

  len = strlen (text);
  out = pp_secure_buffer_new (len * 5 / 8 + 1);
  p = pp_secure_buffer_get_data (out);
  for (gsize i = 0; i < len; i++)
    {
      char c = g_ascii_toupper (text[i]);
      const char *at;

      if (c == ' ')
        continue;
      if (c == '=')
        {
          padding = TRUE;
          continue;
        }
      at = c != '\0' ? strchr (base32_alphabet, c) : NULL;
      if (at == NULL || padding)
        {
          g_set_error (error, PP_TOTP_ERROR, PP_TOTP_ERROR_INVALID,
                       _("Not base32: character %u (“%c”) is not one of A-Z, 2-7"),
                       (guint) MIN (i + 1, G_MAXUINT), g_ascii_isprint (text[i]) ? text[i] : '?');
          return NULL;
        }
      buffer = (buffer << 5) | (guint32) (at - base32_alphabet);
      bits += 5;
      if (bits >= 8)
        {
          p[n++] = (guint8) (buffer >> (bits - 8));
          bits -= 8;
        }
    }
  buffer = 0;
  pp_secure_buffer_truncate (out, n);
  return g_steal_pointer (&out);
}

gint64
pp_totp_step (gint64 unix_time,
              guint  period)
{
  g_return_val_if_fail (period > 0, 0);
  /* Floor, also before 1970 (never in use, but defined). */
  if (unix_time < 0)
    return -((-unix_time + period - 1) / period);
  return unix_time / period;
}

static const EVP_MD *
algorithm_md (PpTotpAlgorithm algorithm)
{
  switch (algorithm)
    {
    case PP_TOTP_SHA1: return EVP_sha1 ();
    case PP_TOTP_SHA256: return EVP_sha256 ();
    case PP_TOTP_SHA512: return EVP_sha512 ();
    default: return NULL;
    }
}

gboolean
pp_totp_code (const PpSecureBuffer *secret,
              PpTotpAlgorithm       algorithm,
              guint                 digits,
              gint64                step,
              char                  out[9],
              GError              **error)
{
  static const guint32 powers[] = { 1000000, 10000000, 100000000 };
  const EVP_MD *md = algorithm_md (algorithm);
  guint8 counter[8];
  guint8 mac[EVP_MAX_MD_SIZE];
  unsigned int mac_len = 0;
  guint32 binary;
  guint offset;

  g_return_val_if_fail (secret != NULL, FALSE);
  g_return_val_if_fail (out != NULL, FALSE);

  if (md == NULL || digits < 6 || digits > 8 || step < 0 || pp_secure_buffer_get_len (secret) == 0)
    {
      g_set_error_literal (error, PP_TOTP_ERROR, PP_TOTP_ERROR_INVALID,
                           _("A one-time code needs a secret, 6 to 8 digits and a known algorithm"));
      return FALSE;
    }
  /* RFC 4226 5.3: HMAC over the big-endian counter, dynamic truncation. */
  for (int i = 7; i >= 0; i--, step >>= 8)
    counter[i] = (guint8) (step & 0xff);
  if (HMAC (md, pp_secure_buffer_peek (secret), (int) pp_secure_buffer_get_len (secret),
            counter, sizeof counter, mac, &mac_len) == NULL)
    {
      g_set_error_literal (error, PP_TOTP_ERROR, PP_TOTP_ERROR_INVALID,
                           _("Cannot compute the one-time code (OpenSSL failed)"));
      return FALSE;
    }
  offset = mac[mac_len - 1] & 0x0f;
  binary = ((guint32) (mac[offset] & 0x7f) << 24) | ((guint32) mac[offset + 1] << 16) |
           ((guint32) mac[offset + 2] << 8) | mac[offset + 3];
  OPENSSL_cleanse (mac, sizeof mac);
  g_snprintf (out, 9, "%0*u", (int) digits, binary % powers[digits - 6]);
  binary = 0;
  return TRUE;
}

gboolean
pp_totp_verify (const PpSecureBuffer *secret,
                const char           *code,
                gint64                now,
                gint64                last_used_step,
                gint64               *out_step,
                GError              **error)
{
  gint64 step = pp_totp_step (now, PP_TOTP_DEFAULT_PERIOD);
  gint64 matched = -1;
  gsize len;

  g_return_val_if_fail (secret != NULL, FALSE);
  g_return_val_if_fail (code != NULL, FALSE);

  len = strlen (code);
  for (gsize i = 0; i < len; i++)
    if (!g_ascii_isdigit (code[i]))
      len = 0;
  if (len != PP_TOTP_DEFAULT_DIGITS)
    {
      g_set_error (error, PP_TOTP_ERROR, PP_TOTP_ERROR_WRONG_CODE,
                   _("A one-time code is %d digits"), PP_TOTP_DEFAULT_DIGITS);
      return FALSE;
    }
  /* Every step of the window is computed and compared, matched or not, so
   * the time taken says nothing of which step (if any) matched. */
  for (gint64 s = step - 1; s <= step + 1; s++)
    {
      char expected[9];

      if (s < 0)
        continue;
      if (!pp_totp_code (secret, PP_TOTP_SHA1, PP_TOTP_DEFAULT_DIGITS, s, expected, error))
        return FALSE;
      if (CRYPTO_memcmp (expected, code, PP_TOTP_DEFAULT_DIGITS) == 0 && matched < 0)
        matched = s;
      OPENSSL_cleanse (expected, sizeof expected);
    }
  if (matched < 0)
    {
      g_set_error_literal (error, PP_TOTP_ERROR, PP_TOTP_ERROR_WRONG_CODE,
                           _("The one-time code is wrong: check the authenticator app and the "
                             "computer's clock, then type the code it shows now"));
      return FALSE;
    }
  if (matched <= last_used_step)
    {
      g_set_error_literal (error, PP_TOTP_ERROR, PP_TOTP_ERROR_REPLAYED,
                           _("This one-time code was used already: wait for the authenticator "
                             "app to show a new one"));
      return FALSE;
    }
  if (out_step != NULL)
    *out_step = matched;
  return TRUE;
}

PpSecureBuffer *
pp_totp_uri (const char           *issuer,
             const char           *user,
             const PpSecureBuffer *secret)
{
  g_autofree char *issuer_escaped = NULL;
  g_autofree char *user_escaped = NULL;
  g_autofree char *base32 = NULL;
  g_autofree char *uri = NULL;
  PpSecureBuffer *out;
  gsize len;

  g_return_val_if_fail (issuer != NULL && user != NULL && secret != NULL, NULL);

  /* The label's ":" separates issuer and user, so neither may hold one. */
  issuer_escaped = g_uri_escape_string (issuer, NULL, FALSE);
  user_escaped = g_uri_escape_string (user, NULL, FALSE);
  base32 = pp_base32_encode (pp_secure_buffer_peek (secret), pp_secure_buffer_get_len (secret), FALSE);
  uri = g_strdup_printf ("otpauth://totp/%s:%s?secret=%s&issuer=%s", issuer_escaped, user_escaped,
                         base32, issuer_escaped);
  len = strlen (uri);
  out = pp_secure_buffer_new_from ((const guint8 *) uri, len + 1);
  OPENSSL_cleanse (uri, len);
  OPENSSL_cleanse (base32, strlen (base32));
  return out;
}
