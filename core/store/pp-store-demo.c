/* SPDX-License-Identifier: GPL-3.0-or-later
 *
 * pp-store-demo.c: the demo inventory shown on a station's first start.
 */
#include "config.h"

#include "pp-store-private.h"

static const struct {
  const char *prefix;
  const char *vendor;
  const char *model;
} demo_models[] = {
  { "PAX", "PAX", "A920" },
  { "VFN", "Verifone", "V200c" },
  { "ING", "Ingenico", "Move/5000" },
  { "NLD", "Newland", "N910" },
  { "SUN", "Sunmi", "P2 Pro" },
};

/* Out of every 20 terminals: mostly in stock or installed, a few in each other state. */
static PpTerminalState
demo_state (guint i)
{
  static const PpTerminalState spread[20] = {
    PP_TERMINAL_STATE_IN_STOCK, PP_TERMINAL_STATE_IN_STOCK, PP_TERMINAL_STATE_IN_STOCK,
    PP_TERMINAL_STATE_IN_STOCK, PP_TERMINAL_STATE_IN_STOCK, PP_TERMINAL_STATE_IN_STOCK,
    PP_TERMINAL_STATE_INSTALLED, PP_TERMINAL_STATE_INSTALLED, PP_TERMINAL_STATE_INSTALLED,
    PP_TERMINAL_STATE_INSTALLED, PP_TERMINAL_STATE_INSTALLED, PP_TERMINAL_STATE_INSTALLED,
    PP_TERMINAL_STATE_RECEIVED, PP_TERMINAL_STATE_RECEIVED,
    PP_TERMINAL_STATE_PENDING_INSTALL, PP_TERMINAL_STATE_PENDING_INSTALL,
    PP_TERMINAL_STATE_KEYED, PP_TERMINAL_STATE_RECYCLED,
    PP_TERMINAL_STATE_QUARANTINED, PP_TERMINAL_STATE_RETIRED,
  };
  return spread[i % G_N_ELEMENTS (spread)];
}

gboolean
pp_store_is_demo (PpStore *self)
{
  g_autofree char *flag = NULL;

  g_return_val_if_fail (PP_IS_STORE (self), FALSE);

  flag = pp_store_get_setting (self, "demo", NULL, NULL);
  return flag != NULL && g_str_equal (flag, "1");
}

static gboolean
seed_terminals (PpStore  *self,
                guint     n_terminals,
                GError  **error)
{
  g_autoptr(sqlite3_stmt) stmt = NULL;
  gint64 now = pp_store_now ();

  stmt = pp_store_prepare (self,
                           "INSERT INTO terminals (serial, vendor, model, state, created_at, updated_at) "
                           "VALUES (?, ?, ?, ?, ?, ?)", error);
  if (stmt == NULL)
    return FALSE;

  for (guint i = 0; i < n_terminals; i++)
    {
      guint m = i % G_N_ELEMENTS (demo_models);
      char serial[32];

      g_snprintf (serial, sizeof serial, "%s%07u", demo_models[m].prefix, i + 1);
      sqlite3_reset (stmt);
      sqlite3_bind_text (stmt, 1, serial, -1, SQLITE_TRANSIENT);
      sqlite3_bind_text (stmt, 2, demo_models[m].vendor, -1, SQLITE_STATIC);
      sqlite3_bind_text (stmt, 3, demo_models[m].model, -1, SQLITE_STATIC);
      sqlite3_bind_text (stmt, 4, pp_terminal_state_to_string (demo_state (i)), -1, SQLITE_STATIC);
      sqlite3_bind_int64 (stmt, 5, now);
      sqlite3_bind_int64 (stmt, 6, now);
      if (sqlite3_step (stmt) != SQLITE_DONE)
        {
          pp_store_set_sql_error (self, error, "cannot seed demo terminals");
          return FALSE;
        }
    }
  return TRUE;
}

gboolean
pp_store_seed_demo (PpStore  *self,
                    guint     n_terminals,
                    GError  **error)
{
  g_autofree char *flag = NULL;
  g_autoptr(GError) local = NULL;
  g_autoptr(JsonBuilder) detail = json_builder_new ();

  g_return_val_if_fail (PP_IS_STORE (self), FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  if (!pp_store_begin (self, error))
    return FALSE;

  /* Checked inside the write transaction so two first starts seed once. */
  flag = pp_store_get_setting (self, "demo", NULL, &local);
  if (local != NULL)
    {
      g_propagate_error (error, g_steal_pointer (&local));
      goto fail;
    }
  if (flag != NULL)
    {
      pp_store_rollback (self);
      return TRUE;
    }

  if (!seed_terminals (self, n_terminals, error))
    goto fail;
  if (!pp_store_put_setting (self, "demo", "1", error))
    goto fail;

  json_builder_begin_object (detail);
  json_builder_set_member_name (detail, "terminals");
  json_builder_add_int_value (detail, n_terminals);
  json_builder_end_object (detail);
  if (!pp_store_audit_append (self, "posprov", "store.seed_demo", "demo inventory",
                              json_builder_get_root (detail), error))
    goto fail;

  return pp_store_commit (self, error);

fail:
  pp_store_rollback (self);
  return FALSE;
}
