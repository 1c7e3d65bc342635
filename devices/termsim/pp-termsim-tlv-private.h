/* SPDX-License-Identifier: GPL-3.0-or-later
 *
 * pp-termsim-tlv-private.h: termsim's own reader and writer of seam-3
 * payloads (tag u8, length u16 big-endian, value). Private to termsim so
 * that the link's codec (devices/link/pp-link-tlv.[ch]) stays the one
 * public one once merged.
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* A parsed payload: for each tag, where its value is (borrowed from the
 * payload's bytes) or NULL when absent. */
typedef struct {
  const guint8 *value[256];
  gsize         len[256];
} PpTermsimTlvs;

/* FALSE on a truncated TLV or a repeated tag (BAD_PAYLOAD), with a reason
 * in @out_message. Unknown tags are kept but never looked at. */
gboolean pp_termsim_tlv_parse   (const guint8   *data,
                                 gsize           len,
                                 PpTermsimTlvs  *out,
                                 char          **out_message);

gboolean pp_termsim_tlv_has     (const PpTermsimTlvs *tlvs,
                                 guint8               tag);
/* Text of @tag: valid UTF-8 without NUL, else NULL. */
char    *pp_termsim_tlv_dup_text (const PpTermsimTlvs *tlvs,
                                  guint8               tag);
/* Big-endian unsigned of exactly @width bytes (1, 2, 4, 8). */
gboolean pp_termsim_tlv_get_uint (const PpTermsimTlvs *tlvs,
                                  guint8               tag,
                                  guint                width,
                                  guint64             *out);

void     pp_termsim_tlv_put      (GByteArray   *out,
                                  guint8        tag,
                                  const void   *value,
                                  gsize         len);
void     pp_termsim_tlv_put_text (GByteArray   *out,
                                  guint8        tag,
                                  const char   *text);
void     pp_termsim_tlv_put_uint (GByteArray   *out,
                                  guint8        tag,
                                  guint         width,
                                  guint64       value);

G_END_DECLS
