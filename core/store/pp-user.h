/* SPDX-License-Identifier: GPL-3.0-or-later
 *
 * pp-user.h: station users and their roles.
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

typedef enum {
  PP_USER_ROLE_FIELD_MANAGER,   /* "field_manager": scans, enters merchants, installs */
  PP_USER_ROLE_REVIEWER,        /* "reviewer": approves key releases (four eyes) */
  PP_USER_ROLE_ADMINISTRATOR,   /* "administrator": users and settings */
  PP_N_USER_ROLES,
} PpUserRole;

const char *pp_user_role_to_string   (PpUserRole   role);
gboolean    pp_user_role_from_string (const char  *s,
                                      PpUserRole  *out);
const char *pp_user_role_get_label   (PpUserRole   role);   /* translated */

/* A user as the store returns it; never holds the password hash. */
typedef struct {
  gint64     id;
  char      *username;       /* 2-32 of a-z 0-9 . _ -, stored lower case */
  char      *display_name;
  PpUserRole role;
  gint64     created_at;
} PpUser;

void pp_user_free (PpUser *user);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (PpUser, pp_user_free)

G_END_DECLS
