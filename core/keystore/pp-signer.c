/* SPDX-License-Identifier: GPL-3.0-or-later
 *
 * pp-signer.c: RSA PKCS#1 v1.5 / SHA-256 signatures with the KDH key,
 * from a PEM file or from a PKCS#11 token (the key stays in the token).
 */
#include "config.h"

#include <string.h>

#include <glib/gi18n-lib.h>
#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>

#include "pp-keystore.h"
#include "pp-keystore-private.h"
#include "pp-openssl-types.h"

/* Immutable after creation, so signing needs no lock of its own: the soft
 * key is only read (OpenSSL 3 keys may sign on several threads at once,
 * each with its own EVP_MD_CTX), and every call on the PKCS#11 session
 * holds the token's lock (pp-pkcs11.c). */
struct _PpSigner
{
  gatomicrefcount   ref_count;

  /* soft: the private key */
  EVP_PKEY         *pkey;

  /* pkcs11: the token session and the private key object */
  PpP11Token       *token;
  CK_OBJECT_HANDLE  key;
  CK_MECHANISM_TYPE mechanism;   /* CKM_SHA256_RSA_PKCS or CKM_RSA_PKCS */
};

/* Minimum modulus size accepted for a KDH key (TR-34 asks for >= 2048). */
#define MIN_RSA_BITS 2048

static gboolean
check_rsa_key (EVP_PKEY  *pkey,
               GError   **error)
{
  if (!EVP_PKEY_is_a (pkey, "RSA"))
    {
      g_set_error_literal (error, PP_KEYSTORE_ERROR, PP_KEYSTORE_ERROR_INVALID_KEY,
                           _("The KDH key must be an RSA key"));
      return FALSE;
    }
  if (EVP_PKEY_get_bits (pkey) < MIN_RSA_BITS)
    {
      g_set_error (error, PP_KEYSTORE_ERROR, PP_KEYSTORE_ERROR_INVALID_KEY,
                   _("The KDH key has %d bits; at least %d are required"),
                   EVP_PKEY_get_bits (pkey), MIN_RSA_BITS);
      return FALSE;
    }
  return TRUE;
}

PpSigner *
pp_signer_new_for_pkey (EVP_PKEY  *pkey,
                        GError   **error)
{
  PpSigner *self;

  g_return_val_if_fail (pkey != NULL, NULL);

  if (!check_rsa_key (pkey, error))
    {
      EVP_PKEY_free (pkey);
      return NULL;
    }
  self = g_new0 (PpSigner, 1);
  g_atomic_ref_count_init (&self->ref_count);
  self->pkey = pkey;
  return self;
}

PpSigner *
pp_signer_new_for_p11 (PpP11Token        *token,
                       CK_OBJECT_HANDLE   key,
                       GError           **error)
{
  g_autoptr(GBytes) key_type = NULL;
  g_autoptr(GBytes) modulus = NULL;
  PpSigner *self;
  CK_MECHANISM_TYPE mechanism;

  key_type = pp_p11_get_attribute (token, key, CKA_KEY_TYPE, error);
  if (key_type == NULL)
    return NULL;
  if (g_bytes_get_size (key_type) != sizeof (CK_KEY_TYPE) ||
      *(const CK_KEY_TYPE *) g_bytes_get_data (key_type, NULL) != CKK_RSA)
    {
      g_set_error_literal (error, PP_KEYSTORE_ERROR, PP_KEYSTORE_ERROR_INVALID_KEY,
                           _("The KDH key on the token is not an RSA key"));
      return NULL;
    }

  modulus = pp_p11_get_attribute (token, key, CKA_MODULUS, error);
  if (modulus == NULL)
    return NULL;
  if (g_bytes_get_size (modulus) * 8 < MIN_RSA_BITS)
    {
      g_set_error (error, PP_KEYSTORE_ERROR, PP_KEYSTORE_ERROR_INVALID_KEY,
                   _("The KDH key on the token has %zu bits; at least %d are required"),
                   g_bytes_get_size (modulus) * 8, MIN_RSA_BITS);
      return NULL;
    }

  /* Hashing in the token when it can, else hash here and let the token
   * only pad and exponentiate. */
  if (pp_p11_mechanism_supported (token, CKM_SHA256_RSA_PKCS, CKF_SIGN))
    mechanism = CKM_SHA256_RSA_PKCS;
  else if (pp_p11_mechanism_supported (token, CKM_RSA_PKCS, CKF_SIGN))
    mechanism = CKM_RSA_PKCS;
  else
    {
      g_set_error_literal (error, PP_KEYSTORE_ERROR, PP_KEYSTORE_ERROR_MECHANISM_UNSUPPORTED,
                           _("The token offers no RSA PKCS#1 v1.5 signature mechanism"));
      return NULL;
    }

  self = g_new0 (PpSigner, 1);
  g_atomic_ref_count_init (&self->ref_count);
  self->token = pp_p11_token_ref (token);
  self->key = key;
  self->mechanism = mechanism;
  return self;
}

typedef struct
{
  const char *secret;
  gboolean    asked;
} PassphraseRequest;

static int
passphrase_cb (char *buf,
               int   size,
               int   rwflag,
               void *user_data)
{
  PassphraseRequest *req = user_data;
  gsize len;

  req->asked = TRUE;
  if (req->secret == NULL)
    return -1;
  len = strlen (req->secret);
  if (len > (gsize) size)
    return -1;
  memcpy (buf, req->secret, len);
  return (int) len;
}

EVP_PKEY *
pp_keystore_read_private_key_pem (const char  *path,
                                  const char  *passphrase,
                                  GError     **error)
{
  g_autoptr(BIO) bio = NULL;
  PassphraseRequest req = { passphrase, FALSE };
  EVP_PKEY *pkey;

  if (!g_file_test (path, G_FILE_TEST_EXISTS))
    {
      g_set_error (error, PP_KEYSTORE_ERROR, PP_KEYSTORE_ERROR_NOT_FOUND,
                   _("No key file %s"), path);
      return NULL;
    }
  bio = BIO_new_file (path, "rb");
  if (bio == NULL)
    {
      ERR_clear_error ();
      g_set_error (error, PP_KEYSTORE_ERROR, PP_KEYSTORE_ERROR_IO,
                   _("Cannot open key file %s"), path);
      return NULL;
    }

  pkey = PEM_read_bio_PrivateKey_ex (bio, NULL, passphrase_cb, &req, NULL, NULL);
  ERR_clear_error ();
  if (pkey != NULL)
    return pkey;

  /* The callback only runs for an encrypted key: a failure after it ran
   * is the passphrase (PKCS#8 and legacy PEM both end in a padding check
   * that a wrong passphrase fails). */
  if (req.asked && passphrase == NULL)
    g_set_error (error, PP_KEYSTORE_ERROR, PP_KEYSTORE_ERROR_PASSPHRASE_REQUIRED,
                 _("The key file %s is encrypted; a passphrase is required"), path);
  else if (req.asked)
    g_set_error (error, PP_KEYSTORE_ERROR, PP_KEYSTORE_ERROR_BAD_PASSPHRASE,
                 _("Wrong passphrase for the key file %s"), path);
  else
    g_set_error (error, PP_KEYSTORE_ERROR, PP_KEYSTORE_ERROR_INVALID_KEY,
                 _("%s does not hold a PEM private key"), path);
  return NULL;
}

PpSigner *
pp_signer_new_for_uri (const char  *pem_path_or_pkcs11_uri,
                       const char  *secret,
                       GError     **error)
{
  EVP_PKEY *pkey;

  g_return_val_if_fail (pem_path_or_pkcs11_uri != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  if (g_str_has_prefix (pem_path_or_pkcs11_uri, "pkcs11:"))
    return pp_signer_new_for_pkcs11_uri (pem_path_or_pkcs11_uri, secret, error);

  pkey = pp_keystore_read_private_key_pem (pem_path_or_pkcs11_uri, secret, error);
  if (pkey == NULL)
    return NULL;
  return pp_signer_new_for_pkey (pkey, error);
}

static gboolean
sign_soft (PpSigner      *self,
           const guint8  *data,
           gsize          len,
           GBytes       **out_signature,
           GError       **error)
{
  g_autoptr(EVP_MD_CTX) ctx = EVP_MD_CTX_new ();
  EVP_PKEY_CTX *pctx = NULL;
  g_autofree guint8 *sig = NULL;
  size_t siglen = 0;

  if (ctx == NULL ||
      EVP_DigestSignInit_ex (ctx, &pctx, "SHA256", NULL, NULL, self->pkey, NULL) != 1 ||
      EVP_PKEY_CTX_set_rsa_padding (pctx, RSA_PKCS1_PADDING) != 1 ||
      EVP_DigestSign (ctx, NULL, &siglen, data, len) != 1)
    goto fail;
  sig = g_malloc (siglen);
  if (EVP_DigestSign (ctx, sig, &siglen, data, len) != 1)
    goto fail;

  *out_signature = g_bytes_new_take (g_steal_pointer (&sig), siglen);
  return TRUE;

fail:
  ERR_clear_error ();
  g_set_error_literal (error, PP_KEYSTORE_ERROR, PP_KEYSTORE_ERROR_CRYPTO,
                       _("RSA signing failed"));
  return FALSE;
}

gboolean
pp_signer_sign (PpSigner      *self,
                const guint8  *data,
                gsize          len,
                GBytes       **out_signature,
                GError       **error)
{
  g_return_val_if_fail (self != NULL, FALSE);
  g_return_val_if_fail (data != NULL || len == 0, FALSE);
  g_return_val_if_fail (out_signature != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  *out_signature = NULL;
  if (self->token != NULL)
    return pp_p11_sign (self->token, self->key, self->mechanism,
                        data, len, out_signature, error);
  return sign_soft (self, data, len, out_signature, error);
}

typedef struct
{
  PpSigner *signer;
  GBytes   *data;
} SignJob;

static void
sign_job_free (SignJob *job)
{
  pp_signer_unref (job->signer);
  g_bytes_unref (job->data);
  g_free (job);
}

static void
sign_thread (GTask        *task,
             gpointer      source_object,
             gpointer      task_data,
             GCancellable *cancellable)
{
  SignJob *job = task_data;
  GBytes *signature = NULL;
  GError *error = NULL;
  gsize len = 0;
  const guint8 *p = g_bytes_get_data (job->data, &len);
  static const guint8 empty[1] = { 0 };

  if (g_task_return_error_if_cancelled (task))
    return;
  if (pp_signer_sign (job->signer, p != NULL ? p : empty, len, &signature, &error))
    g_task_return_pointer (task, signature, (GDestroyNotify) g_bytes_unref);
  else
    g_task_return_error (task, error);
}

void
pp_signer_sign_async (PpSigner            *self,
                      GBytes              *data,
                      GCancellable        *cancellable,
                      GAsyncReadyCallback  callback,
                      gpointer             user_data)
{
  g_autoptr(GTask) task = NULL;
  SignJob *job;

  g_return_if_fail (self != NULL);
  g_return_if_fail (data != NULL);
  g_return_if_fail (cancellable == NULL || G_IS_CANCELLABLE (cancellable));

  /* The job holds a reference until the task is done: the caller may drop
   * its own right away. */
  job = g_new0 (SignJob, 1);
  job->signer = pp_signer_ref (self);
  job->data = g_bytes_ref (data);
  task = g_task_new (NULL, cancellable, callback, user_data);
  g_task_set_source_tag (task, pp_signer_sign_async);
  g_task_set_task_data (task, job, (GDestroyNotify) sign_job_free);
  g_task_run_in_thread (task, sign_thread);
}

GBytes *
pp_signer_sign_finish (PpSigner      *self,
                       GAsyncResult  *result,
                       GError       **error)
{
  /* @self is not needed: the task held its own reference. */
  g_return_val_if_fail (g_task_is_valid (result, NULL), NULL);
  g_return_val_if_fail (g_task_get_source_tag (G_TASK (result)) == pp_signer_sign_async, NULL);

  return g_task_propagate_pointer (G_TASK (result), error);
}

EVP_PKEY *
pp_keystore_public_only (EVP_PKEY  *pkey,
                         GError   **error)
{
  unsigned char *der = NULL;
  const unsigned char *p;
  EVP_PKEY *pub;
  int len;

  /* A round trip through SubjectPublicKeyInfo drops the private part. */
  len = i2d_PUBKEY (pkey, &der);
  if (len <= 0)
    {
      ERR_clear_error ();
      g_set_error_literal (error, PP_KEYSTORE_ERROR, PP_KEYSTORE_ERROR_CRYPTO,
                           _("Cannot encode the public key"));
      return NULL;
    }
  p = der;
  pub = d2i_PUBKEY (NULL, &p, len);
  OPENSSL_free (der);
  if (pub == NULL)
    {
      ERR_clear_error ();
      g_set_error_literal (error, PP_KEYSTORE_ERROR, PP_KEYSTORE_ERROR_CRYPTO,
                           _("Cannot decode the public key"));
    }
  return pub;
}

EVP_PKEY *
pp_signer_dup_public_key (PpSigner  *self,
                          GError   **error)
{
  g_return_val_if_fail (self != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  if (self->token != NULL)
    return pp_p11_get_public_key (self->token, self->key, error);
  return pp_keystore_public_only (self->pkey, error);
}

gboolean
pp_signer_is_hardware (PpSigner *self)
{
  g_return_val_if_fail (self != NULL, FALSE);

  return self->token != NULL;
}

PpSigner *
pp_signer_ref (PpSigner *self)
{
  g_return_val_if_fail (self != NULL, NULL);

  g_atomic_ref_count_inc (&self->ref_count);
  return self;
}

void
pp_signer_unref (PpSigner *self)
{
  if (self == NULL || !g_atomic_ref_count_dec (&self->ref_count))
    return;
  g_clear_pointer (&self->pkey, EVP_PKEY_free);
  g_clear_pointer (&self->token, pp_p11_token_unref);
  g_free (self);
}
