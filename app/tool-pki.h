/* SPDX-License-Identifier: GPL-3.0-or-later
 *
 * tool-pki.h: certificates, CRLs and signers as posprov-tool's commands
 * read them: bounded regular files (tool-common), PEM certificates, DER or
 * PEM CRLs, one-line errors naming the option (when given) and the file.
 */
#pragma once

#include <glib.h>
#include <openssl/x509.h>

#include "pp-tr34.h"

G_BEGIN_DECLS

/* @option ("--kdh-cert") prefixes the message when not NULL. */
X509           *pp_tool_load_cert  (const char  *option,
                                    const char  *path,
                                    GError     **error);
/* Every PEM certificate in @path; at least one. */
STACK_OF(X509) *pp_tool_load_certs (const char  *option,
                                    const char  *path,
                                    GError     **error);
X509_CRL       *pp_tool_load_crl   (const char  *option,
                                    const char  *path,
                                    GError     **error);
/* A PpTr34SignFunc over a PpSigner (the user data). */
gboolean        pp_tool_sign_with_signer (gpointer       user_data,
                                          const guint8  *data,
                                          gsize          len,
                                          GBytes       **out_signature,
                                          GError       **error);

/* Secret of an encrypted PEM KDH key or the PKCS#11 PIN, kept off the
 * command line (where other users could read it). */
#define PP_TOOL_KDH_SECRET_ENV "POSPROV_KDH_KEY_SECRET"

/* The KDH of a certificate (@cert_path), its signing key (@key_uri: a PEM
 * file or pkcs11: URI, secret from PP_TOOL_KDH_SECRET_ENV; NULL for a KDH
 * that only sends unsigned tokens: signing then fails, naming --kdh-key),
 * the CRL it attaches (@crl_path, nullable) and a profile name (nullable:
 * strict). @cert_option and @crl_option prefix file errors when given. */
PpTr34Kdh      *pp_tool_open_kdh   (const char     *cert_option,
                                    const char     *cert_path,
                                    const char     *key_uri,
                                    const char     *crl_option,
                                    const char     *crl_path,
                                    const char     *profile_name,
                                    PpTr34Profile  *out_profile,
                                    GError        **error);

G_END_DECLS
