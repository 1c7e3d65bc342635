/* SPDX-License-Identifier: GPL-3.0-or-later
 *
 * pp-application.h: the station's application object.
 */
#pragma once

#include <adwaita.h>

G_BEGIN_DECLS

#define PP_TYPE_APPLICATION (pp_application_get_type ())
G_DECLARE_FINAL_TYPE (PpApplication, pp_application, PP, APPLICATION, AdwApplication)

PpApplication *pp_application_new (void);

/* Where the store lives unless --db or the store-path setting says otherwise:
 * $XDG_DATA_HOME/posprov/posprov.db. */
char          *pp_application_get_default_store_path (void);
/* Where --demo keeps its demo store: $XDG_DATA_HOME/posprov/demo.db, apart
 * from the real store. */
char          *pp_application_get_demo_store_path (void);

G_END_DECLS
