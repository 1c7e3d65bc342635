/* SPDX-License-Identifier: GPL-3.0-or-later
 *
 * registry-commands.h: the subcommands of posprov-registry, each
 * `int main (int argc, char **argv)` with argv[0] the command path
 * ("posprov-registry serve").
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* posprov-registry init (app/registry-init.c). */
int pp_registry_cmd_init  (int argc, char **argv);
/* posprov-registry serve (app/posprov-registry.c). */
int pp_registry_cmd_serve (int argc, char **argv);

G_END_DECLS
