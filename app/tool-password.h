/* SPDX-License-Identifier: GPL-3.0-or-later
 *
 * tool-password.h: a new password for a command line (posprov-tool users
 * add, posprov-registry init): from an environment variable, else asked
 * twice on the terminal without echo.
 */
#pragma once

#include "pp-secure-buffer.h"

G_BEGIN_DECLS

/* $@env_name when set; else @prompt on /dev/tty, twice, echo off. The
 * password is NUL-terminated text in a secure buffer. An error when
 * neither is possible (no terminal: the message names @env_name) or the two
 * typed differ. */
PpSecureBuffer *pp_tool_new_password (const char  *env_name,
                                      const char  *prompt,
                                      GError     **error);

/* One answer typed on /dev/tty after @prompt (echo off when @hidden), as
 * NUL-terminated text in a secure buffer; when stdin is not a terminal
 * (piped in), its next line, the prompt on stderr. */
PpSecureBuffer *pp_tool_ask          (const char  *prompt,
                                      gboolean     hidden,
                                      GError     **error);

G_END_DECLS
