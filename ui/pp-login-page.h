/* SPDX-License-Identifier: GPL-3.0-or-later
 *
 * pp-login-page.h: signing in to a remote registry before anything is shown.
 */
#pragma once

#include <adwaita.h>

#include "pp-registry.h"

G_BEGIN_DECLS

#define PP_TYPE_LOGIN_PAGE (pp_login_page_get_type ())
G_DECLARE_FINAL_TYPE (PpLoginPage, pp_login_page, PP, LOGIN_PAGE, AdwBin)

/* Asks for the user (prefilled from the registry-user setting) and the
 * password, makes a PpRegistryRemote for @url trusting the PEM file
 * @ca_path (NULL or "": the system's CAs) and checks the password with the
 * registry (pp_registry_authenticate_async), off the main thread's way.
 * Emits ::signed-in (the PpRegistry, which keeps the session, and the
 * PpUser as a boxed pointer valid during the emission) on success; a wrong
 * password, an untrusted certificate or an unreachable registry is said on
 * the page; the last sets "unreachable" (until the registry answers) and
 * keeps the password for another try. */
GtkWidget  *pp_login_page_new        (void);
void        pp_login_page_set_target (PpLoginPage *self,
                                      const char  *url,
                                      const char  *ca_path,
                                      const char  *user);
const char *pp_login_page_get_url    (PpLoginPage *self);
/* Signs in with what the fields hold (the "Sign In" button); nothing while
 * a sign-in is running. */
void        pp_login_page_sign_in    (PpLoginPage *self);
gboolean    pp_login_page_get_busy   (PpLoginPage *self);
gboolean    pp_login_page_get_unreachable (PpLoginPage *self);

/* The widgets a user types in, and what the page says, for tests. */
GtkEditable *pp_login_page_get_user_entry     (PpLoginPage *self);
GtkEditable *pp_login_page_get_password_entry (PpLoginPage *self);
const char  *pp_login_page_get_error          (PpLoginPage *self);

G_END_DECLS
