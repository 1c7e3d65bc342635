/* SPDX-License-Identifier: GPL-3.0-or-later
 *
 * pp-registry-local.h: PpRegistry over the SQLite store in this process,
 * the station's embedded default and the back end of posprov-registry.
 *
 * One owner thread holds the store's connection; every call is a job on
 * its queue, run one at a time in the order queued, and its callback runs
 * on the caller's thread-default main context. The main thread only queues.
 * A call whose GCancellable is cancelled before its job starts fails with
 * G_IO_ERROR_CANCELLED and changes nothing; a job that has started runs to
 * its end and reports what it did.
 */
#pragma once

#include "pp-key-host.h"
#include "pp-registry.h"

G_BEGIN_DECLS

#define PP_TYPE_REGISTRY_LOCAL (pp_registry_local_get_type ())
G_DECLARE_FINAL_TYPE (PpRegistryLocal, pp_registry_local, PP, REGISTRY_LOCAL, GObject)

/* Starts the owner thread and opens (or creates) the store at @path on it,
 * waiting for the open: PP_REGISTRY_ERROR_UNAVAILABLE with the store's
 * message when it cannot be opened. */
PpRegistryLocal *pp_registry_local_new        (const char           *path,
                                               GError              **error);
/* The same, and on the owner thread the key store at @key_store_location
 * (a soft store folder or a "pkcs11:" URI; @secret its passphrase or PIN,
 * copied and wiped once used) and, when the store has a key host
 * configured (pp_store_set_key_host_config), the key host over both: a key
 * store handle, like a PKCS#11 session, is used by the thread that opened
 * it. The key store also seals and checks the users' one-time codes.
 * @key_store_location NULL: none (as pp_registry_local_new). A key store that
 * cannot be opened, or a configured key host that refuses to start
 * (pp_key_host_new), is PP_REGISTRY_ERROR_NO_KEY_HOST with the reason. */
PpRegistryLocal *pp_registry_local_new_with_key_store (const char  *path,
                                                       const char  *key_store_location,
                                                       const char  *secret,
                                                       GError     **error);
/* The same without waiting on the caller's thread. */
void             pp_registry_local_new_async  (const char           *path,
                                               GCancellable         *cancellable,
                                               GAsyncReadyCallback   callback,
                                               gpointer              user_data);
PpRegistryLocal *pp_registry_local_new_finish (GAsyncResult         *result,
                                               GError              **error);

const char      *pp_registry_local_get_path   (PpRegistryLocal      *self);

/* The key host the key-host verbs call, on the owner thread (NULL: none;
 * those verbs then fail with PP_REGISTRY_ERROR_NO_KEY_HOST). Jobs already
 * queued use the key host set when they run. The key host's own PpStore is
 * then used on the owner thread only. */
void             pp_registry_local_set_key_host (PpRegistryLocal    *self,
                                                 PpKeyHost          *key_host);

/* Runs the jobs already queued, then ends the owner thread and waits for it:
 * the store, key store and key host are closed when this returns (a process
 * about to exit calls it, so nothing is left half-freed on another thread).
 * Later calls fail with PP_REGISTRY_ERROR_UNAVAILABLE. Not on the owner
 * thread (from a callback, that is, it is fine: callbacks run on the
 * caller's context). */
void             pp_registry_local_close        (PpRegistryLocal    *self);

G_END_DECLS
