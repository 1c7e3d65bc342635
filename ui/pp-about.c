/* SPDX-License-Identifier: GPL-3.0-or-later
 *
 * pp-about.c: the About posprov window (AdwAboutWindow, libadwaita 1.2).
 */
#include "config.h"

#include <glib/gi18n.h>

#include "pp-about.h"

GtkWindow *
pp_about_window_new (GtkWindow *parent)
{
  static const char *developers[] = { "The posprov developers", NULL };

  g_return_val_if_fail (parent == NULL || GTK_IS_WINDOW (parent), NULL);

  return g_object_new (ADW_TYPE_ABOUT_WINDOW,
                       "transient-for", parent,
                       "modal", parent != NULL,
                       "application-name", _("posprov"),
                       "application-icon", APP_ID,
                       "version", PACKAGE_VERSION,
                       "comments", _("Register, key and install payment terminals in one visit"),
                       "developer-name", _("The posprov developers"),
                       "developers", developers,
                       "copyright", _("© 2026 The posprov developers"),
                       "license-type", GTK_LICENSE_GPL_3_0,
                       /* Translators: put your name here, one per line. */
                       "translator-credits", _("translator-credits"),
                       NULL);
}
