/* SPDX-License-Identifier: GPL-3.0-or-later
 *
 * pp-secure-buffer.h: the only place clear key bytes may live.
 *
 * The pages are locked in memory where the system allows it (so keys do
 * not reach swap) and wiped with OPENSSL_cleanse() before they are freed.
 * Never put the contents in a log, a GObject property or the database.
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

typedef struct _PpSecureBuffer PpSecureBuffer;

PpSecureBuffer *pp_secure_buffer_new       (gsize                 len);
PpSecureBuffer *pp_secure_buffer_new_from  (const guint8         *data,
                                            gsize                 len);
PpSecureBuffer *pp_secure_buffer_new_from_hex (const char        *hex,
                                               GError           **error);
PpSecureBuffer *pp_secure_buffer_dup       (const PpSecureBuffer *self);
guint8         *pp_secure_buffer_get_data  (PpSecureBuffer       *self);
const guint8   *pp_secure_buffer_peek      (const PpSecureBuffer *self);
gsize           pp_secure_buffer_get_len   (const PpSecureBuffer *self);
void            pp_secure_buffer_truncate  (PpSecureBuffer       *self,
                                            gsize                 len);
gboolean        pp_secure_buffer_equal     (const PpSecureBuffer *a,
                                            const PpSecureBuffer *b);
char           *pp_secure_buffer_to_hex    (const PpSecureBuffer *self);
void            pp_secure_buffer_free      (PpSecureBuffer       *self);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (PpSecureBuffer, pp_secure_buffer_free)

G_END_DECLS
