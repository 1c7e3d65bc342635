/* SPDX-License-Identifier: GPL-3.0-or-later
 *
 * test-install-flow.c: PpInstallFlow end to end on real parts: the local
 * registry on a store made by `posprov-registry init` with its key host,
 * the real posprov-termsim over TCP through the posprov link driver.  The
 * whole install (registry rows, journal, the terminal's keys and program
 * afterwards), a wrong serial, a tampered terminal, a rejected approval, a
 * reviewer deciding at the station, a cable pull right after the key went
 * in and the resume that finishes with exactly one key, and a cancel.
 * PpRecycleFlow with its own four eyes: no UBT_KDH before a reviewer
 * approves the recycle order (refused, journalled, the terminal still
 * bound with its key), no self-approval, then bob approves and the
 * terminal is released, erased and back in stock.
 */
#include "config.h"

#include <string.h>

#include "pp-install-fixture.h"
#include "pp-install-flow.h"
#include "pp-link-device.h"
#include "pp-recycle-flow.h"
#include "pp-registry-local.h"

typedef struct {
  PpInstallFixture base;
  PpRegistry *registry;
  PpTestTermsimServer server;
  gboolean serving;
} Fixture;

static void
fixture_set_up (Fixture       *f,
                gconstpointer  data)
{
  g_autoptr(GError) error = NULL;

  pp_install_fixture_set_up (&f->base, "PP", 2);
  f->registry = PP_REGISTRY (pp_registry_local_new_with_key_store (f->base.db, f->base.keys, PP_INSTALL_SECRET,
                                                                   &error));
  g_assert_no_error (error);
}

static void
stop (Fixture *f)
{
  if (f->serving)
    pp_test_termsim_stop (&f->server);
  f->serving = FALSE;
}

static void
fixture_tear_down (Fixture       *f,
                   gconstpointer  data)
{
  stop (f);
  pp_registry_local_close (PP_REGISTRY_LOCAL (f->registry));
  g_clear_object (&f->registry);
  pp_install_fixture_tear_down (&f->base);
}

/* ---- waiting, never sleeping ---- */

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

/* Iterates the main context until *@result is set (30 s at most). */
static GAsyncResult *
wait_result (GAsyncResult **result,
             const char    *what)
{
  guint timeout = g_timeout_add_seconds (30, on_timeout, (gpointer) what);

  while (*result == NULL)
    g_main_context_iteration (NULL, TRUE);
  g_source_remove (timeout);
  return *result;
}

/* Opens @port (taken). */
static PpTerminalDevice *
open_device (char *taken)
{
  g_autofree char *port = taken;
  g_autoptr(GAsyncResult) result = NULL;
  g_autoptr(GError) error = NULL;
  PpSerialSettings settings = { 0, };
  PpLinkDevice *device;

  pp_link_device_open_async (port, &settings, NULL, on_result, &result);
  device = pp_link_device_open_finish (wait_result (&result, "the port"), &error);
  g_assert_no_error (error);
  return PP_TERMINAL_DEVICE (device);
}

static gboolean
run_flow (PpInstallFlow  *flow,
          GCancellable   *cancellable,
          GError        **error)
{
  g_autoptr(GAsyncResult) result = NULL;

  pp_install_flow_run_async (flow, cancellable, on_result, &result);
  return pp_install_flow_run_finish (flow, wait_result (&result, "the flow"), error);
}

/* A reviewer on another screen: bob decides as soon as the flow waits. */
typedef struct {
  PpRegistry *registry;
  gboolean approve;
  guint decided;
  GSList *steps;   /* the steps the flow went through, newest first */
  double max_progress;
  guint n_progress;
} Reviewer;

static void
on_decided (GObject      *source,
            GAsyncResult *result,
            gpointer      data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(PpRegistryApproval) a = pp_registry_decide_approval_finish (PP_REGISTRY (source), result, &error);

  g_assert_no_error (error);
  g_assert_cmpstr (a->approver, ==, "bob");
}

static void
on_needs (PpInstallFlow *flow,
          GParamSpec    *pspec,
          Reviewer      *r)
{
  g_autofree char *uuid = NULL;
  g_autofree char *key = g_uuid_string_random ();

  if (pp_install_flow_get_needs (flow) != PP_INSTALL_NEEDS_APPROVAL || r->decided++ > 0)
    return;
  g_object_get (flow, "approval-uuid", &uuid, NULL);
  g_assert_nonnull (uuid);
  pp_registry_decide_approval_async (r->registry, uuid, r->approve, r->approve ? "checked the order" : "wrong merchant",
                                     "bob", key, NULL, on_decided, NULL);
}

static void
on_step (PpInstallFlow *flow,
         GParamSpec    *pspec,
         Reviewer      *r)
{
  r->steps = g_slist_prepend (r->steps, GINT_TO_POINTER (pp_install_flow_get_step (flow)));
}

static void
on_progress (PpInstallFlow *flow,
             GParamSpec    *pspec,
             Reviewer      *r)
{
  double p = pp_install_flow_get_progress (flow);

  if (p >= 0)
    {
      g_assert_cmpint (pp_install_flow_get_step (flow), ==, PP_INSTALL_STEP_PROGRAM);
      g_assert_cmpfloat (p, >=, r->max_progress);
      r->max_progress = p;
      r->n_progress++;
    }
}

static PpInstallFlow *
new_flow (Fixture    *f,
          const char *serial,
          Reviewer   *reviewer)
{
  g_autoptr(GError) error = NULL;
  PpInstallFlow *flow = pp_install_flow_new (f->registry, "alice");

  if (serial != NULL)
    {
      g_assert_true (pp_install_flow_set_serial (flow, serial, &error));
      g_assert_true (pp_install_flow_set_merchant_id (flow, f->base.merchant_id, &error));
      g_assert_true (pp_install_flow_set_program (flow, PP_INSTALL_PROGRAM, PP_INSTALL_VERSION, &error));
      g_assert_no_error (error);
    }
  pp_install_flow_set_operator (flow, 1, PP_INSTALL_OPERATOR_PW);
  if (reviewer != NULL)
    {
      reviewer->registry = f->registry;
      g_signal_connect (flow, "notify::needs", G_CALLBACK (on_needs), reviewer);
      g_signal_connect (flow, "notify::step", G_CALLBACK (on_step), reviewer);
      g_signal_connect (flow, "notify::progress", G_CALLBACK (on_progress), reviewer);
    }
  return flow;
}

static PpWorkOrder *
get_order (Fixture    *f,
           const char *uuid)
{
  g_autoptr(GAsyncResult) result = NULL;
  g_autoptr(GError) error = NULL;
  PpWorkOrder *order;

  pp_registry_get_order_async (f->registry, uuid, NULL, on_result, &result);
  order = pp_registry_get_order_finish (f->registry, wait_result (&result, "the order"), &error);
  g_assert_no_error (error);
  return order;
}

static PpRegistrySerialCheck *
lookup (Fixture    *f,
        const char *serial)
{
  g_autoptr(GAsyncResult) result = NULL;
  g_autoptr(GError) error = NULL;
  PpRegistrySerialCheck *c;

  pp_registry_lookup_serial_async (f->registry, serial, NULL, NULL, on_result, &result);
  c = pp_registry_lookup_serial_finish (f->registry, wait_result (&result, "the lookup"), &error);
  g_assert_no_error (error);
  return c;
}

/* ---- the tests ---- */

static void
test_whole (Fixture       *f,
            gconstpointer  data)
{
  const char *serial = f->base.serials[0];
  Reviewer r = { .approve = TRUE };
  g_autoptr(PpInstallFlow) flow = new_flow (f, serial, &r);
  g_autoptr(PpTerminalDevice) device = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(PpInstallReceipt) receipt = NULL;
  g_autoptr(PpWorkOrder) order = NULL;
  g_autoptr(PpRegistrySerialCheck) check = NULL;
  g_autoptr(JsonNode) shown = NULL;
  g_autofree char *held_kcv = NULL;
  static const PpInstallStep expected[] = {
    PP_INSTALL_STEP_CHECK, PP_INSTALL_STEP_MERCHANT, PP_INSTALL_STEP_ORDER, PP_INSTALL_STEP_APPROVAL,
    PP_INSTALL_STEP_CONNECT, PP_INSTALL_STEP_IDENTIFY, PP_INSTALL_STEP_BIND, PP_INSTALL_STEP_KEY_NONCE,
    PP_INSTALL_STEP_KEY_TOKEN, PP_INSTALL_STEP_KEY_LOAD, PP_INSTALL_STEP_KEY_KCV, PP_INSTALL_STEP_SIGN_ON_TEST,
    PP_INSTALL_STEP_PROGRAM, PP_INSTALL_STEP_CLOSE, PP_INSTALL_STEP_DONE,
  };
  GSList *steps;
  gboolean ok;
  guint i;

  device = open_device (pp_install_fixture_serve (&f->base, &f->server, serial, NULL, NULL));
  f->serving = TRUE;
  pp_install_flow_set_device (flow, device);
  ok = run_flow (flow, NULL, &error);
  g_assert_no_error (error);
  g_assert_true (ok);
  g_assert_cmpint (pp_install_flow_get_step (flow), ==, PP_INSTALL_STEP_DONE);
  g_assert_cmpuint (r.decided, ==, 1);

  /* Each step once, in order. */
  steps = g_slist_reverse (r.steps);
  r.steps = NULL;
  for (i = 0; steps != NULL && i < G_N_ELEMENTS (expected); steps = g_slist_delete_link (steps, steps), i++)
    g_assert_cmpint (GPOINTER_TO_INT (steps->data), ==, expected[i]);
  g_assert_null (steps);
  g_assert_cmpuint (i, ==, G_N_ELEMENTS (expected));

  receipt = pp_install_flow_get_receipt (flow);
  g_assert_cmpstr (receipt->serial, ==, serial);
  g_assert_cmpstr (receipt->state, ==, "closed");
  g_assert_cmpstr (receipt->mid, ==, f->base.mid);
  g_assert_cmpuint (strlen (receipt->tid), ==, 8);
  g_assert_cmpstr (receipt->merchant_name, ==, "Lucky Noodle House");
  g_assert_cmpstr (receipt->approver, ==, "bob");
  g_assert_cmpstr (receipt->requester, ==, "alice");
  g_assert_cmpstr (receipt->program_name, ==, PP_INSTALL_PROGRAM);
  g_assert_cmpstr (receipt->program_version, ==, PP_INSTALL_VERSION);
  /* the push reported its progress as it went, up to the whole */
  g_assert_cmpfloat (r.max_progress, ==, 1.0);
  g_assert_cmpuint (r.n_progress, >, 2);

  /* The registry: order closed with the terminal's KCV, terminal installed. */
  order = get_order (f, receipt->order_uuid);
  g_assert_cmpint (order->state, ==, PP_WORK_ORDER_STATE_CLOSED);
  g_assert_cmpstr (order->kcv, ==, receipt->kcv);
  check = lookup (f, serial);
  g_assert_cmpint (pp_terminal_get_state (check->terminal), ==, PP_TERMINAL_STATE_INSTALLED);
  g_assert_cmpuint (pp_install_fixture_count_audit (&f->base, "keyhost.ct_kdh"), ==, 1);
  g_assert_cmpuint (pp_install_fixture_count_audit (&f->base, "order.key_released"), ==, 1);
  g_assert_cmpuint (pp_install_fixture_count_audit (&f->base, "keyhost.sign_on_keys"), ==, 1);
  g_assert_cmpuint (pp_install_fixture_count_audit (&f->base, "keyhost.refused"), ==, 0);

  /* The terminal: one master key, that KCV, no working keys left, the program. */
  g_assert_cmpuint (pp_install_fixture_count_keys (&f->base, serial, &held_kcv), ==, 1);
  g_assert_cmpstr (held_kcv, ==, receipt->kcv);
  shown = pp_install_fixture_show (&f->base, serial);
  {
    JsonObject *o = json_node_get_object (shown);
    JsonObject *program = json_object_get_object_member (o, "program");
    JsonArray *keys = json_object_get_array_member (o, "keys");

    g_assert_cmpuint (json_array_get_length (keys), ==, 1);
    g_assert_cmpstr (json_object_get_string_member (program, "name"), ==, PP_INSTALL_PROGRAM);
    g_assert_cmpstr (json_object_get_string_member (program, "version"), ==, PP_INSTALL_VERSION);
  }
}

/* The terminal on the port is not the one scanned: nothing is sent to it. */
static void
test_wrong_serial (Fixture       *f,
                   gconstpointer  data)
{
  g_autoptr(PpInstallFlow) flow = new_flow (f, f->base.serials[1], NULL);
  g_autoptr(PpTerminalDevice) device = NULL;
  g_autoptr(GError) error = NULL;

  /* approved at this station by bob (who signed in here) */
  g_assert_true (pp_install_flow_set_reviewer (flow, f->registry, "bob", TRUE, "at the counter", &error));
  device = open_device (pp_install_fixture_serve (&f->base, &f->server, f->base.serials[0], NULL, NULL));
  f->serving = TRUE;
  pp_install_flow_set_device (flow, device);
  g_assert_false (run_flow (flow, NULL, &error));
  g_assert_error (error, PP_FLOW_ERROR, PP_FLOW_ERROR_WRONG_SERIAL);
  g_assert_nonnull (strstr (error->message, f->base.serials[0]));
  g_assert_nonnull (strstr (error->message, f->base.serials[1]));
  g_assert_cmpint (pp_install_flow_get_step (flow), ==, PP_INSTALL_STEP_FAILED);
  g_assert_cmpstr (pp_install_flow_get_message (flow), ==, error->message);
  g_assert_cmpuint (pp_install_fixture_count_keys (&f->base, f->base.serials[0], NULL), ==, 0);
  g_assert_cmpuint (pp_install_fixture_count_audit (&f->base, "keyhost.ct_kdh"), ==, 0);
}

static void
test_tampered (Fixture       *f,
               gconstpointer  data)
{
  const char *serial = f->base.serials[0];
  const char *extra[] = { "--tamper", NULL };
  g_autoptr(PpInstallFlow) flow = new_flow (f, serial, NULL);
  g_autoptr(PpTerminalDevice) device = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(PpWorkOrder) order = NULL;

  g_assert_true (pp_install_flow_set_reviewer (flow, f->registry, "bob", TRUE, NULL, &error));
  device = open_device (pp_install_fixture_serve (&f->base, &f->server, serial, extra, NULL));
  f->serving = TRUE;
  pp_install_flow_set_device (flow, device);
  g_assert_false (run_flow (flow, NULL, &error));
  g_assert_error (error, PP_FLOW_ERROR, PP_FLOW_ERROR_TAMPERED);
  g_assert_nonnull (strstr (error->message, "inspection"));
  /* No key was released for it; the order waits, approved, to be cancelled. */
  order = get_order (f, pp_install_flow_get_order_uuid (flow));
  g_assert_cmpint (order->state, ==, PP_WORK_ORDER_STATE_APPROVED);
  g_assert_null (order->expected_kcv);
  g_assert_cmpuint (pp_install_fixture_count_audit (&f->base, "keyhost.ct_kdh"), ==, 0);
  {
    g_autoptr(GAsyncResult) result = NULL;

    g_clear_error (&error);
    pp_install_flow_cancel_order_async (flow, "terminal tampered", NULL, on_result, &result);
    g_assert_true (pp_install_flow_cancel_order_finish (flow, wait_result (&result, "the cancel"), &error));
    g_assert_no_error (error);
  }
  g_clear_pointer (&order, pp_work_order_free);
  order = get_order (f, pp_install_flow_get_order_uuid (flow));
  g_assert_cmpint (order->state, ==, PP_WORK_ORDER_STATE_CANCELLED);
}

static void
test_rejected (Fixture       *f,
               gconstpointer  data)
{
  const char *serial = f->base.serials[0];
  Reviewer r = { .approve = FALSE };
  g_autoptr(PpInstallFlow) flow = new_flow (f, serial, &r);
  g_autoptr(GError) error = NULL;
  g_autoptr(PpWorkOrder) order = NULL;
  g_autoptr(PpRegistrySerialCheck) check = NULL;

  /* No terminal needed: the flow stops before it. */
  g_assert_false (run_flow (flow, NULL, &error));
  g_assert_error (error, PP_FLOW_ERROR, PP_FLOW_ERROR_REJECTED);
  g_assert_nonnull (strstr (error->message, "wrong merchant"));
  order = get_order (f, pp_install_flow_get_order_uuid (flow));
  g_assert_cmpint (order->state, ==, PP_WORK_ORDER_STATE_CANCELLED);
  check = lookup (f, serial);
  g_assert_cmpint (check->status, ==, PP_REGISTRY_SERIAL_INSTALLABLE);
  g_slist_free (r.steps);
}

static void
on_needs_device_cancel (PpInstallFlow *flow,
                        GParamSpec    *pspec,
                        GCancellable  *cancellable)
{
  if (pp_install_flow_get_needs (flow) == PP_INSTALL_NEEDS_DEVICE)
    g_cancellable_cancel (cancellable);
}

/* The reviewer signed in here is alice, the requester: the registry refuses
 * her decision, and the flow does not end: it shows the refusal and waits
 * on the same request, which bob then approves here. */
typedef struct {
  PpRegistry *registry;
  guint refusals;
  gint64 requested_at;
  gint64 decided_at;
} SelfApproval;

/* The nick of @flow's enum property @name. */
static const char *
enum_nick (GObject    *flow,
           const char *name)
{
  GParamSpec *pspec = g_object_class_find_property (G_OBJECT_GET_CLASS (flow), name);
  g_auto(GValue) value = G_VALUE_INIT;

  g_value_init (&value, pspec->value_type);
  g_object_get_property (flow, name, &value);
  return g_enum_get_value (G_PARAM_SPEC_ENUM (pspec)->enum_class, g_value_get_enum (&value))->value_nick;
}

/* TRUE when @flow (install or recycle) has a refusal of the decision made
 * here, the requester's own: it still waits for a reviewer and says why. */
static gboolean
refused_and_waiting (GObject      *flow,
                     SelfApproval *s)
{
  g_autoptr(GError) refusal = NULL;
  g_autofree char *message = NULL;

  g_object_get (flow, "reviewer-error", &refusal, "message", &message, NULL);
  if (refusal == NULL)
    return FALSE;
  s->refusals++;
  g_assert_error (refusal, PP_REGISTRY_ERROR, PP_REGISTRY_ERROR_PERMISSION);
  g_assert_cmpstr (enum_nick (flow, "step"), ==, "approval");
  g_assert_cmpstr (enum_nick (flow, "needs"), ==, "approval");
  g_assert_nonnull (strstr (message, refusal->message));
  return TRUE;
}

static void
on_reviewer_error (PpInstallFlow *flow,
                   GParamSpec    *pspec,
                   SelfApproval  *s)
{
  g_autoptr(GError) error = NULL;

  if (!refused_and_waiting (G_OBJECT (flow), s))
    return;
  g_assert_true (pp_install_flow_set_reviewer (flow, s->registry, "bob", TRUE, "checked at the counter", &error));
  g_assert_no_error (error);
}

static void
on_self_needs (PpInstallFlow *flow,
               GParamSpec    *pspec,
               SelfApproval  *s)
{
  if (pp_install_flow_get_needs (flow) == PP_INSTALL_NEEDS_APPROVAL && s->requested_at == 0)
    s->requested_at = g_get_monotonic_time ();
  else if (pp_install_flow_get_needs (flow) == PP_INSTALL_NEEDS_DEVICE && s->decided_at == 0)
    s->decided_at = g_get_monotonic_time ();
}

static void
test_self_approval (Fixture       *f,
                    gconstpointer  data)
{
  const char *serial = f->base.serials[0];
  SelfApproval s = { .registry = f->registry };
  g_autoptr(PpInstallFlow) flow = new_flow (f, serial, NULL);
  g_autoptr(GError) error = NULL;
  g_autoptr(PpInstallReceipt) receipt = NULL;
  g_autoptr(PpWorkOrder) order = NULL;

  g_signal_connect (flow, "notify::reviewer-error", G_CALLBACK (on_reviewer_error), &s);
  g_signal_connect (flow, "notify::needs", G_CALLBACK (on_self_needs), &s);
  g_assert_true (pp_install_flow_set_reviewer (flow, f->registry, "alice", TRUE, "mine", &error));
  /* No terminal: the flow waits for one once approved; cancel it there. */
  {
    g_autoptr(GCancellable) cancellable = g_cancellable_new ();
    gulong id = g_signal_connect (flow, "notify::needs", G_CALLBACK (on_needs_device_cancel), cancellable);

    g_assert_false (run_flow (flow, cancellable, &error));
    g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
    g_clear_error (&error);
    g_signal_handler_disconnect (flow, id);
  }
  g_assert_cmpuint (s.refusals, ==, 1);
  g_assert_cmpint (s.decided_at, >, 0);
  /* bob's decision went out at once, not after a poll's delay */
  g_test_message ("request to approved order: %" G_GINT64_FORMAT " us", s.decided_at - s.requested_at);
  order = get_order (f, pp_install_flow_get_order_uuid (flow));
  g_assert_cmpint (order->state, ==, PP_WORK_ORDER_STATE_APPROVED);
  receipt = pp_install_flow_get_receipt (flow);
  g_assert_cmpstr (receipt->approver, ==, "bob");
  g_assert_cmpstr (receipt->requester, ==, "alice");
  /* one request, alice's refusal journalled, bob's approval */
  g_assert_cmpuint (pp_install_fixture_count_audit (&f->base, "approval.request"), ==, 1);
}

/* The terminal is bound already, to another bank's KDH (its kdh.pem in
 * the terminal's folder): the flow stops before any key is released or
 * anything sent, saying only that KDH can move it (rebind). */
static void
test_other_kdh (Fixture       *f,
                gconstpointer  data)
{
  const char *serial = f->base.serials[0];
  g_autofree char *dir = pp_install_fixture_term_dir (&f->base, serial);
  g_autofree char *key = g_build_filename (dir, "other-kdh.key", NULL);
  g_autofree char *pem = g_build_filename (dir, "kdh.pem", NULL);
  const char *openssl[] = { "openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
                            "-nodes", "-keyout", key, "-out", pem, "-days", "2",
                            "-subj", "/O=Other Bank/CN=Other Bank KDH", NULL };
  g_autoptr(PpInstallFlow) flow = new_flow (f, serial, NULL);
  g_autoptr(PpTerminalDevice) device = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(PpWorkOrder) order = NULL;
  int status = 0;

  g_assert_true (g_spawn_sync (NULL, (char **) openssl, NULL,
                               G_SPAWN_SEARCH_PATH | G_SPAWN_STDOUT_TO_DEV_NULL | G_SPAWN_STDERR_TO_DEV_NULL,
                               NULL, NULL, NULL, NULL, &status, &error));
  g_assert_no_error (error);
  g_assert_true (g_spawn_check_wait_status (status, NULL));
  g_assert_true (pp_install_flow_set_reviewer (flow, f->registry, "bob", TRUE, "at the counter", &error));
  device = open_device (pp_install_fixture_serve (&f->base, &f->server, serial, NULL, NULL));
  f->serving = TRUE;
  pp_install_flow_set_device (flow, device);
  g_assert_false (run_flow (flow, NULL, &error));
  g_assert_error (error, PP_FLOW_ERROR, PP_FLOW_ERROR_OTHER_KDH);
  g_assert_nonnull (strstr (error->message, "CN=Other Bank KDH"));
  g_assert_nonnull (strstr (error->message, "device rebind"));
  g_assert_cmpstr (pp_install_flow_get_message (flow), ==, error->message);
  /* nothing released, nothing sent: no key in the terminal, still bound there */
  order = get_order (f, pp_install_flow_get_order_uuid (flow));
  g_assert_cmpint (order->state, ==, PP_WORK_ORDER_STATE_APPROVED);
  g_assert_null (order->expected_kcv);
  g_assert_cmpuint (pp_install_fixture_count_audit (&f->base, "order.key_released"), ==, 0);
  g_assert_cmpuint (pp_install_fixture_count_keys (&f->base, serial, NULL), ==, 0);
  {
    g_autoptr(JsonNode) shown = pp_install_fixture_show (&f->base, serial);
    const char *bound = json_object_get_string_member (json_node_get_object (shown), "bound_kdh");

    g_assert_nonnull (strstr (bound, "Other Bank KDH"));
  }
}

/* An install whose terminal hangs up at @disconnect (posprov-termsim's
 * --disconnect-after); the flow fails there. Returns its order's UUID. */
static char *
install_cut_off (Fixture    *f,
                 const char *disconnect,
                 Reviewer   *r)
{
  const char *serial = f->base.serials[0];
  const char *extra[] = { "--disconnect-after", disconnect, NULL };
  g_autoptr(PpInstallFlow) flow = new_flow (f, serial, r);
  g_autoptr(PpTerminalDevice) device = NULL;
  g_autoptr(GError) error = NULL;

  device = open_device (pp_install_fixture_serve (&f->base, &f->server, serial, extra, NULL));
  f->serving = TRUE;
  pp_install_flow_set_device (flow, device);
  g_assert_false (run_flow (flow, NULL, &error));
  g_assert_nonnull (error);
  g_assert_cmpint (pp_install_flow_get_step (flow), ==, PP_INSTALL_STEP_FAILED);
  g_clear_object (&device);
  stop (f);
  g_slist_free (g_steal_pointer (&r->steps));
  return g_strdup (pp_install_flow_get_order_uuid (flow));
}

/* Another station (a new flow) resumes by the serial alone, the terminal
 * served again; the install finishes. */
static PpInstallFlow *
resume_install (Fixture  *f,
                Reviewer *r)
{
  const char *serial = f->base.serials[0];
  g_autoptr(PpTerminalDevice) device = NULL;
  g_autoptr(GError) error = NULL;
  PpInstallFlow *again;
  gboolean ok;

  device = open_device (pp_install_fixture_serve (&f->base, &f->server, serial, NULL, NULL));
  f->serving = TRUE;
  again = new_flow (f, NULL, r);
  g_assert_true (pp_install_flow_set_serial (again, serial, &error));
  pp_install_flow_resume (again, NULL);
  pp_install_flow_set_device (again, device);
  ok = run_flow (again, NULL, &error);
  g_assert_no_error (error);
  g_assert_true (ok);
  return again;
}

/* Cut off before LOAD_KEY ran: the terminal is bound to this registry's
 * KDH and holds no key. The resumed flow checks the binding is ours and
 * goes on from the nonce, without binding again. */
static void
test_bound_here (Fixture       *f,
                 gconstpointer  data)
{
  const char *serial = f->base.serials[0];
  Reviewer r = { .approve = TRUE };
  g_autofree char *uuid = install_cut_off (f, "LOAD_KEY", &r);
  g_autoptr(PpInstallFlow) again = NULL;
  g_autoptr(PpWorkOrder) order = NULL;

  g_assert_cmpuint (pp_install_fixture_count_keys (&f->base, serial, NULL), ==, 0);
  again = resume_install (f, &r);
  g_assert_cmpstr (pp_install_flow_get_order_uuid (again), ==, uuid);
  g_assert_null (g_slist_find (r.steps, GINT_TO_POINTER (PP_INSTALL_STEP_BIND)));
  g_assert_nonnull (g_slist_find (r.steps, GINT_TO_POINTER (PP_INSTALL_STEP_KEY_NONCE)));
  g_slist_free (g_steal_pointer (&r.steps));
  order = get_order (f, uuid);
  g_assert_cmpint (order->state, ==, PP_WORK_ORDER_STATE_CLOSED);
  g_assert_cmpuint (pp_install_fixture_count_keys (&f->base, serial, NULL), ==, 1);
  g_assert_cmpuint (pp_install_fixture_count_audit (&f->base, "keyhost.ct_kdh"), ==, 1);
}

/* The cable goes right after LOAD_KEY ran and before its answer: the
 * station cannot know whether the key went in. A new flow resumes the
 * order and settles it from the terminal's STATUS: one key, order closed. */
static void
test_resume (Fixture       *f,
             gconstpointer  data)
{
  const char *serial = f->base.serials[0];
  Reviewer r = { .approve = TRUE };
  g_autofree char *uuid = install_cut_off (f, "after-LOAD_KEY", &r);
  g_autoptr(PpInstallFlow) again = NULL;
  g_autoptr(PpWorkOrder) order = NULL;
  g_autofree char *held_kcv = NULL;

  order = get_order (f, uuid);
  g_assert_cmpint (order->state, ==, PP_WORK_ORDER_STATE_APPROVED);
  g_assert_nonnull (order->expected_kcv);
  g_assert_cmpuint (pp_install_fixture_count_keys (&f->base, serial, NULL), ==, 1);

  again = resume_install (f, &r);
  g_assert_cmpstr (pp_install_flow_get_order_uuid (again), ==, uuid);
  /* settled, not loaded again */
  g_assert_null (g_slist_find (r.steps, GINT_TO_POINTER (PP_INSTALL_STEP_KEY_LOAD)));
  g_assert_nonnull (g_slist_find (r.steps, GINT_TO_POINTER (PP_INSTALL_STEP_KEY_KCV)));
  g_slist_free (g_steal_pointer (&r.steps));
  g_clear_pointer (&order, pp_work_order_free);
  order = get_order (f, uuid);
  g_assert_cmpint (order->state, ==, PP_WORK_ORDER_STATE_CLOSED);
  g_assert_cmpuint (pp_install_fixture_count_keys (&f->base, serial, &held_kcv), ==, 1);
  g_assert_cmpstr (held_kcv, ==, order->kcv);
  g_assert_cmpuint (pp_install_fixture_count_audit (&f->base, "order.key_released"), ==, 1);
}

/* Cancelled while waiting for the approval: the order stays open for a
 * later flow; nothing reached a terminal. */
static void
on_needs_cancel (PpInstallFlow *flow,
                 GParamSpec    *pspec,
                 GCancellable  *cancellable)
{
  if (pp_install_flow_get_needs (flow) == PP_INSTALL_NEEDS_APPROVAL)
    g_cancellable_cancel (cancellable);
}

static void
test_cancel (Fixture       *f,
             gconstpointer  data)
{
  g_autoptr(PpInstallFlow) flow = new_flow (f, f->base.serials[0], NULL);
  g_autoptr(GCancellable) cancellable = g_cancellable_new ();
  g_autoptr(GError) error = NULL;
  g_autoptr(PpWorkOrder) order = NULL;

  g_signal_connect (flow, "notify::needs", G_CALLBACK (on_needs_cancel), cancellable);
  g_assert_false (run_flow (flow, cancellable, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  order = get_order (f, pp_install_flow_get_order_uuid (flow));
  g_assert_cmpint (order->state, ==, PP_WORK_ORDER_STATE_OPEN);
}

/* The flows' registry verbs refuse what is out of order, saying why, and
 * record nothing for it. */
static void
test_registry_verbs (Fixture       *f,
                     gconstpointer  data)
{
  g_autoptr(PpInstallFlow) flow = new_flow (f, f->base.serials[0], NULL);
  g_autoptr(GCancellable) cancellable = g_cancellable_new ();
  g_autoptr(GError) error = NULL;
  g_autoptr(GBytes) token = NULL;
  g_autoptr(GBytes) package = NULL;
  g_autoptr(PpRegistrySignOnKeys) keys = NULL;
  g_autofree char *key = g_uuid_string_random ();
  g_autofree char *bytes = NULL;
  gsize len = 0;
  const char *uuid;

  /* an open order, from a flow stopped while it waits */
  g_signal_connect (flow, "notify::needs", G_CALLBACK (on_needs_cancel), cancellable);
  g_assert_false (run_flow (flow, cancellable, &error));
  g_clear_error (&error);
  uuid = pp_install_flow_get_order_uuid (flow);
  {
    g_autoptr(GAsyncResult) result = NULL;

    pp_registry_issue_sign_on_keys_async (f->registry, uuid, "alice", NULL, on_result, &result);
    keys = pp_registry_issue_sign_on_keys_finish (f->registry, wait_result (&result, "sign-on keys"), &error);
    g_assert_null (keys);
    g_assert_error (error, PP_REGISTRY_ERROR, PP_REGISTRY_ERROR_CONFLICT);
    g_assert_nonnull (strstr (error->message, "keyed"));
    g_clear_error (&error);
  }
  {
    g_autoptr(GAsyncResult) result = NULL;
    g_autoptr(GBytes) junk = g_bytes_new_static ("x", 1);

    pp_registry_issue_unbind_token_async (f->registry, uuid, junk, junk, "alice", key, NULL, on_result, &result);
    token = pp_registry_issue_unbind_token_finish (f->registry, wait_result (&result, "unbind token"), &error);
    g_assert_null (token);
    g_assert_error (error, PP_REGISTRY_ERROR, PP_REGISTRY_ERROR_CONFLICT);
    g_assert_nonnull (strstr (error->message, "recycle"));
    g_clear_error (&error);
  }
  g_assert_cmpuint (pp_install_fixture_count_audit (&f->base, "keyhost.refused"), ==, 2);
  g_assert_cmpuint (pp_install_fixture_count_audit (&f->base, "keyhost.sign_on_keys"), ==, 0);
  /* the catalogue's package: the uploaded bytes; another model's: none */
  {
    g_autoptr(GAsyncResult) result = NULL;

    pp_registry_get_program_package_async (f->registry, PP_INSTALL_PROGRAM, PP_INSTALL_VERSION, "X1", NULL,
                                           on_result, &result);
    package = pp_registry_get_program_package_finish (f->registry, wait_result (&result, "package"), &error);
    g_assert_no_error (error);
    g_assert_true (g_file_get_contents (f->base.package, &bytes, &len, NULL));
    g_assert_cmpmem (g_bytes_get_data (package, NULL), g_bytes_get_size (package), bytes, len);
  }
  {
    g_autoptr(GAsyncResult) result = NULL;
    g_autoptr(GBytes) none = NULL;

    pp_registry_get_program_package_async (f->registry, PP_INSTALL_PROGRAM, PP_INSTALL_VERSION, "A920", NULL,
                                           on_result, &result);
    none = pp_registry_get_program_package_finish (f->registry, wait_result (&result, "package"), &error);
    g_assert_null (none);
    g_assert_error (error, PP_REGISTRY_ERROR, PP_REGISTRY_ERROR_NOT_FOUND);
  }
}

/* ---- recycle, with its own approval ---- */

static void
on_recycle_needs_cancel (PpRecycleFlow *flow,
                         GParamSpec    *pspec,
                         GCancellable  *cancellable)
{
  if (pp_recycle_flow_get_needs (flow) == PP_RECYCLE_NEEDS_APPROVAL)
    g_cancellable_cancel (cancellable);
}

static void
on_recycle_needs (PpRecycleFlow *flow,
                  GParamSpec    *pspec,
                  Reviewer      *r)
{
  g_autofree char *uuid = NULL;
  g_autofree char *key = g_uuid_string_random ();

  if (pp_recycle_flow_get_needs (flow) != PP_RECYCLE_NEEDS_APPROVAL || r->decided++ > 0)
    return;
  g_object_get (flow, "approval-uuid", &uuid, NULL);
  g_assert_nonnull (uuid);
  pp_registry_decide_approval_async (r->registry, uuid, TRUE, "merchant closed, checked", "bob", key, NULL,
                                     on_decided, NULL);
}

static void
on_recycle_step (PpRecycleFlow *flow,
                 GParamSpec    *pspec,
                 Reviewer      *r)
{
  r->steps = g_slist_prepend (r->steps, GINT_TO_POINTER (pp_recycle_flow_get_step (flow)));
}

static gboolean
run_recycle (PpRecycleFlow  *flow,
             GCancellable   *cancellable,
             GError        **error)
{
  g_autoptr(GAsyncResult) result = NULL;

  pp_recycle_flow_run_async (flow, cancellable, on_result, &result);
  return pp_recycle_flow_run_finish (flow, wait_result (&result, "the recycle"), error);
}

static void
test_recycle (Fixture       *f,
              gconstpointer  data)
{
  const char *serial = f->base.serials[0];
  Reviewer installer = { .approve = TRUE };
  Reviewer r = { 0, };
  g_autoptr(PpInstallFlow) install = new_flow (f, serial, &installer);
  g_autoptr(PpRecycleFlow) flow = NULL;
  g_autoptr(PpTerminalDevice) device = NULL;
  g_autoptr(GCancellable) cancellable = g_cancellable_new ();
  g_autoptr(GError) error = NULL;
  g_autoptr(PpRecycleReceipt) receipt = NULL;
  g_autoptr(PpWorkOrder) order = NULL;
  g_autoptr(PpRegistrySerialCheck) check = NULL;
  g_autoptr(JsonNode) shown = NULL;
  g_autofree char *approval = NULL, *code = NULL, *order_uuid = NULL;
  gulong handler;

  device = open_device (pp_install_fixture_serve (&f->base, &f->server, serial, NULL, NULL));
  f->serving = TRUE;
  pp_install_flow_set_device (install, device);
  g_assert_true (run_flow (install, NULL, &error));
  g_assert_no_error (error);
  g_slist_free (installer.steps);

  /* alice asks; the flow waits for a reviewer (stopped there) */
  flow = pp_recycle_flow_new (f->registry, "alice");
  g_assert_true (pp_recycle_flow_set_serial (flow, serial, &error));
  pp_recycle_flow_confirm (flow, "merchant closed");
  pp_recycle_flow_set_device (flow, device);
  handler = g_signal_connect (flow, "notify::needs", G_CALLBACK (on_recycle_needs_cancel), cancellable);
  g_assert_false (run_recycle (flow, cancellable, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  g_clear_error (&error);
  g_signal_handler_disconnect (flow, handler);
  g_object_get (flow, "approval-uuid", &approval, "approval-code", &code, "order-uuid", &order_uuid, NULL);
  g_assert_true (g_uuid_string_is_valid (approval));
  g_assert_cmpuint (strlen (code), ==, PP_APPROVAL_CODE_LENGTH);
  order = get_order (f, order_uuid);
  g_assert_cmpint (order->kind, ==, PP_WORK_ORDER_KIND_RECYCLE);
  g_assert_cmpint (order->state, ==, PP_WORK_ORDER_STATE_OPEN);

  /* Without an approval the key host issues no UBT_KDH: refused with its
   * own code, journalled, and the terminal still bound with its key. */
  {
    g_autoptr(GAsyncResult) result = NULL;
    g_autoptr(GBytes) junk = g_bytes_new_static ("x", 1);
    g_autoptr(GBytes) token = NULL;
    g_autofree char *key = g_uuid_string_random ();

    pp_registry_issue_unbind_token_async (f->registry, order->uuid, junk, junk, "alice", key, NULL, on_result,
                                          &result);
    token = pp_registry_issue_unbind_token_finish (f->registry, wait_result (&result, "unbind token"), &error);
    g_assert_null (token);
    g_assert_error (error, PP_REGISTRY_ERROR, PP_REGISTRY_ERROR_NO_APPROVAL);
    g_assert_nonnull (strstr (error->message, "not approved"));
    g_clear_error (&error);
  }
  g_assert_cmpuint (pp_install_fixture_count_audit (&f->base, "keyhost.refused"), ==, 1);
  g_assert_cmpuint (pp_install_fixture_count_audit (&f->base, "keyhost.ubt_kdh"), ==, 0);
  g_assert_cmpuint (pp_install_fixture_count_keys (&f->base, serial, NULL), ==, 1);
  shown = pp_install_fixture_show (&f->base, serial);
  g_assert_false (json_node_is_null (json_object_get_member (json_node_get_object (shown), "bound_kdh")));
  g_clear_pointer (&shown, json_node_unref);

  /* alice cannot approve her own recycle */
  {
    g_autoptr(GAsyncResult) result = NULL;
    g_autoptr(PpRegistryApproval) a = NULL;
    g_autofree char *key = g_uuid_string_random ();

    pp_registry_decide_approval_async (f->registry, approval, TRUE, "mine", "alice", key, NULL, on_result, &result);
    a = pp_registry_decide_approval_finish (f->registry, wait_result (&result, "self-approval"), &error);
    g_assert_null (a);
    g_assert_error (error, PP_REGISTRY_ERROR, PP_REGISTRY_ERROR_PERMISSION);
    g_clear_error (&error);
  }

  /* Run again: it waits on the same request (not a second one); bob
   * approves from another screen. */
  r.registry = f->registry;
  g_signal_connect (flow, "notify::needs", G_CALLBACK (on_recycle_needs), &r);
  g_signal_connect (flow, "notify::step", G_CALLBACK (on_recycle_step), &r);
  pp_recycle_flow_resume (flow, NULL);
  g_assert_true (run_recycle (flow, NULL, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (r.decided, ==, 1);
  g_assert_nonnull (g_slist_find (r.steps, GINT_TO_POINTER (PP_RECYCLE_STEP_APPROVAL)));
  g_assert_nonnull (g_slist_find (r.steps, GINT_TO_POINTER (PP_RECYCLE_STEP_UNBIND)));
  g_slist_free (r.steps);
  receipt = pp_recycle_flow_get_receipt (flow);
  g_assert_cmpstr (receipt->approval_uuid, ==, approval);
  g_assert_cmpstr (receipt->approver, ==, "bob");
  g_assert_cmpstr (receipt->state, ==, "closed");
  g_assert_true (receipt->unbound);
  g_assert_true (receipt->zeroized);
  g_assert_cmpstr (receipt->cleared_mid, ==, f->base.mid);

  check = lookup (f, serial);
  g_assert_cmpint (pp_terminal_get_state (check->terminal), ==, PP_TERMINAL_STATE_IN_STOCK);
  g_assert_cmpuint (pp_install_fixture_count_keys (&f->base, serial, NULL), ==, 0);
  shown = pp_install_fixture_show (&f->base, serial);
  g_assert_true (json_node_is_null (json_object_get_member (json_node_get_object (shown), "bound_kdh")));
  g_assert_cmpuint (pp_install_fixture_count_audit (&f->base, "keyhost.ubt_kdh"), ==, 1);
  g_assert_cmpuint (pp_install_fixture_count_audit (&f->base, "keyhost.refused"), ==, 1);
  g_assert_cmpuint (pp_install_fixture_count_audit (&f->base, "approval.request"), ==, 2);
}

/* The recycle's reviewer signed in here is alice, who asked: refused, the
 * flow still waits on its request; bob signs in here and it goes on. */
static void
on_recycle_reviewer_error (PpRecycleFlow *flow,
                           GParamSpec    *pspec,
                           SelfApproval  *s)
{
  g_autoptr(GError) error = NULL;

  if (!refused_and_waiting (G_OBJECT (flow), s))
    return;
  g_assert_true (pp_recycle_flow_set_reviewer (flow, s->registry, "bob", TRUE, "merchant closed, checked", &error));
  g_assert_no_error (error);
}

static void
test_recycle_self_approval (Fixture       *f,
                            gconstpointer  data)
{
  const char *serial = f->base.serials[0];
  Reviewer installer = { .approve = TRUE };
  SelfApproval s = { .registry = f->registry };
  g_autoptr(PpInstallFlow) install = new_flow (f, serial, &installer);
  g_autoptr(PpRecycleFlow) flow = NULL;
  g_autoptr(PpTerminalDevice) device = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(PpRecycleReceipt) receipt = NULL;
  g_autoptr(PpRegistrySerialCheck) check = NULL;
  gboolean ok;

  device = open_device (pp_install_fixture_serve (&f->base, &f->server, serial, NULL, NULL));
  f->serving = TRUE;
  pp_install_flow_set_device (install, device);
  g_assert_true (run_flow (install, NULL, &error));
  g_assert_no_error (error);
  g_slist_free (installer.steps);

  flow = pp_recycle_flow_new (f->registry, "alice");
  g_signal_connect (flow, "notify::reviewer-error", G_CALLBACK (on_recycle_reviewer_error), &s);
  g_assert_true (pp_recycle_flow_set_serial (flow, serial, &error));
  pp_recycle_flow_confirm (flow, "merchant closed");
  pp_recycle_flow_set_device (flow, device);
  g_assert_true (pp_recycle_flow_set_reviewer (flow, f->registry, "alice", TRUE, "mine", &error));
  ok = run_recycle (flow, NULL, &error);
  g_assert_no_error (error);
  g_assert_true (ok);
  g_assert_cmpuint (s.refusals, ==, 1);
  receipt = pp_recycle_flow_get_receipt (flow);
  g_assert_cmpstr (receipt->approver, ==, "bob");
  g_assert_cmpstr (receipt->state, ==, "closed");
  check = lookup (f, serial);
  g_assert_cmpint (pp_terminal_get_state (check->terminal), ==, PP_TERMINAL_STATE_IN_STOCK);
  g_assert_cmpuint (pp_install_fixture_count_keys (&f->base, serial, NULL), ==, 0);
  /* the install's request and the recycle's one: no second recycle request */
  g_assert_cmpuint (pp_install_fixture_count_audit (&f->base, "approval.request"), ==, 2);
}

int
main (int    argc,
      char **argv)
{
  g_test_init (&argc, &argv, NULL);

#define ADD(path, func) \
  g_test_add (path, Fixture, NULL, fixture_set_up, func, fixture_tear_down)
  ADD ("/install-flow/whole", test_whole);
  ADD ("/install-flow/wrong-serial", test_wrong_serial);
  ADD ("/install-flow/tampered", test_tampered);
  ADD ("/install-flow/rejected", test_rejected);
  ADD ("/install-flow/self-approval", test_self_approval);
  ADD ("/install-flow/other-kdh", test_other_kdh);
  ADD ("/install-flow/bound-here", test_bound_here);
  ADD ("/install-flow/recycle-self-approval", test_recycle_self_approval);
  ADD ("/install-flow/resume", test_resume);
  ADD ("/install-flow/cancel", test_cancel);
  ADD ("/install-flow/registry-verbs", test_registry_verbs);
  ADD ("/install-flow/recycle", test_recycle);
  return g_test_run ();
}
