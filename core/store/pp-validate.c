/* SPDX-License-Identifier: GPL-3.0-or-later
 *
 * pp-validate.c: field rules.
 */
#include "config.h"

#include <glib/gi18n-lib.h>

#include <string.h>

#include "pp-validate.h"

G_DEFINE_QUARK (pp-validate-error-quark, pp_validate_error)

gboolean
pp_validate_serial (const char  *serial,
                    GError     **error)
{
  gsize n;

  g_return_val_if_fail (serial != NULL, FALSE);

  n = strlen (serial);
  if (n == 0)
    {
      g_set_error_literal (error, PP_VALIDATE_ERROR, PP_VALIDATE_ERROR_EMPTY,
                           _("serial number is empty"));
      return FALSE;
    }
  if (n < 4 || n > PP_SERIAL_MAX_LENGTH)
    {
      g_set_error (error, PP_VALIDATE_ERROR, PP_VALIDATE_ERROR_TOO_LONG,
                   _("serial number must be 4 to %d characters, not %zu"),
                   PP_SERIAL_MAX_LENGTH, n);
      return FALSE;
    }
  for (gsize i = 0; i < n; i++)
    {
      if (!g_ascii_isalnum (serial[i]) && serial[i] != '-')
        {
          g_set_error (error, PP_VALIDATE_ERROR, PP_VALIDATE_ERROR_BAD_CHARACTER,
                       _("serial number has a character other than a letter, digit or “-” at position %zu"),
                       i + 1);
          return FALSE;
        }
    }
  return TRUE;
}

gboolean
pp_validate_is_hidden_char (gunichar c)
{
  switch (g_unichar_type (c))
    {
    case G_UNICODE_CONTROL:
    case G_UNICODE_FORMAT:
    case G_UNICODE_LINE_SEPARATOR:
    case G_UNICODE_PARAGRAPH_SEPARATOR:
    case G_UNICODE_SURROGATE:
      return TRUE;
    default:
      /* Noncharacters (U+FDD0-FDEF, U+xxFFFE/F) are no text either. */
      return (c >= 0xfdd0 && c <= 0xfdef) || (c & 0xfffe) == 0xfffe;
    }
}

gboolean
pp_validate_text (const char  *text,
                  GError     **error)
{
  guint position = 1;

  g_return_val_if_fail (text != NULL, FALSE);

  if (!g_utf8_validate (text, -1, NULL))
    {
      g_set_error_literal (error, PP_VALIDATE_ERROR, PP_VALIDATE_ERROR_INVALID_UTF8,
                           _("is not valid UTF-8 text"));
      return FALSE;
    }
  for (const char *p = text; *p != '\0'; p = g_utf8_next_char (p), position++)
    {
      gunichar c = g_utf8_get_char (p);

      if (!pp_validate_is_hidden_char (c))
        continue;
      if (c == '\n' || c == '\r')
        g_set_error (error, PP_VALIDATE_ERROR, PP_VALIDATE_ERROR_BAD_CHARACTER,
                     _("contains a line break at character %u"), position);
      else
        g_set_error (error, PP_VALIDATE_ERROR, PP_VALIDATE_ERROR_BAD_CHARACTER,
                     _("contains the control or invisible formatting character U+%04X at character %u"),
                     c, position);
      return FALSE;
    }
  return TRUE;
}

char *
pp_validate_escape (const char *text,
                    gssize      len,
                    guint       max_chars)
{
  g_autoptr(GString) out = NULL;
  const char *p, *end;
  guint n = 0;

  g_return_val_if_fail (text != NULL || len == 0, NULL);

  if (len < 0)
    len = (gssize) strlen (text);
  out = g_string_sized_new (MIN ((gsize) len, (gsize) max_chars * 4) + 4);
  p = text;
  end = text + len;
  while (p < end)
    {
      gunichar c;

      if (n == max_chars)
        {
          g_string_append (out, "…");
          break;
        }
      n++;
      c = g_utf8_get_char_validated (p, end - p);
      if (c == (gunichar) -1 || c == (gunichar) -2)
        {
          /* Not UTF-8: show the byte and go on with the next. */
          g_string_append_printf (out, "\\x%02X", (guchar) *p);
          p++;
          continue;
        }
      if (c == '\\')
        g_string_append (out, "\\\\");
      else if (c < 0x80 && pp_validate_is_hidden_char (c))
        g_string_append_printf (out, "\\x%02X", c);
      else if (pp_validate_is_hidden_char (c))
        g_string_append_printf (out, "\\u{%04X}", c);
      else
        g_string_append_len (out, p, g_utf8_next_char (p) - p);
      p = g_utf8_next_char (p);
    }
  return g_string_free (g_steal_pointer (&out), FALSE);
}
