/* SPDX-License-Identifier: GPL-3.0-or-later
 *
 * pp-link-tlv.c: TLV payloads of the link protocol (builder and reader).
 * Everything a peer sends is bounds-checked here before anyone looks at it.
 */
#include "config.h"

#include <string.h>

#include <glib/gi18n-lib.h>

#include "pp-link-tlv.h"

G_DEFINE_QUARK (pp-link-tlv-error-quark, pp_link_tlv_error)

struct _PpLinkTlvBuilder {
  GByteArray *buf;
};

PpLinkTlvBuilder *
pp_link_tlv_builder_new (void)
{
  PpLinkTlvBuilder *builder = g_new0 (PpLinkTlvBuilder, 1);

  builder->buf = g_byte_array_new ();
  return builder;
}

void
pp_link_tlv_builder_free (PpLinkTlvBuilder *builder)
{
  if (builder == NULL)
    return;
  g_byte_array_unref (builder->buf);
  g_free (builder);
}

void
pp_link_tlv_put (GByteArray *out,
                 guint8      tag,
                 const void *value,
                 gsize       len)
{
  guint8 head[PP_TLV_HEADER_SIZE];

  g_return_if_fail (out != NULL);
  g_return_if_fail (len <= PP_TLV_MAX_VALUE);
  g_return_if_fail (value != NULL || len == 0);

  head[0] = tag;
  head[1] = len >> 8;
  head[2] = len & 0xFF;
  g_byte_array_append (out, head, sizeof head);
  if (len > 0)
    g_byte_array_append (out, value, len);
}

void
pp_link_tlv_put_text (GByteArray *out,
                      guint8      tag,
                      const char *text)
{
  g_return_if_fail (text != NULL);
  pp_link_tlv_put (out, tag, text, strlen (text));
}

void
pp_link_tlv_put_uint (GByteArray *out,
                      guint8      tag,
                      guint       width,
                      guint64     value)
{
  guint8 v[8];

  g_return_if_fail (width >= 1 && width <= 8);
  for (guint i = 0; i < width; i++)
    v[i] = (value >> (8 * (width - 1 - i))) & 0xFF;
  pp_link_tlv_put (out, tag, v, width);
}

void
pp_link_tlv_builder_add (PpLinkTlvBuilder *builder,
                         guint8            tag,
                         const void       *value,
                         gsize             len)
{
  g_return_if_fail (builder != NULL);
  pp_link_tlv_put (builder->buf, tag, value, len);
}

void
pp_link_tlv_builder_add_u8 (PpLinkTlvBuilder *builder, guint8 tag, guint8 value)
{
  pp_link_tlv_builder_add (builder, tag, &value, 1);
}

void
pp_link_tlv_builder_add_u16 (PpLinkTlvBuilder *builder, guint8 tag, guint16 value)
{
  g_return_if_fail (builder != NULL);
  pp_link_tlv_put_uint (builder->buf, tag, 2, value);
}

void
pp_link_tlv_builder_add_u32 (PpLinkTlvBuilder *builder, guint8 tag, guint32 value)
{
  g_return_if_fail (builder != NULL);
  pp_link_tlv_put_uint (builder->buf, tag, 4, value);
}

void
pp_link_tlv_builder_add_u64 (PpLinkTlvBuilder *builder, guint8 tag, guint64 value)
{
  g_return_if_fail (builder != NULL);
  pp_link_tlv_put_uint (builder->buf, tag, 8, value);
}

void
pp_link_tlv_builder_add_string (PpLinkTlvBuilder *builder, guint8 tag, const char *text)
{
  g_return_if_fail (text != NULL);
  pp_link_tlv_builder_add (builder, tag, text, strlen (text));
}

void
pp_link_tlv_builder_add_bytes (PpLinkTlvBuilder *builder, guint8 tag, GBytes *value)
{
  gsize len = 0;
  const guint8 *data;

  g_return_if_fail (value != NULL);
  data = g_bytes_get_data (value, &len);
  pp_link_tlv_builder_add (builder, tag, data, len);
}

gsize
pp_link_tlv_builder_get_size (PpLinkTlvBuilder *builder)
{
  g_return_val_if_fail (builder != NULL, 0);
  return builder->buf->len;
}

GBytes *
pp_link_tlv_builder_end (PpLinkTlvBuilder *builder)
{
  GBytes *bytes;

  g_return_val_if_fail (builder != NULL, NULL);
  bytes = g_byte_array_free_to_bytes (builder->buf);
  g_free (builder);
  return bytes;
}

void
pp_link_tlv_reader_init (PpLinkTlvReader *reader,
                         const guint8    *data,
                         gsize            len)
{
  g_return_if_fail (reader != NULL);
  reader->data = data;
  reader->len = data != NULL ? len : 0;
  reader->pos = 0;
}

gboolean
pp_link_tlv_reader_next (PpLinkTlvReader  *reader,
                         guint8           *out_tag,
                         const guint8    **out_value,
                         gsize            *out_len,
                         GError          **error)
{
  gsize left, vlen;
  const guint8 *p;

  g_return_val_if_fail (reader != NULL, FALSE);

  left = reader->len - reader->pos;
  if (left == 0)
    return FALSE;
  p = reader->data + reader->pos;
  if (left < PP_TLV_HEADER_SIZE)
    {
      g_set_error (error, PP_LINK_TLV_ERROR, PP_LINK_TLV_ERROR_TRUNCATED,
                   _("the payload ends inside a TLV header at byte %lu"),
                   (gulong) reader->pos);
      return FALSE;
    }
  vlen = ((gsize) p[1] << 8) | p[2];
  if (vlen > left - PP_TLV_HEADER_SIZE)
    {
      g_set_error (error, PP_LINK_TLV_ERROR, PP_LINK_TLV_ERROR_TRUNCATED,
                   _("TLV 0x%02X claims %lu bytes but only %lu follow"),
                   p[0], (gulong) vlen, (gulong) (left - PP_TLV_HEADER_SIZE));
      return FALSE;
    }

  if (out_tag != NULL)
    *out_tag = p[0];
  if (out_value != NULL)
    *out_value = p + PP_TLV_HEADER_SIZE;
  if (out_len != NULL)
    *out_len = vlen;
  reader->pos += PP_TLV_HEADER_SIZE + vlen;
  return TRUE;
}

gboolean
pp_link_tlv_index (const guint8    *data,
                   gsize            len,
                   PpLinkTlvIndex  *out,
                   GError         **error)
{
  PpLinkTlvReader reader;
  const guint8 *value;
  GError *local = NULL;
  gsize vlen;
  guint8 tag;

  g_return_val_if_fail (out != NULL, FALSE);

  memset (out, 0, sizeof *out);
  pp_link_tlv_reader_init (&reader, data, len);
  while (pp_link_tlv_reader_next (&reader, &tag, &value, &vlen, &local))
    {
      if (out->value[tag] != NULL)
        {
          g_set_error (error, PP_LINK_TLV_ERROR, PP_LINK_TLV_ERROR_REPEATED,
                       _("tag 0x%02X appears twice in the payload"), tag);
          return FALSE;
        }
      out->value[tag] = value;
      out->len[tag] = vlen;
    }
  if (local != NULL)
    {
      g_propagate_error (error, local);
      return FALSE;
    }
  return TRUE;
}

gboolean
pp_link_tlv_index_has (const PpLinkTlvIndex *tlvs,
                       guint8                tag)
{
  g_return_val_if_fail (tlvs != NULL, FALSE);
  return tlvs->value[tag] != NULL;
}

char *
pp_link_tlv_index_dup_text (const PpLinkTlvIndex *tlvs,
                            guint8                tag)
{
  const char *v;
  gsize len;

  g_return_val_if_fail (tlvs != NULL, NULL);
  v = (const char *) tlvs->value[tag];
  len = tlvs->len[tag];
  if (v == NULL || memchr (v, '\0', len) != NULL || !g_utf8_validate_len (v, len, NULL))
    return NULL;
  return g_strndup (v, len);
}

gboolean
pp_link_tlv_index_get_uint (const PpLinkTlvIndex *tlvs,
                            guint8                tag,
                            guint                 width,
                            guint64              *out)
{
  guint64 v = 0;

  g_return_val_if_fail (tlvs != NULL && out != NULL, FALSE);
  if (tlvs->value[tag] == NULL || tlvs->len[tag] != width || width < 1 || width > 8)
    return FALSE;
  for (guint i = 0; i < width; i++)
    v = (v << 8) | tlvs->value[tag][i];
  *out = v;
  return TRUE;
}

struct _PpLinkTlvSet {
  GBytes         *payload;
  PpLinkTlvIndex  index;
};

PpLinkTlvSet *
pp_link_tlv_parse (GBytes  *payload,
                   GError **error)
{
  g_autoptr(PpLinkTlvSet) set = NULL;
  const guint8 *data;
  gsize len = 0;

  g_return_val_if_fail (payload != NULL, NULL);

  set = g_new0 (PpLinkTlvSet, 1);
  set->payload = g_bytes_ref (payload);
  data = g_bytes_get_data (payload, &len);
  if (!pp_link_tlv_index (data, len, &set->index, error))
    return NULL;
  return g_steal_pointer (&set);
}

void
pp_link_tlv_set_free (PpLinkTlvSet *set)
{
  if (set == NULL)
    return;
  g_bytes_unref (set->payload);
  g_free (set);
}

gboolean
pp_link_tlv_has (PpLinkTlvSet *set,
                 guint8        tag)
{
  g_return_val_if_fail (set != NULL, FALSE);
  return set->index.value[tag] != NULL;
}

const guint8 *
pp_link_tlv_get (PpLinkTlvSet *set,
                 guint8        tag,
                 gsize        *out_len)
{
  g_return_val_if_fail (set != NULL, NULL);
  if (out_len != NULL)
    *out_len = set->index.value[tag] != NULL ? set->index.len[tag] : 0;
  return set->index.value[tag];
}

static const guint8 *
get_required (PpLinkTlvSet *set,
              guint8        tag,
              GError      **error)
{
  g_return_val_if_fail (set != NULL, NULL);
  if (set->index.value[tag] == NULL)
    g_set_error (error, PP_LINK_TLV_ERROR, PP_LINK_TLV_ERROR_MISSING,
                 _("the payload has no tag 0x%02X"), tag);
  return set->index.value[tag];
}

GBytes *
pp_link_tlv_dup_bytes (PpLinkTlvSet *set,
                       guint8        tag,
                       GError      **error)
{
  const guint8 *v = get_required (set, tag, error);

  if (v == NULL)
    return NULL;
  return g_bytes_new_from_bytes (set->payload, v - (const guint8 *) g_bytes_get_data (set->payload, NULL),
                                 set->index.len[tag]);
}

static gboolean
get_uint (PpLinkTlvSet *set,
          guint8        tag,
          guint         width,
          guint64      *out,
          GError      **error)
{
  const guint8 *v = get_required (set, tag, error);
  guint64 x = 0;

  if (v == NULL)
    return FALSE;
  if (set->index.len[tag] != width)
    {
      g_set_error (error, PP_LINK_TLV_ERROR, PP_LINK_TLV_ERROR_BAD_VALUE,
                   _("tag 0x%02X is %u bytes long, expected %u"), tag, (guint) set->index.len[tag], width);
      return FALSE;
    }
  for (guint i = 0; i < width; i++)
    x = (x << 8) | v[i];
  *out = x;
  return TRUE;
}

gboolean
pp_link_tlv_get_u8 (PpLinkTlvSet *set, guint8 tag, guint8 *out, GError **error)
{
  guint64 x;

  if (!get_uint (set, tag, 1, &x, error))
    return FALSE;
  *out = x;
  return TRUE;
}

gboolean
pp_link_tlv_get_u16 (PpLinkTlvSet *set, guint8 tag, guint16 *out, GError **error)
{
  guint64 x;

  if (!get_uint (set, tag, 2, &x, error))
    return FALSE;
  *out = x;
  return TRUE;
}

gboolean
pp_link_tlv_get_u32 (PpLinkTlvSet *set, guint8 tag, guint32 *out, GError **error)
{
  guint64 x;

  if (!get_uint (set, tag, 4, &x, error))
    return FALSE;
  *out = x;
  return TRUE;
}

gboolean
pp_link_tlv_get_u64 (PpLinkTlvSet *set, guint8 tag, guint64 *out, GError **error)
{
  return get_uint (set, tag, 8, out, error);
}

char *
pp_link_tlv_dup_string (PpLinkTlvSet *set,
                        guint8        tag,
                        GError      **error)
{
  const guint8 *v = get_required (set, tag, error);
  gsize len;

  if (v == NULL)
    return NULL;
  len = set->index.len[tag];
  if (memchr (v, 0, len) != NULL || !g_utf8_validate ((const char *) v, len, NULL))
    {
      g_set_error (error, PP_LINK_TLV_ERROR, PP_LINK_TLV_ERROR_BAD_VALUE,
                   _("tag 0x%02X is not UTF-8 text"), tag);
      return NULL;
    }
  return g_strndup ((const char *) v, len);
}
