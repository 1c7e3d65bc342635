/* SPDX-License-Identifier: GPL-3.0-or-later
 *
 * tool-kcv.c: posprov-tool kcv (placeholder until its issue lands).
 */
#include "config.h"

#include <glib/gi18n.h>

#include "tool-common.h"
#include "tool-commands.h"

int
pp_tool_kcv_main (int    argc,
                   char **argv)
{
  return pp_tool_fail ("%s: not implemented yet", argv[0]);
}
