/* SPDX-License-Identifier: GPL-3.0-or-later
 *
 * pp-ui-test-util.c: what the station's UI tests share.
 */
#include "config.h"

#include <locale.h>

#include <glib/gi18n.h>

#include "pp-ui-test-util.h"

void
pp_test_wait_until (PpTestCondition condition,
                    gpointer        data)
{
  gint64 give_up = g_get_monotonic_time () + 30 * G_USEC_PER_SEC;

  while (!condition (data))
    {
      if (g_get_monotonic_time () > give_up)
        g_error ("condition not met after 30 s");
      if (!g_main_context_iteration (NULL, FALSE))
        g_usleep (1000);
    }
}

void
pp_test_settle (void)
{
  gint64 until = g_get_monotonic_time () + 100 * 1000;

  while (g_get_monotonic_time () < until)
    if (!g_main_context_iteration (NULL, FALSE))
      g_usleep (1000);
}

gboolean
pp_test_is_mapped (gpointer data)
{
  return gtk_widget_get_mapped (GTK_WIDGET (data));
}

GtkWidget *
pp_test_find_visible_label (GtkWidget  *root,
                            GtkWidget  *widget,
                            const char *text,
                            const char *css_class)
{
  if (!gtk_widget_get_mapped (widget))
    return NULL;

  if (GTK_IS_LABEL (widget) && g_strcmp0 (gtk_label_get_text (GTK_LABEL (widget)), text) == 0 &&
      (css_class == NULL || gtk_widget_has_css_class (widget, css_class)))
    {
      graphene_rect_t bounds;

      if (gtk_widget_compute_bounds (widget, root, &bounds) &&
          bounds.size.width > 0 && bounds.size.height > 0 &&
          bounds.origin.y >= 0 && bounds.origin.y + bounds.size.height <= gtk_widget_get_height (root) &&
          bounds.origin.x >= 0 && bounds.origin.x < gtk_widget_get_width (root))
        return widget;
    }

  for (GtkWidget *child = gtk_widget_get_first_child (widget);
       child != NULL;
       child = gtk_widget_get_next_sibling (child))
    {
      GtkWidget *found = pp_test_find_visible_label (root, child, text, css_class);

      if (found != NULL)
        return found;
    }
  return NULL;
}

typedef struct
{
  GtkWidget  *root;
  const char *text;
  const char *css_class;
} LabelWait;

static gboolean
label_is_visible (gpointer data)
{
  LabelWait *wait = data;

  return pp_test_find_visible_label (wait->root, wait->root, wait->text, wait->css_class) != NULL;
}

void
pp_test_wait_for_label (GtkWidget  *root,
                        const char *text,
                        const char *css_class)
{
  LabelWait wait = { root, text, css_class };

  pp_test_wait_until (label_is_visible, &wait);
}

typedef struct
{
  GtkWidget     *widget;
  GskRenderNode *node;
} Shot;

/* Whether @data's widget has been laid out and draws something yet (a
 * window just mapped on a busy machine may not). */
static gboolean
snapshot_taken (gpointer data)
{
  Shot *shot = data;
  g_autoptr(GdkPaintable) paintable = gtk_widget_paintable_new (shot->widget);
  g_autoptr(GtkSnapshot) snapshot = gtk_snapshot_new ();
  int width = gtk_widget_get_width (shot->widget);
  int height = gtk_widget_get_height (shot->widget);

  if (width <= 0 || height <= 0)
    return FALSE;
  gdk_paintable_snapshot (paintable, GDK_SNAPSHOT (snapshot), width, height);
  shot->node = gtk_snapshot_free_to_node (g_steal_pointer (&snapshot));
  return shot->node != NULL;
}

void
pp_test_save_screenshot (GtkWidget  *widget,
                         const char *name)
{
  Shot shot = { widget, NULL };
  g_autoptr(GskRenderNode) node = NULL;
  g_autoptr(GdkTexture) texture = NULL;
  g_autofree char *path = NULL;
  GskRenderer *renderer = gtk_native_get_renderer (gtk_widget_get_native (widget));

  pp_test_wait_until (snapshot_taken, &shot);
  node = shot.node;
  texture = gsk_renderer_render_texture (renderer, node,
                                         &GRAPHENE_RECT_INIT (0, 0, gtk_widget_get_width (widget),
                                                              gtk_widget_get_height (widget)));
  path = g_test_build_filename (G_TEST_BUILT, name, NULL);
  g_assert_true (gdk_texture_save_to_png (texture, path));
  g_test_message ("screenshot: %s", path);
}

typedef struct
{
  PpTerminalListModel *model;
  guint                position;
} RowWait;

static gboolean
row_arrived (gpointer data)
{
  RowWait *wait = data;
  g_autoptr(GObject) item = g_list_model_get_item (G_LIST_MODEL (wait->model), wait->position);

  g_assert_nonnull (item);
  return !pp_terminal_list_model_is_placeholder (item);
}

PpTerminal *
pp_test_wait_for_row (PpTerminalListModel *model,
                      guint                position)
{
  RowWait wait = { model, position };

  pp_test_wait_until (row_arrived, &wait);
  return g_list_model_get_item (G_LIST_MODEL (model), position);
}

const char *
pp_test_ui_init (int          *argc,
                 char       ***argv,
                 const char   *probe)
{
  const char *test_locale = g_getenv ("PP_TEST_LOCALE");
  g_autofree char *localedir = NULL;

  /* Xvfb has no GL worth the name; cairo renders the same pixels everywhere. */
  g_setenv ("GSK_RENDERER", "cairo", FALSE);
  g_setenv ("GDK_BACKEND", "x11", FALSE);
  g_setenv ("GDK_DEBUG", "gl-disable", FALSE);
  if (test_locale == NULL || test_locale[0] == '\0')
    test_locale = "C.UTF-8";
  g_setenv ("LC_ALL", test_locale, TRUE);
  g_unsetenv ("LANGUAGE");
  gtk_test_init (argc, argv, NULL);
  /* gtk_test_init() leaves the C locale in place (it disables GTK's setlocale). */
  setlocale (LC_ALL, "");

  /* The catalogues as built, like scripts/run does for the station. */
  localedir = g_test_build_filename (G_TEST_BUILT, "..", "data", "po", NULL);
  bindtextdomain (GETTEXT_PACKAGE, localedir);
  bind_textdomain_codeset (GETTEXT_PACKAGE, "UTF-8");
  textdomain (GETTEXT_PACKAGE);
  if (!g_str_has_prefix (test_locale, "zh_CN"))
    return "en";
  if (g_strcmp0 (setlocale (LC_MESSAGES, NULL), test_locale) != 0)
    return NULL;
  g_assert_cmpstr (g_dgettext (GETTEXT_PACKAGE, probe), !=, probe);
  return "zh_CN";
}

void
pp_test_got_result (GObject      *source,
                    GAsyncResult *result,
                    gpointer      data)
{
  *(GAsyncResult **) data = g_object_ref (result);
}

static gboolean
has_result (gpointer data)
{
  return *(GAsyncResult **) data != NULL;
}

GAsyncResult *
pp_test_wait_for_result (GAsyncResult **slot)
{
  pp_test_wait_until (has_result, slot);
  return *slot;
}
