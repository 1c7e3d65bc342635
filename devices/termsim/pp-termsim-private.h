/* SPDX-License-Identifier: GPL-3.0-or-later
 *
 * pp-termsim-private.h: what the files of devices/termsim share: the
 * terminal's struct, its folder's file names, and the storage helpers.
 */
#pragma once

#include <glib.h>
#include <openssl/x509.h>

#include "pp-secure-buffer.h"
#include "pp-termsim.h"
#include "pp-tr34.h"

G_BEGIN_DECLS

/* Files of a terminal folder (docs/termsim.md). */
#define PP_TERMSIM_STATE_FILE       "state.json"    /* identity, flags, keys (sealed) */
#define PP_TERMSIM_DEVICE_KEY_FILE  "device.key"    /* RSA-2048, PKCS#8 PEM */
#define PP_TERMSIM_CSR_FILE         "device.csr"    /* PKCS#10 PEM, until certified */
#define PP_TERMSIM_CERT_FILE        "device.pem"    /* device certificate */
#define PP_TERMSIM_TRUST_FILE       "trust.pem"     /* CAs trusted for KDH certificates */
#define PP_TERMSIM_KDH_FILE         "kdh.pem"       /* the bound KDH; absent: unbound */
#define PP_TERMSIM_KRD_STATE_FILE   "krd-state"     /* GVariant (aayaayx) */
#define PP_TERMSIM_NONCE_LEDGER_FILE "nonces.log"   /* nonces issued/spent since krd-state */
#define PP_TERMSIM_STORAGE_KEY_FILE "storage.key"   /* AES-256 device storage key */
#define PP_TERMSIM_PROGRAM_TRUST_FILE "program-trust.pem" /* program-signing certificates */
#define PP_TERMSIM_PROGRAM_PART_FILE "program.part" /* a program being received */
/* the installed programs: program-NAME.bin */

/* Writes @data to @dir/@name atomically (temp file + rename), mode 0600. */
gboolean pp_termsim_write_file (const char  *dir,
                                const char  *name,
                                const void  *data,
                                gsize        len,
                                GError     **error);

/* Seals / opens a key under the storage key: hex of IV || ciphertext || tag,
 * AES-256-GCM with @aad bound in. */
char           *pp_termsim_seal   (const PpSecureBuffer *storage_key,
                                   const PpSecureBuffer *key,
                                   const char           *aad,
                                   GError              **error);
PpSecureBuffer *pp_termsim_unseal (const PpSecureBuffer *storage_key,
                                   const char           *sealed,
                                   const char           *aad,
                                   GError              **error);

G_END_DECLS
