/* SPDX-License-Identifier: GPL-3.0-or-later
 *
 * pp-validate.h: field rules shared by the store, the tool and the UI.
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

#define PP_VALIDATE_ERROR (pp_validate_error_quark ())

typedef enum {
  PP_VALIDATE_ERROR_EMPTY,
  PP_VALIDATE_ERROR_TOO_LONG,
  PP_VALIDATE_ERROR_BAD_CHARACTER,
  PP_VALIDATE_ERROR_INVALID_UTF8,
} PpValidateError;

#define PP_SERIAL_MAX_LENGTH 32

GQuark   pp_validate_error_quark (void);

/* A terminal serial: 4 to 32 characters, letters, digits and '-'.
 * Case-insensitive; the store keeps it upper case. */
gboolean pp_validate_serial      (const char  *serial,
                                  GError     **error);

/* TRUE for a character a register field may not hold because it is
 * invisible or changes how the terminal shows what follows: C0 and C1
 * controls and DEL, format characters (bidi marks, embeddings, overrides
 * and isolates U+200E/F, U+202A-202E, U+2066-2069, zero-width characters,
 * soft hyphen, BOM), line and paragraph separators. */
gboolean pp_validate_is_hidden_char (gunichar     c);

/* A text field (vendor, model): valid UTF-8 and no character for which
 * pp_validate_is_hidden_char is TRUE. The error names the character by
 * code point and its position (1-based, in characters), never echoes it. */
gboolean pp_validate_text        (const char  *text,
                                  GError     **error);

/* @text (@len bytes, or -1 for NUL-terminated) made safe to echo on a
 * terminal: printable characters as they are, a backslash as \\, other
 * bytes of ASCII controls and invalid UTF-8 as \xNN, hidden characters
 * above ASCII as \u{NNNN}; cut after @max_chars characters of the input
 * with "…". Newly allocated. */
#define PP_VALIDATE_QUOTE_MAX 64
char    *pp_validate_escape      (const char  *text,
                                  gssize       len,
                                  guint        max_chars);

G_END_DECLS
