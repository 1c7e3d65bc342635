/* SPDX-License-Identifier: GPL-3.0-or-later
 *
 * test-tool-crypto.c: posprov-tool kcv and tr31, run as a user runs them.
 *
 * Vectors: tests/vectors/kcv/kcv_vectors.json (openemv/tr31
 * test/tr31_decrypt_test.c commit d230c2846686d92cf36775141250b3a5fe814363,
 * X9.143 KP blocks, chhil/TR31Keyblock; each case names its source), and
 * key blocks from ASC X9 TR-31:2018 Annex A.7.3.2 (version B with a KS
 * block) and A.7.4 (version D), as published and as collected in
 * tests/vectors/tr31/tr31_unwrap_standard_examples.json, plus the
 * moov-io/tr31 lower-case block (pkg/tr31/tr31_test.go commit
 * 1d689d0e88e4ac765c57e31d1a526f5a9dc9af75, Test_Unwrap_Apple_Proximity).
 */
#include "config.h"

#include <string.h>

#include "pp-test-util.h"

#define KBPK_KS  "1D22BF32387C600AD97F9B97A51311AC"
#define BLOCK_KS "B0104B0TX12S0100KS1800604B120F9292800000BB68BE8680A400D9191AD4ECE45B6E6C0D21C4738A52190E248719E24B433627"
#define KEY_KS   "E8BC63E5479455E26577F715D587FE68"
#define KBPK_D   "88E1AB2A2E3DD38C1FA039A536500CC8A87AB9D62DC92C01058FA79F44657DE6"
#define BLOCK_D  "D0112P0AE00E0000B82679114F470F540165EDFBF7E250FCEA43F810D215F8D207E2E417C07156A27E8E31DA05F7425509593D03A457DC34"
#define KEY_D    "3F419E1CB7079442AA37474C2EFBF8B8"
#define KBPK_MOOV  "000102030405060708090A0B0C0D0E0F"
#define BLOCK_MOOV "D0112D0AD00E00009ef4ff063d9757987d1768a1e317a6530de7d8ac81972c19a3659afb28e8d35f48aaa5b0f124e73893163e9a020ae5f3"
#define KEY_MOOV   "B9517FF24FD4C71833478D424C29751D"

/* Runs the tool and expects success; returns stdout without the newline. */
static char *
run_ok (const char * const *argv)
{
  g_autofree char *out = NULL;
  g_autofree char *err = NULL;
  int status = pp_test_run_tool (argv, NULL, &out, &err);

  if (status != 0)
    g_error ("%s %s failed (%d): %s", argv[0], argv[1], status, err);
  g_assert_cmpint (status, ==, 0);
  g_assert_true (g_str_has_suffix (out, "\n"));
  out[strlen (out) - 1] = '\0';
  return g_steal_pointer (&out);
}

/* Expects failure: non-zero exit, nothing on stdout, exactly one line on
 * stderr that names the tool. Returns that line. */
static char *
run_fail (const char * const *argv)
{
  g_autofree char *out = NULL;
  g_autofree char *err = NULL;
  int status = pp_test_run_tool (argv, NULL, &out, &err);
  const char *nl;

  g_assert_cmpint (status, !=, 0);
  g_assert_cmpstr (out, ==, "");
  g_assert_true (g_str_has_prefix (err, "posprov-tool: "));
  nl = strchr (err, '\n');
  g_assert_nonnull (nl);
  g_assert_cmpstr (nl + 1, ==, "");
  return g_steal_pointer (&err);
}

static void
test_kcv_vectors (void)
{
  g_autoptr(JsonParser) parser = NULL;
  JsonArray *cases = pp_test_vector_cases ("kcv/kcv_vectors.json", &parser);
  gboolean tdes_default = FALSE, aes_default = FALSE;


  for (guint i = 0; i < json_array_get_length (cases); i++)
    {
      JsonObject *c = json_array_get_object_element (cases, i);
      const char *alg = g_str_equal (json_object_get_string_member (c, "key_algorithm"), "AES")
                        ? "aes" : "tdes";
      const char *key = json_object_get_string_member (c, "key");
      const char *expected = json_object_get_string_member (c, "expected_kcv");
      g_autofree char *length = g_strdup_printf ("%" G_GINT64_FORMAT,
                                                 json_object_get_int_member (c, "kcv_length"));
      g_autofree char *lower = g_ascii_strdown (key, -1);
      const char *argv[] = { "kcv", "--algorithm", alg, "--length", length, key, NULL };
      const char *argv_lower[] = { "kcv", "--algorithm", alg, "--length", length, lower, NULL };
      g_autofree char *out = NULL;
      g_autofree char *out_lower = NULL;

      g_test_message ("kcv %s", json_object_get_string_member (c, "id"));
      out = run_ok (argv);
      g_assert_cmpstr (out, ==, expected);
      out_lower = run_ok (argv_lower);
      g_assert_cmpstr (out_lower, ==, expected);

      /* Default lengths: 3 bytes for TDES, 5 for AES. */
      if ((g_str_equal (alg, "tdes") && strlen (expected) == 6) ||
          (g_str_equal (alg, "aes") && strlen (expected) == 10))
        {
          const char *argv_default[] = { "kcv", "--algorithm", alg, key, NULL };
          g_autofree char *out_default = run_ok (argv_default);

          g_assert_cmpstr (out_default, ==, expected);
          if (g_str_equal (alg, "tdes"))
            tdes_default = TRUE;
          else
            aes_default = TRUE;
        }
    }
  g_assert_true (tdes_default);
  g_assert_true (aes_default);
}

static void
test_kcv_errors (void)
{
  const char *no_alg[] = { "kcv", "5DB50B454F8389ADCE573BE50861F2BF", NULL };
  const char *bad_alg[] = { "kcv", "--algorithm", "des", "5DB50B454F8389ADCE573BE50861F2BF", NULL };
  const char *bad_hex[] = { "kcv", "--algorithm", "tdes", "5DB50B454F8389ADCE573BE50861F2BG", NULL };
  const char *bad_len[] = { "kcv", "--algorithm", "tdes", "5DB50B454F8389ADCE573BE50861F2", NULL };
  const char *too_short[] = { "kcv", "--algorithm", "aes", "--length", "1",
                              "3F419E1CB7079442AA37474C2EFBF8B8", NULL };
  const char *too_long[] = { "kcv", "--algorithm", "tdes", "--length", "9",
                             "5DB50B454F8389ADCE573BE50861F2BF", NULL };
  const char *no_key[] = { "kcv", "--algorithm", "tdes", NULL };
  const char *two_keys[] = { "kcv", "--algorithm", "tdes", "00", "11", NULL };
  const char * const *all[] = { no_alg, bad_alg, bad_hex, bad_len, too_short, too_long,
                                no_key, two_keys };

  for (guint i = 0; i < G_N_ELEMENTS (all); i++)
    g_free (run_fail (all[i]));
}

static void
test_tr31_unwrap (void)
{
  const char *argv[] = { "tr31", "unwrap", "--kbpk", KBPK_KS, BLOCK_KS, NULL };
  const char *argv_d[] = { "tr31", "unwrap", "--kbpk", KBPK_D, BLOCK_D, NULL };
  g_autofree char *out = run_ok (argv);
  g_autofree char *out_d = run_ok (argv_d);

  g_assert_true (g_str_equal (out, KEY_KS));
  g_assert_true (g_str_equal (out_d, KEY_D));
}

static void
test_tr31_unwrap_json (void)
{
  const char *argv[] = { "tr31", "unwrap", "--json", "--kbpk", KBPK_KS, BLOCK_KS, NULL };
  g_autofree char *out = run_ok (argv);
  g_autoptr(JsonParser) parser = json_parser_new ();
  g_autoptr(GError) error = NULL;
  JsonObject *root, *header, *block;
  JsonArray *blocks;

  /* One JSON object on one line. */
  g_assert_null (strchr (out, '\n'));
  json_parser_load_from_data (parser, out, -1, &error);
  g_assert_no_error (error);
  root = json_node_get_object (json_parser_get_root (parser));
  g_assert_nonnull (root);
  g_assert_true (g_str_equal (json_object_get_string_member (root, "key"), KEY_KS));

  header = json_object_get_object_member (root, "header");
  g_assert_cmpstr (json_object_get_string_member (header, "version"), ==, "B");
  g_assert_cmpstr (json_object_get_string_member (header, "key_usage"), ==, "B0");
  g_assert_cmpstr (json_object_get_string_member (header, "algorithm"), ==, "T");
  g_assert_cmpstr (json_object_get_string_member (header, "mode_of_use"), ==, "X");
  g_assert_cmpstr (json_object_get_string_member (header, "key_version"), ==, "12");
  g_assert_cmpstr (json_object_get_string_member (header, "exportability"), ==, "S");
  blocks = json_object_get_array_member (header, "optional_blocks");
  g_assert_cmpuint (json_array_get_length (blocks), ==, 1);
  block = json_array_get_object_element (blocks, 0);
  g_assert_cmpstr (json_object_get_string_member (block, "id"), ==, "KS");
  g_assert_cmpstr (json_object_get_string_member (block, "data"), ==, "00604B120F9292800000");
}

static void
test_tr31_round_trip (void)
{
  static const struct {
    const char *kbpk;
    const char *header;
    const char *key;
    const char *expected_header;
  } trips[] = {
    /* the length digits given are replaced, whatever they are */
    { KBPK_D, "D0000P0AE00E0000", "3f419e1cb7079442aa37474c2efbf8b8", "D0144P0AE00E0000" },
    { KBPK_D, "DXXXXD0AB00N0000", "8C326037F8910BBFDBC267E5101DFBF9480433028D5E67B34673440F8ACEC972",
      "D0144D0AB00N0000" },
    { KBPK_KS, "B1234B0TX12S0100KS1800604B120F9292800000", KEY_KS,
      "B0120B0TX12S0100KS1800604B120F9292800000" },
    /* not block aligned: the tool adds the PB block */
    { KBPK_KS, "B0000B0TX12S0100KS1400604B120F929280", KEY_KS,
      "B0120B0TX12S0200KS1400604B120F929280PB04" },
  };

  for (guint i = 0; i < G_N_ELEMENTS (trips); i++)
    {
      const char *wrap[] = { "tr31", "wrap", "--kbpk", trips[i].kbpk, "--header", trips[i].header,
                             "--key", trips[i].key, NULL };
      g_autofree char *block = run_ok (wrap);
      g_autofree char *lower_kbpk = g_ascii_strdown (trips[i].kbpk, -1);
      const char *unwrap[] = { "tr31", "unwrap", "--kbpk", lower_kbpk, block, NULL };
      g_autofree char *key = NULL;
      g_autofree char *upper_key = g_ascii_strup (trips[i].key, -1);
      g_autofree char *length = NULL;

      g_assert_true (g_str_has_prefix (block, trips[i].expected_header));
      length = g_strndup (block + 1, 4);
      g_assert_cmpuint (g_ascii_strtoull (length, NULL, 10), ==, strlen (block));

      key = run_ok (unwrap);
      g_assert_true (g_str_equal (key, upper_key));
    }
}

/* A and C still wrap (legacy terminals) but say they are deprecated. */
static void
test_tr31_wrap_deprecated (void)
{
  const char *versions[] = { "A0000P0TE00E0000", "C0000P0TE00E0000" };

  for (guint i = 0; i < G_N_ELEMENTS (versions); i++)
    {
      const char *wrap[] = { "tr31", "wrap", "--kbpk", KBPK_KS, "--header", versions[i],
                             "--key", KEY_KS, NULL };
      g_autofree char *out = NULL;
      g_autofree char *err = NULL;
      g_autofree char *key = NULL;
      int status = pp_test_run_tool (wrap, NULL, &out, &err);

      g_assert_cmpint (status, ==, 0);
      g_assert_cmpint (out[0], ==, versions[i][0]);
      g_assert_nonnull (strstr (err, "deprecated"));
      g_assert_cmpstr (strchr (err, '\n') + 1, ==, "");
      out[strlen (out) - 1] = '\0';
      {
        const char *unwrap[] = { "tr31", "unwrap", "--kbpk", KBPK_KS, out, NULL };

        key = run_ok (unwrap);
        g_assert_true (g_str_equal (key, KEY_KS));
      }
    }
}

static void
test_tr31_lower_case (void)
{
  g_autofree char *lower_block = NULL;
  const char *argv[] = { "tr31", "unwrap", "--kbpk", KBPK_MOOV, BLOCK_MOOV, NULL };
  g_autofree char *out = run_ok (argv);

  g_assert_true (g_str_equal (out, KEY_MOOV));

  /* Lower-case encrypted part and MAC of a standard block, lower-case KBPK. */
  lower_block = g_strdup (BLOCK_D);
  for (char *p = lower_block + 16; *p; p++)
    *p = g_ascii_tolower (*p);
  {
    g_autofree char *kbpk = g_ascii_strdown (KBPK_D, -1);
    const char *argv2[] = { "tr31", "unwrap", "--kbpk", kbpk, lower_block, NULL };
    g_autofree char *out2 = run_ok (argv2);

    g_assert_true (g_str_equal (out2, KEY_D));
  }
}

static void
test_tr31_errors (void)
{
  g_autofree char *altered = g_strdup (BLOCK_D);
  const char *wrong_kbpk[] = { "tr31", "unwrap", "--kbpk",
                               "88E1AB2A2E3DD38C1FA039A536500CC8A87AB9D62DC92C01058FA79F44657DE7",
                               BLOCK_D, NULL };
  const char *altered_block[] = { "tr31", "unwrap", "--kbpk", KBPK_D, altered, NULL };
  const char *bad_kbpk_hex[] = { "tr31", "unwrap", "--kbpk", "XYZ", BLOCK_D, NULL };
  const char *no_kbpk[] = { "tr31", "unwrap", BLOCK_D, NULL };
  const char *no_block[] = { "tr31", "unwrap", "--kbpk", KBPK_D, NULL };
  const char *bad_length[] = { "tr31", "unwrap", "--kbpk", KBPK_D, "D0111P0AE00E0000", NULL };
  const char *unknown_version[] = { "tr31", "unwrap", "--kbpk", KBPK_D,
                                    "E0016P0AE00E0000", NULL };
  const char *wrap_no_key[] = { "tr31", "wrap", "--kbpk", KBPK_D, "--header", "D0000P0AE00E0000",
                                NULL };
  const char *wrap_no_header[] = { "tr31", "wrap", "--kbpk", KBPK_D, "--key", KEY_D, NULL };
  const char *wrap_bad_header[] = { "tr31", "wrap", "--kbpk", KBPK_D, "--header",
                                    "D0000M3AE00E0000", "--key", KEY_D, NULL };
  const char *wrap_kbpk_size[] = { "tr31", "wrap", "--kbpk", KBPK_D, "--header",
                                   "B0000P0TE00E0000", "--key", KEY_D, NULL };
  const char *wrap_bad_key[] = { "tr31", "wrap", "--kbpk", KBPK_D, "--header",
                                 "D0000P0AE00E0000", "--key", "3F41Z", NULL };
  const char *unknown_option[] = { "tr31", "unwrap", "--frob", NULL };
  const char *unknown_command[] = { "tr31", "frob", NULL };
  g_autofree char *mac_message = NULL;

  altered[40] = altered[40] == '0' ? '1' : '0';
  mac_message = run_fail (wrong_kbpk);
  g_assert_nonnull (strstr (mac_message, "MAC"));
  g_free (run_fail (altered_block));
  g_free (run_fail (bad_kbpk_hex));
  g_free (run_fail (no_kbpk));
  g_free (run_fail (no_block));
  g_free (run_fail (bad_length));
  g_free (run_fail (unknown_version));
  g_free (run_fail (wrap_no_key));
  g_free (run_fail (wrap_no_header));
  g_free (run_fail (wrap_bad_header));
  g_free (run_fail (wrap_kbpk_size));
  g_free (run_fail (wrap_bad_key));
  g_free (run_fail (unknown_option));
  g_free (run_fail (unknown_command));
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/tool-crypto/kcv/vectors", test_kcv_vectors);
  g_test_add_func ("/tool-crypto/kcv/errors", test_kcv_errors);
  g_test_add_func ("/tool-crypto/tr31/unwrap", test_tr31_unwrap);
  g_test_add_func ("/tool-crypto/tr31/unwrap-json", test_tr31_unwrap_json);
  g_test_add_func ("/tool-crypto/tr31/round-trip", test_tr31_round_trip);
  g_test_add_func ("/tool-crypto/tr31/lower-case", test_tr31_lower_case);
  g_test_add_func ("/tool-crypto/tr31/wrap-deprecated", test_tr31_wrap_deprecated);
  g_test_add_func ("/tool-crypto/tr31/errors", test_tr31_errors);
  return g_test_run ();
}
