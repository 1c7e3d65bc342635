/* SPDX-License-Identifier: GPL-3.0-or-later
 *
 * pp-password.h: slow, salted password hashes (scrypt via OpenSSL EVP_KDF).
 *
 * Encoded form: "scrypt$N$r$p$salt_b64$hash_b64", N the cost (a power of two,
 * 32768 by default), r = 8, p = 1, a 16-byte random salt and a 32-byte hash,
 * both standard base64. Verification re-derives with the stored parameters
 * and compares with CRYPTO_memcmp.
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

#define PP_PASSWORD_ERROR (pp_password_error_quark ())

typedef enum {
  PP_PASSWORD_ERROR_FORMAT,    /* not an encoded hash this module understands */
  PP_PASSWORD_ERROR_CRYPTO,    /* OpenSSL failed (out of memory, ...) */
  PP_PASSWORD_ERROR_MISMATCH,  /* wrong password */
  PP_PASSWORD_ERROR_TOO_SHORT, /* policy: fewer than PP_PASSWORD_MIN_LENGTH characters */
  PP_PASSWORD_ERROR_COMMON,    /* policy: on the list of common passwords */
  PP_PASSWORD_ERROR_USERNAME,  /* policy: contains the account's user name */
} PpPasswordError;

#define PP_PASSWORD_DEFAULT_LOG2_N 15
#define PP_PASSWORD_MIN_LOG2_N     4
#define PP_PASSWORD_MAX_LOG2_N     20

/* Characters (not bytes) a password must have under the account policy. */
#define PP_PASSWORD_MIN_LENGTH     12

GQuark    pp_password_error_quark    (void);

/* scrypt with N = 2^15. */
char     *pp_password_hash           (const char  *password,
                                      GError     **error);
/* scrypt with N = 2^@log2_n (PP_PASSWORD_MIN_LOG2_N..MAX). Lower than the default
 * only in tests, where speed matters more than strength. */
char     *pp_password_hash_with_cost (const char  *password,
                                      guint        log2_n,
                                      GError     **error);
/* TRUE if @password matches @encoded; FALSE with PP_PASSWORD_ERROR_MISMATCH if not,
 * PP_PASSWORD_ERROR_FORMAT if @encoded is malformed. */
gboolean  pp_password_verify         (const char  *password,
                                      const char  *encoded,
                                      GError     **error);

/* The account password policy, for every place that sets a password (the
 * station's first-run setup today; the command line and the registry service
 * later): at least PP_PASSWORD_MIN_LENGTH characters (TOO_SHORT), not on the
 * built-in list of common passwords, compared case-insensitively (COMMON),
 * and not containing @username (nullable; names under 3 characters are not
 * looked for) in any case (USERNAME). The message, translated, says what to
 * change; it never repeats the password. */
gboolean  pp_password_check_policy   (const char  *password,
                                      const char  *username,
                                      GError     **error);

G_END_DECLS
