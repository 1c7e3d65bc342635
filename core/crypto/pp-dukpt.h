/* SPDX-License-Identifier: GPL-3.0-or-later
 *
 * pp-dukpt.h: derived unique key per transaction, host side.
 *
 * TDES DUKPT (ANSI X9.24-1:2009): a 16-byte BDK and a 10-byte KSN whose
 * rightmost 21 bits are the transaction counter give the IPEK, the
 * transaction key for any KSN and its PIN, MAC and data variants.
 *
 * AES DUKPT (ANSI X9.24-3:2017): an AES-128/192/256 BDK and an 8-byte
 * initial key ID give the initial key; a 12-byte KSN (initial key ID and a
 * 32-bit counter) gives the transaction (derivation) key, from which the
 * working keys are derived for a usage and a key type (2TDEA, 3TDEA,
 * AES-128/192/256) no stronger than the derivation key.
 *
 * Every key comes back in a PpSecureBuffer.
 */
#pragma once

#include <glib.h>

#include "pp-secure-buffer.h"

G_BEGIN_DECLS

#define PP_DUKPT_ERROR (pp_dukpt_error_quark ())

typedef enum {
  PP_DUKPT_ERROR_BDK_LENGTH,
  PP_DUKPT_ERROR_KEY_LENGTH,
  PP_DUKPT_ERROR_KSN_LENGTH,
  PP_DUKPT_ERROR_INITIAL_KEY_ID_LENGTH,
  PP_DUKPT_ERROR_COUNTER_ZERO,
  PP_DUKPT_ERROR_COUNTER_TOO_MANY_BITS,
  PP_DUKPT_ERROR_UNSUPPORTED_KEY_TYPE,
  PP_DUKPT_ERROR_UNSUPPORTED_USAGE,
  PP_DUKPT_ERROR_CRYPTO,
} PpDukptError;

GQuark pp_dukpt_error_quark (void);

/* TDES DUKPT (X9.24-1:2009) */

#define PP_DUKPT_TDES_BDK_LEN            16
#define PP_DUKPT_TDES_KEY_LEN            16
#define PP_DUKPT_TDES_KSN_LEN            10
#define PP_DUKPT_TDES_COUNTER_MASK       0x1FFFFFu
#define PP_DUKPT_TDES_MAX_COUNTER_BITS   10

typedef enum {
  PP_DUKPT_TDES_USAGE_PIN,
  PP_DUKPT_TDES_USAGE_MAC_REQUEST,
  PP_DUKPT_TDES_USAGE_MAC_RESPONSE,
  PP_DUKPT_TDES_USAGE_DATA_REQUEST,
  PP_DUKPT_TDES_USAGE_DATA_RESPONSE,
} PpDukptTdesUsage;

/* The counter bits of @ksn are ignored (cleared), as the standard says. */
PpSecureBuffer *pp_dukpt_tdes_derive_ipek            (const PpSecureBuffer *bdk,
                                                      const guint8         *ksn,
                                                      gsize                 ksn_len,
                                                      GError              **error);

/* The key before any variant.  The counter must be non-zero with at most
 * 10 one bits (PP_DUKPT_ERROR_COUNTER_ZERO / _TOO_MANY_BITS). */
PpSecureBuffer *pp_dukpt_tdes_derive_transaction_key (const PpSecureBuffer *ipek,
                                                      const guint8         *ksn,
                                                      gsize                 ksn_len,
                                                      GError              **error);

/* PIN and MAC keys are the transaction key XOR a variant constant; the data
 * keys are the variant key encrypted (each half, TDES-ECB) under itself. */
PpSecureBuffer *pp_dukpt_tdes_derive_working_key     (const PpSecureBuffer *transaction_key,
                                                      PpDukptTdesUsage      usage,
                                                      GError              **error);

/* AES DUKPT (X9.24-3:2017) */

#define PP_DUKPT_AES_KSN_LEN             12
#define PP_DUKPT_AES_INITIAL_KEY_ID_LEN  8
#define PP_DUKPT_AES_MAX_COUNTER_BITS    16

/* Values are the standard's algorithm indicators. */
typedef enum {
  PP_DUKPT_KEY_TYPE_TDES2  = 0,
  PP_DUKPT_KEY_TYPE_TDES3  = 1,
  PP_DUKPT_KEY_TYPE_AES128 = 2,
  PP_DUKPT_KEY_TYPE_AES192 = 3,
  PP_DUKPT_KEY_TYPE_AES256 = 4,
} PpDukptKeyType;

/* Values are the standard's key usage indicators. */
typedef enum {
  PP_DUKPT_AES_USAGE_KEY_ENCRYPTION  = 0x0002,
  PP_DUKPT_AES_USAGE_PIN_ENCRYPTION  = 0x1000,
  PP_DUKPT_AES_USAGE_MAC_GENERATION  = 0x2000,
  PP_DUKPT_AES_USAGE_MAC_VERIFICATION = 0x2001,
  PP_DUKPT_AES_USAGE_MAC_BOTH        = 0x2002,
  PP_DUKPT_AES_USAGE_DATA_ENCRYPT    = 0x3000,
  PP_DUKPT_AES_USAGE_DATA_DECRYPT    = 0x3001,
  PP_DUKPT_AES_USAGE_DATA_BOTH       = 0x3002,
} PpDukptAesUsage;

/* Key length in bytes of @type (16, 24, 16, 24, 32). */
gsize           pp_dukpt_key_type_get_length         (PpDukptKeyType        type);
/* "tdes2", "tdes3", "aes128", "aes192", "aes256". */
const char     *pp_dukpt_key_type_to_string          (PpDukptKeyType        type);
gboolean        pp_dukpt_key_type_from_string        (const char           *name,
                                                      PpDukptKeyType       *out_type);
/* The AES type of an AES key of @len bytes (FALSE if not 16, 24 or 32). */
gboolean        pp_dukpt_key_type_for_aes_length     (gsize                 len,
                                                      PpDukptKeyType       *out_type);

/* The initial key of @key_type for the 8-byte @initial_key_id.  The
 * standard's initial key has the BDK's own type; a weaker AES type may be
 * asked for.  A TDES type is refused: the initial key derives further keys
 * and only AES derives. */
PpSecureBuffer *pp_dukpt_aes_derive_initial_key      (const PpSecureBuffer *bdk,
                                                      const guint8         *initial_key_id,
                                                      gsize                 initial_key_id_len,
                                                      PpDukptKeyType        key_type,
                                                      GError              **error);

/* The derivation key for @ksn (initial key ID || counter), of the initial
 * key's type.  The counter must be non-zero with at most 16 one bits. */
PpSecureBuffer *pp_dukpt_aes_derive_transaction_key  (const PpSecureBuffer *initial_key,
                                                      const guint8         *ksn,
                                                      gsize                 ksn_len,
                                                      GError              **error);

/* A working key for @usage of @key_type from the derivation key of @ksn.
 * PP_DUKPT_ERROR_UNSUPPORTED_KEY_TYPE if @key_type is stronger. */
PpSecureBuffer *pp_dukpt_aes_derive_working_key      (const PpSecureBuffer *transaction_key,
                                                      const guint8         *ksn,
                                                      gsize                 ksn_len,
                                                      PpDukptAesUsage       usage,
                                                      PpDukptKeyType        key_type,
                                                      GError              **error);

/* The DUKPT update key (X9.24-3 6.5.3): a key encryption key derived from
 * the derivation key of counter FFFFFFFF.  AES types only. */
PpSecureBuffer *pp_dukpt_aes_derive_update_key       (const PpSecureBuffer *initial_key,
                                                      const guint8         *initial_key_id,
                                                      gsize                 initial_key_id_len,
                                                      PpDukptKeyType        key_type,
                                                      GError              **error);

G_END_DECLS
