/* SPDX-License-Identifier: GPL-3.0-or-later
 *
 * pp-setup-page.c: the first-run setup of a real store without accounts.
 *
 * The station's first account is its administrator, with a password of
 * their choosing that passes the core password policy; nothing else is
 * created. The checks run again in the store (the policy and "no user yet",
 * inside the write transaction), this page only says early what is wrong,
 * next to the field to change.
 */
#include "config.h"

#include <string.h>

#include <glib/gi18n.h>

#include "pp-password.h"
#include "pp-setup-page.h"

struct _PpSetupPage
{
  AdwBin        parent_instance;

  PpStore      *store;
  GCancellable *cancellable;
  gboolean      busy;

  /* template */
  AdwEntryRow  *username_row;
  AdwEntryRow  *password_row;
  AdwEntryRow  *confirm_row;
  GtkLabel     *error_label;
};

G_DEFINE_FINAL_TYPE (PpSetupPage, pp_setup_page, ADW_TYPE_BIN)

enum {
  PROP_0,
  PROP_STORE,
  N_PROPS
};

enum {
  ADMINISTRATOR_CREATED,
  N_SIGNALS
};

static GParamSpec *props[N_PROPS];
static guint signals[N_SIGNALS];

static const char *
row_text (AdwEntryRow *row)
{
  return gtk_editable_get_text (GTK_EDITABLE (row));
}

static void
update_action (PpSetupPage *self)
{
  gboolean filled = row_text (self->username_row)[0] != '\0' &&
                    row_text (self->password_row)[0] != '\0' &&
                    row_text (self->confirm_row)[0] != '\0';

  gtk_widget_action_set_enabled (GTK_WIDGET (self), "setup.create",
                                 self->store != NULL && filled && !self->busy);
}

static void
clear_error (PpSetupPage *self)
{
  gtk_widget_set_visible (GTK_WIDGET (self->error_label), FALSE);
  gtk_label_set_text (self->error_label, "");
  gtk_widget_remove_css_class (GTK_WIDGET (self->username_row), "error");
  gtk_widget_remove_css_class (GTK_WIDGET (self->password_row), "error");
  gtk_widget_remove_css_class (GTK_WIDGET (self->confirm_row), "error");
}

/* Shows @message under the form and marks @row (nullable) as the one to change. */
static void
show_error (PpSetupPage *self,
            AdwEntryRow *row,
            const char  *message)
{
  clear_error (self);
  gtk_label_set_text (self->error_label, message);
  gtk_widget_set_visible (GTK_WIDGET (self->error_label), TRUE);
  if (row != NULL)
    {
      gtk_widget_add_css_class (GTK_WIDGET (row), "error");
      gtk_widget_grab_focus (GTK_WIDGET (row));
    }
}

static void
on_field_changed (PpSetupPage *self)
{
  if (gtk_widget_get_visible (GTK_WIDGET (self->error_label)))
    clear_error (self);
  update_action (self);
}

static void
on_created (GObject      *source,
            GAsyncResult *result,
            gpointer      user_data)
{
  g_autoptr(PpSetupPage) self = user_data;
  g_autoptr(GError) error = NULL;
  g_autoptr(PpUser) user = NULL;

  user = pp_store_create_first_administrator_finish (PP_STORE (source), result, &error);
  if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    return;
  self->busy = FALSE;
  update_action (self);
  if (user == NULL)
    {
      AdwEntryRow *row = NULL;

      if (error->domain == PP_PASSWORD_ERROR)
        row = self->password_row;
      else if (g_error_matches (error, PP_STORE_ERROR, PP_STORE_ERROR_INVALID))
        row = self->username_row;
      show_error (self, row, error->message);
      return;
    }

  gtk_editable_set_text (GTK_EDITABLE (self->password_row), "");
  gtk_editable_set_text (GTK_EDITABLE (self->confirm_row), "");
  g_signal_emit (self, signals[ADMINISTRATOR_CREATED], 0, user->username);
}

static void
create_action (GtkWidget  *widget,
               const char *action_name,
               GVariant   *parameter)
{
  PpSetupPage *self = PP_SETUP_PAGE (widget);
  g_autoptr(GError) error = NULL;
  g_autofree char *username = g_strstrip (g_strdup (row_text (self->username_row)));
  const char *password = row_text (self->password_row);

  if (self->store == NULL || self->busy)
    return;
  if (username[0] == '\0')
    {
      show_error (self, self->username_row, _("Enter a user name for the administrator"));
      return;
    }
  if (!pp_password_check_policy (password, username, &error))
    {
      show_error (self, self->password_row, error->message);
      return;
    }
  if (strcmp (password, row_text (self->confirm_row)) != 0)
    {
      show_error (self, self->confirm_row, _("The two passwords differ; type the same password in both fields"));
      return;
    }

  clear_error (self);
  self->busy = TRUE;
  update_action (self);
  pp_store_create_first_administrator_async (self->store, username, NULL, password,
                                             self->cancellable, on_created, g_object_ref (self));
}

static void
on_entry_activated (PpSetupPage *self)
{
  gtk_widget_activate_action (GTK_WIDGET (self), "setup.create", NULL);
}

static void
pp_setup_page_dispose (GObject *object)
{
  PpSetupPage *self = PP_SETUP_PAGE (object);

  g_cancellable_cancel (self->cancellable);
  gtk_widget_dispose_template (GTK_WIDGET (object), PP_TYPE_SETUP_PAGE);
  g_clear_object (&self->cancellable);
  g_clear_object (&self->store);

  G_OBJECT_CLASS (pp_setup_page_parent_class)->dispose (object);
}

static void
pp_setup_page_get_property (GObject    *object,
                            guint       prop_id,
                            GValue     *value,
                            GParamSpec *pspec)
{
  PpSetupPage *self = PP_SETUP_PAGE (object);

  switch (prop_id)
    {
    case PROP_STORE:
      g_value_set_object (value, self->store);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
pp_setup_page_set_property (GObject      *object,
                            guint         prop_id,
                            const GValue *value,
                            GParamSpec   *pspec)
{
  PpSetupPage *self = PP_SETUP_PAGE (object);

  switch (prop_id)
    {
    case PROP_STORE:
      pp_setup_page_set_store (self, g_value_get_object (value));
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
pp_setup_page_class_init (PpSetupPageClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);

  object_class->dispose = pp_setup_page_dispose;
  object_class->get_property = pp_setup_page_get_property;
  object_class->set_property = pp_setup_page_set_property;

  props[PROP_STORE] =
    g_param_spec_object ("store", NULL, NULL,
                         PP_TYPE_STORE,
                         G_PARAM_READWRITE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);
  g_object_class_install_properties (object_class, N_PROPS, props);

  signals[ADMINISTRATOR_CREATED] =
    g_signal_new ("administrator-created",
                  G_TYPE_FROM_CLASS (klass),
                  G_SIGNAL_RUN_LAST,
                  0, NULL, NULL, NULL,
                  G_TYPE_NONE, 1, G_TYPE_STRING);

  gtk_widget_class_set_template_from_resource (widget_class, "/org/posprov/Station/pp-setup-page.ui");
  gtk_widget_class_bind_template_child (widget_class, PpSetupPage, username_row);
  gtk_widget_class_bind_template_child (widget_class, PpSetupPage, password_row);
  gtk_widget_class_bind_template_child (widget_class, PpSetupPage, confirm_row);
  gtk_widget_class_bind_template_child (widget_class, PpSetupPage, error_label);
  gtk_widget_class_bind_template_callback (widget_class, on_field_changed);
  gtk_widget_class_bind_template_callback (widget_class, on_entry_activated);

  gtk_widget_class_install_action (widget_class, "setup.create", NULL, create_action);
}

static void
pp_setup_page_init (PpSetupPage *self)
{
  gtk_widget_init_template (GTK_WIDGET (self));
  self->cancellable = g_cancellable_new ();
  update_action (self);
}

GtkWidget *
pp_setup_page_new (void)
{
  return g_object_new (PP_TYPE_SETUP_PAGE, NULL);
}

void
pp_setup_page_set_store (PpSetupPage *self,
                         PpStore     *store)
{
  g_return_if_fail (PP_IS_SETUP_PAGE (self));
  g_return_if_fail (store == NULL || PP_IS_STORE (store));

  if (!g_set_object (&self->store, store))
    return;
  update_action (self);
  g_object_notify_by_pspec (G_OBJECT (self), props[PROP_STORE]);
}

PpStore *
pp_setup_page_get_store (PpSetupPage *self)
{
  g_return_val_if_fail (PP_IS_SETUP_PAGE (self), NULL);

  return self->store;
}
