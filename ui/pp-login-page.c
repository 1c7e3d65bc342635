/* SPDX-License-Identifier: GPL-3.0-or-later
 *
 * pp-login-page.c: signing in to a remote registry.
 *
 * The password goes into the PpRegistryRemote (which keeps it, wiped when
 * the registry goes, to sign in again when its session lapses) and is
 * cleared from the field once the sign-in is done, right or wrong. The
 * registry's one-time codes guard approval requests, not the sign-in, so
 * there is no code field.
 */
#include "config.h"

#include <glib/gi18n.h>

#include "pp-login-page.h"
#include "pp-registry-remote.h"

struct _PpLoginPage
{
  AdwBin         parent_instance;

  char          *url;
  char          *ca_path;
  GCancellable  *cancellable;
  PpRegistry    *pending;   /* the registry signing in */
  gboolean       busy;
  gboolean       unreachable;
  char          *error;

  /* template (the status page, the bin's child, is not bound: binding it
   * would have dispose_template unparent it behind AdwBin's back) */
  AdwEntryRow   *user_row;
  AdwEntryRow   *password_row;
  GtkLabel      *error_label;
  GtkSpinner    *spinner;
  GtkWidget     *sign_in_button;
};

G_DEFINE_FINAL_TYPE (PpLoginPage, pp_login_page, ADW_TYPE_BIN)

enum {
  PROP_0,
  PROP_BUSY,
  PROP_UNREACHABLE,
  N_PROPS
};

enum {
  SIGNED_IN,
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
update_action (PpLoginPage *self)
{
  gtk_widget_set_sensitive (self->sign_in_button,
                            !self->busy && self->url != NULL && row_text (self->user_row)[0] != '\0' &&
                            row_text (self->password_row)[0] != '\0');
}

static void
set_busy (PpLoginPage *self,
          gboolean     busy)
{
  self->busy = busy;
  gtk_spinner_set_spinning (self->spinner, busy);
  /* Not insensitive: the focused field keeps its focus. */
  gtk_editable_set_editable (GTK_EDITABLE (self->user_row), !busy);
  gtk_editable_set_editable (GTK_EDITABLE (self->password_row), !busy);
  update_action (self);
  g_object_notify_by_pspec (G_OBJECT (self), props[PROP_BUSY]);
}

static void
show_error (PpLoginPage *self,
            const char  *message)
{
  g_free (self->error);
  self->error = g_strdup (message);
  gtk_label_set_text (self->error_label, message != NULL ? message : "");
  gtk_widget_set_visible (GTK_WIDGET (self->error_label), message != NULL);
}

static void
set_unreachable (PpLoginPage *self,
                 gboolean     unreachable)
{
  if (self->unreachable == unreachable)
    return;
  self->unreachable = unreachable;
  g_object_notify_by_pspec (G_OBJECT (self), props[PROP_UNREACHABLE]);
}

static void
on_field_changed (PpLoginPage *self)
{
  update_action (self);
}

static void
on_authenticated (GObject      *source,
                  GAsyncResult *result,
                  gpointer      data)
{
  PpLoginPage *self = data;
  g_autoptr(GError) error = NULL;
  g_autoptr(PpRegistry) registry = PP_REGISTRY (g_object_ref (source));
  gboolean unreachable;
  PpUser *user;

  user = pp_registry_authenticate_finish (registry, result, &error);
  if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    return;   /* the page is gone */
  g_clear_object (&self->pending);
  set_busy (self, FALSE);
  unreachable = g_error_matches (error, PP_REGISTRY_ERROR, PP_REGISTRY_ERROR_UNAVAILABLE);
  /* A password the registry never saw stays, for Retry. */
  if (!unreachable)
    gtk_editable_set_text (GTK_EDITABLE (self->password_row), "");

  if (g_error_matches (error, PP_REGISTRY_ERROR, PP_REGISTRY_ERROR_PERMISSION))
    show_error (self, _("Wrong user name or password. Check both and try again."));
  else
    show_error (self, error != NULL ? error->message : NULL);
  set_unreachable (self, unreachable);
  if (user == NULL)
    {
      gtk_widget_grab_focus (GTK_WIDGET (self->password_row));
      return;
    }

  g_signal_emit (self, signals[SIGNED_IN], 0, registry, user);
  pp_user_free (user);
}

void
pp_login_page_sign_in (PpLoginPage *self)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GTlsCertificate) anchor = NULL;
  const char *user;
  const char *password;

  g_return_if_fail (PP_IS_LOGIN_PAGE (self));

  if (self->busy || !gtk_widget_get_sensitive (self->sign_in_button))
    return;
  user = row_text (self->user_row);
  password = row_text (self->password_row);

  if (self->ca_path != NULL && self->ca_path[0] != '\0')
    {
      anchor = pp_registry_remote_load_anchor (self->ca_path, &error);
      if (anchor == NULL)
        {
          show_error (self, error->message);
          return;
        }
    }
  g_clear_object (&self->pending);
  self->pending = pp_registry_remote_new (self->url, user, password, anchor, &error);
  if (self->pending == NULL)
    {
      show_error (self, error->message);
      return;
    }
  show_error (self, NULL);
  set_busy (self, TRUE);
  pp_registry_authenticate_async (self->pending, user, password, self->cancellable,
                                  on_authenticated, self);
}

static void
on_sign_in_clicked (PpLoginPage *self)
{
  pp_login_page_sign_in (self);
}

static void
on_user_activated (PpLoginPage *self)
{
  gtk_widget_grab_focus (GTK_WIDGET (self->password_row));
}

static void
on_password_activated (PpLoginPage *self)
{
  pp_login_page_sign_in (self);
}

static void
pp_login_page_dispose (GObject *object)
{
  PpLoginPage *self = PP_LOGIN_PAGE (object);

  /* A sign-in still running sees this and leaves the page alone. */
  if (self->cancellable != NULL)
    g_cancellable_cancel (self->cancellable);
  g_clear_object (&self->cancellable);
  g_clear_object (&self->pending);
  gtk_widget_dispose_template (GTK_WIDGET (object), PP_TYPE_LOGIN_PAGE);

  G_OBJECT_CLASS (pp_login_page_parent_class)->dispose (object);
}

static void
pp_login_page_finalize (GObject *object)
{
  PpLoginPage *self = PP_LOGIN_PAGE (object);

  g_free (self->url);
  g_free (self->ca_path);
  g_free (self->error);

  G_OBJECT_CLASS (pp_login_page_parent_class)->finalize (object);
}

static void
pp_login_page_get_property (GObject    *object,
                            guint       prop_id,
                            GValue     *value,
                            GParamSpec *pspec)
{
  PpLoginPage *self = PP_LOGIN_PAGE (object);

  switch (prop_id)
    {
    case PROP_BUSY:
      g_value_set_boolean (value, self->busy);
      break;
    case PROP_UNREACHABLE:
      g_value_set_boolean (value, self->unreachable);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static gboolean
pp_login_page_grab_focus (GtkWidget *widget)
{
  PpLoginPage *self = PP_LOGIN_PAGE (widget);

  if (row_text (self->user_row)[0] == '\0')
    return gtk_widget_grab_focus (GTK_WIDGET (self->user_row));
  return gtk_widget_grab_focus (GTK_WIDGET (self->password_row));
}

static void
pp_login_page_class_init (PpLoginPageClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);

  object_class->dispose = pp_login_page_dispose;
  object_class->finalize = pp_login_page_finalize;
  object_class->get_property = pp_login_page_get_property;
  widget_class->grab_focus = pp_login_page_grab_focus;

  props[PROP_BUSY] =
    g_param_spec_boolean ("busy", NULL, NULL, FALSE,
                          G_PARAM_READABLE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);
  props[PROP_UNREACHABLE] =
    g_param_spec_boolean ("unreachable", NULL, NULL, FALSE,
                          G_PARAM_READABLE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);
  g_object_class_install_properties (object_class, N_PROPS, props);

  signals[SIGNED_IN] = g_signal_new ("signed-in", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST,
                                     0, NULL, NULL, NULL, G_TYPE_NONE, 2,
                                     PP_TYPE_REGISTRY, G_TYPE_POINTER);

  gtk_widget_class_set_template_from_resource (widget_class, "/org/posprov/Station/pp-login-page.ui");
  gtk_widget_class_bind_template_child (widget_class, PpLoginPage, user_row);
  gtk_widget_class_bind_template_child (widget_class, PpLoginPage, password_row);
  gtk_widget_class_bind_template_child (widget_class, PpLoginPage, error_label);
  gtk_widget_class_bind_template_child (widget_class, PpLoginPage, spinner);
  gtk_widget_class_bind_template_child (widget_class, PpLoginPage, sign_in_button);
  gtk_widget_class_bind_template_callback (widget_class, on_field_changed);
  gtk_widget_class_bind_template_callback (widget_class, on_sign_in_clicked);
  gtk_widget_class_bind_template_callback (widget_class, on_user_activated);
  gtk_widget_class_bind_template_callback (widget_class, on_password_activated);
}

static void
pp_login_page_init (PpLoginPage *self)
{
  gtk_widget_init_template (GTK_WIDGET (self));
  self->cancellable = g_cancellable_new ();
}

GtkWidget *
pp_login_page_new (void)
{
  return g_object_new (PP_TYPE_LOGIN_PAGE, NULL);
}

void
pp_login_page_set_target (PpLoginPage *self,
                          const char  *url,
                          const char  *ca_path,
                          const char  *user)
{
  g_autofree char *description = NULL;

  g_return_if_fail (PP_IS_LOGIN_PAGE (self));

  /* A sign-in to the former target is of no use any more. */
  if (self->busy)
    {
      g_cancellable_cancel (self->cancellable);
      g_clear_object (&self->cancellable);
      self->cancellable = g_cancellable_new ();
      g_clear_object (&self->pending);
      set_busy (self, FALSE);
    }
  show_error (self, NULL);
  g_free (self->url);
  self->url = g_strdup (url);
  g_free (self->ca_path);
  self->ca_path = g_strdup (ca_path);
  if (user != NULL && user[0] != '\0')
    gtk_editable_set_text (GTK_EDITABLE (self->user_row), user);
  /* TRANSLATORS: %s is the registry's address, e.g. https://registry.example:8443 */
  description = url != NULL ? g_strdup_printf (_("Registry at %s"), url) : NULL;
  adw_status_page_set_description (ADW_STATUS_PAGE (adw_bin_get_child (ADW_BIN (self))), description);
  update_action (self);
}

const char *
pp_login_page_get_url (PpLoginPage *self)
{
  g_return_val_if_fail (PP_IS_LOGIN_PAGE (self), NULL);

  return self->url;
}

gboolean
pp_login_page_get_busy (PpLoginPage *self)
{
  g_return_val_if_fail (PP_IS_LOGIN_PAGE (self), FALSE);

  return self->busy;
}

GtkEditable *
pp_login_page_get_user_entry (PpLoginPage *self)
{
  g_return_val_if_fail (PP_IS_LOGIN_PAGE (self), NULL);

  return GTK_EDITABLE (self->user_row);
}

GtkEditable *
pp_login_page_get_password_entry (PpLoginPage *self)
{
  g_return_val_if_fail (PP_IS_LOGIN_PAGE (self), NULL);

  return GTK_EDITABLE (self->password_row);
}

gboolean
pp_login_page_get_unreachable (PpLoginPage *self)
{
  g_return_val_if_fail (PP_IS_LOGIN_PAGE (self), FALSE);

  return self->unreachable;
}

const char *
pp_login_page_get_error (PpLoginPage *self)
{
  g_return_val_if_fail (PP_IS_LOGIN_PAGE (self), NULL);

  return self->error;
}
