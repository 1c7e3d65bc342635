/* SPDX-License-Identifier: GPL-3.0-or-later
 *
 * pp-transport-tcp.c: a terminal on TCP (smart POS over USB networking or
 * the LAN): a GSocketConnection with Nagle off, since the link protocol
 * sends small frames and waits for their acknowledgements.
 */
#include "config.h"

#include <glib/gi18n-lib.h>
#ifdef G_OS_WIN32
#include <winsock2.h>
#else
#include <netinet/in.h>
#include <netinet/tcp.h>
#endif

#include "pp-transport-private.h"

typedef struct {
  char    *host;
  guint16  port;
} TcpOpen;

static void
tcp_open_free (TcpOpen *open)
{
  g_free (open->host);
  g_free (open);
}

static void
connected_cb (GObject      *source,
              GAsyncResult *result,
              gpointer      user_data)
{
  g_autoptr(GTask) task = user_data;
  TcpOpen *open = g_task_get_task_data (task);
  g_autoptr(GError) error = NULL;
  g_autoptr(GSocketConnection) connection = NULL;

  connection = g_socket_client_connect_finish (G_SOCKET_CLIENT (source), result, &error);
  if (connection == NULL)
    {
      if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
        g_task_return_error (task, g_steal_pointer (&error));
      else if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CONNECTION_REFUSED))
        g_task_return_new_error (task, PP_TRANSPORT_ERROR, PP_TRANSPORT_ERROR_NOT_FOUND,
                                 _("Nothing answers on tcp:%s:%u: check that the terminal is on, in provisioning mode and on this network"),
                                 open->host, open->port);
      else if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_HOST_NOT_FOUND) ||
               error->domain == G_RESOLVER_ERROR)
        g_task_return_new_error (task, PP_TRANSPORT_ERROR, PP_TRANSPORT_ERROR_NOT_FOUND,
                                 _("Host “%s” not found: check the terminal's address"),
                                 open->host);
      else
        g_task_return_new_error (task, PP_TRANSPORT_ERROR, PP_TRANSPORT_ERROR_IO,
                                 _("Cannot connect to tcp:%s:%u: %s"),
                                 open->host, open->port, error->message);
      return;
    }

  /* Small frames go out at once, not after the peer's delayed ACK. */
  if (!g_socket_set_option (g_socket_connection_get_socket (connection),
                            IPPROTO_TCP, TCP_NODELAY, TRUE, &error))
    g_debug ("TCP_NODELAY refused on tcp:%s:%u: %s", open->host, open->port, error->message);

  g_task_return_pointer (task, g_steal_pointer (&connection), g_object_unref);
}

void
pp_transport_tcp_open (GTask      *task,
                       const char *host,
                       guint16     port)
{
  g_autoptr(GSocketClient) client = g_socket_client_new ();
  g_autoptr(GSocketConnectable) address = g_network_address_new (host, port);
  TcpOpen *open = g_new0 (TcpOpen, 1);

  open->host = g_strdup (host);
  open->port = port;
  g_task_set_task_data (task, open, (GDestroyNotify) tcp_open_free);
  g_socket_client_connect_async (client, address, g_task_get_cancellable (task),
                                 connected_cb, g_object_ref (task));
}
