/* SPDX-License-Identifier: GPL-3.0-or-later
 *
 * test-tr34-pkix.c: what TR-34 tokens from other implementations send and
 * what must be refused about their certificates and CRLs, checked on the
 * DER by posprov whatever the installed OpenSSL tolerates:
 *  - RFC 5280 4.1.1.2 / 5.1.1.2: the unsigned outer signatureAlgorithm of a
 *    certificate or CRL is the signed one, with the parameters its RFC
 *    defines (RFC 4055 5: NULL or absent for sha256WithRSAEncryption);
 *  - RFC 5280 6.3.3 (f): a CRL's issuer must hold cRLSign;
 *  - RFC 5652 5.1: an empty crls SET (A1 00) is allowed;
 *  - RFC 3370 3.2 / RFC 5754 3.2: SignerInfo signatureAlgorithm may be
 *    rsaEncryption or sha256WithRSAEncryption.
 */
#include "config.h"

#include <string.h>

#include <glib/gstdio.h>

#include "pp-openssl-types.h"
#include "pp-test-util.h"
#include "pp-tr34-private.h"
#include "tr34-test-pki.h"

#define TMK_HEX "0123456789ABCDEFFEDCBA9876543210"
#define HEADER  "A0256K0TB00E0000"

static PpTr34Kdh *
make_kdh (PpTr34Profile profile,
          X509_CRL     *crl)
{
  const PpTestPki *pki = pp_test_pki_get ();
  PpTr34Kdh *kdh;

  EVP_PKEY_up_ref (pki->kdh_key);
  kdh = pp_tr34_kdh_new (pki->kdh, pp_tr34_sign_with_pkey, pki->kdh_key,
                         (GDestroyNotify) EVP_PKEY_free);
  pp_tr34_kdh_set_crl (kdh, crl);
  pp_tr34_kdh_set_profile (kdh, profile);
  return kdh;
}

static PpTr34Krd *
make_krd (X509 *ca_kdh)
{
  const PpTestPki *pki = pp_test_pki_get ();
  PpTr34Krd *krd = pp_tr34_krd_new (pki->krd, pki->krd_key);

  pp_tr34_krd_add_trusted (krd, pki->root);
  pp_tr34_krd_add_trusted (krd, ca_kdh);
  pp_tr34_krd_set_kdh_cert (krd, pki->kdh);
  return krd;
}

static GBytes *
key_token (PpTr34Kdh      *kdh,
           PpTr34KrdState *state)
{
  const PpTestPki *pki = pp_test_pki_get ();
  g_autoptr(PpSecureBuffer) key = pp_secure_buffer_new_from_hex (TMK_HEX, NULL);
  g_autoptr(GBytes) nonce = pp_tr34_krd_state_issue_nonce (state, 16);
  g_autoptr(GError) error = NULL;
  GBytes *token;

  token = pp_tr34_kdh_build_key_token (kdh, pki->krd, key, HEADER, PP_TR34_EPHEMERAL_AES128,
                                       nonce, NULL, &error);
  g_assert_no_error (error);
  return token;
}

static GBytes *
der_of_crl (X509_CRL *crl)
{
  unsigned char *der = NULL;
  int len = i2d_X509_CRL (crl, &der);
  GBytes *out;

  g_assert_cmpint (len, >, 0);
  out = g_bytes_new (der, len);
  OPENSSL_free (der);
  return out;
}

static GBytes *
der_of_cert (X509 *cert)
{
  unsigned char *der = NULL;
  int len = i2d_X509 (cert, &der);
  GBytes *out;

  g_assert_cmpint (len, >, 0);
  out = g_bytes_new (der, len);
  OPENSSL_free (der);
  return out;
}

/* Offset of the outer signatureAlgorithm's TLV in a Certificate or
 * CertificateList. */
static gsize
outer_algorithm_offset (GBytes *der)
{
  const guint8 *p = g_bytes_get_data (der, NULL);
  PpDer cur, in;
  PpDerTlv top, tbs, alg;

  pp_der_init (&cur, p, g_bytes_get_size (der));
  g_assert_true (pp_der_expect (&cur, PP_DER_SEQUENCE, &top, "top", NULL));
  pp_der_enter (&top, &in);
  g_assert_true (pp_der_expect (&in, PP_DER_SEQUENCE, &tbs, "tbs", NULL));
  g_assert_true (pp_der_expect (&in, PP_DER_SEQUENCE, &alg, "alg", NULL));
  return alg.raw - p;
}

/* @der with byte @offset from the outer AlgorithmIdentifier's start
 * xor'ed with @flip. */
static GBytes *
flip_outer (GBytes *der,
            gsize   offset,
            guint8  flip)
{
  gsize len = g_bytes_get_size (der);
  guint8 *copy = g_memdup2 (g_bytes_get_data (der, NULL), len);

  copy[outer_algorithm_offset (der) + offset] ^= flip;
  return g_bytes_new_take (copy, len);
}

/* @token with the bytes @from (which it must hold once) replaced by @to of
 * the same length. */
static GBytes *
splice (GBytes *token,
        GBytes *from,
        GBytes *to)
{
  gsize len = g_bytes_get_size (token), n = g_bytes_get_size (from);
  guint8 *copy = g_memdup2 (g_bytes_get_data (token, NULL), len);
  guint found = 0;

  g_assert_cmpuint (n, ==, g_bytes_get_size (to));
  for (gsize i = 0; i + n <= len; i++)
    if (memcmp (copy + i, g_bytes_get_data (from, NULL), n) == 0)
      {
        memcpy (copy + i, g_bytes_get_data (to, NULL), n);
        found++;
      }
  g_assert_cmpuint (found, ==, 1);
  return g_bytes_new_take (copy, len);
}

static void
assert_refused (PpTr34Krd      *krd,
                PpTr34KrdState *state,
                GBytes         *token,
                int             code,
                const char     *needle)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(PpTr34ReceivedKey) received =
    pp_tr34_krd_receive_key_token (krd, state, g_bytes_get_data (token, NULL),
                                   g_bytes_get_size (token), &error);

  g_assert_null (received);
  g_assert_error (error, PP_TR34_ERROR, code);
  g_test_message ("refused: %s", error->message);
  if (strstr (error->message, needle) == NULL)
    g_error ("expected \"%s\" in \"%s\"", needle, error->message);
}

static void
assert_received (PpTr34Krd      *krd,
                 PpTr34KrdState *state,
                 GBytes         *token)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(PpTr34ReceivedKey) received =
    pp_tr34_krd_receive_key_token (krd, state, g_bytes_get_data (token, NULL),
                                   g_bytes_get_size (token), &error);

  g_assert_no_error (error);
  g_assert_nonnull (received);
  g_assert_cmpstr (received->header, ==, HEADER);
}

/* sha256WithRSAEncryption's AlgorithmIdentifier as every CA here writes
 * it: 30 0D 06 09 2A 86 48 86 F7 0D 01 01 0B 05 00. Byte 12 is the OID's
 * last (0x0B), byte 13 the NULL's tag. */
#define ALG_OID_LAST  12
#define ALG_NULL_TAG  13

static void
test_crl_outer_algorithm (void)
{
  const PpTestPki *pki = pp_test_pki_get ();
  g_autoptr(GBytes) good = der_of_crl (pki->crl);
  /* The case OpenSSL 3.0.19 let through: outer NULL -> empty OCTET STRING. */
  g_autoptr(GBytes) octet_params = flip_outer (good, ALG_NULL_TAG, 0x01);
  /* sha256WithRSAEncryption -> sha384WithRSAEncryption outside the signature. */
  g_autoptr(GBytes) other_alg = flip_outer (good, ALG_OID_LAST, 0x0B ^ 0x0C);
  struct {
    GBytes     *crl;
    const char *needle;
  } cases[] = {
    { octet_params, "must be NULL or absent (RFC 4055 5)" },
    { other_alg, "differs from the signature algorithm it signs (RFC 5280 5.1.1.2)" },
  };

  g_assert_true (pp_tr34_check_crl_der (g_bytes_get_data (good, NULL), g_bytes_get_size (good),
                                        "CRL", NULL));

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autoptr(PpTr34Kdh) kdh = make_kdh (PP_TR34_PROFILE_STRICT, pki->crl);
      g_autoptr(PpTr34Krd) krd = make_krd (pki->ca_kdh);
      g_autoptr(PpTr34KrdState) state = pp_tr34_krd_state_new ();
      g_autoptr(GBytes) token = key_token (kdh, state);
      g_autoptr(GBytes) bad = splice (token, good, cases[i].crl);
      const unsigned char *p = g_bytes_get_data (cases[i].crl, NULL);
      g_autoptr(X509_CRL) parsed = d2i_X509_CRL (NULL, &p, (long) g_bytes_get_size (cases[i].crl));
      g_autoptr(PpTr34Kdh) kdh_bad = NULL;
      g_autoptr(GError) error = NULL;

      g_test_message ("case %u", i);
      /* The changed bytes are outside the signed part, which is intact
       * (whether OpenSSL's X509_CRL_verify notices depends on its
       * release: 3.0.19 did not). */
      g_assert_nonnull (parsed);
      g_assert_cmpmem (g_bytes_get_data (cases[i].crl, NULL), outer_algorithm_offset (good),
                       g_bytes_get_data (good, NULL), outer_algorithm_offset (good));
      assert_refused (krd, state, bad, PP_TR34_ERROR_CRL_INVALID, cases[i].needle);
      assert_received (krd, state, token);

      /* A KRD told of that CRL refuses every token. */
      {
        g_autoptr(PpTr34Kdh) plain = make_kdh (PP_TR34_PROFILE_STRICT, NULL);
        g_autoptr(GBytes) t2 = key_token (plain, state);

        pp_tr34_krd_set_crl (krd, parsed);
        assert_refused (krd, state, t2, PP_TR34_ERROR_CRL_INVALID, cases[i].needle);
      }

      /* And a KDH will not send it. */
      kdh_bad = make_kdh (PP_TR34_PROFILE_X9_2019, parsed);
      g_assert_null (pp_tr34_kdh_build_credential_token (kdh_bad, &error));
      g_assert_error (error, PP_TR34_ERROR, PP_TR34_ERROR_CRL_INVALID);
    }
}

static void
test_cert_outer_algorithm (void)
{
  const PpTestPki *pki = pp_test_pki_get ();
  g_autoptr(GBytes) good = der_of_cert (pki->kdh);
  g_autoptr(GBytes) octet_params = flip_outer (good, ALG_NULL_TAG, 0x01);
  g_autoptr(GBytes) other_alg = flip_outer (good, ALG_OID_LAST, 0x0B ^ 0x0D);
  struct {
    GBytes     *cert;
    const char *needle;
  } cases[] = {
    { octet_params, "must be NULL or absent (RFC 4055 5)" },
    { other_alg, "differs from the signature algorithm it signs (RFC 5280 4.1.1.2)" },
  };

  g_assert_true (pp_tr34_check_cert_der (g_bytes_get_data (good, NULL), g_bytes_get_size (good),
                                         "KDH certificate", NULL));

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autoptr(PpTr34Kdh) kdh = make_kdh (PP_TR34_PROFILE_STRICT, NULL);
      /* Unbound: the strict token's own certificate is the KDH's. */
      g_autoptr(PpTr34Krd) krd = pp_tr34_krd_new (pki->krd, pki->krd_key);
      g_autoptr(PpTr34KrdState) state = pp_tr34_krd_state_new ();
      g_autoptr(GBytes) token = key_token (kdh, state);
      g_autoptr(GBytes) bad = splice (token, good, cases[i].cert);
      g_autoptr(GError) error = NULL;
      g_autoptr(PpTr34Token) parsed = NULL;

      g_test_message ("case %u", i);
      pp_tr34_krd_add_trusted (krd, pki->ca_kdh);
      assert_refused (krd, state, bad, PP_TR34_ERROR_CERT_INVALID, cases[i].needle);
      parsed = pp_tr34_token_parse (g_bytes_get_data (bad, NULL), g_bytes_get_size (bad), &error);
      g_assert_null (parsed);
      g_assert_error (error, PP_TR34_ERROR, PP_TR34_ERROR_CERT_INVALID);
      assert_received (krd, state, token);
    }
}

/* A well-formed certificate whose signature algorithm has absent
 * parameters on both sides (RFC 4055 5: implementations MUST accept it),
 * and one with a parameter RSA's key algorithm does not define. */
static void
test_params_rules (void)
{
  const PpTestPki *pki = pp_test_pki_get ();
  g_autoptr(GBytes) good = der_of_cert (pki->kdh);
  gsize len = g_bytes_get_size (good);
  const guint8 *p = g_bytes_get_data (good, NULL);
  static const guint8 alg[] = { 0x30, 0x0D, 0x06, 0x09, 0x2A, 0x86, 0x48, 0x86, 0xF7,
                                0x0D, 0x01, 0x01, 0x0B, 0x05, 0x00 };
  static const guint8 spki_alg[] = { 0x30, 0x0D, 0x06, 0x09, 0x2A, 0x86, 0x48, 0x86, 0xF7,
                                     0x0D, 0x01, 0x01, 0x01, 0x05, 0x00 };
  g_autoptr(GByteArray) absent = g_byte_array_new ();
  g_autoptr(GError) error = NULL;
  guint8 *spki;
  gsize at = 0, n_alg = 0;

  /* Rebuild the certificate without the two NULLs: each AlgorithmIdentifier
   * loses 2 bytes (0D -> 0B), the TBS and the top SEQUENCE 2 and 4. */
  for (gsize i = 0; i + sizeof alg <= len; i++)
    if (memcmp (p + i, alg, sizeof alg) == 0)
      n_alg++;
  g_assert_cmpuint (n_alg, ==, 2);
  {
    PpDer cur, in;
    PpDerTlv top, tbs, outer, sig;
    g_autoptr(GByteArray) tbs_new = g_byte_array_new ();
    g_autoptr(GByteArray) body = g_byte_array_new ();

    pp_der_init (&cur, p, len);
    g_assert_true (pp_der_expect (&cur, PP_DER_SEQUENCE, &top, "top", NULL));
    pp_der_enter (&top, &in);
    g_assert_true (pp_der_expect (&in, PP_DER_SEQUENCE, &tbs, "tbs", NULL));
    g_assert_true (pp_der_expect (&in, PP_DER_SEQUENCE, &outer, "alg", NULL));
    g_assert_true (pp_der_expect (&in, PP_DER_BIT_STRING, &sig, "sig", NULL));
    for (gsize i = 0; i < tbs.len; i++)
      {
        if (i + sizeof alg <= tbs.len && memcmp (tbs.value + i, alg, sizeof alg) == 0)
          {
            static const guint8 short_alg[] = { 0x30, 0x0B, 0x06, 0x09, 0x2A, 0x86, 0x48, 0x86,
                                                0xF7, 0x0D, 0x01, 0x01, 0x0B };
            g_byte_array_append (tbs_new, short_alg, sizeof short_alg);
            i += sizeof alg - 1;
            continue;
          }
        g_byte_array_append (tbs_new, tbs.value + i, 1);
      }
    pp_der_put_array (body, PP_DER_SEQUENCE, tbs_new);
    pp_der_put_algorithm (body, PP_OID (sha256_with_rsa), FALSE);
    pp_der_put_raw (body, sig.raw, sig.raw_len);
    pp_der_put_array (absent, PP_DER_SEQUENCE, body);
  }
  g_assert_true (pp_tr34_check_cert_der (absent->data, absent->len, "certificate", &error));
  g_assert_no_error (error);

  /* rsaEncryption keys carry NULL parameters (RFC 3279 2.3.1): an empty
   * OCTET STRING instead is refused, even though the key itself is fine. */
  spki = memmem (absent->data, absent->len, spki_alg, sizeof spki_alg);
  g_assert_nonnull (spki);
  spki[13] = 0x04;
  g_assert_false (pp_tr34_check_cert_der (absent->data, absent->len, "certificate", &error));
  g_assert_error (error, PP_TR34_ERROR, PP_TR34_ERROR_CERT_INVALID);
  g_assert_nonnull (strstr (error->message, "NULL (RFC 3279 2.3.1)"));
  g_clear_error (&error);
  spki[13] = 0x05;

  /* An algorithm posprov cannot verify is named, not guessed at. */
  at = outer_algorithm_offset (good);
  {
    g_autofree guint8 *copy = g_memdup2 (p, len);

    /* Both copies to 1.2.840.113549.1.1.99 (unassigned). */
    for (gsize i = 0; i + sizeof alg <= len; i++)
      if (memcmp (copy + i, alg, sizeof alg) == 0)
        copy[i + ALG_OID_LAST] = 0x63;
    g_assert_cmpuint (copy[at + ALG_OID_LAST], ==, 0x63);
    g_assert_false (pp_tr34_check_cert_der (copy, len, "certificate", &error));
    g_assert_error (error, PP_TR34_ERROR, PP_TR34_ERROR_UNSUPPORTED);
  }
}

/* RFC 5280 6.3.3 (f). The CA certificate the KRD trusts has CA_KDH's name
 * and key but only keyCertSign: its CRL verifies and is still refused
 * (openssl verify -crl_check says "key usage does not include CRL
 * signing" too). */
static void
test_crl_sign_usage (void)
{
  const PpTestPki *pki = pp_test_pki_get ();
  g_autoptr(PpTr34Kdh) kdh = make_kdh (PP_TR34_PROFILE_STRICT, pki->crl_other);
  g_autoptr(PpTr34Kdh) plain = make_kdh (PP_TR34_PROFILE_STRICT, NULL);
  g_autoptr(PpTr34Krd) krd = make_krd (pki->ca_kdh_no_crl_sign);
  g_autoptr(PpTr34KrdState) state = pp_tr34_krd_state_new ();
  g_autoptr(GBytes) with_crl = key_token (kdh, state);
  g_autoptr(GBytes) without = key_token (plain, state);

  assert_refused (krd, state, with_crl, PP_TR34_ERROR_CRL_INVALID, "cRLSign");
  /* Without a CRL the same chain is fine. */
  assert_received (krd, state, without);
}

/* Rebuilds a ContentInfo { signedData, SignedData } with its crls field
 * replaced by @crls (NULL: none), in CMS order before signerInfos. */
static GBytes *
with_crls_field (GBytes       *token,
                 const guint8 *crls,
                 gsize         crls_len)
{
  PpDer cur, ci, sd;
  PpDerTlv top, oid, explicit0, sd_tlv, tlv;
  g_autoptr(GByteArray) body = g_byte_array_new ();
  g_autoptr(GByteArray) sd_seq = g_byte_array_new ();
  g_autoptr(GByteArray) ci_body = g_byte_array_new ();
  GByteArray *out = g_byte_array_new ();
  gboolean done = FALSE;

  pp_der_init (&cur, g_bytes_get_data (token, NULL), g_bytes_get_size (token));
  g_assert_true (pp_der_expect (&cur, PP_DER_SEQUENCE, &top, "ci", NULL));
  pp_der_enter (&top, &ci);
  g_assert_true (pp_der_expect (&ci, PP_DER_OID, &oid, "oid", NULL));
  g_assert_true (pp_der_expect (&ci, PP_DER_CTX0, &explicit0, "content", NULL));
  pp_der_enter (&explicit0, &cur);
  g_assert_true (pp_der_expect (&cur, PP_DER_SEQUENCE, &sd_tlv, "sd", NULL));
  pp_der_enter (&sd_tlv, &sd);
  while (!pp_der_at_end (&sd))
    {
      g_assert_true (pp_der_next (&sd, &tlv, "element", NULL));
      if (tlv.tag == PP_DER_CTX1)
        continue;
      if (tlv.tag == PP_DER_SET && pp_der_at_end (&sd) && !done)
        {
          if (crls != NULL)
            pp_der_put_raw (body, crls, crls_len);
          done = TRUE;
        }
      pp_der_put_raw (body, tlv.raw, tlv.raw_len);
    }
  g_assert_true (done);
  pp_der_put_array (sd_seq, PP_DER_SEQUENCE, body);
  pp_der_put_raw (ci_body, oid.raw, oid.raw_len);
  pp_der_put_array (ci_body, PP_DER_CTX0, sd_seq);
  pp_der_put_array (out, PP_DER_SEQUENCE, ci_body);
  return g_byte_array_free_to_bytes (out);
}

/* RFC 5652 5.1: crls [1] IMPLICIT SET OF may be empty (A1 00), as
 * BouncyCastle-based hosts send in rebind tokens. */
static void
test_empty_crl_set (void)
{
  const PpTestPki *pki = pp_test_pki_get ();
  static const guint8 empty[] = { 0xA1, 0x00 };
  static const guint8 other[] = { 0xA1, 0x03, 0x02, 0x01, 0x00 };
  g_autoptr(PpTr34Kdh) kdh = make_kdh (PP_TR34_PROFILE_STRICT, NULL);
  g_autoptr(PpTr34Krd) krd = make_krd (pki->ca_kdh);
  g_autoptr(PpTr34KrdState) state = pp_tr34_krd_state_new ();
  g_autoptr(GBytes) token = key_token (kdh, state);
  g_autoptr(GBytes) with_empty = with_crls_field (token, empty, sizeof empty);
  g_autoptr(GBytes) with_other = with_crls_field (token, other, sizeof other);
  g_autoptr(GBytes) n_rebind = pp_tr34_krd_state_issue_nonce (state, 16);
  g_autoptr(GBytes) rebind = NULL, rebind_empty = NULL;
  g_autoptr(PpTr34Token) parsed = NULL;
  g_autoptr(X509) bound = NULL;
  g_autoptr(GError) error = NULL;

  g_assert_cmpuint (g_bytes_get_size (with_empty), ==, g_bytes_get_size (token) + 2);
  parsed = pp_tr34_token_parse (g_bytes_get_data (with_empty, NULL),
                                g_bytes_get_size (with_empty), &error);
  g_assert_no_error (error);
  g_assert_null (pp_tr34_token_get_crl (parsed));
  assert_received (krd, state, with_empty);

  /* Something that is not a CRL in the set is named as such. */
  assert_refused (krd, state, with_other, PP_TR34_ERROR_UNSUPPORTED, "other than an X.509 CRL");

  /* A rebind token with the empty set binds the new KDH. */
  rebind = pp_tr34_kdh_build_rebind_token (kdh, pki->krd, pki->kdh, n_rebind, &error);
  g_assert_no_error (error);
  rebind_empty = with_crls_field (rebind, empty, sizeof empty);
  bound = pp_tr34_krd_receive_rebind_token (krd, state, g_bytes_get_data (rebind_empty, NULL),
                                            g_bytes_get_size (rebind_empty), &error);
  g_assert_no_error (error);
  g_assert_nonnull (bound);
  g_assert_cmpint (X509_cmp (bound, pki->kdh), ==, 0);
}

/* The SignerInfo's signatureAlgorithm: rsaEncryption (Annex B, OpenSSL)
 * or sha256WithRSAEncryption (BouncyCastle). */
static void
test_signer_algorithm (void)
{
  const PpTestPki *pki = pp_test_pki_get ();
  /* SignerInfo: signatureAlgorithm, then the 256-byte signature. */
  static const guint8 rsa_then_sig[] = { 0x30, 0x0D, 0x06, 0x09, 0x2A, 0x86, 0x48, 0x86, 0xF7,
                                         0x0D, 0x01, 0x01, 0x01, 0x05, 0x00, 0x04, 0x82, 0x01, 0x00 };
  static const struct {
    guint8      last;    /* the OID's last byte */
    gboolean    null;    /* keep the NULL parameters */
    gboolean    ok;
  } cases[] = {
    { 0x01, TRUE, TRUE },    /* rsaEncryption */
    { 0x0B, TRUE, TRUE },    /* sha256WithRSAEncryption, NULL */
    { 0x0B, FALSE, TRUE },   /* sha256WithRSAEncryption, absent */
    { 0x0A, TRUE, FALSE },   /* RSASSA-PSS: not PKCS#1 v1.5 */
    { 0x0C, TRUE, FALSE },   /* sha384WithRSAEncryption: not SHA-256 */
  };
  g_autofree char *openssl = g_find_program_in_path ("openssl");
  g_autofree char *dir = pp_test_make_tmpdir ();

  pp_test_pki_write (pki, dir);
  for (guint c = 0; c < G_N_ELEMENTS (cases); c++)
    {
      g_autoptr(PpTr34Kdh) kdh = make_kdh (PP_TR34_PROFILE_STRICT, pki->crl);
      g_autoptr(PpTr34Krd) krd = make_krd (pki->ca_kdh);
      g_autoptr(PpTr34KrdState) state = pp_tr34_krd_state_new ();
      g_autoptr(GBytes) token = key_token (kdh, state);
      g_autoptr(GBytes) changed = NULL;
      const guint8 *p = g_bytes_get_data (token, NULL);
      gsize len = g_bytes_get_size (token);
      const guint8 *at = memmem (p, len, rsa_then_sig, sizeof rsa_then_sig);
      g_autoptr(GByteArray) alg = g_byte_array_new ();
      g_autoptr(GByteArray) si_new = NULL;
      guint8 oid[sizeof pp_oid_rsa_encryption];

      g_test_message ("case %u", c);
      g_assert_nonnull (at);
      memcpy (oid, pp_oid_rsa_encryption, sizeof oid);
      oid[sizeof oid - 1] = cases[c].last;
      pp_der_put_algorithm (alg, oid, sizeof oid, cases[c].null);
      if (cases[c].null)
        {
          g_autoptr(GBytes) from = g_bytes_new (at, sizeof rsa_then_sig);
          g_autoptr(GBytes) to = NULL;

          g_byte_array_append (alg, rsa_then_sig + 15, sizeof rsa_then_sig - 15);
          to = g_bytes_new (alg->data, alg->len);

          changed = splice (token, from, to);
        }
      else
        {
          /* Two bytes shorter: re-encode the lengths around it. */
          PpDer cur, ci, sd, sis;
          PpDerTlv top, ctype, explicit0, sd_tlv, tlv, si;
          g_autoptr(GByteArray) sd_body = g_byte_array_new ();
          g_autoptr(GByteArray) sd_seq = g_byte_array_new ();
          g_autoptr(GByteArray) ci_body = g_byte_array_new ();
          g_autoptr(GByteArray) out = g_byte_array_new ();
          g_autoptr(GByteArray) si_body = g_byte_array_new ();
          g_autoptr(GByteArray) sis_body = g_byte_array_new ();

          pp_der_init (&cur, p, len);
          g_assert_true (pp_der_expect (&cur, PP_DER_SEQUENCE, &top, "ci", NULL));
          pp_der_enter (&top, &ci);
          g_assert_true (pp_der_expect (&ci, PP_DER_OID, &ctype, "oid", NULL));
          g_assert_true (pp_der_expect (&ci, PP_DER_CTX0, &explicit0, "content", NULL));
          pp_der_enter (&explicit0, &cur);
          g_assert_true (pp_der_expect (&cur, PP_DER_SEQUENCE, &sd_tlv, "sd", NULL));
          pp_der_enter (&sd_tlv, &sd);
          while (!pp_der_at_end (&sd))
            {
              g_assert_true (pp_der_next (&sd, &tlv, "element", NULL));
              if (!(tlv.tag == PP_DER_SET && pp_der_at_end (&sd)))
                {
                  pp_der_put_raw (sd_body, tlv.raw, tlv.raw_len);
                  continue;
                }
              pp_der_enter (&tlv, &sis);
              g_assert_true (pp_der_expect (&sis, PP_DER_SEQUENCE, &si, "si", NULL));
              for (gsize i = 0; i < si.len; i++)
                {
                  if (si.value + i == at)
                    {
                      pp_der_put_raw (si_body, alg->data, alg->len);
                      i += 14;
                      continue;
                    }
                  g_byte_array_append (si_body, si.value + i, 1);
                }
              pp_der_put_array (sis_body, PP_DER_SEQUENCE, si_body);
              pp_der_put_array (sd_body, PP_DER_SET, sis_body);
            }
          pp_der_put_array (sd_seq, PP_DER_SEQUENCE, sd_body);
          pp_der_put_raw (ci_body, ctype.raw, ctype.raw_len);
          pp_der_put_array (ci_body, PP_DER_CTX0, sd_seq);
          pp_der_put_array (out, PP_DER_SEQUENCE, ci_body);
          changed = g_bytes_new (out->data, out->len);
          g_assert_cmpuint (g_bytes_get_size (changed), ==, len - 2);
        }

      if (cases[c].ok)
        assert_received (krd, state, changed);
      else
        assert_refused (krd, state, changed, PP_TR34_ERROR_UNSUPPORTED,
                        "neither rsaEncryption nor sha256WithRSAEncryption");

      /* openssl cms takes both too (and neither of the others). */
      if (openssl != NULL && cases[c].ok)
        {
          g_autofree char *path = g_build_filename (dir, "signer-alg.der", NULL);
          g_autofree char *ca = g_build_filename (dir, "trust.pem", NULL);
          g_autofree char *err = NULL;
          g_autoptr(GError) error = NULL;
          const char *argv[] = { openssl, "cms", "-verify", "-binary", "-inform", "DER", "-in", path,
                                 "-CAfile", ca, "-purpose", "any", "-attime", "1900000000",
                                 "-out", "/dev/null", NULL };
          int status = 0;

          g_file_set_contents (path, g_bytes_get_data (changed, NULL), g_bytes_get_size (changed), &error);
          g_assert_no_error (error);
          g_assert_true (g_spawn_sync (NULL, (char **) argv, NULL, G_SPAWN_STDOUT_TO_DEV_NULL,
                                       NULL, NULL, NULL, &err, &status, &error));
          if (!g_spawn_check_wait_status (status, NULL))
            g_error ("openssl cms -verify refused case %u: %s", c, err);
        }
    }
}

int
main (int    argc,
      char **argv)
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/tr34-pkix/crl/outer-algorithm", test_crl_outer_algorithm);
  g_test_add_func ("/tr34-pkix/cert/outer-algorithm", test_cert_outer_algorithm);
  g_test_add_func ("/tr34-pkix/algorithm-parameters", test_params_rules);
  g_test_add_func ("/tr34-pkix/crl/issuer-needs-crl-sign", test_crl_sign_usage);
  g_test_add_func ("/tr34-pkix/crl/empty-set", test_empty_crl_set);
  g_test_add_func ("/tr34-pkix/signer-info/algorithm", test_signer_algorithm);

  return g_test_run ();
}
