/* SPDX-License-Identifier: GPL-3.0-or-later
 *
 * pp-work-orders-page.h: the station's work orders (issue 9): install and
 * recycle orders with their state, terminal, merchant, MID/TID, requester
 * and age; interrupted installs marked, with Resume; Cancel with a reason
 * where the user's role may.
 */
#pragma once

#include <adwaita.h>

#include "pp-install-wizard.h"
#include "pp-session-page.h"

G_BEGIN_DECLS

#define PP_TYPE_WORK_ORDERS_PAGE (pp_work_orders_page_get_type ())
G_DECLARE_FINAL_TYPE (PpWorkOrdersPage, pp_work_orders_page, PP, WORK_ORDERS_PAGE, PpSessionPage)

/* The orders of @registry for @user (signed in with @role).  While mapped,
 * the page watches the registry's change feed (backing off from 0.25 s to
 * 4 s while nothing changes) and lists the orders again when one changed.
 *
 * Signal "resume-order" (const char *uuid): the user pressed Resume on an
 * interrupted install; the window hands it to
 * pp_install_wizard_resume_order.
 * Properties "show-all" (boolean, read-write: closed and cancelled orders
 * too), "n-orders" (uint: rows shown), "n-interrupted" (uint). */
GtkWidget *pp_work_orders_page_new          (PpRegistry       *registry,
                                             const char       *user,
                                             PpUserRole        role);
/* The wizard of this station: an install it is running is not interrupted. */
void       pp_work_orders_page_set_wizard   (PpWorkOrdersPage *self,
                                             PpInstallWizard  *wizard);
void       pp_work_orders_page_set_show_all (PpWorkOrdersPage *self,
                                             gboolean          show_all);
guint      pp_work_orders_page_get_n_orders (PpWorkOrdersPage *self);
guint      pp_work_orders_page_get_n_interrupted (PpWorkOrdersPage *self);
/* Lists the orders again now. */
void       pp_work_orders_page_reload       (PpWorkOrdersPage *self);

GtkWindow *pp_work_orders_page_open_window  (GtkWindow        *parent,
                                             PpRegistry       *registry,
                                             const char       *user,
                                             PpUserRole        role);

G_END_DECLS
