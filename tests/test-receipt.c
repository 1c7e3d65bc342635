/* SPDX-License-Identifier: GPL-3.0-or-later
 *
 * test-receipt.c: the install receipt (ui/pp-receipt.c), in the language of
 * PP_TEST_LOCALE (English, or Simplified Chinese for receipt-zh_CN).
 *
 * The PDF must be a PDF of one A4 page whose text (read back by poppler's
 * pdftotext, as a reader or a search would) holds what the field manager
 * signs for: order, terminal, merchant, MID/TID, KCV, people and every
 * journal hash; printing (GtkPrintOperation exported to a file) must give
 * the same page; a receipt is written whole or not at all, by default
 * under posprov-receipts/ in the documents folder; the journal entries
 * collected from a real registry are the order's and only those. A PNG of
 * the page is saved in the build dir (receipt-LANG.png) to look at.
 */
#include "config.h"

#include <glib/gi18n.h>
#include <glib/gstdio.h>
#include <locale.h>

#include "pp-receipt.h"
#include "pp-registry-local.h"
#include "pp-store-fixture.h"
#include "pp-test-util.h"
#include "pp-ui-test-util.h"

static const char *lang;

#define ORDER_UUID "3f1c2a9e-6b7d-4e21-9a0c-5d8e7f6a1b2c"
#define HASH_1 "9c1e0f6a27b84d35e1f2a3b4c5d6e7f8091a2b3c4d5e6f708192a3b4c5d6e7f8"
#define HASH_2 "04b7d9e1c3a5f7092b4d6f8e0a1c3e5f7092b4d6f8a0c2e4f6081a3c5e7f9b1d"

static PpInstallReceipt *
made_up_receipt (void)
{
  PpInstallReceipt *r = g_new0 (PpInstallReceipt, 1);

  r->order_uuid = g_strdup (ORDER_UUID);
  r->serial = g_strdup ("PAX0001");
  r->model = g_strdup ("A920");
  r->merchant_name = g_strdup ("Lucky Noodle House 幸运面馆");
  r->mid = g_strdup ("880123456789012");
  r->tid = g_strdup ("88000042");
  r->kcv = g_strdup ("3F9A1C");
  r->program_name = g_strdup ("acquirer-pay");
  r->program_version = g_strdup ("1.2.0");
  r->approval_uuid = g_strdup ("7d2e4c1a-0b9f-4a3e-8c5d-1e2f3a4b5c6d");
  r->requester = g_strdup ("alice");
  r->approver = g_strdup ("bob");
  r->state = g_strdup ("closed");
  r->started_at = 1717200000;
  r->finished_at = 1717200420;
  return r;
}

static PpAuditEntry *
entry_new (gint64      seq,
           const char *actor,
           const char *action,
           const char *hash)
{
  PpAuditEntry *e = g_new0 (PpAuditEntry, 1);

  e->seq = seq;
  e->time = 1717200000 + seq;
  e->actor = g_strdup (actor);
  e->action = g_strdup (action);
  e->subject = g_strdup ("work order 7");
  e->hash = g_strdup (hash);
  return e;
}

static GPtrArray *
made_up_entries (void)
{
  GPtrArray *entries = g_ptr_array_new_with_free_func ((GDestroyNotify) pp_audit_entry_free);

  g_ptr_array_add (entries, entry_new (41, "alice", "order.create", HASH_1));
  g_ptr_array_add (entries, entry_new (44, "bob", "order.approve", HASH_2));
  return entries;
}

/* The PDF's text as poppler reads it (scripts/deps installs poppler-utils). */
static char *
pdf_text (const char *path)
{
  const char *argv[] = { "pdftotext", "-enc", "UTF-8", path, "-", NULL };
  g_autofree char *out = NULL;
  g_autofree char *err = NULL;
  g_autoptr(GError) error = NULL;
  int status = -1;

  g_spawn_sync (NULL, (char **) argv, NULL, G_SPAWN_SEARCH_PATH, NULL, NULL,
                &out, &err, &status, &error);
  g_assert_no_error (error);
  if (!g_spawn_check_wait_status (status, NULL))
    g_error ("pdftotext %s: %s", path, err);
  return g_steal_pointer (&out);
}

/* "Pages: 1" and A4 ("595.276 x 841.89 pts (A4)"), from pdfinfo. */
static void
assert_one_a4_page (const char *path)
{
  const char *argv[] = { "pdfinfo", path, NULL };
  g_autofree char *out = NULL;
  g_autoptr(GError) error = NULL;
  int status = -1;

  g_spawn_sync (NULL, (char **) argv, NULL, G_SPAWN_SEARCH_PATH | G_SPAWN_STDERR_TO_DEV_NULL,
                NULL, NULL, &out, NULL, &status, &error);
  g_assert_no_error (error);
  g_assert_true (g_spawn_check_wait_status (status, NULL));
  g_assert_true (g_regex_match_simple ("^Pages: +1$", out, G_REGEX_MULTILINE, 0));
  g_assert_true (g_regex_match_simple ("^Page size: +595\\.\\d* x 841\\.\\d* pts \\(A4\\)", out,
                                       G_REGEX_MULTILINE, 0));
}

static void
assert_starts_with_pdf (const char *path)
{
  g_autofree char *contents = NULL;
  gsize len = 0;
  g_autoptr(GError) error = NULL;

  g_file_get_contents (path, &contents, &len, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (len, >, 5);
  g_assert_true (memcmp (contents, "%PDF-", 5) == 0);
}

/* What the field manager checks on the page, in the station's language. */
static void
assert_receipt_text (const char *text,
                     const char *kcv,
                     const char *mid,
                     const char *tid,
                     const char *hash)
{

  g_assert_nonnull (strstr (text, _("Install receipt")));
  g_assert_nonnull (strstr (text, _("Key check value (KCV)")));
  g_assert_nonnull (strstr (text, _("Merchant ID (MID)")));
  g_assert_nonnull (strstr (text, _("Journal entries")));
  g_assert_nonnull (strstr (text, kcv));
  g_assert_nonnull (strstr (text, mid));
  g_assert_nonnull (strstr (text, tid));
  g_assert_nonnull (strstr (text, hash));
}

static void
save_png (const PpInstallReceipt *receipt,
          GPtrArray              *entries,
          const char             *name)
{
  const double scale = 2.0;
  g_autofree char *file = g_strdup_printf ("%s-%s.png", name, lang);
  g_autofree char *path = g_test_build_filename (G_TEST_BUILT, file, NULL);
  cairo_surface_t *surface;
  cairo_t *cr;

  surface = cairo_image_surface_create (CAIRO_FORMAT_RGB24,
                                        (int) (PP_RECEIPT_A4_WIDTH * scale),
                                        (int) (PP_RECEIPT_A4_HEIGHT * scale));
  cr = cairo_create (surface);
  cairo_scale (cr, scale, scale);
  pp_receipt_draw (cr, PP_RECEIPT_A4_WIDTH, PP_RECEIPT_A4_HEIGHT, receipt, entries);
  g_assert_cmpint (cairo_status (cr), ==, CAIRO_STATUS_SUCCESS);
  cairo_destroy (cr);
  g_assert_cmpint (cairo_surface_write_to_png (surface, path), ==, CAIRO_STATUS_SUCCESS);
  cairo_surface_destroy (surface);
  g_test_message ("receipt: %s", path);
}

/* Only @name is left in @dir: no temp file of the atomic write. */
static void
assert_dir_holds_only (const char *dir,
                       const char *name)
{
  g_autoptr(GDir) d = g_dir_open (dir, 0, NULL);
  const char *entry;
  guint n = 0;

  g_assert_nonnull (d);
  while ((entry = g_dir_read_name (d)) != NULL)
    {
      g_assert_cmpstr (entry, ==, name);
      n++;
    }
  g_assert_cmpuint (n, ==, name != NULL ? 1 : 0);
}

static void
test_pdf (void)
{
  g_autoptr(PpInstallReceipt) receipt = made_up_receipt ();
  g_autoptr(GPtrArray) entries = made_up_entries ();
  g_autofree char *dir = pp_test_make_tmpdir ();
  g_autofree char *path = g_build_filename (dir, "receipt.pdf", NULL);
  g_autofree char *text = NULL;
  g_autoptr(GError) error = NULL;

  g_assert_true (pp_receipt_render_pdf (receipt, entries, path, &error));
  g_assert_no_error (error);
  assert_starts_with_pdf (path);
  assert_one_a4_page (path);
  assert_dir_holds_only (dir, "receipt.pdf");

  text = pdf_text (path);
  assert_receipt_text (text, "3F9A1C", "880123456789012", "88000042", HASH_1);
  g_assert_nonnull (strstr (text, HASH_2));
  g_assert_nonnull (strstr (text, ORDER_UUID));
  g_assert_nonnull (strstr (text, "PAX0001 (A920)"));
  /* The Chinese name comes through as text, not as missing glyphs. */
  g_assert_nonnull (strstr (text, "幸运面馆"));
  g_assert_nonnull (strstr (text, "acquirer-pay 1.2.0"));
  g_assert_nonnull (strstr (text, "order.approve"));
  g_assert_nonnull (strstr (text, _("Approved by")));
  g_assert_nonnull (strstr (text, "bob"));
  g_assert_nonnull (strstr (text, pp_work_order_state_get_label (PP_WORK_ORDER_STATE_CLOSED)));

  save_png (receipt, entries, "receipt");
}

/* More entries than a page holds: the page says how many are left out. */
static void
test_many_entries (void)
{
  g_autoptr(PpInstallReceipt) receipt = made_up_receipt ();
  g_autoptr(GPtrArray) entries = g_ptr_array_new_with_free_func ((GDestroyNotify) pp_audit_entry_free);
  g_autofree char *dir = pp_test_make_tmpdir ();
  g_autofree char *path = g_build_filename (dir, "receipt.pdf", NULL);
  g_autofree char *text = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(GRegex) note = NULL;
  g_autoptr(GMatchInfo) match = NULL;
  g_autofree char *pattern = NULL;
  g_autofree char *n_left = NULL;
  guint i, shown = 0;

  for (i = 0; i < 60; i++)
    g_ptr_array_add (entries, entry_new (100 + i, "alice", "keyhost.token", i % 2 ? HASH_1 : HASH_2));
  g_assert_true (pp_receipt_render_pdf (receipt, entries, path, &error));
  g_assert_no_error (error);
  assert_one_a4_page (path);
  text = pdf_text (path);
  for (i = 0; i < 60; i++)
    {
      g_autofree char *seq = g_strdup_printf ("\n%u\n", 100 + i);

      if (strstr (text, seq) != NULL)
        shown++;
    }
  g_assert_cmpuint (shown, >, 5);
  g_assert_cmpuint (shown, <, 60);
  /* The note's number, in the catalogue's wording: "%u more entries ...". */
  pattern = g_regex_escape_string (g_dngettext (GETTEXT_PACKAGE, "%u more entry is in the audit log.",
                                                "%u more entries are in the audit log.", 60 - shown), -1);
  {
    g_autofree char *p = g_strdup (pattern);
    char *at = strstr (p, "%u");

    g_assert_nonnull (at);
    *at = '\0';
    g_free (pattern);
    pattern = g_strdup_printf ("%s(\\d+)%s", p, at + 2);
  }
  note = g_regex_new (pattern, 0, 0, NULL);
  g_assert_nonnull (note);
  g_assert_true (g_regex_match (note, text, 0, &match));
  n_left = g_match_info_fetch (match, 1);
  g_assert_cmpuint (g_ascii_strtoull (n_left, NULL, 10), ==, 60 - shown);
}

/* A receipt that cannot be written leaves nothing behind; one written
 * over an old one replaces it whole. */
static void
test_atomic (void)
{
  g_autoptr(PpInstallReceipt) receipt = made_up_receipt ();
  g_autoptr(GPtrArray) entries = made_up_entries ();
  g_autofree char *dir = pp_test_make_tmpdir ();
  g_autofree char *missing = g_build_filename (dir, "no-such-folder", "receipt.pdf", NULL);
  g_autofree char *path = g_build_filename (dir, "receipt.pdf", NULL);
  g_autoptr(GError) error = NULL;

  g_assert_false (pp_receipt_render_pdf (receipt, entries, missing, &error));
  g_assert_error (error, G_FILE_ERROR, G_FILE_ERROR_NOENT);
  g_clear_error (&error);
  assert_dir_holds_only (dir, NULL);

  /* A folder where the file should be: refused, the folder untouched. */
  g_assert_cmpint (g_mkdir (path, 0700), ==, 0);
  g_assert_false (pp_receipt_render_pdf (receipt, entries, path, &error));
  g_assert_nonnull (error);
  g_clear_error (&error);
  g_assert_true (g_file_test (path, G_FILE_TEST_IS_DIR));
  assert_dir_holds_only (dir, "receipt.pdf");
  g_assert_cmpint (g_rmdir (path), ==, 0);

  g_assert_true (g_file_set_contents (path, "old", -1, NULL));
  g_assert_true (pp_receipt_render_pdf (receipt, entries, path, &error));
  g_assert_no_error (error);
  assert_starts_with_pdf (path);
  assert_dir_holds_only (dir, "receipt.pdf");
}

static void
test_default_path (void)
{
  g_autoptr(PpInstallReceipt) receipt = made_up_receipt ();
  g_autoptr(GPtrArray) entries = made_up_entries ();
  g_autofree char *dir = pp_test_make_tmpdir ();
  g_autofree char *expected = g_build_filename (dir, "posprov-receipts", ORDER_UUID ".pdf", NULL);
  g_autofree char *path = NULL;
  g_autofree char *bad = NULL;
  g_autoptr(GError) error = NULL;

  g_setenv ("XDG_DOCUMENTS_DIR", dir, TRUE);
  path = pp_receipt_save (receipt, entries, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (path, ==, expected);
  assert_starts_with_pdf (path);

  /* The order's UUID names the file: anything else is refused. */
  g_free (receipt->order_uuid);
  receipt->order_uuid = g_strdup ("../../etc/passwd");
  bad = pp_receipt_save (receipt, entries, &error);
  g_assert_null (bad);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT);
  g_unsetenv ("XDG_DOCUMENTS_DIR");
}

/* Printing draws the same page: exported by GtkPrintOperation to a PDF. */
static void
test_print (void)
{
  g_autoptr(PpInstallReceipt) receipt = made_up_receipt ();
  g_autoptr(GPtrArray) entries = made_up_entries ();
  g_autofree char *dir = pp_test_make_tmpdir ();
  g_autofree char *path = g_build_filename (dir, "printed.pdf", NULL);
  g_autofree char *direct = g_build_filename (dir, "direct.pdf", NULL);
  g_autoptr(GtkPrintOperation) op = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *text = NULL;
  g_autofree char *direct_text = NULL;
  g_auto(GStrv) lines = NULL;
  g_auto(GStrv) direct_lines = NULL;
  GtkPrintOperationResult result;

  op = pp_receipt_print_operation_new (receipt, entries);
  /* The caller's data may go: the operation keeps its own copy. */
  g_clear_pointer (&entries, g_ptr_array_unref);
  g_clear_pointer (&receipt, pp_install_receipt_free);
  gtk_print_operation_set_export_filename (op, path);
  result = gtk_print_operation_run (op, GTK_PRINT_OPERATION_ACTION_EXPORT, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpint (result, ==, GTK_PRINT_OPERATION_RESULT_APPLY);
  assert_starts_with_pdf (path);
  assert_one_a4_page (path);
  text = pdf_text (path);
  assert_receipt_text (text, "3F9A1C", "880123456789012", "88000042", HASH_2);

  /* Line for line the PDF's text, but for the footer's time. */
  receipt = made_up_receipt ();
  entries = made_up_entries ();
  g_assert_true (pp_receipt_render_pdf (receipt, entries, direct, &error));
  direct_text = pdf_text (direct);
  lines = g_strsplit (text, "\n", -1);
  direct_lines = g_strsplit (direct_text, "\n", -1);
  g_assert_cmpuint (g_strv_length (lines), ==, g_strv_length (direct_lines));
  for (guint i = 0; lines[i] != NULL; i++)
    if (strstr (lines[i], "posprov") == NULL)
      g_assert_cmpstr (lines[i], ==, direct_lines[i]);
}

/* ---- the order's entries from a real registry ---- */

#define got_result pp_test_got_result
#define wait_for   pp_test_wait_for_result

static const PpTerminalIntake rows[] = {
  { "PAX0001", "PAX", "A920" },
  { "PAX0003", "PAX", "A920" },
};

static PpWorkOrder *
create_order (PpRegistry     *registry,
              PpStoreFixture *f,
              const char     *serial)
{
  g_autoptr(GAsyncResult) res = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *key = g_uuid_string_random ();
  PpWorkOrder *order;

  pp_registry_create_install_order_async (registry, serial, f->merchant_id, "1.2.0",
                                          PP_TMK_AES_128, "alice", key, NULL, got_result, &res);
  order = pp_registry_create_install_order_finish (registry, wait_for (&res), &error);
  g_assert_no_error (error);
  return order;
}

static void
test_collect (void)
{
  PpStoreFixture f = { 0 };
  g_autoptr(PpRegistry) registry = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(GAsyncResult) res = NULL;
  g_autoptr(GPtrArray) entries = NULL;
  g_autoptr(GPtrArray) all = NULL;
  g_autoptr(PpInstallReceipt) receipt = made_up_receipt ();
  g_autofree char *key = g_uuid_string_random ();
  g_autofree char *key2 = g_uuid_string_random ();
  g_autofree char *subject = NULL;
  g_autofree char *dir = pp_test_make_tmpdir ();
  g_autofree char *path = g_build_filename (dir, "receipt.pdf", NULL);
  g_autofree char *text = NULL;
  PpRegistryApproval *approval;
  PpWorkOrder *order, *other;
  guint i, n_order = 0;
  const PpAuditEntry *last;

  pp_store_fixture_set_up (&f, rows, G_N_ELEMENTS (rows), "setup");
  registry = PP_REGISTRY (pp_registry_local_new (f.path, &error));
  g_assert_no_error (error);

  order = create_order (registry, &f, "PAX0001");
  other = create_order (registry, &f, "PAX0003");
  pp_registry_request_approval_async (registry, order->uuid, "PAX0001", NULL, "alice", key, NULL,
                                      got_result, &res);
  approval = pp_registry_request_approval_finish (registry, wait_for (&res), &error);
  g_assert_no_error (error);
  g_clear_object (&res);
  pp_registry_decide_approval_async (registry, approval->uuid, TRUE, "checked on site", "bob", key2,
                                     NULL, got_result, &res);
  pp_registry_approval_free (pp_registry_decide_approval_finish (registry, wait_for (&res), &error));
  g_assert_no_error (error);
  g_clear_object (&res);

  g_free (receipt->order_uuid);
  receipt->order_uuid = g_strdup (order->uuid);
  pp_receipt_collect_async (registry, receipt, NULL, got_result, &res);
  entries = pp_receipt_collect_finish (registry, wait_for (&res), &error);
  g_assert_no_error (error);
  g_clear_object (&res);

  /* Exactly the order's entries of the whole journal, oldest first. */
  subject = g_strdup_printf ("work order %" G_GINT64_FORMAT, order->id);
  pp_registry_list_audit_async (registry, 0, PP_REGISTRY_PAGE_MAX, NULL, got_result, &res);
  all = pp_registry_list_audit_finish (registry, wait_for (&res), &error);
  g_assert_no_error (error);
  g_clear_object (&res);
  for (i = 0; i < all->len; i++)
    n_order += g_strcmp0 (((PpAuditEntry *) g_ptr_array_index (all, i))->subject, subject) == 0;
  g_assert_cmpuint (all->len, >, n_order);
  g_assert_cmpuint (entries->len, ==, n_order);
  g_assert_cmpuint (entries->len, >=, 3);
  g_assert_cmpstr (((PpAuditEntry *) g_ptr_array_index (entries, 0))->action, ==, "order.create");
  for (i = 0; i < entries->len; i++)
    {
      const PpAuditEntry *e = g_ptr_array_index (entries, i);

      g_assert_cmpstr (e->subject, ==, subject);
      g_assert_cmpuint (strlen (e->hash), ==, 64);
      if (i > 0)
        g_assert_cmpint (e->seq, >, ((PpAuditEntry *) g_ptr_array_index (entries, i - 1))->seq);
    }
  last = g_ptr_array_index (entries, entries->len - 1);
  g_assert_cmpstr (last->action, ==, "order.approve");

  /* On the receipt, with their hashes. */
  g_assert_true (pp_receipt_render_pdf (receipt, entries, path, &error));
  g_assert_no_error (error);
  text = pdf_text (path);
  assert_receipt_text (text, receipt->kcv, receipt->mid, receipt->tid, last->hash);
  save_png (receipt, entries, "receipt-registry");

  /* An order the registry does not know: its error, no entries. */
  g_free (receipt->order_uuid);
  receipt->order_uuid = g_uuid_string_random ();
  pp_receipt_collect_async (registry, receipt, NULL, got_result, &res);
  g_assert_null (pp_receipt_collect_finish (registry, wait_for (&res), &error));
  g_assert_error (error, PP_REGISTRY_ERROR, PP_REGISTRY_ERROR_NOT_FOUND);

  pp_registry_approval_free (approval);
  pp_work_order_free (order);
  pp_work_order_free (other);
  pp_registry_local_close (PP_REGISTRY_LOCAL (registry));
  g_clear_object (&registry);
  pp_store_fixture_tear_down (&f);
}

int
main (int   argc,
      char *argv[])
{
  lang = pp_test_ui_init (&argc, &argv, "Install receipt");
  if (lang == NULL)
    {
      g_test_skip ("the zh_CN.UTF-8 locale is not generated");
      return g_test_run ();
    }

  g_test_add_func ("/ui/receipt/pdf", test_pdf);
  g_test_add_func ("/ui/receipt/many-entries", test_many_entries);
  g_test_add_func ("/ui/receipt/atomic", test_atomic);
  g_test_add_func ("/ui/receipt/default-path", test_default_path);
  g_test_add_func ("/ui/receipt/print", test_print);
  g_test_add_func ("/ui/receipt/collect", test_collect);
  return g_test_run ();
}
