/* SPDX-License-Identifier: GPL-3.0-or-later
 *
 * pp-termsim-tlv.c: seam-3 TLV payloads for the terminal simulator.
 */
#include "config.h"

#include <string.h>

#include "pp-termsim-tlv-private.h"

gboolean
pp_termsim_tlv_parse (const guint8   *data,
                      gsize           len,
                      PpTermsimTlvs  *out,
                      char          **out_message)
{
  gsize pos = 0;
  gboolean seen[256] = { FALSE, };

  memset (out, 0, sizeof *out);
  while (pos < len)
    {
      guint8 tag;
      gsize vlen;

      if (len - pos < 3)
        {
          *out_message = g_strdup_printf ("Truncated TLV header at offset %" G_GSIZE_FORMAT, pos);
          return FALSE;
        }
      tag = data[pos];
      vlen = ((gsize) data[pos + 1] << 8) | data[pos + 2];
      pos += 3;
      if (vlen > len - pos)
        {
          *out_message = g_strdup_printf ("TLV 0x%02X is %" G_GSIZE_FORMAT
                                          " bytes long but only %" G_GSIZE_FORMAT " remain",
                                          tag, vlen, len - pos);
          return FALSE;
        }
      if (seen[tag])
        {
          *out_message = g_strdup_printf ("TLV 0x%02X is repeated", tag);
          return FALSE;
        }
      seen[tag] = TRUE;
      /* An empty value is present too: point at the payload, never NULL. */
      out->value[tag] = data + pos;
      out->len[tag] = vlen;
      pos += vlen;
    }
  return TRUE;
}

gboolean
pp_termsim_tlv_has (const PpTermsimTlvs *tlvs,
                    guint8               tag)
{
  return tlvs->value[tag] != NULL;
}

char *
pp_termsim_tlv_dup_text (const PpTermsimTlvs *tlvs,
                         guint8               tag)
{
  const char *v = (const char *) tlvs->value[tag];
  gsize len = tlvs->len[tag];

  if (v == NULL || memchr (v, '\0', len) != NULL || !g_utf8_validate_len (v, len, NULL))
    return NULL;
  return g_strndup (v, len);
}

gboolean
pp_termsim_tlv_get_uint (const PpTermsimTlvs *tlvs,
                         guint8               tag,
                         guint                width,
                         guint64             *out)
{
  guint64 v = 0;

  if (tlvs->value[tag] == NULL || tlvs->len[tag] != width)
    return FALSE;
  for (guint i = 0; i < width; i++)
    v = (v << 8) | tlvs->value[tag][i];
  *out = v;
  return TRUE;
}

void
pp_termsim_tlv_put (GByteArray *out,
                    guint8      tag,
                    const void *value,
                    gsize       len)
{
  guint8 head[3] = { tag, (len >> 8) & 0xFF, len & 0xFF };

  g_return_if_fail (len <= 0xFFFF);
  g_byte_array_append (out, head, 3);
  if (len > 0)
    g_byte_array_append (out, value, len);
}

void
pp_termsim_tlv_put_text (GByteArray *out,
                         guint8      tag,
                         const char *text)
{
  pp_termsim_tlv_put (out, tag, text, strlen (text));
}

void
pp_termsim_tlv_put_uint (GByteArray *out,
                         guint8      tag,
                         guint       width,
                         guint64     value)
{
  guint8 buf[8];

  g_return_if_fail (width >= 1 && width <= 8);
  for (guint i = 0; i < width; i++)
    buf[i] = (value >> (8 * (width - 1 - i))) & 0xFF;
  pp_termsim_tlv_put (out, tag, buf, width);
}
