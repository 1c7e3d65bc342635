/* SPDX-License-Identifier: GPL-3.0-or-later
 *
 * pp-qr-code.h: a QR code's module matrix (libqrencode), for whatever
 * draws it: the tool in the terminal (pp_qr_code_to_half_blocks), the
 * station on a GTK surface (pp_qr_code_get_modules, one byte per module).
 * No GTK here. The modules are wiped when the code is freed, since the
 * text may be a secret (an otpauth:// URI).
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

typedef struct _PpQrCode PpQrCode;

/* @text encoded in 8-bit mode at error correction level M, the smallest
 * version that holds it; G_IO_ERROR_FAILED when it cannot be (too long). */
PpQrCode     *pp_qr_code_new            (const char      *text,
                                         GError         **error);
void          pp_qr_code_free           (PpQrCode        *qr);
/* Modules per side (21 for version 1, 4 more per version), without the
 * quiet zone. */
guint         pp_qr_code_get_size       (const PpQrCode  *qr);
/* Whether the module in column @x, row @y is dark. */
gboolean      pp_qr_code_is_dark        (const PpQrCode  *qr,
                                         guint            x,
                                         guint            y);
/* The matrix, row by row from the top, size × size bytes: 1 dark, 0 light.
 * Owned by @qr. The drawer adds a quiet zone of at least 4 modules around
 * it (2 is enough for a terminal's half blocks, which readers accept). */
const guint8 *pp_qr_code_get_modules    (const PpQrCode  *qr,
                                         guint           *out_size);
/* The code in UTF-8 half blocks, two module rows per line, each line ended
 * by "\n", light modules drawn (a terminal's background is dark) inside a
 * quiet zone of @quiet modules. Wipe it when the text was a secret. */
char         *pp_qr_code_to_half_blocks (const PpQrCode  *qr,
                                         guint            quiet);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (PpQrCode, pp_qr_code_free)

G_END_DECLS
