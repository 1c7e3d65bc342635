/* SPDX-License-Identifier: GPL-3.0-or-later
 *
 * pp-keystore-soft.c: the "soft" key store, a directory of PEM files.
 *
 *   <label>.key.pem  KDH RSA private key, PKCS#8 EncryptedPrivateKeyInfo
 *                    (PBES2/PBKDF2, AES-256-CBC) under the passphrase
 *   <label>.crt.pem  KDH certificate
 *   <label>.tmk.pem  TMK, a PKCS#8 PrivateKeyInfo whose algorithm OID is
 *                    the cipher (des-ede3-cbc, aes-128-cbc, aes-256-cbc),
 *                    encrypted the same way as the RSA key
 *   <label>.secret.pem a secret record (the journal key), a PKCS#8
 *                    PrivateKeyInfo with the hmacWithSHA256 OID, encrypted
 *                    the same way
 *
 * Every file is written 0600 through a temporary file and rename(), so a
 * crash or a full disk never leaves a half-written key behind.
 */
#include "config.h"

#include <errno.h>
#include <string.h>

#include <glib/gi18n-lib.h>
#include <glib/gstdio.h>
#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/objects.h>
#include <openssl/pkcs12.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>

#include "pp-hex.h"
#include "pp-keystore-private.h"
#include "pp-openssl-types.h"

#define PP_TYPE_KEY_STORE_SOFT (pp_key_store_soft_get_type ())
G_DECLARE_FINAL_TYPE (PpKeyStoreSoft, pp_key_store_soft, PP, KEY_STORE_SOFT, GObject)

struct _PpKeyStoreSoft
{
  GObject         parent_instance;
  char           *directory;
  PpSecureBuffer *passphrase;   /* NUL-terminated */
  GMutex          lock;         /* serialises check-then-create */
  GHashTable     *creating;     /* TMK paths being made, under @lock */
};

static void pp_key_store_soft_iface_init (PpKeyStoreInterface *iface);

G_DEFINE_FINAL_TYPE_WITH_CODE (PpKeyStoreSoft, pp_key_store_soft, G_TYPE_OBJECT,
                               G_IMPLEMENT_INTERFACE (PP_TYPE_KEY_STORE,
                                                      pp_key_store_soft_iface_init))

static char *
file_path (PpKeyStoreSoft *self,
           const char     *label,
           const char     *suffix)
{
  g_autofree char *name = g_strconcat (label, suffix, NULL);

  return g_build_filename (self->directory, name, NULL);
}

static const char *
passphrase (PpKeyStoreSoft *self)
{
  return (const char *) pp_secure_buffer_peek (self->passphrase);
}

static gsize
passphrase_len (PpKeyStoreSoft *self)
{
  return pp_secure_buffer_get_len (self->passphrase) - 1;
}

static gboolean
write_atomically (const char  *path,
                  const char  *data,
                  gsize        len,
                  GError     **error)
{
  g_autoptr(GError) local_error = NULL;

  /* CONSISTENT = temp file + fsync + rename: readers see the old file or
   * the new one, never a prefix. */
  if (!g_file_set_contents_full (path, data, len,
                                 G_FILE_SET_CONTENTS_CONSISTENT | G_FILE_SET_CONTENTS_DURABLE,
                                 0600, &local_error))
    {
      g_set_error (error, PP_KEYSTORE_ERROR, PP_KEYSTORE_ERROR_IO,
                   _("Cannot write %s: %s"), path, local_error->message);
      return FALSE;
    }
  return TRUE;
}

/* PBKDF2-HMAC-SHA256 rounds for the passphrase. OpenSSL's default (2048)
 * is too cheap for files an attacker may copy and attack offline; this
 * costs tens of milliseconds per key use. */
#define PBKDF2_ITERATIONS 100000

/* Encrypts @p8 under the passphrase (PKCS#8 EncryptedPrivateKeyInfo,
 * PBES2 with AES-256-CBC) and writes it as PEM to @path atomically. */
static gboolean
seal_and_write (PpKeyStoreSoft       *self,
                const char           *path,
                PKCS8_PRIV_KEY_INFO  *p8,
                GError              **error)
{
  g_autoptr(X509_SIG) sealed = NULL;
  g_autoptr(BIO) bio = BIO_new (BIO_s_mem ());
  char *data = NULL;
  long data_len;

  sealed = PKCS8_encrypt_ex (-1, EVP_aes_256_cbc (), passphrase (self),
                             (int) passphrase_len (self), NULL, 0, PBKDF2_ITERATIONS,
                             p8, NULL, NULL);
  if (bio == NULL || sealed == NULL || PEM_write_bio_PKCS8 (bio, sealed) != 1)
    {
      ERR_clear_error ();
      g_set_error_literal (error, PP_KEYSTORE_ERROR, PP_KEYSTORE_ERROR_CRYPTO,
                           _("Cannot encrypt the key"));
      return FALSE;
    }
  data_len = BIO_get_mem_data (bio, &data);
  return write_atomically (path, data, (gsize) data_len, error);
}

static gboolean
refuse_existing (const char  *path,
                 const char  *label,
                 GError     **error)
{
  if (g_file_test (path, G_FILE_TEST_EXISTS))
    {
      g_set_error (error, PP_KEYSTORE_ERROR, PP_KEYSTORE_ERROR_EXISTS,
                   _("The key store already holds a key \"%s\""), label);
      return FALSE;
    }
  return TRUE;
}

static const char *
soft_get_backend_name (PpKeyStore *store)
{
  return "soft";
}

static int
keygen_progress (EVP_PKEY_CTX *ctx)
{
  GCancellable *cancellable = EVP_PKEY_CTX_get_app_data (ctx);

  /* Returning 0 makes OpenSSL abandon the prime search. */
  return !g_cancellable_is_cancelled (cancellable);
}

static gboolean
soft_generate_kdh_key (PpKeyStore    *store,
                       const char    *label,
                       GCancellable  *cancellable,
                       GError       **error)
{
  PpKeyStoreSoft *self = PP_KEY_STORE_SOFT (store);
  g_autofree char *path = file_path (self, label, ".key.pem");
  g_autoptr(EVP_PKEY_CTX) ctx = NULL;
  g_autoptr(EVP_PKEY) pkey = NULL;
  g_autoptr(PKCS8_PRIV_KEY_INFO) p8 = NULL;
  G_GNUC_UNUSED g_autoptr(GMutexLocker) locker = g_mutex_locker_new (&self->lock);

  if (!refuse_existing (path, label, error))
    return FALSE;

  ctx = EVP_PKEY_CTX_new_from_name (NULL, "RSA", NULL);
  if (ctx == NULL ||
      EVP_PKEY_keygen_init (ctx) != 1 ||
      EVP_PKEY_CTX_set_rsa_keygen_bits (ctx, PP_KEYSTORE_KDH_BITS) != 1)
    goto crypto_fail;
  if (cancellable != NULL)
    {
      EVP_PKEY_CTX_set_app_data (ctx, cancellable);
      EVP_PKEY_CTX_set_cb (ctx, keygen_progress);
    }
  if (EVP_PKEY_generate (ctx, &pkey) != 1)
    {
      if (g_cancellable_set_error_if_cancelled (cancellable, error))
        {
          ERR_clear_error ();
          return FALSE;
        }
      goto crypto_fail;
    }

  p8 = EVP_PKEY2PKCS8 (pkey);
  if (p8 == NULL)
    goto crypto_fail;
  return seal_and_write (self, path, p8, error);

crypto_fail:
  ERR_clear_error ();
  g_set_error_literal (error, PP_KEYSTORE_ERROR, PP_KEYSTORE_ERROR_CRYPTO,
                       _("RSA key generation or encryption failed"));
  return FALSE;
}

static PpSigner *
soft_get_signer (PpKeyStore  *store,
                 const char  *label,
                 GError     **error)
{
  PpKeyStoreSoft *self = PP_KEY_STORE_SOFT (store);
  g_autofree char *path = file_path (self, label, ".key.pem");
  EVP_PKEY *pkey;

  if (!g_file_test (path, G_FILE_TEST_EXISTS))
    {
      g_set_error (error, PP_KEYSTORE_ERROR, PP_KEYSTORE_ERROR_NOT_FOUND,
                   _("The key store holds no KDH key \"%s\""), label);
      return NULL;
    }
  pkey = pp_keystore_read_private_key_pem (path, passphrase (self), error);
  if (pkey == NULL)
    return NULL;
  return pp_signer_new_for_pkey (pkey, error);
}

static gboolean
soft_store_certificate (PpKeyStore  *store,
                        const char  *label,
                        X509        *certificate,
                        GError     **error)
{
  PpKeyStoreSoft *self = PP_KEY_STORE_SOFT (store);
  g_autofree char *path = file_path (self, label, ".crt.pem");
  g_autoptr(BIO) bio = BIO_new (BIO_s_mem ());
  char *data = NULL;
  long len;

  if (bio == NULL || PEM_write_bio_X509 (bio, certificate) != 1)
    {
      ERR_clear_error ();
      g_set_error_literal (error, PP_KEYSTORE_ERROR, PP_KEYSTORE_ERROR_CRYPTO,
                           _("Cannot encode the certificate"));
      return FALSE;
    }
  len = BIO_get_mem_data (bio, &data);
  return write_atomically (path, data, (gsize) len, error);
}

static X509 *
soft_load_certificate (PpKeyStore  *store,
                       const char  *label,
                       GError     **error)
{
  PpKeyStoreSoft *self = PP_KEY_STORE_SOFT (store);
  g_autofree char *path = file_path (self, label, ".crt.pem");
  g_autoptr(BIO) bio = NULL;
  X509 *cert;

  if (!g_file_test (path, G_FILE_TEST_EXISTS))
    {
      g_set_error (error, PP_KEYSTORE_ERROR, PP_KEYSTORE_ERROR_NOT_FOUND,
                   _("The key store holds no certificate \"%s\""), label);
      return NULL;
    }
  bio = BIO_new_file (path, "rb");
  cert = bio != NULL ? PEM_read_bio_X509 (bio, NULL, NULL, NULL) : NULL;
  if (cert == NULL)
    {
      ERR_clear_error ();
      g_set_error (error, PP_KEYSTORE_ERROR, PP_KEYSTORE_ERROR_INVALID_KEY,
                   _("%s does not hold a PEM certificate"), path);
    }
  return cert;
}

static int
tmk_type_nid (PpTmkType type)
{
  switch (type)
    {
    case PP_TMK_TDES_2KEY:
    case PP_TMK_TDES_3KEY: return NID_des_ede3_cbc;
    case PP_TMK_AES_128:   return NID_aes_128_cbc;
    case PP_TMK_AES_256:   return NID_aes_256_cbc;
    default:               return NID_undef;
    }
}

static void
set_odd_parity (guint8 *key,
                gsize   len)
{
  for (gsize i = 0; i < len; i++)
    {
      guint8 b = key[i] & 0xfe;
      guint8 ones = 0;

      for (guint8 v = b; v != 0; v >>= 1)
        ones += v & 1;
      key[i] = b | ((ones & 1) == 0 ? 1 : 0);
    }
}

static PpSecureBuffer *
random_tmk (PpTmkType   type,
            GError    **error)
{
  gsize len = pp_tmk_type_get_key_length (type);
  g_autoptr(PpSecureBuffer) key = pp_secure_buffer_new (len);
  guint8 *k = pp_secure_buffer_get_data (key);

  for (;;)
    {
      if (RAND_priv_bytes (k, (int) len) != 1)
        {
          ERR_clear_error ();
          g_set_error_literal (error, PP_KEYSTORE_ERROR, PP_KEYSTORE_ERROR_CRYPTO,
                               _("The random generator failed"));
          return NULL;
        }
      if (pp_tmk_type_get_algorithm (type) == PP_KEY_ALGORITHM_AES)
        break;
      /* Terminals expect odd-parity DES keys; equal halves would make a
       * TDES key single DES. */
      set_odd_parity (k, len);
      if (CRYPTO_memcmp (k, k + 8, 8) != 0 &&
          (len == 16 || CRYPTO_memcmp (k + 8, k + 16, 8) != 0))
        break;
    }
  return g_steal_pointer (&key);
}

static gboolean
write_tmk (PpKeyStoreSoft        *self,
           const char            *path,
           PpTmkType              type,
           const PpSecureBuffer  *key,
           GError               **error)
{
  g_autoptr(PKCS8_PRIV_KEY_INFO) p8 = PKCS8_PRIV_KEY_INFO_new ();
  gsize len = pp_secure_buffer_get_len (key);
  unsigned char *copy;

  /* PKCS8_pkey_set0 takes this buffer; the PKCS#8 structure cleanses it
   * when freed. */
  copy = OPENSSL_malloc (len);
  if (p8 == NULL || copy == NULL)
    {
      OPENSSL_free (copy);
      goto fail;
    }
  memcpy (copy, pp_secure_buffer_peek (key), len);
  if (PKCS8_pkey_set0 (p8, OBJ_nid2obj (tmk_type_nid (type)), 0, V_ASN1_UNDEF, NULL,
                       copy, (int) len) != 1)
    {
      OPENSSL_clear_free (copy, len);
      goto fail;
    }
  return seal_and_write (self, path, p8, error);

fail:
  ERR_clear_error ();
  g_set_error_literal (error, PP_KEYSTORE_ERROR, PP_KEYSTORE_ERROR_CRYPTO,
                       _("Cannot encode the TMK"));
  return FALSE;
}

static PpSecureBuffer *
read_tmk (PpKeyStoreSoft  *self,
          const char      *label,
          PpTmkType       *out_type,
          GError         **error)
{
  g_autofree char *path = file_path (self, label, ".tmk.pem");
  g_autoptr(BIO) bio = NULL;
  g_autoptr(X509_SIG) sealed = NULL;
  g_autoptr(PKCS8_PRIV_KEY_INFO) p8 = NULL;
  const ASN1_OBJECT *obj = NULL;
  const unsigned char *k = NULL;
  int len = 0;
  PpTmkType type;

  if (!g_file_test (path, G_FILE_TEST_EXISTS))
    {
      g_set_error (error, PP_KEYSTORE_ERROR, PP_KEYSTORE_ERROR_NOT_FOUND,
                   _("The key store holds no TMK \"%s\""), label);
      return NULL;
    }
  bio = BIO_new_file (path, "rb");
  sealed = bio != NULL ? PEM_read_bio_PKCS8 (bio, NULL, NULL, NULL) : NULL;
  if (sealed == NULL)
    {
      ERR_clear_error ();
      g_set_error (error, PP_KEYSTORE_ERROR, PP_KEYSTORE_ERROR_INVALID_KEY,
                   _("%s does not hold an encrypted TMK"), path);
      return NULL;
    }
  p8 = PKCS8_decrypt_ex (sealed, passphrase (self), (int) passphrase_len (self), NULL, NULL);
  if (p8 == NULL)
    {
      ERR_clear_error ();
      g_set_error (error, PP_KEYSTORE_ERROR, PP_KEYSTORE_ERROR_BAD_PASSPHRASE,
                   _("Wrong passphrase for the TMK \"%s\""), label);
      return NULL;
    }
  if (PKCS8_pkey_get0 (&obj, &k, &len, NULL, p8) != 1)
    goto invalid;

  switch (OBJ_obj2nid (obj))
    {
    case NID_des_ede3_cbc:
      if (len != 16 && len != 24)
        goto invalid;
      type = len == 16 ? PP_TMK_TDES_2KEY : PP_TMK_TDES_3KEY;
      break;
    case NID_aes_128_cbc:
      type = PP_TMK_AES_128;
      break;
    case NID_aes_256_cbc:
      type = PP_TMK_AES_256;
      break;
    default:
      goto invalid;
    }
  if ((gsize) len != pp_tmk_type_get_key_length (type))
    goto invalid;

  if (out_type != NULL)
    *out_type = type;
  return pp_secure_buffer_new_from (k, len);

invalid:
  g_set_error (error, PP_KEYSTORE_ERROR, PP_KEYSTORE_ERROR_INVALID_KEY,
               _("%s does not hold a TDES or AES TMK"), path);
  return NULL;
}

/* The TMK's check value, computed on the host (the key is here anyway). */
static char *
tmk_kcv (PpTmkType              type,
         const PpSecureBuffer  *key,
         GError               **error)
{
  g_autoptr(GError) kcv_error = NULL;
  PpKeyAlgorithm alg = pp_tmk_type_get_algorithm (type);
  char *kcv;

  kcv = pp_kcv_compute (alg, key, pp_kcv_default_length (alg), &kcv_error);
  if (kcv == NULL)
    g_set_error (error, PP_KEYSTORE_ERROR, PP_KEYSTORE_ERROR_CRYPTO,
                 _("Cannot compute the TMK check value: %s"), kcv_error->message);
  return kcv;
}

/* Claims @path for a TMK being made: FALSE (EXISTS) when the file or
 * another claim is there. The claim, not the lock, keeps two makers of one
 * label apart, so TMKs of different terminals are sealed (PBKDF2, tens of
 * milliseconds) and written at the same time instead of one after another. */
static gboolean
claim_path (PpKeyStoreSoft  *self,
            const char      *path,
            const char      *label,
            GError         **error)
{
  G_GNUC_UNUSED g_autoptr(GMutexLocker) locker = g_mutex_locker_new (&self->lock);

  if (g_hash_table_contains (self->creating, path))
    {
      g_set_error (error, PP_KEYSTORE_ERROR, PP_KEYSTORE_ERROR_EXISTS,
                   _("The key store already holds a key \"%s\""), label);
      return FALSE;
    }
  if (!refuse_existing (path, label, error))
    return FALSE;
  g_hash_table_add (self->creating, g_strdup (path));
  return TRUE;
}

static void
release_path (PpKeyStoreSoft *self,
              const char     *path)
{
  G_GNUC_UNUSED g_autoptr(GMutexLocker) locker = g_mutex_locker_new (&self->lock);

  g_hash_table_remove (self->creating, path);
}

static char *
soft_generate_tmk (PpKeyStore    *store,
                   const char    *label,
                   PpTmkType      type,
                   GCancellable  *cancellable,
                   GError       **error)
{
  PpKeyStoreSoft *self = PP_KEY_STORE_SOFT (store);
  g_autofree char *path = file_path (self, label, ".tmk.pem");
  g_autoptr(PpSecureBuffer) key = NULL;
  char *kcv = NULL;

  if (!claim_path (self, path, label, error))
    return NULL;
  if ((key = random_tmk (type, error)) != NULL &&
      (kcv = tmk_kcv (type, key, error)) != NULL &&
      !write_tmk (self, path, type, key, error))
    g_clear_pointer (&kcv, g_free);
  release_path (self, path);
  return kcv;
}

static PpSecureBuffer *
soft_export_tmk (PpKeyStore  *store,
                 const char  *label,
                 PpTmkType   *out_type,
                 GError     **error)
{
  return read_tmk (PP_KEY_STORE_SOFT (store), label, out_type, error);
}

static char *
soft_get_tmk_kcv (PpKeyStore  *store,
                  const char  *label,
                  PpTmkType   *out_type,
                  GError     **error)
{
  g_autoptr(PpSecureBuffer) key = NULL;
  PpTmkType type;
  char *kcv;

  key = read_tmk (PP_KEY_STORE_SOFT (store), label, &type, error);
  if (key == NULL)
    return NULL;
  kcv = tmk_kcv (type, key, error);
  if (kcv == NULL)
    return NULL;
  if (out_type != NULL)
    *out_type = type;
  return kcv;
}

static gboolean
soft_store_secret (PpKeyStore           *store,
                   const char           *label,
                   const PpSecureBuffer *record,
                   GError              **error)
{
  PpKeyStoreSoft *self = PP_KEY_STORE_SOFT (store);
  g_autofree char *path = file_path (self, label, PP_KEYSTORE_SOFT_SECRET_SUFFIX);
  g_autoptr(PKCS8_PRIV_KEY_INFO) p8 = PKCS8_PRIV_KEY_INFO_new ();
  gsize len = pp_secure_buffer_get_len (record);
  unsigned char *copy = OPENSSL_malloc (len);

  if (p8 == NULL || copy == NULL)
    {
      OPENSSL_free (copy);
      goto fail;
    }
  memcpy (copy, pp_secure_buffer_peek (record), len);
  if (PKCS8_pkey_set0 (p8, OBJ_nid2obj (NID_hmacWithSHA256), 0, V_ASN1_UNDEF, NULL,
                       copy, (int) len) != 1)
    {
      OPENSSL_clear_free (copy, len);
      goto fail;
    }
  /* rename() over the old file: the previous record is gone at once. */
  return seal_and_write (self, path, p8, error);

fail:
  ERR_clear_error ();
  g_set_error_literal (error, PP_KEYSTORE_ERROR, PP_KEYSTORE_ERROR_CRYPTO,
                       _("Cannot encode the journal key"));
  return FALSE;
}

static PpSecureBuffer *
soft_load_secret (PpKeyStore  *store,
                  const char  *label,
                  GError     **error)
{
  PpKeyStoreSoft *self = PP_KEY_STORE_SOFT (store);
  g_autofree char *path = file_path (self, label, PP_KEYSTORE_SOFT_SECRET_SUFFIX);
  g_autoptr(BIO) bio = NULL;
  g_autoptr(X509_SIG) sealed = NULL;
  g_autoptr(PKCS8_PRIV_KEY_INFO) p8 = NULL;
  const ASN1_OBJECT *obj = NULL;
  const unsigned char *k = NULL;
  int len = 0;

  if (!g_file_test (path, G_FILE_TEST_EXISTS))
    {
      g_set_error (error, PP_KEYSTORE_ERROR, PP_KEYSTORE_ERROR_NOT_FOUND,
                   _("The key store %s holds no \"%s\""), self->directory, label);
      return NULL;
    }
  bio = BIO_new_file (path, "rb");
  sealed = bio != NULL ? PEM_read_bio_PKCS8 (bio, NULL, NULL, NULL) : NULL;
  if (sealed == NULL)
    {
      ERR_clear_error ();
      g_set_error (error, PP_KEYSTORE_ERROR, PP_KEYSTORE_ERROR_INVALID_KEY,
                   _("%s does not hold an encrypted key"), path);
      return NULL;
    }
  p8 = PKCS8_decrypt_ex (sealed, passphrase (self), (int) passphrase_len (self), NULL, NULL);
  if (p8 == NULL)
    {
      ERR_clear_error ();
      g_set_error (error, PP_KEYSTORE_ERROR, PP_KEYSTORE_ERROR_BAD_PASSPHRASE,
                   _("Wrong passphrase for \"%s\" in the key store %s"), label, self->directory);
      return NULL;
    }
  if (PKCS8_pkey_get0 (&obj, &k, &len, NULL, p8) != 1 || OBJ_obj2nid (obj) != NID_hmacWithSHA256 ||
      len <= 0)
    {
      g_set_error (error, PP_KEYSTORE_ERROR, PP_KEYSTORE_ERROR_INVALID_KEY,
                   _("%s does not hold a journal key"), path);
      return NULL;
    }
  return pp_secure_buffer_new_from (k, len);
}

static void
pp_key_store_soft_iface_init (PpKeyStoreInterface *iface)
{
  iface->store_secret = soft_store_secret;
  iface->load_secret = soft_load_secret;
  iface->get_backend_name = soft_get_backend_name;
  iface->generate_kdh_key = soft_generate_kdh_key;
  iface->get_signer = soft_get_signer;
  iface->store_certificate = soft_store_certificate;
  iface->load_certificate = soft_load_certificate;
  iface->generate_tmk = soft_generate_tmk;
  iface->get_tmk_kcv = soft_get_tmk_kcv;
  iface->export_tmk = soft_export_tmk;
}

static void
pp_key_store_soft_finalize (GObject *object)
{
  PpKeyStoreSoft *self = PP_KEY_STORE_SOFT (object);

  g_clear_pointer (&self->directory, g_free);
  g_clear_pointer (&self->passphrase, pp_secure_buffer_free);
  g_clear_pointer (&self->creating, g_hash_table_unref);
  g_mutex_clear (&self->lock);

  G_OBJECT_CLASS (pp_key_store_soft_parent_class)->finalize (object);
}

static void
pp_key_store_soft_class_init (PpKeyStoreSoftClass *klass)
{
  G_OBJECT_CLASS (klass)->finalize = pp_key_store_soft_finalize;
}

static void
pp_key_store_soft_init (PpKeyStoreSoft *self)
{
  g_mutex_init (&self->lock);
  self->creating = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
}

/* Below this the PBKDF2 passphrase is too easy to guess offline. */
#define MIN_PASSPHRASE_LEN 8

PpKeyStore *
pp_key_store_soft_new (const char  *directory,
                       const char  *pass,
                       GError     **error)
{
  PpKeyStoreSoft *self;
  gsize len;

  g_return_val_if_fail (directory != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  if (pass == NULL || (len = strlen (pass)) == 0)
    {
      g_set_error_literal (error, PP_KEYSTORE_ERROR, PP_KEYSTORE_ERROR_PASSPHRASE_REQUIRED,
                           _("The soft key store needs a passphrase"));
      return NULL;
    }
  if (len < MIN_PASSPHRASE_LEN)
    {
      g_set_error (error, PP_KEYSTORE_ERROR, PP_KEYSTORE_ERROR_WEAK_PASSPHRASE,
                   _("The key store passphrase must have at least %d characters"),
                   MIN_PASSPHRASE_LEN);
      return NULL;
    }
  if (g_mkdir_with_parents (directory, 0700) != 0)
    {
      int saved = errno;
      g_set_error (error, PP_KEYSTORE_ERROR, PP_KEYSTORE_ERROR_IO,
                   _("Cannot create the key store directory %s: %s"),
                   directory, g_strerror (saved));
      return NULL;
    }

  self = g_object_new (PP_TYPE_KEY_STORE_SOFT, NULL);
  self->directory = g_strdup (directory);
  self->passphrase = pp_secure_buffer_new_from ((const guint8 *) pass, len + 1);
  return PP_KEY_STORE (self);
}
