/* SPDX-License-Identifier: GPL-3.0-or-later
 *
 * pp-preferences.c: the station's settings window.
 *
 * Each row is saved when applied (its ✓ button or Enter) and only when
 * valid; an invalid one turns red and the page says what to change. The
 * password is never a setting: it is asked at sign-in.
 */
#include "config.h"

#include <glib/gi18n.h>

#include "pp-preferences.h"
#include "pp-settings.h"

struct _PpPreferences
{
  AdwPreferencesWindow parent_instance;

  GSettings   *settings;  /* nullable: schema not installed */

  /* template */
  AdwEntryRow *url_row;
  AdwEntryRow *ca_row;
  AdwEntryRow *user_row;
  GtkLabel    *error_label;
};

G_DEFINE_FINAL_TYPE (PpPreferences, pp_preferences, ADW_TYPE_PREFERENCES_WINDOW)

char *
pp_preferences_check_url (const char *url)
{
  g_autoptr(GUri) uri = NULL;

  if (url == NULL || url[0] == '\0')
    return NULL;
  uri = g_uri_parse (url, G_URI_FLAGS_NONE, NULL);
  if (uri == NULL || g_strcmp0 (g_uri_get_scheme (uri), "https") != 0 ||
      g_uri_get_host (uri) == NULL || g_uri_get_host (uri)[0] == '\0')
    return g_strdup (_("The registry’s address must start with https:// and name its host, "
                       "e.g. https://registry.example:8443"));
  return NULL;
}

char *
pp_preferences_check_ca (const char *ca_path)
{
  if (ca_path == NULL || ca_path[0] == '\0')
    return NULL;
  if (!g_path_is_absolute (ca_path) || !g_file_test (ca_path, G_FILE_TEST_IS_REGULAR))
    /* TRANSLATORS: %s is the path the user typed. */
    return g_strdup_printf (_("There is no file “%s”: give the full path of the registry’s CA "
                              "or certificate (PEM)."), ca_path);
  return NULL;
}

typedef char *(*CheckFunc) (const char *text);

static void
apply_row (PpPreferences *self,
           AdwEntryRow   *row,
           const char    *key,
           CheckFunc      check)
{
  g_autofree char *text = g_strstrip (g_strdup (gtk_editable_get_text (GTK_EDITABLE (row))));
  g_autofree char *problem = check != NULL ? check (text) : NULL;

  gtk_label_set_text (self->error_label, problem != NULL ? problem : "");
  gtk_widget_set_visible (GTK_WIDGET (self->error_label), problem != NULL);
  if (problem != NULL)
    {
      gtk_widget_add_css_class (GTK_WIDGET (row), "error");
      return;
    }
  gtk_widget_remove_css_class (GTK_WIDGET (row), "error");
  if (self->settings != NULL)
    g_settings_set_string (self->settings, key, text);
  adw_preferences_window_add_toast (ADW_PREFERENCES_WINDOW (self), adw_toast_new (_("Saved")));
}

static void
on_url_apply (PpPreferences *self)
{
  apply_row (self, self->url_row, "registry-url", pp_preferences_check_url);
}

static void
on_ca_apply (PpPreferences *self)
{
  apply_row (self, self->ca_row, "registry-ca", pp_preferences_check_ca);
}

static void
on_user_apply (PpPreferences *self)
{
  apply_row (self, self->user_row, "registry-user", NULL);
}

/* Red goes once the user changes what was refused. */
static void
on_row_changed (PpPreferences *self,
                GtkWidget     *row)
{
  gtk_widget_remove_css_class (row, "error");
  gtk_widget_set_visible (GTK_WIDGET (self->error_label), FALSE);
}

static void
pp_preferences_dispose (GObject *object)
{
  PpPreferences *self = PP_PREFERENCES (object);

  g_clear_object (&self->settings);
  gtk_widget_dispose_template (GTK_WIDGET (object), PP_TYPE_PREFERENCES);

  G_OBJECT_CLASS (pp_preferences_parent_class)->dispose (object);
}

static void
pp_preferences_class_init (PpPreferencesClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);

  object_class->dispose = pp_preferences_dispose;

  gtk_widget_class_set_template_from_resource (widget_class, "/org/posprov/Station/pp-preferences.ui");
  gtk_widget_class_bind_template_child (widget_class, PpPreferences, url_row);
  gtk_widget_class_bind_template_child (widget_class, PpPreferences, ca_row);
  gtk_widget_class_bind_template_child (widget_class, PpPreferences, user_row);
  gtk_widget_class_bind_template_child (widget_class, PpPreferences, error_label);
  gtk_widget_class_bind_template_callback (widget_class, on_url_apply);
  gtk_widget_class_bind_template_callback (widget_class, on_ca_apply);
  gtk_widget_class_bind_template_callback (widget_class, on_user_apply);
  gtk_widget_class_bind_template_callback (widget_class, on_row_changed);
}

static void
pp_preferences_init (PpPreferences *self)
{
  AdwEntryRow *rows[3];
  const char *keys[] = { "registry-url", "registry-ca", "registry-user" };

  gtk_widget_init_template (GTK_WIDGET (self));
  self->settings = pp_settings_new ();
  rows[0] = self->url_row;
  rows[1] = self->ca_row;
  rows[2] = self->user_row;
  for (guint i = 0; i < G_N_ELEMENTS (rows); i++)
    {
      if (self->settings != NULL)
        {
          g_autofree char *value = g_settings_get_string (self->settings, keys[i]);

          gtk_editable_set_text (GTK_EDITABLE (rows[i]), value);
        }
      gtk_widget_set_sensitive (GTK_WIDGET (rows[i]), self->settings != NULL);
    }
}

GtkWindow *
pp_preferences_new (GtkWindow *parent)
{
  return g_object_new (PP_TYPE_PREFERENCES, "transient-for", parent, NULL);
}

AdwEntryRow *
pp_preferences_get_url_row (PpPreferences *self)
{
  g_return_val_if_fail (PP_IS_PREFERENCES (self), NULL);
  return self->url_row;
}

AdwEntryRow *
pp_preferences_get_ca_row (PpPreferences *self)
{
  g_return_val_if_fail (PP_IS_PREFERENCES (self), NULL);
  return self->ca_row;
}

AdwEntryRow *
pp_preferences_get_user_row (PpPreferences *self)
{
  g_return_val_if_fail (PP_IS_PREFERENCES (self), NULL);
  return self->user_row;
}
