/* SPDX-License-Identifier: GPL-3.0-or-later
 *
 * pp-keystore.c: the PpKeyStore interface, its async wrappers and the
 * error domain shared by the signer and both backends. Label checks and
 * the certificate/key match live here so both backends behave alike.
 */
#include "config.h"

#include <string.h>

#include <glib/gi18n-lib.h>
#include <openssl/err.h>

#include "pp-keystore.h"
#include "pp-keystore-private.h"
#include "pp-openssl-types.h"

G_DEFINE_QUARK (pp-keystore-error-quark, pp_keystore_error)

G_DEFINE_INTERFACE (PpKeyStore, pp_key_store, G_TYPE_OBJECT)

static void
pp_key_store_default_init (PpKeyStoreInterface *iface)
{
}

#define MAX_LABEL_LEN 64

gboolean
pp_keystore_check_label (const char  *label,
                         GError     **error)
{
  gsize len = strlen (label);

  /* Labels become file names in the soft store: keep them to a portable
   * alphabet with no path separators and no leading dot. */
  if (len == 0 || len > MAX_LABEL_LEN || label[0] == '.' || label[0] == '-')
    goto bad;
  for (gsize i = 0; i < len; i++)
    if (!g_ascii_isalnum (label[i]) && label[i] != '-' && label[i] != '_' && label[i] != '.')
      goto bad;
  return TRUE;

bad:
  g_set_error (error, PP_KEYSTORE_ERROR, PP_KEYSTORE_ERROR_INVALID_LABEL,
               _("Invalid key label \"%s\": use 1 to %d letters, digits, '.', '-' or '_', "
                 "not starting with '.' or '-'"), label, MAX_LABEL_LEN);
  return FALSE;
}

gsize
pp_tmk_type_get_key_length (PpTmkType type)
{
  switch (type)
    {
    case PP_TMK_TDES_2KEY: return 16;
    case PP_TMK_TDES_3KEY: return 24;
    case PP_TMK_AES_128:   return 16;
    case PP_TMK_AES_256:   return 32;
    default:               return 0;
    }
}

PpKeyAlgorithm
pp_tmk_type_get_algorithm (PpTmkType type)
{
  return type == PP_TMK_AES_128 || type == PP_TMK_AES_256 ? PP_KEY_ALGORITHM_AES
                                                          : PP_KEY_ALGORITHM_TDES;
}

PpKeyStore *
pp_key_store_new_for_location (const char  *location,
                               const char  *secret,
                               GError     **error)
{
  g_return_val_if_fail (location != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  if (g_str_has_prefix (location, "pkcs11:"))
    return pp_key_store_pkcs11_new (location, secret, error);
  return pp_key_store_soft_new (location, secret, error);
}

const char *
pp_key_store_get_backend_name (PpKeyStore *self)
{
  g_return_val_if_fail (PP_IS_KEY_STORE (self), NULL);

  return PP_KEY_STORE_GET_IFACE (self)->get_backend_name (self);
}

gboolean
pp_key_store_generate_kdh_key (PpKeyStore    *self,
                               const char    *label,
                               GCancellable  *cancellable,
                               GError       **error)
{
  g_return_val_if_fail (PP_IS_KEY_STORE (self), FALSE);
  g_return_val_if_fail (label != NULL, FALSE);
  g_return_val_if_fail (cancellable == NULL || G_IS_CANCELLABLE (cancellable), FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  if (!pp_keystore_check_label (label, error))
    return FALSE;
  if (g_cancellable_set_error_if_cancelled (cancellable, error))
    return FALSE;
  return PP_KEY_STORE_GET_IFACE (self)->generate_kdh_key (self, label, cancellable, error);
}

PpSigner *
pp_key_store_get_signer (PpKeyStore  *self,
                         const char  *label,
                         GError     **error)
{
  g_return_val_if_fail (PP_IS_KEY_STORE (self), NULL);
  g_return_val_if_fail (label != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  if (!pp_keystore_check_label (label, error))
    return NULL;
  return PP_KEY_STORE_GET_IFACE (self)->get_signer (self, label, error);
}

gboolean
pp_key_store_store_certificate (PpKeyStore  *self,
                                const char  *label,
                                X509        *certificate,
                                GError     **error)
{
  g_autoptr(PpSigner) signer = NULL;
  g_autoptr(EVP_PKEY) pub = NULL;
  EVP_PKEY *cert_key;

  g_return_val_if_fail (PP_IS_KEY_STORE (self), FALSE);
  g_return_val_if_fail (label != NULL, FALSE);
  g_return_val_if_fail (certificate != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  if (!pp_keystore_check_label (label, error))
    return FALSE;

  /* A KDH certificate for another key would only fail later, at the KRD:
   * refuse it here. */
  signer = pp_key_store_get_signer (self, label, error);
  if (signer == NULL)
    return FALSE;
  pub = pp_signer_dup_public_key (signer, error);
  if (pub == NULL)
    return FALSE;
  cert_key = X509_get0_pubkey (certificate);
  if (cert_key == NULL || EVP_PKEY_eq (cert_key, pub) != 1)
    {
      ERR_clear_error ();
      g_set_error (error, PP_KEYSTORE_ERROR, PP_KEYSTORE_ERROR_INVALID_KEY,
                   _("The certificate does not certify the key \"%s\""), label);
      return FALSE;
    }

  return PP_KEY_STORE_GET_IFACE (self)->store_certificate (self, label, certificate, error);
}

X509 *
pp_key_store_load_certificate (PpKeyStore  *self,
                               const char  *label,
                               GError     **error)
{
  g_return_val_if_fail (PP_IS_KEY_STORE (self), NULL);
  g_return_val_if_fail (label != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  if (!pp_keystore_check_label (label, error))
    return NULL;
  return PP_KEY_STORE_GET_IFACE (self)->load_certificate (self, label, error);
}

char *
pp_key_store_generate_tmk (PpKeyStore    *self,
                           const char    *label,
                           PpTmkType      type,
                           GCancellable  *cancellable,
                           GError       **error)
{
  g_return_val_if_fail (PP_IS_KEY_STORE (self), NULL);
  g_return_val_if_fail (label != NULL, NULL);
  g_return_val_if_fail (pp_tmk_type_get_key_length (type) != 0, NULL);
  g_return_val_if_fail (cancellable == NULL || G_IS_CANCELLABLE (cancellable), NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  if (!pp_keystore_check_label (label, error))
    return NULL;
  if (g_cancellable_set_error_if_cancelled (cancellable, error))
    return NULL;
  return PP_KEY_STORE_GET_IFACE (self)->generate_tmk (self, label, type, cancellable, error);
}

char *
pp_key_store_get_tmk_kcv (PpKeyStore  *self,
                          const char  *label,
                          PpTmkType   *out_type,
                          GError     **error)
{
  g_return_val_if_fail (PP_IS_KEY_STORE (self), NULL);
  g_return_val_if_fail (label != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  if (!pp_keystore_check_label (label, error))
    return NULL;
  return PP_KEY_STORE_GET_IFACE (self)->get_tmk_kcv (self, label, out_type, error);
}

PpSecureBuffer *
pp_key_store_export_tmk (PpKeyStore  *self,
                         const char  *label,
                         PpTmkType   *out_type,
                         GError     **error)
{
  g_return_val_if_fail (PP_IS_KEY_STORE (self), NULL);
  g_return_val_if_fail (label != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  if (!pp_keystore_check_label (label, error))
    return NULL;
  return PP_KEY_STORE_GET_IFACE (self)->export_tmk (self, label, out_type, error);
}

char *
pp_key_store_generate_and_export_tmk (PpKeyStore       *self,
                                      const char       *label,
                                      PpTmkType         type,
                                      PpSecureBuffer  **out_tmk,
                                      GCancellable     *cancellable,
                                      GError          **error)
{
  PpKeyStoreInterface *iface;
  g_autofree char *kcv = NULL;

  g_return_val_if_fail (PP_IS_KEY_STORE (self), NULL);
  g_return_val_if_fail (label != NULL, NULL);
  g_return_val_if_fail (pp_tmk_type_get_key_length (type) != 0, NULL);
  g_return_val_if_fail (out_tmk != NULL, NULL);
  g_return_val_if_fail (cancellable == NULL || G_IS_CANCELLABLE (cancellable), NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  *out_tmk = NULL;
  if (!pp_keystore_check_label (label, error))
    return NULL;
  if (g_cancellable_set_error_if_cancelled (cancellable, error))
    return NULL;
  iface = PP_KEY_STORE_GET_IFACE (self);
  if (iface->generate_and_export_tmk != NULL)
    return iface->generate_and_export_tmk (self, label, type, out_tmk, cancellable, error);
  if ((kcv = iface->generate_tmk (self, label, type, cancellable, error)) == NULL ||
      (*out_tmk = iface->export_tmk (self, label, NULL, error)) == NULL)
    return NULL;
  return g_steal_pointer (&kcv);
}

/* Async wrappers: the backends are thread-safe, so the sync call runs in
 * a GTask worker thread. */

typedef struct
{
  char      *label;
  PpTmkType  type;
} GenerateJob;

static void
generate_job_free (GenerateJob *job)
{
  g_free (job->label);
  g_free (job);
}

static void
generate_kdh_thread (GTask        *task,
                     gpointer      source_object,
                     gpointer      task_data,
                     GCancellable *cancellable)
{
  GenerateJob *job = task_data;
  GError *error = NULL;

  if (pp_key_store_generate_kdh_key (source_object, job->label, cancellable, &error))
    g_task_return_boolean (task, TRUE);
  else
    g_task_return_error (task, error);
}

void
pp_key_store_generate_kdh_key_async (PpKeyStore          *self,
                                     const char          *label,
                                     GCancellable        *cancellable,
                                     GAsyncReadyCallback  callback,
                                     gpointer             user_data)
{
  g_autoptr(GTask) task = NULL;
  GenerateJob *job;

  g_return_if_fail (PP_IS_KEY_STORE (self));
  g_return_if_fail (label != NULL);
  g_return_if_fail (cancellable == NULL || G_IS_CANCELLABLE (cancellable));

  job = g_new0 (GenerateJob, 1);
  job->label = g_strdup (label);
  task = g_task_new (self, cancellable, callback, user_data);
  g_task_set_source_tag (task, pp_key_store_generate_kdh_key_async);
  g_task_set_task_data (task, job, (GDestroyNotify) generate_job_free);
  g_task_run_in_thread (task, generate_kdh_thread);
}

gboolean
pp_key_store_generate_kdh_key_finish (PpKeyStore    *self,
                                      GAsyncResult  *result,
                                      GError       **error)
{
  g_return_val_if_fail (PP_IS_KEY_STORE (self), FALSE);
  g_return_val_if_fail (g_task_is_valid (result, self), FALSE);
  g_return_val_if_fail (g_task_get_source_tag (G_TASK (result)) ==
                        pp_key_store_generate_kdh_key_async, FALSE);

  return g_task_propagate_boolean (G_TASK (result), error);
}

static void
generate_tmk_thread (GTask        *task,
                     gpointer      source_object,
                     gpointer      task_data,
                     GCancellable *cancellable)
{
  GenerateJob *job = task_data;
  GError *error = NULL;
  char *kcv;

  kcv = pp_key_store_generate_tmk (source_object, job->label, job->type, cancellable, &error);
  if (kcv != NULL)
    g_task_return_pointer (task, kcv, g_free);
  else
    g_task_return_error (task, error);
}

void
pp_key_store_generate_tmk_async (PpKeyStore          *self,
                                 const char          *label,
                                 PpTmkType            type,
                                 GCancellable        *cancellable,
                                 GAsyncReadyCallback  callback,
                                 gpointer             user_data)
{
  g_autoptr(GTask) task = NULL;
  GenerateJob *job;

  g_return_if_fail (PP_IS_KEY_STORE (self));
  g_return_if_fail (label != NULL);
  g_return_if_fail (pp_tmk_type_get_key_length (type) != 0);
  g_return_if_fail (cancellable == NULL || G_IS_CANCELLABLE (cancellable));

  job = g_new0 (GenerateJob, 1);
  job->label = g_strdup (label);
  job->type = type;
  task = g_task_new (self, cancellable, callback, user_data);
  g_task_set_source_tag (task, pp_key_store_generate_tmk_async);
  g_task_set_task_data (task, job, (GDestroyNotify) generate_job_free);
  g_task_run_in_thread (task, generate_tmk_thread);
}

char *
pp_key_store_generate_tmk_finish (PpKeyStore    *self,
                                  GAsyncResult  *result,
                                  GError       **error)
{
  g_return_val_if_fail (PP_IS_KEY_STORE (self), NULL);
  g_return_val_if_fail (g_task_is_valid (result, self), NULL);
  g_return_val_if_fail (g_task_get_source_tag (G_TASK (result)) ==
                        pp_key_store_generate_tmk_async, NULL);

  return g_task_propagate_pointer (G_TASK (result), error);
}

typedef struct
{
  char           *kcv;
  PpSecureBuffer *tmk;
} Generated;

static void
generated_free (Generated *g)
{
  g_free (g->kcv);
  g_clear_pointer (&g->tmk, pp_secure_buffer_free);
  g_free (g);
}

static void
generate_and_export_tmk_thread (GTask        *task,
                                gpointer      source_object,
                                gpointer      task_data,
                                GCancellable *cancellable)
{
  GenerateJob *job = task_data;
  GError *error = NULL;
  Generated *g = g_new0 (Generated, 1);

  g->kcv = pp_key_store_generate_and_export_tmk (source_object, job->label, job->type, &g->tmk,
                                                 cancellable, &error);
  if (g->kcv != NULL)
    g_task_return_pointer (task, g, (GDestroyNotify) generated_free);
  else
    {
      generated_free (g);
      g_task_return_error (task, error);
    }
}

void
pp_key_store_generate_and_export_tmk_async (PpKeyStore          *self,
                                            const char          *label,
                                            PpTmkType            type,
                                            GCancellable        *cancellable,
                                            GAsyncReadyCallback  callback,
                                            gpointer             user_data)
{
  g_autoptr(GTask) task = NULL;
  GenerateJob *job;

  g_return_if_fail (PP_IS_KEY_STORE (self));
  g_return_if_fail (label != NULL);
  g_return_if_fail (pp_tmk_type_get_key_length (type) != 0);
  g_return_if_fail (cancellable == NULL || G_IS_CANCELLABLE (cancellable));

  job = g_new0 (GenerateJob, 1);
  job->label = g_strdup (label);
  job->type = type;
  task = g_task_new (self, cancellable, callback, user_data);
  g_task_set_source_tag (task, pp_key_store_generate_and_export_tmk_async);
  g_task_set_task_data (task, job, (GDestroyNotify) generate_job_free);
  g_task_run_in_thread (task, generate_and_export_tmk_thread);
}

char *
pp_key_store_generate_and_export_tmk_finish (PpKeyStore       *self,
                                             GAsyncResult     *result,
                                             PpSecureBuffer  **out_tmk,
                                             GError          **error)
{
  Generated *g;
  char *kcv;

  g_return_val_if_fail (PP_IS_KEY_STORE (self), NULL);
  g_return_val_if_fail (g_task_is_valid (result, self), NULL);
  g_return_val_if_fail (g_task_get_source_tag (G_TASK (result)) ==
                        pp_key_store_generate_and_export_tmk_async, NULL);
  g_return_val_if_fail (out_tmk != NULL, NULL);

  *out_tmk = NULL;
  if ((g = g_task_propagate_pointer (G_TASK (result), error)) == NULL)
    return NULL;
  kcv = g_steal_pointer (&g->kcv);
  *out_tmk = g_steal_pointer (&g->tmk);
  generated_free (g);
  return kcv;
}
