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
  g_autoptr(GSettingsSchemaSource) build_source = NULL;
  g_autoptr(GSettingsSchema) schema = NULL;

  if (source != NULL)
    schema = g_settings_schema_source_lookup (source, APP_ID, TRUE);

  /* Started from the build tree (scripts/run) without installing. */
  if (schema == NULL)
    {
      build_source = g_settings_schema_source_new_from_directory (PP_BUILD_SCHEMA_DIR, source,
                                                                  FALSE, NULL);
      if (build_source != NULL)
        schema = g_settings_schema_source_lookup (build_source, APP_ID, TRUE);
    }

  if (schema == NULL)
    {
      g_debug ("Settings schema %s is not installed; using defaults", APP_ID);
      return NULL;
    }
  return g_settings_new_full (schema, NULL, NULL);
}
