/* SPDX-License-Identifier: GPL-3.0-or-later
 *
 * pp-session-page.c: a page acting for the signed-in user on a registry.
 */
#include "config.h"

#include "pp-session-page.h"

typedef struct
{
  PpRegistry *registry;
  char       *user;
  PpUserRole  role;
} PpSessionPagePrivate;

G_DEFINE_TYPE_WITH_PRIVATE (PpSessionPage, pp_session_page, ADW_TYPE_BIN)

enum {
  PROP_0,
  PROP_REGISTRY,
  PROP_USER,
  PROP_ROLE,
  N_PROPS
};

static GParamSpec *props[N_PROPS];

PpRegistry *
pp_session_page_get_registry (PpSessionPage *self)
{
  PpSessionPagePrivate *priv = pp_session_page_get_instance_private (self);

  g_return_val_if_fail (PP_IS_SESSION_PAGE (self), NULL);
  return priv->registry;
}

const char *
pp_session_page_get_user (PpSessionPage *self)
{
  PpSessionPagePrivate *priv = pp_session_page_get_instance_private (self);

  g_return_val_if_fail (PP_IS_SESSION_PAGE (self), NULL);
  return priv->user;
}

PpUserRole
pp_session_page_get_role (PpSessionPage *self)
{
  PpSessionPagePrivate *priv = pp_session_page_get_instance_private (self);

  g_return_val_if_fail (PP_IS_SESSION_PAGE (self), PP_USER_ROLE_FIELD_MANAGER);
  return priv->role;
}

GtkWindow *
pp_session_page_open_window (PpSessionPage *self,
                             GtkWindow     *parent,
                             const char    *title)
{
  GtkWidget *window = adw_window_new ();
  GtkWidget *box = gtk_box_new (GTK_ORIENTATION_VERTICAL, 0);
  GtkWidget *header = adw_header_bar_new ();

  g_return_val_if_fail (PP_IS_SESSION_PAGE (self), NULL);

  adw_header_bar_set_title_widget (ADW_HEADER_BAR (header),
                                   adw_window_title_new (title, pp_session_page_get_user (self)));
  gtk_box_append (GTK_BOX (box), header);
  gtk_widget_set_vexpand (GTK_WIDGET (self), TRUE);
  gtk_box_append (GTK_BOX (box), GTK_WIDGET (self));
  adw_window_set_content (ADW_WINDOW (window), box);
  gtk_window_set_title (GTK_WINDOW (window), title);
  gtk_window_set_default_size (GTK_WINDOW (window), 1280, 720);
  if (parent != NULL)
    gtk_window_set_transient_for (GTK_WINDOW (window), parent);
  gtk_window_present (GTK_WINDOW (window));
  return GTK_WINDOW (window);
}

static void
pp_session_page_finalize (GObject *object)
{
  PpSessionPagePrivate *priv = pp_session_page_get_instance_private (PP_SESSION_PAGE (object));

  g_clear_object (&priv->registry);
  g_free (priv->user);
  G_OBJECT_CLASS (pp_session_page_parent_class)->finalize (object);
}

static void
pp_session_page_get_property (GObject    *object,
                              guint       prop_id,
                              GValue     *value,
                              GParamSpec *pspec)
{
  PpSessionPagePrivate *priv = pp_session_page_get_instance_private (PP_SESSION_PAGE (object));

  switch (prop_id)
    {
    case PROP_REGISTRY:
      g_value_set_object (value, priv->registry);
      break;
    case PROP_USER:
      g_value_set_string (value, priv->user);
      break;
    case PROP_ROLE:
      g_value_set_int (value, priv->role);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
pp_session_page_set_property (GObject      *object,
                              guint         prop_id,
                              const GValue *value,
                              GParamSpec   *pspec)
{
  PpSessionPagePrivate *priv = pp_session_page_get_instance_private (PP_SESSION_PAGE (object));

  switch (prop_id)
    {
    case PROP_REGISTRY:
      priv->registry = g_value_dup_object (value);
      break;
    case PROP_USER:
      priv->user = g_value_dup_string (value);
      break;
    case PROP_ROLE:
      priv->role = g_value_get_int (value);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
pp_session_page_class_init (PpSessionPageClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->finalize = pp_session_page_finalize;
  object_class->get_property = pp_session_page_get_property;
  object_class->set_property = pp_session_page_set_property;

  props[PROP_REGISTRY] =
    g_param_spec_object ("registry", NULL, NULL, PP_TYPE_REGISTRY,
                         G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY | G_PARAM_STATIC_STRINGS);
  props[PROP_USER] =
    g_param_spec_string ("user", NULL, NULL, NULL,
                         G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY | G_PARAM_STATIC_STRINGS);
  props[PROP_ROLE] =
    g_param_spec_int ("role", NULL, NULL, 0, PP_N_USER_ROLES - 1, PP_USER_ROLE_FIELD_MANAGER,
                      G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY | G_PARAM_STATIC_STRINGS);
  g_object_class_install_properties (object_class, N_PROPS, props);
}

static void
pp_session_page_init (PpSessionPage *self)
{
}
