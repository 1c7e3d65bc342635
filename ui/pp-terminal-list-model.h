/* SPDX-License-Identifier: GPL-3.0-or-later
 *
 * pp-terminal-list-model.h: the terminal register as a GListModel.
 *
 * Pages of the register come from a PpRegistry (the local store's owner
 * thread, or posprov-registry across the network), asynchronously: the
 * first page of a query brings the count; a row whose page has not
 * arrived is a placeholder (pp_terminal_list_model_is_placeholder) and its
 * page is fetched then; when the page arrives, one items-changed replaces
 * the rows handed out as placeholders (only those: rows changed where no
 * view looks make GtkListView lose its place while scrolling).
 * Only a few pages stay cached, so a register of 100 000 terminals never
 * sits in memory at once, and the main thread never waits for the registry.
 */
#pragma once

#include <gio/gio.h>

#include "pp-registry.h"
#include "pp-terminal.h"

G_BEGIN_DECLS

#define PP_TYPE_TERMINAL_LIST_MODEL (pp_terminal_list_model_get_type ())
G_DECLARE_FINAL_TYPE (PpTerminalListModel, pp_terminal_list_model, PP, TERMINAL_LIST_MODEL, GObject)

/* Rows fetched per registry call. */
#define PP_TERMINAL_LIST_MODEL_PAGE_SIZE 200

/* @registry nullable: an empty list. The first query starts at once. */
PpTerminalListModel *pp_terminal_list_model_new          (PpRegistry          *registry);
PpRegistry          *pp_terminal_list_model_get_registry (PpTerminalListModel *self);

/* Serial substring (NULL or "" = all) and state (PP_TERMINAL_STATE_ANY = all).
 * When the query changed, fetches its first page and count (a fetch of
 * the former query still running is cancelled) and then replaces every row
 * in one items-changed (0, old, new). Until then the former rows stay and
 * "loading" is TRUE. */
void                 pp_terminal_list_model_set_query    (PpTerminalListModel *self,
                                                          const char          *search,
                                                          PpTerminalState      state);
const char          *pp_terminal_list_model_get_search   (PpTerminalListModel *self);
PpTerminalState      pp_terminal_list_model_get_state    (PpTerminalListModel *self);
/* Drops the cache and fetches the count again, e.g. after the register
 * changed or to retry after a failure. */
void                 pp_terminal_list_model_reload       (PpTerminalListModel *self);

/* TRUE from a query's start until its count arrived (or failed). */
gboolean             pp_terminal_list_model_get_loading  (PpTerminalListModel *self);

/* The last registry failure's message (nullable); cleared by a success. */
const char          *pp_terminal_list_model_get_error    (PpTerminalListModel *self);
/* Whether the last registry call failed because the registry could not
 * be reached (PP_REGISTRY_ERROR_UNAVAILABLE); property "unreachable". */
gboolean             pp_terminal_list_model_get_unreachable (PpTerminalListModel *self);

/* Whether @item, from this model's get_item, stands in for a row whose
 * page has not arrived yet. */
gboolean             pp_terminal_list_model_is_placeholder (gpointer           item);

/* Number of registry calls started so far; lets tests check rows load lazily. */
guint                pp_terminal_list_model_get_n_fetches (PpTerminalListModel *self);

G_END_DECLS
