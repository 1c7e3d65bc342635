/* SPDX-License-Identifier: GPL-3.0-or-later
 *
 * test-audit-seal.c: the sealed audit journal against an intruder who can
 * write the store file. Each attack edits a real SQLite file as an intruder
 * would (triggers dropped, the SHA-256 chain and audit_head recomputed, and
 * for the strongest one the MACs too, with the station's current key), and
 * verify must name it: with the station's key store, with the seed the
 * administrator kept, or with a signed checkpoint. Also: a journal whose
 * stored columns are not what posprov writes is not "intact".
 */
#include "config.h"

#include <sqlite3.h>
#include <string.h>

#include <gio/gio.h>
#include <glib/gstdio.h>

#include "pp-keystore.h"
#include "pp-store.h"
#include "pp-test-util.h"

#define SECRET "journal-test-secret"
#define EPOCH 4

static char *tmp_dir;
static char *base_path;
static char *seed_text;
static char *checkpoint_text;
static gint64 n_entries;
static gint64 sealed_from;

static void
sql_exec (const char *path,
          const char *sql)
{
  sqlite3 *db = NULL;
  char *msg = NULL;

  g_assert_cmpint (sqlite3_open (path, &db), ==, SQLITE_OK);
  if (sqlite3_exec (db, sql, NULL, NULL, &msg) != SQLITE_OK)
    g_error ("%s: %s", sql, msg);
  sqlite3_close (db);
}

static gint64
sql_int (const char *path,
         const char *sql)
{
  sqlite3 *db = NULL;
  sqlite3_stmt *stmt = NULL;
  gint64 n;

  g_assert_cmpint (sqlite3_open (path, &db), ==, SQLITE_OK);
  g_assert_cmpint (sqlite3_prepare_v2 (db, sql, -1, &stmt, NULL), ==, SQLITE_OK);
  g_assert_cmpint (sqlite3_step (stmt), ==, SQLITE_ROW);
  n = sqlite3_column_int64 (stmt, 0);
  sqlite3_finalize (stmt);
  sqlite3_close (db);
  return n;
}

static void
add_terminal (PpStore *store,
              int      i)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *serial = g_strdup_printf ("SEAL-%04d", i);
  PpTerminalIntake row = { serial, "PAX", "A920" };

  g_assert_true (pp_store_add_terminals (store, &row, 1, "alice", &error));
  g_assert_no_error (error);
}

static void
build_base (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(PpStore) store = NULL;
  g_autoptr(PpSecureBuffer) seed = NULL;

  tmp_dir = pp_test_make_tmpdir ();
  base_path = g_build_filename (tmp_dir, "base.db", NULL);
  store = pp_store_open (base_path, &error);
  g_assert_no_error (error);
  for (int i = 0; i < 3; i++)
    add_terminal (store, i);

  /* A key store named in POSPROV_KEY_STORE without its secret: sealing is
   * refused, saying what to set (only the default one has a passphrase file). */
  {
    g_autofree char *other = g_build_filename (tmp_dir, "other-keys", NULL);

    g_setenv (PP_STORE_KEY_STORE_ENV, other, TRUE);
    g_unsetenv (PP_STORE_KEY_STORE_SECRET_ENV);
    g_assert_null (pp_store_audit_init_seal (store, EPOCH, 0, "carol", &error));
    g_assert_error (error, PP_STORE_ERROR, PP_STORE_ERROR_OPEN);
    g_assert_nonnull (strstr (error->message, PP_STORE_KEY_STORE_SECRET_ENV));
    g_clear_error (&error);
    g_unsetenv (PP_STORE_KEY_STORE_ENV);
  }

  g_setenv (PP_STORE_KEY_STORE_SECRET_ENV, SECRET, TRUE);
  seed = pp_store_audit_init_seal (store, EPOCH, 0, "carol", &error);
  g_assert_no_error (error);
  seed_text = g_strdup ((const char *) pp_secure_buffer_peek (seed));
  sealed_from = 4;
  g_assert_null (pp_store_audit_init_seal (store, EPOCH, 0, "carol", &error));
  g_assert_error (error, PP_STORE_ERROR, PP_STORE_ERROR_DUPLICATE);
  g_clear_error (&error);

  for (int i = 3; i < 25; i++)
    add_terminal (store, i);
  checkpoint_text = pp_store_audit_checkpoint (store, &error);
  g_assert_no_error (error);
  g_clear_object (&store);

  sql_exec (base_path, "PRAGMA wal_checkpoint(TRUNCATE)");
  n_entries = sql_int (base_path, "SELECT count(*) FROM audit");
  g_assert_cmpint (n_entries, ==, 26);
  g_assert_cmpint (sql_int (base_path, "SELECT min(seq) FROM audit WHERE mac IS NOT NULL"), ==,
                   sealed_from);
  /* 23 sealed entries, 4 per epoch: epochs 0..5 (5 holds 24..26), the station's key at 5. */
  g_assert_cmpint (sql_int (base_path, "SELECT max(epoch) FROM audit"), ==, 5);
  g_assert_cmpint (sql_int (base_path, "SELECT count(*) FROM audit WHERE epoch_mac IS NOT NULL"), ==, 5);
}

static char *
copy_base (void)
{
  static int counter;
  g_autofree char *name = g_strdup_printf ("copy-%d.db", counter++);
  char *path = g_build_filename (tmp_dir, name, NULL);
  g_autoptr(GFile) src = g_file_new_for_path (base_path);
  g_autoptr(GFile) dst = g_file_new_for_path (path);
  g_autoptr(GError) error = NULL;

  g_file_copy (src, dst, G_FILE_COPY_OVERWRITE, NULL, NULL, NULL, &error);
  g_assert_no_error (error);
  return path;
}

typedef enum {
  WITH_STATION_KEY = 0,
  WITH_SEED = 1 << 0,
  WITH_CHECKPOINT = 1 << 1,
  NO_KEY_STORE = 1 << 2,
} How;

/* What verify reports: 0 if intact, else the entry named; the message
 * must contain @named. */
static gint64
verify_file (const char *path,
             How         how,
             const char *named)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(PpStore) store = pp_store_open (path, &error);
  PpAuditVerifyOptions options = { 0 };
  PpAuditReport report = { 0 };
  gboolean ok;
  gint64 bad;

  g_assert_no_error (error);
  if (how & WITH_SEED)
    options.seed = seed_text, options.seed_len = strlen (seed_text);
  if (how & WITH_CHECKPOINT)
    options.checkpoint = checkpoint_text, options.checkpoint_len = strlen (checkpoint_text);
  options.no_key_store = (how & NO_KEY_STORE) != 0;
  ok = pp_store_audit_verify_full (store, &options, &report, &error);
  bad = report.first_bad_seq;
  pp_audit_report_clear (&report);
  if (ok)
    {
      g_assert_no_error (error);
      g_assert_null (named);
      return 0;
    }
  g_assert_error (error, PP_STORE_ERROR, PP_STORE_ERROR_INVALID);
  g_test_message ("verify: %s", error->message);
  g_assert_nonnull (named);
  if (strstr (error->message, named) == NULL)
    g_error ("“%s” does not say “%s”", error->message, named);
  return bad;
}

/* The intruder's tools: triggers off, then SQL. */
static void
tamper (const char *path,
        const char *sql)
{
  g_autofree char *all = g_strconcat ("DROP TRIGGER IF EXISTS audit_no_update;"
                                      "DROP TRIGGER IF EXISTS audit_no_delete;", sql, NULL);
  sql_exec (path, all);
}

static void
netstring (GChecksum  *sum,
           const char *value)
{
  g_autofree char *len = g_strdup_printf ("%zu:", strlen (value));

  g_checksum_update (sum, (const guchar *) len, -1);
  g_checksum_update (sum, (const guchar *) value, -1);
  g_checksum_update (sum, (const guchar *) ",", 1);
}

/* Recomputes the documented SHA-256 chain from entry 1 and the head, as an
 * intruder who read docs/store.md would. With @key (the station's current
 * key, read from its key store) the intruder also re-MACs every sealed
 * entry from @from_seq on, claiming the key's epoch (epoch_mac is left as
 * it is: making one needs the previous epoch's key). */
static void
rechain (const char         *path,
         const PpJournalKey *key,
         gint64              from_seq)
{
  sqlite3 *db = NULL;
  sqlite3_stmt *stmt = NULL;
  g_autoptr(GString) sql = g_string_new ("BEGIN;");
  g_autofree char *prev = g_strnfill (64, '0');
  gint64 last = 0;

  g_assert_cmpint (sqlite3_open (path, &db), ==, SQLITE_OK);
  g_assert_cmpint (sqlite3_prepare_v2 (db, "SELECT seq, time, actor, action, subject, detail, mac "
                                           "FROM audit ORDER BY seq", -1, &stmt, NULL), ==, SQLITE_OK);
  while (sqlite3_step (stmt) == SQLITE_ROW)
    {
      g_autoptr(GChecksum) sum = g_checksum_new (G_CHECKSUM_SHA256);
      g_autofree char *seq = g_strdup_printf ("%" G_GINT64_FORMAT, (gint64) sqlite3_column_int64 (stmt, 0));
      g_autofree char *time = g_strdup_printf ("%" G_GINT64_FORMAT, (gint64) sqlite3_column_int64 (stmt, 1));
      gint64 n = sqlite3_column_int64 (stmt, 0);
      const char *hash;

      netstring (sum, seq);
      netstring (sum, time);
      for (int c = 2; c <= 5; c++)
        netstring (sum, (const char *) sqlite3_column_text (stmt, c));
      netstring (sum, prev);
      hash = g_checksum_get_string (sum);
      g_string_append_printf (sql, "UPDATE audit SET prev_hash = '%s', hash = '%s' WHERE seq = %"
                              G_GINT64_FORMAT ";", prev, hash, n);
      if (key != NULL && n >= from_seq && sqlite3_column_type (stmt, 6) != SQLITE_NULL)
        {
          char mac[65];

          pp_journal_key_entry_mac (key, (guint64) n, hash, mac);
          g_string_append_printf (sql, "UPDATE audit SET epoch = %" G_GUINT64_FORMAT ", mac = '%s' "
                                  "WHERE seq = %" G_GINT64_FORMAT ";",
                                  key->epoch, mac, n);
        }
      g_free (prev);
      prev = g_strdup (hash);
      last = n;
    }
  sqlite3_finalize (stmt);
  sqlite3_close (db);
  g_string_append_printf (sql, "UPDATE audit_head SET seq = %" G_GINT64_FORMAT ", hash = '%s';"
                          "COMMIT;", last, prev);
  sql_exec (path, sql->str);
}

static PpJournalKey *
station_key (void)
{
  g_autofree char *dir = g_build_filename (tmp_dir, "keys", NULL);
  g_autoptr(GError) error = NULL;
  g_autoptr(PpKeyStore) keys = pp_key_store_soft_new (dir, SECRET, &error);
  PpJournalKey *key;

  g_assert_no_error (error);
  key = pp_key_store_load_journal_key (keys, PP_JOURNAL_KEY_LABEL, &error);
  g_assert_no_error (error);
  return key;
}

static void
test_seal_intact (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(PpStore) store = pp_store_open (base_path, &error);
  PpAuditVerifyOptions options = { seed_text, strlen (seed_text), checkpoint_text,
                                   strlen (checkpoint_text), FALSE };
  PpAuditReport report = { 0 };
  g_autoptr(PpJournalKey) key = station_key ();
  g_autofree char *raw = NULL;
  gsize raw_len;

  g_assert_true (pp_store_audit_verify_full (store, &options, &report, &error));
  g_assert_no_error (error);
  g_assert_cmpint (report.n_entries, ==, n_entries);
  g_assert_cmpint (report.sealed_from, ==, sealed_from);
  g_assert_cmpint (report.n_macs_checked, ==, n_entries - sealed_from + 1);
  g_assert_cmpint (report.checkpoint_seq, ==, n_entries);
  g_assert_true (report.used_seed);
  pp_audit_report_clear (&report);

  /* The station's key has moved on (forward-secure): it is not the seed. */
  g_assert_cmpuint (key->epoch, ==, 5);
  /* Neither key is in the database file. */
  g_assert_true (g_file_get_contents (base_path, &raw, &raw_len, NULL));
  {
    g_autofree char *hex = pp_secure_buffer_to_hex (key->key);
    g_autofree char *lower = g_ascii_strdown (hex, -1);

    g_assert_null (strstr (seed_text, hex));
    g_assert_null (strstr (seed_text, lower));
    g_assert_null (g_strstr_len (raw, raw_len, lower));
    g_assert_null (g_strstr_len (raw, raw_len, strstr (seed_text, "epoch-0-key: ") + 13));
  }
}

static void
test_edit_and_recompute (void)
{
  /* An entry of an earlier epoch: its MAC was made with a key the station
   * no longer holds, and the seed recomputes it. */
  {
    g_autofree char *path = copy_base ();

    tamper (path, "UPDATE audit SET actor = 'mallory' WHERE seq = 6");
    rechain (path, NULL, 0);
    g_assert_cmpint (verify_file (path, WITH_SEED, "audit entry 6 was rewritten, moved or forged: "
                                  "its seal does not match (checked with the seed)"), ==, 6);
  }
  /* An entry of the current epoch: the station's own key is enough. */
  {
    g_autofree char *path = copy_base ();

    tamper (path, "UPDATE audit SET subject = 'SEAL-9999' WHERE seq = 25");
    rechain (path, NULL, 0);
    g_assert_cmpint (verify_file (path, WITH_STATION_KEY,
                                  "its seal does not match (checked with the station's key)"), ==, 25);
  }
  /* The whole station taken: the intruder re-MACs with today's key. The
   * seed still knows epoch 1 started at entry 8 under epoch 0's key. */
  {
    g_autofree char *path = copy_base ();
    g_autoptr(PpJournalKey) key = station_key ();

    tamper (path, "UPDATE audit SET actor = 'mallory' WHERE seq = 9");
    rechain (path, key, 9);
    g_assert_cmpint (verify_file (path, WITH_SEED, "audit entry 9 was forged or moved: it claims "
                                  "key epoch 5 after epoch 1"), ==, 9);
  }
  /* ... and cannot move the boundary back either: it would need epoch 4's key. */
  {
    g_autofree char *path = copy_base ();
    g_autoptr(PpJournalKey) key = station_key ();

    tamper (path, "UPDATE audit SET actor = 'mallory' WHERE seq = 23;"
                  "UPDATE audit SET epoch_mac = (SELECT epoch_mac FROM audit WHERE seq = 24) WHERE seq = 21;"
                  "UPDATE audit SET epoch_mac = NULL WHERE seq = 24");
    rechain (path, key, 21);
    g_assert_cmpint (verify_file (path, WITH_SEED, "the seal that starts key epoch 5 does not match"),
                     ==, 21);
  }
}

static void
test_delete_last (void)
{
  /* The last entry: within the current epoch, only a checkpoint knows. */
  {
    g_autofree char *path = copy_base ();

    tamper (path, "DELETE FROM audit WHERE seq = 26");
    rechain (path, NULL, 0);
    g_assert_cmpint (verify_file (path, WITH_STATION_KEY, NULL), ==, 0);
    g_assert_cmpint (verify_file (path, WITH_CHECKPOINT, "the journal was truncated: it ends at "
                                  "entry 25 but the checkpoint of"), ==, 26);
  }
  /* The last three: back into epoch 4, but the station's key is at 5. */
  {
    g_autofree char *path = copy_base ();

    tamper (path, "DELETE FROM audit WHERE seq > 23");
    rechain (path, NULL, 0);
    g_assert_cmpint (verify_file (path, WITH_STATION_KEY, "the journal was truncated: the station's "
                                  "key is at epoch 5 but the journal ends at entry 23 in epoch 4"), ==, 24);
    g_assert_cmpint (verify_file (path, WITH_CHECKPOINT | NO_KEY_STORE, "truncated"), ==, 24);
  }
  /* The station refuses to go on writing a truncated journal. */
  {
    g_autofree char *path = copy_base ();
    g_autoptr(GError) error = NULL;
    g_autoptr(PpStore) store = NULL;
    PpTerminalIntake row = { "AFTER-0001", "PAX", "A920" };

    tamper (path, "DELETE FROM audit WHERE seq > 19");
    rechain (path, NULL, 0);
    tamper (path, "UPDATE audit_head SET epoch = 3");
    store = pp_store_open (path, &error);
    g_assert_false (pp_store_add_terminals (store, &row, 1, "alice", &error));
    g_assert_error (error, PP_STORE_ERROR, PP_STORE_ERROR_INVALID);
    g_assert_nonnull (strstr (error->message, "entries were deleted"));
  }
}

static void
test_delete_renumber (void)
{
  g_autofree char *path = copy_base ();

  tamper (path, "DELETE FROM audit WHERE seq = 10; UPDATE audit SET seq = seq - 1 WHERE seq > 10");
  rechain (path, NULL, 0);
  g_assert_cmpint (verify_file (path, WITH_SEED, "audit entry 10 was rewritten, moved or forged"), ==, 10);
  /* Without the seed: the end moved back into an older epoch. */
  g_assert_cmpint (verify_file (path, WITH_STATION_KEY, "its seal does not match"), >=, 20);
}

static void
test_reorder (void)
{
  g_autofree char *path = copy_base ();

  tamper (path, "UPDATE audit SET seq = -1 WHERE seq = 13;"
                "UPDATE audit SET seq = 13 WHERE seq = 14;"
                "UPDATE audit SET seq = 14 WHERE seq = -1;");
  rechain (path, NULL, 0);
  g_assert_cmpint (verify_file (path, WITH_SEED, "audit entry 13 was rewritten, moved or forged"), ==, 13);
}

static void
test_insert_and_append (void)
{
  /* A forged entry appended without a seal. */
  {
    g_autofree char *path = copy_base ();

    tamper (path, "INSERT INTO audit (seq, time, actor, action, subject, detail, prev_hash, hash) "
                  "SELECT 27, time, 'carol', 'order.approve', 'AUD', '{}', '', '' FROM audit WHERE seq = 26");
    rechain (path, NULL, 0);
    g_assert_cmpint (verify_file (path, WITH_STATION_KEY, "audit entry 27 has no seal: it was added "
                                  "or rewritten outside posprov"), ==, 27);
  }
  /* A forged entry inserted in the middle, the rest renumbered, its MAC
   * copied from its new neighbour's slot. */
  {
    g_autofree char *path = copy_base ();

    tamper (path, "UPDATE audit SET seq = seq + 100 WHERE seq >= 12;"
                  "UPDATE audit SET seq = seq - 99 WHERE seq >= 112;"
                  "INSERT INTO audit (seq, time, actor, action, subject, detail, prev_hash, hash, epoch, mac) "
                  "SELECT 12, time, 'carol', 'order.approve', 'AUD', '{}', '', '', epoch, mac FROM audit WHERE seq = 11");
    rechain (path, NULL, 0);
    g_assert_cmpint (verify_file (path, WITH_SEED, "audit entry 12 was forged"), ==, 12);
  }
  /* A forged unsealed entry slipped in before the seal started. */
  {
    g_autofree char *path = copy_base ();

    tamper (path, "UPDATE audit SET actor = 'mallory' WHERE seq = 2");
    rechain (path, NULL, 0);
    /* Entries older than the seal have only the chain (documented). */
    g_assert_cmpint (verify_file (path, WITH_SEED, "audit entry 4 was rewritten, moved or forged"), ==, 4);
  }
}

static void
test_delete_everything (void)
{
  {
    g_autofree char *path = copy_base ();

    tamper (path, "DELETE FROM audit; DELETE FROM audit_head");
    g_assert_cmpint (verify_file (path, WITH_STATION_KEY, "the journal was truncated: it was sealed "
                                  "at entry 4 but ends at entry 0"), ==, 1);
    g_assert_cmpint (verify_file (path, WITH_SEED, "truncated"), ==, 1);
  }
  /* ... and the seal's record in the store too. */
  {
    g_autofree char *path = copy_base ();

    tamper (path, "DELETE FROM audit; DELETE FROM audit_head; DELETE FROM settings WHERE key = 'journal_id'");
    g_assert_cmpint (verify_file (path, WITH_STATION_KEY, "its seal was removed"), ==, 4);
    g_assert_cmpint (verify_file (path, WITH_SEED | NO_KEY_STORE, "its seal was removed"), ==, 4);
  }
}

static void
test_checkpoint_forged (void)
{
  g_autofree char *path = copy_base ();
  g_autofree char *saved = checkpoint_text;
  g_autoptr(GString) forged = g_string_new (saved);
  char *seq = strstr (forged->str, "\nseq: ");

  g_assert_nonnull (seq);
  /* seq 24 -> 21: a checkpoint that would accept the truncated journal. */
  seq[6] = '2', seq[7] = '1';
  checkpoint_text = forged->str;
  g_assert_cmpint (verify_file (path, WITH_CHECKPOINT, "the checkpoint's signature does not match"), ==, 0);
  checkpoint_text = g_steal_pointer (&saved);

  /* A rewritten history under the same length: the checkpoint's head differs. */
  tamper (path, "UPDATE audit SET actor = 'mallory' WHERE seq = 2");
  rechain (path, NULL, 0);
  g_assert_cmpint (verify_file (path, WITH_CHECKPOINT | NO_KEY_STORE, "the journal was rewritten: "
                                "entries up to 26 differ from the checkpoint of"), ==, 26);
}

static void
test_stored_types (void)
{
  /* Each stays the same number or string to a careless reader, so the
   * hashes match; what is stored is still not what posprov wrote. */
  static const struct { const char *set; const char *column; } cases[] = {
    { "time = CAST (time AS TEXT) || 'abc'", "its time is not stored" },
    { "time = time + 0.5", "its time is not stored" },
    { "actor = actor || char (0) || 'x'", "its actor is not stored" },
    { "detail = CAST (detail AS BLOB)", "its detail is not stored" },
    { "mac = mac || char (0) || 'x'", "its mac is not stored" },
  };

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autofree char *path = copy_base ();
      g_autofree char *sql = g_strdup_printf ("UPDATE audit SET %s WHERE seq = 7", cases[i].set);

      tamper (path, sql);
      g_assert_cmpint (verify_file (path, WITH_SEED, cases[i].column), ==, 7);
    }
}

static void
test_tool (void)
{
  g_autofree char *dir = pp_test_make_tmpdir ();
  g_autofree char *db = g_build_filename (dir, "station.db", NULL);
  g_autofree char *csv = g_build_filename (dir, "in.csv", NULL);
  g_autofree char *seed = g_build_filename (dir, "seed.txt", NULL);
  g_autofree char *cp = g_build_filename (dir, "cp.txt", NULL);
  g_autofree char *out = NULL;
  g_autofree char *err = NULL;
  g_autofree char *seed_contents = NULL;
  const char *import[] = { "registry", "import", "--db", db, csv, NULL };
  const char *init[] = { "audit", "init-seal", "--db", db, "-o", seed, "--epoch-entries", "2", NULL };
  const char *checkpoint[] = { "audit", "checkpoint", "--db", db, "-o", cp, NULL };
  const char *verify[] = { "audit", "verify", "--db", db, "--seed", seed, "--checkpoint", cp, NULL };

  g_assert_true (g_file_set_contents (csv, "serial,vendor,model\nTOOL-0001,PAX,A920\n", -1, NULL));
  g_assert_cmpint (pp_test_run_tool (import, NULL, NULL, NULL), ==, 0);
  g_assert_cmpint (pp_test_run_tool (init, NULL, &out, &err), ==, 0);
  g_assert_nonnull (strstr (out, "seed written to"));
  g_assert_true (g_file_get_contents (seed, &seed_contents, NULL, NULL));
  g_assert_true (g_str_has_prefix (seed_contents, "posprov-journal-seed 1\n"));
  g_clear_pointer (&out, g_free);
  g_clear_pointer (&err, g_free);
  g_assert_cmpint (pp_test_run_tool (init, NULL, NULL, &err), ==, 1);
  g_assert_nonnull (strstr (err, "exists already"));
  g_clear_pointer (&err, g_free);

  g_assert_true (g_file_set_contents (csv, "serial,vendor,model\nTOOL-0002,PAX,A920\n", -1, NULL));
  g_assert_cmpint (pp_test_run_tool (import, NULL, NULL, NULL), ==, 0);
  g_assert_cmpint (pp_test_run_tool (checkpoint, NULL, NULL, NULL), ==, 0);
  g_assert_cmpint (pp_test_run_tool (verify, NULL, &out, NULL), ==, 0);
  g_assert_nonnull (strstr (out, "Audit journal intact: 3 entries"));
  g_assert_nonnull (strstr (out, "Sealed from entry 2; 2 seals checked with the seed"));
  g_assert_nonnull (strstr (out, "Matches the checkpoint at entry 3"));
  g_clear_pointer (&out, g_free);

  tamper (db, "DELETE FROM audit; DELETE FROM audit_head");
  g_assert_cmpint (pp_test_run_tool (verify, NULL, NULL, &err), ==, 1);
  g_assert_nonnull (strstr (err, "audit journal broken at entry 1: the journal was truncated"));
}

static const char *
softhsm_module (void)
{
  static const char * const paths[] = {
    "/usr/lib/softhsm/libsofthsm2.so",
    "/usr/lib/x86_64-linux-gnu/softhsm/libsofthsm2.so",
    "/usr/lib/aarch64-linux-gnu/softhsm/libsofthsm2.so",
    "/usr/lib64/pkcs11/libsofthsm2.so",
  };

  for (guint i = 0; i < G_N_ELEMENTS (paths); i++)
    if (g_file_test (paths[i], G_FILE_TEST_EXISTS))
      return paths[i];
  return NULL;
}

/* The journal key and the checkpoint key in a SoftHSM2 token named by
 * POSPROV_KEY_STORE: init-seal, entries across several epochs (each epoch
 * change replaces the token's record), checkpoint and verify with the
 * seed, and no soft key store is made next to the store file. Before the
 * pkcs11 store kept secret records, init-seal failed: "The pkcs11 key
 * store cannot hold a journal key". */
static void
test_tool_pkcs11 (void)
{
  g_autofree char *util = g_find_program_in_path ("softhsm2-util");
  g_autofree char *dir = pp_test_make_tmpdir ();
  g_autofree char *db = g_build_filename (dir, "station.db", NULL);
  g_autofree char *csv = g_build_filename (dir, "in.csv", NULL);
  g_autofree char *seed = g_build_filename (dir, "seed.txt", NULL);
  g_autofree char *cp = g_build_filename (dir, "cp.txt", NULL);
  g_autofree char *keys = g_build_filename (dir, "keys", NULL);
  g_autofree char *tokens = g_build_filename (dir, "tokens", NULL);
  g_autofree char *conf = g_build_filename (dir, "softhsm2.conf", NULL);
  g_autofree char *conf_text = NULL, *uri = NULL, *out = NULL, *err = NULL;
  g_autoptr(PpKeyStore) token = NULL;
  g_autoptr(PpJournalKey) key = NULL;
  g_autoptr(GError) error = NULL;
  const char *module = softhsm_module ();
  const char *import[] = { "registry", "import", "--db", db, csv, NULL };
  const char *init[] = { "audit", "init-seal", "--db", db, "-o", seed, "--epoch-entries", "2", NULL };
  const char *checkpoint[] = { "audit", "checkpoint", "--db", db, "-o", cp, NULL };
  const char *verify[] = { "audit", "verify", "--db", db, "--seed", seed, "--checkpoint", cp, NULL };
  int status = -1;

  if (util == NULL || module == NULL)
    {
      g_test_skip ("SoftHSM2 is not installed (libsofthsm2.so or softhsm2-util missing; Debian package softhsm2)");
      return;
    }
  g_assert_cmpint (g_mkdir (tokens, 0700), ==, 0);
  conf_text = g_strdup_printf ("directories.tokendir = %s\nobjectstore.backend = file\nlog.level = ERROR\n", tokens);
  g_assert_true (g_file_set_contents (conf, conf_text, -1, NULL));
  g_setenv ("SOFTHSM2_CONF", conf, TRUE);
  {
    const char *argv[] = { util, "--init-token", "--free", "--label", "journal", "--pin", "2468",
                           "--so-pin", "1357", NULL };

    g_assert_true (g_spawn_sync (NULL, (char **) argv, NULL, G_SPAWN_DEFAULT, NULL, NULL, &out, &err,
                                 &status, &error));
    g_assert_no_error (error);
    g_assert_true (g_spawn_check_wait_status (status, NULL));
    g_clear_pointer (&out, g_free);
    g_clear_pointer (&err, g_free);
  }
  uri = g_strdup_printf ("pkcs11:token=journal?module-path=%s", module);
  g_setenv (PP_STORE_KEY_STORE_ENV, uri, TRUE);
  g_setenv (PP_STORE_KEY_STORE_SECRET_ENV, "2468", TRUE);

  g_assert_true (g_file_set_contents (csv, "serial,vendor,model\nHSM-0001,PAX,A920\n", -1, NULL));
  g_assert_cmpint (pp_test_run_tool (import, NULL, NULL, NULL), ==, 0);
  g_assert_cmpint (pp_test_run_tool (init, NULL, &out, &err), ==, 0);
  g_assert_nonnull (strstr (out, "seed written to"));
  g_clear_pointer (&out, g_free);
  g_clear_pointer (&err, g_free);
  for (int i = 2; i <= 6; i++)
    {
      g_autofree char *row = g_strdup_printf ("serial,vendor,model\nHSM-%04d,PAX,A920\n", i);

      g_assert_true (g_file_set_contents (csv, row, -1, NULL));
      g_assert_cmpint (pp_test_run_tool (import, NULL, NULL, NULL), ==, 0);
    }
  g_assert_cmpint (pp_test_run_tool (checkpoint, NULL, NULL, NULL), ==, 0);
  g_assert_cmpint (pp_test_run_tool (verify, NULL, &out, &err), ==, 0);
  g_assert_nonnull (strstr (out, "Audit journal intact: 7 entries"));
  g_assert_nonnull (strstr (out, "Sealed from entry 2; 6 seals checked with the seed"));
  g_assert_nonnull (strstr (out, "Matches the checkpoint at entry 7"));
  g_assert_false (g_file_test (keys, G_FILE_TEST_EXISTS));

  /* The token holds the journal key, moved on past epoch 0. */
  token = pp_key_store_pkcs11_new (uri, "2468", &error);
  g_assert_no_error (error);
  key = pp_key_store_load_journal_key (token, PP_JOURNAL_KEY_LABEL, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (key->first_seq, ==, 2);
  g_assert_cmpuint (key->epoch, >=, 2);
  g_clear_object (&token);

  g_unsetenv (PP_STORE_KEY_STORE_ENV);
  g_setenv (PP_STORE_KEY_STORE_SECRET_ENV, SECRET, TRUE);
  g_unsetenv ("SOFTHSM2_CONF");
}

/* What the store and the key store say reaches a zh_CN user translated,
 * while what goes into the journal stays byte-identical whatever the
 * locale: an unsealed checkpoint, a wrong key store secret, a forged seal
 * (a message with a 64-bit entry number, which the catalogue only matches
 * when flagged c-format), and an import journalled under zh_CN. */
static void
test_errors_translated (void)
{
  g_autofree char *dir = pp_test_make_tmpdir ();
  g_autofree char *db = g_build_filename (dir, "station.db", NULL);
  g_autofree char *forged = g_build_filename (dir, "forged.db", NULL);
  g_autofree char *csv = g_build_filename (dir, "in.csv", NULL);
  g_autofree char *seed = g_build_filename (dir, "seed.txt", NULL);
  g_autofree char *cp = g_build_filename (dir, "cp.txt", NULL);
  g_autofree char *err = NULL;
  g_autofree char *out = NULL;
  g_autofree char *subject = NULL;
  const char *import[] = { "registry", "import", "--db", db, csv, NULL };
  const char *init[] = { "audit", "init-seal", "--db", db, "-o", seed, "--epoch-entries", "2", NULL };
  const char *checkpoint[] = { "audit", "checkpoint", "--db", db, "-o", cp, NULL };
  const char *verify[] = { "audit", "verify", "--db", db, "--seed", seed, NULL };
  const char *verify_forged[] = { "audit", "verify", "--db", forged, "--seed", seed, NULL };

  g_assert_true (g_file_set_contents (csv, "serial,vendor,model\nZH-0001,PAX,A920\n", -1, NULL));
  g_assert_cmpint (pp_test_run_tool (import, NULL, NULL, NULL), ==, 0);
  g_assert_cmpint (pp_test_run_tool_zh_cn (checkpoint, &err), ==, 1);
  g_assert_nonnull (strstr (err, "审计日志尚未封印；请先运行 audit init-seal"));
  g_clear_pointer (&err, g_free);

  g_assert_cmpint (pp_test_run_tool (init, NULL, NULL, NULL), ==, 0);
  g_setenv (PP_STORE_KEY_STORE_SECRET_ENV, "not-the-secret", TRUE);
  g_assert_cmpint (pp_test_run_tool_zh_cn (checkpoint, &err), ==, 1);
  g_setenv (PP_STORE_KEY_STORE_SECRET_ENV, SECRET, TRUE);
  /* Refused when the key store opens (its keystore.kdf checks the secret). */
  g_assert_nonnull (strstr (err, "无法打开审计日志的密钥库"));
  g_assert_nonnull (strstr (err, "的口令错误"));
  g_assert_false (g_file_test (cp, G_FILE_TEST_EXISTS));
  g_clear_pointer (&err, g_free);

  /* Journalled under zh_CN: the subject is the same English as always. */
  g_assert_true (g_file_set_contents (csv, "serial,vendor,model\nZH-0002,PAX,A920\n"
                                      "ZH-0003,PAX,A920\n", -1, NULL));
  g_assert_cmpint (pp_test_run_tool_zh_cn (import, &err), ==, 0);
  g_clear_pointer (&err, g_free);
  {
    sqlite3 *sdb = NULL;
    sqlite3_stmt *stmt = NULL;

    g_assert_cmpint (sqlite3_open (db, &sdb), ==, SQLITE_OK);
    g_assert_cmpint (sqlite3_prepare_v2 (sdb, "SELECT subject FROM audit ORDER BY seq DESC LIMIT 1",
                                         -1, &stmt, NULL), ==, SQLITE_OK);
    g_assert_cmpint (sqlite3_step (stmt), ==, SQLITE_ROW);
    subject = g_strdup ((const char *) sqlite3_column_text (stmt, 0));
    sqlite3_finalize (stmt);
    sqlite3_close (sdb);
  }
  g_assert_cmpstr (subject, ==, "2 terminals");
  g_assert_cmpint (pp_test_run_tool (verify, NULL, &out, NULL), ==, 0);
  g_test_message ("verify: %s", out);
  g_assert_nonnull (strstr (out, "Audit journal intact: 3 entries"));

  /* Entry 3 is sealed (sealing began at 2): its MAC no longer matches. */
  sql_exec (db, "PRAGMA wal_checkpoint(TRUNCATE)");
  {
    g_autoptr(GFile) src = g_file_new_for_path (db);
    g_autoptr(GFile) dst = g_file_new_for_path (forged);
    g_autoptr(GError) error = NULL;

    g_file_copy (src, dst, G_FILE_COPY_NONE, NULL, NULL, NULL, &error);
    g_assert_no_error (error);
  }
  tamper (forged, "UPDATE audit SET mac = '0000000000000000000000000000000000000000000000000000000000000000' "
                  "WHERE seq = 3");
  g_assert_cmpint (pp_test_run_tool_zh_cn (verify_forged, &err), ==, 1);
  g_assert_nonnull (strstr (err, "第 3 条审计记录被改写、移动或伪造：其封印不符（用种子校验）"));
}

/* The default key store needs no secret from anyone: sealing makes a random
 * passphrase in keys.passphrase (0600) beside the store, outside the database,
 * and every later connection (posprov-tool's too) finds and uses it; a
 * passphrase file others can read, or none, is refused, naming the file. */
static void
test_default_passphrase (void)
{
  g_autofree char *saved = g_strdup (g_getenv (PP_STORE_KEY_STORE_SECRET_ENV));
  g_autofree char *dir = pp_test_make_tmpdir ();
  g_autofree char *db = g_build_filename (dir, "station.db", NULL);
  g_autofree char *keys_dir = g_build_filename (dir, "keys", NULL);
  g_autofree char *pass_path = g_build_filename (dir, "keys.passphrase", NULL);
  g_autofree char *hidden = g_build_filename (dir, "elsewhere", NULL);
  g_autofree char *seed_path = g_build_filename (dir, "seed.txt", NULL);
  g_autofree char *pass = NULL;
  g_autofree char *raw = NULL;
  g_autofree char *out = NULL;
  g_autofree char *path = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(PpStore) store = NULL;
  g_autoptr(PpSecureBuffer) seed = NULL;
  const char *verify_seed[] = { "audit", "verify", "--db", db, "--seed", seed_path, NULL };
  const char *verify[] = { "audit", "verify", "--db", db, NULL };
  gsize raw_len, pass_len;
  GStatBuf st;

  g_unsetenv (PP_STORE_KEY_STORE_SECRET_ENV);
  store = pp_store_open (db, &error);
  g_assert_no_error (error);
  add_terminal (store, 100);
  path = pp_store_get_key_store_passphrase_path (store);
  g_assert_cmpstr (path, ==, pass_path);
  g_assert_false (g_file_test (pass_path, G_FILE_TEST_EXISTS));
  seed = pp_store_audit_init_seal (store, EPOCH, 0, "root", &error);
  g_assert_no_error (error);
  g_assert_true (g_file_set_contents (seed_path, (const char *) pp_secure_buffer_peek (seed), -1, NULL));

  /* 64 random hex digits, for the owner alone, and nowhere in the database. */
  g_assert_cmpint (g_stat (pass_path, &st), ==, 0);
  g_assert_true (S_ISREG (st.st_mode));
  g_assert_cmpint (st.st_mode & 0777, ==, 0600);
  g_assert_true (g_file_get_contents (pass_path, &pass, &pass_len, NULL));
  g_assert_cmpuint (pass_len, ==, 65);
  g_assert_cmpint (pass[64], ==, '\n');
  pass[64] = '\0';
  for (guint i = 0; i < 64; i++)
    g_assert_true (g_ascii_isxdigit (pass[i]));
  g_clear_object (&store);
  sql_exec (db, "PRAGMA wal_checkpoint(TRUNCATE)");
  g_assert_true (g_file_get_contents (db, &raw, &raw_len, NULL));
  g_assert_null (g_strstr_len (raw, raw_len, pass));
  /* It is the key store's passphrase. */
  {
    g_autoptr(PpKeyStore) keys = pp_key_store_soft_new (keys_dir, pass, &error);
    g_autoptr(PpJournalKey) key = NULL;

    g_assert_no_error (error);
    key = pp_key_store_load_journal_key (keys, PP_JOURNAL_KEY_LABEL, &error);
    g_assert_no_error (error);
  }

  /* Another connection, as the station's next start or posprov-tool, seals
   * its entries with no secret given. */
  store = pp_store_open (db, &error);
  g_assert_no_error (error);
  for (int i = 101; i < 106; i++)
    add_terminal (store, i);
  g_clear_object (&store);
  g_assert_cmpint (sql_int (db, "SELECT count(*) FROM audit WHERE seq >= 2 AND mac IS NULL"), ==, 0);
  g_assert_cmpint (sql_int (db, "SELECT count(*) FROM audit WHERE mac IS NOT NULL"), ==, 6);
  g_assert_cmpint (pp_test_run_tool (verify, NULL, &out, NULL), ==, 0);
  g_assert_nonnull (strstr (out, "Audit journal intact: 7 entries"));
  g_assert_nonnull (strstr (out, "seals checked with the station's key"));
  g_clear_pointer (&out, g_free);
  g_assert_cmpint (pp_test_run_tool (verify_seed, NULL, &out, NULL), ==, 0);
  g_assert_nonnull (strstr (out, "Sealed from entry 2; 6 seals checked with the seed"));

  /* Readable by the group: refused, the journal unchanged. */
  g_assert_cmpint (g_chmod (pass_path, 0640), ==, 0);
  store = pp_store_open (db, &error);
  g_assert_no_error (error);
  {
    PpTerminalIntake row = { "SEAL-0200", "PAX", "A920" };

    g_assert_false (pp_store_add_terminals (store, &row, 1, "alice", &error));
    g_assert_error (error, PP_STORE_ERROR, PP_STORE_ERROR_OPEN);
    g_assert_nonnull (strstr (error->message, pass_path));
    g_assert_nonnull (strstr (error->message, "chmod 600"));
    g_clear_error (&error);
    g_clear_object (&store);
    g_assert_cmpint (g_chmod (pass_path, 0600), ==, 0);

    /* Gone: refused, naming it, and no new passphrase is made for the existing key store. */
    g_assert_cmpint (g_rename (pass_path, hidden), ==, 0);
    store = pp_store_open (db, &error);
    g_assert_no_error (error);
    g_assert_false (pp_store_add_terminals (store, &row, 1, "alice", &error));
    g_assert_error (error, PP_STORE_ERROR, PP_STORE_ERROR_OPEN);
    g_assert_nonnull (strstr (error->message, pass_path));
    g_clear_error (&error);
    g_assert_false (g_file_test (pass_path, G_FILE_TEST_EXISTS));
    g_clear_object (&store);
    g_assert_cmpint (g_rename (hidden, pass_path), ==, 0);
  }
  g_assert_cmpint (sql_int (db, "SELECT count(*) FROM audit"), ==, 7);

  if (saved != NULL)
    g_setenv (PP_STORE_KEY_STORE_SECRET_ENV, saved, TRUE);
}

/* A demo store is never sealed, even in a folder whose default key store
 * seals the real store's journal: verify says so and succeeds, sealing is
 * refused. */
static void
test_demo_not_sealed (void)
{
  g_autofree char *demo = g_build_filename (tmp_dir, "demo.db", NULL);
  g_autoptr(GError) error = NULL;
  g_autoptr(PpStore) store = NULL;
  g_autofree char *out = NULL;
  g_autofree char *err = NULL;
  PpStoreOptions options = { TRUE, NULL, NULL };
  PpAuditReport report = { 0 };
  const char *verify[] = { "audit", "verify", "--db", demo, NULL };

  store = pp_store_open_full (demo, &options, &error);
  g_assert_no_error (error);
  g_assert_true (pp_store_seed_demo (store, 5, &error));
  g_assert_no_error (error);
  g_assert_true (pp_store_audit_verify_full (store, NULL, &report, &error));
  g_assert_no_error (error);
  g_assert_true (report.demo);
  g_assert_false (report.used_station_key);
  g_assert_cmpint (report.sealed_from, ==, 0);
  pp_audit_report_clear (&report);
  g_assert_null (pp_store_audit_init_seal (store, EPOCH, 0, "carol", &error));
  g_assert_error (error, PP_STORE_ERROR, PP_STORE_ERROR_DEMO);
  g_clear_object (&store);

  g_assert_cmpint (pp_test_run_tool (verify, NULL, &out, &err), ==, 0);
  g_assert_nonnull (strstr (out, "Demo store: not sealed"));
  g_assert_cmpstr (err, ==, "");
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  /* The default key store: "keys" next to each store file. */
  g_unsetenv (PP_STORE_KEY_STORE_ENV);
  build_base ();
  g_test_add_func ("/audit-seal/intact", test_seal_intact);
  g_test_add_func ("/audit-seal/edit-and-recompute", test_edit_and_recompute);
  g_test_add_func ("/audit-seal/delete-last", test_delete_last);
  g_test_add_func ("/audit-seal/delete-renumber", test_delete_renumber);
  g_test_add_func ("/audit-seal/reorder", test_reorder);
  g_test_add_func ("/audit-seal/insert-and-append", test_insert_and_append);
  g_test_add_func ("/audit-seal/delete-everything", test_delete_everything);
  g_test_add_func ("/audit-seal/checkpoint-forged", test_checkpoint_forged);
  g_test_add_func ("/audit-seal/stored-types", test_stored_types);
  g_test_add_func ("/audit-seal/tool", test_tool);
  g_test_add_func ("/audit-seal/tool-pkcs11", test_tool_pkcs11);
  g_test_add_func ("/audit-seal/errors-translated", test_errors_translated);
  g_test_add_func ("/audit-seal/default-passphrase", test_default_passphrase);
  g_test_add_func ("/audit-seal/demo-not-sealed", test_demo_not_sealed);
  return g_test_run ();
}
