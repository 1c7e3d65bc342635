/* SPDX-License-Identifier: GPL-3.0-or-later
 *
 * tool-pki.c: certificate, CRL and signer loading shared by posprov-tool's
 * tr34 and device commands.
 */
#include "config.h"

#include <glib/gi18n.h>
#include <openssl/pem.h>

#include "pp-keystore.h"
#include "pp-openssl-types.h"
#include "tool-common.h"
#include "tool-pki.h"

/* Takes @message; "OPTION: MESSAGE" when @option is given. */
static void
set_file_error (GError     **error,
                const char  *option,
                char        *message)
{
  if (option != NULL)
    g_set_error (error, G_FILE_ERROR, G_FILE_ERROR_INVAL, "%s: %s", option, message);
  else
    g_set_error_literal (error, G_FILE_ERROR, G_FILE_ERROR_INVAL, message);
  g_free (message);
}

X509 *
pp_tool_load_cert (const char  *option,
                   const char  *path,
                   GError     **error)
{
  g_autofree char *data = NULL;
  g_autoptr(BIO) bio = NULL;
  gsize len;
  X509 *cert;

  if ((data = pp_tool_read_file (path, PP_TOOL_SMALL_FILE_MAX, &len, error)) == NULL)
    return NULL;
  bio = BIO_new_mem_buf (data, (int) len);
  if ((cert = PEM_read_bio_X509 (bio, NULL, NULL, NULL)) == NULL)
    set_file_error (error, option, g_strdup_printf (_("“%s” is not a PEM certificate"), path));
  return cert;
}

STACK_OF(X509) *
pp_tool_load_certs (const char  *option,
                    const char  *path,
                    GError     **error)
{
  g_autofree char *data = NULL;
  g_autoptr(BIO) bio = NULL;
  STACK_OF(X509) *certs;
  X509 *cert;
  gsize len;

  if ((data = pp_tool_read_file (path, PP_TOOL_SMALL_FILE_MAX, &len, error)) == NULL)
    return NULL;
  bio = BIO_new_mem_buf (data, (int) len);
  certs = sk_X509_new_null ();
  while ((cert = PEM_read_bio_X509 (bio, NULL, NULL, NULL)) != NULL)
    sk_X509_push (certs, cert);
  if (sk_X509_num (certs) == 0)
    {
      sk_X509_free (certs);
      set_file_error (error, option, g_strdup_printf (_("“%s” holds no PEM certificate"), path));
      return NULL;
    }
  return certs;
}

X509_CRL *
pp_tool_load_crl (const char  *option,
                  const char  *path,
                  GError     **error)
{
  g_autofree char *data = NULL;
  const unsigned char *p;
  gsize len;
  X509_CRL *crl;

  if ((data = pp_tool_read_file (path, PP_TOOL_SMALL_FILE_MAX, &len, error)) == NULL)
    return NULL;
  p = (const unsigned char *) data;
  if ((crl = d2i_X509_CRL (NULL, &p, (long) len)) == NULL)
    {
      /* PEM as well. */
      g_autoptr(BIO) bio = BIO_new_mem_buf (data, (int) len);

      crl = PEM_read_bio_X509_CRL (bio, NULL, NULL, NULL);
    }
  if (crl == NULL)
    set_file_error (error, option, g_strdup_printf (_("“%s” is not a DER or PEM CRL"), path));
  return crl;
}

gboolean
pp_tool_sign_with_signer (gpointer       user_data,
                          const guint8  *data,
                          gsize          len,
                          GBytes       **out_signature,
                          GError       **error)
{
  return pp_signer_sign (user_data, data, len, out_signature, error);
}
