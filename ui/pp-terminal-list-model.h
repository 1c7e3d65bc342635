/* SPDX-License-Identifier: GPL-3.0-or-later
 *
 * pp-terminal-list-model.h: the terminal register as a GListModel.
 *
 * The store answers one count per query; rows are fetched in pages only when
 * a view asks for them, and only a few pages stay cached, so a register of
 * 100 000 terminals never sits in memory at once.
 */
#pragma once

#include <gio/gio.h>

#include "pp-store.h"
#include "pp-terminal.h"

G_BEGIN_DECLS

#define PP_TYPE_TERMINAL_LIST_MODEL (pp_terminal_list_model_get_type ())
G_DECLARE_FINAL_TYPE (PpTerminalListModel, pp_terminal_list_model, PP, TERMINAL_LIST_MODEL, GObject)

/* Rows fetched per store query. */
#define PP_TERMINAL_LIST_MODEL_PAGE_SIZE 200

PpTerminalListModel *pp_terminal_list_model_new        (PpStore             *store);
PpStore             *pp_terminal_list_model_get_store  (PpTerminalListModel *self);

/* Serial substring (NULL or "" = all) and state (PP_TERMINAL_STATE_ANY = all).
 * Counts again and emits items-changed (0, old, new) when the query changed. */
void                 pp_terminal_list_model_set_query  (PpTerminalListModel *self,
                                                        const char          *search,
                                                        PpTerminalState      state);
const char          *pp_terminal_list_model_get_search (PpTerminalListModel *self);
PpTerminalState      pp_terminal_list_model_get_state  (PpTerminalListModel *self);
/* Drops the cache and counts again, e.g. after the register was changed. */
void                 pp_terminal_list_model_reload     (PpTerminalListModel *self);

/* The last store failure (nullable); cleared by a successful query. */
const char          *pp_terminal_list_model_get_error  (PpTerminalListModel *self);

/* Number of store queries issued so far; lets tests check rows load lazily. */
guint                pp_terminal_list_model_get_n_fetches (PpTerminalListModel *self);

G_END_DECLS
