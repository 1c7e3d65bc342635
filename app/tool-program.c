/* SPDX-License-Identifier: GPL-3.0-or-later
 *
 * tool-program.c: posprov-tool program pack / verify: signed program
 * packages (docs/program-package.md) as the station pushes them.
 */
#include "config.h"

#include <inttypes.h>
#include <stdio.h>

#include <glib/gi18n.h>
#include <openssl/pem.h>

#include "pp-keystore.h"
#include "pp-openssl-types.h"
#include "pp-program-package.h"
#include "tool-commands.h"
#include "tool-common.h"
#include "tool-pki.h"

/* Secret of an encrypted PEM program-signing key or the PKCS#11 PIN. */
#define PROGRAM_SECRET_ENV "POSPROV_PROGRAM_KEY_SECRET"

static char *
hex (const guint8 *data,
     gsize         len)
{
  GString *s = g_string_sized_new (2 * len);

  for (gsize i = 0; i < len; i++)
    g_string_append_printf (s, "%02x", data[i]);
  return g_string_free (s, FALSE);
}

static int
cmd_pack (int    argc,
          char **argv)
{
  g_autofree char *name = NULL, *version = NULL, *models = NULL, *kind_text = NULL;
  g_autofree char *key = NULL, *cert_path = NULL, *out = NULL;
  gboolean json = FALSE;
  const GOptionEntry entries[] = {
    { "name", 0, 0, G_OPTION_ARG_STRING, &name, N_("Program name"), N_("NAME") },
    { "version", 0, 0, G_OPTION_ARG_STRING, &version, N_("Program version"), N_("VERSION") },
    { "kind", 0, 0, G_OPTION_ARG_STRING, &kind_text,
      N_("signature-file, manager or payment-app (default: payment-app); they install in that order"), N_("KIND") },
    { "models", 0, 0, G_OPTION_ARG_STRING, &models, N_("Terminal models it is for, comma-separated"), N_("M1,M2") },
    { "signing-key", 0, 0, G_OPTION_ARG_STRING, &key,
      N_("Program-signing key: a PEM file or pkcs11: URI (secret in POSPROV_PROGRAM_KEY_SECRET)"), N_("KEY") },
    { "signing-cert", 0, 0, G_OPTION_ARG_FILENAME, &cert_path, N_("Certificate of the signing key (PEM)"), N_("PEM") },
    { "output", 'o', 0, G_OPTION_ARG_FILENAME, &out, N_("The package to write"), N_("PKG") },
    { "json", 0, 0, G_OPTION_ARG_NONE, &json, N_("Print JSON"), NULL },
    { NULL }
  };
  g_autoptr(GOptionContext) context = g_option_context_new (_("FILES…"));
  g_autoptr(GError) error = NULL;
  g_autoptr(X509) cert = NULL;
  g_autoptr(PpSigner) signer = NULL;
  g_autoptr(GBytes) cert_der = NULL;
  g_auto(GStrv) model_list = NULL;
  g_autoptr(PpProgramPackage) pkg = NULL;
  PpProgramKind kind = PP_PROGRAM_KIND_PAYMENT_APP;
  guint8 *der = NULL;
  int der_len;

  g_option_context_set_summary (context, _("Pack FILES into a signed program package: a manifest with the "
                                           "name, version, kind, models and each file's size and SHA-256, "
                                           "signed by the program-signing key, with its certificate."));
  g_option_context_add_main_entries (context, entries, GETTEXT_PACKAGE);
  if (!pp_tool_parse (context, &argc, &argv))
    return 1;
  if (name == NULL || version == NULL || models == NULL || key == NULL || cert_path == NULL || out == NULL)
    return pp_tool_fail (_("program pack: --name, --version, --models, --signing-key, --signing-cert and -o are required"));
  if (argc < 2)
    return pp_tool_fail (_("program pack: give the program's files"));
  if (kind_text != NULL && !pp_program_kind_from_string (kind_text, &kind))
    return pp_tool_fail (_("--kind: “%s” is not signature-file, manager or payment-app"), kind_text);
  model_list = g_strsplit (models, ",", -1);
  for (guint i = 0; model_list[i] != NULL; i++)
    g_strstrip (model_list[i]);
  if ((cert = pp_tool_load_cert ("--signing-cert", cert_path, &error)) == NULL)
    return pp_tool_fail_error (error);
  if ((signer = pp_signer_new_for_uri (key, g_getenv (PROGRAM_SECRET_ENV), &error)) == NULL)
    return pp_tool_fail (_("--signing-key: %s"), error->message);
  der_len = i2d_X509 (cert, &der);
  if (der_len <= 0)
    return pp_tool_fail (_("--signing-cert: cannot encode the certificate"));
  cert_der = g_bytes_new (der, (gsize) der_len);
  OPENSSL_free (der);
  if (!pp_program_package_pack (out, name, version, kind, (const char * const *) model_list,
                                (const char * const *) argv + 1, cert_der,
                                pp_tool_sign_with_signer, signer, &error))
    return pp_tool_fail_error (error);
  /* Read back what was written: the package a terminal will get. */
  if ((pkg = pp_program_package_open (out, &error)) == NULL)
    return pp_tool_fail_error (error);
  if (json)
    {
      g_autoptr(JsonBuilder) b = json_builder_new ();
      g_autoptr(JsonNode) root = NULL;
      g_autofree char *sum = hex (pp_program_package_get_payload_sha256 (pkg), 32);

      json_builder_begin_object (b);
      json_builder_set_member_name (b, "package");
      json_builder_add_string_value (b, out);
      json_builder_set_member_name (b, "size");
      json_builder_add_int_value (b, (gint64) g_bytes_get_size (pp_program_package_get_payload (pkg)));
      json_builder_set_member_name (b, "sha256");
      json_builder_add_string_value (b, sum);
      json_builder_end_object (b);
      root = json_builder_get_root (b);
      pp_tool_print_json (root);
    }
  else
    printf (_("Packed %s %s (%s, %u files, %zu bytes) into %s\n"), name, version,
            pp_program_kind_describe (kind), g_strv_length (argv) - 1,
            g_bytes_get_size (pp_program_package_get_payload (pkg)), out);
  return 0;
}

static char *
cert_subject (GBytes *der)
{
  const guint8 *p = g_bytes_get_data (der, NULL);
  g_autoptr(X509) cert = d2i_X509 (NULL, &p, (long) g_bytes_get_size (der));
  g_autoptr(BIO) bio = BIO_new (BIO_s_mem ());
  char *data = NULL;
  long n;

  if (cert == NULL)
    return g_strdup ("?");
  X509_NAME_print_ex (bio, X509_get_subject_name (cert), 0, XN_FLAG_RFC2253);
  n = BIO_get_mem_data (bio, &data);
  return g_strndup (data, (gsize) MAX (n, 0));
}

static int
cmd_verify (int    argc,
            char **argv)
{
  g_autofree char *trust_path = NULL;
  gboolean json = FALSE;
  const GOptionEntry entries[] = {
    { "trust", 0, 0, G_OPTION_ARG_FILENAME, &trust_path,
      N_("Trusted program-signing certificates or their CA (PEM)"), N_("PEM") },
    { "json", 0, 0, G_OPTION_ARG_NONE, &json, N_("Print JSON"), NULL },
    { NULL }
  };
  g_autoptr(GOptionContext) context = g_option_context_new (_("PKG"));
  g_autoptr(GError) error = NULL;
  g_autoptr(PpProgramPackage) pkg = NULL;
  g_autoptr(GPtrArray) trust = g_ptr_array_new_with_free_func ((GDestroyNotify) X509_free);
  g_autofree char *signer = NULL, *sum = NULL;
  const PpProgramManifest *m;
  STACK_OF(X509) *certs;

  g_option_context_set_summary (context, _("Check a program package: its structure, every file's size and "
                                           "SHA-256 against the manifest, and the manifest's signature by a "
                                           "program-signing certificate that chains to --trust and is valid now."));
  g_option_context_add_main_entries (context, entries, GETTEXT_PACKAGE);
  if (!pp_tool_parse (context, &argc, &argv))
    return 1;
  if (argc != 2)
    return pp_tool_fail (_("usage: program verify PKG --trust PEM"));
  if (trust_path == NULL)
    return pp_tool_fail (_("program verify: --trust is required"));
  if ((certs = pp_tool_load_certs ("--trust", trust_path, &error)) == NULL)
    return pp_tool_fail_error (error);
  while (sk_X509_num (certs) > 0)
    g_ptr_array_add (trust, sk_X509_shift (certs));
  sk_X509_free (certs);
  if ((pkg = pp_program_package_open (argv[1], &error)) == NULL ||
      !pp_program_package_verify (pkg, trust, 0, &error))
    return pp_tool_fail_error (error);
  m = pp_program_package_get_manifest (pkg);
  signer = cert_subject (pp_program_package_get_certificate (pkg));
  sum = hex (pp_program_package_get_payload_sha256 (pkg), 32);
  if (json)
    {
      g_autoptr(JsonBuilder) b = json_builder_new ();
      g_autoptr(JsonNode) root = NULL;

      json_builder_begin_object (b);
      json_builder_set_member_name (b, "name");
      json_builder_add_string_value (b, pp_program_manifest_get_name (m));
      json_builder_set_member_name (b, "version");
      json_builder_add_string_value (b, pp_program_manifest_get_version (m));
      json_builder_set_member_name (b, "kind");
      json_builder_add_string_value (b, pp_program_kind_to_string (pp_program_manifest_get_kind (m)));
      json_builder_set_member_name (b, "models");
      json_builder_begin_array (b);
      for (const char * const *p = pp_program_manifest_get_models (m); *p != NULL; p++)
        json_builder_add_string_value (b, *p);
      json_builder_end_array (b);
      json_builder_set_member_name (b, "files");
      json_builder_begin_array (b);
      for (guint i = 0; i < pp_program_manifest_get_n_files (m); i++)
        {
          const guint8 *fsum = NULL;
          guint64 size = 0;
          const char *fname = pp_program_manifest_get_file (m, i, &size, &fsum);
          g_autofree char *fhex = hex (fsum, 32);

          json_builder_begin_object (b);
          json_builder_set_member_name (b, "name");
          json_builder_add_string_value (b, fname);
          json_builder_set_member_name (b, "size");
          json_builder_add_int_value (b, (gint64) size);
          json_builder_set_member_name (b, "sha256");
          json_builder_add_string_value (b, fhex);
          json_builder_end_object (b);
        }
      json_builder_end_array (b);
      json_builder_set_member_name (b, "size");
      json_builder_add_int_value (b, (gint64) pp_program_manifest_get_payload_size (m));
      json_builder_set_member_name (b, "sha256");
      json_builder_add_string_value (b, sum);
      json_builder_set_member_name (b, "signer");
      json_builder_add_string_value (b, signer);
      json_builder_end_object (b);
      root = json_builder_get_root (b);
      pp_tool_print_json (root);
    }
  else
    {
      g_autofree char *model_list = g_strjoinv (", ", (char **) pp_program_manifest_get_models (m));

      printf (_("Program %s %s (%s) for %s: %u files, %" PRIu64 " bytes, signed by %s: verified\n"),
              pp_program_manifest_get_name (m), pp_program_manifest_get_version (m),
              pp_program_kind_describe (pp_program_manifest_get_kind (m)), model_list,
              pp_program_manifest_get_n_files (m), pp_program_manifest_get_payload_size (m), signer);
    }
  return 0;
}

int
pp_tool_program_main (int    argc,
                      char **argv)
{
  static const PpToolCommand commands[] = {
    { "pack",   cmd_pack,   N_("Pack files into a signed program package") },
    { "verify", cmd_verify, N_("Check a program package's files, signature and signer") },
    { NULL, NULL, NULL }
  };

  return pp_tool_dispatch (argv[0], commands, argc, argv);
}
