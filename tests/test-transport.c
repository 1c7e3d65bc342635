/* SPDX-License-Identifier: GPL-3.0-or-later
 *
 * test-transport.c: devices/transport/ over real TCP on 127.0.0.1 and over
 * a real pty through the real libserialport.
 *
 * The serial rig (issue 7): libserialport only opens names it finds under
 * /sys/class/tty and fails on a pty's missing modem lines.  As root, this
 * test moves itself into a private mount namespace and bind-mounts each
 * test's pty slave over an existing /dev/ttyS* node; tests/pty-shim.c,
 * preloaded (the test re-executes itself with LD_PRELOAD when needed),
 * answers the modem-line ioctls on ptys.  The test holds the pty master:
 * the terminal's end of the cable.  Where that is not possible the serial
 * tests skip and say why.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <termios.h>
#include <unistd.h>

#include <gio/gio.h>
#include <glib/gstdio.h>
#include <glib-unix.h>
#include <netinet/in.h>
#include <netinet/tcp.h>

#include "pp-port-list.h"
#include "pp-terminal-models.h"
#include "pp-pty-rig.h"
#include "pp-test-util.h"
#include "pp-transport-private.h"

typedef struct {
  int   master;
  char *slave;
} Pty;

/* ---- the rig ---- */

static Pty *
pty_new (void)
{
  Pty *pty = g_new0 (Pty, 1);

  pty->master = posix_openpt (O_RDWR | O_NOCTTY);
  g_assert_cmpint (pty->master, >=, 0);
  g_assert_cmpint (grantpt (pty->master), ==, 0);
  g_assert_cmpint (unlockpt (pty->master), ==, 0);
  pty->slave = g_strdup (ptsname (pty->master));
  g_assert_no_errno (mount (pty->slave, pp_pty_rig.target, NULL, MS_BIND, NULL));
  g_unix_set_fd_nonblocking (pty->master, TRUE, NULL);
  return pty;
}

static void
pty_free (Pty *pty)
{
  if (pty->master >= 0)
    close (pty->master);
  g_assert_no_errno (umount2 (pp_pty_rig.target, MNT_DETACH));
  g_free (pty->slave);
  g_free (pty);
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC (Pty, pty_free)

/* Reads exactly @len bytes from the master within a few seconds. */
static GBytes *
pty_read (Pty   *pty,
          gsize  len)
{
  g_autoptr(GByteArray) got = g_byte_array_new ();
  gint64 deadline = g_get_monotonic_time () + 5 * G_USEC_PER_SEC;

  while (got->len < len && g_get_monotonic_time () < deadline)
    {
      struct pollfd pfd = { pty->master, POLLIN, 0 };
      guint8 buf[4096];
      ssize_t n;

      if (poll (&pfd, 1, 100) <= 0)
        continue;
      n = read (pty->master, buf, MIN (sizeof buf, len - got->len));
      if (n > 0)
        g_byte_array_append (got, buf, (guint) n);
    }
  return g_byte_array_free_to_bytes (g_steal_pointer (&got));
}

static void
pty_write (Pty        *pty,
           const void *data,
           gsize       len)
{
  g_assert_cmpint (write (pty->master, data, len), ==, (gssize) len);
}

/* ---- async helpers ---- */

static void
store_result (GObject      *source,
              GAsyncResult *result,
              gpointer      user_data)
{
  GAsyncResult **out = user_data;

  *out = g_object_ref (result);
}

static GAsyncResult *
wait_for (GAsyncResult **slot)
{
  while (*slot == NULL)
    g_main_context_iteration (NULL, TRUE);
  return *slot;
}

static GIOStream *
open_port (const char              *port,
           const PpSerialSettings  *settings,
           GError                 **error)
{
  GAsyncResult *result = NULL;
  GIOStream *stream;

  pp_transport_open_async (port, settings, NULL, store_result, &result);
  stream = pp_transport_open_finish (wait_for (&result), error);
  g_object_unref (result);
  return stream;
}

static GBytes *
pattern (gsize    len,
         gboolean skip_xon_xoff)
{
  guint8 *data = g_malloc (len);
  guint8 v = 0;

  for (gsize i = 0; i < len; i++)
    {
      while (skip_xon_xoff && (v == 0x11 || v == 0x13))
        v++;
      data[i] = v++;
    }
  return g_bytes_new_take (data, len);
}

typedef struct {
  GThread *thread;
  gboolean called;
} CallbackCheck;

static void
write_done (GObject      *source,
            GAsyncResult *result,
            gpointer      user_data)
{
  CallbackCheck *check = user_data;
  g_autoptr(GError) error = NULL;
  gsize written = 0;

  g_output_stream_write_all_finish (G_OUTPUT_STREAM (source), result, &written, &error);
  g_assert_no_error (error);
  g_assert_true (g_thread_self () == check->thread);
  check->called = TRUE;
}

/* Station -> terminal, with the master draining meanwhile (a big write
 * does not fit in the pty's buffer). */
static void
send_and_check (GIOStream *stream,
                GBytes    *data,
                Pty       *pty,
                GSocket   *peer)
{
  CallbackCheck check = { g_thread_self (), FALSE };
  g_autoptr(GByteArray) got = g_byte_array_new ();
  gsize len = g_bytes_get_size (data);
  gint64 deadline = g_get_monotonic_time () + 10 * G_USEC_PER_SEC;

  g_output_stream_write_all_async (g_io_stream_get_output_stream (stream),
                                   g_bytes_get_data (data, NULL), len,
                                   G_PRIORITY_DEFAULT, NULL, write_done, &check);
  while ((!check.called || got->len < len) && g_get_monotonic_time () < deadline)
    {
      guint8 buf[4096];
      gssize n;

      g_main_context_iteration (NULL, FALSE);
      if (pty != NULL)
        n = read (pty->master, buf, sizeof buf);
      else
        n = g_socket_receive_with_blocking (peer, (char *) buf, sizeof buf, FALSE, NULL, NULL);
      if (n > 0)
        g_byte_array_append (got, buf, (guint) n);
      else
        g_usleep (1000);
    }
  g_assert_true (check.called);
  g_assert_cmpmem (got->data, got->len, g_bytes_get_data (data, NULL), len);
}

static GBytes *
read_all (GIOStream *stream,
          gsize      len)
{
  GAsyncResult *result = NULL;
  g_autoptr(GError) error = NULL;
  guint8 *buf = g_malloc0 (len);
  gsize got = 0;

  g_input_stream_read_all_async (g_io_stream_get_input_stream (stream), buf, len,
                                 G_PRIORITY_DEFAULT, NULL, store_result, &result);
  g_assert_true (g_input_stream_read_all_finish (g_io_stream_get_input_stream (stream),
                                                 wait_for (&result), &got, &error));
  g_assert_no_error (error);
  g_object_unref (result);
  g_assert_cmpuint (got, ==, len);
  return g_bytes_new_take (buf, len);
}

/* ---- TCP ---- */

typedef struct {
  GSocketService *service;
  guint16         port;
  GSocket        *accepted;   /* the terminal's end, for tests that check bytes */
  gboolean        echo;
} TcpPeer;

static void
echo_spliced (GObject      *source,
              GAsyncResult *result,
              gpointer      user_data)
{
  g_output_stream_splice_finish (G_OUTPUT_STREAM (source), result, NULL);
  g_object_unref (user_data);
}

static gboolean
on_incoming (GSocketService    *service,
             GSocketConnection *connection,
             GObject           *source,
             gpointer           user_data)
{
  TcpPeer *peer = user_data;

  if (peer->echo)
    {
      g_output_stream_splice_async (g_io_stream_get_output_stream (G_IO_STREAM (connection)),
                                    g_io_stream_get_input_stream (G_IO_STREAM (connection)),
                                    G_OUTPUT_STREAM_SPLICE_CLOSE_SOURCE |
                                    G_OUTPUT_STREAM_SPLICE_CLOSE_TARGET,
                                    G_PRIORITY_DEFAULT, NULL, echo_spliced,
                                    g_object_ref (connection));
      return TRUE;
    }
  /* Keep the connection alive with its socket. */
  g_set_object (&peer->accepted, g_socket_connection_get_socket (connection));
  g_object_set_data_full (G_OBJECT (peer->accepted), "connection",
                          g_object_ref (connection), g_object_unref);
  return TRUE;
}

static TcpPeer *
tcp_peer_new (gboolean echo)
{
  TcpPeer *peer = g_new0 (TcpPeer, 1);
  g_autoptr(GInetAddress) loopback = g_inet_address_new_loopback (G_SOCKET_FAMILY_IPV4);
  g_autoptr(GSocketAddress) address = g_inet_socket_address_new (loopback, 0);
  g_autoptr(GSocketAddress) effective = NULL;
  g_autoptr(GError) error = NULL;

  peer->echo = echo;
  peer->service = g_socket_service_new ();
  g_assert_true (g_socket_listener_add_address (G_SOCKET_LISTENER (peer->service), address,
                                                G_SOCKET_TYPE_STREAM, G_SOCKET_PROTOCOL_TCP,
                                                NULL, &effective, &error));
  g_assert_no_error (error);
  peer->port = g_inet_socket_address_get_port (G_INET_SOCKET_ADDRESS (effective));
  g_signal_connect (peer->service, "incoming", G_CALLBACK (on_incoming), peer);
  g_socket_service_start (peer->service);
  return peer;
}

static void
tcp_peer_free (TcpPeer *peer)
{
  g_socket_service_stop (peer->service);
  g_socket_listener_close (G_SOCKET_LISTENER (peer->service));
  g_clear_object (&peer->service);
  g_clear_object (&peer->accepted);
  g_free (peer);
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC (TcpPeer, tcp_peer_free)

static void
test_tcp_round_trip (void)
{
  g_autoptr(TcpPeer) peer = tcp_peer_new (TRUE);
  g_autofree char *port = g_strdup_printf ("tcp:127.0.0.1:%u", peer->port);
  g_autoptr(GError) error = NULL;
  g_autoptr(GIOStream) stream = open_port (port, NULL, &error);
  g_autoptr(GBytes) data = pattern (100000, FALSE);
  g_autoptr(GBytes) back = NULL;
  gint nodelay = 0;
  CallbackCheck check = { g_thread_self (), FALSE };

  g_assert_no_error (error);
  g_assert_true (G_IS_SOCKET_CONNECTION (stream));
  g_assert_true (g_socket_get_option (g_socket_connection_get_socket (G_SOCKET_CONNECTION (stream)),
                                      IPPROTO_TCP, TCP_NODELAY, &nodelay, &error));
  g_assert_cmpint (nodelay, !=, 0);

  /* The echo peer sends it all back. */
  g_output_stream_write_all_async (g_io_stream_get_output_stream (stream),
                                   g_bytes_get_data (data, NULL), g_bytes_get_size (data),
                                   G_PRIORITY_DEFAULT, NULL, write_done, &check);
  back = read_all (stream, g_bytes_get_size (data));
  while (!check.called)
    g_main_context_iteration (NULL, TRUE);
  g_assert_true (g_bytes_equal (back, data));
  g_assert_true (g_io_stream_close (stream, NULL, &error));
  g_assert_no_error (error);
}

static void
test_tcp_errors (void)
{
  static const char *const bad[] = {
    "tcp:nohost", "tcp:127.0.0.1:notaport", "tcp:127.0.0.1:0", "tcp:127.0.0.1:65536",
    "tcp::5000", "tcp:127.0.0.1:", "tcp:[::1:5000", "tcp:a:b:5000", "",
  };
  g_autoptr(GSocketListener) listener = g_socket_listener_new ();
  g_autoptr(GError) error = NULL;
  g_autofree char *refused = NULL;
  GIOStream *stream;
  guint16 free_port;

  for (guint i = 0; i < G_N_ELEMENTS (bad); i++)
    {
      g_clear_error (&error);
      stream = open_port (bad[i], NULL, &error);
      g_assert_null (stream);
      g_assert_error (error, PP_TRANSPORT_ERROR, PP_TRANSPORT_ERROR_INVALID);
    }

  g_clear_error (&error);

  /* A port nothing listens on: take a free one and let it go. */
  free_port = g_socket_listener_add_any_inet_port (listener, NULL, &error);
  g_assert_no_error (error);
  g_socket_listener_close (listener);
  refused = g_strdup_printf ("tcp:127.0.0.1:%u", free_port);
  stream = open_port (refused, NULL, &error);
  g_assert_null (stream);
  g_assert_error (error, PP_TRANSPORT_ERROR, PP_TRANSPORT_ERROR_NOT_FOUND);
  g_assert_nonnull (strstr (error->message, refused));
}

static gboolean
cancel_later (gpointer user_data)
{
  g_cancellable_cancel (user_data);
  return G_SOURCE_REMOVE;
}

/* A read waiting for bytes ends with CANCELLED soon after the cancel, and
 * the stream still carries bytes afterwards. */
static void
check_cancel_pending_read (GIOStream *stream,
                           Pty       *pty,
                           GSocket   *peer)
{
  g_autoptr(GCancellable) cancellable = g_cancellable_new ();
  g_autoptr(GError) error = NULL;
  g_autoptr(GBytes) got = NULL;
  GAsyncResult *result = NULL;
  guint8 buf[16];
  gint64 cancelled_at, returned_at;

  g_input_stream_read_async (g_io_stream_get_input_stream (stream), buf, sizeof buf,
                             G_PRIORITY_DEFAULT, cancellable, store_result, &result);
  g_timeout_add (50, cancel_later, cancellable);
  while (!g_cancellable_is_cancelled (cancellable))
    g_main_context_iteration (NULL, TRUE);
  cancelled_at = g_get_monotonic_time ();
  g_assert_cmpint (g_input_stream_read_finish (g_io_stream_get_input_stream (stream),
                                               wait_for (&result), &error), ==, -1);
  returned_at = g_get_monotonic_time ();
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  g_assert_cmpint (returned_at - cancelled_at, <, 500 * 1000);
  g_clear_object (&result);

  if (pty != NULL)
    pty_write (pty, "after", 5);
  else
    g_assert_cmpint (g_socket_send (peer, "after", 5, NULL, NULL), ==, 5);
  got = read_all (stream, 5);
  g_assert_cmpmem (g_bytes_get_data (got, NULL), 5, "after", 5);
}

static void
test_tcp_cancel_read (void)
{
  g_autoptr(TcpPeer) peer = tcp_peer_new (FALSE);
  g_autofree char *port = g_strdup_printf ("tcp:127.0.0.1:%u", peer->port);
  g_autoptr(GError) error = NULL;
  g_autoptr(GIOStream) stream = open_port (port, NULL, &error);
  g_autoptr(GBytes) data = pattern (3000, FALSE);

  g_assert_no_error (error);
  while (peer->accepted == NULL)
    g_main_context_iteration (NULL, TRUE);
  send_and_check (stream, data, NULL, peer->accepted);
  check_cancel_pending_read (stream, NULL, peer->accepted);
}

/* ---- serial ---- */

static struct termios
slave_termios (Pty *pty)
{
  struct termios tio;
  int fd = open (pty->slave, O_RDWR | O_NOCTTY | O_NONBLOCK);

  g_assert_cmpint (fd, >=, 0);
  g_assert_no_errno (tcgetattr (fd, &tio));
  close (fd);
  return tio;
}

static void
test_serial_round_trip (void)
{
  static const struct {
    PpSerialSettings settings;
    speed_t          speed;
  } cases[] = {
    { { 115200, 8, PP_PARITY_NONE, 1, PP_FLOW_NONE }, B115200 },
    { { 9600, 7, PP_PARITY_EVEN, 1, PP_FLOW_NONE }, B9600 },
    { { 57600, 8, PP_PARITY_ODD, 2, PP_FLOW_RTSCTS }, B57600 },
    { { 19200, 8, PP_PARITY_NONE, 1, PP_FLOW_XONXOFF }, B19200 },
  };

  if (pp_pty_rig_skip ())
    return;

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      const PpSerialSettings *s = &cases[i].settings;
      g_autoptr(Pty) pty = pty_new ();
      g_autoptr(GError) error = NULL;
      g_autoptr(GIOStream) stream = open_port (pp_pty_rig.target, s, &error);
      gboolean xonxoff = s->flow == PP_FLOW_XONXOFF;
      /* 7 data bits: the top bit does not cross the line. */
      g_autoptr(GBytes) data = pattern (s->data_bits == 7 ? 127 : 20000, xonxoff);
      g_autoptr(GBytes) in = pattern (s->data_bits == 7 ? 127 : 2000, xonxoff);
      g_autoptr(GBytes) got = NULL;
      PpSerialSettings applied;
      struct termios tio;
      GThread *owner = NULL;
      guint owner_calls = 0, foreign_calls = 99;

      g_test_message ("%u baud %u%c%u flow %s", s->baud, s->data_bits,
                      "NOE"[s->parity], s->stop_bits, pp_flow_to_string (s->flow));
      g_assert_no_error (error);
      g_assert_nonnull (stream);

      /* What the port is set to, as the line discipline sees it. */
      tio = slave_termios (pty);
      g_assert_cmpuint (cfgetospeed (&tio), ==, cases[i].speed);
      /* A pty always forces CS8 and no parity (Linux pty_set_termios):
       * data bits and parity are checked in what the transport applied. */
      g_assert_cmpuint (tio.c_cflag & CSIZE, ==, CS8);
      g_assert_cmpint (!!(tio.c_cflag & CSTOPB), ==, s->stop_bits == 2);
      g_assert_cmpint (!!(tio.c_cflag & CRTSCTS), ==, s->flow == PP_FLOW_RTSCTS);
      g_assert_cmpint (!!(tio.c_iflag & IXON), ==, xonxoff);
      g_assert_cmpint (tio.c_lflag & (ICANON | ECHO), ==, 0);
      g_assert_true (pp_transport_serial_get_settings (stream, &applied));
      g_assert_cmpuint (applied.baud, ==, s->baud);
      g_assert_cmpuint (applied.data_bits, ==, s->data_bits);
      g_assert_cmpint (applied.parity, ==, s->parity);
      g_assert_cmpuint (applied.stop_bits, ==, s->stop_bits);
      g_assert_cmpint (applied.flow, ==, s->flow);

      send_and_check (stream, data, pty, NULL);
      pty_write (pty, g_bytes_get_data (in, NULL), g_bytes_get_size (in));
      got = read_all (stream, g_bytes_get_size (in));
      g_assert_true (g_bytes_equal (got, in));

      /* Every libserialport call on the port ran on its owner thread. */
      g_assert_true (pp_transport_serial_debug_counts (stream, &owner, &owner_calls,
                                                       &foreign_calls));
      g_assert_nonnull (owner);
      g_assert_true (owner != g_thread_self ());
      g_assert_cmpuint (owner_calls, >, 4);
      g_assert_cmpuint (foreign_calls, ==, 0);

      g_assert_true (g_io_stream_close (stream, NULL, &error));
      g_assert_no_error (error);
    }
}

static void
test_serial_default_settings (void)
{
  g_autoptr(Pty) pty = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(GIOStream) stream = NULL;
  PpSerialSettings applied;
  struct termios tio;

  if (pp_pty_rig_skip ())
    return;
  pty = pty_new ();
  /* No settings, a port with no USB ID (so no model): 115200 8N1. */
  stream = open_port (pp_pty_rig.target, NULL, &error);
  g_assert_no_error (error);
  g_assert_true (pp_transport_serial_get_settings (stream, &applied));
  g_assert_cmpuint (applied.baud, ==, 115200);
  g_assert_cmpuint (applied.data_bits, ==, 8);
  g_assert_cmpuint (applied.stop_bits, ==, 1);
  tio = slave_termios (pty);
  g_assert_cmpuint (cfgetospeed (&tio), ==, B115200);
}

typedef struct {
  GIOStream *stream;
  Pty       *pty;
} WorkerData;

static void
worker_read_done (GObject      *source,
                  GAsyncResult *result,
                  gpointer      user_data)
{
  CallbackCheck *check = user_data;
  g_autoptr(GError) error = NULL;
  gsize got = 0;

  g_assert_true (g_input_stream_read_all_finish (G_INPUT_STREAM (source), result, &got, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (got, ==, 4);
  /* On the thread whose context was the thread-default one. */
  g_assert_true (g_thread_self () == check->thread);
  check->called = TRUE;
}

static gpointer
worker_main (gpointer user_data)
{
  WorkerData *data = user_data;
  g_autoptr(GMainContext) context = g_main_context_new ();
  g_autoptr(GError) error = NULL;
  CallbackCheck check = { g_thread_self (), FALSE };
  guint8 buf[4];

  g_main_context_push_thread_default (context);
  g_input_stream_read_all_async (g_io_stream_get_input_stream (data->stream), buf, sizeof buf,
                                 G_PRIORITY_DEFAULT, NULL, worker_read_done, &check);
  pty_write (data->pty, "ping", 4);
  while (!check.called)
    g_main_context_iteration (context, TRUE);
  g_assert_cmpmem (buf, 4, "ping", 4);

  /* The sync calls too, from this thread. */
  g_assert_true (g_output_stream_write_all (g_io_stream_get_output_stream (data->stream),
                                            "pong", 4, NULL, NULL, &error));
  g_assert_no_error (error);
  pty_write (data->pty, "sync", 4);
  g_assert_true (g_input_stream_read_all (g_io_stream_get_input_stream (data->stream),
                                          buf, 4, NULL, NULL, &error));
  g_assert_no_error (error);
  g_assert_cmpmem (buf, 4, "sync", 4);
  g_main_context_pop_thread_default (context);
  return NULL;
}

/* Results come back on the caller's thread-default context, on whichever
 * thread calls; the I/O itself stays on the owner thread. */
static void
test_serial_threads (void)
{
  g_autoptr(Pty) pty = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(GIOStream) stream = NULL;
  g_autoptr(GBytes) got = NULL;
  WorkerData data;
  GThread *worker, *owner = NULL;
  guint owner_calls = 0, foreign_calls = 99;

  if (pp_pty_rig_skip ())
    return;
  pty = pty_new ();
  stream = open_port (pp_pty_rig.target, NULL, &error);
  g_assert_no_error (error);

  data.stream = stream;
  data.pty = pty;
  worker = g_thread_new ("test-worker", worker_main, &data);
  g_thread_join (worker);
  got = pty_read (pty, 4);
  g_assert_cmpmem (g_bytes_get_data (got, NULL), g_bytes_get_size (got), "pong", 4);

  g_assert_true (pp_transport_serial_debug_counts (stream, &owner, &owner_calls, &foreign_calls));
  g_assert_true (owner != worker && owner != g_thread_self ());
  g_assert_cmpuint (foreign_calls, ==, 0);
}

static void
test_serial_cancel_read (void)
{
  g_autoptr(Pty) pty = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(GIOStream) stream = NULL;

  if (pp_pty_rig_skip ())
    return;
  pty = pty_new ();
  stream = open_port (pp_pty_rig.target, NULL, &error);
  g_assert_no_error (error);
  check_cancel_pending_read (stream, pty, NULL);
}

/* The terminal's end goes away: a waiting read ends the stream (0), as on
 * TCP. */
static void
test_serial_hangup (void)
{
  g_autoptr(Pty) pty = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(GIOStream) stream = NULL;
  GAsyncResult *result = NULL;
  guint8 buf[8];

  if (pp_pty_rig_skip ())
    return;
  pty = pty_new ();
  stream = open_port (pp_pty_rig.target, NULL, &error);
  g_assert_no_error (error);
  g_input_stream_read_async (g_io_stream_get_input_stream (stream), buf, sizeof buf,
                             G_PRIORITY_DEFAULT, NULL, store_result, &result);
  g_usleep (20 * 1000);
  close (pty->master);
  pty->master = -1;
  g_assert_cmpint (g_input_stream_read_finish (g_io_stream_get_input_stream (stream),
                                               wait_for (&result), &error), ==, 0);
  g_assert_no_error (error);
  g_object_unref (result);
}

static void
test_serial_errors (void)
{
  g_autoptr(GError) error = NULL;
  GIOStream *stream;

  stream = open_port ("/dev/ttyPOSPROVNONE7", NULL, &error);
  g_assert_null (stream);
  g_assert_error (error, PP_TRANSPORT_ERROR, PP_TRANSPORT_ERROR_NOT_FOUND);
  g_assert_nonnull (strstr (error->message, "/dev/ttyPOSPROVNONE7"));
  g_clear_error (&error);

  stream = open_port ("/dev/null", NULL, &error);
  g_assert_null (stream);
  g_assert_error (error, PP_TRANSPORT_ERROR, PP_TRANSPORT_ERROR_INVALID);
  g_clear_error (&error);

  stream = open_port ("/dev/ttyPOSPROVNONE7", &(PpSerialSettings) { 9600, 9, 0, 0, 0 }, &error);
  g_assert_null (stream);
  g_assert_error (error, PP_TRANSPORT_ERROR, PP_TRANSPORT_ERROR_INVALID);
}

static void
test_serial_busy (void)
{
  g_autoptr(Pty) pty = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(GIOStream) first = NULL;
  g_autoptr(GIOStream) again = NULL;
  g_autofree char *pid = NULL;

  if (pp_pty_rig_skip ())
    return;
  pty = pty_new ();
  first = open_port (pp_pty_rig.target, NULL, &error);
  g_assert_no_error (error);

  again = open_port (pp_pty_rig.target, NULL, &error);
  g_assert_null (again);
  g_assert_error (error, PP_TRANSPORT_ERROR, PP_TRANSPORT_ERROR_BUSY);
  /* It names the process holding the port: this one. */
  pid = g_strdup_printf ("(%d)", (int) getpid ());
  g_assert_nonnull (strstr (error->message, pid));
  g_assert_nonnull (strstr (error->message, pp_pty_rig.target));
  g_clear_error (&error);

  /* Closed, it opens again. */
  g_assert_true (g_io_stream_close (first, NULL, &error));
  g_assert_no_error (error);
  again = open_port (pp_pty_rig.target, NULL, &error);
  g_assert_no_error (error);
  g_assert_nonnull (again);
}

/* As a user who may not open the port (nobody, not in the tty's group). */
static void
test_serial_permission (void)
{
  g_autoptr(Pty) pty = NULL;

  if (pp_pty_rig_skip ())
    return;
  pty = pty_new ();
  g_assert_no_errno (chmod (pty->slave, 0600));
  g_test_trap_subprocess ("/transport/serial/permission/child", 0, G_TEST_SUBPROCESS_DEFAULT);
  g_test_trap_assert_passed ();
}

static void
test_serial_permission_child (void)
{
  g_autoptr(GError) error = NULL;
  const char *target = g_getenv ("PP_TEST_RIG_TARGET");
  GIOStream *stream;

  if (!g_test_subprocess ())
    {
      g_test_skip ("runs as a subprocess of /transport/serial/permission");
      return;
    }
  g_assert_nonnull (target);
  g_assert_no_errno (setgid (65534));
  g_assert_no_errno (setuid (65534));
  stream = open_port (target, NULL, &error);
  g_assert_null (stream);
  g_assert_error (error, PP_TRANSPORT_ERROR, PP_TRANSPORT_ERROR_PERMISSION);
  g_assert_nonnull (strstr (error->message, "dialout"));
}

/* ---- models and the port list ---- */

static void
test_models (void)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *dir = pp_test_make_tmpdir ();
  g_autofree char *user = g_build_filename (dir, "terminal-models.json", NULL);
  g_autoptr(GPtrArray) builtin = pp_terminal_models_load (user, &error);
  g_autoptr(GPtrArray) models = NULL;
  const PpTerminalModel *model;
  const char *broken = "{\"models\": [{\"vendor\": \"X\", \"model\": \"Y\", \"baud\": \"fast\"}]}";

  /* Without a user file: the built-in table. */
  g_assert_no_error (error);
  g_assert_cmpuint (builtin->len, >=, 5);
  g_assert_nonnull (pp_terminal_models_find (builtin, "PAX A920"));
  model = pp_terminal_models_find (builtin, "N910");
  g_assert_nonnull (model);
  g_assert_cmpuint (model->settings.baud, ==, 57600);
  g_assert_cmpint (model->settings.parity, ==, PP_PARITY_EVEN);
  g_assert_true (pp_terminal_models_find_usb (builtin, 0x1eab, 0x8310) == model);

  /* The user's file overrides a model and adds one. */
  g_assert_true (g_file_set_contents (user,
    "{\"models\": ["
    " {\"vendor\": \"Newland\", \"model\": \"N910\", \"usb_ids\": [\"1eab:8310\"], \"baud\": 9600},"
    " {\"vendor\": \"Acme\", \"model\": \"T1\", \"usb_ids\": [\"1234:abcd\"], \"baud\": 38400,"
    "  \"data_bits\": 7, \"parity\": \"odd\", \"stop_bits\": 2, \"flow\": \"xonxoff\"}]}", -1, &error));
  models = pp_terminal_models_load (user, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (models->len, ==, builtin->len + 1);
  model = pp_terminal_models_find_usb (models, 0x1eab, 0x8310);
  g_assert_nonnull (model);
  g_assert_cmpuint (model->settings.baud, ==, 9600);
  g_assert_cmpint (model->settings.parity, ==, PP_PARITY_NONE);
  model = pp_terminal_models_find_usb (models, 0x1234, 0xabcd);
  g_assert_nonnull (model);
  g_assert_cmpstr (model->vendor, ==, "Acme");
  g_assert_cmpuint (model->settings.data_bits, ==, 7);
  g_assert_cmpint (model->settings.flow, ==, PP_FLOW_XONXOFF);
  g_clear_pointer (&models, g_ptr_array_unref);

  /* A broken user file is an error that names it. */
  g_assert_true (g_file_set_contents (user, broken, -1, &error));
  models = pp_terminal_models_load (user, &error);
  g_assert_null (models);
  g_assert_error (error, PP_TRANSPORT_ERROR, PP_TRANSPORT_ERROR_INVALID);
  g_assert_nonnull (strstr (error->message, user));
  g_assert_nonnull (strstr (error->message, "baud"));
  g_clear_error (&error);
  g_assert_true (g_file_set_contents (user, "{\"models\": [{\"vendor\": \"X\", \"model\": \"Y\", \"usb_ids\": [\"12:34\"]}]}", -1, &error));
  g_assert_null (pp_terminal_models_load (user, &error));
  g_assert_error (error, PP_TRANSPORT_ERROR, PP_TRANSPORT_ERROR_INVALID);
}

static JsonArray *
device_list_json (JsonParser *parser)
{
  const char *argv[] = { "device", "list", "--json", NULL };
  g_autofree char *out = NULL;
  g_autofree char *err = NULL;
  g_autoptr(GError) error = NULL;
  JsonNode *root;

  g_assert_cmpint (pp_test_run_tool (argv, NULL, &out, &err), ==, 0);
  g_assert_true (json_parser_load_from_data (parser, out, -1, &error));
  g_assert_no_error (error);
  root = json_parser_get_root (parser);
  g_assert_true (JSON_NODE_HOLDS_ARRAY (root));
  return json_node_get_array (root);
}

static void
test_device_list (void)
{
  g_autoptr(JsonParser) parser = json_parser_new ();
  g_autoptr(Pty) pty = NULL;
  JsonArray *ports;
  gboolean found = FALSE;

  /* Valid JSON whatever this machine has. */
  ports = device_list_json (parser);
  for (guint i = 0; i < json_array_get_length (ports); i++)
    {
      JsonObject *port = json_array_get_object_element (ports, i);

      g_assert_nonnull (port);
      g_assert_nonnull (json_object_get_string_member (port, "port"));
      g_assert_nonnull (json_object_get_string_member (port, "transport"));
    }

  if (pp_pty_rig_skip ())
    return;
  pty = pty_new ();
  ports = device_list_json (parser);
  for (guint i = 0; i < json_array_get_length (ports); i++)
    {
      JsonObject *port = json_array_get_object_element (ports, i);

      if (g_strcmp0 (json_object_get_string_member (port, "port"), pp_pty_rig.target) == 0)
        {
          found = TRUE;
          g_assert_cmpstr (json_object_get_string_member (port, "transport"), ==, "native");
          g_assert_true (json_object_has_member (port, "serial"));
          g_assert_true (json_object_has_member (port, "manufacturer"));
          g_assert_true (json_object_has_member (port, "product"));
        }
    }
  g_assert_true (found);

  {
    const char *argv[] = { "device", "list", NULL };
    g_autofree char *out = NULL;

    g_assert_cmpint (pp_test_run_tool (argv, NULL, &out, NULL), ==, 0);
    g_assert_nonnull (strstr (out, pp_pty_rig.target));
  }
}

int
main (int    argc,
      char **argv)
{
  pp_pty_rig_reexec (argv);
  g_test_init (&argc, &argv, NULL);

  if (!g_test_subprocess ())
    {
      pp_pty_rig_init ();
      if (pp_pty_rig.target != NULL)
        g_setenv ("PP_TEST_RIG_TARGET", pp_pty_rig.target, TRUE);
      else
        g_test_message ("serial tests skip: %s", pp_pty_rig.skip_reason);
    }

  g_test_add_func ("/transport/tcp/round-trip", test_tcp_round_trip);
  g_test_add_func ("/transport/tcp/errors", test_tcp_errors);
  g_test_add_func ("/transport/tcp/cancel-read", test_tcp_cancel_read);
  g_test_add_func ("/transport/serial/round-trip", test_serial_round_trip);
  g_test_add_func ("/transport/serial/default-settings", test_serial_default_settings);
  g_test_add_func ("/transport/serial/threads", test_serial_threads);
  g_test_add_func ("/transport/serial/cancel-read", test_serial_cancel_read);
  g_test_add_func ("/transport/serial/hangup", test_serial_hangup);
  g_test_add_func ("/transport/serial/errors", test_serial_errors);
  g_test_add_func ("/transport/serial/busy", test_serial_busy);
  g_test_add_func ("/transport/serial/permission", test_serial_permission);
  g_test_add_func ("/transport/serial/permission/child", test_serial_permission_child);
  g_test_add_func ("/transport/models", test_models);
  g_test_add_func ("/transport/device-list", test_device_list);

  return g_test_run ();
}
