/* SPDX-License-Identifier: GPL-3.0-or-later
 *
 * pp-ui-test-util.h: what the station's UI tests share: waiting on the
 * main loop for a condition, finding what a user sees, screenshots.
 */
#pragma once

#include <gtk/gtk.h>

#include "pp-terminal-list-model.h"

G_BEGIN_DECLS

typedef gboolean (*PpTestCondition) (gpointer data);

/* Runs the main loop until @condition holds; the 30 s limit only turns a
 * hang into a failure, it is not a timing assertion. */
void       pp_test_wait_until        (PpTestCondition  condition,
                                      gpointer         data);
/* A GAsyncReadyCallback keeping a reference on the result in the
 * GAsyncResult * that @data points to; pp_test_wait_for_result() runs the
 * main loop until it is there and returns it (the slot keeps it). */
void          pp_test_got_result      (GObject       *source,
                                       GAsyncResult  *result,
                                       gpointer       data);
GAsyncResult *pp_test_wait_for_result (GAsyncResult **slot);
/* A few more frames so layout and rendering catch up. */
void       pp_test_settle            (void);
/* A PpTestCondition: @data (a GtkWidget) is mapped. */
gboolean   pp_test_is_mapped         (gpointer         data);

/* A label below @widget showing @text (with @css_class, nullable) that is
 * mapped and lies inside @root: on screen. */
GtkWidget *pp_test_find_visible_label (GtkWidget       *root,
                                       GtkWidget       *widget,
                                       const char      *text,
                                       const char      *css_class);
/* Waits until such a label is on screen in @root. */
void       pp_test_wait_for_label    (GtkWidget       *root,
                                      const char      *text,
                                      const char      *css_class);

/* Renders @widget as it is on screen to @name in the build dir (PNG). */
void       pp_test_save_screenshot   (GtkWidget       *widget,
                                      const char      *name);

/* Waits until the row at @position of @model is no placeholder (its page
 * arrived) and returns it. */
PpTerminal *pp_test_wait_for_row     (PpTerminalListModel *model,
                                      guint                position);

/* Xvfb's renderer and the language of PP_TEST_LOCALE (default C.UTF-8)
 * with the catalogues as built, then gtk_test_init(): the screenshots'
 * language tag, "en" or "zh_CN"; NULL when that locale is not generated
 * (the test then skips). @probe: a message the zh_CN catalogue must
 * translate, or the screens prove nothing. */
const char *pp_test_ui_init          (int                 *argc,
                                      char              ***argv,
                                      const char          *probe);

G_END_DECLS
