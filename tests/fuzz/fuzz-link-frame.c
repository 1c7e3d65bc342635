/* SPDX-License-Identifier: GPL-3.0-or-later
 *
 * fuzz-link-frame.c: libFuzzer target for the link protocol's frame
 * decoder and TLV reader (devices/link), the parsers that see every byte
 * a terminal or a station sends. The first input byte picks the chunk
 * size the bytes are pushed in (as a serial line splits them); every frame
 * decoded must encode back to the very bytes it came from, events must
 * account for every byte, and each payload goes through the TLV parser.
 */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "pp-link-frame.h"
#include "pp-link-tlv.h"

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

static void
check_payload (GBytes *payload)
{
  g_autoptr(PpLinkTlvSet) set = NULL;
  g_autoptr(GError) error = NULL;
  PpLinkTlvReader reader;
  gsize len, total = 0, vlen;
  const guint8 *d = g_bytes_get_data (payload, &len), *v;
  guint8 tag;

  pp_link_tlv_reader_init (&reader, d, len);
  while (pp_link_tlv_reader_next (&reader, &tag, &v, &vlen, &error))
    {
      if (v < d || v + vlen > d + len)
        abort ();
      total += PP_TLV_HEADER_SIZE + vlen;
    }
  if (error == NULL && total != len)
    abort ();
  g_clear_error (&error);

  set = pp_link_tlv_parse (payload, &error);
  if (set == NULL)
    {
      if (error == NULL || error->domain != PP_LINK_TLV_ERROR)
        abort ();
      return;
    }
  for (guint t = 0; t < 256; t++)
    {
      guint64 u = 0;
      g_autofree char *text = NULL;

      if (!pp_link_tlv_has (set, t))
        continue;
      pp_link_tlv_get_u64 (set, t, &u, NULL);
      text = pp_link_tlv_dup_string (set, t, NULL);
      if (text != NULL && !g_utf8_validate (text, -1, NULL))
        abort ();
    }
}

int
LLVMFuzzerTestOneInput (const uint8_t *data,
                        size_t         size)
{
  g_autoptr(PpLinkDecoder) dec = NULL;
  gsize chunk, consumed = 0;

  if (size < 1)
    return 0;
  chunk = 1 + data[0] % 64;
  data++;
  size--;

  dec = pp_link_decoder_new (PP_LINK_MIN_PAYLOAD);
  for (gsize off = 0; off < size; off += chunk)
    {
      g_auto(PpLinkDecodeEvent) ev = { 0 };

      pp_link_decoder_push (dec, data + off, MIN (chunk, size - off));
      while (pp_link_decoder_next (dec, &ev))
        {
          if (ev.skipped == 0)
            abort ();   /* an event that consumes nothing would loop forever */
          if (ev.kind == PP_LINK_DECODE_FRAME)
            {
              gsize len;
              const guint8 *p = g_bytes_get_data (ev.frame.payload, &len);
              g_autoptr(GBytes) again = pp_link_frame_encode (ev.frame.type, ev.frame.seq,
                                                              ev.frame.command, ev.frame.status,
                                                              p, len);

              if (g_bytes_get_size (again) != ev.skipped
                  || memcmp (g_bytes_get_data (again, NULL), data + consumed, ev.skipped) != 0)
                abort ();
              check_payload (ev.frame.payload);
            }
          consumed += ev.skipped;
          pp_link_decode_event_clear (&ev);
        }
      if (consumed + pp_link_decoder_pending (dec) != MIN (off + chunk, size))
        abort ();
    }
  /* Whatever is left is a partial frame; giving it up must drain it. */
  while (pp_link_decoder_pending (dec) > 0)
    {
      g_auto(PpLinkDecodeEvent) ev = { 0 };

      pp_link_decoder_drop_partial (dec);
      while (pp_link_decoder_next (dec, &ev))
        pp_link_decode_event_clear (&ev);
    }

  /* The payload bytes on their own as TLVs, too. */
  {
    g_autoptr(GBytes) raw = g_bytes_new_static (data, size);

    check_payload (raw);
  }
  return 0;
}
