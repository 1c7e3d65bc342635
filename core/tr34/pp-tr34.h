/* SPDX-License-Identifier: GPL-3.0-or-later
 *
 * pp-tr34.h: ANSI X9 TR-34 (2019 with its errata) for both roles.
 *
 * The Key Distribution Host (KDH) builds CT_KDH, KT_KDH (1-pass and 2-pass),
 * RBT_KDH and UBT_KDH; the Key Receiving Device (KRD) side parses every
 * token type, checks the KDH against its trusted CA and CRL, checks the
 * signature over the attributes exactly as received, the nonce or signing
 * time, and recovers the key into a PpSecureBuffer.
 *
 * Encodings differ between implementations, so they are named profiles,
 * chosen per terminal model on the KDH side; the KRD accepts all of them.
 */
#pragma once

#include <gio/gio.h>
#include <openssl/evp.h>
#include <openssl/x509.h>

#include "pp-kcv.h"
#include "pp-secure-buffer.h"

G_BEGIN_DECLS

#define PP_TR34_ERROR (pp_tr34_error_quark ())

typedef enum {
  PP_TR34_ERROR_MALFORMED,            /* DER structure not as expected */
  PP_TR34_ERROR_TRUNCATED,            /* input ends inside an element */
  PP_TR34_ERROR_WRONG_TOKEN_TYPE,
  PP_TR34_ERROR_UNSUPPORTED,          /* algorithm or version not supported */
  PP_TR34_ERROR_BAD_SIGNATURE,
  PP_TR34_ERROR_DIGEST_MISMATCH,
  PP_TR34_ERROR_NONCE_MISSING,
  PP_TR34_ERROR_NONCE_MISMATCH,       /* not a nonce this KRD issued */
  PP_TR34_ERROR_NONCE_REUSED,         /* issued, but already consumed */
  PP_TR34_ERROR_STALE_SIGNING_TIME,   /* 1-pass time not newer than the last */
  PP_TR34_ERROR_CERT_INVALID,
  PP_TR34_ERROR_CERT_EXPIRED,
  PP_TR34_ERROR_CERT_NOT_YET_VALID,
  PP_TR34_ERROR_CERT_UNTRUSTED,
  PP_TR34_ERROR_KDH_UNKNOWN,          /* no KDH certificate for the signer */
  PP_TR34_ERROR_KDH_REVOKED,
  PP_TR34_ERROR_CRL_INVALID,
  PP_TR34_ERROR_RECIPIENT_MISMATCH,   /* token is for another KRD */
  PP_TR34_ERROR_DECRYPT_FAILED,
  PP_TR34_ERROR_KEY_BLOCK_MALFORMED,
  PP_TR34_ERROR_KDH_MISMATCH,         /* key block names another KDH */
  PP_TR34_ERROR_INVALID_ARGUMENT,
  PP_TR34_ERROR_CRYPTO,               /* OpenSSL failed on valid input */
  PP_TR34_ERROR_FUTURE_SIGNING_TIME,  /* 1-pass time ahead of the KRD's clock */
} PpTr34Error;

/* How far a 1-pass signing time may be ahead of the KRD's verification
 * time (clocks of KDH and KRD differ a little); beyond it the token is
 * refused with PP_TR34_ERROR_FUTURE_SIGNING_TIME. */
#define PP_TR34_SIGNING_TIME_SKEW_SECONDS 300

typedef enum {
  PP_TR34_PROFILE_STRICT,          /* plain CMS, RFC 4055 OAEP parameters */
  PP_TR34_PROFILE_X9_2019,         /* Annex B errata layout */
  PP_TR34_PROFILE_X9_2012,         /* TR-34 2012: EnvelopedData fields without their
                                    * SEQUENCE header, ciphertext nested in the
                                    * algorithm SEQUENCE ("TR-34.2012 non-CMS") */
  PP_TR34_PROFILE_X9_2019_PRINTED, /* the 2019 body as printed (B.8/B.9 .orig):
                                    * nested ciphertext, with the header */
  PP_TR34_N_PROFILES
} PpTr34Profile;

typedef enum {
  PP_TR34_TOKEN_UNKNOWN,
  PP_TR34_TOKEN_CA_CREDENTIAL,  /* B.3-B.5: a CA certificate */
  PP_TR34_TOKEN_CT_KDH,
  PP_TR34_TOKEN_CT_KRD,
  PP_TR34_TOKEN_RT_KRD,
  PP_TR34_TOKEN_KT_KDH,
  PP_TR34_TOKEN_RBT_KDH,
  PP_TR34_TOKEN_RBT_CA_UNBIND,
  PP_TR34_TOKEN_UBT_KDH,
  PP_TR34_TOKEN_UBT_CA_UNBIND,
} PpTr34TokenType;

typedef enum {
  PP_TR34_EPHEMERAL_TDES,    /* 3-key TDES-CBC */
  PP_TR34_EPHEMERAL_AES128,  /* AES-128-CBC */
} PpTr34Ephemeral;

GQuark      pp_tr34_error_quark          (void);

const char *pp_tr34_profile_to_string    (PpTr34Profile   profile);
gboolean    pp_tr34_profile_from_string  (const char     *name,
                                          PpTr34Profile  *out_profile,
                                          GError        **error);
const char *pp_tr34_token_type_to_string (PpTr34TokenType type);
const char *pp_tr34_ephemeral_to_string  (PpTr34Ephemeral ephemeral);

/* ---- Signing callback (the KDH key may live in a PKCS#11 token) ------ */

/* RSA PKCS#1 v1.5 signature over SHA-256(@data). */
typedef gboolean (*PpTr34SignFunc) (gpointer       user_data,
                                    const guint8  *data,
                                    gsize          len,
                                    GBytes       **out_signature,
                                    GError       **error);

/* A PpTr34SignFunc for a private key in memory; @user_data is EVP_PKEY *. */
gboolean    pp_tr34_sign_with_pkey       (gpointer       user_data,
                                          const guint8  *data,
                                          gsize          len,
                                          GBytes       **out_signature,
                                          GError       **error);

/* ---- Parsed tokens (any type; used by the KRD and by inspect) ------- */

typedef struct _PpTr34Token PpTr34Token;

PpTr34Token      *pp_tr34_token_parse            (const guint8  *der,
                                                  gsize          len,
                                                  GError       **error);
void              pp_tr34_token_free             (PpTr34Token   *token);
PpTr34TokenType   pp_tr34_token_get_kind         (const PpTr34Token *token);
PpTr34Profile     pp_tr34_token_get_profile      (const PpTr34Token *token);
/* Signer's IssuerAndSerialNumber as "ISSUER-DN / serial HEX" (RFC 2253
 * DN), NULL when unsigned. */
char             *pp_tr34_token_dup_signer       (const PpTr34Token *token);
/* Upper-case hex serial of the signer, NULL when unsigned. */
char             *pp_tr34_token_dup_signer_serial (const PpTr34Token *token);
GBytes           *pp_tr34_token_get_nonce        (const PpTr34Token *token);
GDateTime        *pp_tr34_token_get_signing_time (const PpTr34Token *token);
const char       *pp_tr34_token_get_header       (const PpTr34Token *token);
/* Recipients of a KT_KDH as "issuer / serial HEX" strings. */
GStrv             pp_tr34_token_dup_recipients   (const PpTr34Token *token);
gboolean          pp_tr34_token_get_ephemeral    (const PpTr34Token *token,
                                                  PpTr34Ephemeral   *out);
/* Borrowed; may be empty/NULL. */
STACK_OF(X509)   *pp_tr34_token_get_certificates (const PpTr34Token *token);
X509_CRL         *pp_tr34_token_get_crl          (const PpTr34Token *token);
/* Checks the signature (over the attributes as received, or the content
 * when there are none) and the messageDigest with @signer's public key. */
gboolean          pp_tr34_token_verify_signature (const PpTr34Token *token,
                                                  EVP_PKEY          *signer,
                                                  GError           **error);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (PpTr34Token, pp_tr34_token_free)

/* ---- KDH ------------------------------------------------------------- */

typedef struct _PpTr34Kdh PpTr34Kdh;

/* @cert is referenced (X509_up_ref). */
PpTr34Kdh *pp_tr34_kdh_new            (X509            *cert,
                                       PpTr34SignFunc   sign,
                                       gpointer         sign_data,
                                       GDestroyNotify   sign_data_free);
void       pp_tr34_kdh_free           (PpTr34Kdh       *kdh);
/* The CA_KDH CRL carried in the tokens (referenced). */
void       pp_tr34_kdh_set_crl        (PpTr34Kdh       *kdh,
                                       X509_CRL        *crl);
void       pp_tr34_kdh_set_profile    (PpTr34Kdh       *kdh,
                                       PpTr34Profile    profile);

/* CT_KDH: KDH certificate + CRL (CMS order). */
GBytes    *pp_tr34_kdh_build_credential_token (PpTr34Kdh  *kdh,
                                               GError    **error);

/* KT_KDH. @nonce given: 2-pass; NULL: 1-pass with @signing_time (NULL for
 * now). @header is the key block header, e.g. "A0256K0TB00E0000". */
GBytes    *pp_tr34_kdh_build_key_token (PpTr34Kdh            *kdh,
                                        X509                 *krd_cert,
                                        const PpSecureBuffer *key,
                                        const char           *header,
                                        PpTr34Ephemeral       ephemeral,
                                        GBytes               *nonce,
                                        GDateTime            *signing_time,
                                        GError              **error);

/* RBT_KDH: moves @krd_cert to @new_kdh_cert; 2-pass with @nonce. */
GBytes    *pp_tr34_kdh_build_rebind_token (PpTr34Kdh  *kdh,
                                           X509       *krd_cert,
                                           X509       *new_kdh_cert,
                                           GBytes     *nonce,
                                           GError    **error);

/* UBT_KDH: releases @krd_cert; 2-pass with @nonce. */
GBytes    *pp_tr34_kdh_build_unbind_token (PpTr34Kdh  *kdh,
                                           X509       *krd_cert,
                                           GBytes     *nonce,
                                           GError    **error);

/* The same in a worker thread (RSA is slow, and a PKCS#11 signer slower).
 * @kdh and @krd_cert must stay alive and @kdh unused until @callback runs;
 * @key, @header, @nonce and @signing_time are copied. */
void       pp_tr34_kdh_build_key_token_async  (PpTr34Kdh            *kdh,
                                               X509                 *krd_cert,
                                               const PpSecureBuffer *key,
                                               const char           *header,
                                               PpTr34Ephemeral       ephemeral,
                                               GBytes               *nonce,
                                               GDateTime            *signing_time,
                                               GCancellable         *cancellable,
                                               GAsyncReadyCallback   callback,
                                               gpointer              user_data);
GBytes    *pp_tr34_kdh_build_key_token_finish (GAsyncResult         *result,
                                               GError              **error);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (PpTr34Kdh, pp_tr34_kdh_free)

/* ---- KRD ------------------------------------------------------------- */

/* What a KRD remembers between tokens: the nonces it issued (single use)
 * and the last accepted 1-pass signing time. The caller keeps it. */
typedef struct _PpTr34KrdState PpTr34KrdState;

PpTr34KrdState *pp_tr34_krd_state_new            (void);
void            pp_tr34_krd_state_free           (PpTr34KrdState *state);
/* Generates, registers and returns a fresh random nonce of @len bytes. */
GBytes         *pp_tr34_krd_state_issue_nonce    (PpTr34KrdState *state,
                                                  gsize           len);
/* Registers a nonce issued elsewhere (e.g. sent earlier as RT_KRD). */
void            pp_tr34_krd_state_add_nonce      (PpTr34KrdState *state,
                                                  GBytes         *nonce);
gboolean        pp_tr34_krd_state_has_nonce      (PpTr34KrdState *state,
                                                  GBytes         *nonce);
void            pp_tr34_krd_state_set_last_time  (PpTr34KrdState *state,
                                                  GDateTime      *time);
GDateTime      *pp_tr34_krd_state_get_last_time  (PpTr34KrdState *state);

/* For a KRD that must remember across restarts: a floating GVariant of
 * type "(aayaayx)" (issued nonces, used nonces, last signing time in Unix
 * seconds or -1), and back. NULL with PP_TR34_ERROR_INVALID_ARGUMENT when
 * @saved is not such a value. */
GVariant       *pp_tr34_krd_state_save           (PpTr34KrdState *state);
PpTr34KrdState *pp_tr34_krd_state_load           (GVariant       *saved,
                                                  GError        **error);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (PpTr34KrdState, pp_tr34_krd_state_free)

/* RT_KRD for @nonce. */
GBytes         *pp_tr34_build_random_token       (GBytes  *nonce);

/* One KRD identity with its trust anchors, bound KDH and CRL. It remembers
 * certificates it decoded and chain/CRL verdicts it reached (keyed on the
 * exact bytes, trust set and verification time, so a verdict never goes
 * stale), which keeps a receive close to the cost of one RSA decryption.
 * Not thread-safe: use one per thread. */
typedef struct _PpTr34Krd PpTr34Krd;

/* @cert and @key are referenced. */
PpTr34Krd *pp_tr34_krd_new          (X509       *cert,
                                     EVP_PKEY   *key);
void       pp_tr34_krd_free         (PpTr34Krd  *krd);
/* Root and/or CA_KDH certificates this KRD trusts. */
void       pp_tr34_krd_add_trusted  (PpTr34Krd  *krd,
                                     X509       *ca);
/* The KDH certificate received at bind, for tokens that do not carry it. */
void       pp_tr34_krd_set_kdh_cert (PpTr34Krd  *krd,
                                     X509       *kdh_cert);
/* A CRL known to the KRD; tokens' own CRLs are checked too. */
void       pp_tr34_krd_set_crl      (PpTr34Krd  *krd,
                                     X509_CRL   *crl);
/* Verification time (NULL: now). */
void       pp_tr34_krd_set_time     (PpTr34Krd  *krd,
                                     GDateTime  *at);

typedef struct {
  PpSecureBuffer  *key;
  char            *kcv;          /* upper hex */
  char            *header;       /* key block header */
  char            *kdh_serial;   /* upper hex */
  PpTr34Profile    profile;
  PpTr34Ephemeral  ephemeral;
  gboolean         one_pass;
  GDateTime       *signing_time; /* 1-pass only */
} PpTr34ReceivedKey;

void       pp_tr34_received_key_free (PpTr34ReceivedKey *received);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (PpTr34ReceivedKey, pp_tr34_received_key_free)

/* KT_KDH. On success the nonce is consumed / the signing time recorded. */
PpTr34ReceivedKey *pp_tr34_krd_receive_key_token (PpTr34Krd       *krd,
                                                  PpTr34KrdState  *state,
                                                  const guint8    *der,
                                                  gsize            len,
                                                  GError         **error);

/* The same in a worker thread. @krd and @state must stay alive and unused
 * until @callback runs; @token is referenced. */
void               pp_tr34_krd_receive_key_token_async  (PpTr34Krd           *krd,
                                                         PpTr34KrdState      *state,
                                                         GBytes              *token,
                                                         GCancellable        *cancellable,
                                                         GAsyncReadyCallback  callback,
                                                         gpointer             user_data);
PpTr34ReceivedKey *pp_tr34_krd_receive_key_token_finish (GAsyncResult        *result,
                                                         GError             **error);

/* CT_KDH at bind: checks the KDH certificate against the trust and CRL and
 * returns it (new reference). Also remembers it as the bound KDH. */
X509      *pp_tr34_krd_receive_credential_token (PpTr34Krd     *krd,
                                                 const guint8  *der,
                                                 gsize          len,
                                                 GError       **error);

/* RBT_KDH: signed by the bound KDH; returns the new, verified KDH
 * certificate and binds to it. */
X509      *pp_tr34_krd_receive_rebind_token (PpTr34Krd       *krd,
                                             PpTr34KrdState  *state,
                                             const guint8    *der,
                                             gsize            len,
                                             GError         **error);

/* UBT_KDH: signed by the bound KDH, for this KRD; forgets the bound KDH. */
gboolean   pp_tr34_krd_receive_unbind_token (PpTr34Krd       *krd,
                                             PpTr34KrdState  *state,
                                             const guint8    *der,
                                             gsize            len,
                                             GError         **error);

/* RBT_CA_UNBIND (Annex B.10) and UBT_CA_UNBIND (B.13): signed by the CA
 * that issued this KRD's certificate (found in the token or among the
 * trusted certificates). They may name the KDH being left, which must then
 * be the bound one. A signing time is checked like a KT_KDH's; the rebind
 * requires one, the unbind (B.13 has none) only when it does not name the
 * bound KDH. The rebind returns the new, verified KDH certificate and
 * binds to it; the unbind forgets the bound KDH. */
X509      *pp_tr34_krd_receive_ca_rebind_token (PpTr34Krd       *krd,
                                                PpTr34KrdState  *state,
                                                const guint8    *der,
                                                gsize            len,
                                                GError         **error);
gboolean   pp_tr34_krd_receive_ca_unbind_token (PpTr34Krd       *krd,
                                                PpTr34KrdState  *state,
                                                const guint8    *der,
                                                gsize            len,
                                                GError         **error);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (PpTr34Krd, pp_tr34_krd_free)

G_END_DECLS
