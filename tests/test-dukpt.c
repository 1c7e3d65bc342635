/* SPDX-License-Identifier: GPL-3.0-or-later
 *
 * test-dukpt.c: TDES and AES DUKPT against every case of the public vectors
 * in tests/vectors/dukpt/:
 *  - tdes_dukpt_x9.24-1-2009.json: ANSI X9.24-1:2009 Annex A.4 "DUKPT Test
 *    Data Examples" as asserted by openemv/dukpt test/dukpt_tdes_test.c
 *    (commit 1d01ddaf): IPEK, transaction keys, encrypted PIN blocks,
 *    request/response retail MACs and encrypted request data.
 *  - tdes_dukpt_variant_keys_secondary.json: the DUKPT2000 verify table of
 *    marianovolker/jmps-public C++/Spotcheck/.../GVRlib/dukpt2.py (commit
 *    b2ca4a69): PIN and MAC request variant keys, encrypted PIN blocks.
 *  - aes_dukpt_x9.24-3-2017_aes128_bdk.json and ..._aes256_bdk.json: ANSI
 *    X9.24-3:2017 supplement test vectors as asserted by openemv/dukpt
 *    test/dukpt_aes128_test.c, dukpt_aes256_test.c and the *_update_key_test.c
 *    files (commit 1d01ddaf): initial keys, transaction keys, PIN / MAC
 *    generation / data encryption working keys, format 4 PIN blocks and
 *    update keys.
 * Keys are compared without ever printing them.
 */
#include "config.h"

#include <string.h>

#include "pp-block-cipher.h"
#include "pp-dukpt.h"
#include "pp-hex.h"
#include "pp-mac.h"
#include "pp-pinblock.h"
#include "pp-test-util.h"

static const char *
member (JsonObject *o,
        const char *name)
{
  g_assert_true (json_object_has_member (o, name));
  return json_object_get_string_member (o, name);
}

static JsonObject *
root_object (JsonParser *parser)
{
  return json_node_get_object (json_parser_get_root (parser));
}

static GBytes *
unhex (const char *hex)
{
  g_autoptr(GError) error = NULL;
  GBytes *b = pp_hex_decode (hex, &error);

  g_assert_no_error (error);
  return b;
}

static PpSecureBuffer *
key_from_hex (const char *hex)
{
  g_autoptr(GError) error = NULL;
  PpSecureBuffer *key = pp_secure_buffer_new_from_hex (hex, &error);

  g_assert_no_error (error);
  return key;
}

/* Fails without putting either key in the test output. */
static void
assert_key (const PpSecureBuffer *key,
            const char           *expected_hex,
            const char           *case_id,
            const char           *what)
{
  g_autoptr(PpSecureBuffer) expected = key_from_hex (expected_hex);

  g_assert_nonnull (key);
  if (!pp_secure_buffer_equal (key, expected))
    {
      g_test_message ("%s: %s differs from the published value", case_id, what);
      g_assert_not_reached ();
    }
}

/* TDES DUKPT */

static void
test_tdes_ipek (void)
{
  g_autoptr(JsonParser) parser = NULL;
  JsonArray *cases = pp_test_vector_cases ("dukpt/tdes_dukpt_x9.24-1-2009.json", &parser);
  g_autoptr(PpSecureBuffer) bdk = NULL;
  g_autoptr(GBytes) iksn = NULL;
  g_autoptr(PpSecureBuffer) ipek = NULL;
  g_autoptr(GError) error = NULL;
  JsonObject *common;


  common = json_object_get_object_member (root_object (parser), "common");
  bdk = key_from_hex (member (common, "bdk"));
  iksn = unhex (member (common, "initial_ksn"));
  ipek = pp_dukpt_tdes_derive_ipek (bdk, g_bytes_get_data (iksn, NULL),
                                    g_bytes_get_size (iksn), &error);
  g_assert_no_error (error);
  assert_key (ipek, member (common, "expected_ipek"), "A.4", "IPEK");

  /* Any KSN of the device gives the same IPEK: the counter is masked. */
  for (guint i = 0; i < json_array_get_length (cases); i++)
    {
      JsonObject *c = json_array_get_object_element (cases, i);
      g_autoptr(GBytes) ksn = unhex (member (c, "ksn"));
      g_autoptr(PpSecureBuffer) again =
        pp_dukpt_tdes_derive_ipek (bdk, g_bytes_get_data (ksn, NULL), g_bytes_get_size (ksn),
                                   &error);

      g_assert_no_error (error);
      assert_key (again, member (common, "expected_ipek"), member (c, "id"), "IPEK");
    }
}

static void
test_tdes_transactions (void)
{
  g_autoptr(JsonParser) parser = NULL;
  JsonArray *cases = pp_test_vector_cases ("dukpt/tdes_dukpt_x9.24-1-2009.json", &parser);
  g_autoptr(PpSecureBuffer) bdk = NULL;
  g_autoptr(PpSecureBuffer) ipek = NULL;
  g_autoptr(GBytes) iksn = NULL;
  g_autoptr(GBytes) input = NULL;
  g_autoptr(GError) error = NULL;
  guint8 clear_block[8], given_block[8];
  guint8 padded[24] = { 0 };
  JsonObject *common;
  guint macs = 0, datas = 0;


  common = json_object_get_object_member (root_object (parser), "common");
  bdk = key_from_hex (member (common, "bdk"));
  iksn = unhex (member (common, "initial_ksn"));
  ipek = pp_dukpt_tdes_derive_ipek (bdk, g_bytes_get_data (iksn, NULL), g_bytes_get_size (iksn),
                                    &error);
  g_assert_no_error (error);

  /* The clear PIN block of A.4 is ISO format 0 of the PIN and PAN. */
  g_assert_true (pp_pin_block_format0_encode (member (common, "pin"), member (common, "pan"),
                                              clear_block, &error));
  g_assert_no_error (error);
  pp_hex_decode_into (member (common, "clear_pin_block_iso0"), given_block, 8);
  g_assert_cmpmem (clear_block, 8, given_block, 8);

  /* The MAC and data input is the ASCII text "4012345678909D987". */
  input = unhex (member (common, "mac_and_data_input_hex"));
  g_assert_cmpuint (g_bytes_get_size (input), ==, strlen (member (common, "mac_and_data_input_ascii")));
  g_assert_cmpmem (g_bytes_get_data (input, NULL), g_bytes_get_size (input),
                   member (common, "mac_and_data_input_ascii"), g_bytes_get_size (input));
  g_assert_cmpuint (g_bytes_get_size (input), <=, sizeof padded);
  memcpy (padded, g_bytes_get_data (input, NULL), g_bytes_get_size (input));

  g_assert_cmpuint (json_array_get_length (cases), ==, 34);
  for (guint i = 0; i < json_array_get_length (cases); i++)
    {
      JsonObject *c = json_array_get_object_element (cases, i);
      const char *id = member (c, "id");
      g_autoptr(GBytes) ksn = unhex (member (c, "ksn"));
      g_autoptr(PpSecureBuffer) tk = NULL;
      g_autoptr(PpSecureBuffer) pin_key = NULL;
      guint8 epb[8];
      g_autofree char *epb_hex = NULL;

      g_test_message ("%s", id);
      tk = pp_dukpt_tdes_derive_transaction_key (ipek, g_bytes_get_data (ksn, NULL),
                                                 g_bytes_get_size (ksn), &error);
      g_assert_no_error (error);
      assert_key (tk, member (c, "transaction_key"), id, "transaction key");

      pin_key = pp_dukpt_tdes_derive_working_key (tk, PP_DUKPT_TDES_USAGE_PIN, &error);
      g_assert_no_error (error);
      g_assert_true (pp_block_cipher_tdes_ecb (pp_secure_buffer_peek (pin_key), 16, TRUE,
                                               clear_block, epb, 8));
      epb_hex = pp_hex_encode (epb, 8);
      g_assert_cmpstr (epb_hex, ==, member (c, "encrypted_pin_block"));

      if (json_object_has_member (c, "request_mac"))
        {
          static const struct { const char *field; PpDukptTdesUsage usage; } macs_of[] = {
            { "request_mac", PP_DUKPT_TDES_USAGE_MAC_REQUEST },
            { "response_mac", PP_DUKPT_TDES_USAGE_MAC_RESPONSE },
          };

          for (guint m = 0; m < G_N_ELEMENTS (macs_of); m++)
            {
              g_autoptr(PpSecureBuffer) mac_key = NULL;
              guint8 mac[8];
              g_autofree char *mac_hex = NULL;

              if (!json_object_has_member (c, macs_of[m].field))
                continue;
              mac_key = pp_dukpt_tdes_derive_working_key (tk, macs_of[m].usage, &error);
              g_assert_no_error (error);
              g_assert_true (pp_mac_retail_compute (mac_key, g_bytes_get_data (input, NULL),
                                                    g_bytes_get_size (input),
                                                    PP_MAC_PADDING_METHOD_1, mac, &error));
              g_assert_no_error (error);
              mac_hex = pp_hex_encode (mac, 4);
              g_assert_cmpstr (mac_hex, ==, member (c, macs_of[m].field));
              macs++;
            }
        }

      if (json_object_has_member (c, "encrypted_request_data"))
        {
          g_autoptr(PpSecureBuffer) data_key =
            pp_dukpt_tdes_derive_working_key (tk, PP_DUKPT_TDES_USAGE_DATA_REQUEST, &error);
          guint8 ct[24];
          g_autofree char *ct_hex = NULL;

          g_assert_no_error (error);
          g_assert_true (pp_block_cipher_tdes_cbc (pp_secure_buffer_peek (data_key), 16, TRUE,
                                                   NULL, padded, ct, sizeof padded));
          ct_hex = pp_hex_encode (ct, sizeof ct);
          g_assert_cmpstr (ct_hex, ==, member (c, "encrypted_request_data"));
          datas++;
        }
    }

  g_assert_cmpuint (macs, ==, 2 * 34);
  g_assert_cmpuint (datas, ==, 34);
}

static void
test_tdes_variant_keys (void)
{
  g_autoptr(JsonParser) parser = NULL;
  JsonArray *cases = pp_test_vector_cases ("dukpt/tdes_dukpt_variant_keys_secondary.json",
                                           &parser);
  g_autoptr(PpSecureBuffer) ipek = NULL;
  g_autoptr(GError) error = NULL;
  guint8 clear_block[8];
  JsonObject *common;


  common = json_object_get_object_member (root_object (parser), "common");
  ipek = key_from_hex (member (common, "ipek"));
  g_assert_true (pp_pin_block_format0_encode (member (common, "pin"), member (common, "pan"),
                                              clear_block, &error));
  g_assert_no_error (error);

  g_assert_cmpuint (json_array_get_length (cases), ==, 38);
  for (guint i = 0; i < json_array_get_length (cases); i++)
    {
      JsonObject *c = json_array_get_object_element (cases, i);
      const char *id = member (c, "id");
      g_autoptr(GBytes) ksn = unhex (member (c, "ksn"));
      g_autoptr(PpSecureBuffer) tk = NULL;
      g_autoptr(PpSecureBuffer) pin_key = NULL;
      g_autoptr(PpSecureBuffer) mac_key = NULL;
      guint8 epb[8];
      g_autofree char *epb_hex = NULL;

      tk = pp_dukpt_tdes_derive_transaction_key (ipek, g_bytes_get_data (ksn, NULL),
                                                 g_bytes_get_size (ksn), &error);
      g_assert_no_error (error);
      pin_key = pp_dukpt_tdes_derive_working_key (tk, PP_DUKPT_TDES_USAGE_PIN, &error);
      g_assert_no_error (error);
      assert_key (pin_key, member (c, "pin_key"), id, "PIN key");
      mac_key = pp_dukpt_tdes_derive_working_key (tk, PP_DUKPT_TDES_USAGE_MAC_REQUEST, &error);
      g_assert_no_error (error);
      assert_key (mac_key, member (c, "mac_request_key"), id, "MAC request key");

      g_assert_true (pp_block_cipher_tdes_ecb (pp_secure_buffer_peek (pin_key), 16, TRUE,
                                               clear_block, epb, 8));
      epb_hex = pp_hex_encode (epb, 8);
      g_assert_cmpstr (epb_hex, ==, member (c, "encrypted_pin_block"));
    }
}

static void
test_tdes_errors (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(PpSecureBuffer) bdk = key_from_hex ("0123456789ABCDEFFEDCBA9876543210");
  g_autoptr(PpSecureBuffer) bdk24 = pp_secure_buffer_new (24);
  g_autoptr(PpSecureBuffer) ipek = key_from_hex ("6AC292FAA1315B4D858AB3A3D7D5933A");
  g_autoptr(PpSecureBuffer) short_key = pp_secure_buffer_new (8);
  guint8 ksn[10];

  pp_hex_decode_into ("FFFF9876543210E00001", ksn, 10);

  g_assert_null (pp_dukpt_tdes_derive_ipek (bdk24, ksn, 10, &error));
  g_assert_error (error, PP_DUKPT_ERROR, PP_DUKPT_ERROR_BDK_LENGTH);
  g_clear_error (&error);
  g_assert_null (pp_dukpt_tdes_derive_ipek (bdk, ksn, 8, &error));
  g_assert_error (error, PP_DUKPT_ERROR, PP_DUKPT_ERROR_KSN_LENGTH);
  g_clear_error (&error);
  g_assert_null (pp_dukpt_tdes_derive_transaction_key (ipek, ksn, 12, &error));
  g_assert_error (error, PP_DUKPT_ERROR, PP_DUKPT_ERROR_KSN_LENGTH);
  g_clear_error (&error);
  g_assert_null (pp_dukpt_tdes_derive_transaction_key (short_key, ksn, 10, &error));
  g_assert_error (error, PP_DUKPT_ERROR, PP_DUKPT_ERROR_KEY_LENGTH);
  g_clear_error (&error);
  g_assert_null (pp_dukpt_tdes_derive_working_key (short_key, PP_DUKPT_TDES_USAGE_PIN, &error));
  g_assert_error (error, PP_DUKPT_ERROR, PP_DUKPT_ERROR_KEY_LENGTH);
  g_clear_error (&error);
  g_assert_null (pp_dukpt_tdes_derive_working_key (ipek, 99, &error));
  g_assert_error (error, PP_DUKPT_ERROR, PP_DUKPT_ERROR_UNSUPPORTED_USAGE);
  g_clear_error (&error);

  /* Counter zero: the initial KSN has no transaction key. */
  pp_hex_decode_into ("FFFF9876543210E00000", ksn, 10);
  g_assert_null (pp_dukpt_tdes_derive_transaction_key (ipek, ksn, 10, &error));
  g_assert_error (error, PP_DUKPT_ERROR, PP_DUKPT_ERROR_COUNTER_ZERO);
  g_clear_error (&error);

  /* 0x0007FF: 11 one bits, one too many.  0x0003FF (10 bits) is valid. */
  pp_hex_decode_into ("FFFF9876543210E007FF", ksn, 10);
  g_assert_null (pp_dukpt_tdes_derive_transaction_key (ipek, ksn, 10, &error));
  g_assert_error (error, PP_DUKPT_ERROR, PP_DUKPT_ERROR_COUNTER_TOO_MANY_BITS);
  g_clear_error (&error);
  pp_hex_decode_into ("FFFF9876543210E003FF", ksn, 10);
  {
    g_autoptr(PpSecureBuffer) tk = pp_dukpt_tdes_derive_transaction_key (ipek, ksn, 10, &error);
    g_assert_no_error (error);
    g_assert_nonnull (tk);
  }
  /* The 21-bit counter is all of 1FFFFF: 21 bits. */
  pp_hex_decode_into ("FFFF9876543210FFFFFF", ksn, 10);
  g_assert_null (pp_dukpt_tdes_derive_transaction_key (ipek, ksn, 10, &error));
  g_assert_error (error, PP_DUKPT_ERROR, PP_DUKPT_ERROR_COUNTER_TOO_MANY_BITS);
}

/* AES DUKPT */

typedef struct {
  const char *prefix;
  PpDukptAesUsage usage;
} WorkingField;

static const WorkingField working_fields[] = {
  { "pin_key_",      PP_DUKPT_AES_USAGE_PIN_ENCRYPTION },
  { "mac_gen_key_",  PP_DUKPT_AES_USAGE_MAC_GENERATION },
  { "data_enc_key_", PP_DUKPT_AES_USAGE_DATA_ENCRYPT },
};

static void
test_aes_file (gconstpointer data)
{
  const char *file = data;
  g_autoptr(JsonParser) parser = NULL;
  JsonArray *cases = pp_test_vector_cases (file, &parser);
  g_autoptr(PpSecureBuffer) bdk = NULL;
  g_autoptr(PpSecureBuffer) ik = NULL;
  g_autoptr(GBytes) ikid = NULL;
  g_autoptr(GError) error = NULL;
  guint8 pin_field[16], pan_field[16];
  PpDukptKeyType bdk_type;
  JsonObject *root, *common;
  guint working = 0, pin_blocks = 0;


  root = root_object (parser);
  common = json_object_get_object_member (root, "common");
  bdk = key_from_hex (member (common, "bdk"));
  g_assert_true (pp_dukpt_key_type_for_aes_length (pp_secure_buffer_get_len (bdk), &bdk_type));
  ikid = unhex (member (common, "initial_key_id"));
  ik = pp_dukpt_aes_derive_initial_key (bdk, g_bytes_get_data (ikid, NULL),
                                        g_bytes_get_size (ikid), bdk_type, &error);
  g_assert_no_error (error);
  assert_key (ik, member (common, "expected_initial_key"), file, "initial key");

  /* The PIN and PAN fields of the supplement's format 4 PIN blocks. */
  pp_hex_decode_into (member (common, "pin_field_format4"), pin_field, 16);
  g_assert_true (pp_pin_block_format4_encode_pan_field (member (common, "pan"), pan_field, &error));
  g_assert_no_error (error);
  {
    guint8 given[16];
    pp_hex_decode_into (member (common, "pan_field_format4"), given, 16);
    g_assert_cmpmem (pan_field, 16, given, 16);
  }

  g_assert_cmpuint (json_array_get_length (cases), ==, 15);
  for (guint i = 0; i < json_array_get_length (cases); i++)
    {
      JsonObject *c = json_array_get_object_element (cases, i);
      const char *id = member (c, "id");
      g_autoptr(GBytes) ksn = unhex (member (c, "ksn"));
      g_autoptr(PpSecureBuffer) tk = NULL;
      g_autoptr(GList) names = json_object_get_members (c);

      g_test_message ("%s %s", file, id);
      tk = pp_dukpt_aes_derive_transaction_key (ik, g_bytes_get_data (ksn, NULL),
                                                g_bytes_get_size (ksn), &error);
      g_assert_no_error (error);
      assert_key (tk, member (c, "transaction_key"), id, "transaction key");

      for (GList *l = names; l != NULL; l = l->next)
        {
          const char *name = l->data;

          for (guint f = 0; f < G_N_ELEMENTS (working_fields); f++)
            {
              g_autoptr(PpSecureBuffer) wk = NULL;
              PpDukptKeyType type;

              if (!g_str_has_prefix (name, working_fields[f].prefix))
                continue;
              g_assert_true (pp_dukpt_key_type_from_string (name + strlen (working_fields[f].prefix),
                                                            &type));
              wk = pp_dukpt_aes_derive_working_key (tk, g_bytes_get_data (ksn, NULL),
                                                    g_bytes_get_size (ksn),
                                                    working_fields[f].usage, type, &error);
              g_assert_no_error (error);
              assert_key (wk, member (c, name), id, name);
              working++;

              if (working_fields[f].usage == PP_DUKPT_AES_USAGE_PIN_ENCRYPTION &&
                  json_object_has_member (c, "encrypted_pin_block_format4") &&
                  type == bdk_type)
                {
                  guint8 block[16];
                  g_autofree char *hex = NULL;

                  g_assert_true (pp_pin_block_format4_encipher (wk, pin_field, pan_field, block,
                                                                &error));
                  g_assert_no_error (error);
                  hex = pp_hex_encode (block, 16);
                  g_assert_cmpstr (hex, ==, member (c, "encrypted_pin_block_format4"));
                  pin_blocks++;
                }
            }
        }
    }
  g_assert_cmpuint (working, >=, 8 * 3);
  if (bdk_type == PP_DUKPT_KEY_TYPE_AES128)
    g_assert_cmpuint (pin_blocks, ==, 8);

  /* The supplement lists a key for counter 1FFFF, which has 17 one bits; the
   * standard's devices never use it and neither do we. */
  if (json_object_has_member (root, "cases_disabled_in_source"))
    {
      JsonArray *disabled = json_object_get_array_member (root, "cases_disabled_in_source");

      for (guint i = 0; i < json_array_get_length (disabled); i++)
        {
          JsonObject *c = json_array_get_object_element (disabled, i);
          g_autoptr(GBytes) ksn = unhex (member (c, "ksn"));

          g_assert_null (pp_dukpt_aes_derive_transaction_key (ik, g_bytes_get_data (ksn, NULL),
                                                              g_bytes_get_size (ksn), &error));
          g_assert_error (error, PP_DUKPT_ERROR, PP_DUKPT_ERROR_COUNTER_TOO_MANY_BITS);
          g_clear_error (&error);
        }
    }

  /* Update keys (X9.24-3 6.5.3); the source disables its TDES ones. */
  if (json_object_has_member (root, "update_keys"))
    {
      JsonObject *updates = json_object_get_object_member (root, "update_keys");
      g_autoptr(GList) names = json_object_get_members (updates);
      guint n = 0;

      for (GList *l = names; l != NULL; l = l->next)
        {
          const char *name = l->data;
          g_autoptr(PpSecureBuffer) uk = NULL;
          PpDukptKeyType type;

          if (!g_str_has_prefix (name, "update_key_"))
            continue;
          g_assert_true (pp_dukpt_key_type_from_string (name + strlen ("update_key_"), &type));
          uk = pp_dukpt_aes_derive_update_key (ik, g_bytes_get_data (ikid, NULL),
                                               g_bytes_get_size (ikid), type, &error);
          g_assert_no_error (error);
          assert_key (uk, member (updates, name), file, name);
          n++;
        }
      g_assert_cmpuint (n, >, 0);
    }
}

static void
test_aes_errors (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(PpSecureBuffer) bdk128 = key_from_hex ("FEDCBA9876543210F1F1F1F1F1F1F1F1");
  g_autoptr(PpSecureBuffer) bdk20 = pp_secure_buffer_new (20);
  g_autoptr(PpSecureBuffer) ik = NULL;
  g_autoptr(PpSecureBuffer) tk = NULL;
  guint8 ikid[8], ksn[12];

  pp_hex_decode_into ("1234567890123456", ikid, 8);
  pp_hex_decode_into ("123456789012345600000001", ksn, 12);

  g_assert_null (pp_dukpt_aes_derive_initial_key (bdk20, ikid, 8, PP_DUKPT_KEY_TYPE_AES128,
                                                  &error));
  g_assert_error (error, PP_DUKPT_ERROR, PP_DUKPT_ERROR_BDK_LENGTH);
  g_clear_error (&error);
  g_assert_null (pp_dukpt_aes_derive_initial_key (bdk128, ikid, 7, PP_DUKPT_KEY_TYPE_AES128,
                                                  &error));
  g_assert_error (error, PP_DUKPT_ERROR, PP_DUKPT_ERROR_INITIAL_KEY_ID_LENGTH);
  g_clear_error (&error);
  /* Not stronger than the BDK, and never TDES (only AES derives). */
  g_assert_null (pp_dukpt_aes_derive_initial_key (bdk128, ikid, 8, PP_DUKPT_KEY_TYPE_AES256,
                                                  &error));
  g_assert_error (error, PP_DUKPT_ERROR, PP_DUKPT_ERROR_UNSUPPORTED_KEY_TYPE);
  g_clear_error (&error);
  g_assert_null (pp_dukpt_aes_derive_initial_key (bdk128, ikid, 8, PP_DUKPT_KEY_TYPE_TDES2,
                                                  &error));
  g_assert_error (error, PP_DUKPT_ERROR, PP_DUKPT_ERROR_UNSUPPORTED_KEY_TYPE);
  g_clear_error (&error);

  ik = pp_dukpt_aes_derive_initial_key (bdk128, ikid, 8, PP_DUKPT_KEY_TYPE_AES128, &error);
  g_assert_no_error (error);

  g_assert_null (pp_dukpt_aes_derive_transaction_key (bdk20, ksn, 12, &error));
  g_assert_error (error, PP_DUKPT_ERROR, PP_DUKPT_ERROR_KEY_LENGTH);
  g_clear_error (&error);
  g_assert_null (pp_dukpt_aes_derive_transaction_key (ik, ksn, 10, &error));
  g_assert_error (error, PP_DUKPT_ERROR, PP_DUKPT_ERROR_KSN_LENGTH);
  g_clear_error (&error);

  pp_hex_decode_into ("123456789012345600000000", ksn, 12);
  g_assert_null (pp_dukpt_aes_derive_transaction_key (ik, ksn, 12, &error));
  g_assert_error (error, PP_DUKPT_ERROR, PP_DUKPT_ERROR_COUNTER_ZERO);
  g_clear_error (&error);
  /* FFFE0000 has 15 bits and is valid; FFFF8000 has 17 and is not. */
  pp_hex_decode_into ("1234567890123456FFFF8000", ksn, 12);
  g_assert_null (pp_dukpt_aes_derive_transaction_key (ik, ksn, 12, &error));
  g_assert_error (error, PP_DUKPT_ERROR, PP_DUKPT_ERROR_COUNTER_TOO_MANY_BITS);
  g_clear_error (&error);

  pp_hex_decode_into ("123456789012345600000001", ksn, 12);
  tk = pp_dukpt_aes_derive_transaction_key (ik, ksn, 12, &error);
  g_assert_no_error (error);

  g_assert_null (pp_dukpt_aes_derive_working_key (tk, ksn, 12, PP_DUKPT_AES_USAGE_PIN_ENCRYPTION,
                                                  PP_DUKPT_KEY_TYPE_AES192, &error));
  g_assert_error (error, PP_DUKPT_ERROR, PP_DUKPT_ERROR_UNSUPPORTED_KEY_TYPE);
  g_clear_error (&error);
  g_assert_null (pp_dukpt_aes_derive_working_key (tk, ksn, 12, 0x4242,
                                                  PP_DUKPT_KEY_TYPE_AES128, &error));
  g_assert_error (error, PP_DUKPT_ERROR, PP_DUKPT_ERROR_UNSUPPORTED_USAGE);
  g_clear_error (&error);
  g_assert_null (pp_dukpt_aes_derive_working_key (tk, ksn, 12, PP_DUKPT_AES_USAGE_PIN_ENCRYPTION,
                                                  42, &error));
  g_assert_error (error, PP_DUKPT_ERROR, PP_DUKPT_ERROR_UNSUPPORTED_KEY_TYPE);
  g_clear_error (&error);
  g_assert_null (pp_dukpt_aes_derive_update_key (ik, ikid, 8, PP_DUKPT_KEY_TYPE_TDES3, &error));
  g_assert_error (error, PP_DUKPT_ERROR, PP_DUKPT_ERROR_UNSUPPORTED_KEY_TYPE);
  g_clear_error (&error);

  /* TDES working keys come from an AES-128 derivation key, with the
   * lengths of their type; different usages give different keys. */
  {
    g_autoptr(PpSecureBuffer) t2 =
      pp_dukpt_aes_derive_working_key (tk, ksn, 12, PP_DUKPT_AES_USAGE_PIN_ENCRYPTION,
                                       PP_DUKPT_KEY_TYPE_TDES2, &error);
    g_autoptr(PpSecureBuffer) t3 =
      pp_dukpt_aes_derive_working_key (tk, ksn, 12, PP_DUKPT_AES_USAGE_PIN_ENCRYPTION,
                                       PP_DUKPT_KEY_TYPE_TDES3, &error);
    g_autoptr(PpSecureBuffer) both =
      pp_dukpt_aes_derive_working_key (tk, ksn, 12, PP_DUKPT_AES_USAGE_DATA_BOTH,
                                       PP_DUKPT_KEY_TYPE_AES128, &error);
    g_autoptr(PpSecureBuffer) enc =
      pp_dukpt_aes_derive_working_key (tk, ksn, 12, PP_DUKPT_AES_USAGE_DATA_ENCRYPT,
                                       PP_DUKPT_KEY_TYPE_AES128, &error);

    g_assert_no_error (error);
    g_assert_cmpuint (pp_secure_buffer_get_len (t2), ==, 16);
    g_assert_cmpuint (pp_secure_buffer_get_len (t3), ==, 24);
    g_assert_false (pp_secure_buffer_equal (both, enc));
    /* The first block of a 3TDEA key differs from the 2TDEA key: the
     * algorithm and length are part of the derivation data. */
    g_assert_true (memcmp (pp_secure_buffer_peek (t2), pp_secure_buffer_peek (t3), 16) != 0);
  }
}

static void
test_key_type_names (void)
{
  PpDukptKeyType t;

  g_assert_true (pp_dukpt_key_type_from_string ("AES256", &t));
  g_assert_cmpint (t, ==, PP_DUKPT_KEY_TYPE_AES256);
  g_assert_true (pp_dukpt_key_type_from_string ("tdes2", &t));
  g_assert_cmpint (t, ==, PP_DUKPT_KEY_TYPE_TDES2);
  g_assert_false (pp_dukpt_key_type_from_string ("aes512", &t));
  g_assert_cmpstr (pp_dukpt_key_type_to_string (PP_DUKPT_KEY_TYPE_TDES3), ==, "tdes3");
  g_assert_null (pp_dukpt_key_type_to_string (17));
  g_assert_cmpuint (pp_dukpt_key_type_get_length (PP_DUKPT_KEY_TYPE_AES192), ==, 24);
  g_assert_false (pp_dukpt_key_type_for_aes_length (20, &t));
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/dukpt/tdes/ipek", test_tdes_ipek);
  g_test_add_func ("/dukpt/tdes/transactions", test_tdes_transactions);
  g_test_add_func ("/dukpt/tdes/variant-keys", test_tdes_variant_keys);
  g_test_add_func ("/dukpt/tdes/errors", test_tdes_errors);
  g_test_add_data_func ("/dukpt/aes/aes128-bdk", "dukpt/aes_dukpt_x9.24-3-2017_aes128_bdk.json",
                        test_aes_file);
  g_test_add_data_func ("/dukpt/aes/aes256-bdk", "dukpt/aes_dukpt_x9.24-3-2017_aes256_bdk.json",
                        test_aes_file);
  g_test_add_func ("/dukpt/aes/errors", test_aes_errors);
  g_test_add_func ("/dukpt/key-types", test_key_type_names);
  return g_test_run ();
}
