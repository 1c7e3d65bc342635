/* SPDX-License-Identifier: GPL-3.0-or-later
 *
 * registry-init-main.c: TEMPORARY (helper "wire", for the lead to drop at
 * merge): a main for `posprov-registry init` until app/posprov-registry.c
 * (helper "server") dispatches to pp_registry_cmd_init. Built as
 * posprov-registry-init; the tests run it as PP_REGISTRY_INIT.
 */
#include "config.h"

#include <locale.h>

#include <glib/gi18n.h>

#include "registry-commands.h"

int
main (int    argc,
      char **argv)
{
  const char *localedir = g_getenv ("PP_LOCALEDIR");

  if (localedir == NULL || localedir[0] == '\0')
    localedir = LOCALEDIR;
  setlocale (LC_ALL, "");
  bindtextdomain (GETTEXT_PACKAGE, localedir);
  bind_textdomain_codeset (GETTEXT_PACKAGE, "UTF-8");
  textdomain (GETTEXT_PACKAGE);

  argv[0] = (char *) "posprov-registry init";
  return pp_registry_cmd_init (argc, argv);
}
