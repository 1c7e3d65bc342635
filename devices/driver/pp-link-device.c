/* SPDX-License-Identifier: GPL-3.0-or-later
 *
 * pp-link-device.c: PpTerminalDevice over the posprov link protocol.
 *
 * Each verb is one request on the link; the answer's status becomes the
 * PpTerminalDevice error a flow acts on (a refusal keeps the terminal's
 * REASON), the answer's TLVs the verb's result.
 */
#include "config.h"

#include <inttypes.h>
#include <glib/gi18n-lib.h>

#include "pp-link-device.h"
#include "pp-link-tlv.h"

struct _PpLinkDevice
{
  GObject  parent_instance;
  PpLink  *link;
};

static void pp_link_device_iface_init (PpTerminalDeviceInterface *iface);

G_DEFINE_FINAL_TYPE_WITH_CODE (PpLinkDevice, pp_link_device, G_TYPE_OBJECT,
                               G_IMPLEMENT_INTERFACE (PP_TYPE_TERMINAL_DEVICE, pp_link_device_iface_init))

static void
pp_link_device_finalize (GObject *object)
{
  PpLinkDevice *self = PP_LINK_DEVICE (object);

  g_clear_pointer (&self->link, pp_link_unref);
  G_OBJECT_CLASS (pp_link_device_parent_class)->finalize (object);
}

static void
pp_link_device_class_init (PpLinkDeviceClass *klass)
{
  G_OBJECT_CLASS (klass)->finalize = pp_link_device_finalize;
}

static void
pp_link_device_init (PpLinkDevice *self)
{
}

PpLinkDevice *
pp_link_device_new (PpLink *link)
{
  PpLinkDevice *self;

  g_return_val_if_fail (link != NULL, NULL);
  self = g_object_new (PP_TYPE_LINK_DEVICE, NULL);
  self->link = pp_link_ref (link);
  return self;
}

PpLink *
pp_link_device_get_link (PpLinkDevice *self)
{
  g_return_val_if_fail (PP_IS_LINK_DEVICE (self), NULL);
  return self->link;
}

/* ---- errors ------------------------------------------------------------- */

void
pp_link_device_map_error (GError     **error,
                          const char  *step)
{
  GError *in;
  GError *out = NULL;

  if (error == NULL || *error == NULL)
    return;
  in = *error;
  if (in->domain == PP_TERMINAL_DEVICE_ERROR || g_error_matches (in, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    return;

  if (in->domain == PP_LINK_ERROR)
    {
      switch ((PpLinkError) in->code)
        {
        case PP_LINK_ERROR_TIMEOUT:
        case PP_LINK_ERROR_GARBAGE:
          /* The link's own message already says what to check. */
          out = g_error_new (PP_TERMINAL_DEVICE_ERROR,
                             in->code == PP_LINK_ERROR_GARBAGE ? PP_TERMINAL_DEVICE_ERROR_GARBAGE
                                                               : PP_TERMINAL_DEVICE_ERROR_UNREACHABLE,
                             _("%s (step: %s)"), in->message, step);
          break;
        case PP_LINK_ERROR_CLOSED:
          out = g_error_new (PP_TERMINAL_DEVICE_ERROR, PP_TERMINAL_DEVICE_ERROR_UNREACHABLE,
                             _("The terminal went away (step: %s): check the cable and that the terminal is on"),
                             step);
          break;
        case PP_LINK_ERROR_VERSION:
          out = g_error_new (PP_TERMINAL_DEVICE_ERROR, PP_TERMINAL_DEVICE_ERROR_PROTOCOL,
                             _("The terminal speaks no link protocol version this station knows: %s"),
                             in->message);
          break;
        case PP_LINK_ERROR_REFUSED:
          pp_terminal_device_set_refused (&out, 0, _("The terminal refused %s: %s"), step, in->message);
          break;
        case PP_LINK_ERROR_PROTOCOL:
        default:
          out = g_error_new (PP_TERMINAL_DEVICE_ERROR, PP_TERMINAL_DEVICE_ERROR_PROTOCOL,
                             _("The terminal broke the link protocol (step: %s): %s"), step, in->message);
          break;
        }
    }
  else if (in->domain == PP_TRANSPORT_ERROR)
    {
      /* The transport's messages already name the port and what to do. */
      int code = in->code == PP_TRANSPORT_ERROR_NOT_FOUND ? PP_TERMINAL_DEVICE_ERROR_NO_PORT
               : in->code == PP_TRANSPORT_ERROR_BUSY ? PP_TERMINAL_DEVICE_ERROR_PORT_BUSY
               : PP_TERMINAL_DEVICE_ERROR_UNREACHABLE;

      out = g_error_new_literal (PP_TERMINAL_DEVICE_ERROR, code, in->message);
    }
  else
    out = g_error_new (PP_TERMINAL_DEVICE_ERROR, PP_TERMINAL_DEVICE_ERROR_UNREACHABLE,
                       _("The link to the terminal failed (step: %s): %s"), step, in->message);

  g_clear_error (error);
  g_propagate_error (error, out);
}

/* A refused SIGN_ON in the field's terms, by the terminal's REASON. */
static GError *
sign_on_refused (guint16     reason,
                 const char *message)
{
  GError *error = NULL;

  switch (reason)
    {
    case PP_REASON_SIGN_ON:
      pp_terminal_device_set_refused (&error, reason,
                                      _("Sign-on refused: wrong operator number or password (the terminal says: %s)"),
                                      message);
      break;
    case PP_REASON_STATE:
      pp_terminal_device_set_refused (&error, reason,
                                      _("Sign-on refused: the terminal holds no master key; inject one first (posprov-tool device inject) (the terminal says: %s)"),
                                      message);
      break;
    case PP_REASON_KEY_BLOCK:
      pp_terminal_device_set_refused (&error, reason,
                                      _("Sign-on refused: the terminal did not accept the working keys under its master key (the terminal says: %s)"),
                                      message);
      break;
    default:
      pp_terminal_device_set_refused (&error, reason, _("The terminal refused %s: %s"), _("sign-on"), message);
      break;
    }
  return error;
}

/* A non-OK status as the error a flow acts on. */
static GError *
status_error (guint8        status,
              PpLinkTlvSet *set,
              const char   *step,
              guint8        command)
{
  g_autofree char *message = NULL;
  guint16 reason = 0;
  GError *error = NULL;

  if (set != NULL)
    {
      message = pp_link_tlv_dup_string (set, PP_TAG_MESSAGE, NULL);
      if (!pp_link_tlv_get_u16 (set, PP_TAG_REASON, &reason, NULL))
        reason = 0;
    }
  switch (status)
    {
    case PP_STATUS_TAMPERED:
      return g_error_new (PP_TERMINAL_DEVICE_ERROR, PP_TERMINAL_DEVICE_ERROR_TAMPERED,
                          _("The terminal is tampered (security attack: return it for inspection; it will refuse keys)"));
    case PP_STATUS_NOT_BOUND:
      return g_error_new (PP_TERMINAL_DEVICE_ERROR, PP_TERMINAL_DEVICE_ERROR_NOT_BOUND,
                          _("The terminal is not bound to a key distribution host: bind it first (%s)"), step);
    case PP_STATUS_NO_CERT:
      return g_error_new (PP_TERMINAL_DEVICE_ERROR, PP_TERMINAL_DEVICE_ERROR_NO_CERT,
                          _("The terminal has no device certificate yet: certify it first (%s)"), step);
    case PP_STATUS_BUSY:
      return g_error_new (PP_TERMINAL_DEVICE_ERROR, PP_TERMINAL_DEVICE_ERROR_BUSY,
                          _("The terminal is busy (%s): wait a moment and try again"), step);
    case PP_STATUS_UNKNOWN_COMMAND:
      return g_error_new (PP_TERMINAL_DEVICE_ERROR, PP_TERMINAL_DEVICE_ERROR_UNSUPPORTED,
                          _("The terminal does not support %s: its program may be too old"), step);
    case PP_STATUS_BAD_PAYLOAD:
      return g_error_new (PP_TERMINAL_DEVICE_ERROR, PP_TERMINAL_DEVICE_ERROR_PROTOCOL,
                          _("The terminal could not read the station's request (%s): %s"), step,
                          message != NULL ? message : "?");
    case PP_STATUS_REFUSED:
    default:
      if (command == PP_CMD_SIGN_ON)
        return sign_on_refused (reason, message != NULL ? message : _("no reason given"));
      pp_terminal_device_set_refused (&error, reason, _("The terminal refused %s: %s"), step,
                                      message != NULL ? message : _("no reason given"));
      return error;
    }
}

static GError *
malformed (const char   *step,
           const GError *why)
{
  return g_error_new (PP_TERMINAL_DEVICE_ERROR, PP_TERMINAL_DEVICE_ERROR_PROTOCOL,
                      _("The terminal's answer (%s) is malformed: %s"), step, why->message);
}

/* ---- one request, one answer ---------------------------------------------- */

typedef gpointer (*ParseFunc) (PpLinkTlvSet *set, GError **error);

typedef struct {
  guint8          command;
  const char     *step;      /* N_() */
  ParseFunc       parse;
  GDestroyNotify  free;
} Verb;

static void
on_answer (GObject      *source,
           GAsyncResult *result,
           gpointer      user_data)
{
  g_autoptr(GTask) task = user_data;
  PpLinkDevice *self = g_task_get_source_object (task);
  const Verb *verb = g_task_get_task_data (task);
  const char *step = _(verb->step);
  g_autoptr(GError) error = NULL;
  g_autoptr(GBytes) answer = NULL;
  g_autoptr(PpLinkTlvSet) set = NULL;
  guint8 status = PP_STATUS_OK;
  gpointer value;

  answer = pp_link_request_finish_any (self->link, result, &status, &error);
  if (answer == NULL)
    {
      pp_link_device_map_error (&error, step);
      g_task_return_error (task, g_steal_pointer (&error));
      return;
    }
  set = pp_link_tlv_parse (answer, &error);
  if (status != PP_STATUS_OK)
    {
      g_task_return_error (task, status_error (status, set, step, verb->command));
      return;
    }
  if (set == NULL)
    {
      g_task_return_error (task, malformed (step, error));
      return;
    }
  value = verb->parse (set, &error);
  if (value == NULL)
    g_task_return_error (task, malformed (step, error));
  else
    g_task_return_pointer (task, value, verb->free);
}

static void
request (PpTerminalDevice    *device,
         const Verb          *verb,
         GBytes              *payload,
         GCancellable        *cancellable,
         GAsyncReadyCallback  callback,
         gpointer             user_data)
{
  PpLinkDevice *self = PP_LINK_DEVICE (device);
  g_autoptr(GBytes) empty = NULL;
  GTask *task = g_task_new (self, cancellable, callback, user_data);

  g_task_set_source_tag (task, (gpointer) verb);
  g_task_set_task_data (task, (gpointer) verb, NULL);
  if (payload == NULL)
    payload = empty = g_bytes_new (NULL, 0);
  pp_link_request_async (self->link, verb->command, payload, cancellable, on_answer, task);
}

static gpointer
finish (PpTerminalDevice  *device,
        GAsyncResult      *result,
        const Verb        *verb,
        GError           **error)
{
  g_return_val_if_fail (g_task_is_valid (result, device), NULL);
  g_return_val_if_fail (g_task_get_source_tag (G_TASK (result)) == (gconstpointer) verb, NULL);
  return g_task_propagate_pointer (G_TASK (result), error);
}

static GBytes *
token_payload (GBytes *token)
{
  PpLinkTlvBuilder *builder = pp_link_tlv_builder_new ();

  pp_link_tlv_builder_add_bytes (builder, PP_TAG_TOKEN, token);
  return pp_link_tlv_builder_end (builder);
}

/* Parsers of the answers.  Boolean verbs return a non-NULL marker. */

static gpointer
parse_nothing (PpLinkTlvSet  *set,
               GError       **error)
{
  return GINT_TO_POINTER (1);
}

static gpointer
parse_token (PpLinkTlvSet  *set,
             GError       **error)
{
  return pp_link_tlv_dup_bytes (set, PP_TAG_TOKEN, error);
}

static gpointer
parse_csr (PpLinkTlvSet  *set,
           GError       **error)
{
  return pp_link_tlv_dup_bytes (set, PP_TAG_CSR, error);
}

static gpointer
parse_bound (PpLinkTlvSet  *set,
             GError       **error)
{
  return pp_link_tlv_dup_string (set, PP_TAG_BOUND_KDH, error);
}

static char *
optional_string (PpLinkTlvSet  *set,
                 guint8         tag,
                 gboolean      *ok,
                 GError       **error)
{
  if (!*ok || !pp_link_tlv_has (set, tag))
    return NULL;
  {
    char *text = pp_link_tlv_dup_string (set, tag, error);

    *ok = text != NULL;
    return text;
  }
}

static GPtrArray *parse_keys (const guint8 *data, gsize len, GError **error);

static gpointer
parse_info (PpLinkTlvSet  *set,
            GError       **error)
{
  g_autoptr(PpTerminalInfo) info = g_new0 (PpTerminalInfo, 1);
  guint8 version = 0, tamper = 0, has_cert = 0;
  gboolean ok = TRUE;
  const guint8 *keys;
  gsize keys_len = 0;

  if ((info->serial = pp_link_tlv_dup_string (set, PP_TAG_SERIAL, error)) == NULL ||
      !pp_link_tlv_get_u8 (set, PP_TAG_PROTOCOL_VERSION, &version, error) ||
      !pp_link_tlv_get_u32 (set, PP_TAG_CAPABILITIES, &info->capabilities, error) ||
      !pp_link_tlv_get_u8 (set, PP_TAG_TAMPER, &tamper, error) ||
      !pp_link_tlv_get_u8 (set, PP_TAG_HAS_CERT, &has_cert, error))
    return NULL;
  info->protocol_version = version;
  info->tampered = tamper != 0;
  info->has_cert = has_cert != 0;
  info->vendor = optional_string (set, PP_TAG_VENDOR, &ok, error);
  info->model = optional_string (set, PP_TAG_MODEL, &ok, error);
  info->firmware = optional_string (set, PP_TAG_FIRMWARE, &ok, error);
  info->bound_kdh = optional_string (set, PP_TAG_BOUND_KDH, &ok, error);
  info->program_name = optional_string (set, PP_TAG_PROGRAM_NAME, &ok, error);
  info->program_version = optional_string (set, PP_TAG_PROGRAM_VERSION, &ok, error);
  if (!ok)
    return NULL;
  if ((keys = pp_link_tlv_get (set, PP_TAG_KEYS, &keys_len)) != NULL &&
      (info->keys = parse_keys (keys, keys_len, error)) == NULL)
    return NULL;
  return g_steal_pointer (&info);
}

static gboolean
kcv_is_valid (const char  *kcv,
              GError     **error)
{
  if (kcv[0] == '\0' || strlen (kcv) > 64 || kcv[strspn (kcv, "0123456789ABCDEF")] != '\0')
    {
      g_set_error (error, PP_LINK_TLV_ERROR, PP_LINK_TLV_ERROR_BAD_VALUE,
                   _("the check value is not upper-case hex"));
      return FALSE;
    }
  return TRUE;
}

typedef struct {
  guint  slot;
  char  *kcv;
} Loaded;

static void
loaded_free (gpointer data)
{
  Loaded *loaded = data;

  g_free (loaded->kcv);
  g_free (loaded);
}

static gpointer
parse_loaded (PpLinkTlvSet  *set,
              GError       **error)
{
  g_autofree char *kcv = NULL;
  Loaded *loaded;
  guint8 slot = 0;

  if (!pp_link_tlv_get_u8 (set, PP_TAG_SLOT, &slot, error) ||
      (kcv = pp_link_tlv_dup_string (set, PP_TAG_KCV, error)) == NULL)
    return NULL;
  if (!kcv_is_valid (kcv, error))
    return NULL;
  loaded = g_new0 (Loaded, 1);
  loaded->slot = slot;
  loaded->kcv = g_steal_pointer (&kcv);
  return loaded;
}

typedef struct {
  char *pin_kcv;
  char *mac_kcv;
} SignedOn;

static void
signed_on_free (gpointer data)
{
  SignedOn *on = data;

  g_free (on->pin_kcv);
  g_free (on->mac_kcv);
  g_free (on);
}

static gpointer
parse_signed_on (PpLinkTlvSet  *set,
                 GError       **error)
{
  g_autofree char *pin_kcv = NULL;
  g_autofree char *mac_kcv = NULL;
  SignedOn *on;

  if ((pin_kcv = pp_link_tlv_dup_string (set, PP_TAG_KCV, error)) == NULL || !kcv_is_valid (pin_kcv, error))
    return NULL;
  /* A terminal of an older firmware reports only the PIN key's. */
  if (pp_link_tlv_has (set, PP_TAG_KCV_MAC) &&
      ((mac_kcv = pp_link_tlv_dup_string (set, PP_TAG_KCV_MAC, error)) == NULL || !kcv_is_valid (mac_kcv, error)))
    return NULL;
  on = g_new0 (SignedOn, 1);
  on->pin_kcv = g_steal_pointer (&pin_kcv);
  on->mac_kcv = g_steal_pointer (&mac_kcv);
  return on;
}

/* KEYS (IDENTIFY and STATUS): entries of slot (u8), flags (u8, bit 0
 * working), usage (2 ASCII characters), KCV length (u8) and the KCV. */
static GPtrArray *
parse_keys (const guint8  *data,
            gsize          len,
            GError       **error)
{
  g_autoptr(GPtrArray) keys = g_ptr_array_new_with_free_func ((GDestroyNotify) pp_terminal_key_free);
  gsize at = 0;

  while (at < len)
    {
      PpTerminalKey *key;
      g_autofree char *kcv = NULL;
      gsize kcv_len;

      if (len - at < 5 || len - at - 5 < (kcv_len = data[at + 4]))
        {
          g_set_error (error, PP_LINK_TLV_ERROR, PP_LINK_TLV_ERROR_BAD_VALUE, _("the key list is cut off"));
          return NULL;
        }
      if (!g_ascii_isalnum (data[at + 2]) || !g_ascii_isalnum (data[at + 3]))
        {
          g_set_error (error, PP_LINK_TLV_ERROR, PP_LINK_TLV_ERROR_BAD_VALUE, _("a key usage in the key list is not two letters or digits"));
          return NULL;
        }
      kcv = g_strndup ((const char *) data + at + 5, kcv_len);
      if (strlen (kcv) != kcv_len || !kcv_is_valid (kcv, error))
        {
          g_clear_error (error);
          g_set_error (error, PP_LINK_TLV_ERROR, PP_LINK_TLV_ERROR_BAD_VALUE,
                       _("a check value in the key list is not upper-case hex"));
          return NULL;
        }
      key = g_new0 (PpTerminalKey, 1);
      key->slot = data[at];
      key->working = (data[at + 1] & 1) != 0;
      key->usage = g_strndup ((const char *) data + at + 2, 2);
      key->kcv = g_steal_pointer (&kcv);
      g_ptr_array_add (keys, key);
      at += 5 + kcv_len;
    }
  return g_steal_pointer (&keys);
}

static gpointer
parse_status (PpLinkTlvSet  *set,
              GError       **error)
{
  g_autoptr(PpTerminalStatus) status = g_new0 (PpTerminalStatus, 1);
  guint8 tamper = 0, has_cert = 0;
  gboolean ok = TRUE;
  const guint8 *keys;
  gsize keys_len = 0;

  if (!pp_link_tlv_get_u8 (set, PP_TAG_TAMPER, &tamper, error) ||
      !pp_link_tlv_get_u8 (set, PP_TAG_HAS_CERT, &has_cert, error))
    return NULL;
  status->tampered = tamper != 0;
  status->has_cert = has_cert != 0;
  status->bound_kdh = optional_string (set, PP_TAG_BOUND_KDH, &ok, error);
  status->program_name = optional_string (set, PP_TAG_PROGRAM_NAME, &ok, error);
  status->program_version = optional_string (set, PP_TAG_PROGRAM_VERSION, &ok, error);
  status->summary = optional_string (set, PP_TAG_MESSAGE, &ok, error);
  if (!ok)
    return NULL;
  if ((keys = pp_link_tlv_get (set, PP_TAG_KEYS, &keys_len)) != NULL &&
      (status->keys = parse_keys (keys, keys_len, error)) == NULL)
    return NULL;
  return g_steal_pointer (&status);
}

static const Verb verb_identify = { PP_CMD_IDENTIFY, N_("identify"), parse_info, (GDestroyNotify) pp_terminal_info_free };
static const Verb verb_get_csr = { PP_CMD_GET_CSR, N_("certificate request"), parse_csr, (GDestroyNotify) g_bytes_unref };
static const Verb verb_put_cert = { PP_CMD_PUT_CERT, N_("device certificate"), parse_nothing, NULL };
static const Verb verb_get_ct_krd = { PP_CMD_GET_CT_KRD, N_("credential token CT_KRD"), parse_token, (GDestroyNotify) g_bytes_unref };
static const Verb verb_bind = { PP_CMD_BIND, N_("bind"), parse_bound, g_free };
static const Verb verb_get_nonce = { PP_CMD_GET_RT_KRD, N_("nonce RT_KRD"), parse_token, (GDestroyNotify) g_bytes_unref };
static const Verb verb_load_key = { PP_CMD_LOAD_KEY, N_("key load"), parse_loaded, loaded_free };
static const Verb verb_rebind = { PP_CMD_REBIND, N_("rebind"), parse_bound, g_free };
static const Verb verb_unbind = { PP_CMD_UNBIND, N_("unbind"), parse_nothing, NULL };
static const Verb verb_zeroize = { PP_CMD_ZEROIZE, N_("zeroize"), parse_nothing, NULL };
static const Verb verb_sign_on = { PP_CMD_SIGN_ON, N_("sign-on"), parse_signed_on, signed_on_free };
static const Verb verb_sign_off = { PP_CMD_SIGN_OFF, N_("sign-off"), parse_nothing, NULL };
static const Verb verb_status = { PP_CMD_STATUS, N_("status"), parse_status, (GDestroyNotify) pp_terminal_status_free };

/* ---- the verbs ------------------------------------------------------------ */

static void
device_identify_async (PpTerminalDevice *self, GCancellable *cancellable,
                       GAsyncReadyCallback callback, gpointer user_data)
{
  request (self, &verb_identify, NULL, cancellable, callback, user_data);
}

static PpTerminalInfo *
device_identify_finish (PpTerminalDevice *self, GAsyncResult *result, GError **error)
{
  return finish (self, result, &verb_identify, error);
}

static void
device_get_csr_async (PpTerminalDevice *self, GCancellable *cancellable,
                      GAsyncReadyCallback callback, gpointer user_data)
{
  request (self, &verb_get_csr, NULL, cancellable, callback, user_data);
}

static GBytes *
device_get_csr_finish (PpTerminalDevice *self, GAsyncResult *result, GError **error)
{
  return finish (self, result, &verb_get_csr, error);
}

static void
device_put_cert_async (PpTerminalDevice *self, GBytes *cert_der, GCancellable *cancellable,
                       GAsyncReadyCallback callback, gpointer user_data)
{
  PpLinkTlvBuilder *builder = pp_link_tlv_builder_new ();
  g_autoptr(GBytes) payload = NULL;

  pp_link_tlv_builder_add_bytes (builder, PP_TAG_CERT, cert_der);
  payload = pp_link_tlv_builder_end (builder);
  request (self, &verb_put_cert, payload, cancellable, callback, user_data);
}

static gboolean
device_put_cert_finish (PpTerminalDevice *self, GAsyncResult *result, GError **error)
{
  return finish (self, result, &verb_put_cert, error) != NULL;
}

static void
device_get_ct_krd_async (PpTerminalDevice *self, GCancellable *cancellable,
                         GAsyncReadyCallback callback, gpointer user_data)
{
  request (self, &verb_get_ct_krd, NULL, cancellable, callback, user_data);
}

static GBytes *
device_get_ct_krd_finish (PpTerminalDevice *self, GAsyncResult *result, GError **error)
{
  return finish (self, result, &verb_get_ct_krd, error);
}

static void
device_bind_async (PpTerminalDevice *self, GBytes *ct_kdh, GCancellable *cancellable,
                   GAsyncReadyCallback callback, gpointer user_data)
{
  g_autoptr(GBytes) payload = token_payload (ct_kdh);

  request (self, &verb_bind, payload, cancellable, callback, user_data);
}

static char *
device_bind_finish (PpTerminalDevice *self, GAsyncResult *result, GError **error)
{
  return finish (self, result, &verb_bind, error);
}

static void
device_get_nonce_async (PpTerminalDevice *self, GCancellable *cancellable,
                        GAsyncReadyCallback callback, gpointer user_data)
{
  request (self, &verb_get_nonce, NULL, cancellable, callback, user_data);
}

static GBytes *
device_get_nonce_finish (PpTerminalDevice *self, GAsyncResult *result, GError **error)
{
  return finish (self, result, &verb_get_nonce, error);
}

static void
device_load_key_async (PpTerminalDevice *self, GBytes *kt_kdh, int slot,
                       GCancellable *cancellable,
                       GAsyncReadyCallback callback, gpointer user_data)
{
  PpLinkTlvBuilder *builder = pp_link_tlv_builder_new ();
  g_autoptr(GBytes) payload = NULL;

  pp_link_tlv_builder_add_bytes (builder, PP_TAG_TOKEN, kt_kdh);
  if (slot >= 0)
    pp_link_tlv_builder_add_u8 (builder, PP_TAG_SLOT, (guint8) slot);
  payload = pp_link_tlv_builder_end (builder);
  request (self, &verb_load_key, payload, cancellable, callback, user_data);
}

static gboolean
device_load_key_finish (PpTerminalDevice *self, GAsyncResult *result,
                        guint *out_slot, char **out_kcv, GError **error)
{
  Loaded *loaded = finish (self, result, &verb_load_key, error);

  if (loaded == NULL)
    return FALSE;
  if (out_slot != NULL)
    *out_slot = loaded->slot;
  if (out_kcv != NULL)
    *out_kcv = g_steal_pointer (&loaded->kcv);
  loaded_free (loaded);
  return TRUE;
}

static void
device_rebind_async (PpTerminalDevice *self, GBytes *rbt_kdh, GCancellable *cancellable,
                     GAsyncReadyCallback callback, gpointer user_data)
{
  g_autoptr(GBytes) payload = token_payload (rbt_kdh);

  request (self, &verb_rebind, payload, cancellable, callback, user_data);
}

static char *
device_rebind_finish (PpTerminalDevice *self, GAsyncResult *result, GError **error)
{
  return finish (self, result, &verb_rebind, error);
}

static void
device_unbind_async (PpTerminalDevice *self, GBytes *ubt_kdh, GCancellable *cancellable,
                     GAsyncReadyCallback callback, gpointer user_data)
{
  g_autoptr(GBytes) payload = token_payload (ubt_kdh);

  request (self, &verb_unbind, payload, cancellable, callback, user_data);
}

static gboolean
device_unbind_finish (PpTerminalDevice *self, GAsyncResult *result, GError **error)
{
  return finish (self, result, &verb_unbind, error) != NULL;
}

static void
device_zeroize_async (PpTerminalDevice *self, GCancellable *cancellable,
                      GAsyncReadyCallback callback, gpointer user_data)
{
  request (self, &verb_zeroize, NULL, cancellable, callback, user_data);
}

static gboolean
device_zeroize_finish (PpTerminalDevice *self, GAsyncResult *result, GError **error)
{
  return finish (self, result, &verb_zeroize, error) != NULL;
}

/* ---- programs: BEGIN, BLOCKs with the window kept full, COMMIT ----------- */

/* Frame payload taken by a block's TLVs other than its data: OFFSET (3 + 8)
 * and the DATA TLV's header (3). */
#define BLOCK_OVERHEAD (11 + 3)

typedef struct {
  PpLink                       *link;
  PpProgramPackage             *package;
  PpTerminalDeviceProgressFunc  progress;
  gpointer                      progress_data;
  GCancellable                 *cancellable;   /* ours: cancelled on the first failure */
  GCancellable                 *outer;         /* the caller's */
  gulong                        outer_id;
  guint64                       total;
  guint64                       next;          /* next byte to queue */
  guint64                       confirmed;     /* bytes the terminal confirmed */
  guint64                       resumed_from;
  guint                         block_size;
  guint                         in_flight;     /* blocks queued on the link, no answer yet */
  guint                         max_in_flight;
  gboolean                      done;          /* the task has returned */
} Push;

static void
push_free (Push *push)
{
  if (push->outer_id != 0)
    g_cancellable_disconnect (push->outer, push->outer_id);
  g_clear_object (&push->outer);
  g_clear_object (&push->cancellable);
  g_clear_pointer (&push->package, pp_program_package_unref);
  g_clear_pointer (&push->link, pp_link_unref);
  g_free (push);
}

static void
on_outer_cancelled (GCancellable *outer,
                    gpointer      data)
{
  g_cancellable_cancel (G_CANCELLABLE (data));
}

/* The first failure ends the push: queued blocks are never sent (the
 * link drops cancelled requests still waiting for a window slot). */
static void
push_fail (GTask  *task,
           GError *error)
{
  Push *push = g_task_get_task_data (task);

  if (push->done)
    {
      g_error_free (error);
      return;
    }
  push->done = TRUE;
  g_cancellable_cancel (push->cancellable);
  g_task_return_error (task, error);
}

/* The answer's TLVs for an OK status, else the error a flow acts on. */
static PpLinkTlvSet *
push_answer (Push          *push,
             GAsyncResult  *result,
             const char    *step,
             guint8         command,
             GError       **error)
{
  g_autoptr(GBytes) answer = NULL;
  g_autoptr(PpLinkTlvSet) set = NULL;
  g_autoptr(GError) local = NULL;
  guint8 status = PP_STATUS_OK;

  answer = pp_link_request_finish_any (push->link, result, &status, &local);
  if (answer == NULL)
    {
      pp_link_device_map_error (&local, step);
      g_propagate_error (error, g_steal_pointer (&local));
      return NULL;
    }
  set = pp_link_tlv_parse (answer, &local);
  if (status != PP_STATUS_OK)
    {
      g_propagate_error (error, status_error (status, set, step, command));
      return NULL;
    }
  if (set == NULL)
    {
      g_propagate_error (error, malformed (step, local));
      return NULL;
    }
  return g_steal_pointer (&set);
}

static void push_fill (GTask *task);

static void
on_commit_answer (GObject      *source,
                  GAsyncResult *result,
                  gpointer      user_data)
{
  g_autoptr(GTask) task = user_data;
  Push *push = g_task_get_task_data (task);
  g_autoptr(PpLinkTlvSet) set = NULL;
  g_autoptr(GError) error = NULL;

  set = push_answer (push, result, _("program commit"), PP_CMD_PROGRAM_COMMIT, &error);
  if (set == NULL)
    {
      push_fail (task, g_steal_pointer (&error));
      return;
    }
  if (!push->done)
    {
      push->done = TRUE;
      g_task_return_boolean (task, TRUE);
    }
}

static void
push_commit (GTask *task)
{
  Push *push = g_task_get_task_data (task);
  PpLinkTlvBuilder *builder = pp_link_tlv_builder_new ();
  g_autoptr(GBytes) payload = NULL;

  pp_link_tlv_builder_add_bytes (builder, PP_TAG_MANIFEST, pp_program_package_get_manifest_bytes (push->package));
  pp_link_tlv_builder_add_bytes (builder, PP_TAG_SIGNATURE, pp_program_package_get_signature (push->package));
  pp_link_tlv_builder_add_bytes (builder, PP_TAG_CERT, pp_program_package_get_certificate (push->package));
  payload = pp_link_tlv_builder_end (builder);
  pp_link_request_async (push->link, PP_CMD_PROGRAM_COMMIT, payload, push->cancellable,
                         on_commit_answer, g_object_ref (task));
}

typedef struct {
  GTask   *task;
  guint64  end;     /* the block's end offset */
} BlockCall;

static void
on_block_answer (GObject      *source,
                 GAsyncResult *result,
                 gpointer      user_data)
{
  BlockCall *call = user_data;
  g_autoptr(GTask) task = call->task;
  Push *push = g_task_get_task_data (task);
  g_autoptr(PpLinkTlvSet) set = NULL;
  g_autoptr(GError) error = NULL;
  guint64 end = call->end, next = 0;

  g_free (call);
  push->in_flight--;
  set = push_answer (push, result, _("program block"), PP_CMD_PROGRAM_BLOCK, &error);
  if (set != NULL && !pp_link_tlv_get_u64 (set, PP_TAG_OFFSET, &next, &error))
    {
      g_autoptr(GError) why = g_steal_pointer (&error);

      error = malformed (_("program block"), why);
    }
  else if (set != NULL && (next < end || next > push->total))
    error = g_error_new (PP_TERMINAL_DEVICE_ERROR, PP_TERMINAL_DEVICE_ERROR_PROTOCOL,
                         _("The terminal confirmed %" PRIu64 " bytes of the program after a block "
                           "ending at %" PRIu64), next, end);
  if (error != NULL)
    {
      push_fail (task, g_steal_pointer (&error));
      return;
    }
  if (push->done)
    return;
  if (next > push->confirmed)
    {
      push->confirmed = next;
      if (push->progress != NULL)
        push->progress (push->confirmed, push->total, push->progress_data);
    }
  push_fill (task);
}

/* Queues blocks until a little more than the window is waiting, so the
 * link always has the next block when an answer frees a slot. */
static void
push_fill (GTask *task)
{
  Push *push = g_task_get_task_data (task);
  GBytes *data = pp_program_package_get_payload (push->package);

  while (!push->done && push->in_flight < push->max_in_flight && push->next < push->total)
    {
      guint64 len = MIN ((guint64) push->block_size, push->total - push->next);
      PpLinkTlvBuilder *builder = pp_link_tlv_builder_new ();
      g_autoptr(GBytes) block = g_bytes_new_from_bytes (data, (gsize) push->next, (gsize) len);
      g_autoptr(GBytes) payload = NULL;
      BlockCall *call = g_new0 (BlockCall, 1);

      pp_link_tlv_builder_add_u64 (builder, PP_TAG_OFFSET, push->next);
      pp_link_tlv_builder_add_bytes (builder, PP_TAG_DATA, block);
      payload = pp_link_tlv_builder_end (builder);
      push->next += len;
      push->in_flight++;
      call->task = g_object_ref (task);
      call->end = push->next;
      pp_link_request_async (push->link, PP_CMD_PROGRAM_BLOCK, payload, push->cancellable,
                             on_block_answer, call);
    }
  if (!push->done && push->in_flight == 0 && push->confirmed == push->total)
    push_commit (task);
}

static void
on_begin_answer (GObject      *source,
                 GAsyncResult *result,
                 gpointer      user_data)
{
  g_autoptr(GTask) task = user_data;
  Push *push = g_task_get_task_data (task);
  g_autoptr(PpLinkTlvSet) set = NULL;
  g_autoptr(GError) error = NULL;
  guint64 held = 0;

  set = push_answer (push, result, _("program start"), PP_CMD_PROGRAM_BEGIN, &error);
  if (set != NULL && !pp_link_tlv_get_u64 (set, PP_TAG_OFFSET, &held, &error))
    {
      g_autoptr(GError) why = g_steal_pointer (&error);

      error = malformed (_("program start"), why);
    }
  else if (set != NULL && held > push->total)
    error = g_error_new (PP_TERMINAL_DEVICE_ERROR, PP_TERMINAL_DEVICE_ERROR_PROTOCOL,
                         _("The terminal says it holds %" PRIu64 " bytes of a program of %" PRIu64),
                         held, push->total);
  if (error != NULL)
    {
      push_fail (task, g_steal_pointer (&error));
      return;
    }
  push->resumed_from = push->next = push->confirmed = held;
  if (push->progress != NULL)
    push->progress (push->confirmed, push->total, push->progress_data);
  push_fill (task);
}

static void
device_push_program_async (PpTerminalDevice             *device,
                           PpProgramPackage             *package,
                           PpTerminalDeviceProgressFunc  progress,
                           gpointer                      progress_data,
                           GCancellable                 *cancellable,
                           GAsyncReadyCallback           callback,
                           gpointer                      user_data)
{
  PpLinkDevice *self = PP_LINK_DEVICE (device);
  GTask *task = g_task_new (self, cancellable, callback, user_data);
  const PpProgramManifest *manifest = pp_program_package_get_manifest (package);
  PpLinkTlvBuilder *builder = pp_link_tlv_builder_new ();
  g_autoptr(GBytes) payload = NULL;
  g_autoptr(GBytes) sum = g_bytes_new (pp_program_package_get_payload_sha256 (package), 32);
  Push *push = g_new0 (Push, 1);
  guint max_payload = pp_link_get_max_payload (self->link);

  g_task_set_source_tag (task, device_push_program_async);
  push->link = pp_link_ref (self->link);
  push->package = pp_program_package_ref (package);
  push->progress = progress;
  push->progress_data = progress_data;
  push->cancellable = g_cancellable_new ();
  if (cancellable != NULL)
    {
      push->outer = g_object_ref (cancellable);
      push->outer_id = g_cancellable_connect (cancellable, G_CALLBACK (on_outer_cancelled),
                                              push->cancellable, NULL);
    }
  push->total = g_bytes_get_size (pp_program_package_get_payload (package));
  push->block_size = max_payload > BLOCK_OVERHEAD ? max_payload - BLOCK_OVERHEAD : 1;
  push->max_in_flight = 2 * MAX (pp_link_get_window (self->link), 1u);
  g_task_set_task_data (task, push, (GDestroyNotify) push_free);

  pp_link_tlv_builder_add_string (builder, PP_TAG_PROGRAM_NAME, pp_program_manifest_get_name (manifest));
  pp_link_tlv_builder_add_string (builder, PP_TAG_PROGRAM_VERSION, pp_program_manifest_get_version (manifest));
  pp_link_tlv_builder_add_u64 (builder, PP_TAG_SIZE, push->total);
  pp_link_tlv_builder_add_bytes (builder, PP_TAG_SHA256, sum);
  payload = pp_link_tlv_builder_end (builder);
  pp_link_request_async (push->link, PP_CMD_PROGRAM_BEGIN, payload, push->cancellable, on_begin_answer, task);
}

static gboolean
device_push_program_finish (PpTerminalDevice  *device,
                            GAsyncResult      *result,
                            guint64           *out_resumed_from,
                            GError           **error)
{
  Push *push;

  g_return_val_if_fail (g_task_is_valid (result, device), FALSE);
  g_return_val_if_fail (g_task_get_source_tag (G_TASK (result)) == device_push_program_async, FALSE);
  if (!g_task_propagate_boolean (G_TASK (result), error))
    return FALSE;
  push = g_task_get_task_data (G_TASK (result));
  if (out_resumed_from != NULL)
    *out_resumed_from = push->resumed_from;
  return TRUE;
}

static void
device_sign_on_async (PpTerminalDevice *self, guint32 operator_id, const char *password,
                      const char *pin_key_block, const char *mac_key_block,
                      GCancellable *cancellable,
                      GAsyncReadyCallback callback, gpointer user_data)
{
  PpLinkTlvBuilder *builder = pp_link_tlv_builder_new ();
  g_autoptr(GBytes) payload = NULL;

  pp_link_tlv_builder_add_u32 (builder, PP_TAG_OPERATOR, operator_id);
  pp_link_tlv_builder_add_string (builder, PP_TAG_PASSWORD, password);
  pp_link_tlv_builder_add_string (builder, PP_TAG_KEY_BLOCK, pin_key_block);
  pp_link_tlv_builder_add_string (builder, PP_TAG_KEY_BLOCK_MAC, mac_key_block);
  payload = pp_link_tlv_builder_end (builder);
  request (self, &verb_sign_on, payload, cancellable, callback, user_data);
}

static gboolean
device_sign_on_finish (PpTerminalDevice *self, GAsyncResult *result,
                       char **out_pin_kcv, char **out_mac_kcv, GError **error)
{
  SignedOn *on = finish (self, result, &verb_sign_on, error);

  if (on == NULL)
    return FALSE;
  if (out_pin_kcv != NULL)
    *out_pin_kcv = g_steal_pointer (&on->pin_kcv);
  if (out_mac_kcv != NULL)
    *out_mac_kcv = g_steal_pointer (&on->mac_kcv);
  signed_on_free (on);
  return TRUE;
}

static void
device_sign_off_async (PpTerminalDevice *self, GCancellable *cancellable,
                       GAsyncReadyCallback callback, gpointer user_data)
{
  request (self, &verb_sign_off, NULL, cancellable, callback, user_data);
}

static gboolean
device_sign_off_finish (PpTerminalDevice *self, GAsyncResult *result, GError **error)
{
  return finish (self, result, &verb_sign_off, error) != NULL;
}

static void
device_status_async (PpTerminalDevice *self, GCancellable *cancellable,
                     GAsyncReadyCallback callback, gpointer user_data)
{
  request (self, &verb_status, NULL, cancellable, callback, user_data);
}

static PpTerminalStatus *
device_status_finish (PpTerminalDevice *self, GAsyncResult *result, GError **error)
{
  return finish (self, result, &verb_status, error);
}

static void
pp_link_device_iface_init (PpTerminalDeviceInterface *iface)
{
  iface->identify_async = device_identify_async;
  iface->identify_finish = device_identify_finish;
  iface->get_csr_async = device_get_csr_async;
  iface->get_csr_finish = device_get_csr_finish;
  iface->put_cert_async = device_put_cert_async;
  iface->put_cert_finish = device_put_cert_finish;
  iface->get_ct_krd_async = device_get_ct_krd_async;
  iface->get_ct_krd_finish = device_get_ct_krd_finish;
  iface->bind_async = device_bind_async;
  iface->bind_finish = device_bind_finish;
  iface->get_nonce_async = device_get_nonce_async;
  iface->get_nonce_finish = device_get_nonce_finish;
  iface->load_key_async = device_load_key_async;
  iface->load_key_finish = device_load_key_finish;
  iface->rebind_async = device_rebind_async;
  iface->rebind_finish = device_rebind_finish;
  iface->unbind_async = device_unbind_async;
  iface->unbind_finish = device_unbind_finish;
  iface->zeroize_async = device_zeroize_async;
  iface->zeroize_finish = device_zeroize_finish;
  /* sign-on, status */
  iface->sign_on_async = device_sign_on_async;
  iface->sign_on_finish = device_sign_on_finish;
  iface->sign_off_async = device_sign_off_async;
  iface->sign_off_finish = device_sign_off_finish;
  iface->status_async = device_status_async;
  iface->status_finish = device_status_finish;
  /* programs */
  iface->push_program_async = device_push_program_async;
  iface->push_program_finish = device_push_program_finish;
}

/* ---- open: transport, then link ------------------------------------------- */

static void
on_connected (GObject      *source,
              GAsyncResult *result,
              gpointer      user_data)
{
  g_autoptr(GTask) task = user_data;
  PpLink *link = g_task_get_task_data (task);
  g_autoptr(GError) error = NULL;

  if (!pp_link_connect_finish (link, result, &error))
    {
      pp_link_device_map_error (&error, _("connect"));
      g_task_return_error (task, g_steal_pointer (&error));
      return;
    }
  g_task_return_pointer (task, pp_link_device_new (link), g_object_unref);
}

static void
on_opened (GObject      *source,
           GAsyncResult *result,
           gpointer      user_data)
{
  g_autoptr(GTask) task = user_data;
  g_autoptr(GError) error = NULL;
  g_autoptr(GIOStream) stream = pp_transport_open_finish (result, &error);
  PpLink *link;
  guint baud, bits_per_byte = 10;

  if (stream == NULL)
    {
      pp_link_device_map_error (&error, _("open the port"));
      g_task_return_error (task, g_steal_pointer (&error));
      return;
    }
  link = pp_link_new (stream, PP_LINK_ROLE_STATION);
  /* A serial line: the timers allow for a window's time on the wire. */
  baud = pp_transport_get_line_speed (stream, &bits_per_byte);
  pp_link_set_line_speed (link, baud, bits_per_byte);
  g_task_set_task_data (task, link, (GDestroyNotify) pp_link_unref);
  pp_link_connect_async (link, g_task_get_cancellable (task), on_connected, g_object_ref (task));
}

void
pp_link_device_open_async (const char              *port,
                           const PpSerialSettings  *settings,
                           GCancellable            *cancellable,
                           GAsyncReadyCallback      callback,
                           gpointer                 user_data)
{
  GTask *task = g_task_new (NULL, cancellable, callback, user_data);

  g_return_if_fail (port != NULL);
  g_task_set_source_tag (task, pp_link_device_open_async);
  pp_transport_open_async (port, settings, cancellable, on_opened, task);
}

PpLinkDevice *
pp_link_device_open_finish (GAsyncResult  *result,
                            GError       **error)
{
  g_return_val_if_fail (g_task_is_valid (result, NULL), NULL);
  return g_task_propagate_pointer (G_TASK (result), error);
}
