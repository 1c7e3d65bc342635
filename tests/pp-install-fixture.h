/* SPDX-License-Identifier: GPL-3.0-or-later
 *
 * pp-install-fixture.h: what the install tests start from, all real: a
 * store made by `posprov-registry init` (key host on a soft key store, the
 * test PKI's CA_KDH and CA_KRD), alice (field manager) and bob (reviewer),
 * N terminals taken in with their device certificates on record, each a
 * posprov-termsim folder certified by CA_KRD, one merchant, and the program
 * "payapp 3.0.1" for model X1 packed with posprov-tool and uploaded.
 */
#pragma once

#include <gio/gio.h>

#include "pp-termsim-server.h"
#include "pp-test-util.h"

G_BEGIN_DECLS

#define PP_INSTALL_SECRET   "registry key store passphrase"
#define PP_INSTALL_ADMIN_PW PP_TEST_PASSWORD ("adm")
#define PP_INSTALL_ALICE_PW PP_TEST_PASSWORD ("al")
#define PP_INSTALL_BOB_PW   PP_TEST_PASSWORD ("bo")
#define PP_INSTALL_PROGRAM  "payapp"
#define PP_INSTALL_VERSION  "3.0.1"
#define PP_INSTALL_OPERATOR_PW "1234"   /* posprov-termsim's default operator 1 */

typedef struct {
  char *dir;
  char *db;
  char *keys;
  char *pki;
  char *fleet;        /* the terminals' folders: fleet/SERIAL */
  char *package;      /* payapp 3.0.1 */
  char **serials;
  gint64 merchant_id;
  char *mid;
} PpInstallFixture;

/* @n terminals PREFIX0001.. (model X1) */
void   pp_install_fixture_set_up    (PpInstallFixture *f,
                                     const char       *prefix,
                                     guint             n);
void   pp_install_fixture_tear_down (PpInstallFixture *f);
char  *pp_install_fixture_term_dir  (PpInstallFixture *f,
                                     const char       *serial);
/* Runs the binary named by @binary_env (PP_TOOL, PP_REGISTRY) with @args and
 * extra @env ("NAME=value", NULL-terminated); the exit status. */
int    pp_install_fixture_run       (const char         *binary_env,
                                     const char * const *args,
                                     const char * const *env,
                                     char              **out_stdout,
                                     char              **out_stderr);
/* posprov-termsim show --json of @serial's folder. */
JsonNode *pp_install_fixture_show   (PpInstallFixture *f,
                                     const char       *serial);
/* The non-working keys @serial's terminal holds. */
guint  pp_install_fixture_count_keys (PpInstallFixture *f,
                                      const char       *serial,
                                      char            **out_last_kcv);
/* Serves @serial's terminal (or, @serial NULL, the whole fleet: one PORT a
 * terminal in @out_ports) with @extra arguments. */
char  *pp_install_fixture_serve     (PpInstallFixture     *f,
                                     PpTestTermsimServer  *server,
                                     const char           *serial,
                                     const char * const   *extra,
                                     GPtrArray           **out_ports);
/* How many journal entries have @action. */
guint  pp_install_fixture_count_audit (PpInstallFixture *f,
                                       const char       *action);
/* The first column of the first row of @sql on the store, read-only (NULL:
 * no row, or NULL there); a statement that does not compile fails the test. */
char  *pp_install_fixture_sql_text   (PpInstallFixture *f,
                                      const char       *sql);

G_END_DECLS
