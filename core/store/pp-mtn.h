/* SPDX-License-Identifier: GPL-3.0-or-later
 *
 * pp-mtn.h: merchant-terminal numbers (15-digit MID, 8-digit TID), each a
 * configurable institution/branch prefix, a zero-padded sequence and a Luhn
 * check digit. Pure functions, no storage: the store issues the sequences.
 * The scheme is documented in docs/merchant-terminal-numbers.md.
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

#define PP_MTN_ERROR (pp_mtn_error_quark ())

typedef enum {
  PP_MTN_ERROR_BAD_PREFIX,          /* prefix has a character other than 0-9 */
  PP_MTN_ERROR_PREFIX_TOO_LONG,     /* no digit left for the sequence */
  PP_MTN_ERROR_SEQUENCE_OVERFLOW,   /* sequence needs more digits than the prefix leaves */
  PP_MTN_ERROR_LENGTH,              /* validate: wrong number of characters */
  PP_MTN_ERROR_NOT_DIGITS,          /* validate: a character other than 0-9 */
  PP_MTN_ERROR_CHECK_DIGIT,         /* validate: Luhn check digit does not match */
} PpMtnError;

#define PP_MTN_MID_LENGTH 15
#define PP_MTN_TID_LENGTH 8

GQuark   pp_mtn_error_quark  (void);

/* The Luhn (ISO/IEC 7812-1 mod 10) check digit '0'..'9' to append to
 * @digits, or '\0' if @digits is empty or holds a non-digit. */
char     pp_mtn_luhn_digit   (const char  *digits);

/* @prefix (0 to 13 digits) + @sequence zero-padded to fill 14 digits + Luhn
 * digit, NUL-terminated in @out. */
gboolean pp_mtn_format_mid   (const char  *prefix,
                              guint64      sequence,
                              char         out[16],
                              GError     **error);
/* @prefix (0 to 6 digits) + @sequence zero-padded to fill 7 digits + Luhn. */
gboolean pp_mtn_format_tid   (const char  *prefix,
                              guint64      sequence,
                              char         out[9],
                              GError     **error);

gboolean pp_mtn_validate_mid (const char  *mid,
                              GError     **error);
gboolean pp_mtn_validate_tid (const char  *tid,
                              GError     **error);

G_END_DECLS
