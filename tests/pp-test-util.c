/* SPDX-License-Identifier: GPL-3.0-or-later
 *
 * pp-test-util.c: shared test helpers.
 */
#include "config.h"

#include <string.h>
#include <unistd.h>
#include <sys/wait.h>

#include <glib/gstdio.h>
#include <gio/gio.h>

#include "pp-test-util.h"

/* The vectors live in the repository (tests/vectors), found through
 * G_TEST_SRCDIR like every other distributed test file; a missing file or
 * an empty case list is a failure, never a skip, so a clone without them
 * cannot pass. */
char *
pp_test_vector_path (const char *relative)
{
  g_autofree char *path = g_test_build_filename (G_TEST_DIST, "vectors", relative, NULL);

  if (!g_file_test (path, G_FILE_TEST_IS_REGULAR))
    g_error ("public vector %s is missing (tests/vectors/%s): the vector tests need it",
             path, relative);

  return g_steal_pointer (&path);
}

JsonArray *
pp_test_vector_cases (const char  *relative,
                      JsonParser **out_parser)
{
  g_autofree char *path = pp_test_vector_path (relative);
  g_autoptr(JsonParser) parser = NULL;
  g_autoptr(GError) error = NULL;
  JsonObject *root;
  JsonArray *cases;

  parser = json_parser_new ();
  json_parser_load_from_file (parser, path, &error);
  g_assert_no_error (error);

  root = json_node_get_object (json_parser_get_root (parser));
  g_assert_nonnull (root);
  g_assert_true (json_object_has_member (root, "cases"));
  cases = json_object_get_array_member (root, "cases");
  if (cases == NULL || json_array_get_length (cases) == 0)
    g_error ("public vector %s has no case", path);

  *out_parser = g_steal_pointer (&parser);
  return cases;
}

static GPtrArray *tmpdirs;
static pid_t tmpdirs_owner;  /* the process that made them */

static void
remove_tree (GFile *file)
{
  g_autoptr(GFileEnumerator) e = g_file_enumerate_children (file, G_FILE_ATTRIBUTE_STANDARD_NAME,
                                                            G_FILE_QUERY_INFO_NOFOLLOW_SYMLINKS,
                                                            NULL, NULL);
  if (e != NULL)
    {
      GFileInfo *info;
      while ((info = g_file_enumerator_next_file (e, NULL, NULL)) != NULL)
        {
          g_autoptr(GFile) child = g_file_get_child (file, g_file_info_get_name (info));
          if (g_file_info_get_file_type (info) == G_FILE_TYPE_DIRECTORY)
            remove_tree (child);
          else
            g_file_delete (child, NULL, NULL);
          g_object_unref (info);
        }
    }
  g_file_delete (file, NULL, NULL);
}

static void
cleanup_tmpdirs (void)
{
  /* A child forked by the test (GTestDBus's watcher calls exit()) inherits
   * this handler: the folders are the parent's, and GIO in a forked child
   * of a threaded process can deadlock (it did, under ASan). */
  if (getpid () != tmpdirs_owner)
    return;
  for (guint i = 0; tmpdirs != NULL && i < tmpdirs->len; i++)
    {
      g_autoptr(GFile) f = g_file_new_for_path (g_ptr_array_index (tmpdirs, i));
      remove_tree (f);
    }
  g_clear_pointer (&tmpdirs, g_ptr_array_unref);
}

char *
pp_test_make_tmpdir (void)
{
  g_autoptr(GError) error = NULL;
  char *dir = g_dir_make_tmp ("posprov-test-XXXXXX", &error);

  g_assert_no_error (error);
  if (tmpdirs == NULL)
    {
      tmpdirs = g_ptr_array_new_with_free_func (g_free);
      tmpdirs_owner = getpid ();
      atexit (cleanup_tmpdirs);
    }
  g_ptr_array_add (tmpdirs, g_strdup (dir));

  return dir;
}

int
pp_test_run_tool (const char * const *argv,
                  const char         *stdin_text,
                  char              **out_stdout,
                  char              **out_stderr)
{
  const char *tool = g_getenv ("PP_TOOL");
  g_autoptr(GPtrArray) args = g_ptr_array_new ();
  g_autoptr(GSubprocess) proc = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *out = NULL;
  g_autofree char *err = NULL;
  GSubprocessFlags flags = G_SUBPROCESS_FLAGS_STDOUT_PIPE | G_SUBPROCESS_FLAGS_STDERR_PIPE;

  g_assert_nonnull (tool);
  g_ptr_array_add (args, (char *) tool);
  for (guint i = 0; argv[i] != NULL; i++)
    g_ptr_array_add (args, (char *) argv[i]);
  g_ptr_array_add (args, NULL);

  if (stdin_text != NULL)
    flags |= G_SUBPROCESS_FLAGS_STDIN_PIPE;

  proc = g_subprocess_newv ((const char * const *) args->pdata, flags, &error);
  g_assert_no_error (error);
  g_subprocess_communicate_utf8 (proc, stdin_text, NULL, &out, &err, &error);
  g_assert_no_error (error);

  if (out_stdout != NULL)
    *out_stdout = g_steal_pointer (&out);
  if (out_stderr != NULL)
    *out_stderr = g_steal_pointer (&err);

  return g_subprocess_get_if_exited (proc) ? g_subprocess_get_exit_status (proc) : -1;
}

int
pp_test_run_tool_as (const char * const *argv,
                     const char         *user,
                     const char         *password,
                     const char         *ca,
                     char              **out_stdout,
                     char              **out_stderr)
{
  g_autoptr(GSubprocessLauncher) launcher =
    g_subprocess_launcher_new (G_SUBPROCESS_FLAGS_STDOUT_PIPE | G_SUBPROCESS_FLAGS_STDERR_PIPE);
  g_autoptr(GPtrArray) args = g_ptr_array_new ();
  g_autoptr(GSubprocess) proc = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *out = NULL;
  g_autofree char *err = NULL;

  g_assert_nonnull (g_getenv ("PP_TOOL"));
  g_ptr_array_add (args, (char *) g_getenv ("PP_TOOL"));
  for (guint i = 0; argv[i] != NULL; i++)
    g_ptr_array_add (args, (char *) argv[i]);
  g_ptr_array_add (args, NULL);
  g_subprocess_launcher_setenv (launcher, "PP_REGISTRY_USER", user, TRUE);
  g_subprocess_launcher_setenv (launcher, "PP_REGISTRY_PASSWORD", password, TRUE);
  g_subprocess_launcher_unsetenv (launcher, "POSPROV_KEY_STORE");
  if (ca != NULL)
    g_subprocess_launcher_setenv (launcher, "PP_REGISTRY_CA", ca, TRUE);
  else
    g_subprocess_launcher_unsetenv (launcher, "PP_REGISTRY_CA");
  proc = g_subprocess_launcher_spawnv (launcher, (const char * const *) args->pdata, &error);
  g_assert_no_error (error);
  g_subprocess_communicate_utf8 (proc, NULL, NULL, &out, &err, &error);
  g_assert_no_error (error);
  if (out_stdout != NULL)
    *out_stdout = g_steal_pointer (&out);
  if (out_stderr != NULL)
    *out_stderr = g_steal_pointer (&err);
  return g_subprocess_get_if_exited (proc) ? g_subprocess_get_exit_status (proc) : -1;
}

int
pp_test_run_tool_zh_cn (const char * const *argv,
                        char              **out_stderr)
{
  g_autoptr(GSubprocessLauncher) launcher =
    g_subprocess_launcher_new (G_SUBPROCESS_FLAGS_STDOUT_SILENCE | G_SUBPROCESS_FLAGS_STDERR_PIPE);
  g_autofree char *localedir = g_test_build_filename (G_TEST_BUILT, "..", "data", "po", NULL);
  g_autoptr(GPtrArray) args = g_ptr_array_new ();
  g_autoptr(GSubprocess) proc = NULL;
  g_autoptr(GError) error = NULL;

  g_assert_nonnull (g_getenv ("PP_TOOL"));
  g_subprocess_launcher_setenv (launcher, "LANGUAGE", "zh_CN", TRUE);
  g_subprocess_launcher_setenv (launcher, "PP_LOCALEDIR", localedir, TRUE);
  g_ptr_array_add (args, (char *) g_getenv ("PP_TOOL"));
  for (guint i = 0; argv[i] != NULL; i++)
    g_ptr_array_add (args, (char *) argv[i]);
  g_ptr_array_add (args, NULL);

  proc = g_subprocess_launcher_spawnv (launcher, (const char * const *) args->pdata, &error);
  g_assert_no_error (error);
  g_subprocess_communicate_utf8 (proc, NULL, NULL, NULL, out_stderr, &error);
  g_assert_no_error (error);
  g_test_message ("stderr: %s", *out_stderr);
  return g_subprocess_get_if_exited (proc) ? g_subprocess_get_exit_status (proc) : -1;
}

typedef struct {
  gboolean  done;
  char     *out;
  char     *err;
  GError   *error;
} Communicated;

static void
communicated (GObject      *source,
              GAsyncResult *result,
              gpointer      user_data)
{
  Communicated *c = user_data;

  g_subprocess_communicate_utf8_finish (G_SUBPROCESS (source), result, &c->out, &c->err,
                                        &c->error);
  c->done = TRUE;
}

int
pp_test_run_tool_timeout (const char * const *argv,
                          guint               timeout_seconds,
                          char              **out_stdout,
                          char              **out_stderr)
{
  const char *tool = g_getenv ("PP_TOOL");
  g_autoptr(GPtrArray) args = g_ptr_array_new ();
  g_autoptr(GSubprocess) proc = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(GMainContext) context = g_main_context_new ();
  Communicated c = { FALSE, NULL, NULL, NULL };
  gint64 deadline = g_get_monotonic_time () + timeout_seconds * G_USEC_PER_SEC;
  gboolean timed_out = FALSE;

  g_assert_nonnull (tool);
  g_ptr_array_add (args, (char *) tool);
  for (guint i = 0; argv[i] != NULL; i++)
    g_ptr_array_add (args, (char *) argv[i]);
  g_ptr_array_add (args, NULL);

  g_main_context_push_thread_default (context);
  proc = g_subprocess_newv ((const char * const *) args->pdata,
                            G_SUBPROCESS_FLAGS_STDOUT_PIPE | G_SUBPROCESS_FLAGS_STDERR_PIPE, &error);
  g_assert_no_error (error);
  g_subprocess_communicate_utf8_async (proc, NULL, NULL, communicated, &c);
  while (!c.done)
    {
      if (!timed_out && g_get_monotonic_time () > deadline)
        {
          timed_out = TRUE;
          g_subprocess_force_exit (proc);
        }
      if (!g_main_context_iteration (context, FALSE))
        g_usleep (10 * 1000);
    }
  g_main_context_pop_thread_default (context);
  g_assert_no_error (c.error);

  if (out_stdout != NULL)
    *out_stdout = g_steal_pointer (&c.out);
  if (out_stderr != NULL)
    *out_stderr = g_steal_pointer (&c.err);
  g_free (c.out);
  g_free (c.err);

  if (timed_out)
    return -2;
  g_subprocess_wait (proc, NULL, NULL);
  return g_subprocess_get_if_exited (proc) ? g_subprocess_get_exit_status (proc) : -1;
}

int
pp_test_run_program (const char         *binary_env,
                     const char * const *args,
                     const char * const *env,
                     const char         *key_store_secret,
                     char              **out_stdout,
                     char              **out_stderr)
{
  g_autoptr(GPtrArray) argv = g_ptr_array_new ();
  g_auto(GStrv) envp = g_get_environ ();
  g_autoptr(GError) error = NULL;
  g_autofree char *out = NULL, *err = NULL;
  const char *binary = g_getenv (binary_env);
  int status = 0;

  g_assert_nonnull (binary);
  g_ptr_array_add (argv, (gpointer) binary);
  for (guint i = 0; args[i] != NULL; i++)
    g_ptr_array_add (argv, (gpointer) args[i]);
  g_ptr_array_add (argv, NULL);
  envp = g_environ_unsetenv (envp, "PP_REGISTRY_USER");
  envp = g_environ_unsetenv (envp, "PP_REGISTRY_PASSWORD");
  envp = g_environ_setenv (envp, "POSPROV_KEY_STORE_SECRET", key_store_secret, TRUE);
  for (guint i = 0; env != NULL && env[i] != NULL; i++)
    {
      const char *eq = strchr (env[i], '=');
      g_autofree char *name = eq != NULL ? g_strndup (env[i], eq - env[i]) : g_strdup (env[i]);

      envp = eq != NULL ? g_environ_setenv (envp, name, eq + 1, TRUE) : g_environ_unsetenv (envp, name);
    }
  g_spawn_sync (NULL, (char **) argv->pdata, envp, G_SPAWN_DEFAULT, NULL, NULL, &out, &err, &status, &error);
  g_assert_no_error (error);
  if (g_test_verbose ())
    g_printerr ("$ %s %s\n%s%s", binary_env, args[0], out, err);
  if (out_stdout != NULL)
    *out_stdout = g_steal_pointer (&out);
  if (out_stderr != NULL)
    *out_stderr = g_steal_pointer (&err);
  return g_spawn_check_wait_status (status, NULL) ? 0 : (WIFEXITED (status) ? WEXITSTATUS (status) : -1);
}
