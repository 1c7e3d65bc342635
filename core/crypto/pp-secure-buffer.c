/* SPDX-License-Identifier: GPL-3.0-or-later
 *
 * pp-secure-buffer.c: locked, zeroised storage for clear key material.
 */
#include "config.h"

#include <string.h>
#include <sys/mman.h>

#include <openssl/crypto.h>

#include "pp-hex.h"
#include "pp-secure-buffer.h"

struct _PpSecureBuffer
{
  guint8   *data;
  gsize     len;
  gsize     capacity;
  gboolean  locked;
};

PpSecureBuffer *
pp_secure_buffer_new (gsize len)
{
  PpSecureBuffer *self = g_new0 (PpSecureBuffer, 1);

  /* Never zero bytes: keep get_data() non-NULL. */
  self->capacity = MAX (len, 1);
  self->data = g_malloc0 (self->capacity);
  self->len = len;
  /* mlock may fail without CAP_IPC_LOCK or over RLIMIT_MEMLOCK; the buffer
   * is still wiped on free, so carry on without the lock. */
  self->locked = mlock (self->data, self->capacity) == 0;

  return self;
}

PpSecureBuffer *
pp_secure_buffer_new_from (const guint8 *data,
                           gsize         len)
{
  PpSecureBuffer *self;

  g_return_val_if_fail (data != NULL || len == 0, NULL);

  self = pp_secure_buffer_new (len);
  if (len > 0)
    memcpy (self->data, data, len);

  return self;
}

PpSecureBuffer *
pp_secure_buffer_new_from_hex (const char  *hex,
                               GError     **error)
{
  g_autoptr(PpSecureBuffer) self = NULL;
  gsize len;

  g_return_val_if_fail (hex != NULL, NULL);

  if (!pp_hex_validate (hex, &len, error))
    return NULL;

  self = pp_secure_buffer_new (len);
  pp_hex_decode_into (hex, self->data, len);

  return g_steal_pointer (&self);
}

PpSecureBuffer *
pp_secure_buffer_dup (const PpSecureBuffer *self)
{
  g_return_val_if_fail (self != NULL, NULL);

  return pp_secure_buffer_new_from (self->data, self->len);
}

guint8 *
pp_secure_buffer_get_data (PpSecureBuffer *self)
{
  g_return_val_if_fail (self != NULL, NULL);

  return self->data;
}

const guint8 *
pp_secure_buffer_peek (const PpSecureBuffer *self)
{
  g_return_val_if_fail (self != NULL, NULL);

  return self->data;
}

gsize
pp_secure_buffer_get_len (const PpSecureBuffer *self)
{
  g_return_val_if_fail (self != NULL, 0);

  return self->len;
}

void
pp_secure_buffer_truncate (PpSecureBuffer *self,
                           gsize           len)
{
  g_return_if_fail (self != NULL);
  g_return_if_fail (len <= self->len);

  OPENSSL_cleanse (self->data + len, self->len - len);
  self->len = len;
}

/* Constant time in the contents; lengths are not secret. */
gboolean
pp_secure_buffer_equal (const PpSecureBuffer *a,
                        const PpSecureBuffer *b)
{
  g_return_val_if_fail (a != NULL && b != NULL, FALSE);

  if (a->len != b->len)
    return FALSE;

  return CRYPTO_memcmp (a->data, b->data, a->len) == 0;
}

/* The returned string holds key material: callers wipe it with
 * pp_hex_free_secret().  Only the explicit lab commands print it. */
char *
pp_secure_buffer_to_hex (const PpSecureBuffer *self)
{
  g_return_val_if_fail (self != NULL, NULL);

  return pp_hex_encode (self->data, self->len);
}

void
pp_secure_buffer_free (PpSecureBuffer *self)
{
  if (self == NULL)
    return;

  OPENSSL_cleanse (self->data, self->capacity);
  if (self->locked)
    munlock (self->data, self->capacity);
  g_free (self->data);
  g_free (self);
}
