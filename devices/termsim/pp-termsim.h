/* SPDX-License-Identifier: GPL-3.0-or-later
 *
 * pp-termsim.h: a simulated payment terminal that is a real TR-34 KRD.
 *
 * Its state lives in a folder (see docs/termsim.md): an RSA-2048 key pair,
 * a CSR or a device certificate, the CA certificates it trusts for KDH
 * certificates, the bound KDH, the nonces it issued and spent, keys
 * encrypted under a device storage key (AES-256-GCM), the installed
 * program, the tamper flag and the operators for sign-on. Every file is
 * written atomically with mode 0600.
 *
 * pp_termsim_handle() answers the requests of the posprov link protocol
 * (devices/link/pp-link-tlv.h); it is a PpLinkHandler but for the order of
 * its arguments. A PpTermsim is reference-counted and thread-safe: one
 * request is handled at a time.
 */
#pragma once

#include <gio/gio.h>
#include <json-glib/json-glib.h>
#include <openssl/evp.h>
#include <openssl/x509.h>

G_BEGIN_DECLS

#define PP_TERMSIM_ERROR (pp_termsim_error_quark ())

typedef enum {
  PP_TERMSIM_ERROR_EXISTS,    /* init: the folder already holds a terminal */
  PP_TERMSIM_ERROR_NOT_FOUND, /* no terminal in the folder */
  PP_TERMSIM_ERROR_INVALID,   /* bad argument (serial, trust, CA key) */
  PP_TERMSIM_ERROR_CORRUPT,   /* a state file that cannot be read back */
  PP_TERMSIM_ERROR_IO,
  PP_TERMSIM_ERROR_CRYPTO,
} PpTermsimError;

/* REASON (u16) of a REFUSED answer: what was refused. TR-34 refusals carry
 * PP_TERMSIM_REASON_TR34 + the PpTr34Error code. */
enum {
  PP_TERMSIM_REASON_STATE       = 0x0001, /* not possible in this state */
  PP_TERMSIM_REASON_CERT        = 0x0002, /* certificate not for this terminal */
  PP_TERMSIM_REASON_PROGRAM     = 0x0003, /* program check failed */
  PP_TERMSIM_REASON_SIGN_ON     = 0x0004, /* operator or password */
  PP_TERMSIM_REASON_KEY_BLOCK   = 0x0005, /* TR-31 block refused */
  PP_TERMSIM_REASON_STORAGE     = 0x0006, /* the terminal could not save */
  PP_TERMSIM_REASON_TR34        = 0x0100,
};

typedef struct _PpTermsim PpTermsim;

typedef struct {
  const char *serial;
  const char *vendor;
  const char *model;
  const char *firmware;      /* NULL: "termsim-" PACKAGE_VERSION */
  /* Operator table for sign-on: id -> password. NULL: operator 1, "1234". */
  GHashTable *operators;     /* guint (GUINT_TO_POINTER) -> char * */
  /* Certificates whose keys sign programs (PROGRAM_COMMIT); may be NULL. */
  GPtrArray  *program_trust; /* X509 * */
} PpTermsimIdentity;

/* Creates a terminal in @dir (absent or empty; nothing is left there on
 * failure). @ca_krd_cert and @ca_krd_key given: factory mode, the device
 * certificate is issued at once; both NULL: the terminal holds a CSR.
 * @trust: X509 * the terminal trusts for KDH certificates (root, CA_KDH). */
gboolean   pp_termsim_init        (const char              *dir,
                                   const PpTermsimIdentity *identity,
                                   X509                    *ca_krd_cert,
                                   EVP_PKEY                *ca_krd_key,
                                   GPtrArray               *trust,
                                   GError                 **error);

PpTermsim *pp_termsim_open        (const char  *dir,
                                   GError     **error);
PpTermsim *pp_termsim_ref         (PpTermsim   *sim);
void       pp_termsim_unref       (PpTermsim   *sim);

typedef struct {
  gboolean    tamper;          /* a security attack: recorded, keys erased */
  gboolean    refuse_program;  /* every PROGRAM_COMMIT is refused */
  const char *report_serial;   /* IDENTIFY reports this serial (NULL: its own) */
  gint64      clock_skew;      /* seconds added to the terminal's clock */
} PpTermsimFaults;

/* Applies @faults (copied); --tamper is saved at once. */
gboolean   pp_termsim_set_faults  (PpTermsim             *sim,
                                   const PpTermsimFaults *faults,
                                   GError               **error);

const char *pp_termsim_get_serial (PpTermsim *sim);

/* One request of seam 3: returns the response payload (never NULL) and
 * sets *@out_status (PP_STATUS_*). */
GBytes    *pp_termsim_handle      (PpTermsim   *sim,
                                   guint8       command,
                                   GBytes      *payload,
                                   guint8      *out_status);

/* What `posprov-termsim show --json` prints: serial, model, certificate
 * subject and validity, bound_kdh, tamper, program, keys. No key value. */
JsonNode  *pp_termsim_describe    (PpTermsim *sim);

GQuark     pp_termsim_error_quark (void);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (PpTermsim, pp_termsim_unref)

G_END_DECLS
