/* SPDX-License-Identifier: GPL-3.0-or-later
 *
 * pp-store-demo.c: the demo inventory of a demo store. It obeys the rules
 * of real data: terminals bound to merchants got there through work orders
 * and approvals, each account has its own salt.
 */
#include "config.h"

#include <glib/gi18n-lib.h>

#include "pp-password.h"
#include "pp-store-private.h"

/* Demo accounts, documented in pp-store.h: never for a real station. */
#define DEMO_PASSWORD PP_STORE_DEMO_PASSWORD

static const struct {
  const char *username;
  const char *display_name;
  PpUserRole role;
} demo_users[] = {
  { "alice", "Alice (field manager)", PP_USER_ROLE_FIELD_MANAGER },
  { "bob", "Bob (reviewer)", PP_USER_ROLE_REVIEWER },
  { "carol", "Carol (administrator)", PP_USER_ROLE_ADMINISTRATOR },
};
/* Who runs and who approves the demo's work orders. */
#define DEMO_RUNNER 0
#define DEMO_REVIEWER 1

static const PpMerchantFields demo_merchants[] = {
  { "Lucky Noodle House", "91310000MA1FL7XW2B", "88 Nanjing Road, Shanghai", "5812",
    "Li Wei", "+86 138 0013 8000" },
  { "Golden Dragon Supermarket", "91440300MA5DC1QX8K", "12 Shennan Avenue, Shenzhen", "5411",
    "Chen Jing", "+86 139 2345 6789" },
  { "West Lake Tea Shop", "91330106MA27XY3P4N", "3 Longjing Road, Hangzhou", "5499",
    "Wang Fang", "+86 137 5555 0101" },
  { "Pearl River Pharmacy", "91440101MA59RT2L6C", "200 Beijing Road, Guangzhou", "5912",
    "Zhao Lei", "+86 136 8888 2020" },
  { "Harbour Books", "91110105MA01AB2C3D", "7 Sanlitun Road, Beijing", "5942",
    "Liu Yang", "+86 135 1234 5678" },
  { "Sunrise Fuel Station", "91510100MA6CGH7J9E", "55 Tianfu Avenue, Chengdu", "5541",
    "Huang Min", "+86 133 9876 5432" },
};

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
  guint k = G_N_ELEMENTS (demo_models);

  /* The inventory lists one vendor's terminals together (every k-th i):
   * step through the spread by 7, coprime to 20, so neighbouring rows show
   * different states while every 20 terminals of a vendor keep the mix. */
  return spread[((i / k) * 7 + i % k) % G_N_ELEMENTS (spread)];
}

gboolean
pp_store_is_demo (PpStore *self)
{
  g_autofree char *flag = NULL;

  g_return_val_if_fail (PP_IS_STORE (self), FALSE);

  flag = pp_store_get_setting (self, "demo", NULL, NULL);
  return flag != NULL && g_str_equal (flag, "1");
}

/* The j-th terminal in serial order: terminal i has model i % 5, and the
 * models sorted by serial prefix are 2 (ING), 3 (NLD), 0 (PAX), 4 (SUN), 1 (VFN). */
static guint
demo_index (guint j,
            guint n)
{
  static const guint order[] = { 2, 3, 0, 4, 1 };
  guint k = G_N_ELEMENTS (demo_models);

  for (guint o = 0; o < k; o++)
    {
      guint m = order[o];
      guint count = n > m ? (n - m + k - 1) / k : 0;   /* i < n with i % k == m */

      if (j < count)
        return m + j * k;
      j -= count;
    }
  g_assert_not_reached ();
}

/* How many terminals, from the first, keep the full spread of states. Each
 * bound one costs a chain of work-order steps with their journal entries
 * (about half a millisecond); beyond this a demo register is stock, so a
 * demo of 100 000 terminals seeds in a second, not half a minute. */
#define DEMO_ORDERED_TERMINALS 2000

/* States a terminal reaches only through work orders. */
static gboolean
state_needs_orders (PpTerminalState state)
{
  return state == PP_TERMINAL_STATE_PENDING_INSTALL || state == PP_TERMINAL_STATE_KEYED ||
         state == PP_TERMINAL_STATE_INSTALLED || state == PP_TERMINAL_STATE_RECYCLED;
}

static gboolean
seed_merchants (PpStore  *self,
                gint64    ids[],
                char      mids[][16],
                GError  **error)
{
  g_autoptr(sqlite3_stmt) stmt = NULL;
  gint64 now = pp_store_now ();

  stmt = pp_store_prepare (self,
                           "INSERT INTO merchants (name, registration_number, address, mcc, "
                           "contact_name, contact_phone, mid, created_at, updated_at) "
                           "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", error);
  if (stmt == NULL)
    return FALSE;
  for (guint i = 0; i < G_N_ELEMENTS (demo_merchants); i++)
    {
      const PpMerchantFields *f = &demo_merchants[i];

      if (!pp_store_issue_number (self, "mid", mids[i], error))
        return FALSE;
      sqlite3_reset (stmt);
      sqlite3_bind_text (stmt, 1, f->name, -1, SQLITE_STATIC);
      sqlite3_bind_text (stmt, 2, f->registration_number, -1, SQLITE_STATIC);
      sqlite3_bind_text (stmt, 3, f->address, -1, SQLITE_STATIC);
      sqlite3_bind_text (stmt, 4, f->mcc, -1, SQLITE_STATIC);
      sqlite3_bind_text (stmt, 5, f->contact_name, -1, SQLITE_STATIC);
      sqlite3_bind_text (stmt, 6, f->contact_phone, -1, SQLITE_STATIC);
      sqlite3_bind_text (stmt, 7, mids[i], -1, SQLITE_STATIC);
      sqlite3_bind_int64 (stmt, 8, now);
      sqlite3_bind_int64 (stmt, 9, now);
      if (sqlite3_step (stmt) != SQLITE_DONE)
        {
          /* A store that already holds these registration numbers. */
          pp_store_set_sql_error (self, error, _("cannot seed demo merchants"));
          return FALSE;
        }
      ids[i] = sqlite3_last_insert_rowid (self->db);
    }
  return TRUE;
}

static gboolean
seed_terminals (PpStore  *self,
                guint     n_terminals,
                GError  **error)
{
  g_autoptr(sqlite3_stmt) stmt = NULL;
  gint64 merchant_ids[G_N_ELEMENTS (demo_merchants)];
  char mids[G_N_ELEMENTS (demo_merchants)][16];
  gint64 now = pp_store_now ();

  if (!seed_merchants (self, merchant_ids, mids, error))
    return FALSE;

  stmt = pp_store_prepare (self,
                           "INSERT INTO terminals (serial, vendor, model, state, cert_fingerprint, "
                           "created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?)", error);
  if (stmt == NULL)
    return FALSE;

  /* Vendor by vendor (ING, NLD, PAX, SUN, VFN), so rows arrive in key order
   * and the B-tree fills by appending. */
  for (guint j = 0; j < n_terminals; j++)
    {
      guint i = demo_index (j, n_terminals);
      guint m = i % G_N_ELEMENTS (demo_models);
      PpTerminalState state = demo_state (i);
      char serial[32];
      char fingerprint[65];
      char kcv[11];

      if (i >= DEMO_ORDERED_TERMINALS && state_needs_orders (state))
        state = PP_TERMINAL_STATE_IN_STOCK;
      guint32 h;

      g_snprintf (serial, sizeof serial, "%s%07u", demo_models[m].prefix, i + 1);
      h = g_str_hash (serial);
      sqlite3_reset (stmt);
      sqlite3_clear_bindings (stmt);
      sqlite3_bind_text (stmt, 1, serial, -1, SQLITE_TRANSIENT);
      sqlite3_bind_text (stmt, 2, demo_models[m].vendor, -1, SQLITE_STATIC);
      sqlite3_bind_text (stmt, 3, demo_models[m].model, -1, SQLITE_STATIC);
      /* A terminal bound to a merchant enters stock and gets there by its orders. */
      sqlite3_bind_text (stmt, 4, pp_terminal_state_to_string (state_needs_orders (state)
                                                               ? PP_TERMINAL_STATE_IN_STOCK : state),
                         -1, SQLITE_STATIC);
      if (state != PP_TERMINAL_STATE_RECEIVED)
        {
          /* A made-up certificate fingerprint: demo devices have no certificate. */
          g_snprintf (fingerprint, sizeof fingerprint, "%08X%056X", h, 0);
          sqlite3_bind_text (stmt, 5, fingerprint, -1, SQLITE_TRANSIENT);
        }
      sqlite3_bind_int64 (stmt, 6, now);
      sqlite3_bind_int64 (stmt, 7, now);
      if (sqlite3_step (stmt) != SQLITE_DONE)
        {
          pp_store_set_sql_error (self, error, _("cannot seed demo terminals"));
          return FALSE;
        }
      if (!state_needs_orders (state))
        continue;

      /* A made-up AES KCV (5 bytes): a demo has no key store. */
      g_snprintf (kcv, sizeof kcv, "%06X%04X", h & 0xFFFFFF, (h >> 16) & 0xFFFF);
      if (!pp_store_demo_run_orders (self, serial, merchant_ids[(h >> 8) % G_N_ELEMENTS (demo_merchants)],
                                     (h & 1) ? "2.4.1" : "2.3.7", kcv, state,
                                     demo_users[DEMO_RUNNER].username,
                                     demo_users[DEMO_REVIEWER].username, error))
        return FALSE;
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
  char *hashes[G_N_ELEMENTS (demo_users)] = { NULL, };
  gboolean ok = FALSE;

  g_return_val_if_fail (PP_IS_STORE (self), FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  if (pp_store_is_demo (self))
    return TRUE;

  /* scrypt is slow on purpose: hash before taking the write lock. Each
   * account its own salt, as for real accounts: one cracked hash must not
   * open the others, even where the password is the same. */
  for (guint i = 0; i < G_N_ELEMENTS (demo_users); i++)
    {
      hashes[i] = pp_password_hash (DEMO_PASSWORD, &local);
      if (hashes[i] == NULL)
        {
          g_set_error (error, PP_STORE_ERROR, PP_STORE_ERROR_SQL, _("cannot hash demo password: %s"),
                       local->message);
          goto out;
        }
    }

  if (!pp_store_begin (self, error))
    goto out;

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
      ok = TRUE;
      goto out;
    }
  /* Demo accounts never enter a real store. */
  if (!pp_store_check_demo_seed (self, error))
    goto fail;

  for (guint i = 0; i < G_N_ELEMENTS (demo_users); i++)
    {
      g_autoptr(PpUser) existing = pp_store_lookup_user (self, demo_users[i].username, NULL, NULL);

      /* A station whose administrator already created one of these names keeps it. */
      if (existing == NULL &&
          !pp_store_insert_user (self, demo_users[i].username, demo_users[i].display_name,
                                 demo_users[i].role, hashes[i], "posprov", error))
        goto fail;
    }
  if (!seed_terminals (self, n_terminals, error))
    goto fail;
  if (!pp_store_put_setting (self, "demo", "1", error))
    goto fail;

  json_builder_begin_object (detail);
  json_builder_set_member_name (detail, "terminals");
  json_builder_add_int_value (detail, n_terminals);
  json_builder_set_member_name (detail, "merchants");
  json_builder_add_int_value (detail, G_N_ELEMENTS (demo_merchants));
  json_builder_end_object (detail);
  if (!pp_store_audit_append (self, "posprov", "store.seed_demo", "demo inventory",
                              json_builder_get_root (detail), error))
    goto fail;

  ok = pp_store_commit (self, error);
  goto out;

fail:
  pp_store_rollback (self);
out:
  for (guint i = 0; i < G_N_ELEMENTS (demo_users); i++)
    g_free (hashes[i]);
  return ok;
}
