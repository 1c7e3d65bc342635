/* SPDX-License-Identifier: GPL-3.0-or-later
 *
 * pp-settings.c: look the schema up before GSettings aborts on its absence.
 */
#include "config.h"

#include "pp-settings.h"

GSettings *
pp_settings_new (void)
{
  GSettingsSchemaSource *source = g_settings_schema_source_get_default ();
  g_autoptr(GSettingsSchemaSource) prefix_source = NULL;
  g_autoptr(GSettingsSchema) schema = NULL;

  if (source != NULL)
    schema = g_settings_schema_source_lookup (source, APP_ID, TRUE);

  /* Installed under a prefix outside XDG_DATA_DIRS (e.g. /opt/posprov).
   * An uninstalled run finds the build tree's schema through
   * GSETTINGS_SCHEMA_DIR (scripts/run, meson devenv, the tests). */
  if (schema == NULL)
    {
      prefix_source = g_settings_schema_source_new_from_directory (PP_DATADIR G_DIR_SEPARATOR_S
                                                                   "glib-2.0" G_DIR_SEPARATOR_S
                                                                   "schemas",
                                                                   source, FALSE, NULL);
      if (prefix_source != NULL)
        schema = g_settings_schema_source_lookup (prefix_source, APP_ID, TRUE);
    }

  if (schema == NULL)
    {
      g_debug ("Settings schema %s is not installed; using defaults", APP_ID);
      return NULL;
    }
  return g_settings_new_full (schema, NULL, NULL);
}
