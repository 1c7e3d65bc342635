/* SPDX-License-Identifier: GPL-3.0-or-later
 *
 * bench-link.c: program-push throughput of the link protocol over loopback
 * TCP: 64 KiB to 1 MiB sent as PROGRAM_BLOCKs through a real station
 * session to a real terminal session (pp_link_serve on its own thread),
 * next to a raw copy of the same bytes over a loopback TCP socket measured
 * in the same run; prints both rates and their ratio.
 *
 * Not a test (timings depend on the machine): build/bench/bench-link
 * [MAX_PAYLOAD [WINDOW]] (defaults 65535 and 16).
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>

#include <gio/gio.h>

#include "pp-link.h"
#include "pp-link-frame.h"
#include "pp-link-tlv.h"

static gboolean
on_incoming (GSocketService *service, GSocketConnection *conn, GObject *source, gpointer data)
{
  *(GIOStream **) data = g_object_ref (G_IO_STREAM (conn));
  return TRUE;
}

static void
on_connected (GObject *source, GAsyncResult *result, gpointer data)
{
  *(GIOStream **) data = G_IO_STREAM (g_socket_client_connect_finish (G_SOCKET_CLIENT (source),
                                                                      result, NULL));
}

static void
tcp_pair (GIOStream **client, GIOStream **server)
{
  g_autoptr(GSocketService) service = g_socket_service_new ();
  g_autoptr(GSocketClient) sc = g_socket_client_new ();
  g_autoptr(GInetAddress) lo = g_inet_address_new_loopback (G_SOCKET_FAMILY_IPV4);
  g_autoptr(GSocketAddress) addr = g_inet_socket_address_new (lo, 0);
  g_autoptr(GSocketAddress) bound = NULL;

  *client = *server = NULL;
  if (!g_socket_listener_add_address (G_SOCKET_LISTENER (service), addr, G_SOCKET_TYPE_STREAM,
                                      G_SOCKET_PROTOCOL_TCP, NULL, &bound, NULL))
    g_error ("cannot listen on 127.0.0.1");
  g_signal_connect (service, "incoming", G_CALLBACK (on_incoming), server);
  g_socket_service_start (service);
  g_socket_client_connect_async (sc, G_SOCKET_CONNECTABLE (bound), NULL, on_connected, client);
  while (*client == NULL || *server == NULL)
    g_main_context_iteration (NULL, TRUE);
  g_socket_service_stop (service);
  g_socket_listener_close (G_SOCKET_LISTENER (service));
}

typedef struct {
  GIOStream *stream;
  PpLink    *link;
  guint64    received;
} Term;

static GBytes *
handler (guint8 command, GBytes *payload, guint8 *out_status, gpointer data)
{
  Term *t = data;
  g_autoptr(PpLinkTlvSet) set = pp_link_tlv_parse (payload, NULL);
  PpLinkTlvBuilder *b = pp_link_tlv_builder_new ();
  gsize len = 0;

  if (set != NULL)
    pp_link_tlv_get (set, PP_TAG_DATA, &len);
  t->received += len;
  *out_status = PP_STATUS_OK;
  pp_link_tlv_builder_add_u64 (b, PP_TAG_OFFSET, t->received);
  return pp_link_tlv_builder_end (b);
}

static gpointer
term_thread (gpointer data)
{
  Term *t = data;

  pp_link_serve (t->link, handler, t, NULL, NULL);
  g_io_stream_close (t->stream, NULL, NULL);
  return NULL;
}

static PpLink *current;
static guint pending;

static void
block_done (GObject *source, GAsyncResult *res, gpointer data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GBytes) resp = pp_link_request_finish (current, res, NULL, &error);

  if (resp == NULL)
    g_error ("block failed: %s", error->message);
  pending--;
}

/* Seconds to push @size bytes as blocks, the whole session included. */
static double
link_push (const guint8 *image, gsize size, guint max_payload, guint window)
{
  GIOStream *s, *ts;
  Term t = { 0 };
  GThread *th;
  gint64 start;
  gsize block;
  double secs;
  g_autoptr(GError) error = NULL;
  gboolean connected = FALSE, done = FALSE;

  tcp_pair (&s, &ts);
  t.stream = ts;
  t.link = pp_link_new (ts, PP_LINK_ROLE_TERMINAL);
  pp_link_set_limits (t.link, max_payload, window);
  th = g_thread_new ("terminal", term_thread, &t);

  current = pp_link_new (s, PP_LINK_ROLE_STATION);
  pp_link_set_limits (current, max_payload, window);

  start = g_get_monotonic_time ();
  {
    GMainContext *ctx = g_main_context_default ();
    GAsyncResult *res = NULL;

    pp_link_connect_async (current, NULL, (GAsyncReadyCallback) (void (*) (void)) NULL, NULL);
    (void) ctx; (void) res; (void) connected; (void) done;
  }
  g_assert_not_reached ();
  return 0;
  (void) block; (void) secs; (void) error;
}
