/* SPDX-License-Identifier: GPL-3.0-or-later
 *
 * pp-terminal-state.c: the terminal lifecycle. The transition table below is
 * the only place that says which state may follow which.
 */
#include "config.h"

#include <glib/gi18n-lib.h>

#include "pp-store.h"
#include "pp-terminal.h"

static const struct {
  const char *id;
  const char *label;
} state_names[PP_N_TERMINAL_STATES] = {
  [PP_TERMINAL_STATE_RECEIVED] = { "received", N_("Received") },
  [PP_TERMINAL_STATE_IN_STOCK] = { "in_stock", N_("In stock") },
  [PP_TERMINAL_STATE_PENDING_INSTALL] = { "pending_install", N_("Pending install") },
  [PP_TERMINAL_STATE_KEYED] = { "keyed", N_("Keyed") },
  [PP_TERMINAL_STATE_INSTALLED] = { "installed", N_("Installed") },
  [PP_TERMINAL_STATE_RECYCLED] = { "recycled", N_("Recycled") },
  [PP_TERMINAL_STATE_QUARANTINED] = { "quarantined", N_("Quarantined") },
  [PP_TERMINAL_STATE_RETIRED] = { "retired", N_("Retired") },
};

#define BIT(s) (1u << (s))

/* allowed[from] = set of states @from may go to. */
static const guint allowed[PP_N_TERMINAL_STATES] = {
  [PP_TERMINAL_STATE_RECEIVED] = BIT (PP_TERMINAL_STATE_IN_STOCK),
  [PP_TERMINAL_STATE_IN_STOCK] = BIT (PP_TERMINAL_STATE_PENDING_INSTALL)
                                 | BIT (PP_TERMINAL_STATE_QUARANTINED)
                                 | BIT (PP_TERMINAL_STATE_RETIRED),
  [PP_TERMINAL_STATE_PENDING_INSTALL] = BIT (PP_TERMINAL_STATE_KEYED)
                                        | BIT (PP_TERMINAL_STATE_IN_STOCK)
                                        | BIT (PP_TERMINAL_STATE_QUARANTINED),
  [PP_TERMINAL_STATE_KEYED] = BIT (PP_TERMINAL_STATE_INSTALLED)
                              | BIT (PP_TERMINAL_STATE_QUARANTINED),
  [PP_TERMINAL_STATE_INSTALLED] = BIT (PP_TERMINAL_STATE_RECYCLED)
                                  | BIT (PP_TERMINAL_STATE_QUARANTINED),
  [PP_TERMINAL_STATE_RECYCLED] = BIT (PP_TERMINAL_STATE_IN_STOCK)
                                 | BIT (PP_TERMINAL_STATE_QUARANTINED)
                                 | BIT (PP_TERMINAL_STATE_RETIRED),
  [PP_TERMINAL_STATE_QUARANTINED] = BIT (PP_TERMINAL_STATE_IN_STOCK)
                                    | BIT (PP_TERMINAL_STATE_RETIRED),
  [PP_TERMINAL_STATE_RETIRED] = 0,
};

static gboolean
state_is_valid (PpTerminalState state)
{
  return state >= 0 && state < PP_N_TERMINAL_STATES;
}

const char *
pp_terminal_state_to_string (PpTerminalState state)
{
  g_return_val_if_fail (state_is_valid (state), NULL);
  return state_names[state].id;
}

gboolean
pp_terminal_state_from_string (const char      *s,
                               PpTerminalState *out)
{
  g_return_val_if_fail (s != NULL, FALSE);

  for (int i = 0; i < PP_N_TERMINAL_STATES; i++)
    {
      if (g_str_equal (s, state_names[i].id))
        {
          if (out != NULL)
            *out = (PpTerminalState) i;
          return TRUE;
        }
    }
  return FALSE;
}

const char *
pp_terminal_state_get_label (PpTerminalState state)
{
  g_return_val_if_fail (state_is_valid (state), NULL);
  return g_dgettext (GETTEXT_PACKAGE, state_names[state].label);
}

gboolean
pp_terminal_state_can_transition (PpTerminalState from,
                                  PpTerminalState to)
{
  if (!state_is_valid (from) || !state_is_valid (to))
    return FALSE;
  return (allowed[from] & BIT (to)) != 0;
}

gboolean
pp_terminal_state_check_transition (PpTerminalState   from,
                                    PpTerminalState   to,
                                    GError          **error)
{
  if (!state_is_valid (from) || !state_is_valid (to))
    {
      g_set_error (error, PP_STORE_ERROR, PP_STORE_ERROR_ILLEGAL_TRANSITION,
                   _("unknown terminal state in transition %d -> %d"), from, to);
      return FALSE;
    }
  if (!pp_terminal_state_can_transition (from, to))
    {
      g_set_error (error, PP_STORE_ERROR, PP_STORE_ERROR_ILLEGAL_TRANSITION,
                   _("terminal is %s; cannot go %s -> %s"),
                   state_names[from].id, state_names[from].id, state_names[to].id);
      return FALSE;
    }
  return TRUE;
}
