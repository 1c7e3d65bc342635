/* SPDX-License-Identifier: GPL-3.0-or-later
 *
 * tr34-test-pki.c: generates the test PKI of tr34-test-pki.h.
 *
 * Everything goes through DER once, as it would arrive from the field,
 * so cached encodings match what a peer would compare.
 */
#include "config.h"

#include <string.h>

#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <openssl/x509v3.h>

#include "pp-openssl-types.h"
#include "tr34-test-pki.h"

static EVP_PKEY *
make_key (void)
{
  EVP_PKEY *key = EVP_RSA_gen (2048);

  g_assert_nonnull (key);
  return key;
}

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
reparse_cert (X509 *cert)
{
  unsigned char *der = NULL;
  const unsigned char *p;
  int len = i2d_X509 (cert, &der);
  X509 *out;

  g_assert_cmpint (len, >, 0);
  p = der;
  out = d2i_X509 (NULL, &p, len);
  g_assert_nonnull (out);
  OPENSSL_free (der);
  X509_free (cert);
  return out;
}

static X509 *
make_cert_ku (EVP_PKEY   *key,
              const char *cn,
              X509       *issuer,
              EVP_PKEY   *issuer_key,
              long        serial,
              gboolean    ca,
              const char *key_usage,
              int         from_year,
              int         to_year)
{
  X509 *cert = X509_new ();
  g_autoptr(X509_NAME) name = X509_NAME_new ();
  X509V3_CTX ctx;

  g_assert_cmpint (X509_set_version (cert, 2), ==, 1);
  ASN1_INTEGER_set (X509_get_serialNumber (cert), serial);
  X509_NAME_add_entry_by_txt (name, "C", MBSTRING_ASC, (const unsigned char *) "CN", -1, -1, 0);
  X509_NAME_add_entry_by_txt (name, "O", MBSTRING_ASC, (const unsigned char *) "posprov test", -1, -1, 0);
  X509_NAME_add_entry_by_txt (name, "CN", MBSTRING_ASC, (const unsigned char *) cn, -1, -1, 0);
  X509_set_subject_name (cert, name);
  X509_set_issuer_name (cert, issuer != NULL ? X509_get_subject_name (issuer) : name);
  ASN1_TIME_set (X509_getm_notBefore (cert), utc (from_year));
  ASN1_TIME_set (X509_getm_notAfter (cert), utc (to_year));
  X509_set_pubkey (cert, key);

  X509V3_set_ctx (&ctx, issuer != NULL ? issuer : cert, cert, NULL, NULL, 0);
  add_ext (cert, &ctx, NID_basic_constraints, ca ? "critical,CA:TRUE" : "critical,CA:FALSE");
  add_ext (cert, &ctx, NID_key_usage, key_usage);
  add_ext (cert, &ctx, NID_subject_key_identifier, "hash");
  if (issuer != NULL)
    add_ext (cert, &ctx, NID_authority_key_identifier, "keyid");

  g_assert_cmpint (X509_sign (cert, issuer_key, EVP_sha256 ()), >, 0);
  return reparse_cert (cert);
}

static X509 *
make_cert (EVP_PKEY   *key,
           const char *cn,
           X509       *issuer,
           EVP_PKEY   *issuer_key,
           long        serial,
           gboolean    ca,
           int         from_year,
           int         to_year)
{
  return make_cert_ku (key, cn, issuer, issuer_key, serial, ca,
                       ca ? "critical,keyCertSign,cRLSign" : "critical,digitalSignature,keyEncipherment",
                       from_year, to_year);
}

static X509_CRL *
make_crl (X509     *ca,
          EVP_PKEY *ca_key,
          long      revoked_serial)
{
  ASN1_INTEGER *serial = ASN1_INTEGER_new ();
  X509_CRL *crl = X509_CRL_new ();
  X509_REVOKED *rev = X509_REVOKED_new ();
  ASN1_TIME *t = ASN1_TIME_new ();
  unsigned char *der = NULL;
  const unsigned char *p;
  X509_CRL *out;
  int len;

  X509_CRL_set_version (crl, 1);
  X509_CRL_set_issuer_name (crl, X509_get_subject_name (ca));
  ASN1_TIME_set (t, utc (2022));
  X509_CRL_set1_lastUpdate (crl, t);
  ASN1_TIME_set (t, utc (2044));
  X509_CRL_set1_nextUpdate (crl, t);
  ASN1_INTEGER_set (serial, revoked_serial);
  X509_REVOKED_set_serialNumber (rev, serial);
  ASN1_INTEGER_free (serial);
  ASN1_TIME_set (t, utc (2022));
  X509_REVOKED_set_revocationDate (rev, t);
  X509_CRL_add0_revoked (crl, rev);
  X509_CRL_sort (crl);
  g_assert_cmpint (X509_CRL_sign (crl, ca_key, EVP_sha256 ()), >, 0);
  ASN1_TIME_free (t);

  len = i2d_X509_CRL (crl, &der);
  g_assert_cmpint (len, >, 0);
  p = der;
  out = d2i_X509_CRL (NULL, &p, len);
  g_assert_nonnull (out);
  OPENSSL_free (der);
  X509_CRL_free (crl);
  return out;
}

const PpTestPki *
pp_test_pki_get (void)
{
  static PpTestPki pki;
  static gsize done = 0;

  if (g_once_init_enter (&done))
    {
      pki.root_key = make_key ();
      pki.ca_kdh_key = make_key ();
      pki.ca_krd_key = make_key ();
      pki.kdh_key = make_key ();
      pki.krd_key = make_key ();

      pki.root = make_cert (pki.root_key, "Test Root", NULL, pki.root_key, 1, TRUE, 2020, 2045);
      pki.ca_kdh = make_cert (pki.ca_kdh_key, "Test CA KDH", pki.root, pki.root_key, 2, TRUE, 2020, 2045);
      pki.ca_krd = make_cert (pki.ca_krd_key, "Test CA KRD", pki.root, pki.root_key, 3, TRUE, 2020, 2045);
      pki.ca_kdh_no_crl_sign = make_cert_ku (pki.ca_kdh_key, "Test CA KDH", pki.root, pki.root_key, 2,
                                             TRUE, "critical,keyCertSign", 2020, 2045);
      pki.kdh = make_cert (pki.kdh_key, "Test KDH 1", pki.ca_kdh, pki.ca_kdh_key, 0x1001, FALSE, 2021, 2040);
      pki.kdh_revoked = make_cert (pki.kdh_key, "Test KDH 2", pki.ca_kdh, pki.ca_kdh_key, 0x1002, FALSE, 2021, 2040);
      pki.krd = make_cert (pki.krd_key, "Test KRD 1", pki.ca_krd, pki.ca_krd_key, 0x2001, FALSE, 2021, 2040);
      pki.krd_other = make_cert (pki.kdh_key, "Test KRD 2", pki.ca_krd, pki.ca_krd_key, 0x2002, FALSE, 2021, 2040);
      pki.crl = make_crl (pki.ca_kdh, pki.ca_kdh_key, 0x1002);
      pki.crl_other = make_crl (pki.ca_kdh, pki.ca_kdh_key, 0x1003);
      g_once_init_leave (&done, 1);
    }
  return &pki;
}

static void
write_cert (const char *dir,
            const char *name,
            X509       *a,
            X509       *b)
{
  g_autofree char *path = g_build_filename (dir, name, NULL);
  g_autoptr(BIO) bio = BIO_new_file (path, "w");

  g_assert_nonnull (bio);
  g_assert_cmpint (PEM_write_bio_X509 (bio, a), ==, 1);
  if (b != NULL)
    g_assert_cmpint (PEM_write_bio_X509 (bio, b), ==, 1);
}

static void
write_key (const char *dir,
           const char *name,
           EVP_PKEY   *key)
{
  g_autofree char *path = g_build_filename (dir, name, NULL);
  g_autoptr(BIO) bio = BIO_new_file (path, "w");

  g_assert_nonnull (bio);
  g_assert_cmpint (PEM_write_bio_PrivateKey (bio, key, NULL, NULL, 0, NULL, NULL), ==, 1);
}

void
pp_test_pki_write (const PpTestPki *pki,
                   const char      *dir)
{
  g_autofree char *crl_path = g_build_filename (dir, "crl.der", NULL);
  g_autofree char *other_path = g_build_filename (dir, "crl-other.der", NULL);
  g_autoptr(BIO) bio = NULL;
  g_autoptr(BIO) other = NULL;

  write_cert (dir, "root.pem", pki->root, NULL);
  write_cert (dir, "ca-kdh.pem", pki->ca_kdh, NULL);
  write_cert (dir, "ca-krd.pem", pki->ca_krd, NULL);
  write_cert (dir, "trust.pem", pki->root, pki->ca_kdh);
  write_cert (dir, "kdh.pem", pki->kdh, NULL);
  write_cert (dir, "kdh-revoked.pem", pki->kdh_revoked, NULL);
  write_cert (dir, "krd.pem", pki->krd, NULL);
  write_key (dir, "kdh.key", pki->kdh_key);
  write_key (dir, "krd.key", pki->krd_key);

  bio = BIO_new_file (crl_path, "wb");
  g_assert_nonnull (bio);
  g_assert_cmpint (i2d_X509_CRL_bio (bio, pki->crl), ==, 1);
  other = BIO_new_file (other_path, "wb");
  g_assert_nonnull (other);
  g_assert_cmpint (i2d_X509_CRL_bio (other, pki->crl_other), ==, 1);
}

GBytes *
pp_test_pki_splice_crl (GBytes   *token,
                        X509_CRL *from,
                        X509_CRL *to)
{
  unsigned char *a = NULL, *b = NULL;
  int alen = i2d_X509_CRL (from, &a);
  int blen = i2d_X509_CRL (to, &b);
  gsize len = g_bytes_get_size (token);
  g_autofree guint8 *copy = g_memdup2 (g_bytes_get_data (token, NULL), len);
  gboolean done = FALSE;

  g_assert_cmpint (alen, >, 0);
  g_assert_cmpint (alen, ==, blen);
  for (gsize i = 0; !done && i + alen <= len; i++)
    if (memcmp (copy + i, a, alen) == 0)
      {
        memcpy (copy + i, b, blen);
        done = TRUE;
      }
  g_assert_true (done);
  OPENSSL_free (a);
  OPENSSL_free (b);
  return g_bytes_new_take (g_steal_pointer (&copy), len);
}
