/* SPDX-License-Identifier: GPL-3.0-or-later
 *
 * pp-recycle-flow.h: an installed terminal comes back (issue 9): confirm ->
 * recycle order -> unbind (UBT_KDH from the registry's key host) and
 * zeroize over the link -> recycle order closed (terminal back in stock)
 * -> receipt.  Same shape as PpInstallFlow (pp-install-flow.h): properties
 * a view binds to, inputs as setters, one _run_async.
 *
 * Steps: SCAN (needs SERIAL) -> CHECK (the terminal must be installed) ->
 * CONFIRM (needs CONFIRM: pp_recycle_flow_confirm, with the reason) ->
 * ORDER (create_recycle_order: the merchant binding is cleared) ->
 * APPROVAL (request_approval of the recycle order, then needs APPROVAL:
 * a reviewer decides elsewhere, watched with get_approval and backoff
 * 0.2 s .. 2 s, or pp_recycle_flow_set_reviewer for a reviewer signed in
 * here; rejected: FAILED with PP_FLOW_ERROR_REJECTED, the order stays open
 * and a new run asks again) -> CONNECT (needs DEVICE) -> IDENTIFY (serial must match; a tampered
 * terminal is zeroized but not unbound) -> UNBIND -> ZEROIZE -> CLOSE ->
 * DONE | FAILED.  Resume: pp_recycle_flow_resume with the open recycle
 * order's UUID (or NULL: the open or approved recycle order), with the
 * serial set: a terminal left recycled by a run that was cut off goes on
 * from APPROVAL (waiting on a pending request rather than asking twice),
 * or from CONNECT once its order is approved.
 * The key host issues UBT_KDH only for an approved recycle order (else
 * no_approval, journalled as keyhost.refused).
 */
#pragma once

#include <gio/gio.h>

#include "pp-install-flow.h"

G_BEGIN_DECLS

typedef enum {
  PP_RECYCLE_STEP_SCAN,
  PP_RECYCLE_STEP_CHECK,
  PP_RECYCLE_STEP_CONFIRM,
  PP_RECYCLE_STEP_ORDER,
  PP_RECYCLE_STEP_APPROVAL,
  PP_RECYCLE_STEP_CONNECT,
  PP_RECYCLE_STEP_IDENTIFY,
  PP_RECYCLE_STEP_UNBIND,
  PP_RECYCLE_STEP_ZEROIZE,
  PP_RECYCLE_STEP_CLOSE,
  PP_RECYCLE_STEP_DONE,
  PP_RECYCLE_STEP_FAILED,
} PpRecycleStep;

typedef enum {
  PP_RECYCLE_NEEDS_NOTHING,
  PP_RECYCLE_NEEDS_SERIAL,
  PP_RECYCLE_NEEDS_CONFIRM,
  PP_RECYCLE_NEEDS_DEVICE,
  PP_RECYCLE_NEEDS_APPROVAL,    /* a reviewer: elsewhere, or _set_reviewer here */
} PpRecycleNeeds;

GType       pp_recycle_step_get_type  (void) G_GNUC_CONST;
GType       pp_recycle_needs_get_type (void) G_GNUC_CONST;
#define PP_TYPE_RECYCLE_STEP  (pp_recycle_step_get_type ())
#define PP_TYPE_RECYCLE_NEEDS (pp_recycle_needs_get_type ())
const char *pp_recycle_step_to_string (PpRecycleStep step);

typedef struct {
  char   *order_uuid;
  char   *serial;
  char   *cleared_mid;
  char   *cleared_tid;
  char   *reason;
  char   *approval_uuid;
  char   *approver;
  char   *state;          /* "closed" once done */
  gboolean unbound;
  gboolean zeroized;
  gint64  finished_at;
} PpRecycleReceipt;

void pp_recycle_receipt_free (PpRecycleReceipt *receipt);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (PpRecycleReceipt, pp_recycle_receipt_free)

#define PP_TYPE_RECYCLE_FLOW (pp_recycle_flow_get_type ())
G_DECLARE_FINAL_TYPE (PpRecycleFlow, pp_recycle_flow, PP, RECYCLE_FLOW, GObject)

/* Properties (notify): "registry", "user" (construct-only), "step", "needs",
 * "message", "error", "serial", "order-uuid", "approval-uuid",
 * "approval-code" (the short code of its QR, pp_registry_approval_qr_payload). */
PpRecycleFlow *pp_recycle_flow_new     (PpRegistry        *registry,
                                        const char        *user);
gboolean  pp_recycle_flow_set_serial   (PpRecycleFlow     *self,
                                        const char        *serial,
                                        GError           **error);
/* The field manager confirms the recycle, with the reason recorded on the order. */
void      pp_recycle_flow_confirm      (PpRecycleFlow     *self,
                                        const char        *reason);
void      pp_recycle_flow_set_device   (PpRecycleFlow     *self,
                                        PpTerminalDevice  *device);
/* The requester's one-time code, when they have one enrolled. */
void      pp_recycle_flow_set_otp      (PpRecycleFlow     *self,
                                        const char        *otp);
/* A reviewer signed in at this station decides here, as
 * pp_install_flow_set_reviewer: @registry speaks for @reviewer.  Only
 * while "needs" is APPROVAL or before it. */
gboolean  pp_recycle_flow_set_reviewer (PpRecycleFlow     *self,
                                        PpRegistry        *registry,
                                        const char        *reviewer,
                                        gboolean           approve,
                                        const char        *reason,
                                        GError           **error);
void      pp_recycle_flow_resume       (PpRecycleFlow     *self,
                                        const char        *order_uuid);
void      pp_recycle_flow_run_async    (PpRecycleFlow     *self,
                                        GCancellable      *cancellable,
                                        GAsyncReadyCallback callback,
                                        gpointer           user_data);
gboolean  pp_recycle_flow_run_finish   (PpRecycleFlow     *self,
                                        GAsyncResult      *result,
                                        GError           **error);
PpRecycleStep     pp_recycle_flow_get_step    (PpRecycleFlow *self);
PpRecycleNeeds    pp_recycle_flow_get_needs   (PpRecycleFlow *self);
const char       *pp_recycle_flow_get_message (PpRecycleFlow *self);
PpRecycleReceipt *pp_recycle_flow_get_receipt (PpRecycleFlow *self);

G_END_DECLS
