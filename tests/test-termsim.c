/* SPDX-License-Identifier: GPL-3.0-or-later
 *
 * test-termsim.c: the simulated terminal as a station meets it: every
 * request of seam 3 on the handler, success and refusal, against a real
 * KDH from the test PKI; then the real posprov-termsim binary, over real
 * TCP (the temporary framing until the link merge), its show, a restart
 * and its folder.
 */
#include "config.h"

#include <signal.h>
#include <sys/prctl.h>
#include <string.h>
#include <sys/wait.h>

#include <gio/gunixinputstream.h>
#include <glib/gstdio.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509v3.h>

#include "pp-dukpt.h"
#include "pp-hex.h"
#include "pp-kcv.h"
#include "pp-link-tlv.h"
#include "pp-openssl-types.h"
#include "pp-program-package.h"
#include "pp-termsim.h"
#include "pp-link.h"
#include "pp-termsim-server.h"
#include "pp-test-util.h"
#include "pp-tr31.h"
#include "pp-tr34.h"
#include "tr34-test-pki.h"

G_DEFINE_AUTOPTR_CLEANUP_FUNC (X509_REQ, X509_REQ_free)

#define TMK_HEADER "A0256K0TB00E0000"

/* ---- helpers ------------------------------------------------------------ */

static GPtrArray *
trust_array (void)
{
  const PpTestPki *pki = pp_test_pki_get ();
  GPtrArray *trust = g_ptr_array_new ();

  g_ptr_array_add (trust, pki->root);
  g_ptr_array_add (trust, pki->ca_kdh);
  return trust;
}

static PpTermsim *
make_sim_full (const char *serial,
               gboolean    factory,
               GPtrArray  *program_trust,
               char      **out_dir)
{
  const PpTestPki *pki = pp_test_pki_get ();
  g_autofree char *base = pp_test_make_tmpdir ();
  g_autofree char *dir = g_build_filename (base, serial, NULL);
  g_autoptr(GPtrArray) trust = trust_array ();
  PpTermsimIdentity id = { serial, "Acme", "X1", NULL, NULL, program_trust };
  g_autoptr(GError) error = NULL;
  PpTermsim *sim;

  g_assert_true (pp_termsim_init (dir, &id, factory ? pki->ca_krd : NULL,
                                  factory ? pki->ca_krd_key : NULL, trust, &error));
  g_assert_no_error (error);
  sim = pp_termsim_open (dir, &error);
  g_assert_no_error (error);
  if (out_dir != NULL)
    *out_dir = g_steal_pointer (&dir);
  return sim;
}

static PpTermsim *
make_sim (const char *serial,
          char      **out_dir)
{
  return make_sim_full (serial, TRUE, NULL, out_dir);
}

static PpTr34Kdh *
make_kdh (X509 *cert)
{
  const PpTestPki *pki = pp_test_pki_get ();
  PpTr34Kdh *kdh = pp_tr34_kdh_new (cert, pp_tr34_sign_with_pkey, pki->kdh_key, NULL);

  pp_tr34_kdh_set_crl (kdh, pki->crl);
  return kdh;
}

typedef struct {
  guint8         status;
  GBytes        *bytes;
  PpLinkTlvIndex  tlvs;
} Answer;

static void
answer_clear (Answer *a)
{
  g_clear_pointer (&a->bytes, g_bytes_unref);
}
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (Answer, answer_clear)

static void
answer_parse (Answer *a)
{
  gsize len = 0;
  const guint8 *data = g_bytes_get_data (a->bytes, &len);

  g_assert_true (pp_link_tlv_index (data, len, &a->tlvs, NULL));
}

static void
ask (PpTermsim  *sim,
     guint8      command,
     GByteArray *payload,
     Answer     *out)
{
  g_autoptr(GBytes) bytes = payload != NULL ? g_byte_array_free_to_bytes (payload) : g_bytes_new (NULL, 0);

  out->bytes = pp_termsim_handle (sim, command, bytes, &out->status);
  g_assert_nonnull (out->bytes);
  answer_parse (out);
}

static GByteArray *
with_token (GBytes *token)
{
  GByteArray *p = g_byte_array_new ();

  pp_link_tlv_put (p, PP_TAG_TOKEN, g_bytes_get_data (token, NULL), g_bytes_get_size (token));
  return p;
}

static char *
text (const Answer *a,
      guint8        tag)
{
  char *t = pp_link_tlv_index_dup_text (&a->tlvs, tag);

  g_assert_nonnull (t);
  return t;
}

static guint64
uint_of (const Answer *a,
         guint8        tag,
         guint         width)
{
  guint64 v = 0;

  g_assert_true (pp_link_tlv_index_get_uint (&a->tlvs, tag, width, &v));
  return v;
}

static GBytes *
tlv_bytes (const Answer *a,
           guint8        tag)
{
  g_assert_nonnull (a->tlvs.value[tag]);
  return g_bytes_new (a->tlvs.value[tag], a->tlvs.len[tag]);
}

static void
assert_refused (const Answer *a,
                guint8        status,
                guint         reason)
{
  g_autofree char *message = pp_link_tlv_index_dup_text (&a->tlvs, PP_TAG_MESSAGE);

  g_assert_cmpuint (a->status, ==, status);
  g_assert_nonnull (message);
  g_assert_cmpstr (message, !=, "");
  if (reason != 0)
    g_assert_cmpuint (uint_of (a, PP_TAG_REASON, 2), ==, reason);
}

/* The KRD certificate as a KDH accepts it: CT_KRD checked against CA_KRD
 * with the terminal's serial. */
static X509 *
get_krd_cert (PpTermsim  *sim,
              const char *serial)
{
  const PpTestPki *pki = pp_test_pki_get ();
  g_auto(Answer) a = { 0, };
  g_autoptr(GBytes) token = NULL;
  STACK_OF(X509) *ca = sk_X509_new_null ();
  g_autoptr(GError) error = NULL;
  X509 *cert;

  ask (sim, PP_CMD_GET_CT_KRD, NULL, &a);
  g_assert_cmpuint (a.status, ==, PP_STATUS_OK);
  token = tlv_bytes (&a, PP_TAG_TOKEN);
  sk_X509_push (ca, pki->ca_krd);
  cert = pp_tr34_kdh_receive_krd_credential (g_bytes_get_data (token, NULL), g_bytes_get_size (token),
                                             ca, serial, NULL, &error);
  g_assert_no_error (error);
  sk_X509_free (ca);
  return cert;
}

static void
bind (PpTermsim *sim,
      PpTr34Kdh *kdh)
{
  g_auto(Answer) a = { 0, };
  g_autoptr(GError) error = NULL;
  g_autoptr(GBytes) ct = pp_tr34_kdh_build_credential_token (kdh, &error);
  g_autofree char *bound = NULL;

  g_assert_no_error (error);
  ask (sim, PP_CMD_BIND, with_token (ct), &a);
  g_assert_cmpuint (a.status, ==, PP_STATUS_OK);
  bound = text (&a, PP_TAG_BOUND_KDH);
  g_assert_nonnull (strstr (bound, "CN=Test KDH 1"));
}

static GBytes *
get_nonce (PpTermsim *sim)
{
  g_auto(Answer) a = { 0, };
  g_autoptr(GBytes) token = NULL;
  g_autoptr(PpTr34Token) parsed = NULL;
  g_autoptr(GError) error = NULL;
  GBytes *nonce;

  ask (sim, PP_CMD_GET_RT_KRD, NULL, &a);
  g_assert_cmpuint (a.status, ==, PP_STATUS_OK);
  token = tlv_bytes (&a, PP_TAG_TOKEN);
  parsed = pp_tr34_token_parse (g_bytes_get_data (token, NULL), g_bytes_get_size (token), &error);
  g_assert_no_error (error);
  g_assert_cmpint (pp_tr34_token_get_kind (parsed), ==, PP_TR34_TOKEN_RT_KRD);
  nonce = pp_tr34_token_get_nonce (parsed);
  g_assert_nonnull (nonce);
  g_assert_cmpuint (g_bytes_get_size (nonce), ==, 16);
  return g_bytes_ref (nonce);
}

static PpSecureBuffer *
random_key (gsize len)
{
  PpSecureBuffer *key = pp_secure_buffer_new (len);

  g_assert_cmpint (RAND_bytes (pp_secure_buffer_get_data (key), (int) len), ==, 1);
  return key;
}

static GBytes *
key_token (PpTr34Kdh            *kdh,
           X509                 *krd_cert,
           const PpSecureBuffer *key,
           const char           *header,
           GBytes               *nonce)
{
  g_autoptr(GError) error = NULL;
  GBytes *token = pp_tr34_kdh_build_key_token (kdh, krd_cert, key, header, PP_TR34_EPHEMERAL_AES128,
                                               nonce, NULL, &error);

  g_assert_no_error (error);
  return token;
}

static char *
kcv_tdes (const PpSecureBuffer *key)
{
  g_autoptr(GError) error = NULL;
  char *kcv = pp_kcv_compute (PP_KEY_ALGORITHM_TDES, key, 3, &error);

  g_assert_no_error (error);
  return kcv;
}

/* A bound terminal with a TMK in slot 0; returns the TMK. */
static PpSecureBuffer *
load_tmk (PpTermsim  *sim,
          const char *serial,
          PpTr34Kdh  *kdh,
          GBytes    **out_token)
{
  g_autoptr(X509) krd = get_krd_cert (sim, serial);
  g_autoptr(GBytes) nonce = NULL;
  g_autoptr(GBytes) token = NULL;
  g_autofree char *want = NULL;
  g_autofree char *kcv = NULL;
  g_auto(Answer) a = { 0, };
  PpSecureBuffer *tmk = random_key (16);

  bind (sim, kdh);
  nonce = get_nonce (sim);
  token = key_token (kdh, krd, tmk, TMK_HEADER, nonce);
  ask (sim, PP_CMD_LOAD_KEY, with_token (token), &a);
  g_assert_cmpuint (a.status, ==, PP_STATUS_OK);
  g_assert_cmpuint (uint_of (&a, PP_TAG_SLOT, 1), ==, 0);
  kcv = text (&a, PP_TAG_KCV);
  want = kcv_tdes (tmk);
  g_assert_cmpstr (kcv, ==, want);
  if (out_token != NULL)
    *out_token = g_steal_pointer (&token);
  return tmk;
}

static JsonObject *
describe (PpTermsim  *sim,
          JsonNode  **out_node)
{
  *out_node = pp_termsim_describe (sim);
  return json_node_get_object (*out_node);
}

/* ---- the handler ---------------------------------------------------------- */

static void
test_identify (void)
{
  g_autoptr(PpTermsim) sim = make_sim ("PP1001", NULL);
  g_auto(Answer) a = { 0, };
  g_auto(Answer) b = { 0, };
  g_autofree char *serial = NULL, *vendor = NULL, *model = NULL, *fw = NULL, *reported = NULL;
  PpTermsimFaults faults = { FALSE, FALSE, "PP9999", 0 };

  ask (sim, PP_CMD_IDENTIFY, NULL, &a);
  g_assert_cmpuint (a.status, ==, PP_STATUS_OK);
  serial = text (&a, PP_TAG_SERIAL);
  vendor = text (&a, PP_TAG_VENDOR);
  model = text (&a, PP_TAG_MODEL);
  fw = text (&a, PP_TAG_FIRMWARE);
  g_assert_cmpstr (serial, ==, "PP1001");
  g_assert_cmpstr (vendor, ==, "Acme");
  g_assert_cmpstr (model, ==, "X1");
  g_assert_true (g_str_has_prefix (fw, "termsim-"));
  g_assert_cmpuint (uint_of (&a, PP_TAG_PROTOCOL_VERSION, 1), ==, 1);
  g_assert_cmpuint (uint_of (&a, PP_TAG_CAPABILITIES, 4) & (PP_CAP_TR34_2PASS | PP_CAP_DUKPT), ==,
                    PP_CAP_TR34_2PASS | PP_CAP_DUKPT);
  g_assert_cmpuint (uint_of (&a, PP_TAG_TAMPER, 1), ==, 0);
  g_assert_cmpuint (uint_of (&a, PP_TAG_HAS_CERT, 1), ==, 1);
  g_assert_false (pp_link_tlv_index_has (&a.tlvs, PP_TAG_BOUND_KDH));
  g_assert_false (pp_link_tlv_index_has (&a.tlvs, PP_TAG_PROGRAM_NAME));

  /* --report-serial: the terminal lies about its serial (its certificate does not). */
  g_assert_true (pp_termsim_set_faults (sim, &faults, NULL));
  ask (sim, PP_CMD_IDENTIFY, NULL, &b);
  reported = text (&b, PP_TAG_SERIAL);
  g_assert_cmpstr (reported, ==, "PP9999");
}

static void
test_bad_requests (void)
{
  g_autoptr(PpTermsim) sim = make_sim ("PP1002", NULL);
  g_auto(Answer) unknown = { 0, };
  g_auto(Answer) truncated = { 0, };
  g_auto(Answer) repeated = { 0, };
  g_auto(Answer) no_token = { 0, };
  GByteArray *p = g_byte_array_new ();
  GByteArray *q = g_byte_array_new ();
  const guint8 cut[] = { PP_TAG_TOKEN, 0x00, 0x10, 0x01 };

  ask (sim, 0x7F, NULL, &unknown);
  assert_refused (&unknown, PP_STATUS_UNKNOWN_COMMAND, 0);
  g_byte_array_append (p, cut, sizeof cut);
  ask (sim, PP_CMD_LOAD_KEY, p, &truncated);
  assert_refused (&truncated, PP_STATUS_BAD_PAYLOAD, 0);
  pp_link_tlv_put_uint (q, PP_TAG_SLOT, 1, 1);
  pp_link_tlv_put_uint (q, PP_TAG_SLOT, 1, 2);
  ask (sim, PP_CMD_LOAD_KEY, q, &repeated);
  assert_refused (&repeated, PP_STATUS_BAD_PAYLOAD, 0);
  ask (sim, PP_CMD_LOAD_KEY, NULL, &no_token);
  assert_refused (&no_token, PP_STATUS_BAD_PAYLOAD, 0);
}

/* CSR mode: GET_CSR, the station's CA issues, PUT_CERT; the checks of a
 * certificate that is not this terminal's. */
static X509 *
issue_for (X509_REQ   *req,
           EVP_PKEY   *pub,
           const char *cn)
{
  const PpTestPki *pki = pp_test_pki_get ();
  g_autoptr(X509) cert = X509_new ();
  g_autoptr(X509_NAME) name = X509_NAME_new ();
  X509V3_CTX ctx;
  X509_EXTENSION *ext;

  X509_set_version (cert, 2);
  ASN1_INTEGER_set (X509_get_serialNumber (cert), 0x5001);
  X509_NAME_add_entry_by_txt (name, "CN", MBSTRING_ASC, (const unsigned char *) cn, -1, -1, 0);
  X509_NAME_add_entry_by_txt (name, "serialNumber", MBSTRING_ASC, (const unsigned char *) cn, -1, -1, 0);
  X509_set_subject_name (cert, name);
  X509_set_issuer_name (cert, X509_get_subject_name (pki->ca_krd));
  X509_gmtime_adj (X509_getm_notBefore (cert), -60);
  X509_gmtime_adj (X509_getm_notAfter (cert), 3600 * 24 * 365);
  X509_set_pubkey (cert, pub != NULL ? pub : X509_REQ_get0_pubkey (req));
  X509V3_set_ctx (&ctx, pki->ca_krd, cert, NULL, NULL, 0);
  ext = X509V3_EXT_nconf_nid (NULL, &ctx, NID_key_usage, "critical,digitalSignature,keyEncipherment");
  X509_add_ext (cert, ext, -1);
  X509_EXTENSION_free (ext);
  ext = X509V3_EXT_nconf_nid (NULL, &ctx, NID_basic_constraints, "critical,CA:FALSE");
  X509_add_ext (cert, ext, -1);
  X509_EXTENSION_free (ext);
  g_assert_cmpint (X509_sign (cert, pki->ca_krd_key, EVP_sha256 ()), >, 0);
  return g_steal_pointer (&cert);
}

static GByteArray *
with_cert (X509 *cert)
{
  GByteArray *p = g_byte_array_new ();
  unsigned char *der = NULL;
  int len = i2d_X509 (cert, &der);

  pp_link_tlv_put (p, PP_TAG_CERT, der, len);
  OPENSSL_free (der);
  return p;
}

static void
test_certify (void)
{
  const PpTestPki *pki = pp_test_pki_get ();
  g_autoptr(PpTermsim) sim = make_sim_full ("PP1003", FALSE, NULL, NULL);
  g_auto(Answer) no_cert = { 0, };
  g_auto(Answer) csr = { 0, };
  g_auto(Answer) other_key = { 0, };
  g_auto(Answer) other_serial = { 0, };
  g_auto(Answer) put = { 0, };
  g_auto(Answer) again = { 0, };
  g_auto(Answer) csr_after = { 0, };
  g_auto(Answer) second = { 0, };
  g_auto(Answer) id = { 0, };
  g_autoptr(X509_REQ) req = NULL;
  g_autoptr(X509) good = NULL, foreign = NULL, misnamed = NULL, another = NULL, krd = NULL;
  const unsigned char *p;

  ask (sim, PP_CMD_GET_CT_KRD, NULL, &no_cert);
  assert_refused (&no_cert, PP_STATUS_NO_CERT, 0);
  ask (sim, PP_CMD_IDENTIFY, NULL, &id);
  g_assert_cmpuint (uint_of (&id, PP_TAG_HAS_CERT, 1), ==, 0);

  ask (sim, PP_CMD_GET_CSR, NULL, &csr);
  g_assert_cmpuint (csr.status, ==, PP_STATUS_OK);
  p = csr.tlvs.value[PP_TAG_CSR];
  req = d2i_X509_REQ (NULL, &p, (long) csr.tlvs.len[PP_TAG_CSR]);
  g_assert_nonnull (req);
  g_assert_cmpint (X509_REQ_verify (req, X509_REQ_get0_pubkey (req)), ==, 1);

  /* Another key than the terminal's, or another serial: refused. */
  foreign = issue_for (req, pki->krd_key, "PP1003");
  ask (sim, PP_CMD_PUT_CERT, with_cert (foreign), &other_key);
  assert_refused (&other_key, PP_STATUS_REFUSED, PP_TERMSIM_REASON_CERT);
  misnamed = issue_for (req, NULL, "PP1004");
  ask (sim, PP_CMD_PUT_CERT, with_cert (misnamed), &other_serial);
  assert_refused (&other_serial, PP_STATUS_REFUSED, PP_TERMSIM_REASON_CERT);

  good = issue_for (req, NULL, "PP1003");
  ask (sim, PP_CMD_PUT_CERT, with_cert (good), &put);
  g_assert_cmpuint (put.status, ==, PP_STATUS_OK);
  /* A retry of the same certificate is fine, another one is not. */
  ask (sim, PP_CMD_PUT_CERT, with_cert (good), &again);
  g_assert_cmpuint (again.status, ==, PP_STATUS_OK);
  another = issue_for (req, NULL, "PP1003");
  ASN1_INTEGER_set (X509_get_serialNumber (another), 0x5002);
  X509_sign (another, pki->ca_krd_key, EVP_sha256 ());
  ask (sim, PP_CMD_PUT_CERT, with_cert (another), &second);
  assert_refused (&second, PP_STATUS_REFUSED, PP_TERMSIM_REASON_STATE);
  ask (sim, PP_CMD_GET_CSR, NULL, &csr_after);
  assert_refused (&csr_after, PP_STATUS_REFUSED, PP_TERMSIM_REASON_STATE);

  /* The CT_KRD now carries that certificate, as the KDH checks it. */
  krd = get_krd_cert (sim, "PP1003");
  g_assert_cmpint (X509_cmp (krd, good), ==, 0);
}

static void
test_bind_and_load (void)
{
  g_autofree char *dir = NULL;
  g_autoptr(PpTermsim) sim = make_sim ("PP1005", &dir);
  g_autoptr(PpTr34Kdh) kdh = make_kdh (pp_test_pki_get ()->kdh);
  g_autoptr(GBytes) token = NULL;
  g_autoptr(PpSecureBuffer) tmk = NULL;
  g_autofree char *want = NULL;
  g_auto(Answer) replay = { 0, };
  g_auto(Answer) id = { 0, };
  g_auto(Answer) status = { 0, };
  g_autoptr(JsonNode) node = NULL;
  g_autofree char *bound = NULL, *summary = NULL;
  JsonObject *shown;
  JsonArray *keys;

  tmk = load_tmk (sim, "PP1005", kdh, &token);
  want = kcv_tdes (tmk);

  /* The same KT_KDH again: its nonce is spent. */
  ask (sim, PP_CMD_LOAD_KEY, with_token (token), &replay);
  assert_refused (&replay, PP_STATUS_REFUSED, PP_TERMSIM_REASON_TR34 + PP_TR34_ERROR_NONCE_REUSED);

  ask (sim, PP_CMD_IDENTIFY, NULL, &id);
  bound = text (&id, PP_TAG_BOUND_KDH);
  g_assert_nonnull (strstr (bound, "CN=Test KDH 1"));
  ask (sim, PP_CMD_STATUS, NULL, &status);
  summary = text (&status, PP_TAG_MESSAGE);
  g_assert_nonnull (strstr (summary, want));

  shown = describe (sim, &node);
  keys = json_object_get_array_member (shown, "keys");
  g_assert_cmpuint (json_array_get_length (keys), ==, 1);
  g_assert_cmpstr (json_object_get_string_member (json_array_get_object_element (keys, 0), "kcv"), ==, want);
  g_assert_cmpstr (json_object_get_string_member (json_array_get_object_element (keys, 0), "usage"), ==, "K0");
  g_assert_false (json_object_has_member (json_array_get_object_element (keys, 0), "sealed"));
}

static void
test_refusals (void)
{
  const PpTestPki *pki = pp_test_pki_get ();
  g_autoptr(PpTermsim) sim = make_sim ("PP1006", NULL);
  g_autoptr(PpTr34Kdh) kdh = make_kdh (pki->kdh);
  g_autoptr(X509) krd = get_krd_cert (sim, "PP1006");
  g_autoptr(PpSecureBuffer) key = random_key (16);
  g_autoptr(GBytes) nonce1 = NULL, nonce2 = NULL;
  g_autoptr(GBytes) unbound = NULL, wrong = NULL, right = NULL;
  g_auto(Answer) a1 = { 0, };
  g_auto(Answer) a2 = { 0, };
  g_auto(Answer) a3 = { 0, };
  g_auto(Answer) a4 = { 0, };
  g_auto(Answer) a5 = { 0, };

  /* Not bound: refused, and the nonce is gone for good. */
  nonce1 = get_nonce (sim);
  unbound = key_token (kdh, krd, key, TMK_HEADER, nonce1);
  ask (sim, PP_CMD_LOAD_KEY, with_token (unbound), &a1);
  assert_refused (&a1, PP_STATUS_NOT_BOUND, 0);
  bind (sim, kdh);
  ask (sim, PP_CMD_LOAD_KEY, with_token (unbound), &a2);
  assert_refused (&a2, PP_STATUS_REFUSED, PP_TERMSIM_REASON_TR34 + PP_TR34_ERROR_NONCE_REUSED);

  /* For another terminal: refused, and its nonce spent too. */
  nonce2 = get_nonce (sim);
  wrong = key_token (kdh, pki->krd, key, TMK_HEADER, nonce2);
  ask (sim, PP_CMD_LOAD_KEY, with_token (wrong), &a3);
  assert_refused (&a3, PP_STATUS_REFUSED, PP_TERMSIM_REASON_TR34 + PP_TR34_ERROR_RECIPIENT_MISMATCH);
  right = key_token (kdh, krd, key, TMK_HEADER, nonce2);
  ask (sim, PP_CMD_LOAD_KEY, with_token (right), &a4);
  assert_refused (&a4, PP_STATUS_REFUSED, PP_TERMSIM_REASON_TR34 + PP_TR34_ERROR_NONCE_REUSED);

  /* A second KDH's CT_KDH while bound: refused (rebind instead). */
  {
    g_autoptr(PpTr34Kdh) other = make_kdh (pki->kdh_other);
    g_autoptr(GBytes) ct = pp_tr34_kdh_build_credential_token (other, NULL);

    ask (sim, PP_CMD_BIND, with_token (ct), &a5);
    assert_refused (&a5, PP_STATUS_REFUSED, PP_TERMSIM_REASON_STATE);
  }
}

static void
test_tampered (void)
{
  const PpTestPki *pki = pp_test_pki_get ();
  g_autoptr(PpTermsim) sim = make_sim ("PP1007", NULL);
  g_autoptr(PpTr34Kdh) kdh = make_kdh (pki->kdh);
  g_autoptr(PpSecureBuffer) tmk = load_tmk (sim, "PP1007", kdh, NULL);
  g_autoptr(X509) krd = get_krd_cert (sim, "PP1007");
  g_autoptr(GBytes) nonce = get_nonce (sim);
  g_autoptr(GBytes) token = key_token (kdh, krd, tmk, TMK_HEADER, nonce);
  g_autoptr(JsonNode) node = NULL;
  PpTermsimFaults faults = { TRUE, FALSE, NULL, 0 };
  g_auto(Answer) a = { 0, };
  g_auto(Answer) id = { 0, };
  JsonObject *shown;

  g_assert_true (pp_termsim_set_faults (sim, &faults, NULL));
  ask (sim, PP_CMD_LOAD_KEY, with_token (token), &a);
  assert_refused (&a, PP_STATUS_TAMPERED, 0);
  ask (sim, PP_CMD_IDENTIFY, NULL, &id);
  g_assert_cmpuint (uint_of (&id, PP_TAG_TAMPER, 1), ==, 1);
  shown = describe (sim, &node);
  g_assert_true (json_object_get_boolean_member (shown, "tamper"));
  /* The tamper response erased the keys. */
  g_assert_cmpuint (json_array_get_length (json_object_get_array_member (shown, "keys")), ==, 0);
}

static void
test_clock_skew (void)
{
  const PpTestPki *pki = pp_test_pki_get ();
  g_autoptr(PpTermsim) sim = make_sim ("PP1008", NULL);
  g_autoptr(PpTr34Kdh) kdh = make_kdh (pki->kdh);
  g_autoptr(GBytes) ct = pp_tr34_kdh_build_credential_token (kdh, NULL);
  g_autoptr(GDateTime) now = g_date_time_new_now_utc ();
  g_autoptr(GDateTime) after = g_date_time_new_utc (2041, 1, 1, 0, 0, 0);
  PpTermsimFaults faults = { FALSE, FALSE, NULL, g_date_time_difference (after, now) / G_TIME_SPAN_SECOND };
  g_auto(Answer) a = { 0, };
  g_auto(Answer) b = { 0, };

  /* The KDH certificate ends in 2040: a terminal whose clock says 2041 refuses it. */
  g_assert_true (pp_termsim_set_faults (sim, &faults, NULL));
  ask (sim, PP_CMD_BIND, with_token (ct), &a);
  assert_refused (&a, PP_STATUS_REFUSED, PP_TERMSIM_REASON_TR34 + PP_TR34_ERROR_CERT_EXPIRED);
  faults.clock_skew = 0;
  g_assert_true (pp_termsim_set_faults (sim, &faults, NULL));
  ask (sim, PP_CMD_BIND, with_token (ct), &b);
  g_assert_cmpuint (b.status, ==, PP_STATUS_OK);
}

static void
test_rebind_unbind_zeroize (void)
{
  const PpTestPki *pki = pp_test_pki_get ();
  g_autoptr(PpTermsim) sim = make_sim ("PP1009", NULL);
  g_autoptr(PpTr34Kdh) kdh = make_kdh (pki->kdh);
  g_autoptr(PpTr34Kdh) kdh2 = make_kdh (pki->kdh_other);
  g_autoptr(PpSecureBuffer) tmk G_GNUC_UNUSED = load_tmk (sim, "PP1009", kdh, NULL);
  g_autoptr(X509) krd = get_krd_cert (sim, "PP1009");
  g_autoptr(GBytes) n1 = get_nonce (sim);
  g_autoptr(GBytes) rbt = pp_tr34_kdh_build_rebind_token (kdh, krd, pki->kdh_other, n1, NULL);
  g_autoptr(GBytes) n2 = NULL, ubt = NULL, stale = NULL, n3 = NULL;
  g_autoptr(JsonNode) node = NULL;
  g_auto(Answer) a = { 0, };
  g_auto(Answer) b = { 0, };
  g_auto(Answer) c = { 0, };
  g_auto(Answer) d = { 0, };
  g_auto(Answer) id = { 0, };
  g_auto(Answer) z = { 0, };
  g_autofree char *bound = NULL;
  JsonObject *shown;

  g_assert_nonnull (rbt);
  ask (sim, PP_CMD_REBIND, with_token (rbt), &a);
  g_assert_cmpuint (a.status, ==, PP_STATUS_OK);
  bound = text (&a, PP_TAG_BOUND_KDH);
  g_assert_nonnull (strstr (bound, "CN=Test KDH 3"));

  /* The old KDH may no longer unbind it; the new one may. */
  n2 = get_nonce (sim);
  stale = pp_tr34_kdh_build_unbind_token (kdh, krd, n2, NULL);
  ask (sim, PP_CMD_UNBIND, with_token (stale), &b);
  g_assert_cmpuint (b.status, ==, PP_STATUS_REFUSED);
  n3 = get_nonce (sim);
  ubt = pp_tr34_kdh_build_unbind_token (kdh2, krd, n3, NULL);
  ask (sim, PP_CMD_UNBIND, with_token (ubt), &c);
  g_assert_cmpuint (c.status, ==, PP_STATUS_OK);
  ask (sim, PP_CMD_IDENTIFY, NULL, &id);
  g_assert_false (pp_link_tlv_index_has (&id.tlvs, PP_TAG_BOUND_KDH));
  ask (sim, PP_CMD_UNBIND, with_token (ubt), &d);
  assert_refused (&d, PP_STATUS_NOT_BOUND, 0);

  /* Zeroize: keys and binding gone, the certificate kept. */
  bind (sim, kdh);
  ask (sim, PP_CMD_ZEROIZE, NULL, &z);
  g_assert_cmpuint (z.status, ==, PP_STATUS_OK);
  shown = describe (sim, &node);
  g_assert_cmpuint (json_array_get_length (json_object_get_array_member (shown, "keys")), ==, 0);
  g_assert_true (json_node_is_null (json_object_get_member (shown, "bound_kdh")));
  g_assert_true (JSON_NODE_HOLDS_OBJECT (json_object_get_member (shown, "certificate")));
}

/* A DUKPT initial key with its KSN in KS: the terminal derives the key of
 * its first transaction, as the host would. */
static void
test_dukpt (void)
{
  const PpTestPki *pki = pp_test_pki_get ();
  g_autoptr(PpTermsim) sim = make_sim ("PP1010", NULL);
  g_autoptr(PpTr34Kdh) kdh = make_kdh (pki->kdh);
  g_autoptr(PpSecureBuffer) tmk G_GNUC_UNUSED = load_tmk (sim, "PP1010", kdh, NULL);
  g_autoptr(X509) krd = get_krd_cert (sim, "PP1010");
  g_autoptr(GBytes) nonce = get_nonce (sim);
  g_autoptr(PpSecureBuffer) ipek = random_key (16);
  const char *header = "A0000B1TX00N0100KS18FFFF9876543210E00000";
  g_autoptr(GBytes) token = key_token (kdh, krd, ipek, header, nonce);
  const guint8 ksn1[10] = { 0xFF, 0xFF, 0x98, 0x76, 0x54, 0x32, 0x10, 0xE0, 0x00, 0x01 };
  g_autoptr(PpSecureBuffer) tk = pp_dukpt_tdes_derive_transaction_key (ipek, ksn1, 10, NULL);
  g_autofree char *tk_kcv = kcv_tdes (tk);
  g_autoptr(GByteArray) p = with_token (token);
  g_autoptr(JsonNode) node = NULL;
  g_auto(Answer) a = { 0, };
  JsonObject *shown, *dukpt = NULL;
  JsonArray *keys;

  pp_link_tlv_put_uint (p, PP_TAG_SLOT, 1, 1);
  ask (sim, PP_CMD_LOAD_KEY, g_steal_pointer (&p), &a);
  g_assert_cmpuint (a.status, ==, PP_STATUS_OK);
  g_assert_cmpuint (uint_of (&a, PP_TAG_SLOT, 1), ==, 1);
  shown = describe (sim, &node);
  keys = json_object_get_array_member (shown, "keys");
  for (guint i = 0; i < json_array_get_length (keys); i++)
    if (json_object_get_int_member (json_array_get_object_element (keys, i), "slot") == 1)
      dukpt = json_object_get_object_member (json_array_get_object_element (keys, i), "dukpt");
  g_assert_nonnull (dukpt);
  g_assert_cmpstr (json_object_get_string_member (dukpt, "ksn"), ==, "FFFF9876543210E00001");
  g_assert_cmpstr (json_object_get_string_member (dukpt, "transaction_kcv"), ==, tk_kcv);
}

static GByteArray *
sign_on_payload (guint32     operator_id,
                 const char *password,
                 const char *pin_block,
                 const char *mac_block)
{
  GByteArray *p = g_byte_array_new ();

  pp_link_tlv_put_uint (p, PP_TAG_OPERATOR, 4, operator_id);
  pp_link_tlv_put_text (p, PP_TAG_PASSWORD, password);
  pp_link_tlv_put_text (p, PP_TAG_KEY_BLOCK, pin_block);
  pp_link_tlv_put_text (p, PP_TAG_KEY_BLOCK_MAC, mac_block);
  return p;
}

static guint
held_keys (PpTermsim *sim)
{
  g_autoptr(JsonNode) node = NULL;

  return json_array_get_length (json_object_get_array_member (describe (sim, &node), "keys"));
}

/* SIGN_ON with @pin_header and @mac_header over fresh keys under @tmk is
 * refused with REASON KEY_BLOCK and a MESSAGE containing @why; no working
 * key is kept. */
static void
assert_sign_on_refused (PpTermsim            *sim,
                        const PpSecureBuffer *tmk,
                        const char           *pin_header,
                        const char           *mac_header,
                        const char           *why)
{
  g_autoptr(PpSecureBuffer) pin = random_key (16);
  g_autoptr(PpSecureBuffer) mac = random_key (16);
  g_autoptr(GError) error = NULL;
  g_autofree char *pin_block = pp_tr31_wrap (tmk, pin_header, pin, &error);
  g_autofree char *mac_block = pp_tr31_wrap (tmk, mac_header, mac, &error);
  g_autofree char *message = NULL;
  guint before = held_keys (sim);
  g_auto(Answer) a = { 0, };

  g_assert_no_error (error);
  ask (sim, PP_CMD_SIGN_ON, sign_on_payload (1, "1234", pin_block, mac_block), &a);
  assert_refused (&a, PP_STATUS_REFUSED, PP_TERMSIM_REASON_KEY_BLOCK);
  message = text (&a, PP_TAG_MESSAGE);
  g_assert_nonnull (strstr (message, why));
  g_assert_cmpuint (held_keys (sim), ==, before);
}

static void
test_sign_on (void)
{
  const PpTestPki *pki = pp_test_pki_get ();
  g_autoptr(PpTermsim) sim = make_sim ("PP1011", NULL);
  g_autoptr(PpTr34Kdh) kdh = make_kdh (pki->kdh);
  g_autoptr(PpSecureBuffer) tmk = load_tmk (sim, "PP1011", kdh, NULL);
  g_autoptr(PpSecureBuffer) other_tmk = random_key (16);
  g_autoptr(PpSecureBuffer) pin = random_key (16);
  g_autoptr(PpSecureBuffer) mac = random_key (16);
  g_autoptr(GError) error = NULL;
  g_autofree char *pin_block = pp_tr31_wrap (tmk, "B0000P0TE00N0000", pin, &error);
  g_autofree char *mac_block = pp_tr31_wrap (tmk, "B0000M3TC00N0000", mac, &error);
  g_autofree char *same_block = pp_tr31_wrap (tmk, "B0000M3TC00N0000", pin, &error);
  g_autofree char *foreign_block = pp_tr31_wrap (other_tmk, "B0000P0TE00N0000", pin, &error);
  g_autofree char *want = kcv_tdes (pin);
  g_autofree char *want_mac = kcv_tdes (mac);
  g_autofree char *kcv = NULL, *mac_kcv = NULL, *summary = NULL;
  g_auto(Answer) wrong = { 0, };
  g_auto(Answer) stranger = { 0, };
  g_auto(Answer) foreign = { 0, };
  g_auto(Answer) same = { 0, };
  g_auto(Answer) ok = { 0, };
  g_auto(Answer) status = { 0, };
  g_auto(Answer) off = { 0, };
  g_auto(Answer) tampered = { 0, };
  PpTermsimFaults faults = { TRUE, FALSE, NULL, 0 };
  const guint8 *keys;
  gsize keys_len;

  g_assert_no_error (error);
  ask (sim, PP_CMD_SIGN_ON, sign_on_payload (1, "4321", pin_block, mac_block), &wrong);
  assert_refused (&wrong, PP_STATUS_REFUSED, PP_TERMSIM_REASON_SIGN_ON);
  ask (sim, PP_CMD_SIGN_ON, sign_on_payload (7, "1234", pin_block, mac_block), &stranger);
  assert_refused (&stranger, PP_STATUS_REFUSED, PP_TERMSIM_REASON_SIGN_ON);
  /* A block under another master key fails its MAC. */
  ask (sim, PP_CMD_SIGN_ON, sign_on_payload (1, "1234", foreign_block, mac_block), &foreign);
  assert_refused (&foreign, PP_STATUS_REFUSED, PP_TERMSIM_REASON_KEY_BLOCK);
  ask (sim, PP_CMD_SIGN_ON, sign_on_payload (1, "1234", pin_block, same_block), &same);
  assert_refused (&same, PP_STATUS_REFUSED, PP_TERMSIM_REASON_KEY_BLOCK);
  /* The header: usage, mode of use, exportability, version. */
  assert_sign_on_refused (sim, tmk, "B0000P0TD00N0000", "B0000M3TC00N0000", "mode of use D");
  assert_sign_on_refused (sim, tmk, "B0000P0TE00E0000", "B0000M3TC00N0000", "exportability E");
  assert_sign_on_refused (sim, tmk, "B0000P0TE00N0000", "B0000M3TV00N0000", "mode of use V");
  assert_sign_on_refused (sim, tmk, "B0000P0TE00N0000", "B0000D0TB00N0000", "key usage D0");
  assert_sign_on_refused (sim, tmk, "B0000M3TC00N0000", "B0000M3TC00N0000", "key usage M3");
  assert_sign_on_refused (sim, tmk, "A0000P0TE00N0000", "B0000M3TC00N0000", "version A");
  g_assert_cmpuint (held_keys (sim), ==, 1);

  ask (sim, PP_CMD_SIGN_ON, sign_on_payload (1, "1234", pin_block, mac_block), &ok);
  g_assert_cmpuint (ok.status, ==, PP_STATUS_OK);
  kcv = text (&ok, PP_TAG_KCV);
  g_assert_cmpstr (kcv, ==, want);
  mac_kcv = text (&ok, PP_TAG_KCV_MAC);
  g_assert_cmpstr (mac_kcv, ==, want_mac);
  g_assert_cmpuint (held_keys (sim), ==, 3);

  /* STATUS lists the working keys: slot, working flag, usage, KCV. */
  ask (sim, PP_CMD_STATUS, NULL, &status);
  g_assert_cmpuint (status.status, ==, PP_STATUS_OK);
  keys = status.tlvs.value[PP_TAG_KEYS];
  keys_len = status.tlvs.len[PP_TAG_KEYS];
  g_assert_nonnull (keys);
  g_assert_cmpuint (keys_len, ==, 3 * 5 + 3 * 6);
  g_assert_cmpuint (keys[11], ==, 0x80);
  g_assert_cmpuint (keys[12], ==, 1);
  g_assert_cmpmem (keys + 13, 2, "P0", 2);
  g_assert_cmpuint (keys[15], ==, 6);
  g_assert_cmpmem (keys + 16, 6, want, 6);
  g_assert_cmpuint (keys[22], ==, 0x81);
  g_assert_cmpmem (keys + 24, 2, "M3", 2);
  g_assert_cmpmem (keys + 27, 6, want_mac, 6);
  summary = text (&status, PP_TAG_MESSAGE);
  g_assert_nonnull (strstr (summary, want_mac));

  ask (sim, PP_CMD_SIGN_OFF, NULL, &off);
  g_assert_cmpuint (off.status, ==, PP_STATUS_OK);
  g_assert_cmpuint (held_keys (sim), ==, 1);

  /* Tampered: no sign-on, whatever the password. */
  g_assert_true (pp_termsim_set_faults (sim, &faults, NULL));
  ask (sim, PP_CMD_SIGN_ON, sign_on_payload (1, "1234", pin_block, mac_block), &tampered);
  assert_refused (&tampered, PP_STATUS_TAMPERED, 0);
  g_assert_cmpuint (held_keys (sim), ==, 0);
}

static GByteArray *
program_begin (const char *version,
               GBytes     *program)
{
  GByteArray *p = g_byte_array_new ();
  guint8 sha[32];
  gsize sha_len = sizeof sha;
  g_autoptr(GChecksum) sum = g_checksum_new (G_CHECKSUM_SHA256);

  g_checksum_update (sum, g_bytes_get_data (program, NULL), (gssize) g_bytes_get_size (program));
  g_checksum_get_digest (sum, sha, &sha_len);
  pp_link_tlv_put_text (p, PP_TAG_PROGRAM_NAME, "payment");
  pp_link_tlv_put_text (p, PP_TAG_PROGRAM_VERSION, version);
  pp_link_tlv_put_uint (p, PP_TAG_SIZE, 8, g_bytes_get_size (program));
  pp_link_tlv_put (p, PP_TAG_SHA256, sha, sizeof sha);
  return p;
}

static GByteArray *
program_block (GBytes *program,
               gsize   from,
               gsize   len)
{
  GByteArray *p = g_byte_array_new ();

  pp_link_tlv_put_uint (p, PP_TAG_OFFSET, 8, from);
  pp_link_tlv_put (p, PP_TAG_DATA, (const guint8 *) g_bytes_get_data (program, NULL) + from, len);
  return p;
}

/* The manifest of docs/program-package.md for "payment" @version, one
 * file holding @program, a signature file (the first kind in the order). */
static char *
program_manifest (const char *version,
                  GBytes     *program)
{
  const char *models[] = { "X1", NULL };
  const char *names[] = { "payment.bin", NULL };
  guint64 size = g_bytes_get_size (program);
  guint8 sha[32];
  const guint8 *sums[] = { sha };
  gsize sha_len = sizeof sha;
  g_autoptr(GChecksum) sum = g_checksum_new (G_CHECKSUM_SHA256);
  g_autoptr(GBytes) m = NULL;
  g_autoptr(GError) error = NULL;

  g_checksum_update (sum, g_bytes_get_data (program, NULL), (gssize) size);
  g_checksum_get_digest (sum, sha, &sha_len);
  m = pp_program_manifest_build ("payment", version, PP_PROGRAM_KIND_SIGNATURE_FILE, models, 1,
                                 names, &size, sums, &error);
  g_assert_no_error (error);
  return g_strndup (g_bytes_get_data (m, NULL), g_bytes_get_size (m));
}

/* MANIFEST signed by @signer, with the certificate @cert. */
static GByteArray *
program_commit (const char *manifest,
                EVP_PKEY   *signer,
                X509       *cert)
{
  GByteArray *p = g_byte_array_new ();
  g_autoptr(EVP_MD_CTX) ctx = EVP_MD_CTX_new ();
  guint8 sig[512];
  size_t sig_len = sizeof sig;
  guint8 *der = NULL;
  int der_len = i2d_X509 (cert, &der);

  g_assert_cmpint (EVP_DigestSignInit (ctx, NULL, EVP_sha256 (), NULL, signer), ==, 1);
  g_assert_cmpint (EVP_DigestSign (ctx, sig, &sig_len, (const guint8 *) manifest, strlen (manifest)), ==, 1);
  pp_link_tlv_put (p, PP_TAG_SIGNATURE, sig, sig_len);
  pp_link_tlv_put_text (p, PP_TAG_MANIFEST, manifest);
  pp_link_tlv_put (p, PP_TAG_CERT, der, (gsize) der_len);
  OPENSSL_free (der);
  return p;
}

static void
test_program (void)
{
  const PpTestPki *pki = pp_test_pki_get ();
  g_autoptr(GPtrArray) signers = g_ptr_array_new ();
  g_autoptr(PpTermsim) sim = NULL;
  g_autoptr(GBytes) program = NULL;
  guint8 *data = g_malloc (10000);
  g_autofree char *manifest = NULL;
  g_auto(Answer) begin = { 0, };
  g_auto(Answer) blk = { 0, };
  g_auto(Answer) resume = { 0, };
  g_auto(Answer) rest = { 0, };
  g_auto(Answer) forged = { 0, };
  g_auto(Answer) commit = { 0, };
  g_auto(Answer) id = { 0, };
  g_auto(Answer) gap = { 0, };
  g_autofree char *name = NULL, *version = NULL;
  g_autoptr(JsonNode) node = NULL;

  g_ptr_array_add (signers, pki->kdh);  /* a program-signing certificate for the test */
  sim = make_sim_full ("PP1012", TRUE, signers, NULL);
  for (guint i = 0; i < 10000; i++)
    data[i] = (guint8) (i * 7);
  program = g_bytes_new_take (data, 10000);
  manifest = program_manifest ("2.0", program);

  ask (sim, PP_CMD_PROGRAM_BEGIN, program_begin ("2.0", program), &begin);
  g_assert_cmpuint (begin.status, ==, PP_STATUS_OK);
  g_assert_cmpuint (uint_of (&begin, PP_TAG_OFFSET, 8), ==, 0);
  ask (sim, PP_CMD_PROGRAM_BLOCK, program_block (program, 0, 6000), &blk);
  g_assert_cmpuint (uint_of (&blk, PP_TAG_OFFSET, 8), ==, 6000);
  ask (sim, PP_CMD_PROGRAM_BLOCK, program_block (program, 7000, 1000), &gap);
  assert_refused (&gap, PP_STATUS_REFUSED, PP_TERMSIM_REASON_STATE);
  /* After a disconnect the same program resumes where it stopped. */
  ask (sim, PP_CMD_PROGRAM_BEGIN, program_begin ("2.0", program), &resume);
  g_assert_cmpuint (uint_of (&resume, PP_TAG_OFFSET, 8), ==, 6000);
  ask (sim, PP_CMD_PROGRAM_BLOCK, program_block (program, 5000, 5000), &rest);
  g_assert_cmpuint (uint_of (&rest, PP_TAG_OFFSET, 8), ==, 10000);

  /* Signed by a key the terminal does not trust: refused, nothing installed. */
  ask (sim, PP_CMD_PROGRAM_COMMIT, program_commit (manifest, pki->root_key, pki->kdh), &forged);
  assert_refused (&forged, PP_STATUS_REFUSED, PP_REASON_PROGRAM_SIGNATURE);
  ask (sim, PP_CMD_IDENTIFY, NULL, &id);
  g_assert_false (pp_link_tlv_index_has (&id.tlvs, PP_TAG_PROGRAM_NAME));

  ask (sim, PP_CMD_PROGRAM_COMMIT, program_commit (manifest, pki->kdh_key, pki->kdh), &commit);
  g_assert_cmpuint (commit.status, ==, PP_STATUS_OK);
  name = text (&commit, PP_TAG_PROGRAM_NAME);
  version = text (&commit, PP_TAG_PROGRAM_VERSION);
  g_assert_cmpstr (name, ==, "payment");
  g_assert_cmpstr (version, ==, "2.0");
  g_assert_cmpstr (json_object_get_string_member (json_object_get_object_member (describe (sim, &node),
                                                                                 "program"), "version"),
                   ==, "2.0");
}

static void
test_refuse_program (void)
{
  const PpTestPki *pki = pp_test_pki_get ();
  g_autoptr(GPtrArray) signers = g_ptr_array_new ();
  g_autoptr(PpTermsim) sim = NULL;
  g_autoptr(GBytes) program = g_bytes_new_static ("tiny", 4);
  PpTermsimFaults faults = { FALSE, TRUE, NULL, 0 };
  g_auto(Answer) begin = { 0, };
  g_auto(Answer) blk = { 0, };
  g_auto(Answer) commit = { 0, };

  g_ptr_array_add (signers, pki->kdh);
  sim = make_sim_full ("PP1013", TRUE, signers, NULL);
  g_assert_true (pp_termsim_set_faults (sim, &faults, NULL));
  ask (sim, PP_CMD_PROGRAM_BEGIN, program_begin ("1", program), &begin);
  ask (sim, PP_CMD_PROGRAM_BLOCK, program_block (program, 0, 4), &blk);
  {
    g_autofree char *manifest = program_manifest ("1", program);

    ask (sim, PP_CMD_PROGRAM_COMMIT, program_commit (manifest, pki->kdh_key, pki->kdh), &commit);
  }
  assert_refused (&commit, PP_STATUS_REFUSED, PP_REASON_PROGRAM);
}

/* The folder is the terminal: a reopened one is still bound, still holds
 * the key, and still refuses the spent nonce. */
static guint64
inode_of (const char *path)
{
  GStatBuf st;

  g_assert_cmpint (g_stat (path, &st), ==, 0);
  return (guint64) st.st_ino;
}

static char *
ledger_text (const char *dir)
{
  g_autofree char *path = g_build_filename (dir, "nonces.log", NULL);
  char *text = NULL;

  g_assert_true (g_file_get_contents (path, &text, NULL, NULL));
  return text;
}

/* Nonces go to an append-only ledger: GET_RT_KRD adds a line and leaves
 * krd-state alone (it used to be rewritten and fsync'd at every step),
 * LOAD_KEY adds the spent line. After a restart the ledger is replayed: a
 * replayed LOAD_KEY is refused, a nonce issued before is good once, a torn
 * last line (a crash half-way through a write) is cut off, and after
 * LEDGER_COMPACT lines the snapshot takes over and the ledger starts empty. */
static void
test_nonce_ledger (void)
{
  const PpTestPki *pki = pp_test_pki_get ();
  g_autofree char *dir = NULL;
  g_autoptr(PpTermsim) sim = make_sim ("PP1090", &dir);
  g_autoptr(PpTr34Kdh) kdh = make_kdh (pki->kdh);
  g_autoptr(X509) krd = get_krd_cert (sim, "PP1090");
  g_autofree char *snapshot = g_build_filename (dir, "krd-state", NULL);
  g_autofree char *ledger = g_build_filename (dir, "nonces.log", NULL);
  g_autoptr(GBytes) nonce = NULL, nonce2 = NULL;
  g_autoptr(GBytes) token = NULL, token2 = NULL;
  g_autoptr(PpSecureBuffer) tmk = random_key (16), tmk2 = random_key (16);
  g_autoptr(GError) error = NULL;
  g_autofree char *hex = NULL, *text = NULL, *want = NULL;
  g_auto(Answer) loaded = { 0, };
  g_auto(Answer) replay = { 0, };
  g_auto(Answer) later = { 0, };
  g_auto(Answer) replay_again = { 0, };
  guint64 inode;

  bind (sim, kdh);
  inode = inode_of (snapshot);
  nonce = get_nonce (sim);
  hex = pp_hex_encode (g_bytes_get_data (nonce, NULL), 16);
  g_assert_cmpuint (inode_of (snapshot), ==, inode);
  text = ledger_text (dir);
  want = g_strdup_printf ("I %s\n", hex);
  g_assert_cmpstr (text, ==, want);

  token = key_token (kdh, krd, tmk, TMK_HEADER, nonce);
  ask (sim, PP_CMD_LOAD_KEY, with_token (token), &loaded);
  g_assert_cmpuint (loaded.status, ==, PP_STATUS_OK);
  g_assert_cmpuint (inode_of (snapshot), ==, inode);
  g_clear_pointer (&text, g_free);
  g_clear_pointer (&want, g_free);
  text = ledger_text (dir);
  want = g_strdup_printf ("I %s\nS %s\n", hex, hex);
  g_assert_cmpstr (text, ==, want);

  /* One more nonce, then the machine "crashes" in the middle of a line. */
  nonce2 = get_nonce (sim);
  token2 = key_token (kdh, krd, tmk2, TMK_HEADER, nonce2);
  g_clear_pointer (&sim, pp_termsim_unref);
  {
    g_autofree char *whole = ledger_text (dir);
    g_autofree char *torn = g_strconcat (whole, "S 00112233", NULL);

    g_assert_true (g_file_set_contents (ledger, torn, -1, NULL));
  }
  sim = pp_termsim_open (dir, &error);
  g_assert_no_error (error);
  ask (sim, PP_CMD_LOAD_KEY, with_token (token), &replay);
  assert_refused (&replay, PP_STATUS_REFUSED, PP_TERMSIM_REASON_TR34 + PP_TR34_ERROR_NONCE_REUSED);
  ask (sim, PP_CMD_LOAD_KEY, with_token (token2), &later);
  g_assert_cmpuint (later.status, ==, PP_STATUS_OK);
  g_clear_pointer (&text, g_free);
  text = ledger_text (dir);
  g_assert_null (strstr (text, "00112233\n"));
  g_assert_true (g_str_has_suffix (text, "\n"));
  g_assert_cmpuint (strlen (text) % (2 + 32 + 1), ==, 0);   /* whole lines only */

  /* Many nonces: the snapshot is rewritten, the ledger emptied, and what
   * was spent stays spent across another restart. */
  for (guint i = 0; i < 70; i++)
    g_bytes_unref (get_nonce (sim));
  g_assert_cmpuint (inode_of (snapshot), !=, inode);
  g_clear_pointer (&text, g_free);
  text = ledger_text (dir);
  g_assert_cmpuint (strlen (text), <, 64 * (2 + 32 + 1));
  g_clear_pointer (&sim, pp_termsim_unref);
  sim = pp_termsim_open (dir, &error);
  g_assert_no_error (error);
  ask (sim, PP_CMD_LOAD_KEY, with_token (token2), &replay_again);
  assert_refused (&replay_again, PP_STATUS_REFUSED, PP_TERMSIM_REASON_TR34 + PP_TR34_ERROR_NONCE_REUSED);
}

static void
test_restart (void)
{
  const PpTestPki *pki = pp_test_pki_get ();
  g_autofree char *dir = NULL;
  g_autoptr(PpTermsim) sim = make_sim ("PP1014", &dir);
  g_autoptr(PpTermsim) again = NULL;
  g_autoptr(PpTr34Kdh) kdh = make_kdh (pki->kdh);
  g_autoptr(GBytes) token = NULL;
  g_autoptr(PpSecureBuffer) tmk G_GNUC_UNUSED = load_tmk (sim, "PP1014", kdh, &token);
  g_autoptr(X509) krd = get_krd_cert (sim, "PP1014");
  g_autoptr(GBytes) pending = get_nonce (sim);
  g_autoptr(PpSecureBuffer) key2 = random_key (16);
  g_autoptr(GBytes) token2 = key_token (kdh, krd, key2, TMK_HEADER, pending);
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonNode) node = NULL;
  g_autofree char *want = kcv_tdes (key2);
  g_auto(Answer) replay = { 0, };
  g_auto(Answer) later = { 0, };
  JsonObject *shown;

  g_clear_pointer (&sim, pp_termsim_unref);
  again = pp_termsim_open (dir, &error);
  g_assert_no_error (error);
  ask (again, PP_CMD_LOAD_KEY, with_token (token), &replay);
  assert_refused (&replay, PP_STATUS_REFUSED, PP_TERMSIM_REASON_TR34 + PP_TR34_ERROR_NONCE_REUSED);
  /* A nonce issued before the restart is still good once. */
  ask (again, PP_CMD_LOAD_KEY, with_token (token2), &later);
  g_assert_cmpuint (later.status, ==, PP_STATUS_OK);
  shown = describe (again, &node);
  g_assert_nonnull (strstr (json_object_get_string_member (shown, "bound_kdh"), "Test KDH 1"));
  g_assert_cmpstr (json_object_get_string_member (json_array_get_object_element (json_object_get_array_member (shown, "keys"), 0), "kcv"),
                   ==, want);
}

static void
test_init_refusals (void)
{
  g_autofree char *dir = NULL;
  g_autoptr(PpTermsim) sim G_GNUC_UNUSED = make_sim ("PP1015", &dir);
  g_autoptr(GPtrArray) trust = trust_array ();
  g_autoptr(GPtrArray) none = g_ptr_array_new ();
  g_autofree char *base = pp_test_make_tmpdir ();
  g_autofree char *fresh = g_build_filename (base, "t", NULL);
  PpTermsimIdentity id = { "PP1015", "Acme", "X1", NULL, NULL, NULL };
  const PpTestPki *pki = pp_test_pki_get ();
  g_autoptr(GError) e1 = NULL, e2 = NULL, e3 = NULL, e4 = NULL;

  g_assert_false (pp_termsim_init (dir, &id, NULL, NULL, trust, &e1));
  g_assert_error (e1, PP_TERMSIM_ERROR, PP_TERMSIM_ERROR_EXISTS);
  g_assert_false (pp_termsim_init (fresh, &id, NULL, NULL, none, &e2));
  g_assert_error (e2, PP_TERMSIM_ERROR, PP_TERMSIM_ERROR_INVALID);
  /* A CA key that is not the CA certificate's: nothing is left behind. */
  g_assert_false (pp_termsim_init (fresh, &id, pki->ca_krd, pki->root_key, trust, &e3));
  g_assert_error (e3, PP_TERMSIM_ERROR, PP_TERMSIM_ERROR_INVALID);
  g_assert_false (g_file_test (fresh, G_FILE_TEST_EXISTS));
  {
    g_autoptr(GDir) d = g_dir_open (base, 0, NULL);

    g_assert_null (g_dir_read_name (d));
  }
  g_assert_null (pp_termsim_open (base, &e4));
  g_assert_error (e4, PP_TERMSIM_ERROR, PP_TERMSIM_ERROR_NOT_FOUND);
}

/* ---- the binary over TCP ------------------------------------------------------ */

typedef struct {
  GMainLoop    *loop;
  GAsyncResult *result;
} Wait;

static void
on_done (GObject      *source,
         GAsyncResult *result,
         gpointer      user_data)
{
  Wait *w = user_data;

  w->result = g_object_ref (result);
  g_main_loop_quit (w->loop);
}

/* A station's end of the link protocol to the terminal at PORT, HELLO done. */
static PpLink *
connect_to (const char *port)
{
  g_autoptr(GSocketClient) client = g_socket_client_new ();
  g_autoptr(GError) error = NULL;
  g_autoptr(GSocketConnection) conn = NULL;
  g_autoptr(GMainLoop) loop = g_main_loop_new (NULL, FALSE);
  Wait w = { loop, NULL };
  guint64 number = 0;
  PpLink *link;

  g_assert_true (g_ascii_string_to_unsigned (port + strlen ("tcp:127.0.0.1:"), 10, 1, 65535, &number, NULL));
  conn = g_socket_client_connect_to_host (client, "127.0.0.1", (guint16) number, NULL, &error);
  g_assert_no_error (error);
  link = pp_link_new (G_IO_STREAM (conn), PP_LINK_ROLE_STATION);
  pp_link_connect_async (link, NULL, on_done, &w);
  g_main_loop_run (loop);
  pp_link_connect_finish (link, w.result, &error);
  g_assert_no_error (error);
  g_object_unref (w.result);
  return link;
}

/* Drops the station's link; the cancelled read of an idle link finishes on
 * the main context, so let it run before the socket goes. */
static void
link_close (PpLink **link)
{
  g_clear_pointer (link, pp_link_unref);
  while (g_main_context_iteration (NULL, FALSE))
    ;
}

static void
wire_ask (PpLink     *link,
          guint8      command,
          GByteArray *payload,
          Answer     *out)
{
  g_autoptr(GBytes) bytes = payload != NULL ? g_byte_array_free_to_bytes (payload) : g_bytes_new (NULL, 0);
  g_autoptr(GError) error = NULL;
  g_autoptr(GMainLoop) loop = g_main_loop_new (NULL, FALSE);
  Wait w = { loop, NULL };

  pp_link_request_async (link, command, bytes, NULL, on_done, &w);
  g_main_loop_run (loop);
  out->bytes = pp_link_request_finish_any (link, w.result, &out->status, &error);
  g_object_unref (w.result);
  g_assert_no_error (error);
  answer_parse (out);
}

static JsonObject *
show_json (const char  *dir,
           JsonParser **out_parser)
{
  const char *args[] = { "show", "--dir", dir, "--json", NULL };
  g_autofree char *out = NULL, *err = NULL;
  g_autoptr(GError) error = NULL;

  g_assert_cmpint (pp_test_run_termsim (args, &out, &err), ==, 0);
  *out_parser = json_parser_new ();
  g_assert_true (json_parser_load_from_data (*out_parser, out, -1, &error));
  g_assert_no_error (error);
  return json_node_get_object (json_parser_get_root (*out_parser));
}

static gboolean
file_contains (const char   *path,
               const guint8 *needle,
               gsize         len)
{
  g_autofree char *data = NULL;
  gsize size = 0;

  g_assert_true (g_file_get_contents (path, &data, &size, NULL));
  return size >= len && memmem (data, size, needle, len) != NULL;
}

static void
write_key (const char *path,
           EVP_PKEY   *key)
{
  g_autoptr(BIO) bio = BIO_new_file (path, "w");

  g_assert_cmpint (PEM_write_bio_PrivateKey (bio, key, NULL, NULL, 0, NULL, NULL), ==, 1);
}

static void
test_binary (void)
{
  const PpTestPki *pki = pp_test_pki_get ();
  g_autofree char *base = pp_test_make_tmpdir ();
  g_autofree char *dir = g_build_filename (base, "term", NULL);
  g_autofree char *csr_dir = g_build_filename (base, "csr", NULL);
  g_autofree char *trust = g_build_filename (base, "trust.pem", NULL);
  g_autofree char *ca = g_build_filename (base, "ca-krd.pem", NULL);
  g_autofree char *ca_key = g_build_filename (base, "ca-krd.key", NULL);
  g_autoptr(PpTr34Kdh) kdh = make_kdh (pki->kdh);
  g_autoptr(PpSecureBuffer) tmk = random_key (16);
  g_autofree char *want = kcv_tdes (tmk);
  g_autoptr(GBytes) token = NULL;
  g_autoptr(JsonParser) p1 = NULL, p2 = NULL, p3 = NULL, p4 = NULL;
  g_autoptr(X509) krd = NULL;
  PpTestTermsimServer server = { 0, };
  JsonObject *shown;
  JsonArray *keys;

  pp_test_pki_write (pki, base);
  write_key (ca_key, pki->ca_krd_key);

  /* init in both modes, and its refusals. */
  {
    const char *factory[] = { "init", "--dir", dir, "--serial", "PP2001", "--vendor", "Acme", "--model", "X1",
                              "--ca-krd-cert", ca, "--ca-krd-key", ca_key, "--trust", trust, NULL };
    const char *csr[] = { "init", "--dir", csr_dir, "--serial", "PP2002", "--vendor", "Acme", "--model", "X1",
                          "--trust", trust, NULL };
    const char *twice[] = { "init", "--dir", dir, "--serial", "PP2001", "--vendor", "Acme", "--model", "X1",
                            "--trust", trust, NULL };
    const char *half[] = { "init", "--dir", csr_dir, "--serial", "PP2002", "--vendor", "Acme", "--model", "X1",
                           "--ca-krd-cert", ca, "--trust", trust, NULL };
    g_autofree char *o1 = NULL, *e1 = NULL, *o2 = NULL, *e2 = NULL, *o3 = NULL, *e3 = NULL, *o4 = NULL, *e4 = NULL;

    g_assert_cmpint (pp_test_run_termsim (factory, &o1, &e1), ==, 0);
    g_assert_cmpint (pp_test_run_termsim (csr, &o2, &e2), ==, 0);
    g_assert_cmpint (pp_test_run_termsim (twice, &o3, &e3), ==, 1);
    g_assert_nonnull (strstr (e3, "not empty"));
    g_assert_cmpint (pp_test_run_termsim (half, &o4, &e4), ==, 1);
    g_assert_nonnull (strstr (e4, "--ca-krd-key"));
  }
  shown = show_json (dir, &p1);
  g_assert_cmpstr (json_object_get_string_member (shown, "serial"), ==, "PP2001");
  g_assert_cmpstr (json_object_get_string_member (shown, "model"), ==, "X1");
  g_assert_nonnull (strstr (json_object_get_string_member (json_object_get_object_member (shown, "certificate"),
                                                          "subject"), "serialNumber=PP2001"));
  shown = show_json (csr_dir, &p2);
  g_assert_true (json_node_is_null (json_object_get_member (shown, "certificate")));
  g_assert_true (json_object_get_boolean_member (shown, "csr"));

  /* Served on a free port, a station's session over real TCP. */
  {
    g_autofree char *port = pp_test_termsim_start (&server, dir, NULL);
    g_autoptr(PpLink) stream = connect_to (port);
    g_autoptr(GError) error = NULL;
    g_autoptr(GBytes) ct_krd = NULL, ct_kdh = NULL, rt = NULL;
    g_autoptr(PpTr34Token) rt_parsed = NULL;
    STACK_OF(X509) *cas = sk_X509_new_null ();
    g_auto(Answer) id = { 0, };
    g_auto(Answer) ct = { 0, };
    g_auto(Answer) bound = { 0, };
    g_auto(Answer) nonce = { 0, };
    g_auto(Answer) load = { 0, };
    g_autofree char *serial = NULL, *kcv = NULL;

    wire_ask (stream, PP_CMD_IDENTIFY, NULL, &id);
    serial = text (&id, PP_TAG_SERIAL);
    g_assert_cmpstr (serial, ==, "PP2001");
    wire_ask (stream, PP_CMD_GET_CT_KRD, NULL, &ct);
    ct_krd = tlv_bytes (&ct, PP_TAG_TOKEN);
    sk_X509_push (cas, pki->ca_krd);
    krd = pp_tr34_kdh_receive_krd_credential (g_bytes_get_data (ct_krd, NULL), g_bytes_get_size (ct_krd),
                                              cas, serial, NULL, &error);
    sk_X509_free (cas);
    g_assert_no_error (error);
    ct_kdh = pp_tr34_kdh_build_credential_token (kdh, &error);
    wire_ask (stream, PP_CMD_BIND, with_token (ct_kdh), &bound);
    g_assert_cmpuint (bound.status, ==, PP_STATUS_OK);
    wire_ask (stream, PP_CMD_GET_RT_KRD, NULL, &nonce);
    rt = tlv_bytes (&nonce, PP_TAG_TOKEN);
    rt_parsed = pp_tr34_token_parse (g_bytes_get_data (rt, NULL), g_bytes_get_size (rt), &error);
    g_assert_no_error (error);
    token = key_token (kdh, krd, tmk, TMK_HEADER, pp_tr34_token_get_nonce (rt_parsed));
    wire_ask (stream, PP_CMD_LOAD_KEY, with_token (token), &load);
    g_assert_cmpuint (load.status, ==, PP_STATUS_OK);
    kcv = text (&load, PP_TAG_KCV);
    g_assert_cmpstr (kcv, ==, want);
    link_close (&stream);
    pp_test_termsim_stop (&server);
  }

  /* show lists the key with the KCV the station computed. */
  shown = show_json (dir, &p3);
  keys = json_object_get_array_member (shown, "keys");
  g_assert_cmpuint (json_array_get_length (keys), ==, 1);
  g_assert_cmpstr (json_object_get_string_member (json_array_get_object_element (keys, 0), "kcv"), ==, want);
  g_assert_nonnull (strstr (json_object_get_string_member (shown, "bound_kdh"), "Test KDH 1"));

  /* The key is in no file of the folder: not raw, not as hex. */
  {
    g_autoptr(GDir) d = g_dir_open (dir, 0, NULL);
    g_autofree char *hex = pp_secure_buffer_to_hex (tmk);
    g_autofree char *lower = g_ascii_strdown (hex, -1);
    const char *name;
    guint files = 0;

    while ((name = g_dir_read_name (d)) != NULL)
      {
        g_autofree char *path = g_build_filename (dir, name, NULL);

        files++;
        g_assert_false (file_contains (path, pp_secure_buffer_peek (tmk), pp_secure_buffer_get_len (tmk)));
        g_assert_false (file_contains (path, (const guint8 *) hex, strlen (hex)));
        g_assert_false (file_contains (path, (const guint8 *) lower, strlen (lower)));
      }
    g_assert_cmpuint (files, >=, 6);
  }

  /* Restarted: the spent nonce stays spent; then zeroize empties it. */
  {
    g_autofree char *port = pp_test_termsim_start (&server, dir, NULL);
    g_autoptr(PpLink) stream = connect_to (port);
    g_auto(Answer) replay = { 0, };
    g_auto(Answer) zero = { 0, };

    wire_ask (stream, PP_CMD_LOAD_KEY, with_token (token), &replay);
    assert_refused (&replay, PP_STATUS_REFUSED, PP_TERMSIM_REASON_TR34 + PP_TR34_ERROR_NONCE_REUSED);
    wire_ask (stream, PP_CMD_ZEROIZE, NULL, &zero);
    g_assert_cmpuint (zero.status, ==, PP_STATUS_OK);
    link_close (&stream);
    pp_test_termsim_stop (&server);
  }
  shown = show_json (dir, &p4);
  g_assert_cmpuint (json_array_get_length (json_object_get_array_member (shown, "keys")), ==, 0);
  g_assert_true (json_node_is_null (json_object_get_member (shown, "bound_kdh")));
}

/* A fleet: consecutive serials, one port each, each answering as itself. */
static void
test_binary_fleet (void)
{
  const PpTestPki *pki = pp_test_pki_get ();
  g_autofree char *base = pp_test_make_tmpdir ();
  g_autofree char *dir = g_build_filename (base, "fleet", NULL);
  g_autofree char *trust = g_build_filename (base, "trust.pem", NULL);
  const char *init[] = { "init", "--dir", dir, "--serial", "FL0009", "--vendor", "Acme", "--model", "X1",
                         "--trust", trust, "--count", "2", NULL };
  const char *argv[] = { pp_test_termsim_path (), "serve", "--dir", dir, "--tcp", "127.0.0.1:0", "--count", "2", NULL };
  g_autofree char *o = NULL, *e = NULL;
  g_autoptr(GError) error = NULL;
  PpTestTermsimServer server = { 0, };
  int out_fd = -1;

  pp_test_pki_write (pki, base);
  g_assert_cmpint (pp_test_run_termsim (init, &o, &e), ==, 0);
  g_assert_true (g_spawn_async_with_pipes (NULL, (char **) argv, NULL, G_SPAWN_DO_NOT_REAP_CHILD, pp_test_die_with_parent,
                                           NULL, &server.pid, NULL, &out_fd, NULL, &error));
  g_assert_no_error (error);
  server.out = g_unix_input_stream_new (out_fd, TRUE);
  server.lines = g_data_input_stream_new (server.out);
  for (guint i = 0; i < 2; i++)
    {
      g_autofree char *port = g_data_input_stream_read_line_utf8 (server.lines, NULL, NULL, &error);
      g_autoptr(PpLink) stream = NULL;
      g_auto(Answer) id = { 0, };
      g_autofree char *serial = NULL;

      g_assert_no_error (error);
      g_assert_nonnull (port);
      stream = connect_to (port);
      wire_ask (stream, PP_CMD_IDENTIFY, NULL, &id);
      serial = text (&id, PP_TAG_SERIAL);
      g_assert_cmpstr (serial, ==, i == 0 ? "FL0009" : "FL0010");
      link_close (&stream);
    }
  pp_test_termsim_stop (&server);
}

int
main (int    argc,
      char **argv)
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/termsim/identify", test_identify);
  g_test_add_func ("/termsim/bad-requests", test_bad_requests);
  g_test_add_func ("/termsim/certify", test_certify);
  g_test_add_func ("/termsim/bind-and-load", test_bind_and_load);
  g_test_add_func ("/termsim/refusals", test_refusals);
  g_test_add_func ("/termsim/tampered", test_tampered);
  g_test_add_func ("/termsim/clock-skew", test_clock_skew);
  g_test_add_func ("/termsim/rebind-unbind-zeroize", test_rebind_unbind_zeroize);
  g_test_add_func ("/termsim/dukpt", test_dukpt);
  g_test_add_func ("/termsim/sign-on", test_sign_on);
  g_test_add_func ("/termsim/program", test_program);
  g_test_add_func ("/termsim/refuse-program", test_refuse_program);
  g_test_add_func ("/termsim/restart", test_restart);
  g_test_add_func ("/termsim/nonce-ledger", test_nonce_ledger);
  g_test_add_func ("/termsim/init-refusals", test_init_refusals);
  g_test_add_func ("/termsim/binary", test_binary);
  g_test_add_func ("/termsim/binary-fleet", test_binary_fleet);
  return g_test_run ();
}
