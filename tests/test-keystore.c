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
#include <openssl/param_build.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>

#include <p11-kit/p11-kit.h>

#include "pp-keystore.h"
#include "pp-keystore-private.h"
#include "pp-hex.h"
#include "pp-kcv.h"
#include "pp-openssl-types.h"
#include "pp-test-util.h"

/* Where Debian, Fedora and upstream p11-kit look for *.module files. */
#define P11_SYSTEM_MODULES_DIR "/usr/share/p11-kit/modules"

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

/* Files in a key store folder besides keystore.kdf (the store's salt and
 * check value, made at open). */
static guint
count_dir_entries (const char *dir)
{
  g_autoptr(GDir) d = g_dir_open (dir, 0, NULL);
  const char *name;
  guint n = 0;

  g_assert_nonnull (d);
  while ((name = g_dir_read_name (d)) != NULL)
    n += strcmp (name, "keystore.kdf") != 0;
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

  /* Wrong passphrase refused at open with its own code; no overwrite. */
  wrong = pp_key_store_soft_new (dir, "not the passphrase", &error);
  g_assert_null (wrong);
  g_assert_error (error, PP_KEYSTORE_ERROR, PP_KEYSTORE_ERROR_BAD_PASSPHRASE);
  g_clear_error (&error);
  g_assert_false (pp_key_store_generate_kdh_key (reopened, "kdh", NULL, &error));
  g_assert_error (error, PP_KEYSTORE_ERROR, PP_KEYSTORE_ERROR_EXISTS);
  g_clear_error (&error);

  /* The signer API on the same file, as posprov-tool --kdh-key uses it. */
  g_clear_pointer (&signer, pp_signer_unref);
  signer = pp_signer_new_for_uri (path, PASS, &error);
  g_assert_no_error (error);
  g_clear_pointer (&signer, pp_signer_unref);
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

static void check_generate_and_export (PpKeyStore *store);

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
  check_generate_and_export (store);

  /* Encrypted at rest (format 2), 0600, and the key bytes are not in the file. */
  pem = read_file (path);
  g_assert_true (g_str_has_prefix (pem, "-----BEGIN POSPROV SEALED KEY-----\n"));
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
  g_assert_null (wrong);
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

/* The TMK handed over at generation is the key the store keeps: the same
 * as a later export, its KCV the one returned; a taken label hands out
 * nothing. Sync and async. */
static void
check_generate_and_export (PpKeyStore *store)
{
  for (guint i = 0; i < G_N_ELEMENTS (tmk_kinds); i++)
    {
      g_autoptr(GError) error = NULL;
      g_autoptr(PpSecureBuffer) tmk = NULL;
      g_autoptr(PpSecureBuffer) exported = NULL;
      g_autoptr(PpSecureBuffer) none = NULL;
      g_autoptr(GAsyncResult) result = NULL;
      g_autofree char *label = g_strconcat (tmk_kinds[i].label, "-handed", NULL);
      g_autofree char *async_label = g_strconcat (tmk_kinds[i].label, "-handed-async", NULL);
      g_autofree char *kcv = NULL, *expected = NULL, *stored = NULL, *async_kcv = NULL;
      PpTmkType type = -1;

      kcv = pp_key_store_generate_and_export_tmk (store, label, tmk_kinds[i].type, &tmk, NULL, &error);
      g_assert_no_error (error);
      g_assert_nonnull (tmk);
      g_assert_cmpuint (pp_secure_buffer_get_len (tmk), ==, tmk_kinds[i].len);
      expected = pp_kcv_compute (tmk_kinds[i].alg, tmk, pp_kcv_default_length (tmk_kinds[i].alg), &error);
      g_assert_no_error (error);
      g_assert_cmpstr (kcv, ==, expected);
      exported = pp_key_store_export_tmk (store, label, &type, &error);
      g_assert_no_error (error);
      g_assert_cmpint (type, ==, tmk_kinds[i].type);
      g_assert_true (pp_secure_buffer_equal (tmk, exported));
      stored = pp_key_store_get_tmk_kcv (store, label, NULL, &error);
      g_assert_no_error (error);
      g_assert_cmpstr (stored, ==, kcv);

      g_assert_null (pp_key_store_generate_and_export_tmk (store, label, tmk_kinds[i].type, &none, NULL, &error));
      g_assert_error (error, PP_KEYSTORE_ERROR, PP_KEYSTORE_ERROR_EXISTS);
      g_assert_null (none);
      g_clear_error (&error);

      pp_key_store_generate_and_export_tmk_async (store, async_label, tmk_kinds[i].type, NULL,
                                                  store_async_done, &result);
      g_clear_pointer (&tmk, pp_secure_buffer_free);
      async_kcv = pp_key_store_generate_and_export_tmk_finish (store, wait_for (&result), &tmk, &error);
      g_assert_no_error (error);
      g_clear_pointer (&exported, pp_secure_buffer_free);
      exported = pp_key_store_export_tmk (store, async_label, NULL, &error);
      g_assert_no_error (error);
      g_assert_true (pp_secure_buffer_equal (tmk, exported));
      g_clear_pointer (&expected, g_free);
      expected = pp_kcv_compute (tmk_kinds[i].alg, tmk, pp_kcv_default_length (tmk_kinds[i].alg), &error);
      g_assert_cmpstr (async_kcv, ==, expected);
    }
}

static void
copy_folder (const char *from,
             const char *to)
{
  g_autoptr(GDir) d = g_dir_open (from, 0, NULL);
  const char *name;

  g_assert_nonnull (d);
  while ((name = g_dir_read_name (d)) != NULL)
    {
      g_autofree char *src = g_build_filename (from, name, NULL);
      g_autofree char *dst = g_build_filename (to, name, NULL);
      g_autofree char *text = NULL;
      gsize len = 0;

      g_assert_true (g_file_get_contents (src, &text, &len, NULL));
      g_assert_true (g_file_set_contents_full (dst, text, (gssize) len, G_FILE_SET_CONTENTS_NONE, 0600, NULL));
    }
}

/* A key store written by posprov before format 2 (tests/data/keystore-v1,
 * made by that code: two TMKs, a journal key, a delivery record): a wrong
 * passphrase is refused at open and leaves the folder as it was; the right
 * one opens every file, and what is written from then on is format 2
 * while the old TMK files stay as they were, still readable. */
static void
test_soft_format1 (void)
{
  g_autofree char *fixture = g_test_build_filename (G_TEST_DIST, "data", "keystore-v1", NULL);
  g_autofree char *dir = pp_test_make_tmpdir ();
  g_autofree char *kdf = g_build_filename (dir, "keystore.kdf", NULL);
  g_autofree char *old_tmk = g_build_filename (dir, "tmk-old.tmk.pem", NULL);
  g_autofree char *record = g_build_filename (dir, "delivery-OLD0001.secret.pem", NULL);
  g_autofree char *before = NULL, *after = NULL, *text = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(PpKeyStore) store = NULL;
  g_autoptr(PpJournalKey) journal = NULL;
  g_autoptr(GPtrArray) deliveries = NULL;
  g_autofree char *kcv = NULL, *kcv_aes = NULL, *key_hex = NULL;
  PpTmkType type = -1;

  copy_folder (fixture, dir);
  before = read_file (old_tmk);
  g_assert_true (g_str_has_prefix (before, "-----BEGIN ENCRYPTED PRIVATE KEY-----\n"));

  g_assert_null (pp_key_store_soft_new (dir, "not the v1 passphrase", &error));
  g_assert_error (error, PP_KEYSTORE_ERROR, PP_KEYSTORE_ERROR_BAD_PASSPHRASE);
  g_clear_error (&error);
  g_assert_false (g_file_test (kdf, G_FILE_TEST_EXISTS));

  store = pp_key_store_soft_new (dir, "v1-store-passphrase", &error);
  g_assert_no_error (error);
  g_assert_true (g_file_test (kdf, G_FILE_TEST_EXISTS));
  kcv = pp_key_store_get_tmk_kcv (store, "tmk-old", &type, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (kcv, ==, "48FF1A");
  g_assert_cmpint (type, ==, PP_TMK_TDES_2KEY);
  kcv_aes = pp_key_store_get_tmk_kcv (store, "tmk-old-aes", &type, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (kcv_aes, ==, "DB938CBFE3");
  g_assert_cmpint (type, ==, PP_TMK_AES_256);
  journal = pp_key_store_load_journal_key (store, PP_JOURNAL_KEY_LABEL, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (journal->journal_id, ==, "00112233445566778899aabbccddeeff");
  key_hex = pp_secure_buffer_to_hex (journal->key);
  g_assert_cmpstr (key_hex, ==, "3BA54DE2CC3BEECB3A36DD3514704F641BFA3F9EA28BC79C70F7CDA8A9DEC547");
  deliveries = pp_key_store_list_tmk_deliveries (store, "OLD0001", &error);
  g_assert_no_error (error);
  g_assert_cmpuint (deliveries->len, ==, 1);

  /* Rewritten records and new keys are format 2; old TMKs untouched. */
  g_assert_true (pp_key_store_set_tmk_delivery (store, "OLD0001", "tmk-new", "123456",
                                                PP_TMK_DELIVERY_SENT, &error));
  g_assert_no_error (error);
  text = read_file (record);
  g_assert_true (g_str_has_prefix (text, "-----BEGIN POSPROV SEALED KEY-----\n"));
  g_clear_pointer (&kcv, g_free);
  kcv = pp_key_store_generate_tmk (store, "tmk-new", PP_TMK_TDES_2KEY, NULL, &error);
  g_assert_no_error (error);
  g_clear_object (&store);

  /* Reopened: the wrong passphrase now fails on keystore.kdf, the right
   * one reads both formats side by side. */
  g_assert_null (pp_key_store_soft_new (dir, "not the v1 passphrase", &error));
  g_assert_error (error, PP_KEYSTORE_ERROR, PP_KEYSTORE_ERROR_BAD_PASSPHRASE);
  g_clear_error (&error);
  store = pp_key_store_soft_new (dir, "v1-store-passphrase", &error);
  g_assert_no_error (error);
  g_clear_pointer (&deliveries, g_ptr_array_unref);
  deliveries = pp_key_store_list_tmk_deliveries (store, "OLD0001", &error);
  g_assert_no_error (error);
  g_assert_cmpuint (deliveries->len, ==, 2);
  g_clear_pointer (&kcv, g_free);
  kcv = pp_key_store_get_tmk_kcv (store, "tmk-old", NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (kcv, ==, "48FF1A");
  after = read_file (old_tmk);
  g_assert_cmpstr (after, ==, before);
}

static gboolean
folder_contains (const char   *dir,
                 const guint8 *needle,
                 gsize         len)
{
  g_autoptr(GDir) d = g_dir_open (dir, 0, NULL);
  g_autofree char *hex = pp_hex_encode (needle, len);
  g_autofree char *lower = g_ascii_strdown (hex, -1);
  g_autofree char *b64 = g_base64_encode (needle, len);
  const char *name;

  while ((name = g_dir_read_name (d)) != NULL)
    {
      g_autofree char *path = g_build_filename (dir, name, NULL);
      g_autofree char *text = read_file (path);
      gsize text_len = strlen (text);
      g_autofree guint8 *body = g_str_has_prefix (text, "-----BEGIN") ? pem_body (text, &text_len) : NULL;

      if (memmem_bytes ((const guint8 *) text, strlen (text), needle, len) ||
          strstr (text, hex) != NULL || strstr (text, lower) != NULL ||
          strstr (text, b64) != NULL ||
          (body != NULL && memmem_bytes (body, text_len, needle, len)))
        return TRUE;
    }
  return FALSE;
}

/* Format 2's store key: PBKDF2 (100 000 rounds) of the passphrase with
 * keystore.kdf's salt, made at open and never written anywhere; a sealed
 * file opens only in its own store and only unaltered; a store whose
 * keystore.kdf is lost is refused rather than given a new one. */
static void
test_soft_store_key (void)
{
  g_autofree char *dir = pp_test_make_tmpdir ();
  g_autofree char *other_dir = pp_test_make_tmpdir ();
  g_autofree char *kdf = g_build_filename (dir, "keystore.kdf", NULL);
  g_autofree char *tmk_path = g_build_filename (dir, "tmk-a.tmk.pem", NULL);
  g_autofree char *moved = g_build_filename (other_dir, "tmk-a.tmk.pem", NULL);
  g_autoptr(GError) error = NULL;
  g_autoptr(PpKeyStore) store = NULL;
  g_autoptr(PpKeyStore) other = NULL;
  g_autoptr(PpSecureBuffer) tmk = NULL;
  g_autoptr(PpJournalKey) journal = NULL;
  g_autofree char *text = NULL, *kcv = NULL, *sealed = NULL;
  g_auto(GStrv) lines = NULL;
  guint8 salt[32], master[32];
  gboolean salt_found = FALSE;
  GStatBuf st;

  store = pp_key_store_soft_new (dir, PASS, &error);
  g_assert_no_error (error);
  kcv = pp_key_store_generate_and_export_tmk (store, "tmk-a", PP_TMK_AES_256, &tmk, NULL, &error);
  g_assert_no_error (error);
  journal = pp_journal_key_new (NULL, 1, 10, 60, &error);
  g_assert_no_error (error);
  g_assert_true (pp_key_store_store_journal_key (store, PP_JOURNAL_KEY_LABEL, journal, &error));
  g_assert_no_error (error);

  text = read_file (kdf);
  g_assert_cmpint (g_stat (kdf, &st), ==, 0);
  g_assert_cmpint (st.st_mode & 0777, ==, 0600);
  g_assert_true (g_str_has_prefix (text, "posprov-keystore 2\n"));
  g_assert_nonnull (strstr (text, "\niterations: 100000\n"));
  lines = g_strsplit (text, "\n", -1);
  for (guint i = 0; lines[i] != NULL; i++)
    if (g_str_has_prefix (lines[i], "kdf-salt: ") && strlen (lines[i]) == 10 + 64)
      {
        pp_hex_decode_into (lines[i] + 10, salt, sizeof salt);
        salt_found = TRUE;
      }
  g_assert_true (salt_found);
  g_assert_cmpint (PKCS5_PBKDF2_HMAC (PASS, strlen (PASS), salt, sizeof salt, 100000, EVP_sha256 (),
                                      sizeof master, master), ==, 1);
  /* Neither the store key nor the keys it seals are in the folder. */
  g_assert_false (folder_contains (dir, master, sizeof master));
  g_assert_false (folder_contains (dir, pp_secure_buffer_peek (tmk), pp_secure_buffer_get_len (tmk)));
  g_assert_false (folder_contains (dir, pp_secure_buffer_peek (journal->key), PP_JOURNAL_KEY_LEN));
  OPENSSL_cleanse (master, sizeof master);

  /* Copied into another store with the same passphrase: another salt,
   * another store key, so it does not open there. */
  other = pp_key_store_soft_new (other_dir, PASS, &error);
  g_assert_no_error (error);
  sealed = read_file (tmk_path);
  g_assert_true (g_file_set_contents_full (moved, sealed, -1, G_FILE_SET_CONTENTS_NONE, 0600, NULL));
  g_assert_null (pp_key_store_export_tmk (other, "tmk-a", NULL, &error));
  g_assert_error (error, PP_KEYSTORE_ERROR, PP_KEYSTORE_ERROR_INVALID_KEY);
  g_clear_error (&error);

  /* One changed character of the sealed text: refused, not a wrong key. */
  {
    char *body = strchr (sealed, '\n') + 20;

    *body = *body == 'A' ? 'B' : 'A';
    g_assert_true (g_file_set_contents_full (tmk_path, sealed, -1, G_FILE_SET_CONTENTS_NONE, 0600, NULL));
    g_assert_null (pp_key_store_export_tmk (store, "tmk-a", NULL, &error));
    g_assert_error (error, PP_KEYSTORE_ERROR, PP_KEYSTORE_ERROR_INVALID_KEY);
    g_clear_error (&error);
  }

  /* keystore.kdf lost: the store is refused, no new one is made over it. */
  g_clear_object (&store);
  g_assert_cmpint (g_unlink (kdf), ==, 0);
  g_assert_null (pp_key_store_soft_new (dir, PASS, &error));
  g_assert_error (error, PP_KEYSTORE_ERROR, PP_KEYSTORE_ERROR_INVALID_KEY);
  g_assert_nonnull (strstr (error->message, "keystore.kdf"));
  g_assert_false (g_file_test (kdf, G_FILE_TEST_EXISTS));
}

/* A sign started on a signer the caller drops at once still signs: the
 * task holds its own reference (it used to borrow the pointer). */
static void
test_signer_async_holds_ref (void)
{
  g_autofree char *dir = pp_test_make_tmpdir ();
  g_autofree char *path = write_pem_key (dir, "kdh.pem", shared_rsa_key (), NULL);
  g_autoptr(GError) error = NULL;
  g_autoptr(GBytes) data = g_bytes_new_static (message, sizeof message);
  g_autoptr(GAsyncResult) result = NULL;
  g_autoptr(GBytes) sig = NULL;
  PpSigner *signer;

  signer = pp_signer_new_for_uri (path, NULL, &error);
  g_assert_no_error (error);
  pp_signer_sign_async (signer, data, NULL, signer_async_done, &result);
  pp_signer_unref (signer);
  sig = pp_signer_sign_finish (NULL, wait_for (&result), &error);
  g_assert_no_error (error);
  g_assert_true (verify_signature (shared_rsa_key (), message, sizeof message, sig));
}

static void
finalized_cb (gpointer  data,
              GObject  *where_the_object_was)
{
  g_atomic_int_set ((gint *) data, 1);
}

/* A GTask worker drops its reference on the store after the callback
 * has run on the main thread; wait for the store to be gone before the
 * next test (and its own token) starts. */
static void
release_and_wait (PpKeyStore **store)
{
  gint gone = 0;

  g_object_weak_ref (G_OBJECT (*store), finalized_cb, &gone);
  g_clear_object (store);
  while (!g_atomic_int_get (&gone))
    g_thread_yield ();
}

typedef struct {
  PpKeyStore *store;
  const char *label;
  char       *kcv;
  GError     *error;
} SameLabel;

static gpointer
generate_same_label (gpointer data)
{
  SameLabel *job = data;

  job->kcv = pp_key_store_generate_tmk (job->store, job->label, PP_TMK_AES_128, NULL, &job->error);
  return NULL;
}

/* TMKs are made at the same time (a station injecting a fleet), but of
 * one label only one is ever made: the others are refused, and the file
 * holds the key whose KCV the one success returned. */
static void
test_soft_tmk_concurrent (void)
{
  g_autofree char *dir = pp_test_make_tmpdir ();
  g_autoptr(GError) error = NULL;
  g_autoptr(PpKeyStore) store = pp_key_store_soft_new (dir, PASS, &error);
  g_autofree char *kcv = NULL;
  SameLabel jobs[6];
  GThread *threads[6];
  const char *made = NULL;
  guint ok = 0;

  g_assert_no_error (error);
  for (guint i = 0; i < G_N_ELEMENTS (jobs); i++)
    {
      jobs[i] = (SameLabel) { store, i % 2 ? "tmk-twice" : "tmk-other", NULL, NULL };
      threads[i] = g_thread_new ("generate", generate_same_label, &jobs[i]);
    }
  for (guint i = 0; i < G_N_ELEMENTS (jobs); i++)
    g_thread_join (threads[i]);
  for (guint i = 1; i < G_N_ELEMENTS (jobs); i += 2)
    {
      if (jobs[i].kcv != NULL)
        {
          ok++;
          made = jobs[i].kcv;
        }
      else
        g_assert_error (jobs[i].error, PP_KEYSTORE_ERROR, PP_KEYSTORE_ERROR_EXISTS);
    }
  g_assert_cmpuint (ok, ==, 1);
  kcv = pp_key_store_get_tmk_kcv (store, "tmk-twice", NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (kcv, ==, made);
  /* The other label too: exactly one of its makers. */
  ok = 0;
  for (guint i = 0; i < G_N_ELEMENTS (jobs); i += 2)
    ok += jobs[i].kcv != NULL;
  g_assert_cmpuint (ok, ==, 1);
  for (guint i = 0; i < G_N_ELEMENTS (jobs); i++)
    {
      g_free (jobs[i].kcv);
      g_clear_error (&jobs[i].error);
    }
}

static void
test_soft_async (void)
{
  g_autofree char *dir = pp_test_make_tmpdir ();
  g_autoptr(GError) error = NULL;
  g_autoptr(PpKeyStore) store = pp_key_store_soft_new (dir, PASS, &error);

  g_assert_no_error (error);
  check_async (store);
  release_and_wait (&store);
}

/* ------------------------------------------------------------------ */
/* PKCS#11 key store on SoftHSM2                                       */
/* ------------------------------------------------------------------ */

#define TOKEN "posprov-test"
#define USER_PIN "1234"

typedef struct
{
  char *module;     /* path of libsofthsm2.so */
  char *store_uri;  /* pkcs11:token=...?module-path=... */
} SoftHsm;

static void
softhsm_clear (SoftHsm *hsm)
{
  g_clear_pointer (&hsm->module, g_free);
  g_clear_pointer (&hsm->store_uri, g_free);
}

G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (SoftHsm, softhsm_clear)

static char *
find_softhsm_module (void)
{
  static const char *candidates[] = {
    "/usr/lib/softhsm/libsofthsm2.so",
    "/usr/lib/x86_64-linux-gnu/softhsm/libsofthsm2.so",
    "/usr/lib/aarch64-linux-gnu/softhsm/libsofthsm2.so",
    "/usr/lib64/pkcs11/libsofthsm2.so",
    "/usr/lib/pkcs11/libsofthsm2.so",
    "/usr/local/lib/softhsm/libsofthsm2.so",
  };
  const char *env = g_getenv ("PP_SOFTHSM2_MODULE");

  if (env != NULL && g_file_test (env, G_FILE_TEST_EXISTS))
    return g_strdup (env);
  for (guint i = 0; i < G_N_ELEMENTS (candidates); i++)
    if (g_file_test (candidates[i], G_FILE_TEST_EXISTS))
      return g_strdup (candidates[i]);
  return NULL;
}

/* A fresh SoftHSM2 token "posprov-test" (user PIN 1234) in its own temp
 * directory, SOFTHSM2_CONF set for this test only. FALSE after a skip. */
static gboolean
softhsm_setup (SoftHsm *hsm)
{
  g_autofree char *util = g_find_program_in_path ("softhsm2-util");
  g_autofree char *dir = NULL;
  g_autofree char *tokens = NULL;
  g_autofree char *conf = NULL;
  g_autofree char *conf_text = NULL;
  g_autofree char *out = NULL;
  g_autofree char *err = NULL;
  g_autoptr(GError) error = NULL;
  int status = -1;
  const char *argv[] = { NULL, "--init-token", "--free", "--label", TOKEN,
                         "--pin", USER_PIN, "--so-pin", "5678", NULL };

  hsm->module = find_softhsm_module ();
  if (hsm->module == NULL || util == NULL)
    {
      g_test_skip ("SoftHSM2 is not installed (libsofthsm2.so or softhsm2-util missing; "
                   "Debian package softhsm2)");
      return FALSE;
    }

  dir = pp_test_make_tmpdir ();
  tokens = g_build_filename (dir, "tokens", NULL);
  conf = g_build_filename (dir, "softhsm2.conf", NULL);
  g_assert_cmpint (g_mkdir (tokens, 0700), ==, 0);
  conf_text = g_strdup_printf ("directories.tokendir = %s\nobjectstore.backend = file\n"
                               "log.level = ERROR\nslots.removable = false\n", tokens);
  g_assert_true (g_file_set_contents (conf, conf_text, -1, NULL));
  g_setenv ("SOFTHSM2_CONF", conf, TRUE);

  argv[0] = util;
  g_assert_true (g_spawn_sync (NULL, (char **) argv, NULL, G_SPAWN_DEFAULT, NULL, NULL,
                               &out, &err, &status, &error));
  g_assert_no_error (error);
  if (!g_spawn_check_wait_status (status, NULL))
    g_error ("softhsm2-util --init-token failed: %s", err);

  hsm->store_uri = g_strdup_printf ("pkcs11:token=" TOKEN "?module-path=%s", hsm->module);
  return TRUE;
}

/* Raw PKCS#11 access to the test token, independent of the code under
 * test, to check what a token auditor would check. */
typedef struct
{
  CK_FUNCTION_LIST  *module;
  CK_SESSION_HANDLE  session;
} RawToken;

static void
raw_open (RawToken   *raw,
          const char *module_path)
{
  CK_SLOT_ID slots[8];
  CK_ULONG n = G_N_ELEMENTS (slots);
  CK_RV rv;

  raw->module = p11_kit_module_load (module_path, 0);
  g_assert_nonnull (raw->module);
  g_assert_cmpuint (p11_kit_module_initialize (raw->module), ==, CKR_OK);
  g_assert_cmpuint (raw->module->C_GetSlotList (CK_TRUE, slots, &n), ==, CKR_OK);
  for (CK_ULONG i = 0; i < n; i++)
    {
      CK_TOKEN_INFO info;

      g_assert_cmpuint (raw->module->C_GetTokenInfo (slots[i], &info), ==, CKR_OK);
      if (strncmp ((const char *) info.label, TOKEN " ", strlen (TOKEN) + 1) != 0)
        continue;
      g_assert_cmpuint (raw->module->C_OpenSession (slots[i], CKF_SERIAL_SESSION | CKF_RW_SESSION,
                                                    NULL, NULL,
                                                    &raw->session), ==, CKR_OK);
      rv = raw->module->C_Login (raw->session, CKU_USER, (CK_UTF8CHAR_PTR) USER_PIN,
                                 strlen (USER_PIN));
      g_assert_true (rv == CKR_OK || rv == CKR_USER_ALREADY_LOGGED_IN);
      return;
    }
  g_assert_not_reached ();
}

static void
raw_close (RawToken *raw)
{
  raw->module->C_CloseSession (raw->session);
  p11_kit_module_finalize (raw->module);
  p11_kit_module_release (raw->module);
}

static CK_OBJECT_HANDLE
raw_find (RawToken        *raw,
          CK_OBJECT_CLASS  klass,
          const char      *label)
{
  CK_ATTRIBUTE tmpl[] = {
    { CKA_CLASS, &klass, sizeof klass },
    { CKA_LABEL, (void *) label, strlen (label) },
  };
  CK_OBJECT_HANDLE found[2];
  CK_ULONG n = 0;

  g_assert_cmpuint (raw->module->C_FindObjectsInit (raw->session, tmpl, 2), ==, CKR_OK);
  g_assert_cmpuint (raw->module->C_FindObjects (raw->session, found, 2, &n), ==, CKR_OK);
  g_assert_cmpuint (raw->module->C_FindObjectsFinal (raw->session), ==, CKR_OK);
  g_assert_cmpuint (n, ==, 1);
  return found[0];
}

static CK_BBOOL
raw_bool (RawToken          *raw,
          CK_OBJECT_HANDLE   object,
          CK_ATTRIBUTE_TYPE  type)
{
  CK_BBOOL value = 0xff;
  CK_ATTRIBUTE attr = { type, &value, sizeof value };

  g_assert_cmpuint (raw->module->C_GetAttributeValue (raw->session, object, &attr, 1), ==, CKR_OK);
  return value;
}

/* The attribute's value must be refused by the token. */
static void
assert_unreadable (RawToken          *raw,
                   CK_OBJECT_HANDLE   object,
                   CK_ATTRIBUTE_TYPE  type)
{
  guint8 buf[512];
  CK_ATTRIBUTE attr = { type, buf, sizeof buf };
  CK_RV rv = raw->module->C_GetAttributeValue (raw->session, object, &attr, 1);

  g_assert_cmpuint (rv, ==, CKR_ATTRIBUTE_SENSITIVE);
  g_assert_cmpuint (attr.ulValueLen, ==, CK_UNAVAILABLE_INFORMATION);
}

static EVP_PKEY *
raw_public_key (RawToken   *raw,
                const char *label)
{
  CK_OBJECT_HANDLE pub = raw_find (raw, CKO_PUBLIC_KEY, label);
  guint8 n[512], e[16];
  CK_ATTRIBUTE attrs[] = {
    { CKA_MODULUS, n, sizeof n },
    { CKA_PUBLIC_EXPONENT, e, sizeof e },
  };
  g_autoptr(BIGNUM) bn_n = NULL;
  g_autoptr(BIGNUM) bn_e = NULL;
  OSSL_PARAM_BLD *bld = OSSL_PARAM_BLD_new ();
  OSSL_PARAM *params;
  EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_name (NULL, "RSA", NULL);
  EVP_PKEY *pkey = NULL;

  g_assert_cmpuint (raw->module->C_GetAttributeValue (raw->session, pub, attrs, 2), ==, CKR_OK);
  bn_n = BN_bin2bn (n, (int) attrs[0].ulValueLen, NULL);
  bn_e = BN_bin2bn (e, (int) attrs[1].ulValueLen, NULL);
  g_assert_cmpint (OSSL_PARAM_BLD_push_BN (bld, "n", bn_n), ==, 1);
  g_assert_cmpint (OSSL_PARAM_BLD_push_BN (bld, "e", bn_e), ==, 1);
  params = OSSL_PARAM_BLD_to_param (bld);
  g_assert_cmpint (EVP_PKEY_fromdata_init (ctx), ==, 1);
  g_assert_cmpint (EVP_PKEY_fromdata (ctx, &pkey, EVP_PKEY_PUBLIC_KEY, params), ==, 1);
  OSSL_PARAM_free (params);
  OSSL_PARAM_BLD_free (bld);
  EVP_PKEY_CTX_free (ctx);
  return pkey;
}

static void
test_pkcs11_errors (void)
{
  g_auto(SoftHsm) hsm = { 0 };
  g_autoptr(GError) error = NULL;
  g_autofree char *uri = NULL;

  if (!softhsm_setup (&hsm))
    return;

  /* Nothing else holds a session: the login is really attempted. */
  g_assert_null (pp_key_store_pkcs11_new (hsm.store_uri, "9999", &error));
  g_assert_error (error, PP_KEYSTORE_ERROR, PP_KEYSTORE_ERROR_BAD_PIN);
  g_clear_error (&error);

  uri = g_strdup_printf ("pkcs11:token=" TOKEN ";object=kdh;type=private?module-path=%s",
                         hsm.module);
  g_assert_null (pp_signer_new_for_uri (uri, "0000", &error));
  g_assert_error (error, PP_KEYSTORE_ERROR, PP_KEYSTORE_ERROR_BAD_PIN);
  g_clear_error (&error);
  g_assert_null (pp_signer_new_for_uri (uri, NULL, &error));
  g_assert_error (error, PP_KEYSTORE_ERROR, PP_KEYSTORE_ERROR_PIN_REQUIRED);
  g_clear_error (&error);
  g_free (uri);

  uri = g_strdup_printf ("pkcs11:token=" TOKEN ";object=kdh;type=private"
                         "?module-path=%s&pin-value=4321", hsm.module);
  g_assert_null (pp_signer_new_for_uri (uri, USER_PIN, &error));
  g_assert_error (error, PP_KEYSTORE_ERROR, PP_KEYSTORE_ERROR_BAD_PIN);
  g_clear_error (&error);
  g_free (uri);

  uri = g_strdup_printf ("pkcs11:token=no-such-token?module-path=%s", hsm.module);
  g_assert_null (pp_key_store_pkcs11_new (uri, USER_PIN, &error));
  g_assert_error (error, PP_KEYSTORE_ERROR, PP_KEYSTORE_ERROR_TOKEN_NOT_FOUND);
  g_clear_error (&error);
  g_free (uri);

  g_assert_null (pp_key_store_pkcs11_new ("pkcs11:token=" TOKEN
                                          "?module-path=/nonexistent/libnothing.so",
                                          USER_PIN, &error));
  g_assert_error (error, PP_KEYSTORE_ERROR, PP_KEYSTORE_ERROR_MODULE_LOAD_FAILED);
  g_clear_error (&error);

  g_assert_null (pp_key_store_pkcs11_new ("pkcs11:token=%zz", USER_PIN, &error));
  g_assert_error (error, PP_KEYSTORE_ERROR, PP_KEYSTORE_ERROR_INVALID_URI);
  g_clear_error (&error);

  /* A signing key URI must name a key, and a private one. */
  uri = g_strdup_printf ("pkcs11:token=" TOKEN "?module-path=%s", hsm.module);
  g_assert_null (pp_signer_new_for_uri (uri, USER_PIN, &error));
  g_assert_error (error, PP_KEYSTORE_ERROR, PP_KEYSTORE_ERROR_INVALID_URI);
  g_clear_error (&error);
  g_free (uri);
  uri = g_strdup_printf ("pkcs11:token=" TOKEN ";object=kdh;type=cert?module-path=%s",
                         hsm.module);
  g_assert_null (pp_signer_new_for_uri (uri, USER_PIN, &error));
  g_assert_error (error, PP_KEYSTORE_ERROR, PP_KEYSTORE_ERROR_INVALID_URI);
  g_clear_error (&error);
  g_free (uri);

  uri = g_strdup_printf ("pkcs11:token=" TOKEN ";object=nokey;type=private?module-path=%s",
                         hsm.module);
  g_assert_null (pp_signer_new_for_uri (uri, USER_PIN, &error));
  g_assert_error (error, PP_KEYSTORE_ERROR, PP_KEYSTORE_ERROR_OBJECT_NOT_FOUND);
  g_clear_error (&error);
}

static void
test_pkcs11_kdh (void)
{
  g_auto(SoftHsm) hsm = { 0 };
  g_autoptr(GError) error = NULL;
  g_autoptr(PpKeyStore) store = NULL;
  g_autoptr(PpSigner) signer = NULL;
  g_autoptr(PpSigner) store_signer = NULL;
  g_autoptr(GBytes) sig = NULL;
  g_autoptr(GBytes) sig2 = NULL;
  g_autoptr(EVP_PKEY) token_pub = NULL;
  g_autoptr(EVP_PKEY) signer_pub = NULL;
  g_autofree char *uri = NULL;
  g_autofree char *uri_no_pin = NULL;
  RawToken raw;
  CK_OBJECT_HANDLE priv;

  if (!softhsm_setup (&hsm))
    return;

  store = pp_key_store_new_for_location (hsm.store_uri, USER_PIN, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (pp_key_store_get_backend_name (store), ==, "pkcs11");
  g_assert_true (pp_key_store_generate_kdh_key (store, "kdh", NULL, &error));
  g_assert_no_error (error);
  g_assert_false (pp_key_store_generate_kdh_key (store, "kdh", NULL, &error));
  g_assert_error (error, PP_KEYSTORE_ERROR, PP_KEYSTORE_ERROR_EXISTS);
  g_clear_error (&error);

  /* Sign through the RFC 7512 URI, PIN in the URI. */
  uri = g_strdup_printf ("pkcs11:token=" TOKEN ";object=kdh;type=private"
                         "?module-path=%s&pin-value=" USER_PIN, hsm.module);
  signer = pp_signer_new_for_uri (uri, NULL, &error);
  g_assert_no_error (error);
  g_assert_true (pp_signer_is_hardware (signer));
  g_assert_true (pp_signer_sign (signer, message, sizeof message, &sig, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (g_bytes_get_size (sig), ==, 256);

  raw_open (&raw, hsm.module);
  token_pub = raw_public_key (&raw, "kdh");
  g_assert_cmpint (EVP_PKEY_get_bits (token_pub), ==, 2048);
  g_assert_true (verify_signature (token_pub, message, sizeof message, sig));
  signer_pub = pp_signer_dup_public_key (signer, &error);
  g_assert_no_error (error);
  g_assert_cmpint (EVP_PKEY_eq (signer_pub, token_pub), ==, 1);

  /* The private key can only sign: sensitive, never extractable, and
   * its private exponent and primes are refused. */
  priv = raw_find (&raw, CKO_PRIVATE_KEY, "kdh");
  g_assert_true (raw_bool (&raw, priv, CKA_SENSITIVE) == CK_TRUE);
  g_assert_true (raw_bool (&raw, priv, CKA_EXTRACTABLE) == CK_FALSE);
  g_assert_true (raw_bool (&raw, priv, CKA_ALWAYS_SENSITIVE) == CK_TRUE);
  g_assert_true (raw_bool (&raw, priv, CKA_NEVER_EXTRACTABLE) == CK_TRUE);
  g_assert_true (raw_bool (&raw, priv, CKA_LOCAL) == CK_TRUE);
  g_assert_true (raw_bool (&raw, priv, CKA_PRIVATE) == CK_TRUE);
  g_assert_true (raw_bool (&raw, priv, CKA_DECRYPT) == CK_FALSE);
  assert_unreadable (&raw, priv, CKA_PRIVATE_EXPONENT);
  assert_unreadable (&raw, priv, CKA_PRIME_1);
  raw_close (&raw);

  /* PIN as the secret argument; and the store's own signer. */
  uri_no_pin = g_strdup_printf ("pkcs11:token=" TOKEN ";object=kdh;type=private"
                                "?module-path=%s", hsm.module);
  g_clear_pointer (&signer, pp_signer_unref);
  signer = pp_signer_new_for_uri (uri_no_pin, USER_PIN, &error);
  g_assert_no_error (error);
  store_signer = pp_key_store_get_signer (store, "kdh", &error);
  g_assert_no_error (error);
  g_assert_true (pp_signer_sign (store_signer, message, sizeof message, &sig2, &error));
  g_assert_no_error (error);
  g_assert_true (verify_signature (token_pub, message, sizeof message, sig2));
  /* PKCS#1 v1.5 is deterministic: same key, same message, same bytes. */
  g_assert_true (g_bytes_equal (sig, sig2));

  g_assert_null (pp_key_store_get_signer (store, "absent", &error));
  g_assert_error (error, PP_KEYSTORE_ERROR, PP_KEYSTORE_ERROR_NOT_FOUND);
  g_clear_error (&error);

  /* A 1024-bit key put on the token by another tool is refused. */
  raw_open (&raw, hsm.module);
  {
    CK_MECHANISM gen = { CKM_RSA_PKCS_KEY_PAIR_GEN, NULL, 0 };
    CK_ULONG bits = 1024;
    CK_BBOOL yes = CK_TRUE;
    CK_ATTRIBUTE pub_tmpl[] = {
      { CKA_MODULUS_BITS, &bits, sizeof bits },
      { CKA_LABEL, (void *) "weak", 4 },
      { CKA_VERIFY, &yes, 1 },
    };
    CK_ATTRIBUTE priv_tmpl[] = {
      { CKA_LABEL, (void *) "weak", 4 },
      { CKA_SIGN, &yes, 1 },
      { CKA_PRIVATE, &yes, 1 },
    };
    CK_OBJECT_HANDLE h1, h2;

    g_assert_cmpuint (raw.module->C_GenerateKeyPair (raw.session, &gen, pub_tmpl, 3,
                                                     priv_tmpl, 3, &h1, &h2), ==, CKR_OK);
  }
  g_assert_null (pp_key_store_get_signer (store, "weak", &error));
  g_assert_error (error, PP_KEYSTORE_ERROR, PP_KEYSTORE_ERROR_INVALID_KEY);
  g_clear_error (&error);
  raw_close (&raw);
}

static void
test_pkcs11_certificate (void)
{
  g_auto(SoftHsm) hsm = { 0 };
  g_autoptr(GError) error = NULL;
  g_autoptr(PpKeyStore) store = NULL;
  g_autoptr(PpSigner) signer = NULL;
  g_autoptr(EVP_PKEY) pub = NULL;
  g_autoptr(X509) cert1 = NULL;
  g_autoptr(X509) cert2 = NULL;
  g_autoptr(X509) back = NULL;
  g_autoptr(X509) other = NULL;
  RawToken raw;

  if (!softhsm_setup (&hsm))
    return;

  store = pp_key_store_pkcs11_new (hsm.store_uri, USER_PIN, &error);
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
  back = pp_key_store_load_certificate (store, "kdh", &error);
  g_assert_no_error (error);
  g_assert_cmpint (X509_cmp (back, cert1), ==, 0);

  /* Replacing leaves exactly one certificate object. */
  cert2 = issue_certificate (pub, shared_rsa_key ());
  ASN1_INTEGER_set (X509_get_serialNumber (cert2), 0x5678);
  g_assert_cmpint (X509_sign (cert2, shared_rsa_key (), EVP_sha256 ()), >, 0);
  g_assert_true (pp_key_store_store_certificate (store, "kdh", cert2, &error));
  g_assert_no_error (error);
  g_clear_pointer (&back, X509_free);
  back = pp_key_store_load_certificate (store, "kdh", &error);
  g_assert_no_error (error);
  g_assert_cmpint (X509_cmp (back, cert2), ==, 0);
  raw_open (&raw, hsm.module);
  raw_find (&raw, CKO_CERTIFICATE, "kdh");
  raw_close (&raw);

  other = issue_certificate (shared_rsa_key (), shared_rsa_key ());
  g_assert_false (pp_key_store_store_certificate (store, "kdh", other, &error));
  g_assert_error (error, PP_KEYSTORE_ERROR, PP_KEYSTORE_ERROR_INVALID_KEY);
}

static void
test_pkcs11_tmk (void)
{
  g_auto(SoftHsm) hsm = { 0 };
  g_autoptr(GError) error = NULL;
  g_autoptr(PpKeyStore) store = NULL;
  RawToken raw;

  if (!softhsm_setup (&hsm))
    return;

  store = pp_key_store_pkcs11_new (hsm.store_uri, USER_PIN, &error);
  g_assert_no_error (error);
  check_tmks (store);
  check_generate_and_export (store);

  /* Generated in the token, and its value is never readable there. */
  raw_open (&raw, hsm.module);
  for (guint i = 0; i < G_N_ELEMENTS (tmk_kinds); i++)
    {
      CK_OBJECT_HANDLE tmk = raw_find (&raw, CKO_SECRET_KEY, tmk_kinds[i].label);

      g_assert_true (raw_bool (&raw, tmk, CKA_LOCAL) == CK_TRUE);
      g_assert_true (raw_bool (&raw, tmk, CKA_SENSITIVE) == CK_TRUE);
      g_assert_true (raw_bool (&raw, tmk, CKA_ALWAYS_SENSITIVE) == CK_TRUE);
      g_assert_true (raw_bool (&raw, tmk, CKA_TOKEN) == CK_TRUE);
      assert_unreadable (&raw, tmk, CKA_VALUE);
    }

  /* An AES TMK made by another tool that may encrypt but not sign: its
   * KCV comes from the ECB-based CMAC path, and must still match. */
  {
    CK_OBJECT_CLASS klass = CKO_SECRET_KEY;
    CK_KEY_TYPE aes = CKK_AES;
    CK_ULONG len = 16;
    CK_BBOOL yes = CK_TRUE, no = CK_FALSE;
    CK_ATTRIBUTE tmpl[] = {
      { CKA_CLASS, &klass, sizeof klass },
      { CKA_KEY_TYPE, &aes, sizeof aes },
      { CKA_VALUE_LEN, &len, sizeof len },
      { CKA_LABEL, (void *) "tmk-ecb", 7 },
      { CKA_TOKEN, &yes, 1 },
      { CKA_PRIVATE, &yes, 1 },
      { CKA_SENSITIVE, &yes, 1 },
      { CKA_EXTRACTABLE, &yes, 1 },
      { CKA_ENCRYPT, &yes, 1 },
      { CKA_SIGN, &no, 1 },
    };
    CK_MECHANISM gen = { CKM_AES_KEY_GEN, NULL, 0 };
    CK_OBJECT_HANDLE h;
    g_autoptr(PpSecureBuffer) key = NULL;
    g_autofree char *kcv = NULL;
    g_autofree char *expected = NULL;

    g_assert_cmpuint (raw.module->C_GenerateKey (raw.session, &gen, tmpl, G_N_ELEMENTS (tmpl),
                                                 &h), ==, CKR_OK);
    kcv = pp_key_store_get_tmk_kcv (store, "tmk-ecb", NULL, &error);
    g_assert_no_error (error);
    key = pp_key_store_export_tmk (store, "tmk-ecb", NULL, &error);
    g_assert_no_error (error);
    expected = pp_kcv_compute (PP_KEY_ALGORITHM_AES, key, 5, &error);
    g_assert_no_error (error);
    g_assert_cmpstr (kcv, ==, expected);
  }
  raw_close (&raw);

  g_assert_null (pp_key_store_export_tmk (store, "absent", NULL, &error));
  g_assert_error (error, PP_KEYSTORE_ERROR, PP_KEYSTORE_ERROR_NOT_FOUND);
}

/* The raw CKA_VALUE of the single secret record object @label. */
static GBytes *
raw_value (RawToken   *raw,
           const char *label)
{
  CK_OBJECT_HANDLE object = raw_find (raw, CKO_DATA, label);
  CK_ATTRIBUTE attr = { CKA_VALUE, NULL, 0 };
  guint8 *value;

  g_assert_cmpuint (raw->module->C_GetAttributeValue (raw->session, object, &attr, 1), ==, CKR_OK);
  value = g_malloc (attr.ulValueLen);
  attr.pValue = value;
  g_assert_cmpuint (raw->module->C_GetAttributeValue (raw->session, object, &attr, 1), ==, CKR_OK);
  return g_bytes_new_take (value, attr.ulValueLen);
}

/* Puts a record object on the token as posprov writes one, generation @generation. */
static void
raw_put_record (RawToken   *raw,
                const char *label,
                guint64     generation,
                const char *record)
{
  CK_OBJECT_CLASS klass = CKO_DATA;
  CK_BBOOL yes = CK_TRUE, no = CK_FALSE;
  g_autoptr(GByteArray) value = g_byte_array_new ();
  CK_OBJECT_HANDLE h;

  g_byte_array_append (value, (const guint8 *) "PPSR1", 5);
  for (guint i = 0; i < 8; i++)
    {
      guint8 b = (guint8) (generation >> (56 - 8 * i));

      g_byte_array_append (value, &b, 1);
    }
  g_byte_array_append (value, (const guint8 *) record, strlen (record));
  {
    CK_ATTRIBUTE tmpl[] = {
      { CKA_CLASS, &klass, sizeof klass },
      { CKA_LABEL, (void *) label, strlen (label) },
      { CKA_APPLICATION, (void *) "posprov secret record", 21 },
      { CKA_TOKEN, &yes, 1 },
      { CKA_PRIVATE, &yes, 1 },
      { CKA_MODIFIABLE, &no, 1 },
      { CKA_VALUE, value->data, value->len },
    };

    g_assert_cmpuint (raw->module->C_CreateObject (raw->session, tmpl, G_N_ELEMENTS (tmpl), &h), ==, CKR_OK);
  }
}

static guint
raw_count_data (RawToken   *raw,
                const char *label)
{
  CK_OBJECT_CLASS klass = CKO_DATA;
  CK_ATTRIBUTE tmpl[] = {
    { CKA_CLASS, &klass, sizeof klass },
    { CKA_LABEL, (void *) label, strlen (label) },
  };
  CK_OBJECT_HANDLE found[8];
  CK_ULONG n = 0;

  g_assert_cmpuint (raw->module->C_FindObjectsInit (raw->session, tmpl, 2), ==, CKR_OK);
  g_assert_cmpuint (raw->module->C_FindObjects (raw->session, found, 8, &n), ==, CKR_OK);
  g_assert_cmpuint (raw->module->C_FindObjectsFinal (raw->session), ==, CKR_OK);
  return (guint) n;
}

/* TRUE when some file of the test token's folder holds @needle. */
static gboolean
token_files_contain_bytes (const void *needle,
                           gsize       needle_len)
{
  g_autofree char *base = g_path_get_dirname (g_getenv ("SOFTHSM2_CONF"));
  g_autofree char *tokens = g_build_filename (base, "tokens", NULL);
  g_autoptr(GDir) top = g_dir_open (tokens, 0, NULL);
  const char *name;

  g_assert_nonnull (top);
  while ((name = g_dir_read_name (top)) != NULL)
    {
      g_autofree char *sub = g_build_filename (tokens, name, NULL);
      g_autoptr(GDir) dir = g_dir_open (sub, 0, NULL);
      const char *file;

      while (dir != NULL && (file = g_dir_read_name (dir)) != NULL)
        {
          g_autofree char *path = g_build_filename (sub, file, NULL);
          g_autofree char *data = NULL;
          gsize len = 0;

          if (g_file_get_contents (path, &data, &len, NULL) &&
              memmem (data, len, needle, needle_len) != NULL)
            return TRUE;
        }
    }
  return FALSE;
}

static gboolean
token_files_contain (const char *needle)
{
  return token_files_contain_bytes (needle, strlen (needle));
}

static PpSecureBuffer *
text_buffer (const char *text)
{
  return pp_secure_buffer_new_from ((const guint8 *) text, strlen (text));
}

static void
assert_secret (PpKeyStore *store,
               const char *label,
               const char *expected)
{
  PpKeyStoreInterface *iface = PP_KEY_STORE_GET_IFACE (store);
  g_autoptr(GError) error = NULL;
  g_autoptr(PpSecureBuffer) back = iface->load_secret (store, label, &error);
  g_autoptr(PpSecureBuffer) want = text_buffer (expected);

  g_assert_no_error (error);
  g_assert_true (pp_secure_buffer_equal (back, want));
}

/* Secret records on the token: store, load, replace (one object left, the
 * old value gone), a crash between create and destroy (the newest wins,
 * the next write removes both), delivery records and the journal key
 * through the public API, all seen again by a second store. */
static void
test_pkcs11_secret (void)
{
  g_auto(SoftHsm) hsm = { 0 };
  g_autoptr(GError) error = NULL;
  g_autoptr(PpKeyStore) store = NULL;
  g_autoptr(PpKeyStore) again = NULL;
  g_autoptr(PpSecureBuffer) first = text_buffer ("first record");
  g_autoptr(PpSecureBuffer) second = text_buffer ("second, longer record");
  g_autoptr(PpSecureBuffer) third = text_buffer ("third");
  g_autoptr(PpJournalKey) journal = NULL;
  g_autoptr(PpJournalKey) journal_back = NULL;
  g_autoptr(GPtrArray) list = NULL;
  g_autoptr(GBytes) raw_bytes = NULL;
  PpKeyStoreInterface *iface;
  PpTmkDelivery *d;
  RawToken raw;

  if (!softhsm_setup (&hsm))
    return;

  store = pp_key_store_pkcs11_new (hsm.store_uri, USER_PIN, &error);
  g_assert_no_error (error);
  iface = PP_KEY_STORE_GET_IFACE (store);
  g_assert_nonnull (iface->store_secret);
  g_assert_nonnull (iface->load_secret);

  g_assert_null (iface->load_secret (store, "rec", &error));
  g_assert_error (error, PP_KEYSTORE_ERROR, PP_KEYSTORE_ERROR_NOT_FOUND);
  g_clear_error (&error);

  g_assert_true (iface->store_secret (store, "rec", first, &error));
  g_assert_no_error (error);
  assert_secret (store, "rec", "first record");
  g_assert_true (iface->store_secret (store, "rec", second, &error));
  g_assert_no_error (error);
  assert_secret (store, "rec", "second, longer record");

  /* One private, unmodifiable token object; the first value is gone. */
  raw_open (&raw, hsm.module);
  {
    CK_OBJECT_HANDLE object = raw_find (&raw, CKO_DATA, "rec");

    g_assert_true (raw_bool (&raw, object, CKA_TOKEN) == CK_TRUE);
    g_assert_true (raw_bool (&raw, object, CKA_PRIVATE) == CK_TRUE);
    g_assert_true (raw_bool (&raw, object, CKA_MODIFIABLE) == CK_FALSE);
  }
  raw_bytes = raw_value (&raw, "rec");
  /* "PPSR1", generation 2, the record. */
  g_assert_cmpuint (g_bytes_get_size (raw_bytes), ==, 13 + strlen ("second, longer record"));
  g_assert_cmpmem (g_bytes_get_data (raw_bytes, NULL), 13, "PPSR1\0\0\0\0\0\0\0\2", 13);
  g_assert_cmpmem ((const char *) g_bytes_get_data (raw_bytes, NULL) + 13, g_bytes_get_size (raw_bytes) - 13,
                   "second, longer record", strlen ("second, longer record"));
  g_clear_pointer (&raw_bytes, g_bytes_unref);

  /* A writer that crashed after creating generation 3 but before
   * destroying 2 (here: an older 1 left behind too): readers get 3. */
  raw_put_record (&raw, "rec", 3, "crashed writer's record");
  raw_put_record (&raw, "rec", 1, "stale record");
  g_assert_cmpuint (raw_count_data (&raw, "rec"), ==, 3);
  assert_secret (store, "rec", "crashed writer's record");
  g_assert_true (iface->store_secret (store, "rec", third, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (raw_count_data (&raw, "rec"), ==, 1);
  assert_secret (store, "rec", "third");

  /* A data object that posprov did not write is damaged, not a record. */
  {
    CK_OBJECT_CLASS klass = CKO_DATA;
    CK_BBOOL yes = CK_TRUE;
    CK_ATTRIBUTE tmpl[] = {
      { CKA_CLASS, &klass, sizeof klass },
      { CKA_LABEL, (void *) "junk", 4 },
      { CKA_APPLICATION, (void *) "posprov secret record", 21 },
      { CKA_TOKEN, &yes, 1 },
      { CKA_PRIVATE, &yes, 1 },
      { CKA_VALUE, (void *) "not a record at all", 19 },
    };
    CK_OBJECT_HANDLE h;

    g_assert_cmpuint (raw.module->C_CreateObject (raw.session, tmpl, G_N_ELEMENTS (tmpl), &h), ==, CKR_OK);
  }
  g_assert_null (iface->load_secret (store, "junk", &error));
  g_assert_error (error, PP_KEYSTORE_ERROR, PP_KEYSTORE_ERROR_INVALID_KEY);
  g_clear_error (&error);

  /* TMK delivery records: written, rewritten, read back. */
  g_assert_true (pp_key_store_set_tmk_delivery (store, "PP7001", "tmk-PP7001-1", "A1B2C3",
                                                PP_TMK_DELIVERY_SENT, &error));
  g_assert_no_error (error);
  g_assert_true (pp_key_store_set_tmk_delivery (store, "PP7001", "tmk-PP7001-2", "D4E5F6",
                                                PP_TMK_DELIVERY_SENT, &error));
  g_assert_no_error (error);
  g_assert_true (pp_key_store_set_tmk_delivery (store, "PP7001", "tmk-PP7001-1", "A1B2C3",
                                                PP_TMK_DELIVERY_DISCARDED, &error));
  g_assert_no_error (error);
  g_assert_true (pp_key_store_set_tmk_delivery (store, "PP7001", "tmk-PP7001-2", "D4E5F6",
                                                PP_TMK_DELIVERY_CONFIRMED, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (raw_count_data (&raw, "delivery-PP7001"), ==, 1);

  /* The journal key, replaced on an epoch change. */
  journal = pp_journal_key_new (NULL, 1, 10, 60, &error);
  g_assert_no_error (error);
  g_assert_true (pp_key_store_store_journal_key (store, PP_JOURNAL_KEY_LABEL, journal, &error));
  g_assert_no_error (error);
  pp_journal_key_evolve_to (journal, 3);
  g_assert_true (pp_key_store_store_journal_key (store, PP_JOURNAL_KEY_LABEL, journal, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (raw_count_data (&raw, PP_JOURNAL_KEY_LABEL), ==, 1);

  /* An empty record is a record. */
  {
    g_autoptr(PpSecureBuffer) empty = text_buffer ("");

    g_assert_true (iface->store_secret (store, "empty", empty, &error));
    g_assert_no_error (error);
    assert_secret (store, "empty", "");
  }
  raw_close (&raw);

  /* Someone with the token's files but not the PIN: SoftHSM2 keeps a
   * private object's attributes encrypted under the token key, so neither
   * the records nor the journal key are in the files (with CKA_PRIVATE
   * false, "third" and "PPSR1" are there in clear). */
  {
    g_autofree char *key_hex = pp_secure_buffer_to_hex (journal->key);

    g_assert_false (token_files_contain ("third"));
    g_assert_false (token_files_contain ("tmk-PP7001-2"));
    g_assert_false (token_files_contain ("PPSR1"));
    g_assert_false (token_files_contain ("posprov secret record"));
    g_assert_false (token_files_contain_bytes (pp_secure_buffer_peek (journal->key), PP_JOURNAL_KEY_LEN));
    g_assert_false (token_files_contain (key_hex));
    /* (SoftHSM2 encrypts the label of a private object too.) */
    g_assert_false (token_files_contain ("delivery-PP7001"));
  }
  g_clear_object (&store);

  /* A second opener (another process, later) reads what the first wrote. */
  again = pp_key_store_pkcs11_new (hsm.store_uri, USER_PIN, &error);
  g_assert_no_error (error);
  list = pp_key_store_list_tmk_deliveries (again, "PP7001", &error);
  g_assert_no_error (error);
  g_assert_cmpuint (list->len, ==, 2);
  d = g_ptr_array_index (list, 0);
  g_assert_cmpstr (d->label, ==, "tmk-PP7001-1");
  g_assert_cmpstr (d->kcv, ==, "A1B2C3");
  g_assert_cmpint (d->state, ==, PP_TMK_DELIVERY_DISCARDED);
  d = g_ptr_array_index (list, 1);
  g_assert_cmpstr (d->label, ==, "tmk-PP7001-2");
  g_assert_cmpint (d->state, ==, PP_TMK_DELIVERY_CONFIRMED);
  g_clear_pointer (&list, g_ptr_array_unref);
  list = pp_key_store_list_tmk_deliveries (again, "PP7002", &error);
  g_assert_no_error (error);
  g_assert_cmpuint (list->len, ==, 0);

  journal_back = pp_key_store_load_journal_key (again, PP_JOURNAL_KEY_LABEL, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (journal_back->journal_id, ==, journal->journal_id);
  g_assert_cmpuint (journal_back->epoch, ==, 3);
  g_assert_true (pp_secure_buffer_equal (journal_back->key, journal->key));
  assert_secret (again, "rec", "third");
  g_clear_object (&again);

  /* Through PKCS#11 without the PIN (every session of the stores closed,
   * so the process is logged out): no record is even found. */
  {
    CK_FUNCTION_LIST *module = p11_kit_module_load (hsm.module, 0);
    CK_OBJECT_CLASS klass = CKO_DATA;
    CK_ATTRIBUTE tmpl[] = { { CKA_CLASS, &klass, sizeof klass } };
    CK_SLOT_ID slots[8];
    CK_ULONG n_slots = G_N_ELEMENTS (slots), n = 99;
    CK_OBJECT_HANDLE found[8];
    CK_SESSION_HANDLE session;
    CK_SESSION_INFO info;

    g_assert_nonnull (module);
    g_assert_cmpuint (p11_kit_module_initialize (module), ==, CKR_OK);
    g_assert_cmpuint (module->C_GetSlotList (CK_TRUE, slots, &n_slots), ==, CKR_OK);
    g_assert_cmpuint (n_slots, >=, 1);
    g_assert_cmpuint (module->C_OpenSession (slots[0], CKF_SERIAL_SESSION, NULL, NULL, &session), ==, CKR_OK);
    g_assert_cmpuint (module->C_GetSessionInfo (session, &info), ==, CKR_OK);
    g_assert_cmpuint (info.state, ==, CKS_RO_PUBLIC_SESSION);
    g_assert_cmpuint (module->C_FindObjectsInit (session, tmpl, 1), ==, CKR_OK);
    g_assert_cmpuint (module->C_FindObjects (session, found, G_N_ELEMENTS (found), &n), ==, CKR_OK);
    g_assert_cmpuint (module->C_FindObjectsFinal (session), ==, CKR_OK);
    g_assert_cmpuint (n, ==, 0);
    module->C_CloseSession (session);
    p11_kit_module_finalize (module);
    p11_kit_module_release (module);
  }
}

/* Writers on several threads of one store and readers meanwhile: every
 * read sees a whole record, and one object is left. */
typedef struct
{
  PpKeyStore *store;
  guint       id;
} SecretThread;

static gpointer
secret_writer (gpointer data)
{
  SecretThread *t = data;
  PpKeyStoreInterface *iface = PP_KEY_STORE_GET_IFACE (t->store);

  for (guint i = 0; i < 5; i++)
    {
      g_autofree char *text = g_strdup_printf ("record of writer %u, write %u", t->id, i);
      g_autoptr(PpSecureBuffer) record = text_buffer (text);
      g_autoptr(PpSecureBuffer) back = NULL;
      g_autoptr(GError) error = NULL;
      g_autofree char *seen = NULL;

      g_assert_true (iface->store_secret (t->store, "shared", record, &error));
      g_assert_no_error (error);
      back = iface->load_secret (t->store, "shared", &error);
      g_assert_no_error (error);
      seen = g_strndup ((const char *) pp_secure_buffer_peek (back), pp_secure_buffer_get_len (back));
      g_assert_true (g_str_has_prefix (seen, "record of writer "));
    }
  return NULL;
}

static void
test_pkcs11_secret_threads (void)
{
  g_auto(SoftHsm) hsm = { 0 };
  g_autoptr(GError) error = NULL;
  g_autoptr(PpKeyStore) store = NULL;
  SecretThread t[4];
  GThread *threads[4];
  RawToken raw;

  if (!softhsm_setup (&hsm))
    return;
  store = pp_key_store_pkcs11_new (hsm.store_uri, USER_PIN, &error);
  g_assert_no_error (error);
  for (guint i = 0; i < G_N_ELEMENTS (threads); i++)
    {
      t[i] = (SecretThread) { store, i };
      threads[i] = g_thread_new ("secret", secret_writer, &t[i]);
    }
  for (guint i = 0; i < G_N_ELEMENTS (threads); i++)
    g_thread_join (threads[i]);
  raw_open (&raw, hsm.module);
  g_assert_cmpuint (raw_count_data (&raw, "shared"), ==, 1);
  raw_close (&raw);
}

static void
test_pkcs11_async (void)
{
  g_auto(SoftHsm) hsm = { 0 };
  g_autoptr(GError) error = NULL;
  g_autoptr(PpKeyStore) store = NULL;

  if (!softhsm_setup (&hsm))
    return;

  store = pp_key_store_pkcs11_new (hsm.store_uri, USER_PIN, &error);
  g_assert_no_error (error);
  check_async (store);
  release_and_wait (&store);
}

typedef struct
{
  PpSigner *signer;
  EVP_PKEY *pub;
  guint     index;
} SignerThread;

static gpointer
sign_in_thread (gpointer data)
{
  SignerThread *st = data;

  for (guint i = 0; i < 5; i++)
    {
      g_autoptr(GError) error = NULL;
      g_autoptr(GBytes) sig = NULL;
      guint8 msg[2] = { (guint8) st->index, (guint8) i };

      if (!pp_signer_sign (st->signer, msg, sizeof msg, &sig, &error))
        return GINT_TO_POINTER (FALSE);
      if (!verify_signature (st->pub, msg, sizeof msg, sig))
        return GINT_TO_POINTER (FALSE);
    }
  return GINT_TO_POINTER (TRUE);
}

/* One token signer used by several threads at once (the session is
 * shared, so the calls must be serialised); and a cancelled async sign. */
static void
test_pkcs11_threads (void)
{
  g_auto(SoftHsm) hsm = { 0 };
  g_autoptr(GError) error = NULL;
  g_autoptr(PpKeyStore) store = NULL;
  g_autoptr(PpSigner) signer = NULL;
  g_autoptr(EVP_PKEY) pub = NULL;
  g_autoptr(GCancellable) cancelled = g_cancellable_new ();
  g_autoptr(GBytes) data = g_bytes_new_static (message, sizeof message);
  g_autoptr(GAsyncResult) result = NULL;
  SignerThread st[4];
  GThread *threads[4];

  if (!softhsm_setup (&hsm))
    return;

  store = pp_key_store_pkcs11_new (hsm.store_uri, USER_PIN, &error);
  g_assert_no_error (error);
  g_assert_true (pp_key_store_generate_kdh_key (store, "kdh", NULL, &error));
  g_assert_no_error (error);
  signer = pp_key_store_get_signer (store, "kdh", &error);
  g_assert_no_error (error);
  pub = pp_signer_dup_public_key (signer, &error);
  g_assert_no_error (error);

  for (guint i = 0; i < G_N_ELEMENTS (threads); i++)
    {
      st[i] = (SignerThread) { signer, pub, i };
      threads[i] = g_thread_new ("signer", sign_in_thread, &st[i]);
    }
  for (guint i = 0; i < G_N_ELEMENTS (threads); i++)
    g_assert_true (GPOINTER_TO_INT (g_thread_join (threads[i])));

  g_cancellable_cancel (cancelled);
  pp_signer_sign_async (signer, data, cancelled, signer_async_done, &result);
  g_assert_null (pp_signer_sign_finish (signer, wait_for (&result), &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
}

/* Without module-path= the token is looked up in every module p11-kit
 * has registered, as a station configured by its administrator would. */
typedef struct {
  PpKeyStore     *store;
  char            label[32];
  PpSecureBuffer *tmk;
  char           *kcv;
  GError         *error;
  GMutex         *lock;
  GCond          *cond;
  guint          *done;
} TmkThread;

static gpointer
export_in_thread (gpointer data)
{
  TmkThread *t = data;

  if ((t->tmk = pp_key_store_export_tmk (t->store, t->label, NULL, &t->error)) != NULL)
    t->kcv = pp_key_store_get_tmk_kcv (t->store, t->label, NULL, &t->error);
  g_mutex_lock (t->lock);
  (*t->done)++;
  g_cond_signal (t->cond);
  g_mutex_unlock (t->lock);
  return NULL;
}

static gpointer
generate_in_thread (gpointer data)
{
  TmkThread *t = data;

  t->kcv = pp_key_store_generate_and_export_tmk (t->store, t->label, PP_TMK_AES_128, &t->tmk, NULL, &t->error);
  g_mutex_lock (t->lock);
  (*t->done)++;
  g_cond_signal (t->cond);
  g_mutex_unlock (t->lock);
  return NULL;
}

/* Token calls run on sessions of their own: a TMK is wrapped out and its
 * KCV computed while another session is held busy (a long signature, a
 * slow token) instead of waiting for it. Ten threads generating at once
 * (eight labels, one of them wanted twice more; the token object
 * creation itself goes one at a time) each get their own key, the one the
 * token exports later; of the label wanted three times exactly one is
 * made, and SoftHSM2's object store stays whole. */
static void
test_pkcs11_concurrent_tmks (void)
{
  g_auto(SoftHsm) hsm = { 0 };
  g_autoptr(GError) error = NULL;
  g_autoptr(PpKeyStore) store = NULL;
  GMutex lock;
  GCond cond;
  guint done = 0, made = 0;
  TmkThread jobs[10];
  GThread *threads[10];
  PpP11Token *token;
  CK_SESSION_HANDLE busy;
  gint64 deadline;

  if (!softhsm_setup (&hsm))
    return;
  store = pp_key_store_pkcs11_new (hsm.store_uri, USER_PIN, &error);
  g_assert_no_error (error);
  token = pp_key_store_pkcs11_peek_token (store);
  g_mutex_init (&lock);
  g_cond_init (&cond);

  memset (jobs, 0, sizeof jobs);
  jobs[0] = (TmkThread) { store, "tmk-while-busy", NULL, NULL, NULL, &lock, &cond, &done };
  jobs[0].kcv = pp_key_store_generate_tmk (store, jobs[0].label, PP_TMK_AES_128, NULL, &error);
  g_assert_no_error (error);
  g_clear_pointer (&jobs[0].kcv, g_free);
  busy = pp_p11_session_take (token);
  threads[0] = g_thread_new ("tmk", export_in_thread, &jobs[0]);
  deadline = g_get_monotonic_time () + 30 * G_TIME_SPAN_SECOND;
  g_mutex_lock (&lock);
  while (done == 0 && g_cond_wait_until (&cond, &lock, deadline))
    ;
  g_mutex_unlock (&lock);
  g_assert_cmpuint (done, ==, 1);   /* before the pool: blocked behind the busy session */
  g_thread_join (threads[0]);
  g_assert_no_error (jobs[0].error);
  pp_p11_session_give (token, busy);
  g_assert_cmpuint (pp_p11_session_count (token), >=, 2);

  for (guint i = 1; i < G_N_ELEMENTS (jobs); i++)
    {
      jobs[i] = (TmkThread) { store, "", NULL, NULL, NULL, &lock, &cond, &done };
      g_snprintf (jobs[i].label, sizeof jobs[i].label, "tmk-fleet-%u", i <= 7 ? i : 7);
      threads[i] = g_thread_new ("tmk", generate_in_thread, &jobs[i]);
    }
  for (guint i = 1; i < G_N_ELEMENTS (jobs); i++)
    g_thread_join (threads[i]);
  g_assert_cmpuint (pp_p11_session_count (token), <=, PP_P11_MAX_SESSIONS);
  for (guint i = 0; i < G_N_ELEMENTS (jobs); i++)
    {
      g_autoptr(PpSecureBuffer) exported = NULL;
      g_autofree char *kcv = NULL;

      if (jobs[i].kcv == NULL)
        {
          g_assert_cmpstr (jobs[i].label, ==, "tmk-fleet-7");
          g_assert_error (jobs[i].error, PP_KEYSTORE_ERROR, PP_KEYSTORE_ERROR_EXISTS);
          g_assert_null (jobs[i].tmk);
          g_clear_error (&jobs[i].error);
          continue;
        }
      made += g_str_equal (jobs[i].label, "tmk-fleet-7");
      exported = pp_key_store_export_tmk (store, jobs[i].label, NULL, &error);
      g_assert_no_error (error);
      g_assert_true (pp_secure_buffer_equal (exported, jobs[i].tmk));
      kcv = pp_kcv_compute (PP_KEY_ALGORITHM_AES, exported, 5, &error);
      g_assert_cmpstr (kcv, ==, jobs[i].kcv);
      for (guint j = 0; j < i; j++)
        if (jobs[j].tmk != NULL)
          g_assert_false (pp_secure_buffer_equal (jobs[j].tmk, jobs[i].tmk));
    }
  g_assert_cmpuint (made, ==, 1);
  for (guint i = 0; i < G_N_ELEMENTS (jobs); i++)
    {
      g_free (jobs[i].kcv);
      g_clear_pointer (&jobs[i].tmk, pp_secure_buffer_free);
    }
  g_mutex_clear (&lock);
  g_cond_clear (&cond);
}

static void
test_pkcs11_registry (void)
{
  g_auto(SoftHsm) hsm = { 0 };
  g_autoptr(GError) error = NULL;
  g_autoptr(PpKeyStore) store = NULL;
  g_autoptr(PpSigner) signer = NULL;
  g_autoptr(GBytes) sig = NULL;
  g_autoptr(EVP_PKEY) pub = NULL;
  g_autofree char *registered = NULL;

  if (!softhsm_setup (&hsm))
    return;
  registered = g_build_filename (P11_SYSTEM_MODULES_DIR, "softhsm2.module", NULL);
  if (!g_file_test (registered, G_FILE_TEST_EXISTS))
    {
      g_test_skip ("SoftHSM2 is not registered with p11-kit on this system");
      return;
    }

  store = pp_key_store_pkcs11_new ("pkcs11:token=" TOKEN, USER_PIN, &error);
  g_assert_no_error (error);
  g_assert_true (pp_key_store_generate_kdh_key (store, "kdh", NULL, &error));
  g_assert_no_error (error);
  g_clear_object (&store);

  signer = pp_signer_new_for_uri ("pkcs11:token=" TOKEN ";object=kdh;type=private",
                                  USER_PIN, &error);
  g_assert_no_error (error);
  g_assert_true (pp_signer_sign (signer, message, sizeof message, &sig, &error));
  g_assert_no_error (error);
  pub = pp_signer_dup_public_key (signer, &error);
  g_assert_no_error (error);
  g_assert_true (verify_signature (pub, message, sizeof message, sig));
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/keystore/signer/pem-encrypted", test_signer_pem_encrypted);
  g_test_add_func ("/keystore/signer/pem-errors", test_signer_pem_errors);
  g_test_add_func ("/keystore/signer/pem-clear", test_signer_pem_clear);
  g_test_add_func ("/keystore/signer/async-holds-ref", test_signer_async_holds_ref);
  g_test_add_func ("/keystore/soft/generate-reopen", test_soft_generate_reopen);
  g_test_add_func ("/keystore/soft/errors", test_soft_errors);
  g_test_add_func ("/keystore/soft/atomic-write", test_soft_atomic_write);
  g_test_add_func ("/keystore/soft/certificate-mismatch", test_soft_certificate_mismatch);
  g_test_add_func ("/keystore/soft/tmk", test_soft_tmk);
  g_test_add_func ("/keystore/soft/async", test_soft_async);
  g_test_add_func ("/keystore/soft/tmk-concurrent", test_soft_tmk_concurrent);
  g_test_add_func ("/keystore/soft/format1", test_soft_format1);
  g_test_add_func ("/keystore/soft/store-key", test_soft_store_key);
  g_test_add_func ("/keystore/pkcs11/errors", test_pkcs11_errors);
  g_test_add_func ("/keystore/pkcs11/kdh", test_pkcs11_kdh);
  g_test_add_func ("/keystore/pkcs11/certificate", test_pkcs11_certificate);
  g_test_add_func ("/keystore/pkcs11/tmk", test_pkcs11_tmk);
  g_test_add_func ("/keystore/pkcs11/async", test_pkcs11_async);
  g_test_add_func ("/keystore/pkcs11/threads", test_pkcs11_threads);
  g_test_add_func ("/keystore/pkcs11/concurrent-tmks", test_pkcs11_concurrent_tmks);
  g_test_add_func ("/keystore/pkcs11/registry", test_pkcs11_registry);
  g_test_add_func ("/keystore/pkcs11/secret", test_pkcs11_secret);
  g_test_add_func ("/keystore/pkcs11/secret-threads", test_pkcs11_secret_threads);

  return g_test_run ();
}
