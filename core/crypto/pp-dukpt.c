/* SPDX-License-Identifier: GPL-3.0-or-later
 *
 * pp-dukpt.c: TDES DUKPT (ANSI X9.24-1:2009) and AES DUKPT
 * (ANSI X9.24-3:2017) key derivation, host side.
 */
#include "config.h"

#include <string.h>

#include <openssl/crypto.h>

#include "pp-block-cipher.h"
#include "pp-dukpt.h"

G_DEFINE_QUARK (pp-dukpt-error-quark, pp_dukpt_error)

/* X9.24-1: the mask applied to the BDK (right half of the IPEK) and to the
 * key register in the non-reversible key generation process. */
static const guint8 tdes_key_mask[16] = {
  0xC0, 0xC0, 0xC0, 0xC0, 0x00, 0x00, 0x00, 0x00,
  0xC0, 0xC0, 0xC0, 0xC0, 0x00, 0x00, 0x00, 0x00,
};

static gboolean
crypto_failed (GError **error)
{
  g_set_error_literal (error, PP_DUKPT_ERROR, PP_DUKPT_ERROR_CRYPTO,
                       "Block cipher operation failed");
  return FALSE;
}

static guint
count_bits (guint32 v)
{
  guint n = 0;

  for (; v != 0; v &= v - 1)
    n++;

  return n;
}

static gboolean
check_counter (guint32   counter,
               guint     max_bits,
               GError  **error)
{
  guint bits = count_bits (counter);

  if (counter == 0)
    {
      g_set_error_literal (error, PP_DUKPT_ERROR, PP_DUKPT_ERROR_COUNTER_ZERO,
                           "The KSN transaction counter is zero: no transaction key belongs to it");
      return FALSE;
    }

  if (bits > max_bits)
    {
      g_set_error (error, PP_DUKPT_ERROR, PP_DUKPT_ERROR_COUNTER_TOO_MANY_BITS,
                   "The KSN transaction counter has %u one bits; at most %u are valid",
                   bits, max_bits);
      return FALSE;
    }

  return TRUE;
}

/* TDES DUKPT */

static guint32
tdes_counter (const guint8 *ksn)
{
  return ((guint32) (ksn[7] & 0x1F) << 16) | ((guint32) ksn[8] << 8) | ksn[9];
}

static gboolean
check_tdes_ksn (gsize    ksn_len,
                GError **error)
{
  if (ksn_len != PP_DUKPT_TDES_KSN_LEN)
    {
      g_set_error (error, PP_DUKPT_ERROR, PP_DUKPT_ERROR_KSN_LENGTH,
                   "A TDES DUKPT KSN is %d bytes, not %" G_GSIZE_FORMAT,
                   PP_DUKPT_TDES_KSN_LEN, ksn_len);
      return FALSE;
    }

  return TRUE;
}

PpSecureBuffer *
pp_dukpt_tdes_derive_ipek (const PpSecureBuffer  *bdk,
                           const guint8          *ksn,
                           gsize                  ksn_len,
                           GError               **error)
{
  g_autoptr(PpSecureBuffer) ipek = NULL;
  g_autoptr(PpSecureBuffer) masked = NULL;
  guint8 iksn[8];
  gboolean ok;

  g_return_val_if_fail (bdk != NULL, NULL);
  g_return_val_if_fail (ksn != NULL || ksn_len == 0, NULL);

  if (pp_secure_buffer_get_len (bdk) != PP_DUKPT_TDES_BDK_LEN)
    {
      g_set_error (error, PP_DUKPT_ERROR, PP_DUKPT_ERROR_BDK_LENGTH,
                   "A TDES DUKPT BDK is a %d-byte double-length key, not %" G_GSIZE_FORMAT " bytes",
                   PP_DUKPT_TDES_BDK_LEN, pp_secure_buffer_get_len (bdk));
      return NULL;
    }
  if (!check_tdes_ksn (ksn_len, error))
    return NULL;

  /* The initial KSN is the leftmost 64 bits with the counter cleared. */
  memcpy (iksn, ksn, 8);
  iksn[7] &= 0xE0;

  masked = pp_secure_buffer_dup (bdk);
  for (guint i = 0; i < 16; i++)
    pp_secure_buffer_get_data (masked)[i] ^= tdes_key_mask[i];

  ipek = pp_secure_buffer_new (PP_DUKPT_TDES_KEY_LEN);
  ok = pp_block_cipher_tdes_ecb (pp_secure_buffer_peek (bdk), 16, TRUE, iksn,
                                 pp_secure_buffer_get_data (ipek), 8) &&
       pp_block_cipher_tdes_ecb (pp_secure_buffer_peek (masked), 16, TRUE, iksn,
                                 pp_secure_buffer_get_data (ipek) + 8, 8);
  if (!ok)
    {
      crypto_failed (error);
      return NULL;
    }

  return g_steal_pointer (&ipek);
}

/* One half of the non-reversible key generation process: the register
 * XORed with the right half of @key, DES-encrypted under its left half,
 * XORed with the right half again. */
static gboolean
tdes_nrkgp_half (const guint8 key[16],
                 const guint8 reg[8],
                 guint8       out[8])
{
  gboolean ok;

  for (guint i = 0; i < 8; i++)
    out[i] = reg[i] ^ key[8 + i];
  ok = pp_block_cipher_tdes_ecb (key, 8, TRUE, out, out, 8);
  for (guint i = 0; i < 8; i++)
    out[i] ^= key[8 + i];

  return ok;
}

/* The non-reversible key generation process: @key (16 bytes, in place)
 * becomes the key of the KSN register @reg. */
static gboolean
tdes_nrkgp (guint8       *key,
            const guint8  reg[8])
{
  guint8 cr1[8], cr2[8], k[16];
  gboolean ok;

  for (guint i = 0; i < 16; i++)
    k[i] = key[i] ^ tdes_key_mask[i];
  ok = tdes_nrkgp_half (key, reg, cr2) &&
       tdes_nrkgp_half (k, reg, cr1);

  /* On failure the caller discards the key. */
  if (ok)
    {
      memcpy (key, cr1, 8);
      memcpy (key + 8, cr2, 8);
    }

  OPENSSL_cleanse (cr1, sizeof cr1);
  OPENSSL_cleanse (cr2, sizeof cr2);
  OPENSSL_cleanse (k, sizeof k);

  return ok;
}

PpSecureBuffer *
pp_dukpt_tdes_derive_transaction_key (const PpSecureBuffer  *ipek,
                                      const guint8          *ksn,
                                      gsize                  ksn_len,
                                      GError               **error)
{
  g_autoptr(PpSecureBuffer) key = NULL;
  guint8 reg[8];
  guint32 counter;

  g_return_val_if_fail (ipek != NULL, NULL);
  g_return_val_if_fail (ksn != NULL || ksn_len == 0, NULL);

  if (pp_secure_buffer_get_len (ipek) != PP_DUKPT_TDES_KEY_LEN)
    {
      g_set_error (error, PP_DUKPT_ERROR, PP_DUKPT_ERROR_KEY_LENGTH,
                   "A TDES DUKPT IPEK is %d bytes, not %" G_GSIZE_FORMAT,
                   PP_DUKPT_TDES_KEY_LEN, pp_secure_buffer_get_len (ipek));
      return NULL;
    }
  if (!check_tdes_ksn (ksn_len, error))
    return NULL;

  counter = tdes_counter (ksn);
  if (!check_counter (counter, PP_DUKPT_TDES_MAX_COUNTER_BITS, error))
    return NULL;

  /* The KSN register is the rightmost 64 bits of the KSN; the counter bits
   * are set one at a time from the top, each step deriving the next key. */
  memcpy (reg, ksn + 2, 8);
  reg[5] &= 0xE0;
  reg[6] = 0;
  reg[7] = 0;

  key = pp_secure_buffer_dup (ipek);
  for (guint32 bit = 0x100000; bit != 0; bit >>= 1)
    {
      if ((counter & bit) == 0)
        continue;

      reg[5] |= (guint8) (bit >> 16);
      reg[6] |= (guint8) (bit >> 8);
      reg[7] |= (guint8) bit;

      if (!tdes_nrkgp (pp_secure_buffer_get_data (key), reg))
        {
          crypto_failed (error);
          return NULL;
        }
    }

  return g_steal_pointer (&key);
}

PpSecureBuffer *
pp_dukpt_tdes_derive_working_key (const PpSecureBuffer  *transaction_key,
                                  PpDukptTdesUsage       usage,
                                  GError               **error)
{
  g_autoptr(PpSecureBuffer) key = NULL;
  g_autoptr(PpSecureBuffer) variant = NULL;
  guint variant_byte;
  gboolean one_way = FALSE;
  guint8 *v;

  g_return_val_if_fail (transaction_key != NULL, NULL);

  if (pp_secure_buffer_get_len (transaction_key) != PP_DUKPT_TDES_KEY_LEN)
    {
      g_set_error (error, PP_DUKPT_ERROR, PP_DUKPT_ERROR_KEY_LENGTH,
                   "A TDES DUKPT transaction key is %d bytes, not %" G_GSIZE_FORMAT,
                   PP_DUKPT_TDES_KEY_LEN, pp_secure_buffer_get_len (transaction_key));
      return NULL;
    }

  /* X9.24-1 variant constants: FF in byte 7 (PIN), 6 (MAC request),
   * 4 (MAC response), 5 (data request), 3 (data response) of each half. */
  switch (usage)
    {
    case PP_DUKPT_TDES_USAGE_PIN:           variant_byte = 7; break;
    case PP_DUKPT_TDES_USAGE_MAC_REQUEST:   variant_byte = 6; break;
    case PP_DUKPT_TDES_USAGE_MAC_RESPONSE:  variant_byte = 4; break;
    case PP_DUKPT_TDES_USAGE_DATA_REQUEST:  variant_byte = 5; one_way = TRUE; break;
    case PP_DUKPT_TDES_USAGE_DATA_RESPONSE: variant_byte = 3; one_way = TRUE; break;
    default:
      g_set_error (error, PP_DUKPT_ERROR, PP_DUKPT_ERROR_UNSUPPORTED_USAGE,
                   "Unknown TDES DUKPT key usage %d", (int) usage);
      return NULL;
    }

  variant = pp_secure_buffer_dup (transaction_key);
  v = pp_secure_buffer_get_data (variant);
  v[variant_byte] ^= 0xFF;
  v[8 + variant_byte] ^= 0xFF;

  if (!one_way)
    return g_steal_pointer (&variant);

  /* Data keys: the variant is not used directly but encrypted under
   * itself, so a data key never reveals the PIN or MAC keys' relatives. */
  key = pp_secure_buffer_new (PP_DUKPT_TDES_KEY_LEN);
  if (!pp_block_cipher_tdes_ecb (v, 16, TRUE, v, pp_secure_buffer_get_data (key), 16))
    {
      crypto_failed (error);
      return NULL;
    }

  return g_steal_pointer (&key);
}

/* AES DUKPT */

#define AES_DERIVATION_VERSION 0x01
#define AES_USAGE_KEY_DERIVATION 0x8000
#define AES_USAGE_KEY_DERIVATION_INITIAL_KEY 0x8001

gsize
pp_dukpt_key_type_get_length (PpDukptKeyType type)
{
  switch (type)
    {
    case PP_DUKPT_KEY_TYPE_TDES2:  return 16;
    case PP_DUKPT_KEY_TYPE_TDES3:  return 24;
    case PP_DUKPT_KEY_TYPE_AES128: return 16;
    case PP_DUKPT_KEY_TYPE_AES192: return 24;
    case PP_DUKPT_KEY_TYPE_AES256: return 32;
    default:                       return 0;
    }
}

static const char * const key_type_names[] = {
  [PP_DUKPT_KEY_TYPE_TDES2]  = "tdes2",
  [PP_DUKPT_KEY_TYPE_TDES3]  = "tdes3",
  [PP_DUKPT_KEY_TYPE_AES128] = "aes128",
  [PP_DUKPT_KEY_TYPE_AES192] = "aes192",
  [PP_DUKPT_KEY_TYPE_AES256] = "aes256",
};

const char *
pp_dukpt_key_type_to_string (PpDukptKeyType type)
{
  if ((guint) type >= G_N_ELEMENTS (key_type_names))
    return NULL;

  return key_type_names[type];
}

gboolean
pp_dukpt_key_type_from_string (const char     *name,
                               PpDukptKeyType *out_type)
{
  g_return_val_if_fail (name != NULL, FALSE);

  for (guint i = 0; i < G_N_ELEMENTS (key_type_names); i++)
    {
      if (g_ascii_strcasecmp (name, key_type_names[i]) == 0)
        {
          if (out_type != NULL)
            *out_type = (PpDukptKeyType) i;
          return TRUE;
        }
    }

  return FALSE;
}

gboolean
pp_dukpt_key_type_for_aes_length (gsize           len,
                                  PpDukptKeyType *out_type)
{
  PpDukptKeyType type;

  switch (len)
    {
    case 16: type = PP_DUKPT_KEY_TYPE_AES128; break;
    case 24: type = PP_DUKPT_KEY_TYPE_AES192; break;
    case 32: type = PP_DUKPT_KEY_TYPE_AES256; break;
    default: return FALSE;
    }

  if (out_type != NULL)
    *out_type = type;

  return TRUE;
}

static gboolean
is_aes_type (PpDukptKeyType type)
{
  return type == PP_DUKPT_KEY_TYPE_AES128 ||
         type == PP_DUKPT_KEY_TYPE_AES192 ||
         type == PP_DUKPT_KEY_TYPE_AES256;
}

/* X9.24-3 6.1.3: a derived key is never stronger than the key it comes
 * from.  TDES keys (at most 112 bits of strength) come from any AES key;
 * an AES key needs a derivation key at least as long. */
static gboolean
check_derivable (gsize            derivation_key_len,
                 PpDukptKeyType   type,
                 GError         **error)
{
  const char *name = pp_dukpt_key_type_to_string (type);

  if (name == NULL)
    {
      g_set_error (error, PP_DUKPT_ERROR, PP_DUKPT_ERROR_UNSUPPORTED_KEY_TYPE,
                   "Unknown DUKPT key type %d", (int) type);
      return FALSE;
    }

  if (is_aes_type (type) && pp_dukpt_key_type_get_length (type) > derivation_key_len)
    {
      g_set_error (error, PP_DUKPT_ERROR, PP_DUKPT_ERROR_UNSUPPORTED_KEY_TYPE,
                   "An %s key cannot be derived from a %" G_GSIZE_FORMAT "-bit AES key: "
                   "a derived key may not be stronger than its derivation key",
                   name, derivation_key_len * 8);
      return FALSE;
    }

  return TRUE;
}

static gboolean
check_aes_derivation_key (const PpSecureBuffer  *key,
                          PpDukptError           code,
                          const char            *what,
                          GError               **error)
{
  gsize len = pp_secure_buffer_get_len (key);

  if (!pp_dukpt_key_type_for_aes_length (len, NULL))
    {
      g_set_error (error, PP_DUKPT_ERROR, code,
                   "An AES DUKPT %s is an AES-128, AES-192 or AES-256 key (16, 24 or 32 bytes), "
                   "not %" G_GSIZE_FORMAT " bytes", what, len);
      return FALSE;
    }

  return TRUE;
}

/* The 16-byte derivation data of X9.24-3 6.3.2: version, block counter,
 * key usage, algorithm, length in bits, then either the whole initial key
 * ID or its right half and the counter. */
static void
aes_derivation_data (guint8          data[16],
                     guint16         usage,
                     PpDukptKeyType  type,
                     const guint8   *initial_key_id,
                     guint32         counter)
{
  guint16 bits = (guint16) (pp_dukpt_key_type_get_length (type) * 8);

  data[0] = AES_DERIVATION_VERSION;
  data[1] = 1;
  data[2] = (guint8) (usage >> 8);
  data[3] = (guint8) usage;
  data[4] = 0;
  data[5] = (guint8) type;
  data[6] = (guint8) (bits >> 8);
  data[7] = (guint8) bits;

  if (usage == AES_USAGE_KEY_DERIVATION_INITIAL_KEY)
    {
      memcpy (data + 8, initial_key_id, 8);
    }
  else
    {
      memcpy (data + 8, initial_key_id + 4, 4);
      data[12] = (guint8) (counter >> 24);
      data[13] = (guint8) (counter >> 16);
      data[14] = (guint8) (counter >> 8);
      data[15] = (guint8) counter;
    }
}

/* X9.24-3 6.3.1: as many AES-ECB blocks of the derivation data as the key
 * length needs, the block counter counting them; truncated to length. */
static PpSecureBuffer *
aes_derive (const guint8    *key,
            gsize            key_len,
            guint8           data[16],
            PpDukptKeyType   type,
            GError         **error)
{
  gsize out_len = pp_dukpt_key_type_get_length (type);
  g_autoptr(PpSecureBuffer) material = pp_secure_buffer_new (32);
  guint8 *m = pp_secure_buffer_get_data (material);

  for (gsize offset = 0; offset < out_len; offset += 16)
    {
      if (!pp_block_cipher_aes_ecb (key, key_len, TRUE, data, m + offset, 16))
        {
          crypto_failed (error);
          return NULL;
        }
      data[1]++;
    }

  pp_secure_buffer_truncate (material, out_len);
  return g_steal_pointer (&material);
}

static gboolean
check_initial_key_id (gsize    len,
                      GError **error)
{
  if (len != PP_DUKPT_AES_INITIAL_KEY_ID_LEN)
    {
      g_set_error (error, PP_DUKPT_ERROR, PP_DUKPT_ERROR_INITIAL_KEY_ID_LENGTH,
                   "An AES DUKPT initial key ID is %d bytes, not %" G_GSIZE_FORMAT,
                   PP_DUKPT_AES_INITIAL_KEY_ID_LEN, len);
      return FALSE;
    }

  return TRUE;
}

static gboolean
check_aes_ksn (gsize    len,
               GError **error)
{
  if (len != PP_DUKPT_AES_KSN_LEN)
    {
      g_set_error (error, PP_DUKPT_ERROR, PP_DUKPT_ERROR_KSN_LENGTH,
                   "An AES DUKPT KSN is %d bytes, not %" G_GSIZE_FORMAT,
                   PP_DUKPT_AES_KSN_LEN, len);
      return FALSE;
    }

  return TRUE;
}

static guint32
aes_counter (const guint8 *ksn)
{
  return ((guint32) ksn[8] << 24) | ((guint32) ksn[9] << 16) |
         ((guint32) ksn[10] << 8) | ksn[11];
}

PpSecureBuffer *
pp_dukpt_aes_derive_initial_key (const PpSecureBuffer  *bdk,
                                 const guint8          *initial_key_id,
                                 gsize                  initial_key_id_len,
                                 PpDukptKeyType         key_type,
                                 GError               **error)
{
  guint8 data[16];
  PpSecureBuffer *ik;

  g_return_val_if_fail (bdk != NULL, NULL);
  g_return_val_if_fail (initial_key_id != NULL || initial_key_id_len == 0, NULL);

  if (!check_aes_derivation_key (bdk, PP_DUKPT_ERROR_BDK_LENGTH, "BDK", error) ||
      !check_initial_key_id (initial_key_id_len, error) ||
      !check_derivable (pp_secure_buffer_get_len (bdk), key_type, error))
    return NULL;

  if (!is_aes_type (key_type))
    {
      g_set_error (error, PP_DUKPT_ERROR, PP_DUKPT_ERROR_UNSUPPORTED_KEY_TYPE,
                   "An AES DUKPT initial key derives further keys, so it is an AES key, not %s",
                   pp_dukpt_key_type_to_string (key_type));
      return NULL;
    }

  aes_derivation_data (data, AES_USAGE_KEY_DERIVATION_INITIAL_KEY, key_type,
                       initial_key_id, 0);
  ik = aes_derive (pp_secure_buffer_peek (bdk), pp_secure_buffer_get_len (bdk),
                   data, key_type, error);
  OPENSSL_cleanse (data, sizeof data);

  return ik;
}

/* Walks the counter bits from the top; no validity check, because the
 * update key deliberately uses counter FFFFFFFF. */
static PpSecureBuffer *
aes_walk (const PpSecureBuffer  *initial_key,
          const guint8          *initial_key_id,
          guint32                counter,
          GError               **error)
{
  g_autoptr(PpSecureBuffer) key = pp_secure_buffer_dup (initial_key);
  PpDukptKeyType type;
  guint32 working = 0;
  guint8 data[16];

  pp_dukpt_key_type_for_aes_length (pp_secure_buffer_get_len (key), &type);

  for (guint32 bit = 0x80000000u; bit != 0; bit >>= 1)
    {
      PpSecureBuffer *next;

      if ((counter & bit) == 0)
        continue;

      working |= bit;
      aes_derivation_data (data, AES_USAGE_KEY_DERIVATION, type, initial_key_id, working);
      next = aes_derive (pp_secure_buffer_peek (key), pp_secure_buffer_get_len (key),
                         data, type, error);
      if (next == NULL)
        return NULL;

      pp_secure_buffer_free (key);
      key = next;
    }

  OPENSSL_cleanse (data, sizeof data);
  return g_steal_pointer (&key);
}

PpSecureBuffer *
pp_dukpt_aes_derive_transaction_key (const PpSecureBuffer  *initial_key,
                                     const guint8          *ksn,
                                     gsize                  ksn_len,
                                     GError               **error)
{
  g_return_val_if_fail (initial_key != NULL, NULL);
  g_return_val_if_fail (ksn != NULL || ksn_len == 0, NULL);

  if (!check_aes_derivation_key (initial_key, PP_DUKPT_ERROR_KEY_LENGTH, "initial key", error) ||
      !check_aes_ksn (ksn_len, error) ||
      !check_counter (aes_counter (ksn), PP_DUKPT_AES_MAX_COUNTER_BITS, error))
    return NULL;

  return aes_walk (initial_key, ksn, aes_counter (ksn), error);
}

static gboolean
check_aes_usage (PpDukptAesUsage   usage,
                 GError          **error)
{
  switch (usage)
    {
    case PP_DUKPT_AES_USAGE_KEY_ENCRYPTION:
    case PP_DUKPT_AES_USAGE_PIN_ENCRYPTION:
    case PP_DUKPT_AES_USAGE_MAC_GENERATION:
    case PP_DUKPT_AES_USAGE_MAC_VERIFICATION:
    case PP_DUKPT_AES_USAGE_MAC_BOTH:
    case PP_DUKPT_AES_USAGE_DATA_ENCRYPT:
    case PP_DUKPT_AES_USAGE_DATA_DECRYPT:
    case PP_DUKPT_AES_USAGE_DATA_BOTH:
      return TRUE;
    default:
      g_set_error (error, PP_DUKPT_ERROR, PP_DUKPT_ERROR_UNSUPPORTED_USAGE,
                   "Unknown AES DUKPT key usage %04X", (guint) usage);
      return FALSE;
    }
}

PpSecureBuffer *
pp_dukpt_aes_derive_working_key (const PpSecureBuffer  *transaction_key,
                                 const guint8          *ksn,
                                 gsize                  ksn_len,
                                 PpDukptAesUsage        usage,
                                 PpDukptKeyType         key_type,
                                 GError               **error)
{
  PpSecureBuffer *key;
  guint8 data[16];

  g_return_val_if_fail (transaction_key != NULL, NULL);
  g_return_val_if_fail (ksn != NULL || ksn_len == 0, NULL);

  if (!check_aes_derivation_key (transaction_key, PP_DUKPT_ERROR_KEY_LENGTH,
                                 "transaction key", error) ||
      !check_aes_ksn (ksn_len, error) ||
      !check_counter (aes_counter (ksn), PP_DUKPT_AES_MAX_COUNTER_BITS, error) ||
      !check_aes_usage (usage, error) ||
      !check_derivable (pp_secure_buffer_get_len (transaction_key), key_type, error))
    return NULL;

  aes_derivation_data (data, (guint16) usage, key_type, ksn, aes_counter (ksn));
  key = aes_derive (pp_secure_buffer_peek (transaction_key),
                    pp_secure_buffer_get_len (transaction_key), data, key_type, error);
  OPENSSL_cleanse (data, sizeof data);

  return key;
}

PpSecureBuffer *
pp_dukpt_aes_derive_update_key (const PpSecureBuffer  *initial_key,
                                const guint8          *initial_key_id,
                                gsize                  initial_key_id_len,
                                PpDukptKeyType         key_type,
                                GError               **error)
{
  g_autoptr(PpSecureBuffer) derivation = NULL;
  PpSecureBuffer *key;
  guint8 data[16];

  g_return_val_if_fail (initial_key != NULL, NULL);
  g_return_val_if_fail (initial_key_id != NULL || initial_key_id_len == 0, NULL);

  if (!check_aes_derivation_key (initial_key, PP_DUKPT_ERROR_KEY_LENGTH, "initial key", error) ||
      !check_initial_key_id (initial_key_id_len, error) ||
      !check_derivable (pp_secure_buffer_get_len (initial_key), key_type, error))
    return NULL;

  if (!is_aes_type (key_type))
    {
      g_set_error (error, PP_DUKPT_ERROR, PP_DUKPT_ERROR_UNSUPPORTED_KEY_TYPE,
                   "DUKPT update keys are AES keys, not %s",
                   pp_dukpt_key_type_to_string (key_type));
      return NULL;
    }

  derivation = aes_walk (initial_key, initial_key_id, 0xFFFFFFFFu, error);
  if (derivation == NULL)
    return NULL;

  aes_derivation_data (data, PP_DUKPT_AES_USAGE_KEY_ENCRYPTION, key_type,
                       initial_key_id, 0xFFFFFFFFu);
  key = aes_derive (pp_secure_buffer_peek (derivation),
                    pp_secure_buffer_get_len (derivation), data, key_type, error);
  OPENSSL_cleanse (data, sizeof data);

  return key;
}
