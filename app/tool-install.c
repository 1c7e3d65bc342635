/* SPDX-License-Identifier: GPL-3.0-or-later
 *
 * tool-install.c: posprov-tool install and recycle, the command-line views
 * of PpInstallFlow and PpRecycleFlow (core/flows): the whole one-visit
 * install of a terminal on a port, or many at once (--batch), and the
 * recycle of an installed one. Progress goes to stderr, the result to
 * stdout (--json: one object, an array for --batch).
 */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include <glib/gi18n.h>
#include <json-glib/json-glib.h>
#include <openssl/crypto.h>

#include "pp-install-flow.h"
#include "pp-link-device.h"
#include "pp-recycle-flow.h"
#include "pp-registry-local.h"
#include "pp-registry-remote.h"
#include "tool-commands.h"
#include "tool-common.h"
#include "tool-password.h"
#include "tool-registry-open.h"

#define OPERATOR_PASSWORD_ENV "POSPROV_OPERATOR_PASSWORD"

typedef struct {
  char *db_path;
  char *url;
  char *serial;
  gint64 merchant_id;
  char *merchant_file;
  char *program;
  char *port;
  char *batch;
  char *ports;
  char *otp;
  char *operator_text;
  gboolean approve_here;
  gboolean json;
} Options;

static void
options_clear (Options *o)
{
  g_free (o->db_path);
  g_free (o->url);
  g_free (o->serial);
  g_free (o->merchant_file);
  g_free (o->program);
  g_free (o->port);
  g_free (o->batch);
  g_free (o->ports);
  if (o->otp != NULL)
    OPENSSL_cleanse (o->otp, strlen (o->otp));
  g_free (o->otp);
  g_free (o->operator_text);
}

G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (Options, options_clear)

/* ---- one install on one port ---- */

typedef struct {
  const char *port;        /* for the progress lines */
  char *serial;
  gint64 merchant_id;
  PpMerchantFields *merchant;
  char *program_name;
  char *program_version;
  PpInstallFlow *flow;
  PpTerminalDevice *device;
  GError *error;
  gboolean done;
  int last_tenth;
} Job;

static void
job_free (Job *job)
{
  g_free (job->serial);
  g_free (job->program_name);
  g_free (job->program_version);
  g_clear_object (&job->flow);
  g_clear_object (&job->device);
  g_clear_error (&job->error);
  g_free (job);
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC (Job, job_free)

static void
on_step (PpInstallFlow *flow,
         GParamSpec    *pspec,
         Job           *job)
{
  PpInstallStep step = pp_install_flow_get_step (flow);
  g_autofree char *safe = pp_tool_printable (pp_install_flow_get_message (flow));

  if (step == PP_INSTALL_STEP_FAILED)
    return;
  fprintf (stderr, "%s %s: %s\n", job->serial, pp_install_step_to_string (step), safe);
}

static void
on_needs (PpInstallFlow *flow,
          GParamSpec    *pspec,
          Job           *job)
{
  g_autofree char *uuid = NULL;

  if (pp_install_flow_get_needs (flow) != PP_INSTALL_NEEDS_APPROVAL)
    return;
  g_object_get (flow, "approval-uuid", &uuid, NULL);
  fprintf (stderr, _("%s: waiting for a reviewer: posprov-tool approvals approve %s --reason TEXT\n"),
           job->serial, uuid);
}

/* The registry refused the decision of the reviewer who signed in here (a
 * request of their own, say): the run goes on waiting for another one. */
static void
print_refusal (GObject    *flow,
               const char *serial)
{
  g_autoptr(GError) refusal = NULL;
  g_autofree char *safe = NULL;

  g_object_get (flow, "reviewer-error", &refusal, NULL);
  if (refusal == NULL)
    return;
  safe = pp_tool_printable (refusal->message);
  fprintf (stderr, _("%s: the reviewer's approval here was refused: %s\n"), serial, safe);
}

static void
on_reviewer_error (PpInstallFlow *flow,
                   GParamSpec    *pspec,
                   Job           *job)
{
  print_refusal (G_OBJECT (flow), job->serial);
}

static void
on_progress (PpInstallFlow *flow,
             GParamSpec    *pspec,
             Job           *job)
{
  double p = pp_install_flow_get_progress (flow), rate = 0, left = -1;
  int tenth = (int) (p * 10);

  if (p < 0 || tenth == job->last_tenth)
    return;
  job->last_tenth = tenth;
  g_object_get (flow, "rate", &rate, "seconds-left", &left, NULL);
  if (rate > 0)
    fprintf (stderr, _("%s program: %3d%%, %.1f KiB/s, %.0f s left\n"), job->serial, tenth * 10, rate / 1024,
             left < 0 ? 0 : left);
  else
    fprintf (stderr, _("%s program: %3d%%\n"), job->serial, tenth * 10);
}

static void
on_device (GObject      *source,
           GAsyncResult *result,
           gpointer      data)
{
  *(GAsyncResult **) data = g_object_ref (result);
}

static PpTerminalDevice *
open_port (const char  *port,
           GError     **error)
{
  g_autoptr(GAsyncResult) res = NULL;
  PpSerialSettings settings = { 0, };

  pp_link_device_open_async (port, &settings, NULL, on_device, &res);
  return (PpTerminalDevice *) pp_link_device_open_finish (pp_tool_registry_wait (&res), error);
}

static JsonNode *
receipt_json (PpInstallFlow *flow)
{
  g_autoptr(PpInstallReceipt) r = pp_install_flow_get_receipt (flow);
  g_autoptr(JsonBuilder) b = json_builder_new ();
  g_autofree char *program = NULL;
  const struct { const char *name; const char *value; } members[] = {
    { "order", r->order_uuid }, { "serial", r->serial }, { "mid", r->mid }, { "tid", r->tid },
    { "kcv", r->kcv },
  };

  if (r->program_name != NULL && r->program_version != NULL)
    program = g_strdup_printf ("%s %s", r->program_name, r->program_version);
  json_builder_begin_object (b);
  for (guint i = 0; i < G_N_ELEMENTS (members); i++)
    {
      json_builder_set_member_name (b, members[i].name);
      if (members[i].value != NULL)
        json_builder_add_string_value (b, members[i].value);
      else
        json_builder_add_null_value (b);
    }
  json_builder_set_member_name (b, "program");
  if (program != NULL)
    json_builder_add_string_value (b, program);
  else
    json_builder_add_null_value (b);
  json_builder_set_member_name (b, "state");
  if (r->state != NULL)
    json_builder_add_string_value (b, r->state);
  else
    json_builder_add_null_value (b);
  json_builder_end_object (b);
  return json_builder_get_root (b);
}

static void
print_receipt (PpInstallFlow *flow)
{
  g_autoptr(PpInstallReceipt) r = pp_install_flow_get_receipt (flow);

  printf (_("Terminal %s installed: order %s, MID %s, TID %s, KCV %s, program %s %s, approved by %s\n"),
          r->serial, r->order_uuid, r->mid, r->tid, r->kcv, r->program_name, r->program_version,
          r->approver != NULL ? r->approver : "?");
}

/* The reviewer at this screen: name and password (not echoed) typed here,
 * checked against the registry; the flow decides with their registry. */
typedef struct {
  PpRegistry *registry;    /* speaks for the reviewer */
  char *name;
} Reviewer;

static void
reviewer_clear (Reviewer *r)
{
  if (r->registry != NULL && PP_IS_REGISTRY_REMOTE (r->registry))
    g_object_unref (r->registry);
  g_free (r->name);
}

G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (Reviewer, reviewer_clear)

static gboolean
ask_reviewer (PpRegistry   *registry,
              const char   *url,
              Reviewer     *out,
              GError      **error)
{
  g_autoptr(PpSecureBuffer) name = NULL, password = NULL;
  g_autoptr(GAsyncResult) res = NULL;
  g_autoptr(PpUser) user = NULL;
  PpRegistry *as = registry;

  if ((name = pp_tool_ask (_("Reviewer's user name: "), FALSE, error)) == NULL ||
      (password = pp_tool_ask (_("Reviewer's password: "), TRUE, error)) == NULL)
    return FALSE;
  if (url != NULL)
    {
      g_autoptr(GTlsCertificate) anchor = NULL;
      const char *ca = g_getenv (PP_TOOL_REGISTRY_CA_ENV);

      if (ca != NULL && *ca != '\0' && (anchor = pp_registry_remote_load_anchor (ca, error)) == NULL)
        return FALSE;
      if ((as = pp_registry_remote_new (url, (const char *) pp_secure_buffer_peek (name),
                                        (const char *) pp_secure_buffer_peek (password), anchor, error)) == NULL)
        return FALSE;
    }
  pp_registry_authenticate_async (as, (const char *) pp_secure_buffer_peek (name),
                                  (const char *) pp_secure_buffer_peek (password), NULL, pp_tool_registry_got, &res);
  user = pp_registry_authenticate_finish (as, pp_tool_registry_wait (&res), error);
  if (user == NULL)
    {
      if (as != registry)
        g_object_unref (as);
      return FALSE;
    }
  if (user->role != PP_USER_ROLE_REVIEWER)
    {
      if (as != registry)
        g_object_unref (as);
      g_set_error (error, PP_REGISTRY_ERROR, PP_REGISTRY_ERROR_PERMISSION,
                   _("%s is not a reviewer: only a reviewer approves a key release"), user->username);
      return FALSE;
    }
  out->registry = as;
  out->name = g_strdup (user->username);
  return TRUE;
}

static void
on_run (GObject      *source,
        GAsyncResult *result,
        gpointer      data)
{
  Job *job = data;

  pp_install_flow_run_finish (PP_INSTALL_FLOW (source), result, &job->error);
  job->done = TRUE;
}

static Job *
job_new (PpRegistry *registry,
         const char *port)
{
  Job *job = g_new0 (Job, 1);

  job->port = port;
  job->last_tenth = -1;
  job->flow = pp_install_flow_new (registry, pp_tool_registry_user ());
  g_signal_connect (job->flow, "notify::step", G_CALLBACK (on_step), job);
  g_signal_connect (job->flow, "notify::needs", G_CALLBACK (on_needs), job);
  g_signal_connect (job->flow, "notify::progress", G_CALLBACK (on_progress), job);
  g_signal_connect (job->flow, "notify::reviewer-error", G_CALLBACK (on_reviewer_error), job);
  return job;
}

/* Sets the job's inputs on its flow and starts it on its port. FALSE with
 * the job's error set when it cannot start. */
static gboolean
job_start (Job            *job,
           const Options  *o,
           const Reviewer *reviewer,
           guint32         operator_id,
           const char     *operator_password)
{
  if (!pp_install_flow_set_serial (job->flow, job->serial, &job->error) ||
      !pp_install_flow_set_program (job->flow, job->program_name, job->program_version, &job->error))
    return FALSE;
  if (job->merchant != NULL)
    {
      if (!pp_install_flow_set_new_merchant (job->flow, job->merchant, &job->error))
        return FALSE;
    }
  else if (!pp_install_flow_set_merchant_id (job->flow, job->merchant_id, &job->error))
    return FALSE;
  if (o->otp != NULL)
    pp_install_flow_set_otp (job->flow, o->otp);
  if (operator_password != NULL)
    pp_install_flow_set_operator (job->flow, operator_id, operator_password);
  if (reviewer->registry != NULL &&
      !pp_install_flow_set_reviewer (job->flow, reviewer->registry, reviewer->name, TRUE,
                                     _("approved at the installing station"), &job->error))
    return FALSE;
  /* An order this serial already has (a run that was cut off) goes on. */
  pp_install_flow_resume (job->flow, NULL);
  if ((job->device = open_port (job->port, &job->error)) == NULL)
    return FALSE;
  pp_install_flow_set_device (job->flow, job->device);
  pp_install_flow_run_async (job->flow, NULL, on_run, job);
  return TRUE;
}

/* ---- inputs ---- */

static gboolean
split_program (const char  *text,
               char       **out_name,
               char       **out_version,
               GError     **error)
{
  g_autofree char *copy = g_strstrip (g_strdup (text != NULL ? text : ""));
  g_auto(GStrv) parts = g_strsplit (copy, " ", -1);

  if (g_strv_length (parts) != 2 || *parts[0] == '\0' || *parts[1] == '\0')
    {
      g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                   _("--program: give “NAME VERSION” as the catalogue lists it (posprov-tool programs list), not “%s”"),
                   text != NULL ? text : "");
      return FALSE;
    }
  *out_name = g_strdup (parts[0]);
  *out_version = g_strdup (parts[1]);
  return TRUE;
}

/* M.json: {"name", "registration_number", "address", "mcc",
 * "contact_name", "contact_phone"} (docs/install-flow.md). */
static PpMerchantFields *
read_merchant (const char  *path,
               GPtrArray   *strings,
               GError     **error)
{
  static const char * const names[] = { "name", "registration_number", "address", "mcc", "contact_name",
                                        "contact_phone" };
  g_autoptr(JsonParser) parser = json_parser_new ();
  g_autofree PpMerchantFields *fields = g_new0 (PpMerchantFields, 1);
  const char **slots[] = { &fields->name, &fields->registration_number, &fields->address, &fields->mcc,
                           &fields->contact_name, &fields->contact_phone };
  JsonObject *o;

  if (!json_parser_load_from_file (parser, path, error))
    return NULL;
  if (!JSON_NODE_HOLDS_OBJECT (json_parser_get_root (parser)))
    {
      g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                   _("--merchant-file: %s is not a JSON object"), path);
      return NULL;
    }
  o = json_node_get_object (json_parser_get_root (parser));
  for (guint i = 0; i < G_N_ELEMENTS (names); i++)
    {
      JsonNode *m = json_object_get_member (o, names[i]);

      if (m == NULL || json_node_get_value_type (m) != G_TYPE_STRING)
        {
          g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                       _("--merchant-file: %s needs the text member “%s”"), path, names[i]);
          return NULL;
        }
      g_ptr_array_add (strings, g_strdup (json_node_get_string (m)));
      *slots[i] = g_ptr_array_index (strings, strings->len - 1);
    }
  return g_steal_pointer (&fields);
}

/* The merchant of @fields, when the registry knows its registration number
 * already (a second run with the same file). */
static gint64
known_merchant (PpRegistry             *registry,
                const PpMerchantFields *fields)
{
  g_autoptr(GAsyncResult) res = NULL;
  g_autoptr(GPtrArray) found = NULL;

  pp_registry_search_merchants_async (registry, fields->registration_number, 10, NULL, pp_tool_registry_got, &res);
  found = pp_registry_search_merchants_finish (registry, pp_tool_registry_wait (&res), NULL);
  for (guint i = 0; found != NULL && i < found->len; i++)
    {
      const PpMerchant *m = g_ptr_array_index (found, i);

      if (g_strcmp0 (m->registration_number, fields->registration_number) == 0)
        return m->id;
    }
  return 0;
}

/* ORDERS.csv: a header line "serial,merchant_id,program" then one terminal
 * a line: SERIAL,MERCHANT_ID,NAME VERSION (docs/install-flow.md). */
static GPtrArray *
read_batch (const char  *path,
            GError     **error)
{
  g_autofree char *text = NULL;
  g_auto(GStrv) lines = NULL;
  g_autoptr(GPtrArray) rows = g_ptr_array_new_with_free_func ((GDestroyNotify) job_free);

  if (!g_file_get_contents (path, &text, NULL, error))
    return NULL;
  lines = g_strsplit (text, "\n", -1);
  for (guint i = 0; lines[i] != NULL; i++)
    {
      g_auto(GStrv) cells = NULL;
      g_autoptr(Job) row = NULL;
      char *line = g_strstrip (lines[i]);
      gint64 merchant = 0;

      if (*line == '\0' || *line == '#' || (i == 0 && g_str_has_prefix (line, "serial")))
        continue;
      cells = g_strsplit (line, ",", -1);
      row = g_new0 (Job, 1);
      if (g_strv_length (cells) != 3 ||
          !g_ascii_string_to_signed (g_strstrip (cells[1]), 10, 1, G_MAXINT64, &merchant, NULL) ||
          !split_program (cells[2], &row->program_name, &row->program_version, NULL))
        {
          g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                       _("--batch: line %u of %s is not “SERIAL,MERCHANT_ID,NAME VERSION”"), i + 1, path);
          return NULL;
        }
      row->serial = g_strdup (g_strstrip (cells[0]));
      row->merchant_id = merchant;
      g_ptr_array_add (rows, g_steal_pointer (&row));
    }
  if (rows->len == 0)
    {
      g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE, _("--batch: %s lists no terminal"), path);
      return NULL;
    }
  return g_steal_pointer (&rows);
}

/* ---- install ---- */

int
pp_tool_install_main (int    argc,
                      char **argv)
{
  g_auto(Options) o = { 0, };
  const GOptionEntry entries[] = {
    { "serial", 0, 0, G_OPTION_ARG_STRING, &o.serial, N_("The serial scanned off the terminal"), N_("SERIAL") },
    { "merchant-id", 0, 0, G_OPTION_ARG_INT64, &o.merchant_id, N_("The merchant’s id in the registry"), N_("ID") },
    { "merchant-file", 0, 0, G_OPTION_ARG_FILENAME, &o.merchant_file,
      N_("A new merchant as JSON (name, registration_number, address, mcc, contact_name, contact_phone)"), N_("M.json") },
    { "program", 0, 0, G_OPTION_ARG_STRING, &o.program, N_("The program: “NAME VERSION” from the catalogue"), N_("PROGRAM") },
    { "port", 0, 0, G_OPTION_ARG_STRING, &o.port, N_("The terminal’s port (/dev/ttyUSB0, tcp:HOST:PORT)"), N_("PORT") },
    { "batch", 0, 0, G_OPTION_ARG_FILENAME, &o.batch,
      N_("Install every terminal of a CSV file (serial,merchant_id,program), one port each"), N_("ORDERS.csv") },
    { "ports", 0, 0, G_OPTION_ARG_STRING, &o.ports, N_("The ports of --batch, comma-separated"), N_("P1,P2,…") },
    { "otp", 0, 0, G_OPTION_ARG_STRING, &o.otp, N_("Your one-time code, when you have one enrolled"), N_("CODE") },
    { "operator", 0, 0, G_OPTION_ARG_STRING, &o.operator_text,
      N_("Run the sign-on test as this operator (password in POSPROV_OPERATOR_PASSWORD)"), N_("N") },
    { "approve-on-this-screen", 0, 0, G_OPTION_ARG_NONE, &o.approve_here,
      N_("A reviewer signs in here to approve (user and password asked on the terminal)"), NULL },
    { "db", 0, 0, G_OPTION_ARG_FILENAME, &o.db_path, N_("Store database file (default: the station’s store)"), N_("PATH") },
    { "registry", 0, 0, G_OPTION_ARG_STRING, &o.url, N_("The registry service instead of a store"), N_("URL") },
    { "json", 0, 0, G_OPTION_ARG_NONE, &o.json, N_("Print JSON"), NULL },
    { NULL }
  };
  g_autoptr(GOptionContext) context = g_option_context_new (NULL);
  g_autoptr(GError) error = NULL;
  g_autoptr(PpToolRegistry) registry = NULL;
  g_autoptr(GPtrArray) jobs = NULL;
  g_autoptr(GPtrArray) strings = g_ptr_array_new_with_free_func (g_free);
  g_autofree PpMerchantFields *merchant = NULL;
  g_auto(GStrv) ports = NULL;
  g_auto(Reviewer) reviewer = { 0, };
  const char *operator_password = NULL;
  guint64 operator_id = 0;
  guint n_ports, failed = 0;

  g_option_context_set_summary (context, _("Install a terminal in one visit: check the register, issue MID and TID, "
                                           "wait for a reviewer's approval, load its key by TR-34 from the registry's "
                                           "key host, test a sign-on, push the program and close the order."));
  g_option_context_add_main_entries (context, entries, GETTEXT_PACKAGE);
  if (!pp_tool_parse (context, &argc, &argv))
    return 1;
  if (argc != 1)
    return pp_tool_fail (_("install takes no arguments besides its options (see “install --help”)"));

  if (o.operator_text != NULL)
    {
      if (!g_ascii_string_to_unsigned (o.operator_text, 10, 0, G_MAXUINT32, &operator_id, NULL))
        return pp_tool_fail (_("--operator: “%s” is not an operator number (0 to 4294967295)"), o.operator_text);
      if ((operator_password = g_getenv (OPERATOR_PASSWORD_ENV)) == NULL)
        return pp_tool_fail (_("--operator: set the operator's password in %s"), OPERATOR_PASSWORD_ENV);
    }
  jobs = g_ptr_array_new_with_free_func ((GDestroyNotify) job_free);
  if (o.batch != NULL)
    {
      if (o.serial != NULL || o.port != NULL || o.ports == NULL)
        return pp_tool_fail (_("install --batch ORDERS.csv goes with --ports P1,P2,… (not --serial or --port)"));
      if ((jobs = read_batch (o.batch, &error)) == NULL)
        return pp_tool_fail_error (error);
      ports = g_strsplit (o.ports, ",", -1);
    }
  else
    {
      g_autoptr(Job) job = g_new0 (Job, 1);

      if (o.serial == NULL || o.program == NULL || o.port == NULL ||
          (o.merchant_id > 0) == (o.merchant_file != NULL))
        return pp_tool_fail (_("install: --serial, --program, --port and one of --merchant-id or --merchant-file are required"));
      if (!split_program (o.program, &job->program_name, &job->program_version, &error))
        return pp_tool_fail_error (error);
      if (o.merchant_file != NULL && (merchant = read_merchant (o.merchant_file, strings, &error)) == NULL)
        return pp_tool_fail_error (error);
      job->serial = g_strdup (o.serial);
      job->merchant_id = o.merchant_id;
      job->merchant = merchant;
      g_ptr_array_add (jobs, g_steal_pointer (&job));
      ports = g_strsplit (o.port, ",", 1);
    }
  n_ports = g_strv_length (ports);
  for (guint i = 0; i < n_ports; i++)
    if (*g_strstrip (ports[i]) == '\0')
      return pp_tool_fail (_("--ports: an empty port in “%s”"), o.ports);

  if ((registry = pp_tool_open_registry (o.db_path, o.url, &error)) == NULL)
    return pp_tool_fail_error (error);
  if (merchant != NULL && (o.merchant_id = known_merchant (registry, merchant)) > 0)
    {
      ((Job *) g_ptr_array_index (jobs, 0))->merchant = NULL;
      ((Job *) g_ptr_array_index (jobs, 0))->merchant_id = o.merchant_id;
    }
  if (o.approve_here && !ask_reviewer (registry, o.url, &reviewer, &error))
    return pp_tool_fail_error (error);

  /* One install at a time on each port, the ports at once. */
  {
    g_autofree Job **running = g_new0 (Job *, n_ports);
    guint next = 0, active = 0;

    for (;;)
      {
        for (guint p = 0; p < n_ports; p++)
          {
            if (running[p] != NULL && running[p]->done)
              {
                Job *job = running[p];

                g_clear_object (&job->device);
                if (job->error != NULL)
                  {
                    g_autofree char *safe = pp_tool_printable (job->error->message);

                    fprintf (stderr, "posprov-tool: %s: %s\n", job->serial, safe);
                    failed++;
                  }
                running[p] = NULL;
                active--;
              }
            while (running[p] == NULL && next < jobs->len)
              {
                Job *job = g_ptr_array_index (jobs, next++);
                Job *fresh = job_new (registry, ports[p]);

                /* the row's inputs move to a job on this port */
                fresh->serial = g_steal_pointer (&job->serial);
                fresh->merchant_id = job->merchant_id;
                fresh->merchant = job->merchant;
                fresh->program_name = g_steal_pointer (&job->program_name);
                fresh->program_version = g_steal_pointer (&job->program_version);
                g_ptr_array_index (jobs, next - 1) = fresh;
                job_free (job);
                if (!job_start (fresh, &o, &reviewer, (guint32) operator_id, operator_password))
                  {
                    g_autofree char *safe = pp_tool_printable (fresh->error->message);

                    fprintf (stderr, "posprov-tool: %s: %s\n", fresh->serial, safe);
                    fresh->done = TRUE;
                    failed++;
                    continue;
                  }
                running[p] = fresh;
                active++;
              }
          }
        if (active == 0 && next >= jobs->len)
          break;
        g_main_context_iteration (NULL, TRUE);
      }
  }

  if (o.json)
    {
      g_autoptr(JsonNode) root = NULL;

      if (o.batch != NULL)
        {
          g_autoptr(JsonBuilder) b = json_builder_new ();

          json_builder_begin_array (b);
          for (guint i = 0; i < jobs->len; i++)
            json_builder_add_value (b, receipt_json (((Job *) g_ptr_array_index (jobs, i))->flow));
          json_builder_end_array (b);
          root = json_builder_get_root (b);
        }
      else
        root = receipt_json (((Job *) g_ptr_array_index (jobs, 0))->flow);
      pp_tool_print_json (root);
    }
  else
    for (guint i = 0; i < jobs->len; i++)
      {
        Job *job = g_ptr_array_index (jobs, i);

        if (job->error == NULL)
          print_receipt (job->flow);
      }
  return failed == 0 ? 0 : 1;
}

/* ---- recycle ---- */

typedef struct {
  const char *serial;
  GError *error;
  gboolean done;
  gboolean asked;
} RecycleRun;

static void
on_recycle_step (PpRecycleFlow *flow,
                 GParamSpec    *pspec,
                 RecycleRun    *run)
{
  PpRecycleStep step = pp_recycle_flow_get_step (flow);
  g_autofree char *safe = pp_tool_printable (pp_recycle_flow_get_message (flow));

  if (step != PP_RECYCLE_STEP_FAILED)
    fprintf (stderr, "%s %s: %s\n", run->serial, pp_recycle_step_to_string (step), safe);
}

/* Waiting for a reviewer: which approval to approve, and its short code. */
static void
on_recycle_needs (PpRecycleFlow *flow,
                  GParamSpec    *pspec,
                  RecycleRun    *run)
{
  g_autofree char *uuid = NULL, *code = NULL;

  if (pp_recycle_flow_get_needs (flow) != PP_RECYCLE_NEEDS_APPROVAL || run->asked)
    return;
  run->asked = TRUE;
  g_object_get (flow, "approval-uuid", &uuid, "approval-code", &code, NULL);
  fprintf (stderr, _("%s: waiting for a reviewer: posprov-tool approvals approve %s --reason TEXT (code %s)\n"),
           run->serial, uuid, code != NULL ? code : "-");
}

static void
on_recycle_reviewer_error (PpRecycleFlow *flow,
                           GParamSpec    *pspec,
                           RecycleRun    *run)
{
  print_refusal (G_OBJECT (flow), run->serial);
}

static void
on_recycle_done (GObject      *source,
                 GAsyncResult *result,
                 gpointer      data)
{
  RecycleRun *run = data;

  pp_recycle_flow_run_finish (PP_RECYCLE_FLOW (source), result, &run->error);
  run->done = TRUE;
}

int
pp_tool_recycle_main (int    argc,
                      char **argv)
{
  g_autofree char *port = NULL, *reason = NULL, *db_path = NULL, *url = NULL, *otp = NULL;
  gboolean json = FALSE, approve_here = FALSE;
  const GOptionEntry entries[] = {
    { "port", 0, 0, G_OPTION_ARG_STRING, &port, N_("The terminal’s port (/dev/ttyUSB0, tcp:HOST:PORT)"), N_("PORT") },
    { "reason", 0, 0, G_OPTION_ARG_STRING, &reason, N_("Why it comes back (recorded on the order)"), N_("TEXT") },
    { "otp", 0, 0, G_OPTION_ARG_STRING, &otp, N_("Your one-time code, when you have one enrolled"), N_("CODE") },
    { "approve-on-this-screen", 0, 0, G_OPTION_ARG_NONE, &approve_here,
      N_("A reviewer signs in here to approve (user and password asked on the terminal)"), NULL },
    { "db", 0, 0, G_OPTION_ARG_FILENAME, &db_path, N_("Store database file (default: the station’s store)"), N_("PATH") },
    { "registry", 0, 0, G_OPTION_ARG_STRING, &url, N_("The registry service instead of a store"), N_("URL") },
    { "json", 0, 0, G_OPTION_ARG_NONE, &json, N_("Print JSON"), NULL },
    { NULL }
  };
  g_autoptr(GOptionContext) context = g_option_context_new (_("SERIAL"));
  g_autoptr(GError) error = NULL;
  g_autoptr(PpToolRegistry) registry = NULL;
  g_autoptr(PpTerminalDevice) device = NULL;
  g_autoptr(PpRecycleFlow) flow = NULL;
  g_autoptr(PpRecycleReceipt) r = NULL;
  g_auto(Reviewer) reviewer = { 0, };
  RecycleRun run = { 0, };

  g_option_context_set_summary (context, _("Take an installed terminal back: a recycle order clears its merchant, "
                                           "a reviewer approves it (approvals approve ID on another screen), "
                                           "the registry's key host releases it (UBT_KDH), its keys are erased "
                                           "(ZEROIZE) and it goes back to stock."));
  g_option_context_add_main_entries (context, entries, GETTEXT_PACKAGE);
  if (!pp_tool_parse (context, &argc, &argv))
    return 1;
  if (argc != 2 || port == NULL)
    return pp_tool_fail (_("recycle SERIAL --port PORT: give the serial and the port"));
  if ((registry = pp_tool_open_registry (db_path, url, &error)) == NULL ||
      (approve_here && !ask_reviewer (registry, url, &reviewer, &error)) ||
      (device = open_port (port, &error)) == NULL)
    return pp_tool_fail_error (error);
  run.serial = argv[1];
  flow = pp_recycle_flow_new (registry, pp_tool_registry_user ());
  g_signal_connect (flow, "notify::step", G_CALLBACK (on_recycle_step), &run);
  g_signal_connect (flow, "notify::needs", G_CALLBACK (on_recycle_needs), &run);
  g_signal_connect (flow, "notify::reviewer-error", G_CALLBACK (on_recycle_reviewer_error), &run);
  if (reviewer.registry != NULL &&
      !pp_recycle_flow_set_reviewer (flow, reviewer.registry, reviewer.name, TRUE,
                                     _("approved at the recycling station"), &error))
    return pp_tool_fail_error (error);
  if (otp != NULL)
    {
      pp_recycle_flow_set_otp (flow, otp);
      OPENSSL_cleanse (otp, strlen (otp));
    }
  if (!pp_recycle_flow_set_serial (flow, argv[1], &error))
    return pp_tool_fail_error (error);
  /* the command line is the confirmation */
  pp_recycle_flow_confirm (flow, reason);
  pp_recycle_flow_resume (flow, NULL);
  pp_recycle_flow_set_device (flow, device);
  pp_recycle_flow_run_async (flow, NULL, on_recycle_done, &run);
  while (!run.done)
    g_main_context_iteration (NULL, TRUE);
  if (run.error != NULL)
    {
      g_autoptr(GError) failed = g_steal_pointer (&run.error);

      return pp_tool_fail_error (failed);
    }
  r = pp_recycle_flow_get_receipt (flow);
  if (json)
    {
      g_autoptr(JsonBuilder) b = json_builder_new ();
      g_autoptr(JsonNode) root = NULL;

      json_builder_begin_object (b);
      json_builder_set_member_name (b, "order");
      json_builder_add_string_value (b, r->order_uuid);
      json_builder_set_member_name (b, "serial");
      json_builder_add_string_value (b, r->serial);
      json_builder_set_member_name (b, "cleared_mid");
      json_builder_add_string_value (b, r->cleared_mid);
      json_builder_set_member_name (b, "cleared_tid");
      json_builder_add_string_value (b, r->cleared_tid);
      json_builder_set_member_name (b, "unbound");
      json_builder_add_boolean_value (b, r->unbound);
      json_builder_set_member_name (b, "zeroized");
      json_builder_add_boolean_value (b, r->zeroized);
      json_builder_set_member_name (b, "state");
      json_builder_add_string_value (b, r->state);
      json_builder_end_object (b);
      root = json_builder_get_root (b);
      pp_tool_print_json (root);
    }
  else
    printf (_("Terminal %s recycled: order %s, MID %s and TID %s cleared, %s, keys erased, back in stock\n"),
            r->serial, r->order_uuid, r->cleared_mid != NULL ? r->cleared_mid : "-",
            r->cleared_tid != NULL ? r->cleared_tid : "-",
            r->unbound ? _("released from the key host") : _("was not bound"));
  return 0;
}
