/* SPDX-License-Identifier: GPL-3.0-or-later
 *
 * pp-keystore-private.h: what the signer and the two key store backends
 * share: PEM reading and a reference-counted PKCS#11 token session.
 */
#pragma once

#include <p11-kit/p11-kit.h>
#include <p11-kit/uri.h>

#include "pp-kcv.h"
#include "pp-keystore.h"

G_BEGIN_DECLS

/* The soft store's file for a secret record (the journal key). */
#define PP_KEYSTORE_SOFT_SECRET_SUFFIX ".secret.pem"

G_DEFINE_AUTOPTR_CLEANUP_FUNC (P11KitUri, p11_kit_uri_free)

/* One logged-in session on one token. PKCS#11 sessions must not be used
 * by two threads at once: every call on @session holds @lock. */
typedef struct _PpP11Token
{
  gint                ref_count;
  GMutex              lock;
  CK_FUNCTION_LIST   *module;     /* the module holding the token */
  CK_FUNCTION_LIST   *loaded;     /* set when loaded from module-path= */
  CK_FUNCTION_LIST  **registered; /* set when searched in p11-kit's registry */
  CK_SLOT_ID          slot;
  CK_SESSION_HANDLE   session;
  char               *token_label;
} PpP11Token;

/* A PKCS#11 URI for the key store and the signer; PP_KEYSTORE_ERROR_INVALID_URI
 * when it does not parse. */
P11KitUri  *pp_p11_uri_parse          (const char    *uri_string,
                                       GError       **error);

PpP11Token *pp_p11_token_open         (P11KitUri     *uri,
                                       const char    *pin,
                                       gboolean       read_write,
                                       GError       **error);
PpP11Token *pp_p11_token_ref          (PpP11Token    *token);
void        pp_p11_token_unref        (PpP11Token    *token);

/* Turns a CK_RV into a PP_KEYSTORE_ERROR with a specific code. */
void        pp_p11_set_error          (GError       **error,
                                       CK_RV          rv,
                                       const char    *what);

/* The single object matching @tmpl (OBJECT_NOT_FOUND / AMBIGUOUS). */
gboolean    pp_p11_find_one           (PpP11Token    *token,
                                       CK_ATTRIBUTE  *tmpl,
                                       CK_ULONG       n_tmpl,
                                       const char    *what,
                                       CK_OBJECT_HANDLE *out_object,
                                       GError       **error);
/* 0 or 1 objects match @tmpl, 2 means several; -1 on error. */
gint        pp_p11_count              (PpP11Token    *token,
                                       CK_ATTRIBUTE  *tmpl,
                                       CK_ULONG       n_tmpl,
                                       GError       **error);

/* A non-sensitive attribute value (never use for key material). */
GBytes     *pp_p11_get_attribute      (PpP11Token    *token,
                                       CK_OBJECT_HANDLE object,
                                       CK_ATTRIBUTE_TYPE type,
                                       GError       **error);

gboolean    pp_p11_mechanism_supported (PpP11Token       *token,
                                        CK_MECHANISM_TYPE mechanism,
                                        CK_FLAGS          flags);

gboolean    pp_p11_sign               (PpP11Token       *token,
                                       CK_OBJECT_HANDLE  key,
                                       CK_MECHANISM_TYPE mechanism,
                                       const guint8     *data,
                                       gsize             len,
                                       GBytes          **out_signature,
                                       GError          **error);

EVP_PKEY   *pp_p11_get_public_key     (PpP11Token       *token,
                                       CK_OBJECT_HANDLE  private_key,
                                       GError          **error);

/* Signer constructors used by pp_signer_new_for_uri() and the stores. */
PpSigner   *pp_signer_new_for_pkey        (EVP_PKEY      *pkey,
                                           GError       **error);
PpSigner   *pp_signer_new_for_p11         (PpP11Token    *token,
                                           CK_OBJECT_HANDLE key,
                                           GError       **error);
PpSigner   *pp_signer_new_for_pkcs11_uri  (const char    *uri,
                                           const char    *pin,
                                           GError       **error);

/* Reads a PEM private key, mapping failures to specific codes. */
EVP_PKEY   *pp_keystore_read_private_key_pem (const char *path,
                                              const char *passphrase,
                                              GError    **error);
EVP_PKEY   *pp_keystore_public_only      (EVP_PKEY     *pkey,
                                          GError      **error);

gboolean       pp_keystore_check_label   (const char  *label,
                                          GError     **error);
PpKeyAlgorithm pp_tmk_type_get_algorithm (PpTmkType    type);

G_END_DECLS
