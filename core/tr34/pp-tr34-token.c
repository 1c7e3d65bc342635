/* SPDX-License-Identifier: GPL-3.0-or-later
 *
 * pp-tr34-token.c: reading any TR-34 token into its parts.
 *
 * Tolerant where Annex B departs from CMS (signerInfos before crls in
 * B.6, unsorted signed attributes in B.9, a SignedData without its
 * SEQUENCE header inside B.11) and strict everywhere else, so that a
 * changed byte either breaks the structure or a signature.
 */
#include "config.h"

#include <string.h>

#include <openssl/crypto.h>
#include <openssl/rsa.h>
#include <openssl/x509v3.h>

#include "pp-hex.h"
#include "pp-openssl-types.h"
#include "pp-tr34-private.h"

static gboolean
fail (GError     **error,
      PpTr34Error  code,
      const char  *message)
{
  g_set_error_literal (error, PP_TR34_ERROR, code, message);
  return FALSE;
}

void
pp_tr34_token_free (PpTr34Token *token)
{
  if (token == NULL)
    return;
  g_clear_pointer (&token->der, g_bytes_unref);
  if (token->certs != NULL)
    sk_X509_pop_free (token->certs, X509_free);
  g_clear_pointer (&token->crl, X509_CRL_free);
  g_clear_pointer (&token->nonce, g_bytes_unref);
  g_clear_pointer (&token->signing_time, g_date_time_unref);
  g_clear_pointer (&token->header, g_free);
  g_free (token);
}

static X509 *
decode_cert (gpointer      user_data,
             const guint8 *der,
             gsize         len)
{
  const unsigned char *p = der;
  X509 *x = d2i_X509 (NULL, &p, (long) len);

  if (x != NULL && p != der + len)
    g_clear_pointer (&x, X509_free);
  return x;
}

static gboolean
parse_certs (PpTr34Token       *token,
             const PpDerTlv    *set,
             PpTr34CertDecoder  decoder,
             gpointer           decoder_data,
             GError           **error)
{
  PpDer in;

  pp_der_enter (set, &in);
  token->certs = sk_X509_new_null ();
  while (!pp_der_at_end (&in))
    {
      PpDerTlv c;
      X509 *x;

      if (!pp_der_expect (&in, PP_DER_SEQUENCE, &c, "certificate", error))
        return FALSE;
      if (!pp_tr34_check_cert_der (c.raw, c.raw_len, "Certificate in token", error))
        return FALSE;
      x = decoder (decoder_data, c.raw, c.raw_len);
      if (x == NULL)
        return fail (error, PP_TR34_ERROR_MALFORMED, "Malformed certificate in token");
      sk_X509_push (token->certs, x);
    }
  return TRUE;
}

static gboolean
parse_crls (PpTr34Token     *token,
            const PpDerTlv  *set,
            GError         **error)
{
  PpDer in;
  PpDerTlv c;
  const unsigned char *p;

  pp_der_enter (set, &in);
  /* RFC 5652 5.1: crls is a SET OF, and an empty one (A1 00, as
   * BouncyCastle-based hosts send in rebind tokens) carries no CRL. */
  if (pp_der_at_end (&in))
    return TRUE;
  if (pp_der_peek_tag (&in) != PP_DER_SEQUENCE)
    return fail (error, PP_TR34_ERROR_UNSUPPORTED,
                 "The token's crls hold something other than an X.509 CRL "
                 "(RevocationInfoChoice other, RFC 5652 10.2.1)");
  if (!pp_der_expect (&in, PP_DER_SEQUENCE, &c, "CRL", error))
    return FALSE;
  if (!pp_der_at_end (&in))
    return fail (error, PP_TR34_ERROR_UNSUPPORTED, "More than one CRL in token");
  if (!pp_tr34_check_crl_der (c.raw, c.raw_len, "CRL in token", error))
    return FALSE;
  token->crl_tlv = c;
  p = c.raw;
  token->crl = d2i_X509_CRL (NULL, &p, (long) c.raw_len);
  if (token->crl == NULL || p != c.raw + c.raw_len)
    return fail (error, PP_TR34_ERROR_MALFORMED, "Malformed CRL in token");
  return TRUE;
}

static gboolean
single_value (const PpDerTlv  *set,
              guint8           tag,
              PpDerTlv        *out,
              GError         **error)
{
  PpDer in;

  pp_der_enter (set, &in);
  if (!pp_der_expect (&in, tag, out, "attribute value", error))
    return FALSE;
  return pp_der_expect_end (&in, "attribute value", error);
}

static gboolean
parse_signed_attrs (PpTr34Token  *token,
                    GError      **error)
{
  PpDer in;
  const guint8 *prev = NULL;
  gsize prev_len = 0;
  gboolean seen_ct = FALSE, seen_md = FALSE, seen_time = FALSE;

  token->attrs_sorted = TRUE;
  pp_der_enter (&token->signed_attrs, &in);
  while (!pp_der_at_end (&in))
    {
      PpDerTlv attr, oid, set, value;
      PpDer a;

      if (!pp_der_expect (&in, PP_DER_SEQUENCE, &attr, "signed attribute", error))
        return FALSE;
      if (prev != NULL)
        {
          gsize n = MAX (prev_len, attr.raw_len);
          for (gsize i = 0; i < n; i++)
            {
              guint8 x = i < prev_len ? prev[i] : 0;
              guint8 y = i < attr.raw_len ? attr.raw[i] : 0;
              if (x != y)
                {
                  if (x > y)
                    token->attrs_sorted = FALSE;
                  break;
                }
            }
        }
      prev = attr.raw;
      prev_len = attr.raw_len;

      pp_der_enter (&attr, &a);
      if (!pp_der_expect (&a, PP_DER_OID, &oid, "attribute type", error) ||
          !pp_der_expect (&a, PP_DER_SET, &set, "attribute values", error) ||
          !pp_der_expect_end (&a, "signed attribute", error))
        return FALSE;

      if (pp_der_tlv_is_oid (&oid, PP_OID (content_type)))
        {
          if (seen_ct)
            return fail (error, PP_TR34_ERROR_MALFORMED, "Duplicate contentType attribute");
          seen_ct = TRUE;
          if (!single_value (&set, PP_DER_OID, &token->attr_content_type, error))
            return FALSE;
        }
      else if (pp_der_tlv_is_oid (&oid, PP_OID (message_digest)))
        {
          if (seen_md)
            return fail (error, PP_TR34_ERROR_MALFORMED, "Duplicate messageDigest attribute");
          seen_md = TRUE;
          if (!single_value (&set, PP_DER_OCTET_STRING, &token->attr_digest, error))
            return FALSE;
          if (token->attr_digest.len != 32)
            return fail (error, PP_TR34_ERROR_MALFORMED, "messageDigest is not a SHA-256 value");
        }
      else if (pp_der_tlv_is_oid (&oid, PP_OID (signing_time)))
        {
          PpDer s;

          if (seen_time)
            return fail (error, PP_TR34_ERROR_MALFORMED, "Duplicate signingTime attribute");
          seen_time = TRUE;
          pp_der_enter (&set, &s);
          if (!pp_der_next (&s, &value, "signingTime", error) ||
              !pp_der_expect_end (&s, "signingTime", error))
            return FALSE;
          token->signing_time = pp_tr34_parse_time (&value);
          if (token->signing_time == NULL)
            return fail (error, PP_TR34_ERROR_MALFORMED, "signingTime is not a valid UTC time");
        }
      else if (pp_der_tlv_is_oid (&oid, PP_OID (random_nonce)))
        {
          if (token->nonce != NULL)
            return fail (error, PP_TR34_ERROR_MALFORMED, "Duplicate randomNonce attribute");
          if (!single_value (&set, PP_DER_OCTET_STRING, &value, error))
            return FALSE;
          if (value.len == 0 || value.len > 64)
            return fail (error, PP_TR34_ERROR_MALFORMED, "randomNonce has an odd length");
          token->nonce = g_bytes_new (value.value, value.len);
        }
      else if (pp_der_tlv_is_oid (&oid, PP_OID (data)))
        {
          if (token->header != NULL)
            return fail (error, PP_TR34_ERROR_MALFORMED, "Duplicate key block header attribute");
          if (!single_value (&set, PP_DER_OCTET_STRING, &value, error))
            return FALSE;
          for (gsize i = 0; i < value.len; i++)
            if (!g_ascii_isprint (value.value[i]))
              return fail (error, PP_TR34_ERROR_MALFORMED, "Key block header attribute is not text");
          token->header = g_strndup ((const char *) value.value, value.len);
        }
      /* Other attributes are covered by the signature and not needed. */
    }

  if (!seen_ct || !seen_md)
    return fail (error, PP_TR34_ERROR_MALFORMED,
                 "Signed attributes lack contentType or messageDigest");
  if (token->attr_content_type.len != token->econtent_type.len ||
      memcmp (token->attr_content_type.value, token->econtent_type.value,
              token->econtent_type.len) != 0)
    return fail (error, PP_TR34_ERROR_MALFORMED,
                 "contentType attribute differs from the content");
  return TRUE;
}

static gboolean
parse_signer_info (PpTr34Token     *token,
                   const PpDerTlv  *tlv,
                   GError         **error)
{
  PpDer in, ias;
  PpDerTlv version, ias_tlv, digest, sig_alg;
  int v;

  pp_der_enter (tlv, &in);
  if (!pp_der_expect (&in, PP_DER_INTEGER, &version, "SignerInfo version", error))
    return FALSE;
  if (!pp_der_read_small_int (&version, &v) || v != 1)
    return fail (error, PP_TR34_ERROR_UNSUPPORTED,
                 "SignerInfo version is not 1 (issuer and serial number)");
  if (!pp_der_expect (&in, PP_DER_SEQUENCE, &ias_tlv, "signer identifier", error))
    return FALSE;
  token->sid = ias_tlv;
  pp_der_enter (&ias_tlv, &ias);
  if (!pp_der_expect (&ias, PP_DER_SEQUENCE, &token->sid_issuer, "signer issuer", error) ||
      !pp_der_expect (&ias, PP_DER_INTEGER, &token->sid_serial, "signer serial", error) ||
      !pp_der_expect_end (&ias, "signer identifier", error))
    return FALSE;
  if (!pp_der_read_algorithm_no_params (&in, &digest, "digest algorithm", error))
    return FALSE;
  if (!pp_der_tlv_is_oid (&digest, PP_OID (sha256)))
    return fail (error, PP_TR34_ERROR_UNSUPPORTED, "Digest algorithm is not SHA-256");

  if (pp_der_peek_tag (&in) == PP_DER_CTX0)
    {
      if (!pp_der_next (&in, &token->signed_attrs, "signed attributes", error))
        return FALSE;
      token->has_signed_attrs = TRUE;
    }

  if (!pp_der_read_algorithm_no_params (&in, &sig_alg, "signature algorithm", error))
    return FALSE;
  /* TR-34's samples write rsaEncryption, BouncyCastle-based hosts
   * sha256WithRSAEncryption; RFC 3370 3.2 and RFC 5754 3.2 allow both, and
   * with the SHA-256 digestAlgorithm above both mean PKCS#1 v1.5 over
   * SHA-256. Parameters are NULL or absent (checked above). */
  if (pp_der_tlv_is_oid (&sig_alg, PP_OID (sha256_with_rsa)))
    token->sig_alg_with_digest = TRUE;
  else if (!pp_der_tlv_is_oid (&sig_alg, PP_OID (rsa_encryption)))
    return fail (error, PP_TR34_ERROR_UNSUPPORTED,
                 "Signature algorithm is neither rsaEncryption nor sha256WithRSAEncryption "
                 "(PKCS#1 v1.5 with SHA-256, RFC 5754 3.2)");
  if (!pp_der_expect (&in, PP_DER_OCTET_STRING, &token->signature, "signature", error))
    return FALSE;
  if (!pp_der_at_end (&in))
    return fail (error, PP_TR34_ERROR_UNSUPPORTED, "Unsigned attributes are not supported");
  token->signed_ = TRUE;
  return TRUE;
}

static gboolean
parse_random_token (PpTr34Token     *token,
                    const PpDerTlv  *seq,
                    GError         **error)
{
  PpDer in;
  PpDerTlv oid, set, value;

  pp_der_enter (seq, &in);
  if (!pp_der_expect (&in, PP_DER_OID, &oid, "RT_KRD", error) ||
      !pp_der_expect (&in, PP_DER_SET, &set, "RT_KRD", error) ||
      !pp_der_expect_end (&in, "RT_KRD", error))
    return FALSE;
  if (!pp_der_tlv_is_oid (&oid, PP_OID (random_nonce)))
    return fail (error, PP_TR34_ERROR_WRONG_TOKEN_TYPE,
                 "Not a TR-34 token (neither SignedData nor RT_KRD)");
  if (!single_value (&set, PP_DER_OCTET_STRING, &value, error))
    return FALSE;
  if (value.len == 0 || value.len > 64)
    return fail (error, PP_TR34_ERROR_MALFORMED, "randomNonce has an odd length");
  token->nonce = g_bytes_new (value.value, value.len);
  token->type = PP_TR34_TOKEN_RT_KRD;
  token->profile = PP_TR34_PROFILE_STRICT;
  return TRUE;
}

static gboolean
parse_signed_data (PpTr34Token       *token,
                   const PpDerTlv    *sd_tlv,
                   PpTr34CertDecoder  decoder,
                   gpointer           decoder_data,
                   GError           **error)
{
  PpDer sd, digests, encap;
  PpDerTlv version, digest_set, encap_tlv, tlv, signer_infos = { 0 };
  gboolean seen_certs = FALSE, seen_crls = FALSE, seen_signers = FALSE;
  int v;

  pp_der_enter (sd_tlv, &sd);
  if (!pp_der_expect (&sd, PP_DER_INTEGER, &version, "SignedData version", error))
    return FALSE;
  if (!pp_der_read_small_int (&version, &v) || (v != 1 && v != 3))
    return fail (error, PP_TR34_ERROR_UNSUPPORTED, "SignedData version is neither 1 nor 3");
  token->sd_version = v;
  if (!pp_der_expect (&sd, PP_DER_SET, &digest_set, "digestAlgorithms", error) ||
      !pp_der_expect (&sd, PP_DER_SEQUENCE, &encap_tlv, "encapContentInfo", error))
    return FALSE;

  pp_der_enter (&digest_set, &digests);
  while (!pp_der_at_end (&digests))
    {
      PpDerTlv oid;

      if (!pp_der_read_algorithm_no_params (&digests, &oid, "digest algorithm", error))
        return FALSE;
      if (!pp_der_tlv_is_oid (&oid, PP_OID (sha256)))
        return fail (error, PP_TR34_ERROR_UNSUPPORTED, "Digest algorithm is not SHA-256");
    }

  pp_der_enter (&encap_tlv, &encap);
  if (!pp_der_expect (&encap, PP_DER_OID, &token->econtent_type, "eContentType", error))
    return FALSE;
  if (!pp_der_at_end (&encap))
    {
      PpDer e;

      if (!pp_der_expect (&encap, PP_DER_CTX0, &tlv, "eContent", error) ||
          !pp_der_expect_end (&encap, "encapContentInfo", error))
        return FALSE;
      pp_der_enter (&tlv, &e);
      if (!pp_der_expect (&e, PP_DER_OCTET_STRING, &token->econtent, "eContent", error) ||
          !pp_der_expect_end (&e, "eContent", error))
        return FALSE;
      token->has_econtent = TRUE;
    }

  token->cms_order = TRUE;
  while (!pp_der_at_end (&sd))
    {
      if (!pp_der_next (&sd, &tlv, "SignedData", error))
        return FALSE;
      if (tlv.tag == PP_DER_CTX0 && !seen_certs && !seen_crls && !seen_signers)
        {
          seen_certs = TRUE;
          if (!parse_certs (token, &tlv, decoder, decoder_data, error))
            return FALSE;
        }
      else if (tlv.tag == PP_DER_CTX1 && !seen_crls)
        {
          seen_crls = TRUE;
          /* B.6 writes signerInfos before crls. */
          if (seen_signers)
            token->cms_order = FALSE;
          if (!parse_crls (token, &tlv, error))
            return FALSE;
        }
      else if (tlv.tag == PP_DER_SET && !seen_signers)
        {
          seen_signers = TRUE;
          signer_infos = tlv;
        }
      else
        return fail (error, PP_TR34_ERROR_MALFORMED,
                     "Malformed token: unexpected or repeated element in SignedData");
    }
  if (!seen_signers)
    return fail (error, PP_TR34_ERROR_MALFORMED, "Malformed token: SignedData lacks signerInfos");

  if (signer_infos.len > 0)
    {
      PpDer si;
      PpDerTlv one;

      pp_der_enter (&signer_infos, &si);
      if (!pp_der_expect (&si, PP_DER_SEQUENCE, &one, "SignerInfo", error))
        return FALSE;
      if (!pp_der_at_end (&si))
        return fail (error, PP_TR34_ERROR_UNSUPPORTED, "More than one signer");
      if (!parse_signer_info (token, &one, error))
        return FALSE;
      if (!token->has_econtent)
        return fail (error, PP_TR34_ERROR_MALFORMED, "Signed token without content");
      if (digest_set.len == 0)
        return fail (error, PP_TR34_ERROR_MALFORMED, "digestAlgorithms is empty");
      if (token->has_signed_attrs && !parse_signed_attrs (token, error))
        return FALSE;
    }
  return TRUE;
}

/* TR-34 writes version 1 throughout; RFC 5652 wants 3 when the content
 * is not id-data, which is what the strict profile writes. Tying the
 * version to the layout leaves no byte of the token unchecked. */
static gboolean
check_version (PpTr34Token  *token,
               gboolean      cms_layout,
               GError      **error)
{
  int expected = cms_layout && !pp_der_tlv_is_oid (&token->econtent_type, PP_OID (data)) ? 3 : 1;

  if (token->sd_version != expected)
    {
      g_set_error (error, PP_TR34_ERROR, PP_TR34_ERROR_MALFORMED,
                   "SignedData version %d does not fit this token's layout (expected %d)",
                   token->sd_version, expected);
      return FALSE;
    }
  return TRUE;
}

static gboolean
classify (PpTr34Token  *token,
          GError      **error)
{
  const PpDerTlv *ct = &token->econtent_type;
  gboolean quirks = !token->attrs_sorted || !token->cms_order;

  if (!token->signed_)
    {
      X509 *cert;

      if (!pp_der_tlv_is_oid (ct, PP_OID (data)) || token->certs == NULL ||
          sk_X509_num (token->certs) != 1)
        return fail (error, PP_TR34_ERROR_WRONG_TOKEN_TYPE,
                     "Unsigned token is not a credential token with one certificate");
      if (token->has_econtent && token->econtent.len != 0)
        return fail (error, PP_TR34_ERROR_MALFORMED, "Credential token carries content");
      cert = sk_X509_value (token->certs, 0);
      if (token->crl != NULL)
        token->type = PP_TR34_TOKEN_CT_KDH;
      else if (X509_check_ca (cert) > 0)
        token->type = PP_TR34_TOKEN_CA_CREDENTIAL;
      else
        token->type = PP_TR34_TOKEN_CT_KRD;
      token->profile = quirks ? PP_TR34_PROFILE_X9_2019 : PP_TR34_PROFILE_STRICT;
      return check_version (token, FALSE, error);
    }

  if (pp_der_tlv_is_oid (ct, PP_OID (enveloped_data)))
    {
      token->type = PP_TR34_TOKEN_KT_KDH;
      if (!pp_tr34_envelope_parse (token->econtent.value, token->econtent.len,
                                   &token->envelope, error))
        return FALSE;
      token->has_envelope = TRUE;
      token->profile = token->envelope.profile;
      if (!token->has_signed_attrs)
        return fail (error, PP_TR34_ERROR_MALFORMED, "KT_KDH without signed attributes");
      return check_version (token, token->profile == PP_TR34_PROFILE_STRICT, error);
    }
  if (pp_der_tlv_is_oid (ct, PP_OID (signed_data)))
    {
      token->type = token->nonce != NULL ? PP_TR34_TOKEN_RBT_KDH : PP_TR34_TOKEN_RBT_CA_UNBIND;
      /* Annex B drops the inner SignedData's SEQUENCE header. */
      quirks = quirks || (token->econtent.len > 0 && token->econtent.value[0] == PP_DER_INTEGER);
      token->profile = quirks ? PP_TR34_PROFILE_X9_2019 : PP_TR34_PROFILE_STRICT;
      /* Annex B's B.10/B.11 use version 1 with a headerless inner
       * SignedData; the strict layout wraps it and uses 3. */
      return check_version (token, token->econtent.len > 0 &&
                                   token->econtent.value[0] == PP_DER_SEQUENCE, error);
    }
  if (pp_der_tlv_is_oid (ct, PP_OID (data)))
    {
      token->type = token->nonce != NULL ? PP_TR34_TOKEN_UBT_KDH : PP_TR34_TOKEN_UBT_CA_UNBIND;
      token->profile = quirks ? PP_TR34_PROFILE_X9_2019 : PP_TR34_PROFILE_STRICT;
      return check_version (token, FALSE, error);
    }

  return fail (error, PP_TR34_ERROR_WRONG_TOKEN_TYPE, "Unknown TR-34 content type");
}

static PpTr34Token *
token_parse (const guint8       *der,
             gsize               len,
             gboolean            want_classify,
             PpTr34CertDecoder   decoder,
             gpointer            decoder_data,
             GError            **error)
{
  g_autoptr(PpTr34Token) token = g_new0 (PpTr34Token, 1);
  PpDer top, ci, wrap;
  PpDerTlv seq, oid, explicit0, sd;
  const guint8 *data;

  g_return_val_if_fail (der != NULL || len == 0, NULL);

  token->attrs_sorted = TRUE;
  token->cms_order = TRUE;
  /* Keep our own copy: every PpDerTlv points into it. */
  token->der = g_bytes_new (der, len);
  data = g_bytes_get_data (token->der, NULL);
  if (data == NULL)
    data = (const guint8 *) "";

  pp_der_init (&top, data, len);
  if (!pp_der_expect (&top, PP_DER_SEQUENCE, &seq, "token", error) ||
      !pp_der_expect_end (&top, "token", error))
    return NULL;

  pp_der_enter (&seq, &ci);
  if (!pp_der_expect (&ci, PP_DER_OID, &oid, "content type", error))
    return NULL;
  if (!pp_der_tlv_is_oid (&oid, PP_OID (signed_data)))
    {
      if (!parse_random_token (token, &seq, error))
        return NULL;
      return g_steal_pointer (&token);
    }

  if (!pp_der_expect (&ci, PP_DER_CTX0, &explicit0, "content", error) ||
      !pp_der_expect_end (&ci, "ContentInfo", error))
    return NULL;
  pp_der_enter (&explicit0, &wrap);
  if (!pp_der_expect (&wrap, PP_DER_SEQUENCE, &sd, "SignedData", error) ||
      !pp_der_expect_end (&wrap, "SignedData", error))
    return NULL;

  if (!parse_signed_data (token, &sd, decoder != NULL ? decoder : decode_cert,
                          decoder_data, error))
    return NULL;
  if (want_classify && !classify (token, error))
    return NULL;

  return g_steal_pointer (&token);
}

PpTr34Token *
pp_tr34_token_parse (const guint8  *der,
                     gsize          len,
                     GError       **error)
{
  return token_parse (der, len, TRUE, NULL, NULL, error);
}

PpTr34Token *
pp_tr34_token_parse_with_decoder (const guint8       *der,
                                  gsize               len,
                                  PpTr34CertDecoder   decoder,
                                  gpointer            user_data,
                                  GError            **error)
{
  return token_parse (der, len, TRUE, decoder, user_data, error);
}

PpTr34Token *
pp_tr34_token_parse_unclassified (const guint8  *der,
                                  gsize          len,
                                  GError       **error)
{
  return token_parse (der, len, FALSE, NULL, NULL, error);
}

PpTr34TokenType
pp_tr34_token_get_kind (const PpTr34Token *token)
{
  g_return_val_if_fail (token != NULL, PP_TR34_TOKEN_UNKNOWN);
  return token->type;
}

PpTr34Profile
pp_tr34_token_get_profile (const PpTr34Token *token)
{
  g_return_val_if_fail (token != NULL, PP_TR34_PROFILE_STRICT);
  return token->profile;
}

/* A DER INTEGER's content carries a 00 sign byte before a magnitude whose
 * top bit is set; the KDH serial the KRD reports comes from OpenSSL
 * without it. Print serials the same way everywhere (as `openssl x509
 * -serial` does), so a user can compare inspect with krd-receive. */
static char *
serial_to_hex (const guint8 *serial,
               gsize         len)
{
  if (len > 1 && serial[0] == 0x00 && (serial[1] & 0x80) != 0)
    {
      serial++;
      len--;
    }
  return pp_hex_encode (serial, len);
}

static char *
describe_ias (const guint8 *issuer_der,
              gsize         issuer_len,
              const guint8 *serial,
              gsize         serial_len)
{
  const unsigned char *p = issuer_der;
  g_autoptr(X509_NAME) name = d2i_X509_NAME (NULL, &p, (long) issuer_len);
  g_autofree char *hex = serial_to_hex (serial, serial_len);
  g_autoptr(BIO) bio = BIO_new (BIO_s_mem ());
  char *text = NULL;
  long n;

  if (name == NULL || bio == NULL)
    return g_strdup_printf ("? / serial %s", hex);
  X509_NAME_print_ex (bio, name, 0, XN_FLAG_RFC2253);
  n = BIO_get_mem_data (bio, &text);
  return g_strdup_printf ("%.*s / serial %s", (int) n, text, hex);
}

char *
pp_tr34_token_dup_signer (const PpTr34Token *token)
{
  g_return_val_if_fail (token != NULL, NULL);
  if (!token->signed_)
    return NULL;
  return describe_ias (token->sid_issuer.raw, token->sid_issuer.raw_len,
                       token->sid_serial.value, token->sid_serial.len);
}

char *
pp_tr34_token_dup_signer_serial (const PpTr34Token *token)
{
  g_return_val_if_fail (token != NULL, NULL);
  if (!token->signed_)
    return NULL;
  return serial_to_hex (token->sid_serial.value, token->sid_serial.len);
}

GBytes *
pp_tr34_token_get_nonce (const PpTr34Token *token)
{
  g_return_val_if_fail (token != NULL, NULL);
  return token->nonce;
}

GDateTime *
pp_tr34_token_get_signing_time (const PpTr34Token *token)
{
  g_return_val_if_fail (token != NULL, NULL);
  return token->signing_time;
}

const char *
pp_tr34_token_get_header (const PpTr34Token *token)
{
  g_return_val_if_fail (token != NULL, NULL);
  return token->header;
}

GStrv
pp_tr34_token_dup_recipients (const PpTr34Token *token)
{
  GPtrArray *out = g_ptr_array_new ();

  g_return_val_if_fail (token != NULL, NULL);
  if (token->has_envelope)
    {
      PpDer in;
      PpDerTlv seq, issuer, serial;

      pp_der_init (&in, token->envelope.recipient_ias, token->envelope.recipient_ias_len);
      if (pp_der_next (&in, &seq, "recipient", NULL))
        {
          pp_der_enter (&seq, &in);
          if (pp_der_next (&in, &issuer, "issuer", NULL) &&
              pp_der_next (&in, &serial, "serial", NULL))
            g_ptr_array_add (out, describe_ias (issuer.raw, issuer.raw_len,
                                                serial.value, serial.len));
        }
    }
  g_ptr_array_add (out, NULL);
  return (GStrv) g_ptr_array_free (out, FALSE);
}

gboolean
pp_tr34_token_get_ephemeral (const PpTr34Token *token,
                             PpTr34Ephemeral   *out)
{
  g_return_val_if_fail (token != NULL, FALSE);
  if (!token->has_envelope)
    return FALSE;
  if (out != NULL)
    *out = token->envelope.ephemeral;
  return TRUE;
}

STACK_OF(X509) *
pp_tr34_token_get_certificates (const PpTr34Token *token)
{
  g_return_val_if_fail (token != NULL, NULL);
  return token->certs;
}

X509_CRL *
pp_tr34_token_get_crl (const PpTr34Token *token)
{
  g_return_val_if_fail (token != NULL, NULL);
  return token->crl;
}

gboolean
pp_tr34_sid_matches (const PpTr34Token *token,
                     X509              *cert)
{
  g_autoptr(GByteArray) ias = pp_tr34_encode_ias (cert);

  return token->signed_ && ias->len == token->sid.raw_len &&
         memcmp (ias->data, token->sid.raw, ias->len) == 0;
}

gboolean
pp_tr34_token_verify_signature (const PpTr34Token *token,
                                EVP_PKEY          *signer,
                                GError           **error)
{
  g_autoptr(EVP_MD_CTX) md = NULL;
  g_autofree guint8 *signed_bytes = NULL;
  const guint8 *data;
  gsize len;
  EVP_PKEY_CTX *pctx = NULL;
  int rc;

  g_return_val_if_fail (token != NULL, FALSE);
  g_return_val_if_fail (signer != NULL, FALSE);

  if (!token->signed_)
    return fail (error, PP_TR34_ERROR_WRONG_TOKEN_TYPE, "Token is not signed");
  if (EVP_PKEY_get_base_id (signer) != EVP_PKEY_RSA)
    return fail (error, PP_TR34_ERROR_UNSUPPORTED, "Signer key is not RSA");

  if (token->has_signed_attrs)
    {
      /* The signature covers the attributes exactly as received, with the
       * IMPLICIT [0] tag read as SET OF (RFC 5652 5.4). */
      signed_bytes = g_memdup2 (token->signed_attrs.raw, token->signed_attrs.raw_len);
      signed_bytes[0] = PP_DER_SET;
      data = signed_bytes;
      len = token->signed_attrs.raw_len;
    }
  else
    {
      data = token->econtent.value;
      len = token->econtent.len;
    }

  md = EVP_MD_CTX_new ();
  if (md == NULL ||
      EVP_DigestVerifyInit (md, &pctx, EVP_sha256 (), NULL, signer) != 1 ||
      EVP_PKEY_CTX_set_rsa_padding (pctx, RSA_PKCS1_PADDING) != 1)
    return fail (error, PP_TR34_ERROR_CRYPTO, "Cannot set up signature verification");
  rc = EVP_DigestVerify (md, token->signature.value, token->signature.len, data, len);
  if (rc != 1)
    return fail (error, PP_TR34_ERROR_BAD_SIGNATURE,
                 "The token's signature does not verify with the signer's key");

  if (token->has_signed_attrs)
    {
      guint8 digest[32];
      unsigned int dlen = 0;

      if (EVP_Digest (token->econtent.value, token->econtent.len, digest, &dlen,
                      EVP_sha256 (), NULL) != 1 || dlen != 32)
        return fail (error, PP_TR34_ERROR_CRYPTO, "SHA-256 failed");
      if (CRYPTO_memcmp (digest, token->attr_digest.value, 32) != 0)
        return fail (error, PP_TR34_ERROR_DIGEST_MISMATCH,
                     "messageDigest does not match the content");
    }
  return TRUE;
}
