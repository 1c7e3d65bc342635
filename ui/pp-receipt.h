/* SPDX-License-Identifier: GPL-3.0-or-later
 *
 * pp-receipt.h: the install receipt (issue 9): what one install did (the
 * flow's PpInstallReceipt) and the order's journal entries with their
 * hashes, laid out once (pp_receipt_draw) for an A4 PDF and for printing.
 *
 * How the wizard's final page uses it
 * -----------------------------------
 *   receipt = pp_install_flow_get_receipt (flow);
 *   pp_receipt_collect_async (registry, receipt, NULL, collected_cb, page);
 *   ... entries = pp_receipt_collect_finish (...);
 *   path = pp_receipt_save (receipt, entries, &error);   (the PDF, shown to the user)
 *   pp_receipt_print (window, receipt, entries);          (the print dialog)
 *
 * The drawing uses cairo and Pango only (the system's "Sans" and
 * "Monospace" through fontconfig, so Chinese labels render); printing
 * goes through GtkPrintOperation.
 */
#pragma once

#include <gtk/gtk.h>

#include "pp-install-flow.h"
#include "pp-registry.h"

G_BEGIN_DECLS

/* A4 in PostScript points. */
#define PP_RECEIPT_A4_WIDTH  595.276
#define PP_RECEIPT_A4_HEIGHT 841.890

/* Draws the receipt on @cr, whose user units are points, on a page of
 * @width x @height points (margins included). @entries: element-type
 * PpAuditEntry, the order's, oldest first (NULL: none). Entries that do
 * not fit on the page are counted in a note at the end of the table. */
void       pp_receipt_draw            (cairo_t                *cr,
                                       double                  width,
                                       double                  height,
                                       const PpInstallReceipt *receipt,
                                       GPtrArray              *entries);

/* Writes the receipt as a one-page A4 PDF to @path, atomically (a temp
 * file in the same folder, then renamed over @path): a failure leaves
 * no half-written file. G_IO_ERROR on failure, naming the path. */
gboolean   pp_receipt_render_pdf      (const PpInstallReceipt *receipt,
                                       GPtrArray              *entries,
                                       const char             *path,
                                       GError                **error);

/* Where a receipt is saved by default: $XDG_DOCUMENTS_DIR, else the
 * user's Documents folder (xdg-user-dirs), else the home folder, under
 * "posprov-receipts/ORDER.pdf". NULL with G_IO_ERROR_INVALID_ARGUMENT
 * when @order_uuid is no UUID (it names a file). */
char      *pp_receipt_default_path    (const char             *order_uuid,
                                       GError                **error);

/* Renders to pp_receipt_default_path (creating the folder) and returns
 * that path. */
char      *pp_receipt_save            (const PpInstallReceipt *receipt,
                                       GPtrArray              *entries,
                                       GError                **error);

/* The order's journal entries from @registry (the order looked up by
 * receipt->order_uuid, then the journal read page by page), oldest first.
 * The finish returns element-type PpAuditEntry, or NULL with the
 * registry's error. */
void       pp_receipt_collect_async   (PpRegistry             *registry,
                                       const PpInstallReceipt *receipt,
                                       GCancellable           *cancellable,
                                       GAsyncReadyCallback     callback,
                                       gpointer                user_data);
GPtrArray *pp_receipt_collect_finish  (PpRegistry             *registry,
                                       GAsyncResult           *result,
                                       GError                **error);

/* A print operation of one page drawing the receipt (copied: the
 * operation may outlive the caller's data). The caller runs it. */
GtkPrintOperation *pp_receipt_print_operation_new (const PpInstallReceipt *receipt,
                                                   GPtrArray              *entries);

/* Shows the print dialog for the receipt over @parent without blocking
 * the main loop; a printing error is shown in a dialog. */
void       pp_receipt_print           (GtkWindow              *parent,
                                       const PpInstallReceipt *receipt,
                                       GPtrArray              *entries);

G_END_DECLS
