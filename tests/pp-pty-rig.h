/* SPDX-License-Identifier: GPL-3.0-or-later
 *
 * pp-pty-rig.h: the serial test rig of issue 7, shared by the tests that
 * open a pty through the real libserialport: as root, a private mount
 * namespace in which a pty slave is bind-mounted over an existing
 * /dev/ttyS* node, with tests/pty-shim.c preloaded to answer the
 * modem-line ioctls on ptys.
 */
#pragma once

#include <glib.h>

typedef struct {
  char *target;        /* the /dev/ttyS* node ptys are mounted over; NULL: no rig */
  char *skip_reason;   /* why not, when target is NULL */
} PpPtyRig;

extern PpPtyRig pp_pty_rig;

/* Before g_test_init: as root, re-executes the test with the shim in
 * LD_PRELOAD (once). */
void     pp_pty_rig_reexec (char **argv);
/* After g_test_init, in the test's main process: enters the namespace
 * and picks the target, or records why not. */
void     pp_pty_rig_init   (void);
/* In a test: TRUE (and the test skipped with the reason) without a rig. */
gboolean pp_pty_rig_skip   (void);
/* Bind-mounts @slave (a /dev/pts/N) over the target; undone by umount. */
void     pp_pty_rig_mount  (const char *slave);
void     pp_pty_rig_umount (void);
