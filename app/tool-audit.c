/* SPDX-License-Identifier: GPL-3.0-or-later
 *
 * tool-audit.c: posprov-tool audit: check the audit journal (its hash
 * chain, the forward-secure seal of each entry, a signed checkpoint), start
 * sealing it, and export checkpoints for safekeeping off the station.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <glib/gi18n.h>
#include <glib/gstdio.h>

#include "pp-store.h"
#include "tool-commands.h"
#include "tool-common.h"
#include "tool-registry-open.h"
#include "tool-store.h"

/* The journal's key (its seals, checkpoints) never leaves the store's
 * host: these commands work on the store file, not over --registry. */
static int
refuse_remote (const char *command)
{
  return pp_tool_fail (_("audit %s needs the journal’s key, which stays with the registry’s store: run "
                         "“posprov-tool audit %s --db PATH” on the registry’s host; over --registry, "
                         "“posprov-tool audit list” reads the entries"), command, command);
}

/* Seed and checkpoint files are a few hundred bytes. */
#define MAX_AUDIT_FILE 16384

static gboolean
read_small_file (const char  *path,
                 char       **out_text,
                 gsize       *out_len)
{
  g_autoptr(GError) error = NULL;
  GStatBuf st;

  if (g_stat (path, &st) != 0 || !S_ISREG (st.st_mode))
    {
      pp_tool_fail (_("%s is not a regular file"), path);
      return FALSE;
    }
  if (st.st_size > MAX_AUDIT_FILE)
    {
      pp_tool_fail (_("%s is larger than %d bytes: not a seed or checkpoint file"), path,
                    MAX_AUDIT_FILE);
      return FALSE;
    }
  if (!g_file_get_contents (path, out_text, out_len, &error))
    {
      pp_tool_fail ("%s", error->message);
      return FALSE;
    }
  return TRUE;
}

/* Writes @text to a new file @path (mode 0600), or to stdout for "-". */
static gboolean
write_new_file (const char *path,
                const char *text)
{
  gsize len = strlen (text);
  int fd;

  if (g_strcmp0 (path, "-") == 0)
    {
      fputs (text, stdout);
      return fflush (stdout) == 0;
    }
  fd = g_open (path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0)
    {
      int saved = errno;
      pp_tool_fail (_("cannot create %s: %s"), path, g_strerror (saved));
      return FALSE;
    }
  if (write (fd, text, len) != (ssize_t) len || fsync (fd) != 0)
    {
      int saved = errno;
      close (fd);
      g_unlink (path);
      pp_tool_fail (_("cannot write %s: %s"), path, g_strerror (saved));
      return FALSE;
    }
  close (fd);
  return TRUE;
}

static int
audit_verify (int    argc,
              char **argv)
{
  g_autofree char *db_path = NULL;
  g_autofree char *url = NULL;
  g_autofree char *seed_path = NULL;
  g_autofree char *checkpoint_path = NULL;
  gboolean no_key_store = FALSE;
  GOptionEntry entries[] = {
    PP_TOOL_DB_OPTION (&db_path),
    PP_TOOL_REGISTRY_OPTION (&url),
    { "seed", 0, 0, G_OPTION_ARG_FILENAME, &seed_path,
      N_("Check every entry's seal with the journal's seed file"), N_("FILE") },
    { "checkpoint", 0, 0, G_OPTION_ARG_FILENAME, &checkpoint_path,
      N_("Also check the journal against a signed checkpoint"), N_("FILE") },
    { "no-key-store", 0, 0, G_OPTION_ARG_NONE, &no_key_store,
      N_("Do not use the station's key store"), NULL },
    { NULL }
  };
  g_autoptr(GOptionContext) context = g_option_context_new (NULL);
  g_autoptr(GError) error = NULL;
  g_autoptr(PpStore) store = NULL;
  g_autofree char *seed = NULL;
  g_autofree char *checkpoint = NULL;
  PpAuditVerifyOptions options = { 0 };
  PpAuditReport report = { 0 };
  int status = 0;

  g_option_context_set_summary (context,
    _("Recomputes the SHA-256 chain of the audit journal, checks the seal (MAC) of\n"
      "every sealed entry and where the journal must end, and names the first entry\n"
      "that was edited, deleted, moved or forged. Exit status 1 if the journal is broken,\n"
      "2 if its chain is intact but it is not sealed (a warning: whoever can write the\n"
      "file could have rewritten it; seal it with “audit init-seal”), 0 otherwise.\n"
      "A demo store is never sealed and exits 0."));
  g_option_context_add_main_entries (context, entries, GETTEXT_PACKAGE);
  if (!pp_tool_parse (context, &argc, &argv))
    return 1;
  if (argc != 1)
    return pp_tool_fail (_("unexpected argument “%s” (see “%s --help”)"), argv[1], argv[0]);
  if (url != NULL)
    return refuse_remote ("verify");

  if (seed_path != NULL && !read_small_file (seed_path, &seed, &options.seed_len))
    return 1;
  if (checkpoint_path != NULL &&
      !read_small_file (checkpoint_path, &checkpoint, &options.checkpoint_len))
    {
      if (seed != NULL)
        memset (seed, 0, options.seed_len);
      return 1;
    }
  options.seed = seed;
  options.checkpoint = checkpoint;
  options.no_key_store = no_key_store;

  store = pp_tool_open_store (db_path, PP_TOOL_STORE_READ);
  if (store != NULL && !pp_store_audit_verify_full (store, &options, &report, &error))
    {
      if (report.first_bad_seq > 0)
        status = pp_tool_fail (_("audit journal broken at entry %lld: %s"),
                               (long long) report.first_bad_seq, error->message);
      else
        status = pp_tool_fail_error (error);
    }
  else if (store == NULL)
    status = 1;
  if (seed != NULL)
    memset (seed, 0, options.seed_len);
  if (status != 0)
    {
      pp_audit_report_clear (&report);
      return status;
    }

  printf (ngettext ("Audit journal intact: %llu entry\n",
                    "Audit journal intact: %llu entries\n",
                    (gulong) report.n_entries),
          (unsigned long long) report.n_entries);
  if (report.sealed_from > 0)
    printf (_("Sealed from entry %lld; %llu seals checked with %s\n"),
            (long long) report.sealed_from, (unsigned long long) report.n_macs_checked,
            report.used_seed ? _("the seed") : _("the station's key"));
  else if (report.demo)
    printf (_("Demo store: not sealed (its data is made up)\n"));
  else
    {
      /* Intact as far as the chain goes, which an intruder can recompute:
       * a script checking the exit status must hear it. */
      fflush (stdout);
      fprintf (stderr, _("warning: the audit journal is not sealed: an intruder who can write "
                         "the file could rewrite it unnoticed; seal it with “posprov-tool audit init-seal”\n"));
      status = 2;
    }
  if (report.checkpoint_seq > 0)
    printf (_("Matches the checkpoint at entry %lld\n"), (long long) report.checkpoint_seq);
  if (report.note != NULL)
    printf (_("Note: %s\n"), report.note);
  pp_audit_report_clear (&report);
  return status;
}

static int
audit_init_seal (int    argc,
                 char **argv)
{
  g_autofree char *db_path = NULL;
  g_autofree char *url = NULL;
  g_autofree char *out_path = NULL;
  int epoch_entries = PP_AUDIT_EPOCH_ENTRIES;
  int epoch_seconds = PP_AUDIT_EPOCH_SECONDS;
  GOptionEntry entries[] = {
    PP_TOOL_DB_OPTION (&db_path),
    PP_TOOL_REGISTRY_OPTION (&url),
    { "output", 'o', 0, G_OPTION_ARG_FILENAME, &out_path,
      N_("Write the seed to FILE (a new file; “-” prints it)"), N_("FILE") },
    { "epoch-entries", 0, 0, G_OPTION_ARG_INT, &epoch_entries,
      N_("Entries per key epoch (default 64)"), N_("N") },
    { "epoch-seconds", 0, 0, G_OPTION_ARG_INT, &epoch_seconds,
      N_("Longest key epoch in seconds, 0 for no limit (default 3600)"), N_("S") },
    { NULL }
  };
  g_autoptr(GOptionContext) context = g_option_context_new (NULL);
  g_autoptr(GError) error = NULL;
  g_autoptr(PpStore) store = NULL;
  g_autoptr(PpSecureBuffer) seed = NULL;
  g_autofree char *location = NULL;
  g_autofree char *passphrase = NULL;

  g_option_context_set_summary (context,
    _("Starts sealing the audit journal with a forward-secure key kept in the key store\n"
      "and writes the verification seed once. Keep the seed off the station: with it,\n"
      "“audit verify --seed” checks every entry even after the station is taken."));
  g_option_context_add_main_entries (context, entries, GETTEXT_PACKAGE);
  if (!pp_tool_parse (context, &argc, &argv))
    return 1;
  if (argc != 1)
    return pp_tool_fail (_("unexpected argument “%s” (see “%s --help”)"), argv[1], argv[0]);
  if (url != NULL)
    return refuse_remote ("init-seal");
  if (out_path == NULL)
    return pp_tool_fail (_("give the seed file with -o FILE (or -o - to print it)"));
  if (epoch_entries < 1 || epoch_seconds < 0)
    return pp_tool_fail (_("--epoch-entries must be at least 1 and --epoch-seconds not negative"));
  if (g_strcmp0 (out_path, "-") != 0 && g_file_test (out_path, G_FILE_TEST_EXISTS))
    return pp_tool_fail (_("%s exists already; the seed is written to a new file"), out_path);

  store = pp_tool_open_store (db_path, PP_TOOL_STORE_WRITE);
  if (store == NULL)
    return 1;
  seed = pp_store_audit_init_seal (store, (guint32) epoch_entries, (guint32) epoch_seconds,
                                   g_get_user_name (), &error);
  if (seed == NULL)
    return pp_tool_fail_error (error);
  if (!write_new_file (out_path, (const char *) pp_secure_buffer_peek (seed)))
    return pp_tool_fail (_("the journal is sealed but its seed was not saved: the seed can only be "
                           "made once; without it only the station's key checks the journal"));
  location = pp_store_get_key_store_location (store);
  passphrase = pp_store_get_key_store_passphrase_path (store);
  if (g_strcmp0 (out_path, "-") != 0)
    printf (_("Audit journal sealed; key store %s; seed written to %s: keep it off the station\n"),
            location, out_path);
  if (g_strcmp0 (out_path, "-") != 0 && passphrase != NULL)
    printf (_("The key store's passphrase is in %s (readable only by you); keep it out of "
              "backups of the store\n"), passphrase);
  return 0;
}

static int
audit_checkpoint (int    argc,
                  char **argv)
{
  g_autofree char *db_path = NULL;
  g_autofree char *url = NULL;
  g_autofree char *out_path = NULL;
  GOptionEntry entries[] = {
    PP_TOOL_DB_OPTION (&db_path),
    PP_TOOL_REGISTRY_OPTION (&url),
    { "output", 'o', 0, G_OPTION_ARG_FILENAME, &out_path,
      N_("Write the checkpoint to FILE (a new file; “-” prints it)"), N_("FILE") },
    { NULL }
  };
  g_autoptr(GOptionContext) context = g_option_context_new (NULL);
  g_autoptr(GError) error = NULL;
  g_autoptr(PpStore) store = NULL;
  g_autofree char *text = NULL;

  g_option_context_set_summary (context,
    _("Verifies the audit journal and writes a checkpoint of its end (entry, hash, time)\n"
      "signed with the journal's checkpoint key. Keep checkpoints off the station:\n"
      "“audit verify --checkpoint” then finds entries deleted or rewritten before it."));
  g_option_context_add_main_entries (context, entries, GETTEXT_PACKAGE);
  if (!pp_tool_parse (context, &argc, &argv))
    return 1;
  if (argc != 1)
    return pp_tool_fail (_("unexpected argument “%s” (see “%s --help”)"), argv[1], argv[0]);
  if (url != NULL)
    return refuse_remote ("checkpoint");
  if (out_path == NULL)
    return pp_tool_fail (_("give the checkpoint file with -o FILE (or -o - to print it)"));
  if (g_strcmp0 (out_path, "-") != 0 && g_file_test (out_path, G_FILE_TEST_EXISTS))
    return pp_tool_fail (_("%s exists already; the checkpoint is written to a new file"), out_path);

  store = pp_tool_open_store (db_path, PP_TOOL_STORE_READ);
  if (store == NULL)
    return 1;
  text = pp_store_audit_checkpoint (store, &error);
  if (text == NULL)
    return pp_tool_fail_error (error);
  if (!write_new_file (out_path, text))
    return 1;
  return 0;
}

/* ---- the entries, through the registry ---- */

static JsonNode *
audit_entry_json (gconstpointer item)
{
  return pp_registry_audit_entry_to_json (item);
}

static int
audit_list (int    argc,
            char **argv)
{
  g_autofree char *db_path = NULL;
  g_autofree char *url = NULL;
  gint64 after = 0;
  gboolean json = FALSE;
  GOptionEntry entries[] = {
    PP_TOOL_DB_OPTION (&db_path),
    PP_TOOL_REGISTRY_OPTION (&url),
    { "after", 0, 0, G_OPTION_ARG_INT64, &after, N_("Only the entries after this one"), N_("SEQ") },
    { "json", 0, 0, G_OPTION_ARG_NONE, &json,
      N_("Print one JSON object {\"entries\": […], \"count\": N}"), NULL },
    { NULL }
  };
  g_autoptr(GOptionContext) context = g_option_context_new (NULL);
  g_autoptr(GError) error = NULL;
  g_autoptr(PpToolRegistry) registry = NULL;
  g_autoptr(GPtrArray) all = g_ptr_array_new_with_free_func ((GDestroyNotify) pp_audit_entry_free);
  guint got;

  g_option_context_set_summary (context,
    _("Lists the audit journal’s entries, oldest first, from the store (--db) or the registry\n"
      "service (--registry), as the user in PP_REGISTRY_USER (a reviewer or an administrator).\n"
      "It does not verify them: “audit verify --db” does, where the journal’s key is."));
  g_option_context_add_main_entries (context, entries, GETTEXT_PACKAGE);
  if (!pp_tool_parse (context, &argc, &argv))
    return 1;
  if (argc != 1)
    return pp_tool_fail (_("unexpected argument “%s” (see “%s --help”)"), argv[1], argv[0]);
  registry = pp_tool_open_registry (db_path, url, &error);
  if (registry == NULL)
    return pp_tool_fail_error (error);
  /* A page at a time, after the last one read, until a page is short. */
  do
    {
      g_autoptr(GAsyncResult) res = NULL;
      g_autoptr(GPtrArray) page = NULL;

      pp_registry_list_audit_async (registry, after, PP_REGISTRY_PAGE_MAX, NULL, pp_tool_registry_got, &res);
      page = pp_registry_list_audit_finish (registry, pp_tool_registry_wait (&res), &error);
      if (page == NULL)
        return pp_tool_fail_error (error);
      got = page->len;
      if (got > 0)
        after = ((PpAuditEntry *) g_ptr_array_index (page, got - 1))->seq;
      g_ptr_array_extend_and_steal (all, g_steal_pointer (&page));
    }
  while (got == PP_REGISTRY_PAGE_MAX);

  if (json)
    {
      pp_tool_print_json_list ("entries", all, audit_entry_json);
      return 0;
    }
  if (all->len == 0)
    {
      printf ("%s\n", _("No journal entries."));
      return 0;
    }
  for (guint i = 0; i < all->len; i++)
    {
      PpAuditEntry *e = g_ptr_array_index (all, i);
      g_autoptr(GDateTime) dt = g_date_time_new_from_unix_utc (e->time);
      g_autofree char *time = dt != NULL ? g_date_time_format_iso8601 (dt) : g_strdup ("-");
      g_autofree char *line = g_strdup_printf ("%" G_GINT64_FORMAT "  %s  %s  %s  %s", e->seq, time,
                                               e->actor, e->action, e->subject != NULL ? e->subject : "-");
      g_autofree char *safe = pp_tool_printable (line);

      puts (safe != NULL ? safe : line);
    }
  return 0;
}

static const PpToolCommand audit_commands[] = {
  { "verify", audit_verify, N_("Verify the hash chain and seals of the audit journal") },
  { "init-seal", audit_init_seal, N_("Start sealing the audit journal; write its seed once") },
  { "checkpoint", audit_checkpoint, N_("Export a signed checkpoint of the audit journal") },
  { "list", audit_list, N_("List the journal’s entries (through the registry: --db or --registry)") },
  { NULL, NULL, NULL }
};

int
pp_tool_audit_main (int    argc,
                    char **argv)
{
  return pp_tool_dispatch (argv[0], audit_commands, argc, argv);
}
