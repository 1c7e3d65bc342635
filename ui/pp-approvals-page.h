/* SPDX-License-Identifier: GPL-3.0-or-later
 *
 * pp-approvals-page.h: the supervisor's screen (issue 9): approval requests
 * as they arrive, exactly what each approves, the decision with its reason,
 * and the history of decided ones.
 */
#pragma once

#include <adwaita.h>

#include "pp-session-page.h"

G_BEGIN_DECLS

#define PP_TYPE_APPROVALS_PAGE (pp_approvals_page_get_type ())
G_DECLARE_FINAL_TYPE (PpApprovalsPage, pp_approvals_page, PP, APPROVALS_PAGE, PpSessionPage)

/* The requests of @registry as @user (signed in with @role) sees them.
 * While the page is mapped it watches the registry's change feed (backing
 * off from 0.25 s to 4 s while nothing changes) and lists the approvals
 * again when one changed; unmapping stops the watch.  The page refuses
 * nothing itself: the registry decides who may approve what and its
 * message is shown. */
GtkWidget *pp_approvals_page_new         (PpRegistry      *registry,
                                          const char      *user,
                                          PpUserRole       role);
/* Pending requests shown, and decided ones in the history. */
guint      pp_approvals_page_get_n_pending (PpApprovalsPage *self);
guint      pp_approvals_page_get_n_decided (PpApprovalsPage *self);
/* Lists the approvals again now. */
void       pp_approvals_page_reload      (PpApprovalsPage *self);

/* The page in a window of its own over @parent (pp_session_page_open_window): what
 * the station's win.approvals action opens. */
GtkWindow *pp_approvals_page_open_window (GtkWindow   *parent,
                                          PpRegistry  *registry,
                                          const char  *user,
                                          PpUserRole   role);

G_END_DECLS
