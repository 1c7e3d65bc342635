/* SPDX-License-Identifier: GPL-3.0-or-later
 *
 * pp-program-package.c: parse, check, verify and write program packages
 * (docs/program-package.md). The manifest is JSON in one canonical form:
 * parse rebuilds it from the values it read and requires the same bytes,
 * so a signed manifest has exactly one meaning (no duplicate members,
 * reordered fields or odd escapes for a verifier to read differently).
 */
#include "config.h"

#include <inttypes.h>
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include <glib/gi18n-lib.h>
#include <glib/gstdio.h>
#include <json-glib/json-glib.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/x509v3.h>

#include "pp-openssl-types.h"
#include "pp-program-package.h"

G_DEFINE_QUARK (pp-program-error-quark, pp_program_error)

#define NAME_MAX_LEN     64
#define VERSION_MAX_LEN  32
#define MODEL_MAX_LEN    32
#define FILE_NAME_MAX    128
#define HEADER_MAX       (PP_PROGRAM_MAGIC_LEN + 12 + PP_PROGRAM_MANIFEST_MAX + \
                          PP_PROGRAM_SIGNATURE_MAX + PP_PROGRAM_CERT_MAX)

/* ---- kinds ------------------------------------------------------------------ */

static const char * const kind_names[] = { NULL, "signature-file", "manager", "payment-app" };

const char *
pp_program_kind_to_string (PpProgramKind kind)
{
  g_return_val_if_fail (kind >= PP_PROGRAM_KIND_SIGNATURE_FILE && kind <= PP_PROGRAM_KIND_PAYMENT_APP, NULL);
  return kind_names[kind];
}

gboolean
pp_program_kind_from_string (const char    *text,
                             PpProgramKind *out_kind)
{
  for (guint i = PP_PROGRAM_KIND_SIGNATURE_FILE; i <= PP_PROGRAM_KIND_PAYMENT_APP; i++)
    if (g_strcmp0 (text, kind_names[i]) == 0)
      {
        *out_kind = (PpProgramKind) i;
        return TRUE;
      }
  return FALSE;
}

const char *
pp_program_kind_describe (PpProgramKind kind)
{
  switch (kind)
    {
    case PP_PROGRAM_KIND_SIGNATURE_FILE: return _("signature file");
    case PP_PROGRAM_KIND_MANAGER:        return _("manager");
    case PP_PROGRAM_KIND_PAYMENT_APP:    return _("payment app");
    default:                             return "?";
    }
}

/* ---- the manifest ------------------------------------------------------------ */

typedef struct {
  char    *name;
  guint64  size;
  guint8   sha256[32];
} ManifestFile;

struct _PpProgramManifest {
  char          *name;
  char          *version;
  PpProgramKind  kind;
  GStrv          models;
  guint          n_files;
  ManifestFile  *files;
  guint64        payload_size;
};

void
pp_program_manifest_free (PpProgramManifest *manifest)
{
  if (manifest == NULL)
    return;
  g_free (manifest->name);
  g_free (manifest->version);
  g_strfreev (manifest->models);
  for (guint i = 0; i < manifest->n_files; i++)
    g_free (manifest->files[i].name);
  g_free (manifest->files);
  g_free (manifest);
}

static gboolean
text_ok (const char *text,
         gsize       max_len,
         const char *extra)
{
  gsize len;

  if (text == NULL || (len = strlen (text)) == 0 || len > max_len || text[0] == '.')
    return FALSE;
  for (const char *p = text; *p != '\0'; p++)
    if (!g_ascii_isalnum (*p) && strchr (extra, *p) == NULL)
      return FALSE;
  return TRUE;
}

static gboolean
manifest_error (GError    **error,
                const char *format,
                ...) G_GNUC_PRINTF (2, 3);

static gboolean
manifest_error (GError    **error,
                const char *format,
                ...)
{
  g_autofree char *what = NULL;
  va_list args;

  va_start (args, format);
  what = g_strdup_vprintf (format, args);
  va_end (args);
  g_set_error (error, PP_PROGRAM_ERROR, PP_PROGRAM_ERROR_MANIFEST, _("Bad program manifest: %s"), what);
  return FALSE;
}

/* The checks build and parse share. */
static gboolean
check_values (const char          *name,
              const char          *version,
              PpProgramKind        kind,
              const char * const  *models,
              guint                n_files,
              const char * const  *file_names,
              const guint64       *file_sizes,
              GError             **error)
{
  guint64 total = 0;
  guint n_models = models != NULL ? g_strv_length ((char **) models) : 0;

  if (!text_ok (name, NAME_MAX_LEN, "._-"))
    return manifest_error (error, _("the name must be 1 to %d letters, digits, “.”, “_” or “-” (not starting with “.”)"),
                           NAME_MAX_LEN);
  if (!text_ok (version, VERSION_MAX_LEN, "._+-"))
    return manifest_error (error, _("the version must be 1 to %d letters, digits, “.”, “_”, “+” or “-”"),
                           VERSION_MAX_LEN);
  if (kind < PP_PROGRAM_KIND_SIGNATURE_FILE || kind > PP_PROGRAM_KIND_PAYMENT_APP)
    return manifest_error (error, _("the kind must be signature-file, manager or payment-app"));
  if (n_models == 0 || n_models > PP_PROGRAM_MODELS_MAX)
    return manifest_error (error, _("it must name 1 to %d terminal models"), PP_PROGRAM_MODELS_MAX);
  for (guint i = 0; i < n_models; i++)
    {
      if (!text_ok (models[i], MODEL_MAX_LEN, "._+-/ "))
        return manifest_error (error, _("model %u is not 1 to %d letters, digits, spaces, “.”, “_”, “+”, “/” or “-”"),
                               i + 1, MODEL_MAX_LEN);
      for (guint j = 0; j < i; j++)
        if (g_str_equal (models[i], models[j]))
          return manifest_error (error, _("the model “%s” is listed twice"), models[i]);
    }
  if (n_files == 0 || n_files > PP_PROGRAM_FILES_MAX)
    return manifest_error (error, _("it must list 1 to %d files"), PP_PROGRAM_FILES_MAX);
  for (guint i = 0; i < n_files; i++)
    {
      if (!text_ok (file_names[i], FILE_NAME_MAX, "._-"))
        return manifest_error (error, _("file %u: the name must be 1 to %d letters, digits, “.”, “_” or “-” (no folders, not starting with “.”)"),
                               i + 1, FILE_NAME_MAX);
      for (guint j = 0; j < i; j++)
        if (g_str_equal (file_names[i], file_names[j]))
          return manifest_error (error, _("the file “%s” is listed twice"), file_names[i]);
      if (file_sizes[i] > PP_PROGRAM_PAYLOAD_MAX - total)
        {
          g_set_error (error, PP_PROGRAM_ERROR, PP_PROGRAM_ERROR_OVERSIZE,
                       _("The program's files are larger than %" PRIu64 " bytes in all"),
                       PP_PROGRAM_PAYLOAD_MAX);
          return FALSE;
        }
      total += file_sizes[i];
    }
  return TRUE;
}

GBytes *
pp_program_manifest_build (const char           *name,
                           const char           *version,
                           PpProgramKind         kind,
                           const char * const   *models,
                           guint                 n_files,
                           const char * const   *file_names,
                           const guint64        *file_sizes,
                           const guint8 * const *file_sha256,
                           GError              **error)
{
  g_autoptr(JsonBuilder) b = NULL;
  g_autoptr(JsonGenerator) gen = NULL;
  g_autoptr(JsonNode) root = NULL;
  char *text;
  gsize len = 0;

  if (!check_values (name, version, kind, models, n_files, file_names, file_sizes, error))
    return NULL;
  b = json_builder_new ();
  json_builder_begin_object (b);
  json_builder_set_member_name (b, "format");
  json_builder_add_int_value (b, 1);
  json_builder_set_member_name (b, "name");
  json_builder_add_string_value (b, name);
  json_builder_set_member_name (b, "version");
  json_builder_add_string_value (b, version);
  json_builder_set_member_name (b, "kind");
  json_builder_add_string_value (b, kind_names[kind]);
  json_builder_set_member_name (b, "models");
  json_builder_begin_array (b);
  for (guint i = 0; models[i] != NULL; i++)
    json_builder_add_string_value (b, models[i]);
  json_builder_end_array (b);
  json_builder_set_member_name (b, "files");
  json_builder_begin_array (b);
  for (guint i = 0; i < n_files; i++)
    {
      g_autofree char *hex = NULL;
      GString *s = g_string_sized_new (64);

      for (guint k = 0; k < 32; k++)
        g_string_append_printf (s, "%02x", file_sha256[i][k]);
      hex = g_string_free (s, FALSE);
      json_builder_begin_object (b);
      json_builder_set_member_name (b, "name");
      json_builder_add_string_value (b, file_names[i]);
      json_builder_set_member_name (b, "size");
      json_builder_add_int_value (b, (gint64) file_sizes[i]);
      json_builder_set_member_name (b, "sha256");
      json_builder_add_string_value (b, hex);
      json_builder_end_object (b);
    }
  json_builder_end_array (b);
  json_builder_end_object (b);
  root = json_builder_get_root (b);
  gen = json_generator_new ();
  json_generator_set_root (gen, root);
  text = json_generator_to_data (gen, &len);
  if (len > PP_PROGRAM_MANIFEST_MAX)
    {
      g_free (text);
      g_set_error (error, PP_PROGRAM_ERROR, PP_PROGRAM_ERROR_OVERSIZE,
                   _("The program manifest would be larger than %d bytes: fewer files or models"),
                   PP_PROGRAM_MANIFEST_MAX);
      return NULL;
    }
  return g_bytes_new_take (text, len);
}

static gboolean
only_members (JsonObject         *o,
              const char * const *allowed,
              const char         *where,
              GError            **error)
{
  g_autoptr(GList) members = json_object_get_members (o);

  for (GList *l = members; l != NULL; l = l->next)
    if (!g_strv_contains (allowed, l->data))
      return manifest_error (error, _("unknown field “%s” in %s"), (const char *) l->data, where);
  for (guint i = 0; allowed[i] != NULL; i++)
    if (!json_object_has_member (o, allowed[i]))
      return manifest_error (error, _("the field “%s” is missing in %s"), allowed[i], where);
  return TRUE;
}

static const char *
member_string (JsonObject  *o,
               const char  *member,
               GError     **error)
{
  JsonNode *n = json_object_get_member (o, member);

  if (!JSON_NODE_HOLDS_VALUE (n) || json_node_get_value_type (n) != G_TYPE_STRING)
    {
      manifest_error (error, _("“%s” must be a string"), member);
      return NULL;
    }
  return json_node_get_string (n);
}

static gboolean
member_int (JsonObject  *o,
            const char  *member,
            gint64      *out,
            GError     **error)
{
  JsonNode *n = json_object_get_member (o, member);

  if (!JSON_NODE_HOLDS_VALUE (n) || json_node_get_value_type (n) != G_TYPE_INT64)
    return manifest_error (error, _("“%s” must be a whole number"), member);
  *out = json_node_get_int (n);
  return TRUE;
}

static gboolean
parse_hex32 (const char *hex,
             guint8     *out)
{
  if (hex == NULL || strlen (hex) != 64)
    return FALSE;
  for (guint i = 0; i < 32; i++)
    {
      int hi = g_ascii_xdigit_value (hex[2 * i]), lo = g_ascii_xdigit_value (hex[2 * i + 1]);

      if (hi < 0 || lo < 0 || g_ascii_isupper (hex[2 * i]) || g_ascii_isupper (hex[2 * i + 1]))
        return FALSE;
      out[i] = (guint8) (hi << 4 | lo);
    }
  return TRUE;
}

PpProgramManifest *
pp_program_manifest_parse (const guint8  *data,
                           gsize          len,
                           GError       **error)
{
  static const char * const top[] = { "format", "name", "version", "kind", "models", "files", NULL };
  static const char * const file_members[] = { "name", "size", "sha256", NULL };
  g_autoptr(PpProgramManifest) m = NULL;
  g_autoptr(JsonParser) parser = NULL;
  g_autoptr(GError) local = NULL;
  g_autoptr(GBytes) canonical = NULL;
  g_autoptr(GPtrArray) names = NULL;
  g_autofree guint64 *sizes = NULL;
  g_autofree const guint8 **sums = NULL;
  const char *kind = NULL;
  JsonObject *root;
  JsonNode *node;
  JsonArray *models, *files;
  gint64 format = 0;

  g_return_val_if_fail (data != NULL || len == 0, NULL);

  if (len == 0)
    return manifest_error (error, _("it is empty")), NULL;
  if (len > PP_PROGRAM_MANIFEST_MAX)
    {
      g_set_error (error, PP_PROGRAM_ERROR, PP_PROGRAM_ERROR_OVERSIZE,
                   _("The program manifest is larger than %d bytes"), PP_PROGRAM_MANIFEST_MAX);
      return NULL;
    }
  if (memchr (data, '\0', len) != NULL || !g_utf8_validate ((const char *) data, (gssize) len, NULL))
    return manifest_error (error, _("it is not UTF-8 text")), NULL;
  parser = json_parser_new ();
  if (!json_parser_load_from_data (parser, (const char *) data, (gssize) len, &local))
    return manifest_error (error, _("it is not JSON (%s)"), local->message), NULL;
  node = json_parser_get_root (parser);
  if (!JSON_NODE_HOLDS_OBJECT (node))
    return manifest_error (error, _("it is not a JSON object")), NULL;
  root = json_node_get_object (node);
  if (!only_members (root, top, _("the manifest"), error))
    return NULL;
  if (!member_int (root, "format", &format, error))
    return NULL;
  if (format != 1)
    {
      g_set_error (error, PP_PROGRAM_ERROR, PP_PROGRAM_ERROR_FORMAT,
                   _("The program manifest is of format %" PRId64 ", this station reads format 1"),
                   format);
      return NULL;
    }
  m = g_new0 (PpProgramManifest, 1);
  {
    const char *name = member_string (root, "name", error);
    const char *version = name != NULL ? member_string (root, "version", error) : NULL;

    if (version == NULL || (kind = member_string (root, "kind", error)) == NULL)
      return NULL;
    m->name = g_strdup (name);
    m->version = g_strdup (version);
  }
  if (!pp_program_kind_from_string (kind, &m->kind))
    return manifest_error (error, _("the kind “%s” is not signature-file, manager or payment-app"), kind), NULL;
  node = json_object_get_member (root, "models");
  if (!JSON_NODE_HOLDS_ARRAY (node))
    return manifest_error (error, _("“%s” must be an array"), "models"), NULL;
  models = json_node_get_array (node);
  if (json_array_get_length (models) > PP_PROGRAM_MODELS_MAX)
    return manifest_error (error, _("it must name 1 to %d terminal models"), PP_PROGRAM_MODELS_MAX), NULL;
  m->models = g_new0 (char *, json_array_get_length (models) + 1);
  for (guint i = 0; i < json_array_get_length (models); i++)
    {
      JsonNode *e = json_array_get_element (models, i);

      if (!JSON_NODE_HOLDS_VALUE (e) || json_node_get_value_type (e) != G_TYPE_STRING)
        return manifest_error (error, _("model %u is not a string"), i + 1), NULL;
      m->models[i] = g_strdup (json_node_get_string (e));
    }
  node = json_object_get_member (root, "files");
  if (!JSON_NODE_HOLDS_ARRAY (node))
    return manifest_error (error, _("“%s” must be an array"), "files"), NULL;
  files = json_node_get_array (node);
  if (json_array_get_length (files) > PP_PROGRAM_FILES_MAX)
    return manifest_error (error, _("it must list 1 to %d files"), PP_PROGRAM_FILES_MAX), NULL;
  m->n_files = json_array_get_length (files);
  m->files = g_new0 (ManifestFile, m->n_files);
  names = g_ptr_array_new ();
  sizes = g_new0 (guint64, m->n_files + 1);
  sums = g_new0 (const guint8 *, m->n_files + 1);
  for (guint i = 0; i < m->n_files; i++)
    {
      JsonNode *e = json_array_get_element (files, i);
      g_autofree char *where = g_strdup_printf (_("file %u"), i + 1);
      JsonObject *f;
      const char *fname, *hex;
      gint64 size = 0;

      if (!JSON_NODE_HOLDS_OBJECT (e))
        return manifest_error (error, _("%s is not an object"), where), NULL;
      f = json_node_get_object (e);
      if (!only_members (f, file_members, where, error) ||
          (fname = member_string (f, "name", error)) == NULL ||
          !member_int (f, "size", &size, error) ||
          (hex = member_string (f, "sha256", error)) == NULL)
        return NULL;
      if (size < 0)
        return manifest_error (error, _("%s: the size is negative"), where), NULL;
      if (!parse_hex32 (hex, m->files[i].sha256))
        return manifest_error (error, _("%s: the SHA-256 is not 64 lower-case hex digits"), where), NULL;
      m->files[i].name = g_strdup (fname);
      m->files[i].size = (guint64) size;
      g_ptr_array_add (names, m->files[i].name);
      sizes[i] = m->files[i].size;
      sums[i] = m->files[i].sha256;
    }
  g_ptr_array_add (names, NULL);
  canonical = pp_program_manifest_build (m->name, m->version, m->kind, (const char * const *) m->models,
                                         m->n_files, (const char * const *) names->pdata, sizes, sums, error);
  if (canonical == NULL)
    return NULL;
  if (g_bytes_get_size (canonical) != len || memcmp (g_bytes_get_data (canonical, NULL), data, len) != 0)
    return manifest_error (error, _("it is not in the canonical form posprov-tool program pack writes "
                                    "(member order, spacing, escapes or a repeated member)")), NULL;
  for (guint i = 0; i < m->n_files; i++)
    m->payload_size += m->files[i].size;
  return g_steal_pointer (&m);
}

const char *
pp_program_manifest_get_name (const PpProgramManifest *manifest)
{
  return manifest->name;
}

const char *
pp_program_manifest_get_version (const PpProgramManifest *manifest)
{
  return manifest->version;
}

PpProgramKind
pp_program_manifest_get_kind (const PpProgramManifest *manifest)
{
  return manifest->kind;
}

const char * const *
pp_program_manifest_get_models (const PpProgramManifest *manifest)
{
  return (const char * const *) manifest->models;
}

gboolean
pp_program_manifest_has_model (const PpProgramManifest *manifest,
                               const char              *model)
{
  return model != NULL && g_strv_contains ((const char * const *) manifest->models, model);
}

guint
pp_program_manifest_get_n_files (const PpProgramManifest *manifest)
{
  return manifest->n_files;
}

const char *
pp_program_manifest_get_file (const PpProgramManifest  *manifest,
                              guint                     index,
                              guint64                  *out_size,
                              const guint8            **out_sha256)
{
  g_return_val_if_fail (index < manifest->n_files, NULL);
  if (out_size != NULL)
    *out_size = manifest->files[index].size;
  if (out_sha256 != NULL)
    *out_sha256 = manifest->files[index].sha256;
  return manifest->files[index].name;
}

guint64
pp_program_manifest_get_payload_size (const PpProgramManifest *manifest)
{
  return manifest->payload_size;
}

static void
sha256 (const guint8 *data,
        gsize         len,
        guint8       *out)
{
  gsize n = 32;
  g_autoptr(GChecksum) sum = g_checksum_new (G_CHECKSUM_SHA256);

  /* GChecksum takes gssize: feed very large inputs in pieces. */
  while (len > 0)
    {
      gsize piece = MIN (len, (gsize) G_MAXINT32);

      g_checksum_update (sum, data, (gssize) piece);
      data += piece;
      len -= piece;
    }
  g_checksum_get_digest (sum, out, &n);
}

gboolean
pp_program_manifest_check_payload (const PpProgramManifest  *manifest,
                                   const guint8             *payload,
                                   gsize                     len,
                                   GError                  **error)
{
  guint64 offset = 0;

  g_return_val_if_fail (manifest != NULL, FALSE);
  if ((guint64) len != manifest->payload_size)
    {
      g_set_error (error, PP_PROGRAM_ERROR, PP_PROGRAM_ERROR_INTEGRITY,
                   _("The program's files are %" PRIu64 " bytes, the manifest says %" PRIu64),
                   (guint64) len, manifest->payload_size);
      return FALSE;
    }
  for (guint i = 0; i < manifest->n_files; i++)
    {
      guint8 digest[32];

      sha256 (payload + offset, (gsize) manifest->files[i].size, digest);
      if (CRYPTO_memcmp (digest, manifest->files[i].sha256, 32) != 0)
        {
          g_set_error (error, PP_PROGRAM_ERROR, PP_PROGRAM_ERROR_INTEGRITY,
                       _("The file “%s” of the program is damaged or was changed: its SHA-256 differs from the manifest's"),
                       manifest->files[i].name);
          return FALSE;
        }
      offset += manifest->files[i].size;
    }
  return TRUE;
}

gboolean
pp_program_manifest_check_model (const PpProgramManifest  *manifest,
                                 const char               *model,
                                 GError                  **error)
{
  g_autofree char *list = NULL;

  if (pp_program_manifest_has_model (manifest, model))
    return TRUE;
  list = g_strjoinv (", ", manifest->models);
  g_set_error (error, PP_PROGRAM_ERROR, PP_PROGRAM_ERROR_WRONG_MODEL,
               _("The program %s %s is for the models %s, not for this terminal's model %s"),
               manifest->name, manifest->version, list, model != NULL ? model : "?");
  return FALSE;
}

gboolean
pp_program_check_order (PpProgramKind   kind,
                        const char     *name,
                        guint           installed_kinds,
                        GError        **error)
{
  for (guint k = PP_PROGRAM_KIND_SIGNATURE_FILE; k < (guint) kind; k++)
    if ((installed_kinds & (1u << k)) == 0)
      {
        g_set_error (error, PP_PROGRAM_ERROR, PP_PROGRAM_ERROR_WRONG_ORDER,
                     _("“%s” is a %s and needs the %s installed first: programs go in order: "
                       "signature file, manager, payment apps"),
                     name, pp_program_kind_describe (kind), pp_program_kind_describe ((PpProgramKind) k));
        return FALSE;
      }
  return TRUE;
}

/* ---- signature --------------------------------------------------------------- */

static char *
subject_of (X509 *cert)
{
  g_autoptr(BIO) bio = BIO_new (BIO_s_mem ());
  char *data = NULL;
  long n;

  X509_NAME_print_ex (bio, X509_get_subject_name (cert), 0, XN_FLAG_RFC2253);
  n = BIO_get_mem_data (bio, &data);
  return g_strndup (data, (gsize) MAX (n, 0));
}

static char *
asn1_time_text (const ASN1_TIME *t)
{
  struct tm tm;

  if (t == NULL || ASN1_TIME_to_tm (t, &tm) != 1)
    return g_strdup ("?");
  return g_strdup_printf ("%04d-%02d-%02d %02d:%02d:%02d UTC", tm.tm_year + 1900, tm.tm_mon + 1,
                          tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
}

static char *
unix_time_text (gint64 t)
{
  g_autoptr(GDateTime) dt = g_date_time_new_from_unix_utc (t);

  return dt != NULL ? g_date_time_format (dt, "%Y-%m-%d %H:%M:%S UTC") : g_strdup ("?");
}

static X509 *
parse_cert (GBytes  *der,
            GError **error)
{
  gsize len = 0;
  const guint8 *p = g_bytes_get_data (der, &len);
  const guint8 *start = p;
  X509 *cert;

  if (len == 0 || len > PP_PROGRAM_CERT_MAX ||
      (cert = d2i_X509 (NULL, &p, (long) len)) == NULL)
    {
      g_set_error (error, PP_PROGRAM_ERROR, PP_PROGRAM_ERROR_FORMAT,
                   _("The program's signer certificate is not a DER X.509 certificate"));
      return NULL;
    }
  if ((gsize) (p - start) != len)
    {
      X509_free (cert);
      g_set_error (error, PP_PROGRAM_ERROR, PP_PROGRAM_ERROR_FORMAT,
                   _("The program's signer certificate is followed by stray bytes"));
      return NULL;
    }
  return cert;
}

/* The signature alone, with the certificate's key. */
static gboolean
check_signature (GBytes  *manifest,
                 GBytes  *signature,
                 X509    *cert,
                 GError **error)
{
  g_autoptr(EVP_MD_CTX) ctx = EVP_MD_CTX_new ();
  g_autofree char *subject = subject_of (cert);
  EVP_PKEY *pub = X509_get0_pubkey (cert);
  gsize mlen = 0, slen = 0;
  const guint8 *m = g_bytes_get_data (manifest, &mlen);
  const guint8 *s = g_bytes_get_data (signature, &slen);

  if (pub == NULL || ctx == NULL || slen == 0 || slen > PP_PROGRAM_SIGNATURE_MAX ||
      EVP_DigestVerifyInit (ctx, NULL, EVP_sha256 (), NULL, pub) != 1 ||
      EVP_DigestVerify (ctx, s, slen, m, mlen) != 1)
    {
      ERR_clear_error ();
      g_set_error (error, PP_PROGRAM_ERROR, PP_PROGRAM_ERROR_SIGNATURE,
                   _("The program's signature does not verify with the key of its signer “%s”: "
                     "the manifest was changed or signed by another key"), subject);
      return FALSE;
    }
  return TRUE;
}

gboolean
pp_program_verify_signature (GBytes     *manifest,
                             GBytes     *signature,
                             GBytes     *cert_der,
                             GPtrArray  *trust,
                             gint64      at_time,
                             GError    **error)
{
  g_autoptr(X509) cert = NULL;
  g_autoptr(X509_STORE) store = NULL;
  g_autoptr(X509_STORE_CTX) ctx = NULL;
  g_autofree char *subject = NULL;
  uint32_t usage;
  int err;

  g_return_val_if_fail (manifest != NULL && signature != NULL && cert_der != NULL, FALSE);

  if ((cert = parse_cert (cert_der, error)) == NULL ||
      !check_signature (manifest, signature, cert, error))
    return FALSE;
  subject = subject_of (cert);
  if (trust == NULL || trust->len == 0)
    {
      g_set_error (error, PP_PROGRAM_ERROR, PP_PROGRAM_ERROR_UNTRUSTED_SIGNER,
                   _("The program's signer “%s” is not trusted: no program-signing certificate is trusted here"),
                   subject);
      return FALSE;
    }
  usage = X509_get_key_usage (cert);
  if (usage != UINT32_MAX && (usage & KU_DIGITAL_SIGNATURE) == 0)
    {
      g_set_error (error, PP_PROGRAM_ERROR, PP_PROGRAM_ERROR_UNTRUSTED_SIGNER,
                   _("The program's signer certificate “%s” is not for signatures (key usage)"), subject);
      return FALSE;
    }
  usage = X509_get_extended_key_usage (cert);
  if (usage != UINT32_MAX && (usage & XKU_CODE_SIGN) == 0)
    {
      g_set_error (error, PP_PROGRAM_ERROR, PP_PROGRAM_ERROR_UNTRUSTED_SIGNER,
                   _("The program's signer certificate “%s” is not for code signing (extended key usage)"),
                   subject);
      return FALSE;
    }
  store = X509_STORE_new ();
  ctx = X509_STORE_CTX_new ();
  for (guint i = 0; i < trust->len; i++)
    X509_STORE_add_cert (store, g_ptr_array_index (trust, i));
  if (X509_STORE_CTX_init (ctx, store, cert, NULL) != 1)
    {
      g_set_error (error, PP_PROGRAM_ERROR, PP_PROGRAM_ERROR_UNTRUSTED_SIGNER, "X509_STORE_CTX_init");
      return FALSE;
    }
  /* A trusted certificate is an anchor even when it is not self-signed:
   * the signer itself or the CA that issues program-signing certificates. */
  X509_STORE_CTX_set_flags (ctx, X509_V_FLAG_PARTIAL_CHAIN | X509_V_FLAG_USE_CHECK_TIME);
  X509_STORE_CTX_set_time (ctx, 0, (time_t) (at_time != 0 ? at_time : g_get_real_time () / G_USEC_PER_SEC));
  if (X509_verify_cert (ctx) == 1)
    return TRUE;
  err = X509_STORE_CTX_get_error (ctx);
  ERR_clear_error ();
  {
    X509 *bad = X509_STORE_CTX_get_current_cert (ctx);
    g_autofree char *bad_subject = bad != NULL ? subject_of (bad) : g_strdup (subject);
    g_autofree char *now = unix_time_text (at_time != 0 ? at_time : g_get_real_time () / G_USEC_PER_SEC);

    if (err == X509_V_ERR_CERT_HAS_EXPIRED)
      {
        g_autofree char *until = asn1_time_text (bad != NULL ? X509_get0_notAfter (bad) : NULL);

        g_set_error (error, PP_PROGRAM_ERROR, PP_PROGRAM_ERROR_SIGNER_EXPIRED,
                     _("The program's signing certificate “%s” expired on %s (check the PC's date: it is %s)"),
                     bad_subject, until, now);
      }
    else if (err == X509_V_ERR_CERT_NOT_YET_VALID)
      {
        g_autofree char *from = asn1_time_text (bad != NULL ? X509_get0_notBefore (bad) : NULL);

        g_set_error (error, PP_PROGRAM_ERROR, PP_PROGRAM_ERROR_SIGNER_NOT_YET_VALID,
                     _("The program's signing certificate “%s” is valid only from %s (check the PC's date: it is %s)"),
                     bad_subject, from, now);
      }
    else
      g_set_error (error, PP_PROGRAM_ERROR, PP_PROGRAM_ERROR_UNTRUSTED_SIGNER,
                   _("The program's signer “%s” is not trusted: %s"), subject,
                   X509_verify_cert_error_string (err));
  }
  return FALSE;
}

/* ---- the package --------------------------------------------------------------- */

struct _PpProgramPackage {
  gatomicrefcount     ref;
  GBytes             *data;
  GBytes             *manifest_bytes, *signature, *cert, *payload;
  PpProgramManifest  *manifest;
  guint8              payload_sha256[32];
};

PpProgramPackage *
pp_program_package_ref (PpProgramPackage *package)
{
  g_return_val_if_fail (package != NULL, NULL);
  g_atomic_ref_count_inc (&package->ref);
  return package;
}

void
pp_program_package_unref (PpProgramPackage *package)
{
  if (package == NULL || !g_atomic_ref_count_dec (&package->ref))
    return;
  g_clear_pointer (&package->data, g_bytes_unref);
  g_clear_pointer (&package->manifest_bytes, g_bytes_unref);
  g_clear_pointer (&package->signature, g_bytes_unref);
  g_clear_pointer (&package->cert, g_bytes_unref);
  g_clear_pointer (&package->payload, g_bytes_unref);
  g_clear_pointer (&package->manifest, pp_program_manifest_free);
  g_free (package);
}

/* One length-prefixed part at *@offset. */
static GBytes *
take_part (GBytes      *data,
           gsize       *offset,
           guint32      max,
           const char  *what,
           GError     **error)
{
  gsize len = 0;
  const guint8 *p = g_bytes_get_data (data, &len);
  guint32 n;

  if (len - *offset < 4)
    {
      g_set_error (error, PP_PROGRAM_ERROR, PP_PROGRAM_ERROR_TRUNCATED,
                   _("The program package is cut off before the length of its %s"), what);
      return NULL;
    }
  n = (guint32) p[*offset] << 24 | (guint32) p[*offset + 1] << 16 | (guint32) p[*offset + 2] << 8 | p[*offset + 3];
  *offset += 4;
  if (n == 0)
    {
      g_set_error (error, PP_PROGRAM_ERROR, PP_PROGRAM_ERROR_FORMAT,
                   _("The program package's %s is empty"), what);
      return NULL;
    }
  if (n > max)
    {
      g_set_error (error, PP_PROGRAM_ERROR, PP_PROGRAM_ERROR_OVERSIZE,
                   _("The program package's %s is %u bytes, more than the %u allowed"), what, n, max);
      return NULL;
    }
  if (len - *offset < n)
    {
      g_set_error (error, PP_PROGRAM_ERROR, PP_PROGRAM_ERROR_TRUNCATED,
                   _("The program package is cut off inside its %s (%zu of %u bytes)"),
                   what, len - *offset, n);
      return NULL;
    }
  *offset += n;
  return g_bytes_new_from_bytes (data, *offset - n, n);
}

PpProgramPackage *
pp_program_package_new_from_bytes (GBytes  *data,
                                   GError **error)
{
  g_autoptr(PpProgramPackage) pkg = NULL;
  g_autoptr(X509) cert = NULL;
  gsize len = 0, offset = PP_PROGRAM_MAGIC_LEN;
  const guint8 *p;
  guint64 want;

  g_return_val_if_fail (data != NULL, NULL);

  p = g_bytes_get_data (data, &len);
  if (len < PP_PROGRAM_MAGIC_LEN)
    {
      if (len > 0 && memcmp (p, PP_PROGRAM_MAGIC, len) == 0)
        g_set_error (error, PP_PROGRAM_ERROR, PP_PROGRAM_ERROR_TRUNCATED,
                     _("The program package is cut off after %zu bytes"), len);
      else
        g_set_error (error, PP_PROGRAM_ERROR, PP_PROGRAM_ERROR_FORMAT,
                     _("This is not a posprov program package (no “PPPROG” header)"));
      return NULL;
    }
  if (memcmp (p, PP_PROGRAM_MAGIC, PP_PROGRAM_MAGIC_LEN) != 0)
    {
      if (memcmp (p, PP_PROGRAM_MAGIC, 6) == 0)
        g_set_error (error, PP_PROGRAM_ERROR, PP_PROGRAM_ERROR_FORMAT,
                     _("The program package is of another format version: this station reads version 1"));
      else
        g_set_error (error, PP_PROGRAM_ERROR, PP_PROGRAM_ERROR_FORMAT,
                     _("This is not a posprov program package (no “PPPROG” header)"));
      return NULL;
    }
  if (len > HEADER_MAX + PP_PROGRAM_PAYLOAD_MAX)
    {
      g_set_error (error, PP_PROGRAM_ERROR, PP_PROGRAM_ERROR_OVERSIZE,
                   _("The program package is larger than a program may be (%" PRIu64 " bytes of files)"),
                   PP_PROGRAM_PAYLOAD_MAX);
      return NULL;
    }
  pkg = g_new0 (PpProgramPackage, 1);
  g_atomic_ref_count_init (&pkg->ref);
  pkg->data = g_bytes_ref (data);
  if ((pkg->manifest_bytes = take_part (data, &offset, PP_PROGRAM_MANIFEST_MAX, _("manifest"), error)) == NULL ||
      (pkg->signature = take_part (data, &offset, PP_PROGRAM_SIGNATURE_MAX, _("signature"), error)) == NULL ||
      (pkg->cert = take_part (data, &offset, PP_PROGRAM_CERT_MAX, _("signer certificate"), error)) == NULL)
    return NULL;
  {
    gsize mlen = 0;
    const guint8 *m = g_bytes_get_data (pkg->manifest_bytes, &mlen);

    if ((pkg->manifest = pp_program_manifest_parse (m, mlen, error)) == NULL)
      return NULL;
  }
  if ((cert = parse_cert (pkg->cert, error)) == NULL)
    return NULL;
  want = pkg->manifest->payload_size;
  if ((guint64) (len - offset) < want)
    {
      g_set_error (error, PP_PROGRAM_ERROR, PP_PROGRAM_ERROR_TRUNCATED,
                   _("The program package is cut off: %" PRIu64 " of the files' %" PRIu64 " bytes are there"),
                   (guint64) (len - offset), want);
      return NULL;
    }
  if ((guint64) (len - offset) > want)
    {
      g_set_error (error, PP_PROGRAM_ERROR, PP_PROGRAM_ERROR_FORMAT,
                   _("The program package has %" PRIu64 " stray bytes after its files"),
                   (guint64) (len - offset) - want);
      return NULL;
    }
  pkg->payload = g_bytes_new_from_bytes (data, offset, len - offset);
  if (!pp_program_manifest_check_payload (pkg->manifest, p + offset, len - offset, error))
    return NULL;
  sha256 (p + offset, len - offset, pkg->payload_sha256);
  return g_steal_pointer (&pkg);
}

PpProgramPackage *
pp_program_package_open (const char  *path,
                         GError     **error)
{
  g_autoptr(GMappedFile) map = NULL;
  g_autoptr(GBytes) bytes = NULL;
  g_autoptr(GError) local = NULL;
  GStatBuf st;

  g_return_val_if_fail (path != NULL, NULL);

  if (g_stat (path, &st) != 0)
    {
      int saved = errno;

      g_set_error (error, PP_PROGRAM_ERROR, PP_PROGRAM_ERROR_IO, _("Cannot read the program package “%s”: %s"),
                   path, g_strerror (saved));
      return NULL;
    }
  if (!S_ISREG (st.st_mode))
    {
      g_set_error (error, PP_PROGRAM_ERROR, PP_PROGRAM_ERROR_IO,
                   _("The program package “%s” is not a regular file"), path);
      return NULL;
    }
  if ((guint64) st.st_size > HEADER_MAX + PP_PROGRAM_PAYLOAD_MAX)
    {
      g_set_error (error, PP_PROGRAM_ERROR, PP_PROGRAM_ERROR_OVERSIZE,
                   _("The program package “%s” is larger than a program may be (%" PRIu64 " bytes of files)"),
                   path, PP_PROGRAM_PAYLOAD_MAX);
      return NULL;
    }
  if (st.st_size == 0)
    bytes = g_bytes_new (NULL, 0);
  else
    {
      if ((map = g_mapped_file_new (path, FALSE, &local)) == NULL)
        {
          g_set_error (error, PP_PROGRAM_ERROR, PP_PROGRAM_ERROR_IO, _("Cannot read the program package “%s”: %s"),
                       path, local->message);
          return NULL;
        }
      bytes = g_mapped_file_get_bytes (map);
    }
  return pp_program_package_new_from_bytes (bytes, error);
}

const PpProgramManifest *
pp_program_package_get_manifest (PpProgramPackage *package)
{
  return package->manifest;
}

GBytes *
pp_program_package_get_manifest_bytes (PpProgramPackage *package)
{
  return package->manifest_bytes;
}

GBytes *
pp_program_package_get_signature (PpProgramPackage *package)
{
  return package->signature;
}

GBytes *
pp_program_package_get_certificate (PpProgramPackage *package)
{
  return package->cert;
}

GBytes *
pp_program_package_get_payload (PpProgramPackage *package)
{
  return package->payload;
}

const guint8 *
pp_program_package_get_payload_sha256 (PpProgramPackage *package)
{
  return package->payload_sha256;
}

gboolean
pp_program_package_verify (PpProgramPackage  *package,
                           GPtrArray         *trust,
                           gint64             at_time,
                           GError           **error)
{
  g_return_val_if_fail (package != NULL, FALSE);
  return pp_program_verify_signature (package->manifest_bytes, package->signature, package->cert,
                                      trust, at_time, error);
}

/* ---- writing ------------------------------------------------------------------ */

static gboolean
write_all (int           fd,
           const void   *data,
           gsize         len,
           const char   *path,
           GError      **error)
{
  const guint8 *p = data;

  while (len > 0)
    {
      ssize_t n = write (fd, p, len);

      if (n < 0 && errno == EINTR)
        continue;
      if (n <= 0)
        {
          int saved = errno;

          g_set_error (error, PP_PROGRAM_ERROR, PP_PROGRAM_ERROR_IO, _("Cannot write “%s”: %s"),
                       path, g_strerror (saved));
          return FALSE;
        }
      p += n;
      len -= (gsize) n;
    }
  return TRUE;
}

static gboolean
write_part (int          fd,
            GBytes      *part,
            const char  *path,
            GError     **error)
{
  gsize len = 0;
  const guint8 *p = g_bytes_get_data (part, &len);
  guint8 be[4] = { (guint8) (len >> 24), (guint8) (len >> 16), (guint8) (len >> 8), (guint8) len };

  return write_all (fd, be, 4, path, error) && write_all (fd, p, len, path, error);
}

/* Maps one input file, a regular file within the bounds. */
static GMappedFile *
map_input (const char  *path,
           GError     **error)
{
  g_autoptr(GError) local = NULL;
  GMappedFile *map;
  GStatBuf st;

  if (g_stat (path, &st) != 0 || !S_ISREG (st.st_mode))
    {
      g_set_error (error, PP_PROGRAM_ERROR, PP_PROGRAM_ERROR_IO,
                   _("The program file “%s” is not a readable regular file"), path);
      return NULL;
    }
  if ((guint64) st.st_size > PP_PROGRAM_PAYLOAD_MAX)
    {
      g_set_error (error, PP_PROGRAM_ERROR, PP_PROGRAM_ERROR_OVERSIZE,
                   _("The program file “%s” is larger than %" PRIu64 " bytes"), path,
                   PP_PROGRAM_PAYLOAD_MAX);
      return NULL;
    }
  if ((map = g_mapped_file_new (path, FALSE, &local)) == NULL)
    {
      g_set_error (error, PP_PROGRAM_ERROR, PP_PROGRAM_ERROR_IO, _("Cannot read the program file “%s”: %s"),
                   path, local->message);
      return NULL;
    }
  return map;
}

gboolean
pp_program_package_pack (const char          *out_path,
                         const char          *name,
                         const char          *version,
                         PpProgramKind        kind,
                         const char * const  *models,
                         const char * const  *files,
                         GBytes              *cert_der,
                         PpProgramSignFunc    sign,
                         gpointer             sign_data,
                         GError             **error)
{
  g_autoptr(GPtrArray) maps = g_ptr_array_new_with_free_func ((GDestroyNotify) g_mapped_file_unref);
  g_autoptr(GPtrArray) names = g_ptr_array_new_with_free_func (g_free);
  g_autofree guint64 *sizes = NULL;
  g_autofree guint8 *sums = NULL;
  g_autofree const guint8 **sum_ptrs = NULL;
  g_autoptr(GBytes) manifest = NULL;
  g_autoptr(GBytes) signature = NULL;
  g_autoptr(X509) cert = NULL;
  g_autofree char *tmp = NULL;
  guint n_files;
  int fd;

  g_return_val_if_fail (out_path != NULL && files != NULL && cert_der != NULL && sign != NULL, FALSE);

  n_files = g_strv_length ((char **) files);
  if (n_files == 0 || n_files > PP_PROGRAM_FILES_MAX)
    return manifest_error (error, _("it must list 1 to %d files"), PP_PROGRAM_FILES_MAX);
  sizes = g_new0 (guint64, n_files);
  sums = g_new0 (guint8, 32 * n_files);
  sum_ptrs = g_new0 (const guint8 *, n_files);
  for (guint i = 0; i < n_files; i++)
    {
      GMappedFile *map = map_input (files[i], error);

      if (map == NULL)
        return FALSE;
      g_ptr_array_add (maps, map);
      g_ptr_array_add (names, g_path_get_basename (files[i]));
      sizes[i] = g_mapped_file_get_length (map);
      sha256 ((const guint8 *) g_mapped_file_get_contents (map), (gsize) sizes[i], sums + 32 * i);
      sum_ptrs[i] = sums + 32 * i;
    }
  g_ptr_array_add (names, NULL);
  manifest = pp_program_manifest_build (name, version, kind, models, n_files,
                                        (const char * const *) names->pdata, sizes, sum_ptrs, error);
  if (manifest == NULL || (cert = parse_cert (cert_der, error)) == NULL)
    return FALSE;
  if (!sign (sign_data, g_bytes_get_data (manifest, NULL), g_bytes_get_size (manifest), &signature, error))
    return FALSE;
  if (g_bytes_get_size (signature) > PP_PROGRAM_SIGNATURE_MAX)
    {
      g_set_error (error, PP_PROGRAM_ERROR, PP_PROGRAM_ERROR_OVERSIZE,
                   _("The signature is larger than %d bytes"), PP_PROGRAM_SIGNATURE_MAX);
      return FALSE;
    }
  /* The key that signed must be the certificate's: a package a terminal
   * would refuse is not written. */
  if (!check_signature (manifest, signature, cert, error))
    {
      g_prefix_error (error, _("The signing key does not belong to the signing certificate: "));
      return FALSE;
    }

  tmp = g_strdup_printf ("%s.XXXXXX", out_path);
  fd = g_mkstemp_full (tmp, O_RDWR | O_CLOEXEC, 0644);
  if (fd < 0)
    {
      int saved = errno;

      g_set_error (error, PP_PROGRAM_ERROR, PP_PROGRAM_ERROR_IO, _("Cannot write “%s”: %s"),
                   out_path, g_strerror (saved));
      return FALSE;
    }
  if (!write_all (fd, PP_PROGRAM_MAGIC, PP_PROGRAM_MAGIC_LEN, out_path, error) ||
      !write_part (fd, manifest, out_path, error) ||
      !write_part (fd, signature, out_path, error) ||
      !write_part (fd, cert_der, out_path, error))
    goto fail;
  for (guint i = 0; i < n_files; i++)
    {
      GMappedFile *map = g_ptr_array_index (maps, i);
      guint8 again[32];

      /* The bytes written are the bytes hashed (a file changed meanwhile
       * would give a package whose manifest lies). */
      sha256 ((const guint8 *) g_mapped_file_get_contents (map), (gsize) sizes[i], again);
      if (g_mapped_file_get_length (map) != sizes[i] || memcmp (again, sums + 32 * i, 32) != 0)
        {
          g_set_error (error, PP_PROGRAM_ERROR, PP_PROGRAM_ERROR_IO,
                       _("The program file “%s” changed while it was packed"), files[i]);
          goto fail;
        }
      if (!write_all (fd, g_mapped_file_get_contents (map), (gsize) sizes[i], out_path, error))
        goto fail;
    }
  if (fsync (fd) != 0)
    {
      int saved = errno;

      g_set_error (error, PP_PROGRAM_ERROR, PP_PROGRAM_ERROR_IO, _("Cannot write “%s”: %s"),
                   out_path, g_strerror (saved));
      goto fail;
    }
  if (close (fd) != 0 || g_rename (tmp, out_path) != 0)
    {
      int saved = errno;

      fd = -1;
      g_set_error (error, PP_PROGRAM_ERROR, PP_PROGRAM_ERROR_IO, _("Cannot write “%s”: %s"),
                   out_path, g_strerror (saved));
      goto fail;
    }
  return TRUE;

fail:
  if (fd >= 0)
    close (fd);
  g_unlink (tmp);
  return FALSE;
}
