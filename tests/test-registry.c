/* SPDX-License-Identifier: GPL-3.0-or-later
 *
 * test-registry.c: the registry seam through PpRegistryLocal on a real
 * SQLite file: every verb's success and error paths as a caller sees them,
 * idempotent replays (same result, nothing written), a reused key refused,
 * the change feed, the owner thread (the main loop keeps running, many
 * calls at once) and cancellation.
 */
#include "config.h"

#include <qrencode.h>
#include <sqlite3.h>

#include "pp-qr-code.h"
#include "pp-registry-local.h"
#include "pp-store-fixture.h"
#include "pp-test-util.h"

typedef struct {
  PpStoreFixture store;
  PpRegistry *registry;
} Fixture;

static const PpTerminalIntake rows[] = {
  { "PAX0001", "PAX", "A920" },
  { "PAX0002", "PAX", "A920" },
  { "PAX0003", "PAX", "A920" },
  { "SUN0001", "Sunmi", "P2" },
};

static void
fixture_set_up (Fixture       *f,
                gconstpointer  data)
{
  g_autoptr(GError) error = NULL;

  pp_store_fixture_set_up (&f->store, rows, G_N_ELEMENTS (rows), "setup");
  f->registry = PP_REGISTRY (pp_registry_local_new (f->store.path, &error));
  g_assert_no_error (error);
}

static void
fixture_tear_down (Fixture       *f,
                   gconstpointer  data)
{
  if (f->registry != NULL)
    pp_registry_local_close (PP_REGISTRY_LOCAL (f->registry));
  g_clear_object (&f->registry);
  pp_store_fixture_tear_down (&f->store);
}

/* ---- running a call to its end ---- */

static void
got_result (GObject      *source,
            GAsyncResult *result,
            gpointer      data)
{
  GAsyncResult **slot = data;

  /* The callback runs on the caller's (here: the main) context. */
  g_assert_true (g_main_context_is_owner (g_main_context_default ()));
  *slot = g_object_ref (result);
}

static GAsyncResult *
wait_for (GAsyncResult **slot)
{
  while (*slot == NULL)
    g_main_context_iteration (NULL, TRUE);
  return *slot;
}

#define KEY() g_uuid_string_random ()

static guint
count (Fixture    *f,
       const char *sql)
{
  sqlite3 *db = NULL;
  sqlite3_stmt *stmt = NULL;
  guint n;

  g_assert_cmpint (sqlite3_open_v2 (f->store.path, &db, SQLITE_OPEN_READONLY, NULL), ==, SQLITE_OK);
  g_assert_cmpint (sqlite3_prepare_v2 (db, sql, -1, &stmt, NULL), ==, SQLITE_OK);
  g_assert_cmpint (sqlite3_step (stmt), ==, SQLITE_ROW);
  n = (guint) sqlite3_column_int64 (stmt, 0);
  sqlite3_finalize (stmt);
  sqlite3_close (db);
  return n;
}

#define N_AUDIT(f) count (f, "SELECT count(*) FROM audit")

static PpWorkOrder *
create_order (Fixture     *f,
              const char  *serial,
              const char  *key,
              GError     **error)
{
  g_autoptr(GAsyncResult) res = NULL;

  pp_registry_create_install_order_async (f->registry, serial, f->store.merchant_id, "1.2.0",
                                          PP_TMK_AES_128, "alice", key, NULL, got_result, &res);
  return pp_registry_create_install_order_finish (f->registry, wait_for (&res), error);
}

static PpRegistrySerialCheck *
lookup (Fixture    *f,
        const char *serial,
        const char *order_uuid)
{
  g_autoptr(GAsyncResult) res = NULL;
  g_autoptr(GError) error = NULL;
  PpRegistrySerialCheck *check;

  pp_registry_lookup_serial_async (f->registry, serial, order_uuid, NULL, got_result, &res);
  check = pp_registry_lookup_serial_finish (f->registry, wait_for (&res), &error);
  g_assert_no_error (error);
  g_assert_nonnull (check);
  return check;
}

static PpRegistryApproval *
request_approval (Fixture     *f,
                  const char  *order_uuid,
                  const char  *scanned,
                  const char  *requester,
                  const char  *key,
                  GError     **error)
{
  g_autoptr(GAsyncResult) res = NULL;

  pp_registry_request_approval_async (f->registry, order_uuid, scanned, NULL, requester, key, NULL,
                                      got_result, &res);
  return pp_registry_request_approval_finish (f->registry, wait_for (&res), error);
}

static PpRegistryApproval *
decide (Fixture     *f,
        const char  *approval_uuid,
        gboolean     approve,
        const char  *approver,
        const char  *key,
        GError     **error)
{
  g_autoptr(GAsyncResult) res = NULL;

  pp_registry_decide_approval_async (f->registry, approval_uuid, approve, "checked on site", approver,
                                     key, NULL, got_result, &res);
  return pp_registry_decide_approval_finish (f->registry, wait_for (&res), error);
}

static GPtrArray *
list_approvals (Fixture  *f,
                gboolean  pending_only)
{
  g_autoptr(GAsyncResult) res = NULL;
  g_autoptr(GError) error = NULL;
  GPtrArray *list;

  pp_registry_list_approvals_async (f->registry, pending_only, NULL, got_result, &res);
  list = pp_registry_list_approvals_finish (f->registry, wait_for (&res), &error);
  g_assert_no_error (error);
  return list;
}

/* get_approval by UUID or code. */
static PpRegistryApproval *
get_approval (Fixture     *f,
              const char  *ref,
              GError     **error)
{
  g_autoptr(GAsyncResult) res = NULL;

  pp_registry_get_approval_async (f->registry, ref, NULL, got_result, &res);
  return pp_registry_get_approval_finish (f->registry, wait_for (&res), error);
}

typedef enum { STEP_PROGRAM, STEP_CLOSE, STEP_CANCEL } Step;

static PpWorkOrder *
order_step (Fixture     *f,
            Step         step,
            const char  *order_uuid,
            const char  *actor,
            const char  *key,
            GError     **error)
{
  g_autoptr(GAsyncResult) res = NULL;

  switch (step)
    {
    case STEP_PROGRAM:
      pp_registry_program_installed_async (f->registry, order_uuid, actor, key, NULL, got_result, &res);
      return pp_registry_program_installed_finish (f->registry, wait_for (&res), error);
    case STEP_CLOSE:
      pp_registry_close_order_async (f->registry, order_uuid, actor, key, NULL, got_result, &res);
      return pp_registry_close_order_finish (f->registry, wait_for (&res), error);
    case STEP_CANCEL:
    default:
      pp_registry_cancel_order_async (f->registry, order_uuid, "customer changed plans", actor, key,
                                      NULL, got_result, &res);
      return pp_registry_cancel_order_finish (f->registry, wait_for (&res), error);
    }
}

/* ---- lookup ---- */

static void
test_lookup (Fixture       *f,
             gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(PpWorkOrder) order = NULL;
  g_autofree char *key = KEY ();
  PpRegistrySerialCheck *check;

  check = lookup (f, " pax0001 ", NULL);
  g_assert_cmpint (check->status, ==, PP_REGISTRY_SERIAL_INSTALLABLE);
  g_assert_cmpstr (check->serial, ==, "PAX0001");
  g_assert_cmpstr (pp_terminal_get_model (check->terminal), ==, "A920");
  g_assert_null (check->message);
  pp_registry_serial_check_free (check);

  check = lookup (f, "NOPE0001", NULL);
  g_assert_cmpint (check->status, ==, PP_REGISTRY_SERIAL_UNKNOWN);
  g_assert_null (check->terminal);
  g_assert_nonnull (strstr (check->message, "NOPE0001"));
  pp_registry_serial_check_free (check);

  g_assert_true (pp_store_transition_terminal (f->store.store, "PAX0002", PP_TERMINAL_STATE_QUARANTINED,
                                               "alice", "dropped", &error));
  g_assert_no_error (error);
  check = lookup (f, "PAX0002", NULL);
  g_assert_cmpint (check->status, ==, PP_REGISTRY_SERIAL_QUARANTINED);
  g_assert_nonnull (strstr (check->message, "quarantined"));
  pp_registry_serial_check_free (check);

  g_assert_true (pp_store_transition_terminal (f->store.store, "PAX0002", PP_TERMINAL_STATE_RETIRED,
                                               "alice", NULL, &error));
  check = lookup (f, "PAX0002", NULL);
  g_assert_cmpint (check->status, ==, PP_REGISTRY_SERIAL_NOT_IN_STOCK);
  g_assert_nonnull (strstr (check->message, "Retired"));
  pp_registry_serial_check_free (check);

  /* Reserved: installable for its own order, not for another. */
  order = create_order (f, "PAX0001", key, &error);
  g_assert_no_error (error);
  check = lookup (f, "PAX0001", order->uuid);
  g_assert_cmpint (check->status, ==, PP_REGISTRY_SERIAL_INSTALLABLE);
  g_assert_cmpstr (check->order_uuid, ==, order->uuid);
  pp_registry_serial_check_free (check);
  check = lookup (f, "PAX0001", NULL);
  g_assert_cmpint (check->status, ==, PP_REGISTRY_SERIAL_RESERVED);
  g_assert_nonnull (strstr (check->message, order->uuid));
  pp_registry_serial_check_free (check);
  check = lookup (f, "PAX0003", order->uuid);
  g_assert_cmpint (check->status, ==, PP_REGISTRY_SERIAL_NOT_IN_STOCK);
  pp_registry_serial_check_free (check);
}

/* ---- intake ---- */

static void
intake (Fixture                *f,
        const PpTerminalIntake *in,
        guint                   n,
        const char             *key,
        guint                  *out_added,
        GError                **error)
{
  g_autoptr(GAsyncResult) res = NULL;

  pp_registry_intake_async (f->registry, in, n, PP_TERMINAL_STATE_IN_STOCK, "setup", key, NULL,
                            got_result, &res);
  pp_registry_intake_finish (f->registry, wait_for (&res), out_added, error);
}

static void
test_intake (Fixture       *f,
             gconstpointer  data)
{
  const PpTerminalIntake batch[] = { { "NEW0001", "PAX", "A920" }, { "new0002", "PAX", "A920" } };
  const PpTerminalIntake other[] = { { "NEW0003", "PAX", "A920" } };
  const PpTerminalIntake dup[] = { { "NEW0004", "PAX", "A920" }, { "PAX0001", "PAX", "A920" } };
  const PpTerminalIntake bad[] = { { "NO SPACES", "PAX", "A920" } };
  g_autofree char *key = KEY ();
  g_autofree char *key2 = KEY ();
  g_autofree char *key3 = KEY ();
  g_autoptr(GError) error = NULL;
  guint added = 0, n_audit, n_terminals;

  intake (f, batch, G_N_ELEMENTS (batch), key, &added, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (added, ==, 2);
  n_terminals = count (f, "SELECT count(*) FROM terminals");
  g_assert_cmpuint (n_terminals, ==, G_N_ELEMENTS (rows) + 2);
  n_audit = N_AUDIT (f);

  /* The same request again: the same answer, nothing written. */
  added = 0;
  intake (f, batch, G_N_ELEMENTS (batch), key, &added, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (added, ==, 2);
  g_assert_cmpuint (N_AUDIT (f), ==, n_audit);
  g_assert_cmpuint (count (f, "SELECT count(*) FROM terminals"), ==, n_terminals);

  /* The same key for other rows is refused, and nothing is added. */
  intake (f, other, G_N_ELEMENTS (other), key, NULL, &error);
  g_assert_error (error, PP_REGISTRY_ERROR, PP_REGISTRY_ERROR_KEY_REUSED);
  g_assert_nonnull (strstr (error->message, key));
  g_clear_error (&error);
  g_assert_cmpuint (count (f, "SELECT count(*) FROM terminals WHERE serial = 'NEW0003'"), ==, 0);

  /* All or nothing: a known serial refuses the batch. */
  intake (f, dup, G_N_ELEMENTS (dup), key2, NULL, &error);
  g_assert_error (error, PP_REGISTRY_ERROR, PP_REGISTRY_ERROR_CONFLICT);
  g_assert_nonnull (strstr (error->message, "PAX0001"));
  g_clear_error (&error);
  g_assert_cmpuint (count (f, "SELECT count(*) FROM terminals WHERE serial = 'NEW0004'"), ==, 0);
  g_assert_cmpuint (count (f, "SELECT count(*) FROM idempotency"), ==, 1);

  intake (f, bad, G_N_ELEMENTS (bad), key3, NULL, &error);
  g_assert_error (error, PP_REGISTRY_ERROR, PP_REGISTRY_ERROR_INVALID);
  g_clear_error (&error);

  /* A failed call recorded nothing under its key: the fixed request may use it. */
  intake (f, other, G_N_ELEMENTS (other), key2, &added, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (added, ==, 1);
}

/* ---- merchants ---- */

static PpMerchant *
create_merchant (Fixture                *f,
                 const PpMerchantFields *fields,
                 const char             *key,
                 GError                **error)
{
  g_autoptr(GAsyncResult) res = NULL;

  pp_registry_create_merchant_async (f->registry, fields, "alice", key, NULL, got_result, &res);
  return pp_registry_create_merchant_finish (f->registry, wait_for (&res), error);
}

static void
test_merchants (Fixture       *f,
                gconstpointer  data)
{
  PpMerchantFields fields = {
    "Golden 50% Bakery", "91310000MA1FL7XW3C", "1 Huaihai Road, Shanghai", "5462", "Wang Fang",
    "+86 21 5555 0101",
  };
  PpMerchantFields bad = fields;
  g_autofree char *key = KEY ();
  g_autofree char *key2 = KEY ();
  g_autoptr(GError) error = NULL;
  g_autoptr(PpMerchant) first = NULL;
  g_autoptr(PpMerchant) again = NULL;
  g_autoptr(PpMerchant) none = NULL;
  g_autoptr(GAsyncResult) res = NULL;
  g_autoptr(GPtrArray) found = NULL;
  guint n_audit;

  first = create_merchant (f, &fields, key, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (strlen (first->mid), ==, 15);
  n_audit = N_AUDIT (f);

  again = create_merchant (f, &fields, key, &error);
  g_assert_no_error (error);
  g_assert_cmpint (again->id, ==, first->id);
  g_assert_cmpstr (again->mid, ==, first->mid);
  g_assert_cmpint (again->created_at, ==, first->created_at);
  g_assert_cmpuint (N_AUDIT (f), ==, n_audit);
  g_assert_cmpuint (count (f, "SELECT count(*) FROM merchants"), ==, 2);
  g_assert_cmpuint (count (f, "SELECT count(*) FROM issued_numbers WHERE kind = 'mid'"), ==, 2);

  /* Another key, the same registration number. */
  none = create_merchant (f, &fields, key2, &error);
  g_assert_error (error, PP_REGISTRY_ERROR, PP_REGISTRY_ERROR_CONFLICT);
  g_clear_error (&error);

  bad.mcc = "54";
  bad.registration_number = "91310000MA1FL7XW4D";
  none = create_merchant (f, &bad, key2, &error);
  g_assert_error (error, PP_REGISTRY_ERROR, PP_REGISTRY_ERROR_INVALID);
  g_assert_nonnull (strstr (error->message, "mcc") != NULL ? error->message : strstr (error->message, "MCC"));
  g_clear_error (&error);

  /* Search: the % of the query is a percent sign, not a wildcard. */
  pp_registry_search_merchants_async (f->registry, "50%", 0, NULL, got_result, &res);
  found = pp_registry_search_merchants_finish (f->registry, wait_for (&res), &error);
  g_assert_no_error (error);
  g_assert_cmpuint (found->len, ==, 1);
  g_assert_cmpstr (((PpMerchant *) g_ptr_array_index (found, 0))->name, ==, "Golden 50% Bakery");
  g_clear_pointer (&found, g_ptr_array_unref);
  g_clear_object (&res);
  pp_registry_search_merchants_async (f->registry, "noodle", 0, NULL, got_result, &res);
  found = pp_registry_search_merchants_finish (f->registry, wait_for (&res), &error);
  g_assert_cmpuint (found->len, ==, 1);
  g_assert_cmpstr (((PpMerchant *) g_ptr_array_index (found, 0))->mid, ==, f->store.mid);
  g_clear_pointer (&found, g_ptr_array_unref);
  g_clear_object (&res);
  pp_registry_search_merchants_async (f->registry, NULL, 1, NULL, got_result, &res);
  found = pp_registry_search_merchants_finish (f->registry, wait_for (&res), &error);
  g_assert_cmpuint (found->len, ==, 1);
}

/* ---- work orders, approvals, the later steps ---- */

static void
test_orders (Fixture       *f,
             gconstpointer  data)
{
  g_autofree char *key = KEY ();
  g_autoptr(GError) error = NULL;
  g_autoptr(PpWorkOrder) order = NULL;
  g_autoptr(PpWorkOrder) again = NULL;
  g_autoptr(PpWorkOrder) none = NULL;
  g_autoptr(PpWorkOrder) got = NULL;
  g_autoptr(GAsyncResult) res = NULL;
  g_autoptr(GPtrArray) orders = NULL;
  guint n_audit;

  order = create_order (f, "pax0001", key, &error);
  g_assert_no_error (error);
  g_assert_true (g_uuid_string_is_valid (order->uuid));
  g_assert_cmpstr (order->mid, ==, f->store.mid);
  g_assert_cmpuint (strlen (order->tid), ==, 8);
  g_assert_cmpint (order->state, ==, PP_WORK_ORDER_STATE_OPEN);
  n_audit = N_AUDIT (f);

  /* Replayed: the same order, no second reservation, no second TID. */
  again = create_order (f, "pax0001", key, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (again->uuid, ==, order->uuid);
  g_assert_cmpstr (again->tid, ==, order->tid);
  g_assert_cmpuint (N_AUDIT (f), ==, n_audit);
  g_assert_cmpuint (count (f, "SELECT count(*) FROM work_orders"), ==, 1);
  g_assert_cmpuint (count (f, "SELECT count(*) FROM issued_numbers WHERE kind = 'tid'"), ==, 1);

  /* The same key for another terminal. */
  none = create_order (f, "PAX0003", key, &error);
  g_assert_error (error, PP_REGISTRY_ERROR, PP_REGISTRY_ERROR_KEY_REUSED);
  g_clear_error (&error);
  g_assert_cmpuint (count (f, "SELECT count(*) FROM work_orders"), ==, 1);

  {
    g_autofree char *k = KEY ();

    /* Reserved already; unknown terminal; a reviewer may not open orders. */
    none = create_order (f, "PAX0001", k, &error);
    g_assert_error (error, PP_REGISTRY_ERROR, PP_REGISTRY_ERROR_CONFLICT);
    g_clear_error (&error);
    none = create_order (f, "NOPE0001", k, &error);
    g_assert_error (error, PP_REGISTRY_ERROR, PP_REGISTRY_ERROR_NOT_FOUND);
    g_clear_error (&error);
    g_clear_object (&res);
    pp_registry_create_install_order_async (f->registry, "PAX0003", f->store.merchant_id, "1.2.0",
                                            PP_TMK_AES_128, "bob", k, NULL, got_result, &res);
    none = pp_registry_create_install_order_finish (f->registry, wait_for (&res), &error);
    g_assert_error (error, PP_REGISTRY_ERROR, PP_REGISTRY_ERROR_PERMISSION);
    g_clear_error (&error);
  }

  g_clear_object (&res);
  pp_registry_get_order_async (f->registry, order->uuid, NULL, got_result, &res);
  got = pp_registry_get_order_finish (f->registry, wait_for (&res), &error);
  g_assert_no_error (error);
  g_assert_cmpstr (got->serial, ==, "PAX0001");
  g_assert_cmpint (got->id, ==, order->id);
  g_clear_object (&res);
  g_clear_pointer (&got, pp_work_order_free);
  pp_registry_get_order_async (f->registry, "6f1c1d3e-0000-4000-8000-000000000000", NULL, got_result, &res);
  got = pp_registry_get_order_finish (f->registry, wait_for (&res), &error);
  g_assert_error (error, PP_REGISTRY_ERROR, PP_REGISTRY_ERROR_NOT_FOUND);
  g_clear_error (&error);

  g_clear_object (&res);
  pp_registry_list_orders_async (f->registry, "PAX0001", NULL, got_result, &res);
  orders = pp_registry_list_orders_finish (f->registry, wait_for (&res), &error);
  g_assert_no_error (error);
  g_assert_cmpuint (orders->len, ==, 1);
  g_assert_cmpstr (((PpWorkOrder *) g_ptr_array_index (orders, 0))->uuid, ==, order->uuid);
  g_clear_pointer (&orders, g_ptr_array_unref);
  g_clear_object (&res);
  pp_registry_list_orders_async (f->registry, "PAX0003", NULL, got_result, &res);
  orders = pp_registry_list_orders_finish (f->registry, wait_for (&res), &error);
  g_assert_cmpuint (orders->len, ==, 0);
}

static void
test_approvals (Fixture       *f,
                gconstpointer  data)
{
  g_autofree char *key = KEY ();
  g_autofree char *rkey = KEY ();
  g_autofree char *dkey = KEY ();
  g_autoptr(GError) error = NULL;
  g_autoptr(PpWorkOrder) order = NULL;
  g_autoptr(PpRegistryApproval) request = NULL;
  g_autoptr(PpRegistryApproval) replay = NULL;
  g_autoptr(PpRegistryApproval) none = NULL;
  g_autoptr(PpRegistryApproval) decided = NULL;
  g_autoptr(PpRegistryApproval) got = NULL;
  g_autoptr(GPtrArray) pending = NULL;
  g_autoptr(GAsyncResult) res = NULL;
  guint n_audit;

  order = create_order (f, "PAX0001", key, &error);
  g_assert_no_error (error);

  {
    g_autofree char *k = KEY ();

    /* The terminal in hand is not the order's; a reviewer does not request. */
    none = request_approval (f, order->uuid, "PAX0003", "alice", k, &error);
    g_assert_error (error, PP_REGISTRY_ERROR, PP_REGISTRY_ERROR_INVALID);
    g_assert_nonnull (strstr (error->message, "PAX0003"));
    g_clear_error (&error);
    none = request_approval (f, order->uuid, NULL, "bob", k, &error);
    g_assert_error (error, PP_REGISTRY_ERROR, PP_REGISTRY_ERROR_PERMISSION);
    g_clear_error (&error);
  }

  request = request_approval (f, order->uuid, "pax0001", "alice", rkey, &error);
  g_assert_no_error (error);
  g_assert_true (g_uuid_string_is_valid (request->uuid));
  g_assert_cmpint (request->state, ==, PP_REGISTRY_APPROVAL_PENDING);
  g_assert_cmpstr (request->order_uuid, ==, order->uuid);
  /* What the reviewer sees: serial, model, merchant, MID/TID, program, requester. */
  g_assert_cmpstr (request->serial, ==, "PAX0001");
  g_assert_cmpstr (request->model, ==, "A920");
  g_assert_cmpstr (request->merchant_name, ==, "Lucky Noodle House");
  g_assert_cmpstr (request->mid, ==, order->mid);
  g_assert_cmpstr (request->tid, ==, order->tid);
  g_assert_cmpstr (request->program_version, ==, "1.2.0");
  g_assert_cmpstr (request->requester, ==, "alice");
  g_assert_null (request->approver);
  n_audit = N_AUDIT (f);

  replay = request_approval (f, order->uuid, "pax0001", "alice", rkey, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (replay->uuid, ==, request->uuid);
  g_assert_cmpuint (N_AUDIT (f), ==, n_audit);
  g_assert_cmpuint (count (f, "SELECT count(*) FROM approval_requests"), ==, 1);

  {
    g_autofree char *k = KEY ();

    /* One pending request per order. */
    none = request_approval (f, order->uuid, NULL, "alice", k, &error);
    g_assert_error (error, PP_REGISTRY_ERROR, PP_REGISTRY_ERROR_CONFLICT);
    g_assert_nonnull (strstr (error->message, request->uuid));
    g_clear_error (&error);
  }

  pending = list_approvals (f, TRUE);
  g_assert_cmpuint (pending->len, ==, 1);
  g_assert_cmpstr (((PpRegistryApproval *) g_ptr_array_index (pending, 0))->uuid, ==, request->uuid);
  g_clear_pointer (&pending, g_ptr_array_unref);

  {
    g_autofree char *k = KEY ();

    /* Four eyes: not the requester; not someone who is no reviewer. */
    none = decide (f, request->uuid, TRUE, "alice", k, &error);
    g_assert_error (error, PP_REGISTRY_ERROR, PP_REGISTRY_ERROR_PERMISSION);
    g_clear_error (&error);
    none = decide (f, request->uuid, TRUE, "carol", k, &error);
    g_assert_error (error, PP_REGISTRY_ERROR, PP_REGISTRY_ERROR_PERMISSION);
    g_clear_error (&error);
    none = decide (f, "6f1c1d3e-0000-4000-8000-000000000000", TRUE, "bob", k, &error);
    g_assert_error (error, PP_REGISTRY_ERROR, PP_REGISTRY_ERROR_NOT_FOUND);
    g_clear_error (&error);
  }

  decided = decide (f, request->uuid, TRUE, "bob", dkey, &error);
  g_assert_no_error (error);
  g_assert_cmpint (decided->state, ==, PP_REGISTRY_APPROVAL_APPROVED);
  g_assert_cmpstr (decided->uuid, ==, request->uuid);
  g_assert_cmpstr (decided->approver, ==, "bob");
  g_assert_cmpstr (decided->reason, ==, "checked on site");
  g_assert_cmpuint (strlen (decided->digest), ==, 64);
  g_assert_cmpuint (count (f, "SELECT count(*) FROM work_orders WHERE state = 'approved'"), ==, 1);
  n_audit = N_AUDIT (f);

  /* Replayed decision: the same answer, nothing decided twice. */
  g_clear_pointer (&replay, pp_registry_approval_free);
  replay = decide (f, request->uuid, TRUE, "bob", dkey, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (replay->digest, ==, decided->digest);
  g_assert_cmpuint (N_AUDIT (f), ==, n_audit);
  g_assert_cmpuint (count (f, "SELECT count(*) FROM approvals"), ==, 1);

  {
    g_autofree char *k = KEY ();

    /* Decided already: a new decision (a new key) is refused. */
    none = decide (f, request->uuid, FALSE, "rita", k, &error);
    g_assert_error (error, PP_REGISTRY_ERROR, PP_REGISTRY_ERROR_CONFLICT);
    g_clear_error (&error);
  }

  pending = list_approvals (f, TRUE);
  g_assert_cmpuint (pending->len, ==, 0);
  g_clear_pointer (&pending, g_ptr_array_unref);
  pending = list_approvals (f, FALSE);
  g_assert_cmpuint (pending->len, ==, 1);

  pp_registry_get_approval_async (f->registry, request->uuid, NULL, got_result, &res);
  got = pp_registry_get_approval_finish (f->registry, wait_for (&res), &error);
  g_assert_no_error (error);
  g_assert_cmpint (got->state, ==, PP_REGISTRY_APPROVAL_APPROVED);
  g_assert_cmpstr (got->approver, ==, "bob");
}

static void
test_reject_and_withdraw (Fixture       *f,
                          gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(PpWorkOrder) first = NULL;
  g_autoptr(PpWorkOrder) second = NULL;
  g_autoptr(PpWorkOrder) cancelled = NULL;
  g_autoptr(PpRegistryApproval) a1 = NULL;
  g_autoptr(PpRegistryApproval) a2 = NULL;
  g_autoptr(PpRegistryApproval) rejected = NULL;
  g_autoptr(PpRegistryApproval) withdrawn = NULL;
  g_autoptr(GAsyncResult) res = NULL;
  g_autofree char *k1 = KEY (), *k2 = KEY (), *k3 = KEY (), *k4 = KEY (), *k5 = KEY (), *k6 = KEY ();
  PpRegistrySerialCheck *check;

  first = create_order (f, "PAX0001", k1, &error);
  g_assert_no_error (error);
  a1 = request_approval (f, first->uuid, NULL, "alice", k2, &error);
  g_assert_no_error (error);
  rejected = decide (f, a1->uuid, FALSE, "rita", k3, &error);
  g_assert_no_error (error);
  g_assert_cmpint (rejected->state, ==, PP_REGISTRY_APPROVAL_REJECTED);
  g_assert_null (rejected->digest);
  /* A rejection cancels the order and frees the terminal. */
  check = lookup (f, "PAX0001", NULL);
  g_assert_cmpint (check->status, ==, PP_REGISTRY_SERIAL_INSTALLABLE);
  pp_registry_serial_check_free (check);

  second = create_order (f, "PAX0001", k4, &error);
  g_assert_no_error (error);
  a2 = request_approval (f, second->uuid, NULL, "alice", k5, &error);
  g_assert_no_error (error);
  cancelled = order_step (f, STEP_CANCEL, second->uuid, "alice", k6, &error);
  g_assert_no_error (error);
  g_assert_cmpint (cancelled->state, ==, PP_WORK_ORDER_STATE_CANCELLED);
  pp_registry_get_approval_async (f->registry, a2->uuid, NULL, got_result, &res);
  withdrawn = pp_registry_get_approval_finish (f->registry, wait_for (&res), &error);
  g_assert_no_error (error);
  g_assert_cmpint (withdrawn->state, ==, PP_REGISTRY_APPROVAL_WITHDRAWN);
}

/* The key host's verbs without a key host: each says none is configured. */
/* close: queued work finishes, the store is closed (another connection may
 * open it at once), later calls say the registry is closed. */
static void
test_close (Fixture       *f,
            gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GAsyncResult) queued = NULL;
  g_autoptr(GAsyncResult) late = NULL;
  g_autoptr(PpRegistrySerialCheck) check = NULL;
  g_autoptr(PpRegistrySerialCheck) none = NULL;

  pp_registry_lookup_serial_async (f->registry, "PAX0001", NULL, NULL, got_result, &queued);
  pp_registry_local_close (PP_REGISTRY_LOCAL (f->registry));
  check = pp_registry_lookup_serial_finish (f->registry, wait_for (&queued), &error);
  g_assert_no_error (error);
  g_assert_nonnull (check);
  pp_registry_lookup_serial_async (f->registry, "PAX0001", NULL, NULL, got_result, &late);
  none = pp_registry_lookup_serial_finish (f->registry, wait_for (&late), &error);
  g_assert_null (none);
  g_assert_error (error, PP_REGISTRY_ERROR, PP_REGISTRY_ERROR_UNAVAILABLE);
  pp_registry_local_close (PP_REGISTRY_LOCAL (f->registry));   /* twice: nothing more */
}

static void
test_no_key_host (Fixture       *f,
                  gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(PpWorkOrder) order = NULL;
  g_autoptr(GBytes) token = g_bytes_new_static ("\x30\x00", 2);
  g_autofree char *key = KEY ();
  guint n_audit;

  order = create_order (f, "PAX0001", key, &error);
  g_assert_no_error (error);
  n_audit = N_AUDIT (f);

  for (int verb = 0; verb < 4; verb++)
    {
      g_autoptr(GAsyncResult) res = NULL;
      g_autofree char *k = KEY ();
      g_autoptr(GBytes) bytes = NULL;
      g_autoptr(GBytes) cert = NULL;
      g_autoptr(GBytes) crl = NULL;
      g_autoptr(PpWorkOrder) keyed = NULL;
      gboolean ok = TRUE;

      switch (verb)
        {
        case 0:
          pp_registry_get_kdh_async (f->registry, NULL, got_result, &res);
          ok = pp_registry_get_kdh_finish (f->registry, wait_for (&res), &cert, &crl, &error);
          break;
        case 1:
          pp_registry_issue_kdh_credential_async (f->registry, order->uuid, "alice", k, NULL, got_result, &res);
          bytes = pp_registry_issue_kdh_credential_finish (f->registry, wait_for (&res), &error);
          ok = bytes != NULL;
          break;
        case 2:
          pp_registry_issue_key_token_async (f->registry, order->uuid, token, token, "alice", k, NULL,
                                             got_result, &res);
          bytes = pp_registry_issue_key_token_finish (f->registry, wait_for (&res), &error);
          ok = bytes != NULL;
          break;
        default:
          pp_registry_confirm_kcv_async (f->registry, order->uuid, "A1B2C3", "alice", k, NULL, got_result, &res);
          keyed = pp_registry_confirm_kcv_finish (f->registry, wait_for (&res), &error);
          ok = keyed != NULL;
          break;
        }
      g_assert_false (ok);
      g_assert_error (error, PP_REGISTRY_ERROR, PP_REGISTRY_ERROR_NO_KEY_HOST);
      g_assert_nonnull (strstr (error->message, "key host"));
      g_clear_error (&error);
    }
  g_assert_cmpuint (N_AUDIT (f), ==, n_audit);
  g_assert_cmpuint (count (f, "SELECT count(*) FROM idempotency"), ==, 1);
}

/* The order's later steps through the seam; keying (the key host's part)
 * through the store as the key host would. */
static void
test_later_steps (Fixture       *f,
                  gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(PpWorkOrder) order = NULL;
  g_autoptr(PpWorkOrder) step = NULL;
  g_autoptr(PpWorkOrder) replay = NULL;
  g_autoptr(PpWorkOrder) recycle = NULL;
  g_autoptr(PpWorkOrder) none = NULL;
  g_autoptr(PpRegistryApproval) request = NULL;
  g_autoptr(PpRegistryApproval) decided = NULL;
  g_autoptr(GAsyncResult) res = NULL;
  g_autofree char *kcv = NULL;
  g_autofree char *k1 = KEY (), *k2 = KEY (), *k3 = KEY (), *k4 = KEY (), *k5 = KEY (), *k6 = KEY ();
  g_autofree char *k7 = KEY ();
  guint n_audit;

  order = create_order (f, "PAX0001", k1, &error);
  g_assert_no_error (error);

  /* Out of order: a program before keying. */
  none = order_step (f, STEP_PROGRAM, order->uuid, "alice", k2, &error);
  g_assert_error (error, PP_REGISTRY_ERROR, PP_REGISTRY_ERROR_CONFLICT);
  g_assert_nonnull (strstr (error->message, "open"));
  g_clear_error (&error);

  request = request_approval (f, order->uuid, NULL, "alice", k3, &error);
  g_assert_no_error (error);
  decided = decide (f, request->uuid, TRUE, "bob", k4, &error);
  g_assert_no_error (error);
  kcv = pp_store_fixture_release (&f->store, order->id, "alice");
  g_assert_true (pp_store_order_keyed (f->store.store, order->id, kcv, "alice", &error));
  g_assert_no_error (error);

  /* The key used by the failed step is free again. */
  step = order_step (f, STEP_PROGRAM, order->uuid, "alice", k2, &error);
  g_assert_no_error (error);
  g_assert_cmpint (step->state, ==, PP_WORK_ORDER_STATE_PROGRAM_INSTALLED);
  g_clear_pointer (&step, pp_work_order_free);

  none = order_step (f, STEP_CLOSE, order->uuid, "bob", k5, &error);
  g_assert_error (error, PP_REGISTRY_ERROR, PP_REGISTRY_ERROR_PERMISSION);
  g_clear_error (&error);
  step = order_step (f, STEP_CLOSE, order->uuid, "alice", k5, &error);
  g_assert_no_error (error);
  g_assert_cmpint (step->state, ==, PP_WORK_ORDER_STATE_CLOSED);
  n_audit = N_AUDIT (f);
  replay = order_step (f, STEP_CLOSE, order->uuid, "alice", k5, &error);
  g_assert_no_error (error);
  g_assert_cmpint (replay->state, ==, PP_WORK_ORDER_STATE_CLOSED);
  g_assert_cmpint (replay->updated_at, ==, step->updated_at);
  g_assert_cmpuint (N_AUDIT (f), ==, n_audit);

  pp_registry_create_recycle_order_async (f->registry, "PAX0001", "shop closed", "alice", k6, NULL,
                                          got_result, &res);
  recycle = pp_registry_create_recycle_order_finish (f->registry, wait_for (&res), &error);
  g_assert_no_error (error);
  g_assert_cmpint (recycle->kind, ==, PP_WORK_ORDER_KIND_RECYCLE);
  g_assert_true (g_uuid_string_is_valid (recycle->uuid));
  g_assert_cmpstr (recycle->tid, ==, order->tid);
  g_clear_pointer (&step, pp_work_order_free);
  /* Not approved (so not unbound): closing it is refused, journalled, and
   * the terminal stays recycled. */
  n_audit = N_AUDIT (f);
  step = order_step (f, STEP_CLOSE, recycle->uuid, "alice", k7, &error);
  g_assert_null (step);
  g_assert_error (error, PP_REGISTRY_ERROR, PP_REGISTRY_ERROR_CONFLICT);
  g_assert_nonnull (strstr (error->message, "reviewer other than its requester"));
  g_clear_error (&error);
  g_assert_cmpuint (N_AUDIT (f), ==, n_audit + 1);
  g_assert_cmpuint (count (f, "SELECT count(*) FROM audit WHERE action = 'order.close_refused'"), ==, 1);
  g_assert_cmpuint (count (f, "SELECT count(*) FROM terminals WHERE serial = 'PAX0001' AND "
                              "state = 'recycled'"), ==, 1);
  /* bob approves the recycle: then it closes */
  {
    g_autofree char *ka = KEY (), *kd = KEY (), *kc = KEY ();

    g_clear_pointer (&request, pp_registry_approval_free);
    g_clear_pointer (&decided, pp_registry_approval_free);
    request = request_approval (f, recycle->uuid, "PAX0001", "alice", ka, &error);
    g_assert_no_error (error);
    decided = decide (f, request->uuid, TRUE, "bob", kd, &error);
    g_assert_no_error (error);
    step = order_step (f, STEP_CLOSE, recycle->uuid, "alice", kc, &error);
  }
  g_assert_no_error (error);
  g_assert_cmpint (step->state, ==, PP_WORK_ORDER_STATE_CLOSED);
  g_assert_cmpuint (count (f, "SELECT count(*) FROM terminals WHERE serial = 'PAX0001' AND "
                              "state = 'in_stock'"), ==, 1);

  {
    g_autofree char *k = KEY ();

    g_clear_object (&res);
    pp_registry_create_recycle_order_async (f->registry, "PAX0003", NULL, "alice", k, NULL, got_result, &res);
    none = pp_registry_create_recycle_order_finish (f->registry, wait_for (&res), &error);
    g_assert_error (error, PP_REGISTRY_ERROR, PP_REGISTRY_ERROR_CONFLICT);
    g_clear_error (&error);
  }
}

static void
test_programs_and_audit (Fixture       *f,
                         gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(PpProgramRecord) p1 = NULL;
  g_autoptr(PpProgramRecord) p2 = NULL;
  g_autoptr(PpProgramRecord) dup = NULL;
  g_autoptr(GPtrArray) list = NULL;
  g_autoptr(GPtrArray) entries = NULL;
  g_autoptr(GAsyncResult) res = NULL;
  const char *sha = "9F86D081884C7D659A2FEAA0C55AD015A3BF4F1B2B0B822CD15D6C15B0F00A08";
  PpAuditEntry *last;
  gint64 last_seq;

  p1 = pp_store_add_program (f->store.store, "A920", "pay", "1.2.0", sha, 1024, "alice", &error);
  g_assert_no_error (error);
  p2 = pp_store_add_program (f->store.store, "P2", "pay", "1.2.0", sha, 2048, "alice", &error);
  g_assert_no_error (error);
  dup = pp_store_add_program (f->store.store, "A920", "pay", "1.2.0", sha, 1024, "alice", &error);
  g_assert_error (error, PP_STORE_ERROR, PP_STORE_ERROR_DUPLICATE);
  g_clear_error (&error);

  pp_registry_list_programs_async (f->registry, "A920", NULL, got_result, &res);
  list = pp_registry_list_programs_finish (f->registry, wait_for (&res), &error);
  g_assert_no_error (error);
  g_assert_cmpuint (list->len, ==, 1);
  g_assert_cmpstr (((PpProgramRecord *) g_ptr_array_index (list, 0))->sha256, ==,
                   "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08");
  g_clear_pointer (&list, g_ptr_array_unref);
  g_clear_object (&res);
  pp_registry_list_programs_async (f->registry, NULL, NULL, got_result, &res);
  list = pp_registry_list_programs_finish (f->registry, wait_for (&res), &error);
  g_assert_cmpuint (list->len, ==, 2);

  g_clear_object (&res);
  pp_registry_list_audit_async (f->registry, 0, 0, NULL, got_result, &res);
  entries = pp_registry_list_audit_finish (f->registry, wait_for (&res), &error);
  g_assert_no_error (error);
  g_assert_cmpuint (entries->len, ==, N_AUDIT (f));
  last = g_ptr_array_index (entries, entries->len - 1);
  g_assert_cmpstr (last->action, ==, "program.add");
  last_seq = last->seq;
  g_clear_pointer (&entries, g_ptr_array_unref);
  g_clear_object (&res);
  /* After a cursor: only what came later, at most @limit. */
  pp_registry_list_audit_async (f->registry, last_seq - 2, 1, NULL, got_result, &res);
  entries = pp_registry_list_audit_finish (f->registry, wait_for (&res), &error);
  g_assert_cmpuint (entries->len, ==, 1);
  g_assert_cmpint (((PpAuditEntry *) g_ptr_array_index (entries, 0))->seq, ==, last_seq - 1);
}

/* ---- the change feed ---- */

static GPtrArray *
changes (Fixture *f,
         gint64  *io_cursor,
         guint    limit)
{
  g_autoptr(GAsyncResult) res = NULL;
  g_autoptr(GError) error = NULL;
  GPtrArray *list;

  pp_registry_list_changes_async (f->registry, *io_cursor, limit, NULL, got_result, &res);
  list = pp_registry_list_changes_finish (f->registry, wait_for (&res), io_cursor, &error);
  g_assert_no_error (error);
  return list;
}

static void
assert_change (GPtrArray  *list,
               guint       i,
               const char *kind,
               const char *key)
{
  PpChange *c;

  g_assert_cmpuint (i, <, list->len);
  c = g_ptr_array_index (list, i);
  g_assert_cmpstr (c->kind, ==, kind);
  g_assert_cmpstr (c->key, ==, key);
  if (i > 0)
    g_assert_cmpint (((PpChange *) g_ptr_array_index (list, i - 1))->seq, <, c->seq);
}

static void
test_changes (Fixture       *f,
              gconstpointer  data)
{
  const PpTerminalIntake one[] = { { "NEW0001", "PAX", "A920" } };
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) all = NULL;
  g_autoptr(GPtrArray) list = NULL;
  g_autoptr(PpWorkOrder) order = NULL;
  g_autoptr(PpRegistryApproval) request = NULL;
  g_autofree char *k1 = KEY (), *k2 = KEY (), *k3 = KEY ();
  gint64 start = 0, cursor, paged;

  /* From the start: everything the fixture made, each terminal once. */
  all = changes (f, &start, 0);
  g_assert_cmpuint (all->len, ==, G_N_ELEMENTS (rows));
  for (guint i = 0; i < all->len; i++)
    g_assert_cmpstr (((PpChange *) g_ptr_array_index (all, i))->kind, ==, "terminal");
  g_assert_cmpint (start, ==, ((PpChange *) g_ptr_array_index (all, all->len - 1))->seq);
  cursor = start;

  intake (f, one, 1, k1, NULL, &error);
  g_assert_no_error (error);
  order = create_order (f, "PAX0002", k2, &error);
  g_assert_no_error (error);
  /* NEW0001 changes again: it moves to the end of the feed. */
  g_assert_true (pp_store_transition_terminal (f->store.store, "NEW0001", PP_TERMINAL_STATE_QUARANTINED,
                                               "alice", NULL, &error));
  request = request_approval (f, order->uuid, NULL, "alice", k3, &error);
  g_assert_no_error (error);

  paged = cursor;
  list = changes (f, &cursor, 0);
  g_assert_cmpuint (list->len, ==, 4);
  assert_change (list, 0, "terminal", "PAX0002");
  assert_change (list, 1, "order", order->uuid);
  assert_change (list, 2, "terminal", "NEW0001");
  assert_change (list, 3, "approval", request->uuid);
  g_assert_cmpint (cursor, ==, ((PpChange *) g_ptr_array_index (list, 3))->seq);

  /* Page by page: the same changes, each once. */
  for (guint i = 0; i < list->len; i++)
    {
      g_autoptr(GPtrArray) page = changes (f, &paged, 1);

      g_assert_cmpuint (page->len, ==, 1);
      g_assert_cmpint (((PpChange *) g_ptr_array_index (page, 0))->seq, ==,
                       ((PpChange *) g_ptr_array_index (list, i))->seq);
    }
  g_assert_cmpint (paged, ==, cursor);

  /* Nothing new: empty, the cursor stays. */
  g_clear_pointer (&list, g_ptr_array_unref);
  list = changes (f, &cursor, 0);
  g_assert_cmpuint (list->len, ==, 0);
  g_assert_cmpint (cursor, ==, paged);
  {
    gint64 head = 0;

    g_assert_true (pp_store_get_change_cursor (f->store.store, &head, &error));
    g_assert_cmpint (head, ==, cursor);
  }
}

/* ---- the owner thread ---- */

static gboolean
count_idle (gpointer data)
{
  guint *n = data;

  (*n)++;
  return G_SOURCE_CONTINUE;
}

#define MANY 50

typedef struct {
  guint done;
  guint failed;
  GPtrArray *mids;
} Many;

static void
merchant_done (GObject      *source,
               GAsyncResult *result,
               gpointer      data)
{
  Many *many = data;
  g_autoptr(GError) error = NULL;
  g_autoptr(PpMerchant) m = pp_registry_create_merchant_finish (PP_REGISTRY (source), result, &error);

  g_assert_true (g_main_context_is_owner (g_main_context_default ()));
  if (m == NULL)
    many->failed++;
  else
    g_ptr_array_add (many->mids, g_strdup (m->mid));
  many->done++;
}

static void
test_owner_thread (Fixture       *f,
                   gconstpointer  data)
{
  g_autoptr(GArray) big = g_array_new (FALSE, TRUE, sizeof (PpTerminalIntake));
  g_autoptr(GPtrArray) serials = g_ptr_array_new_with_free_func (g_free);
  g_autoptr(GAsyncResult) res = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(GHashTable) unique = g_hash_table_new (g_str_hash, g_str_equal);
  g_autofree char *key = KEY ();
  Many many = { 0, 0, g_ptr_array_new_with_free_func (g_free) };
  guint idles = 0, idles_at_queue, added = 0;
  guint idle_id;

  /* A big intake: while the owner thread writes it the main loop keeps
   * running (an idle counts its turns), and the calls queued behind it all
   * complete, each with its own MID. */
  for (guint i = 0; i < 20000; i++)
    {
      PpTerminalIntake row = { NULL, "PAX", "A920" };

      g_ptr_array_add (serials, g_strdup_printf ("BULK%06u", i));
      row.serial = g_ptr_array_index (serials, i);
      g_array_append_val (big, row);
    }
  idle_id = g_idle_add (count_idle, &idles);
  pp_registry_intake_async (f->registry, &g_array_index (big, PpTerminalIntake, 0), big->len,
                            PP_TERMINAL_STATE_IN_STOCK, "setup", key, NULL, got_result, &res);
  /* The caller's rows are copied: changing them now changes nothing. */
  g_ptr_array_set_size (serials, 0);
  g_array_set_size (big, 0);
  for (guint i = 0; i < MANY; i++)
    {
      g_autofree char *name = g_strdup_printf ("Shop %u", i);
      g_autofree char *reg = g_strdup_printf ("REG-%06u", i);
      g_autofree char *k = KEY ();
      PpMerchantFields fields = { name, reg, "1 Market Street", "5411", "Zhang San", "13900000000" };

      pp_registry_create_merchant_async (f->registry, &fields, "alice", k, NULL, merchant_done, &many);
    }
  idles_at_queue = idles;
  g_assert_cmpuint (idles_at_queue, ==, 0);   /* queuing did not run the loop */
  pp_registry_intake_finish (f->registry, wait_for (&res), &added, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (added, ==, 20000);
  g_test_message ("main loop turns while 20000 rows were taken in: %u", idles);
  g_assert_cmpuint (idles, >, 10);
  while (many.done < MANY)
    g_main_context_iteration (NULL, TRUE);
  g_source_remove (idle_id);
  g_assert_cmpuint (many.failed, ==, 0);
  for (guint i = 0; i < many.mids->len; i++)
    g_assert_true (g_hash_table_add (unique, g_ptr_array_index (many.mids, i)));
  g_assert_cmpuint (count (f, "SELECT count(*) FROM merchants"), ==, MANY + 1);
  g_assert_cmpuint (count (f, "SELECT count(*) FROM terminals WHERE serial LIKE 'BULK%'"), ==, 20000);
  g_ptr_array_unref (many.mids);
}

/* The registry may go away with calls in flight: each call holds it. */
static void
test_unref_in_flight (Fixture       *f,
                      gconstpointer  data)
{
  g_autoptr(GAsyncResult) res = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(PpWorkOrder) order = NULL;
  g_autofree char *key = KEY ();
  PpRegistry *registry = g_steal_pointer (&f->registry);
  GObject *source;

  pp_registry_create_install_order_async (registry, "PAX0001", f->store.merchant_id, "1.2.0",
                                          PP_TMK_AES_128, "alice", key, NULL, got_result, &res);
  g_object_unref (registry);
  wait_for (&res);
  source = g_async_result_get_source_object (res);
  order = pp_registry_create_install_order_finish (PP_REGISTRY (source), res, &error);
  g_object_unref (source);
  g_assert_no_error (error);
  g_assert_cmpstr (order->serial, ==, "PAX0001");
  g_clear_object (&res);
  /* The last reference went with the task: the thread ended, the file is closed. */
  g_assert_cmpuint (count (f, "SELECT count(*) FROM work_orders"), ==, 1);
}

static void
test_cancel (Fixture       *f,
             gconstpointer  data)
{
  PpMerchantFields fields = { "Tea House", "REG-TEA-001", "2 Market Street", "5814", "Chen Jie",
                              "13700000000" };
  g_autoptr(GCancellable) cancellable = g_cancellable_new ();
  g_autoptr(GAsyncResult) res = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(PpMerchant) m = NULL;
  g_autofree char *key = KEY ();
  g_autoptr(GArray) big = g_array_new (FALSE, TRUE, sizeof (PpTerminalIntake));
  g_autoptr(GPtrArray) serials = g_ptr_array_new_with_free_func (g_free);
  g_autoptr(GAsyncResult) big_res = NULL;
  g_autofree char *big_key = KEY ();
  guint n_audit = N_AUDIT (f);

  /* Cancelled before it started: nothing done, the key still free. */
  g_cancellable_cancel (cancellable);
  pp_registry_create_merchant_async (f->registry, &fields, "alice", key, cancellable, got_result, &res);
  m = pp_registry_create_merchant_finish (f->registry, wait_for (&res), &error);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  g_assert_null (m);
  g_clear_error (&error);
  g_assert_cmpuint (count (f, "SELECT count(*) FROM merchants"), ==, 1);
  g_assert_cmpuint (N_AUDIT (f), ==, n_audit);

  /* Cancelled while queued behind a long intake: it never runs. */
  for (guint i = 0; i < 20000; i++)
    {
      PpTerminalIntake row = { NULL, "PAX", "A920" };

      g_ptr_array_add (serials, g_strdup_printf ("CNCL%06u", i));
      row.serial = g_ptr_array_index (serials, i);
      g_array_append_val (big, row);
    }
  pp_registry_intake_async (f->registry, &g_array_index (big, PpTerminalIntake, 0), big->len,
                            PP_TERMINAL_STATE_IN_STOCK, "setup", big_key, NULL, got_result, &big_res);
  g_clear_object (&res);
  g_clear_object (&cancellable);
  cancellable = g_cancellable_new ();
  pp_registry_create_merchant_async (f->registry, &fields, "alice", key, cancellable, got_result, &res);
  g_cancellable_cancel (cancellable);
  m = pp_registry_create_merchant_finish (f->registry, wait_for (&res), &error);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  g_clear_error (&error);
  pp_registry_intake_finish (f->registry, wait_for (&big_res), NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (count (f, "SELECT count(*) FROM merchants"), ==, 1);

  /* The same key, not cancelled: it runs now. */
  g_clear_object (&res);
  pp_registry_create_merchant_async (f->registry, &fields, "alice", key, NULL, got_result, &res);
  m = pp_registry_create_merchant_finish (f->registry, wait_for (&res), &error);
  g_assert_no_error (error);
  g_assert_cmpstr (m->name, ==, "Tea House");
}

/* ---- errors and JSON ---- */

static void
test_errors (void)
{
  static const struct {
    int store_code;
    int registry_code;
    const char *name;
    guint status;
  } map[] = {
    { PP_STORE_ERROR_NOT_FOUND, PP_REGISTRY_ERROR_NOT_FOUND, "not_found", 404 },
    { PP_STORE_ERROR_DUPLICATE, PP_REGISTRY_ERROR_CONFLICT, "conflict", 409 },
    { PP_STORE_ERROR_ILLEGAL_TRANSITION, PP_REGISTRY_ERROR_CONFLICT, "conflict", 409 },
    { PP_STORE_ERROR_PERMISSION, PP_REGISTRY_ERROR_PERMISSION, "permission", 403 },
    { PP_STORE_ERROR_INVALID, PP_REGISTRY_ERROR_INVALID, "invalid", 400 },
    { PP_STORE_ERROR_APPROVAL_VOID, PP_REGISTRY_ERROR_APPROVAL_VOID, "approval_void", 409 },
    { PP_STORE_ERROR_KCV_MISMATCH, PP_REGISTRY_ERROR_KCV_MISMATCH, "kcv_mismatch", 409 },
    { PP_STORE_ERROR_BUSY, PP_REGISTRY_ERROR_UNAVAILABLE, "unavailable", 503 },
    { PP_STORE_ERROR_OPEN, PP_REGISTRY_ERROR_UNAVAILABLE, "unavailable", 503 },
    { PP_STORE_ERROR_REQUEST_REUSED, PP_REGISTRY_ERROR_KEY_REUSED, "idempotency_key_reused", 422 },
    { PP_STORE_ERROR_SQL, PP_REGISTRY_ERROR_FAILED, "failed", 500 },
  };
  static const struct {
    int key_host_code;
    int registry_code;
  } kh[] = {
    { PP_KEY_HOST_ERROR_NO_APPROVAL, PP_REGISTRY_ERROR_NO_APPROVAL },
    { PP_KEY_HOST_ERROR_SELF_APPROVAL, PP_REGISTRY_ERROR_PERMISSION },
    { PP_KEY_HOST_ERROR_APPROVAL_VOID, PP_REGISTRY_ERROR_APPROVAL_VOID },
    { PP_KEY_HOST_ERROR_CHAIN, PP_REGISTRY_ERROR_TOKEN_REJECTED },
    { PP_KEY_HOST_ERROR_NONCE_REUSED, PP_REGISTRY_ERROR_TOKEN_REJECTED },
    { PP_KEY_HOST_ERROR_DUPLICATE_KEY, PP_REGISTRY_ERROR_CONFLICT },
    { PP_KEY_HOST_ERROR_KCV_MISMATCH, PP_REGISTRY_ERROR_KCV_MISMATCH },
    { PP_KEY_HOST_ERROR_CONFIG, PP_REGISTRY_ERROR_NO_KEY_HOST },
  };
  GError *error = NULL;

  for (gsize i = 0; i < G_N_ELEMENTS (map); i++)
    {
      pp_registry_propagate_error (&error, g_error_new (PP_STORE_ERROR, map[i].store_code, "the store's words %zu", i));
      g_assert_error (error, PP_REGISTRY_ERROR, map[i].registry_code);
      g_assert_nonnull (strstr (error->message, "the store's words"));
      g_assert_cmpstr (pp_registry_error_code_to_string (error->code), ==, map[i].name);
      g_assert_cmpuint (pp_registry_error_code_to_http_status (error->code), ==, map[i].status);
      g_clear_error (&error);
    }
  for (gsize i = 0; i < G_N_ELEMENTS (kh); i++)
    {
      pp_registry_propagate_error (&error, g_error_new_literal (PP_KEY_HOST_ERROR, kh[i].key_host_code, "no"));
      g_assert_error (error, PP_REGISTRY_ERROR, kh[i].registry_code);
      g_clear_error (&error);
    }
  /* Cancellation stays what GIO callers check for. */
  pp_registry_propagate_error (&error, g_error_new_literal (G_IO_ERROR, G_IO_ERROR_CANCELLED, "x"));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  g_clear_error (&error);
  g_assert_cmpstr (pp_registry_error_code_to_string (999), ==, "failed");
}

static void
test_json (Fixture       *f,
           gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(PpWorkOrder) order = NULL;
  g_autoptr(PpWorkOrder) back = NULL;
  g_autoptr(JsonNode) node = NULL;
  g_autoptr(JsonNode) again = NULL;
  g_autofree char *key = KEY ();
  g_autofree char *text = NULL;
  g_autofree char *text2 = NULL;

  order = create_order (f, "PAX0001", key, &error);
  g_assert_no_error (error);
  node = pp_registry_order_to_json (order);
  back = pp_registry_order_from_json (node, &error);
  g_assert_no_error (error);
  again = pp_registry_order_to_json (back);
  text = json_to_string (node, FALSE);
  text2 = json_to_string (again, FALSE);
  g_assert_cmpstr (text, ==, text2);
  g_assert_nonnull (strstr (text, order->uuid));

  json_object_remove_member (json_node_get_object (node), "serial");
  g_clear_pointer (&back, pp_work_order_free);
  back = pp_registry_order_from_json (node, &error);
  g_assert_error (error, PP_REGISTRY_ERROR, PP_REGISTRY_ERROR_INVALID);
  g_assert_nonnull (strstr (error->message, "serial"));
  g_clear_error (&error);
  json_object_set_string_member (json_node_get_object (node), "serial", "PAX0001");
  json_object_set_string_member (json_node_get_object (node), "state", "sideways");
  back = pp_registry_order_from_json (node, &error);
  g_assert_error (error, PP_REGISTRY_ERROR, PP_REGISTRY_ERROR_INVALID);
  g_assert_nonnull (strstr (error->message, "state"));
}

/* ---- approval codes and their QR code ---- */

static gboolean
is_code (const char *code)
{
  g_autofree char *normal = pp_approval_code_normalize (code);

  return code != NULL && strlen (code) == PP_APPROVAL_CODE_LENGTH && g_strcmp0 (normal, code) == 0;
}

static void
test_approval_codes (Fixture       *f,
                     gconstpointer  data)
{
  const char *serials[] = { "PAX0001", "PAX0002", "PAX0003" };
  g_autoptr(GPtrArray) requests = g_ptr_array_new_with_free_func ((GDestroyNotify) pp_registry_approval_free);
  g_autoptr(GError) error = NULL;
  g_autoptr(PpRegistryApproval) got = NULL;
  g_autoptr(PpRegistryApproval) decided = NULL;
  g_autoptr(PpQrCode) qr = NULL;
  g_autofree char *payload = NULL;
  g_autofree char *typed = NULL;
  g_autofree char *ref = NULL;
  g_autofree char *dkey = KEY ();
  PpRegistryApproval *first;

  for (guint i = 0; i < G_N_ELEMENTS (serials); i++)
    {
      g_autofree char *k = KEY ();
      g_autofree char *rk = KEY ();
      g_autoptr(PpWorkOrder) order = create_order (f, serials[i], k, &error);
      PpRegistryApproval *a;

      g_assert_no_error (error);
      a = request_approval (f, order->uuid, NULL, "alice", rk, &error);
      g_assert_no_error (error);
      g_assert_true (is_code (a->code));
      for (guint j = 0; j < requests->len; j++)
        g_assert_cmpstr (((PpRegistryApproval *) g_ptr_array_index (requests, j))->code, !=, a->code);
      g_ptr_array_add (requests, a);
    }
  first = g_ptr_array_index (requests, 0);

  /* Typed as a reviewer would: lower case, a hyphen in the middle, an O for a 0. */
  typed = g_ascii_strdown (first->code, -1);
  {
    g_autofree char *hyphen = g_strdup_printf ("%.4s-%s", typed, typed + 4);

    g_free (typed);
    typed = g_strdelimit (g_steal_pointer (&hyphen), "0", 'o');
  }
  got = get_approval (f, typed, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (got->uuid, ==, first->uuid);
  g_assert_cmpstr (got->code, ==, first->code);
  g_assert_null (get_approval (f, "ZZZZ-ZZZZ", &error));
  g_assert_error (error, PP_REGISTRY_ERROR, PP_REGISTRY_ERROR_NOT_FOUND);
  g_clear_error (&error);

  /* Not codes: the wrong length, a U, punctuation. */
  g_assert_null (pp_approval_code_normalize ("ABCDEFG"));
  g_assert_null (pp_approval_code_normalize ("ABCDEFGHJ"));
  g_assert_null (pp_approval_code_normalize ("ABCDEFGU"));
  g_assert_null (pp_approval_code_normalize ("ABCD.EFG"));

  /* The QR payload, and what a scan of it, the UUID or the code opens. */
  payload = pp_registry_approval_qr_payload (first);
  {
    g_autofree char *expected = g_strdup_printf ("posprov:approval:%s?code=%s", first->uuid, first->code);

    g_assert_cmpstr (payload, ==, expected);
  }
  ref = pp_registry_approval_ref_parse (payload);
  g_assert_cmpstr (ref, ==, first->uuid);
  g_clear_pointer (&ref, g_free);
  ref = pp_registry_approval_ref_parse (typed);
  g_assert_cmpstr (ref, ==, first->code);
  g_clear_pointer (&ref, g_free);
  g_assert_null (pp_registry_approval_ref_parse ("posprov:approval:not-a-uuid?code=ABCDEFGH"));
  g_assert_null (pp_registry_approval_ref_parse ("hello"));

  /* The matrix is libqrencode's for the payload (the format the station draws). */
  qr = pp_qr_code_new (payload, &error);
  g_assert_no_error (error);
  {
    QRcode *expected = QRcode_encodeString (payload, 0, QR_ECLEVEL_M, QR_MODE_8, 1);
    guint size = 0;
    const guint8 *modules = pp_qr_code_get_modules (qr, &size);
    g_autofree char *blocks = pp_qr_code_to_half_blocks (qr, 2);
    g_auto(GStrv) lines = g_strsplit (blocks, "\n", -1);

    g_assert_cmpuint (size, ==, (guint) expected->width);
    for (guint i = 0; i < size * size; i++)
      g_assert_cmpint (modules[i], ==, expected->data[i] & 1);
    g_assert_true (pp_qr_code_is_dark (qr, 0, 0));   /* a finder pattern's corner */
    g_assert_false (pp_qr_code_is_dark (qr, size, 0));
    /* (size + 4) modules a line, (size + 4) / 2 rounded up lines and the empty tail. */
    g_assert_cmpuint (g_strv_length (lines), ==, (size + 4 + 1) / 2 + 1);
    g_assert_cmpuint (g_utf8_strlen (lines[0], -1), ==, size + 4);
    QRcode_free (expected);
  }

  /* A decided request keeps its code and still opens by it. */
  decided = decide (f, first->uuid, TRUE, "bob", dkey, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (decided->code, ==, first->code);
  g_clear_pointer (&got, pp_registry_approval_free);
  got = get_approval (f, first->code, &error);
  g_assert_no_error (error);
  g_assert_cmpint (got->state, ==, PP_REGISTRY_APPROVAL_APPROVED);
}

/* A store of schema 5: its pending requests get a code, decided ones none. */
static void
test_migration_codes (Fixture       *f,
                      gconstpointer  data)
{
  static const char *downgrade =
    "DROP TRIGGER approval_requests_code_fixed; DROP INDEX approval_requests_code_pending;"
    "DROP INDEX approval_requests_code; ALTER TABLE approval_requests DROP COLUMN code;"
    "PRAGMA user_version = 5;";
  g_autoptr(GError) error = NULL;
  g_autoptr(PpStore) store = NULL;
  g_autoptr(PpWorkOrder) decided = NULL;
  g_autoptr(PpWorkOrder) open = NULL;
  g_autoptr(PpApprovalRequest) pending = NULL;
  g_autoptr(GPtrArray) requests = NULL;
  sqlite3 *db = NULL;

  decided = pp_store_create_install_order (f->store.store, "PAX0001", f->store.merchant_id, "1.2.0",
                                           PP_TMK_AES_128, "alice", &error);
  g_assert_no_error (error);
  g_assert_true (pp_store_decide_order (f->store.store, decided->id, "bob", TRUE, NULL, &error));
  open = pp_store_create_install_order (f->store.store, "PAX0003", f->store.merchant_id, "1.2.0",
                                        PP_TMK_AES_128, "alice", &error);
  g_assert_no_error (error);
  pending = pp_store_request_approval (f->store.store, open->id, "alice", NULL, &error);
  g_assert_no_error (error);
  g_clear_pointer (&pending, pp_approval_request_free);
  pp_registry_local_close (PP_REGISTRY_LOCAL (f->registry));
  g_clear_object (&f->registry);
  g_clear_object (&f->store.store);
  g_assert_cmpint (sqlite3_open (f->store.path, &db), ==, SQLITE_OK);
  g_assert_cmpint (sqlite3_exec (db, downgrade, NULL, NULL, NULL), ==, SQLITE_OK);
  sqlite3_close (db);

  store = pp_store_open (f->store.path, &error);
  g_assert_no_error (error);
  g_assert_cmpint (pp_store_get_schema_version (store), ==, pp_store_get_supported_schema_version ());
  requests = pp_store_list_approval_requests (store, -1, 0, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (requests->len, ==, 2);
  for (guint i = 0; i < requests->len; i++)
    {
      PpApprovalRequest *r = g_ptr_array_index (requests, i);

      if (r->state == PP_APPROVAL_REQUEST_PENDING)
        {
          g_assert_true (is_code (r->code));
          pending = pp_store_get_approval_request (store, r->code, &error);
          g_assert_no_error (error);
          g_assert_cmpstr (pending->uuid, ==, r->uuid);
        }
      else
        g_assert_null (r->code);
    }
  g_assert_nonnull (pending);
}

/* A store from before schema 4: its orders and approvals get UUIDs, each
 * decision a decided request with the same UUID, and the change feed
 * starts with everything there is. */
static void
test_migration (Fixture       *f,
                gconstpointer  data)
{
  static const char *downgrade =
    /* schema 5 (the key host) first, then schema 4 */
    "DROP TABLE key_host_config; DROP TABLE key_host_trust; DROP TABLE key_host_profiles;"
    "DROP TABLE key_host_nonces; DROP TABLE key_fingerprints; DROP TABLE user_otp;"
    "DROP TRIGGER work_orders_uuid_fill; DROP TRIGGER work_orders_uuid_fixed;"
    "DROP TRIGGER approvals_uuid_fill; DROP TRIGGER approvals_uuid_fixed;"
    "DROP TRIGGER approval_requests_withdraw;"
    "DROP TRIGGER changes_terminal_insert; DROP TRIGGER changes_terminal_update;"
    "DROP TRIGGER changes_order_insert; DROP TRIGGER changes_order_update;"
    "DROP TRIGGER changes_approval_insert; DROP TRIGGER changes_approval_update;"
    "DROP TRIGGER changes_approval_void;"
    "DROP INDEX work_orders_uuid; DROP INDEX approvals_uuid;"
    "DROP TABLE approval_requests; DROP TABLE idempotency; DROP TABLE changes; DROP TABLE programs;"
    "ALTER TABLE work_orders DROP COLUMN uuid; ALTER TABLE approvals DROP COLUMN uuid;"
    "PRAGMA user_version = 3;";
  g_autoptr(GError) error = NULL;
  g_autoptr(PpStore) store = NULL;
  g_autoptr(PpWorkOrder) order = NULL;
  g_autoptr(PpWorkOrder) other = NULL;
  g_autoptr(PpWorkOrder) reread = NULL;
  g_autoptr(GPtrArray) approvals = NULL;
  g_autoptr(GPtrArray) requests = NULL;
  g_autoptr(GPtrArray) feed = NULL;
  PpApprovalRequest *request;
  PpApproval *decision;
  sqlite3 *db = NULL;

  order = pp_store_create_install_order (f->store.store, "PAX0001", f->store.merchant_id, "1.2.0",
                                         PP_TMK_AES_128, "alice", &error);
  g_assert_no_error (error);
  g_assert_true (pp_store_decide_order (f->store.store, order->id, "bob", TRUE, NULL, &error));
  other = pp_store_create_install_order (f->store.store, "PAX0003", f->store.merchant_id, "1.2.0",
                                         PP_TMK_AES_128, "alice", &error);
  g_clear_object (&f->registry);
  g_clear_object (&f->store.store);
  g_assert_cmpint (sqlite3_open (f->store.path, &db), ==, SQLITE_OK);
  g_assert_cmpint (sqlite3_exec (db, downgrade, NULL, NULL, NULL), ==, SQLITE_OK);
  sqlite3_close (db);

  store = pp_store_open (f->store.path, &error);
  g_assert_no_error (error);
  g_assert_cmpint (pp_store_get_schema_version (store), ==, pp_store_get_supported_schema_version ());
  reread = pp_store_get_order (store, order->id, &error);
  g_assert_true (g_uuid_string_is_valid (reread->uuid));
  g_assert_cmpstr (reread->uuid, !=, order->uuid);   /* a new one, made by the migration */
  g_clear_pointer (&reread, pp_work_order_free);
  {
    g_autoptr(PpWorkOrder) by_id = pp_store_get_order (store, other->id, &error);

    reread = pp_store_get_order_by_uuid (store, by_id->uuid, &error);
    g_assert_no_error (error);
  }
  g_assert_cmpint (reread->id, ==, other->id);
  g_assert_cmpuint (count (f, "SELECT count(DISTINCT uuid) FROM work_orders"), ==, 2);

  approvals = pp_store_list_approvals (store, order->id, &error);
  g_assert_cmpuint (approvals->len, ==, 1);
  decision = g_ptr_array_index (approvals, 0);
  g_assert_true (g_uuid_string_is_valid (decision->uuid));
  requests = pp_store_list_approval_requests (store, -1, 0, &error);
  g_assert_cmpuint (requests->len, ==, 1);
  request = g_ptr_array_index (requests, 0);
  g_assert_cmpstr (request->uuid, ==, decision->uuid);
  g_assert_cmpint (request->state, ==, PP_APPROVAL_REQUEST_APPROVED);
  g_assert_cmpint (request->approval_id, ==, decision->id);

  feed = pp_store_list_changes (store, 0, 0, &error);
  g_assert_cmpuint (feed->len, ==, G_N_ELEMENTS (rows) + 2 + 1);
}

/* ---- limits and required arguments (the service's rules, on the seam) ---- */

static void
test_limits_and_required (Fixture       *f,
                          gconstpointer  data)
{
  g_autoptr(GArray) batch = g_array_new (FALSE, TRUE, sizeof (PpTerminalIntake));
  g_autoptr(GPtrArray) serials = g_ptr_array_new_with_free_func (g_free);
  g_autoptr(GAsyncResult) res = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) page = NULL;
  g_autoptr(PpWorkOrder) order = NULL;
  g_autofree char *key = KEY ();
  g_autofree char *k2 = KEY ();
  g_autofree char *k3 = KEY ();
  g_autofree char *k4 = KEY ();
  guint audit;

  for (guint i = 0; i < PP_REGISTRY_PAGE_DEFAULT + 20; i++)
    g_ptr_array_add (serials, g_strdup_printf ("LIM%04u", i));
  for (guint i = 0; i < serials->len; i++)
    {
      PpTerminalIntake row = { g_ptr_array_index (serials, i), "PAX", "A920" };

      g_array_append_val (batch, row);
    }
  intake (f, &g_array_index (batch, PpTerminalIntake, 0), batch->len, key, NULL, &error);
  g_assert_no_error (error);

  /* 0: the default page, not everything. */
  pp_registry_list_terminals_async (f->registry, PP_TERMINAL_STATE_ANY, NULL, 0, NULL, got_result, &res);
  page = pp_registry_list_terminals_finish (f->registry, wait_for (&res), &error);
  g_assert_no_error (error);
  g_assert_cmpuint (page->len, ==, PP_REGISTRY_PAGE_DEFAULT);
  g_clear_pointer (&page, g_ptr_array_unref);
  g_clear_object (&res);
  pp_registry_list_changes_async (f->registry, 0, 0, NULL, got_result, &res);
  page = pp_registry_list_changes_finish (f->registry, wait_for (&res), NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (page->len, ==, PP_REGISTRY_PAGE_DEFAULT);
  g_clear_pointer (&page, g_ptr_array_unref);
  g_clear_object (&res);

  /* Over the maximum: INVALID, naming the bound. */
  pp_registry_list_terminals_async (f->registry, PP_TERMINAL_STATE_ANY, NULL, PP_REGISTRY_PAGE_MAX + 1, NULL,
                                    got_result, &res);
  g_assert_null (pp_registry_list_terminals_finish (f->registry, wait_for (&res), &error));
  g_assert_error (error, PP_REGISTRY_ERROR, PP_REGISTRY_ERROR_INVALID);
  g_assert_nonnull (strstr (error->message, "1000"));
  g_clear_error (&error);
  g_clear_object (&res);
  pp_registry_list_audit_async (f->registry, 0, PP_REGISTRY_PAGE_MAX + 1, NULL, got_result, &res);
  g_assert_null (pp_registry_list_audit_finish (f->registry, wait_for (&res), &error));
  g_assert_error (error, PP_REGISTRY_ERROR, PP_REGISTRY_ERROR_INVALID);
  g_clear_error (&error);
  g_clear_object (&res);
  pp_registry_search_merchants_async (f->registry, NULL, PP_REGISTRY_PAGE_MAX + 1, NULL, got_result, &res);
  g_assert_null (pp_registry_search_merchants_finish (f->registry, wait_for (&res), &error));
  g_assert_error (error, PP_REGISTRY_ERROR, PP_REGISTRY_ERROR_INVALID);
  g_clear_error (&error);
  g_clear_object (&res);

  /* An install order names its program; nothing is reserved without one. */
  audit = N_AUDIT (f);
  for (guint i = 0; i < 2; i++)
    {
      pp_registry_create_install_order_async (f->registry, "PAX0001", f->store.merchant_id, i == 0 ? NULL : " ",
                                              PP_TMK_AES_128, "alice", k2, NULL, got_result, &res);
      g_assert_null (pp_registry_create_install_order_finish (f->registry, wait_for (&res), &error));
      g_assert_error (error, PP_REGISTRY_ERROR, PP_REGISTRY_ERROR_INVALID);
      g_assert_nonnull (strstr (error->message, "program"));
      g_clear_error (&error);
      g_clear_object (&res);
    }
  g_assert_cmpuint (count (f, "SELECT count(*) FROM work_orders"), ==, 0);
  g_assert_cmpuint (N_AUDIT (f), ==, audit);

  /* A cancel gives its reason; without one the order stays open. The
   * key of the refused call is free for the corrected one. */
  order = create_order (f, "PAX0001", k3, &error);
  g_assert_no_error (error);
  pp_registry_cancel_order_async (f->registry, order->uuid, NULL, "alice", k4, NULL, got_result, &res);
  g_assert_null (pp_registry_cancel_order_finish (f->registry, wait_for (&res), &error));
  g_assert_error (error, PP_REGISTRY_ERROR, PP_REGISTRY_ERROR_INVALID);
  g_assert_nonnull (strstr (error->message, "reason"));
  g_clear_error (&error);
  g_clear_object (&res);
  g_assert_cmpuint (count (f, "SELECT count(*) FROM work_orders WHERE state = 'open'"), ==, 1);
  pp_registry_cancel_order_async (f->registry, order->uuid, "wrong shop", "alice", k4, NULL, got_result, &res);
  g_clear_pointer (&order, pp_work_order_free);
  order = pp_registry_cancel_order_finish (f->registry, wait_for (&res), &error);
  g_assert_no_error (error);
  g_assert_cmpint (order->state, ==, PP_WORK_ORDER_STATE_CANCELLED);
}

/* A store that cannot be opened: the registry says so and is not made. */
static void
test_open_fails (void)
{
  g_autofree char *dir = pp_test_make_tmpdir ();
  g_autoptr(GError) error = NULL;
  g_autoptr(PpRegistryLocal) registry = NULL;

  /* A folder where the file should be. */
  registry = pp_registry_local_new (dir, &error);
  g_assert_null (registry);
  g_assert_error (error, PP_REGISTRY_ERROR, PP_REGISTRY_ERROR_UNAVAILABLE);
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);

#define ADD(path, func) \
  g_test_add (path, Fixture, NULL, fixture_set_up, func, fixture_tear_down)
  ADD ("/registry/lookup", test_lookup);
  ADD ("/registry/intake", test_intake);
  ADD ("/registry/merchants", test_merchants);
  ADD ("/registry/orders", test_orders);
  ADD ("/registry/approvals", test_approvals);
  ADD ("/registry/reject-and-withdraw", test_reject_and_withdraw);
  ADD ("/registry/no-key-host", test_no_key_host);
  ADD ("/registry/close", test_close);
  ADD ("/registry/later-steps", test_later_steps);
  ADD ("/registry/programs-and-audit", test_programs_and_audit);
  ADD ("/registry/changes", test_changes);
  ADD ("/registry/limits-and-required", test_limits_and_required);
  ADD ("/registry/approval-codes", test_approval_codes);
  ADD ("/registry/migration-codes", test_migration_codes);
  ADD ("/registry/owner-thread", test_owner_thread);
  ADD ("/registry/unref-in-flight", test_unref_in_flight);
  ADD ("/registry/cancel", test_cancel);
  ADD ("/registry/json", test_json);
  ADD ("/registry/migration", test_migration);
#undef ADD
  g_test_add_func ("/registry/errors", test_errors);
  g_test_add_func ("/registry/open-fails", test_open_fails);

  return g_test_run ();
}
