/* SPDX-License-Identifier: GPL-3.0-or-later
 *
 * pp-key-host.h: the key host (TR-34 KDH) behind the registry, the heart of
 * dual control: it issues CT_KDH and, for an approved install work order, a
 * 2-pass KT_KDH sealing a fresh TMK to that order's terminal, and confirms
 * the KCV the terminal reports. See docs/key-host.md.
 *
 * Every refusal is a PP_KEY_HOST_ERROR with its own code and leaves a
 * "keyhost.refused" journal entry naming the code (the store's own entries,
 * order.approval_void and order.kcv_mismatch, are written as well where they
 * apply). The clear TMK exists only in the key store and, while a token is
 * built, in a secure buffer here; never in the database or a log.
 *
 * Synchronous (RSA and SQLite): call it on the thread that owns @store, the
 * local registry's owner thread. Reference-counted and thread-safe: calls
 * from several threads are serialised.
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

GQuark      pp_key_host_error_quark      (void);
/* "no_approval", "self_approval", ...: the code's name in the journal. */
const char *pp_key_host_error_to_string  (PpKeyHostError code);

/* The key store label of the fingerprint key (an AES-256 key made on first
 * use): HMAC-SHA-256 under it fingerprints each released TMK. */
#define PP_KEY_HOST_FINGERPRINT_LABEL "kdh-fingerprint"

typedef struct _PpKeyHost PpKeyHost;   /* refcounted, thread-safe */

/* Reads its config from the store (pp_store_get_key_host_config) and opens
 * the KDH signing key in @key_store. PP_KEY_HOST_ERROR_CONFIG when the store
 * has no key host configuration, the key store has no such key, the key does
 * not match the KDH certificate, a certificate or the CRL does not parse, or
 * the key store's fingerprint key is not the one the store's fingerprints
 * were made with. */
PpKeyHost *pp_key_host_new             (PpStore     *store,
                                        PpKeyStore  *key_store,
                                        GError     **error);
PpKeyHost *pp_key_host_ref             (PpKeyHost   *self);
void       pp_key_host_unref           (PpKeyHost   *self);

GBytes    *pp_key_host_get_certificate (PpKeyHost   *self);      /* KDH certificate, DER */
GBytes    *pp_key_host_get_crl         (PpKeyHost   *self);      /* DER, may be NULL */

/* CT_KDH (the KDH certificate and CRL) for the terminal of @order_id, which
 * must be an approved install order whose approval holds (the same checks as
 * the key token). Journalled as keyhost.ct_kdh. */
GBytes    *pp_key_host_issue_ct_kdh    (PpKeyHost   *self,
                                        gint64       order_id,
                                        const char  *actor,
                                        GError     **error);
/* KT_KDH (DER, 2-pass, the TR-34 profile configured for the terminal's
 * model) for @order_id: checks the order and its approval, the terminal's
 * CT_KRD (chains to CA_KRD now, names the order's serial, is the certificate
 * the approval was for) and RT_KRD (a nonce never used for that terminal),
 * generates a TMK of the order's type in the key store, refuses it if its
 * fingerprint was released before, and records the release (expected KCV,
 * nonce, fingerprint) before it returns the token. @actor: a field manager
 * or administrator (else PP_STORE_ERROR_PERMISSION). */
GBytes    *pp_key_host_issue_key_token (PpKeyHost   *self,
                                        gint64       order_id,
                                        GBytes      *ct_krd,
                                        GBytes      *rt_krd,
                                        const char  *actor,
                                        GError     **error);  /* KT_KDH DER */
/* Marks @order_id keyed when @kcv (hex, any case) equals the check value
 * recorded at release, compared in constant time (pp_store_order_keyed);
 * else KCV_MISMATCH and the order stays approved for a new key token. */
gboolean   pp_key_host_confirm_kcv     (PpKeyHost   *self,
                                        gint64       order_id,
                                        const char  *kcv,
                                        const char  *actor,
                                        GError     **error);

/* The sign-on test of a keyed install order (keyed or program_installed;
 * else STATE): a fresh PIN key and MAC key, made here in memory, as TR-31
 * blocks under the order's TMK from the key store, and their check values.
 * Never stored; journalled as keyhost.sign_on_keys with the check values.
 * @actor: a field manager or administrator. */
gboolean   pp_key_host_issue_sign_on_keys (PpKeyHost   *self,
                                           gint64       order_id,
                                           const char  *actor,
                                           char       **out_pin_block,
                                           char       **out_mac_block,
                                           char       **out_pin_kcv,
                                           char       **out_mac_kcv,
                                           GError     **error);
/* UBT_KDH (2-pass) for the terminal of the open recycle order @order_id:
 * its CT_KRD chains to CA_KRD and names the order's serial, its RT_KRD
 * carries the nonce. Journalled as keyhost.ubt_kdh. */
GBytes    *pp_key_host_issue_unbind_token (PpKeyHost   *self,
                                           gint64       order_id,
                                           GBytes      *ct_krd,
                                           GBytes      *rt_krd,
                                           const char  *actor,
                                           GError     **error);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (PpKeyHost, pp_key_host_unref)

G_END_DECLS
