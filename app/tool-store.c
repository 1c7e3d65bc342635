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
pp_tool_open_store (const char *db_path,
                    gboolean    must_exist)
{
  g_autofree char *default_path = NULL;
  g_autoptr(GError) error = NULL;
  PpStore *store;

  if (db_path == NULL)
    db_path = default_path = pp_tool_default_db_path ();

  if (must_exist && !g_file_test (db_path, G_FILE_TEST_EXISTS))
    {
      pp_tool_fail (_("no store at %s (import terminals first, or give the right --db PATH)"),
                    db_path);
      return NULL;
    }

  store = pp_store_open (db_path, &error);
  /* Reading needs read access only: list, show and verify also work on a
   * store this user may not write (an auditor's copy, read-only media). */
  if (store == NULL && must_exist && g_error_matches (error, PP_STORE_ERROR, PP_STORE_ERROR_OPEN))
    store = pp_store_open_read_only (db_path, NULL);
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
