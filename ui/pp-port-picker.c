/* SPDX-License-Identifier: GPL-3.0-or-later
 *
 * pp-port-picker.c: the list of places a terminal can be, for the install
 * wizard's connect page and every page that talks to a terminal.
 *
 * Each row carries what choosing it gives the caller: the PORT string and,
 * for a USB terminal the models file recognises, that model's serial
 * settings (its baud rate), looked up once per listing.
 */
#include "config.h"

#include <string.h>

#include <glib/gi18n.h>

#include "pp-port-list.h"
#include "pp-port-picker.h"
#include "pp-terminal-models.h"

typedef struct {
  char             *port;
  gboolean          has_settings;
  PpSerialSettings  settings;
} PortChoice;

typedef struct {
  char *port;
  char *label;
} KnownPort;

struct _PpPortPicker
{
  GtkBox        parent_instance;

  GCancellable *cancellable;
  GPtrArray    *known;       /* KnownPort* */
  gboolean      listed;      /* a listing was asked for */
  gboolean      busy;

  /* template */
  GtkListBox   *port_list;
  AdwEntryRow  *tcp_row;
  GtkLabel     *error_label;
};

G_DEFINE_FINAL_TYPE (PpPortPicker, pp_port_picker, GTK_TYPE_BOX)

enum {
  PROP_0,
  PROP_BUSY,
  N_PROPS
};

enum {
  SIGNAL_PORT_CHOSEN,
  SIGNAL_PORTS_LISTED,
  N_SIGNALS
};

static GParamSpec *props[N_PROPS];
static guint signals[N_SIGNALS];

static void
port_choice_free (gpointer data)
{
  PortChoice *choice = data;

  g_free (choice->port);
  g_free (choice);
}

static void
known_port_free (gpointer data)
{
  KnownPort *known = data;

  g_free (known->port);
  g_free (known->label);
  g_free (known);
}

static GtkWidget *
port_row_new (const char             *port,
              const char             *title,
              const char             *subtitle,
              const PpSerialSettings *settings)
{
  GtkWidget *row = adw_action_row_new ();
  g_autofree char *title_markup = g_markup_escape_text (title, -1);
  g_autofree char *subtitle_markup = g_markup_escape_text (subtitle != NULL ? subtitle : "", -1);
  PortChoice *choice = g_new0 (PortChoice, 1);

  choice->port = g_strdup (port);
  if (settings != NULL)
    {
      choice->has_settings = TRUE;
      choice->settings = *settings;
    }
  g_object_set_data_full (G_OBJECT (row), "pp-port-choice", choice, port_choice_free);
  adw_preferences_row_set_title (ADW_PREFERENCES_ROW (row), title_markup);
  adw_action_row_set_subtitle (ADW_ACTION_ROW (row), subtitle_markup);
  gtk_list_box_row_set_activatable (GTK_LIST_BOX_ROW (row), TRUE);
  return row;
}

static void
add_next_arrow (GtkWidget *row)
{
  adw_action_row_add_suffix (ADW_ACTION_ROW (row), gtk_image_new_from_icon_name ("go-next-symbolic"));
}

static void
add_known_rows (PpPortPicker *self)
{
  for (guint i = 0; i < self->known->len; i++)
    {
      KnownPort *known = g_ptr_array_index (self->known, i);
      GtkWidget *row = port_row_new (known->port, known->label != NULL ? known->label : known->port,
                                     known->label != NULL ? known->port : NULL, NULL);

      add_next_arrow (row);
      gtk_list_box_append (self->port_list, row);
    }
}

static void
on_port_row_activated (PpPortPicker  *self,
                       GtkListBoxRow *row)
{
  PortChoice *choice = g_object_get_data (G_OBJECT (row), "pp-port-choice");

  if (choice == NULL || self->busy)
    return;
  pp_port_picker_set_error (self, NULL);
  g_signal_emit (self, signals[SIGNAL_PORT_CHOSEN], 0, choice->port,
                 choice->has_settings ? &choice->settings : NULL);
}

static int
compare_ports (gconstpointer a,
               gconstpointer b)
{
  const PpPortInfo *pa = *(PpPortInfo * const *) a;
  const PpPortInfo *pb = *(PpPortInfo * const *) b;

  if ((pa->model != NULL) != (pb->model != NULL))
    return pa->model != NULL ? -1 : 1;
  return g_strcmp0 (pa->name, pb->name);
}

static void
remove_rows (PpPortPicker *self)
{
  GtkWidget *child;

  while ((child = gtk_widget_get_first_child (GTK_WIDGET (self->port_list))) != NULL)
    gtk_list_box_remove (self->port_list, child);
}

static void
show_ports (PpPortPicker *self,
            GPtrArray    *ports)
{
  g_autoptr(GPtrArray) models = NULL;

  remove_rows (self);
  add_known_rows (self);
  /* A recognised terminal goes first: it is most likely the one. */
  g_ptr_array_sort (ports, compare_ports);
  if (ports->len == 0 && self->known->len == 0)
    {
      GtkWidget *row = adw_action_row_new ();

      adw_preferences_row_set_title (ADW_PREFERENCES_ROW (row), _("No serial port found"));
      adw_action_row_set_subtitle (ADW_ACTION_ROW (row),
                                   _("Plug the terminal’s cable in, then look again, or enter a network address below."));
      gtk_list_box_row_set_activatable (GTK_LIST_BOX_ROW (row), FALSE);
      gtk_list_box_append (self->port_list, row);
    }
  for (guint i = 0; i < ports->len; i++)
    {
      PpPortInfo *info = g_ptr_array_index (ports, i);
      const PpTerminalModel *model = NULL;
      GtkWidget *row;

      /* The recognised model's serial settings (its baud rate). */
      if (info->has_usb_id && models == NULL)
        models = pp_terminal_models_load (NULL, NULL);
      if (info->has_usb_id && models != NULL)
        model = pp_terminal_models_find_usb (models, info->usb_vid, info->usb_pid);
      row = port_row_new (info->name, info->name, info->description, model != NULL ? &model->settings : NULL);
      if (info->model != NULL)
        {
          g_autofree char *text = NULL;
          GtkWidget *tag;

          /* TRANSLATORS: a port whose USB ID is a known terminal's: vendor and model. */
          text = g_strdup_printf (_("Recognised: %s %s"), info->model_vendor != NULL ? info->model_vendor : "",
                                  info->model);
          tag = gtk_label_new (text);
          gtk_widget_set_valign (tag, GTK_ALIGN_CENTER);
          gtk_widget_add_css_class (tag, "accent");
          gtk_widget_add_css_class (tag, "heading");
          adw_action_row_add_suffix (ADW_ACTION_ROW (row), tag);
          adw_action_row_set_icon_name (ADW_ACTION_ROW (row), "emblem-ok-symbolic");
        }
      add_next_arrow (row);
      gtk_list_box_append (self->port_list, row);
    }
}

static void
on_ports_listed (GObject      *source,
                 GAsyncResult *result,
                 gpointer      user_data)
{
  g_autoptr(PpPortPicker) self = user_data;
  g_autoptr(GPtrArray) ports = NULL;
  g_autoptr(GError) error = NULL;

  ports = pp_port_list_finish (result, &error);
  if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED) || g_cancellable_is_cancelled (self->cancellable))
    return;
  if (ports == NULL)
    {
      remove_rows (self);
      add_known_rows (self);
      pp_port_picker_set_error (self, error->message);
    }
  else
    show_ports (self, ports);
  g_signal_emit (self, signals[SIGNAL_PORTS_LISTED], 0);
}

static void
on_refresh_clicked (PpPortPicker *self)
{
  pp_port_picker_refresh (self);
}

static void
on_tcp_changed (PpPortPicker *self)
{
  pp_port_picker_set_error (self, NULL);
}

static void
on_tcp_activated (PpPortPicker *self)
{
  pp_port_picker_choose_address (self);
}

static void
on_map (PpPortPicker *self)
{
  if (!self->listed)
    pp_port_picker_refresh (self);
}

void
pp_port_picker_refresh (PpPortPicker *self)
{
  g_return_if_fail (PP_IS_PORT_PICKER (self));

  self->listed = TRUE;
  pp_port_list_async (self->cancellable, on_ports_listed, g_object_ref (self));
}

void
pp_port_picker_add_known_port (PpPortPicker *self,
                               const char   *port,
                               const char   *label)
{
  KnownPort *known;
  GtkWidget *row;
  GtkWidget *first;
  guint i;

  g_return_if_fail (PP_IS_PORT_PICKER (self));
  g_return_if_fail (port != NULL);

  known = g_new0 (KnownPort, 1);
  known->port = g_strdup (port);
  known->label = g_strdup (label);
  g_ptr_array_add (self->known, known);
  /* Shown now, after the known ones before it; the placeholder goes. */
  first = gtk_widget_get_first_child (GTK_WIDGET (self->port_list));
  if (first != NULL && g_object_get_data (G_OBJECT (first), "pp-port-choice") == NULL)
    gtk_list_box_remove (self->port_list, first);
  row = port_row_new (known->port, label != NULL ? label : port, label != NULL ? port : NULL, NULL);
  add_next_arrow (row);
  i = self->known->len - 1;
  gtk_list_box_insert (self->port_list, row, (int) i);
}

void
pp_port_picker_choose_address (PpPortPicker *self)
{
  g_autofree char *port = NULL;

  g_return_if_fail (PP_IS_PORT_PICKER (self));

  if (self->busy)
    return;
  port = g_strstrip (g_strdup (gtk_editable_get_text (GTK_EDITABLE (self->tcp_row))));
  if (!g_str_has_prefix (port, "tcp:") || strchr (port + 4, ':') == NULL)
    {
      pp_port_picker_set_error (self, _("Enter the terminal’s network address as tcp:HOST:PORT, for example "
                                        "tcp:192.168.1.20:7000."));
      gtk_widget_grab_focus (GTK_WIDGET (self->tcp_row));
      return;
    }
  pp_port_picker_set_error (self, NULL);
  g_signal_emit (self, signals[SIGNAL_PORT_CHOSEN], 0, port, NULL);
}

void
pp_port_picker_set_error (PpPortPicker *self,
                          const char   *message)
{
  g_return_if_fail (PP_IS_PORT_PICKER (self));

  gtk_label_set_text (self->error_label, message != NULL ? message : "");
  gtk_widget_set_visible (GTK_WIDGET (self->error_label), message != NULL && message[0] != '\0');
}

void
pp_port_picker_set_busy (PpPortPicker *self,
                         gboolean      busy)
{
  g_return_if_fail (PP_IS_PORT_PICKER (self));

  busy = !!busy;
  if (self->busy == busy)
    return;
  self->busy = busy;
  /* Only the list: an entry made insensitive while it has the focus loses
   * it without a focus-out (GTK 4.8 warns). */
  gtk_widget_set_sensitive (GTK_WIDGET (self->port_list), !busy);
  g_object_notify_by_pspec (G_OBJECT (self), props[PROP_BUSY]);
}

gboolean
pp_port_picker_get_busy (PpPortPicker *self)
{
  g_return_val_if_fail (PP_IS_PORT_PICKER (self), FALSE);
  return self->busy;
}

GtkWidget *
pp_port_picker_get_focus_target (PpPortPicker *self)
{
  GtkWidget *row;

  g_return_val_if_fail (PP_IS_PORT_PICKER (self), NULL);

  row = gtk_widget_get_first_child (GTK_WIDGET (self->port_list));
  return row != NULL && gtk_list_box_row_get_activatable (GTK_LIST_BOX_ROW (row)) ? row : GTK_WIDGET (self->tcp_row);
}

static void
pp_port_picker_dispose (GObject *object)
{
  PpPortPicker *self = PP_PORT_PICKER (object);

  g_cancellable_cancel (self->cancellable);
  gtk_widget_dispose_template (GTK_WIDGET (self), PP_TYPE_PORT_PICKER);
  G_OBJECT_CLASS (pp_port_picker_parent_class)->dispose (object);
}

static void
pp_port_picker_finalize (GObject *object)
{
  PpPortPicker *self = PP_PORT_PICKER (object);

  g_clear_object (&self->cancellable);
  g_clear_pointer (&self->known, g_ptr_array_unref);
  G_OBJECT_CLASS (pp_port_picker_parent_class)->finalize (object);
}

static void
pp_port_picker_get_property (GObject    *object,
                             guint       prop_id,
                             GValue     *value,
                             GParamSpec *pspec)
{
  PpPortPicker *self = PP_PORT_PICKER (object);

  switch (prop_id)
    {
    case PROP_BUSY:
      g_value_set_boolean (value, self->busy);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
pp_port_picker_set_property (GObject      *object,
                             guint         prop_id,
                             const GValue *value,
                             GParamSpec   *pspec)
{
  PpPortPicker *self = PP_PORT_PICKER (object);

  switch (prop_id)
    {
    case PROP_BUSY:
      pp_port_picker_set_busy (self, g_value_get_boolean (value));
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
pp_port_picker_class_init (PpPortPickerClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);

  object_class->dispose = pp_port_picker_dispose;
  object_class->finalize = pp_port_picker_finalize;
  object_class->get_property = pp_port_picker_get_property;
  object_class->set_property = pp_port_picker_set_property;

  props[PROP_BUSY] =
    g_param_spec_boolean ("busy", NULL, NULL, FALSE,
                          G_PARAM_READWRITE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);
  g_object_class_install_properties (object_class, N_PROPS, props);

  signals[SIGNAL_PORT_CHOSEN] =
    g_signal_new ("port-chosen", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL, NULL, NULL,
                  G_TYPE_NONE, 2, G_TYPE_STRING, G_TYPE_POINTER);
  signals[SIGNAL_PORTS_LISTED] =
    g_signal_new ("ports-listed", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL, NULL, NULL,
                  G_TYPE_NONE, 0);

  gtk_widget_class_set_template_from_resource (widget_class, "/org/posprov/Station/pp-port-picker.ui");
  gtk_widget_class_bind_template_child (widget_class, PpPortPicker, port_list);
  gtk_widget_class_bind_template_child (widget_class, PpPortPicker, tcp_row);
  gtk_widget_class_bind_template_child (widget_class, PpPortPicker, error_label);
  gtk_widget_class_bind_template_callback (widget_class, on_port_row_activated);
  gtk_widget_class_bind_template_callback (widget_class, on_refresh_clicked);
  gtk_widget_class_bind_template_callback (widget_class, on_tcp_activated);
  gtk_widget_class_bind_template_callback (widget_class, on_tcp_changed);
}

static void
pp_port_picker_init (PpPortPicker *self)
{
  gtk_widget_init_template (GTK_WIDGET (self));
  self->cancellable = g_cancellable_new ();
  self->known = g_ptr_array_new_with_free_func (known_port_free);
  g_signal_connect (self, "map", G_CALLBACK (on_map), NULL);
}

GtkWidget *
pp_port_picker_new (void)
{
  return g_object_new (PP_TYPE_PORT_PICKER, NULL);
}
