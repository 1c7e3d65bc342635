/* SPDX-License-Identifier: GPL-3.0-or-later
 *
 * pp-link-tlv.h: the command, status and tag codes of the posprov link
 * protocol that station and terminal share (docs/link-protocol.md,
 * "Commands"), and a small TLV builder and reader for the payloads.
 *
 * A payload is a sequence of TLVs: tag (1 byte), length (2 bytes,
 * big-endian), value. Unknown tags are ignored by a receiver; a repeated
 * tag is a BAD_PAYLOAD. Integers are big-endian unsigned of the stated
 * width; text is UTF-8 without NUL.
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* devices/link/pp-link-tlv.h: the codes both sides share (helper L writes this header
 * exactly so; helper S may copy it into its worktree until the merge). */
enum {  /* commands, station -> terminal */
  PP_CMD_IDENTIFY      = 0x10,
  PP_CMD_GET_CSR       = 0x11,
  PP_CMD_PUT_CERT      = 0x12,
  PP_CMD_GET_CT_KRD    = 0x13,
  PP_CMD_BIND          = 0x14,   /* CT_KDH */
  PP_CMD_GET_RT_KRD    = 0x15,   /* a fresh nonce, as RT_KRD */
  PP_CMD_LOAD_KEY      = 0x16,   /* KT_KDH -> KCV */
  PP_CMD_REBIND        = 0x17,   /* RBT_KDH */
  PP_CMD_UNBIND        = 0x18,   /* UBT_KDH */
  PP_CMD_ZEROIZE       = 0x19,
  PP_CMD_PROGRAM_BEGIN = 0x20,
  PP_CMD_PROGRAM_BLOCK = 0x21,
  PP_CMD_PROGRAM_COMMIT= 0x22,
  PP_CMD_STATUS        = 0x23,
  PP_CMD_SIGN_ON       = 0x24,
  PP_CMD_SIGN_OFF      = 0x25,
};
enum {  /* response status */
  PP_STATUS_OK = 0x00, PP_STATUS_UNKNOWN_COMMAND = 0x01, PP_STATUS_BAD_PAYLOAD = 0x02,
  PP_STATUS_REFUSED = 0x03,   /* with PP_TAG_MESSAGE and PP_TAG_REASON */
  PP_STATUS_TAMPERED = 0x04,  /* the terminal saw a security attack: it refuses keys */
  PP_STATUS_NOT_BOUND = 0x05, PP_STATUS_NO_CERT = 0x06, PP_STATUS_BUSY = 0x07,
};
enum {  /* tags */
  PP_TAG_SERIAL = 0x01, PP_TAG_VENDOR = 0x02, PP_TAG_MODEL = 0x03, PP_TAG_FIRMWARE = 0x04,
  PP_TAG_PROTOCOL_VERSION = 0x05 /* u8 */, PP_TAG_CAPABILITIES = 0x06 /* u32 bit set */,
  PP_TAG_TAMPER = 0x07 /* u8 0/1 */, PP_TAG_HAS_CERT = 0x08 /* u8 0/1 */,
  PP_TAG_BOUND_KDH = 0x09 /* text: the bound KDH's subject, RFC 2253; absent: unbound */,
  PP_TAG_PROGRAM_NAME = 0x0A, PP_TAG_PROGRAM_VERSION = 0x0B,
  PP_TAG_KEYS = 0x0C /* the held keys: per key slot u8, flags u8, usage 2 bytes, KCV length u8, KCV */,
  PP_TAG_CSR = 0x20 /* DER PKCS#10 */, PP_TAG_CERT = 0x21 /* DER X.509 */,
  PP_TAG_TOKEN = 0x22 /* DER TR-34 token */,
  PP_TAG_SLOT = 0x30 /* u8 */, PP_TAG_KCV = 0x31 /* text, upper hex */,
  PP_TAG_KEY_USAGE = 0x32 /* text, TR-31 usage "K0", "P0", "M3", "B1" */,
  PP_TAG_KCV_MAC = 0x33 /* text, upper hex: SIGN_ON's MAC key */,
  PP_TAG_OFFSET = 0x40 /* u64 */, PP_TAG_SIZE = 0x41 /* u64 */, PP_TAG_SHA256 = 0x42 /* 32 bytes */,
  PP_TAG_DATA = 0x43, PP_TAG_SIGNATURE = 0x44, PP_TAG_MANIFEST = 0x45,
  PP_TAG_OPERATOR = 0x50 /* u32 */, PP_TAG_PASSWORD = 0x51 /* text */,
  PP_TAG_KEY_BLOCK = 0x52 /* TR-31 text: the PIN key */,
  PP_TAG_KEY_BLOCK_MAC = 0x53 /* TR-31 text: the MAC key */,
  PP_TAG_REASON = 0x7E /* u16 */, PP_TAG_MESSAGE = 0x7F /* text, English, for the log */,
};
/* REASON (u16) of a REFUSED answer: which check failed.  A TR-34 refusal
 * carries PP_REASON_TR34 + the PpTr34Error code. */
enum {
  PP_REASON_STATE = 0x0001,      /* not possible in this state (e.g. no master key) */
  PP_REASON_CERT = 0x0002,       /* certificate not for this terminal */
  PP_REASON_PROGRAM = 0x0003,    /* program check failed */
  PP_REASON_SIGN_ON = 0x0004,    /* operator or password wrong */
  PP_REASON_KEY_BLOCK = 0x0005,  /* TR-31 block refused (MAC, header) */
  PP_REASON_STORAGE = 0x0006,    /* the terminal could not save */
  PP_REASON_TR34 = 0x0100,
  PP_REASON_PROGRAM_SIGNATURE = 0x0010, /* manifest, signature or signer certificate */
  PP_REASON_PROGRAM_INTEGRITY = 0x0011, /* size or SHA-256 of the bytes received */
  PP_REASON_PROGRAM_MODEL = 0x0012,     /* the program is not for this model */
  PP_REASON_PROGRAM_ORDER = 0x0013,     /* out of order: signature file, manager, payment apps */
};
enum { PP_CAP_CERTIFY = 1 << 0, PP_CAP_TR34_2PASS = 1 << 1, PP_CAP_TR34_1PASS = 1 << 2,
       PP_CAP_PROGRAM = 1 << 3, PP_CAP_SIGN_ON = 1 << 4, PP_CAP_DUKPT = 1 << 5 };

#define PP_TLV_HEADER_SIZE 3
#define PP_TLV_MAX_VALUE   65535

/* Errors of a payload that breaks the TLV rules; a terminal answers each
 * with PP_STATUS_BAD_PAYLOAD. */
#define PP_LINK_TLV_ERROR (pp_link_tlv_error_quark ())
typedef enum {
  PP_LINK_TLV_ERROR_TRUNCATED,   /* a TLV runs past the end of the payload */
  PP_LINK_TLV_ERROR_REPEATED,    /* a tag appears twice */
  PP_LINK_TLV_ERROR_MISSING,     /* a required tag is absent */
  PP_LINK_TLV_ERROR_BAD_VALUE,   /* wrong width, not UTF-8, NUL in text */
} PpLinkTlvError;

GQuark pp_link_tlv_error_quark (void);

/* Builder: appends TLVs; pp_link_tlv_builder_end returns the payload. */
typedef struct _PpLinkTlvBuilder PpLinkTlvBuilder;

PpLinkTlvBuilder *pp_link_tlv_builder_new        (void);
void              pp_link_tlv_builder_free       (PpLinkTlvBuilder *builder);
/* @len at most PP_TLV_MAX_VALUE (longer values are a programming error). */
void              pp_link_tlv_builder_add        (PpLinkTlvBuilder *builder,
                                                  guint8            tag,
                                                  const void       *value,
                                                  gsize             len);
void              pp_link_tlv_builder_add_u8     (PpLinkTlvBuilder *builder, guint8 tag, guint8 value);
void              pp_link_tlv_builder_add_u16    (PpLinkTlvBuilder *builder, guint8 tag, guint16 value);
void              pp_link_tlv_builder_add_u32    (PpLinkTlvBuilder *builder, guint8 tag, guint32 value);
void              pp_link_tlv_builder_add_u64    (PpLinkTlvBuilder *builder, guint8 tag, guint64 value);
void              pp_link_tlv_builder_add_string (PpLinkTlvBuilder *builder, guint8 tag, const char *text);
void              pp_link_tlv_builder_add_bytes  (PpLinkTlvBuilder *builder, guint8 tag, GBytes *value);
gsize             pp_link_tlv_builder_get_size   (PpLinkTlvBuilder *builder);
/* Frees @builder. */
GBytes           *pp_link_tlv_builder_end        (PpLinkTlvBuilder *builder);

/* Reader: walks a payload TLV by TLV, with bounds checks. */
typedef struct {
  const guint8 *data;
  gsize         len;
  gsize         pos;
} PpLinkTlvReader;

void     pp_link_tlv_reader_init (PpLinkTlvReader *reader,
                                  const guint8    *data,
                                  gsize            len);
/* FALSE at the end (no error) or on a truncated TLV (@error set). */
gboolean pp_link_tlv_reader_next (PpLinkTlvReader  *reader,
                                  guint8           *out_tag,
                                  const guint8    **out_value,
                                  gsize            *out_len,
                                  GError          **error);

/* The same payload indexed by tag in a caller's struct, without copies
 * or allocations (the terminal side's view, and the set's inside): for
 * each tag where its value is, borrowed from the payload's bytes, or
 * NULL when absent (an empty value points into the payload, never NULL). */
typedef struct {
  const guint8 *value[256];
  gsize         len[256];
} PpLinkTlvIndex;

/* FALSE with PP_LINK_TLV_ERROR_TRUNCATED or _REPEATED (BAD_PAYLOAD).
 * Unknown tags are indexed but never looked at. */
gboolean      pp_link_tlv_index          (const guint8          *data,
                                          gsize                  len,
                                          PpLinkTlvIndex        *out,
                                          GError               **error);
gboolean      pp_link_tlv_index_has      (const PpLinkTlvIndex  *tlvs,
                                          guint8                 tag);
/* Text of @tag: NULL when absent, not UTF-8, or with a NUL. */
char         *pp_link_tlv_index_dup_text (const PpLinkTlvIndex  *tlvs,
                                          guint8                 tag);
/* Big-endian unsigned of exactly @width bytes (1..8); FALSE when absent
 * or of another width. */
gboolean      pp_link_tlv_index_get_uint (const PpLinkTlvIndex  *tlvs,
                                          guint8                 tag,
                                          guint                  width,
                                          guint64               *out);

/* Appending TLVs to a payload being built in a GByteArray (the builder
 * above does the same for a GBytes result). @len at most PP_TLV_MAX_VALUE. */
void          pp_link_tlv_put            (GByteArray  *out,
                                          guint8       tag,
                                          const void  *value,
                                          gsize        len);
void          pp_link_tlv_put_text       (GByteArray  *out,
                                          guint8       tag,
                                          const char  *text);
void          pp_link_tlv_put_uint       (GByteArray  *out,
                                          guint8       tag,
                                          guint        width,
                                          guint64      value);

/* A parsed payload: each tag at most once (checked), looked up by tag.
 * The values point into the payload, which the set keeps alive. */
typedef struct _PpLinkTlvSet PpLinkTlvSet;

PpLinkTlvSet *pp_link_tlv_parse      (GBytes        *payload,
                                      GError       **error);
void          pp_link_tlv_set_free   (PpLinkTlvSet  *set);
gboolean      pp_link_tlv_has        (PpLinkTlvSet  *set, guint8 tag);
/* The raw value or NULL when absent (a zero-length value is not NULL). */
const guint8 *pp_link_tlv_get        (PpLinkTlvSet  *set, guint8 tag, gsize *out_len);
GBytes       *pp_link_tlv_dup_bytes  (PpLinkTlvSet  *set, guint8 tag, GError **error);
/* Typed getters: FALSE with PP_LINK_TLV_ERROR_MISSING when absent, or
 * _BAD_VALUE when the width or text is wrong. */
gboolean      pp_link_tlv_get_u8     (PpLinkTlvSet *set, guint8 tag, guint8 *out, GError **error);
gboolean      pp_link_tlv_get_u16    (PpLinkTlvSet *set, guint8 tag, guint16 *out, GError **error);
gboolean      pp_link_tlv_get_u32    (PpLinkTlvSet *set, guint8 tag, guint32 *out, GError **error);
gboolean      pp_link_tlv_get_u64    (PpLinkTlvSet *set, guint8 tag, guint64 *out, GError **error);
char         *pp_link_tlv_dup_string (PpLinkTlvSet *set, guint8 tag, GError **error);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (PpLinkTlvBuilder, pp_link_tlv_builder_free)
G_DEFINE_AUTOPTR_CLEANUP_FUNC (PpLinkTlvSet, pp_link_tlv_set_free)

G_END_DECLS
