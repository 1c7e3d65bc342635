/* SPDX-License-Identifier: GPL-3.0-or-later
 *
 * posprov-registry: the central registry service (docs/registry-api.md).
 * `init` creates a registry's store (app/registry-init.c); `serve` serves
 * the HTTP/JSON API over TLS on top of the store and its key host until
 * SIGTERM or SIGINT.
 */
#include "config.h"

#include <locale.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include <glib-unix.h>
#include <glib/gi18n.h>

#include "pp-key-host.h"
#include "pp-registry-local.h"
#include "pp-registry-server.h"
#include "registry-commands.h"

#define KEY_STORE_SECRET_ENV "POSPROV_KEY_STORE_SECRET"

typedef struct {
  const char *name;
  int (*main) (int argc, char **argv);
  const char *summary;
} Command;

static const Command commands[] = {
  { "init",  pp_registry_cmd_init,  N_("Create a registry: its store, first administrator and KDH key") },
  { "serve", pp_registry_cmd_serve, N_("Serve the registry's HTTPS API until SIGTERM") },
  { NULL, NULL, NULL }
};

static int
fail_error (const GError *error)
{
  g_autofree char *message = g_strdup (error->message);

  g_strdelimit (message, "\n", ' ');
  fprintf (stderr, "posprov-registry: %s\n", message);
  return 1;
}

static int
fail (const char *message)
{
  fprintf (stderr, "posprov-registry: %s\n", message);
  return 1;
}

/* "ADDR:PORT", "[V6ADDR]:PORT". */
static GInetSocketAddress *
parse_listen (const char  *text,
              GError     **error)
{
  g_autofree char *host = NULL;
  const char *colon = strrchr (text, ':');
  guint64 port;
  GInetSocketAddress *address = NULL;

  if (colon != NULL && g_ascii_string_to_unsigned (colon + 1, 10, 0, 65535, &port, NULL))
    {
      host = g_strndup (text, colon - text);
      if (host[0] == '[' && host[strlen (host) - 1] == ']')
        {
          char *inner = g_strndup (host + 1, strlen (host) - 2);

          g_free (host);
          host = inner;
        }
      address = G_INET_SOCKET_ADDRESS (g_inet_socket_address_new_from_string (host, (guint) port));
    }
  if (address == NULL)
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                 _("--listen “%s” is not ADDRESS:PORT with a numeric address (e.g. 127.0.0.1:8443)"),
                 text);
  return address;
}

static gboolean
quit (gpointer data)
{
  g_main_loop_quit (data);
  return G_SOURCE_CONTINUE;
}

/* The key host over its own connection to the store; the registry's
 * owner thread is the only one that uses it from then on. */
static PpKeyHost *
open_key_host (const char  *db,
               const char  *location,
               GError     **error)
{
  g_autoptr(PpStore) store = pp_store_open (db, error);
  g_autoptr(PpKeyStore) key_store = NULL;

  if (store == NULL)
    return NULL;
  key_store = pp_key_store_new_for_location (location, g_getenv (KEY_STORE_SECRET_ENV), error);
  if (key_store == NULL)
    return NULL;
  return pp_key_host_new (store, key_store, error);
}

int
pp_registry_cmd_serve (int    argc,
                       char **argv)
{
  g_autofree char *db = NULL;
  g_autofree char *listen = NULL;
  g_autofree char *tls_cert = NULL;
  g_autofree char *tls_key = NULL;
  g_autofree char *key_store = NULL;
  int session_seconds = PP_REGISTRY_SERVER_DEFAULT_SESSION_SECONDS;
  int login_delay_ms = PP_REGISTRY_SERVER_DEFAULT_LOGIN_DELAY_MS;
  GOptionEntry entries[] = {
    { "db", 0, 0, G_OPTION_ARG_FILENAME, &db, N_("The registry's store"), N_("PATH") },
    { "listen", 0, 0, G_OPTION_ARG_STRING, &listen, N_("Address and port to serve on (port 0: a free one)"),
      N_("ADDRESS:PORT") },
    { "tls-cert", 0, 0, G_OPTION_ARG_FILENAME, &tls_cert, N_("The server's certificate (PEM, chain allowed)"),
      N_("PEM") },
    { "tls-key", 0, 0, G_OPTION_ARG_FILENAME, &tls_key, N_("The server's private key (PEM)"), N_("PEM") },
    { "key-store", 0, 0, G_OPTION_ARG_STRING, &key_store,
      N_("The key host's key store: a soft key store folder or a pkcs11: URI (secret in "
         "POSPROV_KEY_STORE_SECRET)"), N_("LOCATION") },
    { "session-lifetime", 0, 0, G_OPTION_ARG_INT, &session_seconds,
      N_("Seconds a sign-in token lasts (default 900)"), N_("SECONDS") },
    { "login-delay", 0, 0, G_OPTION_ARG_INT, &login_delay_ms,
      N_("Milliseconds before a failed sign-in is answered (default 1000)"), N_("MS") },
    { NULL }
  };
  g_autoptr(GOptionContext) context = g_option_context_new (NULL);
  g_autoptr(GError) error = NULL;
  g_autoptr(GTlsCertificate) certificate = NULL;
  g_autoptr(PpRegistryLocal) registry = NULL;
  g_autoptr(PpKeyHost) key_host = NULL;
  g_autoptr(PpRegistryServer) server = NULL;
  g_autoptr(GInetSocketAddress) address = NULL;
  g_autoptr(GMainLoop) loop = NULL;
  g_autofree char *host = NULL;
  guint port = 0;

  g_option_context_set_translation_domain (context, GETTEXT_PACKAGE);
  g_option_context_set_summary (context, _("Serves the registry's HTTPS API until SIGTERM."));
  g_option_context_add_main_entries (context, entries, GETTEXT_PACKAGE);
  if (!g_option_context_parse (context, &argc, &argv, &error))
    return fail_error (error);
  if (db == NULL || listen == NULL || tls_cert == NULL || tls_key == NULL)
    return fail (_("serve needs --db, --listen, --tls-cert and --tls-key"));
  if (session_seconds <= 0 || login_delay_ms < 0)
    return fail (_("--session-lifetime must be positive and --login-delay not negative"));
  if ((address = parse_listen (listen, &error)) == NULL)
    return fail_error (error);
  certificate = g_tls_certificate_new_from_files (tls_cert, tls_key, &error);
  if (certificate == NULL)
    {
      g_autofree char *message = g_strdup_printf (_("cannot read the TLS certificate %s or key %s: %s"),
                                                  tls_cert, tls_key, error->message);

      return fail (message);
    }
  if (key_store != NULL && (key_host = open_key_host (db, key_store, &error)) == NULL)
    return fail_error (error);
  if ((registry = pp_registry_local_new (db, &error)) == NULL)
    return fail_error (error);
  if (key_host != NULL)
    pp_registry_local_set_key_host (registry, key_host);

  server = pp_registry_server_new (PP_REGISTRY (registry), certificate);
  pp_registry_server_set_session_lifetime (server, (guint) session_seconds);
  pp_registry_server_set_login_delay (server, (guint) login_delay_ms);
  if (!pp_registry_server_listen (server, address, &port, &error))
    return fail_error (error);

  host = g_inet_address_to_string (g_inet_socket_address_get_address (address));
  if (strchr (host, ':') != NULL)
    printf ("listening on https://[%s]:%u\n", host, port);
  else
    printf ("listening on https://%s:%u\n", host, port);
  fflush (stdout);

  loop = g_main_loop_new (NULL, FALSE);
  g_unix_signal_add (SIGTERM, quit, loop);
  g_unix_signal_add (SIGINT, quit, loop);
  g_main_loop_run (loop);
  return 0;
}

static void
print_commands (FILE *out)
{
  fprintf (out, _("Usage: %s COMMAND [OPTION…]\n\nCommands:\n"), "posprov-registry");
  for (guint i = 0; commands[i].name != NULL; i++)
    fprintf (out, "  %-14s %s\n", commands[i].name, _(commands[i].summary));
  fprintf (out, _("\nRun “%s COMMAND --help” for the options of a command.\n"), "posprov-registry");
}

int
main (int    argc,
      char **argv)
{
  const char *localedir = g_getenv ("PP_LOCALEDIR");
  g_autofree char *path = NULL;

  if (localedir == NULL || localedir[0] == '\0')
    localedir = LOCALEDIR;
  setlocale (LC_ALL, "");
  bindtextdomain (GETTEXT_PACKAGE, localedir);
  bind_textdomain_codeset (GETTEXT_PACKAGE, "UTF-8");
  textdomain (GETTEXT_PACKAGE);

  if (argc >= 2 && g_str_equal (argv[1], "--version"))
    {
      printf ("posprov-registry %s\n", PACKAGE_VERSION);
      return 0;
    }
  if (argc < 2 || g_str_equal (argv[1], "--help") || g_str_equal (argv[1], "-h"))
    {
      print_commands (argc < 2 ? stderr : stdout);
      return argc < 2 ? 1 : 0;
    }
  for (guint i = 0; commands[i].name != NULL; i++)
    if (g_str_equal (argv[1], commands[i].name))
      {
        path = g_strdup_printf ("posprov-registry %s", commands[i].name);
        argv[1] = path;
        return commands[i].main (argc - 1, argv + 1);
      }
  {
    g_autofree char *message = g_strdup_printf (_("unknown command “%s”; see posprov-registry --help"),
                                                argv[1]);

    return fail (message);
  }
}
