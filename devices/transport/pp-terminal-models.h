/* SPDX-License-Identifier: GPL-3.0-or-later
 *
 * pp-terminal-models.h: serial settings per terminal model, and the USB
 * VID/PID pairs that recognise a model on a port.  The built-in table is
 * data/terminal-models.json (compiled in); the user's own
 * $XDG_CONFIG_HOME/posprov/terminal-models.json adds models and overrides
 * built-in ones with the same vendor and model or the same USB ID
 * (docs/terminal-models.md).
 */
#pragma once

#include <glib.h>

#include "pp-transport.h"

G_BEGIN_DECLS

typedef struct {
  char             *vendor;
  char             *model;
  /* USB IDs as (vid << 16 | pid); may be empty */
  GArray           *usb_ids;
  PpSerialSettings  settings;    /* every field filled in */
  char             *origin;      /* the file it came from, for messages */
} PpTerminalModel;

void              pp_terminal_model_free        (PpTerminalModel *model);

/* Parses one models file into @into (PpTerminalModel*), replacing entries
 * it overrides; @origin names the file in errors. */
gboolean          pp_terminal_models_parse      (const char  *data,
                                                 gsize        len,
                                                 const char  *origin,
                                                 GPtrArray   *into,
                                                 GError     **error);

/* The built-in table plus @user_path (NULL: the user's config file; a
 * missing user file is no error, a broken one is). */
GPtrArray        *pp_terminal_models_load       (const char  *user_path,
                                                 GError     **error);

const PpTerminalModel *pp_terminal_models_find_usb (GPtrArray *models,
                                                    guint16    vid,
                                                    guint16    pid);

/* "VENDOR MODEL" or "MODEL", case-insensitive. */
const PpTerminalModel *pp_terminal_models_find  (GPtrArray   *models,
                                                 const char  *name);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (PpTerminalModel, pp_terminal_model_free)

G_END_DECLS
