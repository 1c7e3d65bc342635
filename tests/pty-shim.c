/* SPDX-License-Identifier: GPL-3.0-or-later
 *
 * pty-shim.c: an LD_PRELOAD module for the serial test rig.  libserialport
 * reads and sets the modem lines (TIOCMGET, TIOCMSET, TIOCMBIS, TIOCMBIC)
 * when it opens and configures a port; a pseudo-terminal has no modem lines
 * and answers ENOTTY, so sp_open fails on one.  This module answers those
 * requests (and TIOCGSERIAL, which libserialport asks of 8250 ports while
 * listing them) with success, on pty slaves only, keeping the line bits per
 * process.  Every other request, and every request on another device, goes
 * to the C library unchanged.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <stdarg.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <linux/serial.h>

int ioctl (int fd, unsigned long request, ...);

/* Unix98 pty slaves: majors 136 to 143 (Documentation/admin-guide/devices.txt). */
static int
is_pty_slave (int fd)
{
  struct stat st;

  return fstat (fd, &st) == 0 && S_ISCHR (st.st_mode) &&
         major (st.st_rdev) >= 136 && major (st.st_rdev) <= 143;
}

static int modem_bits = TIOCM_DTR | TIOCM_RTS | TIOCM_CTS | TIOCM_DSR | TIOCM_CAR;

int
ioctl (int           fd,
       unsigned long request,
       ...)
{
  static int (*real_ioctl) (int, unsigned long, ...);
  va_list ap;
  void *arg;
  int ret;

  va_start (ap, request);
  arg = va_arg (ap, void *);
  va_end (ap);

  if (real_ioctl == NULL)
    real_ioctl = (int (*) (int, unsigned long, ...)) dlsym (RTLD_NEXT, "ioctl");

  ret = real_ioctl (fd, request, arg);
  if (ret == 0 || (errno != ENOTTY && errno != EINVAL) || !is_pty_slave (fd))
    return ret;

  switch (request)
    {
    case TIOCMGET:
      *(int *) arg = modem_bits;
      return 0;
    case TIOCMSET:
      modem_bits = *(const int *) arg;
      return 0;
    case TIOCMBIS:
      modem_bits |= *(const int *) arg;
      return 0;
    case TIOCMBIC:
      modem_bits &= ~*(const int *) arg;
      return 0;
    case TIOCGSERIAL:
      memset (arg, 0, sizeof (struct serial_struct));
      ((struct serial_struct *) arg)->type = PORT_16550A;
      ((struct serial_struct *) arg)->baud_base = 115200;
      return 0;
    default:
      return ret;
    }
}
