/* SPDX-License-Identifier: GPL-3.0-or-later
 *
 * pp-program-package.h: the posprov program package (docs/program-package.md):
 * a signed manifest (name, version, kind, models, files with sizes and
 * SHA-256) and the files' bytes, in one file. Strict parsing with bounded
 * sizes; every refusal a PP_PROGRAM_ERROR naming what is wrong. Used by
 * posprov-tool program pack/verify, the station's push (PpTerminalDevice),
 * the terminal simulator's PROGRAM_COMMIT checks and the registry's uploads.
 * No GTK.
 */
#pragma once

#include <gio/gio.h>
#include <openssl/x509.h>

G_BEGIN_DECLS

#define PP_PROGRAM_ERROR (pp_program_error_quark ())
typedef enum {
  PP_PROGRAM_ERROR_TRUNCATED,            /* the package ends too early */
  PP_PROGRAM_ERROR_OVERSIZE,             /* a part or the whole is over its limit */
  PP_PROGRAM_ERROR_FORMAT,               /* not a program package, or another format version */
  PP_PROGRAM_ERROR_MANIFEST,             /* unknown field, wrong type or value, not canonical */
  PP_PROGRAM_ERROR_INTEGRITY,            /* a file's size or SHA-256 differs from the manifest */
  PP_PROGRAM_ERROR_SIGNATURE,            /* the signature does not verify with the signer's key */
  PP_PROGRAM_ERROR_UNTRUSTED_SIGNER,     /* the signer's certificate does not chain to the trust */
  PP_PROGRAM_ERROR_SIGNER_EXPIRED,       /* the signer's certificate expired */
  PP_PROGRAM_ERROR_SIGNER_NOT_YET_VALID, /* the signer's certificate is not valid yet */
  PP_PROGRAM_ERROR_WRONG_MODEL,          /* the package is not for this terminal model */
  PP_PROGRAM_ERROR_WRONG_ORDER,          /* a program it needs is not installed yet */
  PP_PROGRAM_ERROR_IO,                   /* reading or writing a file failed */
} PpProgramError;

GQuark pp_program_error_quark (void);

/* Bounds (docs/program-package.md). */
#define PP_PROGRAM_MAGIC              "PPPROG1\n"
#define PP_PROGRAM_MAGIC_LEN          8
#define PP_PROGRAM_MANIFEST_MAX       (64 * 1024)
#define PP_PROGRAM_SIGNATURE_MAX      1024
#define PP_PROGRAM_CERT_MAX           (16 * 1024)
#define PP_PROGRAM_PAYLOAD_MAX        ((guint64) 256 * 1024 * 1024)
#define PP_PROGRAM_FILES_MAX          256
#define PP_PROGRAM_MODELS_MAX         64

/* The order programs go in on a terminal: each kind needs every earlier
 * kind installed first. */
typedef enum {
  PP_PROGRAM_KIND_SIGNATURE_FILE = 1,  /* "signature-file": the vendor's signature/key file */
  PP_PROGRAM_KIND_MANAGER        = 2,  /* "manager": the application manager */
  PP_PROGRAM_KIND_PAYMENT_APP    = 3,  /* "payment-app": a payment application */
} PpProgramKind;

const char *pp_program_kind_to_string   (PpProgramKind  kind);
gboolean    pp_program_kind_from_string (const char    *text,
                                         PpProgramKind *out_kind);
/* "signature file", "manager", "payment app" (translated). */
const char *pp_program_kind_describe    (PpProgramKind  kind);

/* ---- the manifest --------------------------------------------------------- */

typedef struct _PpProgramManifest PpProgramManifest;   /* immutable */

/* Parses @data strictly: only the documented fields, each of its type and
 * bounds, in the canonical form pp_program_manifest_build writes (so the
 * signed bytes have one reading). */
PpProgramManifest *pp_program_manifest_parse      (const guint8        *data,
                                                   gsize                len,
                                                   GError             **error);
void               pp_program_manifest_free       (PpProgramManifest   *manifest);
/* The canonical manifest bytes for these values (checked as parse does).
 * @file_names, @file_sizes, @file_sha256 (32 bytes each) have @n_files entries. */
GBytes            *pp_program_manifest_build      (const char          *name,
                                                   const char          *version,
                                                   PpProgramKind        kind,
                                                   const char * const  *models,
                                                   guint                n_files,
                                                   const char * const  *file_names,
                                                   const guint64       *file_sizes,
                                                   const guint8 * const *file_sha256,
                                                   GError             **error);
const char        *pp_program_manifest_get_name    (const PpProgramManifest *manifest);
const char        *pp_program_manifest_get_version (const PpProgramManifest *manifest);
PpProgramKind      pp_program_manifest_get_kind    (const PpProgramManifest *manifest);
const char * const *pp_program_manifest_get_models (const PpProgramManifest *manifest);
gboolean           pp_program_manifest_has_model   (const PpProgramManifest *manifest,
                                                    const char              *model);
guint              pp_program_manifest_get_n_files (const PpProgramManifest *manifest);
const char        *pp_program_manifest_get_file    (const PpProgramManifest *manifest,
                                                    guint                    index,
                                                    guint64                 *out_size,
                                                    const guint8           **out_sha256);
/* Sum of the files' sizes: the payload. */
guint64            pp_program_manifest_get_payload_size (const PpProgramManifest *manifest);
/* Checks that @payload (@len bytes) is exactly the files of the manifest:
 * total size, then each file's SHA-256 (naming the first that differs). */
gboolean           pp_program_manifest_check_payload (const PpProgramManifest *manifest,
                                                      const guint8            *payload,
                                                      gsize                    len,
                                                      GError                 **error);
/* Refuses a terminal of @model the manifest does not list. */
gboolean           pp_program_manifest_check_model  (const PpProgramManifest *manifest,
                                                     const char              *model,
                                                     GError                 **error);
/* Refuses a program whose earlier kinds are not installed: @installed_kinds
 * is a bit set of (1 << PpProgramKind) of what the terminal holds. The
 * message names the order (signature file, manager, payment apps). */
gboolean           pp_program_check_order           (PpProgramKind            kind,
                                                     const char              *name,
                                                     guint                    installed_kinds,
                                                     GError                 **error);

/* Verifies @signature over exactly @manifest with the public key of
 * @cert_der (DER X.509), and that certificate against @trust (X509 *;
 * trust anchors: the signer itself or a CA above it) at @at_time (Unix
 * seconds): validity, chain. SIGNATURE, UNTRUSTED_SIGNER, SIGNER_EXPIRED,
 * SIGNER_NOT_YET_VALID. */
gboolean           pp_program_verify_signature      (GBytes                  *manifest,
                                                     GBytes                  *signature,
                                                     GBytes                  *cert_der,
                                                     GPtrArray               *trust,
                                                     gint64                   at_time,
                                                     GError                 **error);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (PpProgramManifest, pp_program_manifest_free)

/* ---- the package ------------------------------------------------------------ */

typedef struct _PpProgramPackage PpProgramPackage;   /* refcounted, immutable, thread-safe */

/* Reads @path (a regular file, at most the bounds above) and checks its
 * structure: magic, lengths, the manifest, payload size = the manifest's. */
PpProgramPackage  *pp_program_package_open        (const char        *path,
                                                   GError           **error);
/* The same for bytes in memory (an upload). */
PpProgramPackage  *pp_program_package_new_from_bytes (GBytes         *data,
                                                      GError        **error);
PpProgramPackage  *pp_program_package_ref         (PpProgramPackage  *package);
void               pp_program_package_unref       (PpProgramPackage  *package);

const PpProgramManifest *pp_program_package_get_manifest (PpProgramPackage *package);
GBytes            *pp_program_package_get_manifest_bytes (PpProgramPackage *package);
GBytes            *pp_program_package_get_signature      (PpProgramPackage *package);
GBytes            *pp_program_package_get_certificate    (PpProgramPackage *package);  /* DER */
/* The files' bytes, concatenated in manifest order (a view, no copy). */
GBytes            *pp_program_package_get_payload        (PpProgramPackage *package);
/* SHA-256 of the payload (what PROGRAM_BEGIN announces); 32 bytes. */
const guint8      *pp_program_package_get_payload_sha256 (PpProgramPackage *package);

/* Every check: files against the manifest (done at open), signature and
 * signer against @trust at @at_time (0: now). */
gboolean           pp_program_package_verify      (PpProgramPackage  *package,
                                                   GPtrArray         *trust,
                                                   gint64             at_time,
                                                   GError           **error);

/* Signs @data (the manifest bytes), as PpTr34SignFunc / pp_signer_sign. */
typedef gboolean (*PpProgramSignFunc) (gpointer       user_data,
                                       const guint8  *data,
                                       gsize          len,
                                       GBytes       **out_signature,
                                       GError       **error);

/* Builds a package of @files (paths; each stored under its base name) and
 * writes it to @out_path atomically (a temporary file next to it, renamed
 * into place once complete and synced): nothing is half-written. The
 * signature is checked against @cert_der's key before anything is written. */
gboolean           pp_program_package_pack        (const char          *out_path,
                                                   const char          *name,
                                                   const char          *version,
                                                   PpProgramKind        kind,
                                                   const char * const  *models,
                                                   const char * const  *files,
                                                   GBytes              *cert_der,
                                                   PpProgramSignFunc    sign,
                                                   gpointer             sign_data,
                                                   GError             **error);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (PpProgramPackage, pp_program_package_unref)

G_END_DECLS
