/* SPDX-License-Identifier: GPL-3.0-or-later
 *
 * pp-transport.c: PORT text -> the serial or the TCP transport.
 */
#include "config.h"

#include <string.h>

#include <glib/gi18n-lib.h>

#include "pp-transport-private.h"

G_DEFINE_QUARK (pp-transport-error-quark, pp_transport_error)

static const char *const parity_names[] = { "none", "odd", "even" };
static const char *const flow_names[] = { "none", "rtscts", "xonxoff" };

gboolean
pp_parity_from_string (const char *text,
                       PpParity   *out_parity)
{
  g_return_val_if_fail (out_parity != NULL, FALSE);

  for (guint i = 0; text != NULL && i < G_N_ELEMENTS (parity_names); i++)
    if (g_ascii_strcasecmp (text, parity_names[i]) == 0)
      {
        *out_parity = (PpParity) i;
        return TRUE;
      }
  return FALSE;
}

gboolean
pp_flow_from_string (const char    *text,
                     PpFlowControl *out_flow)
{
  g_return_val_if_fail (out_flow != NULL, FALSE);

  for (guint i = 0; text != NULL && i < G_N_ELEMENTS (flow_names); i++)
    if (g_ascii_strcasecmp (text, flow_names[i]) == 0)
      {
        *out_flow = (PpFlowControl) i;
        return TRUE;
      }
  return FALSE;
}

const char *
pp_parity_to_string (PpParity parity)
{
  return (guint) parity < G_N_ELEMENTS (parity_names) ? parity_names[parity] : "none";
}

const char *
pp_flow_to_string (PpFlowControl flow)
{
  return (guint) flow < G_N_ELEMENTS (flow_names) ? flow_names[flow] : "none";
}

/* "tcp:HOST:PORT" or "tcp:[IPv6]:PORT" -> host and port number. */
static gboolean
parse_tcp (const char  *text,
           char       **out_host,
           guint16     *out_port,
           GError     **error)
{
  const char *rest = text + strlen ("tcp:");
  const char *colon;
  g_autofree char *host = NULL;
  guint64 number;
  char *end;

  if (rest[0] == '[')
    {
      const char *close = strchr (rest, ']');

      if (close == NULL || close[1] != ':')
        goto bad;
      host = g_strndup (rest + 1, (gsize) (close - rest - 1));
      colon = close + 1;
    }
  else
    {
      colon = strrchr (rest, ':');
      if (colon == NULL)
        goto bad;
      host = g_strndup (rest, (gsize) (colon - rest));
      if (strchr (host, ':') != NULL)
        goto bad;
    }
  if (host[0] == '\0' || !g_ascii_isdigit (colon[1]))
    goto bad;
  number = g_ascii_strtoull (colon + 1, &end, 10);
  if (*end != '\0' || number == 0 || number > 65535)
    goto bad;

  *out_host = g_steal_pointer (&host);
  *out_port = (guint16) number;
  return TRUE;

bad:
  g_set_error (error, PP_TRANSPORT_ERROR, PP_TRANSPORT_ERROR_INVALID,
               _("“%s” is not a TCP port: write tcp:HOST:PORT, e.g. tcp:192.168.1.20:5000"),
               text);
  return FALSE;
}

static gboolean
check_settings (const PpSerialSettings  *s,
                GError                 **error)
{
  if (s == NULL)
    return TRUE;
  if (s->baud > 4000000)
    {
      g_set_error (error, PP_TRANSPORT_ERROR, PP_TRANSPORT_ERROR_INVALID,
                   _("%u baud is not a serial speed"), s->baud);
      return FALSE;
    }
  if (s->data_bits != 0 && (s->data_bits < 5 || s->data_bits > 8))
    {
      g_set_error (error, PP_TRANSPORT_ERROR, PP_TRANSPORT_ERROR_INVALID,
                   _("%u data bits: a serial port has 5 to 8"), s->data_bits);
      return FALSE;
    }
  if (s->stop_bits > 2)
    {
      g_set_error (error, PP_TRANSPORT_ERROR, PP_TRANSPORT_ERROR_INVALID,
                   _("%u stop bits: a serial port has 1 or 2"), s->stop_bits);
      return FALSE;
    }
  if ((guint) s->parity > PP_PARITY_EVEN || (guint) s->flow > PP_FLOW_XONXOFF)
    {
      g_set_error_literal (error, PP_TRANSPORT_ERROR, PP_TRANSPORT_ERROR_INVALID,
                           _("Unknown parity or flow control setting"));
      return FALSE;
    }
  return TRUE;
}

void
pp_transport_open_async (const char             *port,
                         const PpSerialSettings *settings,
                         GCancellable           *cancellable,
                         GAsyncReadyCallback     callback,
                         gpointer                user_data)
{
  g_autoptr(GTask) task = NULL;
  GError *error = NULL;

  g_return_if_fail (port != NULL);
  g_return_if_fail (cancellable == NULL || G_IS_CANCELLABLE (cancellable));

  task = g_task_new (NULL, cancellable, callback, user_data);
  g_task_set_source_tag (task, pp_transport_open_async);

  if (g_str_has_prefix (port, "tcp:"))
    {
      g_autofree char *host = NULL;
      guint16 number;

      if (!parse_tcp (port, &host, &number, &error))
        {
          g_task_return_error (task, error);
          return;
        }
      pp_transport_tcp_open (task, host, number);
      return;
    }

  if (port[0] == '\0')
    {
      g_task_return_new_error (task, PP_TRANSPORT_ERROR, PP_TRANSPORT_ERROR_INVALID,
                               _("No port given: name a serial port (/dev/ttyUSB0, COM3) or tcp:HOST:PORT"));
      return;
    }
  if (!check_settings (settings, &error))
    {
      g_task_return_error (task, error);
      return;
    }
  pp_transport_serial_open (task, port, settings);
}

GIOStream *
pp_transport_open_finish (GAsyncResult  *result,
                          GError       **error)
{
  g_return_val_if_fail (g_task_is_valid (result, NULL), NULL);
  g_return_val_if_fail (g_task_get_source_tag (G_TASK (result)) == pp_transport_open_async, NULL);

  return g_task_propagate_pointer (G_TASK (result), error);
}

guint
pp_transport_get_line_speed (GIOStream *stream,
                             guint     *out_bits_per_byte)
{
  PpSerialSettings s = { 0, };

  g_return_val_if_fail (G_IS_IO_STREAM (stream), 0);
  if (!pp_transport_serial_get_settings (stream, &s) || s.baud == 0)
    return 0;
  if (out_bits_per_byte != NULL)
    *out_bits_per_byte = 1 + (s.data_bits != 0 ? s.data_bits : 8)
                         + (s.parity != PP_PARITY_NONE ? 1 : 0)
                         + (s.stop_bits != 0 ? s.stop_bits : 1);
  return s.baud;
}
