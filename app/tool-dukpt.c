/* SPDX-License-Identifier: GPL-3.0-or-later
 *
 * tool-dukpt.c: posprov-tool dukpt: lab commands that derive TDES DUKPT
 * (ANSI X9.24-1:2009) and AES DUKPT (ANSI X9.24-3:2017) keys from a BDK
 * given in clear, to check a terminal or an HSM against known values.
 */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include <glib/gi18n.h>

#include "pp-dukpt.h"
#include "pp-hex.h"
#include "pp-kcv.h"
#include "pp-secure-buffer.h"

#include "tool-common.h"
#include "tool-commands.h"

typedef struct {
  char     *bdk;
  char     *ksn;
  char     *initial_key_id;
  char     *key_type;
  char     *usage;
  gboolean  json;
} DukptOptions;

static void
dukpt_options_clear (DukptOptions *o)
{
  /* The BDK came in clear on the command line; do not leave this copy. */
  g_clear_pointer (&o->bdk, pp_hex_free_secret);
  g_clear_pointer (&o->ksn, g_free);
  g_clear_pointer (&o->initial_key_id, g_free);
  g_clear_pointer (&o->key_type, g_free);
  g_clear_pointer (&o->usage, g_free);
}

G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (DukptOptions, dukpt_options_clear)

static gboolean
parse_options (int            *argc,
               char         ***argv,
               GOptionEntry   *entries,
               const char     *summary,
               const char     *description)
{
  g_autoptr(GOptionContext) context = g_option_context_new (NULL);

  g_option_context_set_summary (context, summary);
  g_option_context_set_description (context, description);
  g_option_context_add_main_entries (context, entries, GETTEXT_PACKAGE);
  g_option_context_set_translation_domain (context, GETTEXT_PACKAGE);
  if (!pp_tool_parse (context, argc, argv))
    return FALSE;

  if (*argc > 1)
    {
      pp_tool_fail (_("unexpected argument “%s”"), (*argv)[1]);
      return FALSE;
    }

  return TRUE;
}

static PpSecureBuffer *
read_bdk (const char *hex)
{
  g_autoptr(GError) error = NULL;
  PpSecureBuffer *bdk;

  if (hex == NULL)
    {
      pp_tool_fail (_("--bdk is required"));
      return NULL;
    }

  bdk = pp_secure_buffer_new_from_hex (hex, &error);
  if (bdk == NULL)
    pp_tool_fail (_("--bdk: %s"), error->message);

  return bdk;
}

static GBytes *
read_hex (const char *option,
          const char *hex)
{
  g_autoptr(GError) error = NULL;
  GBytes *bytes = pp_hex_decode (hex, &error);

  if (bytes == NULL)
    pp_tool_fail (_("%s: %s"), option, error->message);

  return bytes;
}

static gboolean
read_key_type (const char     *name,
               PpDukptKeyType *out_type)
{
  if (!pp_dukpt_key_type_from_string (name, out_type))
    {
      pp_tool_fail (_("--key-type: unknown key type “%s” (aes128, aes192, aes256, tdes2 or tdes3)"),
                    name);
      return FALSE;
    }

  return TRUE;
}

static PpKeyAlgorithm
algorithm_of (PpDukptKeyType type)
{
  return type == PP_DUKPT_KEY_TYPE_TDES2 || type == PP_DUKPT_KEY_TYPE_TDES3
    ? PP_KEY_ALGORITHM_TDES : PP_KEY_ALGORITHM_AES;
}

/* Prints the key (upper-case hex), or with --json one object with the key,
 * its type, its usage and its check value. */
static int
print_key (const DukptOptions   *o,
           const char           *scheme,
           const char           *usage,
           PpDukptKeyType        type,
           const PpSecureBuffer *key)
{
  char *hex = pp_secure_buffer_to_hex (key);

  if (o->json)
    {
      g_autoptr(JsonBuilder) builder = json_builder_new ();
      g_autoptr(JsonNode) node = NULL;
      g_autoptr(JsonGenerator) gen = json_generator_new ();
      g_autofree char *rest = NULL;
      g_autoptr(GError) error = NULL;
      PpKeyAlgorithm alg = algorithm_of (type);
      g_autofree char *kcv = pp_kcv_compute (alg, key, pp_kcv_default_length (alg), &error);

      if (kcv == NULL)
        {
          pp_hex_free_secret (hex);
          return pp_tool_fail_error (error);
        }

      json_builder_begin_object (builder);
      json_builder_set_member_name (builder, "dukpt");
      json_builder_add_string_value (builder, scheme);
      json_builder_set_member_name (builder, "key_usage");
      json_builder_add_string_value (builder, usage);
      json_builder_set_member_name (builder, "key_type");
      json_builder_add_string_value (builder, pp_dukpt_key_type_to_string (type));
      json_builder_set_member_name (builder, "kcv");
      json_builder_add_string_value (builder, kcv);
      json_builder_end_object (builder);
      node = json_builder_get_root (builder);
      json_generator_set_root (gen, node);
      rest = json_generator_to_data (gen, NULL);
      /* The key goes straight to stdout: a JsonNode's and the generator's
       * copies of it would be freed without being wiped. Hex needs no JSON
       * escaping. */
      printf ("{\"key\":\"%s\",%s\n", hex, rest + 1);
      fflush (stdout);
    }
  else
    {
      printf ("%s\n", hex);
      fflush (stdout);
    }

  pp_hex_free_secret (hex);
  return 0;
}

/* posprov-tool dukpt ipek */

static int
dukpt_ipek (int    argc,
            char **argv)
{
  g_auto(DukptOptions) o = { 0 };
  GOptionEntry entries[] = {
    { "bdk", 0, 0, G_OPTION_ARG_STRING, &o.bdk,
      N_("Base derivation key (TDES: 16 bytes; AES: 16, 24 or 32 bytes)"), N_("HEX") },
    { "ksn", 0, 0, G_OPTION_ARG_STRING, &o.ksn,
      N_("TDES DUKPT: a 10-byte KSN of the device (its counter bits are ignored)"), N_("HEX") },
    { "initial-key-id", 0, 0, G_OPTION_ARG_STRING, &o.initial_key_id,
      N_("AES DUKPT: the 8-byte initial key ID"), N_("HEX") },
    { "key-type", 0, 0, G_OPTION_ARG_STRING, &o.key_type,
      N_("AES DUKPT: type of the initial key, aes128|aes192|aes256 (default: the BDK's)"),
      N_("TYPE") },
    { "json", 0, 0, G_OPTION_ARG_NONE, &o.json,
      N_("Print one JSON object with the key, its type and check value"), NULL },
    { NULL }
  };
  g_autoptr(PpSecureBuffer) bdk = NULL;
  g_autoptr(PpSecureBuffer) key = NULL;
  g_autoptr(GBytes) id = NULL;
  g_autoptr(GError) error = NULL;
  PpDukptKeyType type;

  if (!parse_options (&argc, &argv, entries,
                      _("Derive a DUKPT initial key (IPEK) from a BDK (lab command: keys in clear)."),
                      _("TDES DUKPT (ANSI X9.24-1:2009): --bdk and --ksn.\n"
                        "AES DUKPT (ANSI X9.24-3:2017): --bdk and --initial-key-id; the initial key has\n"
                        "the BDK's type unless --key-type names a weaker AES type. The initial key\n"
                        "derives further keys, so it is always an AES key.\n")))
    return 1;

  if ((o.ksn == NULL) == (o.initial_key_id == NULL))
    return pp_tool_fail (_("give either --ksn (TDES DUKPT) or --initial-key-id (AES DUKPT)"));

  bdk = read_bdk (o.bdk);
  if (bdk == NULL)
    return 1;

  if (o.ksn != NULL)
    {
      if (o.key_type != NULL)
        return pp_tool_fail (_("--key-type is for AES DUKPT (--initial-key-id); a TDES DUKPT IPEK is always tdes2"));
      id = read_hex ("--ksn", o.ksn);
      if (id == NULL)
        return 1;
      key = pp_dukpt_tdes_derive_ipek (bdk, g_bytes_get_data (id, NULL), g_bytes_get_size (id),
                                       &error);
      if (key == NULL)
        return pp_tool_fail_error (error);
      return print_key (&o, "tdes", "ipek", PP_DUKPT_KEY_TYPE_TDES2, key);
    }

  id = read_hex ("--initial-key-id", o.initial_key_id);
  if (id == NULL)
    return 1;
  if (o.key_type != NULL)
    {
      if (!read_key_type (o.key_type, &type))
        return 1;
    }
  else if (!pp_dukpt_key_type_for_aes_length (pp_secure_buffer_get_len (bdk), &type))
    {
      /* %zu, not G_GSIZE_FORMAT: xgettext would cut the msgid at a macro. */
      return pp_tool_fail (_("--bdk: an AES DUKPT BDK is 16, 24 or 32 bytes, not %zu"),
                           pp_secure_buffer_get_len (bdk));
    }

  key = pp_dukpt_aes_derive_initial_key (bdk, g_bytes_get_data (id, NULL), g_bytes_get_size (id),
                                         type, &error);
  if (key == NULL)
    return pp_tool_fail_error (error);

  return print_key (&o, "aes", "initial", type, key);
}

/* posprov-tool dukpt key */

typedef struct {
  const char       *name;
  gboolean          tdes;
  PpDukptTdesUsage  tdes_usage;
  gboolean          aes;
  PpDukptAesUsage   aes_usage;
} UsageName;

/* "transaction" is handled apart: it is the key before any variant (TDES)
 * or the derivation key (AES). */
static const UsageName usages[] = {
  { "pin",           TRUE,  PP_DUKPT_TDES_USAGE_PIN,           TRUE,  PP_DUKPT_AES_USAGE_PIN_ENCRYPTION },
  { "mac",           TRUE,  PP_DUKPT_TDES_USAGE_MAC_REQUEST,   TRUE,  PP_DUKPT_AES_USAGE_MAC_GENERATION },
  { "mac-response",  TRUE,  PP_DUKPT_TDES_USAGE_MAC_RESPONSE,  FALSE, 0 },
  { "mac-verify",    FALSE, 0,                                 TRUE,  PP_DUKPT_AES_USAGE_MAC_VERIFICATION },
  { "mac-both",      FALSE, 0,                                 TRUE,  PP_DUKPT_AES_USAGE_MAC_BOTH },
  { "data",          TRUE,  PP_DUKPT_TDES_USAGE_DATA_REQUEST,  TRUE,  PP_DUKPT_AES_USAGE_DATA_ENCRYPT },
  { "data-response", TRUE,  PP_DUKPT_TDES_USAGE_DATA_RESPONSE, FALSE, 0 },
  { "data-decrypt",  FALSE, 0,                                 TRUE,  PP_DUKPT_AES_USAGE_DATA_DECRYPT },
  { "data-both",     FALSE, 0,                                 TRUE,  PP_DUKPT_AES_USAGE_DATA_BOTH },
};

static const UsageName *
find_usage (const char *name)
{
  for (guint i = 0; i < G_N_ELEMENTS (usages); i++)
    if (g_str_equal (name, usages[i].name))
      return &usages[i];

  return NULL;
}

static int
key_tdes (const DukptOptions   *o,
          const PpSecureBuffer *bdk,
          GBytes               *ksn,
          const UsageName      *usage)
{
  g_autoptr(PpSecureBuffer) ipek = NULL;
  g_autoptr(PpSecureBuffer) tk = NULL;
  g_autoptr(PpSecureBuffer) key = NULL;
  g_autoptr(GError) error = NULL;
  const guint8 *k = g_bytes_get_data (ksn, NULL);
  gsize klen = g_bytes_get_size (ksn);

  if (usage != NULL && !usage->tdes)
    return pp_tool_fail (_("--usage %s is for AES DUKPT (a 12-byte KSN)"), usage->name);
  if (o->key_type != NULL && g_ascii_strcasecmp (o->key_type, "tdes2") != 0)
    return pp_tool_fail (_("--key-type: TDES DUKPT keys (a 10-byte KSN) are always tdes2"));

  ipek = pp_dukpt_tdes_derive_ipek (bdk, k, klen, &error);
  if (ipek != NULL)
    tk = pp_dukpt_tdes_derive_transaction_key (ipek, k, klen, &error);
  if (tk == NULL)
    return pp_tool_fail_error (error);

  if (usage == NULL)
    return print_key (o, "tdes", "transaction", PP_DUKPT_KEY_TYPE_TDES2, tk);

  key = pp_dukpt_tdes_derive_working_key (tk, usage->tdes_usage, &error);
  if (key == NULL)
    return pp_tool_fail_error (error);

  return print_key (o, "tdes", usage->name, PP_DUKPT_KEY_TYPE_TDES2, key);
}

static int
key_aes (const DukptOptions   *o,
         const PpSecureBuffer *bdk,
         GBytes               *ksn,
         const UsageName      *usage)
{
  g_autoptr(PpSecureBuffer) ik = NULL;
  g_autoptr(PpSecureBuffer) tk = NULL;
  g_autoptr(PpSecureBuffer) key = NULL;
  g_autoptr(GError) error = NULL;
  const guint8 *k = g_bytes_get_data (ksn, NULL);
  gsize klen = g_bytes_get_size (ksn);
  PpDukptKeyType bdk_type, type;

  if (usage != NULL && !usage->aes)
    return pp_tool_fail (_("--usage %s is for TDES DUKPT (a 10-byte KSN)"), usage->name);

  if (!pp_dukpt_key_type_for_aes_length (pp_secure_buffer_get_len (bdk), &bdk_type))
    return pp_tool_fail (_("--bdk: an AES DUKPT BDK is 16, 24 or 32 bytes, not %zu"),
                         pp_secure_buffer_get_len (bdk));

  type = bdk_type;
  if (o->key_type != NULL && !read_key_type (o->key_type, &type))
    return 1;
  if (usage == NULL && type != bdk_type)
    return pp_tool_fail (_("--key-type: the transaction (derivation) key always has the BDK's type, %s"),
                         pp_dukpt_key_type_to_string (bdk_type));

  /* The first 8 bytes of the KSN are the initial key ID. */
  ik = pp_dukpt_aes_derive_initial_key (bdk, k, PP_DUKPT_AES_INITIAL_KEY_ID_LEN, bdk_type, &error);
  if (ik != NULL)
    tk = pp_dukpt_aes_derive_transaction_key (ik, k, klen, &error);
  if (tk == NULL)
    return pp_tool_fail_error (error);

  if (usage == NULL)
    return print_key (o, "aes", "transaction", bdk_type, tk);

  key = pp_dukpt_aes_derive_working_key (tk, k, klen, usage->aes_usage, type, &error);
  if (key == NULL)
    return pp_tool_fail_error (error);

  return print_key (o, "aes", usage->name, type, key);
}

static int
dukpt_key (int    argc,
           char **argv)
{
  g_auto(DukptOptions) o = { 0 };
  GOptionEntry entries[] = {
    { "bdk", 0, 0, G_OPTION_ARG_STRING, &o.bdk,
      N_("Base derivation key (TDES: 16 bytes; AES: 16, 24 or 32 bytes)"), N_("HEX") },
    { "ksn", 0, 0, G_OPTION_ARG_STRING, &o.ksn,
      N_("Key serial number: 10 bytes for TDES DUKPT, 12 bytes for AES DUKPT"), N_("HEX") },
    { "usage", 0, 0, G_OPTION_ARG_STRING, &o.usage,
      N_("transaction, pin, mac or data (see below)"), N_("USAGE") },
    { "key-type", 0, 0, G_OPTION_ARG_STRING, &o.key_type,
      N_("AES DUKPT: type of the working key, aes128|aes192|aes256|tdes2|tdes3 (default: the BDK's)"),
      N_("TYPE") },
    { "json", 0, 0, G_OPTION_ARG_NONE, &o.json,
      N_("Print one JSON object with the key, its type and check value"), NULL },
    { NULL }
  };
  g_autoptr(PpSecureBuffer) bdk = NULL;
  g_autoptr(GBytes) ksn = NULL;
  const UsageName *usage = NULL;

  if (!parse_options (&argc, &argv, entries,
                      _("Derive the DUKPT key of one transaction from a BDK (lab command: keys in clear)."),
                      _("The KSN length picks the scheme: 10 bytes TDES DUKPT (ANSI X9.24-1:2009),\n"
                        "12 bytes AES DUKPT (ANSI X9.24-3:2017).\n"
                        "\n"
                        "TDES DUKPT usages:\n"
                        "  transaction     the transaction key before any variant\n"
                        "  pin             PIN encryption key: XOR 00000000000000FF00000000000000FF\n"
                        "  mac             MAC request key: XOR 000000000000FF00000000000000FF00\n"
                        "  mac-response    MAC response key: XOR 00000000FF00000000000000FF000000\n"
                        "  data            data encryption request key: XOR 0000000000FF00000000000000FF0000,\n"
                        "                  then both halves TDES-encrypted under that variant key\n"
                        "  data-response   data encryption response key: the same with\n"
                        "                  000000FF00000000000000FF00000000\n"
                        "AES DUKPT usages (working keys of --key-type, default the BDK's type):\n"
                        "  transaction     the derivation key of this KSN (the BDK's type)\n"
                        "  pin             PIN encryption (key usage 1000)\n"
                        "  mac             MAC generation (2000); mac-verify (2001), mac-both (2002)\n"
                        "  data            data encryption, encrypt (3000); data-decrypt (3001),\n"
                        "                  data-both (3002)\n")))
    return 1;

  if (o.ksn == NULL)
    return pp_tool_fail (_("--ksn is required"));
  if (o.usage == NULL)
    return pp_tool_fail (_("--usage is required (transaction, pin, mac or data)"));
  if (!g_str_equal (o.usage, "transaction"))
    {
      usage = find_usage (o.usage);
      if (usage == NULL)
        return pp_tool_fail (_("--usage: unknown usage “%s” (transaction, pin, mac or data)"),
                             o.usage);
    }

  bdk = read_bdk (o.bdk);
  if (bdk == NULL)
    return 1;
  ksn = read_hex ("--ksn", o.ksn);
  if (ksn == NULL)
    return 1;

  switch (g_bytes_get_size (ksn))
    {
    case PP_DUKPT_TDES_KSN_LEN:
      return key_tdes (&o, bdk, ksn, usage);
    case PP_DUKPT_AES_KSN_LEN:
      return key_aes (&o, bdk, ksn, usage);
    default:
      return pp_tool_fail (_("--ksn: a KSN is 10 bytes (TDES DUKPT) or 12 bytes (AES DUKPT), not %zu"),
                           g_bytes_get_size (ksn));
    }
}

int
pp_tool_dukpt_main (int    argc,
                    char **argv)
{
  static const PpToolCommand commands[] = {
    { "ipek", dukpt_ipek, N_("Derive the initial key (IPEK) from a BDK") },
    { "key",  dukpt_key,  N_("Derive the transaction, PIN, MAC or data key of a KSN") },
    { NULL, NULL, NULL }
  };

  return pp_tool_dispatch (argv[0], commands, argc, argv);
}
