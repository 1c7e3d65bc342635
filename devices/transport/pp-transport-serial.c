/* SPDX-License-Identifier: GPL-3.0-or-later
 *
 * pp-transport-serial.c: a serial port on libserialport as a GIOStream.
 *
 * An sp_port is not thread-safe and libserialport's error text lives in
 * the failing thread, so each open port has one owner thread that makes
 * every libserialport call on it, fed by a GAsyncQueue of jobs (open, read,
 * write, close).  A job carries a GTask made on the caller's thread, so its
 * result returns on the caller's thread-default main context; sync calls
 * are the same jobs on a private context.  The owner serves one read and
 * one write at a time side by side: while either waits, it sleeps in
 * sp_wait for at most SLICE_MS, then looks at the queue and the
 * cancellables again.  Only libserialport calls touch the port, so the
 * owner works wherever libserialport does (Linux, macOS, Windows); the
 * extras (an advisory lock against a second opener, naming the process
 * that holds a busy port) are Unix and Linux only and optional.
 */
#include "config.h"

#include <errno.h>
#include <string.h>

#include <glib/gi18n-lib.h>
#include <libserialport.h>
#ifdef G_OS_UNIX
#include <sys/file.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <termios.h>
#include <unistd.h>
#endif

#include "pp-terminal-models.h"
#include "pp-transport-private.h"

/* How long the owner sleeps at most before it looks at the queue and the
 * cancellables again while a read or write waits on the port: the bound on
 * the extra latency of a write queued behind a waiting read, and on how
 * late a cancellation is noticed. */
#define SLICE_MS 5

/* Repeated wake-ups with nothing to read: the line hung up. */
#define HANGUP_WAKEUPS 3

/* libserialport's handles, for g_autoptr. */
typedef struct sp_port_config PpSpConfig;
typedef struct sp_port PpSpPort;
G_DEFINE_AUTOPTR_CLEANUP_FUNC (PpSpConfig, sp_free_config)
G_DEFINE_AUTOPTR_CLEANUP_FUNC (PpSpPort, sp_free_port)

typedef enum {
  JOB_OPEN,
  JOB_READ,
  JOB_WRITE,
  JOB_CLOSE,
  JOB_QUIT,
} JobKind;

typedef struct {
  JobKind  kind;
  GTask   *task;      /* NULL for QUIT */
  void    *buffer;    /* READ: the caller's; WRITE: the caller's */
  gsize    count;
} Job;

/* What the streams and the owner share; reference-counted, every job and
 * the owner thread hold a reference. */
typedef struct {
  gint              ref_count;
  char             *path;
  PpSerialSettings  requested;
  PpSerialSettings  settings;   /* in effect, after the model lookup */
  GAsyncQueue      *queue;
  GThread          *owner;
  GThread          *owner_self; /* set by the owner itself, before any call */

  GMutex            lock;       /* guards accepting */
  gboolean          accepting;  /* FALSE once closed or quit */

  /* Owner thread only. */
  struct sp_port   *port;
  struct sp_event_set *events[4];  /* by mask: 1 rx, 2 tx, 3 both */

  gint              owner_calls;
  gint              foreign_calls;
} SerialPort;

static SerialPort *
serial_port_ref (SerialPort *sp)
{
  g_atomic_int_inc (&sp->ref_count);
  return sp;
}

static void
serial_port_unref (SerialPort *sp)
{
  if (!g_atomic_int_dec_and_test (&sp->ref_count))
    return;
  g_assert (sp->port == NULL);
  g_async_queue_unref (sp->queue);
  g_clear_pointer (&sp->owner, g_thread_unref);
  g_mutex_clear (&sp->lock);
  g_free (sp->path);
  g_free (sp);
}

/* Counts each libserialport call on the open port by the thread it runs
 * on, for the test that proves the owner does all the I/O. */
static inline void
count_call (SerialPort *sp)
{
  if (g_thread_self () == sp->owner_self)
    g_atomic_int_inc (&sp->owner_calls);
  else
    g_atomic_int_inc (&sp->foreign_calls);
}

/* libserialport's message for its last failure in this thread. */
static char *
sp_error_text (void)
{
  char *message = sp_last_error_message ();
  char *copy = g_strdup (message != NULL ? message : "unknown error");

  sp_free_error_message (message);
  return copy;
}

/* ---- the streams ---- */

#define PP_TYPE_SERIAL_INPUT_STREAM (pp_serial_input_stream_get_type ())
G_DECLARE_FINAL_TYPE (PpSerialInputStream, pp_serial_input_stream, PP, SERIAL_INPUT_STREAM, GInputStream)
#define PP_TYPE_SERIAL_OUTPUT_STREAM (pp_serial_output_stream_get_type ())
G_DECLARE_FINAL_TYPE (PpSerialOutputStream, pp_serial_output_stream, PP, SERIAL_OUTPUT_STREAM, GOutputStream)
#define PP_TYPE_SERIAL_STREAM (pp_serial_stream_get_type ())
G_DECLARE_FINAL_TYPE (PpSerialStream, pp_serial_stream, PP, SERIAL_STREAM, GIOStream)

struct _PpSerialInputStream {
  GInputStream  parent_instance;
  SerialPort   *sp;
};

struct _PpSerialOutputStream {
  GOutputStream  parent_instance;
  SerialPort    *sp;
};

struct _PpSerialStream {
  GIOStream      parent_instance;
  SerialPort    *sp;
  GInputStream  *input;
  GOutputStream *output;
};

G_DEFINE_FINAL_TYPE (PpSerialInputStream, pp_serial_input_stream, G_TYPE_INPUT_STREAM)
G_DEFINE_FINAL_TYPE (PpSerialOutputStream, pp_serial_output_stream, G_TYPE_OUTPUT_STREAM)
G_DEFINE_FINAL_TYPE (PpSerialStream, pp_serial_stream, G_TYPE_IO_STREAM)

/* Hands @job to the owner, or fails it at once when the port is closed. */
static void
push_job (SerialPort *sp,
          Job        *job)
{
  gboolean accepted;

  g_mutex_lock (&sp->lock);
  accepted = sp->accepting;
  if (accepted && (job->kind == JOB_CLOSE || job->kind == JOB_QUIT))
    sp->accepting = FALSE;
  if (accepted)
    g_async_queue_push (sp->queue, job);
  g_mutex_unlock (&sp->lock);

  if (accepted)
    return;
  if (job->task != NULL)
    {
      if (job->kind == JOB_CLOSE)
        g_task_return_boolean (job->task, TRUE);
      else
        g_task_return_new_error (job->task, G_IO_ERROR, G_IO_ERROR_CLOSED,
                                 _("The serial port %s is closed"), sp->path);
      g_object_unref (job->task);
    }
  g_free (job);
}

static Job *
job_new (JobKind       kind,
         gpointer      source,
         GCancellable *cancellable,
         GAsyncReadyCallback callback,
         gpointer      user_data)
{
  Job *job = g_new0 (Job, 1);

  job->kind = kind;
  job->task = g_task_new (source, cancellable, callback, user_data);
  /* Bytes read stay delivered even if the cancellable fires just after:
   * dropping them would desynchronise the link. */
  g_task_set_check_cancellable (job->task, FALSE);
  return job;
}

typedef struct {
  gboolean      done;
  GAsyncResult *result;
} SyncWait;

static void
sync_done (GObject      *source,
           GAsyncResult *result,
           gpointer      user_data)
{
  SyncWait *wait = user_data;

  wait->result = g_object_ref (result);
  wait->done = TRUE;
}

/* Runs one job to completion from a sync call, on a private context so
 * that nothing else of the caller's runs meanwhile. */
static gssize
run_sync (SerialPort    *sp,
          JobKind        kind,
          gpointer       source,
          void          *buffer,
          gsize          count,
          GCancellable  *cancellable,
          GError       **error)
{
  g_autoptr(GMainContext) context = g_main_context_new ();
  SyncWait wait = { FALSE, NULL };
  Job *job;
  gssize ret;

  g_main_context_push_thread_default (context);
  job = job_new (kind, source, cancellable, sync_done, &wait);
  job->buffer = buffer;
  job->count = count;
  push_job (sp, job);
  while (!wait.done)
    g_main_context_iteration (context, TRUE);
  g_main_context_pop_thread_default (context);

  ret = g_task_propagate_int (G_TASK (wait.result), error);
  g_object_unref (wait.result);
  return ret;
}

static gssize
pp_serial_input_stream_read (GInputStream  *stream,
                             void          *buffer,
                             gsize          count,
                             GCancellable  *cancellable,
                             GError       **error)
{
  PpSerialInputStream *self = PP_SERIAL_INPUT_STREAM (stream);

  return run_sync (self->sp, JOB_READ, stream, buffer, count, cancellable, error);
}

static void
pp_serial_input_stream_read_async (GInputStream        *stream,
                                   void                *buffer,
                                   gsize                count,
                                   int                  io_priority,
                                   GCancellable        *cancellable,
                                   GAsyncReadyCallback  callback,
                                   gpointer             user_data)
{
  PpSerialInputStream *self = PP_SERIAL_INPUT_STREAM (stream);
  Job *job = job_new (JOB_READ, stream, cancellable, callback, user_data);

  g_task_set_priority (job->task, io_priority);
  job->buffer = buffer;
  job->count = count;
  push_job (self->sp, job);
}

static gssize
pp_serial_input_stream_read_finish (GInputStream  *stream,
                                    GAsyncResult  *result,
                                    GError       **error)
{
  return g_task_propagate_int (G_TASK (result), error);
}

static gboolean
pp_serial_input_stream_close (GInputStream  *stream,
                              GCancellable  *cancellable,
                              GError       **error)
{
  /* The port closes with the GIOStream. */
  return TRUE;
}

static void
pp_serial_input_stream_finalize (GObject *object)
{
  PpSerialInputStream *self = PP_SERIAL_INPUT_STREAM (object);

  g_clear_pointer (&self->sp, serial_port_unref);
  G_OBJECT_CLASS (pp_serial_input_stream_parent_class)->finalize (object);
}

static void
pp_serial_input_stream_class_init (PpSerialInputStreamClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GInputStreamClass *stream_class = G_INPUT_STREAM_CLASS (klass);

  object_class->finalize = pp_serial_input_stream_finalize;
  stream_class->read_fn = pp_serial_input_stream_read;
  stream_class->read_async = pp_serial_input_stream_read_async;
  stream_class->read_finish = pp_serial_input_stream_read_finish;
  stream_class->close_fn = pp_serial_input_stream_close;
}

static void
pp_serial_input_stream_init (PpSerialInputStream *self)
{
}

static gssize
pp_serial_output_stream_write (GOutputStream  *stream,
                               const void     *buffer,
                               gsize           count,
                               GCancellable   *cancellable,
                               GError        **error)
{
  PpSerialOutputStream *self = PP_SERIAL_OUTPUT_STREAM (stream);

  return run_sync (self->sp, JOB_WRITE, stream, (void *) buffer, count, cancellable, error);
}

static void
pp_serial_output_stream_write_async (GOutputStream       *stream,
                                     const void          *buffer,
                                     gsize                count,
                                     int                  io_priority,
                                     GCancellable        *cancellable,
                                     GAsyncReadyCallback  callback,
                                     gpointer             user_data)
{
  PpSerialOutputStream *self = PP_SERIAL_OUTPUT_STREAM (stream);
  Job *job = job_new (JOB_WRITE, stream, cancellable, callback, user_data);

  g_task_set_priority (job->task, io_priority);
  job->buffer = (void *) buffer;
  job->count = count;
  push_job (self->sp, job);
}

static gssize
pp_serial_output_stream_write_finish (GOutputStream  *stream,
                                      GAsyncResult   *result,
                                      GError        **error)
{
  return g_task_propagate_int (G_TASK (result), error);
}

static gboolean
pp_serial_output_stream_close (GOutputStream  *stream,
                               GCancellable   *cancellable,
                               GError        **error)
{
  return TRUE;
}

static void
pp_serial_output_stream_finalize (GObject *object)
{
  PpSerialOutputStream *self = PP_SERIAL_OUTPUT_STREAM (object);

  g_clear_pointer (&self->sp, serial_port_unref);
  G_OBJECT_CLASS (pp_serial_output_stream_parent_class)->finalize (object);
}

static void
pp_serial_output_stream_class_init (PpSerialOutputStreamClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GOutputStreamClass *stream_class = G_OUTPUT_STREAM_CLASS (klass);

  object_class->finalize = pp_serial_output_stream_finalize;
  stream_class->write_fn = pp_serial_output_stream_write;
  stream_class->write_async = pp_serial_output_stream_write_async;
  stream_class->write_finish = pp_serial_output_stream_write_finish;
  stream_class->close_fn = pp_serial_output_stream_close;
}

static void
pp_serial_output_stream_init (PpSerialOutputStream *self)
{
}

static GInputStream *
pp_serial_stream_get_input_stream (GIOStream *stream)
{
  return PP_SERIAL_STREAM (stream)->input;
}

static GOutputStream *
pp_serial_stream_get_output_stream (GIOStream *stream)
{
  return PP_SERIAL_STREAM (stream)->output;
}

static gboolean
pp_serial_stream_close (GIOStream     *stream,
                        GCancellable  *cancellable,
                        GError       **error)
{
  PpSerialStream *self = PP_SERIAL_STREAM (stream);
  gssize ret;

  /* The owner fails a read or write still waiting with CLOSED, then
   * closes the port; the sub-streams only record that they are closed
   * (one with an operation in flight refuses: that is not our error). */
  ret = run_sync (self->sp, JOB_CLOSE, stream, NULL, 0, NULL, error);
  g_input_stream_close (self->input, NULL, NULL);
  g_output_stream_close (self->output, NULL, NULL);
  return ret >= 0;
}

static void
pp_serial_stream_finalize (GObject *object)
{
  PpSerialStream *self = PP_SERIAL_STREAM (object);

  /* GIOStream's dispose closed it already; this is a safety net: the
   * owner closes the port and ends. */
  if (self->sp != NULL)
    {
      Job *job = g_new0 (Job, 1);

      job->kind = JOB_QUIT;
      push_job (self->sp, job);
    }
  g_clear_pointer (&self->sp, serial_port_unref);
  g_clear_object (&self->input);
  g_clear_object (&self->output);
  G_OBJECT_CLASS (pp_serial_stream_parent_class)->finalize (object);
}

static void
pp_serial_stream_class_init (PpSerialStreamClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GIOStreamClass *stream_class = G_IO_STREAM_CLASS (klass);

  object_class->finalize = pp_serial_stream_finalize;
  stream_class->get_input_stream = pp_serial_stream_get_input_stream;
  stream_class->get_output_stream = pp_serial_stream_get_output_stream;
  stream_class->close_fn = pp_serial_stream_close;
}

static void
pp_serial_stream_init (PpSerialStream *self)
{
}

static GIOStream *
serial_stream_new (SerialPort *sp)
{
  PpSerialStream *self = g_object_new (PP_TYPE_SERIAL_STREAM, NULL);
  PpSerialInputStream *input = g_object_new (PP_TYPE_SERIAL_INPUT_STREAM, NULL);
  PpSerialOutputStream *output = g_object_new (PP_TYPE_SERIAL_OUTPUT_STREAM, NULL);

  input->sp = serial_port_ref (sp);
  output->sp = serial_port_ref (sp);
  self->sp = serial_port_ref (sp);
  self->input = G_INPUT_STREAM (input);
  self->output = G_OUTPUT_STREAM (output);
  return G_IO_STREAM (self);
}

gboolean
pp_transport_serial_debug_counts (GIOStream  *stream,
                                  GThread   **out_owner,
                                  guint      *out_owner_calls,
                                  guint      *out_foreign_calls)
{
  SerialPort *sp;

  if (!PP_IS_SERIAL_STREAM (stream))
    return FALSE;
  sp = PP_SERIAL_STREAM (stream)->sp;
  if (out_owner != NULL)
    *out_owner = sp->owner_self;
  if (out_owner_calls != NULL)
    *out_owner_calls = (guint) g_atomic_int_get (&sp->owner_calls);
  if (out_foreign_calls != NULL)
    *out_foreign_calls = (guint) g_atomic_int_get (&sp->foreign_calls);
  return TRUE;
}

gboolean
pp_transport_serial_get_settings (GIOStream        *stream,
                                  PpSerialSettings *out_settings)
{
  if (!PP_IS_SERIAL_STREAM (stream))
    return FALSE;
  *out_settings = PP_SERIAL_STREAM (stream)->sp->settings;
  return TRUE;
}

/* ---- the owner thread ---- */

#ifdef __linux__
/* The process (other than none) that has the device @path open, found by
 * its device number among every readable /proc/PID/fd entry. */
static char *
find_holder (const char *path)
{
  g_autoptr(GDir) proc = g_dir_open ("/proc", 0, NULL);
  struct stat device;
  const char *pid;

  if (proc == NULL || stat (path, &device) != 0 || !S_ISCHR (device.st_mode))
    return NULL;
  while ((pid = g_dir_read_name (proc)) != NULL)
    {
      g_autofree char *fd_path = NULL;
      g_autoptr(GDir) fds = NULL;
      const char *fd;

      if (!g_ascii_isdigit (pid[0]))
        continue;
      fd_path = g_build_filename ("/proc", pid, "fd", NULL);
      if ((fds = g_dir_open (fd_path, 0, NULL)) == NULL)
        continue;
      while ((fd = g_dir_read_name (fds)) != NULL)
        {
          g_autofree char *link = g_build_filename (fd_path, fd, NULL);
          struct stat st;

          if (stat (link, &st) == 0 && S_ISCHR (st.st_mode) && st.st_rdev == device.st_rdev)
            {
              g_autofree char *comm_path = g_build_filename ("/proc", pid, "comm", NULL);
              g_autofree char *comm = NULL;

              if (g_file_get_contents (comm_path, &comm, NULL, NULL))
                g_strchomp (comm);
              return g_strdup_printf ("%s (%s)", comm != NULL ? comm : "?", pid);
            }
        }
    }
  return NULL;
}
#else
static char *
find_holder (const char *path)
{
  return NULL;
}
#endif

static GError *
busy_error (const char *path)
{
  g_autofree char *holder = find_holder (path);

  if (holder != NULL)
    return g_error_new (PP_TRANSPORT_ERROR, PP_TRANSPORT_ERROR_BUSY,
                        _("The serial port %s is in use by the process %s: close that program or choose another port"),
                        path, holder);
  return g_error_new (PP_TRANSPORT_ERROR, PP_TRANSPORT_ERROR_BUSY,
                      _("The serial port %s is in use by another program: close it or choose another port"),
                      path);
}

/* The port's settings: the caller's, the rest from the terminal model
 * recognised by the port's USB VID/PID, else 115200 8N1. */
static gboolean
resolve_settings (SerialPort      *sp,
                  struct sp_port  *port,
                  GError         **error)
{
  const PpSerialSettings *req = &sp->requested;
  PpSerialSettings s = { 115200, 8, PP_PARITY_NONE, 1, PP_FLOW_NONE };

  if (req->baud == 0)
    {
      int vid, pid;

      count_call (sp);
      if (sp_get_port_transport (port) == SP_TRANSPORT_USB &&
          sp_get_port_usb_vid_pid (port, &vid, &pid) == SP_OK)
        {
          g_autoptr(GPtrArray) models = pp_terminal_models_load (NULL, error);
          const PpTerminalModel *model;

          if (models == NULL)
            return FALSE;
          model = pp_terminal_models_find_usb (models, (guint16) vid, (guint16) pid);
          if (model != NULL)
            s = model->settings;
        }
      if (req->parity != PP_PARITY_NONE)
        s.parity = req->parity;
      if (req->flow != PP_FLOW_NONE)
        s.flow = req->flow;
    }
  else
    {
      s.baud = req->baud;
      s.parity = req->parity;
      s.flow = req->flow;
    }
  if (req->data_bits != 0)
    s.data_bits = req->data_bits;
  if (req->stop_bits != 0)
    s.stop_bits = req->stop_bits;
  sp->settings = s;
  return TRUE;
}

static gboolean
apply_settings (SerialPort  *sp,
                GError     **error)
{
  static const enum sp_parity parities[] = { SP_PARITY_NONE, SP_PARITY_ODD, SP_PARITY_EVEN };
  static const enum sp_flowcontrol flows[] = {
    SP_FLOWCONTROL_NONE, SP_FLOWCONTROL_RTSCTS, SP_FLOWCONTROL_XONXOFF
  };
  const PpSerialSettings *s = &sp->settings;
  g_autoptr(PpSpConfig) config = NULL;

  if (sp_new_config (&config) != SP_OK ||
      sp_set_config_baudrate (config, (int) s->baud) != SP_OK ||
      sp_set_config_bits (config, (int) s->data_bits) != SP_OK ||
      sp_set_config_parity (config, parities[s->parity]) != SP_OK ||
      sp_set_config_stopbits (config, (int) s->stop_bits) != SP_OK ||
      sp_set_config_flowcontrol (config, flows[s->flow]) != SP_OK ||
      sp_set_config_dtr (config, SP_DTR_ON) != SP_OK ||
      (s->flow != PP_FLOW_RTSCTS && sp_set_config_rts (config, SP_RTS_ON) != SP_OK))
    {
      g_autofree char *text = sp_error_text ();

      g_set_error (error, PP_TRANSPORT_ERROR, PP_TRANSPORT_ERROR_INVALID,
                   _("Bad serial settings for %s: %s"), sp->path, text);
      return FALSE;
    }
  count_call (sp);
  if (sp_set_config (sp->port, config) != SP_OK)
    {
      g_autofree char *text = sp_error_text ();

      g_set_error (error, PP_TRANSPORT_ERROR, PP_TRANSPORT_ERROR_INVALID,
                   _("The serial port %s refuses %u baud, %u%c%u: %s"),
                   sp->path, s->baud, s->data_bits, "NOE"[s->parity], s->stop_bits, text);
      return FALSE;
    }
#if defined(G_OS_UNIX) && defined(CRTSCTS)
  /* libserialport 0.1.1 (Debian 12) accepts RTS/CTS flow control but
   * leaves CRTSCTS out of the termios it writes (seen with strace); set
   * it on the same descriptor, still on the owner thread. */
  if (s->flow == PP_FLOW_RTSCTS)
    {
      struct termios tio;
      int fd = -1;

      count_call (sp);
      if (sp_get_port_handle (sp->port, &fd) == SP_OK && fd >= 0 &&
          tcgetattr (fd, &tio) == 0 && !(tio.c_cflag & CRTSCTS))
        {
          tio.c_cflag |= CRTSCTS;
          if (tcsetattr (fd, TCSANOW, &tio) != 0)
            {
              g_set_error (error, PP_TRANSPORT_ERROR, PP_TRANSPORT_ERROR_INVALID,
                           _("The serial port %s refuses RTS/CTS flow control: %s"),
                           sp->path, g_strerror (errno));
              return FALSE;
            }
        }
    }
#endif
  return TRUE;
}

static gboolean
owner_open (SerialPort  *sp,
            GError     **error)
{
  g_autoptr(PpSpPort) port = NULL;
  enum sp_return ret;

  if (sp_get_port_by_name (sp->path, &port) != SP_OK)
    {
      g_autofree char *text = sp_error_text ();

#ifdef G_OS_UNIX
      if (g_file_test (sp->path, G_FILE_TEST_EXISTS))
        {
          g_set_error (error, PP_TRANSPORT_ERROR, PP_TRANSPORT_ERROR_INVALID,
                       _("%s is not a serial port (%s)"), sp->path, text);
          return FALSE;
        }
#endif
      g_set_error (error, PP_TRANSPORT_ERROR, PP_TRANSPORT_ERROR_NOT_FOUND,
                   _("No serial port %s: check the cable, or list the ports with “posprov-tool device list”"),
                   sp->path);
      return FALSE;
    }

  count_call (sp);
  ret = sp_open (port, SP_MODE_READ_WRITE);
  if (ret != SP_OK)
    {
      int code = sp_last_error_code ();
      g_autofree char *text = sp_error_text ();

      if (ret == SP_ERR_FAIL && (code == EACCES || code == EPERM))
        g_set_error (error, PP_TRANSPORT_ERROR, PP_TRANSPORT_ERROR_PERMISSION,
                     _("No permission to open %s: add yourself to the dialout group (sudo adduser $USER dialout), then log in again"),
                     sp->path);
      else if (ret == SP_ERR_FAIL && code == EBUSY)
        *error = busy_error (sp->path);
      else if (ret == SP_ERR_FAIL && (code == ENOENT || code == ENODEV || code == ENXIO))
        g_set_error (error, PP_TRANSPORT_ERROR, PP_TRANSPORT_ERROR_NOT_FOUND,
                     _("The serial port %s went away (%s): check the cable"), sp->path, text);
      else
        g_set_error (error, PP_TRANSPORT_ERROR, PP_TRANSPORT_ERROR_IO,
                     _("Cannot open the serial port %s: %s"), sp->path, text);
      return FALSE;
    }

#ifdef G_OS_UNIX
  {
    int fd = -1;

    /* Unix lets any number of programs open a tty; two talking to one
     * terminal garble each other.  An advisory lock keeps out a second
     * posprov (and anything else that locks), TIOCEXCL other openers that
     * are not root. */
    if (sp_get_port_handle (port, &fd) == SP_OK && fd >= 0)
      {
        if (flock (fd, LOCK_EX | LOCK_NB) != 0 && errno == EWOULDBLOCK)
          {
            count_call (sp);
            sp_close (port);
            *error = busy_error (sp->path);
            return FALSE;
          }
        (void) ioctl (fd, TIOCEXCL);
      }
  }
#endif

  sp->port = g_steal_pointer (&port);
  if (!resolve_settings (sp, sp->port, error) || !apply_settings (sp, error))
    {
      sp_close (sp->port);
      g_clear_pointer (&sp->port, sp_free_port);
      return FALSE;
    }
  /* Stale bytes from before we opened belong to nobody. */
  count_call (sp);
  sp_flush (sp->port, SP_BUF_INPUT);

  for (int mask = 1; mask <= 3; mask++)
    {
      enum sp_event events = 0;

      if (mask & 1)
        events |= SP_EVENT_RX_READY;
      if (mask & 2)
        events |= SP_EVENT_TX_READY;
      if (sp_new_event_set (&sp->events[mask]) != SP_OK ||
          sp_add_port_events (sp->events[mask], sp->port, events) != SP_OK)
        {
          g_autofree char *text = sp_error_text ();

          g_set_error (error, PP_TRANSPORT_ERROR, PP_TRANSPORT_ERROR_IO,
                       _("Cannot wait on the serial port %s: %s"), sp->path, text);
          return FALSE;
        }
    }
  return TRUE;
}

static void
owner_close (SerialPort *sp)
{
  for (int mask = 1; mask <= 3; mask++)
    g_clear_pointer (&sp->events[mask], sp_free_event_set);
  if (sp->port != NULL)
    {
      count_call (sp);
      sp_close (sp->port);
      g_clear_pointer (&sp->port, sp_free_port);
    }
}

static void
job_free (Job *job)
{
  g_clear_object (&job->task);
  g_free (job);
}

static void
job_fail (Job    *job,
          GError *error)
{
  g_task_return_error (job->task, error);
  job_free (job);
}

static void
job_done (Job    *job,
          gssize  value)
{
  g_task_return_int (job->task, value);
  job_free (job);
}

static GError *
io_error (SerialPort *sp,
          gboolean    reading)
{
  g_autofree char *text = sp_error_text ();

  return g_error_new (PP_TRANSPORT_ERROR, PP_TRANSPORT_ERROR_IO,
                      reading ? _("Reading from the serial port %s failed: %s")
                              : _("Writing to the serial port %s failed: %s"),
                      sp->path, text);
}

static GError *
closed_error (SerialPort *sp)
{
  return g_error_new (G_IO_ERROR, G_IO_ERROR_CLOSED,
                      _("The serial port %s is closed"), sp->path);
}

/* One step of the waiting write: TRUE when it finished. */
static gboolean
serve_write (SerialPort *sp,
             Job        *job)
{
  GError *error = NULL;
  enum sp_return ret;

  if (g_task_return_error_if_cancelled (job->task))
    {
      job_free (job);
      return TRUE;
    }
  if (job->count == 0)
    {
      job_done (job, 0);
      return TRUE;
    }
  count_call (sp);
  ret = sp_nonblocking_write (sp->port, job->buffer, job->count);
  /* 0.1.1 reports a full output buffer as a failure with EAGAIN. */
  if (ret == SP_ERR_FAIL && (sp_last_error_code () == EAGAIN ||
                             sp_last_error_code () == EWOULDBLOCK))
    ret = 0;
  if (ret < 0)
    {
      int code = sp_last_error_code ();

      error = io_error (sp, FALSE);
      if (ret == SP_ERR_FAIL && (code == EIO || code == ENXIO || code == ENODEV))
        error->code = PP_TRANSPORT_ERROR_CLOSED;
      job_fail (job, error);
      return TRUE;
    }
  if (ret > 0)
    {
      job_done (job, ret);
      return TRUE;
    }
  return FALSE;
}

/* One step of the waiting read: TRUE when it finished. */
static gboolean
serve_read (SerialPort *sp,
            Job        *job,
            guint      *empty_wakeups)
{
  enum sp_return ret;

  if (g_task_return_error_if_cancelled (job->task))
    {
      job_free (job);
      return TRUE;
    }
  if (job->count == 0)
    {
      job_done (job, 0);
      return TRUE;
    }
  count_call (sp);
  ret = sp_nonblocking_read (sp->port, job->buffer, job->count);
  if (ret == SP_ERR_FAIL && (sp_last_error_code () == EAGAIN ||
                             sp_last_error_code () == EWOULDBLOCK))
    ret = 0;
  if (ret < 0)
    {
      /* A pty whose other side closed, a USB adapter pulled out: the end
       * of the stream, as a TCP peer closing is. */
      if (ret == SP_ERR_FAIL && sp_last_error_code () == EIO)
        job_done (job, 0);
      else
        job_fail (job, io_error (sp, TRUE));
      return TRUE;
    }
  if (ret > 0)
    {
      *empty_wakeups = 0;
      job_done (job, ret);
      return TRUE;
    }
  if (*empty_wakeups >= HANGUP_WAKEUPS)
    {
      job_done (job, 0);
      return TRUE;
    }
  return FALSE;
}

static gpointer
owner_main (gpointer data)
{
  SerialPort *sp = data;
  Job *reading = NULL, *writing = NULL;
  gboolean running = TRUE;
  guint empty_wakeups = 0;

  sp->owner_self = g_thread_self ();
  while (running || reading != NULL || writing != NULL)
    {
      Job *job;

      /* Nothing waiting on the port: sleep on the queue. */
      job = (reading == NULL && writing == NULL) ? g_async_queue_pop (sp->queue)
                                                 : g_async_queue_try_pop (sp->queue);
      for (; job != NULL; job = g_async_queue_try_pop (sp->queue))
        {
          GError *error = NULL;

          switch (job->kind)
            {
            case JOB_OPEN:
              /* Cancelled after a successful open, the task drops the
               * stream, whose dispose closes the port. */
              if (g_cancellable_set_error_if_cancelled (g_task_get_cancellable (job->task), &error) ||
                  !owner_open (sp, &error))
                {
                  owner_close (sp);
                  job_fail (job, error);
                  running = FALSE;
                  g_mutex_lock (&sp->lock);
                  sp->accepting = FALSE;
                  g_mutex_unlock (&sp->lock);
                }
              else
                {
                  g_task_return_pointer (job->task, serial_stream_new (sp), g_object_unref);
                  job_free (job);
                }
              break;
            case JOB_READ:
              if (reading != NULL)
                job_fail (job, g_error_new_literal (G_IO_ERROR, G_IO_ERROR_PENDING,
                                                    "read already pending"));
              else
                reading = job, empty_wakeups = 0;
              break;
            case JOB_WRITE:
              if (writing != NULL)
                job_fail (job, g_error_new_literal (G_IO_ERROR, G_IO_ERROR_PENDING,
                                                    "write already pending"));
              else
                writing = job;
              break;
            case JOB_CLOSE:
            case JOB_QUIT:
              if (reading != NULL)
                job_fail (g_steal_pointer (&reading), closed_error (sp));
              if (writing != NULL)
                job_fail (g_steal_pointer (&writing), closed_error (sp));
              owner_close (sp);
              if (job->task != NULL)
                job_done (job, 0);
              else
                job_free (job);
              running = FALSE;
              break;
            default:
              g_assert_not_reached ();
            }
        }

      if (writing != NULL && serve_write (sp, writing))
        writing = NULL;
      if (reading != NULL && serve_read (sp, reading, &empty_wakeups))
        reading = NULL;

      if (reading != NULL || writing != NULL)
        {
          int mask = (reading != NULL ? 1 : 0) | (writing != NULL ? 2 : 0);
          gint64 start = g_get_monotonic_time ();

          count_call (sp);
          if (sp_wait (sp->events[mask], SLICE_MS) != SP_OK)
            g_usleep (SLICE_MS * 1000);
          /* Woken early with nothing to read, again and again: a tty that
           * hung up reads 0 bytes for ever. */
          if (reading != NULL && g_get_monotonic_time () - start < SLICE_MS * 1000 / 2 &&
              (writing == NULL))
            empty_wakeups++;
          else
            empty_wakeups = 0;
        }
    }

  owner_close (sp);
  serial_port_unref (sp);
  return NULL;
}

void
pp_transport_serial_open (GTask                  *task,
                          const char             *path,
                          const PpSerialSettings *settings)
{
  SerialPort *sp = g_new0 (SerialPort, 1);
  g_autofree char *name = NULL;
  g_autoptr(GError) error = NULL;
  GThread *owner;
  Job *job;

  /* One reference for the owner thread, one for this function: the thread
   * may open, fail and end before g_thread_try_new() has even returned. */
  sp->ref_count = 2;
  sp->path = g_strdup (path);
  if (settings != NULL)
    sp->requested = *settings;
  sp->queue = g_async_queue_new ();
  sp->accepting = TRUE;
  g_mutex_init (&sp->lock);

  job = g_new0 (Job, 1);
  job->kind = JOB_OPEN;
  job->task = g_object_ref (task);
  g_async_queue_push (sp->queue, job);

  name = g_strdup_printf ("pp-serial %s", path);
  /* The thread holds its reference until the port closes. */
  owner = g_thread_try_new (name, owner_main, sp, &error);
  if (owner == NULL)
    {
      g_async_queue_pop (sp->queue);
      g_task_return_new_error (task, PP_TRANSPORT_ERROR, PP_TRANSPORT_ERROR_IO,
                               _("Cannot start the thread for %s: %s"), path, error->message);
      job_free (job);
      serial_port_unref (sp);   /* the thread's, never taken */
    }
  else
    sp->owner = owner;
  serial_port_unref (sp);
}
