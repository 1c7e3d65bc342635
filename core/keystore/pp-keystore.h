/* SPDX-License-Identifier: GPL-3.0-or-later
 *
 * pp-keystore.h: custody of the KDH side's keys.
 *
 * A PpSigner signs with the KDH private key wherever it lives: a PEM file
 * (optionally passphrase-encrypted) or a PKCS#11 token addressed by an
 * RFC 7512 URI, in which case the key never leaves the token.
 *
 * A PpKeyStore is the place where the station keeps its KDH key pair,
 * the KDH certificate and the terminal master keys (TMKs) it hands out:
 * "soft" (a directory of passphrase-encrypted PEM files) or "pkcs11" (any
 * PKCS#11 module loaded through p11-kit). In the pkcs11 store the KDH key
 * is generated in the token as sensitive and non-extractable, and TMKs are
 * generated in the token too.
 */
#pragma once

#include <gio/gio.h>
#include <openssl/evp.h>
#include <openssl/x509.h>

#include "pp-secure-buffer.h"

G_BEGIN_DECLS

#define PP_KEYSTORE_ERROR (pp_keystore_error_quark ())

typedef enum {
  PP_KEYSTORE_ERROR_NOT_FOUND,             /* no such file / label in the store */
  PP_KEYSTORE_ERROR_EXISTS,                /* refusing to overwrite a key */
  PP_KEYSTORE_ERROR_INVALID_LABEL,
  PP_KEYSTORE_ERROR_INVALID_KEY,           /* unreadable PEM, not RSA, too short */
  PP_KEYSTORE_ERROR_PASSPHRASE_REQUIRED,   /* the PEM is encrypted, no passphrase given */
  PP_KEYSTORE_ERROR_BAD_PASSPHRASE,
  PP_KEYSTORE_ERROR_WEAK_PASSPHRASE,       /* too short for a new soft store */
  PP_KEYSTORE_ERROR_INVALID_URI,
  PP_KEYSTORE_ERROR_MODULE_LOAD_FAILED,
  PP_KEYSTORE_ERROR_TOKEN_NOT_FOUND,
  PP_KEYSTORE_ERROR_PIN_REQUIRED,
  PP_KEYSTORE_ERROR_BAD_PIN,
  PP_KEYSTORE_ERROR_PIN_LOCKED,
  PP_KEYSTORE_ERROR_OBJECT_NOT_FOUND,
  PP_KEYSTORE_ERROR_AMBIGUOUS,             /* several token objects match the URI */
  PP_KEYSTORE_ERROR_MECHANISM_UNSUPPORTED,
  PP_KEYSTORE_ERROR_PKCS11,                /* any other PKCS#11 failure */
  PP_KEYSTORE_ERROR_IO,
  PP_KEYSTORE_ERROR_CRYPTO,
} PpKeyStoreError;

GQuark pp_keystore_error_quark (void);

/* ------------------------------------------------------------------ */
/* Signer                                                              */
/* ------------------------------------------------------------------ */

/* Reference-counted (atomically); immutable once created, so it may sign
 * on several threads at once. */
typedef struct _PpSigner PpSigner;

/* @pem_path_or_pkcs11_uri: a PEM private key (RSA), encrypted with @secret
 * as its passphrase or unencrypted (then @secret may be NULL); or a
 * "pkcs11:" URI (RFC 7512) naming the token (token=, ...) and the key
 * (object= and/or id=, type=private), with optional query attributes
 * module-path= (else every module registered with p11-kit is searched)
 * and pin-value= (else @secret is the user PIN). */
PpSigner *pp_signer_new_for_uri      (const char    *pem_path_or_pkcs11_uri,
                                      const char    *secret,
                                      GError       **error);

/* RSA PKCS#1 v1.5 over SHA-256(@data). The signature matches the TR-34
 * module's PpTr34SignFunc, so pass (PpTr34SignFunc) pp_signer_sign with
 * the signer as user data. Safe to call from any thread. */
gboolean  pp_signer_sign             (PpSigner      *self,
                                      const guint8  *data,
                                      gsize          len,
                                      GBytes       **out_signature,
                                      GError       **error);

/* The task holds a reference on @self until it is done. */
void      pp_signer_sign_async       (PpSigner            *self,
                                      GBytes              *data,
                                      GCancellable        *cancellable,
                                      GAsyncReadyCallback  callback,
                                      gpointer             user_data);
/* Returns the signature. @self may be NULL (or already released): the
 * task held its own reference. */
GBytes   *pp_signer_sign_finish      (PpSigner      *self,
                                      GAsyncResult  *result,
                                      GError       **error);

/* A new public-only key (free with EVP_PKEY_free). */
EVP_PKEY *pp_signer_dup_public_key   (PpSigner      *self,
                                      GError       **error);

/* TRUE when the private key lives in a PKCS#11 token. */
gboolean  pp_signer_is_hardware      (PpSigner      *self);

PpSigner *pp_signer_ref              (PpSigner      *self);
void      pp_signer_unref            (PpSigner      *self);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (PpSigner, pp_signer_unref)

/* ------------------------------------------------------------------ */
/* Key store                                                           */
/* ------------------------------------------------------------------ */

typedef enum {
  PP_TMK_TDES_2KEY,   /* 16 bytes, CKK_DES2 */
  PP_TMK_TDES_3KEY,   /* 24 bytes, CKK_DES3 */
  PP_TMK_AES_128,
  PP_TMK_AES_256,
} PpTmkType;

/* Bits of the KDH RSA key pair the stores generate. */
#define PP_KEYSTORE_KDH_BITS 2048

#define PP_TYPE_KEY_STORE (pp_key_store_get_type ())
G_DECLARE_INTERFACE (PpKeyStore, pp_key_store, PP, KEY_STORE, GObject)

struct _PpKeyStoreInterface
{
  GTypeInterface parent_iface;

  const char     *(*get_backend_name)  (PpKeyStore    *self);
  gboolean        (*generate_kdh_key)  (PpKeyStore    *self,
                                        const char    *label,
                                        GCancellable  *cancellable,
                                        GError       **error);
  PpSigner       *(*get_signer)        (PpKeyStore    *self,
                                        const char    *label,
                                        GError       **error);
  gboolean        (*store_certificate) (PpKeyStore    *self,
                                        const char    *label,
                                        X509          *certificate,
                                        GError       **error);
  X509           *(*load_certificate)  (PpKeyStore    *self,
                                        const char    *label,
                                        GError       **error);
  char           *(*generate_tmk)      (PpKeyStore    *self,
                                        const char    *label,
                                        PpTmkType      type,
                                        GCancellable  *cancellable,
                                        GError       **error);
  char           *(*get_tmk_kcv)       (PpKeyStore    *self,
                                        const char    *label,
                                        PpTmkType     *out_type,
                                        GError       **error);
  PpSecureBuffer *(*export_tmk)        (PpKeyStore    *self,
                                        const char    *label,
                                        PpTmkType     *out_type,
                                        GError       **error);
  /* A small secret record (the journal key), replaced as a whole; the
   * previous one is gone once this returns. */
  gboolean        (*store_secret)      (PpKeyStore           *self,
                                        const char           *label,
                                        const PpSecureBuffer *record,
                                        GError              **error);
  /* NOT_FOUND when there is none. */
  PpSecureBuffer *(*load_secret)       (PpKeyStore    *self,
                                        const char    *label,
                                        GError       **error);
  /* generate_tmk, and the clear key handed back in the same step (NULL:
   * pp_key_store_generate_and_export_tmk generates, then exports). */
  char           *(*generate_and_export_tmk) (PpKeyStore      *self,
                                              const char      *label,
                                              PpTmkType        type,
                                              PpSecureBuffer **out_tmk,
                                              GCancellable    *cancellable,
                                              GError         **error);
};

/* @directory is created (0700) if missing; the passphrase is checked (and
 * turned into the store key, PBKDF2) here: BAD_PASSPHRASE at open. TMKs
 * and secret records are sealed under keys derived from the store key,
 * the KDH key as PKCS#8 (PBES2 with AES-256-CBC); docs/keystore.md. */
PpKeyStore *pp_key_store_soft_new      (const char *directory,
                                        const char *passphrase,
                                        GError    **error);

/* @uri names the token ("pkcs11:token=...", optional module-path= and
 * pin-value=); @pin is the user PIN unless the URI carries one. */
PpKeyStore *pp_key_store_pkcs11_new    (const char *uri,
                                        const char *pin,
                                        GError    **error);

/* A "pkcs11:" @location opens the pkcs11 store, anything else is the
 * soft store's directory; @secret is the PIN or the passphrase. */
PpKeyStore *pp_key_store_new_for_location (const char *location,
                                           const char *secret,
                                           GError    **error);

/* "soft" or "pkcs11". */
const char *pp_key_store_get_backend_name (PpKeyStore *self);

/* Generates an RSA-2048 key pair under @label; refuses an existing one
 * with PP_KEYSTORE_ERROR_EXISTS. */
gboolean    pp_key_store_generate_kdh_key (PpKeyStore    *self,
                                           const char    *label,
                                           GCancellable  *cancellable,
                                           GError       **error);
void        pp_key_store_generate_kdh_key_async  (PpKeyStore          *self,
                                                  const char          *label,
                                                  GCancellable        *cancellable,
                                                  GAsyncReadyCallback  callback,
                                                  gpointer             user_data);
gboolean    pp_key_store_generate_kdh_key_finish (PpKeyStore    *self,
                                                  GAsyncResult  *result,
                                                  GError       **error);

PpSigner   *pp_key_store_get_signer       (PpKeyStore    *self,
                                           const char    *label,
                                           GError       **error);

/* The KDH certificate kept next to the key (replaces an older one). */
gboolean    pp_key_store_store_certificate (PpKeyStore   *self,
                                            const char   *label,
                                            X509         *certificate,
                                            GError      **error);
/* A new reference (X509_free). */
X509       *pp_key_store_load_certificate  (PpKeyStore   *self,
                                            const char   *label,
                                            GError      **error);

/* Generates a TMK under @label (in the token for pkcs11) and returns its
 * KCV as upper-case hex (3 bytes TDES, 5 bytes AES). */
char       *pp_key_store_generate_tmk     (PpKeyStore    *self,
                                           const char    *label,
                                           PpTmkType      type,
                                           GCancellable  *cancellable,
                                           GError       **error);
void        pp_key_store_generate_tmk_async  (PpKeyStore          *self,
                                              const char          *label,
                                              PpTmkType            type,
                                              GCancellable        *cancellable,
                                              GAsyncReadyCallback  callback,
                                              gpointer             user_data);
char       *pp_key_store_generate_tmk_finish (PpKeyStore    *self,
                                              GAsyncResult  *result,
                                              GError       **error);

/* pp_key_store_generate_tmk(), and the clear TMK for the key block in the
 * same step (@out_tmk, the caller owns it; never log or print it), so an
 * injection does not read back the key it just stored: the soft store
 * keeps the key it generated, the pkcs11 store wraps it out (as
 * pp_key_store_export_tmk() does) in the session that generated it. The
 * TMK is stored under @label before this returns. */
char       *pp_key_store_generate_and_export_tmk (PpKeyStore       *self,
                                                  const char       *label,
                                                  PpTmkType         type,
                                                  PpSecureBuffer  **out_tmk,
                                                  GCancellable     *cancellable,
                                                  GError          **error);
void        pp_key_store_generate_and_export_tmk_async  (PpKeyStore          *self,
                                                         const char          *label,
                                                         PpTmkType            type,
                                                         GCancellable        *cancellable,
                                                         GAsyncReadyCallback  callback,
                                                         gpointer             user_data);
/* Returns the KCV; @out_tmk gets the clear TMK. */
char       *pp_key_store_generate_and_export_tmk_finish (PpKeyStore       *self,
                                                         GAsyncResult     *result,
                                                         PpSecureBuffer  **out_tmk,
                                                         GError          **error);

/* KCV of a stored TMK, computed without taking the key out of the token. */
char       *pp_key_store_get_tmk_kcv      (PpKeyStore    *self,
                                           const char    *label,
                                           PpTmkType     *out_type,
                                           GError       **error);

/* The clear TMK, for building a TR-34 key block on the host. The caller
 * owns the secure buffer; never log or print it. */
PpSecureBuffer *pp_key_store_export_tmk   (PpKeyStore    *self,
                                           const char    *label,
                                           PpTmkType     *out_type,
                                           GError       **error);

/* ------------------------------------------------------------------ */
/* Journal key (forward-secure sealing of the audit journal)           */
/* ------------------------------------------------------------------ */

/* The key store label of the journal key; one sealed journal per store. */
#define PP_JOURNAL_KEY_LABEL "journal"
/* The key store label of the RSA key that signs journal checkpoints. */
#define PP_JOURNAL_SIGN_LABEL "journal-sign"
#define PP_JOURNAL_KEY_LEN 32
#define PP_JOURNAL_MAC_HEX_LEN 64

/* The key of one epoch of a sealed journal, with what the verifier needs
 * to know about the journal. key_{e+1} = HMAC-SHA-256 (key_e, "posprov
 * journal evolve" 0x00 || be64 (e + 1)): one-way, so the key of today
 * does not give yesterday's. The epoch 0 key is the verification seed. */
typedef struct
{
  char            journal_id[33];  /* 32 lower-case hex digits */
  guint64         first_seq;       /* the first sealed entry */
  guint32         epoch_entries;   /* an epoch ends after this many entries */
  guint32         epoch_seconds;   /* ... or when its first entry is this old */
  guint64         epoch;           /* the epoch @key belongs to */
  PpSecureBuffer *key;             /* PP_JOURNAL_KEY_LEN bytes */
} PpJournalKey;

/* A fresh epoch 0 key for journal @journal_id (NULL: a new random id). */
PpJournalKey *pp_journal_key_new         (const char          *journal_id,
                                          guint64              first_seq,
                                          guint32              epoch_entries,
                                          guint32              epoch_seconds,
                                          GError             **error);
PpJournalKey *pp_journal_key_dup         (const PpJournalKey  *self);
void          pp_journal_key_free        (PpJournalKey        *self);
/* Derives forward to @epoch (>= the current one), wiping each older key. */
void          pp_journal_key_evolve_to   (PpJournalKey        *self,
                                          guint64              epoch);
/* HMAC-SHA-256 (key, "posprov journal entry" 0x00 || be64 seq || be64
 * epoch || hash) as 64 lower-case hex digits into @out (65 bytes). */
void          pp_journal_key_entry_mac   (const PpJournalKey  *self,
                                          guint64              seq,
                                          const char          *hash,
                                          char                 out[65]);
/* The MAC the first entry of epoch e carries under the key of e - 1:
 * HMAC-SHA-256 (key_{e-1}, "posprov journal epoch" 0x00 || be64 e ||
 * be64 seq || hash). @self must be at epoch e - 1. */
void          pp_journal_key_epoch_mac   (const PpJournalKey  *self,
                                          guint64              seq,
                                          const char          *hash,
                                          char                 out[65]);
/* Constant-time comparison of two MACs in hex. */
gboolean      pp_journal_mac_equal       (const char          *a,
                                          const char          *b);

/* The seed file the administrator keeps off the station (text, see
 * docs/keystore.md). Returns a secure buffer holding NUL-terminated text. */
PpSecureBuffer *pp_journal_key_to_seed   (const PpJournalKey  *self,
                                          const char          *sign_key_fingerprint);
/* Parses a seed file; @out_sign_fingerprint (optional) gets the checkpoint
 * key fingerprint it names. */
PpJournalKey *pp_journal_key_from_seed   (const char          *text,
                                          gsize                len,
                                          char               **out_sign_fingerprint,
                                          GError             **error);

/* Replaces the journal key record under @label. */
gboolean      pp_key_store_store_journal_key (PpKeyStore          *self,
                                              const char          *label,
                                              const PpJournalKey  *key,
                                              GError             **error);
/* PP_KEYSTORE_ERROR_NOT_FOUND when the store holds none. */
PpJournalKey *pp_key_store_load_journal_key  (PpKeyStore          *self,
                                              const char          *label,
                                              GError             **error);
/* TRUE when @location may hold a journal key: a pkcs11 location, or a
 * soft store folder with a journal key file. Opens nothing. */
gboolean      pp_key_store_location_has_journal_key (const char   *location,
                                                     const char   *label);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (PpJournalKey, pp_journal_key_free)

/* Delivery of the TMKs handed to one terminal (docs/terminal-device.md,
 * "Accounting for every TMK"): a record per terminal serial in the key
 * store, kept sealed like the keys.  A TMK is SENT from just before its
 * KT_KDH goes out until the terminal's KCV confirms it (CONFIRMED) or the
 * terminal is seen without it or refusing it (DISCARDED): a key whose
 * LOAD_KEY answer was lost stays SENT until a later IDENTIFY settles it. */
typedef enum {
  PP_TMK_DELIVERY_SENT,        /* sent, unconfirmed */
  PP_TMK_DELIVERY_CONFIRMED,   /* the terminal holds it (its KCV matched) */
  PP_TMK_DELIVERY_DISCARDED,   /* the terminal never took it: never to be used */
} PpTmkDeliveryState;

typedef struct {
  char               *label;   /* the TMK's label in the key store */
  char               *kcv;
  PpTmkDeliveryState  state;
  gint64              time;    /* of the last change, Unix seconds */
} PpTmkDelivery;

void        pp_tmk_delivery_free          (PpTmkDelivery *delivery);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (PpTmkDelivery, pp_tmk_delivery_free)
/* "sent, unconfirmed", "confirmed", "discarded" (English, for JSON and logs). */
const char *pp_tmk_delivery_state_to_string (PpTmkDeliveryState state);

/* Sets the state of @label for the terminal @serial (added when new); the
 * record is replaced as a whole, so a crash leaves the old one. */
gboolean    pp_key_store_set_tmk_delivery (PpKeyStore          *self,
                                           const char          *serial,
                                           const char          *label,
                                           const char          *kcv,
                                           PpTmkDeliveryState   state,
                                           GError             **error);
/* PpTmkDelivery * of @serial, oldest first; empty when none. */
GPtrArray  *pp_key_store_list_tmk_deliveries (PpKeyStore  *self,
                                              const char  *serial,
                                              GError     **error);

/* Key length in bytes of a TMK type. */
gsize       pp_tmk_type_get_key_length    (PpTmkType      type);

G_END_DECLS
