/* SPDX-License-Identifier: GPL-3.0-or-later
 *
 * registry-init-stub.c: stands in for posprov-registry init until
 * app/registry-init.c lands (then this file goes).
 */
#include "config.h"

#include <stdio.h>

#include <glib/gi18n.h>

#include "registry-commands.h"

int
pp_registry_cmd_init (int    argc,
                      char **argv)
{
  fprintf (stderr, "posprov-registry: %s\n", _("init is not in this build yet"));
  return 1;
}
