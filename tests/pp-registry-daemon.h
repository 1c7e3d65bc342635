/* SPDX-License-Identifier: GPL-3.0-or-later
 *
 * pp-registry-daemon.h: the real posprov-registry for tests: a test CA
 * and server certificates for 127.0.0.1 made with the openssl command,
 * and `posprov-registry serve` on 127.0.0.1 (port 0: a free one), going
 * with the test process.
 */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

/* Runs `openssl @args` in @dir; the test fails with openssl's words. */
void         pp_test_openssl            (const char *dir,
                                         const char *args);
/* A CA @ca (@ca.pem, @ca.key) in @dir. */
void         pp_test_make_ca            (const char *dir,
                                         const char *ca);
/* A server certificate @name.pem/@name.key for 127.0.0.1 under @ca. */
void         pp_test_make_server_cert   (const char *dir,
                                         const char *name,
                                         const char *ca);

typedef struct {
  GSubprocess *process;
  guint        port;
  char        *url;    /* https://127.0.0.1:PORT */
} PpRegistryDaemon;

/* Starts `posprov-registry serve --db @db_path --listen 127.0.0.1:@port`
 * with @cert_pem/@key_pem, the soft key store @key_store (its secret
 * @key_store_secret), no login delay, and @extra_args (NULL-terminated,
 * nullable); waits for its "listening on" line. */
void         pp_registry_daemon_start   (PpRegistryDaemon   *daemon,
                                         const char         *db_path,
                                         guint               port,
                                         const char         *cert_pem,
                                         const char         *key_pem,
                                         const char         *key_store,
                                         const char         *key_store_secret,
                                         const char * const *extra_args);
/* SIGTERM and waits; nothing when not running. */
void         pp_registry_daemon_stop    (PpRegistryDaemon   *daemon);
void         pp_registry_daemon_clear   (PpRegistryDaemon   *daemon);

G_END_DECLS
