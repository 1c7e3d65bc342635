/* SPDX-License-Identifier: GPL-3.0-or-later
 *
 * registry-commands.h: the subcommands of posprov-registry, one file each
 * (argv[0] is the subcommand path, "posprov-registry init").
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* registry-init.c */
int pp_registry_cmd_init (int argc, char **argv);

G_END_DECLS
