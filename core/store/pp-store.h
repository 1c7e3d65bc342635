/* SPDX-License-Identifier: GPL-3.0-or-later
 *
 * pp-store.h: the provisioning domain store (terminal register, merchants,
 * work orders, approvals, users, audit journal) over one SQLite file.
 *
 * One PpStore per thread; two threads use two PpStore on the same file.
 * Every verb that changes data runs in one BEGIN IMMEDIATE transaction and
 * appends its audit entry inside that same transaction: either the change
 * and its journal entry are both stored, or neither is.
 */
#pragma once

#include <glib-object.h>
#include <json-glib/json-glib.h>

#include "pp-terminal.h"

G_BEGIN_DECLS

#define PP_STORE_ERROR (pp_store_error_quark ())
typedef enum {
  PP_STORE_ERROR_OPEN,            /* cannot open / not a database */
  PP_STORE_ERROR_NEWER_SCHEMA,    /* "database schema version N is newer than this posprov (M)" */
  PP_STORE_ERROR_SQL,             /* unexpected SQLite failure */
  PP_STORE_ERROR_NOT_FOUND,       /* no such serial / order / user */
  PP_STORE_ERROR_DUPLICATE,       /* serial already registered, etc. */
  PP_STORE_ERROR_ILLEGAL_TRANSITION, /* message names current state and transition */
  PP_STORE_ERROR_INVALID,         /* field validation failed; message names the field */
  PP_STORE_ERROR_PERMISSION,      /* wrong role, self-approval, bad password */
  PP_STORE_ERROR_BUSY,
  PP_STORE_ERROR_KCV_MISMATCH,    /* reported KCV differs from the expected one */
} PpStoreError;

GQuark pp_store_error_quark (void);

#define PP_TYPE_STORE (pp_store_get_type ())
G_DECLARE_FINAL_TYPE (PpStore, pp_store, PP, STORE, GObject)

/* Opens/creates the SQLite file (parent dirs created), WAL, foreign keys, busy timeout,
 * applies migrations. One PpStore per thread; two threads = two PpStore on the same file. */
PpStore    *pp_store_open               (const char  *path,
                                         GError     **error);
const char *pp_store_get_path           (PpStore     *self);
int         pp_store_get_schema_version (PpStore     *self);
/* Highest migration this build knows. */
int         pp_store_get_supported_schema_version (void);

/* Terminal intake (asset import). All rows in ONE transaction: either all are added or none
 * (then error says which serial failed, e.g. duplicate). New terminals enter as "in_stock".
 * Writes one audit entry per call. */
typedef struct {
  const char *serial;   /* validated with pp_validate_serial, stored upper case */
  const char *vendor;
  const char *model;
} PpTerminalIntake;

gboolean    pp_store_add_terminals (PpStore                *self,
                                    const PpTerminalIntake *rows,
                                    guint                   n_rows,
                                    const char             *actor,
                                    GError                **error);
/* Same, entering as @initial_state: PP_TERMINAL_STATE_RECEIVED (delivered, not yet
 * checked into stock) or PP_TERMINAL_STATE_IN_STOCK; any other is PP_STORE_ERROR_INVALID. */
gboolean    pp_store_add_terminals_in_state (PpStore                *self,
                                             const PpTerminalIntake *rows,
                                             guint                   n_rows,
                                             PpTerminalState         initial_state,
                                             const char             *actor,
                                             GError                **error);
gboolean    pp_store_has_terminal  (PpStore                *self,
                                    const char             *serial,
                                    gboolean               *out_exists,
                                    GError                **error);
PpTerminal *pp_store_get_terminal  (PpStore                *self,
                                    const char             *serial,
                                    GError                **error); /* NOT_FOUND */

/* Listing for the inventory and the tool. serial_search: NULL/"" = all; else case-insensitive
 * substring. state: PP_TERMINAL_STATE_ANY or one state. Ordered by serial. */
guint       pp_store_count_terminals (PpStore         *self,
                                      const char      *serial_search,
                                      PpTerminalState  state,
                                      GError         **error);
GPtrArray  *pp_store_list_terminals  (PpStore         *self,
                                      const char      *serial_search,
                                      PpTerminalState  state,
                                      guint            offset,
                                      guint            limit,
                                      GError         **error);  /* element-type PpTerminal, owned */

/* Moves one terminal along the lifecycle (see pp-terminal.h) and journals it.
 * Illegal moves fail with PP_STORE_ERROR_ILLEGAL_TRANSITION, e.g.
 * "terminal ABC123 is installed; cannot go installed -> keyed". @reason may be NULL. */
gboolean    pp_store_transition_terminal (PpStore         *self,
                                          const char      *serial,
                                          PpTerminalState  to,
                                          const char      *actor,
                                          const char      *reason,
                                          GError         **error);

/* Demo data on first start: n terminals spread over the states, demo merchants, and demo
 * users "alice" (field manager), "bob" (reviewer), "carol" (administrator) with password
 * "demo" (demo only: never use these accounts on a real station). Idempotent: does nothing
 * if already seeded. */
gboolean    pp_store_seed_demo (PpStore *self,
                                guint    n_terminals,
                                GError **error);
gboolean    pp_store_is_demo   (PpStore *self);  /* TRUE once seeded */

/* Audit journal: append-only; entry seq n (1, 2, 3, ... without gaps) stores
 *   hash_n = hex (SHA-256 (canonical (seq, time, actor, action, subject, detail, prev_hash)))
 * where prev_hash is hash_(n-1) (64 zeros for n = 1) and canonical() writes each field as a
 * netstring "<decimal byte length>:<bytes>," (integers in decimal), so no two different
 * entries serialise alike. The last seq and hash are also kept in a one-row head table.
 *
 * verify walks the entries by seq and reports, as *out_first_bad_seq, the first of:
 *  - a missing seq (an entry was deleted, also at the end of the journal): the deleted seq;
 *  - an entry whose stored hash does not match its fields (edited, or moved to another
 *    seq, e.g. two entries swapped): that entry's seq;
 *  - an entry whose prev_hash differs from the previous entry's hash (the previous entry
 *    was rewritten with a fresh hash): the previous entry's seq.
 * So: editing entry k reports k; deleting entry k reports k; swapping entries j < k reports j.
 * Returns TRUE if intact; else FALSE with PP_STORE_ERROR_INVALID describing the problem.
 * out_n_entries = entries checked. Both out parameters are optional. */
gboolean    pp_store_audit_verify (PpStore  *self,
                                   gint64   *out_first_bad_seq,
                                   guint64  *out_n_entries,
                                   GError  **error);

G_END_DECLS
