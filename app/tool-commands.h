/* SPDX-License-Identifier: GPL-3.0-or-later
 *
 * tool-commands.h: the subcommands of posprov-tool, one file each.
 */
#pragma once

G_BEGIN_DECLS

int pp_tool_registry_main (int argc, char **argv);
int pp_tool_audit_main    (int argc, char **argv);
int pp_tool_kcv_main      (int argc, char **argv);
int pp_tool_tr31_main     (int argc, char **argv);
int pp_tool_dukpt_main    (int argc, char **argv);
int pp_tool_tr34_main     (int argc, char **argv);
int pp_tool_device_main   (int argc, char **argv);
int pp_tool_program_main  (int argc, char **argv);
/* the registry's verbs (tool-registry-verbs.c) */
int pp_tool_orders_main    (int argc, char **argv);
int pp_tool_approvals_main (int argc, char **argv);
int pp_tool_programs_main  (int argc, char **argv);
int pp_tool_users_main     (int argc, char **argv);
/* the flows (tool-install.c) */
int pp_tool_install_main   (int argc, char **argv);
int pp_tool_recycle_main   (int argc, char **argv);

G_END_DECLS
