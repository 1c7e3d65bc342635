/* SPDX-License-Identifier: GPL-3.0-or-later
 *
 * test-pinblock.c: ISO 9564-1 PIN blocks (formats 0 and 4) and the
 * ISO/IEC 9797-1 algorithm 3 retail MAC against the public vectors in
 * tests/vectors/pin/.  Sources, as each case's "source"/"origin" says:
 *  - iso9564_format0.json: openemv/pinblock test/pinblock_format0_test.c
 *    (commit bb98d900, the ANSI X9.24-1:2009 A.4 block) and
 *    knovichikhin/psec tests/test_pinblock.py (commit 90ccbf3a).
 *  - iso9564_format4.json: openemv/pinblock test/pinblock_format4_test.c
 *    (ANSI X9.24-3:2017 supplement fields, hand made examples), the
 *    X9.24-3:2017 supplement PIN blocks via openemv/dukpt, psec unit tests
 *    and the ep2 EFT/POS 2000 Security Specification v8.0.0 8.4 example.
 *  - retail_mac_iso9797-1_alg3.json: ISO/IEC 9797-1:2011 Annex B.4 via
 *    openemv/crypto test/crypto_tdes2_retail_mac_test.c (commit b04aa34f)
 *    and knovichikhin/psec tests/test_mac.py.
 */
#include "config.h"

#include <string.h>

#include "pp-hex.h"
#include "pp-mac.h"
#include "pp-pinblock.h"
#include "pp-test-util.h"

static const char *
member (JsonObject *c,
        const char *name)
{
  g_assert_true (json_object_has_member (c, name));
  return json_object_get_string_member (c, name);
}

/* Decodes vector hex of an exact length. */
static void
unhex (const char *hex,
       guint8     *out,
       gsize       len)
{
  gsize n = 0;

  g_assert_true (pp_hex_validate (hex, &n, NULL));
  g_assert_cmpuint (n, ==, len);
  pp_hex_decode_into (hex, out, len);
}

static void
test_format0_vectors (void)
{
  g_autoptr(JsonParser) parser = NULL;
  JsonArray *cases = pp_test_vector_cases ("pin/iso9564_format0.json", &parser);
  guint n, encoded = 0, decoded = 0;


  n = json_array_get_length (cases);
  g_assert_cmpuint (n, >, 0);
  for (guint i = 0; i < n; i++)
    {
      JsonObject *c = json_array_get_object_element (cases, i);
      const char *op = member (c, "operation");
      const char *pin = member (c, "pin");
      const char *pan = member (c, "pan");
      const char *expected = member (c, "expected_pin_block");
      g_autoptr(GError) error = NULL;

      g_test_message ("%s", member (c, "id"));
      if (strstr (op, "encode") != NULL)
        {
          guint8 block[8];
          g_autofree char *hex = NULL;

          g_assert_true (pp_pin_block_format0_encode (pin, pan, block, &error));
          g_assert_no_error (error);
          hex = pp_hex_encode (block, sizeof block);
          g_assert_cmpstr (hex, ==, expected);
          encoded++;
        }
      if (strstr (op, "decode") != NULL)
        {
          guint8 block[8];
          char *got;

          unhex (expected, block, sizeof block);
          got = pp_pin_block_format0_decode (block, pan, &error);
          g_assert_no_error (error);
          g_assert_cmpstr (got, ==, pin);
          pp_hex_free_secret (got);
          decoded++;
        }
    }
  g_assert_cmpuint (encoded, >, 0);
  g_assert_cmpuint (decoded, >, 0);
}

static void
test_format4_vectors (void)
{
  g_autoptr(JsonParser) parser = NULL;
  JsonArray *cases = pp_test_vector_cases ("pin/iso9564_format4.json", &parser);
  guint n, enciphered = 0, deciphered = 0;


  n = json_array_get_length (cases);
  g_assert_cmpuint (n, >, 0);
  for (guint i = 0; i < n; i++)
    {
      JsonObject *c = json_array_get_object_element (cases, i);
      const char *op = member (c, "operation");
      g_autoptr(GError) error = NULL;
      guint8 field[16];

      g_test_message ("%s", member (c, "id"));

      if (json_object_has_member (c, "expected_pin_field_first8"))
        {
          g_autofree char *hex = NULL;

          g_assert_true (pp_pin_block_format4_encode_pin_field (member (c, "pin"), NULL,
                                                                field, &error));
          g_assert_no_error (error);
          hex = pp_hex_encode (field, 8);
          g_assert_cmpstr (hex, ==, member (c, "expected_pin_field_first8"));
        }

      if (json_object_has_member (c, "expected_pan_field"))
        {
          g_autofree char *hex = NULL;

          g_assert_true (pp_pin_block_format4_encode_pan_field (member (c, "pan"), field, &error));
          g_assert_no_error (error);
          hex = pp_hex_encode (field, 16);
          g_assert_cmpstr (hex, ==, member (c, "expected_pan_field"));
        }

      if (g_str_equal (op, "encipher"))
        {
          g_autoptr(PpSecureBuffer) key = pp_secure_buffer_new_from_hex (member (c, "key"), &error);
          guint8 pin_field[16], pan_field[16], block[16];
          g_autofree char *hex = NULL;
          char *back;

          g_assert_no_error (error);
          if (json_object_has_member (c, "pin_field"))
            {
              unhex (member (c, "pin_field"), pin_field, 16);
              /* The given field must be what our encoder makes for this
               * PIN with the same random half. */
              g_assert_true (pp_pin_block_format4_encode_pin_field (member (c, "pin"),
                                                                    pin_field + 8, field,
                                                                    &error));
              g_assert_no_error (error);
              g_assert_cmpmem (field, 16, pin_field, 16);
            }
          else
            {
              guint8 fill[8];

              unhex (member (c, "random_fill_8_bytes"), fill, 8);
              g_assert_true (pp_pin_block_format4_encode_pin_field (member (c, "pin"), fill,
                                                                    pin_field, &error));
              g_assert_no_error (error);
            }

          g_assert_true (pp_pin_block_format4_encode_pan_field (member (c, "pan"), pan_field,
                                                                &error));
          g_assert_no_error (error);
          if (json_object_has_member (c, "pan_field"))
            {
              guint8 given[16];

              unhex (member (c, "pan_field"), given, 16);
              g_assert_cmpmem (pan_field, 16, given, 16);
            }

          g_assert_true (pp_pin_block_format4_encipher (key, pin_field, pan_field, block, &error));
          g_assert_no_error (error);
          hex = pp_hex_encode (block, 16);
          g_assert_cmpstr (hex, ==, member (c, "expected_encrypted_pin_block"));

          /* And back again. */
          back = pp_pin_block_format4_decipher (key, block, member (c, "pan"), &error);
          g_assert_no_error (error);
          g_assert_cmpstr (back, ==, member (c, "pin"));
          pp_hex_free_secret (back);
          enciphered++;
        }
      else if (g_str_equal (op, "decipher"))
        {
          g_autoptr(PpSecureBuffer) key = pp_secure_buffer_new_from_hex (member (c, "key"), &error);
          guint8 block[16];
          char *pin;

          g_assert_no_error (error);
          unhex (member (c, "encrypted_pin_block"), block, 16);
          pin = pp_pin_block_format4_decipher (key, block, member (c, "pan"), &error);
          g_assert_no_error (error);
          g_assert_cmpstr (pin, ==, member (c, "expected_pin"));
          pp_hex_free_secret (pin);
          deciphered++;
        }
    }
  g_assert_cmpuint (enciphered, >, 0);
  g_assert_cmpuint (deciphered, >, 0);
}

static void
test_format4_random_fill (void)
{
  g_autoptr(GError) error = NULL;
  guint8 a[16], b[16];
  char *pin;

  /* Two encodings of the same PIN differ in the random half only. */
  g_assert_true (pp_pin_block_format4_encode_pin_field ("1234", NULL, a, &error));
  g_assert_true (pp_pin_block_format4_encode_pin_field ("1234", NULL, b, &error));
  g_assert_no_error (error);
  g_assert_cmpmem (a, 8, b, 8);
  g_assert_true (memcmp (a + 8, b + 8, 8) != 0);

  pin = pp_pin_block_format4_decode_pin_field (a, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (pin, ==, "1234");
  pp_hex_free_secret (pin);
}

static void
test_pinblock_errors (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(PpSecureBuffer) k15 = pp_secure_buffer_new (15);
  g_autoptr(PpSecureBuffer) k16 = pp_secure_buffer_new (16);
  guint8 block[16], field[16];
  static const char * const bad_pins[] = { "123", "1234567890123", "12a4", "" };
  static const char * const bad_pans[] = { "", "12345678901234567890", "4012x45678909" };

  for (guint i = 0; i < G_N_ELEMENTS (bad_pins); i++)
    {
      g_assert_false (pp_pin_block_format0_encode (bad_pins[i], "4012345678909", block, &error));
      g_assert_error (error, PP_PIN_BLOCK_ERROR, PP_PIN_BLOCK_ERROR_PIN_INVALID);
      g_clear_error (&error);
      g_assert_false (pp_pin_block_format4_encode_pin_field (bad_pins[i], NULL, block, &error));
      g_assert_error (error, PP_PIN_BLOCK_ERROR, PP_PIN_BLOCK_ERROR_PIN_INVALID);
      g_clear_error (&error);
    }
  for (guint i = 0; i < G_N_ELEMENTS (bad_pans); i++)
    {
      g_assert_false (pp_pin_block_format0_encode ("1234", bad_pans[i], block, &error));
      g_assert_error (error, PP_PIN_BLOCK_ERROR, PP_PIN_BLOCK_ERROR_PAN_INVALID);
      g_clear_error (&error);
      g_assert_false (pp_pin_block_format4_encode_pan_field (bad_pans[i], block, &error));
      g_assert_error (error, PP_PIN_BLOCK_ERROR, PP_PIN_BLOCK_ERROR_PAN_INVALID);
      g_clear_error (&error);
    }

  /* X9.24-1 A.4 block decoded with the wrong PAN: the fill is wrong. */
  unhex ("041274EDCBA9876F", block, 8);
  g_assert_null (pp_pin_block_format0_decode (block, "5555555551234567", &error));
  g_assert_error (error, PP_PIN_BLOCK_ERROR, PP_PIN_BLOCK_ERROR_FILL);
  g_clear_error (&error);
  /* A format 4 field is not a format 0 block. */
  unhex ("441234AAAAAAAAAA", block, 8);
  g_assert_null (pp_pin_block_format0_decode (block, "1", &error));
  g_assert_error (error, PP_PIN_BLOCK_ERROR, PP_PIN_BLOCK_ERROR_FORMAT);
  g_clear_error (&error);
  /* Length nibble 3 and D. */
  unhex ("03123FFFFFFFFFFF", block, 8);
  g_assert_null (pp_pin_block_format0_decode (block, "1", &error));
  g_assert_error (error, PP_PIN_BLOCK_ERROR, PP_PIN_BLOCK_ERROR_PIN_LENGTH_FIELD);
  g_clear_error (&error);
  unhex ("4D1234567890123AAAAAAAAAAAAAAAAA", field, 16);
  g_assert_null (pp_pin_block_format4_decode_pin_field (field, &error));
  g_assert_error (error, PP_PIN_BLOCK_ERROR, PP_PIN_BLOCK_ERROR_PIN_LENGTH_FIELD);
  g_clear_error (&error);
  unhex ("441234AAAAAAAAAB0000000000000000", field, 16);
  g_assert_null (pp_pin_block_format4_decode_pin_field (field, &error));
  g_assert_error (error, PP_PIN_BLOCK_ERROR, PP_PIN_BLOCK_ERROR_FILL);
  g_clear_error (&error);

  g_assert_false (pp_pin_block_format4_encipher (k15, field, field, block, &error));
  g_assert_error (error, PP_PIN_BLOCK_ERROR, PP_PIN_BLOCK_ERROR_KEY_LENGTH);
  g_clear_error (&error);
  /* A block deciphered under the wrong key does not parse as format 4. */
  unhex ("A912150391AB65A67E52883D81CE2D15", block, 16);
  g_assert_null (pp_pin_block_format4_decipher (k16, block, "4111111111111111", &error));
  g_assert_nonnull (error);
  g_assert_true (error->domain == PP_PIN_BLOCK_ERROR);
  g_assert_true (error->code == PP_PIN_BLOCK_ERROR_FORMAT ||
                 error->code == PP_PIN_BLOCK_ERROR_PIN_LENGTH_FIELD ||
                 error->code == PP_PIN_BLOCK_ERROR_FILL);
}

static void
test_retail_mac_vectors (void)
{
  g_autoptr(JsonParser) parser = NULL;
  JsonArray *cases = pp_test_vector_cases ("pin/retail_mac_iso9797-1_alg3.json", &parser);
  guint n;


  n = json_array_get_length (cases);
  g_assert_cmpuint (n, >, 0);
  for (guint i = 0; i < n; i++)
    {
      JsonObject *c = json_array_get_object_element (cases, i);
      g_autoptr(GError) error = NULL;
      g_autoptr(PpSecureBuffer) key = pp_secure_buffer_new_from_hex (member (c, "key"), &error);
      g_autoptr(GBytes) data = pp_hex_decode (member (c, "data_hex"), &error);
      const char *expected = member (c, "expected_mac");
      gsize mac_len = strlen (expected) / 2;
      PpMacPadding padding = json_object_get_int_member (c, "padding_method");
      guint8 mac[8], given[8];
      g_autofree char *hex = NULL;
      gsize dlen;
      const guint8 *d;

      g_test_message ("%s", member (c, "id"));
      g_assert_no_error (error);
      d = g_bytes_get_data (data, &dlen);
      g_assert_true (pp_mac_retail_compute (key, d, dlen, padding, mac, &error));
      g_assert_no_error (error);
      hex = pp_hex_encode (mac, mac_len);
      g_assert_cmpstr (hex, ==, expected);

      unhex (expected, given, mac_len);
      g_assert_true (pp_mac_retail_verify (key, d, dlen, padding, given, mac_len, &error));
      g_assert_no_error (error);
      given[mac_len - 1] ^= 0x01;
      g_assert_false (pp_mac_retail_verify (key, d, dlen, padding, given, mac_len, &error));
      g_assert_error (error, PP_MAC_ERROR, PP_MAC_ERROR_MISMATCH);
    }
}

static void
test_retail_mac_errors (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(PpSecureBuffer) k24 = pp_secure_buffer_new (24);
  g_autoptr(PpSecureBuffer) k16 = pp_secure_buffer_new (16);
  static const guint8 data[3] = { 1, 2, 3 };
  guint8 mac[8] = { 0 };

  g_assert_false (pp_mac_retail_compute (k24, data, 3, PP_MAC_PADDING_METHOD_1, mac, &error));
  g_assert_error (error, PP_MAC_ERROR, PP_MAC_ERROR_KEY_LENGTH);
  g_clear_error (&error);
  g_assert_false (pp_mac_retail_compute (k16, data, 3, 4, mac, &error));
  g_assert_error (error, PP_MAC_ERROR, PP_MAC_ERROR_PADDING);
  g_clear_error (&error);
  g_assert_false (pp_mac_retail_verify (k16, data, 3, PP_MAC_PADDING_METHOD_1, mac, 3, &error));
  g_assert_error (error, PP_MAC_ERROR, PP_MAC_ERROR_MAC_LENGTH);
  g_clear_error (&error);
  /* Empty input is one zero block under padding 1. */
  g_assert_true (pp_mac_retail_compute (k16, NULL, 0, PP_MAC_PADDING_METHOD_1, mac, &error));
  g_assert_no_error (error);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/pinblock/format0/vectors", test_format0_vectors);
  g_test_add_func ("/pinblock/format4/vectors", test_format4_vectors);
  g_test_add_func ("/pinblock/format4/random-fill", test_format4_random_fill);
  g_test_add_func ("/pinblock/errors", test_pinblock_errors);
  g_test_add_func ("/mac/retail/vectors", test_retail_mac_vectors);
  g_test_add_func ("/mac/retail/errors", test_retail_mac_errors);
  return g_test_run ();
}
