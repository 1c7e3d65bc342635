/* SPDX-License-Identifier: GPL-3.0-or-later
 *
 * pp-login-page.h: signing in before anything is shown, to the embedded
 * registry or a remote one, with the one-time code where one is enrolled;
 * and the lock screen of a signed-in user.
 */
#pragma once

#include <adwaita.h>

#include "pp-registry.h"

G_BEGIN_DECLS

#define PP_TYPE_LOGIN_PAGE (pp_login_page_get_type ())
G_DECLARE_FINAL_TYPE (PpLoginPage, pp_login_page, PP, LOGIN_PAGE, AdwBin)

/* Asks for the user and the password and checks them with the registry
 * (pp_registry_authenticate_otp_async), off the main thread's way; when
 * the registry answers OTP_REQUIRED (the password is right, the user has a
 * one-time code enrolled) it asks for the 6-digit code and checks both
 * again. Emits ::signed-in (the PpRegistry, which keeps the session, and
 * the PpUser as a boxed pointer valid during the emission) on success; a
 * wrong password or code, an untrusted certificate or an unreachable
 * registry is said on the page; the last sets "unreachable" (until the
 * registry answers) and keeps the password for another try.
 *
 * The target is either a remote registry (pp_login_page_set_target: a
 * PpRegistryRemote for @url trusting the PEM file @ca_path, NULL or "":
 * the system's CAs, made for each sign-in) or a registry at hand
 * (pp_login_page_set_registry: the embedded one, or the remote one a
 * locked window signed in with). */
GtkWidget  *pp_login_page_new        (void);
void        pp_login_page_set_target (PpLoginPage *self,
                                      const char  *url,
                                      const char  *ca_path,
                                      const char  *user);
/* @registry NULL: not open yet (the sign-in waits for it). @description:
 * what the page says under its title (nullable). */
void        pp_login_page_set_registry (PpLoginPage *self,
                                        PpRegistry  *registry,
                                        const char  *description);
const char *pp_login_page_get_url    (PpLoginPage *self);
/* The lock screen: only @user may sign in again (the field is fixed), or
 * ::sign-out (the "Sign Out" button) to let another user in. NULL: back to
 * an open sign-in. Property "locked". */
void        pp_login_page_lock       (PpLoginPage *self,
                                      const char  *user);
gboolean    pp_login_page_get_locked (PpLoginPage *self);
/* Signs in with what the fields hold (the "Sign In" button); nothing while
 * a sign-in is running. Before the registry is set it signs in once it is. */
void        pp_login_page_sign_in    (PpLoginPage *self);
/* Back from the code to the password (the "Back" button). */
void        pp_login_page_reset      (PpLoginPage *self);
gboolean    pp_login_page_get_busy   (PpLoginPage *self);
gboolean    pp_login_page_get_unreachable (PpLoginPage *self);
/* Property "asking-code": the second step, the one-time code, is shown. */
gboolean    pp_login_page_get_asking_code (PpLoginPage *self);

/* The widgets a user types in, and what the page says, for tests. */
GtkEditable *pp_login_page_get_user_entry     (PpLoginPage *self);
GtkEditable *pp_login_page_get_password_entry (PpLoginPage *self);
GtkEditable *pp_login_page_get_code_entry     (PpLoginPage *self);
const char  *pp_login_page_get_error          (PpLoginPage *self);

G_END_DECLS
