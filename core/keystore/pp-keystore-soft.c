/* SPDX-License-Identifier: GPL-3.0-or-later
 *
 * pp-keystore-soft.c: the "soft" key store, a directory of PEM files.
 *
 *   <label>.key.pem  KDH RSA private key, PKCS#8 EncryptedPrivateKeyInfo
 *                    (PBES2/PBKDF2, AES-256-CBC) under the passphrase
 *   <label>.crt.pem  KDH certificate
 *   <label>.tmk.pem  TMK, a PKCS#8 PrivateKeyInfo whose algorithm OID is
 *                    the cipher (des-ede3-cbc, aes-128-cbc, aes-256-cbc),
 *                    sealed (format 2, below)
 *   <label>.secret.pem a secret record (the journal key), a PKCS#8
 *                    PrivateKeyInfo with the hmacWithSHA256 OID, sealed
 *   keystore.kdf     the store's PBKDF2 salt, work factor and a check value
 *
 * Format 2 ("POSPROV SEALED KEY"): the passphrase goes through PBKDF2 once,
 * when the store is opened (keystore.kdf's salt and rounds; the check value
 * refuses a wrong passphrase there), and each file is AES-256-GCM under its
 * own key, HKDF-SHA-256 of that store key with the file's random salt.
 * Format 1 files (PKCS#8 EncryptedPrivateKeyInfo, PBES2 with PBKDF2 of the
 * passphrase in each file) written before stay readable; new ones are
 * format 2. docs/keystore.md explains why this keeps the same work factor
 * per passphrase guess.
 *
 * Every file is written 0600 through a temporary file and rename(), so a
 * crash or a full disk never leaves a half-written key behind.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include <glib/gi18n-lib.h>
#include <glib/gstdio.h>
#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/kdf.h>
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

G_DEFINE_AUTOPTR_CLEANUP_FUNC (EVP_KDF, EVP_KDF_free)
G_DEFINE_AUTOPTR_CLEANUP_FUNC (EVP_KDF_CTX, EVP_KDF_CTX_free)

struct _PpKeyStoreSoft
{
  GObject         parent_instance;
  char           *directory;
  PpSecureBuffer *passphrase;   /* NUL-terminated; for format 1 files and the KDH key */
  PpSecureBuffer *master;       /* PBKDF2 of the passphrase, keystore.kdf's salt */
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

/* ---- format 2: one PBKDF2 per opened store ----------------------------------- */

#define KDF_FILE          "keystore.kdf"
#define KDF_MAGIC         "posprov-keystore 2"
#define STORE_SALT_LEN    32
#define MASTER_LEN        32
#define MAX_ITERATIONS    10000000

#define SEALED_PEM_NAME   "POSPROV SEALED KEY"
#define SEALED_MAGIC      "PPSK"
#define SEALED_VERSION    2
#define FILE_SALT_LEN     16
#define GCM_IV_LEN        12
#define GCM_TAG_LEN       16
/* magic, version, kind, salt: the part of a sealed file that is its AAD */
#define SEALED_HEAD_LEN   (4 + 1 + 1 + FILE_SALT_LEN)

typedef enum {
  SEALED_TMK = 1,
  SEALED_SECRET = 2,
} SealedKind;

static gboolean
crypto_error (GError    **error,
              const char *message)
{
  ERR_clear_error ();
  g_set_error_literal (error, PP_KEYSTORE_ERROR, PP_KEYSTORE_ERROR_CRYPTO, message);
  return FALSE;
}

static PpSecureBuffer *
derive_master (const char   *pass,
               gsize         pass_len,
               const guint8 *salt,
               guint         iterations,
               GError      **error)
{
  g_autoptr(PpSecureBuffer) master = pp_secure_buffer_new (MASTER_LEN);

  if (PKCS5_PBKDF2_HMAC (pass, (int) pass_len, salt, STORE_SALT_LEN, (int) iterations, EVP_sha256 (),
                         MASTER_LEN, pp_secure_buffer_get_data (master)) != 1)
    {
      crypto_error (error, _("Cannot derive the key store key from the passphrase"));
      return NULL;
    }
  return g_steal_pointer (&master);
}

/* HMAC-SHA-256 (store key, "posprov keystore check"): tells a wrong
 * passphrase at open; one-way, so it gives nothing of the key. */
static gboolean
master_check (const PpSecureBuffer *master,
              guint8                out[32])
{
  static const char label[] = "posprov keystore check";
  size_t out_len = 0;

  return EVP_Q_mac (NULL, "HMAC", NULL, "SHA256", NULL, pp_secure_buffer_peek (master), MASTER_LEN,
                    (const guint8 *) label, sizeof label - 1, out, 32, &out_len) != NULL && out_len == 32;
}

/* The key of one file: HKDF-SHA-256 (store key, the file's salt, a label
 * naming the kind), so no two files share a GCM key. */
static PpSecureBuffer *
file_key (PpKeyStoreSoft *self,
          SealedKind      kind,
          const guint8   *salt,
          GError        **error)
{
  g_autoptr(EVP_KDF) kdf = EVP_KDF_fetch (NULL, "HKDF", NULL);
  g_autoptr(EVP_KDF_CTX) ctx = kdf != NULL ? EVP_KDF_CTX_new (kdf) : NULL;
  g_autoptr(PpSecureBuffer) key = pp_secure_buffer_new (32);
  char info[] = "posprov keystore file key ?";
  OSSL_PARAM params[5];

  info[sizeof info - 2] = kind == SEALED_TMK ? 't' : 's';
  params[0] = OSSL_PARAM_construct_utf8_string (OSSL_KDF_PARAM_DIGEST, (char *) "SHA256", 0);
  params[1] = OSSL_PARAM_construct_octet_string (OSSL_KDF_PARAM_KEY,
                                                 (void *) pp_secure_buffer_peek (self->master), MASTER_LEN);
  params[2] = OSSL_PARAM_construct_octet_string (OSSL_KDF_PARAM_SALT, (void *) salt, FILE_SALT_LEN);
  params[3] = OSSL_PARAM_construct_octet_string (OSSL_KDF_PARAM_INFO, info, sizeof info - 1);
  params[4] = OSSL_PARAM_construct_end ();
  if (ctx == NULL || EVP_KDF_derive (ctx, pp_secure_buffer_get_data (key), 32, params) != 1)
    {
      crypto_error (error, _("Cannot derive the key of a key store file"));
      return NULL;
    }
  return g_steal_pointer (&key);
}

/* Seals @p8 in format 2 and writes it as PEM to @path atomically. */
static gboolean
seal_v2_and_write (PpKeyStoreSoft       *self,
                   const char           *path,
                   SealedKind            kind,
                   PKCS8_PRIV_KEY_INFO  *p8,
                   GError              **error)
{
  g_autoptr(PpSecureBuffer) plain = NULL;
  g_autoptr(PpSecureBuffer) key = NULL;
  g_autoptr(EVP_CIPHER_CTX) ctx = EVP_CIPHER_CTX_new ();
  g_autoptr(BIO) bio = BIO_new (BIO_s_mem ());
  g_autofree guint8 *blob = NULL;
  guint8 *head, *iv, *ct;
  unsigned char *p;
  gsize blob_len;
  int der_len, n = 0, fin = 0;
  char *data = NULL;
  long data_len;

  if ((der_len = i2d_PKCS8_PRIV_KEY_INFO (p8, NULL)) <= 0)
    return crypto_error (error, _("Cannot encrypt the key"));
  plain = pp_secure_buffer_new ((gsize) der_len);
  p = pp_secure_buffer_get_data (plain);
  if (i2d_PKCS8_PRIV_KEY_INFO (p8, &p) != der_len)
    return crypto_error (error, _("Cannot encrypt the key"));

  blob_len = SEALED_HEAD_LEN + GCM_IV_LEN + (gsize) der_len + GCM_TAG_LEN;
  blob = g_malloc (blob_len);
  head = blob;
  iv = head + SEALED_HEAD_LEN;
  ct = iv + GCM_IV_LEN;
  memcpy (head, SEALED_MAGIC, 4);
  head[4] = SEALED_VERSION;
  head[5] = kind;
  if (RAND_bytes (head + 6, FILE_SALT_LEN) != 1 || RAND_bytes (iv, GCM_IV_LEN) != 1)
    return crypto_error (error, _("The random generator failed"));
  if ((key = file_key (self, kind, head + 6, error)) == NULL)
    return FALSE;
  if (ctx == NULL || bio == NULL ||
      EVP_EncryptInit_ex2 (ctx, EVP_aes_256_gcm (), pp_secure_buffer_peek (key), iv, NULL) != 1 ||
      EVP_EncryptUpdate (ctx, NULL, &n, head, SEALED_HEAD_LEN) != 1 ||
      EVP_EncryptUpdate (ctx, ct, &n, pp_secure_buffer_peek (plain), der_len) != 1 ||
      EVP_EncryptFinal_ex (ctx, ct + n, &fin) != 1 ||
      EVP_CIPHER_CTX_ctrl (ctx, EVP_CTRL_GCM_GET_TAG, GCM_TAG_LEN, ct + der_len) != 1 ||
      PEM_write_bio (bio, SEALED_PEM_NAME, "", blob, (long) blob_len) <= 0)
    return crypto_error (error, _("Cannot encrypt the key"));
  data_len = BIO_get_mem_data (bio, &data);
  return write_atomically (path, data, (gsize) data_len, error);
}

/* Opens a format 2 file's bytes: NULL with INVALID_KEY when it is not one
 * of @kind, altered, or sealed by another store. */
static PKCS8_PRIV_KEY_INFO *
open_v2 (PpKeyStoreSoft  *self,
         const char      *path,
         SealedKind       kind,
         const guint8    *blob,
         gsize            blob_len,
         GError         **error)
{
  g_autoptr(PpSecureBuffer) key = NULL;
  g_autoptr(PpSecureBuffer) plain = NULL;
  g_autoptr(EVP_CIPHER_CTX) ctx = EVP_CIPHER_CTX_new ();
  const guint8 *iv = blob + SEALED_HEAD_LEN, *ct = iv + GCM_IV_LEN;
  const unsigned char *p;
  gsize ct_len;
  int n = 0, fin = 0;
  PKCS8_PRIV_KEY_INFO *p8;

  if (blob_len < SEALED_HEAD_LEN + GCM_IV_LEN + 1 + GCM_TAG_LEN || memcmp (blob, SEALED_MAGIC, 4) != 0)
    {
      g_set_error (error, PP_KEYSTORE_ERROR, PP_KEYSTORE_ERROR_INVALID_KEY,
                   _("%s does not hold an encrypted key"), path);
      return NULL;
    }
  if (blob[4] != SEALED_VERSION)
    {
      g_set_error (error, PP_KEYSTORE_ERROR, PP_KEYSTORE_ERROR_INVALID_KEY,
                   _("%s is in key store format %u, which this posprov cannot read"), path, blob[4]);
      return NULL;
    }
  ct_len = blob_len - SEALED_HEAD_LEN - GCM_IV_LEN - GCM_TAG_LEN;
  if ((key = file_key (self, kind, blob + 6, error)) == NULL)
    return NULL;
  plain = pp_secure_buffer_new (ct_len);
  if (blob[5] != kind || ctx == NULL ||
      EVP_DecryptInit_ex2 (ctx, EVP_aes_256_gcm (), pp_secure_buffer_peek (key), iv, NULL) != 1 ||
      EVP_DecryptUpdate (ctx, NULL, &n, blob, SEALED_HEAD_LEN) != 1 ||
      EVP_DecryptUpdate (ctx, pp_secure_buffer_get_data (plain), &n, ct, (int) ct_len) != 1 ||
      EVP_CIPHER_CTX_ctrl (ctx, EVP_CTRL_GCM_SET_TAG, GCM_TAG_LEN, (void *) (ct + ct_len)) != 1 ||
      EVP_DecryptFinal_ex (ctx, pp_secure_buffer_get_data (plain) + n, &fin) != 1)
    {
      ERR_clear_error ();
      g_set_error (error, PP_KEYSTORE_ERROR, PP_KEYSTORE_ERROR_INVALID_KEY,
                   _("%s is damaged or was not sealed by this key store"), path);
      return NULL;
    }
  p = pp_secure_buffer_peek (plain);
  p8 = d2i_PKCS8_PRIV_KEY_INFO (NULL, &p, (long) ct_len);
  if (p8 == NULL)
    {
      ERR_clear_error ();
      g_set_error (error, PP_KEYSTORE_ERROR, PP_KEYSTORE_ERROR_INVALID_KEY,
                   _("%s is damaged or was not sealed by this key store"), path);
    }
  return p8;
}

/* The PKCS#8 structure in a sealed file of either format; @what names it in
 * errors (a TMK label, or NULL for a secret record). */
static PKCS8_PRIV_KEY_INFO *
read_sealed (PpKeyStoreSoft  *self,
             const char      *path,
             SealedKind       kind,
             const char      *label,
             GError         **error)
{
  g_autoptr(BIO) bio = BIO_new_file (path, "rb");
  char *name = NULL, *header = NULL;
  unsigned char *data = NULL;
  long len = 0;
  PKCS8_PRIV_KEY_INFO *p8 = NULL;

  if (bio == NULL || PEM_read_bio (bio, &name, &header, &data, &len) != 1)
    goto not_sealed;
  if (strcmp (name, SEALED_PEM_NAME) == 0)
    p8 = open_v2 (self, path, kind, data, (gsize) len, error);
  else if (strcmp (name, PEM_STRING_PKCS8) == 0)
    {
      /* Format 1: PBKDF2 of the passphrase with this file's own salt. */
      const unsigned char *p = data;
      g_autoptr(X509_SIG) sealed = d2i_X509_SIG (NULL, &p, len);

      if (sealed == NULL)
        goto not_sealed;
      p8 = PKCS8_decrypt_ex (sealed, passphrase (self), (int) passphrase_len (self), NULL, NULL);
      if (p8 == NULL)
        {
          ERR_clear_error ();
          if (kind == SEALED_TMK)
            g_set_error (error, PP_KEYSTORE_ERROR, PP_KEYSTORE_ERROR_BAD_PASSPHRASE,
                         _("Wrong passphrase for the TMK \"%s\""), label);
          else
            g_set_error (error, PP_KEYSTORE_ERROR, PP_KEYSTORE_ERROR_BAD_PASSPHRASE,
                         _("Wrong passphrase for \"%s\" in the key store %s"), label, self->directory);
        }
    }
  else
    goto not_sealed;
  OPENSSL_free (name);
  OPENSSL_free (header);
  OPENSSL_clear_free (data, (size_t) len);
  return p8;

not_sealed:
  ERR_clear_error ();
  OPENSSL_free (name);
  OPENSSL_free (header);
  OPENSSL_clear_free (data, (size_t) MAX (len, 0));
  if (kind == SEALED_TMK)
    g_set_error (error, PP_KEYSTORE_ERROR, PP_KEYSTORE_ERROR_INVALID_KEY,
                 _("%s does not hold an encrypted TMK"), path);
  else
    g_set_error (error, PP_KEYSTORE_ERROR, PP_KEYSTORE_ERROR_INVALID_KEY,
                 _("%s does not hold an encrypted key"), path);
  return NULL;
}

/* ---- keystore.kdf: the store key, made once per opened store ------------------ */

static gboolean
kdf_damaged (const char  *path,
             GError     **error)
{
  g_set_error (error, PP_KEYSTORE_ERROR, PP_KEYSTORE_ERROR_INVALID_KEY,
               _("%s is damaged: restore it from a copy of the key store"), path);
  return FALSE;
}

/* The hex value of "NAME: HEX" in @lines, exactly @len bytes. */
static gboolean
kdf_hex_field (char       **lines,
               const char  *name,
               guint8      *out,
               gsize        len)
{
  gsize name_len = strlen (name);

  for (guint i = 0; lines[i] != NULL; i++)
    if (strncmp (lines[i], name, name_len) == 0 && strncmp (lines[i] + name_len, ": ", 2) == 0)
      {
        const char *hex = lines[i] + name_len + 2;
        gsize n = 0;

        if (!pp_hex_validate (hex, &n, NULL) || n != len)
          return FALSE;
        pp_hex_decode_into (hex, out, len);
        return TRUE;
      }
  return FALSE;
}

/* Reads keystore.kdf, derives the store key from the passphrase and checks
 * it: BAD_PASSPHRASE here, at open. */
static gboolean
load_kdf (PpKeyStoreSoft  *self,
          const char      *path,
          GError         **error)
{
  g_autofree char *text = NULL;
  g_auto(GStrv) lines = NULL;
  g_autoptr(PpSecureBuffer) master = NULL;
  g_autoptr(GError) local = NULL;
  guint8 salt[STORE_SALT_LEN], check[32], mine[32];
  guint64 iterations = 0;
  gboolean rounds_found = FALSE;
  gsize len = 0;

  if (!g_file_get_contents (path, &text, &len, &local))
    {
      g_set_error (error, PP_KEYSTORE_ERROR, PP_KEYSTORE_ERROR_IO,
                   _("Cannot read %s: %s"), path, local->message);
      return FALSE;
    }
  lines = g_strsplit (text, "\n", -1);
  if (len > 4096 || g_strcmp0 (lines[0], KDF_MAGIC) != 0)
    return kdf_damaged (path, error);
  for (guint i = 1; lines[i] != NULL; i++)
    if (g_str_has_prefix (lines[i], "iterations: "))
      rounds_found = g_ascii_string_to_unsigned (lines[i] + 12, 10, PBKDF2_ITERATIONS, MAX_ITERATIONS,
                                                 &iterations, NULL);
  if (!rounds_found || !kdf_hex_field (lines, "kdf-salt", salt, sizeof salt) ||
      !kdf_hex_field (lines, "check", check, sizeof check) ||
      g_strv_contains ((const char * const *) lines, "kdf: pbkdf2-hmac-sha256") == FALSE)
    return kdf_damaged (path, error);
  if ((master = derive_master (passphrase (self), passphrase_len (self), salt, (guint) iterations,
                               error)) == NULL)
    return FALSE;
  if (!master_check (master, mine))
    return crypto_error (error, _("Cannot derive the key store key from the passphrase"));
  if (CRYPTO_memcmp (mine, check, sizeof mine) != 0)
    {
      g_set_error (error, PP_KEYSTORE_ERROR, PP_KEYSTORE_ERROR_BAD_PASSPHRASE,
                   _("Wrong passphrase for the key store %s"), self->directory);
      return FALSE;
    }
  self->master = g_steal_pointer (&master);
  return TRUE;
}

/* A store without keystore.kdf made before format 2: the passphrase is
 * checked against its first sealed file, so a wrong one is refused at open
 * here too (and never becomes the store key). A format 2 file without
 * keystore.kdf means the file was lost: refused, nothing is made. */
static gboolean
check_legacy_files (PpKeyStoreSoft  *self,
                    GError         **error)
{
  g_autoptr(GDir) dir = g_dir_open (self->directory, 0, NULL);
  const char *name;

  while (dir != NULL && (name = g_dir_read_name (dir)) != NULL)
    {
      g_autofree char *path = g_build_filename (self->directory, name, NULL);
      g_autofree char *label = NULL;
      g_autoptr(PKCS8_PRIV_KEY_INFO) p8 = NULL;
      g_autoptr(EVP_PKEY) pkey = NULL;
      g_autofree char *head = NULL;
      SealedKind kind;

      if (g_str_has_suffix (name, ".key.pem"))
        {
          if ((pkey = pp_keystore_read_private_key_pem (path, passphrase (self), error)) == NULL)
            return FALSE;
          return TRUE;
        }
      if (g_str_has_suffix (name, ".tmk.pem"))
        kind = SEALED_TMK;
      else if (g_str_has_suffix (name, PP_KEYSTORE_SOFT_SECRET_SUFFIX))
        kind = SEALED_SECRET;
      else
        continue;
      if (!g_file_get_contents (path, &head, NULL, NULL))
        continue;
      if (g_str_has_prefix (head, "-----BEGIN " SEALED_PEM_NAME "-----"))
        {
          g_set_error (error, PP_KEYSTORE_ERROR, PP_KEYSTORE_ERROR_INVALID_KEY,
                       _("The key store %s lost its %s: its keys cannot be opened without it; restore it from a copy of the key store"),
                       self->directory, KDF_FILE);
          return FALSE;
        }
      label = g_strndup (name, strlen (name) - (kind == SEALED_TMK ? strlen (".tmk.pem")
                                                                   : strlen (PP_KEYSTORE_SOFT_SECRET_SUFFIX)));
      return (p8 = read_sealed (self, path, kind, label, error)) != NULL;
    }
  return TRUE;
}

/* Makes keystore.kdf for a new (or format 1) store. link() puts it in place
 * only if no other opener made one meanwhile; then that one is used. */
static gboolean
create_kdf (PpKeyStoreSoft  *self,
            const char      *path,
            GError         **error)
{
  g_autoptr(PpSecureBuffer) master = NULL;
  g_autofree char *salt_hex = NULL, *check_hex = NULL, *text = NULL;
  g_autofree char *tmp = g_strconcat (path, ".XXXXXX", NULL);
  guint8 salt[STORE_SALT_LEN], check[32];
  int fd, saved;

  if (!check_legacy_files (self, error))
    return FALSE;
  if (RAND_bytes (salt, sizeof salt) != 1)
    return crypto_error (error, _("The random generator failed"));
  if ((master = derive_master (passphrase (self), passphrase_len (self), salt, PBKDF2_ITERATIONS,
                               error)) == NULL)
    return FALSE;
  if (!master_check (master, check))
    return crypto_error (error, _("Cannot derive the key store key from the passphrase"));
  salt_hex = pp_hex_encode (salt, sizeof salt);
  check_hex = pp_hex_encode (check, sizeof check);
  text = g_strdup_printf (KDF_MAGIC "\n"
                          "kdf: pbkdf2-hmac-sha256\n"
                          "iterations: %u\n"
                          "kdf-salt: %s\n"
                          "check: %s\n", PBKDF2_ITERATIONS, salt_hex, check_hex);

  fd = g_mkstemp_full (tmp, O_RDWR | O_CLOEXEC, 0600);
  if (fd < 0 || write (fd, text, strlen (text)) != (gssize) strlen (text) || fsync (fd) != 0)
    {
      saved = errno;
      if (fd >= 0)
        {
          close (fd);
          g_unlink (tmp);
        }
      g_set_error (error, PP_KEYSTORE_ERROR, PP_KEYSTORE_ERROR_IO,
                   _("Cannot write %s: %s"), path, g_strerror (saved));
      return FALSE;
    }
  close (fd);
  if (link (tmp, path) != 0)
    {
      saved = errno;
      g_unlink (tmp);
      if (saved == EEXIST)
        return load_kdf (self, path, error);   /* another opener was first */
      g_set_error (error, PP_KEYSTORE_ERROR, PP_KEYSTORE_ERROR_IO,
                   _("Cannot write %s: %s"), path, g_strerror (saved));
      return FALSE;
    }
  g_unlink (tmp);
  self->master = g_steal_pointer (&master);
  return TRUE;
}

static gboolean
open_master (PpKeyStoreSoft  *self,
             GError         **error)
{
  g_autofree char *path = g_build_filename (self->directory, KDF_FILE, NULL);

  if (g_file_test (path, G_FILE_TEST_EXISTS))
    return load_kdf (self, path, error);
  return create_kdf (self, path, error);
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
  return seal_v2_and_write (self, path, SEALED_TMK, p8, error);

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
  if ((p8 = read_sealed (self, path, SEALED_TMK, label, error)) == NULL)
    return NULL;
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

/* The key is made here, so it is handed over from memory: nothing is read
 * back from the file just written. */
static char *
soft_generate_and_export_tmk (PpKeyStore       *store,
                              const char       *label,
                              PpTmkType         type,
                              PpSecureBuffer  **out_tmk,
                              GCancellable     *cancellable,
                              GError          **error)
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
  if (kcv != NULL && out_tmk != NULL)
    *out_tmk = g_steal_pointer (&key);
  return kcv;
}

static char *
soft_generate_tmk (PpKeyStore    *store,
                   const char    *label,
                   PpTmkType      type,
                   GCancellable  *cancellable,
                   GError       **error)
{
  return soft_generate_and_export_tmk (store, label, type, NULL, cancellable, error);
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
  return seal_v2_and_write (self, path, SEALED_SECRET, p8, error);

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
  if ((p8 = read_sealed (self, path, SEALED_SECRET, label, error)) == NULL)
    return NULL;
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
  iface->generate_and_export_tmk = soft_generate_and_export_tmk;
}

static void
pp_key_store_soft_finalize (GObject *object)
{
  PpKeyStoreSoft *self = PP_KEY_STORE_SOFT (object);

  g_clear_pointer (&self->directory, g_free);
  g_clear_pointer (&self->passphrase, pp_secure_buffer_free);
  g_clear_pointer (&self->master, pp_secure_buffer_free);   /* wiped */
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
  if (!open_master (self, error))
    {
      g_object_unref (self);
      return NULL;
    }
  return PP_KEY_STORE (self);
}
