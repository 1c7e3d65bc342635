/* SPDX-License-Identifier: GPL-3.0-or-later
 *
 * pp-window.c: the station's main window, one workplace.
 *
 * Nothing is shown before somebody signs in, to the embedded registry on
 * the store's file (opened on a worker once the window is up) or to a
 * remote one (pp_window_new_remote); a real store without accounts shows
 * the first-run setup first. Then a sidebar offers the pages the user's
 * role allows (the table `pages` below: one line a page, each built the
 * first time it is shown, so the first frame only has the sign-in to
 * draw), beside the page shown; it folds on narrow windows. After
 * lock-after minutes without input the login page covers everything with
 * the user fixed; what runs underneath (an install) keeps running.
 *
 * A demo store says so in the title and a banner that lists its accounts
 * and their published password, so nobody takes it for real. When a
 * registry call fails because the registry cannot be reached, a banner
 * says so with a Retry button; it goes once a call succeeds again.
 */
#include "config.h"

#include <glib/gi18n.h>

#include "pp-approvals-page.h"
#include "pp-install-wizard.h"
#include "pp-login-page.h"
#include "pp-preferences.h"
#include "pp-registry-local.h"
#include "pp-settings.h"
#include "pp-setup-page.h"
#include "pp-window.h"

/* What makes a page of the sidebar. */
typedef GtkWidget *(*PpWindowPageNew) (PpRegistry *registry,
                                       const char *user,
                                       PpUserRole  role);

#define ROLE(r) (1u << (r))
#define FIELD_MANAGER ROLE (PP_USER_ROLE_FIELD_MANAGER)
#define REVIEWER      ROLE (PP_USER_ROLE_REVIEWER)
#define ADMINISTRATOR ROLE (PP_USER_ROLE_ADMINISTRATOR)

typedef struct {
  const char      *name;      /* in the content stack; the action win.NAME */
  const char      *title;     /* N_() */
  const char      *icon;
  guint            roles;     /* ROLE() of who sees it */
  guint            accel_key; /* with Control */
  PpWindowPageNew  new_page;  /* NULL: the window's own (the inventory) */
} PageInfo;

/* The registry decides again in each verb; the sidebar only leaves out
 * what a role cannot use. */
static const PageInfo pages[] = {
  { "install", N_("Install"), "system-software-install-symbolic", FIELD_MANAGER, GDK_KEY_1,
    pp_install_wizard_new },
  { "approvals", N_("Approvals"), "security-high-symbolic", REVIEWER, GDK_KEY_2,
    pp_approvals_page_new },
  { "inventory", N_("Inventory"), "view-list-symbolic", FIELD_MANAGER | REVIEWER | ADMINISTRATOR,
    GDK_KEY_3, NULL },
  /* Pages in the making (other helpers), one line each once they are in:
   * { "work-orders", N_("Work Orders"), "x-office-document-symbolic", FIELD_MANAGER | ADMINISTRATOR,
   *   GDK_KEY_4, pp_work_orders_page_new },
   * { "recycle", N_("Recycle"), "user-trash-symbolic", FIELD_MANAGER, GDK_KEY_5, pp_recycle_page_new },
   * { "audit", N_("Audit Log"), "document-open-recent-symbolic", REVIEWER | ADMINISTRATOR,
   *   GDK_KEY_6, pp_audit_page_new },
   * { "diagnostics", N_("Diagnostics"), "applications-engineering-symbolic",
   *   FIELD_MANAGER | ADMINISTRATOR, GDK_KEY_7, pp_diagnostics_page_new }, */
};

/* How often the approvals badge counts again while nobody looks at the page. */
#define PENDING_POLL_SECONDS 5

struct _PpWindow
{
  AdwApplicationWindow  parent_instance;

  PpStore              *store;
  PpRegistry           *registry;  /* what the inventory shows, once open or signed in */
  char                 *remote_url; /* remote mode: the registry to sign in to */
  char                 *remote_ca;
  char                 *remote_user;
  gboolean              offline;
  GSettings            *settings;  /* nullable: schema not installed */
  GCancellable         *cancellable;  /* async work for this window; cancelled in dispose */
  gboolean              given_registry; /* made by the caller, not opened here */

  /* the session */
  char                 *user;      /* NULL: nobody signed in */
  PpUserRole            role;
  gboolean              locked;
  GCancellable         *session_cancellable; /* the badge's counts; cancelled at sign-out */
  guint                 n_pending;
  guint                 pending_source;
  GtkWidget            *pending_badge;
  guint                 lock_after_seconds; /* 0: never */
  gint64                last_input;         /* monotonic µs */
  guint                 lock_source;
  guint                 folded_source;

  /* template */
  AdwToastOverlay      *toast_overlay;
  AdwWindowTitle       *window_title;
  GtkRevealer          *demo_revealer;
  GtkLabel             *demo_accounts_label;
  GtkRevealer          *offline_revealer;
  GtkLabel             *offline_detail_label;
  GtkStack             *main_stack;
  GtkWidget            *sidebar_button;
  AdwLeaflet           *leaflet;
  GtkWidget            *sidebar;
  GtkListBox           *sidebar_list;
  GtkStack             *content_stack;
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
  PROP_USER,
  PROP_LOCKED,
  PROP_LOCK_AFTER_SECONDS,
  PROP_N_PENDING,
  N_PROPS
};

static GParamSpec *props[N_PROPS];

static void lock_station (PpWindow *self);
static void schedule_lock (PpWindow *self);
static void set_registry (PpWindow *self, PpRegistry *registry);

static const PageInfo *
page_info (const char *name)
{
  for (gsize i = 0; i < G_N_ELEMENTS (pages); i++)
    if (g_strcmp0 (pages[i].name, name) == 0)
      return &pages[i];
  return NULL;
}

static gboolean
page_allowed (PpWindow       *self,
              const PageInfo *info)
{
  return self->user != NULL && info != NULL && (info->roles & ROLE (self->role)) != 0;
}

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
set_lock_after_seconds (PpWindow *self,
                        guint     seconds)
{
  if (self->lock_after_seconds == seconds)
    return;
  self->lock_after_seconds = seconds;
  schedule_lock (self);
  g_object_notify_by_pspec (G_OBJECT (self), props[PROP_LOCK_AFTER_SECONDS]);
}

static void
on_lock_after_changed (PpWindow *self)
{
  set_lock_after_seconds (self, (guint) MAX (0, g_settings_get_int (self->settings, "lock-after")) * 60);
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
  on_lock_after_changed (self);
  g_signal_connect_object (self->settings, "changed::lock-after",
                           G_CALLBACK (on_lock_after_changed), self, G_CONNECT_SWAPPED);
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

/* What the login page says under its title for the embedded registry. */
static char *
local_description (PpWindow *self)
{
  g_autofree char *name = NULL;

  if (self->store == NULL)
    return NULL;
  if (pp_store_is_demo_store (self->store))
    return g_strdup (_("Sign in with one of the demo accounts listed above."));
  name = g_path_get_basename (pp_store_get_path (self->store));
  /* TRANSLATORS: %s is the store's file name, e.g. posprov.db */
  return g_strdup_printf (_("The station’s registry in %s"), name);
}

static void
update_store_view (PpWindow *self)
{
  const char *path;
  g_autofree char *place = NULL;
  g_autofree char *subtitle = NULL;
  g_autofree char *accounts = NULL;
  gboolean demo;

  if (self->remote_url != NULL)
    {
      g_autoptr(GUri) uri = g_uri_parse (self->remote_url, G_URI_FLAGS_NONE, NULL);

      if (self->user != NULL)
        /* TRANSLATORS: the user signed in, then the registry's host, e.g. “alice @ registry.example”. */
        subtitle = g_strdup_printf (_("%s @ %s"), self->user,
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
      place = g_strdup (_("Demo Data"));
      accounts = describe_demo_accounts (self->store);
    }
  else
    /* The file name fits the header bar; the full path is a hover away. */
    place = g_path_get_basename (path);
  if (self->user != NULL)
    /* TRANSLATORS: the user signed in, their role, and the store, e.g. “alice (Field manager) · posprov.db”. */
    subtitle = g_strdup_printf (_("%s (%s) · %s"), self->user, pp_user_role_get_label (self->role), place);
  adw_window_title_set_subtitle (self->window_title, subtitle != NULL ? subtitle : place);
  gtk_widget_set_tooltip_text (GTK_WIDGET (self->window_title), path);
  gtk_label_set_text (self->demo_accounts_label, accounts != NULL ? accounts : "");
  gtk_widget_set_visible (GTK_WIDGET (self->demo_accounts_label), accounts != NULL);
  gtk_revealer_set_reveal_child (self->demo_revealer, demo);
}

/* ---- the pages ---- */

static void
update_actions (PpWindow *self)
{
  gboolean in = self->user != NULL && !self->locked;

  for (gsize i = 0; i < G_N_ELEMENTS (pages); i++)
    {
      g_autofree char *action = g_strconcat ("win.", pages[i].name, NULL);

      gtk_widget_action_set_enabled (GTK_WIDGET (self), action, in && page_allowed (self, &pages[i]));
    }
  gtk_widget_action_set_enabled (GTK_WIDGET (self), "win.search", in);
  gtk_widget_action_set_enabled (GTK_WIDGET (self), "win.lock", in);
  gtk_widget_action_set_enabled (GTK_WIDGET (self), "win.sign-out", self->user != NULL);
  gtk_widget_action_set_enabled (GTK_WIDGET (self), "win.show-sidebar", in);
}

static void
update_title (PpWindow *self)
{
  const char *shown = gtk_stack_get_visible_child_name (self->main_stack);
  const PageInfo *info;

  if (g_strcmp0 (shown, "setup") == 0)
    adw_window_title_set_title (self->window_title, _("Station Setup"));
  else if (g_strcmp0 (shown, "login") == 0)
    adw_window_title_set_title (self->window_title, self->locked ? _("Locked") : _("Sign In"));
  else if ((info = page_info (gtk_stack_get_visible_child_name (self->content_stack))) != NULL)
    adw_window_title_set_title (self->window_title, _(info->title));
  gtk_widget_set_visible (self->sidebar_button,
                          g_strcmp0 (shown, "station") == 0 && adw_leaflet_get_folded (self->leaflet));
}

static void
show_main (PpWindow   *self,
           const char *name)
{
  gtk_stack_set_visible_child_name (self->main_stack, name);
  update_title (self);
}

static gboolean
folded_idle (gpointer data)
{
  PpWindow *self = PP_WINDOW (data);

  self->folded_source = 0;
  update_title (self);
  return G_SOURCE_REMOVE;
}

/* The leaflet folds while it is allocated: the header bar's button changes
 * after that allocation, not during it. */
static void
on_folded_changed (PpWindow *self)
{
  if (self->folded_source == 0)
    self->folded_source = g_idle_add (folded_idle, self);
}

static void
on_content_changed (PpWindow *self)
{
  update_title (self);
}

static void set_n_pending (PpWindow *self, guint n);

static void
on_page_pending (PpWindow        *self,
                 GParamSpec      *pspec,
                 PpApprovalsPage *page)
{
  set_n_pending (self, pp_approvals_page_get_n_pending (page));
}

/* The page @name, built for the user the first time it is shown. */
static GtkWidget *
ensure_page (PpWindow       *self,
             const PageInfo *info)
{
  GtkWidget *page = gtk_stack_get_child_by_name (self->content_stack, info->name);

  if (page != NULL || info->new_page == NULL)
    return page;
  page = info->new_page (self->registry, self->user, self->role);
  gtk_stack_add_titled (self->content_stack, page, info->name, _(info->title));
  if (PP_IS_APPROVALS_PAGE (page))
    {
      /* While the page is mapped it counts itself, as requests arrive. */
      g_signal_connect_object (page, "notify::n-pending", G_CALLBACK (on_page_pending), self,
                               G_CONNECT_SWAPPED);
    }
  return page;
}

static gboolean
show_page (PpWindow   *self,
           const char *name)
{
  const PageInfo *info = page_info (name);
  GtkWidget *page;

  if (!page_allowed (self, info) || self->locked)
    return FALSE;
  page = ensure_page (self, info);
  if (page == NULL)
    return FALSE;
  gtk_stack_set_visible_child (self->content_stack, page);
  for (GtkWidget *row = gtk_widget_get_first_child (GTK_WIDGET (self->sidebar_list)); row != NULL;
       row = gtk_widget_get_next_sibling (row))
    if (g_strcmp0 (g_object_get_data (G_OBJECT (row), "page"), name) == 0)
      gtk_list_box_select_row (self->sidebar_list, GTK_LIST_BOX_ROW (row));
  adw_leaflet_set_visible_child (self->leaflet, GTK_WIDGET (self->content_stack));
  update_title (self);
  return TRUE;
}

static void
on_sidebar_row_activated (PpWindow      *self,
                          GtkListBoxRow *row)
{
  const char *name = g_object_get_data (G_OBJECT (row), "page");

  if (show_page (self, name))
    gtk_widget_child_focus (gtk_stack_get_visible_child (self->content_stack), GTK_DIR_TAB_FORWARD);
}

static void
page_action (GtkWidget  *widget,
             const char *action_name,
             GVariant   *parameter)
{
  PpWindow *self = PP_WINDOW (widget);

  /* "win.install" shows the page "install". */
  show_page (self, action_name + strlen ("win."));
}

static void
show_sidebar_action (GtkWidget  *widget,
                     const char *action_name,
                     GVariant   *parameter)
{
  PpWindow *self = PP_WINDOW (widget);

  adw_leaflet_set_visible_child (self->leaflet, self->sidebar);
  gtk_widget_grab_focus (GTK_WIDGET (self->sidebar_list));
}

static void
update_badge (PpWindow *self)
{
  g_autofree char *text = NULL;

  if (self->pending_badge == NULL)
    return;
  text = g_strdup_printf ("%u", self->n_pending);
  gtk_label_set_text (GTK_LABEL (self->pending_badge), text);
  gtk_widget_set_visible (self->pending_badge, self->n_pending > 0);
  g_free (text);
  text = g_strdup_printf (ngettext ("%u request waits for a decision", "%u requests wait for a decision",
                                    self->n_pending),
                          self->n_pending);
  gtk_widget_set_tooltip_text (self->pending_badge, text);
}

static void
set_n_pending (PpWindow *self,
               guint     n)
{
  if (self->n_pending == n)
    return;
  self->n_pending = n;
  update_badge (self);
  g_object_notify_by_pspec (G_OBJECT (self), props[PROP_N_PENDING]);
}

static gboolean count_pending (gpointer data);

/* A count's way back: the window if it is still there, and the session
 * the count was for (a registry may answer even after a cancel). */
typedef struct {
  GWeakRef      window;
  GCancellable *session;
} PendingCount;

static void
pending_count_free (PendingCount *count)
{
  g_weak_ref_clear (&count->window);
  g_clear_object (&count->session);
  g_free (count);
}

static void
on_pending_listed (GObject      *source,
                   GAsyncResult *result,
                   gpointer      data)
{
  PendingCount *count = data;
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) list = pp_registry_list_approvals_finish (PP_REGISTRY (source), result, &error);
  g_autoptr(PpWindow) self = g_weak_ref_get (&count->window);
  gboolean current = self != NULL && !g_cancellable_is_cancelled (count->session);

  pending_count_free (count);
  if (!current)
    return;
  if (list != NULL)
    set_n_pending (self, list->len);
  self->pending_source = g_timeout_add_seconds (PENDING_POLL_SECONDS, count_pending, self);
}

static gboolean
count_pending (gpointer data)
{
  PpWindow *self = PP_WINDOW (data);
  PendingCount *count = g_new0 (PendingCount, 1);

  self->pending_source = 0;
  g_weak_ref_init (&count->window, self);
  count->session = g_object_ref (self->session_cancellable);
  pp_registry_list_approvals_async (self->registry, TRUE, self->session_cancellable,
                                    on_pending_listed, count);
  return G_SOURCE_REMOVE;
}

static GtkWidget *
sidebar_row (const PageInfo *info,
             GtkWidget     **out_badge)
{
  GtkWidget *row = gtk_list_box_row_new ();
  GtkWidget *box = gtk_box_new (GTK_ORIENTATION_HORIZONTAL, 12);
  GtkWidget *label = gtk_label_new (_(info->title));

  gtk_label_set_xalign (GTK_LABEL (label), 0);
  gtk_label_set_ellipsize (GTK_LABEL (label), PANGO_ELLIPSIZE_END);
  gtk_widget_set_hexpand (label, TRUE);
  gtk_box_append (GTK_BOX (box), gtk_image_new_from_icon_name (info->icon));
  gtk_box_append (GTK_BOX (box), label);
  if (out_badge != NULL)
    {
      *out_badge = gtk_label_new (NULL);
      gtk_widget_set_visible (*out_badge, FALSE);
      gtk_widget_add_css_class (*out_badge, "badge");
      gtk_widget_add_css_class (*out_badge, "numeric");
      gtk_box_append (GTK_BOX (box), *out_badge);
    }
  gtk_list_box_row_set_child (GTK_LIST_BOX_ROW (row), box);
  gtk_accessible_update_property (GTK_ACCESSIBLE (row), GTK_ACCESSIBLE_PROPERTY_LABEL, _(info->title), -1);
  g_object_set_data (G_OBJECT (row), "page", (gpointer) info->name);
  return row;
}

static void
build_sidebar (PpWindow *self)
{
  GtkWidget *child;

  while ((child = gtk_widget_get_first_child (GTK_WIDGET (self->sidebar_list))) != NULL)
    gtk_list_box_remove (self->sidebar_list, child);
  self->pending_badge = NULL;
  for (gsize i = 0; i < G_N_ELEMENTS (pages); i++)
    if (page_allowed (self, &pages[i]))
      gtk_list_box_append (self->sidebar_list,
                           sidebar_row (&pages[i], g_str_equal (pages[i].name, "approvals")
                                                     ? &self->pending_badge : NULL));
  update_badge (self);
}

/* The pages built for the user who signs out go with them. */
static void
drop_session_pages (PpWindow *self)
{
  for (gsize i = 0; i < G_N_ELEMENTS (pages); i++)
    {
      GtkWidget *page = gtk_stack_get_child_by_name (self->content_stack, pages[i].name);

      if (page != NULL && pages[i].new_page != NULL)
        gtk_stack_remove (self->content_stack, page);
    }
}

/* ---- signing in, locking, signing out ---- */

static void
set_user (PpWindow         *self,
          const char       *user,
          PpUserRole        role)
{
  if (g_strcmp0 (self->user, user) == 0 && self->role == role)
    return;
  g_free (self->user);
  self->user = g_strdup (user);
  self->role = role;
  g_object_notify_by_pspec (G_OBJECT (self), props[PROP_USER]);
}

static void
set_locked (PpWindow *self,
            gboolean  locked)
{
  if (self->locked == locked)
    return;
  self->locked = locked;
  update_actions (self);
  g_object_notify_by_pspec (G_OBJECT (self), props[PROP_LOCKED]);
}

/* The login page's target when nobody is signed in. */
static void
reset_login_target (PpWindow *self)
{
  pp_login_page_lock (self->login_page, NULL);
  if (self->remote_url != NULL)
    pp_login_page_set_target (self->login_page, self->remote_url, self->remote_ca, self->remote_user);
  else
    {
      g_autofree char *description = local_description (self);

      pp_login_page_set_registry (self->login_page, self->registry, description);
    }
}

static void
end_session (PpWindow *self)
{
  if (self->session_cancellable != NULL)
    g_cancellable_cancel (self->session_cancellable);
  g_clear_object (&self->session_cancellable);
  g_clear_handle_id (&self->pending_source, g_source_remove);
  g_clear_handle_id (&self->lock_source, g_source_remove);
  drop_session_pages (self);
  set_n_pending (self, 0);
  set_user (self, NULL, PP_USER_ROLE_FIELD_MANAGER);
  set_locked (self, FALSE);
  build_sidebar (self);
  update_actions (self);
}

static void
sign_out (PpWindow *self)
{
  if (self->user == NULL)
    return;
  end_session (self);
  /* A remote registry keeps the password it signed in with: it goes. */
  if (self->remote_url != NULL)
    set_registry (self, NULL);
  reset_login_target (self);
  update_store_view (self);
  show_main (self, "login");
  gtk_widget_grab_focus (GTK_WIDGET (self->login_page));
}

static void
on_sign_out (PpWindow *self)
{
  sign_out (self);
}

static void
lock_station (PpWindow *self)
{
  if (self->user == NULL || self->locked)
    return;
  g_clear_handle_id (&self->lock_source, g_source_remove);
  /* Whoever comes back signs in to the registry the session is on. */
  pp_login_page_set_registry (self->login_page, self->registry, NULL);
  pp_login_page_lock (self->login_page, self->user);
  set_locked (self, TRUE);
  show_main (self, "login");
  gtk_widget_grab_focus (GTK_WIDGET (self->login_page));
}

static gboolean
lock_check (gpointer data)
{
  PpWindow *self = PP_WINDOW (data);

  self->lock_source = 0;
  schedule_lock (self);
  return G_SOURCE_REMOVE;
}

/* Locks once lock-after has passed since the last input, or checks again
 * when it would have: input only records its time, it never touches the
 * timer. */
static void
schedule_lock (PpWindow *self)
{
  gint64 idle, limit;

  g_clear_handle_id (&self->lock_source, g_source_remove);
  if (self->user == NULL || self->locked || self->lock_after_seconds == 0)
    return;
  idle = g_get_monotonic_time () - self->last_input;
  limit = (gint64) self->lock_after_seconds * G_USEC_PER_SEC;
  if (idle >= limit)
    {
      lock_station (self);
      return;
    }
  self->lock_source = g_timeout_add ((guint) ((limit - idle + 999) / 1000), lock_check, self);
}

static void
note_input (PpWindow *self)
{
  self->last_input = g_get_monotonic_time ();
}

static gboolean
on_key_input (PpWindow *self)
{
  note_input (self);
  return GDK_EVENT_PROPAGATE;
}

static gboolean
on_scroll_input (PpWindow *self)
{
  note_input (self);
  return GDK_EVENT_PROPAGATE;
}

static void
lock_action (GtkWidget  *widget,
             const char *action_name,
             GVariant   *parameter)
{
  lock_station (PP_WINDOW (widget));
}

static void
sign_out_action (GtkWidget  *widget,
                 const char *action_name,
                 GVariant   *parameter)
{
  sign_out (PP_WINDOW (widget));
}

static void
search_action (GtkWidget  *widget,
               const char *action_name,
               GVariant   *parameter)
{
  PpWindow *self = PP_WINDOW (widget);

  /* No inventory to search until somebody signed in. */
  if (show_page (self, "inventory"))
    pp_inventory_page_focus_search (self->inventory_page);
}

static void
on_administrator_created (PpWindow   *self,
                          const char *username)
{
  g_autofree char *text = NULL;

  /* TRANSLATORS: %s is the new administrator's user name. */
  text = g_strdup_printf (_("Administrator “%s” created: sign in with the password you chose"), username);
  adw_toast_overlay_add_toast (self->toast_overlay, adw_toast_new (text));
  gtk_editable_set_text (pp_login_page_get_user_entry (self->login_page), username);
  show_main (self, "login");
  gtk_widget_grab_focus (GTK_WIDGET (self->login_page));
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

/* The inventory shows @registry once somebody signed in to it. */
static void
set_registry (PpWindow   *self,
              PpRegistry *registry)
{
  if (!g_set_object (&self->registry, registry))
    return;
  if (registry == NULL)
    pp_inventory_page_set_registry (self->inventory_page, NULL);
  g_object_notify_by_pspec (G_OBJECT (self), props[PROP_REGISTRY]);
}

static void
show_inventory_data (PpWindow *self)
{
  PpTerminalListModel *model;

  if (pp_inventory_page_get_registry (self->inventory_page) == self->registry)
    return;
  pp_inventory_page_set_registry (self->inventory_page, self->registry);
  model = pp_inventory_page_get_model (self->inventory_page);
  if (model != NULL)
    {
      g_signal_connect_object (model, "notify::unreachable",
                               G_CALLBACK (on_model_reachability), self, G_CONNECT_SWAPPED);
      g_signal_connect_object (model, "notify::error",
                               G_CALLBACK (on_model_reachability), self, G_CONNECT_SWAPPED);
    }
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
  g_autofree char *description = NULL;
  PpWindow *self;

  if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    return;
  self = PP_WINDOW (user_data);
  if (registry == NULL)
    {
      pp_inventory_page_show_error (self->inventory_page, error->message);
      pp_login_page_set_registry (self->login_page, NULL, error->message);
      return;
    }
  set_registry (self, PP_REGISTRY (registry));
  description = local_description (self);
  pp_login_page_set_registry (self->login_page, self->registry, description);
}

static void
on_signed_in (PpWindow     *self,
              PpRegistry   *registry,
              const PpUser *user)
{
  note_input (self);
  set_offline (self, FALSE, NULL);
  if (self->locked && g_ascii_strcasecmp (user->username, self->user) != 0)
    end_session (self);   /* not who locked it (the field is fixed): a new session */
  if (self->locked)
    {
      /* The same user: back to where they were. */
      set_locked (self, FALSE);
      pp_login_page_lock (self->login_page, NULL);
      show_main (self, "station");
      schedule_lock (self);
      return;
    }
  pp_login_page_lock (self->login_page, NULL);
  set_registry (self, registry);
  set_user (self, user->username, user->role);
  g_clear_object (&self->session_cancellable);
  self->session_cancellable = g_cancellable_new ();
  build_sidebar (self);
  update_actions (self);
  update_store_view (self);
  show_inventory_data (self);
  show_main (self, "station");
  show_page (self, "inventory");
  pp_inventory_page_focus_search (self->inventory_page);
  if (page_allowed (self, page_info ("approvals")))
    count_pending (self);
  schedule_lock (self);
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
  end_session (self);
  set_registry (self, NULL);
  set_offline (self, FALSE, NULL);
  reset_login_target (self);
  update_store_view (self);
  show_main (self, "login");
}

static void
retry_action (GtkWidget  *widget,
              const char *action_name,
              GVariant   *parameter)
{
  PpWindow *self = PP_WINDOW (widget);

  /* Not signed in yet: the sign-in is the call to try again. */
  if (self->user == NULL)
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
  GtkEventController *controller;

  G_OBJECT_CLASS (pp_window_parent_class)->constructed (object);

  pp_setup_page_set_store (self->setup_page, self->store);
  update_store_view (self);
  if (self->registry != NULL)
    {
      g_autofree char *description = local_description (self);

      self->given_registry = TRUE;
      pp_login_page_set_registry (self->login_page, self->registry, description);
    }
  else if (self->store != NULL && self->remote_url == NULL)
    pp_registry_local_new_async (pp_store_get_path (self->store), self->cancellable,
                                 on_local_registry_opened, self);

  restore_settings (self);

  /* Any input on the window, seen before the widget it is for. */
  controller = gtk_event_controller_key_new ();
  gtk_event_controller_set_propagation_phase (controller, GTK_PHASE_CAPTURE);
  g_signal_connect_swapped (controller, "key-pressed", G_CALLBACK (on_key_input), self);
  gtk_widget_add_controller (GTK_WIDGET (self), controller);
  controller = gtk_event_controller_motion_new ();
  gtk_event_controller_set_propagation_phase (controller, GTK_PHASE_CAPTURE);
  g_signal_connect_swapped (controller, "motion", G_CALLBACK (note_input), self);
  gtk_widget_add_controller (GTK_WIDGET (self), controller);
  controller = GTK_EVENT_CONTROLLER (gtk_gesture_click_new ());
  gtk_gesture_single_set_button (GTK_GESTURE_SINGLE (controller), 0);
  gtk_event_controller_set_propagation_phase (controller, GTK_PHASE_CAPTURE);
  g_signal_connect_swapped (controller, "pressed", G_CALLBACK (note_input), self);
  gtk_widget_add_controller (GTK_WIDGET (self), controller);
  controller = gtk_event_controller_scroll_new (GTK_EVENT_CONTROLLER_SCROLL_BOTH_AXES);
  gtk_event_controller_set_propagation_phase (controller, GTK_PHASE_CAPTURE);
  g_signal_connect_swapped (controller, "scroll", G_CALLBACK (on_scroll_input), self);
  gtk_widget_add_controller (GTK_WIDGET (self), controller);

  update_actions (self);
  show_main (self, "login");
  gtk_widget_grab_focus (GTK_WIDGET (self->login_page));
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
  if (self->session_cancellable != NULL)
    g_cancellable_cancel (self->session_cancellable);
  g_clear_object (&self->session_cancellable);
  g_clear_handle_id (&self->pending_source, g_source_remove);
  g_clear_handle_id (&self->lock_source, g_source_remove);
  g_clear_handle_id (&self->folded_source, g_source_remove);
  self->pending_badge = NULL;
  gtk_widget_dispose_template (GTK_WIDGET (object), PP_TYPE_WINDOW);
  g_clear_object (&self->settings);
  g_clear_object (&self->registry);
  g_clear_object (&self->store);
  g_clear_pointer (&self->remote_url, g_free);
  g_clear_pointer (&self->remote_ca, g_free);
  g_clear_pointer (&self->remote_user, g_free);
  g_clear_pointer (&self->user, g_free);

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
    case PROP_USER:
      g_value_set_string (value, self->user);
      break;
    case PROP_LOCKED:
      g_value_set_boolean (value, self->locked);
      break;
    case PROP_LOCK_AFTER_SECONDS:
      g_value_set_uint (value, self->lock_after_seconds);
      break;
    case PROP_N_PENDING:
      g_value_set_uint (value, pp_window_get_n_pending (self));
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
    case PROP_REGISTRY:
      self->registry = g_value_dup_object (value);
      break;
    case PROP_LOCK_AFTER_SECONDS:
      set_lock_after_seconds (self, g_value_get_uint (value));
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
                         G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY | G_PARAM_EXPLICIT_NOTIFY |
                         G_PARAM_STATIC_STRINGS);
  props[PROP_OFFLINE] =
    g_param_spec_boolean ("offline", NULL, NULL, FALSE,
                          G_PARAM_READABLE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);
  props[PROP_USER] =
    g_param_spec_string ("user", NULL, NULL, NULL,
                         G_PARAM_READABLE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);
  props[PROP_LOCKED] =
    g_param_spec_boolean ("locked", NULL, NULL, FALSE,
                          G_PARAM_READABLE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);
  props[PROP_LOCK_AFTER_SECONDS] =
    g_param_spec_uint ("lock-after-seconds", NULL, NULL, 0, G_MAXUINT, 5 * 60,
                       G_PARAM_READWRITE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);
  props[PROP_N_PENDING] =
    g_param_spec_uint ("n-pending", NULL, NULL, 0, G_MAXUINT, 0,
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
  gtk_widget_class_bind_template_child (widget_class, PpWindow, sidebar_button);
  gtk_widget_class_bind_template_child (widget_class, PpWindow, leaflet);
  gtk_widget_class_bind_template_child (widget_class, PpWindow, sidebar);
  gtk_widget_class_bind_template_child (widget_class, PpWindow, sidebar_list);
  gtk_widget_class_bind_template_child (widget_class, PpWindow, content_stack);
  gtk_widget_class_bind_template_child (widget_class, PpWindow, inventory_page);
  gtk_widget_class_bind_template_child (widget_class, PpWindow, setup_page);
  gtk_widget_class_bind_template_child (widget_class, PpWindow, login_page);
  gtk_widget_class_bind_template_child (widget_class, PpWindow, offline_revealer);
  gtk_widget_class_bind_template_child (widget_class, PpWindow, offline_detail_label);
  gtk_widget_class_bind_template_callback (widget_class, on_administrator_created);
  gtk_widget_class_bind_template_callback (widget_class, on_signed_in);
  gtk_widget_class_bind_template_callback (widget_class, on_sign_out);
  gtk_widget_class_bind_template_callback (widget_class, on_login_reachability);
  gtk_widget_class_bind_template_callback (widget_class, on_sidebar_row_activated);
  gtk_widget_class_bind_template_callback (widget_class, on_folded_changed);
  gtk_widget_class_bind_template_callback (widget_class, on_content_changed);

  gtk_widget_class_install_action (widget_class, "win.retry", NULL, retry_action);
  gtk_widget_class_install_action (widget_class, "win.preferences", NULL, preferences_action);
  gtk_widget_class_add_binding_action (widget_class, GDK_KEY_comma, GDK_CONTROL_MASK,
                                       "win.preferences", NULL);

  gtk_widget_class_install_action (widget_class, "win.search", NULL, search_action);
  gtk_widget_class_add_binding_action (widget_class, GDK_KEY_f, GDK_CONTROL_MASK, "win.search", NULL);

  /* One action a page, Control and its digit. */
  for (gsize i = 0; i < G_N_ELEMENTS (pages); i++)
    {
      g_autofree char *action = g_strconcat ("win.", pages[i].name, NULL);

      gtk_widget_class_install_action (widget_class, action, NULL, page_action);
      gtk_widget_class_add_binding_action (widget_class, pages[i].accel_key, GDK_CONTROL_MASK, action, NULL);
    }
  gtk_widget_class_install_action (widget_class, "win.show-sidebar", NULL, show_sidebar_action);
  gtk_widget_class_add_binding_action (widget_class, GDK_KEY_F9, 0, "win.show-sidebar", NULL);
  gtk_widget_class_install_action (widget_class, "win.lock", NULL, lock_action);
  gtk_widget_class_add_binding_action (widget_class, GDK_KEY_l, GDK_CONTROL_MASK | GDK_ALT_MASK,
                                       "win.lock", NULL);
  gtk_widget_class_install_action (widget_class, "win.sign-out", NULL, sign_out_action);
}

static void
pp_window_init (PpWindow *self)
{
  gtk_widget_init_template (GTK_WIDGET (self));
  self->settings = pp_settings_new ();
  self->cancellable = g_cancellable_new ();
  self->lock_after_seconds = 5 * 60;
  self->last_input = g_get_monotonic_time ();
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
pp_window_new_with_registry (AdwApplication *application,
                             PpStore        *store,
                             PpRegistry     *registry)
{
  g_return_val_if_fail (application == NULL || ADW_IS_APPLICATION (application), NULL);
  g_return_val_if_fail (store == NULL || PP_IS_STORE (store), NULL);
  g_return_val_if_fail (PP_IS_REGISTRY (registry), NULL);

  return g_object_new (PP_TYPE_WINDOW,
                       "application", application,
                       "store", store,
                       "registry", registry,
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
  show_main (self, "login");
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
  g_autofree char *description = NULL;

  g_return_if_fail (PP_IS_WINDOW (self));

  if (self->store == NULL && self->registry == NULL)
    return;
  if (self->user != NULL)
    pp_inventory_page_reload (self->inventory_page);
  else if (self->remote_url == NULL && self->registry != NULL)
    {
      /* The demo seed made the accounts the page points to. */
      description = local_description (self);
      pp_login_page_set_registry (self->login_page, self->registry, description);
    }
  update_store_view (self);
}

void
pp_window_show_first_run_setup (PpWindow *self)
{
  g_return_if_fail (PP_IS_WINDOW (self));
  g_return_if_fail (self->store != NULL);

  show_main (self, "setup");
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
  if (self->registry == NULL)
    pp_login_page_set_registry (self->login_page, NULL, error->message);

  dialog = ADW_MESSAGE_DIALOG (adw_message_dialog_new (GTK_WINDOW (self),
                                                       _("Cannot Open the Terminal Store"),
                                                       NULL));
  adw_message_dialog_format_body (dialog, "%s", error->message);
  adw_message_dialog_add_response (dialog, "close", _("_Close"));
  adw_message_dialog_set_default_response (dialog, "close");
  adw_message_dialog_set_close_response (dialog, "close");
  gtk_window_present (GTK_WINDOW (dialog));
}

const char *
pp_window_get_user (PpWindow *self)
{
  g_return_val_if_fail (PP_IS_WINDOW (self), NULL);

  return self->user;
}

gboolean
pp_window_get_locked (PpWindow *self)
{
  g_return_val_if_fail (PP_IS_WINDOW (self), FALSE);

  return self->locked;
}

void
pp_window_lock (PpWindow *self)
{
  g_return_if_fail (PP_IS_WINDOW (self));

  lock_station (self);
}

void
pp_window_sign_out (PpWindow *self)
{
  g_return_if_fail (PP_IS_WINDOW (self));

  sign_out (self);
}

void
pp_window_sign_in (PpWindow   *self,
                   const char *user,
                   const char *password)
{
  g_return_if_fail (PP_IS_WINDOW (self));
  g_return_if_fail (user != NULL && password != NULL);

  if (!pp_login_page_get_locked (self->login_page))
    gtk_editable_set_text (pp_login_page_get_user_entry (self->login_page), user);
  gtk_editable_set_text (pp_login_page_get_password_entry (self->login_page), password);
  pp_login_page_sign_in (self->login_page);
}

guint
pp_window_get_n_pending (PpWindow *self)
{
  g_return_val_if_fail (PP_IS_WINDOW (self), 0);

  return self->n_pending;
}

gboolean
pp_window_show_page (PpWindow   *self,
                     const char *name)
{
  g_return_val_if_fail (PP_IS_WINDOW (self), FALSE);
  g_return_val_if_fail (name != NULL, FALSE);

  return show_page (self, name);
}

const char *
pp_window_get_page_name (PpWindow *self)
{
  g_return_val_if_fail (PP_IS_WINDOW (self), NULL);

  if (self->user == NULL)
    return NULL;
  return gtk_stack_get_visible_child_name (self->content_stack);
}

GtkWidget *
pp_window_get_page (PpWindow   *self,
                    const char *name)
{
  g_return_val_if_fail (PP_IS_WINDOW (self), NULL);
  g_return_val_if_fail (name != NULL, NULL);

  return gtk_stack_get_child_by_name (self->content_stack, name);
}

GtkListBox *
pp_window_get_sidebar (PpWindow *self)
{
  g_return_val_if_fail (PP_IS_WINDOW (self), NULL);

  return self->sidebar_list;
}

gboolean
pp_window_resume_order (PpWindow   *self,
                        const char *order_uuid)
{
  GtkWidget *wizard;

  g_return_val_if_fail (PP_IS_WINDOW (self), FALSE);
  g_return_val_if_fail (order_uuid != NULL, FALSE);

  if (!show_page (self, "install"))
    return FALSE;
  wizard = gtk_stack_get_child_by_name (self->content_stack, "install");
  pp_install_wizard_resume_order (PP_INSTALL_WIZARD (wizard), order_uuid);
  return TRUE;
}
