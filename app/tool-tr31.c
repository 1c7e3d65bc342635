/* SPDX-License-Identifier: GPL-3.0-or-later
 *
 * tool-tr31.c: posprov-tool tr31 wrap / unwrap: TR-31 / X9.143 key blocks
 * (lab commands: the clear key is on the command line or printed).
 */
#include "config.h"

#include <stdio.h>

#include <glib/gi18n.h>

#include "pp-hex.h"
#include "pp-secure-buffer.h"
#include "pp-tr31.h"
#include "tool-commands.h"
#include "tool-common.h"

static GOptionContext *
new_context (const char   *parameters,
             const char   *summary,
             GOptionEntry *entries)
{
  GOptionContext *context = g_option_context_new (parameters);

  g_option_context_set_summary (context, summary);
  g_option_context_add_main_entries (context, entries, GETTEXT_PACKAGE);
  return context;
}

static char *
char_string (char c)
{
  return g_strndup (&c, 1);
}

static JsonNode *
header_to_json (const PpTr31Header *header)
{
  g_autoptr(JsonBuilder) builder = json_builder_new ();
  g_autofree char *version = char_string (header->version);
  g_autofree char *algorithm = char_string (header->algorithm);
  g_autofree char *mode = char_string (header->mode_of_use);
  g_autofree char *exportability = char_string (header->exportability);

  json_builder_begin_object (builder);
  json_builder_set_member_name (builder, "version");
  json_builder_add_string_value (builder, version);
  json_builder_set_member_name (builder, "key_usage");
  json_builder_add_string_value (builder, header->key_usage);
  json_builder_set_member_name (builder, "algorithm");
  json_builder_add_string_value (builder, algorithm);
  json_builder_set_member_name (builder, "mode_of_use");
  json_builder_add_string_value (builder, mode);
  json_builder_set_member_name (builder, "key_version");
  json_builder_add_string_value (builder, header->key_version);
  json_builder_set_member_name (builder, "exportability");
  json_builder_add_string_value (builder, exportability);
  json_builder_set_member_name (builder, "optional_blocks");
  json_builder_begin_array (builder);
  for (guint i = 0; i < header->optional_blocks->len; i++)
    {
      PpTr31OptionalBlock *block = g_ptr_array_index (header->optional_blocks, i);

      json_builder_begin_object (builder);
      json_builder_set_member_name (builder, "id");
      json_builder_add_string_value (builder, block->id);
      json_builder_set_member_name (builder, "data");
      json_builder_add_string_value (builder, block->data);
      json_builder_end_object (builder);
    }
  json_builder_end_array (builder);
  json_builder_end_object (builder);

  return json_builder_get_root (builder);
}

static PpSecureBuffer *
kbpk_from_option (char    *kbpk_hex,
                  GError **error)
{
  if (kbpk_hex == NULL)
    {
      g_set_error_literal (error, G_OPTION_ERROR, G_OPTION_ERROR_FAILED,
                           _("missing --kbpk"));
      return NULL;
    }
  return pp_secure_buffer_new_from_hex (kbpk_hex, error);
}

static int
tr31_unwrap_main (int    argc,
                  char **argv)
{
  g_autoptr(GOptionContext) context = NULL;
  g_autoptr(PpSecureBuffer) kbpk = NULL;
  g_autoptr(PpSecureBuffer) key = NULL;
  g_autoptr(PpTr31Header) header = NULL;
  g_autoptr(GError) error = NULL;
  char *kbpk_hex = NULL;
  char *key_hex;
  gboolean json = FALSE;
  GOptionEntry entries[] = {
    { "kbpk", 'k', 0, G_OPTION_ARG_STRING, &kbpk_hex,
      N_("Key block protection key (hex)"), N_("HEX") },
    { "json", 0, 0, G_OPTION_ARG_NONE, &json,
      N_("Print the key and the decoded header as one JSON object"), NULL },
    { NULL }
  };

  context = new_context (_("KEY_BLOCK"),
                         _("Verifies a TR-31 / X9.143 key block (versions A, B, C, D) "
                           "and prints the clear key in hex."),
                         entries);
  if (!pp_tool_parse (context, &argc, &argv))
    {
      pp_hex_free_secret (kbpk_hex);
      return 1;
    }

  kbpk = kbpk_from_option (kbpk_hex, &error);
  pp_hex_free_secret (kbpk_hex);
  if (kbpk == NULL)
    return pp_tool_fail (_("invalid KBPK: %s"), error->message);

  if (argc != 2)
    return pp_tool_fail (_("expected exactly one KEY_BLOCK argument"));

  key = pp_tr31_unwrap (kbpk, argv[1], &header, &error);
  if (key == NULL)
    return pp_tool_fail (_("cannot unwrap the key block: %s"), error->message);

  key_hex = pp_secure_buffer_to_hex (key);
  if (json)
    {
      g_autoptr(JsonGenerator) gen = json_generator_new ();
      g_autoptr(JsonNode) node = header_to_json (header);
      g_autofree char *header_json = NULL;

      /* The key goes straight to stdout rather than through a JsonNode,
       * whose copy of the string would be freed without being wiped. Hex
       * needs no JSON escaping. */
      json_generator_set_root (gen, node);
      header_json = json_generator_to_data (gen, NULL);
      printf ("{\"key\":\"%s\",\"header\":%s}\n", key_hex, header_json);
    }
  else
    {
      printf ("%s\n", key_hex);
    }
  fflush (stdout);
  pp_hex_free_secret (key_hex);

  return 0;
}

static int
tr31_wrap_main (int    argc,
                char **argv)
{
  g_autoptr(GOptionContext) context = NULL;
  g_autoptr(PpSecureBuffer) kbpk = NULL;
  g_autoptr(PpSecureBuffer) key = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *header = NULL;
  g_autofree char *block = NULL;
  char *kbpk_hex = NULL;
  char *key_hex = NULL;
  GOptionEntry entries[] = {
    { "kbpk", 'k', 0, G_OPTION_ARG_STRING, &kbpk_hex,
      N_("Key block protection key (hex)"), N_("HEX") },
    { "header", 'H', 0, G_OPTION_ARG_STRING, &header,
      N_("Key block header with its optional blocks; the length field is filled in"),
      N_("HEADER") },
    { "key", 0, 0, G_OPTION_ARG_STRING, &key_hex,
      N_("Clear key to wrap (hex)"), N_("HEX") },
    { NULL }
  };

  context = new_context (NULL,
                         _("Wraps a clear key into a TR-31 / X9.143 key block with random "
                           "padding. Use version B under a TDES KBPK and D under an AES "
                           "KBPK; A and C are deprecated."),
                         entries);
  if (!pp_tool_parse (context, &argc, &argv))
    {
      pp_hex_free_secret (kbpk_hex);
      pp_hex_free_secret (key_hex);
      return 1;
    }

  kbpk = kbpk_from_option (kbpk_hex, &error);
  pp_hex_free_secret (kbpk_hex);
  if (kbpk == NULL)
    {
      pp_hex_free_secret (key_hex);
      return pp_tool_fail (_("invalid KBPK: %s"), error->message);
    }

  if (key_hex == NULL)
    return pp_tool_fail (_("missing --key"));
  key = pp_secure_buffer_new_from_hex (key_hex, &error);
  pp_hex_free_secret (key_hex);
  if (key == NULL)
    return pp_tool_fail (_("invalid key: %s"), error->message);

  if (header == NULL)
    return pp_tool_fail (_("missing --header"));
  if (argc != 1)
    return pp_tool_fail (_("unexpected argument “%s”"), argv[1]);

  block = pp_tr31_wrap (kbpk, header, key, &error);
  if (block == NULL)
    return pp_tool_fail (_("cannot wrap the key: %s"), error->message);

  if (header[0] == 'A' || header[0] == 'C')
    fprintf (stderr, "posprov-tool: %s\n",
             _("warning: key block versions A and C are deprecated by X9.143; "
               "prefer B (TDES) or D (AES)"));

  printf ("%s\n", block);
  return 0;
}

static const PpToolCommand commands[] = {
  { "unwrap", tr31_unwrap_main, N_("Verify a key block and print the clear key") },
  { "wrap",   tr31_wrap_main,   N_("Wrap a clear key into a key block") },
  { NULL, NULL, NULL }
};

int
pp_tool_tr31_main (int    argc,
                   char **argv)
{
  return pp_tool_dispatch (argv[0], commands, argc, argv);
}
