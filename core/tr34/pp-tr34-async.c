/* SPDX-License-Identifier: GPL-3.0-or-later
 *
 * pp-tr34-async.c: the slow TR-34 operations (an RSA signature or
 * decryption each, perhaps through a PKCS#11 token) on a GTask worker, so
 * the UI thread never waits on them.
 *
 * Each task holds a reference on everything it uses and drops it when its
 * data is freed (with the GTask, on whichever thread lets go of it last),
 * so a caller may drop its own references as soon as the call returns.
 */
#include "config.h"

#include "pp-openssl-types.h"
#include "pp-tr34-private.h"

typedef struct {
  PpTr34Kdh       *kdh;
  X509            *krd_cert;
  PpSecureBuffer  *key;
  char            *header;
  PpTr34Ephemeral  ephemeral;
  GBytes          *nonce;
  GDateTime       *signing_time;
} BuildData;

static void
build_data_free (BuildData *d)
{
  pp_tr34_kdh_unref (d->kdh);
  X509_free (d->krd_cert);
  g_clear_pointer (&d->key, pp_secure_buffer_free);
  g_free (d->header);
  g_clear_pointer (&d->nonce, g_bytes_unref);
  g_clear_pointer (&d->signing_time, g_date_time_unref);
  g_free (d);
}

static void
build_thread (GTask        *task,
              gpointer      source_object,
              gpointer      task_data,
              GCancellable *cancellable)
{
  BuildData *d = task_data;
  GError *error = NULL;
  GBytes *token;

  if (g_task_return_error_if_cancelled (task))
    return;
  token = pp_tr34_kdh_build_key_token (d->kdh, d->krd_cert, d->key, d->header, d->ephemeral,
                                       d->nonce, d->signing_time, &error);
  if (token == NULL)
    g_task_return_error (task, error);
  else
    g_task_return_pointer (task, token, (GDestroyNotify) g_bytes_unref);
}

void
pp_tr34_kdh_build_key_token_async (PpTr34Kdh            *kdh,
                                   X509                 *krd_cert,
                                   const PpSecureBuffer *key,
                                   const char           *header,
                                   PpTr34Ephemeral       ephemeral,
                                   GBytes               *nonce,
                                   GDateTime            *signing_time,
                                   GCancellable         *cancellable,
                                   GAsyncReadyCallback   callback,
                                   gpointer              user_data)
{
  g_autoptr(GTask) task = NULL;
  BuildData *d;

  g_return_if_fail (kdh != NULL);
  g_return_if_fail (krd_cert != NULL);
  g_return_if_fail (key != NULL);

  d = g_new0 (BuildData, 1);
  d->kdh = pp_tr34_kdh_ref (kdh);
  X509_up_ref (krd_cert);
  d->krd_cert = krd_cert;
  d->key = pp_secure_buffer_dup (key);
  d->header = g_strdup (header);
  d->ephemeral = ephemeral;
  d->nonce = nonce != NULL ? g_bytes_ref (nonce) : NULL;
  d->signing_time = signing_time != NULL ? g_date_time_ref (signing_time) : NULL;

  task = g_task_new (NULL, cancellable, callback, user_data);
  g_task_set_source_tag (task, pp_tr34_kdh_build_key_token_async);
  g_task_set_task_data (task, d, (GDestroyNotify) build_data_free);
  g_task_run_in_thread (task, build_thread);
}

GBytes *
pp_tr34_kdh_build_key_token_finish (GAsyncResult  *result,
                                    GError       **error)
{
  g_return_val_if_fail (g_task_is_valid (result, NULL), NULL);
  g_return_val_if_fail (g_task_get_source_tag (G_TASK (result)) == pp_tr34_kdh_build_key_token_async, NULL);

  return g_task_propagate_pointer (G_TASK (result), error);
}

typedef struct {
  PpTr34Krd      *krd;
  PpTr34KrdState *state;
  GBytes         *token;
} ReceiveData;

static void
receive_data_free (ReceiveData *d)
{
  pp_tr34_krd_unref (d->krd);
  pp_tr34_krd_state_unref (d->state);
  g_bytes_unref (d->token);
  g_free (d);
}

static void
receive_thread (GTask        *task,
                gpointer      source_object,
                gpointer      task_data,
                GCancellable *cancellable)
{
  ReceiveData *d = task_data;
  GError *error = NULL;
  PpTr34ReceivedKey *received;

  if (g_task_return_error_if_cancelled (task))
    return;
  received = pp_tr34_krd_receive_key_token (d->krd, d->state, g_bytes_get_data (d->token, NULL),
                                            g_bytes_get_size (d->token), &error);
  if (received == NULL)
    g_task_return_error (task, error);
  else
    g_task_return_pointer (task, received, (GDestroyNotify) pp_tr34_received_key_free);
}

void
pp_tr34_krd_receive_key_token_async (PpTr34Krd           *krd,
                                     PpTr34KrdState      *state,
                                     GBytes              *token,
                                     GCancellable        *cancellable,
                                     GAsyncReadyCallback  callback,
                                     gpointer             user_data)
{
  g_autoptr(GTask) task = NULL;
  ReceiveData *d;

  g_return_if_fail (krd != NULL);
  g_return_if_fail (state != NULL);
  g_return_if_fail (token != NULL);

  d = g_new0 (ReceiveData, 1);
  d->krd = pp_tr34_krd_ref (krd);
  d->state = pp_tr34_krd_state_ref (state);
  d->token = g_bytes_ref (token);

  task = g_task_new (NULL, cancellable, callback, user_data);
  g_task_set_source_tag (task, pp_tr34_krd_receive_key_token_async);
  g_task_set_task_data (task, d, (GDestroyNotify) receive_data_free);
  g_task_run_in_thread (task, receive_thread);
}

PpTr34ReceivedKey *
pp_tr34_krd_receive_key_token_finish (GAsyncResult  *result,
                                      GError       **error)
{
  g_return_val_if_fail (g_task_is_valid (result, NULL), NULL);
  g_return_val_if_fail (g_task_get_source_tag (G_TASK (result)) == pp_tr34_krd_receive_key_token_async,
                        NULL);

  return g_task_propagate_pointer (G_TASK (result), error);
}
