/* SPDX-License-Identifier: GPL-3.0-or-later
 *
 * test-termsim-faults.c: the real posprov-termsim behind its link faults
 * (--corrupt, --drop, --disconnect-after, --emulate-baud), met by a station
 * built from PpLink over real TCP; then `serve --pty` through the real
 * libserialport (the rig of tests/pp-pty-rig.c) and a `--count 4` fleet.
 */
#include "config.h"

#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gio/gunixinputstream.h>
#include <glib/gstdio.h>
#include <openssl/pem.h>
#include <openssl/rand.h>

#include "pp-kcv.h"
#include "pp-link.h"
#include "pp-link-tlv.h"
#include "pp-openssl-types.h"
#include "pp-pty-rig.h"
#include "pp-termsim.h"
#include "pp-termsim-server.h"
#include "pp-test-util.h"
#include "pp-transport.h"
#include "pp-tr34.h"
#include "tr34-test-pki.h"

#define TMK_HEADER "A0256K0TB00E0000"

/* ---- the binary ---- */

typedef struct {
  GPid              pid;
  GDataInputStream *lines;
  int               err_fd;
  GString          *err;      /* its stderr read so far */
} Server;

/* `serve --dir DIR ARGS...`; returns its first printed PORT. */
static char *
server_start (Server             *server,
              const char         *dir,
              const char * const *args)
{
  g_autoptr(GPtrArray) argv = g_ptr_array_new ();
  g_autoptr(GInputStream) out = NULL;
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
                                           pp_test_die_with_parent, NULL, &server->pid, NULL, &out_fd,
                                           &server->err_fd, &error));
  g_assert_no_error (error);
  out = g_unix_input_stream_new (out_fd, TRUE);
  server->lines = g_data_input_stream_new (out);
  line = g_data_input_stream_read_line_utf8 (server->lines, NULL, NULL, &error);
  g_assert_no_error (error);
  g_assert_nonnull (line);
  return line;
}

/* Its stderr once it holds @needle (a connection's end is logged by the
 * server's thread, after the station has gone), within 20 s. */
static const char *
server_wait_log (Server     *server,
                 const char *needle)
{
  gint64 deadline = g_get_monotonic_time () + 20 * G_USEC_PER_SEC;

  if (server->err == NULL)
    server->err = g_string_new (NULL);
  while (strstr (server->err->str, needle) == NULL && g_get_monotonic_time () < deadline)
    {
      GPollFD fd = { server->err_fd, G_IO_IN, 0 };
      char buf[1024];
      gssize n;

      if (g_poll (&fd, 1, 100) <= 0)
        continue;
      n = read (server->err_fd, buf, sizeof buf);
      if (n <= 0)
        break;
      g_string_append_len (server->err, buf, n);
    }
  return server->err->str;
}

/* Stops it; returns what it wrote to stderr. */
static char *
server_stop (Server *server)
{
  g_autoptr(GInputStream) err = g_unix_input_stream_new (server->err_fd, TRUE);
  g_autoptr(GByteArray) text = g_byte_array_new ();
  int status = 0;
  guint8 buf[4096];
  gssize n;

  if (server->err != NULL)
    {
      g_byte_array_append (text, (const guint8 *) server->err->str, (guint) server->err->len);
      g_string_free (server->err, TRUE);
      server->err = NULL;
    }
  kill (server->pid, SIGTERM);
  g_assert_cmpint (waitpid (server->pid, &status, 0), ==, server->pid);
  g_assert_true (WIFEXITED (status));
  g_assert_cmpint (WEXITSTATUS (status), ==, 0);
  g_spawn_close_pid (server->pid);
  g_clear_object (&server->lines);
  while ((n = g_input_stream_read (err, buf, sizeof buf, NULL, NULL)) > 0)
    g_byte_array_append (text, buf, (guint) n);
  g_byte_array_append (text, (const guint8 *) "", 1);
  return (char *) g_byte_array_free (g_steal_pointer (&text), FALSE);
}

typedef struct {
  char *base;
  char *dir;
  char *trust;
} Terminal;

static void
terminal_clear (Terminal *t)
{
  g_free (t->base);
  g_free (t->dir);
  g_free (t->trust);
}
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (Terminal, terminal_clear)

static void
write_key (const char *path,
           EVP_PKEY   *key)
{
  g_autoptr(BIO) bio = BIO_new_file (path, "w");

  g_assert_cmpint (PEM_write_bio_PrivateKey (bio, key, NULL, NULL, 0, NULL, NULL), ==, 1);
}

/* A certified terminal (factory mode) in a new folder; @count > 1: a fleet. */
static void
terminal_init (Terminal   *t,
               const char *serial,
               const char *count)
{
  const PpTestPki *pki = pp_test_pki_get ();
  g_autofree char *ca = NULL, *ca_key = NULL, *o = NULL, *e = NULL;

  t->base = pp_test_make_tmpdir ();
  t->dir = g_build_filename (t->base, "term", NULL);
  t->trust = g_build_filename (t->base, "trust.pem", NULL);
  ca = g_build_filename (t->base, "ca-krd.pem", NULL);
  ca_key = g_build_filename (t->base, "ca-krd.key", NULL);
  pp_test_pki_write (pki, t->base);
  write_key (ca_key, pki->ca_krd_key);
  {
    const char *args[] = { "init", "--dir", t->dir, "--serial", serial, "--vendor", "Acme", "--model", "X1",
                           "--ca-krd-cert", ca, "--ca-krd-key", ca_key, "--trust", t->trust,
                           "--count", count, NULL };

    g_assert_cmpint (pp_test_run_termsim (args, &o, &e), ==, 0);
  }
}

static JsonObject *
show_json (const char  *dir,
           JsonParser **out_parser)
{
  const char *args[] = { "show", "--dir", dir, "--json", NULL };
  g_autofree char *out = NULL, *err = NULL;
  g_autoptr(GError) error = NULL;

  g_assert_cmpint (pp_test_run_termsim (args, &out, &err), ==, 0);
  *out_parser = json_parser_new ();
  g_assert_true (json_parser_load_from_data (*out_parser, out, -1, &error));
  g_assert_no_error (error);
  return json_node_get_object (json_parser_get_root (*out_parser));
}

static JsonArray *
shown_keys (const char  *dir,
            JsonParser **out_parser)
{
  return json_object_get_array_member (show_json (dir, out_parser), "keys");
}

/* ---- the station ---- */

static void
store_result (GObject      *source,
              GAsyncResult *result,
              gpointer      user_data)
{
  *(GAsyncResult **) user_data = g_object_ref (result);
}

static GAsyncResult *
wait_for (GAsyncResult **slot)
{
  while (*slot == NULL)
    g_main_context_iteration (NULL, TRUE);
  return *slot;
}

/* PORT opened the way the station opens it (pp_transport), HELLO done. */
static PpLink *
station_connect (const char *port,
                 guint       ack_ms,
                 guint       response_ms,
                 guint       retries)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GIOStream) stream = NULL;
  GAsyncResult *result = NULL;
  PpLink *link;

  pp_transport_open_async (port, NULL, NULL, store_result, &result);
  stream = pp_transport_open_finish (wait_for (&result), &error);
  g_assert_no_error (error);
  g_clear_object (&result);
  link = pp_link_new (stream, PP_LINK_ROLE_STATION);
  pp_link_set_timeouts (link, ack_ms, response_ms, retries);
  pp_link_connect_async (link, NULL, store_result, &result);
  g_assert_true (pp_link_connect_finish (link, wait_for (&result), &error));
  g_assert_no_error (error);
  g_clear_object (&result);
  return link;
}

static void
station_close (PpLink **link)
{
  g_clear_pointer (link, pp_link_unref);
  while (g_main_context_iteration (NULL, FALSE))
    ;
}

typedef struct {
  guint8         status;
  GBytes        *bytes;
  PpLinkTlvIndex  tlvs;
} Answer;

static void
answer_clear (Answer *a)
{
  g_clear_pointer (&a->bytes, g_bytes_unref);
}
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (Answer, answer_clear)

/* One request; FALSE with @error when the link failed. */
static gboolean
ask_full (PpLink      *link,
          guint8       command,
          GByteArray  *payload,
          Answer      *out,
          GError     **error)
{
  g_autoptr(GBytes) bytes = payload != NULL ? g_byte_array_free_to_bytes (payload) : g_bytes_new (NULL, 0);
  GAsyncResult *result = NULL;
  const guint8 *data;
  gsize len = 0;

  pp_link_request_async (link, command, bytes, NULL, store_result, &result);
  out->bytes = pp_link_request_finish_any (link, wait_for (&result), &out->status, error);
  g_object_unref (result);
  if (out->bytes == NULL)
    return FALSE;
  data = g_bytes_get_data (out->bytes, &len);
  g_assert_true (pp_link_tlv_index (data, len, &out->tlvs, NULL));
  return TRUE;
}

static void
ask (PpLink     *link,
     guint8      command,
     GByteArray *payload,
     Answer     *out)
{
  g_autoptr(GError) error = NULL;

  g_assert_true (ask_full (link, command, payload, out, &error));
  g_assert_no_error (error);
}

static char *
text (const Answer *a,
      guint8        tag)
{
  char *t = pp_link_tlv_index_dup_text (&a->tlvs, tag);

  g_assert_nonnull (t);
  return t;
}

static GBytes *
tlv_bytes (const Answer *a,
           guint8        tag)
{
  g_assert_nonnull (a->tlvs.value[tag]);
  return g_bytes_new (a->tlvs.value[tag], a->tlvs.len[tag]);
}

static GByteArray *
with_token (GBytes *token)
{
  GByteArray *p = g_byte_array_new ();

  pp_link_tlv_put (p, PP_TAG_TOKEN, g_bytes_get_data (token, NULL), g_bytes_get_size (token));
  return p;
}

/* The station's half of an injection up to the KT_KDH: identify, read and
 * check CT_KRD, bind, fetch a nonce, build the token for a fresh TMK. */
static GBytes *
prepare_load (PpLink      *link,
              const char  *serial,
              char       **out_kcv)
{
  const PpTestPki *pki = pp_test_pki_get ();
  g_autoptr(PpTr34Kdh) kdh = pp_tr34_kdh_new (pki->kdh, pp_tr34_sign_with_pkey, pki->kdh_key, NULL);
  g_autoptr(PpSecureBuffer) tmk = pp_secure_buffer_new (16);
  g_autoptr(GError) error = NULL;
  g_autoptr(GBytes) ct_krd = NULL, ct_kdh = NULL, rt = NULL;
  g_autoptr(PpTr34Token) rt_parsed = NULL;
  g_autoptr(X509) krd = NULL;
  g_auto(Answer) id = { 0, };
  g_auto(Answer) ct = { 0, };
  g_auto(Answer) bound = { 0, };
  g_auto(Answer) nonce = { 0, };
  g_autofree char *got_serial = NULL;
  STACK_OF(X509) *cas = sk_X509_new_null ();
  GBytes *token;

  pp_tr34_kdh_set_crl (kdh, pki->crl);
  g_assert_cmpint (RAND_bytes (pp_secure_buffer_get_data (tmk), 16), ==, 1);
  *out_kcv = pp_kcv_compute (PP_KEY_ALGORITHM_TDES, tmk, 3, &error);
  g_assert_no_error (error);

  ask (link, PP_CMD_IDENTIFY, NULL, &id);
  got_serial = text (&id, PP_TAG_SERIAL);
  g_assert_cmpstr (got_serial, ==, serial);
  ask (link, PP_CMD_GET_CT_KRD, NULL, &ct);
  g_assert_cmpuint (ct.status, ==, PP_STATUS_OK);
  ct_krd = tlv_bytes (&ct, PP_TAG_TOKEN);
  sk_X509_push (cas, pki->ca_krd);
  krd = pp_tr34_kdh_receive_krd_credential (g_bytes_get_data (ct_krd, NULL), g_bytes_get_size (ct_krd),
                                            cas, serial, NULL, &error);
  sk_X509_free (cas);
  g_assert_no_error (error);
  ct_kdh = pp_tr34_kdh_build_credential_token (kdh, &error);
  g_assert_no_error (error);
  ask (link, PP_CMD_BIND, with_token (ct_kdh), &bound);
  g_assert_cmpuint (bound.status, ==, PP_STATUS_OK);
  ask (link, PP_CMD_GET_RT_KRD, NULL, &nonce);
  g_assert_cmpuint (nonce.status, ==, PP_STATUS_OK);
  rt = tlv_bytes (&nonce, PP_TAG_TOKEN);
  rt_parsed = pp_tr34_token_parse (g_bytes_get_data (rt, NULL), g_bytes_get_size (rt), &error);
  g_assert_no_error (error);
  token = pp_tr34_kdh_build_key_token (kdh, krd, tmk, TMK_HEADER, PP_TR34_EPHEMERAL_AES128,
                                       pp_tr34_token_get_nonce (rt_parsed), NULL, &error);
  g_assert_no_error (error);
  return token;
}

static void
assert_loaded (const Answer *load,
               const char   *kcv)
{
  g_autofree char *got = NULL;

  g_assert_cmpuint (load->status, ==, PP_STATUS_OK);
  got = text (load, PP_TAG_KCV);
  g_assert_cmpstr (got, ==, kcv);
}

/* ---- a noisy line: the link's retransmission carries the requests ---- */

/* The sums of "link faults: C frames corrupted, D frames dropped" lines. */
static void
fault_counts (const char *log,
              guint      *corrupted,
              guint      *dropped)
{
  const char *at = log;

  *corrupted = *dropped = 0;
  while ((at = strstr (at, "link faults: ")) != NULL)
    {
      guint c = 0, d = 0;

      g_assert_cmpint (sscanf (at, "link faults: %u frames corrupted, %u frames dropped", &c, &d), ==, 2);
      *corrupted += c;
      *dropped += d;
      at++;
    }
}

static void
check_noisy (const char *fault,
             gboolean    corrupt)
{
  guint corrupted = 0, dropped = 0;
  g_auto(Terminal) t = { 0, };
  g_autoptr(JsonParser) p = NULL;
  g_autoptr(GBytes) token = NULL;
  g_autofree char *kcv = NULL, *err = NULL, *port = NULL;
  const char *args[] = { "--tcp", "127.0.0.1:0", fault, "0.05", "--fault-seed", "7", NULL };
  g_auto(Answer) load = { 0, };
  Server server = { 0, };
  PpLink *link;
  JsonArray *keys;

  terminal_init (&t, "PF0001", "1");
  port = server_start (&server, t.dir, args);
  /* Short timeouts so that a lost frame costs little; plenty of retries. */
  link = station_connect (port, 200, 1500, 10);
  for (guint i = 0; i < 30; i++)
    {
      g_auto(Answer) id = { 0, };
      g_autofree char *serial = NULL;

      ask (link, PP_CMD_IDENTIFY, NULL, &id);
      serial = text (&id, PP_TAG_SERIAL);
      g_assert_cmpstr (serial, ==, "PF0001");
    }
  token = prepare_load (link, "PF0001", &kcv);
  ask (link, PP_CMD_LOAD_KEY, with_token (token), &load);
  /* Had a retransmitted LOAD_KEY run twice, the second (nonce spent) would
   * have been the answer, and show would tell. */
  assert_loaded (&load, kcv);
  station_close (&link);
  server_wait_log (&server, "link faults: ");
  err = server_stop (&server);
  /* The faults did happen (the terminal says so at each connection's end). */
  g_test_message ("termsim: %s", err);
  fault_counts (err, &corrupted, &dropped);
  g_assert_cmpuint (corrupt ? corrupted : dropped, >, 0);
  g_assert_cmpuint (corrupt ? dropped : corrupted, ==, 0);

  keys = shown_keys (t.dir, &p);
  g_assert_cmpuint (json_array_get_length (keys), ==, 1);
  g_assert_cmpstr (json_object_get_string_member (json_array_get_object_element (keys, 0), "kcv"), ==, kcv);
}

static void
test_corrupt (void)
{
  check_noisy ("--corrupt", TRUE);
}

static void
test_drop (void)
{
  check_noisy ("--drop", FALSE);
}

/* ---- pulling the cable at LOAD_KEY ---- */

static void
test_disconnect_before (void)
{
  g_auto(Terminal) t = { 0, };
  g_autoptr(JsonParser) p1 = NULL, p2 = NULL;
  g_autoptr(GBytes) token = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *kcv = NULL, *err = NULL, *port = NULL;
  const char *args[] = { "--tcp", "127.0.0.1:0", "--disconnect-after", "LOAD_KEY", NULL };
  g_auto(Answer) lost = { 0, };
  g_auto(Answer) retry = { 0, };
  Server server = { 0, };
  PpLink *link;

  terminal_init (&t, "PF0002", "1");
  port = server_start (&server, t.dir, args);
  link = station_connect (port, 1000, 5000, 3);
  token = prepare_load (link, "PF0002", &kcv);
  g_assert_false (ask_full (link, PP_CMD_LOAD_KEY, with_token (token), &lost, &error));
  g_assert_error (error, PP_LINK_ERROR, PP_LINK_ERROR_CLOSED);
  station_close (&link);
  /* It never ran: the old state (no key) is intact. */
  g_assert_cmpuint (json_array_get_length (shown_keys (t.dir, &p1)), ==, 0);

  /* A retry of the very token is safe: its nonce was never spent. */
  link = station_connect (port, 1000, 5000, 3);
  ask (link, PP_CMD_LOAD_KEY, with_token (token), &retry);
  assert_loaded (&retry, kcv);
  station_close (&link);
  err = server_stop (&server);
  g_assert_cmpuint (json_array_get_length (shown_keys (t.dir, &p2)), ==, 1);
}

static void
test_disconnect_after (void)
{
  g_auto(Terminal) t = { 0, };
  g_autoptr(JsonParser) p = NULL;
  g_autoptr(GBytes) token = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *kcv = NULL, *err = NULL, *port = NULL, *message = NULL, *serial = NULL;
  const char *args[] = { "--tcp", "127.0.0.1:0", "--disconnect-after", "after-LOAD_KEY", NULL };
  g_auto(Answer) lost = { 0, };
  g_auto(Answer) retry = { 0, };
  g_auto(Answer) id = { 0, };
  Server server = { 0, };
  PpLink *link;
  JsonArray *keys;
  guint64 reason = 0;

  terminal_init (&t, "PF0003", "1");
  port = server_start (&server, t.dir, args);
  link = station_connect (port, 1000, 5000, 3);
  token = prepare_load (link, "PF0003", &kcv);
  g_assert_false (ask_full (link, PP_CMD_LOAD_KEY, with_token (token), &lost, &error));
  g_assert_error (error, PP_LINK_ERROR, PP_LINK_ERROR_CLOSED);
  station_close (&link);

  /* It ran: the new key is there with the station's KCV. */
  keys = shown_keys (t.dir, &p);
  g_assert_cmpuint (json_array_get_length (keys), ==, 1);
  g_assert_cmpstr (json_object_get_string_member (json_array_get_object_element (keys, 0), "kcv"), ==, kcv);

  /* A retry of the same token is refused (its nonce is spent), so the
   * station cannot load it twice; it finds the terminal there and bound. */
  link = station_connect (port, 1000, 5000, 3);
  ask (link, PP_CMD_LOAD_KEY, with_token (token), &retry);
  g_assert_cmpuint (retry.status, ==, PP_STATUS_REFUSED);
  g_assert_true (pp_link_tlv_index_get_uint (&retry.tlvs, PP_TAG_REASON, 2, &reason));
  g_assert_cmpuint (reason, ==, PP_TERMSIM_REASON_TR34 + PP_TR34_ERROR_NONCE_REUSED);
  message = text (&retry, PP_TAG_MESSAGE);
  g_assert_cmpstr (message, !=, "");
  ask (link, PP_CMD_IDENTIFY, NULL, &id);
  serial = text (&id, PP_TAG_SERIAL);
  g_assert_cmpstr (serial, ==, "PF0003");
  g_assert_nonnull (id.tlvs.value[PP_TAG_BOUND_KDH]);
  station_close (&link);
  err = server_stop (&server);
}

/* A replayed LOAD_KEY: the same KT_KDH sent again, in the same session
 * (a new request, not a retransmission) and after a restart, is refused
 * by the terminal: its nonce is spent. The key stays loaded once. */
static void
test_replayed_load_key (void)
{
  g_auto(Terminal) t = { 0, };
  g_autoptr(JsonParser) p = NULL;
  g_autoptr(GBytes) token = NULL;
  g_autofree char *kcv = NULL, *err = NULL, *port = NULL;
  const char *args[] = { "--tcp", "127.0.0.1:0", NULL };
  g_auto(Answer) first = { 0, };
  g_auto(Answer) again = { 0, };
  g_auto(Answer) restarted = { 0, };
  Server server = { 0, };
  PpLink *link;
  guint64 reason = 0;

  terminal_init (&t, "PF0007", "1");
  port = server_start (&server, t.dir, args);
  link = station_connect (port, 1000, 5000, 3);
  token = prepare_load (link, "PF0007", &kcv);
  ask (link, PP_CMD_LOAD_KEY, with_token (token), &first);
  assert_loaded (&first, kcv);
  ask (link, PP_CMD_LOAD_KEY, with_token (token), &again);
  g_assert_cmpuint (again.status, ==, PP_STATUS_REFUSED);
  g_assert_true (pp_link_tlv_index_get_uint (&again.tlvs, PP_TAG_REASON, 2, &reason));
  g_assert_cmpuint (reason, ==, PP_TERMSIM_REASON_TR34 + PP_TR34_ERROR_NONCE_REUSED);
  station_close (&link);
  err = server_stop (&server);

  g_free (port);
  port = server_start (&server, t.dir, args);
  link = station_connect (port, 1000, 5000, 3);
  ask (link, PP_CMD_LOAD_KEY, with_token (token), &restarted);
  g_assert_cmpuint (restarted.status, ==, PP_STATUS_REFUSED);
  g_assert_true (pp_link_tlv_index_get_uint (&restarted.tlvs, PP_TAG_REASON, 2, &reason));
  g_assert_cmpuint (reason, ==, PP_TERMSIM_REASON_TR34 + PP_TR34_ERROR_NONCE_REUSED);
  station_close (&link);
  g_free (err);
  err = server_stop (&server);
  g_assert_cmpuint (json_array_get_length (shown_keys (t.dir, &p)), ==, 1);
}

/* ---- a slow line ---- */

static void
test_emulate_baud (void)
{
  g_auto(Terminal) t = { 0, };
  g_autofree char *port = NULL, *err = NULL, *serial = NULL;
  const char *args[] = { "--tcp", "127.0.0.1:0", "--emulate-baud", "9600", NULL };
  g_autoptr(GByteArray) payload = g_byte_array_new ();
  g_autofree guint8 *filler = g_malloc0 (4096);
  g_auto(Answer) id = { 0, };
  Server server = { 0, };
  PpLink *link;
  gint64 start;
  double seconds, floor_s;

  terminal_init (&t, "PF0004", "1");
  port = server_start (&server, t.dir, args);
  /* At 9600 baud a 4 KiB frame takes 4.3 s to arrive: a station set for it. */
  link = station_connect (port, 15000, 15000, 2);
  /* IDENTIFY with 4 KiB of a tag the terminal ignores. */
  pp_link_tlv_put (payload, 0x6F, filler, 4096);
  start = g_get_monotonic_time ();
  ask (link, PP_CMD_IDENTIFY, g_steal_pointer (&payload), &id);
  seconds = (double) (g_get_monotonic_time () - start) / G_USEC_PER_SEC;
  serial = text (&id, PP_TAG_SERIAL);
  g_assert_cmpstr (serial, ==, "PF0004");
  station_close (&link);
  err = server_stop (&server);
  /* 10 bits a byte: only a lower bound (a loaded machine is slower, never faster). */
  floor_s = 4099.0 * 10 / 9600;
  g_test_message ("4 KiB request at 9600 baud: %.2f s (at least %.2f s)", seconds, floor_s);
  g_assert_cmpfloat (seconds, >=, floor_s);
}

/* ---- refusals of the options ---- */

static void
test_bad_options (void)
{
  g_auto(Terminal) t = { 0, };
  const char *bad[][3] = {
    { "--corrupt", "1.5", "--corrupt" },
    { "--drop", "x", "--drop" },
    { "--disconnect-after", "LUNCH", "LOAD_KEY" },
    { "--emulate-baud", "-3", "--emulate-baud" },
  };

  terminal_init (&t, "PF0005", "1");
  for (guint i = 0; i < G_N_ELEMENTS (bad); i++)
    {
      const char *args[] = { "serve", "--dir", t.dir, "--tcp", "127.0.0.1:0", bad[i][0], bad[i][1], NULL };
      g_autofree char *o = NULL, *e = NULL;

      g_assert_cmpint (pp_test_run_termsim (args, &o, &e), ==, 1);
      g_assert_nonnull (strstr (e, bad[i][2]));
      g_assert_cmpstr (o, ==, "");
    }
}

/* ---- serve --pty through the real libserialport, and a fleet ---- */

static void
test_pty (void)
{
  g_auto(Terminal) t = { 0, };
  g_autofree char *slave = NULL, *err = NULL, *serial = NULL;
  const char *args[] = { "--pty", NULL };
  g_auto(Answer) id = { 0, };
  Server server = { 0, };
  PpLink *link;

  if (pp_pty_rig_skip ())
    return;
  terminal_init (&t, "PF0006", "1");
  slave = server_start (&server, t.dir, args);
  g_assert_true (g_str_has_prefix (slave, "/dev/pts/"));
  pp_pty_rig_mount (slave);
  /* The station opens the serial port by its name, as a user would. */
  link = station_connect (pp_pty_rig.target, 1000, 5000, 3);
  ask (link, PP_CMD_IDENTIFY, NULL, &id);
  serial = text (&id, PP_TAG_SERIAL);
  g_assert_cmpstr (serial, ==, "PF0006");
  station_close (&link);
  pp_pty_rig_umount ();
  err = server_stop (&server);
}

static void
test_fleet (void)
{
  g_auto(Terminal) t = { 0, };
  const char *args[] = { "--tcp", "127.0.0.1:0", "--count", "4", NULL };
  const char *serials[] = { "FL0098", "FL0099", "FL0100", "FL0101" };
  g_autoptr(GPtrArray) ports = g_ptr_array_new_with_free_func (g_free);
  g_autofree char *err = NULL;
  g_autoptr(GError) error = NULL;
  Server server = { 0, };

  terminal_init (&t, "FL0098", "4");
  g_ptr_array_add (ports, server_start (&server, t.dir, args));
  for (guint i = 1; i < 4; i++)
    {
      char *line = g_data_input_stream_read_line_utf8 (server.lines, NULL, NULL, &error);

      g_assert_no_error (error);
      g_assert_nonnull (line);
      g_ptr_array_add (ports, line);
    }
  for (guint i = 0; i < 4; i++)
    {
      const char *port = g_ptr_array_index (ports, i);
      g_auto(Answer) id = { 0, };
      g_autofree char *serial = NULL;
      PpLink *link;

      g_assert_true (g_str_has_prefix (port, "tcp:127.0.0.1:"));
      for (guint j = 0; j < i; j++)
        g_assert_cmpstr (port, !=, g_ptr_array_index (ports, j));
      link = station_connect (port, 1000, 5000, 3);
      ask (link, PP_CMD_IDENTIFY, NULL, &id);
      serial = text (&id, PP_TAG_SERIAL);
      g_assert_cmpstr (serial, ==, serials[i]);
      station_close (&link);
    }
  err = server_stop (&server);
}

int
main (int    argc,
      char **argv)
{
  pp_pty_rig_reexec (argv);
  g_test_init (&argc, &argv, NULL);
  pp_pty_rig_init ();
  if (pp_pty_rig.target == NULL)
    g_test_message ("the pty test skips: %s", pp_pty_rig.skip_reason);

  g_test_add_func ("/termsim-faults/corrupt", test_corrupt);
  g_test_add_func ("/termsim-faults/drop", test_drop);
  g_test_add_func ("/termsim-faults/disconnect-before", test_disconnect_before);
  g_test_add_func ("/termsim-faults/disconnect-after", test_disconnect_after);
  g_test_add_func ("/termsim-faults/replayed-load-key", test_replayed_load_key);
  g_test_add_func ("/termsim-faults/emulate-baud", test_emulate_baud);
  g_test_add_func ("/termsim-faults/bad-options", test_bad_options);
  g_test_add_func ("/termsim-faults/pty", test_pty);
  g_test_add_func ("/termsim-faults/fleet", test_fleet);
  return g_test_run ();
}
