/* SPDX-License-Identifier: GPL-3.0-or-later
 *
 * pp-inventory-page.h: the first screen, every terminal of the register.
 */
#pragma once

#include <adwaita.h>

#include "pp-registry.h"
#include "pp-terminal-list-model.h"

G_BEGIN_DECLS

#define PP_TYPE_INVENTORY_PAGE (pp_inventory_page_get_type ())
G_DECLARE_FINAL_TYPE (PpInventoryPage, pp_inventory_page, PP, INVENTORY_PAGE, AdwBin)

PpInventoryPage     *pp_inventory_page_new              (PpRegistry      *registry);

/* Nullable: without a registry the page shows that the register is unavailable. */
void                 pp_inventory_page_set_registry     (PpInventoryPage *self,
                                                         PpRegistry      *registry);
PpRegistry          *pp_inventory_page_get_registry     (PpInventoryPage *self);

/* Counts and lists again, e.g. after the register changed. */
void                 pp_inventory_page_reload           (PpInventoryPage *self);

/* Shows @message as the reason the register cannot be shown. */
void                 pp_inventory_page_show_error       (PpInventoryPage *self,
                                                         const char      *message);

/* PP_TERMINAL_STATE_ANY or one state; property "state-filter". */
void                 pp_inventory_page_set_state_filter (PpInventoryPage *self,
                                                         PpTerminalState  state);
PpTerminalState      pp_inventory_page_get_state_filter (PpInventoryPage *self);

void                 pp_inventory_page_focus_search     (PpInventoryPage *self);

/* The widgets a user looks at, for tests. */
PpTerminalListModel *pp_inventory_page_get_model        (PpInventoryPage *self);
GtkEditable         *pp_inventory_page_get_search_entry (PpInventoryPage *self);
GtkColumnView       *pp_inventory_page_get_column_view  (PpInventoryPage *self);
GtkLabel            *pp_inventory_page_get_count_label  (PpInventoryPage *self);

/* "1 234 terminals": what the count label says for @n. */
char                *pp_inventory_page_format_count     (guint            n);

G_END_DECLS
