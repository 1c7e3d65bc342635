/* SPDX-License-Identifier: GPL-3.0-or-later
 *
 * test-registry-remote.c: the registry seam through PpRegistryRemote
 * against the real posprov-registry daemon on 127.0.0.1 over HTTPS, its
 * certificates made here with the openssl command: the verbs as the local
 * registry's tests call them (the same store fixture, one remote per user
 * since the server acts as the session's user), idempotent replays, the
 * token expiring and the station logging in again, certificates from
 * another CA and pins refused, the daemon stopped, a request whose
 * answer is lost on the way back sent again with its key and done once,
 * one-time codes enrolled and sent with the approval request, program
 * uploads, and posprov-tool --registry answering as --db does.
 */
#include "config.h"

#include <sqlite3.h>

#include "pp-registry-daemon.h"
#include "pp-registry-remote.h"
#include "pp-store-fixture.h"
#include "pp-test-util.h"
#include "pp-totp.h"

/* ---- certificates ---- */

static char *pki;   /* the folder of the files below */

static void
make_pki (void)
{
  pki = pp_test_make_tmpdir ();
  pp_test_make_ca (pki, "ca");
  pp_test_make_server_cert (pki, "server", "ca");
  pp_test_make_server_cert (pki, "twin", "ca");       /* the same CA and address, another certificate */
  pp_test_make_ca (pki, "other-ca");
  pp_test_make_server_cert (pki, "impostor", "other-ca");
}

static char *
pki_file (const char *name,
          const char *ext)
{
  g_autofree char *base = g_strconcat (name, ext, NULL);

  return g_build_filename (pki, base, NULL);
}

static GTlsCertificate *
anchor (const char *name)
{
  g_autofree char *path = pki_file (name, ".pem");
  g_autoptr(GError) error = NULL;
  GTlsCertificate *cert = pp_registry_remote_load_anchor (path, &error);

  g_assert_no_error (error);
  return cert;
}

/* ---- the daemon ---- */

typedef struct {
  PpStoreFixture store;
  GSubprocess *daemon;
  guint port;
  char *url;
  GHashTable *remotes;   /* user -> PpRegistry, anchored on "ca" */
} Fixture;

static const PpTerminalIntake rows[] = {
  { "PAX0001", "PAX", "A920" },
  { "PAX0002", "PAX", "A920" },
  { "PAX0003", "PAX", "A920" },
};

#define PASSWORD PP_TEST_PASSWORD ("0")

/* The daemon (tests/pp-registry-daemon.c) on a free port; the fixture's
 * soft key store seals the one-time code secrets. */
static void
start_daemon (Fixture    *f,
              const char *cert,
              const char *lifetime)
{
  g_autofree char *cert_path = pki_file (cert, ".pem");
  g_autofree char *key_path = pki_file (cert, ".key");
  g_autofree char *keys = g_build_filename (f->store.dir, "keys", NULL);
  const char *extra[] = { "--session-lifetime", lifetime, NULL };
  PpRegistryDaemon daemon = { NULL, 0, NULL };

  pp_registry_daemon_start (&daemon, f->store.path, 0, cert_path, key_path, keys,
                            "fixture key store passphrase", lifetime != NULL ? extra : NULL);
  f->daemon = g_steal_pointer (&daemon.process);
  f->port = daemon.port;
  g_free (f->url);
  f->url = g_steal_pointer (&daemon.url);
}

static void
stop_daemon (Fixture *f)
{
  PpRegistryDaemon daemon = { g_steal_pointer (&f->daemon), f->port, NULL };

  pp_registry_daemon_stop (&daemon);
}

static void
fixture_set_up (Fixture       *f,
                gconstpointer  data)
{
  pp_store_fixture_set_up (&f->store, rows, G_N_ELEMENTS (rows), "setup");
  f->remotes = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_object_unref);
  start_daemon (f, "server", data);
}

static void
fixture_tear_down (Fixture       *f,
                   gconstpointer  data)
{
  g_hash_table_unref (f->remotes);
  /* The calls' last callbacks (the session's idle connections) go with the loop. */
  while (g_main_context_iteration (NULL, FALSE))
    ;
  stop_daemon (f);
  g_free (f->url);
  pp_store_fixture_tear_down (&f->store);
}

static PpRegistry *
remote_with (const char      *url,
             const char      *user,
             GTlsCertificate *trust)
{
  g_autoptr(GError) error = NULL;
  PpRegistry *registry = pp_registry_remote_new (url, user, PASSWORD, trust, &error);

  g_assert_no_error (error);
  g_assert_nonnull (registry);
  return registry;
}

/* The station logged in as @user, trusting the test CA. */
static PpRegistry *
as (Fixture    *f,
    const char *user)
{
  PpRegistry *registry = g_hash_table_lookup (f->remotes, user);

  if (registry == NULL)
    {
      g_autoptr(GTlsCertificate) ca = anchor ("ca");

      registry = remote_with (f->url, user, ca);
      g_hash_table_insert (f->remotes, g_strdup (user), registry);
    }
  return registry;
}

static void
got_result (GObject      *source,
            GAsyncResult *result,
            gpointer      data)
{
  GAsyncResult **slot = data;

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
  sqlite3_busy_timeout (db, 5000);
  g_assert_cmpint (sqlite3_prepare_v2 (db, sql, -1, &stmt, NULL), ==, SQLITE_OK);
  g_assert_cmpint (sqlite3_step (stmt), ==, SQLITE_ROW);
  n = (guint) sqlite3_column_int64 (stmt, 0);
  sqlite3_finalize (stmt);
  sqlite3_close (db);
  return n;
}

#define N_AUDIT(f) count (f, "SELECT count(*) FROM audit")

static PpWorkOrder *
create_order (PpRegistry  *registry,
              Fixture     *f,
              const char  *serial,
              const char  *requester,
              const char  *key,
              GError     **error)
{
  g_autoptr(GAsyncResult) res = NULL;

  pp_registry_create_install_order_async (registry, serial, f->store.merchant_id, "1.2.0",
                                          PP_TMK_AES_128, requester, key, NULL, got_result, &res);
  return pp_registry_create_install_order_finish (registry, wait_for (&res), error);
}

static PpRegistrySerialCheck *
lookup (PpRegistry *registry,
        const char *serial,
        const char *order_uuid)
{
  g_autoptr(GAsyncResult) res = NULL;
  g_autoptr(GError) error = NULL;
  PpRegistrySerialCheck *check;

  pp_registry_lookup_serial_async (registry, serial, order_uuid, NULL, got_result, &res);
  check = pp_registry_lookup_serial_finish (registry, wait_for (&res), &error);
  g_assert_no_error (error);
  g_assert_nonnull (check);
  return check;
}

static PpRegistryApproval *
request_approval (PpRegistry  *registry,
                  const char  *order_uuid,
                  const char  *scanned,
                  const char  *otp,
                  const char  *requester,
                  const char  *key,
                  GError     **error)
{
  g_autoptr(GAsyncResult) res = NULL;

  pp_registry_request_approval_async (registry, order_uuid, scanned, otp, requester, key, NULL, got_result,
                                      &res);
  return pp_registry_request_approval_finish (registry, wait_for (&res), error);
}

static PpRegistryApproval *
decide (PpRegistry  *registry,
        const char  *approval_uuid,
        gboolean     approve,
        const char  *approver,
        const char  *key,
        GError     **error)
{
  g_autoptr(GAsyncResult) res = NULL;

  pp_registry_decide_approval_async (registry, approval_uuid, approve, "checked on site", approver, key,
                                     NULL, got_result, &res);
  return pp_registry_decide_approval_finish (registry, wait_for (&res), error);
}

/* ---- the verbs ---- */

static void
test_lookup_and_intake (Fixture       *f,
                        gconstpointer  data)
{
  const PpTerminalIntake batch[] = { { "NEW0001", "PAX", "A920" }, { "new0002", "PAX", "A920" } };
  const PpTerminalIntake other[] = { { "NEW0003", "PAX", "A920" } };
  const PpTerminalIntake dup[] = { { "NEW0004", "PAX", "A920" }, { "PAX0001", "PAX", "A920" } };
  PpRegistry *alice = as (f, "alice");
  g_autofree char *key = KEY (), *key2 = KEY ();
  g_autoptr(GError) error = NULL;
  g_autoptr(GAsyncResult) res = NULL;
  PpRegistrySerialCheck *check;
  guint added = 0, n_audit;

  check = lookup (alice, " pax0001 ", NULL);
  g_assert_cmpint (check->status, ==, PP_REGISTRY_SERIAL_INSTALLABLE);
  g_assert_cmpstr (check->serial, ==, "PAX0001");
  g_assert_cmpstr (pp_terminal_get_model (check->terminal), ==, "A920");
  g_assert_cmpint (pp_terminal_get_state (check->terminal), ==, PP_TERMINAL_STATE_IN_STOCK);
  g_assert_null (check->message);
  pp_registry_serial_check_free (check);

  /* Unknown is an answer, not an error: the server's 404 with its words. */
  check = lookup (alice, "nope0001", NULL);
  g_assert_cmpint (check->status, ==, PP_REGISTRY_SERIAL_UNKNOWN);
  g_assert_null (check->terminal);
  g_assert_cmpstr (check->serial, ==, "NOPE0001");
  g_assert_nonnull (strstr (check->message, "NOPE0001"));
  pp_registry_serial_check_free (check);

  pp_registry_intake_async (alice, batch, G_N_ELEMENTS (batch), PP_TERMINAL_STATE_IN_STOCK, "alice", key,
                            NULL, got_result, &res);
  g_assert_true (pp_registry_intake_finish (alice, wait_for (&res), &added, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (added, ==, 2);
  g_assert_cmpuint (count (f, "SELECT count(*) FROM terminals WHERE serial LIKE 'NEW%'"), ==, 2);
  n_audit = N_AUDIT (f);

  /* The same request again: the first answer, nothing written. */
  added = 0;
  g_clear_object (&res);
  pp_registry_intake_async (alice, batch, G_N_ELEMENTS (batch), PP_TERMINAL_STATE_IN_STOCK, "alice", key,
                            NULL, got_result, &res);
  g_assert_true (pp_registry_intake_finish (alice, wait_for (&res), &added, &error));
  g_assert_cmpuint (added, ==, 2);
  g_assert_cmpuint (N_AUDIT (f), ==, n_audit);

  /* The key for other rows: refused, with the server's code and message. */
  g_clear_object (&res);
  pp_registry_intake_async (alice, other, 1, PP_TERMINAL_STATE_IN_STOCK, "alice", key, NULL, got_result, &res);
  g_assert_false (pp_registry_intake_finish (alice, wait_for (&res), NULL, &error));
  g_assert_error (error, PP_REGISTRY_ERROR, PP_REGISTRY_ERROR_KEY_REUSED);
  g_assert_nonnull (strstr (error->message, key));
  g_clear_error (&error);

  /* All or nothing. */
  g_clear_object (&res);
  pp_registry_intake_async (alice, dup, 2, PP_TERMINAL_STATE_IN_STOCK, "alice", key2, NULL, got_result, &res);
  g_assert_false (pp_registry_intake_finish (alice, wait_for (&res), NULL, &error));
  g_assert_error (error, PP_REGISTRY_ERROR, PP_REGISTRY_ERROR_CONFLICT);
  g_assert_nonnull (strstr (error->message, "PAX0001"));
  g_clear_error (&error);
  g_assert_cmpuint (count (f, "SELECT count(*) FROM terminals WHERE serial = 'NEW0004'"), ==, 0);

  /* The terminal list, a page at a time. */
  {
    g_autoptr(GPtrArray) page = NULL;

    g_clear_object (&res);
    pp_registry_list_terminals_async (alice, PP_TERMINAL_STATE_IN_STOCK, "NEW0002", 2, NULL, got_result, &res);
    page = pp_registry_list_terminals_finish (alice, wait_for (&res), &error);
    g_assert_no_error (error);
    g_assert_cmpuint (page->len, ==, 2);
    g_assert_cmpstr (pp_terminal_get_serial (g_ptr_array_index (page, 0)), ==, "PAX0001");
    g_assert_cmpstr (pp_terminal_get_serial (g_ptr_array_index (page, 1)), ==, "PAX0002");
  }
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
  PpRegistry *alice = as (f, "alice");
  g_autofree char *key = KEY (), *key2 = KEY ();
  g_autoptr(GError) error = NULL;
  g_autoptr(PpMerchant) first = NULL;
  g_autoptr(PpMerchant) again = NULL;
  g_autoptr(PpMerchant) none = NULL;
  g_autoptr(GPtrArray) found = NULL;
  GAsyncResult *res = NULL;

  pp_registry_create_merchant_async (alice, &fields, "alice", key, NULL, got_result, &res);
  first = pp_registry_create_merchant_finish (alice, wait_for (&res), &error);
  g_assert_no_error (error);
  g_assert_cmpuint (strlen (first->mid), ==, 15);
  g_clear_object (&res);
  pp_registry_create_merchant_async (alice, &fields, "alice", key, NULL, got_result, &res);
  again = pp_registry_create_merchant_finish (alice, wait_for (&res), &error);
  g_assert_no_error (error);
  g_assert_cmpint (again->id, ==, first->id);
  g_assert_cmpstr (again->mid, ==, first->mid);
  g_assert_cmpuint (count (f, "SELECT count(*) FROM issued_numbers WHERE kind = 'mid'"), ==, 2);

  bad.mcc = "54";
  bad.registration_number = "91310000MA1FL7XW4D";
  g_clear_object (&res);
  pp_registry_create_merchant_async (alice, &bad, "alice", key2, NULL, got_result, &res);
  none = pp_registry_create_merchant_finish (alice, wait_for (&res), &error);
  g_assert_error (error, PP_REGISTRY_ERROR, PP_REGISTRY_ERROR_INVALID);
  g_clear_error (&error);

  g_clear_object (&res);
  pp_registry_search_merchants_async (alice, "50%", 0, NULL, got_result, &res);
  found = pp_registry_search_merchants_finish (alice, wait_for (&res), &error);
  g_assert_no_error (error);
  g_assert_cmpuint (found->len, ==, 1);
  g_assert_cmpstr (((PpMerchant *) g_ptr_array_index (found, 0))->name, ==, "Golden 50% Bakery");
  g_clear_object (&res);
}

/* The whole install order through the seam, each step by its own user. */
static void
test_orders_and_approvals (Fixture       *f,
                           gconstpointer  data)
{
  PpRegistry *alice = as (f, "alice");
  PpRegistry *bob = as (f, "bob");
  g_autofree char *k1 = KEY (), *k2 = KEY (), *k3 = KEY (), *k4 = KEY (), *k5 = KEY (), *k6 = KEY ();
  g_autofree char *k7 = KEY (), *k8 = KEY ();
  g_autoptr(GError) error = NULL;
  g_autoptr(PpWorkOrder) order = NULL;
  g_autoptr(PpWorkOrder) again = NULL;
  g_autoptr(PpWorkOrder) got = NULL;
  g_autoptr(PpWorkOrder) none = NULL;
  g_autoptr(PpWorkOrder) step = NULL;
  g_autoptr(PpWorkOrder) recycle = NULL;
  g_autoptr(PpRegistryApproval) request = NULL;
  g_autoptr(PpRegistryApproval) refused = NULL;
  g_autoptr(PpRegistryApproval) decided = NULL;
  g_autoptr(PpRegistryApproval) replay = NULL;
  g_autoptr(GPtrArray) list = NULL;
  g_autoptr(GAsyncResult) res = NULL;
  g_autofree char *kcv = NULL;
  PpRegistrySerialCheck *check;
  guint n_audit;

  order = create_order (alice, f, "pax0001", "alice", k1, &error);
  g_assert_no_error (error);
  g_assert_true (g_uuid_string_is_valid (order->uuid));
  g_assert_cmpstr (order->mid, ==, f->store.mid);
  g_assert_cmpuint (strlen (order->tid), ==, 8);
  g_assert_cmpint (order->state, ==, PP_WORK_ORDER_STATE_OPEN);
  n_audit = N_AUDIT (f);
  again = create_order (alice, f, "pax0001", "alice", k1, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (again->uuid, ==, order->uuid);
  g_assert_cmpstr (again->tid, ==, order->tid);
  g_assert_cmpuint (N_AUDIT (f), ==, n_audit);
  g_assert_cmpuint (count (f, "SELECT count(*) FROM issued_numbers WHERE kind = 'tid'"), ==, 1);

  check = lookup (alice, "PAX0001", NULL);
  g_assert_cmpint (check->status, ==, PP_REGISTRY_SERIAL_RESERVED);
  g_assert_cmpstr (check->order_uuid, ==, order->uuid);
  pp_registry_serial_check_free (check);
  check = lookup (alice, "PAX0001", order->uuid);
  g_assert_cmpint (check->status, ==, PP_REGISTRY_SERIAL_INSTALLABLE);
  pp_registry_serial_check_free (check);

  /* A reviewer may not open orders: the server's role check. */
  none = create_order (bob, f, "PAX0003", "bob", k2, &error);
  g_assert_error (error, PP_REGISTRY_ERROR, PP_REGISTRY_ERROR_PERMISSION);
  g_clear_error (&error);

  pp_registry_get_order_async (bob, order->uuid, NULL, got_result, &res);
  got = pp_registry_get_order_finish (bob, wait_for (&res), &error);
  g_assert_no_error (error);
  g_assert_cmpstr (got->serial, ==, "PAX0001");
  g_assert_cmpint (got->id, ==, order->id);
  g_clear_object (&res);
  g_clear_pointer (&got, pp_work_order_free);
  pp_registry_get_order_async (bob, "6f1c1d3e-0000-4000-8000-000000000000", NULL, got_result, &res);
  got = pp_registry_get_order_finish (bob, wait_for (&res), &error);
  g_assert_error (error, PP_REGISTRY_ERROR, PP_REGISTRY_ERROR_NOT_FOUND);
  g_clear_error (&error);
  g_clear_object (&res);
  pp_registry_list_orders_async (alice, "PAX0001", NULL, got_result, &res);
  list = pp_registry_list_orders_finish (alice, wait_for (&res), &error);
  g_assert_no_error (error);
  g_assert_cmpuint (list->len, ==, 1);
  g_clear_pointer (&list, g_ptr_array_unref);

  /* The terminal in hand is not the order's. */
  refused = request_approval (alice, order->uuid, "PAX0003", NULL, "alice", k2, &error);
  g_assert_error (error, PP_REGISTRY_ERROR, PP_REGISTRY_ERROR_INVALID);
  g_assert_nonnull (strstr (error->message, "PAX0003"));
  g_clear_error (&error);
  request = request_approval (alice, order->uuid, "pax0001", NULL, "alice", k3, &error);
  g_assert_no_error (error);
  g_assert_cmpint (request->state, ==, PP_REGISTRY_APPROVAL_PENDING);
  g_assert_cmpstr (request->merchant_name, ==, "Lucky Noodle House");
  g_assert_cmpstr (request->model, ==, "A920");
  g_assert_cmpstr (request->requester, ==, "alice");

  g_clear_object (&res);
  pp_registry_list_approvals_async (bob, TRUE, NULL, got_result, &res);
  list = pp_registry_list_approvals_finish (bob, wait_for (&res), &error);
  g_assert_no_error (error);
  g_assert_cmpuint (list->len, ==, 1);
  g_assert_cmpstr (((PpRegistryApproval *) g_ptr_array_index (list, 0))->uuid, ==, request->uuid);
  g_assert_cmpstr (((PpRegistryApproval *) g_ptr_array_index (list, 0))->code, ==, request->code);
  g_clear_pointer (&list, g_ptr_array_unref);
  /* The reviewer opens it by the code the requester shows. */
  {
    g_autoptr(PpRegistryApproval) by_code = NULL;
    g_autofree char *typed = g_ascii_strdown (request->code, -1);

    g_assert_nonnull (request->code);
    g_clear_object (&res);
    pp_registry_get_approval_async (bob, typed, NULL, got_result, &res);
    by_code = pp_registry_get_approval_finish (bob, wait_for (&res), &error);
    g_assert_no_error (error);
    g_assert_cmpstr (by_code->uuid, ==, request->uuid);
  }

  decided = decide (bob, request->uuid, TRUE, "bob", k4, &error);
  g_assert_no_error (error);
  g_assert_cmpint (decided->state, ==, PP_REGISTRY_APPROVAL_APPROVED);
  g_assert_cmpstr (decided->approver, ==, "bob");
  g_assert_cmpuint (strlen (decided->digest), ==, 64);
  n_audit = N_AUDIT (f);
  replay = decide (bob, request->uuid, TRUE, "bob", k4, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (replay->digest, ==, decided->digest);
  g_assert_cmpuint (N_AUDIT (f), ==, n_audit);
  g_assert_cmpuint (count (f, "SELECT count(*) FROM approvals"), ==, 1);

  g_clear_object (&res);
  pp_registry_list_approvals_async (bob, FALSE, NULL, got_result, &res);
  list = pp_registry_list_approvals_finish (bob, wait_for (&res), &error);
  g_assert_no_error (error);
  g_assert_cmpuint (list->len, ==, 1);
  g_clear_pointer (&list, g_ptr_array_unref);
  g_clear_object (&res);
  pp_registry_list_approvals_async (bob, TRUE, NULL, got_result, &res);
  list = pp_registry_list_approvals_finish (bob, wait_for (&res), &error);
  g_assert_cmpuint (list->len, ==, 0);
  g_clear_pointer (&list, g_ptr_array_unref);

  /* No key host behind this daemon: the key host's verbs say so. */
  {
    g_autoptr(GBytes) cert = NULL;

    g_clear_object (&res);
    pp_registry_get_kdh_async (alice, NULL, got_result, &res);
    g_assert_false (pp_registry_get_kdh_finish (alice, wait_for (&res), &cert, NULL, &error));
    g_assert_error (error, PP_REGISTRY_ERROR, PP_REGISTRY_ERROR_NO_KEY_HOST);
    g_assert_nonnull (strstr (error->message, "key host"));
    g_clear_error (&error);
  }

  /* Keyed as the key host would; then the later steps through the seam. */
  kcv = pp_store_fixture_release (&f->store, order->id, "alice");
  g_assert_true (pp_store_order_keyed (f->store.store, order->id, kcv, "alice", &error));
  g_assert_no_error (error);
  g_clear_object (&res);
  pp_registry_program_installed_async (alice, order->uuid, "alice", k5, NULL, got_result, &res);
  step = pp_registry_program_installed_finish (alice, wait_for (&res), &error);
  g_assert_no_error (error);
  g_assert_cmpint (step->state, ==, PP_WORK_ORDER_STATE_PROGRAM_INSTALLED);
  g_clear_pointer (&step, pp_work_order_free);
  g_clear_object (&res);
  pp_registry_close_order_async (alice, order->uuid, "alice", k6, NULL, got_result, &res);
  step = pp_registry_close_order_finish (alice, wait_for (&res), &error);
  g_assert_no_error (error);
  g_assert_cmpint (step->state, ==, PP_WORK_ORDER_STATE_CLOSED);

  g_clear_object (&res);
  pp_registry_create_recycle_order_async (alice, "PAX0001", "shop closed", "alice", k7, NULL, got_result, &res);
  recycle = pp_registry_create_recycle_order_finish (alice, wait_for (&res), &error);
  g_assert_no_error (error);
  g_assert_cmpint (recycle->kind, ==, PP_WORK_ORDER_KIND_RECYCLE);
  g_assert_cmpstr (recycle->tid, ==, order->tid);

  /* Cancelled with its reason. */
  {
    g_autoptr(PpWorkOrder) second = create_order (alice, f, "PAX0002", "alice", k8, &error);
    g_autoptr(PpWorkOrder) cancelled = NULL;
    g_autofree char *k = KEY ();

    g_assert_no_error (error);
    g_clear_object (&res);
    pp_registry_cancel_order_async (alice, second->uuid, "customer changed plans", "alice", k, NULL,
                                    got_result, &res);
    cancelled = pp_registry_cancel_order_finish (alice, wait_for (&res), &error);
    g_assert_no_error (error);
    g_assert_cmpint (cancelled->state, ==, PP_WORK_ORDER_STATE_CANCELLED);
  }
}

static void
test_programs_audit_changes (Fixture       *f,
                             gconstpointer  data)
{
  PpRegistry *alice = as (f, "alice");
  PpRegistry *bob = as (f, "bob");
  const char *sha = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08";
  g_autoptr(GError) error = NULL;
  g_autoptr(PpProgramRecord) p1 = NULL;
  g_autoptr(GPtrArray) list = NULL;
  g_autoptr(GAsyncResult) res = NULL;
  gint64 cursor = 0;
  guint n_audit, n_changes;

  p1 = pp_store_add_program (f->store.store, "A920", "pay", "1.2.0", sha, 1024, "alice", &error);
  g_assert_no_error (error);
  pp_registry_list_programs_async (alice, "A920", NULL, got_result, &res);
  list = pp_registry_list_programs_finish (alice, wait_for (&res), &error);
  g_assert_no_error (error);
  g_assert_cmpuint (list->len, ==, 1);
  g_assert_cmpstr (((PpProgramRecord *) g_ptr_array_index (list, 0))->sha256, ==, sha);
  g_assert_cmpuint (((PpProgramRecord *) g_ptr_array_index (list, 0))->size, ==, 1024);
  g_clear_pointer (&list, g_ptr_array_unref);

  /* 0: the whole journal, though the service pages it. */
  for (guint i = 0; i < 1100; i++)
    {
      g_autofree char *s = g_strdup_printf ("BULK%04u", i);
      const PpTerminalIntake row = { s, "PAX", "A920" };

      g_assert_true (pp_store_add_terminals (f->store.store, &row, 1, "setup", &error));
    }
  n_audit = N_AUDIT (f);
  g_assert_cmpuint (n_audit, >, 1000);
  g_clear_object (&res);
  /* 0 is the default page, as on the local registry. */
  pp_registry_list_audit_async (bob, 0, 0, NULL, got_result, &res);
  list = pp_registry_list_audit_finish (bob, wait_for (&res), &error);
  g_assert_no_error (error);
  g_assert_cmpuint (list->len, ==, PP_REGISTRY_PAGE_DEFAULT);
  g_clear_pointer (&list, g_ptr_array_unref);
  /* The whole journal, a page of the maximum at a time after the last seq. */
  {
    g_autoptr(GPtrArray) all = g_ptr_array_new_with_free_func ((GDestroyNotify) pp_audit_entry_free);
    gint64 after = 0;
    guint got;

    do
      {
        g_clear_object (&res);
        pp_registry_list_audit_async (bob, after, PP_REGISTRY_PAGE_MAX, NULL, got_result, &res);
        list = pp_registry_list_audit_finish (bob, wait_for (&res), &error);
        g_assert_no_error (error);
        got = list->len;
        g_assert_cmpuint (got, <=, PP_REGISTRY_PAGE_MAX);
        if (got > 0)
          after = ((PpAuditEntry *) g_ptr_array_index (list, got - 1))->seq;
        g_ptr_array_extend_and_steal (all, g_steal_pointer (&list));
      }
    while (got == PP_REGISTRY_PAGE_MAX);
    /* Bob's login is journalled too, before the journal is read. */
    n_audit = N_AUDIT (f);
    g_assert_cmpuint (all->len, ==, n_audit);
    g_assert_cmpint (((PpAuditEntry *) g_ptr_array_index (all, all->len - 1))->seq, ==, (gint64) n_audit);
  }
  /* Over the maximum: refused before anything is sent. */
  g_clear_object (&res);
  pp_registry_list_audit_async (bob, 0, PP_REGISTRY_PAGE_MAX + 1, NULL, got_result, &res);
  g_assert_null (pp_registry_list_audit_finish (bob, wait_for (&res), &error));
  g_assert_error (error, PP_REGISTRY_ERROR, PP_REGISTRY_ERROR_INVALID);
  g_clear_error (&error);
  g_clear_object (&res);
  pp_registry_list_audit_async (bob, 3, 2, NULL, got_result, &res);
  list = pp_registry_list_audit_finish (bob, wait_for (&res), &error);
  g_assert_cmpuint (list->len, ==, 2);
  g_assert_cmpint (((PpAuditEntry *) g_ptr_array_index (list, 0))->seq, ==, 4);
  g_clear_pointer (&list, g_ptr_array_unref);
  /* The journal is for reviewers and administrators. */
  g_clear_object (&res);
  pp_registry_list_audit_async (alice, 0, 10, NULL, got_result, &res);
  list = pp_registry_list_audit_finish (alice, wait_for (&res), &error);
  g_assert_error (error, PP_REGISTRY_ERROR, PP_REGISTRY_ERROR_PERMISSION);
  g_clear_error (&error);

  n_changes = count (f, "SELECT count(*) FROM changes");
  g_assert_cmpuint (n_changes, >, 1000);
  g_clear_object (&res);
  /* Following the cursor page by page reaches the last change. */
  {
    guint seen = 0;
    gint64 before;

    do
      {
        before = cursor;
        g_clear_pointer (&list, g_ptr_array_unref);
        g_clear_object (&res);
        pp_registry_list_changes_async (alice, cursor, 0, NULL, got_result, &res);
        list = pp_registry_list_changes_finish (alice, wait_for (&res), &cursor, &error);
        g_assert_no_error (error);
        g_assert_cmpuint (list->len, <=, PP_REGISTRY_PAGE_DEFAULT);
        seen += list->len;
      }
    while (cursor != before);
    g_assert_cmpuint (seen, ==, n_changes);
  }
  g_clear_pointer (&list, g_ptr_array_unref);
  g_clear_object (&res);
  pp_registry_list_changes_async (alice, cursor - 1, 0, NULL, got_result, &res);
  list = pp_registry_list_changes_finish (alice, wait_for (&res), NULL, &error);
  g_assert_cmpuint (list->len, ==, 1);
  g_assert_cmpstr (((PpChange *) g_ptr_array_index (list, 0))->key, ==, "BULK1099");
}

/* ---- one-time codes, program uploads ---- */

static PpSecureBuffer *
enroll_otp (PpRegistry  *registry,
            const char  *username,
            const char  *actor,
            GError     **error)
{
  g_autoptr(GAsyncResult) res = NULL;

  pp_registry_enroll_otp_async (registry, username, actor, NULL, got_result, &res);
  return pp_registry_enroll_otp_finish (registry, wait_for (&res), error);
}

/* The code an authenticator holding @uri's secret shows now, and six
 * digits that are no code of this step nor of the one either side. */
static void
code_of (const PpSecureBuffer *uri,
         char                  code[9],
         char                  wrong[9])
{
  const char *text = (const char *) pp_secure_buffer_peek (uri);
  const char *at = strstr (text, "secret=");
  gint64 step = pp_totp_step (g_get_real_time () / G_USEC_PER_SEC, PP_TOTP_DEFAULT_PERIOD);
  g_autoptr(GError) error = NULL;
  g_autofree char *b32 = NULL;
  g_autoptr(PpSecureBuffer) secret = NULL;
  char near[3][9];

  g_assert_nonnull (at);
  b32 = g_strndup (at + strlen ("secret="), strcspn (at + strlen ("secret="), "&"));
  secret = pp_base32_decode (b32, &error);
  g_assert_no_error (error);
  for (int i = 0; i < 3; i++)
    {
      g_assert_true (pp_totp_code (secret, PP_TOTP_SHA1, PP_TOTP_DEFAULT_DIGITS, step - 1 + i, near[i], &error));
      g_assert_no_error (error);
    }
  memcpy (code, near[1], 9);
  for (guint n = 0;; n++)
    {
      g_snprintf (wrong, 9, "%06u", n);
      if (!g_str_equal (wrong, near[0]) && !g_str_equal (wrong, near[1]) && !g_str_equal (wrong, near[2]))
        break;
    }
}

/* enroll_otp takes no idempotency key and gives the URI in a secure buffer;
 * each call enrols a new secret. The approval request carries the code:
 * none or a wrong one is refused by the server, the current one accepted. */
static void
test_otp (Fixture       *f,
          gconstpointer  data)
{
  PpRegistry *alice = as (f, "alice");
  g_autofree char *k1 = KEY (), *k2 = KEY (), *k3 = KEY (), *k4 = KEY ();
  g_autoptr(GError) error = NULL;
  g_autoptr(PpSecureBuffer) first = NULL;
  g_autoptr(PpSecureBuffer) uri = NULL;
  g_autoptr(PpSecureBuffer) other = NULL;
  g_autoptr(PpWorkOrder) order = NULL;
  g_autoptr(PpRegistryApproval) none = NULL;
  g_autoptr(PpRegistryApproval) wrong_one = NULL;
  g_autoptr(PpRegistryApproval) request = NULL;
  char code[9], wrong[9];
  guint failed;

  first = enroll_otp (alice, "alice", "alice", &error);
  g_assert_no_error (error);
  g_assert_true (g_str_has_prefix ((const char *) pp_secure_buffer_peek (first),
                                   "otpauth://totp/posprov:alice?secret="));
  g_assert_cmpuint (pp_secure_buffer_get_len (first), ==,
                    strlen ((const char *) pp_secure_buffer_peek (first)) + 1);
  /* Again: a new secret (a key sent with it would have been refused as a repeat). */
  uri = enroll_otp (alice, "alice", "alice", &error);
  g_assert_no_error (error);
  g_assert_cmpstr ((const char *) pp_secure_buffer_peek (uri), !=, (const char *) pp_secure_buffer_peek (first));
  /* A field manager enrols only themself: the server's check. */
  other = enroll_otp (alice, "bob", "alice", &error);
  g_assert_error (error, PP_REGISTRY_ERROR, PP_REGISTRY_ERROR_PERMISSION);
  g_clear_error (&error);

  order = create_order (alice, f, "pax0002", "alice", k1, &error);
  g_assert_no_error (error);
  code_of (uri, code, wrong);
  none = request_approval (alice, order->uuid, "pax0002", NULL, "alice", k2, &error);
  g_assert_error (error, PP_REGISTRY_ERROR, PP_REGISTRY_ERROR_PERMISSION);
  g_assert_nonnull (strstr (error->message, "one-time code"));
  g_clear_error (&error);
  failed = count (f, "SELECT count(*) FROM audit WHERE action = 'user.otp_failed'");
  wrong_one = request_approval (alice, order->uuid, "pax0002", wrong, "alice", k3, &error);
  g_assert_error (error, PP_REGISTRY_ERROR, PP_REGISTRY_ERROR_PERMISSION);
  g_clear_error (&error);
  g_assert_cmpuint (count (f, "SELECT count(*) FROM audit WHERE action = 'user.otp_failed'"), ==, failed + 1);
  request = request_approval (alice, order->uuid, "pax0002", code, "alice", k4, &error);
  g_assert_no_error (error);
  g_assert_cmpint (request->state, ==, PP_REGISTRY_APPROVAL_PENDING);
  g_assert_cmpstr (request->requester, ==, "alice");
}

/* The station's sign-in over POST /api/v1/sessions with "otp": asked for
 * once the password is right, refused when wrong, and the session it
 * opens is the remote's own (its password-only login would not do). */
static void
test_sign_in_otp (Fixture       *f,
                  gconstpointer  data)
{
  PpRegistry *admin = as (f, "alice");
  g_autoptr(GTlsCertificate) ca = anchor ("ca");
  g_autoptr(PpRegistry) station = remote_with (f->url, "alice", ca);
  g_autoptr(GError) error = NULL;
  g_autoptr(PpSecureBuffer) uri = NULL;
  g_autoptr(PpUser) user = NULL;
  g_autoptr(PpUser) plain = NULL;
  g_autoptr(GPtrArray) orders = NULL;
  GAsyncResult *res = NULL;
  char code[9], wrong[9];
  guint failed;

  uri = enroll_otp (admin, "alice", "alice", &error);
  g_assert_no_error (error);
  code_of (uri, code, wrong);

  pp_registry_authenticate_otp_async (station, "alice", PASSWORD, NULL, NULL, got_result, &res);
  g_assert_null (pp_registry_authenticate_otp_finish (station, wait_for (&res), &error));
  g_clear_object (&res);
  g_assert_error (error, PP_REGISTRY_ERROR, PP_REGISTRY_ERROR_OTP_REQUIRED);
  g_clear_error (&error);

  failed = count (f, "SELECT count(*) FROM audit WHERE action = 'user.otp_failed'");
  pp_registry_authenticate_otp_async (station, "alice", PASSWORD, wrong, NULL, got_result, &res);
  g_assert_null (pp_registry_authenticate_otp_finish (station, wait_for (&res), &error));
  g_clear_object (&res);
  g_assert_error (error, PP_REGISTRY_ERROR, PP_REGISTRY_ERROR_PERMISSION);
  g_clear_error (&error);
  g_assert_cmpuint (count (f, "SELECT count(*) FROM audit WHERE action = 'user.otp_failed'"), ==, failed + 1);

  pp_registry_authenticate_otp_async (station, "alice", PASSWORD, code, NULL, got_result, &res);
  user = pp_registry_authenticate_otp_finish (station, wait_for (&res), &error);
  g_clear_object (&res);
  g_assert_no_error (error);
  g_assert_cmpstr (user->username, ==, "alice");
  /* The next call rides on that session. */
  pp_registry_list_orders_async (station, "pax0001", NULL, got_result, &res);
  orders = pp_registry_list_orders_finish (station, wait_for (&res), &error);
  g_clear_object (&res);
  g_assert_no_error (error);

  /* Without "otp" the body is the older one: the password alone. */
  pp_registry_authenticate_async (station, "alice", PASSWORD, NULL, got_result, &res);
  plain = pp_registry_authenticate_finish (station, wait_for (&res), &error);
  g_clear_object (&res);
  g_assert_no_error (error);
  g_assert_cmpstr (plain->username, ==, "alice");
}

/* upload_program goes to POST /api/v1/programs: this daemon has no
 * --program-trust, so the server refuses it as unavailable, in its words;
 * a reviewer is refused by its role check; another actor before sending. */
static void
test_upload_program (Fixture       *f,
                     gconstpointer  data)
{
  PpRegistry *alice = as (f, "alice");
  PpRegistry *bob = as (f, "bob");
  g_autoptr(GBytes) package = g_bytes_new_static ("not a package", 13);
  g_autofree char *k1 = KEY (), *k2 = KEY (), *k3 = KEY ();
  g_autoptr(GError) error = NULL;
  GPtrArray *records;
  GAsyncResult *res = NULL;

  pp_registry_upload_program_async (alice, package, "alice", k1, NULL, got_result, &res);
  records = pp_registry_upload_program_finish (alice, wait_for (&res), &error);
  g_clear_object (&res);
  g_assert_null (records);
  g_assert_error (error, PP_REGISTRY_ERROR, PP_REGISTRY_ERROR_UNAVAILABLE);
  g_assert_nonnull (strstr (error->message, "--program-trust"));
  g_clear_error (&error);

  pp_registry_upload_program_async (bob, package, "bob", k2, NULL, got_result, &res);
  records = pp_registry_upload_program_finish (bob, wait_for (&res), &error);
  g_clear_object (&res);
  g_assert_null (records);
  g_assert_error (error, PP_REGISTRY_ERROR, PP_REGISTRY_ERROR_PERMISSION);
  g_clear_error (&error);

  pp_registry_upload_program_async (alice, package, "bob", k3, NULL, got_result, &res);
  records = pp_registry_upload_program_finish (alice, wait_for (&res), &error);
  g_clear_object (&res);
  g_assert_null (records);
  g_assert_error (error, PP_REGISTRY_ERROR, PP_REGISTRY_ERROR_PERMISSION);
  g_assert_nonnull (strstr (error->message, "cannot act as bob"));
}

/* ---- posprov-tool --registry ---- */

/* posprov-tool @args as alice, PP_REGISTRY_CA=@ca (NULL: unset): 0 or 1. */
static int
tool (const char * const  *args,
      const char          *ca,
      char               **out_stdout,
      char               **out_stderr)
{
  return pp_test_run_tool_as (args, "alice", PASSWORD, ca, out_stdout, out_stderr) == 0 ? 0 : 1;
}

/* `orders list` and `approvals list` with --registry URL (trusting
 * PP_REGISTRY_CA) print what --db prints on the daemon's store; a CA that
 * did not issue the server's certificate is refused. */
static void
test_tool_registry (Fixture       *f,
                    gconstpointer  data)
{
  PpRegistry *alice = as (f, "alice");
  g_autofree char *k1 = KEY (), *k2 = KEY (), *k3 = KEY ();
  g_autofree char *ca = pki_file ("ca", ".pem");
  g_autofree char *other_ca = pki_file ("other-ca", ".pem");
  g_autofree char *remote_orders = NULL, *remote_approvals = NULL, *local_orders = NULL;
  g_autofree char *local_approvals = NULL, *err = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(PpWorkOrder) first = NULL;
  g_autoptr(PpWorkOrder) second = NULL;
  g_autoptr(PpRegistryApproval) request = NULL;
  const char *orders_remote[] = { "orders", "list", "--registry", f->url, "--json", NULL };
  const char *approvals_remote[] = { "approvals", "list", "--registry", f->url, "--json", NULL };
  const char *orders_local[] = { "orders", "list", "--db", f->store.path, "--json", NULL };
  const char *approvals_local[] = { "approvals", "list", "--db", f->store.path, "--json", NULL };

  first = create_order (alice, f, "pax0001", "alice", k1, &error);
  g_assert_no_error (error);
  second = create_order (alice, f, "pax0002", "alice", k2, &error);
  g_assert_no_error (error);
  request = request_approval (alice, first->uuid, "pax0001", NULL, "alice", k3, &error);
  g_assert_no_error (error);

  g_assert_cmpint (tool (orders_remote, ca, &remote_orders, &err), ==, 0);
  g_clear_pointer (&err, g_free);
  g_assert_nonnull (strstr (remote_orders, first->uuid));
  g_assert_nonnull (strstr (remote_orders, second->uuid));
  g_assert_cmpint (tool (approvals_remote, ca, &remote_approvals, &err), ==, 0);
  g_clear_pointer (&err, g_free);
  g_assert_nonnull (strstr (remote_approvals, request->uuid));

  g_assert_cmpint (tool (orders_remote, other_ca, NULL, &err), !=, 0);
  g_assert_nonnull (strstr (err, "does not trust"));
  g_clear_pointer (&err, g_free);

  /* The same store read directly, the daemon gone. */
  stop_daemon (f);
  g_assert_cmpint (tool (orders_local, NULL, &local_orders, &err), ==, 0);
  g_clear_pointer (&err, g_free);
  g_assert_cmpint (tool (approvals_local, NULL, &local_approvals, &err), ==, 0);
  g_assert_cmpstr (remote_orders, ==, local_orders);
  g_assert_cmpstr (remote_approvals, ==, local_approvals);
}

/* The older store commands over --registry: registry import (duplicates
 * found through the service, all or none, --skip-bad), list and show
 * print what --db prints; audit list through the registry, audit verify
 * refused over --registry with where to run it. */
static void
test_tool_older_commands (Fixture       *f,
                          gconstpointer  data)
{
  g_autofree char *ca = pki_file ("ca", ".pem");
  g_autofree char *csv = g_build_filename (f->store.dir, "intake.csv", NULL);
  g_autofree char *out = NULL, *err = NULL;
  g_autoptr(JsonParser) parser = json_parser_new ();
  const char *import[] = { "registry", "import", csv, "--registry", f->url, NULL };
  const char *import_skip[] = { "registry", "import", csv, "--registry", f->url, "--skip-bad", NULL };
  guint intakes = count (f, "SELECT count(*) FROM audit WHERE action = 'terminal.intake'");

  g_assert_true (g_file_set_contents (csv, "serial,vendor,model\nNEW0001,PAX,A920\nPAX0001,PAX,A920\n"
                                           "NEW0002,Sunmi,P2\n", -1, NULL));
  /* The duplicate is found by the service, nothing imported. */
  g_assert_cmpint (tool (import, ca, &out, &err), ==, 1);
  g_assert_nonnull (strstr (err, "line 3: serial PAX0001 is already in the register"));
  g_assert_nonnull (strstr (err, "nothing imported"));
  g_assert_cmpuint (count (f, "SELECT count(*) FROM terminals WHERE serial LIKE 'NEW%'"), ==, 0);
  g_clear_pointer (&out, g_free);
  g_clear_pointer (&err, g_free);
  g_assert_cmpint (tool (import_skip, ca, &out, &err), ==, 0);
  g_assert_cmpstr (out, ==, "Imported 2 terminals (1 bad row skipped)\n");
  g_assert_cmpuint (count (f, "SELECT count(*) FROM terminals WHERE serial LIKE 'NEW%'"), ==, 2);
  /* One intake, as the session's user. */
  g_assert_cmpuint (count (f, "SELECT count(*) FROM audit WHERE action = 'terminal.intake'"), ==, intakes + 1);
  g_assert_cmpuint (count (f, "SELECT count(*) FROM audit WHERE action = 'terminal.intake' AND actor = 'alice'"),
                    ==, 1);
  g_clear_pointer (&out, g_free);
  g_clear_pointer (&err, g_free);

  /* list and show: the same text over --registry as on the store. */
  {
    static const char * const shapes[][4] = {
      { "registry", "list", NULL, NULL },
      { "registry", "list", "--json", NULL },
      { "registry", "list", "--state", "in_stock" },
      { "registry", "show", "new0002", NULL },
      { "registry", "show", "NEW0001", "--json" },
    };

    for (guint i = 0; i < G_N_ELEMENTS (shapes); i++)
      {
        g_autofree char *remote = NULL, *local = NULL;
        g_autoptr(GPtrArray) r = g_ptr_array_new ();
        g_autoptr(GPtrArray) l = g_ptr_array_new ();

        for (guint j = 0; j < 4 && shapes[i][j] != NULL; j++)
          {
            g_ptr_array_add (r, (gpointer) shapes[i][j]);
            g_ptr_array_add (l, (gpointer) shapes[i][j]);
          }
        g_ptr_array_add (r, (gpointer) "--registry");
        g_ptr_array_add (r, f->url);
        g_ptr_array_add (r, NULL);
        g_ptr_array_add (l, (gpointer) "--db");
        g_ptr_array_add (l, f->store.path);
        g_ptr_array_add (l, NULL);
        g_assert_cmpint (tool ((const char * const *) r->pdata, ca, &remote, NULL), ==, 0);
        g_assert_cmpint (tool ((const char * const *) l->pdata, NULL, &local, NULL), ==, 0);
        g_assert_cmpstr (remote, ==, local);
        g_assert_nonnull (strstr (remote, "NEW000"));
      }
  }
  {
    const char *args[] = { "registry", "show", "NOPE0001", "--registry", f->url, NULL };

    g_assert_cmpint (tool (args, ca, NULL, &err), ==, 1);
    g_assert_nonnull (strstr (err, "no terminal with serial NOPE0001"));
    g_clear_pointer (&err, g_free);
  }

  /* The journal: for reviewers; every entry, after a seq. */
  {
    const char *args[] = { "audit", "list", "--registry", f->url, "--json", NULL };
    const char *after[] = { "audit", "list", "--registry", f->url, "--after", "3", NULL };
    JsonObject *o;

    g_assert_cmpint (tool (args, ca, NULL, &err), ==, 1);     /* alice: a field manager */
    g_assert_nonnull (strstr (err, "posprov-tool: "));
    g_clear_pointer (&err, g_free);
    g_assert_cmpint (pp_test_run_tool_as (args, "bob", PASSWORD, ca, &out, NULL), ==, 0);
    g_assert_true (json_parser_load_from_data (parser, out, -1, NULL));
    o = json_node_get_object (json_parser_get_root (parser));
    g_assert_cmpint (json_object_get_int_member (o, "count"), ==, N_AUDIT (f));
    g_assert_nonnull (strstr (out, "\"action\":\"terminal.intake\""));
    g_clear_pointer (&out, g_free);
    g_assert_cmpint (pp_test_run_tool_as (after, "bob", PASSWORD, ca, &out, NULL), ==, 0);
    g_assert_true (g_str_has_prefix (out, "4  "));
    g_clear_pointer (&out, g_free);
  }
  /* Verification needs the journal's key: not over --registry. */
  {
    const char *verbs[] = { "verify", "checkpoint", "init-seal" };

    for (guint i = 0; i < G_N_ELEMENTS (verbs); i++)
      {
        const char *args[] = { "audit", verbs[i], "--registry", f->url, "-o", "-", NULL };

        if (g_str_equal (verbs[i], "verify"))
          args[4] = NULL;
        g_assert_cmpint (pp_test_run_tool_as (args, "bob", PASSWORD, ca, NULL, &err), ==, 1);
        g_assert_nonnull (strstr (err, "--db PATH"));
        g_assert_nonnull (strstr (err, "audit list"));
        g_clear_pointer (&err, g_free);
      }
  }
}

/* ---- the event stream, across the session's end ---- */

typedef struct {
  GPtrArray *seen;     /* "UUID STATE" of each approval event */
  guint resets;
} Heard;

static void
heard (PpRegistryRemote         *self,
       const PpRegistryApproval *approval,
       gpointer                  data)
{
  Heard *h = data;

  if (approval == NULL)
    h->resets++;
  else
    g_ptr_array_add (h->seen, g_strdup_printf ("%s %s", approval->uuid,
                                               pp_registry_approval_state_to_string (approval->state)));
}

static gboolean
timed_out (gpointer data)
{
  *(gboolean *) data = TRUE;
  return G_SOURCE_REMOVE;
}

/* Runs the main loop until @done (@data) holds, for at most 20 s. */
static void
wait_until (gboolean (*done) (gconstpointer data),
            gconstpointer data)
{
  gboolean late = FALSE;
  guint id = g_timeout_add_seconds (20, timed_out, &late);

  while (!done (data) && !late)
    g_main_context_iteration (NULL, TRUE);
  g_assert_false (late);
  g_source_remove (id);
}

typedef struct {
  const guint *count;
  PpRegistryRemoteWatch *watch;
  guint n;
} Target;

static gboolean
reached (gconstpointer data)
{
  const Target *t = data;

  return (t->count != NULL ? *t->count : pp_registry_remote_watch_get_connections (t->watch)) >= t->n;
}

static void
wait_count (const guint *count,
            guint        n)
{
  Target t = { count, NULL, n };

  wait_until (reached, &t);
}

static void
wait_connections (PpRegistryRemoteWatch *watch,
                  guint                  n)
{
  Target t = { NULL, watch, n };

  wait_until (reached, &t);
}

/* Sessions of two seconds: the reviewer's stream is ended by the server,
 * the watch signs in again and reconnects with its last event id; every
 * request and decision arrives once. A later watch from the last id gets
 * what came while none was open. */
static void
test_events_across_expiry (Fixture       *f,
                           gconstpointer  data)
{
  PpRegistry *alice = as (f, "alice");
  PpRegistry *bob = as (f, "bob");
  g_autoptr(GPtrArray) seen = g_ptr_array_new_with_free_func (g_free);
  Heard h = { seen, 0 };
  g_autofree char *k1 = KEY (), *k2 = KEY (), *k3 = KEY (), *k4 = KEY (), *k5 = KEY (), *k6 = KEY ();
  g_autofree char *k7 = KEY ();
  g_autofree char *last = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(PpWorkOrder) o1 = NULL, o2 = NULL, o3 = NULL;
  g_autoptr(PpRegistryApproval) r1 = NULL, r2 = NULL, r3 = NULL, d1 = NULL;
  PpRegistryRemoteWatch *watch;
  g_autofree char *e1 = NULL, *e2 = NULL, *e3 = NULL, *e4 = NULL;

  watch = pp_registry_remote_watch_events (PP_REGISTRY_REMOTE (bob), NULL, heard, &h, NULL);
  wait_connections (watch, 1);
  o1 = create_order (alice, f, "pax0001", "alice", k1, &error);
  g_assert_no_error (error);
  r1 = request_approval (alice, o1->uuid, NULL, NULL, "alice", k2, &error);
  g_assert_no_error (error);
  wait_count (&seen->len, 1);

  /* The session ends; the watch is back on a second stream. */
  wait_connections (watch, 2);
  o2 = create_order (alice, f, "pax0002", "alice", k3, &error);
  g_assert_no_error (error);
  r2 = request_approval (alice, o2->uuid, NULL, NULL, "alice", k4, &error);
  g_assert_no_error (error);
  d1 = decide (bob, r1->uuid, TRUE, "bob", k5, &error);
  g_assert_no_error (error);
  wait_count (&seen->len, 3);
  last = g_strdup (pp_registry_remote_watch_get_last_event_id (watch));
  pp_registry_remote_watch_stop (watch);

  /* None open: a request; a new watch from the last id hears it. */
  o3 = create_order (alice, f, "pax0003", "alice", k6, &error);
  g_assert_no_error (error);
  r3 = request_approval (alice, o3->uuid, NULL, NULL, "alice", k7, &error);
  g_assert_no_error (error);
  watch = pp_registry_remote_watch_events (PP_REGISTRY_REMOTE (bob), last, heard, &h, NULL);
  wait_count (&seen->len, 4);
  pp_registry_remote_watch_stop (watch);

  e1 = g_strdup_printf ("%s pending", r1->uuid);
  e2 = g_strdup_printf ("%s pending", r2->uuid);
  e3 = g_strdup_printf ("%s approved", r1->uuid);
  e4 = g_strdup_printf ("%s pending", r3->uuid);
  g_assert_cmpuint (seen->len, ==, 4);
  g_assert_cmpstr (g_ptr_array_index (seen, 0), ==, e1);
  g_assert_cmpstr (g_ptr_array_index (seen, 1), ==, e2);
  g_assert_cmpstr (g_ptr_array_index (seen, 2), ==, e3);
  g_assert_cmpstr (g_ptr_array_index (seen, 3), ==, e4);
  g_assert_cmpuint (h.resets, ==, 0);
}

/* ---- who acts ---- */

static void
test_actor_is_the_session (Fixture       *f,
                           gconstpointer  data)
{
  g_autoptr(GTlsCertificate) ca = anchor ("ca");
  /* Nothing listens there: an answer other than PERMISSION would mean a request went out. */
  g_autoptr(PpRegistry) nowhere = remote_with ("https://127.0.0.1:1", "alice", ca);
  g_autofree char *key = KEY ();
  g_autoptr(GError) error = NULL;
  g_autoptr(PpWorkOrder) order = NULL;
  g_autoptr(PpRegistryApproval) approval = NULL;
  g_autoptr(GAsyncResult) res = NULL;

  pp_registry_create_install_order_async (nowhere, "PAX0001", f->store.merchant_id, "1.2.0", PP_TMK_AES_128,
                                          "bob", key, NULL, got_result, &res);
  order = pp_registry_create_install_order_finish (nowhere, wait_for (&res), &error);
  g_assert_error (error, PP_REGISTRY_ERROR, PP_REGISTRY_ERROR_PERMISSION);
  g_assert_nonnull (strstr (error->message, "alice"));
  g_assert_nonnull (strstr (error->message, "bob"));
  g_clear_error (&error);

  /* Alice cannot approve by passing bob's name; as herself the server refuses her role. */
  approval = decide (as (f, "alice"), "6f1c1d3e-0000-4000-8000-000000000000", TRUE, "bob", key, &error);
  g_assert_error (error, PP_REGISTRY_ERROR, PP_REGISTRY_ERROR_PERMISSION);
  g_clear_error (&error);
  approval = decide (as (f, "alice"), "6f1c1d3e-0000-4000-8000-000000000000", TRUE, "alice", key, &error);
  g_assert_error (error, PP_REGISTRY_ERROR, PP_REGISTRY_ERROR_PERMISSION);
  g_assert_nonnull (strstr (error->message, "reviewer"));
  g_clear_error (&error);
}

static void
test_wrong_password (Fixture       *f,
                     gconstpointer  data)
{
  g_autoptr(GTlsCertificate) ca = anchor ("ca");
  g_autoptr(GError) error = NULL;
  g_autoptr(PpRegistry) registry = pp_registry_remote_new (f->url, "alice", "not-her-password", ca, &error);
  g_autoptr(GAsyncResult) res = NULL;
  g_autoptr(GPtrArray) list = NULL;

  g_assert_no_error (error);
  pp_registry_list_orders_async (registry, NULL, NULL, got_result, &res);
  list = pp_registry_list_orders_finish (registry, wait_for (&res), &error);
  g_assert_null (list);
  g_assert_error (error, PP_REGISTRY_ERROR, PP_REGISTRY_ERROR_PERMISSION);
  g_assert_nonnull (strstr (error->message, "password"));
  g_assert_cmpuint (count (f, "SELECT count(*) FROM audit WHERE action = 'user.login_failed'"), ==, 1);
}

/* The token lapses (a 2-second session): the next call logs in again and works. */
static void
test_relogin (Fixture       *f,
              gconstpointer  data)
{
  PpRegistry *alice = as (f, "alice");
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) list = NULL;
  g_autoptr(GAsyncResult) res = NULL;
  g_autoptr(GMainLoop) loop = g_main_loop_new (NULL, FALSE);

  pp_registry_list_orders_async (alice, NULL, NULL, got_result, &res);
  list = pp_registry_list_orders_finish (alice, wait_for (&res), &error);
  g_assert_no_error (error);
  g_clear_pointer (&list, g_ptr_array_unref);
  g_clear_object (&res);
  /* The same token is reused while it lasts. */
  pp_registry_list_orders_async (alice, NULL, NULL, got_result, &res);
  list = pp_registry_list_orders_finish (alice, wait_for (&res), &error);
  g_assert_no_error (error);
  g_assert_cmpuint (count (f, "SELECT count(*) FROM audit WHERE action = 'user.login' AND actor = 'alice'"), ==, 1);

  g_timeout_add_once (3000, (GSourceOnceFunc) g_main_loop_quit, loop);
  g_main_loop_run (loop);
  g_clear_pointer (&list, g_ptr_array_unref);
  g_clear_object (&res);
  pp_registry_list_orders_async (alice, NULL, NULL, got_result, &res);
  list = pp_registry_list_orders_finish (alice, wait_for (&res), &error);
  g_assert_no_error (error);
  g_assert_nonnull (list);
  g_assert_cmpuint (count (f, "SELECT count(*) FROM audit WHERE action = 'user.login' AND actor = 'alice'"), ==, 2);
}

/* ---- trust ---- */

static void
assert_untrusted (Fixture         *f,
                  GTlsCertificate *trust)
{
  PpMerchantFields fields = { "Tea House", "REG-TEA-001", "2 Market Street", "5814", "Chen Jie",
                              "13700000000" };
  g_autoptr(PpRegistry) registry = remote_with (f->url, "alice", trust);
  g_autofree char *key = KEY ();
  g_autoptr(GError) error = NULL;
  g_autoptr(GAsyncResult) res = NULL;
  g_autoptr(PpMerchant) m = NULL;
  guint n_logins = count (f, "SELECT count(*) FROM audit WHERE action LIKE 'user.login%'");

  pp_registry_create_merchant_async (registry, &fields, "alice", key, NULL, got_result, &res);
  m = pp_registry_create_merchant_finish (registry, wait_for (&res), &error);
  g_assert_null (m);
  g_assert_error (error, PP_REGISTRY_ERROR, PP_REGISTRY_ERROR_UNTRUSTED);
  g_assert_nonnull (strstr (error->message, f->url));
  g_test_message ("%s", error->message);
  /* Not even the password went out: no login, nothing written. */
  g_assert_cmpuint (count (f, "SELECT count(*) FROM audit WHERE action LIKE 'user.login%'"), ==, n_logins);
  g_assert_cmpuint (count (f, "SELECT count(*) FROM merchants"), ==, 1);
}

static void
test_other_ca_refused (Fixture       *f,
                       gconstpointer  data)
{
  g_autoptr(GTlsCertificate) other = anchor ("other-ca");
  g_autoptr(GTlsCertificate) ca = anchor ("ca");

  /* Trusting another CA: our server is refused. */
  assert_untrusted (f, other);
  /* The system's CAs do not know the test CA either. */
  assert_untrusted (f, NULL);
  /* A server with a certificate of another CA, trusting ours: refused. */
  stop_daemon (f);
  start_daemon (f, "impostor", NULL);
  assert_untrusted (f, ca);
}

static void
test_pin (Fixture       *f,
          gconstpointer  data)
{
  g_autoptr(GTlsCertificate) pin = anchor ("server");
  g_autoptr(GTlsCertificate) twin = anchor ("twin");
  g_autoptr(PpRegistry) pinned = remote_with (f->url, "alice", pin);
  g_autoptr(GError) error = NULL;
  g_autoptr(GAsyncResult) res = NULL;
  PpRegistrySerialCheck *check;

  /* Exactly the pinned certificate is accepted... */
  pp_registry_lookup_serial_async (pinned, "PAX0001", NULL, NULL, got_result, &res);
  check = pp_registry_lookup_serial_finish (pinned, wait_for (&res), &error);
  g_assert_no_error (error);
  g_assert_cmpint (check->status, ==, PP_REGISTRY_SERIAL_INSTALLABLE);
  pp_registry_serial_check_free (check);
  /* ...and another one, though from the same CA for the same address, is not. */
  assert_untrusted (f, twin);
}

/* ---- the network ---- */

static void
test_unavailable (Fixture       *f,
                  gconstpointer  data)
{
  PpRegistry *alice = as (f, "alice");
  g_autofree char *key = KEY ();
  g_autoptr(GError) error = NULL;
  g_autoptr(PpWorkOrder) order = NULL;
  PpRegistrySerialCheck *check;

  check = lookup (alice, "PAX0001", NULL);
  pp_registry_serial_check_free (check);
  stop_daemon (f);
  order = create_order (alice, f, "PAX0001", "alice", key, &error);
  g_assert_null (order);
  g_assert_error (error, PP_REGISTRY_ERROR, PP_REGISTRY_ERROR_UNAVAILABLE);
  g_assert_nonnull (strstr (error->message, f->url));
  g_assert_nonnull (strstr (error->message, "work offline"));
  g_test_message ("%s", error->message);
}

/* A TCP relay in front of the daemon that, when armed, drops the next
 * answer coming back (after the daemon has acted) and closes the line. */
typedef struct {
  GSocketService *service;
  guint port;
  guint target;
  guint connections;
  gboolean drop_next;
  guint dropped;
} Relay;

typedef struct {
  Relay *relay;
  GIOStream *from;
  GIOStream *to;
  gboolean answers;   /* daemon -> station */
  char buf[16384];
} Pump;

static void pump_read (Pump *p);

static void
pump_got (GObject      *source,
          GAsyncResult *result,
          gpointer      data)
{
  Pump *p = data;
  gssize n = g_input_stream_read_finish (G_INPUT_STREAM (source), result, NULL);

  if (n > 0 && p->answers && p->relay->drop_next)
    {
      p->relay->drop_next = FALSE;
      p->relay->dropped++;
      n = 0;
    }
  if (n <= 0 || !g_output_stream_write_all (g_io_stream_get_output_stream (p->to), p->buf, (gsize) n,
                                            NULL, NULL, NULL))
    {
      g_io_stream_close (p->from, NULL, NULL);
      g_io_stream_close (p->to, NULL, NULL);
      g_object_unref (p->from);
      g_object_unref (p->to);
      g_free (p);
      return;
    }
  pump_read (p);
}

static void
pump_read (Pump *p)
{
  g_input_stream_read_async (g_io_stream_get_input_stream (p->from), p->buf, sizeof p->buf,
                             G_PRIORITY_DEFAULT, NULL, pump_got, p);
}

static void
pump_start (Relay     *relay,
            GIOStream *from,
            GIOStream *to,
            gboolean   answers)
{
  Pump *p = g_new0 (Pump, 1);

  p->relay = relay;
  p->from = g_object_ref (from);
  p->to = g_object_ref (to);
  p->answers = answers;
  pump_read (p);
}

static gboolean
relay_incoming (GSocketService    *service,
                GSocketConnection *station,
                GObject           *source,
                gpointer           data)
{
  Relay *relay = data;
  g_autoptr(GSocketClient) client = g_socket_client_new ();
  g_autoptr(GSocketConnection) daemon = NULL;
  g_autoptr(GError) error = NULL;

  daemon = g_socket_client_connect_to_host (client, "127.0.0.1", (guint16) relay->target, NULL, &error);
  g_assert_no_error (error);
  relay->connections++;
  pump_start (relay, G_IO_STREAM (station), G_IO_STREAM (daemon), FALSE);
  pump_start (relay, G_IO_STREAM (daemon), G_IO_STREAM (station), TRUE);
  return TRUE;
}

static void
test_retry_same_key (Fixture       *f,
                     gconstpointer  data)
{
  Relay relay = { 0 };
  g_autoptr(GError) error = NULL;
  g_autoptr(GTlsCertificate) ca = anchor ("ca");
  g_autoptr(PpRegistry) alice = NULL;
  g_autoptr(PpWorkOrder) order = NULL;
  g_autoptr(PpWorkOrder) stored = NULL;
  g_autofree char *url = NULL;
  g_autofree char *key = KEY ();
  PpRegistrySerialCheck *check;
  guint16 port;

  relay.service = g_socket_service_new ();
  relay.target = f->port;
  port = g_socket_listener_add_any_inet_port (G_SOCKET_LISTENER (relay.service), NULL, &error);
  g_assert_no_error (error);
  g_signal_connect (relay.service, "incoming", G_CALLBACK (relay_incoming), &relay);
  g_socket_service_start (relay.service);
  url = g_strdup_printf ("https://127.0.0.1:%u", port);
  alice = remote_with (url, "alice", ca);

  /* Logged in through the relay; then the order's answer is lost once. */
  check = lookup (alice, "PAX0001", NULL);
  pp_registry_serial_check_free (check);
  relay.drop_next = TRUE;
  order = create_order (alice, f, "PAX0001", "alice", key, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (relay.dropped, ==, 1);
  g_test_message ("connections through the relay: %u", relay.connections);
  g_assert_cmpuint (relay.connections, >=, 2);
  /* Done once: one order, one TID, one journal entry; the answer is the first one's. */
  g_assert_cmpuint (count (f, "SELECT count(*) FROM work_orders"), ==, 1);
  g_assert_cmpuint (count (f, "SELECT count(*) FROM issued_numbers WHERE kind = 'tid'"), ==, 1);
  g_assert_cmpuint (count (f, "SELECT count(*) FROM audit WHERE action = 'order.create'"), ==, 1);
  stored = pp_store_get_order (f->store.store, order->id, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (stored->uuid, ==, order->uuid);
  g_assert_cmpstr (stored->tid, ==, order->tid);

  g_socket_service_stop (relay.service);
  g_socket_listener_close (G_SOCKET_LISTENER (relay.service));
  g_clear_object (&alice);
  while (g_main_context_iteration (NULL, FALSE))
    ;
  g_object_unref (relay.service);
}

static void
test_bad_url (void)
{
  static const char * const bad[] = {
    "http://127.0.0.1:8443", "registry.example.com", "https://", "https://u:p@host/", "https://host/?q=1",
  };

  for (gsize i = 0; i < G_N_ELEMENTS (bad); i++)
    {
      g_autoptr(GError) error = NULL;
      g_autoptr(PpRegistry) registry = pp_registry_remote_new (bad[i], "alice", PASSWORD, NULL, &error);

      g_assert_null (registry);
      g_assert_error (error, PP_REGISTRY_ERROR, PP_REGISTRY_ERROR_INVALID);
      g_assert_nonnull (strstr (error->message, bad[i]));
    }
}

int
main (int   argc,
      char *argv[])
{
  int status;

  g_test_init (&argc, &argv, NULL);
  make_pki ();

#define ADD(path, func) \
  g_test_add (path, Fixture, NULL, fixture_set_up, func, fixture_tear_down)
  ADD ("/registry-remote/lookup-and-intake", test_lookup_and_intake);
  ADD ("/registry-remote/merchants", test_merchants);
  ADD ("/registry-remote/orders-and-approvals", test_orders_and_approvals);
  ADD ("/registry-remote/programs-audit-changes", test_programs_audit_changes);
  ADD ("/registry-remote/actor-is-the-session", test_actor_is_the_session);
  ADD ("/registry-remote/wrong-password", test_wrong_password);
  g_test_add ("/registry-remote/relogin", Fixture, "2", fixture_set_up, test_relogin, fixture_tear_down);
  ADD ("/registry-remote/other-ca-refused", test_other_ca_refused);
  ADD ("/registry-remote/pin", test_pin);
  ADD ("/registry-remote/unavailable", test_unavailable);
  ADD ("/registry-remote/retry-same-key", test_retry_same_key);
  ADD ("/registry-remote/otp", test_otp);
  ADD ("/registry-remote/sign-in-otp", test_sign_in_otp);
  ADD ("/registry-remote/upload-program", test_upload_program);
  ADD ("/registry-remote/tool-registry", test_tool_registry);
  ADD ("/registry-remote/tool-older-commands", test_tool_older_commands);
  g_test_add ("/registry-remote/events-across-expiry", Fixture, "2", fixture_set_up, test_events_across_expiry,
              fixture_tear_down);
#undef ADD
  g_test_add_func ("/registry-remote/bad-url", test_bad_url);

  status = g_test_run ();
  g_free (pki);
  return status;
}
