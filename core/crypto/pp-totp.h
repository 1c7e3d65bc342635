/* SPDX-License-Identifier: GPL-3.0-or-later
 *
 * pp-totp.h: time-based one-time passwords (RFC 6238 over HOTP, RFC 4226),
 * the otpauth:// Key URI an authenticator app scans, and base32 (RFC 4648).
 *
 * Defaults are what authenticator apps assume: HMAC-SHA-1, 6 digits,
 * 30-second steps from the Unix epoch.
 */
#pragma once

#include <glib.h>

#include "pp-secure-buffer.h"

G_BEGIN_DECLS

#define PP_TOTP_ERROR (pp_totp_error_quark ())

typedef enum {
  PP_TOTP_ERROR_INVALID,      /* bad parameter, secret or base32 text */
  PP_TOTP_ERROR_WRONG_CODE,   /* not the code of this step or the one either side */
  PP_TOTP_ERROR_REPLAYED,     /* the code of a step already used */
} PpTotpError;

typedef enum {
  PP_TOTP_SHA1,
  PP_TOTP_SHA256,
  PP_TOTP_SHA512,
} PpTotpAlgorithm;

#define PP_TOTP_DEFAULT_DIGITS 6
#define PP_TOTP_DEFAULT_PERIOD 30
/* RFC 4226 section 4 asks for at least 128 bits; 160 is the SHA-1 block size the
 * apps expect. */
#define PP_TOTP_SECRET_LEN     20

GQuark          pp_totp_error_quark (void);

/* RFC 4648 section 6 base32, upper case; with "=" padding when @pad. */
char           *pp_base32_encode    (const guint8  *data,
                                     gsize          len,
                                     gboolean       pad);
/* Decodes base32 in either case, padding optional, spaces ignored (people
 * type secrets in groups). PP_TOTP_ERROR_INVALID naming the first bad
 * character. */
PpSecureBuffer *pp_base32_decode    (const char    *text,
                                     GError       **error);

/* The time step of @unix_time: floor (unix_time / period). */
gint64          pp_totp_step        (gint64         unix_time,
                                     guint          period);

/* The code of @step as @digits (6 to 8) decimal digits into @out. */
gboolean        pp_totp_code        (const PpSecureBuffer *secret,
                                     PpTotpAlgorithm       algorithm,
                                     guint                 digits,
                                     gint64                step,
                                     char                  out[9],
                                     GError              **error);

/* Checks @code against the steps of @now - 1, @now and @now + 1 (default
 * algorithm, digits and period), comparing in constant time. A step at or
 * before @last_used_step (-1: none) is refused with PP_TOTP_ERROR_REPLAYED,
 * so a code is good once. *out_step (optional) gets the matching step, the
 * one to record as last used. */
gboolean        pp_totp_verify      (const PpSecureBuffer *secret,
                                     const char           *code,
                                     gint64                now,
                                     gint64                last_used_step,
                                     gint64               *out_step,
                                     GError              **error);

/* otpauth://totp/ISSUER:USER?secret=BASE32&issuer=ISSUER (Key URI format;
 * ISSUER and USER percent-encoded, the secret unpadded). NUL-terminated text
 * in a secure buffer: it holds the secret. */
PpSecureBuffer *pp_totp_uri         (const char           *issuer,
                                     const char           *user,
                                     const PpSecureBuffer *secret);

G_END_DECLS
