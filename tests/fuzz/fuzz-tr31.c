/* SPDX-License-Identifier: GPL-3.0-or-later
 *
 * fuzz-tr31.c: libFuzzer target for the TR-31 / X9.143 parser: the header
 * parser on its own, then unwrap under a fixed KBPK of each length. The
 * KBPKs are those of the seed blocks (TR-31:2018 A.7.2.2 and A.7.4, psec
 * known values), so seeds and their mutations get past the MAC; whatever
 * unwraps must wrap and unwrap again to the same key.
 */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "pp-tr31.h"

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

static const char * const kbpk_hex[] = {
  "DD7515F2BFC17F85CE48F3CA25CB21F6",
  "AAAAAAAAAAAAAAAABBBBBBBBBBBBBBBBCCCCCCCCCCCCCCCC",
  "88E1AB2A2E3DD38C1FA039A536500CC8A87AB9D62DC92C01058FA79F44657DE6",
};

static PpSecureBuffer *kbpks[G_N_ELEMENTS (kbpk_hex)];

static void
check_rewrap (const PpSecureBuffer *kbpk,
              const char           *block,
              const PpTr31Header   *header,
              const PpSecureBuffer *key)
{
  g_autofree char *head = g_strndup (block, header->header_length);
  g_autofree char *again = NULL;
  g_autoptr(PpSecureBuffer) back = NULL;

  gsize bs = header->version == 'D' ? 16 : 8;
  gsize used = 2 + pp_secure_buffer_get_len (key);
  guint8 zeros[16] = { 0 };

  /* Fixed padding keeps runs reproducible. */
  again = pp_tr31_wrap_with_padding (kbpk, head, key, zeros, (bs - used % bs) % bs, NULL);
  if (again == NULL)
    return;  /* e.g. the re-wrapped block would exceed 9999 characters */
  back = pp_tr31_unwrap (kbpk, again, NULL, NULL);
  if (back == NULL || !pp_secure_buffer_equal (back, key))
    abort ();
}

int
LLVMFuzzerTestOneInput (const uint8_t *data,
                        size_t         size)
{
  g_autofree char *text = NULL;
  g_autoptr(PpTr31Header) parsed = NULL;

  if (kbpks[0] == NULL)
    {
      for (guint i = 0; i < G_N_ELEMENTS (kbpk_hex); i++)
        kbpks[i] = pp_secure_buffer_new_from_hex (kbpk_hex[i], NULL);
    }

  /* The API takes C strings: anything after a NUL is not part of it. */
  text = g_strndup ((const char *) data, size);

  parsed = pp_tr31_header_parse (text, NULL);
  if (parsed != NULL && parsed->header_length > strlen (text))
    abort ();

  for (guint i = 0; i < G_N_ELEMENTS (kbpks); i++)
    {
      g_autoptr(PpTr31Header) header = NULL;
      g_autoptr(PpSecureBuffer) key = NULL;
      g_autoptr(GError) error = NULL;

      key = pp_tr31_unwrap (kbpks[i], text, &header, &error);
      if (key == NULL)
        {
          if (error == NULL || error->domain != PP_TR31_ERROR)
            abort ();
          continue;
        }
      check_rewrap (kbpks[i], text, header, key);
    }

  return 0;
}
