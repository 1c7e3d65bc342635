/* SPDX-License-Identifier: GPL-3.0-or-later
 *
 * pp-pkcs11.c: finding a token through p11-kit, logging in, and the few
 * raw PKCS#11 calls the signer needs. Nothing here reads key material:
 * the only attributes read are public ones (modulus, exponent, labels).
 */
#include "config.h"

#include <string.h>

#include <glib/gi18n-lib.h>
#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>

#include "pp-keystore-private.h"
#include "pp-openssl-types.h"

void
pp_p11_set_error (GError     **error,
                  CK_RV        rv,
                  const char  *what)
{
  PpKeyStoreError code;

  switch (rv)
    {
    case CKR_PIN_INCORRECT:
    case CKR_PIN_INVALID:
    case CKR_PIN_LEN_RANGE:
      code = PP_KEYSTORE_ERROR_BAD_PIN;
      break;
    case CKR_PIN_LOCKED:
    case CKR_PIN_EXPIRED:
      code = PP_KEYSTORE_ERROR_PIN_LOCKED;
      break;
    case CKR_USER_NOT_LOGGED_IN:
    case CKR_USER_PIN_NOT_INITIALIZED:
      code = PP_KEYSTORE_ERROR_PIN_REQUIRED;
      break;
    case CKR_MECHANISM_INVALID:
    case CKR_MECHANISM_PARAM_INVALID:
      code = PP_KEYSTORE_ERROR_MECHANISM_UNSUPPORTED;
      break;
    case CKR_TOKEN_NOT_PRESENT:
    case CKR_TOKEN_NOT_RECOGNIZED:
    case CKR_SLOT_ID_INVALID:
    case CKR_DEVICE_REMOVED:
      code = PP_KEYSTORE_ERROR_TOKEN_NOT_FOUND;
      break;
    case CKR_OBJECT_HANDLE_INVALID:
    case CKR_KEY_HANDLE_INVALID:
      code = PP_KEYSTORE_ERROR_OBJECT_NOT_FOUND;
      break;
    default:
      code = PP_KEYSTORE_ERROR_PKCS11;
      break;
    }

  g_set_error (error, PP_KEYSTORE_ERROR, code, "%s: %s (CKR 0x%08lx)",
               what, p11_kit_strerror (rv), (unsigned long) rv);
}

static char *
token_label (const CK_TOKEN_INFO *info)
{
  return g_strchomp (g_strndup ((const char *) info->label, sizeof info->label));
}

/* First slot of @module whose token matches @uri. */
static gboolean
find_token_slot (CK_FUNCTION_LIST *module,
                 P11KitUri        *uri,
                 CK_SLOT_ID       *out_slot,
                 char            **out_label)
{
  g_autofree CK_SLOT_ID *slots = NULL;
  CK_ULONG n = 0;

  if (module->C_GetSlotList (CK_TRUE, NULL, &n) != CKR_OK || n == 0)
    return FALSE;
  slots = g_new0 (CK_SLOT_ID, n);
  if (module->C_GetSlotList (CK_TRUE, slots, &n) != CKR_OK)
    return FALSE;

  for (CK_ULONG i = 0; i < n; i++)
    {
      CK_TOKEN_INFO info;

      if (module->C_GetTokenInfo (slots[i], &info) != CKR_OK)
        continue;
      if (!(info.flags & CKF_TOKEN_INITIALIZED))
        continue;
      if (!p11_kit_uri_match_token_info (uri, &info))
        continue;
      *out_slot = slots[i];
      *out_label = token_label (&info);
      return TRUE;
    }
  return FALSE;
}

static gboolean
token_login (PpP11Token  *self,
             const char  *pin,
             GError     **error)
{
  CK_TOKEN_INFO info;
  CK_RV rv;

  rv = self->module->C_GetTokenInfo (self->slot, &info);
  if (rv != CKR_OK)
    {
      pp_p11_set_error (error, rv, _("Cannot read the token information"));
      return FALSE;
    }

  if (info.flags & CKF_PROTECTED_AUTHENTICATION_PATH && pin == NULL)
    rv = self->module->C_Login (self->session, CKU_USER, NULL, 0);
  else if (pin != NULL)
    rv = self->module->C_Login (self->session, CKU_USER,
                                (CK_UTF8CHAR_PTR) pin, strlen (pin));
  else if (info.flags & CKF_LOGIN_REQUIRED)
    {
      g_set_error (error, PP_KEYSTORE_ERROR, PP_KEYSTORE_ERROR_PIN_REQUIRED,
                   _("The token \"%s\" needs a user PIN"), self->token_label);
      return FALSE;
    }
  else
    return TRUE;

  if (rv == CKR_OK || rv == CKR_USER_ALREADY_LOGGED_IN)
    return TRUE;

  if (rv == CKR_PIN_INCORRECT)
    g_set_error (error, PP_KEYSTORE_ERROR, PP_KEYSTORE_ERROR_BAD_PIN,
                 _("Wrong user PIN for the token \"%s\""), self->token_label);
  else if (rv == CKR_PIN_LOCKED)
    g_set_error (error, PP_KEYSTORE_ERROR, PP_KEYSTORE_ERROR_PIN_LOCKED,
                 _("The user PIN of the token \"%s\" is locked"), self->token_label);
  else
    pp_p11_set_error (error, rv, _("Login to the token failed"));
  return FALSE;
}

P11KitUri *
pp_p11_uri_parse (const char  *uri_string,
                  GError     **error)
{
  g_autoptr(P11KitUri) uri = p11_kit_uri_new ();
  int ret;

  ret = p11_kit_uri_parse (uri_string, P11_KIT_URI_FOR_ANY, uri);
  if (ret != P11_KIT_URI_OK)
    {
      g_set_error (error, PP_KEYSTORE_ERROR, PP_KEYSTORE_ERROR_INVALID_URI,
                   _("Invalid PKCS#11 URI: %s"), p11_kit_uri_message (ret));
      return NULL;
    }
  return g_steal_pointer (&uri);
}

PpP11Token *
pp_p11_token_open (P11KitUri   *uri,
                   const char  *pin,
                   gboolean     read_write,
                   GError     **error)
{
  PpP11Token *self;
  const char *module_path = p11_kit_uri_get_module_path (uri);
  const char *uri_pin = p11_kit_uri_get_pin_value (uri);
  gboolean found = FALSE;
  CK_RV rv;

  self = g_new0 (PpP11Token, 1);
  self->ref_count = 1;
  self->session = CK_INVALID_HANDLE;
  g_mutex_init (&self->lock);
  g_rw_lock_init (&self->objects);
  g_cond_init (&self->idle_cond);
  self->idle = g_array_new (FALSE, FALSE, sizeof (CK_SESSION_HANDLE));
  self->read_write = read_write;

  if (module_path != NULL)
    {
      self->loaded = p11_kit_module_load (module_path, 0);
      if (self->loaded == NULL)
        {
          g_set_error (error, PP_KEYSTORE_ERROR, PP_KEYSTORE_ERROR_MODULE_LOAD_FAILED,
                       _("Cannot load the PKCS#11 module %s: %s"), module_path,
                       p11_kit_message () != NULL ? p11_kit_message () : _("unknown reason"));
          goto fail;
        }
      rv = p11_kit_module_initialize (self->loaded);
      if (rv != CKR_OK)
        {
          p11_kit_module_release (self->loaded);
          self->loaded = NULL;
          g_set_error (error, PP_KEYSTORE_ERROR, PP_KEYSTORE_ERROR_MODULE_LOAD_FAILED,
                       _("Cannot initialise the PKCS#11 module %s: %s"),
                       module_path, p11_kit_strerror (rv));
          goto fail;
        }
      self->module = self->loaded;
      found = find_token_slot (self->module, uri, &self->slot, &self->token_label);
    }
  else
    {
      self->registered = p11_kit_modules_load_and_initialize (0);
      if (self->registered == NULL || self->registered[0] == NULL)
        {
          g_set_error_literal (error, PP_KEYSTORE_ERROR, PP_KEYSTORE_ERROR_MODULE_LOAD_FAILED,
                               _("No PKCS#11 module is registered with p11-kit; "
                                 "give one with module-path= in the URI"));
          goto fail;
        }
      for (guint i = 0; self->registered[i] != NULL && !found; i++)
        {
          self->module = self->registered[i];
          found = find_token_slot (self->module, uri, &self->slot, &self->token_label);
        }
    }

  if (!found)
    {
      g_set_error_literal (error, PP_KEYSTORE_ERROR, PP_KEYSTORE_ERROR_TOKEN_NOT_FOUND,
                           _("No PKCS#11 token matches the URI"));
      goto fail;
    }

  rv = self->module->C_OpenSession (self->slot,
                                    CKF_SERIAL_SESSION | (read_write ? CKF_RW_SESSION : 0),
                                    NULL, NULL, &self->session);
  if (rv != CKR_OK)
    {
      self->session = CK_INVALID_HANDLE;
      pp_p11_set_error (error, rv, _("Cannot open a session on the token"));
      goto fail;
    }

  if (!token_login (self, uri_pin != NULL ? uri_pin : pin, error))
    goto fail;
  /* The login session is the pool's first. */
  self->n_open = 1;
  g_array_append_val (self->idle, self->session);

  return self;

fail:
  pp_p11_token_unref (self);
  return NULL;
}

PpP11Token *
pp_p11_token_ref (PpP11Token *token)
{
  g_atomic_int_inc (&token->ref_count);
  return token;
}

void
pp_p11_token_unref (PpP11Token *token)
{
  if (token == NULL || !g_atomic_int_dec_and_test (&token->ref_count))
    return;

  /* Every session is back in the pool (no call is running on a token
   * whose last reference goes). The login session closes last: closing
   * the last session logs the application out of the token. */
  for (guint i = 0; i < token->idle->len; i++)
    {
      CK_SESSION_HANDLE s = g_array_index (token->idle, CK_SESSION_HANDLE, i);

      if (s != token->session)
        token->module->C_CloseSession (s);
    }
  if (token->session != CK_INVALID_HANDLE)
    token->module->C_CloseSession (token->session);
  g_array_unref (token->idle);
  g_cond_clear (&token->idle_cond);
  g_rw_lock_clear (&token->objects);
  if (token->loaded != NULL)
    {
      p11_kit_module_finalize (token->loaded);
      p11_kit_module_release (token->loaded);
    }
  if (token->registered != NULL)
    p11_kit_modules_finalize_and_release (token->registered);
  g_mutex_clear (&token->lock);
  g_free (token->token_label);
  g_free (token);
}

/* A session for one call (or one sequence that must stay on one session:
 * find init/find/final, sign init/sign, generate/wrap/destroy), an idle one
 * or a new one up to PP_P11_MAX_SESSIONS, so calls on several threads run
 * in the token at once instead of one after another. A new session is
 * logged in already: login state belongs to the application. */
static CK_SESSION_HANDLE
session_take (PpP11Token *token)
{
  G_GNUC_UNUSED g_autoptr(GMutexLocker) locker = g_mutex_locker_new (&token->lock);
  CK_SESSION_HANDLE session;

  while (token->idle->len == 0)
    {
      if (token->n_open < PP_P11_MAX_SESSIONS)
        {
          CK_RV rv = token->module->C_OpenSession (token->slot,
                                                   CKF_SERIAL_SESSION | (token->read_write ? CKF_RW_SESSION : 0),
                                                   NULL, NULL, &session);

          if (rv == CKR_OK)
            {
              token->n_open++;
              return session;
            }
          /* The token has no more sessions for us: wait for one of ours. */
          g_debug ("keystore: no further PKCS#11 session (CKR 0x%08lx)", (unsigned long) rv);
          token->n_open = PP_P11_MAX_SESSIONS;
        }
      g_cond_wait (&token->idle_cond, &token->lock);
    }
  session = g_array_index (token->idle, CK_SESSION_HANDLE, token->idle->len - 1);
  g_array_set_size (token->idle, token->idle->len - 1);
  return session;
}

static void
session_give (PpP11Token        *token,
              CK_SESSION_HANDLE  session)
{
  G_GNUC_UNUSED g_autoptr(GMutexLocker) locker = g_mutex_locker_new (&token->lock);

  g_array_append_val (token->idle, session);
  g_cond_signal (&token->idle_cond);
}

/* The session first, then the object lock: a thread waiting for a
 * session holds no lock, so readers and writers cannot wait on each other
 * in a circle. */
CK_SESSION_HANDLE
pp_p11_session_take (PpP11Token *token)
{
  CK_SESSION_HANDLE session = session_take (token);

  g_rw_lock_reader_lock (&token->objects);
  return session;
}

void
pp_p11_session_give (PpP11Token        *token,
                     CK_SESSION_HANDLE  session)
{
  g_rw_lock_reader_unlock (&token->objects);
  session_give (token, session);
}

CK_SESSION_HANDLE
pp_p11_session_take_writer (PpP11Token *token)
{
  CK_SESSION_HANDLE session = session_take (token);

  g_rw_lock_writer_lock (&token->objects);
  return session;
}

void
pp_p11_session_give_writer (PpP11Token        *token,
                            CK_SESSION_HANDLE  session)
{
  g_rw_lock_writer_unlock (&token->objects);
  session_give (token, session);
}

guint
pp_p11_session_count (PpP11Token *token)
{
  G_GNUC_UNUSED g_autoptr(GMutexLocker) locker = g_mutex_locker_new (&token->lock);

  return token->idle->len;
}

/* On a session the caller took from the pool. */
static gint
find_locked (PpP11Token       *token,
             CK_SESSION_HANDLE session,
             CK_ATTRIBUTE     *tmpl,
             CK_ULONG          n_tmpl,
             CK_OBJECT_HANDLE *out_first,
             GError          **error)
{
  CK_FUNCTION_LIST *m = token->module;
  CK_OBJECT_HANDLE found[2];
  CK_ULONG n = 0;
  CK_RV rv;

  rv = m->C_FindObjectsInit (session, tmpl, n_tmpl);
  if (rv != CKR_OK)
    {
      pp_p11_set_error (error, rv, _("Cannot search the token"));
      return -1;
    }
  rv = m->C_FindObjects (session, found, G_N_ELEMENTS (found), &n);
  m->C_FindObjectsFinal (session);
  if (rv != CKR_OK)
    {
      pp_p11_set_error (error, rv, _("Cannot search the token"));
      return -1;
    }
  if (n > 0 && out_first != NULL)
    *out_first = found[0];
  return (gint) n;
}

gint
pp_p11_count (PpP11Token   *token,
              CK_ATTRIBUTE *tmpl,
              CK_ULONG      n_tmpl,
              GError      **error)
{
  gint n;

  CK_SESSION_HANDLE session = pp_p11_session_take (token);

  n = find_locked (token, session, tmpl, n_tmpl, NULL, error);
  pp_p11_session_give (token, session);
  return n;
}

gboolean
pp_p11_find_one (PpP11Token       *token,
                 CK_ATTRIBUTE     *tmpl,
                 CK_ULONG          n_tmpl,
                 const char       *what,
                 CK_OBJECT_HANDLE *out_object,
                 GError          **error)
{
  gint n;

  CK_SESSION_HANDLE session = pp_p11_session_take (token);

  n = find_locked (token, session, tmpl, n_tmpl, out_object, error);
  pp_p11_session_give (token, session);

  if (n < 0)
    return FALSE;
  if (n == 0)
    {
      g_set_error (error, PP_KEYSTORE_ERROR, PP_KEYSTORE_ERROR_OBJECT_NOT_FOUND,
                   _("No %s on the token \"%s\""), what, token->token_label);
      return FALSE;
    }
  if (n > 1)
    {
      g_set_error (error, PP_KEYSTORE_ERROR, PP_KEYSTORE_ERROR_AMBIGUOUS,
                   _("Several objects on the token \"%s\" match the %s"),
                   token->token_label, what);
      return FALSE;
    }
  return TRUE;
}

GBytes *
pp_p11_get_attribute (PpP11Token        *token,
                      CK_OBJECT_HANDLE   object,
                      CK_ATTRIBUTE_TYPE  type,
                      GError           **error)
{
  CK_ATTRIBUTE attr = { type, NULL, 0 };
  g_autofree guint8 *value = NULL;
  CK_SESSION_HANDLE session;
  CK_RV rv;

  session = pp_p11_session_take (token);
  rv = token->module->C_GetAttributeValue (session, object, &attr, 1);
  if (rv == CKR_OK && attr.ulValueLen != CK_UNAVAILABLE_INFORMATION)
    {
      value = g_malloc (MAX (attr.ulValueLen, 1));
      attr.pValue = value;
      rv = token->module->C_GetAttributeValue (session, object, &attr, 1);
    }
  pp_p11_session_give (token, session);

  if (rv != CKR_OK || attr.ulValueLen == CK_UNAVAILABLE_INFORMATION)
    {
      pp_p11_set_error (error, rv != CKR_OK ? rv : CKR_ATTRIBUTE_TYPE_INVALID,
                        _("Cannot read an attribute of a token object"));
      return NULL;
    }
  return g_bytes_new_take (g_steal_pointer (&value), attr.ulValueLen);
}

gboolean
pp_p11_mechanism_supported (PpP11Token        *token,
                            CK_MECHANISM_TYPE  mechanism,
                            CK_FLAGS           flags)
{
  CK_MECHANISM_INFO info;

  if (token->module->C_GetMechanismInfo (token->slot, mechanism, &info) != CKR_OK)
    return FALSE;
  return (info.flags & flags) == flags;
}

/* DER DigestInfo prefix for SHA-256 (RFC 8017, 9.2 note 1), for tokens
 * that only offer raw CKM_RSA_PKCS. */
static const guint8 sha256_digest_info[] = {
  0x30, 0x31, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01,
  0x65, 0x03, 0x04, 0x02, 0x01, 0x05, 0x00, 0x04, 0x20,
};

gboolean
pp_p11_sign (PpP11Token        *token,
             CK_OBJECT_HANDLE   key,
             CK_MECHANISM_TYPE  mechanism,
             const guint8      *data,
             gsize              len,
             GBytes           **out_signature,
             GError           **error)
{
  CK_MECHANISM mech = { mechanism, NULL, 0 };
  guint8 digest_info[sizeof sha256_digest_info + 32];
  const guint8 *input = data;
  CK_ULONG input_len = len;
  g_autofree guint8 *sig = NULL;
  CK_ULONG sig_len = 0;
  CK_SESSION_HANDLE session;
  CK_RV rv;

  if (mechanism == CKM_RSA_PKCS)
    {
      unsigned int md_len = 32;

      memcpy (digest_info, sha256_digest_info, sizeof sha256_digest_info);
      if (EVP_Digest (data, len, digest_info + sizeof sha256_digest_info, &md_len,
                      EVP_sha256 (), NULL) != 1)
        {
          g_set_error_literal (error, PP_KEYSTORE_ERROR, PP_KEYSTORE_ERROR_CRYPTO,
                               _("SHA-256 failed"));
          return FALSE;
        }
      input = digest_info;
      input_len = sizeof digest_info;
    }

  session = pp_p11_session_take (token);
  rv = token->module->C_SignInit (session, &mech, key);
  if (rv == CKR_OK)
    rv = token->module->C_Sign (session, (CK_BYTE_PTR) input, input_len,
                                NULL, &sig_len);
  if (rv == CKR_OK)
    {
      sig = g_malloc (MAX (sig_len, 1));
      rv = token->module->C_Sign (session, (CK_BYTE_PTR) input, input_len,
                                  sig, &sig_len);
    }
  pp_p11_session_give (token, session);

  if (rv != CKR_OK)
    {
      pp_p11_set_error (error, rv, _("The token refused to sign"));
      return FALSE;
    }

  *out_signature = g_bytes_new_take (g_steal_pointer (&sig), sig_len);
  return TRUE;
}

static EVP_PKEY *
rsa_from_parts (GBytes  *modulus,
                GBytes  *exponent,
                GError **error)
{
  g_autoptr(BIGNUM) n = NULL;
  g_autoptr(BIGNUM) e = NULL;
  g_autoptr(OSSL_PARAM_BLD) bld = OSSL_PARAM_BLD_new ();
  g_autoptr(OSSL_PARAM) params = NULL;
  g_autoptr(EVP_PKEY_CTX) ctx = NULL;
  EVP_PKEY *pkey = NULL;
  gsize n_len, e_len;
  const guint8 *n_data = g_bytes_get_data (modulus, &n_len);
  const guint8 *e_data = g_bytes_get_data (exponent, &e_len);

  n = BN_bin2bn (n_data, (int) n_len, NULL);
  e = BN_bin2bn (e_data, (int) e_len, NULL);
  if (n == NULL || e == NULL || bld == NULL ||
      OSSL_PARAM_BLD_push_BN (bld, OSSL_PKEY_PARAM_RSA_N, n) != 1 ||
      OSSL_PARAM_BLD_push_BN (bld, OSSL_PKEY_PARAM_RSA_E, e) != 1 ||
      (params = OSSL_PARAM_BLD_to_param (bld)) == NULL ||
      (ctx = EVP_PKEY_CTX_new_from_name (NULL, "RSA", NULL)) == NULL ||
      EVP_PKEY_fromdata_init (ctx) != 1 ||
      EVP_PKEY_fromdata (ctx, &pkey, EVP_PKEY_PUBLIC_KEY, params) != 1)
    {
      ERR_clear_error ();
      g_set_error_literal (error, PP_KEYSTORE_ERROR, PP_KEYSTORE_ERROR_CRYPTO,
                           _("Cannot build the RSA public key read from the token"));
      return NULL;
    }
  return pkey;
}

EVP_PKEY *
pp_p11_get_public_key (PpP11Token        *token,
                       CK_OBJECT_HANDLE   private_key,
                       GError           **error)
{
  g_autoptr(GBytes) n = NULL;
  g_autoptr(GBytes) e = NULL;
  g_autoptr(GBytes) id = NULL;
  CK_OBJECT_CLASS klass = CKO_PUBLIC_KEY;
  CK_OBJECT_HANDLE pub;

  /* Modulus and public exponent are public attributes of an RSA private
   * key object; some tokens omit the exponent there, then the matching
   * public key object (same CKA_ID) has both. */
  n = pp_p11_get_attribute (token, private_key, CKA_MODULUS, NULL);
  e = pp_p11_get_attribute (token, private_key, CKA_PUBLIC_EXPONENT, NULL);
  if (n != NULL && e != NULL && g_bytes_get_size (e) > 0)
    return rsa_from_parts (n, e, error);

  id = pp_p11_get_attribute (token, private_key, CKA_ID, error);
  if (id == NULL)
    return NULL;
  {
    CK_ATTRIBUTE tmpl[] = {
      { CKA_CLASS, &klass, sizeof klass },
      { CKA_ID, (void *) g_bytes_get_data (id, NULL), g_bytes_get_size (id) },
    };
    if (!pp_p11_find_one (token, tmpl, G_N_ELEMENTS (tmpl), _("public key for the KDH key"),
                          &pub, error))
      return NULL;
  }
  g_clear_pointer (&n, g_bytes_unref);
  g_clear_pointer (&e, g_bytes_unref);
  n = pp_p11_get_attribute (token, pub, CKA_MODULUS, error);
  if (n == NULL)
    return NULL;
  e = pp_p11_get_attribute (token, pub, CKA_PUBLIC_EXPONENT, error);
  if (e == NULL)
    return NULL;
  return rsa_from_parts (n, e, error);
}

PpSigner *
pp_signer_new_for_pkcs11_uri (const char  *uri_string,
                              const char  *pin,
                              GError     **error)
{
  g_autoptr(P11KitUri) uri = NULL;
  PpP11Token *token;
  CK_ATTRIBUTE *attrs;
  CK_ULONG n_attrs = 0;
  CK_OBJECT_CLASS klass = CKO_PRIVATE_KEY;
  CK_ATTRIBUTE tmpl[3];
  CK_ULONG n_tmpl = 0;
  gboolean named = FALSE;
  CK_OBJECT_HANDLE key;
  PpSigner *signer;

  uri = pp_p11_uri_parse (uri_string, error);
  if (uri == NULL)
    return NULL;

  tmpl[n_tmpl++] = (CK_ATTRIBUTE) { CKA_CLASS, &klass, sizeof klass };
  attrs = p11_kit_uri_get_attributes (uri, &n_attrs);
  for (CK_ULONG i = 0; i < n_attrs; i++)
    {
      switch (attrs[i].type)
        {
        case CKA_CLASS:
          if (attrs[i].ulValueLen != sizeof (CK_OBJECT_CLASS) ||
              *(CK_OBJECT_CLASS *) attrs[i].pValue != CKO_PRIVATE_KEY)
            {
              g_set_error_literal (error, PP_KEYSTORE_ERROR, PP_KEYSTORE_ERROR_INVALID_URI,
                                   _("The PKCS#11 URI of a signing key must say type=private"));
              return NULL;
            }
          break;
        case CKA_LABEL:
        case CKA_ID:
          tmpl[n_tmpl++] = attrs[i];
          named = TRUE;
          break;
        default:
          break;
        }
    }
  if (!named)
    {
      g_set_error_literal (error, PP_KEYSTORE_ERROR, PP_KEYSTORE_ERROR_INVALID_URI,
                           _("The PKCS#11 URI names no key (object= or id=)"));
      return NULL;
    }

  token = pp_p11_token_open (uri, pin, FALSE, error);
  if (token == NULL)
    return NULL;
  if (!pp_p11_find_one (token, tmpl, n_tmpl, _("private key matching the URI"), &key, error))
    {
      pp_p11_token_unref (token);
      return NULL;
    }
  signer = pp_signer_new_for_p11 (token, key, error);
  pp_p11_token_unref (token);
  return signer;
}
