/* SPDX-License-Identifier: GPL-3.0-or-later
 *
 * pp-terminal-device.c: the PpTerminalDevice interface, its error domain
 * (with the terminal's reason code attached to a refusal) and the info
 * boxed type.
 */
#include "config.h"

#include "pp-terminal-device.h"
#include "pp-kcv.h"

typedef struct {
  guint reason;
} PpTerminalDeviceErrorPrivate;

static void
pp_terminal_device_error_private_init (PpTerminalDeviceErrorPrivate *priv)
{
  /* The generated wrappers pass what get_private returns: never NULL for
   * an error of this domain, but the compiler cannot know. */
  if (priv != NULL)
    priv->reason = 0;
}

static void
pp_terminal_device_error_private_copy (const PpTerminalDeviceErrorPrivate *src,
                                       PpTerminalDeviceErrorPrivate       *dest)
{
  if (src != NULL && dest != NULL)
    dest->reason = src->reason;
}

static void
pp_terminal_device_error_private_clear (PpTerminalDeviceErrorPrivate *priv)
{
}

/* GLib's macro casts the GError back from a byte offset it aligned
 * itself; clang's -Wcast-align cannot see that. */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wcast-align"
G_DEFINE_EXTENDED_ERROR (PpTerminalDeviceError, pp_terminal_device_error)
#pragma GCC diagnostic pop

guint
pp_terminal_device_error_get_reason (const GError *error)
{
  PpTerminalDeviceErrorPrivate *priv;

  if (error == NULL || !g_error_matches (error, PP_TERMINAL_DEVICE_ERROR, PP_TERMINAL_DEVICE_ERROR_REFUSED))
    return 0;
  priv = pp_terminal_device_error_get_private (error);
  return priv != NULL ? priv->reason : 0;
}

void
pp_terminal_device_set_refused (GError     **error,
                                guint        reason,
                                const char  *format,
                                ...)
{
  PpTerminalDeviceErrorPrivate *priv;
  GError *local;
  va_list args;

  if (error == NULL)
    return;
  va_start (args, format);
  local = g_error_new_valist (PP_TERMINAL_DEVICE_ERROR, PP_TERMINAL_DEVICE_ERROR_REFUSED, format, args);
  va_end (args);
  if ((priv = pp_terminal_device_error_get_private (local)) != NULL)
    priv->reason = reason;
  g_propagate_error (error, local);
}

PpTerminalInfo *
pp_terminal_info_copy (const PpTerminalInfo *info)
{
  PpTerminalInfo *copy = g_new0 (PpTerminalInfo, 1);

  *copy = *info;
  copy->serial = g_strdup (info->serial);
  copy->vendor = g_strdup (info->vendor);
  copy->model = g_strdup (info->model);
  copy->firmware = g_strdup (info->firmware);
  copy->bound_kdh = g_strdup (info->bound_kdh);
  copy->program_name = g_strdup (info->program_name);
  copy->program_version = g_strdup (info->program_version);
  copy->keys = pp_terminal_keys_copy (info->keys);
  return copy;
}

PpTerminalKey *
pp_terminal_key_new (guint       slot,
                     const char *usage,
                     gboolean    working,
                     const char *kcv)
{
  PpTerminalKey *key = g_new0 (PpTerminalKey, 1);

  key->slot = slot;
  key->usage = g_strdup (usage);
  key->working = working;
  key->kcv = g_strdup (kcv);
  return key;
}

PpTerminalKey *
pp_terminal_key_copy (const PpTerminalKey *key)
{
  return pp_terminal_key_new (key->slot, key->usage, key->working, key->kcv);
}

GPtrArray *
pp_terminal_keys_copy (GPtrArray *keys)
{
  GPtrArray *copy;

  if (keys == NULL)
    return NULL;
  copy = g_ptr_array_new_full (keys->len, (GDestroyNotify) pp_terminal_key_free);
  for (guint i = 0; i < keys->len; i++)
    g_ptr_array_add (copy, pp_terminal_key_copy (g_ptr_array_index (keys, i)));
  return copy;
}

void
pp_terminal_key_free (PpTerminalKey *key)
{
  if (key == NULL)
    return;
  g_free (key->usage);
  g_free (key->kcv);
  g_free (key);
}

const PpTerminalKey *
pp_terminal_info_find_kcv (const PpTerminalInfo *info,
                           const char           *kcv)
{
  g_return_val_if_fail (info != NULL && kcv != NULL, NULL);
  for (guint i = 0; info->keys != NULL && i < info->keys->len; i++)
    {
      const PpTerminalKey *key = g_ptr_array_index (info->keys, i);

      if (pp_kcv_equal (key->kcv, kcv))
        return key;
    }
  return NULL;
}

void
pp_terminal_info_free (PpTerminalInfo *info)
{
  if (info == NULL)
    return;
  g_free (info->serial);
  g_free (info->vendor);
  g_free (info->model);
  g_free (info->firmware);
  g_free (info->bound_kdh);
  g_free (info->program_name);
  g_free (info->program_version);
  g_clear_pointer (&info->keys, g_ptr_array_unref);
  g_free (info);
}

G_DEFINE_BOXED_TYPE (PpTerminalInfo, pp_terminal_info, pp_terminal_info_copy, pp_terminal_info_free)

PpTerminalStatus *
pp_terminal_status_copy (const PpTerminalStatus *status)
{
  PpTerminalStatus *copy = g_new0 (PpTerminalStatus, 1);

  *copy = *status;
  copy->bound_kdh = g_strdup (status->bound_kdh);
  copy->program_name = g_strdup (status->program_name);
  copy->program_version = g_strdup (status->program_version);
  copy->summary = g_strdup (status->summary);
  copy->keys = pp_terminal_keys_copy (status->keys);
  return copy;
}

void
pp_terminal_status_free (PpTerminalStatus *status)
{
  if (status == NULL)
    return;
  g_free (status->bound_kdh);
  g_free (status->program_name);
  g_free (status->program_version);
  g_free (status->summary);
  g_clear_pointer (&status->keys, g_ptr_array_unref);
  g_free (status);
}

G_DEFINE_BOXED_TYPE (PpTerminalStatus, pp_terminal_status, pp_terminal_status_copy, pp_terminal_status_free)

const PpTerminalKey *
pp_terminal_status_get_master_key (const PpTerminalStatus *status)
{
  const PpTerminalKey *master = NULL;

  g_return_val_if_fail (status != NULL, NULL);
  for (guint i = 0; status->keys != NULL && i < status->keys->len; i++)
    {
      const PpTerminalKey *key = g_ptr_array_index (status->keys, i);

      if (!key->working && key->usage != NULL && key->usage[0] == 'K' && (master == NULL || key->slot < master->slot))
        master = key;
    }
  return master;
}

G_DEFINE_INTERFACE (PpTerminalDevice, pp_terminal_device, G_TYPE_OBJECT)

static void
pp_terminal_device_default_init (PpTerminalDeviceInterface *iface)
{
}

#define IFACE(self) PP_TERMINAL_DEVICE_GET_IFACE (self)

void
pp_terminal_device_identify_async (PpTerminalDevice    *self,
                                   GCancellable        *cancellable,
                                   GAsyncReadyCallback  callback,
                                   gpointer             user_data)
{
  g_return_if_fail (PP_IS_TERMINAL_DEVICE (self));
  IFACE (self)->identify_async (self, cancellable, callback, user_data);
}

PpTerminalInfo *
pp_terminal_device_identify_finish (PpTerminalDevice  *self,
                                    GAsyncResult      *result,
                                    GError           **error)
{
  g_return_val_if_fail (PP_IS_TERMINAL_DEVICE (self), NULL);
  return IFACE (self)->identify_finish (self, result, error);
}

void
pp_terminal_device_get_csr_async (PpTerminalDevice    *self,
                                  GCancellable        *cancellable,
                                  GAsyncReadyCallback  callback,
                                  gpointer             user_data)
{
  g_return_if_fail (PP_IS_TERMINAL_DEVICE (self));
  IFACE (self)->get_csr_async (self, cancellable, callback, user_data);
}

GBytes *
pp_terminal_device_get_csr_finish (PpTerminalDevice  *self,
                                   GAsyncResult      *result,
                                   GError           **error)
{
  g_return_val_if_fail (PP_IS_TERMINAL_DEVICE (self), NULL);
  return IFACE (self)->get_csr_finish (self, result, error);
}

void
pp_terminal_device_put_cert_async (PpTerminalDevice    *self,
                                   GBytes              *cert_der,
                                   GCancellable        *cancellable,
                                   GAsyncReadyCallback  callback,
                                   gpointer             user_data)
{
  g_return_if_fail (PP_IS_TERMINAL_DEVICE (self));
  g_return_if_fail (cert_der != NULL);
  IFACE (self)->put_cert_async (self, cert_der, cancellable, callback, user_data);
}

gboolean
pp_terminal_device_put_cert_finish (PpTerminalDevice  *self,
                                    GAsyncResult      *result,
                                    GError           **error)
{
  g_return_val_if_fail (PP_IS_TERMINAL_DEVICE (self), FALSE);
  return IFACE (self)->put_cert_finish (self, result, error);
}

void
pp_terminal_device_get_ct_krd_async (PpTerminalDevice    *self,
                                     GCancellable        *cancellable,
                                     GAsyncReadyCallback  callback,
                                     gpointer             user_data)
{
  g_return_if_fail (PP_IS_TERMINAL_DEVICE (self));
  IFACE (self)->get_ct_krd_async (self, cancellable, callback, user_data);
}

GBytes *
pp_terminal_device_get_ct_krd_finish (PpTerminalDevice  *self,
                                      GAsyncResult      *result,
                                      GError           **error)
{
  g_return_val_if_fail (PP_IS_TERMINAL_DEVICE (self), NULL);
  return IFACE (self)->get_ct_krd_finish (self, result, error);
}

void
pp_terminal_device_bind_async (PpTerminalDevice    *self,
                               GBytes              *ct_kdh,
                               GCancellable        *cancellable,
                               GAsyncReadyCallback  callback,
                               gpointer             user_data)
{
  g_return_if_fail (PP_IS_TERMINAL_DEVICE (self));
  g_return_if_fail (ct_kdh != NULL);
  IFACE (self)->bind_async (self, ct_kdh, cancellable, callback, user_data);
}

char *
pp_terminal_device_bind_finish (PpTerminalDevice  *self,
                                GAsyncResult      *result,
                                GError           **error)
{
  g_return_val_if_fail (PP_IS_TERMINAL_DEVICE (self), NULL);
  return IFACE (self)->bind_finish (self, result, error);
}

void
pp_terminal_device_get_nonce_async (PpTerminalDevice    *self,
                                    GCancellable        *cancellable,
                                    GAsyncReadyCallback  callback,
                                    gpointer             user_data)
{
  g_return_if_fail (PP_IS_TERMINAL_DEVICE (self));
  IFACE (self)->get_nonce_async (self, cancellable, callback, user_data);
}

GBytes *
pp_terminal_device_get_nonce_finish (PpTerminalDevice  *self,
                                     GAsyncResult      *result,
                                     GError           **error)
{
  g_return_val_if_fail (PP_IS_TERMINAL_DEVICE (self), NULL);
  return IFACE (self)->get_nonce_finish (self, result, error);
}

void
pp_terminal_device_load_key_async (PpTerminalDevice    *self,
                                   GBytes              *kt_kdh,
                                   int                  slot,
                                   GCancellable        *cancellable,
                                   GAsyncReadyCallback  callback,
                                   gpointer             user_data)
{
  g_return_if_fail (PP_IS_TERMINAL_DEVICE (self));
  g_return_if_fail (kt_kdh != NULL);
  g_return_if_fail (slot >= -1 && slot <= 255);
  IFACE (self)->load_key_async (self, kt_kdh, slot, cancellable, callback, user_data);
}

gboolean
pp_terminal_device_load_key_finish (PpTerminalDevice  *self,
                                    GAsyncResult      *result,
                                    guint             *out_slot,
                                    char             **out_kcv,
                                    GError           **error)
{
  g_return_val_if_fail (PP_IS_TERMINAL_DEVICE (self), FALSE);
  return IFACE (self)->load_key_finish (self, result, out_slot, out_kcv, error);
}

void
pp_terminal_device_rebind_async (PpTerminalDevice    *self,
                                 GBytes              *rbt_kdh,
                                 GCancellable        *cancellable,
                                 GAsyncReadyCallback  callback,
                                 gpointer             user_data)
{
  g_return_if_fail (PP_IS_TERMINAL_DEVICE (self));
  g_return_if_fail (rbt_kdh != NULL);
  IFACE (self)->rebind_async (self, rbt_kdh, cancellable, callback, user_data);
}

char *
pp_terminal_device_rebind_finish (PpTerminalDevice  *self,
                                  GAsyncResult      *result,
                                  GError           **error)
{
  g_return_val_if_fail (PP_IS_TERMINAL_DEVICE (self), NULL);
  return IFACE (self)->rebind_finish (self, result, error);
}

void
pp_terminal_device_unbind_async (PpTerminalDevice    *self,
                                 GBytes              *ubt_kdh,
                                 GCancellable        *cancellable,
                                 GAsyncReadyCallback  callback,
                                 gpointer             user_data)
{
  g_return_if_fail (PP_IS_TERMINAL_DEVICE (self));
  g_return_if_fail (ubt_kdh != NULL);
  IFACE (self)->unbind_async (self, ubt_kdh, cancellable, callback, user_data);
}

gboolean
pp_terminal_device_unbind_finish (PpTerminalDevice  *self,
                                  GAsyncResult      *result,
                                  GError           **error)
{
  g_return_val_if_fail (PP_IS_TERMINAL_DEVICE (self), FALSE);
  return IFACE (self)->unbind_finish (self, result, error);
}

void
pp_terminal_device_zeroize_async (PpTerminalDevice    *self,
                                  GCancellable        *cancellable,
                                  GAsyncReadyCallback  callback,
                                  gpointer             user_data)
{
  g_return_if_fail (PP_IS_TERMINAL_DEVICE (self));
  IFACE (self)->zeroize_async (self, cancellable, callback, user_data);
}

gboolean
pp_terminal_device_zeroize_finish (PpTerminalDevice  *self,
                                   GAsyncResult      *result,
                                   GError           **error)
{
  g_return_val_if_fail (PP_IS_TERMINAL_DEVICE (self), FALSE);
  return IFACE (self)->zeroize_finish (self, result, error);
}

/* sign-on, status */

void
pp_terminal_device_sign_on_async (PpTerminalDevice    *self,
                                  guint32              operator_id,
                                  const char          *password,
                                  const char          *pin_key_block,
                                  const char          *mac_key_block,
                                  GCancellable        *cancellable,
                                  GAsyncReadyCallback  callback,
                                  gpointer             user_data)
{
  g_return_if_fail (PP_IS_TERMINAL_DEVICE (self));
  g_return_if_fail (password != NULL && pin_key_block != NULL && mac_key_block != NULL);
  IFACE (self)->sign_on_async (self, operator_id, password, pin_key_block, mac_key_block,
                               cancellable, callback, user_data);
}

gboolean
pp_terminal_device_sign_on_finish (PpTerminalDevice  *self,
                                   GAsyncResult      *result,
                                   char             **out_pin_kcv,
                                   char             **out_mac_kcv,
                                   GError           **error)
{
  g_return_val_if_fail (PP_IS_TERMINAL_DEVICE (self), FALSE);
  return IFACE (self)->sign_on_finish (self, result, out_pin_kcv, out_mac_kcv, error);
}

void
pp_terminal_device_sign_off_async (PpTerminalDevice    *self,
                                   GCancellable        *cancellable,
                                   GAsyncReadyCallback  callback,
                                   gpointer             user_data)
{
  g_return_if_fail (PP_IS_TERMINAL_DEVICE (self));
  IFACE (self)->sign_off_async (self, cancellable, callback, user_data);
}

gboolean
pp_terminal_device_sign_off_finish (PpTerminalDevice  *self,
                                    GAsyncResult      *result,
                                    GError           **error)
{
  g_return_val_if_fail (PP_IS_TERMINAL_DEVICE (self), FALSE);
  return IFACE (self)->sign_off_finish (self, result, error);
}

void
pp_terminal_device_status_async (PpTerminalDevice    *self,
                                 GCancellable        *cancellable,
                                 GAsyncReadyCallback  callback,
                                 gpointer             user_data)
{
  g_return_if_fail (PP_IS_TERMINAL_DEVICE (self));
  IFACE (self)->status_async (self, cancellable, callback, user_data);
}

PpTerminalStatus *
pp_terminal_device_status_finish (PpTerminalDevice  *self,
                                  GAsyncResult      *result,
                                  GError           **error)
{
  g_return_val_if_fail (PP_IS_TERMINAL_DEVICE (self), NULL);
  return IFACE (self)->status_finish (self, result, error);
}

/* programs */

void
pp_terminal_device_push_program_async (PpTerminalDevice             *self,
                                       PpProgramPackage             *package,
                                       PpTerminalDeviceProgressFunc  progress,
                                       gpointer                      progress_data,
                                       GCancellable                 *cancellable,
                                       GAsyncReadyCallback           callback,
                                       gpointer                      user_data)
{
  g_return_if_fail (PP_IS_TERMINAL_DEVICE (self));
  g_return_if_fail (package != NULL);
  IFACE (self)->push_program_async (self, package, progress, progress_data, cancellable, callback, user_data);
}

gboolean
pp_terminal_device_push_program_finish (PpTerminalDevice  *self,
                                        GAsyncResult      *result,
                                        guint64           *out_resumed_from,
                                        GError           **error)
{
  g_return_val_if_fail (PP_IS_TERMINAL_DEVICE (self), FALSE);
  return IFACE (self)->push_program_finish (self, result, out_resumed_from, error);
}
