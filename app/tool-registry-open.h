/* SPDX-License-Identifier: GPL-3.0-or-later
 *
 * tool-registry-open.h: how posprov-tool's registry commands reach the
 * registry: the local store (--db PATH, a PpRegistryLocal with its key
 * store and key host) or posprov-registry (--registry URL), through the
 * same PpRegistry code, as the user named in PP_REGISTRY_USER.
 */
#pragma once

#include "pp-registry.h"

G_BEGIN_DECLS

#define PP_TOOL_REGISTRY_USER_ENV     "PP_REGISTRY_USER"
#define PP_TOOL_REGISTRY_PASSWORD_ENV "PP_REGISTRY_PASSWORD"
/* The PEM of the remote registry's CA or pinned certificate (--registry). */
#define PP_TOOL_REGISTRY_CA_ENV       "PP_REGISTRY_CA"

/* Opens the registry at @db_path (an existing store; NULL with @url NULL:
 * the station's store) or at @url (one of the two). For a store, the key
 * store is $POSPROV_KEY_STORE (secret $POSPROV_KEY_STORE_SECRET), which
 * seals the one-time codes and holds the key host's keys; without it the
 * registry has neither. For a URL, a PpRegistryRemote trusting the PEM in
 * $PP_REGISTRY_CA (the system's CAs without it). The acting user (PP_REGISTRY_USER with
 * PP_REGISTRY_PASSWORD) is checked against the registry before anything
 * else: a wrong name or password is an error, journalled by the store. */
PpRegistry *pp_tool_open_registry (const char  *db_path,
                                   const char  *url,
                                   GError     **error);

/* Releases a registry from pp_tool_open_registry, first closing a local one
 * (its owner thread ends and is joined, so the process never exits with the
 * key host half-freed on another thread). */
void        pp_tool_close_registry (PpRegistry *registry);

/* g_autoptr(PpToolRegistry): a registry closed with pp_tool_close_registry. */
typedef PpRegistry PpToolRegistry;
G_DEFINE_AUTOPTR_CLEANUP_FUNC (PpToolRegistry, pp_tool_close_registry)

/* The acting user's name as given in PP_REGISTRY_USER (lower case). */
const char *pp_tool_registry_user (void);

/* Runs the main context until *@slot is set by pp_tool_registry_got (the
 * callback of every call the commands make) and returns it. */
void          pp_tool_registry_got  (GObject       *source,
                                     GAsyncResult  *result,
                                     gpointer       slot);
GAsyncResult *pp_tool_registry_wait (GAsyncResult **slot);

/* ---- the older store commands (registry import|list|show, audit) ---- */

/* Their --registry option. With it they work through pp_tool_open_registry
 * (a remote registry, as the user in PP_REGISTRY_USER); without it on the
 * store file as they always did (readers open it read-only, a first import
 * creates it, no sign-in: the file's permissions decide). */
#define PP_TOOL_REGISTRY_OPTION(url) \
  { "registry", 0, 0, G_OPTION_ARG_STRING, (url), N_("The registry service instead of a store"), N_("URL") }

/* pp_tool_open_registry for @url, refusing @db_path as well; prints the
 * error and returns NULL when it fails. */
PpRegistry *pp_tool_open_remote_registry (const char *db_path,
                                          const char *url);

G_END_DECLS
