/* SPDX-License-Identifier: GPL-3.0-or-later
 *
 * pp-fault-stream.c: the link faults of posprov-termsim as a GIOStream
 * around the connection. Writes are frames (pp_link_serve writes one frame
 * per call), so --drop and --corrupt act per frame going out; coming in,
 * --corrupt acts per read. Pacing holds each chunk back until a wire of
 * the given baud rate (10 bits a byte) would have carried it; reads are
 * cut into chunks of about 20 ms so that a frame arrives in a trickle, as
 * on a serial line, and never pauses long enough to be given up as cut off.
 */
#include "config.h"

#include <string.h>

#include "pp-fault-stream.h"

#define PACE_CHUNK_MS 20

struct _PpFaultStream {
  GIOStream        parent_instance;
  GIOStream       *base;
  GInputStream    *in;
  GOutputStream   *out;
  GInputStream    *wrapped_in;
  GOutputStream   *wrapped_out;
  PpFaultSettings  settings;
  GMutex           lock;
  GRand           *rand;
  gint64           in_next;    /* monotonic µs when the wire in is free again */
  gint64           out_next;
  gint             cut;        /* atomic */
  guint            corrupted;
  guint            dropped;
};

G_DEFINE_TYPE (PpFaultStream, pp_fault_stream, G_TYPE_IO_STREAM)

/* ---- shared decisions ---- */

static gboolean
roll (PpFaultStream *self,
      double         rate)
{
  gboolean hit;

  if (rate <= 0.0)
    return FALSE;
  g_mutex_lock (&self->lock);
  hit = g_rand_double (self->rand) < rate;
  g_mutex_unlock (&self->lock);
  return hit;
}

static void
flip_bit (PpFaultStream *self,
          guint8        *data,
          gsize          len)
{
  guint32 bit;

  if (len == 0)
    return;
  g_mutex_lock (&self->lock);
  bit = g_rand_int_range (self->rand, 0, (gint32) MIN (len * 8, (gsize) G_MAXINT32));
  self->corrupted++;
  g_mutex_unlock (&self->lock);
  data[bit / 8] ^= (guint8) (1u << (bit % 8));
}

/* The monotonic time at which @len bytes that start now have passed the
 * wire whose next free time is *@next. */
static gint64
pace (PpFaultStream *self,
      gint64        *next,
      gsize          len)
{
  gint64 now = g_get_monotonic_time ();
  gint64 done;

  if (self->settings.baud == 0)
    return now;
  g_mutex_lock (&self->lock);
  done = MAX (now, *next) + (gint64) len * 10 * G_USEC_PER_SEC / self->settings.baud;
  *next = done;
  g_mutex_unlock (&self->lock);
  return done;
}

static gsize
read_limit (PpFaultStream *self,
            gsize          count)
{
  gsize chunk;

  if (self->settings.baud == 0)
    return count;
  chunk = MAX ((gsize) 1, (gsize) self->settings.baud / 10 * PACE_CHUNK_MS / 1000);
  return MIN (count, chunk);
}

static gboolean
is_cut (PpFaultStream *self)
{
  return g_atomic_int_get (&self->cut) != 0;
}

/* ---- input ---- */

#define PP_TYPE_FAULT_INPUT (pp_fault_input_get_type ())
G_DECLARE_FINAL_TYPE (PpFaultInput, pp_fault_input, PP, FAULT_INPUT, GInputStream)

struct _PpFaultInput {
  GInputStream   parent_instance;
  PpFaultStream *owner;   /* not referenced: the owner holds us */
};

G_DEFINE_TYPE (PpFaultInput, pp_fault_input, G_TYPE_INPUT_STREAM)

static void
arrived (PpFaultStream *self,
         guint8        *buffer,
         gssize         n)
{
  if (n > 0 && roll (self, self->settings.corrupt))
    flip_bit (self, buffer, (gsize) n);
}

static gssize
pp_fault_input_read (GInputStream  *stream,
                     void          *buffer,
                     gsize          count,
                     GCancellable  *cancellable,
                     GError       **error)
{
  PpFaultStream *self = PP_FAULT_INPUT (stream)->owner;
  gssize n;
  gint64 until, now;

  if (is_cut (self))
    return 0;
  n = g_input_stream_read (self->in, buffer, read_limit (self, count), cancellable, error);
  if (n <= 0)
    return n;
  arrived (self, buffer, n);
  until = pace (self, &self->in_next, (gsize) n);
  now = g_get_monotonic_time ();
  if (until > now)
    g_usleep ((gulong) (until - now));
  return is_cut (self) ? 0 : n;
}

typedef struct {
  guint8 *buffer;
  gssize  n;
} ReadData;

static gboolean
read_deliver (gpointer data)
{
  GTask *task = data;
  ReadData *rd = g_task_get_task_data (task);

  g_task_return_int (task, rd->n);
  return G_SOURCE_REMOVE;
}

static void
read_cb (GObject      *source,
         GAsyncResult *result,
         gpointer      data)
{
  g_autoptr(GTask) task = data;
  PpFaultStream *self = PP_FAULT_INPUT (g_task_get_source_object (task))->owner;
  ReadData *rd = g_task_get_task_data (task);
  GError *error = NULL;
  gint64 until, now;
  g_autoptr(GSource) timer = NULL;

  rd->n = g_input_stream_read_finish (G_INPUT_STREAM (source), result, &error);
  if (rd->n < 0)
    {
      g_task_return_error (task, error);
      return;
    }
  if (rd->n == 0 || is_cut (self))
    {
      g_task_return_int (task, 0);
      return;
    }
  arrived (self, rd->buffer, rd->n);
  until = pace (self, &self->in_next, (gsize) rd->n);
  now = g_get_monotonic_time ();
  if (until <= now)
    {
      g_task_return_int (task, rd->n);
      return;
    }
  timer = g_timeout_source_new ((guint) ((until - now + 999) / 1000));
  g_source_set_callback (timer, read_deliver, g_object_ref (task), g_object_unref);
  g_source_attach (timer, g_task_get_context (task));
}

static void
pp_fault_input_read_async (GInputStream        *stream,
                           void                *buffer,
                           gsize                count,
                           int                  io_priority,
                           GCancellable        *cancellable,
                           GAsyncReadyCallback  callback,
                           gpointer             user_data)
{
  PpFaultStream *self = PP_FAULT_INPUT (stream)->owner;
  GTask *task = g_task_new (stream, cancellable, callback, user_data);
  ReadData *rd = g_new0 (ReadData, 1);

  g_task_set_source_tag (task, pp_fault_input_read_async);
  rd->buffer = buffer;
  g_task_set_task_data (task, rd, g_free);
  if (is_cut (self))
    {
      g_task_return_int (task, 0);
      g_object_unref (task);
      return;
    }
  g_input_stream_read_async (self->in, buffer, read_limit (self, count), io_priority, cancellable,
                             read_cb, task);
}

static gssize
pp_fault_input_read_finish (GInputStream  *stream,
                            GAsyncResult  *result,
                            GError       **error)
{
  g_return_val_if_fail (g_task_is_valid (result, stream), -1);
  return g_task_propagate_int (G_TASK (result), error);
}

static gboolean
pp_fault_input_close (GInputStream  *stream,
                      GCancellable  *cancellable,
                      GError       **error)
{
  return TRUE;   /* the owner closes the base */
}

static void
pp_fault_input_class_init (PpFaultInputClass *klass)
{
  GInputStreamClass *input_class = G_INPUT_STREAM_CLASS (klass);

  input_class->read_fn = pp_fault_input_read;
  input_class->read_async = pp_fault_input_read_async;
  input_class->read_finish = pp_fault_input_read_finish;
  input_class->close_fn = pp_fault_input_close;
}

static void
pp_fault_input_init (PpFaultInput *self)
{
}

/* ---- output ---- */

#define PP_TYPE_FAULT_OUTPUT (pp_fault_output_get_type ())
G_DECLARE_FINAL_TYPE (PpFaultOutput, pp_fault_output, PP, FAULT_OUTPUT, GOutputStream)

struct _PpFaultOutput {
  GOutputStream  parent_instance;
  PpFaultStream *owner;
};

G_DEFINE_TYPE (PpFaultOutput, pp_fault_output, G_TYPE_OUTPUT_STREAM)

static gssize
pp_fault_output_write (GOutputStream  *stream,
                       const void     *buffer,
                       gsize           count,
                       GCancellable   *cancellable,
                       GError        **error)
{
  PpFaultStream *self = PP_FAULT_OUTPUT (stream)->owner;
  g_autofree guint8 *copy = NULL;
  const void *data = buffer;
  gint64 until, now;

  if (is_cut (self))
    {
      g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_CONNECTION_CLOSED,
                           "The connection was cut (--disconnect-after)");
      return -1;
    }
  if (count == 0)
    return 0;
  if (roll (self, self->settings.drop))
    {
      g_mutex_lock (&self->lock);
      self->dropped++;
      g_mutex_unlock (&self->lock);
      return (gssize) count;   /* lost on the wire: the writer cannot tell */
    }
  if (roll (self, self->settings.corrupt))
    {
      copy = g_memdup2 (buffer, count);
      flip_bit (self, copy, count);
      data = copy;
    }
  until = pace (self, &self->out_next, count);
  now = g_get_monotonic_time ();
  if (until > now)
    g_usleep ((gulong) (until - now));
  if (!g_output_stream_write_all (self->out, data, count, NULL, cancellable, error))
    return -1;
  return (gssize) count;
}

static gboolean
pp_fault_output_flush (GOutputStream  *stream,
                       GCancellable   *cancellable,
                       GError        **error)
{
  PpFaultStream *self = PP_FAULT_OUTPUT (stream)->owner;

  if (is_cut (self))
    return TRUE;
  return g_output_stream_flush (self->out, cancellable, error);
}

static gboolean
pp_fault_output_close (GOutputStream  *stream,
                       GCancellable   *cancellable,
                       GError        **error)
{
  return TRUE;
}

static void
pp_fault_output_class_init (PpFaultOutputClass *klass)
{
  GOutputStreamClass *output_class = G_OUTPUT_STREAM_CLASS (klass);

  output_class->write_fn = pp_fault_output_write;
  output_class->flush = pp_fault_output_flush;
  output_class->close_fn = pp_fault_output_close;
}

static void
pp_fault_output_init (PpFaultOutput *self)
{
}

/* ---- the stream ---- */

static GInputStream *
pp_fault_stream_get_input_stream (GIOStream *stream)
{
  return PP_FAULT_STREAM (stream)->wrapped_in;
}

static GOutputStream *
pp_fault_stream_get_output_stream (GIOStream *stream)
{
  return PP_FAULT_STREAM (stream)->wrapped_out;
}

static gboolean
pp_fault_stream_close (GIOStream     *stream,
                       GCancellable  *cancellable,
                       GError       **error)
{
  PpFaultStream *self = PP_FAULT_STREAM (stream);

  if (g_io_stream_is_closed (self->base))
    return TRUE;
  return g_io_stream_close (self->base, cancellable, error);
}

static void
pp_fault_stream_finalize (GObject *object)
{
  PpFaultStream *self = PP_FAULT_STREAM (object);

  g_clear_object (&self->wrapped_in);
  g_clear_object (&self->wrapped_out);
  g_clear_object (&self->base);
  g_clear_pointer (&self->rand, g_rand_free);
  g_mutex_clear (&self->lock);
  G_OBJECT_CLASS (pp_fault_stream_parent_class)->finalize (object);
}

static void
pp_fault_stream_class_init (PpFaultStreamClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GIOStreamClass *io_class = G_IO_STREAM_CLASS (klass);

  object_class->finalize = pp_fault_stream_finalize;
  io_class->get_input_stream = pp_fault_stream_get_input_stream;
  io_class->get_output_stream = pp_fault_stream_get_output_stream;
  io_class->close_fn = pp_fault_stream_close;
}

static void
pp_fault_stream_init (PpFaultStream *self)
{
  g_mutex_init (&self->lock);
}

PpFaultStream *
pp_fault_stream_new (GIOStream             *base,
                     const PpFaultSettings *settings)
{
  PpFaultStream *self;
  PpFaultInput *in;
  PpFaultOutput *out;
  guint32 seed[2];

  g_return_val_if_fail (G_IS_IO_STREAM (base), NULL);
  g_return_val_if_fail (settings != NULL, NULL);

  self = g_object_new (PP_TYPE_FAULT_STREAM, NULL);
  self->base = g_object_ref (base);
  self->in = g_io_stream_get_input_stream (base);
  self->out = g_io_stream_get_output_stream (base);
  self->settings = *settings;
  self->settings.corrupt = CLAMP (settings->corrupt, 0.0, 1.0);
  self->settings.drop = CLAMP (settings->drop, 0.0, 1.0);
  seed[0] = (guint32) settings->seed;
  seed[1] = (guint32) (settings->seed >> 32);
  self->rand = g_rand_new_with_seed_array (seed, 2);

  in = g_object_new (PP_TYPE_FAULT_INPUT, NULL);
  in->owner = self;
  out = g_object_new (PP_TYPE_FAULT_OUTPUT, NULL);
  out->owner = self;
  self->wrapped_in = G_INPUT_STREAM (in);
  self->wrapped_out = G_OUTPUT_STREAM (out);
  return self;
}

void
pp_fault_stream_cut (PpFaultStream *self)
{
  g_return_if_fail (PP_IS_FAULT_STREAM (self));

  g_atomic_int_set (&self->cut, 1);
  if (!g_io_stream_is_closed (self->base))
    g_io_stream_close (self->base, NULL, NULL);
}

guint
pp_fault_stream_get_corrupted (PpFaultStream *self)
{
  guint n;

  g_return_val_if_fail (PP_IS_FAULT_STREAM (self), 0);
  g_mutex_lock (&self->lock);
  n = self->corrupted;
  g_mutex_unlock (&self->lock);
  return n;
}

guint
pp_fault_stream_get_dropped (PpFaultStream *self)
{
  guint n;

  g_return_val_if_fail (PP_IS_FAULT_STREAM (self), 0);
  g_mutex_lock (&self->lock);
  n = self->dropped;
  g_mutex_unlock (&self->lock);
  return n;
}
