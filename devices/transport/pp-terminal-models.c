/* SPDX-License-Identifier: GPL-3.0-or-later
 *
 * pp-terminal-models.c: data/terminal-models.json and the user's additions.
 */
#include "config.h"

#include <string.h>

#include <gio/gio.h>
#include <glib/gi18n-lib.h>
#include <json-glib/json-glib.h>

#include "pp-devices-resources.h"
#include "pp-terminal-models.h"

#define BUILTIN_RESOURCE "/org/posprov/devices/terminal-models.json"

void
pp_terminal_model_free (PpTerminalModel *model)
{
  if (model == NULL)
    return;
  g_free (model->vendor);
  g_free (model->model);
  g_clear_pointer (&model->usb_ids, g_array_unref);
  g_free (model->origin);
  g_free (model);
}

static gboolean
parse_usb_id (const char *text,
              guint32    *out_id)
{
  guint64 vid, pid;
  char *end;

  if (text == NULL || strlen (text) != 9 || text[4] != ':' ||
      !g_ascii_isxdigit (text[0]) || !g_ascii_isxdigit (text[5]))
    return FALSE;
  vid = g_ascii_strtoull (text, &end, 16);
  if (end != text + 4)
    return FALSE;
  pid = g_ascii_strtoull (text + 5, &end, 16);
  if (*end != '\0')
    return FALSE;
  *out_id = (guint32) (vid << 16 | pid);
  return TRUE;
}

static gboolean
model_fail (GError     **error,
            const char  *origin,
            guint        index,
            const char  *what)
{
  g_set_error (error, PP_TRANSPORT_ERROR, PP_TRANSPORT_ERROR_INVALID,
               _("%s: model %u: %s"), origin, index + 1, what);
  return FALSE;
}

static gboolean
uint_member (JsonObject  *object,
             const char  *name,
             guint        fallback,
             guint       *out_value)
{
  JsonNode *node = json_object_get_member (object, name);

  if (node == NULL)
    {
      *out_value = fallback;
      return TRUE;
    }
  if (!JSON_NODE_HOLDS_VALUE (node) || json_node_get_value_type (node) != G_TYPE_INT64 ||
      json_node_get_int (node) < 0 || json_node_get_int (node) > G_MAXINT32)
    return FALSE;
  *out_value = (guint) json_node_get_int (node);
  return TRUE;
}

static const char *
string_member (JsonObject *object,
               const char *name)
{
  JsonNode *node = json_object_get_member (object, name);

  if (node == NULL || !JSON_NODE_HOLDS_VALUE (node) ||
      json_node_get_value_type (node) != G_TYPE_STRING)
    return NULL;
  return json_node_get_string (node);
}

static gboolean
same_model (const PpTerminalModel *a,
            const PpTerminalModel *b)
{
  if (g_ascii_strcasecmp (a->vendor, b->vendor) == 0 &&
      g_ascii_strcasecmp (a->model, b->model) == 0)
    return TRUE;
  for (guint i = 0; i < a->usb_ids->len; i++)
    for (guint j = 0; j < b->usb_ids->len; j++)
      if (g_array_index (a->usb_ids, guint32, i) == g_array_index (b->usb_ids, guint32, j))
        return TRUE;
  return FALSE;
}

static PpTerminalModel *
parse_model (JsonNode    *node,
             const char  *origin,
             guint        index,
             GError     **error)
{
  g_autoptr(PpTerminalModel) model = g_new0 (PpTerminalModel, 1);
  JsonObject *object;
  JsonNode *ids;
  const char *text;

  model->usb_ids = g_array_new (FALSE, FALSE, sizeof (guint32));
  model->origin = g_strdup (origin);

  if (!JSON_NODE_HOLDS_OBJECT (node))
    return model_fail (error, origin, index, _("not an object")), NULL;
  object = json_node_get_object (node);

  if ((text = string_member (object, "vendor")) == NULL || text[0] == '\0')
    return model_fail (error, origin, index, _("“vendor” is missing")), NULL;
  model->vendor = g_strdup (text);
  if ((text = string_member (object, "model")) == NULL || text[0] == '\0')
    return model_fail (error, origin, index, _("“model” is missing")), NULL;
  model->model = g_strdup (text);

  if ((ids = json_object_get_member (object, "usb_ids")) != NULL)
    {
      JsonArray *array;

      if (!JSON_NODE_HOLDS_ARRAY (ids))
        return model_fail (error, origin, index, _("“usb_ids” is not a list")), NULL;
      array = json_node_get_array (ids);
      for (guint i = 0; i < json_array_get_length (array); i++)
        {
          JsonNode *id_node = json_array_get_element (array, i);
          guint32 id;

          if (!JSON_NODE_HOLDS_VALUE (id_node) ||
              json_node_get_value_type (id_node) != G_TYPE_STRING ||
              !parse_usb_id (json_node_get_string (id_node), &id))
            return model_fail (error, origin, index,
                               _("a USB ID is not VVVV:PPPP in hexadecimal")), NULL;
          g_array_append_val (model->usb_ids, id);
        }
    }

  if (!uint_member (object, "baud", 115200, &model->settings.baud) ||
      model->settings.baud == 0 || model->settings.baud > 4000000)
    return model_fail (error, origin, index, _("“baud” is not a serial speed")), NULL;
  if (!uint_member (object, "data_bits", 8, &model->settings.data_bits) ||
      model->settings.data_bits < 5 || model->settings.data_bits > 8)
    return model_fail (error, origin, index, _("“data_bits” must be 5 to 8")), NULL;
  if (!uint_member (object, "stop_bits", 1, &model->settings.stop_bits) ||
      model->settings.stop_bits < 1 || model->settings.stop_bits > 2)
    return model_fail (error, origin, index, _("“stop_bits” must be 1 or 2")), NULL;
  text = string_member (object, "parity");
  if (json_object_has_member (object, "parity") &&
      !pp_parity_from_string (text, &model->settings.parity))
    return model_fail (error, origin, index, _("“parity” must be none, odd or even")), NULL;
  text = string_member (object, "flow");
  if (json_object_has_member (object, "flow") &&
      !pp_flow_from_string (text, &model->settings.flow))
    return model_fail (error, origin, index, _("“flow” must be none, rtscts or xonxoff")), NULL;

  return g_steal_pointer (&model);
}

gboolean
pp_terminal_models_parse (const char  *data,
                          gsize        len,
                          const char  *origin,
                          GPtrArray   *into,
                          GError     **error)
{
  g_autoptr(JsonParser) parser = json_parser_new ();
  g_autoptr(GError) local = NULL;
  g_autoptr(GPtrArray) parsed = g_ptr_array_new_with_free_func ((GDestroyNotify) pp_terminal_model_free);
  JsonNode *root, *models;
  JsonArray *array;

  g_return_val_if_fail (data != NULL, FALSE);
  g_return_val_if_fail (origin != NULL, FALSE);
  g_return_val_if_fail (into != NULL, FALSE);

  if (!json_parser_load_from_data (parser, data, (gssize) len, &local))
    {
      g_set_error (error, PP_TRANSPORT_ERROR, PP_TRANSPORT_ERROR_INVALID,
                   _("%s is not valid JSON: %s"), origin, local->message);
      return FALSE;
    }
  root = json_parser_get_root (parser);
  if (root == NULL || !JSON_NODE_HOLDS_OBJECT (root) ||
      (models = json_object_get_member (json_node_get_object (root), "models")) == NULL ||
      !JSON_NODE_HOLDS_ARRAY (models))
    {
      g_set_error (error, PP_TRANSPORT_ERROR, PP_TRANSPORT_ERROR_INVALID,
                   _("%s: expected an object with a “models” list"), origin);
      return FALSE;
    }
  array = json_node_get_array (models);
  for (guint i = 0; i < json_array_get_length (array); i++)
    {
      PpTerminalModel *model = parse_model (json_array_get_element (array, i), origin, i, error);

      if (model == NULL)
        return FALSE;
      g_ptr_array_add (parsed, model);
    }

  /* Nothing half-applied: @into changes only once the whole file parsed. */
  for (guint i = 0; i < parsed->len; i++)
    {
      PpTerminalModel *model = g_ptr_array_index (parsed, i);

      for (guint j = into->len; j > 0; j--)
        if (same_model (g_ptr_array_index (into, j - 1), model))
          g_ptr_array_remove_index (into, j - 1);
    }
  g_ptr_array_extend_and_steal (into, g_steal_pointer (&parsed));
  return TRUE;
}

GPtrArray *
pp_terminal_models_load (const char  *user_path,
                         GError     **error)
{
  g_autoptr(GPtrArray) models = g_ptr_array_new_with_free_func ((GDestroyNotify) pp_terminal_model_free);
  g_autoptr(GBytes) builtin = NULL;
  g_autofree char *default_path = NULL;
  g_autofree char *data = NULL;
  g_autoptr(GError) local = NULL;
  gsize len;

  /* Through the resource itself, so that the linker keeps it in. */
  builtin = g_resource_lookup_data (pp_devices_get_resource (), BUILTIN_RESOURCE,
                                    G_RESOURCE_LOOKUP_FLAGS_NONE, NULL);
  if (builtin != NULL &&
      !pp_terminal_models_parse (g_bytes_get_data (builtin, NULL), g_bytes_get_size (builtin),
                                 "terminal-models.json", models, error))
    return NULL;

  if (user_path == NULL)
    user_path = default_path = g_build_filename (g_get_user_config_dir (), "posprov",
                                                 "terminal-models.json", NULL);
  if (!g_file_get_contents (user_path, &data, &len, &local))
    {
      if (g_error_matches (local, G_FILE_ERROR, G_FILE_ERROR_NOENT))
        return g_steal_pointer (&models);
      g_set_error (error, PP_TRANSPORT_ERROR, PP_TRANSPORT_ERROR_INVALID,
                   _("Cannot read the terminal models file: %s"), local->message);
      return NULL;
    }
  if (!pp_terminal_models_parse (data, len, user_path, models, error))
    return NULL;
  return g_steal_pointer (&models);
}

const PpTerminalModel *
pp_terminal_models_find_usb (GPtrArray *models,
                             guint16    vid,
                             guint16    pid)
{
  guint32 id = (guint32) vid << 16 | pid;

  g_return_val_if_fail (models != NULL, NULL);

  for (guint i = 0; i < models->len; i++)
    {
      const PpTerminalModel *model = g_ptr_array_index (models, i);

      for (guint j = 0; j < model->usb_ids->len; j++)
        if (g_array_index (model->usb_ids, guint32, j) == id)
          return model;
    }
  return NULL;
}

const PpTerminalModel *
pp_terminal_models_find (GPtrArray  *models,
                         const char *name)
{
  g_return_val_if_fail (models != NULL, NULL);
  g_return_val_if_fail (name != NULL, NULL);

  for (guint i = 0; i < models->len; i++)
    {
      const PpTerminalModel *model = g_ptr_array_index (models, i);
      g_autofree char *full = g_strdup_printf ("%s %s", model->vendor, model->model);

      if (g_ascii_strcasecmp (name, full) == 0 || g_ascii_strcasecmp (name, model->model) == 0)
        return model;
    }
  return NULL;
}
