/* SPDX-License-Identifier: GPL-3.0-or-later
 *
 * pp-qr-code.h: a QR code drawn with GtkSnapshot (libqrencode), and the one
 * payload an approval's QR code carries.
 */
#pragma once

#include <gtk/gtk.h>

G_BEGIN_DECLS

#define PP_TYPE_QR_CODE (pp_qr_code_get_type ())
G_DECLARE_FINAL_TYPE (PpQrCode, pp_qr_code, PP, QR_CODE, GtkWidget)

GtkWidget  *pp_qr_code_new      (void);
/* NULL or "": nothing drawn. */
void        pp_qr_code_set_text (PpQrCode   *self,
                                 const char *text);
const char *pp_qr_code_get_text (PpQrCode   *self);
/* Modules per side of the code drawn now (0: none). */
guint       pp_qr_code_get_size (PpQrCode   *self);
/* Whether the module at @x, @y (0-based) is dark. */
gboolean    pp_qr_code_get_module (PpQrCode *self,
                                   guint     x,
                                   guint     y);

/* What a reviewer's phone reads off the approval page: the approval's id.
 * The one place that decides the format (a shorter one with a short code
 * may replace it). */
char       *pp_qr_approval_payload (const char *approval_uuid);

G_END_DECLS
