/* SPDX-License-Identifier: GPL-3.0-or-later
 *
 * tool-audit.c: posprov-tool audit: check the hash chain of the audit
 * journal, so an edited, deleted or reordered entry is found by anyone
 * with read access to the database file.
 */
#include "config.h"

#include <stdio.h>

#include <glib/gi18n.h>

#include "pp-store.h"
#include "tool-commands.h"
#include "tool-common.h"
#include "tool-store.h"

static int
audit_verify (int    argc,
              char **argv)
{
  g_autofree char *db_path = NULL;
  GOptionEntry entries[] = {
    PP_TOOL_DB_OPTION (&db_path),
    { NULL }
  };
  g_autoptr(GOptionContext) context = g_option_context_new (NULL);
  g_autoptr(GError) error = NULL;
  g_autoptr(PpStore) store = NULL;
  gint64 first_bad = -1;
  guint64 n_entries = 0;

  g_option_context_set_summary (context,
    _("Recomputes the SHA-256 chain of the audit journal and names the first entry\n"
      "that was edited, deleted or moved. Exit status 1 if the journal is broken."));
  g_option_context_add_main_entries (context, entries, GETTEXT_PACKAGE);
  if (!pp_tool_parse (context, &argc, &argv))
    return 1;
  if (argc != 1)
    return pp_tool_fail (_("unexpected argument “%s” (see “%s --help”)"), argv[1], argv[0]);

  store = pp_tool_open_store (db_path, PP_TOOL_STORE_READ);
  if (store == NULL)
    return 1;

  if (!pp_store_audit_verify (store, &first_bad, &n_entries, &error))
    {
      if (first_bad > 0)
        return pp_tool_fail (_("audit journal broken at entry %lld: %s"),
                             (long long) first_bad, error->message);
      return pp_tool_fail_error (error);
    }

  printf (ngettext ("Audit journal intact: %llu entry\n",
                    "Audit journal intact: %llu entries\n",
                    (gulong) n_entries),
          (unsigned long long) n_entries);
  return 0;
}

static const PpToolCommand audit_commands[] = {
  { "verify", audit_verify, N_("Verify the hash chain of the audit journal") },
  { NULL, NULL, NULL }
};

int
pp_tool_audit_main (int    argc,
                    char **argv)
{
  return pp_tool_dispatch (argv[0], audit_commands, argc, argv);
}
