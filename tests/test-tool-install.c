/* SPDX-License-Identifier: GPL-3.0-or-later
 *
 * test-tool-install.c: `posprov-tool install` and `posprov-tool recycle`
 * end to end as their real binaries: against a store made by
 * `posprov-registry init` (--db) and against the real posprov-registry
 * daemon over HTTPS on 127.0.0.1 (--registry), the real posprov-termsim
 * over TCP, a reviewer approving from another process (`approvals
 * approve`); --batch with 8 terminals at once; recycle of an installed one,
 * which waits for its own approval: alice cannot approve it herself, no
 * UBT_KDH goes out before bob does.
 */
#include "config.h"

#include <signal.h>
#include <string.h>
#include <sys/prctl.h>

#include <glib/gstdio.h>

#include "pp-install-fixture.h"
#include "pp-store.h"

typedef struct {
  PpInstallFixture base;
  PpTestTermsimServer server;
  gboolean serving;
  GSubprocess *daemon;
  char *url;
  char *ca;
} Fixture;

static void
fixture_set_up_n (Fixture *f,
                  guint    n)
{
  pp_install_fixture_set_up (&f->base, "PP", n);
}

static void
fixture_set_up (Fixture       *f,
                gconstpointer  data)
{
  fixture_set_up_n (f, GPOINTER_TO_UINT (data));
}

static void
fixture_tear_down (Fixture       *f,
                   gconstpointer  data)
{
  if (f->serving)
    pp_test_termsim_stop (&f->server);
  if (f->daemon != NULL)
    {
      g_subprocess_send_signal (f->daemon, SIGTERM);
      g_subprocess_wait (f->daemon, NULL, NULL);
      g_clear_object (&f->daemon);
    }
  g_free (f->url);
  g_free (f->ca);
  pp_install_fixture_tear_down (&f->base);
}

/* ---- the tool as a process ---- */

static void
die_with_test (gpointer data)
{
  prctl (PR_SET_PDEATHSIG, SIGTERM);
}

static GSubprocessLauncher *
launcher_as (Fixture    *f,
             const char *user,
             const char *password)
{
  GSubprocessLauncher *l = g_subprocess_launcher_new (G_SUBPROCESS_FLAGS_STDOUT_PIPE | G_SUBPROCESS_FLAGS_STDERR_PIPE);

  g_subprocess_launcher_set_child_setup (l, die_with_test, NULL, NULL);
  g_subprocess_launcher_setenv (l, "PP_REGISTRY_USER", user, TRUE);
  g_subprocess_launcher_setenv (l, "PP_REGISTRY_PASSWORD", password, TRUE);
  g_subprocess_launcher_setenv (l, "POSPROV_KEY_STORE", f->base.keys, TRUE);
  g_subprocess_launcher_setenv (l, "POSPROV_KEY_STORE_SECRET", PP_INSTALL_SECRET, TRUE);
  g_subprocess_launcher_setenv (l, "POSPROV_OPERATOR_PASSWORD", PP_INSTALL_OPERATOR_PW, TRUE);
  if (f->ca != NULL)
    g_subprocess_launcher_setenv (l, "PP_REGISTRY_CA", f->ca, TRUE);
  return l;
}

/* The registry options: --registry URL when the daemon runs, else --db. */
static void
add_registry (Fixture   *f,
              GPtrArray *argv)
{
  g_ptr_array_add (argv, (gpointer) (f->url != NULL ? "--registry" : "--db"));
  g_ptr_array_add (argv, f->url != NULL ? f->url : f->base.db);
}

/* The tool as @user; @stdin_pipe: its stdin a pipe (else the test's). */
static GSubprocess *
spawn_tool_full (Fixture            *f,
                 const char         *user,
                 const char         *password,
                 const char * const *args,
                 gboolean            stdin_pipe)
{
  g_autoptr(GSubprocessLauncher) l = launcher_as (f, user, password);
  g_autoptr(GPtrArray) argv = g_ptr_array_new ();
  g_autoptr(GError) error = NULL;
  GSubprocess *p;

  if (stdin_pipe)
    g_subprocess_launcher_set_flags (l, G_SUBPROCESS_FLAGS_STDIN_PIPE | G_SUBPROCESS_FLAGS_STDOUT_PIPE |
                                        G_SUBPROCESS_FLAGS_STDERR_PIPE);
  g_ptr_array_add (argv, (gpointer) g_getenv ("PP_TOOL"));
  for (guint i = 0; args[i] != NULL; i++)
    g_ptr_array_add (argv, (gpointer) args[i]);
  add_registry (f, argv);
  g_ptr_array_add (argv, NULL);
  p = g_subprocess_launcher_spawnv (l, (const char * const *) argv->pdata, &error);
  g_assert_no_error (error);
  return p;
}

static GSubprocess *
spawn_tool (Fixture            *f,
            const char         *user,
            const char         *password,
            const char * const *args)
{
  return spawn_tool_full (f, user, password, args, FALSE);
}

/* Writes @input (or nothing) to @p's stdin, waits for it; its exit
 * status, output in @out_stdout and @out_stderr. */
static int
finish_with_input (GSubprocess  *p,
                   const char   *input,
                   char        **out_stdout,
                   char        **out_stderr)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *out = NULL, *err = NULL;

  g_assert_true (g_subprocess_communicate_utf8 (p, input, NULL, &out, &err, &error));
  g_assert_no_error (error);
  if (g_test_verbose ())
    g_printerr ("%s%s", out, err);
  if (out_stdout != NULL)
    *out_stdout = g_steal_pointer (&out);
  if (out_stderr != NULL)
    *out_stderr = g_steal_pointer (&err);
  return g_subprocess_get_if_exited (p) ? g_subprocess_get_exit_status (p) : -1;
}

static int
finish (GSubprocess  *p,
        char        **out_stdout,
        char        **out_stderr)
{
  return finish_with_input (p, NULL, out_stdout, out_stderr);
}

static int
tool (Fixture             *f,
      const char          *user,
      const char          *password,
      const char * const  *args,
      char               **out_stdout,
      char               **out_stderr)
{
  g_autoptr(GSubprocess) p = spawn_tool (f, user, password, args);

  return finish (p, out_stdout, out_stderr);
}

/* Reads @p's stderr until it asks for a reviewer; returns the approval id.
 * What it printed before is appended to @log. */
static char *
wait_for_request (GDataInputStream *err,
                  GString          *log)
{
  const char *marker = "approvals approve ";

  for (;;)
    {
      g_autoptr(GError) error = NULL;
      g_autofree char *line = g_data_input_stream_read_line_utf8 (err, NULL, NULL, &error);
      const char *at;

      g_assert_no_error (error);
      if (line == NULL)
        g_error ("the install ended without asking for a reviewer:\n%s", log->str);
      g_string_append_printf (log, "%s\n", line);
      if ((at = strstr (line, marker)) != NULL)
        return g_strndup (at + strlen (marker), 36);
    }
}

/* bob approves from another process. */
static void
approve (Fixture    *f,
         const char *approval)
{
  const char *args[] = { "approvals", "approve", approval, "--reason", "checked on the phone", NULL };
  g_autofree char *err = NULL;

  g_assert_cmpint (tool (f, "bob", PP_INSTALL_BOB_PW, args, NULL, &err), ==, 0);
}

static JsonNode *
parse (const char *text)
{
  g_autoptr(GError) error = NULL;
  JsonNode *node = json_from_string (text, &error);

  g_assert_no_error (error);
  g_assert_nonnull (node);
  return node;
}

static PpStore *
open_store (Fixture *f)
{
  g_autoptr(GError) error = NULL;
  PpStore *store = pp_store_open_existing (f->base.db, &error);

  g_assert_no_error (error);
  return store;
}

static void
assert_installed (Fixture    *f,
                  JsonObject *o,
                  const char *serial)
{
  g_autoptr(PpStore) store = open_store (f);
  g_autoptr(GError) error = NULL;
  g_autoptr(PpTerminal) terminal = pp_store_get_terminal (store, serial, &error);
  g_autofree char *held = NULL;

  g_assert_no_error (error);
  g_assert_cmpstr (json_object_get_string_member (o, "serial"), ==, serial);
  g_assert_cmpstr (json_object_get_string_member (o, "state"), ==, "closed");
  g_assert_cmpstr (json_object_get_string_member (o, "program"), ==, PP_INSTALL_PROGRAM " " PP_INSTALL_VERSION);
  g_assert_cmpstr (json_object_get_string_member (o, "mid"), ==, f->base.mid);
  g_assert_cmpuint (strlen (json_object_get_string_member (o, "tid")), ==, 8);
  g_assert_true (g_uuid_string_is_valid (json_object_get_string_member (o, "order")));
  g_assert_cmpint (pp_terminal_get_state (terminal), ==, PP_TERMINAL_STATE_INSTALLED);
  g_assert_cmpuint (pp_install_fixture_count_keys (&f->base, serial, &held), ==, 1);
  g_assert_cmpstr (held, ==, json_object_get_string_member (o, "kcv"));
}

/* One install, alice on the station, bob approving from another process. */
static char *
install_one (Fixture *f)
{
  const char *serial = f->base.serials[0];
  char *port = pp_install_fixture_serve (&f->base, &f->server, serial, NULL, NULL);
  g_autofree char *merchant = g_strdup_printf ("%" G_GINT64_FORMAT, f->base.merchant_id);
  const char *args[] = { "install", "--serial", serial, "--merchant-id", merchant,
                         "--program", PP_INSTALL_PROGRAM " " PP_INSTALL_VERSION, "--port", port,
                         "--operator", "1", "--json", NULL };
  g_autoptr(GSubprocess) p = NULL;
  g_autoptr(GDataInputStream) err_lines = NULL;
  g_autoptr(GString) log = g_string_new (NULL);
  g_autoptr(JsonNode) result = NULL;
  g_autofree char *approval = NULL, *out = NULL, *err = NULL;

  f->serving = TRUE;
  p = spawn_tool (f, "alice", PP_INSTALL_ALICE_PW, args);
  err_lines = g_data_input_stream_new (g_subprocess_get_stderr_pipe (p));
  approval = wait_for_request (err_lines, log);
  g_assert_true (g_uuid_string_is_valid (approval));
  approve (f, approval);
  g_assert_cmpint (finish (p, &out, &err), ==, 0);
  /* progress went to stderr, step by step */
  g_string_append (log, err);
  g_assert_nonnull (strstr (log->str, "check:"));
  g_assert_nonnull (strstr (log->str, "key-load:"));
  g_assert_nonnull (strstr (log->str, "program: 100%"));
  result = parse (out);
  assert_installed (f, json_node_get_object (result), serial);
  return port;
}

static void
test_db (Fixture       *f,
         gconstpointer  data)
{
  g_free (install_one (f));
  g_assert_cmpuint (pp_install_fixture_count_audit (&f->base, "keyhost.sign_on_keys"), ==, 1);
}

/* `recycle` as alice: it waits for a reviewer, printing the approval's id
 * and code; alice approving it herself is refused and, until bob approves,
 * no UBT_KDH went out and the terminal still holds its key. Its output. */
static char *
recycle_one (Fixture     *f,
             const char  *port,
             char       **out_stderr)
{
  const char *serial = f->base.serials[0];
  const char *args[] = { "recycle", serial, "--port", port, "--reason", "merchant closed", "--json", NULL };
  g_autoptr(GSubprocess) p = NULL;
  g_autoptr(GDataInputStream) err_lines = NULL;
  g_autoptr(GString) log = g_string_new (NULL);
  g_autofree char *approval = NULL, *out = NULL, *err = NULL, *self_err = NULL;
  g_autoptr(JsonNode) shown = NULL;

  p = spawn_tool (f, "alice", PP_INSTALL_ALICE_PW, args);
  err_lines = g_data_input_stream_new (g_subprocess_get_stderr_pipe (p));
  approval = wait_for_request (err_lines, log);
  g_assert_true (g_uuid_string_is_valid (approval));
  g_assert_nonnull (strstr (log->str, "(code "));
  {
    const char *self_args[] = { "approvals", "approve", approval, "--reason", "mine", NULL };

    g_assert_cmpint (tool (f, "alice", PP_INSTALL_ALICE_PW, self_args, NULL, &self_err), !=, 0);
    /* the store says why; the service refuses the field manager's role first */
    if (strstr (self_err, "cannot also approve") == NULL && strstr (self_err, "needs the role reviewer") == NULL)
      g_error ("self-approval: %s", self_err);
  }
  g_assert_cmpuint (pp_install_fixture_count_audit (&f->base, "keyhost.ubt_kdh"), ==, 0);
  g_assert_cmpuint (pp_install_fixture_count_keys (&f->base, serial, NULL), ==, 1);
  shown = pp_install_fixture_show (&f->base, serial);
  g_assert_false (json_node_is_null (json_object_get_member (json_node_get_object (shown), "bound_kdh")));
  approve (f, approval);
  g_assert_cmpint (finish (p, &out, &err), ==, 0);
  g_string_append (log, err);
  if (out_stderr != NULL)
    *out_stderr = g_strdup (log->str);
  return g_steal_pointer (&out);
}

/* Installed, then back: approved, released from the key host, erased, in stock. */
static void
test_recycle (Fixture       *f,
              gconstpointer  data)
{
  const char *serial = f->base.serials[0];
  g_autofree char *port = install_one (f);
  const char *args[] = { "recycle", serial, "--port", port, "--reason", "merchant closed", "--json", NULL };
  g_autofree char *out = NULL, *err = NULL;
  g_autoptr(JsonNode) result = NULL;
  g_autoptr(JsonNode) shown = NULL;
  g_autoptr(PpStore) store = NULL;
  g_autoptr(PpTerminal) terminal = NULL;
  g_autoptr(GError) error = NULL;
  JsonObject *o;

  out = recycle_one (f, port, &err);
  g_assert_nonnull (strstr (err, "approval:"));
  g_assert_nonnull (strstr (err, "unbind:"));
  result = parse (out);
  o = json_node_get_object (result);
  g_assert_cmpstr (json_object_get_string_member (o, "state"), ==, "closed");
  g_assert_true (json_object_get_boolean_member (o, "unbound"));
  g_assert_true (json_object_get_boolean_member (o, "zeroized"));
  g_assert_cmpstr (json_object_get_string_member (o, "cleared_mid"), ==, f->base.mid);
  store = open_store (f);
  terminal = pp_store_get_terminal (store, serial, &error);
  g_assert_no_error (error);
  g_assert_cmpint (pp_terminal_get_state (terminal), ==, PP_TERMINAL_STATE_IN_STOCK);
  g_assert_cmpuint (pp_install_fixture_count_keys (&f->base, serial, NULL), ==, 0);
  shown = pp_install_fixture_show (&f->base, serial);
  g_assert_true (json_node_is_null (json_object_get_member (json_node_get_object (shown), "bound_kdh")));
  g_assert_cmpuint (pp_install_fixture_count_audit (&f->base, "keyhost.ubt_kdh"), ==, 1);

  /* Not installed any more: a second recycle is refused, saying why. */
  g_clear_pointer (&err, g_free);
  g_assert_cmpint (tool (f, "alice", PP_INSTALL_ALICE_PW, args, NULL, &err), ==, 1);
  g_assert_nonnull (strstr (err, "not installed"));
}

/* ---- a reviewer signing in on this screen ---- */

/* The tool as alice, the reviewer's name and password piped to its stdin
 * (not a terminal: one line each). */
static int
tool_with_input (Fixture             *f,
                 const char * const  *args,
                 const char          *input,
                 char               **out_stdout,
                 char               **out_stderr)
{
  g_autoptr(GSubprocess) p = spawn_tool_full (f, "alice", PP_INSTALL_ALICE_PW, args, TRUE);
  g_autofree char *out = NULL, *err = NULL;
  int status = finish_with_input (p, input, &out, &err);

  /* the password never shows */
  g_assert_null (strstr (out, PP_INSTALL_BOB_PW));
  g_assert_null (strstr (err, PP_INSTALL_BOB_PW));
  if (out_stdout != NULL)
    *out_stdout = g_steal_pointer (&out);
  if (out_stderr != NULL)
    *out_stderr = g_steal_pointer (&err);
  return status;
}

/* install and recycle with --approve-on-this-screen: bob types his name
 * and password into the tool alice runs; nobody approves from elsewhere.
 * alice typing her own is refused before anything is asked of the registry. */
static void
test_approve_here (Fixture       *f,
                   gconstpointer  data)
{
  const char *serial = f->base.serials[0];
  g_autofree char *port = pp_install_fixture_serve (&f->base, &f->server, serial, NULL, NULL);
  g_autofree char *merchant = g_strdup_printf ("%" G_GINT64_FORMAT, f->base.merchant_id);
  const char *install[] = { "install", "--serial", serial, "--merchant-id", merchant,
                            "--program", PP_INSTALL_PROGRAM " " PP_INSTALL_VERSION, "--port", port,
                            "--approve-on-this-screen", NULL };
  const char *recycle[] = { "recycle", serial, "--port", port, "--reason", "merchant closed",
                            "--approve-on-this-screen", "--json", NULL };
  g_autofree char *bob = g_strdup_printf ("bob\n%s\n", PP_INSTALL_BOB_PW);
  g_autofree char *alice = g_strdup_printf ("alice\n%s\n", PP_INSTALL_ALICE_PW);
  g_autofree char *out = NULL, *err = NULL;
  g_autoptr(JsonNode) result = NULL;
  g_autoptr(PpStore) store = NULL;
  g_autoptr(PpTerminal) terminal = NULL;
  g_autoptr(GError) error = NULL;

  f->serving = TRUE;
  /* alice is no reviewer: refused, no order made */
  g_assert_cmpint (tool_with_input (f, install, alice, &out, &err), ==, 1);
  g_assert_nonnull (strstr (err, "alice is not a reviewer"));
  g_assert_cmpuint (pp_install_fixture_count_audit (&f->base, "approval.request"), ==, 0);
  g_clear_pointer (&out, g_free);
  g_clear_pointer (&err, g_free);

  g_assert_cmpint (tool_with_input (f, install, bob, &out, &err), ==, 0);
  g_assert_nonnull (strstr (err, "Reviewer's user name: "));
  g_assert_nonnull (strstr (out, "approved by bob"));
  g_assert_cmpuint (pp_install_fixture_count_keys (&f->base, serial, NULL), ==, 1);
  g_clear_pointer (&out, g_free);
  g_clear_pointer (&err, g_free);

  g_assert_cmpint (tool_with_input (f, recycle, bob, &out, &err), ==, 0);
  result = parse (out);
  g_assert_cmpstr (json_object_get_string_member (json_node_get_object (result), "state"), ==, "closed");
  g_assert_true (json_object_get_boolean_member (json_node_get_object (result), "unbound"));
  store = open_store (f);
  terminal = pp_store_get_terminal (store, serial, &error);
  g_assert_no_error (error);
  g_assert_cmpint (pp_terminal_get_state (terminal), ==, PP_TERMINAL_STATE_IN_STOCK);
  g_assert_cmpuint (pp_install_fixture_count_keys (&f->base, serial, NULL), ==, 0);
  g_assert_cmpuint (pp_install_fixture_count_audit (&f->base, "keyhost.ubt_kdh"), ==, 1);
  /* one request each, both decided by bob */
  g_assert_cmpuint (pp_install_fixture_count_audit (&f->base, "approval.request"), ==, 2);
}

/* ---- against posprov-registry serve ---- */

static void
openssl (const char *dir,
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

static void
start_daemon (Fixture *f)
{
  g_autofree char *tls = g_build_filename (f->base.dir, "tls", NULL);
  g_autofree char *ext = g_build_filename (tls, "server.ext", NULL);
  g_autofree char *cert = g_build_filename (tls, "server.pem", NULL);
  g_autofree char *key = g_build_filename (tls, "server.key", NULL);
  g_autoptr(GSubprocessLauncher) l = g_subprocess_launcher_new (G_SUBPROCESS_FLAGS_STDOUT_PIPE);
  g_autoptr(GDataInputStream) out = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *line = NULL;
  const char *prefix = "listening on https://127.0.0.1:";
  const char *argv[] = { g_getenv ("PP_REGISTRY"), "serve", "--db", f->base.db, "--listen", "127.0.0.1:0",
                         "--tls-cert", cert, "--tls-key", key, "--key-store", f->base.keys,
                         "--login-delay", "0", NULL };

  g_assert_cmpint (g_mkdir (tls, 0700), ==, 0);
  g_assert_true (g_file_set_contents (ext, "subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\n"
                                           "extendedKeyUsage=serverAuth\n", -1, NULL));
  openssl (tls, "req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout ca.key -out ca.pem "
                "-days 2 -subj /CN=ca -addext basicConstraints=critical,CA:TRUE "
                "-addext keyUsage=critical,keyCertSign,cRLSign");
  openssl (tls, "req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout server.key -out server.csr "
                "-subj /CN=127.0.0.1");
  openssl (tls, "x509 -req -in server.csr -CA ca.pem -CAkey ca.key -set_serial 0x5151 -days 2 "
                "-out server.pem -extfile server.ext");
  f->ca = g_build_filename (tls, "ca.pem", NULL);

  g_subprocess_launcher_set_child_setup (l, die_with_test, NULL, NULL);
  g_subprocess_launcher_setenv (l, "POSPROV_KEY_STORE_SECRET", PP_INSTALL_SECRET, TRUE);
  f->daemon = g_subprocess_launcher_spawnv (l, argv, &error);
  g_assert_no_error (error);
  out = g_data_input_stream_new (g_subprocess_get_stdout_pipe (f->daemon));
  line = g_data_input_stream_read_line (out, NULL, NULL, &error);
  g_assert_no_error (error);
  g_assert_nonnull (line);
  g_assert_true (g_str_has_prefix (line, prefix));
  f->url = g_strdup_printf ("https://127.0.0.1:%s", line + strlen (prefix));
}

static void
test_registry (Fixture       *f,
               gconstpointer  data)
{
  g_autofree char *port = NULL, *out = NULL;
  g_autoptr(JsonNode) result = NULL;

  start_daemon (f);
  port = install_one (f);
  g_assert_cmpuint (pp_install_fixture_count_audit (&f->base, "keyhost.sign_on_keys"), ==, 1);
  /* and back, approved by bob, through the daemon's unbind-token route */
  out = recycle_one (f, port, NULL);
  result = parse (out);
  g_assert_true (json_object_get_boolean_member (json_node_get_object (result), "unbound"));
  g_assert_cmpuint (pp_install_fixture_count_audit (&f->base, "keyhost.ubt_kdh"), ==, 1);
  g_assert_cmpuint (pp_install_fixture_count_keys (&f->base, f->base.serials[0], NULL), ==, 0);
}

/* ---- eight at once ---- */

static void
test_batch (Fixture       *f,
            gconstpointer  data)
{
  guint n = g_strv_length (f->base.serials);
  g_autoptr(GPtrArray) ports = NULL;
  g_autoptr(GString) csv = g_string_new ("serial,merchant_id,program\n");
  g_autoptr(GString) list = g_string_new (NULL);
  g_autofree char *csv_path = g_build_filename (f->base.dir, "orders.csv", NULL);
  g_autoptr(GSubprocess) p = NULL;
  g_autoptr(GDataInputStream) err_lines = NULL;
  g_autoptr(GString) log = g_string_new (NULL);
  g_autoptr(JsonNode) result = NULL;
  g_autofree char *out = NULL, *err = NULL;
  JsonArray *array;

  g_free (pp_install_fixture_serve (&f->base, &f->server, NULL, NULL, &ports));
  f->serving = TRUE;
  for (guint i = 0; i < n; i++)
    {
      g_string_append_printf (csv, "%s,%" G_GINT64_FORMAT ",%s %s\n", f->base.serials[i], f->base.merchant_id,
                              PP_INSTALL_PROGRAM, PP_INSTALL_VERSION);
      g_string_append_printf (list, "%s%s", i > 0 ? "," : "", (const char *) g_ptr_array_index (ports, i));
    }
  g_assert_true (g_file_set_contents (csv_path, csv->str, -1, NULL));
  {
    const char *args[] = { "install", "--batch", csv_path, "--ports", list->str, "--json", NULL };

    p = spawn_tool (f, "alice", PP_INSTALL_ALICE_PW, args);
  }
  /* all eight wait for their approvals at once */
  err_lines = g_data_input_stream_new (g_subprocess_get_stderr_pipe (p));
  for (guint i = 0; i < n; i++)
    {
      g_autofree char *approval = wait_for_request (err_lines, log);

      approve (f, approval);
    }
  g_assert_cmpint (finish (p, &out, &err), ==, 0);
  result = parse (out);
  array = json_node_get_array (result);
  g_assert_cmpuint (json_array_get_length (array), ==, n);
  for (guint i = 0; i < n; i++)
    assert_installed (f, json_array_get_object_element (array, i), f->base.serials[i]);
  g_assert_cmpuint (pp_install_fixture_count_audit (&f->base, "order.key_released"), ==, n);
}

int
main (int    argc,
      char **argv)
{
  g_test_init (&argc, &argv, NULL);

#define ADD(path, n, func) \
  g_test_add (path, Fixture, GUINT_TO_POINTER (n), fixture_set_up, func, fixture_tear_down)
  ADD ("/tool-install/db", 1, test_db);
  ADD ("/tool-install/registry", 1, test_registry);
  ADD ("/tool-install/recycle", 1, test_recycle);
  ADD ("/tool-install/batch", 8, test_batch);
  ADD ("/tool-install/approve-here", 1, test_approve_here);
  return g_test_run ();
}
