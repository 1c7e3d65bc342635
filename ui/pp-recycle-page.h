/* SPDX-License-Identifier: GPL-3.0-or-later
 *
 * pp-recycle-page.h: an installed terminal comes back (issue 9), a view of
 * PpRecycleFlow: the scan, what will happen (keys erased, key host binding
 * removed, merchant cleared) confirmed with a reason, the reviewer's
 * approval (the request's QR code, or the reviewer signs in here), the
 * port, unbind and zeroize, and the receipt.
 */
#pragma once

#include <adwaita.h>

#include "pp-recycle-flow.h"
#include "pp-session-page.h"

G_BEGIN_DECLS

#define PP_TYPE_RECYCLE_PAGE (pp_recycle_page_get_type ())
G_DECLARE_FINAL_TYPE (PpRecyclePage, pp_recycle_page, PP, RECYCLE_PAGE, PpSessionPage)

/* Properties "flow" (PpRecycleFlow, the one shown; replaced by a retry)
 * and "page-name" (the stack page shown: scan, confirm, approval,
 * connect, work, done). */
GtkWidget     *pp_recycle_page_new           (PpRegistry    *registry,
                                              const char    *user,
                                              PpUserRole     role);
PpRecycleFlow *pp_recycle_page_get_flow      (PpRecyclePage *self);
const char    *pp_recycle_page_get_page_name (PpRecyclePage *self);

GtkWindow     *pp_recycle_page_open_window   (GtkWindow     *parent,
                                              PpRegistry    *registry,
                                              const char    *user,
                                              PpUserRole     role);

G_END_DECLS
