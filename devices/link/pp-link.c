/* SPDX-License-Identifier: GPL-3.0-or-later
 *
 * pp-link.c: the link session of docs/link-protocol.md.
 *
 * Station: requests wait in a queue; at most `window` of them are in flight
 * (sent, not yet answered). Each in-flight request waits ack_ms for its ACK,
 * then response_ms for its response; an expiry or a NAK sends it again with
 * the unacknowledged ones after it (go-back-N). Everything runs on the
 * thread-default main context of the connect call; the read loop and the
 * timer run only while something is pending, so a link nobody uses holds
 * no reference to itself.
 *
 * Terminal: a blocking loop. A request with the next sequence number is
 * ACKed, handed to the handler and answered; its response is kept, so a
 * retransmitted request whose response was lost is answered again without
 * calling the handler twice (a LOAD_KEY must never run twice).
 */
#include "config.h"

#include <string.h>

#include <glib/gi18n-lib.h>

#include "pp-link.h"
#include "pp-link-frame.h"
#include "pp-link-tlv.h"

G_DEFINE_QUARK (pp-link-error-quark, pp_link_error)

#define MAX_WINDOW       32
#define CACHE_SIZE       (2 * MAX_WINDOW)
#define READ_BUFFER_SIZE (PP_LINK_MAX_PAYLOAD + PP_LINK_OVERHEAD)

typedef struct {
  PpLink   *link;
  GTask    *task;        /* NULL once the caller cancelled (an orphan) */
  GSource  *cancel_source;
  guint8    command;
  GBytes   *payload;
  guint16   seq;
  GBytes   *frame;       /* encoded once a sequence number is assigned */
  gboolean  acked;
  gint64    deadline;    /* monotonic µs; 0 while not yet written out */
  guint64   gen;         /* write generation that carries the latest copy */
  guint     retries;
} Pending;

typedef struct {
  gboolean  used;
  guint16   seq;
  GBytes   *frame;
} CachedResponse;

struct _PpLink {
  gatomicrefcount  ref;
  PpLinkRole       role;
  GIOStream       *stream;
  GInputStream    *in;
  GOutputStream   *out;
  PpLinkDecoder   *decoder;

  guint            ack_ms, response_ms, max_retries;
  guint            baud, bits_per_byte;
  guint            offer_payload, offer_window;
  guint8           vmin, vmax;

  guint8           version;
  guint            max_payload;
  guint            window;

  /* station */
  GMainContext    *context;
  gboolean         connected;
  GError          *dead;
  guint16          next_seq;
  GTask           *connect_task;
  GSource         *connect_cancel;
  guint16          hello_seq;
  GBytes          *hello_frame;
  guint            hello_retries;
  gint64           hello_deadline;
  guint64          hello_gen;
  GQueue           queued;
  GQueue           inflight;
  GQueue           outq;
  guint64          queue_gen;
  gboolean         writing;
  gboolean         reading;
  GCancellable    *read_cancel;
  guint8          *readbuf;
  GSource         *timer;
  gint64           partial_deadline;  /* give up a partial frame then */
  gsize            garbage;     /* bytes that were no frames since the last good one */
  guint            bad_frames;
  gint64           wire_free;   /* monotonic µs when the line has carried all written */
  guint64          bytes_out;   /* written out and read in, for the benches */
  guint64          bytes_in;

  /* terminal */
  gboolean         session;
  guint16          expected;
  gboolean         nak_sent;    /* a NAK for the current gap went out */
  CachedResponse   cache[CACHE_SIZE];
};

typedef struct {
  PpLink *link;
  guint8  status;
  GBytes *refusal;   /* the payload of a refusal (MESSAGE, REASON, ...) */
} TaskData;

static void
task_data_free (gpointer data)
{
  TaskData *td = data;

  pp_link_unref (td->link);
  g_clear_pointer (&td->refusal, g_bytes_unref);
  g_free (td);
}

static GTask *
new_task (PpLink             *link,
          GCancellable       *cancellable,
          GAsyncReadyCallback callback,
          gpointer            user_data,
          gpointer            tag)
{
  GTask *task = g_task_new (NULL, cancellable, callback, user_data);
  TaskData *td = g_new0 (TaskData, 1);

  td->link = pp_link_ref (link);
  g_task_set_task_data (task, td, task_data_free);
  g_task_set_source_tag (task, tag);
  /* Cancellation is handled here (an in-flight request stays on the wire
   * as an orphan), not by GTask. */
  g_task_set_check_cancellable (task, FALSE);
  return task;
}

PpLink *
pp_link_new (GIOStream  *stream,
             PpLinkRole  role)
{
  PpLink *link;

  g_return_val_if_fail (G_IS_IO_STREAM (stream), NULL);

  link = g_new0 (PpLink, 1);
  g_atomic_ref_count_init (&link->ref);
  link->role = role;
  link->stream = g_object_ref (stream);
  link->in = g_io_stream_get_input_stream (stream);
  link->out = g_io_stream_get_output_stream (stream);
  link->ack_ms = 1000;
  link->response_ms = 30000;
  link->max_retries = 3;
  link->offer_payload = 16384;
  link->offer_window = 8;
  link->vmin = link->vmax = PP_LINK_PROTOCOL_VERSION;
  link->decoder = pp_link_decoder_new (link->offer_payload);
  link->readbuf = g_malloc (READ_BUFFER_SIZE);
  link->read_cancel = g_cancellable_new ();
  g_queue_init (&link->queued);
  g_queue_init (&link->inflight);
  g_queue_init (&link->outq);
  return link;
}

PpLink *
pp_link_ref (PpLink *link)
{
  g_return_val_if_fail (link != NULL, NULL);
  g_atomic_ref_count_inc (&link->ref);
  return link;
}

static void pending_free (Pending *p);

void
pp_link_unref (PpLink *link)
{
  g_return_if_fail (link != NULL);

  if (!g_atomic_ref_count_dec (&link->ref))
    return;

  /* Pending requests and the read loop hold references: nothing is left. */
  g_queue_clear_full (&link->outq, (GDestroyNotify) g_bytes_unref);
  if (link->timer != NULL)
    {
      g_source_destroy (link->timer);
      g_source_unref (link->timer);
    }
  for (guint i = 0; i < CACHE_SIZE; i++)
    g_clear_pointer (&link->cache[i].frame, g_bytes_unref);
  g_clear_pointer (&link->hello_frame, g_bytes_unref);
  g_clear_error (&link->dead);
  g_clear_object (&link->read_cancel);
  g_clear_pointer (&link->context, g_main_context_unref);
  pp_link_decoder_free (link->decoder);
  g_free (link->readbuf);
  g_object_unref (link->stream);
  g_free (link);
}

void
pp_link_set_timeouts (PpLink *link,
                      guint   ack_ms,
                      guint   response_ms,
                      guint   max_retries)
{
  g_return_if_fail (link != NULL);
  link->ack_ms = MAX (ack_ms, 1);
  link->response_ms = MAX (response_ms, 1);
  link->max_retries = max_retries;
}

void
pp_link_set_line_speed (PpLink *link,
                        guint   baud,
                        guint   bits_per_byte)
{
  g_return_if_fail (link != NULL);
  link->baud = baud;
  link->bits_per_byte = MAX (bits_per_byte, 1);
}

void
pp_link_set_limits (PpLink *link,
                    guint   max_payload,
                    guint   window)
{
  g_return_if_fail (link != NULL);
  link->offer_payload = CLAMP (max_payload, PP_LINK_MIN_PAYLOAD, PP_LINK_MAX_PAYLOAD);
  link->offer_window = CLAMP (window, 1, MAX_WINDOW);
  pp_link_decoder_set_max_payload (link->decoder, link->offer_payload);
}

void
pp_link_set_versions (PpLink *link,
                      guint8  min_version,
                      guint8  max_version)
{
  g_return_if_fail (link != NULL);
  g_return_if_fail (min_version >= 1 && min_version <= max_version);
  link->vmin = min_version;
  link->vmax = max_version;
}

guint8
pp_link_get_version (PpLink *link)
{
  g_return_val_if_fail (link != NULL, 0);
  return link->version;
}

guint
pp_link_get_max_payload (PpLink *link)
{
  g_return_val_if_fail (link != NULL, 0);
  return link->max_payload;
}

guint
pp_link_get_window (PpLink *link)
{
  g_return_val_if_fail (link != NULL, 0);
  return link->window;
}

void
pp_link_get_wire_bytes (PpLink  *link,
                        guint64 *out_sent,
                        guint64 *out_received)
{
  g_return_if_fail (link != NULL);
  if (out_sent != NULL)
    *out_sent = link->bytes_out;
  if (out_received != NULL)
    *out_received = link->bytes_in;
}

static GBytes *
hello_payload (PpLink *link)
{
  PpLinkTlvBuilder *b = pp_link_tlv_builder_new ();

  pp_link_tlv_builder_add_u8 (b, PP_LINK_HELLO_TAG_VERSION_MIN, link->vmin);
  pp_link_tlv_builder_add_u8 (b, PP_LINK_HELLO_TAG_VERSION_MAX, link->vmax);
  pp_link_tlv_builder_add_u16 (b, PP_LINK_HELLO_TAG_MAX_PAYLOAD, link->offer_payload);
  pp_link_tlv_builder_add_u8 (b, PP_LINK_HELLO_TAG_WINDOW, link->offer_window);
  return pp_link_tlv_builder_end (b);
}

static GBytes *
encode (PpLinkFrameType  type,
        guint16          seq,
        guint8           command,
        guint8           status,
        GBytes          *payload)
{
  gsize len = 0;
  const guint8 *data = payload != NULL ? g_bytes_get_data (payload, &len) : NULL;

  return pp_link_frame_encode (type, seq, command, status, data, len);
}

/* ------------------------------------------------------------------ */
/* Station                                                             */

static void start_read (PpLink *link);
static void start_write (PpLink *link);
static void reschedule (PpLink *link);
static void station_process (PpLink *link);

static void
pending_free (Pending *p)
{
  if (p->cancel_source != NULL)
    {
      g_source_destroy (p->cancel_source);
      g_source_unref (p->cancel_source);
    }
  g_clear_object (&p->task);
  g_clear_pointer (&p->payload, g_bytes_unref);
  g_clear_pointer (&p->frame, g_bytes_unref);
  g_free (p);
}

static gboolean
active (PpLink *link)
{
  return link->connect_task != NULL || link->inflight.length > 0;
}

/* Stops the read loop and the timer when nothing waits for the peer. */
static void
maybe_idle (PpLink *link)
{
  if (active (link))
    return;
  if (link->reading)
    g_cancellable_cancel (link->read_cancel);
  if (link->timer != NULL)
    {
      g_source_destroy (link->timer);
      g_clear_pointer (&link->timer, g_source_unref);
    }
}

static void
send_frame (PpLink  *link,
            GBytes  *frame,
            guint64 *out_gen)
{
  g_queue_push_tail (&link->outq, g_bytes_ref (frame));
  *out_gen = ++link->queue_gen;
  start_write (link);
}

static void
send_control (PpLink          *link,
              PpLinkFrameType  type,
              guint16          seq)
{
  g_autoptr(GBytes) frame = pp_link_frame_encode (type, seq, 0, 0, NULL, 0);
  guint64 gen;

  send_frame (link, frame, &gen);
}

static void
connect_finish_with (PpLink *link,
                     GError *error)
{
  GTask *task = g_steal_pointer (&link->connect_task);

  if (link->connect_cancel != NULL)
    {
      g_source_destroy (link->connect_cancel);
      g_clear_pointer (&link->connect_cancel, g_source_unref);
    }
  g_clear_pointer (&link->hello_frame, g_bytes_unref);
  if (task == NULL)
    {
      g_clear_error (&error);
      return;
    }
  if (error != NULL)
    g_task_return_error (task, error);
  else
    g_task_return_boolean (task, TRUE);
  g_object_unref (task);
}

/* The session is over: every waiting call gets @error; a new connect
 * (HELLO) is needed before the next request. Takes @error. */
static void
fail_all (PpLink *link,
          GError *error)
{
  GQueue victims = G_QUEUE_INIT;
  Pending *p;

  link->connected = FALSE;
  g_clear_error (&link->dead);
  link->dead = g_error_copy (error);

  while ((p = g_queue_pop_head (&link->inflight)) != NULL)
    g_queue_push_tail (&victims, p);
  while ((p = g_queue_pop_head (&link->queued)) != NULL)
    g_queue_push_tail (&victims, p);

  if (link->connect_task != NULL)
    connect_finish_with (link, g_error_copy (error));

  while ((p = g_queue_pop_head (&victims)) != NULL)
    {
      if (p->task != NULL)
        g_task_return_error (p->task, g_error_copy (error));
      pending_free (p);
    }
  g_error_free (error);
  maybe_idle (link);
}

static GError *
no_answer_error (PpLink *link)
{
  if (link->garbage > 0 || link->bad_frames > 0)
    return g_error_new (PP_LINK_ERROR, PP_LINK_ERROR_GARBAGE,
                        _("The terminal sends bytes that are not posprov link frames "
                          "(%lu bytes, %u damaged frames): wrong baud rate "
                          "for this model, or not a posprov-protocol terminal"),
                        (gulong) link->garbage, link->bad_frames);
  return g_error_new (PP_LINK_ERROR, PP_LINK_ERROR_TIMEOUT,
                      _("No answer from the terminal after %u tries: check the cable, "
                        "the port and the baud rate for this model"),
                      link->max_retries + 1);
}

static void
pump (PpLink *link)
{
  Pending *p;

  while (link->connected && link->inflight.length < link->window
         && (p = g_queue_pop_head (&link->queued)) != NULL)
    {
      p->seq = link->next_seq++;
      p->frame = encode (PP_LINK_FRAME_REQUEST, p->seq, p->command, 0, p->payload);
      g_clear_pointer (&p->payload, g_bytes_unref);
      p->deadline = 0;
      g_queue_push_tail (&link->inflight, p);
      send_frame (link, p->frame, &p->gen);
    }
  if (active (link))
    start_read (link);
}

/* Sends @from and the requests after it that were not acknowledged again. */
static void
retransmit_from (PpLink *link,
                 GList  *from)
{
  for (GList *l = from; l != NULL; l = l->next)
    {
      Pending *p = l->data;

      if (l != from && p->acked)
        continue;
      p->deadline = 0;
      send_frame (link, p->frame, &p->gen);
    }
}

static gboolean
timer_cb (gpointer data)
{
  PpLink *link = pp_link_ref (data);
  gint64 now = g_get_monotonic_time ();

  g_clear_pointer (&link->timer, g_source_unref);

  if (link->partial_deadline != 0 && link->partial_deadline <= now)
    {
      link->garbage += pp_link_decoder_drop_partial (link->decoder);
      station_process (link);
    }

  if (link->connect_task != NULL && link->hello_deadline != 0 && link->hello_deadline <= now)
    {
      if (++link->hello_retries > link->max_retries)
        {
          connect_finish_with (link, no_answer_error (link));
          maybe_idle (link);
        }
      else
        {
          link->hello_deadline = 0;
          send_frame (link, link->hello_frame, &link->hello_gen);
        }
    }

  for (GList *l = link->inflight.head; l != NULL; l = l->next)
    {
      Pending *p = l->data;

      if (p->deadline == 0 || p->deadline > now)
        continue;
      if (++p->retries > link->max_retries)
        {
          fail_all (link, no_answer_error (link));
          break;
        }
      retransmit_from (link, l);
      break;
    }

  reschedule (link);
  pp_link_unref (link);
  return G_SOURCE_REMOVE;
}

static void
reschedule (PpLink *link)
{
  gint64 next = G_MAXINT64, now;

  if (link->timer != NULL)
    {
      g_source_destroy (link->timer);
      g_clear_pointer (&link->timer, g_source_unref);
    }
  if (link->connect_task != NULL && link->hello_deadline != 0)
    next = link->hello_deadline;
  if (link->partial_deadline != 0)
    next = MIN (next, link->partial_deadline);
  for (GList *l = link->inflight.head; l != NULL; l = l->next)
    {
      Pending *p = l->data;

      if (p->deadline != 0)
        next = MIN (next, p->deadline);
    }
  if (next == G_MAXINT64)
    return;

  now = g_get_monotonic_time ();
  link->timer = g_timeout_source_new (next > now ? (guint) ((next - now + 999) / 1000) : 0);
  g_source_set_callback (link->timer, timer_cb, link, NULL);
  g_source_attach (link->timer, link->context);
}

typedef struct {
  PpLink *link;
  GBytes *bytes;
  guint64 upto;
  gint64  on_wire;   /* monotonic µs when the line has carried these bytes; 0: no pacing */
} WriteOp;

/* When a write of @len bytes issued now has crossed the line: after what is
 * still on it, at the line's speed (section 2.4); 0 without a line speed. */
static gint64
line_done (PpLink *link,
           gsize   len)
{
  gint64 now = g_get_monotonic_time ();

  if (link->baud == 0)
    return 0;
  link->wire_free = MAX (now, link->wire_free)
                    + (gint64) ((guint64) len * link->bits_per_byte * G_USEC_PER_SEC / link->baud);
  return link->wire_free;
}

/* The deadline @ms after @now plus the time the line still needs for the
 * bytes of @op, capped. */
static gint64
deadline_after (const WriteOp *op,
                gint64         now,
                guint          ms)
{
  gint64 pacing = op->on_wire > now ? op->on_wire - now : 0;

  return now + MIN (pacing, (gint64) PP_LINK_MAX_PACING_MS * 1000) + (gint64) ms * 1000;
}

static void
write_cb (GObject      *source,
          GAsyncResult *result,
          gpointer      data)
{
  WriteOp *op = data;
  PpLink *link = op->link;
  g_autoptr(GError) error = NULL;
  gint64 now = g_get_monotonic_time ();

  link->writing = FALSE;
  if (!g_output_stream_write_all_finish (G_OUTPUT_STREAM (source), result, NULL, &error))
    {
      g_queue_clear_full (&link->outq, (GDestroyNotify) g_bytes_unref);
      if (active (link))
        fail_all (link, g_error_new (PP_LINK_ERROR, PP_LINK_ERROR_CLOSED,
                                     _("The link to the terminal broke (%s): check the cable "
                                       "and that the terminal is on"),
                                     error->message));
    }
  else
    {
      link->bytes_out += g_bytes_get_size (op->bytes);
      /* The timers start once a frame is out, not while it waits its turn. */
      if (link->connect_task != NULL && link->hello_deadline == 0 && link->hello_gen <= op->upto)
        link->hello_deadline = deadline_after (op, now, link->ack_ms);
      for (GList *l = link->inflight.head; l != NULL; l = l->next)
        {
          Pending *p = l->data;

          if (p->deadline == 0 && p->gen <= op->upto)
            p->deadline = deadline_after (op, now, p->acked ? link->response_ms : link->ack_ms);
        }
      if (active (link))
        reschedule (link);
      start_write (link);
    }

  g_bytes_unref (op->bytes);
  g_free (op);
  pp_link_unref (link);
}

static void
start_write (PpLink *link)
{
  WriteOp *op;
  GBytes *b;

  if (link->writing || link->outq.length == 0)
    return;

  op = g_new0 (WriteOp, 1);
  op->link = pp_link_ref (link);
  op->upto = link->queue_gen;
  if (link->outq.length == 1)
    op->bytes = g_queue_pop_head (&link->outq);
  else
    {
      GByteArray *all = g_byte_array_new ();

      while ((b = g_queue_pop_head (&link->outq)) != NULL)
        {
          gsize len;
          const guint8 *d = g_bytes_get_data (b, &len);

          g_byte_array_append (all, d, len);
          g_bytes_unref (b);
        }
      op->bytes = g_byte_array_free_to_bytes (all);
    }

  op->on_wire = line_done (link, g_bytes_get_size (op->bytes));
  link->writing = TRUE;
  g_output_stream_write_all_async (link->out,
                                   g_bytes_get_data (op->bytes, NULL),
                                   g_bytes_get_size (op->bytes),
                                   G_PRIORITY_DEFAULT, NULL, write_cb, op);
}

static void
complete_request (Pending *p,
                  guint8   status,
                  GBytes  *payload)
{
  GTask *task = g_steal_pointer (&p->task);
  TaskData *td;

  pending_free (p);
  if (task == NULL)
    return;   /* cancelled by the caller: the answer is dropped */

  td = g_task_get_task_data (task);
  td->status = status;
  if (status == PP_STATUS_OK)
    g_task_return_pointer (task, g_bytes_ref (payload), (GDestroyNotify) g_bytes_unref);
  else
    {
      g_autoptr(PpLinkTlvSet) set = pp_link_tlv_parse (payload, NULL);
      g_autofree char *message = set != NULL ? pp_link_tlv_dup_string (set, PP_TAG_MESSAGE, NULL) : NULL;
      static const char * const names[] = {
        "OK", "UNKNOWN_COMMAND", "BAD_PAYLOAD", "REFUSED", "TAMPERED", "NOT_BOUND", "NO_CERT", "BUSY",
      };

      td->refusal = g_bytes_ref (payload);
      if (message != NULL && *message != '\0')
        g_task_return_new_error (task, PP_LINK_ERROR, PP_LINK_ERROR_REFUSED, "%s", message);
      else
        g_task_return_new_error (task, PP_LINK_ERROR, PP_LINK_ERROR_REFUSED,
                                 _("The terminal refused the request (status %s)"),
                                 status < G_N_ELEMENTS (names) ? names[status] : "?");
    }
  g_object_unref (task);
}

static GList *
find_inflight (PpLink  *link,
               guint16  seq)
{
  for (GList *l = link->inflight.head; l != NULL; l = l->next)
    if (((Pending *) l->data)->seq == seq)
      return l;
  return NULL;
}

static void
station_hello_reply (PpLink      *link,
                     PpLinkFrame *frame)
{
  g_autoptr(PpLinkTlvSet) set = NULL;
  guint8 version = 0, window = 0, tmin = 0, tmax = 0;
  guint16 max_payload = 0;

  if (link->connect_task == NULL || frame->seq != link->hello_seq)
    return;   /* an answer to an older HELLO */

  set = pp_link_tlv_parse (frame->payload, NULL);
  if (frame->status == PP_LINK_HELLO_NO_VERSION && set != NULL
      && pp_link_tlv_get_u8 (set, PP_LINK_HELLO_TAG_VERSION_MIN, &tmin, NULL)
      && pp_link_tlv_get_u8 (set, PP_LINK_HELLO_TAG_VERSION_MAX, &tmax, NULL))
    {
      connect_finish_with (link, g_error_new (PP_LINK_ERROR, PP_LINK_ERROR_VERSION,
                                              _("The terminal speaks link protocol versions %u to %u, "
                                                "this station %u to %u: update the terminal's "
                                                "firmware or the station"),
                                              tmin, tmax, link->vmin, link->vmax));
      return;
    }
  if (frame->status != PP_LINK_HELLO_OK || set == NULL
      || !pp_link_tlv_get_u8 (set, PP_LINK_HELLO_TAG_VERSION, &version, NULL)
      || !pp_link_tlv_get_u16 (set, PP_LINK_HELLO_TAG_MAX_PAYLOAD, &max_payload, NULL)
      || !pp_link_tlv_get_u8 (set, PP_LINK_HELLO_TAG_WINDOW, &window, NULL)
      || version < link->vmin || version > link->vmax
      || max_payload < PP_LINK_MIN_PAYLOAD || max_payload > link->offer_payload
      || window < 1 || window > link->offer_window)
    {
      connect_finish_with (link, g_error_new_literal (PP_LINK_ERROR, PP_LINK_ERROR_PROTOCOL,
                                                      _("The terminal's answer to HELLO breaks the "
                                                        "link protocol: not a posprov-protocol "
                                                        "terminal, or a faulty one")));
      return;
    }

  link->version = version;
  link->max_payload = max_payload;
  link->window = window;
  link->next_seq = link->hello_seq + 1;
  link->connected = TRUE;
  pp_link_decoder_set_max_payload (link->decoder, max_payload);
  connect_finish_with (link, NULL);
}

static void
station_frame (PpLink      *link,
               PpLinkFrame *frame)
{
  GList *l;
  Pending *p;

  switch (frame->type)
    {
    case PP_LINK_FRAME_HELLO_REPLY:
      station_hello_reply (link, frame);
      break;

    case PP_LINK_FRAME_ACK:
      if ((l = find_inflight (link, frame->seq)) != NULL)
        {
          p = l->data;
          if (!p->acked)
            {
              p->acked = TRUE;
              if (p->deadline != 0)
                p->deadline = g_get_monotonic_time () + (gint64) link->response_ms * 1000;
            }
        }
      break;

    case PP_LINK_FRAME_NAK:
      if (frame->status == PP_LINK_NAK_NO_SESSION)
        {
          if (link->inflight.length > 0)
            fail_all (link, g_error_new_literal (PP_LINK_ERROR, PP_LINK_ERROR_PROTOCOL,
                                                 _("The terminal lost the session (did it restart?): "
                                                   "connect to it again")));
          break;
        }
      if ((l = find_inflight (link, frame->seq)) != NULL)
        {
          p = l->data;
          if (++p->retries > link->max_retries)
            fail_all (link, no_answer_error (link));
          else
            retransmit_from (link, l);
        }
      break;

    case PP_LINK_FRAME_RESPONSE:
      if ((l = find_inflight (link, frame->seq)) == NULL)
        break;   /* the answer to a retransmitted copy, already handled */
      p = l->data;
      g_queue_delete_link (&link->inflight, l);
      pump (link);
      complete_request (p, frame->status, frame->payload);
      break;

    default:
      /* HELLO or REQUEST sent to a station: not for us. */
      link->bad_frames++;
      break;
    }
}

static void
station_event (PpLink            *link,
               PpLinkDecodeEvent *ev)
{
  switch (ev->kind)
    {
    case PP_LINK_DECODE_FRAME:
      link->garbage = 0;
      link->bad_frames = 0;
      station_frame (link, &ev->frame);
      break;
    case PP_LINK_DECODE_GARBAGE:
      link->garbage += ev->skipped;
      break;
    case PP_LINK_DECODE_BAD_CRC:
      link->bad_frames++;
      /* Ask for the oldest answer we wait for again. */
      if (link->connected && link->inflight.head != NULL)
        send_control (link, PP_LINK_FRAME_NAK, ((Pending *) link->inflight.head->data)->seq);
      break;
    case PP_LINK_DECODE_OVERSIZED:
    case PP_LINK_DECODE_INVALID:
      link->bad_frames++;
      break;
    }
}

static guint
partial_ms (PpLink *link)
{
  /* Shorter than the peer's ACK timeout, so the pause before a
   * retransmission is always long enough to give a cut-off frame up. */
  return CLAMP (link->ack_ms / 2, 1, 250);
}

static void
station_process (PpLink *link)
{
  g_auto(PpLinkDecodeEvent) ev = { 0 };

  while (pp_link_decoder_next (link->decoder, &ev))
    {
      station_event (link, &ev);
      pp_link_decode_event_clear (&ev);
    }
  /* A frame cut off by a sender that went away would hold up every frame
   * behind it until its claimed length is in: give it up after a pause. */
  if (pp_link_decoder_pending (link->decoder) > 0)
    link->partial_deadline = g_get_monotonic_time () + (gint64) partial_ms (link) * 1000;
  else
    link->partial_deadline = 0;
}

static void
read_cb (GObject      *source,
         GAsyncResult *result,
         gpointer      data)
{
  PpLink *link = data;
  g_autoptr(GError) error = NULL;
  gssize n;

  link->reading = FALSE;
  n = g_input_stream_read_finish (G_INPUT_STREAM (source), result, &error);

  if (n < 0 && g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    {
      /* Gone idle; maybe busy again already. */
      g_object_unref (link->read_cancel);
      link->read_cancel = g_cancellable_new ();
    }
  else if (n < 0)
    {
      if (active (link))
        fail_all (link, g_error_new (PP_LINK_ERROR, PP_LINK_ERROR_CLOSED,
                                     _("The link to the terminal broke (%s): check the cable "
                                       "and that the terminal is on"),
                                     error->message));
    }
  else if (n == 0)
    {
      if (active (link))
        fail_all (link, g_error_new_literal (PP_LINK_ERROR, PP_LINK_ERROR_CLOSED,
                                             _("The terminal closed the link (cable pulled, or "
                                               "the terminal restarted): connect again")));
    }
  else
    {
      link->bytes_in += (guint64) n;
      pp_link_decoder_push (link->decoder, link->readbuf, n);
      station_process (link);
      if (active (link))
        reschedule (link);
    }

  if (active (link))
    start_read (link);
  else
    maybe_idle (link);
  pp_link_unref (link);
}

static void
start_read (PpLink *link)
{
  if (link->reading || !active (link))
    return;
  if (g_cancellable_is_cancelled (link->read_cancel))
    {
      g_object_unref (link->read_cancel);
      link->read_cancel = g_cancellable_new ();
    }
  link->reading = TRUE;
  g_input_stream_read_async (link->in, link->readbuf, READ_BUFFER_SIZE, G_PRIORITY_DEFAULT,
                             link->read_cancel, read_cb, pp_link_ref (link));
}

static gboolean
connect_cancelled_cb (GCancellable *cancellable,
                      gpointer      data)
{
  PpLink *link = pp_link_ref (data);

  connect_finish_with (link, g_error_new_literal (G_IO_ERROR, G_IO_ERROR_CANCELLED,
                                                  _("Connecting to the terminal was cancelled")));
  maybe_idle (link);
  pp_link_unref (link);
  return G_SOURCE_REMOVE;
}

void
pp_link_connect_async (PpLink              *link,
                       GCancellable        *cancellable,
                       GAsyncReadyCallback  callback,
                       gpointer             user_data)
{
  g_autoptr(GTask) task = NULL;
  g_autoptr(GBytes) payload = NULL;

  g_return_if_fail (link != NULL);
  g_return_if_fail (link->role == PP_LINK_ROLE_STATION);

  task = new_task (link, cancellable, callback, user_data, pp_link_connect_async);
  if (link->connect_task != NULL)
    {
      g_task_return_new_error (task, G_IO_ERROR, G_IO_ERROR_PENDING,
                               _("Already connecting to the terminal"));
      return;
    }
  if (g_cancellable_is_cancelled (cancellable))
    {
      g_task_return_new_error (task, G_IO_ERROR, G_IO_ERROR_CANCELLED,
                               _("Connecting to the terminal was cancelled"));
      return;
    }
  if (link->context == NULL)
    link->context = g_main_context_ref_thread_default ();

  /* A new HELLO ends whatever session there was. */
  if (link->inflight.length > 0 || link->queued.length > 0)
    fail_all (link, g_error_new_literal (PP_LINK_ERROR, PP_LINK_ERROR_CLOSED,
                                         _("The link was connected again")));
  link->connected = FALSE;
  g_clear_error (&link->dead);
  link->garbage = 0;
  link->bad_frames = 0;
  pp_link_decoder_set_max_payload (link->decoder, link->offer_payload);

  link->connect_task = g_steal_pointer (&task);
  link->hello_seq = g_random_int_range (0, 65536);
  link->hello_retries = 0;
  link->hello_deadline = 0;
  payload = hello_payload (link);
  link->hello_frame = encode (PP_LINK_FRAME_HELLO, link->hello_seq, 0, 0, payload);
  if (cancellable != NULL)
    {
      link->connect_cancel = g_cancellable_source_new (cancellable);
      g_source_set_callback (link->connect_cancel, G_SOURCE_FUNC (connect_cancelled_cb), link, NULL);
      g_source_attach (link->connect_cancel, link->context);
    }
  send_frame (link, link->hello_frame, &link->hello_gen);
  start_read (link);
}

gboolean
pp_link_connect_finish (PpLink        *link,
                        GAsyncResult  *result,
                        GError       **error)
{
  g_return_val_if_fail (link != NULL, FALSE);
  g_return_val_if_fail (g_task_is_valid (result, NULL), FALSE);
  g_return_val_if_fail (g_task_get_source_tag (G_TASK (result)) == pp_link_connect_async, FALSE);

  return g_task_propagate_boolean (G_TASK (result), error);
}

static gboolean
request_cancelled_cb (GCancellable *cancellable,
                      gpointer      data)
{
  Pending *p = data;
  PpLink *link = pp_link_ref (p->link);
  GTask *task = g_steal_pointer (&p->task);
  GList *l;

  g_source_destroy (p->cancel_source);
  g_clear_pointer (&p->cancel_source, g_source_unref);

  if ((l = g_queue_find (&link->queued, p)) != NULL)
    {
      g_queue_delete_link (&link->queued, l);
      pending_free (p);
    }
  /* else in flight: it stays as an orphan so the sequence stays right */

  g_task_return_new_error (task, G_IO_ERROR, G_IO_ERROR_CANCELLED,
                           _("The request to the terminal was cancelled"));
  g_object_unref (task);
  pp_link_unref (link);
  return G_SOURCE_REMOVE;
}

void
pp_link_request_async (PpLink              *link,
                       guint8               command,
                       GBytes              *payload,
                       GCancellable        *cancellable,
                       GAsyncReadyCallback  callback,
                       gpointer             user_data)
{
  g_autoptr(GTask) task = NULL;
  Pending *p;
  gsize len;

  g_return_if_fail (link != NULL);
  g_return_if_fail (link->role == PP_LINK_ROLE_STATION);
  g_return_if_fail (command != 0);

  task = new_task (link, cancellable, callback, user_data, pp_link_request_async);
  len = payload != NULL ? g_bytes_get_size (payload) : 0;

  if (!link->connected)
    {
      if (link->dead != NULL)
        g_task_return_error (task, g_error_copy (link->dead));
      else
        g_task_return_new_error (task, PP_LINK_ERROR, PP_LINK_ERROR_PROTOCOL,
                                 _("The link is not connected: connect to the terminal first"));
      return;
    }
  if (len > link->max_payload)
    {
      g_task_return_new_error (task, PP_LINK_ERROR, PP_LINK_ERROR_PROTOCOL,
                               _("A request of %lu bytes does not fit the link's "
                                 "largest frame payload of %u bytes"),
                               (gulong) len, link->max_payload);
      return;
    }
  if (g_cancellable_is_cancelled (cancellable))
    {
      g_task_return_new_error (task, G_IO_ERROR, G_IO_ERROR_CANCELLED,
                               _("The request to the terminal was cancelled"));
      return;
    }

  p = g_new0 (Pending, 1);
  p->link = link;
  p->task = g_steal_pointer (&task);
  p->command = command;
  p->payload = payload != NULL ? g_bytes_ref (payload) : g_bytes_new (NULL, 0);
  if (cancellable != NULL)
    {
      p->cancel_source = g_cancellable_source_new (cancellable);
      g_source_set_callback (p->cancel_source, G_SOURCE_FUNC (request_cancelled_cb), p, NULL);
      g_source_attach (p->cancel_source, link->context);
    }
  g_queue_push_tail (&link->queued, p);
  pump (link);
}

GBytes *
pp_link_request_finish (PpLink        *link,
                        GAsyncResult  *result,
                        guint8        *out_status,
                        GError       **error)
{
  TaskData *td;

  g_return_val_if_fail (link != NULL, NULL);
  g_return_val_if_fail (g_task_is_valid (result, NULL), NULL);
  g_return_val_if_fail (g_task_get_source_tag (G_TASK (result)) == pp_link_request_async, NULL);

  td = g_task_get_task_data (G_TASK (result));
  if (out_status != NULL)
    *out_status = td->status;
  return g_task_propagate_pointer (G_TASK (result), error);
}

GBytes *
pp_link_request_finish_any (PpLink        *link,
                            GAsyncResult  *result,
                            guint8        *out_status,
                            GError       **error)
{
  g_autoptr(GError) local = NULL;
  TaskData *td;
  GBytes *payload;

  g_return_val_if_fail (link != NULL, NULL);
  g_return_val_if_fail (g_task_is_valid (result, NULL), NULL);
  g_return_val_if_fail (g_task_get_source_tag (G_TASK (result)) == pp_link_request_async, NULL);

  td = g_task_get_task_data (G_TASK (result));
  payload = g_task_propagate_pointer (G_TASK (result), &local);
  if (out_status != NULL)
    *out_status = td->status;
  if (payload != NULL)
    return payload;
  if (g_error_matches (local, PP_LINK_ERROR, PP_LINK_ERROR_REFUSED) && td->refusal != NULL)
    return g_bytes_ref (td->refusal);
  g_propagate_error (error, g_steal_pointer (&local));
  return NULL;
}

/* ------------------------------------------------------------------ */
/* Terminal                                                            */

static gboolean
is_closed_error (const GError *error)
{
  return g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CONNECTION_CLOSED)
      || g_error_matches (error, G_IO_ERROR, G_IO_ERROR_BROKEN_PIPE)
      || g_error_matches (error, G_IO_ERROR, G_IO_ERROR_NOT_CONNECTED);
}

static gboolean
serve_write (PpLink        *link,
             GBytes        *frame,
             GCancellable  *cancellable,
             GError       **error)
{
  return g_output_stream_write_all (link->out, g_bytes_get_data (frame, NULL),
                                    g_bytes_get_size (frame), NULL, cancellable, error);
}

static gboolean
serve_control (PpLink          *link,
               PpLinkFrameType  type,
               guint16          seq,
               guint8           status,
               GCancellable    *cancellable,
               GError         **error)
{
  g_autoptr(GBytes) frame = pp_link_frame_encode (type, seq, 0, status, NULL, 0);

  return serve_write (link, frame, cancellable, error);
}

static gboolean
serve_hello (PpLink        *link,
             PpLinkFrame   *frame,
             GCancellable  *cancellable,
             GError       **error)
{
  g_autoptr(PpLinkTlvSet) set = pp_link_tlv_parse (frame->payload, NULL);
  g_autoptr(PpLinkTlvBuilder) b = pp_link_tlv_builder_new ();
  g_autoptr(GBytes) payload = NULL;
  g_autoptr(GBytes) reply = NULL;
  guint8 smin = 0, smax = 0, window = 0, status = PP_LINK_HELLO_OK, version;
  guint16 max_payload = 0;

  if (set == NULL
      || !pp_link_tlv_get_u8 (set, PP_LINK_HELLO_TAG_VERSION_MIN, &smin, NULL)
      || !pp_link_tlv_get_u8 (set, PP_LINK_HELLO_TAG_VERSION_MAX, &smax, NULL)
      || !pp_link_tlv_get_u16 (set, PP_LINK_HELLO_TAG_MAX_PAYLOAD, &max_payload, NULL)
      || !pp_link_tlv_get_u8 (set, PP_LINK_HELLO_TAG_WINDOW, &window, NULL)
      || smin > smax || max_payload < PP_LINK_MIN_PAYLOAD || window == 0)
    status = PP_LINK_HELLO_BAD;
  else if (link->session && frame->seq == link->hello_seq)
    {
      /* The same HELLO again (its answer was lost): answer it the same way
       * without starting over, so no request of this session runs twice. */
      pp_link_tlv_builder_add_u8 (b, PP_LINK_HELLO_TAG_VERSION, link->version);
      pp_link_tlv_builder_add_u16 (b, PP_LINK_HELLO_TAG_MAX_PAYLOAD, link->max_payload);
      pp_link_tlv_builder_add_u8 (b, PP_LINK_HELLO_TAG_WINDOW, link->window);
    }
  else
    {
      version = MIN (smax, link->vmax);
      if (version < MAX (smin, link->vmin))
        {
          status = PP_LINK_HELLO_NO_VERSION;
          pp_link_tlv_builder_add_u8 (b, PP_LINK_HELLO_TAG_VERSION_MIN, link->vmin);
          pp_link_tlv_builder_add_u8 (b, PP_LINK_HELLO_TAG_VERSION_MAX, link->vmax);
        }
      else
        {
          link->version = version;
          link->max_payload = MIN (max_payload, link->offer_payload);
          link->window = MIN (MIN (window, link->offer_window), MAX_WINDOW);
          pp_link_tlv_builder_add_u8 (b, PP_LINK_HELLO_TAG_VERSION, link->version);
          pp_link_tlv_builder_add_u16 (b, PP_LINK_HELLO_TAG_MAX_PAYLOAD, link->max_payload);
          pp_link_tlv_builder_add_u8 (b, PP_LINK_HELLO_TAG_WINDOW, link->window);

          /* A new session: sequence numbers start after the HELLO's. */
          link->session = TRUE;
          link->hello_seq = frame->seq;
          link->expected = frame->seq + 1;
          link->nak_sent = FALSE;
          for (guint i = 0; i < CACHE_SIZE; i++)
            {
              link->cache[i].used = FALSE;
              g_clear_pointer (&link->cache[i].frame, g_bytes_unref);
            }
          pp_link_decoder_set_max_payload (link->decoder, link->max_payload);
        }
    }

  payload = pp_link_tlv_builder_end (g_steal_pointer (&b));
  reply = encode (PP_LINK_FRAME_HELLO_REPLY, frame->seq, 0, status, payload);
  return serve_write (link, reply, cancellable, error);
}

static gboolean
serve_request (PpLink         *link,
               PpLinkFrame    *frame,
               PpLinkHandler   handler,
               gpointer        user_data,
               GCancellable   *cancellable,
               GError        **error)
{
  guint16 behind = link->expected - frame->seq;
  guint16 ahead = frame->seq - link->expected;
  CachedResponse *slot;
  g_autoptr(GBytes) response = NULL;
  g_autoptr(GBytes) reply = NULL;
  guint8 status = PP_STATUS_OK;

  if (!link->session)
    return serve_control (link, PP_LINK_FRAME_NAK, frame->seq, PP_LINK_NAK_NO_SESSION,
                          cancellable, error);

  if (behind >= 1 && behind <= CACHE_SIZE)
    {
      /* Done already: answer again, never run it twice. */
      slot = &link->cache[frame->seq % CACHE_SIZE];
      if (slot->used && slot->seq == frame->seq)
        return serve_write (link, slot->frame, cancellable, error);
      return TRUE;
    }
  if (ahead != 0)
    {
      if (ahead < 0x8000 && !link->nak_sent)
        {
          /* A gap: something before it was lost. Ask once per gap. */
          link->nak_sent = TRUE;
          return serve_control (link, PP_LINK_FRAME_NAK, link->expected, PP_LINK_NAK_RESEND,
                                cancellable, error);
        }
      return TRUE;
    }

  if (!serve_control (link, PP_LINK_FRAME_ACK, frame->seq, 0, cancellable, error))
    return FALSE;

  response = handler (frame->command, frame->payload, &status, user_data);
  if (response == NULL)
    response = g_bytes_new (NULL, 0);
  if (g_bytes_get_size (response) > link->max_payload)
    {
      g_autoptr(PpLinkTlvBuilder) b = pp_link_tlv_builder_new ();

      g_debug ("link: a response of %" G_GSIZE_FORMAT " bytes to command 0x%02X exceeds the "
                 "frame payload of %u bytes", g_bytes_get_size (response), frame->command,
                 link->max_payload);
      pp_link_tlv_builder_add_string (b, PP_TAG_MESSAGE, "response too large for the link");
      g_bytes_unref (response);
      response = pp_link_tlv_builder_end (g_steal_pointer (&b));
      status = PP_STATUS_REFUSED;
    }

  reply = encode (PP_LINK_FRAME_RESPONSE, frame->seq, frame->command, status, response);
  slot = &link->cache[frame->seq % CACHE_SIZE];
  g_clear_pointer (&slot->frame, g_bytes_unref);
  slot->used = TRUE;
  slot->seq = frame->seq;
  slot->frame = g_bytes_ref (reply);
  link->expected++;
  link->nak_sent = FALSE;

  return serve_write (link, reply, cancellable, error);
}

static gboolean
serve_nak (PpLink        *link,
           PpLinkFrame   *frame,
           GCancellable  *cancellable,
           GError       **error)
{
  /* The station lost answers from @seq on: send those we hold again. */
  for (guint16 s = frame->seq; s != link->expected; s++)
    {
      CachedResponse *slot = &link->cache[s % CACHE_SIZE];

      if ((guint16) (link->expected - s) > CACHE_SIZE)
        continue;
      if (slot->used && slot->seq == s && !serve_write (link, slot->frame, cancellable, error))
        return FALSE;
    }
  return TRUE;
}

typedef struct {
  PpLink         *link;
  PpLinkHandler   handler;
  gpointer        user_data;
  GCancellable   *cancellable;
  GMainContext   *context;
  GSource        *partial;
  gboolean        done;
  gboolean        ok;
  GError         *error;
} Serve;

static void serve_read (Serve *sv);

static void
serve_fail (Serve  *sv,
            GError *local)
{
  sv->done = TRUE;
  if (local == NULL || is_closed_error (local))
    sv->ok = TRUE;
  else if (g_error_matches (local, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    sv->error = g_error_copy (local);
  else
    sv->error = g_error_new (PP_LINK_ERROR, PP_LINK_ERROR_CLOSED,
                             _("The link to the station broke: %s"), local->message);
}

static gboolean serve_partial_cb (gpointer data);

/* Handles every event the decoder has; FALSE once serving is over. */
static gboolean
serve_process (Serve *sv)
{
  PpLink *link = sv->link;
  g_autoptr(GError) local = NULL;
  g_auto(PpLinkDecodeEvent) ev = { 0 };
  gboolean ok = TRUE;

  while (ok && pp_link_decoder_next (link->decoder, &ev))
    {
      if (ev.kind == PP_LINK_DECODE_FRAME)
        {
          switch (ev.frame.type)
            {
            case PP_LINK_FRAME_HELLO:
              ok = serve_hello (link, &ev.frame, sv->cancellable, &local);
              break;
            case PP_LINK_FRAME_REQUEST:
              ok = serve_request (link, &ev.frame, sv->handler, sv->user_data,
                                  sv->cancellable, &local);
              break;
            case PP_LINK_FRAME_NAK:
              if (link->session)
                ok = serve_nak (link, &ev.frame, sv->cancellable, &local);
              break;
            default:
              break;   /* ACKs and answers are not for a terminal */
            }
        }
      else if (ev.kind == PP_LINK_DECODE_BAD_CRC && link->session)
        ok = serve_control (link, PP_LINK_FRAME_NAK, link->expected, PP_LINK_NAK_RESEND,
                            sv->cancellable, &local);
      pp_link_decode_event_clear (&ev);
    }
  if (!ok)
    {
      serve_fail (sv, local);
      return FALSE;
    }

  if (sv->partial != NULL)
    {
      g_source_destroy (sv->partial);
      g_clear_pointer (&sv->partial, g_source_unref);
    }
  if (pp_link_decoder_pending (link->decoder) > 0)
    {
      sv->partial = g_timeout_source_new (partial_ms (link));
      g_source_set_callback (sv->partial, serve_partial_cb, sv, NULL);
      g_source_attach (sv->partial, sv->context);
    }
  return TRUE;
}

static gboolean
serve_partial_cb (gpointer data)
{
  Serve *sv = data;

  g_clear_pointer (&sv->partial, g_source_unref);
  pp_link_decoder_drop_partial (sv->link->decoder);
  serve_process (sv);
  return G_SOURCE_REMOVE;
}

static void
serve_read_cb (GObject      *source,
               GAsyncResult *result,
               gpointer      data)
{
  Serve *sv = data;
  g_autoptr(GError) local = NULL;
  gssize n;

  n = g_input_stream_read_finish (G_INPUT_STREAM (source), result, &local);
  if (n <= 0)
    {
      serve_fail (sv, local);
      return;
    }
  pp_link_decoder_push (sv->link->decoder, sv->link->readbuf, n);
  if (serve_process (sv))
    serve_read (sv);
}

static void
serve_read (Serve *sv)
{
  g_input_stream_read_async (sv->link->in, sv->link->readbuf, READ_BUFFER_SIZE,
                             G_PRIORITY_DEFAULT, sv->cancellable, serve_read_cb, sv);
}

gboolean
pp_link_serve (PpLink         *link,
               PpLinkHandler   handler,
               gpointer        user_data,
               GCancellable   *cancellable,
               GError        **error)
{
  Serve sv = { 0 };

  g_return_val_if_fail (link != NULL, FALSE);
  g_return_val_if_fail (link->role == PP_LINK_ROLE_TERMINAL, FALSE);
  g_return_val_if_fail (handler != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  /* A private context: the read and the partial-frame timer run here,
   * whatever else the calling thread has on its own. */
  sv.link = pp_link_ref (link);
  sv.handler = handler;
  sv.user_data = user_data;
  sv.cancellable = cancellable;
  sv.context = g_main_context_new ();
  g_main_context_push_thread_default (sv.context);

  serve_read (&sv);
  while (!sv.done)
    g_main_context_iteration (sv.context, TRUE);

  if (sv.partial != NULL)
    {
      g_source_destroy (sv.partial);
      g_source_unref (sv.partial);
    }
  /* Let the finished read's own sources go before the context does. */
  while (g_main_context_iteration (sv.context, FALSE))
    ;
  g_main_context_pop_thread_default (sv.context);
  g_main_context_unref (sv.context);
  pp_link_unref (sv.link);

  if (sv.error != NULL)
    {
      g_propagate_error (error, sv.error);
      return FALSE;
    }
  return sv.ok;
}
