/* SPDX-License-Identifier: GPL-3.0-or-later
 *
 * pp-port-list.h: the serial ports of this machine as libserialport sees
 * them, each with the terminal model its USB VID/PID recognises.
 */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

typedef struct {
  char     *name;          /* the PORT to give commands: /dev/ttyUSB0, COM3 */
  char     *description;
  char     *transport;     /* "native", "usb", "bluetooth" */
  gboolean  has_usb_id;
  guint16   usb_vid;
  guint16   usb_pid;
  char     *serial;        /* USB serial number, manufacturer, product: NULL when unknown */
  char     *manufacturer;
  char     *product;
  char     *model_vendor;  /* the recognised terminal model, NULL when none */
  char     *model;
} PpPortInfo;

void       pp_port_info_free     (PpPortInfo *info);

/* PpPortInfo*, sorted by name; blocking (sysfs, the registry): call it on
 * a worker thread, or use the async pair. */
GPtrArray *pp_port_list          (GError **error);
void       pp_port_list_async    (GCancellable        *cancellable,
                                  GAsyncReadyCallback  callback,
                                  gpointer             user_data);
GPtrArray *pp_port_list_finish   (GAsyncResult        *result,
                                  GError             **error);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (PpPortInfo, pp_port_info_free)

G_END_DECLS
