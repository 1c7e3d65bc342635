/* SPDX-License-Identifier: GPL-3.0-or-later
 *
 * test-tr34-annexb.c: TR-34 conformance against the sample PKI and tokens
 * of ASC X9 TR 34-2019, Annex B (with its errata), as republished by
 * public open-source test suites and collected in tests/vectors/tr34
 * (see its README.md for the source and the known defects: B.6's element
 * order, B.9's unsorted attributes, the untagged OAEP parameters, the
 * encryptedKey values that do not decrypt with KRD_1, KDH_1's repeated
 * extensions). A missing sample fails the test.
 */
#include "config.h"

#include <string.h>

#include <openssl/pem.h>
#include <openssl/rsa.h>

#include "pp-hex.h"
#include "pp-test-util.h"
#include "pp-openssl-types.h"
#include "pp-tr34-private.h"

static GBytes *
load_vector (const char *name)
{
  g_autofree char *rel = g_build_filename ("tr34", name, NULL);
  g_autofree char *path = pp_test_vector_path (rel);
  g_autoptr(GError) error = NULL;
  char *data = NULL;
  gsize len = 0;

  g_file_get_contents (path, &data, &len, &error);
  g_assert_no_error (error);
  return g_bytes_new_take (data, len);
}

static X509 *
load_cert (const char *name)
{
  g_autofree char *rel = g_build_filename ("tr34", "pem", name, NULL);
  g_autofree char *path = pp_test_vector_path (rel);
  g_autoptr(BIO) bio = NULL;
  X509 *cert;

  bio = BIO_new_file (path, "r");
  g_assert_nonnull (bio);
  cert = PEM_read_bio_X509 (bio, NULL, NULL, NULL);
  g_assert_nonnull (cert);
  return cert;
}

static EVP_PKEY *
load_key (const char *name)
{
  g_autofree char *rel = g_build_filename ("tr34", "pem", name, NULL);
  g_autofree char *path = pp_test_vector_path (rel);
  g_autoptr(BIO) bio = NULL;
  EVP_PKEY *key;

  bio = BIO_new_file (path, "r");
  g_assert_nonnull (bio);
  key = PEM_read_bio_PrivateKey (bio, NULL, NULL, NULL);
  g_assert_nonnull (key);
  return key;
}

static X509_CRL *
load_crl (void)
{
  g_autoptr(GBytes) der = load_vector ("B.2.1.3_TR34_Sample_CA_KDH_CRL.der");
  const unsigned char *p;
  X509_CRL *crl;

  p = g_bytes_get_data (der, NULL);
  crl = d2i_X509_CRL (NULL, &p, g_bytes_get_size (der));
  g_assert_nonnull (crl);
  return crl;
}

static PpTr34Token *
parse_vector (const char *name)
{
  g_autoptr(GBytes) der = load_vector (name);
  g_autoptr(GError) error = NULL;
  PpTr34Token *token;

  token = pp_tr34_token_parse (g_bytes_get_data (der, NULL), g_bytes_get_size (der), &error);
  g_assert_no_error (error);
  g_assert_nonnull (token);
  return token;
}

static char *
nonce_hex (PpTr34Token *token)
{
  GBytes *nonce = pp_tr34_token_get_nonce (token);

  g_assert_nonnull (nonce);
  return pp_hex_encode (g_bytes_get_data (nonce, NULL), g_bytes_get_size (nonce));
}

static void
test_parse_types (void)
{
  static const struct {
    const char      *file;
    PpTr34TokenType  type;
    PpTr34Profile    profile;
  } cases[] = {
    { "B.3_CA_Root_credential.p7b.der", PP_TR34_TOKEN_CA_CREDENTIAL, PP_TR34_PROFILE_STRICT },
    { "B.4_CA_KDH_credential.p7b.der", PP_TR34_TOKEN_CA_CREDENTIAL, PP_TR34_PROFILE_STRICT },
    { "B.5_CA_KRD_credential.p7b.der", PP_TR34_TOKEN_CA_CREDENTIAL, PP_TR34_PROFILE_STRICT },
    /* signerInfos before crls: the Annex B quirk. */
    { "B.6_CT_KDH_KDH_1_with_CRL.der", PP_TR34_TOKEN_CT_KDH, PP_TR34_PROFILE_X9_2019 },
    { "B.7_CT_KRD_KRD_1.p7b.der", PP_TR34_TOKEN_CT_KRD, PP_TR34_PROFILE_STRICT },
    { "B.8_KT_KDH_1pass.errata.der", PP_TR34_TOKEN_KT_KDH, PP_TR34_PROFILE_X9_2019 },
    { "B.8_KT_KDH_1pass.orig.der", PP_TR34_TOKEN_KT_KDH, PP_TR34_PROFILE_X9_2019_PRINTED },
    { "B.9_KT_KDH_2pass.errata.der", PP_TR34_TOKEN_KT_KDH, PP_TR34_PROFILE_X9_2019 },
    { "B.9_KT_KDH_2pass.orig.der", PP_TR34_TOKEN_KT_KDH, PP_TR34_PROFILE_X9_2019_PRINTED },
    { "B.10_RBT_CA_UNBIND.der", PP_TR34_TOKEN_RBT_CA_UNBIND, PP_TR34_PROFILE_X9_2019 },
    { "B.11_RBT_KDH.der", PP_TR34_TOKEN_RBT_KDH, PP_TR34_PROFILE_X9_2019 },
    { "B.12_RT_KRD.der", PP_TR34_TOKEN_RT_KRD, PP_TR34_PROFILE_STRICT },
    { "B.13_UBT_CA_UNBIND.der", PP_TR34_TOKEN_UBT_CA_UNBIND, PP_TR34_PROFILE_STRICT },
    { "B.14_UBT_KDH.der", PP_TR34_TOKEN_UBT_KDH, PP_TR34_PROFILE_STRICT },
  };

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autoptr(PpTr34Token) token = parse_vector (cases[i].file);

      g_test_message ("%s", cases[i].file);
      g_assert_cmpstr (pp_tr34_token_type_to_string (pp_tr34_token_get_kind (token)), ==,
                       pp_tr34_token_type_to_string (cases[i].type));
      g_assert_cmpstr (pp_tr34_profile_to_string (pp_tr34_token_get_profile (token)), ==,
                       pp_tr34_profile_to_string (cases[i].profile));
    }
}

static void
test_parse_fields (void)
{
  g_autoptr(PpTr34Token) b8 = parse_vector ("B.8_KT_KDH_1pass.errata.der");
  g_autoptr(PpTr34Token) b9 = NULL;
  g_autoptr(PpTr34Token) b12 = NULL;
  g_autoptr(PpTr34Token) b14 = NULL;
  g_autoptr(PpTr34Token) b6 = NULL;
  g_autofree char *time = NULL;
  g_autofree char *n9 = NULL, *n12 = NULL, *n14 = NULL, *signer = NULL, *serial = NULL;
  g_auto(GStrv) recipients = NULL;
  PpTr34Ephemeral eph;

  b9 = parse_vector ("B.9_KT_KDH_2pass.errata.der");
  b12 = parse_vector ("B.12_RT_KRD.der");
  b14 = parse_vector ("B.14_UBT_KDH.der");
  b6 = parse_vector ("B.6_CT_KDH_KDH_1_with_CRL.der");

  time = g_date_time_format_iso8601 (pp_tr34_token_get_signing_time (b8));
  g_assert_cmpstr (time, ==, "2020-02-10T19:13:53Z");
  g_assert_null (pp_tr34_token_get_nonce (b8));
  g_assert_cmpstr (pp_tr34_token_get_header (b8), ==, "A0256K0TB00E0000");

  n9 = nonce_hex (b9);
  n12 = nonce_hex (b12);
  n14 = nonce_hex (b14);
  g_assert_cmpstr (n9, ==, "167EB0E72781E4940112233445566778");
  g_assert_cmpstr (n12, ==, n9);
  g_assert_cmpstr (n14, ==, "7DEA1C00894E246A");
  g_assert_cmpstr (pp_tr34_token_get_header (b9), ==, "A0256K0TB00E0000");
  g_assert_true (pp_tr34_token_get_ephemeral (b9, &eph));
  g_assert_cmpint (eph, ==, PP_TR34_EPHEMERAL_TDES);

  signer = pp_tr34_token_dup_signer (b9);
  g_assert_nonnull (strstr (signer, "CN=TR34 Sample CA KDH"));
  serial = pp_tr34_token_dup_signer_serial (b9);
  g_assert_cmpstr (serial, ==, "3400000006");
  recipients = pp_tr34_token_dup_recipients (b9);
  g_assert_cmpuint (g_strv_length (recipients), ==, 1);
  g_assert_nonnull (strstr (recipients[0], "CN=TR34 Sample CA KRD"));
  g_assert_true (g_str_has_suffix (recipients[0], " / serial 3400000007"));

  /* B.6 carries KDH_1 and the CA_KDH CRL revoking three serials. */
  g_assert_cmpint (sk_X509_num (pp_tr34_token_get_certificates (b6)), ==, 1);
  g_assert_nonnull (pp_tr34_token_get_crl (b6));
  g_assert_cmpint (sk_X509_REVOKED_num (X509_CRL_get_REVOKED (pp_tr34_token_get_crl (b6))), ==, 3);
  g_assert_null (pp_tr34_token_dup_signer (b6));
}

static void
verify_with (const char *token_file,
             EVP_PKEY   *key)
{
  g_autoptr(PpTr34Token) token = parse_vector (token_file);
  g_autoptr(GError) error = NULL;

  g_test_message ("verify %s", token_file);
  g_assert_true (pp_tr34_token_verify_signature (token, key, &error));
  g_assert_no_error (error);
}

static void
test_signatures (void)
{
  g_autoptr(X509) kdh1 = load_cert ("B.2.1.5_TR34_Sample_KDH_1.cert.pem");
  g_autoptr(X509) kdh2 = NULL;
  g_autoptr(X509) ca_krd = NULL;
  g_autoptr(PpTr34Token) b9 = NULL;
  g_autoptr(GError) error = NULL;
  static const char * const by_kdh1[] = {
    "B.8_KT_KDH_1pass.errata.der", "B.8_KT_KDH_1pass.orig.der",
    "B.9_KT_KDH_2pass.errata.der", "B.9_KT_KDH_2pass.orig.der",
    "B.11_RBT_KDH.der", "B.14_UBT_KDH.der",
  };

  kdh2 = load_cert ("B.2.1.6_TR34_Sample_KDH_2.cert.pem");
  ca_krd = load_cert ("B.2.1.4_TR34_Sample_CA_KRD.cert.pem");

  for (guint i = 0; i < G_N_ELEMENTS (by_kdh1); i++)
    verify_with (by_kdh1[i], X509_get0_pubkey (kdh1));
  verify_with ("B.10_RBT_CA_UNBIND.der", X509_get0_pubkey (ca_krd));
  verify_with ("B.13_UBT_CA_UNBIND.der", X509_get0_pubkey (ca_krd));

  /* The wrong key must not verify. */
  b9 = parse_vector ("B.9_KT_KDH_2pass.errata.der");
  g_assert_false (pp_tr34_token_verify_signature (b9, X509_get0_pubkey (kdh2), &error));
  g_assert_error (error, PP_TR34_ERROR, PP_TR34_ERROR_BAD_SIGNATURE);

  /* B.9's attributes are not in DER order; the signature is over the
   * wire order, which is what we check. */
  g_assert_false (b9->attrs_sorted);
}


/* The messageDigest in a signed-attributes sample (A0 as on the wire, or
 * 31 as signed: B.2.2.5 .der). */
static GBytes *
attrs_message_digest (const char *file)
{
  g_autoptr(GBytes) der = load_vector (file);
  PpDer cur, set;
  PpDerTlv attrs, attr;

  pp_der_init (&cur, g_bytes_get_data (der, NULL), g_bytes_get_size (der));
  g_assert_true (pp_der_next (&cur, &attrs, "attributes", NULL));
  g_assert_true (attrs.tag == PP_DER_CTX0 || attrs.tag == PP_DER_SET);
  pp_der_enter (&attrs, &set);
  while (!pp_der_at_end (&set))
    {
      PpDer a, values;
      PpDerTlv oid, vset, digest;

      g_assert_true (pp_der_expect (&set, PP_DER_SEQUENCE, &attr, "attribute", NULL));
      pp_der_enter (&attr, &a);
      g_assert_true (pp_der_expect (&a, PP_DER_OID, &oid, "type", NULL));
      g_assert_true (pp_der_expect (&a, PP_DER_SET, &vset, "values", NULL));
      if (!pp_der_tlv_is_oid (&oid, PP_OID (message_digest)))
        continue;
      pp_der_enter (&vset, &values);
      g_assert_true (pp_der_expect (&values, PP_DER_OCTET_STRING, &digest, "digest", NULL));
      return g_bytes_new (digest.value, digest.len);
    }
  g_error ("%s has no messageDigest", file);
}

static void
assert_sha256_is (const guint8 *data,
                  gsize         len,
                  GBytes       *digest)
{
  guint8 md[32];
  unsigned int md_len = 0;

  g_assert_cmpint (EVP_Digest (data, len, md, &md_len, EVP_sha256 (), NULL), ==, 1);
  g_assert_cmpmem (md, md_len, g_bytes_get_data (digest, NULL), g_bytes_get_size (digest));
}

/* Which bytes each dated sample signs, and that our encoder writes exactly
 * those bytes in the matching profile from the same fields:
 *  - the errata attributes (B.2.2.4/5 .der) hash B.2.2.3.1 .errata: x9-2019;
 *  - B.8/B.9 .orig hash B.2.2.3.1 .orig with its header: x9-2019-printed;
 *  - the 2012-dated attributes (B.2.2.4/5 .orig, signing time 2012) hash
 *    B.2.2.3.1 .orig without its 30 82 02 55 header: x9-2012. */
static void
test_profile_layouts (void)
{
  g_autoptr(GBytes) orig = load_vector ("B.2.2.3.1_TDEA_EnvelopedData.orig.der");
  g_autoptr(GBytes) errata = NULL;
  g_autoptr(GError) error = NULL;
  static const struct {
    PpTr34Profile  profile;
    const char    *digest_files[2];
  } cases[] = {
    { PP_TR34_PROFILE_X9_2019,
      { "B.2.2.4_SignedAttributes_1pass.der", "B.2.2.5_SignedAttributes_2pass.der" } },
    { PP_TR34_PROFILE_X9_2019_PRINTED,
      { "B.8_KT_KDH_1pass.orig.der", "B.9_KT_KDH_2pass.orig.der" } },
    { PP_TR34_PROFILE_X9_2012,
      { "B.2.2.4_SignedAttributes_1pass.orig.der", "B.2.2.5_SignedAttributes_2pass.orig.der" } },
  };
  PpTr34Envelope env;
  const guint8 *o;
  gsize olen;

  errata = load_vector ("B.2.2.3.1_TDEA_EnvelopedData.errata.der");
  o = g_bytes_get_data (orig, &olen);
  g_assert_true (pp_tr34_envelope_parse (o, olen, &env, &error));
  g_assert_no_error (error);
  g_assert_cmpint (env.profile, ==, PP_TR34_PROFILE_X9_2019_PRINTED);
  g_assert_cmpmem (o, 4, "\x30\x82\x02\x55", 4);

  for (guint c = 0; c < G_N_ELEMENTS (cases); c++)
    {
      g_autoptr(GByteArray) encoded =
        pp_tr34_envelope_encode (cases[c].profile, env.recipient_ias, env.recipient_ias_len,
                                 env.encrypted_key, env.encrypted_key_len, env.ephemeral,
                                 env.iv, env.iv_len, env.ciphertext, env.ciphertext_len);
      PpTr34Envelope again;

      g_test_message ("profile %s", pp_tr34_profile_to_string (cases[c].profile));
      switch (cases[c].profile)
        {
        case PP_TR34_PROFILE_X9_2019:
          g_assert_cmpmem (encoded->data, encoded->len,
                           g_bytes_get_data (errata, NULL), g_bytes_get_size (errata));
          break;
        case PP_TR34_PROFILE_X9_2019_PRINTED:
          g_assert_cmpmem (encoded->data, encoded->len, o, olen);
          break;
        case PP_TR34_PROFILE_X9_2012:
          g_assert_cmpmem (encoded->data, encoded->len, o + 4, olen - 4);
          break;
        default:
          g_assert_not_reached ();
        }
      for (guint f = 0; f < 2; f++)
        {
          const char *file = cases[c].digest_files[f];
          g_autoptr(GBytes) digest = NULL;

          if (g_str_has_prefix (file, "B.2.2"))
            digest = attrs_message_digest (file);
          else
            {
              g_autoptr(PpTr34Token) token = parse_vector (file);

              digest = g_bytes_new (token->attr_digest.value, token->attr_digest.len);
            }
          assert_sha256_is (encoded->data, encoded->len, digest);
        }
      /* And the receiver reads each back as what it is. */
      g_assert_true (pp_tr34_envelope_parse (encoded->data, encoded->len, &again, &error));
      g_assert_no_error (error);
      g_assert_cmpint (again.profile, ==, cases[c].profile);
      g_assert_cmpmem (again.ciphertext, again.ciphertext_len, env.ciphertext, env.ciphertext_len);
    }
}

static void
check_envelope_decrypts (const char      *file,
                         PpTr34Profile    profile,
                         const char      *key_hex,
                         const char      *iv_hex,
                         GBytes          *expected)
{
  g_autoptr(GBytes) der = load_vector (file);
  g_autoptr(GBytes) key = pp_hex_decode (key_hex, NULL);
  g_autoptr(GBytes) iv = pp_hex_decode (iv_hex, NULL);
  g_autoptr(PpSecureBuffer) plain = NULL;
  g_autoptr(GError) error = NULL;
  PpTr34Envelope env;

  g_test_message ("decrypt %s", file);
  g_assert_true (pp_tr34_envelope_parse (g_bytes_get_data (der, NULL), g_bytes_get_size (der),
                                         &env, &error));
  g_assert_no_error (error);
  g_assert_cmpint (env.profile, ==, profile);
  g_assert_cmpuint (env.n_recipients, ==, 1);
  plain = pp_tr34_content_decrypt (env.ephemeral,
                                   g_bytes_get_data (key, NULL), g_bytes_get_size (key),
                                   g_bytes_get_data (iv, NULL), g_bytes_get_size (iv),
                                   env.ciphertext, env.ciphertext_len, &error);
  g_assert_no_error (error);
  g_assert_cmpmem (pp_secure_buffer_peek (plain), pp_secure_buffer_get_len (plain),
                   g_bytes_get_data (expected, NULL), g_bytes_get_size (expected));
}

static void
test_decrypt_content (void)
{
  g_autoptr(GBytes) tdea_block = load_vector ("B.2.2.2.1_TDEA_KeyBlock_clear.der");
  g_autoptr(GBytes) kdh1_ias = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *key_hex = NULL;
  PpTr34KeyBlock block;
  const char *tdes_key = "0123456789ABCDEFFEDCBA9876543210FFEEDDCCBBAA9988";
  const char *aes_key = "0123456789ABCDEFFEDCBA9876543210";

  kdh1_ias = load_vector ("B.2.2.1.4_KDH_1_IssuerAndSerialNumber.der");

  check_envelope_decrypts ("B.2.2.3.1_TDEA_EnvelopedData.errata.der", PP_TR34_PROFILE_X9_2019,
                           tdes_key, "0123456789ABCDEF", tdea_block);
  check_envelope_decrypts ("B.2.2.3.1_TDEA_EnvelopedData.orig.der", PP_TR34_PROFILE_X9_2019_PRINTED,
                           tdes_key, "0123456789ABCDEF", tdea_block);
  /* The AES samples carry an 8-byte IV; zero-extended they decrypt to the
   * TDEA key block (README). */
  check_envelope_decrypts ("B.2.2.3.2_AES_EnvelopedData.errata.der", PP_TR34_PROFILE_X9_2019,
                           aes_key, "0123456789ABCDEF0000000000000000", tdea_block);
  check_envelope_decrypts ("B.2.2.3.2_AES_EnvelopedData.orig.der", PP_TR34_PROFILE_X9_2019_PRINTED,
                           aes_key, "0123456789ABCDEF0000000000000000", tdea_block);

  g_assert_true (pp_tr34_key_block_parse (g_bytes_get_data (tdea_block, NULL),
                                          g_bytes_get_size (tdea_block), &block, &error));
  g_assert_no_error (error);
  key_hex = pp_hex_encode (block.key, block.key_len);
  g_assert_cmpstr (key_hex, ==, "0123456789ABCDEFFEDCBA9876543210");
  g_assert_cmpmem (block.header, block.header_len, "A0256K0TB00E0000", 16);
  g_assert_cmpmem (block.kdh_ias, block.kdh_ias_len,
                   g_bytes_get_data (kdh1_ias, NULL), g_bytes_get_size (kdh1_ias));
}

static void
test_aes_key_block (void)
{
  g_autoptr(GBytes) aes_block = load_vector ("B.2.2.2.4_AES_KeyBlock_clear.der");
  g_autoptr(GError) error = NULL;
  PpTr34KeyBlock block;

  g_assert_true (pp_tr34_key_block_parse (g_bytes_get_data (aes_block, NULL),
                                          g_bytes_get_size (aes_block), &block, &error));
  g_assert_no_error (error);
  g_assert_cmpmem (block.header, block.header_len, "D0256K0AB00E0000", 16);
}

static void
test_receive_sample (void)
{
  g_autoptr(X509) krd1 = load_cert ("B.2.1.7_TR34_Sample_KRD_1.cert.pem");
  g_autoptr(EVP_PKEY) krd1_key = NULL;
  g_autoptr(X509) kdh1 = NULL, ca_kdh = NULL, root = NULL;
  g_autoptr(GBytes) b9 = NULL;
  g_autoptr(PpTr34Krd) krd = NULL;
  g_autoptr(PpTr34KrdState) state = pp_tr34_krd_state_new ();
  g_autoptr(GBytes) nonce = pp_hex_decode ("167EB0E72781E4940112233445566778", NULL);
  g_autoptr(GDateTime) at = g_date_time_new_utc (2015, 1, 1, 0, 0, 0);
  g_autoptr(GError) error = NULL;
  g_autoptr(PpTr34ReceivedKey) received = NULL;

  krd1_key = load_key ("B.2.1.7_TR34_Sample_KRD_1.key.pkcs8.pem");
  kdh1 = load_cert ("B.2.1.5_TR34_Sample_KDH_1.cert.pem");
  ca_kdh = load_cert ("B.2.1.2_TR34_Sample_CA_KDH.cert.pem");
  root = load_cert ("B.2.1.1_TR34_Sample_Root.cert.pem");
  b9 = load_vector ("B.9_KT_KDH_2pass.errata.der");

  krd = pp_tr34_krd_new (krd1, krd1_key);
  pp_tr34_krd_add_trusted (krd, root);
  pp_tr34_krd_add_trusted (krd, ca_kdh);
  pp_tr34_krd_set_kdh_cert (krd, kdh1);
  pp_tr34_krd_set_time (krd, at);
  pp_tr34_krd_state_add_nonce (state, nonce);

  /* KDH_1 repeats basicConstraints and keyUsage: OpenSSL refuses it in
   * chain building, so the KRD must refuse the sample token (README). */
  received = pp_tr34_krd_receive_key_token (krd, state, g_bytes_get_data (b9, NULL),
                                            g_bytes_get_size (b9), &error);
  g_assert_null (received);
  g_assert_error (error, PP_TR34_ERROR, PP_TR34_ERROR_CERT_INVALID);
  /* Nothing was consumed by a failed receive. */
  g_assert_true (pp_tr34_krd_state_has_nonce (state, nonce));
}

static void
test_sample_oaep_defect (void)
{
  g_autoptr(EVP_PKEY) krd1_key = load_key ("B.2.1.7_TR34_Sample_KRD_1.key.pkcs8.pem");
  g_autoptr(PpTr34Token) b9 = NULL;
  g_autoptr(EVP_PKEY_CTX) ctx = NULL;
  guint8 out[512];
  size_t out_len = sizeof out;

  b9 = parse_vector ("B.9_KT_KDH_2pass.errata.der");
  g_assert_true (b9->has_envelope);
  /* The published encryptedKey does not decrypt with KRD_1 (README). */
  ctx = EVP_PKEY_CTX_new (krd1_key, NULL);
  g_assert_cmpint (EVP_PKEY_decrypt_init (ctx), ==, 1);
  g_assert_cmpint (EVP_PKEY_CTX_set_rsa_padding (ctx, RSA_PKCS1_OAEP_PADDING), ==, 1);
  g_assert_cmpint (EVP_PKEY_CTX_set_rsa_oaep_md (ctx, EVP_sha256 ()), ==, 1);
  g_assert_cmpint (EVP_PKEY_CTX_set_rsa_mgf1_md (ctx, EVP_sha256 ()), ==, 1);
  g_assert_cmpint (EVP_PKEY_decrypt (ctx, out, &out_len, b9->envelope.encrypted_key,
                                     b9->envelope.encrypted_key_len), !=, 1);
}

static PpTr34Kdh *
sample_kdh1 (void)
{
  g_autoptr(X509) kdh1 = load_cert ("B.2.1.5_TR34_Sample_KDH_1.cert.pem");
  g_autoptr(X509_CRL) crl = NULL;
  EVP_PKEY *key;
  PpTr34Kdh *kdh;

  key = load_key ("B.2.1.5_TR34_Sample_KDH_1.key.pkcs8.pem");
  crl = load_crl ();
  kdh = pp_tr34_kdh_new (kdh1, pp_tr34_sign_with_pkey, key, (GDestroyNotify) EVP_PKEY_free);
  pp_tr34_kdh_set_crl (kdh, crl);
  pp_tr34_kdh_set_profile (kdh, PP_TR34_PROFILE_X9_2019);
  return kdh;
}

static void
test_rebuild_b14 (void)
{
  g_autoptr(PpTr34Kdh) kdh = sample_kdh1 ();
  g_autoptr(X509) krd1 = NULL;
  g_autoptr(GBytes) expected = NULL;
  g_autoptr(GBytes) built = NULL;
  g_autoptr(GBytes) nonce = pp_hex_decode ("7DEA1C00894E246A", NULL);
  g_autoptr(GError) error = NULL;

  krd1 = load_cert ("B.2.1.7_TR34_Sample_KRD_1.cert.pem");
  expected = load_vector ("B.14_UBT_KDH.der");

  /* PKCS#1 v1.5 is deterministic and B.14 has no random input. */
  built = pp_tr34_kdh_build_unbind_token (kdh, krd1, nonce, &error);
  g_assert_no_error (error);
  g_assert_cmpmem (g_bytes_get_data (built, NULL), g_bytes_get_size (built),
                   g_bytes_get_data (expected, NULL), g_bytes_get_size (expected));
}

static void
test_rebuild_b11 (void)
{
  g_autoptr(PpTr34Kdh) kdh = sample_kdh1 ();
  g_autoptr(X509) krd1 = NULL, kdh2 = NULL;
  g_autoptr(GBytes) expected = NULL;
  g_autoptr(GBytes) built = NULL;
  g_autoptr(GBytes) nonce = pp_hex_decode ("7DEA1C00894E246A", NULL);
  g_autoptr(GError) error = NULL;

  krd1 = load_cert ("B.2.1.7_TR34_Sample_KRD_1.cert.pem");
  kdh2 = load_cert ("B.2.1.6_TR34_Sample_KDH_2.cert.pem");
  expected = load_vector ("B.11_RBT_KDH.der");

  built = pp_tr34_kdh_build_rebind_token (kdh, krd1, kdh2, nonce, &error);
  g_assert_no_error (error);
  g_assert_cmpmem (g_bytes_get_data (built, NULL), g_bytes_get_size (built),
                   g_bytes_get_data (expected, NULL), g_bytes_get_size (expected));
}

static void
test_rebuild_b12 (void)
{
  g_autoptr(GBytes) expected = load_vector ("B.12_RT_KRD.der");
  g_autoptr(GBytes) nonce = pp_hex_decode ("167EB0E72781E4940112233445566778", NULL);
  g_autoptr(GBytes) built = NULL;

  built = pp_tr34_build_random_token (nonce);
  g_assert_true (g_bytes_equal (built, expected));
}

/* What a KRD can check on the samples without building KDH_1's chain
 * (which OpenSSL refuses): structure, signer identity, signature and
 * messageDigest, and the CRL's signature by CA_KDH. */
static gboolean
sample_accepted (const guint8 *der,
                 gsize         len,
                 X509         *kdh1,
                 X509         *ca_kdh,
                 GError      **error)
{
  g_autoptr(PpTr34Token) token = pp_tr34_token_parse (der, len, error);
  X509_CRL *crl;

  if (token == NULL)
    return FALSE;
  if (!pp_tr34_sid_matches (token, kdh1))
    {
      g_set_error_literal (error, PP_TR34_ERROR, PP_TR34_ERROR_KDH_MISMATCH, "other signer");
      return FALSE;
    }
  if (!pp_tr34_token_verify_signature (token, X509_get0_pubkey (kdh1), error))
    return FALSE;
  crl = pp_tr34_token_get_crl (token);
  if (crl != NULL && X509_CRL_verify (crl, X509_get0_pubkey (ca_kdh)) != 1)
    {
      g_set_error_literal (error, PP_TR34_ERROR, PP_TR34_ERROR_CRL_INVALID, "CRL signature");
      return FALSE;
    }
  return TRUE;
}

/* A KRD_1 that trusts the sample root, at a time when the samples were
 * valid, bound to KDH_1, whose last 1-pass time is @last. */
static PpTr34Krd *
sample_krd1 (GDateTime *last,
             PpTr34KrdState *state)
{
  g_autoptr(X509) krd1 = load_cert ("B.2.1.7_TR34_Sample_KRD_1.cert.pem");
  g_autoptr(EVP_PKEY) krd1_key = load_key ("B.2.1.7_TR34_Sample_KRD_1.key.pkcs8.pem");
  g_autoptr(X509) kdh1 = load_cert ("B.2.1.5_TR34_Sample_KDH_1.cert.pem");
  g_autoptr(X509) ca_kdh = load_cert ("B.2.1.2_TR34_Sample_CA_KDH.cert.pem");
  g_autoptr(X509) ca_krd = load_cert ("B.2.1.4_TR34_Sample_CA_KRD.cert.pem");
  g_autoptr(X509) root = load_cert ("B.2.1.1_TR34_Sample_Root.cert.pem");
  g_autoptr(GDateTime) at = g_date_time_new_utc (2015, 1, 1, 0, 0, 0);
  PpTr34Krd *krd = pp_tr34_krd_new (krd1, krd1_key);

  pp_tr34_krd_add_trusted (krd, root);
  pp_tr34_krd_add_trusted (krd, ca_kdh);
  pp_tr34_krd_add_trusted (krd, ca_krd);
  pp_tr34_krd_set_kdh_cert (krd, kdh1);
  pp_tr34_krd_set_time (krd, at);
  pp_tr34_krd_state_set_last_time (state, last);
  return krd;
}

/* B.13 (UBT_CA_UNBIND) and B.10 (RBT_CA_UNBIND): CA_KRD releases KRD_1
 * from KDH_1, or moves it to KDH_2, with a 1-pass signing time. */
static void
test_receive_ca_tokens (void)
{
  g_autoptr(GBytes) b13 = load_vector ("B.13_UBT_CA_UNBIND.der");
  g_autoptr(GBytes) b10 = NULL;
  g_autoptr(GBytes) b14 = NULL;
  g_autoptr(X509) kdh2 = NULL;
  g_autoptr(X509) rebound = NULL;
  g_autoptr(GDateTime) before = g_date_time_new_utc (2012, 1, 1, 0, 0, 0);
  g_autoptr(GDateTime) after = g_date_time_new_utc (2013, 1, 1, 0, 0, 0);
  g_autoptr(GError) error = NULL;

  b10 = load_vector ("B.10_RBT_CA_UNBIND.der");
  b14 = load_vector ("B.14_UBT_KDH.der");
  kdh2 = load_cert ("B.2.1.6_TR34_Sample_KDH_2.cert.pem");

  {
    g_autoptr(PpTr34KrdState) state = pp_tr34_krd_state_new ();
    g_autoptr(PpTr34Krd) krd = sample_krd1 (before, state);

    gboolean ok = pp_tr34_krd_receive_ca_unbind_token (krd, state, g_bytes_get_data (b13, NULL),
                                                       g_bytes_get_size (b13), &error);

    g_assert_no_error (error);
    g_assert_true (ok);
    /* B.13 has neither nonce nor time; once unbound, its replay names no
     * bound KDH and is refused. */
    g_assert_false (pp_tr34_krd_receive_ca_unbind_token (krd, state, g_bytes_get_data (b13, NULL),
                                                         g_bytes_get_size (b13), &error));
    g_assert_error (error, PP_TR34_ERROR, PP_TR34_ERROR_NONCE_MISSING);
    g_clear_error (&error);
    /* A KDH-signed unbind is not a CA unbind. */
    g_assert_false (pp_tr34_krd_receive_ca_unbind_token (krd, state, g_bytes_get_data (b14, NULL),
                                                         g_bytes_get_size (b14), &error));
    g_assert_error (error, PP_TR34_ERROR, PP_TR34_ERROR_WRONG_TOKEN_TYPE);
    g_clear_error (&error);
  }
  {
    g_autoptr(PpTr34KrdState) state = pp_tr34_krd_state_new ();
    g_autoptr(PpTr34Krd) krd = sample_krd1 (before, state);

    rebound = pp_tr34_krd_receive_ca_rebind_token (krd, state, g_bytes_get_data (b10, NULL),
                                                   g_bytes_get_size (b10), &error);
    g_assert_no_error (error);
    g_assert_nonnull (rebound);
    g_assert_cmpint (X509_cmp (rebound, kdh2), ==, 0);
    /* Now bound to KDH_2, a CA unbind naming KDH_1 is refused. */
    pp_tr34_krd_state_set_last_time (state, before);
    g_assert_false (pp_tr34_krd_receive_ca_unbind_token (krd, state, g_bytes_get_data (b13, NULL),
                                                         g_bytes_get_size (b13), &error));
    g_assert_error (error, PP_TR34_ERROR, PP_TR34_ERROR_KDH_MISMATCH);
    g_clear_error (&error);
  }
  {
    /* A signing time not newer than the last accepted one is refused. */
    g_autoptr(PpTr34KrdState) state = pp_tr34_krd_state_new ();
    g_autoptr(PpTr34Krd) krd = sample_krd1 (after, state);

    g_assert_null (pp_tr34_krd_receive_ca_rebind_token (krd, state, g_bytes_get_data (b10, NULL),
                                                        g_bytes_get_size (b10), &error));
    g_assert_error (error, PP_TR34_ERROR, PP_TR34_ERROR_STALE_SIGNING_TIME);
    g_clear_error (&error);
  }
  {
    /* Every single-byte change of either token is refused. */
    g_autoptr(PpTr34KrdState) state = pp_tr34_krd_state_new ();
    g_autoptr(PpTr34Krd) krd = sample_krd1 (before, state);
    GBytes *samples[] = { b13, b10 };

    for (guint t = 0; t < G_N_ELEMENTS (samples); t++)
      {
        gsize len = g_bytes_get_size (samples[t]);
        g_autofree guint8 *copy = g_memdup2 (g_bytes_get_data (samples[t], NULL), len);

        for (gsize i = 0; i < len; i++)
          {
            g_autoptr(GError) e = NULL;
            g_autoptr(X509) got = NULL;
            gboolean ok;

            copy[i] ^= 0x01;
            if (t == 0)
              ok = pp_tr34_krd_receive_ca_unbind_token (krd, state, copy, len, &e);
            else
              ok = (got = pp_tr34_krd_receive_ca_rebind_token (krd, state, copy, len, &e)) != NULL;
            if (ok)
              g_error ("CA token %u: byte %" G_GSIZE_FORMAT " ^ 0x01 accepted", t, i);
            g_assert_true (e != NULL && e->domain == PP_TR34_ERROR);
            copy[i] ^= 0x01;
          }
      }
  }
  {
    /* Signed by a CA other than the one that issued the KRD: CA_KDH is
     * trusted but did not issue KRD_1, and it did not sign B.13 either;
     * a KRD that does not know CA_KRD cannot find the signer. */
    g_autoptr(PpTr34KrdState) state = pp_tr34_krd_state_new ();
    g_autoptr(X509) krd1 = load_cert ("B.2.1.7_TR34_Sample_KRD_1.cert.pem");
    g_autoptr(EVP_PKEY) krd1_key = load_key ("B.2.1.7_TR34_Sample_KRD_1.key.pkcs8.pem");
    g_autoptr(X509) ca_kdh = load_cert ("B.2.1.2_TR34_Sample_CA_KDH.cert.pem");
    g_autoptr(PpTr34Krd) krd = pp_tr34_krd_new (krd1, krd1_key);

    pp_tr34_krd_add_trusted (krd, ca_kdh);
    g_assert_false (pp_tr34_krd_receive_ca_unbind_token (krd, state, g_bytes_get_data (b13, NULL),
                                                         g_bytes_get_size (b13), &error));
    g_assert_error (error, PP_TR34_ERROR, PP_TR34_ERROR_CERT_UNTRUSTED);
    g_clear_error (&error);
  }
}

static void
test_samples_tamper (void)
{
  g_autoptr(X509) kdh1 = load_cert ("B.2.1.5_TR34_Sample_KDH_1.cert.pem");
  g_autoptr(X509) ca_kdh = NULL;
  static const char * const files[] = {
    "B.8_KT_KDH_1pass.errata.der", "B.8_KT_KDH_1pass.orig.der",
    "B.9_KT_KDH_2pass.errata.der", "B.9_KT_KDH_2pass.orig.der",
    "B.11_RBT_KDH.der", "B.14_UBT_KDH.der",
  };
  static const guint8 flips[] = { 0x01, 0xFF };

  ca_kdh = load_cert ("B.2.1.2_TR34_Sample_CA_KDH.cert.pem");

  for (guint f = 0; f < G_N_ELEMENTS (files); f++)
    {
      g_autoptr(GBytes) der = load_vector (files[f]);
      g_autoptr(GError) error = NULL;
      gsize len = g_bytes_get_size (der);
      g_autofree guint8 *copy = g_memdup2 (g_bytes_get_data (der, NULL), len);

      g_test_message ("tamper %s", files[f]);
      g_assert_true (sample_accepted (copy, len, kdh1, ca_kdh, &error));
      g_assert_no_error (error);

      for (gsize i = 0; i < len; i++)
        for (guint x = 0; x < G_N_ELEMENTS (flips); x++)
          {
            g_autoptr(GError) e = NULL;

            copy[i] ^= flips[x];
            if (sample_accepted (copy, len, kdh1, ca_kdh, &e))
              g_error ("%s: byte %" G_GSIZE_FORMAT " ^ 0x%02X accepted", files[f], i, flips[x]);
            g_assert_true (e != NULL && e->domain == PP_TR34_ERROR);
            copy[i] ^= flips[x];
          }

      for (gsize n = 0; n < len; n++)
        {
          g_autoptr(GError) e = NULL;
          g_autoptr(PpTr34Token) token = pp_tr34_token_parse (copy, n, &e);

          g_assert_null (token);
          g_assert_error (e, PP_TR34_ERROR, PP_TR34_ERROR_TRUNCATED);
        }
    }
}


/* B.7 as the KDH receives it from a terminal: KRD_1 chains to the sample
 * CA_KRD at a time the samples were valid, and to nothing else. */
static void
test_receive_ct_krd (void)
{
  g_autoptr(GBytes) b7 = load_vector ("B.7_CT_KRD_KRD_1.p7b.der");
  g_autoptr(X509) ca_krd = NULL;
  g_autoptr(X509) ca_kdh = NULL;
  g_autoptr(X509) krd = NULL;
  g_autoptr(GDateTime) valid = g_date_time_new_utc (2015, 1, 1, 0, 0, 0);
  g_autoptr(GDateTime) later = g_date_time_new_utc (2025, 1, 1, 0, 0, 0);
  g_autoptr(GError) error = NULL;
  g_autofree char *serial = NULL;
  STACK_OF(X509) *trust = sk_X509_new_null ();
  STACK_OF(X509) *wrong = sk_X509_new_null ();
  const ASN1_INTEGER *s;

  if (b7 == NULL)
    {
      sk_X509_free (trust);
      sk_X509_free (wrong);
      return;
    }
  ca_krd = load_cert ("B.2.1.4_TR34_Sample_CA_KRD.cert.pem");
  ca_kdh = load_cert ("B.2.1.2_TR34_Sample_CA_KDH.cert.pem");
  sk_X509_push (trust, ca_krd);
  sk_X509_push (wrong, ca_kdh);

  krd = pp_tr34_kdh_receive_krd_credential (g_bytes_get_data (b7, NULL), g_bytes_get_size (b7),
                                            trust, "TR34 Sample KRD 1", valid, &error);
  g_assert_no_error (error);
  s = X509_get0_serialNumber (krd);
  serial = pp_hex_encode (ASN1_STRING_get0_data (s), ASN1_STRING_length (s));
  g_assert_cmpstr (serial, ==, "3400000007");

  g_assert_null (pp_tr34_kdh_receive_krd_credential (g_bytes_get_data (b7, NULL), g_bytes_get_size (b7),
                                                     trust, NULL, later, &error));
  g_assert_error (error, PP_TR34_ERROR, PP_TR34_ERROR_CERT_EXPIRED);
  g_clear_error (&error);
  g_assert_null (pp_tr34_kdh_receive_krd_credential (g_bytes_get_data (b7, NULL), g_bytes_get_size (b7),
                                                     wrong, NULL, valid, &error));
  g_assert_error (error, PP_TR34_ERROR, PP_TR34_ERROR_CERT_UNTRUSTED);
  g_clear_error (&error);
  g_assert_null (pp_tr34_kdh_receive_krd_credential (g_bytes_get_data (b7, NULL), g_bytes_get_size (b7),
                                                     trust, "TR34 Sample KRD 2", valid, &error));
  g_assert_error (error, PP_TR34_ERROR, PP_TR34_ERROR_RECIPIENT_MISMATCH);
  sk_X509_free (trust);
  sk_X509_free (wrong);
}

int
main (int    argc,
      char **argv)
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/tr34/annexb/parse-types", test_parse_types);
  g_test_add_func ("/tr34/annexb/parse-fields", test_parse_fields);
  g_test_add_func ("/tr34/annexb/signatures", test_signatures);
  g_test_add_func ("/tr34/annexb/decrypt-content", test_decrypt_content);
  g_test_add_func ("/tr34/annexb/profile-layouts", test_profile_layouts);
  g_test_add_func ("/tr34/annexb/receive-ct-krd", test_receive_ct_krd);
  g_test_add_func ("/tr34/annexb/aes-key-block", test_aes_key_block);
  g_test_add_func ("/tr34/annexb/receive-sample", test_receive_sample);
  g_test_add_func ("/tr34/annexb/oaep-defect", test_sample_oaep_defect);
  g_test_add_func ("/tr34/annexb/rebuild-b14", test_rebuild_b14);
  g_test_add_func ("/tr34/annexb/rebuild-b11", test_rebuild_b11);
  g_test_add_func ("/tr34/annexb/rebuild-b12", test_rebuild_b12);
  g_test_add_func ("/tr34/annexb/tamper", test_samples_tamper);
  g_test_add_func ("/tr34/annexb/receive-ca-tokens", test_receive_ca_tokens);

  return g_test_run ();
}
