/* SPDX-License-Identifier: GPL-3.0-or-later
 *
 * bench-program.c: program push goodput through the station's real push
 * (PpTerminalDevice over the posprov link driver) to the real
 * posprov-termsim over loopback TCP, in one run:
 *   1. with `serve --emulate-baud 115200`: goodput (program bytes per
 *      second the terminal confirmed) as a ratio to the link's byte rate
 *      (baud / 10, 8N1); goal >= 0.90;
 *   2. without pacing: goodput in MB/s; goal >= 50.
 *
 * Not a test (timings depend on the machine):
 * build/bench/bench-program [SERIAL_KIB [TCP_MIB]] (defaults 128 and 64).
 */
#include "config.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>

#include <gio/gio.h>
#include <glib/gstdio.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <openssl/x509v3.h>

#include "pp-link-device.h"
#include "pp-openssl-types.h"
#include "pp-program-package.h"
#include "pp-terminal-device.h"
#include "pp-transport.h"

#define BAUD 115200

static gboolean
sign (gpointer user_data, const guint8 *data, gsize len, GBytes **out, GError **error)
{
  g_autoptr(EVP_MD_CTX) ctx = EVP_MD_CTX_new ();
  guint8 sig[512];
  size_t sig_len = sizeof sig;

  g_assert (EVP_DigestSignInit (ctx, NULL, EVP_sha256 (), NULL, user_data) == 1);
  g_assert (EVP_DigestSign (ctx, sig, &sig_len, data, len) == 1);
  *out = g_bytes_new (sig, sig_len);
  return TRUE;
}

static X509 *
make_cert (EVP_PKEY *key)
{
  X509 *cert = X509_new ();
  X509_NAME *name = X509_get_subject_name (cert);

  X509_set_version (cert, 2);
  ASN1_INTEGER_set (X509_get_serialNumber (cert), 1);
  X509_NAME_add_entry_by_txt (name, "CN", MBSTRING_ASC, (const guint8 *) "bench signer", -1, -1, 0);
  X509_set_issuer_name (cert, name);
  X509_gmtime_adj (X509_getm_notBefore (cert), -3600);
  X509_gmtime_adj (X509_getm_notAfter (cert), 86400);
  X509_set_pubkey (cert, key);
  g_assert (X509_sign (cert, key, EVP_sha256 ()) > 0);
  return cert;
}

static void
run (const char * const *argv)
{
  int status = 0;
  g_autofree char *err = NULL;

  if (!g_spawn_sync (NULL, (char **) argv, NULL, G_SPAWN_STDOUT_TO_DEV_NULL, NULL, NULL, NULL, &err, &status, NULL) ||
      !g_spawn_check_wait_status (status, NULL))
    g_error ("%s failed: %s", argv[1], err != NULL ? err : "");
}

typedef struct {
  GMainLoop    *loop;
  GAsyncResult *result;
} Wait;

static void
on_done (GObject *source, GAsyncResult *result, gpointer data)
{
  Wait *w = data;

  w->result = g_object_ref (result);
  g_main_loop_quit (w->loop);
}

static GAsyncResult *
wait_run (Wait *w)
{
  g_clear_object (&w->result);
  g_main_loop_run (w->loop);
  return w->result;
}

/* Seconds to push @package to a fresh terminal served with @extra. */
static double
push_once (const char       *base,
           const char       *name,
           const char       *cert_path,
           PpProgramPackage *package,
           const char       *extra)
{
  const char *termsim = PP_TERMSIM_PATH;
  g_autofree char *dir = g_build_filename (base, name, NULL);
  const char *init[] = { termsim, "init", "--dir", dir, "--serial", name, "--vendor", "Bench", "--model", "X1",
                         "--trust", cert_path, "--program-trust", cert_path, NULL };
  const char *serve[] = { termsim, "serve", "--dir", dir, "--tcp", "127.0.0.1:0", extra, NULL };
  g_autoptr(GError) error = NULL;
  g_autoptr(GIOStream) stream = NULL;
  g_autoptr(PpLink) link = NULL;
  g_autoptr(PpLinkDevice) device = NULL;
  g_autofree char *port = NULL;
  Wait w = { g_main_loop_new (NULL, FALSE), NULL };
  GPid pid;
  int out_fd;
  char line[128];
  gssize n;
  gint64 start;
  double secs;

  run (init);
  if (!g_spawn_async_with_pipes (NULL, (char **) serve, NULL, G_SPAWN_DO_NOT_REAP_CHILD | G_SPAWN_STDERR_TO_DEV_NULL,
                                 NULL, NULL, &pid, NULL, &out_fd, NULL, &error))
    g_error ("serve: %s", error->message);
  n = read (out_fd, line, sizeof line - 1);
  g_assert (n > 0);
  line[n] = '\0';
  port = g_strstrip (g_strdup (line));
  pp_transport_open_async (port, NULL, NULL, on_done, &w);
  stream = pp_transport_open_finish (wait_run (&w), &error);
  g_assert_no_error (error);
  link = pp_link_new (stream, PP_LINK_ROLE_STATION);
  /* At 115200 baud a window of 16 KiB frames takes seconds to arrive. Not
   * redundant with the link's line time (docs/link-protocol.md 2.4): this is
   * TCP to a termsim that emulates the baud, and TCP counts no line time
   * (without these the push fails: no answer after 4 tries). */
  pp_link_set_timeouts (link, 60000, 60000, 3);
  pp_link_connect_async (link, NULL, on_done, &w);
  g_assert (pp_link_connect_finish (link, wait_run (&w), &error));
  device = pp_link_device_new (link);
  start = g_get_monotonic_time ();
  pp_terminal_device_push_program_async (PP_TERMINAL_DEVICE (device), package, NULL, NULL, NULL, on_done, &w);
  if (!pp_terminal_device_push_program_finish (PP_TERMINAL_DEVICE (device), wait_run (&w), NULL, &error))
    g_error ("push: %s", error->message);
  secs = (double) (g_get_monotonic_time () - start) / G_USEC_PER_SEC;
  printf ("  (%s: max payload %u, window %u)\n", name, pp_link_get_max_payload (link), pp_link_get_window (link));
  g_clear_object (&w.result);
  g_main_loop_unref (w.loop);
  g_clear_object (&device);
  g_clear_pointer (&link, pp_link_unref);
  g_clear_object (&stream);
  kill (pid, SIGTERM);
  waitpid (pid, NULL, 0);
  close (out_fd);
  return secs;
}

static PpProgramPackage *
make_package (const char *base,
              const char *name,
              gsize       size,
              EVP_PKEY   *key,
              GBytes     *cert_der)
{
  g_autofree char *file = g_build_filename (base, "program.bin", NULL);
  g_autofree char *pkg = g_strdup_printf ("%s/%s.pkg", base, name);
  g_autofree guint8 *data = g_malloc (size);
  const char *models[] = { "X1", NULL };
  const char *files[] = { file, NULL };
  g_autoptr(GError) error = NULL;
  PpProgramPackage *package;

  for (gsize i = 0; i < size; i++)
    data[i] = (guint8) g_random_int ();
  g_assert (g_file_set_contents (file, (const char *) data, (gssize) size, NULL));
  if (!pp_program_package_pack (pkg, name, "1", PP_PROGRAM_KIND_SIGNATURE_FILE, models, files, cert_der,
                                sign, key, &error) ||
      (package = pp_program_package_open (pkg, &error)) == NULL)
    g_error ("pack: %s", error->message);
  return package;
}

int
main (int    argc,
      char **argv)
{
  gsize serial_size = (argc > 1 ? (gsize) atoi (argv[1]) : 128) * 1024;
  gsize tcp_size = (argc > 2 ? (gsize) atoi (argv[2]) : 64) * 1024 * 1024;
  g_autofree char *base = g_dir_make_tmp ("bench-program-XXXXXX", NULL);
  g_autofree char *cert_path = g_build_filename (base, "sign.pem", NULL);
  g_autoptr(EVP_PKEY) key = EVP_RSA_gen (2048);
  g_autoptr(X509) cert = make_cert (key);
  g_autoptr(GBytes) cert_der = NULL;
  g_autoptr(PpProgramPackage) small = NULL, big = NULL;
  g_autofree char *baud = g_strdup_printf ("--emulate-baud=%d", BAUD);
  guint8 *der = NULL;
  int der_len = i2d_X509 (cert, &der);
  double secs, goodput, link_rate = BAUD / 10.0;

  {
    g_autoptr(BIO) bio = BIO_new_file (cert_path, "w");

    PEM_write_bio_X509 (bio, cert);
  }
  cert_der = g_bytes_new (der, (gsize) der_len);
  OPENSSL_free (der);
  small = make_package (base, "serial", serial_size, key, cert_der);
  big = make_package (base, "tcp", tcp_size, key, cert_der);

  printf ("program push, %d baud emulated (%" G_GSIZE_FORMAT " KiB):\n", BAUD, serial_size / 1024);
  secs = push_once (base, "BP0001", cert_path, small, baud);
  goodput = (double) serial_size / secs;
  printf ("  %.2f s, goodput %.0f B/s, link byte rate %.0f B/s: ratio %.3f (goal >= 0.90)\n",
          secs, goodput, link_rate, goodput / link_rate);

  printf ("program push, loopback TCP (%" G_GSIZE_FORMAT " MiB):\n", tcp_size / (1024 * 1024));
  secs = push_once (base, "BP0002", cert_path, big, NULL);
  printf ("  %.2f s, goodput %.1f MB/s (goal >= 50)\n", secs, (double) tcp_size / secs / 1e6);
  return 0;
}
