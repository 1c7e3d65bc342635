/* SPDX-License-Identifier: GPL-3.0-or-later
 *
 * pp-tr34-pkix.c: checks on certificates and CRLs that posprov makes on
 * the DER itself instead of leaving them to whatever the installed
 * OpenSSL happens to tolerate.
 *
 * The outer signatureAlgorithm of a Certificate or CertificateList is not
 * covered by the signature, so a changed byte there passes any signature
 * check. RFC 5280 4.1.1.2 and 5.1.1.2 require it to be the same algorithm
 * identifier as the signed one in the TBS part; posprov requires the same
 * bytes, and parameters exactly as the algorithm's RFC defines them.
 * OpenSSL 3.0 releases have differed on both (3.0.19 let a CRL's outer
 * NULL become an empty OCTET STRING), so this is checked here.
 */
#include "config.h"

#include <string.h>

#include <openssl/crypto.h>

#include "pp-hex.h"
#include "pp-openssl-types.h"
#include "pp-tr34-private.h"

/* What an algorithm's parameters must be. */
typedef enum {
  PARAMS_NULL_OR_ABSENT,   /* RFC 4055 5, RFC 3279 2.2.1: NULL; absent accepted */
  PARAMS_ABSENT,           /* RFC 5758 3.2, RFC 8410 3 */
  PARAMS_SEQUENCE,         /* RFC 4055 3.1: RSASSA-PSS-params */
  PARAMS_NULL,             /* RFC 3279 2.3.1: rsaEncryption keys */
  PARAMS_OID,              /* RFC 5480 2.1.1: namedCurve */
} Params;

typedef struct {
  const char   *name;
  const guint8 *oid;
  gsize         oid_len;
  Params        params;
} Algorithm;

static const guint8 oid_sha1_rsa[]    = { 0x2A, 0x86, 0x48, 0x86, 0xF7, 0x0D, 0x01, 0x01, 0x05 };
static const guint8 oid_sha224_rsa[]  = { 0x2A, 0x86, 0x48, 0x86, 0xF7, 0x0D, 0x01, 0x01, 0x0E };
static const guint8 oid_sha384_rsa[]  = { 0x2A, 0x86, 0x48, 0x86, 0xF7, 0x0D, 0x01, 0x01, 0x0C };
static const guint8 oid_sha512_rsa[]  = { 0x2A, 0x86, 0x48, 0x86, 0xF7, 0x0D, 0x01, 0x01, 0x0D };
static const guint8 oid_rsassa_pss[]  = { 0x2A, 0x86, 0x48, 0x86, 0xF7, 0x0D, 0x01, 0x01, 0x0A };
static const guint8 oid_ecdsa_sha256[] = { 0x2A, 0x86, 0x48, 0xCE, 0x3D, 0x04, 0x03, 0x02 };
static const guint8 oid_ecdsa_sha384[] = { 0x2A, 0x86, 0x48, 0xCE, 0x3D, 0x04, 0x03, 0x03 };
static const guint8 oid_ecdsa_sha512[] = { 0x2A, 0x86, 0x48, 0xCE, 0x3D, 0x04, 0x03, 0x04 };
static const guint8 oid_ed25519[]     = { 0x2B, 0x65, 0x70 };
static const guint8 oid_ec_public[]   = { 0x2A, 0x86, 0x48, 0xCE, 0x3D, 0x02, 0x01 };

#define ALG(name, oid, params) { name, oid, sizeof oid, params }

static const Algorithm signature_algorithms[] = {
  ALG ("sha256WithRSAEncryption", pp_oid_sha256_with_rsa, PARAMS_NULL_OR_ABSENT),
  ALG ("sha384WithRSAEncryption", oid_sha384_rsa, PARAMS_NULL_OR_ABSENT),
  ALG ("sha512WithRSAEncryption", oid_sha512_rsa, PARAMS_NULL_OR_ABSENT),
  ALG ("sha224WithRSAEncryption", oid_sha224_rsa, PARAMS_NULL_OR_ABSENT),
  ALG ("sha1WithRSAEncryption", oid_sha1_rsa, PARAMS_NULL_OR_ABSENT),
  ALG ("RSASSA-PSS", oid_rsassa_pss, PARAMS_SEQUENCE),
  ALG ("ecdsa-with-SHA256", oid_ecdsa_sha256, PARAMS_ABSENT),
  ALG ("ecdsa-with-SHA384", oid_ecdsa_sha384, PARAMS_ABSENT),
  ALG ("ecdsa-with-SHA512", oid_ecdsa_sha512, PARAMS_ABSENT),
  ALG ("Ed25519", oid_ed25519, PARAMS_ABSENT),
};

static const Algorithm key_algorithms[] = {
  ALG ("rsaEncryption", pp_oid_rsa_encryption, PARAMS_NULL),
  ALG ("id-ecPublicKey", oid_ec_public, PARAMS_OID),
  ALG ("Ed25519", oid_ed25519, PARAMS_ABSENT),
};

static const char *
params_rule (Params params)
{
  switch (params)
    {
    case PARAMS_NULL_OR_ABSENT:
      return "NULL or absent (RFC 4055 5)";
    case PARAMS_ABSENT:
      return "absent (RFC 5758 3.2, RFC 8410 3)";
    case PARAMS_SEQUENCE:
      return "RSASSA-PSS-params (RFC 4055 3.1)";
    case PARAMS_NULL:
      return "NULL (RFC 3279 2.3.1)";
    case PARAMS_OID:
      return "a named curve (RFC 5480 2.1.1)";
    default:
      g_assert_not_reached ();
    }
}

static gboolean
fail (GError      **error,
      PpTr34Error   code,
      const char   *what,
      const char   *format,
      ...) G_GNUC_PRINTF (4, 5);

static gboolean
fail (GError      **error,
      PpTr34Error   code,
      const char   *what,
      const char   *format,
      ...)
{
  g_autofree char *message = NULL;
  va_list args;

  va_start (args, format);
  message = g_strdup_vprintf (format, args);
  va_end (args);
  g_set_error (error, PP_TR34_ERROR, code, "%s rejected: %s", what, message);
  return FALSE;
}

/* Checks one AlgorithmIdentifier TLV against @table. */
static gboolean
check_algorithm (const PpDerTlv  *alg,
                 const Algorithm *table,
                 gsize            n_table,
                 PpTr34Error      code,
                 const char      *what,
                 const char      *field,
                 GError         **error)
{
  g_autoptr(GError) local = NULL;
  const Algorithm *known = NULL;
  PpDerTlv oid, param;
  PpDer in;
  gboolean has_param;

  if (alg->tag != PP_DER_SEQUENCE)
    return fail (error, code, what, "%s is not an AlgorithmIdentifier", field);
  pp_der_enter (alg, &in);
  if (!pp_der_expect (&in, PP_DER_OID, &oid, field, &local))
    return fail (error, code, what, "%s", local->message);
  has_param = !pp_der_at_end (&in);
  if (has_param && !pp_der_next (&in, &param, field, &local))
    return fail (error, code, what, "%s", local->message);
  if (!pp_der_at_end (&in))
    return fail (error, code, what, "%s has more than an algorithm and its parameters", field);

  for (gsize i = 0; i < n_table; i++)
    if (pp_der_tlv_is_oid (&oid, table[i].oid, table[i].oid_len))
      known = &table[i];
  if (known == NULL)
    {
      g_autofree char *hex = pp_hex_encode (oid.value, oid.len);

      return fail (error, PP_TR34_ERROR_UNSUPPORTED, what,
                   "%s uses an unsupported algorithm (OID bytes %s)", field, hex);
    }

  switch (known->params)
    {
    case PARAMS_NULL_OR_ABSENT:
      if (!has_param || (param.tag == PP_DER_NULL && param.len == 0))
        return TRUE;
      break;
    case PARAMS_NULL:
      if (has_param && param.tag == PP_DER_NULL && param.len == 0)
        return TRUE;
      break;
    case PARAMS_ABSENT:
      if (!has_param)
        return TRUE;
      break;
    case PARAMS_SEQUENCE:
      if (has_param && param.tag == PP_DER_SEQUENCE)
        return TRUE;
      break;
    case PARAMS_OID:
      if (has_param && param.tag == PP_DER_OID && param.len > 0)
        return TRUE;
      break;
    default:
      g_assert_not_reached ();
    }
  return fail (error, code, what, "the parameters of %s in %s must be %s",
               known->name, field, params_rule (known->params));
}

/* Certificate  ::= SEQUENCE { tbsCertificate, signatureAlgorithm, signatureValue }
 * TBSCertificate ::= SEQUENCE { [0] version OPTIONAL, serialNumber, signature,
 *                              issuer, validity, subject, subjectPublicKeyInfo, ... }
 * CertificateList ::= SEQUENCE { tbsCertList, signatureAlgorithm, signatureValue }
 * TBSCertList ::= SEQUENCE { version OPTIONAL, signature, issuer, ... } */
static gboolean
check_signed (const guint8  *der,
              gsize          len,
              gboolean       is_crl,
              const char    *what,
              GError       **error)
{
  PpTr34Error code = is_crl ? PP_TR34_ERROR_CRL_INVALID : PP_TR34_ERROR_CERT_INVALID;
  const char *rfc = is_crl ? "RFC 5280 5.1.1.2" : "RFC 5280 4.1.1.2";
  g_autoptr(GError) local = NULL;
  PpDerTlv top, tbs, inner_alg, outer_alg, sig, tlv;
  PpDer cur, in;

  pp_der_init (&cur, der, len);
  if (!pp_der_expect (&cur, PP_DER_SEQUENCE, &top, what, &local) ||
      !pp_der_expect_end (&cur, what, &local))
    return fail (error, code, what, "%s", local->message);
  pp_der_enter (&top, &cur);
  if (!pp_der_expect (&cur, PP_DER_SEQUENCE, &tbs, "its signed part", &local) ||
      !pp_der_next (&cur, &outer_alg, "signatureAlgorithm", &local) ||
      !pp_der_expect (&cur, PP_DER_BIT_STRING, &sig, "signatureValue", &local) ||
      !pp_der_expect_end (&cur, "signatureValue", &local))
    return fail (error, code, what, "%s", local->message);

  pp_der_enter (&tbs, &in);
  if (!is_crl)
    {
      if (pp_der_peek_tag (&in) == PP_DER_CTX0 &&
          !pp_der_next (&in, &tlv, "version", &local))
        return fail (error, code, what, "%s", local->message);
      if (!pp_der_expect (&in, PP_DER_INTEGER, &tlv, "serialNumber", &local))
        return fail (error, code, what, "%s", local->message);
    }
  else if (pp_der_peek_tag (&in) == PP_DER_INTEGER &&
           !pp_der_next (&in, &tlv, "version", &local))
    return fail (error, code, what, "%s", local->message);
  if (!pp_der_next (&in, &inner_alg, "signature", &local))
    return fail (error, code, what, "%s", local->message);

  if (!check_algorithm (&inner_alg, signature_algorithms, G_N_ELEMENTS (signature_algorithms),
                        code, what, "the signed signature algorithm", error) ||
      !check_algorithm (&outer_alg, signature_algorithms, G_N_ELEMENTS (signature_algorithms),
                        code, what, "signatureAlgorithm", error))
    return FALSE;
  if (inner_alg.raw_len != outer_alg.raw_len ||
      memcmp (inner_alg.raw, outer_alg.raw, inner_alg.raw_len) != 0)
    return fail (error, code, what,
                 "its signatureAlgorithm differs from the signature algorithm it signs (%s)", rfc);

  if (!is_crl)
    {
      PpDerTlv spki, key_alg;
      PpDer k;

      if (!pp_der_expect (&in, PP_DER_SEQUENCE, &tlv, "issuer", &local) ||
          !pp_der_expect (&in, PP_DER_SEQUENCE, &tlv, "validity", &local) ||
          !pp_der_expect (&in, PP_DER_SEQUENCE, &tlv, "subject", &local) ||
          !pp_der_expect (&in, PP_DER_SEQUENCE, &spki, "subjectPublicKeyInfo", &local))
        return fail (error, code, what, "%s", local->message);
      pp_der_enter (&spki, &k);
      if (!pp_der_next (&k, &key_alg, "subjectPublicKeyInfo", &local))
        return fail (error, code, what, "%s", local->message);
      if (!check_algorithm (&key_alg, key_algorithms, G_N_ELEMENTS (key_algorithms),
                            code, what, "the public key algorithm", error))
        return FALSE;
    }
  return TRUE;
}

gboolean
pp_tr34_check_cert_der (const guint8  *der,
                        gsize          len,
                        const char    *what,
                        GError       **error)
{
  return check_signed (der, len, FALSE, what, error);
}

gboolean
pp_tr34_check_crl_der (const guint8  *der,
                       gsize          len,
                       const char    *what,
                       GError       **error)
{
  return check_signed (der, len, TRUE, what, error);
}

gboolean
pp_tr34_check_cert (X509        *cert,
                    const char  *what,
                    GError     **error)
{
  unsigned char *der = NULL;
  int len = i2d_X509 (cert, &der);
  gboolean ok;

  if (len <= 0)
    return fail (error, PP_TR34_ERROR_CERT_INVALID, what, "it cannot be encoded");
  ok = check_signed (der, len, FALSE, what, error);
  OPENSSL_free (der);
  return ok;
}

gboolean
pp_tr34_check_crl (X509_CRL    *crl,
                   const char  *what,
                   GError     **error)
{
  unsigned char *der = NULL;
  int len = i2d_X509_CRL (crl, &der);
  gboolean ok;

  if (len <= 0)
    return fail (error, PP_TR34_ERROR_CRL_INVALID, what, "it cannot be encoded");
  ok = check_signed (der, len, TRUE, what, error);
  OPENSSL_free (der);
  return ok;
}
