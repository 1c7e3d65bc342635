/* SPDX-License-Identifier: GPL-3.0-or-later
 *
 * pp-termsim-server.h: the real posprov-termsim binary (PP_TERMSIM) for
 * tests: run a command, or serve a terminal folder on 127.0.0.1 port 0 and
 * read the PORT it prints. A server dies with the test thread that started
 * it, so a failed test does not hang on its pipes.
 */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

typedef struct {
  GPid              pid;
  GInputStream     *out;
  GDataInputStream *lines;
} PpTestTermsimServer;

const char *pp_test_termsim_path  (void);
/* Exit status of `posprov-termsim ARGS...`; output in @out_stdout/@out_stderr. */
int         pp_test_run_termsim   (const char * const   *args,
                                   char                **out_stdout,
                                   char                **out_stderr);
/* A GSpawnChildSetupFunc: the child gets SIGKILL when the test thread goes. */
void        pp_test_die_with_parent (gpointer data);
/* `serve --dir DIR --tcp 127.0.0.1:0 [EXTRA]`; returns the first PORT printed. */
char       *pp_test_termsim_start (PpTestTermsimServer  *server,
                                   const char           *dir,
                                   const char           *extra);
/* `serve --dir DIR ARGS...` (ARGS: --tcp or --pty and any faults);
 * returns the first PORT printed (tcp:... or /dev/pts/N). */
char       *pp_test_termsim_start_args (PpTestTermsimServer  *server,
                                        const char           *dir,
                                        const char * const   *args);
/* SIGTERM, and the server must exit with status 0. */
void        pp_test_termsim_stop  (PpTestTermsimServer  *server);

G_END_DECLS
