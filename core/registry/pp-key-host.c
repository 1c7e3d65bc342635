/* SPDX-License-Identifier: GPL-3.0-or-later
 *
 * pp-key-host.c: the key host (TR-34 KDH) and its release rules.
 */
#include "config.h"

#include <inttypes.h>
#include <string.h>

#include <glib/gi18n-lib.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/x509.h>

#include "pp-key-host-private.h"
#include "pp-openssl-types.h"
#include "pp-tr31.h"
#include "pp-tr34.h"

G_DEFINE_QUARK (pp-key-host-error-quark, pp_key_host_error)

static const char * const error_names[] = {
  [PP_KEY_HOST_ERROR_NO_APPROVAL] = "no_approval",
  [PP_KEY_HOST_ERROR_SELF_APPROVAL] = "self_approval",
  [PP_KEY_HOST_ERROR_APPROVER_ROLE] = "approver_role",
  [PP_KEY_HOST_ERROR_APPROVAL_VOID] = "approval_void",
  [PP_KEY_HOST_ERROR_CHAIN] = "chain",
  [PP_KEY_HOST_ERROR_EXPIRED] = "expired",
  [PP_KEY_HOST_ERROR_WRONG_SERIAL] = "wrong_serial",
  [PP_KEY_HOST_ERROR_NONCE_REUSED] = "nonce_reused",
  [PP_KEY_HOST_ERROR_STATE] = "state",
  [PP_KEY_HOST_ERROR_DUPLICATE_KEY] = "duplicate_key",
  [PP_KEY_HOST_ERROR_KCV_MISMATCH] = "kcv_mismatch",
  [PP_KEY_HOST_ERROR_BAD_TOKEN] = "bad_token",
  [PP_KEY_HOST_ERROR_CONFIG] = "config",
};

const char *
pp_key_host_error_to_string (PpKeyHostError code)
{
  if ((int) code < 0 || (gsize) code >= G_N_ELEMENTS (error_names))
    return NULL;
  return error_names[code];
}

struct _PpKeyHost
{
  gatomicrefcount ref_count;
  GMutex lock;            /* serialises every call: the store is one connection */
  PpStore *store;
  PpKeyStore *key_store;
  PpSigner *signer;
  X509 *kdh_cert;
  GBytes *kdh_cert_der;
  X509_CRL *crl;
  GBytes *crl_der;
  STACK_OF (X509) *ca_krd;
  PpSecureBuffer *fingerprint_key;
};

/* ---- set up ---- */

static X509 *
parse_cert (GBytes *der)
{
  gsize len = 0;
  const guint8 *p = g_bytes_get_data (der, &len);
  const guint8 *end = p;
  X509 *cert = p != NULL ? d2i_X509 (NULL, &end, (long) len) : NULL;

  if (cert != NULL && end != p + len)
    g_clear_pointer (&cert, X509_free);
  return cert;
}

/* The fingerprint key, made on first use, and checked against the check
 * value the store recorded when the first fingerprint was made. */
static PpSecureBuffer *
open_fingerprint_key (PpStore     *store,
                      PpKeyStore  *key_store,
                      GError     **error)
{
  g_autoptr(GError) local = NULL;
  g_autofree char *kcv = NULL;
  g_autofree char *recorded = NULL;
  PpTmkType type;
  PpSecureBuffer *key;

  kcv = pp_key_store_get_tmk_kcv (key_store, PP_KEY_HOST_FINGERPRINT_LABEL, &type, &local);
  if (kcv == NULL && g_error_matches (local, PP_KEYSTORE_ERROR, PP_KEYSTORE_ERROR_NOT_FOUND))
    {
      g_clear_error (&local);
      kcv = pp_key_store_generate_tmk (key_store, PP_KEY_HOST_FINGERPRINT_LABEL, PP_TMK_AES_256, NULL,
                                       &local);
      type = PP_TMK_AES_256;
      if (kcv == NULL && g_error_matches (local, PP_KEYSTORE_ERROR, PP_KEYSTORE_ERROR_EXISTS))
        {
          g_clear_error (&local);
          kcv = pp_key_store_get_tmk_kcv (key_store, PP_KEY_HOST_FINGERPRINT_LABEL, &type, &local);
        }
    }
  if (kcv == NULL)
    {
      g_set_error (error, PP_KEY_HOST_ERROR, PP_KEY_HOST_ERROR_CONFIG,
                   _("The key host cannot use its fingerprint key “%s” in the key store: %s"),
                   PP_KEY_HOST_FINGERPRINT_LABEL, local->message);
      return NULL;
    }
  recorded = pp_store_claim_key_host_fingerprint_kcv (store, kcv, &local);
  if (recorded == NULL)
    {
      g_set_error (error, PP_KEY_HOST_ERROR, PP_KEY_HOST_ERROR_CONFIG,
                   _("The key host cannot record its fingerprint key: %s"), local->message);
      return NULL;
    }
  if (type != PP_TMK_AES_256 || !pp_kcv_equal (recorded, kcv))
    {
      g_set_error (error, PP_KEY_HOST_ERROR, PP_KEY_HOST_ERROR_CONFIG,
                   _("The key store's fingerprint key “%s” is not the one the registry's key "
                     "fingerprints were made with (check value %s, expected %s): this is "
                     "another key store; open the key host with its own"),
                   PP_KEY_HOST_FINGERPRINT_LABEL, kcv, recorded);
      return NULL;
    }
  key = pp_key_store_export_tmk (key_store, PP_KEY_HOST_FINGERPRINT_LABEL, NULL, &local);
  if (key == NULL)
    g_set_error (error, PP_KEY_HOST_ERROR, PP_KEY_HOST_ERROR_CONFIG,
                 _("The key host cannot use its fingerprint key “%s” in the key store: %s"),
                 PP_KEY_HOST_FINGERPRINT_LABEL, local->message);
  return key;
}

static void
key_host_free (PpKeyHost *self)
{
  g_clear_object (&self->store);
  g_clear_object (&self->key_store);
  g_clear_pointer (&self->signer, pp_signer_unref);
  g_clear_pointer (&self->kdh_cert, X509_free);
  g_clear_pointer (&self->kdh_cert_der, g_bytes_unref);
  g_clear_pointer (&self->crl, X509_CRL_free);
  g_clear_pointer (&self->crl_der, g_bytes_unref);
  if (self->ca_krd != NULL)
    sk_X509_pop_free (self->ca_krd, X509_free);
  g_clear_pointer (&self->fingerprint_key, pp_secure_buffer_free);
  g_mutex_clear (&self->lock);
  g_free (self);
}

PpKeyHost *
pp_key_host_new (PpStore     *store,
                 PpKeyStore  *key_store,
                 GError     **error)
{
  g_autoptr(PpKeyHostConfig) config = NULL;
  g_autoptr(GError) local = NULL;
  g_autoptr(EVP_PKEY) pub = NULL;
  PpKeyHost *self;
  EVP_PKEY *cert_key;

  g_return_val_if_fail (PP_IS_STORE (store), NULL);
  g_return_val_if_fail (PP_IS_KEY_STORE (key_store), NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  config = pp_store_get_key_host_config (store, &local);
  if (config == NULL)
    {
      g_set_error (error, PP_KEY_HOST_ERROR, PP_KEY_HOST_ERROR_CONFIG,
                   _("The key host has no configuration: %s"), local->message);
      return NULL;
    }

  self = g_new0 (PpKeyHost, 1);
  g_atomic_ref_count_init (&self->ref_count);
  g_mutex_init (&self->lock);
  self->store = g_object_ref (store);
  self->key_store = g_object_ref (key_store);
  self->kdh_cert_der = g_bytes_ref (config->kdh_certificate);
  self->kdh_cert = parse_cert (config->kdh_certificate);
  if (self->kdh_cert == NULL)
    {
      g_set_error_literal (error, PP_KEY_HOST_ERROR, PP_KEY_HOST_ERROR_CONFIG,
                           _("The key host's KDH certificate does not parse"));
      goto fail;
    }
  if (config->kdh_crl != NULL)
    {
      gsize len = 0;
      const guint8 *p = g_bytes_get_data (config->kdh_crl, &len);

      self->crl_der = g_bytes_ref (config->kdh_crl);
      self->crl = p != NULL ? d2i_X509_CRL (NULL, &p, (long) len) : NULL;
      if (self->crl == NULL)
        {
          g_set_error_literal (error, PP_KEY_HOST_ERROR, PP_KEY_HOST_ERROR_CONFIG,
                               _("The key host's CA_KDH CRL does not parse"));
          goto fail;
        }
    }
  self->ca_krd = sk_X509_new_null ();
  for (guint i = 0; i < config->ca_krd->len; i++)
    {
      X509 *ca = parse_cert (g_ptr_array_index (config->ca_krd, i));

      if (ca == NULL || sk_X509_push (self->ca_krd, ca) <= 0)
        {
          X509_free (ca);
          g_set_error_literal (error, PP_KEY_HOST_ERROR, PP_KEY_HOST_ERROR_CONFIG,
                               _("A CA_KRD certificate of the key host does not parse"));
          goto fail;
        }
    }
  if (sk_X509_num (self->ca_krd) == 0)
    {
      g_set_error_literal (error, PP_KEY_HOST_ERROR, PP_KEY_HOST_ERROR_CONFIG,
                           _("The key host has no CA_KRD certificate to check terminals against"));
      goto fail;
    }

  self->signer = pp_key_store_get_signer (key_store, config->kdh_key_label, &local);
  pub = self->signer != NULL ? pp_signer_dup_public_key (self->signer, &local) : NULL;
  if (pub == NULL)
    {
      g_set_error (error, PP_KEY_HOST_ERROR, PP_KEY_HOST_ERROR_CONFIG,
                   _("The key host cannot use its KDH key “%s”: %s"), config->kdh_key_label,
                   local->message);
      goto fail;
    }
  cert_key = X509_get0_pubkey (self->kdh_cert);
  if (cert_key == NULL || EVP_PKEY_eq (cert_key, pub) != 1)
    {
      g_set_error (error, PP_KEY_HOST_ERROR, PP_KEY_HOST_ERROR_CONFIG,
                   _("The KDH key “%s” in the key store does not match the KDH certificate"),
                   config->kdh_key_label);
      goto fail;
    }

  self->fingerprint_key = open_fingerprint_key (store, key_store, error);
  if (self->fingerprint_key == NULL)
    goto fail;
  return self;

fail:
  key_host_free (self);
  return NULL;
}

PpKeyHost *
pp_key_host_ref (PpKeyHost *self)
{
  g_return_val_if_fail (self != NULL, NULL);
  g_atomic_ref_count_inc (&self->ref_count);
  return self;
}

void
pp_key_host_unref (PpKeyHost *self)
{
  g_return_if_fail (self != NULL);
  if (g_atomic_ref_count_dec (&self->ref_count))
    key_host_free (self);
}

GBytes *
pp_key_host_get_certificate (PpKeyHost *self)
{
  g_return_val_if_fail (self != NULL, NULL);
  return g_bytes_ref (self->kdh_cert_der);
}

GBytes *
pp_key_host_get_crl (PpKeyHost *self)
{
  g_return_val_if_fail (self != NULL, NULL);
  return self->crl_der != NULL ? g_bytes_ref (self->crl_der) : NULL;
}

/* ---- refusals ---- */

/* What one call is about, for its journal entries. */
typedef struct {
  const char *step;        /* "ct_kdh", "key_token", "kcv" */
  const char *actor;
  gint64 order_id;
  PpWorkOrder *order;      /* once read */
} Call;

static void
call_clear (Call *call)
{
  g_clear_pointer (&call->order, pp_work_order_free);
}

G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (Call, call_clear)

static JsonNode *
call_detail (const Call *call)
{
  JsonObject *o = json_object_new ();
  JsonNode *node = json_node_new (JSON_NODE_OBJECT);

  json_object_set_int_member (o, "order", call->order_id);
  json_object_set_string_member (o, "step", call->step);
  if (call->order != NULL)
    {
      json_object_set_string_member (o, "serial", call->order->serial);
      json_object_set_string_member (o, "state", pp_work_order_state_to_string (call->order->state));
    }
  json_node_take_object (node, o);
  return node;
}

/* Journals the failure in *error as keyhost.refused, with its code (the key
 * host's, or the domain and code of another library's error). If the entry
 * cannot be written the message says so; the code stays. Returns NULL/FALSE
 * for the caller to return. */
static gpointer
refused (PpKeyHost  *self,
         const Call *call,
         GError    **error)
{
  g_autoptr(GError) journal_error = NULL;
  JsonNode *detail = call_detail (call);
  JsonObject *o = json_node_get_object (detail);
  const GError *e = error != NULL ? *error : NULL;

  if (e != NULL && e->domain == PP_KEY_HOST_ERROR)
    json_object_set_string_member (o, "code", pp_key_host_error_to_string (e->code));
  else if (e != NULL)
    {
      json_object_set_string_member (o, "code", "other");
      json_object_set_string_member (o, "domain", g_quark_to_string (e->domain));
      json_object_set_int_member (o, "error", e->code);
    }
  if (!pp_store_journal_key_host (self->store, call->actor, "keyhost.refused", call->order_id,
                                  detail, &journal_error) &&
      error != NULL && *error != NULL)
    {
      g_autofree char *message = g_strdup_printf (_("%s; recording this in the journal failed too: %s"),
                                                  (*error)->message, journal_error->message);

      g_free ((*error)->message);
      (*error)->message = g_steal_pointer (&message);
    }
  return NULL;
}

/* A store error of a step, in the key host's terms where it has one. */
static void
map_store_error (GError **error)
{
  GError *e = error != NULL ? *error : NULL;

  if (e == NULL || e->domain != PP_STORE_ERROR)
    return;
  if (e->code == PP_STORE_ERROR_APPROVAL_VOID)
    e->domain = PP_KEY_HOST_ERROR, e->code = PP_KEY_HOST_ERROR_APPROVAL_VOID;
  else if (e->code == PP_STORE_ERROR_ILLEGAL_TRANSITION)
    e->domain = PP_KEY_HOST_ERROR, e->code = PP_KEY_HOST_ERROR_STATE;
  else if (e->code == PP_STORE_ERROR_KCV_MISMATCH)
    e->domain = PP_KEY_HOST_ERROR, e->code = PP_KEY_HOST_ERROR_KCV_MISMATCH;
}

/* The actor may run orders: a field manager or an administrator. */
static gboolean
check_runner (PpKeyHost   *self,
              const Call  *call,
              GError     **error)
{
  g_autoptr(PpUser) user = NULL;
  g_autoptr(GError) local = NULL;

  user = pp_store_get_user (self->store, call->actor, &local);
  if (user == NULL && !g_error_matches (local, PP_STORE_ERROR, PP_STORE_ERROR_NOT_FOUND))
    {
      g_propagate_error (error, g_steal_pointer (&local));
      return FALSE;
    }
  if (user == NULL || (user->role != PP_USER_ROLE_FIELD_MANAGER && user->role != PP_USER_ROLE_ADMINISTRATOR))
    {
      g_set_error (error, PP_STORE_ERROR, PP_STORE_ERROR_PERMISSION,
                   _("“%s” may not load keys for install work order %" PRId64 "; only a "
                     "field manager or administrator of the registry may"),
                   call->actor, call->order_id);
      return FALSE;
    }
  return TRUE;
}

/* The order of @call, an approved install order whose approval is a
 * reviewer's (not the requester's) and still holds. */
static gboolean check_reviewer_approval (PpKeyHost *self, Call *call, GError **error);

static gboolean
check_order_released (PpKeyHost  *self,
                      Call       *call,
                      GError    **error)
{
  PpWorkOrder *order;

  if (!check_runner (self, call, error))
    return FALSE;
  call->order = pp_store_get_order (self->store, call->order_id, error);
  if (call->order == NULL)
    return FALSE;
  order = call->order;
  if (order->kind != PP_WORK_ORDER_KIND_INSTALL)
    {
      g_set_error (error, PP_KEY_HOST_ERROR, PP_KEY_HOST_ERROR_STATE,
                   _("Work order %" PRId64 " is a recycle order: no key is released for it"), order->id);
      return FALSE;
    }
  if (order->state == PP_WORK_ORDER_STATE_OPEN)
    {
      g_set_error (error, PP_KEY_HOST_ERROR, PP_KEY_HOST_ERROR_NO_APPROVAL,
                   _("Install work order %" PRId64 " is not approved yet: a reviewer must "
                     "approve it before its key is released"), order->id);
      return FALSE;
    }
  if (order->state != PP_WORK_ORDER_STATE_APPROVED)
    {
      g_set_error (error, PP_KEY_HOST_ERROR, PP_KEY_HOST_ERROR_STATE,
                   _("Install work order %" PRId64 " is %s; a key is released only for an "
                     "approved order"), order->id, pp_work_order_state_get_label (order->state));
      return FALSE;
    }
  return check_reviewer_approval (self, call, error);
}

/* The approval of @call's approved order (install or recycle) is a
 * reviewer's, not the requester's, and still holds. */
static gboolean
check_reviewer_approval (PpKeyHost  *self,
                         Call       *call,
                         GError    **error)
{
  g_autoptr(GPtrArray) approvals = NULL;
  g_autoptr(PpUser) approver = NULL;
  g_autoptr(GError) local = NULL;
  PpApproval *approval = NULL;
  PpWorkOrder *order = call->order;
  const char *kind = pp_work_order_kind_to_string (order->kind);

  approvals = pp_store_list_approvals (self->store, order->id, error);
  if (approvals == NULL)
    return FALSE;
  for (guint i = approvals->len; i > 0 && approval == NULL; i--)
    if (((PpApproval *) g_ptr_array_index (approvals, i - 1))->approved)
      approval = g_ptr_array_index (approvals, i - 1);
  if (approval == NULL)
    {
      g_set_error (error, PP_KEY_HOST_ERROR, PP_KEY_HOST_ERROR_NO_APPROVAL,
                   _("The %s work order %" PRId64 " has no approval on record"), kind, order->id);
      return FALSE;
    }
  /* Four eyes, checked again at the release: the data may have come from
   * elsewhere, and roles change after approvals. */
  if (g_ascii_strcasecmp (approval->approver, order->requester) == 0 ||
      g_ascii_strcasecmp (approval->approver, approval->requester) == 0)
    {
      g_set_error (error, PP_KEY_HOST_ERROR, PP_KEY_HOST_ERROR_SELF_APPROVAL,
                   _("The %s work order %" PRId64 " was approved by %s, who requested it: "
                     "a second person must approve it"), kind, order->id, approval->approver);
      return FALSE;
    }
  approver = pp_store_get_user (self->store, approval->approver, &local);
  if (approver == NULL && !g_error_matches (local, PP_STORE_ERROR, PP_STORE_ERROR_NOT_FOUND))
    {
      g_propagate_error (error, g_steal_pointer (&local));
      return FALSE;
    }
  if (approver == NULL || approver->role != PP_USER_ROLE_REVIEWER)
    {
      g_set_error (error, PP_KEY_HOST_ERROR, PP_KEY_HOST_ERROR_APPROVER_ROLE,
                   _("The %s work order %" PRId64 " was approved by %s, who is not a reviewer "
                     "(any more): a reviewer must approve it again"), kind, order->id, approval->approver);
      return FALSE;
    }
  /* The digest of what was approved against the order and terminal now;
   * a difference voids the approval for good (the store journals that). */
  if (!pp_store_check_order_approval (self->store, order->id, call->actor, NULL, error))
    {
      map_store_error (error);
      return FALSE;
    }
  return TRUE;
}

/* ---- CT_KDH ---- */

static PpTr34Kdh *
make_kdh (PpKeyHost     *self,
          PpTr34Profile  profile)
{
  PpTr34Kdh *kdh = pp_tr34_kdh_new (self->kdh_cert, (PpTr34SignFunc) pp_signer_sign,
                                    pp_signer_ref (self->signer), (GDestroyNotify) pp_signer_unref);

  if (self->crl != NULL)
    pp_tr34_kdh_set_crl (kdh, self->crl);
  pp_tr34_kdh_set_profile (kdh, profile);
  return kdh;
}

GBytes *
pp_key_host_issue_ct_kdh (PpKeyHost   *self,
                          gint64       order_id,
                          const char  *actor,
                          GError     **error)
{
  g_autoptr(GMutexLocker) locker = NULL;
  g_auto(Call) call = { "ct_kdh", actor, order_id, NULL };
  g_autoptr(PpTr34Kdh) kdh = NULL;
  g_autoptr(GBytes) token = NULL;
  g_autoptr(GError) local = NULL;

  g_return_val_if_fail (self != NULL, NULL);
  g_return_val_if_fail (actor != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  locker = g_mutex_locker_new (&self->lock);
  if (!check_order_released (self, &call, error))
    return refused (self, &call, error);
  kdh = make_kdh (self, PP_TR34_PROFILE_STRICT);
  token = pp_tr34_kdh_build_credential_token (kdh, &local);
  if (token == NULL)
    {
      g_set_error (error, PP_KEY_HOST_ERROR, PP_KEY_HOST_ERROR_CONFIG,
                   _("The key host cannot build its CT_KDH: %s"), local->message);
      return refused (self, &call, error);
    }
  if (!pp_store_journal_key_host (self->store, actor, "keyhost.ct_kdh", order_id, call_detail (&call), error))
    return NULL;
  return g_steal_pointer (&token);
}

/* ---- KT_KDH ---- */

static char *
cert_fingerprint (X509 *cert)
{
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  GString *hex = g_string_new (NULL);

  if (X509_digest (cert, EVP_sha256 (), md, &len) != 1)
    return g_string_free (hex, TRUE);
  for (unsigned int i = 0; i < len; i++)
    g_string_append_printf (hex, "%02X", md[i]);
  return g_string_free (hex, FALSE);
}

/* The terminal's CT_KRD, checked now against CA_KRD and @serial: the
 * certificate, or NULL with the key host's code in @out_code and the reason
 * in @error (a caller words the refusal). */
static X509 *
receive_ct_krd (PpKeyHost       *self,
                const char      *serial,
                GBytes          *ct_krd,
                PpKeyHostError  *out_code,
                GError         **error)
{
  gsize len = 0;
  const guint8 *p = ct_krd != NULL ? g_bytes_get_data (ct_krd, &len) : NULL;
  X509 *cert;

  if (p == NULL || len == 0)
    {
      *out_code = PP_KEY_HOST_ERROR_BAD_TOKEN;
      g_set_error_literal (error, PP_KEY_HOST_ERROR, PP_KEY_HOST_ERROR_BAD_TOKEN,
                           _("The terminal's CT_KRD is empty"));
      return NULL;
    }
  cert = pp_tr34_kdh_receive_krd_credential (p, len, self->ca_krd, serial, NULL, error);
  if (cert == NULL)
    switch ((*error)->domain == PP_TR34_ERROR ? (*error)->code : -1)
      {
      case PP_TR34_ERROR_CERT_EXPIRED:
      case PP_TR34_ERROR_CERT_NOT_YET_VALID:
        *out_code = PP_KEY_HOST_ERROR_EXPIRED;
        break;
      case PP_TR34_ERROR_RECIPIENT_MISMATCH:
        *out_code = PP_KEY_HOST_ERROR_WRONG_SERIAL;
        break;
      case PP_TR34_ERROR_CERT_UNTRUSTED:
      case PP_TR34_ERROR_CERT_INVALID:
      case PP_TR34_ERROR_UNSUPPORTED:
        *out_code = PP_KEY_HOST_ERROR_CHAIN;
        break;
      default:
        *out_code = PP_KEY_HOST_ERROR_BAD_TOKEN;
        break;
      }
  return cert;
}

/* The terminal's CT_KRD, checked now against CA_KRD and the order. */
static X509 *
check_ct_krd (PpKeyHost          *self,
              const PpWorkOrder  *order,
              GBytes             *ct_krd,
              GError            **error)
{
  g_autoptr(GError) local = NULL;
  g_autofree char *fingerprint = NULL;
  g_autoptr(X509) cert = NULL;
  PpKeyHostError code = PP_KEY_HOST_ERROR_BAD_TOKEN;

  cert = receive_ct_krd (self, order->serial, ct_krd, &code, &local);
  if (cert == NULL)
    {
      if (local->domain == PP_KEY_HOST_ERROR)
        g_propagate_error (error, g_steal_pointer (&local));
      else
        g_set_error (error, PP_KEY_HOST_ERROR, code,
                     _("The terminal's CT_KRD for install work order %" PRId64 " is refused: %s"),
                     order->id, local->message);
      return NULL;
    }
  /* The approval is for the certificate on record: a key goes to no other. */
  fingerprint = cert_fingerprint (cert);
  if (order->cert_fingerprint == NULL || strlen (fingerprint) != strlen (order->cert_fingerprint) ||
      g_ascii_strcasecmp (fingerprint, order->cert_fingerprint) != 0)
    {
      g_set_error (error, PP_KEY_HOST_ERROR, PP_KEY_HOST_ERROR_APPROVAL_VOID,
                   _("The terminal's CT_KRD carries a certificate other than the one install work "
                     "order %" PRId64 " was approved for (SHA-256 %s)"), order->id, fingerprint);
      return NULL;
    }
  return g_steal_pointer (&cert);
}

static GBytes *
parse_rt_krd (GBytes  *rt_krd,
              GError **error)
{
  g_autoptr(PpTr34Token) token = NULL;
  g_autoptr(GError) local = NULL;
  gsize len = 0;
  const guint8 *p = rt_krd != NULL ? g_bytes_get_data (rt_krd, &len) : NULL;
  GBytes *nonce;

  token = p != NULL && len > 0 ? pp_tr34_token_parse (p, len, &local) : NULL;
  if (token == NULL || pp_tr34_token_get_kind (token) != PP_TR34_TOKEN_RT_KRD)
    {
      g_set_error (error, PP_KEY_HOST_ERROR, PP_KEY_HOST_ERROR_BAD_TOKEN,
                   _("The terminal's RT_KRD is not a TR-34 random token: %s"),
                   local != NULL ? local->message
                                 : token != NULL ? pp_tr34_token_type_to_string (pp_tr34_token_get_kind (token))
                                                 : _("it is empty"));
      return NULL;
    }
  /* Borrowed from the token. */
  nonce = pp_tr34_token_get_nonce (token);
  if (nonce == NULL || g_bytes_get_size (nonce) == 0)
    {
      g_set_error_literal (error, PP_KEY_HOST_ERROR, PP_KEY_HOST_ERROR_BAD_TOKEN,
                           _("The terminal's RT_KRD carries no nonce"));
      return NULL;
    }
  return g_bytes_ref (nonce);
}

static const char *
key_block_header (PpTmkType type)
{
  /* TR-31: K0 (key-encryption key), TDES or AES, both ways. */
  return type == PP_TMK_AES_128 || type == PP_TMK_AES_256 ? "D0256K0AB00E0000" : "A0256K0TB00E0000";
}

/* HMAC-SHA-256 (fingerprint key, "posprov tmk fingerprint 1" 0x00 || key),
 * lower-case hex. The key type is left out: the same bytes are the same key. */
static char *
key_fingerprint (PpKeyHost            *self,
                 const PpSecureBuffer *key)
{
  static const char context[] = "posprov tmk fingerprint 1";
  g_autoptr(EVP_MAC) mac = EVP_MAC_fetch (NULL, "HMAC", NULL);
  g_autoptr(EVP_MAC_CTX) ctx = mac != NULL ? EVP_MAC_CTX_new (mac) : NULL;
  OSSL_PARAM params[] = {
    OSSL_PARAM_construct_utf8_string ("digest", (char *) "SHA256", 0),
    OSSL_PARAM_construct_end (),
  };
  guint8 out[32];
  gsize out_len = 0;
  GString *hex;

  if (ctx == NULL ||
      EVP_MAC_init (ctx, pp_secure_buffer_peek (self->fingerprint_key),
                    pp_secure_buffer_get_len (self->fingerprint_key), params) != 1 ||
      EVP_MAC_update (ctx, (const guint8 *) context, sizeof context) != 1 ||
      EVP_MAC_update (ctx, pp_secure_buffer_peek (key), pp_secure_buffer_get_len (key)) != 1 ||
      EVP_MAC_final (ctx, out, &out_len, sizeof out) != 1 || out_len != sizeof out)
    return NULL;
  hex = g_string_sized_new (64);
  for (gsize i = 0; i < out_len; i++)
    g_string_append_printf (hex, "%02x", out[i]);
  return g_string_free (hex, FALSE);
}

/* A fresh label for the TMK of @order: the order, the terminal, a random tag. */
static char *
tmk_label (const PpWorkOrder *order)
{
  g_autoptr(GString) label = g_string_new (NULL);

  g_string_append_printf (label, "tmk-o%" G_GINT64_FORMAT "-", order->id);
  for (const char *p = order->serial; *p != '\0' && label->len < 40; p++)
    g_string_append_c (label, g_ascii_isalnum (*p) ? *p : '_');
  g_string_append_printf (label, "-%08x%08x", g_random_int (), g_random_int ());
  return g_string_free (g_steal_pointer (&label), FALSE);
}

GBytes *
pp_key_host_issue_key_token_with_tmk (PpKeyHost   *self,
                                      gint64       order_id,
                                      GBytes      *ct_krd,
                                      GBytes      *rt_krd,
                                      const char  *existing_label,
                                      const char  *actor,
                                      GError     **error)
{
  g_autoptr(GMutexLocker) locker = NULL;
  g_auto(Call) call = { "key_token", actor, order_id, NULL };
  g_autoptr(X509) krd = NULL;
  g_autoptr(GBytes) nonce = NULL;
  g_autoptr(PpSecureBuffer) tmk = NULL;
  g_autoptr(PpTerminal) terminal = NULL;
  g_autoptr(PpTr34Kdh) kdh = NULL;
  g_autoptr(GBytes) token = NULL;
  g_autoptr(GError) local = NULL;
  g_autofree char *label = NULL;
  g_autofree char *kcv = NULL;
  g_autofree char *fingerprint = NULL;
  g_autofree char *profile_name = NULL;
  PpKeyReleaseConflict conflict = PP_KEY_RELEASE_OK;
  PpTr34Profile profile = PP_TR34_PROFILE_STRICT;
  PpTmkType type;

  g_return_val_if_fail (self != NULL, NULL);
  g_return_val_if_fail (actor != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  locker = g_mutex_locker_new (&self->lock);
  /* Everything about the order and the terminal is checked before a key exists. */
  if (!check_order_released (self, &call, error) ||
      (krd = check_ct_krd (self, call.order, ct_krd, error)) == NULL ||
      (nonce = parse_rt_krd (rt_krd, error)) == NULL ||
      !pp_store_key_release_conflict (self->store, call.order->serial, nonce, NULL, &conflict, error))
    return refused (self, &call, error);
  if (conflict == PP_KEY_RELEASE_NONCE_USED)
    {
      g_set_error (error, PP_KEY_HOST_ERROR, PP_KEY_HOST_ERROR_NONCE_REUSED,
                   _("Terminal %s's RT_KRD repeats a nonce a key token was made for before: "
                     "a replayed request; ask the terminal for a new RT_KRD"), call.order->serial);
      return refused (self, &call, error);
    }
  terminal = pp_store_get_terminal (self->store, call.order->serial, error);
  if (terminal == NULL ||
      (profile_name = pp_store_get_key_host_profile (self->store, pp_terminal_get_model (terminal), error)) == NULL)
    return refused (self, &call, error);
  if (!pp_tr34_profile_from_string (profile_name, &profile, &local))
    {
      g_set_error (error, PP_KEY_HOST_ERROR, PP_KEY_HOST_ERROR_CONFIG,
                   _("The TR-34 profile of terminal model “%s” is unknown: %s"),
                   pp_terminal_get_model (terminal), local->message);
      return refused (self, &call, error);
    }

  if (existing_label != NULL)
    label = g_strdup (existing_label);
  else
    {
      label = tmk_label (call.order);
      kcv = pp_key_store_generate_tmk (self->key_store, label, call.order->key_type, NULL, error);
      if (kcv == NULL)
        return refused (self, &call, error);
    }
  tmk = pp_key_store_export_tmk (self->key_store, label, &type, error);
  if (tmk == NULL)
    return refused (self, &call, error);
  fingerprint = key_fingerprint (self, tmk);
  if (fingerprint == NULL)
    {
      g_set_error_literal (error, PP_KEY_HOST_ERROR, PP_KEY_HOST_ERROR_CONFIG,
                           _("Cannot compute the key fingerprint (OpenSSL failed)"));
      return refused (self, &call, error);
    }
  if (!pp_store_key_release_conflict (self->store, NULL, NULL, fingerprint, &conflict, error))
    return refused (self, &call, error);
  if (conflict == PP_KEY_RELEASE_DUPLICATE_KEY)
    {
      g_set_error (error, PP_KEY_HOST_ERROR, PP_KEY_HOST_ERROR_DUPLICATE_KEY,
                   _("The key “%s” for install work order %" PRId64 " equals a key released "
                     "before: every terminal must get its own key; nothing was released"),
                   label, order_id);
      return refused (self, &call, error);
    }

  kdh = make_kdh (self, profile);
  token = pp_tr34_kdh_build_key_token (kdh, krd, tmk, key_block_header (type), PP_TR34_EPHEMERAL_AES128,
                                       nonce, NULL, &local);
  g_clear_pointer (&tmk, pp_secure_buffer_free);
  if (token == NULL)
    {
      g_set_error (error, PP_KEY_HOST_ERROR, PP_KEY_HOST_ERROR_CONFIG,
                   _("The key host cannot build the key token: %s"), local->message);
      return refused (self, &call, error);
    }
  /* The token leaves only once its release (expected KCV, nonce, fingerprint)
   * is on record, and the store checks nonce and fingerprint again inside
   * that transaction against a request that raced this one. */
  if (!pp_store_order_key_released_full (self->store, order_id, self->key_store, label, nonce, fingerprint,
                                         actor, &conflict, error))
    {
      if (conflict != PP_KEY_RELEASE_OK)
        {
          (*error)->domain = PP_KEY_HOST_ERROR;
          (*error)->code = conflict == PP_KEY_RELEASE_NONCE_USED ? PP_KEY_HOST_ERROR_NONCE_REUSED
                                                                 : PP_KEY_HOST_ERROR_DUPLICATE_KEY;
        }
      else
        map_store_error (error);
      return refused (self, &call, error);
    }
  return g_steal_pointer (&token);
}

GBytes *
pp_key_host_issue_key_token (PpKeyHost   *self,
                             gint64       order_id,
                             GBytes      *ct_krd,
                             GBytes      *rt_krd,
                             const char  *actor,
                             GError     **error)
{
  return pp_key_host_issue_key_token_with_tmk (self, order_id, ct_krd, rt_krd, NULL, actor, error);
}

/* ---- KCV ---- */

gboolean
pp_key_host_confirm_kcv (PpKeyHost   *self,
                         gint64       order_id,
                         const char  *kcv,
                         const char  *actor,
                         GError     **error)
{
  g_autoptr(GMutexLocker) locker = NULL;
  g_auto(Call) call = { "kcv", actor, order_id, NULL };

  g_return_val_if_fail (self != NULL, FALSE);
  g_return_val_if_fail (actor != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  locker = g_mutex_locker_new (&self->lock);
  if (!check_runner (self, &call, error) ||
      (call.order = pp_store_get_order (self->store, order_id, error)) == NULL)
    return GPOINTER_TO_INT (refused (self, &call, error));
  if (call.order->kind != PP_WORK_ORDER_KIND_INSTALL || call.order->state != PP_WORK_ORDER_STATE_APPROVED ||
      call.order->expected_kcv == NULL)
    {
      g_set_error (error, PP_KEY_HOST_ERROR, PP_KEY_HOST_ERROR_STATE,
                   call.order->state == PP_WORK_ORDER_STATE_APPROVED
                     ? _("No key was released for install work order %" PRId64 " yet: there is no "
                         "check value to compare")
                     : _("Work order %" PRId64 " is not an approved install order waiting for its key"),
                   order_id);
      return GPOINTER_TO_INT (refused (self, &call, error));
    }
  /* The store compares with the check value it recorded at release
   * (CRYPTO_memcmp) and journals a mismatch as order.kcv_mismatch. */
  if (kcv == NULL || !pp_store_order_keyed (self->store, order_id, kcv, actor, error))
    {
      if (kcv == NULL)
        g_set_error_literal (error, PP_KEY_HOST_ERROR, PP_KEY_HOST_ERROR_KCV_MISMATCH,
                             _("The terminal reported no key check value"));
      map_store_error (error);
      return GPOINTER_TO_INT (refused (self, &call, error));
    }
  return TRUE;
}

/* ---- the sign-on test's working keys ---- */

gboolean
pp_key_host_issue_sign_on_keys (PpKeyHost   *self,
                                gint64       order_id,
                                const char  *actor,
                                char       **out_pin_block,
                                char       **out_mac_block,
                                char       **out_pin_kcv,
                                char       **out_mac_kcv,
                                GError     **error)
{
  g_autoptr(GMutexLocker) locker = NULL;
  g_auto(Call) call = { "sign_on_keys", actor, order_id, NULL };
  g_autoptr(PpSecureBuffer) tmk = NULL;
  g_autofree char *pin_block = NULL, *mac_block = NULL, *pin_kcv = NULL, *mac_kcv = NULL;
  PpKeyAlgorithm algorithm;
  JsonNode *detail;
  PpTmkType type;

  g_return_val_if_fail (self != NULL, FALSE);
  g_return_val_if_fail (actor != NULL, FALSE);
  g_return_val_if_fail (out_pin_block != NULL && out_mac_block != NULL, FALSE);
  g_return_val_if_fail (out_pin_kcv != NULL && out_mac_kcv != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  locker = g_mutex_locker_new (&self->lock);
  if (!check_runner (self, &call, error) ||
      (call.order = pp_store_get_order (self->store, order_id, error)) == NULL)
    return GPOINTER_TO_INT (refused (self, &call, error));
  if (call.order->kind != PP_WORK_ORDER_KIND_INSTALL || call.order->key_label == NULL ||
      (call.order->state != PP_WORK_ORDER_STATE_KEYED &&
       call.order->state != PP_WORK_ORDER_STATE_PROGRAM_INSTALLED))
    {
      g_set_error (error, PP_KEY_HOST_ERROR, PP_KEY_HOST_ERROR_STATE,
                   _("Work order %" PRId64 " is not a keyed install order: the sign-on test "
                     "needs the terminal's key loaded and confirmed first"), order_id);
      return GPOINTER_TO_INT (refused (self, &call, error));
    }
  /* The working keys live only here, wrapped under the TMK, and are
   * never recorded; the check values go to the journal. */
  tmk = pp_key_store_export_tmk (self->key_store, call.order->key_label, &type, error);
  if (tmk == NULL)
    return GPOINTER_TO_INT (refused (self, &call, error));
  algorithm = type == PP_TMK_AES_128 || type == PP_TMK_AES_256 ? PP_KEY_ALGORITHM_AES : PP_KEY_ALGORITHM_TDES;
  if ((pin_block = pp_tr31_wrap_fresh_key (tmk, algorithm, pp_tr31_sign_on_header (algorithm, FALSE),
                                           &pin_kcv, error)) == NULL ||
      (mac_block = pp_tr31_wrap_fresh_key (tmk, algorithm, pp_tr31_sign_on_header (algorithm, TRUE),
                                           &mac_kcv, error)) == NULL)
    return GPOINTER_TO_INT (refused (self, &call, error));
  g_clear_pointer (&tmk, pp_secure_buffer_free);
  detail = call_detail (&call);
  json_object_set_string_member (json_node_get_object (detail), "pin_kcv", pin_kcv);
  json_object_set_string_member (json_node_get_object (detail), "mac_kcv", mac_kcv);
  if (!pp_store_journal_key_host (self->store, actor, "keyhost.sign_on_keys", order_id, detail, error))
    return FALSE;
  *out_pin_block = g_steal_pointer (&pin_block);
  *out_mac_block = g_steal_pointer (&mac_block);
  *out_pin_kcv = g_steal_pointer (&pin_kcv);
  *out_mac_kcv = g_steal_pointer (&mac_kcv);
  return TRUE;
}

/* ---- UBT_KDH ---- */

GBytes *
pp_key_host_issue_unbind_token (PpKeyHost   *self,
                                gint64       order_id,
                                GBytes      *ct_krd,
                                GBytes      *rt_krd,
                                const char  *actor,
                                GError     **error)
{
  g_autoptr(GMutexLocker) locker = NULL;
  g_auto(Call) call = { "ubt_kdh", actor, order_id, NULL };
  g_autoptr(X509) krd = NULL;
  g_autoptr(GBytes) nonce = NULL;
  g_autoptr(PpTr34Kdh) kdh = NULL;
  g_autoptr(GBytes) token = NULL;
  g_autoptr(GError) local = NULL;
  PpKeyHostError code = PP_KEY_HOST_ERROR_BAD_TOKEN;

  g_return_val_if_fail (self != NULL, NULL);
  g_return_val_if_fail (actor != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  locker = g_mutex_locker_new (&self->lock);
  if (!check_runner (self, &call, error) ||
      (call.order = pp_store_get_order (self->store, order_id, error)) == NULL)
    return refused (self, &call, error);
  if (call.order->kind != PP_WORK_ORDER_KIND_RECYCLE ||
      (call.order->state != PP_WORK_ORDER_STATE_OPEN && call.order->state != PP_WORK_ORDER_STATE_APPROVED))
    {
      g_set_error (error, PP_KEY_HOST_ERROR, PP_KEY_HOST_ERROR_STATE,
                   _("Work order %" PRId64 " is not an open recycle order: a terminal is released "
                     "from the key host only to be recycled"), order_id);
      return refused (self, &call, error);
    }
  /* Four eyes: releasing a terminal from the key host needs a reviewer's
   * approval of its recycle order, as a key release does. */
  if (call.order->state == PP_WORK_ORDER_STATE_OPEN)
    {
      g_set_error (error, PP_KEY_HOST_ERROR, PP_KEY_HOST_ERROR_NO_APPROVAL,
                   _("Recycle work order %" PRId64 " is not approved yet: a reviewer must approve "
                     "it before the key host releases terminal %s"), order_id, call.order->serial);
      return refused (self, &call, error);
    }
  if (!check_reviewer_approval (self, &call, error))
    return refused (self, &call, error);
  krd = receive_ct_krd (self, call.order->serial, ct_krd, &code, &local);
  if (krd == NULL)
    {
      g_set_error (error, PP_KEY_HOST_ERROR, code,
                   _("The terminal's CT_KRD for recycle work order %" PRId64 " is refused: %s"),
                   order_id, local->message);
      return refused (self, &call, error);
    }
  if ((nonce = parse_rt_krd (rt_krd, error)) == NULL)
    return refused (self, &call, error);
  kdh = make_kdh (self, PP_TR34_PROFILE_STRICT);
  token = pp_tr34_kdh_build_unbind_token (kdh, krd, nonce, &local);
  if (token == NULL)
    {
      g_set_error (error, PP_KEY_HOST_ERROR, PP_KEY_HOST_ERROR_CONFIG,
                   _("The key host cannot build the unbind token: %s"), local->message);
      return refused (self, &call, error);
    }
  if (!pp_store_journal_key_host (self->store, actor, "keyhost.ubt_kdh", order_id, call_detail (&call), error))
    return NULL;
  return g_steal_pointer (&token);
}
