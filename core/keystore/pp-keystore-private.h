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

/* One token, logged in, with a pool of sessions. A PKCS#11 session must
 * not be used by two threads at once: each call takes a session of its
 * own from the pool (pp_p11_session_take) and gives it back. */
/* Sessions a token may have open for one PpP11Token: a fleet's TMKs are
 * made on this many at once. */
#define PP_P11_MAX_SESSIONS 8

typedef struct _PpP11Token
{
  gint                ref_count;
  GMutex              lock;       /* guards the session pool */
  GRWLock             objects;    /* writers: token object creation/destruction */
  GCond               idle_cond;  /* a session went back to @idle */
  CK_FUNCTION_LIST   *module;     /* the module holding the token */
  CK_FUNCTION_LIST   *loaded;     /* set when loaded from module-path= */
  CK_FUNCTION_LIST  **registered; /* set when searched in p11-kit's registry */
  CK_SLOT_ID          slot;
  CK_SESSION_HANDLE   session;    /* the login session, open for the token's life */
  GArray             *idle;       /* CK_SESSION_HANDLE not in use, @session among them */
  guint               n_open;     /* sessions open, in use or idle */
  gboolean            read_write;
  char               *token_label;
} PpP11Token;

/* A session of the pool, for the caller alone until it gives it back;
 * never fails (waits when all are in use). take/give: for calls that only
 * use objects (find, attributes, encrypt, sign, wrap, session objects),
 * which run at once on several sessions; take_writer/give_writer: for
 * calls that create, change or destroy token objects, one at a time and
 * never while a reader runs. SoftHSM2 2.6.1 (Debian 12) corrupts its file
 * object store when a token object is created while another session
 * searches (its issue 573, fixed after that release). Never nest two. */
CK_SESSION_HANDLE pp_p11_session_take        (PpP11Token       *token);
void              pp_p11_session_give        (PpP11Token       *token,
                                              CK_SESSION_HANDLE session);
CK_SESSION_HANDLE pp_p11_session_take_writer (PpP11Token       *token);
void              pp_p11_session_give_writer (PpP11Token       *token,
                                              CK_SESSION_HANDLE session);
/* Sessions open and idle (tests). */
guint             pp_p11_session_count (PpP11Token       *token);
/* The token of a pkcs11 key store (tests). */
PpP11Token       *pp_key_store_pkcs11_peek_token (PpKeyStore *store);

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
