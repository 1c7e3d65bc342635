/* SPDX-License-Identifier: GPL-3.0-or-later
 *
 * pp-journal-key.c: the forward-secure key that seals the audit journal.
 * The key of epoch e + 1 is a one-way function of the key of epoch e, so
 * the station holds only today's key: whoever takes it cannot forge the
 * MACs of earlier epochs, while the administrator's seed (epoch 0)
 * recomputes every key. The record kept in the key store and the seed
 * file format live here; the journal rules live in core/store.
 */
#include "config.h"

#include <string.h>

#include <glib/gi18n-lib.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include "pp-hex.h"
#include "pp-keystore-private.h"

#define RECORD_VERSION 1
#define ID_BYTES 16
/* version, id, first_seq, epoch_entries, epoch_seconds, epoch, key */
#define RECORD_LEN (1 + ID_BYTES + 8 + 4 + 4 + 8 + PP_JOURNAL_KEY_LEN)
#define SEED_MAGIC "posprov-journal-seed 1"

static void
put_be (guint8  *out,
        guint64  value,
        guint    bytes)
{
  for (guint i = 0; i < bytes; i++)
    out[i] = (guint8) (value >> (8 * (bytes - 1 - i)));
}

static guint64
get_be (const guint8 *in,
        guint         bytes)
{
  guint64 v = 0;

  for (guint i = 0; i < bytes; i++)
    v = (v << 8) | in[i];
  return v;
}

static gboolean
is_lower_hex (const char *s,
              gsize       len)
{
  if (strlen (s) != len)
    return FALSE;
  for (gsize i = 0; i < len; i++)
    if (!g_ascii_isdigit (s[i]) && !(s[i] >= 'a' && s[i] <= 'f'))
      return FALSE;
  return TRUE;
}

PpJournalKey *
pp_journal_key_new (const char  *journal_id,
                    guint64      first_seq,
                    guint32      epoch_entries,
                    guint32      epoch_seconds,
                    GError     **error)
{
  g_autoptr(PpJournalKey) self = g_new0 (PpJournalKey, 1);

  g_return_val_if_fail (first_seq >= 1, NULL);
  g_return_val_if_fail (epoch_entries >= 1, NULL);
  g_return_val_if_fail (journal_id == NULL || is_lower_hex (journal_id, 2 * ID_BYTES), NULL);

  self->key = pp_secure_buffer_new (PP_JOURNAL_KEY_LEN);
  if (RAND_priv_bytes (pp_secure_buffer_get_data (self->key), PP_JOURNAL_KEY_LEN) != 1)
    goto rand_fail;
  if (journal_id != NULL)
    g_strlcpy (self->journal_id, journal_id, sizeof self->journal_id);
  else
    {
      guint8 id[ID_BYTES];
      g_autofree char *hex = NULL;

      if (RAND_bytes (id, sizeof id) != 1)
        goto rand_fail;
      hex = pp_hex_encode (id, sizeof id);
      for (char *p = hex; *p != '\0'; p++)
        *p = g_ascii_tolower (*p);
      g_strlcpy (self->journal_id, hex, sizeof self->journal_id);
    }
  self->first_seq = first_seq;
  self->epoch_entries = epoch_entries;
  self->epoch_seconds = epoch_seconds;
  self->epoch = 0;
  return g_steal_pointer (&self);

rand_fail:
  ERR_clear_error ();
  g_set_error_literal (error, PP_KEYSTORE_ERROR, PP_KEYSTORE_ERROR_CRYPTO,
                       _("The random generator failed"));
  return NULL;
}

PpJournalKey *
pp_journal_key_dup (const PpJournalKey *self)
{
  PpJournalKey *copy = g_new0 (PpJournalKey, 1);

  *copy = *self;
  copy->key = pp_secure_buffer_dup (self->key);
  return copy;
}

void
pp_journal_key_free (PpJournalKey *self)
{
  if (self == NULL)
    return;
  g_clear_pointer (&self->key, pp_secure_buffer_free);
  g_free (self);
}

/* HMAC-SHA-256 under @key of @label, a NUL, then @data. */
static void
labelled_hmac (const PpSecureBuffer *key,
               const char           *label,
               const guint8         *data,
               gsize                 len,
               guint8                out[32])
{
  g_autofree guint8 *msg = NULL;
  gsize label_len = strlen (label) + 1;
  unsigned int out_len = 32;

  msg = g_malloc (label_len + len);
  memcpy (msg, label, label_len);
  memcpy (msg + label_len, data, len);
  if (HMAC (EVP_sha256 (), pp_secure_buffer_peek (key), (int) pp_secure_buffer_get_len (key),
            msg, label_len + len, out, &out_len) == NULL)
    g_error ("HMAC-SHA-256 failed");
}

void
pp_journal_key_evolve_to (PpJournalKey *self,
                          guint64       epoch)
{
  g_return_if_fail (epoch >= self->epoch);

  while (self->epoch < epoch)
    {
      g_autoptr(PpSecureBuffer) next = pp_secure_buffer_new (PP_JOURNAL_KEY_LEN);
      guint8 e[8];

      put_be (e, self->epoch + 1, 8);
      labelled_hmac (self->key, "posprov journal evolve", e, sizeof e,
                     pp_secure_buffer_get_data (next));
      /* The old key is wiped by the secure buffer. */
      pp_secure_buffer_free (self->key);
      self->key = g_steal_pointer (&next);
      self->epoch++;
    }
}

static void
to_hex (const guint8 mac[32],
        char         out[65])
{
  static const char digits[] = "0123456789abcdef";

  for (guint i = 0; i < 32; i++)
    {
      out[2 * i] = digits[mac[i] >> 4];
      out[2 * i + 1] = digits[mac[i] & 0xf];
    }
  out[64] = '\0';
}

static void
mac_over (const PpJournalKey *self,
          const char         *label,
          guint64             a,
          guint64             b,
          const char         *hash,
          char                out[65])
{
  gsize hash_len = strlen (hash);
  g_autofree guint8 *data = g_malloc (16 + hash_len);
  guint8 mac[32];

  put_be (data, a, 8);
  put_be (data + 8, b, 8);
  memcpy (data + 16, hash, hash_len);
  labelled_hmac (self->key, label, data, 16 + hash_len, mac);
  to_hex (mac, out);
  OPENSSL_cleanse (mac, sizeof mac);
}

void
pp_journal_key_entry_mac (const PpJournalKey *self,
                          guint64             seq,
                          const char         *hash,
                          char                out[65])
{
  mac_over (self, "posprov journal entry", seq, self->epoch, hash, out);
}

void
pp_journal_key_epoch_mac (const PpJournalKey *self,
                          guint64             seq,
                          const char         *hash,
                          char                out[65])
{
  mac_over (self, "posprov journal epoch", self->epoch + 1, seq, hash, out);
}

gboolean
pp_journal_mac_equal (const char *a,
                      const char *b)
{
  if (a == NULL || b == NULL || strlen (a) != PP_JOURNAL_MAC_HEX_LEN ||
      strlen (b) != PP_JOURNAL_MAC_HEX_LEN)
    return FALSE;
  return CRYPTO_memcmp (a, b, PP_JOURNAL_MAC_HEX_LEN) == 0;
}

/* ---- the record in the key store ---- */

static PpSecureBuffer *
encode_record (const PpJournalKey *self)
{
  PpSecureBuffer *record = pp_secure_buffer_new (RECORD_LEN);
  guint8 *p = pp_secure_buffer_get_data (record);
  g_autoptr(GError) error = NULL;
  g_autoptr(GBytes) id = pp_hex_decode (self->journal_id, &error);

  g_assert (id != NULL && g_bytes_get_size (id) == ID_BYTES);
  p[0] = RECORD_VERSION;
  memcpy (p + 1, g_bytes_get_data (id, NULL), ID_BYTES);
  p += 1 + ID_BYTES;
  put_be (p, self->first_seq, 8);
  put_be (p + 8, self->epoch_entries, 4);
  put_be (p + 12, self->epoch_seconds, 4);
  put_be (p + 16, self->epoch, 8);
  memcpy (p + 24, pp_secure_buffer_peek (self->key), PP_JOURNAL_KEY_LEN);
  return record;
}

static PpJournalKey *
decode_record (const PpSecureBuffer  *record,
               const char            *label,
               GError               **error)
{
  const guint8 *p = pp_secure_buffer_peek (record);
  g_autoptr(PpJournalKey) self = NULL;
  g_autofree char *hex = NULL;

  if (pp_secure_buffer_get_len (record) != RECORD_LEN || p[0] != RECORD_VERSION)
    {
      g_set_error (error, PP_KEYSTORE_ERROR, PP_KEYSTORE_ERROR_INVALID_KEY,
                   _("The key store entry \"%s\" is not a posprov journal key"), label);
      return NULL;
    }
  self = g_new0 (PpJournalKey, 1);
  hex = pp_hex_encode (p + 1, ID_BYTES);
  for (char *c = hex; *c != '\0'; c++)
    *c = g_ascii_tolower (*c);
  g_strlcpy (self->journal_id, hex, sizeof self->journal_id);
  p += 1 + ID_BYTES;
  self->first_seq = get_be (p, 8);
  self->epoch_entries = (guint32) get_be (p + 8, 4);
  self->epoch_seconds = (guint32) get_be (p + 12, 4);
  self->epoch = get_be (p + 16, 8);
  self->key = pp_secure_buffer_new_from (p + 24, PP_JOURNAL_KEY_LEN);
  if (self->first_seq == 0 || self->epoch_entries == 0)
    {
      g_set_error (error, PP_KEYSTORE_ERROR, PP_KEYSTORE_ERROR_INVALID_KEY,
                   _("The key store entry \"%s\" is not a valid journal key"), label);
      return NULL;
    }
  return g_steal_pointer (&self);
}

gboolean
pp_key_store_store_journal_key (PpKeyStore          *self,
                                const char          *label,
                                const PpJournalKey  *key,
                                GError             **error)
{
  PpKeyStoreInterface *iface;
  g_autoptr(PpSecureBuffer) record = NULL;

  g_return_val_if_fail (PP_IS_KEY_STORE (self), FALSE);
  g_return_val_if_fail (label != NULL && key != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  if (!pp_keystore_check_label (label, error))
    return FALSE;
  iface = PP_KEY_STORE_GET_IFACE (self);
  if (iface->store_secret == NULL)
    {
      g_set_error (error, PP_KEYSTORE_ERROR, PP_KEYSTORE_ERROR_MECHANISM_UNSUPPORTED,
                   _("The %s key store cannot hold a journal key"), iface->get_backend_name (self));
      return FALSE;
    }
  record = encode_record (key);
  return iface->store_secret (self, label, record, error);
}

PpJournalKey *
pp_key_store_load_journal_key (PpKeyStore  *self,
                               const char  *label,
                               GError     **error)
{
  PpKeyStoreInterface *iface;
  g_autoptr(PpSecureBuffer) record = NULL;

  g_return_val_if_fail (PP_IS_KEY_STORE (self), NULL);
  g_return_val_if_fail (label != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  if (!pp_keystore_check_label (label, error))
    return NULL;
  iface = PP_KEY_STORE_GET_IFACE (self);
  if (iface->load_secret == NULL)
    {
      g_set_error (error, PP_KEYSTORE_ERROR, PP_KEYSTORE_ERROR_NOT_FOUND,
                   _("The %s key store holds no journal key"), iface->get_backend_name (self));
      return NULL;
    }
  record = iface->load_secret (self, label, error);
  if (record == NULL)
    return NULL;
  return decode_record (record, label, error);
}

gboolean
pp_key_store_location_has_journal_key (const char *location,
                                       const char *label)
{
  g_autofree char *name = NULL;
  g_autofree char *path = NULL;

  g_return_val_if_fail (location != NULL && label != NULL, FALSE);

  if (g_str_has_prefix (location, "pkcs11:"))
    return TRUE;
  name = g_strconcat (label, PP_KEYSTORE_SOFT_SECRET_SUFFIX, NULL);
  path = g_build_filename (location, name, NULL);
  return g_file_test (path, G_FILE_TEST_EXISTS);
}

/* ---- the seed file ---- */

PpSecureBuffer *
pp_journal_key_to_seed (const PpJournalKey *self,
                        const char         *sign_key_fingerprint)
{
  g_autofree char *head = NULL;
  PpSecureBuffer *out;
  gsize head_len;

  g_return_val_if_fail (self->epoch == 0, NULL);

  head = g_strdup_printf (SEED_MAGIC "\n"
                          "journal-id: %s\n"
                          "first-seq: %" G_GUINT64_FORMAT "\n"
                          "epoch-entries: %u\n"
                          "epoch-seconds: %u\n"
                          "checkpoint-key: %s\n"
                          "epoch-0-key: ",
                          self->journal_id, self->first_seq, self->epoch_entries,
                          self->epoch_seconds,
                          sign_key_fingerprint != NULL ? sign_key_fingerprint : "-");
  head_len = strlen (head);
  out = pp_secure_buffer_new (head_len + 2 * PP_JOURNAL_KEY_LEN + 2);
  memcpy (pp_secure_buffer_get_data (out), head, head_len);
  to_hex (pp_secure_buffer_peek (self->key), (char *) pp_secure_buffer_get_data (out) + head_len);
  pp_secure_buffer_get_data (out)[head_len + 2 * PP_JOURNAL_KEY_LEN] = '\n';
  pp_secure_buffer_get_data (out)[head_len + 2 * PP_JOURNAL_KEY_LEN + 1] = '\0';
  return out;
}

static gboolean
parse_u64 (const char *text,
           guint64     max,
           guint64    *out)
{
  return g_ascii_string_to_unsigned (text, 10, 0, max, out, NULL);
}

PpJournalKey *
pp_journal_key_from_seed (const char  *text,
                          gsize        len,
                          char       **out_sign_fingerprint,
                          GError     **error)
{
  g_autoptr(PpJournalKey) self = g_new0 (PpJournalKey, 1);
  g_autofree char *copy = NULL;
  g_auto(GStrv) lines = NULL;
  g_autofree char *fingerprint = NULL;
  guint seen = 0;
  guint64 v;

  g_return_val_if_fail (text != NULL, NULL);

  if (len > 4096 || memchr (text, '\0', len) != NULL)
    goto bad;
  copy = g_strndup (text, len);
  lines = g_strsplit (copy, "\n", -1);
  OPENSSL_cleanse (copy, len);
  if (lines[0] == NULL || strcmp (g_strchomp (lines[0]), SEED_MAGIC) != 0)
    goto bad;
  for (guint i = 1; lines[i] != NULL; i++)
    {
      char *line = g_strstrip (lines[i]);
      char *value = strstr (line, ": ");

      if (*line == '\0')
        continue;
      if (value == NULL)
        goto bad;
      *value = '\0';
      value += 2;
      if (strcmp (line, "journal-id") == 0 && is_lower_hex (value, 2 * ID_BYTES))
        {
          g_strlcpy (self->journal_id, value, sizeof self->journal_id);
          seen |= 1;
        }
      else if (strcmp (line, "first-seq") == 0 && parse_u64 (value, G_MAXINT64, &v) && v >= 1)
        {
          self->first_seq = v;
          seen |= 2;
        }
      else if (strcmp (line, "epoch-entries") == 0 && parse_u64 (value, G_MAXUINT32, &v) && v >= 1)
        {
          self->epoch_entries = (guint32) v;
          seen |= 4;
        }
      else if (strcmp (line, "epoch-seconds") == 0 && parse_u64 (value, G_MAXUINT32, &v))
        {
          self->epoch_seconds = (guint32) v;
          seen |= 8;
        }
      else if (strcmp (line, "checkpoint-key") == 0)
        {
          g_free (fingerprint);
          fingerprint = strcmp (value, "-") == 0 ? NULL : g_strdup (value);
          seen |= 16;
        }
      else if (strcmp (line, "epoch-0-key") == 0 && is_lower_hex (value, 2 * PP_JOURNAL_KEY_LEN))
        {
          g_autoptr(GError) hex_error = NULL;

          g_clear_pointer (&self->key, pp_secure_buffer_free);
          self->key = pp_secure_buffer_new_from_hex (value, &hex_error);
          OPENSSL_cleanse (value, strlen (value));
          if (self->key == NULL)
            goto bad;
          seen |= 32;
        }
      else
        {
          OPENSSL_cleanse (value, strlen (value));
          goto bad;
        }
    }
  if (seen != 63)
    goto bad;
  if (out_sign_fingerprint != NULL)
    *out_sign_fingerprint = g_steal_pointer (&fingerprint);
  return g_steal_pointer (&self);

bad:
  if (lines != NULL)
    for (guint i = 0; lines[i] != NULL; i++)
      OPENSSL_cleanse (lines[i], strlen (lines[i]));
  g_set_error (error, PP_KEYSTORE_ERROR, PP_KEYSTORE_ERROR_INVALID_KEY,
               _("Not a posprov journal seed file (it starts with “%s”)"), SEED_MAGIC);
  return NULL;
}
