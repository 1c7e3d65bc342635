/* SPDX-License-Identifier: GPL-3.0-or-later
 *
 * pp-pty-rig.c: the serial test rig (pp-pty-rig.h), moved here from
 * test-transport.c so that the termsim tests use it too.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <unistd.h>

#include <glib.h>
#include <glib/gstdio.h>

#include "pp-pty-rig.h"

PpPtyRig pp_pty_rig;

static gboolean
shim_active (void)
{
  int fds[2] = { -1, -1 };
  int bits = 0;
  gboolean ok;
  int master = posix_openpt (O_RDWR | O_NOCTTY);
  int slave;

  if (master < 0 || grantpt (master) != 0 || unlockpt (master) != 0)
    return FALSE;
  slave = open (ptsname (master), O_RDWR | O_NOCTTY);
  ok = slave >= 0 && ioctl (slave, TIOCMGET, &bits) == 0;
  if (slave >= 0)
    close (slave);
  close (master);
  (void) fds;
  return ok;
}

void
pp_pty_rig_init (void)
{
  const char *name;
  g_autoptr(GDir) dev = NULL;

  if (geteuid () != 0)
    {
      pp_pty_rig.skip_reason = g_strdup ("the serial rig needs root (a private mount namespace, unshare -m)");
      return;
    }
  if (!shim_active ())
    {
      pp_pty_rig.skip_reason = g_strdup ("tests/pty-shim.c is not preloaded (build/tests/libpty-shim.so missing?)");
      return;
    }
  if (unshare (CLONE_NEWNS) != 0 ||
      mount (NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) != 0)
    {
      pp_pty_rig.skip_reason = g_strdup_printf ("no private mount namespace here (unshare -m: %s)",
                                         g_strerror (errno));
      return;
    }
  dev = g_dir_open ("/dev", 0, NULL);
  while (dev != NULL && (name = g_dir_read_name (dev)) != NULL)
    {
      g_autofree char *sys = g_build_filename ("/sys/class/tty", name, NULL);

      if (g_str_has_prefix (name, "ttyS") && g_file_test (sys, G_FILE_TEST_EXISTS) &&
          (pp_pty_rig.target == NULL || strcmp (name, pp_pty_rig.target + 5) < 0))
        {
          g_free (pp_pty_rig.target);
          pp_pty_rig.target = g_build_filename ("/dev", name, NULL);
        }
    }
  if (pp_pty_rig.target == NULL)
    pp_pty_rig.skip_reason = g_strdup ("no /dev/ttyS* node known to /sys/class/tty to mount a pty over");
}

gboolean
pp_pty_rig_skip (void)
{
  if (pp_pty_rig.target != NULL)
    return FALSE;
  g_test_skip (pp_pty_rig.skip_reason);
  return TRUE;
}

/* The serial tests need the shim preloaded before libserialport loads:
 * the test becomes its own launcher. */
void
pp_pty_rig_reexec (char **argv)
{
  const char *builddir = g_getenv ("G_TEST_BUILDDIR");
  const char *preload = g_getenv ("LD_PRELOAD");
  const char *asan = g_getenv ("ASAN_OPTIONS");
  g_autofree char *shim = NULL;
  g_autofree char *new_preload = NULL;
  g_autofree char *new_asan = NULL;

  if (geteuid () != 0 || builddir == NULL || g_getenv ("PP_TEST_SHIM_TRIED") != NULL)
    return;
  shim = g_build_filename (builddir, "libpty-shim.so", NULL);
  if (!g_file_test (shim, G_FILE_TEST_EXISTS))
    return;
  new_preload = preload != NULL && preload[0] != '\0' ? g_strdup_printf ("%s:%s", preload, shim)
                                                      : g_strdup (shim);
  /* Under AddressSanitizer the shim is loaded before its runtime. */
  new_asan = asan != NULL && asan[0] != '\0' ? g_strdup_printf ("%s:verify_asan_link_order=0", asan)
                                             : g_strdup ("verify_asan_link_order=0");
  g_setenv ("LD_PRELOAD", new_preload, TRUE);
  g_setenv ("ASAN_OPTIONS", new_asan, TRUE);
  g_setenv ("PP_TEST_SHIM_TRIED", "1", TRUE);
  execv ("/proc/self/exe", argv);
}

void
pp_pty_rig_mount (const char *slave)
{
  g_assert_nonnull (pp_pty_rig.target);
  g_assert_no_errno (mount (slave, pp_pty_rig.target, NULL, MS_BIND, NULL));
}

void
pp_pty_rig_umount (void)
{
  g_assert_no_errno (umount2 (pp_pty_rig.target, MNT_DETACH));
}
