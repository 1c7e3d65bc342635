/* SPDX-License-Identifier: GPL-3.0-or-later
 *
 * pp-pinblock.h: ISO 9564-1 PIN blocks, format 0 (TDES, 8 bytes) and
 * format 4 (AES, 16 bytes).
 *
 * Format 0: (0 L PIN F-fill) XOR (0000 + 12 rightmost PAN digits without
 * the check digit).  Format 4: PIN field (4 L PIN A-fill, 8 random bytes)
 * and PAN field (M = PAN length - 12, PAN, 0-fill); enciphered block =
 * AES(K, AES(K, pin field) XOR pan field).
 *
 * PINs are 4 to 12 digits, PANs 1 to 19 digits.  A decoded PIN is a secret:
 * free it with pp_hex_free_secret() (it wipes any string).
 */
#pragma once

#include <glib.h>

#include "pp-secure-buffer.h"

G_BEGIN_DECLS

#define PP_PIN_BLOCK_ERROR (pp_pin_block_error_quark ())

typedef enum {
  PP_PIN_BLOCK_ERROR_PIN_INVALID,
  PP_PIN_BLOCK_ERROR_PAN_INVALID,
  PP_PIN_BLOCK_ERROR_FORMAT,
  PP_PIN_BLOCK_ERROR_PIN_LENGTH_FIELD,
  PP_PIN_BLOCK_ERROR_FILL,
  PP_PIN_BLOCK_ERROR_KEY_LENGTH,
  PP_PIN_BLOCK_ERROR_CRYPTO,
} PpPinBlockError;

#define PP_PIN_BLOCK_FORMAT0_LEN 8
#define PP_PIN_BLOCK_FORMAT4_LEN 16
#define PP_PIN_MIN_DIGITS 4
#define PP_PIN_MAX_DIGITS 12
#define PP_PAN_MAX_DIGITS 19

GQuark   pp_pin_block_error_quark             (void);

gboolean pp_pin_block_format0_encode          (const char    *pin,
                                               const char    *pan,
                                               guint8         out[PP_PIN_BLOCK_FORMAT0_LEN],
                                               GError       **error);
char    *pp_pin_block_format0_decode          (const guint8   block[PP_PIN_BLOCK_FORMAT0_LEN],
                                               const char    *pan,
                                               GError       **error);

/* @random_fill: the 8 bytes after the PIN (NULL: fresh random bytes). */
gboolean pp_pin_block_format4_encode_pin_field (const char   *pin,
                                                const guint8 *random_fill,
                                                guint8        out[PP_PIN_BLOCK_FORMAT4_LEN],
                                                GError      **error);
gboolean pp_pin_block_format4_encode_pan_field (const char   *pan,
                                                guint8        out[PP_PIN_BLOCK_FORMAT4_LEN],
                                                GError      **error);
char    *pp_pin_block_format4_decode_pin_field (const guint8  field[PP_PIN_BLOCK_FORMAT4_LEN],
                                                GError      **error);

/* @key: AES-128/192/256. */
gboolean pp_pin_block_format4_encipher        (const PpSecureBuffer *key,
                                               const guint8          pin_field[PP_PIN_BLOCK_FORMAT4_LEN],
                                               const guint8          pan_field[PP_PIN_BLOCK_FORMAT4_LEN],
                                               guint8                out[PP_PIN_BLOCK_FORMAT4_LEN],
                                               GError              **error);
/* Returns the PIN. */
char    *pp_pin_block_format4_decipher        (const PpSecureBuffer *key,
                                               const guint8          block[PP_PIN_BLOCK_FORMAT4_LEN],
                                               const char           *pan,
                                               GError              **error);

G_END_DECLS
