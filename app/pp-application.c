/* SPDX-License-Identifier: GPL-3.0-or-later
 *
 * pp-application.c: the station's application object.
 */
#include "config.h"

#include "pp-application.h"
#include "pp-window.h"

struct _PpApplication
{
  AdwApplication parent_instance;
};

G_DEFINE_FINAL_TYPE (PpApplication, pp_application, ADW_TYPE_APPLICATION)

static void
pp_application_activate (GApplication *app)
{
  GtkWindow *window = gtk_application_get_active_window (GTK_APPLICATION (app));

  if (window == NULL)
    window = GTK_WINDOW (pp_window_new (ADW_APPLICATION (app)));
  gtk_window_present (window);
}

static void
pp_application_class_init (PpApplicationClass *klass)
{
  G_APPLICATION_CLASS (klass)->activate = pp_application_activate;
}

static void
pp_application_init (PpApplication *self)
{
}

PpApplication *
pp_application_new (void)
{
  return g_object_new (PP_TYPE_APPLICATION,
                       "application-id", APP_ID,
                       "flags", G_APPLICATION_DEFAULT_FLAGS,
                       NULL);
}
