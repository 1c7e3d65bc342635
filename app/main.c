/* SPDX-License-Identifier: GPL-3.0-or-later
 *
 * main.c: posprov, the provisioning station (GTK 4 + libadwaita).
 */
#include "config.h"

#include <locale.h>

#include <glib/gi18n.h>

#include "pp-application.h"

int
main (int    argc,
      char **argv)
{
  g_autoptr(PpApplication) app = NULL;
  const char *localedir = g_getenv ("PP_LOCALEDIR");

  /* `meson devenv` points this at the build tree's catalogues, so an
   * uninstalled station speaks the user's language too. */
  if (localedir == NULL || localedir[0] == '\0')
    localedir = LOCALEDIR;

  setlocale (LC_ALL, "");
  bindtextdomain (GETTEXT_PACKAGE, localedir);
  bind_textdomain_codeset (GETTEXT_PACKAGE, "UTF-8");
  textdomain (GETTEXT_PACKAGE);

  g_set_application_name (_("posprov"));
  app = pp_application_new ();
  return g_application_run (G_APPLICATION (app), argc, argv);
}
