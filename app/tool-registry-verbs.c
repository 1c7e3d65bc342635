/* SPDX-License-Identifier: GPL-3.0-or-later
 *
 * tool-registry-verbs.c: posprov-tool orders, approvals, programs and
 * users: the registry's verbs on the command line, through PpRegistry on
 * the local store (--db PATH) or posprov-registry (--registry URL),
 * as the user in PP_REGISTRY_USER / PP_REGISTRY_PASSWORD.
 *
 * Each run is one intended change, so it makes one idempotency key; the
 * registry refuses what the acting user may not do and the tool reports
 * its message as it is.
 */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include <glib/gi18n.h>
#include <openssl/crypto.h>
#include <openssl/x509.h>

#include "pp-program-package.h"
#include "pp-qr-code.h"
#include "tool-commands.h"
#include "tool-common.h"
#include "tool-password.h"
#include "tool-pki.h"
#include "tool-registry-open.h"

#define NEW_PASSWORD_ENV "PP_NEW_PASSWORD"

/* The options every registry command takes. */
typedef struct {
  char *db_path;
  char *url;
  gboolean json;
} Common;

static void
common_clear (Common *c)
{
  g_free (c->db_path);
  g_free (c->url);
}

G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (Common, common_clear)

#define COMMON_OPTIONS(c) \
  { "db", 0, 0, G_OPTION_ARG_FILENAME, &(c).db_path, N_("Store database file (default: the station’s store)"), N_("PATH") }, \
  { "registry", 0, 0, G_OPTION_ARG_STRING, &(c).url, N_("The registry service instead of a store"), N_("URL") }, \
  { "json", 0, 0, G_OPTION_ARG_NONE, &(c).json, N_("Print JSON"), NULL }

static GOptionContext *
new_context (const char         *parameters,
             const char         *summary,
             const GOptionEntry *entries)
{
  GOptionContext *context = g_option_context_new (parameters);

  g_option_context_set_summary (context, summary);
  g_option_context_add_main_entries (context, entries, GETTEXT_PACKAGE);
  return context;
}

static PpRegistry *
open_registry (Common *c)
{
  g_autoptr(GError) error = NULL;
  PpRegistry *registry = pp_tool_open_registry (c->db_path, c->url, &error);

  if (registry == NULL)
    pp_tool_fail_error (error);
  return registry;
}

static char *
format_time (gint64 unix_seconds)
{
  g_autoptr(GDateTime) dt = unix_seconds > 0 ? g_date_time_new_from_unix_utc (unix_seconds) : NULL;

  return dt != NULL ? g_date_time_format_iso8601 (dt) : g_strdup ("-");
}

static const char *
or_dash (const char *s)
{
  return s != NULL && *s != '\0' ? s : "-";
}

static void
print_safe (const char *label,
            const char *value)
{
  g_autofree char *safe = pp_tool_printable (or_dash (value));

  printf ("%-12s %s\n", label, safe != NULL ? safe : or_dash (value));
}

/* ---- orders ------------------------------------------------------------ */

static void
print_order (const PpWorkOrder *o)
{
  print_safe (_("Order:"), o->uuid);
  print_safe (_("Kind:"), pp_work_order_kind_to_string (o->kind));
  print_safe (_("State:"), pp_work_order_state_to_string (o->state));
  print_safe (_("Serial:"), o->serial);
  print_safe (_("MID:"), o->mid);
  print_safe (_("TID:"), o->tid);
  print_safe (_("Program:"), o->program_version);
  print_safe (_("Key type:"), pp_tmk_type_to_string (o->key_type));
  print_safe (_("KCV:"), o->kcv);
}

static int
print_order_result (PpWorkOrder *order,
                    gboolean     json)
{
  g_autoptr(PpWorkOrder) owned = order;

  if (json)
    {
      g_autoptr(JsonNode) node = pp_registry_order_to_json (owned);

      pp_tool_print_json (node);
    }
  else
    print_order (owned);
  return 0;
}

static int
orders_create (int    argc,
               char **argv)
{
  g_auto(Common) c = { 0 };
  g_autofree char *serial = NULL, *program = NULL, *key_type_text = NULL;
  gint64 merchant_id = 0;
  const GOptionEntry entries[] = {
    COMMON_OPTIONS (c),
    { "serial", 0, 0, G_OPTION_ARG_STRING, &serial, N_("The terminal’s serial number"), N_("SERIAL") },
    { "merchant", 0, 0, G_OPTION_ARG_INT64, &merchant_id, N_("The merchant’s id"), N_("ID") },
    { "program", 0, 0, G_OPTION_ARG_STRING, &program, N_("The program version to install"), N_("VERSION") },
    { "key-type", 0, 0, G_OPTION_ARG_STRING, &key_type_text,
      N_("The master key’s type (default: aes-128)"), N_("TYPE") },
    { NULL }
  };
  g_autoptr(GOptionContext) context = new_context (NULL,
    _("Opens an install work order: reserves the terminal and issues its TID under the "
      "merchant’s MID."), entries);
  g_autoptr(PpToolRegistry) registry = NULL;
  g_autoptr(GAsyncResult) res = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *key = g_uuid_string_random ();
  PpTmkType key_type = PP_TMK_AES_128;
  PpWorkOrder *order;

  if (!pp_tool_parse (context, &argc, &argv))
    return 1;
  if (argc != 1)
    return pp_tool_fail (_("unexpected argument “%s” (see “%s --help”)"), argv[1], argv[0]);
  if (serial == NULL || merchant_id <= 0 || program == NULL)
    return pp_tool_fail (_("orders create: --serial, --merchant and --program are required"));
  if (key_type_text != NULL && !pp_tmk_type_from_string (key_type_text, &key_type))
    return pp_tool_fail (_("--key-type: “%s” is not a key type (aes-128, aes-192, aes-256, tdes-2key, tdes-3key)"),
                         key_type_text);
  if ((registry = open_registry (&c)) == NULL)
    return 1;
  pp_registry_create_install_order_async (registry, serial, merchant_id, program, key_type,
                                          pp_tool_registry_user (), key, NULL, pp_tool_registry_got, &res);
  order = pp_registry_create_install_order_finish (registry, pp_tool_registry_wait (&res), &error);
  if (order == NULL)
    return pp_tool_fail_error (error);
  return print_order_result (order, c.json);
}

static int
orders_show (int    argc,
             char **argv)
{
  g_auto(Common) c = { 0 };
  const GOptionEntry entries[] = { COMMON_OPTIONS (c), { NULL } };
  g_autoptr(GOptionContext) context = new_context (_("ORDER"), _("Shows one work order."), entries);
  g_autoptr(PpToolRegistry) registry = NULL;
  g_autoptr(GAsyncResult) res = NULL;
  g_autoptr(GError) error = NULL;
  PpWorkOrder *order;

  if (!pp_tool_parse (context, &argc, &argv))
    return 1;
  if (argc != 2)
    return pp_tool_fail (_("expected one work order id (see “%s --help”)"), argv[0]);
  if (!g_uuid_string_is_valid (argv[1]))
    return pp_tool_fail (_("“%s” is not a work order id (a UUID)"), argv[1]);
  if ((registry = open_registry (&c)) == NULL)
    return 1;
  pp_registry_get_order_async (registry, argv[1], NULL, pp_tool_registry_got, &res);
  order = pp_registry_get_order_finish (registry, pp_tool_registry_wait (&res), &error);
  if (order == NULL)
    return pp_tool_fail_error (error);
  return print_order_result (order, c.json);
}

static JsonNode *
order_json (gconstpointer item)
{
  return pp_registry_order_to_json (item);
}

static int
orders_list (int    argc,
             char **argv)
{
  g_auto(Common) c = { 0 };
  g_autofree char *serial = NULL;
  const GOptionEntry entries[] = {
    COMMON_OPTIONS (c),
    { "serial", 0, 0, G_OPTION_ARG_STRING, &serial, N_("Only this terminal’s orders"), N_("SERIAL") },
    { NULL }
  };
  g_autoptr(GOptionContext) context = new_context (NULL, _("Lists the work orders, oldest first."), entries);
  g_autoptr(PpToolRegistry) registry = NULL;
  g_autoptr(GAsyncResult) res = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) orders = NULL;

  if (!pp_tool_parse (context, &argc, &argv))
    return 1;
  if (argc != 1)
    return pp_tool_fail (_("unexpected argument “%s” (see “%s --help”)"), argv[1], argv[0]);
  if ((registry = open_registry (&c)) == NULL)
    return 1;
  pp_registry_list_orders_async (registry, serial, NULL, pp_tool_registry_got, &res);
  orders = pp_registry_list_orders_finish (registry, pp_tool_registry_wait (&res), &error);
  if (orders == NULL)
    return pp_tool_fail_error (error);

  if (c.json)
    {
      pp_tool_print_json_list ("orders", orders, order_json);
      return 0;
    }
  if (orders->len == 0)
    {
      printf ("%s\n", _("No work orders."));
      return 0;
    }
  printf ("%-36s  %-9s  %-17s  %-16s  %-15s  %s\n", _("ORDER"), _("KIND"), _("STATE"), _("SERIAL"), _("MID"),
          _("TID"));
  for (guint i = 0; i < orders->len; i++)
    {
      PpWorkOrder *o = g_ptr_array_index (orders, i);
      g_autofree char *serial_safe = pp_tool_printable (o->serial);

      printf ("%-36s  %-9s  %-17s  %-16s  %-15s  %s\n", o->uuid, pp_work_order_kind_to_string (o->kind),
              pp_work_order_state_to_string (o->state), serial_safe != NULL ? serial_safe : o->serial,
              or_dash (o->mid), or_dash (o->tid));
    }
  return 0;
}

int
pp_tool_orders_main (int    argc,
                     char **argv)
{
  static const PpToolCommand commands[] = {
    { "create", orders_create, N_("Open an install work order") },
    { "show",   orders_show,   N_("Show one work order") },
    { "list",   orders_list,   N_("List the work orders") },
    { NULL, NULL, NULL }
  };

  return pp_tool_dispatch (argv[0], commands, argc, argv);
}

/* ---- approvals --------------------------------------------------------- */

/* The QR code of @text in UTF-8 half blocks (pp_qr_code_to_half_blocks)
 * inside a quiet zone of two modules; wiped after (@text may be a secret). */
static gboolean
print_qr (const char  *text,
          GError     **error)
{
  g_autoptr(PpQrCode) qr = pp_qr_code_new (text, error);
  char *blocks;

  if (qr == NULL)
    return FALSE;
  blocks = pp_qr_code_to_half_blocks (qr, 2);
  fputs (blocks, stdout);
  fflush (stdout);
  OPENSSL_cleanse (blocks, strlen (blocks));
  g_free (blocks);
  return TRUE;
}

static JsonNode *
approval_summary_json (const PpRegistryApproval *a)
{
  g_autoptr(JsonBuilder) b = json_builder_new ();
  g_autofree char *time = format_time (a->requested_at);

  json_builder_begin_object (b);
#define PUT(name, value) \
  json_builder_set_member_name (b, name); \
  if ((value) != NULL) json_builder_add_string_value (b, value); else json_builder_add_null_value (b)
  PUT ("id", a->uuid);
  PUT ("order", a->order_uuid);
  PUT ("state", pp_registry_approval_state_to_string (a->state));
  PUT ("serial", a->serial);
  PUT ("model", a->model);
  PUT ("merchant", a->merchant_name);
  json_builder_set_member_name (b, "merchant_id");
  json_builder_add_int_value (b, a->merchant_id);
  PUT ("mid", a->mid);
  PUT ("tid", a->tid);
  PUT ("program", a->program_version);
  PUT ("key_type", a->key_type);
  PUT ("requester", a->requester);
  PUT ("time", time);
  PUT ("approver", a->approver);
  PUT ("reason", a->reason);
  PUT ("code", a->code);
#undef PUT
  json_builder_end_object (b);
  return json_builder_get_root (b);
}

static JsonNode *
approval_item_json (gconstpointer item)
{
  return approval_summary_json (item);
}

static void
print_approval (const PpRegistryApproval *a)
{
  g_autofree char *time = format_time (a->requested_at);
  g_autofree char *decided = format_time (a->decided_at);

  print_safe (_("Approval:"), a->uuid);
  if (a->code != NULL)
    print_safe (_("Code:"), a->code);
  print_safe (_("Order:"), a->order_uuid);
  print_safe (_("State:"), pp_registry_approval_state_to_string (a->state));
  print_safe (_("Serial:"), a->serial);
  print_safe (_("Model:"), a->model);
  print_safe (_("Merchant:"), a->merchant_name);
  print_safe (_("MID:"), a->mid);
  print_safe (_("TID:"), a->tid);
  print_safe (_("Program:"), a->program_version);
  print_safe (_("Requester:"), a->requester);
  print_safe (_("Requested:"), time);
  if (a->approver != NULL)
    {
      print_safe (_("Decided by:"), a->approver);
      print_safe (_("Decided:"), decided);
      print_safe (_("Reason:"), a->reason);
    }
}

static int
print_approval_result (PpRegistryApproval *approval,
                       gboolean            json)
{
  g_autoptr(PpRegistryApproval) owned = approval;

  if (json)
    {
      g_autoptr(JsonNode) node = approval_summary_json (owned);

      pp_tool_print_json (node);
    }
  else
    print_approval (owned);
  return 0;
}

static int
approvals_list (int    argc,
                char **argv)
{
  g_auto(Common) c = { 0 };
  gboolean all = FALSE;
  const GOptionEntry entries[] = {
    COMMON_OPTIONS (c),
    { "all", 0, 0, G_OPTION_ARG_NONE, &all, N_("Decided requests too, not only the pending ones"), NULL },
    { NULL }
  };
  g_autoptr(GOptionContext) context = new_context (NULL,
    _("Lists the approval requests waiting for a reviewer, oldest first: exactly what each "
      "would approve."), entries);
  g_autoptr(PpToolRegistry) registry = NULL;
  g_autoptr(GAsyncResult) res = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) list = NULL;

  if (!pp_tool_parse (context, &argc, &argv))
    return 1;
  if (argc != 1)
    return pp_tool_fail (_("unexpected argument “%s” (see “%s --help”)"), argv[1], argv[0]);
  if ((registry = open_registry (&c)) == NULL)
    return 1;
  pp_registry_list_approvals_async (registry, !all, NULL, pp_tool_registry_got, &res);
  list = pp_registry_list_approvals_finish (registry, pp_tool_registry_wait (&res), &error);
  if (list == NULL)
    return pp_tool_fail_error (error);

  if (c.json)
    {
      pp_tool_print_json_list ("approvals", list, approval_item_json);
      return 0;
    }
  if (list->len == 0)
    {
      printf ("%s\n", all ? _("No approval requests.") : _("No approval requests are pending."));
      return 0;
    }
  for (guint i = 0; i < list->len; i++)
    {
      if (i > 0)
        fputc ('\n', stdout);
      print_approval (g_ptr_array_index (list, i));
    }
  return 0;
}

static int
approvals_show (int    argc,
                char **argv)
{
  g_auto(Common) c = { 0 };
  const GOptionEntry entries[] = { COMMON_OPTIONS (c), { NULL } };
  g_autoptr(GOptionContext) context = new_context (_("ID_OR_CODE"),
    _("Shows one approval request, found by its id, its short code or the text of its QR code, "
      "with the QR code the reviewer’s station scans to open it."), entries);
  g_autoptr(PpToolRegistry) registry = NULL;
  g_autoptr(GAsyncResult) res = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(PpRegistryApproval) approval = NULL;
  g_autofree char *ref = NULL;
  g_autofree char *payload = NULL;

  if (!pp_tool_parse (context, &argc, &argv))
    return 1;
  if (argc != 2)
    return pp_tool_fail (_("expected one approval id or code (see “%s --help”)"), argv[0]);
  if ((ref = pp_registry_approval_ref_parse (argv[1])) == NULL)
    return pp_tool_fail (_("“%s” is neither an approval id (a UUID) nor an approval code (%d letters "
                           "and digits)"), argv[1], PP_APPROVAL_CODE_LENGTH);
  if ((registry = open_registry (&c)) == NULL)
    return 1;
  pp_registry_get_approval_async (registry, ref, NULL, pp_tool_registry_got, &res);
  approval = pp_registry_get_approval_finish (registry, pp_tool_registry_wait (&res), &error);
  if (approval == NULL)
    return pp_tool_fail_error (error);
  payload = pp_registry_approval_qr_payload (approval);
  if (c.json)
    {
      g_autoptr(JsonNode) node = approval_summary_json (approval);

      json_object_set_string_member (json_node_get_object (node), "qr", payload);
      pp_tool_print_json (node);
      return 0;
    }
  print_approval (approval);
  print_safe (_("QR code:"), payload);
  if (!print_qr (payload, &error))
    return pp_tool_fail_error (error);
  return 0;
}

static int
approvals_request (int    argc,
                   char **argv)
{
  g_auto(Common) c = { 0 };
  g_autofree char *scanned = NULL, *otp = NULL;
  const GOptionEntry entries[] = {
    COMMON_OPTIONS (c),
    { "scanned", 0, 0, G_OPTION_ARG_STRING, &scanned,
      N_("The serial read off the terminal (its QR code or a scan)"), N_("SERIAL") },
    { "otp", 0, 0, G_OPTION_ARG_STRING, &otp,
      N_("The one-time code your authenticator shows (required once enrolled)"), N_("CODE") },
    { NULL }
  };
  g_autoptr(GOptionContext) context = new_context (_("ORDER"),
    _("Asks a reviewer to approve the key release of an open install work order."), entries);
  g_autoptr(PpToolRegistry) registry = NULL;
  g_autoptr(GAsyncResult) res = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *key = g_uuid_string_random ();
  PpRegistryApproval *approval;

  if (!pp_tool_parse (context, &argc, &argv))
    return 1;
  if (argc != 2)
    return pp_tool_fail (_("expected one work order id (see “%s --help”)"), argv[0]);
  if (!g_uuid_string_is_valid (argv[1]))
    return pp_tool_fail (_("“%s” is not a work order id (a UUID)"), argv[1]);
  if ((registry = open_registry (&c)) == NULL)
    return 1;
  pp_registry_request_approval_async (registry, argv[1], scanned, otp, pp_tool_registry_user (), key, NULL,
                                      pp_tool_registry_got, &res);
  approval = pp_registry_request_approval_finish (registry, pp_tool_registry_wait (&res), &error);
  if (otp != NULL)
    OPENSSL_cleanse (otp, strlen (otp));
  if (approval == NULL)
    return pp_tool_fail_error (error);
  return print_approval_result (approval, c.json);
}

static int
approvals_decide (int      argc,
                  char   **argv,
                  gboolean approve)
{
  g_auto(Common) c = { 0 };
  g_autofree char *reason = NULL;
  const GOptionEntry entries[] = {
    COMMON_OPTIONS (c),
    { "reason", 0, 0, G_OPTION_ARG_STRING, &reason,
      approve ? N_("Why (optional)") : N_("Why it is rejected (required)"), N_("TEXT") },
    { NULL }
  };
  g_autoptr(GOptionContext) context = new_context (_("APPROVAL"),
    approve ? _("Approves an approval request: the key may be released for exactly what it shows.")
            : _("Rejects an approval request: the order is cancelled and the terminal goes back to stock."),
    entries);
  g_autoptr(PpToolRegistry) registry = NULL;
  g_autoptr(GAsyncResult) res = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *key = g_uuid_string_random ();
  PpRegistryApproval *approval;

  if (!pp_tool_parse (context, &argc, &argv))
    return 1;
  if (argc != 2)
    return pp_tool_fail (_("expected one approval id (see “%s --help”)"), argv[0]);
  if (!g_uuid_string_is_valid (argv[1]))
    return pp_tool_fail (_("“%s” is not an approval id (a UUID)"), argv[1]);
  if (!approve && (reason == NULL || *g_strstrip (reason) == '\0'))
    return pp_tool_fail (_("approvals reject: give the reason with --reason"));
  if ((registry = open_registry (&c)) == NULL)
    return 1;
  pp_registry_decide_approval_async (registry, argv[1], approve, reason, pp_tool_registry_user (), key, NULL,
                                     pp_tool_registry_got, &res);
  approval = pp_registry_decide_approval_finish (registry, pp_tool_registry_wait (&res), &error);
  if (approval == NULL)
    return pp_tool_fail_error (error);
  return print_approval_result (approval, c.json);
}

static int
approvals_approve (int argc, char **argv)
{
  return approvals_decide (argc, argv, TRUE);
}

static int
approvals_reject (int argc, char **argv)
{
  return approvals_decide (argc, argv, FALSE);
}

int
pp_tool_approvals_main (int    argc,
                        char **argv)
{
  static const PpToolCommand commands[] = {
    { "list",    approvals_list,    N_("List the pending approval requests") },
    { "show",    approvals_show,    N_("Show one request and its QR code, by id or code") },
    { "request", approvals_request, N_("Ask for a reviewer’s approval of a work order") },
    { "approve", approvals_approve, N_("Approve a request (reviewers; not your own)") },
    { "reject",  approvals_reject,  N_("Reject a request with a reason") },
    { NULL, NULL, NULL }
  };

  return pp_tool_dispatch (argv[0], commands, argc, argv);
}

/* ---- programs ---------------------------------------------------------- */

static void
print_programs (GPtrArray *records,
                gboolean   json)
{
  if (json)
    {
      g_autoptr(JsonBuilder) b = json_builder_new ();
      g_autoptr(JsonNode) root = NULL;

      json_builder_begin_object (b);
      json_builder_set_member_name (b, "programs");
      json_builder_begin_array (b);
      for (guint i = 0; i < records->len; i++)
        json_builder_add_value (b, pp_registry_program_to_json (g_ptr_array_index (records, i)));
      json_builder_end_array (b);
      json_builder_set_member_name (b, "count");
      json_builder_add_int_value (b, records->len);
      json_builder_end_object (b);
      root = json_builder_get_root (b);
      pp_tool_print_json (root);
      return;
    }
  if (records->len == 0)
    {
      printf ("%s\n", _("No programs in the catalogue."));
      return;
    }
  printf ("%-12s  %-20s  %-12s  %12s  %s\n", _("MODEL"), _("NAME"), _("VERSION"), _("BYTES"), _("SHA-256"));
  for (guint i = 0; i < records->len; i++)
    {
      PpProgramRecord *r = g_ptr_array_index (records, i);

      printf ("%-12s  %-20s  %-12s  %12" G_GUINT64_FORMAT "  %s\n", r->model, r->name, r->version, r->size,
              r->sha256);
    }
}

static int
programs_upload (int    argc,
                 char **argv)
{
  g_auto(Common) c = { 0 };
  g_autofree char *trust_path = NULL;
  const GOptionEntry entries[] = {
    COMMON_OPTIONS (c),
    { "trust", 0, 0, G_OPTION_ARG_FILENAME, &trust_path,
      N_("Program-signing CA certificates (PEM) the package’s signer must chain to"), N_("PEM") },
    { NULL }
  };
  g_autoptr(GOptionContext) context = new_context (_("PKG"),
    _("Adds a signed program package to the registry’s catalogue, for each model it lists, once its "
      "files and its signature by a signer that chains to --trust are verified. With --registry the "
      "service checks the signer against its own trust; --trust then checks here first."), entries);
  g_autoptr(PpToolRegistry) registry = NULL;
  g_autoptr(GAsyncResult) res = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) trust = g_ptr_array_new_with_free_func ((GDestroyNotify) X509_free);
  g_autoptr(PpProgramPackage) package = NULL;
  g_autoptr(GMappedFile) file = NULL;
  g_autoptr(GBytes) bytes = NULL;
  g_autoptr(GPtrArray) records = NULL;
  g_autofree char *key = g_uuid_string_random ();
  STACK_OF (X509) *certs;

  if (!pp_tool_parse (context, &argc, &argv))
    return 1;
  if (argc != 2)
    return pp_tool_fail (_("expected one program package (see “%s --help”)"), argv[0]);
  /* A registry service checks the signer against its own --program-trust;
   * a store has no trust of its own, so --db needs --trust. */
  if (trust_path == NULL && c.url == NULL)
    return pp_tool_fail (_("programs upload: --trust is required with a store (--db)"));
  if (trust_path != NULL)
    {
      if ((certs = pp_tool_load_certs ("--trust", trust_path, &error)) == NULL)
        return pp_tool_fail_error (error);
      while (sk_X509_num (certs) > 0)
        g_ptr_array_add (trust, sk_X509_shift (certs));
      sk_X509_free (certs);
    }
  /* Structure, files and (with --trust) signature, before anything reaches the registry. */
  if ((package = pp_program_package_open (argv[1], &error)) == NULL ||
      (trust_path != NULL && !pp_program_package_verify (package, trust, 0, &error)))
    return pp_tool_fail_error (error);
  if ((file = g_mapped_file_new (argv[1], FALSE, &error)) == NULL)
    return pp_tool_fail_error (error);
  bytes = g_mapped_file_get_bytes (file);
  if ((registry = open_registry (&c)) == NULL)
    return 1;
  pp_registry_upload_program_async (registry, bytes, pp_tool_registry_user (), key, NULL, pp_tool_registry_got,
                                 &res);
  records = pp_registry_upload_program_finish (registry, pp_tool_registry_wait (&res), &error);
  if (records == NULL)
    return pp_tool_fail_error (error);
  print_programs (records, c.json);
  return 0;
}

static int
programs_list (int    argc,
               char **argv)
{
  g_auto(Common) c = { 0 };
  g_autofree char *model = NULL;
  const GOptionEntry entries[] = {
    COMMON_OPTIONS (c),
    { "model", 0, 0, G_OPTION_ARG_STRING, &model, N_("Only the programs for this model"), N_("MODEL") },
    { NULL }
  };
  g_autoptr(GOptionContext) context = new_context (NULL, _("Lists the program catalogue."), entries);
  g_autoptr(PpToolRegistry) registry = NULL;
  g_autoptr(GAsyncResult) res = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) records = NULL;

  if (!pp_tool_parse (context, &argc, &argv))
    return 1;
  if (argc != 1)
    return pp_tool_fail (_("unexpected argument “%s” (see “%s --help”)"), argv[1], argv[0]);
  if ((registry = open_registry (&c)) == NULL)
    return 1;
  pp_registry_list_programs_async (registry, model, NULL, pp_tool_registry_got, &res);
  records = pp_registry_list_programs_finish (registry, pp_tool_registry_wait (&res), &error);
  if (records == NULL)
    return pp_tool_fail_error (error);
  print_programs (records, c.json);
  return 0;
}

int
pp_tool_programs_main (int    argc,
                       char **argv)
{
  static const PpToolCommand commands[] = {
    { "upload", programs_upload, N_("Add a signed program package to the catalogue") },
    { "list",   programs_list,   N_("List the program catalogue") },
    { NULL, NULL, NULL }
  };

  return pp_tool_dispatch (argv[0], commands, argc, argv);
}

/* ---- users ------------------------------------------------------------- */

static int
users_add (int    argc,
           char **argv)
{
  g_auto(Common) c = { 0 };
  g_autofree char *role_text = NULL;
  const GOptionEntry entries[] = {
    COMMON_OPTIONS (c),
    { "role", 0, 0, G_OPTION_ARG_STRING, &role_text,
      N_("field_manager, reviewer or administrator"), N_("ROLE") },
    { NULL }
  };
  g_autoptr(GOptionContext) context = new_context (_("NAME"),
    _("Adds a user (administrators only). The password comes from PP_NEW_PASSWORD or is asked "
      "on the terminal."), entries);
  g_autoptr(PpToolRegistry) registry = NULL;
  g_autoptr(GAsyncResult) res = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(PpSecureBuffer) password = NULL;
  g_autofree char *key = g_uuid_string_random ();
  g_autofree char *prompt = NULL;
  PpUserRole role;
  PpUser *user;

  if (!pp_tool_parse (context, &argc, &argv))
    return 1;
  if (argc != 2)
    return pp_tool_fail (_("expected one user name (see “%s --help”)"), argv[0]);
  if (role_text == NULL)
    return pp_tool_fail (_("users add: --role is required (field_manager, reviewer or administrator)"));
  if (!pp_user_role_from_string (role_text, &role))
    return pp_tool_fail (_("--role: “%s” is not field_manager, reviewer or administrator"), role_text);
  /* Who acts is checked first: nobody types a password for nothing. */
  if ((registry = open_registry (&c)) == NULL)
    return 1;
  prompt = g_strdup_printf (_("Password for %s: "), argv[1]);
  if ((password = pp_tool_new_password (NEW_PASSWORD_ENV, prompt, &error)) == NULL)
    return pp_tool_fail_error (error);
  pp_registry_add_user_async (registry, argv[1], role, (const char *) pp_secure_buffer_peek (password),
                              pp_tool_registry_user (), key, NULL, pp_tool_registry_got, &res);
  user = pp_registry_add_user_finish (registry, pp_tool_registry_wait (&res), &error);
  if (user == NULL)
    return pp_tool_fail_error (error);
  if (c.json)
    {
      g_autoptr(JsonNode) node = pp_registry_user_to_json (user);

      pp_tool_print_json (node);
    }
  else
    printf (_("User %s added (%s).\n"), user->username, pp_user_role_to_string (user->role));
  pp_user_free (user);
  return 0;
}

static int
users_enroll_otp (int    argc,
                  char **argv)
{
  g_auto(Common) c = { 0 };
  const GOptionEntry entries[] = { COMMON_OPTIONS (c), { NULL } };
  g_autoptr(GOptionContext) context = new_context (_("USER"),
    _("Enrols a new one-time code secret for USER (yourself, or anyone as an administrator) and "
      "prints its otpauth:// URI and QR code for the authenticator app. From then on USER’s "
      "approval requests need a code."), entries);
  g_autoptr(PpToolRegistry) registry = NULL;
  g_autoptr(GAsyncResult) res = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(PpSecureBuffer) uri = NULL;
  const char *text;

  if (!pp_tool_parse (context, &argc, &argv))
    return 1;
  if (argc != 2)
    return pp_tool_fail (_("expected one user name (see “%s --help”)"), argv[0]);
  if ((registry = open_registry (&c)) == NULL)
    return 1;
  pp_registry_enroll_otp_async (registry, argv[1], pp_tool_registry_user (), NULL, pp_tool_registry_got, &res);
  uri = pp_registry_enroll_otp_finish (registry, pp_tool_registry_wait (&res), &error);
  if (uri == NULL)
    return pp_tool_fail_error (error);
  text = (const char *) pp_secure_buffer_peek (uri);
  if (c.json)
    {
      g_autoptr(JsonBuilder) b = json_builder_new ();
      g_autoptr(JsonNode) root = NULL;

      json_builder_begin_object (b);
      json_builder_set_member_name (b, "user");
      json_builder_add_string_value (b, argv[1]);
      json_builder_set_member_name (b, "otpauth_uri");
      json_builder_add_string_value (b, text);
      json_builder_end_object (b);
      root = json_builder_get_root (b);
      pp_tool_print_json (root);
      return 0;
    }
  printf (_("Scan this code with the authenticator app of %s, or type the URI in; it is shown "
            "only now:\n"), argv[1]);
  puts (text);
  if (!print_qr (text, &error))
    return pp_tool_fail_error (error);
  return 0;
}

int
pp_tool_users_main (int    argc,
                    char **argv)
{
  static const PpToolCommand commands[] = {
    { "add",        users_add,        N_("Add a user with a role") },
    { "enroll-otp", users_enroll_otp, N_("Enrol a one-time code authenticator for a user") },
    { NULL, NULL, NULL }
  };

  return pp_tool_dispatch (argv[0], commands, argc, argv);
}
