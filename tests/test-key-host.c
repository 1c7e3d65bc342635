/* SPDX-License-Identifier: GPL-3.0-or-later
 *
 * test-key-host.c: the key host (core/registry/pp-key-host.h) on a real
 * SQLite store and a real soft key store, with the real TR-34 KRD code of
 * core/tr34 in the terminal's place: the whole install key load, and each
 * refusal with its error code and the journal entry it leaves.
 */
#include "config.h"

#include <string.h>

#include <glib/gstdio.h>
#include <sqlite3.h>

#include "pp-key-host-fixture.h"
#include "pp-key-host-private.h"
#include "pp-key-host.h"
#include "pp-openssl-types.h"
#include "pp-test-util.h"
#include "pp-tr34.h"

static const PpTerminalIntake terminals[] = {
  { "KH-0001", "PAX", "A920" },
  { "KH-0002", "Sunmi", "P2" },
};

typedef struct {
  PpKeyHostFixture kh;
  PpStore *store;          /* borrowed from the fixture */
  PpKeyHost *host;
  X509 *cert[2];           /* the terminals' certificates on record */
  PpTr34Krd *krd[2];       /* the terminals themselves */
  PpTr34KrdState *state[2];
} Fixture;

static void
fixture_set_up_with (Fixture    *f,
                     PpKeyStore *key_store)
{
  g_autoptr(GError) error = NULL;

  pp_key_host_fixture_set_up_with (&f->kh, terminals, G_N_ELEMENTS (terminals), key_store);
  f->store = f->kh.base.store;
  for (guint i = 0; i < G_N_ELEMENTS (terminals); i++)
    {
      g_autofree char *fp = NULL;

      f->cert[i] = pp_key_host_fixture_make_krd_cert (&f->kh, terminals[i].serial, f->kh.pki->krd_key,
                                                      NULL, NULL, 2021, 2040);
      fp = pp_key_host_fixture_cert_fingerprint (f->cert[i]);
      g_assert_true (pp_store_set_terminal_certificate (f->store, terminals[i].serial, fp, "carol", &error));
      g_assert_no_error (error);
      f->krd[i] = pp_tr34_krd_new (f->cert[i], f->kh.pki->krd_key);
      pp_tr34_krd_add_trusted (f->krd[i], f->kh.pki->root);
      pp_tr34_krd_add_trusted (f->krd[i], f->kh.pki->ca_kdh);
      f->state[i] = pp_tr34_krd_state_new ();
    }
  f->host = pp_key_host_new (f->store, f->kh.base.key_store, &error);
  g_assert_no_error (error);
  g_assert_nonnull (f->host);
}

static void
fixture_set_up (Fixture       *f,
                gconstpointer  data)
{
  fixture_set_up_with (f, NULL);
}

static void
fixture_tear_down (Fixture       *f,
                   gconstpointer  data)
{
  g_clear_pointer (&f->host, pp_key_host_unref);
  for (guint i = 0; i < G_N_ELEMENTS (terminals); i++)
    {
      g_clear_pointer (&f->cert[i], X509_free);
      g_clear_pointer (&f->krd[i], pp_tr34_krd_unref);
      g_clear_pointer (&f->state[i], pp_tr34_krd_state_unref);
    }
  pp_key_host_fixture_tear_down (&f->kh);
}

/* An install order for terminal @i, opened by alice; approved by bob if @approve. */
static gint64
make_order (Fixture  *f,
            guint     i,
            gboolean  approve)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(PpWorkOrder) order = NULL;

  order = pp_store_create_install_order (f->store, terminals[i].serial, f->kh.base.merchant_id, "1.0.0",
                                         PP_TMK_AES_128, "alice", &error);
  g_assert_no_error (error);
  if (approve)
    {
      g_assert_true (pp_store_decide_order (f->store, order->id, "bob", TRUE, "checked", &error));
      g_assert_no_error (error);
    }
  return order->id;
}

static GBytes *
ct_krd (Fixture *f,
        guint    i)
{
  return pp_key_host_fixture_ct_krd (f->cert[i]);
}

/* The terminal makes a fresh nonce and sends it as RT_KRD. */
static GBytes *
rt_krd (Fixture *f,
        guint    i)
{
  g_autoptr(GBytes) nonce = pp_tr34_krd_state_issue_nonce (f->state[i], 16);

  return pp_tr34_build_random_token (nonce);
}

/* The terminal binds to the key host with its CT_KDH. */
static void
bind_terminal (Fixture *f,
               guint    i,
               gint64   order_id)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GBytes) ct_kdh = pp_key_host_issue_ct_kdh (f->host, order_id, "alice", &error);
  g_autoptr(X509) kdh = NULL;

  g_assert_no_error (error);
  kdh = pp_tr34_krd_receive_credential_token (f->krd[i], g_bytes_get_data (ct_kdh, NULL),
                                              g_bytes_get_size (ct_kdh), &error);
  g_assert_no_error (error);
  g_assert_cmpint (X509_cmp (kdh, f->kh.kdh_cert), ==, 0);
}

/* The journal's last entry. */
static PpAuditEntry *
last_entry (Fixture *f)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) entries = pp_store_list_audit (f->store, 0, G_MAXUINT, &error);

  g_assert_no_error (error);
  g_assert_cmpuint (entries->len, >, 0);
  return g_ptr_array_steal_index (entries, entries->len - 1);
}

/* The last journal entry is the key host's refusal of @step for @order_id with @code. */
static void
assert_refusal_journalled (Fixture    *f,
                           gint64      order_id,
                           const char *step,
                           const char *code)
{
  g_autoptr(PpAuditEntry) entry = last_entry (f);
  g_autoptr(JsonParser) parser = json_parser_new ();
  g_autofree char *subject = g_strdup_printf ("work order %" G_GINT64_FORMAT, order_id);
  JsonObject *detail;

  g_assert_cmpstr (entry->action, ==, "keyhost.refused");
  g_assert_cmpstr (entry->subject, ==, subject);
  g_assert_true (json_parser_load_from_data (parser, entry->detail, -1, NULL));
  detail = json_node_get_object (json_parser_get_root (parser));
  g_assert_cmpstr (json_object_get_string_member (detail, "code"), ==, code);
  g_assert_cmpstr (json_object_get_string_member (detail, "step"), ==, step);
  g_assert_cmpint (json_object_get_int_member (detail, "order"), ==, order_id);
}

/* Entries whose action is @action. */
static guint
count_entries (Fixture    *f,
               const char *action)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) entries = pp_store_list_audit (f->store, 0, G_MAXUINT, &error);
  guint n = 0;

  g_assert_no_error (error);
  for (guint i = 0; i < entries->len; i++)
    n += g_str_equal (((PpAuditEntry *) g_ptr_array_index (entries, i))->action, action);
  return n;
}

static gint64
count_rows (Fixture    *f,
            const char *sql)
{
  sqlite3 *db = NULL;
  sqlite3_stmt *stmt = NULL;
  gint64 n;

  g_assert_cmpint (sqlite3_open_v2 (f->kh.base.path, &db, SQLITE_OPEN_READONLY, NULL), ==, SQLITE_OK);
  g_assert_cmpint (sqlite3_prepare_v2 (db, sql, -1, &stmt, NULL), ==, SQLITE_OK);
  g_assert_cmpint (sqlite3_step (stmt), ==, SQLITE_ROW);
  n = sqlite3_column_int64 (stmt, 0);
  sqlite3_finalize (stmt);
  sqlite3_close (db);
  return n;
}

static void
exec_sql (Fixture    *f,
          const char *sql)
{
  sqlite3 *db = NULL;

  g_assert_cmpint (sqlite3_open (f->kh.base.path, &db), ==, SQLITE_OK);
  g_assert_cmpint (sqlite3_exec (db, sql, NULL, NULL, NULL), ==, SQLITE_OK);
  sqlite3_close (db);
}

/* TRUE if @needle occurs in the file at @path (the database and its WAL). */
static gboolean
file_holds (const char   *path,
            const guint8 *needle,
            gsize         len)
{
  g_autofree char *contents = NULL;
  gsize size = 0;

  if (!g_file_get_contents (path, &contents, &size, NULL))
    return FALSE;
  for (gsize i = 0; i + len <= size; i++)
    if (memcmp (contents + i, needle, len) == 0)
      return TRUE;
  return FALSE;
}

static PpTr34ReceivedKey *
receive (Fixture *f,
         guint    i,
         GBytes  *kt_kdh,
         GError **error)
{
  return pp_tr34_krd_receive_key_token (f->krd[i], f->state[i], g_bytes_get_data (kt_kdh, NULL),
                                        g_bytes_get_size (kt_kdh), error);
}

/* ---- the whole path ---- */

static void
test_happy_path (Fixture       *f,
                 gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GBytes) ct = ct_krd (f, 0);
  g_autoptr(GBytes) rt = rt_krd (f, 0);
  g_autoptr(GBytes) kt_kdh = NULL;
  g_autoptr(PpTr34ReceivedKey) received = NULL;
  g_autoptr(PpWorkOrder) order = NULL;
  g_autoptr(PpTerminal) terminal = NULL;
  g_autoptr(PpAuditEntry) entry = NULL;
  g_autoptr(GBytes) cert = pp_key_host_get_certificate (f->host);
  g_autoptr(GBytes) crl = pp_key_host_get_crl (f->host);
  g_autofree char *key_hex = NULL;
  g_autofree char *wal = NULL;
  gint64 id = make_order (f, 0, TRUE);

  g_assert_nonnull (cert);
  g_assert_nonnull (crl);
  bind_terminal (f, 0, id);
  g_assert_cmpuint (count_entries (f, "keyhost.ct_kdh"), ==, 1);

  kt_kdh = pp_key_host_issue_key_token (f->host, id, ct, rt, "alice", &error);
  g_assert_no_error (error);
  g_assert_nonnull (kt_kdh);

  /* The terminal unwraps it with its own key, its nonce inside. */
  received = receive (f, 0, kt_kdh, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (pp_secure_buffer_get_len (received->key), ==, 16);
  g_assert_cmpint (received->profile, ==, PP_TR34_PROFILE_STRICT);
  g_assert_false (received->one_pass);

  order = pp_store_get_order (f->store, id, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (order->expected_kcv, ==, received->kcv);
  g_assert_nonnull (order->key_label);
  g_assert_true (g_str_has_prefix (order->key_label, "tmk-o"));
  g_assert_cmpint (count_rows (f, "SELECT count(*) FROM key_fingerprints"), ==, 1);
  g_assert_cmpint (count_rows (f, "SELECT count(*) FROM key_host_nonces WHERE serial = 'KH-0001'"), ==, 1);
  g_clear_pointer (&order, pp_work_order_free);

  /* The clear key is nowhere in the database, as bytes or as hex. */
  key_hex = pp_secure_buffer_to_hex (received->key);
  wal = g_strconcat (f->kh.base.path, "-wal", NULL);
  g_assert_false (file_holds (f->kh.base.path, pp_secure_buffer_peek (received->key), 16));
  g_assert_false (file_holds (wal, pp_secure_buffer_peek (received->key), 16));
  g_assert_false (file_holds (f->kh.base.path, (const guint8 *) key_hex, strlen (key_hex)));
  g_assert_false (file_holds (wal, (const guint8 *) key_hex, strlen (key_hex)));

  /* The terminal's KCV, in lower case, marks the order keyed. */
  {
    g_autofree char *lower = g_ascii_strdown (received->kcv, -1);

    g_assert_true (pp_key_host_confirm_kcv (f->host, id, lower, "alice", &error));
    g_assert_no_error (error);
  }
  order = pp_store_get_order (f->store, id, &error);
  g_assert_no_error (error);
  g_assert_cmpint (order->state, ==, PP_WORK_ORDER_STATE_KEYED);
  g_assert_cmpstr (order->kcv, ==, received->kcv);
  terminal = pp_store_get_terminal (f->store, "KH-0001", &error);
  g_assert_no_error (error);
  g_assert_cmpint (pp_terminal_get_state (terminal), ==, PP_TERMINAL_STATE_KEYED);
  entry = last_entry (f);
  g_assert_cmpstr (entry->action, ==, "order.keyed");
  g_assert_cmpuint (count_entries (f, "order.key_released"), ==, 1);
  g_assert_cmpuint (count_entries (f, "keyhost.refused"), ==, 0);
  {
    gint64 bad = 0;

    g_assert_true (pp_store_audit_verify (f->store, &bad, NULL, &error));
    g_assert_no_error (error);
  }

  /* A keyed order gets no second key. */
  {
    g_autoptr(GBytes) rt2 = rt_krd (f, 0);
    g_autoptr(GBytes) again = pp_key_host_issue_key_token (f->host, id, ct, rt2, "alice", &error);

    g_assert_null (again);
    g_assert_error (error, PP_KEY_HOST_ERROR, PP_KEY_HOST_ERROR_STATE);
    assert_refusal_journalled (f, id, "key_token", "state");
    g_clear_error (&error);
    g_assert_false (pp_key_host_confirm_kcv (f->host, id, received->kcv, "alice", &error));
    g_assert_error (error, PP_KEY_HOST_ERROR, PP_KEY_HOST_ERROR_STATE);
    assert_refusal_journalled (f, id, "kcv", "state");
  }
}

/* The profile configured for the terminal's model is the one the token uses. */
static void
test_profile_per_model (Fixture       *f,
                        gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GBytes) ct = ct_krd (f, 1);
  g_autoptr(GBytes) rt = rt_krd (f, 1);
  g_autoptr(GBytes) kt_kdh = NULL;
  g_autoptr(PpTr34ReceivedKey) received = NULL;
  g_autofree char *profile = NULL;
  gint64 id = make_order (f, 1, TRUE);

  g_assert_false (pp_store_set_key_host_profile (f->store, "P2", "x9-2019", "alice", &error));
  g_assert_error (error, PP_STORE_ERROR, PP_STORE_ERROR_PERMISSION);
  g_clear_error (&error);
  g_assert_false (pp_store_set_key_host_profile (f->store, "P2", "x9-2099", "carol", &error));
  g_assert_error (error, PP_STORE_ERROR, PP_STORE_ERROR_INVALID);
  g_clear_error (&error);
  g_assert_true (pp_store_set_key_host_profile (f->store, "P2", "x9-2012", "carol", &error));
  g_assert_no_error (error);
  profile = pp_store_get_key_host_profile (f->store, "A920", &error);
  g_assert_cmpstr (profile, ==, "strict");

  bind_terminal (f, 1, id);
  kt_kdh = pp_key_host_issue_key_token (f->host, id, ct, rt, "alice", &error);
  g_assert_no_error (error);
  received = receive (f, 1, kt_kdh, &error);
  g_assert_no_error (error);
  g_assert_cmpint (received->profile, ==, PP_TR34_PROFILE_X9_2012);
}

/* ---- refusals about the order and its approval ---- */

static void
test_no_approval (Fixture       *f,
                  gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GBytes) ct = ct_krd (f, 0);
  g_autoptr(GBytes) rt = rt_krd (f, 0);
  g_autoptr(GBytes) token = NULL;
  g_autoptr(PpWorkOrder) order = NULL;
  gint64 id = make_order (f, 0, FALSE);

  token = pp_key_host_issue_ct_kdh (f->host, id, "alice", &error);
  g_assert_null (token);
  g_assert_error (error, PP_KEY_HOST_ERROR, PP_KEY_HOST_ERROR_NO_APPROVAL);
  assert_refusal_journalled (f, id, "ct_kdh", "no_approval");
  g_clear_error (&error);

  token = pp_key_host_issue_key_token (f->host, id, ct, rt, "alice", &error);
  g_assert_null (token);
  g_assert_error (error, PP_KEY_HOST_ERROR, PP_KEY_HOST_ERROR_NO_APPROVAL);
  assert_refusal_journalled (f, id, "key_token", "no_approval");
  g_clear_error (&error);
  /* Nothing was made: no key released, no nonce used. */
  g_assert_cmpint (count_rows (f, "SELECT count(*) FROM key_host_nonces"), ==, 0);
  g_assert_cmpint (count_rows (f, "SELECT count(*) FROM key_fingerprints"), ==, 0);

  /* Nor for a rejected (cancelled) order. */
  g_assert_true (pp_store_decide_order (f->store, id, "bob", FALSE, "wrong merchant", &error));
  g_assert_no_error (error);
  token = pp_key_host_issue_key_token (f->host, id, ct, rt, "alice", &error);
  g_assert_error (error, PP_KEY_HOST_ERROR, PP_KEY_HOST_ERROR_STATE);
  assert_refusal_journalled (f, id, "key_token", "state");
  g_clear_error (&error);

  /* A reviewer does not load keys; an unknown name neither. */
  id = make_order (f, 1, TRUE);
  token = pp_key_host_issue_key_token (f->host, id, ct, rt, "bob", &error);
  g_assert_error (error, PP_STORE_ERROR, PP_STORE_ERROR_PERMISSION);
  assert_refusal_journalled (f, id, "key_token", "other");
  g_clear_error (&error);
  token = pp_key_host_issue_ct_kdh (f->host, id, "mallory", &error);
  g_assert_error (error, PP_STORE_ERROR, PP_STORE_ERROR_PERMISSION);
  g_clear_error (&error);
  order = pp_store_get_order (f->store, id, &error);
  g_assert_null (order->expected_kcv);
}

static void
test_self_approval (Fixture       *f,
                    gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GBytes) ct = ct_krd (f, 0);
  g_autoptr(GBytes) rt = rt_krd (f, 0);
  g_autoptr(GBytes) token = NULL;
  gint64 id = make_order (f, 0, TRUE);
  g_autofree char *sql = NULL;

  /* The store refuses such an approval (and the schema an approval row
   * whose approver is its own requester); one that came in another way (an
   * edited database, an old import, here naming bob as the requester of
   * alice's order) is refused by the key host itself. */
  sql = g_strdup_printf ("INSERT INTO approvals (order_id, requester, approver, decision, reason, decided_at, "
                         "serial, mid, tid, merchant_id, program_version, key_type, cert_fingerprint, digest) "
                         "SELECT order_id, approver, requester, decision, reason, decided_at + 1, serial, mid, "
                         "tid, merchant_id, program_version, key_type, cert_fingerprint, digest FROM approvals "
                         "WHERE order_id = %" G_GINT64_FORMAT, id);
  exec_sql (f, sql);

  token = pp_key_host_issue_key_token (f->host, id, ct, rt, "alice", &error);
  g_assert_null (token);
  g_assert_error (error, PP_KEY_HOST_ERROR, PP_KEY_HOST_ERROR_SELF_APPROVAL);
  g_assert_nonnull (strstr (error->message, "alice"));
  assert_refusal_journalled (f, id, "key_token", "self_approval");
  g_clear_error (&error);
  token = pp_key_host_issue_ct_kdh (f->host, id, "alice", &error);
  g_assert_error (error, PP_KEY_HOST_ERROR, PP_KEY_HOST_ERROR_SELF_APPROVAL);
  assert_refusal_journalled (f, id, "ct_kdh", "self_approval");
}

static void
test_approver_role (Fixture       *f,
                    gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GBytes) ct = ct_krd (f, 0);
  g_autoptr(GBytes) rt = rt_krd (f, 0);
  g_autoptr(GBytes) token = NULL;
  gint64 id = make_order (f, 0, TRUE);

  /* bob approved as a reviewer, then became a field manager. */
  g_assert_true (pp_store_set_user_role (f->store, "bob", PP_USER_ROLE_FIELD_MANAGER, "carol", &error));
  g_assert_no_error (error);
  token = pp_key_host_issue_key_token (f->host, id, ct, rt, "alice", &error);
  g_assert_null (token);
  g_assert_error (error, PP_KEY_HOST_ERROR, PP_KEY_HOST_ERROR_APPROVER_ROLE);
  assert_refusal_journalled (f, id, "key_token", "approver_role");
  g_assert_cmpint (count_rows (f, "SELECT count(*) FROM key_fingerprints"), ==, 0);
}

static void
test_approval_void (Fixture       *f,
                    gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GBytes) ct = ct_krd (f, 0);
  g_autoptr(GBytes) rt = rt_krd (f, 0);
  g_autoptr(GBytes) token = NULL;
  g_autoptr(GPtrArray) approvals = NULL;
  gint64 id = make_order (f, 0, TRUE);

  /* The terminal's TID changes behind the approval's back. */
  exec_sql (f, "UPDATE terminals SET tid = '19999997' WHERE serial = 'KH-0001'");
  token = pp_key_host_issue_key_token (f->host, id, ct, rt, "alice", &error);
  g_assert_null (token);
  g_assert_error (error, PP_KEY_HOST_ERROR, PP_KEY_HOST_ERROR_APPROVAL_VOID);
  assert_refusal_journalled (f, id, "key_token", "approval_void");
  g_assert_cmpuint (count_entries (f, "order.approval_void"), ==, 1);
  g_clear_error (&error);
  approvals = pp_store_list_approvals (f->store, id, &error);
  g_assert_no_error (error);
  g_assert_cmpint (((PpApproval *) g_ptr_array_index (approvals, 0))->voided_at, >, 0);

  /* Void for good: putting the TID back does not revive it. */
  exec_sql (f, "UPDATE terminals SET tid = (SELECT tid FROM work_orders WHERE serial = 'KH-0001') "
               "WHERE serial = 'KH-0001'");
  token = pp_key_host_issue_ct_kdh (f->host, id, "alice", &error);
  g_assert_error (error, PP_KEY_HOST_ERROR, PP_KEY_HOST_ERROR_APPROVAL_VOID);
  assert_refusal_journalled (f, id, "ct_kdh", "approval_void");
}

/* A CT_KRD that chains and names the serial, but is not the certificate
 * the approval was for (another key pair for the same serial). */
static void
test_other_certificate (Fixture       *f,
                        gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(X509) other = pp_key_host_fixture_make_krd_cert (&f->kh, "KH-0001", f->kh.pki->kdh_key, NULL, NULL,
                                                             2021, 2040);
  g_autoptr(GBytes) ct = pp_key_host_fixture_ct_krd (other);
  g_autoptr(GBytes) rt = rt_krd (f, 0);
  g_autoptr(GBytes) token = NULL;
  gint64 id = make_order (f, 0, TRUE);

  token = pp_key_host_issue_key_token (f->host, id, ct, rt, "alice", &error);
  g_assert_null (token);
  g_assert_error (error, PP_KEY_HOST_ERROR, PP_KEY_HOST_ERROR_APPROVAL_VOID);
  assert_refusal_journalled (f, id, "key_token", "approval_void");
  g_assert_cmpint (count_rows (f, "SELECT count(*) FROM key_host_nonces"), ==, 0);
}

/* ---- refusals about the terminal's tokens ---- */

static void
test_chain (Fixture       *f,
            gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(EVP_PKEY) rogue_key = NULL;
  g_autoptr(X509) rogue = pp_key_host_fixture_make_rogue_ca (&rogue_key);
  g_autoptr(X509) cert = pp_key_host_fixture_make_krd_cert (&f->kh, "KH-0001", f->kh.pki->krd_key, rogue,
                                                            rogue_key, 2021, 2040);
  g_autoptr(GBytes) ct = pp_key_host_fixture_ct_krd (cert);
  g_autoptr(GBytes) rt = rt_krd (f, 0);
  g_autoptr(GBytes) token = NULL;
  gint64 id = make_order (f, 0, TRUE);

  token = pp_key_host_issue_key_token (f->host, id, ct, rt, "alice", &error);
  g_assert_null (token);
  g_assert_error (error, PP_KEY_HOST_ERROR, PP_KEY_HOST_ERROR_CHAIN);
  assert_refusal_journalled (f, id, "key_token", "chain");
}

static void
test_expired (Fixture       *f,
              gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(X509) cert = pp_key_host_fixture_make_krd_cert (&f->kh, "KH-0001", f->kh.pki->krd_key, NULL, NULL,
                                                            2020, 2022);
  g_autoptr(GBytes) ct = pp_key_host_fixture_ct_krd (cert);
  g_autoptr(GBytes) rt = rt_krd (f, 0);
  g_autoptr(GBytes) token = NULL;
  gint64 id = make_order (f, 0, TRUE);

  token = pp_key_host_issue_key_token (f->host, id, ct, rt, "alice", &error);
  g_assert_null (token);
  g_assert_error (error, PP_KEY_HOST_ERROR, PP_KEY_HOST_ERROR_EXPIRED);
  assert_refusal_journalled (f, id, "key_token", "expired");
}

static void
test_wrong_serial (Fixture       *f,
                   gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  /* Terminal KH-0002's own, valid certificate, sent for KH-0001's order. */
  g_autoptr(GBytes) ct = ct_krd (f, 1);
  g_autoptr(GBytes) rt = rt_krd (f, 1);
  g_autoptr(GBytes) token = NULL;
  gint64 id = make_order (f, 0, TRUE);

  token = pp_key_host_issue_key_token (f->host, id, ct, rt, "alice", &error);
  g_assert_null (token);
  g_assert_error (error, PP_KEY_HOST_ERROR, PP_KEY_HOST_ERROR_WRONG_SERIAL);
  g_assert_nonnull (strstr (error->message, "KH-0002"));
  assert_refusal_journalled (f, id, "key_token", "wrong_serial");
}

static void
test_bad_tokens (Fixture       *f,
                 gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GBytes) ct = ct_krd (f, 0);
  g_autoptr(GBytes) rt = rt_krd (f, 0);
  g_autoptr(GBytes) junk = g_bytes_new_static ("\x30\x03\x02\x01", 4);
  g_autoptr(GBytes) token = NULL;
  gint64 id = make_order (f, 0, TRUE);

  token = pp_key_host_issue_key_token (f->host, id, junk, rt, "alice", &error);
  g_assert_error (error, PP_KEY_HOST_ERROR, PP_KEY_HOST_ERROR_BAD_TOKEN);
  assert_refusal_journalled (f, id, "key_token", "bad_token");
  g_clear_error (&error);
  /* A CT_KRD where the RT_KRD belongs. */
  token = pp_key_host_issue_key_token (f->host, id, ct, ct, "alice", &error);
  g_assert_error (error, PP_KEY_HOST_ERROR, PP_KEY_HOST_ERROR_BAD_TOKEN);
  assert_refusal_journalled (f, id, "key_token", "bad_token");
  g_clear_error (&error);
  token = pp_key_host_issue_key_token (f->host, id, ct, NULL, "alice", &error);
  g_assert_error (error, PP_KEY_HOST_ERROR, PP_KEY_HOST_ERROR_BAD_TOKEN);
}

static void
test_nonce_replay (Fixture       *f,
                   gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GBytes) ct = ct_krd (f, 0);
  g_autoptr(GBytes) rt = rt_krd (f, 0);
  g_autoptr(GBytes) first = NULL;
  g_autoptr(GBytes) second = NULL;
  g_autoptr(PpWorkOrder) order = NULL;
  g_autofree char *label = NULL;
  gint64 id = make_order (f, 0, TRUE);

  first = pp_key_host_issue_key_token (f->host, id, ct, rt, "alice", &error);
  g_assert_no_error (error);
  order = pp_store_get_order (f->store, id, &error);
  label = g_strdup (order->key_label);
  g_clear_pointer (&order, pp_work_order_free);

  /* The same request again (a relay replaying it): refused, the first key stays. */
  second = pp_key_host_issue_key_token (f->host, id, ct, rt, "alice", &error);
  g_assert_null (second);
  g_assert_error (error, PP_KEY_HOST_ERROR, PP_KEY_HOST_ERROR_NONCE_REUSED);
  assert_refusal_journalled (f, id, "key_token", "nonce_reused");
  g_clear_error (&error);
  order = pp_store_get_order (f->store, id, &error);
  g_assert_cmpstr (order->key_label, ==, label);
  g_clear_pointer (&order, pp_work_order_free);

  /* A fresh nonce gets a new key (after a failed load, say), which replaces
   * the first release. */
  {
    g_autoptr(GBytes) rt2 = rt_krd (f, 0);
    g_autoptr(GBytes) third = pp_key_host_issue_key_token (f->host, id, ct, rt2, "alice", &error);

    g_assert_no_error (error);
    g_assert_nonnull (third);
  }
  order = pp_store_get_order (f->store, id, &error);
  g_assert_cmpstr (order->key_label, !=, label);
  g_assert_cmpint (count_rows (f, "SELECT count(*) FROM key_host_nonces"), ==, 2);
}

/* ---- keys unique per device ---- */

static void
copy_tmk (Fixture    *f,
          const char *from,
          const char *to)
{
  g_autofree char *dir = g_build_filename (f->kh.base.dir, "keys", NULL);
  g_autofree char *from_name = g_strconcat (from, ".tmk.pem", NULL);
  g_autofree char *to_name = g_strconcat (to, ".tmk.pem", NULL);
  g_autofree char *from_path = g_build_filename (dir, from_name, NULL);
  g_autofree char *to_path = g_build_filename (dir, to_name, NULL);
  g_autofree char *contents = NULL;
  gsize len = 0;

  g_assert_true (g_file_get_contents (from_path, &contents, &len, NULL));
  g_assert_true (g_file_set_contents_full (to_path, contents, (gssize) len, G_FILE_SET_CONTENTS_NONE, 0600, NULL));
}

static void
test_duplicate_key (Fixture       *f,
                    gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GBytes) ct0 = ct_krd (f, 0);
  g_autoptr(GBytes) rt0 = rt_krd (f, 0);
  g_autoptr(GBytes) ct1 = ct_krd (f, 1);
  g_autoptr(GBytes) rt1 = rt_krd (f, 1);
  g_autoptr(GBytes) first = NULL;
  g_autoptr(GBytes) second = NULL;
  g_autoptr(PpWorkOrder) order0 = NULL;
  g_autoptr(PpWorkOrder) order1 = NULL;
  gint64 id0 = make_order (f, 0, TRUE);
  gint64 id1 = make_order (f, 1, TRUE);

  first = pp_key_host_issue_key_token (f->host, id0, ct0, rt0, "alice", &error);
  g_assert_no_error (error);
  order0 = pp_store_get_order (f->store, id0, &error);

  /* The same key imported again under another label, offered for the other terminal. */
  copy_tmk (f, order0->key_label, "imported-tmk");
  second = pp_key_host_issue_key_token_with_tmk (f->host, id1, ct1, rt1, "imported-tmk", "alice", &error);
  g_assert_null (second);
  g_assert_error (error, PP_KEY_HOST_ERROR, PP_KEY_HOST_ERROR_DUPLICATE_KEY);
  assert_refusal_journalled (f, id1, "key_token", "duplicate_key");
  g_clear_error (&error);
  order1 = pp_store_get_order (f->store, id1, &error);
  g_assert_null (order1->expected_kcv);
  g_assert_cmpint (count_rows (f, "SELECT count(*) FROM key_fingerprints"), ==, 1);
  /* The refused request did not use up the terminal's nonce. */
  g_assert_cmpint (count_rows (f, "SELECT count(*) FROM key_host_nonces WHERE serial = 'KH-0002'"), ==, 0);

  /* The fingerprint is keyed: it is not a plain hash of the key. */
  {
    g_autoptr(PpSecureBuffer) key = pp_key_store_export_tmk (f->kh.base.key_store, order0->key_label, NULL, &error);
    g_autofree char *plain = NULL;
    g_autofree char *sql = NULL;

    g_assert_no_error (error);
    plain = g_compute_checksum_for_data (G_CHECKSUM_SHA256, pp_secure_buffer_peek (key),
                                         pp_secure_buffer_get_len (key));
    sql = g_strdup_printf ("SELECT count(*) FROM key_fingerprints WHERE fingerprint = '%s'", plain);
    g_assert_cmpint (count_rows (f, sql), ==, 0);
  }
}

/* ---- the KCV ---- */

static void
test_kcv_mismatch (Fixture       *f,
                   gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GBytes) ct = ct_krd (f, 0);
  g_autoptr(GBytes) rt = rt_krd (f, 0);
  g_autoptr(GBytes) kt_kdh = NULL;
  g_autoptr(PpTr34ReceivedKey) received = NULL;
  g_autoptr(PpWorkOrder) order = NULL;
  g_autofree char *wrong = NULL;
  gint64 id = make_order (f, 0, TRUE);
  gsize n;

  /* No key released yet: nothing to compare with. */
  g_assert_false (pp_key_host_confirm_kcv (f->host, id, "123456", "alice", &error));
  g_assert_error (error, PP_KEY_HOST_ERROR, PP_KEY_HOST_ERROR_STATE);
  assert_refusal_journalled (f, id, "kcv", "state");
  g_clear_error (&error);

  kt_kdh = pp_key_host_issue_key_token (f->host, id, ct, rt, "alice", &error);
  g_assert_no_error (error);
  received = receive (f, 0, kt_kdh, &error);
  g_assert_no_error (error);

  /* Off in the last digit only. */
  wrong = g_strdup (received->kcv);
  n = strlen (wrong);
  wrong[n - 1] = wrong[n - 1] == '0' ? '1' : '0';
  g_assert_false (pp_key_host_confirm_kcv (f->host, id, wrong, "alice", &error));
  g_assert_error (error, PP_KEY_HOST_ERROR, PP_KEY_HOST_ERROR_KCV_MISMATCH);
  assert_refusal_journalled (f, id, "kcv", "kcv_mismatch");
  g_assert_cmpuint (count_entries (f, "order.kcv_mismatch"), ==, 1);
  g_clear_error (&error);
  /* A prefix is no match either. */
  wrong[n - 2] = '\0';
  g_assert_false (pp_key_host_confirm_kcv (f->host, id, wrong, "alice", &error));
  g_assert_error (error, PP_KEY_HOST_ERROR, PP_KEY_HOST_ERROR_KCV_MISMATCH);
  g_clear_error (&error);

  order = pp_store_get_order (f->store, id, &error);
  g_assert_cmpint (order->state, ==, PP_WORK_ORDER_STATE_APPROVED);
  g_clear_pointer (&order, pp_work_order_free);

  g_assert_true (pp_key_host_confirm_kcv (f->host, id, received->kcv, "alice", &error));
  g_assert_no_error (error);
  order = pp_store_get_order (f->store, id, &error);
  g_assert_cmpint (order->state, ==, PP_WORK_ORDER_STATE_KEYED);
}

/* ---- configuration ---- */

static void
test_config (Fixture       *f,
             gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *other_path = g_build_filename (f->kh.base.dir, "other.db", NULL);
  g_autofree char *other_keys = g_build_filename (f->kh.base.dir, "other-keys", NULL);
  g_autoptr(PpStore) other = NULL;
  g_autoptr(PpKeyStore) other_key_store = NULL;
  g_autoptr(PpKeyHost) host = NULL;
  g_autoptr(PpKeyHostConfig) config = NULL;

  /* A store that was never configured. */
  other = pp_store_open (other_path, &error);
  g_assert_no_error (error);
  host = pp_key_host_new (other, f->kh.base.key_store, &error);
  g_assert_null (host);
  g_assert_error (error, PP_KEY_HOST_ERROR, PP_KEY_HOST_ERROR_CONFIG);
  g_clear_error (&error);

  /* The configured store with another key store: no KDH key there. */
  other_key_store = pp_key_store_soft_new (other_keys, "another key store passphrase", &error);
  g_assert_no_error (error);
  host = pp_key_host_new (f->store, other_key_store, &error);
  g_assert_null (host);
  g_assert_error (error, PP_KEY_HOST_ERROR, PP_KEY_HOST_ERROR_CONFIG);
  g_clear_error (&error);
  /* ... nor with a KDH key of its own there: not the certified one. */
  g_assert_true (pp_key_store_generate_kdh_key (other_key_store, PP_KEY_HOST_FIXTURE_KDH_LABEL, NULL, &error));
  host = pp_key_host_new (f->store, other_key_store, &error);
  g_assert_null (host);
  g_assert_error (error, PP_KEY_HOST_ERROR, PP_KEY_HOST_ERROR_CONFIG);
  g_assert_nonnull (strstr (error->message, "KDH certificate"));
  g_clear_error (&error);

  /* Only an administrator configures; bad DER is refused naming it. */
  config = pp_store_get_key_host_config (f->store, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (config->ca_krd->len, ==, 2);
  g_assert_cmpstr (config->updated_by, ==, "carol");
  g_assert_false (pp_store_set_key_host_config (f->store, config, "alice", &error));
  g_assert_error (error, PP_STORE_ERROR, PP_STORE_ERROR_PERMISSION);
  g_clear_error (&error);
  g_clear_pointer (&config->kdh_crl, g_bytes_unref);
  config->kdh_crl = g_bytes_new_static ("not a CRL", 9);
  g_assert_false (pp_store_set_key_host_config (f->store, config, "carol", &error));
  g_assert_error (error, PP_STORE_ERROR, PP_STORE_ERROR_INVALID);
  g_assert_nonnull (strstr (error->message, "CRL"));
}

static void
test_fingerprint_key_checked (Fixture       *f,
                              gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(PpKeyHost) host = NULL;
  g_autofree char *keys = g_build_filename (f->kh.base.dir, "keys", NULL);
  g_autofree char *path = g_build_filename (keys, PP_KEY_HOST_FINGERPRINT_LABEL ".tmk.pem", NULL);
  g_autofree char *kcv = NULL;

  /* Someone replaces the fingerprint key (another key store's, a restore
   * gone wrong): the old fingerprints would no longer catch a duplicate. */
  g_assert_cmpint (g_unlink (path), ==, 0);
  kcv = pp_key_store_generate_tmk (f->kh.base.key_store, PP_KEY_HOST_FINGERPRINT_LABEL, PP_TMK_AES_256, NULL,
                                   &error);
  g_assert_no_error (error);
  host = pp_key_host_new (f->store, f->kh.base.key_store, &error);
  g_assert_null (host);
  g_assert_error (error, PP_KEY_HOST_ERROR, PP_KEY_HOST_ERROR_CONFIG);
  g_assert_nonnull (strstr (error->message, "fingerprint"));
}

/* ---- the same with the keys in a PKCS#11 token (SoftHSM2) ---- */

#define TOKEN "posprov-keyhost"
#define USER_PIN "4321"

static char *
find_softhsm_module (void)
{
  static const char * const candidates[] = {
    "/usr/lib/softhsm/libsofthsm2.so",
    "/usr/lib/x86_64-linux-gnu/softhsm/libsofthsm2.so",
    "/usr/lib/aarch64-linux-gnu/softhsm/libsofthsm2.so",
    "/usr/lib64/pkcs11/libsofthsm2.so",
  };
  const char *env = g_getenv ("PP_SOFTHSM2_MODULE");

  if (env != NULL && g_file_test (env, G_FILE_TEST_EXISTS))
    return g_strdup (env);
  for (guint i = 0; i < G_N_ELEMENTS (candidates); i++)
    if (g_file_test (candidates[i], G_FILE_TEST_EXISTS))
      return g_strdup (candidates[i]);
  return NULL;
}

/* A fresh SoftHSM2 token in its own folder (SOFTHSM2_CONF for this process);
 * NULL after a skip. */
static PpKeyStore *
softhsm_key_store (void)
{
  g_autofree char *module = find_softhsm_module ();
  g_autofree char *util = g_find_program_in_path ("softhsm2-util");
  g_autofree char *dir = NULL, *tokens = NULL, *conf = NULL, *conf_text = NULL, *err = NULL, *uri = NULL;
  g_autoptr(GError) error = NULL;
  const char *argv[] = { NULL, "--init-token", "--free", "--label", TOKEN, "--pin", USER_PIN,
                         "--so-pin", "8765", NULL };
  PpKeyStore *store;
  int status = -1;

  if (module == NULL || util == NULL)
    {
      g_test_skip ("SoftHSM2 is not installed (Debian package softhsm2)");
      return NULL;
    }
  dir = pp_test_make_tmpdir ();
  tokens = g_build_filename (dir, "tokens", NULL);
  conf = g_build_filename (dir, "softhsm2.conf", NULL);
  g_assert_cmpint (g_mkdir (tokens, 0700), ==, 0);
  conf_text = g_strdup_printf ("directories.tokendir = %s\nobjectstore.backend = file\nlog.level = ERROR\n", tokens);
  g_assert_true (g_file_set_contents (conf, conf_text, -1, NULL));
  g_setenv ("SOFTHSM2_CONF", conf, TRUE);
  argv[0] = util;
  g_assert_true (g_spawn_sync (NULL, (char **) argv, NULL, G_SPAWN_STDOUT_TO_DEV_NULL, NULL, NULL, NULL, &err,
                               &status, &error));
  g_assert_no_error (error);
  if (!g_spawn_check_wait_status (status, NULL))
    g_error ("softhsm2-util --init-token failed: %s", err);
  uri = g_strdup_printf ("pkcs11:token=" TOKEN "?module-path=%s", module);
  store = pp_key_store_pkcs11_new (uri, USER_PIN, &error);
  g_assert_no_error (error);
  return store;
}

static void
test_pkcs11_happy_path (void)
{
  g_autoptr(PpKeyStore) token = softhsm_key_store ();
  g_autoptr(GError) error = NULL;
  g_autoptr(GBytes) ct = NULL;
  g_autoptr(GBytes) rt = NULL;
  g_autoptr(GBytes) kt_kdh = NULL;
  g_autoptr(PpTr34ReceivedKey) received = NULL;
  g_autoptr(PpWorkOrder) order = NULL;
  Fixture fixture = { 0, }, *f = &fixture;
  gint64 id;

  if (token == NULL)
    return;
  fixture_set_up_with (f, token);
  g_assert_cmpstr (pp_key_store_get_backend_name (f->kh.base.key_store), ==, "pkcs11");
  id = make_order (f, 0, TRUE);
  bind_terminal (f, 0, id);
  ct = ct_krd (f, 0);
  rt = rt_krd (f, 0);
  kt_kdh = pp_key_host_issue_key_token (f->host, id, ct, rt, "alice", &error);
  g_assert_no_error (error);
  received = receive (f, 0, kt_kdh, &error);
  g_assert_no_error (error);
  g_assert_true (pp_key_host_confirm_kcv (f->host, id, received->kcv, "alice", &error));
  g_assert_no_error (error);
  order = pp_store_get_order (f->store, id, &error);
  g_assert_cmpint (order->state, ==, PP_WORK_ORDER_STATE_KEYED);
  /* The token's own check value of the TMK is the one the terminal reported. */
  {
    g_autofree char *kcv = pp_key_store_get_tmk_kcv (token, order->key_label, NULL, &error);

    g_assert_no_error (error);
    g_assert_cmpstr (kcv, ==, received->kcv);
  }
  fixture_tear_down (f, NULL);
}

int
main (int    argc,
      char **argv)
{
  g_test_init (&argc, &argv, NULL);

#define ADD(path, fn) g_test_add (path, Fixture, NULL, fixture_set_up, fn, fixture_tear_down)
  ADD ("/key-host/happy-path", test_happy_path);
  ADD ("/key-host/profile-per-model", test_profile_per_model);
  ADD ("/key-host/refuse/no-approval", test_no_approval);
  ADD ("/key-host/refuse/self-approval", test_self_approval);
  ADD ("/key-host/refuse/approver-role", test_approver_role);
  ADD ("/key-host/refuse/approval-void", test_approval_void);
  ADD ("/key-host/refuse/other-certificate", test_other_certificate);
  ADD ("/key-host/refuse/chain", test_chain);
  ADD ("/key-host/refuse/expired", test_expired);
  ADD ("/key-host/refuse/wrong-serial", test_wrong_serial);
  ADD ("/key-host/refuse/bad-tokens", test_bad_tokens);
  ADD ("/key-host/refuse/nonce-replay", test_nonce_replay);
  ADD ("/key-host/refuse/duplicate-key", test_duplicate_key);
  ADD ("/key-host/refuse/kcv-mismatch", test_kcv_mismatch);
  ADD ("/key-host/config", test_config);
  ADD ("/key-host/fingerprint-key-checked", test_fingerprint_key_checked);
#undef ADD
  g_test_add_func ("/key-host/pkcs11/happy-path", test_pkcs11_happy_path);
  return g_test_run ();
}
