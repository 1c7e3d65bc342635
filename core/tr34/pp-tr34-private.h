/* SPDX-License-Identifier: GPL-3.0-or-later
 *
 * pp-tr34-private.h: what the TR-34 files share: a small DER reader and
 * writer (the tokens use layouts d2i_CMS refuses), OIDs, the parsed token
 * and the per-profile EnvelopedData codec. Tests may include it.
 */
#pragma once

#include <glib.h>
#include <openssl/evp.h>
#include <openssl/x509.h>

#include "pp-tr34.h"

G_BEGIN_DECLS

/* ---- DER -------------------------------------------------------------- */

#define PP_DER_INTEGER      0x02
#define PP_DER_BIT_STRING   0x03
#define PP_DER_OCTET_STRING 0x04
#define PP_DER_NULL         0x05
#define PP_DER_OID          0x06
#define PP_DER_UTC_TIME     0x17
#define PP_DER_GEN_TIME     0x18
#define PP_DER_SEQUENCE     0x30
#define PP_DER_SET          0x31
#define PP_DER_CTX0         0xA0
#define PP_DER_CTX1         0xA1
#define PP_DER_CTX2         0xA2
#define PP_DER_CTX0_PRIM    0x80

typedef struct {
  const guint8 *p;
  gsize         len;
} PpDer;

typedef struct {
  guint8        tag;
  const guint8 *raw;     /* tag + length + value */
  gsize         raw_len;
  const guint8 *value;
  gsize         len;
} PpDerTlv;

void     pp_der_init        (PpDer          *cur,
                             const guint8   *p,
                             gsize           len);
gboolean pp_der_at_end      (const PpDer    *cur);
int      pp_der_peek_tag    (const PpDer    *cur);
/* Reads one TLV (strict DER lengths, single-byte tags). */
gboolean pp_der_next        (PpDer          *cur,
                             PpDerTlv       *out,
                             const char     *what,
                             GError        **error);
gboolean pp_der_expect      (PpDer          *cur,
                             guint8          tag,
                             PpDerTlv       *out,
                             const char     *what,
                             GError        **error);
gboolean pp_der_expect_end  (const PpDer    *cur,
                             const char     *what,
                             GError        **error);
void     pp_der_enter       (const PpDerTlv *tlv,
                             PpDer          *inner);
gboolean pp_der_tlv_is_oid  (const PpDerTlv *tlv,
                             const guint8   *oid,
                             gsize           oid_len);
/* Reads SEQUENCE { OID, [NULL] } and returns the OID value; rejects any
 * other parameter. */
gboolean pp_der_read_algorithm_no_params (PpDer      *cur,
                                          PpDerTlv   *out_oid,
                                          const char *what,
                                          GError    **error);
gboolean pp_der_read_small_int (const PpDerTlv *tlv,
                                int            *out);

void     pp_der_put         (GByteArray     *out,
                             guint8          tag,
                             const guint8   *value,
                             gsize           len);
void     pp_der_put_array   (GByteArray     *out,
                             guint8          tag,
                             GByteArray     *value);
void     pp_der_put_raw     (GByteArray     *out,
                             const guint8   *data,
                             gsize           len);
void     pp_der_put_oid     (GByteArray     *out,
                             const guint8   *oid,
                             gsize           len);
void     pp_der_put_small_int (GByteArray   *out,
                               guint8        value);
/* SEQUENCE { OID } or SEQUENCE { OID, NULL }. */
void     pp_der_put_algorithm (GByteArray   *out,
                               const guint8 *oid,
                               gsize         len,
                               gboolean      null_params);
/* Wipes and frees. */
void     pp_der_array_free_secret (GByteArray *array);

/* ---- OIDs (DER value bytes) --------------------------------------- */

#define PP_OID(name) pp_oid_##name, sizeof pp_oid_##name
extern const guint8 pp_oid_data[9];
extern const guint8 pp_oid_signed_data[9];
extern const guint8 pp_oid_enveloped_data[9];
extern const guint8 pp_oid_content_type[9];
extern const guint8 pp_oid_message_digest[9];
extern const guint8 pp_oid_signing_time[9];
extern const guint8 pp_oid_random_nonce[10];
extern const guint8 pp_oid_sha256[9];
extern const guint8 pp_oid_rsa_encryption[9];
extern const guint8 pp_oid_sha256_with_rsa[9];
extern const guint8 pp_oid_rsaes_oaep[9];
extern const guint8 pp_oid_mgf1[9];
extern const guint8 pp_oid_p_specified[9];
extern const guint8 pp_oid_des_ede3_cbc[8];
extern const guint8 pp_oid_aes128_cbc[9];

/* ---- EnvelopedData per profile ------------------------------------ */

typedef struct {
  PpTr34Profile    profile;
  const guint8    *recipient_ias;      /* raw IssuerAndSerialNumber TLV */
  gsize            recipient_ias_len;
  const guint8    *encrypted_key;
  gsize            encrypted_key_len;
  PpTr34Ephemeral  ephemeral;
  const guint8    *iv;
  gsize            iv_len;
  const guint8    *ciphertext;
  gsize            ciphertext_len;
  guint            n_recipients;
} PpTr34Envelope;

/* Points into @der; detects the profile. */
gboolean    pp_tr34_envelope_parse    (const guint8    *der,
                                       gsize            len,
                                       PpTr34Envelope  *out,
                                       GError         **error);
GByteArray *pp_tr34_envelope_encode   (PpTr34Profile    profile,
                                       const guint8    *recipient_ias,
                                       gsize            recipient_ias_len,
                                       const guint8    *encrypted_key,
                                       gsize            encrypted_key_len,
                                       PpTr34Ephemeral  ephemeral,
                                       const guint8    *iv,
                                       gsize            iv_len,
                                       const guint8    *ciphertext,
                                       gsize            ciphertext_len);

/* CBC with PKCS#7 padding under the ephemeral key. */
PpSecureBuffer *pp_tr34_content_decrypt (PpTr34Ephemeral  ephemeral,
                                         const guint8    *key,
                                         gsize            key_len,
                                         const guint8    *iv,
                                         gsize            iv_len,
                                         const guint8    *ciphertext,
                                         gsize            ciphertext_len,
                                         GError         **error);
GByteArray     *pp_tr34_content_encrypt (PpTr34Ephemeral  ephemeral,
                                         const guint8    *key,
                                         gsize            key_len,
                                         const guint8    *iv,
                                         gsize            iv_len,
                                         const guint8    *plaintext,
                                         gsize            plaintext_len,
                                         GError         **error);
gsize           pp_tr34_ephemeral_key_len (PpTr34Ephemeral ephemeral);
gsize           pp_tr34_ephemeral_iv_len  (PpTr34Ephemeral ephemeral);

/* ---- Key block ------------------------------------------------------ */

typedef struct {
  const guint8 *kdh_ias;
  gsize         kdh_ias_len;
  const guint8 *key;
  gsize         key_len;
  const guint8 *header;
  gsize         header_len;
} PpTr34KeyBlock;

gboolean    pp_tr34_key_block_parse   (const guint8    *der,
                                       gsize            len,
                                       PpTr34KeyBlock  *out,
                                       GError         **error);

/* ---- Parsed token --------------------------------------------------- */

struct _PpTr34Token {
  GBytes           *der;
  PpTr34TokenType   type;
  PpTr34Profile     profile;

  /* SignedData */
  int               sd_version;
  PpDerTlv          econtent_type;   /* OID */
  gboolean          has_econtent;
  PpDerTlv          econtent;        /* OCTET STRING value */
  STACK_OF(X509)   *certs;
  X509_CRL         *crl;
  PpDerTlv          crl_tlv;         /* the CRL as on the wire */
  gboolean          signed_;
  PpDerTlv          sid;             /* IssuerAndSerialNumber */
  PpDerTlv          sid_issuer;
  PpDerTlv          sid_serial;
  gboolean          has_signed_attrs;
  PpDerTlv          signed_attrs;    /* the [0] TLV as on the wire */
  PpDerTlv          signature;
  gboolean          sig_alg_with_digest; /* sha256WithRSAEncryption, not rsaEncryption */
  /* Signed attributes */
  PpDerTlv          attr_content_type;
  PpDerTlv          attr_digest;
  GBytes           *nonce;
  GDateTime        *signing_time;
  char             *header;
  gboolean          attrs_sorted;     /* DER SET order on the wire */
  gboolean          cms_order;        /* certificates, crls, signerInfos */

  /* KT_KDH */
  PpTr34Envelope    envelope;
  gboolean          has_envelope;
};

/* The SignedData skeleton without deciding the token type (for the
 * SignedData nested in RBT_KDH). */
PpTr34Token *pp_tr34_token_parse_unclassified (const guint8  *der,
                                               gsize          len,
                                               GError       **error);

/* Decodes (or finds already decoded) the certificate whose complete DER
 * is @der; NULL when it is not exactly one certificate. New reference. */
typedef X509 *(*PpTr34CertDecoder) (gpointer      user_data,
                                    const guint8 *der,
                                    gsize         len);

/* pp_tr34_token_parse() with a certificate decoder: OpenSSL 3.0 spends
 * most of a parse decoding the public key, so the KRD reuses the objects
 * of certificates it has seen byte for byte before. */
PpTr34Token *pp_tr34_token_parse_with_decoder (const guint8       *der,
                                               gsize               len,
                                               PpTr34CertDecoder   decoder,
                                               gpointer            user_data,
                                               GError            **error);

/* Sorts encoded attributes (GByteArray) into DER SET OF order. */
void pp_tr34_attrs_sort (GPtrArray *encoded_attrs);
GDateTime *pp_tr34_parse_time (const PpDerTlv *tlv);
/* Verifies a KDH/CA certificate chain; maps OpenSSL's verdicts onto
 * PP_TR34_ERROR codes. Returns the issuer (new ref) in @out_issuer. */
gboolean pp_tr34_verify_cert (X509            *cert,
                              STACK_OF(X509)  *trusted,
                              STACK_OF(X509)  *untrusted,
                              GDateTime       *at,
                              X509           **out_issuer,
                              GError         **error);
gboolean pp_tr34_sid_matches (const PpTr34Token *token,
                              X509              *cert);
GByteArray *pp_tr34_encode_ias (X509 *cert);

/* RFC 5280 4.1.1.2 / 5.1.1.2 on the DER: the outer signatureAlgorithm is
 * the signed one byte for byte, and every AlgorithmIdentifier has the
 * parameters its algorithm defines. @what names the object in errors
 * ("KDH certificate", "CRL"). */
gboolean pp_tr34_check_cert_der (const guint8  *der,
                                 gsize          len,
                                 const char    *what,
                                 GError       **error);
gboolean pp_tr34_check_crl_der  (const guint8  *der,
                                 gsize          len,
                                 const char    *what,
                                 GError       **error);
gboolean pp_tr34_check_cert     (X509          *cert,
                                 const char    *what,
                                 GError       **error);
gboolean pp_tr34_check_crl      (X509_CRL      *crl,
                                 const char    *what,
                                 GError       **error);

G_END_DECLS
