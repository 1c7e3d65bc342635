/* SPDX-License-Identifier: GPL-3.0-or-later
 *
 * pp-hex.h: hex in (any case) and out (upper case), with precise errors.
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

#define PP_HEX_ERROR (pp_hex_error_quark ())

typedef enum {
  PP_HEX_ERROR_ODD_LENGTH,
  PP_HEX_ERROR_INVALID_CHARACTER,
  PP_HEX_ERROR_EMPTY,
} PpHexError;

GQuark    pp_hex_error_quark  (void);

gboolean  pp_hex_validate     (const char    *hex,
                               gsize         *out_len,
                               GError       **error);
void      pp_hex_decode_into  (const char    *hex,
                               guint8        *out,
                               gsize          out_len);
GBytes   *pp_hex_decode       (const char    *hex,
                               GError       **error);
char     *pp_hex_encode       (const guint8  *data,
                               gsize          len);
void      pp_hex_free_secret  (char          *hex);

G_END_DECLS
