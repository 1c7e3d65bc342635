/* SPDX-License-Identifier: GPL-3.0-or-later
 *
 * pp-registry-server.c: the registry's HTTP/JSON API (docs/registry-api.md)
 * over libsoup 3 with TLS, on top of a PpRegistry.
 *
 * One route table drives everything: matching, the roles allowed, whether
 * the request changes something (then it needs an Idempotency-Key, passed
 * to the verb, which replays its first result), and the handler. A handler
 * checks the body strictly (only the documented members, each of its type)
 * before it calls a verb, so a bad request writes nothing; the message is
 * paused while the verb runs on the registry's own thread and answered
 * from the verb's callback on the main loop.
 *
 * Sessions: a token is 32 random bytes (base64url); the server keeps only
 * its SHA-256, with the user, their role and the expiry. A failed sign-in
 * is answered after a fixed delay, and a user name with too many recent
 * failures is refused (429) until the window has passed, whatever the
 * password, so guessing is slow both ways.
 *
 * Events (GET /api/v1/events): server-sent events, one "approval" event
 * with the approval's JSON whenever a request or a decision made through
 * this server succeeds.
 *
 * Program uploads (POST /api/v1/programs) are the one body that is not
 * JSON (up to 16 MiB); the signer is checked in a worker thread against
 * the trust set with pp_registry_server_set_program_trust. Client
 * certificates, when required, are checked by the TLS layer against the
 * client CAs before any request is read.
 */
#include "config.h"

#include <inttypes.h>
#include <string.h>

#include <glib/gi18n-lib.h>
#include <libsoup/soup.h>
#include <openssl/crypto.h>
#include <openssl/rand.h>

#include "pp-program-package.h"
#include "pp-registry-server.h"

#define JSON_TYPE "application/json"

typedef struct _Request Request;
typedef void (*Handler) (Request *r);

/* Role masks: bits of PpUserRole. */
#define ROLE(r)  (1u << (r))
#define FM       (ROLE (PP_USER_ROLE_FIELD_MANAGER) | ROLE (PP_USER_ROLE_ADMINISTRATOR))
#define REVIEWER ROLE (PP_USER_ROLE_REVIEWER)
#define ADMIN    ROLE (PP_USER_ROLE_ADMINISTRATOR)
#define ANY      (ROLE (PP_USER_ROLE_FIELD_MANAGER) | ROLE (PP_USER_ROLE_REVIEWER) | \
                  ROLE (PP_USER_ROLE_ADMINISTRATOR))
#define NO_SESSION 0u

typedef struct {
  PpRegistryRoute public;
  guint roles;          /* NO_SESSION: no token needed */
  gboolean mutating;    /* needs an Idempotency-Key */
  Handler handler;
  gsize body_max;       /* 0: PP_REGISTRY_SERVER_BODY_MAX, and the body is JSON */
} Route;

typedef struct {
  char *user;
  PpUserRole role;
  gint64 expires;       /* unix seconds */
} Session;

typedef struct {
  guint count;
  gint64 first;         /* unix seconds of the first failure in the window */
} Failures;

struct _PpRegistryServer
{
  GObject parent_instance;

  PpRegistry *registry;
  SoupServer *soup;
  GHashTable *sessions;   /* SHA-256 hex of the token -> Session */
  GHashTable *failures;   /* user name (lower case) -> Failures */
  GList *event_clients;   /* SoupServerMessage, referenced */
  guint keepalive_id;
  char *event_boot;       /* this run's part of the event ids */
  guint64 event_seq;      /* the last event's number */
  GQueue event_log;       /* LoggedEvent: the last PP_REGISTRY_SERVER_EVENT_LOG events, oldest first */
  guint session_seconds;
  guint login_delay_ms;
  GPtrArray *program_trust; /* X509 *, or NULL */
};

G_DEFINE_FINAL_TYPE (PpRegistryServer, pp_registry_server, G_TYPE_OBJECT)

struct _Request
{
  PpRegistryServer *server;
  SoupServerMessage *msg;
  const Route *route;
  char *params[2];          /* the {name} segments of the path, in order */
  GHashTable *query;        /* may be NULL */
  JsonNode *body;           /* POST bodies; NULL when empty */
  GBytes *raw;              /* the body of a route that is not JSON */
  char *user;               /* the session's */
  PpUserRole role;
  char *key;                /* Idempotency-Key */
  char *token_hash;         /* the session's, for DELETE sessions/current */
  guint status;             /* the status a success answers with */
  gpointer finish;          /* the verb's _finish for the shared callbacks */
  gboolean broadcast;       /* send the approval to the event stream */
};

static void
session_free (Session *s)
{
  g_free (s->user);
  g_free (s);
}

static void
request_free (Request *r)
{
  g_object_unref (r->server);
  g_object_unref (r->msg);
  g_free (r->params[0]);
  g_free (r->params[1]);
  g_clear_pointer (&r->query, g_hash_table_unref);
  g_clear_pointer (&r->body, json_node_unref);
  g_clear_pointer (&r->raw, g_bytes_unref);
  g_free (r->user);
  g_free (r->key);
  g_free (r->token_hash);
  g_free (r);
}

/* ---- answers ---- */

static void
set_json (SoupServerMessage *msg,
          guint              status,
          JsonNode          *node)
{
  g_autoptr(JsonNode) owned = node;
  gsize len = 0;
  char *text = json_to_string (owned, FALSE);

  len = strlen (text);
  soup_server_message_set_status (msg, status, NULL);
  soup_server_message_set_response (msg, JSON_TYPE, SOUP_MEMORY_TAKE, text, len);
}

static JsonNode *
problem_node (const char *code,
              const char *message)
{
  g_autoptr(JsonBuilder) b = json_builder_new ();

  json_builder_begin_object (b);
  json_builder_set_member_name (b, "error");
  json_builder_begin_object (b);
  json_builder_set_member_name (b, "code");
  json_builder_add_string_value (b, code);
  json_builder_set_member_name (b, "message");
  json_builder_add_string_value (b, message);
  json_builder_end_object (b);
  json_builder_end_object (b);
  return json_builder_get_root (b);
}

static void
set_problem (SoupServerMessage *msg,
             guint              status,
             const char        *code,
             const char        *message)
{
  set_json (msg, status, problem_node (code, message));
}

/* Answers and ends @r (its message was paused). */
static void
reply_json (Request  *r,
            guint     status,
            JsonNode *node)
{
  set_json (r->msg, status, node);
  soup_server_message_unpause (r->msg);
  request_free (r);
}

static void
reply_problem (Request    *r,
               guint       status,
               const char *code,
               const char *message)
{
  reply_json (r, status, problem_node (code, message));
}

static void
reply_invalid (Request    *r,
               const char *message)
{
  reply_problem (r, SOUP_STATUS_BAD_REQUEST, "invalid", message);
}

static void
reply_error (Request *r,
             GError  *error)
{
  GError *mapped = NULL;
  int code;

  if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    code = PP_REGISTRY_ERROR_CANCELLED;
  else
    {
      pp_registry_propagate_error (&mapped, g_error_copy (error));
      code = mapped->code;
    }
  reply_problem (r, pp_registry_error_code_to_http_status (code),
                 pp_registry_error_code_to_string (code),
                 mapped != NULL ? mapped->message : error->message);
  g_clear_error (&mapped);
}

static void
reply_empty (Request *r)
{
  soup_server_message_set_status (r->msg, SOUP_STATUS_NO_CONTENT, NULL);
  soup_server_message_unpause (r->msg);
  request_free (r);
}

/* ---- reading requests ---- */

/* The body must be a JSON object with only @allowed members (NULL-ended);
 * an empty body is the empty object. FALSE when answered. */
static JsonObject *
body_object (Request            *r,
             const char * const *allowed)
{
  JsonObject *o;
  g_autoptr(GList) names = NULL;

  if (r->body == NULL)
    {
      g_autoptr(JsonNode) empty = json_node_new (JSON_NODE_OBJECT);

      json_node_take_object (empty, json_object_new ());
      r->body = g_steal_pointer (&empty);
    }
  if (!JSON_NODE_HOLDS_OBJECT (r->body))
    {
      reply_invalid (r, _("the request body must be a JSON object"));
      return NULL;
    }
  o = json_node_get_object (r->body);
  names = json_object_get_members (o);
  for (GList *l = names; l != NULL; l = l->next)
    if (allowed == NULL || !g_strv_contains (allowed, l->data))
      {
        g_autofree char *message = g_strdup_printf (_("the request has an unknown member “%s”"),
                                                    (const char *) l->data);

        reply_invalid (r, message);
        return NULL;
      }
  return o;
}

/* A string member: *out NULL when absent or null and !@required. FALSE when answered. */
static gboolean
body_string (Request     *r,
             JsonObject  *o,
             const char  *name,
             gboolean     required,
             const char **out)
{
  JsonNode *m = json_object_get_member (o, name);
  g_autofree char *message = NULL;

  *out = NULL;
  if ((m == NULL || JSON_NODE_HOLDS_NULL (m)) && !required)
    return TRUE;
  if (m != NULL && json_node_get_value_type (m) == G_TYPE_STRING)
    {
      *out = json_node_get_string (m);
      return TRUE;
    }
  message = m == NULL ? g_strdup_printf (_("the request lacks the member “%s”"), name)
                      : g_strdup_printf (_("member “%s” of the request must be a string"), name);
  reply_invalid (r, message);
  return FALSE;
}

static gboolean
body_int (Request    *r,
          JsonObject *o,
          const char *name,
          gint64     *out)
{
  JsonNode *m = json_object_get_member (o, name);
  g_autofree char *message = NULL;

  if (m != NULL && json_node_get_value_type (m) == G_TYPE_INT64)
    {
      *out = json_node_get_int (m);
      return TRUE;
    }
  message = m == NULL ? g_strdup_printf (_("the request lacks the member “%s”"), name)
                      : g_strdup_printf (_("member “%s” of the request must be an integer"), name);
  reply_invalid (r, message);
  return FALSE;
}

/* Base64 of DER: a non-empty, well-formed base64 text whose bytes are one
 * DER element (tag, definite length) covering all of them. NULL when answered. */
static GBytes *
body_der (Request    *r,
          JsonObject *o,
          const char *name)
{
  const char *text;
  g_autofree guchar *data = NULL;
  gsize len = 0, header, value_len = 0;
  g_autofree char *message = NULL;
  gsize n = 0;

  if (!body_string (r, o, name, TRUE, &text))
    return NULL;
  for (const char *p = text; *p != '\0'; p++, n++)
    if (!g_ascii_isalnum (*p) && *p != '+' && *p != '/' && *p != '=')
      break;
  if (n > 0 && n == strlen (text) && n % 4 == 0)
    data = g_base64_decode (text, &len);
  /* The DER element: one tag byte, a definite length (short or long form). */
  if (data != NULL && len >= 2 && (data[0] & 0x1f) != 0x1f)
    {
      if (data[1] < 0x80)
        {
          header = 2;
          value_len = data[1];
        }
      else
        {
          gsize n_len = data[1] & 0x7f;

          header = 2 + n_len;
          if (n_len == 0 || n_len > 4 || len < header)
            header = 0;
          for (gsize i = 0; header != 0 && i < n_len; i++)
            value_len = (value_len << 8) | data[2 + i];
        }
      if (header != 0 && header + value_len == len)
        return g_bytes_new_take (g_steal_pointer (&data), len);
    }
  message = g_strdup_printf (_("member “%s” of the request must be base64 of one DER element"), name);
  reply_invalid (r, message);
  return NULL;
}

static const char *
query (Request    *r,
       const char *name)
{
  return r->query != NULL ? g_hash_table_lookup (r->query, name) : NULL;
}

/* A query number in [@min, @max]; @fallback when absent. FALSE when answered. */
static gboolean
query_int (Request    *r,
           const char *name,
           gint64      min,
           gint64      max,
           gint64      fallback,
           gint64     *out)
{
  const char *text = query (r, name);
  g_autofree char *message = NULL;

  if (text == NULL || *text == '\0')
    {
      *out = fallback;
      return TRUE;
    }
  if (g_ascii_string_to_signed (text, 10, min, max, out, NULL))
    return TRUE;
  message = g_strdup_printf (_("the query parameter “%s” must be a number from %" PRId64 " to %" PRId64),
                             name, min, max);
  reply_invalid (r, message);
  return FALSE;
}

/* `limit`: absent or 0 is the seam's default page, at most
 * PP_REGISTRY_PAGE_MAX (the seam's own bounds). */
static gboolean
query_limit (Request *r,
             gint64  *out)
{
  if (!query_int (r, "limit", 0, PP_REGISTRY_PAGE_MAX, 0, out))
    return FALSE;
  if (*out == 0)
    *out = PP_REGISTRY_PAGE_DEFAULT;
  return TRUE;
}

static gboolean
check_uuid (Request    *r,
            const char *text)
{
  g_autofree char *message = NULL;

  if (g_uuid_string_is_valid (text))
    return TRUE;
  message = g_strdup_printf (_("“%s” is not an id (a UUID) of this registry"), text);
  reply_problem (r, SOUP_STATUS_NOT_FOUND, "not_found", message);
  return FALSE;
}

static JsonNode *
list_node (const char *member,
           GPtrArray  *items,
           JsonNode *(*to_json) (gconstpointer item))
{
  g_autoptr(JsonBuilder) b = json_builder_new ();

  json_builder_begin_object (b);
  json_builder_set_member_name (b, member);
  json_builder_begin_array (b);
  for (guint i = 0; i < items->len; i++)
    json_builder_add_value (b, to_json (g_ptr_array_index (items, i)));
  json_builder_end_array (b);
  json_builder_end_object (b);
  return json_builder_get_root (b);
}

static JsonNode *
bytes_member (const char *member,
              GBytes     *bytes)
{
  g_autoptr(JsonBuilder) b = json_builder_new ();
  gsize len;
  const guchar *data = g_bytes_get_data (bytes, &len);
  g_autofree char *b64 = g_base64_encode (data, len);

  json_builder_begin_object (b);
  json_builder_set_member_name (b, member);
  json_builder_add_string_value (b, b64);
  json_builder_end_object (b);
  return json_builder_get_root (b);
}

/* ---- events ---- */

/* Event ids are "BOOT.SEQ": the server's run and the event's number in it.
 * A reconnecting client sends the last id it saw (Last-Event-ID) and gets
 * what came after it from the log; an id of another run, or older than the
 * log, gets "event: reset" (read the approvals again). A stream ends with
 * "event: expired" when its session does: the client signs in again and
 * reconnects with its last id. */
typedef struct {
  guint64 seq;
  char *text;
} LoggedEvent;

static void
logged_event_free (LoggedEvent *e)
{
  g_free (e->text);
  g_free (e);
}

#define EXPIRY_KEY "pp-registry-server-expiry"

static void
remove_source (gpointer id)
{
  g_source_remove (GPOINTER_TO_UINT (id));
}

static void
event_client_finished (SoupServerMessage *msg,
                       PpRegistryServer  *self)
{
  GList *link = g_list_find (self->event_clients, msg);

  if (link == NULL)
    return;
  self->event_clients = g_list_delete_link (self->event_clients, link);
  g_signal_handlers_disconnect_by_data (msg, self);
  g_object_set_data (G_OBJECT (msg), EXPIRY_KEY, NULL);
  g_object_unref (msg);
}

static gpointer
ref_client (gconstpointer msg,
            gpointer      data)
{
  return g_object_ref ((gpointer) msg);
}

static void
append_event (SoupServerMessage *msg,
              const char        *text)
{
  soup_message_body_append (soup_server_message_get_response_body (msg), SOUP_MEMORY_COPY, text, strlen (text));
  soup_server_message_unpause (msg);
}

static void
send_event (PpRegistryServer *self,
            const char       *text)
{
  /* A copy: a client that goes away while written to leaves the list. */
  GList *clients = g_list_copy_deep (self->event_clients, ref_client, NULL);

  for (GList *l = clients; l != NULL; l = l->next)
    append_event (l->data, text);
  g_list_free_full (clients, g_object_unref);
}

static void
broadcast_approval (PpRegistryServer         *self,
                    const PpRegistryApproval *approval)
{
  g_autoptr(JsonNode) node = pp_registry_approval_to_json (approval);
  g_autofree char *data = json_to_string (node, FALSE);
  LoggedEvent *e = g_new0 (LoggedEvent, 1);

  e->seq = ++self->event_seq;
  e->text = g_strdup_printf ("event: approval\nid: %s.%" G_GUINT64_FORMAT "\ndata: %s\n\n", self->event_boot,
                             e->seq, data);
  g_queue_push_tail (&self->event_log, e);
  while (self->event_log.length > PP_REGISTRY_SERVER_EVENT_LOG)
    logged_event_free (g_queue_pop_head (&self->event_log));
  send_event (self, e->text);
}

static gboolean
keepalive (gpointer data)
{
  send_event (data, ": keep-alive\n\n");
  return G_SOURCE_CONTINUE;
}

/* What a client that saw @last_id missed: the logged events after it, or a
 * reset when the log cannot tell. */
static void
replay_events (PpRegistryServer  *self,
               SoupServerMessage *msg,
               const char        *last_id)
{
  const char *dot = strrchr (last_id, '.');
  guint64 seq = 0;
  guint64 oldest = self->event_log.head != NULL ? ((LoggedEvent *) self->event_log.head->data)->seq
                                                : self->event_seq + 1;

  if (dot != NULL && (gsize) (dot - last_id) == strlen (self->event_boot) &&
      strncmp (last_id, self->event_boot, dot - last_id) == 0 &&
      g_ascii_string_to_unsigned (dot + 1, 10, 0, self->event_seq, &seq, NULL) && seq + 1 >= oldest)
    {
      for (GList *l = self->event_log.head; l != NULL; l = l->next)
        if (((LoggedEvent *) l->data)->seq > seq)
          append_event (msg, ((LoggedEvent *) l->data)->text);
      return;
    }
  {
    g_autofree char *text = g_strdup_printf ("event: reset\nid: %s.%" G_GUINT64_FORMAT "\ndata: {}\n\n",
                                             self->event_boot, self->event_seq);

    append_event (msg, text);
  }
}

typedef struct {
  PpRegistryServer *server;
  SoupServerMessage *msg;
} Expiry;

static gboolean
stream_expired (gpointer data)
{
  Expiry *x = data;
  SoupServerMessage *msg = x->msg;

  /* The source ends with this call: the data no longer removes it. */
  g_object_steal_data (G_OBJECT (msg), EXPIRY_KEY);
  if (g_list_find (x->server->event_clients, msg) != NULL)
    {
      append_event (msg, "event: expired\ndata: {}\n\n");
      soup_message_body_complete (soup_server_message_get_response_body (msg));
      soup_server_message_unpause (msg);
    }
  return G_SOURCE_REMOVE;
}

static void
handle_events (Request *r)
{
  SoupServerMessage *msg = r->msg;
  SoupMessageHeaders *headers = soup_server_message_get_response_headers (msg);
  SoupMessageBody *body = soup_server_message_get_response_body (msg);
  const char *last_id = soup_message_headers_get_one (soup_server_message_get_request_headers (msg),
                                                      "Last-Event-ID");
  Session *session = g_hash_table_lookup (r->server->sessions, r->token_hash);
  static const char hello[] = ": posprov registry events\n\n";
  gint64 left = session != NULL ? session->expires - g_get_real_time () / G_USEC_PER_SEC : 0;
  Expiry *x = g_new0 (Expiry, 1);
  guint id;

  soup_server_message_set_status (msg, SOUP_STATUS_OK, NULL);
  soup_message_headers_set_content_type (headers, "text/event-stream", NULL);
  soup_message_headers_replace (headers, "Cache-Control", "no-store");
  soup_message_headers_set_encoding (headers, SOUP_ENCODING_CHUNKED);
  soup_message_body_set_accumulate (body, FALSE);
  soup_message_body_append (body, SOUP_MEMORY_STATIC, hello, strlen (hello));
  if (last_id != NULL)
    replay_events (r->server, msg, last_id);
  r->server->event_clients = g_list_prepend (r->server->event_clients, g_object_ref (msg));
  g_signal_connect (msg, "finished", G_CALLBACK (event_client_finished), r->server);
  g_signal_connect (msg, "disconnected", G_CALLBACK (event_client_finished), r->server);
  /* The stream lasts as long as the session that opened it. */
  x->server = r->server;
  x->msg = msg;
  id = g_timeout_add_seconds_full (G_PRIORITY_DEFAULT, (guint) CLAMP (left, 0, G_MAXINT), stream_expired, x, g_free);
  g_object_set_data_full (G_OBJECT (msg), EXPIRY_KEY, GUINT_TO_POINTER (id), remove_source);
  soup_server_message_unpause (msg);
  request_free (r);
}

/* ---- shared verb callbacks ---- */

typedef PpWorkOrder        *(*OrderFinish)    (PpRegistry *, GAsyncResult *, GError **);
typedef PpRegistryApproval *(*ApprovalFinish) (PpRegistry *, GAsyncResult *, GError **);

static void
order_done (GObject      *source,
            GAsyncResult *result,
            gpointer      data)
{
  Request *r = data;
  g_autoptr(GError) error = NULL;
  g_autoptr(PpWorkOrder) order = ((OrderFinish) r->finish) (PP_REGISTRY (source), result, &error);

  if (order == NULL)
    reply_error (r, error);
  else
    reply_json (r, r->status, pp_registry_order_to_json (order));
}

static void
approval_done (GObject      *source,
               GAsyncResult *result,
               gpointer      data)
{
  Request *r = data;
  g_autoptr(GError) error = NULL;
  g_autoptr(PpRegistryApproval) approval = ((ApprovalFinish) r->finish) (PP_REGISTRY (source),
                                                                         result, &error);

  if (approval == NULL)
    {
      reply_error (r, error);
      return;
    }
  if (r->broadcast)
    broadcast_approval (r->server, approval);
  reply_json (r, r->status, pp_registry_approval_to_json (approval));
}

/* ---- sessions ---- */

static char *
token_hash (const char *token)
{
  return g_compute_checksum_for_string (G_CHECKSUM_SHA256, token, -1);
}

typedef struct {
  Request *r;
  char *user;
  gboolean ok;
} Login;

static gboolean
login_answer_failure (gpointer data)
{
  Request *r = data;

  reply_problem (r, SOUP_STATUS_UNAUTHORIZED, "unauthorized", _("wrong user name or password"));
  return G_SOURCE_REMOVE;
}

static void
login_done (GObject      *source,
            GAsyncResult *result,
            gpointer      data)
{
  Request *r = data;
  PpRegistryServer *self = r->server;
  g_autoptr(GError) error = NULL;
  g_autoptr(PpUser) user = g_task_get_source_tag (G_TASK (result)) == pp_registry_authenticate_otp_async
                           ? pp_registry_authenticate_otp_finish (PP_REGISTRY (source), result, &error)
                           : pp_registry_authenticate_finish (PP_REGISTRY (source), result, &error);
  g_autofree char *name = g_ascii_strdown (r->user, -1);
  guchar raw[32];
  g_autofree char *token = NULL;
  g_autoptr(JsonBuilder) b = NULL;
  Session *session;
  gint64 now = g_get_real_time () / G_USEC_PER_SEC;

  if (user == NULL)
    {
      if (g_error_matches (error, PP_REGISTRY_ERROR, PP_REGISTRY_ERROR_PERMISSION))
        {
          Failures *f = g_hash_table_lookup (self->failures, name);

          if (f == NULL || now - f->first >= PP_REGISTRY_SERVER_LOGIN_WINDOW_SECONDS)
            {
              f = g_new0 (Failures, 1);
              f->first = now;
              g_hash_table_replace (self->failures, g_strdup (name), f);
            }
          f->count++;
          /* The same answer for an unknown user and a wrong password, after
           * the same delay. */
          g_timeout_add (self->login_delay_ms, login_answer_failure, r);
          return;
        }
      reply_error (r, error);
      return;
    }
  g_hash_table_remove (self->failures, name);

  if (RAND_bytes (raw, sizeof raw) != 1)
    {
      reply_problem (r, SOUP_STATUS_INTERNAL_SERVER_ERROR, "failed",
                     _("no random bytes for a session token"));
      return;
    }
  token = g_base64_encode (raw, sizeof raw);
  OPENSSL_cleanse (raw, sizeof raw);
  /* base64url without padding: it travels in a header. */
  g_strdelimit (token, "+", '-');
  g_strdelimit (token, "/", '_');
  g_strdelimit (token, "=", '\0');

  session = g_new0 (Session, 1);
  session->user = g_strdup (user->username);
  session->role = user->role;
  session->expires = now + self->session_seconds;
  g_hash_table_replace (self->sessions, token_hash (token), session);

  b = json_builder_new ();
  json_builder_begin_object (b);
  json_builder_set_member_name (b, "token");
  json_builder_add_string_value (b, token);
  json_builder_set_member_name (b, "expires");
  json_builder_add_int_value (b, session->expires);
  json_builder_set_member_name (b, "user");
  json_builder_add_string_value (b, user->username);
  json_builder_set_member_name (b, "role");
  json_builder_add_string_value (b, pp_user_role_to_string (user->role));
  json_builder_end_object (b);
  OPENSSL_cleanse (token, strlen (token));
  reply_json (r, SOUP_STATUS_CREATED, json_builder_get_root (b));
}

static gboolean
session_expired (gpointer key,
                 gpointer value,
                 gpointer data)
{
  return ((Session *) value)->expires <= *(gint64 *) data;
}

static gboolean
failures_expired (gpointer key,
                  gpointer value,
                  gpointer data)
{
  return *(gint64 *) data - ((Failures *) value)->first >= PP_REGISTRY_SERVER_LOGIN_WINDOW_SECONDS;
}

/* Drops expired sessions and failure counts, so neither table grows
 * with tokens nobody uses or names somebody made up. */
static void
prune (PpRegistryServer *self,
       gint64            now)
{
  g_hash_table_foreach_remove (self->sessions, session_expired, &now);
  g_hash_table_foreach_remove (self->failures, failures_expired, &now);
}

static void
handle_login (Request *r)
{
  static const char * const allowed[] = { "user", "password", "otp", NULL };
  PpRegistryServer *self = r->server;
  JsonObject *o = body_object (r, allowed);
  const char *user, *password, *otp = NULL;
  g_autofree char *name = NULL;
  Failures *f;
  gint64 now = g_get_real_time () / G_USEC_PER_SEC;

  if (o == NULL || !body_string (r, o, "user", TRUE, &user) ||
      !body_string (r, o, "password", TRUE, &password) ||
      !body_string (r, o, "otp", FALSE, &otp))
    return;
  prune (self, now);
  name = g_ascii_strdown (user, -1);
  f = g_hash_table_lookup (self->failures, name);
  if (f != NULL && f->count >= PP_REGISTRY_SERVER_LOGIN_FAILURES_MAX &&
      now - f->first < PP_REGISTRY_SERVER_LOGIN_WINDOW_SECONDS)
    {
      g_autofree char *message =
        g_strdup_printf (_("too many failed sign-ins for “%s”; try again in %" PRId64 " seconds"),
                         user, f->first + PP_REGISTRY_SERVER_LOGIN_WINDOW_SECONDS - now);

      reply_problem (r, 429, "too_many_requests", message);
      return;
    }
  r->user = g_strdup (user);
  /* "otp" absent: the password alone, as before (a script gives its code
   * to the approval request); present, even empty: the station's two steps. */
  if (otp != NULL)
    pp_registry_authenticate_otp_async (self->registry, user, password, otp, NULL, login_done, r);
  else
    pp_registry_authenticate_async (self->registry, user, password, NULL, login_done, r);
}

static void
handle_logout (Request *r)
{
  if (body_object (r, NULL) == NULL)
    return;
  g_hash_table_remove (r->server->sessions, r->token_hash);
  reply_empty (r);
}

/* ---- users ---- */

static void
user_done (GObject      *source,
           GAsyncResult *result,
           gpointer      data)
{
  Request *r = data;
  g_autoptr(GError) error = NULL;
  g_autoptr(PpUser) user = pp_registry_add_user_finish (PP_REGISTRY (source), result, &error);

  if (user == NULL)
    reply_error (r, error);
  else
    reply_json (r, SOUP_STATUS_CREATED, pp_registry_user_to_json (user));
}

static void
handle_add_user (Request *r)
{
  static const char * const allowed[] = { "name", "role", "password", NULL };
  JsonObject *o = body_object (r, allowed);
  const char *name, *role_name, *password;
  PpUserRole role;

  if (o == NULL || !body_string (r, o, "name", TRUE, &name) ||
      !body_string (r, o, "role", TRUE, &role_name) ||
      !body_string (r, o, "password", TRUE, &password))
    return;
  if (!pp_user_role_from_string (role_name, &role))
    {
      reply_invalid (r, _("member “role” must be “field_manager”, “reviewer” or “administrator”"));
      return;
    }
  pp_registry_add_user_async (r->server->registry, name, role, password, r->user, r->key, NULL,
                              user_done, r);
}

static void
otp_done (GObject      *source,
          GAsyncResult *result,
          gpointer      data)
{
  Request *r = data;
  g_autoptr(GError) error = NULL;
  g_autoptr(PpSecureBuffer) uri = pp_registry_enroll_otp_finish (PP_REGISTRY (source), result, &error);
  g_autoptr(JsonBuilder) b = NULL;
  JsonNode *node;

  if (uri == NULL)
    {
      reply_error (r, error);
      return;
    }
  b = json_builder_new ();
  json_builder_begin_object (b);
  json_builder_set_member_name (b, "otpauth_uri");
  json_builder_add_string_value (b, (const char *) pp_secure_buffer_peek (uri));
  json_builder_end_object (b);
  node = json_builder_get_root (b);
  reply_json (r, SOUP_STATUS_CREATED, node);
}

static void
handle_enroll_otp (Request *r)
{
  g_autofree char *name = g_ascii_strdown (r->params[0], -1);

  if (body_object (r, NULL) == NULL)
    return;
  /* An administrator enrols anyone; a user only themself. */
  if (r->role != PP_USER_ROLE_ADMINISTRATOR && g_strcmp0 (name, r->user) != 0)
    {
      reply_problem (r, SOUP_STATUS_FORBIDDEN, "permission",
                     _("only an administrator enrols one-time codes for another user"));
      return;
    }
  pp_registry_enroll_otp_async (r->server->registry, r->params[0], r->user, NULL, otp_done, r);
}

/* ---- terminals ---- */

static void
lookup_done (GObject      *source,
             GAsyncResult *result,
             gpointer      data)
{
  Request *r = data;
  g_autoptr(GError) error = NULL;
  g_autoptr(PpRegistrySerialCheck) check = pp_registry_lookup_serial_finish (PP_REGISTRY (source),
                                                                             result, &error);

  if (check == NULL)
    reply_error (r, error);
  else if (check->status == PP_REGISTRY_SERIAL_UNKNOWN)
    {
      g_autofree char *message = g_strdup_printf (_("terminal %s is not in the register"), check->serial);

      reply_problem (r, SOUP_STATUS_NOT_FOUND, "not_found", message);
    }
  else
    reply_json (r, SOUP_STATUS_OK, pp_registry_serial_check_to_json (check));
}

static void
handle_get_terminal (Request *r)
{
  pp_registry_lookup_serial_async (r->server->registry, r->params[0], query (r, "order"), NULL,
                                   lookup_done, r);
}

static void
intake_done (GObject      *source,
             GAsyncResult *result,
             gpointer      data)
{
  Request *r = data;
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonBuilder) b = NULL;
  guint added = 0;

  if (!pp_registry_intake_finish (PP_REGISTRY (source), result, &added, &error))
    {
      reply_error (r, error);
      return;
    }
  b = json_builder_new ();
  json_builder_begin_object (b);
  json_builder_set_member_name (b, "added");
  json_builder_add_int_value (b, added);
  json_builder_end_object (b);
  reply_json (r, SOUP_STATUS_CREATED, json_builder_get_root (b));
}

#define INTAKE_ROWS_MAX 10000

static void
handle_intake (Request *r)
{
  static const char * const allowed[] = { "serial", "vendor", "model", NULL };
  g_autofree PpTerminalIntake *rows = NULL;
  PpTerminalState state = PP_TERMINAL_STATE_IN_STOCK;
  const char *state_name = query (r, "state");
  JsonArray *array;
  guint n;

  if (state_name != NULL &&
      (!pp_terminal_state_from_string (state_name, &state) ||
       (state != PP_TERMINAL_STATE_IN_STOCK && state != PP_TERMINAL_STATE_RECEIVED)))
    {
      reply_invalid (r, _("the query parameter “state” must be “in_stock” or “received”"));
      return;
    }
  if (r->body == NULL || !JSON_NODE_HOLDS_ARRAY (r->body))
    {
      reply_invalid (r, _("the request body must be a JSON list of terminals"));
      return;
    }
  array = json_node_get_array (r->body);
  n = json_array_get_length (array);
  if (n == 0 || n > INTAKE_ROWS_MAX)
    {
      g_autofree char *message = g_strdup_printf (_("an intake takes 1 to %d terminals"), INTAKE_ROWS_MAX);

      reply_invalid (r, message);
      return;
    }
  rows = g_new0 (PpTerminalIntake, n);
  for (guint i = 0; i < n; i++)
    {
      JsonNode *row = json_array_get_element (array, i);
      g_autoptr(GList) names = NULL;
      JsonObject *o;

      if (!JSON_NODE_HOLDS_OBJECT (row))
        {
          g_autofree char *message = g_strdup_printf (_("terminal %u of the list must be a JSON object"), i + 1);

          reply_invalid (r, message);
          return;
        }
      o = json_node_get_object (row);
      names = json_object_get_members (o);
      for (GList *l = names; l != NULL; l = l->next)
        if (!g_strv_contains (allowed, l->data))
          {
            g_autofree char *message = g_strdup_printf (_("terminal %u of the list has an unknown member “%s”"),
                                                        i + 1, (const char *) l->data);

            reply_invalid (r, message);
            return;
          }
      if (!body_string (r, o, "serial", TRUE, &rows[i].serial) ||
          !body_string (r, o, "vendor", TRUE, &rows[i].vendor) ||
          !body_string (r, o, "model", TRUE, &rows[i].model))
        return;
    }
  pp_registry_intake_async (r->server->registry, rows, n, state, r->user, r->key, NULL, intake_done, r);
}

static JsonNode *
terminal_json (gconstpointer item)
{
  return pp_terminal_to_json ((PpTerminal *) item);
}

static void
list_terminals_done (GObject      *source,
                     GAsyncResult *result,
                     gpointer      data)
{
  Request *r = data;
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) terminals = pp_registry_list_terminals_finish (PP_REGISTRY (source), result, &error);
  JsonNode *node;

  if (terminals == NULL)
    {
      reply_error (r, error);
      return;
    }
  node = list_node ("terminals", terminals, terminal_json);
  /* The cursor of the next page: the last serial, when the page was full. */
  if (terminals->len > 0 && terminals->len == GPOINTER_TO_UINT (r->finish))
    json_object_set_string_member (json_node_get_object (node), "next",
                                   pp_terminal_get_serial (g_ptr_array_index (terminals, terminals->len - 1)));
  else
    json_object_set_null_member (json_node_get_object (node), "next");
  reply_json (r, SOUP_STATUS_OK, node);
}

/* The station's inventory (issue 8, helper station8): a page by position
 * with the total; "next" as the serial cursor's, for the same clients. */
static void
search_terminals_done (GObject      *source,
                       GAsyncResult *result,
                       gpointer      data)
{
  Request *r = data;
  g_autoptr(GError) error = NULL;
  guint total = 0;
  g_autoptr(GPtrArray) terminals =
    pp_registry_search_terminals_finish (PP_REGISTRY (source), result, &total, &error);
  JsonNode *node;

  if (terminals == NULL)
    {
      reply_error (r, error);
      return;
    }
  node = list_node ("terminals", terminals, terminal_json);
  json_object_set_int_member (json_node_get_object (node), "total", total);
  if (terminals->len > 0 && terminals->len == GPOINTER_TO_UINT (r->finish))
    json_object_set_string_member (json_node_get_object (node), "next",
                                   pp_terminal_get_serial (g_ptr_array_index (terminals, terminals->len - 1)));
  else
    json_object_set_null_member (json_node_get_object (node), "next");
  reply_json (r, SOUP_STATUS_OK, node);
}

/* ?after= pages by serial; without it, ?query= and ?offset= page by
 * position and the answer carries the total. */
static void
handle_list_terminals (Request *r)
{
  PpTerminalState state = PP_TERMINAL_STATE_ANY;
  const char *state_name = query (r, "state");
  const char *after = query (r, "after");
  const char *search = query (r, "query");
  gint64 limit;
  gint64 offset;

  if (state_name != NULL && *state_name != '\0' && !pp_terminal_state_from_string (state_name, &state))
    {
      reply_invalid (r, _("the query parameter “state” must be a terminal state"));
      return;
    }
  if (!query_limit (r, &limit) ||
      !query_int (r, "offset", 0, G_MAXINT32, 0, &offset))
    return;
  r->finish = GUINT_TO_POINTER ((guint) limit);
  if (after == NULL)
    {
      pp_registry_search_terminals_async (r->server->registry, search, state, (guint) offset,
                                          (guint) limit, NULL, search_terminals_done, r);
      return;
    }
  if (search != NULL || query (r, "offset") != NULL)
    {
      reply_invalid (r, _("the query parameter “after” cannot go with “query” or “offset”"));
      return;
    }
  pp_registry_list_terminals_async (r->server->registry, state, after, (guint) limit, NULL,
                                    list_terminals_done, r);
}

/* ---- merchants ---- */

static void
merchant_done (GObject      *source,
               GAsyncResult *result,
               gpointer      data)
{
  Request *r = data;
  g_autoptr(GError) error = NULL;
  g_autoptr(PpMerchant) merchant = pp_registry_create_merchant_finish (PP_REGISTRY (source), result,
                                                                       &error);

  if (merchant == NULL)
    reply_error (r, error);
  else
    reply_json (r, SOUP_STATUS_CREATED, pp_registry_merchant_to_json (merchant));
}

static void
handle_create_merchant (Request *r)
{
  static const char * const allowed[] = { "name", "registration_number", "address", "mcc",
                                          "contact_name", "contact_phone", NULL };
  JsonObject *o = body_object (r, allowed);
  PpMerchantFields fields = { 0 };

  if (o == NULL || !body_string (r, o, "name", TRUE, &fields.name) ||
      !body_string (r, o, "registration_number", TRUE, &fields.registration_number) ||
      !body_string (r, o, "address", TRUE, &fields.address) ||
      !body_string (r, o, "mcc", TRUE, &fields.mcc) ||
      !body_string (r, o, "contact_name", TRUE, &fields.contact_name) ||
      !body_string (r, o, "contact_phone", TRUE, &fields.contact_phone))
    return;
  pp_registry_create_merchant_async (r->server->registry, &fields, r->user, r->key, NULL,
                                     merchant_done, r);
}

static JsonNode *
merchant_json (gconstpointer item)
{
  return pp_registry_merchant_to_json (item);
}

static void
search_merchants_done (GObject      *source,
                       GAsyncResult *result,
                       gpointer      data)
{
  Request *r = data;
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) found = pp_registry_search_merchants_finish (PP_REGISTRY (source), result, &error);

  if (found == NULL)
    reply_error (r, error);
  else
    reply_json (r, SOUP_STATUS_OK, list_node ("merchants", found, merchant_json));
}

static void
handle_search_merchants (Request *r)
{
  gint64 limit;

  if (!query_limit (r, &limit))
    return;
  pp_registry_search_merchants_async (r->server->registry, query (r, "query"), (guint) limit, NULL,
                                      search_merchants_done, r);
}

/* ---- work orders ---- */

static void
handle_create_order (Request *r)
{
  static const char * const allowed[] = { "serial", "merchant_id", "program", "key_type", NULL };
  JsonObject *o = body_object (r, allowed);
  const char *serial, *program, *key_type_name;
  gint64 merchant_id;
  PpTmkType key_type = PP_TMK_AES_128;

  if (o == NULL || !body_string (r, o, "serial", TRUE, &serial) ||
      !body_int (r, o, "merchant_id", &merchant_id) ||
      !body_string (r, o, "program", TRUE, &program) ||
      !body_string (r, o, "key_type", FALSE, &key_type_name))
    return;
  if (key_type_name != NULL && !pp_tmk_type_from_string (key_type_name, &key_type))
    {
      reply_invalid (r, _("member “key_type” must be a key type such as “aes-128”"));
      return;
    }
  r->finish = pp_registry_create_install_order_finish;
  r->status = SOUP_STATUS_CREATED;
  pp_registry_create_install_order_async (r->server->registry, serial, merchant_id, program, key_type,
                                          r->user, r->key, NULL, order_done, r);
}

static void
handle_get_order (Request *r)
{
  if (!check_uuid (r, r->params[0]))
    return;
  r->finish = pp_registry_get_order_finish;
  pp_registry_get_order_async (r->server->registry, r->params[0], NULL, order_done, r);
}

static JsonNode *
order_json (gconstpointer item)
{
  return pp_registry_order_to_json (item);
}

static void
list_orders_done (GObject      *source,
                  GAsyncResult *result,
                  gpointer      data)
{
  Request *r = data;
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) orders = pp_registry_list_orders_finish (PP_REGISTRY (source), result, &error);

  if (orders == NULL)
    reply_error (r, error);
  else
    reply_json (r, SOUP_STATUS_OK, list_node ("orders", orders, order_json));
}

static void
handle_list_orders (Request *r)
{
  pp_registry_list_orders_async (r->server->registry, query (r, "serial"), NULL, list_orders_done, r);
}

static void
handle_program_installed (Request *r)
{
  if (body_object (r, NULL) == NULL || !check_uuid (r, r->params[0]))
    return;
  r->finish = pp_registry_program_installed_finish;
  pp_registry_program_installed_async (r->server->registry, r->params[0], r->user, r->key, NULL,
                                       order_done, r);
}

static void
handle_close (Request *r)
{
  if (body_object (r, NULL) == NULL || !check_uuid (r, r->params[0]))
    return;
  r->finish = pp_registry_close_order_finish;
  pp_registry_close_order_async (r->server->registry, r->params[0], r->user, r->key, NULL, order_done, r);
}

static void
handle_cancel (Request *r)
{
  static const char * const allowed[] = { "reason", NULL };
  JsonObject *o = body_object (r, allowed);
  const char *reason;

  if (o == NULL || !body_string (r, o, "reason", TRUE, &reason) || !check_uuid (r, r->params[0]))
    return;
  r->finish = pp_registry_cancel_order_finish;
  pp_registry_cancel_order_async (r->server->registry, r->params[0], reason, r->user, r->key, NULL,
                                  order_done, r);
}

static void
handle_recycle (Request *r)
{
  static const char * const allowed[] = { "serial", "reason", NULL };
  JsonObject *o = body_object (r, allowed);
  const char *serial, *reason;

  if (o == NULL || !body_string (r, o, "serial", TRUE, &serial) ||
      !body_string (r, o, "reason", FALSE, &reason))
    return;
  r->finish = pp_registry_create_recycle_order_finish;
  r->status = SOUP_STATUS_CREATED;
  pp_registry_create_recycle_order_async (r->server->registry, serial, reason, r->user, r->key, NULL,
                                          order_done, r);
}

/* ---- approvals ---- */

static void
handle_request_approval (Request *r)
{
  static const char * const allowed[] = { "terminal_qr", "otp", NULL };
  JsonObject *o = body_object (r, allowed);
  const char *scanned, *otp;

  if (o == NULL || !body_string (r, o, "terminal_qr", FALSE, &scanned) ||
      !body_string (r, o, "otp", FALSE, &otp) || !check_uuid (r, r->params[0]))
    return;
  /* The verb checks the code itself once the requester has one enrolled;
   * a code of the wrong form is refused here before it reaches it. */
  if (otp != NULL && (strlen (otp) < 6 || strlen (otp) > 8 || strspn (otp, "0123456789") != strlen (otp)))
    {
      reply_invalid (r, _("member “otp” must be the 6 to 8 digits of the authenticator"));
      return;
    }
  r->finish = pp_registry_request_approval_finish;
  r->status = SOUP_STATUS_CREATED;
  r->broadcast = TRUE;
  pp_registry_request_approval_async (r->server->registry, r->params[0], scanned, otp, r->user, r->key, NULL,
                                      approval_done, r);
}

static void
handle_decision (Request *r)
{
  static const char * const allowed[] = { "decision", "reason", NULL };
  JsonObject *o = body_object (r, allowed);
  const char *decision, *reason;
  gboolean approve;

  if (o == NULL || !body_string (r, o, "decision", TRUE, &decision) ||
      !body_string (r, o, "reason", FALSE, &reason) || !check_uuid (r, r->params[0]))
    return;
  if (g_str_equal (decision, "approve"))
    approve = TRUE;
  else if (g_str_equal (decision, "reject"))
    approve = FALSE;
  else
    {
      reply_invalid (r, _("member “decision” must be “approve” or “reject”"));
      return;
    }
  r->finish = pp_registry_decide_approval_finish;
  r->status = SOUP_STATUS_OK;
  r->broadcast = TRUE;
  pp_registry_decide_approval_async (r->server->registry, r->params[0], approve, reason, r->user, r->key,
                                     NULL, approval_done, r);
}

static void
handle_get_approval (Request *r)
{
  g_autofree char *code = pp_approval_code_normalize (r->params[0]);

  /* The UUID, or the short code the reviewer scanned or typed. */
  if (code == NULL && !check_uuid (r, r->params[0]))
    return;
  r->finish = pp_registry_get_approval_finish;
  pp_registry_get_approval_async (r->server->registry, r->params[0], NULL, approval_done, r);
}

static JsonNode *
approval_json (gconstpointer item)
{
  return pp_registry_approval_to_json (item);
}

static void
list_approvals_done (GObject      *source,
                     GAsyncResult *result,
                     gpointer      data)
{
  Request *r = data;
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) approvals = pp_registry_list_approvals_finish (PP_REGISTRY (source), result, &error);

  if (approvals == NULL)
    reply_error (r, error);
  else
    reply_json (r, SOUP_STATUS_OK, list_node ("approvals", approvals, approval_json));
}

static void
handle_list_approvals (Request *r)
{
  const char *state = query (r, "state");

  if (state != NULL && !g_str_equal (state, "pending") && !g_str_equal (state, "all"))
    {
      reply_invalid (r, _("the query parameter “state” must be “pending” or “all”"));
      return;
    }
  pp_registry_list_approvals_async (r->server->registry, g_strcmp0 (state, "all") != 0, NULL,
                                    list_approvals_done, r);
}

/* ---- the key host ---- */

static char *
pem_of_der (GBytes *der)
{
  gsize len;
  const guchar *data = g_bytes_get_data (der, &len);
  g_autofree char *b64 = g_base64_encode (data, len);
  GString *pem = g_string_new ("-----BEGIN CERTIFICATE-----\n");
  gsize n = strlen (b64);

  for (gsize i = 0; i < n; i += 64)
    {
      g_string_append_len (pem, b64 + i, MIN (64, n - i));
      g_string_append_c (pem, '\n');
    }
  g_string_append (pem, "-----END CERTIFICATE-----\n");
  return g_string_free (pem, FALSE);
}

static void
kdh_done (GObject      *source,
          GAsyncResult *result,
          gpointer      data)
{
  Request *r = data;
  g_autoptr(GError) error = NULL;
  g_autoptr(GBytes) certificate = NULL;
  g_autoptr(GBytes) crl = NULL;
  g_autoptr(JsonBuilder) b = NULL;
  g_autofree char *pem = NULL;

  if (!pp_registry_get_kdh_finish (PP_REGISTRY (source), result, &certificate, &crl, &error))
    {
      reply_error (r, error);
      return;
    }
  pem = pem_of_der (certificate);
  b = json_builder_new ();
  json_builder_begin_object (b);
  json_builder_set_member_name (b, "certificate");
  json_builder_add_string_value (b, pem);
  json_builder_set_member_name (b, "crl");
  if (crl != NULL)
    {
      gsize len;
      const guchar *der = g_bytes_get_data (crl, &len);
      g_autofree char *b64 = g_base64_encode (der, len);

      json_builder_add_string_value (b, b64);
    }
  else
    json_builder_add_null_value (b);
  json_builder_end_object (b);
  reply_json (r, SOUP_STATUS_OK, json_builder_get_root (b));
}

static void
handle_kdh (Request *r)
{
  pp_registry_get_kdh_async (r->server->registry, NULL, kdh_done, r);
}

typedef GBytes *(*BytesFinish) (PpRegistry *, GAsyncResult *, GError **);

static void
token_done (GObject      *source,
            GAsyncResult *result,
            gpointer      data)
{
  Request *r = data;
  g_autoptr(GError) error = NULL;
  g_autoptr(GBytes) token = ((BytesFinish) r->finish) (PP_REGISTRY (source), result, &error);

  if (token == NULL)
    reply_error (r, error);
  else
    reply_json (r, SOUP_STATUS_OK,
                bytes_member (r->finish == (gpointer) pp_registry_issue_key_token_finish ? "kt_kdh"
                                                                                        : "ct_kdh",
                              token));
}

static void
handle_kdh_credential (Request *r)
{
  if (body_object (r, NULL) == NULL || !check_uuid (r, r->params[0]))
    return;
  r->finish = pp_registry_issue_kdh_credential_finish;
  pp_registry_issue_kdh_credential_async (r->server->registry, r->params[0], r->user, r->key, NULL,
                                          token_done, r);
}

static void
handle_key_token (Request *r)
{
  static const char * const allowed[] = { "ct_krd", "rt_krd", NULL };
  JsonObject *o = body_object (r, allowed);
  g_autoptr(GBytes) ct_krd = NULL;
  g_autoptr(GBytes) rt_krd = NULL;

  if (o == NULL || (ct_krd = body_der (r, o, "ct_krd")) == NULL ||
      (rt_krd = body_der (r, o, "rt_krd")) == NULL || !check_uuid (r, r->params[0]))
    return;
  r->finish = pp_registry_issue_key_token_finish;
  pp_registry_issue_key_token_async (r->server->registry, r->params[0], ct_krd, rt_krd, r->user, r->key,
                                     NULL, token_done, r);
}

static void
handle_kcv (Request *r)
{
  static const char * const allowed[] = { "kcv", NULL };
  JsonObject *o = body_object (r, allowed);
  const char *kcv;

  if (o == NULL || !body_string (r, o, "kcv", TRUE, &kcv) || !check_uuid (r, r->params[0]))
    return;
  if (strlen (kcv) < 4 || strlen (kcv) > 16 || !g_str_is_ascii (kcv) ||
      strspn (kcv, "0123456789abcdefABCDEF") != strlen (kcv))
    {
      reply_invalid (r, _("member “kcv” must be 4 to 16 hexadecimal digits"));
      return;
    }
  r->finish = pp_registry_confirm_kcv_finish;
  r->status = SOUP_STATUS_OK;
  pp_registry_confirm_kcv_async (r->server->registry, r->params[0], kcv, r->user, r->key, NULL,
                                 order_done, r);
}

/* ---- catalogue, journal, changes ---- */

static JsonNode *
record_json (gconstpointer item)
{
  return pp_registry_program_to_json (item);
}

static void
upload_done (GObject      *source,
             GAsyncResult *result,
             gpointer      data)
{
  Request *r = data;
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) records = pp_registry_upload_program_finish (PP_REGISTRY (source), result, &error);

  if (records == NULL)
    reply_error (r, error);
  else
    reply_json (r, SOUP_STATUS_CREATED, list_node ("programs", records, record_json));
}

/* The signature check (RSA, hashing up to 16 MiB) runs in a worker. */
static void
verify_thread (GTask        *task,
               gpointer      source,
               gpointer      data,
               GCancellable *cancellable)
{
  Request *r = data;
  g_autoptr(GError) error = NULL;
  g_autoptr(PpProgramPackage) package = pp_program_package_new_from_bytes (r->raw, &error);

  if (package == NULL || !pp_program_package_verify (package, r->server->program_trust, 0, &error))
    g_task_return_error (task, g_steal_pointer (&error));
  else
    g_task_return_boolean (task, TRUE);
}

static void
verify_done (GObject      *source,
             GAsyncResult *result,
             gpointer      data)
{
  Request *r = data;
  g_autoptr(GError) error = NULL;

  if (!g_task_propagate_boolean (G_TASK (result), &error))
    {
      g_autofree char *message = g_strdup_printf (_("the program package is refused: %s"), error->message);

      reply_invalid (r, message);
      return;
    }
  pp_registry_upload_program_async (r->server->registry, r->raw, r->user, r->key, NULL, upload_done, r);
}

static void
handle_upload_program (Request *r)
{
  g_autoptr(GTask) task = NULL;

  if (r->server->program_trust == NULL || r->server->program_trust->len == 0)
    {
      reply_problem (r, SOUP_STATUS_SERVICE_UNAVAILABLE, "unavailable",
                     _("this registry trusts no program signer, so it takes no uploads; the "
                       "administrator starts it with --program-trust"));
      return;
    }
  if (r->raw == NULL)
    {
      reply_invalid (r, _("the request body must be the program package"));
      return;
    }
  task = g_task_new (NULL, NULL, verify_done, r);
  g_task_set_task_data (task, r, NULL);
  g_task_run_in_thread (task, verify_thread);
}

static JsonNode *
program_json (gconstpointer item)
{
  return pp_registry_program_to_json (item);
}

static void
programs_done (GObject      *source,
               GAsyncResult *result,
               gpointer      data)
{
  Request *r = data;
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) programs = pp_registry_list_programs_finish (PP_REGISTRY (source), result, &error);

  if (programs == NULL)
    reply_error (r, error);
  else
    reply_json (r, SOUP_STATUS_OK, list_node ("programs", programs, program_json));
}

static void
handle_list_programs (Request *r)
{
  pp_registry_list_programs_async (r->server->registry, query (r, "model"), NULL, programs_done, r);
}

static JsonNode *
audit_json (gconstpointer item)
{
  return pp_registry_audit_entry_to_json (item);
}

static void
audit_done (GObject      *source,
            GAsyncResult *result,
            gpointer      data)
{
  Request *r = data;
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) entries = pp_registry_list_audit_finish (PP_REGISTRY (source), result, &error);

  if (entries == NULL)
    reply_error (r, error);
  else
    reply_json (r, SOUP_STATUS_OK, list_node ("entries", entries, audit_json));
}

static void
handle_audit (Request *r)
{
  gint64 after, limit;

  if (!query_int (r, "after", 0, G_MAXINT64, 0, &after) ||
      !query_limit (r, &limit))
    return;
  pp_registry_list_audit_async (r->server->registry, after, (guint) limit, NULL, audit_done, r);
}

static JsonNode *
change_json (gconstpointer item)
{
  return pp_registry_change_to_json (item);
}

static void
changes_done (GObject      *source,
              GAsyncResult *result,
              gpointer      data)
{
  Request *r = data;
  g_autoptr(GError) error = NULL;
  gint64 cursor = GPOINTER_TO_SIZE (r->finish);
  g_autoptr(GPtrArray) changes = pp_registry_list_changes_finish (PP_REGISTRY (source), result, &cursor,
                                                                  &error);
  JsonNode *node;

  if (changes == NULL)
    {
      reply_error (r, error);
      return;
    }
  node = list_node ("changes", changes, change_json);
  json_object_set_int_member (json_node_get_object (node), "cursor", cursor);
  reply_json (r, SOUP_STATUS_OK, node);
}

static void
handle_changes (Request *r)
{
  gint64 since, limit;

  if (!query_int (r, "since", 0, G_MAXINT32, 0, &since) ||
      !query_limit (r, &limit))
    return;
  r->finish = GSIZE_TO_POINTER ((gsize) since);
  pp_registry_list_changes_async (r->server->registry, since, (guint) limit, NULL, changes_done, r);
}

/* ---- the install and recycle flows (issue 9, core/flows) ---- */

static void
sign_on_keys_done (GObject      *source,
                   GAsyncResult *result,
                   gpointer      data)
{
  Request *r = data;
  g_autoptr(GError) error = NULL;
  g_autoptr(PpRegistrySignOnKeys) keys = pp_registry_issue_sign_on_keys_finish (PP_REGISTRY (source), result,
                                                                                &error);
  g_autoptr(JsonBuilder) b = NULL;

  if (keys == NULL)
    {
      reply_error (r, error);
      return;
    }
  b = json_builder_new ();
  json_builder_begin_object (b);
  json_builder_set_member_name (b, "pin_block");
  json_builder_add_string_value (b, keys->pin_block);
  json_builder_set_member_name (b, "mac_block");
  json_builder_add_string_value (b, keys->mac_block);
  json_builder_set_member_name (b, "pin_kcv");
  json_builder_add_string_value (b, keys->pin_kcv);
  json_builder_set_member_name (b, "mac_kcv");
  json_builder_add_string_value (b, keys->mac_kcv);
  json_builder_end_object (b);
  reply_json (r, SOUP_STATUS_OK, json_builder_get_root (b));
}

static void
handle_sign_on_keys (Request *r)
{
  if (body_object (r, NULL) == NULL || !check_uuid (r, r->params[0]))
    return;
  pp_registry_issue_sign_on_keys_async (r->server->registry, r->params[0], r->user, NULL,
                                        sign_on_keys_done, r);
}

static void
unbind_token_done (GObject      *source,
                   GAsyncResult *result,
                   gpointer      data)
{
  Request *r = data;
  g_autoptr(GError) error = NULL;
  g_autoptr(GBytes) token = pp_registry_issue_unbind_token_finish (PP_REGISTRY (source), result, &error);

  if (token == NULL)
    reply_error (r, error);
  else
    reply_json (r, SOUP_STATUS_OK, bytes_member ("ubt_kdh", token));
}

static void
handle_unbind_token (Request *r)
{
  static const char * const allowed[] = { "ct_krd", "rt_krd", NULL };
  JsonObject *o = body_object (r, allowed);
  g_autoptr(GBytes) ct_krd = NULL;
  g_autoptr(GBytes) rt_krd = NULL;

  if (o == NULL || (ct_krd = body_der (r, o, "ct_krd")) == NULL ||
      (rt_krd = body_der (r, o, "rt_krd")) == NULL || !check_uuid (r, r->params[0]))
    return;
  pp_registry_issue_unbind_token_async (r->server->registry, r->params[0], ct_krd, rt_krd, r->user, r->key,
                                        NULL, unbind_token_done, r);
}

static void
package_done (GObject      *source,
              GAsyncResult *result,
              gpointer      data)
{
  Request *r = data;
  g_autoptr(GError) error = NULL;
  g_autoptr(GBytes) package = pp_registry_get_program_package_finish (PP_REGISTRY (source), result, &error);

  if (package == NULL)
    reply_error (r, error);
  else
    reply_json (r, SOUP_STATUS_OK, bytes_member ("package", package));
}

static void
handle_program_package (Request *r)
{
  const char *model = query (r, "model");

  if (model == NULL || *model == '\0')
    {
      reply_invalid (r, _("the query parameter “model” is required"));
      return;
    }
  pp_registry_get_program_package_async (r->server->registry, r->params[0], r->params[1], model, NULL,
                                         package_done, r);
}

/* ---- the route table ---- */

#define R(method, path, roles_text, roles, mutating, handler) \
  { { method, path, roles_text }, roles, mutating, handler, 0 }

static const Route routes[] = {
  R ("POST",   "/api/v1/sessions",                          "none",          NO_SESSION, FALSE, handle_login),
  R ("DELETE", "/api/v1/sessions/current",                  "any",           ANY,        FALSE, handle_logout),
  R ("POST",   "/api/v1/users",                             "administrator", ADMIN,      TRUE,  handle_add_user),
  /* No Idempotency-Key: the secret is never recorded; a retry enrols anew. */
  R ("POST",   "/api/v1/users/{name}/otp",                  "any",           ANY,        FALSE, handle_enroll_otp),
  R ("GET",    "/api/v1/terminals",                         "any",           ANY,        FALSE, handle_list_terminals),
  R ("POST",   "/api/v1/terminals",                         "field_manager,administrator", FM, TRUE, handle_intake),
  R ("GET",    "/api/v1/terminals/{serial}",                "any",           ANY,        FALSE, handle_get_terminal),
  R ("GET",    "/api/v1/merchants",                         "any",           ANY,        FALSE, handle_search_merchants),
  R ("POST",   "/api/v1/merchants",                         "field_manager,administrator", FM, TRUE, handle_create_merchant),
  R ("GET",    "/api/v1/work-orders",                       "any",           ANY,        FALSE, handle_list_orders),
  R ("POST",   "/api/v1/work-orders",                       "field_manager,administrator", FM, TRUE, handle_create_order),
  R ("GET",    "/api/v1/work-orders/{id}",                  "any",           ANY,        FALSE, handle_get_order),
  R ("POST",   "/api/v1/work-orders/{id}/approval-request", "field_manager,administrator", FM, TRUE, handle_request_approval),
  R ("POST",   "/api/v1/work-orders/{id}/kdh-credential",   "field_manager,administrator", FM, TRUE, handle_kdh_credential),
  R ("POST",   "/api/v1/work-orders/{id}/key-token",        "field_manager,administrator", FM, TRUE, handle_key_token),
  R ("POST",   "/api/v1/work-orders/{id}/kcv",              "field_manager,administrator", FM, TRUE, handle_kcv),
  R ("POST",   "/api/v1/work-orders/{id}/program-installed", "field_manager,administrator", FM, TRUE, handle_program_installed),
  R ("POST",   "/api/v1/work-orders/{id}/close",            "field_manager,administrator", FM, TRUE, handle_close),
  R ("POST",   "/api/v1/work-orders/{id}/cancel",           "field_manager,administrator", FM, TRUE, handle_cancel),
  R ("POST",   "/api/v1/recycle-orders",                    "field_manager,administrator", FM, TRUE, handle_recycle),
  R ("GET",    "/api/v1/approvals",                         "any",           ANY,        FALSE, handle_list_approvals),
  R ("GET",    "/api/v1/approvals/{id}",                    "any",           ANY,        FALSE, handle_get_approval),
  R ("POST",   "/api/v1/approvals/{id}/decision",           "reviewer",      REVIEWER,   TRUE,  handle_decision),
  R ("GET",    "/api/v1/events",                            "any",           ANY,        FALSE, handle_events),
  R ("GET",    "/api/v1/kdh",                               "any",           ANY,        FALSE, handle_kdh),
  R ("GET",    "/api/v1/programs",                          "any",           ANY,        FALSE, handle_list_programs),
  { { "POST",  "/api/v1/programs", "field_manager,administrator" }, FM, TRUE, handle_upload_program,
    PP_REGISTRY_SERVER_PROGRAM_MAX },
  R ("GET",    "/api/v1/audit",                             "reviewer,administrator", REVIEWER | ADMIN, FALSE, handle_audit),
  R ("GET",    "/api/v1/changes",                           "any",           ANY,        FALSE, handle_changes),
  /* the install and recycle flows (issue 9); sign-on keys take no
   * Idempotency-Key: working keys are never recorded, a retry makes new ones */
  R ("POST",   "/api/v1/work-orders/{id}/sign-on-keys",     "field_manager,administrator", FM, FALSE, handle_sign_on_keys),
  R ("POST",   "/api/v1/work-orders/{id}/unbind-token",     "field_manager,administrator", FM, TRUE, handle_unbind_token),
  R ("GET",    "/api/v1/programs/{name}/{version}/package", "any",           ANY,        FALSE, handle_program_package),
};

const PpRegistryRoute *
pp_registry_server_get_routes (guint *n_routes)
{
  static PpRegistryRoute table[G_N_ELEMENTS (routes)];
  static gsize done = 0;

  if (g_once_init_enter (&done))
    {
      for (gsize i = 0; i < G_N_ELEMENTS (routes); i++)
        table[i] = routes[i].public;
      g_once_init_leave (&done, 1);
    }
  if (n_routes != NULL)
    *n_routes = G_N_ELEMENTS (routes);
  return table;
}

/* Matches @path against @pattern, collecting the {name} segments
 * (percent-decoded by libsoup already). */
static gboolean
match_path (const char  *pattern,
            const char  *path,
            char       **params)
{
  g_auto(GStrv) want = g_strsplit (pattern, "/", -1);
  g_auto(GStrv) got = g_strsplit (path, "/", -1);
  guint n_params = 0;

  if (g_strv_length (want) != g_strv_length (got))
    return FALSE;
  for (guint i = 0; want[i] != NULL; i++)
    {
      if (want[i][0] == '{')
        {
          if (got[i][0] == '\0' || n_params >= 2)
            return FALSE;
          continue;
        }
      if (!g_str_equal (want[i], got[i]))
        return FALSE;
    }
  for (guint i = 0; want[i] != NULL; i++)
    if (want[i][0] == '{')
      {
        /* A segment that does not decode (a bad escape, a NUL) names nothing. */
        char *value = g_uri_unescape_string (got[i], "/");

        if (value == NULL)
          {
            for (guint j = 0; j < n_params; j++)
              g_clear_pointer (&params[j], g_free);
            return FALSE;
          }
        params[n_params++] = value;
      }
  return TRUE;
}

/* The route for @method and @path; *out_path_known when some route has
 * the path (405 rather than 404). */
static const Route *
find_route (const char  *method,
            const char  *path,
            char       **params,
            gboolean    *out_path_known)
{
  *out_path_known = FALSE;
  for (gsize i = 0; i < G_N_ELEMENTS (routes); i++)
    {
      char *found[2] = { NULL, NULL };

      if (!match_path (routes[i].public.path, path, found))
        continue;
      *out_path_known = TRUE;
      if (g_str_equal (routes[i].public.method, method))
        {
          params[0] = found[0];
          params[1] = found[1];
          return &routes[i];
        }
      g_free (found[0]);
      g_free (found[1]);
    }
  return NULL;
}

/* Finds the session of the bearer token; FALSE with the answer set. */
static gboolean
authorise (PpRegistryServer  *self,
           SoupServerMessage *msg,
           const Route       *route,
           Request           *r)
{
  const char *header = soup_message_headers_get_one (soup_server_message_get_request_headers (msg),
                                                     "Authorization");
  g_autofree char *hash = NULL;
  Session *session;

  if (header == NULL || g_ascii_strncasecmp (header, "Bearer ", 7) != 0 || header[7] == '\0')
    {
      soup_message_headers_replace (soup_server_message_get_response_headers (msg), "WWW-Authenticate",
                                    "Bearer realm=\"posprov-registry\"");
      set_problem (msg, SOUP_STATUS_UNAUTHORIZED, "unauthorized",
                   _("sign in first (POST /api/v1/sessions) and send the token as “Authorization: Bearer TOKEN”"));
      return FALSE;
    }
  hash = token_hash (header + 7);
  session = g_hash_table_lookup (self->sessions, hash);
  if (session != NULL && session->expires <= g_get_real_time () / G_USEC_PER_SEC)
    {
      g_hash_table_remove (self->sessions, hash);
      set_problem (msg, SOUP_STATUS_UNAUTHORIZED, "unauthorized", _("the session expired; sign in again"));
      return FALSE;
    }
  if (session == NULL)
    {
      set_problem (msg, SOUP_STATUS_UNAUTHORIZED, "unauthorized",
                   _("the session token is not valid (signed out, expired or never issued); sign in again"));
      return FALSE;
    }
  if ((route->roles & ROLE (session->role)) == 0)
    {
      g_autofree char *message =
        g_strdup_printf (_("user “%s” (%s) may not %s %s; it needs the role %s"), session->user,
                         pp_user_role_to_string (session->role), route->public.method, route->public.path,
                         route->public.roles);

      set_problem (msg, SOUP_STATUS_FORBIDDEN, "permission", message);
      return FALSE;
    }
  r->user = g_strdup (session->user);
  r->role = session->role;
  r->token_hash = g_steal_pointer (&hash);
  return TRUE;
}

static void
server_callback (SoupServer        *soup,
                 SoupServerMessage *msg,
                 const char        *path,
                 GHashTable        *query_table,
                 gpointer           data)
{
  PpRegistryServer *self = data;
  const char *method = soup_server_message_get_method (msg);
  SoupMessageHeaders *headers = soup_server_message_get_request_headers (msg);
  SoupMessageBody *body = soup_server_message_get_request_body (msg);
  gboolean path_known;
  Request *r = g_new0 (Request, 1);

  r->server = g_object_ref (self);
  r->msg = g_object_ref (msg);
  r->status = SOUP_STATUS_OK;
  r->route = find_route (method, path, r->params, &path_known);
  if (r->route == NULL)
    {
      g_autofree char *message = g_strdup_printf (_("no %s %s in this registry's API"), method, path);

      set_problem (msg, path_known ? SOUP_STATUS_METHOD_NOT_ALLOWED : SOUP_STATUS_NOT_FOUND,
                   path_known ? "method_not_allowed" : "not_found", message);
      request_free (r);
      return;
    }
  if (r->route->roles != NO_SESSION && !authorise (self, msg, r->route, r))
    {
      request_free (r);
      return;
    }
  if (r->route->mutating)
    {
      const char *key = soup_message_headers_get_one (headers, "Idempotency-Key");

      if (key == NULL || !g_uuid_string_is_valid (key))
        {
          set_problem (msg, SOUP_STATUS_BAD_REQUEST, "invalid",
                       key == NULL ? _("this request changes something: send an “Idempotency-Key” header "
                                       "with a UUID made once for it")
                                   : _("the “Idempotency-Key” header must be a UUID"));
          request_free (r);
          return;
        }
      r->key = g_ascii_strdown (key, -1);
    }
  if (body->length > 0 && r->route->body_max != 0)
    r->raw = soup_message_body_flatten (body);
  else if (body->length > 0)
    {
      g_autoptr(GBytes) bytes = soup_message_body_flatten (body);
      g_autoptr(JsonParser) parser = json_parser_new_immutable ();
      g_autoptr(GError) error = NULL;
      gsize len;
      const char *text = g_bytes_get_data (bytes, &len);

      if (!g_utf8_validate (text, len, NULL) || !json_parser_load_from_data (parser, text, len, &error))
        {
          g_autofree char *message = g_strdup_printf (_("the request body is not JSON: %s"),
                                                      error != NULL ? error->message : _("not UTF-8"));

          set_problem (msg, SOUP_STATUS_BAD_REQUEST, "invalid", message);
          request_free (r);
          return;
        }
      r->body = json_parser_steal_root (parser);
    }

  r->query = query_table != NULL ? g_hash_table_ref (query_table) : NULL;
  soup_server_message_pause (msg);
  r->route->handler (r);
}

/* Refuses oversize bodies before they are read. */
static void
early_callback (SoupServer        *soup,
                SoupServerMessage *msg,
                const char        *path,
                GHashTable        *query_table,
                gpointer           data)
{
  SoupMessageHeaders *headers = soup_server_message_get_request_headers (msg);
  SoupEncoding encoding = soup_message_headers_get_encoding (headers);
  goffset length = soup_message_headers_get_content_length (headers);
  char *params[2] = { NULL, NULL };
  gboolean path_known;
  const Route *route = find_route (soup_server_message_get_method (msg), path, params, &path_known);
  gsize limit = route != NULL && route->body_max != 0 ? route->body_max : PP_REGISTRY_SERVER_BODY_MAX;

  g_free (params[0]);
  g_free (params[1]);

  if (encoding == SOUP_ENCODING_CHUNKED || encoding == SOUP_ENCODING_EOF)
    set_problem (msg, SOUP_STATUS_LENGTH_REQUIRED, "length_required",
                 _("send the request body with a Content-Length"));
  else if (encoding == SOUP_ENCODING_CONTENT_LENGTH && length > (goffset) limit)
    {
      g_autofree char *message = g_strdup_printf (_("the request body is over the limit of %" PRIu64 " bytes"),
                                                  (guint64) limit);

      set_problem (msg, SOUP_STATUS_REQUEST_ENTITY_TOO_LARGE, "payload_too_large", message);
    }
}

/* ---- the object ---- */

static void
pp_registry_server_dispose (GObject *object)
{
  PpRegistryServer *self = PP_REGISTRY_SERVER (object);

  g_clear_handle_id (&self->keepalive_id, g_source_remove);
  while (self->event_clients != NULL)
    event_client_finished (self->event_clients->data, self);
  if (self->soup != NULL)
    soup_server_disconnect (self->soup);
  g_clear_object (&self->soup);
  g_clear_object (&self->registry);
  G_OBJECT_CLASS (pp_registry_server_parent_class)->dispose (object);
}

static void
pp_registry_server_finalize (GObject *object)
{
  PpRegistryServer *self = PP_REGISTRY_SERVER (object);

  g_hash_table_unref (self->sessions);
  g_hash_table_unref (self->failures);
  g_clear_pointer (&self->program_trust, g_ptr_array_unref);
  g_queue_clear_full (&self->event_log, (GDestroyNotify) logged_event_free);
  g_free (self->event_boot);
  G_OBJECT_CLASS (pp_registry_server_parent_class)->finalize (object);
}

static void
pp_registry_server_class_init (PpRegistryServerClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->dispose = pp_registry_server_dispose;
  object_class->finalize = pp_registry_server_finalize;
}

static void
pp_registry_server_init (PpRegistryServer *self)
{
  self->sessions = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, (GDestroyNotify) session_free);
  self->failures = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  self->session_seconds = PP_REGISTRY_SERVER_DEFAULT_SESSION_SECONDS;
  self->login_delay_ms = PP_REGISTRY_SERVER_DEFAULT_LOGIN_DELAY_MS;
  self->event_boot = g_strdup_printf ("%08x", g_random_int ());
  g_queue_init (&self->event_log);
}

PpRegistryServer *
pp_registry_server_new (PpRegistry      *registry,
                        GTlsCertificate *certificate)
{
  PpRegistryServer *self;

  g_return_val_if_fail (PP_IS_REGISTRY (registry), NULL);
  g_return_val_if_fail (G_IS_TLS_CERTIFICATE (certificate), NULL);

  self = g_object_new (PP_TYPE_REGISTRY_SERVER, NULL);
  self->registry = g_object_ref (registry);
  self->soup = soup_server_new ("tls-certificate", certificate, "server-header", "posprov-registry ", NULL);
  soup_server_add_early_handler (self->soup, NULL, early_callback, self, NULL);
  soup_server_add_handler (self->soup, NULL, server_callback, self, NULL);
  self->keepalive_id = g_timeout_add_seconds (15, keepalive, self);
  return self;
}

void
pp_registry_server_set_session_lifetime (PpRegistryServer *self,
                                         guint             seconds)
{
  g_return_if_fail (PP_IS_REGISTRY_SERVER (self));
  g_return_if_fail (seconds > 0);
  self->session_seconds = seconds;
}

void
pp_registry_server_set_login_delay (PpRegistryServer *self,
                                    guint             milliseconds)
{
  g_return_if_fail (PP_IS_REGISTRY_SERVER (self));
  self->login_delay_ms = milliseconds;
}

/* libsoup refuses every client certificate nobody accepts: accept the
 * ones the client CAs verified without a fault. */
static gboolean
accept_client (SoupServerMessage    *msg,
               GTlsCertificate      *certificate,
               GTlsCertificateFlags  errors,
               gpointer              data)
{
  return errors == 0;
}

static void
request_started (SoupServer        *soup,
                 SoupServerMessage *msg,
                 gpointer           data)
{
  g_signal_connect (msg, "accept-certificate", G_CALLBACK (accept_client), data);
}

void
pp_registry_server_require_client_certificates (PpRegistryServer *self,
                                                GTlsDatabase     *client_cas)
{
  g_return_if_fail (PP_IS_REGISTRY_SERVER (self));
  g_return_if_fail (client_cas == NULL || G_IS_TLS_DATABASE (client_cas));
  soup_server_set_tls_database (self->soup, client_cas);
  g_signal_connect (self->soup, "request-started", G_CALLBACK (request_started), self);
  soup_server_set_tls_auth_mode (self->soup, client_cas != NULL ? G_TLS_AUTHENTICATION_REQUIRED
                                                                : G_TLS_AUTHENTICATION_NONE);
}

void
pp_registry_server_set_program_trust (PpRegistryServer *self,
                                      GPtrArray        *trust)
{
  g_return_if_fail (PP_IS_REGISTRY_SERVER (self));
  g_clear_pointer (&self->program_trust, g_ptr_array_unref);
  if (trust != NULL)
    self->program_trust = g_ptr_array_ref (trust);
}

gboolean
pp_registry_server_listen (PpRegistryServer   *self,
                           GInetSocketAddress *address,
                           guint              *out_port,
                           GError            **error)
{
  GSList *uris;

  g_return_val_if_fail (PP_IS_REGISTRY_SERVER (self), FALSE);
  g_return_val_if_fail (G_IS_INET_SOCKET_ADDRESS (address), FALSE);

  if (!soup_server_listen (self->soup, G_SOCKET_ADDRESS (address), SOUP_SERVER_LISTEN_HTTPS, error))
    return FALSE;
  uris = soup_server_get_uris (self->soup);
  if (out_port != NULL)
    *out_port = uris != NULL ? (guint) g_uri_get_port (uris->data) : 0;
  g_slist_free_full (uris, (GDestroyNotify) g_uri_unref);
  return TRUE;
}
