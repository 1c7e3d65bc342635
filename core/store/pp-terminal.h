/* SPDX-License-Identifier: GPL-3.0-or-later
 *
 * pp-terminal.h: one row of the terminal register and its lifecycle states.
 */
#pragma once

#include <glib-object.h>
#include <json-glib/json-glib.h>

G_BEGIN_DECLS

typedef enum {
  PP_TERMINAL_STATE_RECEIVED,        /* "received" */
  PP_TERMINAL_STATE_IN_STOCK,        /* "in_stock" */
  PP_TERMINAL_STATE_PENDING_INSTALL, /* "pending_install" (reserved by a work order) */
  PP_TERMINAL_STATE_KEYED,           /* "keyed" */
  PP_TERMINAL_STATE_INSTALLED,       /* "installed" */
  PP_TERMINAL_STATE_RECYCLED,        /* "recycled" */
  PP_TERMINAL_STATE_QUARANTINED,     /* "quarantined" */
  PP_TERMINAL_STATE_RETIRED,         /* "retired" */
  PP_N_TERMINAL_STATES,
  PP_TERMINAL_STATE_ANY = -1,        /* filter value only */
} PpTerminalState;

const char *pp_terminal_state_to_string   (PpTerminalState  state);   /* "in_stock" */
gboolean    pp_terminal_state_from_string (const char      *s,
                                           PpTerminalState *out);
const char *pp_terminal_state_get_label   (PpTerminalState  state);   /* translated, "In stock" */

/* The lifecycle, kept in one table in pp-terminal-state.c:
 *   received        -> in_stock
 *   in_stock        -> pending_install | quarantined | retired
 *   pending_install -> keyed | in_stock (order cancelled) | quarantined
 *   keyed           -> installed | quarantined
 *   installed       -> recycled | quarantined
 *   recycled        -> in_stock | quarantined | retired
 *   quarantined     -> in_stock (after inspection) | retired
 *   retired         -> (nothing)
 * A state never goes to itself. */
gboolean    pp_terminal_state_can_transition   (PpTerminalState  from,
                                                PpTerminalState  to);
/* FALSE with PP_STORE_ERROR_ILLEGAL_TRANSITION, message
 * "terminal is installed; cannot go installed -> keyed". */
gboolean    pp_terminal_state_check_transition (PpTerminalState  from,
                                                PpTerminalState  to,
                                                GError         **error);

/* Read-only GObject, one row of the register (no key material, a KCV is not a key). */
#define PP_TYPE_TERMINAL (pp_terminal_get_type ())
G_DECLARE_FINAL_TYPE (PpTerminal, pp_terminal, PP, TERMINAL, GObject)

/* A row as another registry sent it (pp_terminal_to_json's fields). */
PpTerminal     *pp_terminal_new                  (const char      *serial,
                                                  const char      *vendor,
                                                  const char      *model,
                                                  PpTerminalState  state,
                                                  const char      *cert_fingerprint,
                                                  const char      *mid,
                                                  const char      *tid,
                                                  const char      *program_version,
                                                  const char      *kcv,
                                                  gint64           created_at,
                                                  gint64           updated_at);

/* properties (all read-only, G_PARAM_STATIC_STRINGS): "serial", "vendor", "model",
 * "state" (int, PpTerminalState), "cert-fingerprint", "mid", "tid", "program-version",
 * "kcv", "created-at" (int64 unix s), "updated-at" (int64) */
const char     *pp_terminal_get_serial           (PpTerminal *self);
const char     *pp_terminal_get_vendor           (PpTerminal *self);
const char     *pp_terminal_get_model            (PpTerminal *self);
PpTerminalState pp_terminal_get_state            (PpTerminal *self);
const char     *pp_terminal_get_mid              (PpTerminal *self);   /* nullable */
const char     *pp_terminal_get_tid              (PpTerminal *self);   /* nullable */
const char     *pp_terminal_get_program_version  (PpTerminal *self);   /* nullable */
const char     *pp_terminal_get_kcv              (PpTerminal *self);   /* nullable */
const char     *pp_terminal_get_cert_fingerprint (PpTerminal *self);   /* nullable */
gint64          pp_terminal_get_created_at       (PpTerminal *self);
gint64          pp_terminal_get_updated_at       (PpTerminal *self);
/* Object with the fields above ("serial", "vendor", "model", "state" as string,
 * "cert_fingerprint", "mid", "tid", "program_version", "kcv", "created_at",
 * "updated_at"; absent values are JSON null). */
JsonNode       *pp_terminal_to_json              (PpTerminal *self);

G_END_DECLS
