/* SPDX-License-Identifier: GPL-3.0-or-later
 *
 * test-merchants.c: merchant field validation and merchant-terminal number
 * issuance (format, Luhn check digit, prefixes, uniqueness when two threads,
 * each with its own store on the same file, issue at once).
 */
#include "config.h"

#include <string.h>

#include "pp-mtn.h"
#include "pp-store.h"
#include "pp-test-util.h"

static const PpMerchantFields good = {
  .name = "Lucky Noodle House",
  .registration_number = "91310000MA1FL7XW2B",
  .address = "88 Nanjing Road, Shanghai",
  .mcc = "5812",
  .contact_name = "Li Wei",
  .contact_phone = "+86 138-0013-8000",
};

static PpStore *
open_store (char **out_path)
{
  g_autofree char *dir = pp_test_make_tmpdir ();
  g_autofree char *path = g_build_filename (dir, "store.db", NULL);
  g_autoptr(GError) error = NULL;
  PpStore *store = pp_store_open (path, &error);

  g_assert_no_error (error);
  if (out_path != NULL)
    *out_path = g_steal_pointer (&path);
  return store;
}

/* Written here independently of pp-mtn.c. */
static gboolean
luhn_ok (const char *digits)
{
  int sum = 0;
  gsize n = strlen (digits);

  for (gsize i = 0; i < n; i++)
    {
      int d = digits[n - 1 - i] - '0';
      if (i % 2 == 1)
        {
          d *= 2;
          if (d > 9)
            d -= 9;
        }
      sum += d;
    }
  return sum % 10 == 0;
}

static gboolean
all_digits (const char *s)
{
  for (; *s != '\0'; s++)
    if (!g_ascii_isdigit (*s))
      return FALSE;
  return TRUE;
}

static void
assert_mid (const char *mid,
            const char *prefix)
{
  g_assert_cmpuint (strlen (mid), ==, 15);
  g_assert_true (all_digits (mid));
  g_assert_true (g_str_has_prefix (mid, prefix));
  g_assert_true (luhn_ok (mid));
  g_assert_true (pp_mtn_validate_mid (mid, NULL));
}

static void
assert_tid (const char *tid,
            const char *prefix)
{
  g_assert_cmpuint (strlen (tid), ==, 8);
  g_assert_true (all_digits (tid));
  g_assert_true (g_str_has_prefix (tid, prefix));
  g_assert_true (luhn_ok (tid));
  g_assert_true (pp_mtn_validate_tid (tid, NULL));
}

typedef struct {
  const char *field;
  const char *value;
} BadField;

static void
test_merchant_validation (void)
{
  static const BadField bad[] = {
    { "name", "" },
    { "name", "   " },
    { "name", NULL },
    { "name", "Tab\tinside" },
    { "name", "\xff\xfe" },
    { "registration_number", "" },
    { "registration_number", "12345" },
    { "registration_number", "123456789012345678901234567890123" },
    { "registration_number", "9131 0000" },
    { "registration_number", "91310000_X" },
    { "address", "" },
    { "address", NULL },
    { "mcc", "" },
    { "mcc", "581" },
    { "mcc", "58120" },
    { "mcc", "58a2" },
    { "mcc", "-581" },
    { "contact_name", "" },
    { "contact_name", "\n" },
    { "contact_phone", "" },
    { "contact_phone", "12345" },
    { "contact_phone", "138 0013 800a" },
    { "contact_phone", "138+0013800" },
    { "contact_phone", "123456789012345678901" },
  };
  g_autoptr(PpStore) store = open_store (NULL);
  g_autofree char *long_name = g_strnfill (101, 'x');
  g_autofree char *max_name = g_strnfill (100, 'x');
  g_autofree char *long_address = g_strnfill (201, 'y');
  g_autoptr(GError) error = NULL;
  const char *bad_field = NULL;
  PpMerchantFields f;

  g_assert_true (pp_merchant_fields_validate (&good, &bad_field, &error));
  g_assert_no_error (error);
  g_assert_null (bad_field);

  for (guint i = 0; i < G_N_ELEMENTS (bad); i++)
    {
      g_autoptr(PpMerchant) m = NULL;

      f = good;
      if (g_str_equal (bad[i].field, "name"))
        f.name = bad[i].value;
      else if (g_str_equal (bad[i].field, "registration_number"))
        f.registration_number = bad[i].value;
      else if (g_str_equal (bad[i].field, "address"))
        f.address = bad[i].value;
      else if (g_str_equal (bad[i].field, "mcc"))
        f.mcc = bad[i].value;
      else if (g_str_equal (bad[i].field, "contact_name"))
        f.contact_name = bad[i].value;
      else
        f.contact_phone = bad[i].value;

      g_test_message ("bad %s", bad[i].field);
      g_assert_false (pp_merchant_fields_validate (&f, &bad_field, &error));
      g_assert_error (error, PP_STORE_ERROR, PP_STORE_ERROR_INVALID);
      g_assert_cmpstr (bad_field, ==, bad[i].field);
      g_assert_nonnull (strstr (error->message, bad[i].field));
      g_clear_error (&error);

      /* The store refuses the same and stores nothing. */
      m = pp_store_add_merchant (store, &f, "alice", &error);
      g_assert_null (m);
      g_assert_error (error, PP_STORE_ERROR, PP_STORE_ERROR_INVALID);
      g_assert_nonnull (strstr (error->message, bad[i].field));
      g_clear_error (&error);
    }

  f = good;
  f.name = long_name;
  g_assert_false (pp_merchant_fields_validate (&f, &bad_field, &error));
  g_assert_cmpstr (bad_field, ==, "name");
  g_clear_error (&error);
  f.name = max_name;
  g_assert_true (pp_merchant_fields_validate (&f, NULL, &error));
  f = good;
  f.address = long_address;
  g_assert_false (pp_merchant_fields_validate (&f, &bad_field, &error));
  g_assert_cmpstr (bad_field, ==, "address");
  g_clear_error (&error);
  /* Non-ASCII names are fine. */
  f = good;
  f.name = "幸运面馆";
  f.contact_name = "李伟";
  g_assert_true (pp_merchant_fields_validate (&f, NULL, &error));
  g_assert_no_error (error);

  {
    g_autoptr(GPtrArray) all = pp_store_list_merchants (store, &error);
    g_assert_no_error (error);
    g_assert_cmpuint (all->len, ==, 0);
  }
}

static void
test_merchant_add (void)
{
  g_autoptr(PpStore) store = open_store (NULL);
  g_autoptr(GError) error = NULL;
  g_autoptr(PpMerchant) m = NULL;
  g_autoptr(PpMerchant) again = NULL;
  g_autoptr(PpMerchant) by_mid = NULL;
  g_autoptr(PpMerchant) other = NULL;
  PpMerchantFields f = good;
  g_autofree char *mid_prefix = pp_store_get_mid_prefix (store);

  g_assert_cmpstr (mid_prefix, ==, PP_STORE_DEFAULT_MID_PREFIX);
  f.registration_number = " 91310000ma1fl7xw2b ";
  f.mcc = " 5812";
  m = pp_store_add_merchant (store, &f, "alice", &error);
  g_assert_no_error (error);
  g_assert_cmpint (m->id, >, 0);
  g_assert_cmpstr (m->name, ==, "Lucky Noodle House");
  g_assert_cmpstr (m->registration_number, ==, "91310000MA1FL7XW2B");
  g_assert_cmpstr (m->mcc, ==, "5812");
  g_assert_cmpstr (m->contact_phone, ==, "+86 138-0013-8000");
  assert_mid (m->mid, PP_STORE_DEFAULT_MID_PREFIX);
  /* First issued under the default prefix: sequence 1. */
  g_assert_true (g_str_has_prefix (m->mid, "89810000000001"));

  by_mid = pp_store_get_merchant_by_mid (store, m->mid, &error);
  g_assert_no_error (error);
  g_assert_cmpint (by_mid->id, ==, m->id);

  /* Registration numbers are unique, whatever the case. */
  again = pp_store_add_merchant (store, &good, "alice", &error);
  g_assert_null (again);
  g_assert_error (error, PP_STORE_ERROR, PP_STORE_ERROR_DUPLICATE);
  g_clear_error (&error);

  g_assert_null (pp_store_get_merchant (store, 9999, &error));
  g_assert_error (error, PP_STORE_ERROR, PP_STORE_ERROR_NOT_FOUND);
  g_clear_error (&error);

  /* A new prefix applies to the next MID; a bad one is refused. */
  g_assert_false (pp_store_set_mtn_prefixes (store, "12a", NULL, "carol", &error));
  g_assert_error (error, PP_STORE_ERROR, PP_STORE_ERROR_INVALID);
  g_clear_error (&error);
  g_assert_false (pp_store_set_mtn_prefixes (store, "12345678901234", NULL, "carol", &error));
  g_assert_error (error, PP_STORE_ERROR, PP_STORE_ERROR_INVALID);
  g_clear_error (&error);
  g_assert_false (pp_store_set_mtn_prefixes (store, NULL, "1234567", "carol", &error));
  g_assert_error (error, PP_STORE_ERROR, PP_STORE_ERROR_INVALID);
  g_clear_error (&error);
  g_assert_true (pp_store_set_mtn_prefixes (store, "1234567890", "4321", "carol", &error));
  g_assert_no_error (error);

  f.registration_number = "ANOTHER-123";
  other = pp_store_add_merchant (store, &f, "alice", &error);
  g_assert_no_error (error);
  assert_mid (other->mid, "1234567890");
  g_assert_true (g_str_has_prefix (other->mid, "12345678900001"));

  {
    g_autofree char *tid = pp_store_issue_tid (store, "alice", &error);
    g_assert_no_error (error);
    assert_tid (tid, "4321");
    g_assert_cmpstr (tid, ==, "43210012"); /* 4321 001 + Luhn 2 */
  }
}

static void
test_mtn_range_exhausted (void)
{
  g_autoptr(PpStore) store = open_store (NULL);
  g_autoptr(GError) error = NULL;
  g_autofree char *last = NULL;
  g_autofree char *none = NULL;
  g_autofree char *first = NULL;
  g_autoptr(GHashTable) issued = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);

  /* Six prefix digits leave one sequence digit: 1..9, then exhausted. */
  g_assert_true (pp_store_set_mtn_prefixes (store, NULL, "777777", "carol", &error));
  for (int i = 0; i < 9; i++)
    {
      g_free (last);
      last = pp_store_issue_tid (store, "alice", &error);
      g_assert_no_error (error);
      assert_tid (last, "777777");
      g_hash_table_add (issued, g_strdup (last));
    }
  g_assert_true (g_str_has_prefix (last, "7777779"));
  none = pp_store_issue_tid (store, "alice", &error);
  g_assert_null (none);
  g_assert_error (error, PP_STORE_ERROR, PP_STORE_ERROR_INVALID);
  g_clear_error (&error);

  /* A shorter, overlapping prefix never reissues a number. */
  g_assert_true (pp_store_set_mtn_prefixes (store, NULL, "77777", "carol", &error));
  for (int i = 0; i < 80; i++)
    {
      g_autofree char *tid = pp_store_issue_tid (store, "alice", &error);
      g_assert_no_error (error);
      assert_tid (tid, "77777");
      g_assert_false (g_hash_table_contains (issued, tid));
      g_hash_table_add (issued, g_strdup (tid));
      if (i == 0)
        first = g_strdup (tid);
    }
  g_assert_cmpstr (first, ==, "77777019");
  g_assert_cmpuint (g_hash_table_size (issued), ==, 89);
}

#define PER_THREAD 200

typedef struct {
  char *path;
  int index;
  GPtrArray *mids;
  GPtrArray *tids;
} IssueJob;

static gpointer
issue_thread (gpointer data)
{
  IssueJob *job = data;
  g_autoptr(GError) error = NULL;
  g_autoptr(PpStore) store = pp_store_open (job->path, &error);

  g_assert_no_error (error);
  for (int i = 0; i < PER_THREAD; i++)
    {
      g_autofree char *reg = g_strdup_printf ("REG-%d-%04d", job->index, i);
      PpMerchantFields f = good;
      g_autoptr(PpMerchant) m = NULL;
      char *tid;

      f.registration_number = reg;
      m = pp_store_add_merchant (store, &f, "alice", &error);
      g_assert_no_error (error);
      g_ptr_array_add (job->mids, g_strdup (m->mid));

      tid = pp_store_issue_tid (store, "alice", &error);
      g_assert_no_error (error);
      g_ptr_array_add (job->tids, tid);
    }
  return NULL;
}

static void
assert_unique_valid (GPtrArray  *a,
                     GPtrArray  *b,
                     gboolean    mid)
{
  g_autoptr(GHashTable) seen = g_hash_table_new (g_str_hash, g_str_equal);
  GPtrArray *lists[] = { a, b };

  for (guint l = 0; l < 2; l++)
    for (guint i = 0; i < lists[l]->len; i++)
      {
        const char *n = g_ptr_array_index (lists[l], i);

        if (mid)
          assert_mid (n, PP_STORE_DEFAULT_MID_PREFIX);
        else
          assert_tid (n, PP_STORE_DEFAULT_TID_PREFIX);
        g_assert_false (g_hash_table_contains (seen, n));
        g_hash_table_add (seen, (gpointer) n);
      }
  g_assert_cmpuint (g_hash_table_size (seen), ==, 2 * PER_THREAD);
}

static void
test_mtn_two_threads (void)
{
  g_autofree char *path = NULL;
  g_autoptr(PpStore) store = open_store (&path);
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) all = NULL;
  IssueJob jobs[2];
  GThread *threads[2];

  for (int t = 0; t < 2; t++)
    {
      jobs[t].path = path;
      jobs[t].index = t;
      jobs[t].mids = g_ptr_array_new_with_free_func (g_free);
      jobs[t].tids = g_ptr_array_new_with_free_func (g_free);
    }
  for (int t = 0; t < 2; t++)
    threads[t] = g_thread_new ("issuer", issue_thread, &jobs[t]);
  for (int t = 0; t < 2; t++)
    g_thread_join (threads[t]);

  assert_unique_valid (jobs[0].mids, jobs[1].mids, TRUE);
  assert_unique_valid (jobs[0].tids, jobs[1].tids, FALSE);

  /* The sequences have no holes: 1..400 were each issued exactly once. */
  all = pp_store_list_merchants (store, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (all->len, ==, 2 * PER_THREAD);

  g_assert_true (pp_store_audit_verify (store, NULL, NULL, &error));
  g_assert_no_error (error);

  for (int t = 0; t < 2; t++)
    {
      g_ptr_array_unref (jobs[t].mids);
      g_ptr_array_unref (jobs[t].tids);
    }
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/merchants/validation", test_merchant_validation);
  g_test_add_func ("/merchants/add", test_merchant_add);
  g_test_add_func ("/merchants/range-exhausted", test_mtn_range_exhausted);
  g_test_add_func ("/merchants/two-threads", test_mtn_two_threads);
  return g_test_run ();
}
