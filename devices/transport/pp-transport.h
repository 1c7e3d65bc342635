/* SPDX-License-Identifier: GPL-3.0-or-later
 *
 * pp-transport.h: open a terminal's PORT as a GIOStream.
 *
 * PORT is a serial device path ("/dev/ttyUSB0", "COM3") or "tcp:HOST:PORT"
 * (a smart POS over USB networking or the LAN).  Serial ports go through
 * libserialport; each open port has one private owner thread that does all
 * of its I/O, fed by a queue, and async results return on the caller's
 * thread-default main context.  TCP is a GSocketConnection with TCP_NODELAY.
 * The link protocol (devices/link/) only sees the GIOStream.
 */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

#define PP_TRANSPORT_ERROR (pp_transport_error_quark ())

typedef enum {
  PP_TRANSPORT_ERROR_NOT_FOUND,   /* no such port */
  PP_TRANSPORT_ERROR_BUSY,        /* port in use (message names the process when it can) */
  PP_TRANSPORT_ERROR_PERMISSION,
  PP_TRANSPORT_ERROR_INVALID,     /* bad PORT or settings text */
  PP_TRANSPORT_ERROR_IO,
  PP_TRANSPORT_ERROR_CLOSED,
} PpTransportError;

typedef enum { PP_PARITY_NONE, PP_PARITY_ODD, PP_PARITY_EVEN } PpParity;
typedef enum { PP_FLOW_NONE, PP_FLOW_RTSCTS, PP_FLOW_XONXOFF } PpFlowControl;

/* Serial settings.  With baud 0 the port's terminal model (recognised by
 * its USB VID/PID, data/terminal-models.json) gives every setting, else
 * 115200 8N1 without flow control; the other fields, when not 0/NONE,
 * still override the model's.  With a baud, zero data/stop bits mean 8
 * and 1.  NULL settings are all zeros. */
typedef struct {
  guint          baud;       /* 0: the model's or 115200 */
  guint          data_bits;  /* 0: 8 */
  PpParity       parity;
  guint          stop_bits;  /* 0: 1 */
  PpFlowControl  flow;
} PpSerialSettings;

GQuark     pp_transport_error_quark (void);

/* The stream's input and output support the async read/write/close calls
 * (g_input_stream_read_async, g_output_stream_write_all_async, ...) and the
 * sync ones from any one thread at a time; for serial, a private owner
 * thread does the I/O and results return on the caller's thread-default
 * context.  A serial read returns 0 (end of stream) when the port hangs up,
 * as a TCP read does when the peer closes. */
void       pp_transport_open_async  (const char              *port,
                                     const PpSerialSettings  *settings,  /* NULL: defaults */
                                     GCancellable            *cancellable,
                                     GAsyncReadyCallback      callback,
                                     gpointer                 user_data);
GIOStream *pp_transport_open_finish (GAsyncResult  *result,
                                     GError       **error);

/* The line speed of a stream from pp_transport_open_finish: for a serial
 * port its baud (after the model lookup) and in *@out_bits_per_byte the bits
 * a byte takes on the wire (start, data, parity, stop: 10 for 8N1); 0 for
 * TCP, which has no line speed of its own. */
guint      pp_transport_get_line_speed (GIOStream *stream,
                                        guint     *out_bits_per_byte);

/* Parses "none"/"odd"/"even" and "none"/"rtscts"/"xonxoff" (for --parity
 * and --flow options and the models file). */
gboolean   pp_parity_from_string    (const char     *text,
                                     PpParity       *out_parity);
gboolean   pp_flow_from_string      (const char     *text,
                                     PpFlowControl  *out_flow);
const char *pp_parity_to_string     (PpParity        parity);
const char *pp_flow_to_string       (PpFlowControl   flow);

G_END_DECLS
