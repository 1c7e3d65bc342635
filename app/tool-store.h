/* SPDX-License-Identifier: GPL-3.0-or-later
 *
 * tool-store.h: how posprov-tool subcommands find and open the store
 * (--db PATH, else the station's default file).
 */
#pragma once

#include <glib.h>

#include "pp-store.h"

G_BEGIN_DECLS

/* The --db option: fills *@db_path (g_free it). */
#define PP_TOOL_DB_OPTION(db_path) \
  { "db", 0, 0, G_OPTION_ARG_FILENAME, (db_path), N_("Store database file (default: the station’s store)"), N_("PATH") }

/* The values keep the meaning of the gboolean must_exist this replaced. */
typedef enum {
  PP_TOOL_STORE_CREATE = 0,  /* create the store when there is no file yet */
  PP_TOOL_STORE_READ = 1,    /* list, show, verify: read-only, the file must be a store */
  PP_TOOL_STORE_WRITE = 2,   /* change an existing store; the file must be a store */
} PpToolStoreUse;

/* Opens @db_path or, when NULL, the default store, for @use. Except with
 * PP_TOOL_STORE_CREATE a missing file is an error instead of a new empty
 * store, so a mistyped --db does not report on an empty register; a file
 * that is not a posprov store (empty, a FIFO, another program's database)
 * is refused. Prints the one-line reason and returns NULL on failure. */
PpStore *pp_tool_open_store (const char     *db_path,
                             PpToolStoreUse  use);

G_END_DECLS
