/* SPDX-License-Identifier: GPL-3.0-or-later
 *
 * pp-qr-view.c: a QR code drawn with GtkSnapshot (the matrix from core's
 * PpQrCode, libqrencode).
 *
 * Dark modules on white with the four-module quiet zone the standard asks
 * for (ISO/IEC 18004), whatever the theme: a dark style must not invert the
 * code, or phones fail to read it.  Each module is a whole number of
 * pixels, so the code stays sharp at any scale.
 */
#include "config.h"

#include <string.h>

#include <glib/gi18n.h>
#include "pp-qr-code.h"
#include "pp-qr-view.h"

#define QUIET_ZONE 4
#define MIN_MODULE_PX 3

struct _PpQrView
{
  GtkWidget  parent_instance;

  char      *text;
  guint      size;     /* modules per side */
  GBytes    *modules;  /* size * size bytes, 1: dark */
};

G_DEFINE_FINAL_TYPE (PpQrView, pp_qr_view, GTK_TYPE_WIDGET)

enum {
  PROP_0,
  PROP_TEXT,
  N_PROPS
};

static GParamSpec *props[N_PROPS];

static void
encode (PpQrView *self)
{
  g_autoptr(PpQrCode) qr = NULL;
  g_autoptr(GError) error = NULL;
  const guint8 *modules;
  guint size;

  g_clear_pointer (&self->modules, g_bytes_unref);
  self->size = 0;
  if (self->text == NULL || self->text[0] == '\0')
    return;

  qr = pp_qr_code_new (self->text, &error);
  if (qr == NULL)
    {
      g_warning ("cannot draw the QR code: %s", error->message);
      return;
    }
  modules = pp_qr_code_get_modules (qr, &size);
  self->size = size;
  self->modules = g_bytes_new (modules, (gsize) size * size);
}

gboolean
pp_qr_view_get_module (PpQrView *self,
                       guint     x,
                       guint     y)
{
  const guint8 *dark;

  g_return_val_if_fail (PP_IS_QR_VIEW (self), FALSE);
  if (x >= self->size || y >= self->size)
    return FALSE;
  dark = g_bytes_get_data (self->modules, NULL);
  return dark[y * self->size + x] != 0;
}

static void
pp_qr_view_snapshot (GtkWidget   *widget,
                     GtkSnapshot *snapshot)
{
  PpQrView *self = PP_QR_VIEW (widget);
  const GdkRGBA white = { 1, 1, 1, 1 };
  const GdkRGBA black = { 0, 0, 0, 1 };
  int width = gtk_widget_get_width (widget);
  int height = gtk_widget_get_height (widget);
  guint total;
  int module, side, x0, y0;

  if (self->size == 0)
    return;
  total = self->size + 2 * QUIET_ZONE;
  module = MAX (1, MIN (width, height) / (int) total);
  side = module * (int) total;
  x0 = (width - side) / 2;
  y0 = (height - side) / 2;

  gtk_snapshot_append_color (snapshot, &white, &GRAPHENE_RECT_INIT (x0, y0, side, side));
  for (guint y = 0; y < self->size; y++)
    for (guint x = 0; x < self->size; x++)
      if (pp_qr_view_get_module (self, x, y))
        gtk_snapshot_append_color (snapshot, &black,
                                   &GRAPHENE_RECT_INIT (x0 + (int) (x + QUIET_ZONE) * module,
                                                        y0 + (int) (y + QUIET_ZONE) * module,
                                                        module, module));
}

static void
pp_qr_view_measure (GtkWidget      *widget,
                    GtkOrientation  orientation,
                    int             for_size,
                    int            *minimum,
                    int            *natural,
                    int            *minimum_baseline,
                    int            *natural_baseline)
{
  PpQrView *self = PP_QR_VIEW (widget);
  guint total = self->size == 0 ? 0 : self->size + 2 * QUIET_ZONE;

  *minimum = (int) total * MIN_MODULE_PX;
  *natural = (int) total * MIN_MODULE_PX * 2;
}

void
pp_qr_view_set_text (PpQrView   *self,
                     const char *text)
{
  g_return_if_fail (PP_IS_QR_VIEW (self));

  if (g_strcmp0 (self->text, text) == 0)
    return;
  g_free (self->text);
  self->text = g_strdup (text);
  encode (self);
  gtk_widget_queue_resize (GTK_WIDGET (self));
  g_object_notify_by_pspec (G_OBJECT (self), props[PROP_TEXT]);
}

const char *
pp_qr_view_get_text (PpQrView *self)
{
  g_return_val_if_fail (PP_IS_QR_VIEW (self), NULL);
  return self->text;
}

guint
pp_qr_view_get_size (PpQrView *self)
{
  g_return_val_if_fail (PP_IS_QR_VIEW (self), 0);
  return self->size;
}

static void
pp_qr_view_finalize (GObject *object)
{
  PpQrView *self = PP_QR_VIEW (object);

  g_free (self->text);
  g_clear_pointer (&self->modules, g_bytes_unref);
  G_OBJECT_CLASS (pp_qr_view_parent_class)->finalize (object);
}

static void
pp_qr_view_get_property (GObject    *object,
                         guint       prop_id,
                         GValue     *value,
                         GParamSpec *pspec)
{
  PpQrView *self = PP_QR_VIEW (object);

  switch (prop_id)
    {
    case PROP_TEXT:
      g_value_set_string (value, self->text);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
pp_qr_view_set_property (GObject      *object,
                         guint         prop_id,
                         const GValue *value,
                         GParamSpec   *pspec)
{
  PpQrView *self = PP_QR_VIEW (object);

  switch (prop_id)
    {
    case PROP_TEXT:
      pp_qr_view_set_text (self, g_value_get_string (value));
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
pp_qr_view_class_init (PpQrViewClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);

  object_class->finalize = pp_qr_view_finalize;
  object_class->get_property = pp_qr_view_get_property;
  object_class->set_property = pp_qr_view_set_property;
  widget_class->snapshot = pp_qr_view_snapshot;
  widget_class->measure = pp_qr_view_measure;

  props[PROP_TEXT] =
    g_param_spec_string ("text", NULL, NULL, NULL,
                         G_PARAM_READWRITE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);
  g_object_class_install_properties (object_class, N_PROPS, props);

  gtk_widget_class_set_css_name (widget_class, "qrcode");
  gtk_widget_class_set_accessible_role (widget_class, GTK_ACCESSIBLE_ROLE_IMG);
}

static void
pp_qr_view_init (PpQrView *self)
{
  gtk_accessible_update_property (GTK_ACCESSIBLE (self), GTK_ACCESSIBLE_PROPERTY_LABEL,
                                  _("QR code of the approval request"), -1);
}

GtkWidget *
pp_qr_view_new (void)
{
  return g_object_new (PP_TYPE_QR_VIEW, NULL);
}
