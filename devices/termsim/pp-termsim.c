/* SPDX-License-Identifier: GPL-3.0-or-later
 *
 * pp-termsim.c: the simulated terminal: its folder and the KRD side of
 * every request of the posprov link protocol.
 *
 * Each request runs under the terminal's lock and changes its folder
 * before it answers: a nonce is spent on disk before a key is recorded,
 * so a lost answer never leaves a key the terminal holds that a retry
 * could load twice, and a replayed token is refused after a restart.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <glib/gstdio.h>
#include <openssl/crypto.h>
#include <openssl/pem.h>
#include <openssl/pkcs7.h>
#include <openssl/rand.h>
#include <openssl/rsa.h>
#include <openssl/x509v3.h>

#include "pp-dukpt.h"
#include "pp-hex.h"
#include "pp-kcv.h"
#include "pp-link-tlv.h"
#include "pp-openssl-types.h"
#include "pp-program-package.h"
#include "pp-termsim-private.h"
#include "pp-tr31.h"

G_DEFINE_AUTOPTR_CLEANUP_FUNC (X509_REQ, X509_REQ_free)
G_DEFINE_AUTOPTR_CLEANUP_FUNC (PKCS7, PKCS7_free)
G_DEFINE_AUTOPTR_CLEANUP_FUNC (ASN1_INTEGER, ASN1_INTEGER_free)

G_DEFINE_QUARK (pp-termsim-error-quark, pp_termsim_error)

/* The terminal's reasons are the protocol's. */
G_STATIC_ASSERT ((int) PP_TERMSIM_REASON_STATE == (int) PP_REASON_STATE);
G_STATIC_ASSERT ((int) PP_TERMSIM_REASON_SIGN_ON == (int) PP_REASON_SIGN_ON);
G_STATIC_ASSERT ((int) PP_TERMSIM_REASON_KEY_BLOCK == (int) PP_REASON_KEY_BLOCK);
G_STATIC_ASSERT ((int) PP_TERMSIM_REASON_TR34 == (int) PP_REASON_TR34);

#define PROTOCOL_VERSION   1
#define NONCE_LEN          16
#define MAX_ISSUED_NONCES  8
#define MAX_USED_NONCES    256
/* Ledger lines after which krd-state is rewritten and the ledger emptied:
 * well under MAX_USED_NONCES, so a ledger replayed over the snapshot that
 * was written just before it was emptied finds its spent nonces there. */
#define LEDGER_COMPACT     64
#define MAX_PROGRAM_SIZE   ((guint64) 256 * 1024 * 1024)
#define WORKING_PIN_SLOT   0x80
#define WORKING_MAC_SLOT   0x81
#define PBKDF2_ITERATIONS  10000

typedef struct {
  guint     slot;
  char     *usage;
  char     *header;
  char     *kcv;
  char     *time;
  char     *sealed;
  gboolean  working;
  char     *ksn;             /* DUKPT: KSN of the next transaction (hex) */
  char     *transaction_kcv; /* DUKPT: KCV of that transaction key */
} KeyEntry;

/* An installed program, by kind (the order they go in). */
typedef struct {
  PpProgramKind  kind;
  char          *name;
  char          *version;
} Installed;

static void
installed_free (Installed *p)
{
  g_free (p->name);
  g_free (p->version);
  g_free (p);
}

typedef struct {
  guint32  id;
  char    *salt;  /* hex */
  char    *hash;  /* hex, PBKDF2-HMAC-SHA256 */
} Operator;

struct _PpTermsim {
  gatomicrefcount  ref;
  GMutex           lock;
  char            *dir;
  char            *serial, *vendor, *model, *firmware;
  gboolean         tamper;
  char            *program_name, *program_version;
  EVP_PKEY        *key;
  X509            *cert;
  X509_REQ        *csr;
  GPtrArray       *trust;          /* X509 * */
  GPtrArray       *program_trust;  /* X509 * */
  X509            *kdh;
  PpTr34KrdState  *state;
  gint64           saved_last;      /* krd-state's last 1-pass time, as on disk */
  int              ledger_fd;       /* nonces.log, opened at the first append; -1 */
  gint64           ledger_len;      /* bytes of whole lines in it */
  guint            ledger_lines;
  PpTr34Krd       *krd;
  PpSecureBuffer  *storage_key;
  GPtrArray       *keys;           /* KeyEntry * */
  GPtrArray       *operators;      /* Operator * */
  /* The program being received (resumable). */
  char            *pending_name, *pending_version, *pending_sha256;
  guint64          pending_size;
  guint64          pending_received;  /* DATA bytes received for it, re-sent ones included */
  guint            pending_resumes;   /* PROGRAM_BEGINs that resumed it */
  GPtrArray       *programs;          /* Installed *, in install order */
  JsonNode        *last_transfer;     /* the last installed program's transfer counts */
  PpTermsimFaults  faults;
  char            *report_serial;
};

static void
key_entry_free (KeyEntry *e)
{
  g_free (e->usage);
  g_free (e->header);
  g_free (e->kcv);
  g_free (e->time);
  g_free (e->sealed);
  g_free (e->ksn);
  g_free (e->transaction_kcv);
  g_free (e);
}

static void
operator_free (Operator *op)
{
  g_free (op->salt);
  g_free (op->hash);
  g_free (op);
}

static char *
hex_encode (const guint8 *data,
            gsize         len)
{
  GString *s = g_string_sized_new (2 * len);

  for (gsize i = 0; i < len; i++)
    g_string_append_printf (s, "%02X", data[i]);
  return g_string_free (s, FALSE);
}

static GBytes *
hex_decode (const char *hex)
{
  gsize len = hex != NULL ? strlen (hex) : 0;
  g_autofree guint8 *out = NULL;

  if (hex == NULL || len % 2 != 0)
    return NULL;
  out = g_malloc (len / 2 + 1);
  for (gsize i = 0; i < len / 2; i++)
    {
      int hi = g_ascii_xdigit_value (hex[2 * i]);
      int lo = g_ascii_xdigit_value (hex[2 * i + 1]);

      if (hi < 0 || lo < 0)
        return NULL;
      out[i] = (guint8) (hi << 4 | lo);
    }
  return g_bytes_new_take (g_steal_pointer (&out), len / 2);
}

/* ---- Certificates ------------------------------------------------------ */

static char *
name_to_string (X509_NAME *name)
{
  g_autoptr(BIO) bio = BIO_new (BIO_s_mem ());
  char *data = NULL;
  long len;

  if (bio == NULL || X509_NAME_print_ex (bio, name, 0, XN_FLAG_RFC2253) < 0)
    return g_strdup ("");
  len = BIO_get_mem_data (bio, &data);
  return g_strndup (data, len);
}

static char *
asn1_time_to_string (const ASN1_TIME *t)
{
  struct tm tm;

  if (ASN1_TIME_to_tm (t, &tm) != 1)
    return g_strdup ("");
  return g_strdup_printf ("%04d-%02d-%02dT%02d:%02d:%02dZ", tm.tm_year + 1900, tm.tm_mon + 1,
                          tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
}

/* The device a certificate names: subject serialNumber, else commonName
 * (what the KDH checks, pp_tr34_kdh_receive_krd_credential). */
static char *
subject_device (X509_NAME *name)
{
  int nids[] = { NID_serialNumber, NID_commonName };

  for (guint n = 0; n < G_N_ELEMENTS (nids); n++)
    {
      int i = X509_NAME_get_index_by_NID (name, nids[n], -1);
      unsigned char *utf8 = NULL;
      int len;
      char *out;

      if (i < 0)
        continue;
      len = ASN1_STRING_to_UTF8 (&utf8, X509_NAME_ENTRY_get_data (X509_NAME_get_entry (name, i)));
      if (len < 0)
        continue;
      out = g_strndup ((const char *) utf8, len);
      OPENSSL_free (utf8);
      return out;
    }
  return NULL;
}

static X509_NAME *
device_name (const char *serial,
             const char *vendor)
{
  X509_NAME *name = X509_NAME_new ();

  X509_NAME_add_entry_by_txt (name, "O", MBSTRING_UTF8, (const unsigned char *) vendor, -1, -1, 0);
  X509_NAME_add_entry_by_txt (name, "CN", MBSTRING_UTF8, (const unsigned char *) serial, -1, -1, 0);
  X509_NAME_add_entry_by_txt (name, "serialNumber", MBSTRING_UTF8,
                              (const unsigned char *) serial, -1, -1, 0);
  return name;
}

static gboolean
add_ext (X509       *cert,
         X509V3_CTX *ctx,
         int         nid,
         const char *value)
{
  X509_EXTENSION *ext = X509V3_EXT_nconf_nid (NULL, ctx, nid, value);
  gboolean ok = ext != NULL && X509_add_ext (cert, ext, -1) == 1;

  X509_EXTENSION_free (ext);
  return ok;
}

/* Factory mode: the device certificate, issued by CA_KRD. */
static X509 *
issue_certificate (EVP_PKEY    *key,
                   const char  *serial,
                   const char  *vendor,
                   X509        *ca,
                   EVP_PKEY    *ca_key,
                   GError     **error)
{
  g_autoptr(X509) cert = X509_new ();
  g_autoptr(X509_NAME) name = device_name (serial, vendor);
  g_autoptr(BIGNUM) bn = BN_new ();
  X509V3_CTX ctx;

  if (X509_check_private_key (ca, ca_key) != 1)
    {
      g_set_error (error, PP_TERMSIM_ERROR, PP_TERMSIM_ERROR_INVALID,
                   "The CA_KRD key is not the key of the CA_KRD certificate");
      return NULL;
    }
  if (X509_check_ca (ca) <= 0)
    {
      g_set_error (error, PP_TERMSIM_ERROR, PP_TERMSIM_ERROR_INVALID,
                   "The CA_KRD certificate is not a CA certificate");
      return NULL;
    }
  if (cert == NULL || bn == NULL || X509_set_version (cert, 2) != 1 ||
      BN_rand (bn, 63, BN_RAND_TOP_ONE, BN_RAND_BOTTOM_ANY) != 1 ||
      BN_to_ASN1_INTEGER (bn, X509_get_serialNumber (cert)) == NULL ||
      X509_set_subject_name (cert, name) != 1 ||
      X509_set_issuer_name (cert, X509_get_subject_name (ca)) != 1 ||
      X509_gmtime_adj (X509_getm_notBefore (cert), -3600) == NULL ||
      X509_time_adj_ex (X509_getm_notAfter (cert), 10 * 365, 0, NULL) == NULL ||
      X509_set_pubkey (cert, key) != 1)
    goto fail;
  X509V3_set_ctx (&ctx, ca, cert, NULL, NULL, 0);
  if (!add_ext (cert, &ctx, NID_basic_constraints, "critical,CA:FALSE") ||
      !add_ext (cert, &ctx, NID_key_usage, "critical,digitalSignature,keyEncipherment") ||
      !add_ext (cert, &ctx, NID_subject_key_identifier, "hash") ||
      !add_ext (cert, &ctx, NID_authority_key_identifier, "keyid") ||
      X509_sign (cert, ca_key, EVP_sha256 ()) <= 0)
    goto fail;
  return g_steal_pointer (&cert);

fail:
  g_set_error (error, PP_TERMSIM_ERROR, PP_TERMSIM_ERROR_CRYPTO,
               "OpenSSL could not issue the device certificate");
  return NULL;
}

static X509_REQ *
make_csr (EVP_PKEY    *key,
          const char  *serial,
          const char  *vendor,
          GError     **error)
{
  g_autoptr(X509_REQ) req = X509_REQ_new ();
  g_autoptr(X509_NAME) name = device_name (serial, vendor);

  if (req == NULL || X509_REQ_set_version (req, 0) != 1 ||
      X509_REQ_set_subject_name (req, name) != 1 || X509_REQ_set_pubkey (req, key) != 1 ||
      X509_REQ_sign (req, key, EVP_sha256 ()) <= 0)
    {
      g_set_error (error, PP_TERMSIM_ERROR, PP_TERMSIM_ERROR_CRYPTO,
                   "OpenSSL could not make the CSR");
      return NULL;
    }
  return g_steal_pointer (&req);
}

static GBytes *
bio_to_bytes (BIO *bio)
{
  char *data = NULL;
  long len = BIO_get_mem_data (bio, &data);

  return g_bytes_new (data, len);
}

static gboolean
write_certs (const char  *dir,
             const char  *name,
             GPtrArray   *certs,
             GError     **error)
{
  g_autoptr(BIO) bio = BIO_new (BIO_s_mem ());
  g_autoptr(GBytes) bytes = NULL;

  for (guint i = 0; i < certs->len; i++)
    PEM_write_bio_X509 (bio, g_ptr_array_index (certs, i));
  bytes = bio_to_bytes (bio);
  return pp_termsim_write_file (dir, name, g_bytes_get_data (bytes, NULL),
                                g_bytes_get_size (bytes), error);
}

static gboolean
write_cert (const char  *dir,
            const char  *name,
            X509        *cert,
            GError     **error)
{
  g_autoptr(GPtrArray) one = g_ptr_array_new ();

  g_ptr_array_add (one, cert);
  return write_certs (dir, name, one, error);
}

static GPtrArray *
read_certs (const char  *dir,
            const char  *name,
            gboolean     required,
            GError     **error)
{
  g_autofree char *path = g_build_filename (dir, name, NULL);
  g_autoptr(GPtrArray) certs = g_ptr_array_new_with_free_func ((GDestroyNotify) X509_free);
  g_autoptr(BIO) bio = BIO_new_file (path, "r");
  X509 *cert;

  if (bio == NULL)
    {
      if (!required)
        return g_steal_pointer (&certs);
      g_set_error (error, PP_TERMSIM_ERROR, PP_TERMSIM_ERROR_CORRUPT, "Cannot read %s", path);
      return NULL;
    }
  while ((cert = PEM_read_bio_X509 (bio, NULL, NULL, NULL)) != NULL)
    g_ptr_array_add (certs, cert);
  if (certs->len == 0 && required)
    {
      g_set_error (error, PP_TERMSIM_ERROR, PP_TERMSIM_ERROR_CORRUPT, "%s holds no certificate", path);
      return NULL;
    }
  return g_steal_pointer (&certs);
}

/* ---- The folder ---------------------------------------------------------- */

static JsonNode *
key_entry_to_json (const KeyEntry *e,
                   gboolean        with_secret)
{
  g_autoptr(JsonBuilder) b = json_builder_new ();

  json_builder_begin_object (b);
  json_builder_set_member_name (b, "slot");
  json_builder_add_int_value (b, e->slot);
  json_builder_set_member_name (b, "usage");
  json_builder_add_string_value (b, e->usage);
  json_builder_set_member_name (b, "kcv");
  json_builder_add_string_value (b, e->kcv);
  json_builder_set_member_name (b, "time");
  json_builder_add_string_value (b, e->time);
  json_builder_set_member_name (b, "header");
  json_builder_add_string_value (b, e->header);
  json_builder_set_member_name (b, "working");
  json_builder_add_boolean_value (b, e->working);
  if (e->ksn != NULL)
    {
      json_builder_set_member_name (b, "dukpt");
      json_builder_begin_object (b);
      json_builder_set_member_name (b, "ksn");
      json_builder_add_string_value (b, e->ksn);
      json_builder_set_member_name (b, "transaction_kcv");
      json_builder_add_string_value (b, e->transaction_kcv);
      json_builder_end_object (b);
    }
  if (with_secret)
    {
      json_builder_set_member_name (b, "sealed");
      json_builder_add_string_value (b, e->sealed);
    }
  json_builder_end_object (b);
  return json_builder_get_root (b);
}

/* "programs": the installed programs in install order (state and show). */
static void
add_programs (JsonBuilder *b,
              GPtrArray   *programs)
{
  json_builder_set_member_name (b, "programs");
  json_builder_begin_array (b);
  for (guint i = 0; i < programs->len; i++)
    {
      Installed *p = g_ptr_array_index (programs, i);

      json_builder_begin_object (b);
      json_builder_set_member_name (b, "kind");
      json_builder_add_string_value (b, pp_program_kind_to_string (p->kind));
      json_builder_set_member_name (b, "name");
      json_builder_add_string_value (b, p->name);
      json_builder_set_member_name (b, "version");
      json_builder_add_string_value (b, p->version);
      json_builder_end_object (b);
    }
  json_builder_end_array (b);
}

static gboolean
save_state (PpTermsim  *self,
            GError    **error)
{
  g_autoptr(JsonBuilder) b = json_builder_new ();
  g_autoptr(JsonNode) root = NULL;
  g_autofree char *text = NULL;

  json_builder_begin_object (b);
  json_builder_set_member_name (b, "format");
  json_builder_add_int_value (b, 1);
  json_builder_set_member_name (b, "serial");
  json_builder_add_string_value (b, self->serial);
  json_builder_set_member_name (b, "vendor");
  json_builder_add_string_value (b, self->vendor);
  json_builder_set_member_name (b, "model");
  json_builder_add_string_value (b, self->model);
  json_builder_set_member_name (b, "firmware");
  json_builder_add_string_value (b, self->firmware);
  json_builder_set_member_name (b, "tamper");
  json_builder_add_boolean_value (b, self->tamper);
  if (self->program_name != NULL)
    {
      json_builder_set_member_name (b, "program");
      json_builder_begin_object (b);
      json_builder_set_member_name (b, "name");
      json_builder_add_string_value (b, self->program_name);
      json_builder_set_member_name (b, "version");
      json_builder_add_string_value (b, self->program_version);
      json_builder_end_object (b);
    }
  if (self->pending_name != NULL)
    {
      json_builder_set_member_name (b, "pending_program");
      json_builder_begin_object (b);
      json_builder_set_member_name (b, "name");
      json_builder_add_string_value (b, self->pending_name);
      json_builder_set_member_name (b, "version");
      json_builder_add_string_value (b, self->pending_version);
      json_builder_set_member_name (b, "size");
      json_builder_add_int_value (b, (gint64) self->pending_size);
      json_builder_set_member_name (b, "sha256");
      json_builder_add_string_value (b, self->pending_sha256);
      json_builder_set_member_name (b, "received");
      json_builder_add_int_value (b, (gint64) self->pending_received);
      json_builder_set_member_name (b, "resumes");
      json_builder_add_int_value (b, self->pending_resumes);
      json_builder_end_object (b);
    }
  add_programs (b, self->programs);
  if (self->last_transfer != NULL)
    {
      json_builder_set_member_name (b, "last_transfer");
      json_builder_add_value (b, json_node_copy (self->last_transfer));
    }
  json_builder_set_member_name (b, "operators");
  json_builder_begin_array (b);
  for (guint i = 0; i < self->operators->len; i++)
    {
      Operator *op = g_ptr_array_index (self->operators, i);

      json_builder_begin_object (b);
      json_builder_set_member_name (b, "id");
      json_builder_add_int_value (b, op->id);
      json_builder_set_member_name (b, "salt");
      json_builder_add_string_value (b, op->salt);
      json_builder_set_member_name (b, "pbkdf2_sha256");
      json_builder_add_string_value (b, op->hash);
      json_builder_end_object (b);
    }
  json_builder_end_array (b);
  json_builder_set_member_name (b, "keys");
  json_builder_begin_array (b);
  for (guint i = 0; i < self->keys->len; i++)
    json_builder_add_value (b, key_entry_to_json (g_ptr_array_index (self->keys, i), TRUE));
  json_builder_end_array (b);
  json_builder_end_object (b);

  root = json_builder_get_root (b);
  text = json_to_string (root, TRUE);
  return pp_termsim_write_file (self->dir, PP_TERMSIM_STATE_FILE, text, strlen (text), error);
}

/* ---- The nonce ledger ---------------------------------------------------
 *
 * krd-state is a snapshot (issued nonces, spent ones, the last 1-pass
 * time); nonces.log holds what happened to nonces since, one line each,
 * "I HEX" (issued) or "S HEX" (spent), appended. Opening replays it over
 * the snapshot. An issued nonce is appended without fsync: after a crash of
 * the machine it may be gone, and a KT_KDH for it is then refused, never
 * accepted. A spent one is appended and fdatasync'd before the terminal
 * answers, so a replay is refused after any restart. Every LEDGER_COMPACT
 * lines (and whenever the last 1-pass time changes) the snapshot is
 * rewritten and the ledger emptied. */

static void edit_nonces (PpTermsim *self, GBytes *add, GBytes *spend);
static void replay_ledger (PpTermsim *self);

static gint64
state_last (PpTr34KrdState *state)
{
  g_autoptr(GVariant) saved = g_variant_ref_sink (pp_tr34_krd_state_save (state));
  gint64 last = 0;

  g_variant_get_child (saved, 2, "x", &last);
  return last;
}

static gboolean
ledger_fail (PpTermsim  *self,
             int         saved_errno,
             GError    **error)
{
  g_set_error (error, PP_TERMSIM_ERROR, PP_TERMSIM_ERROR_IO, "Cannot write the nonce ledger %s/%s: %s",
               self->dir, PP_TERMSIM_NONCE_LEDGER_FILE, g_strerror (saved_errno));
  return FALSE;
}

/* Opens nonces.log for appending; a torn last line (a crash half-way
 * through a write) is cut off first, so the next line starts clean. */
static gboolean
ledger_open (PpTermsim  *self,
             GError    **error)
{
  g_autofree char *path = g_build_filename (self->dir, PP_TERMSIM_NONCE_LEDGER_FILE, NULL);
  struct stat st;

  if (self->ledger_fd >= 0)
    return TRUE;
  self->ledger_fd = g_open (path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
  if (self->ledger_fd < 0)
    return ledger_fail (self, errno, error);
  if (fstat (self->ledger_fd, &st) != 0 ||
      (st.st_size != self->ledger_len && ftruncate (self->ledger_fd, self->ledger_len) != 0))
    return ledger_fail (self, errno, error);
  return TRUE;
}

/* Empties the ledger once the snapshot holds everything in it. */
static gboolean
ledger_reset (PpTermsim  *self,
              GError    **error)
{
  if (self->ledger_fd < 0 && self->ledger_len == 0)
    return TRUE;
  if (!ledger_open (self, error))
    return FALSE;
  if (ftruncate (self->ledger_fd, 0) != 0 || fdatasync (self->ledger_fd) != 0)
    return ledger_fail (self, errno, error);
  self->ledger_len = 0;
  self->ledger_lines = 0;
  return TRUE;
}

/* The snapshot, written durably (temp file, fsync, rename), then the
 * ledger emptied: a crash between the two replays the ledger over a
 * snapshot that already holds it, which changes nothing. */
static gboolean
save_krd_state (PpTermsim  *self,
                GError    **error)
{
  g_autoptr(GVariant) v = g_variant_ref_sink (pp_tr34_krd_state_save (self->state));
  g_autoptr(GVariant) normal = g_variant_get_normal_form (v);

  if (!pp_termsim_write_file (self->dir, PP_TERMSIM_KRD_STATE_FILE, g_variant_get_data (normal),
                              g_variant_get_size (normal), error))
    return FALSE;
  g_variant_get_child (normal, 2, "x", &self->saved_last);
  return ledger_reset (self, error);
}

/* Appends "KIND HEX" for @nonce; @durable: fdatasync before returning. */
static gboolean
ledger_append (PpTermsim  *self,
               char        kind,
               GBytes     *nonce,
               gboolean    durable,
               GError    **error)
{
  g_autofree char *hex = hex_encode (g_bytes_get_data (nonce, NULL), g_bytes_get_size (nonce));
  g_autofree char *line = g_strdup_printf ("%c %s\n", kind, hex);
  gsize len = strlen (line);

  if (self->ledger_lines >= LEDGER_COMPACT)
    return save_krd_state (self, error);   /* the snapshot holds this nonce too */
  if (!ledger_open (self, error))
    return FALSE;
  if (write (self->ledger_fd, line, len) != (gssize) len)
    {
      int saved = errno;

      /* A short write leaves a torn line: cut it at the next open. */
      close (self->ledger_fd);
      self->ledger_fd = -1;
      return ledger_fail (self, saved, error);
    }
  if (durable && fdatasync (self->ledger_fd) != 0)
    return ledger_fail (self, errno, error);
  self->ledger_len += (gint64) len;
  self->ledger_lines++;
  return TRUE;
}

static gboolean
save_binding (PpTermsim  *self,
              GError    **error)
{
  g_autofree char *path = g_build_filename (self->dir, PP_TERMSIM_KDH_FILE, NULL);

  if (self->kdh != NULL)
    return write_cert (self->dir, PP_TERMSIM_KDH_FILE, self->kdh, error);
  if (g_unlink (path) != 0 && errno != ENOENT)
    {
      int saved = errno;

      g_set_error (error, PP_TERMSIM_ERROR, PP_TERMSIM_ERROR_IO,
                   "Cannot remove %s: %s", path, g_strerror (saved));
      return FALSE;
    }
  return TRUE;
}

/* The KRD for the current certificate, trust and binding. */
static void
rebuild_krd (PpTermsim *self)
{
  g_clear_pointer (&self->krd, pp_tr34_krd_unref);
  if (self->cert == NULL)
    return;
  self->krd = pp_tr34_krd_new (self->cert, self->key);
  for (guint i = 0; i < self->trust->len; i++)
    pp_tr34_krd_add_trusted (self->krd, g_ptr_array_index (self->trust, i));
  if (self->kdh != NULL)
    pp_tr34_krd_set_kdh_cert (self->krd, self->kdh);
}

static Operator *
operator_new (guint32     id,
              const char *password)
{
  Operator *op = g_new0 (Operator, 1);
  guint8 salt[16], hash[32];

  RAND_bytes (salt, sizeof salt);
  PKCS5_PBKDF2_HMAC (password, (int) strlen (password), salt, sizeof salt, PBKDF2_ITERATIONS,
                     EVP_sha256 (), sizeof hash, hash);
  op->id = id;
  op->salt = hex_encode (salt, sizeof salt);
  op->hash = hex_encode (hash, sizeof hash);
  OPENSSL_cleanse (hash, sizeof hash);
  return op;
}

static gboolean
operator_check (const Operator *op,
                const char     *password)
{
  g_autoptr(GBytes) salt = hex_decode (op->salt);
  g_autoptr(GBytes) want = hex_decode (op->hash);
  guint8 hash[32];
  gboolean ok;

  if (salt == NULL || want == NULL || g_bytes_get_size (want) != sizeof hash)
    return FALSE;
  PKCS5_PBKDF2_HMAC (password, (int) strlen (password), g_bytes_get_data (salt, NULL),
                     (int) g_bytes_get_size (salt), PBKDF2_ITERATIONS, EVP_sha256 (),
                     sizeof hash, hash);
  ok = CRYPTO_memcmp (hash, g_bytes_get_data (want, NULL), sizeof hash) == 0;
  OPENSSL_cleanse (hash, sizeof hash);
  return ok;
}

static PpTermsim *
termsim_new (const char *dir)
{
  PpTermsim *self = g_new0 (PpTermsim, 1);

  g_atomic_ref_count_init (&self->ref);
  g_mutex_init (&self->lock);
  self->dir = g_strdup (dir);
  self->ledger_fd = -1;
  self->trust = g_ptr_array_new_with_free_func ((GDestroyNotify) X509_free);
  self->program_trust = g_ptr_array_new_with_free_func ((GDestroyNotify) X509_free);
  self->programs = g_ptr_array_new_with_free_func ((GDestroyNotify) installed_free);
  self->keys = g_ptr_array_new_with_free_func ((GDestroyNotify) key_entry_free);
  self->operators = g_ptr_array_new_with_free_func ((GDestroyNotify) operator_free);
  return self;
}

PpTermsim *
pp_termsim_ref (PpTermsim *sim)
{
  g_return_val_if_fail (sim != NULL, NULL);
  g_atomic_ref_count_inc (&sim->ref);
  return sim;
}

void
pp_termsim_unref (PpTermsim *sim)
{
  g_return_if_fail (sim != NULL);
  if (!g_atomic_ref_count_dec (&sim->ref))
    return;
  g_free (sim->dir);
  g_free (sim->serial);
  g_free (sim->vendor);
  g_free (sim->model);
  g_free (sim->firmware);
  g_free (sim->program_name);
  g_free (sim->program_version);
  g_free (sim->pending_name);
  g_free (sim->pending_version);
  g_free (sim->pending_sha256);
  g_free (sim->report_serial);
  EVP_PKEY_free (sim->key);
  X509_free (sim->cert);
  X509_REQ_free (sim->csr);
  X509_free (sim->kdh);
  g_ptr_array_unref (sim->trust);
  g_ptr_array_unref (sim->program_trust);
  g_ptr_array_unref (sim->programs);
  g_clear_pointer (&sim->last_transfer, json_node_unref);
  g_ptr_array_unref (sim->keys);
  g_ptr_array_unref (sim->operators);
  g_clear_pointer (&sim->state, pp_tr34_krd_state_unref);
  g_clear_pointer (&sim->krd, pp_tr34_krd_unref);
  g_clear_pointer (&sim->storage_key, pp_secure_buffer_free);
  if (sim->ledger_fd >= 0)
    close (sim->ledger_fd);
  g_mutex_clear (&sim->lock);
  g_free (sim);
}

const char *
pp_termsim_get_serial (PpTermsim *sim)
{
  g_return_val_if_fail (sim != NULL, NULL);
  return sim->serial;
}

static gboolean
dir_is_empty_or_absent (const char *dir)
{
  g_autoptr(GDir) d = g_dir_open (dir, 0, NULL);

  if (d == NULL)
    return !g_file_test (dir, G_FILE_TEST_EXISTS);
  return g_dir_read_name (d) == NULL;
}

static void
remove_tree (const char *dir)
{
  g_autoptr(GDir) d = g_dir_open (dir, 0, NULL);
  const char *name;

  if (d == NULL)
    return;
  while ((name = g_dir_read_name (d)) != NULL)
    {
      g_autofree char *path = g_build_filename (dir, name, NULL);

      g_unlink (path);
    }
  g_rmdir (dir);
}

gboolean
pp_termsim_init (const char              *dir,
                 const PpTermsimIdentity *identity,
                 X509                    *ca_krd_cert,
                 EVP_PKEY                *ca_krd_key,
                 GPtrArray               *trust,
                 GError                 **error)
{
  g_autoptr(PpTermsim) sim = NULL;
  g_autofree char *parent = NULL;
  g_autofree char *base = NULL;
  g_autofree char *tmp = NULL;
  g_autoptr(BIO) key_bio = BIO_new (BIO_s_mem ());
  g_autoptr(GBytes) key_pem = NULL;
  guint8 storage[32];
  gboolean ok = FALSE;

  g_return_val_if_fail (dir != NULL && identity != NULL, FALSE);
  g_return_val_if_fail ((ca_krd_cert == NULL) == (ca_krd_key == NULL), FALSE);

  if (identity->serial == NULL || identity->serial[0] == '\0' || identity->vendor == NULL ||
      identity->model == NULL)
    {
      g_set_error (error, PP_TERMSIM_ERROR, PP_TERMSIM_ERROR_INVALID,
                   "A terminal needs a serial, a vendor and a model");
      return FALSE;
    }
  if (trust == NULL || trust->len == 0)
    {
      g_set_error (error, PP_TERMSIM_ERROR, PP_TERMSIM_ERROR_INVALID,
                   "A terminal needs at least one trusted CA certificate for KDH certificates");
      return FALSE;
    }
  if (!dir_is_empty_or_absent (dir))
    {
      g_set_error (error, PP_TERMSIM_ERROR, PP_TERMSIM_ERROR_EXISTS,
                   "%s is not empty: a terminal is made in a new or empty folder", dir);
      return FALSE;
    }

  /* Everything goes into a sibling folder first, renamed into place once
   * complete: a failure leaves nothing behind. */
  parent = g_path_get_dirname (dir);
  base = g_path_get_basename (dir);
  tmp = g_strdup_printf ("%s/.%s.init-XXXXXX", parent, base);
  if (g_mkdtemp_full (tmp, 0700) == NULL)
    {
      int saved = errno;

      g_set_error (error, PP_TERMSIM_ERROR, PP_TERMSIM_ERROR_IO,
                   "Cannot create a folder next to %s: %s", dir, g_strerror (saved));
      return FALSE;
    }

  sim = termsim_new (tmp);
  sim->serial = g_strdup (identity->serial);
  sim->vendor = g_strdup (identity->vendor);
  sim->model = g_strdup (identity->model);
  sim->firmware = g_strdup (identity->firmware != NULL ? identity->firmware
                                                       : "termsim-" PACKAGE_VERSION);
  sim->key = EVP_RSA_gen (2048);
  sim->state = pp_tr34_krd_state_new ();
  for (guint i = 0; i < trust->len; i++)
    {
      X509_up_ref (g_ptr_array_index (trust, i));
      g_ptr_array_add (sim->trust, g_ptr_array_index (trust, i));
    }
  if (identity->operators != NULL)
    {
      GHashTableIter iter;
      gpointer k, v;

      g_hash_table_iter_init (&iter, identity->operators);
      while (g_hash_table_iter_next (&iter, &k, &v))
        g_ptr_array_add (sim->operators, operator_new (GPOINTER_TO_UINT (k), v));
    }
  else
    g_ptr_array_add (sim->operators, operator_new (1, "1234"));

  if (sim->key == NULL || RAND_bytes (storage, sizeof storage) != 1)
    {
      g_set_error (error, PP_TERMSIM_ERROR, PP_TERMSIM_ERROR_CRYPTO,
                   "OpenSSL could not generate the terminal's keys");
      goto out;
    }
  sim->storage_key = pp_secure_buffer_new_from (storage, sizeof storage);
  if (!pp_termsim_write_file (tmp, PP_TERMSIM_STORAGE_KEY_FILE, storage, sizeof storage, error))
    goto out;
  OPENSSL_cleanse (storage, sizeof storage);

  if (PEM_write_bio_PrivateKey (key_bio, sim->key, NULL, NULL, 0, NULL, NULL) != 1)
    {
      g_set_error (error, PP_TERMSIM_ERROR, PP_TERMSIM_ERROR_CRYPTO, "Cannot encode the device key");
      goto out;
    }
  key_pem = bio_to_bytes (key_bio);
  if (!pp_termsim_write_file (tmp, PP_TERMSIM_DEVICE_KEY_FILE, g_bytes_get_data (key_pem, NULL),
                              g_bytes_get_size (key_pem), error))
    goto out;

  if (ca_krd_cert != NULL)
    {
      sim->cert = issue_certificate (sim->key, sim->serial, sim->vendor, ca_krd_cert, ca_krd_key, error);
      if (sim->cert == NULL || !write_cert (tmp, PP_TERMSIM_CERT_FILE, sim->cert, error))
        goto out;
    }
  else
    {
      g_autoptr(BIO) bio = BIO_new (BIO_s_mem ());
      g_autoptr(GBytes) pem = NULL;

      sim->csr = make_csr (sim->key, sim->serial, sim->vendor, error);
      if (sim->csr == NULL)
        goto out;
      PEM_write_bio_X509_REQ (bio, sim->csr);
      pem = bio_to_bytes (bio);
      if (!pp_termsim_write_file (tmp, PP_TERMSIM_CSR_FILE, g_bytes_get_data (pem, NULL),
                                  g_bytes_get_size (pem), error))
        goto out;
    }
  if (identity->program_trust != NULL && identity->program_trust->len > 0 &&
      !write_certs (tmp, PP_TERMSIM_PROGRAM_TRUST_FILE, identity->program_trust, error))
    goto out;
  if (!write_certs (tmp, PP_TERMSIM_TRUST_FILE, sim->trust, error) ||
      !save_krd_state (sim, error) || !save_state (sim, error))
    goto out;

  if (g_file_test (dir, G_FILE_TEST_IS_DIR))
    g_rmdir (dir);
  if (g_rename (tmp, dir) != 0)
    {
      int saved = errno;

      g_set_error (error, PP_TERMSIM_ERROR, PP_TERMSIM_ERROR_IO,
                   "Cannot create %s: %s", dir, g_strerror (saved));
      goto out;
    }
  ok = TRUE;

out:
  OPENSSL_cleanse (storage, sizeof storage);
  if (!ok)
    remove_tree (tmp);
  return ok;
}

static const char *
json_string (JsonObject *o,
             const char *member)
{
  JsonNode *n = json_object_get_member (o, member);

  if (n == NULL || json_node_get_value_type (n) != G_TYPE_STRING)
    return NULL;
  return json_node_get_string (n);
}

static JsonObject *
json_object_member (JsonObject *o,
                    const char *member,
                    gpointer    unused)
{
  JsonNode *n = json_object_get_member (o, member);

  return n != NULL && JSON_NODE_HOLDS_OBJECT (n) ? json_node_get_object (n) : NULL;
}

static JsonArray *
json_array_member (JsonObject *o,
                   const char *member,
                   gpointer    unused)
{
  JsonNode *n = json_object_get_member (o, member);

  return n != NULL && JSON_NODE_HOLDS_ARRAY (n) ? json_node_get_array (n) : NULL;
}

static gboolean
load_state_json (PpTermsim  *self,
                 GError    **error)
{
  g_autofree char *path = g_build_filename (self->dir, PP_TERMSIM_STATE_FILE, NULL);
  g_autoptr(JsonParser) parser = json_parser_new ();
  JsonObject *root, *o;
  JsonArray *a;

  if (!g_file_test (path, G_FILE_TEST_IS_REGULAR))
    {
      g_set_error (error, PP_TERMSIM_ERROR, PP_TERMSIM_ERROR_NOT_FOUND,
                   "%s holds no terminal (no %s): make one with `posprov-termsim init`",
                   self->dir, PP_TERMSIM_STATE_FILE);
      return FALSE;
    }
  if (!json_parser_load_from_file (parser, path, NULL) ||
      !JSON_NODE_HOLDS_OBJECT (json_parser_get_root (parser)))
    goto corrupt;
  root = json_node_get_object (json_parser_get_root (parser));
  if (json_string (root, "serial") == NULL || json_string (root, "vendor") == NULL ||
      json_string (root, "model") == NULL || json_string (root, "firmware") == NULL)
    goto corrupt;
  self->serial = g_strdup (json_string (root, "serial"));
  self->vendor = g_strdup (json_string (root, "vendor"));
  self->model = g_strdup (json_string (root, "model"));
  self->firmware = g_strdup (json_string (root, "firmware"));
  self->tamper = json_object_get_boolean_member_with_default (root, "tamper", FALSE);
  o = json_object_member (root, "program", NULL);
  if (o != NULL)
    {
      if (json_string (o, "name") == NULL || json_string (o, "version") == NULL)
        goto corrupt;
      self->program_name = g_strdup (json_string (o, "name"));
      self->program_version = g_strdup (json_string (o, "version"));
    }
  o = json_object_member (root, "pending_program", NULL);
  if (o != NULL)
    {
      if (json_string (o, "name") == NULL || json_string (o, "version") == NULL ||
          json_string (o, "sha256") == NULL)
        goto corrupt;
      self->pending_name = g_strdup (json_string (o, "name"));
      self->pending_version = g_strdup (json_string (o, "version"));
      self->pending_sha256 = g_strdup (json_string (o, "sha256"));
      self->pending_size = (guint64) json_object_get_int_member_with_default (o, "size", 0);
      self->pending_received = (guint64) json_object_get_int_member_with_default (o, "received", 0);
      self->pending_resumes = (guint) json_object_get_int_member_with_default (o, "resumes", 0);
    }
  a = json_array_member (root, "programs", NULL);
  for (guint i = 0; a != NULL && i < json_array_get_length (a); i++)
    {
      JsonObject *e = json_array_get_object_element (a, i);
      Installed *p;
      PpProgramKind kind;

      if (e == NULL || !pp_program_kind_from_string (json_string (e, "kind"), &kind) ||
          json_string (e, "name") == NULL || json_string (e, "version") == NULL)
        goto corrupt;
      p = g_new0 (Installed, 1);
      p->kind = kind;
      p->name = g_strdup (json_string (e, "name"));
      p->version = g_strdup (json_string (e, "version"));
      g_ptr_array_add (self->programs, p);
    }
  if (json_object_has_member (root, "last_transfer") &&
      JSON_NODE_HOLDS_OBJECT (json_object_get_member (root, "last_transfer")))
    self->last_transfer = json_node_copy (json_object_get_member (root, "last_transfer"));
  a = json_array_member (root, "operators", NULL);
  for (guint i = 0; a != NULL && i < json_array_get_length (a); i++)
    {
      JsonObject *e = json_array_get_object_element (a, i);
      Operator *op;

      if (e == NULL || json_string (e, "salt") == NULL || json_string (e, "pbkdf2_sha256") == NULL)
        goto corrupt;
      op = g_new0 (Operator, 1);
      op->id = (guint32) json_object_get_int_member_with_default (e, "id", 0);
      op->salt = g_strdup (json_string (e, "salt"));
      op->hash = g_strdup (json_string (e, "pbkdf2_sha256"));
      g_ptr_array_add (self->operators, op);
    }
  a = json_array_member (root, "keys", NULL);
  for (guint i = 0; a != NULL && i < json_array_get_length (a); i++)
    {
      JsonObject *e = json_array_get_object_element (a, i);
      KeyEntry *k;

      if (e == NULL || json_string (e, "usage") == NULL || json_string (e, "kcv") == NULL ||
          json_string (e, "header") == NULL || json_string (e, "sealed") == NULL ||
          json_string (e, "time") == NULL)
        goto corrupt;
      k = g_new0 (KeyEntry, 1);
      k->slot = (guint) json_object_get_int_member_with_default (e, "slot", 0);
      k->usage = g_strdup (json_string (e, "usage"));
      k->kcv = g_strdup (json_string (e, "kcv"));
      k->header = g_strdup (json_string (e, "header"));
      k->sealed = g_strdup (json_string (e, "sealed"));
      k->time = g_strdup (json_string (e, "time"));
      k->working = json_object_get_boolean_member_with_default (e, "working", FALSE);
      o = json_object_member (e, "dukpt", NULL);
      if (o != NULL)
        {
          k->ksn = g_strdup (json_string (o, "ksn"));
          k->transaction_kcv = g_strdup (json_string (o, "transaction_kcv"));
        }
      g_ptr_array_add (self->keys, k);
    }
  return TRUE;

corrupt:
  g_set_error (error, PP_TERMSIM_ERROR, PP_TERMSIM_ERROR_CORRUPT,
               "%s is not a terminal state file this simulator wrote", path);
  return FALSE;
}

static X509 *
read_one_cert (const char  *dir,
               const char  *name,
               GError     **error)
{
  g_autoptr(GPtrArray) certs = read_certs (dir, name, TRUE, error);

  if (certs == NULL)
    return NULL;
  return X509_up_ref (g_ptr_array_index (certs, 0)) == 1 ? g_ptr_array_index (certs, 0) : NULL;
}

PpTermsim *
pp_termsim_open (const char  *dir,
                 GError     **error)
{
  g_autoptr(PpTermsim) self = termsim_new (dir);
  g_autofree char *key_path = g_build_filename (dir, PP_TERMSIM_DEVICE_KEY_FILE, NULL);
  g_autofree char *cert_path = g_build_filename (dir, PP_TERMSIM_CERT_FILE, NULL);
  g_autofree char *csr_path = g_build_filename (dir, PP_TERMSIM_CSR_FILE, NULL);
  g_autofree char *kdh_path = g_build_filename (dir, PP_TERMSIM_KDH_FILE, NULL);
  g_autofree char *krd_path = g_build_filename (dir, PP_TERMSIM_KRD_STATE_FILE, NULL);
  g_autofree char *storage_path = g_build_filename (dir, PP_TERMSIM_STORAGE_KEY_FILE, NULL);
  g_autoptr(BIO) bio = NULL;
  g_autofree char *storage = NULL;
  gsize storage_len = 0;
  g_autofree char *krd_data = NULL;
  gsize krd_len = 0;
  g_autoptr(GPtrArray) program_trust = NULL;

  g_return_val_if_fail (dir != NULL, NULL);

  if (!load_state_json (self, error))
    return NULL;
  bio = BIO_new_file (key_path, "r");
  if (bio == NULL || (self->key = PEM_read_bio_PrivateKey (bio, NULL, NULL, NULL)) == NULL)
    {
      g_set_error (error, PP_TERMSIM_ERROR, PP_TERMSIM_ERROR_CORRUPT,
                   "Cannot read the device key %s", key_path);
      return NULL;
    }
  if (g_file_test (cert_path, G_FILE_TEST_EXISTS))
    {
      self->cert = read_one_cert (dir, PP_TERMSIM_CERT_FILE, error);
      if (self->cert == NULL)
        return NULL;
    }
  else
    {
      g_autoptr(BIO) csr_bio = BIO_new_file (csr_path, "r");

      if (csr_bio == NULL || (self->csr = PEM_read_bio_X509_REQ (csr_bio, NULL, NULL, NULL)) == NULL)
        {
          g_set_error (error, PP_TERMSIM_ERROR, PP_TERMSIM_ERROR_CORRUPT,
                       "%s holds neither a device certificate nor a CSR", dir);
          return NULL;
        }
    }
  g_ptr_array_unref (self->trust);
  self->trust = read_certs (dir, PP_TERMSIM_TRUST_FILE, TRUE, error);
  if (self->trust == NULL)
    return NULL;
  program_trust = read_certs (dir, PP_TERMSIM_PROGRAM_TRUST_FILE, FALSE, error);
  if (program_trust == NULL)
    return NULL;
  g_ptr_array_unref (self->program_trust);
  self->program_trust = g_steal_pointer (&program_trust);
  if (g_file_test (kdh_path, G_FILE_TEST_EXISTS))
    {
      self->kdh = read_one_cert (dir, PP_TERMSIM_KDH_FILE, error);
      if (self->kdh == NULL)
        return NULL;
    }
  if (!g_file_get_contents (storage_path, &storage, &storage_len, NULL) || storage_len != 32)
    {
      g_set_error (error, PP_TERMSIM_ERROR, PP_TERMSIM_ERROR_CORRUPT,
                   "Cannot read the storage key %s", storage_path);
      return NULL;
    }
  self->storage_key = pp_secure_buffer_new_from ((const guint8 *) storage, storage_len);
  OPENSSL_cleanse (storage, storage_len);
  if (!g_file_get_contents (krd_path, &krd_data, &krd_len, NULL))
    {
      g_set_error (error, PP_TERMSIM_ERROR, PP_TERMSIM_ERROR_CORRUPT,
                   "Cannot read the KRD state %s", krd_path);
      return NULL;
    }
  else
    {
      g_autoptr(GBytes) bytes = g_bytes_new_take (g_steal_pointer (&krd_data), krd_len);
      g_autoptr(GVariant) v = g_variant_ref_sink (g_variant_new_from_bytes (G_VARIANT_TYPE ("(aayaayx)"),
                                                                            bytes, FALSE));
      g_autoptr(GError) local = NULL;

      if (!g_variant_is_normal_form (v) ||
          (self->state = pp_tr34_krd_state_load (v, &local)) == NULL)
        {
          g_set_error (error, PP_TERMSIM_ERROR, PP_TERMSIM_ERROR_CORRUPT,
                       "%s is not a KRD state", krd_path);
          return NULL;
        }
    }
  replay_ledger (self);
  rebuild_krd (self);
  return g_steal_pointer (&self);
}

gboolean
pp_termsim_set_faults (PpTermsim             *sim,
                       const PpTermsimFaults *faults,
                       GError               **error)
{
  gboolean ok = TRUE;

  g_return_val_if_fail (sim != NULL && faults != NULL, FALSE);

  g_mutex_lock (&sim->lock);
  sim->faults = *faults;
  g_free (sim->report_serial);
  sim->report_serial = g_strdup (faults->report_serial);
  sim->faults.report_serial = sim->report_serial;
  if (faults->tamper && !sim->tamper)
    {
      /* A tamper response: secret keys are erased, the event is kept. */
      sim->tamper = TRUE;
      g_ptr_array_set_size (sim->keys, 0);
      ok = save_state (sim, error);
    }
  g_mutex_unlock (&sim->lock);
  return ok;
}

/* ---- Nonces ------------------------------------------------------------- */

static gboolean
variant_bytes_equal (GVariant *ay,
                     GBytes   *bytes)
{
  gsize n = 0;
  const guint8 *d = g_variant_get_fixed_array (ay, &n, 1);

  return n == g_bytes_get_size (bytes) && memcmp (d, g_bytes_get_data (bytes, NULL), n) == 0;
}

/* The state API consumes a nonce only when a token is accepted; the
 * terminal spends it whatever the outcome (a failed LOAD_KEY never leaves
 * a reusable nonce) and keeps its lists bounded. */
static void
edit_nonces (PpTermsim *self,
             GBytes    *add,
             GBytes    *spend)
{
  g_autoptr(GVariant) saved = g_variant_ref_sink (pp_tr34_krd_state_save (self->state));
  g_autoptr(GVariant) issued = g_variant_get_child_value (saved, 0);
  g_autoptr(GVariant) used = g_variant_get_child_value (saved, 1);
  gint64 last = 0;
  GVariantBuilder bi, bu;
  gsize n_issued = 0, n_used = 0;
  gboolean spent = FALSE;
  g_autoptr(PpTr34KrdState) state = NULL;

  g_variant_get_child (saved, 2, "x", &last);
  g_variant_builder_init (&bi, G_VARIANT_TYPE ("aay"));
  g_variant_builder_init (&bu, G_VARIANT_TYPE ("aay"));
  if (add != NULL)
    {
      g_variant_builder_add_value (&bi, g_variant_new_fixed_array (G_VARIANT_TYPE_BYTE,
                                                                   g_bytes_get_data (add, NULL),
                                                                   g_bytes_get_size (add), 1));
      n_issued++;
    }
  for (gsize i = 0; i < g_variant_n_children (issued); i++)
    {
      g_autoptr(GVariant) child = g_variant_get_child_value (issued, i);

      if (spend != NULL && variant_bytes_equal (child, spend))
        {
          spent = TRUE;
          continue;
        }
      if (n_issued < MAX_ISSUED_NONCES)
        {
          g_variant_builder_add_value (&bi, child);
          n_issued++;
        }
    }
  if (spent)
    {
      g_variant_builder_add_value (&bu, g_variant_new_fixed_array (G_VARIANT_TYPE_BYTE,
                                                                   g_bytes_get_data (spend, NULL),
                                                                   g_bytes_get_size (spend), 1));
      n_used++;
    }
  for (gsize i = 0; i < g_variant_n_children (used) && n_used < MAX_USED_NONCES; i++)
    {
      g_autoptr(GVariant) child = g_variant_get_child_value (used, i);

      g_variant_builder_add_value (&bu, child);
      n_used++;
    }
  state = pp_tr34_krd_state_load (g_variant_new ("(aayaayx)", &bi, &bu, last), NULL);
  g_return_if_fail (state != NULL);
  pp_tr34_krd_state_unref (self->state);
  self->state = g_steal_pointer (&state);
}

static gboolean
nonce_was_spent (PpTermsim *self,
                 GBytes    *nonce)
{
  g_autoptr(GVariant) saved = g_variant_ref_sink (pp_tr34_krd_state_save (self->state));
  g_autoptr(GVariant) used = g_variant_get_child_value (saved, 1);

  for (gsize i = 0; i < g_variant_n_children (used); i++)
    {
      g_autoptr(GVariant) child = g_variant_get_child_value (used, i);

      if (variant_bytes_equal (child, nonce))
        return TRUE;
    }
  return FALSE;
}

/* Replays nonces.log over the snapshot just loaded. An "I" line for a
 * nonce the state knows already (issued, or spent) changes nothing; only
 * whole lines count. */
static void
replay_ledger (PpTermsim *self)
{
  g_autofree char *path = g_build_filename (self->dir, PP_TERMSIM_NONCE_LEDGER_FILE, NULL);
  g_autofree char *text = NULL;
  gsize len = 0, at = 0;

  self->saved_last = state_last (self->state);
  if (!g_file_get_contents (path, &text, &len, NULL))
    return;
  while (at < len)
    {
      const char *line = text + at;
      const char *end = memchr (line, '\n', len - at);
      g_autoptr(GBytes) nonce = NULL;
      g_autofree char *hex = NULL;

      if (end == NULL)
        break;   /* torn: never finished, never answered */
      at = (gsize) (end - text) + 1;
      self->ledger_len = (gint64) at;
      self->ledger_lines++;
      if (end - line != 2 + 2 * NONCE_LEN || line[1] != ' ' || (line[0] != 'I' && line[0] != 'S'))
        continue;
      hex = g_strndup (line + 2, 2 * NONCE_LEN);
      if ((nonce = pp_hex_decode (hex, NULL)) == NULL)
        continue;
      if (line[0] == 'S')
        edit_nonces (self, NULL, nonce);
      else if (!pp_tr34_krd_state_has_nonce (self->state, nonce) && !nonce_was_spent (self, nonce))
        edit_nonces (self, nonce, NULL);
    }
}

/* ---- Answers ----------------------------------------------------------- */

typedef struct {
  GByteArray *out;
  guint8      status;
} Reply;

static GBytes *
reply_finish (Reply  *r,
              guint8 *out_status)
{
  *out_status = r->status;
  return g_byte_array_free_to_bytes (g_steal_pointer (&r->out));
}

static GBytes *refuse (guint8     *out_status,
                       guint8      status,
                       guint16     reason,
                       const char *format,
                       ...) G_GNUC_PRINTF (4, 5);

static GBytes *
refuse (guint8     *out_status,
        guint8      status,
        guint16     reason,
        const char *format,
        ...)
{
  GByteArray *out = g_byte_array_new ();
  g_autofree char *message = NULL;
  va_list args;

  va_start (args, format);
  message = g_strdup_vprintf (format, args);
  va_end (args);
  if (reason != 0)
    pp_link_tlv_put_uint (out, PP_TAG_REASON, 2, reason);
  pp_link_tlv_put_text (out, PP_TAG_MESSAGE, message);
  *out_status = status;
  return g_byte_array_free_to_bytes (out);
}

static GBytes *
refuse_error (guint8       *out_status,
              const GError *error,
              const char   *what)
{
  guint16 reason = error->domain == PP_TR34_ERROR ? PP_TERMSIM_REASON_TR34 + error->code
                 : error->domain == PP_TERMSIM_ERROR ? PP_TERMSIM_REASON_STORAGE
                 : PP_TERMSIM_REASON_KEY_BLOCK;

  return refuse (out_status, PP_STATUS_REFUSED, reason, "%s: %s", what, error->message);
}

static GBytes *
refuse_tampered (guint8 *out_status)
{
  return refuse (out_status, PP_STATUS_TAMPERED, 0,
                 "Security attack detected: this terminal refuses keys; return it for inspection");
}

static void
put_bound_and_program (PpTermsim  *self,
                       GByteArray *out)
{
  if (self->kdh != NULL)
    {
      g_autofree char *subject = name_to_string (X509_get_subject_name (self->kdh));

      pp_link_tlv_put_text (out, PP_TAG_BOUND_KDH, subject);
    }
  if (self->program_name != NULL)
    {
      pp_link_tlv_put_text (out, PP_TAG_PROGRAM_NAME, self->program_name);
      pp_link_tlv_put_text (out, PP_TAG_PROGRAM_VERSION, self->program_version);
    }
}

/* KEYS (IDENTIFY and STATUS, docs/link-protocol.md): per held key its slot,
 * flags (bit 0: a sign-on working key), the two characters of its usage and
 * its KCV after a length byte; never a value.  IDENTIFY's lets a station
 * settle a LOAD_KEY whose answer it lost. */
static void
put_keys (PpTermsim  *self,
          GByteArray *out)
{
  g_autoptr(GByteArray) keys = g_byte_array_new ();

  for (guint i = 0; i < self->keys->len; i++)
    {
      KeyEntry *e = g_ptr_array_index (self->keys, i);
      gsize kcv_len = strlen (e->kcv);
      guint8 head[5] = { e->slot & 0xFF, e->working ? 1 : 0, 0, 0, (guint8) MIN (kcv_len, 64) };

      if (strlen (e->usage) != 2 || keys->len + sizeof head + head[4] > PP_TLV_MAX_VALUE)
        continue;
      head[2] = e->usage[0];
      head[3] = e->usage[1];
      g_byte_array_append (keys, head, sizeof head);
      g_byte_array_append (keys, (const guint8 *) e->kcv, head[4]);
    }
  pp_link_tlv_put (out, PP_TAG_KEYS, keys->data, keys->len);
}

static GBytes *
handle_identify (PpTermsim *self,
                 guint8    *out_status)
{
  Reply r = { g_byte_array_new (), PP_STATUS_OK };

  pp_link_tlv_put_text (r.out, PP_TAG_SERIAL,
                           self->report_serial != NULL ? self->report_serial : self->serial);
  pp_link_tlv_put_text (r.out, PP_TAG_VENDOR, self->vendor);
  pp_link_tlv_put_text (r.out, PP_TAG_MODEL, self->model);
  pp_link_tlv_put_text (r.out, PP_TAG_FIRMWARE, self->firmware);
  pp_link_tlv_put_uint (r.out, PP_TAG_PROTOCOL_VERSION, 1, PROTOCOL_VERSION);
  pp_link_tlv_put_uint (r.out, PP_TAG_CAPABILITIES, 4,
                           PP_CAP_CERTIFY | PP_CAP_TR34_2PASS | PP_CAP_TR34_1PASS |
                           PP_CAP_PROGRAM | PP_CAP_SIGN_ON | PP_CAP_DUKPT);
  pp_link_tlv_put_uint (r.out, PP_TAG_TAMPER, 1, self->tamper ? 1 : 0);
  pp_link_tlv_put_uint (r.out, PP_TAG_HAS_CERT, 1, self->cert != NULL ? 1 : 0);
  put_bound_and_program (self, r.out);
  put_keys (self, r.out);
  return reply_finish (&r, out_status);
}

static GBytes *
handle_get_csr (PpTermsim *self,
                guint8    *out_status)
{
  Reply r = { g_byte_array_new (), PP_STATUS_OK };
  unsigned char *der = NULL;
  int len;

  if (self->cert != NULL || self->csr == NULL)
    {
      g_byte_array_unref (r.out);
      return refuse (out_status, PP_STATUS_REFUSED, PP_TERMSIM_REASON_STATE,
                     "This terminal already holds a device certificate");
    }
  len = i2d_X509_REQ (self->csr, &der);
  pp_link_tlv_put (r.out, PP_TAG_CSR, der, len > 0 ? len : 0);
  OPENSSL_free (der);
  return reply_finish (&r, out_status);
}

static GBytes *
handle_put_cert (PpTermsim           *self,
                 const PpLinkTlvIndex *tlvs,
                 guint8              *out_status)
{
  const unsigned char *p = tlvs->value[PP_TAG_CERT];
  g_autoptr(X509) cert = NULL;
  g_autofree char *named = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *csr_path = g_build_filename (self->dir, PP_TERMSIM_CSR_FILE, NULL);

  if (p == NULL)
    return refuse (out_status, PP_STATUS_BAD_PAYLOAD, 0, "PUT_CERT without CERT");
  cert = d2i_X509 (NULL, &p, (long) tlvs->len[PP_TAG_CERT]);
  if (cert == NULL || p != tlvs->value[PP_TAG_CERT] + tlvs->len[PP_TAG_CERT])
    return refuse (out_status, PP_STATUS_BAD_PAYLOAD, 0, "CERT is not one DER X.509 certificate");
  if (self->cert != NULL)
    {
      /* A retry after a lost answer is fine; a second certificate is not. */
      if (X509_cmp (self->cert, cert) == 0)
        {
          *out_status = PP_STATUS_OK;
          return g_bytes_new (NULL, 0);
        }
      return refuse (out_status, PP_STATUS_REFUSED, PP_TERMSIM_REASON_STATE,
                     "This terminal already holds a device certificate");
    }
  if (EVP_PKEY_eq (X509_get0_pubkey (cert), self->key) != 1)
    return refuse (out_status, PP_STATUS_REFUSED, PP_TERMSIM_REASON_CERT,
                   "The certificate is for another key than this terminal's");
  named = subject_device (X509_get_subject_name (cert));
  if (named == NULL || strcmp (named, self->serial) != 0)
    return refuse (out_status, PP_STATUS_REFUSED, PP_TERMSIM_REASON_CERT,
                   "The certificate names device \"%s\", not this terminal \"%s\"",
                   named != NULL ? named : "", self->serial);
  if (!write_cert (self->dir, PP_TERMSIM_CERT_FILE, cert, &error))
    return refuse_error (out_status, error, "Cannot keep the certificate");
  g_unlink (csr_path);
  self->cert = g_steal_pointer (&cert);
  g_clear_pointer (&self->csr, X509_REQ_free);
  rebuild_krd (self);
  *out_status = PP_STATUS_OK;
  return g_bytes_new (NULL, 0);
}

/* CT_KRD as `openssl crl2pkcs7 -nocrl` makes it: a degenerate SignedData
 * with the device certificate and no CRL field. */
static GBytes *
handle_get_ct_krd (PpTermsim *self,
                   guint8    *out_status)
{
  g_autoptr(PKCS7) p7 = PKCS7_new ();
  Reply r = { NULL, PP_STATUS_OK };
  unsigned char *der = NULL;
  int len;

  if (self->cert == NULL)
    return refuse (out_status, PP_STATUS_NO_CERT, 0,
                   "This terminal has no device certificate yet (GET_CSR / PUT_CERT)");
  if (p7 == NULL || PKCS7_set_type (p7, NID_pkcs7_signed) != 1)
    return refuse (out_status, PP_STATUS_REFUSED, PP_TERMSIM_REASON_STORAGE, "OpenSSL failed");
  ASN1_OBJECT_free (p7->d.sign->contents->type);
  p7->d.sign->contents->type = OBJ_nid2obj (NID_pkcs7_data);
  if (PKCS7_add_certificate (p7, self->cert) != 1 || (len = i2d_PKCS7 (p7, &der)) <= 0)
    return refuse (out_status, PP_STATUS_REFUSED, PP_TERMSIM_REASON_STORAGE, "OpenSSL failed");
  r.out = g_byte_array_new ();
  pp_link_tlv_put (r.out, PP_TAG_TOKEN, der, len);
  OPENSSL_free (der);
  return reply_finish (&r, out_status);
}

static void
set_clock (PpTermsim *self)
{
  if (self->faults.clock_skew != 0)
    {
      g_autoptr(GDateTime) now = g_date_time_new_now_utc ();
      g_autoptr(GDateTime) at = g_date_time_add_seconds (now, (gdouble) self->faults.clock_skew);

      pp_tr34_krd_set_time (self->krd, at);
    }
  else
    pp_tr34_krd_set_time (self->krd, NULL);
}

static GBytes *
reply_bound (PpTermsim *self,
             guint8    *out_status)
{
  Reply r = { g_byte_array_new (), PP_STATUS_OK };
  g_autofree char *subject = name_to_string (X509_get_subject_name (self->kdh));

  pp_link_tlv_put_text (r.out, PP_TAG_BOUND_KDH, subject);
  return reply_finish (&r, out_status);
}

static GBytes *
handle_bind (PpTermsim           *self,
             const PpLinkTlvIndex *tlvs,
             guint8              *out_status)
{
  const guint8 *der = tlvs->value[PP_TAG_TOKEN];
  gsize len = tlvs->len[PP_TAG_TOKEN];
  g_autoptr(GError) error = NULL;
  g_autoptr(X509) kdh = NULL;

  if (der == NULL)
    return refuse (out_status, PP_STATUS_BAD_PAYLOAD, 0, "BIND without TOKEN");
  if (self->tamper)
    return refuse_tampered (out_status);
  if (self->krd == NULL)
    return refuse (out_status, PP_STATUS_NO_CERT, 0, "This terminal has no device certificate yet");
  if (self->kdh != NULL)
    {
      g_autoptr(PpTr34Token) token = pp_tr34_token_parse (der, len, NULL);
      STACK_OF(X509) *certs = token != NULL ? pp_tr34_token_get_certificates (token) : NULL;

      /* The same CT_KDH again (a retry after a lost answer) is fine. */
      if (token != NULL && pp_tr34_token_get_kind (token) == PP_TR34_TOKEN_CT_KDH &&
          certs != NULL && sk_X509_num (certs) == 1 && X509_cmp (sk_X509_value (certs, 0), self->kdh) == 0)
        return reply_bound (self, out_status);
      return refuse (out_status, PP_STATUS_REFUSED, PP_TERMSIM_REASON_STATE,
                     "This terminal is bound to another KDH: rebind or unbind it first");
    }
  set_clock (self);
  kdh = pp_tr34_krd_receive_credential_token (self->krd, der, len, &error);
  if (kdh == NULL)
    {
      rebuild_krd (self);
      return refuse_error (out_status, error, "CT_KDH refused");
    }
  self->kdh = g_steal_pointer (&kdh);
  if (!save_binding (self, &error))
    {
      g_clear_pointer (&self->kdh, X509_free);
      rebuild_krd (self);
      return refuse_error (out_status, error, "Cannot keep the binding");
    }
  return reply_bound (self, out_status);
}

static GBytes *
token_nonce (const guint8 *der,
             gsize         len)
{
  g_autoptr(PpTr34Token) token = pp_tr34_token_parse (der, len, NULL);
  GBytes *nonce = token != NULL ? pp_tr34_token_get_nonce (token) : NULL;

  return nonce != NULL ? g_bytes_ref (nonce) : NULL;
}

/* After any token that may carry a nonce: spent, whatever happened, and
 * on disk (fdatasync) before the answer. A new last 1-pass time (a 1-pass
 * token accepted) goes into the snapshot; a spent nonce alone is one line
 * of the ledger. */
static void
spend_nonce (PpTermsim *self,
             GBytes    *nonce)
{
  g_autoptr(GError) error = NULL;
  gboolean ok;

  if (nonce != NULL)
    edit_nonces (self, NULL, nonce);
  if (nonce == NULL || state_last (self->state) != self->saved_last)
    ok = save_krd_state (self, &error);
  else
    ok = ledger_append (self, 'S', nonce, TRUE, &error);
  if (!ok)
    g_warning ("termsim %s: %s", self->serial, error->message);
}

static GBytes *
handle_rebind_unbind (PpTermsim           *self,
                      guint8               command,
                      const PpLinkTlvIndex *tlvs,
                      guint8              *out_status)
{
  const guint8 *der = tlvs->value[PP_TAG_TOKEN];
  gsize len = tlvs->len[PP_TAG_TOKEN];
  g_autoptr(GError) error = NULL;
  g_autoptr(GBytes) nonce = NULL;
  g_autoptr(X509) old_kdh = NULL;

  if (der == NULL)
    return refuse (out_status, PP_STATUS_BAD_PAYLOAD, 0, "%s without TOKEN",
                   command == PP_CMD_REBIND ? "REBIND" : "UNBIND");
  nonce = token_nonce (der, len);
  if (self->tamper && command == PP_CMD_REBIND)
    {
      spend_nonce (self, nonce);
      return refuse_tampered (out_status);
    }
  if (self->krd == NULL)
    return refuse (out_status, PP_STATUS_NO_CERT, 0, "This terminal has no device certificate yet");
  if (self->kdh == NULL)
    {
      spend_nonce (self, nonce);
      return refuse (out_status, PP_STATUS_NOT_BOUND, 0, "This terminal is not bound to a KDH");
    }
  set_clock (self);
  old_kdh = g_steal_pointer (&self->kdh);
  if (command == PP_CMD_REBIND)
    self->kdh = pp_tr34_krd_receive_rebind_token (self->krd, self->state, der, len, &error);
  else
    (void) pp_tr34_krd_receive_unbind_token (self->krd, self->state, der, len, &error);
  spend_nonce (self, nonce);
  if (error != NULL)
    {
      self->kdh = g_steal_pointer (&old_kdh);
      rebuild_krd (self);
      return refuse_error (out_status, error, command == PP_CMD_REBIND ? "RBT_KDH refused"
                                                                       : "UBT_KDH refused");
    }
  if (!save_binding (self, &error))
    {
      g_clear_pointer (&self->kdh, X509_free);
      self->kdh = g_steal_pointer (&old_kdh);
      rebuild_krd (self);
      return refuse_error (out_status, error, "Cannot keep the binding");
    }
  if (command == PP_CMD_REBIND)
    return reply_bound (self, out_status);
  *out_status = PP_STATUS_OK;
  return g_bytes_new (NULL, 0);
}

static GBytes *
handle_get_rt_krd (PpTermsim *self,
                   guint8    *out_status)
{
  Reply r = { NULL, PP_STATUS_OK };
  guint8 raw[NONCE_LEN];
  g_autoptr(GBytes) nonce = NULL;
  g_autoptr(GBytes) token = NULL;
  g_autoptr(GError) error = NULL;

  if (self->krd == NULL)
    return refuse (out_status, PP_STATUS_NO_CERT, 0, "This terminal has no device certificate yet");
  if (RAND_bytes (raw, sizeof raw) != 1)
    return refuse (out_status, PP_STATUS_REFUSED, PP_TERMSIM_REASON_STORAGE, "No random bytes");
  nonce = g_bytes_new (raw, sizeof raw);
  edit_nonces (self, nonce, NULL);
  /* Written before it leaves (a KT_KDH for it may come after a restart of
   * the simulator) but not synced: lost only with the machine, and then
   * the KT_KDH for it is refused, which is safe. */
  if (!ledger_append (self, 'I', nonce, FALSE, &error))
    return refuse_error (out_status, error, "Cannot keep the nonce");
  token = pp_tr34_build_random_token (nonce);
  r.out = g_byte_array_new ();
  pp_link_tlv_put (r.out, PP_TAG_TOKEN, g_bytes_get_data (token, NULL), g_bytes_get_size (token));
  return reply_finish (&r, out_status);
}

static KeyEntry *
find_key (PpTermsim *self,
          guint      slot,
          guint     *out_index)
{
  for (guint i = 0; i < self->keys->len; i++)
    {
      KeyEntry *e = g_ptr_array_index (self->keys, i);

      if (e->slot == slot)
        {
          if (out_index != NULL)
            *out_index = i;
          return e;
        }
    }
  return NULL;
}

static char *
key_aad (PpTermsim  *self,
         guint       slot,
         const char *header)
{
  return g_strdup_printf ("posprov-termsim key|%s|%u|%s", self->serial, slot, header);
}

static char *
now_string (void)
{
  g_autoptr(GDateTime) now = g_date_time_new_now_utc ();

  return g_date_time_format (now, "%Y-%m-%dT%H:%M:%SZ");
}

static PpKeyAlgorithm
header_algorithm (const char *header)
{
  return strlen (header) > 7 && header[7] == 'A' ? PP_KEY_ALGORITHM_AES : PP_KEY_ALGORITHM_TDES;
}

/* A DUKPT initial key (usage B1) with its KSN in a KS optional block: the
 * terminal derives the key of its first transaction. */
static gboolean
dukpt_start (const PpSecureBuffer  *initial_key,
             const char            *header,
             char                 **out_ksn,
             char                 **out_kcv,
             GError               **error)
{
  g_autoptr(PpTr31Header) parsed = pp_tr31_header_parse (header, error);
  g_autoptr(GBytes) ks = NULL;
  g_autoptr(PpSecureBuffer) tk = NULL;
  guint8 ksn[PP_DUKPT_AES_KSN_LEN];
  gsize ksn_len;
  const char *text;

  if (parsed == NULL)
    return FALSE;
  text = pp_tr31_header_get_optional_block (parsed, "KS");
  ks = text != NULL ? hex_decode (text) : NULL;
  if (ks == NULL)
    {
      g_set_error (error, PP_TERMSIM_ERROR, PP_TERMSIM_ERROR_INVALID,
                   "A DUKPT initial key needs its KSN in a KS optional block (hex)");
      return FALSE;
    }
  ksn_len = g_bytes_get_size (ks);
  if (parsed->algorithm == 'A' && (ksn_len == PP_DUKPT_AES_INITIAL_KEY_ID_LEN || ksn_len == PP_DUKPT_AES_KSN_LEN))
    {
      /* The initial key ID, counter 1. */
      memcpy (ksn, g_bytes_get_data (ks, NULL), PP_DUKPT_AES_INITIAL_KEY_ID_LEN);
      ksn[8] = ksn[9] = ksn[10] = 0;
      ksn[11] = 1;
      ksn_len = PP_DUKPT_AES_KSN_LEN;
      tk = pp_dukpt_aes_derive_transaction_key (initial_key, ksn, ksn_len, error);
    }
  else if (parsed->algorithm != 'A' && ksn_len == PP_DUKPT_TDES_KSN_LEN)
    {
      /* The counter bits cleared, then counter 1. */
      memcpy (ksn, g_bytes_get_data (ks, NULL), ksn_len);
      ksn[7] &= 0xE0;
      ksn[8] = 0;
      ksn[9] = 1;
      tk = pp_dukpt_tdes_derive_transaction_key (initial_key, ksn, ksn_len, error);
    }
  else
    {
      g_set_error (error, PP_TERMSIM_ERROR, PP_TERMSIM_ERROR_INVALID,
                   "The KS block holds %" G_GSIZE_FORMAT " bytes: a TDES KSN is 10, an AES "
                   "initial key ID 8 (or a 12-byte KSN)", ksn_len);
      return FALSE;
    }
  if (tk == NULL)
    return FALSE;
  *out_kcv = pp_kcv_compute (parsed->algorithm == 'A' ? PP_KEY_ALGORITHM_AES : PP_KEY_ALGORITHM_TDES,
                             tk, parsed->algorithm == 'A' ? PP_KCV_DEFAULT_LENGTH_AES
                                                           : PP_KCV_DEFAULT_LENGTH_TDES, error);
  if (*out_kcv == NULL)
    return FALSE;
  *out_ksn = hex_encode (ksn, ksn_len);
  return TRUE;
}

static gboolean
store_key (PpTermsim             *self,
           guint                  slot,
           const char            *header,
           const PpSecureBuffer  *key,
           gboolean               working,
           char                 **out_kcv,
           GError               **error)
{
  PpKeyAlgorithm alg = header_algorithm (header);
  g_autofree char *aad = key_aad (self, slot, header);
  KeyEntry *e = g_new0 (KeyEntry, 1);
  guint index;

  e->slot = slot;
  e->usage = g_strndup (strlen (header) >= 7 ? header + 5 : "??", 2);
  e->header = g_strdup (header);
  e->time = now_string ();
  e->working = working;
  e->kcv = pp_kcv_compute (alg, key, pp_kcv_default_length (alg), error);
  if (e->kcv == NULL)
    goto fail;
  if (g_str_equal (e->usage, "B1") && !dukpt_start (key, header, &e->ksn, &e->transaction_kcv, error))
    goto fail;
  e->sealed = pp_termsim_seal (self->storage_key, key, aad, error);
  if (e->sealed == NULL)
    goto fail;
  if (find_key (self, slot, &index) != NULL)
    g_ptr_array_remove_index (self->keys, index);
  g_ptr_array_add (self->keys, e);
  *out_kcv = g_strdup (e->kcv);
  return TRUE;

fail:
  key_entry_free (e);
  return FALSE;
}

static GBytes *
handle_load_key (PpTermsim           *self,
                 const PpLinkTlvIndex *tlvs,
                 guint8              *out_status)
{
  const guint8 *der = tlvs->value[PP_TAG_TOKEN];
  gsize len = tlvs->len[PP_TAG_TOKEN];
  g_autoptr(GBytes) nonce = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(PpTr34ReceivedKey) received = NULL;
  g_autofree char *kcv = NULL;
  guint64 slot = 0;
  Reply r = { NULL, PP_STATUS_OK };

  if (der == NULL)
    return refuse (out_status, PP_STATUS_BAD_PAYLOAD, 0, "LOAD_KEY without TOKEN");
  if (pp_link_tlv_index_has (tlvs, PP_TAG_SLOT) && !pp_link_tlv_index_get_uint (tlvs, PP_TAG_SLOT, 1, &slot))
    return refuse (out_status, PP_STATUS_BAD_PAYLOAD, 0, "SLOT is not one byte");
  if (slot >= WORKING_PIN_SLOT)
    return refuse (out_status, PP_STATUS_BAD_PAYLOAD, 0,
                   "Slot %u is reserved for working keys (0-127 hold master keys)", (guint) slot);
  nonce = token_nonce (der, len);
  if (self->tamper)
    {
      spend_nonce (self, nonce);
      return refuse_tampered (out_status);
    }
  if (self->krd == NULL)
    return refuse (out_status, PP_STATUS_NO_CERT, 0, "This terminal has no device certificate yet");
  if (self->kdh == NULL)
    {
      spend_nonce (self, nonce);
      return refuse (out_status, PP_STATUS_NOT_BOUND, 0,
                     "This terminal is not bound to a KDH: BIND first");
    }
  set_clock (self);
  received = pp_tr34_krd_receive_key_token (self->krd, self->state, der, len, &error);
  /* Spent and on disk before anything else can fail. */
  spend_nonce (self, nonce);
  if (received == NULL)
    return refuse_error (out_status, error, "KT_KDH refused");
  if (!store_key (self, (guint) slot, received->header, received->key, FALSE, &kcv, &error))
    return refuse_error (out_status, error, "Key refused");
  if (!save_state (self, &error))
    {
      guint index;

      if (find_key (self, (guint) slot, &index) != NULL)
        g_ptr_array_remove_index (self->keys, index);
      return refuse_error (out_status, error, "Cannot keep the key");
    }
  r.out = g_byte_array_new ();
  pp_link_tlv_put_uint (r.out, PP_TAG_SLOT, 1, slot);
  pp_link_tlv_put_text (r.out, PP_TAG_KCV, kcv);
  return reply_finish (&r, out_status);
}

static GBytes *
handle_zeroize (PpTermsim *self,
                guint8    *out_status)
{
  g_autoptr(GError) error = NULL;

  g_ptr_array_set_size (self->keys, 0);
  g_clear_pointer (&self->kdh, X509_free);
  rebuild_krd (self);
  if (!save_state (self, &error) || !save_binding (self, &error))
    return refuse_error (out_status, error, "Zeroize incomplete");
  *out_status = PP_STATUS_OK;
  return g_bytes_new (NULL, 0);
}

static GBytes *
handle_status (PpTermsim *self,
               guint8    *out_status)
{
  Reply r = { g_byte_array_new (), PP_STATUS_OK };
  g_autoptr(GString) summary = g_string_new (NULL);

  pp_link_tlv_put_uint (r.out, PP_TAG_TAMPER, 1, self->tamper ? 1 : 0);
  pp_link_tlv_put_uint (r.out, PP_TAG_HAS_CERT, 1, self->cert != NULL ? 1 : 0);
  put_bound_and_program (self, r.out);
  g_string_append_printf (summary, "%u key%s", self->keys->len, self->keys->len == 1 ? "" : "s");
  for (guint i = 0; i < self->keys->len; i++)
    {
      KeyEntry *e = g_ptr_array_index (self->keys, i);

      g_string_append_printf (summary, "%s slot %u %s KCV %s", i == 0 ? ":" : ";", e->slot,
                              e->usage, e->kcv);
    }
  pp_link_tlv_put_text (r.out, PP_TAG_MESSAGE, summary->str);
  put_keys (self, r.out);
  return reply_finish (&r, out_status);
}

/* ---- Programs ------------------------------------------------------------ */

static guint64
pending_held (PpTermsim *self)
{
  g_autofree char *path = g_build_filename (self->dir, PP_TERMSIM_PROGRAM_PART_FILE, NULL);
  GStatBuf st;

  if (g_stat (path, &st) != 0)
    return 0;
  return (guint64) st.st_size;
}

static GBytes *
handle_program_begin (PpTermsim           *self,
                      const PpLinkTlvIndex *tlvs,
                      guint8              *out_status)
{
  g_autofree char *name = pp_link_tlv_index_dup_text (tlvs, PP_TAG_PROGRAM_NAME);
  g_autofree char *version = pp_link_tlv_index_dup_text (tlvs, PP_TAG_PROGRAM_VERSION);
  g_autofree char *sha = NULL;
  g_autoptr(GError) error = NULL;
  guint64 size = 0;
  guint64 held = 0;
  Reply r = { NULL, PP_STATUS_OK };

  if (name == NULL || version == NULL || !pp_link_tlv_index_get_uint (tlvs, PP_TAG_SIZE, 8, &size) ||
      tlvs->value[PP_TAG_SHA256] == NULL || tlvs->len[PP_TAG_SHA256] != 32)
    return refuse (out_status, PP_STATUS_BAD_PAYLOAD, 0,
                   "PROGRAM_BEGIN needs PROGRAM_NAME, PROGRAM_VERSION, SIZE (u64) and SHA256 (32 bytes)");
  if (size > MAX_PROGRAM_SIZE)
    return refuse (out_status, PP_STATUS_REFUSED, PP_TERMSIM_REASON_PROGRAM,
                   "The program is larger than this terminal's %" G_GUINT64_FORMAT " bytes",
                   MAX_PROGRAM_SIZE);
  sha = hex_encode (tlvs->value[PP_TAG_SHA256], 32);
  if (self->pending_name != NULL && g_str_equal (self->pending_name, name) &&
      g_str_equal (self->pending_version, version) && g_str_equal (self->pending_sha256, sha) &&
      self->pending_size == size)
    {
      held = MIN (pending_held (self), size);
      self->pending_resumes++;
      if (!save_state (self, &error))
        return refuse_error (out_status, error, "Cannot resume the program");
    }
  else
    {
      g_free (self->pending_name);
      g_free (self->pending_version);
      g_free (self->pending_sha256);
      self->pending_name = g_steal_pointer (&name);
      self->pending_version = g_steal_pointer (&version);
      self->pending_sha256 = g_steal_pointer (&sha);
      self->pending_size = size;
      self->pending_received = 0;
      self->pending_resumes = 0;
      if (!pp_termsim_write_file (self->dir, PP_TERMSIM_PROGRAM_PART_FILE, "", 0, &error) ||
          !save_state (self, &error))
        return refuse_error (out_status, error, "Cannot start the program");
    }
  r.out = g_byte_array_new ();
  pp_link_tlv_put_uint (r.out, PP_TAG_OFFSET, 8, held);
  return reply_finish (&r, out_status);
}

static GBytes *
handle_program_block (PpTermsim           *self,
                      const PpLinkTlvIndex *tlvs,
                      guint8              *out_status)
{
  g_autofree char *part = g_build_filename (self->dir, PP_TERMSIM_PROGRAM_PART_FILE, NULL);
  const guint8 *data = tlvs->value[PP_TAG_DATA];
  gsize len = tlvs->len[PP_TAG_DATA];
  guint64 offset = 0, held;
  Reply r = { NULL, PP_STATUS_OK };

  if (data == NULL || !pp_link_tlv_index_get_uint (tlvs, PP_TAG_OFFSET, 8, &offset))
    return refuse (out_status, PP_STATUS_BAD_PAYLOAD, 0, "PROGRAM_BLOCK needs OFFSET (u64) and DATA");
  if (self->pending_name == NULL)
    return refuse (out_status, PP_STATUS_REFUSED, PP_TERMSIM_REASON_STATE, "No PROGRAM_BEGIN before");
  held = pending_held (self);
  if (offset > held)
    return refuse (out_status, PP_STATUS_REFUSED, PP_TERMSIM_REASON_STATE,
                   "Block at %" G_GUINT64_FORMAT " leaves a gap: %" G_GUINT64_FORMAT " bytes held",
                   offset, held);
  self->pending_received += len;
  if (offset + len > self->pending_size)
    return refuse (out_status, PP_STATUS_REFUSED, PP_TERMSIM_REASON_PROGRAM,
                   "Block ends past the program's size of %" G_GUINT64_FORMAT, self->pending_size);
  if (offset + len > held)
    {
      /* A re-sent window overlaps what is held: only the new tail is written. */
      int fd = g_open (part, O_WRONLY | O_CLOEXEC, 0600);
      gsize skip = (gsize) (held - offset);
      gboolean ok = fd >= 0 && pwrite (fd, data + skip, len - skip, (off_t) held) == (ssize_t) (len - skip);

      if (fd >= 0)
        close (fd);
      if (!ok)
        return refuse (out_status, PP_STATUS_REFUSED, PP_TERMSIM_REASON_STORAGE,
                       "Cannot write the program block");
      held = offset + len;
    }
  r.out = g_byte_array_new ();
  pp_link_tlv_put_uint (r.out, PP_TAG_OFFSET, 8, held);
  return reply_finish (&r, out_status);
}

static char *
file_sha256 (const char *path)
{
  g_autoptr(GChecksum) sum = g_checksum_new (G_CHECKSUM_SHA256);
  g_autoptr(GMappedFile) map = g_mapped_file_new (path, FALSE, NULL);

  if (map == NULL)
    return NULL;
  g_checksum_update (sum, (const guchar *) g_mapped_file_get_contents (map),
                     (gssize) g_mapped_file_get_length (map));
  return g_ascii_strup (g_checksum_get_string (sum), -1);
}

static guint
installed_kinds (PpTermsim *self)
{
  guint kinds = 0;

  for (guint i = 0; i < self->programs->len; i++)
    kinds |= 1u << ((Installed *) g_ptr_array_index (self->programs, i))->kind;
  return kinds;
}

static GBytes *
refuse_program (guint8       *out_status,
                guint16       reason,
                const GError *error)
{
  return refuse (out_status, PP_STATUS_REFUSED, reason, "Program refused: %s", error->message);
}

/* PROGRAM_COMMIT: every check of docs/program-package.md on the bytes
 * received, then the install. The old program stays until all pass. */
static GBytes *
handle_program_commit (PpTermsim           *self,
                       const PpLinkTlvIndex *tlvs,
                       guint8              *out_status)
{
  g_autofree char *part = g_build_filename (self->dir, PP_TERMSIM_PROGRAM_PART_FILE, NULL);
  g_autofree char *file = NULL, *installed = NULL, *sha = NULL;
  g_autoptr(GMappedFile) map = NULL;
  g_autoptr(GBytes) manifest_bytes = NULL, signature = NULL, cert = NULL;
  g_autoptr(PpProgramManifest) manifest = NULL;
  g_autoptr(JsonBuilder) b = NULL;
  g_autoptr(GError) error = NULL;
  const guint8 *payload;
  gsize payload_len;
  gint64 now;
  Installed *entry = NULL;
  Reply r = { NULL, PP_STATUS_OK };

  if (tlvs->value[PP_TAG_SIGNATURE] == NULL || tlvs->value[PP_TAG_MANIFEST] == NULL ||
      tlvs->value[PP_TAG_CERT] == NULL)
    return refuse (out_status, PP_STATUS_BAD_PAYLOAD, 0,
                   "PROGRAM_COMMIT needs MANIFEST, SIGNATURE and CERT (the signer's certificate)");
  if (self->pending_name == NULL)
    return refuse (out_status, PP_STATUS_REFUSED, PP_TERMSIM_REASON_STATE, "No PROGRAM_BEGIN before");
  if (self->faults.refuse_program)
    return refuse (out_status, PP_STATUS_REFUSED, PP_REASON_PROGRAM,
                   "Program refused by this terminal (--refuse-program)");
  if (pending_held (self) != self->pending_size)
    return refuse (out_status, PP_STATUS_REFUSED, PP_TERMSIM_REASON_STATE,
                   "Only %" G_GUINT64_FORMAT " of %" G_GUINT64_FORMAT " bytes received",
                   pending_held (self), self->pending_size);
  sha = file_sha256 (part);
  if (sha == NULL || !g_str_equal (sha, self->pending_sha256))
    return refuse (out_status, PP_STATUS_REFUSED, PP_REASON_PROGRAM_INTEGRITY,
                   "Program refused: the SHA-256 of the bytes received differs from PROGRAM_BEGIN's");

  manifest_bytes = g_bytes_new (tlvs->value[PP_TAG_MANIFEST], tlvs->len[PP_TAG_MANIFEST]);
  signature = g_bytes_new (tlvs->value[PP_TAG_SIGNATURE], tlvs->len[PP_TAG_SIGNATURE]);
  cert = g_bytes_new (tlvs->value[PP_TAG_CERT], tlvs->len[PP_TAG_CERT]);
  manifest = pp_program_manifest_parse (tlvs->value[PP_TAG_MANIFEST], tlvs->len[PP_TAG_MANIFEST], &error);
  if (manifest == NULL)
    return refuse_program (out_status, PP_REASON_PROGRAM_SIGNATURE, error);
  now = g_get_real_time () / G_USEC_PER_SEC + self->faults.clock_skew;
  if (!pp_program_verify_signature (manifest_bytes, signature, cert, self->program_trust, now, &error))
    return refuse_program (out_status, PP_REASON_PROGRAM_SIGNATURE, error);
  if (!g_str_equal (pp_program_manifest_get_name (manifest), self->pending_name) ||
      !g_str_equal (pp_program_manifest_get_version (manifest), self->pending_version))
    return refuse (out_status, PP_STATUS_REFUSED, PP_REASON_PROGRAM_INTEGRITY,
                   "Program refused: the manifest is for %s %s, PROGRAM_BEGIN announced %s %s",
                   pp_program_manifest_get_name (manifest), pp_program_manifest_get_version (manifest),
                   self->pending_name, self->pending_version);
  if (!pp_program_manifest_check_model (manifest, self->model, &error))
    return refuse_program (out_status, PP_REASON_PROGRAM_MODEL, error);
  if (self->pending_size > 0)
    {
      map = g_mapped_file_new (part, FALSE, NULL);
      if (map == NULL)
        return refuse (out_status, PP_STATUS_REFUSED, PP_TERMSIM_REASON_STORAGE, "Cannot read the program");
      payload = (const guint8 *) g_mapped_file_get_contents (map);
      payload_len = g_mapped_file_get_length (map);
    }
  else
    {
      payload = (const guint8 *) "";
      payload_len = 0;
    }
  if (!pp_program_manifest_check_payload (manifest, payload, payload_len, &error))
    return refuse_program (out_status, PP_REASON_PROGRAM_INTEGRITY, error);
  if (!pp_program_check_order (pp_program_manifest_get_kind (manifest), self->pending_name,
                               installed_kinds (self), &error))
    return refuse_program (out_status, PP_REASON_PROGRAM_ORDER, error);

  /* Every check passed: now, and only now, the new program replaces the
   * old one of the same name (a signature file or manager: of the same kind). */
  file = g_strdup_printf ("program-%s.bin", self->pending_name);
  installed = g_build_filename (self->dir, file, NULL);
  g_clear_pointer (&map, g_mapped_file_unref);
  if (g_rename (part, installed) != 0)
    return refuse (out_status, PP_STATUS_REFUSED, PP_TERMSIM_REASON_STORAGE, "Cannot install the program");
  for (guint i = 0; i < self->programs->len; i++)
    {
      Installed *p = g_ptr_array_index (self->programs, i);

      if (g_str_equal (p->name, self->pending_name) ||
          (p->kind == pp_program_manifest_get_kind (manifest) && p->kind != PP_PROGRAM_KIND_PAYMENT_APP))
        {
          if (!g_str_equal (p->name, self->pending_name))
            {
              g_autofree char *old_file = g_strdup_printf ("program-%s.bin", p->name);
              g_autofree char *old = g_build_filename (self->dir, old_file, NULL);

              g_unlink (old);
            }
          g_ptr_array_remove_index (self->programs, i);
          break;
        }
    }
  entry = g_new0 (Installed, 1);
  entry->kind = pp_program_manifest_get_kind (manifest);
  entry->name = g_strdup (self->pending_name);
  entry->version = g_strdup (self->pending_version);
  g_ptr_array_add (self->programs, entry);
  b = json_builder_new ();
  json_builder_begin_object (b);
  json_builder_set_member_name (b, "name");
  json_builder_add_string_value (b, self->pending_name);
  json_builder_set_member_name (b, "version");
  json_builder_add_string_value (b, self->pending_version);
  json_builder_set_member_name (b, "size");
  json_builder_add_int_value (b, (gint64) self->pending_size);
  json_builder_set_member_name (b, "received");
  json_builder_add_int_value (b, (gint64) self->pending_received);
  json_builder_set_member_name (b, "resumes");
  json_builder_add_int_value (b, self->pending_resumes);
  json_builder_end_object (b);
  g_clear_pointer (&self->last_transfer, json_node_unref);
  self->last_transfer = json_builder_get_root (b);
  g_free (self->program_name);
  g_free (self->program_version);
  self->program_name = g_steal_pointer (&self->pending_name);
  self->program_version = g_steal_pointer (&self->pending_version);
  g_clear_pointer (&self->pending_sha256, g_free);
  self->pending_received = 0;
  self->pending_resumes = 0;
  if (!save_state (self, &error))
    g_warning ("termsim %s: %s", self->serial, error->message);
  r.out = g_byte_array_new ();
  pp_link_tlv_put_text (r.out, PP_TAG_PROGRAM_NAME, self->program_name);
  pp_link_tlv_put_text (r.out, PP_TAG_PROGRAM_VERSION, self->program_version);
  return reply_finish (&r, out_status);
}

/* ---- Sign-on --------------------------------------------------------------- */

static void
delete_working_keys (PpTermsim *self)
{
  for (guint i = self->keys->len; i > 0; i--)
    if (((KeyEntry *) g_ptr_array_index (self->keys, i - 1))->working)
      g_ptr_array_remove_index (self->keys, i - 1);
}

/* What this terminal takes as a working key: a key block version with key
 * derivation binding (B or D; A and C are deprecated by X9.143), a PIN
 * encryption key (P0) it may encrypt PIN blocks with, or a MAC key (M*) it
 * may generate MACs with, and never exportable: a working key stays in
 * the terminal. */
static gboolean
check_working_header (const PpTr31Header  *header,
                      gboolean             pin,
                      GError             **error)
{
  const char *which = pin ? "KEY_BLOCK (PIN key)" : "KEY_BLOCK_MAC (MAC key)";

  if (header->version != 'B' && header->version != 'D')
    {
      g_set_error (error, PP_TR31_ERROR, PP_TR31_ERROR_UNKNOWN_VERSION,
                   "%s: key block version %c refused: working keys need version B (TDES) or D (AES)",
                   which, header->version);
      return FALSE;
    }
  if (pin ? strcmp (header->key_usage, "P0") != 0 : header->key_usage[0] != 'M')
    {
      g_set_error (error, PP_TR31_ERROR, PP_TR31_ERROR_KEY_USAGE,
                   "%s: key usage %s refused: it must be %s", which, header->key_usage,
                   pin ? "P0 (PIN encryption)" : "M0-M8 (MAC)");
      return FALSE;
    }
  if (pin ? strchr ("EB", header->mode_of_use) == NULL : strchr ("CG", header->mode_of_use) == NULL)
    {
      g_set_error (error, PP_TR31_ERROR, PP_TR31_ERROR_MODE_OF_USE,
                   "%s: mode of use %c refused: the terminal must be able to %s with it (%s)",
                   which, header->mode_of_use, pin ? "encrypt PIN blocks" : "generate MACs",
                   pin ? "E or B" : "C or G");
      return FALSE;
    }
  if (header->exportability != 'N')
    {
      g_set_error (error, PP_TR31_ERROR, PP_TR31_ERROR_EXPORTABILITY,
                   "%s: exportability %c refused: a working key must be non-exportable (N)",
                   which, header->exportability);
      return FALSE;
    }
  return TRUE;
}

static GBytes *
handle_sign_on (PpTermsim           *self,
                const PpLinkTlvIndex *tlvs,
                guint8              *out_status)
{
  g_autofree char *password = pp_link_tlv_index_dup_text (tlvs, PP_TAG_PASSWORD);
  g_autofree char *pin_block = pp_link_tlv_index_dup_text (tlvs, PP_TAG_KEY_BLOCK);
  g_autofree char *mac_block = pp_link_tlv_index_dup_text (tlvs, PP_TAG_KEY_BLOCK_MAC);
  g_autoptr(PpSecureBuffer) tmk = NULL;
  g_autoptr(PpSecureBuffer) pin = NULL;
  g_autoptr(PpSecureBuffer) mac = NULL;
  g_autoptr(PpTr31Header) pin_header = NULL;
  g_autoptr(PpTr31Header) mac_header = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *pin_kcv = NULL;
  g_autofree char *mac_kcv = NULL;
  g_autofree char *aad = NULL;
  g_autofree char *pin_hdr = NULL;
  g_autofree char *mac_hdr = NULL;
  const Operator *op = NULL;
  const KeyEntry *master = NULL;
  guint64 id = 0;
  Reply r = { NULL, PP_STATUS_OK };

  if (!pp_link_tlv_index_get_uint (tlvs, PP_TAG_OPERATOR, 4, &id) || password == NULL ||
      pin_block == NULL || mac_block == NULL)
    return refuse (out_status, PP_STATUS_BAD_PAYLOAD, 0,
                   "SIGN_ON needs OPERATOR (u32), PASSWORD, KEY_BLOCK and KEY_BLOCK_MAC");
  if (self->tamper)
    return refuse_tampered (out_status);
  for (guint i = 0; i < self->operators->len && op == NULL; i++)
    if (((Operator *) g_ptr_array_index (self->operators, i))->id == id)
      op = g_ptr_array_index (self->operators, i);
  if (op == NULL || !operator_check (op, password))
    return refuse (out_status, PP_STATUS_REFUSED, PP_TERMSIM_REASON_SIGN_ON,
                   "Operator %u or password wrong", (guint) id);
  for (guint i = 0; i < self->keys->len; i++)
    {
      const KeyEntry *e = g_ptr_array_index (self->keys, i);

      if (!e->working && e->usage[0] == 'K' && (master == NULL || e->slot < master->slot))
        master = e;
    }
  if (master == NULL)
    return refuse (out_status, PP_STATUS_REFUSED, PP_TERMSIM_REASON_STATE,
                   "This terminal holds no master key (K0/K1) to receive working keys under");
  aad = key_aad (self, master->slot, master->header);
  tmk = pp_termsim_unseal (self->storage_key, master->sealed, aad, &error);
  if (tmk == NULL)
    return refuse_error (out_status, error, "Master key");
  /* The MAC of each block is checked under the master key before anything
   * in it is believed; a block for another master key fails here. */
  pin = pp_tr31_unwrap (tmk, pin_block, &pin_header, &error);
  if (pin == NULL)
    return refuse_error (out_status, error, "PIN key block refused");
  mac = pp_tr31_unwrap (tmk, mac_block, &mac_header, &error);
  if (mac == NULL)
    return refuse_error (out_status, error, "MAC key block refused");
  if (!check_working_header (pin_header, TRUE, &error) ||
      !check_working_header (mac_header, FALSE, &error))
    return refuse_error (out_status, error, "Working key refused");
  /* Key separation: one key never serves both PINs and MACs. */
  if (pp_secure_buffer_equal (pin, mac))
    return refuse (out_status, PP_STATUS_REFUSED, PP_TERMSIM_REASON_KEY_BLOCK,
                   "KEY_BLOCK and KEY_BLOCK_MAC hold the same key: PIN and MAC keys must differ");
  pin_hdr = g_strndup (pin_block, pin_header->header_length);
  mac_hdr = g_strndup (mac_block, mac_header->header_length);
  delete_working_keys (self);
  if (!store_key (self, WORKING_PIN_SLOT, pin_hdr, pin, TRUE, &pin_kcv, &error) ||
      !store_key (self, WORKING_MAC_SLOT, mac_hdr, mac, TRUE, &mac_kcv, &error) ||
      !save_state (self, &error))
    {
      delete_working_keys (self);
      return refuse_error (out_status, error, "Working keys");
    }
  r.out = g_byte_array_new ();
  pp_link_tlv_put_text (r.out, PP_TAG_KCV, pin_kcv);
  pp_link_tlv_put_text (r.out, PP_TAG_KCV_MAC, mac_kcv);
  return reply_finish (&r, out_status);
}

static GBytes *
handle_sign_off (PpTermsim *self,
                 guint8    *out_status)
{
  g_autoptr(GError) error = NULL;

  delete_working_keys (self);
  if (!save_state (self, &error))
    return refuse_error (out_status, error, "Sign-off");
  *out_status = PP_STATUS_OK;
  return g_bytes_new (NULL, 0);
}

/* ---- Dispatch ---------------------------------------------------------------- */

GBytes *
pp_termsim_handle (PpTermsim *sim,
                   guint8     command,
                   GBytes    *payload,
                   guint8    *out_status)
{
  PpLinkTlvIndex tlvs;
  g_autoptr(GError) why = NULL;
  const guint8 *data = NULL;
  gsize len = 0;
  GBytes *out = NULL;

  g_return_val_if_fail (sim != NULL && out_status != NULL, NULL);

  if (payload != NULL)
    data = g_bytes_get_data (payload, &len);
  if (!pp_link_tlv_index (data, len, &tlvs, &why))
    return refuse (out_status, PP_STATUS_BAD_PAYLOAD, 0, "%s", why->message);

  g_mutex_lock (&sim->lock);
  switch (command)
    {
    case PP_CMD_IDENTIFY:       out = handle_identify (sim, out_status); break;
    case PP_CMD_GET_CSR:        out = handle_get_csr (sim, out_status); break;
    case PP_CMD_PUT_CERT:       out = handle_put_cert (sim, &tlvs, out_status); break;
    case PP_CMD_GET_CT_KRD:     out = handle_get_ct_krd (sim, out_status); break;
    case PP_CMD_BIND:           out = handle_bind (sim, &tlvs, out_status); break;
    case PP_CMD_GET_RT_KRD:     out = handle_get_rt_krd (sim, out_status); break;
    case PP_CMD_LOAD_KEY:       out = handle_load_key (sim, &tlvs, out_status); break;
    case PP_CMD_REBIND:
    case PP_CMD_UNBIND:         out = handle_rebind_unbind (sim, command, &tlvs, out_status); break;
    case PP_CMD_ZEROIZE:        out = handle_zeroize (sim, out_status); break;
    case PP_CMD_PROGRAM_BEGIN:  out = handle_program_begin (sim, &tlvs, out_status); break;
    case PP_CMD_PROGRAM_BLOCK:  out = handle_program_block (sim, &tlvs, out_status); break;
    case PP_CMD_PROGRAM_COMMIT: out = handle_program_commit (sim, &tlvs, out_status); break;
    case PP_CMD_STATUS:         out = handle_status (sim, out_status); break;
    case PP_CMD_SIGN_ON:        out = handle_sign_on (sim, &tlvs, out_status); break;
    case PP_CMD_SIGN_OFF:       out = handle_sign_off (sim, out_status); break;
    default:
      out = refuse (out_status, PP_STATUS_UNKNOWN_COMMAND, 0, "Unknown command 0x%02X", command);
      break;
    }
  g_mutex_unlock (&sim->lock);
  return out;
}

/* ---- show ------------------------------------------------------------------ */

JsonNode *
pp_termsim_describe (PpTermsim *sim)
{
  g_autoptr(JsonBuilder) b = json_builder_new ();

  g_return_val_if_fail (sim != NULL, NULL);

  g_mutex_lock (&sim->lock);
  json_builder_begin_object (b);
  json_builder_set_member_name (b, "serial");
  json_builder_add_string_value (b, sim->serial);
  json_builder_set_member_name (b, "vendor");
  json_builder_add_string_value (b, sim->vendor);
  json_builder_set_member_name (b, "model");
  json_builder_add_string_value (b, sim->model);
  json_builder_set_member_name (b, "firmware");
  json_builder_add_string_value (b, sim->firmware);
  json_builder_set_member_name (b, "certificate");
  if (sim->cert != NULL)
    {
      g_autofree char *subject = name_to_string (X509_get_subject_name (sim->cert));
      g_autofree char *issuer = name_to_string (X509_get_issuer_name (sim->cert));
      g_autofree char *from = asn1_time_to_string (X509_get0_notBefore (sim->cert));
      g_autofree char *to = asn1_time_to_string (X509_get0_notAfter (sim->cert));

      json_builder_begin_object (b);
      json_builder_set_member_name (b, "subject");
      json_builder_add_string_value (b, subject);
      json_builder_set_member_name (b, "issuer");
      json_builder_add_string_value (b, issuer);
      json_builder_set_member_name (b, "not_before");
      json_builder_add_string_value (b, from);
      json_builder_set_member_name (b, "not_after");
      json_builder_add_string_value (b, to);
      json_builder_end_object (b);
    }
  else
    json_builder_add_null_value (b);
  json_builder_set_member_name (b, "csr");
  json_builder_add_boolean_value (b, sim->csr != NULL);
  json_builder_set_member_name (b, "bound_kdh");
  if (sim->kdh != NULL)
    {
      g_autofree char *subject = name_to_string (X509_get_subject_name (sim->kdh));

      json_builder_add_string_value (b, subject);
    }
  else
    json_builder_add_null_value (b);
  json_builder_set_member_name (b, "tamper");
  json_builder_add_boolean_value (b, sim->tamper);
  json_builder_set_member_name (b, "program");
  if (sim->program_name != NULL)
    {
      json_builder_begin_object (b);
      json_builder_set_member_name (b, "name");
      json_builder_add_string_value (b, sim->program_name);
      json_builder_set_member_name (b, "version");
      json_builder_add_string_value (b, sim->program_version);
      json_builder_end_object (b);
    }
  else
    json_builder_add_null_value (b);
  add_programs (b, sim->programs);
  /* What the last transfer took: a resumed push re-sends at most a window. */
  json_builder_set_member_name (b, "program_transfer");
  if (sim->pending_name != NULL)
    {
      json_builder_begin_object (b);
      json_builder_set_member_name (b, "name");
      json_builder_add_string_value (b, sim->pending_name);
      json_builder_set_member_name (b, "version");
      json_builder_add_string_value (b, sim->pending_version);
      json_builder_set_member_name (b, "size");
      json_builder_add_int_value (b, (gint64) sim->pending_size);
      json_builder_set_member_name (b, "held");
      json_builder_add_int_value (b, (gint64) MIN (pending_held (sim), sim->pending_size));
      json_builder_set_member_name (b, "received");
      json_builder_add_int_value (b, (gint64) sim->pending_received);
      json_builder_set_member_name (b, "resumes");
      json_builder_add_int_value (b, sim->pending_resumes);
      json_builder_set_member_name (b, "installed");
      json_builder_add_boolean_value (b, FALSE);
      json_builder_end_object (b);
    }
  else if (sim->last_transfer != NULL)
    {
      g_autoptr(JsonNode) copy = json_node_copy (sim->last_transfer);

      json_object_set_boolean_member (json_node_get_object (copy), "installed", TRUE);
      json_builder_add_value (b, g_steal_pointer (&copy));
    }
  else
    json_builder_add_null_value (b);
  json_builder_set_member_name (b, "keys");
  json_builder_begin_array (b);
  for (guint i = 0; i < sim->keys->len; i++)
    json_builder_add_value (b, key_entry_to_json (g_ptr_array_index (sim->keys, i), FALSE));
  json_builder_end_array (b);
  json_builder_end_object (b);
  g_mutex_unlock (&sim->lock);
  return json_builder_get_root (b);
}
