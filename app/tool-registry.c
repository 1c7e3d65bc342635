/* SPDX-License-Identifier: GPL-3.0-or-later
 *
 * tool-registry.c: posprov-tool registry: asset intake from CSV and a look
 * at the terminal register.
 *
 * Import is all or nothing by default: one bad row (reported with its line
 * number) means nothing is imported, so a half-imported file never has to
 * be untangled. --skip-bad imports the good rows, still reports the bad
 * ones on stderr and exits 0 as long as at least one row was imported.
 */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include <glib/gi18n.h>

#include "pp-csv-import.h"
#include "pp-store.h"
#include "pp-terminal.h"
#include "pp-validate.h"
#include "tool-commands.h"
#include "tool-common.h"
#include "tool-registry-open.h"
#include "tool-store.h"

/* Page size when walking the register; the store answers a page fast
 * whatever the register size (a registry service's largest page). */
#define LIST_PAGE PP_REGISTRY_PAGE_MAX

static GOptionContext *
new_context (const char   *parameters,
             const char   *summary,
             GOptionEntry *entries)
{
  GOptionContext *context = g_option_context_new (parameters);

  g_option_context_set_summary (context, summary);
  g_option_context_add_main_entries (context, entries, GETTEXT_PACKAGE);
  return context;
}

/* Columns on a terminal, where CJK characters take two cells. */
static gsize
display_width (const char *s)
{
  gsize width = 0;

  for (const char *p = s; *p != '\0'; p = g_utf8_next_char (p))
    {
      gunichar c = g_utf8_get_char (p);

      if (g_unichar_iszerowidth (c))
        continue;
      width += g_unichar_iswide (c) ? 2 : 1;
    }
  return width;
}

static void
print_padded (const char *text,
              gsize       width)
{
  /* A field stored before the store refused hidden characters must not
   * steer the terminal either. */
  g_autofree char *safe = pp_tool_printable (text);
  const char *s = safe != NULL ? safe : text;
  gsize w = display_width (s);

  fputs (s, stdout);
  for (; w < width; w++)
    fputc (' ', stdout);
}

static const char *
or_dash (const char *s)
{
  return s != NULL && *s != '\0' ? s : "-";
}

static char *
valid_states (void)
{
  g_autoptr(GString) list = g_string_new (NULL);

  for (int s = 0; s < PP_N_TERMINAL_STATES; s++)
    {
      if (list->len > 0)
        g_string_append (list, ", ");
      g_string_append (list, pp_terminal_state_to_string ((PpTerminalState) s));
    }
  return g_string_free (g_steal_pointer (&list), FALSE);
}

/* ---- import ------------------------------------------------------------ */

/* The most rows one import sends to a registry service: its intake limit
 * (docs/registry-api.md); all or none needs one request. */
#define REMOTE_IMPORT_MAX 10000

/* Which of @serials the registry service has: every lookup at once (the
 * session keeps a few connections busy), then wait for all. */
static gboolean
find_remote_terminals (PpRegistry   *registry,
                       const char  **serials,
                       guint         n,
                       gboolean     *exists,
                       GError      **error)
{
  g_autoptr(GPtrArray) results = g_ptr_array_new_full (n, g_object_unref);

  g_ptr_array_set_size (results, n);
  for (guint i = 0; i < n; i++)
    pp_registry_lookup_serial_async (registry, serials[i], NULL, NULL, pp_tool_registry_got,
                                     &results->pdata[i]);
  for (guint i = 0; i < n; i++)
    {
      g_autoptr(PpRegistrySerialCheck) check =
        pp_registry_lookup_serial_finish (registry, pp_tool_registry_wait ((GAsyncResult **) &results->pdata[i]),
                                          error);

      if (check == NULL)
        {
          /* The others still finish before the registry goes. */
          for (guint j = i + 1; j < n; j++)
            pp_tool_registry_wait ((GAsyncResult **) &results->pdata[j]);
          return FALSE;
        }
      exists[i] = check->status != PP_REGISTRY_SERIAL_UNKNOWN;
    }
  return TRUE;
}

static int
registry_import (int    argc,
                 char **argv)
{
  g_autofree char *db_path = NULL;
  g_autofree char *url = NULL;
  gboolean skip_bad = FALSE;
  GOptionEntry entries[] = {
    PP_TOOL_DB_OPTION (&db_path),
    PP_TOOL_REGISTRY_OPTION (&url),
    { "skip-bad", 0, 0, G_OPTION_ARG_NONE, &skip_bad,
      N_("Import the good rows and report the bad ones instead of importing nothing"), NULL },
    { NULL }
  };
  g_autoptr(GOptionContext) context = new_context (_("FILE.csv"),
    _("Adds the terminals of an asset-intake CSV file (header “serial,vendor,model”,\n"
      "UTF-8 with or without BOM) to the register. Every bad row is reported with its\n"
      "line number and nothing is imported, unless --skip-bad is given."),
    entries);
  g_autoptr(GError) error = NULL;
  g_autoptr(PpCsvImport) import = NULL;
  g_autoptr(PpStore) store = NULL;
  g_autoptr(PpToolRegistry) registry = NULL;
  g_autofree PpTerminalIntake *intake = NULL;
  g_autofree char *data = NULL;
  const char *path;
  gsize len;
  guint n_good;
  gboolean imported;

  if (!pp_tool_parse (context, &argc, &argv))
    return 1;
  if (argc != 2)
    return pp_tool_fail (_("expected one CSV file (see “%s --help”)"), argv[0]);
  path = argv[1];

  /* Read errors name the file already. */
  data = pp_tool_read_file (path, PP_CSV_FILE_MAX_BYTES, &len, &error);
  if (data == NULL)
    return pp_tool_fail_error (error);
  import = pp_csv_import_parse (data, (gssize) len, &error);
  g_clear_pointer (&data, g_free);
  if (import == NULL)
    return pp_tool_fail ("%s: %s", path, error->message);

  /* A store that does not exist yet holds no duplicates; it is created
   * only when there is something to import, so a refused file leaves no
   * empty store behind (a mistyped --db stays visible). */
  if (url != NULL)
    {
      if (import->rows->len > REMOTE_IMPORT_MAX)
        return pp_tool_fail (_("%s: %u rows; a registry service takes at most %d in one import "
                               "(split the file)"), path, import->rows->len, REMOTE_IMPORT_MAX);
      if ((registry = pp_tool_open_remote_registry (db_path, url)) == NULL)
        return 1;
    }
  else if (db_path == NULL)
    db_path = pp_tool_default_db_path ();
  if (registry != NULL || g_file_test (db_path, G_FILE_TEST_EXISTS))
    {
      g_autofree const char **serials = NULL;
      g_autofree gboolean *exists = NULL;
      g_autofree char **messages = NULL;
      guint n = import->rows->len;

      if (registry == NULL && (store = pp_tool_open_store (db_path, PP_TOOL_STORE_WRITE)) == NULL)
        return 1;

      serials = g_new (const char *, n);
      for (guint i = 0; i < n; i++)
        serials[i] = ((PpCsvRow *) g_ptr_array_index (import->rows, i))->serial;
      exists = g_new (gboolean, n);
      if (registry != NULL && !find_remote_terminals (registry, serials, n, exists, &error))
        return pp_tool_fail ("%s: %s", url, error->message);
      if (registry == NULL && !pp_store_find_terminals (store, serials, n, exists, &error))
        return pp_tool_fail ("%s: %s", db_path, error->message);
      messages = g_new0 (char *, n);
      for (guint i = 0; i < n; i++)
        if (exists[i])
          messages[i] = g_strdup_printf (_("serial %s is already in the register"), serials[i]);
      /* Every rejection in one pass: linear for a re-import of a million rows. */
      pp_csv_import_reject_rows (import, PP_CSV_IMPORT_ERROR_DUPLICATE_IN_STORE, messages);
    }

  for (guint i = 0; i < import->problems->len; i++)
    {
      PpCsvProblem *problem = g_ptr_array_index (import->problems, i);

      /* Core messages are English; the frame around them is translated. */
      g_autofree char *safe_path = pp_tool_printable (path);
      g_autofree char *safe_message = pp_tool_printable (problem->message);

      fprintf (stderr, _("%s: line %u: %s\n"), safe_path != NULL ? safe_path : path,
               problem->line, safe_message != NULL ? safe_message : problem->message);
    }

  n_good = import->rows->len;
  if (import->problems->len > 0 && !skip_bad && n_good == 0)
    return pp_tool_fail (ngettext ("%s: %u bad row, nothing imported",
                                   "%s: %u bad rows, nothing imported",
                                   import->problems->len),
                         path, import->problems->len);
  if (import->problems->len > 0 && !skip_bad)
    return pp_tool_fail (ngettext ("%s: %u bad row, nothing imported (--skip-bad imports the other rows: %u)",
                                   "%s: %u bad rows, nothing imported (--skip-bad imports the other rows: %u)",
                                   import->problems->len),
                         path, import->problems->len, n_good);
  if (n_good == 0)
    return pp_tool_fail (_("%s: no good rows, nothing imported"), path);

  if (store == NULL && registry == NULL)
    {
      store = pp_tool_open_store (db_path, PP_TOOL_STORE_CREATE);
      if (store == NULL)
        return 1;
    }

  intake = g_new0 (PpTerminalIntake, n_good);
  for (guint i = 0; i < n_good; i++)
    {
      PpCsvRow *row = g_ptr_array_index (import->rows, i);

      intake[i].serial = row->serial;
      intake[i].vendor = row->vendor;
      intake[i].model = row->model;
    }

  if (registry != NULL)
    {
      g_autoptr(GAsyncResult) res = NULL;
      g_autofree char *key = g_uuid_string_random ();

      pp_registry_intake_async (registry, intake, n_good, PP_TERMINAL_STATE_IN_STOCK, pp_tool_registry_user (),
                                key, NULL, pp_tool_registry_got, &res);
      imported = pp_registry_intake_finish (registry, pp_tool_registry_wait (&res), NULL, &error);
    }
  else
    imported = pp_store_add_terminals (store, intake, n_good, g_get_user_name (), &error);
  if (!imported)
    return pp_tool_fail (_("%s: nothing imported: %s"), path, error->message);

  printf (ngettext ("Imported %u terminal", "Imported %u terminals", n_good), n_good);
  if (import->problems->len > 0)
    printf (ngettext (" (%u bad row skipped)", " (%u bad rows skipped)", import->problems->len),
            import->problems->len);
  printf ("\n");
  return 0;
}

/* ---- list -------------------------------------------------------------- */

typedef void (*EachTerminal) (PpTerminal *terminal,
                              gpointer    data);

/* Calls @each on every terminal in @state, in serial order, a page at a
 * time: memory stays small and every page costs the same, so a register of
 * a million terminals lists in seconds. */
static gboolean
walk_register (PpStore          *store,
               PpRegistry       *registry,
               PpTerminalState   state,
               EachTerminal      each,
               gpointer          data,
               guint            *out_n,
               GError          **error)
{
  g_autofree char *after = NULL;
  guint n = 0;

  for (;;)
    {
      g_autoptr(GPtrArray) page = NULL;

      if (registry != NULL)
        {
          g_autoptr(GAsyncResult) res = NULL;

          pp_registry_list_terminals_async (registry, state, after, LIST_PAGE, NULL, pp_tool_registry_got, &res);
          page = pp_registry_list_terminals_finish (registry, pp_tool_registry_wait (&res), error);
        }
      else
        page = pp_store_list_terminals_after (store, state, after, LIST_PAGE, error);

      if (page == NULL)
        return FALSE;
      for (guint i = 0; i < page->len; i++)
        each (g_ptr_array_index (page, i), data);
      n += page->len;
      if (page->len < LIST_PAGE)
        break;
      g_free (after);
      after = g_strdup (pp_terminal_get_serial (g_ptr_array_index (page, page->len - 1)));
    }
  *out_n = n;
  return TRUE;
}

#define N_LIST_COLUMNS 6

static void
list_cells (PpTerminal *t,
            const char *cells[N_LIST_COLUMNS])
{
  cells[0] = pp_terminal_get_serial (t);
  cells[1] = pp_terminal_get_vendor (t);
  cells[2] = pp_terminal_get_model (t);
  cells[3] = pp_terminal_state_to_string (pp_terminal_get_state (t));
  cells[4] = or_dash (pp_terminal_get_mid (t));
  cells[5] = or_dash (pp_terminal_get_tid (t));
}

static void
print_row (const char  *cells[N_LIST_COLUMNS],
           const gsize  widths[N_LIST_COLUMNS])
{
  for (guint c = 0; c + 1 < N_LIST_COLUMNS; c++)
    print_padded (cells[c], widths[c] + 2);
  print_padded (cells[N_LIST_COLUMNS - 1], 0);
  fputc ('\n', stdout);
}

static void
measure_row (PpTerminal *terminal,
             gpointer    data)
{
  gsize *widths = data;
  const char *cells[N_LIST_COLUMNS];

  list_cells (terminal, cells);
  for (guint c = 0; c < N_LIST_COLUMNS; c++)
    widths[c] = MAX (widths[c], display_width (cells[c]));
}

static void
print_table_row (PpTerminal *terminal,
                 gpointer    data)
{
  const char *cells[N_LIST_COLUMNS];

  list_cells (terminal, cells);
  print_row (cells, data);
}

static void
print_json_row (PpTerminal *terminal,
                gpointer    data)
{
  gboolean *first = data;
  g_autoptr(JsonNode) node = pp_terminal_to_json (terminal);
  g_autofree char *text = json_to_string (node, FALSE);

  if (!*first)
    fputc (',', stdout);
  *first = FALSE;
  fputs (text, stdout);
}

static int
registry_list (int    argc,
               char **argv)
{
  g_autofree char *db_path = NULL;
  g_autofree char *url = NULL;
  g_autofree char *state_name = NULL;
  gboolean json = FALSE;
  GOptionEntry entries[] = {
    PP_TOOL_DB_OPTION (&db_path),
    PP_TOOL_REGISTRY_OPTION (&url),
    { "state", 0, 0, G_OPTION_ARG_STRING, &state_name,
      N_("Only terminals in this state (received, in_stock, pending_install, …)"), N_("STATE") },
    { "json", 0, 0, G_OPTION_ARG_NONE, &json,
      N_("Print one JSON object {\"terminals\": […], \"count\": N}"), NULL },
    { NULL }
  };
  g_autoptr(GOptionContext) context = new_context (NULL,
    _("Lists the terminals of the register, ordered by serial."), entries);
  g_autoptr(GError) error = NULL;
  g_autoptr(PpStore) store = NULL;
  g_autoptr(PpToolRegistry) registry = NULL;
  PpTerminalState state = PP_TERMINAL_STATE_ANY;
  const char *headers[N_LIST_COLUMNS] = {
    _("SERIAL"), _("VENDOR"), _("MODEL"), _("STATE"), _("MID"), _("TID")
  };
  gsize widths[N_LIST_COLUMNS];
  guint n = 0;

  if (!pp_tool_parse (context, &argc, &argv))
    return 1;
  if (argc != 1)
    return pp_tool_fail (_("unexpected argument “%s” (see “%s --help”)"), argv[1], argv[0]);

  if (state_name != NULL && !pp_terminal_state_from_string (state_name, &state))
    {
      g_autofree char *states = valid_states ();
      return pp_tool_fail (_("unknown state “%s”; valid states: %s"), state_name, states);
    }

  if (url != NULL ? (registry = pp_tool_open_remote_registry (db_path, url)) == NULL
                  : (store = pp_tool_open_store (db_path, PP_TOOL_STORE_READ)) == NULL)
    return 1;

  if (json)
    {
      gboolean first = TRUE;

      /* Streamed: the same one-line object a JsonGenerator would write,
       * without holding the whole register in memory. */
      fputs ("{\"terminals\":[", stdout);
      if (!walk_register (store, registry, state, print_json_row, &first, &n, &error))
        {
          fputc ('\n', stdout);
          return pp_tool_fail_error (error);
        }
      printf ("],\"count\":%u}\n", n);
      return 0;
    }

  /* Two walks: the first sizes the columns, the second prints. */
  for (guint c = 0; c < N_LIST_COLUMNS; c++)
    widths[c] = display_width (headers[c]);
  if (!walk_register (store, registry, state, measure_row, widths, &n, &error))
    return pp_tool_fail_error (error);

  if (n == 0)
    {
      if (state == PP_TERMINAL_STATE_ANY)
        printf ("%s\n", _("No terminals in the register."));
      else
        printf (_("No terminals in state %s.\n"), pp_terminal_state_to_string (state));
      return 0;
    }

  print_row (headers, widths);
  if (!walk_register (store, registry, state, print_table_row, widths, &n, &error))
    return pp_tool_fail_error (error);
  return 0;
}

/* ---- show -------------------------------------------------------------- */

static char *
format_time (gint64 unix_seconds)
{
  g_autoptr(GDateTime) dt = g_date_time_new_from_unix_utc (unix_seconds);

  if (dt == NULL || unix_seconds <= 0)
    return g_strdup ("-");
  return g_date_time_format (dt, "%Y-%m-%d %H:%M:%S UTC");
}

static int
registry_show (int    argc,
               char **argv)
{
  g_autofree char *db_path = NULL;
  g_autofree char *url = NULL;
  gboolean json = FALSE;
  GOptionEntry entries[] = {
    PP_TOOL_DB_OPTION (&db_path),
    PP_TOOL_REGISTRY_OPTION (&url),
    { "json", 0, 0, G_OPTION_ARG_NONE, &json, N_("Print the terminal as one JSON object"), NULL },
    { NULL }
  };
  g_autoptr(GOptionContext) context = new_context (_("SERIAL"),
    _("Shows one terminal of the register."), entries);
  g_autoptr(GError) error = NULL;
  g_autoptr(PpStore) store = NULL;
  g_autoptr(PpToolRegistry) registry = NULL;
  g_autoptr(PpTerminal) terminal = NULL;
  g_autofree char *serial = NULL;
  g_autofree char *created = NULL;
  g_autofree char *updated = NULL;
  g_autofree char *state = NULL;
  gsize label_width = 0;

  if (!pp_tool_parse (context, &argc, &argv))
    return 1;
  if (argc != 2)
    return pp_tool_fail (_("expected one serial number (see “%s --help”)"), argv[0]);

  /* A typo such as an empty or spaced serial gets its reason, not "not found". */
  if (!pp_validate_serial (argv[1], &error))
    {
      g_autofree char *shown = pp_validate_escape (argv[1], -1, PP_VALIDATE_QUOTE_MAX);

      return pp_tool_fail (_("“%s” is not a serial number: %s"), shown, error->message);
    }
  serial = g_ascii_strup (argv[1], -1);
  if (url != NULL)
    {
      g_autoptr(GAsyncResult) res = NULL;
      g_autoptr(PpRegistrySerialCheck) check = NULL;

      if ((registry = pp_tool_open_remote_registry (db_path, url)) == NULL)
        return 1;
      pp_registry_lookup_serial_async (registry, serial, NULL, NULL, pp_tool_registry_got, &res);
      check = pp_registry_lookup_serial_finish (registry, pp_tool_registry_wait (&res), &error);
      if (check == NULL)
        return pp_tool_fail_error (error);
      if (check->terminal == NULL)
        return pp_tool_fail (_("no terminal with serial %s in the register"), serial);
      terminal = g_object_ref (check->terminal);
    }
  else
    {
      store = pp_tool_open_store (db_path, PP_TOOL_STORE_READ);
      if (store == NULL)
        return 1;
      terminal = pp_store_get_terminal (store, serial, &error);
      if (terminal == NULL)
        {
          if (g_error_matches (error, PP_STORE_ERROR, PP_STORE_ERROR_NOT_FOUND))
            return pp_tool_fail (_("no terminal with serial %s in the register"), serial);
          return pp_tool_fail_error (error);
        }
    }

  if (json)
    {
      g_autoptr(JsonNode) node = pp_terminal_to_json (terminal);

      pp_tool_print_json (node);
      return 0;
    }

  created = format_time (pp_terminal_get_created_at (terminal));
  updated = format_time (pp_terminal_get_updated_at (terminal));
  /* Translators: a state's label and its --state name: "In stock (in_stock)". */
  state = g_strdup_printf (_("%s (%s)"),
                           pp_terminal_state_get_label (pp_terminal_get_state (terminal)),
                           pp_terminal_state_to_string (pp_terminal_get_state (terminal)));

  {
    const struct { const char *label; const char *value; } fields[] = {
      { _("Serial:"), pp_terminal_get_serial (terminal) },
      { _("Vendor:"), pp_terminal_get_vendor (terminal) },
      { _("Model:"), pp_terminal_get_model (terminal) },
      { _("State:"), state },
      { _("MID:"), or_dash (pp_terminal_get_mid (terminal)) },
      { _("TID:"), or_dash (pp_terminal_get_tid (terminal)) },
      { _("Program version:"), or_dash (pp_terminal_get_program_version (terminal)) },
      { _("Master key KCV:"), or_dash (pp_terminal_get_kcv (terminal)) },
      { _("Certificate fingerprint:"), or_dash (pp_terminal_get_cert_fingerprint (terminal)) },
      { _("Created:"), created },
      { _("Updated:"), updated },
    };

    for (guint i = 0; i < G_N_ELEMENTS (fields); i++)
      label_width = MAX (label_width, display_width (fields[i].label));
    for (guint i = 0; i < G_N_ELEMENTS (fields); i++)
      {
        print_padded (fields[i].label, label_width + 1);
        print_padded (fields[i].value, 0);
        fputc ('\n', stdout);
      }
  }

  return 0;
}

static const PpToolCommand registry_commands[] = {
  { "import", registry_import, N_("Add terminals from an asset-intake CSV file") },
  { "list",   registry_list,   N_("List the terminals, optionally in one state") },
  { "show",   registry_show,   N_("Show one terminal") },
  { NULL, NULL, NULL }
};

int
pp_tool_registry_main (int    argc,
                       char **argv)
{
  return pp_tool_dispatch (argv[0], registry_commands, argc, argv);
}
