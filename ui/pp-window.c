/* SPDX-License-Identifier: GPL-3.0-or-later
 *
 * pp-window.c: the station's main window.
 */
#include "config.h"

#include "pp-window.h"

struct _PpWindow
{
  AdwApplicationWindow parent_instance;
};

G_DEFINE_FINAL_TYPE (PpWindow, pp_window, ADW_TYPE_APPLICATION_WINDOW)

static void
pp_window_class_init (PpWindowClass *klass)
{
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);

  gtk_widget_class_set_template_from_resource (widget_class, "/org/posprov/Station/pp-window.ui");
}

static void
pp_window_init (PpWindow *self)
{
  gtk_widget_init_template (GTK_WIDGET (self));
}

PpWindow *
pp_window_new (AdwApplication *application)
{
  return g_object_new (PP_TYPE_WINDOW, "application", application, NULL);
}
