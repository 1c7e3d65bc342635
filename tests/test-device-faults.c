/* SPDX-License-Identifier: GPL-3.0-or-later
 *
 * test-device-faults.c: the real posprov-tool device commands against the
 * real posprov-termsim when things go wrong (issue 7, "Faults and bad
 * input"): a hang-up at every protocol step (--disconnect-after), each
 * with the step named, the terminal's keys as `show --json` reports them,
 * a safe retry and every TMK accounted for in the key store; the same
 * identify / bind / inject / zeroize bodies over TCP and over a serial
 * port through the real libserialport (tests/pp-pty-rig.c); and the error
 * messages a field manager reads.
 */
#include "config.h"

#include <string.h>
#include <sys/file.h>
#include <fcntl.h>
#include <unistd.h>

#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include "pp-keystore.h"
#include "pp-link-frame.h"
#include "pp-link-tlv.h"
#include "pp-openssl-types.h"
#include "pp-pty-rig.h"
#include "pp-termsim.h"
#include "pp-termsim-server.h"
#include "pp-test-util.h"
#include "tr34-test-pki.h"

#define KEY_STORE_SECRET "tidy-otter-lamp-keystore"

/* ---- a terminal folder and the station's files ---------------------------- */

typedef struct {
  char *serial;
  char *base;
  char *dir;
  char *krd_trust;
  char *kdh_cert;
  char *kdh_key;
  char *crl;
  char *store;
  char *ca;
  char *ca_key;
} Fixture;

static void
write_pem_key (const char *path,
               EVP_PKEY   *key)
{
  g_autoptr(BIO) bio = BIO_new_file (path, "w");

  g_assert_cmpint (PEM_write_bio_PrivateKey (bio, key, NULL, NULL, 0, NULL, NULL), ==, 1);
}

/* @factory: the terminal issues its own certificate; else it holds a CSR. */
static void
fixture_init (Fixture    *f,
              const char *serial,
              gboolean    factory)
{
  const PpTestPki *pki = pp_test_pki_get ();
  g_autofree char *trust = NULL, *out = NULL, *err = NULL;

  f->serial = g_strdup (serial);
  f->base = pp_test_make_tmpdir ();
  f->dir = g_build_filename (f->base, "term", NULL);
  f->krd_trust = g_build_filename (f->base, "krd-trust.pem", NULL);
  f->kdh_cert = g_build_filename (f->base, "kdh.pem", NULL);
  f->kdh_key = g_build_filename (f->base, "kdh.key", NULL);
  f->crl = g_build_filename (f->base, "crl.der", NULL);
  f->store = g_build_filename (f->base, "store", NULL);
  f->ca = g_build_filename (f->base, "ca-krd.pem", NULL);
  f->ca_key = g_build_filename (f->base, "ca-krd.key", NULL);
  trust = g_build_filename (f->base, "trust.pem", NULL);
  pp_test_pki_write (pki, f->base);
  write_pem_key (f->ca_key, pki->ca_krd_key);
  {
    g_autoptr(BIO) bio = BIO_new_file (f->krd_trust, "w");

    g_assert_cmpint (PEM_write_bio_X509 (bio, pki->root), ==, 1);
    g_assert_cmpint (PEM_write_bio_X509 (bio, pki->ca_krd), ==, 1);
  }
  {
    const char *init[] = { "init", "--dir", f->dir, "--serial", serial, "--vendor", "Acme", "--model", "X1",
                           "--trust", trust, "--ca-krd-cert", f->ca, "--ca-krd-key", f->ca_key, NULL };

    if (!factory)
      init[11] = NULL;
    g_assert_cmpint (pp_test_run_termsim (init, &out, &err), ==, 0);
  }
}

static void
fixture_clear (Fixture *f)
{
  g_free (f->serial);
  g_free (f->base);
  g_free (f->dir);
  g_free (f->krd_trust);
  g_free (f->kdh_cert);
  g_free (f->kdh_key);
  g_free (f->crl);
  g_free (f->store);
  g_free (f->ca);
  g_free (f->ca_key);
}

G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (Fixture, fixture_clear)

/* ---- what a user checks ----------------------------------------------------- */

static JsonNode *
show (const Fixture *f)
{
  const char *args[] = { "show", "--dir", f->dir, "--json", NULL };
  g_autofree char *out = NULL, *err = NULL;
  g_autoptr(GError) error = NULL;
  JsonNode *node;

  g_assert_cmpint (pp_test_run_termsim (args, &out, &err), ==, 0);
  node = json_from_string (out, &error);
  g_assert_no_error (error);
  return node;
}

/* The KCVs `show` lists, comma-separated ("" for none). */
static char *
shown_kcvs (const Fixture *f)
{
  g_autoptr(JsonNode) node = show (f);
  JsonArray *keys = json_object_get_array_member (json_node_get_object (node), "keys");
  g_autoptr(GString) kcvs = g_string_new (NULL);

  for (guint i = 0; i < json_array_get_length (keys); i++)
    g_string_append_printf (kcvs, "%s%s", i > 0 ? "," : "",
                            json_object_get_string_member (json_array_get_object_element (keys, i), "kcv"));
  return g_string_free (g_steal_pointer (&kcvs), FALSE);
}

static gboolean
shown_bound (const Fixture *f)
{
  g_autoptr(JsonNode) node = show (f);

  return !json_node_is_null (json_object_get_member (json_node_get_object (node), "bound_kdh"));
}

static gboolean
shown_certified (const Fixture *f)
{
  g_autoptr(JsonNode) node = show (f);

  return !json_node_is_null (json_object_get_member (json_node_get_object (node), "certificate"));
}

/* The TMK files of the soft key store. */
static guint
store_tmks (const Fixture *f)
{
  g_autoptr(GDir) dir = g_dir_open (f->store, 0, NULL);
  g_autofree char *prefix = g_strconcat ("tmk-", f->serial, NULL);
  const char *name;
  guint n = 0;

  while (dir != NULL && (name = g_dir_read_name (dir)) != NULL)
    if (g_str_has_prefix (name, prefix))
      n++;
  return n;
}

/* The delivery record, as "STATE:KCV" items, oldest first. */
static char *
deliveries (const Fixture *f)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(PpKeyStore) store = pp_key_store_soft_new (f->store, KEY_STORE_SECRET, &error);
  g_autoptr(GPtrArray) list = NULL;
  g_autoptr(GString) text = g_string_new (NULL);

  g_assert_no_error (error);
  list = pp_key_store_list_tmk_deliveries (store, f->serial, &error);
  g_assert_no_error (error);
  for (guint i = 0; i < list->len; i++)
    {
      const PpTmkDelivery *d = g_ptr_array_index (list, i);

      g_string_append_printf (text, "%s%s:%s", i > 0 ? "," : "", pp_tmk_delivery_state_to_string (d->state), d->kcv);
    }
  return g_string_free (g_steal_pointer (&text), FALSE);
}

/* ---- the tool's commands ------------------------------------------------------ */

typedef struct {
  int   status;
  char *out;
  char *err;
} Run;

static void
run_clear (Run *r)
{
  g_clear_pointer (&r->out, g_free);
  g_clear_pointer (&r->err, g_free);
}

G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (Run, run_clear)

static void
tool (Run                *r,
      const char * const *args)
{
  run_clear (r);
  r->status = pp_test_run_tool (args, NULL, &r->out, &r->err);
}

static void
identify (Run        *r,
          const char *port)
{
  const char *args[] = { "device", "identify", port, "--json", NULL };

  tool (r, args);
}

static void
certify (Run           *r,
         const Fixture *f,
         const char    *port)
{
  const char *args[] = { "device", "certify", port, "--ca-krd-cert", f->ca, "--ca-krd-key", f->ca_key,
                         "--expect-serial", f->serial, NULL };

  tool (r, args);
}

static void
bind (Run           *r,
      const Fixture *f,
      const char    *port)
{
  const char *args[] = { "device", "bind", port, "--kdh-cert", f->kdh_cert, "--kdh-crl", f->crl,
                         "--krd-trust", f->krd_trust, "--expect-serial", f->serial, NULL };

  tool (r, args);
}

static void
inject (Run           *r,
        const Fixture *f,
        const char    *port)
{
  const char *args[] = { "device", "inject", port, "--kdh-cert", f->kdh_cert, "--kdh-key", f->kdh_key,
                         "--krd-trust", f->krd_trust, "--key-store", f->store, "--key-type", "tdes2",
                         "--expect-serial", f->serial, "--json", NULL };

  tool (r, args);
}

static void
zeroize (Run        *r,
         const char *port)
{
  const char *args[] = { "device", "zeroize", port, NULL };

  tool (r, args);
}

/* The KCV `inject --json` printed. */
static char *
printed_kcv (const Run *r)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonNode) node = json_from_string (r->out, &error);
  JsonObject *o;

  g_assert_no_error (error);
  o = json_node_get_object (node);
  /* serial, kcv and the TMK's label: never a key. */
  g_assert_cmpuint (json_object_get_size (o), ==, 3);
  g_assert_true (g_str_has_prefix (json_object_get_string_member (o, "tmk_label"), "tmk-"));
  return g_strdup (json_object_get_string_member (o, "kcv"));
}

#define assert_ok(r) G_STMT_START { \
    if ((r)->status != 0) \
      g_error ("tool failed (%d): %s", (r)->status, (r)->err); \
  } G_STMT_END

#define assert_failed_with(r, text) G_STMT_START { \
    g_assert_cmpint ((r)->status, ==, 1); \
    if (strstr ((r)->err, (text)) == NULL) \
      g_error ("stderr lacks “%s”: %s", (text), (r)->err); \
  } G_STMT_END

/* ---- a served terminal, on TCP or on a serial port ---------------------------- */

typedef struct {
  PpTestTermsimServer server;
  char               *port;
  gboolean            mounted;
} Served;

/* @transport "tcp" or "serial"; @fault: NULL or "STEP" for --disconnect-after. */
static void
serve (Served        *s,
       const Fixture *f,
       const char    *transport,
       const char    *fault)
{
  const char *args[6] = { NULL, };
  guint n = 0;
  g_autofree char *line = NULL;

  if (g_str_equal (transport, "serial"))
    args[n++] = "--pty";
  else
    {
      args[n++] = "--tcp";
      args[n++] = "127.0.0.1:0";
    }
  if (fault != NULL)
    {
      args[n++] = "--disconnect-after";
      args[n++] = fault;
    }
  line = pp_test_termsim_start_args (&s->server, f->dir, args);
  if (g_str_equal (transport, "serial"))
    {
      /* The station opens the serial port by its name, as a user would. */
      pp_pty_rig_mount (line);
      s->mounted = TRUE;
      s->port = g_strdup (pp_pty_rig.target);
    }
  else
    s->port = g_steal_pointer (&line);
}

static void
unserve (Served *s)
{
  pp_test_termsim_stop (&s->server);
  if (s->mounted)
    pp_pty_rig_umount ();
  s->mounted = FALSE;
  g_clear_pointer (&s->port, g_free);
}

/* A bound terminal, ready for inject. */
static void
prepare_bound (const Fixture *f)
{
  g_auto(Run) r = { 0, };
  Served s = { 0, };

  serve (&s, f, "tcp", NULL);
  bind (&r, f, s.port);
  assert_ok (&r);
  unserve (&s);
}

/* ---- identify, bind, inject and zeroize: one body, two transports ------------- */

static void
test_commands (gconstpointer data)
{
  const char *transport = data;
  g_auto(Fixture) f = { 0, };
  g_auto(Run) r = { 0, };
  g_autofree char *kcv = NULL, *shown = NULL;
  Served s = { 0, };

  if (g_str_equal (transport, "serial") && pp_pty_rig_skip ())
    return;
  fixture_init (&f, g_str_equal (transport, "serial") ? "PF7101" : "PF7001", TRUE);
  serve (&s, &f, transport, NULL);

  identify (&r, s.port);
  assert_ok (&r);
  {
    g_autoptr(JsonNode) node = json_from_string (r.out, NULL);
    JsonObject *o = json_node_get_object (node);

    g_assert_cmpstr (json_object_get_string_member (o, "serial"), ==, f.serial);
    g_assert_true (json_node_is_null (json_object_get_member (o, "bound_kdh")));
    g_assert_cmpuint (json_array_get_length (json_object_get_array_member (o, "keys")), ==, 0);
  }

  bind (&r, &f, s.port);
  assert_ok (&r);
  g_assert_true (shown_bound (&f));

  inject (&r, &f, s.port);
  assert_ok (&r);
  kcv = printed_kcv (&r);
  shown = shown_kcvs (&f);
  g_assert_cmpstr (shown, ==, kcv);
  g_assert_cmpuint (store_tmks (&f), ==, 1);
  {
    g_autofree char *record = deliveries (&f);
    g_autofree char *expected = g_strdup_printf ("confirmed:%s", kcv);

    g_assert_cmpstr (record, ==, expected);
  }

  /* IDENTIFY reports the key by its KCV (what settles a lost answer). */
  identify (&r, s.port);
  assert_ok (&r);
  {
    g_autoptr(JsonNode) node = json_from_string (r.out, NULL);
    JsonArray *keys = json_object_get_array_member (json_node_get_object (node), "keys");

    g_assert_cmpuint (json_array_get_length (keys), ==, 1);
    g_assert_cmpstr (json_object_get_string_member (json_array_get_object_element (keys, 0), "kcv"), ==, kcv);
    g_assert_cmpstr (json_object_get_string_member (json_array_get_object_element (keys, 0), "usage"), ==, "K0");
  }

  zeroize (&r, s.port);
  assert_ok (&r);
  g_assert_nonnull (strstr (r.out, "zeroized"));
  g_clear_pointer (&shown, g_free);
  shown = shown_kcvs (&f);
  g_assert_cmpstr (shown, ==, "");
  g_assert_false (shown_bound (&f));
  unserve (&s);
}

/* ---- a hang-up at every step ----------------------------------------------------- */

/* identify: the step is named; a retry answers. */
static void
test_disconnect_identify (void)
{
  g_auto(Fixture) f = { 0, };
  g_auto(Run) r = { 0, };
  Served s = { 0, };

  fixture_init (&f, "PF7002", TRUE);
  serve (&s, &f, "tcp", "IDENTIFY");
  identify (&r, s.port);
  assert_failed_with (&r, "The terminal went away (step: identify)");
  identify (&r, s.port);
  assert_ok (&r);
  unserve (&s);
}

/* certify: GET_CSR and PUT_CERT, before the terminal acted and after. */
static void
test_disconnect_certify (gconstpointer data)
{
  const char *step = data;
  gboolean after = g_str_has_prefix (step, "after-");
  g_auto(Fixture) f = { 0, };
  g_auto(Run) r = { 0, };
  Served s = { 0, };

  fixture_init (&f, "PF7003", FALSE);
  serve (&s, &f, "tcp", step);
  certify (&r, &f, s.port);
  assert_failed_with (&r, strstr (step, "GET_CSR") != NULL ? "(step: certificate request)"
                                                           : "(step: device certificate)");
  /* The terminal took the certificate only once it ran PUT_CERT. */
  g_assert_true (shown_certified (&f) == after);
  certify (&r, &f, s.port);
  if (after)
    assert_failed_with (&r, "already holds a device certificate: nothing was sent");
  else
    assert_ok (&r);
  g_assert_true (shown_certified (&f));
  /* Either way the terminal can go on: its certificate checks out. */
  bind (&r, &f, s.port);
  assert_ok (&r);
  unserve (&s);
}

/* bind: GET_CT_KRD and BIND; after BIND the same CT_KDH is answered OK. */
static void
test_disconnect_bind (gconstpointer data)
{
  const char *step = data;
  gboolean after = g_str_has_prefix (step, "after-");
  g_auto(Fixture) f = { 0, };
  g_auto(Run) r = { 0, };
  Served s = { 0, };

  fixture_init (&f, "PF7004", TRUE);
  serve (&s, &f, "tcp", step);
  bind (&r, &f, s.port);
  assert_failed_with (&r, strstr (step, "GET_CT_KRD") != NULL ? "(step: credential token CT_KRD)"
                                                              : "(step: bind)");
  g_assert_true (shown_bound (&f) == after);
  bind (&r, &f, s.port);
  assert_ok (&r);
  g_assert_true (shown_bound (&f));
  unserve (&s);
}

/* inject before a key exists (GET_CT_KRD, GET_RT_KRD): no key anywhere. */
static void
test_disconnect_inject_early (gconstpointer data)
{
  const char *step = data;
  g_auto(Fixture) f = { 0, };
  g_auto(Run) r = { 0, };
  g_autofree char *kcv = NULL, *shown = NULL, *record = NULL;
  Served s = { 0, };

  fixture_init (&f, "PF7005", TRUE);
  prepare_bound (&f);
  serve (&s, &f, "tcp", step);
  inject (&r, &f, s.port);
  assert_failed_with (&r, g_str_equal (step, "GET_CT_KRD") ? "(step: credential token CT_KRD)"
                                                           : "(step: nonce RT_KRD)");
  shown = shown_kcvs (&f);
  g_assert_cmpstr (shown, ==, "");
  /* Nothing was generated for a terminal that went away first. */
  g_assert_cmpuint (store_tmks (&f), ==, 0);
  inject (&r, &f, s.port);
  assert_ok (&r);
  kcv = printed_kcv (&r);
  g_clear_pointer (&shown, g_free);
  shown = shown_kcvs (&f);
  g_assert_cmpstr (shown, ==, kcv);
  g_assert_cmpuint (store_tmks (&f), ==, 1);
  record = deliveries (&f);
  g_assert_true (g_str_has_prefix (record, "confirmed:"));
  unserve (&s);
}

/* LOAD_KEY lost before the terminal ran it: the station cannot know; the
 * key stays "sent, unconfirmed" until identify --key-store finds the
 * terminal without it and discards it; a retry loads a fresh one. */
static void
test_disconnect_load_key_before (void)
{
  g_auto(Fixture) f = { 0, };
  g_auto(Run) r = { 0, };
  g_autofree char *shown = NULL, *record = NULL, *kcv = NULL, *expected = NULL;
  g_autofree char *first = NULL;
  Served s = { 0, };

  fixture_init (&f, "PF7006", TRUE);
  prepare_bound (&f);
  serve (&s, &f, "tcp", "LOAD_KEY");
  inject (&r, &f, s.port);
  assert_failed_with (&r, "(step: key load)");
  assert_failed_with (&r, "the station cannot know whether terminal PF7006 took key tmk-PF7006-");
  assert_failed_with (&r, "sent, unconfirmed");
  shown = shown_kcvs (&f);
  g_assert_cmpstr (shown, ==, "");
  record = deliveries (&f);
  g_assert_true (g_str_has_prefix (record, "sent, unconfirmed:"));
  first = g_strdup (record + strlen ("sent, unconfirmed:"));
  g_assert_cmpuint (store_tmks (&f), ==, 1);

  {
    const char *args[] = { "device", "identify", s.port, "--key-store", f.store, NULL };

    tool (&r, args);
    assert_ok (&r);
    g_assert_nonnull (strstr (r.err, "never arrived and is discarded"));
    g_assert_nonnull (strstr (r.err, first));
  }
  g_clear_pointer (&record, g_free);
  record = deliveries (&f);
  expected = g_strdup_printf ("discarded:%s", first);
  g_assert_cmpstr (record, ==, expected);

  inject (&r, &f, s.port);
  assert_ok (&r);
  kcv = printed_kcv (&r);
  g_clear_pointer (&shown, g_free);
  shown = shown_kcvs (&f);
  g_assert_cmpstr (shown, ==, kcv);
  g_clear_pointer (&record, g_free);
  g_clear_pointer (&expected, g_free);
  record = deliveries (&f);
  expected = g_strdup_printf ("discarded:%s,confirmed:%s", first, kcv);
  g_assert_cmpstr (record, ==, expected);
  unserve (&s);
}

/* LOAD_KEY ran, its answer lost: the terminal holds the key; the retry
 * finds it by its KCV, confirms it and loads nothing more. */
static void
test_disconnect_load_key_after (void)
{
  g_auto(Fixture) f = { 0, };
  g_auto(Run) r = { 0, };
  g_autofree char *shown = NULL, *record = NULL, *kcv = NULL, *expected = NULL;
  Served s = { 0, };

  fixture_init (&f, "PF7007", TRUE);
  prepare_bound (&f);
  serve (&s, &f, "tcp", "after-LOAD_KEY");
  inject (&r, &f, s.port);
  assert_failed_with (&r, "(step: key load)");
  assert_failed_with (&r, "The answer to the key load was lost");
  /* The terminal took it: its KCV is the one the key store recorded as sent. */
  shown = shown_kcvs (&f);
  record = deliveries (&f);
  expected = g_strdup_printf ("sent, unconfirmed:%s", shown);
  g_assert_cmpstr (record, ==, expected);

  inject (&r, &f, s.port);
  assert_ok (&r);
  g_assert_nonnull (strstr (r.err, "it is confirmed now"));
  kcv = printed_kcv (&r);
  g_assert_cmpstr (kcv, ==, shown);
  g_clear_pointer (&shown, g_free);
  shown = shown_kcvs (&f);
  g_assert_cmpstr (shown, ==, kcv);
  g_assert_cmpuint (store_tmks (&f), ==, 1);
  g_clear_pointer (&record, g_free);
  g_clear_pointer (&expected, g_free);
  record = deliveries (&f);
  expected = g_strdup_printf ("confirmed:%s", kcv);
  g_assert_cmpstr (record, ==, expected);
  unserve (&s);
}

/* ---- the messages a field manager reads ------------------------------------------- */

/* A listener that accepts and never says a word: no answer. */
static gpointer
silent_thread (gpointer data)
{
  GSocketListener *listener = data;
  g_autoptr(GSocketConnection) conn = g_socket_listener_accept (listener, NULL, NULL, NULL);
  guint8 buf[256];

  /* Read until the station hangs up. */
  while (conn != NULL &&
         g_input_stream_read (g_io_stream_get_input_stream (G_IO_STREAM (conn)), buf, sizeof buf, NULL, NULL) > 0)
    ;
  return NULL;
}

static void
test_message_no_answer (void)
{
  g_autoptr(GSocketListener) listener = g_socket_listener_new ();
  g_autoptr(GError) error = NULL;
  g_auto(Run) r = { 0, };
  g_autofree char *port = NULL;
  guint16 number;
  GThread *thread;

  number = g_socket_listener_add_any_inet_port (listener, NULL, &error);
  g_assert_no_error (error);
  port = g_strdup_printf ("tcp:127.0.0.1:%u", number);
  thread = g_thread_new ("silent", silent_thread, listener);
  identify (&r, port);
  assert_failed_with (&r, "No answer from the terminal");
  assert_failed_with (&r, "check the cable, the port and the baud rate for this model");
  g_thread_join (thread);
}

static void
test_message_no_port (void)
{
  g_auto(Run) r = { 0, };

  identify (&r, "/dev/ttyPOSPROV-NONE");
  assert_failed_with (&r, "No serial port /dev/ttyPOSPROV-NONE: check the cable");
}

/* A port another program holds: named with its process. */
static void
test_message_busy (void)
{
  g_auto(Fixture) f = { 0, };
  g_auto(Run) r = { 0, };
  g_autofree char *expected = NULL, *comm = NULL;
  Served s = { 0, };
  int fd;

  if (pp_pty_rig_skip ())
    return;
  fixture_init (&f, "PF7102", TRUE);
  serve (&s, &f, "serial", NULL);
  fd = open (s.port, O_RDWR | O_NOCTTY);
  g_assert_cmpint (fd, >=, 0);
  g_assert_cmpint (flock (fd, LOCK_EX | LOCK_NB), ==, 0);
  g_assert_true (g_file_get_contents ("/proc/self/comm", &comm, NULL, NULL));
  g_strchomp (comm);
  identify (&r, s.port);
  /* Two processes hold the line: this test and the simulator, which keeps
   * its own end of the pty open; either may be named (the first found in
   * /proc), and it must be one of them, by name and pid. */
  expected = g_strdup_printf ("The serial port %s is in use by the process %s (%d)", s.port, comm, (int) getpid ());
  if (strstr (r.err, expected) == NULL)
    {
      g_autofree char *by_sim = g_strdup_printf ("The serial port %s is in use by the process posprov-termsim (%d)",
                                                 s.port, (int) s.server.pid);

      g_free (expected);
      expected = g_steal_pointer (&by_sim);
    }
  assert_failed_with (&r, expected);
  close (fd);
  identify (&r, s.port);
  assert_ok (&r);
  unserve (&s);
}

/* A tampered terminal, at identify and at inject. */
static void
test_message_tampered (void)
{
  g_auto(Fixture) f = { 0, };
  g_auto(Run) r = { 0, };
  const char *args[] = { "--tcp", "127.0.0.1:0", "--tamper", NULL };
  PpTestTermsimServer server = { 0, };
  g_autofree char *port = NULL, *shown = NULL;

  fixture_init (&f, "PF7008", TRUE);
  port = pp_test_termsim_start_args (&server, f.dir, args);
  {
    const char *human[] = { "device", "identify", port, NULL };

    tool (&r, human);
    assert_ok (&r);
    g_assert_nonnull (strstr (r.out, "SECURITY ATTACK: return it for inspection, it will refuse keys"));
  }
  inject (&r, &f, port);
  assert_failed_with (&r, "The terminal is tampered (security attack: return it for inspection; it will refuse keys)");
  pp_test_termsim_stop (&server);
  shown = shown_kcvs (&f);
  g_assert_cmpstr (shown, ==, "");
}

/* The serial the terminal reports is not the one scanned from its label. */
static void
test_message_serial (void)
{
  g_auto(Fixture) f = { 0, };
  g_auto(Run) r = { 0, };
  Served s = { 0, };
  g_autofree char *shown = NULL;

  fixture_init (&f, "PF7009", TRUE);
  prepare_bound (&f);
  serve (&s, &f, "tcp", NULL);
  g_free (f.serial);
  f.serial = g_strdup ("PF7999");
  inject (&r, &f, s.port);
  assert_failed_with (&r, "The terminal reports serial PF7009, not the scanned PF7999: check that this is the right terminal; nothing was sent");
  shown = shown_kcvs (&f);
  g_assert_cmpstr (shown, ==, "");
  unserve (&s);
}

/* A device certificate valid from @from_days to @to_days from now,
 * installed on a CSR-mode terminal through its own PUT_CERT handler. */
static void
install_cert (const Fixture *f,
              int            from_days,
              int            to_days)
{
  const PpTestPki *pki = pp_test_pki_get ();
  g_autofree char *csr_path = g_build_filename (f->dir, "device.csr", NULL);
  g_autoptr(BIO) bio = BIO_new_file (csr_path, "r");
  X509_REQ *req = PEM_read_bio_X509_REQ (bio, NULL, NULL, NULL);
  g_autoptr(X509) cert = X509_new ();
  g_autoptr(GError) error = NULL;
  g_autoptr(GBytes) payload = NULL, answer = NULL;
  g_autoptr(GByteArray) tlvs = g_byte_array_new ();
  PpTermsim *sim;
  unsigned char *der = NULL;
  guint8 status = 0xFF;
  int len;

  g_assert_nonnull (req);
  g_assert_cmpint (X509_set_version (cert, 2), ==, 1);
  g_assert_cmpint (ASN1_INTEGER_set (X509_get_serialNumber (cert), 7001), ==, 1);
  g_assert_cmpint (X509_set_subject_name (cert, X509_REQ_get_subject_name (req)), ==, 1);
  g_assert_cmpint (X509_set_issuer_name (cert, X509_get_subject_name (pki->ca_krd)), ==, 1);
  g_assert_nonnull (X509_time_adj_ex (X509_getm_notBefore (cert), from_days, 0, NULL));
  g_assert_nonnull (X509_time_adj_ex (X509_getm_notAfter (cert), to_days, 0, NULL));
  g_assert_cmpint (X509_set_pubkey (cert, X509_REQ_get0_pubkey (req)), ==, 1);
  {
    X509V3_CTX ctx;
    X509_EXTENSION *ext;

    X509V3_set_ctx (&ctx, pki->ca_krd, cert, NULL, NULL, 0);
    ext = X509V3_EXT_conf_nid (NULL, &ctx, NID_key_usage, "critical,digitalSignature,keyEncipherment");
    X509_add_ext (cert, ext, -1);
    X509_EXTENSION_free (ext);
    ext = X509V3_EXT_conf_nid (NULL, &ctx, NID_basic_constraints, "critical,CA:FALSE");
    X509_add_ext (cert, ext, -1);
    X509_EXTENSION_free (ext);
  }
  g_assert_cmpint (X509_sign (cert, pki->ca_krd_key, EVP_sha256 ()), >, 0);
  X509_REQ_free (req);
  len = i2d_X509 (cert, &der);
  g_assert_cmpint (len, >, 0);
  pp_link_tlv_put (tlvs, PP_TAG_CERT, der, (gsize) len);
  OPENSSL_free (der);
  payload = g_byte_array_free_to_bytes (g_steal_pointer (&tlvs));

  sim = pp_termsim_open (f->dir, &error);
  g_assert_no_error (error);
  answer = pp_termsim_handle (sim, PP_CMD_PUT_CERT, payload, &status);
  g_assert_cmpuint (status, ==, PP_STATUS_OK);
  pp_termsim_unref (sim);
}

static void
test_message_cert_dates (void)
{
  const struct {
    int         from, to;
    const char *text;
  } cases[] = {
    { 2, 400, "The terminal's certificate is not valid yet by this PC's clock: check the PC's date: it is " },
    { -400, -2, "The terminal's certificate has expired by this PC's clock: check the PC's date: it is " },
  };

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_auto(Fixture) f = { 0, };
      g_auto(Run) r = { 0, };
      g_autoptr(GDateTime) now = g_date_time_new_now_utc ();
      g_autofree char *today = g_date_time_format (now, "%Y-%m-%d");
      Served s = { 0, };

      fixture_init (&f, i == 0 ? "PF7010" : "PF7011", FALSE);
      install_cert (&f, cases[i].from, cases[i].to);
      serve (&s, &f, "tcp", NULL);
      bind (&r, &f, s.port);
      assert_failed_with (&r, cases[i].text);
      /* ... with the PC's date, so that a wrong clock shows. */
      assert_failed_with (&r, today);
      assert_failed_with (&r, "Nothing was sent to the terminal");
      g_assert_false (shown_bound (&f));
      unserve (&s);
    }
}

/* ---- bad frames, both sides -------------------------------------------------------- */

typedef struct {
  GSocketConnection *conn;
  PpLinkDecoder     *decoder;
} Raw;

static void
raw_send (Raw    *raw,
          GBytes *bytes)
{
  g_autoptr(GError) error = NULL;
  gsize len = 0;
  const guint8 *data = g_bytes_get_data (bytes, &len);

  g_assert_true (g_output_stream_write_all (g_io_stream_get_output_stream (G_IO_STREAM (raw->conn)),
                                            data, len, NULL, NULL, &error));
  g_assert_no_error (error);
}

static void
raw_frame (Raw             *raw,
           PpLinkFrameType  type,
           guint16          seq,
           guint8           command,
           const guint8    *payload,
           gsize            len)
{
  g_autoptr(GBytes) frame = pp_link_frame_encode (type, seq, command, 0, payload, len);

  raw_send (raw, frame);
}

/* The next valid frame of @type (others skipped); FALSE after a second of nothing. */
static gboolean
raw_expect (Raw             *raw,
            PpLinkFrameType  type,
            PpLinkFrame     *out)
{
  gint64 until = g_get_monotonic_time () + 2 * G_USEC_PER_SEC;

  while (g_get_monotonic_time () < until)
    {
      g_auto(PpLinkDecodeEvent) event = { 0, };
      guint8 buf[4096];
      gssize n;

      while (pp_link_decoder_next (raw->decoder, &event))
        {
          if (event.kind == PP_LINK_DECODE_FRAME && event.frame.type == type)
            {
              *out = event.frame;
              memset (&event.frame, 0, sizeof event.frame);
              return TRUE;
            }
          pp_link_decode_event_clear (&event);
        }
      n = g_input_stream_read (g_io_stream_get_input_stream (G_IO_STREAM (raw->conn)), buf, sizeof buf, NULL, NULL);
      if (n <= 0)
        return FALSE;
      pp_link_decoder_push (raw->decoder, buf, (gsize) n);
    }
  return FALSE;
}

static GBytes *
hello_payload (void)
{
  g_autoptr(GByteArray) p = g_byte_array_new ();

  pp_link_tlv_put_uint (p, PP_LINK_HELLO_TAG_VERSION_MIN, 1, 1);
  pp_link_tlv_put_uint (p, PP_LINK_HELLO_TAG_VERSION_MAX, 1, 1);
  pp_link_tlv_put_uint (p, PP_LINK_HELLO_TAG_MAX_PAYLOAD, 2, 4096);
  pp_link_tlv_put_uint (p, PP_LINK_HELLO_TAG_WINDOW, 1, 4);
  return g_byte_array_free_to_bytes (g_steal_pointer (&p));
}

/* The terminal (the real binary) meets garbage, an oversized, a cut-off, a
 * damaged, a reordered and a replayed frame: it refuses each as the
 * protocol says, answers what is right, and keeps serving. */
static void
test_bad_frames_terminal (void)
{
  g_auto(Fixture) f = { 0, };
  g_auto(Run) r = { 0, };
  g_autoptr(GSocketClient) client = g_socket_client_new ();
  g_autoptr(GError) error = NULL;
  g_autoptr(GBytes) hello = hello_payload ();
  g_autoptr(GBytes) identify_frame = NULL;
  g_autofree guint8 *big = g_malloc0 (8000);
  g_autofree char *serial = NULL;
  PpLinkFrame frame = { 0, };
  Served s = { 0, };
  Raw raw = { NULL, pp_link_decoder_new (65535) };
  guint8 junk[300];

  fixture_init (&f, "PF7012", TRUE);
  serve (&s, &f, "tcp", NULL);
  raw.conn = g_socket_client_connect_to_host (client, s.port + 4, 0, NULL, &error);
  g_assert_no_error (error);
  g_socket_set_timeout (g_socket_connection_get_socket (raw.conn), 2);

  /* Garbage, with start markers in it. */
  for (guint i = 0; i < sizeof junk; i++)
    junk[i] = i % 7 == 0 ? PP_LINK_SOF0 : i % 7 == 1 ? PP_LINK_SOF1 : (guint8) (i * 37);
  {
    g_autoptr(GBytes) b = g_bytes_new (junk, sizeof junk);

    raw_send (&raw, b);
  }
  /* A request before any HELLO: "no session". */
  raw_frame (&raw, PP_LINK_FRAME_REQUEST, 7, PP_CMD_ZEROIZE, NULL, 0);
  g_assert_true (raw_expect (&raw, PP_LINK_FRAME_NAK, &frame));
  g_assert_cmpuint (frame.status, ==, PP_LINK_NAK_NO_SESSION);
  pp_link_frame_clear (&frame);

  raw_frame (&raw, PP_LINK_FRAME_HELLO, 100, 0, g_bytes_get_data (hello, NULL), g_bytes_get_size (hello));
  g_assert_true (raw_expect (&raw, PP_LINK_FRAME_HELLO_REPLY, &frame));
  g_assert_cmpuint (frame.seq, ==, 100);
  g_assert_cmpuint (frame.status, ==, PP_LINK_HELLO_OK);
  pp_link_frame_clear (&frame);

  /* Oversized (8000 > the 4096 agreed): dropped, never run. */
  raw_frame (&raw, PP_LINK_FRAME_REQUEST, 101, PP_CMD_ZEROIZE, big, 8000);
  /* Cut off: the first 20 bytes of a request, then silence. */
  identify_frame = pp_link_frame_encode (PP_LINK_FRAME_REQUEST, 101, PP_CMD_IDENTIFY, 0, NULL, 0);
  {
    g_autoptr(GBytes) cut = g_bytes_new_from_bytes (identify_frame, 0, 12);

    raw_send (&raw, cut);
    g_usleep (400 * 1000);
  }
  /* Damaged: one bit of the CRC flipped: NAK "send 101 again". */
  {
    gsize len = 0;
    g_autofree guint8 *bad = g_memdup2 (g_bytes_get_data (identify_frame, &len), g_bytes_get_size (identify_frame));
    g_autoptr(GBytes) b = NULL;

    bad[len - 1] ^= 0x10;
    b = g_bytes_new (bad, len);
    raw_send (&raw, b);
  }
  g_assert_true (raw_expect (&raw, PP_LINK_FRAME_NAK, &frame));
  g_assert_cmpuint (frame.seq, ==, 101);
  pp_link_frame_clear (&frame);
  /* Reordered: 103 before 101 and 102: NAK for 101, not run. */
  raw_frame (&raw, PP_LINK_FRAME_REQUEST, 103, PP_CMD_ZEROIZE, NULL, 0);
  g_assert_true (raw_expect (&raw, PP_LINK_FRAME_NAK, &frame));
  g_assert_cmpuint (frame.seq, ==, 101);
  pp_link_frame_clear (&frame);
  /* The right one is answered. */
  raw_send (&raw, identify_frame);
  g_assert_true (raw_expect (&raw, PP_LINK_FRAME_RESPONSE, &frame));
  g_assert_cmpuint (frame.seq, ==, 101);
  {
    PpLinkTlvIndex tlvs;

    g_assert_true (pp_link_tlv_index (g_bytes_get_data (frame.payload, NULL), g_bytes_get_size (frame.payload),
                                      &tlvs, NULL));
    serial = pp_link_tlv_index_dup_text (&tlvs, PP_TAG_SERIAL);
  }
  g_assert_cmpstr (serial, ==, "PF7012");
  pp_link_frame_clear (&frame);
  /* Replayed: answered again from the cache. */
  raw_send (&raw, identify_frame);
  g_assert_true (raw_expect (&raw, PP_LINK_FRAME_RESPONSE, &frame));
  g_assert_cmpuint (frame.seq, ==, 101);
  pp_link_frame_clear (&frame);
  g_clear_object (&raw.conn);
  pp_link_decoder_free (raw.decoder);

  /* No ZEROIZE ran (oversized, reordered, before HELLO), nothing crashed. */
  {
    g_autoptr(JsonNode) node = show (&f);

    g_assert_false (json_node_is_null (json_object_get_member (json_node_get_object (node), "certificate")));
  }
  identify (&r, s.port);
  assert_ok (&r);
  unserve (&s);
}

/* A peer that answers HELLO properly, then every request with @reply. */
typedef struct {
  GSocketListener *listener;
  int              mode;   /* 0: bad frames to everything; 1: a garbled IDENTIFY answer */
} BadPeer;

static gpointer
bad_peer_thread (gpointer data)
{
  BadPeer *peer = data;
  g_autoptr(GSocketConnection) conn = g_socket_listener_accept (peer->listener, NULL, NULL, NULL);
  g_autoptr(PpLinkDecoder) decoder = pp_link_decoder_new (65535);
  GOutputStream *out;
  guint8 buf[4096];
  gssize n;

  if (conn == NULL)
    return NULL;
  out = g_io_stream_get_output_stream (G_IO_STREAM (conn));
  while ((n = g_input_stream_read (g_io_stream_get_input_stream (G_IO_STREAM (conn)), buf, sizeof buf, NULL, NULL)) > 0)
    {
      g_auto(PpLinkDecodeEvent) event = { 0, };

      pp_link_decoder_push (decoder, buf, (gsize) n);
      while (pp_link_decoder_next (decoder, &event))
        {
          g_autoptr(GBytes) reply = NULL;

          if (event.kind != PP_LINK_DECODE_FRAME)
            {
              pp_link_decode_event_clear (&event);
              continue;
            }
          if (peer->mode == 0)
            {
              /* An oversized frame, a cut-off one, a stale HELLO_REPLY, a damaged one. */
              g_autofree guint8 *big = g_malloc0 (30000);
              g_autoptr(GBytes) a = pp_link_frame_encode (PP_LINK_FRAME_RESPONSE, event.frame.seq, PP_CMD_IDENTIFY, 0, big, 30000);
              g_autoptr(GBytes) b = pp_link_frame_encode (PP_LINK_FRAME_HELLO_REPLY, event.frame.seq - 1, 0, 0, NULL, 0);

              g_output_stream_write_all (out, g_bytes_get_data (a, NULL), 14, NULL, NULL, NULL);
              g_output_stream_write_all (out, g_bytes_get_data (b, NULL), g_bytes_get_size (b) - 1, NULL, NULL, NULL);
              g_output_stream_write_all (out, g_bytes_get_data (a, NULL), g_bytes_get_size (a), NULL, NULL, NULL);
            }
          else if (event.frame.type == PP_LINK_FRAME_HELLO)
            {
              g_autoptr(GByteArray) p = g_byte_array_new ();
              g_autoptr(GBytes) pb = NULL;

              pp_link_tlv_put_uint (p, PP_LINK_HELLO_TAG_VERSION, 1, 1);
              pp_link_tlv_put_uint (p, PP_LINK_HELLO_TAG_MAX_PAYLOAD, 2, 4096);
              pp_link_tlv_put_uint (p, PP_LINK_HELLO_TAG_WINDOW, 1, 1);
              pb = g_byte_array_free_to_bytes (g_steal_pointer (&p));
              reply = pp_link_frame_encode (PP_LINK_FRAME_HELLO_REPLY, event.frame.seq, 0, 0,
                                            g_bytes_get_data (pb, NULL), g_bytes_get_size (pb));
            }
          else if (event.frame.type == PP_LINK_FRAME_REQUEST)
            {
              /* ACK, then an answer whose TLV runs past its end. */
              static const guint8 cut_tlv[] = { PP_TAG_SERIAL, 0x00, 0x40, 'P', 'F' };
              g_autoptr(GBytes) ack = pp_link_frame_encode (PP_LINK_FRAME_ACK, event.frame.seq, 0, 0, NULL, 0);

              g_output_stream_write_all (out, g_bytes_get_data (ack, NULL), g_bytes_get_size (ack), NULL, NULL, NULL);
              reply = pp_link_frame_encode (PP_LINK_FRAME_RESPONSE, event.frame.seq, event.frame.command, 0,
                                            cut_tlv, sizeof cut_tlv);
            }
          if (reply != NULL)
            g_output_stream_write_all (out, g_bytes_get_data (reply, NULL), g_bytes_get_size (reply), NULL, NULL, NULL);
          pp_link_decode_event_clear (&event);
        }
    }
  return NULL;
}

/* The station (the real tool) meets the same: it refuses, says what to
 * check, and exits with status 1 (not a crash). */
static void
test_bad_frames_station (void)
{
  for (int mode = 0; mode < 2; mode++)
    {
      g_autoptr(GError) error = NULL;
      g_auto(Run) r = { 0, };
      g_autofree char *port = NULL;
      BadPeer peer = { g_socket_listener_new (), mode };
      guint16 number = g_socket_listener_add_any_inet_port (peer.listener, NULL, &error);
      GThread *thread;

      g_assert_no_error (error);
      port = g_strdup_printf ("tcp:127.0.0.1:%u", number);
      thread = g_thread_new ("bad-peer", bad_peer_thread, &peer);
      identify (&r, port);
      if (mode == 0)
        assert_failed_with (&r, "baud rate");
      else
        assert_failed_with (&r, "The terminal's answer (identify) is malformed: TLV 0x01 claims 64 bytes");
      g_thread_join (thread);
      g_object_unref (peer.listener);
    }
}

int
main (int    argc,
      char **argv)
{
  pp_pty_rig_reexec (argv);
  g_test_init (&argc, &argv, NULL);
  pp_pty_rig_init ();
  if (pp_pty_rig.target == NULL)
    g_test_message ("the serial tests skip: %s", pp_pty_rig.skip_reason);
  g_setenv ("POSPROV_KEY_STORE_SECRET", KEY_STORE_SECRET, TRUE);
  g_unsetenv ("POSPROV_KDH_KEY_SECRET");

  g_test_add_data_func ("/device-faults/commands/tcp", "tcp", test_commands);
  g_test_add_data_func ("/device-faults/commands/serial", "serial", test_commands);

  g_test_add_func ("/device-faults/disconnect/identify", test_disconnect_identify);
  g_test_add_data_func ("/device-faults/disconnect/certify-get-csr", "GET_CSR", test_disconnect_certify);
  g_test_add_data_func ("/device-faults/disconnect/certify-put-cert", "PUT_CERT", test_disconnect_certify);
  g_test_add_data_func ("/device-faults/disconnect/certify-after-put-cert", "after-PUT_CERT", test_disconnect_certify);
  g_test_add_data_func ("/device-faults/disconnect/bind-get-ct-krd", "GET_CT_KRD", test_disconnect_bind);
  g_test_add_data_func ("/device-faults/disconnect/bind-bind", "BIND", test_disconnect_bind);
  g_test_add_data_func ("/device-faults/disconnect/bind-after-bind", "after-BIND", test_disconnect_bind);
  g_test_add_data_func ("/device-faults/disconnect/inject-get-ct-krd", "GET_CT_KRD", test_disconnect_inject_early);
  g_test_add_data_func ("/device-faults/disconnect/inject-get-rt-krd", "GET_RT_KRD", test_disconnect_inject_early);
  g_test_add_func ("/device-faults/disconnect/inject-load-key", test_disconnect_load_key_before);
  g_test_add_func ("/device-faults/disconnect/inject-after-load-key", test_disconnect_load_key_after);

  g_test_add_func ("/device-faults/message/no-port", test_message_no_port);
  g_test_add_func ("/device-faults/message/busy", test_message_busy);
  g_test_add_func ("/device-faults/message/no-answer", test_message_no_answer);
  g_test_add_func ("/device-faults/message/tampered", test_message_tampered);
  g_test_add_func ("/device-faults/message/serial", test_message_serial);
  g_test_add_func ("/device-faults/message/cert-dates", test_message_cert_dates);
  g_test_add_func ("/device-faults/bad-frames/terminal", test_bad_frames_terminal);
  g_test_add_func ("/device-faults/bad-frames/station", test_bad_frames_station);
  return g_test_run ();
}
