/* SPDX-License-Identifier: GPL-3.0-or-later
 *
 * pp-link-frame.c: frame encoder, CRC-32 and the incremental decoder.
 *
 * The decoder keeps what it was given in one buffer and hunts for the
 * start marker; a header is believed only when its own CRC (HCRC) is
 * right, so a flipped length byte cannot make it wait for 64 KiB that will
 * never come. After a bad frame it goes on hunting right after the header,
 * so a frame that follows a truncated one is still found.
 */
#include "config.h"

#include <string.h>

#include "pp-link-frame.h"

struct _PpLinkDecoder {
  GByteArray *buf;
  gsize       pos;          /* first byte not yet consumed */
  gsize       max_payload;
};

static guint32 crc_table[256];

static void
crc_table_init (void)
{
  static gsize done = 0;

  if (g_once_init_enter (&done))
    {
      for (guint32 i = 0; i < 256; i++)
        {
          guint32 c = i;

          for (int k = 0; k < 8; k++)
            c = (c & 1) ? 0xEDB88320u ^ (c >> 1) : c >> 1;
          crc_table[i] = c;
        }
      g_once_init_leave (&done, 1);
    }
}

guint32
pp_link_crc32 (guint32       crc,
               const guint8 *data,
               gsize         len)
{
  crc_table_init ();
  crc ^= 0xFFFFFFFFu;
  for (gsize i = 0; i < len; i++)
    crc = crc_table[(crc ^ data[i]) & 0xFF] ^ (crc >> 8);
  return crc ^ 0xFFFFFFFFu;
}

static void
put_be32 (guint8 *p, guint32 v)
{
  p[0] = v >> 24;
  p[1] = v >> 16;
  p[2] = v >> 8;
  p[3] = v;
}

static guint32
get_be32 (const guint8 *p)
{
  return ((guint32) p[0] << 24) | ((guint32) p[1] << 16) | ((guint32) p[2] << 8) | p[3];
}

gboolean
pp_link_frame_header_valid (guint8  type,
                            guint8  flags,
                            guint8  command,
                            guint8  status,
                            guint16 length)
{
  if (flags != 0)
    return FALSE;

  switch (type)
    {
    case PP_LINK_FRAME_HELLO:
      return command == 0 && status == 0;
    case PP_LINK_FRAME_HELLO_REPLY:
      return command == 0 && status <= PP_LINK_HELLO_BAD;
    case PP_LINK_FRAME_REQUEST:
      return command != 0 && status == 0;
    case PP_LINK_FRAME_RESPONSE:
      return command != 0;
    case PP_LINK_FRAME_ACK:
      return command == 0 && status == 0 && length == 0;
    case PP_LINK_FRAME_NAK:
      return command == 0 && status <= PP_LINK_NAK_NO_SESSION && length == 0;
    default:
      return FALSE;
    }
}

GBytes *
pp_link_frame_encode (PpLinkFrameType  type,
                      guint16          seq,
                      guint8           command,
                      guint8           status,
                      const guint8    *payload,
                      gsize            len)
{
  guint8 *out;
  gsize total;

  g_return_val_if_fail (len <= PP_LINK_MAX_PAYLOAD, NULL);
  g_return_val_if_fail (payload != NULL || len == 0, NULL);

  total = PP_LINK_OVERHEAD + len;
  out = g_malloc (total);
  out[0] = PP_LINK_SOF0;
  out[1] = PP_LINK_SOF1;
  out[2] = type;
  out[3] = 0;
  out[4] = seq >> 8;
  out[5] = seq & 0xFF;
  out[6] = command;
  out[7] = status;
  out[8] = len >> 8;
  out[9] = len & 0xFF;
  put_be32 (out + 10, pp_link_crc32 (0, out, 10));
  if (len > 0)
    memcpy (out + PP_LINK_HEADER_SIZE, payload, len);
  put_be32 (out + PP_LINK_HEADER_SIZE + len,
            pp_link_crc32 (0, out, PP_LINK_HEADER_SIZE + len));

  return g_bytes_new_take (out, total);
}

void
pp_link_frame_clear (PpLinkFrame *frame)
{
  g_clear_pointer (&frame->payload, g_bytes_unref);
}

void
pp_link_decode_event_clear (PpLinkDecodeEvent *event)
{
  pp_link_frame_clear (&event->frame);
}

PpLinkDecoder *
pp_link_decoder_new (gsize max_payload)
{
  PpLinkDecoder *decoder = g_new0 (PpLinkDecoder, 1);

  decoder->buf = g_byte_array_new ();
  decoder->max_payload = MIN (max_payload, PP_LINK_MAX_PAYLOAD);
  return decoder;
}

void
pp_link_decoder_free (PpLinkDecoder *decoder)
{
  if (decoder == NULL)
    return;
  g_byte_array_unref (decoder->buf);
  g_free (decoder);
}

void
pp_link_decoder_set_max_payload (PpLinkDecoder *decoder,
                                 gsize          max_payload)
{
  g_return_if_fail (decoder != NULL);
  decoder->max_payload = MIN (max_payload, PP_LINK_MAX_PAYLOAD);
}

void
pp_link_decoder_reset (PpLinkDecoder *decoder)
{
  g_return_if_fail (decoder != NULL);
  g_byte_array_set_size (decoder->buf, 0);
  decoder->pos = 0;
}

void
pp_link_decoder_push (PpLinkDecoder *decoder,
                      const guint8  *data,
                      gsize          len)
{
  g_return_if_fail (decoder != NULL);
  g_return_if_fail (data != NULL || len == 0);

  /* Drop what is consumed before growing, so the buffer stays about one
   * frame large however long the session runs. */
  if (decoder->pos > 0 && (decoder->pos >= decoder->buf->len / 2 || decoder->pos > 65536))
    {
      g_byte_array_remove_range (decoder->buf, 0, decoder->pos);
      decoder->pos = 0;
    }
  if (len > 0)
    g_byte_array_append (decoder->buf, data, len);
}

gsize
pp_link_decoder_drop_partial (PpLinkDecoder *decoder)
{
  g_return_val_if_fail (decoder != NULL, 0);
  if (decoder->pos >= decoder->buf->len)
    return 0;
  decoder->pos++;
  return 1;
}

gsize
pp_link_decoder_pending (PpLinkDecoder *decoder)
{
  g_return_val_if_fail (decoder != NULL, 0);
  return decoder->buf->len - decoder->pos;
}

static void
fill_header (PpLinkFrame  *frame,
             const guint8 *h)
{
  frame->type = h[2];
  frame->seq = ((guint16) h[4] << 8) | h[5];
  frame->command = h[6];
  frame->status = h[7];
  frame->payload = NULL;
}

gboolean
pp_link_decoder_next (PpLinkDecoder     *decoder,
                      PpLinkDecodeEvent *event)
{
  const guint8 *data;
  gsize avail, start, skip;
  guint16 length;

  g_return_val_if_fail (decoder != NULL, FALSE);
  g_return_val_if_fail (event != NULL, FALSE);

  memset (event, 0, sizeof *event);
  data = decoder->buf->data + decoder->pos;
  avail = decoder->buf->len - decoder->pos;
  if (avail == 0)
    return FALSE;

  /* Hunt for the marker; bytes before it are garbage. A lone first byte of
   * the marker at the very end may be the start of a frame still coming. */
  for (start = 0; start + 1 < avail; start++)
    if (data[start] == PP_LINK_SOF0 && data[start + 1] == PP_LINK_SOF1)
      break;
  if (start + 1 >= avail && data[avail - 1] == PP_LINK_SOF0)
    start = avail - 1;
  else if (start + 1 >= avail)
    start = avail;

  if (start > 0)
    {
      event->kind = PP_LINK_DECODE_GARBAGE;
      event->skipped = start;
      decoder->pos += start;
      return TRUE;
    }

  if (avail < PP_LINK_HEADER_SIZE)
    return FALSE;

  if (pp_link_crc32 (0, data, 10) != get_be32 (data + 10))
    {
      /* A marker in garbage, or a header hit by noise: not a frame start. */
      skip = 1;
      while (skip + 1 < avail && !(data[skip] == PP_LINK_SOF0 && data[skip + 1] == PP_LINK_SOF1))
        skip++;
      event->kind = PP_LINK_DECODE_GARBAGE;
      event->skipped = skip;
      decoder->pos += skip;
      return TRUE;
    }

  length = ((guint16) data[8] << 8) | data[9];
  fill_header (&event->frame, data);

  if (length > decoder->max_payload)
    {
      event->kind = PP_LINK_DECODE_OVERSIZED;
      event->skipped = PP_LINK_HEADER_SIZE;
      decoder->pos += PP_LINK_HEADER_SIZE;
      return TRUE;
    }

  if (avail < (gsize) PP_LINK_OVERHEAD + length)
    return FALSE;

  if (pp_link_crc32 (0, data, PP_LINK_HEADER_SIZE + length)
      != get_be32 (data + PP_LINK_HEADER_SIZE + length))
    {
      event->kind = PP_LINK_DECODE_BAD_CRC;
      event->skipped = PP_LINK_HEADER_SIZE;
      decoder->pos += PP_LINK_HEADER_SIZE;
      return TRUE;
    }

  if (!pp_link_frame_header_valid (data[2], data[3], data[6], data[7], length))
    {
      event->kind = PP_LINK_DECODE_INVALID;
      event->skipped = PP_LINK_OVERHEAD + length;
      decoder->pos += event->skipped;
      return TRUE;
    }

  event->kind = PP_LINK_DECODE_FRAME;
  event->frame.payload = g_bytes_new (data + PP_LINK_HEADER_SIZE, length);
  event->skipped = PP_LINK_OVERHEAD + length;
  decoder->pos += event->skipped;
  return TRUE;
}
