/* SPDX-License-Identifier: GPL-3.0-or-later
 *
 * pp-tr34-asn1.c: a strict little DER reader and writer for TR-34 tokens.
 *
 * d2i_CMS refuses the Annex B layouts (untagged OAEP parameters, the 2012
 * nested ciphertext, signerInfos before crls), so the token skeleton is
 * walked by hand; certificates and CRLs still go through d2i_X509/_CRL.
 * The reader is deliberately strict (definite, minimal lengths; single
 * byte tags) so that no two encodings of a token are accepted.
 */
#include "config.h"

#include <string.h>

#include <openssl/crypto.h>

#include "pp-openssl-types.h"
#include "pp-tr34-private.h"

const guint8 pp_oid_data[9]            = { 0x2A, 0x86, 0x48, 0x86, 0xF7, 0x0D, 0x01, 0x07, 0x01 };
const guint8 pp_oid_signed_data[9]     = { 0x2A, 0x86, 0x48, 0x86, 0xF7, 0x0D, 0x01, 0x07, 0x02 };
const guint8 pp_oid_enveloped_data[9]  = { 0x2A, 0x86, 0x48, 0x86, 0xF7, 0x0D, 0x01, 0x07, 0x03 };
const guint8 pp_oid_content_type[9]    = { 0x2A, 0x86, 0x48, 0x86, 0xF7, 0x0D, 0x01, 0x09, 0x03 };
const guint8 pp_oid_message_digest[9]  = { 0x2A, 0x86, 0x48, 0x86, 0xF7, 0x0D, 0x01, 0x09, 0x04 };
const guint8 pp_oid_signing_time[9]    = { 0x2A, 0x86, 0x48, 0x86, 0xF7, 0x0D, 0x01, 0x09, 0x05 };
const guint8 pp_oid_random_nonce[10]   = { 0x2A, 0x86, 0x48, 0x86, 0xF7, 0x0D, 0x01, 0x09, 0x19, 0x03 };
const guint8 pp_oid_sha256[9]          = { 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01 };
const guint8 pp_oid_rsa_encryption[9]  = { 0x2A, 0x86, 0x48, 0x86, 0xF7, 0x0D, 0x01, 0x01, 0x01 };
const guint8 pp_oid_sha256_with_rsa[9] = { 0x2A, 0x86, 0x48, 0x86, 0xF7, 0x0D, 0x01, 0x01, 0x0B };
const guint8 pp_oid_rsaes_oaep[9]      = { 0x2A, 0x86, 0x48, 0x86, 0xF7, 0x0D, 0x01, 0x01, 0x07 };
const guint8 pp_oid_mgf1[9]            = { 0x2A, 0x86, 0x48, 0x86, 0xF7, 0x0D, 0x01, 0x01, 0x08 };
const guint8 pp_oid_p_specified[9]     = { 0x2A, 0x86, 0x48, 0x86, 0xF7, 0x0D, 0x01, 0x01, 0x09 };
const guint8 pp_oid_des_ede3_cbc[8]    = { 0x2A, 0x86, 0x48, 0x86, 0xF7, 0x0D, 0x03, 0x07 };
const guint8 pp_oid_aes128_cbc[9]      = { 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x01, 0x02 };

void
pp_der_init (PpDer        *cur,
             const guint8 *p,
             gsize         len)
{
  cur->p = p;
  cur->len = len;
}

gboolean
pp_der_at_end (const PpDer *cur)
{
  return cur->len == 0;
}

int
pp_der_peek_tag (const PpDer *cur)
{
  return cur->len > 0 ? cur->p[0] : -1;
}

gboolean
pp_der_next (PpDer       *cur,
             PpDerTlv    *out,
             const char  *what,
             GError     **error)
{
  gsize hdr = 2, len;

  if (cur->len < 2)
    {
      g_set_error (error, PP_TR34_ERROR, PP_TR34_ERROR_TRUNCATED,
                   "Truncated DER: %s ends early", what);
      return FALSE;
    }
  if ((cur->p[0] & 0x1F) == 0x1F)
    {
      g_set_error (error, PP_TR34_ERROR, PP_TR34_ERROR_MALFORMED,
                   "Malformed DER in %s: multi-byte tag", what);
      return FALSE;
    }

  len = cur->p[1];
  if (len & 0x80)
    {
      gsize n = len & 0x7F;

      if (n == 0 || n > 4)
        {
          g_set_error (error, PP_TR34_ERROR, PP_TR34_ERROR_MALFORMED,
                       "Malformed DER in %s: %s length", what,
                       n == 0 ? "indefinite" : "oversized");
          return FALSE;
        }
      if (cur->len < 2 + n)
        {
          g_set_error (error, PP_TR34_ERROR, PP_TR34_ERROR_TRUNCATED,
                       "Truncated DER: %s ends early", what);
          return FALSE;
        }
      len = 0;
      for (gsize i = 0; i < n; i++)
        len = (len << 8) | cur->p[2 + i];
      /* DER: shortest form only. */
      if (cur->p[2] == 0 || len < 0x80)
        {
          g_set_error (error, PP_TR34_ERROR, PP_TR34_ERROR_MALFORMED,
                       "Malformed DER in %s: non-minimal length", what);
          return FALSE;
        }
      hdr += n;
    }

  if (len > cur->len - hdr)
    {
      g_set_error (error, PP_TR34_ERROR, PP_TR34_ERROR_TRUNCATED,
                   "Truncated DER: %s needs %" G_GSIZE_FORMAT " bytes, %"
                   G_GSIZE_FORMAT " left", what, len, cur->len - hdr);
      return FALSE;
    }

  out->tag = cur->p[0];
  out->raw = cur->p;
  out->raw_len = hdr + len;
  out->value = cur->p + hdr;
  out->len = len;
  cur->p += hdr + len;
  cur->len -= hdr + len;
  return TRUE;
}

gboolean
pp_der_expect (PpDer       *cur,
               guint8       tag,
               PpDerTlv    *out,
               const char  *what,
               GError     **error)
{
  if (cur->len > 0 && cur->p[0] != tag)
    {
      g_set_error (error, PP_TR34_ERROR, PP_TR34_ERROR_MALFORMED,
                   "Malformed token: %s has tag 0x%02X, expected 0x%02X",
                   what, cur->p[0], tag);
      return FALSE;
    }
  return pp_der_next (cur, out, what, error);
}

gboolean
pp_der_expect_end (const PpDer  *cur,
                   const char   *what,
                   GError      **error)
{
  if (cur->len != 0)
    {
      g_set_error (error, PP_TR34_ERROR, PP_TR34_ERROR_MALFORMED,
                   "Malformed token: %" G_GSIZE_FORMAT " unexpected bytes after %s",
                   cur->len, what);
      return FALSE;
    }
  return TRUE;
}

void
pp_der_enter (const PpDerTlv *tlv,
              PpDer          *inner)
{
  pp_der_init (inner, tlv->value, tlv->len);
}

gboolean
pp_der_tlv_is_oid (const PpDerTlv *tlv,
                   const guint8   *oid,
                   gsize           oid_len)
{
  return tlv->tag == PP_DER_OID && tlv->len == oid_len &&
         memcmp (tlv->value, oid, oid_len) == 0;
}

gboolean
pp_der_read_algorithm_no_params (PpDer       *cur,
                                 PpDerTlv    *out_oid,
                                 const char  *what,
                                 GError     **error)
{
  PpDerTlv seq, param;
  PpDer in;

  if (!pp_der_expect (cur, PP_DER_SEQUENCE, &seq, what, error))
    return FALSE;
  pp_der_enter (&seq, &in);
  if (!pp_der_expect (&in, PP_DER_OID, out_oid, what, error))
    return FALSE;
  if (!pp_der_at_end (&in))
    {
      if (!pp_der_expect (&in, PP_DER_NULL, &param, what, error))
        return FALSE;
      if (param.len != 0)
        {
          g_set_error (error, PP_TR34_ERROR, PP_TR34_ERROR_MALFORMED,
                       "Malformed token: %s has a non-empty NULL", what);
          return FALSE;
        }
    }
  return pp_der_expect_end (&in, what, error);
}

gboolean
pp_der_read_small_int (const PpDerTlv *tlv,
                       int            *out)
{
  if (tlv->tag != PP_DER_INTEGER || tlv->len != 1 || tlv->value[0] > 0x7F)
    return FALSE;
  *out = tlv->value[0];
  return TRUE;
}

static void
put_header (GByteArray *out,
            guint8      tag,
            gsize       len)
{
  guint8 h[6];
  guint n = 0;

  h[n++] = tag;
  if (len < 0x80)
    h[n++] = len;
  else if (len <= 0xFF)
    {
      h[n++] = 0x81;
      h[n++] = len;
    }
  else if (len <= 0xFFFF)
    {
      h[n++] = 0x82;
      h[n++] = len >> 8;
      h[n++] = len & 0xFF;
    }
  else
    {
      h[n++] = 0x83;
      h[n++] = (len >> 16) & 0xFF;
      h[n++] = (len >> 8) & 0xFF;
      h[n++] = len & 0xFF;
    }
  g_byte_array_append (out, h, n);
}

void
pp_der_put (GByteArray   *out,
            guint8        tag,
            const guint8 *value,
            gsize         len)
{
  put_header (out, tag, len);
  if (len > 0)
    g_byte_array_append (out, value, len);
}

void
pp_der_put_array (GByteArray *out,
                  guint8      tag,
                  GByteArray *value)
{
  pp_der_put (out, tag, value->data, value->len);
}

void
pp_der_put_raw (GByteArray   *out,
                const guint8 *data,
                gsize         len)
{
  if (len > 0)
    g_byte_array_append (out, data, len);
}

void
pp_der_put_oid (GByteArray   *out,
                const guint8 *oid,
                gsize         len)
{
  pp_der_put (out, PP_DER_OID, oid, len);
}

void
pp_der_put_small_int (GByteArray *out,
                      guint8      value)
{
  pp_der_put (out, PP_DER_INTEGER, &value, 1);
}

void
pp_der_put_algorithm (GByteArray   *out,
                      const guint8 *oid,
                      gsize         len,
                      gboolean      null_params)
{
  g_autoptr(GByteArray) seq = g_byte_array_new ();

  pp_der_put_oid (seq, oid, len);
  if (null_params)
    pp_der_put (seq, PP_DER_NULL, NULL, 0);
  pp_der_put_array (out, PP_DER_SEQUENCE, seq);
}

void
pp_der_array_free_secret (GByteArray *array)
{
  if (array == NULL)
    return;
  OPENSSL_cleanse (array->data, array->len);
  g_byte_array_unref (array);
}

/* DER SET OF order: compare encodings as octet strings, the shorter padded
 * with zeros (X.690 11.6). */
static int
compare_der (gconstpointer a,
             gconstpointer b)
{
  const GByteArray *x = *(const GByteArray * const *) a;
  const GByteArray *y = *(const GByteArray * const *) b;
  gsize n = MAX (x->len, y->len);

  for (gsize i = 0; i < n; i++)
    {
      guint8 cx = i < x->len ? x->data[i] : 0;
      guint8 cy = i < y->len ? y->data[i] : 0;

      if (cx != cy)
        return cx < cy ? -1 : 1;
    }
  return 0;
}

void
pp_tr34_attrs_sort (GPtrArray *encoded_attrs)
{
  g_ptr_array_sort (encoded_attrs, compare_der);
}

static gboolean
two_digits (const guint8 *p,
            int          *out)
{
  if (!g_ascii_isdigit (p[0]) || !g_ascii_isdigit (p[1]))
    return FALSE;
  *out = (p[0] - '0') * 10 + (p[1] - '0');
  return TRUE;
}

/* UTCTime YYMMDDHHMMSSZ or GeneralizedTime YYYYMMDDHHMMSSZ, as DER. */
GDateTime *
pp_tr34_parse_time (const PpDerTlv *tlv)
{
  const guint8 *p = tlv->value;
  int year, cc, mo, d, h, mi, s;

  if (tlv->tag == PP_DER_UTC_TIME && tlv->len == 13)
    {
      if (!two_digits (p, &year))
        return NULL;
      year += year < 50 ? 2000 : 1900;
      p += 2;
    }
  else if (tlv->tag == PP_DER_GEN_TIME && tlv->len == 15)
    {
      if (!two_digits (p, &cc) || !two_digits (p + 2, &year))
        return NULL;
      year += cc * 100;
      p += 4;
    }
  else
    return NULL;

  if (!two_digits (p, &mo) || !two_digits (p + 2, &d) || !two_digits (p + 4, &h) ||
      !two_digits (p + 6, &mi) || !two_digits (p + 8, &s) || p[10] != 'Z')
    return NULL;
  if (mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || s > 59)
    return NULL;

  return g_date_time_new_utc (year, mo, d, h, mi, s);
}

GByteArray *
pp_tr34_encode_ias (X509 *cert)
{
  GByteArray *ias = g_byte_array_new ();
  g_autoptr(GByteArray) inner = g_byte_array_new ();
  const ASN1_INTEGER *serial = X509_get0_serialNumber (cert);
  unsigned char *name_der = NULL, *serial_der = NULL;
  int name_len, serial_len;

  /* The issuer name keeps its received encoding (cached by OpenSSL), so
   * the IAS matches the bytes other parties compare against. */
  name_len = i2d_X509_NAME (X509_get_issuer_name (cert), &name_der);
  serial_len = i2d_ASN1_INTEGER (serial, &serial_der);
  if (name_len > 0 && serial_len > 0)
    {
      pp_der_put_raw (inner, name_der, name_len);
      pp_der_put_raw (inner, serial_der, serial_len);
      pp_der_put_array (ias, PP_DER_SEQUENCE, inner);
    }
  OPENSSL_free (name_der);
  OPENSSL_free (serial_der);
  return ias;
}

gboolean
pp_tr34_key_block_parse (const guint8    *der,
                         gsize            len,
                         PpTr34KeyBlock  *out,
                         GError         **error)
{
  g_autoptr(GError) local = NULL;
  PpDer top, in, attr, set;
  PpDerTlv seq, version, ias, key, attr_seq, oid, set_tlv, header;
  int v;

  pp_der_init (&top, der, len);
  if (!pp_der_expect (&top, PP_DER_SEQUENCE, &seq, "key block", &local) ||
      !pp_der_expect_end (&top, "key block", &local))
    goto fail;
  pp_der_enter (&seq, &in);
  if (!pp_der_expect (&in, PP_DER_INTEGER, &version, "key block version", &local) ||
      !pp_der_expect (&in, PP_DER_SEQUENCE, &ias, "key block KDH identifier", &local) ||
      !pp_der_expect (&in, PP_DER_OCTET_STRING, &key, "key block key", &local) ||
      !pp_der_expect (&in, PP_DER_SEQUENCE, &attr_seq, "key block header", &local) ||
      !pp_der_expect_end (&in, "key block", &local))
    goto fail;
  if (!pp_der_read_small_int (&version, &v) || v != 1)
    {
      g_set_error (error, PP_TR34_ERROR, PP_TR34_ERROR_KEY_BLOCK_MALFORMED,
                   "Key block version is not 1");
      return FALSE;
    }
  pp_der_enter (&attr_seq, &attr);
  if (!pp_der_expect (&attr, PP_DER_OID, &oid, "key block header", &local) ||
      !pp_der_expect (&attr, PP_DER_SET, &set_tlv, "key block header", &local) ||
      !pp_der_expect_end (&attr, "key block header", &local))
    goto fail;
  if (!pp_der_tlv_is_oid (&oid, PP_OID (data)))
    {
      g_set_error (error, PP_TR34_ERROR, PP_TR34_ERROR_KEY_BLOCK_MALFORMED,
                   "Key block header attribute is not id-data");
      return FALSE;
    }
  pp_der_enter (&set_tlv, &set);
  if (!pp_der_expect (&set, PP_DER_OCTET_STRING, &header, "key block header", &local) ||
      !pp_der_expect_end (&set, "key block header", &local))
    goto fail;
  if (key.len == 0 || header.len < 16)
    {
      g_set_error (error, PP_TR34_ERROR, PP_TR34_ERROR_KEY_BLOCK_MALFORMED,
                   "Key block has an empty key or a short header");
      return FALSE;
    }
  for (gsize i = 0; i < header.len; i++)
    if (!g_ascii_isprint (header.value[i]))
      {
        g_set_error (error, PP_TR34_ERROR, PP_TR34_ERROR_KEY_BLOCK_MALFORMED,
                     "Key block header is not printable text");
        return FALSE;
      }

  out->kdh_ias = ias.raw;
  out->kdh_ias_len = ias.raw_len;
  out->key = key.value;
  out->key_len = key.len;
  out->header = header.value;
  out->header_len = header.len;
  return TRUE;

fail:
  g_set_error (error, PP_TR34_ERROR, PP_TR34_ERROR_KEY_BLOCK_MALFORMED,
               "Key block malformed: %s", local->message);
  return FALSE;
}
