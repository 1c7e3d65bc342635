/* SPDX-License-Identifier: GPL-3.0-or-later
 *
 * pp-termsim-server.c: the real posprov-termsim for tests (see the header).
 */
#include "config.h"

#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>

#include <gio/gunixinputstream.h>

#include "pp-termsim-server.h"

const char *
pp_test_termsim_path (void)
{
  const char *path = g_getenv ("PP_TERMSIM");

  g_assert_nonnull (path);
  return path;
}

int
pp_test_run_termsim (const char * const  *args,
                     char               **out_stdout,
                     char               **out_stderr)
{
  g_autoptr(GPtrArray) argv = g_ptr_array_new ();
  g_autoptr(GError) error = NULL;
  int status = 0;

  g_ptr_array_add (argv, (gpointer) pp_test_termsim_path ());
  for (guint i = 0; args[i] != NULL; i++)
    g_ptr_array_add (argv, (gpointer) args[i]);
  g_ptr_array_add (argv, NULL);
  g_assert_true (g_spawn_sync (NULL, (char **) argv->pdata, NULL, G_SPAWN_DEFAULT, NULL, NULL,
                               out_stdout, out_stderr, &status, &error));
  g_assert_no_error (error);
  return WIFEXITED (status) ? WEXITSTATUS (status) : -1;
}

void
pp_test_die_with_parent (gpointer data)
{
  prctl (PR_SET_PDEATHSIG, SIGKILL);
}

char *
pp_test_termsim_start (PpTestTermsimServer *server,
                       const char          *dir,
                       const char          *extra)
{
  const char *argv[] = { pp_test_termsim_path (), "serve", "--dir", dir, "--tcp", "127.0.0.1:0", extra, NULL };
  g_autoptr(GError) error = NULL;
  int out_fd = -1;
  char *line;

  g_assert_true (g_spawn_async_with_pipes (NULL, (char **) argv, NULL, G_SPAWN_DO_NOT_REAP_CHILD, pp_test_die_with_parent,
                                           NULL, &server->pid, NULL, &out_fd, NULL, &error));
  g_assert_no_error (error);
  server->out = g_unix_input_stream_new (out_fd, TRUE);
  server->lines = g_data_input_stream_new (server->out);
  line = g_data_input_stream_read_line_utf8 (server->lines, NULL, NULL, &error);
  g_assert_no_error (error);
  g_assert_nonnull (line);
  g_assert_true (g_str_has_prefix (line, "tcp:127.0.0.1:"));
  return line;
}

char *
pp_test_termsim_start_args (PpTestTermsimServer *server,
                            const char          *dir,
                            const char * const  *args)
{
  g_autoptr(GPtrArray) argv = g_ptr_array_new ();
  g_autoptr(GError) error = NULL;
  int out_fd = -1;
  char *line;

  g_ptr_array_add (argv, (gpointer) pp_test_termsim_path ());
  g_ptr_array_add (argv, (gpointer) "serve");
  g_ptr_array_add (argv, (gpointer) "--dir");
  g_ptr_array_add (argv, (gpointer) dir);
  for (guint i = 0; args[i] != NULL; i++)
    g_ptr_array_add (argv, (gpointer) args[i]);
  g_ptr_array_add (argv, NULL);
  g_assert_true (g_spawn_async_with_pipes (NULL, (char **) argv->pdata, NULL, G_SPAWN_DO_NOT_REAP_CHILD,
                                           pp_test_die_with_parent, NULL, &server->pid, NULL, &out_fd, NULL,
                                           &error));
  g_assert_no_error (error);
  server->out = g_unix_input_stream_new (out_fd, TRUE);
  server->lines = g_data_input_stream_new (server->out);
  line = g_data_input_stream_read_line_utf8 (server->lines, NULL, NULL, &error);
  g_assert_no_error (error);
  g_assert_nonnull (line);
  g_assert_true (g_str_has_prefix (line, "tcp:127.0.0.1:") || g_str_has_prefix (line, "/dev/pts/"));
  return line;
}

void
pp_test_termsim_stop (PpTestTermsimServer *server)
{
  int status = 0;

  kill (server->pid, SIGTERM);
  g_assert_cmpint (waitpid (server->pid, &status, 0), ==, server->pid);
  g_assert_true (WIFEXITED (status));
  g_assert_cmpint (WEXITSTATUS (status), ==, 0);
  g_spawn_close_pid (server->pid);
  g_clear_object (&server->lines);
  g_clear_object (&server->out);
}
