/* SPDX-License-Identifier: GPL-3.0-or-later
 *
 * pp-tr31.h: TR-31 / ANSI X9.143 key blocks, versions A, B, C and D.
 *
 * A key block is printable ASCII: a 16-character header, optional blocks,
 * the encrypted key data and the MAC, both as hex.
 *
 *   A, C  TDES, variant binding (KBEK = KBPK ^ 0x45.., KBAK = KBPK ^ 0x4D..),
 *         TDES-CBC with the first 8 header bytes as IV, 4-byte TDES CBC-MAC
 *         over header || ciphertext. Deprecated by X9.143; accepted for
 *         unwrap and still produced by wrap when the header asks for it
 *         (legacy terminals), never chosen by default.
 *   B     TDES, KBEK/KBAK derived with TDES-CMAC, 8-byte CMAC over
 *         header || clear key data, the MAC is the CBC IV.
 *   D     AES, KBEK/KBAK derived with AES-CMAC, 16-byte CMAC, MAC as IV.
 * New blocks default to B under a TDES KBPK and D under an AES KBPK
 * (pp_tr31_default_version()).
 *
 * KBPK lengths: A/B/C 16 or 24 bytes (single-DES KBPKs are refused),
 * D 16, 24 or 32 bytes.
 *
 * Parser policy (see docs/tr31.md):
 *  - The whole block must be printable ASCII. Header fields are
 *    case-sensitive ("D0", not "d0").
 *  - The encrypted key data and the MAC are hex; lower-case hex is accepted
 *    there (some libraries emit it; the MAC covers the binary values, so
 *    case carries no meaning). Output is always upper case.
 *  - Optional block data is printable ASCII. The IDs whose content software
 *    acts on as binary values must hold upper-case hex: BI, HM, IK, KC, KP.
 *    KS is accepted as printable text because the standard's own example
 *    (X9.143 section 8.2) carries "VM9A" there; code that uses a KSN decodes
 *    and validates it itself.
 *  - Known optional block IDs are AL BI CT DA FL HM IK KC KP KS KV LB PB PK
 *    TC TS WP; IDs starting with a digit are proprietary and accepted; any
 *    other ID is refused, as are duplicate IDs. PB must be the last block.
 *  - The header including optional blocks must be a multiple of the cipher
 *    block size (8 for A/B/C, 16 for D), as X9.143 requires (that is what
 *    PB is for).
 *  - A key of algorithm H (HMAC) needs an HM block of two hex digits
 *    naming its hash.
 *  - KC and KP hold "00" (legacy) or "01" (CMAC) and a 2 to 8-byte check
 *    value. A KC block is verified against the key (wrap and unwrap) where
 *    pp-kcv has the method: legacy for TDES keys, CMAC for AES keys.
 *  - The MAC is verified (CRYPTO_memcmp) before the key length field or any
 *    other decrypted byte is examined.
 */
#pragma once

#include <glib.h>

#include "pp-kcv.h"
#include "pp-secure-buffer.h"

G_BEGIN_DECLS

#define PP_TR31_ERROR (pp_tr31_error_quark ())

typedef enum {
  PP_TR31_ERROR_TRUNCATED,              /* shorter than a 16-character header */
  PP_TR31_ERROR_INVALID_CHARACTER,      /* a byte that is not printable ASCII */
  PP_TR31_ERROR_UNKNOWN_VERSION,        /* version id not A, B, C or D */
  PP_TR31_ERROR_LENGTH_FIELD,           /* length field not 4 decimal digits */
  PP_TR31_ERROR_LENGTH_MISMATCH,        /* length field differs from the input */
  PP_TR31_ERROR_KEY_USAGE,              /* unknown key usage */
  PP_TR31_ERROR_ALGORITHM,              /* unknown algorithm */
  PP_TR31_ERROR_MODE_OF_USE,            /* unknown mode of use */
  PP_TR31_ERROR_KEY_VERSION,            /* key version number not alphanumeric */
  PP_TR31_ERROR_EXPORTABILITY,          /* exportability not E, N or S */
  PP_TR31_ERROR_OPTIONAL_BLOCK_COUNT,   /* count not 2 digits */
  PP_TR31_ERROR_RESERVED,               /* reserved field not "00" */
  PP_TR31_ERROR_USAGE_COMBINATION,      /* usage/algorithm/mode not allowed together */
  PP_TR31_ERROR_OPTIONAL_BLOCK_ID,      /* bad, unknown, duplicate or misplaced ID */
  PP_TR31_ERROR_OPTIONAL_BLOCK_LENGTH,  /* bad length field or block overruns */
  PP_TR31_ERROR_OPTIONAL_BLOCK_DATA,    /* content not allowed for that ID */
  PP_TR31_ERROR_HEADER_ALIGNMENT,       /* header not a multiple of the block size */
  PP_TR31_ERROR_KBPK_LENGTH,            /* KBPK length not valid for the version */
  PP_TR31_ERROR_MAC_NOT_HEX,            /* MAC characters are not hex */
  PP_TR31_ERROR_KEY_DATA_NOT_HEX,       /* encrypted key data is not hex */
  PP_TR31_ERROR_KEY_DATA_LENGTH,        /* no or partial cipher blocks, or no MAC */
  PP_TR31_ERROR_MAC_MISMATCH,           /* wrong KBPK or altered block */
  PP_TR31_ERROR_KEY_LENGTH,             /* decrypted key length field inconsistent */
  PP_TR31_ERROR_KEY_SIZE,               /* key size not valid for its algorithm */
  PP_TR31_ERROR_PADDING,                /* wrap: padding does not complete the blocks */
  PP_TR31_ERROR_TOO_LONG,               /* wrap: block would exceed 9999 characters */
  PP_TR31_ERROR_KCV_MISMATCH,           /* key does not match its KC optional block */
  PP_TR31_ERROR_CRYPTO,                 /* OpenSSL failed */
} PpTr31Error;

#define PP_TR31_HEADER_LENGTH 16
#define PP_TR31_MAX_LENGTH    9999

typedef struct {
  char  id[3];
  char *data;
} PpTr31OptionalBlock;

typedef struct {
  char       version;          /* 'A', 'B', 'C' or 'D' */
  guint      length;           /* the length field (unchecked by header_parse) */
  char       key_usage[3];
  char       algorithm;
  char       mode_of_use;
  char       key_version[3];
  char       exportability;
  GPtrArray *optional_blocks;  /* of PpTr31OptionalBlock, in block order */
  gsize      header_length;    /* characters incl. optional blocks */
} PpTr31Header;

GQuark          pp_tr31_error_quark        (void);

/* Parses the header (and optional blocks) at the start of @text, a key block
 * or a bare header. The length field must be 4 digits but is not compared
 * with anything. */
PpTr31Header   *pp_tr31_header_parse       (const char           *text,
                                            GError              **error);
void            pp_tr31_header_free        (PpTr31Header         *header);
/* Data of the optional block @id, or NULL when absent. */
const char     *pp_tr31_header_get_optional_block (const PpTr31Header *header,
                                                   const char         *id);

/* Checks a usage/algorithm/mode-of-use triple against the X9.143 table. */
gboolean        pp_tr31_check_usage        (const char           *key_usage,
                                            char                  algorithm,
                                            char                  mode_of_use,
                                            GError              **error);

/* 'B' for a TDES KBPK, 'D' for an AES KBPK. */
char            pp_tr31_default_version    (PpKeyAlgorithm        kbpk_algorithm);

/* KBEK and KBAK for @version ('A'..'D') from @kbpk. */
gboolean        pp_tr31_derive_keys        (char                  version,
                                            const PpSecureBuffer *kbpk,
                                            PpSecureBuffer      **out_kbek,
                                            PpSecureBuffer      **out_kbak,
                                            GError              **error);

/* Verifies and decrypts @key_block; returns the clear key. @out_header
 * (optional) receives the parsed header. */
PpSecureBuffer *pp_tr31_unwrap             (const PpSecureBuffer *kbpk,
                                            const char           *key_block,
                                            PpTr31Header        **out_header,
                                            GError              **error);

/* Builds a key block for @key from @header (a complete header with its
 * optional blocks; its 4 length characters are replaced). A header that does
 * not fill whole cipher blocks gets a PB block of '0's appended (and its
 * block count raised), as X9.143 requires. Padding of the key is random
 * and hides the key length (a TDES key is padded as if it were 24 bytes, an
 * AES key as if 32). */
char           *pp_tr31_wrap               (const PpSecureBuffer *kbpk,
                                            const char           *header,
                                            const PpSecureBuffer *key,
                                            GError              **error);

/* Same with explicit padding bytes for reproducible blocks (tests, known
 * answers): 2 + key length + @padding_len must fill whole cipher blocks. */
char           *pp_tr31_wrap_with_padding  (const PpSecureBuffer *kbpk,
                                            const char           *header,
                                            const PpSecureBuffer *key,
                                            const guint8         *padding,
                                            gsize                 padding_len,
                                            GError              **error);

/* A fresh 16-byte working key (2-key TDES with odd parity, or AES-128, by
 * @algorithm) wrapped under @kbpk with @header; its KCV in @out_kcv (upper
 * hex). The clear key exists only in a secure buffer, wiped on return.
 * What a sign-on hands a terminal (docs/link-protocol.md, SIGN_ON). */
char           *pp_tr31_wrap_fresh_key     (const PpSecureBuffer *kbpk,
                                            PpKeyAlgorithm        algorithm,
                                            const char           *header,
                                            char                **out_kcv,
                                            GError              **error);
/* The TR-31 headers of a sign-on's PIN and MAC working keys under a TMK
 * of @algorithm. */
const char     *pp_tr31_sign_on_header     (PpKeyAlgorithm        algorithm,
                                            gboolean              mac);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (PpTr31Header, pp_tr31_header_free)

G_END_DECLS
