/* SPDX-License-Identifier: GPL-3.0-or-later
 *
 * tool-common.h: what every posprov-tool subcommand shares: the error
 * contract (non-zero exit, one line on stderr), option parsing and JSON.
 */
#pragma once

#include <glib.h>
#include <json-glib/json-glib.h>

G_BEGIN_DECLS

/* Every subcommand is `int main (int argc, char **argv)` where argv[0] is
 * the subcommand path ("posprov-tool tr31"). */
typedef int (*PpToolMain) (int argc, char **argv);

/* Prints "posprov-tool: MESSAGE" (one line) on stderr and returns 1. */
int      pp_tool_fail        (const char  *format,
                              ...) G_GNUC_PRINTF (1, 2);
/* Same, from a GError (message only, newlines folded). */
int      pp_tool_fail_error  (const GError *error);

/* Parses options; on failure prints a one-line reason and returns FALSE. */
gboolean pp_tool_parse       (GOptionContext *context,
                              int            *argc,
                              char         ***argv);

/* Dispatches argv[1] to one of @commands (NULL-terminated name/main pairs);
 * prints @summary with --help. */
typedef struct {
  const char *name;
  PpToolMain  main;
  const char *summary;
} PpToolCommand;

int      pp_tool_dispatch    (const char          *prefix,
                              const PpToolCommand *commands,
                              int                  argc,
                              char               **argv);

/* Prints @node as one JSON object on stdout followed by a newline. */
void     pp_tool_print_json  (JsonNode    *node);
/* Prints {"@member": [each of @items by @to_json], "count": N}. */
typedef JsonNode *(*PpToolToJson) (gconstpointer item);
void     pp_tool_print_json_list (const char   *member,
                                  GPtrArray    *items,
                                  PpToolToJson  to_json);

/* Largest token, certificate, CRL or key file the tool reads: a TR-34
 * token is a few KB, so anything bigger is a wrong path (a disk image,
 * /dev/zero), refused before it fills the memory. */
#define PP_TOOL_SMALL_FILE_MAX (64 * 1024)

/* Checks that @path names a regular file (not a FIFO, device, socket or
 * folder, which could block or never end) of at most @max_bytes; the
 * error names the file, what it is and the limit. */
gboolean pp_tool_check_input_file (const char  *path,
                                   gsize        max_bytes,
                                   GError     **error);

/* Reads the regular file @path, at most @max_bytes, NUL-terminated; the
 * same refusals as pp_tool_check_input_file. The file is opened without
 * blocking, so a FIFO is refused, not waited on. */
char    *pp_tool_read_file        (const char  *path,
                                   gsize        max_bytes,
                                   gsize       *out_len,
                                   GError     **error);

/* @text with what could steer a terminal (controls, bidi overrides and
 * other hidden characters, invalid UTF-8) shown as \xNN or \u{NNNN};
 * NULL when @text is safe as it is. */
char    *pp_tool_printable        (const char  *text);

/* Store path when --db is not given: the station's store-path setting if set,
 * else posprov/posprov.db in the XDG data dir, as the station chooses. */
char    *pp_tool_default_db_path (void);

G_END_DECLS
