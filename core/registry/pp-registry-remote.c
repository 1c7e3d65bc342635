/* SPDX-License-Identifier: GPL-3.0-or-later
 *
 * pp-registry-remote.c: PpRegistry over HTTPS + JSON to posprov-registry.
 *
 * Each verb is a Call (method, path, JSON body, idempotency key and how to
 * read the answer) carried by the verb's GTask. A Call without a token
 * waits for the one login in flight (every call that arrives meanwhile
 * waits on the same one); a 401 clears the token and logs in again, once
 * per call. A network failure (no answer read) sends the call again, up to
 * MAX_ATTEMPTS times, with the same Idempotency-Key: the registry answers a
 * repeat of a mutating request with its first result, so a request whose
 * answer was lost on the way back does not act twice.
 *
 * The server's certificate: with an anchor the session has no TLS database,
 * so every handshake asks accept-certificate, which accepts the pinned
 * certificate itself or a chain that verifies against the anchor for the
 * URL's host, and nothing else; without one the system database verifies
 * and accept-certificate (only asked on a failure) refuses.
 */
#include "config.h"

#include <string.h>

#include <glib/gi18n-lib.h>
#include <libsoup/soup.h>
#include <openssl/crypto.h>

#include "pp-registry-remote.h"

#define MAX_ATTEMPTS 3
#define RETRY_DELAY_MS 300
#define READ_CHUNK (64 * 1024)
#define IO_TIMEOUT_S 60

struct _PpRegistryRemote
{
  GObject parent_instance;

  char *url;               /* as configured, for messages */
  GUri *base;              /* its path ends in '/' */
  char *user;              /* lower case, as the store keeps names */
  char *password;          /* wiped in finalize */
  GTlsCertificate *anchor;
  SoupSession *session;
  char *token;             /* NULL: not logged in; wiped when dropped */
  gboolean logging_in;
  GPtrArray *waiting;      /* GTask: calls waiting for the login in flight */
};

static void pp_registry_remote_iface_init (PpRegistryInterface *iface);

G_DEFINE_FINAL_TYPE_WITH_CODE (PpRegistryRemote, pp_registry_remote, G_TYPE_OBJECT,
                               G_IMPLEMENT_INTERFACE (PP_TYPE_REGISTRY, pp_registry_remote_iface_init))

static void
wipe_string (char *s)
{
  if (s == NULL)
    return;
  OPENSSL_cleanse (s, strlen (s));
  g_free (s);
}

static void
pp_registry_remote_finalize (GObject *object)
{
  PpRegistryRemote *self = PP_REGISTRY_REMOTE (object);

  /* Every waiting call holds the registry: none is left here. */
  g_ptr_array_unref (self->waiting);
  g_clear_object (&self->session);
  g_clear_object (&self->anchor);
  g_clear_pointer (&self->token, wipe_string);
  g_clear_pointer (&self->password, wipe_string);
  g_free (self->user);
  g_clear_pointer (&self->base, g_uri_unref);
  g_free (self->url);

  G_OBJECT_CLASS (pp_registry_remote_parent_class)->finalize (object);
}

static void
pp_registry_remote_class_init (PpRegistryRemoteClass *klass)
{
  G_OBJECT_CLASS (klass)->finalize = pp_registry_remote_finalize;
}

static void
pp_registry_remote_init (PpRegistryRemote *self)
{
  self->waiting = g_ptr_array_new_with_free_func (g_object_unref);
}

PpRegistry *
pp_registry_remote_new (const char       *url,
                        const char       *user,
                        const char       *password,
                        GTlsCertificate  *anchor,
                        GError          **error)
{
  g_autoptr(PpRegistryRemote) self = NULL;
  g_autoptr(GUri) uri = NULL;
  g_autoptr(GError) local = NULL;
  g_autofree char *path = NULL;

  g_return_val_if_fail (url != NULL, NULL);
  g_return_val_if_fail (user != NULL, NULL);
  g_return_val_if_fail (password != NULL, NULL);
  g_return_val_if_fail (anchor == NULL || G_IS_TLS_CERTIFICATE (anchor), NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  uri = g_uri_parse (url, SOUP_HTTP_URI_FLAGS, &local);
  if (uri == NULL)
    {
      g_set_error (error, PP_REGISTRY_ERROR, PP_REGISTRY_ERROR_INVALID,
                   _("the registry URL “%s” cannot be read: %s"), url, local->message);
      return NULL;
    }
  if (g_ascii_strcasecmp (g_uri_get_scheme (uri), "https") != 0 ||
      g_uri_get_host (uri) == NULL || *g_uri_get_host (uri) == '\0')
    {
      g_set_error (error, PP_REGISTRY_ERROR, PP_REGISTRY_ERROR_INVALID,
                   _("the registry URL “%s” must be an https:// address with a host, such as "
                     "https://registry.example.com:8443"), url);
      return NULL;
    }
  if (g_uri_get_query (uri) != NULL || g_uri_get_fragment (uri) != NULL ||
      g_uri_get_userinfo (uri) != NULL)
    {
      g_set_error (error, PP_REGISTRY_ERROR, PP_REGISTRY_ERROR_INVALID,
                   _("the registry URL “%s” must not carry a user, a query or a fragment"), url);
      return NULL;
    }
  if (*user == '\0')
    {
      g_set_error_literal (error, PP_REGISTRY_ERROR, PP_REGISTRY_ERROR_INVALID,
                           _("the registry needs the name of the user the station works as"));
      return NULL;
    }

  self = g_object_new (PP_TYPE_REGISTRY_REMOTE, NULL);
  self->url = g_strdup (url);
  path = g_str_has_suffix (g_uri_get_path (uri), "/") ? g_strdup (g_uri_get_path (uri))
                                                      : g_strconcat (g_uri_get_path (uri), "/", NULL);
  self->base = g_uri_build (SOUP_HTTP_URI_FLAGS, "https", NULL, g_uri_get_host (uri),
                            g_uri_get_port (uri), path, NULL, NULL);
  self->user = g_ascii_strdown (user, -1);
  self->password = g_strdup (password);
  self->anchor = anchor != NULL ? g_object_ref (anchor) : NULL;
  self->session = soup_session_new_with_options ("timeout", IO_TIMEOUT_S,
                                                 "idle-timeout", IO_TIMEOUT_S,
                                                 "user-agent", "posprov/" PACKAGE_VERSION " ",
                                                 NULL);
  /* With an anchor, nothing the system trusts is trusted: every handshake
   * comes to accept_certificate. */
  if (anchor != NULL)
    soup_session_set_tls_database (self->session, NULL);
  return PP_REGISTRY (g_steal_pointer (&self));
}

const char *
pp_registry_remote_get_url (PpRegistryRemote *self)
{
  g_return_val_if_fail (PP_IS_REGISTRY_REMOTE (self), NULL);
  return self->url;
}

const char *
pp_registry_remote_get_user (PpRegistryRemote *self)
{
  g_return_val_if_fail (PP_IS_REGISTRY_REMOTE (self), NULL);
  return self->user;
}

GTlsCertificate *
pp_registry_remote_load_anchor (const char  *pem_path,
                                GError     **error)
{
  g_autoptr(GError) local = NULL;
  GTlsCertificate *cert;

  g_return_val_if_fail (pem_path != NULL, NULL);

  cert = g_tls_certificate_new_from_file (pem_path, &local);
  if (cert == NULL)
    g_set_error (error, PP_REGISTRY_ERROR, PP_REGISTRY_ERROR_INVALID,
                 _("the registry's CA or pinned certificate cannot be read from %s: %s"),
                 pem_path, local->message);
  return cert;
}

/* ---- calls ---- */

typedef struct _Call Call;
/* Reads a 2xx answer (@node: its JSON, NULL for an empty body) and returns
 * the task's result; FALSE with @error when the answer is not what the
 * verb expects. */
typedef gboolean (*ReplyFunc) (GTask *task, Call *call, JsonNode *node, GError **error);
typedef gpointer (*DecodeFunc) (JsonNode *node, GError **error);

struct _Call
{
  const char *method;
  char *path;              /* relative to the base: api/v1/... and its query */
  GBytes *body;            /* JSON (or @content_type's), or NULL */
  const char *content_type; /* the body's, NULL: application/json */
  char *key;               /* Idempotency-Key, or NULL */
  ReplyFunc reply;
  ReplyFunc not_found;     /* reads a 404 instead of failing (lookup), or NULL */
  DecodeFunc decode;       /* for list and record replies */
  GDestroyNotify item_free;
  const char *member;      /* the answer's member the reply reads, or NULL */
  char *serial;            /* lookup: the serial asked about */
  gboolean login;          /* POST /sessions itself */
  gboolean secret;         /* the answer holds a secret: wiped */

  guint attempts;
  gboolean logged_in_again;
  char *token;             /* the token the request went with */
  SoupMessage *msg;
  GInputStream *stream;
  GByteArray *data;
  GTlsCertificateFlags refused;  /* why the server's certificate was refused; 0: it was not */
};

static void
wipe_data (Call *call)
{
  if (call->data != NULL && call->secret)
    OPENSSL_cleanse (call->data->data, call->data->len);
  g_clear_pointer (&call->data, g_byte_array_unref);
}

static void
call_free (Call *call)
{
  g_free (call->path);
  g_clear_pointer (&call->body, g_bytes_unref);
  g_free (call->key);
  g_free (call->serial);
  g_clear_pointer (&call->token, wipe_string);
  g_clear_object (&call->msg);
  g_clear_object (&call->stream);
  wipe_data (call);
  g_free (call);
}

/* Wipes a request body that held a password. */
static void
wipe_bytes (gpointer data)
{
  OPENSSL_cleanse (data, strlen (data));
  g_free (data);
}

static GBytes *
json_bytes (JsonNode *node)
{
  g_autoptr(JsonNode) owned = node;
  char *text = json_to_string (owned, FALSE);

  return g_bytes_new_take (text, strlen (text));
}

static JsonNode *
empty_object (void)
{
  JsonNode *node = json_node_new (JSON_NODE_OBJECT);

  json_node_take_object (node, json_object_new ());
  return node;
}

/* A body that holds a password: its text is wiped when the body goes. */
static GBytes *
secret_body (JsonBuilder *b)
{
  g_autoptr(JsonNode) node = json_builder_get_root (b);
  char *text = json_to_string (node, FALSE);

  return g_bytes_new_with_free_func (text, strlen (text), wipe_bytes, text);
}

static Call *
call_new (const char *method,
          char       *path,
          JsonNode   *body,
          const char *key,
          ReplyFunc   reply)
{
  Call *call = g_new0 (Call, 1);

  call->method = method;
  call->path = path;
  call->body = body != NULL ? json_bytes (body) : NULL;
  call->key = g_strdup (key);
  call->reply = reply;
  return call;
}

static char *
esc (const char *segment)
{
  return g_uri_escape_string (segment, NULL, FALSE);
}

/* Appends ?name=value or &name=value (@value NULL: nothing). */
static void
add_query (GString    *path,
           const char *name,
           const char *value)
{
  g_autofree char *v = NULL;

  if (value == NULL)
    return;
  v = esc (value);
  g_string_append_printf (path, "%c%s=%s", strchr (path->str, '?') != NULL ? '&' : '?', name, v);
}

static void
add_query_int (GString    *path,
               const char *name,
               gint64      value)
{
  char text[32];

  g_snprintf (text, sizeof text, "%" G_GINT64_FORMAT, value);
  add_query (path, name, text);
}

static void call_start (GTask *task);
static void call_send  (GTask *task);

/* The message a field manager can act on when the registry cannot be reached. */
static void
return_unreachable (GTask  *task,
                    GError *cause)
{
  PpRegistryRemote *self = g_task_get_source_object (task);

  g_task_return_new_error (task, PP_REGISTRY_ERROR, PP_REGISTRY_ERROR_UNAVAILABLE,
                           /* Translators: the URL, then the network's reason */
                           _("the registry at %s cannot be reached: %s; check the network or work "
                             "offline"), self->url, cause->message);
}

static char *
describe_refusal (GTlsCertificateFlags flags,
                  gboolean             has_anchor)
{
  g_autoptr(GString) why = g_string_new (NULL);

#define WHY(text) g_string_append_printf (why, "%s%s", why->len > 0 ? "; " : "", text)
  if (has_anchor && (flags & G_TLS_CERTIFICATE_UNKNOWN_CA))
    WHY (_("it is neither the pinned certificate nor issued by the configured CA"));
  else if (flags & G_TLS_CERTIFICATE_UNKNOWN_CA)
    WHY (_("it is not issued by a CA this system trusts"));
  if (flags & G_TLS_CERTIFICATE_BAD_IDENTITY)
    WHY (_("it is for another host name or address"));
  if (flags & G_TLS_CERTIFICATE_NOT_ACTIVATED)
    WHY (_("it is not valid yet"));
  if (flags & G_TLS_CERTIFICATE_EXPIRED)
    WHY (_("it has expired"));
  if (flags & G_TLS_CERTIFICATE_REVOKED)
    WHY (_("it has been revoked"));
  if (flags & G_TLS_CERTIFICATE_INSECURE)
    WHY (_("it uses an insecure algorithm"));
  if (why->len == 0)
    WHY (_("it cannot be verified"));
#undef WHY
  return g_string_free (g_steal_pointer (&why), FALSE);
}

static void
return_untrusted (GTask *task,
                  Call  *call)
{
  PpRegistryRemote *self = g_task_get_source_object (task);
  g_autofree char *why = describe_refusal (call->refused, self->anchor != NULL);

  g_task_return_new_error (task, PP_REGISTRY_ERROR, PP_REGISTRY_ERROR_UNTRUSTED,
                           /* Translators: the URL, then why the certificate is refused */
                           _("the registry at %s presented a certificate this station does not "
                             "trust (%s), so the connection was refused; check the registry's "
                             "address and the CA or pinned certificate configured for it"),
                           self->url, why);
}

static gboolean
accept_certificate (SoupMessage          *msg,
                    GTlsCertificate      *peer,
                    GTlsCertificateFlags  errors,
                    gpointer              data)
{
  GTask *task = data;
  PpRegistryRemote *self = g_task_get_source_object (task);
  Call *call = g_task_get_task_data (task);
  g_autoptr(GSocketConnectable) identity = NULL;
  GTlsCertificateFlags flags;

  if (self->anchor == NULL)
    {
      /* The system's CAs said no (this is only asked on a failure). */
      call->refused = errors != 0 ? errors : G_TLS_CERTIFICATE_GENERIC_ERROR;
      return FALSE;
    }
  /* Pinned: exactly this certificate. */
  if (g_tls_certificate_is_same (peer, self->anchor))
    return TRUE;
  identity = g_network_address_new (g_uri_get_host (self->base),
                                    (guint16) (g_uri_get_port (self->base) > 0 ? g_uri_get_port (self->base)
                                                                             : 443));
  flags = g_tls_certificate_verify (peer, identity, self->anchor);
  if (flags == 0)
    return TRUE;
  call->refused = flags;
  return FALSE;
}

static gboolean
resend (gpointer data)
{
  call_start (data);
  return G_SOURCE_REMOVE;
}

/* The request got no answer: a TLS refusal, cancellation, or a network
 * fault, which is tried again with the same key. */
static void
send_failed (GTask  *task,
             GError *error)
{
  g_autoptr(GError) owned = error;
  Call *call = g_task_get_task_data (task);
  g_autoptr(GSource) timer = NULL;

  g_clear_object (&call->msg);
  g_clear_object (&call->stream);
  if (g_error_matches (owned, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    {
      g_task_return_error (task, g_steal_pointer (&owned));
      return;
    }
  if (call->refused != 0)
    {
      return_untrusted (task, call);
      return;
    }
  if (++call->attempts >= MAX_ATTEMPTS)
    {
      return_unreachable (task, owned);
      return;
    }
  g_debug ("registry: %s %s failed (%s), sending it again", call->method, call->path, owned->message);
  timer = g_timeout_source_new (RETRY_DELAY_MS * call->attempts);
  g_source_set_callback (timer, resend, g_object_ref (task), g_object_unref);
  g_source_attach (timer, g_task_get_context (task));
}

/* ---- answers ---- */

static int
code_for_status (guint status)
{
  switch (status)
    {
    case SOUP_STATUS_NOT_FOUND:
      return PP_REGISTRY_ERROR_NOT_FOUND;
    case SOUP_STATUS_CONFLICT:
      return PP_REGISTRY_ERROR_CONFLICT;
    case SOUP_STATUS_UNAUTHORIZED:
    case SOUP_STATUS_FORBIDDEN:
    case 429:   /* too many failed sign-ins */
      return PP_REGISTRY_ERROR_PERMISSION;
    case SOUP_STATUS_BAD_REQUEST:
    case SOUP_STATUS_REQUEST_ENTITY_TOO_LARGE:
    case SOUP_STATUS_UNPROCESSABLE_ENTITY:
      return PP_REGISTRY_ERROR_INVALID;
    case SOUP_STATUS_BAD_GATEWAY:
    case SOUP_STATUS_SERVICE_UNAVAILABLE:
    case SOUP_STATUS_GATEWAY_TIMEOUT:
      return PP_REGISTRY_ERROR_UNAVAILABLE;
    default:
      return PP_REGISTRY_ERROR_FAILED;
    }
}

/* An error answer: {"error":{"code","message"}} with the server's message,
 * or, from something that is not the registry, its HTTP status. */
static GError *
error_from_answer (PpRegistryRemote *self,
                   guint             status,
                   const char       *reason,
                   JsonNode         *node)
{
  JsonObject *object = node != NULL && JSON_NODE_HOLDS_OBJECT (node) ? json_node_get_object (node) : NULL;
  JsonNode *inner = object != NULL ? json_object_get_member (object, "error") : NULL;
  const char *name = NULL;
  const char *message = NULL;
  int code;

  if (inner != NULL && JSON_NODE_HOLDS_OBJECT (inner))
    {
      JsonObject *e = json_node_get_object (inner);

      name = json_object_get_string_member_with_default (e, "code", NULL);
      message = json_object_get_string_member_with_default (e, "message", NULL);
    }
  code = pp_registry_error_code_from_string (name);
  /* An authentication failure has no code of the seam: the login's. */
  if (code < 0 || code == PP_REGISTRY_ERROR_CANCELLED || code == PP_REGISTRY_ERROR_UNTRUSTED)
    code = code_for_status (status);
  if (message != NULL && *message != '\0')
    return g_error_new_literal (PP_REGISTRY_ERROR, code, message);
  return g_error_new (PP_REGISTRY_ERROR, code,
                      /* Translators: "the registry at https://... answered HTTP 502 Bad Gateway" */
                      _("the registry at %s answered HTTP %u %s"), self->url, status,
                      reason != NULL ? reason : "");
}

static void
answered (GTask *task)
{
  PpRegistryRemote *self = g_task_get_source_object (task);
  Call *call = g_task_get_task_data (task);
  guint status = soup_message_get_status (call->msg);
  g_autofree char *reason = g_strdup (soup_message_get_reason_phrase (call->msg));
  g_autoptr(JsonParser) parser = json_parser_new_immutable ();
  g_autoptr(GError) error = NULL;
  JsonNode *root = NULL;
  gboolean parsed = FALSE;

  g_clear_object (&call->msg);
  g_clear_object (&call->stream);

  /* The token expired or was revoked: log in again, once, and repeat. */
  if (status == SOUP_STATUS_UNAUTHORIZED && !call->login && !call->logged_in_again)
    {
      call->logged_in_again = TRUE;
      if (self->token != NULL && g_strcmp0 (self->token, call->token) == 0)
        g_clear_pointer (&self->token, wipe_string);
      wipe_data (call);
      call_start (task);
      return;
    }

  if (call->data->len > 0)
    parsed = json_parser_load_from_data (parser, (const char *) call->data->data, call->data->len, &error);
  root = parsed ? json_parser_get_root (parser) : NULL;

  if (SOUP_STATUS_IS_SUCCESSFUL (status) && (parsed || call->data->len == 0))
    {
      if (!call->reply (task, call, root, &error))
        g_task_return_new_error (task, PP_REGISTRY_ERROR, PP_REGISTRY_ERROR_FAILED,
                                 _("the registry at %s sent an answer this station cannot read: %s"),
                                 self->url, error->message);
      return;
    }
  if (SOUP_STATUS_IS_SUCCESSFUL (status))
    {
      g_task_return_new_error (task, PP_REGISTRY_ERROR, PP_REGISTRY_ERROR_FAILED,
                               _("the registry at %s sent an answer this station cannot read: %s"),
                               self->url, error->message);
      return;
    }
  if (status == SOUP_STATUS_NOT_FOUND && call->not_found != NULL)
    {
      g_clear_error (&error);
      if (!call->not_found (task, call, root, &error))
        g_task_return_error (task, g_steal_pointer (&error));
      return;
    }
  g_task_return_error (task, error_from_answer (self, status, reason, root));
}

static void read_more (GTask *task);

static void
got_bytes (GObject      *source,
           GAsyncResult *result,
           gpointer      data)
{
  g_autoptr(GTask) task = data;
  Call *call = g_task_get_task_data (task);
  PpRegistryRemote *self = g_task_get_source_object (task);
  GError *error = NULL;
  g_autoptr(GBytes) bytes = g_input_stream_read_bytes_finish (G_INPUT_STREAM (source), result, &error);

  if (bytes == NULL)
    {
      send_failed (task, error);
      return;
    }
  if (g_bytes_get_size (bytes) == 0)
    {
      answered (task);
      return;
    }
  if (call->data->len + g_bytes_get_size (bytes) > PP_REGISTRY_REMOTE_MAX_RESPONSE)
    {
      g_clear_object (&call->msg);
      g_clear_object (&call->stream);
      g_task_return_new_error (task, PP_REGISTRY_ERROR, PP_REGISTRY_ERROR_FAILED,
                               _("the registry at %s sent an answer larger than %u MiB; this station "
                                 "does not read it"), self->url,
                               (guint) (PP_REGISTRY_REMOTE_MAX_RESPONSE / (1024 * 1024)));
      return;
    }
  g_byte_array_append (call->data, g_bytes_get_data (bytes, NULL), (guint) g_bytes_get_size (bytes));
  read_more (task);
}

static void
read_more (GTask *task)
{
  Call *call = g_task_get_task_data (task);

  g_input_stream_read_bytes_async (call->stream, READ_CHUNK, G_PRIORITY_DEFAULT,
                                   g_task_get_cancellable (task), got_bytes, g_object_ref (task));
}

static void
sent (GObject      *source,
      GAsyncResult *result,
      gpointer      data)
{
  g_autoptr(GTask) task = data;
  Call *call = g_task_get_task_data (task);
  PpRegistryRemote *self = g_task_get_source_object (task);
  GError *error = NULL;
  GInputStream *stream = soup_session_send_finish (SOUP_SESSION (source), result, &error);
  goffset length;

  if (stream == NULL)
    {
      send_failed (task, error);
      return;
    }
  call->stream = stream;
  length = soup_message_headers_get_content_length (soup_message_get_response_headers (call->msg));
  if (length > PP_REGISTRY_REMOTE_MAX_RESPONSE)
    {
      g_clear_object (&call->msg);
      g_clear_object (&call->stream);
      g_task_return_new_error (task, PP_REGISTRY_ERROR, PP_REGISTRY_ERROR_FAILED,
                               _("the registry at %s sent an answer larger than %u MiB; this station "
                                 "does not read it"), self->url,
                               (guint) (PP_REGISTRY_REMOTE_MAX_RESPONSE / (1024 * 1024)));
      return;
    }
  wipe_data (call);
  call->data = g_byte_array_sized_new (length > 0 ? (guint) length : 256);
  read_more (task);
}

static void
call_send (GTask *task)
{
  PpRegistryRemote *self = g_task_get_source_object (task);
  Call *call = g_task_get_task_data (task);
  g_autoptr(GUri) uri = NULL;
  g_autoptr(GError) error = NULL;
  SoupMessageHeaders *headers;

  if (g_task_return_error_if_cancelled (task))
    return;
  uri = g_uri_parse_relative (self->base, call->path, SOUP_HTTP_URI_FLAGS, &error);
  if (uri == NULL)
    {
      g_task_return_new_error (task, PP_REGISTRY_ERROR, PP_REGISTRY_ERROR_INVALID,
                               _("cannot make a request to the registry at %s: %s"), self->url,
                               error->message);
      return;
    }
  g_clear_object (&call->msg);
  call->msg = soup_message_new_from_uri (call->method, uri);
  call->refused = 0;
  headers = soup_message_get_request_headers (call->msg);
  soup_message_headers_replace (headers, "Accept", "application/json");
  if (!call->login)
    {
      g_autofree char *bearer = g_strconcat ("Bearer ", self->token, NULL);

      g_clear_pointer (&call->token, wipe_string);
      call->token = g_strdup (self->token);
      soup_message_headers_replace (headers, "Authorization", bearer);
      OPENSSL_cleanse (bearer, strlen (bearer));
    }
  if (call->key != NULL)
    {
      soup_message_headers_replace (headers, "Idempotency-Key", call->key);
      /* A repeat is safe (the key), so an idle connection may carry it. */
      soup_message_add_flags (call->msg, SOUP_MESSAGE_IDEMPOTENT);
    }
  if (call->body != NULL)
    soup_message_set_request_body_from_bytes (call->msg,
                                              call->content_type != NULL ? call->content_type
                                                                         : "application/json",
                                              call->body);
  g_signal_connect (call->msg, "accept-certificate", G_CALLBACK (accept_certificate), task);
  soup_session_send_async (self->session, call->msg, G_PRIORITY_DEFAULT, g_task_get_cancellable (task),
                           sent, g_object_ref (task));
}

/* ---- the session ---- */

/* The password's copy in json-glib's node is not wiped; the text is. */
/* @otp NULL: the older body, the password alone; present, even empty:
 * the two-step sign-in (docs/registry-api.md). */
static GBytes *
login_body (const char *user,
            const char *password,
            const char *otp)
{
  g_autoptr(JsonBuilder) b = json_builder_new ();

  json_builder_begin_object (b);
  json_builder_set_member_name (b, "user");
  json_builder_add_string_value (b, user);
  json_builder_set_member_name (b, "password");
  json_builder_add_string_value (b, password);
  if (otp != NULL)
    {
      json_builder_set_member_name (b, "otp");
      json_builder_add_string_value (b, otp);
    }
  json_builder_end_object (b);
  return secret_body (b);
}

static gboolean
login_reply (GTask     *task,
             Call      *call,
             JsonNode  *node,
             GError   **error)
{
  const char *token = NULL;

  if (node != NULL && JSON_NODE_HOLDS_OBJECT (node))
    token = json_object_get_string_member_with_default (json_node_get_object (node), "token", NULL);
  if (token == NULL || *token == '\0')
    {
      g_set_error_literal (error, PP_REGISTRY_ERROR, PP_REGISTRY_ERROR_INVALID,
                           _("the login's answer has no token"));
      return FALSE;
    }
  g_task_return_pointer (task, g_strdup (token), (GDestroyNotify) wipe_string);
  return TRUE;
}

static void
login_done (GObject      *source,
            GAsyncResult *result,
            gpointer      data)
{
  PpRegistryRemote *self = PP_REGISTRY_REMOTE (source);
  g_autoptr(GError) error = NULL;
  char *token = g_task_propagate_pointer (G_TASK (result), &error);
  g_autoptr(GPtrArray) waiting = g_steal_pointer (&self->waiting);

  self->waiting = g_ptr_array_new_with_free_func (g_object_unref);
  self->logging_in = FALSE;
  if (token != NULL)
    {
      g_clear_pointer (&self->token, wipe_string);
      self->token = token;
    }
  for (guint i = 0; i < waiting->len; i++)
    {
      GTask *task = g_ptr_array_index (waiting, i);

      if (token == NULL)
        g_task_return_error (task, g_error_copy (error));
      else if (g_task_get_task_data (task) == NULL)
        g_task_return_boolean (task, TRUE);   /* the event stream waits for a token only */
      else
        call_send (task);
    }
}

static void
start_login (PpRegistryRemote *self)
{
  g_autoptr(GTask) task = g_task_new (self, NULL, login_done, NULL);
  Call *call;

  self->logging_in = TRUE;
  call = call_new ("POST", g_strdup ("api/v1/sessions"), NULL, NULL, login_reply);
  call->body = login_body (self->user, self->password, NULL);
  call->login = TRUE;
  call->secret = TRUE;
  g_task_set_source_tag (task, start_login);
  g_task_set_task_data (task, call, (GDestroyNotify) call_free);
  call_send (task);
}

static void
call_start (GTask *task)
{
  PpRegistryRemote *self = g_task_get_source_object (task);
  Call *call = g_task_get_task_data (task);

  if (call->login || self->token != NULL)
    {
      call_send (task);
      return;
    }
  g_ptr_array_add (self->waiting, g_object_ref (task));
  if (!self->logging_in)
    start_login (self);
}

/* Starts @call as the verb @tag. */
static void
remote_call (PpRegistry          *registry,
             gpointer             tag,
             Call                *call,
             GCancellable        *cancellable,
             GAsyncReadyCallback  callback,
             gpointer             user_data)
{
  g_autoptr(GTask) task = g_task_new (registry, cancellable, callback, user_data);

  g_task_set_source_tag (task, tag);
  g_task_set_task_data (task, call, (GDestroyNotify) call_free);
  call_start (task);
}

/* The server acts as the session's user: a verb for anyone else fails here. */
static gboolean
check_actor (PpRegistry          *registry,
             gpointer             tag,
             const char          *actor,
             GCancellable        *cancellable,
             GAsyncReadyCallback  callback,
             gpointer             user_data)
{
  PpRegistryRemote *self = PP_REGISTRY_REMOTE (registry);
  g_autoptr(GTask) task = NULL;

  if (actor != NULL && g_ascii_strcasecmp (actor, self->user) == 0)
    return TRUE;
  task = g_task_new (registry, cancellable, callback, user_data);
  g_task_set_source_tag (task, tag);
  g_task_return_new_error (task, PP_REGISTRY_ERROR, PP_REGISTRY_ERROR_PERMISSION,
                           /* Translators: "... logged in to the registry at URL as alice; it cannot act as bob" */
                           _("this station is logged in to the registry at %s as %s; it cannot act "
                             "as %s (log in as that user)"), self->url, self->user, actor);
  return FALSE;
}

/* ---- replies ---- */

static JsonNode *
member_of (Call      *call,
           JsonNode  *node,
           GError   **error)
{
  JsonNode *m;

  if (call->member == NULL)
    return node;
  if (node == NULL || !JSON_NODE_HOLDS_OBJECT (node) ||
      (m = json_object_get_member (json_node_get_object (node), call->member)) == NULL)
    {
      g_set_error (error, PP_REGISTRY_ERROR, PP_REGISTRY_ERROR_INVALID,
                   _("the answer has no member “%s”"), call->member);
      return NULL;
    }
  return m;
}

static gboolean
record_reply (GTask     *task,
              Call      *call,
              JsonNode  *node,
              GError   **error)
{
  JsonNode *m = member_of (call, node, error);
  gpointer record = m != NULL ? call->decode (m, error) : NULL;

  if (record == NULL)
    return FALSE;
  g_task_return_pointer (task, record, call->item_free);
  return TRUE;
}

/* The items of the JSON list @m, each read with call->decode. */
static GPtrArray *
decode_list (Call      *call,
             JsonNode  *m,
             GError   **error)
{
  g_autoptr(GPtrArray) list = NULL;
  JsonArray *array;

  if (!JSON_NODE_HOLDS_ARRAY (m))
    {
      g_set_error_literal (error, PP_REGISTRY_ERROR, PP_REGISTRY_ERROR_INVALID,
                           _("the answer is not a list"));
      return NULL;
    }
  array = json_node_get_array (m);
  list = g_ptr_array_new_full (json_array_get_length (array), call->item_free);
  for (guint i = 0; i < json_array_get_length (array); i++)
    {
      gpointer item = call->decode (json_array_get_element (array, i), error);

      if (item == NULL)
        return NULL;
      g_ptr_array_add (list, item);
    }
  return g_steal_pointer (&list);
}

static gboolean
list_reply (GTask     *task,
            Call      *call,
            JsonNode  *node,
            GError   **error)
{
  JsonNode *m = member_of (call, node, error);
  g_autoptr(GPtrArray) list = m != NULL ? decode_list (call, m, error) : NULL;

  if (list == NULL)
    return FALSE;
  g_task_return_pointer (task, g_steal_pointer (&list), (GDestroyNotify) g_ptr_array_unref);
  return TRUE;
}

/* A base64 string member, decoded. */
static GBytes *
base64_member (JsonNode    *node,
               const char  *name,
               gboolean     nullable,
               GError     **error)
{
  JsonNode *m = node != NULL && JSON_NODE_HOLDS_OBJECT (node)
                  ? json_object_get_member (json_node_get_object (node), name) : NULL;
  const char *text;
  guchar *data;
  gsize len;

  if (nullable && (m == NULL || JSON_NODE_HOLDS_NULL (m)))
    return NULL;
  if (m == NULL || json_node_get_value_type (m) != G_TYPE_STRING ||
      *(text = json_node_get_string (m)) == '\0')
    {
      g_set_error (error, PP_REGISTRY_ERROR, PP_REGISTRY_ERROR_INVALID,
                   _("the answer's member “%s” must be base64 text"), name);
      return NULL;
    }
  data = g_base64_decode (text, &len);
  if (len == 0)
    {
      g_free (data);
      g_set_error (error, PP_REGISTRY_ERROR, PP_REGISTRY_ERROR_INVALID,
                   _("the answer's member “%s” must be base64 text"), name);
      return NULL;
    }
  return g_bytes_new_take (data, len);
}

static gboolean
bytes_reply (GTask     *task,
             Call      *call,
             JsonNode  *node,
             GError   **error)
{
  GBytes *bytes = base64_member (node, call->member, FALSE, error);

  if (bytes == NULL)
    return FALSE;
  g_task_return_pointer (task, bytes, (GDestroyNotify) g_bytes_unref);
  return TRUE;
}

static gboolean
count_reply (GTask     *task,
             Call      *call,
             JsonNode  *node,
             GError   **error)
{
  JsonNode *m = member_of (call, node, error);

  if (m == NULL)
    return FALSE;
  if (json_node_get_value_type (m) != G_TYPE_INT64 || json_node_get_int (m) < 0)
    {
      g_set_error (error, PP_REGISTRY_ERROR, PP_REGISTRY_ERROR_INVALID,
                   _("the answer's member “%s” must be a count"), call->member);
      return FALSE;
    }
  g_task_return_int (task, json_node_get_int (m));
  return TRUE;
}

/* ---- the verbs ---- */

/* api/v1/@collection/@id[/@step], the id escaped. */
static char *
path_of (const char *collection,
         const char *id,
         const char *step)
{
  g_autofree char *s = esc (id);

  return g_strconcat ("api/v1/", collection, "/", s, step != NULL ? "/" : NULL, step, NULL);
}

static Call *
record_call (Call          *call,
             DecodeFunc     decode,
             GDestroyNotify item_free)
{
  call->decode = decode;
  call->item_free = item_free;
  return call;
}

#define ORDER(call) record_call ((call), (DecodeFunc) pp_registry_order_from_json, \
                                 (GDestroyNotify) pp_work_order_free)
#define APPROVAL(call) record_call ((call), (DecodeFunc) pp_registry_approval_from_json, \
                                    (GDestroyNotify) pp_registry_approval_free)

/* lookup: 404 is an unknown serial, with the server's words for it. */
static gboolean
lookup_not_found (GTask     *task,
                  Call      *call,
                  JsonNode  *node,
                  GError   **error)
{
  PpRegistryRemote *self = g_task_get_source_object (task);
  g_autoptr(GError) answer = error_from_answer (self, SOUP_STATUS_NOT_FOUND, NULL, node);
  PpRegistrySerialCheck *check;

  if (answer->code != PP_REGISTRY_ERROR_NOT_FOUND)
    {
      g_propagate_error (error, g_steal_pointer (&answer));
      return FALSE;
    }
  check = g_new0 (PpRegistrySerialCheck, 1);
  check->serial = g_ascii_strup (call->serial, -1);
  g_strstrip (check->serial);
  check->status = PP_REGISTRY_SERIAL_UNKNOWN;
  check->message = g_strdup (answer->message);
  g_task_return_pointer (task, check, (GDestroyNotify) pp_registry_serial_check_free);
  return TRUE;
}

static void
remote_lookup_serial (PpRegistry *registry, const char *serial, const char *order_uuid,
                      GCancellable *cancellable, GAsyncReadyCallback callback, gpointer user_data)
{
  g_autofree char *trimmed = g_strstrip (g_strdup (serial));
  GString *path = g_string_new (NULL);
  Call *call;

  g_string_append (path, "api/v1/terminals/");
  g_string_append_uri_escaped (path, trimmed, NULL, FALSE);
  add_query (path, "order", order_uuid);
  call = record_call (call_new ("GET", g_string_free (path, FALSE), NULL, NULL, record_reply),
                      (DecodeFunc) pp_registry_serial_check_from_json,
                      (GDestroyNotify) pp_registry_serial_check_free);
  call->not_found = lookup_not_found;
  call->serial = g_strdup (trimmed);
  remote_call (registry, pp_registry_lookup_serial_async, call, cancellable, callback, user_data);
}

static void
remote_intake (PpRegistry *registry, const PpTerminalIntake *rows, guint n_rows,
               PpTerminalState initial_state, const char *actor, const char *idempotency_key,
               GCancellable *cancellable, GAsyncReadyCallback callback, gpointer user_data)
{
  g_autoptr(JsonBuilder) b = json_builder_new ();
  GString *path;
  Call *call;

  if (!check_actor (registry, pp_registry_intake_async, actor, cancellable, callback, user_data))
    return;
  json_builder_begin_array (b);
  for (guint i = 0; i < n_rows; i++)
    {
      json_builder_begin_object (b);
      json_builder_set_member_name (b, "serial");
      json_builder_add_string_value (b, rows[i].serial);
      json_builder_set_member_name (b, "vendor");
      json_builder_add_string_value (b, rows[i].vendor);
      json_builder_set_member_name (b, "model");
      json_builder_add_string_value (b, rows[i].model);
      json_builder_end_object (b);
    }
  json_builder_end_array (b);
  path = g_string_new ("api/v1/terminals");
  add_query (path, "state", pp_terminal_state_to_string (initial_state));
  call = call_new ("POST", g_string_free (path, FALSE), json_builder_get_root (b), idempotency_key,
                   count_reply);
  call->member = "added";
  remote_call (registry, pp_registry_intake_async, call, cancellable, callback, user_data);
}

static void
remote_create_merchant (PpRegistry *registry, const PpMerchantFields *fields, const char *actor,
                        const char *idempotency_key, GCancellable *cancellable,
                        GAsyncReadyCallback callback, gpointer user_data)
{
  g_autoptr(JsonBuilder) b = json_builder_new ();
  const struct { const char *name; const char *value; } members[] = {
    { "name", fields->name }, { "registration_number", fields->registration_number },
    { "address", fields->address }, { "mcc", fields->mcc },
    { "contact_name", fields->contact_name }, { "contact_phone", fields->contact_phone },
  };
  Call *call;

  if (!check_actor (registry, pp_registry_create_merchant_async, actor, cancellable, callback, user_data))
    return;
  json_builder_begin_object (b);
  for (gsize i = 0; i < G_N_ELEMENTS (members); i++)
    {
      json_builder_set_member_name (b, members[i].name);
      if (members[i].value != NULL)
        json_builder_add_string_value (b, members[i].value);
      else
        json_builder_add_null_value (b);
    }
  json_builder_end_object (b);
  call = record_call (call_new ("POST", g_strdup ("api/v1/merchants"), json_builder_get_root (b),
                                idempotency_key, record_reply),
                      (DecodeFunc) pp_registry_merchant_from_json, (GDestroyNotify) pp_merchant_free);
  remote_call (registry, pp_registry_create_merchant_async, call, cancellable, callback, user_data);
}

static void
remote_search_merchants (PpRegistry *registry, const char *query, guint limit,
                         GCancellable *cancellable, GAsyncReadyCallback callback, gpointer user_data)
{
  GString *path = g_string_new ("api/v1/merchants");
  Call *call;

  add_query (path, "query", query);
  add_query_int (path, "limit", limit);
  call = record_call (call_new ("GET", g_string_free (path, FALSE), NULL, NULL, list_reply),
                      (DecodeFunc) pp_registry_merchant_from_json, (GDestroyNotify) pp_merchant_free);
  call->member = "merchants";
  remote_call (registry, pp_registry_search_merchants_async, call, cancellable, callback, user_data);
}

static void
remote_create_install_order (PpRegistry *registry, const char *serial, gint64 merchant_id,
                             const char *program_version, PpTmkType key_type, const char *requester,
                             const char *idempotency_key, GCancellable *cancellable,
                             GAsyncReadyCallback callback, gpointer user_data)
{
  g_autoptr(JsonBuilder) b = json_builder_new ();
  Call *call;

  if (!check_actor (registry, pp_registry_create_install_order_async, requester, cancellable, callback,
                    user_data))
    return;
  json_builder_begin_object (b);
  json_builder_set_member_name (b, "serial");
  json_builder_add_string_value (b, serial);
  json_builder_set_member_name (b, "merchant_id");
  json_builder_add_int_value (b, merchant_id);
  json_builder_set_member_name (b, "program");
  if (program_version != NULL)
    json_builder_add_string_value (b, program_version);
  else
    json_builder_add_null_value (b);
  json_builder_set_member_name (b, "key_type");
  json_builder_add_string_value (b, pp_tmk_type_to_string (key_type));
  json_builder_end_object (b);
  call = ORDER (call_new ("POST", g_strdup ("api/v1/work-orders"), json_builder_get_root (b),
                          idempotency_key, record_reply));
  remote_call (registry, pp_registry_create_install_order_async, call, cancellable, callback, user_data);
}

static void
remote_get_order (PpRegistry *registry, const char *order_uuid, GCancellable *cancellable,
                  GAsyncReadyCallback callback, gpointer user_data)
{
  Call *call = ORDER (call_new ("GET", path_of ("work-orders", order_uuid, NULL), NULL, NULL,
                                record_reply));

  remote_call (registry, pp_registry_get_order_async, call, cancellable, callback, user_data);
}

static void
remote_list_orders (PpRegistry *registry, const char *serial, GCancellable *cancellable,
                    GAsyncReadyCallback callback, gpointer user_data)
{
  GString *path = g_string_new ("api/v1/work-orders");
  Call *call;

  add_query (path, "serial", serial);
  call = ORDER (call_new ("GET", g_string_free (path, FALSE), NULL, NULL, list_reply));
  call->member = "orders";
  remote_call (registry, pp_registry_list_orders_async, call, cancellable, callback, user_data);
}

static void
remote_request_approval (PpRegistry *registry, const char *order_uuid, const char *scanned_serial,
                         const char *otp, const char *requester, const char *idempotency_key,
                         GCancellable *cancellable, GAsyncReadyCallback callback, gpointer user_data)
{
  g_autoptr(JsonBuilder) b = json_builder_new ();
  Call *call;

  if (!check_actor (registry, pp_registry_request_approval_async, requester, cancellable, callback,
                    user_data))
    return;
  json_builder_begin_object (b);
  if (scanned_serial != NULL)
    {
      json_builder_set_member_name (b, "terminal_qr");
      json_builder_add_string_value (b, scanned_serial);
    }
  if (otp != NULL)
    {
      json_builder_set_member_name (b, "otp");
      json_builder_add_string_value (b, otp);
    }
  json_builder_end_object (b);
  call = APPROVAL (call_new ("POST", path_of ("work-orders", order_uuid, "approval-request"),
                             json_builder_get_root (b), idempotency_key, record_reply));
  remote_call (registry, pp_registry_request_approval_async, call, cancellable, callback, user_data);
}

static void
remote_decide_approval (PpRegistry *registry, const char *approval_uuid, gboolean approve,
                        const char *reason, const char *approver, const char *idempotency_key,
                        GCancellable *cancellable, GAsyncReadyCallback callback, gpointer user_data)
{
  g_autoptr(JsonBuilder) b = json_builder_new ();
  Call *call;

  if (!check_actor (registry, pp_registry_decide_approval_async, approver, cancellable, callback,
                    user_data))
    return;
  json_builder_begin_object (b);
  json_builder_set_member_name (b, "decision");
  json_builder_add_string_value (b, approve ? "approve" : "reject");
  json_builder_set_member_name (b, "reason");
  if (reason != NULL)
    json_builder_add_string_value (b, reason);
  else
    json_builder_add_null_value (b);
  json_builder_end_object (b);
  call = APPROVAL (call_new ("POST", path_of ("approvals", approval_uuid, "decision"),
                             json_builder_get_root (b), idempotency_key, record_reply));
  remote_call (registry, pp_registry_decide_approval_async, call, cancellable, callback, user_data);
}

static void
remote_get_approval (PpRegistry *registry, const char *approval_uuid, GCancellable *cancellable,
                     GAsyncReadyCallback callback, gpointer user_data)
{
  Call *call = APPROVAL (call_new ("GET", path_of ("approvals", approval_uuid, NULL), NULL, NULL,
                                   record_reply));

  remote_call (registry, pp_registry_get_approval_async, call, cancellable, callback, user_data);
}

static void
remote_list_approvals (PpRegistry *registry, gboolean pending_only, GCancellable *cancellable,
                       GAsyncReadyCallback callback, gpointer user_data)
{
  GString *path = g_string_new ("api/v1/approvals");
  Call *call;

  add_query (path, "state", pending_only ? "pending" : "all");
  call = APPROVAL (call_new ("GET", g_string_free (path, FALSE), NULL, NULL, list_reply));
  call->member = "approvals";
  remote_call (registry, pp_registry_list_approvals_async, call, cancellable, callback, user_data);
}

/* {"certificate": PEM, "crl": base64 DER or null} -> [certificate DER, CRL DER?] */
static gboolean
kdh_reply (GTask     *task,
           Call      *call,
           JsonNode  *node,
           GError   **error)
{
  g_autoptr(GPtrArray) parts = g_ptr_array_new_with_free_func ((GDestroyNotify) g_bytes_unref);
  g_autoptr(GTlsCertificate) cert = NULL;
  g_autoptr(GByteArray) der = NULL;
  g_autoptr(GError) local = NULL;
  const char *pem = NULL;
  GBytes *crl;

  if (node != NULL && JSON_NODE_HOLDS_OBJECT (node))
    pem = json_object_get_string_member_with_default (json_node_get_object (node), "certificate", NULL);
  cert = pem != NULL ? g_tls_certificate_new_from_pem (pem, -1, &local) : NULL;
  if (cert == NULL)
    {
      g_set_error (error, PP_REGISTRY_ERROR, PP_REGISTRY_ERROR_INVALID,
                   _("the answer's member “%s” must be a PEM certificate"), "certificate");
      return FALSE;
    }
  g_object_get (cert, "certificate", &der, NULL);
  g_ptr_array_add (parts, g_byte_array_free_to_bytes (g_steal_pointer (&der)));
  crl = base64_member (node, "crl", TRUE, error);
  if (crl == NULL && *error != NULL)
    return FALSE;
  if (crl != NULL)
    g_ptr_array_add (parts, crl);
  g_task_return_pointer (task, g_steal_pointer (&parts), (GDestroyNotify) g_ptr_array_unref);
  return TRUE;
}

static void
remote_get_kdh (PpRegistry *registry, GCancellable *cancellable, GAsyncReadyCallback callback,
                gpointer user_data)
{
  remote_call (registry, pp_registry_get_kdh_async,
               call_new ("GET", g_strdup ("api/v1/kdh"), NULL, NULL, kdh_reply),
               cancellable, callback, user_data);
}

static void
remote_issue_kdh_credential (PpRegistry *registry, const char *order_uuid, const char *actor,
                             const char *idempotency_key, GCancellable *cancellable,
                             GAsyncReadyCallback callback, gpointer user_data)
{
  Call *call;

  if (!check_actor (registry, pp_registry_issue_kdh_credential_async, actor, cancellable, callback,
                    user_data))
    return;
  call = call_new ("POST", path_of ("work-orders", order_uuid, "kdh-credential"), empty_object (),
                   idempotency_key, bytes_reply);
  call->member = "ct_kdh";
  remote_call (registry, pp_registry_issue_kdh_credential_async, call, cancellable, callback, user_data);
}

static void
add_base64 (JsonBuilder *b,
            const char  *name,
            GBytes      *bytes)
{
  gsize len;
  const guchar *data = g_bytes_get_data (bytes, &len);
  g_autofree char *text = g_base64_encode (data, len);

  json_builder_set_member_name (b, name);
  json_builder_add_string_value (b, text);
}

static void
remote_issue_key_token (PpRegistry *registry, const char *order_uuid, GBytes *ct_krd, GBytes *rt_krd,
                        const char *actor, const char *idempotency_key, GCancellable *cancellable,
                        GAsyncReadyCallback callback, gpointer user_data)
{
  g_autoptr(JsonBuilder) b = json_builder_new ();
  Call *call;

  if (!check_actor (registry, pp_registry_issue_key_token_async, actor, cancellable, callback, user_data))
    return;
  json_builder_begin_object (b);
  add_base64 (b, "ct_krd", ct_krd);
  add_base64 (b, "rt_krd", rt_krd);
  json_builder_end_object (b);
  call = call_new ("POST", path_of ("work-orders", order_uuid, "key-token"),
                   json_builder_get_root (b), idempotency_key, bytes_reply);
  call->member = "kt_kdh";
  remote_call (registry, pp_registry_issue_key_token_async, call, cancellable, callback, user_data);
}

static void
remote_confirm_kcv (PpRegistry *registry, const char *order_uuid, const char *kcv, const char *actor,
                    const char *idempotency_key, GCancellable *cancellable,
                    GAsyncReadyCallback callback, gpointer user_data)
{
  g_autoptr(JsonBuilder) b = json_builder_new ();
  Call *call;

  if (!check_actor (registry, pp_registry_confirm_kcv_async, actor, cancellable, callback, user_data))
    return;
  json_builder_begin_object (b);
  json_builder_set_member_name (b, "kcv");
  json_builder_add_string_value (b, kcv);
  json_builder_end_object (b);
  call = ORDER (call_new ("POST", path_of ("work-orders", order_uuid, "kcv"),
                          json_builder_get_root (b), idempotency_key, record_reply));
  remote_call (registry, pp_registry_confirm_kcv_async, call, cancellable, callback, user_data);
}

static void
remote_list_programs (PpRegistry *registry, const char *model, GCancellable *cancellable,
                      GAsyncReadyCallback callback, gpointer user_data)
{
  GString *path = g_string_new ("api/v1/programs");
  Call *call;

  add_query (path, "model", model);
  call = record_call (call_new ("GET", g_string_free (path, FALSE), NULL, NULL, list_reply),
                      (DecodeFunc) pp_registry_program_from_json,
                      (GDestroyNotify) pp_program_record_free);
  call->member = "programs";
  remote_call (registry, pp_registry_list_programs_async, call, cancellable, callback, user_data);
}

/* The order's later steps: POST work-orders/{id}/STEP, an optional reason. */
static void
order_step (PpRegistry          *registry,
            gpointer             tag,
            const char          *step,
            const char          *order_uuid,
            const char          *reason,
            const char          *actor,
            const char          *idempotency_key,
            GCancellable        *cancellable,
            GAsyncReadyCallback  callback,
            gpointer             user_data)
{
  g_autoptr(JsonBuilder) b = json_builder_new ();
  g_autofree char *id = esc (order_uuid);
  g_autofree char *path = g_strconcat ("api/v1/work-orders/", id, "/", step, NULL);
  Call *call;

  if (!check_actor (registry, tag, actor, cancellable, callback, user_data))
    return;
  json_builder_begin_object (b);
  if (reason != NULL)
    {
      json_builder_set_member_name (b, "reason");
      json_builder_add_string_value (b, reason);
    }
  json_builder_end_object (b);
  call = ORDER (call_new ("POST", g_steal_pointer (&path),
                          json_builder_get_root (b), idempotency_key, record_reply));
  remote_call (registry, tag, call, cancellable, callback, user_data);
}

static void
remote_program_installed (PpRegistry *registry, const char *order_uuid, const char *actor,
                          const char *idempotency_key, GCancellable *cancellable,
                          GAsyncReadyCallback callback, gpointer user_data)
{
  order_step (registry, pp_registry_program_installed_async, "program-installed", order_uuid, NULL,
              actor, idempotency_key, cancellable, callback, user_data);
}

static void
remote_close_order (PpRegistry *registry, const char *order_uuid, const char *actor,
                    const char *idempotency_key, GCancellable *cancellable,
                    GAsyncReadyCallback callback, gpointer user_data)
{
  order_step (registry, pp_registry_close_order_async, "close", order_uuid, NULL, actor,
              idempotency_key, cancellable, callback, user_data);
}

static void
remote_cancel_order (PpRegistry *registry, const char *order_uuid, const char *reason,
                     const char *actor, const char *idempotency_key, GCancellable *cancellable,
                     GAsyncReadyCallback callback, gpointer user_data)
{
  order_step (registry, pp_registry_cancel_order_async, "cancel", order_uuid, reason, actor,
              idempotency_key, cancellable, callback, user_data);
}

static void
remote_create_recycle_order (PpRegistry *registry, const char *serial, const char *reason,
                             const char *requester, const char *idempotency_key,
                             GCancellable *cancellable, GAsyncReadyCallback callback,
                             gpointer user_data)
{
  g_autoptr(JsonBuilder) b = json_builder_new ();
  Call *call;

  if (!check_actor (registry, pp_registry_create_recycle_order_async, requester, cancellable, callback,
                    user_data))
    return;
  json_builder_begin_object (b);
  json_builder_set_member_name (b, "serial");
  json_builder_add_string_value (b, serial);
  if (reason != NULL)
    {
      json_builder_set_member_name (b, "reason");
      json_builder_add_string_value (b, reason);
    }
  json_builder_end_object (b);
  call = ORDER (call_new ("POST", g_strdup ("api/v1/recycle-orders"), json_builder_get_root (b),
                          idempotency_key, record_reply));
  remote_call (registry, pp_registry_create_recycle_order_async, call, cancellable, callback, user_data);
}

static void
remote_list_audit (PpRegistry *registry, gint64 after_seq, guint limit, GCancellable *cancellable,
                   GAsyncReadyCallback callback, gpointer user_data)
{
  GString *path = g_string_new ("api/v1/audit");
  Call *call;

  add_query_int (path, "limit", limit);
  call = record_call (call_new ("GET", NULL, NULL, NULL, list_reply),
                      (DecodeFunc) pp_registry_audit_entry_from_json,
                      (GDestroyNotify) pp_audit_entry_free);
  call->member = "entries";
  add_query_int (path, "after", after_seq);
  call->path = g_string_free (path, FALSE);
  remote_call (registry, pp_registry_list_audit_async, call, cancellable, callback, user_data);
}

static void
remote_list_changes (PpRegistry *registry, gint64 after_cursor, guint limit, GCancellable *cancellable,
                     GAsyncReadyCallback callback, gpointer user_data)
{
  GString *path = g_string_new ("api/v1/changes");
  Call *call;

  add_query_int (path, "limit", limit);
  call = record_call (call_new ("GET", NULL, NULL, NULL, list_reply),
                      (DecodeFunc) pp_registry_change_from_json, (GDestroyNotify) pp_change_free);
  call->member = "changes";
  add_query_int (path, "since", after_cursor);
  call->path = g_string_free (path, FALSE);
  remote_call (registry, pp_registry_list_changes_async, call, cancellable, callback, user_data);
}

/* ---- users and sessions ---- */

/* {"token","expires","user","role"}: the user whose password checked out. */
static gboolean
authenticate_reply (GTask     *task,
                    Call      *call,
                    JsonNode  *node,
                    GError   **error)
{
  JsonObject *o = node != NULL && JSON_NODE_HOLDS_OBJECT (node) ? json_node_get_object (node) : NULL;
  const char *name = o != NULL ? json_object_get_string_member_with_default (o, "user", NULL) : NULL;
  const char *role = o != NULL ? json_object_get_string_member_with_default (o, "role", NULL) : NULL;
  g_autoptr(PpUser) user = g_new0 (PpUser, 1);

  if (name == NULL || role == NULL || !pp_user_role_from_string (role, &user->role))
    {
      g_set_error_literal (error, PP_REGISTRY_ERROR, PP_REGISTRY_ERROR_INVALID,
                           _("the login's answer has no user and role"));
      return FALSE;
    }
  user->username = g_strdup (name);
  g_task_return_pointer (task, g_steal_pointer (&user), (GDestroyNotify) pp_user_free);
  return TRUE;
}

/* POST /sessions as @username, the verb @tag answering with @reply. */
static void
session_call (PpRegistry          *registry,
              gpointer             tag,
              ReplyFunc            reply,
              const char          *username,
              const char          *password,
              const char          *otp,
              GCancellable        *cancellable,
              GAsyncReadyCallback  callback,
              gpointer             user_data)
{
  Call *call = call_new ("POST", g_strdup ("api/v1/sessions"), NULL, NULL, reply);

  call->body = login_body (username, password, otp);
  call->login = TRUE;
  call->secret = TRUE;
  remote_call (registry, tag, call, cancellable, callback, user_data);
}

/* Checks another user's password by signing in as them (the session made
 * is not kept: it lapses on the server). */
static void
remote_authenticate (PpRegistry *registry, const char *username, const char *password,
                     GCancellable *cancellable, GAsyncReadyCallback callback, gpointer user_data)
{
  session_call (registry, pp_registry_authenticate_async, authenticate_reply, username, password, NULL,
                cancellable, callback, user_data);
}

/* authenticate_reply, and the session it opened becomes this registry's
 * own when the user is its user: a code is good once, so its own login
 * (password only) could not repeat the second step. */
static gboolean
authenticate_otp_reply (GTask     *task,
                        Call      *call,
                        JsonNode  *node,
                        GError   **error)
{
  PpRegistryRemote *self = g_task_get_source_object (task);
  JsonObject *o = node != NULL && JSON_NODE_HOLDS_OBJECT (node) ? json_node_get_object (node) : NULL;
  const char *name = o != NULL ? json_object_get_string_member_with_default (o, "user", NULL) : NULL;
  const char *token = o != NULL ? json_object_get_string_member_with_default (o, "token", NULL) : NULL;
  g_autofree char *folded = name != NULL ? g_ascii_strdown (name, -1) : NULL;

  if (!authenticate_reply (task, call, node, error))
    return FALSE;
  if (token != NULL && *token != '\0' && g_strcmp0 (folded, self->user) == 0)
    {
      g_clear_pointer (&self->token, wipe_string);
      self->token = g_strdup (token);
    }
  return TRUE;
}

static void
remote_authenticate_otp (PpRegistry *registry, const char *username, const char *password,
                         const char *otp, GCancellable *cancellable, GAsyncReadyCallback callback,
                         gpointer user_data)
{
  session_call (registry, pp_registry_authenticate_otp_async, authenticate_otp_reply, username, password,
                otp, cancellable, callback, user_data);
}

static void
remote_add_user (PpRegistry *registry, const char *username, PpUserRole role, const char *password,
                 const char *actor, const char *idempotency_key, GCancellable *cancellable,
                 GAsyncReadyCallback callback, gpointer user_data)
{
  g_autoptr(JsonBuilder) b = json_builder_new ();
  Call *call;

  if (!check_actor (registry, pp_registry_add_user_async, actor, cancellable, callback, user_data))
    return;
  json_builder_begin_object (b);
  json_builder_set_member_name (b, "name");
  json_builder_add_string_value (b, username);
  json_builder_set_member_name (b, "role");
  json_builder_add_string_value (b, pp_user_role_to_string (role));
  json_builder_set_member_name (b, "password");
  json_builder_add_string_value (b, password);
  json_builder_end_object (b);
  call = record_call (call_new ("POST", g_strdup ("api/v1/users"), NULL, idempotency_key, record_reply),
                      (DecodeFunc) pp_registry_user_from_json, (GDestroyNotify) pp_user_free);
  call->body = secret_body (b);
  remote_call (registry, pp_registry_add_user_async, call, cancellable, callback, user_data);
}

static gboolean
otp_reply (GTask     *task,
           Call      *call,
           JsonNode  *node,
           GError   **error)
{
  const char *uri = NULL;

  if (node != NULL && JSON_NODE_HOLDS_OBJECT (node))
    uri = json_object_get_string_member_with_default (json_node_get_object (node), "otpauth_uri", NULL);
  if (uri == NULL || !g_str_has_prefix (uri, "otpauth://"))
    {
      g_set_error (error, PP_REGISTRY_ERROR, PP_REGISTRY_ERROR_INVALID,
                   _("the answer's member “%s” must be an otpauth:// URI"), "otpauth_uri");
      return FALSE;
    }
  g_task_return_pointer (task, pp_secure_buffer_new_from ((const guint8 *) uri, strlen (uri) + 1),
                         (GDestroyNotify) pp_secure_buffer_free);
  return TRUE;
}

/* No body and no Idempotency-Key (docs/registry-api.md): the secret is
 * never recorded; a resend after a lost answer enrols a new secret that
 * replaces the first, and the answer read is the one in force. */
static void
remote_enroll_otp (PpRegistry *registry, const char *username, const char *actor,
                   GCancellable *cancellable, GAsyncReadyCallback callback, gpointer user_data)
{
  Call *call;

  if (!check_actor (registry, pp_registry_enroll_otp_async, actor, cancellable, callback, user_data))
    return;
  call = call_new ("POST", path_of ("users", username, "otp"), NULL, NULL, otp_reply);
  call->secret = TRUE;
  remote_call (registry, pp_registry_enroll_otp_async, call, cancellable, callback, user_data);
}

static void
remote_list_terminals (PpRegistry *registry, PpTerminalState state, const char *after_serial,
                       guint limit, GCancellable *cancellable, GAsyncReadyCallback callback,
                       gpointer user_data)
{
  GString *path = g_string_new ("api/v1/terminals");
  Call *call;

  if (state != PP_TERMINAL_STATE_ANY)
    add_query (path, "state", pp_terminal_state_to_string (state));
  add_query (path, "after", after_serial);
  add_query_int (path, "limit", limit);
  call = record_call (call_new ("GET", g_string_free (path, FALSE), NULL, NULL, list_reply),
                      (DecodeFunc) pp_registry_terminal_from_json, g_object_unref);
  call->member = "terminals";
  remote_call (registry, pp_registry_list_terminals_async, call, cancellable, callback, user_data);
}

/* The station's inventory (issue 8, helper station8): one page and the
 * total, {"terminals": [...], "total": N}. */
static gboolean
terminal_page_reply (GTask     *task,
                     Call      *call,
                     JsonNode  *node,
                     GError   **error)
{
  JsonNode *m = member_of (call, node, error);
  JsonNode *total = NULL;
  GPtrArray *list;

  if (m == NULL)
    return FALSE;
  total = json_object_get_member (json_node_get_object (node), "total");
  if (total == NULL || json_node_get_value_type (total) != G_TYPE_INT64 ||
      json_node_get_int (total) < 0 || json_node_get_int (total) > G_MAXUINT)
    {
      g_set_error (error, PP_REGISTRY_ERROR, PP_REGISTRY_ERROR_INVALID,
                   _("the answer's member “%s” must be a count"), "total");
      return FALSE;
    }
  list = decode_list (call, m, error);
  if (list == NULL)
    return FALSE;
  g_task_return_pointer (task, pp_registry_terminal_page_new (list, (guint) json_node_get_int (total)),
                         (GDestroyNotify) pp_registry_terminal_page_free);
  return TRUE;
}

static void
remote_search_terminals (PpRegistry *registry, const char *serial_search, PpTerminalState state,
                         guint offset, guint limit, GCancellable *cancellable,
                         GAsyncReadyCallback callback, gpointer user_data)
{
  GString *path = g_string_new ("api/v1/terminals");
  Call *call;

  if (serial_search != NULL && *serial_search != '\0')
    add_query (path, "query", serial_search);
  if (state != PP_TERMINAL_STATE_ANY)
    add_query (path, "state", pp_terminal_state_to_string (state));
  add_query_int (path, "offset", offset);
  add_query_int (path, "limit", limit);
  call = record_call (call_new ("GET", g_string_free (path, FALSE), NULL, NULL, terminal_page_reply),
                      (DecodeFunc) pp_registry_terminal_from_json, g_object_unref);
  call->member = "terminals";
  remote_call (registry, pp_registry_search_terminals_async, call, cancellable, callback, user_data);
}

/* The package's bytes as they are (application/octet-stream); the server
 * checks its signer against its --program-trust. */
static void
remote_upload_program (PpRegistry *registry, GBytes *package, const char *actor,
                       const char *idempotency_key, GCancellable *cancellable,
                       GAsyncReadyCallback callback, gpointer user_data)
{
  Call *call;

  if (!check_actor (registry, pp_registry_upload_program_async, actor, cancellable, callback,
                    user_data))
    return;
  call = record_call (call_new ("POST", g_strdup ("api/v1/programs"), NULL, idempotency_key,
                                list_reply),
                      (DecodeFunc) pp_registry_program_from_json,
                      (GDestroyNotify) pp_program_record_free);
  call->body = g_bytes_ref (package);
  call->content_type = "application/octet-stream";
  call->member = "programs";
  remote_call (registry, pp_registry_upload_program_async, call, cancellable, callback, user_data);
}

/* ---- the install and recycle flows (issue 9, core/flows) ---- */

static gboolean
sign_on_keys_reply (GTask     *task,
                    Call      *call,
                    JsonNode  *node,
                    GError   **error)
{
  static const char * const names[] = { "pin_block", "mac_block", "pin_kcv", "mac_kcv" };
  g_autoptr(PpRegistrySignOnKeys) keys = g_new0 (PpRegistrySignOnKeys, 1);
  char **fields[] = { &keys->pin_block, &keys->mac_block, &keys->pin_kcv, &keys->mac_kcv };
  JsonObject *o = node != NULL && JSON_NODE_HOLDS_OBJECT (node) ? json_node_get_object (node) : NULL;

  for (guint i = 0; i < G_N_ELEMENTS (names); i++)
    {
      const char *v = o != NULL ? json_object_get_string_member_with_default (o, names[i], NULL) : NULL;

      if (v == NULL)
        {
          g_set_error (error, PP_REGISTRY_ERROR, PP_REGISTRY_ERROR_INVALID,
                       _("the answer's member “%s” must be a string"), names[i]);
          return FALSE;
        }
      *fields[i] = g_strdup (v);
    }
  g_task_return_pointer (task, g_steal_pointer (&keys), (GDestroyNotify) pp_registry_sign_on_keys_free);
  return TRUE;
}

static void
remote_issue_sign_on_keys (PpRegistry *registry, const char *order_uuid, const char *actor,
                           GCancellable *cancellable, GAsyncReadyCallback callback, gpointer user_data)
{
  Call *call;

  if (!check_actor (registry, pp_registry_issue_sign_on_keys_async, actor, cancellable, callback, user_data))
    return;
  /* No Idempotency-Key: a resend makes new working keys, which is harmless. */
  call = call_new ("POST", path_of ("work-orders", order_uuid, "sign-on-keys"), empty_object (), NULL,
                   sign_on_keys_reply);
  remote_call (registry, pp_registry_issue_sign_on_keys_async, call, cancellable, callback, user_data);
}

static void
remote_issue_unbind_token (PpRegistry *registry, const char *order_uuid, GBytes *ct_krd, GBytes *rt_krd,
                           const char *actor, const char *idempotency_key, GCancellable *cancellable,
                           GAsyncReadyCallback callback, gpointer user_data)
{
  g_autoptr(JsonBuilder) b = json_builder_new ();
  Call *call;

  if (!check_actor (registry, pp_registry_issue_unbind_token_async, actor, cancellable, callback, user_data))
    return;
  json_builder_begin_object (b);
  add_base64 (b, "ct_krd", ct_krd);
  add_base64 (b, "rt_krd", rt_krd);
  json_builder_end_object (b);
  call = call_new ("POST", path_of ("work-orders", order_uuid, "unbind-token"),
                   json_builder_get_root (b), idempotency_key, bytes_reply);
  call->member = "ubt_kdh";
  remote_call (registry, pp_registry_issue_unbind_token_async, call, cancellable, callback, user_data);
}

static void
remote_get_program_package (PpRegistry *registry, const char *name, const char *version, const char *model,
                            GCancellable *cancellable, GAsyncReadyCallback callback, gpointer user_data)
{
  g_autofree char *n = esc (name);
  g_autofree char *v = esc (version);
  GString *path = g_string_new (NULL);
  Call *call;

  g_string_printf (path, "api/v1/programs/%s/%s/package", n, v);
  add_query (path, "model", model);
  call = call_new ("GET", g_string_free (path, FALSE), NULL, NULL, bytes_reply);
  call->member = "package";
  remote_call (registry, pp_registry_get_program_package_async, call, cancellable, callback, user_data);
}

static void
pp_registry_remote_iface_init (PpRegistryInterface *iface)
{
  iface->lookup_serial = remote_lookup_serial;
  iface->intake = remote_intake;
  iface->create_merchant = remote_create_merchant;
  iface->search_merchants = remote_search_merchants;
  iface->create_install_order = remote_create_install_order;
  iface->get_order = remote_get_order;
  iface->list_orders = remote_list_orders;
  iface->request_approval = remote_request_approval;
  iface->decide_approval = remote_decide_approval;
  iface->get_approval = remote_get_approval;
  iface->list_approvals = remote_list_approvals;
  iface->get_kdh = remote_get_kdh;
  iface->issue_kdh_credential = remote_issue_kdh_credential;
  iface->issue_key_token = remote_issue_key_token;
  iface->confirm_kcv = remote_confirm_kcv;
  iface->list_programs = remote_list_programs;
  iface->program_installed = remote_program_installed;
  iface->close_order = remote_close_order;
  iface->cancel_order = remote_cancel_order;
  iface->create_recycle_order = remote_create_recycle_order;
  iface->list_audit = remote_list_audit;
  iface->list_changes = remote_list_changes;
  iface->authenticate = remote_authenticate;
  iface->authenticate_otp = remote_authenticate_otp;
  iface->add_user = remote_add_user;
  iface->enroll_otp = remote_enroll_otp;
  iface->list_terminals = remote_list_terminals;
  iface->upload_program = remote_upload_program;
  iface->search_terminals = remote_search_terminals;
  iface->issue_sign_on_keys = remote_issue_sign_on_keys;
  iface->issue_unbind_token = remote_issue_unbind_token;
  iface->get_program_package = remote_get_program_package;
}

/* ---- the event stream (GET /api/v1/events) ---- */

#define WATCH_RETRY_MIN_MS 250
#define WATCH_RETRY_MAX_MS (10 * 1000)
#define WATCH_EVENT_MAX (1024 * 1024)

struct _PpRegistryRemoteWatch
{
  PpRegistryRemote *self;
  PpRegistryRemoteEventFunc func;
  gpointer user_data;
  GDestroyNotify notify;
  GCancellable *cancellable;
  GTask *conn;             /* the stream's connection, its Call for the TLS check */
  GInputStream *stream;
  GString *pending;        /* text of an event not yet whole */
  char *last_id;
  gboolean expired;        /* the server said the session ended */
  gboolean stopped;
  guint connections;
  guint failures;
  guint retry_id;
};

static void watch_connect (PpRegistryRemoteWatch *watch);

static void
watch_clear (PpRegistryRemoteWatch *watch)
{
  g_clear_object (&watch->conn);
  g_clear_object (&watch->stream);
  g_clear_object (&watch->cancellable);
  g_string_free (watch->pending, TRUE);
  g_free (watch->last_id);
  g_object_unref (watch->self);
}

static PpRegistryRemoteWatch *
watch_ref (PpRegistryRemoteWatch *watch)
{
  return g_rc_box_acquire (watch);
}

static void
watch_unref (gpointer watch)
{
  g_rc_box_release_full (watch, (GDestroyNotify) watch_clear);
}

static gboolean
watch_retry (gpointer data)
{
  PpRegistryRemoteWatch *watch = data;

  watch->retry_id = 0;
  watch_connect (watch);
  return G_SOURCE_REMOVE;
}

/* The stream ended or could not be opened: open it again, at once after an
 * expired session, else after a delay that grows while it keeps failing. */
static void
watch_again (PpRegistryRemoteWatch *watch,
             gboolean               now)
{
  guint delay;

  g_clear_object (&watch->stream);
  g_string_truncate (watch->pending, 0);
  if (watch->stopped)
    return;
  delay = now ? 0 : MIN (WATCH_RETRY_MAX_MS, WATCH_RETRY_MIN_MS << MIN (watch->failures, 6u));
  if (!now)
    watch->failures++;
  watch->retry_id = g_timeout_add_full (G_PRIORITY_DEFAULT, delay, watch_retry, watch_ref (watch), watch_unref);
}

/* The server's session ended: the next connection signs in again. */
static void
watch_drop_token (PpRegistryRemoteWatch *watch)
{
  PpRegistryRemote *self = watch->self;
  Call *call = watch->conn != NULL ? g_task_get_task_data (watch->conn) : NULL;

  if (call != NULL && self->token != NULL && g_strcmp0 (self->token, call->token) == 0)
    g_clear_pointer (&self->token, wipe_string);
}

/* One event block: "event:", "id:" and "data:" lines (comments ignored). */
static void
watch_event (PpRegistryRemoteWatch *watch,
             const char            *block)
{
  g_auto(GStrv) lines = g_strsplit (block, "\n", -1);
  g_autoptr(GString) data = g_string_new (NULL);
  const char *event = NULL, *id = NULL;

  for (guint i = 0; lines[i] != NULL; i++)
    {
      const char *line = lines[i];

      if (g_str_has_prefix (line, "event: "))
        event = line + strlen ("event: ");
      else if (g_str_has_prefix (line, "id: "))
        id = line + strlen ("id: ");
      else if (g_str_has_prefix (line, "data: "))
        g_string_append_printf (data, "%s%s", data->len > 0 ? "\n" : "", line + strlen ("data: "));
    }
  if (g_strcmp0 (event, "expired") == 0)
    watch->expired = TRUE;
  else if (g_strcmp0 (event, "reset") == 0)
    {
      g_free (watch->last_id);
      watch->last_id = g_strdup (id);
      watch->func (watch->self, NULL, watch->user_data);
    }
  else if (g_strcmp0 (event, "approval") == 0)
    {
      g_autoptr(JsonNode) node = json_from_string (data->str, NULL);
      g_autoptr(PpRegistryApproval) approval = node != NULL ? pp_registry_approval_from_json (node, NULL) : NULL;

      if (approval == NULL)
        {
          g_debug ("registry: an event this station cannot read: %.200s", data->str);
          return;
        }
      g_free (watch->last_id);
      watch->last_id = g_strdup (id);
      watch->func (watch->self, approval, watch->user_data);
    }
}

static void watch_read (PpRegistryRemoteWatch *watch);

static void
watch_got (GObject      *source,
           GAsyncResult *result,
           gpointer      data)
{
  PpRegistryRemoteWatch *watch = data;
  g_autoptr(GError) error = NULL;
  g_autoptr(GBytes) bytes = g_input_stream_read_bytes_finish (G_INPUT_STREAM (source), result, &error);
  char *end;

  if (watch->stopped)
    ;
  else if (bytes == NULL)
    {
      g_debug ("registry: the event stream broke: %s", error->message);
      watch_again (watch, FALSE);
    }
  else if (g_bytes_get_size (bytes) == 0)
    {
      /* The end: an expired session signs in again and goes on at once. */
      if (watch->expired)
        watch_drop_token (watch);
      watch_again (watch, watch->expired);
    }
  else
    {
      g_string_append_len (watch->pending, g_bytes_get_data (bytes, NULL), (gssize) g_bytes_get_size (bytes));
      g_string_replace (watch->pending, "\r\n", "\n", 0);
      while (!watch->stopped && (end = strstr (watch->pending->str, "\n\n")) != NULL)
        {
          g_autofree char *block = g_strndup (watch->pending->str, end - watch->pending->str);

          g_string_erase (watch->pending, 0, end + 2 - watch->pending->str);
          watch_event (watch, block);
        }
      if (watch->stopped)
        ;
      else if (watch->pending->len > WATCH_EVENT_MAX)
        watch_again (watch, FALSE);
      else
        watch_read (watch);
    }
  watch_unref (watch);
}

static void
watch_read (PpRegistryRemoteWatch *watch)
{
  g_input_stream_read_bytes_async (watch->stream, 4096, G_PRIORITY_DEFAULT, watch->cancellable, watch_got,
                                   watch_ref (watch));
}

static void
watch_sent (GObject      *source,
            GAsyncResult *result,
            gpointer      data)
{
  PpRegistryRemoteWatch *watch = data;
  g_autoptr(GError) error = NULL;
  GInputStream *stream = soup_session_send_finish (SOUP_SESSION (source), result, &error);
  Call *call = g_task_get_task_data (watch->conn);
  guint status = call->msg != NULL ? soup_message_get_status (call->msg) : 0;

  if (watch->stopped)
    g_clear_object (&stream);
  else if (stream == NULL)
    {
      g_debug ("registry: the event stream cannot be opened: %s", error->message);
      watch_again (watch, FALSE);
    }
  else if (status == SOUP_STATUS_OK)
    {
      watch->stream = stream;
      watch->failures = 0;
      watch->connections++;
      watch_read (watch);
    }
  else
    {
      g_object_unref (stream);
      /* A token that expired before the stream opened: sign in again. */
      if (status == SOUP_STATUS_UNAUTHORIZED)
        watch_drop_token (watch);
      watch_again (watch, FALSE);
    }
  watch_unref (watch);
}

static void
watch_send (PpRegistryRemoteWatch *watch)
{
  PpRegistryRemote *self = watch->self;
  g_autoptr(GUri) uri = g_uri_parse_relative (self->base, "api/v1/events", SOUP_HTTP_URI_FLAGS, NULL);
  g_autofree char *bearer = g_strconcat ("Bearer ", self->token, NULL);
  SoupMessageHeaders *headers;
  Call *call = call_new ("GET", g_strdup ("api/v1/events"), NULL, NULL, NULL);

  g_clear_object (&watch->conn);
  watch->conn = g_task_new (self, watch->cancellable, NULL, NULL);
  g_task_set_task_data (watch->conn, call, (GDestroyNotify) call_free);
  /* It only carries the Call for accept_certificate: nothing waits on it. */
  g_task_return_boolean (watch->conn, TRUE);
  call->token = g_strdup (self->token);
  call->msg = soup_message_new_from_uri ("GET", uri);
  headers = soup_message_get_request_headers (call->msg);
  soup_message_headers_replace (headers, "Accept", "text/event-stream");
  soup_message_headers_replace (headers, "Authorization", bearer);
  OPENSSL_cleanse (bearer, strlen (bearer));
  if (watch->last_id != NULL)
    soup_message_headers_replace (headers, "Last-Event-ID", watch->last_id);
  g_signal_connect (call->msg, "accept-certificate", G_CALLBACK (accept_certificate), watch->conn);
  watch->expired = FALSE;
  soup_session_send_async (self->session, call->msg, G_PRIORITY_DEFAULT, watch->cancellable, watch_sent,
                           watch_ref (watch));
}

static void
watch_token_ready (GObject      *source,
                   GAsyncResult *result,
                   gpointer      data)
{
  PpRegistryRemoteWatch *watch = data;
  g_autoptr(GError) error = NULL;

  if (watch->stopped)
    ;
  else if (!g_task_propagate_boolean (G_TASK (result), &error))
    {
      g_debug ("registry: the event stream cannot sign in: %s", error->message);
      watch_again (watch, FALSE);
    }
  else
    watch_send (watch);
  watch_unref (watch);
}

static void
watch_connect (PpRegistryRemoteWatch *watch)
{
  PpRegistryRemote *self = watch->self;
  g_autoptr(GTask) wait = NULL;

  if (watch->stopped)
    return;
  if (self->token != NULL)
    {
      watch_send (watch);
      return;
    }
  /* A task without a Call: login_done just answers it. */
  wait = g_task_new (self, watch->cancellable, watch_token_ready, watch_ref (watch));
  g_task_set_source_tag (wait, watch_connect);
  g_ptr_array_add (self->waiting, g_object_ref (wait));
  if (!self->logging_in)
    start_login (self);
}

PpRegistryRemoteWatch *
pp_registry_remote_watch_events (PpRegistryRemote          *self,
                                 const char                *last_event_id,
                                 PpRegistryRemoteEventFunc  func,
                                 gpointer                   user_data,
                                 GDestroyNotify             notify)
{
  PpRegistryRemoteWatch *watch;

  g_return_val_if_fail (PP_IS_REGISTRY_REMOTE (self), NULL);
  g_return_val_if_fail (func != NULL, NULL);

  watch = g_rc_box_new0 (PpRegistryRemoteWatch);
  watch->self = g_object_ref (self);
  watch->func = func;
  watch->user_data = user_data;
  watch->notify = notify;
  watch->cancellable = g_cancellable_new ();
  watch->pending = g_string_new (NULL);
  watch->last_id = g_strdup (last_event_id);
  watch_connect (watch);
  return watch;
}

void
pp_registry_remote_watch_stop (PpRegistryRemoteWatch *watch)
{
  if (watch == NULL)
    return;
  g_return_if_fail (!watch->stopped);
  watch->stopped = TRUE;
  g_cancellable_cancel (watch->cancellable);
  g_clear_handle_id (&watch->retry_id, g_source_remove);
  if (watch->notify != NULL)
    watch->notify (watch->user_data);
  watch_unref (watch);
}

const char *
pp_registry_remote_watch_get_last_event_id (PpRegistryRemoteWatch *watch)
{
  g_return_val_if_fail (watch != NULL, NULL);
  return watch->last_id;
}

guint
pp_registry_remote_watch_get_connections (PpRegistryRemoteWatch *watch)
{
  g_return_val_if_fail (watch != NULL, 0);
  return watch->connections;
}
