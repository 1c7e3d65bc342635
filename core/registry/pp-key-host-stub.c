/* SPDX-License-Identifier: GPL-3.0-or-later
 *
 * pp-key-host-stub.c: stands in for the key host until pp-key-host.c is
 * built (core/registry/meson.build picks this file only when that one is
 * missing). It makes no key host, so the registry's key-host verbs say
 * that none is configured.
 */
#include "config.h"

#include <glib/gi18n-lib.h>

#include "pp-key-host.h"

G_DEFINE_QUARK (pp-key-host-error-quark, pp_key_host_error)

PpKeyHost *
pp_key_host_new (PpStore     *store,
                 PpKeyStore  *key_store,
                 GError     **error)
{
  g_set_error_literal (error, PP_KEY_HOST_ERROR, PP_KEY_HOST_ERROR_CONFIG,
                       _("this posprov was built without the key host"));
  return NULL;
}

/* No PpKeyHost exists in this build, so nothing below is ever reached. */
PpKeyHost *
pp_key_host_ref (PpKeyHost *self)
{
  g_return_val_if_reached (NULL);
}

void
pp_key_host_unref (PpKeyHost *self)
{
  g_return_if_reached ();
}

GBytes *
pp_key_host_get_certificate (PpKeyHost *self)
{
  g_return_val_if_reached (NULL);
}

GBytes *
pp_key_host_get_crl (PpKeyHost *self)
{
  g_return_val_if_reached (NULL);
}

GBytes *
pp_key_host_issue_ct_kdh (PpKeyHost   *self,
                          gint64       order_id,
                          const char  *actor,
                          GError     **error)
{
  g_return_val_if_reached (NULL);
}

GBytes *
pp_key_host_issue_key_token (PpKeyHost   *self,
                             gint64       order_id,
                             GBytes      *ct_krd,
                             GBytes      *rt_krd,
                             const char  *actor,
                             GError     **error)
{
  g_return_val_if_reached (NULL);
}

gboolean
pp_key_host_confirm_kcv (PpKeyHost   *self,
                         gint64       order_id,
                         const char  *kcv,
                         const char  *actor,
                         GError     **error)
{
  g_return_val_if_reached (FALSE);
}
