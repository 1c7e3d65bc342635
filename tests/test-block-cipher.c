/* SPDX-License-Identifier: GPL-3.0-or-later
 *
 * test-block-cipher.c: the shared TDES/AES primitives that KCV, TR-31,
 * DUKPT, PIN blocks and the retail MAC are built on.  Known values:
 *  - AES-CMAC: NIST SP 800-38B, Appendix D.1 (AES-128, examples 1 and 2)
 *    and D.3 (AES-256, example 4).
 *  - AES-CBC: NIST SP 800-38A, F.2.1 (CBC-AES128.Encrypt, first block).
 *  - TDES-CMAC: no published vector for our key lengths at hand; values
 *    computed independently with the openssl(1) command
 *    (`openssl mac -cipher DES-EDE3-CBC -macopt hexkey:K1K2K3 CMAC`) with
 *    K1|K2|K3, K1|K2|K1 and K1|K1|K1 spelled out.
 * The callers' own tests (kcv, tr31, dukpt, pinblock) cover the published
 * payment vectors.
 */
#include "config.h"

#include <string.h>

#include "pp-block-cipher.h"
#include "pp-hex.h"
#include "pp-test-util.h"

static GBytes *
hex (const char *h)
{
  g_autoptr(GError) error = NULL;
  GBytes *b;

  if (*h == '\0')
    return g_bytes_new (NULL, 0);
  b = pp_hex_decode (h, &error);
  g_assert_no_error (error);
  return b;
}

static const char nist_m16[] = "6bc1bee22e409f96e93d7e117393172a";
static const char nist_m64[] =
  "6bc1bee22e409f96e93d7e117393172aae2d8a571e03ac9c9eb76fac45af8e51"
  "30c81c46a35ce411e5fbc1191a0a52eff69f2445df4f9b17ad2b417be66c3710";

static void
test_aes_cmac (void)
{
  static const struct {
    const char *key, *msg, *tag;
  } cases[] = {
    { "2b7e151628aed2a6abf7158809cf4f3c", "", "BB1D6929E95937287FA37D129B756746" },
    { "2b7e151628aed2a6abf7158809cf4f3c", nist_m16, "070A16B46B4D4144F79BDD9DD04A287C" },
    { "603deb1015ca71be2b73aef0857d77811f352c073b6108d72d9810a30914dff4", nist_m64,
      "E1992190549F6ED5696A2C056C315410" },
  };

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autoptr(GBytes) key = hex (cases[i].key);
      g_autoptr(GBytes) msg = hex (cases[i].msg);
      const guint8 *m = g_bytes_get_data (msg, NULL);
      gsize len = g_bytes_get_size (msg);
      guint8 tag[PP_BLOCK_CIPHER_AES_BLOCK];
      g_autofree char *tag_hex = NULL;

      g_assert_true (pp_block_cipher_aes_cmac (g_bytes_get_data (key, NULL),
                                               g_bytes_get_size (key),
                                               m, len, NULL, 0, tag));
      tag_hex = pp_hex_encode (tag, sizeof tag);
      g_assert_cmpstr (tag_hex, ==, cases[i].tag);

      /* Every split of the message into a || b gives the same tag. */
      for (gsize cut = 0; cut <= len; cut++)
        {
          g_autofree char *split_hex = NULL;

          memset (tag, 0, sizeof tag);
          g_assert_true (pp_block_cipher_aes_cmac (g_bytes_get_data (key, NULL),
                                                   g_bytes_get_size (key),
                                                   cut > 0 ? m : NULL, cut,
                                                   cut < len ? m + cut : NULL, len - cut,
                                                   tag));
          split_hex = pp_hex_encode (tag, sizeof tag);
          g_assert_cmpstr (split_hex, ==, cases[i].tag);
        }
    }
}

static void
test_tdes_cmac (void)
{
  static const struct {
    const char *key, *tag;
  } cases[] = {
    { "8aa83bf8cbda10620bc1bf19fbb6cd58bc313d4a371ca8b5", "286D394673448197" },
    { "8aa83bf8cbda10620bc1bf19fbb6cd58", "E7FD4737B8AD6155" },
    { "8aa83bf8cbda1062", "BC63ECE798D18F74" },
  };
  g_autoptr(GBytes) msg = hex (nist_m16);
  const guint8 *m = g_bytes_get_data (msg, NULL);

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autoptr(GBytes) key = hex (cases[i].key);
      guint8 tag[PP_BLOCK_CIPHER_DES_BLOCK];
      g_autofree char *tag_hex = NULL;
      g_autofree char *split_hex = NULL;

      g_assert_true (pp_block_cipher_tdes_cmac (g_bytes_get_data (key, NULL),
                                                g_bytes_get_size (key),
                                                m, 16, NULL, 0, tag));
      tag_hex = pp_hex_encode (tag, sizeof tag);
      g_assert_cmpstr (tag_hex, ==, cases[i].tag);

      memset (tag, 0, sizeof tag);
      g_assert_true (pp_block_cipher_tdes_cmac (g_bytes_get_data (key, NULL),
                                                g_bytes_get_size (key),
                                                m, 5, m + 5, 11, tag));
      split_hex = pp_hex_encode (tag, sizeof tag);
      g_assert_cmpstr (split_hex, ==, cases[i].tag);
    }
}

static void
test_aes_cbc (void)
{
  g_autoptr(GBytes) key = hex ("2b7e151628aed2a6abf7158809cf4f3c");
  g_autoptr(GBytes) iv = hex ("000102030405060708090a0b0c0d0e0f");
  g_autoptr(GBytes) msg = hex (nist_m16);
  guint8 ct[16], back[16];
  g_autofree char *ct_hex = NULL;

  g_assert_true (pp_block_cipher_aes_cbc (g_bytes_get_data (key, NULL), 16, TRUE,
                                          g_bytes_get_data (iv, NULL),
                                          g_bytes_get_data (msg, NULL), ct, 16));
  ct_hex = pp_hex_encode (ct, sizeof ct);
  g_assert_cmpstr (ct_hex, ==, "7649ABAC8119B246CEE98E9B12E9197D");

  g_assert_true (pp_block_cipher_aes_cbc (g_bytes_get_data (key, NULL), 16, FALSE,
                                          g_bytes_get_data (iv, NULL), ct, back, 16));
  g_assert_true (memcmp (back, g_bytes_get_data (msg, NULL), 16) == 0);
}

static void
test_bad_lengths (void)
{
  static const guint8 key[33] = { 0 };
  static const guint8 in[17] = { 0 };
  guint8 out[32];

  /* Key lengths no primitive accepts. */
  g_assert_false (pp_block_cipher_tdes_cmac (key, 15, in, 8, NULL, 0, out));
  g_assert_false (pp_block_cipher_tdes_cmac (key, 32, in, 8, NULL, 0, out));
  g_assert_false (pp_block_cipher_aes_cmac (key, 8, in, 16, NULL, 0, out));
  g_assert_false (pp_block_cipher_aes_cmac (key, 33, in, 16, NULL, 0, out));
  g_assert_false (pp_block_cipher_aes_cbc (key, 8, TRUE, NULL, in, out, 16));

  /* Partial blocks: the modes run without padding. */
  g_assert_false (pp_block_cipher_aes_cbc (key, 16, TRUE, NULL, in, out, 17));
  g_assert_false (pp_block_cipher_aes_ecb (key, 16, TRUE, in, out, 8));
  g_assert_false (pp_block_cipher_tdes_cbc (key, 16, TRUE, NULL, in, out, 12));
}

int
main (int    argc,
      char **argv)
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/block-cipher/aes-cmac", test_aes_cmac);
  g_test_add_func ("/block-cipher/tdes-cmac", test_tdes_cmac);
  g_test_add_func ("/block-cipher/aes-cbc", test_aes_cbc);
  g_test_add_func ("/block-cipher/bad-lengths", test_bad_lengths);

  return g_test_run ();
}
