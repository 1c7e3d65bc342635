/* SPDX-License-Identifier: GPL-3.0-or-later
 *
 * bench-inject.c: TMK injection as `posprov-tool device inject` does it
 * (open + HELLO, IDENTIFY, GET_CT_KRD checked, a TMK generated in a soft
 * key store, GET_RT_KRD, KT_KDH built, LOAD_KEY, KCV compared), through
 * PpTerminalDevice against the real posprov-termsim, in two parts:
 *
 * 1. efficiency over an emulated serial link (`serve --emulate-baud`,
 *    115200 by default): (bytes on the wire / the link's byte rate +
 *    crypto time) / measured time. The bytes are the station link's
 *    counters (every frame both ways: HELLO, requests, ACKs, responses);
 *    the crypto time is the KDH's KT_KDH build and the KRD's unwrap of the
 *    same token, timed in-process in the same run with the terminal's own
 *    key. Goal: at least 0.85.
 *
 * 2. a fleet (`serve --count N`, 32 by default) injected at once by one
 *    station: one process, one main loop, N PpTerminalDevices, each
 *    terminal's steps chained by callbacks; the RSA of the KT_KDH build
 *    and the key store's work run on worker threads, so no terminal waits
 *    for another's. Wall time of the fleet / one terminal's wall time
 *    (goal: at most 1.5), over the emulated link and over plain TCP (there
 *    the ratio measures the CPU: the terminals' RSA shares this machine's
 *    cores with the station).
 *
 * Not a test (timings depend on the machine): build/bench/bench-inject
 * [RUNS [FLEET [BAUD]]] (defaults 5, 32, 115200); PP_TERMSIM overrides the
 * posprov-termsim binary.
 */
#include "config.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>

#include <gio/gunixinputstream.h>
#include <glib/gstdio.h>
#include <openssl/pem.h>

#include "pp-kcv.h"
#include "pp-keystore.h"
#include "pp-link-device.h"
#include "pp-openssl-types.h"
#include "pp-terminal-device.h"
#include "pp-tr34.h"
#include "tr34-test-pki.h"

#define STORE_SECRET "bench-inject-store"
#define HEADER "A0256K0TB00E0000"

static const char *termsim_path;
static char *base;
static STACK_OF(X509) *krd_trust;
static PpTr34Kdh *kdh;
static PpKeyStore *store;

static void
die (const char *what,
     GError     *error)
{
  fprintf (stderr, "bench-inject: %s: %s\n", what, error != NULL ? error->message : "failed");
  exit (1);
}

static void
run_termsim (const char * const *args)
{
  g_autoptr(GPtrArray) argv = g_ptr_array_new ();
  g_autoptr(GError) error = NULL;
  g_autofree char *err = NULL;
  int status = 0;

  g_ptr_array_add (argv, (gpointer) termsim_path);
  for (guint i = 0; args[i] != NULL; i++)
    g_ptr_array_add (argv, (gpointer) args[i]);
  g_ptr_array_add (argv, NULL);
  if (!g_spawn_sync (NULL, (char **) argv->pdata, NULL, G_SPAWN_STDOUT_TO_DEV_NULL, NULL, NULL,
                     NULL, &err, &status, &error) || !g_spawn_check_wait_status (status, &error))
    {
      fprintf (stderr, "%s", err != NULL ? err : "");
      die (termsim_path, error);
    }
}

/* ---- a served fleet --------------------------------------------------------- */

typedef struct {
  GPid        pid;
  GPtrArray  *ports;
} Server;

static void
server_start (Server     *server,
              const char *dir,
              guint       count,
              guint       baud)
{
  g_autofree char *n = g_strdup_printf ("%u", count);
  g_autofree char *b = g_strdup_printf ("%u", baud);
  const char *argv[] = { termsim_path, "serve", "--dir", dir, "--tcp", "127.0.0.1:0", "--count", n,
                         baud > 0 ? "--emulate-baud" : NULL, b, NULL };
  g_autoptr(GError) error = NULL;
  g_autoptr(GInputStream) out = NULL;
  g_autoptr(GDataInputStream) lines = NULL;
  int out_fd = -1;

  if (!g_spawn_async_with_pipes (NULL, (char **) argv, NULL, G_SPAWN_DO_NOT_REAP_CHILD, NULL, NULL,
                                 &server->pid, NULL, &out_fd, NULL, &error))
    die ("serve", error);
  out = g_unix_input_stream_new (out_fd, TRUE);
  lines = g_data_input_stream_new (out);
  server->ports = g_ptr_array_new_with_free_func (g_free);
  while (server->ports->len < count)
    {
      char *line = g_data_input_stream_read_line_utf8 (lines, NULL, NULL, &error);

      if (line == NULL)
        die ("serve printed no port", error);
      g_ptr_array_add (server->ports, line);
    }
}

static void
server_stop (Server *server)
{
  int status;

  kill (server->pid, SIGTERM);
  waitpid (server->pid, &status, 0);
  g_spawn_close_pid (server->pid);
  g_clear_pointer (&server->ports, g_ptr_array_unref);
}

/* ---- one terminal's injection, as callbacks on the main loop ----------------- */

typedef struct {
  const char        *port;
  PpTerminalDevice  *device;
  PpTerminalInfo    *info;
  X509              *krd;
  char              *label;
  char              *store_kcv;
  GBytes            *nonce;
  PpSecureBuffer    *tmk;       /* handed over by the key store at generation */
  gint64             start, end;
  guint64            wire;      /* bytes both ways */
  gboolean           bind;      /* set-up: bind instead of inject */
  guint              waiting;   /* the TMK and the nonce, both needed for KT_KDH */
  guint             *running;
} Job;

static void job_fail (Job *job, const char *step, GError *error) G_GNUC_NORETURN;

/* BENCH_INJECT_TRACE=1: when each step of each job ends. */
static gboolean trace;

static void
step (Job        *job,
      const char *name)
{
  if (trace)
    fprintf (stderr, "  %-24s %-12s %8.1f ms\n", job->port, name,
             (g_get_monotonic_time () - job->start) / 1e3);
}

static void
job_fail (Job        *job,
          const char *step,
          GError     *error)
{
  fprintf (stderr, "bench-inject: %s, %s: %s\n", job->port, step, error->message);
  exit (1);
}

static void
job_done (Job *job)
{
  PpLink *link = pp_link_device_get_link (PP_LINK_DEVICE (job->device));
  guint64 sent, received;

  job->end = g_get_monotonic_time ();
  pp_link_get_wire_bytes (link, &sent, &received);
  job->wire = sent + received;
  g_clear_object (&job->device);
  g_clear_pointer (&job->info, pp_terminal_info_free);
  g_clear_pointer (&job->krd, X509_free);
  g_clear_pointer (&job->label, g_free);
  g_clear_pointer (&job->store_kcv, g_free);
  g_clear_pointer (&job->nonce, g_bytes_unref);
  g_clear_pointer (&job->tmk, pp_secure_buffer_free);
  (*job->running)--;
}

static void
on_loaded (GObject      *source,
           GAsyncResult *result,
           gpointer      data)
{
  Job *job = data;
  g_autoptr(GError) error = NULL;
  g_autofree char *kcv = NULL;
  guint slot;
  step (job, "LOAD_KEY");

  if (!pp_terminal_device_load_key_finish (job->device, result, &slot, &kcv, &error))
    job_fail (job, "LOAD_KEY", error);
  if (!pp_kcv_equal (kcv, job->store_kcv))
    {
      fprintf (stderr, "bench-inject: %s: KCV %s, key store %s\n", job->port, kcv, job->store_kcv);
      exit (1);
    }
  job_done (job);
}

/* The KT_KDH build (two RSA operations) on a worker thread, with the TMK
 * the key store handed over when it made it. */
static void
build_thread (GTask        *task,
              gpointer      source,
              gpointer      data,
              GCancellable *cancellable)
{
  Job *job = data;
  g_autoptr(PpSecureBuffer) tmk = g_steal_pointer (&job->tmk);
  GError *error = NULL;
  GBytes *token;

  if ((token = pp_tr34_kdh_build_key_token (kdh, job->krd, tmk, HEADER, PP_TR34_EPHEMERAL_AES128,
                                            job->nonce, NULL, &error)) == NULL)
    {
      g_task_return_error (task, error);
      return;
    }
  g_task_return_pointer (task, token, (GDestroyNotify) g_bytes_unref);
}

static void
on_built (GObject      *source,
          GAsyncResult *result,
          gpointer      data)
{
  Job *job = data;
  g_autoptr(GError) error = NULL;
  g_autoptr(GBytes) token = g_task_propagate_pointer (G_TASK (result), &error);
  step (job, "KT_KDH");

  if (token == NULL)
    job_fail (job, "KT_KDH", error);
  pp_terminal_device_load_key_async (job->device, token, -1, NULL, on_loaded, job);
}

static void
start_build (Job *job)
{
  g_autoptr(GTask) task = NULL;

  if (--job->waiting > 0)
    return;
  task = g_task_new (NULL, NULL, on_built, job);
  g_task_set_task_data (task, job, NULL);
  g_task_run_in_thread (task, build_thread);
}

static void
on_nonce (GObject      *source,
          GAsyncResult *result,
          gpointer      data)
{
  Job *job = data;
  g_autoptr(GError) error = NULL;
  g_autoptr(GBytes) rt_krd = pp_terminal_device_get_nonce_finish (job->device, result, &error);
  g_autoptr(PpTr34Token) token = NULL;

  step (job, "GET_RT_KRD");
  if (rt_krd == NULL ||
      (token = pp_tr34_token_parse (g_bytes_get_data (rt_krd, NULL), g_bytes_get_size (rt_krd), &error)) == NULL)
    job_fail (job, "GET_RT_KRD", error);
  job->nonce = g_bytes_ref (pp_tr34_token_get_nonce (token));
  start_build (job);
}

static void
on_tmk (GObject      *source,
        GAsyncResult *result,
        gpointer      data)
{
  Job *job = data;
  g_autoptr(GError) error = NULL;

  step (job, "TMK");
  if ((job->store_kcv = pp_key_store_generate_and_export_tmk_finish (store, result, &job->tmk, &error)) == NULL)
    job_fail (job, "TMK", error);
  start_build (job);
}

static void
on_bound (GObject      *source,
          GAsyncResult *result,
          gpointer      data)
{
  Job *job = data;
  g_autoptr(GError) error = NULL;
  g_autofree char *bound = pp_terminal_device_bind_finish (job->device, result, &error);
  step (job, "BIND");

  if (bound == NULL)
    job_fail (job, "BIND", error);
  job_done (job);
}

static void
on_ct_krd (GObject      *source,
           GAsyncResult *result,
           gpointer      data)
{
  Job *job = data;
  g_autoptr(GError) error = NULL;
  g_autoptr(GBytes) ct_krd = pp_terminal_device_get_ct_krd_finish (job->device, result, &error);
  step (job, "GET_CT_KRD");

  if (ct_krd == NULL ||
      (job->krd = pp_tr34_kdh_receive_krd_credential (g_bytes_get_data (ct_krd, NULL), g_bytes_get_size (ct_krd),
                                                      krd_trust, job->info->serial, NULL, &error)) == NULL)
    job_fail (job, "CT_KRD", error);
  if (job->bind)
    {
      g_autoptr(GBytes) ct_kdh = pp_tr34_kdh_build_credential_token (kdh, &error);

      if (ct_kdh == NULL)
        job_fail (job, "CT_KDH", error);
      pp_terminal_device_bind_async (job->device, ct_kdh, NULL, on_bound, job);
      return;
    }
  {
    g_autoptr(GDateTime) now = g_date_time_new_now_utc ();
    g_autofree char *stamp = g_date_time_format (now, "%Y%m%dT%H%M%S");

    job->label = g_strdup_printf ("tmk-%s-%s-%08x", job->info->serial, stamp, g_random_int ());
  }
  /* The terminal is checked: the TMK is made while its nonce comes. */
  job->waiting = 2;
  pp_key_store_generate_and_export_tmk_async (store, job->label, PP_TMK_TDES_2KEY, NULL, on_tmk, job);
  pp_terminal_device_get_nonce_async (job->device, NULL, on_nonce, job);
}

static void
on_identified (GObject      *source,
               GAsyncResult *result,
               gpointer      data)
{
  Job *job = data;
  g_autoptr(GError) error = NULL;
  step (job, "IDENTIFY");

  if ((job->info = pp_terminal_device_identify_finish (job->device, result, &error)) == NULL)
    job_fail (job, "IDENTIFY", error);
  if (job->info->tampered || (!job->bind && job->info->bound_kdh == NULL))
    {
      fprintf (stderr, "bench-inject: %s: tampered or not bound\n", job->port);
      exit (1);
    }
  pp_terminal_device_get_ct_krd_async (job->device, NULL, on_ct_krd, job);
}

static void
on_opened (GObject      *source,
           GAsyncResult *result,
           gpointer      data)
{
  Job *job = data;
  g_autoptr(GError) error = NULL;
  step (job, "open");

  if ((job->device = (PpTerminalDevice *) pp_link_device_open_finish (result, &error)) == NULL)
    job_fail (job, "open", error);
  pp_terminal_device_identify_async (job->device, NULL, on_identified, job);
}

/* Runs one job per port at once; returns the wall time in seconds. */
static double
run_jobs (GPtrArray *ports,
          gboolean   bind,
          Job       *jobs)
{
  guint running = ports->len;
  gint64 start = g_get_monotonic_time ();

  for (guint i = 0; i < ports->len; i++)
    {
      memset (&jobs[i], 0, sizeof jobs[i]);
      jobs[i].port = g_ptr_array_index (ports, i);
      jobs[i].bind = bind;
      jobs[i].running = &running;
      jobs[i].start = g_get_monotonic_time ();
      pp_link_device_open_async (jobs[i].port, NULL, NULL, on_opened, &jobs[i]);
    }
  while (running > 0)
    g_main_context_iteration (NULL, TRUE);
  return (g_get_monotonic_time () - start) / 1e6;
}

/* ---- crypto of one injection, in-process ------------------------------------ */

/* Seconds of one KT_KDH build and of one unwrap by the terminal's KRD
 * (its own certificate and key from its folder, as the termsim holds
 * them: one KRD with warm caches), the mean of @n each. */
static void
time_crypto (const char *term_dir,
             guint       n,
             double     *out_build,
             double     *out_unwrap)
{
  const PpTestPki *pki = pp_test_pki_get ();
  g_autofree char *cert_path = g_build_filename (term_dir, "device.pem", NULL);
  g_autofree char *key_path = g_build_filename (term_dir, "device.key", NULL);
  g_autoptr(BIO) cb = BIO_new_file (cert_path, "r");
  g_autoptr(BIO) kb = BIO_new_file (key_path, "r");
  g_autoptr(X509) cert = cb != NULL ? PEM_read_bio_X509 (cb, NULL, NULL, NULL) : NULL;
  g_autoptr(EVP_PKEY) key = kb != NULL ? PEM_read_bio_PrivateKey (kb, NULL, NULL, (void *) "") : NULL;
  g_autoptr(PpTr34Krd) krd = NULL;
  g_autoptr(PpTr34KrdState) state = pp_tr34_krd_state_new ();
  g_autoptr(PpSecureBuffer) tmk = pp_secure_buffer_new (16);
  g_autoptr(GError) error = NULL;
  gint64 build = 0, unwrap = 0;

  if (cert == NULL || key == NULL)
    die ("the terminal's device.pem/device.key", NULL);
  krd = pp_tr34_krd_new (cert, key);
  pp_tr34_krd_add_trusted (krd, pki->root);
  pp_tr34_krd_add_trusted (krd, pki->ca_kdh);
  pp_tr34_krd_set_kdh_cert (krd, pki->kdh);
  memset (pp_secure_buffer_get_data (tmk), 0x5A, 16);
  for (guint i = 0; i <= n; i++)
    {
      g_autoptr(GBytes) nonce = pp_tr34_krd_state_issue_nonce (state, 16);
      g_autoptr(GBytes) token = NULL;
      g_autoptr(PpTr34ReceivedKey) received = NULL;
      gint64 t0, t1, t2;

      t0 = g_get_monotonic_time ();
      token = pp_tr34_kdh_build_key_token (kdh, cert, tmk, HEADER, PP_TR34_EPHEMERAL_AES128, nonce, NULL, &error);
      t1 = g_get_monotonic_time ();
      if (token == NULL)
        die ("KT_KDH build", error);
      received = pp_tr34_krd_receive_key_token (krd, state, g_bytes_get_data (token, NULL),
                                                g_bytes_get_size (token), &error);
      t2 = g_get_monotonic_time ();
      if (received == NULL)
        die ("KT_KDH unwrap", error);
      if (i == 0)
        continue;   /* the first fills the caches, as bind did in the termsim */
      build += t1 - t0;
      unwrap += t2 - t1;
    }
  *out_build = build / 1e6 / n;
  *out_unwrap = unwrap / 1e6 / n;
}

/* Seconds of the key store's part of one injection: a TMK generated and
 * handed over for wrapping in one step (*out_two_steps: generated, then
 * read back by label, as before pp_key_store_generate_and_export_tmk), and
 * (*out_records, 0 when the store keeps none) the two delivery record
 * writes device inject makes around LOAD_KEY (sent, then confirmed). */
static double
time_key_store (guint   n,
                double *out_two_steps,
                double *out_records)
{
  g_autoptr(GError) error = NULL;
  gint64 t0 = g_get_monotonic_time (), t1, t2;
  gboolean records = TRUE;

  for (guint i = 0; i < n; i++)
    {
      g_autofree char *label = g_strdup_printf ("bench-%u-%08x", i, g_random_int ());
      g_autofree char *kcv = pp_key_store_generate_tmk (store, label, PP_TMK_TDES_2KEY, NULL, &error);
      g_autoptr(PpSecureBuffer) tmk = kcv != NULL ? pp_key_store_export_tmk (store, label, NULL, &error) : NULL;

      if (tmk == NULL)
        die ("key store", error);
    }
  t1 = g_get_monotonic_time ();
  for (guint i = 0; i < n; i++)
    {
      g_autofree char *label = g_strdup_printf ("bench1-%u-%08x", i, g_random_int ());
      g_autoptr(PpSecureBuffer) tmk = NULL;
      g_autofree char *kcv = pp_key_store_generate_and_export_tmk (store, label, PP_TMK_TDES_2KEY, &tmk, NULL, &error);

      if (kcv == NULL)
        die ("key store", error);
    }
  t2 = g_get_monotonic_time ();
  for (guint i = 0; i < n && records; i++)
    {
      g_autofree char *label = g_strdup_printf ("bench1-%u", i);

      if (!pp_key_store_set_tmk_delivery (store, "BENCH", label, "ABCDEF", PP_TMK_DELIVERY_SENT, &error) ||
          !pp_key_store_set_tmk_delivery (store, "BENCH", label, "ABCDEF", PP_TMK_DELIVERY_CONFIRMED, &error))
        {
          if (!g_error_matches (error, PP_KEYSTORE_ERROR, PP_KEYSTORE_ERROR_MECHANISM_UNSUPPORTED))
            die ("delivery record", error);
          g_clear_error (&error);
          records = FALSE;
        }
    }
  *out_records = records ? (g_get_monotonic_time () - t2) / 1e6 / n : 0;
  *out_two_steps = (t1 - t0) / 1e6 / n;
  return (t2 - t1) / 1e6 / n;
}

/* ---- set-up ------------------------------------------------------------------ */

static const char *
softhsm_module (void)
{
  static const char * const paths[] = {
    "/usr/lib/softhsm/libsofthsm2.so",
    "/usr/lib/x86_64-linux-gnu/softhsm/libsofthsm2.so",
    "/usr/lib/aarch64-linux-gnu/softhsm/libsofthsm2.so",
    "/usr/lib64/pkcs11/libsofthsm2.so",
  };

  for (guint i = 0; i < G_N_ELEMENTS (paths); i++)
    if (g_file_test (paths[i], G_FILE_TEST_EXISTS))
      return paths[i];
  return NULL;
}

/* A SoftHSM2 token in the bench's folder (a station's HSM stand-in), or
 * NULL when SoftHSM2 is not installed. */
static PpKeyStore *
open_softhsm_store (void)
{
  g_autofree char *util = g_find_program_in_path ("softhsm2-util");
  g_autofree char *tokens = g_build_filename (base, "tokens", NULL);
  g_autofree char *conf = g_build_filename (base, "softhsm2.conf", NULL);
  g_autofree char *text = NULL, *uri = NULL;
  const char *module = softhsm_module ();
  const char *argv[] = { NULL, "--init-token", "--free", "--label", "bench", "--pin", "1234",
                         "--so-pin", "5678", NULL };
  g_autoptr(GError) error = NULL;
  PpKeyStore *hsm;
  int status = 0;

  if (util == NULL || module == NULL)
    return NULL;
  g_mkdir (tokens, 0700);
  text = g_strdup_printf ("directories.tokendir = %s\nobjectstore.backend = file\nlog.level = ERROR\n", tokens);
  if (!g_file_set_contents (conf, text, -1, &error))
    die (conf, error);
  g_setenv ("SOFTHSM2_CONF", conf, TRUE);
  argv[0] = util;
  if (!g_spawn_sync (NULL, (char **) argv, NULL, G_SPAWN_STDOUT_TO_DEV_NULL | G_SPAWN_STDERR_TO_DEV_NULL,
                     NULL, NULL, NULL, NULL, &status, &error) || !g_spawn_check_wait_status (status, &error))
    die ("softhsm2-util --init-token", error);
  uri = g_strdup_printf ("pkcs11:token=bench?module-path=%s", module);
  if ((hsm = pp_key_store_new_for_location (uri, "1234", &error)) == NULL)
    die (uri, error);
  return hsm;
}

static void
write_certs (const char *path,
             X509       *a,
             X509       *b)
{
  g_autoptr(BIO) bio = BIO_new_file (path, "w");

  if (bio == NULL || PEM_write_bio_X509 (bio, a) != 1 || (b != NULL && PEM_write_bio_X509 (bio, b) != 1))
    die (path, NULL);
}

static void
write_key (const char *path,
           EVP_PKEY   *key)
{
  g_autoptr(BIO) bio = BIO_new_file (path, "w");

  if (bio == NULL || PEM_write_bio_PrivateKey (bio, key, NULL, NULL, 0, NULL, NULL) != 1)
    die (path, NULL);
}

/* A fleet folder of @count terminals from serial @first, certified and bound. */
static char *
make_fleet (const char *name,
            const char *first,
            guint       count)
{
  char *dir = g_build_filename (base, name, NULL);
  g_autofree char *trust = g_build_filename (base, "trust.pem", NULL);
  g_autofree char *ca = g_build_filename (base, "ca-krd.pem", NULL);
  g_autofree char *ca_key = g_build_filename (base, "ca-krd.key", NULL);
  g_autofree char *n = g_strdup_printf ("%u", count);
  const char *init[] = { "init", "--dir", dir, "--serial", first, "--vendor", "Acme", "--model", "X1",
                         "--trust", trust, "--ca-krd-cert", ca, "--ca-krd-key", ca_key, "--count", n, NULL };
  Server server;
  Job *jobs = g_new0 (Job, count);

  run_termsim (init);
  server_start (&server, dir, count, 0);
  run_jobs (server.ports, TRUE, jobs);
  server_stop (&server);
  g_free (jobs);
  return dir;
}

static void
remove_tree (const char *path)
{
  g_autoptr(GDir) dir = g_dir_open (path, 0, NULL);
  const char *name;

  while (dir != NULL && (name = g_dir_read_name (dir)) != NULL)
    {
      g_autofree char *child = g_build_filename (path, name, NULL);

      if (g_file_test (child, G_FILE_TEST_IS_DIR) && !g_file_test (child, G_FILE_TEST_IS_SYMLINK))
        remove_tree (child);
      else
        g_unlink (child);
    }
  g_rmdir (path);
}

/* CPU seconds of this process (@who RUSAGE_SELF) or of its reaped
 * children (RUSAGE_CHILDREN: the termsim servers). */
static double
cpu_seconds (int who)
{
  struct rusage u;

  getrusage (who, &u);
  return u.ru_utime.tv_sec + u.ru_stime.tv_sec + (u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1e6;
}

static int
compare_double (const void *a,
                const void *b)
{
  double x = *(const double *) a, y = *(const double *) b;

  return x < y ? -1 : x > y;
}

static double
median (double *v,
        guint   n)
{
  qsort (v, n, sizeof *v, compare_double);
  return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

/* ---- the two parts ----------------------------------------------------------- */

static void
part_efficiency (const char *dir,
                 guint       runs,
                 guint       baud)
{
  g_autofree double *eff = g_new (double, runs);
  g_autofree double *times = g_new (double, runs);
  double rate = baud / 10.0;   /* 8N1: 10 bits a byte */
  g_autofree double *with_keys = g_new (double, runs);
  double build = 0, unwrap = 0, crypto, keys, two_steps = 0, records = 0;
  guint64 wire = 0;
  Server server;
  Job job;

  server_start (&server, dir, 1, baud);
  for (guint r = 0; r < runs; r++)
    {
      g_autoptr(GPtrArray) one = g_ptr_array_new ();

      g_ptr_array_add (one, g_ptr_array_index (server.ports, 0));
      run_jobs (one, FALSE, &job);
      times[r] = (job.end - job.start) / 1e6;
      wire = job.wire;
    }
  server_stop (&server);
  time_crypto (dir, 20, &build, &unwrap);   /* a fleet of one is the folder itself */
  crypto = build + unwrap;
  keys = time_key_store (5, &two_steps, &records);
  printf ("Part 1: one injection over an emulated %u-baud link (%.0f bytes/s), %s key store, %u runs\n",
          baud, rate, pp_key_store_get_backend_name (store), runs);
  printf ("  bytes on the wire      %8" G_GUINT64_FORMAT "   -> %7.1f ms at the link's rate\n",
          wire, wire / rate * 1e3);
  printf ("  crypto (in-process)    KT_KDH build %.1f ms + KRD unwrap %.1f ms = %.1f ms\n",
          build * 1e3, unwrap * 1e3, crypto * 1e3);
  for (guint r = 0; r < runs; r++)
    {
      eff[r] = (wire / rate + crypto) / times[r];
      with_keys[r] = (wire / rate + crypto + keys) / times[r];
      printf ("  run %u: measured %7.1f ms, efficiency %.3f\n", r + 1, times[r] * 1e3, eff[r]);
    }
  printf ("  key store (in-process) TMK generated and handed over %.1f ms (generated, then read back: %.1f ms)\n",
          keys * 1e3, two_steps * 1e3);
  if (records > 0)
    printf ("  key store (in-process) delivery record sent + confirmed, as device inject writes it: %.1f ms\n",
            records * 1e3);
  printf ("  efficiency (median)    %.3f   (goal >= 0.85)\n", median (eff, runs));
  printf ("  counting the key store as crypto too: %.3f\n\n", median (with_keys, runs));
}

static void
part_fleet (const char *dir,
            guint       count,
            guint       runs,
            guint       baud)
{
  g_autofree Job *jobs = g_new0 (Job, count);
  g_autofree double *ones = g_new (double, runs);
  g_autofree double *alls = g_new (double, runs);
  g_autofree double *ratios = g_new (double, runs);
  double station_cpu = cpu_seconds (RUSAGE_SELF), terminal_cpu = cpu_seconds (RUSAGE_CHILDREN);
  double wall = 0;
  Server server;

  server_start (&server, dir, count, baud);
  for (guint r = 0; r < runs; r++)
    {
      g_autoptr(GPtrArray) one = g_ptr_array_new ();
      double slowest = 0;

      g_ptr_array_add (one, g_ptr_array_index (server.ports, r % count));
      ones[r] = run_jobs (one, FALSE, jobs);
      alls[r] = run_jobs (server.ports, FALSE, jobs);
      for (guint i = 0; i < count; i++)
        slowest = MAX (slowest, (jobs[i].end - jobs[i].start) / 1e6);
      ratios[r] = alls[r] / ones[r];
      wall += ones[r] + alls[r];
      printf ("  run %u: one %7.1f ms, %u at once %7.1f ms (slowest terminal %7.1f ms), ratio %.2f\n",
              r + 1, ones[r] * 1e3, count, alls[r] * 1e3, slowest * 1e3, ratios[r]);
    }
  station_cpu = cpu_seconds (RUSAGE_SELF) - station_cpu;
  server_stop (&server);
  terminal_cpu = cpu_seconds (RUSAGE_CHILDREN) - terminal_cpu;
  printf ("  CPU: station %.2f s, terminals %.2f s, in %.2f s of injections on %u CPUs\n",
          station_cpu, terminal_cpu, wall, g_get_num_processors ());
  printf ("  ratio (median)         %.2f   (goal <= 1.5)\n\n", median (ratios, runs));
}

int
main (int    argc,
      char **argv)
{
  guint runs = argc > 1 ? (guint) atoi (argv[1]) : 5;
  guint fleet = argc > 2 ? (guint) atoi (argv[2]) : 32;
  guint baud = argc > 3 ? (guint) atoi (argv[3]) : 115200;
  const PpTestPki *pki;
  g_autoptr(GError) error = NULL;
  g_autofree char *path = NULL, *one = NULL, *many = NULL, *store_dir = NULL;
  PpKeyStore *stores[2] = { NULL, NULL };

  trace = g_getenv ("BENCH_INJECT_TRACE") != NULL;
  termsim_path = g_getenv ("PP_TERMSIM") != NULL ? g_getenv ("PP_TERMSIM") : PP_TERMSIM_PATH;
  if (runs < 1 || fleet < 1 || fleet > 1000 || baud < 1200)
    {
      fprintf (stderr, "usage: bench-inject [RUNS [FLEET [BAUD]]]\n");
      return 2;
    }
  if ((base = g_dir_make_tmp ("posprov-bench-inject-XXXXXX", &error)) == NULL)
    die ("temporary folder", error);

  pki = pp_test_pki_get ();
  pp_test_pki_write (pki, base);
  path = g_build_filename (base, "ca-krd.key", NULL);
  write_key (path, pki->ca_krd_key);
  g_free (path);
  path = g_build_filename (base, "krd-trust.pem", NULL);
  write_certs (path, pki->root, pki->ca_krd);
  krd_trust = sk_X509_new_null ();
  sk_X509_push (krd_trust, X509_dup (pki->root));
  sk_X509_push (krd_trust, X509_dup (pki->ca_krd));
  kdh = pp_tr34_kdh_new (pki->kdh, pp_tr34_sign_with_pkey, pki->kdh_key, NULL);
  pp_tr34_kdh_set_crl (kdh, pki->crl);
  store_dir = g_build_filename (base, "store", NULL);
  if ((stores[0] = pp_key_store_new_for_location (store_dir, STORE_SECRET, &error)) == NULL)
    die ("key store", error);
  stores[1] = open_softhsm_store ();

  printf ("bench-inject: posprov-termsim %s, %u CPUs\n\n", termsim_path, g_get_num_processors ());
  if (stores[1] == NULL)
    printf ("(SoftHSM2 not installed: the soft key store only)\n\n");
  one = make_fleet ("one", "BI0001", 1);
  many = make_fleet ("fleet", "BF0001", fleet);
  for (guint k = 0; k < G_N_ELEMENTS (stores) && stores[k] != NULL; k++)
    {
      store = stores[k];
      part_efficiency (one, runs, baud);
      printf ("Part 2: %u terminals at once from one station, over emulated %u-baud links, %s key store, %u runs\n",
              fleet, baud, pp_key_store_get_backend_name (store), runs);
      part_fleet (many, fleet, runs, baud);
      printf ("Part 2b: the same over plain loopback TCP (no pacing: CPU-bound)\n");
      part_fleet (many, fleet, runs, 0);
    }

  for (guint k = 0; k < G_N_ELEMENTS (stores); k++)
    g_clear_object (&stores[k]);
  pp_tr34_kdh_unref (kdh);
  sk_X509_pop_free (krd_trust, X509_free);
  remove_tree (base);
  g_free (base);
  return 0;
}
