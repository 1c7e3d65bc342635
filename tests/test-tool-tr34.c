/* SPDX-License-Identifier: GPL-3.0-or-later
 *
 * test-tool-tr34.c: the real posprov-tool tr34 as a user runs it:
 * kdh-token then krd-receive --json on a fresh test PKI, inspect --json
 * (also on the ASC X9 TR 34-2019 Annex B sample B.9 from
 * tests/vectors/tr34), and the one-line errors.
 */
#include "config.h"

#include <string.h>
#include <sys/stat.h>

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


static char *
run_ok (const char * const *argv)
{
  g_autofree char *err = NULL;
  char *out = NULL;
  int rc = pp_test_run_tool (argv, NULL, &out, &err);

  if (rc != 0)
    g_error ("%s %s failed: %s", argv[0], argv[1], err);
  g_assert_cmpstr (err, ==, "");
  return out;
}

static void
run_refused (const char * const *argv,
             const char         *needle)
{
  g_autofree char *out = NULL, *err = NULL;
  int rc = pp_test_run_tool (argv, NULL, &out, &err);

  if (rc == 0)
    g_error ("%s %s was not refused (wanted “%s”): %s", argv[0], argv[1], needle, out);
  g_assert_cmpstr (out, ==, "");
  assert_one_error_line (err, needle);
}

static const char *
json_serial (const char *out,
             JsonParser **parser)
{
  return json_object_get_string_member (parse_json (out, parser), "serial");
}

/* CT_KRD as a terminal (or `openssl crl2pkcs7 -nocrl`, as B.7 is) sends
 * it: a degenerate SignedData with the KRD certificate. */
static char *
make_ct_krd (const char *dir,
             const char *cert,
             const char *name)
{
  g_autofree char *openssl = g_find_program_in_path ("openssl");
  char *path = g_build_filename (dir, name, NULL);
  const char *argv[] = { openssl, "crl2pkcs7", "-nocrl", "-certfile", cert, "-outform", "DER",
                         "-out", path, NULL };
  g_autoptr(GError) error = NULL;
  int status = 0;

  g_assert_nonnull (openssl);
  g_assert_true (g_spawn_sync (NULL, (char **) argv, NULL, G_SPAWN_STDOUT_TO_DEV_NULL |
                               G_SPAWN_STDERR_TO_DEV_NULL, NULL, NULL, NULL, NULL, &status, &error));
  g_assert_true (g_spawn_check_wait_status (status, NULL));
  return path;
}

/* bind (CT_KDH), rebind (RBT_KDH) and unbind (UBT_KDH) from the command
 * line in every profile, and the KDH's check of a terminal's CT_KRD. */
static void
test_bind_rebind_unbind (void)
{
  g_autofree char *dir = pki_dir ();
  g_autofree char *kdh = g_build_filename (dir, "kdh.pem", NULL);
  g_autofree char *kdh_other = g_build_filename (dir, "kdh-other.pem", NULL);
  g_autofree char *kdh_key = g_build_filename (dir, "kdh.key", NULL);
  g_autofree char *krd = g_build_filename (dir, "krd.pem", NULL);
  g_autofree char *krd_key = g_build_filename (dir, "krd.key", NULL);
  g_autofree char *trust = g_build_filename (dir, "trust.pem", NULL);
  g_autofree char *ca_krd = g_build_filename (dir, "ca-krd.pem", NULL);
  g_autofree char *ca_kdh = g_build_filename (dir, "ca-kdh.pem", NULL);
  g_autofree char *crl = g_build_filename (dir, "crl.der", NULL);
  g_autofree char *ct_krd = make_ct_krd (dir, krd, "ct-krd.der");
  g_autofree char *root = g_build_filename (dir, "root.pem", NULL);
  g_autofree char *ct_ca_as_krd = make_ct_krd (dir, ca_kdh, "ct-krd-ca.der");
  g_autofree char *ct_kdh = g_build_filename (dir, "ct-kdh.der", NULL);
  g_autofree char *bound = g_build_filename (dir, "bound.pem", NULL);
  g_autofree char *checked = g_build_filename (dir, "checked.pem", NULL);
  static const char * const profiles[] = { "strict", "x9-2019", "x9-2012", "x9-2019-printed" };

  /* The terminal's certificate, checked as the KDH does. */
  {
    const char *check[] = { "tr34", "kdh-check-krd", "--ca-krd", ca_krd, "--serial", "Test KRD 1",
                            "--json", "-o", checked, ct_krd, NULL };
    const char *wrong_serial[] = { "tr34", "kdh-check-krd", "--ca-krd", ca_krd, "--serial", "PAX0001",
                                   ct_krd, NULL };
    const char *wrong_ca[] = { "tr34", "kdh-check-krd", "--ca-krd", ca_kdh, ct_krd, NULL };
    const char *expired[] = { "tr34", "kdh-check-krd", "--ca-krd", ca_krd, "--at", "2041-01-01T00:00:00Z",
                              ct_krd, NULL };
    /* With the root trusted a CA's certificate chains too, but a key is
     * sealed only to a terminal's own end-entity key. */
    const char *not_krd[] = { "tr34", "kdh-check-krd", "--ca-krd", root, ct_ca_as_krd, NULL };
    const char *not_ct_krd[] = { "tr34", "kdh-check-krd", "--ca-krd", ca_krd, crl, NULL };
    g_autofree char *out = run_ok (check);
    g_autoptr(JsonParser) parser = NULL;

    g_assert_cmpstr (json_serial (out, &parser), ==, "2001");
    g_assert_true (g_file_test (checked, G_FILE_TEST_IS_REGULAR));
    run_refused (wrong_serial, "names device “Test KRD 1”, not the terminal “PAX0001”");
    run_refused (wrong_ca, "KRD certificate rejected");
    run_refused (expired, "expired");
    run_refused (not_krd, "Expected a CT_KRD, got a CA credential");
    run_refused (not_ct_krd, NULL);
  }

  /* Bind: CT_KDH (with and without a CRL) to the KRD. */
  {
    const char *build[] = { "tr34", "kdh-credential", "--kdh-cert", kdh, "--crl", crl, "-o", ct_kdh, NULL };
    const char *build_no_crl[] = { "tr34", "kdh-credential", "--kdh-cert", kdh, "-o", ct_kdh, NULL };
    const char *bind[] = { "tr34", "krd-bind", "--krd-cert", krd, "--krd-key", krd_key, "--trust", trust,
                           "--json", "-o", bound, ct_kdh, NULL };
    const char *inspect[] = { "tr34", "inspect", "--json", ct_kdh, NULL };
    const char *bind_ct_krd[] = { "tr34", "krd-bind", "--krd-cert", krd, "--krd-key", krd_key,
                                  "--trust", trust, ct_krd, NULL };
    for (guint b = 0; b < 2; b++)
      {
        g_autofree char *o1 = run_ok (b == 0 ? build : build_no_crl);
        g_autofree char *o2 = run_ok (inspect);
        g_autofree char *o3 = run_ok (bind);
        g_autoptr(JsonParser) p2 = NULL, p3 = NULL;
        JsonObject *info = parse_json (o2, &p2);

        g_assert_true (g_str_has_prefix (o1, "CT_KDH written to "));
        g_assert_cmpstr (json_object_get_string_member (info, "type"), ==, "CT_KDH");
        g_assert_cmpint (json_object_get_null_member (info, "crl_revoked"), ==, b == 1);
        g_assert_cmpstr (json_serial (o3, &p3), ==, "1001");
        g_assert_true (g_file_test (bound, G_FILE_TEST_IS_REGULAR));
      }
    run_refused (bind_ct_krd, "Expected");
  }

  for (guint i = 0; i < G_N_ELEMENTS (profiles); i++)
    {
      g_autofree char *rbt = g_strdup_printf ("%s/rbt-%s.der", dir, profiles[i]);
      g_autofree char *ubt = g_strdup_printf ("%s/ubt-%s.der", dir, profiles[i]);
      g_autofree char *new_kdh = g_strdup_printf ("%s/new-%s.pem", dir, profiles[i]);
      const char *nonce = "00112233445566778899AABBCCDDEEFF";
      const char *nonce2 = "FFEEDDCCBBAA99887766554433221100";
      const char *rebind[] = { "tr34", "kdh-rebind", "--kdh-cert", kdh, "--kdh-key", kdh_key,
                               "--ct-krd", ct_krd, "--ca-krd", ca_krd, "--serial", "Test KRD 1",
                               "--new-kdh-cert", kdh_other, "--nonce", nonce, "--crl", crl,
                               "--profile", profiles[i], "-o", rbt, NULL };
      const char *receive_rebind[] = { "tr34", "krd-rebind", "--krd-cert", krd, "--krd-key", krd_key,
                                       "--trust", trust, "--kdh-cert", bound, "--crl", crl,
                                       "--nonce", nonce, "--json", "-o", new_kdh, rbt, NULL };
      const char *replay_rebind[] = { "tr34", "krd-rebind", "--krd-cert", krd, "--krd-key", krd_key,
                                      "--trust", trust, "--kdh-cert", bound, "--nonce", nonce2, rbt, NULL };
      const char *unbind[] = { "tr34", "kdh-unbind", "--kdh-cert", kdh_other, "--kdh-key", kdh_key,
                               "--krd-cert", krd, "--nonce", nonce2, "--profile", profiles[i],
                               "-o", ubt, NULL };
      const char *receive_unbind[] = { "tr34", "krd-unbind", "--krd-cert", krd, "--krd-key", krd_key,
                                       "--trust", trust, "--kdh-cert", new_kdh, "--nonce", nonce2,
                                       "--json", ubt, NULL };
      /* Signed by the new KDH, so the old binding refuses it. */
      const char *unbind_old[] = { "tr34", "krd-unbind", "--krd-cert", krd, "--krd-key", krd_key,
                                   "--trust", trust, "--kdh-cert", bound, "--nonce", nonce2, ubt, NULL };
      const char *inspect_rbt[] = { "tr34", "inspect", "--json", rbt, NULL };
      const char *inspect_ubt[] = { "tr34", "inspect", "--json", ubt, NULL };
      g_autofree char *o1 = NULL, *o2 = NULL, *o3 = NULL, *o4 = NULL, *o5 = NULL, *o6 = NULL;
      g_autoptr(JsonParser) p2 = NULL, p4 = NULL, p5 = NULL, p6 = NULL;

      g_test_message ("profile %s", profiles[i]);
      o1 = run_ok (rebind);
      o5 = run_ok (inspect_rbt);
      g_assert_cmpstr (json_object_get_string_member (parse_json (o5, &p5), "type"), ==, "RBT_KDH");
      o2 = run_ok (receive_rebind);
      g_assert_cmpstr (json_serial (o2, &p2), ==, "1004");
      run_refused (replay_rebind, "nonce");
      o3 = run_ok (unbind);
      o6 = run_ok (inspect_ubt);
      g_assert_cmpstr (json_object_get_string_member (parse_json (o6, &p6), "type"), ==, "UBT_KDH");
      run_refused (unbind_old, "KDH");
      o4 = run_ok (receive_unbind);
      g_assert_cmpstr (json_serial (o4, &p4), ==, "1004");
    }

  /* A key token sealed to the terminal's checked CT_KRD. */
  {
    g_autofree char *tok = g_build_filename (dir, "kt-ct-krd.der", NULL);
    const char *build[] = { "tr34", "kdh-token", "--kdh-cert", kdh, "--kdh-key", kdh_key,
                            "--ct-krd", ct_krd, "--ca-krd", ca_krd, "--nonce", "0102030405060708",
                            "--key", "0123456789ABCDEFFEDCBA9876543210", "--header", "A0256K0TB00E0000",
                            "-o", tok, NULL };
    const char *refused[] = { "tr34", "kdh-token", "--kdh-cert", kdh, "--kdh-key", kdh_key,
                              "--ct-krd", ct_ca_as_krd, "--ca-krd", root, "--nonce", "0102030405060708",
                              "--key", "0123456789ABCDEFFEDCBA9876543210", "--header", "A0256K0TB00E0000",
                              "-o", tok, NULL };
    const char *receive[] = { "tr34", "krd-receive", "--krd-cert", krd, "--krd-key", krd_key,
                              "--trust", trust, "--nonce", "0102030405060708", "--json", tok, NULL };
    g_autofree char *o1 = run_ok (build);
    g_autofree char *o2 = run_ok (receive);

    g_assert_true (g_str_has_prefix (o1, "KT_KDH (strict, tdes, 2-pass) written to "));
    g_assert_nonnull (strstr (o2, "\"kcv\""));
    pp_hex_free_secret (g_steal_pointer (&o2));
    g_unlink (tok);
    run_refused (refused, "Expected a CT_KRD, got a CA credential");
    g_assert_false (g_file_test (tok, G_FILE_TEST_EXISTS));
  }
}

/* Every file the tr34 commands read is bounded and must be a regular
 * file: a FIFO once blocked inspect and krd-receive forever and /dev/zero
 * was read to 8.4 GB. Each case must fail at once with one line that
 * names the file and what it is. */
static void
test_odd_input_files (void)
{
  g_autofree char *dir = pki_dir ();
  g_autofree char *kdh = g_build_filename (dir, "kdh.pem", NULL);
  g_autofree char *kdh_key = g_build_filename (dir, "kdh.key", NULL);
  g_autofree char *krd = g_build_filename (dir, "krd.pem", NULL);
  g_autofree char *krd_key = g_build_filename (dir, "krd.key", NULL);
  g_autofree char *trust = g_build_filename (dir, "trust.pem", NULL);
  g_autofree char *fifo = g_build_filename (dir, "token.fifo", NULL);
  g_autofree char *big = g_build_filename (dir, "big.der", NULL);
  g_autofree char *tok = g_build_filename (dir, "out.der", NULL);
  g_autofree char *fifo_says = g_strdup_printf ("“%s” is a FIFO, not a file", fifo);
  g_autofree char *big_says = g_strdup_printf ("“%s” is larger than 64 KiB", big);
  g_autofree char *filler = g_strnfill (64 * 1024 + 1, 'A');
  const char *nonce = "0102030405060708";
  struct {
    const char *argv[24];
    const char *needle;
  } cases[] = {
    { { "tr34", "inspect", fifo, NULL }, fifo_says },
    { { "tr34", "inspect", "/dev/zero", NULL }, "“/dev/zero” is a character device, not a file" },
    { { "tr34", "inspect", big, NULL }, big_says },
    { { "tr34", "inspect", dir, NULL }, "is a folder, not a file" },
    { { "tr34", "krd-receive", "--krd-cert", krd, "--krd-key", krd_key, "--trust", trust,
        "--nonce", nonce, fifo, NULL }, fifo_says },
    { { "tr34", "krd-receive", "--krd-cert", krd, "--krd-key", krd_key, "--trust", trust,
        "--nonce", nonce, "/dev/zero", NULL }, "character device" },
    { { "tr34", "krd-receive", "--krd-cert", fifo, "--krd-key", krd_key, "--trust", trust,
        "--nonce", nonce, big, NULL }, fifo_says },
    { { "tr34", "krd-receive", "--krd-cert", krd, "--krd-key", "/dev/zero", "--trust", trust,
        "--nonce", nonce, big, NULL }, "character device" },
    { { "tr34", "krd-receive", "--krd-cert", krd, "--krd-key", krd_key, "--trust", big,
        "--nonce", nonce, big, NULL }, big_says },
    { { "tr34", "krd-receive", "--krd-cert", krd, "--krd-key", krd_key, "--trust", trust,
        "--crl", fifo, "--nonce", nonce, big, NULL }, fifo_says },
    { { "tr34", "kdh-token", "--kdh-cert", kdh, "--kdh-key", fifo, "--krd-cert", krd,
        "--nonce", nonce, "--key", "0123456789ABCDEFFEDCBA9876543210",
        "--header", "A0256K0TB00E0000", "-o", tok, NULL }, fifo_says },
    { { "tr34", "kdh-token", "--kdh-cert", "/dev/zero", "--kdh-key", kdh_key, "--krd-cert", krd,
        "--nonce", nonce, "--key", "0123456789ABCDEFFEDCBA9876543210",
        "--header", "A0256K0TB00E0000", "-o", tok, NULL }, "character device" },
    { { "tr34", "kdh-token", "--kdh-cert", kdh, "--kdh-key", kdh_key, "--krd-cert", krd,
        "--crl", big, "--nonce", nonce, "--key", "0123456789ABCDEFFEDCBA9876543210",
        "--header", "A0256K0TB00E0000", "-o", tok, NULL }, big_says },
  };

  g_assert_cmpint (mkfifo (fifo, 0600), ==, 0);
  g_assert_true (g_file_set_contents (big, filler, -1, NULL));
  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autofree char *out = NULL, *err = NULL;
      int status = pp_test_run_tool_timeout (cases[i].argv, 20, &out, &err);

      g_test_message ("case %u: exit %d; stderr: %s", i, status, err);
      g_assert_cmpint (status, ==, 1);
      g_assert_cmpstr (out, ==, "");
      assert_one_error_line (err, cases[i].needle);
    }
  /* The refused output was not written. */
  g_assert_false (g_file_test (tok, G_FILE_TEST_EXISTS));
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
  g_test_add_func ("/tool/tr34/bind-rebind-unbind", test_bind_rebind_unbind);
  g_test_add_func ("/tool/tr34/odd-input-files", test_odd_input_files);
  g_test_add_func ("/tool/tr34/pkcs11-kdh-key", test_pkcs11_kdh_key);

  return g_test_run ();
}
