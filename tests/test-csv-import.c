/* SPDX-License-Identifier: GPL-3.0-or-later
 *
 * test-csv-import.c: the asset-intake CSV reader: good files in every
 * encoding variant a spreadsheet produces, and each kind of bad row
 * reported on its own line number.
 */
#include "config.h"

#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <glib/gstdio.h>

#include "pp-csv-import.h"
#include "pp-test-util.h"
#include "pp-validate.h"

static PpCsvRow *
row_at (PpCsvImport *import,
        guint        i)
{
  g_assert_cmpuint (i, <, import->rows->len);
  return g_ptr_array_index (import->rows, i);
}

static PpCsvProblem *
problem_at (PpCsvImport *import,
            guint        i)
{
  g_assert_cmpuint (i, <, import->problems->len);
  return g_ptr_array_index (import->problems, i);
}

static void
assert_row (PpCsvImport *import,
            guint        i,
            guint        line,
            const char  *serial,
            const char  *vendor,
            const char  *model)
{
  PpCsvRow *row = row_at (import, i);

  g_assert_cmpuint (row->line, ==, line);
  g_assert_cmpstr (row->serial, ==, serial);
  g_assert_cmpstr (row->vendor, ==, vendor);
  g_assert_cmpstr (row->model, ==, model);
}

static void
assert_problem (PpCsvImport      *import,
                guint             i,
                guint             line,
                PpCsvImportError  code,
                const char       *needle)
{
  PpCsvProblem *problem = problem_at (import, i);

  g_assert_cmpuint (problem->line, ==, line);
  g_assert_cmpint (problem->code, ==, code);
  if (strstr (problem->message, needle) == NULL)
    g_error ("problem on line %u: “%s” lacks “%s”", line, problem->message, needle);
}

static void
test_good_file (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(PpCsvImport) import = pp_csv_import_parse (
    "serial,vendor,model\n"
    "pax-a920-0001,PAX,A920\n"
    "NL-V240M-77,Newland,V240m\n"
    "\n", -1, &error);

  g_assert_no_error (error);
  g_assert_cmpuint (import->rows->len, ==, 2);
  g_assert_cmpuint (import->problems->len, ==, 0);
  /* serials are stored upper case */
  assert_row (import, 0, 2, "PAX-A920-0001", "PAX", "A920");
  assert_row (import, 1, 3, "NL-V240M-77", "Newland", "V240m");
}

static void
test_bom_crlf_reordered (void)
{
  g_autoptr(GError) error = NULL;
  /* What a spreadsheet on Windows saves: BOM, CRLF, its own column order. */
  g_autoptr(PpCsvImport) import = pp_csv_import_parse (
    "\xef\xbb\xbfModel,Serial,Vendor\r\n"
    "A920,SN0001,PAX\r\n"
    "V240m,SN0002,\xe6\x96\xb0\xe5\xa4\xa7\xe9\x99\x86\r\n", -1, &error);

  g_assert_no_error (error);
  g_assert_cmpuint (import->problems->len, ==, 0);
  g_assert_cmpuint (import->rows->len, ==, 2);
  assert_row (import, 0, 2, "SN0001", "PAX", "A920");
  assert_row (import, 1, 3, "SN0002", "新大陆", "V240m");
}

static void
test_quotes (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(PpCsvImport) import = pp_csv_import_parse (
    "serial,vendor,model\n"
    "\"SN0001\",\"Verifone, Inc.\",\"V200c \"\"Plus\"\"\"\n"
    "SN0002, \"Ingenico\" ,Move/5000\n"
    "\"\",PAX,A80\n", -1, &error);

  g_assert_no_error (error);
  g_assert_cmpuint (import->rows->len, ==, 2);
  assert_row (import, 0, 2, "SN0001", "Verifone, Inc.", "V200c \"Plus\"");
  assert_row (import, 1, 3, "SN0002", "Ingenico", "Move/5000");
  g_assert_cmpuint (import->problems->len, ==, 1);
  assert_problem (import, 0, 4, PP_CSV_IMPORT_ERROR_MISSING_FIELD, "missing field “serial”");
}

static void
test_bad_rows (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(PpCsvImport) import = pp_csv_import_parse (
    "serial,vendor,model\n"               /* 1 */
    "SN0001,PAX,A920\n"                   /* 2 good */
    "SN0002,PAX\n"                        /* 3 missing model */
    "SN0003,,A920\n"                      /* 4 empty vendor */
    "SN 0004,PAX,A920\n"                  /* 5 bad serial */
    "SN0005,PAX,A920,extra\n"             /* 6 too many fields */
    "sn0001,PAX,A920\n"                   /* 7 duplicate of line 2 */
    "SN0006,PA\xff\xfe,A920\n"            /* 8 invalid UTF-8 */
    "SN0007,\"PAX\"x,A920\n"              /* 9 text after quote */
    "SN0008,\"Multi\nline\",A920\n"       /* 10-11 control character */
    "S1,PAX,A920\n"                       /* 12 serial too short */
    "SN0009,PAX,A920\n"                   /* 13 good */
    "SN0010,\"PAX,A920\n"                 /* 14 unterminated quote */
    "SN0011,PAX,A920\n", -1, &error);     /* swallowed by the open quote */

  g_assert_no_error (error);
  g_assert_cmpuint (import->rows->len, ==, 2);
  assert_row (import, 0, 2, "SN0001", "PAX", "A920");
  assert_row (import, 1, 13, "SN0009", "PAX", "A920");

  g_assert_cmpuint (import->problems->len, ==, 10);
  assert_problem (import, 0, 3, PP_CSV_IMPORT_ERROR_MISSING_FIELD, "“model”");
  assert_problem (import, 1, 4, PP_CSV_IMPORT_ERROR_MISSING_FIELD, "“vendor”");
  assert_problem (import, 2, 5, PP_CSV_IMPORT_ERROR_BAD_SERIAL, "“SN 0004”");
  assert_problem (import, 3, 6, PP_CSV_IMPORT_ERROR_TOO_MANY_FIELDS, "too many fields: 4");
  assert_problem (import, 4, 7, PP_CSV_IMPORT_ERROR_DUPLICATE_IN_FILE, "first on line 2");
  assert_problem (import, 5, 8, PP_CSV_IMPORT_ERROR_INVALID_UTF8, "UTF-8");
  assert_problem (import, 6, 9, PP_CSV_IMPORT_ERROR_BAD_QUOTE, "closing quote");
  assert_problem (import, 7, 10, PP_CSV_IMPORT_ERROR_BAD_FIELD, "“vendor”");
  assert_problem (import, 8, 12, PP_CSV_IMPORT_ERROR_BAD_SERIAL, "4 to 32");
  assert_problem (import, 9, 14, PP_CSV_IMPORT_ERROR_UNTERMINATED_QUOTE, "never closed");
}

static char *
repeat (const char *unit,
        guint       n)
{
  GString *s = g_string_new (NULL);

  for (guint i = 0; i < n; i++)
    g_string_append (s, unit);
  return g_string_free (s, FALSE);
}

static void
test_field_limits (void)
{
  /* The store takes at most 64 bytes; a CJK character is 3 of them. */
  g_autofree char *cjk_21 = repeat ("\xe8\x81\x94", 21);
  g_autofree char *cjk_22 = repeat ("\xe8\x81\x94", 22);
  g_autofree char *ascii_64 = repeat ("A", 64);
  g_autofree char *ascii_65 = repeat ("A", 65);
  g_autofree char *text = g_strdup_printf ("serial,vendor,model\n"
                                           "SN0001,%s,M\n"
                                           "SN0002,%s,M\n"
                                           "SN0003,V,%s\n"
                                           "SN0004,V,%s\n"
                                           "SN0005,\"   \",M\n",
                                           cjk_21, cjk_22, ascii_64, ascii_65);
  g_autoptr(GError) error = NULL;
  g_autoptr(PpCsvImport) import = pp_csv_import_parse (text, -1, &error);

  g_assert_no_error (error);
  g_assert_cmpuint (import->rows->len, ==, 2);
  assert_row (import, 0, 2, "SN0001", cjk_21, "M");
  assert_row (import, 1, 4, "SN0003", "V", ascii_64);
  g_assert_cmpuint (import->problems->len, ==, 3);
  assert_problem (import, 0, 3, PP_CSV_IMPORT_ERROR_BAD_FIELD, "“vendor” is 66 bytes");
  assert_problem (import, 1, 5, PP_CSV_IMPORT_ERROR_BAD_FIELD, "“model” is 65 bytes");
  assert_problem (import, 2, 6, PP_CSV_IMPORT_ERROR_MISSING_FIELD, "“vendor”");
}

static void
test_invalid_utf8_line_in_crlf (void)
{
  g_autoptr(GError) error = NULL;
  /* Latin-1 "é" (0xE9) as an old export would write it. */
  g_autoptr(PpCsvImport) import = pp_csv_import_parse (
    "serial,vendor,model\r\n"
    "SN0001,PAX,A920\r\n"
    "SN0002,Soci\xe9t\xe9,T1\r\n"
    "SN0003,PAX,A920\r\n", -1, &error);

  g_assert_no_error (error);
  g_assert_cmpuint (import->rows->len, ==, 2);
  g_assert_cmpuint (import->problems->len, ==, 1);
  assert_problem (import, 0, 3, PP_CSV_IMPORT_ERROR_INVALID_UTF8, "UTF-8");
}

static void
test_whole_file_errors (void)
{
  static const struct {
    const char       *text;
    PpCsvImportError  code;
    const char       *needle;
  } cases[] = {
    { "", PP_CSV_IMPORT_ERROR_EMPTY, "file is empty" },
    { "\xef\xbb\xbf", PP_CSV_IMPORT_ERROR_EMPTY, "file is empty" },
    { "\n\r\n  \n", PP_CSV_IMPORT_ERROR_EMPTY, "file is empty" },
    { "serial,vendor,model\n", PP_CSV_IMPORT_ERROR_NO_ROWS, "no terminals in file" },
    { "serial,vendor,model", PP_CSV_IMPORT_ERROR_NO_ROWS, "no terminals in file" },
    { "\xef\xbb\xbfserial,vendor,model\r\n\r\n", PP_CSV_IMPORT_ERROR_NO_ROWS, "no terminals in file" },
    { "serial,vendor\nSN0001,PAX\n", PP_CSV_IMPORT_ERROR_BAD_HEADER, "no column “model”" },
    { "SN0001,PAX,A920\n", PP_CSV_IMPORT_ERROR_BAD_HEADER, "unknown column “SN0001”" },
    { "serial,vendor,model,colour\nSN0001,PAX,A920,red\n", PP_CSV_IMPORT_ERROR_BAD_HEADER, "“colour”" },
    { "serial,serial,model\n", PP_CSV_IMPORT_ERROR_BAD_HEADER, "appears twice" },
    { "\nserial,vendor,model\nSN0001,PAX,A920\n", PP_CSV_IMPORT_ERROR_BAD_HEADER, "first line" },
    { "\"serial,vendor,model\n", PP_CSV_IMPORT_ERROR_UNTERMINATED_QUOTE, "line 1" },
    { "ser\xc3ial,vendor,model\n", PP_CSV_IMPORT_ERROR_INVALID_UTF8, "line 1" },
    { "\xff\xfes\0e\0", PP_CSV_IMPORT_ERROR_INVALID_UTF8, "UTF-16" },
  };

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autoptr(GError) error = NULL;
      gssize len = (cases[i].text[0] == '\xff') ? 6 : -1;
      g_autoptr(PpCsvImport) import = pp_csv_import_parse (cases[i].text, len, &error);

      g_test_message ("case %u", i);
      g_assert_null (import);
      g_assert_error (error, PP_CSV_IMPORT_ERROR, (int) cases[i].code);
      if (strstr (error->message, cases[i].needle) == NULL)
        g_error ("case %u: “%s” lacks “%s”", i, error->message, cases[i].needle);
    }
}

static void
test_reject_keeps_order (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(PpCsvImport) import = pp_csv_import_parse (
    "serial,vendor,model\n"
    "SN0001,PAX,A920\n"
    "SN0002\n"
    "SN0003,PAX,A920\n"
    "SN0004\n", -1, &error);

  g_assert_no_error (error);
  g_assert_cmpuint (import->rows->len, ==, 2);
  pp_csv_import_reject_row (import, 1, PP_CSV_IMPORT_ERROR_DUPLICATE_IN_STORE,
                            "serial SN0003 is already registered");
  g_assert_cmpuint (import->rows->len, ==, 1);
  assert_row (import, 0, 2, "SN0001", "PAX", "A920");
  g_assert_cmpuint (import->problems->len, ==, 3);
  assert_problem (import, 0, 3, PP_CSV_IMPORT_ERROR_MISSING_FIELD, "“vendor”");
  assert_problem (import, 1, 4, PP_CSV_IMPORT_ERROR_DUPLICATE_IN_STORE, "SN0003");
  assert_problem (import, 2, 5, PP_CSV_IMPORT_ERROR_MISSING_FIELD, "“vendor”");
}

/* A re-import of a million rows already in the register: every good row
 * rejected at once, mixed with rows the parser refused, in one pass. The
 * old row-at-a-time rejection was quadratic (100k rows: 21 s; 1M: not done
 * after 120 s); this takes about a second. */
#define MANY_ROWS 1000000

static void
test_reject_many_rows (void)
{
  g_autoptr(GString) text = g_string_sized_new (MANY_ROWS * 22);
  g_autoptr(GError) error = NULL;
  g_autoptr(PpCsvImport) import = NULL;
  g_autofree char **messages = NULL;
  guint n_bad = 0, n_kept = 0, n_rows;
  gint64 start;

  g_string_append (text, "serial,vendor,model\n");
  for (guint i = 0; i < MANY_ROWS; i++)
    {
      /* Every 1000th row lacks its model: a parser problem among the
       * rejections, so the two lists have to be merged by line. */
      if (i % 1000 == 500)
        g_string_append_printf (text, "SN%08u,PAX\n", i);
      else
        g_string_append_printf (text, "SN%08u,PAX,A920\n", i);
    }

  start = g_get_monotonic_time ();
  import = pp_csv_import_parse (text->str, (gssize) text->len, &error);
  g_assert_no_error (error);
  n_rows = import->rows->len;
  g_assert_cmpuint (n_rows, ==, MANY_ROWS - MANY_ROWS / 1000);
  g_assert_cmpuint (import->problems->len, ==, MANY_ROWS / 1000);

  /* All in the register but every 100th row. */
  messages = g_new0 (char *, n_rows);
  for (guint i = 0; i < n_rows; i++)
    {
      PpCsvRow *row = g_ptr_array_index (import->rows, i);

      if (i % 100 != 0)
        {
          messages[i] = g_strdup_printf ("serial %s is already in the register", row->serial);
          n_bad++;
        }
      else
        n_kept++;
    }
  pp_csv_import_reject_rows (import, PP_CSV_IMPORT_ERROR_DUPLICATE_IN_STORE, messages);
  g_test_message ("parse and reject %u rows: %.2f s", MANY_ROWS,
                  (double) (g_get_monotonic_time () - start) / G_USEC_PER_SEC);
  for (guint i = 0; i < n_rows; i++)
    g_assert_null (messages[i]);

  g_assert_cmpuint (import->rows->len, ==, n_kept);
  g_assert_cmpuint (import->problems->len, ==, n_bad + MANY_ROWS / 1000);
  /* Line 2 kept, lines 3.. rejected; the short row of line 502 where it
   * belongs, between the rejections of lines 501 and 504 (503 is kept). */
  assert_row (import, 0, 2, "SN00000000", "PAX", "A920");
  assert_row (import, 1, 102, "SN00000100", "PAX", "A920");
  assert_row (import, 5, 503, "SN00000501", "PAX", "A920");
  assert_problem (import, 0, 3, PP_CSV_IMPORT_ERROR_DUPLICATE_IN_STORE, "SN00000001 is already");
  assert_problem (import, 494, 501, PP_CSV_IMPORT_ERROR_DUPLICATE_IN_STORE, "SN00000499");
  assert_problem (import, 495, 502, PP_CSV_IMPORT_ERROR_MISSING_FIELD, "“model”");
  assert_problem (import, 496, 504, PP_CSV_IMPORT_ERROR_DUPLICATE_IN_STORE, "SN00000502");
  assert_problem (import, import->problems->len - 1, MANY_ROWS + 1,
                  PP_CSV_IMPORT_ERROR_DUPLICATE_IN_STORE, "SN00999999");
  for (guint i = 1; i < import->problems->len; i++)
    g_assert_cmpuint (problem_at (import, i - 1)->line, <, problem_at (import, i)->line);
  for (guint i = 1; i < import->rows->len; i++)
    g_assert_cmpuint (row_at (import, i - 1)->line, <, row_at (import, i)->line);
}

/* The field rule and the echo: each hidden character refused by code
 * point, good text (CJK, accents, punctuation) kept, and the escaped echo
 * unambiguous and cut. */
static void
test_hidden_characters (void)
{
  static const struct { const char *text; gunichar c; } bad[] = {
    { "\x1b[31m", 0x1b }, { "A\x7f", 0x7f }, { "A\xc2\x85", 0x85 }, { "A\xc2\x9b", 0x9b },
    { "\xe2\x80\x8e", 0x200e }, { "\xe2\x80\x8f", 0x200f }, { "\xe2\x80\xaa", 0x202a },
    { "\xe2\x80\xae", 0x202e }, { "\xe2\x81\xa6", 0x2066 }, { "\xe2\x81\xa9", 0x2069 },
    { "\xe2\x80\x8b", 0x200b }, { "\xef\xbb\xbf", 0xfeff }, { "\xe2\x80\xa8", 0x2028 },
  };
  static const char * const good[] = {
    "PAX", "Ingenico, SA", "\xe8\x81\x94\xe8\xbf\xaa", "Verifone Caf\xc3\xa9", "Move/5000 (v2)",
  };
  g_autofree char *cut = NULL;
  g_autofree char *long_text = g_strnfill (100, 'x');

  for (guint i = 0; i < G_N_ELEMENTS (bad); i++)
    {
      g_autoptr(GError) error = NULL;
      g_autofree char *expected = g_strdup_printf ("U+%04X", bad[i].c);

      g_assert_false (pp_validate_text (bad[i].text, &error));
      g_assert_error (error, PP_VALIDATE_ERROR, PP_VALIDATE_ERROR_BAD_CHARACTER);
      if (strstr (error->message, expected) == NULL)
        g_error ("case %u: “%s” lacks %s", i, error->message, expected);
    }
  for (guint i = 0; i < G_N_ELEMENTS (good); i++)
    g_assert_true (pp_validate_text (good[i], NULL));
  {
    g_autoptr(GError) error = NULL;

    g_assert_false (pp_validate_text ("PA\xff", &error));
    g_assert_error (error, PP_VALIDATE_ERROR, PP_VALIDATE_ERROR_INVALID_UTF8);
  }

  {
    g_autofree char *e1 = pp_validate_escape ("\x1b[2J\xe2\x80\xae" "A\\B\xff\xe8\x81\x94", -1, 64);
    g_autofree char *e2 = pp_validate_escape ("A\0B", 3, 64);

    g_assert_cmpstr (e1, ==, "\\x1B[2J\\u{202E}A\\\\B\\xFF\xe8\x81\x94");
    g_assert_cmpstr (e2, ==, "A\\x00B");
  }
  cut = pp_validate_escape (long_text, -1, 64);
  g_assert_cmpuint (g_utf8_strlen (cut, -1), ==, 65);
  g_assert_true (g_str_has_suffix (cut, "x…"));
}

static void
test_parse_file (void)
{
  g_autofree char *dir = pp_test_make_tmpdir ();
  g_autofree char *path = g_build_filename (dir, "intake.csv", NULL);
  g_autofree char *missing = g_build_filename (dir, "absent.csv", NULL);
  g_autoptr(GError) error = NULL;
  g_autoptr(PpCsvImport) import = NULL;

  g_assert_true (g_file_set_contents (path, "serial,vendor,model\nSN0001,PAX,A920", -1, &error));
  import = pp_csv_import_parse_file (path, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (import->rows->len, ==, 1);
  assert_row (import, 0, 2, "SN0001", "PAX", "A920");

  g_assert_null (pp_csv_import_parse_file (missing, &error));
  g_assert_error (error, PP_CSV_IMPORT_ERROR, PP_CSV_IMPORT_ERROR_READ);
  g_assert_nonnull (strstr (error->message, "absent.csv"));
  g_clear_error (&error);

  g_assert_null (pp_csv_import_parse_file (dir, &error));
  g_assert_error (error, PP_CSV_IMPORT_ERROR, PP_CSV_IMPORT_ERROR_READ);
  g_assert_nonnull (strstr (error->message, "is a folder"));
  g_clear_error (&error);

  /* What a wrong path can name: devices, empty or endless, are refused
   * as what they are, not read. */
  g_assert_null (pp_csv_import_parse_file ("/dev/null", &error));
  g_assert_error (error, PP_CSV_IMPORT_ERROR, PP_CSV_IMPORT_ERROR_READ);
  g_assert_nonnull (strstr (error->message, "/dev/null is a character device, not a CSV file"));
  g_clear_error (&error);
  g_assert_null (pp_csv_import_parse_file ("/dev/zero", &error));
  g_assert_error (error, PP_CSV_IMPORT_ERROR, PP_CSV_IMPORT_ERROR_READ);
  g_assert_nonnull (strstr (error->message, "character device"));
  g_clear_error (&error);

  /* A FIFO with no writer: refused at once instead of blocking forever. */
  {
    g_autofree char *fifo = g_build_filename (dir, "intake.fifo", NULL);
    g_autofree char *expected = g_strdup_printf ("%s is a FIFO, not a CSV file", fifo);

    g_assert_cmpint (mkfifo (fifo, 0600), ==, 0);
    g_assert_null (pp_csv_import_parse_file (fifo, &error));
    g_assert_error (error, PP_CSV_IMPORT_ERROR, PP_CSV_IMPORT_ERROR_READ);
    g_assert_nonnull (strstr (error->message, expected));
    g_clear_error (&error);
  }

  /* A regular file past the limit (sparse: no disk used) is refused
   * without being read into memory. */
  {
    g_autofree char *big = g_build_filename (dir, "big.csv", NULL);
    int fd = g_open (big, O_WRONLY | O_CREAT | O_TRUNC, 0600);

    g_assert_cmpint (fd, >=, 0);
    g_assert_cmpint (ftruncate (fd, (off_t) PP_CSV_FILE_MAX_BYTES + 1), ==, 0);
    g_close (fd, NULL);
    g_assert_null (pp_csv_import_parse_file (big, &error));
    g_assert_error (error, PP_CSV_IMPORT_ERROR, PP_CSV_IMPORT_ERROR_TOO_LARGE);
    g_assert_nonnull (strstr (error->message, "split it"));
    g_clear_error (&error);
  }
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/csv-import/good", test_good_file);
  g_test_add_func ("/csv-import/bom-crlf-reordered", test_bom_crlf_reordered);
  g_test_add_func ("/csv-import/quotes", test_quotes);
  g_test_add_func ("/csv-import/bad-rows", test_bad_rows);
  g_test_add_func ("/csv-import/field-limits", test_field_limits);
  g_test_add_func ("/csv-import/invalid-utf8-crlf", test_invalid_utf8_line_in_crlf);
  g_test_add_func ("/csv-import/whole-file-errors", test_whole_file_errors);
  g_test_add_func ("/csv-import/reject-keeps-order", test_reject_keeps_order);
  g_test_add_func ("/csv-import/reject-many-rows", test_reject_many_rows);
  g_test_add_func ("/csv-import/hidden-characters", test_hidden_characters);
  g_test_add_func ("/csv-import/parse-file", test_parse_file);
  return g_test_run ();
}
