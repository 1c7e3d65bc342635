/* SPDX-License-Identifier: GPL-3.0-or-later
 *
 * pp-kcv.h: key check values.
 *
 * TDES: leftmost bytes of TDES-ECB(key, 8 zero bytes), 3 by default.
 * AES:  leftmost bytes of AES-CMAC(key, 16 zero bytes), 5 by default.
 */
#pragma once

#include <glib.h>

#include "pp-secure-buffer.h"

G_BEGIN_DECLS

#define PP_KCV_ERROR (pp_kcv_error_quark ())

typedef enum {
  PP_KCV_ERROR_KEY_LENGTH,
  PP_KCV_ERROR_KCV_LENGTH,
  PP_KCV_ERROR_CRYPTO,
} PpKcvError;

typedef enum {
  PP_KEY_ALGORITHM_TDES,
  PP_KEY_ALGORITHM_AES,
} PpKeyAlgorithm;

#define PP_KCV_MIN_LENGTH 2
#define PP_KCV_MAX_LENGTH 8
#define PP_KCV_DEFAULT_LENGTH_TDES 3
#define PP_KCV_DEFAULT_LENGTH_AES 5

GQuark    pp_kcv_error_quark     (void);

guint     pp_kcv_default_length  (PpKeyAlgorithm        algorithm);

/* Returns the check value as upper-case hex (2 * length digits). */
char     *pp_kcv_compute         (PpKeyAlgorithm        algorithm,
                                  const PpSecureBuffer *key,
                                  guint                 length,
                                  GError              **error);

/* Constant-time comparison of two hex check values (case-insensitive). */
gboolean  pp_kcv_equal           (const char           *a,
                                  const char           *b);

G_END_DECLS
