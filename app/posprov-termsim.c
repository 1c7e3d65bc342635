/* SPDX-License-Identifier: GPL-3.0-or-later
 *
 * posprov-termsim: simulated payment terminals for the station and its
 * tests: `init` makes one (or a fleet), `serve` puts them on TCP ports or
 * ptys, `show` prints what one holds (never a key's value).
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <locale.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pty.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include <gio/gunixinputstream.h>
#include <gio/gunixoutputstream.h>
#include <glib-unix.h>
#include <glib/gi18n.h>
#include <glib/gstdio.h>
#include <openssl/pem.h>

#include "pp-openssl-types.h"
#include "pp-termsim.h"
#include "pp-link.h"
#include "pp-link-tlv.h"
#include "pp-fault-stream.h"

static int G_GNUC_PRINTF (1, 2)
fail (const char *format,
      ...)
{
  g_autofree char *message = NULL;
  va_list args;

  va_start (args, format);
  message = g_strdup_vprintf (format, args);
  va_end (args);
  g_strdelimit (message, "\n", ' ');
  fprintf (stderr, "posprov-termsim: %s\n", message);
  return 1;
}

static gboolean
parse_options (GOptionContext  *context,
               int             *argc,
               char          ***argv)
{
  g_autoptr(GError) error = NULL;

  if (!g_option_context_parse (context, argc, argv, &error))
    {
      fail ("%s", error->message);
      return FALSE;
    }
  return TRUE;
}

/* ---- PEM input ------------------------------------------------------------- */

static GPtrArray *
read_pem_certs (const char *path,
                GError    **error)
{
  g_autoptr(GPtrArray) certs = g_ptr_array_new_with_free_func ((GDestroyNotify) X509_free);
  g_autoptr(BIO) bio = NULL;
  X509 *cert;

  if (!g_file_test (path, G_FILE_TEST_IS_REGULAR))
    {
      g_set_error (error, G_FILE_ERROR, G_FILE_ERROR_NOENT, _("“%s” is not a file"), path);
      return NULL;
    }
  bio = BIO_new_file (path, "r");
  while (bio != NULL && (cert = PEM_read_bio_X509 (bio, NULL, NULL, NULL)) != NULL)
    g_ptr_array_add (certs, cert);
  if (certs->len == 0)
    {
      g_set_error (error, G_FILE_ERROR, G_FILE_ERROR_INVAL, _("“%s” holds no PEM certificate"), path);
      return NULL;
    }
  return g_steal_pointer (&certs);
}

static EVP_PKEY *
read_pem_key (const char *path,
              GError    **error)
{
  g_autoptr(BIO) bio = NULL;
  EVP_PKEY *key = NULL;

  if (g_file_test (path, G_FILE_TEST_IS_REGULAR))
    bio = BIO_new_file (path, "r");
  if (bio != NULL)
    key = PEM_read_bio_PrivateKey (bio, NULL, NULL, (void *) "");
  if (key == NULL)
    g_set_error (error, G_FILE_ERROR, G_FILE_ERROR_INVAL,
                 _("“%s” is not an unencrypted PEM private key"), path);
  return key;
}

/* The serial of the @index-th terminal of a fleet: the trailing digits of
 * @first counted up, keeping their width ("PP0009" -> "PP0010"). */
static char *
nth_serial (const char *first,
            guint       index)
{
  gsize len = strlen (first);
  gsize digits = 0;
  guint64 value;
  g_autofree char *prefix = NULL;

  if (index == 0)
    return g_strdup (first);
  while (digits < len && digits < 18 && g_ascii_isdigit (first[len - 1 - digits]))
    digits++;
  if (digits == 0)
    return g_strdup_printf ("%s-%u", first, index + 1);
  prefix = g_strndup (first, len - digits);
  value = g_ascii_strtoull (first + len - digits, NULL, 10) + index;
  return g_strdup_printf ("%s%0*" G_GUINT64_FORMAT, prefix, (int) digits, value);
}

static void
remove_folder (const char *dir)
{
  g_autoptr(GDir) d = g_dir_open (dir, 0, NULL);
  const char *name;

  while (d != NULL && (name = g_dir_read_name (d)) != NULL)
    {
      g_autofree char *path = g_build_filename (dir, name, NULL);

      g_unlink (path);
    }
  g_rmdir (dir);
}

/* ---- init ------------------------------------------------------------------ */

static int
cmd_init (int    argc,
          char **argv)
{
  g_autofree char *dir = NULL, *serial = NULL, *vendor = NULL, *model = NULL, *firmware = NULL;
  g_autofree char *ca_cert_path = NULL, *ca_key_path = NULL, *trust_path = NULL;
  g_autofree char *program_trust_path = NULL;
  g_auto(GStrv) operators = NULL;
  int count = 1;
  GOptionEntry entries[] = {
    { "dir", 0, 0, G_OPTION_ARG_FILENAME, &dir, N_("Folder of the terminal (or of the fleet)"), "DIR" },
    { "serial", 0, 0, G_OPTION_ARG_STRING, &serial, N_("Serial number (the first of a fleet)"), "S" },
    { "vendor", 0, 0, G_OPTION_ARG_STRING, &vendor, N_("Vendor"), "V" },
    { "model", 0, 0, G_OPTION_ARG_STRING, &model, N_("Model"), "M" },
    { "firmware", 0, 0, G_OPTION_ARG_STRING, &firmware, N_("Firmware version reported"), "F" },
    { "ca-krd-cert", 0, 0, G_OPTION_ARG_FILENAME, &ca_cert_path,
      N_("CA_KRD certificate: issue the device certificate now (factory mode)"), "PEM" },
    { "ca-krd-key", 0, 0, G_OPTION_ARG_FILENAME, &ca_key_path, N_("CA_KRD private key"), "PEM" },
    { "trust", 0, 0, G_OPTION_ARG_FILENAME, &trust_path,
      N_("CA certificates trusted for KDH certificates"), "PEM" },
    { "program-trust", 0, 0, G_OPTION_ARG_FILENAME, &program_trust_path,
      N_("Certificates of the keys that sign programs"), "PEM" },
    { "operator", 0, 0, G_OPTION_ARG_STRING_ARRAY, &operators,
      N_("Sign-on operator and password (repeatable; default 1=1234)"), "N=PASSWORD" },
    { "count", 0, 0, G_OPTION_ARG_INT, &count, N_("Number of terminals, with consecutive serials"), "N" },
    { NULL }
  };
  g_autoptr(GOptionContext) context = g_option_context_new (NULL);
  g_autoptr(GPtrArray) trust = NULL;
  g_autoptr(GPtrArray) program_trust = NULL;
  g_autoptr(GPtrArray) ca_certs = NULL;
  g_autoptr(EVP_PKEY) ca_key = NULL;
  g_autoptr(GHashTable) ops = NULL;
  g_autoptr(GPtrArray) made = g_ptr_array_new_with_free_func (g_free);
  g_autoptr(GError) error = NULL;

  g_option_context_set_summary (context, _("Make a terminal: its RSA-2048 key, its CSR or device "
                                           "certificate, its trust."));
  g_option_context_add_main_entries (context, entries, GETTEXT_PACKAGE);
  if (!parse_options (context, &argc, &argv))
    return 1;
  if (dir == NULL || serial == NULL || vendor == NULL || model == NULL || trust_path == NULL)
    return fail (_("init needs --dir, --serial, --vendor, --model and --trust"));
  if ((ca_cert_path == NULL) != (ca_key_path == NULL))
    return fail (_("--ca-krd-cert and --ca-krd-key go together"));
  if (count < 1 || count > 1000)
    return fail (_("--count must be between 1 and 1000"));
  trust = read_pem_certs (trust_path, &error);
  if (trust == NULL)
    return fail ("--trust: %s", error->message);
  if (program_trust_path != NULL && (program_trust = read_pem_certs (program_trust_path, &error)) == NULL)
    return fail ("--program-trust: %s", error->message);
  if (ca_cert_path != NULL)
    {
      ca_certs = read_pem_certs (ca_cert_path, &error);
      if (ca_certs == NULL)
        return fail ("--ca-krd-cert: %s", error->message);
      ca_key = read_pem_key (ca_key_path, &error);
      if (ca_key == NULL)
        return fail ("--ca-krd-key: %s", error->message);
    }
  if (operators != NULL)
    {
      ops = g_hash_table_new_full (NULL, NULL, NULL, g_free);
      for (guint i = 0; operators[i] != NULL; i++)
        {
          const char *eq = strchr (operators[i], '=');
          guint64 id = 0;
          g_autofree char *num = eq != NULL ? g_strndup (operators[i], eq - operators[i]) : NULL;

          if (num == NULL || !g_ascii_string_to_unsigned (num, 10, 1, G_MAXUINT32, &id, NULL) ||
              eq[1] == '\0')
            return fail (_("--operator “%s”: expected N=PASSWORD (N from 1)"), operators[i]);
          g_hash_table_insert (ops, GUINT_TO_POINTER ((guint) id), g_strdup (eq + 1));
        }
    }

  if (count > 1)
    {
      g_autoptr(GDir) d = g_dir_open (dir, 0, NULL);

      if (d != NULL && g_dir_read_name (d) != NULL)
        return fail (_("%s is not empty: a fleet is made in a new or empty folder"), dir);
      if (g_mkdir_with_parents (dir, 0700) != 0)
        return fail (_("Cannot create %s: %s"), dir, g_strerror (errno));
    }
  for (int i = 0; i < count; i++)
    {
      g_autofree char *s = nth_serial (serial, (guint) i);
      g_autofree char *sub = count > 1 ? g_build_filename (dir, s, NULL) : g_strdup (dir);
      PpTermsimIdentity id = { s, vendor, model, firmware, ops, program_trust };

      if (!pp_termsim_init (sub, &id, ca_certs != NULL ? g_ptr_array_index (ca_certs, 0) : NULL,
                            ca_key, trust, &error))
        {
          for (guint j = 0; j < made->len; j++)
            remove_folder (g_ptr_array_index (made, j));
          if (count > 1)
            g_rmdir (dir);
          return fail (_("Cannot make terminal %s: %s"), s, error->message);
        }
      g_ptr_array_add (made, g_steal_pointer (&sub));
    }
  for (guint j = 0; j < made->len; j++)
    printf ("%s\n", (const char *) g_ptr_array_index (made, j));
  return 0;
}

/* ---- The terminals of a folder ------------------------------------------------ */

static gboolean
is_terminal (const char *dir)
{
  g_autofree char *state = g_build_filename (dir, "state.json", NULL);

  return g_file_test (state, G_FILE_TEST_IS_REGULAR);
}

static int
compare_strings (gconstpointer a,
                 gconstpointer b)
{
  return strcmp (*(const char * const *) a, *(const char * const *) b);
}

/* @dir itself, or its terminal subfolders in name order. */
static GPtrArray *
open_terminals (const char *dir,
                int         count,
                GError    **error)
{
  g_autoptr(GPtrArray) dirs = g_ptr_array_new_with_free_func (g_free);
  g_autoptr(GPtrArray) sims = g_ptr_array_new_with_free_func ((GDestroyNotify) pp_termsim_unref);

  if (is_terminal (dir))
    g_ptr_array_add (dirs, g_strdup (dir));
  else
    {
      g_autoptr(GDir) d = g_dir_open (dir, 0, NULL);
      const char *name;

      while (d != NULL && (name = g_dir_read_name (d)) != NULL)
        {
          g_autofree char *sub = g_build_filename (dir, name, NULL);

          if (is_terminal (sub))
            g_ptr_array_add (dirs, g_steal_pointer (&sub));
        }
      g_ptr_array_sort (dirs, compare_strings);
    }
  if (dirs->len == 0)
    {
      g_set_error (error, PP_TERMSIM_ERROR, PP_TERMSIM_ERROR_NOT_FOUND,
                   _("%s holds no terminal: make one with `posprov-termsim init`"), dir);
      return NULL;
    }
  if (count > 0 && (guint) count > dirs->len)
    {
      g_set_error (error, PP_TERMSIM_ERROR, PP_TERMSIM_ERROR_NOT_FOUND,
                   _("%s holds %u terminals, not %d"), dir, dirs->len, count);
      return NULL;
    }
  for (guint i = 0; i < (count > 0 ? (guint) count : dirs->len); i++)
    {
      g_autoptr(GError) local = NULL;
      PpTermsim *sim = pp_termsim_open (g_ptr_array_index (dirs, i), &local);

      if (sim == NULL)
        {
          g_set_error (error, PP_TERMSIM_ERROR, PP_TERMSIM_ERROR_CORRUPT,
                       _("Cannot open the terminal in %s: %s"),
                       (const char *) g_ptr_array_index (dirs, i), local->message);
          return NULL;
        }
      g_ptr_array_add (sims, sim);
    }
  return g_steal_pointer (&sims);
}

/* ---- serve --------------------------------------------------------------------- */

/* The link faults (docs/termsim.md): one set for the whole serve. */
typedef struct {
  gboolean        active;        /* any link fault: connections go through a PpFaultStream */
  PpFaultSettings settings;      /* seed: the --fault-seed */
  int             step;          /* --disconnect-after: the command, or -1 */
  gboolean        step_after;    /* after-COMMAND: cut once it executed, before it answers */
  guint           step_nth;      /* COMMAND@N: at its N-th request (from 1) */
} LinkFaults;

static LinkFaults link_faults = { FALSE, { 0, }, -1, FALSE, 1 };

/* One terminal of the serve, shared by its connections. */
typedef struct {
  PpTermsim *sim;
  guint      index;
  gint       connections;   /* atomic */
  gint       step_seen;     /* atomic: requests of the --disconnect-after command */
} Served;

/* Live until exit: the serving threads use them to the end. */
static GPtrArray *served_terminals;

typedef struct {
  Served        *served;
  PpFaultStream *faults;    /* NULL without link faults */
} Connection;

static const struct {
  const char *name;
  guint8      code;
} commands[] = {
  { "IDENTIFY", PP_CMD_IDENTIFY }, { "GET_CSR", PP_CMD_GET_CSR }, { "PUT_CERT", PP_CMD_PUT_CERT },
  { "GET_CT_KRD", PP_CMD_GET_CT_KRD }, { "BIND", PP_CMD_BIND }, { "GET_RT_KRD", PP_CMD_GET_RT_KRD },
  { "LOAD_KEY", PP_CMD_LOAD_KEY }, { "REBIND", PP_CMD_REBIND }, { "UNBIND", PP_CMD_UNBIND },
  { "ZEROIZE", PP_CMD_ZEROIZE }, { "PROGRAM_BEGIN", PP_CMD_PROGRAM_BEGIN },
  { "PROGRAM_BLOCK", PP_CMD_PROGRAM_BLOCK }, { "PROGRAM_COMMIT", PP_CMD_PROGRAM_COMMIT },
  { "STATUS", PP_CMD_STATUS }, { "SIGN_ON", PP_CMD_SIGN_ON }, { "SIGN_OFF", PP_CMD_SIGN_OFF },
};

/* [after-]COMMAND[@N] */
static gboolean
parse_step (const char *text,
            LinkFaults *faults)
{
  g_autofree char *name = NULL;
  const char *at;
  guint64 nth = 1;

  faults->step_after = g_str_has_prefix (text, "after-");
  if (faults->step_after)
    text += strlen ("after-");
  at = strchr (text, '@');
  if (at != NULL && !g_ascii_string_to_unsigned (at + 1, 10, 1, G_MAXUINT32, &nth, NULL))
    return FALSE;
  name = at != NULL ? g_strndup (text, at - text) : g_strdup (text);
  for (guint i = 0; i < G_N_ELEMENTS (commands); i++)
    if (g_ascii_strcasecmp (name, commands[i].name) == 0)
      {
        faults->step = commands[i].code;
        faults->step_nth = (guint) nth;
        return TRUE;
      }
  return FALSE;
}

static gboolean
parse_rate (const char *text,
            double     *out)
{
  char *end = NULL;
  double v = g_ascii_strtod (text, &end);

  if (end == text || *end != '\0' || !(v >= 0.0 && v <= 1.0))
    return FALSE;
  *out = v;
  return TRUE;
}

static GBytes *
handle_request (guint8    command,
                GBytes   *payload,
                guint8   *out_status,
                gpointer  user_data)
{
  Connection *c = user_data;
  gboolean cut = FALSE;
  GBytes *response;

  if (c->faults != NULL && link_faults.step == command &&
      (guint) g_atomic_int_add (&c->served->step_seen, 1) + 1 == link_faults.step_nth)
    cut = TRUE;
  if (cut && !link_faults.step_after)
    {
      /* The request arrived (and was acknowledged), it never runs. */
      pp_fault_stream_cut (c->faults);
      *out_status = PP_STATUS_BUSY;
      return g_bytes_new (NULL, 0);
    }
  response = pp_termsim_handle (c->served->sim, command, payload, out_status);
  if (cut)
    pp_fault_stream_cut (c->faults);   /* it ran: its answer is lost */
  return response;
}

/* One connection, on its own thread with its own main context, speaking
 * the link protocol (docs/link-protocol.md), through the link faults if
 * any. */
static void
serve_connection (GIOStream *stream,
                  Served    *served)
{
  g_autoptr(GMainContext) context = g_main_context_new ();
  g_autoptr(GError) error = NULL;
  g_autoptr(PpFaultStream) faults = NULL;
  g_autoptr(PpLink) link = NULL;
  Connection c = { served, NULL };

  g_main_context_push_thread_default (context);
  if (link_faults.active)
    {
      PpFaultSettings settings = link_faults.settings;
      guint n = (guint) g_atomic_int_add (&served->connections, 1);

      /* Each terminal and each of its connections its own sequence. */
      settings.seed = link_faults.settings.seed * 1000003u + served->index * 7919u + n;
      faults = pp_fault_stream_new (stream, &settings);
      c.faults = faults;
    }
  link = pp_link_new (faults != NULL ? G_IO_STREAM (faults) : stream, PP_LINK_ROLE_TERMINAL);
  if (!pp_link_serve (link, handle_request, &c, NULL, &error))
    fprintf (stderr, "posprov-termsim: %s: %s\n", pp_termsim_get_serial (served->sim), error->message);
  g_clear_pointer (&link, pp_link_unref);
  if (faults != NULL)
    {
      /* For the log and the tests: what the faults did to this connection. */
      if (link_faults.settings.corrupt > 0 || link_faults.settings.drop > 0)
        fprintf (stderr, "posprov-termsim: %s: link faults: %u frames corrupted, %u frames dropped\n",
                 pp_termsim_get_serial (served->sim), pp_fault_stream_get_corrupted (faults),
                 pp_fault_stream_get_dropped (faults));
      g_io_stream_close (G_IO_STREAM (faults), NULL, NULL);
    }
  g_main_context_pop_thread_default (context);
}

static gboolean
on_run (GThreadedSocketService *service,
        GSocketConnection      *connection,
        GObject                *source,
        gpointer                user_data)
{
  Served *served = g_object_get_data (source, "served");

  /* As a terminal on a LAN should: ACKs and answers go out at once, not
   * after Nagle's wait for the station's delayed ACK (40 ms a block). */
  if (!g_socket_set_option (g_socket_connection_get_socket (connection), IPPROTO_TCP, TCP_NODELAY, TRUE, NULL))
    g_debug ("TCP_NODELAY refused");
  serve_connection (G_IO_STREAM (connection), served);
  return TRUE;
}

typedef struct {
  Served    *served;
  int        master;
  int        slave;
} PtyTerminal;

static gpointer
pty_thread (gpointer data)
{
  PtyTerminal *pty = data;

  /* The pty stays ours (we hold its slave side open): a station closing
   * it is no end, and the next one finds the terminal still there. A
   * fresh stream each time: a --disconnect-after cut closes the last one
   * (the fd stays open). */
  for (;;)
    {
      g_autoptr(GInputStream) in = g_unix_input_stream_new (pty->master, FALSE);
      g_autoptr(GOutputStream) out = g_unix_output_stream_new (pty->master, FALSE);
      g_autoptr(GIOStream) stream = g_simple_io_stream_new (in, out);

      serve_connection (stream, pty->served);
      g_usleep (100 * G_TIME_SPAN_MILLISECOND);
    }
  return NULL;
}

static gboolean
on_signal (gpointer user_data)
{
  g_main_loop_quit (user_data);
  return G_SOURCE_REMOVE;
}

static gboolean
parse_tcp (const char  *text,
           char       **out_host,
           guint16     *out_port)
{
  const char *colon = strrchr (text, ':');
  guint64 port = 0;

  if (colon == NULL || colon == text ||
      !g_ascii_string_to_unsigned (colon + 1, 10, 0, 65535, &port, NULL))
    return FALSE;
  *out_host = g_strndup (text, colon - text);
  *out_port = (guint16) port;
  return TRUE;
}

static int
cmd_serve (int    argc,
           char **argv)
{
  g_autofree char *dir = NULL, *tcp = NULL, *report_serial = NULL;
  g_autofree char *corrupt = NULL, *drop = NULL, *disconnect_after = NULL;
  gboolean pty = FALSE, tamper = FALSE, refuse_program = FALSE;
  gint64 clock_skew = 0;
  int count = 0, baud = 0, emulate_baud = 0;
  gint64 fault_seed = -1;
  GOptionEntry entries[] = {
    { "dir", 0, 0, G_OPTION_ARG_FILENAME, &dir, N_("Folder of the terminal (or of the fleet)"), "DIR" },
    { "tcp", 0, 0, G_OPTION_ARG_STRING, &tcp, N_("Listen on HOST:PORT (port 0: free ports)"), "HOST:PORT" },
    { "pty", 0, 0, G_OPTION_ARG_NONE, &pty, N_("Serve each terminal on a new pty"), NULL },
    { "count", 0, 0, G_OPTION_ARG_INT, &count, N_("Number of terminals to serve"), "N" },
    { "baud", 0, 0, G_OPTION_ARG_INT, &baud, N_("Baud rate of the pty (informative)"), "N" },
    { "tamper", 0, 0, G_OPTION_ARG_NONE, &tamper, N_("Fault: a security attack (keys erased, refused)"), NULL },
    { "refuse-program", 0, 0, G_OPTION_ARG_NONE, &refuse_program, N_("Fault: refuse every program"), NULL },
    { "report-serial", 0, 0, G_OPTION_ARG_STRING, &report_serial, N_("Fault: report this serial"), "S" },
    { "clock-skew", 0, 0, G_OPTION_ARG_INT64, &clock_skew, N_("Fault: the terminal's clock is off by SECONDS"), "SECONDS" },
    { "corrupt", 0, 0, G_OPTION_ARG_STRING, &corrupt,
      N_("Link fault: flip a bit in a frame (each way) at RATE, 0 to 1"), "RATE" },
    { "drop", 0, 0, G_OPTION_ARG_STRING, &drop, N_("Link fault: lose frames sent at RATE, 0 to 1"), "RATE" },
    { "disconnect-after", 0, 0, G_OPTION_ARG_STRING, &disconnect_after,
      N_("Link fault: hang up at command STEP (before it runs; after-STEP: before it answers; STEP@N: its N-th time)"),
      "STEP" },
    { "emulate-baud", 0, 0, G_OPTION_ARG_INT, &emulate_baud, N_("Link fault: pace bytes at N baud, each way"), "N" },
    { "fault-seed", 0, 0, G_OPTION_ARG_INT64, &fault_seed,
      N_("Seed of the random link faults (default: a new one, printed)"), "N" },
    { NULL }
  };
  g_autoptr(GOptionContext) context = g_option_context_new (NULL);
  g_autoptr(GPtrArray) sims = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(GMainLoop) loop = NULL;
  g_autoptr(GSocketService) service = NULL;
  g_autoptr(GPtrArray) lines = g_ptr_array_new_with_free_func (g_free);
  GPtrArray *served;
  g_autofree char *host = NULL;
  guint16 port = 0;
  PpTermsimFaults faults = { tamper, refuse_program, NULL, 0 };

  g_option_context_set_summary (context, _("Serve terminals until SIGTERM; prints each one's PORT."));
  g_option_context_add_main_entries (context, entries, GETTEXT_PACKAGE);
  if (!parse_options (context, &argc, &argv))
    return 1;
  if (dir == NULL || (tcp == NULL) == !pty)
    return fail (_("serve needs --dir and one of --tcp HOST:PORT or --pty"));
  if (corrupt != NULL && !parse_rate (corrupt, &link_faults.settings.corrupt))
    return fail (_("--corrupt “%s”: expected a rate from 0 to 1, e.g. 0.05"), corrupt);
  if (drop != NULL && !parse_rate (drop, &link_faults.settings.drop))
    return fail (_("--drop “%s”: expected a rate from 0 to 1, e.g. 0.05"), drop);
  if (disconnect_after != NULL && !parse_step (disconnect_after, &link_faults))
    return fail (_("--disconnect-after “%s”: expected a command (IDENTIFY, GET_CSR, PUT_CERT, "
                   "GET_CT_KRD, BIND, GET_RT_KRD, LOAD_KEY, REBIND, UNBIND, ZEROIZE, PROGRAM_BEGIN, "
                   "PROGRAM_BLOCK, PROGRAM_COMMIT, STATUS, SIGN_ON, SIGN_OFF), optionally "
                   "after-COMMAND and @N, e.g. after-LOAD_KEY"), disconnect_after);
  if (emulate_baud < 0 || emulate_baud > 10000000)
    return fail (_("--emulate-baud %d: expected a baud rate from 1 to 10000000 (0: no pacing)"),
                 emulate_baud);
  if (fault_seed < -1)
    return fail (_("--fault-seed must be 0 or more"));
  link_faults.settings.baud = (guint) emulate_baud;
  link_faults.active = corrupt != NULL || drop != NULL || disconnect_after != NULL || emulate_baud != 0;
  if (link_faults.active && (link_faults.settings.corrupt > 0 || link_faults.settings.drop > 0))
    {
      link_faults.settings.seed = fault_seed >= 0 ? (guint64) fault_seed : (guint64) g_random_int ();
      if (fault_seed < 0)
        fprintf (stderr, "posprov-termsim: --fault-seed %" G_GUINT64_FORMAT "\n", link_faults.settings.seed);
    }
  if (tcp != NULL && !parse_tcp (tcp, &host, &port))
    return fail (_("--tcp “%s”: expected HOST:PORT, e.g. 127.0.0.1:0"), tcp);
  sims = open_terminals (dir, count, &error);
  if (sims == NULL)
    return fail ("%s", error->message);
  if (tcp != NULL && port != 0 && port + sims->len - 1 > 65535)
    return fail (_("--tcp: %u consecutive ports from %u go past 65535"), sims->len, port);
  faults.tamper = tamper;
  faults.refuse_program = refuse_program;
  faults.report_serial = report_serial;
  faults.clock_skew = clock_skew;
  for (guint i = 0; i < sims->len; i++)
    if (!pp_termsim_set_faults (g_ptr_array_index (sims, i), &faults, &error))
      return fail ("%s", error->message);

  served = served_terminals = g_ptr_array_new ();
  for (guint i = 0; i < sims->len; i++)
    {
      Served *one = g_new0 (Served, 1);

      one->sim = pp_termsim_ref (g_ptr_array_index (sims, i));
      one->index = i;
      g_ptr_array_add (served, one);
    }

  loop = g_main_loop_new (NULL, FALSE);
  if (tcp != NULL)
    {
      g_autoptr(GInetAddress) address = g_inet_address_new_from_string (host);

      if (address == NULL)
        return fail (_("--tcp: “%s” is not an IP address"), host);
      /* Inactive until every port listens: adding a listener to an active
       * service restarts its pending accept, and a connection accepted in
       * that moment was closed unseen (a station saw its HELLO reset). */
      service = g_object_new (G_TYPE_THREADED_SOCKET_SERVICE, "max-threads", -1, "active", FALSE, NULL);
      for (guint i = 0; i < sims->len; i++)
        {
          g_autoptr(GSocketAddress) want = g_inet_socket_address_new (address, port != 0 ? port + i : 0);
          g_autoptr(GSocketAddress) got = NULL;
          g_autoptr(GObject) tag = g_object_new (G_TYPE_OBJECT, NULL);

          g_object_set_data (tag, "served", g_ptr_array_index (served, i));
          if (!g_socket_listener_add_address (G_SOCKET_LISTENER (service), want, G_SOCKET_TYPE_STREAM,
                                              G_SOCKET_PROTOCOL_TCP, tag, &got, &error))
            return fail (_("Cannot listen on %s port %u: %s"), host, port != 0 ? port + i : 0,
                         error->message);
          g_ptr_array_add (lines, g_strdup_printf ("tcp:%s:%u", host,
                                                   g_inet_socket_address_get_port (G_INET_SOCKET_ADDRESS (got))));
        }
      g_signal_connect (service, "run", G_CALLBACK (on_run), NULL);
      g_socket_service_start (service);
    }
  else
    {
      for (guint i = 0; i < sims->len; i++)
        {
          PtyTerminal *t = g_new0 (PtyTerminal, 1);
          char name[256];
          struct termios tio;

          if (openpty (&t->master, &t->slave, name, NULL, NULL) != 0)
            return fail (_("Cannot open a pty: %s"), g_strerror (errno));
          /* Raw, so that every byte of a frame passes unchanged. */
          if (tcgetattr (t->slave, &tio) == 0)
            {
              cfmakeraw (&tio);
              tcsetattr (t->slave, TCSANOW, &tio);
            }
          if (tcgetattr (t->master, &tio) == 0)
            {
              cfmakeraw (&tio);
              tcsetattr (t->master, TCSANOW, &tio);
            }
          fcntl (t->master, F_SETFD, FD_CLOEXEC);
          fcntl (t->slave, F_SETFD, FD_CLOEXEC);
          t->served = g_ptr_array_index (served, i);
          g_ptr_array_add (lines, g_strdup (name));
          g_thread_unref (g_thread_new ("termsim-pty", pty_thread, t));
        }
    }
  for (guint i = 0; i < lines->len; i++)
    printf ("%s\n", (const char *) g_ptr_array_index (lines, i));
  fflush (stdout);

  g_unix_signal_add (SIGTERM, on_signal, loop);
  g_unix_signal_add (SIGINT, on_signal, loop);
  g_main_loop_run (loop);
  if (service != NULL)
    g_socket_service_stop (service);
  return 0;
}

/* ---- show ------------------------------------------------------------------------- */

static void
print_human (JsonObject *o)
{
  JsonNode *cert = json_object_get_member (o, "certificate");
  JsonNode *program = json_object_get_member (o, "program");
  JsonNode *bound = json_object_get_member (o, "bound_kdh");
  JsonArray *keys = json_object_get_array_member (o, "keys");

  printf (_("Serial:      %s\n"), json_object_get_string_member (o, "serial"));
  printf (_("Model:       %s (%s)\n"), json_object_get_string_member (o, "model"),
          json_object_get_string_member (o, "vendor"));
  if (JSON_NODE_HOLDS_OBJECT (cert))
    printf (_("Certificate: %s, valid %s to %s\n"),
            json_object_get_string_member (json_node_get_object (cert), "subject"),
            json_object_get_string_member (json_node_get_object (cert), "not_before"),
            json_object_get_string_member (json_node_get_object (cert), "not_after"));
  else
    printf (_("Certificate: none (holds a CSR)\n"));
  printf (_("Bound KDH:   %s\n"), JSON_NODE_HOLDS_VALUE (bound) ? json_node_get_string (bound) : _("none"));
  printf (_("Tamper:      %s\n"), json_object_get_boolean_member (o, "tamper") ? _("yes") : _("no"));
  if (JSON_NODE_HOLDS_OBJECT (program))
    printf (_("Program:     %s %s\n"),
            json_object_get_string_member (json_node_get_object (program), "name"),
            json_object_get_string_member (json_node_get_object (program), "version"));
  printf (_("Keys:        %u\n"), json_array_get_length (keys));
  for (guint i = 0; i < json_array_get_length (keys); i++)
    {
      JsonObject *k = json_array_get_object_element (keys, i);

      printf (_("  slot %u  %s  KCV %s  %s\n"), (guint) json_object_get_int_member (k, "slot"),
              json_object_get_string_member (k, "usage"), json_object_get_string_member (k, "kcv"),
              json_object_get_string_member (k, "time"));
    }
}

static int
cmd_show (int    argc,
          char **argv)
{
  g_autofree char *dir = NULL;
  gboolean json = FALSE;
  GOptionEntry entries[] = {
    { "dir", 0, 0, G_OPTION_ARG_FILENAME, &dir, N_("Folder of the terminal (or of the fleet)"), "DIR" },
    { "json", 0, 0, G_OPTION_ARG_NONE, &json, N_("Print JSON"), NULL },
    { NULL }
  };
  g_autoptr(GOptionContext) context = g_option_context_new (NULL);
  g_autoptr(GPtrArray) sims = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonNode) out = NULL;
  g_autoptr(JsonArray) all = json_array_new ();
  g_autofree char *text = NULL;

  g_option_context_set_summary (context, _("What a terminal holds: certificate, binding, program, "
                                           "keys with their KCVs (never a key's value)."));
  g_option_context_add_main_entries (context, entries, GETTEXT_PACKAGE);
  if (!parse_options (context, &argc, &argv))
    return 1;
  if (dir == NULL)
    return fail (_("show needs --dir"));
  sims = open_terminals (dir, 0, &error);
  if (sims == NULL)
    return fail ("%s", error->message);
  for (guint i = 0; i < sims->len; i++)
    json_array_add_element (all, pp_termsim_describe (g_ptr_array_index (sims, i)));
  if (!json)
    {
      for (guint i = 0; i < json_array_get_length (all); i++)
        {
          if (i > 0)
            printf ("\n");
          print_human (json_array_get_object_element (all, i));
        }
      return 0;
    }
  /* One terminal: its object; a fleet: an array of them. */
  if (is_terminal (dir))
    out = json_node_copy (json_array_get_element (all, 0));
  else
    {
      out = json_node_new (JSON_NODE_ARRAY);
      json_node_set_array (out, all);
    }
  text = json_to_string (out, FALSE);
  printf ("%s\n", text);
  return 0;
}

int
main (int    argc,
      char **argv)
{
  const char *localedir = g_getenv ("PP_LOCALEDIR");

  if (localedir == NULL || localedir[0] == '\0')
    localedir = LOCALEDIR;
  setlocale (LC_ALL, "");
  bindtextdomain (GETTEXT_PACKAGE, localedir);
  bind_textdomain_codeset (GETTEXT_PACKAGE, "UTF-8");
  textdomain (GETTEXT_PACKAGE);
  signal (SIGPIPE, SIG_IGN);

  if (argc >= 2 && g_str_equal (argv[1], "--version"))
    {
      printf ("posprov-termsim %s\n", PACKAGE_VERSION);
      return 0;
    }
  if (argc < 2 || g_str_equal (argv[1], "--help") || g_str_equal (argv[1], "-h"))
    {
      fprintf (argc < 2 ? stderr : stdout, "%s",
               _("Usage: posprov-termsim COMMAND [OPTIONS]\n"
                 "  init   make a terminal (or a fleet with --count)\n"
                 "  serve  serve terminals on TCP or ptys until SIGTERM\n"
                 "  show   what a terminal holds\n"));
      return argc < 2 ? 1 : 0;
    }
  argv[1] = g_strdup_printf ("posprov-termsim %s", argv[1]);
  if (g_str_equal (argv[1], "posprov-termsim init"))
    return cmd_init (argc - 1, argv + 1);
  if (g_str_equal (argv[1], "posprov-termsim serve"))
    return cmd_serve (argc - 1, argv + 1);
  if (g_str_equal (argv[1], "posprov-termsim show"))
    return cmd_show (argc - 1, argv + 1);
  return fail (_("Unknown command “%s”: init, serve or show"), argv[1] + strlen ("posprov-termsim "));
}
