/* SPDX-License-Identifier: GPL-3.0-or-later
 *
 * pp-key-host-fixture.h: a store whose key host is configured, for the key
 * host's tests (and the registry's, later): the work-order fixture
 * (pp-store-fixture.h), a KDH key generated in its soft key store with a
 * certificate from the test PKI's CA_KDH (tr34-test-pki.h), that CA's CRL,
 * the root and CA_KRD as the trust, and terminal certificates made for it.
 */
#pragma once

#include <openssl/evp.h>
#include <openssl/x509.h>

#include "pp-store-fixture.h"
#include "tr34-test-pki.h"

G_BEGIN_DECLS

#define PP_KEY_HOST_FIXTURE_KDH_LABEL "kdh"

typedef struct {
  PpStoreFixture base;
  const PpTestPki *pki;
  X509 *kdh_cert;     /* certifies the key store's KDH key */
} PpKeyHostFixture;

/* The store fixture over @rows (taken in by carol), then the KDH key and
 * certificate and the key host configuration, set by carol. */
void   pp_key_host_fixture_set_up    (PpKeyHostFixture       *f,
                                      const PpTerminalIntake *rows,
                                      guint                   n_rows);
/* The same with @key_store (a PKCS#11 one, say) instead of the soft one. */
void   pp_key_host_fixture_set_up_with (PpKeyHostFixture       *f,
                                        const PpTerminalIntake *rows,
                                        guint                   n_rows,
                                        PpKeyStore             *key_store);
void   pp_key_host_fixture_tear_down (PpKeyHostFixture       *f);

/* A terminal certificate for @serial (subject serialNumber) over @key, by
 * @issuer (NULL: the test PKI's CA_KRD), valid from Jan 1 of @from_year to
 * Jan 1 of @to_year. */
X509  *pp_key_host_fixture_make_krd_cert (const PpKeyHostFixture *f,
                                          const char             *serial,
                                          EVP_PKEY               *key,
                                          X509                   *issuer,
                                          EVP_PKEY               *issuer_key,
                                          int                     from_year,
                                          int                     to_year);
/* A self-signed CA no one trusts, and its key. */
X509  *pp_key_host_fixture_make_rogue_ca (EVP_PKEY              **out_key);
/* SHA-256 of @cert's DER, upper-case hex: what the register records. */
char  *pp_key_host_fixture_cert_fingerprint (X509 *cert);
/* CT_KRD carrying @cert, as a terminal sends it. */
GBytes *pp_key_host_fixture_ct_krd   (X509 *cert);

G_END_DECLS
