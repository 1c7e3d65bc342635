/* SPDX-License-Identifier: GPL-3.0-or-later
 *
 * pp-application.c: the station's application object.
 *
 * Opens the real store (from --db, the store-path setting or the XDG data
 * dir) and shows the inventory, or the first-run setup while the store has
 * no account. With the registry-url setting (and neither --db nor --demo)
 * the station works with that remote registry instead: no store, a login
 * page first (registry-user, registry-ca). Demo data only when asked:
 * --demo opens a demo store at its own path and seeds it there. A store that cannot be opened is explained to
 * the user, never a crash.
 */
#include "config.h"

#include <glib/gi18n.h>

#include "pp-about.h"
#include "pp-application.h"
#include "pp-settings.h"
#include "pp-store.h"
#include "pp-window.h"

/* Enough to show paging and every state without a slow first start. */
#define DEMO_TERMINALS 500

struct _PpApplication
{
  AdwApplication  parent_instance;

  char           *db_path;  /* from --db, nullable */
  gboolean        demo;     /* --demo */
  guint           n_seeding; /* demo seeds still running on a worker */
};

G_DEFINE_FINAL_TYPE (PpApplication, pp_application, ADW_TYPE_APPLICATION)

char *
pp_application_get_default_store_path (void)
{
  return g_build_filename (g_get_user_data_dir (), "posprov", "posprov.db", NULL);
}

char *
pp_application_get_demo_store_path (void)
{
  return g_build_filename (g_get_user_data_dir (), "posprov", "demo.db", NULL);
}

static char *
choose_store_path (PpApplication *self,
                   GSettings     *settings)
{
  g_autofree char *configured = NULL;

  if (self->db_path != NULL)
    return g_strdup (self->db_path);
  /* Never the real store's path, whatever store-path says. */
  if (self->demo)
    return pp_application_get_demo_store_path ();

  if (settings != NULL)
    configured = g_settings_get_string (settings, "store-path");
  if (configured != NULL && configured[0] != '\0')
    return g_steal_pointer (&configured);

  return pp_application_get_default_store_path ();
}

/* @user_data is the window, unreferenced: a window closed meanwhile
 * cancelled the seed in its dispose and may be gone, so it is touched only
 * when the seed was not cancelled. */
static void
on_demo_seeded (GObject      *source,
                GAsyncResult *result,
                gpointer      user_data)
{
  g_autoptr(GError) error = NULL;
  PpApplication *self = PP_APPLICATION (g_application_get_default ());

  self->n_seeding--;
  if (!pp_store_seed_demo_finish (PP_STORE (source), result, &error))
    {
      if (!g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
        pp_window_show_store_error (PP_WINDOW (user_data), error);
      return;
    }
  pp_window_reload (PP_WINDOW (user_data));
}

static void
pp_application_activate (GApplication *app)
{
  PpApplication *self = PP_APPLICATION (app);
  g_autoptr(GError) error = NULL;
  g_autoptr(PpStore) store = NULL;
  g_autoptr(GSettings) settings = pp_settings_new ();
  g_autofree char *path = NULL;
  g_autofree char *key_store = NULL;
  g_autofree char *registry_url = NULL;
  PpStoreOptions options = { 0 };
  gboolean has_users = TRUE;
  GtkWindow *window;

  window = gtk_application_get_active_window (GTK_APPLICATION (app));
  if (window != NULL)
    {
      gtk_window_present (window);
      return;
    }

  path = choose_store_path (self, settings);
  if (settings != NULL)
    {
      key_store = g_settings_get_string (settings, "key-store");
      registry_url = g_settings_get_string (settings, "registry-url");
    }
  if (registry_url != NULL && registry_url[0] != '\0' && !self->demo && self->db_path == NULL)
    {
      g_autofree char *ca = g_settings_get_string (settings, "registry-ca");
      g_autofree char *user = g_settings_get_string (settings, "registry-user");

      window = GTK_WINDOW (pp_window_new_remote (ADW_APPLICATION (app), registry_url, ca, user));
      gtk_window_present (window);
      return;
    }
  options.demo = self->demo;
  options.key_store = key_store;
  options.registry_url = registry_url;
  /* The store refuses a demo with a PKCS#11 key store or a remote registry. */
  store = pp_store_open_full (path, &options, &error);

  window = GTK_WINDOW (pp_window_new (ADW_APPLICATION (app), store));
  gtk_window_present (window);
  if (store == NULL)
    {
      pp_window_show_store_error (PP_WINDOW (window), error);
      return;
    }

  /* Demo data only in a demo store (the seed does nothing once done). It
   * runs on a worker so the window draws meanwhile. */
  if (pp_store_is_demo_store (store))
    {
      if (!pp_store_is_demo (store))
        {
          self->n_seeding++;
          pp_store_seed_demo_async (store, DEMO_TERMINALS,
                                    pp_window_get_cancellable (PP_WINDOW (window)),
                                    on_demo_seeded, window);
        }
      return;
    }

  /* A real store starts without any account: its administrator comes first. */
  if (!pp_store_has_users (store, &has_users, &error))
    {
      pp_window_show_store_error (PP_WINDOW (window), error);
      return;
    }
  if (!has_users)
    pp_window_show_first_run_setup (PP_WINDOW (window));
}

/* A seed still running when the window is closed finishes first: its worker
 * uses OpenSSL and SQLite, which the process tears down on exit. */
static void
pp_application_shutdown (GApplication *app)
{
  PpApplication *self = PP_APPLICATION (app);

  while (self->n_seeding > 0)
    g_main_context_iteration (NULL, TRUE);
  G_APPLICATION_CLASS (pp_application_parent_class)->shutdown (app);
}

static void
about_action (GSimpleAction *action,
              GVariant      *parameter,
              gpointer       user_data)
{
  GtkApplication *app = GTK_APPLICATION (user_data);

  gtk_window_present (pp_about_window_new (gtk_application_get_active_window (app)));
}

static void
quit_action (GSimpleAction *action,
             GVariant      *parameter,
             gpointer       user_data)
{
  GApplication *app = G_APPLICATION (user_data);
  GList *windows;

  /* Closing lets each window save its size first; a closed window leaves the
   * application's list, so walk a copy. */
  windows = g_list_copy (gtk_application_get_windows (GTK_APPLICATION (app)));
  for (GList *l = windows; l != NULL; l = l->next)
    g_object_ref (l->data);
  for (GList *l = windows; l != NULL; l = l->next)
    gtk_window_close (GTK_WINDOW (l->data));
  g_list_free_full (windows, g_object_unref);
  g_application_quit (app);
}

static const GActionEntry app_actions[] = {
  { "about", about_action, NULL, NULL, NULL, { 0 } },
  { "quit", quit_action, NULL, NULL, NULL, { 0 } },
};

static void
pp_application_startup (GApplication *app)
{
  static const char *quit_accels[] = { "<Control>q", NULL };
  static const char *help_accels[] = { "<Control>question", NULL };
  GtkIconTheme *theme;

  G_APPLICATION_CLASS (pp_application_parent_class)->startup (app);

  g_action_map_add_action_entries (G_ACTION_MAP (app), app_actions,
                                   G_N_ELEMENTS (app_actions), app);
  gtk_application_set_accels_for_action (GTK_APPLICATION (app), "app.quit", quit_accels);
  gtk_application_set_accels_for_action (GTK_APPLICATION (app), "win.show-help-overlay",
                                         help_accels);

  /* PP_ICONDIR: the source tree's icons for an uninstalled run (scripts/run,
   * meson devenv); else the installed prefix, which may lie outside
   * XDG_DATA_DIRS. */
  theme = gtk_icon_theme_get_for_display (gdk_display_get_default ());
  if (!gtk_icon_theme_has_icon (theme, APP_ID))
    {
      const char *icondir = g_getenv ("PP_ICONDIR");

      if (icondir == NULL || icondir[0] == '\0')
        icondir = PP_DATADIR G_DIR_SEPARATOR_S "icons";
      gtk_icon_theme_add_search_path (theme, icondir);
    }
  gtk_window_set_default_icon_name (APP_ID);
}

static int
pp_application_handle_local_options (GApplication *app,
                                     GVariantDict *options)
{
  PpApplication *self = PP_APPLICATION (app);
  const char *db_path = NULL;

  if (g_variant_dict_lookup (options, "version", "b", NULL))
    {
      g_print ("posprov %s\n", PACKAGE_VERSION);
      return 0;
    }

  if (g_variant_dict_lookup (options, "demo", "b", NULL))
    self->demo = TRUE;

  if (g_variant_dict_lookup (options, "db", "^&ay", &db_path))
    {
      g_autoptr(GFile) file = g_file_new_for_commandline_arg (db_path);

      g_free (self->db_path);
      self->db_path = g_file_get_path (file);
    }

  return -1;
}

static void
pp_application_finalize (GObject *object)
{
  PpApplication *self = PP_APPLICATION (object);

  g_clear_pointer (&self->db_path, g_free);

  G_OBJECT_CLASS (pp_application_parent_class)->finalize (object);
}

static void
pp_application_class_init (PpApplicationClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GApplicationClass *app_class = G_APPLICATION_CLASS (klass);

  object_class->finalize = pp_application_finalize;
  app_class->activate = pp_application_activate;
  app_class->startup = pp_application_startup;
  app_class->shutdown = pp_application_shutdown;
  app_class->handle_local_options = pp_application_handle_local_options;
}

static void
pp_application_init (PpApplication *self)
{
  g_application_add_main_option (G_APPLICATION (self), "db", 0, G_OPTION_FLAG_NONE,
                                 G_OPTION_ARG_FILENAME,
                                 _("Use the terminal store at PATH"), _("PATH"));
  g_application_add_main_option (G_APPLICATION (self), "demo", 0, G_OPTION_FLAG_NONE,
                                 G_OPTION_ARG_NONE,
                                 _("Open the demo store (made-up terminals; accounts with a "
                                   "published password), never the real one"), NULL);
  g_application_add_main_option (G_APPLICATION (self), "version", 0, G_OPTION_FLAG_NONE,
                                 G_OPTION_ARG_NONE, _("Show the version and exit"), NULL);
}

PpApplication *
pp_application_new (void)
{
  return g_object_new (PP_TYPE_APPLICATION,
                       "application-id", APP_ID,
                       "flags", G_APPLICATION_DEFAULT_FLAGS,
                       "resource-base-path", "/org/posprov/Station",
                       NULL);
}
