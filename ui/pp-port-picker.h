/* SPDX-License-Identifier: GPL-3.0-or-later
 *
 * pp-port-picker.h: where the terminal is: this machine's serial ports
 * (known USB terminals named from data/terminal-models.json), ports the
 * caller knows of (a simulator's tcp:127.0.0.1:N), and a tcp:HOST:PORT
 * entry for a terminal on the network.  Choosing one emits "port-chosen";
 * opening it is the caller's business.
 */
#pragma once

#include <adwaita.h>

#include "pp-transport.h"

G_BEGIN_DECLS

#define PP_TYPE_PORT_PICKER (pp_port_picker_get_type ())
G_DECLARE_FINAL_TYPE (PpPortPicker, pp_port_picker, PP, PORT_PICKER, GtkBox)

/* Signals:
 *  "port-chosen" (const char *port, gconstpointer settings): @settings is a
 *    const PpSerialSettings * of the recognised model, or NULL for the
 *    defaults (TCP, an unknown serial device);
 *  "ports-listed" (): a listing (pp_port_picker_refresh) has been shown.
 * Property "busy" (boolean): while the caller opens the port chosen; the
 * rows take no other choice meanwhile. */
GtkWidget *pp_port_picker_new             (void);

/* Lists the ports again (the first time the picker is mapped, it does). */
void       pp_port_picker_refresh         (PpPortPicker *self);

/* A row above the listed ports, kept across refreshes: @port as given to
 * the transport ("tcp:127.0.0.1:7000", "/dev/ttyACM0"), @label what the
 * user reads (NULL: the port). */
void       pp_port_picker_add_known_port  (PpPortPicker *self,
                                           const char   *port,
                                           const char   *label);

/* Checks the network address typed in and, when it is one, chooses it;
 * what the caller's "Connect" button does. */
void       pp_port_picker_choose_address  (PpPortPicker *self);

/* Shows @message (NULL: none) under the ports: why a port did not open. */
void       pp_port_picker_set_error       (PpPortPicker *self,
                                           const char   *message);

void       pp_port_picker_set_busy        (PpPortPicker *self,
                                           gboolean      busy);
gboolean   pp_port_picker_get_busy        (PpPortPicker *self);

/* What should get the focus first: the first port a user can choose,
 * else the address entry. */
GtkWidget *pp_port_picker_get_focus_target (PpPortPicker *self);

G_END_DECLS
