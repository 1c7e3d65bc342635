/* SPDX-License-Identifier: GPL-3.0-or-later
 *
 * tool-device.c: posprov-tool device: the terminals on this station's
 * ports.  `device list` shows every serial port libserialport finds, with
 * what the station needs to recognise a terminal on it; identify, bind,
 * inject, rebind, sign-on-test, unbind and zeroize drive one terminal through PpTerminalDevice
 * (the posprov link driver over the port's transport).
 */
#include "config.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <glib/gi18n.h>
#include <openssl/crypto.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509v3.h>

#include "pp-hex.h"
#include "pp-kcv.h"
#include "pp-keystore.h"
#include "pp-link-device.h"
#include "pp-link-tlv.h"
#include "pp-program-package.h"
#include "pp-openssl-types.h"
#include "pp-port-list.h"
#include "pp-terminal-device.h"
#include "pp-tr31.h"
#include "pp-tr34.h"
#include "tool-common.h"
#include "tool-pki.h"
#include "tool-store.h"
#include "tool-commands.h"

/* Secrets stay off the command line (other users could read it). */
#define KEY_STORE_SECRET_ENV "POSPROV_KEY_STORE_SECRET"
#define CA_KEY_SECRET_ENV "POSPROV_CA_KEY_SECRET"

/* Text from a USB descriptor is the device's: nothing in it may steer
 * the user's terminal. */
static void
print_field (const char *label,
             const char *value)
{
  g_autofree char *safe = NULL;

  if (value == NULL)
    return;
  safe = pp_tool_printable (value);
  printf ("  %-14s %s\n", label, safe != NULL ? safe : value);
}

static JsonNode *
ports_to_json (GPtrArray *ports)
{
  g_autoptr(JsonBuilder) builder = json_builder_new ();

  json_builder_begin_array (builder);
  for (guint i = 0; i < ports->len; i++)
    {
      const PpPortInfo *port = g_ptr_array_index (ports, i);

      json_builder_begin_object (builder);
      json_builder_set_member_name (builder, "port");
      json_builder_add_string_value (builder, port->name);
      json_builder_set_member_name (builder, "description");
      json_builder_add_string_value (builder, port->description);
      json_builder_set_member_name (builder, "transport");
      json_builder_add_string_value (builder, port->transport);
      if (port->has_usb_id)
        {
          g_autofree char *vid = g_strdup_printf ("%04x", port->usb_vid);
          g_autofree char *pid = g_strdup_printf ("%04x", port->usb_pid);

          json_builder_set_member_name (builder, "usb_vid");
          json_builder_add_string_value (builder, vid);
          json_builder_set_member_name (builder, "usb_pid");
          json_builder_add_string_value (builder, pid);
        }
      json_builder_set_member_name (builder, "serial");
      json_builder_add_string_value (builder, port->serial);
      json_builder_set_member_name (builder, "manufacturer");
      json_builder_add_string_value (builder, port->manufacturer);
      json_builder_set_member_name (builder, "product");
      json_builder_add_string_value (builder, port->product);
      if (port->model != NULL)
        {
          json_builder_set_member_name (builder, "model_vendor");
          json_builder_add_string_value (builder, port->model_vendor);
          json_builder_set_member_name (builder, "model");
          json_builder_add_string_value (builder, port->model);
        }
      json_builder_end_object (builder);
    }
  json_builder_end_array (builder);
  return json_builder_get_root (builder);
}

static int
cmd_list (int    argc,
          char **argv)
{
  gboolean json = FALSE;
  const GOptionEntry entries[] = {
    { "json", 0, 0, G_OPTION_ARG_NONE, &json, N_("Print a JSON array of ports"), NULL },
    { NULL }
  };
  g_autoptr(GOptionContext) context = g_option_context_new (NULL);
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) ports = NULL;

  g_option_context_set_summary (context, _("List the serial ports with their USB IDs, serial number, manufacturer, product and the terminal model they match."));
  g_option_context_add_main_entries (context, entries, GETTEXT_PACKAGE);
  if (!pp_tool_parse (context, &argc, &argv))
    return 1;
  if (argc != 1)
    return pp_tool_fail (_("device list takes no arguments"));

  if ((ports = pp_port_list (&error)) == NULL)
    return pp_tool_fail_error (error);

  if (json)
    {
      g_autoptr(JsonNode) node = ports_to_json (ports);

      pp_tool_print_json (node);
      return 0;
    }

  if (ports->len == 0)
    {
      printf ("%s\n", _("No serial ports found."));
      return 0;
    }
  for (guint i = 0; i < ports->len; i++)
    {
      const PpPortInfo *port = g_ptr_array_index (ports, i);

      printf ("%s\n", port->name);
      print_field (_("Description:"), port->description);
      print_field (_("Transport:"), port->transport);
      if (port->has_usb_id)
        {
          g_autofree char *id = g_strdup_printf ("%04x:%04x", port->usb_vid, port->usb_pid);

          print_field (_("USB ID:"), id);
        }
      print_field (_("Serial:"), port->serial);
      print_field (_("Manufacturer:"), port->manufacturer);
      print_field (_("Product:"), port->product);
      if (port->model != NULL)
        {
          g_autofree char *model = g_strdup_printf ("%s %s", port->model_vendor, port->model);

          print_field (_("Terminal:"), model);
        }
    }
  return 0;
}

/* ---- one terminal on a port ------------------------------------------------ */

/* The options every command on a PORT takes. */
typedef struct {
  int       baud;
  char     *parity;
  int       stop_bits;
  char     *flow;
  gboolean  json;
} PortOptions;

static void
port_options_clear (PortOptions *o)
{
  g_clear_pointer (&o->parity, g_free);
  g_clear_pointer (&o->flow, g_free);
}

G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (PortOptions, port_options_clear)

static void
add_port_entries (GOptionContext *context,
                  PortOptions    *o)
{
  const GOptionEntry entries[] = {
    { "baud", 0, 0, G_OPTION_ARG_INT, &o->baud, N_("Serial baud rate (default: the model's, else 115200)"), N_("N") },
    { "parity", 0, 0, G_OPTION_ARG_STRING, &o->parity, N_("Serial parity: none, odd or even"), N_("PARITY") },
    { "stop-bits", 0, 0, G_OPTION_ARG_INT, &o->stop_bits, N_("Serial stop bits: 1 or 2"), N_("N") },
    { "flow", 0, 0, G_OPTION_ARG_STRING, &o->flow, N_("Serial flow control: none, rtscts or xonxoff"), N_("FLOW") },
    { "json", 0, 0, G_OPTION_ARG_NONE, &o->json, N_("Print JSON"), NULL },
    { NULL }
  };

  g_option_context_add_main_entries (context, entries, GETTEXT_PACKAGE);
}

static gboolean
port_settings (const PortOptions  *o,
               PpSerialSettings   *settings,
               GError            **error)
{
  memset (settings, 0, sizeof *settings);
  if (o->baud < 0 || o->baud > 4000000)
    {
      g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                   _("--baud: %d is no baud rate"), o->baud);
      return FALSE;
    }
  settings->baud = (guint) o->baud;
  if (o->stop_bits != 0 && o->stop_bits != 1 && o->stop_bits != 2)
    {
      g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                   _("--stop-bits: give 1 or 2"));
      return FALSE;
    }
  settings->stop_bits = (guint) o->stop_bits;
  if (o->parity != NULL && !pp_parity_from_string (o->parity, &settings->parity))
    {
      g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                   _("--parity: “%s” is not none, odd or even"), o->parity);
      return FALSE;
    }
  if (o->flow != NULL && !pp_flow_from_string (o->flow, &settings->flow))
    {
      g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                   _("--flow: “%s” is not none, rtscts or xonxoff"), o->flow);
      return FALSE;
    }
  return TRUE;
}

/* The tool waits for each step on its own main loop. */
typedef struct {
  GMainLoop    *loop;
  GAsyncResult *result;
} Wait;

static void
on_done (GObject      *source,
         GAsyncResult *result,
         gpointer      user_data)
{
  Wait *w = user_data;

  w->result = g_object_ref (result);
  g_main_loop_quit (w->loop);
}

static void
wait_init (Wait *w)
{
  w->loop = g_main_loop_new (NULL, FALSE);
  w->result = NULL;
}

/* Runs until the pending call is done; the result is w->result. */
static GAsyncResult *
wait_run (Wait *w)
{
  g_clear_object (&w->result);
  g_main_loop_run (w->loop);
  return w->result;
}

static void
wait_clear (Wait *w)
{
  g_clear_object (&w->result);
  g_clear_pointer (&w->loop, g_main_loop_unref);
}

G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (Wait, wait_clear)

static PpTerminalDevice *
open_device (const char         *port,
             const PortOptions  *o,
             Wait               *w,
             GError            **error)
{
  PpSerialSettings settings;

  if (!port_settings (o, &settings, error))
    return NULL;
  pp_link_device_open_async (port, &settings, NULL, on_done, w);
  return (PpTerminalDevice *) pp_link_device_open_finish (wait_run (w), error);
}

static PpTerminalInfo *
identify (PpTerminalDevice  *device,
          Wait              *w,
          GError           **error)
{
  pp_terminal_device_identify_async (device, NULL, on_done, w);
  return pp_terminal_device_identify_finish (device, wait_run (w), error);
}

/* The terminal's serial must be the one scanned from its label. */
static gboolean
check_serial (const PpTerminalInfo  *info,
              const char            *expected,
              GError               **error)
{
  g_autofree char *safe = NULL;

  if (expected == NULL || g_strcmp0 (info->serial, expected) == 0)
    return TRUE;
  safe = pp_tool_printable (info->serial);
  g_set_error (error, PP_TERMINAL_DEVICE_ERROR, PP_TERMINAL_DEVICE_ERROR_REFUSED,
               _("The terminal reports serial %s, not the scanned %s: check that this is the right terminal; nothing was sent"),
               safe != NULL ? safe : info->serial, expected);
  return FALSE;
}

static gboolean
check_not_tampered (const PpTerminalInfo  *info,
                    GError               **error)
{
  if (!info->tampered)
    return TRUE;
  g_set_error (error, PP_TERMINAL_DEVICE_ERROR, PP_TERMINAL_DEVICE_ERROR_TAMPERED,
               _("The terminal is tampered (security attack: return it for inspection; it will refuse keys)"));
  return FALSE;
}

/* A certificate's subject as terminals report their KDH: RFC 2253. */
static char *
subject_of (X509 *cert)
{
  g_autoptr(BIO) bio = BIO_new (BIO_s_mem ());
  char *text = NULL;
  long n;

  if (bio == NULL || X509_NAME_print_ex (bio, X509_get_subject_name (cert), 0, XN_FLAG_RFC2253) < 0)
    return g_strdup ("");
  n = BIO_get_mem_data (bio, &text);
  return g_strndup (text, (gsize) n);
}

/* A CT_KDH is not signed: the KDH of a bind needs no key. */
/* Reads the terminal's CT_KRD and checks it before anything is sent to
 * the terminal: chain to --krd-trust, validity now, and the certificate
 * names the serial the terminal reports.  Returns the KRD certificate. */
static X509 *
checked_krd_cert (PpTerminalDevice      *device,
                  const PpTerminalInfo  *info,
                  const char            *trust_path,
                  Wait                  *w,
                  GError               **error)
{
  g_autoptr(GBytes) ct_krd = NULL;
  g_autoptr(GError) local = NULL;
  STACK_OF(X509) *trust;
  X509 *cert;

  if ((trust = pp_tool_load_certs ("--krd-trust", trust_path, error)) == NULL)
    return NULL;
  pp_terminal_device_get_ct_krd_async (device, NULL, on_done, w);
  if ((ct_krd = pp_terminal_device_get_ct_krd_finish (device, wait_run (w), error)) == NULL)
    {
      sk_X509_pop_free (trust, X509_free);
      return NULL;
    }
  cert = pp_tr34_kdh_receive_krd_credential (g_bytes_get_data (ct_krd, NULL), g_bytes_get_size (ct_krd),
                                             trust, info->serial, NULL, &local);
  sk_X509_pop_free (trust, X509_free);
  if (cert == NULL &&
      (g_error_matches (local, PP_TR34_ERROR, PP_TR34_ERROR_CERT_EXPIRED) ||
       g_error_matches (local, PP_TR34_ERROR, PP_TR34_ERROR_CERT_NOT_YET_VALID)))
    {
      /* Most often the station's clock, not the certificate. */
      g_autoptr(GDateTime) now = g_date_time_new_now_utc ();
      g_autofree char *date = g_date_time_format (now, "%Y-%m-%d %H:%M UTC");

      g_set_error (error, PP_TERMINAL_DEVICE_ERROR, PP_TERMINAL_DEVICE_ERROR_REFUSED,
                   local->code == PP_TR34_ERROR_CERT_EXPIRED
                   ? _("The terminal's certificate has expired by this PC's clock: check the PC's date: it is %s; if that is right, the terminal needs a new device certificate. Nothing was sent to the terminal")
                   : _("The terminal's certificate is not valid yet by this PC's clock: check the PC's date: it is %s. Nothing was sent to the terminal"),
                   date);
    }
  else if (cert == NULL)
    g_set_error (error, PP_TERMINAL_DEVICE_ERROR, PP_TERMINAL_DEVICE_ERROR_REFUSED,
                 _("The terminal's certificate (CT_KRD) does not check out against --krd-trust: %s; nothing was sent to the terminal"),
                 local->message);
  return cert;
}

/* The nonce of the terminal's RT_KRD. */
static GBytes *
terminal_nonce (PpTerminalDevice  *device,
                Wait              *w,
                GError           **error)
{
  g_autoptr(GBytes) rt_krd = NULL;
  g_autoptr(PpTr34Token) token = NULL;
  g_autoptr(GError) local = NULL;
  GBytes *nonce;

  pp_terminal_device_get_nonce_async (device, NULL, on_done, w);
  if ((rt_krd = pp_terminal_device_get_nonce_finish (device, wait_run (w), error)) == NULL)
    return NULL;
  token = pp_tr34_token_parse (g_bytes_get_data (rt_krd, NULL), g_bytes_get_size (rt_krd), &local);
  if (token == NULL || pp_tr34_token_get_kind (token) != PP_TR34_TOKEN_RT_KRD ||
      (nonce = pp_tr34_token_get_nonce (token)) == NULL)
    {
      g_set_error (error, PP_TERMINAL_DEVICE_ERROR, PP_TERMINAL_DEVICE_ERROR_PROTOCOL,
                   _("The terminal's nonce token (RT_KRD) is not one: %s"),
                   local != NULL ? local->message : _("no nonce in it"));
      return NULL;
    }
  return g_bytes_ref (nonce);
}

static int
fail (const GError *error)
{
  return pp_tool_fail_error (error);
}

static void
json_member_string (JsonBuilder *b,
                    const char  *name,
                    const char  *value)
{
  json_builder_set_member_name (b, name);
  if (value != NULL)
    json_builder_add_string_value (b, value);
  else
    json_builder_add_null_value (b);
}

static const struct {
  guint32     bit;
  const char *name;
} capability_names[] = {
  { PP_TERMINAL_CAP_CERTIFY, "certify" },
  { PP_TERMINAL_CAP_TR34_2PASS, "tr34-2pass" },
  { PP_TERMINAL_CAP_TR34_1PASS, "tr34-1pass" },
  { PP_TERMINAL_CAP_PROGRAM, "program" },
  { PP_TERMINAL_CAP_SIGN_ON, "sign-on" },
  { PP_TERMINAL_CAP_DUKPT, "dukpt" },
};

static void
print_info_json (const PpTerminalInfo *info)
{
  g_autoptr(JsonBuilder) b = json_builder_new ();
  g_autoptr(JsonNode) root = NULL;

  json_builder_begin_object (b);
  json_member_string (b, "serial", info->serial);
  json_member_string (b, "vendor", info->vendor);
  json_member_string (b, "model", info->model);
  json_member_string (b, "firmware", info->firmware);
  json_builder_set_member_name (b, "protocol_version");
  json_builder_add_int_value (b, info->protocol_version);
  json_builder_set_member_name (b, "capabilities");
  json_builder_begin_array (b);
  for (guint i = 0; i < G_N_ELEMENTS (capability_names); i++)
    if (info->capabilities & capability_names[i].bit)
      json_builder_add_string_value (b, capability_names[i].name);
  json_builder_end_array (b);
  json_builder_set_member_name (b, "tamper");
  json_builder_add_boolean_value (b, info->tampered);
  json_builder_set_member_name (b, "has_cert");
  json_builder_add_boolean_value (b, info->has_cert);
  json_member_string (b, "bound_kdh", info->bound_kdh);
  json_builder_set_member_name (b, "keys");
  if (info->keys != NULL)
    {
      json_builder_begin_array (b);
      for (guint i = 0; i < info->keys->len; i++)
        {
          const PpTerminalKey *key = g_ptr_array_index (info->keys, i);

          json_builder_begin_object (b);
          json_builder_set_member_name (b, "slot");
          json_builder_add_int_value (b, key->slot);
          json_member_string (b, "usage", key->usage);
          json_member_string (b, "kcv", key->kcv);
          json_builder_end_object (b);
        }
      json_builder_end_array (b);
    }
  else
    json_builder_add_null_value (b);
  json_builder_set_member_name (b, "program");
  if (info->program_name != NULL)
    {
      json_builder_begin_object (b);
      json_member_string (b, "name", info->program_name);
      json_member_string (b, "version", info->program_version);
      json_builder_end_object (b);
    }
  else
    json_builder_add_null_value (b);
  json_builder_end_object (b);
  root = json_builder_get_root (b);
  pp_tool_print_json (root);
}

static void
print_info (const PpTerminalInfo *info)
{
  g_autoptr(GString) caps = g_string_new (NULL);
  g_autofree char *serial = pp_tool_printable (info->serial);
  g_autofree char *protocol = g_strdup_printf ("%u", info->protocol_version);
  g_autofree char *program = NULL;

  for (guint i = 0; i < G_N_ELEMENTS (capability_names); i++)
    if (info->capabilities & capability_names[i].bit)
      g_string_append_printf (caps, "%s%s", caps->len > 0 ? ", " : "", capability_names[i].name);
  if (info->program_name != NULL)
    program = g_strdup_printf ("%s %s", info->program_name,
                               info->program_version != NULL ? info->program_version : "");
  printf (_("Terminal %s\n"), serial != NULL ? serial : info->serial);
  print_field (_("Vendor:"), info->vendor);
  print_field (_("Model:"), info->model);
  print_field (_("Firmware:"), info->firmware);
  print_field (_("Protocol:"), protocol);
  print_field (_("Capabilities:"), caps->str);
  print_field (_("Tamper:"), info->tampered ? _("SECURITY ATTACK: return it for inspection, it will refuse keys")
                                            : _("none"));
  print_field (_("Certificate:"), info->has_cert ? _("yes") : _("none yet (certify it)"));
  print_field (_("Bound KDH:"), info->bound_kdh != NULL ? info->bound_kdh : _("none"));
  print_field (_("Program:"), program != NULL ? program : _("none"));
  if (info->keys != NULL)
    {
      g_autoptr(GString) keys = g_string_new (NULL);

      for (guint i = 0; i < info->keys->len; i++)
        {
          const PpTerminalKey *key = g_ptr_array_index (info->keys, i);

          g_string_append_printf (keys, "%s%u %s KCV %s", i > 0 ? ", " : "", key->slot, key->usage, key->kcv);
        }
      print_field (_("Keys:"), keys->len > 0 ? keys->str : _("none"));
    }
}

static gboolean
parse_port (GOptionContext   *context,
            int              *argc,
            char           ***argv,
            const char       *usage,
            const char      **out_port)
{
  if (!pp_tool_parse (context, argc, argv))
    return FALSE;
  if (*argc != 2)
    {
      pp_tool_fail (_("usage: posprov-tool device %s"), usage);
      return FALSE;
    }
  *out_port = (*argv)[1];
  return TRUE;
}

/* Accounting for every TMK (docs/terminal-device.md): each TMK of this
 * terminal still "sent, unconfirmed" (its LOAD_KEY answer was lost) is
 * settled against the keys the terminal reports: held means the terminal
 * took it (confirmed), absent means it never did (discarded, never to be
 * used).  Returns the confirmed one of them, if any; tells on stderr. */
static PpTmkDelivery *
settle_deliveries (PpKeyStore            *store,
                   const PpTerminalInfo  *info,
                   GError               **error)
{
  g_autoptr(GPtrArray) deliveries = NULL;
  PpTmkDelivery *confirmed = NULL;

  if ((deliveries = pp_key_store_list_tmk_deliveries (store, info->serial, error)) == NULL)
    return NULL;
  for (guint i = 0; i < deliveries->len; i++)
    {
      PpTmkDelivery *d = g_ptr_array_index (deliveries, i);

      if (d->state != PP_TMK_DELIVERY_SENT)
        continue;
      if (info->keys == NULL)
        {
          g_printerr (_("Terminal %s does not report its keys: key %s (KCV %s) stays sent, unconfirmed\n"),
                      info->serial, d->label, d->kcv);
          continue;
        }
      if (pp_terminal_info_find_kcv (info, d->kcv) != NULL)
        {
          if (!pp_key_store_set_tmk_delivery (store, info->serial, d->label, d->kcv,
                                              PP_TMK_DELIVERY_CONFIRMED, error))
            {
              g_clear_pointer (&confirmed, pp_tmk_delivery_free);
              return NULL;
            }
          g_printerr (_("Terminal %s holds key %s (KCV %s), whose load was not confirmed before: it is confirmed now\n"),
                      info->serial, d->label, d->kcv);
          g_clear_pointer (&confirmed, pp_tmk_delivery_free);
          confirmed = g_ptr_array_steal_index (deliveries, i--);
          confirmed->state = PP_TMK_DELIVERY_CONFIRMED;
        }
      else
        {
          if (!pp_key_store_set_tmk_delivery (store, info->serial, d->label, d->kcv,
                                              PP_TMK_DELIVERY_DISCARDED, error))
            {
              g_clear_pointer (&confirmed, pp_tmk_delivery_free);
              return NULL;
            }
          g_printerr (_("Terminal %s does not hold key %s (KCV %s), whose load was not confirmed before: that key never arrived and is discarded\n"),
                      info->serial, d->label, d->kcv);
        }
    }
  if (confirmed == NULL)
    confirmed = g_new0 (PpTmkDelivery, 1);   /* nothing confirmed: a marker without a label */
  return confirmed;
}

/* A refusal from the terminal itself: it answered, so it did not take the key. */
static gboolean
terminal_refused (const GError *error)
{
  return error->domain == PP_TERMINAL_DEVICE_ERROR &&
         (error->code == PP_TERMINAL_DEVICE_ERROR_REFUSED || error->code == PP_TERMINAL_DEVICE_ERROR_TAMPERED ||
          error->code == PP_TERMINAL_DEVICE_ERROR_NOT_BOUND || error->code == PP_TERMINAL_DEVICE_ERROR_NO_CERT ||
          error->code == PP_TERMINAL_DEVICE_ERROR_BUSY || error->code == PP_TERMINAL_DEVICE_ERROR_UNSUPPORTED);
}

static int
cmd_identify (int    argc,
              char **argv)
{
  g_auto(PortOptions) o = { 0, };
  g_autofree char *location = NULL;
  const GOptionEntry entries[] = {
    { "key-store", 0, 0, G_OPTION_ARG_STRING, &location, N_("Settle the TMKs whose load this key store could not confirm (secret in POSPROV_KEY_STORE_SECRET)"), N_("LOCATION") },
    { NULL }
  };
  g_autoptr(GOptionContext) context = g_option_context_new (_("PORT"));
  g_autoptr(GError) error = NULL;
  g_autoptr(PpTerminalDevice) device = NULL;
  g_autoptr(PpTerminalInfo) info = NULL;
  g_autoptr(PpKeyStore) store = NULL;
  g_autoptr(PpTmkDelivery) settled = NULL;
  g_auto(Wait) w = { 0, };
  const char *port;

  g_option_context_set_summary (context, _("Show the serial, vendor, model, firmware, protocol, capabilities, tamper state, certificate, KDH binding, keys and program of the terminal on PORT (a serial device or tcp:HOST:PORT)."));
  g_option_context_add_main_entries (context, entries, GETTEXT_PACKAGE);
  add_port_entries (context, &o);
  if (!parse_port (context, &argc, &argv, "identify PORT", &port))
    return 1;
  if (location != NULL &&
      (store = pp_key_store_new_for_location (location, g_getenv (KEY_STORE_SECRET_ENV), &error)) == NULL)
    return fail (error);
  wait_init (&w);
  if ((device = open_device (port, &o, &w, &error)) == NULL ||
      (info = identify (device, &w, &error)) == NULL)
    return fail (error);
  if (store != NULL && (settled = settle_deliveries (store, info, &error)) == NULL)
    return fail (error);
  if (o.json)
    print_info_json (info);
  else
    print_info (info);
  return 0;
}

static void
print_result (gboolean     json,
              const char  *serial,
              const char  *name,
              const char  *value,
              const char  *human)
{
  if (json)
    {
      g_autoptr(JsonBuilder) b = json_builder_new ();
      g_autoptr(JsonNode) root = NULL;

      json_builder_begin_object (b);
      json_member_string (b, "serial", serial);
      if (name != NULL)
        json_member_string (b, name, value);
      json_builder_end_object (b);
      root = json_builder_get_root (b);
      pp_tool_print_json (root);
    }
  else
    {
      g_autofree char *safe = pp_tool_printable (human);

      printf ("%s\n", safe != NULL ? safe : human);
    }
}

static int
cmd_bind (int    argc,
          char **argv)
{
  g_auto(PortOptions) o = { 0, };
  g_autofree char *kdh_cert = NULL, *kdh_crl = NULL, *krd_trust = NULL, *expect = NULL, *profile = NULL;
  const GOptionEntry entries[] = {
    { "kdh-cert", 0, 0, G_OPTION_ARG_FILENAME, &kdh_cert, N_("The KDH certificate (PEM)"), N_("PEM") },
    { "kdh-crl", 0, 0, G_OPTION_ARG_FILENAME, &kdh_crl, N_("The CA_KDH's CRL sent with it (DER or PEM)"), N_("DER") },
    { "krd-trust", 0, 0, G_OPTION_ARG_FILENAME, &krd_trust, N_("The root and CA_KRD certificates the terminal's must chain to (PEM)"), N_("PEM") },
    { "expect-serial", 0, 0, G_OPTION_ARG_STRING, &expect, N_("The serial scanned from the terminal's label"), N_("SERIAL") },
    { "profile", 0, 0, G_OPTION_ARG_STRING, &profile, N_("TR-34 encoding profile for this terminal model"), N_("PROFILE") },
    { NULL }
  };
  g_autoptr(GOptionContext) context = g_option_context_new (_("PORT"));
  g_autoptr(GError) error = NULL;
  g_autoptr(PpTerminalDevice) device = NULL;
  g_autoptr(PpTerminalInfo) info = NULL;
  g_autoptr(PpTr34Kdh) kdh = NULL;
  g_autoptr(X509) krd = NULL;
  g_autoptr(GBytes) ct_kdh = NULL;
  g_autofree char *bound = NULL, *human = NULL;
  g_auto(Wait) w = { 0, };
  const char *port;

  g_option_context_set_summary (context, _("Check the terminal's CT_KRD against --krd-trust and its reported serial, then bind it to the KDH of --kdh-cert with CT_KDH."));
  g_option_context_add_main_entries (context, entries, GETTEXT_PACKAGE);
  add_port_entries (context, &o);
  if (!parse_port (context, &argc, &argv, "bind PORT --kdh-cert PEM --kdh-crl DER --krd-trust PEM", &port))
    return 1;
  if (kdh_cert == NULL || kdh_crl == NULL || krd_trust == NULL)
    return pp_tool_fail (_("device bind: --kdh-cert, --kdh-crl and --krd-trust are required"));
  if ((kdh = pp_tool_open_kdh ("--kdh-cert", kdh_cert, NULL, "--kdh-crl", kdh_crl, profile, NULL, &error)) == NULL)
    return fail (error);
  wait_init (&w);
  if ((device = open_device (port, &o, &w, &error)) == NULL ||
      (info = identify (device, &w, &error)) == NULL ||
      !check_serial (info, expect, &error) ||
      (krd = checked_krd_cert (device, info, krd_trust, &w, &error)) == NULL ||
      (ct_kdh = pp_tr34_kdh_build_credential_token (kdh, &error)) == NULL)
    return fail (error);
  pp_terminal_device_bind_async (device, ct_kdh, NULL, on_done, &w);
  if ((bound = pp_terminal_device_bind_finish (device, wait_run (&w), &error)) == NULL)
    return fail (error);
  human = g_strdup_printf (_("Terminal %s bound to %s"), info->serial, bound);
  print_result (o.json, info->serial, "bound_kdh", bound, human);
  return 0;
}

static gboolean
tmk_type_from_string (const char  *text,
                      PpTmkType   *out_type,
                      const char **out_header,
                      GError     **error)
{
  static const struct {
    const char *name;
    PpTmkType   type;
    const char *header;   /* TR-31 key block header: K0, TDES or AES, both ways */
  } types[] = {
    { "tdes2", PP_TMK_TDES_2KEY, "A0256K0TB00E0000" },
    { "tdes3", PP_TMK_TDES_3KEY, "A0256K0TB00E0000" },
    { "aes128", PP_TMK_AES_128, "D0256K0AB00E0000" },
    { "aes256", PP_TMK_AES_256, "D0256K0AB00E0000" },
  };

  for (guint i = 0; text != NULL && i < G_N_ELEMENTS (types); i++)
    if (g_str_equal (text, types[i].name))
      {
        *out_type = types[i].type;
        *out_header = types[i].header;
        return TRUE;
      }
  g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
               _("--key-type: give tdes2, tdes3, aes128 or aes256"));
  return FALSE;
}

/* The label is no secret: sign-on-test (--tmk) and the operator find this
 * terminal's TMK in the key store by it. */
static void
print_injected (gboolean    json,
                const char *serial,
                const char *kcv,
                const char *label)
{
  if (json)
    {
      g_autoptr(JsonBuilder) b = json_builder_new ();
      g_autoptr(JsonNode) root = NULL;

      json_builder_begin_object (b);
      json_member_string (b, "serial", serial);
      json_member_string (b, "kcv", kcv);
      json_member_string (b, "tmk_label", label);
      json_builder_end_object (b);
      root = json_builder_get_root (b);
      pp_tool_print_json (root);
    }
  else
    {
      g_autofree char *human = g_strdup_printf (_("Terminal %s: key loaded, KCV %s (key store label %s)"),
                                                serial, kcv, label);

      print_result (FALSE, serial, NULL, NULL, human);
    }
}

/* A fresh, unique key store label for this terminal's TMK. */
static char *
tmk_label (const char *serial)
{
  g_autoptr(GDateTime) now = g_date_time_new_now_utc ();
  g_autofree char *stamp = g_date_time_format (now, "%Y%m%dT%H%M%S");
  g_autoptr(GString) label = g_string_new ("tmk-");

  for (const char *p = serial; *p != '\0' && label->len < 40; p++)
    g_string_append_c (label, g_ascii_isalnum (*p) ? *p : '_');
  g_string_append_printf (label, "-%s-%08x", stamp, g_random_int ());
  return g_string_free (g_steal_pointer (&label), FALSE);
}

static int
cmd_inject (int    argc,
            char **argv)
{
  g_auto(PortOptions) o = { 0, };
  g_autofree char *kdh_cert = NULL, *kdh_key = NULL, *kdh_crl = NULL, *krd_trust = NULL, *location = NULL;
  g_autofree char *key_type = NULL, *header = NULL, *expect = NULL, *profile = NULL;
  const GOptionEntry entries[] = {
    { "kdh-cert", 0, 0, G_OPTION_ARG_FILENAME, &kdh_cert, N_("The KDH certificate (PEM)"), N_("PEM") },
    { "kdh-key", 0, 0, G_OPTION_ARG_STRING, &kdh_key, N_("The KDH private key: a PEM file or a pkcs11: URI (secret in POSPROV_KDH_KEY_SECRET)"), N_("KEY") },
    { "kdh-crl", 0, 0, G_OPTION_ARG_FILENAME, &kdh_crl, N_("The CA_KDH's CRL carried in the token (DER or PEM)"), N_("DER") },
    { "krd-trust", 0, 0, G_OPTION_ARG_FILENAME, &krd_trust, N_("The root and CA_KRD certificates the terminal's must chain to (PEM)"), N_("PEM") },
    { "key-store", 0, 0, G_OPTION_ARG_STRING, &location, N_("Where the TMK is generated: a soft key store folder or a pkcs11: URI (secret in POSPROV_KEY_STORE_SECRET)"), N_("LOCATION") },
    { "key-type", 0, 0, G_OPTION_ARG_STRING, &key_type, N_("tdes2, tdes3, aes128 or aes256"), N_("TYPE") },
    { "header", 0, 0, G_OPTION_ARG_STRING, &header, N_("Key block header (default: a K0 key for the type)"), N_("KBH") },
    { "expect-serial", 0, 0, G_OPTION_ARG_STRING, &expect, N_("The serial scanned from the terminal's label"), N_("SERIAL") },
    { "profile", 0, 0, G_OPTION_ARG_STRING, &profile, N_("TR-34 encoding profile for this terminal model"), N_("PROFILE") },
    { NULL }
  };
  g_autoptr(GOptionContext) context = g_option_context_new (_("PORT"));
  g_autoptr(GError) error = NULL;
  g_autoptr(PpTerminalDevice) device = NULL;
  g_autoptr(PpTerminalInfo) info = NULL;
  g_autoptr(PpTr34Kdh) kdh = NULL;
  g_autoptr(PpKeyStore) store = NULL;
  g_autoptr(X509) krd = NULL;
  g_autoptr(GBytes) nonce = NULL;
  g_autoptr(GBytes) kt_kdh = NULL;
  g_autoptr(PpSecureBuffer) tmk = NULL;
  g_autoptr(PpTmkDelivery) earlier = NULL;
  g_autofree char *label = NULL, *store_kcv = NULL, *terminal_kcv = NULL;
  g_auto(Wait) w = { 0, };
  const char *default_header = NULL;
  const char *port;
  PpTmkType type = PP_TMK_TDES_2KEY;
  guint slot = 0;

  g_option_context_set_summary (context, _("Generate a fresh TMK in the key store and load it into the terminal on PORT with a TR-34 2-pass KT_KDH, after checking its CT_KRD; compares the terminal's check value with the key store's and prints only the serial and the KCV."));
  g_option_context_add_main_entries (context, entries, GETTEXT_PACKAGE);
  add_port_entries (context, &o);
  if (!parse_port (context, &argc, &argv,
                   "inject PORT --kdh-cert PEM --kdh-key KEY --krd-trust PEM --key-store LOCATION --key-type TYPE", &port))
    return 1;
  if (kdh_cert == NULL || kdh_key == NULL || krd_trust == NULL || location == NULL || key_type == NULL)
    return pp_tool_fail (_("device inject: --kdh-cert, --kdh-key, --krd-trust, --key-store and --key-type are required"));
  if (!tmk_type_from_string (key_type, &type, &default_header, &error) ||
      (kdh = pp_tool_open_kdh ("--kdh-cert", kdh_cert, kdh_key, "--kdh-crl", kdh_crl, profile, NULL, &error)) == NULL ||
      (store = pp_key_store_new_for_location (location, g_getenv (KEY_STORE_SECRET_ENV), &error)) == NULL)
    return fail (error);

  wait_init (&w);
  /* Everything about the terminal is checked before a key exists. */
  if ((device = open_device (port, &o, &w, &error)) == NULL ||
      (info = identify (device, &w, &error)) == NULL ||
      !check_serial (info, expect, &error) ||
      !check_not_tampered (info, &error) ||
      (krd = checked_krd_cert (device, info, krd_trust, &w, &error)) == NULL)
    return fail (error);
  if (info->bound_kdh == NULL)
    {
      g_set_error (&error, PP_TERMINAL_DEVICE_ERROR, PP_TERMINAL_DEVICE_ERROR_NOT_BOUND,
                   _("The terminal is not bound to a key distribution host: bind it first (posprov-tool device bind)"));
      return fail (error);
    }

  /* A retry after a lost answer: the earlier key first. */
  if ((earlier = settle_deliveries (store, info, &error)) == NULL)
    return fail (error);
  if (earlier->label != NULL)
    {
      print_injected (o.json, info->serial, earlier->kcv, earlier->label);
      return 0;
    }

  /* The nonce before the key: a terminal gone here leaves no key behind. */
  if ((nonce = terminal_nonce (device, &w, &error)) == NULL)
    return fail (error);
  label = tmk_label (info->serial);
  /* The fresh key comes back with its KCV: nothing is read back from the
   * key store (a second PBKDF2 or unwrap) before the key block is built. */
  if ((store_kcv = pp_key_store_generate_and_export_tmk (store, label, type, &tmk, NULL, &error)) == NULL)
    return fail (error);
  if ((kt_kdh = pp_tr34_kdh_build_key_token (kdh, krd, tmk, header != NULL ? header : default_header,
                                             PP_TR34_EPHEMERAL_AES128, nonce, NULL, &error)) == NULL)
    {
      /* Never sent: recorded as such, so no TMK is left unaccounted for. */
      pp_key_store_set_tmk_delivery (store, info->serial, label, store_kcv, PP_TMK_DELIVERY_DISCARDED, NULL);
      return fail (error);
    }
  g_clear_pointer (&tmk, pp_secure_buffer_free);

  if (!pp_key_store_set_tmk_delivery (store, info->serial, label, store_kcv, PP_TMK_DELIVERY_SENT, &error))
    return fail (error);
  pp_terminal_device_load_key_async (device, kt_kdh, -1, NULL, on_done, &w);
  if (!pp_terminal_device_load_key_finish (device, wait_run (&w), &slot, &terminal_kcv, &error))
    {
      if (terminal_refused (error))
        {
          pp_key_store_set_tmk_delivery (store, info->serial, label, store_kcv, PP_TMK_DELIVERY_DISCARDED, NULL);
          return pp_tool_fail (_("%s; key %s is discarded"), error->message, label);
        }
      return pp_tool_fail (_("%s. The answer to the key load was lost: the station cannot know whether terminal %s took key %s (KCV %s). It stays recorded as sent, unconfirmed: run device inject (or device identify --key-store) again when the terminal is back; it will confirm or discard that key"),
                           error->message, info->serial, label, store_kcv);
    }
  if (!pp_kcv_equal (terminal_kcv, store_kcv))
    {
      pp_key_store_set_tmk_delivery (store, info->serial, label, store_kcv, PP_TMK_DELIVERY_DISCARDED, NULL);
      return pp_tool_fail (_("The terminal's check value %s differs from the key store's %s (key %s): the key did not arrive intact; do not use this terminal, zeroize it and inject again"),
                           terminal_kcv, store_kcv, label);
    }
  if (!pp_key_store_set_tmk_delivery (store, info->serial, label, store_kcv, PP_TMK_DELIVERY_CONFIRMED, &error))
    return pp_tool_fail (_("Terminal %s took key %s (KCV %s), but the key store could not record it as confirmed: %s; run device identify --key-store to record it"),
                         info->serial, label, store_kcv, error->message);
  print_injected (o.json, info->serial, store_kcv, label);
  return 0;
}

static int
cmd_unbind (int    argc,
            char **argv)
{
  g_auto(PortOptions) o = { 0, };
  g_autofree char *kdh_cert = NULL, *kdh_key = NULL, *krd_trust = NULL, *expect = NULL, *profile = NULL;
  const GOptionEntry entries[] = {
    { "kdh-cert", 0, 0, G_OPTION_ARG_FILENAME, &kdh_cert, N_("The bound KDH's certificate (PEM)"), N_("PEM") },
    { "kdh-key", 0, 0, G_OPTION_ARG_STRING, &kdh_key, N_("The KDH private key: a PEM file or a pkcs11: URI (secret in POSPROV_KDH_KEY_SECRET)"), N_("KEY") },
    { "krd-trust", 0, 0, G_OPTION_ARG_FILENAME, &krd_trust, N_("The root and CA_KRD certificates the terminal's must chain to (PEM)"), N_("PEM") },
    { "expect-serial", 0, 0, G_OPTION_ARG_STRING, &expect, N_("The serial scanned from the terminal's label"), N_("SERIAL") },
    { "profile", 0, 0, G_OPTION_ARG_STRING, &profile, N_("TR-34 encoding profile for this terminal model"), N_("PROFILE") },
    { NULL }
  };
  g_autoptr(GOptionContext) context = g_option_context_new (_("PORT"));
  g_autoptr(GError) error = NULL;
  g_autoptr(PpTerminalDevice) device = NULL;
  g_autoptr(PpTerminalInfo) info = NULL;
  g_autoptr(PpTr34Kdh) kdh = NULL;
  g_autoptr(X509) krd = NULL;
  g_autoptr(GBytes) nonce = NULL;
  g_autoptr(GBytes) ubt = NULL;
  g_autofree char *human = NULL;
  g_auto(Wait) w = { 0, };
  const char *port;

  g_option_context_set_summary (context, _("Release the terminal on PORT from its KDH with a UBT_KDH signed by that KDH for the terminal's nonce."));
  g_option_context_add_main_entries (context, entries, GETTEXT_PACKAGE);
  add_port_entries (context, &o);
  if (!parse_port (context, &argc, &argv, "unbind PORT --kdh-cert PEM --kdh-key KEY --krd-trust PEM", &port))
    return 1;
  if (kdh_cert == NULL || kdh_key == NULL || krd_trust == NULL)
    return pp_tool_fail (_("device unbind: --kdh-cert, --kdh-key and --krd-trust are required"));
  if ((kdh = pp_tool_open_kdh ("--kdh-cert", kdh_cert, kdh_key, NULL, NULL, profile, NULL, &error)) == NULL)
    return fail (error);
  wait_init (&w);
  if ((device = open_device (port, &o, &w, &error)) == NULL ||
      (info = identify (device, &w, &error)) == NULL ||
      !check_serial (info, expect, &error) ||
      (krd = checked_krd_cert (device, info, krd_trust, &w, &error)) == NULL ||
      (nonce = terminal_nonce (device, &w, &error)) == NULL ||
      (ubt = pp_tr34_kdh_build_unbind_token (kdh, krd, nonce, &error)) == NULL)
    return fail (error);
  pp_terminal_device_unbind_async (device, ubt, NULL, on_done, &w);
  if (!pp_terminal_device_unbind_finish (device, wait_run (&w), &error))
    return fail (error);
  human = g_strdup_printf (_("Terminal %s unbound"), info->serial);
  print_result (o.json, info->serial, NULL, NULL, human);
  return 0;
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC (X509_REQ, X509_REQ_free)

/* The serialNumber of @name, else its commonName (as TR-34 KRDs name themselves). */
static char *
name_device (X509_NAME *name)
{
  int nids[] = { NID_serialNumber, NID_commonName };

  for (guint i = 0; i < G_N_ELEMENTS (nids); i++)
    {
      int at = X509_NAME_get_index_by_NID (name, nids[i], -1);
      unsigned char *utf8 = NULL;
      char *text;
      int len;

      if (at < 0)
        continue;
      len = ASN1_STRING_to_UTF8 (&utf8, X509_NAME_ENTRY_get_data (X509_NAME_get_entry (name, at)));
      if (len < 0)
        continue;
      text = g_strndup ((const char *) utf8, len);
      OPENSSL_free (utf8);
      return text;
    }
  return NULL;
}

static gboolean
add_extension (X509       *cert,
               X509       *issuer,
               int         nid,
               const char *value)
{
  X509V3_CTX ctx;
  X509_EXTENSION *ext;
  gboolean ok;

  X509V3_set_ctx (&ctx, issuer, cert, NULL, NULL, 0);
  if ((ext = X509V3_EXT_conf_nid (NULL, &ctx, nid, value)) == NULL)
    return FALSE;
  ok = X509_add_ext (cert, ext, -1) == 1;
  X509_EXTENSION_free (ext);
  return ok;
}

/* Signs @cert with @signer (RSA PKCS#1 v1.5, SHA-256), wherever its key
 * lives: a PEM file or a PKCS#11 token, where X509_sign cannot reach.
 * OpenSSL 3.0 has no setter for the algorithm inside the signed part, so
 * both algorithm fields and the signature are filled through the
 * accessors' pointers, and the result is read back and verified with
 * @issuer_key before it is used. */
static X509 *
sign_cert (X509      *cert,
           PpSigner  *signer,
           EVP_PKEY  *issuer_key,
           GError   **error)
{
  const ASN1_BIT_STRING *csig = NULL;
  const X509_ALGOR *calg = NULL;
  g_autoptr(GBytes) sig = NULL;
  unsigned char *tbs = NULL, *der = NULL;
  const unsigned char *p;
  X509 *signed_cert = NULL;
  int tbs_len, der_len;

  X509_get0_signature (&csig, &calg, cert);
  if (X509_ALGOR_set0 ((X509_ALGOR *) X509_get0_tbs_sigalg (cert), OBJ_nid2obj (NID_sha256WithRSAEncryption),
                       V_ASN1_NULL, NULL) != 1 ||
      X509_ALGOR_set0 ((X509_ALGOR *) calg, OBJ_nid2obj (NID_sha256WithRSAEncryption), V_ASN1_NULL, NULL) != 1 ||
      (tbs_len = i2d_re_X509_tbs (cert, &tbs)) <= 0)
    goto crypto_fail;
  if (!pp_signer_sign (signer, tbs, (gsize) tbs_len, &sig, error))
    {
      OPENSSL_free (tbs);
      return NULL;
    }
  OPENSSL_free (tbs);
  if (ASN1_BIT_STRING_set ((ASN1_BIT_STRING *) csig, (unsigned char *) g_bytes_get_data (sig, NULL),
                           (int) g_bytes_get_size (sig)) != 1)
    goto crypto_fail;
  ((ASN1_BIT_STRING *) csig)->flags &= ~(ASN1_STRING_FLAG_BITS_LEFT | 0x07);
  ((ASN1_BIT_STRING *) csig)->flags |= ASN1_STRING_FLAG_BITS_LEFT;
  if ((der_len = i2d_X509 (cert, &der)) <= 0)
    goto crypto_fail;
  p = der;
  signed_cert = d2i_X509 (NULL, &p, der_len);
  OPENSSL_free (der);
  if (signed_cert == NULL || X509_verify (signed_cert, issuer_key) != 1)
    {
      g_clear_pointer (&signed_cert, X509_free);
      goto crypto_fail;
    }
  return signed_cert;

crypto_fail:
  g_set_error (error, PP_TR34_ERROR, PP_TR34_ERROR_CRYPTO, _("OpenSSL could not issue the device certificate"));
  return NULL;
}

/* The device certificate for @req: its subject and key, issued by @ca
 * with @signer, an end-entity key-encipherment certificate valid for @years. */
static X509 *
issue_device_cert (X509_REQ  *req,
                   X509      *ca,
                   PpSigner  *signer,
                   guint      years,
                   GError   **error)
{
  g_autoptr(X509) cert = X509_new ();
  g_autoptr(BIGNUM) serial = BN_new ();
  EVP_PKEY *pub = X509_REQ_get0_pubkey (req);

  if (cert == NULL || serial == NULL || pub == NULL ||
      BN_rand (serial, 127, BN_RAND_TOP_ONE, BN_RAND_BOTTOM_ANY) != 1 ||
      X509_set_version (cert, 2) != 1 ||
      BN_to_ASN1_INTEGER (serial, X509_get_serialNumber (cert)) == NULL ||
      X509_set_subject_name (cert, X509_REQ_get_subject_name (req)) != 1 ||
      X509_set_issuer_name (cert, X509_get_subject_name (ca)) != 1 ||
      X509_gmtime_adj (X509_getm_notBefore (cert), -300) == NULL ||
      X509_time_adj_ex (X509_getm_notAfter (cert), (int) (365 * years), 0, NULL) == NULL ||
      X509_set_pubkey (cert, pub) != 1 ||
      !add_extension (cert, ca, NID_basic_constraints, "critical,CA:FALSE") ||
      !add_extension (cert, ca, NID_key_usage, "critical,digitalSignature,keyEncipherment") ||
      !add_extension (cert, ca, NID_subject_key_identifier, "hash") ||
      !add_extension (cert, ca, NID_authority_key_identifier, "keyid:always"))
    {
      g_set_error (error, PP_TR34_ERROR, PP_TR34_ERROR_CRYPTO, _("OpenSSL could not issue the device certificate"));
      return NULL;
    }
  return sign_cert (cert, signer, X509_get0_pubkey (ca), error);
}

/* The CA_KRD's signer: a PEM file or a pkcs11: URI, its passphrase or
 * PIN from POSPROV_CA_KEY_SECRET; it must be the key of @ca. */
static PpSigner *
open_ca_signer (const char  *key_uri,
                X509        *ca,
                GError     **error)
{
  g_autoptr(GError) local = NULL;
  g_autoptr(PpSigner) signer = pp_signer_new_for_uri (key_uri, g_getenv (CA_KEY_SECRET_ENV), &local);
  g_autoptr(EVP_PKEY) pub = NULL;

  if (signer == NULL)
    {
      g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                   _("--ca-krd-key: %s (a passphrase or PIN goes in %s)"), local->message, CA_KEY_SECRET_ENV);
      return NULL;
    }
  if ((pub = pp_signer_dup_public_key (signer, &local)) == NULL)
    {
      g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE, "--ca-krd-key: %s", local->message);
      return NULL;
    }
  if (EVP_PKEY_eq (pub, X509_get0_pubkey (ca)) != 1)
    {
      g_set_error_literal (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                           _("--ca-krd-key is not the key of the --ca-krd-cert certificate"));
      return NULL;
    }
  return g_steal_pointer (&signer);
}

/* With --db: the terminal must be in the register, in a state in which a
 * device certificate is issued (before it is keyed, or recycled). */
static gboolean
check_register (PpStore     *store,
                const char  *serial,
                GError     **error)
{
  g_autoptr(GError) local = NULL;
  g_autoptr(PpTerminal) terminal = pp_store_get_terminal (store, serial, &local);
  PpTerminalState state;

  if (terminal == NULL)
    {
      if (g_error_matches (local, PP_STORE_ERROR, PP_STORE_ERROR_NOT_FOUND))
        g_set_error (error, PP_STORE_ERROR, PP_STORE_ERROR_NOT_FOUND,
                     _("Terminal %s is not in the register: take it in first (posprov-tool registry import); nothing was issued"),
                     serial);
      else
        g_propagate_error (error, g_steal_pointer (&local));
      return FALSE;
    }
  state = pp_terminal_get_state (terminal);
  if (state != PP_TERMINAL_STATE_RECEIVED && state != PP_TERMINAL_STATE_IN_STOCK &&
      state != PP_TERMINAL_STATE_RECYCLED)
    {
      g_set_error (error, PP_STORE_ERROR, PP_STORE_ERROR_ILLEGAL_TRANSITION,
                   _("Terminal %s is %s in the register: only a received, in-stock or recycled terminal is certified; nothing was issued"),
                   serial, pp_terminal_state_get_label (state));
      return FALSE;
    }
  return TRUE;
}

/* Upper-case hex SHA-256 of @cert's DER, as the register keeps it. */
static char *
cert_fingerprint (X509 *cert)
{
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;

  if (X509_digest (cert, EVP_sha256 (), md, &len) != 1)
    return NULL;
  return pp_hex_encode (md, len);
}

/* With --db, a terminal that already holds a certificate by this CA_KRD
 * (a certify whose register update failed, or one certified elsewhere):
 * its CT_KRD is checked against @ca and the serial, and recorded. */
static gboolean
record_held_certificate (PpTerminalDevice      *device,
                         const PpTerminalInfo  *info,
                         X509                  *ca,
                         PpStore               *store,
                         Wait                  *w,
                         char                 **out_subject,
                         GError               **error)
{
  g_autoptr(GBytes) ct_krd = NULL;
  g_autoptr(GError) local = NULL;
  g_autoptr(X509) cert = NULL;
  g_autofree char *fp = NULL;
  STACK_OF(X509) *trust = sk_X509_new_null ();

  pp_terminal_device_get_ct_krd_async (device, NULL, on_done, w);
  if ((ct_krd = pp_terminal_device_get_ct_krd_finish (device, wait_run (w), error)) == NULL)
    {
      sk_X509_free (trust);
      return FALSE;
    }
  sk_X509_push (trust, ca);
  cert = pp_tr34_kdh_receive_krd_credential (g_bytes_get_data (ct_krd, NULL), g_bytes_get_size (ct_krd),
                                             trust, info->serial, NULL, &local);
  sk_X509_free (trust);
  if (cert == NULL)
    {
      g_set_error (error, PP_TERMINAL_DEVICE_ERROR, PP_TERMINAL_DEVICE_ERROR_REFUSED,
                   _("Terminal %s already holds a device certificate, not one of this --ca-krd-cert (%s): nothing was recorded"),
                   info->serial, local->message);
      return FALSE;
    }
  if ((fp = cert_fingerprint (cert)) == NULL ||
      !pp_store_set_terminal_certificate (store, info->serial, fp, g_get_user_name (), error))
    return FALSE;
  *out_subject = subject_of (cert);
  return TRUE;
}

static int
cmd_certify (int    argc,
             char **argv)
{
  g_auto(PortOptions) o = { 0, };
  g_autofree char *ca_cert_path = NULL, *ca_key_uri = NULL, *expect = NULL, *db_path = NULL;
  int years = 10;
  const GOptionEntry entries[] = {
    { "ca-krd-cert", 0, 0, G_OPTION_ARG_FILENAME, &ca_cert_path, N_("The CA_KRD certificate that issues device certificates (PEM)"), N_("PEM") },
    { "ca-krd-key", 0, 0, G_OPTION_ARG_STRING, &ca_key_uri, N_("The CA_KRD private key: a PEM file or a pkcs11: URI (passphrase or PIN in POSPROV_CA_KEY_SECRET)"), N_("KEY") },
    { "expect-serial", 0, 0, G_OPTION_ARG_STRING, &expect, N_("The serial scanned from the terminal's label"), N_("SERIAL") },
    { "years", 0, 0, G_OPTION_ARG_INT, &years, N_("Validity of the device certificate in years (default 10)"), N_("N") },
    PP_TOOL_DB_OPTION (&db_path),
    { NULL }
  };
  g_autoptr(GOptionContext) context = g_option_context_new (_("PORT"));
  g_autoptr(GError) error = NULL;
  g_autoptr(PpTerminalDevice) device = NULL;
  g_autoptr(PpTerminalInfo) info = NULL;
  g_autoptr(X509) ca = NULL;
  g_autoptr(PpSigner) signer = NULL;
  g_autoptr(PpStore) store = NULL;
  g_autoptr(GBytes) csr = NULL;
  g_autoptr(X509_REQ) req = NULL;
  g_autoptr(X509) cert = NULL;
  g_autoptr(GBytes) der = NULL;
  g_autofree char *named = NULL, *human = NULL, *subject = NULL, *fp = NULL;
  g_auto(Wait) w = { 0, };
  const unsigned char *p;
  unsigned char *out = NULL;
  EVP_PKEY *pub;
  const char *port;
  int len;

  g_option_context_set_summary (context, _("Read the certificate request of the terminal on PORT, check that it names the serial the terminal reports (and, with --db, that the register holds it), and install a device certificate issued by CA_KRD; with --db the certificate is recorded in the register."));
  g_option_context_add_main_entries (context, entries, GETTEXT_PACKAGE);
  add_port_entries (context, &o);
  if (!parse_port (context, &argc, &argv, "certify PORT --ca-krd-cert PEM --ca-krd-key PEM_OR_PKCS11_URI", &port))
    return 1;
  if (ca_cert_path == NULL || ca_key_uri == NULL)
    return pp_tool_fail (_("device certify: --ca-krd-cert and --ca-krd-key are required"));
  if (years < 1 || years > 30)
    return pp_tool_fail (_("--years: give 1 to 30"));
  if ((ca = pp_tool_load_cert ("--ca-krd-cert", ca_cert_path, &error)) == NULL ||
      (signer = open_ca_signer (ca_key_uri, ca, &error)) == NULL)
    return fail (error);
  if (db_path != NULL && (store = pp_tool_open_store (db_path, PP_TOOL_STORE_WRITE)) == NULL)
    return 1;

  wait_init (&w);
  if ((device = open_device (port, &o, &w, &error)) == NULL ||
      (info = identify (device, &w, &error)) == NULL ||
      !check_serial (info, expect, &error) ||
      (store != NULL && !check_register (store, info->serial, &error)))
    return fail (error);
  if (info->has_cert && store != NULL)
    {
      /* A retry after the register could not record it, or a terminal
       * certified without --db: the register catches up. */
      if (!record_held_certificate (device, info, ca, store, &w, &subject, &error))
        return fail (error);
      human = g_strdup_printf (_("Terminal %s already holds a device certificate by this CA_KRD: recorded in the register: %s"),
                               info->serial, subject);
      print_result (o.json, info->serial, "subject", subject, human);
      return 0;
    }
  if (info->has_cert)
    return pp_tool_fail (_("Terminal %s already holds a device certificate: nothing was sent"), info->serial);
  pp_terminal_device_get_csr_async (device, NULL, on_done, &w);
  if ((csr = pp_terminal_device_get_csr_finish (device, wait_run (&w), &error)) == NULL)
    return fail (error);
  p = g_bytes_get_data (csr, NULL);
  req = d2i_X509_REQ (NULL, &p, (long) g_bytes_get_size (csr));
  if (req == NULL || p != (const unsigned char *) g_bytes_get_data (csr, NULL) + g_bytes_get_size (csr) ||
      (pub = X509_REQ_get0_pubkey (req)) == NULL || X509_REQ_verify (req, pub) != 1)
    return pp_tool_fail (_("The terminal's certificate request is not a valid signed PKCS#10 request: nothing was issued"));
  if (EVP_PKEY_get_base_id (pub) != EVP_PKEY_RSA || EVP_PKEY_get_bits (pub) < 2048)
    return pp_tool_fail (_("The terminal's certificate request is not for an RSA key of 2048 bits or more: nothing was issued"));
  named = name_device (X509_REQ_get_subject_name (req));
  if (named == NULL || strcmp (named, info->serial) != 0)
    {
      g_autofree char *safe = named != NULL ? pp_tool_printable (named) : NULL;

      return pp_tool_fail (_("The terminal's certificate request names device “%s”, but the terminal reports serial %s: nothing was issued"),
                           safe != NULL ? safe : named != NULL ? named : "", info->serial);
    }
  if ((cert = issue_device_cert (req, ca, signer, (guint) years, &error)) == NULL)
    return fail (error);
  if ((len = i2d_X509 (cert, &out)) <= 0 || (fp = cert_fingerprint (cert)) == NULL)
    return pp_tool_fail (_("OpenSSL could not issue the device certificate"));
  der = g_bytes_new (out, (gsize) len);
  OPENSSL_free (out);
  pp_terminal_device_put_cert_async (device, der, NULL, on_done, &w);
  if (!pp_terminal_device_put_cert_finish (device, wait_run (&w), &error))
    return fail (error);
  if (store != NULL && !pp_store_set_terminal_certificate (store, info->serial, fp, g_get_user_name (), &error))
    return pp_tool_fail (_("Terminal %s holds its new device certificate, but the register did not record it (%s): run the same certify again to record it"),
                         info->serial, error->message);
  subject = subject_of (cert);
  human = g_strdup_printf (_("Terminal %s certified: %s"), info->serial, subject);
  print_result (o.json, info->serial, "subject", subject, human);
  return 0;
}

/* ---- rebind ------------------------------------------------------------------ */

static int
cmd_rebind (int    argc,
            char **argv)
{
  g_auto(PortOptions) o = { 0, };
  g_autofree char *kdh_cert = NULL, *kdh_key = NULL, *kdh_crl = NULL, *new_cert_path = NULL;
  g_autofree char *krd_trust = NULL, *expect = NULL, *profile = NULL;
  const GOptionEntry entries[] = {
    { "kdh-cert", 0, 0, G_OPTION_ARG_FILENAME, &kdh_cert, N_("The certificate of the KDH the terminal is bound to (PEM)"), N_("PEM") },
    { "kdh-key", 0, 0, G_OPTION_ARG_STRING, &kdh_key, N_("The bound KDH's private key: a PEM file or a pkcs11: URI (secret in POSPROV_KDH_KEY_SECRET)"), N_("KEY") },
    { "new-kdh-cert", 0, 0, G_OPTION_ARG_FILENAME, &new_cert_path, N_("The certificate of the KDH to move the terminal to (PEM)"), N_("PEM") },
    { "kdh-crl", 0, 0, G_OPTION_ARG_FILENAME, &kdh_crl, N_("The CA_KDH's CRL carried in the token (DER or PEM)"), N_("DER") },
    { "krd-trust", 0, 0, G_OPTION_ARG_FILENAME, &krd_trust, N_("The root and CA_KRD certificates the terminal's must chain to (PEM)"), N_("PEM") },
    { "expect-serial", 0, 0, G_OPTION_ARG_STRING, &expect, N_("The serial scanned from the terminal's label"), N_("SERIAL") },
    { "profile", 0, 0, G_OPTION_ARG_STRING, &profile, N_("TR-34 encoding profile for this terminal model"), N_("PROFILE") },
    { NULL }
  };
  g_autoptr(GOptionContext) context = g_option_context_new (_("PORT"));
  g_autoptr(GError) error = NULL;
  g_autoptr(PpTerminalDevice) device = NULL;
  g_autoptr(PpTerminalInfo) info = NULL;
  g_autoptr(PpTr34Kdh) kdh = NULL;
  g_autoptr(X509) old_cert = NULL;
  g_autoptr(X509) new_cert = NULL;
  g_autoptr(X509) krd = NULL;
  g_autoptr(GBytes) nonce = NULL;
  g_autoptr(GBytes) rbt = NULL;
  g_autofree char *old_subject = NULL, *new_subject = NULL, *bound = NULL, *human = NULL;
  g_auto(Wait) w = { 0, };
  const char *port;

  g_option_context_set_summary (context, _("Move the terminal on PORT from the KDH it is bound to (--kdh-cert, --kdh-key) to another KDH (--new-kdh-cert) with an RBT_KDH signed by the bound KDH for the terminal's nonce, after checking its CT_KRD."));
  g_option_context_add_main_entries (context, entries, GETTEXT_PACKAGE);
  add_port_entries (context, &o);
  if (!parse_port (context, &argc, &argv,
                   "rebind PORT --kdh-cert PEM --kdh-key KEY --new-kdh-cert PEM --krd-trust PEM", &port))
    return 1;
  if (kdh_cert == NULL || kdh_key == NULL || new_cert_path == NULL || krd_trust == NULL)
    return pp_tool_fail (_("device rebind: --kdh-cert, --kdh-key, --new-kdh-cert and --krd-trust are required"));
  if ((kdh = pp_tool_open_kdh ("--kdh-cert", kdh_cert, kdh_key, "--kdh-crl", kdh_crl, profile, NULL, &error)) == NULL ||
      (old_cert = pp_tool_load_cert ("--kdh-cert", kdh_cert, &error)) == NULL ||
      (new_cert = pp_tool_load_cert ("--new-kdh-cert", new_cert_path, &error)) == NULL)
    return fail (error);
  old_subject = subject_of (old_cert);
  new_subject = subject_of (new_cert);

  wait_init (&w);
  /* The terminal's state is checked before anything is sent. */
  if ((device = open_device (port, &o, &w, &error)) == NULL ||
      (info = identify (device, &w, &error)) == NULL ||
      !check_serial (info, expect, &error) ||
      !check_not_tampered (info, &error))
    return fail (error);
  if (info->bound_kdh == NULL)
    return pp_tool_fail (_("Terminal %s is not bound to a key distribution host: there is nothing to rebind; bind it instead (posprov-tool device bind); nothing was sent"),
                         info->serial);
  if (g_strcmp0 (info->bound_kdh, new_subject) == 0)
    return pp_tool_fail (_("Terminal %s is already bound to %s: nothing was sent"), info->serial, new_subject);
  if (g_strcmp0 (info->bound_kdh, old_subject) != 0)
    {
      g_autofree char *safe = pp_tool_printable (info->bound_kdh);

      return pp_tool_fail (_("Terminal %s is bound to %s, not to the KDH of --kdh-cert (%s): only the bound KDH can rebind it; nothing was sent"),
                           info->serial, safe != NULL ? safe : info->bound_kdh, old_subject);
    }
  if ((krd = checked_krd_cert (device, info, krd_trust, &w, &error)) == NULL ||
      (nonce = terminal_nonce (device, &w, &error)) == NULL ||
      (rbt = pp_tr34_kdh_build_rebind_token (kdh, krd, new_cert, nonce, &error)) == NULL)
    return fail (error);
  pp_terminal_device_rebind_async (device, rbt, NULL, on_done, &w);
  if ((bound = pp_terminal_device_rebind_finish (device, wait_run (&w), &error)) == NULL)
    return fail (error);
  if (g_strcmp0 (bound, new_subject) != 0)
    {
      g_autofree char *safe = pp_tool_printable (bound);

      return pp_tool_fail (_("Terminal %s reports it is now bound to %s, not to %s: check the terminal with posprov-tool device identify"),
                           info->serial, safe != NULL ? safe : bound, new_subject);
    }
  human = g_strdup_printf (_("Terminal %s rebound from %s to %s"), info->serial, old_subject, bound);
  print_result (o.json, info->serial, "bound_kdh", bound, human);
  return 0;
}

/* ---- sign-on test ------------------------------------------------------------ */

#define OPERATOR_PASSWORD_ENV "POSPROV_OPERATOR_PASSWORD"

static gboolean
holds_working_keys (const PpTerminalStatus *status,
                    const char             *pin_kcv,
                    const char             *mac_kcv)
{
  for (guint i = 0; status->keys != NULL && i < status->keys->len; i++)
    {
      const PpTerminalKey *key = g_ptr_array_index (status->keys, i);

      if (key->working || pp_kcv_equal (key->kcv, pin_kcv) || pp_kcv_equal (key->kcv, mac_kcv))
        return TRUE;
    }
  return FALSE;
}

static PpTerminalStatus *
terminal_status (PpTerminalDevice  *device,
                 Wait              *w,
                 GError           **error)
{
  pp_terminal_device_status_async (device, NULL, on_done, w);
  return pp_terminal_device_status_finish (device, wait_run (w), error);
}

static int
cmd_sign_on_test (int    argc,
                  char **argv)
{
  g_auto(PortOptions) o = { 0, };
  g_autofree char *operator_text = NULL, *password = NULL, *location = NULL, *label = NULL, *expect = NULL;
  const GOptionEntry entries[] = {
    { "operator", 0, 0, G_OPTION_ARG_STRING, &operator_text, N_("The operator number to sign on with"), N_("N") },
    { "password", 0, 0, G_OPTION_ARG_STRING, &password, N_("The operator's password (or in POSPROV_OPERATOR_PASSWORD, off the command line)"), N_("PASSWORD") },
    { "key-store", 0, 0, G_OPTION_ARG_STRING, &location, N_("The key store holding the terminal's TMK: a soft key store folder or a pkcs11: URI (secret in POSPROV_KEY_STORE_SECRET)"), N_("LOCATION") },
    { "tmk", 0, 0, G_OPTION_ARG_STRING, &label, N_("The key store label of this terminal's TMK (device inject prints it)"), N_("LABEL") },
    { "expect-serial", 0, 0, G_OPTION_ARG_STRING, &expect, N_("The serial scanned from the terminal's label"), N_("SERIAL") },
    { NULL }
  };
  g_autoptr(GOptionContext) context = g_option_context_new (_("PORT"));
  g_autoptr(GError) error = NULL;
  g_autoptr(PpKeyStore) store = NULL;
  g_autoptr(PpTerminalDevice) device = NULL;
  g_autoptr(PpTerminalInfo) info = NULL;
  g_autoptr(PpTerminalStatus) before = NULL;
  g_autoptr(PpTerminalStatus) after = NULL;
  g_autoptr(PpSecureBuffer) tmk = NULL;
  g_autofree char *tmk_kcv = NULL;
  g_autofree char *pin_block = NULL, *mac_block = NULL, *pin_kcv = NULL, *mac_kcv = NULL;
  g_autofree char *terminal_pin_kcv = NULL, *terminal_mac_kcv = NULL, *mismatch = NULL, *human = NULL;
  g_auto(Wait) w = { 0, };
  const char *pin_header, *mac_header;
  const PpTerminalKey *master;
  PpKeyAlgorithm algorithm;
  PpTmkType type = PP_TMK_TDES_2KEY;
  guint64 operator_id = 0;
  const char *port;

  g_option_context_set_summary (context, _("Sign on to the terminal on PORT as an operator: fresh PIN and MAC keys go to it as TR-31 key blocks under its TMK, the check values it reports are compared with the station's, then it signs off and must have deleted them."));
  g_option_context_add_main_entries (context, entries, GETTEXT_PACKAGE);
  add_port_entries (context, &o);
  if (!parse_port (context, &argc, &argv,
                   "sign-on-test PORT --operator N --password P --key-store LOCATION --tmk LABEL", &port))
    return 1;
  if (password == NULL && g_getenv (OPERATOR_PASSWORD_ENV) != NULL)
    password = g_strdup (g_getenv (OPERATOR_PASSWORD_ENV));
  if (operator_text == NULL || password == NULL || location == NULL || label == NULL)
    return pp_tool_fail (_("device sign-on-test: --operator, --password (or POSPROV_OPERATOR_PASSWORD), --key-store and --tmk are required"));
  if (!g_ascii_string_to_unsigned (operator_text, 10, 0, G_MAXUINT32, &operator_id, NULL))
    return pp_tool_fail (_("--operator: “%s” is not an operator number (0 to 4294967295)"), operator_text);
  if ((store = pp_key_store_new_for_location (location, g_getenv (KEY_STORE_SECRET_ENV), &error)) == NULL)
    return fail (error);
  if ((tmk_kcv = pp_key_store_get_tmk_kcv (store, label, &type, &error)) == NULL)
    {
      if (g_error_matches (error, PP_KEYSTORE_ERROR, PP_KEYSTORE_ERROR_NOT_FOUND) ||
          g_error_matches (error, PP_KEYSTORE_ERROR, PP_KEYSTORE_ERROR_OBJECT_NOT_FOUND))
        return pp_tool_fail (_("--tmk: the key store holds no TMK labelled “%s” (device inject prints the label of the key it loads)"),
                             label);
      return fail (error);
    }
  if (type == PP_TMK_AES_128 || type == PP_TMK_AES_256)
    {
      algorithm = PP_KEY_ALGORITHM_AES;
      pin_header = pp_tr31_sign_on_header (algorithm, FALSE);
      mac_header = pp_tr31_sign_on_header (algorithm, TRUE);
    }
  else
    {
      algorithm = PP_KEY_ALGORITHM_TDES;
      pin_header = pp_tr31_sign_on_header (algorithm, FALSE);
      mac_header = pp_tr31_sign_on_header (algorithm, TRUE);
    }

  wait_init (&w);
  /* Everything about the terminal is checked before a key exists. */
  if ((device = open_device (port, &o, &w, &error)) == NULL ||
      (info = identify (device, &w, &error)) == NULL ||
      !check_serial (info, expect, &error) ||
      !check_not_tampered (info, &error))
    return fail (error);
  if ((info->capabilities & PP_TERMINAL_CAP_SIGN_ON) == 0)
    return pp_tool_fail (_("Terminal %s does not support sign-on: its program may be too old; nothing was sent"),
                         info->serial);
  if ((before = terminal_status (device, &w, &error)) == NULL)
    return fail (error);
  if (before->keys != NULL)
    {
      if ((master = pp_terminal_status_get_master_key (before)) == NULL)
        return pp_tool_fail (_("Terminal %s holds no master key: inject one first (posprov-tool device inject); nothing was sent"),
                             info->serial);
      if (!pp_kcv_equal (master->kcv, tmk_kcv))
        return pp_tool_fail (_("KCV mismatch: the master key of terminal %s (KCV %s) is not the key store's “%s” (KCV %s): give --tmk the label device inject printed for this terminal; nothing was sent"),
                             info->serial, master->kcv, label, tmk_kcv);
    }

  if ((tmk = pp_key_store_export_tmk (store, label, NULL, &error)) == NULL ||
      (pin_block = pp_tr31_wrap_fresh_key (tmk, algorithm, pin_header, &pin_kcv, &error)) == NULL ||
      (mac_block = pp_tr31_wrap_fresh_key (tmk, algorithm, mac_header, &mac_kcv, &error)) == NULL)
    return fail (error);
  g_clear_pointer (&tmk, pp_secure_buffer_free);

  pp_terminal_device_sign_on_async (device, (guint32) operator_id, password, pin_block, mac_block,
                                    NULL, on_done, &w);
  if (!pp_terminal_device_sign_on_finish (device, wait_run (&w), &terminal_pin_kcv, &terminal_mac_kcv, &error))
    {
      if (pp_terminal_device_error_get_reason (error) == PP_REASON_KEY_BLOCK)
        return pp_tool_fail (_("%s: check that “%s” is this terminal's master key"), error->message, label);
      return fail (error);
    }
  /* Compared in constant time; a mismatch still signs off below. */
  if (!pp_kcv_equal (terminal_pin_kcv, pin_kcv))
    mismatch = g_strdup_printf (_("KCV mismatch: the terminal computed %s for the PIN key, the station %s: the terminal's master key is not the key store's “%s”"),
                                terminal_pin_kcv, pin_kcv, label);
  else if (terminal_mac_kcv == NULL)
    mismatch = g_strdup (_("The terminal did not report the MAC key's check value: the MAC key is not confirmed"));
  else if (!pp_kcv_equal (terminal_mac_kcv, mac_kcv))
    mismatch = g_strdup_printf (_("KCV mismatch: the terminal computed %s for the MAC key, the station %s: the terminal's master key is not the key store's “%s”"),
                                terminal_mac_kcv, mac_kcv, label);

  pp_terminal_device_sign_off_async (device, NULL, on_done, &w);
  if (!pp_terminal_device_sign_off_finish (device, wait_run (&w), &error))
    return fail (error);
  if ((after = terminal_status (device, &w, &error)) == NULL)
    return fail (error);
  if (mismatch != NULL)
    return pp_tool_fail ("%s", mismatch);
  if (holds_working_keys (after, pin_kcv, mac_kcv))
    return pp_tool_fail (_("Terminal %s still holds working keys after signing off: it did not delete them; do not deploy it"),
                         info->serial);

  if (o.json)
    {
      g_autoptr(JsonBuilder) b = json_builder_new ();
      g_autoptr(JsonNode) root = NULL;

      json_builder_begin_object (b);
      json_member_string (b, "serial", info->serial);
      json_builder_set_member_name (b, "operator");
      json_builder_add_int_value (b, (gint64) operator_id);
      json_member_string (b, "pin_kcv", pin_kcv);
      json_member_string (b, "mac_kcv", mac_kcv);
      json_builder_set_member_name (b, "signed_off");
      json_builder_add_boolean_value (b, TRUE);
      json_builder_set_member_name (b, "deletion_checked");
      json_builder_add_boolean_value (b, after->keys != NULL);
      json_builder_end_object (b);
      root = json_builder_get_root (b);
      pp_tool_print_json (root);
      return 0;
    }
  human = g_strdup_printf (after->keys != NULL
                           ? _("Terminal %s: operator %u signed on; PIN key KCV %s and MAC key KCV %s confirmed; signed off, working keys deleted")
                           : _("Terminal %s: operator %u signed on; PIN key KCV %s and MAC key KCV %s confirmed; signed off (the terminal does not list its keys: deletion not checked)"),
                           info->serial, (guint) operator_id, pin_kcv, mac_kcv);
  print_result (FALSE, info->serial, NULL, NULL, human);
  return 0;
}

static int
cmd_zeroize (int    argc,
             char **argv)
{
  g_auto(PortOptions) o = { 0, };
  g_autofree char *expect = NULL;
  const GOptionEntry entries[] = {
    { "expect-serial", 0, 0, G_OPTION_ARG_STRING, &expect, N_("The serial scanned from the terminal's label"), N_("SERIAL") },
    { NULL }
  };
  g_autoptr(GOptionContext) context = g_option_context_new (_("PORT"));
  g_autoptr(GError) error = NULL;
  g_autoptr(PpTerminalDevice) device = NULL;
  g_autoptr(PpTerminalInfo) info = NULL;
  g_autofree char *human = NULL;
  g_auto(Wait) w = { 0, };
  const char *port;

  g_option_context_set_summary (context, _("Erase every key and the KDH binding of the terminal on PORT (its device certificate stays), for recycling."));
  g_option_context_add_main_entries (context, entries, GETTEXT_PACKAGE);
  add_port_entries (context, &o);
  if (!parse_port (context, &argc, &argv, "zeroize PORT", &port))
    return 1;
  wait_init (&w);
  if ((device = open_device (port, &o, &w, &error)) == NULL ||
      (info = identify (device, &w, &error)) == NULL ||
      !check_serial (info, expect, &error))
    return fail (error);
  pp_terminal_device_zeroize_async (device, NULL, on_done, &w);
  if (!pp_terminal_device_zeroize_finish (device, wait_run (&w), &error))
    return fail (error);
  human = g_strdup_printf (_("Terminal %s zeroized: its keys and KDH binding are erased"), info->serial);
  print_result (o.json, info->serial, NULL, NULL, human);
  return 0;
}

/* ---- push-program ---------------------------------------------------------- */

typedef struct {
  gboolean  tty;
  gint64    start_us;      /* when the terminal answered PROGRAM_BEGIN */
  gint64    last_print_us;
  guint64   start_offset;  /* what it held then */
  guint64   confirmed;
  guint64   total;
  gboolean  started;
  gboolean  printed;
} Progress;

static char *
format_bytes (guint64 n)
{
  return g_format_size_full (n, G_FORMAT_SIZE_IEC_UNITS);
}

static void
print_progress (Progress *p,
                gboolean  last)
{
  gint64 now = g_get_monotonic_time ();
  double elapsed = (double) (now - p->start_us) / G_USEC_PER_SEC;
  double rate = elapsed > 0.05 ? (double) (p->confirmed - p->start_offset) / elapsed : 0;
  guint percent = p->total > 0 ? (guint) (p->confirmed * 100 / p->total) : 100;
  g_autofree char *done = format_bytes (p->confirmed);
  g_autofree char *all = format_bytes (p->total);
  g_autofree char *speed = format_bytes ((guint64) rate);
  g_autofree char *left = NULL;

  if (rate > 0 && p->confirmed < p->total)
    {
      guint64 secs = (guint64) ((double) (p->total - p->confirmed) / rate + 0.5);

      left = g_strdup_printf (_("%" PRIu64 ":%02u left"), secs / 60, (guint) (secs % 60));
    }
  else
    left = g_strdup (p->confirmed >= p->total ? _("done") : _("estimating time left"));
  /* TRANSLATORS: push progress: percent, bytes confirmed of all, rate per second, time left */
  fprintf (stderr, _("%s%3u%%  %s of %s  %s/s  %s%s"), p->tty ? "\r" : "", percent, done, all, speed, left,
           p->tty ? "\033[K" : "\n");
  if (p->tty && last)
    fputc ('\n', stderr);
  fflush (stderr);
  p->last_print_us = now;
  p->printed = TRUE;
}

static void
on_push_progress (guint64  confirmed,
                  guint64  total,
                  gpointer user_data)
{
  Progress *p = user_data;
  gint64 now = g_get_monotonic_time ();

  if (!p->started)
    {
      p->started = TRUE;
      p->start_us = now;
      p->start_offset = confirmed;
    }
  p->confirmed = confirmed;
  p->total = total;
  /* On a terminal one line updated a few times a second; in a log a line
   * every few seconds. */
  if (now - p->last_print_us >= (p->tty ? G_USEC_PER_SEC / 5 : 3 * G_USEC_PER_SEC))
    print_progress (p, FALSE);
}

/* A refusal in the field's terms: which check failed and what to do. */
static GError *
push_error (const GError   *error,
            const Progress *p)
{
  guint reason = pp_terminal_device_error_get_reason (error);

  if (g_error_matches (error, PP_TERMINAL_DEVICE_ERROR, PP_TERMINAL_DEVICE_ERROR_REFUSED))
    switch (reason)
      {
      case PP_REASON_PROGRAM_ORDER:
        return g_error_new (PP_TERMINAL_DEVICE_ERROR, error->code,
                            _("Program refused: programs must go in order: signature file, manager, payment apps; "
                              "install the missing one first (%s)"), error->message);
      case PP_REASON_PROGRAM_MODEL:
        return g_error_new (PP_TERMINAL_DEVICE_ERROR, error->code,
                            _("Program refused: the package is not for this terminal's model; use the package "
                              "built for it (%s)"), error->message);
      case PP_REASON_PROGRAM_SIGNATURE:
        return g_error_new (PP_TERMINAL_DEVICE_ERROR, error->code,
                            _("Program refused: the signature check failed; use a package signed with a "
                              "program-signing key this terminal trusts, and check the PC's date (%s)"),
                            error->message);
      case PP_REASON_PROGRAM_INTEGRITY:
        return g_error_new (PP_TERMINAL_DEVICE_ERROR, error->code,
                            _("Program refused: the program arrived damaged or the package was changed; "
                              "verify the package and push it again (%s)"), error->message);
      case PP_REASON_PROGRAM:
        return g_error_new (PP_TERMINAL_DEVICE_ERROR, error->code,
                            _("Program refused by the terminal (%s)"), error->message);
      default:
        break;
      }
  if (p->started && p->confirmed < p->total)
    {
      g_autofree char *done = format_bytes (p->confirmed);
      g_autofree char *all = format_bytes (p->total);

      return g_error_new (error->domain, error->code,
                          _("%s; the terminal confirmed %s of %s: push again to resume from there"),
                          error->message, done, all);
    }
  return g_error_copy (error);
}

static int
cmd_push_program (int    argc,
                  char **argv)
{
  g_auto(PortOptions) o = { 0, };
  g_autofree char *expect = NULL;
  const GOptionEntry entries[] = {
    { "expect-serial", 0, 0, G_OPTION_ARG_STRING, &expect, N_("The serial scanned from the terminal's label"), N_("SERIAL") },
    { NULL }
  };
  g_autoptr(GOptionContext) context = g_option_context_new (_("PORT PACKAGE"));
  g_autoptr(GError) error = NULL;
  g_autoptr(PpTerminalDevice) device = NULL;
  g_autoptr(PpTerminalInfo) info = NULL;
  g_autoptr(PpProgramPackage) package = NULL;
  g_auto(Wait) w = { 0, };
  Progress progress = { 0, };
  const PpProgramManifest *manifest;
  guint64 resumed = 0, total;

  g_option_context_set_summary (context, _("Push the program package PACKAGE to the terminal on PORT: it resumes "
                                           "where an interrupted push stopped; the terminal checks the signature, "
                                           "the files, its model and the install order before it installs."));
  g_option_context_add_main_entries (context, entries, GETTEXT_PACKAGE);
  add_port_entries (context, &o);
  if (!pp_tool_parse (context, &argc, &argv))
    return 1;
  if (argc != 3)
    return pp_tool_fail (_("usage: device push-program PORT PACKAGE"));
  if ((package = pp_program_package_open (argv[2], &error)) == NULL)
    return fail (error);
  manifest = pp_program_package_get_manifest (package);
  total = pp_program_manifest_get_payload_size (manifest);
  wait_init (&w);
  if ((device = open_device (argv[1], &o, &w, &error)) == NULL ||
      (info = identify (device, &w, &error)) == NULL ||
      !check_serial (info, expect, &error))
    return fail (error);
  progress.tty = isatty (STDERR_FILENO);
  pp_terminal_device_push_program_async (device, package, on_push_progress, &progress, NULL, on_done, &w);
  if (!pp_terminal_device_push_program_finish (device, wait_run (&w), &resumed, &error))
    {
      g_autoptr(GError) field = push_error (error, &progress);

      if (progress.printed && progress.tty)
        fputc ('\n', stderr);
      return fail (field);
    }
  if (progress.started)
    print_progress (&progress, TRUE);
  if (o.json)
    {
      g_autoptr(JsonBuilder) b = json_builder_new ();
      g_autoptr(JsonNode) root = NULL;

      json_builder_begin_object (b);
      json_member_string (b, "serial", info->serial);
      json_member_string (b, "name", pp_program_manifest_get_name (manifest));
      json_member_string (b, "version", pp_program_manifest_get_version (manifest));
      json_builder_set_member_name (b, "size");
      json_builder_add_int_value (b, (gint64) total);
      json_builder_set_member_name (b, "resumed_from");
      json_builder_add_int_value (b, (gint64) resumed);
      json_builder_set_member_name (b, "sent");
      json_builder_add_int_value (b, (gint64) (total - resumed));
      json_builder_end_object (b);
      root = json_builder_get_root (b);
      pp_tool_print_json (root);
    }
  else
    {
      g_autofree char *human = NULL;

      if (resumed > 0)
        {
          g_autofree char *held = format_bytes (resumed);

          human = g_strdup_printf (_("Terminal %s installed %s %s (resumed after %s it already held)"),
                                   info->serial, pp_program_manifest_get_name (manifest),
                                   pp_program_manifest_get_version (manifest), held);
        }
      else
        human = g_strdup_printf (_("Terminal %s installed %s %s"), info->serial,
                                 pp_program_manifest_get_name (manifest), pp_program_manifest_get_version (manifest));
      print_result (FALSE, info->serial, NULL, NULL, human);
    }
  return 0;
}

int
pp_tool_device_main (int    argc,
                     char **argv)
{
  static const PpToolCommand commands[] = {
    { "list",     cmd_list,     N_("List the serial ports and the terminals they match") },
    { "identify", cmd_identify, N_("Show what the terminal on PORT says about itself") },
    { "certify",  cmd_certify,  N_("Install a device certificate issued by CA_KRD for the terminal's certificate request") },
    { "bind",     cmd_bind,     N_("Bind the terminal on PORT to a KDH (CT_KDH), after checking its CT_KRD") },
    { "inject",   cmd_inject,   N_("Load a fresh TMK from the key store into the terminal on PORT (TR-34 2-pass)") },
    { "rebind",   cmd_rebind,   N_("Move the terminal on PORT from its KDH to another (RBT_KDH)") },
    { "sign-on-test", cmd_sign_on_test, N_("Sign on to the terminal on PORT with fresh PIN and MAC keys under its TMK, check their KCVs, sign off") },
    { "unbind",   cmd_unbind,   N_("Release the terminal on PORT from its KDH (UBT_KDH)") },
    { "zeroize",  cmd_zeroize,  N_("Erase every key and the KDH binding of the terminal on PORT") },
    { "push-program", cmd_push_program, N_("Push a signed program package to the terminal on PORT (resumes)") },
    { NULL, NULL, NULL }
  };

  return pp_tool_dispatch (argv[0], commands, argc, argv);
}
