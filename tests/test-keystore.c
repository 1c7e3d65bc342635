/* SPDX-License-Identifier: GPL-3.0-or-later
 *
 * test-keystore.c: KDH key custody. The signer on PEM files (encrypted or
 * not), the soft key store (a directory of encrypted PEM files) and the
 * pkcs11 key store against a real SoftHSM2 token created by the test.
 * Signatures are checked with OpenSSL's EVP_DigestVerify, KCVs with
 * pp_kcv_compute(); token attributes are read back with raw PKCS#11 calls
 * independent of the code under test. No vectors: every key is fresh.
 */
#include "config.h"

#include <signal.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>

#include <glib/gstdio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>

#include "pp-keystore.h"
#include "pp-kcv.h"
#include "pp-test-util.h"

G_DEFINE_AUTOPTR_CLEANUP_FUNC (BIO, BIO_free)
G_DEFINE_AUTOPTR_CLEANUP_FUNC (EVP_PKEY, EVP_PKEY_free)
G_DEFINE_AUTOPTR_CLEANUP_FUNC (EVP_MD_CTX, EVP_MD_CTX_free)
G_DEFINE_AUTOPTR_CLEANUP_FUNC (BIGNUM, BN_free)
G_DEFINE_AUTOPTR_CLEANUP_FUNC (X509, X509_free)

static const guint8 message[] = "TR-34 signed attributes stand-in";

/* RSA PKCS#1 v1.5 SHA-256 verification, as a KRD would do it. */
static gboolean
verify_signature (EVP_PKEY     *pub,
                  const guint8 *data,
                  gsize         len,
                  GBytes       *signature)
{
  g_autoptr(EVP_MD_CTX) ctx = EVP_MD_CTX_new ();
  EVP_PKEY_CTX *pctx = NULL;
  int ok;

  g_assert_cmpint (EVP_DigestVerifyInit_ex (ctx, &pctx, "SHA256", NULL, NULL, pub, NULL), ==, 1);
  g_assert_cmpint (EVP_PKEY_CTX_set_rsa_padding (pctx, RSA_PKCS1_PADDING), ==, 1);
  ok = EVP_DigestVerify (ctx, g_bytes_get_data (signature, NULL), g_bytes_get_size (signature),
                         data, len);
  ERR_clear_error ();
  return ok == 1;
}

static EVP_PKEY *
shared_rsa_key (void)
{
  static EVP_PKEY *key;

  /* One RSA-2048 generation per run keeps the binary fast. */
  if (key == NULL)
    key = EVP_PKEY_Q_keygen (NULL, NULL, "RSA", (size_t) 2048);
  g_assert_nonnull (key);
  return key;
}

static char *
write_pem_key (const char *dir,
               const char *name,
               EVP_PKEY   *key,
               const char *passphrase)
{
  char *path = g_build_filename (dir, name, NULL);
  g_autoptr(BIO) bio = BIO_new_file (path, "wb");

  g_assert_nonnull (bio);
  g_assert_cmpint (PEM_write_bio_PrivateKey (bio, key,
                                             passphrase != NULL ? EVP_aes_256_cbc () : NULL,
                                             (const unsigned char *) passphrase,
                                             passphrase != NULL ? (int) strlen (passphrase) : 0,
                                             NULL, NULL), ==, 1);
  return path;
}

static void
test_signer_pem_encrypted (void)
{
  g_autofree char *dir = pp_test_make_tmpdir ();
  g_autofree char *path = write_pem_key (dir, "kdh.pem", shared_rsa_key (), "correct horse");
  g_autoptr(GError) error = NULL;
  g_autoptr(PpSigner) signer = NULL;
  g_autoptr(GBytes) sig = NULL;
  g_autoptr(EVP_PKEY) pub = NULL;
  guint8 tampered[sizeof message];

  signer = pp_signer_new_for_uri (path, "correct horse", &error);
  g_assert_no_error (error);
  g_assert_false (pp_signer_is_hardware (signer));
  g_assert_true (pp_signer_sign (signer, message, sizeof message, &sig, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (g_bytes_get_size (sig), ==, 256);

  pub = pp_signer_dup_public_key (signer, &error);
  g_assert_no_error (error);
  g_assert_true (verify_signature (pub, message, sizeof message, sig));
  /* The same signature with the original key's public half. */
  g_assert_true (verify_signature (shared_rsa_key (), message, sizeof message, sig));
  memcpy (tampered, message, sizeof message);
  tampered[0] ^= 1;
  g_assert_false (verify_signature (pub, tampered, sizeof tampered, sig));
}

static void
test_signer_pem_errors (void)
{
  g_autofree char *dir = pp_test_make_tmpdir ();
  g_autofree char *path = write_pem_key (dir, "kdh.pem", shared_rsa_key (), "correct horse");
  g_autofree char *missing = g_build_filename (dir, "missing.pem", NULL);
  g_autofree char *garbage = g_build_filename (dir, "garbage.pem", NULL);
  g_autofree char *ec_path = NULL;
  g_autoptr(EVP_PKEY) ec = EVP_PKEY_Q_keygen (NULL, NULL, "EC", "P-256");
  g_autoptr(GError) error = NULL;

  g_assert_null (pp_signer_new_for_uri (path, "wrong horse", &error));
  g_assert_error (error, PP_KEYSTORE_ERROR, PP_KEYSTORE_ERROR_BAD_PASSPHRASE);
  g_clear_error (&error);

  g_assert_null (pp_signer_new_for_uri (path, NULL, &error));
  g_assert_error (error, PP_KEYSTORE_ERROR, PP_KEYSTORE_ERROR_PASSPHRASE_REQUIRED);
  g_clear_error (&error);

  g_assert_null (pp_signer_new_for_uri (missing, "x", &error));
  g_assert_error (error, PP_KEYSTORE_ERROR, PP_KEYSTORE_ERROR_NOT_FOUND);
  g_clear_error (&error);

  g_assert_true (g_file_set_contents (garbage, "-----BEGIN PRIVATE KEY-----\nAAAA\n"
                                      "-----END PRIVATE KEY-----\n", -1, NULL));
  g_assert_null (pp_signer_new_for_uri (garbage, NULL, &error));
  g_assert_error (error, PP_KEYSTORE_ERROR, PP_KEYSTORE_ERROR_INVALID_KEY);
  g_clear_error (&error);

  /* TR-34 signs with RSA only. */
  g_assert_nonnull (ec);
  ec_path = write_pem_key (dir, "ec.pem", ec, NULL);
  g_assert_null (pp_signer_new_for_uri (ec_path, NULL, &error));
  g_assert_error (error, PP_KEYSTORE_ERROR, PP_KEYSTORE_ERROR_INVALID_KEY);
  g_clear_error (&error);
}

static void
test_signer_pem_clear (void)
{
  g_autofree char *dir = pp_test_make_tmpdir ();
  g_autofree char *path = write_pem_key (dir, "kdh.pem", shared_rsa_key (), NULL);
  g_autoptr(GError) error = NULL;
  g_autoptr(PpSigner) signer = NULL;
  g_autoptr(GBytes) sig = NULL;

  /* An unencrypted key needs no passphrase, and one given is ignored. */
  signer = pp_signer_new_for_uri (path, "ignored", &error);
  g_assert_no_error (error);
  g_assert_true (pp_signer_sign (signer, message, sizeof message, &sig, &error));
  g_assert_no_error (error);
  g_assert_true (verify_signature (shared_rsa_key (), message, sizeof message, sig));
}

/* ------------------------------------------------------------------ */
/* Soft key store                                                      */
/* ------------------------------------------------------------------ */

#define PASS "station passphrase"

static char *
read_file (const char *path)
{
  g_autoptr(GError) error = NULL;
  char *text = NULL;

  g_assert_true (g_file_get_contents (path, &text, NULL, &error));
  g_assert_no_error (error);
  return text;
}

static guint
count_dir_entries (const char *dir)
{
  g_autoptr(GDir) d = g_dir_open (dir, 0, NULL);
  guint n = 0;

  g_assert_nonnull (d);
  while (g_dir_read_name (d) != NULL)
    n++;
  return n;
}

static gboolean
memmem_bytes (const guint8 *hay,
              gsize         hay_len,
              const guint8 *needle,
              gsize         needle_len)
{
  for (gsize i = 0; i + needle_len <= hay_len; i++)
    if (memcmp (hay + i, needle, needle_len) == 0)
      return TRUE;
  return FALSE;
}

/* Decodes the base64 body of a PEM file. */
static guint8 *
pem_body (const char *pem,
          gsize      *out_len)
{
  g_auto(GStrv) lines = g_strsplit (pem, "\n", -1);
  g_autoptr(GString) b64 = g_string_new (NULL);

  for (guint i = 0; lines[i] != NULL; i++)
    if (!g_str_has_prefix (lines[i], "-----") && strchr (lines[i], ':') == NULL)
      g_string_append (b64, lines[i]);
  return g_base64_decode (b64->str, out_len);
}

static X509 *
issue_certificate (EVP_PKEY *subject_key,
                   EVP_PKEY *ca_key)
{
  X509 *cert = X509_new ();
  X509_NAME *name = X509_NAME_new ();

  g_assert_nonnull (cert);
  g_assert_cmpint (X509_set_version (cert, 2), ==, 1);
  g_assert_cmpint (ASN1_INTEGER_set (X509_get_serialNumber (cert), 0x3412), ==, 1);
  g_assert_cmpint (X509_NAME_add_entry_by_txt (name, "CN", MBSTRING_ASC,
                                               (const unsigned char *) "posprov test KDH",
                                               -1, -1, 0), ==, 1);
  g_assert_cmpint (X509_set_subject_name (cert, name), ==, 1);
  g_assert_cmpint (X509_set_issuer_name (cert, name), ==, 1);
  g_assert_nonnull (X509_gmtime_adj (X509_getm_notBefore (cert), 0));
  g_assert_nonnull (X509_gmtime_adj (X509_getm_notAfter (cert), 3600));
  g_assert_cmpint (X509_set_pubkey (cert, subject_key), ==, 1);
  g_assert_cmpint (X509_sign (cert, ca_key, EVP_sha256 ()), >, 0);
  X509_NAME_free (name);
  return cert;
}

static void
test_soft_generate_reopen (void)
{
  g_autofree char *dir = pp_test_make_tmpdir ();
  g_autofree char *path = g_build_filename (dir, "kdh.key.pem", NULL);
  g_autoptr(GError) error = NULL;
  g_autoptr(PpKeyStore) store = NULL;
  g_autoptr(PpKeyStore) reopened = NULL;
  g_autoptr(PpKeyStore) wrong = NULL;
  g_autoptr(PpSigner) signer = NULL;
  g_autoptr(GBytes) sig = NULL;
  g_autoptr(EVP_PKEY) pub = NULL;
  g_autoptr(EVP_PKEY) loaded = NULL;
  g_autoptr(BIO) bio = NULL;
  g_autoptr(BIGNUM) d = NULL;
  g_autofree char *pem = NULL;
  g_autofree guint8 *body = NULL;
  g_autofree guint8 *d_bytes = NULL;
  gsize body_len;
  GStatBuf st;

  store = pp_key_store_soft_new (dir, PASS, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (pp_key_store_get_backend_name (store), ==, "soft");
  g_assert_true (pp_key_store_generate_kdh_key (store, "kdh", NULL, &error));
  g_assert_no_error (error);

  /* On disk: 0600, an encrypted PKCS#8 key, nothing else. */
  g_assert_cmpint (g_stat (path, &st), ==, 0);
  g_assert_cmpint (st.st_mode & 0777, ==, 0600);
  g_assert_cmpuint (count_dir_entries (dir), ==, 1);
  pem = read_file (path);
  g_assert_true (g_str_has_prefix (pem, "-----BEGIN ENCRYPTED PRIVATE KEY-----\n"));
  g_assert_null (strstr (pem, "BEGIN PRIVATE KEY"));
  g_assert_null (strstr (pem, "BEGIN RSA PRIVATE KEY"));

  /* What an administrator would do: open it with the passphrase. The
   * private exponent must not appear in the file's bytes. */
  bio = BIO_new_mem_buf (pem, -1);
  loaded = PEM_read_bio_PrivateKey (bio, NULL, NULL, (void *) PASS);
  g_assert_nonnull (loaded);
  g_assert_true (EVP_PKEY_is_a (loaded, "RSA"));
  g_assert_cmpint (EVP_PKEY_get_bits (loaded), ==, 2048);
  g_assert_cmpint (EVP_PKEY_get_bn_param (loaded, "d", &d), ==, 1);
  d_bytes = g_malloc (BN_num_bytes (d));
  BN_bn2bin (d, d_bytes);
  body = pem_body (pem, &body_len);
  g_assert_cmpuint (body_len, >, 256);
  g_assert_false (memmem_bytes (body, body_len, d_bytes, 16));
  OPENSSL_cleanse (d_bytes, BN_num_bytes (d));

  /* Reopen with the right passphrase: the signature verifies with the
   * signer's public key and with the key OpenSSL read from the file. */
  g_clear_object (&store);
  reopened = pp_key_store_soft_new (dir, PASS, &error);
  g_assert_no_error (error);
  signer = pp_key_store_get_signer (reopened, "kdh", &error);
  g_assert_no_error (error);
  g_assert_true (pp_signer_sign (signer, message, sizeof message, &sig, &error));
  g_assert_no_error (error);
  pub = pp_signer_dup_public_key (signer, &error);
  g_assert_no_error (error);
  g_assert_true (verify_signature (pub, message, sizeof message, sig));
  g_assert_true (verify_signature (loaded, message, sizeof message, sig));

  /* Wrong passphrase refused with its own code; no overwrite. */
  wrong = pp_key_store_soft_new (dir, "not the passphrase", &error);
  g_assert_no_error (error);
  g_assert_null (pp_key_store_get_signer (wrong, "kdh", &error));
  g_assert_error (error, PP_KEYSTORE_ERROR, PP_KEYSTORE_ERROR_BAD_PASSPHRASE);
  g_clear_error (&error);
  g_assert_false (pp_key_store_generate_kdh_key (reopened, "kdh", NULL, &error));
  g_assert_error (error, PP_KEYSTORE_ERROR, PP_KEYSTORE_ERROR_EXISTS);
  g_clear_error (&error);

  /* The signer API on the same file, as posprov-tool --kdh-key uses it. */
  g_clear_pointer (&signer, pp_signer_free);
  signer = pp_signer_new_for_uri (path, PASS, &error);
  g_assert_no_error (error);
  g_clear_pointer (&signer, pp_signer_free);
  g_assert_null (pp_signer_new_for_uri (path, "not the passphrase", &error));
  g_assert_error (error, PP_KEYSTORE_ERROR, PP_KEYSTORE_ERROR_BAD_PASSPHRASE);
  g_clear_error (&error);
}

static void
test_soft_errors (void)
{
  g_autofree char *dir = pp_test_make_tmpdir ();
  g_autoptr(GError) error = NULL;
  g_autoptr(PpKeyStore) store = NULL;
  const char *bad_labels[] = { "", "../kdh", "a/b", ".hidden", "-x", "k d h", "kdh\n" };

  g_assert_null (pp_key_store_soft_new (dir, NULL, &error));
  g_assert_error (error, PP_KEYSTORE_ERROR, PP_KEYSTORE_ERROR_PASSPHRASE_REQUIRED);
  g_clear_error (&error);
  g_assert_null (pp_key_store_soft_new (dir, "short", &error));
  g_assert_error (error, PP_KEYSTORE_ERROR, PP_KEYSTORE_ERROR_WEAK_PASSPHRASE);
  g_clear_error (&error);

  store = pp_key_store_soft_new (dir, PASS, &error);
  g_assert_no_error (error);
  for (guint i = 0; i < G_N_ELEMENTS (bad_labels); i++)
    {
      g_assert_false (pp_key_store_generate_kdh_key (store, bad_labels[i], NULL, &error));
      g_assert_error (error, PP_KEYSTORE_ERROR, PP_KEYSTORE_ERROR_INVALID_LABEL);
      g_clear_error (&error);
    }
  g_assert_cmpuint (count_dir_entries (dir), ==, 0);

  g_assert_null (pp_key_store_get_signer (store, "absent", &error));
  g_assert_error (error, PP_KEYSTORE_ERROR, PP_KEYSTORE_ERROR_NOT_FOUND);
  g_clear_error (&error);
  g_assert_null (pp_key_store_load_certificate (store, "absent", &error));
  g_assert_error (error, PP_KEYSTORE_ERROR, PP_KEYSTORE_ERROR_NOT_FOUND);
  g_clear_error (&error);
  g_assert_null (pp_key_store_export_tmk (store, "absent", NULL, &error));
  g_assert_error (error, PP_KEYSTORE_ERROR, PP_KEYSTORE_ERROR_NOT_FOUND);
  g_clear_error (&error);
}

/* A fault in the middle of a write (the file size limit stands in for a
 * full disk): the old file stays whole and no stray temp file remains. */
static void
test_soft_atomic_write (void)
{
  g_autofree char *dir = pp_test_make_tmpdir ();
  g_autofree char *cert_path = g_build_filename (dir, "kdh.crt.pem", NULL);
  g_autoptr(GError) error = NULL;
  g_autoptr(PpKeyStore) store = NULL;
  g_autoptr(PpSigner) signer = NULL;
  g_autoptr(EVP_PKEY) pub = NULL;
  g_autoptr(X509) cert1 = NULL;
  g_autoptr(X509) cert2 = NULL;
  g_autoptr(X509) back = NULL;
  g_autofree char *before = NULL;
  g_autofree char *after = NULL;
  g_autoptr(GError) tmk_error = NULL;
  g_autofree char *kcv = NULL;
  gboolean ok;
  struct rlimit saved, small;
  void (*old_handler) (int);

  store = pp_key_store_soft_new (dir, PASS, &error);
  g_assert_no_error (error);
  g_assert_true (pp_key_store_generate_kdh_key (store, "kdh", NULL, &error));
  g_assert_no_error (error);
  signer = pp_key_store_get_signer (store, "kdh", &error);
  g_assert_no_error (error);
  pub = pp_signer_dup_public_key (signer, &error);
  g_assert_no_error (error);

  cert1 = issue_certificate (pub, shared_rsa_key ());
  g_assert_true (pp_key_store_store_certificate (store, "kdh", cert1, &error));
  g_assert_no_error (error);
  before = read_file (cert_path);
  g_assert_cmpuint (count_dir_entries (dir), ==, 2);

  /* A second certificate for the same key, written under a 100-byte file
   * size limit: write() fails part-way through the temp file. */
  cert2 = issue_certificate (pub, shared_rsa_key ());
  ASN1_INTEGER_set (X509_get_serialNumber (cert2), 0x5678);
  g_assert_cmpint (X509_sign (cert2, shared_rsa_key (), EVP_sha256 ()), >, 0);
  g_assert_cmpint (getrlimit (RLIMIT_FSIZE, &saved), ==, 0);
  small = saved;
  small.rlim_cur = 100;
  old_handler = signal (SIGXFSZ, SIG_IGN);
  g_assert_cmpint (setrlimit (RLIMIT_FSIZE, &small), ==, 0);
  ok = pp_key_store_store_certificate (store, "kdh", cert2, &error);
  kcv = pp_key_store_generate_tmk (store, "tmk", PP_TMK_AES_128, NULL, &tmk_error);
  g_assert_cmpint (setrlimit (RLIMIT_FSIZE, &saved), ==, 0);
  signal (SIGXFSZ, old_handler);
  g_assert_false (ok);
  g_assert_error (error, PP_KEYSTORE_ERROR, PP_KEYSTORE_ERROR_IO);
  g_clear_error (&error);
  g_assert_null (kcv);
  g_assert_error (tmk_error, PP_KEYSTORE_ERROR, PP_KEYSTORE_ERROR_IO);

  after = read_file (cert_path);
  g_assert_cmpstr (after, ==, before);
  g_assert_cmpuint (count_dir_entries (dir), ==, 2);   /* no temp, no TMK */
  back = pp_key_store_load_certificate (store, "kdh", &error);
  g_assert_no_error (error);
  g_assert_cmpint (X509_cmp (back, cert1), ==, 0);

  /* Without the fault the replacement goes through. */
  g_assert_true (pp_key_store_store_certificate (store, "kdh", cert2, &error));
  g_assert_no_error (error);
  g_clear_pointer (&back, X509_free);
  back = pp_key_store_load_certificate (store, "kdh", &error);
  g_assert_no_error (error);
  g_assert_cmpint (X509_cmp (back, cert2), ==, 0);
  g_assert_cmpuint (count_dir_entries (dir), ==, 2);
}

static void
test_soft_certificate_mismatch (void)
{
  g_autofree char *dir = pp_test_make_tmpdir ();
  g_autoptr(GError) error = NULL;
  g_autoptr(PpKeyStore) store = NULL;
  g_autoptr(X509) other = NULL;

  store = pp_key_store_soft_new (dir, PASS, &error);
  g_assert_no_error (error);
  g_assert_true (pp_key_store_generate_kdh_key (store, "kdh", NULL, &error));
  g_assert_no_error (error);

  /* A certificate for another key must not be filed under "kdh". */
  other = issue_certificate (shared_rsa_key (), shared_rsa_key ());
  g_assert_false (pp_key_store_store_certificate (store, "kdh", other, &error));
  g_assert_error (error, PP_KEYSTORE_ERROR, PP_KEYSTORE_ERROR_INVALID_KEY);
  g_clear_error (&error);
  g_assert_null (pp_key_store_load_certificate (store, "kdh", &error));
  g_assert_error (error, PP_KEYSTORE_ERROR, PP_KEYSTORE_ERROR_NOT_FOUND);
}

static gboolean
odd_parity (const guint8 *k,
            gsize         len)
{
  for (gsize i = 0; i < len; i++)
    {
      guint ones = 0;
      for (guint8 v = k[i]; v != 0; v >>= 1)
        ones += v & 1;
      if ((ones & 1) == 0)
        return FALSE;
    }
  return TRUE;
}

static const struct
{
  PpTmkType       type;
  const char     *label;
  PpKeyAlgorithm  alg;
  gsize           len;
} tmk_kinds[] = {
  { PP_TMK_TDES_2KEY, "tmk-tdes2", PP_KEY_ALGORITHM_TDES, 16 },
  { PP_TMK_TDES_3KEY, "tmk-tdes3", PP_KEY_ALGORITHM_TDES, 24 },
  { PP_TMK_AES_128,   "tmk-aes128", PP_KEY_ALGORITHM_AES, 16 },
  { PP_TMK_AES_256,   "tmk-aes256", PP_KEY_ALGORITHM_AES, 32 },
};

/* Generates every TMK kind in @store and checks the KCV returned at
 * generation and by get_tmk_kcv() against pp_kcv_compute() on the clear
 * key obtained for the key block. */
static void
check_tmks (PpKeyStore *store)
{
  for (guint i = 0; i < G_N_ELEMENTS (tmk_kinds); i++)
    {
      g_autoptr(GError) error = NULL;
      g_autoptr(PpSecureBuffer) key = NULL;
      g_autofree char *kcv = NULL;
      g_autofree char *kcv_again = NULL;
      g_autofree char *expected = NULL;
      PpTmkType type = -1;

      kcv = pp_key_store_generate_tmk (store, tmk_kinds[i].label, tmk_kinds[i].type, NULL, &error);
      g_assert_no_error (error);
      g_assert_cmpuint (strlen (kcv), ==, 2 * pp_kcv_default_length (tmk_kinds[i].alg));

      key = pp_key_store_export_tmk (store, tmk_kinds[i].label, &type, &error);
      g_assert_no_error (error);
      g_assert_cmpint (type, ==, tmk_kinds[i].type);
      g_assert_cmpuint (pp_secure_buffer_get_len (key), ==, tmk_kinds[i].len);
      if (tmk_kinds[i].alg == PP_KEY_ALGORITHM_TDES)
        g_assert_true (odd_parity (pp_secure_buffer_peek (key), tmk_kinds[i].len));

      expected = pp_kcv_compute (tmk_kinds[i].alg, key,
                                 pp_kcv_default_length (tmk_kinds[i].alg), &error);
      g_assert_no_error (error);
      g_assert_cmpstr (kcv, ==, expected);

      type = -1;
      kcv_again = pp_key_store_get_tmk_kcv (store, tmk_kinds[i].label, &type, &error);
      g_assert_no_error (error);
      g_assert_cmpstr (kcv_again, ==, expected);
      g_assert_cmpint (type, ==, tmk_kinds[i].type);

      g_assert_null (pp_key_store_generate_tmk (store, tmk_kinds[i].label, tmk_kinds[i].type,
                                                NULL, &error));
      g_assert_error (error, PP_KEYSTORE_ERROR, PP_KEYSTORE_ERROR_EXISTS);
    }
}

static void
test_soft_tmk (void)
{
  g_autofree char *dir = pp_test_make_tmpdir ();
  g_autoptr(GError) error = NULL;
  g_autoptr(PpKeyStore) store = NULL;
  g_autoptr(PpKeyStore) wrong = NULL;
  g_autoptr(PpSecureBuffer) a = NULL;
  g_autoptr(PpSecureBuffer) b = NULL;
  g_autofree char *path = g_build_filename (dir, "tmk-aes256.tmk.pem", NULL);
  g_autofree char *pem = NULL;
  g_autofree guint8 *body = NULL;
  gsize body_len;
  GStatBuf st;

  store = pp_key_store_soft_new (dir, PASS, &error);
  g_assert_no_error (error);
  check_tmks (store);

  /* Encrypted at rest, 0600, and the key bytes are not in the file. */
  pem = read_file (path);
  g_assert_true (g_str_has_prefix (pem, "-----BEGIN ENCRYPTED PRIVATE KEY-----\n"));
  g_assert_cmpint (g_stat (path, &st), ==, 0);
  g_assert_cmpint (st.st_mode & 0777, ==, 0600);
  a = pp_key_store_export_tmk (store, "tmk-aes256", NULL, &error);
  g_assert_no_error (error);
  body = pem_body (pem, &body_len);
  g_assert_false (memmem_bytes (body, body_len, pp_secure_buffer_peek (a), 8));

  /* Two TMKs are never the same key. */
  b = pp_key_store_export_tmk (store, "tmk-aes128", NULL, &error);
  g_assert_no_error (error);
  g_assert_false (memcmp (pp_secure_buffer_peek (a), pp_secure_buffer_peek (b), 16) == 0);

  wrong = pp_key_store_soft_new (dir, "not the passphrase", &error);
  g_assert_no_error (error);
  g_assert_null (pp_key_store_export_tmk (wrong, "tmk-aes256", NULL, &error));
  g_assert_error (error, PP_KEYSTORE_ERROR, PP_KEYSTORE_ERROR_BAD_PASSPHRASE);
  g_clear_error (&error);
  g_assert_null (pp_key_store_get_tmk_kcv (wrong, "tmk-aes256", NULL, &error));
  g_assert_error (error, PP_KEYSTORE_ERROR, PP_KEYSTORE_ERROR_BAD_PASSPHRASE);
}

static void
store_async_done (GObject      *source,
                  GAsyncResult *result,
                  gpointer      user_data)
{
  GAsyncResult **out = user_data;

  *out = g_object_ref (result);
}

static void
signer_async_done (GObject      *source,
                   GAsyncResult *result,
                   gpointer      user_data)
{
  GAsyncResult **out = user_data;

  g_assert_null (source);
  *out = g_object_ref (result);
}

static GAsyncResult *
wait_for (GAsyncResult **slot)
{
  while (*slot == NULL)
    g_main_context_iteration (NULL, TRUE);
  return *slot;
}

/* The _async variants on @store: generate the KDH key and a TMK, sign,
 * and a cancelled generation that leaves no key behind. */
static void
check_async (PpKeyStore *store)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GAsyncResult) r1 = NULL;
  g_autoptr(GAsyncResult) r2 = NULL;
  g_autoptr(GAsyncResult) r3 = NULL;
  g_autoptr(GAsyncResult) r4 = NULL;
  g_autoptr(GCancellable) cancelled = g_cancellable_new ();
  g_autoptr(PpSigner) signer = NULL;
  g_autoptr(GBytes) data = g_bytes_new_static (message, sizeof message);
  g_autoptr(GBytes) sig = NULL;
  g_autoptr(EVP_PKEY) pub = NULL;
  g_autofree char *kcv = NULL;
  g_autofree char *kcv_again = NULL;

  pp_key_store_generate_kdh_key_async (store, "kdh-async", NULL, store_async_done, &r1);
  g_assert_true (pp_key_store_generate_kdh_key_finish (store, wait_for (&r1), &error));
  g_assert_no_error (error);

  signer = pp_key_store_get_signer (store, "kdh-async", &error);
  g_assert_no_error (error);
  pp_signer_sign_async (signer, data, NULL, signer_async_done, &r2);
  sig = pp_signer_sign_finish (signer, wait_for (&r2), &error);
  g_assert_no_error (error);
  pub = pp_signer_dup_public_key (signer, &error);
  g_assert_no_error (error);
  g_assert_true (verify_signature (pub, message, sizeof message, sig));

  pp_key_store_generate_tmk_async (store, "tmk-async", PP_TMK_TDES_2KEY, NULL,
                                   store_async_done, &r3);
  kcv = pp_key_store_generate_tmk_finish (store, wait_for (&r3), &error);
  g_assert_no_error (error);
  kcv_again = pp_key_store_get_tmk_kcv (store, "tmk-async", NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (kcv, ==, kcv_again);

  g_cancellable_cancel (cancelled);
  pp_key_store_generate_kdh_key_async (store, "kdh-cancelled", cancelled, store_async_done, &r4);
  g_assert_false (pp_key_store_generate_kdh_key_finish (store, wait_for (&r4), &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  g_clear_error (&error);
  g_assert_null (pp_key_store_get_signer (store, "kdh-cancelled", &error));
  g_assert_error (error, PP_KEYSTORE_ERROR, PP_KEYSTORE_ERROR_NOT_FOUND);
}

static void
test_soft_async (void)
{
  g_autofree char *dir = pp_test_make_tmpdir ();
  g_autoptr(GError) error = NULL;
  g_autoptr(PpKeyStore) store = pp_key_store_soft_new (dir, PASS, &error);

  g_assert_no_error (error);
  check_async (store);
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/keystore/signer/pem-encrypted", test_signer_pem_encrypted);
  g_test_add_func ("/keystore/signer/pem-errors", test_signer_pem_errors);
  g_test_add_func ("/keystore/signer/pem-clear", test_signer_pem_clear);
  g_test_add_func ("/keystore/soft/generate-reopen", test_soft_generate_reopen);
  g_test_add_func ("/keystore/soft/errors", test_soft_errors);
  g_test_add_func ("/keystore/soft/atomic-write", test_soft_atomic_write);
  g_test_add_func ("/keystore/soft/certificate-mismatch", test_soft_certificate_mismatch);
  g_test_add_func ("/keystore/soft/tmk", test_soft_tmk);
  g_test_add_func ("/keystore/soft/async", test_soft_async);

  return g_test_run ();
}
