/* SPDX-License-Identifier: GPL-3.0-or-later
 *
 * test-link.c: the posprov link protocol (docs/link-protocol.md) between a
 * real station session and a real terminal session, over loopback TCP and
 * over a socketpair, with a proxy in between that drops, corrupts,
 * duplicates, reorders frames or adds garbage, the way a bad cable or a
 * wrong baud rate does.
 */
#include "config.h"

#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <gio/gio.h>

#include "pp-link.h"
#include "pp-link-frame.h"
#include "pp-link-tlv.h"

/* The examples of docs/link-protocol.md, "Examples": the same hex there. */
#define DOC_HELLO    "A55A0100123400000011F722FFB10100010102000101030002400004000108D86D6A6A"
#define DOC_REPLY    "A55A020012340000000D6DACA41D05000101030002100004000104F41D95D6"
#define DOC_IDENTIFY "A55A0300123510000000B2CEA611DAA5E092"
#define DOC_ACK      "A55A050012350000000024B8F809B620364F"
#define DOC_IDENTIFY_RESPONSE \
  "A55A0400123510000038900917960100085453303030303031020007706F7370726F7603000553494D2D31" \
  "040005312E302E30050001010600040000003F0700010008000101FDF8E9BA"
#define DOC_NAK      "A55A0600123600000000ED97853AE5261E86"

static GBytes *
hex_bytes (const char *hex)
{
  gsize n = strlen (hex) / 2;
  guint8 *out = g_malloc (n);

  for (gsize i = 0; i < n; i++)
    out[i] = (g_ascii_xdigit_value (hex[2 * i]) << 4) | g_ascii_xdigit_value (hex[2 * i + 1]);
  return g_bytes_new_take (out, n);
}

static char *
bytes_hex (GBytes *b)
{
  gsize n;
  const guint8 *d = g_bytes_get_data (b, &n);
  GString *s = g_string_new (NULL);

  for (gsize i = 0; i < n; i++)
    g_string_append_printf (s, "%02X", d[i]);
  return g_string_free (s, FALSE);
}

static GBytes *
identify_payload (void)
{
  PpLinkTlvBuilder *b = pp_link_tlv_builder_new ();

  pp_link_tlv_builder_add_string (b, PP_TAG_SERIAL, "TS000001");
  pp_link_tlv_builder_add_string (b, PP_TAG_VENDOR, "posprov");
  pp_link_tlv_builder_add_string (b, PP_TAG_MODEL, "SIM-1");
  pp_link_tlv_builder_add_string (b, PP_TAG_FIRMWARE, "1.0.0");
  pp_link_tlv_builder_add_u8 (b, PP_TAG_PROTOCOL_VERSION, 1);
  pp_link_tlv_builder_add_u32 (b, PP_TAG_CAPABILITIES, 0x3F);
  pp_link_tlv_builder_add_u8 (b, PP_TAG_TAMPER, 0);
  pp_link_tlv_builder_add_u8 (b, PP_TAG_HAS_CERT, 1);
  return pp_link_tlv_builder_end (b);
}

static void
assert_frame_hex (PpLinkFrameType type, guint16 seq, guint8 command, guint8 status,
                  GBytes *payload, const char *expected)
{
  gsize len = 0;
  const guint8 *data = payload != NULL ? g_bytes_get_data (payload, &len) : NULL;
  g_autoptr(GBytes) frame = pp_link_frame_encode (type, seq, command, status, data, len);
  g_autofree char *hex = bytes_hex (frame);

  g_assert_cmpstr (hex, ==, expected);
}

static void
test_crc (void)
{
  g_assert_cmphex (pp_link_crc32 (0, (const guint8 *) "123456789", 9), ==, 0xCBF43926);
  /* Incremental use gives the same value. */
  g_assert_cmphex (pp_link_crc32 (pp_link_crc32 (0, (const guint8 *) "1234", 4),
                                  (const guint8 *) "56789", 5), ==, 0xCBF43926);
}

static void
test_doc_frames (void)
{
  g_autoptr(PpLinkTlvBuilder) hb = pp_link_tlv_builder_new ();
  g_autoptr(PpLinkTlvBuilder) rb = pp_link_tlv_builder_new ();
  g_autoptr(GBytes) hello = NULL;
  g_autoptr(GBytes) reply = NULL;
  g_autoptr(GBytes) ident = identify_payload ();
  g_autoptr(PpLinkDecoder) dec = pp_link_decoder_new (PP_LINK_MAX_PAYLOAD);
  const char *all[] = { DOC_HELLO, DOC_REPLY, DOC_IDENTIFY, DOC_ACK, DOC_IDENTIFY_RESPONSE, DOC_NAK };
  const guint8 types[] = { 1, 2, 3, 5, 4, 6 };
  guint got = 0;

  pp_link_tlv_builder_add_u8 (hb, PP_LINK_HELLO_TAG_VERSION_MIN, 1);
  pp_link_tlv_builder_add_u8 (hb, PP_LINK_HELLO_TAG_VERSION_MAX, 1);
  pp_link_tlv_builder_add_u16 (hb, PP_LINK_HELLO_TAG_MAX_PAYLOAD, 16384);
  pp_link_tlv_builder_add_u8 (hb, PP_LINK_HELLO_TAG_WINDOW, 8);
  hello = pp_link_tlv_builder_end (g_steal_pointer (&hb));
  pp_link_tlv_builder_add_u8 (rb, PP_LINK_HELLO_TAG_VERSION, 1);
  pp_link_tlv_builder_add_u16 (rb, PP_LINK_HELLO_TAG_MAX_PAYLOAD, 4096);
  pp_link_tlv_builder_add_u8 (rb, PP_LINK_HELLO_TAG_WINDOW, 4);
  reply = pp_link_tlv_builder_end (g_steal_pointer (&rb));

  assert_frame_hex (PP_LINK_FRAME_HELLO, 0x1234, 0, 0, hello, DOC_HELLO);
  assert_frame_hex (PP_LINK_FRAME_HELLO_REPLY, 0x1234, 0, 0, reply, DOC_REPLY);
  assert_frame_hex (PP_LINK_FRAME_REQUEST, 0x1235, PP_CMD_IDENTIFY, 0, NULL, DOC_IDENTIFY);
  assert_frame_hex (PP_LINK_FRAME_ACK, 0x1235, 0, 0, NULL, DOC_ACK);
  assert_frame_hex (PP_LINK_FRAME_RESPONSE, 0x1235, PP_CMD_IDENTIFY, PP_STATUS_OK, ident,
                    DOC_IDENTIFY_RESPONSE);
  assert_frame_hex (PP_LINK_FRAME_NAK, 0x1236, 0, PP_LINK_NAK_RESEND, NULL, DOC_NAK);

  /* And back, one byte at a time, as a slow serial line hands them over. */
  for (guint i = 0; i < G_N_ELEMENTS (all); i++)
    {
      g_autoptr(GBytes) b = hex_bytes (all[i]);
      gsize n;
      const guint8 *d = g_bytes_get_data (b, &n);

      for (gsize k = 0; k < n; k++)
        {
          g_auto(PpLinkDecodeEvent) ev = { 0 };

          pp_link_decoder_push (dec, d + k, 1);
          if (pp_link_decoder_next (dec, &ev))
            {
              g_assert_cmpint (ev.kind, ==, PP_LINK_DECODE_FRAME);
              g_assert_cmpuint (k, ==, n - 1);
              g_assert_cmpint (ev.frame.type, ==, types[i]);
              g_assert_cmpuint (ev.frame.seq, ==, i < 2 ? 0x1234 : i < 5 ? 0x1235 : 0x1236);
              g_assert_cmpuint (g_bytes_get_size (ev.frame.payload), ==, n - PP_LINK_OVERHEAD);
              if (i == 4)
                g_assert_true (g_bytes_equal (ev.frame.payload, ident));
              got++;
            }
        }
    }
  g_assert_cmpuint (got, ==, G_N_ELEMENTS (all));
  g_assert_cmpuint (pp_link_decoder_pending (dec), ==, 0);
}

/* The document's examples are these very frames: read them out of
 * docs/link-protocol.md (section 6, the code blocks in order). */
static void
test_doc_file (void)
{
  g_autofree char *path = g_test_build_filename (G_TEST_DIST, "..", "docs",
                                                 "link-protocol.md", NULL);
  g_autofree char *text = NULL;
  g_autoptr(GError) error = NULL;
  const char *expected[] = { DOC_HELLO, DOC_REPLY, DOC_IDENTIFY, DOC_ACK, DOC_IDENTIFY_RESPONSE,
                             DOC_NAK };
  const char *sec, *end, *p;
  guint n = 0;

  g_assert_true (g_file_get_contents (path, &text, NULL, &error));
  g_assert_no_error (error);
  sec = strstr (text, "## 6. Examples");
  g_assert_nonnull (sec);
  end = strstr (sec, "\n## 7.");
  g_assert_nonnull (end);
  for (p = strstr (sec, "```\n"); p != NULL && p < end; p = strstr (p, "```\n"))
    {
      const char *close = strstr (p + 4, "```");
      g_autoptr(GString) hex = g_string_new (NULL);

      g_assert_nonnull (close);
      for (const char *c = p + 4; c < close; c++)
        if (g_ascii_isxdigit (*c))
          g_string_append_c (hex, *c);
      g_assert_cmpuint (n, <, G_N_ELEMENTS (expected));
      g_assert_cmpstr (hex->str, ==, expected[n]);
      n++;
      p = close + 3;
    }
  g_assert_cmpuint (n, ==, G_N_ELEMENTS (expected));
}

/* Decodes everything in @data at once; counts frames and garbage bytes. */
static void
decode_all (PpLinkDecoder *dec, const guint8 *data, gsize len, guint *frames,
            gsize *garbage, guint *bad_crc, guint *oversized, guint *invalid)
{
  g_auto(PpLinkDecodeEvent) ev = { 0 };

  pp_link_decoder_push (dec, data, len);
  while (pp_link_decoder_next (dec, &ev))
    {
      switch (ev.kind)
        {
        case PP_LINK_DECODE_FRAME: (*frames)++; break;
        case PP_LINK_DECODE_GARBAGE: *garbage += ev.skipped; break;
        case PP_LINK_DECODE_BAD_CRC: (*bad_crc)++; break;
        case PP_LINK_DECODE_OVERSIZED: (*oversized)++; break;
        case PP_LINK_DECODE_INVALID: (*invalid)++; break;
        }
      pp_link_decode_event_clear (&ev);
    }
}

static void
test_decoder_garbage (void)
{
  g_autoptr(PpLinkDecoder) dec = pp_link_decoder_new (4096);
  g_autoptr(GByteArray) wire = g_byte_array_new ();
  g_autoptr(GBytes) a = hex_bytes (DOC_IDENTIFY_RESPONSE);
  g_autoptr(GBytes) b = hex_bytes (DOC_ACK);
  /* Noise as a wrong baud rate makes it, with false markers and a false
   * marker followed by a plausible header. */
  static const guint8 noise[] = { 0xA5, 0x5A, 0x03, 0x00, 0x00, 0x01, 0x10, 0x00, 0x00, 0x00,
                                  0xFF, 0xA5, 0xA5, 0x5A, 0x00, 0x7E, 0x00, 0xF0, 0xA5 };
  guint frames = 0, bad = 0, over = 0, inv = 0;
  gsize garbage = 0;

  g_byte_array_append (wire, noise, sizeof noise);
  g_byte_array_append (wire, g_bytes_get_data (a, NULL), g_bytes_get_size (a));
  g_byte_array_append (wire, noise, sizeof noise);
  g_byte_array_append (wire, g_bytes_get_data (b, NULL), g_bytes_get_size (b));
  g_byte_array_append (wire, noise, 7);
  g_byte_array_append (wire, g_bytes_get_data (a, NULL), g_bytes_get_size (a));

  /* In chunks of every size from 1 to 40 bytes. */
  for (gsize chunk = 1; chunk <= 40; chunk++)
    {
      frames = bad = over = inv = 0;
      garbage = 0;
      pp_link_decoder_reset (dec);
      for (gsize off = 0; off < wire->len; off += chunk)
        decode_all (dec, wire->data + off, MIN (chunk, wire->len - off),
                    &frames, &garbage, &bad, &over, &inv);
      g_assert_cmpuint (frames, ==, 3);
      g_assert_cmpuint (garbage, ==, 2 * sizeof noise + 7);
      g_assert_cmpuint (bad + over + inv, ==, 0);
    }
}

static GBytes *
raw_frame (guint8 type, guint8 flags, guint16 seq, guint8 cmd, guint16 claimed,
           const guint8 *payload, gsize len, gboolean good_crc)
{
  guint8 *f = g_malloc0 (PP_LINK_OVERHEAD + len);
  guint32 c;

  f[0] = 0xA5; f[1] = 0x5A; f[2] = type; f[3] = flags;
  f[4] = seq >> 8; f[5] = seq; f[6] = cmd; f[7] = 0;
  f[8] = claimed >> 8; f[9] = claimed;
  c = pp_link_crc32 (0, f, 10);
  f[10] = c >> 24; f[11] = c >> 16; f[12] = c >> 8; f[13] = c;
  if (len > 0)
    memcpy (f + 14, payload, len);
  c = pp_link_crc32 (0, f, 14 + len) ^ (good_crc ? 0 : 1);
  f[14 + len] = c >> 24; f[15 + len] = c >> 16; f[16 + len] = c >> 8; f[17 + len] = c;
  return g_bytes_new_take (f, PP_LINK_OVERHEAD + len);
}

static void
test_decoder_bad_frames (void)
{
  g_autoptr(PpLinkDecoder) dec = pp_link_decoder_new (4096);
  g_autoptr(GBytes) good = hex_bytes (DOC_IDENTIFY);
  g_autoptr(GBytes) oversized = raw_frame (3, 0, 7, 0x10, 60000, NULL, 0, TRUE);
  g_autoptr(GBytes) badcrc = raw_frame (3, 0, 8, 0x10, 3, (const guint8 *) "abc", 3, FALSE);
  g_autoptr(GBytes) flags = raw_frame (3, 0x80, 9, 0x10, 0, NULL, 0, TRUE);
  g_autoptr(GBytes) acklen = raw_frame (5, 0, 9, 0, 2, (const guint8 *) "xy", 2, TRUE);
  g_autoptr(GBytes) truncated = raw_frame (3, 0, 10, 0x10, 100, (const guint8 *) "only part", 9, TRUE);
  guint frames = 0, bad = 0, over = 0, inv = 0;
  gsize garbage = 0;

  /* Oversized: refused at once from its header, the next frame still found
   * (the 4 stray bytes that followed the header are garbage). */
  decode_all (dec, g_bytes_get_data (oversized, NULL), g_bytes_get_size (oversized),
              &frames, &garbage, &bad, &over, &inv);
  decode_all (dec, g_bytes_get_data (good, NULL), g_bytes_get_size (good),
              &frames, &garbage, &bad, &over, &inv);
  g_assert_cmpuint (over, ==, 1);
  g_assert_cmpuint (frames, ==, 1);

  /* Wrong CRC, reserved flag bits, an ACK with a payload. */
  frames = over = 0;
  decode_all (dec, g_bytes_get_data (badcrc, NULL), g_bytes_get_size (badcrc),
              &frames, &garbage, &bad, &over, &inv);
  decode_all (dec, g_bytes_get_data (flags, NULL), g_bytes_get_size (flags),
              &frames, &garbage, &bad, &over, &inv);
  decode_all (dec, g_bytes_get_data (acklen, NULL), g_bytes_get_size (acklen),
              &frames, &garbage, &bad, &over, &inv);
  decode_all (dec, g_bytes_get_data (good, NULL), g_bytes_get_size (good),
              &frames, &garbage, &bad, &over, &inv);
  g_assert_cmpuint (bad, ==, 1);
  g_assert_cmpuint (inv, ==, 2);
  g_assert_cmpuint (frames, ==, 1);

  /* Truncated: the frame claims 100 bytes; only 9 came, then whole frames.
   * Once enough bytes are in, its CRC fails and the frames after it are
   * found again inside what it had swallowed. */
  frames = bad = 0;
  decode_all (dec, g_bytes_get_data (truncated, NULL), 14 + 9,
              &frames, &garbage, &bad, &over, &inv);
  for (guint i = 0; i < 6; i++)
    decode_all (dec, g_bytes_get_data (good, NULL), g_bytes_get_size (good),
                &frames, &garbage, &bad, &over, &inv);
  g_assert_cmpuint (bad, ==, 1);
  g_assert_cmpuint (frames, >=, 5);
}

static void
test_tlv (void)
{
  g_autoptr(PpLinkTlvBuilder) b = pp_link_tlv_builder_new ();
  g_autoptr(GBytes) payload = NULL;
  g_autoptr(PpLinkTlvSet) set = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *serial = NULL;
  guint64 off = 0;
  guint32 caps = 0;
  guint8 tamper = 9;
  static const guint8 truncated[] = { 0x01, 0x00, 0x05, 'a', 'b' };
  static const guint8 half[] = { 0x01, 0x00 };
  static const guint8 twice[] = { 0x01, 0x00, 0x01, 'a', 0x02, 0x00, 0x00, 0x01, 0x00, 0x01, 'b' };
  static const guint8 odd[] = { 0x40, 0x00, 0x02, 0x00, 0x01, 0x01, 0x00, 0x02, 0xC3, 0x28,
                                0x99, 0x00, 0x01, 0x00 /* unknown tag: ignored */ };
  const guint8 *v;
  gsize vlen;

  pp_link_tlv_builder_add_string (b, PP_TAG_SERIAL, "TS000001");
  pp_link_tlv_builder_add_u64 (b, PP_TAG_OFFSET, G_GUINT64_CONSTANT (0x0102030405060708));
  pp_link_tlv_builder_add_u32 (b, PP_TAG_CAPABILITIES, PP_CAP_PROGRAM | PP_CAP_DUKPT);
  pp_link_tlv_builder_add_u8 (b, PP_TAG_TAMPER, 1);
  pp_link_tlv_builder_add (b, PP_TAG_DATA, NULL, 0);
  payload = pp_link_tlv_builder_end (g_steal_pointer (&b));
  g_assert_cmpuint (g_bytes_get_size (payload), ==, 11 + 11 + 7 + 4 + 3);

  set = pp_link_tlv_parse (payload, &error);
  g_assert_no_error (error);
  serial = pp_link_tlv_dup_string (set, PP_TAG_SERIAL, &error);
  g_assert_cmpstr (serial, ==, "TS000001");
  g_assert_true (pp_link_tlv_get_u64 (set, PP_TAG_OFFSET, &off, &error));
  g_assert_cmphex (off, ==, G_GUINT64_CONSTANT (0x0102030405060708));
  g_assert_true (pp_link_tlv_get_u32 (set, PP_TAG_CAPABILITIES, &caps, &error));
  g_assert_cmphex (caps, ==, PP_CAP_PROGRAM | PP_CAP_DUKPT);
  g_assert_true (pp_link_tlv_get_u8 (set, PP_TAG_TAMPER, &tamper, &error));
  g_assert_cmpuint (tamper, ==, 1);
  v = pp_link_tlv_get (set, PP_TAG_DATA, &vlen);
  g_assert_nonnull (v);
  g_assert_cmpuint (vlen, ==, 0);
  g_assert_false (pp_link_tlv_has (set, PP_TAG_BOUND_KDH));
  g_assert_false (pp_link_tlv_get_u8 (set, PP_TAG_HAS_CERT, &tamper, &error));
  g_assert_error (error, PP_LINK_TLV_ERROR, PP_LINK_TLV_ERROR_MISSING);
  g_clear_error (&error);
  g_clear_pointer (&set, pp_link_tlv_set_free);

  {
    struct { const guint8 *d; gsize n; int code; } bad[] = {
      { truncated, sizeof truncated, PP_LINK_TLV_ERROR_TRUNCATED },
      { half, sizeof half, PP_LINK_TLV_ERROR_TRUNCATED },
      { twice, sizeof twice, PP_LINK_TLV_ERROR_REPEATED },
    };

    for (guint i = 0; i < G_N_ELEMENTS (bad); i++)
      {
        g_autoptr(GBytes) p = g_bytes_new_static (bad[i].d, bad[i].n);
        g_autoptr(PpLinkTlvSet) s = pp_link_tlv_parse (p, &error);

        g_assert_null (s);
        g_assert_error (error, PP_LINK_TLV_ERROR, bad[i].code);
        g_clear_error (&error);
      }
  }

  {
    g_autoptr(GBytes) p = g_bytes_new_static (odd, sizeof odd);
    g_autoptr(PpLinkTlvSet) s = pp_link_tlv_parse (p, &error);
    g_autofree char *text = NULL;

    g_assert_no_error (error);
    g_assert_false (pp_link_tlv_get_u64 (s, PP_TAG_OFFSET, &off, &error));
    g_assert_error (error, PP_LINK_TLV_ERROR, PP_LINK_TLV_ERROR_BAD_VALUE);
    g_clear_error (&error);
    text = pp_link_tlv_dup_string (s, PP_TAG_SERIAL, &error);
    g_assert_null (text);
    g_assert_error (error, PP_LINK_TLV_ERROR, PP_LINK_TLV_ERROR_BAD_VALUE);
    g_clear_error (&error);
  }
}

/* ------------------------------------------------------------------ */
/* Streams                                                             */

static void
socketpair_streams (GIOStream **a,
                    GIOStream **b)
{
  int fds[2];
  g_autoptr(GError) error = NULL;
  g_autoptr(GSocket) sa = NULL;
  g_autoptr(GSocket) sb = NULL;

  g_assert_cmpint (socketpair (AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds), ==, 0);
  sa = g_socket_new_from_fd (fds[0], &error);
  g_assert_no_error (error);
  sb = g_socket_new_from_fd (fds[1], &error);
  g_assert_no_error (error);
  *a = G_IO_STREAM (g_socket_connection_factory_create_connection (sa));
  *b = G_IO_STREAM (g_socket_connection_factory_create_connection (sb));
}

static gboolean
on_incoming (GSocketService *service, GSocketConnection *conn, GObject *source, gpointer data)
{
  *(GIOStream **) data = g_object_ref (G_IO_STREAM (conn));
  return TRUE;
}

static void
on_connected (GObject *source, GAsyncResult *result, gpointer data)
{
  g_autoptr(GError) error = NULL;

  *(GIOStream **) data = G_IO_STREAM (g_socket_client_connect_finish (G_SOCKET_CLIENT (source),
                                                                      result, &error));
  g_assert_no_error (error);
}

/* A real loopback TCP connection: @a is the client (station), @b the
 * accepted side (terminal). */
static void
tcp_streams (GIOStream **a,
             GIOStream **b)
{
  g_autoptr(GSocketService) service = g_socket_service_new ();
  g_autoptr(GSocketClient) client = g_socket_client_new ();
  g_autoptr(GInetAddress) lo = g_inet_address_new_loopback (G_SOCKET_FAMILY_IPV4);
  g_autoptr(GSocketAddress) addr = g_inet_socket_address_new (lo, 0);
  g_autoptr(GSocketAddress) bound = NULL;
  g_autoptr(GError) error = NULL;

  *a = *b = NULL;
  g_socket_listener_add_address (G_SOCKET_LISTENER (service), addr, G_SOCKET_TYPE_STREAM,
                                 G_SOCKET_PROTOCOL_TCP, NULL, &bound, &error);
  g_assert_no_error (error);
  g_signal_connect (service, "incoming", G_CALLBACK (on_incoming), b);
  g_socket_service_start (service);
  g_socket_client_connect_async (client, G_SOCKET_CONNECTABLE (bound), NULL, on_connected, a);
  while (*a == NULL || *b == NULL)
    g_main_context_iteration (NULL, TRUE);
  g_socket_service_stop (service);
  g_socket_listener_close (G_SOCKET_LISTENER (service));
}

static void
make_streams (gboolean tcp, GIOStream **a, GIOStream **b)
{
  if (tcp)
    tcp_streams (a, b);
  else
    socketpair_streams (a, b);
}

static void
shutdown_write (GIOStream *stream)
{
  GSocket *s = g_socket_connection_get_socket (G_SOCKET_CONNECTION (stream));

  g_socket_shutdown (s, FALSE, TRUE, NULL);
}

/* ------------------------------------------------------------------ */
/* The terminal under test: a real pp_link_serve on its own thread.    */

typedef struct {
  GIOStream  *stream;
  PpLink     *link;
  GThread    *thread;
  gint        calls;          /* handler calls, all commands */
  gint        identify_calls;
  gint        status_calls;
  guint       status_delay_ms;
  guint64     next_offset;    /* PROGRAM_BLOCK: the offset it expects */
  gboolean    out_of_order;
  GChecksum  *sha;
  gboolean    served;
  GError     *error;
} Terminal;

static GBytes *
term_handler (guint8   command,
              GBytes  *payload,
              guint8  *out_status,
              gpointer user_data)
{
  Terminal *t = user_data;
  g_autoptr(PpLinkTlvSet) set = NULL;
  g_autoptr(PpLinkTlvBuilder) b = pp_link_tlv_builder_new ();

  g_atomic_int_inc (&t->calls);
  set = pp_link_tlv_parse (payload, NULL);
  if (set == NULL)
    {
      *out_status = PP_STATUS_BAD_PAYLOAD;
      return NULL;
    }

  switch (command)
    {
    case PP_CMD_IDENTIFY:
      g_atomic_int_inc (&t->identify_calls);
      *out_status = PP_STATUS_OK;
      return identify_payload ();

    case PP_CMD_LOAD_KEY:
      *out_status = PP_STATUS_TAMPERED;
      pp_link_tlv_builder_add_string (b, PP_TAG_MESSAGE, "terminal tampered: keys refused");
      return pp_link_tlv_builder_end (g_steal_pointer (&b));

    case PP_CMD_STATUS:
      if (g_atomic_int_add (&t->status_calls, 1) == 0 && t->status_delay_ms > 0)
        g_usleep (t->status_delay_ms * 1000);
      *out_status = PP_STATUS_OK;
      pp_link_tlv_builder_add_string (b, PP_TAG_MESSAGE, "no keys");
      return pp_link_tlv_builder_end (g_steal_pointer (&b));

    case PP_CMD_PROGRAM_BLOCK:
      {
        guint64 offset = 0;
        const guint8 *data;
        gsize len = 0;

        data = pp_link_tlv_get (set, PP_TAG_DATA, &len);
        if (!pp_link_tlv_get_u64 (set, PP_TAG_OFFSET, &offset, NULL) || data == NULL)
          {
            *out_status = PP_STATUS_BAD_PAYLOAD;
            return NULL;
          }
        if (offset != t->next_offset)
          t->out_of_order = TRUE;
        g_checksum_update (t->sha, data, len);
        t->next_offset = offset + len;
        *out_status = PP_STATUS_OK;
        pp_link_tlv_builder_add_u64 (b, PP_TAG_OFFSET, t->next_offset);
        return pp_link_tlv_builder_end (g_steal_pointer (&b));
      }

    default:
      *out_status = PP_STATUS_UNKNOWN_COMMAND;
      return NULL;
    }
}

static gpointer
term_thread (gpointer data)
{
  Terminal *t = data;
  g_autoptr(GMainContext) ctx = g_main_context_new ();

  g_main_context_push_thread_default (ctx);
  t->served = pp_link_serve (t->link, term_handler, t, NULL, &t->error);
  g_io_stream_close (t->stream, NULL, NULL);
  g_main_context_pop_thread_default (ctx);
  return NULL;
}

static Terminal *
terminal_start (GIOStream *stream, guint max_payload, guint window, guint8 vmin, guint8 vmax)
{
  Terminal *t = g_new0 (Terminal, 1);

  t->stream = g_object_ref (stream);
  t->link = pp_link_new (stream, PP_LINK_ROLE_TERMINAL);
  t->sha = g_checksum_new (G_CHECKSUM_SHA256);
  pp_link_set_limits (t->link, max_payload, window);
  pp_link_set_versions (t->link, vmin, vmax);
  pp_link_set_timeouts (t->link, 150, 400, 4);   /* as the station's: see station_new */
  t->thread = g_thread_new ("terminal", term_thread, t);
  return t;
}

static void
terminal_join (Terminal *t)
{
  g_thread_join (t->thread);
  g_assert_no_error (t->error);
  g_assert_true (t->served);
  pp_link_unref (t->link);
  g_object_unref (t->stream);
  g_checksum_free (t->sha);
  g_free (t);
}

/* ------------------------------------------------------------------ */
/* A proxy between the two ends that misbehaves on chosen frames.      */

typedef struct {
  /* what to do: the Nth (1-based) REQUEST toward the terminal or RESPONSE
   * toward the station */
  guint    drop_request, drop_response, corrupt_request, dup_request, hold_request;
  guint    corrupt_response;
  guint    close_at_request;
  GBytes  *before_request;   /* bytes sent ahead of every REQUEST */
  GBytes  *before_first_request;
  GBytes  *before_hello;

  GIOStream *station_side, *terminal_side;
  GThread   *up, *down;
  GMutex     lock;
  guint      requests, responses, naks_up, naks_down;
  guint      outstanding, max_outstanding;
  GHashTable *open_seqs, *answered;
} Proxy;

static void
proxy_send (GOutputStream *out, GBytes *b)
{
  g_output_stream_write_all (out, g_bytes_get_data (b, NULL), g_bytes_get_size (b), NULL, NULL, NULL);
}

static gpointer
proxy_pump (Proxy *p, gboolean up)
{
  GIOStream *from = up ? p->station_side : p->terminal_side;
  GIOStream *to = up ? p->terminal_side : p->station_side;
  GInputStream *in = g_io_stream_get_input_stream (from);
  GOutputStream *out = g_io_stream_get_output_stream (to);
  g_autoptr(PpLinkDecoder) dec = pp_link_decoder_new (PP_LINK_MAX_PAYLOAD);
  g_autoptr(GBytes) held = NULL;
  guint8 buf[8192];
  gssize n;

  while ((n = g_input_stream_read (in, buf, sizeof buf, NULL, NULL)) > 0)
    {
      g_auto(PpLinkDecodeEvent) ev = { 0 };

      pp_link_decoder_push (dec, buf, n);
      while (pp_link_decoder_next (dec, &ev))
        {
          g_autoptr(GBytes) frame = NULL;
          gsize len;
          const guint8 *d;
          guint nth = 0;
          gboolean drop = FALSE, dup = FALSE, corrupt = FALSE, hold = FALSE;

          g_assert_cmpint (ev.kind, ==, PP_LINK_DECODE_FRAME);
          d = g_bytes_get_data (ev.frame.payload, &len);
          frame = pp_link_frame_encode (ev.frame.type, ev.frame.seq, ev.frame.command,
                                        ev.frame.status, d, len);

          g_mutex_lock (&p->lock);
          if (ev.frame.type == PP_LINK_FRAME_NAK)
            {
              if (up) p->naks_up++; else p->naks_down++;
            }
          if (up && ev.frame.type == PP_LINK_FRAME_REQUEST)
            {
              nth = ++p->requests;
              drop = nth == p->drop_request;
              corrupt = nth == p->corrupt_request;
              dup = nth == p->dup_request;
              hold = nth == p->hold_request;
              /* In flight: forwarded, not yet answered (a copy sent again
               * after its answer passed does not count twice). */
              if (!drop && !g_hash_table_contains (p->open_seqs, GUINT_TO_POINTER (ev.frame.seq))
                  && !g_hash_table_contains (p->answered, GUINT_TO_POINTER (ev.frame.seq)))
                {
                  g_hash_table_add (p->open_seqs, GUINT_TO_POINTER (ev.frame.seq));
                  p->outstanding++;
                  p->max_outstanding = MAX (p->max_outstanding, p->outstanding);
                }
            }
          if (!up && ev.frame.type == PP_LINK_FRAME_RESPONSE)
            {
              nth = ++p->responses;
              drop = nth == p->drop_response;
              corrupt = nth == p->corrupt_response;
              if (g_hash_table_remove (p->open_seqs, GUINT_TO_POINTER (ev.frame.seq)))
                p->outstanding--;
              if (!drop)
                g_hash_table_add (p->answered, GUINT_TO_POINTER (ev.frame.seq));
            }
          g_mutex_unlock (&p->lock);

          if (up && ev.frame.type == PP_LINK_FRAME_HELLO && p->before_hello != NULL)
            proxy_send (out, p->before_hello);
          if (up && ev.frame.type == PP_LINK_FRAME_REQUEST && p->before_request != NULL)
            proxy_send (out, p->before_request);
          if (up && nth == 1 && p->before_first_request != NULL)
            proxy_send (out, p->before_first_request);
          if (up && nth != 0 && nth == p->close_at_request)
            {
              /* The cable pulled right after the request went out. */
              g_io_stream_close (p->station_side, NULL, NULL);
              g_io_stream_close (p->terminal_side, NULL, NULL);
              return NULL;
            }
          if (corrupt)
            {
              guint8 *copy = g_memdup2 (g_bytes_get_data (frame, NULL), g_bytes_get_size (frame));

              copy[g_bytes_get_size (frame) - 1] ^= 0x40;
              g_bytes_unref (frame);
              frame = g_bytes_new_take (copy, g_bytes_get_size (ev.frame.payload) + PP_LINK_OVERHEAD);
            }
          if (hold)
            {
              held = g_steal_pointer (&frame);
              continue;
            }
          if (!drop)
            proxy_send (out, frame);
          if (dup)
            proxy_send (out, frame);
          if (held != NULL && !drop)
            {
              proxy_send (out, held);
              g_clear_pointer (&held, g_bytes_unref);
            }
          pp_link_decode_event_clear (&ev);
        }
    }
  shutdown_write (to);
  return NULL;
}

static gpointer proxy_up (gpointer p) { return proxy_pump (p, TRUE); }
static gpointer proxy_down (gpointer p) { return proxy_pump (p, FALSE); }

/* Station <-> proxy <-> terminal over two socketpairs. */
static Proxy *
proxy_new (GIOStream **station, GIOStream **terminal)
{
  Proxy *p = g_new0 (Proxy, 1);

  socketpair_streams (station, &p->station_side);
  socketpair_streams (&p->terminal_side, terminal);
  g_mutex_init (&p->lock);
  p->open_seqs = g_hash_table_new (NULL, NULL);
  p->answered = g_hash_table_new (NULL, NULL);
  return p;
}

static void
proxy_start (Proxy *p)
{
  p->up = g_thread_new ("proxy-up", proxy_up, p);
  p->down = g_thread_new ("proxy-down", proxy_down, p);
}

static void
proxy_join (Proxy *p)
{
  g_thread_join (p->up);
  g_thread_join (p->down);
  p->up = p->down = NULL;
}

static void
proxy_free (Proxy *p)
{
  if (p->up != NULL)
    proxy_join (p);
  g_object_unref (p->station_side);
  g_object_unref (p->terminal_side);
  g_clear_pointer (&p->before_request, g_bytes_unref);
  g_clear_pointer (&p->before_first_request, g_bytes_unref);
  g_clear_pointer (&p->before_hello, g_bytes_unref);
  g_hash_table_unref (p->open_seqs);
  g_hash_table_unref (p->answered);
  g_mutex_clear (&p->lock);
  g_free (p);
}

/* ------------------------------------------------------------------ */
/* The station side, driven synchronously for the tests.               */

typedef struct {
  gboolean  done;
  gboolean  ok;
  GBytes   *payload;
  guint8    status;
  GError   *error;
  gint64    at;
} Result;

static PpLink *station_link_for_cb;

static void
connect_done (GObject *source, GAsyncResult *res, gpointer data)
{
  Result *r = data;

  r->ok = pp_link_connect_finish (station_link_for_cb, res, &r->error);
  r->done = TRUE;
}

static void
request_done (GObject *source, GAsyncResult *res, gpointer data)
{
  Result *r = data;

  r->payload = pp_link_request_finish (station_link_for_cb, res, &r->status, &r->error);
  r->at = g_get_monotonic_time ();
  r->done = TRUE;
}

static void
result_clear (Result *r)
{
  g_clear_pointer (&r->payload, g_bytes_unref);
  g_clear_error (&r->error);
}

static gboolean
station_connect (PpLink *link, GError **error)
{
  Result r = { 0 };

  station_link_for_cb = link;
  pp_link_connect_async (link, NULL, connect_done, &r);
  while (!r.done)
    g_main_context_iteration (NULL, TRUE);
  if (r.error != NULL)
    g_propagate_error (error, r.error);
  return r.ok;
}

static GBytes *
station_request (PpLink *link, guint8 command, GBytes *payload, guint8 *status, GError **error)
{
  Result r = { 0 };

  station_link_for_cb = link;
  pp_link_request_async (link, command, payload, NULL, request_done, &r);
  while (!r.done)
    g_main_context_iteration (NULL, TRUE);
  if (status != NULL)
    *status = r.status;
  if (r.error != NULL)
    g_propagate_error (error, r.error);
  return r.payload;
}

static PpLink *
station_new (GIOStream *stream)
{
  PpLink *link = pp_link_new (stream, PP_LINK_ROLE_STATION);

  /* Short timers: the faults below cost a timeout each. */
  pp_link_set_timeouts (link, 150, 400, 4);
  return link;
}

static void
assert_identify (PpLink *link)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GBytes) resp = NULL;
  g_autoptr(GBytes) expected = identify_payload ();
  guint8 status = 0xFF;

  resp = station_request (link, PP_CMD_IDENTIFY, NULL, &status, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (status, ==, PP_STATUS_OK);
  g_assert_true (g_bytes_equal (resp, expected));
}

static void
station_close (PpLink *link, GIOStream *stream)
{
  pp_link_unref (link);
  g_io_stream_close (stream, NULL, NULL);
  g_object_unref (stream);
}

static void
test_roundtrip (gconstpointer data)
{
  gboolean tcp = GPOINTER_TO_INT (data);
  GIOStream *s = NULL, *ts = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(GBytes) resp = NULL;
  Terminal *t;
  PpLink *link;
  guint8 status = 0;

  make_streams (tcp, &s, &ts);
  t = terminal_start (ts, 4096, 4, 1, 1);
  link = station_new (s);

  g_assert_true (station_connect (link, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (pp_link_get_version (link), ==, 1);
  g_assert_cmpuint (pp_link_get_max_payload (link), ==, 4096);
  g_assert_cmpuint (pp_link_get_window (link), ==, 4);

  assert_identify (link);
  assert_identify (link);

  /* A refusal carries the terminal's status and its message. */
  resp = station_request (link, PP_CMD_LOAD_KEY, NULL, &status, &error);
  g_assert_null (resp);
  g_assert_error (error, PP_LINK_ERROR, PP_LINK_ERROR_REFUSED);
  g_assert_cmpstr (error->message, ==, "terminal tampered: keys refused");
  g_assert_cmpuint (status, ==, PP_STATUS_TAMPERED);
  g_clear_error (&error);

  resp = station_request (link, PP_CMD_SIGN_OFF, NULL, &status, &error);
  g_assert_error (error, PP_LINK_ERROR, PP_LINK_ERROR_REFUSED);
  g_assert_cmpuint (status, ==, PP_STATUS_UNKNOWN_COMMAND);
  g_clear_error (&error);

  /* Too large for what HELLO agreed: refused before it goes out. */
  {
    g_autofree guint8 *big = g_malloc0 (4097);
    g_autoptr(GBytes) payload = g_bytes_new_take (g_steal_pointer (&big), 4097);

    resp = station_request (link, PP_CMD_STATUS, payload, &status, &error);
    g_assert_error (error, PP_LINK_ERROR, PP_LINK_ERROR_PROTOCOL);
    g_clear_error (&error);
  }

  g_assert_cmpint (t->identify_calls, ==, 2);
  g_assert_cmpint (t->calls, ==, 4);
  station_close (link, s);
  terminal_join (t);
}

typedef void (*ProxySetup) (Proxy *p);

typedef struct {
  guint naks_up, naks_down, requests, responses, max_outstanding;
  gint  identify_calls;
} Counts;

/* One session through a proxy set up by @setup: connect, @identifies
 * IDENTIFY round trips that must all succeed; returns what was seen. */
static Counts
run_faulty (ProxySetup setup,
            guint      identifies)
{
  GIOStream *s = NULL, *ts = NULL;
  g_autoptr(GError) error = NULL;
  Proxy *p = proxy_new (&s, &ts);
  Terminal *t = terminal_start (ts, 4096, 4, 1, 1);
  PpLink *link = station_new (s);
  Counts c;

  g_object_unref (ts);
  setup (p);
  proxy_start (p);
  g_assert_true (station_connect (link, &error));
  g_assert_no_error (error);
  for (guint i = 0; i < identifies; i++)
    assert_identify (link);
  station_close (link, s);
  proxy_join (p);
  c.naks_up = p->naks_up;
  c.naks_down = p->naks_down;
  c.requests = p->requests;
  c.responses = p->responses;
  c.max_outstanding = p->max_outstanding;
  c.identify_calls = t->identify_calls;
  terminal_join (t);
  proxy_free (p);
  return c;
}

static void
setup_garbage (Proxy *p)
{
  static const guint8 noise[] = { 0x00, 0xFF, 0xA5, 0x5A, 0x03, 0x00, 0x12, 0x35, 0x10, 0x00,
                                  0x00, 0x00, 0xA5, 0xA5, 0x13, 0xE0, 0x7F, 0xA5 };

  p->before_hello = g_bytes_new_static (noise, sizeof noise);
  p->before_request = g_bytes_new_static (noise, sizeof noise);
}

static void
test_garbage (void)
{
  Counts c = run_faulty (setup_garbage, 3);

  g_assert_cmpint (c.identify_calls, ==, 3);
  g_assert_cmpuint (c.requests, ==, 3);
}

static void
setup_corrupt (Proxy *p)
{
  p->corrupt_request = 1;
}

static void
test_bad_crc (void)
{
  Counts c = run_faulty (setup_corrupt, 2);

  /* The terminal NAKed the damaged copy, the station sent it again. */
  g_assert_cmpuint (c.naks_down, >=, 1);
  g_assert_cmpuint (c.requests, ==, 3);
  g_assert_cmpint (c.identify_calls, ==, 2);
}

static void
setup_corrupt_response (Proxy *p)
{
  p->corrupt_response = 1;
}

static void
test_bad_crc_response (void)
{
  Counts c = run_faulty (setup_corrupt_response, 2);

  /* The station NAKed the damaged answer and got it again, from the
   * terminal's cache: the handler ran once per request. */
  g_assert_cmpuint (c.naks_up, >=, 1);
  g_assert_cmpint (c.identify_calls, ==, 2);
}

static void
setup_drop_request (Proxy *p)
{
  p->drop_request = 1;
}

static void
test_drop_request (void)
{
  Counts c = run_faulty (setup_drop_request, 2);

  g_assert_cmpuint (c.requests, ==, 3);
  g_assert_cmpint (c.identify_calls, ==, 2);
}

static void
setup_drop_response (Proxy *p)
{
  p->drop_response = 1;
}

static void
test_drop_response (void)
{
  Counts c = run_faulty (setup_drop_response, 2);

  /* The request went twice; the handler ran once, the cached answer went
   * again (a LOAD_KEY must never run twice). */
  g_assert_cmpuint (c.requests, ==, 3);
  g_assert_cmpuint (c.responses, ==, 3);
  g_assert_cmpint (c.identify_calls, ==, 2);
}

static void
setup_dup_request (Proxy *p)
{
  p->dup_request = 1;
}

static void
test_dup_request (void)
{
  Counts c = run_faulty (setup_dup_request, 2);

  g_assert_cmpint (c.identify_calls, ==, 2);
  g_assert_cmpuint (c.responses, ==, 3);   /* the duplicate answered from the cache */
}

static void
setup_oversized (Proxy *p)
{
  GByteArray *junk = g_byte_array_new ();
  g_autoptr(GBytes) over = raw_frame (3, 0, 77, 0x10, 60000, NULL, 0, TRUE);
  g_autoptr(GBytes) trunc = raw_frame (3, 0, 78, 0x10, 4000, (const guint8 *) "cut", 3, TRUE);

  /* An oversized header before every request; before the first, also a
   * frame cut off after 3 of the 4000 bytes it claims (a sender that
   * restarted mid-frame). */
  p->before_request = g_bytes_ref (over);
  g_byte_array_append (junk, g_bytes_get_data (trunc, NULL), 14 + 3);
  p->before_first_request = g_byte_array_free_to_bytes (junk);
}

static void
test_oversized (void)
{
  /* Each request follows an oversized header and a truncated frame: the
   * terminal refuses both without harm and answers every request. */
  Counts c = run_faulty (setup_oversized, 3);

  g_assert_cmpint (c.identify_calls, ==, 3);
}

/* A fake terminal that answers HELLO and then hangs up on the request. */
static gpointer
hangup_thread (gpointer data)
{
  GIOStream *ts = data;
  g_autoptr(PpLinkDecoder) dec = pp_link_decoder_new (4096);
  GInputStream *in = g_io_stream_get_input_stream (ts);
  GOutputStream *out = g_io_stream_get_output_stream (ts);
  guint8 buf[4096];
  gssize n;

  while ((n = g_input_stream_read (in, buf, sizeof buf, NULL, NULL)) > 0)
    {
      g_auto(PpLinkDecodeEvent) ev = { 0 };

      pp_link_decoder_push (dec, buf, n);
      while (pp_link_decoder_next (dec, &ev))
        {
          if (ev.kind == PP_LINK_DECODE_FRAME && ev.frame.type == PP_LINK_FRAME_HELLO)
            {
              g_autoptr(PpLinkTlvBuilder) b = pp_link_tlv_builder_new ();
              g_autoptr(GBytes) pl = NULL;
              g_autoptr(GBytes) f = NULL;

              pp_link_tlv_builder_add_u8 (b, PP_LINK_HELLO_TAG_VERSION, 1);
              pp_link_tlv_builder_add_u16 (b, PP_LINK_HELLO_TAG_MAX_PAYLOAD, 4096);
              pp_link_tlv_builder_add_u8 (b, PP_LINK_HELLO_TAG_WINDOW, 1);
              pl = pp_link_tlv_builder_end (g_steal_pointer (&b));
              f = pp_link_frame_encode (PP_LINK_FRAME_HELLO_REPLY, ev.frame.seq, 0, 0,
                                        g_bytes_get_data (pl, NULL), g_bytes_get_size (pl));
              proxy_send (out, f);
            }
          else if (ev.kind == PP_LINK_DECODE_FRAME && ev.frame.type == PP_LINK_FRAME_REQUEST)
            {
              g_io_stream_close (ts, NULL, NULL);
              return NULL;
            }
          pp_link_decode_event_clear (&ev);
        }
    }
  return NULL;
}

static void
test_closed (gconstpointer data)
{
  gboolean tcp = GPOINTER_TO_INT (data);
  GIOStream *s = NULL, *ts = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(GBytes) resp = NULL;
  GThread *th;
  PpLink *link;

  make_streams (tcp, &s, &ts);
  th = g_thread_new ("hangup", hangup_thread, ts);
  link = station_new (s);
  g_assert_true (station_connect (link, &error));
  resp = station_request (link, PP_CMD_IDENTIFY, NULL, NULL, &error);
  g_assert_null (resp);
  g_assert_error (error, PP_LINK_ERROR, PP_LINK_ERROR_CLOSED);
  g_clear_error (&error);

  /* The session is over: the next request says so at once. */
  resp = station_request (link, PP_CMD_IDENTIFY, NULL, NULL, &error);
  g_assert_error (error, PP_LINK_ERROR, PP_LINK_ERROR_CLOSED);

  g_thread_join (th);
  g_object_unref (ts);
  station_close (link, s);
}

static void
test_version (void)
{
  GIOStream *s = NULL, *ts = NULL;
  g_autoptr(GError) error = NULL;
  Terminal *t;
  PpLink *link;

  socketpair_streams (&s, &ts);
  t = terminal_start (ts, 4096, 4, 2, 3);
  link = station_new (s);
  g_assert_false (station_connect (link, &error));
  g_assert_error (error, PP_LINK_ERROR, PP_LINK_ERROR_VERSION);
  g_assert_nonnull (strstr (error->message, "2 to 3"));
  g_object_unref (ts);
  station_close (link, s);
  terminal_join (t);
}

/* A peer that reads and never answers (a cable to nothing), or one that
 * answers with noise (the wrong baud rate). */
typedef struct {
  GIOStream *stream;
  gboolean   noise;
} Silent;

static gpointer
silent_thread (gpointer data)
{
  Silent *sl = data;
  GInputStream *in = g_io_stream_get_input_stream (sl->stream);
  GOutputStream *out = g_io_stream_get_output_stream (sl->stream);
  guint8 buf[4096];
  gssize n;

  while ((n = g_input_stream_read (in, buf, sizeof buf, NULL, NULL)) > 0)
    if (sl->noise)
      {
        /* What 115200 baud bytes look like read at 9600: mostly 0x00/0xFF
         * and framing junk, with the odd 0xA5. */
        for (gssize i = 0; i < n; i++)
          buf[i] = (buf[i] * 7) ^ 0x3C;
        g_output_stream_write_all (out, buf, n, NULL, NULL, NULL);
      }
  return NULL;
}

static void
test_no_answer (gconstpointer data)
{
  gboolean noise = GPOINTER_TO_INT (data);
  GIOStream *s = NULL;
  Silent sl = { NULL, noise };
  g_autoptr(GError) error = NULL;
  GThread *th;
  PpLink *link;
  gint64 start = g_get_monotonic_time ();

  socketpair_streams (&s, &sl.stream);
  th = g_thread_new ("silent", silent_thread, &sl);
  link = pp_link_new (s, PP_LINK_ROLE_STATION);
  pp_link_set_timeouts (link, 50, 100, 2);
  g_assert_false (station_connect (link, &error));
  if (noise)
    {
      g_assert_error (error, PP_LINK_ERROR, PP_LINK_ERROR_GARBAGE);
      g_assert_nonnull (strstr (error->message, "baud rate"));
    }
  else
    {
      g_assert_error (error, PP_LINK_ERROR, PP_LINK_ERROR_TIMEOUT);
      g_assert_nonnull (strstr (error->message, "cable"));
      g_assert_nonnull (strstr (error->message, "3 tries"));
    }
  /* 3 tries of 50 ms, not the default seconds. */
  g_assert_cmpint (g_get_monotonic_time () - start, <, 2 * G_USEC_PER_SEC);
  station_close (link, s);
  g_thread_join (th);
  g_object_unref (sl.stream);
}

/* Bulk: 1 MiB in PROGRAM_BLOCKs, all queued at once; the link keeps a
 * window of them in flight and the terminal sees them in order. */
typedef struct {
  guint     done, failed;
  guint64   last_offset;
  gboolean  ordered;
} Bulk;

static void
block_done (GObject *source, GAsyncResult *res, gpointer data)
{
  Bulk *b = data;
  g_autoptr(GError) error = NULL;
  g_autoptr(GBytes) resp = pp_link_request_finish (station_link_for_cb, res, NULL, &error);
  g_autoptr(PpLinkTlvSet) set = NULL;
  guint64 off = 0;

  b->done++;
  if (resp == NULL)
    {
      g_printerr ("block failed: %s\n", error->message);
      b->failed++;
      return;
    }
  set = pp_link_tlv_parse (resp, NULL);
  g_assert_true (pp_link_tlv_get_u64 (set, PP_TAG_OFFSET, &off, NULL));
  if (off <= b->last_offset)
    b->ordered = FALSE;
  b->last_offset = off;
}

static void
run_bulk (PpLink *link, Terminal *t, gsize total)
{
  g_autoptr(GChecksum) sha = g_checksum_new (G_CHECKSUM_SHA256);
  guint8 *image = g_malloc (total);
  gsize block = pp_link_get_max_payload (link) - 2 * PP_TLV_HEADER_SIZE - 8;
  guint n = 0;
  Bulk b = { 0, 0, 0, TRUE };

  for (gsize i = 0; i < total; i++)
    image[i] = (i * 31 + (i >> 9)) & 0xFF;
  g_checksum_update (sha, image, total);

  station_link_for_cb = link;
  for (gsize off = 0; off < total; off += block, n++)
    {
      g_autoptr(PpLinkTlvBuilder) tb = pp_link_tlv_builder_new ();
      g_autoptr(GBytes) payload = NULL;

      pp_link_tlv_builder_add_u64 (tb, PP_TAG_OFFSET, off);
      pp_link_tlv_builder_add (tb, PP_TAG_DATA, image + off, MIN (block, total - off));
      payload = pp_link_tlv_builder_end (g_steal_pointer (&tb));
      pp_link_request_async (link, PP_CMD_PROGRAM_BLOCK, payload, NULL, block_done, &b);
    }
  while (b.done < n)
    g_main_context_iteration (NULL, TRUE);

  g_assert_cmpuint (b.failed, ==, 0);
  g_assert_true (b.ordered);
  g_assert_cmpuint (b.last_offset, ==, total);
  g_assert_false (t->out_of_order);
  g_assert_cmpuint (t->next_offset, ==, total);
  g_assert_cmpstr (g_checksum_get_string (t->sha), ==, g_checksum_get_string (sha));
  g_free (image);
}

static void
test_bulk_tcp (void)
{
  GIOStream *s = NULL, *ts = NULL;
  g_autoptr(GError) error = NULL;
  Terminal *t;
  PpLink *link;

  tcp_streams (&s, &ts);
  t = terminal_start (ts, 16384, 8, 1, 1);
  link = station_new (s);
  pp_link_set_limits (link, 65535, 16);
  g_assert_true (station_connect (link, &error));
  g_assert_cmpuint (pp_link_get_max_payload (link), ==, 16384);
  g_assert_cmpuint (pp_link_get_window (link), ==, 8);
  run_bulk (link, t, 1024 * 1024);
  g_object_unref (ts);
  station_close (link, s);
  terminal_join (t);
}

static void
setup_reorder (Proxy *p)
{
  p->hold_request = 5;     /* sent after request 6: a gap, then a late one */
  p->drop_request = 11;
  p->drop_response = 20;
  p->corrupt_request = 30;
}

/* The same 1 MiB through a proxy that reorders, drops and damages blocks:
 * they still arrive in order, each once, and the window was used. */
static void
test_bulk_faults (void)
{
  GIOStream *s = NULL, *ts = NULL;
  g_autoptr(GError) error = NULL;
  Proxy *p = proxy_new (&s, &ts);
  Terminal *t = terminal_start (ts, 16384, 8, 1, 1);
  PpLink *link = station_new (s);

  g_object_unref (ts);
  setup_reorder (p);
  proxy_start (p);
  g_assert_true (station_connect (link, &error));
  run_bulk (link, t, 1024 * 1024);
  station_close (link, s);
  proxy_join (p);
  g_assert_cmpuint (p->max_outstanding, >, 1);
  g_assert_cmpuint (p->max_outstanding, <=, 8);
  g_assert_cmpuint (p->naks_down, >=, 1);
  terminal_join (t);
  proxy_free (p);
}

static gboolean
cancel_later (gpointer data)
{
  g_cancellable_cancel (data);
  return G_SOURCE_REMOVE;
}

static void
test_cancel (void)
{
  GIOStream *s = NULL, *ts = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(GCancellable) c1 = g_cancellable_new ();
  g_autoptr(GCancellable) c2 = g_cancellable_new ();
  Result r1 = { 0 }, r2 = { 0 }, r3 = { 0 };
  Terminal *t;
  PpLink *link;
  gint64 start;

  socketpair_streams (&s, &ts);
  t = terminal_start (ts, 4096, 1, 1, 1);   /* window 1: the second waits its turn */
  t->status_delay_ms = 600;
  link = station_new (s);
  pp_link_set_timeouts (link, 150, 2000, 4);
  g_assert_true (station_connect (link, &error));

  station_link_for_cb = link;
  start = g_get_monotonic_time ();
  pp_link_request_async (link, PP_CMD_STATUS, NULL, c1, request_done, &r1);   /* in flight */
  pp_link_request_async (link, PP_CMD_STATUS, NULL, c2, request_done, &r2);   /* queued */
  pp_link_request_async (link, PP_CMD_IDENTIFY, NULL, NULL, request_done, &r3);
  g_timeout_add (50, cancel_later, c2);
  g_timeout_add (100, cancel_later, c1);
  while (!r1.done || !r2.done || !r3.done)
    g_main_context_iteration (NULL, TRUE);

  g_assert_error (r2.error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  g_assert_error (r1.error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  /* Returned on cancel, not when the slow answer came. */
  g_assert_cmpint (r1.at - start, <, 400 * 1000);
  /* The cancelled request still ran on the terminal (it had it), its late
   * answer was dropped, and the one after it got its own answer. */
  g_assert_no_error (r3.error);
  {
    g_autoptr(GBytes) expected = identify_payload ();
    g_assert_true (g_bytes_equal (r3.payload, expected));
  }
  g_assert_cmpint (t->status_calls, ==, 1);   /* the queued one never went out */
  result_clear (&r1);
  result_clear (&r2);
  result_clear (&r3);

  assert_identify (link);
  g_object_unref (ts);
  station_close (link, s);
  terminal_join (t);
}

int
main (int argc, char *argv[])
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/link/frame/crc", test_crc);
  g_test_add_func ("/link/frame/doc-examples", test_doc_frames);
  g_test_add_func ("/link/frame/doc-file", test_doc_file);
  g_test_add_func ("/link/frame/garbage", test_decoder_garbage);
  g_test_add_func ("/link/frame/bad-frames", test_decoder_bad_frames);
  g_test_add_func ("/link/tlv", test_tlv);
  g_test_add_data_func ("/link/session/roundtrip/tcp", GINT_TO_POINTER (TRUE), test_roundtrip);
  g_test_add_data_func ("/link/session/roundtrip/socketpair", GINT_TO_POINTER (FALSE), test_roundtrip);
  g_test_add_func ("/link/session/garbage", test_garbage);
  g_test_add_func ("/link/session/bad-crc", test_bad_crc);
  g_test_add_func ("/link/session/bad-crc-response", test_bad_crc_response);
  g_test_add_func ("/link/session/drop-request", test_drop_request);
  g_test_add_func ("/link/session/drop-response", test_drop_response);
  g_test_add_func ("/link/session/duplicate-request", test_dup_request);
  g_test_add_func ("/link/session/oversized-truncated", test_oversized);
  g_test_add_data_func ("/link/session/closed/tcp", GINT_TO_POINTER (TRUE), test_closed);
  g_test_add_data_func ("/link/session/closed/socketpair", GINT_TO_POINTER (FALSE), test_closed);
  g_test_add_func ("/link/session/version", test_version);
  g_test_add_data_func ("/link/session/no-answer", GINT_TO_POINTER (FALSE), test_no_answer);
  g_test_add_data_func ("/link/session/wrong-baud", GINT_TO_POINTER (TRUE), test_no_answer);
  g_test_add_func ("/link/session/bulk-1mib-tcp", test_bulk_tcp);
  g_test_add_func ("/link/session/bulk-1mib-faults", test_bulk_faults);
  g_test_add_func ("/link/session/cancel", test_cancel);

  return g_test_run ();
}
