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
