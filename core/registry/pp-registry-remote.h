/* SPDX-License-Identifier: GPL-3.0-or-later
 *
 * pp-registry-remote.h: PpRegistry across the network: HTTPS + JSON to
 * posprov-registry (docs/registry-api.md), with libsoup 3.
 *
 * The registry logs in as one user (POST /api/v1/sessions) on its first
 * call and keeps the bearer token; when the token has expired (401) it
 * logs in again, once, and repeats the call. The server acts as the
 * session's user, so a verb whose actor, requester or approver is another
 * user fails with PP_REGISTRY_ERROR_PERMISSION before anything is sent.
 *
 * Every mutating call carries its idempotency key in an Idempotency-Key
 * header and is sent again with the same key after a network failure: the
 * registry answers a repeat with the first result and does nothing twice.
 * Network and TLS faults are PP_REGISTRY_ERROR_UNAVAILABLE naming the URL;
 * a server certificate that does not verify against the anchor is
 * PP_REGISTRY_ERROR_UNTRUSTED and the connection is dropped (never
 * accepted). The registry's own errors come back with their code and the
 * server's message.
 *
 * Use a PpRegistryRemote from the thread that made it: its callbacks run
 * on the thread-default main context of the caller of each _async call.
 */
#pragma once

#include "pp-registry.h"

G_BEGIN_DECLS

#define PP_TYPE_REGISTRY_REMOTE (pp_registry_remote_get_type ())
G_DECLARE_FINAL_TYPE (PpRegistryRemote, pp_registry_remote, PP, REGISTRY_REMOTE, GObject)

/* The largest answer the registry takes from the server. */
#define PP_REGISTRY_REMOTE_MAX_RESPONSE (32 * 1024 * 1024)

/* @url: the registry's https:// address (a path prefix is kept); @user and
 * @password: the account the station works as (the password is kept in
 * memory to log in again and wiped when the registry goes). @anchor: the
 * certificate the server's must verify against: a CA (the server's chain
 * must end in it and name the URL's host) or the server's own certificate
 * (a pin: exactly that certificate is accepted); NULL: the system's CAs.
 * Nothing is sent until the first call: INVALID for a URL that is not
 * https:// with a host, or an empty user. */
PpRegistry *pp_registry_remote_new      (const char       *url,
                                         const char       *user,
                                         const char       *password,
                                         GTlsCertificate  *anchor,
                                         GError          **error);

const char *pp_registry_remote_get_url  (PpRegistryRemote *self);
const char *pp_registry_remote_get_user (PpRegistryRemote *self);

/* Loads the anchor for pp_registry_remote_new from a PEM file (the first
 * certificate in it): INVALID naming the file when it cannot be read. */
GTlsCertificate *pp_registry_remote_load_anchor (const char  *pem_path,
                                                 GError     **error);

/* ---- the event stream (GET /api/v1/events; docs/registry.md) ---- */

/* @approval: an approval request or decision made through the registry,
 * as it happened (owned by the watch; copy what is kept); NULL: events may
 * have been missed (the registry restarted, or the station was away longer
 * than the registry remembers): read list_approvals again. */
typedef struct _PpRegistryRemoteWatch PpRegistryRemoteWatch;
typedef void (*PpRegistryRemoteEventFunc) (PpRegistryRemote         *self,
                                           const PpRegistryApproval *approval,
                                           gpointer                  user_data);

/* Watches the registry's events as the registry's user until stopped,
 * from after @last_event_id (NULL: from now). When the session expires the
 * server ends the stream ("event: expired"): the watch signs in again and
 * reconnects with the last event id, and the server sends what came in
 * between, so nothing is lost. A network fault or a refused sign-in is
 * retried after a delay that grows to 10 s. @func runs on the caller's
 * thread-default main context. */
PpRegistryRemoteWatch *pp_registry_remote_watch_events (PpRegistryRemote          *self,
                                                        const char                *last_event_id,
                                                        PpRegistryRemoteEventFunc  func,
                                                        gpointer                   user_data,
                                                        GDestroyNotify             notify);
/* Ends the watch: @func is not called again, @notify is, at once. */
void         pp_registry_remote_watch_stop              (PpRegistryRemoteWatch *watch);
/* The id of the last event received (pass it to a later watch), or NULL. */
const char  *pp_registry_remote_watch_get_last_event_id (PpRegistryRemoteWatch *watch);
/* How many times the stream has been opened (1 until a reconnection). */
guint        pp_registry_remote_watch_get_connections   (PpRegistryRemoteWatch *watch);

G_END_DECLS
