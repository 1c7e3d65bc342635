/* SPDX-License-Identifier: GPL-3.0-or-later
 *
 * pp-install-wizard.h: the one-visit install (issue 9), a view of
 * PpInstallFlow: one page per step, in a sidebar of the steps.
 */
#pragma once

#include <adwaita.h>

#include "pp-install-flow.h"
#include "pp-session-page.h"

G_BEGIN_DECLS

#define PP_TYPE_INSTALL_WIZARD (pp_install_wizard_get_type ())
G_DECLARE_FINAL_TYPE (PpInstallWizard, pp_install_wizard, PP, INSTALL_WIZARD, PpSessionPage)

/* A wizard acting as @user (signed in with @role) on @registry.  It starts
 * a flow at once, waiting for the scan; a flow that fails is replaced by a
 * new one (resuming the order when there is one) when the user tries again,
 * so "flow" changes (and notifies) over the wizard's life. */
GtkWidget     *pp_install_wizard_new           (PpRegistry  *registry,
                                                const char  *user,
                                                PpUserRole   role);
PpInstallFlow *pp_install_wizard_get_flow      (PpInstallWizard *self);
/* The page shown: "scan", "merchant", "program", "approval", "connect",
 * "keys", "push", "done". */
const char    *pp_install_wizard_get_page_name (PpInstallWizard *self);
/* Resumes the interrupted order @order_uuid in a new flow (the work-order
 * list's "Resume"). */
void           pp_install_wizard_resume_order  (PpInstallWizard *self,
                                                const char      *order_uuid);

/* A window of its own for the wizard (or the approvals page,
 * pp_approvals_page_open_window), over @parent (may be NULL): what the
 * station's win.install action opens. */
GtkWindow     *pp_install_wizard_open_window   (GtkWindow   *parent,
                                                PpRegistry  *registry,
                                                const char  *user,
                                                PpUserRole   role);

G_END_DECLS
