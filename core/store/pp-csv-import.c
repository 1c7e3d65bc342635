/* SPDX-License-Identifier: GPL-3.0-or-later
 *
 * pp-csv-import.c: RFC 4180 reader for asset-intake files.
 *
 * The reader works on bytes: every delimiter (comma, quote, CR, LF) is
 * ASCII and can never occur inside a multi-byte UTF-8 sequence, so invalid
 * UTF-8 only needs to be found per line, not handled by the state machine.
 */
#include "config.h"

#include <glib/gi18n-lib.h>

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <gio/gio.h>
#include <glib/gstdio.h>

#include "pp-csv-import.h"
#include "pp-validate.h"

G_DEFINE_QUARK (pp-csv-import-error-quark, pp_csv_import_error)

enum { COL_SERIAL, COL_VENDOR, COL_MODEL, N_COLUMNS };

static const char * const column_names[N_COLUMNS] = { "serial", "vendor", "model" };

typedef enum {
  RECORD_OK,
  RECORD_EOF,
  RECORD_UNTERMINATED,
  RECORD_BAD_QUOTE,
} RecordStatus;

typedef struct {
  const char *p;
  const char *end;
  guint       line;
} Reader;

static void
row_free (PpCsvRow *row)
{
  g_free (row->serial);
  g_free (row->vendor);
  g_free (row->model);
  g_free (row);
}

static void
problem_free (PpCsvProblem *problem)
{
  g_free (problem->message);
  g_free (problem);
}

void
pp_csv_import_free (PpCsvImport *self)
{
  if (self == NULL)
    return;
  g_ptr_array_unref (self->rows);
  g_ptr_array_unref (self->problems);
  g_free (self);
}

static void
add_problem (PpCsvImport      *self,
             guint             line,
             PpCsvImportError  code,
             char             *message)
{
  PpCsvProblem *problem = g_new0 (PpCsvProblem, 1);
  guint pos = self->problems->len;

  problem->line = line;
  problem->code = code;
  problem->message = message;

  /* Rows are parsed in order, so this only walks back for rejections made
   * after parsing. */
  while (pos > 0 && ((PpCsvProblem *) g_ptr_array_index (self->problems, pos - 1))->line > line)
    pos--;
  g_ptr_array_insert (self->problems, (int) pos, problem);
}

static gboolean
at_line_end (const Reader *r)
{
  return r->p < r->end && (*r->p == '\n' || *r->p == '\r');
}

/* Consumes one line terminator: CRLF, LF or a lone CR. */
static void
skip_line_end (Reader *r)
{
  if (*r->p == '\r' && r->p + 1 < r->end && r->p[1] == '\n')
    r->p += 2;
  else
    r->p++;
  r->line++;
}

static void
skip_rest_of_line (Reader *r)
{
  while (r->p < r->end && !at_line_end (r))
    r->p++;
  if (r->p < r->end)
    skip_line_end (r);
}

/* Reads one record into @fields (element-type char*). *@last_line is the
 * line the record ends on; a quoted field may span lines. */
static RecordStatus
read_record (Reader    *r,
             GPtrArray *fields,
             gboolean  *out_any_quoted,
             guint     *last_line)
{
  g_ptr_array_set_size (fields, 0);
  *out_any_quoted = FALSE;

  if (r->p >= r->end)
    return RECORD_EOF;

  for (;;)
    {
      g_autoptr(GString) field = g_string_new (NULL);
      const char *start = r->p;

      while (r->p < r->end && (*r->p == ' ' || *r->p == '\t'))
        r->p++;

      if (r->p < r->end && *r->p == '"')
        {
          *out_any_quoted = TRUE;
          r->p++;
          for (;;)
            {
              if (r->p >= r->end)
                {
                  *last_line = r->line;
                  return RECORD_UNTERMINATED;
                }
              if (*r->p == '"')
                {
                  if (r->p + 1 < r->end && r->p[1] == '"')
                    {
                      g_string_append_c (field, '"');
                      r->p += 2;
                      continue;
                    }
                  r->p++;
                  break;
                }
              if (*r->p == '\n' || (*r->p == '\r' && !(r->p + 1 < r->end && r->p[1] == '\n')))
                r->line++;
              g_string_append_c (field, *r->p);
              r->p++;
            }

          /* Spaces inside quotes are no more meaningful than outside:
           * a vendor of "  " is as missing as an empty one. */
          g_strstrip (field->str);
          g_string_set_size (field, strlen (field->str));

          while (r->p < r->end && (*r->p == ' ' || *r->p == '\t'))
            r->p++;
          if (r->p < r->end && *r->p != ',' && !at_line_end (r))
            {
              *last_line = r->line;
              skip_rest_of_line (r);
              return RECORD_BAD_QUOTE;
            }
        }
      else
        {
          r->p = start;
          while (r->p < r->end && *r->p != ',' && !at_line_end (r))
            {
              g_string_append_c (field, *r->p);
              r->p++;
            }
          g_strstrip (field->str);
          g_string_set_size (field, strlen (field->str));
        }

      g_ptr_array_add (fields, g_string_free (g_steal_pointer (&field), FALSE));

      if (r->p < r->end && *r->p == ',')
        {
          r->p++;
          continue;
        }

      *last_line = r->line;
      if (r->p < r->end)
        skip_line_end (r);
      return RECORD_OK;
    }
}

/* TRUE for a line with nothing on it (or only spaces). */
static gboolean
record_is_blank (GPtrArray *fields,
                 gboolean   any_quoted)
{
  return !any_quoted && fields->len == 1 && *(const char *) g_ptr_array_index (fields, 0) == '\0';
}

/* bad_lines[i] is TRUE when line i+1 holds invalid UTF-8 (or NUL). */
static GArray *
find_bad_utf8_lines (const char *data,
                     gsize       len)
{
  GArray *bad = g_array_new (FALSE, FALSE, sizeof (gboolean));
  gsize i = 0;

  while (i < len)
    {
      gsize j = i;
      gboolean invalid;

      while (j < len && data[j] != '\n' && data[j] != '\r')
        j++;
      invalid = !g_utf8_validate (data + i, (gssize) (j - i), NULL);
      g_array_append_val (bad, invalid);
      if (j < len && data[j] == '\r' && j + 1 < len && data[j + 1] == '\n')
        j++;
      i = j + 1;
    }

  return bad;
}

static guint
first_bad_line (GArray *bad_lines,
                guint   first,
                guint   last)
{
  for (guint line = first; line <= last && line <= bad_lines->len; line++)
    if (g_array_index (bad_lines, gboolean, line - 1))
      return line;
  return 0;
}

static gboolean
parse_header (GPtrArray  *fields,
              int         column_of[N_COLUMNS],
              GError    **error)
{
  for (guint c = 0; c < N_COLUMNS; c++)
    column_of[c] = -1;

  for (guint i = 0; i < fields->len; i++)
    {
      const char *name = g_ptr_array_index (fields, i);
      gboolean known = FALSE;

      for (guint c = 0; c < N_COLUMNS; c++)
        {
          if (g_ascii_strcasecmp (name, column_names[c]) != 0)
            continue;
          if (column_of[c] != -1)
            {
              g_set_error (error, PP_CSV_IMPORT_ERROR, PP_CSV_IMPORT_ERROR_BAD_HEADER,
                           _("line 1: column “%s” appears twice in the header"), column_names[c]);
              return FALSE;
            }
          column_of[c] = (int) i;
          known = TRUE;
        }

      if (!known)
        {
          g_autofree char *shown = pp_validate_escape (name, -1, PP_VALIDATE_QUOTE_MAX);

          g_set_error (error, PP_CSV_IMPORT_ERROR, PP_CSV_IMPORT_ERROR_BAD_HEADER,
                       _("line 1: unknown column “%s” in the header; expected the header “serial,vendor,model”"),
                       shown);
          return FALSE;
        }
    }

  for (guint c = 0; c < N_COLUMNS; c++)
    {
      if (column_of[c] == -1)
        {
          g_set_error (error, PP_CSV_IMPORT_ERROR, PP_CSV_IMPORT_ERROR_BAD_HEADER,
                       _("line 1: the header has no column “%s”; expected the header “serial,vendor,model”"),
                       column_names[c]);
          return FALSE;
        }
    }

  return TRUE;
}

static void
check_row (PpCsvImport *self,
           GPtrArray   *fields,
           const int    column_of[N_COLUMNS],
           guint        line,
           GHashTable  *first_line_of)
{
  g_autoptr(GError) serial_error = NULL;
  g_autoptr(GError) text_error = NULL;
  const char *value[N_COLUMNS];
  g_autofree char *serial = NULL;
  gpointer seen;
  PpCsvRow *row;

  if (fields->len > N_COLUMNS)
    {
      add_problem (self, line, PP_CSV_IMPORT_ERROR_TOO_MANY_FIELDS,
                   g_strdup_printf (_("too many fields: %u, expected %d (serial, vendor, model)"),
                                    fields->len, N_COLUMNS));
      return;
    }

  for (guint c = 0; c < N_COLUMNS; c++)
    {
      value[c] = (guint) column_of[c] < fields->len ? g_ptr_array_index (fields, column_of[c]) : NULL;
      if (value[c] == NULL || *value[c] == '\0')
        {
          add_problem (self, line, PP_CSV_IMPORT_ERROR_MISSING_FIELD,
                       g_strdup_printf (_("missing field “%s”"), column_names[c]));
          return;
        }
    }

  if (!pp_validate_serial (value[COL_SERIAL], &serial_error))
    {
      /* Echoed on the terminal: escaped and cut (a serial can be anything,
       * an escape sequence or 10 MB). */
      g_autofree char *shown = pp_validate_escape (value[COL_SERIAL], -1, PP_VALIDATE_QUOTE_MAX);

      add_problem (self, line, PP_CSV_IMPORT_ERROR_BAD_SERIAL,
                   g_strdup_printf (_("bad serial “%s”: %s"), shown, serial_error->message));
      return;
    }

  for (guint c = COL_VENDOR; c <= COL_MODEL; c++)
    {
      gsize n = strlen (value[c]);

      if (n > PP_CSV_FIELD_MAX_BYTES)
        {
          add_problem (self, line, PP_CSV_IMPORT_ERROR_BAD_FIELD,
                       g_strdup_printf (_("field “%s” is %zu bytes long; at most %d bytes of UTF-8 are allowed"),
                                        column_names[c], n, PP_CSV_FIELD_MAX_BYTES));
          return;
        }
      if (!pp_validate_text (value[c], &text_error))
        {
          add_problem (self, line, PP_CSV_IMPORT_ERROR_BAD_FIELD,
                       g_strdup_printf (_("field “%s” %s"), column_names[c], text_error->message));
          return;
        }
    }

  serial = g_ascii_strup (value[COL_SERIAL], -1);
  seen = g_hash_table_lookup (first_line_of, serial);
  if (seen != NULL)
    {
      add_problem (self, line, PP_CSV_IMPORT_ERROR_DUPLICATE_IN_FILE,
                   g_strdup_printf (_("duplicate serial %s (first on line %u)"),
                                    serial, GPOINTER_TO_UINT (seen)));
      return;
    }
  g_hash_table_insert (first_line_of, g_strdup (serial), GUINT_TO_POINTER (line));

  row = g_new0 (PpCsvRow, 1);
  row->line = line;
  row->serial = g_steal_pointer (&serial);
  row->vendor = g_strdup (value[COL_VENDOR]);
  row->model = g_strdup (value[COL_MODEL]);
  g_ptr_array_add (self->rows, row);
}

PpCsvImport *
pp_csv_import_parse (const char  *data,
                     gssize       len,
                     GError     **error)
{
  g_autoptr(PpCsvImport) self = NULL;
  g_autoptr(GPtrArray) fields = g_ptr_array_new_with_free_func (g_free);
  g_autoptr(GHashTable) first_line_of = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  g_autoptr(GArray) bad_lines = NULL;
  int column_of[N_COLUMNS];
  gboolean have_header = FALSE;
  guint n_records = 0;
  Reader r;

  g_return_val_if_fail (data != NULL || len == 0, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  if (len < 0)
    len = (gssize) strlen (data);

  if (len >= 2 && (((guchar) data[0] == 0xff && (guchar) data[1] == 0xfe) ||
                   ((guchar) data[0] == 0xfe && (guchar) data[1] == 0xff)))
    {
      g_set_error_literal (error, PP_CSV_IMPORT_ERROR, PP_CSV_IMPORT_ERROR_INVALID_UTF8,
                           _("line 1: the file is UTF-16; save it as UTF-8"));
      return NULL;
    }

  /* A UTF-8 byte order mark is what spreadsheet programs write; not part
   * of the first column name. */
  if (len >= 3 && memcmp (data, "\xef\xbb\xbf", 3) == 0)
    {
      data += 3;
      len -= 3;
    }

  self = g_new0 (PpCsvImport, 1);
  self->rows = g_ptr_array_new_with_free_func ((GDestroyNotify) row_free);
  self->problems = g_ptr_array_new_with_free_func ((GDestroyNotify) problem_free);

  bad_lines = find_bad_utf8_lines (data, (gsize) len);
  r.p = data;
  r.end = data + len;
  r.line = 1;

  for (;;)
    {
      guint first = r.line;
      guint last = first;
      gboolean any_quoted;
      RecordStatus status = read_record (&r, fields, &any_quoted, &last);
      guint bad_line;

      if (status == RECORD_EOF)
        break;
      if (status == RECORD_OK && record_is_blank (fields, any_quoted))
        continue;

      bad_line = first_bad_line (bad_lines, first, last);

      if (!have_header)
        {
          if (bad_line != 0)
            {
              g_set_error (error, PP_CSV_IMPORT_ERROR, PP_CSV_IMPORT_ERROR_INVALID_UTF8,
                           _("line %u: the header is not valid UTF-8 text"), bad_line);
              return NULL;
            }
          if (status == RECORD_UNTERMINATED)
            {
              g_set_error (error, PP_CSV_IMPORT_ERROR, PP_CSV_IMPORT_ERROR_UNTERMINATED_QUOTE,
                           _("line %u: a quote in the header is never closed"), first);
              return NULL;
            }
          if (status == RECORD_BAD_QUOTE)
            {
              g_set_error (error, PP_CSV_IMPORT_ERROR, PP_CSV_IMPORT_ERROR_BAD_QUOTE,
                           _("line %u: text after a closing quote in the header"), first);
              return NULL;
            }
          if (first != 1)
            {
              g_set_error (error, PP_CSV_IMPORT_ERROR, PP_CSV_IMPORT_ERROR_BAD_HEADER,
                           _("line 1: the first line must be the header “serial,vendor,model”"));
              return NULL;
            }
          if (!parse_header (fields, column_of, error))
            return NULL;
          have_header = TRUE;
          continue;
        }

      n_records++;

      if (bad_line != 0)
        add_problem (self, bad_line, PP_CSV_IMPORT_ERROR_INVALID_UTF8,
                     g_strdup (_("not valid UTF-8 text")));
      else if (status == RECORD_UNTERMINATED)
        add_problem (self, first, PP_CSV_IMPORT_ERROR_UNTERMINATED_QUOTE,
                     g_strdup (_("a quoted field is never closed (it runs to the end of the file)")));
      else if (status == RECORD_BAD_QUOTE)
        add_problem (self, last, PP_CSV_IMPORT_ERROR_BAD_QUOTE,
                     g_strdup (_("text after a closing quote (write a quote inside a quoted field as \"\")")));
      else
        check_row (self, fields, column_of, first, first_line_of);
    }

  if (!have_header)
    {
      g_set_error_literal (error, PP_CSV_IMPORT_ERROR, PP_CSV_IMPORT_ERROR_EMPTY,
                           _("file is empty"));
      return NULL;
    }
  if (n_records == 0)
    {
      g_set_error_literal (error, PP_CSV_IMPORT_ERROR, PP_CSV_IMPORT_ERROR_NO_ROWS,
                           _("no terminals in file (only the header)"));
      return NULL;
    }

  return g_steal_pointer (&self);
}

PpCsvImport *
pp_csv_import_parse_file (const char  *path,
                          GError     **error)
{
  g_autoptr(GByteArray) data = NULL;
  GStatBuf st;
  int fd;

  g_return_val_if_fail (path != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  /* O_NONBLOCK: opening a FIFO for reading would wait for a writer. */
  fd = g_open (path, O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC, 0);
  if (fd < 0)
    {
      int saved = errno;
      g_set_error (error, PP_CSV_IMPORT_ERROR, PP_CSV_IMPORT_ERROR_READ,
                   _("cannot open %s: %s"), path, g_strerror (saved));
      return NULL;
    }
  if (fstat (fd, &st) != 0)
    {
      int saved = errno;
      g_close (fd, NULL);
      g_set_error (error, PP_CSV_IMPORT_ERROR, PP_CSV_IMPORT_ERROR_READ,
                   _("cannot read %s: %s"), path, g_strerror (saved));
      return NULL;
    }
  /* A FIFO would block, a device might never end: only files. */
  if (!S_ISREG (st.st_mode))
    {
      const char *kind = S_ISDIR (st.st_mode) ? _("a folder")
                       : S_ISFIFO (st.st_mode) ? _("a FIFO")
                       : S_ISCHR (st.st_mode) ? _("a character device")
                       : S_ISBLK (st.st_mode) ? _("a block device")
                       : S_ISSOCK (st.st_mode) ? _("a socket") : _("not a regular file");

      g_close (fd, NULL);
      g_set_error (error, PP_CSV_IMPORT_ERROR, PP_CSV_IMPORT_ERROR_READ,
                   _("%s is %s, not a CSV file"), path, kind);
      return NULL;
    }

  /* Read up to the limit rather than trust the size: the file may grow. */
  data = g_byte_array_new ();
  for (;;)
    {
      guint8 chunk[64 * 1024];
      gssize n = read (fd, chunk, sizeof chunk);

      if (n < 0 && (errno == EINTR || errno == EAGAIN))
        continue;
      if (n < 0)
        {
          int saved = errno;
          g_close (fd, NULL);
          g_set_error (error, PP_CSV_IMPORT_ERROR, PP_CSV_IMPORT_ERROR_READ,
                       _("cannot read %s: %s"), path, g_strerror (saved));
          return NULL;
        }
      if (n == 0)
        break;
      if (data->len + (gsize) n > PP_CSV_FILE_MAX_BYTES)
        {
          g_close (fd, NULL);
          g_set_error (error, PP_CSV_IMPORT_ERROR, PP_CSV_IMPORT_ERROR_TOO_LARGE,
                       _("%s is larger than %d MiB; split it into smaller files"),
                       path, PP_CSV_FILE_MAX_BYTES / (1024 * 1024));
          return NULL;
        }
      g_byte_array_append (data, chunk, (guint) n);
    }
  g_close (fd, NULL);

  return pp_csv_import_parse ((const char *) data->data, (gssize) data->len, error);
}

void
pp_csv_import_reject_rows (PpCsvImport      *self,
                           PpCsvImportError  code,
                           char            **messages)
{
  g_autoptr(GPtrArray) kept = NULL;
  g_autoptr(GPtrArray) merged = NULL;
  g_autoptr(GPtrArray) rejected = NULL;
  gpointer *rows, *old;
  gsize n_rows, n_old, o = 0, r = 0;

  g_return_if_fail (self != NULL);
  g_return_if_fail (messages != NULL || self->rows->len == 0);

  /* One pass over the rows, one merge of two line-ordered lists: linear
   * however many rows are rejected (a re-import of a million rows). */
  rows = g_ptr_array_steal (self->rows, &n_rows);
  kept = g_ptr_array_new_full ((guint) n_rows, (GDestroyNotify) row_free);
  rejected = g_ptr_array_new ();
  for (gsize i = 0; i < n_rows; i++)
    {
      PpCsvRow *row = rows[i];

      if (messages[i] == NULL)
        {
          g_ptr_array_add (kept, row);
          continue;
        }
      {
        PpCsvProblem *problem = g_new0 (PpCsvProblem, 1);

        problem->line = row->line;
        problem->code = code;
        problem->message = g_steal_pointer (&messages[i]);
        g_ptr_array_add (rejected, problem);
        row_free (row);
      }
    }
  g_free (rows);
  g_ptr_array_unref (self->rows);
  self->rows = g_steal_pointer (&kept);

  old = g_ptr_array_steal (self->problems, &n_old);
  merged = g_ptr_array_new_full ((guint) (n_old + rejected->len), (GDestroyNotify) problem_free);
  while (o < n_old || r < rejected->len)
    {
      if (r == rejected->len ||
          (o < n_old && ((PpCsvProblem *) old[o])->line <= ((PpCsvProblem *) rejected->pdata[r])->line))
        g_ptr_array_add (merged, old[o++]);
      else
        g_ptr_array_add (merged, rejected->pdata[r++]);
    }
  g_free (old);
  g_ptr_array_unref (self->problems);
  self->problems = g_steal_pointer (&merged);
}

void
pp_csv_import_reject_row (PpCsvImport      *self,
                          guint             index,
                          PpCsvImportError  code,
                          const char       *message)
{
  g_autofree char **messages = NULL;

  g_return_if_fail (self != NULL);
  g_return_if_fail (index < self->rows->len);
  g_return_if_fail (message != NULL);

  messages = g_new0 (char *, self->rows->len);
  messages[index] = g_strdup (message);
  pp_csv_import_reject_rows (self, code, messages);
}
