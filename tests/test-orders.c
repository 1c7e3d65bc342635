/* SPDX-License-Identifier: GPL-3.0-or-later
 *
 * test-orders.c: who may act on a work order. Every order verb is tried by a
 * name that is no user of the station and by a user of the wrong role: each
 * is refused with PP_STORE_ERROR_PERMISSION naming the user, their role and
 * the step, and leaves terminals, orders, approvals, issued numbers and the
 * audit journal exactly as they were (PCI PIN: a key-loading record must name
 * a real person entitled to do it). The right user then succeeds and is the
 * one journalled. Also: an open recycle order cannot be cancelled, and says
 * why.
 */
#include "config.h"

#include <sqlite3.h>
#include <string.h>

#include "pp-store.h"
#include "pp-store-fixture.h"
#include "pp-test-util.h"

typedef PpStoreFixture Fixture;

static void
fixture_set_up (Fixture       *f,
                gconstpointer  data)
{
  const PpTerminalIntake rows[] = {
    { "ORD-0001", "PAX", "A920" },
    { "ORD-0002", "PAX", "A920" },
  };

  pp_store_fixture_set_up (f, rows, G_N_ELEMENTS (rows), "setup");
}

static void
fixture_tear_down (Fixture       *f,
                   gconstpointer  data)
{
  pp_store_fixture_tear_down (f);
}

/* Over a second connection, as another reader of the file would see it. */
static char *
sql_text (Fixture    *f,
          const char *sql)
{
  sqlite3 *db = NULL;
  sqlite3_stmt *stmt = NULL;
  char *text;

  g_assert_cmpint (sqlite3_open (f->path, &db), ==, SQLITE_OK);
  g_assert_cmpint (sqlite3_prepare_v2 (db, sql, -1, &stmt, NULL), ==, SQLITE_OK);
  g_assert_cmpint (sqlite3_step (stmt), ==, SQLITE_ROW);
  text = g_strdup ((const char *) sqlite3_column_text (stmt, 0));
  sqlite3_finalize (stmt);
  sqlite3_close (db);
  return text;
}

static gint64
audit_count (Fixture *f)
{
  g_autofree char *n = sql_text (f, "SELECT count(*) FROM audit");

  return g_ascii_strtoll (n, NULL, 10);
}

/* Everything an order verb could touch, as one string. */
static char *
snapshot (Fixture *f)
{
  return sql_text (f,
    "SELECT (SELECT count(*) FROM audit) || '|' || "
    "(SELECT group_concat(serial || ':' || state || ':' || ifnull(merchant_id, '') || ':' || "
    "  ifnull(mid, '') || ':' || ifnull(tid, '') || ':' || ifnull(kcv, '') || ':' || "
    "  ifnull(program_version, ''), ';') FROM (SELECT * FROM terminals ORDER BY serial)) || '|' || "
    "ifnull((SELECT group_concat(id || ':' || kind || ':' || state || ':' || ifnull(kcv, '') || ':' || "
    "  updated_at, ';') FROM (SELECT * FROM work_orders ORDER BY id)), '') || '|' || "
    "(SELECT count(*) FROM approvals) || '|' || (SELECT count(*) FROM issued_numbers)");
}

static PpAuditEntry *
last_entry (Fixture *f)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) entries = pp_store_list_audit (f->store, audit_count (f) - 1, 10, &error);
  PpAuditEntry *e;

  g_assert_no_error (error);
  g_assert_cmpuint (entries->len, ==, 1);
  e = g_ptr_array_steal_index (entries, 0);
  return e;
}

/* The refusal a user would read, and nothing changed. */
static void
check_refused (Fixture     *f,
               gboolean     ok,
               GError     **error,
               const char  *before,
               gint64       audit_before,
               const char  *who,
               const char  *role,      /* NULL: not a user */
               const char  *what)
{
  g_autofree char *after = NULL;
  g_autofree char *quoted = g_strdup_printf ("“%s”", who);

  g_assert_false (ok);
  g_assert_error (*error, PP_STORE_ERROR, PP_STORE_ERROR_PERMISSION);
  g_assert_nonnull (strstr ((*error)->message, quoted));
  g_assert_nonnull (strstr ((*error)->message, what));
  if (role != NULL)
    {
      g_autofree char *paren = g_strdup_printf ("(%s)", role);
      g_assert_nonnull (strstr ((*error)->message, paren));
    }
  else
    g_assert_nonnull (strstr ((*error)->message, "is not a user of this station"));
  g_clear_error (error);

  g_assert_cmpint (audit_count (f), ==, audit_before);
  after = snapshot (f);
  g_assert_cmpstr (after, ==, before);
}

static void
test_install_actors (Fixture       *f,
                     gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(PpWorkOrder) o = NULL;
  g_autoptr(PpWorkOrder) none = NULL;
  g_autoptr(PpTerminal) t = NULL;
  g_autofree char *before = NULL;
  g_autofree char *what = NULL;
  g_autofree char *kcv = NULL;
  gint64 n;

  /* create */
  before = snapshot (f);
  n = audit_count (f);
  none = pp_store_create_install_order (f->store, "ORD-0001", f->merchant_id, "1.0", PP_TMK_AES_128, "mallory", &error);
  check_refused (f, none != NULL, &error, before, n, "mallory", NULL,
                 "open an install order for terminal ORD-0001");
  none = pp_store_create_install_order (f->store, "ORD-0001", f->merchant_id, "1.0", PP_TMK_AES_128, "bob", &error);
  check_refused (f, none != NULL, &error, before, n, "bob", "reviewer",
                 "open an install order for terminal ORD-0001");
  o = pp_store_create_install_order (f->store, "ORD-0001", f->merchant_id, "1.0", PP_TMK_AES_128, "Alice", &error);
  g_assert_no_error (error);
  g_assert_cmpstr (o->requester, ==, "alice");
  g_assert_cmpint (audit_count (f), ==, n + 1);

  /* approve and reject: reviewers only, as before */
  g_clear_pointer (&before, g_free);
  before = snapshot (f);
  n = audit_count (f);
  what = g_strdup_printf ("approve install work order %" G_GINT64_FORMAT, o->id);
  check_refused (f, pp_store_decide_order (f->store, o->id, "mallory", TRUE, NULL, &error), &error,
                 before, n, "mallory", NULL, what);
  check_refused (f, pp_store_decide_order (f->store, o->id, "carol", TRUE, NULL, &error), &error,
                 before, n, "carol", "administrator", what);
  g_clear_pointer (&what, g_free);
  what = g_strdup_printf ("reject install work order %" G_GINT64_FORMAT, o->id);
  check_refused (f, pp_store_decide_order (f->store, o->id, "mallory", FALSE, "no", &error), &error,
                 before, n, "mallory", NULL, what);
  check_refused (f, pp_store_decide_order (f->store, o->id, "carol", FALSE, "no", &error), &error,
                 before, n, "carol", "administrator", what);
  g_assert_true (pp_store_decide_order (f->store, o->id, "bob", TRUE, "documents checked", &error));
  g_assert_no_error (error);

  /* key release: runners only; the key store is asked only once the actor
   * passed, which the refused calls never reach. */
  g_clear_pointer (&what, g_free);
  what = g_strdup_printf ("release the key of install work order %" G_GINT64_FORMAT, o->id);
  kcv = pp_store_fixture_release (f, o->id, "alice");
  {
    g_autoptr(PpKeyStore) keys = g_object_ref (f->key_store);

    /* Refused: nothing more changes than the release above did. */
    g_clear_pointer (&before, g_free);
    before = snapshot (f);
    n = audit_count (f);
    check_refused (f, pp_store_order_key_released (f->store, o->id, keys, "tmk-0", "mallory", &error),
                   &error, before, n, "mallory", NULL, what);
    check_refused (f, pp_store_order_key_released (f->store, o->id, keys, "tmk-0", "rita", &error),
                   &error, before, n, "rita", "reviewer", what);
  }

  /* keyed: a refused actor is refused before the KCV comparison, so even a
   * mismatch journals nothing under a name that is not a user. */
  g_clear_pointer (&before, g_free);
  before = snapshot (f);
  n = audit_count (f);
  g_clear_pointer (&what, g_free);
  what = g_strdup_printf ("record keying of install work order %" G_GINT64_FORMAT, o->id);
  check_refused (f, pp_store_order_keyed (f->store, o->id, kcv, "mallory", &error), &error,
                 before, n, "mallory", NULL, what);
  check_refused (f, pp_store_order_keyed (f->store, o->id, "0000FF", "mallory", &error), &error,
                 before, n, "mallory", NULL, what);
  check_refused (f, pp_store_order_keyed (f->store, o->id, kcv, "bob", &error), &error,
                 before, n, "bob", "reviewer", what);
  check_refused (f, pp_store_order_keyed (f->store, o->id, kcv, "rita", &error), &error,
                 before, n, "rita", "reviewer", what);
  /* A mismatch by a real field manager is journalled under her name. */
  g_assert_false (pp_store_order_keyed (f->store, o->id, "0000FF", "ALICE", &error));
  g_assert_error (error, PP_STORE_ERROR, PP_STORE_ERROR_KCV_MISMATCH);
  g_clear_error (&error);
  {
    g_autoptr(PpAuditEntry) e = last_entry (f);
    g_assert_cmpstr (e->action, ==, "order.kcv_mismatch");
    g_assert_cmpstr (e->actor, ==, "alice");
  }
  g_assert_true (pp_store_order_keyed (f->store, o->id, kcv, "carol", &error));
  g_assert_no_error (error);
  {
    g_autoptr(PpAuditEntry) e = last_entry (f);
    g_assert_cmpstr (e->action, ==, "order.keyed");
    g_assert_cmpstr (e->actor, ==, "carol");
    g_assert_nonnull (strstr (e->detail, "\"approved_by\":\"bob\""));
  }
  t = pp_store_get_terminal (f->store, "ORD-0001", &error);
  g_assert_cmpint (pp_terminal_get_state (t), ==, PP_TERMINAL_STATE_KEYED);
  g_clear_object (&t);

  /* program installed */
  g_clear_pointer (&before, g_free);
  before = snapshot (f);
  n = audit_count (f);
  g_clear_pointer (&what, g_free);
  what = g_strdup_printf ("record the program installation of install work order %" G_GINT64_FORMAT, o->id);
  check_refused (f, pp_store_order_program_installed (f->store, o->id, "mallory", &error), &error,
                 before, n, "mallory", NULL, what);
  check_refused (f, pp_store_order_program_installed (f->store, o->id, "bob", &error), &error,
                 before, n, "bob", "reviewer", what);
  g_assert_true (pp_store_order_program_installed (f->store, o->id, "alice", &error));
  g_assert_no_error (error);

  /* close */
  g_clear_pointer (&before, g_free);
  before = snapshot (f);
  n = audit_count (f);
  g_clear_pointer (&what, g_free);
  what = g_strdup_printf ("close install work order %" G_GINT64_FORMAT, o->id);
  check_refused (f, pp_store_close_order (f->store, o->id, "mallory", &error), &error,
                 before, n, "mallory", NULL, what);
  check_refused (f, pp_store_close_order (f->store, o->id, "rita", &error), &error,
                 before, n, "rita", "reviewer", what);
  g_assert_true (pp_store_close_order (f->store, o->id, "alice", &error));
  g_assert_no_error (error);
  {
    g_autoptr(PpAuditEntry) e = last_entry (f);
    g_assert_cmpstr (e->action, ==, "order.close");
    g_assert_cmpstr (e->actor, ==, "alice");
  }
  t = pp_store_get_terminal (f->store, "ORD-0001", &error);
  g_assert_cmpint (pp_terminal_get_state (t), ==, PP_TERMINAL_STATE_INSTALLED);
  g_clear_object (&t);

  g_assert_true (pp_store_audit_verify (f->store, NULL, NULL, &error));
  g_assert_no_error (error);
}

static void
test_cancel_actors (Fixture       *f,
                    gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(PpWorkOrder) o = NULL;
  g_autoptr(PpTerminal) t = NULL;
  g_autofree char *before = NULL;
  g_autofree char *what = NULL;
  gint64 n;

  o = pp_store_create_install_order (f->store, "ORD-0002", f->merchant_id, "1.0", PP_TMK_AES_128, "alice", &error);
  g_assert_no_error (error);
  before = snapshot (f);
  n = audit_count (f);
  what = g_strdup_printf ("cancel install work order %" G_GINT64_FORMAT, o->id);
  check_refused (f, pp_store_cancel_order (f->store, o->id, "mallory", "why not", &error), &error,
                 before, n, "mallory", NULL, what);
  check_refused (f, pp_store_cancel_order (f->store, o->id, "bob", "why not", &error), &error,
                 before, n, "bob", "reviewer", what);
  t = pp_store_get_terminal (f->store, "ORD-0002", &error);
  g_assert_cmpint (pp_terminal_get_state (t), ==, PP_TERMINAL_STATE_PENDING_INSTALL);
  g_clear_object (&t);

  g_assert_true (pp_store_cancel_order (f->store, o->id, "carol", "merchant postponed", &error));
  g_assert_no_error (error);
  {
    g_autoptr(PpAuditEntry) e = last_entry (f);
    g_assert_cmpstr (e->action, ==, "order.cancel");
    g_assert_cmpstr (e->actor, ==, "carol");
  }
  t = pp_store_get_terminal (f->store, "ORD-0002", &error);
  g_assert_cmpint (pp_terminal_get_state (t), ==, PP_TERMINAL_STATE_IN_STOCK);
  g_assert_null (pp_terminal_get_tid (t));
}

/* Walks @serial to installed with the right people. */
static void
install (Fixture    *f,
         const char *serial)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(PpWorkOrder) o = pp_store_create_install_order (f->store, serial, f->merchant_id, "1.0", PP_TMK_AES_128,
                                                            "alice", &error);

  g_autofree char *kcv = NULL;

  g_assert_no_error (error);
  g_assert_true (pp_store_decide_order (f->store, o->id, "bob", TRUE, NULL, &error));
  kcv = pp_store_fixture_release (f, o->id, "alice");
  g_assert_true (pp_store_order_keyed (f->store, o->id, kcv, "alice", &error));
  g_assert_true (pp_store_order_program_installed (f->store, o->id, "alice", &error));
  g_assert_true (pp_store_close_order (f->store, o->id, "alice", &error));
  g_assert_no_error (error);
}

static void
test_recycle_actors (Fixture       *f,
                     gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(PpWorkOrder) r = NULL;
  g_autoptr(PpWorkOrder) none = NULL;
  g_autoptr(PpTerminal) t = NULL;
  g_autofree char *before = NULL;
  g_autofree char *what = NULL;
  g_autofree char *msg = NULL;
  gint64 n;

  install (f, "ORD-0001");

  before = snapshot (f);
  n = audit_count (f);
  none = pp_store_create_recycle_order (f->store, "ORD-0001", "mallory", NULL, &error);
  check_refused (f, none != NULL, &error, before, n, "mallory", NULL,
                 "open a recycle order for terminal ORD-0001");
  none = pp_store_create_recycle_order (f->store, "ord-0001", "rita", NULL, &error);
  check_refused (f, none != NULL, &error, before, n, "rita", "reviewer",
                 "open a recycle order for terminal ORD-0001");
  r = pp_store_create_recycle_order (f->store, "ORD-0001", "carol", "merchant closed", &error);
  g_assert_no_error (error);
  g_assert_cmpstr (r->requester, ==, "carol");

  /* An open recycle order cannot be cancelled: the terminal's binding and
   * KCV are gone and recycled -> installed is not a move of the lifecycle. */
  g_clear_pointer (&before, g_free);
  before = snapshot (f);
  n = audit_count (f);
  g_clear_pointer (&what, g_free);
  what = g_strdup_printf ("cancel recycle work order %" G_GINT64_FORMAT, r->id);
  check_refused (f, pp_store_cancel_order (f->store, r->id, "mallory", NULL, &error), &error,
                 before, n, "mallory", NULL, what);
  g_assert_false (pp_store_cancel_order (f->store, r->id, "alice", "changed my mind", &error));
  g_assert_error (error, PP_STORE_ERROR, PP_STORE_ERROR_ILLEGAL_TRANSITION);
  msg = g_strdup_printf ("recycle work order %" G_GINT64_FORMAT " cannot be cancelled: opening it "
                         "cleared terminal ORD-0001's merchant binding and key check value and a "
                         "recycled terminal cannot go back to installed; close it and open a new "
                         "install order", r->id);
  g_assert_cmpstr (error->message, ==, msg);
  g_clear_error (&error);
  {
    g_autofree char *after = snapshot (f);
    g_assert_cmpstr (after, ==, before);
  }
  t = pp_store_get_terminal (f->store, "ORD-0001", &error);
  g_assert_cmpint (pp_terminal_get_state (t), ==, PP_TERMINAL_STATE_RECYCLED);
  g_clear_object (&t);

  g_clear_pointer (&what, g_free);
  what = g_strdup_printf ("close recycle work order %" G_GINT64_FORMAT, r->id);
  check_refused (f, pp_store_close_order (f->store, r->id, "mallory", &error), &error,
                 before, n, "mallory", NULL, what);
  check_refused (f, pp_store_close_order (f->store, r->id, "bob", &error), &error,
                 before, n, "bob", "reviewer", what);
  /* Not approved by a reviewer (so not unbound): closing it would put a
   * terminal still bound and keyed back in stock. Refused and journalled;
   * nothing else changes. */
  g_assert_false (pp_store_close_order (f->store, r->id, "alice", &error));
  g_assert_error (error, PP_STORE_ERROR, PP_STORE_ERROR_ILLEGAL_TRANSITION);
  g_assert_nonnull (strstr (error->message, "reviewer other than its requester"));
  g_assert_nonnull (strstr (error->message, "posprov-tool recycle ORD-0001"));
  g_clear_error (&error);
  g_assert_cmpint (audit_count (f), ==, n + 1);
  {
    g_autoptr(PpAuditEntry) e = last_entry (f);
    g_assert_cmpstr (e->action, ==, "order.close_refused");
    g_assert_cmpstr (e->actor, ==, "alice");
  }
  t = pp_store_get_terminal (f->store, "ORD-0001", &error);
  g_assert_cmpint (pp_terminal_get_state (t), ==, PP_TERMINAL_STATE_RECYCLED);
  g_clear_object (&t);
  /* a reviewer approves it: then it closes. Not bob or rita, whose accounts
   * carol (the requester) set up: ruth, whom another administrator added. */
  {
    g_autoptr(PpUser) dave = pp_store_add_user_with_cost (f->store, "dave", NULL, PP_USER_ROLE_ADMINISTRATOR,
                                                          PP_TEST_PASSWORD ("0"), 10, "carol", &error);
    g_autoptr(PpUser) ruth = NULL;

    g_assert_no_error (error);
    g_assert_cmpint (dave->role, ==, PP_USER_ROLE_ADMINISTRATOR);
    ruth = pp_store_add_user_with_cost (f->store, "ruth", NULL, PP_USER_ROLE_REVIEWER, PP_TEST_PASSWORD ("0"), 10,
                                        "dave", &error);
    g_assert_no_error (error);
  }
  g_assert_true (pp_store_decide_order (f->store, r->id, "ruth", TRUE, "merchant closed, checked", &error));
  g_assert_no_error (error);
  g_assert_true (pp_store_close_order (f->store, r->id, "alice", &error));
  g_assert_no_error (error);
  {
    g_autoptr(PpAuditEntry) e = last_entry (f);
    g_assert_cmpstr (e->action, ==, "order.close");
    g_assert_cmpstr (e->actor, ==, "alice");
  }
  t = pp_store_get_terminal (f->store, "ORD-0001", &error);
  g_assert_cmpint (pp_terminal_get_state (t), ==, PP_TERMINAL_STATE_IN_STOCK);
  g_clear_object (&t);

  /* A closed recycle order is final: the plain transition error. */
  g_assert_false (pp_store_cancel_order (f->store, r->id, "alice", NULL, &error));
  g_assert_error (error, PP_STORE_ERROR, PP_STORE_ERROR_ILLEGAL_TRANSITION);
  g_clear_pointer (&msg, g_free);
  msg = g_strdup_printf ("recycle work order %" G_GINT64_FORMAT " is closed; cannot go closed -> cancelled",
                         r->id);
  g_assert_cmpstr (error->message, ==, msg);
  g_clear_error (&error);

  g_assert_true (pp_store_audit_verify (f->store, NULL, NULL, &error));
  g_assert_no_error (error);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add ("/orders/install-actors", Fixture, NULL, fixture_set_up,
              test_install_actors, fixture_tear_down);
  g_test_add ("/orders/cancel-actors", Fixture, NULL, fixture_set_up,
              test_cancel_actors, fixture_tear_down);
  g_test_add ("/orders/recycle-actors", Fixture, NULL, fixture_set_up,
              test_recycle_actors, fixture_tear_down);
  return g_test_run ();
}
