/* SPDX-License-Identifier: GPL-3.0-or-later
 *
 * pp-link.h: a session of the posprov link protocol over any GIOStream
 * (docs/link-protocol.md): HELLO negotiation, ACK/NAK, retransmission,
 * resynchronisation and a sliding window, with requests and responses on
 * top. The station side is asynchronous on the caller's thread-default
 * main context; the terminal side (pp_link_serve) blocks its thread.
 */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

#define PP_LINK_PROTOCOL_VERSION 1

#define PP_LINK_ERROR (pp_link_error_quark ())
typedef enum {
  PP_LINK_ERROR_TIMEOUT,      /* no answer: check the cable and the baud rate */
  PP_LINK_ERROR_GARBAGE,      /* bytes that are no frames: wrong baud rate or not a posprov terminal */
  PP_LINK_ERROR_PROTOCOL,     /* a frame that breaks the protocol */
  PP_LINK_ERROR_VERSION,      /* no common protocol version */
  PP_LINK_ERROR_CLOSED,       /* the peer went away */
  PP_LINK_ERROR_REFUSED,      /* the terminal answered with a refusal (status != OK) */
} PpLinkError;

GQuark pp_link_error_quark (void);

typedef struct _PpLink PpLink;            /* reference counted */
typedef enum { PP_LINK_ROLE_STATION, PP_LINK_ROLE_TERMINAL } PpLinkRole;

PpLink *pp_link_new   (GIOStream *stream, PpLinkRole role);   /* refs @stream */
PpLink *pp_link_ref   (PpLink *link);
void    pp_link_unref (PpLink *link);

/* Station: HELLO exchange (version, max frame size, window), then requests. */
void     pp_link_connect_async  (PpLink *, GCancellable *, GAsyncReadyCallback, gpointer);
gboolean pp_link_connect_finish (PpLink *, GAsyncResult *, GError **);
/* One request, one response. A refusal is PP_LINK_ERROR_REFUSED with the terminal's
 * message (TLV PP_TAG_MESSAGE) as the error message and *out_status set. */
void     pp_link_request_async  (PpLink *, guint8 command, GBytes *payload, GCancellable *,
                                 GAsyncReadyCallback, gpointer);
GBytes  *pp_link_request_finish (PpLink *, GAsyncResult *, guint8 *out_status, GError **);
/* The same, but a refusal is no error: it returns the refusal's payload
 * (MESSAGE, REASON) with *out_status set; NULL only when the link failed. */
GBytes  *pp_link_request_finish_any (PpLink *, GAsyncResult *, guint8 *out_status, GError **);

/* Terminal: answers HELLO itself, then calls @handler for each request in the order
 * received, on the thread that runs the serve call (a termsim serves each connection on
 * its own thread with its own GMainContext). @handler returns the response payload and sets
 * *out_status; it may take long (RSA). Returns when the peer closes or on a fatal error. */
typedef GBytes *(*PpLinkHandler) (guint8 command, GBytes *payload, guint8 *out_status,
                                  gpointer user_data);
gboolean pp_link_serve (PpLink *link, PpLinkHandler handler, gpointer user_data,
                        GCancellable *cancellable, GError **error);

/* Beyond the seam: settings before connect/serve, and what HELLO agreed. */

/* Station: wait @ack_ms for an ACK, then @response_ms for the response;
 * each expiry retransmits, @max_retries times, before PP_LINK_ERROR_TIMEOUT.
 * Defaults 1000 ms, 30000 ms, 3. */
void     pp_link_set_timeouts    (PpLink *link,
                                  guint   ack_ms,
                                  guint   response_ms,
                                  guint   max_retries);
/* Station: the line's speed, so that the timers allow for the wire. A
 * frame's ACK timer runs from when the wire (at @baud, @bits_per_byte bits a
 * byte: 10 for 8N1, 11 for 8E1) has carried every byte written before it and
 * the frame itself, not from when the write returned: the OS buffers a whole
 * window long before the terminal sees it. @baud 0 (the default, TCP): no
 * such term. The term is capped at PP_LINK_MAX_PACING_MS. */
#define PP_LINK_MAX_PACING_MS 300000
void     pp_link_set_line_speed  (PpLink *link,
                                  guint   baud,
                                  guint   bits_per_byte);
/* What this side offers in HELLO: largest payload (PP_LINK_MIN_PAYLOAD ..
 * PP_LINK_MAX_PAYLOAD, default 16384) and window (1..32, default 8). */
void     pp_link_set_limits      (PpLink *link,
                                  guint   max_payload,
                                  guint   window);
/* Protocol versions this side speaks (default 1..1); for tests of newer peers. */
void     pp_link_set_versions    (PpLink *link,
                                  guint8  min_version,
                                  guint8  max_version);
/* After connect (station) or the first HELLO (terminal). */
guint8   pp_link_get_version     (PpLink *link);
guint    pp_link_get_max_payload (PpLink *link);
guint    pp_link_get_window      (PpLink *link);
/* Station: bytes written to and read from the stream since pp_link_new
 * (every frame, retransmissions and garbage included): what the wire
 * carried, for the benches. Call on the link's context. */
void     pp_link_get_wire_bytes  (PpLink  *link,
                                  guint64 *out_sent,
                                  guint64 *out_received);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (PpLink, pp_link_unref)

G_END_DECLS
