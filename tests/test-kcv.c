/* SPDX-License-Identifier: GPL-3.0-or-later
 *
 * test-kcv.c: key check values against the public vectors in
 * tests/vectors/kcv/kcv_vectors.json (sources: openemv/tr31 decrypt
 * tests, ANSI X9.143 KP optional blocks, chhil/TR31Keyblock; each case
 * names its own origin).
 */
#include "config.h"

#include "pp-kcv.h"
#include "pp-test-util.h"

static void
test_kcv_vectors (void)
{
  g_autoptr(JsonParser) parser = NULL;
  JsonArray *cases = pp_test_vector_cases ("kcv/kcv_vectors.json", &parser);
  guint n;


  n = json_array_get_length (cases);
  g_assert_cmpuint (n, >, 0);
  for (guint i = 0; i < n; i++)
    {
      JsonObject *c = json_array_get_object_element (cases, i);
      const char *method = json_object_get_string_member (c, "method");
      PpKeyAlgorithm alg = g_str_equal (method, "AES_CMAC_ZERO") ? PP_KEY_ALGORITHM_AES
                                                                 : PP_KEY_ALGORITHM_TDES;
      g_autoptr(GError) error = NULL;
      g_autoptr(PpSecureBuffer) key =
        pp_secure_buffer_new_from_hex (json_object_get_string_member (c, "key"), &error);
      g_autofree char *kcv = NULL;

      g_assert_no_error (error);
      kcv = pp_kcv_compute (alg, key, json_object_get_int_member (c, "kcv_length"), &error);
      g_assert_no_error (error);
      g_test_message ("%s", json_object_get_string_member (c, "id"));
      g_assert_cmpstr (kcv, ==, json_object_get_string_member (c, "expected_kcv"));
    }
}

static void
test_kcv_errors (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(PpSecureBuffer) k15 = pp_secure_buffer_new (15);
  g_autoptr(PpSecureBuffer) k16 = pp_secure_buffer_new (16);

  g_assert_null (pp_kcv_compute (PP_KEY_ALGORITHM_TDES, k15, 3, &error));
  g_assert_error (error, PP_KCV_ERROR, PP_KCV_ERROR_KEY_LENGTH);
  g_clear_error (&error);
  g_assert_null (pp_kcv_compute (PP_KEY_ALGORITHM_AES, k15, 5, &error));
  g_assert_error (error, PP_KCV_ERROR, PP_KCV_ERROR_KEY_LENGTH);
  g_clear_error (&error);
  g_assert_null (pp_kcv_compute (PP_KEY_ALGORITHM_AES, k16, 1, &error));
  g_assert_error (error, PP_KCV_ERROR, PP_KCV_ERROR_KCV_LENGTH);
  g_clear_error (&error);
  g_assert_null (pp_kcv_compute (PP_KEY_ALGORITHM_TDES, k16, 9, &error));
  g_assert_error (error, PP_KCV_ERROR, PP_KCV_ERROR_KCV_LENGTH);
}

static void
test_kcv_equal (void)
{
  g_assert_true (pp_kcv_equal ("5c9405", "5C9405"));
  g_assert_false (pp_kcv_equal ("5C9405", "5C9406"));
  g_assert_false (pp_kcv_equal ("5C9405", "5C94"));
  g_assert_false (pp_kcv_equal ("", ""));
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/kcv/vectors", test_kcv_vectors);
  g_test_add_func ("/kcv/errors", test_kcv_errors);
  g_test_add_func ("/kcv/equal", test_kcv_equal);
  return g_test_run ();
}
