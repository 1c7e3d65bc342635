/* SPDX-License-Identifier: GPL-3.0-or-later
 *
 * tool-store.c: opening the store for posprov-tool.
 */
#include "config.h"

#include <string.h>

#include <glib/gi18n.h>

#include "tool-common.h"
#include "tool-store.h"

PpStore *
pp_tool_open_store (const char     *db_path,
                    PpToolStoreUse  use)
{
  g_autofree char *default_path = NULL;
  g_autoptr(GError) error = NULL;
  PpStore *store = NULL;

  if (db_path == NULL)
    db_path = default_path = pp_tool_default_db_path ();

  if (use != PP_TOOL_STORE_CREATE && !g_file_test (db_path, G_FILE_TEST_EXISTS))
    {
      pp_tool_fail (_("no store at %s (import terminals first, or give the right --db PATH)"),
                    db_path);
      return NULL;
    }

  /* Readers never write: not a journal beside the file, not the WAL
   * switch, not a migration; and they need read access only (an
   * auditor's copy, read-only media). */
  switch (use)
    {
    case PP_TOOL_STORE_READ:
      store = pp_store_open_read_only (db_path, &error);
      break;
    case PP_TOOL_STORE_WRITE:
      store = pp_store_open_existing (db_path, &error);
      break;
    case PP_TOOL_STORE_CREATE:
      store = pp_store_open (db_path, &error);
      break;
    }
  if (store == NULL)
    {
      /* Most store errors name the file already; say it once. */
      if (strstr (error->message, db_path) != NULL)
        pp_tool_fail ("%s", error->message);
      else
        pp_tool_fail ("%s: %s", db_path, error->message);
      return NULL;
    }

  return store;
}
