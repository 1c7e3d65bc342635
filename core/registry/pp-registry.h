/* SPDX-License-Identifier: GPL-3.0-or-later
 *
 * pp-registry.h: the registry seam (docs/registry.md). The domain's verbs
 * as _async/_finish pairs, the same whether the registry is the SQLite
 * store in this process (PpRegistryLocal) or posprov-registry across the
 * network (the remote implementation, later).
 *
 * Every callback runs on the thread-default main context of the caller of
 * the _async function. Orders and approvals are named by UUID. Every verb
 * that changes something takes @idempotency_key, a UUID the caller makes
 * once per intended change: a repeat with the same key and the same
 * arguments returns the first call's result and changes nothing; the same
 * key with other arguments fails with PP_REGISTRY_ERROR_KEY_REUSED. A call
 * that failed recorded nothing under its key, so it can be retried with it.
 * @actor is the user acting (a remote registry takes it from its session).
 */
#pragma once

#include <gio/gio.h>

#include "pp-merchant.h"
#include "pp-store.h"
#include "pp-terminal.h"
#include "pp-work-order.h"

G_BEGIN_DECLS

#define PP_REGISTRY_ERROR (pp_registry_error_quark ())

/* What a caller acts on; each has a stable name and an HTTP status
 * (pp_registry_error_code_to_string, _to_http_status) for the service. */
typedef enum {
  PP_REGISTRY_ERROR_FAILED,          /* "failed" 500: an unexpected fault; the message says which */
  PP_REGISTRY_ERROR_NOT_FOUND,       /* "not_found" 404: no such serial, order, approval, merchant */
  PP_REGISTRY_ERROR_CONFLICT,        /* "conflict" 409: the state does not allow it, or a duplicate */
  PP_REGISTRY_ERROR_PERMISSION,      /* "permission" 403: wrong user, role, or self-approval */
  PP_REGISTRY_ERROR_INVALID,         /* "invalid" 400: a bad argument; the message names it */
  PP_REGISTRY_ERROR_NO_APPROVAL,     /* "no_approval" 409: the order needs an approval first */
  PP_REGISTRY_ERROR_APPROVAL_VOID,   /* "approval_void" 409: what was approved changed */
  PP_REGISTRY_ERROR_KCV_MISMATCH,    /* "kcv_mismatch" 409: the terminal's KCV is not the key's */
  PP_REGISTRY_ERROR_TOKEN_REJECTED,  /* "token_rejected" 422: CT_KRD/RT_KRD refused (chain, expiry,
                                      * serial, nonce, encoding) */
  PP_REGISTRY_ERROR_KEY_REUSED,      /* "idempotency_key_reused" 422: the key was used for
                                      * another request */
  PP_REGISTRY_ERROR_UNAVAILABLE,     /* "unavailable" 503: the store is busy or cannot be opened,
                                      * the registry cannot be reached */
  PP_REGISTRY_ERROR_NO_KEY_HOST,     /* "no_key_host" 503: no key host configured */
  PP_REGISTRY_ERROR_CANCELLED,       /* "cancelled" 499: not used by the verbs (they return
                                      * G_IO_ERROR_CANCELLED); for the service's mapping */
  PP_REGISTRY_ERROR_UNTRUSTED,       /* "untrusted_certificate" 495: the remote registry's TLS
                                      * certificate does not verify against the configured CA
                                      * or pin (the client's own; no server sends it) */
  PP_REGISTRY_ERROR_OTP_REQUIRED,    /* "otp_required" 401: the password is right and the user
                                      * has a one-time code enrolled: sign in again with the
                                      * code (pp_registry_authenticate_otp_async) */
} PpRegistryError;

GQuark      pp_registry_error_quark            (void);
const char *pp_registry_error_code_to_string   (int code);
guint       pp_registry_error_code_to_http_status (int code);
/* The code of @name (pp_registry_error_code_to_string's inverse), or -1. */
int         pp_registry_error_code_from_string (const char *name);
/* Maps a PP_STORE_ERROR (and the key host's, PpKeyHost) onto
 * PP_REGISTRY_ERROR, keeping the message; takes @source. Other domains pass
 * through as FAILED with their message. */
void        pp_registry_propagate_error        (GError **dest,
                                                GError  *source);

/* The page of the listing verbs (search_merchants, list_audit,
 * list_changes, list_terminals) and of the service's `limit`: 0 asks for
 * PP_REGISTRY_PAGE_DEFAULT items, more than PP_REGISTRY_PAGE_MAX fails with
 * PP_REGISTRY_ERROR_INVALID (400 on the service) before anything is read. */
#define PP_REGISTRY_PAGE_DEFAULT 100
#define PP_REGISTRY_PAGE_MAX     1000

/* ---- what the verbs return ---- */

/* Whether a serial can go into an install order (lookup_serial). */
typedef enum {
  PP_REGISTRY_SERIAL_INSTALLABLE,   /* in stock, or reserved for the order asked about */
  PP_REGISTRY_SERIAL_UNKNOWN,       /* not in the register */
  PP_REGISTRY_SERIAL_NOT_IN_STOCK,  /* received, keyed, installed, recycled or retired */
  PP_REGISTRY_SERIAL_QUARANTINED,
  PP_REGISTRY_SERIAL_RESERVED,      /* pending install for another order */
} PpRegistrySerialStatus;

const char *pp_registry_serial_status_to_string (PpRegistrySerialStatus status);

typedef struct {
  char                   *serial;    /* upper case, as looked up */
  PpTerminal             *terminal;  /* NULL when unknown */
  PpRegistrySerialStatus  status;
  char                   *order_uuid; /* the open order holding the terminal, or NULL */
  char                   *message;   /* why it cannot be installed, for the field manager;
                                      * NULL when installable */
} PpRegistrySerialCheck;

void pp_registry_serial_check_free (PpRegistrySerialCheck *check);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (PpRegistrySerialCheck, pp_registry_serial_check_free)

/* An approval as a reviewer sees it: the request, exactly what is to be
 * approved, and the decision once taken. */
typedef enum {
  PP_REGISTRY_APPROVAL_PENDING,    /* "pending" */
  PP_REGISTRY_APPROVAL_APPROVED,   /* "approved" */
  PP_REGISTRY_APPROVAL_REJECTED,   /* "rejected" */
  PP_REGISTRY_APPROVAL_WITHDRAWN,  /* "withdrawn": the order was cancelled first */
  PP_REGISTRY_APPROVAL_VOID,       /* "void": approved, then what was approved changed */
} PpRegistryApprovalState;

const char *pp_registry_approval_state_to_string (PpRegistryApprovalState state);

typedef struct {
  char                    *uuid;
  char                    *order_uuid;
  PpRegistryApprovalState  state;
  char                    *requester;
  gint64                   requested_at;
  char                    *serial;
  char                    *model;
  gint64                   merchant_id;
  char                    *merchant_name;
  char                    *mid;
  char                    *tid;
  char                    *program_version;
  char                    *key_type;        /* "aes-128", ... */
  char                    *cert_fingerprint;
  char                    *approver;        /* NULL while pending */
  gint64                   decided_at;      /* 0 while pending */
  char                    *reason;          /* the reviewer's, or NULL */
  char                    *digest;          /* of what was approved; NULL unless approved */
  char                    *void_reason;     /* NULL unless void */
  char                    *code;            /* the short code (PP_APPROVAL_CODE_LENGTH
                                             * characters) that opens it, or NULL
                                             * (pp_registry_approval_qr_payload) */
} PpRegistryApproval;

void      pp_registry_approval_free (PpRegistryApproval *approval);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (PpRegistryApproval, pp_registry_approval_free)

/* JSON forms of what crosses the seam (the service and the remote client
 * speak these; the local registry records them to replay a request).
 * from_json: INVALID naming a missing or mistyped member. */
JsonNode           *pp_registry_order_to_json      (const PpWorkOrder         *order);
PpWorkOrder        *pp_registry_order_from_json    (JsonNode                  *node,
                                                    GError                   **error);
JsonNode           *pp_registry_merchant_to_json   (const PpMerchant          *merchant);
PpMerchant         *pp_registry_merchant_from_json (JsonNode                  *node,
                                                    GError                   **error);
JsonNode           *pp_registry_approval_to_json   (const PpRegistryApproval  *approval);
PpRegistryApproval *pp_registry_approval_from_json (JsonNode                  *node,
                                                    GError                   **error);

/* ---- the interface ---- */

#define PP_TYPE_REGISTRY (pp_registry_get_type ())
G_DECLARE_INTERFACE (PpRegistry, pp_registry, PP, REGISTRY, GObject)

/* Each vfunc starts one verb. An implementation returns a GTask whose
 * source object is the registry and whose source tag is the public _async
 * function, carrying the result type the _finish below documents; the
 * _finish functions are the interface's own, so the implementations
 * share them (GTask is how both the local and the remote one work). */
struct _PpRegistryInterface
{
  GTypeInterface parent_iface;

  void (*lookup_serial)        (PpRegistry *self, const char *serial, const char *order_uuid,
                                GCancellable *cancellable, GAsyncReadyCallback callback,
                                gpointer user_data);
  void (*intake)               (PpRegistry *self, const PpTerminalIntake *rows, guint n_rows,
                                PpTerminalState initial_state, const char *actor,
                                const char *idempotency_key, GCancellable *cancellable,
                                GAsyncReadyCallback callback, gpointer user_data);
  void (*create_merchant)      (PpRegistry *self, const PpMerchantFields *fields, const char *actor,
                                const char *idempotency_key, GCancellable *cancellable,
                                GAsyncReadyCallback callback, gpointer user_data);
  void (*search_merchants)     (PpRegistry *self, const char *query, guint limit,
                                GCancellable *cancellable, GAsyncReadyCallback callback,
                                gpointer user_data);
  void (*create_install_order) (PpRegistry *self, const char *serial, gint64 merchant_id,
                                const char *program_version, PpTmkType key_type,
                                const char *requester, const char *idempotency_key,
                                GCancellable *cancellable, GAsyncReadyCallback callback,
                                gpointer user_data);
  void (*get_order)            (PpRegistry *self, const char *order_uuid, GCancellable *cancellable,
                                GAsyncReadyCallback callback, gpointer user_data);
  void (*list_orders)          (PpRegistry *self, const char *serial, GCancellable *cancellable,
                                GAsyncReadyCallback callback, gpointer user_data);
  void (*request_approval)     (PpRegistry *self, const char *order_uuid, const char *scanned_serial,
                                const char *otp, const char *requester, const char *idempotency_key,
                                GCancellable *cancellable, GAsyncReadyCallback callback,
                                gpointer user_data);
  void (*decide_approval)      (PpRegistry *self, const char *approval_uuid, gboolean approve,
                                const char *reason, const char *approver,
                                const char *idempotency_key, GCancellable *cancellable,
                                GAsyncReadyCallback callback, gpointer user_data);
  void (*get_approval)         (PpRegistry *self, const char *approval_uuid,
                                GCancellable *cancellable, GAsyncReadyCallback callback,
                                gpointer user_data);
  void (*list_approvals)       (PpRegistry *self, gboolean pending_only, GCancellable *cancellable,
                                GAsyncReadyCallback callback, gpointer user_data);
  void (*get_kdh)              (PpRegistry *self, GCancellable *cancellable,
                                GAsyncReadyCallback callback, gpointer user_data);
  void (*issue_kdh_credential) (PpRegistry *self, const char *order_uuid, const char *actor,
                                const char *idempotency_key, GCancellable *cancellable,
                                GAsyncReadyCallback callback, gpointer user_data);
  void (*issue_key_token)      (PpRegistry *self, const char *order_uuid, GBytes *ct_krd,
                                GBytes *rt_krd, const char *actor, const char *idempotency_key,
                                GCancellable *cancellable, GAsyncReadyCallback callback,
                                gpointer user_data);
  void (*confirm_kcv)          (PpRegistry *self, const char *order_uuid, const char *kcv,
                                const char *actor, const char *idempotency_key,
                                GCancellable *cancellable, GAsyncReadyCallback callback,
                                gpointer user_data);
  void (*list_programs)        (PpRegistry *self, const char *model, GCancellable *cancellable,
                                GAsyncReadyCallback callback, gpointer user_data);
  void (*program_installed)    (PpRegistry *self, const char *order_uuid, const char *actor,
                                const char *idempotency_key, GCancellable *cancellable,
                                GAsyncReadyCallback callback, gpointer user_data);
  void (*close_order)          (PpRegistry *self, const char *order_uuid, const char *actor,
                                const char *idempotency_key, GCancellable *cancellable,
                                GAsyncReadyCallback callback, gpointer user_data);
  void (*cancel_order)         (PpRegistry *self, const char *order_uuid, const char *reason,
                                const char *actor, const char *idempotency_key,
                                GCancellable *cancellable, GAsyncReadyCallback callback,
                                gpointer user_data);
  void (*create_recycle_order) (PpRegistry *self, const char *serial, const char *reason,
                                const char *requester, const char *idempotency_key,
                                GCancellable *cancellable, GAsyncReadyCallback callback,
                                gpointer user_data);
  void (*list_audit)           (PpRegistry *self, gint64 after_seq, guint limit,
                                GCancellable *cancellable, GAsyncReadyCallback callback,
                                gpointer user_data);
  void (*list_changes)         (PpRegistry *self, gint64 after_cursor, guint limit,
                                GCancellable *cancellable, GAsyncReadyCallback callback,
                                gpointer user_data);

  /* users, sessions, one-time codes, the terminal list, program upload
   * (posprov-registry serve); an implementation may leave them NULL: the
   * call then fails with PP_REGISTRY_ERROR_FAILED naming the verb */
  void (*authenticate)         (PpRegistry *self, const char *username, const char *password,
                                GCancellable *cancellable, GAsyncReadyCallback callback,
                                gpointer user_data);
  void (*add_user)             (PpRegistry *self, const char *username, PpUserRole role,
                                const char *password, const char *actor,
                                const char *idempotency_key, GCancellable *cancellable,
                                GAsyncReadyCallback callback, gpointer user_data);
  void (*enroll_otp)           (PpRegistry *self, const char *username, const char *actor,
                                GCancellable *cancellable, GAsyncReadyCallback callback,
                                gpointer user_data);
  void (*list_terminals)       (PpRegistry *self, PpTerminalState state, const char *after_serial,
                                guint limit, GCancellable *cancellable,
                                GAsyncReadyCallback callback, gpointer user_data);
  void (*upload_program)       (PpRegistry *self, GBytes *package, const char *actor,
                                const char *idempotency_key, GCancellable *cancellable,
                                GAsyncReadyCallback callback, gpointer user_data);

  /* the station's inventory (issue 8, helper station8): a page of the
   * register by search text and state, with the total; NULL: FAILED */
  void (*search_terminals)     (PpRegistry *self, const char *serial_search, PpTerminalState state,
                                guint offset, guint limit, GCancellable *cancellable,
                                GAsyncReadyCallback callback, gpointer user_data);

  /* ---- the install and recycle flows (issue 9, core/flows) ----
   * an implementation may leave them NULL (FAILED naming the verb) */
  void (*issue_sign_on_keys)   (PpRegistry *self, const char *order_uuid, const char *actor,
                                GCancellable *cancellable, GAsyncReadyCallback callback,
                                gpointer user_data);
  void (*issue_unbind_token)   (PpRegistry *self, const char *order_uuid, GBytes *ct_krd,
                                GBytes *rt_krd, const char *actor, const char *idempotency_key,
                                GCancellable *cancellable, GAsyncReadyCallback callback,
                                gpointer user_data);
  void (*get_program_package)  (PpRegistry *self, const char *name, const char *version,
                                const char *model, GCancellable *cancellable,
                                GAsyncReadyCallback callback, gpointer user_data);

  /* the station's sign-in with its second step (helper shell); NULL: FAILED */
  void (*authenticate_otp)     (PpRegistry *self, const char *username, const char *password,
                                const char *otp, GCancellable *cancellable,
                                GAsyncReadyCallback callback, gpointer user_data);
};

/* Looks up @serial (any case) and says whether it can be installed: for a
 * new order (@order_uuid NULL) or for the order @order_uuid. Never
 * NOT_FOUND: an unknown serial is PP_REGISTRY_SERIAL_UNKNOWN. */
void                   pp_registry_lookup_serial_async  (PpRegistry *self, const char *serial,
                                                         const char *order_uuid,
                                                         GCancellable *cancellable,
                                                         GAsyncReadyCallback callback,
                                                         gpointer user_data);
PpRegistrySerialCheck *pp_registry_lookup_serial_finish (PpRegistry *self, GAsyncResult *result,
                                                         GError **error);

/* Intake (pp_store_add_terminals_in_state): all rows or none;
 * *out_n_added (optional) gets the number of rows added. */
void       pp_registry_intake_async  (PpRegistry *self, const PpTerminalIntake *rows, guint n_rows,
                                      PpTerminalState initial_state, const char *actor,
                                      const char *idempotency_key, GCancellable *cancellable,
                                      GAsyncReadyCallback callback, gpointer user_data);
gboolean   pp_registry_intake_finish (PpRegistry *self, GAsyncResult *result, guint *out_n_added,
                                      GError **error);

/* Merchants: create validates the fields and issues the MID (CONFLICT for a
 * known registration number); search finds @query in the name,
 * registration number or MID (NULL: all), at most @limit (0:
 * PP_REGISTRY_PAGE_DEFAULT; at most PP_REGISTRY_PAGE_MAX). */
void        pp_registry_create_merchant_async   (PpRegistry *self, const PpMerchantFields *fields,
                                                 const char *actor, const char *idempotency_key,
                                                 GCancellable *cancellable,
                                                 GAsyncReadyCallback callback, gpointer user_data);
PpMerchant *pp_registry_create_merchant_finish  (PpRegistry *self, GAsyncResult *result,
                                                 GError **error);
void        pp_registry_search_merchants_async  (PpRegistry *self, const char *query, guint limit,
                                                 GCancellable *cancellable,
                                                 GAsyncReadyCallback callback, gpointer user_data);
GPtrArray  *pp_registry_search_merchants_finish (PpRegistry *self, GAsyncResult *result,
                                                 GError **error);   /* element-type PpMerchant */

/* Work orders: create reserves the terminal and issues its TID under the
 * merchant's MID (the order carries both and its UUID); @program_version
 * is required (NULL or blank: INVALID, nothing done); list: @serial's
 * orders, or all (NULL). */
void         pp_registry_create_install_order_async  (PpRegistry *self, const char *serial,
                                                      gint64 merchant_id, const char *program_version,
                                                      PpTmkType key_type, const char *requester,
                                                      const char *idempotency_key,
                                                      GCancellable *cancellable,
                                                      GAsyncReadyCallback callback,
                                                      gpointer user_data);
PpWorkOrder *pp_registry_create_install_order_finish (PpRegistry *self, GAsyncResult *result,
                                                      GError **error);
void         pp_registry_get_order_async             (PpRegistry *self, const char *order_uuid,
                                                      GCancellable *cancellable,
                                                      GAsyncReadyCallback callback,
                                                      gpointer user_data);
PpWorkOrder *pp_registry_get_order_finish            (PpRegistry *self, GAsyncResult *result,
                                                      GError **error);
void         pp_registry_list_orders_async           (PpRegistry *self, const char *serial,
                                                      GCancellable *cancellable,
                                                      GAsyncReadyCallback callback,
                                                      gpointer user_data);
GPtrArray   *pp_registry_list_orders_finish          (PpRegistry *self, GAsyncResult *result,
                                                      GError **error);   /* element-type PpWorkOrder */

/* Four eyes: the field manager requests approval of an open install order
 * (@scanned_serial: what was read off the terminal, checked against the
 * order; NULL: not scanned); a reviewer other than the requester decides
 * it. list: pending only, or all, oldest first.
 * @otp: the requester's one-time code (TOTP) from their authenticator.
 * Once the requester has a code enrolled it is required: none, a wrong one
 * or one already used is PP_REGISTRY_ERROR_PERMISSION (journalled as
 * user.otp_failed) and no request is made. Ignored for a requester without
 * a code. Not part of the idempotency digest: a replay with the same key
 * returns the first result whatever code it carries (a code is good once). */
void                pp_registry_request_approval_async  (PpRegistry *self, const char *order_uuid,
                                                         const char *scanned_serial,
                                                         const char *otp,
                                                         const char *requester,
                                                         const char *idempotency_key,
                                                         GCancellable *cancellable,
                                                         GAsyncReadyCallback callback,
                                                         gpointer user_data);
PpRegistryApproval *pp_registry_request_approval_finish (PpRegistry *self, GAsyncResult *result,
                                                         GError **error);
void                pp_registry_decide_approval_async   (PpRegistry *self, const char *approval_uuid,
                                                         gboolean approve, const char *reason,
                                                         const char *approver,
                                                         const char *idempotency_key,
                                                         GCancellable *cancellable,
                                                         GAsyncReadyCallback callback,
                                                         gpointer user_data);
PpRegistryApproval *pp_registry_decide_approval_finish  (PpRegistry *self, GAsyncResult *result,
                                                         GError **error);
/* get: @approval_uuid is the approval's UUID or its short code (any case,
 * hyphens ignored: pp_approval_code_normalize); NOT_FOUND for neither. */
void                pp_registry_get_approval_async      (PpRegistry *self, const char *approval_uuid,
                                                         GCancellable *cancellable,
                                                         GAsyncReadyCallback callback,
                                                         gpointer user_data);
PpRegistryApproval *pp_registry_get_approval_finish     (PpRegistry *self, GAsyncResult *result,
                                                         GError **error);
void                pp_registry_list_approvals_async    (PpRegistry *self, gboolean pending_only,
                                                         GCancellable *cancellable,
                                                         GAsyncReadyCallback callback,
                                                         gpointer user_data);
GPtrArray          *pp_registry_list_approvals_finish   (PpRegistry *self, GAsyncResult *result,
                                                         GError **error);   /* element-type PpRegistryApproval */

/* The key host (docs/registry.md): the KDH certificate and CRL (DER; the
 * CRL may be NULL), CT_KDH for an approved order, the 2-pass key token
 * KT_KDH for the terminal's CT_KRD and RT_KRD (DER), and the terminal's
 * KCV of the loaded key, which keys the order when it matches. */
void      pp_registry_get_kdh_async               (PpRegistry *self, GCancellable *cancellable,
                                                   GAsyncReadyCallback callback, gpointer user_data);
gboolean  pp_registry_get_kdh_finish              (PpRegistry *self, GAsyncResult *result,
                                                   GBytes **out_certificate, GBytes **out_crl,
                                                   GError **error);
void      pp_registry_issue_kdh_credential_async  (PpRegistry *self, const char *order_uuid,
                                                   const char *actor, const char *idempotency_key,
                                                   GCancellable *cancellable,
                                                   GAsyncReadyCallback callback, gpointer user_data);
GBytes   *pp_registry_issue_kdh_credential_finish (PpRegistry *self, GAsyncResult *result,
                                                   GError **error);
void      pp_registry_issue_key_token_async       (PpRegistry *self, const char *order_uuid,
                                                   GBytes *ct_krd, GBytes *rt_krd, const char *actor,
                                                   const char *idempotency_key,
                                                   GCancellable *cancellable,
                                                   GAsyncReadyCallback callback, gpointer user_data);
GBytes   *pp_registry_issue_key_token_finish      (PpRegistry *self, GAsyncResult *result,
                                                   GError **error);
void         pp_registry_confirm_kcv_async        (PpRegistry *self, const char *order_uuid,
                                                   const char *kcv, const char *actor,
                                                   const char *idempotency_key,
                                                   GCancellable *cancellable,
                                                   GAsyncReadyCallback callback, gpointer user_data);
PpWorkOrder *pp_registry_confirm_kcv_finish       (PpRegistry *self, GAsyncResult *result,
                                                   GError **error);

/* The program catalogue (@model NULL: all); upload: pp_registry_upload_program_async. */
void       pp_registry_list_programs_async  (PpRegistry *self, const char *model,
                                             GCancellable *cancellable,
                                             GAsyncReadyCallback callback, gpointer user_data);
GPtrArray *pp_registry_list_programs_finish (PpRegistry *self, GAsyncResult *result,
                                             GError **error);   /* element-type PpProgramRecord */

/* The order's later steps; each returns the order as it now is. Cancel
 * needs a @reason (NULL or blank: INVALID, nothing done). */
void         pp_registry_program_installed_async  (PpRegistry *self, const char *order_uuid,
                                                   const char *actor, const char *idempotency_key,
                                                   GCancellable *cancellable,
                                                   GAsyncReadyCallback callback, gpointer user_data);
PpWorkOrder *pp_registry_program_installed_finish (PpRegistry *self, GAsyncResult *result,
                                                   GError **error);
void         pp_registry_close_order_async        (PpRegistry *self, const char *order_uuid,
                                                   const char *actor, const char *idempotency_key,
                                                   GCancellable *cancellable,
                                                   GAsyncReadyCallback callback, gpointer user_data);
PpWorkOrder *pp_registry_close_order_finish       (PpRegistry *self, GAsyncResult *result,
                                                   GError **error);
void         pp_registry_cancel_order_async       (PpRegistry *self, const char *order_uuid,
                                                   const char *reason, const char *actor,
                                                   const char *idempotency_key,
                                                   GCancellable *cancellable,
                                                   GAsyncReadyCallback callback, gpointer user_data);
PpWorkOrder *pp_registry_cancel_order_finish      (PpRegistry *self, GAsyncResult *result,
                                                   GError **error);
/* Recycle: an installed terminal goes recycled under a new recycle order;
 * closing that order returns it to stock. */
void         pp_registry_create_recycle_order_async  (PpRegistry *self, const char *serial,
                                                      const char *reason, const char *requester,
                                                      const char *idempotency_key,
                                                      GCancellable *cancellable,
                                                      GAsyncReadyCallback callback,
                                                      gpointer user_data);
PpWorkOrder *pp_registry_create_recycle_order_finish (PpRegistry *self, GAsyncResult *result,
                                                      GError **error);

/* The audit journal after entry @after_seq, oldest first, at most @limit
 * (0: PP_REGISTRY_PAGE_DEFAULT; at most PP_REGISTRY_PAGE_MAX). */
void       pp_registry_list_audit_async  (PpRegistry *self, gint64 after_seq, guint limit,
                                          GCancellable *cancellable,
                                          GAsyncReadyCallback callback, gpointer user_data);
GPtrArray *pp_registry_list_audit_finish (PpRegistry *self, GAsyncResult *result,
                                          GError **error);   /* element-type PpAuditEntry */

/* The change feed: terminals, orders and approvals changed after
 * @after_cursor, each once, in the order of their latest change, at most
 * @limit (0: PP_REGISTRY_PAGE_DEFAULT; at most PP_REGISTRY_PAGE_MAX). @io_cursor (optional): pass the @after_cursor of the
 * call; it is moved to the last change returned (left as it is when
 * nothing changed), ready for the next call. */
void       pp_registry_list_changes_async  (PpRegistry *self, gint64 after_cursor, guint limit,
                                            GCancellable *cancellable,
                                            GAsyncReadyCallback callback, gpointer user_data);
GPtrArray *pp_registry_list_changes_finish (PpRegistry *self, GAsyncResult *result,
                                            gint64 *io_cursor,
                                            GError **error);   /* element-type PpChange */

/* ---- users, sessions, one-time codes, the terminal list, program upload ---- */

/* Checks @password of @username (pp_store_authenticate): the user, or
 * PERMISSION "wrong user name or password" alike for an unknown user and a
 * wrong password (journalled as user.login_failed). How a caller proves who
 * acts before it names an actor (posprov-registry's sign-in, posprov-tool
 * on --db). The copy of @password is wiped when the call ends. */
void      pp_registry_authenticate_async  (PpRegistry *self, const char *username,
                                           const char *password, GCancellable *cancellable,
                                           GAsyncReadyCallback callback, gpointer user_data);
PpUser   *pp_registry_authenticate_finish (PpRegistry *self, GAsyncResult *result,
                                           GError **error);
/* The station's sign-in: @password of @username as above, then, when the
 * user has a one-time code enrolled, @otp (the 6 digits their authenticator
 * shows now). @otp NULL or "" for an enrolled user, after a right password:
 * PP_REGISTRY_ERROR_OTP_REQUIRED (not journalled: it is the first of the two
 * steps; ask for the code and call again with both). A wrong or replayed
 * code: PERMISSION, journalled as user.otp_failed, like a wrong password is
 * as user.login_failed. @otp is ignored for a user without a code. The
 * password-only pp_registry_authenticate_async is unchanged (its callers
 * give their code to the approval request instead). NO_KEY_HOST when the
 * registry cannot check the code (opened without its key store). Remote:
 * POST /api/v1/sessions with "otp" (docs/registry-api.md); the session it
 * opens becomes the PpRegistryRemote's own when @username is its user. */
void      pp_registry_authenticate_otp_async  (PpRegistry *self, const char *username,
                                               const char *password, const char *otp,
                                               GCancellable *cancellable,
                                               GAsyncReadyCallback callback, gpointer user_data);
PpUser   *pp_registry_authenticate_otp_finish (PpRegistry *self, GAsyncResult *result,
                                               GError **error);
/* An administrator (@actor) adds @username with @role and @password
 * (pp_store_add_user; the password policy applies: INVALID with its
 * reason). The password is not part of the request's digest (the
 * idempotency table must not hold a fast hash of it) and never recorded: a
 * repeat with the same key, name, role and actor returns the first result
 * whatever password it carries. */
void      pp_registry_add_user_async      (PpRegistry *self, const char *username, PpUserRole role,
                                           const char *password, const char *actor,
                                           const char *idempotency_key, GCancellable *cancellable,
                                           GAsyncReadyCallback callback, gpointer user_data);
PpUser   *pp_registry_add_user_finish     (PpRegistry *self, GAsyncResult *result,
                                           GError **error);
/* Enrols (or re-enrols) a TOTP secret for @username (@actor: that user or
 * an administrator), sealed with the registry's key store; returns the
 * otpauth:// URI, NUL-terminated, in a secure buffer (it holds the secret:
 * show it once, never log it). NO_KEY_HOST when the registry has no key
 * store. No idempotency key: the secret is never recorded, and a retry
 * makes a new one that replaces the first, which no authenticator has
 * seen. From then on the user's approval requests need a code. */
void            pp_registry_enroll_otp_async  (PpRegistry *self, const char *username,
                                               const char *actor, GCancellable *cancellable,
                                               GAsyncReadyCallback callback, gpointer user_data);
PpSecureBuffer *pp_registry_enroll_otp_finish (PpRegistry *self, GAsyncResult *result,
                                               GError **error);
/* Up to @limit (0: PP_REGISTRY_PAGE_DEFAULT; at most PP_REGISTRY_PAGE_MAX) terminals in @state (PP_TERMINAL_STATE_ANY: all)
 * whose serial sorts after @after_serial (NULL: from the first), by serial. */
void       pp_registry_list_terminals_async  (PpRegistry *self, PpTerminalState state,
                                              const char *after_serial, guint limit,
                                              GCancellable *cancellable,
                                              GAsyncReadyCallback callback, gpointer user_data);
GPtrArray *pp_registry_list_terminals_finish (PpRegistry *self, GAsyncResult *result,
                                              GError **error);   /* element-type PpTerminal */

/* Records a program package (its bytes, as `program pack` writes them;
 * docs/program-package.md) in the catalogue: one PpProgramRecord per model
 * its manifest lists, with the payload's SHA-256 and size, all or none.
 * The package is parsed and its files checked against its manifest
 * (INVALID naming what is wrong); CONFLICT when a model already has that
 * name and version (nothing added). Whether its signer is trusted is the
 * caller's policy, checked before: posprov-registry against
 * --program-trust, posprov-tool against --trust. @actor: a field manager
 * or administrator. */
void       pp_registry_upload_program_async  (PpRegistry *self, GBytes *package, const char *actor,
                                              const char *idempotency_key, GCancellable *cancellable,
                                              GAsyncReadyCallback callback, gpointer user_data);
GPtrArray *pp_registry_upload_program_finish (PpRegistry *self, GAsyncResult *result,
                                              GError **error);   /* element-type PpProgramRecord */

/* JSON forms of the other records the service sends (a user without its
 * password). */
JsonNode        *pp_registry_serial_check_to_json (const PpRegistrySerialCheck *check);
JsonNode        *pp_registry_user_to_json         (const PpUser                *user);
PpUser          *pp_registry_user_from_json       (JsonNode                    *node,
                                                   GError                     **error);
JsonNode        *pp_registry_program_to_json      (const PpProgramRecord       *program);
PpProgramRecord *pp_registry_program_from_json    (JsonNode                    *node,
                                                   GError                     **error);
JsonNode        *pp_registry_audit_entry_to_json  (const PpAuditEntry          *entry);
JsonNode        *pp_registry_change_to_json       (const PpChange              *change);

/* Decoders of the records the service sends (the remote registry reads
 * them back): INVALID naming a missing or mistyped member. */
PpTerminal            *pp_registry_terminal_from_json     (JsonNode  *node,
                                                           GError   **error);
PpRegistrySerialCheck *pp_registry_serial_check_from_json (JsonNode  *node,
                                                           GError   **error);
PpAuditEntry          *pp_registry_audit_entry_from_json  (JsonNode  *node,
                                                           GError   **error);
PpChange              *pp_registry_change_from_json       (JsonNode  *node,
                                                           GError   **error);

/* ---- approval QR codes (docs/registry.md, "Approval codes") ---- */

/* The text of an approval's QR code: "posprov:approval:UUID?code=CODE"
 * (the UUID in lower case; without "?code=…" when it has no code). */
#define PP_REGISTRY_APPROVAL_QR_PREFIX "posprov:approval:"
char *pp_registry_approval_qr_payload (const PpRegistryApproval *approval);
/* What the reviewer scanned or typed, as the argument of get_approval: a
 * QR payload (its UUID), a UUID, or a short code (normalised); NULL when
 * @text is none of them. */
char *pp_registry_approval_ref_parse  (const char               *text);

/* ---- the station's inventory (issue 8, helper station8) ---- */

/* Up to @limit (0: PP_REGISTRY_PAGE_DEFAULT; at most PP_REGISTRY_PAGE_MAX)
 * terminals from position @offset of the register
 * ordered by serial, those whose serial contains @serial_search (any case;
 * NULL or "": all) in @state (PP_TERMINAL_STATE_ANY: all), and in
 * *out_total (optional) how many match in all, counted by the same
 * call: what a paged list shows (pp_store_list_terminals and
 * pp_store_count_terminals). */
void       pp_registry_search_terminals_async  (PpRegistry *self, const char *serial_search,
                                                PpTerminalState state, guint offset, guint limit,
                                                GCancellable *cancellable,
                                                GAsyncReadyCallback callback, gpointer user_data);
GPtrArray *pp_registry_search_terminals_finish (PpRegistry *self, GAsyncResult *result,
                                                guint *out_total,
                                                GError **error);   /* element-type PpTerminal */

/* What an implementation's search_terminals task returns. */
typedef struct {
  GPtrArray *terminals;  /* PpTerminal */
  guint      total;
} PpRegistryTerminalPage;

PpRegistryTerminalPage *pp_registry_terminal_page_new  (GPtrArray              *terminals,
                                                        guint                   total);
void                    pp_registry_terminal_page_free (PpRegistryTerminalPage *page);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (PpRegistryTerminalPage, pp_registry_terminal_page_free)

/* ---- the install and recycle flows (issue 9, core/flows) ---- */

/* A sign-on test's working keys, made by the key host in memory: a PIN
 * key and a MAC key as TR-31 blocks under the order's TMK (never stored,
 * never recorded) and their check values (upper hex). */
typedef struct {
  char *pin_block;
  char *mac_block;
  char *pin_kcv;
  char *mac_kcv;
} PpRegistrySignOnKeys;

void pp_registry_sign_on_keys_free (PpRegistrySignOnKeys *keys);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (PpRegistrySignOnKeys, pp_registry_sign_on_keys_free)

/* Fresh working keys for the sign-on test of the keyed install order
 * @order_uuid (keyed or program_installed; CONFLICT otherwise), under the
 * TMK the key host released for it. No idempotency key: nothing is
 * recorded but a keyhost.sign_on_keys journal entry with the check
 * values; a retry makes new keys. @actor: a field manager or administrator. */
void                  pp_registry_issue_sign_on_keys_async  (PpRegistry *self, const char *order_uuid,
                                                             const char *actor,
                                                             GCancellable *cancellable,
                                                             GAsyncReadyCallback callback,
                                                             gpointer user_data);
PpRegistrySignOnKeys *pp_registry_issue_sign_on_keys_finish (PpRegistry *self, GAsyncResult *result,
                                                             GError **error);
/* UBT_KDH (DER, 2-pass) releasing the terminal of the open recycle order
 * @order_uuid from the registry's KDH: its CT_KRD must chain to CA_KRD and
 * name the order's serial, its RT_KRD carry the nonce. Journalled as
 * keyhost.ubt_kdh. */
void    pp_registry_issue_unbind_token_async  (PpRegistry *self, const char *order_uuid,
                                               GBytes *ct_krd, GBytes *rt_krd, const char *actor,
                                               const char *idempotency_key,
                                               GCancellable *cancellable,
                                               GAsyncReadyCallback callback, gpointer user_data);
GBytes *pp_registry_issue_unbind_token_finish (PpRegistry *self, GAsyncResult *result,
                                               GError **error);
/* The bytes of the catalogue's package @name @version for @model, as
 * uploaded (NOT_FOUND: not in the catalogue for that model, or uploaded
 * before the registry kept packages). */
void    pp_registry_get_program_package_async  (PpRegistry *self, const char *name,
                                                const char *version, const char *model,
                                                GCancellable *cancellable,
                                                GAsyncReadyCallback callback, gpointer user_data);
GBytes *pp_registry_get_program_package_finish (PpRegistry *self, GAsyncResult *result,
                                                GError **error);

G_END_DECLS
