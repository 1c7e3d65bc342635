/* SPDX-License-Identifier: GPL-3.0-or-later
 *
 * pp-setup-page.h: the first-run setup of a real store without accounts.
 */
#pragma once

#include <adwaita.h>

#include "pp-store.h"

G_BEGIN_DECLS

#define PP_TYPE_SETUP_PAGE (pp_setup_page_get_type ())
G_DECLARE_FINAL_TYPE (PpSetupPage, pp_setup_page, PP, SETUP_PAGE, AdwBin)

/* Asks for the administrator's user name and a password (twice), checks the
 * password policy as the user types it in, and creates the account on a
 * worker; then seals the audit journal and shows its verification seed once,
 * to save and keep off the station. Emits ::administrator-created (the user
 * name) when the user confirms the seed is saved and goes on. */
GtkWidget *pp_setup_page_new       (void);
void       pp_setup_page_set_store (PpSetupPage *self,
                                    PpStore     *store);
PpStore   *pp_setup_page_get_store (PpSetupPage *self);
/* What the "Save Seed…" file chooser does with the chosen file: writes the
 * seed to it (replaced whole, mode 0600) on a worker and says where. */
void       pp_setup_page_save_seed_to (PpSetupPage *self,
                                       GFile       *file);

G_END_DECLS
