/* SPDX-License-Identifier: GPL-3.0-or-later
 *
 * pp-tmk-delivery.c: which TMKs the station sent to a terminal and what
 * became of them (pp-keystore.h).  The record sits in the key store next
 * to the keys, through the same sealed secret record as the journal key,
 * so both backends keep it and it goes wherever the keys go.
 *
 * Record: one line a TMK, "LABEL STATE KCV TIME", oldest first.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include <glib/gi18n-lib.h>

#include "pp-keystore-private.h"

/* Enough for years of re-injections of one terminal. */
#define MAX_DELIVERIES 64

static const char *const state_names[] = { "sent", "confirmed", "discarded" };

void
pp_tmk_delivery_free (PpTmkDelivery *delivery)
{
  if (delivery == NULL)
    return;
  g_free (delivery->label);
  g_free (delivery->kcv);
  g_free (delivery);
}

const char *
pp_tmk_delivery_state_to_string (PpTmkDeliveryState state)
{
  switch (state)
    {
    case PP_TMK_DELIVERY_SENT:      return "sent, unconfirmed";
    case PP_TMK_DELIVERY_CONFIRMED: return "confirmed";
    case PP_TMK_DELIVERY_DISCARDED: return "discarded";
    default:                        return "unknown";
    }
}

/* The record's label: "delivery-" and the serial in the label alphabet. */
static char *
record_label (const char *serial)
{
  GString *label = g_string_new ("delivery-");

  for (const char *p = serial; *p != '\0' && label->len < 9 + 40; p++)
    g_string_append_c (label, g_ascii_isalnum (*p) ? *p : '_');
  /* Different serials that map to one label share the record; each line
   * names its TMK, whose label names the serial too. */
  return g_string_free (label, FALSE);
}

static gboolean
check_word (const char  *text,
            GError     **error)
{
  if (text[0] != '\0' && strpbrk (text, " \t\r\n") == NULL)
    return TRUE;
  g_set_error (error, PP_KEYSTORE_ERROR, PP_KEYSTORE_ERROR_INVALID_LABEL,
               _("The TMK delivery record cannot hold “%s”: it has a space in it"), text);
  return FALSE;
}

static GPtrArray *
load (PpKeyStore  *self,
      const char  *label,
      GError     **error)
{
  PpKeyStoreInterface *iface = PP_KEY_STORE_GET_IFACE (self);
  g_autoptr(GPtrArray) list = g_ptr_array_new_with_free_func ((GDestroyNotify) pp_tmk_delivery_free);
  g_autoptr(PpSecureBuffer) record = NULL;
  g_autoptr(GError) local = NULL;
  g_autofree char *text = NULL;
  g_auto(GStrv) lines = NULL;

  if (iface->load_secret == NULL)
    return g_steal_pointer (&list);
  if ((record = iface->load_secret (self, label, &local)) == NULL)
    {
      if (g_error_matches (local, PP_KEYSTORE_ERROR, PP_KEYSTORE_ERROR_NOT_FOUND) ||
          g_error_matches (local, PP_KEYSTORE_ERROR, PP_KEYSTORE_ERROR_OBJECT_NOT_FOUND))
        return g_steal_pointer (&list);
      g_propagate_error (error, g_steal_pointer (&local));
      return NULL;
    }
  text = g_strndup ((const char *) pp_secure_buffer_peek (record), pp_secure_buffer_get_len (record));
  lines = g_strsplit (text, "\n", -1);
  for (guint i = 0; lines[i] != NULL; i++)
    {
      g_auto(GStrv) f = NULL;
      PpTmkDelivery *d;
      guint state;

      if (lines[i][0] == '\0')
        continue;
      f = g_strsplit (lines[i], " ", -1);
      if (g_strv_length (f) != 4)
        goto corrupt;
      for (state = 0; state < G_N_ELEMENTS (state_names); state++)
        if (strcmp (f[1], state_names[state]) == 0)
          break;
      if (state == G_N_ELEMENTS (state_names))
        goto corrupt;
      d = g_new0 (PpTmkDelivery, 1);
      d->label = g_strdup (f[0]);
      d->state = state;
      d->kcv = g_strdup (f[2]);
      d->time = g_ascii_strtoll (f[3], NULL, 10);
      g_ptr_array_add (list, d);
    }
  return g_steal_pointer (&list);

corrupt:
  g_set_error (error, PP_KEYSTORE_ERROR, PP_KEYSTORE_ERROR_INVALID_KEY,
               _("The TMK delivery record “%s” in the key store is damaged"), label);
  return NULL;
}

gboolean
pp_key_store_set_tmk_delivery (PpKeyStore          *self,
                               const char          *serial,
                               const char          *label,
                               const char          *kcv,
                               PpTmkDeliveryState   state,
                               GError             **error)
{
  PpKeyStoreInterface *iface;
  g_autofree char *record_name = NULL;
  g_autoptr(GPtrArray) list = NULL;
  g_autoptr(GString) text = g_string_new (NULL);
  g_autoptr(PpSecureBuffer) record = NULL;
  PpTmkDelivery *found = NULL;

  g_return_val_if_fail (PP_IS_KEY_STORE (self), FALSE);
  g_return_val_if_fail (serial != NULL && label != NULL && kcv != NULL, FALSE);
  g_return_val_if_fail (state <= PP_TMK_DELIVERY_DISCARDED, FALSE);

  iface = PP_KEY_STORE_GET_IFACE (self);
  if (iface->store_secret == NULL)
    {
      g_set_error (error, PP_KEYSTORE_ERROR, PP_KEYSTORE_ERROR_MECHANISM_UNSUPPORTED,
                   _("The %s key store cannot keep a TMK delivery record"), iface->get_backend_name (self));
      return FALSE;
    }
  if (!check_word (label, error) || !check_word (kcv, error))
    return FALSE;
  record_name = record_label (serial);
  if (!pp_keystore_check_label (record_name, error) ||
      (list = load (self, record_name, error)) == NULL)
    return FALSE;
  for (guint i = 0; i < list->len; i++)
    {
      PpTmkDelivery *d = g_ptr_array_index (list, i);

      if (strcmp (d->label, label) == 0)
        found = d;
    }
  if (found == NULL)
    {
      found = g_new0 (PpTmkDelivery, 1);
      found->label = g_strdup (label);
      g_ptr_array_add (list, found);
    }
  g_free (found->kcv);
  found->kcv = g_strdup (kcv);
  found->state = state;
  found->time = g_get_real_time () / G_USEC_PER_SEC;
  /* Settled entries go first when the record is full; a SENT one never. */
  for (guint i = 0; list->len > MAX_DELIVERIES && i < list->len; )
    {
      PpTmkDelivery *d = g_ptr_array_index (list, i);

      if (d->state != PP_TMK_DELIVERY_SENT && d != found)
        g_ptr_array_remove_index (list, i);
      else
        i++;
    }
  for (guint i = 0; i < list->len; i++)
    {
      PpTmkDelivery *d = g_ptr_array_index (list, i);

      g_string_append_printf (text, "%s %s %s %" G_GINT64_FORMAT "\n",
                              d->label, state_names[d->state], d->kcv, d->time);
    }
  record = pp_secure_buffer_new_from ((const guint8 *) text->str, text->len);
  return iface->store_secret (self, record_name, record, error);
}

GPtrArray *
pp_key_store_list_tmk_deliveries (PpKeyStore  *self,
                                  const char  *serial,
                                  GError     **error)
{
  g_autofree char *record_name = NULL;

  g_return_val_if_fail (PP_IS_KEY_STORE (self), NULL);
  g_return_val_if_fail (serial != NULL, NULL);

  record_name = record_label (serial);
  if (!pp_keystore_check_label (record_name, error))
    return NULL;
  return load (self, record_name, error);
}
