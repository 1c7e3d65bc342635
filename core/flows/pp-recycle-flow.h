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
 * CONNECT (needs DEVICE) -> IDENTIFY (serial must match; a tampered
 * terminal is zeroized but not unbound) -> UNBIND -> ZEROIZE -> CLOSE ->
 * DONE | FAILED.  Resume: pp_recycle_flow_resume with the open recycle
 * order's UUID (or NULL: the
 * open recycle order), with the serial set: a terminal left recycled by a
 * run that was cut off goes on from CONNECT.
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
 * "message", "error", "serial", "order-uuid". */
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
