/* SPDX-License-Identifier: GPL-3.0-or-later
 *
 * bench-tr34.c: how fast KT_KDH tokens are built and received, next to
 * the raw RSA-2048 operations that bound them, measured in the same run:
 * a build is dominated by one PKCS#1 v1.5 signature (plus one cheap OAEP
 * encryption), a receive by one OAEP decryption (plus cheap signature and
 * chain verifications). The ratios should stay at or above 0.8.
 *
 * Not a test (timings depend on the machine): run build/bench/bench-tr34
 * [SECONDS_PER_MEASUREMENT].
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include <openssl/rsa.h>

#include "pp-openssl-types.h"
#include "pp-tr34.h"
#include "tr34-test-pki.h"

typedef gboolean (*OpFunc) (gpointer data);

/* CPU time of this process: the machine may be shared, and wall-clock
 * rates would then measure the neighbours. */
static gint64
cpu_usec (void)
{
  struct timespec ts;

  clock_gettime (CLOCK_PROCESS_CPUTIME_ID, &ts);
  return (gint64) ts.tv_sec * G_USEC_PER_SEC + ts.tv_nsec / 1000;
}

/* Runs @op until @seconds of CPU time have passed; returns operations per
 * CPU second. */
static double
measure (OpFunc   op,
         gpointer data,
         double   seconds)
{
  gint64 start = cpu_usec ();
  gint64 end = start + (gint64) (seconds * G_USEC_PER_SEC);
  gint64 now;
  guint64 n = 0;

  do
    {
      if (!op (data))
        {
          fprintf (stderr, "bench-tr34: an operation failed\n");
          exit (1);
        }
      n++;
      now = cpu_usec ();
    }
  while (now < end);

  return (double) n * G_USEC_PER_SEC / (double) (now - start);
}

/* ---- raw RSA ------------------------------------------------------------ */

static guint8 attrs_like[160];

static gboolean
raw_sign (gpointer data)
{
  g_autoptr(GBytes) sig = NULL;

  return pp_tr34_sign_with_pkey (data, attrs_like, sizeof attrs_like, &sig, NULL);
}

typedef struct {
  EVP_PKEY *key;
  guint8    ct[512];
  size_t    ct_len;
} OaepData;

static gboolean
raw_oaep_decrypt (gpointer data)
{
  OaepData *d = data;
  g_autoptr(EVP_PKEY_CTX) ctx = EVP_PKEY_CTX_new (d->key, NULL);
  guint8 out[512];
  size_t out_len = sizeof out;

  return ctx != NULL && EVP_PKEY_decrypt_init (ctx) == 1 &&
         EVP_PKEY_CTX_set_rsa_padding (ctx, RSA_PKCS1_OAEP_PADDING) == 1 &&
         EVP_PKEY_CTX_set_rsa_oaep_md (ctx, EVP_sha256 ()) == 1 &&
         EVP_PKEY_CTX_set_rsa_mgf1_md (ctx, EVP_sha256 ()) == 1 &&
         EVP_PKEY_decrypt (ctx, out, &out_len, d->ct, d->ct_len) == 1;
}

static void
oaep_encrypt_once (OaepData *d,
                   EVP_PKEY *pub)
{
  g_autoptr(EVP_PKEY_CTX) ctx = EVP_PKEY_CTX_new (pub, NULL);
  static const guint8 ke[24] = { 1, 2, 3 };

  d->ct_len = sizeof d->ct;
  if (ctx == NULL || EVP_PKEY_encrypt_init (ctx) != 1 ||
      EVP_PKEY_CTX_set_rsa_padding (ctx, RSA_PKCS1_OAEP_PADDING) != 1 ||
      EVP_PKEY_CTX_set_rsa_oaep_md (ctx, EVP_sha256 ()) != 1 ||
      EVP_PKEY_CTX_set_rsa_mgf1_md (ctx, EVP_sha256 ()) != 1 ||
      EVP_PKEY_encrypt (ctx, d->ct, &d->ct_len, ke, sizeof ke) != 1)
    {
      fprintf (stderr, "bench-tr34: OAEP encryption failed\n");
      exit (1);
    }
}

/* ---- TR-34 ---------------------------------------------------------------- */

typedef struct {
  PpTr34Kdh      *kdh;
  PpTr34Krd      *krd;
  PpTr34KrdState *state;
  PpSecureBuffer *key;
  GBytes         *nonce;
  GBytes         *token;
} Tr34Data;

static gboolean
tr34_build (gpointer data)
{
  Tr34Data *d = data;
  const PpTestPki *pki = pp_test_pki_get ();
  g_autoptr(GBytes) token = NULL;

  token = pp_tr34_kdh_build_key_token (d->kdh, pki->krd, d->key, "A0256K0TB00E0000",
                                       PP_TR34_EPHEMERAL_TDES, d->nonce, NULL, NULL);
  return token != NULL;
}

static gboolean
tr34_receive (gpointer data)
{
  Tr34Data *d = data;
  g_autoptr(PpTr34ReceivedKey) received = NULL;

  /* Re-issue the nonce: every receive consumes it. */
  pp_tr34_krd_state_add_nonce (d->state, d->nonce);
  received = pp_tr34_krd_receive_key_token (d->krd, d->state, g_bytes_get_data (d->token, NULL),
                                            g_bytes_get_size (d->token), NULL);
  return received != NULL;
}

static void
tr34_setup (Tr34Data      *d,
            PpTr34Profile  profile)
{
  const PpTestPki *pki = pp_test_pki_get ();
  static const guint8 nonce[16] = { 0x42 };

  EVP_PKEY_up_ref (pki->kdh_key);
  d->kdh = pp_tr34_kdh_new (pki->kdh, pp_tr34_sign_with_pkey, pki->kdh_key,
                            (GDestroyNotify) EVP_PKEY_free);
  pp_tr34_kdh_set_crl (d->kdh, pki->crl);
  pp_tr34_kdh_set_profile (d->kdh, profile);
  d->krd = pp_tr34_krd_new (pki->krd, pki->krd_key);
  pp_tr34_krd_add_trusted (d->krd, pki->root);
  pp_tr34_krd_add_trusted (d->krd, pki->ca_kdh);
  pp_tr34_krd_set_kdh_cert (d->krd, pki->kdh);
  d->state = pp_tr34_krd_state_new ();
  d->key = pp_secure_buffer_new_from_hex ("0123456789ABCDEFFEDCBA9876543210", NULL);
  d->nonce = g_bytes_new_static (nonce, sizeof nonce);
  d->token = pp_tr34_kdh_build_key_token (d->kdh, pki->krd, d->key, "A0256K0TB00E0000",
                                          PP_TR34_EPHEMERAL_TDES, d->nonce, NULL, NULL);
  if (d->token == NULL || !tr34_receive (d))
    {
      fprintf (stderr, "bench-tr34: the benchmark token does not round-trip\n");
      exit (1);
    }
}

static void
tr34_clear (Tr34Data *d)
{
  pp_tr34_kdh_free (d->kdh);
  pp_tr34_krd_free (d->krd);
  pp_tr34_krd_state_free (d->state);
  pp_secure_buffer_free (d->key);
  g_bytes_unref (d->nonce);
  g_bytes_unref (d->token);
}

int
main (int    argc,
      char **argv)
{
  double seconds = argc > 1 ? g_ascii_strtod (argv[1], NULL) : 2.0;
  const PpTestPki *pki;
  OaepData oaep = { 0 };
  double sign_rate, decrypt_rate;
  gboolean ok = TRUE;

  if (seconds <= 0)
    seconds = 2.0;

  fprintf (stderr, "bench-tr34: generating the test PKI (RSA-2048)...\n");
  pki = pp_test_pki_get ();
  for (guint i = 0; i < sizeof attrs_like; i++)
    attrs_like[i] = (guint8) i;
  oaep.key = pki->krd_key;
  oaep_encrypt_once (&oaep, X509_get0_pubkey (pki->krd));

  sign_rate = measure (raw_sign, pki->kdh_key, seconds);
  decrypt_rate = measure (raw_oaep_decrypt, &oaep, seconds);
  printf ("(operations per CPU second)\n");
  printf ("%-44s %9.1f /s\n", "raw RSA-2048 sign (PKCS#1 v1.5, SHA-256)", sign_rate);
  printf ("%-44s %9.1f /s\n", "raw RSA-2048 OAEP decrypt (SHA-256)", decrypt_rate);

  for (int profile = PP_TR34_PROFILE_STRICT; profile < PP_TR34_N_PROFILES; profile++)
    {
      Tr34Data d = { 0 };
      g_autofree char *build_label = NULL, *receive_label = NULL;
      double build_rate, receive_rate, build_ratio, receive_ratio;

      tr34_setup (&d, profile);
      build_rate = measure (tr34_build, &d, seconds);
      receive_rate = measure (tr34_receive, &d, seconds);
      build_ratio = build_rate / sign_rate;
      receive_ratio = receive_rate / decrypt_rate;
      build_label = g_strdup_printf ("KT_KDH build (%s, TDES, 2-pass)", pp_tr34_profile_to_string (profile));
      receive_label = g_strdup_printf ("KT_KDH receive (%s, TDES, 2-pass)", pp_tr34_profile_to_string (profile));
      printf ("%-44s %9.1f /s   ratio to raw sign:         %.2f%s\n", build_label, build_rate,
              build_ratio, build_ratio >= 0.8 ? "" : "  (below 0.8)");
      printf ("%-44s %9.1f /s   ratio to raw OAEP decrypt: %.2f%s\n", receive_label, receive_rate,
              receive_ratio, receive_ratio >= 0.8 ? "" : "  (below 0.8)");
      ok = ok && build_ratio >= 0.8 && receive_ratio >= 0.8;
      tr34_clear (&d);
    }

  printf ("goal (ratios >= 0.8): %s\n", ok ? "met" : "NOT met");
  return 0;
}
