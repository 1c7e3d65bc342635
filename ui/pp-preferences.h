/* SPDX-License-Identifier: GPL-3.0-or-later
 *
 * pp-preferences.h: the station's settings window (the registry it works with).
 */
#pragma once

#include <adwaita.h>

G_BEGIN_DECLS

#define PP_TYPE_PREFERENCES (pp_preferences_get_type ())
G_DECLARE_FINAL_TYPE (PpPreferences, pp_preferences, PP, PREFERENCES, AdwPreferencesWindow)

/* The registry's URL, CA file and user, each saved to GSettings
 * (registry-url, registry-ca, registry-user) when applied and valid: an
 * https:// URL with a host (or empty: the embedded registry), a CA file
 * that exists (or empty: the system's CAs). Without the settings schema
 * the rows are insensitive. */
GtkWindow *pp_preferences_new (GtkWindow *parent);

/* Checks @url and @ca_path as the window does: NULL when fine, else what
 * to change, for the user. */
char      *pp_preferences_check_url (const char *url);
char      *pp_preferences_check_ca  (const char *ca_path);

/* The rows, for tests. */
AdwEntryRow *pp_preferences_get_url_row  (PpPreferences *self);
AdwEntryRow *pp_preferences_get_ca_row   (PpPreferences *self);
AdwEntryRow *pp_preferences_get_user_row (PpPreferences *self);

G_END_DECLS
