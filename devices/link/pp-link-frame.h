/* SPDX-License-Identifier: GPL-3.0-or-later
 *
 * pp-link-frame.h: the frame codec of the posprov link protocol
 * (docs/link-protocol.md, "Frames"): an encoder, the CRC-32, and an
 * incremental decoder that takes bytes in whatever chunks the transport
 * delivers and yields frames or events for what is not a frame.
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

#define PP_LINK_SOF0            0xA5
#define PP_LINK_SOF1            0x5A
#define PP_LINK_HEADER_SIZE     14   /* SOF, type, flags, seq, command, status, length, HCRC */
#define PP_LINK_TRAILER_SIZE    4    /* CRC-32 */
#define PP_LINK_OVERHEAD        (PP_LINK_HEADER_SIZE + PP_LINK_TRAILER_SIZE)
#define PP_LINK_MIN_PAYLOAD     4096 /* every implementation takes frames this large */
#define PP_LINK_MAX_PAYLOAD     65535

typedef enum {
  PP_LINK_FRAME_HELLO       = 0x01,
  PP_LINK_FRAME_HELLO_REPLY = 0x02,
  PP_LINK_FRAME_REQUEST     = 0x03,
  PP_LINK_FRAME_RESPONSE    = 0x04,
  PP_LINK_FRAME_ACK         = 0x05,
  PP_LINK_FRAME_NAK         = 0x06,
} PpLinkFrameType;

/* NAK reasons (the status byte of a NAK frame). */
enum {
  PP_LINK_NAK_RESEND     = 0x00,  /* resend from seq: a bad frame or a gap */
  PP_LINK_NAK_NO_SESSION = 0x01,  /* no HELLO yet (the terminal restarted) */
};

/* HELLO_REPLY statuses. */
enum {
  PP_LINK_HELLO_OK         = 0x00,
  PP_LINK_HELLO_NO_VERSION = 0x01,
  PP_LINK_HELLO_BAD        = 0x02,
};

/* HELLO / HELLO_REPLY payload tags (their own tag space). */
enum {
  PP_LINK_HELLO_TAG_VERSION_MIN = 0x01,  /* u8 */
  PP_LINK_HELLO_TAG_VERSION_MAX = 0x02,  /* u8 */
  PP_LINK_HELLO_TAG_MAX_PAYLOAD = 0x03,  /* u16 */
  PP_LINK_HELLO_TAG_WINDOW      = 0x04,  /* u8 */
  PP_LINK_HELLO_TAG_VERSION     = 0x05,  /* u8, the chosen one */
};

typedef struct {
  PpLinkFrameType  type;
  guint16          seq;
  guint8           command;
  guint8           status;
  GBytes          *payload;   /* never NULL after a decode; may be empty */
} PpLinkFrame;

/* IEEE 802.3 CRC-32 (reflected, polynomial 0xEDB88320, init and xorout
 * 0xFFFFFFFF): pp_link_crc32 (0, "123456789", 9) == 0xCBF43926. @crc is
 * the value of the bytes before (0 to start), as with zlib's crc32(). */
guint32  pp_link_crc32          (guint32       crc,
                                 const guint8 *data,
                                 gsize         len);

/* One frame's bytes. @len must be at most PP_LINK_MAX_PAYLOAD. */
GBytes  *pp_link_frame_encode   (PpLinkFrameType  type,
                                 guint16          seq,
                                 guint8           command,
                                 guint8           status,
                                 const guint8    *payload,
                                 gsize            len);

/* TRUE if the header fields obey the rules of their type (flags zero,
 * known type, no payload or command on ACK/NAK, ...). */
gboolean pp_link_frame_header_valid (guint8  type,
                                     guint8  flags,
                                     guint8  command,
                                     guint8  status,
                                     guint16 length);

void     pp_link_frame_clear    (PpLinkFrame *frame);

typedef enum {
  PP_LINK_DECODE_FRAME,      /* a whole, valid frame in @frame */
  PP_LINK_DECODE_GARBAGE,    /* @skipped bytes that start no frame */
  PP_LINK_DECODE_BAD_CRC,    /* valid header (in @frame, no payload), CRC wrong */
  PP_LINK_DECODE_OVERSIZED,  /* valid header claiming more than the bound */
  PP_LINK_DECODE_INVALID,    /* header CRC right, fields break the rules */
} PpLinkDecodeKind;

typedef struct {
  PpLinkDecodeKind  kind;
  PpLinkFrame       frame;
  gsize             skipped;  /* bytes this event consumed */
} PpLinkDecodeEvent;

typedef struct _PpLinkDecoder PpLinkDecoder;

PpLinkDecoder *pp_link_decoder_new             (gsize max_payload);
void           pp_link_decoder_free            (PpLinkDecoder *decoder);
void           pp_link_decoder_set_max_payload (PpLinkDecoder *decoder,
                                                gsize          max_payload);
void           pp_link_decoder_push            (PpLinkDecoder *decoder,
                                                const guint8  *data,
                                                gsize          len);
/* Next event from what was pushed; FALSE when it needs more bytes. */
gboolean       pp_link_decoder_next            (PpLinkDecoder     *decoder,
                                                PpLinkDecodeEvent *event);
/* Bytes pushed and not yet part of an event (a partial frame). */
gsize          pp_link_decoder_pending         (PpLinkDecoder *decoder);
void           pp_link_decoder_reset           (PpLinkDecoder *decoder);
/* The bytes pending have waited too long to become a frame (a sender cut
 * off mid-frame): give up the frame start they begin with, so the next
 * pp_link_decoder_next() hunts again from the byte after it. Returns the
 * bytes given up (0 when nothing is pending). */
gsize          pp_link_decoder_drop_partial    (PpLinkDecoder *decoder);

void           pp_link_decode_event_clear      (PpLinkDecodeEvent *event);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (PpLinkDecoder, pp_link_decoder_free)
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (PpLinkDecodeEvent, pp_link_decode_event_clear)

G_END_DECLS
