/* SPDX-License-Identifier: GPL-3.0-or-later
 *
 * pp-block-cipher.h: raw block operations (TDES and AES: ECB, CBC and CMAC)
 * that DUKPT, PIN blocks, the retail MAC, key check values and TR-31 key
 * blocks are built from.
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

/* As above in CBC mode; @iv is 16 bytes (NULL: zero IV). */
gboolean pp_block_cipher_aes_cbc  (const guint8 *key,
                                   gsize         key_len,
                                   gboolean      encrypt,
                                   const guint8 *iv,
                                   const guint8 *in,
                                   guint8       *out,
                                   gsize         len);

/* CMAC (NIST SP 800-38B) of @a || @b.  The message comes in two parts so
 * that a clear header and secret key data never have to be copied together
 * outside a secure buffer; either part may be empty (NULL, 0).  @key as for
 * pp_block_cipher_tdes_ecb(), the MAC is one whole block. */
gboolean pp_block_cipher_tdes_cmac (const guint8 *key,
                                    gsize         key_len,
                                    const guint8 *a,
                                    gsize         a_len,
                                    const guint8 *b,
                                    gsize         b_len,
                                    guint8        out[PP_BLOCK_CIPHER_DES_BLOCK]);

/* The same with AES; @key as for pp_block_cipher_aes_ecb(). */
gboolean pp_block_cipher_aes_cmac  (const guint8 *key,
                                    gsize         key_len,
                                    const guint8 *a,
                                    gsize         a_len,
                                    const guint8 *b,
                                    gsize         b_len,
                                    guint8        out[PP_BLOCK_CIPHER_AES_BLOCK]);

G_END_DECLS
