/* SPDX-License-Identifier: GPL-3.0-or-later
 *
 * pp-session-page.h: a page that acts for the signed-in user on a registry
 * (the install wizard, the approvals page): the registry, the user's name
 * and role as construct-only properties, and a window of its own.
 */
#pragma once

#include <adwaita.h>

#include "pp-registry.h"
#include "pp-user.h"

G_BEGIN_DECLS

#define PP_TYPE_SESSION_PAGE (pp_session_page_get_type ())
G_DECLARE_DERIVABLE_TYPE (PpSessionPage, pp_session_page, PP, SESSION_PAGE, AdwBin)

struct _PpSessionPageClass
{
  AdwBinClass parent_class;
};

/* Properties "registry", "user", "role" (construct-only). */
PpRegistry *pp_session_page_get_registry (PpSessionPage *self);
const char *pp_session_page_get_user     (PpSessionPage *self);
PpUserRole  pp_session_page_get_role     (PpSessionPage *self);

/* @self in a window of its own over @parent (may be NULL), under a header
 * bar titled @title with the user's name, sized for a laptop's 1280x720;
 * shown.  What the station's win.install and win.approvals actions open. */
GtkWindow  *pp_session_page_open_window  (PpSessionPage *self,
                                          GtkWindow     *parent,
                                          const char    *title);

G_END_DECLS
