/* SPDX-License-Identifier: GPL-3.0-or-later
 *
 * pp-keystore-pkcs11.c: the "pkcs11" key store, on any PKCS#11 token
 * reached through p11-kit.
 *
 * Objects are found by CKA_LABEL and class: the KDH key pair (private key
 * CKA_SENSITIVE, non-extractable, sign only), its certificate, and TMKs
 * (secret keys generated in the token, CKA_SENSITIVE). A TMK leaves the
 * token only through pp_key_store_export_tmk() or
 * pp_key_store_generate_and_export_tmk(), wrapped (CKM_AES_KEY_WRAP) under
 * a session key that exists for that one call; see docs/keystore.md for
 * why. Secret records (the journal key, TMK delivery records) are private
 * CKO_DATA objects, replaced by generation (below). Calls run on sessions
 * of the token's pool (pp-pkcs11.c), so TMKs of different labels are made
 * at once.
 */
#include "config.h"

#include <string.h>

#include <glib/gi18n-lib.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/x509.h>

#include "pp-hex.h"
#include "pp-keystore-private.h"
#include "pp-openssl-types.h"

#define PP_TYPE_KEY_STORE_PKCS11 (pp_key_store_pkcs11_get_type ())
G_DECLARE_FINAL_TYPE (PpKeyStorePkcs11, pp_key_store_pkcs11, PP, KEY_STORE_PKCS11, GObject)

struct _PpKeyStorePkcs11
{
  GObject     parent_instance;
  PpP11Token *token;
  GMutex      lock;       /* serialises check-then-create */
  GHashTable *creating;   /* TMK labels being made, under @lock */
};

static void pp_key_store_pkcs11_iface_init (PpKeyStoreInterface *iface);

G_DEFINE_FINAL_TYPE_WITH_CODE (PpKeyStorePkcs11, pp_key_store_pkcs11, G_TYPE_OBJECT,
                               G_IMPLEMENT_INTERFACE (PP_TYPE_KEY_STORE,
                                                      pp_key_store_pkcs11_iface_init))

static CK_BBOOL ck_true = CK_TRUE;
static CK_BBOOL ck_false = CK_FALSE;

#define ATTR(type, ptr, len) (CK_ATTRIBUTE) { (type), (void *) (ptr), (len) }
#define ATTR_BOOL(type, val) ATTR ((type), (val) ? &ck_true : &ck_false, sizeof (CK_BBOOL))
#define ATTR_ULONG(type, var) ATTR ((type), &(var), sizeof (CK_ULONG))

static const char *
pkcs11_get_backend_name (PpKeyStore *store)
{
  return "pkcs11";
}

/* Handles of every object of @klass labelled @label. */
static GArray *
find_all (PpKeyStorePkcs11  *self,
          CK_OBJECT_CLASS    klass,
          const char        *label,
          GError           **error)
{
  CK_FUNCTION_LIST *m = self->token->module;
  CK_ATTRIBUTE tmpl[] = {
    ATTR_ULONG (CKA_CLASS, klass),
    ATTR (CKA_LABEL, label, strlen (label)),
  };
  g_autoptr(GArray) found = g_array_new (FALSE, FALSE, sizeof (CK_OBJECT_HANDLE));
  CK_SESSION_HANDLE session = pp_p11_session_take (self->token);
  CK_RV rv;

  rv = m->C_FindObjectsInit (session, tmpl, G_N_ELEMENTS (tmpl));
  if (rv == CKR_OK)
    {
      for (;;)
        {
          CK_OBJECT_HANDLE batch[16];
          CK_ULONG n = 0;

          rv = m->C_FindObjects (session, batch, G_N_ELEMENTS (batch), &n);
          if (rv != CKR_OK || n == 0)
            break;
          g_array_append_vals (found, batch, n);
        }
      /* Always end the search, or the session refuses the next one. */
      m->C_FindObjectsFinal (session);
    }
  pp_p11_session_give (self->token, session);
  if (rv != CKR_OK)
    {
      pp_p11_set_error (error, rv, _("Cannot search the token"));
      return NULL;
    }
  return g_steal_pointer (&found);
}

static gboolean
find_labelled (PpKeyStorePkcs11  *self,
               CK_OBJECT_CLASS    klass,
               const char        *label,
               const char        *what,
               CK_OBJECT_HANDLE  *out_object,
               GError           **error)
{
  CK_ATTRIBUTE tmpl[] = {
    ATTR_ULONG (CKA_CLASS, klass),
    ATTR (CKA_LABEL, label, strlen (label)),
  };
  g_autoptr(GError) local_error = NULL;

  if (pp_p11_find_one (self->token, tmpl, G_N_ELEMENTS (tmpl), what, out_object,
                       &local_error))
    return TRUE;
  if (g_error_matches (local_error, PP_KEYSTORE_ERROR, PP_KEYSTORE_ERROR_OBJECT_NOT_FOUND))
    g_set_error (error, PP_KEYSTORE_ERROR, PP_KEYSTORE_ERROR_NOT_FOUND,
                 _("The token \"%s\" holds no %s \"%s\""),
                 self->token->token_label, what, label);
  else
    g_propagate_error (error, g_steal_pointer (&local_error));
  return FALSE;
}

static gboolean
refuse_existing (PpKeyStorePkcs11  *self,
                 CK_OBJECT_CLASS    klass,
                 const char        *label,
                 GError           **error)
{
  CK_ATTRIBUTE tmpl[] = {
    ATTR_ULONG (CKA_CLASS, klass),
    ATTR (CKA_LABEL, label, strlen (label)),
  };
  gint n = pp_p11_count (self->token, tmpl, G_N_ELEMENTS (tmpl), error);

  if (n < 0)
    return FALSE;
  if (n > 0)
    {
      g_set_error (error, PP_KEYSTORE_ERROR, PP_KEYSTORE_ERROR_EXISTS,
                   _("The token \"%s\" already holds a key \"%s\""),
                   self->token->token_label, label);
      return FALSE;
    }
  return TRUE;
}

static void
destroy_object (PpKeyStorePkcs11 *self,
                CK_OBJECT_HANDLE  object)
{
  CK_SESSION_HANDLE session;
  session = pp_p11_session_take_writer (self->token);
  self->token->module->C_DestroyObject (session, object);
  pp_p11_session_give_writer (self->token, session);
}

static gboolean
pkcs11_generate_kdh_key (PpKeyStore    *store,
                         const char    *label,
                         GCancellable  *cancellable,
                         GError       **error)
{
  CK_SESSION_HANDLE session;
  PpKeyStorePkcs11 *self = PP_KEY_STORE_PKCS11 (store);
  G_GNUC_UNUSED g_autoptr(GMutexLocker) locker = g_mutex_locker_new (&self->lock);
  CK_FUNCTION_LIST *m = self->token->module;
  CK_MECHANISM mech = { CKM_RSA_PKCS_KEY_PAIR_GEN, NULL, 0 };
  CK_OBJECT_CLASS pub_class = CKO_PUBLIC_KEY, priv_class = CKO_PRIVATE_KEY;
  CK_KEY_TYPE key_type = CKK_RSA;
  CK_ULONG bits = PP_KEYSTORE_KDH_BITS;
  static const CK_BYTE exponent[] = { 0x01, 0x00, 0x01 };
  gsize label_len = strlen (label);
  CK_ATTRIBUTE pub_tmpl[] = {
    ATTR_ULONG (CKA_CLASS, pub_class),
    ATTR_ULONG (CKA_KEY_TYPE, key_type),
    ATTR (CKA_LABEL, label, label_len),
    ATTR_BOOL (CKA_TOKEN, TRUE),
    ATTR_BOOL (CKA_PRIVATE, FALSE),
    ATTR_BOOL (CKA_VERIFY, TRUE),
    ATTR_BOOL (CKA_ENCRYPT, FALSE),
    ATTR_BOOL (CKA_WRAP, FALSE),
    ATTR_ULONG (CKA_MODULUS_BITS, bits),
    ATTR (CKA_PUBLIC_EXPONENT, exponent, sizeof exponent),
  };
  /* The KDH key only signs, and can never be read or wrapped out. */
  CK_ATTRIBUTE priv_tmpl[] = {
    ATTR_ULONG (CKA_CLASS, priv_class),
    ATTR_ULONG (CKA_KEY_TYPE, key_type),
    ATTR (CKA_LABEL, label, label_len),
    ATTR_BOOL (CKA_TOKEN, TRUE),
    ATTR_BOOL (CKA_PRIVATE, TRUE),
    ATTR_BOOL (CKA_SENSITIVE, TRUE),
    ATTR_BOOL (CKA_EXTRACTABLE, FALSE),
    ATTR_BOOL (CKA_SIGN, TRUE),
    ATTR_BOOL (CKA_DECRYPT, FALSE),
    ATTR_BOOL (CKA_UNWRAP, FALSE),
    ATTR_BOOL (CKA_DERIVE, FALSE),
  };
  CK_OBJECT_HANDLE pub = CK_INVALID_HANDLE, priv = CK_INVALID_HANDLE;
  g_autoptr(GBytes) modulus = NULL;
  CK_RV rv;

  if (!refuse_existing (self, CKO_PRIVATE_KEY, label, error) ||
      !refuse_existing (self, CKO_PUBLIC_KEY, label, error))
    return FALSE;
  if (!pp_p11_mechanism_supported (self->token, CKM_RSA_PKCS_KEY_PAIR_GEN, CKF_GENERATE_KEY_PAIR))
    {
      g_set_error_literal (error, PP_KEYSTORE_ERROR, PP_KEYSTORE_ERROR_MECHANISM_UNSUPPORTED,
                           _("The token cannot generate RSA key pairs"));
      return FALSE;
    }
  if (g_cancellable_set_error_if_cancelled (cancellable, error))
    return FALSE;

  session = pp_p11_session_take_writer (self->token);
  rv = m->C_GenerateKeyPair (session, &mech,
                             pub_tmpl, G_N_ELEMENTS (pub_tmpl),
                             priv_tmpl, G_N_ELEMENTS (priv_tmpl), &pub, &priv);
  pp_p11_session_give_writer (self->token, session);
  if (rv != CKR_OK)
    {
      pp_p11_set_error (error, rv, _("The token could not generate the KDH key pair"));
      return FALSE;
    }

  /* CKA_ID ties key, public key and certificate together for other
   * PKCS#11 tools; by convention it is SHA-1 of the modulus. */
  modulus = pp_p11_get_attribute (self->token, pub, CKA_MODULUS, NULL);
  if (modulus != NULL)
    {
      guint8 id[20];
      unsigned int id_len = sizeof id;

      if (EVP_Digest (g_bytes_get_data (modulus, NULL), g_bytes_get_size (modulus),
                      id, &id_len, EVP_sha1 (), NULL) == 1)
        {
          CK_ATTRIBUTE id_attr = ATTR (CKA_ID, id, id_len);

          session = pp_p11_session_take_writer (self->token);
          rv = m->C_SetAttributeValue (session, pub, &id_attr, 1);
          if (rv == CKR_OK)
            rv = m->C_SetAttributeValue (session, priv, &id_attr, 1);
          pp_p11_session_give_writer (self->token, session);
          if (rv != CKR_OK)
            g_debug ("keystore: token refused CKA_ID on the KDH key pair (CKR 0x%08lx)",
                     (unsigned long) rv);
        }
    }

  return TRUE;
}

static PpSigner *
pkcs11_get_signer (PpKeyStore  *store,
                   const char  *label,
                   GError     **error)
{
  PpKeyStorePkcs11 *self = PP_KEY_STORE_PKCS11 (store);
  CK_OBJECT_HANDLE key;

  if (!find_labelled (self, CKO_PRIVATE_KEY, label, _("KDH private key"), &key, error))
    return NULL;
  return pp_signer_new_for_p11 (self->token, key, error);
}

static gboolean
pkcs11_store_certificate (PpKeyStore  *store,
                          const char  *label,
                          X509        *certificate,
                          GError     **error)
{
  CK_SESSION_HANDLE session;
  PpKeyStorePkcs11 *self = PP_KEY_STORE_PKCS11 (store);
  G_GNUC_UNUSED g_autoptr(GMutexLocker) locker = g_mutex_locker_new (&self->lock);
  CK_FUNCTION_LIST *m = self->token->module;
  CK_OBJECT_CLASS klass = CKO_CERTIFICATE;
  CK_CERTIFICATE_TYPE cert_type = CKC_X_509;
  g_autoptr(GArray) old = NULL;
  g_autoptr(GBytes) id = NULL;
  unsigned char *der = NULL, *subject = NULL, *issuer = NULL, *serial = NULL;
  int der_len, subject_len, issuer_len, serial_len;
  CK_OBJECT_HANDLE key, created;
  CK_RV rv = CKR_GENERAL_ERROR;

  old = find_all (self, CKO_CERTIFICATE, label, error);
  if (old == NULL)
    return FALSE;
  if (find_labelled (self, CKO_PRIVATE_KEY, label, _("KDH private key"), &key, NULL))
    id = pp_p11_get_attribute (self->token, key, CKA_ID, NULL);

  der_len = i2d_X509 (certificate, &der);
  subject_len = i2d_X509_NAME (X509_get_subject_name (certificate), &subject);
  issuer_len = i2d_X509_NAME (X509_get_issuer_name (certificate), &issuer);
  serial_len = i2d_ASN1_INTEGER (X509_get0_serialNumber (certificate), &serial);
  if (der_len > 0 && subject_len > 0 && issuer_len > 0 && serial_len > 0)
    {
      CK_ATTRIBUTE tmpl[] = {
        ATTR_ULONG (CKA_CLASS, klass),
        ATTR_ULONG (CKA_CERTIFICATE_TYPE, cert_type),
        ATTR (CKA_LABEL, label, strlen (label)),
        ATTR_BOOL (CKA_TOKEN, TRUE),
        ATTR_BOOL (CKA_PRIVATE, FALSE),
        ATTR (CKA_VALUE, der, der_len),
        ATTR (CKA_SUBJECT, subject, subject_len),
        ATTR (CKA_ISSUER, issuer, issuer_len),
        ATTR (CKA_SERIAL_NUMBER, serial, serial_len),
        ATTR (CKA_ID, id != NULL ? g_bytes_get_data (id, NULL) : NULL,
              id != NULL ? g_bytes_get_size (id) : 0),
      };

      session = pp_p11_session_take_writer (self->token);
      rv = m->C_CreateObject (session, tmpl,
                              G_N_ELEMENTS (tmpl) - (id == NULL ? 1 : 0), &created);
      pp_p11_session_give_writer (self->token, session);
    }
  OPENSSL_free (der);
  OPENSSL_free (subject);
  OPENSSL_free (issuer);
  OPENSSL_free (serial);
  ERR_clear_error ();

  if (der_len <= 0 || subject_len <= 0 || issuer_len <= 0 || serial_len <= 0)
    {
      g_set_error_literal (error, PP_KEYSTORE_ERROR, PP_KEYSTORE_ERROR_CRYPTO,
                           _("Cannot encode the certificate"));
      return FALSE;
    }
  if (rv != CKR_OK)
    {
      pp_p11_set_error (error, rv, _("The token could not store the certificate"));
      return FALSE;
    }

  /* Only once the new one is in: a failure above leaves the old one. */
  for (guint i = 0; i < old->len; i++)
    destroy_object (self, g_array_index (old, CK_OBJECT_HANDLE, i));
  return TRUE;
}

static X509 *
pkcs11_load_certificate (PpKeyStore  *store,
                         const char  *label,
                         GError     **error)
{
  PpKeyStorePkcs11 *self = PP_KEY_STORE_PKCS11 (store);
  g_autoptr(GBytes) value = NULL;
  CK_OBJECT_HANDLE object;
  const unsigned char *p;
  X509 *cert;

  if (!find_labelled (self, CKO_CERTIFICATE, label, _("certificate"), &object, error))
    return NULL;
  value = pp_p11_get_attribute (self->token, object, CKA_VALUE, error);
  if (value == NULL)
    return NULL;
  p = g_bytes_get_data (value, NULL);
  cert = d2i_X509 (NULL, &p, (long) g_bytes_get_size (value));
  if (cert == NULL)
    {
      ERR_clear_error ();
      g_set_error (error, PP_KEYSTORE_ERROR, PP_KEYSTORE_ERROR_INVALID_KEY,
                   _("The certificate \"%s\" on the token is not valid DER"), label);
    }
  return cert;
}

/* The TMK's type from its public attributes (key type and length). */
static gboolean
tmk_type_of (PpKeyStorePkcs11  *self,
             CK_OBJECT_HANDLE   key,
             const char        *label,
             PpTmkType         *out_type,
             GError           **error)
{
  CK_SESSION_HANDLE session;
  CK_KEY_TYPE key_type = CK_UNAVAILABLE_INFORMATION;
  CK_ULONG value_len = 0;
  CK_ATTRIBUTE tmpl[] = {
    ATTR_ULONG (CKA_KEY_TYPE, key_type),
    ATTR_ULONG (CKA_VALUE_LEN, value_len),
  };
  CK_RV rv;

  session = pp_p11_session_take (self->token);
  rv = self->token->module->C_GetAttributeValue (session, key,
                                                 tmpl, G_N_ELEMENTS (tmpl));
  pp_p11_session_give (self->token, session);

  /* DES2/DES3 keys have no CKA_VALUE_LEN: their type says the length. */
  if (rv != CKR_OK && rv != CKR_ATTRIBUTE_TYPE_INVALID)
    {
      pp_p11_set_error (error, rv, _("Cannot read the TMK attributes"));
      return FALSE;
    }
  if (key_type == CKK_DES2)
    *out_type = PP_TMK_TDES_2KEY;
  else if (key_type == CKK_DES3)
    *out_type = PP_TMK_TDES_3KEY;
  else if (key_type == CKK_AES && value_len == 16)
    *out_type = PP_TMK_AES_128;
  else if (key_type == CKK_AES && value_len == 32)
    *out_type = PP_TMK_AES_256;
  else
    {
      g_set_error (error, PP_KEYSTORE_ERROR, PP_KEYSTORE_ERROR_INVALID_KEY,
                   _("The secret key \"%s\" is not a TDES or AES-128/256 TMK"), label);
      return FALSE;
    }
  return TRUE;
}

/* One-shot C_EncryptInit + C_Encrypt of a single block. */
static CK_RV
encrypt_block (PpKeyStorePkcs11  *self,
               CK_MECHANISM_TYPE  mechanism,
               CK_OBJECT_HANDLE   key,
               const guint8      *in,
               guint8            *out,
               CK_ULONG           len)
{
  CK_SESSION_HANDLE session;
  CK_FUNCTION_LIST *m = self->token->module;
  CK_MECHANISM mech = { mechanism, NULL, 0 };
  CK_ULONG out_len = len;
  CK_RV rv;

  session = pp_p11_session_take (self->token);
  rv = m->C_EncryptInit (session, &mech, key);
  if (rv == CKR_OK)
    rv = m->C_Encrypt (session, (CK_BYTE_PTR) in, len, out, &out_len);
  pp_p11_session_give (self->token, session);
  if (rv == CKR_OK && out_len != len)
    rv = CKR_GENERAL_ERROR;
  return rv;
}

/* AES-CMAC of one zero block from two ECB encryptions (SP 800-38B):
 * L = E(0), K1 = dbl(L), T = E(0 xor K1) = E(K1). For tokens without
 * CKM_AES_CMAC. */
static CK_RV
aes_cmac_zero_by_ecb (PpKeyStorePkcs11 *self,
                      CK_OBJECT_HANDLE  key,
                      guint8            out[16])
{
  static const guint8 zero[16] = { 0 };
  guint8 l[16], k1[16];
  CK_RV rv;

  rv = encrypt_block (self, CKM_AES_ECB, key, zero, l, 16);
  if (rv == CKR_OK)
    {
      for (guint i = 0; i < 16; i++)
        k1[i] = (guint8) ((l[i] << 1) | (i < 15 ? l[i + 1] >> 7 : 0));
      if (l[0] & 0x80)
        k1[15] ^= 0x87;
      rv = encrypt_block (self, CKM_AES_ECB, key, k1, out, 16);
    }
  OPENSSL_cleanse (l, sizeof l);
  OPENSSL_cleanse (k1, sizeof k1);
  return rv;
}

static char *
kcv_in_token (PpKeyStorePkcs11  *self,
              CK_OBJECT_HANDLE   key,
              PpTmkType          type,
              GError           **error)
{
  CK_SESSION_HANDLE session;
  static const guint8 zero[16] = { 0 };
  PpKeyAlgorithm alg = pp_tmk_type_get_algorithm (type);
  guint8 block[16];
  g_autoptr(GBytes) can_sign = NULL;
  char *kcv;
  CK_RV rv;

  if (alg == PP_KEY_ALGORITHM_TDES)
    rv = encrypt_block (self, CKM_DES3_ECB, key, zero, block, 8);
  else
    {
      can_sign = pp_p11_get_attribute (self->token, key, CKA_SIGN, NULL);
      if (can_sign != NULL && g_bytes_get_size (can_sign) == sizeof (CK_BBOOL) &&
          *(const CK_BBOOL *) g_bytes_get_data (can_sign, NULL) == CK_TRUE)
        {
          CK_MECHANISM mech = { CKM_AES_CMAC, NULL, 0 };
          CK_ULONG out_len = sizeof block;

          session = pp_p11_session_take (self->token);
          rv = self->token->module->C_SignInit (session, &mech, key);
          if (rv == CKR_OK)
            rv = self->token->module->C_Sign (session, (CK_BYTE_PTR) zero,
                                              16, block, &out_len);
          pp_p11_session_give (self->token, session);
          if (rv == CKR_OK && out_len != 16)
            rv = CKR_GENERAL_ERROR;
        }
      else
        rv = aes_cmac_zero_by_ecb (self, key, block);
    }

  if (rv != CKR_OK)
    {
      pp_p11_set_error (error, rv, _("The token could not compute the TMK check value"));
      return NULL;
    }
  kcv = pp_hex_encode (block, pp_kcv_default_length (alg));
  OPENSSL_cleanse (block, sizeof block);
  return kcv;
}

/* Claims @label for a TMK being made (EXISTS when the token holds one or
 * another thread is making one). The claim, not a lock held through the
 * generation, keeps two makers of one label apart, so TMKs of different
 * labels are made in the token at once, each on its own session. */
static gboolean
claim_label (PpKeyStorePkcs11  *self,
             const char        *label,
             GError           **error)
{
  G_GNUC_UNUSED g_autoptr(GMutexLocker) locker = g_mutex_locker_new (&self->lock);

  if (g_hash_table_contains (self->creating, label))
    {
      g_set_error (error, PP_KEYSTORE_ERROR, PP_KEYSTORE_ERROR_EXISTS,
                   _("The token \"%s\" already holds a key \"%s\""),
                   self->token->token_label, label);
      return FALSE;
    }
  if (!refuse_existing (self, CKO_SECRET_KEY, label, error))
    return FALSE;
  g_hash_table_add (self->creating, g_strdup (label));
  return TRUE;
}

static void
release_label (PpKeyStorePkcs11 *self,
               const char       *label)
{
  G_GNUC_UNUSED g_autoptr(GMutexLocker) locker = g_mutex_locker_new (&self->lock);

  g_hash_table_remove (self->creating, label);
}

static char *
generate_tmk_claimed (PpKeyStorePkcs11  *self,
                      const char        *label,
                      PpTmkType          type,
                      GCancellable      *cancellable,
                      CK_OBJECT_HANDLE  *out_key,
                      GError           **error)
{
  CK_SESSION_HANDLE session;
  CK_OBJECT_CLASS klass = CKO_SECRET_KEY;
  CK_KEY_TYPE key_type;
  CK_ULONG value_len = pp_tmk_type_get_key_length (type);
  CK_MECHANISM mech = { 0, NULL, 0 };
  gboolean use_cmac = FALSE;
  gboolean aes = pp_tmk_type_get_algorithm (type) == PP_KEY_ALGORITHM_AES;
  CK_OBJECT_HANDLE key;
  char *kcv;
  CK_RV rv;

  switch (type)
    {
    case PP_TMK_TDES_2KEY:
      mech.mechanism = CKM_DES2_KEY_GEN;
      key_type = CKK_DES2;
      break;
    case PP_TMK_TDES_3KEY:
      mech.mechanism = CKM_DES3_KEY_GEN;
      key_type = CKK_DES3;
      break;
    default:
      mech.mechanism = CKM_AES_KEY_GEN;
      key_type = CKK_AES;
      break;
    }

  if (!pp_p11_mechanism_supported (self->token, mech.mechanism, CKF_GENERATE))
    {
      g_set_error (error, PP_KEYSTORE_ERROR, PP_KEYSTORE_ERROR_MECHANISM_UNSUPPORTED,
                   _("The token cannot generate %s keys"), aes ? "AES" : "TDES");
      return NULL;
    }
  /* The KCV is computed in the token: CMAC where the token has it (the
   * key then may sign), else from ECB encryptions. */
  if (aes)
    use_cmac = pp_p11_mechanism_supported (self->token, CKM_AES_CMAC, CKF_SIGN);
  if (g_cancellable_set_error_if_cancelled (cancellable, error))
    return NULL;

  {
    /* Sensitive: its value can never be read. Extractable: the TR-34 key
     * block is built on the host, so it has to be wrapped out once. */
    CK_ATTRIBUTE tmpl[] = {
      ATTR_ULONG (CKA_CLASS, klass),
      ATTR_ULONG (CKA_KEY_TYPE, key_type),
      ATTR (CKA_LABEL, label, strlen (label)),
      ATTR_BOOL (CKA_TOKEN, TRUE),
      ATTR_BOOL (CKA_PRIVATE, TRUE),
      ATTR_BOOL (CKA_SENSITIVE, TRUE),
      ATTR_BOOL (CKA_EXTRACTABLE, TRUE),
      ATTR_BOOL (CKA_ENCRYPT, !use_cmac),
      ATTR_BOOL (CKA_SIGN, use_cmac),
      ATTR_BOOL (CKA_DECRYPT, FALSE),
      ATTR_BOOL (CKA_VERIFY, FALSE),
      ATTR_BOOL (CKA_WRAP, FALSE),
      ATTR_BOOL (CKA_UNWRAP, FALSE),
      ATTR_BOOL (CKA_DERIVE, FALSE),
      ATTR_ULONG (CKA_VALUE_LEN, value_len),
    };

    session = pp_p11_session_take_writer (self->token);
    rv = self->token->module->C_GenerateKey (session, &mech, tmpl,
                                             G_N_ELEMENTS (tmpl) - (aes ? 0 : 1), &key);
    pp_p11_session_give_writer (self->token, session);
  }
  if (rv != CKR_OK)
    {
      pp_p11_set_error (error, rv, _("The token could not generate the TMK"));
      return NULL;
    }

  kcv = kcv_in_token (self, key, type, error);
  if (kcv == NULL)
    destroy_object (self, key);
  *out_key = key;
  return kcv;
}

static PpSecureBuffer *wrap_out (PpKeyStorePkcs11 *self, CK_OBJECT_HANDLE tmk, PpTmkType type, GError **error);

/* The fresh TMK is wrapped out by its handle, in the same call: no search
 * by label, no attribute read, to find what was just made. */
static char *
pkcs11_generate_and_export_tmk (PpKeyStore       *store,
                                const char       *label,
                                PpTmkType         type,
                                PpSecureBuffer  **out_tmk,
                                GCancellable     *cancellable,
                                GError          **error)
{
  PpKeyStorePkcs11 *self = PP_KEY_STORE_PKCS11 (store);
  CK_OBJECT_HANDLE key = CK_INVALID_HANDLE;
  g_autofree char *kcv = NULL;

  if (!claim_label (self, label, error))
    return NULL;
  kcv = generate_tmk_claimed (self, label, type, cancellable, &key, error);
  release_label (self, label);
  if (kcv == NULL)
    return NULL;
  /* A TMK that cannot be wrapped stays in the token, never sent, as when
   * an export after the generation failed. */
  if (out_tmk != NULL && (*out_tmk = wrap_out (self, key, type, error)) == NULL)
    return NULL;
  return g_steal_pointer (&kcv);
}

static char *
pkcs11_generate_tmk (PpKeyStore    *store,
                     const char    *label,
                     PpTmkType      type,
                     GCancellable  *cancellable,
                     GError       **error)
{
  return pkcs11_generate_and_export_tmk (store, label, type, NULL, cancellable, error);
}

static char *
pkcs11_get_tmk_kcv (PpKeyStore  *store,
                    const char  *label,
                    PpTmkType   *out_type,
                    GError     **error)
{
  PpKeyStorePkcs11 *self = PP_KEY_STORE_PKCS11 (store);
  CK_OBJECT_HANDLE key;
  PpTmkType type;
  char *kcv;

  if (!find_labelled (self, CKO_SECRET_KEY, label, "TMK", &key, error) ||
      !tmk_type_of (self, key, label, &type, error))
    return NULL;
  kcv = kcv_in_token (self, key, type, error);
  if (kcv != NULL && out_type != NULL)
    *out_type = type;
  return kcv;
}

static PpSecureBuffer *
pkcs11_export_tmk (PpKeyStore  *store,
                   const char  *label,
                   PpTmkType   *out_type,
                   GError     **error)
{
  PpKeyStorePkcs11 *self = PP_KEY_STORE_PKCS11 (store);
  CK_OBJECT_HANDLE tmk;
  PpTmkType type;
  PpSecureBuffer *clear;

  if (!find_labelled (self, CKO_SECRET_KEY, label, "TMK", &tmk, error) ||
      !tmk_type_of (self, tmk, label, &type, error) ||
      (clear = wrap_out (self, tmk, type, error)) == NULL)
    return NULL;
  if (out_type != NULL)
    *out_type = type;
  return clear;
}

/* The clear value of the TMK @tmk of @type, by C_WrapKey under a one-time
 * session key (docs/keystore.md). */
static PpSecureBuffer *
wrap_out (PpKeyStorePkcs11  *self,
          CK_OBJECT_HANDLE   tmk,
          PpTmkType          type,
          GError           **error)
{
  CK_SESSION_HANDLE session;
  CK_FUNCTION_LIST *m = self->token->module;
  CK_MECHANISM gen = { CKM_AES_KEY_GEN, NULL, 0 };
  CK_MECHANISM wrap = { CKM_AES_KEY_WRAP, NULL, 0 };
  CK_OBJECT_CLASS klass = CKO_SECRET_KEY;
  CK_KEY_TYPE aes = CKK_AES;
  CK_ULONG kek_len = 32;
  /* A session object: it disappears with the session even if we crash
   * before destroying it. Not sensitive, so its value can be read back to
   * unwrap on the host; it can wrap and nothing else. */
  CK_ATTRIBUTE kek_tmpl[] = {
    ATTR_ULONG (CKA_CLASS, klass),
    ATTR_ULONG (CKA_KEY_TYPE, aes),
    ATTR_ULONG (CKA_VALUE_LEN, kek_len),
    ATTR_BOOL (CKA_TOKEN, FALSE),
    ATTR_BOOL (CKA_PRIVATE, TRUE),
    ATTR_BOOL (CKA_SENSITIVE, FALSE),
    ATTR_BOOL (CKA_EXTRACTABLE, TRUE),
    ATTR_BOOL (CKA_WRAP, TRUE),
    ATTR_BOOL (CKA_UNWRAP, FALSE),
    ATTR_BOOL (CKA_ENCRYPT, FALSE),
    ATTR_BOOL (CKA_DECRYPT, FALSE),
  };
  g_autoptr(PpSecureBuffer) kek = pp_secure_buffer_new (kek_len);
  g_autoptr(PpSecureBuffer) clear = NULL;
  g_autoptr(EVP_CIPHER) cipher = NULL;
  g_autoptr(EVP_CIPHER_CTX) ctx = NULL;
  guint8 wrapped[64];
  CK_ULONG wrapped_len = sizeof wrapped;
  CK_ATTRIBUTE kek_value = ATTR (CKA_VALUE, pp_secure_buffer_get_data (kek), kek_len);
  CK_OBJECT_HANDLE kek_handle = CK_INVALID_HANDLE;
  int outl = 0;
  CK_RV rv;

  if (!pp_p11_mechanism_supported (self->token, CKM_AES_KEY_WRAP, CKF_WRAP))
    {
      g_set_error_literal (error, PP_KEYSTORE_ERROR, PP_KEYSTORE_ERROR_MECHANISM_UNSUPPORTED,
                           _("The token cannot wrap keys with CKM_AES_KEY_WRAP"));
      return NULL;
    }

  session = pp_p11_session_take (self->token);
  rv = m->C_GenerateKey (session, &gen, kek_tmpl, G_N_ELEMENTS (kek_tmpl),
                         &kek_handle);
  if (rv == CKR_OK)
    rv = m->C_WrapKey (session, &wrap, kek_handle, tmk, wrapped, &wrapped_len);
  if (rv == CKR_OK)
    rv = m->C_GetAttributeValue (session, kek_handle, &kek_value, 1);
  if (kek_handle != CK_INVALID_HANDLE)
    m->C_DestroyObject (session, kek_handle);
  pp_p11_session_give (self->token, session);

  if (rv == CKR_OK && (kek_value.ulValueLen != kek_len ||
                       wrapped_len != pp_tmk_type_get_key_length (type) + 8))
    rv = CKR_GENERAL_ERROR;
  if (rv != CKR_OK)
    {
      pp_p11_set_error (error, rv, _("The token could not wrap the TMK"));
      return NULL;
    }

  /* RFC 3394 unwrap into locked memory; the integrity check value makes a
   * wrong key or corrupted blob fail here rather than yield a bad TMK. */
  clear = pp_secure_buffer_new (wrapped_len);
  cipher = EVP_CIPHER_fetch (NULL, "AES-256-WRAP", NULL);
  ctx = EVP_CIPHER_CTX_new ();
  if (cipher == NULL || ctx == NULL ||
      EVP_DecryptInit_ex2 (ctx, cipher, pp_secure_buffer_peek (kek), NULL, NULL) != 1 ||
      EVP_DecryptUpdate (ctx, pp_secure_buffer_get_data (clear), &outl,
                         wrapped, (int) wrapped_len) != 1 ||
      (gsize) outl != pp_tmk_type_get_key_length (type))
    {
      ERR_clear_error ();
      g_set_error_literal (error, PP_KEYSTORE_ERROR, PP_KEYSTORE_ERROR_CRYPTO,
                           _("Cannot unwrap the TMK exported by the token"));
      return NULL;
    }
  pp_secure_buffer_truncate (clear, (gsize) outl);
  OPENSSL_cleanse (wrapped, sizeof wrapped);
  return g_steal_pointer (&clear);
}

/* ---- secret records (the journal key, TMK delivery records) ----
 *
 * A record is a CKO_DATA token object, CKA_PRIVATE (invisible and, in
 * SoftHSM2, encrypted under the token key until the user logs in), not
 * modifiable, labelled as the soft store's file and tagged with
 * CKA_APPLICATION SECRET_APPLICATION. Its CKA_VALUE is SECRET_MAGIC, a
 * big-endian 64-bit generation, then the record. A replacement is created
 * (generation + 1) before the objects it replaces are destroyed, so a
 * crash in between leaves both and readers take the highest generation;
 * docs/keystore.md says why a data object and not a secret key. */

#define SECRET_APPLICATION "posprov secret record"
#define SECRET_MAGIC "PPSR1"
#define SECRET_HEADER_LEN (sizeof SECRET_MAGIC - 1 + 8)
/* A reader that saw only objects a writer destroyed meanwhile searches again. */
#define SECRET_READ_TRIES 4

typedef struct
{
  CK_OBJECT_HANDLE  object;
  guint64           generation;
  PpSecureBuffer   *value;      /* header and record */
} SecretVersion;

static void
secret_version_clear (SecretVersion *version)
{
  g_clear_pointer (&version->value, pp_secure_buffer_free);
}

/* The handles of every version of the record @label. */
static GArray *
find_secret_versions (PpKeyStorePkcs11  *self,
                      const char        *label,
                      GError           **error)
{
  CK_FUNCTION_LIST *m = self->token->module;
  CK_OBJECT_CLASS klass = CKO_DATA;
  CK_ATTRIBUTE tmpl[] = {
    ATTR_ULONG (CKA_CLASS, klass),
    ATTR (CKA_LABEL, label, strlen (label)),
    ATTR (CKA_APPLICATION, SECRET_APPLICATION, strlen (SECRET_APPLICATION)),
  };
  g_autoptr(GArray) found = g_array_new (FALSE, FALSE, sizeof (CK_OBJECT_HANDLE));
  CK_SESSION_HANDLE session = pp_p11_session_take (self->token);
  CK_RV rv;

  rv = m->C_FindObjectsInit (session, tmpl, G_N_ELEMENTS (tmpl));
  if (rv == CKR_OK)
    {
      for (;;)
        {
          CK_OBJECT_HANDLE batch[8];
          CK_ULONG n = 0;

          rv = m->C_FindObjects (session, batch, G_N_ELEMENTS (batch), &n);
          if (rv != CKR_OK || n == 0)
            break;
          g_array_append_vals (found, batch, n);
        }
      m->C_FindObjectsFinal (session);
    }
  pp_p11_session_give (self->token, session);
  if (rv != CKR_OK)
    {
      pp_p11_set_error (error, rv, _("Cannot search the token"));
      return NULL;
    }
  return g_steal_pointer (&found);
}

/* Reads the version @object into @out (its value straight into locked
 * memory). CKR_OBJECT_HANDLE_INVALID when another session destroyed it
 * since the search; CKR_OK with INVALID_KEY in @error when it is not a
 * record this code wrote. */
static CK_RV
read_secret_version (PpKeyStorePkcs11  *self,
                     CK_OBJECT_HANDLE   object,
                     const char        *label,
                     SecretVersion     *out,
                     GError           **error)
{
  CK_FUNCTION_LIST *m = self->token->module;
  CK_ATTRIBUTE attr = ATTR (CKA_VALUE, NULL, 0);
  g_autoptr(PpSecureBuffer) value = NULL;
  CK_SESSION_HANDLE session;
  const guint8 *p;
  CK_RV rv;

  session = pp_p11_session_take (self->token);
  rv = m->C_GetAttributeValue (session, object, &attr, 1);
  if (rv == CKR_OK && attr.ulValueLen != CK_UNAVAILABLE_INFORMATION &&
      attr.ulValueLen >= SECRET_HEADER_LEN)
    {
      value = pp_secure_buffer_new (attr.ulValueLen);
      attr.pValue = pp_secure_buffer_get_data (value);
      rv = m->C_GetAttributeValue (session, object, &attr, 1);
    }
  pp_p11_session_give (self->token, session);
  if (rv == CKR_OBJECT_HANDLE_INVALID)
    return rv;
  if (rv != CKR_OK)
    {
      pp_p11_set_error (error, rv, _("Cannot read a secret record on the token"));
      return rv;
    }
  p = value != NULL ? pp_secure_buffer_peek (value) : NULL;
  if (p == NULL || attr.ulValueLen != pp_secure_buffer_get_len (value) ||
      memcmp (p, SECRET_MAGIC, sizeof SECRET_MAGIC - 1) != 0)
    {
      g_set_error (error, PP_KEYSTORE_ERROR, PP_KEYSTORE_ERROR_INVALID_KEY,
                   _("The secret record \"%s\" on the token \"%s\" is damaged or was not written by posprov"),
                   label, self->token->token_label);
      return CKR_OK;
    }
  out->object = object;
  out->generation = 0;
  for (guint i = 0; i < 8; i++)
    out->generation = (out->generation << 8) | p[sizeof SECRET_MAGIC - 1 + i];
  out->value = g_steal_pointer (&value);
  return CKR_OK;
}

/* TRUE when @a is the newer of two versions. Two writers (two processes)
 * that raced may have made one generation twice: the larger value wins,
 * so every reader picks the same one until the next write replaces both. */
static gboolean
secret_version_newer (const SecretVersion *a,
                      const SecretVersion *b)
{
  gsize la = pp_secure_buffer_get_len (a->value), lb = pp_secure_buffer_get_len (b->value);
  int c;

  if (a->generation != b->generation)
    return a->generation > b->generation;
  c = memcmp (pp_secure_buffer_peek (a->value), pp_secure_buffer_peek (b->value), MIN (la, lb));
  return c > 0 || (c == 0 && la > lb);
}

/* Every live version of @label (@out_versions, SecretVersion) and the
 * newest one's index (-1 when none). */
static gboolean
read_secret_versions (PpKeyStorePkcs11  *self,
                      const char        *label,
                      GArray           **out_versions,
                      gint              *out_newest,
                      GError           **error)
{
  for (guint attempt = 0; attempt < SECRET_READ_TRIES; attempt++)
    {
      g_autoptr(GArray) handles = find_secret_versions (self, label, error);
      g_autoptr(GArray) versions = NULL;
      gboolean vanished = FALSE;
      gint newest = -1;

      if (handles == NULL)
        return FALSE;
      versions = g_array_new (FALSE, TRUE, sizeof (SecretVersion));
      g_array_set_clear_func (versions, (GDestroyNotify) secret_version_clear);
      for (guint i = 0; i < handles->len; i++)
        {
          SecretVersion version = { 0, };
          g_autoptr(GError) local = NULL;
          CK_RV rv = read_secret_version (self, g_array_index (handles, CK_OBJECT_HANDLE, i),
                                          label, &version, &local);

          if (rv == CKR_OBJECT_HANDLE_INVALID)
            {
              vanished = TRUE;
              continue;
            }
          if (local != NULL)
            {
              g_propagate_error (error, g_steal_pointer (&local));
              return FALSE;
            }
          g_array_append_val (versions, version);
          if (newest < 0 ||
              secret_version_newer (&version, &g_array_index (versions, SecretVersion, newest)))
            newest = (gint) versions->len - 1;
        }
      if (newest >= 0 || !vanished)
        {
          *out_versions = g_steal_pointer (&versions);
          *out_newest = newest;
          return TRUE;
        }
    }
  g_set_error (error, PP_KEYSTORE_ERROR, PP_KEYSTORE_ERROR_PKCS11,
               _("The secret record \"%s\" on the token \"%s\" kept changing while it was read"),
               label, self->token->token_label);
  return FALSE;
}

static gboolean
pkcs11_store_secret (PpKeyStore           *store,
                     const char           *label,
                     const PpSecureBuffer *record,
                     GError              **error)
{
  PpKeyStorePkcs11 *self = PP_KEY_STORE_PKCS11 (store);
  /* One writer of this store at a time: the generation is read, then made. */
  G_GNUC_UNUSED g_autoptr(GMutexLocker) locker = g_mutex_locker_new (&self->lock);
  CK_FUNCTION_LIST *m = self->token->module;
  CK_OBJECT_CLASS klass = CKO_DATA;
  gsize len = pp_secure_buffer_get_len (record);
  g_autoptr(PpSecureBuffer) value = pp_secure_buffer_new (SECRET_HEADER_LEN + len);
  g_autoptr(GArray) old = NULL;
  CK_OBJECT_HANDLE created = CK_INVALID_HANDLE;
  CK_SESSION_HANDLE session;
  guint64 generation = 1;
  gint newest = -1;
  guint8 *p = pp_secure_buffer_get_data (value);
  CK_RV rv = CKR_OK;

  if (!read_secret_versions (self, label, &old, &newest, error))
    return FALSE;
  if (newest >= 0)
    generation = g_array_index (old, SecretVersion, newest).generation + 1;

  memcpy (p, SECRET_MAGIC, sizeof SECRET_MAGIC - 1);
  for (guint i = 0; i < 8; i++)
    p[sizeof SECRET_MAGIC - 1 + i] = (guint8) (generation >> (56 - 8 * i));
  memcpy (p + SECRET_HEADER_LEN, pp_secure_buffer_peek (record), len);
  {
    /* Private: only a session logged in with the user PIN sees it. Not
     * modifiable: a record is replaced, never changed in place. */
    CK_ATTRIBUTE tmpl[] = {
      ATTR_ULONG (CKA_CLASS, klass),
      ATTR (CKA_LABEL, label, strlen (label)),
      ATTR (CKA_APPLICATION, SECRET_APPLICATION, strlen (SECRET_APPLICATION)),
      ATTR_BOOL (CKA_TOKEN, TRUE),
      ATTR_BOOL (CKA_PRIVATE, TRUE),
      ATTR_BOOL (CKA_MODIFIABLE, FALSE),
      ATTR (CKA_VALUE, p, SECRET_HEADER_LEN + len),
    };

    session = pp_p11_session_take_writer (self->token);
    rv = m->C_CreateObject (session, tmpl, G_N_ELEMENTS (tmpl), &created);
    pp_p11_session_give_writer (self->token, session);
  }
  if (rv != CKR_OK)
    {
      pp_p11_set_error (error, rv, _("The token could not store the secret record"));
      return FALSE;
    }

  /* Only once the new one is in: a failure above leaves the old one. An
   * old version another process destroyed meanwhile is gone already. */
  for (guint i = 0; i < old->len; i++)
    {
      session = pp_p11_session_take_writer (self->token);
      rv = m->C_DestroyObject (session, g_array_index (old, SecretVersion, i).object);
      pp_p11_session_give_writer (self->token, session);
      if (rv != CKR_OK && rv != CKR_OBJECT_HANDLE_INVALID)
        {
          /* The new record is in and is what readers get; the next write
           * destroys what is left of the old ones. */
          pp_p11_set_error (error, rv, _("The token stored the new secret record but kept a previous one"));
          return FALSE;
        }
    }
  return TRUE;
}

static PpSecureBuffer *
pkcs11_load_secret (PpKeyStore  *store,
                    const char  *label,
                    GError     **error)
{
  PpKeyStorePkcs11 *self = PP_KEY_STORE_PKCS11 (store);
  g_autoptr(GArray) versions = NULL;
  const SecretVersion *newest;
  gint index = -1;

  if (!read_secret_versions (self, label, &versions, &index, error))
    return NULL;
  if (index < 0)
    {
      g_set_error (error, PP_KEYSTORE_ERROR, PP_KEYSTORE_ERROR_NOT_FOUND,
                   _("The token \"%s\" holds no secret record \"%s\""),
                   self->token->token_label, label);
      return NULL;
    }
  newest = &g_array_index (versions, SecretVersion, index);
  return pp_secure_buffer_new_from (pp_secure_buffer_peek (newest->value) + SECRET_HEADER_LEN,
                                    pp_secure_buffer_get_len (newest->value) - SECRET_HEADER_LEN);
}

static void
pp_key_store_pkcs11_iface_init (PpKeyStoreInterface *iface)
{
  iface->get_backend_name = pkcs11_get_backend_name;
  iface->generate_kdh_key = pkcs11_generate_kdh_key;
  iface->get_signer = pkcs11_get_signer;
  iface->store_certificate = pkcs11_store_certificate;
  iface->load_certificate = pkcs11_load_certificate;
  iface->generate_tmk = pkcs11_generate_tmk;
  iface->get_tmk_kcv = pkcs11_get_tmk_kcv;
  iface->export_tmk = pkcs11_export_tmk;
  iface->generate_and_export_tmk = pkcs11_generate_and_export_tmk;
  iface->store_secret = pkcs11_store_secret;
  iface->load_secret = pkcs11_load_secret;
}

static void
pp_key_store_pkcs11_finalize (GObject *object)
{
  PpKeyStorePkcs11 *self = PP_KEY_STORE_PKCS11 (object);

  g_clear_pointer (&self->token, pp_p11_token_unref);
  g_clear_pointer (&self->creating, g_hash_table_unref);
  g_mutex_clear (&self->lock);

  G_OBJECT_CLASS (pp_key_store_pkcs11_parent_class)->finalize (object);
}

static void
pp_key_store_pkcs11_class_init (PpKeyStorePkcs11Class *klass)
{
  G_OBJECT_CLASS (klass)->finalize = pp_key_store_pkcs11_finalize;
}

static void
pp_key_store_pkcs11_init (PpKeyStorePkcs11 *self)
{
  g_mutex_init (&self->lock);
  self->creating = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
}

PpKeyStore *
pp_key_store_pkcs11_new (const char  *uri_string,
                         const char  *pin,
                         GError     **error)
{
  g_autoptr(P11KitUri) uri = NULL;
  PpKeyStorePkcs11 *self;
  PpP11Token *token;

  g_return_val_if_fail (uri_string != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  uri = pp_p11_uri_parse (uri_string, error);
  if (uri == NULL)
    return NULL;
  token = pp_p11_token_open (uri, pin, TRUE, error);
  if (token == NULL)
    return NULL;

  self = g_object_new (PP_TYPE_KEY_STORE_PKCS11, NULL);
  self->token = token;
  return PP_KEY_STORE (self);
}

PpP11Token *
pp_key_store_pkcs11_peek_token (PpKeyStore *store)
{
  g_return_val_if_fail (PP_IS_KEY_STORE_PKCS11 (store), NULL);

  return PP_KEY_STORE_PKCS11 (store)->token;
}
