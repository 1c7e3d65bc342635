/* SPDX-License-Identifier: GPL-3.0-or-later
 *
 * pp-store.h: the provisioning domain store (terminal register, merchants,
 * work orders, approvals, users, audit journal) over one SQLite file.
 *
 * One PpStore per thread; two threads use two PpStore on the same file.
 * Every verb that changes data runs in one BEGIN IMMEDIATE transaction and
 * appends its audit entry inside that same transaction: either the change
 * and its journal entry are both stored, or neither is.
 */
#pragma once

#include <gio/gio.h>
#include <json-glib/json-glib.h>

#include "pp-merchant.h"
#include "pp-terminal.h"
#include "pp-secure-buffer.h"
#include "pp-user.h"
#include "pp-work-order.h"

G_BEGIN_DECLS

#define PP_STORE_ERROR (pp_store_error_quark ())
typedef enum {
  PP_STORE_ERROR_OPEN,            /* cannot open / not a database */
  PP_STORE_ERROR_NEWER_SCHEMA,    /* "database schema version N is newer than this posprov (M)" */
  PP_STORE_ERROR_SQL,             /* unexpected SQLite failure */
  PP_STORE_ERROR_NOT_FOUND,       /* no such serial / order / user */
  PP_STORE_ERROR_DUPLICATE,       /* serial already registered, etc. */
  PP_STORE_ERROR_ILLEGAL_TRANSITION, /* message names current state and transition */
  PP_STORE_ERROR_INVALID,         /* field validation failed; message names the field */
  PP_STORE_ERROR_PERMISSION,      /* wrong role, self-approval, bad password */
  PP_STORE_ERROR_BUSY,
  PP_STORE_ERROR_KCV_MISMATCH,    /* reported KCV differs from the expected one */
  PP_STORE_ERROR_APPROVAL_VOID,   /* what was approved changed; message says what */
  PP_STORE_ERROR_DEMO,            /* demo data where only a real store may be, or the reverse */
  PP_STORE_ERROR_REQUEST_REUSED,  /* an idempotency key used for another request */
} PpStoreError;

GQuark pp_store_error_quark (void);

#define PP_TYPE_STORE (pp_store_get_type ())
G_DECLARE_FINAL_TYPE (PpStore, pp_store, PP, STORE, GObject)

/* Opens/creates the SQLite file (parent dirs created), WAL, foreign keys, busy timeout,
 * applies migrations. One PpStore per thread; two threads = two PpStore on the same file. */
PpStore    *pp_store_open               (const char  *path,
                                         GError     **error);
/* Same, for a store that must exist already: a missing or empty file, or
 * an SQLite database that is not a posprov store, is PP_STORE_ERROR_OPEN.
 * Both refuse what is not a regular file (a FIFO, /dev/null) and a file
 * that is not a posprov store, naming what it is. */
PpStore    *pp_store_open_existing      (const char  *path,
                                         GError     **error);
/* What the store is opened for (pp_store_open_full()). */
typedef struct {
  gboolean    demo;          /* a demo store: demo data, accounts with a published password */
  const char *key_store;     /* the key store location it will be used with (a folder for the
                              * soft store, a "pkcs11:" URI); NULL or "": none */
  const char *registry_url;  /* the remote registry it will sync with; NULL or "": none (the
                              * embedded local registry) */
} PpStoreOptions;

/* pp_store_open() for a purpose. A demo store (@options->demo, or a file that holds the
 * demo seed) can never be used with a PKCS#11 key store or a remote registry: its accounts
 * have a published password, so anyone could approve a key release from the token or push
 * demo data to the registry. Such a combination is refused with PP_STORE_ERROR_DEMO (when
 * @options->demo, before the file is created or touched). A demo open of a store that is not
 * a demo store but holds users or terminals is refused with PP_STORE_ERROR_DEMO too: demo
 * data is never mixed into a real register. Neither message repeats the key store URI or
 * the registry URL (they may carry a PIN or credentials). @options NULL: pp_store_open(). */
PpStore    *pp_store_open_full          (const char            *path,
                                         const PpStoreOptions  *options,
                                         GError               **error);
/* TRUE for a store opened with PpStoreOptions.demo or holding the demo seed: the station
 * says so on screen and lists the demo accounts. */
gboolean    pp_store_is_demo_store      (PpStore               *self);
/* TRUE if the store has at least one user; a real store without users needs its first
 * administrator (pp_store_create_first_administrator()). */
gboolean    pp_store_has_users          (PpStore               *self,
                                         gboolean              *out_has_users,
                                         GError               **error);

/* Opens an existing store for reading only, for someone with read access to the file
 * alone (an auditor running `audit verify` on a copy, a store on read-only media).
 * Nothing is written, not even the WAL switch or a migration: a store older or newer than
 * this build is refused (PP_STORE_ERROR_NEWER_SCHEMA for newer, PP_STORE_ERROR_OPEN for
 * older), and every verb that writes fails with PP_STORE_ERROR_OPEN. */
PpStore    *pp_store_open_read_only     (const char  *path,
                                         GError     **error);
const char *pp_store_get_path           (PpStore     *self);
int         pp_store_get_schema_version (PpStore     *self);
/* Highest migration this build knows. */
int         pp_store_get_supported_schema_version (void);

/* Terminal intake (asset import). All rows in ONE transaction: either all are added or none
 * (then error says which serial failed, e.g. duplicate). New terminals enter as "in_stock".
 * Writes one audit entry per call. @actor is recorded as given and not checked against the
 * station's users: it is a system actor (posprov-tool passes the operating-system user
 * name). Work-order verbs, which cover key loading, check theirs (see below). */
typedef struct {
  const char *serial;   /* validated with pp_validate_serial, stored upper case */
  const char *vendor;
  const char *model;
} PpTerminalIntake;

gboolean    pp_store_add_terminals (PpStore                *self,
                                    const PpTerminalIntake *rows,
                                    guint                   n_rows,
                                    const char             *actor,
                                    GError                **error);
/* Same, entering as @initial_state: PP_TERMINAL_STATE_RECEIVED (delivered, not yet
 * checked into stock) or PP_TERMINAL_STATE_IN_STOCK; any other is PP_STORE_ERROR_INVALID. */
gboolean    pp_store_add_terminals_in_state (PpStore                *self,
                                             const PpTerminalIntake *rows,
                                             guint                   n_rows,
                                             PpTerminalState         initial_state,
                                             const char             *actor,
                                             GError                **error);
gboolean    pp_store_has_terminal  (PpStore                *self,
                                    const char             *serial,
                                    gboolean               *out_exists,
                                    GError                **error);
/* out_exists[i] = whether serials[i] (any case) is in the register, for
 * all @n_serials in one snapshot; for checking a whole intake file. */
gboolean    pp_store_find_terminals (PpStore            *self,
                                     const char * const *serials,
                                     guint               n_serials,
                                     gboolean           *out_exists,
                                     GError            **error);
PpTerminal *pp_store_get_terminal  (PpStore                *self,
                                    const char             *serial,
                                    GError                **error); /* NOT_FOUND */

/* Listing for the inventory and the tool. serial_search: NULL/"" = all; else case-insensitive
 * substring. state: PP_TERMINAL_STATE_ANY or one state. Ordered by serial. */
guint       pp_store_count_terminals (PpStore         *self,
                                      const char      *serial_search,
                                      PpTerminalState  state,
                                      GError         **error);
GPtrArray  *pp_store_list_terminals  (PpStore         *self,
                                      const char      *serial_search,
                                      PpTerminalState  state,
                                      guint            offset,
                                      guint            limit,
                                      GError         **error);  /* element-type PpTerminal, owned */

/* Same, choosing how serial_search matches: SUBSTRING (as above) or PREFIX (the serial
 * starts with it, case-insensitive; answered from an index range, fast on any size). */
typedef enum {
  PP_SERIAL_MATCH_SUBSTRING,
  PP_SERIAL_MATCH_PREFIX,
} PpSerialMatch;

guint       pp_store_count_terminals_full (PpStore         *self,
                                           const char      *serial_search,
                                           PpSerialMatch    match,
                                           PpTerminalState  state,
                                           GError         **error);
GPtrArray  *pp_store_list_terminals_full  (PpStore         *self,
                                           const char      *serial_search,
                                           PpSerialMatch    match,
                                           PpTerminalState  state,
                                           guint            offset,
                                           guint            limit,
                                           GError         **error);
/* Up to @limit terminals (in @state, or any with PP_TERMINAL_STATE_ANY) whose serial sorts
 * after @after_serial (NULL: from the first), in serial order. Walking a large register
 * page by page this way costs the same for every page, unlike an ever larger offset. */
GPtrArray  *pp_store_list_terminals_after (PpStore         *self,
                                           PpTerminalState  state,
                                           const char      *after_serial,
                                           guint            limit,
                                           GError         **error);

/* Moves one terminal along the lifecycle (see pp-terminal.h) and journals it.
 * Illegal moves fail with PP_STORE_ERROR_ILLEGAL_TRANSITION, e.g.
 * "terminal ABC123 is installed; cannot go installed -> keyed". @reason may be NULL.
 * @actor must be a field manager or administrator of the station (else
 * PP_STORE_ERROR_PERMISSION, nothing changed). The moves that belong to work orders
 * (in_stock -> pending_install, pending_install -> keyed | in_stock, keyed -> installed,
 * installed -> recycled, recycled -> in_stock) are refused with ILLEGAL_TRANSITION naming
 * the order verb that makes them: they happen only through the order verbs, which check
 * the approval. What is left: check-in (received -> in_stock), quarantine, return from
 * quarantine, retirement. */
gboolean    pp_store_transition_terminal (PpStore         *self,
                                          const char      *serial,
                                          PpTerminalState  to,
                                          const char      *actor,
                                          const char      *reason,
                                          GError         **error);

/* Same with an idempotency key (nullable) for requests replayed over a network: the
 * first call with @request_id does the move; a repeat with the same id, serial and
 * target state returns TRUE and changes nothing; the same id for another serial or
 * state is PP_STORE_ERROR_DUPLICATE. */
gboolean    pp_store_transition_terminal_full (PpStore         *self,
                                               const char      *serial,
                                               PpTerminalState  to,
                                               const char      *actor,
                                               const char      *reason,
                                               const char      *request_id,
                                               GError         **error);

/* Records the SHA-256 fingerprint (64 hex digits, any case; stored upper case) of the
 * terminal's device certificate once it has proved it holds the matching key. INVALID for
 * a malformed fingerprint, ILLEGAL_TRANSITION for a retired terminal. */
gboolean    pp_store_set_terminal_certificate (PpStore         *self,
                                               const char      *serial,
                                               const char      *fingerprint,
                                               const char      *actor,
                                               GError         **error);

/* ---- merchants and merchant-terminal numbers ----
 * MID = prefix + sequence + Luhn digit (15 digits), TID likewise (8 digits); see
 * pp-mtn.h and docs/merchant-terminal-numbers.md. The prefixes are store settings;
 * the defaults are MID "8981000" (institution 898, branch 1000: 7 sequence digits,
 * 10 million merchants) and TID "1" (6 sequence digits, a million terminals). Each
 * prefix has its own counter; every number ever issued is recorded and never reissued. */
#define PP_STORE_DEFAULT_MID_PREFIX "8981000"
#define PP_STORE_DEFAULT_TID_PREFIX "1"

char       *pp_store_get_mid_prefix   (PpStore     *self);
char       *pp_store_get_tid_prefix   (PpStore     *self);
/* NULL leaves a prefix unchanged. PP_STORE_ERROR_INVALID if a prefix is not digits
 * or leaves no room for a sequence. */
gboolean    pp_store_set_mtn_prefixes (PpStore     *self,
                                       const char  *mid_prefix,
                                       const char  *tid_prefix,
                                       const char  *actor,
                                       GError     **error);
/* Issues one TID on its own (install orders issue theirs themselves). */
char       *pp_store_issue_tid        (PpStore     *self,
                                       const char  *actor,
                                       GError     **error);

/* Validates the fields (see pp-merchant.h), issues the merchant's MID and stores it.
 * DUPLICATE if the registration number is already known. */
PpMerchant *pp_store_add_merchant        (PpStore                 *self,
                                          const PpMerchantFields  *fields,
                                          const char              *actor,
                                          GError                 **error);
PpMerchant *pp_store_get_merchant        (PpStore                 *self,
                                          gint64                   id,
                                          GError                 **error);   /* NOT_FOUND */
PpMerchant *pp_store_get_merchant_by_mid (PpStore                 *self,
                                          const char              *mid,
                                          GError                 **error);   /* NOT_FOUND */
GPtrArray  *pp_store_list_merchants      (PpStore                 *self,
                                          GError                 **error);   /* element-type PpMerchant */

/* ---- users ----
 * Passwords are hashed with scrypt (pp-password.h), each with its own salt. add,
 * set_password and change_password (like the first administrator) take only a password that
 * passes pp_password_check_policy() (12 characters or more, not a common one, not holding
 * the user name); its PP_PASSWORD_ERROR is returned as is and nothing is changed. Only the
 * demo seed's accounts have the published demo password.
 * add: only an administrator of the station (@actor) creates users (else PERMISSION);
 * the one exception is the first account of a store that has none, which must be an
 * administrator (the first-run setup; @actor is then recorded as given). INVALID for a
 * bad user name (2-32 of a-z 0-9 . _ -, case-insensitive), DUPLICATE if taken.
 * Journalled as user.add under the administrator.
 * authenticate: PERMISSION "wrong user name or password" for an unknown user or a wrong
 * password, both journalled as user.login_failed; an unknown name is journalled without
 * the text typed (it may be a password typed into the wrong field): actor "(unknown)". */
PpUser     *pp_store_add_user     (PpStore     *self,
                                   const char  *username,
                                   const char  *display_name,   /* NULL: the user name */
                                   PpUserRole   role,
                                   const char  *password,
                                   const char  *actor,
                                   GError     **error);
/* Same with scrypt N = 2^@password_log2_n (pp-password.h); lower than the default
 * only in tests. */
PpUser     *pp_store_add_user_with_cost (PpStore     *self,
                                         const char  *username,
                                         const char  *display_name,
                                         PpUserRole   role,
                                         const char  *password,
                                         guint        password_log2_n,
                                         const char  *actor,
                                         GError     **error);
/* The first-run setup: creates the station's first account, an administrator named
 * @username (display name @display_name, NULL: the user name) with @password, on a
 * store that has no user yet. The password must pass pp_password_check_policy() (its
 * PP_PASSWORD_ERROR is returned as is, so a caller can show it next to the password);
 * a bad user name is PP_STORE_ERROR_INVALID; a store that already has a user (checked
 * inside the write transaction, so two setups cannot both succeed) is
 * PP_STORE_ERROR_PERMISSION; a demo store is PP_STORE_ERROR_DEMO. Journalled as
 * user.add by the new administrator. */
PpUser     *pp_store_create_first_administrator (PpStore     *self,
                                                 const char  *username,
                                                 const char  *display_name,
                                                 const char  *password,
                                                 GError     **error);
/* The same in a worker thread (scrypt is slow on purpose) over its own connection;
 * the worker's copy of the password is wiped when the task ends. */
void        pp_store_create_first_administrator_async  (PpStore             *self,
                                                        const char          *username,
                                                        const char          *display_name,
                                                        const char          *password,
                                                        GCancellable        *cancellable,
                                                        GAsyncReadyCallback  callback,
                                                        gpointer             user_data);
PpUser     *pp_store_create_first_administrator_finish (PpStore             *self,
                                                        GAsyncResult        *result,
                                                        GError             **error);
PpUser     *pp_store_get_user     (PpStore     *self,
                                   const char  *username,
                                   GError     **error);   /* NOT_FOUND */
GPtrArray  *pp_store_list_users   (PpStore     *self,
                                   GError     **error);   /* element-type PpUser */
PpUser     *pp_store_authenticate (PpStore     *self,
                                   const char  *username,
                                   const char  *password,
                                   GError     **error);
/* An administrator (@actor) resets the password of another user @username (else
 * PERMISSION: a user changes their own with pp_store_change_password). Journalled as
 * user.password_reset. Until @username changes it again, they may not approve
 * @actor's orders (the administrator knows the password). */
gboolean    pp_store_set_password (PpStore     *self,
                                   const char  *username,
                                   const char  *password,
                                   const char  *actor,
                                   GError     **error);
/* @username changes their own password, proving the current one (@old_password;
 * else PERMISSION "the current password of “x” is wrong", journalled as
 * user.password_change_failed). Journalled as user.password_change. */
gboolean    pp_store_change_password (PpStore     *self,
                                      const char  *username,
                                      const char  *old_password,
                                      const char  *new_password,
                                      GError     **error);
/* An administrator (@actor) gives @username another role; not their own (PERMISSION).
 * Journalled as user.role with the old and new role. */
gboolean    pp_store_set_user_role (PpStore     *self,
                                    const char  *username,
                                    PpUserRole   role,
                                    const char  *actor,
                                    GError     **error);

/* ---- work orders and approvals ----
 * Install flow, each step one transaction with its journal entry:
 *  create_install_order: requester is a field manager or administrator; the terminal must
 *    be in_stock (else ILLEGAL_TRANSITION naming its state) and have its device
 *    certificate on record (INVALID otherwise) and goes pending_install; the merchant
 *    (NOT_FOUND) and its MID and a newly issued TID are bound to it; the order records
 *    the key type and the certificate fingerprint. Order: open.
 *  decide_order: a reviewer other than the requester, whose account, role and password
 *    the requester did not set (else PERMISSION), approves (order approved) or rejects
 *    (order cancelled, terminal back in_stock, unbound); either way an approval row
 *    records requester, approver, decision, reason, time and what was decided on: serial,
 *    merchant, MID, TID, program version, key type, certificate fingerprint and their
 *    digest (hex SHA-256 of the netstrings of "posprov-approval-1", order id, serial,
 *    merchant id, MID, TID, program version, key type, fingerprint). The terminal must
 *    still be pending_install and bound to this order.
 *  order_key_released: the key host generated the TMK under @tmk_label in @key_store;
 *    the store asks the key store for its type and KCV (the type must be the order's)
 *    and records the KCV as the one the terminal must report. Order stays approved; a
 *    second release (a new key after a failed load) replaces the first.
 *  order_keyed: compares the terminal-reported KCV with the one recorded at release, in
 *    constant time; a mismatch is KCV_MISMATCH, journalled as order.kcv_mismatch
 *    (if that journal entry cannot be written, the error says so and carries the
 *    journal's error code), and leaves terminal and order as they were, so a retry
 *    with a new key token (or a new release) is possible; a match moves the terminal
 *    to keyed and records the KCV. Order: keyed.
 *  order_program_installed: order keyed -> program_installed.
 *  close_order: install: program_installed -> closed, terminal installed with the
 *    order's program version; recycle: approved -> closed (an open one is
 *    ILLEGAL_TRANSITION, journalled as order.close_refused), terminal recycled -> in_stock.
 *  cancel_order: open or approved install order -> cancelled, terminal back in_stock
 *    (left alone if it no longer belongs to this order).
 * Every step after the approval (release, keyed, program installed, close) first checks
 * that the approval still holds: the terminal is in the state the order left it in,
 * bound to the order's merchant, MID and TID, with the approved certificate, and the
 * digest of the order and the terminal's binding equals the approved digest. Any
 * difference voids the approval for good (recorded on the approval and journalled as
 * order.approval_void) and the step fails with APPROVAL_VOID naming what changed; the
 * order can then only be cancelled.
 * Recycle: create_recycle_order moves an installed terminal to recycled and clears its
 * merchant, MID, TID and KCV (the order keeps the cleared MID/TID); close_order returns
 * it to stock. Steps out of order are ILLEGAL_TRANSITION
 * ("install work order 4 is open; cannot go open -> keyed").
 *
 * Who acts: every verb below loads its actor (requester, approver, actor) inside its
 * transaction, before anything is changed or journalled, and refuses with
 * PP_STORE_ERROR_PERMISSION a name that is no user of the station ("“x” is not a user of
 * this station and may not close install work order 3") or a user of the wrong role
 * ("user “dave” (reviewer) may not record keying of install work order 12; only a
 * field_manager or administrator may"). Field managers and administrators create, release
 * keys, key, record program installation, close, cancel and recycle; reviewers only
 * approve and reject. The journal names the user as stored (lower case). An unknown or
 * wrong actor on order_keyed is refused before the KCV comparison, so no kcv_mismatch is
 * journalled for it.
 *
 * An open recycle order cannot be cancelled (ILLEGAL_TRANSITION saying why): opening it
 * cleared the terminal's merchant binding and KCV, and recycled -> installed is not a move
 * of the terminal lifecycle. Close it and open a new install order instead. */
PpWorkOrder *pp_store_create_install_order   (PpStore     *self,
                                              const char  *serial,
                                              gint64       merchant_id,
                                              const char  *program_version,
                                              PpTmkType    key_type,
                                              const char  *requester,
                                              GError     **error);
gboolean     pp_store_decide_order           (PpStore     *self,
                                              gint64       order_id,
                                              const char  *approver,
                                              gboolean     approve,
                                              const char  *reason,   /* nullable */
                                              GError     **error);
/* Reads the KCV from @key_store before taking the write lock. */
gboolean     pp_store_order_key_released     (PpStore     *self,
                                              gint64       order_id,
                                              PpKeyStore  *key_store,
                                              const char  *tmk_label,
                                              const char  *actor,
                                              GError     **error);
gboolean     pp_store_order_keyed            (PpStore     *self,
                                              gint64       order_id,
                                              const char  *reported_kcv,
                                              const char  *actor,
                                              GError     **error);
gboolean     pp_store_order_program_installed (PpStore    *self,
                                              gint64       order_id,
                                              const char  *actor,
                                              GError     **error);
gboolean     pp_store_close_order            (PpStore     *self,
                                              gint64       order_id,
                                              const char  *actor,
                                              GError     **error);
gboolean     pp_store_cancel_order           (PpStore     *self,
                                              gint64       order_id,
                                              const char  *actor,
                                              const char  *reason,   /* nullable */
                                              GError     **error);
PpWorkOrder *pp_store_create_recycle_order   (PpStore     *self,
                                              const char  *serial,
                                              const char  *requester,
                                              const char  *reason,   /* nullable */
                                              GError     **error);
PpWorkOrder *pp_store_get_order              (PpStore     *self,
                                              gint64       order_id,
                                              GError     **error);   /* NOT_FOUND */
/* @serial NULL: all orders. element-type PpWorkOrder, by id. */
GPtrArray   *pp_store_list_orders            (PpStore     *self,
                                              const char  *serial,
                                              GError     **error);
/* element-type PpApproval, oldest first. */
GPtrArray   *pp_store_list_approvals         (PpStore     *self,
                                              gint64       order_id,
                                              GError     **error);

/* Demo data: n terminals spread over the states, demo merchants, and demo users "alice"
 * (field manager), "bob" (reviewer), "carol" (administrator) with password "demo", each
 * hashed with its own salt (demo only: never use these accounts on a real station).
 * The demo obeys the rules of real data: every terminal that is pending_install, keyed,
 * installed or recycled got there through install (and recycle) work orders run by
 * alice and approved by bob, in the same steps as the verbs above (the key release
 * records a made-up KCV: a demo has no key store). Only the first 2000 terminals take the
 * whole spread (each bound one costs a chain of order steps); beyond them the demo is
 * stock. Idempotent: does nothing if already seeded. */
/* The password of every demo account (published: demo stores only). */
#define PP_STORE_DEMO_PASSWORD "demo"

/* Demo data, only for a demo store (the station's `posprov --demo`, at its own path): n
 * terminals spread over the states, demo merchants, and demo users "alice" (field
 * manager), "bob" (reviewer), "carol" (administrator) with password PP_STORE_DEMO_PASSWORD
 * (demo only: never use these accounts on a real station). Idempotent: does nothing if
 * already seeded. A store that has users of its own is refused with PP_STORE_ERROR_DEMO:
 * demo accounts never enter a real store. */
gboolean    pp_store_seed_demo (PpStore *self,
                                guint    n_terminals,
                                GError **error);
gboolean    pp_store_is_demo   (PpStore *self);  /* TRUE once seeded */
/* Seeds in a worker thread (over its own connection to the same file), for a first start
 * that must not block the main loop. */
void        pp_store_seed_demo_async  (PpStore             *self,
                                       guint                n_terminals,
                                       GCancellable        *cancellable,
                                       GAsyncReadyCallback  callback,
                                       gpointer             user_data);
gboolean    pp_store_seed_demo_finish (PpStore             *self,
                                       GAsyncResult        *result,
                                       GError             **error);

/* Audit journal: append-only; entry seq n (1, 2, 3, ... without gaps) stores
 *   hash_n = hex (SHA-256 (canonical (seq, time, actor, action, subject, detail, prev_hash)))
 * where prev_hash is hash_(n-1) (64 zeros for n = 1) and canonical() writes each field as a
 * netstring "<decimal byte length>:<bytes>," (integers in decimal), so no two different
 * entries serialise alike. The last seq and hash are also kept in a one-row head table.
 *
 * verify walks the entries by seq and reports, as *out_first_bad_seq, the first of:
 *  - a missing seq (an entry was deleted, also at the end of the journal): the deleted seq;
 *  - an entry whose stored hash does not match its fields (edited, or moved to another
 *    seq, e.g. two entries swapped): that entry's seq;
 *  - an entry whose prev_hash differs from the previous entry's hash (the previous entry
 *    was rewritten with a fresh hash): the previous entry's seq.
 * So: editing entry k reports k; deleting entry k reports k; swapping entries j < k reports j.
 * Returns TRUE if intact; else FALSE with PP_STORE_ERROR_INVALID describing the problem.
 * out_n_entries = entries checked. Both out parameters are optional. */
gboolean    pp_store_audit_verify (PpStore  *self,
                                   gint64   *out_first_bad_seq,
                                   guint64  *out_n_entries,
                                   GError  **error);

/* Sealing (docs/store.md). The journal key lives in a key store found
 * outside the database: $POSPROV_KEY_STORE (a soft store folder or a
 * "pkcs11:" URI), else the soft store "keys" next to the store file; its
 * passphrase or PIN is $POSPROV_KEY_STORE_SECRET. */
#define PP_STORE_KEY_STORE_ENV        "POSPROV_KEY_STORE"
#define PP_STORE_KEY_STORE_SECRET_ENV "POSPROV_KEY_STORE_SECRET"
/* Default epoch: 64 entries or one hour, whichever ends first. */
#define PP_AUDIT_EPOCH_ENTRIES 64
#define PP_AUDIT_EPOCH_SECONDS 3600

char       *pp_store_get_key_store_location (PpStore *self);

/* With neither variable set, the default soft store "keys" is unlocked with
 * the random passphrase in the file PP_STORE_KEY_STORE_PASSPHRASE_FILE next
 * to the store file (mode 0600; made when sealing creates the key store, read
 * by every later opener, the station and posprov-tool alike; refused when
 * others can read it). Its path, or NULL when the variables decide. */
#define PP_STORE_KEY_STORE_PASSPHRASE_FILE "keys.passphrase"
char       *pp_store_get_key_store_passphrase_path (PpStore *self);

/* Starts sealing the journal: creates the epoch 0 journal key and the
 * checkpoint signing key in the key store and appends "audit.sealed" as
 * the first sealed entry. Returns the seed file text (NUL-terminated, in a
 * secure buffer) for the administrator to keep off the station; it is
 * never stored. Refused when the journal or the key store is sealed already
 * (PP_STORE_ERROR_DUPLICATE), and for a demo store (PP_STORE_ERROR_DEMO: its
 * data is made up, and its folder's key store belongs to the real store). */
PpSecureBuffer *pp_store_audit_init_seal (PpStore     *self,
                                          guint32      epoch_entries,
                                          guint32      epoch_seconds,
                                          const char  *actor,
                                          GError     **error);

/* The same in a worker thread over its own connection (it makes an RSA key
 * and runs PBKDF2): what the station's first-run setup calls. */
void            pp_store_audit_init_seal_async  (PpStore             *self,
                                                 guint32              epoch_entries,
                                                 guint32              epoch_seconds,
                                                 const char          *actor,
                                                 GCancellable        *cancellable,
                                                 GAsyncReadyCallback  callback,
                                                 gpointer             user_data);
PpSecureBuffer *pp_store_audit_init_seal_finish (PpStore             *self,
                                                 GAsyncResult        *result,
                                                 GError             **error);

/* A signed checkpoint of the journal's end (text, docs/store.md). */
char       *pp_store_audit_checkpoint (PpStore  *self,
                                       GError  **error);

typedef struct {
  const char *seed;             /* seed file text, or NULL */
  gsize       seed_len;
  const char *checkpoint;       /* checkpoint file text, or NULL */
  gsize       checkpoint_len;
  gboolean    no_key_store;     /* do not use the station's key store */
} PpAuditVerifyOptions;

typedef struct {
  gint64   first_bad_seq;       /* 0 when intact */
  guint64  n_entries;
  gint64   sealed_from;         /* first sealed seq, 0 if not sealed */
  guint64  n_macs_checked;      /* entries whose MAC was checked */
  guint64  station_epoch;       /* epoch of the station's key, if used */
  gboolean used_station_key;
  gboolean used_seed;
  gint64   checkpoint_seq;      /* the checkpoint's seq, if one was checked */
  char    *note;                /* why a check could not be made, or NULL */
  gboolean demo;                /* a demo store: never sealed, no key store used */
} PpAuditReport;

void        pp_audit_report_clear (PpAuditReport *report);

/* verify with sealing: with the station's key store (unless @options says
 * not to, or the store is a demo store, which is never sealed), the seed and
 * a checkpoint when given. @options may be NULL. */
gboolean    pp_store_audit_verify_full (PpStore                    *self,
                                        const PpAuditVerifyOptions *options,
                                        PpAuditReport              *report,
                                        GError                    **error);

/* The same in a worker thread over its own connection. */
void        pp_store_audit_verify_async  (PpStore             *self,
                                          GCancellable        *cancellable,
                                          GAsyncReadyCallback  callback,
                                          gpointer             user_data);
gboolean    pp_store_audit_verify_finish (PpStore             *self,
                                          GAsyncResult        *result,
                                          gint64              *out_first_bad_seq,
                                          guint64             *out_n_entries,
                                          GError             **error);

/* One journal entry as stored (detail is the JSON text). */
typedef struct {
  gint64 seq;
  gint64 time;      /* unix seconds */
  char  *actor;
  char  *action;    /* "terminal.intake", "order.approve", ... */
  char  *subject;
  char  *detail;
  char  *hash;
} PpAuditEntry;

void        pp_audit_entry_free    (PpAuditEntry *entry);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (PpAuditEntry, pp_audit_entry_free)

/* Entries with seq > @after_seq, oldest first, at most @limit. element-type PpAuditEntry. */
GPtrArray  *pp_store_list_audit    (PpStore  *self,
                                    gint64    after_seq,
                                    guint     limit,
                                    GError  **error);

/* ---- the registry seam (schema 4; docs/registry.md) ---- */

/* The order with that UUID (any case); NOT_FOUND. */
PpWorkOrder *pp_store_get_order_by_uuid  (PpStore     *self,
                                          const char  *uuid,
                                          GError     **error);

/* Merchants whose name, registration number or MID contains @query (any
 * case for letters; NULL or "": all), by name, at most @limit (0: all). */
GPtrArray   *pp_store_search_merchants   (PpStore     *self,
                                          const char  *query,
                                          guint        limit,
                                          GError     **error);   /* element-type PpMerchant */

/* Approval requests. request: @requester (a field manager or administrator)
 * asks for a second person's approval of an open install order whose
 * terminal is still reserved for it; @scanned_serial (nullable) is the
 * serial read from the terminal itself (its QR or a scan), which must be
 * the order's (else INVALID). One request per order is pending at a time
 * (else DUPLICATE). Journalled as approval.request.
 * decide: as pp_store_decide_order, on the request with @uuid, which must be
 * pending (else ILLEGAL_TRANSITION naming its state; NOT_FOUND if unknown).
 * The decision (PpApproval) carries the request's UUID. A decision taken
 * with pp_store_decide_order decides the pending request, or records one
 * decided at once. Cancelling the order withdraws a pending request. */
PpApprovalRequest *pp_store_request_approval         (PpStore     *self,
                                                      gint64       order_id,
                                                      const char  *requester,
                                                      const char  *scanned_serial,
                                                      GError     **error);
gboolean           pp_store_decide_approval_request  (PpStore     *self,
                                                      const char  *uuid,
                                                      const char  *approver,
                                                      gboolean     approve,
                                                      const char  *reason,
                                                      GError     **error);
/* get: @uuid is the request's UUID or its code (pp_approval_code_normalize:
 * the pending request holding it, else the latest that had it). */
PpApprovalRequest *pp_store_get_approval_request     (PpStore     *self,
                                                      const char  *uuid,
                                                      GError     **error);   /* NOT_FOUND */
/* @state: one state, or -1 for all; oldest first, at most @limit (0: all). */
GPtrArray         *pp_store_list_approval_requests   (PpStore     *self,
                                                      int          state,
                                                      guint        limit,
                                                      GError     **error);   /* element-type PpApprovalRequest */
/* The decision with that row id (PpApprovalRequest.approval_id); NOT_FOUND. */
PpApproval        *pp_store_get_approval             (PpStore     *self,
                                                      gint64       approval_id,
                                                      GError     **error);

/* Idempotent requests. pp_store_run_request runs @func (which calls one
 * store verb, or a few) and records, in the same transaction, @key with
 * @verb, @digest (of the request's arguments) and the result text @func
 * returns. A repeat with the same @key, @verb and @digest does not call
 * @func: *out_result is the recorded result and *out_replayed TRUE. The same
 * key with another verb or digest is PP_STORE_ERROR_REQUEST_REUSED. When
 * @func fails, what its verb recorded on the way (a voided approval, a KCV
 * mismatch) is kept, the key is not recorded (a retry runs again), and its
 * error is returned. */
typedef gboolean (*PpStoreRequestFunc) (PpStore   *store,
                                        gpointer   user_data,
                                        char     **out_result,
                                        GError   **error);

gboolean    pp_store_run_request    (PpStore             *self,
                                     const char          *key,
                                     const char          *verb,
                                     const char          *digest,
                                     PpStoreRequestFunc   func,
                                     gpointer             user_data,
                                     char               **out_result,
                                     gboolean            *out_replayed,
                                     GError             **error);
/* For work done outside the store's transaction (the key host): looks up
 * @key (*out_result NULL: unknown; REQUEST_REUSED as above) and records it
 * once the work is done (REQUEST_REUSED if another call recorded it meanwhile
 * for something else; the same request recorded meanwhile is kept). */
gboolean    pp_store_find_request   (PpStore      *self,
                                     const char   *key,
                                     const char   *verb,
                                     const char   *digest,
                                     char        **out_result,
                                     GError      **error);
gboolean    pp_store_record_request (PpStore      *self,
                                     const char   *key,
                                     const char   *verb,
                                     const char   *digest,
                                     const char   *result,
                                     GError      **error);

/* The change feed: every terminal (by serial), order and approval (by UUID)
 * at the seq of its latest change, seq > @after_seq, in seq order, at most
 * @limit. Each thing changed after @after_seq is listed once; a reader
 * passes the last seq it got as the next @after_seq. */
typedef struct {
  gint64  seq;
  char   *kind;   /* "terminal", "order", "approval" */
  char   *key;    /* serial or UUID */
  gint64  time;   /* unix seconds of the change */
} PpChange;

void        pp_change_free         (PpChange *change);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (PpChange, pp_change_free)

GPtrArray  *pp_store_list_changes  (PpStore  *self,
                                    gint64    after_seq,
                                    guint     limit,
                                    GError  **error);   /* element-type PpChange */
/* The seq of the latest change (0: none yet). */
gboolean    pp_store_get_change_cursor (PpStore  *self,
                                        gint64   *out_seq,
                                        GError  **error);

/* The program catalogue: what may be pushed to terminals of a model. add:
 * a field manager or administrator (@actor) records a package's model,
 * name, version, SHA-256 (64 hex digits) and size; DUPLICATE if that model
 * already has that name and version. Journalled as program.add. */
typedef struct {
  gint64  id;
  char   *model;
  char   *name;
  char   *version;
  char   *sha256;    /* lower-case hex */
  guint64 size;
  gint64  created_at;
} PpProgramRecord;

void             pp_program_record_free (PpProgramRecord *record);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (PpProgramRecord, pp_program_record_free)

PpProgramRecord *pp_store_add_program   (PpStore     *self,
                                         const char  *model,
                                         const char  *name,
                                         const char  *version,
                                         const char  *sha256,
                                         guint64      size,
                                         const char  *actor,
                                         GError     **error);
/* @model NULL: all; by model, name, version. */
GPtrArray       *pp_store_list_programs (PpStore     *self,
                                         const char  *model,
                                         GError     **error);   /* element-type PpProgramRecord */

/* ---- the key host (issue 8; docs/key-host.md) ----
 * Its configuration, what it remembers of each key release, and its journal
 * entries. The KDH private key, the fingerprint key and the TOTP key stay in
 * the key store; the database holds certificates, labels and check values. */
typedef struct {
  char      *kdh_key_label;    /* the KDH signing key's label in the key store */
  GBytes    *kdh_certificate;  /* DER */
  GBytes    *kdh_crl;          /* the CA_KDH CRL the tokens carry, DER; NULL: none */
  GPtrArray *ca_krd;           /* element-type GBytes: root and CA_KRD certificates, DER */
  gint64     updated_at;       /* as read; ignored when set */
  char      *updated_by;       /* likewise */
} PpKeyHostConfig;

PpKeyHostConfig *pp_key_host_config_new  (void);
void             pp_key_host_config_free (PpKeyHostConfig *config);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (PpKeyHostConfig, pp_key_host_config_free)

/* Sets (replaces) the key host's configuration; what `posprov-registry init`
 * calls. @actor must be an administrator (else PERMISSION). INVALID, naming
 * the part, for a label the key store would refuse, a certificate or CRL
 * that is not DER, or no CA_KRD certificate. Journalled as keyhost.config
 * with the certificates' SHA-256 fingerprints. */
gboolean         pp_store_set_key_host_config (PpStore               *self,
                                               const PpKeyHostConfig *config,
                                               const char            *actor,
                                               GError               **error);
/* NOT_FOUND when the key host was never configured. */
PpKeyHostConfig *pp_store_get_key_host_config (PpStore               *self,
                                               GError               **error);
/* The TR-34 profile (pp_tr34_profile_to_string) for terminals of @model;
 * INVALID for an unknown profile name. Administrator only; journalled as
 * keyhost.profile. */
gboolean         pp_store_set_key_host_profile (PpStore     *self,
                                                const char  *model,
                                                const char  *profile,
                                                const char  *actor,
                                                GError     **error);
/* The profile name for @model, "strict" when none is set. */
char            *pp_store_get_key_host_profile (PpStore     *self,
                                                const char  *model,
                                                GError     **error);
/* The check value of the key store's fingerprint key as first recorded: if
 * none is recorded yet, records @kcv. Returns the recorded one (the key host
 * compares it with its key store's). NOT_FOUND when not configured. */
char            *pp_store_claim_key_host_fingerprint_kcv (PpStore     *self,
                                                          const char  *kcv,
                                                          GError     **error);

/* What a key release would collide with. */
typedef enum {
  PP_KEY_RELEASE_OK,
  PP_KEY_RELEASE_NONCE_USED,       /* a key token was made for this nonce and terminal */
  PP_KEY_RELEASE_DUPLICATE_KEY,    /* a key with this fingerprint was released before */
} PpKeyReleaseConflict;

/* Read only: whether @nonce (for @serial) or @fingerprint (either may be
 * NULL) was used by an earlier release. */
gboolean         pp_store_key_release_conflict (PpStore              *self,
                                                const char           *serial,
                                                GBytes               *nonce,
                                                const char           *fingerprint,
                                                PpKeyReleaseConflict *out_conflict,
                                                GError              **error);

/* pp_store_order_key_released() that also records, in the same transaction,
 * the RT_KRD @nonce used for the order's terminal and the keyed @fingerprint
 * of the released key (64 hex digits). A nonce used before for that terminal
 * or a fingerprint released before (found inside the transaction) refuses the
 * whole release with PP_STORE_ERROR_DUPLICATE and sets *out_conflict; nothing
 * is recorded then. The order.key_released entry also names the nonce. */
gboolean         pp_store_order_key_released_full (PpStore              *self,
                                                   gint64                order_id,
                                                   PpKeyStore           *key_store,
                                                   const char           *tmk_label,
                                                   GBytes               *nonce,
                                                   const char           *fingerprint,
                                                   const char           *actor,
                                                   PpKeyReleaseConflict *out_conflict,
                                                   GError              **error);

/* The approval check every step after the approval makes (see above), on its
 * own, for the key host to refuse before it makes a key: the order must be an
 * approved install order (else ILLEGAL_TRANSITION) whose latest approval still
 * holds (else APPROVAL_VOID, and a newly found difference voids it for good,
 * journalled as order.approval_void). *out_approval (optional) gets that
 * approval. Changes nothing else. */
gboolean         pp_store_check_order_approval (PpStore     *self,
                                                gint64       order_id,
                                                const char  *actor,
                                                PpApproval **out_approval,
                                                GError     **error);

/* Appends one key host entry to the journal in its own transaction:
 * @action starts with "keyhost." (a refusal is "keyhost.refused"), subject
 * "work order N" (@order_id > 0) or "key host". Takes ownership of @detail
 * (a JSON object or NULL). @actor is recorded as given. */
gboolean         pp_store_journal_key_host (PpStore     *self,
                                            const char  *actor,
                                            const char  *action,
                                            gint64       order_id,
                                            JsonNode    *detail,
                                            GError     **error);

/* ---- one-time codes (TOTP, RFC 6238; docs/key-host.md) ----
 * A user's TOTP secret is kept sealed (AES-256-GCM, bound to the user name)
 * under the key store's key PP_STORE_TOTP_KEY_LABEL (made on first use);
 * the database never holds it in clear. */
#define PP_STORE_TOTP_KEY_LABEL "totp-seal"
#define PP_STORE_TOTP_ISSUER    "posprov"

/* Enrols (or re-enrols, replacing the old secret) @username: a new random
 * secret, sealed and stored. @actor is an administrator or @username. Returns
 * the otpauth:// URI for the authenticator (NUL-terminated text in a secure
 * buffer: it holds the secret; show it once, never log it). Journalled as
 * user.otp_enroll (without the secret). */
PpSecureBuffer  *pp_store_enroll_otp (PpStore     *self,
                                      PpKeyStore  *key_store,
                                      const char  *username,
                                      const char  *actor,
                                      GError     **error);
gboolean         pp_store_has_otp    (PpStore     *self,
                                      const char  *username,
                                      gboolean    *out_enrolled,
                                      GError     **error);
/* Checks @code of @username at Unix time @now (pp_totp_verify: one step
 * either side) and records its step, so the same code (or an older one) is
 * never accepted again. NOT_FOUND when not enrolled; PP_TOTP_ERROR_WRONG_CODE
 * or PP_TOTP_ERROR_REPLAYED, each journalled as user.otp_failed. */
gboolean         pp_store_verify_otp (PpStore     *self,
                                      PpKeyStore  *key_store,
                                      const char  *username,
                                      const char  *code,
                                      gint64       now,
                                      GError     **error);

G_END_DECLS
