/* SPDX-License-Identifier: GPL-3.0-or-later
 *
 * pp-tr34-profile.c: the encodings TR-34 implementations disagree on.
 *
 * strict   plain CMS EnvelopedData, RFC 4055 RSAES-OAEP-params ([0] hash,
 *          [1] MGF; the empty label is the default and so omitted).
 * x9-2019  the Annex B errata layout: the OAEP parameters as a SEQUENCE of
 *          untagged AlgorithmIdentifiers (SHA-256, MGF1-SHA-256, empty
 *          pSpecified label).
 * x9-2019-printed
 *          as x9-2019, but the ciphertext sits inside the content
 *          encryption AlgorithmIdentifier, as the 2019 body prints
 *          B.2.2.3 (.orig) and B.8/B.9 (.orig) hash it.
 * x9-2012  the 2012 form ("TR-34.2012 non-CMS"): the fields of the
 *          x9-2019-printed EnvelopedData without their SEQUENCE header.
 *          The 2012-dated signed attributes (B.2.2.4, B.2.2.5 .orig) carry
 *          SHA-256 of B.2.2.3.1 .orig without its 30 82 02 55.
 * The receiver detects which one it holds from the shape alone.
 */
#include "config.h"

#include <string.h>

#include <openssl/crypto.h>

#include "pp-openssl-types.h"
#include "pp-tr34-private.h"

G_DEFINE_QUARK (pp-tr34-error-quark, pp_tr34_error)

const char *
pp_tr34_profile_to_string (PpTr34Profile profile)
{
  switch (profile)
    {
    case PP_TR34_PROFILE_STRICT:
      return "strict";
    case PP_TR34_PROFILE_X9_2019:
      return "x9-2019";
    case PP_TR34_PROFILE_X9_2012:
      return "x9-2012";
    case PP_TR34_PROFILE_X9_2019_PRINTED:
      return "x9-2019-printed";
    default:
      return "unknown";
    }
}

gboolean
pp_tr34_profile_from_string (const char     *name,
                             PpTr34Profile  *out_profile,
                             GError        **error)
{
  g_return_val_if_fail (out_profile != NULL, FALSE);

  for (int p = PP_TR34_PROFILE_STRICT; p < PP_TR34_N_PROFILES; p++)
    if (name != NULL && g_ascii_strcasecmp (name, pp_tr34_profile_to_string (p)) == 0)
      {
        *out_profile = p;
        return TRUE;
      }

  g_set_error (error, PP_TR34_ERROR, PP_TR34_ERROR_INVALID_ARGUMENT,
               "Unknown TR-34 profile “%s” (strict, x9-2019, x9-2012 or x9-2019-printed)",
               name != NULL ? name : "");
  return FALSE;
}

const char *
pp_tr34_token_type_to_string (PpTr34TokenType type)
{
  static const char * const names[] = {
    "unknown", "CA credential", "CT_KDH", "CT_KRD", "RT_KRD", "KT_KDH",
    "RBT_KDH", "RBT_CA_UNBIND", "UBT_KDH", "UBT_CA_UNBIND",
  };

  if ((guint) type < G_N_ELEMENTS (names))
    return names[type];
  return "unknown";
}

const char *
pp_tr34_ephemeral_to_string (PpTr34Ephemeral ephemeral)
{
  return ephemeral == PP_TR34_EPHEMERAL_AES128 ? "aes" : "tdes";
}

gsize
pp_tr34_ephemeral_key_len (PpTr34Ephemeral ephemeral)
{
  return ephemeral == PP_TR34_EPHEMERAL_AES128 ? 16 : 24;
}

gsize
pp_tr34_ephemeral_iv_len (PpTr34Ephemeral ephemeral)
{
  return ephemeral == PP_TR34_EPHEMERAL_AES128 ? 16 : 8;
}

static const EVP_CIPHER *
ephemeral_cipher (PpTr34Ephemeral ephemeral)
{
  return ephemeral == PP_TR34_EPHEMERAL_AES128 ? EVP_aes_128_cbc () : EVP_des_ede3_cbc ();
}

static gboolean
malformed (GError     **error,
           const char  *what)
{
  g_set_error (error, PP_TR34_ERROR, PP_TR34_ERROR_MALFORMED,
               "Malformed EnvelopedData: %s", what);
  return FALSE;
}

static gboolean
unsupported (GError     **error,
             const char  *what)
{
  g_set_error (error, PP_TR34_ERROR, PP_TR34_ERROR_UNSUPPORTED,
               "Unsupported EnvelopedData: %s", what);
  return FALSE;
}

/* SEQUENCE { sha256 [, NULL] } */
static gboolean
read_sha256 (PpDer       *cur,
             GError     **error)
{
  PpDerTlv oid;

  if (!pp_der_read_algorithm_no_params (cur, &oid, "OAEP hash", error))
    return FALSE;
  if (!pp_der_tlv_is_oid (&oid, PP_OID (sha256)))
    return unsupported (error, "OAEP hash is not SHA-256");
  return TRUE;
}

/* SEQUENCE { mgf1, SEQUENCE { sha256 [, NULL] } } */
static gboolean
read_mgf (PpDer   *cur,
          GError **error)
{
  PpDerTlv seq, oid;
  PpDer in;

  if (!pp_der_expect (cur, PP_DER_SEQUENCE, &seq, "OAEP MGF", error))
    return FALSE;
  pp_der_enter (&seq, &in);
  if (!pp_der_expect (&in, PP_DER_OID, &oid, "OAEP MGF", error))
    return FALSE;
  if (!pp_der_tlv_is_oid (&oid, PP_OID (mgf1)))
    return unsupported (error, "OAEP mask generation is not MGF1");
  if (!read_sha256 (&in, error))
    return FALSE;
  return pp_der_expect_end (&in, "OAEP MGF", error);
}

/* SEQUENCE { pSpecified, OCTET STRING "" } */
static gboolean
read_label (PpDer   *cur,
            GError **error)
{
  PpDerTlv seq, oid, label;
  PpDer in;

  if (!pp_der_expect (cur, PP_DER_SEQUENCE, &seq, "OAEP label", error))
    return FALSE;
  pp_der_enter (&seq, &in);
  if (!pp_der_expect (&in, PP_DER_OID, &oid, "OAEP label", error) ||
      !pp_der_expect (&in, PP_DER_OCTET_STRING, &label, "OAEP label", error) ||
      !pp_der_expect_end (&in, "OAEP label", error))
    return FALSE;
  if (!pp_der_tlv_is_oid (&oid, PP_OID (p_specified)) || label.len != 0)
    return unsupported (error, "OAEP label is not empty");
  return TRUE;
}

static gboolean
read_oaep_params (PpDer          *cur,
                  PpTr34Profile  *out_profile,
                  GError        **error)
{
  PpDerTlv params, tagged;
  PpDer in, t;

  if (pp_der_at_end (cur))
    return unsupported (error, "RSA-OAEP with SHA-1 defaults");
  if (!pp_der_expect (cur, PP_DER_SEQUENCE, &params, "OAEP parameters", error))
    return FALSE;
  pp_der_enter (&params, &in);

  if (pp_der_peek_tag (&in) == PP_DER_SEQUENCE)
    {
      /* Annex B: untagged hash, MGF and (optional) label. */
      *out_profile = PP_TR34_PROFILE_X9_2019;
      if (!read_sha256 (&in, error) || !read_mgf (&in, error))
        return FALSE;
      if (!pp_der_at_end (&in) && !read_label (&in, error))
        return FALSE;
      return pp_der_expect_end (&in, "OAEP parameters", error);
    }

  *out_profile = PP_TR34_PROFILE_STRICT;
  /* RFC 4055: absent [0]/[1] mean SHA-1, which TR-34 does not allow. */
  if (pp_der_peek_tag (&in) != PP_DER_CTX0)
    return unsupported (error, "OAEP hash defaults to SHA-1");
  if (!pp_der_next (&in, &tagged, "OAEP hash", error))
    return FALSE;
  pp_der_enter (&tagged, &t);
  if (!read_sha256 (&t, error) || !pp_der_expect_end (&t, "OAEP hash", error))
    return FALSE;
  if (pp_der_peek_tag (&in) != PP_DER_CTX1)
    return unsupported (error, "OAEP MGF defaults to MGF1-SHA-1");
  if (!pp_der_next (&in, &tagged, "OAEP MGF", error))
    return FALSE;
  pp_der_enter (&tagged, &t);
  if (!read_mgf (&t, error) || !pp_der_expect_end (&t, "OAEP MGF", error))
    return FALSE;
  if (pp_der_peek_tag (&in) == PP_DER_CTX2)
    {
      if (!pp_der_next (&in, &tagged, "OAEP label", error))
        return FALSE;
      pp_der_enter (&tagged, &t);
      if (!read_label (&t, error) || !pp_der_expect_end (&t, "OAEP label", error))
        return FALSE;
    }
  return pp_der_expect_end (&in, "OAEP parameters", error);
}

gboolean
pp_tr34_envelope_parse (const guint8    *der,
                        gsize            len,
                        PpTr34Envelope  *out,
                        GError         **error)
{
  PpDer top, env, ris, ri, alg, eci, ce;
  PpDerTlv seq, version, set, ri_seq, ri_version, ias, alg_seq, oid, enc_key;
  PpDerTlv eci_seq, ct_type, ce_seq, ce_oid, iv, ct;
  PpTr34Profile oaep_profile = PP_TR34_PROFILE_STRICT;
  gboolean headerless;
  int v;

  memset (out, 0, sizeof *out);
  pp_der_init (&top, der, len);
  /* TR-34 2012 sends the fields without the SEQUENCE around them. */
  headerless = pp_der_peek_tag (&top) == PP_DER_INTEGER;
  if (headerless)
    env = top;
  else
    {
      if (!pp_der_expect (&top, PP_DER_SEQUENCE, &seq, "EnvelopedData", error) ||
          !pp_der_expect_end (&top, "EnvelopedData", error))
        return FALSE;
      pp_der_enter (&seq, &env);
    }

  if (!pp_der_expect (&env, PP_DER_INTEGER, &version, "EnvelopedData version", error))
    return FALSE;
  if (!pp_der_read_small_int (&version, &v) || (v != 0 && v != 2))
    return unsupported (error, "version is neither 0 nor 2");
  if (pp_der_peek_tag (&env) == PP_DER_CTX0)
    return unsupported (error, "originatorInfo present");

  if (!pp_der_expect (&env, PP_DER_SET, &set, "recipientInfos", error))
    return FALSE;
  pp_der_enter (&set, &ris);
  while (!pp_der_at_end (&ris))
    {
      if (!pp_der_expect (&ris, PP_DER_SEQUENCE, &ri_seq, "KeyTransRecipientInfo", error))
        return FALSE;
      out->n_recipients++;
      if (out->n_recipients > 1)
        continue;

      pp_der_enter (&ri_seq, &ri);
      if (!pp_der_expect (&ri, PP_DER_INTEGER, &ri_version, "recipient version", error))
        return FALSE;
      if (!pp_der_read_small_int (&ri_version, &v) || v != 0)
        return unsupported (error, "recipient is not identified by issuer and serial");
      if (!pp_der_expect (&ri, PP_DER_SEQUENCE, &ias, "recipient identifier", error))
        return FALSE;
      if (!pp_der_expect (&ri, PP_DER_SEQUENCE, &alg_seq, "key encryption algorithm", error) ||
          !pp_der_expect (&ri, PP_DER_OCTET_STRING, &enc_key, "encrypted key", error) ||
          !pp_der_expect_end (&ri, "KeyTransRecipientInfo", error))
        return FALSE;
      pp_der_enter (&alg_seq, &alg);
      if (!pp_der_expect (&alg, PP_DER_OID, &oid, "key encryption algorithm", error))
        return FALSE;
      if (!pp_der_tlv_is_oid (&oid, PP_OID (rsaes_oaep)))
        return unsupported (error, "key encryption is not RSAES-OAEP");
      if (!read_oaep_params (&alg, &oaep_profile, error) ||
          !pp_der_expect_end (&alg, "key encryption algorithm", error))
        return FALSE;

      out->recipient_ias = ias.raw;
      out->recipient_ias_len = ias.raw_len;
      out->encrypted_key = enc_key.value;
      out->encrypted_key_len = enc_key.len;
    }
  if (out->n_recipients == 0)
    return malformed (error, "no recipient");

  if (!pp_der_expect (&env, PP_DER_SEQUENCE, &eci_seq, "EncryptedContentInfo", error) ||
      !pp_der_expect_end (&env, "EnvelopedData", error))
    return FALSE;
  pp_der_enter (&eci_seq, &eci);
  if (!pp_der_expect (&eci, PP_DER_OID, &ct_type, "content type", error) ||
      !pp_der_expect (&eci, PP_DER_SEQUENCE, &ce_seq, "content encryption algorithm", error))
    return FALSE;
  if (!pp_der_tlv_is_oid (&ct_type, PP_OID (data)))
    return unsupported (error, "encrypted content is not id-data");

  pp_der_enter (&ce_seq, &ce);
  if (!pp_der_expect (&ce, PP_DER_OID, &ce_oid, "content encryption algorithm", error) ||
      !pp_der_expect (&ce, PP_DER_OCTET_STRING, &iv, "content encryption IV", error))
    return FALSE;
  if (pp_der_tlv_is_oid (&ce_oid, PP_OID (des_ede3_cbc)))
    out->ephemeral = PP_TR34_EPHEMERAL_TDES;
  else if (pp_der_tlv_is_oid (&ce_oid, PP_OID (aes128_cbc)))
    out->ephemeral = PP_TR34_EPHEMERAL_AES128;
  else
    return unsupported (error, "content encryption is neither TDES-CBC nor AES-128-CBC");

  if (!pp_der_at_end (&ce))
    {
      /* 2012 layout: the ciphertext inside the algorithm SEQUENCE. */
      if (!pp_der_expect (&ce, PP_DER_CTX0_PRIM, &ct, "encrypted content", error) ||
          !pp_der_expect_end (&ce, "content encryption algorithm", error) ||
          !pp_der_expect_end (&eci, "EncryptedContentInfo", error))
        return FALSE;
      out->profile = headerless ? PP_TR34_PROFILE_X9_2012 : PP_TR34_PROFILE_X9_2019_PRINTED;
      if (oaep_profile != PP_TR34_PROFILE_X9_2019)
        return malformed (error, "nested ciphertext with RFC 4055 OAEP parameters");
    }
  else
    {
      if (!pp_der_expect (&eci, PP_DER_CTX0_PRIM, &ct, "encrypted content", error) ||
          !pp_der_expect_end (&eci, "EncryptedContentInfo", error))
        return FALSE;
      if (headerless)
        return malformed (error, "the 2012 form without a SEQUENCE header must nest the "
                                 "ciphertext in the content encryption algorithm");
      out->profile = oaep_profile;
    }

  out->iv = iv.value;
  out->iv_len = iv.len;
  out->ciphertext = ct.value;
  out->ciphertext_len = ct.len;
  return TRUE;
}

static void
put_oaep_algorithm (GByteArray    *out,
                    PpTr34Profile  profile)
{
  g_autoptr(GByteArray) alg = g_byte_array_new ();
  g_autoptr(GByteArray) params = g_byte_array_new ();
  g_autoptr(GByteArray) mgf = g_byte_array_new ();
  g_autoptr(GByteArray) hash = g_byte_array_new ();

  if (profile == PP_TR34_PROFILE_STRICT)
    {
      g_autoptr(GByteArray) mgf_inner = g_byte_array_new ();

      pp_der_put_algorithm (hash, PP_OID (sha256), TRUE);
      pp_der_put_array (params, PP_DER_CTX0, hash);
      pp_der_put_oid (mgf_inner, PP_OID (mgf1));
      pp_der_put_algorithm (mgf_inner, PP_OID (sha256), TRUE);
      pp_der_put_array (mgf, PP_DER_SEQUENCE, mgf_inner);
      pp_der_put_array (params, PP_DER_CTX1, mgf);
    }
  else
    {
      /* Byte for byte as Annex B writes them. */
      g_autoptr(GByteArray) mgf_inner = g_byte_array_new ();
      g_autoptr(GByteArray) label_inner = g_byte_array_new ();

      pp_der_put_algorithm (params, PP_OID (sha256), TRUE);
      pp_der_put_oid (mgf_inner, PP_OID (mgf1));
      pp_der_put_algorithm (mgf_inner, PP_OID (sha256), FALSE);
      pp_der_put_array (params, PP_DER_SEQUENCE, mgf_inner);
      pp_der_put_oid (label_inner, PP_OID (p_specified));
      pp_der_put (label_inner, PP_DER_OCTET_STRING, NULL, 0);
      pp_der_put_array (params, PP_DER_SEQUENCE, label_inner);
    }

  pp_der_put_oid (alg, PP_OID (rsaes_oaep));
  pp_der_put_array (alg, PP_DER_SEQUENCE, params);
  pp_der_put_array (out, PP_DER_SEQUENCE, alg);
}

GByteArray *
pp_tr34_envelope_encode (PpTr34Profile    profile,
                         const guint8    *recipient_ias,
                         gsize            recipient_ias_len,
                         const guint8    *encrypted_key,
                         gsize            encrypted_key_len,
                         PpTr34Ephemeral  ephemeral,
                         const guint8    *iv,
                         gsize            iv_len,
                         const guint8    *ciphertext,
                         gsize            ciphertext_len)
{
  GByteArray *out = g_byte_array_new ();
  g_autoptr(GByteArray) env = g_byte_array_new ();
  g_autoptr(GByteArray) ri = g_byte_array_new ();
  g_autoptr(GByteArray) ris = g_byte_array_new ();
  g_autoptr(GByteArray) eci = g_byte_array_new ();
  g_autoptr(GByteArray) ce = g_byte_array_new ();
  gboolean nested = profile == PP_TR34_PROFILE_X9_2012 ||
                    profile == PP_TR34_PROFILE_X9_2019_PRINTED;

  pp_der_put_small_int (ri, 0);
  pp_der_put_raw (ri, recipient_ias, recipient_ias_len);
  put_oaep_algorithm (ri, profile);
  pp_der_put (ri, PP_DER_OCTET_STRING, encrypted_key, encrypted_key_len);
  pp_der_put_array (ris, PP_DER_SEQUENCE, ri);

  if (ephemeral == PP_TR34_EPHEMERAL_AES128)
    pp_der_put_oid (ce, PP_OID (aes128_cbc));
  else
    pp_der_put_oid (ce, PP_OID (des_ede3_cbc));
  pp_der_put (ce, PP_DER_OCTET_STRING, iv, iv_len);
  if (nested)
    pp_der_put (ce, PP_DER_CTX0_PRIM, ciphertext, ciphertext_len);

  pp_der_put_oid (eci, PP_OID (data));
  pp_der_put_array (eci, PP_DER_SEQUENCE, ce);
  if (!nested)
    pp_der_put (eci, PP_DER_CTX0_PRIM, ciphertext, ciphertext_len);

  pp_der_put_small_int (env, 0);
  pp_der_put_array (env, PP_DER_SET, ris);
  pp_der_put_array (env, PP_DER_SEQUENCE, eci);
  if (profile == PP_TR34_PROFILE_X9_2012)
    pp_der_put_raw (out, env->data, env->len);
  else
    pp_der_put_array (out, PP_DER_SEQUENCE, env);
  return out;
}

PpSecureBuffer *
pp_tr34_content_decrypt (PpTr34Ephemeral  ephemeral,
                         const guint8    *key,
                         gsize            key_len,
                         const guint8    *iv,
                         gsize            iv_len,
                         const guint8    *ciphertext,
                         gsize            ciphertext_len,
                         GError         **error)
{
  g_autoptr(EVP_CIPHER_CTX) ctx = EVP_CIPHER_CTX_new ();
  g_autoptr(PpSecureBuffer) plain = NULL;
  gsize block = ephemeral == PP_TR34_EPHEMERAL_AES128 ? 16 : 8;
  int n1 = 0, n2 = 0;

  if (key_len != pp_tr34_ephemeral_key_len (ephemeral) ||
      iv_len != pp_tr34_ephemeral_iv_len (ephemeral) ||
      ciphertext_len == 0 || ciphertext_len % block != 0 || ciphertext_len > G_MAXINT / 2)
    {
      g_set_error (error, PP_TR34_ERROR, PP_TR34_ERROR_DECRYPT_FAILED,
                   "Ephemeral key, IV or ciphertext has the wrong length");
      return NULL;
    }

  plain = pp_secure_buffer_new (ciphertext_len + block);
  if (ctx == NULL ||
      EVP_DecryptInit_ex (ctx, ephemeral_cipher (ephemeral), NULL, key, iv) != 1 ||
      EVP_DecryptUpdate (ctx, pp_secure_buffer_get_data (plain), &n1,
                         ciphertext, (int) ciphertext_len) != 1 ||
      EVP_DecryptFinal_ex (ctx, pp_secure_buffer_get_data (plain) + n1, &n2) != 1)
    {
      g_set_error (error, PP_TR34_ERROR, PP_TR34_ERROR_DECRYPT_FAILED,
                   "The key block does not decrypt under the ephemeral key (bad padding)");
      return NULL;
    }
  pp_secure_buffer_truncate (plain, n1 + n2);
  return g_steal_pointer (&plain);
}

GByteArray *
pp_tr34_content_encrypt (PpTr34Ephemeral  ephemeral,
                         const guint8    *key,
                         gsize            key_len,
                         const guint8    *iv,
                         gsize            iv_len,
                         const guint8    *plaintext,
                         gsize            plaintext_len,
                         GError         **error)
{
  g_autoptr(EVP_CIPHER_CTX) ctx = EVP_CIPHER_CTX_new ();
  g_autoptr(GByteArray) out = g_byte_array_new ();
  int n1 = 0, n2 = 0;

  g_byte_array_set_size (out, plaintext_len + 16);
  if (ctx == NULL || plaintext_len > G_MAXINT / 2 ||
      key_len != pp_tr34_ephemeral_key_len (ephemeral) ||
      iv_len != pp_tr34_ephemeral_iv_len (ephemeral) ||
      EVP_EncryptInit_ex (ctx, ephemeral_cipher (ephemeral), NULL, key, iv) != 1 ||
      EVP_EncryptUpdate (ctx, out->data, &n1, plaintext, (int) plaintext_len) != 1 ||
      EVP_EncryptFinal_ex (ctx, out->data + n1, &n2) != 1)
    {
      g_set_error (error, PP_TR34_ERROR, PP_TR34_ERROR_CRYPTO,
                   "Encrypting the key block failed");
      return NULL;
    }
  g_byte_array_set_size (out, n1 + n2);
  return g_steal_pointer (&out);
}
