/* SPDX-License-Identifier: GPL-3.0-or-later
 *
 * pp-key-host-private.h: the key host's release with a TMK that is already
 * in its key store instead of a fresh one. Not public: the key host makes
 * every key it releases. Tests use it to force a duplicate key (a key
 * imported twice under two labels) past the random generator.
 */
#pragma once

#include "pp-key-host.h"

G_BEGIN_DECLS

/* pp_key_host_issue_key_token() with the TMK under @existing_label (NULL: a
 * fresh one, as the public call). */
GBytes *pp_key_host_issue_key_token_with_tmk (PpKeyHost   *self,
                                              gint64       order_id,
                                              GBytes      *ct_krd,
                                              GBytes      *rt_krd,
                                              const char  *existing_label,
                                              const char  *actor,
                                              GError     **error);

G_END_DECLS
