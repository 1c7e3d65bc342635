/* SPDX-License-Identifier: GPL-3.0-or-later
 *
 * pp-fault-stream.h: a GIOStream that puts a bad cable between a terminal
 * and its link (posprov-termsim serve --corrupt/--drop/--emulate-baud/
 * --disconnect-after, docs/termsim.md). Deterministic for a given seed.
 */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

typedef struct {
  double   corrupt;   /* 0..1: chance that one write (a frame), or one read, gets one bit flipped */
  double   drop;      /* 0..1: chance that one write (a frame) is discarded */
  guint    baud;      /* 0: no pacing; else bytes pass at @baud / 10 per second, each way */
  guint64  seed;      /* the random faults are a function of the seed */
} PpFaultSettings;

#define PP_TYPE_FAULT_STREAM (pp_fault_stream_get_type ())
G_DECLARE_FINAL_TYPE (PpFaultStream, pp_fault_stream, PP, FAULT_STREAM, GIOStream)

/* Wraps @base (referenced; closed with the fault stream). The terminal's
 * side of the link uses one thread at a time, as pp_link_serve does. */
PpFaultStream *pp_fault_stream_new (GIOStream             *base,
                                    const PpFaultSettings *settings);

/* Pulls the cable: @base is closed (a TCP peer sees the connection end),
 * reads from now on see end of stream and writes fail with
 * G_IO_ERROR_CONNECTION_CLOSED. */
void           pp_fault_stream_cut (PpFaultStream *stream);

/* What the faults did so far (for the log and the tests). */
guint          pp_fault_stream_get_corrupted (PpFaultStream *stream);
guint          pp_fault_stream_get_dropped   (PpFaultStream *stream);

G_END_DECLS
