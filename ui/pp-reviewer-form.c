/* SPDX-License-Identifier: GPL-3.0-or-later
 *
 * pp-reviewer-form.c: a reviewer signs in here and decides.
 *
 * The password lives only in its entry, until the registry call that
 * checks it; the entry is emptied when that call returns, accepted or
 * not.  Approve and Reject wait for all three fields and for "accepting".
 */
#include "config.h"

#include <glib/gi18n.h>

#include "pp-reviewer-form.h"

struct _PpReviewerForm
{
  GtkBox        parent_instance;

  PpRegistry   *registry;
  GCancellable *cancellable;     /* the sign-in; cancelled in dispose */
  gboolean      accepting;
  gboolean      signing_in;

  /* template */
  GtkToggleButton *toggle;
  GtkRevealer     *revealer;
  AdwEntryRow     *user_row;
  AdwEntryRow     *password_row;
  AdwEntryRow     *reason_row;
  GtkLabel        *error_label;
  GtkWidget       *reject_button;
  GtkWidget       *approve_button;
};

G_DEFINE_FINAL_TYPE (PpReviewerForm, pp_reviewer_form, GTK_TYPE_BOX)

enum {
  PROP_0,
  PROP_REGISTRY,
  PROP_ACCEPTING,
  PROP_OPEN,
  N_PROPS
};

enum {
  SIGNAL_DECIDED,
  N_SIGNALS
};

static GParamSpec *props[N_PROPS];
static guint signals[N_SIGNALS];

static char *
typed_reason (PpReviewerForm *self)
{
  return g_strstrip (g_strdup (gtk_editable_get_text (GTK_EDITABLE (self->reason_row))));
}

static gboolean
filled_in (PpReviewerForm *self)
{
  g_autofree char *reason = typed_reason (self);

  return reason[0] != '\0' && gtk_editable_get_text (GTK_EDITABLE (self->user_row))[0] != '\0' &&
         gtk_editable_get_text (GTK_EDITABLE (self->password_row))[0] != '\0';
}

static void
sync_sensitivity (PpReviewerForm *self)
{
  gboolean can_decide = self->accepting && !self->signing_in && filled_in (self);

  gtk_widget_set_sensitive (GTK_WIDGET (self->toggle), self->accepting);
  gtk_widget_set_sensitive (self->approve_button, can_decide);
  gtk_widget_set_sensitive (self->reject_button, can_decide);
}

static void
on_toggled (PpReviewerForm *self)
{
  gboolean open = gtk_toggle_button_get_active (self->toggle);

  gtk_revealer_set_reveal_child (self->revealer, open);
  if (open)
    gtk_widget_grab_focus (GTK_WIDGET (self->user_row));
  g_object_notify_by_pspec (G_OBJECT (self), props[PROP_OPEN]);
}

static void
on_changed (PpReviewerForm *self)
{
  pp_reviewer_form_set_error (self, NULL);
  sync_sensitivity (self);
}

/* Enter goes to the next empty field, then to Approve. */
static void
on_next (PpReviewerForm *self)
{
  AdwEntryRow *fields[] = { self->user_row, self->password_row, self->reason_row };

  for (guint i = 0; i < G_N_ELEMENTS (fields); i++)
    if (gtk_editable_get_text (GTK_EDITABLE (fields[i]))[0] == '\0')
      {
        gtk_widget_grab_focus (GTK_WIDGET (fields[i]));
        return;
      }
  gtk_widget_grab_focus (self->approve_button);
}

typedef struct {
  PpReviewerForm *self;
  gboolean        approve;
  char           *reason;
} Verdict;

static void
verdict_free (Verdict *verdict)
{
  g_object_unref (verdict->self);
  g_free (verdict->reason);
  g_free (verdict);
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC (Verdict, verdict_free)

static void
on_signed_in (GObject      *source,
              GAsyncResult *result,
              gpointer      user_data)
{
  g_autoptr(Verdict) verdict = user_data;
  PpReviewerForm *self = verdict->self;
  g_autoptr(PpUser) reviewer = NULL;
  g_autoptr(GError) error = NULL;

  reviewer = pp_registry_authenticate_finish (PP_REGISTRY (source), result, &error);
  if (g_cancellable_is_cancelled (self->cancellable))
    return;
  self->signing_in = FALSE;
  gtk_editable_set_text (GTK_EDITABLE (self->password_row), "");
  if (reviewer == NULL)
    pp_reviewer_form_set_error (self, error->message);
  else if (!self->accepting)
    pp_reviewer_form_set_error (self, _("The request is no longer waiting for a decision."));
  else
    g_signal_emit (self, signals[SIGNAL_DECIDED], 0, reviewer->username, verdict->approve, verdict->reason);
  sync_sensitivity (self);
}

static void
decide (PpReviewerForm *self,
        gboolean        approve)
{
  Verdict *verdict;

  if (self->signing_in || !self->accepting || !filled_in (self) || self->registry == NULL)
    return;
  verdict = g_new0 (Verdict, 1);
  verdict->self = g_object_ref (self);
  verdict->approve = approve;
  verdict->reason = typed_reason (self);
  self->signing_in = TRUE;
  pp_reviewer_form_set_error (self, NULL);
  pp_registry_authenticate_async (self->registry, gtk_editable_get_text (GTK_EDITABLE (self->user_row)),
                                  gtk_editable_get_text (GTK_EDITABLE (self->password_row)), self->cancellable,
                                  on_signed_in, verdict);
  sync_sensitivity (self);
}

static void
on_approve_clicked (PpReviewerForm *self)
{
  decide (self, TRUE);
}

static void
on_reject_clicked (PpReviewerForm *self)
{
  decide (self, FALSE);
}

void
pp_reviewer_form_set_registry (PpReviewerForm *self,
                               PpRegistry     *registry)
{
  g_return_if_fail (PP_IS_REVIEWER_FORM (self));
  g_return_if_fail (registry == NULL || PP_IS_REGISTRY (registry));

  if (g_set_object (&self->registry, registry))
    g_object_notify_by_pspec (G_OBJECT (self), props[PROP_REGISTRY]);
}

void
pp_reviewer_form_set_accepting (PpReviewerForm *self,
                                gboolean        accepting)
{
  g_return_if_fail (PP_IS_REVIEWER_FORM (self));

  accepting = !!accepting;
  if (self->accepting == accepting)
    return;
  self->accepting = accepting;
  sync_sensitivity (self);
  g_object_notify_by_pspec (G_OBJECT (self), props[PROP_ACCEPTING]);
}

gboolean
pp_reviewer_form_get_open (PpReviewerForm *self)
{
  g_return_val_if_fail (PP_IS_REVIEWER_FORM (self), FALSE);
  return gtk_toggle_button_get_active (self->toggle);
}

void
pp_reviewer_form_set_error (PpReviewerForm *self,
                            const char     *message)
{
  g_return_if_fail (PP_IS_REVIEWER_FORM (self));

  gtk_label_set_text (self->error_label, message != NULL ? message : "");
  gtk_widget_set_visible (GTK_WIDGET (self->error_label), message != NULL && message[0] != '\0');
}

void
pp_reviewer_form_reset (PpReviewerForm *self)
{
  g_return_if_fail (PP_IS_REVIEWER_FORM (self));

  gtk_editable_set_text (GTK_EDITABLE (self->reason_row), "");
  gtk_editable_set_text (GTK_EDITABLE (self->password_row), "");
  gtk_toggle_button_set_active (self->toggle, FALSE);
  pp_reviewer_form_set_error (self, NULL);
}

GtkWidget *
pp_reviewer_form_get_toggle (PpReviewerForm *self)
{
  g_return_val_if_fail (PP_IS_REVIEWER_FORM (self), NULL);
  return GTK_WIDGET (self->toggle);
}

GtkWidget *
pp_reviewer_form_get_approve_button (PpReviewerForm *self)
{
  g_return_val_if_fail (PP_IS_REVIEWER_FORM (self), NULL);
  return self->approve_button;
}

static void
pp_reviewer_form_dispose (GObject *object)
{
  PpReviewerForm *self = PP_REVIEWER_FORM (object);

  g_cancellable_cancel (self->cancellable);
  g_clear_object (&self->registry);
  gtk_widget_dispose_template (GTK_WIDGET (self), PP_TYPE_REVIEWER_FORM);
  G_OBJECT_CLASS (pp_reviewer_form_parent_class)->dispose (object);
}

static void
pp_reviewer_form_finalize (GObject *object)
{
  g_clear_object (&PP_REVIEWER_FORM (object)->cancellable);
  G_OBJECT_CLASS (pp_reviewer_form_parent_class)->finalize (object);
}

static void
pp_reviewer_form_get_property (GObject    *object,
                               guint       prop_id,
                               GValue     *value,
                               GParamSpec *pspec)
{
  PpReviewerForm *self = PP_REVIEWER_FORM (object);

  switch (prop_id)
    {
    case PROP_REGISTRY:
      g_value_set_object (value, self->registry);
      break;
    case PROP_ACCEPTING:
      g_value_set_boolean (value, self->accepting);
      break;
    case PROP_OPEN:
      g_value_set_boolean (value, pp_reviewer_form_get_open (self));
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
pp_reviewer_form_set_property (GObject      *object,
                               guint         prop_id,
                               const GValue *value,
                               GParamSpec   *pspec)
{
  PpReviewerForm *self = PP_REVIEWER_FORM (object);

  switch (prop_id)
    {
    case PROP_REGISTRY:
      pp_reviewer_form_set_registry (self, g_value_get_object (value));
      break;
    case PROP_ACCEPTING:
      pp_reviewer_form_set_accepting (self, g_value_get_boolean (value));
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
pp_reviewer_form_class_init (PpReviewerFormClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);

  object_class->dispose = pp_reviewer_form_dispose;
  object_class->finalize = pp_reviewer_form_finalize;
  object_class->get_property = pp_reviewer_form_get_property;
  object_class->set_property = pp_reviewer_form_set_property;

  props[PROP_REGISTRY] =
    g_param_spec_object ("registry", NULL, NULL, PP_TYPE_REGISTRY,
                         G_PARAM_READWRITE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);
  props[PROP_ACCEPTING] =
    g_param_spec_boolean ("accepting", NULL, NULL, FALSE,
                          G_PARAM_READWRITE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);
  props[PROP_OPEN] =
    g_param_spec_boolean ("open", NULL, NULL, FALSE,
                          G_PARAM_READABLE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);
  g_object_class_install_properties (object_class, N_PROPS, props);

  signals[SIGNAL_DECIDED] =
    g_signal_new ("decided", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL, NULL, NULL,
                  G_TYPE_NONE, 3, G_TYPE_STRING, G_TYPE_BOOLEAN, G_TYPE_STRING);

  gtk_widget_class_set_template_from_resource (widget_class, "/org/posprov/Station/pp-reviewer-form.ui");
  gtk_widget_class_bind_template_child (widget_class, PpReviewerForm, toggle);
  gtk_widget_class_bind_template_child (widget_class, PpReviewerForm, revealer);
  gtk_widget_class_bind_template_child (widget_class, PpReviewerForm, user_row);
  gtk_widget_class_bind_template_child (widget_class, PpReviewerForm, password_row);
  gtk_widget_class_bind_template_child (widget_class, PpReviewerForm, reason_row);
  gtk_widget_class_bind_template_child (widget_class, PpReviewerForm, error_label);
  gtk_widget_class_bind_template_child (widget_class, PpReviewerForm, reject_button);
  gtk_widget_class_bind_template_child (widget_class, PpReviewerForm, approve_button);
  gtk_widget_class_bind_template_callback (widget_class, on_toggled);
  gtk_widget_class_bind_template_callback (widget_class, on_changed);
  gtk_widget_class_bind_template_callback (widget_class, on_next);
  gtk_widget_class_bind_template_callback (widget_class, on_approve_clicked);
  gtk_widget_class_bind_template_callback (widget_class, on_reject_clicked);
}

static void
pp_reviewer_form_init (PpReviewerForm *self)
{
  gtk_widget_init_template (GTK_WIDGET (self));
  self->cancellable = g_cancellable_new ();
  sync_sensitivity (self);
}

GtkWidget *
pp_reviewer_form_new (void)
{
  return g_object_new (PP_TYPE_REVIEWER_FORM, NULL);
}
