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

static gboolean
sign_without_key (gpointer       user_data,
                  const guint8  *data,
                  gsize          len,
                  GBytes       **out_signature,
                  GError       **error)
{
  g_set_error (error, PP_TR34_ERROR, PP_TR34_ERROR_INVALID_ARGUMENT, _("no --kdh-key given"));
  return FALSE;
}

PpTr34Kdh *
pp_tool_open_kdh (const char     *cert_option,
                  const char     *cert_path,
                  const char     *key_uri,
                  const char     *crl_option,
                  const char     *crl_path,
                  const char     *profile_name,
                  PpTr34Profile  *out_profile,
                  GError        **error)
{
  g_autoptr(X509) cert = NULL;
  g_autoptr(X509_CRL) crl = NULL;
  g_autoptr(GError) local = NULL;
  PpTr34Profile profile = PP_TR34_PROFILE_STRICT;
  PpSigner *signer;
  PpTr34Kdh *kdh;

  if (profile_name != NULL && !pp_tr34_profile_from_string (profile_name, &profile, error))
    return NULL;
  if ((cert = pp_tool_load_cert (cert_option, cert_path, error)) == NULL ||
      (crl_path != NULL && (crl = pp_tool_load_crl (crl_option, crl_path, error)) == NULL))
    return NULL;
  if (key_uri == NULL)
    kdh = pp_tr34_kdh_new (cert, sign_without_key, NULL, NULL);
  else
    {
      signer = pp_signer_new_for_uri (key_uri, g_getenv (PP_TOOL_KDH_SECRET_ENV), &local);
      if (signer == NULL)
        {
          g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE, _("--kdh-key: %s"),
                       local->message);
          return NULL;
        }
      kdh = pp_tr34_kdh_new (cert, pp_tool_sign_with_signer, signer, (GDestroyNotify) pp_signer_unref);
    }
  pp_tr34_kdh_set_crl (kdh, crl);
  pp_tr34_kdh_set_profile (kdh, profile);
  if (out_profile != NULL)
    *out_profile = profile;
  return kdh;
}
