/* SPDX-License-Identifier: GPL-3.0-or-later
 *
 * pp-window.h: the station's main window.
 */
#pragma once

#include <adwaita.h>

#include "pp-inventory-page.h"
#include "pp-login-page.h"
#include "pp-store.h"

G_BEGIN_DECLS

#define PP_TYPE_WINDOW (pp_window_get_type ())
G_DECLARE_FINAL_TYPE (PpWindow, pp_window, PP, WINDOW, AdwApplicationWindow)

/* @application and @store are nullable: tests build the window on a store
 * without an application; the application shows the window without a store
 * when it could not be opened (see pp_window_show_store_error()). */
PpWindow        *pp_window_new                (AdwApplication *application,
                                               PpStore        *store);
/* Remote mode: the login page for the registry at @url (trusting the PEM
 * file @ca_path; NULL: the system's CAs; @user prefilled), then the
 * inventory through the PpRegistryRemote it signed in with. No store. */
PpWindow        *pp_window_new_remote         (AdwApplication *application,
                                               const char     *url,
                                               const char     *ca_path,
                                               const char     *user);
PpStore         *pp_window_get_store          (PpWindow       *self);
/* What the inventory shows (property "registry"): NULL until the local
 * registry is open or the remote one signed in. */
PpRegistry      *pp_window_get_registry       (PpWindow       *self);
PpLoginPage     *pp_window_get_login_page     (PpWindow       *self);
gboolean         pp_window_is_showing_login   (PpWindow       *self);
/* Property "offline": the banner saying the registry cannot be reached is
 * shown (win.retry tries again). */
gboolean         pp_window_get_offline        (PpWindow       *self);
PpInventoryPage *pp_window_get_inventory_page (PpWindow       *self);
/* Cancelled when the window is disposed (NULL from then on): pass it to
 * async work started for the window. Its callback gets
 * G_IO_ERROR_CANCELLED from the _finish (GTask checks the cancellable)
 * and must then not touch the window, which may be gone; so it holds no
 * reference on the window, which would keep a closed window alive. */
GCancellable    *pp_window_get_cancellable    (PpWindow       *self);

/* Shows the store's current content again, e.g. after the demo seed. */
void             pp_window_reload             (PpWindow       *self);

/* Shows the first-run setup instead of the inventory (a real store without
 * accounts); the inventory returns once the administrator is created. */
void             pp_window_show_first_run_setup (PpWindow     *self);
gboolean         pp_window_is_showing_setup     (PpWindow     *self);

/* Says why the store is unavailable: in the page, and in a dialog. */
void             pp_window_show_store_error   (PpWindow       *self,
                                               const GError   *error);

G_END_DECLS
