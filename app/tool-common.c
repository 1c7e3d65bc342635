/* SPDX-License-Identifier: GPL-3.0-or-later
 *
 * tool-common.c: shared plumbing of posprov-tool.
 */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include <gio/gio.h>
#include <glib/gi18n.h>

#include "tool-common.h"

static void
print_one_line (const char *message)
{
  g_autofree char *line = g_strdup (message);

  g_strdelimit (line, "\r\n", ' ');
  g_strstrip (line);
  fprintf (stderr, "posprov-tool: %s\n", line);
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
