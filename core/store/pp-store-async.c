/* SPDX-License-Identifier: GPL-3.0-or-later
 *
 * pp-store-async.c: the store's slow verbs off the calling thread. A
 * sqlite3 handle belongs to one thread, so each task opens its own PpStore
 * on the same file in the worker thread; SQLite serialises it with the
 * caller's connection.
 */
#include "config.h"

#include <string.h>

#include <gio/gio.h>
#include <openssl/crypto.h>

#include "pp-store-private.h"

typedef struct {
  char *path;
  guint n_terminals;
  gint64 first_bad_seq;
  guint64 n_entries;
  char *username;
  char *display_name;
  char *password;   /* wiped on free */
  guint32 epoch_entries;
  guint32 epoch_seconds;
} StoreTask;

static void
store_task_free (StoreTask *task)
{
  g_free (task->path);
  g_free (task->username);
  g_free (task->display_name);
  if (task->password != NULL)
    OPENSSL_cleanse (task->password, strlen (task->password));
  g_free (task->password);
  g_free (task);
}

static void
seed_thread (GTask        *task,
             gpointer      source,
             gpointer      data,
             GCancellable *cancellable)
{
  StoreTask *st = data;
  g_autoptr(GError) error = NULL;
  g_autoptr(PpStore) store = NULL;

  if (g_task_return_error_if_cancelled (task))
    return;
  store = pp_store_open (st->path, &error);
  if (store == NULL || !pp_store_seed_demo (store, st->n_terminals, &error))
    g_task_return_error (task, g_steal_pointer (&error));
  else
    g_task_return_boolean (task, TRUE);
}

void
pp_store_seed_demo_async (PpStore             *self,
                          guint                n_terminals,
                          GCancellable        *cancellable,
                          GAsyncReadyCallback  callback,
                          gpointer             user_data)
{
  g_autoptr(GTask) task = NULL;
  StoreTask *st;

  g_return_if_fail (PP_IS_STORE (self));
  g_return_if_fail (cancellable == NULL || G_IS_CANCELLABLE (cancellable));

  st = g_new0 (StoreTask, 1);
  st->path = g_strdup (self->path);
  st->n_terminals = n_terminals;
  task = g_task_new (self, cancellable, callback, user_data);
  g_task_set_source_tag (task, pp_store_seed_demo_async);
  g_task_set_task_data (task, st, (GDestroyNotify) store_task_free);
  g_task_run_in_thread (task, seed_thread);
}

gboolean
pp_store_seed_demo_finish (PpStore       *self,
                           GAsyncResult  *result,
                           GError       **error)
{
  g_return_val_if_fail (PP_IS_STORE (self), FALSE);
  g_return_val_if_fail (g_task_is_valid (result, self), FALSE);
  g_return_val_if_fail (g_task_get_source_tag (G_TASK (result)) == pp_store_seed_demo_async, FALSE);

  return g_task_propagate_boolean (G_TASK (result), error);
}

static void
verify_thread (GTask        *task,
               gpointer      source,
               gpointer      data,
               GCancellable *cancellable)
{
  StoreTask *st = data;
  g_autoptr(GError) error = NULL;
  g_autoptr(PpStore) store = NULL;

  if (g_task_return_error_if_cancelled (task))
    return;
  store = pp_store_open (st->path, &error);
  if (store == NULL ||
      !pp_store_audit_verify (store, &st->first_bad_seq, &st->n_entries, &error))
    g_task_return_error (task, g_steal_pointer (&error));
  else
    g_task_return_boolean (task, TRUE);
}

void
pp_store_audit_verify_async (PpStore             *self,
                             GCancellable        *cancellable,
                             GAsyncReadyCallback  callback,
                             gpointer             user_data)
{
  g_autoptr(GTask) task = NULL;
  StoreTask *st;

  g_return_if_fail (PP_IS_STORE (self));
  g_return_if_fail (cancellable == NULL || G_IS_CANCELLABLE (cancellable));

  st = g_new0 (StoreTask, 1);
  st->path = g_strdup (self->path);
  task = g_task_new (self, cancellable, callback, user_data);
  g_task_set_source_tag (task, pp_store_audit_verify_async);
  g_task_set_task_data (task, st, (GDestroyNotify) store_task_free);
  g_task_run_in_thread (task, verify_thread);
}

gboolean
pp_store_audit_verify_finish (PpStore       *self,
                              GAsyncResult  *result,
                              gint64        *out_first_bad_seq,
                              guint64       *out_n_entries,
                              GError       **error)
{
  StoreTask *st;

  g_return_val_if_fail (PP_IS_STORE (self), FALSE);
  g_return_val_if_fail (g_task_is_valid (result, self), FALSE);
  g_return_val_if_fail (g_task_get_source_tag (G_TASK (result)) == pp_store_audit_verify_async, FALSE);

  /* Filled by the worker before it returned, also on failure. */
  st = g_task_get_task_data (G_TASK (result));
  if (out_first_bad_seq != NULL)
    *out_first_bad_seq = st->first_bad_seq;
  if (out_n_entries != NULL)
    *out_n_entries = st->n_entries;
  return g_task_propagate_boolean (G_TASK (result), error);
}

static void
first_administrator_thread (GTask        *task,
                            gpointer      source,
                            gpointer      data,
                            GCancellable *cancellable)
{
  StoreTask *st = data;
  g_autoptr(GError) error = NULL;
  g_autoptr(PpStore) store = NULL;
  PpUser *user = NULL;

  if (g_task_return_error_if_cancelled (task))
    return;
  store = pp_store_open (st->path, &error);
  /* The worker's connection inherits how the caller's was opened. */
  if (store != NULL)
    store->demo = PP_STORE (source)->demo;
  if (store != NULL)
    user = pp_store_create_first_administrator (store, st->username, st->display_name,
                                                st->password, &error);
  if (user == NULL)
    g_task_return_error (task, g_steal_pointer (&error));
  else
    g_task_return_pointer (task, user, (GDestroyNotify) pp_user_free);
}

void
pp_store_create_first_administrator_async (PpStore             *self,
                                           const char          *username,
                                           const char          *display_name,
                                           const char          *password,
                                           GCancellable        *cancellable,
                                           GAsyncReadyCallback  callback,
                                           gpointer             user_data)
{
  g_autoptr(GTask) task = NULL;
  StoreTask *st;

  g_return_if_fail (PP_IS_STORE (self));
  g_return_if_fail (username != NULL);
  g_return_if_fail (password != NULL);
  g_return_if_fail (cancellable == NULL || G_IS_CANCELLABLE (cancellable));

  st = g_new0 (StoreTask, 1);
  st->path = g_strdup (self->path);
  st->username = g_strdup (username);
  st->display_name = g_strdup (display_name);
  st->password = g_strdup (password);
  task = g_task_new (self, cancellable, callback, user_data);
  g_task_set_source_tag (task, pp_store_create_first_administrator_async);
  g_task_set_task_data (task, st, (GDestroyNotify) store_task_free);
  g_task_run_in_thread (task, first_administrator_thread);
}

PpUser *
pp_store_create_first_administrator_finish (PpStore       *self,
                                            GAsyncResult  *result,
                                            GError       **error)
{
  g_return_val_if_fail (PP_IS_STORE (self), NULL);
  g_return_val_if_fail (g_task_is_valid (result, self), NULL);
  g_return_val_if_fail (g_task_get_source_tag (G_TASK (result)) ==
                        pp_store_create_first_administrator_async, NULL);

  return g_task_propagate_pointer (G_TASK (result), error);
}

static void
init_seal_thread (GTask        *task,
                  gpointer      source,
                  gpointer      data,
                  GCancellable *cancellable)
{
  StoreTask *st = data;
  g_autoptr(GError) error = NULL;
  g_autoptr(PpStore) store = NULL;
  PpSecureBuffer *seed = NULL;

  if (g_task_return_error_if_cancelled (task))
    return;
  store = pp_store_open (st->path, &error);
  if (store != NULL)
    store->demo = PP_STORE (source)->demo;
  if (store != NULL)
    seed = pp_store_audit_init_seal (store, st->epoch_entries, st->epoch_seconds, st->username,
                                     &error);
  if (seed == NULL)
    g_task_return_error (task, g_steal_pointer (&error));
  else
    g_task_return_pointer (task, seed, (GDestroyNotify) pp_secure_buffer_free);
}

void
pp_store_audit_init_seal_async (PpStore             *self,
                                guint32              epoch_entries,
                                guint32              epoch_seconds,
                                const char          *actor,
                                GCancellable        *cancellable,
                                GAsyncReadyCallback  callback,
                                gpointer             user_data)
{
  g_autoptr(GTask) task = NULL;
  StoreTask *st;

  g_return_if_fail (PP_IS_STORE (self));
  g_return_if_fail (epoch_entries >= 1);
  g_return_if_fail (actor != NULL);
  g_return_if_fail (cancellable == NULL || G_IS_CANCELLABLE (cancellable));

  st = g_new0 (StoreTask, 1);
  st->path = g_strdup (self->path);
  st->username = g_strdup (actor);
  st->epoch_entries = epoch_entries;
  st->epoch_seconds = epoch_seconds;
  task = g_task_new (self, cancellable, callback, user_data);
  g_task_set_source_tag (task, pp_store_audit_init_seal_async);
  g_task_set_task_data (task, st, (GDestroyNotify) store_task_free);
  g_task_run_in_thread (task, init_seal_thread);
}

PpSecureBuffer *
pp_store_audit_init_seal_finish (PpStore       *self,
                                 GAsyncResult  *result,
                                 GError       **error)
{
  g_return_val_if_fail (PP_IS_STORE (self), NULL);
  g_return_val_if_fail (g_task_is_valid (result, self), NULL);
  g_return_val_if_fail (g_task_get_source_tag (G_TASK (result)) ==
                        pp_store_audit_init_seal_async, NULL);

  return g_task_propagate_pointer (G_TASK (result), error);
}
