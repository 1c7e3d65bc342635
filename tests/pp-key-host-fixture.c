/* SPDX-License-Identifier: GPL-3.0-or-later
 *
 * pp-key-host-fixture.c: a store with its key host configured.
 */
#include "config.h"

#include <openssl/pkcs7.h>
#include <openssl/rsa.h>
#include <openssl/x509v3.h>

#include "pp-key-host-fixture.h"
#include "pp-openssl-types.h"

static time_t
utc (int year)
{
  g_autoptr(GDateTime) dt = g_date_time_new_utc (year, 1, 1, 0, 0, 0);

  return (time_t) g_date_time_to_unix (dt);
}

static void
add_ext (X509       *cert,
         X509V3_CTX *ctx,
         int         nid,
         const char *value)
{
  X509_EXTENSION *ext = X509V3_EXT_nconf_nid (NULL, ctx, nid, value);

  g_assert_nonnull (ext);
  g_assert_cmpint (X509_add_ext (cert, ext, -1), ==, 1);
  X509_EXTENSION_free (ext);
}

static X509 *
make_cert (EVP_PKEY   *key,
           const char *cn,
           const char *serial_number,
           X509       *issuer,
           EVP_PKEY   *issuer_key,
           long        serial,
           gboolean    ca,
           int         from_year,
           int         to_year)
{
  X509 *cert = X509_new ();
  g_autoptr(X509_NAME) name = X509_NAME_new ();
  X509V3_CTX ctx;

  g_assert_cmpint (X509_set_version (cert, 2), ==, 1);
  ASN1_INTEGER_set (X509_get_serialNumber (cert), serial);
  X509_NAME_add_entry_by_txt (name, "O", MBSTRING_ASC, (const unsigned char *) "posprov test", -1, -1, 0);
  X509_NAME_add_entry_by_txt (name, "CN", MBSTRING_ASC, (const unsigned char *) cn, -1, -1, 0);
  if (serial_number != NULL)
    X509_NAME_add_entry_by_txt (name, "serialNumber", MBSTRING_ASC, (const unsigned char *) serial_number,
                                -1, -1, 0);
  X509_set_subject_name (cert, name);
  X509_set_issuer_name (cert, issuer != NULL ? X509_get_subject_name (issuer) : name);
  ASN1_TIME_set (X509_getm_notBefore (cert), utc (from_year));
  ASN1_TIME_set (X509_getm_notAfter (cert), utc (to_year));
  X509_set_pubkey (cert, key);
  X509V3_set_ctx (&ctx, issuer != NULL ? issuer : cert, cert, NULL, NULL, 0);
  add_ext (cert, &ctx, NID_basic_constraints, ca ? "critical,CA:TRUE" : "critical,CA:FALSE");
  add_ext (cert, &ctx, NID_key_usage, ca ? "critical,keyCertSign,cRLSign"
                                         : "critical,digitalSignature,keyEncipherment");
  add_ext (cert, &ctx, NID_subject_key_identifier, "hash");
  if (issuer != NULL)
    add_ext (cert, &ctx, NID_authority_key_identifier, "keyid");
  g_assert_cmpint (X509_sign (cert, issuer_key, EVP_sha256 ()), >, 0);
  return cert;
}

static GBytes *
cert_der (X509 *cert)
{
  unsigned char *der = NULL;
  int len = i2d_X509 (cert, &der);
  GBytes *bytes;

  g_assert_cmpint (len, >, 0);
  bytes = g_bytes_new (der, (gsize) len);
  OPENSSL_free (der);
  return bytes;
}

X509 *
pp_key_host_fixture_make_krd_cert (const PpKeyHostFixture *f,
                                   const char             *serial,
                                   EVP_PKEY               *key,
                                   X509                   *issuer,
                                   EVP_PKEY               *issuer_key,
                                   int                     from_year,
                                   int                     to_year)
{
  static gint next_serial = 0x3000;
  g_autofree char *cn = g_strdup_printf ("Terminal %s", serial);

  return make_cert (key, cn, serial, issuer != NULL ? issuer : f->pki->ca_krd,
                    issuer_key != NULL ? issuer_key : f->pki->ca_krd_key,
                    g_atomic_int_add (&next_serial, 1), FALSE, from_year, to_year);
}

X509 *
pp_key_host_fixture_make_rogue_ca (EVP_PKEY **out_key)
{
  EVP_PKEY *key = EVP_RSA_gen (2048);

  g_assert_nonnull (key);
  *out_key = key;
  return make_cert (key, "Test CA KRD", NULL, NULL, key, 3, TRUE, 2020, 2045);
}

char *
pp_key_host_fixture_cert_fingerprint (X509 *cert)
{
  g_autoptr(GBytes) der = cert_der (cert);
  g_autofree char *lower = g_compute_checksum_for_bytes (G_CHECKSUM_SHA256, der);

  return g_ascii_strup (lower, -1);
}

GBytes *
pp_key_host_fixture_ct_krd (X509 *cert)
{
  PKCS7 *p7 = PKCS7_new ();
  unsigned char *der = NULL;
  GBytes *bytes;
  int len;

  /* A degenerate SignedData with the one certificate, as a terminal sends it. */
  g_assert_cmpint (PKCS7_set_type (p7, NID_pkcs7_signed), ==, 1);
  ASN1_OBJECT_free (p7->d.sign->contents->type);
  p7->d.sign->contents->type = OBJ_nid2obj (NID_pkcs7_data);
  g_assert_cmpint (PKCS7_add_certificate (p7, cert), ==, 1);
  len = i2d_PKCS7 (p7, &der);
  g_assert_cmpint (len, >, 0);
  bytes = g_bytes_new (der, (gsize) len);
  OPENSSL_free (der);
  PKCS7_free (p7);
  return bytes;
}

void
pp_key_host_fixture_set_up (PpKeyHostFixture       *f,
                            const PpTerminalIntake *rows,
                            guint                   n_rows)
{
  pp_key_host_fixture_set_up_with (f, rows, n_rows, NULL);
}

void
pp_key_host_fixture_set_up_with (PpKeyHostFixture       *f,
                                 const PpTerminalIntake *rows,
                                 guint                   n_rows,
                                 PpKeyStore             *key_store)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(PpSigner) signer = NULL;
  g_autoptr(EVP_PKEY) pub = NULL;
  g_autoptr(PpKeyHostConfig) config = pp_key_host_config_new ();
  unsigned char *der = NULL;
  int len;

  pp_store_fixture_set_up (&f->base, rows, n_rows, "carol");
  if (key_store != NULL)
    g_set_object (&f->base.key_store, key_store);
  f->pki = pp_test_pki_get ();

  /* The KDH key is made in the key store; CA_KDH certifies it. */
  g_assert_true (pp_key_store_generate_kdh_key (f->base.key_store, PP_KEY_HOST_FIXTURE_KDH_LABEL, NULL, &error));
  g_assert_no_error (error);
  signer = pp_key_store_get_signer (f->base.key_store, PP_KEY_HOST_FIXTURE_KDH_LABEL, &error);
  g_assert_no_error (error);
  pub = pp_signer_dup_public_key (signer, &error);
  g_assert_no_error (error);
  f->kdh_cert = make_cert (pub, "Test KDH key host", NULL, f->pki->ca_kdh, f->pki->ca_kdh_key, 0x1101,
                           FALSE, 2021, 2040);

  config->kdh_key_label = g_strdup (PP_KEY_HOST_FIXTURE_KDH_LABEL);
  config->kdh_certificate = cert_der (f->kdh_cert);
  len = i2d_X509_CRL (f->pki->crl, &der);
  g_assert_cmpint (len, >, 0);
  config->kdh_crl = g_bytes_new (der, (gsize) len);
  OPENSSL_free (der);
  g_ptr_array_add (config->ca_krd, cert_der (f->pki->root));
  g_ptr_array_add (config->ca_krd, cert_der (f->pki->ca_krd));
  g_assert_true (pp_store_set_key_host_config (f->base.store, config, "carol", &error));
  g_assert_no_error (error);
}

void
pp_key_host_fixture_tear_down (PpKeyHostFixture *f)
{
  g_clear_pointer (&f->kdh_cert, X509_free);
  pp_store_fixture_tear_down (&f->base);
}
