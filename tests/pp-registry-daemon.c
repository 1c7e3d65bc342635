/* SPDX-License-Identifier: GPL-3.0-or-later
 *
 * pp-registry-daemon.c: the real posprov-registry for tests.
 */
#include "config.h"

#include <signal.h>
#include <string.h>
#include <sys/prctl.h>

#include "pp-registry-daemon.h"

void
pp_test_openssl (const char *dir,
                 const char *args)
{
  g_autofree char *command = g_strdup_printf ("openssl %s", args);
  g_auto(GStrv) argv = NULL;
  g_autofree char *err = NULL;
  g_autoptr(GError) error = NULL;
  int status;

  g_assert_true (g_shell_parse_argv (command, NULL, &argv, &error));
  g_assert_true (g_spawn_sync (dir, argv, NULL, G_SPAWN_SEARCH_PATH | G_SPAWN_STDOUT_TO_DEV_NULL, NULL,
                               NULL, NULL, &err, &status, &error));
  if (!g_spawn_check_wait_status (status, NULL))
    g_error ("openssl %s: %s", args, err);
}

void
pp_test_make_ca (const char *dir,
                 const char *ca)
{
  g_autofree char *args = g_strdup_printf (
    "req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout %s.key -out %s.pem "
    "-days 2 -subj /CN=%s -addext basicConstraints=critical,CA:TRUE "
    "-addext keyUsage=critical,keyCertSign,cRLSign", ca, ca, ca);

  pp_test_openssl (dir, args);
}

void
pp_test_make_server_cert (const char *dir,
                          const char *name,
                          const char *ca)
{
  g_autofree char *ext = g_build_filename (dir, "server.ext", NULL);
  g_autofree char *req = g_strdup_printf (
    "req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout %s.key -out %s.csr "
    "-subj /CN=127.0.0.1", name, name);
  g_autofree char *sign = g_strdup_printf (
    "x509 -req -in %s.csr -CA %s.pem -CAkey %s.key -set_serial 0x%08x -days 2 -out %s.pem "
    "-extfile server.ext", name, ca, ca, g_random_int (), name);

  if (!g_file_test (ext, G_FILE_TEST_EXISTS))
    g_assert_true (g_file_set_contents (ext, "subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\n"
                                             "extendedKeyUsage=serverAuth\n", -1, NULL));
  pp_test_openssl (dir, req);
  pp_test_openssl (dir, sign);
}

/* The daemon goes with the test, even when an assertion ends it. */
static void
die_with_test (gpointer data)
{
  prctl (PR_SET_PDEATHSIG, SIGTERM);
}

void
pp_registry_daemon_start (PpRegistryDaemon   *daemon,
                          const char         *db_path,
                          guint               port,
                          const char         *cert_pem,
                          const char         *key_pem,
                          const char         *key_store,
                          const char         *key_store_secret,
                          const char * const *extra_args)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GDataInputStream) out = NULL;
  g_autoptr(GSubprocessLauncher) launcher = NULL;
  g_autofree char *line = NULL;
  g_autofree char *listen = g_strdup_printf ("127.0.0.1:%u", port);
  g_autoptr(GPtrArray) argv = g_ptr_array_new ();
  const char *prefix = "listening on https://127.0.0.1:";

  g_assert_null (daemon->process);
  g_ptr_array_add (argv, (gpointer) g_getenv ("PP_REGISTRY"));
  g_assert_nonnull (argv->pdata[0]);
  g_ptr_array_add (argv, (gpointer) "serve");
  g_ptr_array_add (argv, (gpointer) "--db");
  g_ptr_array_add (argv, (gpointer) db_path);
  g_ptr_array_add (argv, (gpointer) "--listen");
  g_ptr_array_add (argv, listen);
  g_ptr_array_add (argv, (gpointer) "--tls-cert");
  g_ptr_array_add (argv, (gpointer) cert_pem);
  g_ptr_array_add (argv, (gpointer) "--tls-key");
  g_ptr_array_add (argv, (gpointer) key_pem);
  g_ptr_array_add (argv, (gpointer) "--key-store");
  g_ptr_array_add (argv, (gpointer) key_store);
  g_ptr_array_add (argv, (gpointer) "--login-delay");
  g_ptr_array_add (argv, (gpointer) "0");
  for (guint i = 0; extra_args != NULL && extra_args[i] != NULL; i++)
    g_ptr_array_add (argv, (gpointer) extra_args[i]);
  g_ptr_array_add (argv, NULL);

  launcher = g_subprocess_launcher_new (G_SUBPROCESS_FLAGS_STDOUT_PIPE);
  g_subprocess_launcher_set_child_setup (launcher, die_with_test, NULL, NULL);
  g_subprocess_launcher_setenv (launcher, "POSPROV_KEY_STORE_SECRET", key_store_secret, TRUE);
  daemon->process = g_subprocess_launcher_spawnv (launcher, (const char * const *) argv->pdata, &error);
  g_assert_no_error (error);
  out = g_data_input_stream_new (g_subprocess_get_stdout_pipe (daemon->process));
  line = g_data_input_stream_read_line (out, NULL, NULL, &error);
  g_assert_no_error (error);
  g_assert_nonnull (line);
  g_assert_true (g_str_has_prefix (line, prefix));
  daemon->port = (guint) g_ascii_strtoull (line + strlen (prefix), NULL, 10);
  g_assert_cmpuint (daemon->port, >, 0);
  g_free (daemon->url);
  daemon->url = g_strdup_printf ("https://127.0.0.1:%u", daemon->port);
}

void
pp_registry_daemon_stop (PpRegistryDaemon *daemon)
{
  g_autoptr(GError) error = NULL;

  if (daemon->process == NULL)
    return;
  g_subprocess_send_signal (daemon->process, SIGTERM);
  g_subprocess_wait (daemon->process, NULL, &error);
  g_assert_no_error (error);
  g_clear_object (&daemon->process);
}

void
pp_registry_daemon_clear (PpRegistryDaemon *daemon)
{
  pp_registry_daemon_stop (daemon);
  g_clear_pointer (&daemon->url, g_free);
}
