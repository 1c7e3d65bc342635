/* SPDX-License-Identifier: GPL-3.0-or-later
 *
 * pp-approvals-page.c: the supervisor's screen.
 *
 * Each pending request is a card of exactly what the registry will release
 * a key for (serial, model, merchant, MID/TID, program, key type, the
 * terminal's certificate, who asked and when), with a reason to type and
 * Approve / Reject.  Cards stay while the list is refreshed, so a reason
 * being typed is never lost; a decided request moves to the history.
 *
 * The page checks nothing the registry checks: a requester approving their
 * own request, or a user without the reviewer role, is refused by the
 * registry and its message shows on the card.
 *
 * Watching: while mapped, the change feed (pp_registry_list_changes) is
 * polled with a backoff from 0.25 s to 4 s; an approval that changed lists
 * the approvals again.  Unmapping or disposing cancels the call in flight
 * and the timer.
 */
#include "config.h"

#include <glib/gi18n.h>

#include "pp-approvals-page.h"

#define POLL_MIN_MS 250
#define POLL_MAX_MS 4000
#define HISTORY_LIMIT 50

typedef struct {
  char        *uuid;
  GtkWidget   *group;
  AdwEntryRow *reason_row;
  GtkWidget   *approve_button;
  GtkWidget   *reject_button;
  GtkLabel    *error_label;
  gboolean     deciding;
} Card;

struct _PpApprovalsPage
{
  PpSessionPage   parent_instance;

  GCancellable *cancellable;       /* decisions; cancelled in dispose */
  GCancellable *watch_cancellable; /* the watch; cancelled on unmap */
  guint         poll_id;
  guint         poll_ms;
  gint64        cursor;
  gboolean      listing;
  gboolean      list_again;
  GHashTable   *cards;             /* uuid -> Card */
  guint         n_decided;

  AdwToastOverlay *toast_overlay;  /* the bin's child */

  /* template */
  GtkLabel     *intro_label;
  GtkLabel     *error_label;
  GtkWidget    *empty_page;
  GtkBox       *pending_box;
  GtkWidget    *history_group;
  GtkListBox   *history_list;
};

G_DEFINE_FINAL_TYPE (PpApprovalsPage, pp_approvals_page, PP_TYPE_SESSION_PAGE)

#define registry_of(self) pp_session_page_get_registry (PP_SESSION_PAGE (self))
#define user_of(self)     pp_session_page_get_user (PP_SESSION_PAGE (self))
#define role_of(self)     pp_session_page_get_role (PP_SESSION_PAGE (self))

enum {
  PROP_0,
  PROP_N_PENDING,
  PROP_N_DECIDED,
  N_PROPS
};

static GParamSpec *props[N_PROPS];

static void schedule_poll (PpApprovalsPage *self);

static void
card_free (Card *card)
{
  g_free (card->uuid);
  g_free (card);
}

static char *
format_time (gint64 unix_seconds)
{
  g_autoptr(GDateTime) time = unix_seconds > 0 ? g_date_time_new_from_unix_local (unix_seconds) : NULL;

  /* TRANSLATORS: when a request was made or decided (g_date_time_format). */
  return time != NULL ? g_date_time_format (time, _("%Y-%m-%d %H:%M")) : g_strdup ("—");
}

static const char *
state_label (PpRegistryApprovalState state)
{
  switch (state)
    {
    case PP_REGISTRY_APPROVAL_PENDING:
      return _("Pending");
    case PP_REGISTRY_APPROVAL_APPROVED:
      return _("Approved");
    case PP_REGISTRY_APPROVAL_REJECTED:
      return _("Rejected");
    case PP_REGISTRY_APPROVAL_WITHDRAWN:
      return _("Withdrawn");
    case PP_REGISTRY_APPROVAL_VOID:
      return _("Void");
    default:
      return "";
    }
}

static void
add_info_row (GtkWidget  *list,
              const char *title,
              const char *value)
{
  GtkWidget *row = adw_action_row_new ();
  g_autofree char *escaped = g_markup_escape_text (value != NULL && value[0] != '\0' ? value : "—", -1);

  adw_preferences_row_set_title (ADW_PREFERENCES_ROW (row), title);
  adw_action_row_set_subtitle (ADW_ACTION_ROW (row), escaped);
  gtk_widget_add_css_class (row, "property");
  gtk_list_box_append (GTK_LIST_BOX (list), row);
}

static GtkWidget *
boxed_list_new (void)
{
  GtkWidget *list = gtk_list_box_new ();

  gtk_list_box_set_selection_mode (GTK_LIST_BOX (list), GTK_SELECTION_NONE);
  gtk_widget_set_valign (list, GTK_ALIGN_START);
  gtk_widget_add_css_class (list, "boxed-list");
  return list;
}

/* ---- deciding ---- */

typedef struct {
  PpApprovalsPage *self;
  char            *uuid;
  gboolean         approve;
} Decision;

static void
decision_free (Decision *decision)
{
  g_object_unref (decision->self);
  g_free (decision->uuid);
  g_free (decision);
}

static void
update_card (PpApprovalsPage *self,
             Card            *card)
{
  g_autofree char *reason = g_strstrip (g_strdup (gtk_editable_get_text (GTK_EDITABLE (card->reason_row))));
  gboolean ready = reason[0] != '\0' && !card->deciding;

  gtk_widget_set_sensitive (card->approve_button, ready);
  gtk_widget_set_sensitive (card->reject_button, ready);
}

static void
on_decided (GObject      *source,
            GAsyncResult *result,
            gpointer      user_data)
{
  Decision *decision = user_data;
  PpApprovalsPage *self = decision->self;
  g_autoptr(PpRegistryApproval) approval = NULL;
  g_autoptr(GError) error = NULL;
  Card *card;

  approval = pp_registry_decide_approval_finish (PP_REGISTRY (source), result, &error);
  if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED) || g_cancellable_is_cancelled (self->cancellable))
    {
      decision_free (decision);
      return;
    }
  card = g_hash_table_lookup (self->cards, decision->uuid);
  if (card != NULL)
    {
      card->deciding = FALSE;
      if (approval == NULL)
        {
          /* The registry's refusal, as it says it. */
          gtk_label_set_text (card->error_label, error->message);
          gtk_widget_set_visible (GTK_WIDGET (card->error_label), TRUE);
        }
      update_card (self, card);
    }
  if (approval != NULL)
    {
      g_autofree char *text = NULL;

      if (approval->state == PP_REGISTRY_APPROVAL_APPROVED)
        /* TRANSLATORS: a toast; %s is the terminal's serial number. */
        text = g_strdup_printf (_("Approved the install of %s"), approval->serial);
      else
        /* TRANSLATORS: a toast; %s is the terminal's serial number. */
        text = g_strdup_printf (_("Rejected the install of %s"), approval->serial);
      adw_toast_overlay_add_toast (self->toast_overlay, adw_toast_new (text));
      pp_approvals_page_reload (self);
    }
  decision_free (decision);
}

static void
decide (PpApprovalsPage *self,
        Card            *card,
        gboolean         approve)
{
  g_autofree char *reason = g_strstrip (g_strdup (gtk_editable_get_text (GTK_EDITABLE (card->reason_row))));
  g_autofree char *key = g_uuid_string_random ();
  Decision *decision;

  if (reason[0] == '\0' || card->deciding)
    return;
  card->deciding = TRUE;
  gtk_widget_set_visible (GTK_WIDGET (card->error_label), FALSE);
  update_card (self, card);
  decision = g_new0 (Decision, 1);
  decision->self = g_object_ref (self);
  decision->uuid = g_strdup (card->uuid);
  decision->approve = approve;
  pp_registry_decide_approval_async (registry_of (self), card->uuid, approve, reason, user_of (self), key,
                                     self->cancellable, on_decided, decision);
}

static Card *
card_of (PpApprovalsPage *self,
         GtkWidget       *widget)
{
  return g_hash_table_lookup (self->cards, g_object_get_data (G_OBJECT (widget), "approval-uuid"));
}

static void
on_approve_clicked (GtkWidget       *button,
                    PpApprovalsPage *self)
{
  Card *card = card_of (self, button);

  if (card != NULL)
    decide (self, card, TRUE);
}

static void
on_reject_clicked (GtkWidget       *button,
                   PpApprovalsPage *self)
{
  Card *card = card_of (self, button);

  if (card != NULL)
    decide (self, card, FALSE);
}

static void
on_reason_changed (GtkWidget       *row,
                   PpApprovalsPage *self)
{
  Card *card = card_of (self, row);

  if (card != NULL)
    {
      gtk_widget_set_visible (GTK_WIDGET (card->error_label), FALSE);
      update_card (self, card);
    }
}

/* ---- the cards ---- */

static Card *
card_new (PpApprovalsPage          *self,
          const PpRegistryApproval *approval)
{
  Card *card = g_new0 (Card, 1);
  AdwPreferencesGroup *group = ADW_PREFERENCES_GROUP (adw_preferences_group_new ());
  GtkWidget *buttons = gtk_box_new (GTK_ORIENTATION_HORIZONTAL, 12);
  GtkWidget *box = gtk_box_new (GTK_ORIENTATION_VERTICAL, 12);
  GtkWidget *columns, *left, *right, *reason_list;
  GtkWidget *label;
  g_autofree char *title = NULL;
  g_autofree char *description = NULL;
  g_autofree char *requested = format_time (approval->requested_at);
  g_autofree char *ids = g_strdup_printf ("%s / %s", approval->mid != NULL ? approval->mid : "—",
                                          approval->tid != NULL ? approval->tid : "—");
  g_autofree char *merchant = g_strdup_printf ("%s (#%" G_GINT64_FORMAT ")",
                                               approval->merchant_name != NULL ? approval->merchant_name : "",
                                               approval->merchant_id);

  card->uuid = g_strdup (approval->uuid);
  /* TRANSLATORS: a request's card title: the terminal's serial and model. */
  title = g_markup_printf_escaped (_("Install %s (%s)"), approval->serial,
                                   approval->model != NULL ? approval->model : "");
  /* TRANSLATORS: who asked and when. */
  description = g_markup_printf_escaped (_("Requested by %s at %s"), approval->requester, requested);
  adw_preferences_group_set_title (group, title);
  adw_preferences_group_set_description (group, description);
  /* Two columns, so that a request and its decision fit on a laptop's screen. */
  columns = gtk_box_new (GTK_ORIENTATION_HORIZONTAL, 18);
  gtk_box_set_homogeneous (GTK_BOX (columns), TRUE);
  left = boxed_list_new ();
  right = boxed_list_new ();
  add_info_row (left, _("Merchant"), merchant);
  add_info_row (left, _("MID / TID"), ids);
  add_info_row (left, _("Program"), approval->program_version);
  add_info_row (right, _("Key Type"), approval->key_type);
  add_info_row (right, _("Terminal Certificate (SHA-256)"), approval->cert_fingerprint);
  gtk_box_append (GTK_BOX (columns), left);
  gtk_box_append (GTK_BOX (columns), right);
  adw_preferences_group_add (group, columns);

  card->reason_row = ADW_ENTRY_ROW (adw_entry_row_new ());
  adw_preferences_row_set_title (ADW_PREFERENCES_ROW (card->reason_row), _("_Reason (required)"));
  adw_preferences_row_set_use_underline (ADW_PREFERENCES_ROW (card->reason_row), TRUE);
  g_object_set_data_full (G_OBJECT (card->reason_row), "approval-uuid", g_strdup (card->uuid), g_free);
  g_signal_connect (card->reason_row, "changed", G_CALLBACK (on_reason_changed), self);
  reason_list = boxed_list_new ();
  gtk_widget_set_hexpand (reason_list, TRUE);
  gtk_widget_set_valign (reason_list, GTK_ALIGN_CENTER);
  gtk_list_box_append (GTK_LIST_BOX (reason_list), GTK_WIDGET (card->reason_row));

  card->reject_button = gtk_button_new_with_mnemonic (_("Re_ject"));
  gtk_widget_add_css_class (card->reject_button, "destructive-action");
  gtk_widget_add_css_class (card->reject_button, "pill");
  g_object_set_data_full (G_OBJECT (card->reject_button), "approval-uuid", g_strdup (card->uuid), g_free);
  g_signal_connect (card->reject_button, "clicked", G_CALLBACK (on_reject_clicked), self);
  card->approve_button = gtk_button_new_with_mnemonic (_("_Approve"));
  gtk_widget_add_css_class (card->approve_button, "suggested-action");
  gtk_widget_add_css_class (card->approve_button, "pill");
  g_object_set_data_full (G_OBJECT (card->approve_button), "approval-uuid", g_strdup (card->uuid), g_free);
  g_signal_connect (card->approve_button, "clicked", G_CALLBACK (on_approve_clicked), self);
  gtk_widget_set_valign (card->reject_button, GTK_ALIGN_CENTER);
  gtk_widget_set_valign (card->approve_button, GTK_ALIGN_CENTER);
  gtk_box_append (GTK_BOX (buttons), reason_list);
  gtk_box_append (GTK_BOX (buttons), card->reject_button);
  gtk_box_append (GTK_BOX (buttons), card->approve_button);

  label = gtk_label_new (NULL);
  gtk_label_set_wrap (GTK_LABEL (label), TRUE);
  gtk_label_set_xalign (GTK_LABEL (label), 0);
  gtk_label_set_selectable (GTK_LABEL (label), TRUE);
  gtk_widget_add_css_class (label, "error");
  gtk_widget_set_visible (label, FALSE);
  card->error_label = GTK_LABEL (label);

  gtk_box_append (GTK_BOX (box), GTK_WIDGET (group));
  gtk_box_append (GTK_BOX (box), buttons);
  gtk_box_append (GTK_BOX (box), label);
  card->group = box;
  update_card (self, card);
  return card;
}

static GtkWidget *
history_row_new (const PpRegistryApproval *approval)
{
  GtkWidget *row = adw_action_row_new ();
  g_autofree char *decided = format_time (approval->decided_at);
  g_autofree char *title = NULL;
  g_autofree char *subtitle = NULL;

  /* TRANSLATORS: a decided request: serial, model, and what became of it. */
  title = g_markup_printf_escaped (_("%s (%s): %s"), approval->serial, approval->model != NULL ? approval->model : "",
                                   state_label (approval->state));
  /* TRANSLATORS: a decided request: who decided, when, why, and who asked. */
  subtitle = g_markup_printf_escaped (_("%s at %s: “%s”. Requested by %s."),
                                      approval->approver != NULL ? approval->approver : "—", decided,
                                      approval->reason != NULL ? approval->reason :
                                        (approval->void_reason != NULL ? approval->void_reason : ""),
                                      approval->requester);
  adw_preferences_row_set_title (ADW_PREFERENCES_ROW (row), title);
  adw_action_row_set_subtitle (ADW_ACTION_ROW (row), subtitle);
  adw_action_row_set_icon_name (ADW_ACTION_ROW (row),
                                approval->state == PP_REGISTRY_APPROVAL_APPROVED ? "emblem-ok-symbolic"
                                                                                 : "action-unavailable-symbolic");
  return row;
}

static void
show_approvals (PpApprovalsPage *self,
                GPtrArray       *approvals)
{
  g_autoptr(GHashTable) seen = g_hash_table_new (g_str_hash, g_str_equal);
  GHashTableIter iter;
  gpointer key, value;
  GtkWidget *child;
  guint n_history = 0;

  for (guint i = 0; i < approvals->len; i++)
    {
      PpRegistryApproval *approval = g_ptr_array_index (approvals, i);
      Card *card;

      if (approval->state != PP_REGISTRY_APPROVAL_PENDING)
        continue;
      g_hash_table_add (seen, approval->uuid);
      if (g_hash_table_contains (self->cards, approval->uuid))
        continue;
      /* Oldest first: a new one goes below the ones already waiting. */
      card = card_new (self, approval);
      gtk_box_append (self->pending_box, card->group);
      g_hash_table_insert (self->cards, card->uuid, card);
    }
  g_hash_table_iter_init (&iter, self->cards);
  while (g_hash_table_iter_next (&iter, &key, &value))
    if (!g_hash_table_contains (seen, key))
      {
        Card *card = value;

        gtk_box_remove (self->pending_box, card->group);
        g_hash_table_iter_remove (&iter);
      }

  while ((child = gtk_widget_get_first_child (GTK_WIDGET (self->history_list))) != NULL)
    gtk_list_box_remove (self->history_list, child);
  /* The latest decisions first. */
  for (guint i = approvals->len; i-- > 0 && n_history < HISTORY_LIMIT;)
    {
      PpRegistryApproval *approval = g_ptr_array_index (approvals, i);

      if (approval->state == PP_REGISTRY_APPROVAL_PENDING)
        continue;
      gtk_list_box_append (self->history_list, history_row_new (approval));
      n_history++;
    }
  gtk_widget_set_visible (self->history_group, n_history > 0);
  gtk_widget_set_visible (self->empty_page, g_hash_table_size (self->cards) == 0);
  if (n_history != self->n_decided)
    {
      self->n_decided = n_history;
      g_object_notify_by_pspec (G_OBJECT (self), props[PROP_N_DECIDED]);
    }
  g_object_notify_by_pspec (G_OBJECT (self), props[PROP_N_PENDING]);
}

/* ---- watching ---- */

static void
on_approvals_listed (GObject      *source,
                     GAsyncResult *result,
                     gpointer      user_data)
{
  g_autoptr(PpApprovalsPage) self = user_data;
  g_autoptr(GPtrArray) approvals = NULL;
  g_autoptr(GError) error = NULL;

  approvals = pp_registry_list_approvals_finish (PP_REGISTRY (source), result, &error);
  self->listing = FALSE;
  if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED) || g_cancellable_is_cancelled (self->cancellable))
    return;
  gtk_widget_set_visible (GTK_WIDGET (self->error_label), approvals == NULL);
  if (approvals == NULL)
    {
      gtk_label_set_text (self->error_label, error->message);
      return;
    }
  show_approvals (self, approvals);
  if (self->list_again)
    pp_approvals_page_reload (self);
}

void
pp_approvals_page_reload (PpApprovalsPage *self)
{
  g_return_if_fail (PP_IS_APPROVALS_PAGE (self));

  if (self->listing)
    {
      self->list_again = TRUE;
      return;
    }
  self->listing = TRUE;
  self->list_again = FALSE;
  pp_registry_list_approvals_async (registry_of (self), FALSE, self->cancellable, on_approvals_listed,
                                    g_object_ref (self));
}

static void
on_changes_listed (GObject      *source,
                   GAsyncResult *result,
                   gpointer      user_data)
{
  g_autoptr(PpApprovalsPage) self = user_data;
  g_autoptr(GPtrArray) changes = NULL;
  g_autoptr(GError) error = NULL;
  gboolean approvals_changed = FALSE;

  changes = pp_registry_list_changes_finish (PP_REGISTRY (source), result, &self->cursor, &error);
  /* Unmapped (the watch cancelled and replaced) or disposed: nothing to do. */
  if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED) || self->watch_cancellable == NULL ||
      g_cancellable_is_cancelled (self->watch_cancellable))
    return;
  if (changes == NULL)
    {
      /* The registry is away: say so, and keep trying more slowly. */
      gtk_label_set_text (self->error_label, error->message);
      gtk_widget_set_visible (GTK_WIDGET (self->error_label), TRUE);
      self->poll_ms = MIN (self->poll_ms * 2, POLL_MAX_MS);
      schedule_poll (self);
      return;
    }
  for (guint i = 0; i < changes->len; i++)
    {
      PpChange *change = g_ptr_array_index (changes, i);

      if (g_strcmp0 (change->kind, "approval") == 0)
        approvals_changed = TRUE;
    }
  if (approvals_changed)
    {
      self->poll_ms = POLL_MIN_MS;
      pp_approvals_page_reload (self);
    }
  else
    self->poll_ms = MIN (self->poll_ms * 2, POLL_MAX_MS);
  schedule_poll (self);
}

static gboolean
poll_changes (gpointer user_data)
{
  PpApprovalsPage *self = user_data;

  self->poll_id = 0;
  pp_registry_list_changes_async (registry_of (self), self->cursor, 0, self->watch_cancellable,
                                  on_changes_listed, g_object_ref (self));
  return G_SOURCE_REMOVE;
}

static void
schedule_poll (PpApprovalsPage *self)
{
  if (self->watch_cancellable == NULL || g_cancellable_is_cancelled (self->watch_cancellable))
    return;
  g_clear_handle_id (&self->poll_id, g_source_remove);
  self->poll_id = g_timeout_add (self->poll_ms, poll_changes, self);
}

static void
stop_watch (PpApprovalsPage *self)
{
  g_clear_handle_id (&self->poll_id, g_source_remove);
  if (self->watch_cancellable != NULL)
    g_cancellable_cancel (self->watch_cancellable);
  g_clear_object (&self->watch_cancellable);
}

static void
pp_approvals_page_map (GtkWidget *widget)
{
  PpApprovalsPage *self = PP_APPROVALS_PAGE (widget);

  GTK_WIDGET_CLASS (pp_approvals_page_parent_class)->map (widget);
  stop_watch (self);
  self->watch_cancellable = g_cancellable_new ();
  self->poll_ms = POLL_MIN_MS;
  pp_approvals_page_reload (self);
  /* From the feed's start once, to learn its cursor; then only what is new. */
  poll_changes (self);
}

static void
pp_approvals_page_unmap (GtkWidget *widget)
{
  stop_watch (PP_APPROVALS_PAGE (widget));
  GTK_WIDGET_CLASS (pp_approvals_page_parent_class)->unmap (widget);
}

/* ---- the class ---- */

guint
pp_approvals_page_get_n_pending (PpApprovalsPage *self)
{
  g_return_val_if_fail (PP_IS_APPROVALS_PAGE (self), 0);
  return g_hash_table_size (self->cards);
}

guint
pp_approvals_page_get_n_decided (PpApprovalsPage *self)
{
  g_return_val_if_fail (PP_IS_APPROVALS_PAGE (self), 0);
  return self->n_decided;
}

static void
pp_approvals_page_constructed (GObject *object)
{
  PpApprovalsPage *self = PP_APPROVALS_PAGE (object);

  G_OBJECT_CLASS (pp_approvals_page_parent_class)->constructed (object);

  if (role_of (self) == PP_USER_ROLE_REVIEWER)
    gtk_label_set_text (self->intro_label,
                        _("Check each request against the terminal and the merchant’s papers before you "
                          "approve it: the approval releases the terminal’s key. A reason is required."));
  else
    gtk_label_set_text (self->intro_label,
                        _("Requests are decided by a reviewer other than the one who asked; the registry "
                          "refuses any other decision."));
}

static void
pp_approvals_page_dispose (GObject *object)
{
  PpApprovalsPage *self = PP_APPROVALS_PAGE (object);

  stop_watch (self);
  g_cancellable_cancel (self->cancellable);
  g_clear_pointer (&self->cards, g_hash_table_unref);
  gtk_widget_dispose_template (GTK_WIDGET (self), PP_TYPE_APPROVALS_PAGE);
  G_OBJECT_CLASS (pp_approvals_page_parent_class)->dispose (object);
}

static void
pp_approvals_page_finalize (GObject *object)
{
  PpApprovalsPage *self = PP_APPROVALS_PAGE (object);

  g_clear_object (&self->cancellable);
  G_OBJECT_CLASS (pp_approvals_page_parent_class)->finalize (object);
}

static void
pp_approvals_page_get_property (GObject    *object,
                                guint       prop_id,
                                GValue     *value,
                                GParamSpec *pspec)
{
  PpApprovalsPage *self = PP_APPROVALS_PAGE (object);

  switch (prop_id)
    {
    case PROP_N_PENDING:
      g_value_set_uint (value, self->cards != NULL ? g_hash_table_size (self->cards) : 0);
      break;
    case PROP_N_DECIDED:
      g_value_set_uint (value, self->n_decided);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
pp_approvals_page_class_init (PpApprovalsPageClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);

  object_class->constructed = pp_approvals_page_constructed;
  object_class->dispose = pp_approvals_page_dispose;
  object_class->finalize = pp_approvals_page_finalize;
  object_class->get_property = pp_approvals_page_get_property;
  widget_class->map = pp_approvals_page_map;
  widget_class->unmap = pp_approvals_page_unmap;

  props[PROP_N_PENDING] =
    g_param_spec_uint ("n-pending", NULL, NULL, 0, G_MAXUINT, 0,
                       G_PARAM_READABLE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);
  props[PROP_N_DECIDED] =
    g_param_spec_uint ("n-decided", NULL, NULL, 0, G_MAXUINT, 0,
                       G_PARAM_READABLE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);
  g_object_class_install_properties (object_class, N_PROPS, props);

  gtk_widget_class_set_template_from_resource (widget_class, "/org/posprov/Station/pp-approvals-page.ui");
  gtk_widget_class_bind_template_child (widget_class, PpApprovalsPage, intro_label);
  gtk_widget_class_bind_template_child (widget_class, PpApprovalsPage, error_label);
  gtk_widget_class_bind_template_child (widget_class, PpApprovalsPage, empty_page);
  gtk_widget_class_bind_template_child (widget_class, PpApprovalsPage, pending_box);
  gtk_widget_class_bind_template_child (widget_class, PpApprovalsPage, history_group);
  gtk_widget_class_bind_template_child (widget_class, PpApprovalsPage, history_list);
}

static void
pp_approvals_page_init (PpApprovalsPage *self)
{
  gtk_widget_init_template (GTK_WIDGET (self));
  /* The bin's child is not bound: dispose_template would unparent it behind AdwBin's back. */
  self->toast_overlay = ADW_TOAST_OVERLAY (adw_bin_get_child (ADW_BIN (self)));
  self->cancellable = g_cancellable_new ();
  self->cards = g_hash_table_new_full (g_str_hash, g_str_equal, NULL, (GDestroyNotify) card_free);
  self->poll_ms = POLL_MIN_MS;
  gtk_widget_set_visible (self->history_group, FALSE);
}

GtkWidget *
pp_approvals_page_new (PpRegistry *registry,
                       const char *user,
                       PpUserRole  role)
{
  g_return_val_if_fail (PP_IS_REGISTRY (registry), NULL);
  g_return_val_if_fail (user != NULL, NULL);

  return g_object_new (PP_TYPE_APPROVALS_PAGE, "registry", registry, "user", user, "role", (int) role, NULL);
}

GtkWindow *
pp_approvals_page_open_window (GtkWindow  *parent,
                               PpRegistry *registry,
                               const char *user,
                               PpUserRole  role)
{
  g_return_val_if_fail (PP_IS_REGISTRY (registry), NULL);
  g_return_val_if_fail (user != NULL, NULL);

  return pp_session_page_open_window (PP_SESSION_PAGE (pp_approvals_page_new (registry, user, role)), parent,
                                      _("Approval Requests"));
}
