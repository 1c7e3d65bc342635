/* SPDX-License-Identifier: GPL-3.0-or-later
 *
 * pp-qr-code.c: a QR code's module matrix with libqrencode.
 */
#include "config.h"

#include <string.h>

#include <gio/gio.h>
#include <glib/gi18n-lib.h>
#include <openssl/crypto.h>
#include <qrencode.h>

#include "pp-qr-code.h"

struct _PpQrCode
{
  guint size;
  guint8 *modules;   /* size * size, 1: dark */
};

PpQrCode *
pp_qr_code_new (const char  *text,
                GError     **error)
{
  QRcode *code;
  PpQrCode *qr;
  gsize n;

  g_return_val_if_fail (text != NULL, NULL);

  code = QRcode_encodeString (text, 0, QR_ECLEVEL_M, QR_MODE_8, 1);
  if (code == NULL)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED,
                   _("cannot make a QR code of %u bytes of text"), (guint) strlen (text));
      return NULL;
    }
  qr = g_new0 (PpQrCode, 1);
  qr->size = (guint) code->width;
  n = (gsize) qr->size * qr->size;
  qr->modules = g_malloc (n);
  for (gsize i = 0; i < n; i++)
    qr->modules[i] = code->data[i] & 1;
  OPENSSL_cleanse (code->data, n);
  QRcode_free (code);
  return qr;
}

void
pp_qr_code_free (PpQrCode *qr)
{
  if (qr == NULL)
    return;
  OPENSSL_cleanse (qr->modules, (gsize) qr->size * qr->size);
  g_free (qr->modules);
  g_free (qr);
}

guint
pp_qr_code_get_size (const PpQrCode *qr)
{
  g_return_val_if_fail (qr != NULL, 0);
  return qr->size;
}

gboolean
pp_qr_code_is_dark (const PpQrCode *qr,
                    guint           x,
                    guint           y)
{
  g_return_val_if_fail (qr != NULL, FALSE);
  return x < qr->size && y < qr->size && qr->modules[y * qr->size + x] != 0;
}

const guint8 *
pp_qr_code_get_modules (const PpQrCode *qr,
                        guint          *out_size)
{
  g_return_val_if_fail (qr != NULL, NULL);
  if (out_size != NULL)
    *out_size = qr->size;
  return qr->modules;
}

char *
pp_qr_code_to_half_blocks (const PpQrCode *qr,
                           guint           quiet)
{
  GString *out;
  gint64 size;

  g_return_val_if_fail (qr != NULL, NULL);
  size = (gint64) qr->size + 2 * (gint64) quiet;
  /* Up to 3 bytes a character, a newline a line. */
  out = g_string_sized_new ((gsize) (size * 3 + 1) * (gsize) ((size + 1) / 2));
  for (gint64 y = 0; y < size; y += 2)
    {
      for (gint64 x = 0; x < size; x++)
        {
          gint64 mx = x - quiet;
          gboolean top = mx >= 0 && y - quiet >= 0 && pp_qr_code_is_dark (qr, (guint) mx, (guint) (y - quiet));
          gboolean bottom = mx >= 0 && y + 1 - quiet >= 0 &&
                            pp_qr_code_is_dark (qr, (guint) mx, (guint) (y + 1 - quiet));

          if (!top && !bottom)
            g_string_append (out, "\u2588");
          else if (!top)
            g_string_append (out, "\u2580");
          else if (!bottom)
            g_string_append (out, "\u2584");
          else
            g_string_append_c (out, ' ');
        }
      g_string_append_c (out, '\n');
    }
  return g_string_free (out, FALSE);
}
