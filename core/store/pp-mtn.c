/* SPDX-License-Identifier: GPL-3.0-or-later
 *
 * pp-mtn.c: merchant-terminal number layout and Luhn check digit.
 */
#include "config.h"

#include <glib/gi18n-lib.h>

#include <inttypes.h>
#include <string.h>

#include "pp-mtn.h"

G_DEFINE_QUARK (pp-mtn-error-quark, pp_mtn_error)

static gboolean
all_digits (const char *s)
{
  for (; *s != '\0'; s++)
    if (!g_ascii_isdigit (*s))
      return FALSE;
  return TRUE;
}

char
pp_mtn_luhn_digit (const char *digits)
{
  gsize n;
  guint sum = 0;

  g_return_val_if_fail (digits != NULL, '\0');

  n = strlen (digits);
  if (n == 0 || !all_digits (digits))
    return '\0';

  /* The check digit will sit to the right, so the rightmost payload digit
   * is the first one doubled. */
  for (gsize i = 0; i < n; i++)
    {
      guint d = (guint) (digits[n - 1 - i] - '0');

      if (i % 2 == 0)
        {
          d *= 2;
          if (d > 9)
            d -= 9;
        }
      sum += d;
    }

  return (char) ('0' + (10 - sum % 10) % 10);
}

static gboolean
format_number (const char  *what,
               const char  *prefix,
               guint64      sequence,
               gsize        total_len,
               char        *out,
               GError     **error)
{
  gsize prefix_len;
  gsize width;
  guint64 limit = 1;
  char payload[PP_MTN_MID_LENGTH + 1];

  prefix_len = strlen (prefix);
  if (!all_digits (prefix))
    {
      g_set_error (error, PP_MTN_ERROR, PP_MTN_ERROR_BAD_PREFIX,
                   _("%s prefix “%s” must contain only digits 0-9"), what, prefix);
      return FALSE;
    }
  /* One position is the check digit and at least one must be the sequence. */
  if (prefix_len > total_len - 2)
    {
      g_set_error (error, PP_MTN_ERROR, PP_MTN_ERROR_PREFIX_TOO_LONG,
                   _("%s prefix has %zu digits; at most %zu are allowed"),
                   what, prefix_len, total_len - 2);
      return FALSE;
    }

  width = total_len - 1 - prefix_len;
  for (gsize i = 0; i < width; i++)
    limit *= 10;
  if (sequence >= limit)
    {
      g_set_error (error, PP_MTN_ERROR, PP_MTN_ERROR_SEQUENCE_OVERFLOW,
                   _("%s sequence %" PRIu64 " does not fit in %zu digits after prefix “%s”: "
                     "the number range is exhausted"),
                   what, sequence, width, prefix);
      return FALSE;
    }

  g_snprintf (payload, sizeof payload, "%s%0*" G_GUINT64_FORMAT, prefix, (int) width, sequence);
  g_assert (strlen (payload) == total_len - 1);

  memcpy (out, payload, total_len - 1);
  out[total_len - 1] = pp_mtn_luhn_digit (payload);
  out[total_len] = '\0';
  return TRUE;
}

gboolean
pp_mtn_format_mid (const char  *prefix,
                   guint64      sequence,
                   char         out[16],
                   GError     **error)
{
  g_return_val_if_fail (prefix != NULL, FALSE);
  g_return_val_if_fail (out != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  return format_number ("MID", prefix, sequence, PP_MTN_MID_LENGTH, out, error);
}

gboolean
pp_mtn_format_tid (const char  *prefix,
                   guint64      sequence,
                   char         out[9],
                   GError     **error)
{
  g_return_val_if_fail (prefix != NULL, FALSE);
  g_return_val_if_fail (out != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  return format_number ("TID", prefix, sequence, PP_MTN_TID_LENGTH, out, error);
}

static gboolean
validate_number (const char  *what,
                 const char  *number,
                 gsize        total_len,
                 GError     **error)
{
  gsize n = strlen (number);
  char payload[PP_MTN_MID_LENGTH + 1];
  char expected;

  if (n != total_len)
    {
      g_set_error (error, PP_MTN_ERROR, PP_MTN_ERROR_LENGTH,
                   _("%s must be %zu digits, not %zu"),
                   what, total_len, n);
      return FALSE;
    }
  for (gsize i = 0; i < n; i++)
    {
      if (!g_ascii_isdigit (number[i]))
        {
          g_set_error (error, PP_MTN_ERROR, PP_MTN_ERROR_NOT_DIGITS,
                       _("%s has a character other than a digit at position %zu"),
                       what, i + 1);
          return FALSE;
        }
    }

  memcpy (payload, number, n - 1);
  payload[n - 1] = '\0';
  expected = pp_mtn_luhn_digit (payload);
  if (number[n - 1] != expected)
    {
      g_set_error (error, PP_MTN_ERROR, PP_MTN_ERROR_CHECK_DIGIT,
                   _("%s %s has a wrong check digit (expected %c): mistyped?"),
                   what, number, expected);
      return FALSE;
    }

  return TRUE;
}

gboolean
pp_mtn_validate_mid (const char  *mid,
                     GError     **error)
{
  g_return_val_if_fail (mid != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  return validate_number ("MID", mid, PP_MTN_MID_LENGTH, error);
}

gboolean
pp_mtn_validate_tid (const char  *tid,
                     GError     **error)
{
  g_return_val_if_fail (tid != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  return validate_number ("TID", tid, PP_MTN_TID_LENGTH, error);
}
