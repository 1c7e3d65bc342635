/* SPDX-License-Identifier: GPL-3.0-or-later
 *
 * pp-scan.c: scanner payloads to serial numbers.
 */
#include "config.h"

#include <string.h>

#include "pp-scan.h"
#include "pp-validate.h"

G_DEFINE_QUARK (pp-scan-error-quark, pp_scan_error)

#define QR_PREFIX "posprov:terminal?"

static gboolean
parse_qr (const char  *query,
          char       **out_serial,
          char       **out_model,
          GError     **error)
{
  g_auto(GStrv) pairs = g_strsplit (query, "&", -1);
  g_autofree char *serial = NULL;
  g_autofree char *model = NULL;

  for (guint i = 0; pairs[i] != NULL; i++)
    {
      const char *eq = strchr (pairs[i], '=');
      g_autofree char *key = NULL;
      g_autofree char *value = NULL;

      if (eq == NULL)
        continue;
      key = g_strndup (pairs[i], eq - pairs[i]);
      value = g_uri_unescape_string (eq + 1, NULL);
      if (value == NULL)
        {
          g_set_error (error, PP_SCAN_ERROR, PP_SCAN_ERROR_BAD_QR,
                       "QR code field “%s” is not valid percent-encoding", key);
          return FALSE;
        }
      if (g_str_equal (key, "serial"))
        { g_free (serial); serial = g_steal_pointer (&value); }
      else if (g_str_equal (key, "model"))
        { g_free (model); model = g_steal_pointer (&value); }
    }

  if (serial == NULL)
    {
      g_set_error_literal (error, PP_SCAN_ERROR, PP_SCAN_ERROR_BAD_QR,
                           "QR code carries no serial number");
      return FALSE;
    }

  *out_serial = g_steal_pointer (&serial);
  if (out_model != NULL)
    *out_model = g_steal_pointer (&model);
  return TRUE;
}

gboolean
pp_scan_parse (const char  *scanned,
               char       **out_serial,
               char       **out_model,
               GError     **error)
{
  g_autofree char *text = NULL;
  g_autofree char *serial = NULL;
  g_autofree char *model = NULL;
  g_autoptr(GError) local_error = NULL;
  const char *p;

  g_return_val_if_fail (scanned != NULL, FALSE);
  g_return_val_if_fail (out_serial != NULL, FALSE);

  text = g_strstrip (g_strdup (scanned));
  if (*text == '\0')
    {
      g_set_error_literal (error, PP_SCAN_ERROR, PP_SCAN_ERROR_EMPTY,
                           "Nothing was scanned");
      return FALSE;
    }

  if (g_str_has_prefix (text, QR_PREFIX))
    {
      if (!parse_qr (text + strlen (QR_PREFIX), &serial, &model, error))
        return FALSE;
    }
  else
    {
      p = text;
      if (g_ascii_strncasecmp (p, "SN:", 3) == 0)
        p += 3;
      else if (g_ascii_strncasecmp (p, "S/N", 3) == 0)
        p += 3;
      while (*p == ' ' || *p == ':')
        p++;
      serial = g_strdup (p);
    }

  if (!pp_validate_serial (serial, &local_error))
    {
      g_set_error (error, PP_SCAN_ERROR, PP_SCAN_ERROR_BAD_SERIAL,
                   "Scanned code is not a terminal serial: %s", local_error->message);
      return FALSE;
    }

  *out_serial = g_ascii_strup (serial, -1);
  if (out_model != NULL)
    *out_model = g_steal_pointer (&model);
  return TRUE;
}
