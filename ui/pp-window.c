/* SPDX-License-Identifier: GPL-3.0-or-later
 *
 * pp-window.c: the station's main window.
 *
 * Shows the inventory, or the first-run setup on a real store without
 * accounts. A demo store says so in the title and a banner that lists its
 * accounts and their published password, so nobody takes it for real.
 *
 * What the inventory shows comes from a PpRegistry: the local one on the
 * store's file, opened on a worker once the window is up, or a remote one
 * that the login page signs in to first (pp_window_new_remote). When a
 * registry call fails because the registry cannot be reached, a banner
 * says so with a Retry button; it goes once a call succeeds again.
 */
#include "config.h"

#include <glib/gi18n.h>

#include "pp-login-page.h"
#include "pp-preferences.h"
#include "pp-registry-local.h"
#include "pp-settings.h"
#include "pp-setup-page.h"
#include "pp-window.h"

struct _PpWindow
{
  AdwApplicationWindow  parent_instance;

  PpStore              *store;
  PpRegistry           *registry;  /* what the inventory shows, once open or signed in */
  char                 *remote_url; /* remote mode: the registry to sign in to */
  char                 *remote_ca;
  char                 *remote_user;
  char                 *signed_in_as; /* remote mode, after the sign-in */
  gboolean              offline;
  GSettings            *settings;  /* nullable: schema not installed */
  GCancellable         *cancellable;  /* async work for this window; cancelled in dispose */

  /* template */
  AdwToastOverlay      *toast_overlay;
  AdwWindowTitle       *window_title;
  GtkRevealer          *demo_revealer;
  GtkLabel             *demo_accounts_label;
  GtkRevealer          *offline_revealer;
  GtkLabel             *offline_detail_label;
  GtkStack             *main_stack;
  PpInventoryPage      *inventory_page;
  PpSetupPage          *setup_page;
  PpLoginPage          *login_page;
};

G_DEFINE_FINAL_TYPE (PpWindow, pp_window, ADW_TYPE_APPLICATION_WINDOW)

enum {
  PROP_0,
  PROP_STORE,
  PROP_REGISTRY,
  PROP_OFFLINE,
  N_PROPS
};

static GParamSpec *props[N_PROPS];

static void
save_state_filter (PpWindow *self)
{
  PpTerminalState state = pp_inventory_page_get_state_filter (self->inventory_page);

  if (self->settings == NULL)
    return;
  g_settings_set_string (self->settings, "state-filter",
                         state == PP_TERMINAL_STATE_ANY ? "" : pp_terminal_state_to_string (state));
}

static void
restore_settings (PpWindow *self)
{
  g_autofree char *state_name = NULL;
  PpTerminalState state;

  if (self->settings == NULL)
    return;

  gtk_window_set_default_size (GTK_WINDOW (self),
                               g_settings_get_int (self->settings, "window-width"),
                               g_settings_get_int (self->settings, "window-height"));
  if (g_settings_get_boolean (self->settings, "window-maximized"))
    gtk_window_maximize (GTK_WINDOW (self));

  state_name = g_settings_get_string (self->settings, "state-filter");
  if (state_name[0] != '\0' && pp_terminal_state_from_string (state_name, &state))
    pp_inventory_page_set_state_filter (self->inventory_page, state);

  g_signal_connect_object (self->inventory_page, "notify::state-filter",
                           G_CALLBACK (save_state_filter), self, G_CONNECT_SWAPPED);
}

static gboolean
pp_window_close_request (GtkWindow *window)
{
  PpWindow *self = PP_WINDOW (window);
  int width;
  int height;

  if (self->settings != NULL)
    {
      gtk_window_get_default_size (window, &width, &height);
      g_settings_delay (self->settings);
      g_settings_set_int (self->settings, "window-width", width);
      g_settings_set_int (self->settings, "window-height", height);
      g_settings_set_boolean (self->settings, "window-maximized", gtk_window_is_maximized (window));
      g_settings_apply (self->settings);
    }

  return GTK_WINDOW_CLASS (pp_window_parent_class)->close_request (window);
}

static void
search_action (GtkWidget  *widget,
               const char *action_name,
               GVariant   *parameter)
{
  PpWindow *self = PP_WINDOW (widget);

  /* No inventory to search until the administrator exists or the user signed in. */
  if (pp_window_is_showing_setup (self) || pp_window_is_showing_login (self))
    return;
  pp_inventory_page_focus_search (self->inventory_page);
}

/* "alice (Field manager), bob (Reviewer), ..." from the store, with the demo password. */
static char *
describe_demo_accounts (PpStore *store)
{
  g_autoptr(GPtrArray) users = pp_store_list_users (store, NULL);
  g_autoptr(GString) list = g_string_new (NULL);

  if (users == NULL || users->len == 0)
    return NULL;
  for (guint i = 0; i < users->len; i++)
    {
      PpUser *user = g_ptr_array_index (users, i);

      if (i > 0)
        g_string_append (list, C_("list separator", ", "));
      /* TRANSLATORS: a demo account: user name (role). */
      g_string_append_printf (list, _("%s (%s)"), user->username,
                              pp_user_role_get_label (user->role));
    }
  /* TRANSLATORS: the first %s lists the demo accounts, the second is their password. */
  return g_strdup_printf (_("Demo accounts: %s. Password of each: “%s”. Never use them on a real station."),
                          list->str, PP_STORE_DEMO_PASSWORD);
}

static void
update_store_view (PpWindow *self)
{
  const char *path;
  g_autofree char *name = NULL;
  g_autofree char *accounts = NULL;
  gboolean demo;

  if (self->remote_url != NULL)
    {
      g_autoptr(GUri) uri = g_uri_parse (self->remote_url, G_URI_FLAGS_NONE, NULL);
      g_autofree char *subtitle = NULL;

      if (self->signed_in_as != NULL)
        /* TRANSLATORS: the user signed in, then the registry's host, e.g. “alice @ registry.example”. */
        subtitle = g_strdup_printf (_("%s @ %s"), self->signed_in_as,
                                    uri != NULL ? g_uri_get_host (uri) : self->remote_url);
      adw_window_title_set_subtitle (self->window_title,
                                     subtitle != NULL ? subtitle : self->remote_url);
      gtk_widget_set_tooltip_text (GTK_WIDGET (self->window_title), self->remote_url);
      return;
    }
  if (self->store == NULL)
    return;

  path = pp_store_get_path (self->store);
  demo = pp_store_is_demo_store (self->store);
  if (demo)
    {
      adw_window_title_set_subtitle (self->window_title, _("Demo Data"));
      accounts = describe_demo_accounts (self->store);
    }
  else
    {
      /* The file name fits the header bar; the full path is a hover away. */
      name = g_path_get_basename (path);
      adw_window_title_set_subtitle (self->window_title, name);
    }
  gtk_widget_set_tooltip_text (GTK_WIDGET (self->window_title), path);
  gtk_label_set_text (self->demo_accounts_label, accounts != NULL ? accounts : "");
  gtk_widget_set_visible (GTK_WIDGET (self->demo_accounts_label), accounts != NULL);
  gtk_revealer_set_reveal_child (self->demo_revealer, demo);
}

static void
on_administrator_created (PpWindow   *self,
                          const char *username)
{
  g_autofree char *text = NULL;

  gtk_stack_set_visible_child_name (self->main_stack, "inventory");
  adw_window_title_set_title (self->window_title, _("Terminal Inventory"));
  /* TRANSLATORS: %s is the new administrator's user name. */
  text = g_strdup_printf (_("Administrator “%s” created"), username);
  adw_toast_overlay_add_toast (self->toast_overlay, adw_toast_new (text));
  pp_inventory_page_reload (self->inventory_page);
  pp_inventory_page_focus_search (self->inventory_page);
}

static void
set_offline (PpWindow   *self,
             gboolean    offline,
             const char *detail)
{
  if (detail != NULL)
    gtk_label_set_text (self->offline_detail_label, detail);
  gtk_widget_set_visible (GTK_WIDGET (self->offline_detail_label), offline && detail != NULL);
  gtk_revealer_set_reveal_child (self->offline_revealer, offline);
  if (self->offline == offline)
    return;
  self->offline = offline;
  g_object_notify_by_pspec (G_OBJECT (self), props[PROP_OFFLINE]);
}

static void
on_model_reachability (PpWindow *self)
{
  PpTerminalListModel *model = pp_inventory_page_get_model (self->inventory_page);

  if (model == NULL)
    return;
  /* Any answer, even a refusal, says the registry is there. */
  set_offline (self, pp_terminal_list_model_get_unreachable (model),
               pp_terminal_list_model_get_error (model));
}

static void
set_registry (PpWindow   *self,
              PpRegistry *registry)
{
  PpTerminalListModel *model;

  if (!g_set_object (&self->registry, registry))
    return;
  pp_inventory_page_set_registry (self->inventory_page, registry);
  model = pp_inventory_page_get_model (self->inventory_page);
  if (model != NULL)
    {
      g_signal_connect_object (model, "notify::unreachable",
                               G_CALLBACK (on_model_reachability), self, G_CONNECT_SWAPPED);
      g_signal_connect_object (model, "notify::error",
                               G_CALLBACK (on_model_reachability), self, G_CONNECT_SWAPPED);
    }
  g_object_notify_by_pspec (G_OBJECT (self), props[PROP_REGISTRY]);
}

/* @user_data is the window, unreferenced: a window closed meanwhile
 * cancelled the open, and is touched only when it was not cancelled. */
static void
on_local_registry_opened (GObject      *source,
                          GAsyncResult *result,
                          gpointer      user_data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(PpRegistryLocal) registry = pp_registry_local_new_finish (result, &error);
  PpWindow *self;

  if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    return;
  self = PP_WINDOW (user_data);
  if (registry == NULL)
    {
      pp_inventory_page_show_error (self->inventory_page, error->message);
      return;
    }
  set_registry (self, PP_REGISTRY (registry));
  /* The search was insensitive until now: where a scanner types. */
  if (g_strcmp0 (gtk_stack_get_visible_child_name (self->main_stack), "inventory") == 0)
    pp_inventory_page_focus_search (self->inventory_page);
}

static void
on_signed_in (PpWindow     *self,
              PpRegistry   *registry,
              const PpUser *user)
{
  g_free (self->signed_in_as);
  self->signed_in_as = g_strdup (user->username);
  set_offline (self, FALSE, NULL);
  set_registry (self, registry);
  update_store_view (self);
  adw_window_title_set_title (self->window_title, _("Terminal Inventory"));
  gtk_stack_set_visible_child_name (self->main_stack, "inventory");
  pp_inventory_page_focus_search (self->inventory_page);
}

static void
on_login_reachability (PpWindow *self)
{
  /* The page below says why. */
  set_offline (self, pp_login_page_get_unreachable (self->login_page), NULL);
}

/* Remote mode: the registry's address, CA or user changed in the
 * preferences: the session is for the old one, so sign in again. */
static void
on_registry_setting_changed (PpWindow *self)
{
  g_autofree char *url = g_settings_get_string (self->settings, "registry-url");
  g_autofree char *ca = g_settings_get_string (self->settings, "registry-ca");
  g_autofree char *user = g_settings_get_string (self->settings, "registry-user");

  /* Empty: the embedded registry, which needs the store opened at start. */
  if (url[0] == '\0' ||
      (g_strcmp0 (url, self->remote_url) == 0 && g_strcmp0 (ca, self->remote_ca) == 0 &&
       g_strcmp0 (user, self->remote_user) == 0))
    return;
  g_free (self->remote_url);
  self->remote_url = g_steal_pointer (&url);
  g_free (self->remote_ca);
  self->remote_ca = g_steal_pointer (&ca);
  g_free (self->remote_user);
  self->remote_user = g_steal_pointer (&user);
  g_clear_pointer (&self->signed_in_as, g_free);
  set_registry (self, NULL);
  set_offline (self, FALSE, NULL);
  pp_login_page_set_target (self->login_page, self->remote_url, self->remote_ca, self->remote_user);
  update_store_view (self);
  adw_window_title_set_title (self->window_title, _("Sign In"));
  gtk_stack_set_visible_child_name (self->main_stack, "login");
  gtk_widget_grab_focus (GTK_WIDGET (self->login_page));
}

static void
retry_action (GtkWidget  *widget,
              const char *action_name,
              GVariant   *parameter)
{
  PpWindow *self = PP_WINDOW (widget);

  /* Not signed in yet: the sign-in is the call to try again. */
  if (self->registry == NULL && self->remote_url != NULL)
    {
      pp_login_page_sign_in (self->login_page);
      return;
    }
  pp_inventory_page_reload (self->inventory_page);
}

static void
preferences_action (GtkWidget  *widget,
                    const char *action_name,
                    GVariant   *parameter)
{
  gtk_window_present (pp_preferences_new (GTK_WINDOW (widget)));
}

static void
pp_window_constructed (GObject *object)
{
  PpWindow *self = PP_WINDOW (object);

  G_OBJECT_CLASS (pp_window_parent_class)->constructed (object);

  pp_setup_page_set_store (self->setup_page, self->store);
  update_store_view (self);
  if (self->store != NULL && self->remote_url == NULL)
    pp_registry_local_new_async (pp_store_get_path (self->store), self->cancellable,
                                 on_local_registry_opened, self);

  restore_settings (self);

  /* A keyboard-wedge scanner types into whatever has focus: make it the search. */
  pp_inventory_page_focus_search (self->inventory_page);
}

static void
pp_window_dispose (GObject *object)
{
  PpWindow *self = PP_WINDOW (object);

  /* Work still running for the window (the demo seed) sees this: its
   * callback must not touch the window any more. */
  if (self->cancellable != NULL)
    g_cancellable_cancel (self->cancellable);
  g_clear_object (&self->cancellable);
  gtk_widget_dispose_template (GTK_WIDGET (object), PP_TYPE_WINDOW);
  g_clear_object (&self->settings);
  g_clear_object (&self->registry);
  g_clear_object (&self->store);
  g_clear_pointer (&self->remote_url, g_free);
  g_clear_pointer (&self->remote_ca, g_free);
  g_clear_pointer (&self->remote_user, g_free);
  g_clear_pointer (&self->signed_in_as, g_free);

  G_OBJECT_CLASS (pp_window_parent_class)->dispose (object);
}

static void
pp_window_get_property (GObject    *object,
                        guint       prop_id,
                        GValue     *value,
                        GParamSpec *pspec)
{
  PpWindow *self = PP_WINDOW (object);

  switch (prop_id)
    {
    case PROP_STORE:
      g_value_set_object (value, self->store);
      break;
    case PROP_REGISTRY:
      g_value_set_object (value, self->registry);
      break;
    case PROP_OFFLINE:
      g_value_set_boolean (value, self->offline);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
pp_window_set_property (GObject      *object,
                        guint         prop_id,
                        const GValue *value,
                        GParamSpec   *pspec)
{
  PpWindow *self = PP_WINDOW (object);

  switch (prop_id)
    {
    case PROP_STORE:
      self->store = g_value_dup_object (value);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
pp_window_class_init (PpWindowClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);
  GtkWindowClass *window_class = GTK_WINDOW_CLASS (klass);

  object_class->constructed = pp_window_constructed;
  object_class->dispose = pp_window_dispose;
  object_class->get_property = pp_window_get_property;
  object_class->set_property = pp_window_set_property;
  window_class->close_request = pp_window_close_request;

  props[PROP_STORE] =
    g_param_spec_object ("store", NULL, NULL,
                         PP_TYPE_STORE,
                         G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY | G_PARAM_STATIC_STRINGS);
  props[PROP_REGISTRY] =
    g_param_spec_object ("registry", NULL, NULL,
                         PP_TYPE_REGISTRY,
                         G_PARAM_READABLE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);
  props[PROP_OFFLINE] =
    g_param_spec_boolean ("offline", NULL, NULL, FALSE,
                          G_PARAM_READABLE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);
  g_object_class_install_properties (object_class, N_PROPS, props);

  g_type_ensure (PP_TYPE_INVENTORY_PAGE);
  g_type_ensure (PP_TYPE_SETUP_PAGE);
  g_type_ensure (PP_TYPE_LOGIN_PAGE);
  gtk_widget_class_set_template_from_resource (widget_class, "/org/posprov/Station/pp-window.ui");
  gtk_widget_class_bind_template_child (widget_class, PpWindow, toast_overlay);
  gtk_widget_class_bind_template_child (widget_class, PpWindow, window_title);
  gtk_widget_class_bind_template_child (widget_class, PpWindow, demo_revealer);
  gtk_widget_class_bind_template_child (widget_class, PpWindow, demo_accounts_label);
  gtk_widget_class_bind_template_child (widget_class, PpWindow, main_stack);
  gtk_widget_class_bind_template_child (widget_class, PpWindow, inventory_page);
  gtk_widget_class_bind_template_child (widget_class, PpWindow, setup_page);
  gtk_widget_class_bind_template_child (widget_class, PpWindow, login_page);
  gtk_widget_class_bind_template_child (widget_class, PpWindow, offline_revealer);
  gtk_widget_class_bind_template_child (widget_class, PpWindow, offline_detail_label);
  gtk_widget_class_bind_template_callback (widget_class, on_administrator_created);
  gtk_widget_class_bind_template_callback (widget_class, on_signed_in);
  gtk_widget_class_bind_template_callback (widget_class, on_login_reachability);

  gtk_widget_class_install_action (widget_class, "win.retry", NULL, retry_action);
  gtk_widget_class_install_action (widget_class, "win.preferences", NULL, preferences_action);
  gtk_widget_class_add_binding_action (widget_class, GDK_KEY_comma, GDK_CONTROL_MASK,
                                       "win.preferences", NULL);

  gtk_widget_class_install_action (widget_class, "win.search", NULL, search_action);
  gtk_widget_class_add_binding_action (widget_class, GDK_KEY_f, GDK_CONTROL_MASK, "win.search", NULL);
}

static void
pp_window_init (PpWindow *self)
{
  gtk_widget_init_template (GTK_WIDGET (self));
  self->settings = pp_settings_new ();
  self->cancellable = g_cancellable_new ();
}

PpWindow *
pp_window_new (AdwApplication *application,
               PpStore        *store)
{
  g_return_val_if_fail (application == NULL || ADW_IS_APPLICATION (application), NULL);
  g_return_val_if_fail (store == NULL || PP_IS_STORE (store), NULL);

  return g_object_new (PP_TYPE_WINDOW,
                       "application", application,
                       "store", store,
                       NULL);
}

PpWindow *
pp_window_new_remote (AdwApplication *application,
                      const char     *url,
                      const char     *ca_path,
                      const char     *user)
{
  PpWindow *self;

  g_return_val_if_fail (application == NULL || ADW_IS_APPLICATION (application), NULL);
  g_return_val_if_fail (url != NULL, NULL);

  self = g_object_new (PP_TYPE_WINDOW, "application", application, NULL);
  self->remote_url = g_strdup (url);
  self->remote_ca = g_strdup (ca_path);
  self->remote_user = g_strdup (user);
  update_store_view (self);
  pp_login_page_set_target (self->login_page, url, ca_path, user);
  adw_window_title_set_title (self->window_title, _("Sign In"));
  gtk_stack_set_visible_child_name (self->main_stack, "login");
  gtk_widget_grab_focus (GTK_WIDGET (self->login_page));
  if (self->settings != NULL)
    {
      static const char *const keys[] = { "changed::registry-url", "changed::registry-ca",
                                           "changed::registry-user" };

      for (guint i = 0; i < G_N_ELEMENTS (keys); i++)
        g_signal_connect_object (self->settings, keys[i], G_CALLBACK (on_registry_setting_changed),
                                 self, G_CONNECT_SWAPPED);
    }
  return self;
}

PpRegistry *
pp_window_get_registry (PpWindow *self)
{
  g_return_val_if_fail (PP_IS_WINDOW (self), NULL);

  return self->registry;
}

PpLoginPage *
pp_window_get_login_page (PpWindow *self)
{
  g_return_val_if_fail (PP_IS_WINDOW (self), NULL);

  return self->login_page;
}

gboolean
pp_window_get_offline (PpWindow *self)
{
  g_return_val_if_fail (PP_IS_WINDOW (self), FALSE);

  return self->offline;
}

gboolean
pp_window_is_showing_login (PpWindow *self)
{
  g_return_val_if_fail (PP_IS_WINDOW (self), FALSE);

  return g_strcmp0 (gtk_stack_get_visible_child_name (self->main_stack), "login") == 0;
}

PpStore *
pp_window_get_store (PpWindow *self)
{
  g_return_val_if_fail (PP_IS_WINDOW (self), NULL);

  return self->store;
}

GCancellable *
pp_window_get_cancellable (PpWindow *self)
{
  g_return_val_if_fail (PP_IS_WINDOW (self), NULL);

  return self->cancellable;
}

PpInventoryPage *
pp_window_get_inventory_page (PpWindow *self)
{
  g_return_val_if_fail (PP_IS_WINDOW (self), NULL);

  return self->inventory_page;
}

void
pp_window_reload (PpWindow *self)
{
  g_return_if_fail (PP_IS_WINDOW (self));

  if (self->store == NULL && self->registry == NULL)
    return;
  pp_inventory_page_reload (self->inventory_page);
  update_store_view (self);
}

void
pp_window_show_first_run_setup (PpWindow *self)
{
  g_return_if_fail (PP_IS_WINDOW (self));
  g_return_if_fail (self->store != NULL);

  adw_window_title_set_title (self->window_title, _("Station Setup"));
  gtk_stack_set_visible_child_name (self->main_stack, "setup");
  gtk_widget_grab_focus (GTK_WIDGET (self->setup_page));
}

gboolean
pp_window_is_showing_setup (PpWindow *self)
{
  g_return_val_if_fail (PP_IS_WINDOW (self), FALSE);

  return g_strcmp0 (gtk_stack_get_visible_child_name (self->main_stack), "setup") == 0;
}

void
pp_window_show_store_error (PpWindow     *self,
                            const GError *error)
{
  AdwMessageDialog *dialog;

  g_return_if_fail (PP_IS_WINDOW (self));
  g_return_if_fail (error != NULL);

  pp_inventory_page_show_error (self->inventory_page, error->message);

  dialog = ADW_MESSAGE_DIALOG (adw_message_dialog_new (GTK_WINDOW (self),
                                                       _("Cannot Open the Terminal Store"),
                                                       NULL));
  adw_message_dialog_format_body (dialog, "%s", error->message);
  adw_message_dialog_add_response (dialog, "close", _("_Close"));
  adw_message_dialog_set_default_response (dialog, "close");
  adw_message_dialog_set_close_response (dialog, "close");
  gtk_window_present (GTK_WINDOW (dialog));
}
