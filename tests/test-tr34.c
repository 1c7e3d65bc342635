/* SPDX-License-Identifier: GPL-3.0-or-later
 *
 * test-tr34.c: TR-34 KDH -> KRD round trips on a fresh test PKI for every
 * profile x ephemeral algorithm x 1-pass/2-pass, the refusals a KRD must
 * make (nonce, signing time, CRL, validity, trust, recipient, every
 * changed byte, every truncation) and interop with the real `openssl cms`.
 * The protocol is ASC X9 TR 34-2019; conformance with its Annex B samples
 * is in test-tr34-annexb.c.
 */
#include "config.h"

#include <string.h>

#include <glib/gstdio.h>

#include "pp-hex.h"
#include "pp-test-util.h"
#include "pp-openssl-types.h"
#include "pp-tr34-private.h"
#include "tr34-test-pki.h"

G_DEFINE_AUTOPTR_CLEANUP_FUNC (ASN1_TIME, ASN1_TIME_free)

static PpTr34Kdh *
make_kdh (X509          *cert,
          PpTr34Profile  profile)
{
  const PpTestPki *pki = pp_test_pki_get ();
  PpTr34Kdh *kdh;

  EVP_PKEY_up_ref (pki->kdh_key);
  kdh = pp_tr34_kdh_new (cert, pp_tr34_sign_with_pkey, pki->kdh_key,
                         (GDestroyNotify) EVP_PKEY_free);
  pp_tr34_kdh_set_crl (kdh, pki->crl);
  pp_tr34_kdh_set_profile (kdh, profile);
  return kdh;
}

static PpTr34Krd *
make_krd (void)
{
  const PpTestPki *pki = pp_test_pki_get ();
  PpTr34Krd *krd = pp_tr34_krd_new (pki->krd, pki->krd_key);

  pp_tr34_krd_add_trusted (krd, pki->root);
  pp_tr34_krd_add_trusted (krd, pki->ca_kdh);
  /* Bound at CT_KDH: needed for the x9 profiles, which omit the cert. */
  pp_tr34_krd_set_kdh_cert (krd, pki->kdh);
  return krd;
}

static GBytes *
build_token (PpTr34Kdh       *kdh,
             PpSecureBuffer  *key,
             const char      *header,
             PpTr34Ephemeral  eph,
             GBytes          *nonce,
             GDateTime       *time)
{
  const PpTestPki *pki = pp_test_pki_get ();
  g_autoptr(GError) error = NULL;
  GBytes *token;

  token = pp_tr34_kdh_build_key_token (kdh, pki->krd, key, header, eph, nonce, time, &error);
  g_assert_no_error (error);
  g_assert_nonnull (token);
  return token;
}

static void
test_round_trips (void)
{
  const PpTestPki *pki = pp_test_pki_get ();
  guint n = 0;

  for (int profile = PP_TR34_PROFILE_STRICT; profile < PP_TR34_N_PROFILES; profile++)
    for (int eph = PP_TR34_EPHEMERAL_TDES; eph <= PP_TR34_EPHEMERAL_AES128; eph++)
      for (int two_pass = 0; two_pass <= 1; two_pass++)
        {
          g_autoptr(PpTr34Kdh) kdh = make_kdh (pki->kdh, profile);
          g_autoptr(PpTr34Krd) krd = make_krd ();
          g_autoptr(PpTr34KrdState) state = pp_tr34_krd_state_new ();
          g_autoptr(PpSecureBuffer) key = NULL;
          g_autoptr(GBytes) nonce = NULL;
          g_autoptr(GBytes) token = NULL;
          g_autoptr(GDateTime) time = g_date_time_new_utc (2026, 3, 1, 12, 0, n);
          g_autoptr(PpTr34Token) parsed = NULL;
          g_autoptr(PpTr34ReceivedKey) received = NULL;
          g_autoptr(GError) error = NULL;
          g_autofree char *expected_kcv = NULL;
          /* Alternate TDES and AES keys independently of the ephemeral. */
          gboolean aes_key = (n % 3) == 1;
          const char *header = aes_key ? "D0144K0AB00E0000" : "A0256K0TB00E0000";

          g_test_message ("profile %s, %s, %s", pp_tr34_profile_to_string (profile),
                          pp_tr34_ephemeral_to_string (eph), two_pass ? "2-pass" : "1-pass");
          key = pp_secure_buffer_new_from_hex (aes_key ? "00112233445566778899AABBCCDDEEFF"
                                                       : "0123456789ABCDEFFEDCBA9876543210",
                                               &error);
          g_assert_no_error (error);
          if (two_pass)
            nonce = pp_tr34_krd_state_issue_nonce (state, 16);

          token = build_token (kdh, key, header, eph, nonce, two_pass ? NULL : time);

          parsed = pp_tr34_token_parse (g_bytes_get_data (token, NULL), g_bytes_get_size (token), &error);
          g_assert_no_error (error);
          g_assert_cmpint (pp_tr34_token_get_kind (parsed), ==, PP_TR34_TOKEN_KT_KDH);
          g_assert_cmpint (pp_tr34_token_get_profile (parsed), ==, profile);
          g_assert_true (parsed->attrs_sorted);
          g_assert_cmpint (parsed->certs != NULL, ==, profile == PP_TR34_PROFILE_STRICT);

          received = pp_tr34_krd_receive_key_token (krd, state, g_bytes_get_data (token, NULL),
                                                    g_bytes_get_size (token), &error);
          g_assert_no_error (error);
          g_assert_nonnull (received);
          g_assert_true (pp_secure_buffer_equal (received->key, key));
          expected_kcv = pp_kcv_compute (aes_key ? PP_KEY_ALGORITHM_AES : PP_KEY_ALGORITHM_TDES,
                                         key, aes_key ? 5 : 3, &error);
          g_assert_cmpstr (received->kcv, ==, expected_kcv);
          g_assert_cmpstr (received->header, ==, header);
          g_assert_cmpstr (received->kdh_serial, ==, "1001");
          g_assert_cmpint (received->profile, ==, profile);
          g_assert_cmpint (received->ephemeral, ==, eph);
          g_assert_cmpint (received->one_pass, ==, !two_pass);
          if (two_pass)
            g_assert_false (pp_tr34_krd_state_has_nonce (state, nonce));
          else
            g_assert_true (g_date_time_equal (pp_tr34_krd_state_get_last_time (state), time));
          n++;
        }
  g_assert_cmpuint (n, ==, 4 * 2 * 2);
}

static GBytes *
strict_token_with_nonce (PpTr34KrdState *state,
                         GBytes        **out_nonce)
{
  const PpTestPki *pki = pp_test_pki_get ();
  g_autoptr(PpTr34Kdh) kdh = make_kdh (pki->kdh, PP_TR34_PROFILE_STRICT);
  g_autoptr(PpSecureBuffer) key = pp_secure_buffer_new_from_hex ("0123456789ABCDEFFEDCBA9876543210", NULL);
  g_autoptr(GBytes) nonce = pp_tr34_krd_state_issue_nonce (state, 16);
  GBytes *token = build_token (kdh, key, "A0256K0TB00E0000", PP_TR34_EPHEMERAL_AES128, nonce, NULL);

  if (out_nonce != NULL)
    *out_nonce = g_bytes_ref (nonce);
  return token;
}

static void
expect_refused (PpTr34Krd      *krd,
                PpTr34KrdState *state,
                GBytes         *token,
                int             code)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(PpTr34ReceivedKey) received =
    pp_tr34_krd_receive_key_token (krd, state, g_bytes_get_data (token, NULL),
                                   g_bytes_get_size (token), &error);

  g_assert_null (received);
  g_assert_error (error, PP_TR34_ERROR, code);
}

static void
test_nonce_wrong (void)
{
  g_autoptr(PpTr34KrdState) kdh_side = pp_tr34_krd_state_new ();
  g_autoptr(PpTr34KrdState) state = pp_tr34_krd_state_new ();
  g_autoptr(PpTr34Krd) krd = make_krd ();
  g_autoptr(GBytes) token = strict_token_with_nonce (kdh_side, NULL);
  g_autoptr(GBytes) mine = pp_tr34_krd_state_issue_nonce (state, 16);

  expect_refused (krd, state, token, PP_TR34_ERROR_NONCE_MISMATCH);
  /* The nonce this KRD issued stays available. */
  g_assert_true (pp_tr34_krd_state_has_nonce (state, mine));
}

static void
test_nonce_reused (void)
{
  g_autoptr(PpTr34KrdState) state = pp_tr34_krd_state_new ();
  g_autoptr(PpTr34Krd) krd = make_krd ();
  g_autoptr(GBytes) token = strict_token_with_nonce (state, NULL);
  g_autoptr(PpTr34ReceivedKey) first = NULL;
  g_autoptr(GError) error = NULL;

  first = pp_tr34_krd_receive_key_token (krd, state, g_bytes_get_data (token, NULL),
                                         g_bytes_get_size (token), &error);
  g_assert_no_error (error);
  expect_refused (krd, state, token, PP_TR34_ERROR_NONCE_REUSED);
}

/* A KRD restarted from its saved state still refuses a replay and still
 * accepts the nonce it issued before the restart. */
static void
test_state_save_load (void)
{
  g_autoptr(PpTr34KrdState) state = pp_tr34_krd_state_new ();
  g_autoptr(PpTr34KrdState) restored = NULL;
  g_autoptr(PpTr34Krd) krd = make_krd ();
  g_autoptr(GBytes) used_nonce = NULL;
  g_autoptr(GBytes) used = strict_token_with_nonce (state, &used_nonce);
  g_autoptr(GBytes) pending_nonce = NULL;
  g_autoptr(GBytes) pending = strict_token_with_nonce (state, &pending_nonce);
  g_autoptr(GDateTime) last = g_date_time_new_utc (2026, 2, 3, 4, 5, 6);
  g_autoptr(PpTr34ReceivedKey) received = NULL;
  g_autoptr(GVariant) saved = NULL;
  g_autoptr(GVariant) wrong = g_variant_ref_sink (g_variant_new_string ("x"));
  g_autoptr(GError) error = NULL;

  received = pp_tr34_krd_receive_key_token (krd, state, g_bytes_get_data (used, NULL),
                                            g_bytes_get_size (used), &error);
  g_assert_no_error (error);
  pp_tr34_krd_state_set_last_time (state, last);

  saved = g_variant_ref_sink (pp_tr34_krd_state_save (state));
  restored = pp_tr34_krd_state_load (saved, &error);
  g_assert_no_error (error);
  g_assert_true (g_date_time_equal (pp_tr34_krd_state_get_last_time (restored), last));
  g_assert_true (pp_tr34_krd_state_has_nonce (restored, pending_nonce));
  g_assert_false (pp_tr34_krd_state_has_nonce (restored, used_nonce));
  expect_refused (krd, restored, used, PP_TR34_ERROR_NONCE_REUSED);
  g_clear_pointer (&received, pp_tr34_received_key_free);
  received = pp_tr34_krd_receive_key_token (krd, restored, g_bytes_get_data (pending, NULL),
                                            g_bytes_get_size (pending), &error);
  g_assert_no_error (error);

  g_assert_null (pp_tr34_krd_state_load (wrong, &error));
  g_assert_error (error, PP_TR34_ERROR, PP_TR34_ERROR_INVALID_ARGUMENT);
}

static void
test_one_pass_time (void)
{
  const PpTestPki *pki = pp_test_pki_get ();
  g_autoptr(PpTr34Kdh) kdh = make_kdh (pki->kdh, PP_TR34_PROFILE_X9_2019);
  g_autoptr(PpTr34Krd) krd = make_krd ();
  g_autoptr(PpTr34KrdState) state = pp_tr34_krd_state_new ();
  g_autoptr(PpSecureBuffer) key = pp_secure_buffer_new_from_hex ("0123456789ABCDEFFEDCBA9876543210", NULL);
  g_autoptr(GDateTime) last = g_date_time_new_utc (2026, 5, 1, 10, 0, 0);
  g_autoptr(GDateTime) older = g_date_time_add_seconds (last, -1);
  g_autoptr(GDateTime) newer = g_date_time_add_seconds (last, 1);
  g_autoptr(GBytes) t_older = build_token (kdh, key, "A0256K0TB00E0000", PP_TR34_EPHEMERAL_TDES, NULL, older);
  g_autoptr(GBytes) t_equal = build_token (kdh, key, "A0256K0TB00E0000", PP_TR34_EPHEMERAL_TDES, NULL, last);
  g_autoptr(GBytes) t_newer = build_token (kdh, key, "A0256K0TB00E0000", PP_TR34_EPHEMERAL_TDES, NULL, newer);
  g_autoptr(PpTr34ReceivedKey) received = NULL;
  g_autoptr(GError) error = NULL;

  pp_tr34_krd_state_set_last_time (state, last);
  expect_refused (krd, state, t_older, PP_TR34_ERROR_STALE_SIGNING_TIME);
  expect_refused (krd, state, t_equal, PP_TR34_ERROR_STALE_SIGNING_TIME);
  received = pp_tr34_krd_receive_key_token (krd, state, g_bytes_get_data (t_newer, NULL),
                                            g_bytes_get_size (t_newer), &error);
  g_assert_no_error (error);
  g_assert_true (g_date_time_equal (pp_tr34_krd_state_get_last_time (state), newer));
  /* A replay of the accepted 1-pass token is now stale too. */
  expect_refused (krd, state, t_newer, PP_TR34_ERROR_STALE_SIGNING_TIME);
}

static void
test_revoked (void)
{
  const PpTestPki *pki = pp_test_pki_get ();
  g_autoptr(PpTr34Kdh) kdh = make_kdh (pki->kdh_revoked, PP_TR34_PROFILE_STRICT);
  g_autoptr(PpTr34Krd) krd = pp_tr34_krd_new (pki->krd, pki->krd_key);
  g_autoptr(PpTr34KrdState) state = pp_tr34_krd_state_new ();
  g_autoptr(PpSecureBuffer) key = pp_secure_buffer_new_from_hex ("0123456789ABCDEFFEDCBA9876543210", NULL);
  g_autoptr(GBytes) nonce = pp_tr34_krd_state_issue_nonce (state, 16);
  g_autoptr(GBytes) token = NULL;
  g_autoptr(GBytes) other = NULL;
  g_autoptr(PpTr34Kdh) no_crl = make_kdh (pki->kdh_revoked, PP_TR34_PROFILE_STRICT);
  g_autoptr(GBytes) token2 = NULL;
  g_autoptr(GError) error = NULL;

  /* The KDH refuses to sign with a certificate its own CRL revokes. */
  token = pp_tr34_kdh_build_key_token (kdh, pki->krd, key, "A0256K0TB00E0000",
                                       PP_TR34_EPHEMERAL_TDES, nonce, NULL, &error);
  g_assert_null (token);
  g_assert_error (error, PP_TR34_ERROR, PP_TR34_ERROR_KDH_REVOKED);
  g_clear_error (&error);
  g_assert_null (pp_tr34_kdh_build_credential_token (kdh, &error));
  g_assert_error (error, PP_TR34_ERROR, PP_TR34_ERROR_KDH_REVOKED);
  g_clear_error (&error);

  /* A KDH that does not check sends it anyway (the CRL is outside the
   * signature): the KRD refuses. */
  pp_tr34_kdh_set_crl (kdh, pki->crl_other);
  other = build_token (kdh, key, "A0256K0TB00E0000", PP_TR34_EPHEMERAL_TDES, nonce, NULL);
  token = pp_test_pki_splice_crl (other, pki->crl_other, pki->crl);
  pp_tr34_krd_add_trusted (krd, pki->root);
  pp_tr34_krd_add_trusted (krd, pki->ca_kdh);
  expect_refused (krd, state, token, PP_TR34_ERROR_KDH_REVOKED);

  /* Without a CRL in the token, the one the KRD holds still applies. */
  pp_tr34_kdh_set_crl (no_crl, NULL);
  token2 = build_token (no_crl, key, "A0256K0TB00E0000", PP_TR34_EPHEMERAL_TDES, nonce, NULL);
  pp_tr34_krd_set_crl (krd, pki->crl);
  expect_refused (krd, state, token2, PP_TR34_ERROR_KDH_REVOKED);
  g_assert_true (pp_tr34_krd_state_has_nonce (state, nonce));
}

static void
test_crl_forged (void)
{
  const PpTestPki *pki = pp_test_pki_get ();
  g_autoptr(PpTr34Krd) krd = make_krd ();
  g_autoptr(PpTr34KrdState) state = pp_tr34_krd_state_new ();
  g_autoptr(GBytes) token = strict_token_with_nonce (state, NULL);
  g_autoptr(X509_CRL) forged = X509_CRL_dup (pki->crl);

  /* Same issuer name, signed by the wrong CA. */
  g_assert_cmpint (X509_CRL_sign (forged, pki->ca_krd_key, EVP_sha256 ()), >, 0);
  pp_tr34_krd_set_crl (krd, forged);
  expect_refused (krd, state, token, PP_TR34_ERROR_CRL_INVALID);
}

static X509_CRL *
crl_with_times_from (X509_CRL *base,
                     int       this_year,
                     int       next_year)
{
  const PpTestPki *pki = pp_test_pki_get ();
  X509_CRL *crl = X509_CRL_dup (base);
  g_autoptr(GDateTime) this_update = g_date_time_new_utc (this_year, 1, 1, 0, 0, 0);
  g_autoptr(GDateTime) next_update = g_date_time_new_utc (next_year, 1, 1, 0, 0, 0);
  g_autoptr(ASN1_TIME) t = ASN1_TIME_new ();

  g_assert_nonnull (ASN1_TIME_set (t, (time_t) g_date_time_to_unix (this_update)));
  g_assert_cmpint (X509_CRL_set1_lastUpdate (crl, t), ==, 1);
  g_assert_nonnull (ASN1_TIME_set (t, (time_t) g_date_time_to_unix (next_update)));
  g_assert_cmpint (X509_CRL_set1_nextUpdate (crl, t), ==, 1);
  g_assert_cmpint (X509_CRL_sign (crl, pki->ca_kdh_key, EVP_sha256 ()), >, 0);
  return crl;
}

static X509_CRL *
crl_with_times (int this_year,
                int next_year)
{
  return crl_with_times_from (pp_test_pki_get ()->crl, this_year, next_year);
}

/* A CRL past its nextUpdate (or before its thisUpdate) at the
 * verification time says nothing about the KDH today: refused, whether
 * the KRD holds it or the token carries it. */
static void
test_crl_expired (void)
{
  const PpTestPki *pki = pp_test_pki_get ();
  g_autoptr(PpTr34Krd) krd = make_krd ();
  g_autoptr(PpTr34KrdState) state = pp_tr34_krd_state_new ();
  g_autoptr(GBytes) token = strict_token_with_nonce (state, NULL);
  g_autoptr(X509_CRL) expired = crl_with_times (2022, 2025);
  g_autoptr(X509_CRL) expired_other = crl_with_times_from (pki->crl_other, 2022, 2025);
  g_autoptr(GBytes) revoked_other = NULL;
  g_autoptr(PpTr34Kdh) kdh = make_kdh (pki->kdh, PP_TR34_PROFILE_X9_2019);
  g_autoptr(PpTr34Kdh) revoked_kdh = make_kdh (pki->kdh_revoked, PP_TR34_PROFILE_STRICT);
  g_autoptr(PpSecureBuffer) key = pp_secure_buffer_new_from_hex ("0123456789ABCDEFFEDCBA9876543210", NULL);
  g_autoptr(GBytes) nonce = pp_tr34_krd_state_issue_nonce (state, 16);
  g_autoptr(GBytes) carried = NULL;
  g_autoptr(GBytes) revoked = NULL;
  g_autoptr(PpTr34Krd) unbound = pp_tr34_krd_new (pki->krd, pki->krd_key);
  g_autoptr(GDateTime) at = g_date_time_new_utc (2030, 6, 1, 0, 0, 0);
  g_autoptr(GDateTime) early = g_date_time_new_utc (2021, 6, 1, 0, 0, 0);
  g_autoptr(PpTr34ReceivedKey) received = NULL;
  g_autoptr(GError) error = NULL;

  pp_tr34_krd_set_time (krd, at);
  pp_tr34_krd_set_crl (krd, expired);
  received = pp_tr34_krd_receive_key_token (krd, state, g_bytes_get_data (token, NULL),
                                            g_bytes_get_size (token), &error);
  g_assert_null (received);
  g_assert_error (error, PP_TR34_ERROR, PP_TR34_ERROR_CRL_INVALID);
  g_assert_nonnull (strstr (error->message, "expired at 2025-01-01T00:00:00Z"));
  g_clear_error (&error);

  /* Carried in the token, with the KRD holding none. */
  pp_tr34_krd_set_crl (krd, NULL);
  pp_tr34_kdh_set_crl (kdh, expired);
  carried = build_token (kdh, key, "A0256K0TB00E0000", PP_TR34_EPHEMERAL_TDES, nonce, NULL);
  expect_refused (krd, state, carried, PP_TR34_ERROR_CRL_INVALID);

  /* A revocation stays a revocation in an outdated CRL (an unbound KRD:
   * the strict token carries the revoked KDH's certificate). */
  pp_tr34_kdh_set_crl (revoked_kdh, expired_other);
  revoked_other = build_token (revoked_kdh, key, "A0256K0TB00E0000", PP_TR34_EPHEMERAL_TDES, nonce, NULL);
  revoked = pp_test_pki_splice_crl (revoked_other, expired_other, expired);
  pp_tr34_krd_add_trusted (unbound, pki->ca_kdh);
  pp_tr34_krd_set_time (unbound, at);
  expect_refused (unbound, state, revoked, PP_TR34_ERROR_KDH_REVOKED);

  /* Before the test CRL's thisUpdate (2022), inside the KDH's validity. */
  pp_tr34_krd_set_time (krd, early);
  expect_refused (krd, state, token, PP_TR34_ERROR_CRL_INVALID);

  /* The same token with a current CRL goes through: only time decided. */
  pp_tr34_krd_set_time (krd, at);
  received = pp_tr34_krd_receive_key_token (krd, state, g_bytes_get_data (token, NULL),
                                            g_bytes_get_size (token), &error);
  g_assert_no_error (error);
  g_assert_nonnull (received);
}

/* A signing time given in another zone is signed as the same instant. */
static void
test_one_pass_time_zone (void)
{
  const PpTestPki *pki = pp_test_pki_get ();
  g_autoptr(PpTr34Kdh) kdh = make_kdh (pki->kdh, PP_TR34_PROFILE_STRICT);
  g_autoptr(PpTr34Krd) krd = make_krd ();
  g_autoptr(PpTr34KrdState) state = pp_tr34_krd_state_new ();
  g_autoptr(PpSecureBuffer) key = pp_secure_buffer_new_from_hex ("0123456789ABCDEFFEDCBA9876543210", NULL);
  g_autoptr(GTimeZone) plus2 = g_time_zone_new_offset (2 * 3600);
  g_autoptr(GDateTime) local = g_date_time_new (plus2, 2026, 1, 1, 0, 0, 0);
  g_autoptr(GDateTime) utc = g_date_time_new_utc (2025, 12, 31, 22, 0, 0);
  g_autoptr(GBytes) token = build_token (kdh, key, "A0256K0TB00E0000", PP_TR34_EPHEMERAL_TDES, NULL, local);
  g_autoptr(PpTr34Token) parsed = NULL;
  g_autoptr(PpTr34ReceivedKey) received = NULL;
  g_autoptr(GError) error = NULL;

  parsed = pp_tr34_token_parse (g_bytes_get_data (token, NULL), g_bytes_get_size (token), &error);
  g_assert_no_error (error);
  g_assert_true (g_date_time_equal (pp_tr34_token_get_signing_time (parsed), utc));
  received = pp_tr34_krd_receive_key_token (krd, state, g_bytes_get_data (token, NULL),
                                            g_bytes_get_size (token), &error);
  g_assert_no_error (error);
  g_assert_true (g_date_time_equal (received->signing_time, utc));
}

/* A 1-pass time ahead of the KRD's clock by more than the allowed skew
 * would lock out every later honest token: refused, nothing recorded. */
static void
test_one_pass_future (void)
{
  const PpTestPki *pki = pp_test_pki_get ();
  g_autoptr(PpTr34Kdh) kdh = make_kdh (pki->kdh, PP_TR34_PROFILE_X9_2012);
  g_autoptr(PpTr34Krd) krd = make_krd ();
  g_autoptr(PpTr34KrdState) state = pp_tr34_krd_state_new ();
  g_autoptr(PpSecureBuffer) key = pp_secure_buffer_new_from_hex ("0123456789ABCDEFFEDCBA9876543210", NULL);
  g_autoptr(GDateTime) at = g_date_time_new_utc (2030, 1, 1, 0, 0, 0);
  g_autoptr(GDateTime) too_far = g_date_time_add_seconds (at, PP_TR34_SIGNING_TIME_SKEW_SECONDS + 1);
  g_autoptr(GDateTime) within = g_date_time_add_seconds (at, PP_TR34_SIGNING_TIME_SKEW_SECONDS);
  g_autoptr(GBytes) t_far = build_token (kdh, key, "A0256K0TB00E0000", PP_TR34_EPHEMERAL_AES128, NULL, too_far);
  g_autoptr(GBytes) t_within = build_token (kdh, key, "A0256K0TB00E0000", PP_TR34_EPHEMERAL_AES128, NULL, within);
  g_autoptr(PpTr34ReceivedKey) received = NULL;
  g_autoptr(GError) error = NULL;

  pp_tr34_krd_set_time (krd, at);
  expect_refused (krd, state, t_far, PP_TR34_ERROR_FUTURE_SIGNING_TIME);
  g_assert_null (pp_tr34_krd_state_get_last_time (state));
  received = pp_tr34_krd_receive_key_token (krd, state, g_bytes_get_data (t_within, NULL),
                                            g_bytes_get_size (t_within), &error);
  g_assert_no_error (error);
  g_assert_true (g_date_time_equal (pp_tr34_krd_state_get_last_time (state), within));
}

/* A serial whose top bit is set has a 00 sign byte in DER; inspect and
 * krd-receive must still name the KDH by the same serial. */
static void
test_serial_high_bit (void)
{
  const PpTestPki *pki = pp_test_pki_get ();
  g_autoptr(X509) cert = X509_dup (pki->kdh);
  g_autoptr(PpTr34Kdh) kdh = NULL;
  g_autoptr(PpTr34Krd) krd = pp_tr34_krd_new (pki->krd, pki->krd_key);
  g_autoptr(PpTr34KrdState) state = pp_tr34_krd_state_new ();
  g_autoptr(PpSecureBuffer) key = pp_secure_buffer_new_from_hex ("0123456789ABCDEFFEDCBA9876543210", NULL);
  g_autoptr(GBytes) nonce = pp_tr34_krd_state_issue_nonce (state, 16);
  g_autoptr(GBytes) token = NULL;
  g_autoptr(PpTr34Token) parsed = NULL;
  g_autoptr(PpTr34ReceivedKey) received = NULL;
  g_autofree char *serial = NULL;
  g_autofree char *signer = NULL;
  g_autoptr(GError) error = NULL;

  g_assert_cmpint (ASN1_INTEGER_set (X509_get_serialNumber (cert), 0xC8), ==, 1);
  g_assert_cmpint (X509_sign (cert, pki->ca_kdh_key, EVP_sha256 ()), >, 0);
  kdh = make_kdh (cert, PP_TR34_PROFILE_STRICT);
  token = build_token (kdh, key, "A0256K0TB00E0000", PP_TR34_EPHEMERAL_AES128, nonce, NULL);

  parsed = pp_tr34_token_parse (g_bytes_get_data (token, NULL), g_bytes_get_size (token), &error);
  g_assert_no_error (error);
  serial = pp_tr34_token_dup_signer_serial (parsed);
  signer = pp_tr34_token_dup_signer (parsed);
  g_assert_cmpstr (serial, ==, "C8");
  g_assert_true (g_str_has_suffix (signer, " / serial C8"));

  pp_tr34_krd_add_trusted (krd, pki->ca_kdh);
  received = pp_tr34_krd_receive_key_token (krd, state, g_bytes_get_data (token, NULL),
                                            g_bytes_get_size (token), &error);
  g_assert_no_error (error);
  g_assert_cmpstr (received->kdh_serial, ==, serial);
}

/* A terminal's own certificate chains to the same root as the KDH's: it
 * must not act as a KDH (with its extracted key it could load keys into
 * every other terminal). Nor may a CA certificate. */
static void
test_kdh_role (void)
{
  const PpTestPki *pki = pp_test_pki_get ();
  g_autoptr(PpTr34Kdh) fake = make_kdh (pki->krd_other, PP_TR34_PROFILE_STRICT);
  g_autoptr(PpTr34Kdh) ca = NULL;
  g_autoptr(PpTr34Krd) krd = pp_tr34_krd_new (pki->krd, pki->krd_key);
  g_autoptr(PpTr34KrdState) state = pp_tr34_krd_state_new ();
  g_autoptr(PpSecureBuffer) key = pp_secure_buffer_new_from_hex ("0123456789ABCDEFFEDCBA9876543210", NULL);
  g_autoptr(GBytes) nonce = pp_tr34_krd_state_issue_nonce (state, 16);
  g_autoptr(GBytes) token = NULL;
  g_autoptr(GBytes) ca_token = NULL;
  g_autoptr(GError) error = NULL;

  /* krd_other shares the KDH's key, so only the certificate differs; no
   * CRL (CA_KDH's would not match its issuer and refuse it anyway). */
  pp_tr34_kdh_set_crl (fake, NULL);
  token = build_token (fake, key, "A0256K0TB00E0000", PP_TR34_EPHEMERAL_TDES, nonce, NULL);
  pp_tr34_krd_add_trusted (krd, pki->root);
  pp_tr34_krd_add_trusted (krd, pki->ca_kdh);
  pp_tr34_krd_add_trusted (krd, pki->ca_krd);
  expect_refused (krd, state, token, PP_TR34_ERROR_CERT_UNTRUSTED);

  EVP_PKEY_up_ref (pki->ca_kdh_key);
  ca = pp_tr34_kdh_new (pki->ca_kdh, pp_tr34_sign_with_pkey, pki->ca_kdh_key,
                        (GDestroyNotify) EVP_PKEY_free);
  ca_token = pp_tr34_kdh_build_key_token (ca, pki->krd, key, "A0256K0TB00E0000",
                                          PP_TR34_EPHEMERAL_TDES, nonce, NULL, &error);
  g_assert_no_error (error);
  expect_refused (krd, state, ca_token, PP_TR34_ERROR_CERT_INVALID);
  g_assert_true (pp_tr34_krd_state_has_nonce (state, nonce));
}

/* The KDH seals a key only to an end-entity key-encipherment RSA key. */
static void
test_kdh_refuses_non_krd (void)
{
  const PpTestPki *pki = pp_test_pki_get ();
  g_autoptr(PpTr34Kdh) kdh = make_kdh (pki->kdh, PP_TR34_PROFILE_STRICT);
  g_autoptr(PpSecureBuffer) key = pp_secure_buffer_new_from_hex ("0123456789ABCDEFFEDCBA9876543210", NULL);
  g_autoptr(GBytes) token = NULL;
  g_autoptr(GError) error = NULL;

  token = pp_tr34_kdh_build_key_token (kdh, pki->ca_krd, key, "A0256K0TB00E0000",
                                       PP_TR34_EPHEMERAL_TDES, NULL, NULL, &error);
  g_assert_null (token);
  g_assert_error (error, PP_TR34_ERROR, PP_TR34_ERROR_INVALID_ARGUMENT);
}

static void
test_validity (void)
{
  g_autoptr(PpTr34Krd) krd = make_krd ();
  g_autoptr(PpTr34KrdState) state = pp_tr34_krd_state_new ();
  g_autoptr(GBytes) token = strict_token_with_nonce (state, NULL);
  g_autoptr(GDateTime) after = g_date_time_new_utc (2041, 6, 1, 0, 0, 0);
  g_autoptr(GDateTime) before = g_date_time_new_utc (2020, 6, 1, 0, 0, 0);
  g_autoptr(GDateTime) inside = g_date_time_new_utc (2030, 6, 1, 0, 0, 0);
  g_autoptr(PpTr34ReceivedKey) received = NULL;
  g_autoptr(GError) error = NULL;

  pp_tr34_krd_set_time (krd, after);
  expect_refused (krd, state, token, PP_TR34_ERROR_CERT_EXPIRED);
  pp_tr34_krd_set_time (krd, before);
  expect_refused (krd, state, token, PP_TR34_ERROR_CERT_NOT_YET_VALID);
  pp_tr34_krd_set_time (krd, inside);
  received = pp_tr34_krd_receive_key_token (krd, state, g_bytes_get_data (token, NULL),
                                            g_bytes_get_size (token), &error);
  g_assert_no_error (error);
}

static void
test_wrong_ca (void)
{
  const PpTestPki *pki = pp_test_pki_get ();
  g_autoptr(PpTr34Krd) krd = pp_tr34_krd_new (pki->krd, pki->krd_key);
  g_autoptr(PpTr34KrdState) state = pp_tr34_krd_state_new ();
  g_autoptr(GBytes) token = strict_token_with_nonce (state, NULL);

  /* Trusting only the KRD CA: the KDH does not chain to it. */
  pp_tr34_krd_add_trusted (krd, pki->ca_krd);
  expect_refused (krd, state, token, PP_TR34_ERROR_CERT_UNTRUSTED);
}

static void
test_trust_ca_kdh_only (void)
{
  const PpTestPki *pki = pp_test_pki_get ();
  g_autoptr(PpTr34Krd) krd = pp_tr34_krd_new (pki->krd, pki->krd_key);
  g_autoptr(PpTr34KrdState) state = pp_tr34_krd_state_new ();
  g_autoptr(GBytes) token = strict_token_with_nonce (state, NULL);
  g_autoptr(PpTr34ReceivedKey) received = NULL;
  g_autoptr(GError) error = NULL;

  /* CA_KDH as the only anchor (no root): still a complete check, the CRL
   * included. */
  pp_tr34_krd_add_trusted (krd, pki->ca_kdh);
  received = pp_tr34_krd_receive_key_token (krd, state, g_bytes_get_data (token, NULL),
                                            g_bytes_get_size (token), &error);
  g_assert_no_error (error);
  g_assert_nonnull (received);
}

static void
test_kdh_unknown_and_mismatch (void)
{
  const PpTestPki *pki = pp_test_pki_get ();
  g_autoptr(PpTr34Kdh) kdh = make_kdh (pki->kdh, PP_TR34_PROFILE_X9_2019);
  g_autoptr(PpTr34Krd) krd = pp_tr34_krd_new (pki->krd, pki->krd_key);
  g_autoptr(PpTr34KrdState) state = pp_tr34_krd_state_new ();
  g_autoptr(PpSecureBuffer) key = pp_secure_buffer_new_from_hex ("0123456789ABCDEFFEDCBA9876543210", NULL);
  g_autoptr(GBytes) nonce = pp_tr34_krd_state_issue_nonce (state, 16);
  g_autoptr(GBytes) token = build_token (kdh, key, "A0256K0TB00E0000", PP_TR34_EPHEMERAL_TDES, nonce, NULL);

  pp_tr34_krd_add_trusted (krd, pki->root);
  pp_tr34_krd_add_trusted (krd, pki->ca_kdh);
  /* x9 tokens do not carry the KDH certificate: the KRD must be bound. */
  expect_refused (krd, state, token, PP_TR34_ERROR_KDH_UNKNOWN);
  pp_tr34_krd_set_kdh_cert (krd, pki->kdh_revoked);
  expect_refused (krd, state, token, PP_TR34_ERROR_KDH_MISMATCH);
}

static void
test_other_recipient (void)
{
  const PpTestPki *pki = pp_test_pki_get ();
  g_autoptr(PpTr34Kdh) kdh = make_kdh (pki->kdh, PP_TR34_PROFILE_STRICT);
  g_autoptr(PpTr34Krd) krd = make_krd ();
  g_autoptr(PpTr34KrdState) state = pp_tr34_krd_state_new ();
  g_autoptr(PpSecureBuffer) key = pp_secure_buffer_new_from_hex ("0123456789ABCDEFFEDCBA9876543210", NULL);
  g_autoptr(GBytes) nonce = pp_tr34_krd_state_issue_nonce (state, 16);
  g_autoptr(GBytes) token = NULL;
  g_autoptr(GError) error = NULL;

  token = pp_tr34_kdh_build_key_token (kdh, pki->krd_other, key, "A0256K0TB00E0000",
                                       PP_TR34_EPHEMERAL_TDES, nonce, NULL, &error);
  g_assert_no_error (error);
  expect_refused (krd, state, token, PP_TR34_ERROR_RECIPIENT_MISMATCH);
}

static void
test_every_byte_changed (void)
{
  g_autoptr(PpTr34Krd) krd = make_krd ();
  g_autoptr(PpTr34KrdState) state = pp_tr34_krd_state_new ();
  g_autoptr(GBytes) token = strict_token_with_nonce (state, NULL);
  gsize len = g_bytes_get_size (token);
  g_autofree guint8 *copy = g_memdup2 (g_bytes_get_data (token, NULL), len);
  static const guint8 flips[] = { 0x01, 0x80 };

  for (guint f = 0; f < G_N_ELEMENTS (flips); f++)
    for (gsize i = 0; i < len; i++)
      {
        g_autoptr(GError) error = NULL;
        g_autoptr(PpTr34ReceivedKey) received = NULL;

        copy[i] ^= flips[f];
        received = pp_tr34_krd_receive_key_token (krd, state, copy, len, &error);
        if (received != NULL)
          g_error ("byte %" G_GSIZE_FORMAT " ^ 0x%02X was accepted", i, flips[f]);
        g_assert_nonnull (error);
        g_assert_true (error->domain == PP_TR34_ERROR);
        copy[i] ^= flips[f];
      }

  /* The untouched token still goes through, once. */
  {
    g_autoptr(GError) error = NULL;
    g_autoptr(PpTr34ReceivedKey) received =
      pp_tr34_krd_receive_key_token (krd, state, copy, len, &error);
    g_assert_no_error (error);
    g_assert_nonnull (received);
  }
}

static void
test_every_byte_changed_x9 (void)
{
  const PpTestPki *pki = pp_test_pki_get ();
  g_autoptr(PpTr34Kdh) kdh = make_kdh (pki->kdh, PP_TR34_PROFILE_X9_2012);
  g_autoptr(PpTr34Krd) krd = make_krd ();
  g_autoptr(PpTr34KrdState) state = pp_tr34_krd_state_new ();
  g_autoptr(PpSecureBuffer) key = pp_secure_buffer_new_from_hex ("0123456789ABCDEFFEDCBA9876543210", NULL);
  g_autoptr(GBytes) nonce = pp_tr34_krd_state_issue_nonce (state, 16);
  g_autoptr(GBytes) token = build_token (kdh, key, "A0256K0TB00E0000", PP_TR34_EPHEMERAL_TDES, nonce, NULL);
  gsize len = g_bytes_get_size (token);
  g_autofree guint8 *copy = g_memdup2 (g_bytes_get_data (token, NULL), len);

  for (gsize i = 0; i < len; i++)
    {
      g_autoptr(GError) error = NULL;
      g_autoptr(PpTr34ReceivedKey) received = NULL;

      copy[i] ^= 0xFF;
      received = pp_tr34_krd_receive_key_token (krd, state, copy, len, &error);
      if (received != NULL)
        g_error ("byte %" G_GSIZE_FORMAT " ^ 0xFF was accepted", i);
      g_assert_true (error != NULL && error->domain == PP_TR34_ERROR);
      copy[i] ^= 0xFF;
    }
}

static void
test_truncated (void)
{
  g_autoptr(PpTr34Krd) krd = make_krd ();
  g_autoptr(PpTr34KrdState) state = pp_tr34_krd_state_new ();
  g_autoptr(GBytes) token = strict_token_with_nonce (state, NULL);
  gsize len = g_bytes_get_size (token);
  const guint8 *data = g_bytes_get_data (token, NULL);

  for (gsize n = 0; n < len; n++)
    {
      g_autoptr(GError) error = NULL;
      g_autofree guint8 *prefix = g_memdup2 (data, n);
      g_autoptr(PpTr34ReceivedKey) received =
        pp_tr34_krd_receive_key_token (krd, state, prefix, n, &error);
      g_autoptr(PpTr34Token) parsed = NULL;

      g_assert_null (received);
      g_assert_error (error, PP_TR34_ERROR, PP_TR34_ERROR_TRUNCATED);
      g_clear_error (&error);
      parsed = pp_tr34_token_parse (prefix, n, &error);
      g_assert_null (parsed);
      g_assert_error (error, PP_TR34_ERROR, PP_TR34_ERROR_TRUNCATED);
    }

  /* Trailing garbage is refused too. */
  {
    g_autoptr(GError) error = NULL;
    g_autofree guint8 *longer = g_malloc0 (len + 1);
    g_autoptr(PpTr34Token) parsed = NULL;

    memcpy (longer, data, len);
    parsed = pp_tr34_token_parse (longer, len + 1, &error);
    g_assert_null (parsed);
    g_assert_error (error, PP_TR34_ERROR, PP_TR34_ERROR_MALFORMED);
  }
}

static void
test_wrong_signing_key (void)
{
  const PpTestPki *pki = pp_test_pki_get ();
  g_autoptr(PpTr34Kdh) kdh = NULL;
  g_autoptr(PpSecureBuffer) key = pp_secure_buffer_new_from_hex ("0123456789ABCDEFFEDCBA9876543210", NULL);
  g_autoptr(GBytes) nonce = g_bytes_new ("12345678", 8);
  g_autoptr(GBytes) token = NULL;
  g_autoptr(GError) error = NULL;

  /* The KRD's key is not the KDH certificate's key. */
  EVP_PKEY_up_ref (pki->krd_key);
  kdh = pp_tr34_kdh_new (pki->kdh, pp_tr34_sign_with_pkey, pki->krd_key,
                         (GDestroyNotify) EVP_PKEY_free);
  token = pp_tr34_kdh_build_key_token (kdh, pki->krd, key, "A0256K0TB00E0000",
                                       PP_TR34_EPHEMERAL_TDES, nonce, NULL, &error);
  g_assert_null (token);
  g_assert_error (error, PP_TR34_ERROR, PP_TR34_ERROR_INVALID_ARGUMENT);
}

static void
test_key_header_mismatch (void)
{
  const PpTestPki *pki = pp_test_pki_get ();
  g_autoptr(PpTr34Kdh) kdh = make_kdh (pki->kdh, PP_TR34_PROFILE_STRICT);
  g_autoptr(PpSecureBuffer) k15 = pp_secure_buffer_new_from_hex ("00112233445566778899AABBCCDDEE", NULL);
  g_autoptr(PpSecureBuffer) k32 = pp_secure_buffer_new (32);
  g_autoptr(GBytes) nonce = g_bytes_new ("12345678", 8);
  g_autoptr(GError) error = NULL;
  g_autoptr(GBytes) token = NULL;

  token = pp_tr34_kdh_build_key_token (kdh, pki->krd, k15, "D0144K0AB00E0000",
                                       PP_TR34_EPHEMERAL_AES128, nonce, NULL, &error);
  g_assert_null (token);
  g_assert_error (error, PP_TR34_ERROR, PP_TR34_ERROR_INVALID_ARGUMENT);
  g_clear_error (&error);
  /* 32 bytes is an AES-256 key, not a TDES one. */
  token = pp_tr34_kdh_build_key_token (kdh, pki->krd, k32, "A0256K0TB00E0000",
                                       PP_TR34_EPHEMERAL_AES128, nonce, NULL, &error);
  g_assert_null (token);
  g_assert_error (error, PP_TR34_ERROR, PP_TR34_ERROR_INVALID_ARGUMENT);
  g_clear_error (&error);
  token = pp_tr34_kdh_build_key_token (kdh, pki->krd, k32, "D0144K0AB00E00",
                                       PP_TR34_EPHEMERAL_AES128, nonce, NULL, &error);
  g_assert_null (token);
  g_assert_error (error, PP_TR34_ERROR, PP_TR34_ERROR_INVALID_ARGUMENT);
}

static void
test_wrong_token_type (void)
{
  const PpTestPki *pki = pp_test_pki_get ();
  g_autoptr(PpTr34Kdh) kdh = make_kdh (pki->kdh, PP_TR34_PROFILE_STRICT);
  g_autoptr(PpTr34Krd) krd = make_krd ();
  g_autoptr(PpTr34KrdState) state = pp_tr34_krd_state_new ();
  g_autoptr(GError) error = NULL;
  g_autoptr(GBytes) ct = pp_tr34_kdh_build_credential_token (kdh, &error);

  g_assert_no_error (error);
  expect_refused (krd, state, ct, PP_TR34_ERROR_WRONG_TOKEN_TYPE);
}

static void
test_bind_rebind_unbind (void)
{
  const PpTestPki *pki = pp_test_pki_get ();
  g_autoptr(PpTr34Kdh) kdh = make_kdh (pki->kdh, PP_TR34_PROFILE_STRICT);
  g_autoptr(PpTr34Krd) krd = pp_tr34_krd_new (pki->krd, pki->krd_key);
  g_autoptr(PpTr34KrdState) state = pp_tr34_krd_state_new ();
  g_autoptr(GError) error = NULL;
  g_autoptr(GBytes) ct = NULL;
  g_autoptr(GBytes) rt = NULL;
  g_autoptr(GBytes) rbt = NULL;
  g_autoptr(GBytes) ubt = NULL;
  g_autoptr(GBytes) nonce = NULL;
  g_autoptr(GBytes) nonce2 = NULL;
  g_autoptr(X509) bound = NULL;
  g_autoptr(X509) rebound = NULL;
  g_autoptr(PpTr34Token) parsed_ct = NULL;
  g_autoptr(PpTr34Token) parsed_rt = NULL;

  pp_tr34_krd_add_trusted (krd, pki->root);
  pp_tr34_krd_add_trusted (krd, pki->ca_kdh);

  /* CT_KDH in CMS order, then bind. */
  ct = pp_tr34_kdh_build_credential_token (kdh, &error);
  g_assert_no_error (error);
  parsed_ct = pp_tr34_token_parse (g_bytes_get_data (ct, NULL), g_bytes_get_size (ct), &error);
  g_assert_no_error (error);
  g_assert_cmpint (pp_tr34_token_get_kind (parsed_ct), ==, PP_TR34_TOKEN_CT_KDH);
  g_assert_cmpint (pp_tr34_token_get_profile (parsed_ct), ==, PP_TR34_PROFILE_STRICT);
  bound = pp_tr34_krd_receive_credential_token (krd, g_bytes_get_data (ct, NULL),
                                                g_bytes_get_size (ct), &error);
  g_assert_no_error (error);
  g_assert_cmpint (X509_cmp (bound, pki->kdh), ==, 0);

  /* RT_KRD round trip. */
  nonce = pp_tr34_krd_state_issue_nonce (state, 8);
  rt = pp_tr34_build_random_token (nonce);
  parsed_rt = pp_tr34_token_parse (g_bytes_get_data (rt, NULL), g_bytes_get_size (rt), &error);
  g_assert_no_error (error);
  g_assert_true (g_bytes_equal (pp_tr34_token_get_nonce (parsed_rt), nonce));

  /* Rebind to the same KDH (the only valid one in this PKI) with each
   * profile, then unbind. */
  pp_tr34_kdh_set_profile (kdh, PP_TR34_PROFILE_X9_2019);
  rbt = pp_tr34_kdh_build_rebind_token (kdh, pki->krd, pki->kdh, nonce, &error);
  g_assert_no_error (error);
  rebound = pp_tr34_krd_receive_rebind_token (krd, state, g_bytes_get_data (rbt, NULL),
                                              g_bytes_get_size (rbt), &error);
  g_assert_no_error (error);
  g_assert_cmpint (X509_cmp (rebound, pki->kdh), ==, 0);
  g_assert_null (pp_tr34_krd_receive_rebind_token (krd, state, g_bytes_get_data (rbt, NULL),
                                                   g_bytes_get_size (rbt), &error));
  g_assert_error (error, PP_TR34_ERROR, PP_TR34_ERROR_NONCE_REUSED);
  g_clear_error (&error);

  /* A rebind to a revoked KDH is refused. */
  {
    g_autoptr(GBytes) n3 = pp_tr34_krd_state_issue_nonce (state, 8);
    g_autoptr(GBytes) bad = pp_tr34_kdh_build_rebind_token (kdh, pki->krd, pki->kdh_revoked, n3, &error);
    g_autoptr(X509) none = NULL;

    g_assert_no_error (error);
    none = pp_tr34_krd_receive_rebind_token (krd, state, g_bytes_get_data (bad, NULL),
                                             g_bytes_get_size (bad), &error);
    g_assert_null (none);
    g_assert_error (error, PP_TR34_ERROR, PP_TR34_ERROR_KDH_REVOKED);
    g_clear_error (&error);
  }

  pp_tr34_kdh_set_profile (kdh, PP_TR34_PROFILE_STRICT);
  nonce2 = pp_tr34_krd_state_issue_nonce (state, 8);
  ubt = pp_tr34_kdh_build_unbind_token (kdh, pki->krd_other, nonce2, &error);
  g_assert_no_error (error);
  g_assert_false (pp_tr34_krd_receive_unbind_token (krd, state, g_bytes_get_data (ubt, NULL),
                                                    g_bytes_get_size (ubt), &error));
  g_assert_error (error, PP_TR34_ERROR, PP_TR34_ERROR_RECIPIENT_MISMATCH);
  g_clear_error (&error);
  g_bytes_unref (ubt);
  ubt = pp_tr34_kdh_build_unbind_token (kdh, pki->krd, nonce2, &error);
  g_assert_no_error (error);
  g_assert_true (pp_tr34_krd_receive_unbind_token (krd, state, g_bytes_get_data (ubt, NULL),
                                                   g_bytes_get_size (ubt), &error));
  g_assert_no_error (error);
}

/* The KRD reuses chain and CRL verdicts between tokens; they must never
 * hide a later refusal. */
static void
test_cached_verdicts (void)
{
  const PpTestPki *pki = pp_test_pki_get ();
  g_autoptr(PpTr34Kdh) kdh = make_kdh (pki->kdh_revoked, PP_TR34_PROFILE_STRICT);
  g_autoptr(PpTr34Krd) krd = pp_tr34_krd_new (pki->krd, pki->krd_key);
  g_autoptr(PpTr34KrdState) state = pp_tr34_krd_state_new ();
  g_autoptr(PpSecureBuffer) key = pp_secure_buffer_new_from_hex ("0123456789ABCDEFFEDCBA9876543210", NULL);
  g_autoptr(GBytes) n1 = pp_tr34_krd_state_issue_nonce (state, 16);
  g_autoptr(GBytes) n2 = pp_tr34_krd_state_issue_nonce (state, 16);
  g_autoptr(GBytes) t1 = NULL;
  g_autoptr(GBytes) t2 = NULL;
  g_autoptr(GDateTime) inside = g_date_time_new_utc (2030, 6, 1, 0, 0, 0);
  g_autoptr(GDateTime) after = g_date_time_new_utc (2041, 6, 1, 0, 0, 0);
  g_autoptr(PpTr34ReceivedKey) received = NULL;
  g_autoptr(GError) error = NULL;

  pp_tr34_kdh_set_crl (kdh, NULL);
  t1 = build_token (kdh, key, "A0256K0TB00E0000", PP_TR34_EPHEMERAL_TDES, n1, NULL);
  t2 = build_token (kdh, key, "A0256K0TB00E0000", PP_TR34_EPHEMERAL_TDES, n2, NULL);
  pp_tr34_krd_add_trusted (krd, pki->root);
  pp_tr34_krd_add_trusted (krd, pki->ca_kdh);
  pp_tr34_krd_set_time (krd, inside);

  /* Without any CRL the (revoked) KDH is accepted and its chain cached. */
  received = pp_tr34_krd_receive_key_token (krd, state, g_bytes_get_data (t1, NULL),
                                            g_bytes_get_size (t1), &error);
  g_assert_no_error (error);
  /* A CRL learnt afterwards still applies. */
  pp_tr34_krd_set_crl (krd, pki->crl);
  expect_refused (krd, state, t2, PP_TR34_ERROR_KDH_REVOKED);
  /* And a later verification time is checked afresh. */
  pp_tr34_krd_set_crl (krd, NULL);
  pp_tr34_krd_set_time (krd, after);
  expect_refused (krd, state, t2, PP_TR34_ERROR_CERT_EXPIRED);
  pp_tr34_krd_set_time (krd, inside);
  g_clear_pointer (&received, pp_tr34_received_key_free);
  received = pp_tr34_krd_receive_key_token (krd, state, g_bytes_get_data (t2, NULL),
                                            g_bytes_get_size (t2), &error);
  g_assert_no_error (error);
}

static void
on_async_done (GObject      *source,
               GAsyncResult *result,
               gpointer      user_data)
{
  GAsyncResult **out = user_data;

  *out = g_object_ref (result);
}

static GAsyncResult *
wait_for (GAsyncResult **slot)
{
  while (*slot == NULL)
    g_main_context_iteration (NULL, TRUE);
  return *slot;
}

/* The worker-thread variants give the same results as the direct calls,
 * errors included. */
static void
test_async (void)
{
  const PpTestPki *pki = pp_test_pki_get ();
  g_autoptr(PpTr34Kdh) kdh = make_kdh (pki->kdh, PP_TR34_PROFILE_STRICT);
  g_autoptr(PpTr34Krd) krd = make_krd ();
  g_autoptr(PpTr34KrdState) state = pp_tr34_krd_state_new ();
  g_autoptr(PpSecureBuffer) key = pp_secure_buffer_new_from_hex ("0123456789ABCDEFFEDCBA9876543210", NULL);
  g_autoptr(GBytes) nonce = pp_tr34_krd_state_issue_nonce (state, 16);
  g_autoptr(GAsyncResult) built = NULL;
  g_autoptr(GAsyncResult) got = NULL;
  g_autoptr(GAsyncResult) again = NULL;
  g_autoptr(GBytes) token = NULL;
  g_autoptr(PpTr34ReceivedKey) received = NULL;
  g_autoptr(GError) error = NULL;

  pp_tr34_kdh_build_key_token_async (kdh, pki->krd, key, "A0256K0TB00E0000", PP_TR34_EPHEMERAL_AES128,
                                     nonce, NULL, NULL, on_async_done, &built);
  token = pp_tr34_kdh_build_key_token_finish (wait_for (&built), &error);
  g_assert_no_error (error);

  pp_tr34_krd_receive_key_token_async (krd, state, token, NULL, on_async_done, &got);
  received = pp_tr34_krd_receive_key_token_finish (wait_for (&got), &error);
  g_assert_no_error (error);
  g_assert_true (pp_secure_buffer_equal (received->key, key));
  g_assert_cmpstr (received->kcv, ==, "08D7B4");

  pp_tr34_krd_receive_key_token_async (krd, state, token, NULL, on_async_done, &again);
  g_assert_null (pp_tr34_krd_receive_key_token_finish (wait_for (&again), &error));
  g_assert_error (error, PP_TR34_ERROR, PP_TR34_ERROR_NONCE_REUSED);
}

/* ---- openssl cms interop --------------------------------------------- */

static gboolean
run_openssl (const char * const *argv,
             char              **out_stderr)
{
  g_autoptr(GError) error = NULL;
  int status = 0;

  if (!g_spawn_sync (NULL, (char **) argv, NULL, G_SPAWN_SEARCH_PATH | G_SPAWN_STDOUT_TO_DEV_NULL,
                     NULL, NULL, NULL, out_stderr, &status, &error))
    g_error ("cannot run openssl: %s", error->message);
  return g_spawn_check_wait_status (status, NULL);
}

static void
test_openssl_cms_interop (void)
{
  const PpTestPki *pki = pp_test_pki_get ();
  g_autoptr(PpTr34Kdh) kdh = make_kdh (pki->kdh, PP_TR34_PROFILE_STRICT);
  g_autoptr(PpTr34KrdState) state = pp_tr34_krd_state_new ();
  g_autoptr(GBytes) nonce = pp_tr34_krd_state_issue_nonce (state, 16);
  g_autoptr(GError) error = NULL;
  g_autofree char *dir = NULL;
  g_autofree char *openssl = g_find_program_in_path ("openssl");

  if (openssl == NULL)
    {
      g_test_skip ("openssl command not installed");
      return;
    }
  dir = pp_test_make_tmpdir ();
  pp_test_pki_write (pki, dir);

  for (int eph = PP_TR34_EPHEMERAL_TDES; eph <= PP_TR34_EPHEMERAL_AES128; eph++)
    {
      g_autoptr(PpSecureBuffer) key = pp_secure_buffer_new_from_hex ("00112233445566778899AABBCCDDEEFF", NULL);
      g_autoptr(GBytes) token = build_token (kdh, key, "D0144K0AB00E0000", eph, nonce, NULL);
      g_autofree char *tok_path = g_build_filename (dir, "token.der", NULL);
      g_autofree char *env_path = g_build_filename (dir, "env.der", NULL);
      g_autofree char *ci_path = g_build_filename (dir, "env-ci.der", NULL);
      g_autofree char *block_path = g_build_filename (dir, "block.der", NULL);
      g_autofree char *trust = g_build_filename (dir, "trust.pem", NULL);
      g_autofree char *krd_cert = g_build_filename (dir, "krd.pem", NULL);
      g_autofree char *krd_key = g_build_filename (dir, "krd.key", NULL);
      g_autofree char *err = NULL;
      g_autofree char *env = NULL;
      g_autofree char *block = NULL;
      g_autoptr(GByteArray) ci = g_byte_array_new ();
      g_autoptr(GByteArray) ci_inner = g_byte_array_new ();
      g_autoptr(GByteArray) explicit0 = g_byte_array_new ();
      g_autoptr(GByteArray) ias = pp_tr34_encode_ias (pki->kdh);
      gsize env_len, block_len;
      PpTr34KeyBlock kb;
      const char *verify[] = { "openssl", "cms", "-verify", "-inform", "DER", "-in", tok_path,
                               "-CAfile", trust, "-purpose", "any", "-binary",
                               "-out", env_path, NULL };
      const char *decrypt[] = { "openssl", "cms", "-decrypt", "-inform", "DER", "-in", ci_path,
                                "-recip", krd_cert, "-inkey", krd_key, "-binary",
                                "-out", block_path, NULL };

      g_file_set_contents (tok_path, g_bytes_get_data (token, NULL), g_bytes_get_size (token), &error);
      g_assert_no_error (error);
      if (!run_openssl (verify, &err))
        g_error ("openssl cms -verify refused a strict token: %s", err);
      g_clear_pointer (&err, g_free);

      /* The eContent is a bare EnvelopedData; openssl wants a ContentInfo. */
      g_file_get_contents (env_path, &env, &env_len, &error);
      g_assert_no_error (error);
      pp_der_put (explicit0, PP_DER_CTX0, (const guint8 *) env, env_len);
      pp_der_put_oid (ci_inner, PP_OID (enveloped_data));
      pp_der_put_raw (ci_inner, explicit0->data, explicit0->len);
      pp_der_put_array (ci, PP_DER_SEQUENCE, ci_inner);
      g_file_set_contents (ci_path, (const char *) ci->data, ci->len, &error);
      g_assert_no_error (error);
      if (!run_openssl (decrypt, &err))
        g_error ("openssl cms -decrypt refused a strict envelope: %s", err);

      g_file_get_contents (block_path, &block, &block_len, &error);
      g_assert_no_error (error);
      g_assert_true (pp_tr34_key_block_parse ((const guint8 *) block, block_len, &kb, &error));
      g_assert_no_error (error);
      g_assert_cmpmem (kb.key, kb.key_len, pp_secure_buffer_peek (key), pp_secure_buffer_get_len (key));
      g_assert_cmpmem (kb.header, kb.header_len, "D0144K0AB00E0000", 16);
      g_assert_cmpmem (kb.kdh_ias, kb.kdh_ias_len, ias->data, ias->len);
      /* The key file is test material only; remove the decrypted copy. */
      g_unlink (block_path);
    }
}

/* The other direction: a 1-pass KT_KDH made entirely by `openssl cms`
 * (EnvelopedData with RSA-OAEP SHA-256, then SignedData with signingTime)
 * must be received by our KRD as a strict token. */
static void
test_openssl_made_token (void)
{
  const PpTestPki *pki = pp_test_pki_get ();
  g_autofree char *openssl = g_find_program_in_path ("openssl");
  g_autofree char *dir = NULL;
  static const char * const ciphers[] = { "-des3", "-aes128" };

  if (openssl == NULL)
    {
      g_test_skip ("openssl command not installed");
      return;
    }
  dir = pp_test_make_tmpdir ();
  pp_test_pki_write (pki, dir);

  for (guint c = 0; c < G_N_ELEMENTS (ciphers); c++)
    {
      g_autoptr(PpTr34Krd) krd = make_krd ();
      g_autoptr(PpTr34KrdState) state = pp_tr34_krd_state_new ();
      g_autoptr(GError) error = NULL;
      g_autoptr(GByteArray) block = g_byte_array_new ();
      g_autoptr(GByteArray) inner = g_byte_array_new ();
      g_autoptr(GByteArray) hdr_set = g_byte_array_new ();
      g_autoptr(GByteArray) hdr = g_byte_array_new ();
      g_autoptr(GByteArray) ias = pp_tr34_encode_ias (pki->kdh);
      g_autoptr(PpTr34ReceivedKey) received = NULL;
      g_autoptr(PpTr34Token) parsed = NULL;
      g_autofree char *block_path = g_build_filename (dir, "kb.der", NULL);
      g_autofree char *ci_path = g_build_filename (dir, "env-ci.der", NULL);
      g_autofree char *env_path = g_build_filename (dir, "env.der", NULL);
      g_autofree char *tok_path = g_build_filename (dir, "ossl-token.der", NULL);
      g_autofree char *krd_cert = g_build_filename (dir, "krd.pem", NULL);
      g_autofree char *kdh_cert = g_build_filename (dir, "kdh.pem", NULL);
      g_autofree char *kdh_key = g_build_filename (dir, "kdh.key", NULL);
      g_autofree char *err = NULL;
      g_autofree char *ci = NULL;
      g_autofree char *tok = NULL;
      gsize ci_len, tok_len;
      PpDer cur, in;
      PpDerTlv seq, oid, explicit0;
      static const guint8 key[16] = { 0x10, 0x32, 0x54, 0x76, 0x98, 0xBA, 0xDC, 0xFE,
                                      0xEF, 0xCD, 0xAB, 0x89, 0x67, 0x45, 0x23, 0x01 };
      const char *encrypt[] = { "openssl", "cms", "-encrypt", "-binary", "-in", block_path,
                                "-outform", "DER", "-out", ci_path, "-recip", krd_cert,
                                "-keyopt", "rsa_padding_mode:oaep", "-keyopt", "rsa_oaep_md:sha256",
                                "-keyopt", "rsa_mgf1_md:sha256", ciphers[c], NULL };
      const char *sign[] = { "openssl", "cms", "-sign", "-binary", "-nodetach", "-in", env_path,
                             "-econtent_type", "1.2.840.113549.1.7.3", "-signer", kdh_cert,
                             "-inkey", kdh_key, "-md", "sha256", "-nosmimecap",
                             "-outform", "DER", "-out", tok_path, NULL };

      g_test_message ("openssl cms %s", ciphers[c]);
      pp_der_put (hdr_set, PP_DER_OCTET_STRING, (const guint8 *) "A0256K0TB00E0000", 16);
      pp_der_put_oid (hdr, PP_OID (data));
      pp_der_put_array (hdr, PP_DER_SET, hdr_set);
      pp_der_put_small_int (inner, 1);
      pp_der_put_raw (inner, ias->data, ias->len);
      pp_der_put (inner, PP_DER_OCTET_STRING, key, sizeof key);
      pp_der_put_array (inner, PP_DER_SEQUENCE, hdr);
      pp_der_put_array (block, PP_DER_SEQUENCE, inner);
      g_file_set_contents (block_path, (const char *) block->data, block->len, &error);
      g_assert_no_error (error);

      if (!run_openssl (encrypt, &err))
        g_error ("openssl cms -encrypt failed: %s", err);
      g_clear_pointer (&err, g_free);

      /* TR-34 carries the bare EnvelopedData: drop the ContentInfo. */
      g_file_get_contents (ci_path, &ci, &ci_len, &error);
      g_assert_no_error (error);
      pp_der_init (&cur, (const guint8 *) ci, ci_len);
      g_assert_true (pp_der_expect (&cur, PP_DER_SEQUENCE, &seq, "ContentInfo", NULL));
      pp_der_enter (&seq, &in);
      g_assert_true (pp_der_expect (&in, PP_DER_OID, &oid, "type", NULL));
      g_assert_true (pp_der_expect (&in, PP_DER_CTX0, &explicit0, "content", NULL));
      g_file_set_contents (env_path, (const char *) explicit0.value, explicit0.len, &error);
      g_assert_no_error (error);

      if (!run_openssl (sign, &err))
        g_error ("openssl cms -sign failed: %s", err);

      g_file_get_contents (tok_path, &tok, &tok_len, &error);
      g_assert_no_error (error);
      parsed = pp_tr34_token_parse ((const guint8 *) tok, tok_len, &error);
      g_assert_no_error (error);
      g_assert_cmpint (pp_tr34_token_get_kind (parsed), ==, PP_TR34_TOKEN_KT_KDH);
      g_assert_cmpint (pp_tr34_token_get_profile (parsed), ==, PP_TR34_PROFILE_STRICT);
      g_assert_nonnull (pp_tr34_token_get_signing_time (parsed));

      received = pp_tr34_krd_receive_key_token (krd, state, (const guint8 *) tok, tok_len, &error);
      g_assert_no_error (error);
      g_assert_cmpmem (pp_secure_buffer_peek (received->key), pp_secure_buffer_get_len (received->key),
                       key, sizeof key);
      g_assert_cmpstr (received->header, ==, "A0256K0TB00E0000");
      g_assert_true (received->one_pass);
      g_unlink (block_path);
    }
}

int
main (int    argc,
      char **argv)
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/tr34/round-trips", test_round_trips);
  g_test_add_func ("/tr34/nonce/wrong", test_nonce_wrong);
  g_test_add_func ("/tr34/nonce/reused", test_nonce_reused);
  g_test_add_func ("/tr34/one-pass/time", test_one_pass_time);
  g_test_add_func ("/tr34/nonce/state-save-load", test_state_save_load);
  g_test_add_func ("/tr34/crl/revoked", test_revoked);
  g_test_add_func ("/tr34/crl/forged", test_crl_forged);
  g_test_add_func ("/tr34/crl/expired", test_crl_expired);
  g_test_add_func ("/tr34/one-pass/future", test_one_pass_future);
  g_test_add_func ("/tr34/one-pass/time-zone", test_one_pass_time_zone);
  g_test_add_func ("/tr34/cert/validity", test_validity);
  g_test_add_func ("/tr34/kdh/serial-high-bit", test_serial_high_bit);
  g_test_add_func ("/tr34/kdh/role", test_kdh_role);
  g_test_add_func ("/tr34/kdh/refuses-non-krd", test_kdh_refuses_non_krd);
  g_test_add_func ("/tr34/cert/wrong-ca", test_wrong_ca);
  g_test_add_func ("/tr34/cert/trust-ca-kdh-only", test_trust_ca_kdh_only);
  g_test_add_func ("/tr34/kdh/unknown-and-mismatch", test_kdh_unknown_and_mismatch);
  g_test_add_func ("/tr34/recipient/other", test_other_recipient);
  g_test_add_func ("/tr34/tamper/every-byte", test_every_byte_changed);
  g_test_add_func ("/tr34/tamper/every-byte-x9-2012", test_every_byte_changed_x9);
  g_test_add_func ("/tr34/tamper/truncated", test_truncated);
  g_test_add_func ("/tr34/token/wrong-type", test_wrong_token_type);
  g_test_add_func ("/tr34/kdh/wrong-signing-key", test_wrong_signing_key);
  g_test_add_func ("/tr34/kdh/key-header-mismatch", test_key_header_mismatch);
  g_test_add_func ("/tr34/bind-rebind-unbind", test_bind_rebind_unbind);
  g_test_add_func ("/tr34/cache/no-stale-verdicts", test_cached_verdicts);
  g_test_add_func ("/tr34/async", test_async);
  g_test_add_func ("/tr34/interop/openssl-cms", test_openssl_cms_interop);
  g_test_add_func ("/tr34/interop/openssl-made-token", test_openssl_made_token);

  return g_test_run ();
}
