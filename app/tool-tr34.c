/* SPDX-License-Identifier: GPL-3.0-or-later
 *
 * tool-tr34.c: posprov-tool tr34: build a KT_KDH (lab command, the key is
 * given in clear), receive one as a KRD would (lab command, prints the
 * key), and inspect any TR-34 token.
 */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include <glib/gi18n.h>
#include <openssl/pem.h>

#include "pp-hex.h"
#include "pp-keystore.h"
#include "pp-openssl-types.h"
#include "pp-tr34.h"
#include "tool-common.h"
#include "tool-pki.h"
#include "tool-commands.h"

/* pp_tool_fail already starts the line with "posprov-tool: "; name the
 * subcommand without repeating the program. */
static const char *
command_name (const char *argv0)
{
  static const char program[] = "posprov-tool ";

  return g_str_has_prefix (argv0, program) ? argv0 + strlen (program) : argv0;
}

static EVP_PKEY *
load_private_key (const char  *path,
                  GError     **error)
{
  g_autoptr(BIO) bio = NULL;
  char *data;
  gsize len;
  EVP_PKEY *key;

  if ((data = pp_tool_read_file (path, PP_TOOL_SMALL_FILE_MAX, &len, error)) == NULL)
    return NULL;
  bio = BIO_new_mem_buf (data, (int) len);
  key = PEM_read_bio_PrivateKey (bio, NULL, NULL, NULL);
  g_clear_pointer (&bio, BIO_free);
  OPENSSL_cleanse (data, len);
  g_free (data);
  if (key == NULL)
    g_set_error (error, G_FILE_ERROR, G_FILE_ERROR_INVAL,
                 _("“%s” is not an unencrypted PEM private key"), path);
  return key;
}

static GDateTime *
parse_time (const char  *text,
            const char  *option,
            GError     **error)
{
  g_autoptr(GTimeZone) utc = g_time_zone_new_utc ();
  GDateTime *dt = g_date_time_new_from_iso8601 (text, utc);

  if (dt == NULL)
    g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                 _("%s: “%s” is not an RFC 3339 time (e.g. 2026-01-31T12:00:00Z)"),
                 option, text);
  return dt;
}

static GBytes *
parse_nonce (const char  *hex,
             GError     **error)
{
  g_autoptr(GError) local = NULL;
  GBytes *nonce = pp_hex_decode (hex, &local);

  if (nonce == NULL)
    {
      g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                   _("--nonce: %s"), local->message);
      return NULL;
    }
  if (g_bytes_get_size (nonce) > 64)
    {
      g_bytes_unref (nonce);
      g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                   _("--nonce: at most 64 bytes"));
      return NULL;
    }
  return nonce;
}

static GBytes *
read_token (const char  *path,
            GError     **error)
{
  char *data;
  gsize len = 0;

  if ((data = pp_tool_read_file (path, PP_TOOL_SMALL_FILE_MAX, &len, error)) == NULL)
    return NULL;
  return g_bytes_new_take (data, len);
}

/* PpTr34SignFunc on top of the key store's signer (PEM or PKCS#11). */
/* ---- kdh-token -------------------------------------------------------- */

static X509 *open_recipient (const char  *krd_cert_path,
                             const char  *ct_krd_path,
                             const char  *ca_krd_path,
                             const char  *serial,
                             const char  *at_text,
                             GError     **error);

static int
cmd_kdh_token (int    argc,
               char **argv)
{
  g_autofree char *kdh_cert_path = NULL, *kdh_key = NULL, *krd_cert_path = NULL;
  g_autofree char *nonce_hex = NULL, *time_text = NULL, *key_hex = NULL, *header = NULL;
  g_autofree char *crl_path = NULL, *ephemeral_name = NULL, *profile_name = NULL;
  g_autofree char *out_path = NULL, *ct_krd_path = NULL, *ca_krd_path = NULL, *serial = NULL;
  g_autofree char *at_text = NULL;
  gboolean one_pass = FALSE;
  GOptionEntry entries[] = {
    { "kdh-cert", 0, 0, G_OPTION_ARG_FILENAME, &kdh_cert_path, N_("KDH certificate (PEM)"), N_("PEM") },
    { "kdh-key", 0, 0, G_OPTION_ARG_STRING, &kdh_key, N_("KDH private key: PEM file or pkcs11: URI"), N_("KEY") },
    { "krd-cert", 0, 0, G_OPTION_ARG_FILENAME, &krd_cert_path, N_("KRD certificate (PEM)"), N_("PEM") },
    { "ct-krd", 0, 0, G_OPTION_ARG_FILENAME, &ct_krd_path, N_("The terminal's CT_KRD instead of --krd-cert"), N_("DER") },
    { "ca-krd", 0, 0, G_OPTION_ARG_FILENAME, &ca_krd_path, N_("Root and/or CA_KRD certificates a CT_KRD must chain to"), N_("PEM") },
    { "serial", 0, 0, G_OPTION_ARG_STRING, &serial, N_("The terminal's serial the CT_KRD must name"), N_("SERIAL") },
    { "at", 0, 0, G_OPTION_ARG_STRING, &at_text, N_("Verify the CT_KRD at this time (default: now)"), N_("RFC3339") },
    { "nonce", 0, 0, G_OPTION_ARG_STRING, &nonce_hex, N_("2-pass: the KRD's nonce"), N_("HEX") },
    { "one-pass", 0, 0, G_OPTION_ARG_NONE, &one_pass, N_("1-pass: sign with a signing time"), NULL },
    { "time", 0, 0, G_OPTION_ARG_STRING, &time_text, N_("1-pass signing time (default: now)"), N_("RFC3339") },
    { "key", 0, 0, G_OPTION_ARG_STRING, &key_hex, N_("The key to send, in clear (lab use)"), N_("HEX") },
    { "header", 0, 0, G_OPTION_ARG_STRING, &header, N_("Key block header"), N_("KBH") },
    { "crl", 0, 0, G_OPTION_ARG_FILENAME, &crl_path, N_("CA_KDH CRL to include"), N_("DER") },
    { "ephemeral", 0, 0, G_OPTION_ARG_STRING, &ephemeral_name, N_("Ephemeral key: tdes (default) or aes"), N_("ALG") },
    { "profile", 0, 0, G_OPTION_ARG_STRING, &profile_name, N_("Encoding: strict (default), x9-2019, x9-2012 or x9-2019-printed"), N_("NAME") },
    { "output", 'o', 0, G_OPTION_ARG_FILENAME, &out_path, N_("Where to write the token"), N_("FILE") },
    { NULL }
  };
  g_autoptr(GOptionContext) context = g_option_context_new (NULL);
  g_autoptr(GError) error = NULL;
  g_autoptr(X509) kdh_cert = NULL;
  g_autoptr(X509) krd_cert = NULL;
  g_autoptr(X509_CRL) crl = NULL;
  g_autoptr(PpSigner) signer = NULL;
  g_autoptr(PpTr34Kdh) kdh = NULL;
  g_autoptr(PpSecureBuffer) key = NULL;
  g_autoptr(GBytes) nonce = NULL;
  g_autoptr(GBytes) token = NULL;
  g_autoptr(GDateTime) signing_time = NULL;
  PpTr34Profile profile = PP_TR34_PROFILE_STRICT;
  PpTr34Ephemeral ephemeral = PP_TR34_EPHEMERAL_TDES;

  g_option_context_set_summary (context, _("Build a KT_KDH key token (lab command: the key is given in clear)."));
  g_option_context_add_main_entries (context, entries, GETTEXT_PACKAGE);
  if (!pp_tool_parse (context, &argc, &argv))
    return 1;
  if (argc > 1)
    return pp_tool_fail (_("%s: unexpected argument “%s”"), command_name (argv[0]), argv[1]);

  if (kdh_cert_path == NULL || kdh_key == NULL || (krd_cert_path == NULL && ct_krd_path == NULL) ||
      key_hex == NULL || header == NULL || out_path == NULL)
    return pp_tool_fail (_("%s: --kdh-cert, --kdh-key, --krd-cert (or --ct-krd), --key, --header and -o are required"),
                         command_name (argv[0]));
  if ((nonce_hex != NULL) == one_pass)
    return pp_tool_fail (_("%s: give either --nonce (2-pass) or --one-pass"), command_name (argv[0]));
  if (time_text != NULL && !one_pass)
    return pp_tool_fail (_("%s: --time only applies with --one-pass"), command_name (argv[0]));
  if (profile_name != NULL && !pp_tr34_profile_from_string (profile_name, &profile, &error))
    return pp_tool_fail_error (error);
  if (ephemeral_name != NULL)
    {
      if (g_ascii_strcasecmp (ephemeral_name, "aes") == 0)
        ephemeral = PP_TR34_EPHEMERAL_AES128;
      else if (g_ascii_strcasecmp (ephemeral_name, "tdes") != 0)
        return pp_tool_fail (_("%s: --ephemeral must be tdes or aes"), command_name (argv[0]));
    }

  if ((kdh_cert = pp_tool_load_cert (NULL, kdh_cert_path, &error)) == NULL ||
      (krd_cert = open_recipient (krd_cert_path, ct_krd_path, ca_krd_path, serial, at_text,
                                  &error)) == NULL ||
      (crl_path != NULL && (crl = pp_tool_load_crl (NULL, crl_path, &error)) == NULL))
    return pp_tool_fail_error (error);
  if (nonce_hex != NULL && (nonce = parse_nonce (nonce_hex, &error)) == NULL)
    return pp_tool_fail_error (error);
  if (time_text != NULL && (signing_time = parse_time (time_text, "--time", &error)) == NULL)
    return pp_tool_fail_error (error);

  key = pp_secure_buffer_new_from_hex (key_hex, &error);
  /* Do not leave the clear key in our own argv copy longer than needed. */
  memset (key_hex, 0, strlen (key_hex));
  if (key == NULL)
    return pp_tool_fail (_("--key: %s"), error->message);

  /* The key store reads a PEM key itself: check it is a small file first. */
  if (!g_str_has_prefix (kdh_key, "pkcs11:") &&
      !pp_tool_check_input_file (kdh_key, PP_TOOL_SMALL_FILE_MAX, &error))
    return pp_tool_fail_error (error);
  signer = pp_signer_new_for_uri (kdh_key, g_getenv (PP_TOOL_KDH_SECRET_ENV), &error);
  if (signer == NULL)
    return pp_tool_fail (_("--kdh-key: %s"), error->message);

  kdh = pp_tr34_kdh_new (kdh_cert, pp_tool_sign_with_signer, g_steal_pointer (&signer),
                         (GDestroyNotify) pp_signer_unref);
  pp_tr34_kdh_set_crl (kdh, crl);
  pp_tr34_kdh_set_profile (kdh, profile);

  token = pp_tr34_kdh_build_key_token (kdh, krd_cert, key, header, ephemeral, nonce,
                                       signing_time, &error);
  if (token == NULL)
    return pp_tool_fail_error (error);
  if (!g_file_set_contents (out_path, g_bytes_get_data (token, NULL), g_bytes_get_size (token), &error))
    return pp_tool_fail_error (error);

  printf (_("KT_KDH (%s, %s, %s) written to %s: %lu bytes\n"),
          pp_tr34_profile_to_string (profile), pp_tr34_ephemeral_to_string (ephemeral),
          nonce != NULL ? "2-pass" : "1-pass", out_path, (unsigned long) g_bytes_get_size (token));
  return 0;
}

/* ---- krd-receive ------------------------------------------------------ */

static int
cmd_krd_receive (int    argc,
                 char **argv)
{
  g_autofree char *krd_cert_path = NULL, *krd_key_path = NULL, *trust_path = NULL;
  g_autofree char *kdh_cert_path = NULL, *crl_path = NULL, *nonce_hex = NULL;
  g_autofree char *last_time_text = NULL, *at_text = NULL;
  gboolean json = FALSE;
  GOptionEntry entries[] = {
    { "krd-cert", 0, 0, G_OPTION_ARG_FILENAME, &krd_cert_path, N_("KRD certificate (PEM)"), N_("PEM") },
    { "krd-key", 0, 0, G_OPTION_ARG_FILENAME, &krd_key_path, N_("KRD private key (PEM)"), N_("PEM") },
    { "trust", 0, 0, G_OPTION_ARG_FILENAME, &trust_path, N_("Trusted root and/or CA_KDH certificates"), N_("PEM") },
    { "kdh-cert", 0, 0, G_OPTION_ARG_FILENAME, &kdh_cert_path, N_("KDH certificate received at bind"), N_("PEM") },
    { "crl", 0, 0, G_OPTION_ARG_FILENAME, &crl_path, N_("CA_KDH CRL known to the KRD"), N_("DER") },
    { "nonce", 0, 0, G_OPTION_ARG_STRING, &nonce_hex, N_("2-pass: the nonce this KRD issued"), N_("HEX") },
    { "last-time", 0, 0, G_OPTION_ARG_STRING, &last_time_text, N_("1-pass: last accepted signing time"), N_("RFC3339") },
    { "at", 0, 0, G_OPTION_ARG_STRING, &at_text, N_("Verify certificates at this time (default: now)"), N_("RFC3339") },
    { "json", 0, 0, G_OPTION_ARG_NONE, &json, N_("Print one JSON object"), NULL },
    { NULL }
  };
  g_autoptr(GOptionContext) context = g_option_context_new (N_("TOKEN.der"));
  g_autoptr(GError) error = NULL;
  g_autoptr(X509) krd_cert = NULL;
  g_autoptr(EVP_PKEY) krd_key = NULL;
  g_autoptr(X509) kdh_cert = NULL;
  g_autoptr(X509_CRL) crl = NULL;
  g_autoptr(GBytes) nonce = NULL;
  g_autoptr(GBytes) token = NULL;
  g_autoptr(GDateTime) last_time = NULL;
  g_autoptr(GDateTime) at = NULL;
  g_autoptr(PpTr34Krd) krd = NULL;
  g_autoptr(PpTr34KrdState) state = NULL;
  g_autoptr(PpTr34ReceivedKey) received = NULL;
  g_autofree char *key_hex = NULL;
  STACK_OF(X509) *trusted = NULL;

  g_option_context_set_summary (context, _("Receive a KT_KDH as the KRD would and print the key (lab command)."));
  g_option_context_add_main_entries (context, entries, GETTEXT_PACKAGE);
  if (!pp_tool_parse (context, &argc, &argv))
    return 1;
  if (argc != 2)
    return pp_tool_fail (_("%s: give exactly one TOKEN.der"), command_name (argv[0]));
  if (krd_cert_path == NULL || krd_key_path == NULL || trust_path == NULL)
    return pp_tool_fail (_("%s: --krd-cert, --krd-key and --trust are required"), command_name (argv[0]));
  if ((nonce_hex != NULL) == (last_time_text != NULL))
    return pp_tool_fail (_("%s: give either --nonce (2-pass) or --last-time (1-pass)"), command_name (argv[0]));

  if ((krd_cert = pp_tool_load_cert (NULL, krd_cert_path, &error)) == NULL ||
      (krd_key = load_private_key (krd_key_path, &error)) == NULL ||
      (trusted = pp_tool_load_certs (NULL, trust_path, &error)) == NULL ||
      (kdh_cert_path != NULL && (kdh_cert = pp_tool_load_cert (NULL, kdh_cert_path, &error)) == NULL) ||
      (crl_path != NULL && (crl = pp_tool_load_crl (NULL, crl_path, &error)) == NULL) ||
      (nonce_hex != NULL && (nonce = parse_nonce (nonce_hex, &error)) == NULL) ||
      (last_time_text != NULL && (last_time = parse_time (last_time_text, "--last-time", &error)) == NULL) ||
      (at_text != NULL && (at = parse_time (at_text, "--at", &error)) == NULL) ||
      (token = read_token (argv[1], &error)) == NULL)
    {
      if (trusted != NULL)
        sk_X509_pop_free (trusted, X509_free);
      return pp_tool_fail_error (error);
    }

  krd = pp_tr34_krd_new (krd_cert, krd_key);
  for (int i = 0; i < sk_X509_num (trusted); i++)
    pp_tr34_krd_add_trusted (krd, sk_X509_value (trusted, i));
  sk_X509_pop_free (trusted, X509_free);
  pp_tr34_krd_set_kdh_cert (krd, kdh_cert);
  pp_tr34_krd_set_crl (krd, crl);
  pp_tr34_krd_set_time (krd, at);

  state = pp_tr34_krd_state_new ();
  if (nonce != NULL)
    pp_tr34_krd_state_add_nonce (state, nonce);
  pp_tr34_krd_state_set_last_time (state, last_time);

  received = pp_tr34_krd_receive_key_token (krd, state, g_bytes_get_data (token, NULL),
                                            g_bytes_get_size (token), &error);
  if (received == NULL)
    return pp_tool_fail_error (error);

  key_hex = pp_secure_buffer_to_hex (received->key);
  if (json)
    {
      g_autoptr(JsonBuilder) b = json_builder_new ();
      g_autoptr(JsonNode) root = NULL;

      g_autoptr(JsonGenerator) gen = json_generator_new ();
      g_autofree char *rest = NULL;

      /* The key goes straight to stdout: a JsonNode's and the generator's
       * copies of it would be freed without being wiped. Hex needs no JSON
       * escaping; the other members go through json-glib. */
      json_builder_begin_object (b);
      json_builder_set_member_name (b, "kcv");
      json_builder_add_string_value (b, received->kcv);
      json_builder_set_member_name (b, "header");
      json_builder_add_string_value (b, received->header);
      json_builder_set_member_name (b, "kdh_serial");
      json_builder_add_string_value (b, received->kdh_serial);
      json_builder_set_member_name (b, "profile");
      json_builder_add_string_value (b, pp_tr34_profile_to_string (received->profile));
      json_builder_end_object (b);
      root = json_builder_get_root (b);
      json_generator_set_root (gen, root);
      rest = json_generator_to_data (gen, NULL);
      printf ("{\"key\":\"%s\",%s\n", key_hex, rest + 1);
      fflush (stdout);
    }
  else
    {
      printf ("key: %s\nkcv: %s\nheader: %s\nkdh_serial: %s\nprofile: %s\n", key_hex,
              received->kcv, received->header, received->kdh_serial,
              pp_tr34_profile_to_string (received->profile));
    }
  pp_hex_free_secret (g_steal_pointer (&key_hex));
  return 0;
}

/* ---- inspect ----------------------------------------------------------- */

/* OpenSSL keeps no revoked list at all for an empty CRL (-1 from
 * sk_X509_REVOKED_num); that is zero revocations to a user. */
static int
crl_revoked_count (X509_CRL *crl)
{
  return MAX (sk_X509_REVOKED_num (X509_CRL_get_REVOKED (crl)), 0);
}

static char *
cert_subject (X509 *cert)
{
  g_autoptr(BIO) bio = BIO_new (BIO_s_mem ());
  char *text = NULL;
  long n;

  X509_NAME_print_ex (bio, X509_get_subject_name (cert), 0, XN_FLAG_RFC2253);
  n = BIO_get_mem_data (bio, &text);
  return g_strndup (text, n);
}

static int
cmd_inspect (int    argc,
             char **argv)
{
  gboolean json = FALSE;
  GOptionEntry entries[] = {
    { "json", 0, 0, G_OPTION_ARG_NONE, &json, N_("Print one JSON object"), NULL },
    { NULL }
  };
  g_autoptr(GOptionContext) context = g_option_context_new (N_("TOKEN.der"));
  g_autoptr(GError) error = NULL;
  g_autoptr(GBytes) der = NULL;
  g_autoptr(PpTr34Token) token = NULL;
  g_autoptr(JsonBuilder) b = json_builder_new ();
  g_autoptr(JsonNode) root = NULL;
  g_autofree char *signer = NULL, *serial = NULL, *nonce_hex = NULL, *time_text = NULL;
  g_auto(GStrv) recipients = NULL;
  STACK_OF(X509) *certs;
  X509_CRL *crl;
  GBytes *nonce;
  GDateTime *time;
  PpTr34Ephemeral ephemeral;
  gboolean has_ephemeral;

  g_option_context_set_summary (context, _("Show what a TR-34 token holds (no key material)."));
  g_option_context_add_main_entries (context, entries, GETTEXT_PACKAGE);
  if (!pp_tool_parse (context, &argc, &argv))
    return 1;
  if (argc != 2)
    return pp_tool_fail (_("%s: give exactly one TOKEN.der"), command_name (argv[0]));

  if ((der = read_token (argv[1], &error)) == NULL)
    return pp_tool_fail_error (error);
  token = pp_tr34_token_parse (g_bytes_get_data (der, NULL), g_bytes_get_size (der), &error);
  if (token == NULL)
    return pp_tool_fail_error (error);

  signer = pp_tr34_token_dup_signer (token);
  serial = pp_tr34_token_dup_signer_serial (token);
  nonce = pp_tr34_token_get_nonce (token);
  if (nonce != NULL)
    nonce_hex = pp_hex_encode (g_bytes_get_data (nonce, NULL), g_bytes_get_size (nonce));
  time = pp_tr34_token_get_signing_time (token);
  if (time != NULL)
    time_text = g_date_time_format_iso8601 (time);
  recipients = pp_tr34_token_dup_recipients (token);
  has_ephemeral = pp_tr34_token_get_ephemeral (token, &ephemeral);
  certs = pp_tr34_token_get_certificates (token);
  crl = pp_tr34_token_get_crl (token);

  json_builder_begin_object (b);
  json_builder_set_member_name (b, "type");
  json_builder_add_string_value (b, pp_tr34_token_type_to_string (pp_tr34_token_get_kind (token)));
  json_builder_set_member_name (b, "profile");
  json_builder_add_string_value (b, pp_tr34_profile_to_string (pp_tr34_token_get_profile (token)));
  json_builder_set_member_name (b, "signer");
  if (signer != NULL)
    json_builder_add_string_value (b, signer);
  else
    json_builder_add_null_value (b);
  json_builder_set_member_name (b, "signer_serial");
  if (serial != NULL)
    json_builder_add_string_value (b, serial);
  else
    json_builder_add_null_value (b);
  json_builder_set_member_name (b, "nonce");
  if (nonce_hex != NULL)
    json_builder_add_string_value (b, nonce_hex);
  else
    json_builder_add_null_value (b);
  json_builder_set_member_name (b, "signing_time");
  if (time_text != NULL)
    json_builder_add_string_value (b, time_text);
  else
    json_builder_add_null_value (b);
  json_builder_set_member_name (b, "header");
  if (pp_tr34_token_get_header (token) != NULL)
    json_builder_add_string_value (b, pp_tr34_token_get_header (token));
  else
    json_builder_add_null_value (b);
  json_builder_set_member_name (b, "ephemeral");
  if (has_ephemeral)
    json_builder_add_string_value (b, pp_tr34_ephemeral_to_string (ephemeral));
  else
    json_builder_add_null_value (b);
  json_builder_set_member_name (b, "recipients");
  json_builder_begin_array (b);
  for (guint i = 0; recipients[i] != NULL; i++)
    json_builder_add_string_value (b, recipients[i]);
  json_builder_end_array (b);
  json_builder_set_member_name (b, "certificates");
  json_builder_begin_array (b);
  for (int i = 0; certs != NULL && i < sk_X509_num (certs); i++)
    {
      g_autofree char *subject = cert_subject (sk_X509_value (certs, i));
      json_builder_add_string_value (b, subject);
    }
  json_builder_end_array (b);
  json_builder_set_member_name (b, "crl_revoked");
  if (crl != NULL)
    json_builder_add_int_value (b, crl_revoked_count (crl));
  else
    json_builder_add_null_value (b);
  json_builder_end_object (b);
  root = json_builder_get_root (b);

  if (json)
    {
      pp_tool_print_json (root);
      return 0;
    }

  printf (_("type: %s\n"), pp_tr34_token_type_to_string (pp_tr34_token_get_kind (token)));
  printf (_("profile: %s\n"), pp_tr34_profile_to_string (pp_tr34_token_get_profile (token)));
  if (signer != NULL)
    printf (_("signer: %s\n"), signer);
  if (nonce_hex != NULL)
    printf (_("nonce: %s\n"), nonce_hex);
  if (time_text != NULL)
    printf (_("signing time: %s\n"), time_text);
  if (pp_tr34_token_get_header (token) != NULL)
    printf (_("key block header: %s\n"), pp_tr34_token_get_header (token));
  if (has_ephemeral)
    printf (_("ephemeral key: %s\n"), pp_tr34_ephemeral_to_string (ephemeral));
  for (guint i = 0; recipients[i] != NULL; i++)
    printf (_("recipient: %s\n"), recipients[i]);
  for (int i = 0; certs != NULL && i < sk_X509_num (certs); i++)
    {
      g_autofree char *subject = cert_subject (sk_X509_value (certs, i));
      printf (_("certificate: %s\n"), subject);
    }
  if (crl != NULL)
    printf (_("CRL: %d revoked\n"), crl_revoked_count (crl));
  return 0;
}

/* ---- bind, rebind, unbind, and the terminal's credential -------------- */

static gboolean
usage_error (GError     **error,
             const char  *format,
             ...) G_GNUC_PRINTF (2, 3);

static gboolean
usage_error (GError     **error,
             const char  *format,
             ...)
{
  va_list args;

  va_start (args, format);
  g_propagate_error (error, g_error_new_valist (G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                                                format, args));
  va_end (args);
  return FALSE;
}

/* The KRD certificate a KDH seals to: --krd-cert as given, or the one a
 * terminal sent in its CT_KRD (--ct-krd), checked against --ca-krd and,
 * with --serial, the terminal's serial. */
static X509 *
open_recipient (const char  *krd_cert_path,
                const char  *ct_krd_path,
                const char  *ca_krd_path,
                const char  *serial,
                const char  *at_text,
                GError     **error)
{
  g_autoptr(GBytes) token = NULL;
  g_autoptr(GDateTime) at = NULL;
  STACK_OF(X509) *ca = NULL;
  X509 *cert;

  if ((krd_cert_path != NULL) == (ct_krd_path != NULL))
    {
      usage_error (error, _("give either --krd-cert or --ct-krd (with --ca-krd)"));
      return NULL;
    }
  if (krd_cert_path != NULL)
    {
      if (ca_krd_path != NULL || serial != NULL)
        {
          usage_error (error, _("--ca-krd and --serial check a --ct-krd token"));
          return NULL;
        }
      return pp_tool_load_cert (NULL, krd_cert_path, error);
    }
  if (ca_krd_path == NULL)
    {
      usage_error (error, _("--ct-krd needs --ca-krd, the certificates a terminal's must chain to"));
      return NULL;
    }
  if ((at_text != NULL && (at = parse_time (at_text, "--at", error)) == NULL) ||
      (token = read_token (ct_krd_path, error)) == NULL ||
      (ca = pp_tool_load_certs (NULL, ca_krd_path, error)) == NULL)
    return NULL;
  cert = pp_tr34_kdh_receive_krd_credential (g_bytes_get_data (token, NULL), g_bytes_get_size (token),
                                             ca, serial, at, error);
  sk_X509_pop_free (ca, X509_free);
  return cert;
}

/* A KRD of --krd-cert, --krd-key, --trust, --kdh-cert, --crl and --at. */
static PpTr34Krd *
open_krd (const char  *cert_path,
          const char  *key_path,
          const char  *trust_path,
          const char  *kdh_cert_path,
          const char  *crl_path,
          const char  *at_text,
          GError     **error)
{
  g_autoptr(X509) cert = NULL;
  g_autoptr(EVP_PKEY) key = NULL;
  g_autoptr(X509) kdh_cert = NULL;
  g_autoptr(X509_CRL) crl = NULL;
  g_autoptr(GDateTime) at = NULL;
  STACK_OF(X509) *trusted = NULL;
  PpTr34Krd *krd;

  if ((cert = pp_tool_load_cert (NULL, cert_path, error)) == NULL ||
      (key = load_private_key (key_path, error)) == NULL ||
      (kdh_cert_path != NULL && (kdh_cert = pp_tool_load_cert (NULL, kdh_cert_path, error)) == NULL) ||
      (crl_path != NULL && (crl = pp_tool_load_crl (NULL, crl_path, error)) == NULL) ||
      (at_text != NULL && (at = parse_time (at_text, "--at", error)) == NULL) ||
      (trusted = pp_tool_load_certs (NULL, trust_path, error)) == NULL)
    return NULL;
  krd = pp_tr34_krd_new (cert, key);
  for (int i = 0; i < sk_X509_num (trusted); i++)
    pp_tr34_krd_add_trusted (krd, sk_X509_value (trusted, i));
  sk_X509_pop_free (trusted, X509_free);
  pp_tr34_krd_set_kdh_cert (krd, kdh_cert);
  pp_tr34_krd_set_crl (krd, crl);
  pp_tr34_krd_set_time (krd, at);
  return krd;
}

static gboolean
write_token (const char  *path,
             GBytes      *token,
             GError     **error)
{
  return g_file_set_contents (path, g_bytes_get_data (token, NULL), g_bytes_get_size (token), error);
}

static gboolean
write_cert_pem (const char  *path,
                X509        *cert,
                GError     **error)
{
  g_autoptr(BIO) bio = BIO_new (BIO_s_mem ());
  char *data = NULL;
  long len;

  if (PEM_write_bio_X509 (bio, cert) != 1)
    {
      usage_error (error, _("cannot encode the certificate"));
      return FALSE;
    }
  len = BIO_get_mem_data (bio, &data);
  return g_file_set_contents (path, data, len, error);
}

static char *
cert_serial (X509 *cert)
{
  const ASN1_INTEGER *s = X509_get0_serialNumber (cert);

  return pp_hex_encode (ASN1_STRING_get0_data (s), ASN1_STRING_length (s));
}

static char *cert_subject (X509 *cert);

/* "what: SUBJECT (serial HEX)" or {"subject","serial"} on stdout. */
static void
print_cert (const char *what,
            X509       *cert,
            gboolean    json)
{
  g_autofree char *subject = cert_subject (cert);
  g_autofree char *serial = cert_serial (cert);

  if (json)
    {
      g_autoptr(JsonBuilder) b = json_builder_new ();
      g_autoptr(JsonNode) root = NULL;

      json_builder_begin_object (b);
      json_builder_set_member_name (b, "subject");
      json_builder_add_string_value (b, subject);
      json_builder_set_member_name (b, "serial");
      json_builder_add_string_value (b, serial);
      json_builder_end_object (b);
      root = json_builder_get_root (b);
      pp_tool_print_json (root);
      return;
    }
  /* Translators: the first %s is a role such as "bound KDH". */
  printf (_("%s: %s (serial %s)\n"), what, subject, serial);
}

static int
cmd_kdh_credential (int    argc,
                    char **argv)
{
  g_autofree char *cert_path = NULL, *crl_path = NULL, *profile_name = NULL, *out_path = NULL;
  GOptionEntry entries[] = {
    { "kdh-cert", 0, 0, G_OPTION_ARG_FILENAME, &cert_path, N_("KDH certificate (PEM)"), N_("PEM") },
    { "crl", 0, 0, G_OPTION_ARG_FILENAME, &crl_path, N_("CA_KDH CRL to include"), N_("DER") },
    { "profile", 0, 0, G_OPTION_ARG_STRING, &profile_name, N_("Encoding (CT_KDH is the same CMS in every profile)"), N_("NAME") },
    { "output", 'o', 0, G_OPTION_ARG_FILENAME, &out_path, N_("Where to write the token"), N_("FILE") },
    { NULL }
  };
  g_autoptr(GOptionContext) context = g_option_context_new (NULL);
  g_autoptr(GError) error = NULL;
  g_autoptr(PpTr34Kdh) kdh = NULL;
  g_autoptr(GBytes) token = NULL;

  g_option_context_set_summary (context, _("Build a CT_KDH: the KDH certificate and CA_KDH CRL a terminal binds to."));
  g_option_context_add_main_entries (context, entries, GETTEXT_PACKAGE);
  if (!pp_tool_parse (context, &argc, &argv))
    return 1;
  if (argc > 1)
    return pp_tool_fail (_("%s: unexpected argument “%s”"), command_name (argv[0]), argv[1]);
  if (cert_path == NULL || out_path == NULL)
    return pp_tool_fail (_("%s: --kdh-cert and -o are required"), command_name (argv[0]));
  /* CT_KDH carries no signature: no key is needed to build it. */
  if ((kdh = pp_tool_open_kdh (NULL, cert_path, NULL, NULL, crl_path, profile_name, NULL, &error)) == NULL ||
      (token = pp_tr34_kdh_build_credential_token (kdh, &error)) == NULL ||
      !write_token (out_path, token, &error))
    return pp_tool_fail_error (error);
  printf (_("CT_KDH written to %s: %lu bytes\n"), out_path, (unsigned long) g_bytes_get_size (token));
  return 0;
}

static int
cmd_krd_bind (int    argc,
              char **argv)
{
  g_autofree char *cert_path = NULL, *key_path = NULL, *trust_path = NULL, *crl_path = NULL;
  g_autofree char *at_text = NULL, *out_path = NULL;
  gboolean json = FALSE;
  GOptionEntry entries[] = {
    { "krd-cert", 0, 0, G_OPTION_ARG_FILENAME, &cert_path, N_("KRD certificate (PEM)"), N_("PEM") },
    { "krd-key", 0, 0, G_OPTION_ARG_FILENAME, &key_path, N_("KRD private key (PEM)"), N_("PEM") },
    { "trust", 0, 0, G_OPTION_ARG_FILENAME, &trust_path, N_("Trusted root and/or CA_KDH certificates"), N_("PEM") },
    { "crl", 0, 0, G_OPTION_ARG_FILENAME, &crl_path, N_("CA_KDH CRL known to the KRD"), N_("DER") },
    { "at", 0, 0, G_OPTION_ARG_STRING, &at_text, N_("Verify certificates at this time (default: now)"), N_("RFC3339") },
    { "output", 'o', 0, G_OPTION_ARG_FILENAME, &out_path, N_("Write the bound KDH certificate here"), N_("PEM") },
    { "json", 0, 0, G_OPTION_ARG_NONE, &json, N_("Print one JSON object"), NULL },
    { NULL }
  };
  g_autoptr(GOptionContext) context = g_option_context_new (N_("CT_KDH.der"));
  g_autoptr(GError) error = NULL;
  g_autoptr(PpTr34Krd) krd = NULL;
  g_autoptr(GBytes) token = NULL;
  g_autoptr(X509) kdh = NULL;

  g_option_context_set_summary (context, _("Receive a CT_KDH as the KRD would at bind and show the KDH it binds to."));
  g_option_context_add_main_entries (context, entries, GETTEXT_PACKAGE);
  if (!pp_tool_parse (context, &argc, &argv))
    return 1;
  if (argc != 2)
    return pp_tool_fail (_("%s: give exactly one CT_KDH.der"), command_name (argv[0]));
  if (cert_path == NULL || key_path == NULL || trust_path == NULL)
    return pp_tool_fail (_("%s: --krd-cert, --krd-key and --trust are required"), command_name (argv[0]));
  if ((krd = open_krd (cert_path, key_path, trust_path, NULL, crl_path, at_text, &error)) == NULL ||
      (token = read_token (argv[1], &error)) == NULL ||
      (kdh = pp_tr34_krd_receive_credential_token (krd, g_bytes_get_data (token, NULL),
                                                   g_bytes_get_size (token), &error)) == NULL ||
      (out_path != NULL && !write_cert_pem (out_path, kdh, &error)))
    return pp_tool_fail_error (error);
  print_cert (_("bound KDH"), kdh, json);
  return 0;
}

/* kdh-rebind and kdh-unbind: the same options, one more for a rebind. */
static int
kdh_bind_token (int      argc,
                char   **argv,
                gboolean rebind)
{
  g_autofree char *cert_path = NULL, *key_uri = NULL, *krd_cert_path = NULL, *ct_krd_path = NULL;
  g_autofree char *ca_krd_path = NULL, *serial = NULL, *at_text = NULL, *new_path = NULL;
  g_autofree char *nonce_hex = NULL, *crl_path = NULL, *profile_name = NULL, *out_path = NULL;
  GOptionEntry entries[] = {
    { "kdh-cert", 0, 0, G_OPTION_ARG_FILENAME, &cert_path, N_("KDH certificate (PEM)"), N_("PEM") },
    { "kdh-key", 0, 0, G_OPTION_ARG_STRING, &key_uri, N_("KDH private key: PEM file or pkcs11: URI"), N_("KEY") },
    { "krd-cert", 0, 0, G_OPTION_ARG_FILENAME, &krd_cert_path, N_("KRD certificate (PEM)"), N_("PEM") },
    { "ct-krd", 0, 0, G_OPTION_ARG_FILENAME, &ct_krd_path, N_("The terminal's CT_KRD instead of --krd-cert"), N_("DER") },
    { "ca-krd", 0, 0, G_OPTION_ARG_FILENAME, &ca_krd_path, N_("Root and/or CA_KRD certificates a CT_KRD must chain to"), N_("PEM") },
    { "serial", 0, 0, G_OPTION_ARG_STRING, &serial, N_("The terminal's serial the CT_KRD must name"), N_("SERIAL") },
    { "at", 0, 0, G_OPTION_ARG_STRING, &at_text, N_("Verify the CT_KRD at this time (default: now)"), N_("RFC3339") },
    { "nonce", 0, 0, G_OPTION_ARG_STRING, &nonce_hex, N_("The KRD's nonce (RT_KRD)"), N_("HEX") },
    { "crl", 0, 0, G_OPTION_ARG_FILENAME, &crl_path, N_("CA_KDH CRL to include"), N_("DER") },
    { "profile", 0, 0, G_OPTION_ARG_STRING, &profile_name, N_("Encoding: strict (default), x9-2019, x9-2012 or x9-2019-printed"), N_("NAME") },
    { "output", 'o', 0, G_OPTION_ARG_FILENAME, &out_path, N_("Where to write the token"), N_("FILE") },
    { rebind ? "new-kdh-cert" : NULL, 0, 0, G_OPTION_ARG_FILENAME, &new_path, N_("The KDH certificate to rebind to (PEM)"), N_("PEM") },
    { NULL }
  };
  g_autoptr(GOptionContext) context = g_option_context_new (NULL);
  g_autoptr(GError) error = NULL;
  g_autoptr(PpTr34Kdh) kdh = NULL;
  g_autoptr(X509) krd_cert = NULL;
  g_autoptr(X509) new_cert = NULL;
  g_autoptr(GBytes) nonce = NULL;
  g_autoptr(GBytes) token = NULL;
  PpTr34Profile profile = PP_TR34_PROFILE_STRICT;
  const char *name = rebind ? "RBT_KDH" : "UBT_KDH";

  g_option_context_set_summary (context, rebind ? _("Build an RBT_KDH: rebind a terminal to another KDH.")
                                                : _("Build a UBT_KDH: unbind a terminal from this KDH."));
  g_option_context_add_main_entries (context, entries, GETTEXT_PACKAGE);
  if (!pp_tool_parse (context, &argc, &argv))
    return 1;
  if (argc > 1)
    return pp_tool_fail (_("%s: unexpected argument “%s”"), command_name (argv[0]), argv[1]);
  if (cert_path == NULL || key_uri == NULL || nonce_hex == NULL || out_path == NULL)
    return pp_tool_fail (_("%s: --kdh-cert, --kdh-key, --nonce and -o are required"), command_name (argv[0]));
  if (rebind && new_path == NULL)
    return pp_tool_fail (_("%s: --new-kdh-cert is required"), command_name (argv[0]));
  if ((nonce = parse_nonce (nonce_hex, &error)) == NULL ||
      (kdh = pp_tool_open_kdh (NULL, cert_path, key_uri, NULL, crl_path, profile_name, &profile, &error)) == NULL ||
      (krd_cert = open_recipient (krd_cert_path, ct_krd_path, ca_krd_path, serial, at_text, &error)) == NULL ||
      (rebind && (new_cert = pp_tool_load_cert (NULL, new_path, &error)) == NULL))
    return pp_tool_fail_error (error);
  token = rebind ? pp_tr34_kdh_build_rebind_token (kdh, krd_cert, new_cert, nonce, &error)
                 : pp_tr34_kdh_build_unbind_token (kdh, krd_cert, nonce, &error);
  if (token == NULL || !write_token (out_path, token, &error))
    return pp_tool_fail_error (error);
  /* Translators: the first %s is RBT_KDH or UBT_KDH, the second a profile name. */
  printf (_("%s (%s) written to %s: %lu bytes\n"), name, pp_tr34_profile_to_string (profile),
          out_path, (unsigned long) g_bytes_get_size (token));
  return 0;
}

static int
cmd_kdh_rebind (int    argc,
                char **argv)
{
  return kdh_bind_token (argc, argv, TRUE);
}

static int
cmd_kdh_unbind (int    argc,
                char **argv)
{
  return kdh_bind_token (argc, argv, FALSE);
}

/* krd-rebind and krd-unbind. */
static int
krd_bind_token (int      argc,
                char   **argv,
                gboolean rebind)
{
  g_autofree char *cert_path = NULL, *key_path = NULL, *trust_path = NULL, *kdh_path = NULL;
  g_autofree char *crl_path = NULL, *nonce_hex = NULL, *at_text = NULL, *out_path = NULL;
  gboolean json = FALSE;
  GOptionEntry entries[] = {
    { "krd-cert", 0, 0, G_OPTION_ARG_FILENAME, &cert_path, N_("KRD certificate (PEM)"), N_("PEM") },
    { "krd-key", 0, 0, G_OPTION_ARG_FILENAME, &key_path, N_("KRD private key (PEM)"), N_("PEM") },
    { "trust", 0, 0, G_OPTION_ARG_FILENAME, &trust_path, N_("Trusted root and/or CA_KDH certificates"), N_("PEM") },
    { "kdh-cert", 0, 0, G_OPTION_ARG_FILENAME, &kdh_path, N_("KDH certificate received at bind"), N_("PEM") },
    { "crl", 0, 0, G_OPTION_ARG_FILENAME, &crl_path, N_("CA_KDH CRL known to the KRD"), N_("DER") },
    { "nonce", 0, 0, G_OPTION_ARG_STRING, &nonce_hex, N_("The nonce this KRD issued"), N_("HEX") },
    { "at", 0, 0, G_OPTION_ARG_STRING, &at_text, N_("Verify certificates at this time (default: now)"), N_("RFC3339") },
    { "json", 0, 0, G_OPTION_ARG_NONE, &json, N_("Print one JSON object"), NULL },
    { rebind ? "output" : NULL, 'o', 0, G_OPTION_ARG_FILENAME, &out_path, N_("Write the new KDH certificate here"), N_("PEM") },
    { NULL }
  };
  g_autoptr(GOptionContext) context = g_option_context_new (rebind ? N_("RBT_KDH.der") : N_("UBT_KDH.der"));
  g_autoptr(GError) error = NULL;
  g_autoptr(PpTr34Krd) krd = NULL;
  g_autoptr(PpTr34KrdState) state = pp_tr34_krd_state_new ();
  g_autoptr(GBytes) nonce = NULL;
  g_autoptr(GBytes) token = NULL;
  g_autoptr(X509) bound = NULL;
  g_autoptr(X509) new_kdh = NULL;

  g_option_context_set_summary (context, rebind ? _("Receive an RBT_KDH as the KRD would and show the new KDH.")
                                                : _("Receive a UBT_KDH as the KRD would."));
  g_option_context_add_main_entries (context, entries, GETTEXT_PACKAGE);
  if (!pp_tool_parse (context, &argc, &argv))
    return 1;
  if (argc != 2)
    return pp_tool_fail (_("%s: give exactly one token file"), command_name (argv[0]));
  if (cert_path == NULL || key_path == NULL || trust_path == NULL || kdh_path == NULL || nonce_hex == NULL)
    return pp_tool_fail (_("%s: --krd-cert, --krd-key, --trust, --kdh-cert and --nonce are required"),
                         command_name (argv[0]));
  if ((nonce = parse_nonce (nonce_hex, &error)) == NULL ||
      (krd = open_krd (cert_path, key_path, trust_path, kdh_path, crl_path, at_text, &error)) == NULL ||
      (token = read_token (argv[1], &error)) == NULL ||
      (bound = pp_tool_load_cert (NULL, kdh_path, &error)) == NULL)
    return pp_tool_fail_error (error);
  pp_tr34_krd_state_add_nonce (state, nonce);
  if (rebind)
    {
      new_kdh = pp_tr34_krd_receive_rebind_token (krd, state, g_bytes_get_data (token, NULL),
                                                  g_bytes_get_size (token), &error);
      if (new_kdh == NULL || (out_path != NULL && !write_cert_pem (out_path, new_kdh, &error)))
        return pp_tool_fail_error (error);
      print_cert (_("rebound to KDH"), new_kdh, json);
      return 0;
    }
  if (!pp_tr34_krd_receive_unbind_token (krd, state, g_bytes_get_data (token, NULL),
                                         g_bytes_get_size (token), &error))
    return pp_tool_fail_error (error);
  print_cert (_("unbound from KDH"), bound, json);
  return 0;
}

static int
cmd_krd_rebind (int    argc,
                char **argv)
{
  return krd_bind_token (argc, argv, TRUE);
}

static int
cmd_krd_unbind (int    argc,
                char **argv)
{
  return krd_bind_token (argc, argv, FALSE);
}

static int
cmd_kdh_check_krd (int    argc,
                   char **argv)
{
  g_autofree char *ca_krd_path = NULL, *serial = NULL, *at_text = NULL, *out_path = NULL;
  gboolean json = FALSE;
  GOptionEntry entries[] = {
    { "ca-krd", 0, 0, G_OPTION_ARG_FILENAME, &ca_krd_path, N_("Root and/or CA_KRD certificates a CT_KRD must chain to"), N_("PEM") },
    { "serial", 0, 0, G_OPTION_ARG_STRING, &serial, N_("The terminal's serial the CT_KRD must name"), N_("SERIAL") },
    { "at", 0, 0, G_OPTION_ARG_STRING, &at_text, N_("Verify certificates at this time (default: now)"), N_("RFC3339") },
    { "output", 'o', 0, G_OPTION_ARG_FILENAME, &out_path, N_("Write the KRD certificate here"), N_("PEM") },
    { "json", 0, 0, G_OPTION_ARG_NONE, &json, N_("Print one JSON object"), NULL },
    { NULL }
  };
  g_autoptr(GOptionContext) context = g_option_context_new (N_("CT_KRD.der"));
  g_autoptr(GError) error = NULL;
  g_autoptr(X509) krd = NULL;

  g_option_context_set_summary (context, _("Check a terminal's CT_KRD as the KDH does before sealing a key to it."));
  g_option_context_add_main_entries (context, entries, GETTEXT_PACKAGE);
  if (!pp_tool_parse (context, &argc, &argv))
    return 1;
  if (argc != 2)
    return pp_tool_fail (_("%s: give exactly one CT_KRD.der"), command_name (argv[0]));
  if (ca_krd_path == NULL)
    return pp_tool_fail (_("%s: --ca-krd is required"), command_name (argv[0]));
  if ((krd = open_recipient (NULL, argv[1], ca_krd_path, serial, at_text, &error)) == NULL ||
      (out_path != NULL && !write_cert_pem (out_path, krd, &error)))
    return pp_tool_fail_error (error);
  print_cert (_("KRD"), krd, json);
  return 0;
}

int
pp_tool_tr34_main (int    argc,
                   char **argv)
{
  static const PpToolCommand commands[] = {
    { "kdh-token",   cmd_kdh_token,   N_("Build a KT_KDH key token (lab: clear key in)") },
    { "krd-receive", cmd_krd_receive, N_("Receive a KT_KDH as a KRD (lab: clear key out)") },
    { "inspect",     cmd_inspect,     N_("Show the type, signer, nonce, header and profile of a token") },
    { "kdh-credential", cmd_kdh_credential, N_("Build a CT_KDH (KDH certificate and CRL) for bind") },
    { "krd-bind",    cmd_krd_bind,    N_("Receive a CT_KDH as a KRD and show the KDH it binds to") },
    { "kdh-rebind",  cmd_kdh_rebind,  N_("Build an RBT_KDH (rebind to another KDH)") },
    { "krd-rebind",  cmd_krd_rebind,  N_("Receive an RBT_KDH as a KRD") },
    { "kdh-unbind",  cmd_kdh_unbind,  N_("Build a UBT_KDH (unbind)") },
    { "krd-unbind",  cmd_krd_unbind,  N_("Receive a UBT_KDH as a KRD") },
    { "kdh-check-krd", cmd_kdh_check_krd, N_("Check a terminal's CT_KRD against CA_KRD and its serial") },
    { NULL, NULL, NULL }
  };

  return pp_tool_dispatch (argv[0], commands, argc, argv);
}
