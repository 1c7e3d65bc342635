/* SPDX-License-Identifier: GPL-3.0-or-later
 *
 * test-scan.c: scanner payloads as a field manager's scanner sends them.
 */
#include "config.h"

#include "pp-scan.h"

static void
test_scan_forms (void)
{
  struct { const char *in, *serial, *model; } ok[] = {
    { "ab12-3456", "AB12-3456", NULL },
    { "  SN:PAX00012345\r\n", "PAX00012345", NULL },
    { "S/N  V2X-0001", "V2X-0001", NULL },
    { "posprov:terminal?serial=NEW9%2D001&model=A920", "NEW9-001", "A920" },
  };

  for (guint i = 0; i < G_N_ELEMENTS (ok); i++)
    {
      g_autoptr(GError) error = NULL;
      g_autofree char *serial = NULL;
      g_autofree char *model = NULL;

      g_assert_true (pp_scan_parse (ok[i].in, &serial, &model, &error));
      g_assert_no_error (error);
      g_assert_cmpstr (serial, ==, ok[i].serial);
      g_assert_cmpstr (model, ==, ok[i].model);
    }
}

static void
test_scan_errors (void)
{
  struct { const char *in; int code; } bad[] = {
    { "   ", PP_SCAN_ERROR_EMPTY },
    { "SN:", PP_SCAN_ERROR_BAD_SERIAL },
    { "AB 12", PP_SCAN_ERROR_BAD_SERIAL },
    { "posprov:terminal?model=A920", PP_SCAN_ERROR_BAD_QR },
    { "posprov:terminal?serial=%ZZ", PP_SCAN_ERROR_BAD_QR },
  };

  for (guint i = 0; i < G_N_ELEMENTS (bad); i++)
    {
      g_autoptr(GError) error = NULL;
      g_autofree char *serial = NULL;

      g_assert_false (pp_scan_parse (bad[i].in, &serial, NULL, &error));
      g_assert_error (error, PP_SCAN_ERROR, bad[i].code);
      g_assert_null (serial);
    }
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/scan/forms", test_scan_forms);
  g_test_add_func ("/scan/errors", test_scan_errors);
  return g_test_run ();
}
