/* SPDX-License-Identifier: GPL-3.0-or-later
 *
 * test-tr31.c: TR-31 / X9.143 key blocks: derivation, unwrap, wrap and the
 * rejection of malformed or altered blocks.
 *
 * Vectors (tests/vectors/tr31, each file's "source" field):
 *  - tr31_kbpk_derivation.json: openemv/tr31 test/tr31_crypto_test.c
 *    (commit d230c2846686d92cf36775141250b3a5fe814363), TR-31:2018 Annex A,
 *    ISO 20038:2017 B.3 and a payShield 10k example KBPK.
 *  - tr31_unwrap_standard_examples.json: openemv/tr31 test/tr31_decrypt_test.c
 *    (same commit): TR-31:2018 A.7.2-A.7.4, ANSI X9.143:2021 section 8.1,
 *    8.4, 8.5, 8.6, ISO 20038:2017 B.3, payShield 10k examples.
 *  - tr31_unwrap_psec_known_values.json and tr31_unwrap_negative_psec.json:
 *    knovichikhin/psec tests/test_tr31.py (commit
 *    90ccbf3ae0ef15527751ac225668ed31ef756a16), test_kb_known_values and
 *    test_kb_unwrap_exceptions.
 *  - tr31_unwrap_misc.json: chhil/TR31Keyblock
 *    src/test/java/org/keyblock/tr31/TR31KeyBlockTest.java (commit
 *    13ae8539e5ac48f42a80ef825f7e131ef018bd87; X9.143:2021 8.2 and 8.4.1) and
 *    moov-io/tr31 pkg/tr31/tr31_test.go (commit
 *    1d689d0e88e4ac765c57e31d1a526f5a9dc9af75, Test_Unwrap_Apple_Proximity).
 *  - tr31_wrap_deterministic.json: chhil/TR31Keyblock TR31KeyBlockTest.java
 *    (commit 13ae8539e5ac48f42a80ef825f7e131ef018bd87).
 * Key values are compared, never printed.
 */
#include "config.h"

#include <string.h>

#include <openssl/core_names.h>
#include <openssl/evp.h>

#include "pp-hex.h"
#include "pp-kcv.h"
#include "pp-openssl-types.h"
#include "pp-test-util.h"
#include "pp-tr31.h"

static PpSecureBuffer *
sb_hex (const char *hex)
{
  g_autoptr(GError) error = NULL;
  PpSecureBuffer *buf = pp_secure_buffer_new_from_hex (hex, &error);

  g_assert_no_error (error);
  return buf;
}

/* Compares without letting a key reach the test log. */
static gboolean
key_equals_hex (const PpSecureBuffer *key,
                const char           *hex)
{
  char *got = pp_secure_buffer_to_hex (key);
  gboolean equal = g_ascii_strcasecmp (got, hex) == 0;

  pp_hex_free_secret (got);
  return equal;
}

static const char *
member_or_null (JsonObject *obj,
                const char *name)
{
  return json_object_has_member (obj, name) ? json_object_get_string_member (obj, name)
                                            : NULL;
}

static void
check_header_fields (const PpTr31Header *header,
                     JsonObject         *fields)
{
  JsonArray *blocks = json_object_get_array_member (fields, "optional_blocks");
  char c[2] = { 0, 0 };

  c[0] = header->version;
  g_assert_cmpstr (c, ==, json_object_get_string_member (fields, "version_id"));
  g_assert_cmpuint (header->length, ==, json_object_get_int_member (fields, "length"));
  g_assert_cmpstr (header->key_usage, ==, json_object_get_string_member (fields, "key_usage"));
  c[0] = header->algorithm;
  g_assert_cmpstr (c, ==, json_object_get_string_member (fields, "algorithm"));
  c[0] = header->mode_of_use;
  g_assert_cmpstr (c, ==, json_object_get_string_member (fields, "mode_of_use"));
  g_assert_cmpstr (header->key_version, ==,
                   json_object_get_string_member (fields, "key_version_number"));
  c[0] = header->exportability;
  g_assert_cmpstr (c, ==, json_object_get_string_member (fields, "exportability"));
  g_assert_cmpuint (header->optional_blocks->len, ==,
                    json_object_get_int_member (fields, "num_optional_blocks"));
  g_assert_cmpuint (header->optional_blocks->len, ==, json_array_get_length (blocks));

  for (guint i = 0; i < header->optional_blocks->len; i++)
    {
      PpTr31OptionalBlock *block = g_ptr_array_index (header->optional_blocks, i);
      JsonObject *want = json_array_get_object_element (blocks, i);
      const char *data = json_object_get_string_member (want, "data");
      const char *cut = strstr (data, "...(");

      g_assert_cmpstr (block->id, ==, json_object_get_string_member (want, "id"));
      if (cut != NULL)
        {
          /* Long data is shortened in the vector file: "prefix...(N chars)". */
          g_assert_true (strncmp (block->data, data, cut - data) == 0);
          g_assert_cmpuint (strlen (block->data), ==, g_ascii_strtoull (cut + 4, NULL, 10));
        }
      else
        {
          g_assert_cmpstr (block->data, ==, data);
        }
    }

  if (json_object_has_member (fields, "header_text"))
    {
      const char *text = json_object_get_string_member (fields, "header_text");
      const char *cut = strstr (text, "...(");

      if (cut != NULL)
        g_assert_cmpuint (header->header_length, ==, g_ascii_strtoull (cut + 4, NULL, 10));
      else
        g_assert_cmpuint (header->header_length, ==, strlen (text));
    }
}

/* Unwraps one case and, when the padding is known, wraps the key again with
 * that padding: the result must be the original block byte for byte. */
static void
check_unwrap_case (JsonObject *c)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(PpSecureBuffer) kbpk = sb_hex (json_object_get_string_member (c, "kbpk"));
  g_autoptr(PpTr31Header) header = NULL;
  g_autoptr(PpSecureBuffer) key = NULL;
  const char *block = json_object_get_string_member (c, "key_block");
  const char *padding_hex = member_or_null (c, "derived_padding_by_local_unwrap");
  const char *kcv = member_or_null (c, "expected_key_kcv");

  g_test_message ("case %s", json_object_get_string_member (c, "id"));

  key = pp_tr31_unwrap (kbpk, block, &header, &error);
  g_assert_no_error (error);
  g_assert_nonnull (key);
  g_assert_nonnull (header);
  g_assert_true (key_equals_hex (key, json_object_get_string_member (c, "expected_key")));

  if (json_object_has_member (c, "header_fields_parsed_from_key_block"))
    check_header_fields (header,
                         json_object_get_object_member (c, "header_fields_parsed_from_key_block"));

  if (kcv != NULL)
    {
      const char *method = json_object_get_string_member (c, "kcv_method");
      PpKeyAlgorithm alg = g_str_has_prefix (method, "AES") ? PP_KEY_ALGORITHM_AES
                                                             : PP_KEY_ALGORITHM_TDES;
      g_autofree char *got = pp_kcv_compute (alg, key, strlen (kcv) / 2, &error);

      g_assert_no_error (error);
      g_assert_cmpstr (got, ==, kcv);
    }

  if (json_object_has_member (c, "expected_opt_block_KS_decoded"))
    g_assert_cmpstr (pp_tr31_header_get_optional_block (header, "KS"), ==,
                     json_object_get_string_member (c, "expected_opt_block_KS_decoded"));

  if (json_object_has_member (c, "expected_opt_block_TS"))
    g_assert_cmpstr (pp_tr31_header_get_optional_block (header, "TS"), ==,
                     json_object_get_string_member (c, "expected_opt_block_TS"));

  if (json_object_has_member (c, "expected_opt_block_KP_kbpk_kcv"))
    {
      const char *want = json_object_get_string_member (c, "expected_opt_block_KP_kbpk_kcv");
      const char *kp = pp_tr31_header_get_optional_block (header, "KP");
      g_autofree char *kbpk_kcv = NULL;

      /* KP: "01" (CMAC method) then the KBPK's check value. */
      g_assert_nonnull (kp);
      g_assert_true (g_str_has_prefix (kp, "01"));
      g_assert_cmpstr (kp + 2, ==, want);
      kbpk_kcv = pp_kcv_compute (PP_KEY_ALGORITHM_AES, kbpk, strlen (want) / 2, &error);
      g_assert_no_error (error);
      g_assert_cmpstr (kbpk_kcv, ==, want);
    }

  if (padding_hex != NULL)
    {
      g_autoptr(GBytes) padding = pp_hex_decode (padding_hex, &error);
      g_autofree char *head = g_strndup (block, header->header_length);
      g_autofree char *again = NULL;
      gsize padding_len;
      const guint8 *padding_data;

      g_assert_no_error (error);
      padding_data = g_bytes_get_data (padding, &padding_len);
      again = pp_tr31_wrap_with_padding (kbpk, head, key, padding_data, padding_len, &error);
      g_assert_no_error (error);
      g_assert_cmpuint (strlen (again), ==, strlen (block));
      g_assert_true (strncmp (again, block, header->header_length) == 0);
      /* Hex is written upper case whatever the case of the source block. */
      g_assert_cmpint (g_ascii_strcasecmp (again + header->header_length,
                                           block + header->header_length), ==, 0);
      for (const char *p = again + header->header_length; *p != '\0'; p++)
        g_assert_false (g_ascii_islower (*p));
    }
}

static void
run_unwrap_file (const char *file)
{
  g_autoptr(JsonParser) parser = NULL;
  JsonArray *cases = pp_test_vector_cases (file, &parser);
  guint n;


  n = json_array_get_length (cases);
  g_assert_cmpuint (n, >, 0);
  for (guint i = 0; i < n; i++)
    check_unwrap_case (json_array_get_object_element (cases, i));
}

static void
test_unwrap_standard (void)
{
  run_unwrap_file ("tr31/tr31_unwrap_standard_examples.json");
}

static void
test_unwrap_psec (void)
{
  run_unwrap_file ("tr31/tr31_unwrap_psec_known_values.json");
}

/* Includes the two policy cases: X9.143 8.2 (KS holds "VM9A": accepted) and
 * the moov-io block in lower-case hex (accepted). */
static void
test_unwrap_misc (void)
{
  run_unwrap_file ("tr31/tr31_unwrap_misc.json");
}

static void
test_derivation (void)
{
  g_autoptr(JsonParser) parser = NULL;
  JsonArray *cases = pp_test_vector_cases ("tr31/tr31_kbpk_derivation.json", &parser);


  g_assert_cmpuint (json_array_get_length (cases), ==, 8);
  for (guint i = 0; i < json_array_get_length (cases); i++)
    {
      JsonObject *c = json_array_get_object_element (cases, i);
      const char *method = json_object_get_string_member (c, "method");
      g_autoptr(PpSecureBuffer) kbpk = sb_hex (json_object_get_string_member (c, "kbpk"));
      g_autoptr(PpSecureBuffer) kbek = NULL;
      g_autoptr(PpSecureBuffer) kbak = NULL;
      g_autoptr(GError) error = NULL;
      char version;

      if (g_str_has_prefix (method, "A/C"))
        version = 'A';
      else if (g_str_has_prefix (method, "B "))
        version = 'B';
      else if (g_str_has_prefix (method, "D "))
        version = 'D';
      else
        g_assert_not_reached ();

      g_test_message ("derivation %s", json_object_get_string_member (c, "id"));
      g_assert_true (pp_tr31_derive_keys (version, kbpk, &kbek, &kbak, &error));
      g_assert_no_error (error);
      g_assert_true (key_equals_hex (kbek, json_object_get_string_member (c, "expected_kbek")));
      g_assert_true (key_equals_hex (kbak, json_object_get_string_member (c, "expected_kbak")));

      if (version == 'A')
        {
          /* Version C uses the same variants. */
          g_autoptr(PpSecureBuffer) kbek_c = NULL;
          g_autoptr(PpSecureBuffer) kbak_c = NULL;

          g_assert_true (pp_tr31_derive_keys ('C', kbpk, &kbek_c, &kbak_c, &error));
          g_assert_true (pp_secure_buffer_equal (kbek, kbek_c));
          g_assert_true (pp_secure_buffer_equal (kbak, kbak_c));
        }
    }
}

static void
test_wrap_deterministic (void)
{
  g_autoptr(JsonParser) parser = NULL;
  JsonArray *cases = pp_test_vector_cases ("tr31/tr31_wrap_deterministic.json", &parser);


  g_assert_cmpuint (json_array_get_length (cases), >, 0);
  for (guint i = 0; i < json_array_get_length (cases); i++)
    {
      JsonObject *c = json_array_get_object_element (cases, i);
      const char *padding_hex = member_or_null (c, "padding");
      const char *expected = json_object_get_string_member (c, "expected_key_block");
      g_autoptr(PpSecureBuffer) kbpk = sb_hex (json_object_get_string_member (c, "kbpk"));
      g_autoptr(PpSecureBuffer) key = sb_hex (json_object_get_string_member (c, "clear_key"));
      g_autoptr(PpSecureBuffer) back = NULL;
      g_autoptr(GBytes) padding = NULL;
      g_autoptr(GError) error = NULL;
      g_autofree char *block = NULL;
      const guint8 *padding_data;
      gsize padding_len;

      if (padding_hex == NULL)
        padding_hex = json_object_get_string_member (c, "derived_padding_by_local_unwrap");

      g_test_message ("wrap %s", json_object_get_string_member (c, "id"));
      padding = pp_hex_decode (padding_hex, &error);
      g_assert_no_error (error);
      padding_data = g_bytes_get_data (padding, &padding_len);

      block = pp_tr31_wrap_with_padding (kbpk, json_object_get_string_member (c, "header"),
                                         key, padding_data, padding_len, &error);
      g_assert_no_error (error);
      g_assert_cmpstr (block, ==, expected);

      back = pp_tr31_unwrap (kbpk, expected, NULL, &error);
      g_assert_no_error (error);
      g_assert_true (pp_secure_buffer_equal (back, key));
    }
}

/* Codes for psec's malformed blocks, by what psec says is wrong. */
static const struct {
  const char *id;
  PpTr31Error code;
} psec_codes[] = {
  { "psec-neg-01", PP_TR31_ERROR_LENGTH_MISMATCH },
  { "psec-neg-02", PP_TR31_ERROR_LENGTH_FIELD },
  { "psec-neg-03", PP_TR31_ERROR_KEY_DATA_LENGTH },
  { "psec-neg-04", PP_TR31_ERROR_KEY_DATA_LENGTH },
  { "psec-neg-05", PP_TR31_ERROR_KEY_DATA_LENGTH },
  { "psec-neg-06", PP_TR31_ERROR_KEY_DATA_LENGTH },
  { "psec-neg-07", PP_TR31_ERROR_MAC_NOT_HEX },
  { "psec-neg-08", PP_TR31_ERROR_MAC_NOT_HEX },
  { "psec-neg-09", PP_TR31_ERROR_MAC_NOT_HEX },
  { "psec-neg-10", PP_TR31_ERROR_MAC_NOT_HEX },
  { "psec-neg-12", PP_TR31_ERROR_KEY_DATA_LENGTH },
  { "psec-neg-14", PP_TR31_ERROR_KEY_DATA_LENGTH },
  { "psec-neg-15", PP_TR31_ERROR_KEY_DATA_NOT_HEX },
  { "psec-neg-16", PP_TR31_ERROR_KEY_DATA_NOT_HEX },
  { "psec-neg-17", PP_TR31_ERROR_KEY_DATA_NOT_HEX },
  { "psec-neg-18", PP_TR31_ERROR_KEY_DATA_NOT_HEX },
  { "psec-neg-19", PP_TR31_ERROR_KEY_DATA_LENGTH },
  { "psec-neg-20", PP_TR31_ERROR_KEY_DATA_LENGTH },
  { "psec-neg-21", PP_TR31_ERROR_KEY_DATA_LENGTH },
  { "psec-neg-22", PP_TR31_ERROR_KEY_DATA_LENGTH },
  { "psec-neg-23", PP_TR31_ERROR_MAC_MISMATCH },
  { "psec-neg-24", PP_TR31_ERROR_MAC_MISMATCH },
  { "psec-neg-25", PP_TR31_ERROR_MAC_MISMATCH },
  { "psec-neg-26", PP_TR31_ERROR_MAC_MISMATCH },
  { "psec-neg-27", PP_TR31_ERROR_KBPK_LENGTH },
  { "psec-neg-28", PP_TR31_ERROR_KBPK_LENGTH },
  { "psec-neg-29", PP_TR31_ERROR_KBPK_LENGTH },
  { "psec-neg-30", PP_TR31_ERROR_KBPK_LENGTH },
  { "psec-neg-31", PP_TR31_ERROR_KEY_LENGTH },
  { "psec-neg-32", PP_TR31_ERROR_KEY_LENGTH },
  { "psec-neg-33", PP_TR31_ERROR_KEY_LENGTH },
  { "psec-neg-34", PP_TR31_ERROR_KEY_LENGTH },
  { "psec-neg-35", PP_TR31_ERROR_KEY_LENGTH },
  { "psec-neg-36", PP_TR31_ERROR_KEY_LENGTH },
  { "psec-neg-37", PP_TR31_ERROR_KEY_LENGTH },
  { "psec-neg-38", PP_TR31_ERROR_KEY_LENGTH },
};

static void
test_negative_psec (void)
{
  g_autoptr(JsonParser) parser = NULL;
  JsonArray *cases = pp_test_vector_cases ("tr31/tr31_unwrap_negative_psec.json", &parser);


  g_assert_cmpuint (json_array_get_length (cases), ==, 38);
  for (guint i = 0; i < json_array_get_length (cases); i++)
    {
      JsonObject *c = json_array_get_object_element (cases, i);
      const char *id = json_object_get_string_member (c, "id");
      g_autoptr(PpSecureBuffer) kbpk = sb_hex (json_object_get_string_member (c, "kbpk"));
      g_autoptr(PpSecureBuffer) key = NULL;
      g_autoptr(GError) error = NULL;
      gboolean found = FALSE;

      g_test_message ("negative %s", id);
      key = pp_tr31_unwrap (kbpk, json_object_get_string_member (c, "key_block"), NULL, &error);
      g_assert_null (key);
      g_assert_nonnull (error);
      g_assert_true (error->domain == PP_TR31_ERROR);

      for (guint j = 0; j < G_N_ELEMENTS (psec_codes); j++)
        {
          if (g_str_equal (psec_codes[j].id, id))
            {
              g_assert_error (error, PP_TR31_ERROR, (int) psec_codes[j].code);
              found = TRUE;
            }
        }
      /* 11 and 13 use an unregistered optional block ID "TT". */
      if (!found)
        g_assert_error (error, PP_TR31_ERROR, PP_TR31_ERROR_OPTIONAL_BLOCK_ID);
    }
}

/* TR-31:2018 A.7.2.2 and A.7.3.2 and A.7.4 (see tr31_unwrap_standard_examples);
 * embedded so the specific-error cases run without the vector folder. */
#define KBPK_B   "DD7515F2BFC17F85CE48F3CA25CB21F6"
#define BLOCK_B  "B0080P0TE00E000094B420079CC80BA3461F86FE26EFC4A3B8E4FA4C5F5341176EED7B727B8A248E"
#define KBPK_KS  "1D22BF32387C600AD97F9B97A51311AC"
#define BLOCK_KS "B0104B0TX12S0100KS1800604B120F9292800000BB68BE8680A400D9191AD4ECE45B6E6C0D21C4738A52190E248719E24B433627"
#define KBPK_D   "88E1AB2A2E3DD38C1FA039A536500CC8A87AB9D62DC92C01058FA79F44657DE6"
#define BLOCK_D  "D0112P0AE00E0000B82679114F470F540165EDFBF7E250FCEA43F810D215F8D207E2E417C07156A27E8E31DA05F7425509593D03A457DC34"
#define KBPK_A   "89E88CF7931444F334BD7547FC3F380C"
#define BLOCK_A  "A0072P0TE00E0000F5161ED902807AF26F1D62263644BD24192FDB3193C730301CEE8701"
#define BLOCK_C  "C0072K0TN00N0000C9B875FF7A5316BF221C09ED52080DE0B45632A4EA9CE87699CB565E"
#define KBPK_C   "EFE0853B256B583D868F251CE99EA1D9"
/* X9.143:2021 8.2 via chhil/TR31Keyblock (KS, TS, PB blocks) and the
 * moov-io lower-case block (tr31_unwrap_misc.json). */
#define KBPK_82  "E38331FBACE33F0B8694ABA5DC611CA20831949FEB8988102147291578F704E1"
#define BLOCK_82 "D0192C0AVA1N0300KS08VM9ATS1A2018-06-18T20:42:39.22PB0E00000000005FDAFA00A1E84F599C2EB51A1F7A767D5E42314F0E84A3FC1A7B84C1DE81114659E6306AD544208F68F15602BD3E12DA0C7F9FC551F1C8E6385FAFC1F7B499F5"
#define KBPK_MOOV  "000102030405060708090A0B0C0D0E0F"
#define BLOCK_MOOV "D0112D0AD00E00009ef4ff063d9757987d1768a1e317a6530de7d8ac81972c19a3659afb28e8d35f48aaa5b0f124e73893163e9a020ae5f3"

static char *
replace_at (const char *block,
            gsize       pos,
            const char *with)
{
  char *copy = g_strdup (block);

  memcpy (copy + pos, with, strlen (with));
  return copy;
}

static void
expect_unwrap_error (const char *kbpk_hex,
                     const char *block,
                     PpTr31Error code)
{
  g_autoptr(PpSecureBuffer) kbpk = sb_hex (kbpk_hex);
  g_autoptr(PpSecureBuffer) key = NULL;
  g_autoptr(GError) error = NULL;

  key = pp_tr31_unwrap (kbpk, block, NULL, &error);
  g_assert_error (error, PP_TR31_ERROR, (int) code);
  g_assert_null (key);
}

/* Builds a correctly authenticated version B block around arbitrary clear
 * key data (length field included), independently of pp_tr31_wrap, so the
 * checks made after the MAC can be reached with bad content. */
static char *
forge_block_b (const char   *kbpk_hex,
               const char   *header_rest,
               const guint8 *plain,
               gsize         plain_len)
{
  g_autoptr(PpSecureBuffer) kbpk = sb_hex (kbpk_hex);
  g_autoptr(PpSecureBuffer) kbek = NULL;
  g_autoptr(PpSecureBuffer) kbak = NULL;
  g_autoptr(EVP_MAC) mac = EVP_MAC_fetch (NULL, "CMAC", NULL);
  g_autoptr(EVP_MAC_CTX) mctx = EVP_MAC_CTX_new (mac);
  g_autoptr(EVP_CIPHER_CTX) cctx = EVP_CIPHER_CTX_new ();
  gsize header_len = 5 + strlen (header_rest);
  g_autofree char *header = g_strdup_printf ("B%04u%s",
                                             (guint) (header_len + 2 * plain_len + 16),
                                             header_rest);
  g_autofree guint8 *ct = g_malloc (plain_len);
  g_autofree char *ct_hex = NULL;
  g_autofree char *mac_hex = NULL;
  OSSL_PARAM params[2];
  guint8 k[24], tag[8];
  gsize tag_len = 0;
  int outl = 0;

  g_assert_true (pp_tr31_derive_keys ('B', kbpk, &kbek, &kbak, NULL));
  params[0] = OSSL_PARAM_construct_utf8_string (OSSL_MAC_PARAM_CIPHER, (char *) "DES-EDE3-CBC", 0);
  params[1] = OSSL_PARAM_construct_end ();

  memcpy (k, pp_secure_buffer_peek (kbak), 16);
  memcpy (k + 16, pp_secure_buffer_peek (kbak), 8);
  g_assert_cmpint (EVP_MAC_init (mctx, k, 24, params), ==, 1);
  g_assert_cmpint (EVP_MAC_update (mctx, (const guint8 *) header, header_len), ==, 1);
  g_assert_cmpint (EVP_MAC_update (mctx, plain, plain_len), ==, 1);
  g_assert_cmpint (EVP_MAC_final (mctx, tag, &tag_len, sizeof tag), ==, 1);

  memcpy (k, pp_secure_buffer_peek (kbek), 16);
  memcpy (k + 16, pp_secure_buffer_peek (kbek), 8);
  g_assert_cmpint (EVP_EncryptInit_ex2 (cctx, EVP_des_ede3_cbc (), k, tag, NULL), ==, 1);
  g_assert_cmpint (EVP_CIPHER_CTX_set_padding (cctx, 0), ==, 1);
  g_assert_cmpint (EVP_EncryptUpdate (cctx, ct, &outl, plain, (int) plain_len), ==, 1);
  g_assert_cmpint (outl, ==, (int) plain_len);

  ct_hex = pp_hex_encode (ct, plain_len);
  mac_hex = pp_hex_encode (tag, sizeof tag);
  return g_strconcat (header, ct_hex, mac_hex, NULL);
}

static void
test_after_mac (void)
{
  static const struct {
    guint8 hi, lo;
    gsize plain_len;
    int code;   /* -1: must unwrap */
  } cases[] = {
    { 0x00, 0x80, 24, -1 },                       /* 16-byte TDES key: valid */
    { 0x00, 0x40, 16, -1 },                       /* 8-byte TDES key: valid */
    { 0x00, 0x00, 24, PP_TR31_ERROR_KEY_LENGTH }, /* zero length */
    { 0x00, 0x81, 24, PP_TR31_ERROR_KEY_LENGTH }, /* not whole bytes */
    { 0x00, 0xB8, 24, PP_TR31_ERROR_KEY_LENGTH }, /* 23 bytes > 24 - 2 */
    { 0x00, 0xB0, 24, PP_TR31_ERROR_KEY_SIZE },   /* 22 bytes fit, not a TDES key */
    { 0xFF, 0xF8, 24, PP_TR31_ERROR_KEY_LENGTH }, /* far beyond the data */
    { 0x00, 0x78, 24, PP_TR31_ERROR_KEY_SIZE },   /* 15 bytes: not a TDES key */
    { 0x00, 0xA0, 24, PP_TR31_ERROR_KEY_SIZE },   /* 20 bytes: not a TDES key */
  };

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      guint8 plain[32];
      g_autofree char *block = NULL;
      g_autoptr(PpSecureBuffer) kbpk = sb_hex (KBPK_B);
      g_autoptr(PpSecureBuffer) key = NULL;
      g_autoptr(GError) error = NULL;

      for (gsize j = 0; j < sizeof plain; j++)
        plain[j] = (guint8) (0x11 * j);
      plain[0] = cases[i].hi;
      plain[1] = cases[i].lo;
      block = forge_block_b (KBPK_B, "P0TE00E0000", plain, cases[i].plain_len);
      key = pp_tr31_unwrap (kbpk, block, NULL, &error);

      if (cases[i].code < 0)
        {
          g_assert_no_error (error);
          g_assert_cmpuint (pp_secure_buffer_get_len (key), ==,
                            ((cases[i].hi << 8) | cases[i].lo) / 8);
          g_assert_true (memcmp (pp_secure_buffer_peek (key), plain + 2,
                                 pp_secure_buffer_get_len (key)) == 0);
        }
      else
        {
          g_assert_error (error, PP_TR31_ERROR, cases[i].code);
          g_assert_null (key);
        }
    }
}

/* KC: the check value of the wrapped key, verified on wrap and unwrap. */
static void
test_kc_block (void)
{
  g_autoptr(PpSecureBuffer) kbpk = sb_hex (KBPK_B);
  g_autoptr(PpSecureBuffer) aes_kbpk = sb_hex (KBPK_D);
  /* TR-31:2018 A.7.2.2 key, KCV 57C409; A.7.4 AES key, CMAC KCV 08793E25AB */
  g_autoptr(PpSecureBuffer) key = sb_hex ("3F419E1CB7079442AA37474C2EFBF8B8");
  g_autoptr(PpSecureBuffer) back = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *block = NULL;
  g_autofree char *aes_block = NULL;
  g_autofree char *forged = NULL;
  guint8 plain[24] = { 0x00, 0x80 };
  char *none;

  block = pp_tr31_wrap (kbpk, "B0000P0TE00E0200KC0C0057C409PB04", key, &error);
  g_assert_no_error (error);
  back = pp_tr31_unwrap (kbpk, block, NULL, &error);
  g_assert_no_error (error);
  g_assert_true (pp_secure_buffer_equal (back, key));
  g_clear_pointer (&back, pp_secure_buffer_free);

  aes_block = pp_tr31_wrap (aes_kbpk, "D0000P0AE00E0100KC100108793E25AB", key, &error);
  g_assert_no_error (error);
  back = pp_tr31_unwrap (aes_kbpk, aes_block, NULL, &error);
  g_assert_no_error (error);
  g_assert_true (pp_secure_buffer_equal (back, key));

  none = pp_tr31_wrap (kbpk, "B0000P0TE00E0200KC0C0057C408PB04", key, &error);
  g_assert_error (error, PP_TR31_ERROR, PP_TR31_ERROR_KCV_MISMATCH);
  g_assert_null (none);
  g_clear_error (&error);

  none = pp_tr31_wrap (kbpk, "B0000P0TE00E0200KC0C0257C409PB04", key, &error);
  g_assert_error (error, PP_TR31_ERROR, PP_TR31_ERROR_OPTIONAL_BLOCK_DATA);
  g_clear_error (&error);

  none = pp_tr31_wrap (kbpk, "B0000P0TE00E0200KC060057PB0A000000", key, &error);
  g_assert_error (error, PP_TR31_ERROR, PP_TR31_ERROR_OPTIONAL_BLOCK_DATA);
  g_clear_error (&error);

  /* An authentic block whose KC does not match its key. */
  memcpy (plain + 2, pp_secure_buffer_peek (key), 16);
  forged = forge_block_b (KBPK_B, "P0TE00E0200KC0C0057C408PB04", plain, sizeof plain);
  g_assert_null (pp_tr31_unwrap (kbpk, forged, NULL, &error));
  g_assert_error (error, PP_TR31_ERROR, PP_TR31_ERROR_KCV_MISMATCH);
}

static void
test_negative_specific (void)
{
  struct {
    const char *kbpk;
    char *block;
    PpTr31Error code;
  } cases[] = {
    { KBPK_B, g_strndup (BLOCK_B, 15), PP_TR31_ERROR_TRUNCATED },
    { KBPK_B, replace_at (BLOCK_B, 20, "\x01"), PP_TR31_ERROR_INVALID_CHARACTER },
    { KBPK_B, replace_at (BLOCK_B, 20, "\xc3"), PP_TR31_ERROR_INVALID_CHARACTER },
    { KBPK_B, replace_at (BLOCK_B, 0, "E"), PP_TR31_ERROR_UNKNOWN_VERSION },
    { KBPK_B, replace_at (BLOCK_B, 0, "1"), PP_TR31_ERROR_UNKNOWN_VERSION },
    { KBPK_B, replace_at (BLOCK_B, 2, "O"), PP_TR31_ERROR_LENGTH_FIELD },
    { KBPK_B, replace_at (BLOCK_B, 1, " 080"), PP_TR31_ERROR_LENGTH_FIELD },
    { KBPK_B, replace_at (BLOCK_B, 1, "0088"), PP_TR31_ERROR_LENGTH_MISMATCH },
    { KBPK_B, g_strconcat (BLOCK_B, "00", NULL), PP_TR31_ERROR_LENGTH_MISMATCH },
    { KBPK_B, g_strndup (BLOCK_B, 72), PP_TR31_ERROR_LENGTH_MISMATCH },
    { KBPK_B, replace_at (BLOCK_B, 5, "Z9"), PP_TR31_ERROR_KEY_USAGE },
    { KBPK_B, replace_at (BLOCK_B, 5, "p0"), PP_TR31_ERROR_KEY_USAGE },
    { KBPK_B, replace_at (BLOCK_B, 7, "Q"), PP_TR31_ERROR_ALGORITHM },
    { KBPK_B, replace_at (BLOCK_B, 8, "Q"), PP_TR31_ERROR_MODE_OF_USE },
    { KBPK_B, replace_at (BLOCK_B, 9, "0-"), PP_TR31_ERROR_KEY_VERSION },
    { KBPK_B, replace_at (BLOCK_B, 11, "X"), PP_TR31_ERROR_EXPORTABILITY },
    { KBPK_B, replace_at (BLOCK_B, 12, "0A"), PP_TR31_ERROR_OPTIONAL_BLOCK_COUNT },
    { KBPK_B, replace_at (BLOCK_B, 14, "01"), PP_TR31_ERROR_RESERVED },
    /* PIN encryption key used to verify, a MAC key used to encrypt, a BDK
     * used to encrypt, a PIN key as RSA */
    { KBPK_B, replace_at (BLOCK_B, 8, "V"), PP_TR31_ERROR_USAGE_COMBINATION },
    { KBPK_B, replace_at (BLOCK_B, 5, "M3TE"), PP_TR31_ERROR_USAGE_COMBINATION },
    { KBPK_B, replace_at (BLOCK_B, 5, "B0TE"), PP_TR31_ERROR_USAGE_COMBINATION },
    { KBPK_B, replace_at (BLOCK_B, 5, "P0R"), PP_TR31_ERROR_USAGE_COMBINATION },
    /* optional blocks: the KS block of A.7.3.2 starts at 16 */
    { KBPK_KS, replace_at (BLOCK_KS, 16, "ZZ"), PP_TR31_ERROR_OPTIONAL_BLOCK_ID },
    { KBPK_KS, replace_at (BLOCK_KS, 16, "ks"), PP_TR31_ERROR_OPTIONAL_BLOCK_ID },
    { KBPK_KS, replace_at (BLOCK_KS, 16, "K_"), PP_TR31_ERROR_OPTIONAL_BLOCK_ID },
    { KBPK_KS, replace_at (BLOCK_KS, 18, "1G"), PP_TR31_ERROR_OPTIONAL_BLOCK_LENGTH },
    { KBPK_KS, replace_at (BLOCK_KS, 18, "03"), PP_TR31_ERROR_OPTIONAL_BLOCK_LENGTH },
    { KBPK_KS, replace_at (BLOCK_KS, 18, "FF"), PP_TR31_ERROR_OPTIONAL_BLOCK_LENGTH },
    { KBPK_KS, replace_at (BLOCK_KS, 18, "1a"), PP_TR31_ERROR_OPTIONAL_BLOCK_LENGTH },
    /* extended length "00" with a bad length-of-length, or one past the end */
    { KBPK_KS, replace_at (BLOCK_KS, 18, "0000"), PP_TR31_ERROR_OPTIONAL_BLOCK_LENGTH },
    { KBPK_KS, replace_at (BLOCK_KS, 18, "0009"), PP_TR31_ERROR_OPTIONAL_BLOCK_LENGTH },
    { KBPK_KS, replace_at (BLOCK_KS, 18, "00040FFF"), PP_TR31_ERROR_OPTIONAL_BLOCK_LENGTH },
    { KBPK_KS, replace_at (BLOCK_KS, 18, "00040009"), PP_TR31_ERROR_OPTIONAL_BLOCK_LENGTH },
    /* the KS slot as a KC (hex only) block with non-hex content */
    { KBPK_KS, replace_at (BLOCK_KS, 16, "KC1801XYZ"), PP_TR31_ERROR_OPTIONAL_BLOCK_DATA },
    { KBPK_KS, replace_at (BLOCK_KS, 16, "KP1801abc"), PP_TR31_ERROR_OPTIONAL_BLOCK_DATA },
    /* two optional blocks declared, one present: the second is read from
     * the encrypted data "BB68" -> unknown ID */
    { KBPK_KS, replace_at (BLOCK_KS, 12, "02"), PP_TR31_ERROR_OPTIONAL_BLOCK_ID },
    /* KS shortened to 0x14 = 20 characters: header of 36, not a multiple of 8 */
    { KBPK_KS, replace_at (BLOCK_KS, 18, "14"), PP_TR31_ERROR_HEADER_ALIGNMENT },
    { KBPK_B, replace_at (BLOCK_B, 16, "Z"), PP_TR31_ERROR_KEY_DATA_NOT_HEX },
    { KBPK_B, replace_at (BLOCK_B, 79, "Z"), PP_TR31_ERROR_MAC_NOT_HEX },
    { KBPK_B, replace_at (BLOCK_B, 70, "-"), PP_TR31_ERROR_MAC_NOT_HEX },
    { KBPK_D, replace_at (BLOCK_D, 1, "0032"), PP_TR31_ERROR_LENGTH_MISMATCH },
    { KBPK_B, replace_at (BLOCK_B, 30, "0"), PP_TR31_ERROR_MAC_MISMATCH },
    { KBPK_B, replace_at (BLOCK_B, 79, "F"), PP_TR31_ERROR_MAC_MISMATCH },
    { KBPK_B, replace_at (BLOCK_B, 9, "01"), PP_TR31_ERROR_MAC_MISMATCH },
    { KBPK_D, replace_at (BLOCK_D, 111, "5"), PP_TR31_ERROR_MAC_MISMATCH },
    { KBPK_A, replace_at (BLOCK_A, 71, "0"), PP_TR31_ERROR_MAC_MISMATCH },
    { KBPK_C, replace_at (BLOCK_C, 20, "0"), PP_TR31_ERROR_MAC_MISMATCH },
    /* wrong KBPK (the A key for the B block) */
    { KBPK_A, g_strdup (BLOCK_B), PP_TR31_ERROR_MAC_MISMATCH },
    /* KBPKs of the wrong size for the version */
    { "0123456789ABCDEF", g_strdup (BLOCK_B), PP_TR31_ERROR_KBPK_LENGTH },
    { "0123456789ABCDEF0123456789ABCDEF0123456789ABCDEF0123456789ABCDEF", g_strdup (BLOCK_B),
      PP_TR31_ERROR_KBPK_LENGTH },
    { "0123456789ABCDEF0123456789ABCDEF01", g_strdup (BLOCK_D), PP_TR31_ERROR_KBPK_LENGTH },
    { "0123456789ABCDEF", g_strdup (BLOCK_A), PP_TR31_ERROR_KBPK_LENGTH },
  };

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_test_message ("specific case %u", i);
      expect_unwrap_error (cases[i].kbpk, cases[i].block, cases[i].code);
      g_free (cases[i].block);
    }
}

/* Valid headers that the parser must still refuse in wrap, and wrap's own
 * checks. */
static void
test_wrap_errors (void)
{
  g_autoptr(PpSecureBuffer) tdes_kbpk = sb_hex (KBPK_B);
  g_autoptr(PpSecureBuffer) aes_kbpk = sb_hex (KBPK_D);
  g_autoptr(PpSecureBuffer) key16 = sb_hex ("3F419E1CB7079442AA37474C2EFBF8B8");
  g_autoptr(PpSecureBuffer) key15 = pp_secure_buffer_new (15);
  g_autoptr(PpSecureBuffer) huge = pp_secure_buffer_new (5000);
  g_autoptr(GError) error = NULL;
  static const guint8 pad[16] = { 0 };
  char *block;

  block = pp_tr31_wrap (tdes_kbpk, "B0000P0TE00E0000XX", key16, &error);
  g_assert_error (error, PP_TR31_ERROR, PP_TR31_ERROR_LENGTH_MISMATCH);
  g_assert_null (block);
  g_clear_error (&error);

  block = pp_tr31_wrap (tdes_kbpk, "B0000P0TE00E", key16, &error);
  g_assert_error (error, PP_TR31_ERROR, PP_TR31_ERROR_TRUNCATED);
  g_clear_error (&error);

  block = pp_tr31_wrap (tdes_kbpk, "E0000P0TE00E0000", key16, &error);
  g_assert_error (error, PP_TR31_ERROR, PP_TR31_ERROR_UNKNOWN_VERSION);
  g_clear_error (&error);

  block = pp_tr31_wrap (aes_kbpk, "B0000P0TE00E0000", key16, &error);
  g_assert_error (error, PP_TR31_ERROR, PP_TR31_ERROR_KBPK_LENGTH);
  g_clear_error (&error);

  block = pp_tr31_wrap (tdes_kbpk, "B0000P0TE00E0000", key15, &error);
  g_assert_error (error, PP_TR31_ERROR, PP_TR31_ERROR_KEY_SIZE);
  g_clear_error (&error);

  block = pp_tr31_wrap (aes_kbpk, "D0000D0AB00E0000", key15, &error);
  g_assert_error (error, PP_TR31_ERROR, PP_TR31_ERROR_KEY_SIZE);
  g_clear_error (&error);

  block = pp_tr31_wrap (aes_kbpk, "D0000S0RS00N0000", huge, &error);
  g_assert_error (error, PP_TR31_ERROR, PP_TR31_ERROR_TOO_LONG);
  g_clear_error (&error);

  block = pp_tr31_wrap_with_padding (tdes_kbpk, "B0000P0TE00E0000", key16, pad, 5, &error);
  g_assert_error (error, PP_TR31_ERROR, PP_TR31_ERROR_PADDING);
  g_clear_error (&error);

  block = pp_tr31_wrap_with_padding (aes_kbpk, "D0000P0AE00E0000", key16, pad, 6, &error);
  g_assert_error (error, PP_TR31_ERROR, PP_TR31_ERROR_PADDING);
  g_clear_error (&error);

  /* A PB block that does not align the header is not fixed up. */
  block = pp_tr31_wrap (tdes_kbpk, "B0000P0TE00E0200KS0C00604B12PB06AA", key16, &error);
  g_assert_error (error, PP_TR31_ERROR, PP_TR31_ERROR_HEADER_ALIGNMENT);
  g_clear_error (&error);

  block = pp_tr31_wrap (tdes_kbpk, "B0000M3TE00E0000", key16, &error);
  g_assert_error (error, PP_TR31_ERROR, PP_TR31_ERROR_USAGE_COMBINATION);
  g_clear_error (&error);

  /* PB must come last */
  block = pp_tr31_wrap (tdes_kbpk, "B0000P0TE00E0200PB0400KS0800604B12", key16, &error);
  g_assert_error (error, PP_TR31_ERROR, PP_TR31_ERROR_OPTIONAL_BLOCK_ID);
  g_clear_error (&error);

  /* duplicate ID */
  block = pp_tr31_wrap (tdes_kbpk, "B0000P0TE00E0200LB04LB08ABCD", key16, &error);
  g_assert_error (error, PP_TR31_ERROR, PP_TR31_ERROR_OPTIONAL_BLOCK_ID);
  g_clear_error (&error);
}

typedef struct {
  char        version;
  gsize       kbpk_len;
  char        algorithm;
  gsize       key_len;
} RoundTrip;

static void
test_round_trip (void)
{
  static const RoundTrip trips[] = {
    { 'A', 16, 'T', 8 }, { 'A', 16, 'T', 16 }, { 'A', 24, 'T', 24 }, { 'A', 24, 'T', 16 },
    { 'B', 16, 'T', 8 }, { 'B', 16, 'T', 16 }, { 'B', 24, 'T', 24 }, { 'B', 24, 'T', 16 },
    { 'C', 16, 'T', 8 }, { 'C', 16, 'T', 16 }, { 'C', 24, 'T', 24 }, { 'C', 24, 'T', 16 },
    { 'D', 16, 'T', 16 }, { 'D', 24, 'T', 24 }, { 'D', 32, 'T', 16 },
    { 'D', 16, 'A', 16 }, { 'D', 24, 'A', 24 }, { 'D', 32, 'A', 32 }, { 'D', 32, 'A', 16 },
  };

  for (guint i = 0; i < G_N_ELEMENTS (trips); i++)
    {
      const RoundTrip *t = &trips[i];
      g_autoptr(PpSecureBuffer) kbpk = pp_secure_buffer_new (t->kbpk_len);
      g_autoptr(PpSecureBuffer) key = pp_secure_buffer_new (t->key_len);
      g_autoptr(PpSecureBuffer) back = NULL;
      g_autoptr(PpTr31Header) header = NULL;
      g_autoptr(GError) error = NULL;
      g_autofree char *head = NULL;
      g_autofree char *block = NULL;
      g_autofree char *block2 = NULL;
      g_autofree char *length_field = NULL;
      gsize bs = t->version == 'D' ? 16 : 8;
      gsize hidden = t->algorithm == 'T' ? 24 : 32;
      gsize mac = t->version == 'D' ? 16 : t->version == 'B' ? 8 : 4;
      gsize expected_len;

      for (gsize j = 0; j < t->kbpk_len; j++)
        pp_secure_buffer_get_data (kbpk)[j] = g_test_rand_int_range (0, 256);
      for (gsize j = 0; j < t->key_len; j++)
        pp_secure_buffer_get_data (key)[j] = g_test_rand_int_range (0, 256);

      /* Optional blocks sized so the header stays block aligned. */
      head = g_strdup_printf ("%c9999D0%cB01E0200KS1800604B120F9292800000PB080000",
                              t->version, t->algorithm);
      g_test_message ("round trip %s kbpk %" G_GSIZE_FORMAT " key %" G_GSIZE_FORMAT,
                      head, t->kbpk_len, t->key_len);

      block = pp_tr31_wrap (kbpk, head, key, &error);
      g_assert_no_error (error);
      g_assert_nonnull (block);

      /* Length field filled in; key length hidden by padding. */
      expected_len = strlen (head) + 2 * ((2 + hidden + bs - 1) / bs * bs) + 2 * mac;
      g_assert_cmpuint (strlen (block), ==, expected_len);
      length_field = g_strndup (block + 1, 4);
      g_assert_cmpuint (g_ascii_strtoull (length_field, NULL, 10), ==, expected_len);
      g_assert_true (strncmp (block + 5, head + 5, strlen (head) - 5) == 0);

      back = pp_tr31_unwrap (kbpk, block, &header, &error);
      g_assert_no_error (error);
      g_assert_true (pp_secure_buffer_equal (back, key));
      g_assert_cmpint (header->version, ==, t->version);
      g_assert_cmpstr (header->key_usage, ==, "D0");
      g_assert_cmpint (header->algorithm, ==, t->algorithm);
      g_assert_cmpint (header->mode_of_use, ==, 'B');
      g_assert_cmpstr (header->key_version, ==, "01");
      g_assert_cmpint (header->exportability, ==, 'E');
      g_assert_cmpstr (pp_tr31_header_get_optional_block (header, "KS"), ==,
                       "00604B120F9292800000");

      /* Random padding: the same key wraps differently every time. */
      block2 = pp_tr31_wrap (kbpk, head, key, &error);
      g_assert_no_error (error);
      g_assert_cmpstr (block, !=, block2);
    }
}

static void
test_default_version (void)
{
  g_assert_cmpint (pp_tr31_default_version (PP_KEY_ALGORITHM_TDES), ==, 'B');
  g_assert_cmpint (pp_tr31_default_version (PP_KEY_ALGORITHM_AES), ==, 'D');
}

static void
test_usage_table (void)
{
  g_autoptr(GError) error = NULL;

  g_assert_true (pp_tr31_check_usage ("K0", 'T', 'B', NULL));
  g_assert_true (pp_tr31_check_usage ("D0", 'A', 'D', NULL));
  g_assert_true (pp_tr31_check_usage ("B0", 'T', 'X', NULL));
  g_assert_true (pp_tr31_check_usage ("M3", 'T', 'G', NULL));
  g_assert_true (pp_tr31_check_usage ("V2", 'T', 'V', NULL));
  g_assert_true (pp_tr31_check_usage ("42", 'Z', 'Z', NULL));
  /* X9.143:2021 names E7 an asymmetric key pair for PIN encryption and B2
   * a base key variant key (see the sources above usage_rules[]). */
  g_assert_true (pp_tr31_check_usage ("E7", 'R', 'D', NULL));
  g_assert_true (pp_tr31_check_usage ("B2", 'T', 'Y', NULL));
  g_assert_false (pp_tr31_check_usage ("E7", 'T', 'X', &error));
  g_assert_error (error, PP_TR31_ERROR, PP_TR31_ERROR_USAGE_COMBINATION);
  g_clear_error (&error);
  g_assert_false (pp_tr31_check_usage ("B0", 'T', 'E', &error));
  g_assert_error (error, PP_TR31_ERROR, PP_TR31_ERROR_USAGE_COMBINATION);
  g_clear_error (&error);
  g_assert_false (pp_tr31_check_usage ("M7", 'T', 'C', &error));
  g_assert_error (error, PP_TR31_ERROR, PP_TR31_ERROR_USAGE_COMBINATION);
  g_clear_error (&error);
  g_assert_false (pp_tr31_check_usage ("Q9", 'T', 'C', &error));
  g_assert_error (error, PP_TR31_ERROR, PP_TR31_ERROR_KEY_USAGE);
}

/* An HMAC key names its hash in HM (X9.143); without it the block is
 * refused at wrap and unwrap alike. */
static void
test_hmac_needs_hm (void)
{
  g_autoptr(PpSecureBuffer) kbpk = pp_secure_buffer_new_from_hex ("000102030405060708090A0B0C0D0E0F", NULL);
  g_autoptr(PpSecureBuffer) key = pp_secure_buffer_new_from_hex ("00112233445566778899AABBCCDDEEFF0011223344556677", NULL);
  g_autoptr(PpSecureBuffer) back = NULL;
  g_autoptr(PpTr31Header) header = NULL;
  g_autofree char *block = NULL;
  g_autofree char *stripped = NULL;
  g_autoptr(GError) error = NULL;

  g_assert_null (pp_tr31_wrap (kbpk, "D0000M7HC00E0000", key, &error));
  g_assert_error (error, PP_TR31_ERROR, PP_TR31_ERROR_OPTIONAL_BLOCK_DATA);
  g_clear_error (&error);

  block = pp_tr31_wrap (kbpk, "D0000M7HC00E0200HM0621PB0A000000", key, &error);
  g_assert_no_error (error);
  back = pp_tr31_unwrap (kbpk, block, &header, &error);
  g_assert_no_error (error);
  g_assert_true (pp_secure_buffer_equal (back, key));
  g_assert_cmpstr (pp_tr31_header_get_optional_block (header, "HM"), ==, "21");

  /* The same block claiming no optional blocks: HM is gone, refused before
   * any MAC work. */
  stripped = g_strdup (block);
  stripped[12] = '0';
  stripped[13] = '0';
  g_assert_null (pp_tr31_unwrap (kbpk, stripped, NULL, &error));
  g_assert_error (error, PP_TR31_ERROR, PP_TR31_ERROR_OPTIONAL_BLOCK_DATA);
}

/* Headers that do not fill whole cipher blocks get a PB block. */
static void
test_wrap_adds_pb (void)
{
  static const struct {
    const char *kbpk;
    const char *header;
    const char *expected_header;
  } cases[] = {
    { KBPK_B, "B0000P0TE00E0100KS0C00604B12", "B0112P0TE00E0200KS0C00604B12PB04" },
    /* 30 characters: 2 short of 32, so PB takes 10 */
    { KBPK_B, "B0000P0TE00E0100LB0EABCDEFGHIJ", "B0120P0TE00E0200LB0EABCDEFGHIJPB0A000000" },
    { KBPK_D, "D0000P0AE00E0100KS1800604B120F9292800000", "D0176P0AE00E0200KS1800604B120F9292800000PB080000" },
  };

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autoptr(PpSecureBuffer) kbpk = sb_hex (cases[i].kbpk);
      g_autoptr(PpSecureBuffer) key = sb_hex ("3F419E1CB7079442AA37474C2EFBF8B8");
      g_autoptr(PpSecureBuffer) back = NULL;
      g_autoptr(PpTr31Header) header = NULL;
      g_autoptr(GError) error = NULL;
      g_autofree char *block = NULL;

      block = pp_tr31_wrap (kbpk, cases[i].header, key, &error);
      g_assert_no_error (error);
      g_assert_true (g_str_has_prefix (block, cases[i].expected_header));
      back = pp_tr31_unwrap (kbpk, block, &header, &error);
      g_assert_no_error (error);
      g_assert_true (pp_secure_buffer_equal (back, key));
      g_assert_cmpuint (header->header_length, ==, strlen (cases[i].expected_header));
    }
}

static void
test_header_parse (void)
{
  g_autoptr(PpTr31Header) header = NULL;
  g_autoptr(GError) error = NULL;
  PpTr31OptionalBlock *block;

  /* Extended length form: CT00 04 0020 -> 32 characters. */
  header = pp_tr31_header_parse ("D0000S0RS00N0300CT0004001AMIIB+/abcdef0123KP0A01ABCDPB0C00000000",
                                 &error);
  g_assert_no_error (error);
  g_assert_cmpuint (header->optional_blocks->len, ==, 3);
  block = g_ptr_array_index (header->optional_blocks, 0);
  g_assert_cmpstr (block->id, ==, "CT");
  g_assert_cmpstr (block->data, ==, "MIIB+/abcdef0123");
  g_assert_cmpstr (pp_tr31_header_get_optional_block (header, "KP"), ==, "01ABCD");
  g_assert_cmpstr (pp_tr31_header_get_optional_block (header, "PB"), ==, "00000000");
  g_assert_null (pp_tr31_header_get_optional_block (header, "KS"));
  g_assert_cmpuint (header->header_length, ==, 64);
  g_clear_pointer (&header, pp_tr31_header_free);

  /* Proprietary optional block IDs (leading digit) are accepted. */
  header = pp_tr31_header_parse ("B0000P0TE00E010010081234", &error);
  g_assert_no_error (error);
  g_assert_cmpstr (pp_tr31_header_get_optional_block (header, "10"), ==, "1234");
}

/* Every single-byte change must be refused, never crash. Changing the case
 * of a hex digit in the encrypted part or MAC is not a change (lower-case hex
 * is accepted there), so those are skipped. */
static void
check_tamper (const char *kbpk_hex,
              const char *block)
{
  g_autoptr(PpSecureBuffer) kbpk = sb_hex (kbpk_hex);
  g_autoptr(PpTr31Header) header = pp_tr31_header_parse (block, NULL);
  g_autofree char *copy = g_strdup (block);
  gsize len = strlen (block);

  g_assert_nonnull (header);
  for (gsize i = 0; i < len; i++)
    {
      for (guint v = 1; v < 256; v++)
        {
          g_autoptr(PpSecureBuffer) key = NULL;
          g_autoptr(GError) error = NULL;

          if ((char) v == block[i])
            continue;
          if (i >= header->header_length && g_ascii_isxdigit ((char) v) &&
              g_ascii_tolower ((char) v) == g_ascii_tolower (block[i]))
            continue;

          copy[i] = (char) v;
          key = pp_tr31_unwrap (kbpk, copy, NULL, &error);
          if (key != NULL)
            g_error ("change of byte %" G_GSIZE_FORMAT " to 0x%02x accepted", i, v);
          g_assert_nonnull (error);
          g_assert_true (error->domain == PP_TR31_ERROR);
        }
      copy[i] = block[i];
    }

  /* Truncated at every length, and one character longer. */
  for (gsize i = 0; i < len; i++)
    {
      g_autofree char *cut = g_strndup (block, i);
      g_autoptr(GError) error = NULL;

      g_assert_null (pp_tr31_unwrap (kbpk, cut, NULL, &error));
      g_assert_nonnull (error);
    }
  {
    g_autofree char *longer = g_strconcat (block, "0", NULL);
    g_autoptr(GError) error = NULL;

    g_assert_null (pp_tr31_unwrap (kbpk, longer, NULL, &error));
    g_assert_error (error, PP_TR31_ERROR, PP_TR31_ERROR_LENGTH_MISMATCH);
  }
}

static void
test_tamper (void)
{
  check_tamper (KBPK_A, BLOCK_A);
  check_tamper (KBPK_B, BLOCK_B);
  check_tamper (KBPK_C, BLOCK_C);
  check_tamper (KBPK_D, BLOCK_D);
  check_tamper (KBPK_KS, BLOCK_KS);
  check_tamper (KBPK_82, BLOCK_82);
  check_tamper (KBPK_MOOV, BLOCK_MOOV);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/tr31/derivation", test_derivation);
  g_test_add_func ("/tr31/unwrap/standard", test_unwrap_standard);
  g_test_add_func ("/tr31/unwrap/psec", test_unwrap_psec);
  g_test_add_func ("/tr31/unwrap/misc", test_unwrap_misc);
  g_test_add_func ("/tr31/wrap/deterministic", test_wrap_deterministic);
  g_test_add_func ("/tr31/wrap/errors", test_wrap_errors);
  g_test_add_func ("/tr31/wrap/adds-pb", test_wrap_adds_pb);
  g_test_add_func ("/tr31/wrap/default-version", test_default_version);
  g_test_add_func ("/tr31/round-trip", test_round_trip);
  g_test_add_func ("/tr31/negative/psec", test_negative_psec);
  g_test_add_func ("/tr31/negative/specific", test_negative_specific);
  g_test_add_func ("/tr31/negative/after-mac", test_after_mac);
  g_test_add_func ("/tr31/kc-block", test_kc_block);
  g_test_add_func ("/tr31/usage-table", test_usage_table);
  g_test_add_func ("/tr31/hmac-needs-hm", test_hmac_needs_hm);
  g_test_add_func ("/tr31/header-parse", test_header_parse);
  g_test_add_func ("/tr31/tamper", test_tamper);
  return g_test_run ();
}
