/* SPDX-License-Identifier: GPL-3.0-or-later
 *
 * pp-port-list.c: sp_list_ports with the terminal models file.
 */
#include "config.h"

#include <glib/gi18n-lib.h>
#include <libserialport.h>

#include "pp-port-list.h"
#include "pp-terminal-models.h"

void
pp_port_info_free (PpPortInfo *info)
{
  if (info == NULL)
    return;
  g_free (info->name);
  g_free (info->description);
  g_free (info->transport);
  g_free (info->serial);
  g_free (info->manufacturer);
  g_free (info->product);
  g_free (info->model_vendor);
  g_free (info->model);
  g_free (info);
}

static char *
dup_nonempty (const char *text)
{
  return text != NULL && text[0] != '\0' ? g_strdup (text) : NULL;
}

static int
compare_ports (gconstpointer a,
               gconstpointer b)
{
  const PpPortInfo *pa = *(PpPortInfo * const *) a;
  const PpPortInfo *pb = *(PpPortInfo * const *) b;

  return g_strcmp0 (pa->name, pb->name);
}

GPtrArray *
pp_port_list (GError **error)
{
  g_autoptr(GPtrArray) ports = g_ptr_array_new_with_free_func ((GDestroyNotify) pp_port_info_free);
  g_autoptr(GPtrArray) models = NULL;
  struct sp_port **list = NULL;

  if ((models = pp_terminal_models_load (NULL, error)) == NULL)
    return NULL;

  if (sp_list_ports (&list) != SP_OK)
    {
      char *message = sp_last_error_message ();

      g_set_error (error, PP_TRANSPORT_ERROR, PP_TRANSPORT_ERROR_IO,
                   _("Cannot list the serial ports: %s"), message != NULL ? message : "?");
      sp_free_error_message (message);
      return NULL;
    }

  for (guint i = 0; list[i] != NULL; i++)
    {
      PpPortInfo *info = g_new0 (PpPortInfo, 1);
      int vid, pid;

      info->name = g_strdup (sp_get_port_name (list[i]));
      info->description = dup_nonempty (sp_get_port_description (list[i]));
      switch (sp_get_port_transport (list[i]))
        {
        case SP_TRANSPORT_USB:
          info->transport = g_strdup ("usb");
          if (sp_get_port_usb_vid_pid (list[i], &vid, &pid) == SP_OK)
            {
              const PpTerminalModel *model;

              info->has_usb_id = TRUE;
              info->usb_vid = (guint16) vid;
              info->usb_pid = (guint16) pid;
              model = pp_terminal_models_find_usb (models, info->usb_vid, info->usb_pid);
              if (model != NULL)
                {
                  info->model_vendor = g_strdup (model->vendor);
                  info->model = g_strdup (model->model);
                }
            }
          info->serial = dup_nonempty (sp_get_port_usb_serial (list[i]));
          info->manufacturer = dup_nonempty (sp_get_port_usb_manufacturer (list[i]));
          info->product = dup_nonempty (sp_get_port_usb_product (list[i]));
          break;
        case SP_TRANSPORT_BLUETOOTH:
          info->transport = g_strdup ("bluetooth");
          break;
        case SP_TRANSPORT_NATIVE:
        default:
          info->transport = g_strdup ("native");
          break;
        }
      g_ptr_array_add (ports, info);
    }
  sp_free_port_list (list);

  g_ptr_array_sort (ports, compare_ports);
  return g_steal_pointer (&ports);
}

static void
list_thread (GTask        *task,
             gpointer      source,
             gpointer      task_data,
             GCancellable *cancellable)
{
  GError *error = NULL;
  GPtrArray *ports = pp_port_list (&error);

  if (ports == NULL)
    g_task_return_error (task, error);
  else
    g_task_return_pointer (task, ports, (GDestroyNotify) g_ptr_array_unref);
}

void
pp_port_list_async (GCancellable        *cancellable,
                    GAsyncReadyCallback  callback,
                    gpointer             user_data)
{
  g_autoptr(GTask) task = g_task_new (NULL, cancellable, callback, user_data);

  g_task_set_source_tag (task, pp_port_list_async);
  g_task_run_in_thread (task, list_thread);
}

GPtrArray *
pp_port_list_finish (GAsyncResult  *result,
                     GError       **error)
{
  g_return_val_if_fail (g_task_is_valid (result, NULL), NULL);

  return g_task_propagate_pointer (G_TASK (result), error);
}
