/* SPDX-License-Identifier: GPL-3.0-or-later
 *
 * pp-settings.h: the station's GSettings, found installed or in the build dir.
 */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

/* org.posprov.Station settings, or NULL when the schema is nowhere to be
 * found: g_settings_new() would abort, and a missing schema must not stop
 * the station from starting (it then runs on defaults). */
GSettings *pp_settings_new (void);

G_END_DECLS
