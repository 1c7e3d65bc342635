/* SPDX-License-Identifier: GPL-3.0-or-later
 *
 * pp-scan.h: what a barcode/QR scanner (a keyboard-wedge device) hands us.
 *
 * Scanners send either the bare serial, a labelled form ("SN:ABC123",
 * "S/N ABC123") or the station's own QR payload
 * "posprov:terminal?serial=ABC123&model=X990".  This turns any of them into
 * a serial number (and a model when the QR carries one).
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

#define PP_SCAN_ERROR (pp_scan_error_quark ())

typedef enum {
  PP_SCAN_ERROR_EMPTY,
  PP_SCAN_ERROR_BAD_SERIAL,
  PP_SCAN_ERROR_BAD_QR,
} PpScanError;

GQuark   pp_scan_error_quark (void);

gboolean pp_scan_parse       (const char  *scanned,
                              char       **out_serial,
                              char       **out_model,
                              GError     **error);

G_END_DECLS
