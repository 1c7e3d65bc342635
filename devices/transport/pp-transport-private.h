/* SPDX-License-Identifier: GPL-3.0-or-later
 *
 * pp-transport-private.h: what the transport files share, and the test
 * hooks (tests/test-transport.c); not for the link layer.
 */
#pragma once

#include "pp-transport.h"

G_BEGIN_DECLS

/* Each completes @task (a GTask with no source object) with a GIOStream. */
void     pp_transport_tcp_open    (GTask                   *task,
                                   const char              *host,
                                   guint16                  port);
void     pp_transport_serial_open (GTask                   *task,
                                   const char              *path,
                                   const PpSerialSettings  *settings);

/* Test hook: for a serial stream, the owner thread and how many
 * libserialport calls on the open port ran on it and on any other thread
 * (always 0 unless the design is broken).  FALSE for any other stream. */
gboolean pp_transport_serial_debug_counts (GIOStream  *stream,
                                           GThread   **out_owner,
                                           guint      *out_owner_calls,
                                           guint      *out_foreign_calls);

/* The settings the port was opened with (after the model lookup), or
 * FALSE for a stream that is not serial. */
gboolean pp_transport_serial_get_settings (GIOStream         *stream,
                                           PpSerialSettings  *out_settings);

G_END_DECLS
