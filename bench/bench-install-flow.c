/* SPDX-License-Identifier: GPL-3.0-or-later
 *
 * bench-install-flow.c: the one-visit install's own overhead (issue 9,
 * "Performance"): N whole installs through PpInstallFlow against the local
 * registry on a store made by `posprov-registry init` and the real
 * posprov-termsim at --emulate-baud 115200 (tests/pp-install-fixture.c),
 * and as the baseline N installs made of the same registry and terminal
 * calls in sequence without the flow (same link, same crypto, same store),
 * alternating, one fresh terminal each, after one untimed warm-up.  Printed: the wall time per step
 * both ways and the flow's overhead, (flow - direct) / direct; goal < 10 %.
 *
 *   bench-install-flow [--installs N] [--baud B] [--quick]
 *
 * --quick: one install each way over an unthrottled link, to prove the
 * benchmark works (the test bench-install-flow-quick).
 */
#include "config.h"

#include <locale.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>

#include "pp-install-fixture.h"
#include "pp-install-flow.h"
#include "pp-kcv.h"
#include "pp-link-device.h"
#include "pp-link.h"
#include "pp-program-package.h"
#include "pp-registry-local.h"

/* The flow's steps an install goes through, in order: the rows printed. */
static const PpInstallStep steps[] = {
  PP_INSTALL_STEP_CHECK, PP_INSTALL_STEP_MERCHANT, PP_INSTALL_STEP_ORDER, PP_INSTALL_STEP_APPROVAL,
  PP_INSTALL_STEP_CONNECT, PP_INSTALL_STEP_IDENTIFY, PP_INSTALL_STEP_BIND, PP_INSTALL_STEP_KEY_NONCE,
  PP_INSTALL_STEP_KEY_TOKEN, PP_INSTALL_STEP_KEY_LOAD, PP_INSTALL_STEP_KEY_KCV, PP_INSTALL_STEP_SIGN_ON_TEST,
  PP_INSTALL_STEP_PROGRAM, PP_INSTALL_STEP_CLOSE,
};
#define N_STEPS G_N_ELEMENTS (steps)

typedef struct {
  double step[PP_INSTALL_STEP_FAILED + 1];   /* seconds, summed over the installs */
  double total;
} Times;

typedef struct {
  PpInstallFixture fx;
  PpRegistry *registry;
  PpTestTermsimServer server;
  GHashTable *devices;   /* serial -> PpTerminalDevice */
} Bench;

static gboolean
on_timeout (gpointer data)
{
  g_error ("timed out waiting for %s", (const char *) data);
  return G_SOURCE_REMOVE;
}

static void
on_result (GObject      *source,
           GAsyncResult *result,
           gpointer      data)
{
  *(GAsyncResult **) data = g_object_ref (result);
}

/* Iterates the main context until *@result is set (120 s at most); the
 * caller owns the result and clears it. */
static GAsyncResult *
wait_result (GAsyncResult **result,
             const char    *what)
{
  guint timeout;

  g_clear_object (result);
  timeout = g_timeout_add_seconds (120, on_timeout, (gpointer) what);
  while (*result == NULL)
    g_main_context_iteration (NULL, TRUE);
  g_source_remove (timeout);
  return *result;
}

static double
now (void)
{
  return g_get_monotonic_time () / (double) G_USEC_PER_SEC;
}

/* ---- through the flow ---- */

typedef struct {
  Times *times;
  PpInstallStep step;
  double since;
} StepClock;

static void
on_step (PpInstallFlow *flow,
         GParamSpec    *pspec,
         StepClock     *c)
{
  double t = now ();

  c->times->step[c->step] += t - c->since;
  c->step = pp_install_flow_get_step (flow);
  c->since = t;
}

static void
install_flow (Bench      *b,
              const char *serial,
              Times      *times)
{
  g_autoptr(PpInstallFlow) flow = pp_install_flow_new (b->registry, "alice");
  g_autoptr(GAsyncResult) result = NULL;
  g_autoptr(GError) error = NULL;
  StepClock clock = { times, PP_INSTALL_STEP_SCAN, 0 };
  double t0;

  g_assert_true (pp_install_flow_set_serial (flow, serial, &error));
  g_assert_true (pp_install_flow_set_merchant_id (flow, b->fx.merchant_id, &error));
  g_assert_true (pp_install_flow_set_program (flow, PP_INSTALL_PROGRAM, PP_INSTALL_VERSION, &error));
  /* bob, signed in at this station, approves: no one waits for a screen elsewhere */
  g_assert_true (pp_install_flow_set_reviewer (flow, b->registry, "bob", TRUE, "at the counter", &error));
  g_assert_no_error (error);
  pp_install_flow_set_operator (flow, 1, PP_INSTALL_OPERATOR_PW);
  pp_install_flow_set_device (flow, g_hash_table_lookup (b->devices, serial));
  g_signal_connect (flow, "notify::step", G_CALLBACK (on_step), &clock);

  t0 = clock.since = now ();
  pp_install_flow_run_async (flow, NULL, on_result, &result);
  if (!pp_install_flow_run_finish (flow, wait_result (&result, "the flow"), &error))
    g_error ("the install of %s through the flow failed: %s", serial, error->message);
  times->total += now () - t0;
  g_assert_cmpint (pp_install_flow_get_step (flow), ==, PP_INSTALL_STEP_DONE);
}

/* ---- the same calls, one after another ---- */

static char *
new_key (void)
{
  return g_uuid_string_random ();
}

static void
install_direct (Bench      *b,
                const char *serial,
                Times      *times)
{
  PpRegistry *r = b->registry;
  PpTerminalDevice *d = g_hash_table_lookup (b->devices, serial);
  g_autoptr(GAsyncResult) res = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(PpWorkOrder) order = NULL;
  g_autofree char *model = NULL, *kcv = NULL;
  double t0, t;

#define STEP_START() (t = now ())
#define STEP_END(s) (times->step[PP_INSTALL_STEP_##s] += now () - t)
#define OK(x) G_STMT_START { if (!(x)) g_error ("direct install of %s: %s", serial, error->message); } G_STMT_END
#define KEEP(var, x) G_STMT_START { (var) = (x); OK ((var) != NULL); } G_STMT_END

  t0 = now ();

  STEP_START ();
  {
    g_autoptr(PpRegistrySerialCheck) c = NULL;

    pp_registry_lookup_serial_async (r, serial, NULL, NULL, on_result, &res);
    KEEP (c, pp_registry_lookup_serial_finish (r, wait_result (&res, "lookup"), &error));
    g_assert_cmpint (c->status, ==, PP_REGISTRY_SERIAL_INSTALLABLE);
    model = g_strdup (pp_terminal_get_model (c->terminal));
  }
  STEP_END (CHECK);

  STEP_START ();
  {
    g_autoptr(GPtrArray) programs = NULL;
    g_autofree char *key = new_key ();

    pp_registry_list_programs_async (r, model, NULL, on_result, &res);
    KEEP (programs, pp_registry_list_programs_finish (r, wait_result (&res, "catalogue"), &error));
    pp_registry_create_install_order_async (r, serial, b->fx.merchant_id, PP_INSTALL_VERSION, PP_TMK_AES_128,
                                            "alice", key, NULL, on_result, &res);
    KEEP (order, pp_registry_create_install_order_finish (r, wait_result (&res, "order"), &error));
  }
  STEP_END (ORDER);

  STEP_START ();
  {
    g_autoptr(PpRegistryApproval) a = NULL, decided = NULL;
    g_autofree char *key = new_key (), *key2 = new_key ();

    pp_registry_request_approval_async (r, order->uuid, serial, NULL, "alice", key, NULL, on_result, &res);
    KEEP (a, pp_registry_request_approval_finish (r, wait_result (&res, "approval request"), &error));
    pp_registry_decide_approval_async (r, a->uuid, TRUE, "at the counter", "bob", key2, NULL, on_result, &res);
    KEEP (decided, pp_registry_decide_approval_finish (r, wait_result (&res, "approval"), &error));
    g_clear_pointer (&order, pp_work_order_free);
    pp_registry_get_order_async (r, decided->order_uuid, NULL, on_result, &res);
    KEEP (order, pp_registry_get_order_finish (r, wait_result (&res, "approved order"), &error));
  }
  STEP_END (APPROVAL);

  STEP_START ();
  {
    g_autoptr(PpTerminalInfo) info = NULL;
    g_autoptr(PpTerminalStatus) status = NULL;

    pp_terminal_device_identify_async (d, NULL, on_result, &res);
    KEEP (info, pp_terminal_device_identify_finish (d, wait_result (&res, "identify"), &error));
    g_assert_cmpstr (info->serial, ==, serial);
    pp_terminal_device_status_async (d, NULL, on_result, &res);
    KEEP (status, pp_terminal_device_status_finish (d, wait_result (&res, "status"), &error));
  }
  STEP_END (IDENTIFY);

  STEP_START ();
  {
    g_autoptr(GBytes) ct_kdh = NULL;
    g_autofree char *key = new_key (), *bound = NULL;

    pp_registry_issue_kdh_credential_async (r, order->uuid, "alice", key, NULL, on_result, &res);
    KEEP (ct_kdh, pp_registry_issue_kdh_credential_finish (r, wait_result (&res, "CT_KDH"), &error));
    pp_terminal_device_bind_async (d, ct_kdh, NULL, on_result, &res);
    KEEP (bound, pp_terminal_device_bind_finish (d, wait_result (&res, "bind"), &error));
  }
  STEP_END (BIND);

  {
    g_autoptr(GBytes) ct_krd = NULL, rt_krd = NULL, kt_kdh = NULL;
    g_autofree char *key = new_key ();

    STEP_START ();
    pp_terminal_device_get_ct_krd_async (d, NULL, on_result, &res);
    KEEP (ct_krd, pp_terminal_device_get_ct_krd_finish (d, wait_result (&res, "CT_KRD"), &error));
    pp_terminal_device_get_nonce_async (d, NULL, on_result, &res);
    KEEP (rt_krd, pp_terminal_device_get_nonce_finish (d, wait_result (&res, "RT_KRD"), &error));
    STEP_END (KEY_NONCE);

    STEP_START ();
    pp_registry_issue_key_token_async (r, order->uuid, ct_krd, rt_krd, "alice", key, NULL, on_result, &res);
    KEEP (kt_kdh, pp_registry_issue_key_token_finish (r, wait_result (&res, "KT_KDH"), &error));
    STEP_END (KEY_TOKEN);

    STEP_START ();
    pp_terminal_device_load_key_async (d, kt_kdh, -1, NULL, on_result, &res);
    OK (pp_terminal_device_load_key_finish (d, wait_result (&res, "load key"), NULL, &kcv, &error));
    STEP_END (KEY_LOAD);
  }

  STEP_START ();
  {
    g_autofree char *key = new_key ();
    g_autofree char *uuid = g_strdup (order->uuid);

    g_clear_pointer (&order, pp_work_order_free);
    pp_registry_confirm_kcv_async (r, uuid, kcv, "alice", key, NULL, on_result, &res);
    KEEP (order, pp_registry_confirm_kcv_finish (r, wait_result (&res, "KCV"), &error));
  }
  STEP_END (KEY_KCV);

  STEP_START ();
  {
    g_autoptr(PpRegistrySignOnKeys) keys = NULL;
    g_autofree char *pin_kcv = NULL, *mac_kcv = NULL;

    pp_registry_issue_sign_on_keys_async (r, order->uuid, "alice", NULL, on_result, &res);
    KEEP (keys, pp_registry_issue_sign_on_keys_finish (r, wait_result (&res, "sign-on keys"), &error));
    pp_terminal_device_sign_on_async (d, 1, PP_INSTALL_OPERATOR_PW, keys->pin_block, keys->mac_block, NULL,
                                      on_result, &res);
    OK (pp_terminal_device_sign_on_finish (d, wait_result (&res, "sign on"), &pin_kcv, &mac_kcv, &error));
    g_assert_true (pp_kcv_equal (pin_kcv, keys->pin_kcv));
    g_assert_true (mac_kcv == NULL || pp_kcv_equal (mac_kcv, keys->mac_kcv));
    pp_terminal_device_sign_off_async (d, NULL, on_result, &res);
    OK (pp_terminal_device_sign_off_finish (d, wait_result (&res, "sign off"), &error));
  }
  STEP_END (SIGN_ON_TEST);

  STEP_START ();
  {
    g_autoptr(GBytes) bytes = NULL;
    g_autoptr(PpProgramPackage) package = NULL;
    g_autofree char *key = new_key ();
    g_autofree char *uuid = g_strdup (order->uuid);

    pp_registry_get_program_package_async (r, PP_INSTALL_PROGRAM, PP_INSTALL_VERSION, model, NULL, on_result, &res);
    KEEP (bytes, pp_registry_get_program_package_finish (r, wait_result (&res, "package"), &error));
    KEEP (package, pp_program_package_new_from_bytes (bytes, &error));
    pp_terminal_device_push_program_async (d, package, NULL, NULL, NULL, on_result, &res);
    OK (pp_terminal_device_push_program_finish (d, wait_result (&res, "push"), NULL, &error));
    g_clear_pointer (&order, pp_work_order_free);
    pp_registry_program_installed_async (r, uuid, "alice", key, NULL, on_result, &res);
    KEEP (order, pp_registry_program_installed_finish (r, wait_result (&res, "installed"), &error));
  }
  STEP_END (PROGRAM);

  STEP_START ();
  {
    g_autofree char *key = new_key ();
    g_autofree char *uuid = g_strdup (order->uuid);

    g_clear_pointer (&order, pp_work_order_free);
    pp_registry_close_order_async (r, uuid, "alice", key, NULL, on_result, &res);
    KEEP (order, pp_registry_close_order_finish (r, wait_result (&res, "close"), &error));
    g_assert_cmpint (order->state, ==, PP_WORK_ORDER_STATE_CLOSED);
  }
  STEP_END (CLOSE);

#undef STEP_START
#undef STEP_END
#undef OK
#undef KEEP
  times->total += now () - t0;
}

/* ---- setup and report ---- */

static PpTerminalDevice *
open_device (const char *port)
{
  g_autoptr(GAsyncResult) result = NULL;
  g_autoptr(GError) error = NULL;
  PpSerialSettings settings = { 0, };
  PpLinkDevice *device;

  pp_link_device_open_async (port, &settings, NULL, on_result, &result);
  device = pp_link_device_open_finish (wait_result (&result, "the port"), &error);
  if (device == NULL)
    g_error ("cannot open %s: %s", port, error->message);
  /* As bench-program: at 115200 baud a window of 16 KiB frames takes
   * seconds to be acknowledged, longer than the link's default 1 s. */
  pp_link_set_timeouts (pp_link_device_get_link (device), 60000, 60000, 3);
  return PP_TERMINAL_DEVICE (device);
}

/* Opens every port and identifies the terminal on it (untimed: both ways
 * start from a connected link). */
static void
connect_fleet (Bench     *b,
               GPtrArray *ports)
{
  b->devices = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_object_unref);
  for (guint i = 0; i < ports->len; i++)
    {
      g_autoptr(PpTerminalDevice) d = open_device (g_ptr_array_index (ports, i));
      g_autoptr(GAsyncResult) result = NULL;
      g_autoptr(GError) error = NULL;
      g_autoptr(PpTerminalInfo) info = NULL;

      pp_terminal_device_identify_async (d, NULL, on_result, &result);
      info = pp_terminal_device_identify_finish (d, wait_result (&result, "identify"), &error);
      if (info == NULL)
        g_error ("identify on %s: %s", (char *) g_ptr_array_index (ports, i), error->message);
      g_hash_table_insert (b->devices, g_strdup (info->serial), g_steal_pointer (&d));
    }
}

static void
set_binary (const char *name,
            const char *path)
{
  if (g_getenv (name) == NULL)
    g_setenv (name, path, TRUE);
}

int
main (int    argc,
      char **argv)
{
  guint installs = 3, baud = 115200;
  gboolean quick = FALSE;
  GOptionEntry entries[] = {
    { "installs", 0, 0, G_OPTION_ARG_INT, &installs, "Installs each way (3)", "N" },
    { "baud", 0, 0, G_OPTION_ARG_INT, &baud, "termsim --emulate-baud (115200; 0: unthrottled)", "B" },
    { "quick", 0, 0, G_OPTION_ARG_NONE, &quick, "One install each way, unthrottled", NULL },
    { NULL }
  };
  g_autoptr(GOptionContext) context = g_option_context_new ("- the install flow's own overhead");
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) ports = NULL;
  g_autofree char *baud_arg = NULL;
  const char *extra[3] = { NULL, };
  Times flow = { { 0, } }, direct = { { 0, } };
  Bench b = { { 0, } };
  double overhead;
  double load[1] = { 0 };

  setlocale (LC_ALL, "");
  g_option_context_add_main_entries (context, entries, NULL);
  if (!g_option_context_parse (context, &argc, &argv, &error))
    {
      g_printerr ("%s\n", error->message);
      return 2;
    }
  if (quick)
    {
      installs = 1;
      baud = 0;
    }
  if (installs == 0)
    installs = 1;
  set_binary ("PP_REGISTRY", PP_REGISTRY_PATH);
  set_binary ("PP_TOOL", PP_TOOL_PATH);
  set_binary ("PP_TERMSIM", PP_TERMSIM_PATH);
  if (getloadavg (load, 1) < 1)
    load[0] = -1;

  g_print ("install flow overhead: %u installs each way, termsim %s%s, load %.1f\n", installs,
           baud > 0 ? "--emulate-baud " : "unthrottled", baud > 0 ? (baud_arg = g_strdup_printf ("%u", baud)) : "",
           load[0]);
  /* one terminal more: a direct install, untimed, warms the store, the key
   * host and the link up for both */
  pp_install_fixture_set_up (&b.fx, "BF", 2 * installs + 1);
  b.registry = PP_REGISTRY (pp_registry_local_new_with_key_store (b.fx.db, b.fx.keys, PP_INSTALL_SECRET, &error));
  if (b.registry == NULL)
    g_error ("the registry: %s", error->message);
  if (baud > 0)
    {
      extra[0] = "--emulate-baud";
      extra[1] = baud_arg;
    }
  g_free (pp_install_fixture_serve (&b.fx, &b.server, NULL, extra, &ports));
  connect_fleet (&b, ports);
  g_assert_cmpuint (g_hash_table_size (b.devices), ==, 2 * installs + 1);
  {
    Times warm = { { 0, } };

    install_direct (&b, b.fx.serials[2 * installs], &warm);
  }

  /* alternating, so that a change in the machine's load falls on both */
  for (guint i = 0; i < installs; i++)
    {
      if (i % 2 == 0)
        {
          install_flow (&b, b.fx.serials[2 * i], &flow);
          install_direct (&b, b.fx.serials[2 * i + 1], &direct);
        }
      else
        {
          install_direct (&b, b.fx.serials[2 * i], &direct);
          install_flow (&b, b.fx.serials[2 * i + 1], &flow);
        }
    }

  g_print ("\n%-28s %12s %12s %12s\n", "step (ms per install)", "flow", "direct", "flow - direct");
  for (guint i = 0; i < N_STEPS; i++)
    {
      double f = flow.step[steps[i]] * 1000 / installs, d = direct.step[steps[i]] * 1000 / installs;

      g_print ("%-28s %12.1f %12.1f %12.1f\n", pp_install_step_to_string (steps[i]), f, d, f - d);
    }
  overhead = (flow.total - direct.total) / direct.total;
  g_print ("%-28s %12.1f %12.1f %12.1f\n", "whole install", flow.total * 1000 / installs,
           direct.total * 1000 / installs, (flow.total - direct.total) * 1000 / installs);
  g_print ("flow overhead: %.1f %% of the direct calls' time (ratio %.3fx); goal under 10 %%: %s\n",
           overhead * 100, flow.total / direct.total, overhead < 0.10 ? "met" : "NOT met");

  g_hash_table_destroy (b.devices);
  pp_test_termsim_stop (&b.server);
  pp_registry_local_close (PP_REGISTRY_LOCAL (b.registry));
  g_object_unref (b.registry);
  pp_install_fixture_tear_down (&b.fx);
  return 0;
}
