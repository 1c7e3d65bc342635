/* SPDX-License-Identifier: GPL-3.0-or-later
 *
 * pp-receipt.c: the install receipt, one layout for the PDF and the printer.
 */
#include "config.h"

#include <errno.h>

#include <adwaita.h>
#include <cairo-pdf.h>
#include <glib/gi18n.h>
#include <pango/pangocairo.h>

#include "pp-receipt.h"

#define MARGIN        56.0    /* 2 cm */
#define LABEL_WIDTH  130.0
#define ROW_GAP        4.0
#define HASH_PREFIX   16      /* hex digits shown large */

/* The table's columns, in points from the left margin. */
#define COL_SEQ      0.0
#define COL_TIME    36.0
#define COL_ACTION 140.0
#define COL_ACTOR  272.0
#define COL_HASH   344.0

#define DASH "\u2014"

/* ---- drawing ---- */

typedef struct {
  cairo_t      *cr;
  PangoContext *context;
  double        left;
  double        width;     /* between the margins */
  double        y;
} Pen;

/* Draws @text at (@x, pen->y) in at most @width points with @font (a
 * Pango font description string), wrapped (or cut with an ellipsis when
 * @one_line); returns the height it took. */
static double
pen_text (Pen        *pen,
          double      x,
          double      width,
          const char *font,
          const char *text,
          gboolean    one_line)
{
  g_autoptr(PangoLayout) layout = pango_layout_new (pen->context);
  PangoFontDescription *desc = pango_font_description_from_string (font);
  int w, h;

  pango_layout_set_font_description (layout, desc);
  pango_font_description_free (desc);
  pango_layout_set_width (layout, (int) (width * PANGO_SCALE));
  if (one_line)
    pango_layout_set_ellipsize (layout, PANGO_ELLIPSIZE_END);
  else
    pango_layout_set_wrap (layout, PANGO_WRAP_WORD_CHAR);
  pango_layout_set_text (layout, text != NULL && text[0] != '\0' ? text : DASH, -1);
  cairo_move_to (pen->cr, pen->left + x, pen->y);
  pango_cairo_show_layout (pen->cr, layout);
  pango_layout_get_size (layout, &w, &h);
  return (double) h / PANGO_SCALE;
}

static void
pen_rule (Pen    *pen,
          double  line_width,
          double  grey)
{
  cairo_save (pen->cr);
  cairo_set_source_rgb (pen->cr, grey, grey, grey);
  cairo_set_line_width (pen->cr, line_width);
  cairo_move_to (pen->cr, pen->left, pen->y);
  cairo_line_to (pen->cr, pen->left + pen->width, pen->y);
  cairo_stroke (pen->cr);
  cairo_restore (pen->cr);
}

/* One "label: value" row of the summary. */
static void
pen_field (Pen        *pen,
           const char *label,
           const char *value,
           gboolean    monospace)
{
  double h_label, h_value;

  cairo_set_source_rgb (pen->cr, 0.35, 0.35, 0.35);
  h_label = pen_text (pen, 0, LABEL_WIDTH - 8, "Sans 9.5", label, FALSE);
  cairo_set_source_rgb (pen->cr, 0, 0, 0);
  h_value = pen_text (pen, LABEL_WIDTH, pen->width - LABEL_WIDTH,
                      monospace ? "Monospace Bold 10" : "Sans 10.5", value, FALSE);
  pen->y += MAX (h_label, h_value) + ROW_GAP;
}

/* Local time, with its offset from UTC: the receipt is read on site. */
static char *
format_time_as (gint64      unix_seconds,
                const char *format)
{
  g_autoptr(GDateTime) dt = NULL;

  if (unix_seconds <= 0)
    return g_strdup (DASH);
  dt = g_date_time_new_from_unix_local (unix_seconds);
  if (dt == NULL)
    return g_strdup (DASH);
  return g_date_time_format (dt, format);
}

static char *
format_time (gint64 unix_seconds)
{
  return format_time_as (unix_seconds, "%Y-%m-%d %H:%M:%S (UTC%:z)");
}

static const char *
state_label (const char *state)
{
  PpWorkOrderState s;

  if (state != NULL && pp_work_order_state_from_string (state, &s))
    return pp_work_order_state_get_label (s);
  return state;
}

static void
draw_entry (Pen                *pen,
            const PpAuditEntry *entry)
{
  g_autofree char *seq = g_strdup_printf ("%" G_GINT64_FORMAT, entry->seq);
  /* The offset is in the summary's times, the same on the whole page. */
  g_autofree char *time = format_time_as (entry->time, "%Y-%m-%d %H:%M:%S");
  g_autofree char *prefix = NULL;
  double h = 0;

  if (entry->hash != NULL)
    prefix = g_strndup (entry->hash, HASH_PREFIX);
  cairo_set_source_rgb (pen->cr, 0, 0, 0);
  h = MAX (h, pen_text (pen, COL_SEQ, COL_TIME - COL_SEQ - 4, "Sans 8.5", seq, TRUE));
  h = MAX (h, pen_text (pen, COL_TIME, COL_ACTION - COL_TIME - 4, "Sans 8", time, TRUE));
  h = MAX (h, pen_text (pen, COL_ACTION, COL_ACTOR - COL_ACTION - 4, "Sans 8.5", entry->action, TRUE));
  h = MAX (h, pen_text (pen, COL_ACTOR, COL_HASH - COL_ACTOR - 4, "Sans 8.5", entry->actor, TRUE));
  h = MAX (h, pen_text (pen, COL_HASH, pen->width - COL_HASH, "Monospace Bold 8.5", prefix, TRUE));
  pen->y += h;
  cairo_set_source_rgb (pen->cr, 0.3, 0.3, 0.3);
  pen->y += pen_text (pen, COL_TIME, pen->width - COL_TIME, "Monospace 6.5", entry->hash, TRUE);
  pen->y += ROW_GAP;
}

void
pp_receipt_draw (cairo_t                *cr,
                 double                  width,
                 double                  height,
                 const PpInstallReceipt *receipt,
                 GPtrArray              *entries)
{
  PangoContext *context;
  cairo_font_options_t *options;
  g_autofree char *terminal = NULL;
  g_autofree char *program = NULL;
  g_autofree char *started = NULL;
  g_autofree char *finished = NULL;
  g_autofree char *printed = NULL;
  g_autofree char *footer = NULL;
  double bottom, footer_y, row_height;
  Pen pen;
  guint n_entries = entries != NULL ? entries->len : 0;
  guint i;

  g_return_if_fail (cr != NULL);
  g_return_if_fail (receipt != NULL);

  /* User units are points: Pango at 72 dpi makes "10" ten of them; no
   * hinted metrics, so the PDF, the printer and a PNG lay out the same. */
  context = pango_cairo_create_context (cr);
  pango_cairo_context_set_resolution (context, 72.0);
  options = cairo_font_options_create ();
  cairo_font_options_set_hint_metrics (options, CAIRO_HINT_METRICS_OFF);
  cairo_font_options_set_hint_style (options, CAIRO_HINT_STYLE_NONE);
  pango_cairo_context_set_font_options (context, options);
  cairo_font_options_destroy (options);

  cairo_save (cr);
  cairo_set_source_rgb (cr, 1, 1, 1);
  cairo_paint (cr);

  pen = (Pen) { cr, context, MARGIN, width - 2 * MARGIN, MARGIN };
  bottom = height - MARGIN;

  /* Title and the order's state. */
  cairo_set_source_rgb (cr, 0, 0, 0);
  pen.y += pen_text (&pen, 0, pen.width, "Sans Bold 20", _("Install receipt"), FALSE);
  cairo_set_source_rgb (cr, 0.35, 0.35, 0.35);
  pen.y += pen_text (&pen, 0, pen.width, "Sans 10",
                     _("A point-of-sale terminal installed and keyed for a merchant"), FALSE);
  pen.y += 10;
  pen_rule (&pen, 1.2, 0);
  pen.y += 12;

  /* What was installed, for whom, by whom. */
  terminal = receipt->model != NULL && receipt->model[0] != '\0'
             ? g_strdup_printf ("%s (%s)", receipt->serial != NULL ? receipt->serial : DASH,
                                receipt->model)
             : g_strdup (receipt->serial);
  program = receipt->program_version != NULL && receipt->program_version[0] != '\0'
            ? g_strdup_printf ("%s %s", receipt->program_name != NULL ? receipt->program_name : "",
                               receipt->program_version)
            : g_strdup (receipt->program_name);
  started = format_time (receipt->started_at);
  finished = format_time (receipt->finished_at);

  pen_field (&pen, _("Order"), receipt->order_uuid, TRUE);
  pen_field (&pen, _("State"), state_label (receipt->state), FALSE);
  pen_field (&pen, _("Terminal (serial, model)"), terminal, FALSE);
  pen_field (&pen, _("Merchant"), receipt->merchant_name, FALSE);
  pen_field (&pen, _("Merchant ID (MID)"), receipt->mid, TRUE);
  pen_field (&pen, _("Terminal ID (TID)"), receipt->tid, TRUE);
  pen_field (&pen, _("Program"), program, FALSE);
  pen_field (&pen, _("Key check value (KCV)"), receipt->kcv, TRUE);
  pen_field (&pen, _("Started"), started, FALSE);
  pen_field (&pen, _("Finished"), finished, FALSE);
  pen_field (&pen, _("Requested by"), receipt->requester, FALSE);
  pen_field (&pen, _("Approved by"), receipt->approver, FALSE);
  pen_field (&pen, _("Approval"), receipt->approval_uuid, TRUE);

  /* The order's journal entries. */
  pen.y += 10;
  cairo_set_source_rgb (cr, 0, 0, 0);
  pen.y += pen_text (&pen, 0, pen.width, "Sans Bold 13", _("Journal entries"), FALSE);
  cairo_set_source_rgb (cr, 0.35, 0.35, 0.35);
  pen.y += pen_text (&pen, 0, pen.width, "Sans 8.5",
                     _("Each entry's hash chains it to the entry before it in the station's audit "
                       "journal; “posprov-tool audit verify” checks the whole chain."), FALSE);
  pen.y += 6;
  cairo_set_source_rgb (cr, 0.35, 0.35, 0.35);
  {
    double h = 0;

    h = MAX (h, pen_text (&pen, COL_SEQ, COL_TIME - COL_SEQ - 4, "Sans Bold 8.5", _("Seq"), TRUE));
    h = MAX (h, pen_text (&pen, COL_TIME, COL_ACTION - COL_TIME - 4, "Sans Bold 8.5", _("Time"), TRUE));
    h = MAX (h, pen_text (&pen, COL_ACTION, COL_ACTOR - COL_ACTION - 4, "Sans Bold 8.5", _("Action"), TRUE));
    h = MAX (h, pen_text (&pen, COL_ACTOR, COL_HASH - COL_ACTOR - 4, "Sans Bold 8.5", _("By"), TRUE));
    h = MAX (h, pen_text (&pen, COL_HASH, pen.width - COL_HASH, "Sans Bold 8.5", _("Hash"), TRUE));
    pen.y += h + 2;
  }
  pen_rule (&pen, 0.6, 0.5);
  pen.y += 4;

  /* Room for the footer and, when needed, the note of entries left out. */
  footer_y = bottom - 12;
  row_height = 26;
  if (n_entries == 0)
    {
      cairo_set_source_rgb (cr, 0.35, 0.35, 0.35);
      pen.y += pen_text (&pen, 0, pen.width, "Sans Italic 9",
                         _("No journal entries were found for this order."), FALSE);
    }
  for (i = 0; i < n_entries; i++)
    {
      gboolean last = i + 1 == n_entries;

      /* Keep a line for the note unless this is the last entry. */
      if (pen.y + row_height + (last ? 0 : 14) > footer_y)
        {
          g_autofree char *note = g_strdup_printf (g_dngettext (GETTEXT_PACKAGE,
                                                                "%u more entry is in the audit log.",
                                                                "%u more entries are in the audit log.",
                                                                n_entries - i),
                                                   n_entries - i);
          cairo_set_source_rgb (cr, 0.35, 0.35, 0.35);
          pen.y += pen_text (&pen, 0, pen.width, "Sans Italic 9", note, FALSE);
          break;
        }
      draw_entry (&pen, g_ptr_array_index (entries, i));
    }

  /* Footer: when this copy was made. */
  printed = format_time (g_get_real_time () / G_USEC_PER_SEC);
  /* Translators: the receipt's footer; %s is a date and time. */
  footer = g_strdup_printf (_("Made by posprov on %s"), printed);
  pen.y = footer_y;
  pen_rule (&pen, 0.6, 0.5);
  pen.y += 3;
  cairo_set_source_rgb (cr, 0.45, 0.45, 0.45);
  pen_text (&pen, 0, pen.width, "Sans 7.5", footer, TRUE);

  cairo_restore (cr);
  g_object_unref (context);
}

/* ---- the PDF ---- */

static cairo_status_t
append_bytes (void                *closure,
              const unsigned char *data,
              unsigned int         length)
{
  g_byte_array_append (closure, data, length);
  return CAIRO_STATUS_SUCCESS;
}

gboolean
pp_receipt_render_pdf (const PpInstallReceipt *receipt,
                       GPtrArray              *entries,
                       const char             *path,
                       GError                **error)
{
  g_autoptr(GByteArray) pdf = g_byte_array_new ();
  g_autofree char *title = NULL;
  cairo_surface_t *surface;
  cairo_status_t status;
  cairo_t *cr;

  g_return_val_if_fail (receipt != NULL, FALSE);
  g_return_val_if_fail (path != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  /* Made in memory, then written in one go through a temp file renamed
   * over @path: a full disk or a crash leaves the old file or none. */
  surface = cairo_pdf_surface_create_for_stream (append_bytes, pdf,
                                                 PP_RECEIPT_A4_WIDTH, PP_RECEIPT_A4_HEIGHT);
  /* Translators: the PDF's title; %s is the order's UUID. */
  title = g_strdup_printf (_("Install receipt %s"), receipt->order_uuid != NULL ? receipt->order_uuid : "");
  cairo_pdf_surface_set_metadata (surface, CAIRO_PDF_METADATA_TITLE, title);
  cairo_pdf_surface_set_metadata (surface, CAIRO_PDF_METADATA_CREATOR, "posprov " PACKAGE_VERSION);
  cr = cairo_create (surface);
  pp_receipt_draw (cr, PP_RECEIPT_A4_WIDTH, PP_RECEIPT_A4_HEIGHT, receipt, entries);
  cairo_show_page (cr);
  status = cairo_status (cr);
  cairo_destroy (cr);
  cairo_surface_finish (surface);
  if (status == CAIRO_STATUS_SUCCESS)
    status = cairo_surface_status (surface);
  cairo_surface_destroy (surface);
  if (status != CAIRO_STATUS_SUCCESS)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED,
                   _("Could not draw the receipt %s: %s"), path, cairo_status_to_string (status));
      return FALSE;
    }

  return g_file_set_contents_full (path, (const char *) pdf->data, pdf->len,
                                   G_FILE_SET_CONTENTS_CONSISTENT | G_FILE_SET_CONTENTS_DURABLE,
                                   0644, error);
}

char *
pp_receipt_default_path (const char  *order_uuid,
                         GError     **error)
{
  const char *base = g_getenv ("XDG_DOCUMENTS_DIR");
  g_autofree char *name = NULL;

  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  if (order_uuid == NULL || !g_uuid_string_is_valid (order_uuid))
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                   _("The order “%s” has no valid UUID to name its receipt by"),
                   order_uuid != NULL ? order_uuid : "");
      return NULL;
    }
  if (base == NULL || !g_path_is_absolute (base))
    base = g_get_user_special_dir (G_USER_DIRECTORY_DOCUMENTS);
  if (base == NULL)
    base = g_get_home_dir ();
  name = g_strconcat (order_uuid, ".pdf", NULL);
  return g_build_filename (base, "posprov-receipts", name, NULL);
}

char *
pp_receipt_save (const PpInstallReceipt *receipt,
                 GPtrArray              *entries,
                 GError                **error)
{
  g_autofree char *path = NULL;
  g_autofree char *dir = NULL;

  g_return_val_if_fail (receipt != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  path = pp_receipt_default_path (receipt->order_uuid, error);
  if (path == NULL)
    return NULL;
  dir = g_path_get_dirname (path);
  if (g_mkdir_with_parents (dir, 0755) != 0)
    {
      int saved = errno;

      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (saved),
                   _("Could not make the folder %s for the receipt: %s"), dir, g_strerror (saved));
      return NULL;
    }
  if (!pp_receipt_render_pdf (receipt, entries, path, error))
    return NULL;
  return g_steal_pointer (&path);
}

/* ---- the order's journal entries ---- */

typedef struct {
  PpRegistry *registry;
  char       *subject;     /* "work order N", as the store journals it */
  GPtrArray  *entries;
  gint64      after_seq;
} Collect;

static void
collect_free (gpointer data)
{
  Collect *c = data;

  g_clear_object (&c->registry);
  g_free (c->subject);
  g_clear_pointer (&c->entries, g_ptr_array_unref);
  g_free (c);
}

static void collect_got_page (GObject *source, GAsyncResult *result, gpointer data);

static void
collect_next_page (GTask *task)
{
  Collect *c = g_task_get_task_data (task);

  pp_registry_list_audit_async (c->registry, c->after_seq, PP_REGISTRY_PAGE_MAX,
                                g_task_get_cancellable (task), collect_got_page, task);
}

static void
collect_got_page (GObject      *source,
                  GAsyncResult *result,
                  gpointer      data)
{
  g_autoptr(GTask) task = data;
  Collect *c = g_task_get_task_data (task);
  g_autoptr(GPtrArray) page = NULL;
  GError *error = NULL;
  guint i;

  page = pp_registry_list_audit_finish (c->registry, result, &error);
  if (page == NULL)
    {
      g_task_return_error (task, error);
      return;
    }
  for (i = 0; i < page->len; i++)
    {
      PpAuditEntry *entry = g_ptr_array_index (page, i);

      c->after_seq = MAX (c->after_seq, entry->seq);
      if (g_strcmp0 (entry->subject, c->subject) == 0)
        g_ptr_array_add (c->entries, g_steal_pointer (&page->pdata[i]));
    }
  if (page->len < PP_REGISTRY_PAGE_MAX)
    {
      g_task_return_pointer (task, g_steal_pointer (&c->entries),
                             (GDestroyNotify) g_ptr_array_unref);
      return;
    }
  collect_next_page (g_steal_pointer (&task));
}

static void
collect_got_order (GObject      *source,
                   GAsyncResult *result,
                   gpointer      data)
{
  g_autoptr(GTask) task = data;
  Collect *c = g_task_get_task_data (task);
  PpWorkOrder *order;
  GError *error = NULL;

  order = pp_registry_get_order_finish (c->registry, result, &error);
  if (order == NULL)
    {
      g_task_return_error (task, error);
      return;
    }
  c->subject = g_strdup_printf ("work order %" G_GINT64_FORMAT, order->id);
  pp_work_order_free (order);
  collect_next_page (g_steal_pointer (&task));
}

void
pp_receipt_collect_async (PpRegistry             *registry,
                          const PpInstallReceipt *receipt,
                          GCancellable           *cancellable,
                          GAsyncReadyCallback     callback,
                          gpointer                user_data)
{
  g_autoptr(GTask) task = NULL;
  Collect *c;

  g_return_if_fail (PP_IS_REGISTRY (registry));
  g_return_if_fail (receipt != NULL && receipt->order_uuid != NULL);

  task = g_task_new (registry, cancellable, callback, user_data);
  g_task_set_source_tag (task, pp_receipt_collect_async);
  c = g_new0 (Collect, 1);
  c->registry = g_object_ref (registry);
  c->entries = g_ptr_array_new_with_free_func ((GDestroyNotify) pp_audit_entry_free);
  g_task_set_task_data (task, c, collect_free);
  pp_registry_get_order_async (registry, receipt->order_uuid, cancellable,
                               collect_got_order, g_steal_pointer (&task));
}

GPtrArray *
pp_receipt_collect_finish (PpRegistry    *registry,
                           GAsyncResult  *result,
                           GError       **error)
{
  g_return_val_if_fail (g_task_is_valid (result, registry), NULL);
  g_return_val_if_fail (g_task_get_source_tag (G_TASK (result)) == pp_receipt_collect_async, NULL);

  return g_task_propagate_pointer (G_TASK (result), error);
}

/* ---- printing ---- */

typedef struct {
  PpInstallReceipt *receipt;
  GPtrArray        *entries;
} PrintData;

static void
print_data_free (gpointer data)
{
  PrintData *p = data;

  pp_install_receipt_free (p->receipt);
  g_clear_pointer (&p->entries, g_ptr_array_unref);
  g_free (p);
}

static void
on_draw_page (GtkPrintOperation *op,
              GtkPrintContext   *context,
              int                page_nr,
              PrintData         *p)
{
  /* The full sheet in points (use-full-page, unit points): the PDF's page. */
  pp_receipt_draw (gtk_print_context_get_cairo_context (context),
                   gtk_print_context_get_width (context),
                   gtk_print_context_get_height (context),
                   p->receipt, p->entries);
}

GtkPrintOperation *
pp_receipt_print_operation_new (const PpInstallReceipt *receipt,
                                GPtrArray              *entries)
{
  GtkPrintOperation *op;
  g_autoptr(GtkPageSetup) setup = gtk_page_setup_new ();
  g_autoptr(GtkPaperSize) a4 = gtk_paper_size_new (GTK_PAPER_NAME_A4);
  g_autofree char *job = NULL;
  PrintData *p;

  g_return_val_if_fail (receipt != NULL, NULL);

  p = g_new0 (PrintData, 1);
  p->receipt = g_new0 (PpInstallReceipt, 1);
  *p->receipt = (PpInstallReceipt) {
    .order_uuid = g_strdup (receipt->order_uuid),
    .serial = g_strdup (receipt->serial),
    .model = g_strdup (receipt->model),
    .merchant_name = g_strdup (receipt->merchant_name),
    .mid = g_strdup (receipt->mid),
    .tid = g_strdup (receipt->tid),
    .kcv = g_strdup (receipt->kcv),
    .program_name = g_strdup (receipt->program_name),
    .program_version = g_strdup (receipt->program_version),
    .approval_uuid = g_strdup (receipt->approval_uuid),
    .requester = g_strdup (receipt->requester),
    .approver = g_strdup (receipt->approver),
    .state = g_strdup (receipt->state),
    .started_at = receipt->started_at,
    .finished_at = receipt->finished_at,
  };
  p->entries = entries != NULL ? g_ptr_array_ref (entries) : NULL;

  op = gtk_print_operation_new ();
  gtk_page_setup_set_paper_size_and_default_margins (setup, a4);
  gtk_print_operation_set_default_page_setup (op, setup);
  gtk_print_operation_set_n_pages (op, 1);
  gtk_print_operation_set_unit (op, GTK_UNIT_POINTS);
  gtk_print_operation_set_use_full_page (op, TRUE);
  job = g_strdup_printf (_("Install receipt %s"), receipt->order_uuid != NULL ? receipt->order_uuid : "");
  gtk_print_operation_set_job_name (op, job);
  g_object_set_data_full (G_OBJECT (op), "pp-receipt", p, print_data_free);
  g_signal_connect (op, "draw-page", G_CALLBACK (on_draw_page), p);
  return op;
}

static void
show_print_error (GtkWindow    *parent,
                  const GError *error)
{
  GtkWidget *dialog = adw_message_dialog_new (parent, _("The receipt was not printed"),
                                              error->message);

  adw_message_dialog_add_response (ADW_MESSAGE_DIALOG (dialog), "close", _("_Close"));
  gtk_window_present (GTK_WINDOW (dialog));
}

static void
on_print_done (GtkPrintOperation       *op,
               GtkPrintOperationResult  result,
               GtkWindow               *parent)
{
  g_autoptr(GError) error = NULL;

  if (result == GTK_PRINT_OPERATION_RESULT_ERROR)
    {
      gtk_print_operation_get_error (op, &error);
      if (error != NULL)
        show_print_error (parent, error);
    }
  g_object_set_data (G_OBJECT (op), "pp-receipt-done", GINT_TO_POINTER (TRUE));
}

void
pp_receipt_print (GtkWindow              *parent,
                  const PpInstallReceipt *receipt,
                  GPtrArray              *entries)
{
  g_autoptr(GtkPrintOperation) op = NULL;
  g_autoptr(GError) error = NULL;
  GtkPrintOperationResult result;

  g_return_if_fail (parent == NULL || GTK_IS_WINDOW (parent));
  g_return_if_fail (receipt != NULL);

  op = pp_receipt_print_operation_new (receipt, entries);
  gtk_print_operation_set_allow_async (op, TRUE);
  g_signal_connect (op, "done", G_CALLBACK (on_print_done), parent);
  /* GTK holds the operation while the dialog is up and until "done". */
  result = gtk_print_operation_run (op, GTK_PRINT_OPERATION_ACTION_PRINT_DIALOG, parent, &error);
  if (result == GTK_PRINT_OPERATION_RESULT_ERROR && error != NULL &&
      g_object_get_data (G_OBJECT (op), "pp-receipt-done") == NULL)
    show_print_error (parent, error);
}
