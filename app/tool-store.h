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

/* Opens @db_path or, when NULL, the default store. With @must_exist a
 * missing file is an error instead of a new empty store, so a mistyped
 * --db does not report on an empty register. Prints the one-line reason
 * and returns NULL on failure. */
PpStore *pp_tool_open_store (const char *db_path,
                             gboolean    must_exist);

G_END_DECLS
