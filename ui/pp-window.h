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
 * when it could not be opened (see pp_window_show_store_error()). The
 * window opens the embedded registry on @store's file and asks who signs
 * in before it shows anything. */
PpWindow        *pp_window_new                (AdwApplication *application,
                                               PpStore        *store);
/* The same on @registry, made by the caller (one opened with its key
 * store, which checks the users' one-time codes). */
PpWindow        *pp_window_new_with_registry  (AdwApplication *application,
                                               PpStore        *store,
                                               PpRegistry     *registry);
/* Remote mode: the login page for the registry at @url (trusting the PEM
 * file @ca_path; NULL: the system's CAs; @user prefilled), then the
 * inventory through the PpRegistryRemote it signed in with. No store. */
PpWindow        *pp_window_new_remote         (AdwApplication *application,
                                               const char     *url,
                                               const char     *ca_path,
                                               const char     *user);
PpStore         *pp_window_get_store          (PpWindow       *self);
/* What the pages act on (property "registry"): NULL until the local
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

/* ---- the session (issue 9) ----
 * Property "user": who is signed in (NULL: nobody; the sign-in is shown).
 * Property "locked": the login page covers the station until that user
 * signs in again (or signs out); what runs underneath keeps running.
 * Property "lock-after-seconds": locks after that long without input on
 * the window (0: never); set from the setting lock-after (minutes), and
 * settable (tests use a second). */
const char      *pp_window_get_user           (PpWindow       *self);
gboolean         pp_window_get_locked         (PpWindow       *self);
void             pp_window_lock               (PpWindow       *self);
void             pp_window_sign_out           (PpWindow       *self);
/* Types @user (unless locked: the field is fixed) and @password into the
 * login page and signs in, as a user would; waits for the embedded
 * registry when it is not open yet. A code, where enrolled, is then asked
 * for (pp_login_page_get_code_entry). */
void             pp_window_sign_in            (PpWindow       *self,
                                               const char     *user,
                                               const char     *password);
/* The pages of the sidebar (one row each, its page's name as the row's
 * data "page"): those the user's role allows. */
GtkListBox      *pp_window_get_sidebar        (PpWindow       *self);
/* Shows the page @name ("install", "approvals", "inventory", ...), built
 * the first time; FALSE when the user's role has no such page or the
 * window is locked. What win.NAME does. */
gboolean         pp_window_show_page          (PpWindow       *self,
                                               const char     *name);
/* The page shown in the station (NULL: nobody signed in), and a page by
 * name once built (NULL before). */
const char      *pp_window_get_page_name      (PpWindow       *self);
GtkWidget       *pp_window_get_page           (PpWindow       *self,
                                               const char     *name);
/* Property "n-pending": the approvals badge, pending requests (reviewers). */
guint            pp_window_get_n_pending      (PpWindow       *self);
/* Shows the Install page and resumes the interrupted order @order_uuid
 * there (the work orders page asks for it); FALSE when the user may not
 * install. */
gboolean         pp_window_resume_order       (PpWindow       *self,
                                               const char     *order_uuid);

G_END_DECLS
