/* SPDX-License-Identifier: GPL-3.0-or-later
 *
 * posprov-tool: the command line of posprov.
 */
#include "config.h"

#include <locale.h>
#include <stdio.h>

#include <glib/gi18n.h>

#include "tool-common.h"
#include "tool-commands.h"

static const PpToolCommand commands[] = {
  { "registry", pp_tool_registry_main, N_("Asset register: import, list, show") },
  { "audit",    pp_tool_audit_main,    N_("Audit journal: verify the hash chain") },
  { "kcv",      pp_tool_kcv_main,      N_("Compute a key check value") },
  { "tr31",     pp_tool_tr31_main,     N_("Wrap and unwrap TR-31 / X9.143 key blocks") },
  { "dukpt",    pp_tool_dukpt_main,    N_("Derive TDES and AES DUKPT keys") },
  { "tr34",     pp_tool_tr34_main,     N_("Build, receive and inspect TR-34 tokens") },
  { "device",   pp_tool_device_main,   N_("Terminals on serial ports and TCP: list the ports") },
  { "program",  pp_tool_program_main,  N_("Program packages: pack and verify") },
  { "orders",    pp_tool_orders_main,    N_("Work orders in the registry: create, show, list") },
  { "approvals", pp_tool_approvals_main, N_("Four eyes: list, request, approve, reject") },
  { "programs",  pp_tool_programs_main,  N_("The registry’s program catalogue: upload, list") },
  { "users",     pp_tool_users_main,     N_("Users: add, enroll-otp") },
  { "install",   pp_tool_install_main,   N_("Install a terminal in one visit (or many: --batch)") },
  { "recycle",   pp_tool_recycle_main,   N_("Take an installed terminal back: unbind, zeroize, to stock") },
  { NULL, NULL, NULL }
};

int
main (int    argc,
      char **argv)
{
  const char *localedir = g_getenv ("PP_LOCALEDIR");

  /* `meson devenv` points this at the build tree's catalogues, so the
   * uninstalled tool speaks the user's language too. */
  if (localedir == NULL || localedir[0] == '\0')
    localedir = LOCALEDIR;

  setlocale (LC_ALL, "");
  bindtextdomain (GETTEXT_PACKAGE, localedir);
  bind_textdomain_codeset (GETTEXT_PACKAGE, "UTF-8");
  textdomain (GETTEXT_PACKAGE);

  if (argc >= 2 && g_str_equal (argv[1], "--version"))
    {
      printf ("posprov-tool %s\n", PACKAGE_VERSION);
      return 0;
    }

  return pp_tool_dispatch ("posprov-tool", commands, argc, argv);
}
