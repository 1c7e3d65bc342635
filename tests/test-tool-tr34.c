/* SPDX-License-Identifier: GPL-3.0-or-later
 *
 * test-tool-tr34.c: the real posprov-tool tr34 as a user runs it:
 * kdh-token then krd-receive --json on a fresh test PKI, inspect --json
 * (also on the ASC X9 TR 34-2019 Annex B sample B.9 from
 * tests/vectors/tr34), and the one-line errors.
 */
#include "config.h"

#include <string.h>

#include <glib/gstdio.h>

#include "pp-hex.h"
#include "pp-kcv.h"
#include "pp-test-util.h"
#include "tr34-test-pki.h"

static char *
pki_dir (void)
{
  char *dir = pp_test_make_tmpdir ();

  pp_test_pki_write (pp_test_pki_get (), dir);
  return dir;
}

static JsonObject *
parse_json (const char  *text,
            JsonParser **out_parser)
{
  g_autoptr(GError) error = NULL;
  JsonParser *parser = json_parser_new ();

  json_parser_load_from_data (parser, text, -1, &error);
  g_assert_no_error (error);
  g_assert_true (JSON_NODE_HOLDS_OBJECT (json_parser_get_root (parser)));
  *out_parser = parser;
  return json_node_get_object (json_parser_get_root (parser));
}

static void
assert_one_error_line (const char *err,
                       const char *needle)
{
  g_assert_true (g_str_has_prefix (err, "posprov-tool: "));
  g_assert_true (g_str_has_suffix (err, "\n"));
  g_assert_true (strchr (err, '\n') == err + strlen (err) - 1);
  /* The program names itself once at the start of the line. */
  g_assert_false (g_str_has_prefix (err, "posprov-tool: posprov-tool"));
  if (needle != NULL && strstr (err, needle) == NULL)
    g_error ("“%s” not in “%s”", needle, err);
}

static void
test_token_then_receive (void)
{
  g_autofree char *dir = pki_dir ();
  g_autofree char *kdh = g_build_filename (dir, "kdh.pem", NULL);
  g_autofree char *kdh_key = g_build_filename (dir, "kdh.key", NULL);
  g_autofree char *krd = g_build_filename (dir, "krd.pem", NULL);
  g_autofree char *krd_key = g_build_filename (dir, "krd.key", NULL);
  g_autofree char *trust = g_build_filename (dir, "trust.pem", NULL);
  g_autofree char *crl = g_build_filename (dir, "crl.der", NULL);
  const char *nonce = "A1B2C3D4E5F60718293A4B5C6D7E8F90";
  const char *key = "00112233445566778899AABBCCDDEEFF";
  static const char * const profiles[] = { "strict", "x9-2019", "x9-2012", "x9-2019-printed" };

  for (guint i = 0; i < G_N_ELEMENTS (profiles); i++)
    {
      g_autofree char *tok = g_strdup_printf ("%s/kt-%s.der", dir, profiles[i]);
      g_autofree char *out = NULL, *err = NULL;
      g_autoptr(JsonParser) parser = NULL;
      g_autoptr(PpSecureBuffer) kb = pp_secure_buffer_new_from_hex (key, NULL);
      g_autofree char *kcv = pp_kcv_compute (PP_KEY_ALGORITHM_AES, kb, 5, NULL);
      const char *build[] = { "tr34", "kdh-token", "--kdh-cert", kdh, "--kdh-key", kdh_key,
                              "--krd-cert", krd, "--nonce", nonce, "--key", key,
                              "--header", "D0144K0AB00E0000", "--crl", crl,
                              "--ephemeral", i == 1 ? "tdes" : "aes", "--profile", profiles[i],
                              "-o", tok, NULL };
      /* x9 tokens do not carry the KDH certificate: give the bound one. */
      const char *receive[] = { "tr34", "krd-receive", "--krd-cert", krd, "--krd-key", krd_key,
                                "--trust", trust, "--kdh-cert", kdh, "--crl", crl,
                                "--nonce", nonce, "--json", tok, NULL };
      JsonObject *o;
      int rc;

      rc = pp_test_run_tool (build, NULL, &out, &err);
      g_assert_cmpstr (err, ==, "");
      g_assert_cmpint (rc, ==, 0);
      g_assert_true (g_file_test (tok, G_FILE_TEST_IS_REGULAR));
      g_clear_pointer (&out, g_free);
      g_clear_pointer (&err, g_free);

      rc = pp_test_run_tool (receive, NULL, &out, &err);
      g_assert_cmpstr (err, ==, "");
      g_assert_cmpint (rc, ==, 0);
      /* One JSON object, one line. */
      g_assert_nonnull (strchr (out, '\n'));
      g_assert_cmpstr (strchr (out, '\n') + 1, ==, "");
      o = parse_json (out, &parser);
      g_assert_cmpstr (json_object_get_string_member (o, "key"), ==, key);
      g_assert_cmpstr (json_object_get_string_member (o, "kcv"), ==, kcv);
      g_assert_cmpstr (json_object_get_string_member (o, "header"), ==, "D0144K0AB00E0000");
      g_assert_cmpstr (json_object_get_string_member (o, "kdh_serial"), ==, "1001");
      g_assert_cmpstr (json_object_get_string_member (o, "profile"), ==, profiles[i]);
      /* Exactly the members the command line contract names. */
      g_assert_cmpuint (json_object_get_size (o), ==, 5);
      pp_hex_free_secret (g_steal_pointer (&out));
    }
}

static void
test_one_pass (void)
{
  g_autofree char *dir = pki_dir ();
  g_autofree char *kdh = g_build_filename (dir, "kdh.pem", NULL);
  g_autofree char *kdh_key = g_build_filename (dir, "kdh.key", NULL);
  g_autofree char *krd = g_build_filename (dir, "krd.pem", NULL);
  g_autofree char *krd_key = g_build_filename (dir, "krd.key", NULL);
  g_autofree char *trust = g_build_filename (dir, "trust.pem", NULL);
  g_autofree char *tok = g_build_filename (dir, "kt1.der", NULL);
  g_autofree char *out = NULL, *err = NULL;
  g_autoptr(JsonParser) parser = NULL;
  const char *build[] = { "tr34", "kdh-token", "--kdh-cert", kdh, "--kdh-key", kdh_key,
                          "--krd-cert", krd, "--one-pass", "--time", "2026-04-01T08:00:00Z",
                          "--key", "0123456789ABCDEFFEDCBA9876543210",
                          "--header", "A0256K0TB00E0000", "-o", tok, NULL };
  const char *stale[] = { "tr34", "krd-receive", "--krd-cert", krd, "--krd-key", krd_key,
                          "--trust", trust, "--last-time", "2026-04-01T08:00:00Z", tok, NULL };
  const char *fresh[] = { "tr34", "krd-receive", "--krd-cert", krd, "--krd-key", krd_key,
                          "--trust", trust, "--last-time", "2026-03-31T08:00:00Z",
                          "--at", "2030-01-01T00:00:00Z", "--json", tok, NULL };
  const char *inspect[] = { "tr34", "inspect", "--json", tok, NULL };
  JsonObject *o;

  g_assert_cmpint (pp_test_run_tool (build, NULL, &out, &err), ==, 0);
  g_clear_pointer (&out, g_free);
  g_clear_pointer (&err, g_free);

  g_assert_cmpint (pp_test_run_tool (stale, NULL, &out, &err), !=, 0);
  g_assert_cmpstr (out, ==, "");
  assert_one_error_line (err, "not newer");
  g_clear_pointer (&out, g_free);
  g_clear_pointer (&err, g_free);

  g_assert_cmpint (pp_test_run_tool (fresh, NULL, &out, &err), ==, 0);
  o = parse_json (out, &parser);
  g_assert_cmpstr (json_object_get_string_member (o, "kcv"), ==, "08D7B4");
  pp_hex_free_secret (g_steal_pointer (&out));
  g_clear_pointer (&err, g_free);
  g_clear_object (&parser);

  g_assert_cmpint (pp_test_run_tool (inspect, NULL, &out, &err), ==, 0);
  o = parse_json (out, &parser);
  g_assert_cmpstr (json_object_get_string_member (o, "type"), ==, "KT_KDH");
  g_assert_cmpstr (json_object_get_string_member (o, "profile"), ==, "strict");
  g_assert_cmpstr (json_object_get_string_member (o, "signing_time"), ==, "2026-04-01T08:00:00Z");
  g_assert_true (json_object_get_null_member (o, "nonce"));
  g_assert_cmpstr (json_object_get_string_member (o, "header"), ==, "A0256K0TB00E0000");
  g_assert_cmpstr (json_object_get_string_member (o, "signer_serial"), ==, "1001");
  g_assert_cmpuint (json_array_get_length (json_object_get_array_member (o, "recipients")), ==, 1);
  /* inspect never shows key material. */
  g_assert_null (strstr (out, "0123456789ABCDEF"));
}

static void
test_inspect_sample (void)
{
  g_autofree char *path = pp_test_vector_path ("tr34/B.9_KT_KDH_2pass.errata.der");
  g_autofree char *out = NULL, *err = NULL;
  g_autoptr(JsonParser) parser = NULL;
  JsonObject *o;

  {
    const char *argv[] = { "tr34", "inspect", "--json", path, NULL };

    g_assert_cmpint (pp_test_run_tool (argv, NULL, &out, &err), ==, 0);
  }
  o = parse_json (out, &parser);
  g_assert_cmpstr (json_object_get_string_member (o, "type"), ==, "KT_KDH");
  g_assert_cmpstr (json_object_get_string_member (o, "profile"), ==, "x9-2019");
  g_assert_cmpstr (json_object_get_string_member (o, "nonce"), ==, "167EB0E72781E4940112233445566778");
  g_assert_cmpstr (json_object_get_string_member (o, "ephemeral"), ==, "tdes");
  g_assert_cmpint (json_object_get_int_member (o, "crl_revoked"), ==, 3);
}

static char *
find_softhsm_module (void)
{
  static const char * const candidates[] = {
    "/usr/lib/softhsm/libsofthsm2.so",
    "/usr/lib/x86_64-linux-gnu/softhsm/libsofthsm2.so",
    "/usr/lib/aarch64-linux-gnu/softhsm/libsofthsm2.so",
    "/usr/lib64/pkcs11/libsofthsm2.so",
  };

  for (guint i = 0; i < G_N_ELEMENTS (candidates); i++)
    if (g_file_test (candidates[i], G_FILE_TEST_EXISTS))
      return g_strdup (candidates[i]);
  return NULL;
}

static void
run_or_die (const char * const *argv)
{
  g_autofree char *err = NULL;
  g_autoptr(GError) error = NULL;
  int status = -1;

  g_assert_true (g_spawn_sync (NULL, (char **) argv, NULL, G_SPAWN_STDOUT_TO_DEV_NULL, NULL, NULL,
                               NULL, &err, &status, &error));
  g_assert_no_error (error);
  if (!g_spawn_check_wait_status (status, NULL))
    g_error ("%s failed: %s", argv[0], err);
}

/* --kdh-key as a PKCS#11 URI: the KDH key lives in a SoftHSM2 token made
 * here, the PIN comes from the environment, not the command line. */
static void
test_pkcs11_kdh_key (void)
{
  g_autofree char *module = find_softhsm_module ();
  g_autofree char *util = g_find_program_in_path ("softhsm2-util");
  g_autofree char *dir = NULL, *tokens = NULL, *conf = NULL, *conf_text = NULL, *uri = NULL;
  g_autofree char *kdh = NULL, *kdh_key = NULL, *krd = NULL, *krd_key = NULL, *trust = NULL;
  g_autofree char *tok = NULL, *out = NULL, *err = NULL;
  g_autoptr(JsonParser) parser = NULL;
  JsonObject *o;

  if (module == NULL || util == NULL)
    {
      g_test_skip ("SoftHSM2 is not installed (Debian package softhsm2)");
      return;
    }
  dir = pki_dir ();
  tokens = g_build_filename (dir, "tokens", NULL);
  conf = g_build_filename (dir, "softhsm2.conf", NULL);
  g_assert_cmpint (g_mkdir (tokens, 0700), ==, 0);
  conf_text = g_strdup_printf ("directories.tokendir = %s\nobjectstore.backend = file\n"
                               "log.level = ERROR\nslots.removable = false\n", tokens);
  g_assert_true (g_file_set_contents (conf, conf_text, -1, NULL));
  g_setenv ("SOFTHSM2_CONF", conf, TRUE);

  kdh = g_build_filename (dir, "kdh.pem", NULL);
  kdh_key = g_build_filename (dir, "kdh.key", NULL);
  krd = g_build_filename (dir, "krd.pem", NULL);
  krd_key = g_build_filename (dir, "krd.key", NULL);
  trust = g_build_filename (dir, "trust.pem", NULL);
  tok = g_build_filename (dir, "kt-hsm.der", NULL);
  {
    const char *init[] = { util, "--init-token", "--free", "--label", "posprov-tr34",
                           "--pin", "1234", "--so-pin", "5678", NULL };
    const char *import[] = { util, "--import", kdh_key, "--token", "posprov-tr34",
                             "--label", "kdh", "--id", "01", "--pin", "1234", NULL };

    run_or_die (init);
    run_or_die (import);
  }
  /* The clear PEM key is no longer needed once it is in the token. */
  g_assert_cmpint (g_unlink (kdh_key), ==, 0);

  uri = g_strdup_printf ("pkcs11:token=posprov-tr34;object=kdh;type=private?module-path=%s", module);
  g_setenv ("POSPROV_KDH_KEY_SECRET", "1234", TRUE);
  {
    const char *build[] = { "tr34", "kdh-token", "--kdh-cert", kdh, "--kdh-key", uri,
                            "--krd-cert", krd, "--nonce", "0011223344556677",
                            "--key", "0123456789ABCDEFFEDCBA9876543210",
                            "--header", "A0256K0TB00E0000", "-o", tok, NULL };
    const char *receive[] = { "tr34", "krd-receive", "--krd-cert", krd, "--krd-key", krd_key,
                              "--trust", trust, "--nonce", "0011223344556677", "--json", tok, NULL };
    int rc = pp_test_run_tool (build, NULL, &out, &err);

    g_assert_cmpstr (err, ==, "");
    g_assert_cmpint (rc, ==, 0);
    g_clear_pointer (&out, g_free);
    g_clear_pointer (&err, g_free);
    g_assert_cmpint (pp_test_run_tool (receive, NULL, &out, &err), ==, 0);
  }
  g_unsetenv ("POSPROV_KDH_KEY_SECRET");
  o = parse_json (out, &parser);
  g_assert_cmpstr (json_object_get_string_member (o, "kcv"), ==, "08D7B4");
  g_assert_cmpstr (json_object_get_string_member (o, "kdh_serial"), ==, "1001");
  pp_hex_free_secret (g_steal_pointer (&out));

  /* Without the PIN the tool explains what is missing, in one line. */
  g_clear_pointer (&err, g_free);
  {
    const char *build[] = { "tr34", "kdh-token", "--kdh-cert", kdh, "--kdh-key", uri,
                            "--krd-cert", krd, "--nonce", "0011223344556677",
                            "--key", "0123456789ABCDEFFEDCBA9876543210",
                            "--header", "A0256K0TB00E0000", "-o", tok, NULL };

    g_assert_cmpint (pp_test_run_tool (build, NULL, &out, &err), !=, 0);
    assert_one_error_line (err, "--kdh-key");
  }
  g_unsetenv ("SOFTHSM2_CONF");
}

static void
test_errors (void)
{
  g_autofree char *dir = pki_dir ();
  g_autofree char *kdh = g_build_filename (dir, "kdh.pem", NULL);
  g_autofree char *kdh_revoked = g_build_filename (dir, "kdh-revoked.pem", NULL);
  g_autofree char *kdh_key = g_build_filename (dir, "kdh.key", NULL);
  g_autofree char *krd = g_build_filename (dir, "krd.pem", NULL);
  g_autofree char *krd_key = g_build_filename (dir, "krd.key", NULL);
  g_autofree char *trust = g_build_filename (dir, "trust.pem", NULL);
  g_autofree char *crl = g_build_filename (dir, "crl.der", NULL);
  g_autofree char *crl_other = g_build_filename (dir, "crl-other.der", NULL);
  g_autofree char *tok = g_build_filename (dir, "rev.der", NULL);
  g_autofree char *garbage = g_build_filename (dir, "garbage.der", NULL);
  const char *nonce = "0102030405060708";
  struct {
    const char *argv[32];
    const char *needle;
  } cases[] = {
    { { "tr34", "kdh-token", "--kdh-cert", kdh, "--kdh-key", kdh_key, "--krd-cert", krd,
        "--nonce", nonce, "--one-pass", "--key", "00", "--header", "A0256K0TB00E0000",
        "-o", tok, NULL }, "either --nonce" },
    { { "tr34", "kdh-token", "--kdh-cert", kdh, "--kdh-key", kdh_key, "--krd-cert", krd,
        "--nonce", nonce, "--key", "0123456789ABCDEFFEDCBA9876543210", "--header", "A0256K0TB00E0000",
        "--profile", "x9-2030", "-o", tok, NULL }, "profile" },
    { { "tr34", "kdh-token", "--kdh-cert", kdh, "--kdh-key", kdh_key, "--krd-cert", krd,
        "--nonce", nonce, "--key", "0123456789ABCDEFFEDCBA987654321G", "--header", "A0256K0TB00E0000",
        "-o", tok, NULL }, "--key" },
    { { "tr34", "kdh-token", "--kdh-cert", "/nonexistent.pem", "--kdh-key", kdh_key, "--krd-cert", krd,
        "--nonce", nonce, "--key", "0123456789ABCDEFFEDCBA9876543210", "--header", "A0256K0TB00E0000",
        "-o", tok, NULL }, "nonexistent" },
    { { "tr34", "krd-receive", "--krd-cert", krd, "--krd-key", krd_key, "--trust", trust,
        "--nonce", nonce, garbage, NULL }, "Malformed" },
    { { "tr34", "inspect", garbage, NULL }, "Malformed" },
    { { "tr34", "frobnicate", NULL }, "unknown command" },
  };
  g_autofree char *out = NULL, *err = NULL;
  const char *build_revoked[] = { "tr34", "kdh-token", "--kdh-cert", kdh_revoked, "--kdh-key", kdh_key,
                                  "--krd-cert", krd, "--nonce", nonce,
                                  "--key", "0123456789ABCDEFFEDCBA9876543210",
                                  "--header", "A0256K0TB00E0000", "--crl", crl_other, "-o", tok, NULL };
  const char *build_revoked_own_crl[] = { "tr34", "kdh-token", "--kdh-cert", kdh_revoked, "--kdh-key", kdh_key,
                                          "--krd-cert", krd, "--nonce", nonce,
                                          "--key", "0123456789ABCDEFFEDCBA9876543210",
                                          "--header", "A0256K0TB00E0000", "--crl", crl, "-o", tok, NULL };
  const char *receive_revoked[] = { "tr34", "krd-receive", "--krd-cert", krd, "--krd-key", krd_key,
                                    "--trust", trust, "--crl", crl, "--nonce", nonce, tok, NULL };
  g_autofree char *good = g_build_filename (dir, "good.der", NULL);
  const char *build_good[] = { "tr34", "kdh-token", "--kdh-cert", kdh, "--kdh-key", kdh_key,
                               "--krd-cert", krd, "--nonce", nonce,
                               "--key", "0123456789ABCDEFFEDCBA9876543210",
                               "--header", "A0256K0TB00E0000", "-o", good, NULL };
  const char *receive_wrong_nonce[] = { "tr34", "krd-receive", "--krd-cert", krd, "--krd-key", krd_key,
                                        "--trust", trust, "--nonce", "FFFF", good, NULL };
  g_autofree char *future = g_build_filename (dir, "future.der", NULL);
  const char *build_future[] = { "tr34", "kdh-token", "--kdh-cert", kdh, "--kdh-key", kdh_key,
                                 "--krd-cert", krd, "--one-pass", "--time", "2035-01-01T00:00:00Z",
                                 "--key", "0123456789ABCDEFFEDCBA9876543210",
                                 "--header", "A0256K0TB00E0000", "-o", future, NULL };
  const char *receive_future[] = { "tr34", "krd-receive", "--krd-cert", krd, "--krd-key", krd_key,
                                   "--trust", trust, "--last-time", "2030-01-01T00:00:00Z",
                                   "--at", "2034-12-31T00:00:00Z", future, NULL };
  const char *receive_wrong_trust[] = { "tr34", "krd-receive", "--krd-cert", krd, "--krd-key", krd_key,
                                        "--trust", krd, "--nonce", nonce, good, NULL };

  g_file_set_contents (garbage, "not a token\n", -1, NULL);
  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autofree char *o = NULL, *e = NULL;

      g_test_message ("case %u", i);
      g_assert_cmpint (pp_test_run_tool (cases[i].argv, NULL, &o, &e), !=, 0);
      assert_one_error_line (e, cases[i].needle);
    }

  /* The KDH will not sign with a certificate its CRL revokes. */
  g_assert_cmpint (pp_test_run_tool (build_revoked_own_crl, NULL, &out, &err), !=, 0);
  g_assert_cmpstr (out, ==, "");
  assert_one_error_line (err, "revoked");
  g_assert_false (g_file_test (tok, G_FILE_TEST_EXISTS));
  g_clear_pointer (&out, g_free);
  g_clear_pointer (&err, g_free);
  /* With an older CRL it builds, and a KRD that holds the current one
   * refuses it. */
  g_assert_cmpint (pp_test_run_tool (build_revoked, NULL, &out, &err), ==, 0);
  g_clear_pointer (&out, g_free);
  g_clear_pointer (&err, g_free);
  g_assert_cmpint (pp_test_run_tool (receive_revoked, NULL, &out, &err), !=, 0);
  g_assert_cmpstr (out, ==, "");
  assert_one_error_line (err, "revoked");
  g_clear_pointer (&out, g_free);
  g_clear_pointer (&err, g_free);
  g_assert_cmpint (pp_test_run_tool (build_good, NULL, &out, &err), ==, 0);
  g_clear_pointer (&out, g_free);
  g_clear_pointer (&err, g_free);
  g_assert_cmpint (pp_test_run_tool (receive_wrong_nonce, NULL, &out, &err), !=, 0);
  g_assert_cmpstr (out, ==, "");
  assert_one_error_line (err, "nonce");
  g_clear_pointer (&out, g_free);
  g_clear_pointer (&err, g_free);
  g_assert_cmpint (pp_test_run_tool (receive_wrong_trust, NULL, &out, &err), !=, 0);
  assert_one_error_line (err, "KDH certificate rejected");
  g_clear_pointer (&out, g_free);
  g_clear_pointer (&err, g_free);

  /* A 1-pass time years ahead of the KRD's clock (--at) is refused. */
  g_assert_cmpint (pp_test_run_tool (build_future, NULL, &out, &err), ==, 0);
  g_clear_pointer (&out, g_free);
  g_clear_pointer (&err, g_free);
  g_assert_cmpint (pp_test_run_tool (receive_future, NULL, &out, &err), !=, 0);
  g_assert_cmpstr (out, ==, "");
  assert_one_error_line (err, "2035-01-01T00:00:00Z is in the future");
}

int
main (int    argc,
      char **argv)
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/tool/tr34/token-then-receive", test_token_then_receive);
  g_test_add_func ("/tool/tr34/one-pass", test_one_pass);
  g_test_add_func ("/tool/tr34/inspect-sample", test_inspect_sample);
  g_test_add_func ("/tool/tr34/errors", test_errors);
  g_test_add_func ("/tool/tr34/pkcs11-kdh-key", test_pkcs11_kdh_key);

  return g_test_run ();
}
