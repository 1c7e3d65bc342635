/* SPDX-License-Identifier: GPL-3.0-or-later
 *
 * pp-merchant.h: merchant records and the rules for their fields.
 */
#pragma once

#include <glib.h>
#include <json-glib/json-glib.h>

G_BEGIN_DECLS

/* What a field manager enters. Field rules (PP_STORE_ERROR_INVALID names the field):
 *   name                 1-100 characters, not blank
 *   registration_number  6-32 letters, digits or '-' (e.g. an 18-character unified social
 *                        credit code); case-insensitive, stored upper case; unique
 *   address              1-200 characters, not blank
 *   mcc                  merchant category code, exactly 4 digits
 *   contact_name         1-64 characters, not blank
 *   contact_phone        optional leading '+', then 6-20 digits; spaces and '-' allowed
 * Leading and trailing spaces are removed before checking and storing. */
typedef struct {
  const char *name;
  const char *registration_number;
  const char *address;
  const char *mcc;
  const char *contact_name;
  const char *contact_phone;
} PpMerchantFields;

typedef struct {
  gint64 id;
  char  *name;
  char  *registration_number;
  char  *address;
  char  *mcc;
  char  *contact_name;
  char  *contact_phone;
  char  *mid;          /* 15 digits, issued when the merchant is added */
  gint64 created_at;
  gint64 updated_at;
} PpMerchant;

void      pp_merchant_free            (PpMerchant             *merchant);
JsonNode *pp_merchant_to_json         (const PpMerchant       *merchant);

/* FALSE with PP_STORE_ERROR_INVALID naming the first bad field; *out_bad_field (optional)
 * is then its name as above ("mcc", "contact_phone", ...). */
gboolean  pp_merchant_fields_validate (const PpMerchantFields *fields,
                                       const char            **out_bad_field,
                                       GError                **error);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (PpMerchant, pp_merchant_free)

G_END_DECLS
