/* SPDX-License-Identifier: GPL-3.0-or-later
 *
 * tool-device.c: posprov-tool device: the terminals on this station's
 * ports.  `device list` shows every serial port libserialport finds, with
 * what the station needs to recognise a terminal on it.
 */
#include "config.h"

#include <stdio.h>

#include <glib/gi18n.h>

#include "pp-port-list.h"
#include "tool-common.h"
#include "tool-commands.h"

/* Text from a USB descriptor is the device's: nothing in it may steer
 * the user's terminal. */
static void
print_field (const char *label,
             const char *value)
{
  g_autofree char *safe = NULL;

  if (value == NULL)
    return;
  safe = pp_tool_printable (value);
  printf ("  %-14s %s\n", label, safe != NULL ? safe : value);
}

static JsonNode *
ports_to_json (GPtrArray *ports)
{
  g_autoptr(JsonBuilder) builder = json_builder_new ();

  json_builder_begin_array (builder);
  for (guint i = 0; i < ports->len; i++)
    {
      const PpPortInfo *port = g_ptr_array_index (ports, i);

      json_builder_begin_object (builder);
      json_builder_set_member_name (builder, "port");
      json_builder_add_string_value (builder, port->name);
      json_builder_set_member_name (builder, "description");
      json_builder_add_string_value (builder, port->description);
      json_builder_set_member_name (builder, "transport");
      json_builder_add_string_value (builder, port->transport);
      if (port->has_usb_id)
        {
          g_autofree char *vid = g_strdup_printf ("%04x", port->usb_vid);
          g_autofree char *pid = g_strdup_printf ("%04x", port->usb_pid);

          json_builder_set_member_name (builder, "usb_vid");
          json_builder_add_string_value (builder, vid);
          json_builder_set_member_name (builder, "usb_pid");
          json_builder_add_string_value (builder, pid);
        }
      json_builder_set_member_name (builder, "serial");
      json_builder_add_string_value (builder, port->serial);
      json_builder_set_member_name (builder, "manufacturer");
      json_builder_add_string_value (builder, port->manufacturer);
      json_builder_set_member_name (builder, "product");
      json_builder_add_string_value (builder, port->product);
      if (port->model != NULL)
        {
          json_builder_set_member_name (builder, "model_vendor");
          json_builder_add_string_value (builder, port->model_vendor);
          json_builder_set_member_name (builder, "model");
          json_builder_add_string_value (builder, port->model);
        }
      json_builder_end_object (builder);
    }
  json_builder_end_array (builder);
  return json_builder_get_root (builder);
}

static int
cmd_list (int    argc,
          char **argv)
{
  gboolean json = FALSE;
  const GOptionEntry entries[] = {
    { "json", 0, 0, G_OPTION_ARG_NONE, &json, N_("Print a JSON array of ports"), NULL },
    { NULL }
  };
  g_autoptr(GOptionContext) context = g_option_context_new (NULL);
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) ports = NULL;

  g_option_context_set_summary (context, _("List the serial ports with their USB IDs, serial number, manufacturer, product and the terminal model they match."));
  g_option_context_add_main_entries (context, entries, GETTEXT_PACKAGE);
  if (!pp_tool_parse (context, &argc, &argv))
    return 1;
  if (argc != 1)
    return pp_tool_fail (_("device list takes no arguments"));

  if ((ports = pp_port_list (&error)) == NULL)
    return pp_tool_fail_error (error);

  if (json)
    {
      g_autoptr(JsonNode) node = ports_to_json (ports);

      pp_tool_print_json (node);
      return 0;
    }

  if (ports->len == 0)
    {
      printf ("%s\n", _("No serial ports found."));
      return 0;
    }
  for (guint i = 0; i < ports->len; i++)
    {
      const PpPortInfo *port = g_ptr_array_index (ports, i);

      printf ("%s\n", port->name);
      print_field (_("Description:"), port->description);
      print_field (_("Transport:"), port->transport);
      if (port->has_usb_id)
        {
          g_autofree char *id = g_strdup_printf ("%04x:%04x", port->usb_vid, port->usb_pid);

          print_field (_("USB ID:"), id);
        }
      print_field (_("Serial:"), port->serial);
      print_field (_("Manufacturer:"), port->manufacturer);
      print_field (_("Product:"), port->product);
      if (port->model != NULL)
        {
          g_autofree char *model = g_strdup_printf ("%s %s", port->model_vendor, port->model);

          print_field (_("Terminal:"), model);
        }
    }
  return 0;
}

int
pp_tool_device_main (int    argc,
                     char **argv)
{
  /* Other device subcommands (identify, certify, bind, inject, ...) join
   * this table. */
  static const PpToolCommand commands[] = {
    { "list", cmd_list, N_("List the serial ports and the terminals they match") },
    { NULL, NULL, NULL }
  };

  return pp_tool_dispatch (argv[0], commands, argc, argv);
}
