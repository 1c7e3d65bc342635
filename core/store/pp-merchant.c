/* SPDX-License-Identifier: GPL-3.0-or-later
 *
 * pp-merchant.c: merchant field rules and the merchant record.
 */
#include "config.h"

#include <glib/gi18n-lib.h>

#include <string.h>

#include "pp-merchant.h"
#include "pp-store.h"

void
pp_merchant_free (PpMerchant *merchant)
{
  if (merchant == NULL)
    return;
  g_free (merchant->name);
  g_free (merchant->registration_number);
  g_free (merchant->address);
  g_free (merchant->mcc);
  g_free (merchant->contact_name);
  g_free (merchant->contact_phone);
  g_free (merchant->mid);
  g_free (merchant);
}

static void
add_string (JsonBuilder *builder,
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
pp_merchant_to_json (const PpMerchant *merchant)
{
  g_autoptr(JsonBuilder) builder = json_builder_new ();

  g_return_val_if_fail (merchant != NULL, NULL);

  json_builder_begin_object (builder);
  json_builder_set_member_name (builder, "id");
  json_builder_add_int_value (builder, merchant->id);
  add_string (builder, "name", merchant->name);
  add_string (builder, "registration_number", merchant->registration_number);
  add_string (builder, "address", merchant->address);
  add_string (builder, "mcc", merchant->mcc);
  add_string (builder, "contact_name", merchant->contact_name);
  add_string (builder, "contact_phone", merchant->contact_phone);
  add_string (builder, "mid", merchant->mid);
  json_builder_set_member_name (builder, "created_at");
  json_builder_add_int_value (builder, merchant->created_at);
  json_builder_set_member_name (builder, "updated_at");
  json_builder_add_int_value (builder, merchant->updated_at);
  json_builder_end_object (builder);

  return json_builder_get_root (builder);
}

static gboolean
fail (const char   *field,
      const char  **out_bad_field,
      GError      **error,
      const char   *rule)
{
  if (out_bad_field != NULL)
    *out_bad_field = field;
  g_set_error (error, PP_STORE_ERROR, PP_STORE_ERROR_INVALID, _("merchant %s: %s"), field, rule);
  return FALSE;
}

/* Length in characters after trimming, or -1 if not valid UTF-8 or it
 * holds control characters. */
static glong
text_length (const char *value)
{
  g_autofree char *copy = NULL;

  if (value == NULL)
    return 0;
  if (!g_utf8_validate (value, -1, NULL))
    return -1;
  for (const char *p = value; *p != '\0'; p++)
    if ((guchar) *p < 0x20 || *p == 0x7f)
      return -1;
  copy = g_strstrip (g_strdup (value));
  return g_utf8_strlen (copy, -1);
}

static gboolean
check_text (const char   *value,
            const char   *field,
            glong         max,
            const char  **out_bad_field,
            GError      **error)
{
  g_autofree char *rule = NULL;
  glong n = text_length (value);

  if (n < 0)
    return fail (field, out_bad_field, error, _("must be plain text without control characters"));
  if (n == 0)
    return fail (field, out_bad_field, error, _("is empty"));
  if (n > max)
    {
      rule = g_strdup_printf (_("is longer than %ld characters"), max);
      return fail (field, out_bad_field, error, rule);
    }
  return TRUE;
}

gboolean
pp_merchant_fields_validate (const PpMerchantFields  *fields,
                             const char             **out_bad_field,
                             GError                 **error)
{
  g_autofree char *reg = NULL;
  g_autofree char *mcc = NULL;
  g_autofree char *phone = NULL;
  guint digits = 0;
  gsize n;

  g_return_val_if_fail (fields != NULL, FALSE);

  if (out_bad_field != NULL)
    *out_bad_field = NULL;

  if (!check_text (fields->name, "name", 100, out_bad_field, error))
    return FALSE;

  reg = g_strstrip (g_strdup (fields->registration_number != NULL ? fields->registration_number : ""));
  n = strlen (reg);
  if (n == 0)
    return fail ("registration_number", out_bad_field, error, _("is empty"));
  if (n < 6 || n > 32)
    return fail ("registration_number", out_bad_field, error, _("must be 6 to 32 characters"));
  for (gsize i = 0; i < n; i++)
    if (!g_ascii_isalnum (reg[i]) && reg[i] != '-')
      return fail ("registration_number", out_bad_field, error,
                   _("may hold only letters, digits and “-”"));

  if (!check_text (fields->address, "address", 200, out_bad_field, error))
    return FALSE;

  mcc = g_strstrip (g_strdup (fields->mcc != NULL ? fields->mcc : ""));
  if (strlen (mcc) != 4 || !g_ascii_isdigit (mcc[0]) || !g_ascii_isdigit (mcc[1]) ||
      !g_ascii_isdigit (mcc[2]) || !g_ascii_isdigit (mcc[3]))
    return fail ("mcc", out_bad_field, error, _("must be exactly 4 digits (merchant category code)"));

  if (!check_text (fields->contact_name, "contact_name", 64, out_bad_field, error))
    return FALSE;

  phone = g_strstrip (g_strdup (fields->contact_phone != NULL ? fields->contact_phone : ""));
  if (*phone == '\0')
    return fail ("contact_phone", out_bad_field, error, _("is empty"));
  for (gsize i = 0; phone[i] != '\0'; i++)
    {
      if (g_ascii_isdigit (phone[i]))
        digits++;
      else if (!(phone[i] == '+' && i == 0) && phone[i] != ' ' && phone[i] != '-')
        return fail ("contact_phone", out_bad_field, error,
                     _("may hold only digits, spaces, “-” and a leading “+”"));
    }
  if (digits < 6 || digits > 20)
    return fail ("contact_phone", out_bad_field, error, _("must have 6 to 20 digits"));

  return TRUE;
}
