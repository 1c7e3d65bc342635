/* SPDX-License-Identifier: GPL-3.0-or-later
 *
 * pp-terminal-list-model.c: a lazily paged GListModel over the store.
 */
#include "config.h"

#include "pp-terminal-list-model.h"

/* Enough for a tall window plus the rows GTK keeps around while scrolling,
 * and for jumping back and forth between two distant places. */
#define MAX_CACHED_PAGES 4

typedef struct
{
  guint      index;  /* page number */
  GPtrArray *rows;   /* PpTerminal, may be shorter than a page */
} Page;

struct _PpTerminalListModel
{
  GObject          parent_instance;

  PpStore         *store;
  char            *search;
  PpTerminalState  state;
  guint            n_items;
  GQueue           pages;      /* Page*, most recently used first */
  char            *error;
  guint            n_fetches;
};

static void pp_terminal_list_model_list_model_init (GListModelInterface *iface);

G_DEFINE_FINAL_TYPE_WITH_CODE (PpTerminalListModel, pp_terminal_list_model, G_TYPE_OBJECT,
                               G_IMPLEMENT_INTERFACE (G_TYPE_LIST_MODEL,
                                                      pp_terminal_list_model_list_model_init))

enum {
  PROP_0,
  PROP_STORE,
  PROP_SEARCH,
  PROP_STATE,
  PROP_N_ITEMS,
  PROP_ERROR,
  N_PROPS
};

static GParamSpec *props[N_PROPS];

static void
page_free (Page *page)
{
  g_clear_pointer (&page->rows, g_ptr_array_unref);
  g_free (page);
}

static void
clear_pages (PpTerminalListModel *self)
{
  g_queue_clear_full (&self->pages, (GDestroyNotify) page_free);
}

static void
set_error (PpTerminalListModel *self,
           const char          *message)
{
  if (g_strcmp0 (self->error, message) == 0)
    return;
  g_free (self->error);
  self->error = g_strdup (message);
  g_object_notify_by_pspec (G_OBJECT (self), props[PROP_ERROR]);
}

static Page *
lookup_page (PpTerminalListModel *self,
             guint                index)
{
  for (GList *l = self->pages.head; l != NULL; l = l->next)
    {
      Page *page = l->data;

      if (page->index == index)
        {
          /* Most recently used goes first, so eviction drops the oldest. */
          if (l != self->pages.head)
            {
              g_queue_unlink (&self->pages, l);
              g_queue_push_head_link (&self->pages, l);
            }
          return page;
        }
    }
  return NULL;
}

static Page *
fetch_page (PpTerminalListModel *self,
            guint                index)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) rows = NULL;
  Page *page;

  self->n_fetches++;
  rows = pp_store_list_terminals (self->store, self->search, self->state,
                                  index * PP_TERMINAL_LIST_MODEL_PAGE_SIZE,
                                  PP_TERMINAL_LIST_MODEL_PAGE_SIZE, &error);
  if (rows == NULL)
    {
      /* A view cannot handle a failure inside get_item(); remember it for the
       * page to show and hand out no row. */
      g_debug ("Cannot load terminals: %s", error->message);
      set_error (self, error->message);
      return NULL;
    }

  page = g_new0 (Page, 1);
  page->index = index;
  page->rows = g_steal_pointer (&rows);
  g_queue_push_head (&self->pages, page);
  while (g_queue_get_length (&self->pages) > MAX_CACHED_PAGES)
    page_free (g_queue_pop_tail (&self->pages));
  return page;
}

static GType
pp_terminal_list_model_get_item_type (GListModel *model)
{
  return PP_TYPE_TERMINAL;
}

static guint
pp_terminal_list_model_get_n_items (GListModel *model)
{
  return PP_TERMINAL_LIST_MODEL (model)->n_items;
}

static gpointer
pp_terminal_list_model_get_item (GListModel *model,
                                 guint       position)
{
  PpTerminalListModel *self = PP_TERMINAL_LIST_MODEL (model);
  guint index = position / PP_TERMINAL_LIST_MODEL_PAGE_SIZE;
  guint offset = position % PP_TERMINAL_LIST_MODEL_PAGE_SIZE;
  Page *page;

  if (position >= self->n_items || self->store == NULL)
    return NULL;

  page = lookup_page (self, index);
  if (page == NULL)
    page = fetch_page (self, index);
  /* The register may have shrunk under us (another process); no row then. */
  if (page == NULL || offset >= page->rows->len)
    return NULL;
  return g_object_ref (g_ptr_array_index (page->rows, offset));
}

static void
pp_terminal_list_model_list_model_init (GListModelInterface *iface)
{
  iface->get_item_type = pp_terminal_list_model_get_item_type;
  iface->get_n_items = pp_terminal_list_model_get_n_items;
  iface->get_item = pp_terminal_list_model_get_item;
}

static void
requery (PpTerminalListModel *self)
{
  g_autoptr(GError) error = NULL;
  guint old_n = self->n_items;
  guint new_n = 0;

  clear_pages (self);
  if (self->store != NULL)
    {
      new_n = pp_store_count_terminals (self->store, self->search, self->state, &error);
      if (error != NULL)
        {
          g_debug ("Cannot count terminals: %s", error->message);
          new_n = 0;
        }
    }
  set_error (self, error != NULL ? error->message : NULL);

  self->n_items = new_n;
  /* Same count or not, every row may differ now: replace them all. */
  if (old_n > 0 || new_n > 0)
    g_list_model_items_changed (G_LIST_MODEL (self), 0, old_n, new_n);
  if (old_n != new_n)
    g_object_notify_by_pspec (G_OBJECT (self), props[PROP_N_ITEMS]);
}

static void
pp_terminal_list_model_constructed (GObject *object)
{
  PpTerminalListModel *self = PP_TERMINAL_LIST_MODEL (object);

  G_OBJECT_CLASS (pp_terminal_list_model_parent_class)->constructed (object);
  requery (self);
}

static void
pp_terminal_list_model_finalize (GObject *object)
{
  PpTerminalListModel *self = PP_TERMINAL_LIST_MODEL (object);

  clear_pages (self);
  g_clear_object (&self->store);
  g_clear_pointer (&self->search, g_free);
  g_clear_pointer (&self->error, g_free);

  G_OBJECT_CLASS (pp_terminal_list_model_parent_class)->finalize (object);
}

static void
pp_terminal_list_model_get_property (GObject    *object,
                                     guint       prop_id,
                                     GValue     *value,
                                     GParamSpec *pspec)
{
  PpTerminalListModel *self = PP_TERMINAL_LIST_MODEL (object);

  switch (prop_id)
    {
    case PROP_STORE:
      g_value_set_object (value, self->store);
      break;
    case PROP_SEARCH:
      g_value_set_string (value, self->search);
      break;
    case PROP_STATE:
      g_value_set_int (value, self->state);
      break;
    case PROP_N_ITEMS:
      g_value_set_uint (value, self->n_items);
      break;
    case PROP_ERROR:
      g_value_set_string (value, self->error);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
pp_terminal_list_model_set_property (GObject      *object,
                                     guint         prop_id,
                                     const GValue *value,
                                     GParamSpec   *pspec)
{
  PpTerminalListModel *self = PP_TERMINAL_LIST_MODEL (object);

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
pp_terminal_list_model_class_init (PpTerminalListModelClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->constructed = pp_terminal_list_model_constructed;
  object_class->finalize = pp_terminal_list_model_finalize;
  object_class->get_property = pp_terminal_list_model_get_property;
  object_class->set_property = pp_terminal_list_model_set_property;

  props[PROP_STORE] =
    g_param_spec_object ("store", NULL, NULL,
                         PP_TYPE_STORE,
                         G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY | G_PARAM_STATIC_STRINGS);
  props[PROP_SEARCH] =
    g_param_spec_string ("search", NULL, NULL, NULL,
                         G_PARAM_READABLE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);
  props[PROP_STATE] =
    g_param_spec_int ("state", NULL, NULL,
                      PP_TERMINAL_STATE_ANY, PP_N_TERMINAL_STATES - 1, PP_TERMINAL_STATE_ANY,
                      G_PARAM_READABLE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);
  /* GListModel itself has no such property in GLib 2.74; views bind to it. */
  props[PROP_N_ITEMS] =
    g_param_spec_uint ("n-items", NULL, NULL, 0, G_MAXUINT, 0,
                       G_PARAM_READABLE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);
  props[PROP_ERROR] =
    g_param_spec_string ("error", NULL, NULL, NULL,
                         G_PARAM_READABLE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);

  g_object_class_install_properties (object_class, N_PROPS, props);
}

static void
pp_terminal_list_model_init (PpTerminalListModel *self)
{
  self->state = PP_TERMINAL_STATE_ANY;
  g_queue_init (&self->pages);
}

PpTerminalListModel *
pp_terminal_list_model_new (PpStore *store)
{
  g_return_val_if_fail (store == NULL || PP_IS_STORE (store), NULL);

  return g_object_new (PP_TYPE_TERMINAL_LIST_MODEL, "store", store, NULL);
}

PpStore *
pp_terminal_list_model_get_store (PpTerminalListModel *self)
{
  g_return_val_if_fail (PP_IS_TERMINAL_LIST_MODEL (self), NULL);

  return self->store;
}

void
pp_terminal_list_model_set_query (PpTerminalListModel *self,
                                  const char          *search,
                                  PpTerminalState      state)
{
  g_autofree char *normalized = NULL;
  gboolean search_changed;
  gboolean state_changed;

  g_return_if_fail (PP_IS_TERMINAL_LIST_MODEL (self));
  g_return_if_fail (state == PP_TERMINAL_STATE_ANY || (state >= 0 && state < PP_N_TERMINAL_STATES));

  if (search != NULL)
    {
      normalized = g_strstrip (g_strdup (search));
      if (*normalized == '\0')
        g_clear_pointer (&normalized, g_free);
    }

  search_changed = g_strcmp0 (normalized, self->search) != 0;
  state_changed = state != self->state;
  if (!search_changed && !state_changed)
    return;

  g_free (self->search);
  self->search = g_steal_pointer (&normalized);
  self->state = state;
  requery (self);

  if (search_changed)
    g_object_notify_by_pspec (G_OBJECT (self), props[PROP_SEARCH]);
  if (state_changed)
    g_object_notify_by_pspec (G_OBJECT (self), props[PROP_STATE]);
}

const char *
pp_terminal_list_model_get_search (PpTerminalListModel *self)
{
  g_return_val_if_fail (PP_IS_TERMINAL_LIST_MODEL (self), NULL);

  return self->search;
}

PpTerminalState
pp_terminal_list_model_get_state (PpTerminalListModel *self)
{
  g_return_val_if_fail (PP_IS_TERMINAL_LIST_MODEL (self), PP_TERMINAL_STATE_ANY);

  return self->state;
}

void
pp_terminal_list_model_reload (PpTerminalListModel *self)
{
  g_return_if_fail (PP_IS_TERMINAL_LIST_MODEL (self));

  requery (self);
}

const char *
pp_terminal_list_model_get_error (PpTerminalListModel *self)
{
  g_return_val_if_fail (PP_IS_TERMINAL_LIST_MODEL (self), NULL);

  return self->error;
}

guint
pp_terminal_list_model_get_n_fetches (PpTerminalListModel *self)
{
  g_return_val_if_fail (PP_IS_TERMINAL_LIST_MODEL (self), 0);

  return self->n_fetches;
}
