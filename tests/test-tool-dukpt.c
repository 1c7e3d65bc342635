/* SPDX-License-Identifier: GPL-3.0-or-later
 *
 * test-tool-dukpt.c: runs the real posprov-tool dukpt as a user would and
 * checks what it prints against the published values in
 * tests/vectors/dukpt/ (ANSI X9.24-1:2009 Annex A.4 and ANSI
 * X9.24-3:2017 supplement vectors via openemv/dukpt commit 1d01ddaf; the
 * DUKPT2000 table of marianovolker/jmps-public commit b2ca4a69; see
 * test-dukpt.c for the file-by-file sources), and the error contract:
 * non-zero exit, nothing on stdout, one line on stderr.
 */
#include "config.h"

#include <string.h>

#include "pp-block-cipher.h"
#include "pp-hex.h"
#include "pp-kcv.h"
#include "pp-test-util.h"

static const char *
member (JsonObject *o,
        const char *name)
{
  g_assert_true (json_object_has_member (o, name));
  return json_object_get_string_member (o, name);
}

static JsonObject *
common_of (JsonParser *parser)
{
  return json_object_get_object_member (json_node_get_object (json_parser_get_root (parser)),
                                        "common");
}

/* Compares printed keys without putting them in the test output. */
static void
assert_key_hex (const char *got,
                const char *expected,
                const char *what)
{
  if (g_strcmp0 (got, expected) != 0)
    {
      g_test_message ("%s: the printed key differs from the published value", what);
      g_assert_not_reached ();
    }
}

/* Runs the tool, expects success and returns stdout without the newline. */
static char *
run_ok (const char * const *argv)
{
  g_autofree char *out = NULL;
  g_autofree char *err = NULL;
  int status = pp_test_run_tool (argv, NULL, &out, &err);

  if (status != 0)
    g_test_message ("%s %s failed: %s", argv[0], argv[1], err);
  g_assert_cmpint (status, ==, 0);
  g_assert_cmpstr (err, ==, "");
  g_assert_true (g_str_has_suffix (out, "\n"));
  g_assert_true (strchr (out, '\n') == out + strlen (out) - 1);
  out[strlen (out) - 1] = '\0';

  return g_steal_pointer (&out);
}

static char *
derive (const char *bdk,
        const char *ksn,
        const char *usage,
        const char *key_type)
{
  const char *argv[] = { "dukpt", "key", "--bdk", bdk, "--ksn", ksn, "--usage", usage,
                         key_type != NULL ? "--key-type" : NULL, key_type, NULL };

  return run_ok (argv);
}

/* Expects failure: non-zero exit, empty stdout and one stderr line that
 * contains @needle. */
static void
assert_fails (const char * const *argv,
              const char         *needle)
{
  g_autofree char *out = NULL;
  g_autofree char *err = NULL;
  int status = pp_test_run_tool (argv, NULL, &out, &err);

  g_assert_cmpint (status, !=, 0);
  g_assert_true (out[0] == '\0');
  g_assert_true (g_str_has_prefix (err, "posprov-tool: "));
  g_assert_true (g_str_has_suffix (err, "\n"));
  g_assert_true (strchr (err, '\n') == err + strlen (err) - 1);
  if (strstr (err, needle) == NULL)
    g_test_message ("stderr “%s” lacks “%s”", err, needle);
  g_assert_nonnull (strstr (err, needle));
}

static void
test_tool_tdes (void)
{
  g_autoptr(JsonParser) parser = NULL;
  JsonArray *cases = pp_test_vector_cases ("dukpt/tdes_dukpt_x9.24-1-2009.json", &parser);
  g_autofree char *bdk_lower = NULL;
  g_autofree char *ipek = NULL;
  JsonObject *common;
  const char *bdk;
  guint8 padded[24] = { 0 };


  common = common_of (parser);
  bdk = member (common, "bdk");

  /* Lower-case hex in, upper-case out. */
  bdk_lower = g_ascii_strdown (bdk, -1);
  {
    g_autofree char *ksn_lower = g_ascii_strdown (member (common, "initial_ksn"), -1);
    const char *argv[] = { "dukpt", "ipek", "--bdk", bdk_lower, "--ksn", ksn_lower, NULL };

    ipek = run_ok (argv);
    assert_key_hex (ipek, member (common, "expected_ipek"), "IPEK");
  }

  pp_hex_decode_into (member (common, "mac_and_data_input_hex"), padded,
                      strlen (member (common, "mac_and_data_input_hex")) / 2);

  for (guint i = 0; i < json_array_get_length (cases); i++)
    {
      JsonObject *c = json_array_get_object_element (cases, i);
      const char *ksn = member (c, "ksn");
      g_autofree char *tk = derive (bdk, ksn, "transaction", NULL);

      g_test_message ("%s", member (c, "id"));
      assert_key_hex (tk, member (c, "transaction_key"), member (c, "id"));

      /* The data key, checked through the published request ciphertext. */
      if (i < 3 || i == json_array_get_length (cases) - 1)
        {
          g_autofree char *data = derive (bdk, ksn, "data", NULL);
          guint8 key[16], ct[24];
          g_autofree char *ct_hex = NULL;

          g_assert_cmpuint (strlen (data), ==, 32);
          pp_hex_decode_into (data, key, 16);
          g_assert_true (pp_block_cipher_tdes_cbc (key, 16, TRUE, NULL, padded, ct, 24));
          ct_hex = pp_hex_encode (ct, 24);
          g_assert_cmpstr (ct_hex, ==, member (c, "encrypted_request_data"));
        }
    }
}

static void
test_tool_tdes_variants (void)
{
  g_autoptr(JsonParser) parser = NULL;
  JsonArray *cases = pp_test_vector_cases ("dukpt/tdes_dukpt_variant_keys_secondary.json",
                                           &parser);
  /* The secondary file gives the IPEK only; A.4's BDK is the same device. */
  const char *bdk = "0123456789ABCDEFFEDCBA9876543210";
  guint n;


  n = json_array_get_length (cases);
  for (guint i = 0; i < n; i++)
    {
      JsonObject *c = json_array_get_object_element (cases, i);
      g_autofree char *pin = derive (bdk, member (c, "ksn"), "pin", NULL);
      g_autofree char *mac = derive (bdk, member (c, "ksn"), "mac", "tdes2");

      g_test_message ("%s", member (c, "id"));
      assert_key_hex (pin, member (c, "pin_key"), member (c, "id"));
      assert_key_hex (mac, member (c, "mac_request_key"), member (c, "id"));
    }
}

static void
test_tool_aes (gconstpointer data)
{
  const char *file = data;
  g_autoptr(JsonParser) parser = NULL;
  JsonArray *cases = pp_test_vector_cases (file, &parser);
  static const struct { const char *prefix; const char *usage; } fields[] = {
    { "pin_key_", "pin" },
    { "mac_gen_key_", "mac" },
    { "data_enc_key_", "data" },
  };
  JsonObject *common;
  const char *bdk;
  guint working = 0;


  common = common_of (parser);
  bdk = member (common, "bdk");
  {
    const char *argv[] = { "dukpt", "ipek", "--bdk", bdk,
                           "--initial-key-id", member (common, "initial_key_id"), NULL };
    g_autofree char *ik = run_ok (argv);

    assert_key_hex (ik, member (common, "expected_initial_key"), file);
  }

  for (guint i = 0; i < json_array_get_length (cases); i++)
    {
      JsonObject *c = json_array_get_object_element (cases, i);
      const char *ksn = member (c, "ksn");
      g_autofree char *tk = derive (bdk, ksn, "transaction", NULL);
      g_autoptr(GList) names = json_object_get_members (c);

      g_test_message ("%s %s", file, member (c, "id"));
      assert_key_hex (tk, member (c, "transaction_key"), member (c, "id"));

      for (GList *l = names; l != NULL; l = l->next)
        for (guint f = 0; f < G_N_ELEMENTS (fields); f++)
          if (g_str_has_prefix (l->data, fields[f].prefix))
            {
              const char *type = (const char *) l->data + strlen (fields[f].prefix);
              g_autofree char *wk = derive (bdk, ksn, fields[f].usage, type);

              assert_key_hex (wk, member (c, l->data), l->data);
              working++;
            }
    }
  g_assert_cmpuint (working, >=, 24);
}

static void
test_tool_json (void)
{
  const char *argv[] = { "dukpt", "key", "--bdk", "0123456789ABCDEFFEDCBA9876543210",
                         "--ksn", "FFFF9876543210E00001", "--usage", "pin", "--json", NULL };
  const char *argv_aes[] = { "dukpt", "ipek", "--bdk", "FEDCBA9876543210F1F1F1F1F1F1F1F1",
                             "--initial-key-id", "1234567890123456", "--json", NULL };
  g_autofree char *out = run_ok (argv);
  g_autofree char *out_aes = run_ok (argv_aes);
  g_autoptr(JsonParser) parser = json_parser_new ();
  g_autoptr(GError) error = NULL;
  g_autoptr(PpSecureBuffer) key = NULL;
  g_autofree char *kcv = NULL;
  JsonObject *o;

  /* The PIN key of A.4 KSN ...E00001 (secondary table, jmps-E00001). */
  json_parser_load_from_data (parser, out, -1, &error);
  g_assert_no_error (error);
  o = json_node_get_object (json_parser_get_root (parser));
  g_assert_cmpstr (member (o, "dukpt"), ==, "tdes");
  g_assert_cmpstr (member (o, "key_usage"), ==, "pin");
  g_assert_cmpstr (member (o, "key_type"), ==, "tdes2");
  assert_key_hex (member (o, "key"), "042666B49184CF5C68DE9628D0397B36", "JSON PIN key");
  key = pp_secure_buffer_new_from_hex ("042666B49184CF5C68DE9628D0397B36", NULL);
  kcv = pp_kcv_compute (PP_KEY_ALGORITHM_TDES, key, 3, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (member (o, "kcv"), ==, kcv);

  json_parser_load_from_data (parser, out_aes, -1, &error);
  g_assert_no_error (error);
  o = json_node_get_object (json_parser_get_root (parser));
  g_assert_cmpstr (member (o, "dukpt"), ==, "aes");
  g_assert_cmpstr (member (o, "key_type"), ==, "aes128");
  assert_key_hex (member (o, "key"), "1273671EA26AC29AFA4D1084127652A1", "JSON initial key");
  g_assert_cmpuint (strlen (member (o, "kcv")), ==, 10);
}

static void
test_tool_errors (void)
{
  const char *tdes_bdk = "0123456789ABCDEFFEDCBA9876543210";
  const char *aes_bdk = "FEDCBA9876543210F1F1F1F1F1F1F1F1";
  struct {
    const char *argv[12];
    const char *needle;
  } cases[] = {
    { { "dukpt", "key", "--ksn", "FFFF9876543210E00001", "--usage", "pin", NULL },
      "--bdk is required" },
    { { "dukpt", "key", "--bdk", "0123456789ABCDEFFEDCBA987654321G", "--ksn",
        "FFFF9876543210E00001", "--usage", "pin", NULL }, "--bdk" },
    { { "dukpt", "key", "--bdk", tdes_bdk, "--usage", "pin", NULL }, "--ksn is required" },
    { { "dukpt", "key", "--bdk", tdes_bdk, "--ksn", "FFFF9876543210E00001", NULL },
      "--usage is required" },
    { { "dukpt", "key", "--bdk", tdes_bdk, "--ksn", "FFFF9876543210E0000100", "--usage", "pin",
        NULL }, "10 bytes" },
    { { "dukpt", "key", "--bdk", tdes_bdk, "--ksn", "FFFF9876543210E00001", "--usage", "pins",
        NULL }, "unknown usage" },
    { { "dukpt", "key", "--bdk", tdes_bdk, "--ksn", "FFFF9876543210E00000", "--usage", "pin",
        NULL }, "counter is zero" },
    { { "dukpt", "key", "--bdk", tdes_bdk, "--ksn", "FFFF9876543210E007FF", "--usage",
        "transaction", NULL }, "11 one bits" },
    { { "dukpt", "key", "--bdk", "0123456789ABCDEFFEDCBA98765432100123456789ABCDEF", "--ksn",
        "FFFF9876543210E00001", "--usage", "pin", NULL }, "BDK" },
    { { "dukpt", "key", "--bdk", tdes_bdk, "--ksn", "FFFF9876543210E00001", "--usage",
        "mac-both", NULL }, "AES DUKPT" },
    { { "dukpt", "key", "--bdk", tdes_bdk, "--ksn", "FFFF9876543210E00001", "--usage", "pin",
        "--key-type", "aes128", NULL }, "tdes2" },
    { { "dukpt", "key", "--bdk", aes_bdk, "--ksn", "12345678901234560001FFFF", "--usage",
        "transaction", NULL }, "17 one bits" },
    { { "dukpt", "key", "--bdk", aes_bdk, "--ksn", "123456789012345600000000", "--usage",
        "pin", NULL }, "counter is zero" },
    { { "dukpt", "key", "--bdk", aes_bdk, "--ksn", "123456789012345600000001", "--usage",
        "pin", "--key-type", "aes256", NULL }, "stronger" },
    { { "dukpt", "key", "--bdk", aes_bdk, "--ksn", "123456789012345600000001", "--usage",
        "pin", "--key-type", "aes512", NULL }, "unknown key type" },
    { { "dukpt", "key", "--bdk", aes_bdk, "--ksn", "123456789012345600000001", "--usage",
        "transaction", "--key-type", "tdes2", NULL }, "BDK's type" },
    { { "dukpt", "key", "--bdk", aes_bdk, "--ksn", "123456789012345600000001", "--usage",
        "mac-response", NULL }, "TDES DUKPT" },
    { { "dukpt", "key", "--bdk", "00112233445566778899AABBCCDDEEFF0011", "--ksn",
        "123456789012345600000001", "--usage", "pin", NULL }, "16, 24 or 32 bytes" },
    { { "dukpt", "ipek", "--bdk", tdes_bdk, NULL }, "either --ksn" },
    { { "dukpt", "ipek", "--bdk", aes_bdk, "--ksn", "FFFF9876543210E00001",
        "--initial-key-id", "1234567890123456", NULL }, "either --ksn" },
    { { "dukpt", "ipek", "--bdk", aes_bdk, "--initial-key-id", "12345678901234", NULL },
      "initial key ID is 8 bytes" },
    { { "dukpt", "ipek", "--bdk", aes_bdk, "--initial-key-id", "1234567890123456",
        "--key-type", "tdes3", NULL }, "AES key" },
    { { "dukpt", "ipek", "--bdk", tdes_bdk, "--ksn", "FFFF9876543210E00001", "--key-type",
        "tdes2", NULL }, "--key-type" },
    { { "dukpt", "ipek", "--bdk", tdes_bdk, "--ksn", "FFFF9876543210E0", NULL },
      "KSN is 10 bytes" },
    { { "dukpt", "ipek", "--bdk", tdes_bdk, "--ksn", "FFFF9876543210E00001", "extra", NULL },
      "unexpected argument" },
    { { "dukpt", "derive", NULL }, "unknown command" },
  };

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_test_message ("error case %u", i);
      assert_fails (cases[i].argv, cases[i].needle);
    }
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/tool/dukpt/tdes", test_tool_tdes);
  g_test_add_func ("/tool/dukpt/tdes-variants", test_tool_tdes_variants);
  g_test_add_data_func ("/tool/dukpt/aes128-bdk", "dukpt/aes_dukpt_x9.24-3-2017_aes128_bdk.json",
                        test_tool_aes);
  g_test_add_data_func ("/tool/dukpt/aes256-bdk", "dukpt/aes_dukpt_x9.24-3-2017_aes256_bdk.json",
                        test_tool_aes);
  g_test_add_func ("/tool/dukpt/json", test_tool_json);
  g_test_add_func ("/tool/dukpt/errors", test_tool_errors);
  return g_test_run ();
}
