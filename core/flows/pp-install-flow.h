/* SPDX-License-Identifier: GPL-3.0-or-later
 *
 * pp-install-flow.h: the one-visit install of a terminal (issue 9,
 * docs/install-flow.md), a state machine over the two seams: PpRegistry
 * (core/registry) and PpTerminalDevice (core/flows).  The GTK wizard and
 * `posprov-tool install` are two views of the same flow.
 *
 * How a view uses it
 * ------------------
 *   flow = pp_install_flow_new (registry, "alice");
 *   bind "step", "needs", "message", "progress", "error", "order-uuid",
 *   "mid", "tid", "kcv", ... to widgets (every property notifies, always
 *   on the thread-default main context that called _run_async);
 *   pp_install_flow_run_async (flow, cancellable, done_cb, data);
 *
 * The flow runs one step at a time, each step one _async call on the
 * registry or the terminal.  When it needs something from the person at
 * the station ("needs" != PP_INSTALL_NEEDS_NOTHING) it waits, without
 * failing, until the matching setter is called: a wizard page shows the
 * field for "needs" and calls the setter when the user is done; the command
 * line sets everything before _run_async and never sees the flow wait
 * (except for the approval).  Setters may be called before or during the
 * run; a value the flow has already used (the serial once the order exists)
 * cannot be changed: the setter returns FALSE with INVALID.
 *
 * The steps, in order (each resumable; the state is in the registry):
 *   SCAN       needs SERIAL: the serial scanned off the terminal's label
 *   CHECK      lookup_serial: unknown, not in stock, quarantined, reserved by
 *              another order each fail with the registry's reason
 *   MERCHANT   needs MERCHANT: set_merchant_id, or set_new_merchant (created
 *              with the registry's validation; the MID is issued)
 *   ORDER      needs PROGRAM (set_program); create_install_order: TID issued
 *   APPROVAL   request_approval, then waits (needs APPROVAL) for a reviewer
 *              deciding elsewhere, watching the registry (get_approval with
 *              backoff 0.2 s .. 2 s, cancellable), or for set_reviewer
 *              (a reviewer signed in at this station, sent at once; a
 *              decision the registry refuses sets "reviewer-error" and
 *              the flow waits on); rejected: FAILED (PpApprovalWait,
 *              shared with PpRecycleFlow)
 *   CONNECT    needs DEVICE: set_device (an open PpTerminalDevice)
 *   IDENTIFY   the terminal's serial must be the scan; tamper stops the flow;
 *              one bound already must be bound to this registry's KDH
 *              (get_kdh's certificate subject), else OTHER_KDH
 *   CERTIFY    a terminal without a device certificate: the flow stops and
 *              says how to certify it (docs/key-host.md, "Certification")
 *   BIND       CT_KDH from the registry's key host, BIND
 *   KEY_NONCE, KEY_TOKEN, KEY_LOAD, KEY_KCV: TR-34 2-pass, each sub-step
 *              a step of its own: RT_KRD from the terminal, KT_KDH from the
 *              key host (the clear TMK never reaches the station), LOAD_KEY,
 *              the terminal's KCV confirmed by the registry
 *   SIGN_ON_TEST (when set_operator was called): working keys from the key
 *              host under the TMK, SIGN_ON, the terminal's KCVs compared in
 *              constant time with the key host's, SIGN_OFF
 *   PROGRAM    the package (set_program_package, or fetched from the
 *              registry's catalogue) pushed with progress, rate and time
 *              left; resumes at the terminal's offset
 *   CLOSE      program_installed, close_order
 *   DONE       the receipt: pp_install_flow_get_receipt
 *   FAILED     "error" says why, "message" what to do
 *
 * Cancelling: cancel the GCancellable given to _run_async.  The flow stops
 * at the next step boundary of the call in flight (a registry call that
 * started runs to its end) and _run_finish fails with G_IO_ERROR_CANCELLED;
 * the order stays as the registry has it (open, approved, keyed, ...), so
 * a later flow resumes it, or pp_install_flow_cancel_order_async cancels
 * it (open or approved orders only: a keyed terminal is recycled instead).
 *
 * Resuming: pp_install_flow_resume (flow, order_uuid) before _run_async (or
 * resume with NULL and set_serial: the open order that holds that serial).
 * The flow reads the order and starts at its state: open -> APPROVAL,
 * approved -> CONNECT, keyed -> CONNECT (then, from the terminal's STATUS:
 * already holding the order's KCV skips the key load, a program already
 * installed skips the push, a partial push resumes at its offset),
 * program_installed -> CLOSE.
 */
#pragma once

#include <gio/gio.h>

#include "pp-merchant.h"
#include "pp-program-package.h"
#include "pp-registry.h"
#include "pp-terminal-device.h"

G_BEGIN_DECLS

#define PP_FLOW_ERROR (pp_flow_error_quark ())

/* The flows' own refusals (the registry's and the terminal's errors pass
 * through in their own domains). */
typedef enum {
  PP_FLOW_ERROR_INVALID,        /* a bad input, or one that can no longer change */
  PP_FLOW_ERROR_WRONG_SERIAL,   /* the terminal is not the one scanned */
  PP_FLOW_ERROR_TAMPERED,       /* the terminal reports an attack */
  PP_FLOW_ERROR_NO_CERT,        /* the terminal has no device certificate */
  PP_FLOW_ERROR_REJECTED,       /* the reviewer rejected the request */
  PP_FLOW_ERROR_NOT_INSTALLABLE,/* the registry says the serial cannot be installed */
  PP_FLOW_ERROR_KCV_MISMATCH,   /* a KCV the terminal reported is not the key host's */
  PP_FLOW_ERROR_PROGRAM,        /* no such program for the model, or its package is wrong */
  PP_FLOW_ERROR_STATE,          /* the order is in no state this flow can go on from */
  PP_FLOW_ERROR_OTHER_KDH,      /* the terminal is bound to another key distribution host */
} PpFlowError;

GQuark pp_flow_error_quark (void);

/* Where the flow is (the property "step"; PP_TYPE_INSTALL_STEP). */
typedef enum {
  PP_INSTALL_STEP_SCAN,
  PP_INSTALL_STEP_CHECK,
  PP_INSTALL_STEP_MERCHANT,
  PP_INSTALL_STEP_ORDER,
  PP_INSTALL_STEP_APPROVAL,
  PP_INSTALL_STEP_CONNECT,
  PP_INSTALL_STEP_IDENTIFY,
  PP_INSTALL_STEP_CERTIFY,
  PP_INSTALL_STEP_BIND,
  PP_INSTALL_STEP_KEY_NONCE,
  PP_INSTALL_STEP_KEY_TOKEN,
  PP_INSTALL_STEP_KEY_LOAD,
  PP_INSTALL_STEP_KEY_KCV,
  PP_INSTALL_STEP_SIGN_ON_TEST,
  PP_INSTALL_STEP_PROGRAM,
  PP_INSTALL_STEP_CLOSE,
  PP_INSTALL_STEP_DONE,
  PP_INSTALL_STEP_FAILED,
} PpInstallStep;

/* What the person at the station must provide now (the property "needs";
 * PP_TYPE_INSTALL_NEEDS). */
typedef enum {
  PP_INSTALL_NEEDS_NOTHING,
  PP_INSTALL_NEEDS_SERIAL,      /* pp_install_flow_set_serial */
  PP_INSTALL_NEEDS_MERCHANT,    /* _set_merchant_id or _set_new_merchant */
  PP_INSTALL_NEEDS_PROGRAM,     /* _set_program */
  PP_INSTALL_NEEDS_APPROVAL,    /* a reviewer: elsewhere, or _set_reviewer here */
  PP_INSTALL_NEEDS_DEVICE,      /* _set_device */
} PpInstallNeeds;

GType       pp_install_step_get_type  (void) G_GNUC_CONST;
GType       pp_install_needs_get_type (void) G_GNUC_CONST;
#define PP_TYPE_INSTALL_STEP  (pp_install_step_get_type ())
#define PP_TYPE_INSTALL_NEEDS (pp_install_needs_get_type ())
/* "scan", "check", ..., "key-nonce", ..., "done", "failed" (stable, for JSON). */
const char *pp_install_step_to_string (PpInstallStep step);
/* A short translated title ("Checking the register", "Loading the key"). */
const char *pp_install_step_get_label (PpInstallStep step);

/* What the install did, for the receipt (all strings owned). */
typedef struct {
  char   *order_uuid;
  char   *serial;
  char   *model;
  char   *merchant_name;
  char   *mid;
  char   *tid;
  char   *kcv;
  char   *program_name;
  char   *program_version;
  char   *approval_uuid;
  char   *requester;
  char   *approver;
  char   *state;           /* the order's state: "closed" once done */
  gint64  started_at;      /* unix seconds, UTC */
  gint64  finished_at;
} PpInstallReceipt;

void pp_install_receipt_free (PpInstallReceipt *receipt);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (PpInstallReceipt, pp_install_receipt_free)

#define PP_TYPE_INSTALL_FLOW (pp_install_flow_get_type ())
G_DECLARE_FINAL_TYPE (PpInstallFlow, pp_install_flow, PP, INSTALL_FLOW, GObject)

/* Properties (all read-only but "user", construct-only; all notify):
 *   "registry"        PpRegistry*    construct-only
 *   "user"            char*          construct-only: the field manager acting
 *   "step"            PpInstallStep
 *   "needs"           PpInstallNeeds
 *   "message"         char*          translated, for the field manager: what
 *                                    happens now, or what to do about a failure
 *   "error"           GError* (boxed) NULL unless FAILED
 *   "progress"        double         0..1 within the step (the program push),
 *                                    -1 when the step has no measure
 *   "rate"            double         bytes per second of the push, 0: unknown
 *   "seconds-left"    double         of the push, -1: unknown
 *   "serial", "model", "order-uuid", "approval-uuid", "merchant-name",
 *   "mid", "tid", "kcv", "program-name", "program-version"  char*, NULL
 *                                    until known
 *   "resumed-from"    guint64        the offset a program push resumed at
 */
PpInstallFlow *pp_install_flow_new (PpRegistry *registry,
                                    const char *user);

/* Inputs.  Each returns FALSE with PP_FLOW_ERROR_INVALID when the value is
 * malformed or can no longer change (the order exists). */
gboolean pp_install_flow_set_serial       (PpInstallFlow           *self,
                                           const char              *serial,
                                           GError                 **error);
gboolean pp_install_flow_set_merchant_id  (PpInstallFlow           *self,
                                           gint64                   merchant_id,
                                           GError                 **error);
/* A merchant to create (the registry validates and issues the MID). */
gboolean pp_install_flow_set_new_merchant (PpInstallFlow           *self,
                                           const PpMerchantFields  *fields,
                                           GError                 **error);
/* The program (name and version as in the catalogue); the key type of the
 * TMK (default PP_TMK_AES_128). */
gboolean pp_install_flow_set_program      (PpInstallFlow           *self,
                                           const char              *name,
                                           const char              *version,
                                           GError                 **error);
/* Optional: the package's bytes at hand (else fetched from the registry's
 * catalogue); its name, version and model must be the order's (the
 * terminal checks its signature). */
gboolean pp_install_flow_set_program_package (PpInstallFlow        *self,
                                              PpProgramPackage     *package,
                                              GError              **error);
void     pp_install_flow_set_key_type     (PpInstallFlow           *self,
                                           PpTmkType                key_type);
/* The requester's one-time code, when they have one enrolled. */
void     pp_install_flow_set_otp          (PpInstallFlow           *self,
                                           const char              *otp);
/* A reviewer signed in at this station decides here: @registry speaks for
 * @reviewer (a remote registry signed in as them, or the local one after
 * pp_registry_authenticate); @approve with @reason.  Only while "needs" is
 * APPROVAL or before it.  The registry's refusal of it (the requester
 * themself, a field manager) does not end the run: it is the property
 * "reviewer-error" (GError) and the flow goes on waiting for a reviewer. */
gboolean pp_install_flow_set_reviewer     (PpInstallFlow           *self,
                                           PpRegistry              *registry,
                                           const char              *reviewer,
                                           gboolean                 approve,
                                           const char              *reason,
                                           GError                 **error);
/* The terminal (opened by the caller: devices/ or a simulator).  May be
 * replaced after a cable pull, before the flow is resumed. */
void     pp_install_flow_set_device       (PpInstallFlow           *self,
                                           PpTerminalDevice        *device);
/* The operator for the sign-on test (the password copied into a secure
 * buffer); without it the test is skipped and the receipt says so. */
void     pp_install_flow_set_operator     (PpInstallFlow           *self,
                                           guint32                  operator_id,
                                           const char              *password);
/* Resume the order @order_uuid, or (NULL) the open order holding the
 * serial given to set_serial.  Before _run_async. */
void     pp_install_flow_resume           (PpInstallFlow           *self,
                                           const char              *order_uuid);

/* Runs to DONE (TRUE) or FAILED (FALSE with the error, also in "error"). */
void     pp_install_flow_run_async        (PpInstallFlow           *self,
                                           GCancellable            *cancellable,
                                           GAsyncReadyCallback      callback,
                                           gpointer                 user_data);
gboolean pp_install_flow_run_finish       (PpInstallFlow           *self,
                                           GAsyncResult            *result,
                                           GError                 **error);

/* Cancels the flow's order in the registry (open or approved only). */
void     pp_install_flow_cancel_order_async  (PpInstallFlow        *self,
                                              const char           *reason,
                                              GCancellable         *cancellable,
                                              GAsyncReadyCallback   callback,
                                              gpointer              user_data);
gboolean pp_install_flow_cancel_order_finish (PpInstallFlow        *self,
                                              GAsyncResult         *result,
                                              GError              **error);

PpInstallStep     pp_install_flow_get_step    (PpInstallFlow *self);
PpInstallNeeds    pp_install_flow_get_needs   (PpInstallFlow *self);
const char       *pp_install_flow_get_message (PpInstallFlow *self);
const GError     *pp_install_flow_get_error   (PpInstallFlow *self);
double            pp_install_flow_get_progress (PpInstallFlow *self);
const char       *pp_install_flow_get_order_uuid (PpInstallFlow *self);
/* What was done so far (complete once DONE); free with pp_install_receipt_free. */
PpInstallReceipt *pp_install_flow_get_receipt (PpInstallFlow *self);

G_END_DECLS
