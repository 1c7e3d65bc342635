/* SPDX-License-Identifier: GPL-3.0-or-later
 *
 * pp-qr-view.h: a QR code drawn with GtkSnapshot; the approval's payload is
 * the registry's (pp_registry_approval_qr_payload).
 */
#pragma once

#include <gtk/gtk.h>

G_BEGIN_DECLS

#define PP_TYPE_QR_VIEW (pp_qr_view_get_type ())
G_DECLARE_FINAL_TYPE (PpQrView, pp_qr_view, PP, QR_VIEW, GtkWidget)

GtkWidget  *pp_qr_view_new      (void);
/* NULL or "": nothing drawn. */
void        pp_qr_view_set_text (PpQrView   *self,
                                 const char *text);
const char *pp_qr_view_get_text (PpQrView   *self);
/* Modules per side of the code drawn now (0: none). */
guint       pp_qr_view_get_size (PpQrView   *self);
/* Whether the module at @x, @y (0-based) is dark. */
gboolean    pp_qr_view_get_module (PpQrView *self,
                                   guint     x,
                                   guint     y);

G_END_DECLS
