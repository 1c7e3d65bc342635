/* SPDX-License-Identifier: GPL-3.0-or-later
 *
 * pp-termsim-wire-tmp.h: TEMPORARY framing for posprov-termsim until the
 * link session (devices/link/pp-link.h, seam 2) is merged; then
 * serve_connection() in app/posprov-termsim.c calls pp_link_serve() and
 * this file goes. Not the link protocol: no CRC, no ACK, no resync.
 *
 *   request:  command (u8), length (u32 big-endian), payload
 *   response: status (u8),  length (u32 big-endian), payload
 */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

#define PP_TERMSIM_WIRE_TMP_MAX_PAYLOAD (1024 * 1024)

/* Same shape as PpLinkHandler. */
typedef GBytes *(*PpTermsimWireHandler) (guint8    command,
                                         GBytes   *payload,
                                         guint8   *out_status,
                                         gpointer  user_data);

/* Answers requests until the peer closes (TRUE) or an error (FALSE). */
gboolean pp_termsim_wire_tmp_serve   (GIOStream             *stream,
                                      PpTermsimWireHandler   handler,
                                      gpointer               user_data,
                                      GCancellable          *cancellable,
                                      GError               **error);

/* The station side, for tests: one request, one response. */
GBytes  *pp_termsim_wire_tmp_request (GIOStream     *stream,
                                      guint8         command,
                                      GBytes        *payload,
                                      guint8        *out_status,
                                      GCancellable  *cancellable,
                                      GError       **error);

G_END_DECLS
