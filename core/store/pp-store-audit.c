/* SPDX-License-Identifier: GPL-3.0-or-later
 *
 * pp-store-audit.c: the hash-chained audit journal (append inside the
 * caller's transaction, verify). The chain rule is documented in pp-store.h;
 * sealing (a forward-secure MAC on every entry, with the key in the key
 * store) and signed checkpoints in docs/store.md.
 */
#include "config.h"

#include <glib/gi18n-lib.h>

#include <inttypes.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/x509.h>

#include "pp-openssl-types.h"
#include "pp-store-private.h"

#define CHECKPOINT_MAGIC "posprov-audit-checkpoint 1"

#define GENESIS_HASH "0000000000000000000000000000000000000000000000000000000000000000"

static void
put_field (GChecksum  *sum,
           const char *value)
{
  char len[32];

  g_snprintf (len, sizeof len, "%" G_GSIZE_FORMAT ":", strlen (value));
  g_checksum_update (sum, (const guchar *) len, -1);
  g_checksum_update (sum, (const guchar *) value, strlen (value));
  g_checksum_update (sum, (const guchar *) ",", 1);
}

static void
put_int (GChecksum *sum,
         gint64     value)
{
  char text[32];

  g_snprintf (text, sizeof text, "%" G_GINT64_FORMAT, value);
  put_field (sum, text);
}

static char *
entry_hash (gint64      seq,
            gint64      time,
            const char *actor,
            const char *action,
            const char *subject,
            const char *detail,
            const char *prev_hash)
{
  g_autoptr(GChecksum) sum = g_checksum_new (G_CHECKSUM_SHA256);

  put_int (sum, seq);
  put_int (sum, time);
  put_field (sum, actor);
  put_field (sum, action);
  put_field (sum, subject);
  put_field (sum, detail);
  put_field (sum, prev_hash);
  return g_strdup (g_checksum_get_string (sum));
}

/* ---- the journal key store ---- */

char *
pp_store_get_key_store_location (PpStore *self)
{
  const char *env = g_getenv (PP_STORE_KEY_STORE_ENV);
  g_autofree char *dir = NULL;

  g_return_val_if_fail (PP_IS_STORE (self), NULL);

  if (env != NULL && *env != '\0')
    return g_strdup (env);
  dir = g_path_get_dirname (self->path);
  return g_build_filename (dir, "keys", NULL);
}

/* The key store holding this journal's keys; NULL without an error when
 * it holds none and @create is FALSE. */
static PpKeyStore *
open_key_store (PpStore   *self,
                gboolean   create,
                GError   **error)
{
  g_autofree char *location = pp_store_get_key_store_location (self);
  g_autoptr(GError) local = NULL;
  g_autoptr(PpSecureBuffer) secret = NULL;
  PpKeyStore *keys;

  if (self->journal_keys != NULL)
    return g_object_ref (self->journal_keys);
  if (!create && !pp_key_store_location_has_journal_key (location, PP_JOURNAL_KEY_LABEL))
    return NULL;
  if (!pp_store_get_key_store_secret (self, location, create, &secret, error))
    return NULL;
  keys = pp_key_store_new_for_location (location,
                                        secret != NULL ? (const char *) pp_secure_buffer_peek (secret) : NULL,
                                        &local);
  if (keys == NULL)
    {
      if (g_error_matches (local, PP_KEYSTORE_ERROR, PP_KEYSTORE_ERROR_PASSPHRASE_REQUIRED) ||
          g_error_matches (local, PP_KEYSTORE_ERROR, PP_KEYSTORE_ERROR_PIN_REQUIRED))
        g_set_error (error, PP_STORE_ERROR, PP_STORE_ERROR_OPEN,
                     _("the audit journal's key store %s needs its passphrase or PIN in %s"),
                     location, PP_STORE_KEY_STORE_SECRET_ENV);
      else
        g_set_error (error, PP_STORE_ERROR, PP_STORE_ERROR_OPEN,
                     _("cannot open the audit journal's key store %s: %s"), location, local->message);
      return NULL;
    }
  self->journal_keys = g_object_ref (keys);
  return keys;
}

/* The journal key record in the key store; NULL with no error when there is none. */
static PpJournalKey *
load_station_key (PpStore  *self,
                  gboolean *out_found,
                  GError  **error)
{
  g_autoptr(PpKeyStore) keys = NULL;
  g_autoptr(GError) local = NULL;
  PpJournalKey *key;

  *out_found = FALSE;
  keys = open_key_store (self, FALSE, error);
  if (keys == NULL)
    return NULL;
  key = pp_key_store_load_journal_key (keys, PP_JOURNAL_KEY_LABEL, &local);
  if (key == NULL)
    {
      if (g_error_matches (local, PP_KEYSTORE_ERROR, PP_KEYSTORE_ERROR_NOT_FOUND))
        return NULL;
      g_set_error (error, PP_STORE_ERROR, PP_STORE_ERROR_OPEN,
                   _("cannot read the audit journal key: %s"), local->message);
      return NULL;
    }
  *out_found = TRUE;
  return key;
}

void
pp_store_audit_dispose (PpStore *self)
{
  g_clear_pointer (&self->journal_key, pp_journal_key_free);
  g_clear_pointer (&self->journal_pending, pp_journal_key_free);
  g_clear_object (&self->journal_keys);
}

/* Writes the newest key to the key store, never moving it back. */
static gboolean
save_station_key (PpStore             *self,
                  const PpJournalKey  *key,
                  GError             **error)
{
  g_autoptr(PpKeyStore) keys = open_key_store (self, TRUE, error);
  g_autoptr(PpJournalKey) stored = NULL;
  g_autoptr(GError) local = NULL;

  if (keys == NULL)
    return FALSE;
  /* A connection holding an old key must not roll the key store back to an
   * epoch that another one has already wiped. */
  stored = pp_key_store_load_journal_key (keys, PP_JOURNAL_KEY_LABEL, &local);
  if (stored != NULL && stored->epoch > key->epoch)
    {
      g_set_error (error, PP_STORE_ERROR, PP_STORE_ERROR_INVALID,
                   _("the audit journal's key is at epoch %" PRIu64 " but the journal "
                     "ends in epoch %" PRIu64 ": entries were deleted; run audit verify"),
                   stored->epoch, key->epoch);
      return FALSE;
    }
  if (stored != NULL && stored->epoch == key->epoch)
    return TRUE;
  if (!pp_key_store_store_journal_key (keys, PP_JOURNAL_KEY_LABEL, key, &local))
    {
      g_clear_error (error);
      g_set_error (error, PP_STORE_ERROR, PP_STORE_ERROR_OPEN,
                   _("cannot save the audit journal key: %s"), local->message);
      return FALSE;
    }
  return TRUE;
}

void
pp_store_audit_committed (PpStore *self)
{
  g_autoptr(GError) error = NULL;

  if (self->journal_pending == NULL)
    return;
  /* The committed entries are sealed under the new key: from now on the
   * old one is needed by nobody but the verifier's seed. */
  g_clear_pointer (&self->journal_key, pp_journal_key_free);
  self->journal_key = g_steal_pointer (&self->journal_pending);
  if (save_station_key (self, self->journal_key, &error))
    self->journal_unsaved = FALSE;
  else
    {
      /* The entries are committed; the key store catches up at the next
       * append, which fails instead if it still cannot. */
      self->journal_unsaved = TRUE;
      g_debug ("audit journal key not saved yet: %s", error->message);
    }
}

void
pp_store_audit_rolled_back (PpStore *self)
{
  g_clear_pointer (&self->journal_pending, pp_journal_key_free);
}

/* ---- append ---- */

static gboolean
read_journal_id (PpStore  *self,
                 char    **out_id,
                 GError  **error)
{
  g_autoptr(GError) local = NULL;

  *out_id = pp_store_get_setting (self, "journal_id", NULL, &local);
  if (local != NULL)
    {
      g_propagate_error (error, g_steal_pointer (&local));
      return FALSE;
    }
  return TRUE;
}

/* Seals entry @seq (hash @hash) in the open transaction: picks its epoch,
 * computes its MAC and, on the first entry of an epoch, the MAC under the
 * previous epoch's key that fixes the epoch's start. */
static gboolean
seal_entry (PpStore       *self,
            sqlite3_stmt  *head,
            gboolean       have_head,
            gint64         seq,
            gint64         now,
            const char    *journal_id,
            const char    *hash,
            gint64        *out_epoch,
            gint64        *out_epoch_seq,
            gint64        *out_epoch_time,
            char           mac[65],
            char           epoch_mac[65],
            GError       **error)
{
  PpJournalKey *key;
  gboolean head_sealed = have_head && sqlite3_column_type (head, 2) == SQLITE_INTEGER;
  guint64 epoch;

  if (self->journal_unsaved && !save_station_key (self, self->journal_key, error))
    return FALSE;
  self->journal_unsaved = FALSE;

  if (self->journal_key == NULL)
    {
      gboolean found;

      self->journal_key = load_station_key (self, &found, error);
      if (self->journal_key == NULL)
        {
          if (found || (error != NULL && *error != NULL))
            return FALSE;
          g_set_error (error, PP_STORE_ERROR, PP_STORE_ERROR_OPEN,
                       _("the audit journal is sealed, but the key store %s holds no journal key; "
                         "set %s to the key store that sealed it"),
                       pp_store_get_key_store_location (self), PP_STORE_KEY_STORE_ENV);
          return FALSE;
        }
    }
  /* A second entry in the transaction that started an epoch uses its key. */
  key = self->journal_pending != NULL ? self->journal_pending : self->journal_key;
  if (strcmp (key->journal_id, journal_id) != 0)
    {
      g_set_error (error, PP_STORE_ERROR, PP_STORE_ERROR_INVALID,
                   _("the key store's journal key belongs to journal %s, not to this store's %s"),
                   key->journal_id, journal_id);
      return FALSE;
    }
  if ((guint64) seq < key->first_seq)
    {
      g_set_error (error, PP_STORE_ERROR, PP_STORE_ERROR_INVALID,
                   _("the audit journal was sealed from entry %" PRIu64 " on but ends "
                     "before it: entries were deleted; run audit verify"), key->first_seq);
      return FALSE;
    }

  if (!head_sealed)
    {
      if ((guint64) seq != key->first_seq)
        {
          g_set_error (error, PP_STORE_ERROR, PP_STORE_ERROR_INVALID,
                       _("the end of the audit journal lost its seal; run audit verify"));
          return FALSE;
        }
      epoch = 0;
      *out_epoch_seq = seq;
      *out_epoch_time = now;
    }
  else
    {
      guint64 head_epoch = (guint64) sqlite3_column_int64 (head, 2);
      gint64 start_seq = sqlite3_column_int64 (head, 3);
      gint64 start_time = sqlite3_column_int64 (head, 4);

      if (head_epoch < key->epoch)
        {
          g_set_error (error, PP_STORE_ERROR, PP_STORE_ERROR_INVALID,
                       _("the audit journal's key is at epoch %" PRIu64 " but the journal "
                         "ends in epoch %" PRIu64 ": entries were deleted; run audit verify"),
                       key->epoch, head_epoch);
          return FALSE;
        }
      /* Another connection moved on: follow it. */
      if (head_epoch > key->epoch)
        {
          pp_journal_key_evolve_to (key, head_epoch);
          self->journal_unsaved = TRUE;
        }
      epoch = head_epoch;
      *out_epoch_seq = start_seq;
      *out_epoch_time = start_time;
      if (seq - start_seq >= (gint64) key->epoch_entries ||
          (key->epoch_seconds > 0 && now - start_time >= (gint64) key->epoch_seconds) ||
          now < start_time)
        {
          epoch = head_epoch + 1;
          *out_epoch_seq = seq;
          *out_epoch_time = now;
        }
    }

  *out_epoch = (gint64) epoch;
  epoch_mac[0] = '\0';
  if (epoch > key->epoch)
    {
      /* The old key vouches for where the new epoch starts, so nobody
       * holding only the new key can move the boundary back. */
      PpJournalKey *next = pp_journal_key_dup (key);

      pp_journal_key_epoch_mac (key, (guint64) seq, hash, epoch_mac);
      pp_journal_key_evolve_to (next, epoch);
      pp_journal_key_entry_mac (next, (guint64) seq, hash, mac);
      g_clear_pointer (&self->journal_pending, pp_journal_key_free);
      self->journal_pending = next;
    }
  else
    pp_journal_key_entry_mac (key, (guint64) seq, hash, mac);
  return TRUE;
}

gboolean
pp_store_audit_append (PpStore     *self,
                       const char  *actor,
                       const char  *action,
                       const char  *subject,
                       JsonNode    *detail,
                       GError     **error)
{
  g_autoptr(JsonNode) owned = detail;
  g_autoptr(sqlite3_stmt) head = NULL;
  g_autoptr(sqlite3_stmt) insert = NULL;
  g_autoptr(sqlite3_stmt) update = NULL;
  g_autofree char *detail_text = NULL;
  g_autofree char *prev_hash = NULL;
  g_autofree char *hash = NULL;
  g_autofree char *journal_id = NULL;
  gint64 seq = 1;
  gint64 now = pp_store_now ();
  gint64 epoch = 0, epoch_seq = 0, epoch_time = 0;
  char mac[65] = "";
  char epoch_mac[65] = "";
  gboolean have_head = FALSE;
  int rc;

  g_assert (!sqlite3_get_autocommit (self->db));

  detail_text = owned != NULL ? json_to_string (owned, FALSE) : g_strdup ("{}");

  /* The head, not max(seq): after a deleted tail the next entry leaves a
   * visible gap instead of silently taking the deleted seq. */
  head = pp_store_prepare (self, "SELECT seq, hash, epoch, epoch_seq, epoch_time FROM audit_head "
                                 "WHERE id = 1", error);
  if (head == NULL)
    return FALSE;
  rc = sqlite3_step (head);
  if (rc == SQLITE_ROW)
    {
      seq = sqlite3_column_int64 (head, 0) + 1;
      prev_hash = g_strdup ((const char *) sqlite3_column_text (head, 1));
      have_head = TRUE;
    }
  else if (rc == SQLITE_DONE)
    prev_hash = g_strdup (GENESIS_HASH);
  else
    {
      pp_store_set_sql_error (self, error, _("cannot read the audit journal"));
      return FALSE;
    }

  hash = entry_hash (seq, now, actor, action, subject, detail_text, prev_hash);

  if (!read_journal_id (self, &journal_id, error))
    return FALSE;
  if (journal_id != NULL &&
      !seal_entry (self, head, have_head, seq, now, journal_id, hash, &epoch, &epoch_seq,
                   &epoch_time, mac, epoch_mac, error))
    return FALSE;

  insert = pp_store_prepare (self,
                             "INSERT INTO audit (seq, time, actor, action, subject, detail, prev_hash, hash, "
                             "epoch, mac, epoch_mac) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", error);
  if (insert == NULL)
    return FALSE;
  sqlite3_bind_int64 (insert, 1, seq);
  sqlite3_bind_int64 (insert, 2, now);
  sqlite3_bind_text (insert, 3, actor, -1, SQLITE_STATIC);
  sqlite3_bind_text (insert, 4, action, -1, SQLITE_STATIC);
  sqlite3_bind_text (insert, 5, subject, -1, SQLITE_STATIC);
  sqlite3_bind_text (insert, 6, detail_text, -1, SQLITE_STATIC);
  sqlite3_bind_text (insert, 7, prev_hash, -1, SQLITE_STATIC);
  sqlite3_bind_text (insert, 8, hash, -1, SQLITE_STATIC);
  if (journal_id != NULL)
    {
      sqlite3_bind_int64 (insert, 9, epoch);
      sqlite3_bind_text (insert, 10, mac, -1, SQLITE_STATIC);
      if (epoch_mac[0] != '\0')
        sqlite3_bind_text (insert, 11, epoch_mac, -1, SQLITE_STATIC);
    }
  if (sqlite3_step (insert) != SQLITE_DONE)
    {
      pp_store_set_sql_error (self, error, _("cannot append to the audit journal"));
      return FALSE;
    }

  update = pp_store_prepare (self,
                             "INSERT INTO audit_head (id, seq, hash, epoch, epoch_seq, epoch_time) "
                             "VALUES (1, ?, ?, ?, ?, ?) "
                             "ON CONFLICT (id) DO UPDATE SET seq = excluded.seq, hash = excluded.hash, "
                             "epoch = excluded.epoch, epoch_seq = excluded.epoch_seq, "
                             "epoch_time = excluded.epoch_time",
                             error);
  if (update == NULL)
    return FALSE;
  sqlite3_bind_int64 (update, 1, seq);
  sqlite3_bind_text (update, 2, hash, -1, SQLITE_STATIC);
  if (journal_id != NULL)
    {
      sqlite3_bind_int64 (update, 3, epoch);
      sqlite3_bind_int64 (update, 4, epoch_seq);
      sqlite3_bind_int64 (update, 5, epoch_time);
    }
  if (sqlite3_step (update) != SQLITE_DONE)
    {
      pp_store_set_sql_error (self, error, _("cannot append to the audit journal"));
      return FALSE;
    }
  return TRUE;
}

/* ---- verify ---- */

static const char *
column_text (sqlite3_stmt *stmt,
             int           col)
{
  const unsigned char *text = sqlite3_column_text (stmt, col);

  return text != NULL ? (const char *) text : "";
}

static gboolean
report (gint64      *out_first_bad_seq,
        gint64       seq,
        GError     **error,
        const char  *format,
        ...) G_GNUC_PRINTF (4, 5);

static gboolean
report (gint64      *out_first_bad_seq,
        gint64       seq,
        GError     **error,
        const char  *format,
        ...)
{
  va_list args;
  g_autofree char *message = NULL;

  va_start (args, format);
  message = g_strdup_vprintf (format, args);
  va_end (args);

  if (out_first_bad_seq != NULL)
    *out_first_bad_seq = seq;
  g_set_error_literal (error, PP_STORE_ERROR, PP_STORE_ERROR_INVALID, message);
  return FALSE;
}

enum { COL_SEQ, COL_TIME, COL_ACTOR, COL_ACTION, COL_SUBJECT, COL_DETAIL, COL_PREV, COL_HASH,
       COL_EPOCH, COL_MAC, COL_EPOCH_MAC };

static const char * const column_names[] = {
  "seq", "time", "actor", "action", "subject", "detail", "prev_hash", "hash",
  "epoch", "mac", "epoch_mac",
};

/* What is hashed must be exactly what is stored: SQLite keeps
 * '1796154038abc' or 1796154038.5 in an INTEGER column as text or real,
 * and text after a NUL is invisible to a C string. */
static const char *
check_types (sqlite3_stmt *stmt)
{
  for (int col = COL_SEQ; col <= COL_EPOCH_MAC; col++)
    {
      int type = sqlite3_column_type (stmt, col);

      switch (col)
        {
        case COL_SEQ:
        case COL_TIME:
          if (type != SQLITE_INTEGER)
            return column_names[col];
          break;
        case COL_EPOCH:
          if (type != SQLITE_INTEGER && type != SQLITE_NULL)
            return column_names[col];
          if (type == SQLITE_INTEGER && sqlite3_column_int64 (stmt, col) < 0)
            return column_names[col];
          break;
        case COL_MAC:
        case COL_EPOCH_MAC:
          if (type == SQLITE_NULL)
            break;
          G_GNUC_FALLTHROUGH;
        default:
          if (type != SQLITE_TEXT)
            return column_names[col];
          if ((size_t) sqlite3_column_bytes (stmt, col) != strlen (column_text (stmt, col)))
            return column_names[col];
          break;
        }
    }
  return NULL;
}

void
pp_audit_report_clear (PpAuditReport *report)
{
  g_clear_pointer (&report->note, g_free);
}

static char *
spki_fingerprint (EVP_PKEY *pkey)
{
  unsigned char *der = NULL;
  int len = i2d_PUBKEY (pkey, &der);
  char *hex;

  if (len <= 0)
    {
      ERR_clear_error ();
      return NULL;
    }
  hex = g_compute_checksum_for_data (G_CHECKSUM_SHA256, der, (gsize) len);
  OPENSSL_free (der);
  return hex;
}

typedef struct
{
  gint64  seq;
  char    journal_id[33];
  char    head[65];
  gint64  time;
} Checkpoint;

/* Parses and checks the signature of a checkpoint; the signing key must be
 * the one the seed names or the station's checkpoint key. */
static gboolean
read_checkpoint (PpStore      *self,
                 const char   *text,
                 gsize         len,
                 const char   *trusted_fp,
                 Checkpoint   *out,
                 GError      **error)
{
  g_autofree char *copy = NULL;
  g_auto(GStrv) lines = NULL;
  g_autofree guchar *spki = NULL;
  g_autofree guchar *sig = NULL;
  g_autofree char *fp = NULL;
  g_autofree char *station_fp = NULL;
  g_autoptr(EVP_PKEY) pkey = NULL;
  g_autoptr(EVP_MD_CTX) md = NULL;
  const unsigned char *p;
  const char *sig_line;
  gsize spki_len = 0, sig_len = 0, signed_len;
  guint seen = 0;

  memset (out, 0, sizeof *out);
  if (len > 16384 || memchr (text, '\0', len) != NULL)
    goto bad;
  copy = g_strndup (text, len);
  sig_line = strstr (copy, "\nsignature: ");
  if (!g_str_has_prefix (copy, CHECKPOINT_MAGIC "\n") || sig_line == NULL)
    goto bad;
  signed_len = (gsize) (sig_line - copy) + 1;
  lines = g_strsplit (copy, "\n", -1);
  for (guint i = 1; lines[i] != NULL; i++)
    {
      char *value = strstr (lines[i], ": ");

      if (lines[i][0] == '\0')
        continue;
      if (value == NULL)
        goto bad;
      *value = '\0';
      value += 2;
      if (strcmp (lines[i], "journal-id") == 0 && strlen (value) == 32)
        g_strlcpy (out->journal_id, value, sizeof out->journal_id), seen |= 1;
      else if (strcmp (lines[i], "seq") == 0 &&
               g_ascii_string_to_signed (value, 10, 1, G_MAXINT64, &out->seq, NULL))
        seen |= 2;
      else if (strcmp (lines[i], "head") == 0 && strlen (value) == 64)
        g_strlcpy (out->head, value, sizeof out->head), seen |= 4;
      else if (strcmp (lines[i], "time") == 0 &&
               g_ascii_string_to_signed (value, 10, 0, G_MAXINT64, &out->time, NULL))
        seen |= 8;
      else if (strcmp (lines[i], "public-key") == 0 && spki == NULL)
        {
          spki = g_base64_decode (value, &spki_len);
          seen |= 16;
        }
      else if (strcmp (lines[i], "signature") == 0 && sig == NULL)
        {
          sig = g_base64_decode (value, &sig_len);
          seen |= 32;
        }
      else
        goto bad;
    }
  if (seen != 63 || spki_len == 0 || sig_len == 0)
    goto bad;

  p = spki;
  pkey = d2i_PUBKEY (NULL, &p, (long) spki_len);
  if (pkey == NULL || p != spki + spki_len)
    goto bad;
  fp = spki_fingerprint (pkey);
  if (trusted_fp == NULL)
    {
      g_autoptr(PpKeyStore) keys = NULL;
      g_autoptr(PpSigner) signer = NULL;
      g_autoptr(EVP_PKEY) pub = NULL;
      g_autoptr(GError) local = NULL;

      keys = open_key_store (self, FALSE, &local);
      signer = keys != NULL ? pp_key_store_get_signer (keys, PP_JOURNAL_SIGN_LABEL, &local) : NULL;
      pub = signer != NULL ? pp_signer_dup_public_key (signer, &local) : NULL;
      if (pub == NULL)
        {
          g_set_error (error, PP_STORE_ERROR, PP_STORE_ERROR_INVALID,
                       _("cannot check who signed the checkpoint: give the journal's seed file or "
                         "open its key store%s%s"), local != NULL ? ": " : "",
                       local != NULL ? local->message : "");
          return FALSE;
        }
      trusted_fp = station_fp = spki_fingerprint (pub);
    }
  if (fp == NULL || trusted_fp == NULL || g_ascii_strcasecmp (fp, trusted_fp) != 0)
    {
      g_set_error_literal (error, PP_STORE_ERROR, PP_STORE_ERROR_INVALID,
                           _("the checkpoint is not signed by this journal's checkpoint key"));
      return FALSE;
    }
  md = EVP_MD_CTX_new ();
  if (md == NULL || EVP_DigestVerifyInit (md, NULL, EVP_sha256 (), NULL, pkey) != 1 ||
      EVP_DigestVerify (md, sig, sig_len, (const unsigned char *) copy, signed_len) != 1)
    {
      ERR_clear_error ();
      g_set_error_literal (error, PP_STORE_ERROR, PP_STORE_ERROR_INVALID,
                           _("the checkpoint's signature does not match: it was altered"));
      return FALSE;
    }
  return TRUE;

bad:
  g_set_error (error, PP_STORE_ERROR, PP_STORE_ERROR_INVALID,
               _("not a posprov audit checkpoint (it starts with “%s”)"), CHECKPOINT_MAGIC);
  return FALSE;
}

gboolean
pp_store_audit_verify_full (PpStore                    *self,
                            const PpAuditVerifyOptions *options,
                            PpAuditReport              *rep,
                            GError                    **error)
{
  static const PpAuditVerifyOptions none = { 0 };
  g_autoptr(sqlite3_stmt) stmt = NULL;
  g_autoptr(sqlite3_stmt) head = NULL;
  g_autoptr(PpJournalKey) seed = NULL;
  g_autoptr(PpJournalKey) station = NULL;
  g_autoptr(PpJournalKey) walk = NULL;     /* seed key evolved along the walk */
  g_autoptr(PpJournalKey) ahead = NULL;    /* station key evolved past its epoch */
  g_autofree char *prev_stored = g_strdup (GENESIS_HASH);
  g_autofree char *seed_fp = NULL;
  g_autofree char *db_id = NULL;
  g_autofree char *checkpoint_hash = NULL;
  const PpJournalKey *ref = NULL;
  PpAuditReport local_report = { 0 };
  PpAuditReport *r = rep != NULL ? rep : &local_report;
  Checkpoint cp = { 0 };
  gboolean have_cp = FALSE;
  gint64 expected = 1;
  gint64 last_epoch = -1;
  gint64 epoch_start = 0;
  guint64 n = 0;
  int rc;

  g_return_val_if_fail (PP_IS_STORE (self), FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  if (options == NULL)
    options = &none;
  memset (r, 0, sizeof *r);

  if (options->seed != NULL)
    {
      g_autoptr(GError) local = NULL;

      seed = pp_journal_key_from_seed (options->seed, options->seed_len, &seed_fp, &local);
      if (seed == NULL)
        {
          g_set_error (error, PP_STORE_ERROR, PP_STORE_ERROR_INVALID, "%s", local->message);
          goto out;
        }
      r->used_seed = TRUE;
    }
  /* A demo store shares its folder, and so the default key store, with the
   * real store: that key is not the demo's. */
  r->demo = pp_store_is_demo_store (self);
  if (!options->no_key_store && !r->demo)
    {
      gboolean found;
      g_autoptr(GError) local = NULL;

      station = load_station_key (self, &found, &local);
      if (station == NULL && local != NULL)
        {
          if (seed == NULL)
            {
              g_propagate_error (error, g_steal_pointer (&local));
              goto out;
            }
          r->note = g_strdup (local->message);
        }
      if (station != NULL)
        {
          r->used_station_key = TRUE;
          r->station_epoch = station->epoch;
        }
    }
  if (seed != NULL && station != NULL && strcmp (seed->journal_id, station->journal_id) != 0)
    {
      g_set_error (error, PP_STORE_ERROR, PP_STORE_ERROR_INVALID,
                   _("the seed is for journal %s but the key store seals journal %s"),
                   seed->journal_id, station->journal_id);
      goto out;
    }
  ref = seed != NULL ? seed : station;
  if (seed != NULL)
    walk = pp_journal_key_dup (seed);

  if (options->checkpoint != NULL)
    {
      if (!read_checkpoint (self, options->checkpoint, options->checkpoint_len, seed_fp, &cp, error))
        goto out;
      have_cp = TRUE;
      r->checkpoint_seq = cp.seq;
    }

  /* One read transaction: entries appended meanwhile by another
   * connection cannot make the head look ahead of the walk. */
  if (!pp_store_exec (self, "BEGIN", error))
    goto out;

  if (!read_journal_id (self, &db_id, error))
    goto fail;
  if (ref != NULL && g_strcmp0 (db_id, ref->journal_id) != 0)
    {
      report (&r->first_bad_seq, (gint64) ref->first_seq, error,
              db_id == NULL
                ? _("the journal was sealed (journal %s, from entry %" PRIu64 ") but the "
                    "store no longer says so: its seal was removed%s")
                : _("the journal was sealed (journal %s, from entry %" PRIu64 ") but the "
                    "store names another journal %s"),
              ref->journal_id, ref->first_seq, db_id != NULL ? db_id : "");
      goto fail;
    }
  if (have_cp && g_strcmp0 (db_id, cp.journal_id) != 0)
    {
      report (&r->first_bad_seq, cp.seq, error,
              _("the checkpoint is for journal %s, not for this store's journal"), cp.journal_id);
      goto fail;
    }
  if (ref != NULL)
    r->sealed_from = (gint64) ref->first_seq;
  else if (db_id != NULL && r->note == NULL)
    r->note = g_strdup (_("the journal is sealed but no key was available: its MACs were not checked"));

  stmt = pp_store_prepare (self,
                           "SELECT seq, time, actor, action, subject, detail, prev_hash, hash, "
                           "epoch, mac, epoch_mac FROM audit ORDER BY seq", error);
  if (stmt == NULL)
    goto fail;

  while ((rc = sqlite3_step (stmt)) == SQLITE_ROW)
    {
      gint64 seq = sqlite3_column_int64 (stmt, COL_SEQ);
      const char *prev_hash = column_text (stmt, COL_PREV);
      const char *stored = column_text (stmt, COL_HASH);
      const char *bad_column = check_types (stmt);
      g_autofree char *computed = NULL;

      r->n_entries = n;
      if (seq != expected)
        {
          report (&r->first_bad_seq, expected, error,
                  _("audit entry %" PRId64 " is missing (deleted); the next entry is %"
                    PRId64), expected, seq);
          goto fail;
        }
      if (bad_column != NULL)
        {
          report (&r->first_bad_seq, seq, error,
                  _("audit entry %" PRId64 " was changed outside posprov: its %s is not "
                    "stored as posprov writes it"), seq, bad_column);
          goto fail;
        }
      computed = entry_hash (seq, sqlite3_column_int64 (stmt, COL_TIME),
                             column_text (stmt, COL_ACTOR), column_text (stmt, COL_ACTION),
                             column_text (stmt, COL_SUBJECT), column_text (stmt, COL_DETAIL),
                             prev_hash);
      if (strcmp (computed, stored) != 0)
        {
          report (&r->first_bad_seq, seq, error,
                  _("audit entry %" PRId64 " was changed or moved: its contents do not "
                    "match its hash"), seq);
          goto fail;
        }
      if (strcmp (prev_hash, prev_stored) != 0)
        {
          report (&r->first_bad_seq, seq - 1, error,
                  _("audit entry %" PRId64 " was rewritten: entry %" PRId64
                    " recorded a different hash for it"), seq - 1, seq);
          goto fail;
        }

      if (ref != NULL)
        {
          gboolean sealed = sqlite3_column_type (stmt, COL_EPOCH) == SQLITE_INTEGER;
          const char *mac = sqlite3_column_type (stmt, COL_MAC) == SQLITE_TEXT
                              ? column_text (stmt, COL_MAC) : NULL;
          const char *epoch_mac = sqlite3_column_type (stmt, COL_EPOCH_MAC) == SQLITE_TEXT
                                    ? column_text (stmt, COL_EPOCH_MAC) : NULL;
          gint64 epoch = sqlite3_column_int64 (stmt, COL_EPOCH);
          char want[65];

          if ((guint64) seq < ref->first_seq)
            {
              if (sealed || mac != NULL)
                {
                  report (&r->first_bad_seq, seq, error,
                          _("audit entry %" PRId64 " carries a seal but comes before the "
                            "journal was sealed (entry %" PRIu64 "): it was moved"),
                          seq, ref->first_seq);
                  goto fail;
                }
            }
          else if (!sealed || mac == NULL)
            {
              report (&r->first_bad_seq, seq, error,
                      _("audit entry %" PRId64 " has no seal: it was added or rewritten "
                        "outside posprov"), seq);
              goto fail;
            }
          else
            {
              gboolean starts_epoch = epoch != last_epoch;

              if ((last_epoch < 0 && epoch != 0) || (last_epoch >= 0 && epoch != last_epoch &&
                                                     epoch != last_epoch + 1))
                {
                  report (&r->first_bad_seq, seq, error,
                          _("audit entry %" PRId64 " was forged or moved: it claims key "
                            "epoch %" PRId64 " after epoch %" PRId64),
                          seq, epoch, last_epoch);
                  goto fail;
                }
              if (starts_epoch)
                epoch_start = seq;
              else if (seq - epoch_start >= (gint64) ref->epoch_entries)
                {
                  report (&r->first_bad_seq, seq, error,
                          _("audit entry %" PRId64 " was forged: key epoch %" PRId64
                            " already holds %u entries"), seq, epoch, ref->epoch_entries);
                  goto fail;
                }
              if (starts_epoch && epoch > 0 && epoch_mac == NULL)
                {
                  report (&r->first_bad_seq, seq, error,
                          _("audit entry %" PRId64 " was forged or moved: it starts key "
                            "epoch %" PRId64 " without the previous key's seal"),
                          seq, epoch);
                  goto fail;
                }
              if (walk != NULL)
                {
                  if (starts_epoch && epoch > 0)
                    {
                      pp_journal_key_epoch_mac (walk, (guint64) seq, stored, want);
                      if (!pp_journal_mac_equal (want, epoch_mac))
                        {
                          report (&r->first_bad_seq, seq, error,
                                  _("audit entry %" PRId64 " was rewritten, moved or "
                                    "forged: the seal that starts key epoch %" PRId64
                                    " does not match (checked with the seed)"), seq, epoch);
                          goto fail;
                        }
                      pp_journal_key_evolve_to (walk, (guint64) epoch);
                    }
                  pp_journal_key_entry_mac (walk, (guint64) seq, stored, want);
                }
              else if (station != NULL && (guint64) epoch >= station->epoch)
                {
                  if (ahead == NULL)
                    ahead = pp_journal_key_dup (station);
                  pp_journal_key_evolve_to (ahead, (guint64) epoch);
                  pp_journal_key_entry_mac (ahead, (guint64) seq, stored, want);
                }
              else
                want[0] = '\0';
              if (want[0] != '\0')
                {
                  if (!pp_journal_mac_equal (want, mac))
                    {
                      report (&r->first_bad_seq, seq, error,
                              walk != NULL
                                ? _("audit entry %" PRId64 " was rewritten, moved or forged: "
                                    "its seal does not match (checked with the seed)")
                                : _("audit entry %" PRId64 " was rewritten, moved or forged: "
                                    "its seal does not match (checked with the station's key)"),
                              seq);
                      goto fail;
                    }
                  r->n_macs_checked++;
                }
              last_epoch = epoch;
            }
        }
      if (have_cp && seq == cp.seq)
        checkpoint_hash = g_strdup (stored);

      g_free (prev_stored);
      prev_stored = g_strdup (stored);
      expected++;
      n++;
    }
  if (rc != SQLITE_DONE)
    {
      pp_store_set_sql_error (self, error, _("cannot read the audit journal"));
      goto fail;
    }
  r->n_entries = n;

  head = pp_store_prepare (self, "SELECT seq, hash FROM audit_head WHERE id = 1", error);
  if (head == NULL)
    goto fail;
  rc = sqlite3_step (head);
  if (rc == SQLITE_ROW)
    {
      gint64 head_seq = sqlite3_column_int64 (head, 0);

      if (head_seq > expected - 1)
        {
          report (&r->first_bad_seq, expected, error,
                  _("audit entry %" PRId64 " is missing (deleted); the journal should "
                    "end at entry %" PRId64), expected, head_seq);
          goto fail;
        }
      if (head_seq == expected - 1 && strcmp (column_text (head, 1), prev_stored) != 0)
        {
          report (&r->first_bad_seq, head_seq, error,
                  _("audit entry %" PRId64 " was rewritten: it does not match the "
                    "recorded end of the journal"), head_seq);
          goto fail;
        }
      if (head_seq < expected - 1)
        {
          report (&r->first_bad_seq, head_seq + 1, error,
                  _("audit entry %" PRId64 " was added outside posprov"), head_seq + 1);
          goto fail;
        }
    }
  else if (rc == SQLITE_DONE)
    {
      if (n > 0)
        {
          report (&r->first_bad_seq, 1, error, _("the record of the journal's end is missing"));
          goto fail;
        }
    }
  else
    {
      pp_store_set_sql_error (self, error, _("cannot read the audit journal"));
      goto fail;
    }

  /* The keys outside the file know how far the journal got. */
  if (ref != NULL && (guint64) (expected - 1) < ref->first_seq)
    {
      report (&r->first_bad_seq, expected, error,
              _("the journal was truncated: it was sealed at entry %" PRIu64 " but ends "
                "at entry %" PRId64), ref->first_seq, expected - 1);
      goto fail;
    }
  if (station != NULL && last_epoch < (gint64) station->epoch)
    {
      report (&r->first_bad_seq, expected, error,
              _("the journal was truncated: the station's key is at epoch %" PRIu64
                " but the journal ends at entry %" PRId64 " in epoch %" PRId64),
              station->epoch, expected - 1, last_epoch);
      goto fail;
    }
  if (have_cp)
    {
      g_autoptr(GDateTime) when = g_date_time_new_from_unix_utc (cp.time);
      g_autofree char *when_text = when != NULL ? g_date_time_format_iso8601 (when) : g_strdup ("?");

      if (cp.seq > expected - 1)
        {
          report (&r->first_bad_seq, expected, error,
                  _("the journal was truncated: it ends at entry %" PRId64 " but the "
                    "checkpoint of %s recorded entry %" PRId64),
                  expected - 1, when_text, cp.seq);
          goto fail;
        }
      if (checkpoint_hash == NULL || strcmp (checkpoint_hash, cp.head) != 0)
        {
          report (&r->first_bad_seq, cp.seq, error,
                  _("the journal was rewritten: entries up to %" PRId64 " differ from "
                    "the checkpoint of %s"), cp.seq, when_text);
          goto fail;
        }
    }

  g_clear_pointer (&stmt, sqlite3_finalize);
  g_clear_pointer (&head, sqlite3_finalize);
  pp_store_exec (self, "COMMIT", NULL);
  pp_audit_report_clear (&local_report);
  return TRUE;

fail:
  g_clear_pointer (&stmt, sqlite3_finalize);
  g_clear_pointer (&head, sqlite3_finalize);
  if (!sqlite3_get_autocommit (self->db))
    sqlite3_exec (self->db, "ROLLBACK", NULL, NULL, NULL);
out:
  if (r->first_bad_seq < 0)
    r->first_bad_seq = 0;
  pp_audit_report_clear (&local_report);
  return FALSE;
}

gboolean
pp_store_audit_verify (PpStore  *self,
                       gint64   *out_first_bad_seq,
                       guint64  *out_n_entries,
                       GError  **error)
{
  PpAuditReport r = { 0 };
  gboolean ok;

  g_return_val_if_fail (PP_IS_STORE (self), FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  ok = pp_store_audit_verify_full (self, NULL, &r, error);
  if (out_first_bad_seq != NULL)
    *out_first_bad_seq = r.first_bad_seq;
  if (out_n_entries != NULL)
    *out_n_entries = r.n_entries;
  pp_audit_report_clear (&r);
  return ok;
}

/* ---- sealing and checkpoints ---- */

PpSecureBuffer *
pp_store_audit_init_seal (PpStore     *self,
                          guint32      epoch_entries,
                          guint32      epoch_seconds,
                          const char  *actor,
                          GError     **error)
{
  g_autoptr(PpKeyStore) keys = NULL;
  g_autoptr(PpJournalKey) existing = NULL;
  g_autoptr(PpJournalKey) key = NULL;
  g_autoptr(PpSigner) signer = NULL;
  g_autoptr(EVP_PKEY) pub = NULL;
  g_autoptr(GError) local = NULL;
  g_autoptr(sqlite3_stmt) head = NULL;
  g_autoptr(JsonBuilder) detail = json_builder_new ();
  g_autofree char *fp = NULL;
  g_autofree char *db_id = NULL;
  g_autofree char *location = NULL;
  gint64 first_seq = 1;
  int rc;

  g_return_val_if_fail (PP_IS_STORE (self), NULL);
  g_return_val_if_fail (epoch_entries >= 1, NULL);
  g_return_val_if_fail (actor != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  if (pp_store_is_demo_store (self))
    {
      g_set_error (error, PP_STORE_ERROR, PP_STORE_ERROR_DEMO,
                   _("%s is a demo store: its journal is not sealed (its data is made up)"),
                   pp_store_get_path (self));
      return NULL;
    }
  location = pp_store_get_key_store_location (self);
  keys = open_key_store (self, TRUE, error);
  if (keys == NULL)
    return NULL;
  existing = pp_key_store_load_journal_key (keys, PP_JOURNAL_KEY_LABEL, &local);
  if (existing != NULL)
    {
      g_set_error (error, PP_STORE_ERROR, PP_STORE_ERROR_DUPLICATE,
                   _("the key store %s already seals journal %s; a key store seals one journal, "
                     "once"), location, existing->journal_id);
      return NULL;
    }
  if (!g_error_matches (local, PP_KEYSTORE_ERROR, PP_KEYSTORE_ERROR_NOT_FOUND))
    {
      g_set_error (error, PP_STORE_ERROR, PP_STORE_ERROR_OPEN,
                   _("cannot read the key store %s: %s"), location, local->message);
      return NULL;
    }
  g_clear_error (&local);

  /* The checkpoint key: an RSA key pair that never leaves the key store. */
  signer = pp_key_store_get_signer (keys, PP_JOURNAL_SIGN_LABEL, &local);
  if (signer == NULL && g_error_matches (local, PP_KEYSTORE_ERROR, PP_KEYSTORE_ERROR_NOT_FOUND))
    {
      g_clear_error (&local);
      if (pp_key_store_generate_kdh_key (keys, PP_JOURNAL_SIGN_LABEL, NULL, &local))
        signer = pp_key_store_get_signer (keys, PP_JOURNAL_SIGN_LABEL, &local);
    }
  pub = signer != NULL ? pp_signer_dup_public_key (signer, &local) : NULL;
  fp = pub != NULL ? spki_fingerprint (pub) : NULL;
  if (fp == NULL)
    {
      g_set_error (error, PP_STORE_ERROR, PP_STORE_ERROR_OPEN,
                   _("cannot make the checkpoint key in %s: %s"), location,
                   local != NULL ? local->message : _("no public key"));
      return NULL;
    }

  if (!pp_store_begin (self, error))
    return NULL;
  if (!read_journal_id (self, &db_id, error))
    goto fail;
  if (db_id != NULL)
    {
      g_set_error (error, PP_STORE_ERROR, PP_STORE_ERROR_DUPLICATE,
                   _("the audit journal is sealed already (journal %s)"), db_id);
      goto fail;
    }
  head = pp_store_prepare (self, "SELECT seq FROM audit_head WHERE id = 1", error);
  if (head == NULL)
    goto fail;
  rc = sqlite3_step (head);
  if (rc == SQLITE_ROW)
    first_seq = sqlite3_column_int64 (head, 0) + 1;
  else if (rc != SQLITE_DONE)
    {
      pp_store_set_sql_error (self, error, _("cannot read the audit journal"));
      goto fail;
    }
  g_clear_pointer (&head, sqlite3_finalize);

  key = pp_journal_key_new (NULL, (guint64) first_seq, epoch_entries, epoch_seconds, error);
  if (key == NULL)
    goto fail;
  if (!pp_key_store_store_journal_key (keys, PP_JOURNAL_KEY_LABEL, key, &local))
    {
      g_set_error (error, PP_STORE_ERROR, PP_STORE_ERROR_OPEN,
                   _("cannot save the journal key in %s: %s"), location, local->message);
      goto fail;
    }
  g_clear_pointer (&self->journal_key, pp_journal_key_free);
  self->journal_key = pp_journal_key_dup (key);
  if (!pp_store_put_setting (self, "journal_id", key->journal_id, error))
    goto fail;

  json_builder_begin_object (detail);
  json_builder_set_member_name (detail, "journal_id");
  json_builder_add_string_value (detail, key->journal_id);
  json_builder_set_member_name (detail, "epoch_entries");
  json_builder_add_int_value (detail, epoch_entries);
  json_builder_set_member_name (detail, "epoch_seconds");
  json_builder_add_int_value (detail, epoch_seconds);
  json_builder_set_member_name (detail, "checkpoint_key");
  json_builder_add_string_value (detail, fp);
  json_builder_end_object (detail);
  if (!pp_store_audit_append (self, actor, "audit.sealed", "journal",
                              json_builder_get_root (detail), error))
    goto fail;
  if (!pp_store_commit (self, error))
    return NULL;
  return pp_journal_key_to_seed (key, fp);

fail:
  pp_store_rollback (self);
  return NULL;
}

char *
pp_store_audit_checkpoint (PpStore  *self,
                           GError  **error)
{
  g_autoptr(PpKeyStore) keys = NULL;
  g_autoptr(PpSigner) signer = NULL;
  g_autoptr(EVP_PKEY) pub = NULL;
  g_autoptr(GBytes) sig = NULL;
  g_autoptr(GError) local = NULL;
  g_autofree char *db_id = NULL;
  g_autofree char *spki_b64 = NULL;
  g_autofree char *sig_b64 = NULL;
  g_autofree char *body = NULL;
  PpAuditReport r = { 0 };
  g_autoptr(sqlite3_stmt) head = NULL;
  unsigned char *der = NULL;
  int der_len;
  gint64 seq;
  g_autofree char *hash = NULL;

  g_return_val_if_fail (PP_IS_STORE (self), NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  /* Never sign a journal that does not verify. */
  if (!pp_store_audit_verify_full (self, NULL, &r, error))
    {
      pp_audit_report_clear (&r);
      return NULL;
    }
  pp_audit_report_clear (&r);
  if (!read_journal_id (self, &db_id, error))
    return NULL;
  if (db_id == NULL)
    {
      g_set_error_literal (error, PP_STORE_ERROR, PP_STORE_ERROR_INVALID,
                           _("the audit journal is not sealed; run audit init-seal first"));
      return NULL;
    }
  keys = open_key_store (self, FALSE, error);
  if (keys == NULL)
    {
      if (error != NULL && *error == NULL)
        g_set_error_literal (error, PP_STORE_ERROR, PP_STORE_ERROR_OPEN,
                             _("the audit journal's key store holds no journal key"));
      return NULL;
    }
  signer = pp_key_store_get_signer (keys, PP_JOURNAL_SIGN_LABEL, &local);
  pub = signer != NULL ? pp_signer_dup_public_key (signer, &local) : NULL;
  der_len = pub != NULL ? i2d_PUBKEY (pub, &der) : -1;
  if (der_len <= 0)
    {
      ERR_clear_error ();
      g_set_error (error, PP_STORE_ERROR, PP_STORE_ERROR_OPEN,
                   _("cannot use the checkpoint key: %s"), local != NULL ? local->message : _("bad key"));
      return NULL;
    }
  spki_b64 = g_base64_encode (der, (gsize) der_len);
  OPENSSL_free (der);

  head = pp_store_prepare (self, "SELECT seq, hash FROM audit_head WHERE id = 1", error);
  if (head == NULL)
    return NULL;
  if (sqlite3_step (head) != SQLITE_ROW)
    {
      g_set_error_literal (error, PP_STORE_ERROR, PP_STORE_ERROR_INVALID,
                           _("the audit journal is empty"));
      return NULL;
    }
  seq = sqlite3_column_int64 (head, 0);
  hash = g_strdup (column_text (head, 1));

  body = g_strdup_printf (CHECKPOINT_MAGIC "\n"
                          "journal-id: %s\n"
                          "seq: %" G_GINT64_FORMAT "\n"
                          "head: %s\n"
                          "time: %" G_GINT64_FORMAT "\n"
                          "public-key: %s\n",
                          db_id, seq, hash, pp_store_now (), spki_b64);
  if (!pp_signer_sign (signer, (const guint8 *) body, strlen (body), &sig, &local))
    {
      g_set_error (error, PP_STORE_ERROR, PP_STORE_ERROR_OPEN,
                   _("cannot sign the checkpoint: %s"), local->message);
      return NULL;
    }
  sig_b64 = g_base64_encode (g_bytes_get_data (sig, NULL), g_bytes_get_size (sig));
  return g_strconcat (body, "signature: ", sig_b64, "\n", NULL);
}

void
pp_audit_entry_free (PpAuditEntry *entry)
{
  if (entry == NULL)
    return;
  g_free (entry->actor);
  g_free (entry->action);
  g_free (entry->subject);
  g_free (entry->detail);
  g_free (entry->hash);
  g_free (entry);
}

GPtrArray *
pp_store_list_audit (PpStore  *self,
                     gint64    after_seq,
                     guint     limit,
                     GError  **error)
{
  g_autoptr(sqlite3_stmt) stmt = NULL;
  g_autoptr(GPtrArray) result = NULL;
  int rc;

  g_return_val_if_fail (PP_IS_STORE (self), NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  stmt = pp_store_prepare (self,
                           "SELECT seq, time, actor, action, subject, detail, hash FROM audit "
                           "WHERE seq > ? ORDER BY seq LIMIT ?", error);
  if (stmt == NULL)
    return NULL;
  sqlite3_bind_int64 (stmt, 1, after_seq);
  sqlite3_bind_int64 (stmt, 2, limit);
  result = g_ptr_array_new_with_free_func ((GDestroyNotify) pp_audit_entry_free);
  while ((rc = sqlite3_step (stmt)) == SQLITE_ROW)
    {
      PpAuditEntry *e = g_new0 (PpAuditEntry, 1);

      e->seq = sqlite3_column_int64 (stmt, 0);
      e->time = sqlite3_column_int64 (stmt, 1);
      e->actor = g_strdup (column_text (stmt, 2));
      e->action = g_strdup (column_text (stmt, 3));
      e->subject = g_strdup (column_text (stmt, 4));
      e->detail = g_strdup (column_text (stmt, 5));
      e->hash = g_strdup (column_text (stmt, 6));
      g_ptr_array_add (result, e);
    }
  if (rc != SQLITE_DONE)
    {
      pp_store_set_sql_error (self, error, _("cannot read the audit journal"));
      return NULL;
    }
  return g_steal_pointer (&result);
}
