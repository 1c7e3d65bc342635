/* SPDX-License-Identifier: GPL-3.0-or-later
 *
 * pp-pinblock.c: ISO 9564-1 PIN block formats 0 and 4.
 */
#include "config.h"

#include <string.h>

#include <openssl/crypto.h>
#include <openssl/rand.h>

#include "pp-block-cipher.h"
#include "pp-pinblock.h"

G_DEFINE_QUARK (pp-pin-block-error-quark, pp_pin_block_error)

static gboolean
all_digits (const char *s,
            gsize       len)
{
  for (gsize i = 0; i < len; i++)
    if (!g_ascii_isdigit (s[i]))
      return FALSE;

  return TRUE;
}

static gboolean
check_pin (const char  *pin,
           gsize       *out_len,
           GError     **error)
{
  gsize len = strlen (pin);

  /* Never echo the PIN itself in a message. */
  if (len < PP_PIN_MIN_DIGITS || len > PP_PIN_MAX_DIGITS || !all_digits (pin, len))
    {
      g_set_error (error, PP_PIN_BLOCK_ERROR, PP_PIN_BLOCK_ERROR_PIN_INVALID,
                   "A PIN is %d to %d decimal digits",
                   PP_PIN_MIN_DIGITS, PP_PIN_MAX_DIGITS);
      return FALSE;
    }

  *out_len = len;
  return TRUE;
}

static gboolean
check_pan (const char  *pan,
           gsize       *out_len,
           GError     **error)
{
  gsize len = strlen (pan);

  if (len < 1 || len > PP_PAN_MAX_DIGITS || !all_digits (pan, len))
    {
      g_set_error (error, PP_PIN_BLOCK_ERROR, PP_PIN_BLOCK_ERROR_PAN_INVALID,
                   "A PAN is 1 to %d decimal digits", PP_PAN_MAX_DIGITS);
      return FALSE;
    }

  *out_len = len;
  return TRUE;
}

static void
set_nibble (guint8 *buf,
            gsize   index,
            guint8  value)
{
  if (index % 2 == 0)
    buf[index / 2] = (guint8) ((buf[index / 2] & 0x0F) | (value << 4));
  else
    buf[index / 2] = (guint8) ((buf[index / 2] & 0xF0) | (value & 0x0F));
}

static guint8
get_nibble (const guint8 *buf,
            gsize         index)
{
  return index % 2 == 0 ? buf[index / 2] >> 4 : buf[index / 2] & 0x0F;
}

/* Control nibble, length nibble, PIN digits, then @fill up to 16 nibbles
 * (the first 8 bytes of both formats). */
static void
pin_nibbles (guint8      *out,
             guint8       control,
             const char  *pin,
             gsize        pin_len,
             guint8       fill)
{
  set_nibble (out, 0, control);
  set_nibble (out, 1, (guint8) pin_len);
  for (gsize i = 0; i < 14; i++)
    set_nibble (out, 2 + i, i < pin_len ? (guint8) (pin[i] - '0') : fill);
}

/* Reads back what pin_nibbles() wrote; the caller frees with
 * pp_hex_free_secret(). */
static char *
parse_pin_nibbles (const guint8  *in,
                   guint8         control,
                   guint8         fill,
                   GError       **error)
{
  guint8 len;
  char *pin;

  if (get_nibble (in, 0) != control)
    {
      g_set_error (error, PP_PIN_BLOCK_ERROR, PP_PIN_BLOCK_ERROR_FORMAT,
                   "Not an ISO 9564 format %u PIN block (control field %X)",
                   control, get_nibble (in, 0));
      return NULL;
    }

  len = get_nibble (in, 1);
  if (len < PP_PIN_MIN_DIGITS || len > PP_PIN_MAX_DIGITS)
    {
      g_set_error (error, PP_PIN_BLOCK_ERROR, PP_PIN_BLOCK_ERROR_PIN_LENGTH_FIELD,
                   "The PIN length field says %u digits; a PIN is %d to %d digits",
                   len, PP_PIN_MIN_DIGITS, PP_PIN_MAX_DIGITS);
      return NULL;
    }

  for (gsize i = 0; i < 14; i++)
    {
      guint8 n = get_nibble (in, 2 + i);

      if ((i < len && n > 9) || (i >= len && n != fill))
        {
          g_set_error_literal (error, PP_PIN_BLOCK_ERROR, PP_PIN_BLOCK_ERROR_FILL,
                               "The PIN block holds a non-digit in the PIN or a wrong fill "
                               "(wrong key or wrong PAN?)");
          return NULL;
        }
    }

  pin = g_malloc (len + 1);
  for (gsize i = 0; i < len; i++)
    pin[i] = (char) ('0' + get_nibble (in, 2 + i));
  pin[len] = '\0';

  return pin;
}

/* Format 0 PAN field: 0000 and the 12 rightmost digits excluding the check
 * digit, left-padded with zeros when the PAN is shorter. */
static void
format0_pan_field (const char *pan,
                   gsize       pan_len,
                   guint8      out[8])
{
  gsize avail = pan_len - 1;

  memset (out, 0, 8);
  for (gsize i = 0; i < 12; i++)
    {
      /* Nibble 4 + i takes digit avail - 12 + i, if it exists. */
      if (avail + i >= 12)
        set_nibble (out, 4 + i, (guint8) (pan[avail - 12 + i] - '0'));
    }
}

gboolean
pp_pin_block_format0_encode (const char  *pin,
                             const char  *pan,
                             guint8       out[PP_PIN_BLOCK_FORMAT0_LEN],
                             GError     **error)
{
  guint8 pan_field[8];
  gsize pin_len, pan_len;

  g_return_val_if_fail (pin != NULL && pan != NULL && out != NULL, FALSE);

  if (!check_pin (pin, &pin_len, error) || !check_pan (pan, &pan_len, error))
    return FALSE;

  pin_nibbles (out, 0x0, pin, pin_len, 0xF);
  format0_pan_field (pan, pan_len, pan_field);
  for (guint i = 0; i < 8; i++)
    out[i] ^= pan_field[i];

  return TRUE;
}

char *
pp_pin_block_format0_decode (const guint8   block[PP_PIN_BLOCK_FORMAT0_LEN],
                             const char    *pan,
                             GError       **error)
{
  guint8 field[8], pan_field[8];
  gsize pan_len;
  char *pin;

  g_return_val_if_fail (block != NULL && pan != NULL, NULL);

  if (!check_pan (pan, &pan_len, error))
    return NULL;

  format0_pan_field (pan, pan_len, pan_field);
  for (guint i = 0; i < 8; i++)
    field[i] = block[i] ^ pan_field[i];

  pin = parse_pin_nibbles (field, 0x0, 0xF, error);
  OPENSSL_cleanse (field, sizeof field);

  return pin;
}

gboolean
pp_pin_block_format4_encode_pin_field (const char    *pin,
                                       const guint8  *random_fill,
                                       guint8         out[PP_PIN_BLOCK_FORMAT4_LEN],
                                       GError       **error)
{
  gsize pin_len;

  g_return_val_if_fail (pin != NULL && out != NULL, FALSE);

  if (!check_pin (pin, &pin_len, error))
    return FALSE;

  pin_nibbles (out, 0x4, pin, pin_len, 0xA);
  if (random_fill != NULL)
    memcpy (out + 8, random_fill, 8);
  else if (RAND_bytes (out + 8, 8) != 1)
    {
      OPENSSL_cleanse (out, PP_PIN_BLOCK_FORMAT4_LEN);
      g_set_error_literal (error, PP_PIN_BLOCK_ERROR, PP_PIN_BLOCK_ERROR_CRYPTO,
                           "No random bytes for the PIN field");
      return FALSE;
    }

  return TRUE;
}

gboolean
pp_pin_block_format4_encode_pan_field (const char  *pan,
                                       guint8       out[PP_PIN_BLOCK_FORMAT4_LEN],
                                       GError     **error)
{
  gsize pan_len, pad;

  g_return_val_if_fail (pan != NULL && out != NULL, FALSE);

  if (!check_pan (pan, &pan_len, error))
    return FALSE;

  /* M, then the PAN right-justified in at least 12 digits, then zeros. */
  memset (out, 0, PP_PIN_BLOCK_FORMAT4_LEN);
  set_nibble (out, 0, pan_len > 12 ? (guint8) (pan_len - 12) : 0);
  pad = pan_len < 12 ? 12 - pan_len : 0;
  for (gsize i = 0; i < pan_len; i++)
    set_nibble (out, 1 + pad + i, (guint8) (pan[i] - '0'));

  return TRUE;
}

char *
pp_pin_block_format4_decode_pin_field (const guint8   field[PP_PIN_BLOCK_FORMAT4_LEN],
                                       GError       **error)
{
  g_return_val_if_fail (field != NULL, NULL);

  return parse_pin_nibbles (field, 0x4, 0xA, error);
}

static gboolean
check_aes_key (const PpSecureBuffer  *key,
               GError               **error)
{
  gsize len = pp_secure_buffer_get_len (key);

  if (len != 16 && len != 24 && len != 32)
    {
      g_set_error (error, PP_PIN_BLOCK_ERROR, PP_PIN_BLOCK_ERROR_KEY_LENGTH,
                   "A format 4 PIN key is an AES key of 16, 24 or 32 bytes, not %" G_GSIZE_FORMAT,
                   len);
      return FALSE;
    }

  return TRUE;
}

/* Format 4 is two AES passes with the PAN field XORed in between;
 * deciphering runs the same passes with AES decryption. */
static gboolean
format4_passes (const PpSecureBuffer *key,
                gboolean              encrypt,
                const guint8          in[PP_PIN_BLOCK_FORMAT4_LEN],
                const guint8          pan_field[PP_PIN_BLOCK_FORMAT4_LEN],
                guint8                out[PP_PIN_BLOCK_FORMAT4_LEN])
{
  const guint8 *k = pp_secure_buffer_peek (key);
  gsize klen = pp_secure_buffer_get_len (key);
  guint8 tmp[PP_PIN_BLOCK_FORMAT4_LEN];
  gboolean ok;

  ok = pp_block_cipher_aes_ecb (k, klen, encrypt, in, tmp, sizeof tmp);
  for (guint i = 0; i < sizeof tmp; i++)
    tmp[i] ^= pan_field[i];
  ok = ok && pp_block_cipher_aes_ecb (k, klen, encrypt, tmp, out, sizeof tmp);
  OPENSSL_cleanse (tmp, sizeof tmp);

  return ok;
}

gboolean
pp_pin_block_format4_encipher (const PpSecureBuffer  *key,
                               const guint8           pin_field[PP_PIN_BLOCK_FORMAT4_LEN],
                               const guint8           pan_field[PP_PIN_BLOCK_FORMAT4_LEN],
                               guint8                 out[PP_PIN_BLOCK_FORMAT4_LEN],
                               GError               **error)
{
  g_return_val_if_fail (key != NULL && pin_field != NULL && pan_field != NULL && out != NULL,
                        FALSE);

  if (!check_aes_key (key, error))
    return FALSE;

  if (!format4_passes (key, TRUE, pin_field, pan_field, out))
    {
      g_set_error_literal (error, PP_PIN_BLOCK_ERROR, PP_PIN_BLOCK_ERROR_CRYPTO,
                           "AES encryption failed");
      return FALSE;
    }

  return TRUE;
}

char *
pp_pin_block_format4_decipher (const PpSecureBuffer  *key,
                               const guint8           block[PP_PIN_BLOCK_FORMAT4_LEN],
                               const char            *pan,
                               GError               **error)
{
  guint8 pan_field[16], pin_field[16];
  char *pin = NULL;

  g_return_val_if_fail (key != NULL && block != NULL && pan != NULL, NULL);

  if (!check_aes_key (key, error) ||
      !pp_pin_block_format4_encode_pan_field (pan, pan_field, error))
    return NULL;

  if (!format4_passes (key, FALSE, block, pan_field, pin_field))
    g_set_error_literal (error, PP_PIN_BLOCK_ERROR, PP_PIN_BLOCK_ERROR_CRYPTO,
                         "AES decryption failed");
  else
    pin = pp_pin_block_format4_decode_pin_field (pin_field, error);

  OPENSSL_cleanse (pin_field, sizeof pin_field);
  return pin;
}
