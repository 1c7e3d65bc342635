/* SPDX-License-Identifier: GPL-3.0-or-later
 *
 * pp-terminal-list-model.c: a lazily paged GListModel over a PpRegistry.
 *
 * Every fetch is a registry call with its own GCancellable: a new query
 * cancels the former query's fetches, and only a few fetches run at once,
 * the oldest cancelled first, so scrolling fast through 100 000 rows asks
 * only for the pages the view still shows. The fetches do not hold the
 * model: a model dropped (its window closed) goes at once and cancels them.
 */
#include "config.h"

#include "pp-terminal-list-model.h"

/* Enough for a tall window plus the rows GTK keeps around while scrolling,
 * and for jumping back and forth between two distant places. */
#define MAX_CACHED_PAGES 4
/* Fetches running at once; a newer one cancels the oldest. */
#define MAX_PENDING 3

typedef struct
{
  guint      index;  /* page number */
  GPtrArray *rows;   /* PpTerminal, may be shorter than a page */
} Page;

typedef struct
{
  PpTerminalListModel *model;  /* NULL once the model is finalized */
  guint                generation;
  guint                index;
  gboolean             first;  /* the query's first page: brings the count */
  GCancellable        *cancellable;
} Fetch;

struct _PpTerminalListModel
{
  GObject          parent_instance;

  PpRegistry      *registry;
  char            *search;
  PpTerminalState  state;
  guint            n_items;
  GQueue           pages;      /* Page*, most recently used first */
  GQueue           pending;    /* Fetch*, oldest first, not cancelled */
  GPtrArray       *running;    /* Fetch*, every one whose callback is still to come */
  guint            generation; /* of the current query */
  gboolean         loading;
  char            *error;
  gboolean         unreachable;
  guint            n_fetches;
  guint            refresh_id; /* idle: re-announce cancelled pages */
  GArray          *refresh;    /* guint page indexes */
  GHashTable      *handed_out; /* page index -> Span: rows given out as placeholders */
};

/* The rows of a page that get_item answered with placeholders: only they
 * can be on screen, so only they are announced when the page arrives. */
typedef struct
{
  guint first;
  guint last;
} Span;

static void pp_terminal_list_model_list_model_init (GListModelInterface *iface);

G_DEFINE_FINAL_TYPE_WITH_CODE (PpTerminalListModel, pp_terminal_list_model, G_TYPE_OBJECT,
                               G_IMPLEMENT_INTERFACE (G_TYPE_LIST_MODEL,
                                                      pp_terminal_list_model_list_model_init))

enum {
  PROP_0,
  PROP_REGISTRY,
  PROP_SEARCH,
  PROP_STATE,
  PROP_N_ITEMS,
  PROP_LOADING,
  PROP_ERROR,
  PROP_UNREACHABLE,
  N_PROPS
};

static GParamSpec *props[N_PROPS];

static GQuark placeholder_quark;

static void
page_free (Page *page)
{
  g_clear_pointer (&page->rows, g_ptr_array_unref);
  g_free (page);
}

static void
fetch_free (Fetch *fetch)
{
  if (fetch->model != NULL)
    g_ptr_array_remove_fast (fetch->model->running, fetch);
  g_clear_object (&fetch->cancellable);
  g_free (fetch);
}

static void
clear_pages (PpTerminalListModel *self)
{
  g_queue_clear_full (&self->pages, (GDestroyNotify) page_free);
}

/* The fetches go on to their callbacks, which see the cancellation. */
static void
cancel_pending (PpTerminalListModel *self)
{
  Fetch *fetch;

  while ((fetch = g_queue_pop_head (&self->pending)) != NULL)
    g_cancellable_cancel (fetch->cancellable);
}

static void
set_loading (PpTerminalListModel *self,
             gboolean             loading)
{
  if (self->loading == loading)
    return;
  self->loading = loading;
  g_object_notify_by_pspec (G_OBJECT (self), props[PROP_LOADING]);
}

static void
set_result (PpTerminalListModel *self,
            const GError        *error)
{
  const char *message = error != NULL ? error->message : NULL;
  gboolean unreachable = g_error_matches (error, PP_REGISTRY_ERROR, PP_REGISTRY_ERROR_UNAVAILABLE);

  if (g_strcmp0 (self->error, message) != 0)
    {
      g_free (self->error);
      self->error = g_strdup (message);
      g_object_notify_by_pspec (G_OBJECT (self), props[PROP_ERROR]);
    }
  if (self->unreachable != unreachable)
    {
      self->unreachable = unreachable;
      g_object_notify_by_pspec (G_OBJECT (self), props[PROP_UNREACHABLE]);
    }
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

static gboolean
is_pending (PpTerminalListModel *self,
            guint                index)
{
  for (GList *l = self->pending.head; l != NULL; l = l->next)
    {
      Fetch *fetch = l->data;

      if (fetch->index == index)
        return TRUE;
    }
  return FALSE;
}

/* Rows of page @index the model has announced. */
static guint
page_length (PpTerminalListModel *self,
             guint                index)
{
  guint start = index * PP_TERMINAL_LIST_MODEL_PAGE_SIZE;

  if (start >= self->n_items)
    return 0;
  return MIN (PP_TERMINAL_LIST_MODEL_PAGE_SIZE, self->n_items - start);
}

static void
note_handed_out (PpTerminalListModel *self,
                 guint                index,
                 guint                offset)
{
  Span *span = g_hash_table_lookup (self->handed_out, GUINT_TO_POINTER (index));

  if (span == NULL)
    {
      span = g_new (Span, 1);
      span->first = span->last = offset;
      g_hash_table_insert (self->handed_out, GUINT_TO_POINTER (index), span);
      return;
    }
  span->first = MIN (span->first, offset);
  span->last = MAX (span->last, offset);
}

/* Announces that the placeholders handed out for page @index are rows now
 * (or placeholders asking again), in one items-changed over them. */
static void
announce_page (PpTerminalListModel *self,
               guint                index)
{
  Span *span = g_hash_table_lookup (self->handed_out, GUINT_TO_POINTER (index));
  guint n = page_length (self, index);
  guint first, count;

  if (span == NULL || n == 0)
    {
      g_hash_table_remove (self->handed_out, GUINT_TO_POINTER (index));
      return;
    }
  first = MIN (span->first, n - 1);
  count = MIN (span->last, n - 1) - first + 1;
  g_hash_table_remove (self->handed_out, GUINT_TO_POINTER (index));
  g_list_model_items_changed (G_LIST_MODEL (self), index * PP_TERMINAL_LIST_MODEL_PAGE_SIZE + first, count, count);
}

/* The view asks again for the rows of pages whose fetch was cancelled
 * while it still showed their placeholders: those it still shows start a
 * fetch again. Not from inside get_item, hence the idle. */
static gboolean
refresh_cancelled (gpointer data)
{
  PpTerminalListModel *self = data;
  g_autoptr(GArray) refresh = g_steal_pointer (&self->refresh);

  self->refresh_id = 0;
  for (guint i = 0; refresh != NULL && i < refresh->len; i++)
    {
      guint index = g_array_index (refresh, guint, i);
      guint n = page_length (self, index);

      if (n > 0 && !is_pending (self, index))
        announce_page (self, index);
    }
  return G_SOURCE_REMOVE;
}

static void
queue_refresh (PpTerminalListModel *self,
               guint                index)
{
  if (self->refresh == NULL)
    self->refresh = g_array_new (FALSE, FALSE, sizeof (guint));
  g_array_append_val (self->refresh, index);
  if (self->refresh_id == 0)
    self->refresh_id = g_idle_add (refresh_cancelled, self);
}

/* The query's count is in: every row may differ now, same count or not. */
static void
replace_all (PpTerminalListModel *self,
             guint                n_items)
{
  guint old_n = self->n_items;

  if (n_items == 0)
    clear_pages (self);
  /* Every row is new: the placeholders handed out are gone with them. */
  g_hash_table_remove_all (self->handed_out);
  self->n_items = n_items;
  set_loading (self, FALSE);
  if (old_n > 0 || n_items > 0)
    g_list_model_items_changed (G_LIST_MODEL (self), 0, old_n, n_items);
  if (old_n != n_items)
    g_object_notify_by_pspec (G_OBJECT (self), props[PROP_N_ITEMS]);
}

static void
on_fetched (GObject      *source,
            GAsyncResult *result,
            gpointer      data)
{
  Fetch *fetch = data;
  PpTerminalListModel *self = fetch->model;
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) rows = NULL;
  guint total = 0;
  Page *page;

  rows = pp_registry_search_terminals_finish (PP_REGISTRY (source), result, &total, &error);
  if (self == NULL)
    {
      /* The model went meanwhile. */
      fetch_free (fetch);
      return;
    }
  g_queue_remove (&self->pending, fetch);
  if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED) ||
      fetch->generation != self->generation)
    {
      fetch_free (fetch);
      return;
    }

  if (rows == NULL)
    {
      /* The placeholders stay; reload() asks again. */
      g_debug ("Cannot load terminals: %s", error->message);
      set_result (self, error);
      /* Without a count nothing is listed: the former query's rows go. */
      if (fetch->first)
        replace_all (self, 0);
      fetch_free (fetch);
      return;
    }
  set_result (self, NULL);

  if (fetch->first)
    clear_pages (self);
  page = g_new0 (Page, 1);
  page->index = fetch->index;
  page->rows = g_steal_pointer (&rows);
  g_queue_push_head (&self->pages, page);
  while (g_queue_get_length (&self->pages) > MAX_CACHED_PAGES)
    page_free (g_queue_pop_tail (&self->pages));

  if (fetch->first)
    replace_all (self, total);
  else
    {
      /* The register changed under the query since its count (another
       * station): the rows shift; the page's own rows stand, a reload
       * brings the new count. */
      if (total != self->n_items)
        g_debug ("The register now has %u matching terminals, not %u", total, self->n_items);
      announce_page (self, fetch->index);
    }
  fetch_free (fetch);
}

static void
start_fetch (PpTerminalListModel *self,
             guint                index,
             gboolean             first)
{
  Fetch *fetch;

  while (g_queue_get_length (&self->pending) >= MAX_PENDING)
    {
      Fetch *oldest = g_queue_pop_head (&self->pending);

      g_cancellable_cancel (oldest->cancellable);
      if (!oldest->first)
        queue_refresh (self, oldest->index);
    }

  fetch = g_new0 (Fetch, 1);
  fetch->model = self;
  g_ptr_array_add (self->running, fetch);
  fetch->generation = self->generation;
  fetch->index = index;
  fetch->first = first;
  fetch->cancellable = g_cancellable_new ();
  g_queue_push_tail (&self->pending, fetch);
  self->n_fetches++;
  pp_registry_search_terminals_async (self->registry, self->search, self->state,
                                      index * PP_TERMINAL_LIST_MODEL_PAGE_SIZE,
                                      PP_TERMINAL_LIST_MODEL_PAGE_SIZE, fetch->cancellable,
                                      on_fetched, fetch);
}

static PpTerminal *
placeholder_new (void)
{
  PpTerminal *placeholder = pp_terminal_new ("", "", "", PP_TERMINAL_STATE_RECEIVED, NULL, NULL, NULL,
                                             NULL, NULL, 0, 0);

  g_object_set_qdata (G_OBJECT (placeholder), placeholder_quark, GINT_TO_POINTER (TRUE));
  return placeholder;
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

  if (position >= self->n_items || self->registry == NULL)
    return NULL;

  page = lookup_page (self, index);
  if (page != NULL)
    {
      /* The register may have shrunk since the count: a placeholder then. */
      if (offset < page->rows->len)
        return g_object_ref (g_ptr_array_index (page->rows, offset));
      return placeholder_new ();
    }
  /* While a new query's count is on its way, its first page brings the rows. */
  if (!self->loading && !is_pending (self, index))
    start_fetch (self, index, FALSE);
  note_handed_out (self, index, offset);
  return placeholder_new ();
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
  cancel_pending (self);
  self->generation++;
  if (self->registry == NULL)
    return;
  /* The former rows stay on screen until the new ones are in. */
  set_loading (self, TRUE);
  start_fetch (self, 0, TRUE);
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

  /* The fetches still running are cancelled and leave the model alone. */
  cancel_pending (self);
  for (guint i = 0; i < self->running->len; i++)
    {
      Fetch *fetch = g_ptr_array_index (self->running, i);

      fetch->model = NULL;
      g_cancellable_cancel (fetch->cancellable);
    }
  g_clear_pointer (&self->running, g_ptr_array_unref);
  g_clear_handle_id (&self->refresh_id, g_source_remove);
  g_clear_pointer (&self->refresh, g_array_unref);
  g_clear_pointer (&self->handed_out, g_hash_table_unref);
  clear_pages (self);
  g_clear_object (&self->registry);
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
    case PROP_REGISTRY:
      g_value_set_object (value, self->registry);
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
    case PROP_LOADING:
      g_value_set_boolean (value, self->loading);
      break;
    case PROP_ERROR:
      g_value_set_string (value, self->error);
      break;
    case PROP_UNREACHABLE:
      g_value_set_boolean (value, self->unreachable);
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
    case PROP_REGISTRY:
      self->registry = g_value_dup_object (value);
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

  props[PROP_REGISTRY] =
    g_param_spec_object ("registry", NULL, NULL,
                         PP_TYPE_REGISTRY,
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
  props[PROP_LOADING] =
    g_param_spec_boolean ("loading", NULL, NULL, FALSE,
                          G_PARAM_READABLE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);
  props[PROP_ERROR] =
    g_param_spec_string ("error", NULL, NULL, NULL,
                         G_PARAM_READABLE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);
  props[PROP_UNREACHABLE] =
    g_param_spec_boolean ("unreachable", NULL, NULL, FALSE,
                          G_PARAM_READABLE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);

  g_object_class_install_properties (object_class, N_PROPS, props);

  placeholder_quark = g_quark_from_static_string ("pp-terminal-list-model-placeholder");
}

static void
pp_terminal_list_model_init (PpTerminalListModel *self)
{
  self->state = PP_TERMINAL_STATE_ANY;
  g_queue_init (&self->pages);
  g_queue_init (&self->pending);
  self->running = g_ptr_array_new ();
  self->handed_out = g_hash_table_new_full (NULL, NULL, NULL, g_free);
}

PpTerminalListModel *
pp_terminal_list_model_new (PpRegistry *registry)
{
  g_return_val_if_fail (registry == NULL || PP_IS_REGISTRY (registry), NULL);

  return g_object_new (PP_TYPE_TERMINAL_LIST_MODEL, "registry", registry, NULL);
}

PpRegistry *
pp_terminal_list_model_get_registry (PpTerminalListModel *self)
{
  g_return_val_if_fail (PP_IS_TERMINAL_LIST_MODEL (self), NULL);

  return self->registry;
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

gboolean
pp_terminal_list_model_get_loading (PpTerminalListModel *self)
{
  g_return_val_if_fail (PP_IS_TERMINAL_LIST_MODEL (self), FALSE);

  return self->loading;
}

const char *
pp_terminal_list_model_get_error (PpTerminalListModel *self)
{
  g_return_val_if_fail (PP_IS_TERMINAL_LIST_MODEL (self), NULL);

  return self->error;
}

gboolean
pp_terminal_list_model_get_unreachable (PpTerminalListModel *self)
{
  g_return_val_if_fail (PP_IS_TERMINAL_LIST_MODEL (self), FALSE);

  return self->unreachable;
}

gboolean
pp_terminal_list_model_is_placeholder (gpointer item)
{
  return item != NULL && g_object_get_qdata (G_OBJECT (item), placeholder_quark) != NULL;
}

guint
pp_terminal_list_model_get_n_fetches (PpTerminalListModel *self)
{
  g_return_val_if_fail (PP_IS_TERMINAL_LIST_MODEL (self), 0);

  return self->n_fetches;
}
