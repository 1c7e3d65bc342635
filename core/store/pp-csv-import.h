/* SPDX-License-Identifier: GPL-3.0-or-later
 *
 * pp-csv-import.h: parsing of asset-intake CSV files (serial, vendor,
 * model). Pure: no store. Every bad row becomes a problem with its line
 * number so the user can fix the file in one go; the caller decides
 * whether any problem blocks the import.
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

#define PP_CSV_IMPORT_ERROR (pp_csv_import_error_quark ())

/* Whole-file errors (returned as GError) and row problems (PpCsvProblem.code). */
typedef enum {
  PP_CSV_IMPORT_ERROR_EMPTY,               /* file: "file is empty" */
  PP_CSV_IMPORT_ERROR_NO_ROWS,             /* file: header only, "no terminals in file" */
  PP_CSV_IMPORT_ERROR_BAD_HEADER,          /* file: header does not name serial, vendor, model */
  PP_CSV_IMPORT_ERROR_READ,                /* file: cannot be read */
  PP_CSV_IMPORT_ERROR_INVALID_UTF8,        /* row (or header): bytes are not UTF-8 */
  PP_CSV_IMPORT_ERROR_UNTERMINATED_QUOTE,  /* row (or header): quote never closed */
  PP_CSV_IMPORT_ERROR_BAD_QUOTE,           /* row (or header): text after a closing quote */
  PP_CSV_IMPORT_ERROR_MISSING_FIELD,       /* row: too few fields or an empty one */
  PP_CSV_IMPORT_ERROR_TOO_MANY_FIELDS,     /* row */
  PP_CSV_IMPORT_ERROR_BAD_SERIAL,          /* row: pp_validate_serial refused it */
  PP_CSV_IMPORT_ERROR_BAD_FIELD,           /* row: vendor/model too long or control characters */
  PP_CSV_IMPORT_ERROR_DUPLICATE_IN_FILE,   /* row: serial seen on an earlier line */
  PP_CSV_IMPORT_ERROR_DUPLICATE_IN_STORE,  /* row: set by the importer, not by the parser */
  PP_CSV_IMPORT_ERROR_TOO_LARGE,           /* file: more than PP_CSV_FILE_MAX_BYTES */
} PpCsvImportError;

/* Longest vendor or model accepted, in bytes of UTF-8: the store's limit,
 * checked here so the user learns the line number. */
#define PP_CSV_FIELD_MAX_BYTES 64

/* Largest file pp_csv_import_parse_file reads (about two million rows), so
 * a wrong path such as /dev/zero or a disk image is refused, not read until
 * memory runs out. */
#define PP_CSV_FILE_MAX_BYTES (64 * 1024 * 1024)

typedef struct {
  guint  line;     /* 1-based line the row starts on */
  char  *serial;   /* valid, upper case */
  char  *vendor;
  char  *model;
} PpCsvRow;

typedef struct {
  guint             line;     /* 1-based */
  PpCsvImportError  code;
  char             *message;  /* reason without the line number */
} PpCsvProblem;

typedef struct {
  GPtrArray *rows;      /* element-type PpCsvRow, good rows in file order */
  GPtrArray *problems;  /* element-type PpCsvProblem, ordered by line */
} PpCsvImport;

GQuark       pp_csv_import_error_quark (void);

/* Parses @data (@len bytes, or -1 if NUL-terminated). Returns NULL with
 * @error only when the file as a whole is unusable (empty, header only,
 * bad header); bad rows are reported in ->problems. */
PpCsvImport *pp_csv_import_parse       (const char   *data,
                                        gssize        len,
                                        GError      **error);
/* Reads and parses the file at @path: PP_CSV_IMPORT_ERROR_READ (message names
 * the file) when it cannot be read or is a folder, PP_CSV_IMPORT_ERROR_TOO_LARGE
 * past PP_CSV_FILE_MAX_BYTES. */
PpCsvImport *pp_csv_import_parse_file  (const char   *path,
                                        GError      **error);

/* Moves every good row i with @messages[i] != NULL to the problems with
 * that message (taken: the entry is set to NULL) and @code, keeping the
 * rows in file order and the problems ordered by line. @messages has one
 * entry per row. Linear in rows + problems. */
void         pp_csv_import_reject_rows (PpCsvImport      *self,
                                        PpCsvImportError  code,
                                        char            **messages);
/* Moves good row @index to the problems (e.g. its serial is already in the
 * store), keeping the problems ordered by line. Linear: to reject many
 * rows, use pp_csv_import_reject_rows once. */
void         pp_csv_import_reject_row  (PpCsvImport      *self,
                                        guint             index,
                                        PpCsvImportError  code,
                                        const char       *message);

void         pp_csv_import_free        (PpCsvImport  *self);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (PpCsvImport, pp_csv_import_free)

G_END_DECLS
