/* SPDX-License-Identifier: GPL-3.0-or-later
 *
 * pp-registry-server.h: the registry's HTTP/JSON API over TLS
 * (docs/registry-api.md), a libsoup 3 server on top of any PpRegistry
 * (posprov-registry serve puts a PpRegistryLocal under it). Every route
 * calls the registry's async verbs, so the main loop never waits on the
 * store or the key host. Sessions (bearer tokens) live in memory.
 */
#pragma once

#include <gio/gio.h>

#include "pp-registry.h"

G_BEGIN_DECLS

/* One route as served: method, path pattern ({name} is one segment) and
 * the roles allowed ("any" for every signed-in role, "none" for no
 * session), comma separated. */
typedef struct {
  const char *method;
  const char *path;
  const char *roles;
} PpRegistryRoute;

/* Bodies over these sizes are refused (413) before they are read. */
#define PP_REGISTRY_SERVER_BODY_MAX   (1024 * 1024)
#define PP_REGISTRY_SERVER_PROGRAM_MAX (16 * 1024 * 1024)   /* POST /api/v1/programs */
#define PP_REGISTRY_SERVER_DEFAULT_SESSION_SECONDS (15 * 60)
#define PP_REGISTRY_SERVER_DEFAULT_LOGIN_DELAY_MS  1000
/* Failed sign-ins of one user name within the window before 429. */
#define PP_REGISTRY_SERVER_LOGIN_FAILURES_MAX      5
#define PP_REGISTRY_SERVER_LOGIN_WINDOW_SECONDS    (15 * 60)
/* The events a reconnecting client can catch up on (GET /api/v1/events with
 * Last-Event-ID); an older id gets "event: reset". */
#define PP_REGISTRY_SERVER_EVENT_LOG               1024

#define PP_TYPE_REGISTRY_SERVER (pp_registry_server_get_type ())
G_DECLARE_FINAL_TYPE (PpRegistryServer, pp_registry_server, PP, REGISTRY_SERVER, GObject)

/* @certificate: the server's certificate with its private key. */
PpRegistryServer      *pp_registry_server_new      (PpRegistry        *registry,
                                                    GTlsCertificate   *certificate);
/* How long a token lasts (seconds, > 0), and how long a failed sign-in
 * waits before it is answered (milliseconds). Set before listening. */
void                   pp_registry_server_set_session_lifetime (PpRegistryServer *self,
                                                                guint             seconds);
void                   pp_registry_server_set_login_delay      (PpRegistryServer *self,
                                                                guint             milliseconds);
/* The certificates (X509 *, referenced) a program package's signer must
 * chain to for an upload; without them uploads are refused (503). */
void                   pp_registry_server_set_program_trust    (PpRegistryServer *self,
                                                                GPtrArray        *trust);
/* Requires every client to present a TLS certificate that @client_cas
 * (the CAs of the stations' certificates) verifies; NULL: none asked
 * (the default). Set before listening. */
void                   pp_registry_server_require_client_certificates (PpRegistryServer *self,
                                                                       GTlsDatabase     *client_cas);
/* Listens with TLS on @address (port 0: a free one); *out_port (optional)
 * gets the port. */
gboolean               pp_registry_server_listen   (PpRegistryServer  *self,
                                                    GInetSocketAddress *address,
                                                    guint             *out_port,
                                                    GError           **error);
/* The routes served, for the OpenAPI check; @n_routes gets their number. */
const PpRegistryRoute *pp_registry_server_get_routes (guint           *n_routes);

G_END_DECLS
