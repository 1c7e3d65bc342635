/* SPDX-License-Identifier: GPL-3.0-or-later
 *
 * registry-commands.h: the subcommands of posprov-registry, one file
 * each, called like a main with argv[0] the command path
 * ("posprov-registry init").
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* posprov-registry init (app/registry-init.c). */
int pp_registry_cmd_init  (int argc, char **argv);
/* posprov-registry serve (app/posprov-registry.c). */
int pp_registry_cmd_serve (int argc, char **argv);

G_END_DECLS
