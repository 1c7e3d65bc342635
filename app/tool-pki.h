/* SPDX-License-Identifier: GPL-3.0-or-later
 *
 * tool-pki.h: certificates, CRLs and signers as posprov-tool's commands
 * read them: bounded regular files (tool-common), PEM certificates, DER or
 * PEM CRLs, one-line errors naming the option (when given) and the file.
 */
#pragma once

#include <glib.h>
#include <openssl/x509.h>

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

G_END_DECLS
