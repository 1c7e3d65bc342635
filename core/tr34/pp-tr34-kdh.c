/* SPDX-License-Identifier: GPL-3.0-or-later
 *
 * pp-tr34-kdh.c: the Key Distribution Host side of TR-34: CT_KDH, KT_KDH
 * (1-pass and 2-pass), RBT_KDH and UBT_KDH.
 *
 * Signed attributes are always emitted in DER SET order (both kinds of
 * verifier accept that); the signature itself goes through a callback so
 * the KDH key can stay inside a PKCS#11 token.
 */
#include "config.h"

#include <string.h>

#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <openssl/rsa.h>
#include <openssl/x509v3.h>

#include "pp-openssl-types.h"
#include "pp-tr34-private.h"

struct _PpTr34Kdh
{
  X509           *cert;
  PpTr34SignFunc  sign;
  gpointer        sign_data;
  GDestroyNotify  sign_data_free;
  X509_CRL       *crl;
  PpTr34Profile   profile;
};

gboolean
pp_tr34_sign_with_pkey (gpointer       user_data,
                        const guint8  *data,
                        gsize          len,
                        GBytes       **out_signature,
                        GError       **error)
{
  EVP_PKEY *pkey = user_data;
  g_autoptr(EVP_MD_CTX) md = EVP_MD_CTX_new ();
  EVP_PKEY_CTX *pctx = NULL;
  g_autofree guint8 *sig = NULL;
  size_t sig_len = 0;

  g_return_val_if_fail (pkey != NULL, FALSE);
  g_return_val_if_fail (out_signature != NULL, FALSE);

  if (md == NULL || EVP_PKEY_get_base_id (pkey) != EVP_PKEY_RSA ||
      EVP_DigestSignInit (md, &pctx, EVP_sha256 (), NULL, pkey) != 1 ||
      EVP_PKEY_CTX_set_rsa_padding (pctx, RSA_PKCS1_PADDING) != 1 ||
      EVP_DigestSign (md, NULL, &sig_len, data, len) != 1)
    {
      g_set_error_literal (error, PP_TR34_ERROR, PP_TR34_ERROR_CRYPTO,
                           "Cannot sign with this key (an RSA private key is needed)");
      return FALSE;
    }
  sig = g_malloc (sig_len);
  if (EVP_DigestSign (md, sig, &sig_len, data, len) != 1)
    {
      g_set_error_literal (error, PP_TR34_ERROR, PP_TR34_ERROR_CRYPTO, "RSA signing failed");
      return FALSE;
    }
  *out_signature = g_bytes_new (sig, sig_len);
  return TRUE;
}

PpTr34Kdh *
pp_tr34_kdh_new (X509           *cert,
                 PpTr34SignFunc  sign,
                 gpointer        sign_data,
                 GDestroyNotify  sign_data_free)
{
  PpTr34Kdh *kdh;

  g_return_val_if_fail (cert != NULL, NULL);
  g_return_val_if_fail (sign != NULL, NULL);

  kdh = g_new0 (PpTr34Kdh, 1);
  X509_up_ref (cert);
  kdh->cert = cert;
  kdh->sign = sign;
  kdh->sign_data = sign_data;
  kdh->sign_data_free = sign_data_free;
  kdh->profile = PP_TR34_PROFILE_STRICT;
  return kdh;
}

void
pp_tr34_kdh_free (PpTr34Kdh *kdh)
{
  if (kdh == NULL)
    return;
  X509_free (kdh->cert);
  X509_CRL_free (kdh->crl);
  if (kdh->sign_data_free != NULL)
    kdh->sign_data_free (kdh->sign_data);
  g_free (kdh);
}

void
pp_tr34_kdh_set_crl (PpTr34Kdh *kdh,
                     X509_CRL  *crl)
{
  g_return_if_fail (kdh != NULL);

  if (crl != NULL)
    X509_CRL_up_ref (crl);
  X509_CRL_free (kdh->crl);
  kdh->crl = crl;
}

void
pp_tr34_kdh_set_profile (PpTr34Kdh     *kdh,
                         PpTr34Profile  profile)
{
  g_return_if_fail (kdh != NULL);
  g_return_if_fail (profile < PP_TR34_N_PROFILES);
  kdh->profile = profile;
}

static gboolean
put_x509 (GByteArray *out,
          X509       *cert)
{
  unsigned char *der = NULL;
  int len = i2d_X509 (cert, &der);

  if (len <= 0)
    return FALSE;
  pp_der_put_raw (out, der, len);
  OPENSSL_free (der);
  return TRUE;
}

static gboolean
put_crl (GByteArray *out,
         X509_CRL   *crl)
{
  unsigned char *der = NULL;
  int len = i2d_X509_CRL (crl, &der);

  if (len <= 0)
    return FALSE;
  pp_der_put_raw (out, der, len);
  OPENSSL_free (der);
  return TRUE;
}

static GByteArray *
make_attr (const guint8 *oid,
           gsize         oid_len,
           guint8        tag,
           const guint8 *value,
           gsize         value_len)
{
  GByteArray *attr = g_byte_array_new ();
  g_autoptr(GByteArray) inner = g_byte_array_new ();
  g_autoptr(GByteArray) set = g_byte_array_new ();

  pp_der_put (set, tag, value, value_len);
  pp_der_put_oid (inner, oid, oid_len);
  pp_der_put_array (inner, PP_DER_SET, set);
  pp_der_put_array (attr, PP_DER_SEQUENCE, inner);
  return attr;
}

static GByteArray *
make_time_attr (GDateTime *local)
{
  /* The encoding says Z: format the instant in UTC, whatever zone the
   * caller's GDateTime is in. */
  g_autoptr(GDateTime) time = g_date_time_to_utc (local);
  g_autofree char *text = NULL;
  int year = g_date_time_get_year (time);

  /* RFC 5652 11.3: UTCTime for 1950-2049, GeneralizedTime otherwise. */
  if (year >= 1950 && year < 2050)
    {
      text = g_date_time_format (time, "%y%m%d%H%M%SZ");
      return make_attr (PP_OID (signing_time), PP_DER_UTC_TIME, (const guint8 *) text, strlen (text));
    }
  text = g_date_time_format (time, "%Y%m%d%H%M%SZ");
  return make_attr (PP_OID (signing_time), PP_DER_GEN_TIME, (const guint8 *) text, strlen (text));
}

static gboolean
include_cert (PpTr34Kdh *kdh)
{
  /* Annex B's tokens carry only the CRL (the KRD knows the KDH from
   * CT_KDH); strict CMS readers want the signer's certificate. */
  return kdh->profile == PP_TR34_PROFILE_STRICT;
}

static gboolean
check_own_signature (X509         *cert,
                     const guint8 *data,
                     gsize         len,
                     GBytes       *signature)
{
  g_autoptr(EVP_MD_CTX) md = EVP_MD_CTX_new ();
  EVP_PKEY *pub = X509_get0_pubkey (cert);
  EVP_PKEY_CTX *pctx = NULL;

  return md != NULL && pub != NULL &&
         EVP_DigestVerifyInit (md, &pctx, EVP_sha256 (), NULL, pub) == 1 &&
         EVP_PKEY_CTX_set_rsa_padding (pctx, RSA_PKCS1_PADDING) == 1 &&
         EVP_DigestVerify (md, g_bytes_get_data (signature, NULL), g_bytes_get_size (signature),
                           data, len) == 1;
}

/* What the KDH sends it checks first: its certificate and CRL as RFC 5280
 * wants them on the wire, and never a token signed with a certificate
 * that the very CRL it attaches revokes. */
static gboolean
check_own_credentials (PpTr34Kdh  *kdh,
                       GError    **error)
{
  X509_REVOKED *revoked = NULL;

  if (!pp_tr34_check_cert (kdh->cert, "KDH certificate", error))
    return FALSE;
  if (kdh->crl == NULL)
    return TRUE;
  if (!pp_tr34_check_crl (kdh->crl, "KDH CRL", error))
    return FALSE;
  if (X509_NAME_cmp (X509_CRL_get_issuer (kdh->crl), X509_get_issuer_name (kdh->cert)) == 0 &&
      X509_CRL_get0_by_cert (kdh->crl, &revoked, kdh->cert) == 1)
    {
      g_set_error_literal (error, PP_TR34_ERROR, PP_TR34_ERROR_KDH_REVOKED,
                           "The KDH certificate is revoked by the CRL it would send: "
                           "no token is signed with it");
      return FALSE;
    }
  return TRUE;
}

/* ContentInfo { signedData, SignedData { ... one SignerInfo ... } } over
 * @econtent with contentType, messageDigest and @extra attributes. */
static GBytes *
build_signed (PpTr34Kdh     *kdh,
              const guint8  *content_oid,
              gsize          content_oid_len,
              const guint8  *econtent,
              gsize          econtent_len,
              GPtrArray     *extra,
              GError       **error)
{
  g_autoptr(GPtrArray) attrs = g_ptr_array_new_with_free_func ((GDestroyNotify) g_byte_array_unref);
  g_autoptr(GByteArray) attrs_value = g_byte_array_new ();
  g_autoptr(GByteArray) to_sign = g_byte_array_new ();
  g_autoptr(GByteArray) oid_tlv = g_byte_array_new ();
  g_autoptr(GByteArray) si = g_byte_array_new ();
  g_autoptr(GByteArray) sis = g_byte_array_new ();
  g_autoptr(GByteArray) sd = g_byte_array_new ();
  g_autoptr(GByteArray) digests = g_byte_array_new ();
  g_autoptr(GByteArray) encap = g_byte_array_new ();
  g_autoptr(GByteArray) octets = g_byte_array_new ();
  g_autoptr(GByteArray) certs = g_byte_array_new ();
  g_autoptr(GByteArray) crls = g_byte_array_new ();
  g_autoptr(GByteArray) sd_seq = g_byte_array_new ();
  g_autoptr(GByteArray) ci = g_byte_array_new ();
  g_autoptr(GByteArray) out = g_byte_array_new ();
  g_autoptr(GByteArray) ias = pp_tr34_encode_ias (kdh->cert);
  g_autoptr(GBytes) signature = NULL;
  guint8 digest[32];
  unsigned int dlen = 0;

  if (!check_own_credentials (kdh, error))
    return NULL;
  if (ias->len == 0)
    {
      g_set_error_literal (error, PP_TR34_ERROR, PP_TR34_ERROR_INVALID_ARGUMENT,
                           "KDH certificate cannot be encoded");
      return NULL;
    }
  if (EVP_Digest (econtent, econtent_len, digest, &dlen, EVP_sha256 (), NULL) != 1)
    {
      g_set_error_literal (error, PP_TR34_ERROR, PP_TR34_ERROR_CRYPTO, "SHA-256 failed");
      return NULL;
    }

  pp_der_put_oid (oid_tlv, content_oid, content_oid_len);
  g_ptr_array_add (attrs, make_attr (PP_OID (content_type), PP_DER_OID,
                                     content_oid, content_oid_len));
  g_ptr_array_add (attrs, make_attr (PP_OID (message_digest), PP_DER_OCTET_STRING,
                                     digest, sizeof digest));
  for (guint i = 0; extra != NULL && i < extra->len; i++)
    g_ptr_array_add (attrs, g_byte_array_ref (g_ptr_array_index (extra, i)));
  pp_tr34_attrs_sort (attrs);
  for (guint i = 0; i < attrs->len; i++)
    {
      GByteArray *a = g_ptr_array_index (attrs, i);
      pp_der_put_raw (attrs_value, a->data, a->len);
    }

  pp_der_put_array (to_sign, PP_DER_SET, attrs_value);
  if (!kdh->sign (kdh->sign_data, to_sign->data, to_sign->len, &signature, error))
    return NULL;
  if (signature == NULL || g_bytes_get_size (signature) == 0)
    {
      g_set_error_literal (error, PP_TR34_ERROR, PP_TR34_ERROR_CRYPTO,
                           "The signer returned no signature");
      return NULL;
    }
  /* A key that does not belong to the certificate (a wrong PKCS#11 object,
   * say) would only show up as a refusal on the terminal: catch it here. */
  if (!check_own_signature (kdh->cert, to_sign->data, to_sign->len, signature))
    {
      g_set_error_literal (error, PP_TR34_ERROR, PP_TR34_ERROR_INVALID_ARGUMENT,
                           "The KDH signing key does not match the KDH certificate");
      return NULL;
    }

  pp_der_put_small_int (si, 1);
  pp_der_put_raw (si, ias->data, ias->len);
  pp_der_put_algorithm (si, PP_OID (sha256), FALSE);
  pp_der_put_array (si, PP_DER_CTX0, attrs_value);
  pp_der_put_algorithm (si, PP_OID (rsa_encryption), TRUE);
  pp_der_put (si, PP_DER_OCTET_STRING, g_bytes_get_data (signature, NULL),
              g_bytes_get_size (signature));
  pp_der_put_array (sis, PP_DER_SEQUENCE, si);

  pp_der_put_algorithm (digests, PP_OID (sha256), FALSE);
  pp_der_put (octets, PP_DER_OCTET_STRING, econtent, econtent_len);
  pp_der_put_raw (encap, oid_tlv->data, oid_tlv->len);
  pp_der_put_array (encap, PP_DER_CTX0, octets);

  /* RFC 5652 5.1: version 3 when the content is not id-data; TR-34's
   * layouts keep 1. */
  pp_der_put_small_int (sd, kdh->profile == PP_TR34_PROFILE_STRICT &&
                            !(content_oid_len == sizeof pp_oid_data &&
                              memcmp (content_oid, pp_oid_data, content_oid_len) == 0) ? 3 : 1);
  pp_der_put_array (sd, PP_DER_SET, digests);
  pp_der_put_array (sd, PP_DER_SEQUENCE, encap);
  if (include_cert (kdh))
    {
      if (!put_x509 (certs, kdh->cert))
        goto encode_failed;
      pp_der_put_array (sd, PP_DER_CTX0, certs);
    }
  if (kdh->crl != NULL)
    {
      if (!put_crl (crls, kdh->crl))
        goto encode_failed;
      pp_der_put_array (sd, PP_DER_CTX1, crls);
    }
  pp_der_put_array (sd, PP_DER_SET, sis);

  pp_der_put_array (sd_seq, PP_DER_SEQUENCE, sd);
  pp_der_put_oid (ci, PP_OID (signed_data));
  pp_der_put_array (ci, PP_DER_CTX0, sd_seq);
  pp_der_put_array (out, PP_DER_SEQUENCE, ci);
  return g_bytes_new (out->data, out->len);

encode_failed:
  g_set_error_literal (error, PP_TR34_ERROR, PP_TR34_ERROR_INVALID_ARGUMENT,
                       "Certificate or CRL cannot be encoded");
  return NULL;
}

GBytes *
pp_tr34_kdh_build_credential_token (PpTr34Kdh  *kdh,
                                    GError    **error)
{
  g_autoptr(GByteArray) sd = g_byte_array_new ();
  g_autoptr(GByteArray) encap = g_byte_array_new ();
  g_autoptr(GByteArray) empty = g_byte_array_new ();
  g_autoptr(GByteArray) certs = g_byte_array_new ();
  g_autoptr(GByteArray) crls = g_byte_array_new ();
  g_autoptr(GByteArray) sd_seq = g_byte_array_new ();
  g_autoptr(GByteArray) ci = g_byte_array_new ();
  g_autoptr(GByteArray) out = g_byte_array_new ();

  g_return_val_if_fail (kdh != NULL, NULL);

  if (!check_own_credentials (kdh, error))
    return NULL;
  pp_der_put (empty, PP_DER_OCTET_STRING, NULL, 0);
  pp_der_put_oid (encap, PP_OID (data));
  pp_der_put_array (encap, PP_DER_CTX0, empty);

  pp_der_put_small_int (sd, 1);
  pp_der_put (sd, PP_DER_SET, NULL, 0);
  pp_der_put_array (sd, PP_DER_SEQUENCE, encap);
  if (!put_x509 (certs, kdh->cert) ||
      (kdh->crl != NULL && !put_crl (crls, kdh->crl)))
    {
      g_set_error_literal (error, PP_TR34_ERROR, PP_TR34_ERROR_INVALID_ARGUMENT,
                           "Certificate or CRL cannot be encoded");
      return NULL;
    }
  pp_der_put_array (sd, PP_DER_CTX0, certs);
  /* CMS order (certificates, crls, signerInfos), unlike Annex B's B.6. */
  if (kdh->crl != NULL)
    pp_der_put_array (sd, PP_DER_CTX1, crls);
  pp_der_put (sd, PP_DER_SET, NULL, 0);

  pp_der_put_array (sd_seq, PP_DER_SEQUENCE, sd);
  pp_der_put_oid (ci, PP_OID (signed_data));
  pp_der_put_array (ci, PP_DER_CTX0, sd_seq);
  pp_der_put_array (out, PP_DER_SEQUENCE, ci);
  return g_bytes_new (out->data, out->len);
}

static gboolean
check_header (const char  *header,
              GError     **error)
{
  gsize len = header != NULL ? strlen (header) : 0;

  if (len < 16)
    {
      g_set_error_literal (error, PP_TR34_ERROR, PP_TR34_ERROR_INVALID_ARGUMENT,
                           "The key block header must be at least 16 characters");
      return FALSE;
    }
  for (gsize i = 0; i < len; i++)
    if (!g_ascii_isprint (header[i]))
      {
        g_set_error_literal (error, PP_TR34_ERROR, PP_TR34_ERROR_INVALID_ARGUMENT,
                             "The key block header must be printable text");
        return FALSE;
      }
  return TRUE;
}

/* The KRD derives the KCV from the header's algorithm (byte 8); a key that
 * does not fit would only fail on the terminal. */
static gboolean
check_key_fits_header (gsize        len,
                       const char  *header,
                       GError     **error)
{
  gboolean ok;

  switch (header[7])
    {
    case 'A':
      ok = len == 16 || len == 24 || len == 32;
      break;
    case 'T':
    case 'D':
      ok = len == 16 || len == 24;
      break;
    default:
      ok = len > 0;
      break;
    }
  if (!ok)
    g_set_error (error, PP_TR34_ERROR, PP_TR34_ERROR_INVALID_ARGUMENT,
                 "A %" G_GSIZE_FORMAT "-byte key does not fit key block algorithm '%c'",
                 len, header[7]);
  return ok;
}

/* The ephemeral key is sealed to this certificate, so it must be a KRD's:
 * an end-entity RSA key of at least 2048 bits (TR-34's minimum) allowed
 * to encipher keys. The chain is the caller's business (checked at bind,
 * from CT_KRD); this keeps a CA or signing certificate picked by mistake
 * from receiving a key. */
static gboolean
check_krd_cert (X509    *krd_cert,
                GError **error)
{
  EVP_PKEY *pub = X509_get0_pubkey (krd_cert);

  if (!pp_tr34_check_cert (krd_cert, "KRD certificate", error))
    return FALSE;
  if (pub == NULL || EVP_PKEY_get_base_id (pub) != EVP_PKEY_RSA || EVP_PKEY_get_bits (pub) < 2048)
    {
      g_set_error_literal (error, PP_TR34_ERROR, PP_TR34_ERROR_INVALID_ARGUMENT,
                           "The KRD certificate does not hold an RSA key of at least 2048 bits");
      return FALSE;
    }
  if (X509_check_ca (krd_cert) != 0 ||
      ((X509_get_extension_flags (krd_cert) & EXFLAG_KUSAGE) &&
       !(X509_get_key_usage (krd_cert) & KU_KEY_ENCIPHERMENT)))
    {
      g_set_error_literal (error, PP_TR34_ERROR, PP_TR34_ERROR_INVALID_ARGUMENT,
                           "The KRD certificate is not an end-entity key-encipherment certificate");
      return FALSE;
    }
  return TRUE;
}

static GByteArray *
oaep_encrypt (X509          *krd_cert,
              const guint8  *data,
              gsize          len,
              GError       **error)
{
  EVP_PKEY *pub = X509_get0_pubkey (krd_cert);
  g_autoptr(EVP_PKEY_CTX) ctx = NULL;
  g_autoptr(GByteArray) out = g_byte_array_new ();
  size_t out_len = 0;

  if (pub == NULL || EVP_PKEY_get_base_id (pub) != EVP_PKEY_RSA)
    {
      g_set_error_literal (error, PP_TR34_ERROR, PP_TR34_ERROR_INVALID_ARGUMENT,
                           "The KRD certificate does not hold an RSA key");
      return NULL;
    }
  ctx = EVP_PKEY_CTX_new (pub, NULL);
  if (ctx == NULL || EVP_PKEY_encrypt_init (ctx) != 1 ||
      EVP_PKEY_CTX_set_rsa_padding (ctx, RSA_PKCS1_OAEP_PADDING) != 1 ||
      EVP_PKEY_CTX_set_rsa_oaep_md (ctx, EVP_sha256 ()) != 1 ||
      EVP_PKEY_CTX_set_rsa_mgf1_md (ctx, EVP_sha256 ()) != 1 ||
      EVP_PKEY_encrypt (ctx, NULL, &out_len, data, len) != 1)
    goto failed;
  g_byte_array_set_size (out, out_len);
  if (EVP_PKEY_encrypt (ctx, out->data, &out_len, data, len) != 1)
    goto failed;
  g_byte_array_set_size (out, out_len);
  return g_steal_pointer (&out);

failed:
  g_set_error_literal (error, PP_TR34_ERROR, PP_TR34_ERROR_CRYPTO,
                       "RSA-OAEP encryption to the KRD failed");
  return NULL;
}

GBytes *
pp_tr34_kdh_build_key_token (PpTr34Kdh            *kdh,
                             X509                 *krd_cert,
                             const PpSecureBuffer *key,
                             const char           *header,
                             PpTr34Ephemeral       ephemeral,
                             GBytes               *nonce,
                             GDateTime            *signing_time,
                             GError              **error)
{
  g_autoptr(GByteArray) kdh_ias = NULL;
  g_autoptr(GByteArray) krd_ias = NULL;
  g_autoptr(GByteArray) block_inner = NULL;
  g_autoptr(GByteArray) hdr_set = g_byte_array_new ();
  g_autoptr(GByteArray) hdr_attr = g_byte_array_new ();
  g_autoptr(GByteArray) hdr_seq = g_byte_array_new ();
  g_autoptr(GByteArray) ciphertext = NULL;
  g_autoptr(GByteArray) enc_key = NULL;
  g_autoptr(GByteArray) envelope = NULL;
  g_autoptr(GPtrArray) extra = g_ptr_array_new_with_free_func ((GDestroyNotify) g_byte_array_unref);
  g_autoptr(PpSecureBuffer) ke = NULL;
  g_autoptr(PpSecureBuffer) block = NULL;
  g_autoptr(GDateTime) now = NULL;
  GByteArray *block_seq = NULL;
  guint8 iv[16];
  gsize ke_len = pp_tr34_ephemeral_key_len (ephemeral);
  gsize iv_len = pp_tr34_ephemeral_iv_len (ephemeral);

  g_return_val_if_fail (kdh != NULL, NULL);
  g_return_val_if_fail (krd_cert != NULL, NULL);
  g_return_val_if_fail (key != NULL, NULL);

  if (!check_header (header, error))
    return NULL;
  if (!check_key_fits_header (pp_secure_buffer_get_len (key), header, error))
    return NULL;
  if (!check_krd_cert (krd_cert, error))
    return NULL;
  if (nonce != NULL && (g_bytes_get_size (nonce) == 0 || g_bytes_get_size (nonce) > 64))
    {
      g_set_error_literal (error, PP_TR34_ERROR, PP_TR34_ERROR_INVALID_ARGUMENT,
                           "The KRD nonce must be 1 to 64 bytes");
      return NULL;
    }

  /* The key block: SEQUENCE { 1, IAS(KDH), key, { id-data, { header } } }.
   * Only the final contiguous copy lives in a secure buffer; the building
   * arrays that saw the key are wiped. */
  kdh_ias = pp_tr34_encode_ias (kdh->cert);
  /* Sized up front so no reallocation leaves key bytes behind. */
  block_inner = g_byte_array_sized_new (64 + kdh_ias->len + strlen (header) +
                                        pp_secure_buffer_get_len (key));
  pp_der_put (hdr_set, PP_DER_OCTET_STRING, (const guint8 *) header, strlen (header));
  pp_der_put_oid (hdr_seq, PP_OID (data));
  pp_der_put_array (hdr_seq, PP_DER_SET, hdr_set);
  pp_der_put_array (hdr_attr, PP_DER_SEQUENCE, hdr_seq);
  pp_der_put_small_int (block_inner, 1);
  pp_der_put_raw (block_inner, kdh_ias->data, kdh_ias->len);
  pp_der_put (block_inner, PP_DER_OCTET_STRING, pp_secure_buffer_peek (key),
              pp_secure_buffer_get_len (key));
  pp_der_put_raw (block_inner, hdr_attr->data, hdr_attr->len);
  block_seq = g_byte_array_sized_new (block_inner->len + 8);
  pp_der_put_array (block_seq, PP_DER_SEQUENCE, block_inner);
  block = pp_secure_buffer_new_from (block_seq->data, block_seq->len);
  pp_der_array_free_secret (block_seq);
  OPENSSL_cleanse (block_inner->data, block_inner->len);

  ke = pp_secure_buffer_new (ke_len);
  if (RAND_priv_bytes (pp_secure_buffer_get_data (ke), ke_len) != 1 ||
      RAND_bytes (iv, iv_len) != 1)
    {
      g_set_error_literal (error, PP_TR34_ERROR, PP_TR34_ERROR_CRYPTO,
                           "No random numbers for the ephemeral key");
      return NULL;
    }

  ciphertext = pp_tr34_content_encrypt (ephemeral, pp_secure_buffer_peek (ke), ke_len,
                                        iv, iv_len, pp_secure_buffer_peek (block),
                                        pp_secure_buffer_get_len (block), error);
  if (ciphertext == NULL)
    return NULL;
  enc_key = oaep_encrypt (krd_cert, pp_secure_buffer_peek (ke), ke_len, error);
  if (enc_key == NULL)
    return NULL;

  krd_ias = pp_tr34_encode_ias (krd_cert);
  envelope = pp_tr34_envelope_encode (kdh->profile, krd_ias->data, krd_ias->len,
                                      enc_key->data, enc_key->len, ephemeral,
                                      iv, iv_len, ciphertext->data, ciphertext->len);

  if (nonce != NULL)
    g_ptr_array_add (extra, make_attr (PP_OID (random_nonce), PP_DER_OCTET_STRING,
                                       g_bytes_get_data (nonce, NULL),
                                       g_bytes_get_size (nonce)));
  else
    {
      if (signing_time == NULL)
        signing_time = now = g_date_time_new_now_utc ();
      g_ptr_array_add (extra, make_time_attr (signing_time));
    }
  g_ptr_array_add (extra, make_attr (PP_OID (data), PP_DER_OCTET_STRING,
                                     (const guint8 *) header, strlen (header)));

  return build_signed (kdh, PP_OID (enveloped_data), envelope->data, envelope->len,
                       extra, error);
}

static gboolean
check_nonce (GBytes  *nonce,
             GError **error)
{
  if (nonce == NULL || g_bytes_get_size (nonce) == 0 || g_bytes_get_size (nonce) > 64)
    {
      g_set_error_literal (error, PP_TR34_ERROR, PP_TR34_ERROR_INVALID_ARGUMENT,
                           "The KRD nonce must be 1 to 64 bytes");
      return FALSE;
    }
  return TRUE;
}

GBytes *
pp_tr34_kdh_build_unbind_token (PpTr34Kdh  *kdh,
                                X509       *krd_cert,
                                GBytes     *nonce,
                                GError    **error)
{
  g_autoptr(GByteArray) krd_ias = NULL;
  g_autoptr(GPtrArray) extra = g_ptr_array_new_with_free_func ((GDestroyNotify) g_byte_array_unref);

  g_return_val_if_fail (kdh != NULL, NULL);
  g_return_val_if_fail (krd_cert != NULL, NULL);

  if (!check_nonce (nonce, error) ||
      !pp_tr34_check_cert (krd_cert, "KRD certificate", error))
    return NULL;
  krd_ias = pp_tr34_encode_ias (krd_cert);
  g_ptr_array_add (extra, make_attr (PP_OID (random_nonce), PP_DER_OCTET_STRING,
                                     g_bytes_get_data (nonce, NULL), g_bytes_get_size (nonce)));
  return build_signed (kdh, PP_OID (data), krd_ias->data, krd_ias->len, extra, error);
}

GBytes *
pp_tr34_kdh_build_rebind_token (PpTr34Kdh  *kdh,
                                X509       *krd_cert,
                                X509       *new_kdh_cert,
                                GBytes     *nonce,
                                GError    **error)
{
  g_autoptr(GByteArray) krd_ias = NULL;
  g_autoptr(GByteArray) inner = g_byte_array_new ();
  g_autoptr(GByteArray) encap = g_byte_array_new ();
  g_autoptr(GByteArray) octets = g_byte_array_new ();
  g_autoptr(GByteArray) certs = g_byte_array_new ();
  g_autoptr(GByteArray) content = g_byte_array_new ();
  g_autoptr(GPtrArray) extra = g_ptr_array_new_with_free_func ((GDestroyNotify) g_byte_array_unref);

  g_return_val_if_fail (kdh != NULL, NULL);
  g_return_val_if_fail (krd_cert != NULL, NULL);
  g_return_val_if_fail (new_kdh_cert != NULL, NULL);

  if (!check_nonce (nonce, error) ||
      !pp_tr34_check_cert (krd_cert, "KRD certificate", error) ||
      !pp_tr34_check_cert (new_kdh_cert, "New KDH certificate", error))
    return NULL;
  if (!put_x509 (certs, new_kdh_cert))
    {
      g_set_error_literal (error, PP_TR34_ERROR, PP_TR34_ERROR_INVALID_ARGUMENT,
                           "The new KDH certificate cannot be encoded");
      return NULL;
    }

  /* A degenerate SignedData naming the KRD and carrying the new KDH
   * certificate. */
  krd_ias = pp_tr34_encode_ias (krd_cert);
  pp_der_put (octets, PP_DER_OCTET_STRING, krd_ias->data, krd_ias->len);
  pp_der_put_oid (encap, PP_OID (data));
  pp_der_put_array (encap, PP_DER_CTX0, octets);
  pp_der_put_small_int (inner, 1);
  pp_der_put (inner, PP_DER_SET, NULL, 0);
  pp_der_put_array (inner, PP_DER_SEQUENCE, encap);
  pp_der_put_array (inner, PP_DER_CTX0, certs);
  pp_der_put (inner, PP_DER_SET, NULL, 0);
  /* Annex B (B.11) leaves out the SignedData's own SEQUENCE header. */
  if (kdh->profile == PP_TR34_PROFILE_STRICT)
    pp_der_put_array (content, PP_DER_SEQUENCE, inner);
  else
    pp_der_put_raw (content, inner->data, inner->len);

  g_ptr_array_add (extra, make_attr (PP_OID (random_nonce), PP_DER_OCTET_STRING,
                                     g_bytes_get_data (nonce, NULL), g_bytes_get_size (nonce)));
  return build_signed (kdh, PP_OID (signed_data), content->data, content->len, extra, error);
}

GBytes *
pp_tr34_build_random_token (GBytes *nonce)
{
  g_autoptr(GByteArray) inner = g_byte_array_new ();
  g_autoptr(GByteArray) set = g_byte_array_new ();
  g_autoptr(GByteArray) out = g_byte_array_new ();

  g_return_val_if_fail (nonce != NULL, NULL);

  pp_der_put (set, PP_DER_OCTET_STRING, g_bytes_get_data (nonce, NULL), g_bytes_get_size (nonce));
  pp_der_put_oid (inner, PP_OID (random_nonce));
  pp_der_put_array (inner, PP_DER_SET, set);
  pp_der_put_array (out, PP_DER_SEQUENCE, inner);
  return g_bytes_new (out->data, out->len);
}
