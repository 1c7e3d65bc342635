/* SPDX-License-Identifier: GPL-3.0-or-later
 *
 * pp-key-host.h: the key host (KDH) behind the registry, as agreed in this
 * session's seams: the declarations only, so that the local registry
 * compiles before the key host lands (its helper owns this file and
 * pp-key-host.c; until then pp-key-host-stub.c makes no key host).
 */
#pragma once

#include <gio/gio.h>

#include "pp-keystore.h"
#include "pp-store.h"

G_BEGIN_DECLS

#define PP_KEY_HOST_ERROR (pp_key_host_error_quark ())
typedef enum {                     /* each refusal is also journalled */
  PP_KEY_HOST_ERROR_NO_APPROVAL,        /* order not approved */
  PP_KEY_HOST_ERROR_SELF_APPROVAL,      /* approved by the requester */
  PP_KEY_HOST_ERROR_APPROVER_ROLE,      /* approver lacks the reviewer role */
  PP_KEY_HOST_ERROR_APPROVAL_VOID,      /* the approval is for other content */
  PP_KEY_HOST_ERROR_CHAIN,              /* CT_KRD does not chain to CA_KRD */
  PP_KEY_HOST_ERROR_EXPIRED,            /* a certificate is not valid now */
  PP_KEY_HOST_ERROR_WRONG_SERIAL,       /* CT_KRD names another serial than the order */
  PP_KEY_HOST_ERROR_NONCE_REUSED,       /* RT_KRD's nonce was used before */
  PP_KEY_HOST_ERROR_STATE,              /* order not in the state the step needs */
  PP_KEY_HOST_ERROR_DUPLICATE_KEY,      /* the TMK equals one released before */
  PP_KEY_HOST_ERROR_KCV_MISMATCH,
  PP_KEY_HOST_ERROR_BAD_TOKEN,          /* not DER / not a TR-34 token */
  PP_KEY_HOST_ERROR_CONFIG,             /* KDH key, certificate, CRL or CA_KRD missing */
} PpKeyHostError;

GQuark     pp_key_host_error_quark (void);

typedef struct _PpKeyHost PpKeyHost;   /* refcounted, thread-safe */

PpKeyHost *pp_key_host_new   (PpStore *store, PpKeyStore *key_store, GError **error);  /* reads its config from the store */
PpKeyHost *pp_key_host_ref   (PpKeyHost *self);
void       pp_key_host_unref (PpKeyHost *self);
GBytes    *pp_key_host_get_certificate (PpKeyHost *self);      /* KDH certificate, DER */
GBytes    *pp_key_host_get_crl         (PpKeyHost *self);      /* DER, may be NULL */
GBytes    *pp_key_host_issue_ct_kdh    (PpKeyHost *self, gint64 order_id, const char *actor, GError **error);
GBytes    *pp_key_host_issue_key_token (PpKeyHost *self, gint64 order_id, GBytes *ct_krd,
                                        GBytes *rt_krd, const char *actor, GError **error);  /* KT_KDH DER */
gboolean   pp_key_host_confirm_kcv     (PpKeyHost *self, gint64 order_id, const char *kcv,
                                        const char *actor, GError **error);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (PpKeyHost, pp_key_host_unref)

G_END_DECLS
