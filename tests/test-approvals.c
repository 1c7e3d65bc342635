/* SPDX-License-Identifier: GPL-3.0-or-later
 *
 * test-approvals.c: install and recycle work orders on a real store: the
 * four-eyes approval (self-approval and wrong role refused, the approval row
 * says who, when and what), KCV confirmation, the order state machine and
 * the terminal moves each step makes.
 */
#include "config.h"

#include <sqlite3.h>
#include <string.h>

#include "pp-mtn.h"
#include "pp-store.h"
#include "pp-store-fixture.h"
#include "pp-test-util.h"

typedef PpStoreFixture Fixture;

static void
fixture_set_up (Fixture       *f,
                gconstpointer  data)
{
  const PpTerminalIntake rows[] = {
    { "T-0001", "PAX", "A920" },
    { "T-0002", "PAX", "A920" },
    { "T-0003", "Sunmi", "P2 Pro" },
  };

  pp_store_fixture_set_up (f, rows, G_N_ELEMENTS (rows), "alice");
}

static void
fixture_tear_down (Fixture       *f,
                   gconstpointer  data)
{
  pp_store_fixture_tear_down (f);
}

static PpTerminal *
terminal (Fixture    *f,
          const char *serial)
{
  g_autoptr(GError) error = NULL;
  PpTerminal *t = pp_store_get_terminal (f->store, serial, &error);

  g_assert_no_error (error);
  return t;
}

static PpWorkOrderState
order_state (Fixture *f,
             gint64   id)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(PpWorkOrder) o = pp_store_get_order (f->store, id, &error);

  g_assert_no_error (error);
  return o->state;
}

static gint64
sql_count (Fixture    *f,
           const char *sql)
{
  sqlite3 *db = NULL;
  sqlite3_stmt *stmt = NULL;
  gint64 n;

  g_assert_cmpint (sqlite3_open (f->path, &db), ==, SQLITE_OK);
  g_assert_cmpint (sqlite3_prepare_v2 (db, sql, -1, &stmt, NULL), ==, SQLITE_OK);
  g_assert_cmpint (sqlite3_step (stmt), ==, SQLITE_ROW);
  n = sqlite3_column_int64 (stmt, 0);
  sqlite3_finalize (stmt);
  sqlite3_close (db);
  return n;
}

static void
test_self_approval_refused (Fixture       *f,
                            gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(PpWorkOrder) o = NULL;
  g_autoptr(PpWorkOrder) o2 = NULL;
  g_autoptr(GPtrArray) approvals = NULL;

  /* A reviewer who opened the order may not approve it. */
  g_assert_null (pp_store_create_install_order (f->store, "T-0001", f->merchant_id, "1.0", PP_TMK_AES_128, "bob", &error));
  g_assert_error (error, PP_STORE_ERROR, PP_STORE_ERROR_PERMISSION);
  g_clear_error (&error);

  o = pp_store_create_install_order (f->store, "T-0001", f->merchant_id, "1.0", PP_TMK_AES_128, "carol", &error);
  g_assert_no_error (error);
  g_assert_false (pp_store_decide_order (f->store, o->id, "carol", TRUE, NULL, &error));
  g_assert_error (error, PP_STORE_ERROR, PP_STORE_ERROR_PERMISSION);
  g_assert_nonnull (strstr (error->message, "carol"));
  g_clear_error (&error);
  /* Case does not make a second person. */
  g_assert_false (pp_store_decide_order (f->store, o->id, "CAROL", TRUE, NULL, &error));
  g_assert_error (error, PP_STORE_ERROR, PP_STORE_ERROR_PERMISSION);
  g_clear_error (&error);

  g_assert_cmpint (order_state (f, o->id), ==, PP_WORK_ORDER_STATE_OPEN);
  approvals = pp_store_list_approvals (f->store, o->id, &error);
  g_assert_cmpuint (approvals->len, ==, 0);
  g_assert_cmpint (sql_count (f, "SELECT count(*) FROM approvals"), ==, 0);

  /* The field manager cannot approve her own either. */
  o2 = pp_store_create_install_order (f->store, "T-0002", f->merchant_id, "1.0", PP_TMK_AES_128, "alice", &error);
  g_assert_no_error (error);
  g_assert_false (pp_store_decide_order (f->store, o2->id, "alice", TRUE, NULL, &error));
  g_assert_error (error, PP_STORE_ERROR, PP_STORE_ERROR_PERMISSION);
}

static void
test_wrong_role_refused (Fixture       *f,
                         gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(PpWorkOrder) o = NULL;

  o = pp_store_create_install_order (f->store, "T-0001", f->merchant_id, "1.0", PP_TMK_AES_128, "alice", &error);
  g_assert_no_error (error);

  /* Administrator is not reviewer. */
  g_assert_false (pp_store_decide_order (f->store, o->id, "carol", TRUE, NULL, &error));
  g_assert_error (error, PP_STORE_ERROR, PP_STORE_ERROR_PERMISSION);
  g_assert_nonnull (strstr (error->message, "reviewer"));
  g_clear_error (&error);
  g_assert_false (pp_store_decide_order (f->store, o->id, "nobody", TRUE, NULL, &error));
  g_assert_error (error, PP_STORE_ERROR, PP_STORE_ERROR_PERMISSION);
  g_clear_error (&error);
  g_assert_cmpint (order_state (f, o->id), ==, PP_WORK_ORDER_STATE_OPEN);
  g_assert_cmpint (sql_count (f, "SELECT count(*) FROM approvals"), ==, 0);

  /* Not a reviewer also cannot reject. */
  g_assert_false (pp_store_decide_order (f->store, o->id, "carol", FALSE, "no", &error));
  g_assert_error (error, PP_STORE_ERROR, PP_STORE_ERROR_PERMISSION);
}

static void
test_install_happy_path (Fixture       *f,
                         gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(PpWorkOrder) o = NULL;
  g_autoptr(PpWorkOrder) after = NULL;
  g_autoptr(GPtrArray) approvals = NULL;
  g_autoptr(PpTerminal) t = NULL;
  PpApproval *a;
  g_autofree char *kcv = NULL;
  g_autofree char *lower_kcv = NULL;
  gint64 before = g_get_real_time () / G_USEC_PER_SEC;

  o = pp_store_create_install_order (f->store, "t-0001", f->merchant_id, "2.4.1", PP_TMK_AES_128, "alice", &error);
  g_assert_no_error (error);
  g_assert_cmpint (o->kind, ==, PP_WORK_ORDER_KIND_INSTALL);
  g_assert_cmpint (o->state, ==, PP_WORK_ORDER_STATE_OPEN);
  g_assert_cmpstr (o->serial, ==, "T-0001");
  g_assert_cmpstr (o->mid, ==, f->mid);
  g_assert_true (pp_mtn_validate_tid (o->tid, NULL));
  g_assert_cmpstr (o->requester, ==, "alice");

  /* Reserved and bound. */
  t = terminal (f, "T-0001");
  g_assert_cmpint (pp_terminal_get_state (t), ==, PP_TERMINAL_STATE_PENDING_INSTALL);
  g_assert_cmpstr (pp_terminal_get_mid (t), ==, f->mid);
  g_assert_cmpstr (pp_terminal_get_tid (t), ==, o->tid);
  g_clear_object (&t);

  /* Keying before approval is refused. */
  g_assert_false (pp_store_order_keyed (f->store, o->id, "5C9405", "alice", &error));
  g_assert_error (error, PP_STORE_ERROR, PP_STORE_ERROR_ILLEGAL_TRANSITION);
  g_clear_error (&error);

  g_assert_true (pp_store_decide_order (f->store, o->id, "bob", TRUE, "merchant documents checked", &error));
  g_assert_no_error (error);
  g_assert_cmpint (order_state (f, o->id), ==, PP_WORK_ORDER_STATE_APPROVED);

  approvals = pp_store_list_approvals (f->store, o->id, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (approvals->len, ==, 1);
  a = g_ptr_array_index (approvals, 0);
  g_assert_cmpint (a->order_id, ==, o->id);
  g_assert_cmpstr (a->requester, ==, "alice");
  g_assert_cmpstr (a->approver, ==, "bob");
  g_assert_true (a->approved);
  g_assert_cmpstr (a->reason, ==, "merchant documents checked");
  g_assert_cmpint (a->decided_at, >=, before);
  g_assert_cmpint (a->decided_at, <=, g_get_real_time () / G_USEC_PER_SEC);
  g_assert_cmpstr (a->serial, ==, "T-0001");
  g_assert_cmpstr (a->mid, ==, f->mid);
  g_assert_cmpstr (a->tid, ==, o->tid);
  g_assert_cmpint (a->merchant_id, ==, f->merchant_id);
  g_assert_cmpstr (a->program_version, ==, "2.4.1");
  g_assert_cmpstr (a->key_type, ==, "aes-128");
  {
    g_autofree char *fp = pp_store_fixture_fingerprint ("T-0001");
    g_autofree char *upper = g_ascii_strup (fp, -1);
    g_assert_cmpstr (a->cert_fingerprint, ==, upper);
  }
  g_assert_cmpuint (strlen (a->digest), ==, 64);
  g_assert_cmpint (a->voided_at, ==, 0);
  g_assert_cmpint (sql_count (f, "SELECT count(*) FROM approvals WHERE approver = 'bob' AND "
                                 "requester = 'alice' AND decision = 'approved'"), ==, 1);

  /* A second decision on the same order is refused. */
  g_assert_false (pp_store_decide_order (f->store, o->id, "rita", TRUE, NULL, &error));
  g_assert_error (error, PP_STORE_ERROR, PP_STORE_ERROR_ILLEGAL_TRANSITION);
  g_clear_error (&error);

  /* No key released yet: nothing to compare with. */
  g_assert_false (pp_store_order_keyed (f->store, o->id, "5C9405", "alice", &error));
  g_assert_error (error, PP_STORE_ERROR, PP_STORE_ERROR_ILLEGAL_TRANSITION);
  g_assert_nonnull (strstr (error->message, "no key has been released"));
  g_clear_error (&error);
  kcv = pp_store_fixture_release (f, o->id, "alice");
  lower_kcv = g_ascii_strdown (kcv, -1);
  /* The released key is recorded with the key store's KCV. */
  {
    g_autoptr(PpWorkOrder) released = pp_store_get_order (f->store, o->id, &error);
    g_assert_cmpstr (released->expected_kcv, ==, kcv);
    g_assert_cmpstr (released->key_label, ==, "tmk-0");
    g_assert_cmpint (released->state, ==, PP_WORK_ORDER_STATE_APPROVED);
  }

  /* A wrong KCV does not key the terminal. */
  g_assert_false (pp_store_order_keyed (f->store, o->id, "5C9406", "alice", &error));
  g_assert_error (error, PP_STORE_ERROR, PP_STORE_ERROR_KCV_MISMATCH);
  g_clear_error (&error);
  t = terminal (f, "T-0001");
  g_assert_cmpint (pp_terminal_get_state (t), ==, PP_TERMINAL_STATE_PENDING_INSTALL);
  g_assert_null (pp_terminal_get_kcv (t));
  g_clear_object (&t);
  g_assert_cmpint (order_state (f, o->id), ==, PP_WORK_ORDER_STATE_APPROVED);
  g_assert_cmpint (sql_count (f, "SELECT count(*) FROM audit WHERE action = 'order.kcv_mismatch'"), ==, 1);
  g_assert_false (pp_store_order_keyed (f->store, o->id, "zz", "alice", &error));
  g_assert_error (error, PP_STORE_ERROR, PP_STORE_ERROR_INVALID);
  g_clear_error (&error);

  /* Closing too early is refused. */
  g_assert_false (pp_store_close_order (f->store, o->id, "alice", &error));
  g_assert_error (error, PP_STORE_ERROR, PP_STORE_ERROR_ILLEGAL_TRANSITION);
  {
    g_autofree char *msg = g_strdup_printf ("install work order %" G_GINT64_FORMAT
                                            " is approved; cannot go approved -> closed", o->id);
    g_assert_cmpstr (error->message, ==, msg);
  }
  g_clear_error (&error);

  g_assert_true (pp_store_order_keyed (f->store, o->id, lower_kcv, "alice", &error));
  g_assert_no_error (error);
  /* The journal's key-loading entry says which device, which key, who and approved by whom. */
  {
    g_autoptr(GPtrArray) entries = pp_store_list_audit (f->store, 0, 1000, &error);
    PpAuditEntry *last = g_ptr_array_index (entries, entries->len - 1);
    g_autoptr(JsonParser) parser = json_parser_new ();
    JsonObject *d;

    g_assert_cmpstr (last->action, ==, "order.keyed");
    g_assert_cmpstr (last->actor, ==, "alice");
    g_assert_true (json_parser_load_from_data (parser, last->detail, -1, &error));
    d = json_node_get_object (json_parser_get_root (parser));
    g_assert_cmpstr (json_object_get_string_member (d, "serial"), ==, "T-0001");
    g_assert_cmpstr (json_object_get_string_member (d, "kcv"), ==, kcv);
    g_assert_cmpstr (json_object_get_string_member (d, "approved_by"), ==, "bob");
    g_assert_cmpstr (json_object_get_string_member (d, "tid"), ==, o->tid);
  }
  t = terminal (f, "T-0001");
  g_assert_cmpint (pp_terminal_get_state (t), ==, PP_TERMINAL_STATE_KEYED);
  g_assert_cmpstr (pp_terminal_get_kcv (t), ==, kcv);
  g_clear_object (&t);

  /* Cancelling a keyed order is not allowed. */
  g_assert_false (pp_store_cancel_order (f->store, o->id, "alice", NULL, &error));
  g_assert_error (error, PP_STORE_ERROR, PP_STORE_ERROR_ILLEGAL_TRANSITION);
  g_clear_error (&error);

  g_assert_true (pp_store_order_program_installed (f->store, o->id, "alice", &error));
  g_assert_no_error (error);
  g_assert_true (pp_store_close_order (f->store, o->id, "alice", &error));
  g_assert_no_error (error);

  after = pp_store_get_order (f->store, o->id, &error);
  g_assert_cmpint (after->state, ==, PP_WORK_ORDER_STATE_CLOSED);
  g_assert_cmpstr (after->kcv, ==, kcv);
  t = terminal (f, "T-0001");
  g_assert_cmpint (pp_terminal_get_state (t), ==, PP_TERMINAL_STATE_INSTALLED);
  g_assert_cmpstr (pp_terminal_get_program_version (t), ==, "2.4.1");
  g_assert_cmpstr (pp_terminal_get_mid (t), ==, f->mid);
  g_assert_cmpstr (pp_terminal_get_tid (t), ==, o->tid);
  g_assert_cmpstr (pp_terminal_get_kcv (t), ==, kcv);
  g_clear_object (&t);

  /* Closed is final. */
  g_assert_false (pp_store_close_order (f->store, o->id, "alice", &error));
  g_assert_error (error, PP_STORE_ERROR, PP_STORE_ERROR_ILLEGAL_TRANSITION);
  g_clear_error (&error);

  /* Recycle: installed -> recycled (cleared) -> in_stock. */
  {
    g_autoptr(PpWorkOrder) r = pp_store_create_recycle_order (f->store, "T-0001", "alice",
                                                              "merchant closed", &error);
    g_assert_no_error (error);
    g_assert_cmpint (r->kind, ==, PP_WORK_ORDER_KIND_RECYCLE);
    g_assert_cmpstr (r->tid, ==, o->tid);
    t = terminal (f, "T-0001");
    g_assert_cmpint (pp_terminal_get_state (t), ==, PP_TERMINAL_STATE_RECYCLED);
    g_assert_null (pp_terminal_get_mid (t));
    g_assert_null (pp_terminal_get_tid (t));
    g_assert_null (pp_terminal_get_kcv (t));
    g_clear_object (&t);
    /* not before a reviewer approved it (its own four eyes) */
    g_assert_false (pp_store_close_order (f->store, r->id, "alice", &error));
    g_assert_error (error, PP_STORE_ERROR, PP_STORE_ERROR_ILLEGAL_TRANSITION);
    g_clear_error (&error);
    t = terminal (f, "T-0001");
    g_assert_cmpint (pp_terminal_get_state (t), ==, PP_TERMINAL_STATE_RECYCLED);
    g_clear_object (&t);
    g_assert_true (pp_store_decide_order (f->store, r->id, "bob", TRUE, "merchant closed", &error));
    g_assert_no_error (error);
    g_assert_true (pp_store_close_order (f->store, r->id, "alice", &error));
    g_assert_no_error (error);
    t = terminal (f, "T-0001");
    g_assert_cmpint (pp_terminal_get_state (t), ==, PP_TERMINAL_STATE_IN_STOCK);
    g_clear_object (&t);
  }

  /* A terminal not installed cannot be recycled. */
  g_assert_null (pp_store_create_recycle_order (f->store, "T-0003", "alice", NULL, &error));
  g_assert_error (error, PP_STORE_ERROR, PP_STORE_ERROR_ILLEGAL_TRANSITION);
  g_clear_error (&error);

  g_assert_true (pp_store_audit_verify (f->store, NULL, NULL, &error));
  g_assert_no_error (error);
}

static void
test_reject_and_cancel (Fixture       *f,
                        gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(PpWorkOrder) o = NULL;
  g_autoptr(PpWorkOrder) o2 = NULL;
  g_autoptr(PpWorkOrder) busy = NULL;
  g_autoptr(PpTerminal) t = NULL;
  g_autoptr(GPtrArray) approvals = NULL;

  o = pp_store_create_install_order (f->store, "T-0002", f->merchant_id, "1.0", PP_TMK_AES_128, "alice", &error);
  g_assert_no_error (error);

  /* A reserved terminal cannot be reserved twice. */
  busy = pp_store_create_install_order (f->store, "T-0002", f->merchant_id, "1.0", PP_TMK_AES_128, "alice", &error);
  g_assert_null (busy);
  g_assert_error (error, PP_STORE_ERROR, PP_STORE_ERROR_ILLEGAL_TRANSITION);
  g_assert_cmpstr (error->message, ==, "terminal T-0002 is pending_install; cannot go pending_install -> pending_install");
  g_clear_error (&error);

  g_assert_true (pp_store_decide_order (f->store, o->id, "bob", FALSE, "wrong merchant", &error));
  g_assert_no_error (error);
  g_assert_cmpint (order_state (f, o->id), ==, PP_WORK_ORDER_STATE_CANCELLED);
  approvals = pp_store_list_approvals (f->store, o->id, &error);
  g_assert_cmpuint (approvals->len, ==, 1);
  g_assert_false (((PpApproval *) g_ptr_array_index (approvals, 0))->approved);
  g_assert_cmpstr (((PpApproval *) g_ptr_array_index (approvals, 0))->reason, ==, "wrong merchant");
  t = terminal (f, "T-0002");
  g_assert_cmpint (pp_terminal_get_state (t), ==, PP_TERMINAL_STATE_IN_STOCK);
  g_assert_null (pp_terminal_get_mid (t));
  g_assert_null (pp_terminal_get_tid (t));
  g_clear_object (&t);

  /* Cancel after approval releases the terminal too; cancelled is final. */
  o2 = pp_store_create_install_order (f->store, "T-0002", f->merchant_id, "1.0", PP_TMK_AES_128, "alice", &error);
  g_assert_no_error (error);
  g_assert_cmpstr (o2->tid, !=, o->tid);
  g_assert_true (pp_store_decide_order (f->store, o2->id, "rita", TRUE, NULL, &error));
  g_assert_true (pp_store_cancel_order (f->store, o2->id, "alice", "merchant postponed", &error));
  g_assert_no_error (error);
  t = terminal (f, "T-0002");
  g_assert_cmpint (pp_terminal_get_state (t), ==, PP_TERMINAL_STATE_IN_STOCK);
  g_assert_false (pp_store_cancel_order (f->store, o2->id, "alice", NULL, &error));
  g_assert_error (error, PP_STORE_ERROR, PP_STORE_ERROR_ILLEGAL_TRANSITION);
  g_clear_error (&error);
  g_assert_false (pp_store_decide_order (f->store, o2->id, "bob", TRUE, NULL, &error));
  g_assert_error (error, PP_STORE_ERROR, PP_STORE_ERROR_ILLEGAL_TRANSITION);
  g_clear_error (&error);

  /* Unknown merchant and order. */
  g_assert_null (pp_store_create_install_order (f->store, "T-0003", 4242, "1.0", PP_TMK_AES_128, "alice", &error));
  g_assert_error (error, PP_STORE_ERROR, PP_STORE_ERROR_NOT_FOUND);
  g_clear_error (&error);
  g_assert_false (pp_store_decide_order (f->store, 4242, "bob", TRUE, NULL, &error));
  g_assert_error (error, PP_STORE_ERROR, PP_STORE_ERROR_NOT_FOUND);
  g_clear_error (&error);
  g_assert_null (pp_store_create_install_order (f->store, "T-0003", f->merchant_id, "", PP_TMK_AES_128, "alice", &error));
  g_assert_error (error, PP_STORE_ERROR, PP_STORE_ERROR_INVALID);
  g_clear_error (&error);
  /* Nothing was reserved by the failed attempts. */
  g_clear_object (&t);
  t = terminal (f, "T-0003");
  g_assert_cmpint (pp_terminal_get_state (t), ==, PP_TERMINAL_STATE_IN_STOCK);
}

static void
attack_set_up (Fixture       *f,
               gconstpointer  data)
{
  const PpTerminalIntake rows[] = {
    { "AT-0", "PAX", "A920" }, { "AT-1", "PAX", "A920" }, { "AT-2", "PAX", "A920" },
    { "AT-3", "PAX", "A920" },
  };

  pp_store_fixture_set_up (f, rows, G_N_ELEMENTS (rows), "carol");
}

/* The walk-around: order A (merchant A) is approved; plain moves by
 * a field manager put the terminal back in stock with A's binding on it;
 * order B binds it to merchant B and is never approved. Whatever step A
 * had reached, its next step (release, keying, program installation,
 * close) now fails, says why, and voids A's approval for good. */
static void
test_approval_bound_to_binding (Fixture       *f,
                                gconstpointer  data)
{
  const PpMerchantFields other = {
    "Golden Dragon Supermarket", "91440300MA5DC1QX8K", "12 Shennan Avenue, Shenzhen", "5411",
    "Chen Jing", "13923456789",
  };
  g_autoptr(GError) error = NULL;
  g_autoptr(PpMerchant) b = pp_store_add_merchant (f->store, &other, "alice", &error);

  g_assert_no_error (error);
  for (int stage = 0; stage < 4; stage++)
    {
      g_autofree char *serial = g_strdup_printf ("AT-%d", stage);
      g_autofree char *kcv = NULL;
      g_autofree char *why = NULL;
      g_autoptr(PpWorkOrder) a = NULL;
      g_autoptr(PpWorkOrder) ob = NULL;
      g_autoptr(PpWorkOrder) a_after = NULL;
      g_autoptr(GPtrArray) approvals = NULL;
      g_autoptr(PpTerminal) t = NULL;
      PpTerminalState back_from = stage < 2 ? PP_TERMINAL_STATE_PENDING_INSTALL : PP_TERMINAL_STATE_KEYED;
      gboolean ok;

      a = pp_store_create_install_order (f->store, serial, f->merchant_id, "1.0", PP_TMK_AES_128, "alice", &error);
      g_assert_no_error (error);
      g_assert_true (pp_store_decide_order (f->store, a->id, "bob", TRUE, NULL, &error));
      if (stage >= 1)
        kcv = pp_store_fixture_release (f, a->id, "alice");
      if (stage >= 2)
        g_assert_true (pp_store_order_keyed (f->store, a->id, kcv, "alice", &error));
      if (stage >= 3)
        g_assert_true (pp_store_order_program_installed (f->store, a->id, "alice", &error));
      g_assert_no_error (error);
      t = pp_store_get_terminal (f->store, serial, &error);
      g_assert_cmpint (pp_terminal_get_state (t), ==, back_from);
      g_clear_object (&t);

      /* Back to stock by plain moves (the direct one is refused), then B. */
      g_assert_false (pp_store_transition_terminal (f->store, serial, PP_TERMINAL_STATE_IN_STOCK, "alice",
                                                    NULL, &error));
      g_assert_error (error, PP_STORE_ERROR, PP_STORE_ERROR_ILLEGAL_TRANSITION);
      g_clear_error (&error);
      g_assert_true (pp_store_transition_terminal (f->store, serial, PP_TERMINAL_STATE_QUARANTINED, "alice",
                                                   NULL, &error));
      g_assert_true (pp_store_transition_terminal (f->store, serial, PP_TERMINAL_STATE_IN_STOCK, "alice",
                                                   NULL, &error));
      g_assert_no_error (error);
      ob = pp_store_create_install_order (f->store, serial, b->id, "1.0", PP_TMK_AES_128, "alice", &error);
      g_assert_no_error (error);
      g_assert_cmpstr (ob->mid, ==, b->mid);

      if (stage < 2)
        why = g_strdup_printf ("terminal %s is now bound to MID %s, not to MID %s as approved",
                               serial, b->mid, f->mid);
      else
        why = g_strdup_printf ("terminal %s is pending_install, not keyed as this order left it", serial);

      /* A's next step fails, naming why. */
      for (int attempt = 0; attempt < 2; attempt++)
        {
          g_autofree char *expected = NULL;
          g_autofree char *label = g_strdup_printf ("at-%d-%d", stage, attempt);

          switch (stage)
            {
            case 0:
              {
                g_autofree char *k = pp_key_store_generate_tmk (f->key_store, label, PP_TMK_AES_128, NULL, &error);
                g_assert_no_error (error);
                g_assert_nonnull (k);
                ok = pp_store_order_key_released (f->store, a->id, f->key_store, label, "alice", &error);
              }
              break;
            case 1:
              ok = pp_store_order_keyed (f->store, a->id, kcv, "alice", &error);
              break;
            case 2:
              ok = pp_store_order_program_installed (f->store, a->id, "alice", &error);
              break;
            default:
              ok = pp_store_close_order (f->store, a->id, "alice", &error);
              break;
            }
          g_assert_false (ok);
          g_assert_error (error, PP_STORE_ERROR, PP_STORE_ERROR_APPROVAL_VOID);
          expected = g_strdup_printf (attempt == 0
                                        ? "the approval of install work order %" G_GINT64_FORMAT " is void: %s; "
                                          "cancel the order and open a new one"
                                        : "the approval of install work order %" G_GINT64_FORMAT " was voided: %s; "
                                          "cancel the order and open a new one", a->id, why);
          g_assert_cmpstr (error->message, ==, expected);
          g_clear_error (&error);
          if (attempt == 0)
            {
              g_autoptr(GPtrArray) entries = pp_store_list_audit (f->store, 0, 100000, &error);
              PpAuditEntry *last = g_ptr_array_index (entries, entries->len - 1);

              g_assert_cmpstr (last->action, ==, "order.approval_void");
              g_assert_cmpstr (last->actor, ==, "alice");
              g_assert_nonnull (strstr (last->detail, why));
            }
        }

      /* Voided for good; A's order and B's terminal as they were. */
      approvals = pp_store_list_approvals (f->store, a->id, &error);
      g_assert_cmpuint (approvals->len, ==, 1);
      g_assert_cmpint (((PpApproval *) g_ptr_array_index (approvals, 0))->voided_at, >, 0);
      g_assert_cmpstr (((PpApproval *) g_ptr_array_index (approvals, 0))->void_reason, ==, why);
      a_after = pp_store_get_order (f->store, a->id, &error);
      g_assert_cmpint (a_after->state, ==, PP_WORK_ORDER_STATE_APPROVED + (stage >= 2) + (stage >= 3));
      t = pp_store_get_terminal (f->store, serial, &error);
      g_assert_cmpint (pp_terminal_get_state (t), ==, PP_TERMINAL_STATE_PENDING_INSTALL);
      g_assert_cmpstr (pp_terminal_get_mid (t), ==, b->mid);
      g_assert_cmpstr (pp_terminal_get_tid (t), ==, ob->tid);
      g_assert_null (pp_terminal_get_kcv (t));
      g_clear_object (&t);
      /* No one changes an approval by SQL through the store's own file either
       * (short of dropping its triggers). */
      {
        sqlite3 *db = NULL;
        g_assert_cmpint (sqlite3_open (f->path, &db), ==, SQLITE_OK);
        g_assert_cmpint (sqlite3_exec (db, "UPDATE approvals SET mid = 'x'", NULL, NULL, NULL), !=, SQLITE_OK);
        g_assert_cmpint (sqlite3_exec (db, "UPDATE approvals SET voided_at = NULL", NULL, NULL, NULL), !=, SQLITE_OK);
        sqlite3_close (db);
      }

      /* Cancelling A (where it still can be) leaves B's terminal alone. */
      if (stage < 2)
        {
          g_assert_true (pp_store_cancel_order (f->store, a->id, "alice", "approval void", &error));
          g_assert_no_error (error);
          t = pp_store_get_terminal (f->store, serial, &error);
          g_assert_cmpint (pp_terminal_get_state (t), ==, PP_TERMINAL_STATE_PENDING_INSTALL);
          g_assert_cmpstr (pp_terminal_get_mid (t), ==, b->mid);
          g_clear_object (&t);
        }
    }
  g_assert_true (pp_store_audit_verify (f->store, NULL, NULL, &error));
  g_assert_no_error (error);
}

/* A failed key load is journalled, or the error says it was not; the order
 * stays where a new key token or a new release can be tried. */
static void
test_kcv_mismatch_journal (Fixture       *f,
                           gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(PpWorkOrder) o = NULL;
  g_autofree char *kcv = NULL;
  g_autofree char *kcv2 = NULL;
  sqlite3 *db = NULL;

  o = pp_store_create_install_order (f->store, "T-0001", f->merchant_id, "1.0", PP_TMK_AES_128, "alice", &error);
  g_assert_true (pp_store_decide_order (f->store, o->id, "bob", TRUE, NULL, &error));
  g_assert_no_error (error);
  kcv = pp_store_fixture_release (f, o->id, "alice");

  /* The journal refuses the mismatch entry (a trigger standing in for a full disk). */
  g_assert_cmpint (sqlite3_open (f->path, &db), ==, SQLITE_OK);
  g_assert_cmpint (sqlite3_exec (db, "CREATE TRIGGER no_mismatch BEFORE INSERT ON audit "
                                     "WHEN NEW.action = 'order.kcv_mismatch' BEGIN "
                                     "SELECT RAISE (ABORT, 'journal full'); END", NULL, NULL, NULL), ==, SQLITE_OK);
  g_assert_false (pp_store_order_keyed (f->store, o->id, "0123456789", "alice", &error));
  g_assert_nonnull (error);
  g_assert_false (g_error_matches (error, PP_STORE_ERROR, PP_STORE_ERROR_KCV_MISMATCH));
  g_assert_nonnull (strstr (error->message, "reported key check value 0123456789"));
  g_assert_nonnull (strstr (error->message, "recording this in the journal failed too"));
  g_assert_nonnull (strstr (error->message, "journal full"));
  g_clear_error (&error);
  g_assert_cmpint (sqlite3_exec (db, "DROP TRIGGER no_mismatch", NULL, NULL, NULL), ==, SQLITE_OK);
  sqlite3_close (db);

  /* Journalled now, with both values; the order is still approved. */
  g_assert_false (pp_store_order_keyed (f->store, o->id, "0123456789", "alice", &error));
  g_assert_error (error, PP_STORE_ERROR, PP_STORE_ERROR_KCV_MISMATCH);
  g_clear_error (&error);
  g_assert_cmpint (sql_count (f, "SELECT count(*) FROM audit WHERE action = 'order.kcv_mismatch' AND "
                                 "detail LIKE '%\"reported_kcv\":\"0123456789\"%'"), ==, 1);
  g_assert_cmpint (order_state (f, o->id), ==, PP_WORK_ORDER_STATE_APPROVED);

  /* A new key: its release replaces the expected KCV, the old one no longer counts. */
  kcv2 = pp_store_fixture_release (f, o->id, "alice");
  g_assert_cmpstr (kcv2, !=, kcv);
  g_assert_false (pp_store_order_keyed (f->store, o->id, kcv, "alice", &error));
  g_assert_error (error, PP_STORE_ERROR, PP_STORE_ERROR_KCV_MISMATCH);
  g_clear_error (&error);
  g_assert_true (pp_store_order_keyed (f->store, o->id, kcv2, "alice", &error));
  g_assert_no_error (error);
  g_assert_cmpint (order_state (f, o->id), ==, PP_WORK_ORDER_STATE_KEYED);
}

/* A reviewer whose account the requester set up is no second person. */
static void
test_reviewer_independent (Fixture       *f,
                           gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(PpWorkOrder) o = NULL;

  /* carol, the administrator, created bob's account. */
  o = pp_store_create_install_order (f->store, "T-0003", f->merchant_id, "1.0", PP_TMK_AES_128, "carol", &error);
  g_assert_no_error (error);
  g_assert_false (pp_store_decide_order (f->store, o->id, "bob", TRUE, NULL, &error));
  g_assert_error (error, PP_STORE_ERROR, PP_STORE_ERROR_PERMISSION);
  g_assert_cmpstr (error->message, ==, "user “bob” may not approve install work order 1: carol, who requested "
                                       "it, created that account, so the approval would not be a second person's");
  g_clear_error (&error);
  g_assert_cmpint (order_state (f, o->id), ==, PP_WORK_ORDER_STATE_OPEN);
}

/* The order state machine, every (from, to) pair against this table. */
static void
test_order_matrix (void)
{
  static const char * const install_allowed[] = {
    "open>approved", "open>cancelled", "approved>keyed", "approved>cancelled",
    "keyed>program_installed", "program_installed>closed",
  };

  for (int from = 0; from < PP_N_WORK_ORDER_STATES; from++)
    for (int to = 0; to < PP_N_WORK_ORDER_STATES; to++)
      {
        g_autofree char *key = g_strdup_printf ("%s>%s", pp_work_order_state_to_string (from),
                                                pp_work_order_state_to_string (to));
        gboolean want = FALSE;

        for (guint i = 0; i < G_N_ELEMENTS (install_allowed); i++)
          want = want || g_str_equal (install_allowed[i], key);
        g_assert_cmpint (pp_work_order_state_can_transition (PP_WORK_ORDER_KIND_INSTALL, from, to), ==, want);
        /* a recycle order: approved by a reviewer before the key host
         * releases its terminal, then closed (never closed unapproved) */
        g_assert_cmpint (pp_work_order_state_can_transition (PP_WORK_ORDER_KIND_RECYCLE, from, to), ==,
                         g_str_equal (key, "open>approved") ||
                         g_str_equal (key, "approved>closed"));
      }
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add ("/approvals/self-approval-refused", Fixture, NULL, fixture_set_up,
              test_self_approval_refused, fixture_tear_down);
  g_test_add ("/approvals/wrong-role-refused", Fixture, NULL, fixture_set_up,
              test_wrong_role_refused, fixture_tear_down);
  g_test_add ("/approvals/install-happy-path", Fixture, NULL, fixture_set_up,
              test_install_happy_path, fixture_tear_down);
  g_test_add ("/approvals/reject-and-cancel", Fixture, NULL, fixture_set_up,
              test_reject_and_cancel, fixture_tear_down);
  g_test_add ("/approvals/bound-to-binding", Fixture, NULL, attack_set_up,
              test_approval_bound_to_binding, fixture_tear_down);
  g_test_add ("/approvals/kcv-mismatch-journal", Fixture, NULL, fixture_set_up,
              test_kcv_mismatch_journal, fixture_tear_down);
  g_test_add ("/approvals/reviewer-independent", Fixture, NULL, fixture_set_up,
              test_reviewer_independent, fixture_tear_down);
  g_test_add_func ("/approvals/order-matrix", test_order_matrix);
  return g_test_run ();
}
