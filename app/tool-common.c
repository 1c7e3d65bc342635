/* SPDX-License-Identifier: GPL-3.0-or-later
 *
 * tool-common.c: shared plumbing of posprov-tool.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <gio/gio.h>
#include <glib/gi18n.h>
#include <glib/gstdio.h>

#include "pp-validate.h"
#include "tool-common.h"

char *
pp_tool_printable (const char *text)
{
  g_autoptr(GString) out = NULL;
  const char *end;

  g_return_val_if_fail (text != NULL, NULL);

  end = text + strlen (text);
  for (const char *p = text; p < end;)
    {
      gunichar c = g_utf8_get_char_validated (p, end - p);
      gboolean bad = c == (gunichar) -1 || c == (gunichar) -2;

      if (bad || pp_validate_is_hidden_char (c))
        {
          if (out == NULL)
            out = g_string_new_len (text, p - text);
          if (bad || c < 0x80)
            g_string_append_printf (out, "\\x%02X", (guchar) *p);
          else
            g_string_append_printf (out, "\\u{%04X}", c);
          p = bad ? p + 1 : g_utf8_next_char (p);
          continue;
        }
      if (out != NULL)
        g_string_append_len (out, p, g_utf8_next_char (p) - p);
      p = g_utf8_next_char (p);
    }
  return out != NULL ? g_string_free (g_steal_pointer (&out), FALSE) : NULL;
}

static void
print_one_line (const char *message)
{
  g_autofree char *line = g_strdup (message);
  g_autofree char *safe = NULL;

  g_strdelimit (line, "\r\n", ' ');
  g_strstrip (line);
  /* Whatever a message quotes (a file name, an argument), nothing in it
   * reaches the terminal as a control sequence. */
  safe = pp_tool_printable (line);
  fprintf (stderr, "posprov-tool: %s\n", safe != NULL ? safe : line);
}

int
pp_tool_fail (const char *format,
              ...)
{
  g_autofree char *message = NULL;
  va_list args;

  va_start (args, format);
  message = g_strdup_vprintf (format, args);
  va_end (args);

  print_one_line (message);
  return 1;
}

int
pp_tool_fail_error (const GError *error)
{
  print_one_line (error != NULL ? error->message : _("Unknown error"));
  return 1;
}

gboolean
pp_tool_parse (GOptionContext   *context,
               int              *argc,
               char           ***argv)
{
  g_autoptr(GError) error = NULL;

  if (!g_option_context_parse (context, argc, argv, &error))
    {
      pp_tool_fail_error (error);
      return FALSE;
    }

  return TRUE;
}

static void
print_commands (FILE                *out,
                const char          *prefix,
                const PpToolCommand *commands)
{
  fprintf (out, _("Usage: %s COMMAND [OPTION…]\n\nCommands:\n"), prefix);
  for (guint i = 0; commands[i].name != NULL; i++)
    fprintf (out, "  %-14s %s\n", commands[i].name, _(commands[i].summary));
  fprintf (out, _("\nRun “%s COMMAND --help” for the options of a command.\n"), prefix);
}

int
pp_tool_dispatch (const char          *prefix,
                  const PpToolCommand *commands,
                  int                  argc,
                  char               **argv)
{
  if (argc < 2)
    return pp_tool_fail (_("missing command (see “%s --help”)"), prefix);

  if (g_str_equal (argv[1], "--help") || g_str_equal (argv[1], "-h") ||
      g_str_equal (argv[1], "help"))
    {
      print_commands (stdout, prefix, commands);
      return 0;
    }

  for (guint i = 0; commands[i].name != NULL; i++)
    {
      if (g_str_equal (argv[1], commands[i].name))
        {
          g_autofree char *sub = g_strdup_printf ("%s %s", prefix, argv[1]);
          char *saved = argv[1];
          int ret;

          /* Shift so the subcommand sees itself as argv[0]. */
          argv[1] = sub;
          ret = commands[i].main (argc - 1, argv + 1);
          argv[1] = saved;
          return ret;
        }
    }

  return pp_tool_fail (_("unknown command “%s” (see “%s --help”)"), argv[1], prefix);
}

void
pp_tool_print_json (JsonNode *node)
{
  g_autoptr(JsonGenerator) gen = json_generator_new ();
  g_autofree char *text = NULL;

  json_generator_set_root (gen, node);
  text = json_generator_to_data (gen, NULL);
  printf ("%s\n", text);
  fflush (stdout);
}

void
pp_tool_print_json_list (const char   *member,
                         GPtrArray    *items,
                         PpToolToJson  to_json)
{
  g_autoptr(JsonBuilder) b = json_builder_new ();
  g_autoptr(JsonNode) root = NULL;

  json_builder_begin_object (b);
  json_builder_set_member_name (b, member);
  json_builder_begin_array (b);
  for (guint i = 0; i < items->len; i++)
    json_builder_add_value (b, to_json (g_ptr_array_index (items, i)));
  json_builder_end_array (b);
  json_builder_set_member_name (b, "count");
  json_builder_add_int_value (b, items->len);
  json_builder_end_object (b);
  root = json_builder_get_root (b);
  pp_tool_print_json (root);
}

char *
pp_tool_default_db_path (void)
{
  GSettingsSchemaSource *source = g_settings_schema_source_get_default ();
  g_autoptr(GSettingsSchema) schema = NULL;

  /* The station's store-path setting, when the station's schema is
   * installed (GSettings aborts on a missing schema, so look first). */
  if (source != NULL)
    schema = g_settings_schema_source_lookup (source, APP_ID, TRUE);
  if (schema != NULL && g_settings_schema_has_key (schema, "store-path"))
    {
      g_autoptr(GSettings) settings = g_settings_new_full (schema, NULL, NULL);
      g_autofree char *configured = g_settings_get_string (settings, "store-path");

      if (configured != NULL && configured[0] != '\0')
        return g_steal_pointer (&configured);
    }
  return g_build_filename (g_get_user_data_dir (), "posprov", "posprov.db", NULL);
}

/* What the tool refuses to read: anything but a regular file could block
 * (a FIFO), never end (/dev/zero) or not be a file at all. */
static gboolean
check_regular (const char  *path,
               mode_t       mode,
               GError     **error)
{
  if (S_ISREG (mode))
    return TRUE;
  if (S_ISDIR (mode))
    g_set_error (error, G_FILE_ERROR, G_FILE_ERROR_INVAL, _("“%s” is a folder, not a file"), path);
  else if (S_ISFIFO (mode))
    g_set_error (error, G_FILE_ERROR, G_FILE_ERROR_INVAL, _("“%s” is a FIFO, not a file"), path);
  else if (S_ISCHR (mode))
    g_set_error (error, G_FILE_ERROR, G_FILE_ERROR_INVAL,
                 _("“%s” is a character device, not a file"), path);
  else if (S_ISBLK (mode))
    g_set_error (error, G_FILE_ERROR, G_FILE_ERROR_INVAL,
                 _("“%s” is a block device, not a file"), path);
  else if (S_ISSOCK (mode))
    g_set_error (error, G_FILE_ERROR, G_FILE_ERROR_INVAL, _("“%s” is a socket, not a file"), path);
  else
    g_set_error (error, G_FILE_ERROR, G_FILE_ERROR_INVAL, _("“%s” is not a regular file"), path);
  return FALSE;
}

static void
set_too_large (const char  *path,
               gsize        max_bytes,
               GError     **error)
{
  g_autofree char *limit = NULL;

  /* The limits are round: say "64 KiB", not "64.0 KiB". */
  if (max_bytes % (1024 * 1024) == 0)
    limit = g_strdup_printf ("%" G_GSIZE_FORMAT " MiB", max_bytes / (1024 * 1024));
  else if (max_bytes % 1024 == 0)
    limit = g_strdup_printf ("%" G_GSIZE_FORMAT " KiB", max_bytes / 1024);
  else
    limit = g_format_size_full (max_bytes, G_FORMAT_SIZE_IEC_UNITS);

  g_set_error (error, G_FILE_ERROR, G_FILE_ERROR_INVAL,
               _("“%s” is larger than %s, the most this command reads; is it the right file?"),
               path, limit);
}

static void
set_open_error (const char  *path,
                int          saved,
                GError     **error)
{
  g_set_error (error, G_FILE_ERROR, g_file_error_from_errno (saved), _("cannot open “%s”: %s"),
               path, g_strerror (saved));
}

static void
set_read_error (const char  *path,
                int          saved,
                GError     **error)
{
  g_set_error (error, G_FILE_ERROR, g_file_error_from_errno (saved), _("cannot read “%s”: %s"),
               path, g_strerror (saved));
}

gboolean
pp_tool_check_input_file (const char  *path,
                          gsize        max_bytes,
                          GError     **error)
{
  GStatBuf st;

  g_return_val_if_fail (path != NULL, FALSE);

  if (g_stat (path, &st) != 0)
    {
      set_open_error (path, errno, error);
      return FALSE;
    }
  if (!check_regular (path, st.st_mode, error))
    return FALSE;
  if ((guint64) st.st_size > max_bytes)
    {
      set_too_large (path, max_bytes, error);
      return FALSE;
    }
  return TRUE;
}

char *
pp_tool_read_file (const char  *path,
                   gsize        max_bytes,
                   gsize       *out_len,
                   GError     **error)
{
  g_autofree char *data = NULL;
  gsize len = 0;
  GStatBuf st;
  int fd;

  g_return_val_if_fail (path != NULL, NULL);
  g_return_val_if_fail (out_len != NULL, NULL);

  /* O_NONBLOCK: opening a FIFO for reading would wait for a writer. */
  fd = g_open (path, O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC, 0);
  if (fd < 0)
    {
      set_open_error (path, errno, error);
      return NULL;
    }
  if (fstat (fd, &st) != 0)
    {
      set_read_error (path, errno, error);
      g_close (fd, NULL);
      return NULL;
    }
  if (!check_regular (path, st.st_mode, error))
    {
      g_close (fd, NULL);
      return NULL;
    }
  if ((guint64) st.st_size > max_bytes)
    {
      set_too_large (path, max_bytes, error);
      g_close (fd, NULL);
      return NULL;
    }

  /* The size is a hint: the file may grow while it is read, so the limit
   * is checked on what is read, one byte past it. */
  data = g_malloc ((gsize) st.st_size + 1);
  for (gsize cap = (gsize) st.st_size + 1;;)
    {
      gssize n;

      if (len == cap)
        {
          if (cap > max_bytes)
            {
              set_too_large (path, max_bytes, error);
              g_close (fd, NULL);
              return NULL;
            }
          cap = MIN (cap * 2, max_bytes + 1);
          data = g_realloc (data, cap);
        }
      n = read (fd, data + len, cap - len);
      if (n < 0 && errno == EINTR)
        continue;
      if (n < 0)
        {
          set_read_error (path, errno, error);
          g_close (fd, NULL);
          return NULL;
        }
      if (n == 0)
        break;
      len += (gsize) n;
    }
  g_close (fd, NULL);
  if (len > max_bytes)
    {
      set_too_large (path, max_bytes, error);
      return NULL;
    }

  data = g_realloc (data, len + 1);
  data[len] = '\0';
  *out_len = len;
  return g_steal_pointer (&data);
}
