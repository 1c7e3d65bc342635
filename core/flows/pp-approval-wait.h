/* SPDX-License-Identifier: GPL-3.0-or-later
 *
 * pp-approval-wait.h: the approval wait that PpInstallFlow and PpRecycleFlow
 * share.  One call at a time, driven by the flow's own step machine: ask
 * for the approval of an order (request_approval), send the decision of a
 * reviewer signed in at this station (decide_approval), or look again
 * (get_approval); the delay before the next look (0 when a decision is
 * waiting to be sent, else 0.2 s doubling to 2 s); and, for a resumed
 * order, its latest approval rather than a second request.
 *
 * A reviewer's decision that the registry refuses (the requester approving
 * their own request, a field manager, a request decided already) does not
 * end the wait: the refusal is kept (pp_approval_wait_get_refusal) for the
 * view to show, and the request is looked at again; it still waits for a
 * reviewer on another screen or a new one signing in here.
 */
#pragma once

#include <gio/gio.h>

#include "pp-registry.h"

G_BEGIN_DECLS

typedef struct _PpApprovalWait PpApprovalWait;

PpApprovalWait *pp_approval_wait_new           (PpRegistry     *registry,
                                                const char     *user);
void            pp_approval_wait_free          (PpApprovalWait *wait);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (PpApprovalWait, pp_approval_wait_free)

void            pp_approval_wait_set_otp       (PpApprovalWait *wait,
                                                const char     *otp);
/* A reviewer signed in here decides at the next step; clears the refusal. */
void            pp_approval_wait_set_reviewer  (PpApprovalWait *wait,
                                                PpRegistry     *registry,
                                                const char     *reviewer,
                                                gboolean        approve,
                                                const char     *reason);
/* TRUE while a reviewer's decision here is waiting to be sent. */
gboolean        pp_approval_wait_has_decision  (PpApprovalWait *wait);
/* The registry's refusal of the last decision made here, or NULL. */
const GError   *pp_approval_wait_get_refusal   (PpApprovalWait *wait);
/* A new run: the backoff starts again at 0.2 s. */
void            pp_approval_wait_reset         (PpApprovalWait *wait);
/* The delay before the next step: 0 with a decision to send, else the
 * backoff's next (0.2 s doubling, at most 2 s). */
guint           pp_approval_wait_next_delay    (PpApprovalWait *wait);

/* One step on the order's approval: request it (@approval_uuid NULL),
 * send the decision made here, or look at it again.  Finishes with the
 * approval as the registry has it now. */
void                pp_approval_wait_step_async   (PpApprovalWait       *wait,
                                                   const char           *order_uuid,
                                                   const char           *serial,
                                                   const char           *approval_uuid,
                                                   GCancellable         *cancellable,
                                                   GAsyncReadyCallback   callback,
                                                   gpointer              user_data);
/* @refused: set TRUE when the registry refused the decision made here
 * (the approval returned is then the request, looked at again). */
PpRegistryApproval *pp_approval_wait_step_finish  (PpApprovalWait       *wait,
                                                   GAsyncResult         *result,
                                                   gboolean             *refused,
                                                   GError              **error);

/* The order's latest approval (of any state), or NULL (and no error) when
 * it has none. */
void                pp_approval_wait_latest_async  (PpApprovalWait       *wait,
                                                    const char           *order_uuid,
                                                    GCancellable         *cancellable,
                                                    GAsyncReadyCallback   callback,
                                                    gpointer              user_data);
PpRegistryApproval *pp_approval_wait_latest_finish (PpApprovalWait       *wait,
                                                    GAsyncResult         *result,
                                                    GError              **error);

G_END_DECLS
