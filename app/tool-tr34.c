/* SPDX-License-Identifier: GPL-3.0-or-later
 *
 * tool-tr34.c: posprov-tool tr34 (placeholder until its issue lands).
 */
#include "config.h"

#include <glib/gi18n.h>

#include "tool-common.h"
#include "tool-commands.h"

int
pp_tool_tr34_main (int    argc,
                   char **argv)
{
  return pp_tool_fail ("%s: not implemented yet", argv[0]);
}
