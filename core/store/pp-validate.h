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
} PpValidateError;

#define PP_SERIAL_MAX_LENGTH 32

GQuark   pp_validate_error_quark (void);

/* A terminal serial: 4 to 32 characters, letters, digits and '-'.
 * Case-insensitive; the store keeps it upper case. */
gboolean pp_validate_serial      (const char  *serial,
                                  GError     **error);

G_END_DECLS
