/* SPDX-License-Identifier: GPL-3.0-or-later
 *
 * fuzz-termsim-request.c: libFuzzer target for the terminal side of the
 * link protocol: what posprov-termsim does with a REQUEST payload, its TLV
 * codec (devices/link/pp-link-tlv.c) and its command dispatch and handlers
 * (devices/termsim/pp-termsim.c), on a throwaway terminal folder made once
 * (factory mode, the test PKI's CA_KRD). The first input byte is the
 * command, the rest the payload. Every answer must carry a known status
 * and be a well-formed TLV payload; a refusal must say why (MESSAGE).
 */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>

#include <glib/gstdio.h>

#include "pp-link-tlv.h"
#include "pp-termsim.h"
#include "tr34-test-pki.h"

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

static PpTermsim *sim;
static char *folder;

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

static void
cleanup (void)
{
  g_clear_pointer (&sim, pp_termsim_unref);
  if (folder != NULL)
    remove_tree (folder);
  g_clear_pointer (&folder, g_free);
}

static void
setup (void)
{
  const PpTestPki *pki = pp_test_pki_get ();
  g_autoptr(GPtrArray) trust = g_ptr_array_new ();
  g_autoptr(GError) error = NULL;
  g_autofree char *dir = NULL;
  PpTermsimIdentity identity = { "FZ0001", "Fuzz", "F1", NULL, NULL, NULL };

  folder = g_dir_make_tmp ("fuzz-termsim-XXXXXX", &error);
  if (folder == NULL)
    abort ();
  atexit (cleanup);
  dir = g_build_filename (folder, "term", NULL);
  g_ptr_array_add (trust, pki->root);
  g_ptr_array_add (trust, pki->ca_kdh);
  if (!pp_termsim_init (dir, &identity, pki->ca_krd, pki->ca_krd_key, trust, &error) ||
      (sim = pp_termsim_open (dir, &error)) == NULL)
    abort ();
}

int
LLVMFuzzerTestOneInput (const uint8_t *data,
                        size_t         size)
{
  g_autoptr(GBytes) payload = NULL, answer = NULL;
  g_autoptr(PpLinkTlvSet) set = NULL;
  guint8 status = 0xFF;

  if (sim == NULL)
    setup ();
  if (size == 0 || size > 65536)
    return 0;
  payload = g_bytes_new (data + 1, size - 1);
  answer = pp_termsim_handle (sim, data[0], payload, &status);
  if (answer == NULL || status > PP_STATUS_BUSY)
    abort ();
  if ((set = pp_link_tlv_parse (answer, NULL)) == NULL)
    abort ();
  if (status != PP_STATUS_OK && status != PP_STATUS_TAMPERED && status != PP_STATUS_NOT_BOUND &&
      status != PP_STATUS_NO_CERT && !pp_link_tlv_has (set, PP_TAG_MESSAGE))
    abort ();
  return 0;
}
