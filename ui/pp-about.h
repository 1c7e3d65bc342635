/* SPDX-License-Identifier: GPL-3.0-or-later
 *
 * pp-about.h: the About posprov window.
 */
#pragma once

#include <adwaita.h>

G_BEGIN_DECLS

/* Transient for @parent (nullable); present it. */
GtkWindow *pp_about_window_new (GtkWindow *parent);

G_END_DECLS
