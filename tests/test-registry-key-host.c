/* SPDX-License-Identifier: GPL-3.0-or-later
 *
 * test-registry-key-host.c: the key host and the one-time codes wired into
 * PpRegistryLocal (pp_registry_local_new_with_key_store), through the
 * PpRegistry interface only, on a real SQLite file and a real soft key
 * store, with the real core/tr34 KRD in the terminal's place: the whole key
 * load from order to keyed, idempotent replays of the key-host verbs, the
 * key host's refusals as PP_REGISTRY_ERROR codes with its message, the OTP
 * on approval requests, users and the open's refusals.
 */
#include "config.h"

#include <string.h>

#include <sqlite3.h>

#include "pp-key-host-fixture.h"
#include "pp-openssl-types.h"
#include "pp-registry-local.h"
#include "pp-test-util.h"
#include "pp-totp.h"
#include "pp-tr34.h"

#define KEY_STORE_PASSPHRASE "fixture key store passphrase"

static const PpTerminalIntake terminals[] = {
  { "KH-0001", "PAX", "A920" },
  { "KH-0002", "Sunmi", "P2" },
};

typedef struct {
  PpKeyHostFixture kh;
  char *keys_dir;
  PpRegistry *registry;
  X509 *cert[2];
  PpTr34Krd *krd[2];
  PpTr34KrdState *state[2];
} Fixture;

static void
fixture_set_up (Fixture       *f,
                gconstpointer  data)
{
  g_autoptr(GError) error = NULL;

  pp_key_host_fixture_set_up (&f->kh, terminals, G_N_ELEMENTS (terminals));
  f->keys_dir = g_build_filename (f->kh.base.dir, "keys", NULL);
  for (guint i = 0; i < G_N_ELEMENTS (terminals); i++)
    {
      g_autofree char *fp = NULL;

      f->cert[i] = pp_key_host_fixture_make_krd_cert (&f->kh, terminals[i].serial, f->kh.pki->krd_key,
                                                      NULL, NULL, 2021, 2040);
      fp = pp_key_host_fixture_cert_fingerprint (f->cert[i]);
      g_assert_true (pp_store_set_terminal_certificate (f->kh.base.store, terminals[i].serial, fp, "carol",
                                                        &error));
      g_assert_no_error (error);
      f->krd[i] = pp_tr34_krd_new (f->cert[i], f->kh.pki->krd_key);
      pp_tr34_krd_add_trusted (f->krd[i], f->kh.pki->root);
      pp_tr34_krd_add_trusted (f->krd[i], f->kh.pki->ca_kdh);
      f->state[i] = pp_tr34_krd_state_new ();
    }
  f->registry = PP_REGISTRY (pp_registry_local_new_with_key_store (f->kh.base.path, f->keys_dir,
                                                                   KEY_STORE_PASSPHRASE, &error));
  g_assert_no_error (error);
  g_assert_nonnull (f->registry);
}

static void
fixture_tear_down (Fixture       *f,
                   gconstpointer  data)
{
  if (f->registry != NULL)
    pp_registry_local_close (PP_REGISTRY_LOCAL (f->registry));
  g_clear_object (&f->registry);
  for (guint i = 0; i < G_N_ELEMENTS (terminals); i++)
    {
      g_clear_pointer (&f->cert[i], X509_free);
      g_clear_pointer (&f->krd[i], pp_tr34_krd_unref);
      g_clear_pointer (&f->state[i], pp_tr34_krd_state_unref);
    }
  g_free (f->keys_dir);
  pp_key_host_fixture_tear_down (&f->kh);
}

/* ---- calls to their end ---- */

static void
got_result (GObject      *source,
            GAsyncResult *result,
            gpointer      data)
{
  GAsyncResult **slot = data;

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

static PpWorkOrder *
create_order (Fixture *f,
              guint    i)
{
  g_autoptr(GAsyncResult) res = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *key = KEY ();
  PpWorkOrder *order;

  pp_registry_create_install_order_async (f->registry, terminals[i].serial, f->kh.base.merchant_id, "1.0.0",
                                          PP_TMK_AES_128, "alice", key, NULL, got_result, &res);
  order = pp_registry_create_install_order_finish (f->registry, wait_for (&res), &error);
  g_assert_no_error (error);
  return order;
}

static PpRegistryApproval *
request_approval (Fixture     *f,
                  const char  *order_uuid,
                  const char  *scanned,
                  const char  *otp,
                  const char  *key,
                  GError     **error)
{
  g_autoptr(GAsyncResult) res = NULL;

  pp_registry_request_approval_async (f->registry, order_uuid, scanned, otp, "alice", key, NULL,
                                      got_result, &res);
  return pp_registry_request_approval_finish (f->registry, wait_for (&res), error);
}

static PpRegistryApproval *
decide (Fixture    *f,
        const char *approval_uuid,
        gboolean    approve)
{
  g_autoptr(GAsyncResult) res = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *key = KEY ();
  PpRegistryApproval *approval;

  pp_registry_decide_approval_async (f->registry, approval_uuid, approve, "seen on site", "bob", key, NULL,
                                     got_result, &res);
  approval = pp_registry_decide_approval_finish (f->registry, wait_for (&res), &error);
  g_assert_no_error (error);
  return approval;
}

/* An install order for terminal @i, requested by alice (scanned serial in
 * lower case) and approved by bob when @approve. */
static PpWorkOrder *
approved_order (Fixture  *f,
                guint     i,
                gboolean  approve)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(PpRegistryApproval) request = NULL;
  g_autoptr(PpRegistryApproval) decided = NULL;
  g_autofree char *key = KEY ();
  g_autofree char *scanned = g_ascii_strdown (terminals[i].serial, -1);
  PpWorkOrder *order = create_order (f, i);

  request = request_approval (f, order->uuid, scanned, NULL, key, &error);
  g_assert_no_error (error);
  g_assert_cmpint (request->state, ==, PP_REGISTRY_APPROVAL_PENDING);
  if (approve)
    {
      decided = decide (f, request->uuid, TRUE);
      g_assert_cmpint (decided->state, ==, PP_REGISTRY_APPROVAL_APPROVED);
    }
  return order;
}

static GBytes *
ct_kdh (Fixture     *f,
        const char  *order_uuid,
        const char  *key,
        GError     **error)
{
  g_autoptr(GAsyncResult) res = NULL;

  pp_registry_issue_kdh_credential_async (f->registry, order_uuid, "alice", key, NULL, got_result, &res);
  return pp_registry_issue_kdh_credential_finish (f->registry, wait_for (&res), error);
}

static GBytes *
key_token (Fixture     *f,
           const char  *order_uuid,
           GBytes      *ct,
           GBytes      *rt,
           const char  *key,
           GError     **error)
{
  g_autoptr(GAsyncResult) res = NULL;

  pp_registry_issue_key_token_async (f->registry, order_uuid, ct, rt, "alice", key, NULL, got_result, &res);
  return pp_registry_issue_key_token_finish (f->registry, wait_for (&res), error);
}

static PpWorkOrder *
confirm_kcv (Fixture     *f,
             const char  *order_uuid,
             const char  *kcv,
             const char  *key,
             GError     **error)
{
  g_autoptr(GAsyncResult) res = NULL;

  pp_registry_confirm_kcv_async (f->registry, order_uuid, kcv, "alice", key, NULL, got_result, &res);
  return pp_registry_confirm_kcv_finish (f->registry, wait_for (&res), error);
}

static PpWorkOrder *
get_order (Fixture    *f,
           const char *uuid)
{
  g_autoptr(GAsyncResult) res = NULL;
  g_autoptr(GError) error = NULL;
  PpWorkOrder *order;

  pp_registry_get_order_async (f->registry, uuid, NULL, got_result, &res);
  order = pp_registry_get_order_finish (f->registry, wait_for (&res), &error);
  g_assert_no_error (error);
  return order;
}

static GBytes *
rt_krd (Fixture *f,
        guint    i)
{
  g_autoptr(GBytes) nonce = pp_tr34_krd_state_issue_nonce (f->state[i], 16);

  return pp_tr34_build_random_token (nonce);
}

static guint
count_entries (Fixture    *f,
               const char *action)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) entries = pp_store_list_audit (f->kh.base.store, 0, G_MAXUINT, &error);
  guint n = 0;

  g_assert_no_error (error);
  for (guint i = 0; i < entries->len; i++)
    n += g_str_equal (((PpAuditEntry *) g_ptr_array_index (entries, i))->action, action);
  return n;
}

/* The last journal entry's action and detail. */
static void
assert_last_entry (Fixture    *f,
                   const char *action,
                   const char *detail_part)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) entries = pp_store_list_audit (f->kh.base.store, 0, G_MAXUINT, &error);
  PpAuditEntry *last;

  g_assert_no_error (error);
  g_assert_cmpuint (entries->len, >, 0);
  last = g_ptr_array_index (entries, entries->len - 1);
  g_assert_cmpstr (last->action, ==, action);
  if (detail_part != NULL)
    g_assert_nonnull (strstr (last->detail, detail_part));
}

/* ---- the whole key load ---- */

static void
test_whole_load (Fixture       *f,
                 gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(PpWorkOrder) order = approved_order (f, 0, TRUE);
  g_autoptr(PpWorkOrder) keyed = NULL;
  g_autoptr(PpWorkOrder) again_order = NULL;
  g_autoptr(GBytes) cert = NULL;
  g_autoptr(GBytes) crl = NULL;
  g_autoptr(GBytes) ct = NULL;
  g_autoptr(GBytes) ct_again = NULL;
  g_autoptr(GBytes) krd_ct = pp_key_host_fixture_ct_krd (f->cert[0]);
  g_autoptr(GBytes) rt = rt_krd (f, 0);
  g_autoptr(GBytes) kt = NULL;
  g_autoptr(GBytes) kt_again = NULL;
  g_autoptr(PpTr34ReceivedKey) received = NULL;
  g_autoptr(X509) kdh = NULL;
  g_autoptr(GAsyncResult) res = NULL;
  g_autofree char *ct_key = KEY ();
  g_autofree char *kt_key = KEY ();
  g_autofree char *kcv_key = KEY ();
  g_autofree char *lower_kcv = NULL;
  unsigned char *der = NULL;
  int der_len;

  /* The KDH as the terminal's station fetches it. */
  pp_registry_get_kdh_async (f->registry, NULL, got_result, &res);
  g_assert_true (pp_registry_get_kdh_finish (f->registry, wait_for (&res), &cert, &crl, &error));
  g_assert_no_error (error);
  der_len = i2d_X509 (f->kh.kdh_cert, &der);
  g_assert_cmpmem (g_bytes_get_data (cert, NULL), g_bytes_get_size (cert), der, der_len);
  OPENSSL_free (der);
  g_assert_nonnull (crl);

  /* CT_KDH binds the terminal to the KDH. */
  ct = ct_kdh (f, order->uuid, ct_key, &error);
  g_assert_no_error (error);
  kdh = pp_tr34_krd_receive_credential_token (f->krd[0], g_bytes_get_data (ct, NULL), g_bytes_get_size (ct),
                                              &error);
  g_assert_no_error (error);
  g_assert_cmpint (X509_cmp (kdh, f->kh.kdh_cert), ==, 0);
  g_assert_cmpuint (count_entries (f, "keyhost.ct_kdh"), ==, 1);
  /* A replay: the same token, the key host not asked again. */
  ct_again = ct_kdh (f, order->uuid, ct_key, &error);
  g_assert_no_error (error);
  g_assert_true (g_bytes_equal (ct, ct_again));
  g_assert_cmpuint (count_entries (f, "keyhost.ct_kdh"), ==, 1);

  /* KT_KDH for the terminal's CT_KRD and RT_KRD; the terminal unwraps it. */
  kt = key_token (f, order->uuid, krd_ct, rt, kt_key, &error);
  g_assert_no_error (error);
  received = pp_tr34_krd_receive_key_token (f->krd[0], f->state[0], g_bytes_get_data (kt, NULL),
                                            g_bytes_get_size (kt), &error);
  g_assert_no_error (error);
  g_assert_cmpuint (pp_secure_buffer_get_len (received->key), ==, 16);
  g_assert_cmpuint (count_entries (f, "order.key_released"), ==, 1);
  /* A replay returns the first token and releases no second key (the
   * nonce would be refused if the key host were asked again). */
  kt_again = key_token (f, order->uuid, krd_ct, rt, kt_key, &error);
  g_assert_no_error (error);
  g_assert_true (g_bytes_equal (kt, kt_again));
  g_assert_cmpuint (count_entries (f, "order.key_released"), ==, 1);
  g_assert_cmpuint (count_entries (f, "keyhost.refused"), ==, 0);

  /* The terminal's KCV (any case) keys the order; a replay too, once. */
  lower_kcv = g_ascii_strdown (received->kcv, -1);
  keyed = confirm_kcv (f, order->uuid, lower_kcv, kcv_key, &error);
  g_assert_no_error (error);
  g_assert_cmpint (keyed->state, ==, PP_WORK_ORDER_STATE_KEYED);
  g_assert_cmpstr (keyed->kcv, ==, received->kcv);
  again_order = confirm_kcv (f, order->uuid, lower_kcv, kcv_key, &error);
  g_assert_no_error (error);
  g_assert_cmpint (again_order->state, ==, PP_WORK_ORDER_STATE_KEYED);
  g_assert_cmpuint (count_entries (f, "order.keyed"), ==, 1);
  g_clear_pointer (&again_order, pp_work_order_free);
  again_order = get_order (f, order->uuid);
  g_assert_cmpint (again_order->state, ==, PP_WORK_ORDER_STATE_KEYED);

  /* A keyed order gets no second key: the key host's STATE as CONFLICT,
   * with its message, journalled. */
  {
    g_autoptr(GBytes) rt2 = rt_krd (f, 0);
    g_autofree char *key = KEY ();
    g_autoptr(GBytes) none = key_token (f, order->uuid, krd_ct, rt2, key, &error);

    g_assert_null (none);
    g_assert_error (error, PP_REGISTRY_ERROR, PP_REGISTRY_ERROR_CONFLICT);
    g_assert_nonnull (strstr (error->message, "a key is released only for an approved order"));
    assert_last_entry (f, "keyhost.refused", "\"code\":\"state\"");
  }
}

/* Each refusal of the key host, as the registry reports it. */
static void
test_refusals (Fixture       *f,
               gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(PpWorkOrder) open = approved_order (f, 0, FALSE);
  g_autoptr(PpWorkOrder) order = approved_order (f, 1, TRUE);
  g_autoptr(GBytes) ct0 = pp_key_host_fixture_ct_krd (f->cert[0]);
  g_autoptr(GBytes) ct1 = pp_key_host_fixture_ct_krd (f->cert[1]);
  g_autoptr(GBytes) rt = rt_krd (f, 1);
  g_autoptr(GBytes) kt = NULL;
  g_autoptr(PpTr34ReceivedKey) received = NULL;
  g_autofree char *key = NULL;

  /* No approval yet: NO_APPROVAL, and the failed call recorded nothing
   * under its key, so the same key works once approved. */
  key = KEY ();
  g_assert_null (ct_kdh (f, open->uuid, key, &error));
  g_assert_error (error, PP_REGISTRY_ERROR, PP_REGISTRY_ERROR_NO_APPROVAL);
  g_assert_cmpstr (error->message, !=, "");
  assert_last_entry (f, "keyhost.refused", "\"code\":\"no_approval\"");
  g_clear_error (&error);
  g_clear_pointer (&key, g_free);

  /* Another terminal's CT_KRD: TOKEN_REJECTED. */
  key = KEY ();
  g_assert_null (key_token (f, order->uuid, ct0, rt, key, &error));
  g_assert_error (error, PP_REGISTRY_ERROR, PP_REGISTRY_ERROR_TOKEN_REJECTED);
  assert_last_entry (f, "keyhost.refused", "\"code\":\"wrong_serial\"");
  g_clear_error (&error);

  /* Not DER: TOKEN_REJECTED (bad_token). */
  {
    g_autoptr(GBytes) junk = g_bytes_new_static ("not a token", 11);
    g_autofree char *k = KEY ();

    g_assert_null (key_token (f, order->uuid, junk, rt, k, &error));
    g_assert_error (error, PP_REGISTRY_ERROR, PP_REGISTRY_ERROR_TOKEN_REJECTED);
    assert_last_entry (f, "keyhost.refused", "\"code\":\"bad_token\"");
    g_clear_error (&error);
  }

  /* The right tokens under the same key as the refused call: accepted. */
  kt = key_token (f, order->uuid, ct1, rt, key, &error);
  g_assert_no_error (error);
  received = pp_tr34_krd_receive_key_token (f->krd[1], f->state[1], g_bytes_get_data (kt, NULL),
                                            g_bytes_get_size (kt), &error);
  g_assert_no_error (error);

  /* The same nonce under a new key: NONCE_REUSED as TOKEN_REJECTED. */
  {
    g_autofree char *k = KEY ();

    g_assert_null (key_token (f, order->uuid, ct1, rt, k, &error));
    g_assert_error (error, PP_REGISTRY_ERROR, PP_REGISTRY_ERROR_TOKEN_REJECTED);
    assert_last_entry (f, "keyhost.refused", "\"code\":\"nonce_reused\"");
    g_clear_error (&error);
  }

  /* The same key for other arguments: KEY_REUSED, nothing asked. */
  {
    g_autoptr(GBytes) rt2 = rt_krd (f, 1);
    guint refused = count_entries (f, "keyhost.refused");

    g_assert_null (key_token (f, order->uuid, ct1, rt2, key, &error));
    g_assert_error (error, PP_REGISTRY_ERROR, PP_REGISTRY_ERROR_KEY_REUSED);
    g_assert_cmpuint (count_entries (f, "keyhost.refused"), ==, refused);
    g_clear_error (&error);
  }

  /* A wrong KCV: KCV_MISMATCH, the order stays approved. */
  {
    g_autofree char *k = KEY ();
    g_autoptr(PpWorkOrder) none = confirm_kcv (f, order->uuid, "000000", k, &error);
    g_autoptr(PpWorkOrder) still = NULL;

    g_assert_null (none);
    g_assert_error (error, PP_REGISTRY_ERROR, PP_REGISTRY_ERROR_KCV_MISMATCH);
    g_clear_error (&error);
    still = get_order (f, order->uuid);
    g_assert_cmpint (still->state, ==, PP_WORK_ORDER_STATE_APPROVED);
  }

  /* An unknown order: NOT_FOUND. */
  {
    g_autofree char *k = KEY ();
    g_autofree char *nobody = KEY ();

    g_assert_null (ct_kdh (f, nobody, k, &error));
    g_assert_error (error, PP_REGISTRY_ERROR, PP_REGISTRY_ERROR_NOT_FOUND);
  }
}

/* ---- one-time codes on the approval request ---- */

static PpSecureBuffer *
enroll (Fixture     *f,
        const char  *user,
        const char  *actor,
        GError     **error)
{
  g_autoptr(GAsyncResult) res = NULL;

  pp_registry_enroll_otp_async (f->registry, user, actor, NULL, got_result, &res);
  return pp_registry_enroll_otp_finish (f->registry, wait_for (&res), error);
}

/* The secret of an otpauth:// URI. */
static PpSecureBuffer *
uri_secret (const PpSecureBuffer *uri)
{
  const char *text = (const char *) pp_secure_buffer_peek (uri);
  const char *start = strstr (text, "secret=");
  g_autofree char *b32 = NULL;
  g_autoptr(GError) error = NULL;
  PpSecureBuffer *secret;

  g_assert_nonnull (start);
  start += strlen ("secret=");
  b32 = g_strndup (start, strcspn (start, "&"));
  secret = pp_base32_decode (b32, &error);
  g_assert_no_error (error);
  return secret;
}

static void
code_at (const PpSecureBuffer *secret,
         gint64                step,
         char                  out[9])
{
  g_autoptr(GError) error = NULL;

  g_assert_true (pp_totp_code (secret, PP_TOTP_SHA1, PP_TOTP_DEFAULT_DIGITS, step, out, &error));
  g_assert_no_error (error);
}

static void
test_otp (Fixture       *f,
          gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(PpSecureBuffer) uri = NULL;
  g_autoptr(PpSecureBuffer) secret = NULL;
  g_autoptr(PpWorkOrder) order = create_order (f, 0);
  g_autoptr(PpWorkOrder) order2 = create_order (f, 1);
  g_autoptr(PpRegistryApproval) approval = NULL;
  g_autoptr(PpRegistryApproval) replayed = NULL;
  g_autofree char *key = KEY ();
  gint64 step = pp_totp_step (g_get_real_time () / G_USEC_PER_SEC, PP_TOTP_DEFAULT_PERIOD);
  char good[9], wrong[9];

  /* bob may not enrol alice; alice enrols herself. */
  g_assert_null (enroll (f, "alice", "bob", &error));
  g_assert_error (error, PP_REGISTRY_ERROR, PP_REGISTRY_ERROR_PERMISSION);
  g_clear_error (&error);
  uri = enroll (f, "alice", "alice", &error);
  g_assert_no_error (error);
  g_assert_true (g_str_has_prefix ((const char *) pp_secure_buffer_peek (uri), "otpauth://totp/posprov:alice?"));
  secret = uri_secret (uri);
  code_at (secret, step, good);
  /* A code of no step in the window. */
  code_at (secret, step + 5, wrong);
  if (g_str_equal (wrong, good))
    code_at (secret, step + 7, wrong);

  /* Without a code: PERMISSION, no request. */
  g_assert_null (request_approval (f, order->uuid, NULL, NULL, key, &error));
  g_assert_error (error, PP_REGISTRY_ERROR, PP_REGISTRY_ERROR_PERMISSION);
  g_assert_nonnull (strstr (error->message, "one-time code"));
  g_clear_error (&error);
  /* A wrong code: PERMISSION, journalled. */
  g_assert_null (request_approval (f, order->uuid, NULL, wrong, key, &error));
  g_assert_error (error, PP_REGISTRY_ERROR, PP_REGISTRY_ERROR_PERMISSION);
  assert_last_entry (f, "user.otp_failed", "wrong_code");
  g_clear_error (&error);
  g_assert_cmpuint (count_entries (f, "approval.request"), ==, 0);

  /* The good code: the request is made (the failed calls used the key for
   * nothing). */
  approval = request_approval (f, order->uuid, "KH-0001", good, key, &error);
  g_assert_no_error (error);
  g_assert_cmpint (approval->state, ==, PP_REGISTRY_APPROVAL_PENDING);
  g_assert_cmpuint (count_entries (f, "approval.request"), ==, 1);
  /* A replay of that request (same key) returns it without a second check. */
  replayed = request_approval (f, order->uuid, "KH-0001", good, key, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (replayed->uuid, ==, approval->uuid);
  g_assert_cmpuint (count_entries (f, "approval.request"), ==, 1);

  /* The same code again for another order: replayed, refused, journalled. */
  {
    g_autofree char *k = KEY ();

    g_assert_null (request_approval (f, order2->uuid, NULL, good, k, &error));
    g_assert_error (error, PP_REGISTRY_ERROR, PP_REGISTRY_ERROR_PERMISSION);
    assert_last_entry (f, "user.otp_failed", "replayed");
    g_clear_error (&error);
  }
  /* The next step's code is good (the window allows one step ahead). */
  {
    g_autofree char *k = KEY ();
    g_autoptr(PpRegistryApproval) second = NULL;
    char next[9];

    code_at (secret, step + 1, next);
    second = request_approval (f, order2->uuid, NULL, next, k, &error);
    g_assert_no_error (error);
    g_assert_cmpint (second->state, ==, PP_REGISTRY_APPROVAL_PENDING);
  }

  /* A registry opened without the key store cannot check it. */
  {
    g_autoptr(PpRegistry) bare = PP_REGISTRY (pp_registry_local_new (f->kh.base.path, &error));
    g_autoptr(GAsyncResult) res = NULL;
    g_autofree char *k = KEY ();
    g_autoptr(PpRegistryApproval) none = NULL;
    g_autoptr(PpWorkOrder) cancelled = NULL;

    g_assert_no_error (error);
    {
      g_autoptr(GAsyncResult) cres = NULL;
      g_autofree char *ck = KEY ();

      pp_registry_cancel_order_async (bare, order2->uuid, "again", "alice", ck, NULL, got_result, &cres);
      cancelled = pp_registry_cancel_order_finish (bare, wait_for (&cres), &error);
      g_assert_no_error (error);
    }
    pp_registry_request_approval_async (bare, order->uuid, NULL, good, "alice", k, NULL, got_result, &res);
    none = pp_registry_request_approval_finish (bare, wait_for (&res), &error);
    g_assert_null (none);
    g_assert_error (error, PP_REGISTRY_ERROR, PP_REGISTRY_ERROR_NO_KEY_HOST);
    g_clear_error (&error);
    g_clear_object (&res);
    pp_registry_enroll_otp_async (bare, "alice", "alice", NULL, got_result, &res);
    g_assert_null (pp_registry_enroll_otp_finish (bare, wait_for (&res), &error));
    g_assert_error (error, PP_REGISTRY_ERROR, PP_REGISTRY_ERROR_NO_KEY_HOST);
  }
}

/* ---- users and signing in ---- */

static PpUser *
add_user (Fixture     *f,
          const char  *name,
          const char  *password,
          const char  *actor,
          const char  *key,
          GError     **error)
{
  g_autoptr(GAsyncResult) res = NULL;

  pp_registry_add_user_async (f->registry, name, PP_USER_ROLE_REVIEWER, password, actor, key, NULL,
                              got_result, &res);
  return pp_registry_add_user_finish (f->registry, wait_for (&res), error);
}

static void
test_users (Fixture       *f,
            gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(PpUser) user = NULL;
  g_autoptr(PpUser) again = NULL;
  g_autoptr(PpUser) signed_in = NULL;
  g_autoptr(GAsyncResult) res = NULL;
  g_autofree char *key = KEY ();
  g_autofree char *wal = g_strconcat (f->kh.base.path, "-wal", NULL);
  g_autofree char *db = NULL;
  g_autofree char *wal_text = NULL;
  gsize db_len = 0, wal_len = 0;
  const char *password = PP_TEST_PASSWORD ("d1");

  /* Only an administrator adds users; a weak password is INVALID. */
  g_assert_null (add_user (f, "dora", password, "alice", key, &error));
  g_assert_error (error, PP_REGISTRY_ERROR, PP_REGISTRY_ERROR_PERMISSION);
  g_clear_error (&error);
  g_assert_null (add_user (f, "dora", "short", "carol", key, &error));
  g_assert_error (error, PP_REGISTRY_ERROR, PP_REGISTRY_ERROR_INVALID);
  g_clear_error (&error);

  user = add_user (f, "Dora", password, "carol", key, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (user->username, ==, "dora");
  g_assert_cmpint (user->role, ==, PP_USER_ROLE_REVIEWER);
  /* A replay adds no second one (the password is not in the digest). */
  again = add_user (f, "Dora", PP_TEST_PASSWORD ("other"), "carol", key, &error);
  g_assert_no_error (error);
  g_assert_cmpint (again->id, ==, user->id);
  g_assert_cmpuint (count_entries (f, "user.add"), ==, 5);

  /* The password is nowhere in the files. */
  g_assert_true (g_file_get_contents (f->kh.base.path, &db, &db_len, NULL));
  g_assert_null (g_strstr_len (db, db_len, password));
  if (g_file_get_contents (wal, &wal_text, &wal_len, NULL))
    g_assert_null (g_strstr_len (wal_text, wal_len, password));

  /* Signing in. */
  pp_registry_authenticate_async (f->registry, "dora", password, NULL, got_result, &res);
  signed_in = pp_registry_authenticate_finish (f->registry, wait_for (&res), &error);
  g_assert_no_error (error);
  g_assert_cmpstr (signed_in->username, ==, "dora");
  g_clear_object (&res);
  pp_registry_authenticate_async (f->registry, "dora", "wrong password!!", NULL, got_result, &res);
  g_assert_null (pp_registry_authenticate_finish (f->registry, wait_for (&res), &error));
  g_assert_error (error, PP_REGISTRY_ERROR, PP_REGISTRY_ERROR_PERMISSION);
  assert_last_entry (f, "user.login_failed", NULL);
}

/* The station's sign-in: the password, then the code where one is enrolled. */
static PpUser *
sign_in (PpRegistry  *registry,
         const char  *user,
         const char  *password,
         const char  *otp,
         GError     **error)
{
  g_autoptr(GAsyncResult) res = NULL;

  pp_registry_authenticate_otp_async (registry, user, password, otp, NULL, got_result, &res);
  return pp_registry_authenticate_otp_finish (registry, wait_for (&res), error);
}

static void
test_sign_in_otp (Fixture       *f,
                  gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(PpSecureBuffer) uri = NULL;
  g_autoptr(PpSecureBuffer) secret = NULL;
  g_autoptr(PpUser) user = NULL;
  g_autoptr(PpUser) bob = NULL;
  g_autoptr(PpUser) plain = NULL;
  gint64 step = pp_totp_step (g_get_real_time () / G_USEC_PER_SEC, PP_TOTP_DEFAULT_PERIOD);
  const char *password = PP_TEST_PASSWORD ("0");
  guint failed_before;
  char good[9], wrong[9], next[9];

  /* No code enrolled: the password alone, whatever code comes along. */
  bob = sign_in (f->registry, "bob", password, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (bob->username, ==, "bob");
  g_clear_pointer (&bob, pp_user_free);
  bob = sign_in (f->registry, "bob", password, "123456", &error);
  g_assert_no_error (error);

  uri = enroll (f, "alice", "alice", &error);
  g_assert_no_error (error);
  secret = uri_secret (uri);
  code_at (secret, step, good);
  code_at (secret, step + 1, next);
  code_at (secret, step + 5, wrong);
  if (g_str_equal (wrong, good) || g_str_equal (wrong, next))
    code_at (secret, step + 7, wrong);

  /* A wrong password says nothing about the code. */
  g_assert_null (sign_in (f->registry, "alice", "wrong password!!", NULL, &error));
  g_assert_error (error, PP_REGISTRY_ERROR, PP_REGISTRY_ERROR_PERMISSION);
  assert_last_entry (f, "user.login_failed", NULL);
  g_clear_error (&error);
  g_assert_null (sign_in (f->registry, "alice", "wrong password!!", good, &error));
  g_assert_error (error, PP_REGISTRY_ERROR, PP_REGISTRY_ERROR_PERMISSION);
  g_clear_error (&error);

  /* The right password without a code: the second step is asked for. */
  failed_before = count_entries (f, "user.otp_failed");
  g_assert_null (sign_in (f->registry, "alice", password, NULL, &error));
  g_assert_error (error, PP_REGISTRY_ERROR, PP_REGISTRY_ERROR_OTP_REQUIRED);
  g_assert_nonnull (strstr (error->message, "6 digits"));
  g_clear_error (&error);
  g_assert_null (sign_in (f->registry, "alice", password, "", &error));
  g_assert_error (error, PP_REGISTRY_ERROR, PP_REGISTRY_ERROR_OTP_REQUIRED);
  g_clear_error (&error);
  g_assert_cmpuint (count_entries (f, "user.otp_failed"), ==, failed_before);

  /* A wrong code: refused, with what to do, and journalled. */
  g_assert_null (sign_in (f->registry, "alice", password, wrong, &error));
  g_assert_error (error, PP_REGISTRY_ERROR, PP_REGISTRY_ERROR_PERMISSION);
  g_assert_nonnull (strstr (error->message, "next code"));
  assert_last_entry (f, "user.otp_failed", "wrong_code");
  g_clear_error (&error);

  /* The good code signs in; the same code again is a replay. */
  user = sign_in (f->registry, "alice", password, good, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (user->username, ==, "alice");
  g_assert_cmpint (user->role, ==, PP_USER_ROLE_FIELD_MANAGER);
  g_assert_null (sign_in (f->registry, "alice", password, good, &error));
  g_assert_error (error, PP_REGISTRY_ERROR, PP_REGISTRY_ERROR_PERMISSION);
  assert_last_entry (f, "user.otp_failed", "replayed");
  g_clear_error (&error);
  g_assert_cmpuint (count_entries (f, "user.otp_failed"), ==, failed_before + 2);

  /* The password-only check is unchanged (posprov-tool's callers). */
  {
    g_autoptr(GAsyncResult) res = NULL;

    pp_registry_authenticate_async (f->registry, "alice", password, NULL, got_result, &res);
    plain = pp_registry_authenticate_finish (f->registry, wait_for (&res), &error);
  }
  g_assert_no_error (error);
  g_assert_cmpstr (plain->username, ==, "alice");

  /* A registry without its key store cannot check the code. */
  {
    g_autoptr(PpRegistry) bare = PP_REGISTRY (pp_registry_local_new (f->kh.base.path, &error));

    g_assert_no_error (error);
    g_assert_null (sign_in (bare, "alice", password, next, &error));
    g_assert_error (error, PP_REGISTRY_ERROR, PP_REGISTRY_ERROR_NO_KEY_HOST);
  }
}

/* ---- opening ---- */

static void
test_open_refused (Fixture       *f,
                   gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *empty = g_build_filename (f->kh.base.dir, "other-keys", NULL);
  PpRegistryLocal *registry;

  /* A key store without the KDH key the store's key host names. */
  registry = pp_registry_local_new_with_key_store (f->kh.base.path, empty, KEY_STORE_PASSPHRASE, &error);
  g_assert_null (registry);
  g_assert_error (error, PP_REGISTRY_ERROR, PP_REGISTRY_ERROR_NO_KEY_HOST);
  g_clear_error (&error);

  /* The right key store with a wrong passphrase. */
  registry = pp_registry_local_new_with_key_store (f->kh.base.path, f->keys_dir, "not the passphrase", &error);
  g_assert_null (registry);
  g_assert_error (error, PP_REGISTRY_ERROR, PP_REGISTRY_ERROR_NO_KEY_HOST);
}

/* A store without a key host configured: the key store still serves the
 * one-time codes; the key-host verbs say NO_KEY_HOST. */
static void
test_no_config (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(PpRegistry) registry = NULL;
  g_autoptr(PpSecureBuffer) uri = NULL;
  g_autoptr(GAsyncResult) res = NULL;
  g_autoptr(GBytes) cert = NULL;
  g_autoptr(GBytes) crl = NULL;
  PpStoreFixture sf;
  g_autofree char *keys = NULL;

  pp_store_fixture_set_up (&sf, terminals, G_N_ELEMENTS (terminals), "carol");
  keys = g_build_filename (sf.dir, "keys", NULL);
  registry = PP_REGISTRY (pp_registry_local_new_with_key_store (sf.path, keys, KEY_STORE_PASSPHRASE, &error));
  g_assert_no_error (error);
  pp_registry_enroll_otp_async (registry, "alice", "carol", NULL, got_result, &res);
  uri = pp_registry_enroll_otp_finish (registry, wait_for (&res), &error);
  g_assert_no_error (error);
  g_assert_nonnull (uri);
  g_clear_object (&res);
  pp_registry_get_kdh_async (registry, NULL, got_result, &res);
  g_assert_false (pp_registry_get_kdh_finish (registry, wait_for (&res), &cert, &crl, &error));
  g_assert_error (error, PP_REGISTRY_ERROR, PP_REGISTRY_ERROR_NO_KEY_HOST);
  pp_registry_local_close (PP_REGISTRY_LOCAL (registry));
  g_clear_object (&registry);
  pp_store_fixture_tear_down (&sf);
}

int
main (int    argc,
      char **argv)
{
  g_test_init (&argc, &argv, NULL);

#define ADD(path, func) \
  g_test_add (path, Fixture, NULL, fixture_set_up, func, fixture_tear_down)
  ADD ("/registry-key-host/whole-load", test_whole_load);
  ADD ("/registry-key-host/refusals", test_refusals);
  ADD ("/registry-key-host/otp", test_otp);
  ADD ("/registry-key-host/users", test_users);
  ADD ("/registry-key-host/sign-in-otp", test_sign_in_otp);
  ADD ("/registry-key-host/open-refused", test_open_refused);
  g_test_add_func ("/registry-key-host/no-config", test_no_config);

  return g_test_run ();
}
