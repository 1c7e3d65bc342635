/* SPDX-License-Identifier: GPL-3.0-or-later
 *
 * pp-login-page.c: signing in to the registry, and the lock screen.
 *
 * The first step sends the password with an empty code: a user without a
 * code is signed in, one with a code enrolled gets OTP_REQUIRED and the
 * page asks for the 6 digits, then sends both again (the registry checks
 * the password each time; a code is good once). The password stays in its
 * field between the two steps and is cleared once the sign-in is done,
 * right or wrong, or the user goes back. A remote registry keeps its copy
 * (wiped when the registry goes) to sign in again when its session lapses.
 */
#include "config.h"

#include <glib/gi18n.h>

#include "pp-login-page.h"
#include "pp-registry-remote.h"

#define CODE_DIGITS 6

struct _PpLoginPage
{
  AdwBin         parent_instance;

  char          *url;
  char          *ca_path;
  PpRegistry    *registry;  /* the target at hand, when not a URL */
  char          *description;
  char          *locked_user;
  GCancellable  *cancellable;
  PpRegistry    *pending;   /* the registry signing in */
  gboolean       busy;
  gboolean       unreachable;
  gboolean       asking_code;
  gboolean       queued;    /* signed in before the registry was set */
  char          *error;

  /* template (the status page, the bin's child, is bound but not
   * disposed by the template: AdwBin owns it) */
  AdwPreferencesGroup *password_group;
  AdwPreferencesGroup *code_group;
  AdwEntryRow   *user_row;
  AdwEntryRow   *password_row;
  AdwEntryRow   *code_row;
  GtkLabel      *error_label;
  GtkSpinner    *spinner;
  GtkWidget     *sign_in_button;
  GtkWidget     *back_button;
  GtkWidget     *sign_out_button;
};

G_DEFINE_FINAL_TYPE (PpLoginPage, pp_login_page, ADW_TYPE_BIN)

enum {
  PROP_0,
  PROP_BUSY,
  PROP_UNREACHABLE,
  PROP_ASKING_CODE,
  PROP_LOCKED,
  N_PROPS
};

enum {
  SIGNED_IN,
  SIGN_OUT,
  N_SIGNALS
};

static GParamSpec *props[N_PROPS];
static guint signals[N_SIGNALS];

static const char *
row_text (AdwEntryRow *row)
{
  return gtk_editable_get_text (GTK_EDITABLE (row));
}

static gboolean
code_complete (PpLoginPage *self)
{
  const char *code = row_text (self->code_row);

  if (strlen (code) != CODE_DIGITS)
    return FALSE;
  for (const char *p = code; *p != '\0'; p++)
    if (!g_ascii_isdigit (*p))
      return FALSE;
  return TRUE;
}

static gboolean
fields_ready (PpLoginPage *self)
{
  return row_text (self->user_row)[0] != '\0' && row_text (self->password_row)[0] != '\0' &&
         (!self->asking_code || code_complete (self));
}

static void
update_action (PpLoginPage *self)
{
  gtk_widget_set_sensitive (self->sign_in_button,
                            !self->busy && (self->url != NULL || self->registry != NULL) &&
                            fields_ready (self));
}

static AdwStatusPage *
status_page (PpLoginPage *self)
{
  return ADW_STATUS_PAGE (adw_bin_get_child (ADW_BIN (self)));
}

static void
update_texts (PpLoginPage *self)
{
  g_autofree char *locked = NULL;

  if (self->locked_user != NULL)
    {
      adw_status_page_set_icon_name (status_page (self), "system-lock-screen-symbolic");
      adw_status_page_set_title (status_page (self), _("Station Locked"));
      /* TRANSLATORS: %s is the user name of who locked the station. */
      locked = g_strdup_printf (_("Locked: sign in again as %s, or sign out to let another user in."),
                                self->locked_user);
      adw_status_page_set_description (status_page (self), locked);
      return;
    }
  adw_status_page_set_icon_name (status_page (self), self->url != NULL ? "network-server-symbolic"
                                                                       : "system-users-symbolic");
  adw_status_page_set_title (status_page (self), self->url != NULL ? _("Sign In to the Registry")
                                                                   : _("Sign In"));
  adw_status_page_set_description (status_page (self), self->description);
}

static void
set_editable (PpLoginPage *self)
{
  /* Not insensitive while busy: the focused field keeps its focus. */
  gtk_editable_set_editable (GTK_EDITABLE (self->user_row), !self->busy && self->locked_user == NULL);
  gtk_editable_set_editable (GTK_EDITABLE (self->password_row), !self->busy);
  gtk_editable_set_editable (GTK_EDITABLE (self->code_row), !self->busy);
}

static void
set_busy (PpLoginPage *self,
          gboolean     busy)
{
  self->busy = busy;
  gtk_spinner_set_spinning (self->spinner, busy);
  set_editable (self);
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
set_asking_code (PpLoginPage *self,
                 gboolean     asking)
{
  gtk_editable_set_text (GTK_EDITABLE (self->code_row), "");
  gtk_widget_set_visible (GTK_WIDGET (self->code_group), asking);
  gtk_widget_set_visible (GTK_WIDGET (self->password_group), !asking);
  gtk_widget_set_visible (self->back_button, asking);
  if (self->asking_code == asking)
    return;
  self->asking_code = asking;
  update_action (self);
  g_object_notify_by_pspec (G_OBJECT (self), props[PROP_ASKING_CODE]);
}

/* Stops a sign-in running: its answer is of no use any more. */
static void
abandon (PpLoginPage *self)
{
  if (self->busy)
    {
      g_cancellable_cancel (self->cancellable);
      g_clear_object (&self->cancellable);
      self->cancellable = g_cancellable_new ();
      set_busy (self, FALSE);
    }
  g_clear_object (&self->pending);
  self->queued = FALSE;
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

  user = pp_registry_authenticate_otp_finish (registry, result, &error);
  if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    return;   /* the page is gone, or the sign-in abandoned */
  set_busy (self, FALSE);
  unreachable = g_error_matches (error, PP_REGISTRY_ERROR, PP_REGISTRY_ERROR_UNAVAILABLE);
  set_unreachable (self, unreachable);

  /* The password is right: the second step, with the same registry. */
  if (g_error_matches (error, PP_REGISTRY_ERROR, PP_REGISTRY_ERROR_OTP_REQUIRED))
    {
      show_error (self, NULL);
      set_asking_code (self, TRUE);
      gtk_widget_grab_focus (GTK_WIDGET (self->code_row));
      return;
    }
  if (user == NULL && self->asking_code)
    {
      /* A remote registry answers a wrong code as a wrong password; the
       * password was right a moment ago, so it is the code. */
      if (g_error_matches (error, PP_REGISTRY_ERROR, PP_REGISTRY_ERROR_PERMISSION))
        show_error (self, _("Wrong or already used one-time code: wait for the next code in your "
                            "authenticator app and enter it."));
      else
        show_error (self, error->message);
      gtk_editable_set_text (GTK_EDITABLE (self->code_row), "");
      gtk_widget_grab_focus (GTK_WIDGET (self->code_row));
      return;
    }

  g_clear_object (&self->pending);
  /* A password the registry never saw stays, for Retry. */
  if (!unreachable)
    gtk_editable_set_text (GTK_EDITABLE (self->password_row), "");
  if (g_error_matches (error, PP_REGISTRY_ERROR, PP_REGISTRY_ERROR_PERMISSION))
    show_error (self, _("Wrong user name or password. Check both and try again."));
  else
    show_error (self, error != NULL ? error->message : NULL);
  if (user == NULL)
    {
      gtk_widget_grab_focus (GTK_WIDGET (self->password_row));
      return;
    }

  set_asking_code (self, FALSE);
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

  if (self->busy || !fields_ready (self))
    return;
  if (self->url == NULL && self->registry == NULL)
    {
      self->queued = TRUE;
      return;
    }
  self->queued = FALSE;
  user = row_text (self->user_row);
  password = row_text (self->password_row);

  if (self->registry != NULL)
    g_set_object (&self->pending, self->registry);
  else if (self->pending == NULL || !self->asking_code)
    {
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
    }
  show_error (self, NULL);
  set_busy (self, TRUE);
  pp_registry_authenticate_otp_async (self->pending, user, password,
                                      self->asking_code ? row_text (self->code_row) : "",
                                      self->cancellable, on_authenticated, self);
}

void
pp_login_page_reset (PpLoginPage *self)
{
  g_return_if_fail (PP_IS_LOGIN_PAGE (self));

  abandon (self);
  set_asking_code (self, FALSE);
  gtk_editable_set_text (GTK_EDITABLE (self->password_row), "");
  show_error (self, NULL);
  update_action (self);
}

static void
on_sign_in_clicked (PpLoginPage *self)
{
  pp_login_page_sign_in (self);
}

static void
on_back_clicked (PpLoginPage *self)
{
  pp_login_page_reset (self);
  gtk_widget_grab_focus (GTK_WIDGET (self));
}

static void
on_sign_out_clicked (PpLoginPage *self)
{
  g_signal_emit (self, signals[SIGN_OUT], 0);
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
on_code_activated (PpLoginPage *self)
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
  g_clear_object (&self->registry);
  gtk_widget_dispose_template (GTK_WIDGET (object), PP_TYPE_LOGIN_PAGE);

  G_OBJECT_CLASS (pp_login_page_parent_class)->dispose (object);
}

static void
pp_login_page_finalize (GObject *object)
{
  PpLoginPage *self = PP_LOGIN_PAGE (object);

  g_free (self->url);
  g_free (self->ca_path);
  g_free (self->description);
  g_free (self->locked_user);
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
    case PROP_ASKING_CODE:
      g_value_set_boolean (value, self->asking_code);
      break;
    case PROP_LOCKED:
      g_value_set_boolean (value, self->locked_user != NULL);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static gboolean
pp_login_page_grab_focus (GtkWidget *widget)
{
  PpLoginPage *self = PP_LOGIN_PAGE (widget);

  if (self->asking_code)
    return gtk_widget_grab_focus (GTK_WIDGET (self->code_row));
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
  props[PROP_ASKING_CODE] =
    g_param_spec_boolean ("asking-code", NULL, NULL, FALSE,
                          G_PARAM_READABLE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);
  props[PROP_LOCKED] =
    g_param_spec_boolean ("locked", NULL, NULL, FALSE,
                          G_PARAM_READABLE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);
  g_object_class_install_properties (object_class, N_PROPS, props);

  signals[SIGNED_IN] = g_signal_new ("signed-in", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST,
                                     0, NULL, NULL, NULL, G_TYPE_NONE, 2,
                                     PP_TYPE_REGISTRY, G_TYPE_POINTER);
  signals[SIGN_OUT] = g_signal_new ("sign-out", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST,
                                    0, NULL, NULL, NULL, G_TYPE_NONE, 0);

  gtk_widget_class_set_template_from_resource (widget_class, "/org/posprov/Station/pp-login-page.ui");
  gtk_widget_class_bind_template_child (widget_class, PpLoginPage, password_group);
  gtk_widget_class_bind_template_child (widget_class, PpLoginPage, code_group);
  gtk_widget_class_bind_template_child (widget_class, PpLoginPage, user_row);
  gtk_widget_class_bind_template_child (widget_class, PpLoginPage, password_row);
  gtk_widget_class_bind_template_child (widget_class, PpLoginPage, code_row);
  gtk_widget_class_bind_template_child (widget_class, PpLoginPage, error_label);
  gtk_widget_class_bind_template_child (widget_class, PpLoginPage, spinner);
  gtk_widget_class_bind_template_child (widget_class, PpLoginPage, sign_in_button);
  gtk_widget_class_bind_template_child (widget_class, PpLoginPage, back_button);
  gtk_widget_class_bind_template_child (widget_class, PpLoginPage, sign_out_button);
  gtk_widget_class_bind_template_callback (widget_class, on_field_changed);
  gtk_widget_class_bind_template_callback (widget_class, on_sign_in_clicked);
  gtk_widget_class_bind_template_callback (widget_class, on_back_clicked);
  gtk_widget_class_bind_template_callback (widget_class, on_sign_out_clicked);
  gtk_widget_class_bind_template_callback (widget_class, on_user_activated);
  gtk_widget_class_bind_template_callback (widget_class, on_password_activated);
  gtk_widget_class_bind_template_callback (widget_class, on_code_activated);
}

static void
pp_login_page_init (PpLoginPage *self)
{
  gtk_widget_init_template (GTK_WIDGET (self));
  self->cancellable = g_cancellable_new ();
  update_texts (self);
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
  g_return_if_fail (PP_IS_LOGIN_PAGE (self));

  pp_login_page_reset (self);
  g_clear_object (&self->registry);
  g_free (self->url);
  self->url = g_strdup (url);
  g_free (self->ca_path);
  self->ca_path = g_strdup (ca_path);
  if (user != NULL && user[0] != '\0' && self->locked_user == NULL)
    gtk_editable_set_text (GTK_EDITABLE (self->user_row), user);
  g_free (self->description);
  /* TRANSLATORS: %s is the registry's address, e.g. https://registry.example:8443 */
  self->description = url != NULL ? g_strdup_printf (_("Registry at %s"), url) : NULL;
  update_texts (self);
  update_action (self);
}

void
pp_login_page_set_registry (PpLoginPage *self,
                            PpRegistry  *registry,
                            const char  *description)
{
  g_return_if_fail (PP_IS_LOGIN_PAGE (self));
  g_return_if_fail (registry == NULL || PP_IS_REGISTRY (registry));

  if (registry != self->registry)
    {
      gboolean queued = self->queued;

      /* What was typed stays: a sign-in queued for the registry to open. */
      abandon (self);
      set_asking_code (self, FALSE);
      show_error (self, NULL);
      g_clear_pointer (&self->url, g_free);
      g_clear_pointer (&self->ca_path, g_free);
      g_set_object (&self->registry, registry);
      self->queued = queued;
    }
  g_free (self->description);
  self->description = g_strdup (description);
  update_texts (self);
  update_action (self);
  if (self->queued && self->registry != NULL)
    pp_login_page_sign_in (self);
}

void
pp_login_page_lock (PpLoginPage *self,
                    const char  *user)
{
  g_return_if_fail (PP_IS_LOGIN_PAGE (self));

  if (g_strcmp0 (user, self->locked_user) == 0)
    return;
  pp_login_page_reset (self);
  g_free (self->locked_user);
  self->locked_user = g_strdup (user);
  if (user != NULL)
    gtk_editable_set_text (GTK_EDITABLE (self->user_row), user);
  gtk_widget_set_visible (self->sign_out_button, user != NULL);
  set_editable (self);
  update_texts (self);
  update_action (self);
  g_object_notify_by_pspec (G_OBJECT (self), props[PROP_LOCKED]);
}

gboolean
pp_login_page_get_locked (PpLoginPage *self)
{
  g_return_val_if_fail (PP_IS_LOGIN_PAGE (self), FALSE);

  return self->locked_user != NULL;
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

gboolean
pp_login_page_get_asking_code (PpLoginPage *self)
{
  g_return_val_if_fail (PP_IS_LOGIN_PAGE (self), FALSE);

  return self->asking_code;
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

GtkEditable *
pp_login_page_get_code_entry (PpLoginPage *self)
{
  g_return_val_if_fail (PP_IS_LOGIN_PAGE (self), NULL);

  return GTK_EDITABLE (self->code_row);
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
