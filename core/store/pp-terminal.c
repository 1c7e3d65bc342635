/* SPDX-License-Identifier: GPL-3.0-or-later
 *
 * pp-terminal.c: read-only snapshot of one register row, built by the store.
 */
#include "config.h"

#include "pp-store-private.h"
#include "pp-terminal.h"

struct _PpTerminal
{
  GObject parent_instance;

  char *serial;
  char *vendor;
  char *model;
  PpTerminalState state;
  char *cert_fingerprint;
  char *mid;
  char *tid;
  char *program_version;
  char *kcv;
  gint64 created_at;
  gint64 updated_at;
};

G_DEFINE_FINAL_TYPE (PpTerminal, pp_terminal, G_TYPE_OBJECT)

enum {
  PROP_0,
  PROP_SERIAL,
  PROP_VENDOR,
  PROP_MODEL,
  PROP_STATE,
  PROP_CERT_FINGERPRINT,
  PROP_MID,
  PROP_TID,
  PROP_PROGRAM_VERSION,
  PROP_KCV,
  PROP_CREATED_AT,
  PROP_UPDATED_AT,
  N_PROPS
};

static GParamSpec *props[N_PROPS];

static void
pp_terminal_finalize (GObject *object)
{
  PpTerminal *self = PP_TERMINAL (object);

  g_free (self->serial);
  g_free (self->vendor);
  g_free (self->model);
  g_free (self->cert_fingerprint);
  g_free (self->mid);
  g_free (self->tid);
  g_free (self->program_version);
  g_free (self->kcv);

  G_OBJECT_CLASS (pp_terminal_parent_class)->finalize (object);
}

static void
pp_terminal_get_property (GObject    *object,
                          guint       prop_id,
                          GValue     *value,
                          GParamSpec *pspec)
{
  PpTerminal *self = PP_TERMINAL (object);

  switch (prop_id)
    {
    case PROP_SERIAL:
      g_value_set_string (value, self->serial);
      break;
    case PROP_VENDOR:
      g_value_set_string (value, self->vendor);
      break;
    case PROP_MODEL:
      g_value_set_string (value, self->model);
      break;
    case PROP_STATE:
      g_value_set_int (value, self->state);
      break;
    case PROP_CERT_FINGERPRINT:
      g_value_set_string (value, self->cert_fingerprint);
      break;
    case PROP_MID:
      g_value_set_string (value, self->mid);
      break;
    case PROP_TID:
      g_value_set_string (value, self->tid);
      break;
    case PROP_PROGRAM_VERSION:
      g_value_set_string (value, self->program_version);
      break;
    case PROP_KCV:
      g_value_set_string (value, self->kcv);
      break;
    case PROP_CREATED_AT:
      g_value_set_int64 (value, self->created_at);
      break;
    case PROP_UPDATED_AT:
      g_value_set_int64 (value, self->updated_at);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
pp_terminal_class_init (PpTerminalClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GParamFlags flags = G_PARAM_READABLE | G_PARAM_STATIC_STRINGS;

  object_class->finalize = pp_terminal_finalize;
  object_class->get_property = pp_terminal_get_property;

  props[PROP_SERIAL] = g_param_spec_string ("serial", NULL, NULL, NULL, flags);
  props[PROP_VENDOR] = g_param_spec_string ("vendor", NULL, NULL, NULL, flags);
  props[PROP_MODEL] = g_param_spec_string ("model", NULL, NULL, NULL, flags);
  props[PROP_STATE] = g_param_spec_int ("state", NULL, NULL,
                                        0, PP_N_TERMINAL_STATES - 1,
                                        PP_TERMINAL_STATE_RECEIVED, flags);
  props[PROP_CERT_FINGERPRINT] = g_param_spec_string ("cert-fingerprint", NULL, NULL, NULL, flags);
  props[PROP_MID] = g_param_spec_string ("mid", NULL, NULL, NULL, flags);
  props[PROP_TID] = g_param_spec_string ("tid", NULL, NULL, NULL, flags);
  props[PROP_PROGRAM_VERSION] = g_param_spec_string ("program-version", NULL, NULL, NULL, flags);
  props[PROP_KCV] = g_param_spec_string ("kcv", NULL, NULL, NULL, flags);
  props[PROP_CREATED_AT] = g_param_spec_int64 ("created-at", NULL, NULL,
                                               G_MININT64, G_MAXINT64, 0, flags);
  props[PROP_UPDATED_AT] = g_param_spec_int64 ("updated-at", NULL, NULL,
                                               G_MININT64, G_MAXINT64, 0, flags);

  g_object_class_install_properties (object_class, N_PROPS, props);
}

static void
pp_terminal_init (PpTerminal *self)
{
}

static char *
dup_column (sqlite3_stmt *stmt,
            int           col)
{
  const unsigned char *text = sqlite3_column_text (stmt, col);

  return text != NULL ? g_strdup ((const char *) text) : NULL;
}

/* Columns in the order of PP_TERMINAL_COLUMNS. */
PpTerminal *
pp_terminal_new_from_stmt (sqlite3_stmt *stmt)
{
  PpTerminal *self = g_object_new (PP_TYPE_TERMINAL, NULL);
  g_autofree char *state = NULL;

  self->serial = dup_column (stmt, 0);
  self->vendor = dup_column (stmt, 1);
  self->model = dup_column (stmt, 2);
  state = dup_column (stmt, 3);
  if (state == NULL || !pp_terminal_state_from_string (state, &self->state))
    self->state = PP_TERMINAL_STATE_QUARANTINED; /* unreachable: CHECK constraint */
  self->cert_fingerprint = dup_column (stmt, 4);
  self->mid = dup_column (stmt, 5);
  self->tid = dup_column (stmt, 6);
  self->program_version = dup_column (stmt, 7);
  self->kcv = dup_column (stmt, 8);
  self->created_at = sqlite3_column_int64 (stmt, 9);
  self->updated_at = sqlite3_column_int64 (stmt, 10);

  return self;
}

PpTerminal *
pp_terminal_new (const char      *serial,
                 const char      *vendor,
                 const char      *model,
                 PpTerminalState  state,
                 const char      *cert_fingerprint,
                 const char      *mid,
                 const char      *tid,
                 const char      *program_version,
                 const char      *kcv,
                 gint64           created_at,
                 gint64           updated_at)
{
  PpTerminal *self;

  g_return_val_if_fail (serial != NULL, NULL);
  g_return_val_if_fail ((guint) state < PP_N_TERMINAL_STATES, NULL);

  self = g_object_new (PP_TYPE_TERMINAL, NULL);
  self->serial = g_strdup (serial);
  self->vendor = g_strdup (vendor);
  self->model = g_strdup (model);
  self->state = state;
  self->cert_fingerprint = g_strdup (cert_fingerprint);
  self->mid = g_strdup (mid);
  self->tid = g_strdup (tid);
  self->program_version = g_strdup (program_version);
  self->kcv = g_strdup (kcv);
  self->created_at = created_at;
  self->updated_at = updated_at;
  return self;
}

const char *
pp_terminal_get_serial (PpTerminal *self)
{
  g_return_val_if_fail (PP_IS_TERMINAL (self), NULL);
  return self->serial;
}

const char *
pp_terminal_get_vendor (PpTerminal *self)
{
  g_return_val_if_fail (PP_IS_TERMINAL (self), NULL);
  return self->vendor;
}

const char *
pp_terminal_get_model (PpTerminal *self)
{
  g_return_val_if_fail (PP_IS_TERMINAL (self), NULL);
  return self->model;
}

PpTerminalState
pp_terminal_get_state (PpTerminal *self)
{
  g_return_val_if_fail (PP_IS_TERMINAL (self), PP_TERMINAL_STATE_ANY);
  return self->state;
}

const char *
pp_terminal_get_mid (PpTerminal *self)
{
  g_return_val_if_fail (PP_IS_TERMINAL (self), NULL);
  return self->mid;
}

const char *
pp_terminal_get_tid (PpTerminal *self)
{
  g_return_val_if_fail (PP_IS_TERMINAL (self), NULL);
  return self->tid;
}

const char *
pp_terminal_get_program_version (PpTerminal *self)
{
  g_return_val_if_fail (PP_IS_TERMINAL (self), NULL);
  return self->program_version;
}

const char *
pp_terminal_get_kcv (PpTerminal *self)
{
  g_return_val_if_fail (PP_IS_TERMINAL (self), NULL);
  return self->kcv;
}

const char *
pp_terminal_get_cert_fingerprint (PpTerminal *self)
{
  g_return_val_if_fail (PP_IS_TERMINAL (self), NULL);
  return self->cert_fingerprint;
}

gint64
pp_terminal_get_created_at (PpTerminal *self)
{
  g_return_val_if_fail (PP_IS_TERMINAL (self), 0);
  return self->created_at;
}

gint64
pp_terminal_get_updated_at (PpTerminal *self)
{
  g_return_val_if_fail (PP_IS_TERMINAL (self), 0);
  return self->updated_at;
}

static void
add_nullable (JsonBuilder *builder,
              const char  *name,
              const char  *value)
{
  json_builder_set_member_name (builder, name);
  if (value != NULL)
    json_builder_add_string_value (builder, value);
  else
    json_builder_add_null_value (builder);
}

JsonNode *
pp_terminal_to_json (PpTerminal *self)
{
  g_autoptr(JsonBuilder) builder = json_builder_new ();

  g_return_val_if_fail (PP_IS_TERMINAL (self), NULL);

  json_builder_begin_object (builder);
  add_nullable (builder, "serial", self->serial);
  add_nullable (builder, "vendor", self->vendor);
  add_nullable (builder, "model", self->model);
  add_nullable (builder, "state", pp_terminal_state_to_string (self->state));
  add_nullable (builder, "cert_fingerprint", self->cert_fingerprint);
  add_nullable (builder, "mid", self->mid);
  add_nullable (builder, "tid", self->tid);
  add_nullable (builder, "program_version", self->program_version);
  add_nullable (builder, "kcv", self->kcv);
  json_builder_set_member_name (builder, "created_at");
  json_builder_add_int_value (builder, self->created_at);
  json_builder_set_member_name (builder, "updated_at");
  json_builder_add_int_value (builder, self->updated_at);
  json_builder_end_object (builder);

  return json_builder_get_root (builder);
}
