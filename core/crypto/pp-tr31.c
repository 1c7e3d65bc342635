/* SPDX-License-Identifier: GPL-3.0-or-later
 *
 * pp-tr31.c: TR-31 / ANSI X9.143 key blocks on the shared block cipher
 * primitives (pp-block-cipher, OpenSSL 3 EVP underneath).
 *
 * The parser never trusts a length it has not bounded against the input,
 * and nothing decrypted is looked at before the MAC has been compared.
 */
#include "config.h"

#include <string.h>

#include <glib/gi18n-lib.h>

#include <openssl/crypto.h>
#include <openssl/rand.h>

#include "pp-block-cipher.h"
#include "pp-hex.h"
#include "pp-kcv.h"
#include "pp-tr31.h"

G_DEFINE_QUARK (pp-tr31-error-quark, pp_tr31_error)

/* Key usage / algorithm / mode of use combinations.
 *
 * Written for posprov from the key usage, algorithm and mode of use tables
 * of ASC X9 TR-31:2018 (Table 6 to 8 and the usage notes in A.5) and
 * ANSI X9.143-2022 (section 6.3 and its Table 6 "key usage" with the
 * permitted algorithms and modes). It is deliberately a little wider than a
 * strict reading where HSM vendors differ (for example C0 with AES), and
 * narrower than "anything goes": a MAC key cannot be a decryption key, a BDK
 * is only ever a derivation key. Numeric (proprietary) usages, algorithms
 * and modes are not checked against each other.
 *
 * Cross-checked (2026-11) against public material, since the standards
 * themselves are not freely available: the usage names of ANSI X9.143:2021
 * table 2 as quoted by openemv/tr31 (src/tr31_strings.c) and 5n00py/paysec
 * (TR-31:2018 p. 20-26, header_constants.rs), and the permitted algorithms
 * and modes of use AWS Payment Cryptography documents per TR-31 usage
 * ("Understanding key attributes", keys-validattributes.html: B0 TDES/AES
 * with X or N; C0 TDES/AES with C, G, V or N; D0 with B, E, D or N; E0-E6
 * derivation). Corrections from that check: E7 is the EMV/chip asymmetric
 * key pair for PIN encryption (RSA, encrypt/decrypt modes), not a
 * symmetric derivation key; B2, the base key variant key, exists to create
 * key variants, so it takes mode Y.
 */
typedef struct {
  const char *usage;
  const char *algorithms;
  const char *modes;
} UsageRule;

static const UsageRule usage_rules[] = {
  /* DUKPT base and initial keys: derivation only */
  { "B0", "AT",  "NX" },
  { "B1", "AT",  "NX" },
  { "B2", "T",   "NXY" },
  { "B3", "AT",  "NX" },
  /* card verification */
  { "C0", "ADT", "CGVN" },
  /* data encryption */
  { "D0", "ADT", "BDEN" },
  { "D1", "ER",  "BDEN" },
  { "D2", "ADT", "BDEN" },
  { "D3", "AT",  "BDEN" },
  /* EMV issuer master keys: derivation */
  { "E0", "AT",  "NX" },
  { "E1", "AT",  "NX" },
  { "E2", "AT",  "NX" },
  { "E3", "AT",  "NX" },
  { "E4", "AT",  "NX" },
  { "E5", "AT",  "NX" },
  { "E6", "AT",  "NX" },
  /* EMV/chip asymmetric key pair for PIN encryption */
  { "E7", "R",   "BDEN" },
  /* initialisation vector */
  { "I0", "ADT", "N" },
  /* key encryption / wrapping, TR-31 and ISO 20038 KBPKs, TR-34 keys */
  { "K0", "ADT", "BDENX" },
  { "K1", "AT",  "BDENX" },
  { "K2", "R",   "BDEN" },
  { "K3", "ER",  "BDENX" },
  { "K4", "AT",  "BDENX" },
  /* MAC keys: generate and/or verify */
  { "M0", "T",   "CGVN" },
  { "M1", "DT",  "CGVN" },
  { "M2", "DT",  "CGVN" },
  { "M3", "DT",  "CGVN" },
  { "M4", "DT",  "CGVN" },
  { "M5", "AT",  "CGVN" },
  { "M6", "AT",  "CGVN" },
  { "M7", "H",   "CGVN" },
  { "M8", "AT",  "CGVN" },
  /* PIN encryption and generation */
  { "P0", "ADT", "BDEN" },
  { "P1", "AT",  "CGVN" },
  /* asymmetric signature keys */
  { "S0", "ERS", "NSTV" },
  { "S1", "ERS", "NSTV" },
  { "S2", "ERS", "NSTV" },
  /* PIN verification */
  { "V0", "ADT", "CGVN" },
  { "V1", "ADT", "CGVN" },
  { "V2", "ADT", "CGVN" },
  { "V3", "ADT", "CGVN" },
  { "V4", "ADT", "CGVN" },
  { "V5", "AT",  "CGVN" },
};

static const char known_algorithms[] = "ADEHRST";
static const char known_modes[] = "BCDEGNSTVXY";
static const char known_exportability[] = "ENS";

/* X9.143 section 6.3.6 registered optional block IDs. */
static const char * const known_block_ids[] = {
  "AL", "BI", "CT", "DA", "FL", "HM", "IK", "KC", "KP", "KS", "KV", "LB",
  "PB", "PK", "TC", "TS", "WP", NULL
};

/* Blocks whose value software uses as binary: hex only (see pp-tr31.h). */
static const char * const hex_block_ids[] = {
  "BI", "HM", "IK", "KC", "KP", NULL
};

typedef enum {
  LENGTH_FIELD_DIGITS,     /* must be 4 digits */
  LENGTH_FIELD_MATCH,      /* 4 digits equal to the input length */
  LENGTH_FIELD_IGNORE,     /* wrap: replaced anyway */
} LengthFieldCheck;

static gboolean
is_upper_hex (char c)
{
  return g_ascii_isdigit (c) || (c >= 'A' && c <= 'F');
}

static gboolean
all_chars (const char *s,
           gsize       len,
           gboolean  (*pred) (char))
{
  for (gsize i = 0; i < len; i++)
    if (!pred (s[i]))
      return FALSE;
  return TRUE;
}

static gboolean
is_digit_char (char c)
{
  return g_ascii_isdigit (c);
}

static gboolean
is_any_hex (char c)
{
  return g_ascii_isxdigit (c);
}

static gboolean
is_id_char (char c)
{
  return g_ascii_isdigit (c) || (c >= 'A' && c <= 'Z');
}

static guint
parse_number (const char *s,
              gsize       len,
              guint       base)
{
  guint v = 0;

  for (gsize i = 0; i < len; i++)
    v = v * base + g_ascii_xdigit_value (s[i]);
  return v;
}

static gboolean
in_list (const char * const *list,
         const char         *id)
{
  for (guint i = 0; list[i] != NULL; i++)
    if (strncmp (list[i], id, 2) == 0)
      return TRUE;
  return FALSE;
}

static gsize
block_size_for (char version)
{
  return version == 'D' ? 16 : 8;
}

static gsize
mac_size_for (char version)
{
  switch (version)
    {
    case 'A':
    case 'C':
      return 4;
    case 'B':
      return 8;
    default:
      return 16;
    }
}

static void
optional_block_free (gpointer data)
{
  PpTr31OptionalBlock *block = data;

  g_free (block->data);
  g_free (block);
}

void
pp_tr31_header_free (PpTr31Header *header)
{
  if (header == NULL)
    return;

  g_clear_pointer (&header->optional_blocks, g_ptr_array_unref);
  g_free (header);
}

const char *
pp_tr31_header_get_optional_block (const PpTr31Header *header,
                                   const char         *id)
{
  g_return_val_if_fail (header != NULL, NULL);
  g_return_val_if_fail (id != NULL, NULL);

  for (guint i = 0; i < header->optional_blocks->len; i++)
    {
      PpTr31OptionalBlock *block = g_ptr_array_index (header->optional_blocks, i);

      if (g_str_equal (block->id, id))
        return block->data;
    }
  return NULL;
}

char
pp_tr31_default_version (PpKeyAlgorithm kbpk_algorithm)
{
  return kbpk_algorithm == PP_KEY_ALGORITHM_AES ? 'D' : 'B';
}

gboolean
pp_tr31_check_usage (const char  *key_usage,
                     char         algorithm,
                     char         mode_of_use,
                     GError     **error)
{
  g_return_val_if_fail (key_usage != NULL, FALSE);

  if (strlen (key_usage) != 2)
    {
      g_set_error (error, PP_TR31_ERROR, PP_TR31_ERROR_KEY_USAGE,
                   "Key usage “%s” is not two characters", key_usage);
      return FALSE;
    }

  if (g_ascii_isdigit (key_usage[0]) && g_ascii_isdigit (key_usage[1]))
    return TRUE;

  for (guint i = 0; i < G_N_ELEMENTS (usage_rules); i++)
    {
      const UsageRule *rule = &usage_rules[i];

      if (strcmp (rule->usage, key_usage) != 0)
        continue;

      /* Proprietary algorithm or mode values are outside the table. */
      if (g_ascii_isdigit (algorithm) || g_ascii_isdigit (mode_of_use))
        return TRUE;

      if (algorithm == '\0' || strchr (rule->algorithms, algorithm) == NULL)
        {
          g_set_error (error, PP_TR31_ERROR, PP_TR31_ERROR_USAGE_COMBINATION,
                       "Key usage %s does not allow algorithm %c (allowed: %s)",
                       key_usage, algorithm, rule->algorithms);
          return FALSE;
        }
      if (mode_of_use == '\0' || strchr (rule->modes, mode_of_use) == NULL)
        {
          g_set_error (error, PP_TR31_ERROR, PP_TR31_ERROR_USAGE_COMBINATION,
                       "Key usage %s does not allow mode of use %c (allowed: %s)",
                       key_usage, mode_of_use, rule->modes);
          return FALSE;
        }
      return TRUE;
    }

  g_set_error (error, PP_TR31_ERROR, PP_TR31_ERROR_KEY_USAGE,
               "Unknown key usage “%s”", key_usage);
  return FALSE;
}

static gboolean
parse_optional_blocks (PpTr31Header  *header,
                       const char    *text,
                       gsize          len,
                       guint          count,
                       GError       **error)
{
  gsize pos = PP_TR31_HEADER_LENGTH;

  for (guint i = 0; i < count; i++)
    {
      PpTr31OptionalBlock *block;
      gsize block_len, data_start;
      char id[3];

      if (len - pos < 4)
        {
          g_set_error (error, PP_TR31_ERROR, PP_TR31_ERROR_OPTIONAL_BLOCK_LENGTH,
                       "Optional block %u of %u is cut short", i + 1, count);
          return FALSE;
        }

      memcpy (id, text + pos, 2);
      id[2] = '\0';
      if (!is_id_char (id[0]) || !is_id_char (id[1]))
        {
          g_set_error (error, PP_TR31_ERROR, PP_TR31_ERROR_OPTIONAL_BLOCK_ID,
                       "Optional block %u has a malformed ID", i + 1);
          return FALSE;
        }
      if (!g_ascii_isdigit (id[0]) && !in_list (known_block_ids, id))
        {
          g_set_error (error, PP_TR31_ERROR, PP_TR31_ERROR_OPTIONAL_BLOCK_ID,
                       "Unknown optional block ID “%s”", id);
          return FALSE;
        }
      if (pp_tr31_header_get_optional_block (header, id) != NULL)
        {
          g_set_error (error, PP_TR31_ERROR, PP_TR31_ERROR_OPTIONAL_BLOCK_ID,
                       "Optional block “%s” appears twice", id);
          return FALSE;
        }
      if (g_str_equal (id, "PB") && i + 1 != count)
        {
          g_set_error_literal (error, PP_TR31_ERROR, PP_TR31_ERROR_OPTIONAL_BLOCK_ID,
                               "The padding block PB must be the last optional block");
          return FALSE;
        }

      if (!all_chars (text + pos + 2, 2, is_upper_hex))
        {
          g_set_error (error, PP_TR31_ERROR, PP_TR31_ERROR_OPTIONAL_BLOCK_LENGTH,
                       "Optional block “%s” has a length that is not hex", id);
          return FALSE;
        }
      block_len = parse_number (text + pos + 2, 2, 16);

      if (block_len == 0)
        {
          gsize len_len;

          /* Extended length: "00", the number of length digits, then the
           * length itself, all hex. */
          if (len - pos < 6 || !all_chars (text + pos + 4, 2, is_upper_hex))
            {
              g_set_error (error, PP_TR31_ERROR, PP_TR31_ERROR_OPTIONAL_BLOCK_LENGTH,
                           "Optional block “%s” has a malformed extended length", id);
              return FALSE;
            }
          len_len = parse_number (text + pos + 4, 2, 16);
          if (len_len == 0 || len_len > 4 || len - pos - 6 < len_len ||
              !all_chars (text + pos + 6, len_len, is_upper_hex))
            {
              g_set_error (error, PP_TR31_ERROR, PP_TR31_ERROR_OPTIONAL_BLOCK_LENGTH,
                           "Optional block “%s” has a malformed extended length", id);
              return FALSE;
            }
          block_len = parse_number (text + pos + 6, len_len, 16);
          data_start = 6 + len_len;
        }
      else
        {
          data_start = 4;
        }

      if (block_len < data_start || block_len > len - pos)
        {
          g_set_error (error, PP_TR31_ERROR, PP_TR31_ERROR_OPTIONAL_BLOCK_LENGTH,
                       "Optional block “%s” length %" G_GSIZE_FORMAT
                       " does not fit the key block", id, block_len);
          return FALSE;
        }

      if (in_list (hex_block_ids, id))
        {
          gsize data_len = block_len - data_start;

          if (data_len == 0 || data_len % 2 != 0 ||
              !all_chars (text + pos + data_start, data_len, is_upper_hex))
            {
              g_set_error (error, PP_TR31_ERROR, PP_TR31_ERROR_OPTIONAL_BLOCK_DATA,
                           "Optional block “%s” must hold upper-case hex", id);
              return FALSE;
            }
        }

      /* KC/KP: check value method ("00" legacy, "01" CMAC), then the value. */
      if ((g_str_equal (id, "KC") || g_str_equal (id, "KP")) &&
          (block_len - data_start < 2 + 2 * PP_KCV_MIN_LENGTH ||
           text[pos + data_start] != '0' ||
           (text[pos + data_start + 1] != '0' && text[pos + data_start + 1] != '1')))
        {
          g_set_error (error, PP_TR31_ERROR, PP_TR31_ERROR_OPTIONAL_BLOCK_DATA,
                       "Optional block “%s” is not a check value (00 or 01, then hex)", id);
          return FALSE;
        }

      block = g_new0 (PpTr31OptionalBlock, 1);
      memcpy (block->id, id, 3);
      block->data = g_strndup (text + pos + data_start, block_len - data_start);
      g_ptr_array_add (header->optional_blocks, block);
      pos += block_len;
    }

  header->header_length = pos;
  return TRUE;
}

static PpTr31Header *
header_parse (const char        *text,
              gsize              len,
              LengthFieldCheck   length_check,
              gboolean           check_alignment,
              GError           **error)
{
  g_autoptr(PpTr31Header) header = NULL;
  guint count;

  if (len < PP_TR31_HEADER_LENGTH)
    {
      g_set_error (error, PP_TR31_ERROR, PP_TR31_ERROR_TRUNCATED,
                   "A key block header is 16 characters, got %" G_GSIZE_FORMAT, len);
      return NULL;
    }

  for (gsize i = 0; i < len; i++)
    {
      if (text[i] < 0x20 || text[i] > 0x7e)
        {
          g_set_error (error, PP_TR31_ERROR, PP_TR31_ERROR_INVALID_CHARACTER,
                       "Character %" G_GSIZE_FORMAT " is not printable ASCII", i + 1);
          return NULL;
        }
    }

  if (text[0] < 'A' || text[0] > 'D')
    {
      g_set_error (error, PP_TR31_ERROR, PP_TR31_ERROR_UNKNOWN_VERSION,
                   "Unsupported key block version “%c” (A, B, C or D)", text[0]);
      return NULL;
    }

  header = g_new0 (PpTr31Header, 1);
  header->optional_blocks = g_ptr_array_new_with_free_func (optional_block_free);
  header->version = text[0];

  if (length_check != LENGTH_FIELD_IGNORE)
    {
      if (!all_chars (text + 1, 4, is_digit_char))
        {
          g_set_error_literal (error, PP_TR31_ERROR, PP_TR31_ERROR_LENGTH_FIELD,
                               "The key block length field is not 4 digits");
          return NULL;
        }
      header->length = parse_number (text + 1, 4, 10);
      if (length_check == LENGTH_FIELD_MATCH && header->length != len)
        {
          g_set_error (error, PP_TR31_ERROR, PP_TR31_ERROR_LENGTH_MISMATCH,
                       "The header says %u characters, the key block has %" G_GSIZE_FORMAT,
                       header->length, len);
          return NULL;
        }
    }

  memcpy (header->key_usage, text + 5, 2);
  if (!is_id_char (header->key_usage[0]) || !is_id_char (header->key_usage[1]))
    {
      g_set_error_literal (error, PP_TR31_ERROR, PP_TR31_ERROR_KEY_USAGE,
                           "The key usage is not two upper-case letters or digits");
      return NULL;
    }

  header->algorithm = text[7];
  if (!g_ascii_isdigit (header->algorithm) &&
      strchr (known_algorithms, header->algorithm) == NULL)
    {
      g_set_error (error, PP_TR31_ERROR, PP_TR31_ERROR_ALGORITHM,
                   "Unknown key algorithm “%c”", header->algorithm);
      return NULL;
    }

  header->mode_of_use = text[8];
  if (!g_ascii_isdigit (header->mode_of_use) &&
      strchr (known_modes, header->mode_of_use) == NULL)
    {
      g_set_error (error, PP_TR31_ERROR, PP_TR31_ERROR_MODE_OF_USE,
                   "Unknown mode of use “%c”", header->mode_of_use);
      return NULL;
    }

  memcpy (header->key_version, text + 9, 2);
  if (!g_ascii_isalnum (header->key_version[0]) || !g_ascii_isalnum (header->key_version[1]))
    {
      g_set_error_literal (error, PP_TR31_ERROR, PP_TR31_ERROR_KEY_VERSION,
                           "The key version number is not two letters or digits");
      return NULL;
    }

  header->exportability = text[11];
  if (strchr (known_exportability, header->exportability) == NULL)
    {
      g_set_error (error, PP_TR31_ERROR, PP_TR31_ERROR_EXPORTABILITY,
                   "Unknown exportability “%c” (E, N or S)", header->exportability);
      return NULL;
    }

  if (!all_chars (text + 12, 2, is_digit_char))
    {
      g_set_error_literal (error, PP_TR31_ERROR, PP_TR31_ERROR_OPTIONAL_BLOCK_COUNT,
                           "The number of optional blocks is not 2 digits");
      return NULL;
    }
  count = parse_number (text + 12, 2, 10);

  if (text[14] != '0' || text[15] != '0')
    {
      g_set_error_literal (error, PP_TR31_ERROR, PP_TR31_ERROR_RESERVED,
                           "The reserved header field is not “00”");
      return NULL;
    }

  if (!pp_tr31_check_usage (header->key_usage, header->algorithm,
                            header->mode_of_use, error))
    return NULL;

  if (!parse_optional_blocks (header, text, len, count, error))
    return NULL;

  /* X9.143 binds an HMAC key to its hash through HM (openemv/tr31 and
   * paysec read the standard the same way); without it the receiver would
   * have to guess the hash. */
  if (header->algorithm == 'H')
    {
      const char *hm = pp_tr31_header_get_optional_block (header, "HM");

      if (hm == NULL || strlen (hm) != 2)
        {
          g_set_error_literal (error, PP_TR31_ERROR, PP_TR31_ERROR_OPTIONAL_BLOCK_DATA,
                               "An HMAC key (algorithm H) needs an HM block with its "
                               "two-digit hash algorithm");
          return NULL;
        }
    }

  if (check_alignment && header->header_length % block_size_for (header->version) != 0)
    {
      g_set_error (error, PP_TR31_ERROR, PP_TR31_ERROR_HEADER_ALIGNMENT,
                   "The header is %" G_GSIZE_FORMAT " characters, not a multiple of "
                   "the %" G_GSIZE_FORMAT "-byte cipher block (PB block missing or wrong)",
                   header->header_length, block_size_for (header->version));
      return NULL;
    }

  return g_steal_pointer (&header);
}

PpTr31Header *
pp_tr31_header_parse (const char  *text,
                      GError     **error)
{
  g_return_val_if_fail (text != NULL, NULL);

  return header_parse (text, strlen (text), LENGTH_FIELD_DIGITS, TRUE, error);
}

/* ---- crypto ---------------------------------------------------------- */

static gboolean
check_kbpk (char                  version,
            const PpSecureBuffer *kbpk,
            GError              **error)
{
  gsize len = pp_secure_buffer_get_len (kbpk);

  if (version == 'D')
    {
      if (len == 16 || len == 24 || len == 32)
        return TRUE;
      g_set_error (error, PP_TR31_ERROR, PP_TR31_ERROR_KBPK_LENGTH,
                   "A version D KBPK is an AES key of 16, 24 or 32 bytes, not %"
                   G_GSIZE_FORMAT, len);
      return FALSE;
    }

  if (len == 16 || len == 24)
    return TRUE;
  g_set_error (error, PP_TR31_ERROR, PP_TR31_ERROR_KBPK_LENGTH,
               "A version %c KBPK is a TDES key of 16 or 24 bytes, not %" G_GSIZE_FORMAT,
               version, len);
  return FALSE;
}

/* CMAC of a || b under @key (TDES 16/24 or AES 16/24/32). */
static gboolean
cmac (gboolean       aes,
      const guint8  *key,
      gsize          key_len,
      const guint8  *a,
      gsize          a_len,
      const guint8  *b,
      gsize          b_len,
      guint8        *out,
      GError       **error)
{
  gboolean ok;

  if (aes)
    ok = pp_block_cipher_aes_cmac (key, key_len, a, a_len, b, b_len, out);
  else
    ok = pp_block_cipher_tdes_cmac (key, key_len, a, a_len, b, b_len, out);

  if (!ok)
    g_set_error_literal (error, PP_TR31_ERROR, PP_TR31_ERROR_CRYPTO, "CMAC failed");
  return ok;
}

/* CBC without padding; @len is a multiple of the block size. */
static gboolean
cbc (gboolean       aes,
     gboolean       encrypt,
     const guint8  *key,
     gsize          key_len,
     const guint8  *iv,
     const guint8  *in,
     gsize          len,
     guint8        *out,
     GError       **error)
{
  gboolean ok;

  if (aes)
    ok = pp_block_cipher_aes_cbc (key, key_len, encrypt, iv, in, out, len);
  else
    ok = pp_block_cipher_tdes_cbc (key, key_len, encrypt, iv, in, out, len);

  if (!ok)
    g_set_error_literal (error, PP_TR31_ERROR, PP_TR31_ERROR_CRYPTO,
                         encrypt ? "CBC encryption failed" : "CBC decryption failed");
  return ok;
}

/* Version A/C authenticator: TDES CBC-MAC (zero IV) of header || ciphertext,
 * leftmost 4 bytes. Both parts are whole 8-byte blocks. */
static gboolean
tdes_cbc_mac (const PpSecureBuffer  *kbak,
              const char            *header,
              gsize                  header_len,
              const guint8          *ciphertext,
              gsize                  ct_len,
              guint8                 out[4],
              GError               **error)
{
  static const guint8 zero_iv[8] = { 0 };
  gsize total = header_len + ct_len;
  g_autofree guint8 *in = g_malloc (total);
  g_autofree guint8 *enc = g_malloc (total);

  memcpy (in, header, header_len);
  memcpy (in + header_len, ciphertext, ct_len);
  if (!cbc (FALSE, TRUE, pp_secure_buffer_peek (kbak), pp_secure_buffer_get_len (kbak),
            zero_iv, in, total, enc, error))
    return FALSE;

  memcpy (out, enc + total - 8, 4);
  return TRUE;
}

gboolean
pp_tr31_derive_keys (char                   version,
                     const PpSecureBuffer  *kbpk,
                     PpSecureBuffer       **out_kbek,
                     PpSecureBuffer       **out_kbak,
                     GError               **error)
{
  g_autoptr(PpSecureBuffer) kbek = NULL;
  g_autoptr(PpSecureBuffer) kbak = NULL;
  gsize len;

  g_return_val_if_fail (kbpk != NULL, FALSE);
  g_return_val_if_fail (out_kbek != NULL && out_kbak != NULL, FALSE);

  if (version < 'A' || version > 'D')
    {
      g_set_error (error, PP_TR31_ERROR, PP_TR31_ERROR_UNKNOWN_VERSION,
                   "Unsupported key block version “%c” (A, B, C or D)", version);
      return FALSE;
    }
  if (!check_kbpk (version, kbpk, error))
    return FALSE;

  len = pp_secure_buffer_get_len (kbpk);
  kbek = pp_secure_buffer_new (len);
  kbak = pp_secure_buffer_new (len);

  if (version == 'A' || version == 'C')
    {
      const guint8 *k = pp_secure_buffer_peek (kbpk);
      guint8 *e = pp_secure_buffer_get_data (kbek);
      guint8 *m = pp_secure_buffer_get_data (kbak);

      for (gsize i = 0; i < len; i++)
        {
          e[i] = k[i] ^ 0x45;
          m[i] = k[i] ^ 0x4D;
        }
    }
  else
    {
      gboolean aes = version == 'D';
      gsize out_block = aes ? 16 : 8;
      guint8 input[8];
      guint8 chunk[16];
      guint alg_id, bits;

      /* Derivation input: counter, key usage (0000 KBEK, 0001 KBAK),
       * separator 00, algorithm, length in bits, all big-endian. */
      if (aes)
        alg_id = len == 16 ? 2 : len == 24 ? 3 : 4;
      else
        alg_id = len == 16 ? 0 : 1;
      bits = len * 8;

      for (guint which = 0; which < 2; which++)
        {
          PpSecureBuffer *target = which == 0 ? kbek : kbak;
          guint8 *dst = pp_secure_buffer_get_data (target);

          for (guint counter = 1; (counter - 1) * out_block < len; counter++)
            {
              gsize off = (counter - 1) * out_block;

              input[0] = counter;
              input[1] = 0x00;
              input[2] = which;
              input[3] = 0x00;
              input[4] = alg_id >> 8;
              input[5] = alg_id & 0xff;
              input[6] = bits >> 8;
              input[7] = bits & 0xff;
              if (!cmac (aes, pp_secure_buffer_peek (kbpk), len, input, sizeof input,
                         NULL, 0, chunk, error))
                {
                  OPENSSL_cleanse (chunk, sizeof chunk);
                  return FALSE;
                }
              memcpy (dst + off, chunk, MIN (out_block, len - off));
            }
        }
      OPENSSL_cleanse (chunk, sizeof chunk);
    }

  *out_kbek = g_steal_pointer (&kbek);
  *out_kbak = g_steal_pointer (&kbak);
  return TRUE;
}

static gboolean
check_key_size (char      algorithm,
                gsize     len,
                GError  **error)
{
  gboolean ok;

  switch (algorithm)
    {
    case 'T':
      ok = len == 8 || len == 16 || len == 24;
      break;
    case 'D':
      ok = len == 8;
      break;
    case 'A':
      ok = len == 16 || len == 24 || len == 32;
      break;
    default:
      ok = len > 0;
      break;
    }

  if (!ok)
    g_set_error (error, PP_TR31_ERROR, PP_TR31_ERROR_KEY_SIZE,
                 "A %" G_GSIZE_FORMAT "-byte key is not valid for algorithm %c",
                 len, algorithm);
  return ok;
}

/* KC carries the check value of the wrapped key. It is verified where
 * pp-kcv implements the method (legacy "00" for TDES keys, CMAC "01" for AES
 * keys); other combinations pass unverified. */
static gboolean
check_kc (const PpTr31Header    *header,
          const PpSecureBuffer  *key,
          GError               **error)
{
  const char *kc = pp_tr31_header_get_optional_block (header, "KC");
  g_autofree char *kcv = NULL;
  PpKeyAlgorithm alg;
  gsize kcv_len;

  if (kc == NULL)
    return TRUE;

  if (header->algorithm == 'T' && g_str_has_prefix (kc, "00"))
    alg = PP_KEY_ALGORITHM_TDES;
  else if (header->algorithm == 'A' && g_str_has_prefix (kc, "01"))
    alg = PP_KEY_ALGORITHM_AES;
  else
    return TRUE;

  kcv_len = (strlen (kc) - 2) / 2;
  if (kcv_len > PP_KCV_MAX_LENGTH || (alg == PP_KEY_ALGORITHM_TDES && kcv_len > 8))
    return TRUE;

  kcv = pp_kcv_compute (alg, key, kcv_len, NULL);
  if (kcv == NULL || !pp_kcv_equal (kcv, kc + 2))
    {
      g_set_error_literal (error, PP_TR31_ERROR, PP_TR31_ERROR_KCV_MISMATCH,
                           "The key does not match the check value in optional block KC");
      return FALSE;
    }
  return TRUE;
}

PpSecureBuffer *
pp_tr31_unwrap (const PpSecureBuffer  *kbpk,
                const char            *key_block,
                PpTr31Header         **out_header,
                GError               **error)
{
  g_autoptr(PpTr31Header) header = NULL;
  g_autoptr(PpSecureBuffer) kbek = NULL;
  g_autoptr(PpSecureBuffer) kbak = NULL;
  g_autoptr(PpSecureBuffer) plain = NULL;
  g_autoptr(PpSecureBuffer) key = NULL;
  g_autofree guint8 *ciphertext = NULL;
  const char *payload;
  guint8 mac[16];
  guint8 expected[16];
  gsize len, rest, mac_len, mac_hex, ct_hex, ct_len, bs;
  guint bits;
  gsize key_len;
  char version;

  g_return_val_if_fail (kbpk != NULL, NULL);
  g_return_val_if_fail (key_block != NULL, NULL);

  len = strlen (key_block);
  header = header_parse (key_block, len, LENGTH_FIELD_MATCH, TRUE, error);
  if (header == NULL)
    return NULL;

  version = header->version;
  if (!check_kbpk (version, kbpk, error))
    return NULL;

  bs = block_size_for (version);
  mac_len = mac_size_for (version);
  mac_hex = mac_len * 2;
  rest = len - header->header_length;
  if (rest < mac_hex)
    {
      g_set_error (error, PP_TR31_ERROR, PP_TR31_ERROR_KEY_DATA_LENGTH,
                   "No room for the %" G_GSIZE_FORMAT "-character MAC after the header",
                   mac_hex);
      return NULL;
    }

  payload = key_block + header->header_length;
  ct_hex = rest - mac_hex;

  /* Lower-case hex is accepted here (see pp-tr31.h). */
  if (!all_chars (payload + ct_hex, mac_hex, is_any_hex))
    {
      g_set_error_literal (error, PP_TR31_ERROR, PP_TR31_ERROR_MAC_NOT_HEX,
                           "The key block MAC is not hex");
      return NULL;
    }
  if (!all_chars (payload, ct_hex, is_any_hex))
    {
      g_set_error_literal (error, PP_TR31_ERROR, PP_TR31_ERROR_KEY_DATA_NOT_HEX,
                           "The encrypted key data is not hex");
      return NULL;
    }
  if (ct_hex == 0 || ct_hex % (2 * bs) != 0)
    {
      g_set_error (error, PP_TR31_ERROR, PP_TR31_ERROR_KEY_DATA_LENGTH,
                   "The encrypted key data (%" G_GSIZE_FORMAT " characters) is not a "
                   "whole number of %" G_GSIZE_FORMAT "-byte blocks", ct_hex, bs);
      return NULL;
    }

  ct_len = ct_hex / 2;
  ciphertext = g_malloc (ct_len);
  pp_hex_decode_into (payload, ciphertext, ct_len);
  pp_hex_decode_into (payload + ct_hex, mac, mac_len);

  if (!pp_tr31_derive_keys (version, kbpk, &kbek, &kbak, error))
    return NULL;

  plain = pp_secure_buffer_new (ct_len);
  if (version == 'A' || version == 'C')
    {
      if (!tdes_cbc_mac (kbak, key_block, header->header_length,
                         ciphertext, ct_len, expected, error))
        return NULL;
      if (CRYPTO_memcmp (expected, mac, mac_len) != 0)
        {
          g_set_error_literal (error, PP_TR31_ERROR, PP_TR31_ERROR_MAC_MISMATCH,
                               "The key block MAC does not verify (wrong KBPK or altered block)");
          return NULL;
        }
      if (!cbc (FALSE, FALSE, pp_secure_buffer_peek (kbek), pp_secure_buffer_get_len (kbek),
                (const guint8 *) key_block, ciphertext, ct_len,
                pp_secure_buffer_get_data (plain), error))
        return NULL;
    }
  else
    {
      gboolean aes = version == 'D';

      /* The MAC covers the clear key data, so decrypt first, but look at
       * nothing until the MAC compares equal. */
      if (!cbc (aes, FALSE, pp_secure_buffer_peek (kbek), pp_secure_buffer_get_len (kbek),
                mac, ciphertext, ct_len, pp_secure_buffer_get_data (plain), error))
        return NULL;
      if (!cmac (aes, pp_secure_buffer_peek (kbak), pp_secure_buffer_get_len (kbak),
                 (const guint8 *) key_block, header->header_length,
                 pp_secure_buffer_peek (plain), ct_len, expected, error))
        return NULL;
      if (CRYPTO_memcmp (expected, mac, mac_len) != 0)
        {
          g_set_error_literal (error, PP_TR31_ERROR, PP_TR31_ERROR_MAC_MISMATCH,
                               "The key block MAC does not verify (wrong KBPK or altered block)");
          return NULL;
        }
    }

  bits = (pp_secure_buffer_peek (plain)[0] << 8) | pp_secure_buffer_peek (plain)[1];
  if (bits == 0 || bits % 8 != 0 || bits / 8 > ct_len - 2)
    {
      g_set_error (error, PP_TR31_ERROR, PP_TR31_ERROR_KEY_LENGTH,
                   "The decrypted key length (%u bits) does not fit the %" G_GSIZE_FORMAT
                   " bytes of key data", bits, ct_len);
      return NULL;
    }
  key_len = bits / 8;
  if (!check_key_size (header->algorithm, key_len, error))
    return NULL;

  key = pp_secure_buffer_new_from (pp_secure_buffer_peek (plain) + 2, key_len);
  if (!check_kc (header, key, error))
    return NULL;

  if (out_header != NULL)
    *out_header = g_steal_pointer (&header);

  return g_steal_pointer (&key);
}

static char *
wrap_internal (const PpSecureBuffer  *kbpk,
               const char            *header_text,
               const PpSecureBuffer  *key,
               const guint8          *padding,
               gsize                  padding_len,
               gboolean               random_padding,
               GError               **error)
{
  g_autoptr(PpTr31Header) header = NULL;
  g_autoptr(PpSecureBuffer) kbek = NULL;
  g_autoptr(PpSecureBuffer) kbak = NULL;
  g_autoptr(PpSecureBuffer) plain = NULL;
  g_autofree guint8 *ciphertext = NULL;
  g_autofree char *head = NULL;
  g_autofree char *ct_hex = NULL;
  g_autofree char *mac_hex = NULL;
  g_autofree char *aligned_text = NULL;
  gsize text_len, key_len, bs, mac_len, plain_len, total;
  guint8 mac[16];
  guint8 *p;
  char version;

  text_len = strlen (header_text);
  header = header_parse (header_text, text_len, LENGTH_FIELD_IGNORE, FALSE, error);
  if (header == NULL)
    return NULL;
  if (header->header_length != text_len)
    {
      g_set_error (error, PP_TR31_ERROR, PP_TR31_ERROR_LENGTH_MISMATCH,
                   "The header has %" G_GSIZE_FORMAT " characters after its optional blocks",
                   text_len - header->header_length);
      return NULL;
    }

  version = header->version;
  bs = block_size_for (version);
  if (header->header_length % bs != 0)
    {
      guint count = header->optional_blocks->len;
      gsize pb_len = bs - header->header_length % bs;
      g_autoptr(GString) aligned = NULL;

      /* X9.143 fills the header to whole cipher blocks with a PB block;
       * add it unless the caller already wrote one (then it is wrong). */
      if (pp_tr31_header_get_optional_block (header, "PB") != NULL || count >= 99)
        {
          g_set_error (error, PP_TR31_ERROR, PP_TR31_ERROR_HEADER_ALIGNMENT,
                       "The header is %" G_GSIZE_FORMAT " characters, not a multiple of "
                       "the %" G_GSIZE_FORMAT "-byte cipher block, and its PB block does "
                       "not fix that", header->header_length, bs);
          return NULL;
        }
      if (pb_len < 4)
        pb_len += bs;

      aligned = g_string_new (header_text);
      aligned->str[12] = '0' + (count + 1) / 10;
      aligned->str[13] = '0' + (count + 1) % 10;
      g_string_append_printf (aligned, "PB%02X", (guint) pb_len);
      for (gsize i = 4; i < pb_len; i++)
        g_string_append_c (aligned, '0');

      aligned_text = g_string_free (g_steal_pointer (&aligned), FALSE);
      header_text = aligned_text;
      header->header_length = strlen (aligned_text);
    }

  if (!check_kbpk (version, kbpk, error))
    return NULL;

  key_len = pp_secure_buffer_get_len (key);
  if (!check_key_size (header->algorithm, key_len, error))
    return NULL;
  if (!check_kc (header, key, error))
    return NULL;
  if (key_len > PP_TR31_MAX_LENGTH)
    {
      g_set_error_literal (error, PP_TR31_ERROR, PP_TR31_ERROR_TOO_LONG,
                           "The key is too long for a key block");
      return NULL;
    }

  mac_len = mac_size_for (version);

  if (random_padding)
    {
      gsize hidden = key_len;

      /* Key length obfuscation (X9.143): pad as if the key had the longest
       * size of its algorithm, so the block length does not reveal it. */
      if (header->algorithm == 'T' && key_len <= 24)
        hidden = 24;
      else if (header->algorithm == 'A' && key_len <= 32)
        hidden = 32;
      plain_len = (2 + hidden + bs - 1) / bs * bs;
      padding_len = plain_len - 2 - key_len;
    }
  else
    {
      plain_len = 2 + key_len + padding_len;
      if (plain_len % bs != 0)
        {
          g_set_error (error, PP_TR31_ERROR, PP_TR31_ERROR_PADDING,
                       "2 + %" G_GSIZE_FORMAT " key bytes + %" G_GSIZE_FORMAT
                       " padding bytes is not a multiple of %" G_GSIZE_FORMAT,
                       key_len, padding_len, bs);
          return NULL;
        }
    }

  total = header->header_length + 2 * plain_len + 2 * mac_len;
  if (total > PP_TR31_MAX_LENGTH)
    {
      g_set_error (error, PP_TR31_ERROR, PP_TR31_ERROR_TOO_LONG,
                   "The key block would be %" G_GSIZE_FORMAT " characters (at most 9999)",
                   total);
      return NULL;
    }

  head = g_strdup (header_text);
  g_snprintf (head + 1, 5, "%04u", (guint) total);
  head[5] = header_text[5];

  plain = pp_secure_buffer_new (plain_len);
  p = pp_secure_buffer_get_data (plain);
  p[0] = (key_len * 8) >> 8;
  p[1] = (key_len * 8) & 0xff;
  memcpy (p + 2, pp_secure_buffer_peek (key), key_len);
  if (random_padding)
    {
      if (padding_len > 0 && RAND_bytes (p + 2 + key_len, (int) padding_len) != 1)
        {
          g_set_error_literal (error, PP_TR31_ERROR, PP_TR31_ERROR_CRYPTO,
                               "No random padding available");
          return NULL;
        }
    }
  else if (padding_len > 0)
    {
      memcpy (p + 2 + key_len, padding, padding_len);
    }

  if (!pp_tr31_derive_keys (version, kbpk, &kbek, &kbak, error))
    return NULL;

  ciphertext = g_malloc (plain_len);
  if (version == 'A' || version == 'C')
    {
      if (!cbc (FALSE, TRUE, pp_secure_buffer_peek (kbek), pp_secure_buffer_get_len (kbek),
                (const guint8 *) head, p, plain_len, ciphertext, error))
        return NULL;
      if (!tdes_cbc_mac (kbak, head, header->header_length, ciphertext, plain_len,
                         mac, error))
        return NULL;
    }
  else
    {
      gboolean aes = version == 'D';

      if (!cmac (aes, pp_secure_buffer_peek (kbak), pp_secure_buffer_get_len (kbak),
                 (const guint8 *) head, header->header_length, p, plain_len, mac, error))
        return NULL;
      if (!cbc (aes, TRUE, pp_secure_buffer_peek (kbek), pp_secure_buffer_get_len (kbek),
                mac, p, plain_len, ciphertext, error))
        return NULL;
    }

  ct_hex = pp_hex_encode (ciphertext, plain_len);
  mac_hex = pp_hex_encode (mac, mac_len);
  return g_strconcat (head, ct_hex, mac_hex, NULL);
}

char *
pp_tr31_wrap (const PpSecureBuffer  *kbpk,
              const char            *header,
              const PpSecureBuffer  *key,
              GError               **error)
{
  g_return_val_if_fail (kbpk != NULL, NULL);
  g_return_val_if_fail (header != NULL, NULL);
  g_return_val_if_fail (key != NULL, NULL);

  return wrap_internal (kbpk, header, key, NULL, 0, TRUE, error);
}

char *
pp_tr31_wrap_with_padding (const PpSecureBuffer  *kbpk,
                           const char            *header,
                           const PpSecureBuffer  *key,
                           const guint8          *padding,
                           gsize                  padding_len,
                           GError               **error)
{
  g_return_val_if_fail (kbpk != NULL, NULL);
  g_return_val_if_fail (header != NULL, NULL);
  g_return_val_if_fail (key != NULL, NULL);
  g_return_val_if_fail (padding != NULL || padding_len == 0, NULL);

  return wrap_internal (kbpk, header, key, padding, padding_len, FALSE, error);
}

/* ---- sign-on working keys ---- */

static PpSecureBuffer *
fresh_working_key (PpKeyAlgorithm   algorithm,
                   GError         **error)
{
  g_autoptr(PpSecureBuffer) key = pp_secure_buffer_new (16);
  guint8 *data = pp_secure_buffer_get_data (key);

  if (RAND_priv_bytes (data, 16) != 1)
    {
      g_set_error (error, PP_TR31_ERROR, PP_TR31_ERROR_CRYPTO, _("OpenSSL gave no random bytes for a working key"));
      return NULL;
    }
  if (algorithm == PP_KEY_ALGORITHM_TDES)
    for (guint i = 0; i < 16; i++)
      {
        guint8 b = data[i] & 0xFE;
        guint8 odd = 0;

        for (guint8 v = b; v != 0; v >>= 1)
          odd ^= v & 1;
        data[i] = odd ? b : (guint8) (b | 1);
      }
  return g_steal_pointer (&key);
}

char *
pp_tr31_wrap_fresh_key (const PpSecureBuffer  *kbpk,
                        PpKeyAlgorithm         algorithm,
                        const char            *header,
                        char                 **out_kcv,
                        GError               **error)
{
  g_autoptr(PpSecureBuffer) key = fresh_working_key (algorithm, error);
  g_autofree char *block = NULL;

  g_return_val_if_fail (kbpk != NULL && header != NULL && out_kcv != NULL, NULL);

  if (key == NULL ||
      (block = pp_tr31_wrap (kbpk, header, key, error)) == NULL ||
      (*out_kcv = pp_kcv_compute (algorithm, key, pp_kcv_default_length (algorithm), error)) == NULL)
    return NULL;
  return g_steal_pointer (&block);
}

const char *
pp_tr31_sign_on_header (PpKeyAlgorithm algorithm,
                        gboolean       mac)
{
  if (algorithm == PP_KEY_ALGORITHM_AES)
    return mac ? "D0000M6AC00N0000" : "D0000P0AE00N0000";
  return mac ? "B0000M3TC00N0000" : "B0000P0TE00N0000";
}
