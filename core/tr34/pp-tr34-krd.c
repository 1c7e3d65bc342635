/* SPDX-License-Identifier: GPL-3.0-or-later
 *
 * pp-tr34-krd.c: the Key Receiving Device side of TR-34.
 *
 * Order of checks for a key token: structure, KDH certificate chain at
 * the verification time, CRL (its own signature by CA_KDH, then the KDH
 * serial), the signature over the attributes as received, messageDigest,
 * nonce or signing time, then only the decryption. The nonce is consumed
 * and the signing time recorded only when everything succeeded.
 */
#include "config.h"

#include <string.h>

#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <openssl/rsa.h>
#include <openssl/x509v3.h>

#include "pp-hex.h"
#include "pp-openssl-types.h"
#include "pp-tr34-private.h"

struct _PpTr34KrdState
{
  GPtrArray *issued;    /* GBytes, not yet used */
  GPtrArray *consumed;  /* GBytes, accepted once */
  GDateTime *last_time;
};

/* Verdicts and decodings a KRD may reuse. Receiving is bounded by one
 * RSA-OAEP decryption; without these, decoding the token's certificate
 * (OpenSSL 3.0's key decoders) and re-verifying an unchanged chain and CRL
 * would cost a third as much again on every token. Each entry is keyed on
 * exact DER bytes or on the same verification inputs, so reuse never
 * changes a verdict. */
#define CACHE_SIZE 8

typedef struct {
  GBytes *der;
  X509   *cert;
} CachedCert;

typedef struct {
  X509     *cert;
  X509     *issuer;       /* may be NULL */
  gboolean  fixed_time;
  gint64    at;           /* fixed_time: the verification time */
  gint64    valid_until;  /* !fixed_time: earliest notAfter in the chain */
} CachedChain;

typedef struct {
  GBytes *der;
  X509   *issuer;
} CachedCrl;

struct _PpTr34Krd
{
  X509           *cert;
  EVP_PKEY       *key;
  STACK_OF(X509) *trusted;
  X509           *kdh_cert;
  X509_CRL       *crl;
  GBytes         *crl_der;
  GDateTime      *at;
  GPtrArray      *certs_seen;   /* CachedCert */
  GPtrArray      *chains_ok;    /* CachedChain */
  GPtrArray      *crls_ok;      /* CachedCrl */
};

static void
cached_cert_free (CachedCert *c)
{
  g_bytes_unref (c->der);
  X509_free (c->cert);
  g_free (c);
}

static void
cached_chain_free (CachedChain *c)
{
  X509_free (c->cert);
  X509_free (c->issuer);
  g_free (c);
}

static void
cached_crl_free (CachedCrl *c)
{
  g_bytes_unref (c->der);
  X509_free (c->issuer);
  g_free (c);
}

static void
cache_push (GPtrArray *cache,
            gpointer   entry)
{
  if (cache->len >= CACHE_SIZE)
    g_ptr_array_remove_index (cache, 0);
  g_ptr_array_add (cache, entry);
}

static GBytes *
cert_der (X509 *cert)
{
  unsigned char *der = NULL;
  int len = i2d_X509 (cert, &der);
  GBytes *bytes;

  if (len <= 0)
    return NULL;
  bytes = g_bytes_new (der, len);
  OPENSSL_free (der);
  return bytes;
}

static void
remember_cert (PpTr34Krd *krd,
               GBytes    *der,
               X509      *cert)
{
  CachedCert *c = g_new0 (CachedCert, 1);

  c->der = g_bytes_ref (der);
  X509_up_ref (cert);
  c->cert = cert;
  cache_push (krd->certs_seen, c);
}

static X509 *
krd_decode_cert (gpointer      user_data,
                 const guint8 *der,
                 gsize         len)
{
  PpTr34Krd *krd = user_data;
  const unsigned char *p = der;
  g_autoptr(GBytes) bytes = NULL;
  X509 *x;

  for (guint i = 0; i < krd->certs_seen->len; i++)
    {
      CachedCert *c = g_ptr_array_index (krd->certs_seen, i);
      gsize clen;
      const guint8 *cdata = g_bytes_get_data (c->der, &clen);

      if (clen == len && memcmp (cdata, der, len) == 0)
        {
          X509_up_ref (c->cert);
          return c->cert;
        }
    }

  x = d2i_X509 (NULL, &p, (long) len);
  if (x == NULL || p != der + len)
    {
      X509_free (x);
      return NULL;
    }
  bytes = g_bytes_new (der, len);
  remember_cert (krd, bytes, x);
  return x;
}

/* ---- State ----------------------------------------------------------- */

PpTr34KrdState *
pp_tr34_krd_state_new (void)
{
  PpTr34KrdState *state = g_new0 (PpTr34KrdState, 1);

  state->issued = g_ptr_array_new_with_free_func ((GDestroyNotify) g_bytes_unref);
  state->consumed = g_ptr_array_new_with_free_func ((GDestroyNotify) g_bytes_unref);
  return state;
}

void
pp_tr34_krd_state_free (PpTr34KrdState *state)
{
  if (state == NULL)
    return;
  g_ptr_array_unref (state->issued);
  g_ptr_array_unref (state->consumed);
  g_clear_pointer (&state->last_time, g_date_time_unref);
  g_free (state);
}

GBytes *
pp_tr34_krd_state_issue_nonce (PpTr34KrdState *state,
                               gsize           len)
{
  g_autofree guint8 *buf = NULL;
  GBytes *nonce;

  g_return_val_if_fail (state != NULL, NULL);
  g_return_val_if_fail (len > 0 && len <= 64, NULL);

  buf = g_malloc (len);
  if (RAND_bytes (buf, (int) len) != 1)
    return NULL;
  nonce = g_bytes_new (buf, len);
  g_ptr_array_add (state->issued, g_bytes_ref (nonce));
  return nonce;
}

void
pp_tr34_krd_state_add_nonce (PpTr34KrdState *state,
                             GBytes         *nonce)
{
  g_return_if_fail (state != NULL);
  g_return_if_fail (nonce != NULL);

  g_ptr_array_add (state->issued, g_bytes_ref (nonce));
}

static gint
find_bytes (GPtrArray *array,
            GBytes    *value)
{
  for (guint i = 0; i < array->len; i++)
    if (g_bytes_equal (g_ptr_array_index (array, i), value))
      return (gint) i;
  return -1;
}

gboolean
pp_tr34_krd_state_has_nonce (PpTr34KrdState *state,
                             GBytes         *nonce)
{
  g_return_val_if_fail (state != NULL, FALSE);
  g_return_val_if_fail (nonce != NULL, FALSE);

  return find_bytes (state->issued, nonce) >= 0;
}

void
pp_tr34_krd_state_set_last_time (PpTr34KrdState *state,
                                 GDateTime      *time)
{
  g_return_if_fail (state != NULL);

  if (time != NULL)
    g_date_time_ref (time);
  g_clear_pointer (&state->last_time, g_date_time_unref);
  state->last_time = time;
}

GDateTime *
pp_tr34_krd_state_get_last_time (PpTr34KrdState *state)
{
  g_return_val_if_fail (state != NULL, NULL);
  return state->last_time;
}

static void
add_nonces (GVariantBuilder *b,
            GPtrArray       *nonces)
{
  g_variant_builder_open (b, G_VARIANT_TYPE ("aay"));
  for (guint i = 0; i < nonces->len; i++)
    {
      GBytes *n = g_ptr_array_index (nonces, i);
      g_variant_builder_add_value (b, g_variant_new_from_bytes (G_VARIANT_TYPE_BYTESTRING, n, TRUE));
    }
  g_variant_builder_close (b);
}

GVariant *
pp_tr34_krd_state_save (PpTr34KrdState *state)
{
  GVariantBuilder b;

  g_return_val_if_fail (state != NULL, NULL);

  g_variant_builder_init (&b, G_VARIANT_TYPE ("(aayaayx)"));
  add_nonces (&b, state->issued);
  add_nonces (&b, state->consumed);
  g_variant_builder_add (&b, "x", state->last_time != NULL
                                  ? g_date_time_to_unix (state->last_time) : (gint64) -1);
  return g_variant_builder_end (&b);
}

static void
load_nonces (GVariant  *array,
             GPtrArray *into)
{
  GVariantIter iter;
  GVariant *child;

  g_variant_iter_init (&iter, array);
  while ((child = g_variant_iter_next_value (&iter)) != NULL)
    {
      gsize len;
      const guint8 *data = g_variant_get_fixed_array (child, &len, 1);

      if (len > 0 && len <= 64)
        g_ptr_array_add (into, g_bytes_new (data, len));
      g_variant_unref (child);
    }
}

PpTr34KrdState *
pp_tr34_krd_state_load (GVariant  *saved,
                        GError   **error)
{
  g_autoptr(PpTr34KrdState) state = NULL;
  g_autoptr(GVariant) issued = NULL;
  g_autoptr(GVariant) consumed = NULL;
  gint64 last;

  g_return_val_if_fail (saved != NULL, NULL);

  if (!g_variant_is_of_type (saved, G_VARIANT_TYPE ("(aayaayx)")))
    {
      g_set_error (error, PP_TR34_ERROR, PP_TR34_ERROR_INVALID_ARGUMENT,
                   "Saved KRD state has type %s, not (aayaayx)", g_variant_get_type_string (saved));
      return NULL;
    }
  state = pp_tr34_krd_state_new ();
  g_variant_get (saved, "(@aay@aayx)", &issued, &consumed, &last);
  load_nonces (issued, state->issued);
  load_nonces (consumed, state->consumed);
  if (last >= 0)
    {
      state->last_time = g_date_time_new_from_unix_utc (last);
      if (state->last_time == NULL)
        {
          g_set_error_literal (error, PP_TR34_ERROR, PP_TR34_ERROR_INVALID_ARGUMENT,
                               "Saved KRD state has an impossible signing time");
          return NULL;
        }
    }
  return g_steal_pointer (&state);
}

/* ---- KRD ------------------------------------------------------------- */

PpTr34Krd *
pp_tr34_krd_new (X509     *cert,
                 EVP_PKEY *key)
{
  PpTr34Krd *krd;

  g_return_val_if_fail (cert != NULL, NULL);
  g_return_val_if_fail (key != NULL, NULL);

  krd = g_new0 (PpTr34Krd, 1);
  X509_up_ref (cert);
  EVP_PKEY_up_ref (key);
  krd->cert = cert;
  krd->key = key;
  krd->trusted = sk_X509_new_null ();
  krd->certs_seen = g_ptr_array_new_with_free_func ((GDestroyNotify) cached_cert_free);
  krd->chains_ok = g_ptr_array_new_with_free_func ((GDestroyNotify) cached_chain_free);
  krd->crls_ok = g_ptr_array_new_with_free_func ((GDestroyNotify) cached_crl_free);
  return krd;
}

void
pp_tr34_krd_free (PpTr34Krd *krd)
{
  if (krd == NULL)
    return;
  X509_free (krd->cert);
  EVP_PKEY_free (krd->key);
  sk_X509_pop_free (krd->trusted, X509_free);
  X509_free (krd->kdh_cert);
  X509_CRL_free (krd->crl);
  g_clear_pointer (&krd->crl_der, g_bytes_unref);
  g_clear_pointer (&krd->at, g_date_time_unref);
  g_ptr_array_unref (krd->certs_seen);
  g_ptr_array_unref (krd->chains_ok);
  g_ptr_array_unref (krd->crls_ok);
  g_free (krd);
}

void
pp_tr34_krd_add_trusted (PpTr34Krd *krd,
                         X509      *ca)
{
  g_return_if_fail (krd != NULL);
  g_return_if_fail (ca != NULL);

  X509_up_ref (ca);
  sk_X509_push (krd->trusted, ca);
  /* A new anchor may change chain building: forget earlier verdicts. */
  g_ptr_array_set_size (krd->chains_ok, 0);
  g_ptr_array_set_size (krd->crls_ok, 0);
}

void
pp_tr34_krd_set_kdh_cert (PpTr34Krd *krd,
                          X509      *kdh_cert)
{
  g_return_if_fail (krd != NULL);

  if (kdh_cert != NULL)
    {
      g_autoptr(GBytes) der = cert_der (kdh_cert);

      X509_up_ref (kdh_cert);
      if (der != NULL)
        remember_cert (krd, der, kdh_cert);
    }
  X509_free (krd->kdh_cert);
  krd->kdh_cert = kdh_cert;
}

void
pp_tr34_krd_set_crl (PpTr34Krd *krd,
                     X509_CRL  *crl)
{
  g_return_if_fail (krd != NULL);

  g_clear_pointer (&krd->crl_der, g_bytes_unref);
  if (crl != NULL)
    {
      unsigned char *der = NULL;
      int len = i2d_X509_CRL (crl, &der);

      if (len > 0)
        krd->crl_der = g_bytes_new (der, len);
      OPENSSL_free (der);
      X509_CRL_up_ref (crl);
    }
  X509_CRL_free (krd->crl);
  krd->crl = crl;
}

void
pp_tr34_krd_set_time (PpTr34Krd *krd,
                      GDateTime *at)
{
  g_return_if_fail (krd != NULL);

  if (at != NULL)
    g_date_time_ref (at);
  g_clear_pointer (&krd->at, g_date_time_unref);
  krd->at = at;
}

void
pp_tr34_received_key_free (PpTr34ReceivedKey *received)
{
  if (received == NULL)
    return;
  g_clear_pointer (&received->key, pp_secure_buffer_free);
  g_free (received->kcv);
  g_free (received->header);
  g_free (received->kdh_serial);
  g_clear_pointer (&received->signing_time, g_date_time_unref);
  g_free (received);
}

/* ---- Checks ----------------------------------------------------------- */

static gboolean
asn1_time_to_unix_checked (const ASN1_TIME *t,
                           gint64          *out)
{
  struct tm tm;
  g_autoptr(GDateTime) dt = NULL;

  if (ASN1_TIME_to_tm (t, &tm) != 1)
    return FALSE;
  dt = g_date_time_new_utc (tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
                            tm.tm_hour, tm.tm_min, tm.tm_sec);
  if (dt == NULL)
    return FALSE;
  *out = g_date_time_to_unix (dt);
  return TRUE;
}

static gint64
asn1_time_to_unix (const ASN1_TIME *t)
{
  gint64 out = 0;

  return asn1_time_to_unix_checked (t, &out) ? out : 0;
}

/* The verification time in Unix seconds: the one set, else now. */
static gint64
krd_now (PpTr34Krd *krd)
{
  if (krd->at != NULL)
    return g_date_time_to_unix (krd->at);
  return g_get_real_time () / G_USEC_PER_SEC;
}

static char *
format_unix (gint64 t)
{
  g_autoptr(GDateTime) dt = g_date_time_new_from_unix_utc (t);

  return dt != NULL ? g_date_time_format (dt, "%Y-%m-%dT%H:%M:%SZ") : g_strdup ("?");
}

/* A CRL speaks only for [thisUpdate, nextUpdate]: past nextUpdate the CA
 * may have revoked the KDH since, so an expired CRL proves nothing and
 * the KRD refuses rather than trusting stale news. A CRL without
 * nextUpdate (optional in X.509, required by RFC 5280 5.1.2.5) is taken
 * as current. */
static gboolean
check_crl_time (PpTr34Krd  *krd,
                X509_CRL   *crl,
                GError    **error)
{
  const ASN1_TIME *this_update = X509_CRL_get0_lastUpdate (crl);
  const ASN1_TIME *next_update = X509_CRL_get0_nextUpdate (crl);
  gint64 now = krd_now (krd);
  gint64 t;

  if (this_update == NULL || !asn1_time_to_unix_checked (this_update, &t))
    {
      g_set_error_literal (error, PP_TR34_ERROR, PP_TR34_ERROR_CRL_INVALID,
                           "The CRL's thisUpdate time is invalid");
      return FALSE;
    }
  if (t > now)
    {
      g_autofree char *when = format_unix (t);

      g_set_error (error, PP_TR34_ERROR, PP_TR34_ERROR_CRL_INVALID,
                   "The CRL is not valid before %s", when);
      return FALSE;
    }
  if (next_update == NULL)
    return TRUE;
  if (!asn1_time_to_unix_checked (next_update, &t))
    {
      g_set_error_literal (error, PP_TR34_ERROR, PP_TR34_ERROR_CRL_INVALID,
                           "The CRL's nextUpdate time is invalid");
      return FALSE;
    }
  if (t < now)
    {
      g_autofree char *when = format_unix (t);

      g_set_error (error, PP_TR34_ERROR, PP_TR34_ERROR_CRL_INVALID,
                   "The CRL expired at %s", when);
      return FALSE;
    }
  return TRUE;
}

static gboolean
verify_cert_full (X509            *cert,
                  STACK_OF(X509)  *trusted,
                  STACK_OF(X509)  *untrusted,
                  GDateTime       *at,
                  X509           **out_issuer,
                  gint64          *out_valid_until,
                  GError         **error)
{
  g_autoptr(X509_STORE) store = X509_STORE_new ();
  g_autoptr(X509_STORE_CTX) ctx = X509_STORE_CTX_new ();
  STACK_OF(X509) *chain;
  int err;

  /* OpenSSL marks certificates with repeated or undecodable extensions
   * invalid (Annex B's KDH_1 repeats basicConstraints and keyUsage) and
   * then reports a missing issuer; say what is really wrong. */
  if (X509_get_extension_flags (cert) & EXFLAG_INVALID)
    {
      g_set_error_literal (error, PP_TR34_ERROR, PP_TR34_ERROR_CERT_INVALID,
                           "KDH certificate rejected: repeated or invalid extensions");
      return FALSE;
    }
  if (store == NULL || ctx == NULL)
    {
      g_set_error_literal (error, PP_TR34_ERROR, PP_TR34_ERROR_CRYPTO,
                           "Cannot set up certificate verification");
      return FALSE;
    }
  for (int i = 0; trusted != NULL && i < sk_X509_num (trusted); i++)
    X509_STORE_add_cert (store, sk_X509_value (trusted, i));
  if (X509_STORE_CTX_init (ctx, store, cert, untrusted) != 1)
    {
      g_set_error_literal (error, PP_TR34_ERROR, PP_TR34_ERROR_CRYPTO,
                           "Cannot set up certificate verification");
      return FALSE;
    }
  /* A KRD may trust CA_KDH alone, without the root above it. */
  X509_VERIFY_PARAM_set_flags (X509_STORE_CTX_get0_param (ctx), X509_V_FLAG_PARTIAL_CHAIN);
  if (at != NULL)
    X509_VERIFY_PARAM_set_time (X509_STORE_CTX_get0_param (ctx),
                                (time_t) g_date_time_to_unix (at));

  if (X509_verify_cert (ctx) != 1)
    {
      PpTr34Error code;

      err = X509_STORE_CTX_get_error (ctx);
      switch (err)
        {
        case X509_V_ERR_CERT_HAS_EXPIRED:
          code = PP_TR34_ERROR_CERT_EXPIRED;
          break;
        case X509_V_ERR_CERT_NOT_YET_VALID:
          code = PP_TR34_ERROR_CERT_NOT_YET_VALID;
          break;
        case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT:
        case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY:
        case X509_V_ERR_UNABLE_TO_VERIFY_LEAF_SIGNATURE:
        case X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT:
        case X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN:
          code = PP_TR34_ERROR_CERT_UNTRUSTED;
          break;
        default:
          code = PP_TR34_ERROR_CERT_INVALID;
          break;
        }
      g_set_error (error, PP_TR34_ERROR, code, "KDH certificate rejected: %s",
                   X509_verify_cert_error_string (err));
      return FALSE;
    }

  chain = X509_STORE_CTX_get0_chain (ctx);
  /* What OpenSSL verified, checked again on the DER: the unsigned outer
   * algorithm and the parameters (RFC 5280 4.1.1.2), for every link. */
  for (int i = 0; chain != NULL && i < sk_X509_num (chain); i++)
    if (!pp_tr34_check_cert (sk_X509_value (chain, i),
                             i == 0 ? "KDH certificate" : "CA certificate", error))
      return FALSE;
  if (out_issuer != NULL)
    {
      *out_issuer = NULL;
      if (chain != NULL && sk_X509_num (chain) >= 2)
        {
          *out_issuer = sk_X509_value (chain, 1);
          X509_up_ref (*out_issuer);
        }
    }
  if (out_valid_until != NULL)
    {
      *out_valid_until = G_MAXINT64;
      for (int i = 0; chain != NULL && i < sk_X509_num (chain); i++)
        *out_valid_until = MIN (*out_valid_until,
                                asn1_time_to_unix (X509_get0_notAfter (sk_X509_value (chain, i))));
    }
  return TRUE;
}

gboolean
pp_tr34_verify_cert (X509            *cert,
                     STACK_OF(X509)  *trusted,
                     STACK_OF(X509)  *untrusted,
                     GDateTime       *at,
                     X509           **out_issuer,
                     GError         **error)
{
  return verify_cert_full (cert, trusted, untrusted, at, out_issuer, NULL, error);
}

static gboolean
crl_known_good (PpTr34Krd    *krd,
                const guint8 *der,
                gsize         len,
                X509         *issuer)
{
  for (guint i = 0; der != NULL && i < krd->crls_ok->len; i++)
    {
      CachedCrl *c = g_ptr_array_index (krd->crls_ok, i);
      gsize clen;
      const guint8 *cdata = g_bytes_get_data (c->der, &clen);

      if (c->issuer == issuer && clen == len && memcmp (cdata, der, len) == 0)
        return TRUE;
    }
  return FALSE;
}

static gboolean
check_crl (PpTr34Krd     *krd,
           X509_CRL      *crl,
           const guint8  *der,
           gsize          der_len,
           X509          *issuer,
           X509          *kdh_cert,
           GError       **error)
{
  X509_REVOKED *revoked = NULL;
  EVP_PKEY *pub;

  if (issuer == NULL)
    {
      g_set_error_literal (error, PP_TR34_ERROR, PP_TR34_ERROR_CRL_INVALID,
                           "No CA certificate to check the CRL with");
      return FALSE;
    }
  if (X509_NAME_cmp (X509_CRL_get_issuer (crl), X509_get_subject_name (issuer)) != 0)
    {
      g_set_error_literal (error, PP_TR34_ERROR, PP_TR34_ERROR_CRL_INVALID,
                           "The CRL is not issued by the KDH's CA");
      return FALSE;
    }
  /* RFC 5280 6.3.3 (f): a CA whose key usage leaves out cRLSign does not
   * speak for revocation, however well its CRL verifies. */
  if ((X509_get_extension_flags (issuer) & EXFLAG_KUSAGE) &&
      !(X509_get_key_usage (issuer) & KU_CRL_SIGN))
    {
      g_set_error_literal (error, PP_TR34_ERROR, PP_TR34_ERROR_CRL_INVALID,
                           "The CRL's issuer may not sign CRLs: its key usage lacks cRLSign "
                           "(RFC 5280 6.3.3 (f))");
      return FALSE;
    }
  if (!crl_known_good (krd, der, der_len, issuer))
    {
      if (der != NULL ? !pp_tr34_check_crl_der (der, der_len, "CRL", error)
                      : !pp_tr34_check_crl (crl, "CRL", error))
        return FALSE;
      pub = X509_get0_pubkey (issuer);
      if (pub == NULL || X509_CRL_verify (crl, pub) != 1)
        {
          g_set_error_literal (error, PP_TR34_ERROR, PP_TR34_ERROR_CRL_INVALID,
                               "The CRL's signature does not verify with the CA key");
          return FALSE;
        }
      if (der != NULL)
        {
          CachedCrl *c = g_new0 (CachedCrl, 1);

          c->der = g_bytes_new (der, der_len);
          X509_up_ref (issuer);
          c->issuer = issuer;
          cache_push (krd->crls_ok, c);
        }
    }
  if (X509_CRL_get0_by_cert (crl, &revoked, kdh_cert) == 1)
    {
      g_autofree char *serial = NULL;
      const ASN1_INTEGER *s = X509_get0_serialNumber (kdh_cert);

      serial = pp_hex_encode (ASN1_STRING_get0_data (s), ASN1_STRING_length (s));
      g_set_error (error, PP_TR34_ERROR, PP_TR34_ERROR_KDH_REVOKED,
                   "The KDH certificate (serial %s) is revoked by its CA", serial);
      return FALSE;
    }
  /* After the serial: a revocation stays true in an outdated CRL, and
   * saying so is the more useful refusal. */
  return check_crl_time (krd, crl, error);
}

static X509 *
find_issuer (STACK_OF(X509) *trusted,
             STACK_OF(X509) *untrusted,
             X509           *cert)
{
  STACK_OF(X509) *lists[2] = { trusted, untrusted };

  for (guint l = 0; l < 2; l++)
    for (int i = 0; lists[l] != NULL && i < sk_X509_num (lists[l]); i++)
      {
        X509 *ca = sk_X509_value (lists[l], i);
        if (X509_check_issued (ca, cert) == X509_V_OK)
          {
            X509_up_ref (ca);
            return ca;
          }
      }
  return NULL;
}

static CachedChain *
chain_known_good (PpTr34Krd *krd,
                  X509      *cert)
{
  for (guint i = 0; i < krd->chains_ok->len; i++)
    {
      CachedChain *c = g_ptr_array_index (krd->chains_ok, i);

      if (X509_cmp (c->cert, cert) != 0)
        continue;
      if (krd->at != NULL)
        {
          if (c->fixed_time && c->at == g_date_time_to_unix (krd->at))
            return c;
        }
      else if (!c->fixed_time && g_get_real_time () / G_USEC_PER_SEC < c->valid_until)
        return c;
    }
  return NULL;
}

/* A chain to the trust is not enough to be a KDH: with the root trusted,
 * every terminal's own certificate (issued by CA_KRD under the same root)
 * chains too, and a key extracted from one terminal would then load keys
 * into all the others. A KDH certificate is an end-entity signing
 * certificate, and not one issued by the CA that issued this KRD's. */
static gboolean
check_kdh_role (PpTr34Krd  *krd,
                X509       *cert,
                X509       *issuer,
                GError    **error)
{
  if (X509_check_ca (cert) != 0 ||
      ((X509_get_extension_flags (cert) & EXFLAG_KUSAGE) &&
       !(X509_get_key_usage (cert) & KU_DIGITAL_SIGNATURE)))
    {
      g_set_error_literal (error, PP_TR34_ERROR, PP_TR34_ERROR_CERT_INVALID,
                           "The KDH certificate is not an end-entity signing certificate");
      return FALSE;
    }
  if (issuer != NULL && X509_check_issued (issuer, krd->cert) == X509_V_OK)
    {
      g_set_error_literal (error, PP_TR34_ERROR, PP_TR34_ERROR_CERT_UNTRUSTED,
                           "The KDH certificate is issued by this KRD's own CA, not by a CA_KDH");
      return FALSE;
    }
  return TRUE;
}

/* Verifies @cert as a KDH certificate: chain, then every CRL we hold. */
static gboolean
check_kdh_cert (PpTr34Krd         *krd,
                X509              *cert,
                const PpTr34Token *token,
                GError           **error)
{
  STACK_OF(X509) *untrusted = token != NULL ? token->certs : NULL;
  X509_CRL *token_crl = token != NULL ? token->crl : NULL;
  CachedChain *known = chain_known_good (krd, cert);
  g_autoptr(X509) issuer = NULL;

  if (known != NULL)
    {
      if (known->issuer != NULL)
        {
          X509_up_ref (known->issuer);
          issuer = known->issuer;
        }
    }
  else
    {
      CachedChain *c;
      gint64 valid_until = 0;

      if (!verify_cert_full (cert, krd->trusted, untrusted, krd->at, &issuer, &valid_until, error))
        return FALSE;
      if (issuer == NULL)
        issuer = find_issuer (krd->trusted, untrusted, cert);

      c = g_new0 (CachedChain, 1);
      X509_up_ref (cert);
      c->cert = cert;
      if (issuer != NULL)
        {
          X509_up_ref (issuer);
          c->issuer = issuer;
        }
      c->fixed_time = krd->at != NULL;
      c->at = krd->at != NULL ? g_date_time_to_unix (krd->at) : 0;
      c->valid_until = valid_until;
      cache_push (krd->chains_ok, c);
    }

  if (!check_kdh_role (krd, cert, issuer, error))
    return FALSE;
  if (token_crl != NULL &&
      !check_crl (krd, token_crl, token->crl_tlv.raw, token->crl_tlv.raw_len, issuer, cert, error))
    return FALSE;
  if (krd->crl != NULL &&
      !check_crl (krd, krd->crl, krd->crl_der != NULL ? g_bytes_get_data (krd->crl_der, NULL) : NULL,
                  krd->crl_der != NULL ? g_bytes_get_size (krd->crl_der) : 0, issuer, cert, error))
    return FALSE;
  return TRUE;
}

/* Finds the signer's certificate (token first, then the bound KDH),
 * checks it and the signature. Returns the KDH certificate. */
static X509 *
authenticate (PpTr34Krd          *krd,
              const PpTr34Token  *token,
              GError            **error)
{
  X509 *kdh = NULL;

  for (int i = 0; token->certs != NULL && i < sk_X509_num (token->certs); i++)
    if (pp_tr34_sid_matches (token, sk_X509_value (token->certs, i)))
      {
        kdh = sk_X509_value (token->certs, i);
        break;
      }
  if (kdh != NULL && krd->kdh_cert != NULL && X509_cmp (kdh, krd->kdh_cert) != 0)
    {
      g_set_error_literal (error, PP_TR34_ERROR, PP_TR34_ERROR_KDH_MISMATCH,
                           "The token is signed by a KDH other than the bound one");
      return NULL;
    }
  if (kdh == NULL && krd->kdh_cert != NULL)
    {
      if (!pp_tr34_sid_matches (token, krd->kdh_cert))
        {
          g_set_error_literal (error, PP_TR34_ERROR, PP_TR34_ERROR_KDH_MISMATCH,
                               "The token is signed by a KDH other than the bound one");
          return NULL;
        }
      kdh = krd->kdh_cert;
    }
  if (kdh == NULL)
    {
      g_set_error_literal (error, PP_TR34_ERROR, PP_TR34_ERROR_KDH_UNKNOWN,
                           "The token does not carry the KDH certificate and none is bound");
      return NULL;
    }

  if (!check_kdh_cert (krd, kdh, token, error))
    return NULL;
  /* Whatever else the token carries must verify too: an unchecked copy
   * would let a changed byte pass unnoticed. */
  for (int i = 0; token->certs != NULL && i < sk_X509_num (token->certs); i++)
    {
      X509 *other = sk_X509_value (token->certs, i);

      if (other != kdh && chain_known_good (krd, other) == NULL &&
          !pp_tr34_verify_cert (other, krd->trusted, token->certs, krd->at, NULL, error))
        return NULL;
    }
  if (!pp_tr34_token_verify_signature (token, X509_get0_pubkey (kdh), error))
    return NULL;

  X509_up_ref (kdh);
  return kdh;
}

/* Returns the index of the nonce to consume, -1 for 1-pass. */
static gboolean
check_freshness (PpTr34Krd          *krd,
                 PpTr34KrdState     *state,
                 const PpTr34Token  *token,
                 gboolean            allow_one_pass,
                 gint               *out_index,
                 GError            **error)
{
  *out_index = -1;
  if (token->nonce != NULL)
    {
      gint idx = find_bytes (state->issued, token->nonce);

      if (idx < 0)
        {
          if (find_bytes (state->consumed, token->nonce) >= 0)
            g_set_error_literal (error, PP_TR34_ERROR, PP_TR34_ERROR_NONCE_REUSED,
                                 "The token replays a nonce that was already used");
          else
            g_set_error_literal (error, PP_TR34_ERROR, PP_TR34_ERROR_NONCE_MISMATCH,
                                 "The token's nonce is not one this KRD issued");
          return FALSE;
        }
      *out_index = idx;
      return TRUE;
    }

  if (allow_one_pass && token->signing_time != NULL)
    {
      if (state->last_time != NULL &&
          g_date_time_compare (token->signing_time, state->last_time) <= 0)
        {
          g_set_error_literal (error, PP_TR34_ERROR, PP_TR34_ERROR_STALE_SIGNING_TIME,
                               "The 1-pass signing time is not newer than the last accepted one");
          return FALSE;
        }
      /* A time ahead of ours would be accepted once and then block every
       * honest token until that time is reached (each must be newer), so
       * only a small clock difference is tolerated. */
      if (g_date_time_to_unix (token->signing_time) >
          krd_now (krd) + PP_TR34_SIGNING_TIME_SKEW_SECONDS)
        {
          g_autofree char *when = g_date_time_format (token->signing_time, "%Y-%m-%dT%H:%M:%SZ");

          g_set_error (error, PP_TR34_ERROR, PP_TR34_ERROR_FUTURE_SIGNING_TIME,
                       "The 1-pass signing time %s is in the future", when);
          return FALSE;
        }
      return TRUE;
    }

  g_set_error_literal (error, PP_TR34_ERROR, PP_TR34_ERROR_NONCE_MISSING,
                       "The token has neither a nonce nor a signing time");
  return FALSE;
}

static void
commit_freshness (PpTr34KrdState    *state,
                  const PpTr34Token *token,
                  gint               index)
{
  if (index >= 0)
    {
      GBytes *used = g_ptr_array_steal_index (state->issued, index);

      /* Remembered only to name a replay precisely (NONCE_REUSED rather
       * than NONCE_MISMATCH); either way it is refused, so a bound keeps
       * a long-lived state small. */
      if (state->consumed->len >= 4096)
        g_ptr_array_remove_index (state->consumed, 0);
      g_ptr_array_add (state->consumed, used);
    }
  else if (token->signing_time != NULL)
    pp_tr34_krd_state_set_last_time (state, token->signing_time);
}

static PpTr34Token *
parse_expect (PpTr34Krd        *krd,
              const guint8     *der,
              gsize             len,
              PpTr34TokenType   type,
              GError          **error)
{
  g_autoptr(PpTr34Token) token = pp_tr34_token_parse_with_decoder (der, len, krd_decode_cert,
                                                                    krd, error);

  if (token == NULL)
    return NULL;
  if (token->type != type)
    {
      g_set_error (error, PP_TR34_ERROR, PP_TR34_ERROR_WRONG_TOKEN_TYPE,
                   "Expected a %s token, got %s", pp_tr34_token_type_to_string (type),
                   pp_tr34_token_type_to_string (token->type));
      return NULL;
    }
  return g_steal_pointer (&token);
}

static gboolean
ias_equal (const guint8 *raw,
           gsize         raw_len,
           X509         *cert)
{
  g_autoptr(GByteArray) ias = pp_tr34_encode_ias (cert);

  return ias->len == raw_len && memcmp (ias->data, raw, raw_len) == 0;
}

static PpSecureBuffer *
oaep_decrypt (EVP_PKEY      *key,
              const guint8  *data,
              gsize          len,
              GError       **error)
{
  g_autoptr(EVP_PKEY_CTX) ctx = EVP_PKEY_CTX_new (key, NULL);
  g_autoptr(PpSecureBuffer) out = NULL;
  size_t out_len = 0;

  if (ctx == NULL || EVP_PKEY_decrypt_init (ctx) != 1 ||
      EVP_PKEY_CTX_set_rsa_padding (ctx, RSA_PKCS1_OAEP_PADDING) != 1 ||
      EVP_PKEY_CTX_set_rsa_oaep_md (ctx, EVP_sha256 ()) != 1 ||
      EVP_PKEY_CTX_set_rsa_mgf1_md (ctx, EVP_sha256 ()) != 1 ||
      EVP_PKEY_decrypt (ctx, NULL, &out_len, data, len) != 1)
    goto failed;
  out = pp_secure_buffer_new (out_len);
  if (EVP_PKEY_decrypt (ctx, pp_secure_buffer_get_data (out), &out_len, data, len) != 1)
    goto failed;
  pp_secure_buffer_truncate (out, out_len);
  return g_steal_pointer (&out);

failed:
  g_set_error_literal (error, PP_TR34_ERROR, PP_TR34_ERROR_DECRYPT_FAILED,
                       "The ephemeral key does not decrypt with this KRD's private key");
  return NULL;
}

PpTr34ReceivedKey *
pp_tr34_krd_receive_key_token (PpTr34Krd       *krd,
                               PpTr34KrdState  *state,
                               const guint8    *der,
                               gsize            len,
                               GError         **error)
{
  g_autoptr(PpTr34Token) token = NULL;
  g_autoptr(X509) kdh = NULL;
  g_autoptr(PpSecureBuffer) ke = NULL;
  g_autoptr(PpSecureBuffer) plain = NULL;
  g_autoptr(PpTr34ReceivedKey) received = NULL;
  const PpTr34Envelope *env;
  PpTr34KeyBlock block;
  PpKeyAlgorithm algorithm;
  g_autoptr(GError) kcv_error = NULL;
  gint nonce_index;
  const ASN1_INTEGER *serial;

  g_return_val_if_fail (krd != NULL, NULL);
  g_return_val_if_fail (state != NULL, NULL);
  g_return_val_if_fail (der != NULL || len == 0, NULL);

  token = parse_expect (krd, der, len, PP_TR34_TOKEN_KT_KDH, error);
  if (token == NULL)
    return NULL;
  env = &token->envelope;
  if (env->n_recipients != 1)
    {
      g_set_error_literal (error, PP_TR34_ERROR, PP_TR34_ERROR_UNSUPPORTED,
                           "A key token must have exactly one recipient");
      return NULL;
    }

  kdh = authenticate (krd, token, error);
  if (kdh == NULL)
    return NULL;
  if (!check_freshness (krd, state, token, TRUE, &nonce_index, error))
    return NULL;

  if (!ias_equal (env->recipient_ias, env->recipient_ias_len, krd->cert))
    {
      g_set_error_literal (error, PP_TR34_ERROR, PP_TR34_ERROR_RECIPIENT_MISMATCH,
                           "The key token is addressed to another KRD");
      return NULL;
    }

  ke = oaep_decrypt (krd->key, env->encrypted_key, env->encrypted_key_len, error);
  if (ke == NULL)
    return NULL;
  plain = pp_tr34_content_decrypt (env->ephemeral, pp_secure_buffer_peek (ke),
                                   pp_secure_buffer_get_len (ke), env->iv, env->iv_len,
                                   env->ciphertext, env->ciphertext_len, error);
  if (plain == NULL)
    return NULL;
  if (!pp_tr34_key_block_parse (pp_secure_buffer_peek (plain), pp_secure_buffer_get_len (plain),
                                &block, error))
    return NULL;
  if (!ias_equal (block.kdh_ias, block.kdh_ias_len, kdh))
    {
      g_set_error_literal (error, PP_TR34_ERROR, PP_TR34_ERROR_KDH_MISMATCH,
                           "The key block names a KDH other than the signer");
      return NULL;
    }
  if (token->header != NULL &&
      (strlen (token->header) != block.header_len ||
       memcmp (token->header, block.header, block.header_len) != 0))
    {
      g_set_error_literal (error, PP_TR34_ERROR, PP_TR34_ERROR_KEY_BLOCK_MALFORMED,
                           "The key block header differs from the signed header");
      return NULL;
    }

  switch (block.header[7])
    {
    case 'A':
      algorithm = PP_KEY_ALGORITHM_AES;
      break;
    case 'T':
    case 'D':
      algorithm = PP_KEY_ALGORITHM_TDES;
      break;
    default:
      g_set_error (error, PP_TR34_ERROR, PP_TR34_ERROR_UNSUPPORTED,
                   "Key algorithm '%c' in the header is not supported", block.header[7]);
      return NULL;
    }

  received = g_new0 (PpTr34ReceivedKey, 1);
  received->key = pp_secure_buffer_new_from (block.key, block.key_len);
  received->kcv = pp_kcv_compute (algorithm, received->key, pp_kcv_default_length (algorithm),
                                  &kcv_error);
  if (received->kcv == NULL)
    {
      g_set_error (error, PP_TR34_ERROR, PP_TR34_ERROR_KEY_BLOCK_MALFORMED,
                   "The received key does not fit its header: %s", kcv_error->message);
      return NULL;
    }
  received->header = g_strndup ((const char *) block.header, block.header_len);
  serial = X509_get0_serialNumber (kdh);
  received->kdh_serial = pp_hex_encode (ASN1_STRING_get0_data (serial), ASN1_STRING_length (serial));
  received->profile = token->profile;
  received->ephemeral = env->ephemeral;
  received->one_pass = token->nonce == NULL;
  if (received->one_pass)
    received->signing_time = g_date_time_ref (token->signing_time);

  commit_freshness (state, token, nonce_index);
  return g_steal_pointer (&received);
}

X509 *
pp_tr34_krd_receive_credential_token (PpTr34Krd     *krd,
                                      const guint8  *der,
                                      gsize          len,
                                      GError       **error)
{
  g_autoptr(PpTr34Token) token = NULL;
  X509 *kdh;

  g_return_val_if_fail (krd != NULL, NULL);

  token = parse_expect (krd, der, len, PP_TR34_TOKEN_CT_KDH, error);
  if (token == NULL)
    return NULL;
  kdh = sk_X509_value (token->certs, 0);
  if (!check_kdh_cert (krd, kdh, token, error))
    return NULL;
  pp_tr34_krd_set_kdh_cert (krd, kdh);
  X509_up_ref (kdh);
  return kdh;
}

/* The identifiers an unbind or rebind carries: IAS(KRD), then, in the
 * CA-signed tokens (B.10, B.13), IAS(KDH) of the KDH being left. The
 * KRD must be this one; the KDH, when named, the bound one. */
static gboolean
check_content_ids (PpTr34Krd     *krd,
                   const guint8  *data,
                   gsize          len,
                   gboolean       allow_kdh_id,
                   const char    *what,
                   gboolean      *out_named_kdh,
                   GError       **error)
{
  PpDer cur;
  PpDerTlv krd_id, kdh_id;

  if (out_named_kdh != NULL)
    *out_named_kdh = FALSE;

  pp_der_init (&cur, data, len);
  if (!pp_der_expect (&cur, PP_DER_SEQUENCE, &krd_id, "KRD identifier", error))
    return FALSE;
  if (!ias_equal (krd_id.raw, krd_id.raw_len, krd->cert))
    {
      g_set_error (error, PP_TR34_ERROR, PP_TR34_ERROR_RECIPIENT_MISMATCH,
                   "The %s token is addressed to another KRD", what);
      return FALSE;
    }
  if (allow_kdh_id && !pp_der_at_end (&cur))
    {
      if (!pp_der_expect (&cur, PP_DER_SEQUENCE, &kdh_id, "KDH identifier", error))
        return FALSE;
      if (krd->kdh_cert != NULL && !ias_equal (kdh_id.raw, kdh_id.raw_len, krd->kdh_cert))
        {
          g_set_error (error, PP_TR34_ERROR, PP_TR34_ERROR_KDH_MISMATCH,
                       "The %s token names a KDH other than the bound one", what);
          return FALSE;
        }
      if (out_named_kdh != NULL)
        *out_named_kdh = krd->kdh_cert != NULL;
    }
  return pp_der_expect_end (&cur, "token content", error);
}

/* Content of RBT_KDH and RBT_CA_UNBIND: a SignedData (Annex B drops its
 * SEQUENCE header) naming this KRD and carrying the new KDH certificate. */
static X509 *
parse_rebind_content (PpTr34Krd          *krd,
                      const PpTr34Token  *token,
                      gboolean            allow_kdh_id,
                      GError            **error)
{
  g_autoptr(GByteArray) wrapped = g_byte_array_new ();
  g_autoptr(PpTr34Token) inner = NULL;
  g_autoptr(GByteArray) ci = g_byte_array_new ();
  g_autoptr(GByteArray) seq = g_byte_array_new ();
  g_autoptr(GByteArray) explicit0 = g_byte_array_new ();
  const guint8 *p = token->econtent.value;
  gsize n = token->econtent.len;

  if (n > 0 && p[0] == PP_DER_SEQUENCE)
    pp_der_put_raw (seq, p, n);
  else
    pp_der_put (seq, PP_DER_SEQUENCE, p, n);
  pp_der_put_array (explicit0, PP_DER_CTX0, seq);
  pp_der_put_oid (ci, PP_OID (signed_data));
  pp_der_put_raw (ci, explicit0->data, explicit0->len);
  pp_der_put_array (wrapped, PP_DER_SEQUENCE, ci);

  inner = pp_tr34_token_parse_unclassified (wrapped->data, wrapped->len, error);
  if (inner == NULL)
    return NULL;
  if (inner->signed_ || inner->certs == NULL || sk_X509_num (inner->certs) != 1 ||
      !inner->has_econtent)
    {
      g_set_error_literal (error, PP_TR34_ERROR, PP_TR34_ERROR_MALFORMED,
                           "Rebind content is not a certificate for this KRD");
      return NULL;
    }
  if (!check_content_ids (krd, inner->econtent.value, inner->econtent.len,
                          allow_kdh_id, "rebind", NULL, error))
    return NULL;
  X509_up_ref (sk_X509_value (inner->certs, 0));
  return sk_X509_value (inner->certs, 0);
}

/* The CA-signed tokens come from the CA that issued this KRD's certificate
 * (CA_KRD signs B.10 and B.13): it may release the KRD when the bound KDH
 * cannot. The CA is found in the token or among the trusted certificates,
 * must have issued this KRD's certificate and must verify at the
 * verification time. */
static X509 *
authenticate_krd_ca (PpTr34Krd          *krd,
                     const PpTr34Token  *token,
                     GError            **error)
{
  STACK_OF(X509) *lists[2] = { token->certs, krd->trusted };
  X509 *ca = NULL;

  for (guint l = 0; l < 2 && ca == NULL; l++)
    for (int i = 0; lists[l] != NULL && i < sk_X509_num (lists[l]); i++)
      if (pp_tr34_sid_matches (token, sk_X509_value (lists[l], i)))
        {
          ca = sk_X509_value (lists[l], i);
          break;
        }
  if (ca == NULL)
    {
      g_set_error_literal (error, PP_TR34_ERROR, PP_TR34_ERROR_CERT_UNTRUSTED,
                           "The token's signer is not a known CA certificate");
      return NULL;
    }
  if (X509_check_issued (ca, krd->cert) != X509_V_OK)
    {
      g_set_error_literal (error, PP_TR34_ERROR, PP_TR34_ERROR_CERT_UNTRUSTED,
                           "The token is not signed by the CA that issued this KRD's certificate");
      return NULL;
    }
  if (!pp_tr34_verify_cert (ca, krd->trusted, token->certs, krd->at, NULL, error))
    return NULL;
  if (!pp_tr34_token_verify_signature (token, X509_get0_pubkey (ca), error))
    return NULL;
  X509_up_ref (ca);
  return ca;
}

/* One sequence serves the four binding tokens: parse, authenticate (by
 * the bound KDH, or by the CA that issued this KRD's certificate), check
 * freshness and content, then commit. A rebind hands the new KDH back
 * through out_new_kdh; an unbind passes NULL there. */
static gboolean
receive_binding_token (PpTr34Krd        *krd,
                       PpTr34KrdState   *state,
                       const guint8     *der,
                       gsize             len,
                       PpTr34TokenType   type,
                       gboolean          by_ca,
                       X509            **out_new_kdh,
                       GError          **error)
{
  g_autoptr(PpTr34Token) token = NULL;
  g_autoptr(X509) signer = NULL;
  g_autoptr(X509) new_kdh = NULL;
  gint nonce_index = -1;
  gboolean named_kdh = FALSE;
  /* A CA unbind checks its content before its freshness: whether it may
   * go without a nonce or time depends on the KDH the content names. */
  gboolean freshness_first = out_new_kdh != NULL || !by_ca;

  token = parse_expect (krd, der, len, type, error);
  if (token == NULL)
    return FALSE;
  signer = by_ca ? authenticate_krd_ca (krd, token, error) : authenticate (krd, token, error);
  if (signer == NULL)
    return FALSE;
  if (freshness_first && !check_freshness (krd, state, token, by_ca, &nonce_index, error))
    return FALSE;
  if (out_new_kdh != NULL)
    {
      new_kdh = parse_rebind_content (krd, token, by_ca, error);
      if (new_kdh == NULL)
        return FALSE;
      if (!check_kdh_cert (krd, new_kdh, token, error))
        return FALSE;
    }
  else if (!check_content_ids (krd, token->econtent.value, token->econtent.len, by_ca,
                               "unbind", &named_kdh, error))
    return FALSE;
  /* Annex B's B.13 signs the content alone, with neither nonce nor time.
   * Such a token is accepted only when it names the bound KDH: a replay
   * can then only undo that very binding, never a later one. */
  if (!freshness_first)
    {
      if (token->nonce != NULL || token->signing_time != NULL)
        {
          if (!check_freshness (krd, state, token, TRUE, &nonce_index, error))
            return FALSE;
        }
      else if (!named_kdh)
        {
          g_set_error_literal (error, PP_TR34_ERROR, PP_TR34_ERROR_NONCE_MISSING,
                               "A CA unbind without a signing time must name the bound KDH");
          return FALSE;
        }
    }

  commit_freshness (state, token, nonce_index);
  pp_tr34_krd_set_kdh_cert (krd, new_kdh);
  if (out_new_kdh != NULL)
    *out_new_kdh = g_steal_pointer (&new_kdh);
  return TRUE;
}

X509 *
pp_tr34_krd_receive_rebind_token (PpTr34Krd       *krd,
                                  PpTr34KrdState  *state,
                                  const guint8    *der,
                                  gsize            len,
                                  GError         **error)
{
  X509 *new_kdh = NULL;

  g_return_val_if_fail (krd != NULL, NULL);
  g_return_val_if_fail (state != NULL, NULL);

  if (!receive_binding_token (krd, state, der, len, PP_TR34_TOKEN_RBT_KDH, FALSE, &new_kdh,
                              error))
    return NULL;
  return new_kdh;
}

gboolean
pp_tr34_krd_receive_unbind_token (PpTr34Krd       *krd,
                                  PpTr34KrdState  *state,
                                  const guint8    *der,
                                  gsize            len,
                                  GError         **error)
{
  g_return_val_if_fail (krd != NULL, FALSE);
  g_return_val_if_fail (state != NULL, FALSE);

  return receive_binding_token (krd, state, der, len, PP_TR34_TOKEN_UBT_KDH, FALSE, NULL,
                                error);
}

X509 *
pp_tr34_krd_receive_ca_rebind_token (PpTr34Krd       *krd,
                                     PpTr34KrdState  *state,
                                     const guint8    *der,
                                     gsize            len,
                                     GError         **error)
{
  X509 *new_kdh = NULL;

  g_return_val_if_fail (krd != NULL, NULL);
  g_return_val_if_fail (state != NULL, NULL);
  g_return_val_if_fail (der != NULL || len == 0, NULL);

  if (!receive_binding_token (krd, state, der, len, PP_TR34_TOKEN_RBT_CA_UNBIND, TRUE, &new_kdh,
                              error))
    return NULL;
  return new_kdh;
}

gboolean
pp_tr34_krd_receive_ca_unbind_token (PpTr34Krd       *krd,
                                     PpTr34KrdState  *state,
                                     const guint8    *der,
                                     gsize            len,
                                     GError         **error)
{
  g_return_val_if_fail (krd != NULL, FALSE);
  g_return_val_if_fail (state != NULL, FALSE);
  g_return_val_if_fail (der != NULL || len == 0, FALSE);

  return receive_binding_token (krd, state, der, len, PP_TR34_TOKEN_UBT_CA_UNBIND, TRUE, NULL,
                                error);
}
