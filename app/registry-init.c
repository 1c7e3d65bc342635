/* SPDX-License-Identifier: GPL-3.0-or-later
 *
 * registry-init.c: posprov-registry init: a new registry store with its
 * first administrator "admin", the KDH key pair in the key store (its
 * certificate issued by CA_KDH, or a certificate request for the CA), the
 * CA_KRD trust and the key host configuration.
 *
 * All or nothing: the store is made under a temporary name next to PATH,
 * the key host is started on it once (pp_key_host_new: key, certificate,
 * trust agree), and only then is it renamed to PATH. A failure removes the
 * temporary store and any request written. The KDH key has a label of its
 * own (kdh-XXXXXXXX), so a failed run leaves at most an unused key in the
 * key store (it has no delete), never one a retry would stumble on.
 *
 * Without CA_KDH's key the new store has no key host yet: the request is
 * written to PATH.kdh-csr.pem, and the signed certificate is installed later
 * on the existing store: init --db PATH --key-store LOCATION --kdh-label
 * LABEL --kdh-cert PEM --ca-krd-cert PEM [--ca-kdh-crl DER], as admin
 * (PP_ADMIN_PASSWORD or asked).
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <glib/gi18n.h>
#include <glib/gstdio.h>
#include <openssl/bn.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include "pp-key-host.h"
#include "pp-keystore.h"
#include "pp-openssl-types.h"
#include "pp-password.h"
#include "pp-store.h"
#include "registry-commands.h"
#include "tool-common.h"
#include "tool-password.h"
#include "tool-pki.h"

#define ADMIN_NAME          "admin"
#define ADMIN_PASSWORD_ENV  "PP_ADMIN_PASSWORD"
#define CA_KEY_SECRET_ENV   "POSPROV_CA_KEY_SECRET"
#define KDH_YEARS           5

G_DEFINE_AUTOPTR_CLEANUP_FUNC (X509_REQ, X509_REQ_free)
G_DEFINE_AUTOPTR_CLEANUP_FUNC (X509_ALGOR, X509_ALGOR_free)

static int
fail (const char *format,
      ...) G_GNUC_PRINTF (1, 2);

static int
fail (const char *format,
      ...)
{
  g_autofree char *message = NULL;
  g_autofree char *safe = NULL;
  va_list args;

  va_start (args, format);
  message = g_strdup_vprintf (format, args);
  va_end (args);
  g_strdelimit (message, "\r\n", ' ');
  safe = pp_tool_printable (message);
  fprintf (stderr, "posprov-registry: %s\n", safe != NULL ? safe : message);
  return 1;
}

static int
fail_error (const GError *error)
{
  return fail ("%s", error->message);
}

typedef struct {
  char *db_path;
  char *key_store;
  char *ca_kdh_cert;
  char *ca_kdh_key;
  char *ca_kdh_crl;
  char *ca_krd_cert;
  char *kdh_cert;
  char *kdh_label;
} Options;

static void
options_clear (Options *o)
{
  g_free (o->db_path);
  g_free (o->key_store);
  g_free (o->ca_kdh_cert);
  g_free (o->ca_kdh_key);
  g_free (o->ca_kdh_crl);
  g_free (o->ca_krd_cert);
  g_free (o->kdh_cert);
  g_free (o->kdh_label);
}

G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (Options, options_clear)

static GBytes *
cert_der (X509 *cert)
{
  unsigned char *der = NULL;
  int len = i2d_X509 (cert, &der);
  GBytes *bytes;

  if (len <= 0)
    return NULL;
  bytes = g_bytes_new (der, (gsize) len);
  OPENSSL_free (der);
  return bytes;
}

static void
set_crypto_error (GError     **error,
                  const char  *what)
{
  g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED, _("OpenSSL could not make the %s"), what);
}

/* Sets @alg and @sig's algorithm to sha256WithRSAEncryption, signs @tbs
 * with @signer and puts the signature into @sig. */
static gboolean
sign_into (PpSigner        *signer,
           unsigned char   *tbs,
           int              tbs_len,
           ASN1_BIT_STRING *sig,
           GError         **error)
{
  g_autoptr(GBytes) signature = NULL;
  gboolean ok = pp_signer_sign (signer, tbs, (gsize) tbs_len, &signature, error);

  OPENSSL_free (tbs);
  if (!ok)
    return FALSE;
  if (ASN1_BIT_STRING_set (sig, (unsigned char *) g_bytes_get_data (signature, NULL),
                           (int) g_bytes_get_size (signature)) != 1)
    {
      set_crypto_error (error, _("signature"));
      return FALSE;
    }
  sig->flags &= ~(ASN1_STRING_FLAG_BITS_LEFT | 0x07);
  sig->flags |= ASN1_STRING_FLAG_BITS_LEFT;
  return TRUE;
}

static X509_NAME *
kdh_subject (void)
{
  X509_NAME *name = X509_NAME_new ();

  X509_NAME_add_entry_by_txt (name, "O", MBSTRING_UTF8, (const unsigned char *) "posprov", -1, -1, 0);
  X509_NAME_add_entry_by_txt (name, "CN", MBSTRING_UTF8, (const unsigned char *) "posprov key host (KDH)", -1,
                              -1, 0);
  return name;
}

static gboolean
add_ext (X509       *cert,
         X509       *issuer,
         int         nid,
         const char *value)
{
  X509V3_CTX ctx;
  X509_EXTENSION *ext;
  gboolean ok;

  X509V3_set_ctx (&ctx, issuer, cert, NULL, NULL, 0);
  ext = X509V3_EXT_nconf_nid (NULL, &ctx, nid, value);
  ok = ext != NULL && X509_add_ext (cert, ext, -1) == 1;
  X509_EXTENSION_free (ext);
  return ok;
}

/* The KDH certificate for @pub, issued by @ca with @ca_signer. */
static X509 *
issue_kdh_cert (EVP_PKEY  *pub,
                X509      *ca,
                PpSigner  *ca_signer,
                GError   **error)
{
  g_autoptr(X509) cert = X509_new ();
  g_autoptr(BIGNUM) serial = BN_new ();
  g_autoptr(X509_NAME) subject = kdh_subject ();
  const ASN1_BIT_STRING *csig = NULL;
  const X509_ALGOR *calg = NULL;
  unsigned char *tbs = NULL, *der = NULL;
  const unsigned char *p;
  X509 *issued;
  int tbs_len, der_len;

  if (BN_rand (serial, 127, BN_RAND_TOP_ONE, BN_RAND_BOTTOM_ANY) != 1 ||
      X509_set_version (cert, 2) != 1 ||
      BN_to_ASN1_INTEGER (serial, X509_get_serialNumber (cert)) == NULL ||
      X509_set_subject_name (cert, subject) != 1 ||
      X509_set_issuer_name (cert, X509_get_subject_name (ca)) != 1 ||
      X509_gmtime_adj (X509_getm_notBefore (cert), -300) == NULL ||
      X509_time_adj_ex (X509_getm_notAfter (cert), 365 * KDH_YEARS, 0, NULL) == NULL ||
      X509_set_pubkey (cert, pub) != 1 ||
      !add_ext (cert, ca, NID_basic_constraints, "critical,CA:FALSE") ||
      !add_ext (cert, ca, NID_key_usage, "critical,digitalSignature,keyEncipherment") ||
      !add_ext (cert, ca, NID_subject_key_identifier, "hash") ||
      !add_ext (cert, ca, NID_authority_key_identifier, "keyid:always"))
    {
      set_crypto_error (error, _("KDH certificate"));
      return NULL;
    }
  /* Not after the CA itself. */
  if (ASN1_TIME_compare (X509_get0_notAfter (cert), X509_get0_notAfter (ca)) > 0)
    X509_set1_notAfter (cert, X509_get0_notAfter (ca));

  X509_get0_signature (&csig, &calg, cert);
  if (X509_ALGOR_set0 ((X509_ALGOR *) X509_get0_tbs_sigalg (cert), OBJ_nid2obj (NID_sha256WithRSAEncryption),
                       V_ASN1_NULL, NULL) != 1 ||
      X509_ALGOR_set0 ((X509_ALGOR *) calg, OBJ_nid2obj (NID_sha256WithRSAEncryption), V_ASN1_NULL, NULL) != 1 ||
      (tbs_len = i2d_re_X509_tbs (cert, &tbs)) <= 0)
    {
      set_crypto_error (error, _("KDH certificate"));
      return NULL;
    }
  if (!sign_into (ca_signer, tbs, tbs_len, (ASN1_BIT_STRING *) csig, error))
    return NULL;
  /* Re-read, so the encoding is the one signed; then check it. */
  if ((der_len = i2d_X509 (cert, &der)) <= 0)
    {
      set_crypto_error (error, _("KDH certificate"));
      return NULL;
    }
  p = der;
  issued = d2i_X509 (NULL, &p, der_len);
  OPENSSL_free (der);
  if (issued == NULL || X509_verify (issued, X509_get0_pubkey (ca)) != 1)
    {
      X509_free (issued);
      g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_FAILED,
                           _("the KDH certificate does not verify under --ca-kdh-cert: is --ca-kdh-key its key?"));
      return NULL;
    }
  return issued;
}

/* A PKCS#10 request for @pub signed by the key store's KDH key. */
static char *
kdh_csr_pem (EVP_PKEY  *pub,
             PpSigner  *kdh_signer,
             GError   **error)
{
  g_autoptr(X509_REQ) req = X509_REQ_new ();
  g_autoptr(X509_NAME) subject = kdh_subject ();
  g_autoptr(BIO) bio = BIO_new (BIO_s_mem ());
  g_autoptr(X509_ALGOR) alg = X509_ALGOR_new ();
  ASN1_BIT_STRING *sig = ASN1_BIT_STRING_new ();
  unsigned char *tbs = NULL;
  char *data = NULL;
  long len;
  int tbs_len;

  if (X509_REQ_set_version (req, 0) != 1 || X509_REQ_set_subject_name (req, subject) != 1 ||
      X509_REQ_set_pubkey (req, pub) != 1 ||
      X509_ALGOR_set0 (alg, OBJ_nid2obj (NID_sha256WithRSAEncryption), V_ASN1_NULL, NULL) != 1 ||
      X509_REQ_set1_signature_algo (req, alg) != 1 || (tbs_len = i2d_re_X509_REQ_tbs (req, &tbs)) <= 0)
    {
      ASN1_BIT_STRING_free (sig);
      set_crypto_error (error, _("certificate request"));
      return NULL;
    }
  if (!sign_into (kdh_signer, tbs, tbs_len, sig, error))
    {
      ASN1_BIT_STRING_free (sig);
      return NULL;
    }
  X509_REQ_set0_signature (req, sig);
  if (X509_REQ_verify (req, pub) != 1 || PEM_write_bio_X509_REQ (bio, req) != 1)
    {
      set_crypto_error (error, _("certificate request"));
      return NULL;
    }
  len = BIO_get_mem_data (bio, &data);
  return g_strndup (data, (gsize) len);
}

/* The key host configuration for @label's certificate @kdh and the trust. */
static PpKeyHostConfig *
make_config (const char  *label,
             X509        *kdh,
             const char  *crl_path,
             const char  *krd_path,
             GError     **error)
{
  g_autoptr(PpKeyHostConfig) config = pp_key_host_config_new ();
  STACK_OF (X509) *krd = pp_tool_load_certs ("--ca-krd-cert", krd_path, error);

  if (krd == NULL)
    return NULL;
  config->kdh_key_label = g_strdup (label);
  config->kdh_certificate = kdh != NULL ? cert_der (kdh) : NULL;
  while (sk_X509_num (krd) > 0)
    {
      g_autoptr(X509) c = sk_X509_shift (krd);

      g_ptr_array_add (config->ca_krd, cert_der (c));
    }
  sk_X509_free (krd);
  if (crl_path != NULL)
    {
      g_autoptr(X509_CRL) crl = pp_tool_load_crl ("--ca-kdh-crl", crl_path, error);
      unsigned char *der = NULL;
      int len;

      if (crl == NULL)
        return NULL;
      len = i2d_X509_CRL (crl, &der);
      config->kdh_crl = g_bytes_new (der, (gsize) MAX (len, 0));
      OPENSSL_free (der);
    }
  return g_steal_pointer (&config);
}

/* Sets the configuration and starts the key host on @store once. */
static gboolean
configure (PpStore           *store,
           PpKeyStore        *key_store,
           PpKeyHostConfig   *config,
           GError           **error)
{
  g_autoptr(PpKeyHost) host = NULL;

  if (!pp_store_set_key_host_config (store, config, ADMIN_NAME, error))
    return FALSE;
  host = pp_key_host_new (store, key_store, error);
  return host != NULL;
}

static PpKeyStore *
open_key_store (const char  *location,
                GError     **error)
{
  g_autoptr(GError) local = NULL;
  PpKeyStore *keys = pp_key_store_new_for_location (location, g_getenv (PP_STORE_KEY_STORE_SECRET_ENV), &local);

  if (keys == NULL)
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED, _("--key-store: %s (its passphrase or PIN goes in %s)"),
                 local->message, PP_STORE_KEY_STORE_SECRET_ENV);
  return keys;
}

static void
remove_store_files (const char *path)
{
  static const char * const suffixes[] = { "", "-wal", "-shm", "-journal" };

  for (guint i = 0; i < G_N_ELEMENTS (suffixes); i++)
    {
      g_autofree char *p = g_strconcat (path, suffixes[i], NULL);

      g_unlink (p);
    }
}

/* init on an existing store: install the CA-signed KDH certificate. */
static int
install_certificate (Options *o)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(PpStore) store = NULL;
  g_autoptr(PpKeyStore) key_store = NULL;
  g_autoptr(PpSigner) signer = NULL;
  g_autoptr(EVP_PKEY) pub = NULL;
  g_autoptr(X509) cert = NULL;
  g_autoptr(PpUser) admin = NULL;
  g_autoptr(PpSecureBuffer) password = NULL;
  g_autoptr(PpKeyHostConfig) config = NULL;

  if (o->kdh_label == NULL)
    return fail (_("--kdh-cert needs --kdh-label, the label init printed with the certificate request"));
  if (o->ca_krd_cert == NULL)
    return fail (_("--ca-krd-cert is required"));
  if ((cert = pp_tool_load_cert ("--kdh-cert", o->kdh_cert, &error)) == NULL ||
      (store = pp_store_open_existing (o->db_path, &error)) == NULL)
    return fail_error (error);
  if ((password = pp_tool_new_password (ADMIN_PASSWORD_ENV, _("Password of admin: "), &error)) == NULL ||
      (admin = pp_store_authenticate (store, ADMIN_NAME, (const char *) pp_secure_buffer_peek (password),
                                      &error)) == NULL)
    return fail_error (error);
  if ((key_store = open_key_store (o->key_store, &error)) == NULL ||
      (signer = pp_key_store_get_signer (key_store, o->kdh_label, &error)) == NULL ||
      (pub = pp_signer_dup_public_key (signer, &error)) == NULL)
    return fail_error (error);
  if (EVP_PKEY_eq (pub, X509_get0_pubkey (cert)) != 1)
    return fail (_("--kdh-cert certifies another key than the key store’s %s: nothing was changed"), o->kdh_label);
  if ((config = make_config (o->kdh_label, cert, o->ca_kdh_crl, o->ca_krd_cert, &error)) == NULL ||
      !configure (store, key_store, config, &error))
    return fail_error (error);
  printf (_("The key host of %s is configured with the KDH certificate of %s.\n"), o->db_path, o->kdh_label);
  return 0;
}

static int
create_store (Options *o)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(PpSecureBuffer) password = NULL;
  g_autoptr(PpKeyStore) key_store = NULL;
  g_autoptr(PpSigner) kdh_signer = NULL;
  g_autoptr(PpSigner) ca_signer = NULL;
  g_autoptr(EVP_PKEY) pub = NULL;
  g_autoptr(EVP_PKEY) ca_pub = NULL;
  g_autoptr(X509) ca = NULL;
  g_autoptr(X509) kdh = NULL;
  g_autoptr(PpKeyHostConfig) config = NULL;
  g_autoptr(PpStore) store = NULL;
  g_autoptr(PpUser) admin = NULL;
  g_autofree char *label = NULL;
  g_autofree char *tmp = NULL;
  g_autofree char *csr = NULL;
  g_autofree char *csr_path = NULL;
  guint32 r = g_random_int ();

  if (o->ca_krd_cert == NULL)
    return fail (_("--ca-krd-cert is required: the root and CA_KRD certificates terminals chain to"));
  if ((o->ca_kdh_cert == NULL) != (o->ca_kdh_key == NULL))
    return fail (_("--ca-kdh-cert and --ca-kdh-key go together (without them a certificate request is written)"));
  if (o->kdh_label != NULL)
    return fail (_("--kdh-label is for installing a certificate with --kdh-cert"));

  /* Everything that can be checked before anything is made. */
  if (o->ca_kdh_cert != NULL)
    {
      if ((ca = pp_tool_load_cert ("--ca-kdh-cert", o->ca_kdh_cert, &error)) == NULL)
        return fail_error (error);
      if ((ca_signer = pp_signer_new_for_uri (o->ca_kdh_key, g_getenv (CA_KEY_SECRET_ENV), &error)) == NULL)
        return fail (_("--ca-kdh-key: %s (a passphrase or PIN goes in %s)"), error->message, CA_KEY_SECRET_ENV);
      if ((ca_pub = pp_signer_dup_public_key (ca_signer, &error)) == NULL)
        return fail ("--ca-kdh-key: %s", error->message);
      if (EVP_PKEY_eq (ca_pub, X509_get0_pubkey (ca)) != 1)
        return fail (_("--ca-kdh-key is not the key of the --ca-kdh-cert certificate"));
    }
  {
    /* The trust and the CRL parse (make_config reads them again at the end). */
    g_autoptr(PpKeyHostConfig) probe = NULL;

    if ((probe = make_config ("kdh", NULL, o->ca_kdh_crl, o->ca_krd_cert, &error)) == NULL)
      return fail_error (error);
  }
  if ((password = pp_tool_new_password (ADMIN_PASSWORD_ENV, _("Password for admin: "), &error)) == NULL)
    return fail_error (error);
  if (!pp_password_check_policy ((const char *) pp_secure_buffer_peek (password), ADMIN_NAME, &error))
    return fail (_("the password of admin: %s"), error->message);
  if ((key_store = open_key_store (o->key_store, &error)) == NULL)
    return fail_error (error);

  /* The KDH key pair, under a label of its own. */
  label = g_strdup_printf ("kdh-%08x", r);
  if (!pp_key_store_generate_kdh_key (key_store, label, NULL, &error) ||
      (kdh_signer = pp_key_store_get_signer (key_store, label, &error)) == NULL ||
      (pub = pp_signer_dup_public_key (kdh_signer, &error)) == NULL)
    return fail (_("cannot make the KDH key in the key store: %s"), error->message);
  if (ca != NULL)
    kdh = issue_kdh_cert (pub, ca, ca_signer, &error);
  else
    csr = kdh_csr_pem (pub, kdh_signer, &error);
  if (kdh == NULL && csr == NULL)
    return fail_error (error);

  /* The store, under a temporary name until it is complete. */
  tmp = g_strdup_printf ("%s.init-%08x", o->db_path, r);
  if ((store = pp_store_open (tmp, &error)) == NULL)
    return fail ("%s: %s", o->db_path, error->message);
  admin = pp_store_create_first_administrator (store, ADMIN_NAME, NULL, (const char *) pp_secure_buffer_peek (password),
                                               &error);
  if (admin != NULL && kdh != NULL)
    {
      config = make_config (label, kdh, o->ca_kdh_crl, o->ca_krd_cert, &error);
      if (config == NULL || !configure (store, key_store, config, &error))
        g_clear_pointer (&admin, pp_user_free);
    }
  if (admin != NULL && csr != NULL)
    {
      csr_path = g_strconcat (o->db_path, ".kdh-csr.pem", NULL);
      if (!g_file_set_contents_full (csr_path, csr, -1, G_FILE_SET_CONTENTS_CONSISTENT, 0644, &error))
        {
          g_clear_pointer (&admin, pp_user_free);
          g_clear_pointer (&csr_path, g_free);
        }
    }
  g_clear_object (&store);
  if (admin == NULL)
    {
      remove_store_files (tmp);
      return fail_error (error);
    }
  /* Refuse to replace a store made meanwhile. */
  if (g_file_test (o->db_path, G_FILE_TEST_EXISTS) || g_rename (tmp, o->db_path) != 0)
    {
      int saved = errno;

      remove_store_files (tmp);
      if (csr_path != NULL)
        g_unlink (csr_path);
      return fail (_("cannot create %s: %s"), o->db_path,
                   g_file_test (o->db_path, G_FILE_TEST_EXISTS) ? _("it exists") : g_strerror (saved));
    }
  remove_store_files (tmp);

  printf (_("Registry store %s created with the administrator admin.\n"), o->db_path);
  if (kdh != NULL)
    printf (_("Key host configured: KDH key %s, certificate issued by CA_KDH.\n"), label);
  else
    printf (_("KDH key %s made; its certificate request is %s. Have CA_KDH sign it, then run:\n"
              "  posprov-registry init --db %s --key-store LOCATION --kdh-label %s --kdh-cert SIGNED.pem "
              "--ca-krd-cert PEM\n"), label, csr_path, o->db_path, label);
  return 0;
}

int
pp_registry_cmd_init (int    argc,
                      char **argv)
{
  g_auto(Options) o = { 0 };
  const GOptionEntry entries[] = {
    { "db", 0, 0, G_OPTION_ARG_FILENAME, &o.db_path, N_("The registry store to create"), N_("PATH") },
    { "key-store", 0, 0, G_OPTION_ARG_STRING, &o.key_store,
      N_("The key store for the KDH key: a folder or a pkcs11: URI (secret in POSPROV_KEY_STORE_SECRET)"),
      N_("LOCATION") },
    { "ca-kdh-cert", 0, 0, G_OPTION_ARG_FILENAME, &o.ca_kdh_cert, N_("CA_KDH’s certificate (PEM)"), N_("PEM") },
    { "ca-kdh-key", 0, 0, G_OPTION_ARG_STRING, &o.ca_kdh_key,
      N_("CA_KDH’s key: a PEM file or pkcs11: URI (secret in POSPROV_CA_KEY_SECRET)"), N_("KEY") },
    { "ca-kdh-crl", 0, 0, G_OPTION_ARG_FILENAME, &o.ca_kdh_crl, N_("CA_KDH’s CRL, carried in the tokens"),
      N_("DER") },
    { "ca-krd-cert", 0, 0, G_OPTION_ARG_FILENAME, &o.ca_krd_cert,
      N_("The root and CA_KRD certificates a terminal’s certificate must chain to (PEM)"), N_("PEM") },
    { "kdh-cert", 0, 0, G_OPTION_ARG_FILENAME, &o.kdh_cert,
      N_("On an existing store: install the KDH certificate CA_KDH signed from the request"), N_("PEM") },
    { "kdh-label", 0, 0, G_OPTION_ARG_STRING, &o.kdh_label, N_("The KDH key’s label, with --kdh-cert"),
      N_("LABEL") },
    { NULL }
  };
  g_autoptr(GOptionContext) context = g_option_context_new (NULL);
  g_autoptr(GError) error = NULL;

  g_option_context_set_summary (context,
    _("Creates a registry store: the administrator admin (password from PP_ADMIN_PASSWORD or asked), "
      "the KDH key pair in the key store with its certificate from CA_KDH (or a certificate request "
      "for CA_KDH to sign), the CA_KRD trust and the key host configuration. All or nothing."));
  g_option_context_add_main_entries (context, entries, GETTEXT_PACKAGE);
  if (!g_option_context_parse (context, &argc, &argv, &error))
    return fail_error (error);
  if (argc != 1)
    return fail (_("unexpected argument “%s” (see “%s --help”)"), argv[1], argv[0]);
  if (o.db_path == NULL || o.key_store == NULL)
    return fail (_("--db and --key-store are required"));

  if (o.kdh_cert != NULL)
    return install_certificate (&o);
  if (g_file_test (o.db_path, G_FILE_TEST_EXISTS))
    return fail (_("%s exists already: init makes a new store (--kdh-cert installs a certificate on it)"),
                 o.db_path);
  return create_store (&o);
}
