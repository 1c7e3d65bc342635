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

#include <netinet/in.h>
#include <netinet/tcp.h>

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
  /* As a TCP transport must: small frames (ACKs, responses) go at once
   * instead of waiting for Nagle and the peer's delayed ACK. */
  g_socket_set_option (g_socket_connection_get_socket (G_SOCKET_CONNECTION (*client)),
                       IPPROTO_TCP, TCP_NODELAY, 1, NULL);
  g_socket_set_option (g_socket_connection_get_socket (G_SOCKET_CONNECTION (*server)),
                       IPPROTO_TCP, TCP_NODELAY, 1, NULL);
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

static void
connect_done (GObject *source, GAsyncResult *res, gpointer data)
{
  g_autoptr(GError) error = NULL;

  if (!pp_link_connect_finish (current, res, &error))
    g_error ("connect failed: %s", error->message);
  *(gboolean *) data = TRUE;
}

/* Seconds to push @size bytes as PROGRAM_BLOCKs, HELLO included. */
static double
link_push (const guint8 *image, gsize size, guint max_payload, guint window)
{
  GIOStream *s, *ts;
  Term t = { 0 };
  GThread *th;
  gint64 start;
  gsize block;
  double secs;
  gboolean connected = FALSE;

  tcp_pair (&s, &ts);
  t.stream = ts;
  t.link = pp_link_new (ts, PP_LINK_ROLE_TERMINAL);
  pp_link_set_limits (t.link, max_payload, window);
  th = g_thread_new ("terminal", term_thread, &t);

  current = pp_link_new (s, PP_LINK_ROLE_STATION);
  pp_link_set_limits (current, max_payload, window);

  start = g_get_monotonic_time ();
  pp_link_connect_async (current, NULL, connect_done, &connected);
  while (!connected)
    g_main_context_iteration (NULL, TRUE);

  block = pp_link_get_max_payload (current) - 2 * PP_TLV_HEADER_SIZE - 8;
  for (gsize off = 0; off < size; off += block)
    {
      PpLinkTlvBuilder *b = pp_link_tlv_builder_new ();
      g_autoptr(GBytes) payload = NULL;

      pp_link_tlv_builder_add_u64 (b, PP_TAG_OFFSET, off);
      pp_link_tlv_builder_add (b, PP_TAG_DATA, image + off, MIN (block, size - off));
      payload = pp_link_tlv_builder_end (b);
      pending++;
      pp_link_request_async (current, PP_CMD_PROGRAM_BLOCK, payload, NULL, block_done, NULL);
    }
  while (pending > 0)
    g_main_context_iteration (NULL, TRUE);
  secs = (g_get_monotonic_time () - start) / 1e6;

  if (t.received != size)
    g_error ("terminal got %" G_GUINT64_FORMAT " of %" G_GSIZE_FORMAT " bytes", t.received, size);
  pp_link_unref (current);
  g_io_stream_close (s, NULL, NULL);
  g_object_unref (s);
  g_thread_join (th);
  pp_link_unref (t.link);
  g_object_unref (ts);
  return secs;
}

typedef struct {
  GIOStream *stream;
  gsize      size;
} Sink;

static gpointer
sink_thread (gpointer data)
{
  Sink *k = data;
  GInputStream *in = g_io_stream_get_input_stream (k->stream);
  guint8 buf[65536];
  gsize got = 0;
  gssize n;

  while (got < k->size && (n = g_input_stream_read (in, buf, sizeof buf, NULL, NULL)) > 0)
    got += n;
  /* One byte back: the copy is complete at the far end. */
  g_output_stream_write_all (g_io_stream_get_output_stream (k->stream), "k", 1, NULL, NULL, NULL);
  return NULL;
}

/* Seconds to copy @size bytes over a fresh loopback TCP socket and get
 * one byte back (connection set-up excluded). */
static double
raw_copy (const guint8 *image, gsize size)
{
  GIOStream *s, *ts;
  Sink k;
  GThread *th;
  gint64 start;
  guint8 ack;
  double secs;

  tcp_pair (&s, &ts);
  k.stream = ts;
  k.size = size;
  start = g_get_monotonic_time ();
  th = g_thread_new ("sink", sink_thread, &k);
  g_output_stream_write_all (g_io_stream_get_output_stream (s), image, size, NULL, NULL, NULL);
  g_input_stream_read_all (g_io_stream_get_input_stream (s), &ack, 1, NULL, NULL, NULL);
  secs = (g_get_monotonic_time () - start) / 1e6;
  g_thread_join (th);
  g_io_stream_close (s, NULL, NULL);
  g_io_stream_close (ts, NULL, NULL);
  g_object_unref (s);
  g_object_unref (ts);
  return secs;
}

int
main (int argc, char *argv[])
{
  guint max_payload = argc > 1 ? (guint) atoi (argv[1]) : PP_LINK_MAX_PAYLOAD;
  guint window = argc > 2 ? (guint) atoi (argv[2]) : 16;
  static const gsize sizes[] = { 64 * 1024, 256 * 1024, 1024 * 1024 };
  gsize max = 1024 * 1024;
  guint8 *image = g_malloc (max);

  for (gsize i = 0; i < max; i++)
    image[i] = (i * 131 + (i >> 11)) & 0xFF;

  printf ("link over loopback TCP, max payload %u, window %u (best of 5 runs each)\n",
          max_payload, window);
  printf ("%10s %14s %14s %8s\n", "bytes", "link MB/s", "raw MB/s", "ratio");
  for (guint i = 0; i < G_N_ELEMENTS (sizes); i++)
    {
      double best_link = G_MAXDOUBLE, best_raw = G_MAXDOUBLE;

      for (guint r = 0; r < 5; r++)
        {
          best_link = MIN (best_link, link_push (image, sizes[i], max_payload, window));
          best_raw = MIN (best_raw, raw_copy (image, sizes[i]));
        }
      printf ("%10" G_GSIZE_FORMAT " %14.1f %14.1f %8.3f\n", sizes[i],
              sizes[i] / best_link / 1e6, sizes[i] / best_raw / 1e6, best_raw / best_link);
    }
  g_free (image);
  return 0;
}
