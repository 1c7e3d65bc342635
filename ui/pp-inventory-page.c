/* SPDX-License-Identifier: GPL-3.0-or-later
 *
 * pp-inventory-page.c: search, filter and a column view over the register.
 *
 * The column view only binds the rows on screen and PpTerminalListModel only
 * fetches the pages those rows live in, from the PpRegistry and never on the
 * main thread, which keeps the page smooth on a register of 100 000
 * terminals; a row whose page is on its way shows a dimmed “Loading…”.
 */
#include "config.h"

#include <locale.h>

#include <glib/gi18n.h>

#include "pp-inventory-page.h"
#include "pp-scan.h"

struct _PpInventoryPage
{
  AdwBin               parent_instance;

  PpRegistry          *registry;
  PpTerminalListModel *model;
  GtkSingleSelection  *selection;  /* the column view's; its model set once painted */
  PpTerminalState      state_filter;
  gboolean             painted;    /* the page has been on screen once */
  GdkFrameClock       *clock;      /* while waiting for that */
  gulong               after_paint_id;

  /* template */
  GtkWidget           *toolbar;
  GtkSearchEntry      *search_entry;
  GtkDropDown         *state_dropdown;
  GtkLabel            *count_label;
  GtkStack            *stack;
  GtkColumnView       *column_view;
  AdwStatusPage       *empty_page;
  AdwStatusPage       *error_page;
};

G_DEFINE_FINAL_TYPE (PpInventoryPage, pp_inventory_page, ADW_TYPE_BIN)

enum {
  PROP_0,
  PROP_REGISTRY,
  PROP_STATE_FILTER,
  N_PROPS
};

static GParamSpec *props[N_PROPS];

typedef char *(*CellText) (PpTerminal *terminal);

typedef struct
{
  const char *title;
  int         fixed_width;  /* -1: natural */
  gboolean    expand;
  float       xalign;
  const char *css_class;    /* nullable */
  CellText    text;         /* NULL: the state pill */
} Column;

static char *
cell_serial (PpTerminal *terminal)
{
  return g_strdup (pp_terminal_get_serial (terminal));
}

static char *
cell_vendor (PpTerminal *terminal)
{
  return g_strdup (pp_terminal_get_vendor (terminal));
}

static char *
cell_model (PpTerminal *terminal)
{
  return g_strdup (pp_terminal_get_model (terminal));
}

static char *
cell_mid (PpTerminal *terminal)
{
  return g_strdup (pp_terminal_get_mid (terminal));
}

static char *
cell_tid (PpTerminal *terminal)
{
  return g_strdup (pp_terminal_get_tid (terminal));
}

static char *
cell_program_version (PpTerminal *terminal)
{
  return g_strdup (pp_terminal_get_program_version (terminal));
}

static char *
cell_updated (PpTerminal *terminal)
{
  g_autoptr(GDateTime) when = NULL;
  gint64 updated_at = pp_terminal_get_updated_at (terminal);

  if (updated_at <= 0)
    return NULL;
  when = g_date_time_new_from_unix_local (updated_at);
  if (when == NULL)
    return NULL;
  /* ISO order reads the same in every language and sorts by eye. */
  return g_date_time_format (when, "%Y-%m-%d %H:%M");
}

/* Order and sizes of the register's columns. MID and TID are fixed-length
 * identifiers, not amounts: they start under their (start-aligned) titles. */
static const Column columns[] = {
  { N_("Serial"),          170, FALSE, 0.0f, "serial",  cell_serial },
  { N_("Vendor"),          120, FALSE, 0.0f, NULL,      cell_vendor },
  { N_("Model"),           110, FALSE, 0.0f, NULL,      cell_model },
  { N_("State"),           140, FALSE, 0.0f, NULL,      NULL },
  { N_("MID"),             170, FALSE, 0.0f, "numeric", cell_mid },
  { N_("TID"),             100, FALSE, 0.0f, "numeric", cell_tid },
  { N_("Program version"), 140, FALSE, 0.0f, "numeric", cell_program_version },
  { N_("Updated"),         140, TRUE,  0.0f, "numeric", cell_updated },
};

/* The full text of a cell cut short by its column. Asked for only when the
 * pointer rests on the cell: setting a tooltip text on every bind makes GTK
 * look for the pointer (a round trip to the X server) once per cell,
 * hundreds of times a frame while scrolling. */
static gboolean
on_cell_query_tooltip (GtkWidget  *widget,
                       int         x,
                       int         y,
                       gboolean    keyboard,
                       GtkTooltip *tooltip,
                       gpointer    data)
{
  GtkLabel *label = GTK_LABEL (widget);

  if (!pango_layout_is_ellipsized (gtk_label_get_layout (label)))
    return FALSE;
  gtk_tooltip_set_text (tooltip, gtk_label_get_text (label));
  return TRUE;
}

static void
cell_setup (GtkSignalListItemFactory *factory,
            GtkListItem              *item,
            const Column             *column)
{
  GtkWidget *label = gtk_label_new (NULL);

  if (column->text == NULL)
    {
      /* The pill hugs its text instead of filling the cell. */
      gtk_widget_set_halign (label, GTK_ALIGN_START);
    }
  else
    {
      gtk_label_set_xalign (GTK_LABEL (label), column->xalign);
      gtk_label_set_ellipsize (GTK_LABEL (label), PANGO_ELLIPSIZE_END);
      if (column->css_class != NULL)
        gtk_widget_add_css_class (label, column->css_class);
      gtk_widget_set_has_tooltip (label, TRUE);
      g_signal_connect (label, "query-tooltip", G_CALLBACK (on_cell_query_tooltip), NULL);
    }
  gtk_list_item_set_child (item, label);
}

static void
cell_bind (GtkSignalListItemFactory *factory,
           GtkListItem              *item,
           const Column             *column)
{
  GtkLabel *label = GTK_LABEL (gtk_list_item_get_child (item));
  PpTerminal *terminal = gtk_list_item_get_item (item);
  g_autofree char *text = NULL;

  /* A row whose page has not arrived: the serial column says so. */
  if (terminal == NULL || pp_terminal_list_model_is_placeholder (terminal))
    {
      gtk_label_set_text (label, column->text == cell_serial ? _("Loading…") : "");
      if (column->text == NULL)
        {
          /* An empty pill: the row is as tall as it will be with its
           * page, or the list jumps when the page arrives. */
          const char *classes[] = { "state-pill", NULL };

          gtk_widget_set_css_classes (GTK_WIDGET (label), classes);
        }
      else
        gtk_widget_add_css_class (GTK_WIDGET (label), "dim-label");
      return;
    }

  if (column->text == NULL)
    {
      PpTerminalState state = pp_terminal_get_state (terminal);
      const char *classes[] = { "state-pill", pp_terminal_state_to_string (state), NULL };

      gtk_label_set_text (label, pp_terminal_state_get_label (state));
      gtk_widget_set_css_classes (GTK_WIDGET (label), classes);
      return;
    }

  text = column->text (terminal);
  if (text == NULL || text[0] == '\0')
    {
      /* A dash says “not set yet” where a blank cell looks like a glitch. */
      gtk_label_set_text (label, "—");
      gtk_widget_add_css_class (GTK_WIDGET (label), "dim-label");
      return;
    }
  gtk_label_set_text (label, text);
  gtk_widget_remove_css_class (GTK_WIDGET (label), "dim-label");
}

static void
add_columns (PpInventoryPage *self)
{
  for (guint i = 0; i < G_N_ELEMENTS (columns); i++)
    {
      g_autoptr(GtkListItemFactory) factory = gtk_signal_list_item_factory_new ();
      g_autoptr(GtkColumnViewColumn) column = NULL;

      g_signal_connect (factory, "setup", G_CALLBACK (cell_setup), (gpointer) &columns[i]);
      g_signal_connect (factory, "bind", G_CALLBACK (cell_bind), (gpointer) &columns[i]);

      column = gtk_column_view_column_new (_(columns[i].title), g_object_ref (factory));
      gtk_column_view_column_set_fixed_width (column, columns[i].fixed_width);
      gtk_column_view_column_set_expand (column, columns[i].expand);
      gtk_column_view_column_set_resizable (column, TRUE);
      gtk_column_view_append_column (self->column_view, column);
    }
}

char *
pp_inventory_page_format_count (guint n)
{
  g_autofree char *digits = g_strdup_printf ("%u", n);
  const char *separator = NULL;
  struct lconv *conv = localeconv ();
  g_autoptr(GString) grouped = g_string_new (NULL);
  gsize len = strlen (digits);

  if (conv != NULL && conv->thousands_sep != NULL && conv->thousands_sep[0] != '\0')
    separator = conv->thousands_sep;
  else
    separator = "\u202f";  /* narrow no-break space, as in “1 234” */

  for (gsize i = 0; i < len; i++)
    {
      if (i > 0 && (len - i) % 3 == 0)
        g_string_append (grouped, separator);
      g_string_append_c (grouped, digits[i]);
    }

  /* Translators: %s is a number with digit grouping, e.g. “1 234 terminals”. */
  return g_strdup_printf (ngettext ("%s terminal", "%s terminals", n), grouped->str);
}

static void
update_view (PpInventoryPage *self)
{
  const char *search;
  const char *error;
  guint n;

  /* Nothing to search without a registry. */
  gtk_widget_set_sensitive (self->toolbar, self->model != NULL);
  if (self->model == NULL)
    {
      gtk_label_set_text (self->count_label, "");
      gtk_stack_set_visible_child_name (self->stack, "error");
      return;
    }

  n = g_list_model_get_n_items (G_LIST_MODEL (self->model));
  search = pp_terminal_list_model_get_search (self->model);
  error = pp_terminal_list_model_get_error (self->model);

  if (pp_terminal_list_model_get_loading (self->model) && n == 0)
    {
      gtk_label_set_text (self->count_label, "");
      gtk_stack_set_visible_child_name (self->stack, "loading");
      return;
    }

  if (error != NULL && n == 0)
    {
      gtk_label_set_text (self->count_label, "");
      adw_status_page_set_description (self->error_page, error);
      gtk_stack_set_visible_child_name (self->stack, "error");
      return;
    }

  {
    g_autofree char *count = pp_inventory_page_format_count (n);
    gtk_label_set_text (self->count_label, count);
  }

  if (n > 0)
    {
      /* The rows wait for the page's first frame (see on_first_paint). */
      gtk_stack_set_visible_child_name (self->stack, self->painted ? "list" : "loading");
      return;
    }

  if (search != NULL && self->state_filter != PP_TERMINAL_STATE_ANY)
    {
      /* The serial may exist in another state: say the filter is on.
       * Translators: the first %s is a serial search, the second a state label. */
      g_autofree char *title = g_strdup_printf (_("No terminal matches “%s” in state “%s”"), search,
                                                pp_terminal_state_get_label (self->state_filter));

      adw_status_page_set_title (self->empty_page, title);
      adw_status_page_set_description (self->empty_page,
                                       _("Choose “All states” or check the serial number."));
    }
  else if (search != NULL)
    {
      g_autofree char *title = g_strdup_printf (_("No terminal matches “%s”"), search);

      adw_status_page_set_title (self->empty_page, title);
      adw_status_page_set_description (self->empty_page,
                                       _("Check the serial number or scan the label again."));
    }
  else if (self->state_filter != PP_TERMINAL_STATE_ANY)
    {
      g_autofree char *title =
        g_strdup_printf (_("No terminals in state “%s”"),
                         pp_terminal_state_get_label (self->state_filter));

      adw_status_page_set_title (self->empty_page, title);
      adw_status_page_set_description (self->empty_page, _("Choose another state to see more terminals."));
    }
  else
    {
      adw_status_page_set_title (self->empty_page, _("No terminals"));
      adw_status_page_set_description (self->empty_page,
                                       _("Import terminals with “posprov-tool registry import”."));
    }
  gtk_stack_set_visible_child_name (self->stack, "empty");
}

/* A scanner types "SN:ABC123" or a posprov QR payload; either means a serial. */
static char *
search_from_text (const char *text)
{
  g_autofree char *serial = NULL;

  if (text == NULL || *text == '\0')
    return NULL;
  if (pp_scan_parse (text, &serial, NULL, NULL))
    return g_steal_pointer (&serial);
  return g_strstrip (g_strdup (text));
}

static void
apply_query (PpInventoryPage *self)
{
  g_autofree char *search = NULL;

  if (self->model == NULL)
    return;
  search = search_from_text (gtk_editable_get_text (GTK_EDITABLE (self->search_entry)));
  pp_terminal_list_model_set_query (self->model, search, self->state_filter);
  update_view (self);
}

static void
on_search_changed (PpInventoryPage *self)
{
  apply_query (self);
}

static void
on_search_activate (PpInventoryPage *self)
{
  const char *text = gtk_editable_get_text (GTK_EDITABLE (self->search_entry));
  g_autofree char *serial = NULL;

  /* Show the serial a scanner's payload stood for, not the payload. */
  if (pp_scan_parse (text, &serial, NULL, NULL) && g_strcmp0 (serial, text) != 0)
    gtk_editable_set_text (GTK_EDITABLE (self->search_entry), serial);
  apply_query (self);
}

static void
on_state_selected (PpInventoryPage *self)
{
  guint selected = gtk_drop_down_get_selected (self->state_dropdown);
  PpTerminalState state = PP_TERMINAL_STATE_ANY;

  if (selected != GTK_INVALID_LIST_POSITION && selected > 0 && selected <= PP_N_TERMINAL_STATES)
    state = (PpTerminalState) (selected - 1);
  if (state == self->state_filter)
    return;
  self->state_filter = state;
  apply_query (self);
  g_object_notify_by_pspec (G_OBJECT (self), props[PROP_STATE_FILTER]);
}

static void
on_model_changed (PpInventoryPage *self)
{
  update_view (self);
}

/* The column view builds its rows (GtkListView keeps 200 alive, here eight
 * cells each) as soon as its model has them: from the page's first frame
 * on, not in it, which keeps that frame (the station's first, at start)
 * quick; the count and the spinner show meanwhile. */
static void
attach_rows (PpInventoryPage *self)
{
  if (self->selection == NULL || !self->painted)
    return;
  if (gtk_single_selection_get_model (self->selection) == G_LIST_MODEL (self->model))
    return;
  gtk_single_selection_set_model (self->selection, G_LIST_MODEL (self->model));
  /* Autoselect is off; a fresh list has no row chosen yet. */
  gtk_single_selection_set_selected (self->selection, GTK_INVALID_LIST_POSITION);
}

static void
stop_waiting_for_paint (PpInventoryPage *self)
{
  if (self->clock != NULL)
    g_clear_signal_handler (&self->after_paint_id, self->clock);
  g_clear_object (&self->clock);
}

static void
on_first_paint (GdkFrameClock   *clock,
                PpInventoryPage *self)
{
  stop_waiting_for_paint (self);
  self->painted = TRUE;
  attach_rows (self);
  update_view (self);
}

static void
on_map (PpInventoryPage *self)
{
  if (self->painted || self->clock != NULL)
    return;
  self->clock = g_object_ref (gtk_widget_get_frame_clock (GTK_WIDGET (self)));
  self->after_paint_id = g_signal_connect (self->clock, "after-paint", G_CALLBACK (on_first_paint), self);
}

static void
ensure_style (void)
{
  GdkDisplay *display = gdk_display_get_default ();
  g_autoptr(GtkCssProvider) provider = NULL;

  if (display == NULL || g_object_get_data (G_OBJECT (display), "pp-inventory-style") != NULL)
    return;
  provider = gtk_css_provider_new ();
  gtk_css_provider_load_from_resource (provider, "/org/posprov/Station/pp-inventory-page.css");
  gtk_style_context_add_provider_for_display (display, GTK_STYLE_PROVIDER (provider),
                                              GTK_STYLE_PROVIDER_PRIORITY_APPLICATION);
  g_object_set_data_full (G_OBJECT (display), "pp-inventory-style",
                          g_steal_pointer (&provider), g_object_unref);
}

static void
pp_inventory_page_dispose (GObject *object)
{
  PpInventoryPage *self = PP_INVENTORY_PAGE (object);

  stop_waiting_for_paint (self);
  if (self->column_view != NULL)
    gtk_column_view_set_model (self->column_view, NULL);
  g_clear_object (&self->selection);
  if (self->model != NULL)
    g_signal_handlers_disconnect_by_data (self->model, self);
  g_clear_object (&self->model);
  g_clear_object (&self->registry);

  gtk_widget_dispose_template (GTK_WIDGET (object), PP_TYPE_INVENTORY_PAGE);

  G_OBJECT_CLASS (pp_inventory_page_parent_class)->dispose (object);
}

static void
pp_inventory_page_get_property (GObject    *object,
                                guint       prop_id,
                                GValue     *value,
                                GParamSpec *pspec)
{
  PpInventoryPage *self = PP_INVENTORY_PAGE (object);

  switch (prop_id)
    {
    case PROP_REGISTRY:
      g_value_set_object (value, self->registry);
      break;
    case PROP_STATE_FILTER:
      g_value_set_int (value, self->state_filter);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
pp_inventory_page_set_property (GObject      *object,
                                guint         prop_id,
                                const GValue *value,
                                GParamSpec   *pspec)
{
  PpInventoryPage *self = PP_INVENTORY_PAGE (object);

  switch (prop_id)
    {
    case PROP_REGISTRY:
      pp_inventory_page_set_registry (self, g_value_get_object (value));
      break;
    case PROP_STATE_FILTER:
      pp_inventory_page_set_state_filter (self, g_value_get_int (value));
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
pp_inventory_page_class_init (PpInventoryPageClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);

  object_class->dispose = pp_inventory_page_dispose;
  object_class->get_property = pp_inventory_page_get_property;
  object_class->set_property = pp_inventory_page_set_property;

  props[PROP_REGISTRY] =
    g_param_spec_object ("registry", NULL, NULL,
                         PP_TYPE_REGISTRY,
                         G_PARAM_READWRITE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);
  props[PROP_STATE_FILTER] =
    g_param_spec_int ("state-filter", NULL, NULL,
                      PP_TERMINAL_STATE_ANY, PP_N_TERMINAL_STATES - 1, PP_TERMINAL_STATE_ANY,
                      G_PARAM_READWRITE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);
  g_object_class_install_properties (object_class, N_PROPS, props);

  gtk_widget_class_set_template_from_resource (widget_class,
                                               "/org/posprov/Station/pp-inventory-page.ui");
  gtk_widget_class_bind_template_child (widget_class, PpInventoryPage, toolbar);
  gtk_widget_class_bind_template_child (widget_class, PpInventoryPage, search_entry);
  gtk_widget_class_bind_template_child (widget_class, PpInventoryPage, state_dropdown);
  gtk_widget_class_bind_template_child (widget_class, PpInventoryPage, count_label);
  gtk_widget_class_bind_template_child (widget_class, PpInventoryPage, stack);
  gtk_widget_class_bind_template_child (widget_class, PpInventoryPage, column_view);
  gtk_widget_class_bind_template_child (widget_class, PpInventoryPage, empty_page);
  gtk_widget_class_bind_template_child (widget_class, PpInventoryPage, error_page);
  gtk_widget_class_bind_template_callback (widget_class, on_search_changed);
  gtk_widget_class_bind_template_callback (widget_class, on_search_activate);
  gtk_widget_class_bind_template_callback (widget_class, on_state_selected);
}

static void
pp_inventory_page_init (PpInventoryPage *self)
{
  g_autoptr(GtkStringList) states = gtk_string_list_new (NULL);

  self->state_filter = PP_TERMINAL_STATE_ANY;
  gtk_widget_init_template (GTK_WIDGET (self));
  ensure_style ();

  gtk_string_list_append (states, _("All states"));
  for (int i = 0; i < PP_N_TERMINAL_STATES; i++)
    gtk_string_list_append (states, pp_terminal_state_get_label ((PpTerminalState) i));
  gtk_drop_down_set_model (self->state_dropdown, G_LIST_MODEL (states));
  gtk_drop_down_set_selected (self->state_dropdown, 0);

  add_columns (self);
  g_signal_connect (self, "map", G_CALLBACK (on_map), NULL);
  g_signal_connect (self, "unmap", G_CALLBACK (stop_waiting_for_paint), NULL);
  adw_status_page_set_description (self->error_page, _("No terminal store is open."));
  update_view (self);
}

PpInventoryPage *
pp_inventory_page_new (PpRegistry *registry)
{
  g_return_val_if_fail (registry == NULL || PP_IS_REGISTRY (registry), NULL);

  return g_object_new (PP_TYPE_INVENTORY_PAGE, "registry", registry, NULL);
}

void
pp_inventory_page_set_registry (PpInventoryPage *self,
                                PpRegistry      *registry)
{
  g_return_if_fail (PP_IS_INVENTORY_PAGE (self));
  g_return_if_fail (registry == NULL || PP_IS_REGISTRY (registry));

  if (self->registry == registry)
    return;

  if (self->model != NULL)
    g_signal_handlers_disconnect_by_data (self->model, self);
  g_clear_object (&self->model);
  g_clear_object (&self->selection);
  g_set_object (&self->registry, registry);

  if (registry != NULL)
    {
      g_autofree char *search = NULL;

      self->model = pp_terminal_list_model_new (registry);
      search = search_from_text (gtk_editable_get_text (GTK_EDITABLE (self->search_entry)));
      pp_terminal_list_model_set_query (self->model, search, self->state_filter);
      g_signal_connect_object (self->model, "notify::error",
                               G_CALLBACK (on_model_changed), self, G_CONNECT_SWAPPED);
      g_signal_connect_object (self->model, "notify::loading",
                               G_CALLBACK (on_model_changed), self, G_CONNECT_SWAPPED);
      g_signal_connect_object (self->model, "items-changed",
                               G_CALLBACK (on_model_changed), self, G_CONNECT_SWAPPED);
      self->selection = gtk_single_selection_new (NULL);
      gtk_single_selection_set_autoselect (self->selection, FALSE);
      gtk_single_selection_set_can_unselect (self->selection, TRUE);
      attach_rows (self);
    }
  else
    {
      adw_status_page_set_description (self->error_page, _("No terminal store is open."));
    }
  gtk_column_view_set_model (self->column_view, GTK_SELECTION_MODEL (self->selection));
  update_view (self);

  g_object_notify_by_pspec (G_OBJECT (self), props[PROP_REGISTRY]);
}

PpRegistry *
pp_inventory_page_get_registry (PpInventoryPage *self)
{
  g_return_val_if_fail (PP_IS_INVENTORY_PAGE (self), NULL);

  return self->registry;
}

void
pp_inventory_page_reload (PpInventoryPage *self)
{
  g_return_if_fail (PP_IS_INVENTORY_PAGE (self));

  if (self->model == NULL)
    return;
  pp_terminal_list_model_reload (self->model);
  update_view (self);
}

void
pp_inventory_page_show_error (PpInventoryPage *self,
                              const char      *message)
{
  g_return_if_fail (PP_IS_INVENTORY_PAGE (self));
  g_return_if_fail (message != NULL);

  gtk_label_set_text (self->count_label, "");
  gtk_widget_set_sensitive (self->toolbar, FALSE);
  adw_status_page_set_description (self->error_page, message);
  gtk_stack_set_visible_child_name (self->stack, "error");
}

void
pp_inventory_page_set_state_filter (PpInventoryPage *self,
                                    PpTerminalState  state)
{
  g_return_if_fail (PP_IS_INVENTORY_PAGE (self));
  g_return_if_fail (state == PP_TERMINAL_STATE_ANY || (state >= 0 && state < PP_N_TERMINAL_STATES));

  /* The drop-down's handler applies the query and notifies. */
  gtk_drop_down_set_selected (self->state_dropdown,
                              state == PP_TERMINAL_STATE_ANY ? 0 : (guint) state + 1);
}

PpTerminalState
pp_inventory_page_get_state_filter (PpInventoryPage *self)
{
  g_return_val_if_fail (PP_IS_INVENTORY_PAGE (self), PP_TERMINAL_STATE_ANY);

  return self->state_filter;
}

void
pp_inventory_page_focus_search (PpInventoryPage *self)
{
  g_return_if_fail (PP_IS_INVENTORY_PAGE (self));

  gtk_widget_grab_focus (GTK_WIDGET (self->search_entry));
  gtk_editable_select_region (GTK_EDITABLE (self->search_entry), 0, -1);
}

PpTerminalListModel *
pp_inventory_page_get_model (PpInventoryPage *self)
{
  g_return_val_if_fail (PP_IS_INVENTORY_PAGE (self), NULL);

  return self->model;
}

GtkEditable *
pp_inventory_page_get_search_entry (PpInventoryPage *self)
{
  g_return_val_if_fail (PP_IS_INVENTORY_PAGE (self), NULL);

  return GTK_EDITABLE (self->search_entry);
}

GtkColumnView *
pp_inventory_page_get_column_view (PpInventoryPage *self)
{
  g_return_val_if_fail (PP_IS_INVENTORY_PAGE (self), NULL);

  return self->column_view;
}

GtkLabel *
pp_inventory_page_get_count_label (PpInventoryPage *self)
{
  g_return_val_if_fail (PP_IS_INVENTORY_PAGE (self), NULL);

  return self->count_label;
}
