/* SPDX-License-Identifier: GPL-3.0-or-later
 *
 * tr34-test-pki.h: a fresh TR-34 PKI for tests, the fuzzer and the
 * benchmark, generated with OpenSSL once per process: root -> CA_KDH
 * (with a CRL) -> KDH; root -> CA_KRD -> KRD. RSA-2048 throughout.
 */
#pragma once

#include <glib.h>
#include <openssl/evp.h>
#include <openssl/x509.h>

G_BEGIN_DECLS

typedef struct {
  EVP_PKEY *root_key, *ca_kdh_key, *ca_krd_key, *kdh_key, *krd_key;
  X509     *root, *ca_kdh, *ca_krd;
  X509     *kdh;          /* valid 2021-01-01 .. 2040-01-01 */
  X509     *kdh_revoked;  /* same key, serial listed in the CRL */
  X509     *krd;
  X509     *krd_other;    /* another KRD (same key as the KDH) */
  X509_CRL *crl;          /* by CA_KDH, revokes kdh_revoked */
} PpTestPki;

/* Generated on first use, shared by the whole process. */
const PpTestPki *pp_test_pki_get   (void);

/* Writes root.pem ca-kdh.pem ca-krd.pem trust.pem (root + CA_KDH)
 * kdh.pem kdh.key kdh-revoked.pem krd.pem krd.key crl.der into @dir. */
void             pp_test_pki_write (const PpTestPki *pki,
                                    const char      *dir);

G_END_DECLS
