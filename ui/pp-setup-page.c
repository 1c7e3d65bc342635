/* SPDX-License-Identifier: GPL-3.0-or-later
 *
 * pp-setup-page.c: the first-run setup of a real store without accounts.
 *
 * The station's first account is its administrator, with a password of
 * their choosing that passes the core password policy; nothing else is
 * created. The checks run again in the store (the policy and "no user yet",
 * inside the write transaction), this page only says early what is wrong,
 * next to the field to change.
 *
 * Then it seals the audit journal (pp_store_audit_init_seal_async) and shows
 * the verification seed this once, with a way to save it to a file (0600)
 * and a confirmation that it was kept off the station, before the station
 * goes on to the inventory. The seed lives in a secure buffer until then and
 * is not stored on the station.
 */
#include "config.h"

#include <string.h>

#include <glib/gi18n.h>
#include <openssl/crypto.h>

#include "pp-password.h"
#include "pp-setup-page.h"

struct _PpSetupPage
{
  AdwBin        parent_instance;

  PpStore        *store;
  GCancellable   *cancellable;
  gboolean        busy;
  char           *admin;      /* the administrator just created */
  PpSecureBuffer *seed;       /* the seed text, NUL-terminated, until the user goes on */
  gboolean        sealing;
  gboolean        saving;
  GtkFileChooserNative *chooser;

  /* template (the stack, the bin's child, is not bound: binding it would have
   * dispose_template unparent it behind AdwBin's back) */
  AdwEntryRow  *username_row;
  AdwEntryRow  *password_row;
  AdwEntryRow  *confirm_row;
  GtkLabel     *error_label;
  GtkWidget    *sealing_box;
  GtkSpinner   *sealing_spinner;
  GtkWidget    *seed_card;
  GtkLabel     *seed_label;
  GtkWidget    *seed_help_label;
  GtkLabel     *seed_error_label;
  GtkLabel     *saved_label;
  GtkWidget    *retry_button;
  GtkButton    *save_button;
  GtkCheckButton *saved_check;
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
update_seed_actions (PpSetupPage *self)
{
  gboolean have_seed = self->seed != NULL;

  gtk_widget_action_set_enabled (GTK_WIDGET (self), "setup.seal",
                                 self->admin != NULL && !have_seed && !self->sealing);
  gtk_widget_action_set_enabled (GTK_WIDGET (self), "setup.save-seed", have_seed && !self->saving);
  gtk_widget_set_sensitive (GTK_WIDGET (self->saved_check), have_seed);
  gtk_widget_action_set_enabled (GTK_WIDGET (self), "setup.finish",
                                 have_seed && !self->saving &&
                                 gtk_check_button_get_active (self->saved_check));
}

static void
on_saved_toggled (PpSetupPage *self)
{
  update_seed_actions (self);
}

static void
on_sealed (GObject      *source,
           GAsyncResult *result,
           gpointer      user_data)
{
  g_autoptr(PpSetupPage) self = user_data;
  g_autoptr(GError) error = NULL;
  g_autoptr(PpSecureBuffer) seed = NULL;

  seed = pp_store_audit_init_seal_finish (PP_STORE (source), result, &error);
  if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    return;
  self->sealing = FALSE;
  gtk_spinner_stop (self->sealing_spinner);
  gtk_widget_set_visible (self->sealing_box, FALSE);
  if (seed == NULL)
    {
      g_autofree char *text = g_strdup_printf (_("The journal could not be sealed: %s"), error->message);

      gtk_label_set_text (self->seed_error_label, text);
      gtk_widget_set_visible (GTK_WIDGET (self->seed_error_label), TRUE);
      gtk_widget_set_visible (self->retry_button, TRUE);
      update_seed_actions (self);
      gtk_widget_grab_focus (self->retry_button);
      return;
    }

  self->seed = g_steal_pointer (&seed);
  gtk_widget_set_visible (GTK_WIDGET (self->seed_error_label), FALSE);
  gtk_widget_set_visible (self->retry_button, FALSE);
  {
    g_autofree char *text = g_strdup ((const char *) pp_secure_buffer_peek (self->seed));

    /* The file ends with a newline; the card needs no empty line. */
    gtk_label_set_text (self->seed_label, g_strchomp (text));
    OPENSSL_cleanse (text, strlen (text));
  }
  gtk_widget_set_visible (self->seed_card, TRUE);
  gtk_widget_set_visible (self->seed_help_label, TRUE);
  update_seed_actions (self);
  gtk_widget_grab_focus (GTK_WIDGET (self->save_button));
}

static void
start_sealing (PpSetupPage *self)
{
  self->sealing = TRUE;
  gtk_widget_set_visible (GTK_WIDGET (self->seed_error_label), FALSE);
  gtk_widget_set_visible (self->retry_button, FALSE);
  gtk_widget_set_visible (self->sealing_box, TRUE);
  gtk_spinner_start (self->sealing_spinner);
  update_seed_actions (self);
  pp_store_audit_init_seal_async (self->store, PP_AUDIT_EPOCH_ENTRIES, PP_AUDIT_EPOCH_SECONDS,
                                  self->admin, self->cancellable, on_sealed, g_object_ref (self));
}

static void
seal_action (GtkWidget  *widget,
             const char *action_name,
             GVariant   *parameter)
{
  PpSetupPage *self = PP_SETUP_PAGE (widget);

  if (self->admin == NULL || self->seed != NULL || self->sealing)
    return;
  start_sealing (self);
}

/* Writes the seed to @path (a new file replaces the old one whole, 0600) on a
 * worker: the folder may be a slow USB stick. */
static void
save_seed_thread (GTask        *task,
                  gpointer      source,
                  gpointer      data,
                  GCancellable *cancellable)
{
  PpSecureBuffer *seed = data;
  const char *path = g_object_get_data (G_OBJECT (task), "path");
  const char *text = (const char *) pp_secure_buffer_peek (seed);
  GError *error = NULL;

  if (!g_file_set_contents_full (path, text, (gssize) strlen (text),
                                 G_FILE_SET_CONTENTS_CONSISTENT | G_FILE_SET_CONTENTS_DURABLE,
                                 0600, &error))
    g_task_return_error (task, error);
  else
    g_task_return_boolean (task, TRUE);
}

static void
on_seed_saved (GObject      *source,
               GAsyncResult *result,
               gpointer      user_data)
{
  PpSetupPage *self = PP_SETUP_PAGE (source);
  g_autoptr(GError) error = NULL;
  const char *path = g_object_get_data (G_OBJECT (result), "path");
  g_autofree char *text = NULL;

  if (!g_task_propagate_boolean (G_TASK (result), &error) &&
      g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    return;
  self->saving = FALSE;
  if (error != NULL)
    {
      /* TRANSLATORS: %s says why, from the system. */
      text = g_strdup_printf (_("The seed was not saved: %s"), error->message);
      gtk_label_set_text (self->seed_error_label, text);
      gtk_widget_set_visible (GTK_WIDGET (self->seed_error_label), TRUE);
      gtk_widget_set_visible (GTK_WIDGET (self->saved_label), FALSE);
    }
  else
    {
      /* TRANSLATORS: %s is the file the seed was written to. */
      text = g_strdup_printf (_("Seed saved to %s (readable only by you). Keep that file off this station."),
                              path);
      gtk_label_set_text (self->saved_label, text);
      gtk_widget_set_visible (GTK_WIDGET (self->saved_label), TRUE);
      gtk_widget_set_visible (GTK_WIDGET (self->seed_error_label), FALSE);
    }
  update_seed_actions (self);
  gtk_widget_grab_focus (error != NULL ? GTK_WIDGET (self->save_button) : GTK_WIDGET (self->saved_check));
}

void
pp_setup_page_save_seed_to (PpSetupPage *self,
                            GFile       *file)
{
  g_autoptr(GTask) task = NULL;
  g_autofree char *path = NULL;

  g_return_if_fail (PP_IS_SETUP_PAGE (self));
  g_return_if_fail (G_IS_FILE (file));

  path = g_file_get_path (file);
  if (self->seed == NULL || self->saving)
    return;
  if (path == NULL)
    {
      gtk_label_set_text (self->seed_error_label,
                          _("The seed was not saved: choose a file on this computer or a disk attached to it"));
      gtk_widget_set_visible (GTK_WIDGET (self->seed_error_label), TRUE);
      return;
    }
  self->saving = TRUE;
  update_seed_actions (self);
  task = g_task_new (self, self->cancellable, on_seed_saved, NULL);
  g_task_set_source_tag (task, pp_setup_page_save_seed_to);
  g_object_set_data_full (G_OBJECT (task), "path", g_steal_pointer (&path), g_free);
  g_task_set_task_data (task, pp_secure_buffer_dup (self->seed), (GDestroyNotify) pp_secure_buffer_free);
  g_task_run_in_thread (task, save_seed_thread);
}

static void
on_chooser_response (GtkNativeDialog *chooser,
                     int              response,
                     gpointer         user_data)
{
  PpSetupPage *self = PP_SETUP_PAGE (user_data);
  g_autoptr(GFile) file = NULL;

  if (response == GTK_RESPONSE_ACCEPT)
    file = gtk_file_chooser_get_file (GTK_FILE_CHOOSER (chooser));
  g_clear_object (&self->chooser);
  if (file != NULL)
    pp_setup_page_save_seed_to (self, file);
}

static void
save_seed_action (GtkWidget  *widget,
                  const char *action_name,
                  GVariant   *parameter)
{
  PpSetupPage *self = PP_SETUP_PAGE (widget);
  GtkRoot *root = gtk_widget_get_root (widget);

  if (self->seed == NULL || self->saving || self->chooser != NULL)
    return;
  self->chooser = gtk_file_chooser_native_new (_("Save the Journal’s Seed"),
                                               GTK_IS_WINDOW (root) ? GTK_WINDOW (root) : NULL,
                                               GTK_FILE_CHOOSER_ACTION_SAVE,
                                               _("_Save"), _("_Cancel"));
  gtk_native_dialog_set_modal (GTK_NATIVE_DIALOG (self->chooser), TRUE);
  /* ASCII whatever the language: the file may go to any disk or system. */
  gtk_file_chooser_set_current_name (GTK_FILE_CHOOSER (self->chooser), "posprov-journal-seed.txt");
  g_signal_connect (self->chooser, "response", G_CALLBACK (on_chooser_response), self);
  gtk_native_dialog_show (GTK_NATIVE_DIALOG (self->chooser));
}

/* Forgets the seed: off the screen and out of memory. */
static void
forget_seed (PpSetupPage *self)
{
  gtk_label_set_text (self->seed_label, "");
  g_clear_pointer (&self->seed, pp_secure_buffer_free);
}

static void
finish_action (GtkWidget  *widget,
               const char *action_name,
               GVariant   *parameter)
{
  PpSetupPage *self = PP_SETUP_PAGE (widget);
  g_autofree char *admin = NULL;

  if (self->seed == NULL || self->saving || !gtk_check_button_get_active (self->saved_check))
    return;
  forget_seed (self);
  gtk_widget_set_visible (self->seed_card, FALSE);
  admin = g_strdup (self->admin);
  update_seed_actions (self);
  g_signal_emit (self, signals[ADMINISTRATOR_CREATED], 0, admin);
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
  /* Now the journal: sealed before anyone works on this station. */
  g_free (self->admin);
  self->admin = g_strdup (user->username);
  gtk_stack_set_visible_child_name (GTK_STACK (adw_bin_get_child (ADW_BIN (self))), "seed");
  start_sealing (self);
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
  if (self->chooser != NULL)
    {
      g_signal_handlers_disconnect_by_data (self->chooser, self);
      gtk_native_dialog_destroy (GTK_NATIVE_DIALOG (self->chooser));
      g_clear_object (&self->chooser);
    }
  g_clear_pointer (&self->seed, pp_secure_buffer_free);
  gtk_widget_dispose_template (GTK_WIDGET (object), PP_TYPE_SETUP_PAGE);
  g_clear_object (&self->cancellable);
  g_clear_object (&self->store);
  g_clear_pointer (&self->admin, g_free);

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
  gtk_widget_class_bind_template_child (widget_class, PpSetupPage, sealing_box);
  gtk_widget_class_bind_template_child (widget_class, PpSetupPage, sealing_spinner);
  gtk_widget_class_bind_template_child (widget_class, PpSetupPage, seed_card);
  gtk_widget_class_bind_template_child (widget_class, PpSetupPage, seed_label);
  gtk_widget_class_bind_template_child (widget_class, PpSetupPage, seed_help_label);
  gtk_widget_class_bind_template_child (widget_class, PpSetupPage, seed_error_label);
  gtk_widget_class_bind_template_child (widget_class, PpSetupPage, saved_label);
  gtk_widget_class_bind_template_child (widget_class, PpSetupPage, retry_button);
  gtk_widget_class_bind_template_child (widget_class, PpSetupPage, save_button);
  gtk_widget_class_bind_template_child (widget_class, PpSetupPage, saved_check);
  gtk_widget_class_bind_template_child (widget_class, PpSetupPage, username_row);
  gtk_widget_class_bind_template_child (widget_class, PpSetupPage, password_row);
  gtk_widget_class_bind_template_child (widget_class, PpSetupPage, confirm_row);
  gtk_widget_class_bind_template_child (widget_class, PpSetupPage, error_label);
  gtk_widget_class_bind_template_callback (widget_class, on_field_changed);
  gtk_widget_class_bind_template_callback (widget_class, on_entry_activated);
  gtk_widget_class_bind_template_callback (widget_class, on_saved_toggled);

  gtk_widget_class_install_action (widget_class, "setup.create", NULL, create_action);
  gtk_widget_class_install_action (widget_class, "setup.seal", NULL, seal_action);
  gtk_widget_class_install_action (widget_class, "setup.save-seed", NULL, save_seed_action);
  gtk_widget_class_install_action (widget_class, "setup.finish", NULL, finish_action);
}

static void
pp_setup_page_init (PpSetupPage *self)
{
  gtk_widget_init_template (GTK_WIDGET (self));
  self->cancellable = g_cancellable_new ();
  update_action (self);
  update_seed_actions (self);
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
