/* SPDX-License-Identifier: GPL-3.0-or-later
 *
 * pp-block-cipher.h: raw block operations (TDES and AES, ECB and CBC) that
 * DUKPT, PIN blocks and the retail MAC are built from.
 *
 * Everything goes through OpenSSL 3 EVP.  Single DES is run as DES-EDE3
 * with K|K|K, so the legacy provider is never needed.  These helpers take
 * plain byte pointers because they sit below PpSecureBuffer: callers pass
 * pointers into secure buffers and keep intermediate values there.
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

#define PP_BLOCK_CIPHER_DES_BLOCK 8
#define PP_BLOCK_CIPHER_AES_BLOCK 16

/* @key is 8 (single DES), 16 (2-key) or 24 (3-key) bytes; @len a multiple
 * of 8.  @in and @out may be the same buffer.  FALSE on a bad key length
 * or an OpenSSL failure. */
gboolean pp_block_cipher_tdes_ecb (const guint8 *key,
                                   gsize         key_len,
                                   gboolean      encrypt,
                                   const guint8 *in,
                                   guint8       *out,
                                   gsize         len);

/* As above in CBC mode; @iv is 8 bytes (NULL: zero IV). */
gboolean pp_block_cipher_tdes_cbc (const guint8 *key,
                                   gsize         key_len,
                                   gboolean      encrypt,
                                   const guint8 *iv,
                                   const guint8 *in,
                                   guint8       *out,
                                   gsize         len);

/* @key is 16, 24 or 32 bytes; @len a multiple of 16. */
gboolean pp_block_cipher_aes_ecb  (const guint8 *key,
                                   gsize         key_len,
                                   gboolean      encrypt,
                                   const guint8 *in,
                                   guint8       *out,
                                   gsize         len);

G_END_DECLS
