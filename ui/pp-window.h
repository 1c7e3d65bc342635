/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <adwaita.h>

G_BEGIN_DECLS

#define PP_TYPE_WINDOW (pp_window_get_type ())
G_DECLARE_FINAL_TYPE (PpWindow, pp_window, PP, WINDOW, AdwApplicationWindow)

PpWindow *pp_window_new (AdwApplication *application);

G_END_DECLS
