/* SPDX-License-Identifier: GPL-3.0-or-later
 *
 * pp-termsim-wire-tmp.c: TEMPORARY length-prefixed framing (see the
 * header); replaced by pp_link_serve() at the merge of seam 2.
 */
#include "config.h"

#include "pp-termsim-wire-tmp.h"

static gboolean
write_message (GOutputStream  *out,
               guint8          code,
               GBytes         *payload,
               GCancellable   *cancellable,
               GError        **error)
{
  gsize len = payload != NULL ? g_bytes_get_size (payload) : 0;
  guint8 head[5] = { code, (len >> 24) & 0xFF, (len >> 16) & 0xFF, (len >> 8) & 0xFF, len & 0xFF };

  return g_output_stream_write_all (out, head, sizeof head, NULL, cancellable, error) &&
         (len == 0 || g_output_stream_write_all (out, g_bytes_get_data (payload, NULL), len, NULL,
                                                 cancellable, error)) &&
         g_output_stream_flush (out, cancellable, error);
}

/* FALSE with *@out_eof when the peer closed before a message began. */
static GBytes *
read_message (GInputStream  *in,
              guint8        *out_code,
              gboolean      *out_eof,
              GCancellable  *cancellable,
              GError       **error)
{
  guint8 head[5];
  gsize got = 0;
  gsize len;
  guint8 *data;

  *out_eof = FALSE;
  if (!g_input_stream_read_all (in, head, sizeof head, &got, cancellable, error))
    return NULL;
  if (got == 0)
    {
      *out_eof = TRUE;
      return NULL;
    }
  if (got < sizeof head)
    {
      g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_PARTIAL_INPUT, "Truncated message header");
      return NULL;
    }
  len = ((gsize) head[1] << 24) | ((gsize) head[2] << 16) | ((gsize) head[3] << 8) | head[4];
  if (len > PP_TERMSIM_WIRE_TMP_MAX_PAYLOAD)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_MESSAGE_TOO_LARGE,
                   "Message of %" G_GSIZE_FORMAT " bytes is too large", len);
      return NULL;
    }
  data = g_malloc (len + 1);
  if (!g_input_stream_read_all (in, data, len, &got, cancellable, error) || got != len)
    {
      g_free (data);
      if (error != NULL && *error == NULL)
        g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_PARTIAL_INPUT, "Truncated message");
      return NULL;
    }
  *out_code = head[0];
  return g_bytes_new_take (data, len);
}

gboolean
pp_termsim_wire_tmp_serve (GIOStream             *stream,
                           PpTermsimWireHandler   handler,
                           gpointer               user_data,
                           GCancellable          *cancellable,
                           GError               **error)
{
  GInputStream *in = g_io_stream_get_input_stream (stream);
  GOutputStream *out = g_io_stream_get_output_stream (stream);

  for (;;)
    {
      g_autoptr(GBytes) request = NULL;
      g_autoptr(GBytes) response = NULL;
      guint8 command = 0, status = 0;
      gboolean eof = FALSE;

      request = read_message (in, &command, &eof, cancellable, error);
      if (request == NULL)
        return eof;
      response = handler (command, request, &status, user_data);
      if (!write_message (out, status, response, cancellable, error))
        return FALSE;
    }
}

GBytes *
pp_termsim_wire_tmp_request (GIOStream     *stream,
                             guint8         command,
                             GBytes        *payload,
                             guint8        *out_status,
                             GCancellable  *cancellable,
                             GError       **error)
{
  gboolean eof = FALSE;
  GBytes *response;

  if (!write_message (g_io_stream_get_output_stream (stream), command, payload, cancellable, error))
    return NULL;
  response = read_message (g_io_stream_get_input_stream (stream), out_status, &eof, cancellable, error);
  if (response == NULL && eof)
    g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_CLOSED, "The terminal closed the connection");
  return response;
}
