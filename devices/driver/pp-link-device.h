/* SPDX-License-Identifier: GPL-3.0-or-later
 *
 * pp-link-device.h: the driver for the open posprov link protocol
 * (docs/link-protocol.md): a PpTerminalDevice over a PpLink session over
 * a transport stream (docs/terminal-device.md).
 */
#pragma once

#include <gio/gio.h>

#include "pp-link.h"
#include "pp-terminal-device.h"
#include "pp-transport.h"

G_BEGIN_DECLS

#define PP_TYPE_LINK_DEVICE (pp_link_device_get_type ())
G_DECLARE_FINAL_TYPE (PpLinkDevice, pp_link_device, PP, LINK_DEVICE, GObject)

/* A device on a connected station link (HELLO done); refs @link. */
PpLinkDevice *pp_link_device_new         (PpLink                  *link);
PpLink       *pp_link_device_get_link    (PpLinkDevice            *self);

/* Opens @port ("/dev/ttyUSB0", "tcp:HOST:PORT") with @settings (NULL:
 * defaults), connects the link and returns the device.  Errors are
 * PP_TERMINAL_DEVICE_ERROR (NO_PORT, PORT_BUSY, UNREACHABLE, GARBAGE,
 * PROTOCOL) or G_IO_ERROR_CANCELLED. */
void          pp_link_device_open_async  (const char              *port,
                                          const PpSerialSettings  *settings,
                                          GCancellable            *cancellable,
                                          GAsyncReadyCallback      callback,
                                          gpointer                 user_data);
PpLinkDevice *pp_link_device_open_finish (GAsyncResult            *result,
                                          GError                 **error);

/* A link or transport error as the PpTerminalDevice error a flow acts on,
 * in the field's terms; @step names what the station was doing. */
void          pp_link_device_map_error   (GError                 **error,
                                          const char              *step);

G_END_DECLS
