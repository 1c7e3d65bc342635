/* SPDX-License-Identifier: GPL-3.0-or-later
 *
 * test-hex.c: hex parsing and secure buffers.
 */
#include "config.h"

#include <string.h>

#include "pp-hex.h"
#include "pp-secure-buffer.h"

static void
test_hex_round_trip (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GBytes) bytes = pp_hex_decode ("00aBcDeF19", &error);
  g_autofree char *hex = NULL;

  g_assert_no_error (error);
  g_assert_cmpuint (g_bytes_get_size (bytes), ==, 5);
  hex = pp_hex_encode (g_bytes_get_data (bytes, NULL), 5);
  g_assert_cmpstr (hex, ==, "00ABCDEF19");
}

static void
test_hex_errors (void)
{
  g_autoptr(GError) error = NULL;

  g_assert_null (pp_hex_decode ("ABC", &error));
  g_assert_error (error, PP_HEX_ERROR, PP_HEX_ERROR_ODD_LENGTH);
  g_clear_error (&error);

  g_assert_null (pp_hex_decode ("AB G0", &error));
  g_assert_error (error, PP_HEX_ERROR, PP_HEX_ERROR_INVALID_CHARACTER);
  g_assert_nonnull (strstr (error->message, "position 3"));
  g_clear_error (&error);

  g_assert_null (pp_hex_decode ("", &error));
  g_assert_error (error, PP_HEX_ERROR, PP_HEX_ERROR_EMPTY);
}

static void
test_secure_buffer (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(PpSecureBuffer) a = pp_secure_buffer_new_from_hex ("0123456789abcdef", &error);
  g_autoptr(PpSecureBuffer) b = NULL;
  g_autoptr(PpSecureBuffer) c = NULL;

  g_assert_no_error (error);
  g_assert_cmpuint (pp_secure_buffer_get_len (a), ==, 8);
  b = pp_secure_buffer_dup (a);
  g_assert_true (pp_secure_buffer_equal (a, b));
  pp_secure_buffer_get_data (b)[7] ^= 1;
  g_assert_false (pp_secure_buffer_equal (a, b));
  pp_secure_buffer_truncate (b, 4);
  g_assert_cmpuint (pp_secure_buffer_get_len (b), ==, 4);
  g_assert_false (pp_secure_buffer_equal (a, b));

  c = pp_secure_buffer_new_from_hex ("01X3", &error);
  g_assert_null (c);
  g_assert_error (error, PP_HEX_ERROR, PP_HEX_ERROR_INVALID_CHARACTER);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/hex/round-trip", test_hex_round_trip);
  g_test_add_func ("/hex/errors", test_hex_errors);
  g_test_add_func ("/secure-buffer/basics", test_secure_buffer);
  return g_test_run ();
}
