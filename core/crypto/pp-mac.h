/* SPDX-License-Identifier: GPL-3.0-or-later
 *
 * pp-mac.h: ISO/IEC 9797-1 MAC algorithm 3 ("retail MAC", ANSI X9.19).
 *
 * Single DES CBC under K over every block, the last block then decrypted
 * under K' and encrypted under K; the key is K || K' (16 bytes).  Padding
 * methods 1 (zeros), 2 (80 then zeros) and 3 (a length block first, then
 * zeros) of ISO/IEC 9797-1.
 */
#pragma once

#include <glib.h>

#include "pp-secure-buffer.h"

G_BEGIN_DECLS

#define PP_MAC_ERROR (pp_mac_error_quark ())

typedef enum {
  PP_MAC_ERROR_KEY_LENGTH,
  PP_MAC_ERROR_PADDING,
  PP_MAC_ERROR_MAC_LENGTH,
  PP_MAC_ERROR_MISMATCH,
  PP_MAC_ERROR_CRYPTO,
} PpMacError;

typedef enum {
  PP_MAC_PADDING_METHOD_1 = 1,
  PP_MAC_PADDING_METHOD_2 = 2,
  PP_MAC_PADDING_METHOD_3 = 3,
} PpMacPadding;

#define PP_MAC_RETAIL_LEN 8

GQuark   pp_mac_error_quark    (void);

/* Writes the full 8-byte MAC; callers truncate (commonly to 4 bytes). */
gboolean pp_mac_retail_compute (const PpSecureBuffer *key,
                                const guint8         *data,
                                gsize                 len,
                                PpMacPadding          padding,
                                guint8                out[PP_MAC_RETAIL_LEN],
                                GError              **error);

/* Compares the leftmost @mac_len (4..8) bytes in constant time;
 * PP_MAC_ERROR_MISMATCH when they differ. */
gboolean pp_mac_retail_verify  (const PpSecureBuffer *key,
                                const guint8         *data,
                                gsize                 len,
                                PpMacPadding          padding,
                                const guint8         *mac,
                                gsize                 mac_len,
                                GError              **error);

G_END_DECLS
