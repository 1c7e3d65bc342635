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
  X509     *ca_kdh_no_crl_sign;  /* CA_KDH's name and key, keyCertSign only */
  X509     *kdh;          /* valid 2021-01-01 .. 2040-01-01 */
  X509     *kdh_revoked;  /* same key, serial listed in the CRL */
  X509     *krd;
  X509     *krd_other;    /* another KRD (same key as the KDH) */
  X509_CRL *crl;          /* by CA_KDH, revokes kdh_revoked */
  X509_CRL *crl_other;    /* by CA_KDH, revokes serial 0x1003 (no one's); as long as crl */
} PpTestPki;

/* Generated on first use, shared by the whole process. */
const PpTestPki *pp_test_pki_get   (void);

/* Writes root.pem ca-kdh.pem ca-krd.pem trust.pem (root + CA_KDH)
 * kdh.pem kdh.key kdh-revoked.pem krd.pem krd.key crl.der crl-other.der
 * into @dir. */
void             pp_test_pki_write (const PpTestPki *pki,
                                    const char      *dir);

/* @token with the CRL @from (which it must carry) replaced by @to, of the
 * same length: what a KDH that does not check its own CRL would send (the
 * CRL is outside the signature). */
GBytes          *pp_test_pki_splice_crl (GBytes   *token,
                                         X509_CRL *from,
                                         X509_CRL *to);

G_END_DECLS
