/* SPDX-License-Identifier: GPL-3.0-or-later
 *
 * pp-work-order.h: install and recycle work orders and their approvals.
 */
#pragma once

#include <glib.h>
#include <json-glib/json-glib.h>

#include "pp-keystore.h"

G_BEGIN_DECLS

typedef enum {
  PP_WORK_ORDER_KIND_INSTALL,   /* "install" */
  PP_WORK_ORDER_KIND_RECYCLE,   /* "recycle" */
} PpWorkOrderKind;

/* Install: open -> approved -> keyed -> program_installed -> closed,
 *          open | approved -> cancelled (also when the reviewer rejects).
 * Recycle: open -> closed (never cancelled: see pp-store.h). */
typedef enum {
  PP_WORK_ORDER_STATE_OPEN,               /* "open" */
  PP_WORK_ORDER_STATE_APPROVED,           /* "approved" */
  PP_WORK_ORDER_STATE_KEYED,              /* "keyed" */
  PP_WORK_ORDER_STATE_PROGRAM_INSTALLED,  /* "program_installed" */
  PP_WORK_ORDER_STATE_CLOSED,             /* "closed" */
  PP_WORK_ORDER_STATE_CANCELLED,          /* "cancelled" */
  PP_N_WORK_ORDER_STATES,
} PpWorkOrderState;

const char *pp_work_order_kind_to_string    (PpWorkOrderKind   kind);
const char *pp_work_order_state_to_string   (PpWorkOrderState  state);
gboolean    pp_work_order_state_from_string (const char       *s,
                                             PpWorkOrderState *out);
const char *pp_work_order_state_get_label   (PpWorkOrderState  state);   /* translated */
gboolean    pp_work_order_state_can_transition (PpWorkOrderKind  kind,
                                                PpWorkOrderState from,
                                                PpWorkOrderState to);

typedef struct {
  gint64           id;
  PpWorkOrderKind  kind;
  PpWorkOrderState state;
  char            *serial;
  gint64           merchant_id;      /* 0 if none */
  char            *mid;              /* install: bound MID; recycle: the MID it cleared */
  char            *tid;              /* likewise */
  char            *program_version;  /* install: the version to push */
  char            *kcv;              /* install: KCV confirmed when keyed */
  PpTmkType        key_type;         /* install: the TMK to release */
  char            *cert_fingerprint; /* install: the device certificate (SHA-256 hex) it goes to */
  char            *expected_kcv;     /* install: KCV the key store gave at release; NULL before */
  char            *key_label;        /* install: key store label of the released TMK */
  gint64           released_at;      /* 0 before the release */
  char            *requester;
  char            *reason;
  gint64           created_at;
  gint64           updated_at;
  /* Since schema 4: the order's identity across machines (a random UUID,
   * lower case), the one the registry seam names it by. */
  char            *uuid;
} PpWorkOrder;

/* "tdes-2key", "tdes-3key", "aes-128", "aes-256": the store's names of a TMK type. */
const char *pp_tmk_type_to_string   (PpTmkType    type);
gboolean    pp_tmk_type_from_string (const char  *s,
                                     PpTmkType   *out);

void      pp_work_order_free    (PpWorkOrder       *order);
JsonNode *pp_work_order_to_json (const PpWorkOrder *order);

/* One decision of a reviewer, with exactly what was approved. */
typedef struct {
  gint64   id;
  gint64   order_id;
  char    *requester;
  char    *approver;
  gboolean approved;      /* decision: approved or rejected */
  char    *reason;        /* nullable */
  gint64   decided_at;
  char    *serial;
  char    *mid;
  char    *tid;
  /* Since schema 2: the rest of what was approved, its digest (hex SHA-256,
   * see pp-store.h), and whether a later change voided it. */
  gint64   merchant_id;
  char    *program_version;
  char    *key_type;      /* "aes-128", ...; NULL on an approval from schema 1 */
  char    *cert_fingerprint;
  char    *digest;
  gint64   voided_at;     /* 0: not void */
  char    *void_reason;
  /* Since schema 4: the approval's UUID, the same as its request's
   * (PpApprovalRequest). */
  char    *uuid;
} PpApproval;

void      pp_approval_free      (PpApproval        *approval);

/* A field manager's request for a second person's approval (schema 4).
 * Its UUID is also the UUID of the decision (PpApproval) taken on it. */
typedef enum {
  PP_APPROVAL_REQUEST_PENDING,    /* "pending" */
  PP_APPROVAL_REQUEST_APPROVED,   /* "approved" */
  PP_APPROVAL_REQUEST_REJECTED,   /* "rejected" */
  PP_APPROVAL_REQUEST_WITHDRAWN,  /* "withdrawn": its order was cancelled first */
  PP_N_APPROVAL_REQUEST_STATES,
} PpApprovalRequestState;

const char *pp_approval_request_state_to_string   (PpApprovalRequestState  state);
gboolean    pp_approval_request_state_from_string (const char              *s,
                                                   PpApprovalRequestState  *out);

typedef struct {
  gint64                 id;
  char                  *uuid;
  gint64                 order_id;
  char                  *order_uuid;
  char                  *requester;
  char                  *scanned_serial;   /* what the requester scanned, or NULL */
  gint64                 requested_at;
  PpApprovalRequestState state;
  gint64                 approval_id;      /* the decision; 0 while pending or withdrawn */
  gint64                 decided_at;       /* 0 while pending */
  /* Since schema 6: the short code the reviewer scans or types to open the
   * request (PP_APPROVAL_CODE_LENGTH characters), or NULL for a request
   * recorded as decided at once. */
  char                  *code;
} PpApprovalRequest;

/* Approval codes: PP_APPROVAL_CODE_LENGTH characters of Crockford's base32
 * (0-9 and A-Z without I, L, O, U), unique among the pending requests.
 * normalize: @text as a code (upper case; hyphens and spaces dropped; O read
 * as 0, I and L as 1, as Crockford's decoding does), or NULL when it is
 * not one. */
#define PP_APPROVAL_CODE_LENGTH 8
char       *pp_approval_code_normalize            (const char              *text);

void      pp_approval_request_free (PpApprovalRequest *request);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (PpWorkOrder, pp_work_order_free)
G_DEFINE_AUTOPTR_CLEANUP_FUNC (PpApproval, pp_approval_free)
G_DEFINE_AUTOPTR_CLEANUP_FUNC (PpApprovalRequest, pp_approval_request_free)

G_END_DECLS
