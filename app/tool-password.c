/* SPDX-License-Identifier: GPL-3.0-or-later
 *
 * tool-password.c: asking for a new password.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include <gio/gio.h>
#include <glib/gi18n.h>
#include <openssl/crypto.h>

#include "tool-password.h"

#define MAX_PASSWORD 256

/* One line from @fd (without echo when @hidden) into @buf, after @prompt
 * on @out_fd; FALSE at end of input. */
static gboolean
read_line_from (int         fd,
                int         out_fd,
                const char *prompt,
                gboolean    hidden,
                char        buf[MAX_PASSWORD + 1])
{
  struct termios old, quiet;
  gboolean restore = hidden && tcgetattr (fd, &old) == 0;
  gsize n = 0;
  gboolean ok = FALSE;

  if (write (out_fd, prompt, strlen (prompt)) < 0)
    return FALSE;
  if (restore)
    {
      quiet = old;
      quiet.c_lflag &= ~(tcflag_t) ECHO;
      tcsetattr (fd, TCSAFLUSH, &quiet);
    }
  for (;;)
    {
      char c;
      ssize_t r = read (fd, &c, 1);

      if (r < 0 && errno == EINTR)
        continue;
      if (r <= 0)
        break;
      if (c == '\n' || c == '\r')
        {
          ok = TRUE;
          break;
        }
      if (n < MAX_PASSWORD)
        buf[n++] = c;
    }
  buf[n] = '\0';
  if (restore)
    tcsetattr (fd, TCSAFLUSH, &old);
  if (hidden && write (out_fd, "\n", 1) < 0)
    return FALSE;
  return ok;
}

static gboolean
read_line (int         fd,
           const char *prompt,
           gboolean    hidden,
           char        buf[MAX_PASSWORD + 1])
{
  return read_line_from (fd, fd, prompt, hidden, buf);
}

static gboolean
read_hidden (int         fd,
             const char *prompt,
             char        buf[MAX_PASSWORD + 1])
{
  return read_line (fd, prompt, TRUE, buf);
}

PpSecureBuffer *
pp_tool_new_password (const char  *env_name,
                      const char  *prompt,
                      GError     **error)
{
  const char *env = g_getenv (env_name);
  char first[MAX_PASSWORD + 1], second[MAX_PASSWORD + 1];
  PpSecureBuffer *password = NULL;
  int fd;

  if (env != NULL && *env != '\0')
    return pp_secure_buffer_new_from ((const guint8 *) env, strlen (env) + 1);

  fd = open ("/dev/tty", O_RDWR | O_CLOEXEC | O_NOCTTY);
  if (fd < 0)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_NOT_CONNECTED,
                   _("no terminal to ask for the password on; set %s"), env_name);
      return NULL;
    }
  if (!read_hidden (fd, prompt, first) || !read_hidden (fd, _("Type it again: "), second))
    g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_FAILED, _("no password was typed"));
  else if (strcmp (first, second) != 0)
    g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA, _("the two passwords typed differ"));
  else
    password = pp_secure_buffer_new_from ((const guint8 *) first, strlen (first) + 1);
  OPENSSL_cleanse (first, sizeof first);
  OPENSSL_cleanse (second, sizeof second);
  close (fd);
  return password;
}

PpSecureBuffer *
pp_tool_ask (const char  *prompt,
             gboolean     hidden,
             GError     **error)
{
  char line[MAX_PASSWORD + 1];
  PpSecureBuffer *answer = NULL;
  int fd;

  /* Piped in (a script, a test): one line of stdin per question, the
   * prompt on stderr; read a byte at a time, so nothing after it is taken. */
  if (!isatty (STDIN_FILENO))
    {
      if (!read_line_from (STDIN_FILENO, STDERR_FILENO, prompt, FALSE, line))
        g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_FAILED, _("nothing was typed"));
      else
        answer = pp_secure_buffer_new_from ((const guint8 *) line, strlen (line) + 1);
      OPENSSL_cleanse (line, sizeof line);
      return answer;
    }
  fd = open ("/dev/tty", O_RDWR | O_CLOEXEC | O_NOCTTY);
  if (fd < 0)
    {
      g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_NOT_CONNECTED,
                           _("no terminal to ask on: run this where someone can type"));
      return NULL;
    }
  if (!read_line (fd, prompt, hidden, line))
    g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_FAILED, _("nothing was typed"));
  else
    answer = pp_secure_buffer_new_from ((const guint8 *) line, strlen (line) + 1);
  OPENSSL_cleanse (line, sizeof line);
  close (fd);
  return answer;
}
