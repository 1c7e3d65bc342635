/* SPDX-License-Identifier: GPL-3.0-or-later
 *
 * pp-store-private.h: what the store's own files share: the instance struct,
 * transaction helpers and the audit append that runs inside the caller's
 * transaction. Not for use outside core/store.
 */
#pragma once

#include <sqlite3.h>

#include "pp-keystore.h"
#include "pp-store.h"

G_BEGIN_DECLS

/* The statement cleanup of the store's files: resets @stmt and keeps it
 * for the next pp_store_prepare of the same SQL on its connection (a
 * statement of a connection without a cache is finalized). */
void pp_store_stmt_release (sqlite3_stmt *stmt);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (sqlite3_stmt, pp_store_stmt_release)

struct _PpStore
{
  GObject parent_instance;

  char *path;
  sqlite3 *db;
  int schema_version;

  /* Journal sealing (pp-store-audit.c): the key of the newest epoch this
   * connection knows, and the next epoch's key, made by an append that
   * starts a new epoch and saved to the key store only once the
   * transaction commits. */
  PpKeyStore *journal_keys;
  PpJournalKey *journal_key;
  PpJournalKey *journal_pending;
  gboolean journal_unsaved;
  gboolean demo;  /* opened with PpStoreOptions.demo */

  /* An idempotent request (pp_store_run_request) holds one outer
   * transaction; the verb it runs opens and ends a savepoint instead. */
  gboolean in_request;
  guint inner_open;
  gboolean inner_had_pending;
  gboolean request_doomed;
};

#define PP_TERMINAL_COLUMNS \
  "serial, vendor, model, state, cert_fingerprint, mid, tid, program_version, kcv, " \
  "created_at, updated_at"

PpTerminal   *pp_terminal_new_from_stmt (sqlite3_stmt *stmt);

gint64        pp_store_now              (void);

/* Sets @error from the connection's last failure (BUSY, constraint, ...). */
void          pp_store_set_sql_error    (PpStore     *self,
                                         GError     **error,
                                         const char  *what);
sqlite3_stmt *pp_store_prepare          (PpStore     *self,
                                         const char  *sql,
                                         GError     **error);
gboolean      pp_store_exec             (PpStore     *self,
                                         const char  *sql,
                                         GError     **error);

/* BEGIN IMMEDIATE: takes the write lock up front so read-then-write inside
 * the transaction cannot race another connection. */
gboolean      pp_store_begin            (PpStore     *self,
                                         GError     **error);
gboolean      pp_store_commit           (PpStore     *self,
                                         GError     **error);
void          pp_store_rollback         (PpStore     *self);

/* Appends one journal entry; call inside an open transaction. Takes
 * ownership of @detail (a JSON object, may be NULL). */
gboolean      pp_store_audit_append     (PpStore     *self,
                                         const char  *actor,
                                         const char  *action,
                                         const char  *subject,
                                         JsonNode    *detail,
                                         GError     **error);

/* After COMMIT / ROLLBACK: saves or drops a new epoch's key. Called by
 * pp_store_commit and pp_store_rollback. */
void          pp_store_audit_committed  (PpStore     *self);
void          pp_store_audit_rolled_back (PpStore    *self);
void          pp_store_audit_dispose    (PpStore     *self);
/* The secret of the journal's key store at @location (pp-store-keys.c):
 * $POSPROV_KEY_STORE_SECRET, else for the default soft store the
 * passphrase file beside it (made at random when @create and the key store
 * is new), else none (*out_secret NULL, TRUE). FALSE with an error when the
 * passphrase file cannot be used. */
gboolean      pp_store_get_key_store_secret (PpStore         *self,
                                             const char      *location,
                                             gboolean         create,
                                             PpSecureBuffer **out_secret,
                                             GError         **error);

/* Settings table; returns @fallback when unset. */
char         *pp_store_get_setting      (PpStore     *self,
                                         const char  *key,
                                         const char  *fallback,
                                         GError     **error);
gboolean      pp_store_put_setting      (PpStore     *self,
                                         const char  *key,
                                         const char  *value,
                                         GError     **error);

/* Reads the current state of @serial (upper case). NOT_FOUND if absent. */
gboolean      pp_store_read_state       (PpStore         *self,
                                         const char      *serial,
                                         PpTerminalState *out_state,
                                         GError         **error);
/* Checks and writes a state change inside the open transaction. */
gboolean      pp_store_move_terminal    (PpStore         *self,
                                         const char      *serial,
                                         PpTerminalState  to,
                                         GError         **error);

/* Issues the next MID or TID (@kind "mid" or "tid") under the configured
 * prefix, inside the open transaction, and records it as issued. */
gboolean      pp_store_issue_number     (PpStore         *self,
                                         const char      *kind,
                                         char             out[16],
                                         GError         **error);

/* Inside the demo seed's transaction: PP_STORE_ERROR_DEMO if the store has users of its
 * own (a real store). */
gboolean      pp_store_check_demo_seed  (PpStore         *self,
                                         GError         **error);

/* Reads a user (NOT_FOUND if absent); @hash_out (optional) gets the stored hash. */
PpUser       *pp_store_lookup_user      (PpStore         *self,
                                         const char      *username,
                                         char           **hash_out,
                                         GError         **error);
/* The check every work-order verb makes of who is acting, inside the open
 * transaction, before anything is changed or journalled: @username must be a
 * user of this station holding one of @allowed_roles (a mask of
 * PP_USER_ROLE_BIT). Else PP_STORE_ERROR_PERMISSION naming the user, their
 * role and @what ("record keying of work order 12"). The schema has no
 * disabled flag: every stored user is active. Returns the user, whose
 * username (lower case) is the one to journal. */
#define PP_USER_ROLE_BIT(role) (1u << (role))
/* Who may do what: field managers and administrators run orders and move
 * terminals, reviewers decide orders (and nothing else, so no one approves
 * what they carried out). */
#define PP_STORE_ORDER_RUNNERS (PP_USER_ROLE_BIT (PP_USER_ROLE_FIELD_MANAGER) | \
                                PP_USER_ROLE_BIT (PP_USER_ROLE_ADMINISTRATOR))
#define PP_STORE_ORDER_DECIDERS PP_USER_ROLE_BIT (PP_USER_ROLE_REVIEWER)
PpUser       *pp_store_require_actor    (PpStore         *self,
                                         const char      *username,
                                         guint            allowed_roles,
                                         const char      *what,
                                         GError         **error);
/* Inserts an already hashed user and journals it, inside the open transaction;
 * @actor is recorded as the one who created the account and set its role and
 * password. */
gboolean      pp_store_insert_user      (PpStore         *self,
                                         const char      *username,
                                         const char      *display_name,
                                         PpUserRole       role,
                                         const char      *password_hash,
                                         const char      *actor,
                                         GError         **error);

/* Idempotency: records @request_id (nullable: no-op) for @action on @subject
 * inside the open transaction. A second call with the same id, action and
 * subject sets *out_replayed (the caller then changes nothing); the same id
 * for something else is DUPLICATE. */
gboolean      pp_store_claim_request    (PpStore         *self,
                                         const char      *request_id,
                                         const char      *action,
                                         const char      *subject,
                                         gboolean        *out_replayed,
                                         GError         **error);

/* The demo seed's install of one in_stock terminal (with a certificate on
 * record), inside the caller's transaction, through the same steps and checks
 * as the order verbs: @runner opens an AES-128 install order for @merchant_id
 * and stops there for @until pending_install; else @reviewer approves, the
 * made-up @kcv is recorded as released and reported by the terminal (keyed);
 * then the program is installed and the order closed (installed); then
 * @runner opens a recycle order (recycled). */
gboolean      pp_store_demo_run_orders  (PpStore         *self,
                                         const char      *serial,
                                         gint64           merchant_id,
                                         const char      *program_version,
                                         const char      *kcv,
                                         PpTerminalState  until,
                                         const char      *runner,
                                         const char      *reviewer,
                                         GError         **error);

G_END_DECLS
