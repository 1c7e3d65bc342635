/* SPDX-License-Identifier: GPL-3.0-or-later
 *
 * tool-registry-open.c: opening the registry for posprov-tool.
 */
#include "config.h"

#include <glib/gi18n.h>

#include "pp-registry-local.h"
#include "pp-registry-remote.h"
#include "tool-common.h"
#include "tool-registry-open.h"

static char *acting_user;

void
pp_tool_registry_got (GObject      *source,
                      GAsyncResult *result,
                      gpointer      slot)
{
  *(GAsyncResult **) slot = g_object_ref (result);
}

GAsyncResult *
pp_tool_registry_wait (GAsyncResult **slot)
{
  while (*slot == NULL)
    g_main_context_iteration (NULL, TRUE);
  return *slot;
}

const char *
pp_tool_registry_user (void)
{
  return acting_user;
}

/* Checks the acting user's password against @registry and keeps their name. */
static PpRegistry *
sign_in (PpRegistry  *registry,
         const char  *user,
         const char  *password,
         GError     **error)
{
  g_autoptr(PpRegistry) owned = registry;
  g_autoptr(PpUser) signed_in = NULL;
  g_autoptr(GAsyncResult) res = NULL;

  pp_registry_authenticate_async (owned, user, password, NULL, pp_tool_registry_got, &res);
  signed_in = pp_registry_authenticate_finish (owned, pp_tool_registry_wait (&res), error);
  if (signed_in == NULL)
    return NULL;
  g_free (acting_user);
  acting_user = g_strdup (signed_in->username);
  return g_steal_pointer (&owned);
}

/* posprov-registry at @url over HTTPS; $PP_REGISTRY_CA: the PEM of its CA
 * or its pinned certificate (without it, the system's CAs decide). */
static PpRegistry *
open_remote (const char  *url,
             const char  *user,
             const char  *password,
             GError     **error)
{
  g_autoptr(GTlsCertificate) anchor = NULL;
  const char *ca = g_getenv (PP_TOOL_REGISTRY_CA_ENV);
  PpRegistry *registry;

  if (ca != NULL && *ca != '\0')
    {
      anchor = pp_registry_remote_load_anchor (ca, error);
      if (anchor == NULL)
        return NULL;
    }
  registry = pp_registry_remote_new (url, user, password, anchor, error);
  if (registry == NULL)
    return NULL;
  return sign_in (registry, user, password, error);
}

static PpRegistry *
open_local (const char  *db_path,
            const char  *user,
            const char  *password,
            GError     **error)
{
  PpRegistryLocal *registry;
  const char *location = g_getenv (PP_STORE_KEY_STORE_ENV);

  /* A mistyped --db must not make a new, empty register. */
  if (!g_file_test (db_path, G_FILE_TEST_EXISTS))
    {
      g_set_error (error, PP_REGISTRY_ERROR, PP_REGISTRY_ERROR_UNAVAILABLE,
                   _("no store at %s (create it with “posprov-registry init”, or give the right --db PATH)"),
                   db_path);
      return NULL;
    }
  if (!g_file_test (db_path, G_FILE_TEST_IS_REGULAR))
    {
      g_set_error (error, PP_REGISTRY_ERROR, PP_REGISTRY_ERROR_UNAVAILABLE,
                   _("%s is not a store file"), db_path);
      return NULL;
    }
  registry = pp_registry_local_new_with_key_store (db_path, location,
                                                   g_getenv (PP_STORE_KEY_STORE_SECRET_ENV), error);
  if (registry == NULL)
    return NULL;
  return sign_in (PP_REGISTRY (registry), user, password, error);
}

PpRegistry *
pp_tool_open_registry (const char  *db_path,
                       const char  *url,
                       GError     **error)
{
  g_autofree char *default_path = NULL;
  const char *user = g_getenv (PP_TOOL_REGISTRY_USER_ENV);
  const char *password = g_getenv (PP_TOOL_REGISTRY_PASSWORD_ENV);

  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  if (db_path != NULL && url != NULL)
    {
      g_set_error_literal (error, PP_REGISTRY_ERROR, PP_REGISTRY_ERROR_INVALID,
                           _("give either --db PATH or --registry URL, not both"));
      return NULL;
    }
  if (user == NULL || *user == '\0' || password == NULL || *password == '\0')
    {
      g_set_error (error, PP_REGISTRY_ERROR, PP_REGISTRY_ERROR_PERMISSION,
                   _("set %s and %s to the user acting on the registry and their password"),
                   PP_TOOL_REGISTRY_USER_ENV, PP_TOOL_REGISTRY_PASSWORD_ENV);
      return NULL;
    }
  if (url != NULL)
    return open_remote (url, user, password, error);
  if (db_path == NULL)
    db_path = default_path = pp_tool_default_db_path ();
  return open_local (db_path, user, password, error);
}

void
pp_tool_close_registry (PpRegistry *registry)
{
  if (registry == NULL)
    return;
  if (PP_IS_REGISTRY_LOCAL (registry))
    pp_registry_local_close (PP_REGISTRY_LOCAL (registry));
  g_object_unref (registry);
}

PpRegistry *
pp_tool_open_remote_registry (const char *db_path,
                              const char *url)
{
  g_autoptr(GError) error = NULL;
  PpRegistry *registry;

  g_return_val_if_fail (url != NULL, NULL);
  registry = pp_tool_open_registry (db_path, url, &error);
  if (registry == NULL)
    pp_tool_fail_error (error);
  return registry;
}
