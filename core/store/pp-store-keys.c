/* SPDX-License-Identifier: GPL-3.0-or-later
 *
 * pp-store-keys.c: the secret that unlocks the journal's key store.
 *
 * The station has no prompt for a key store passphrase, and posprov-tool
 * must open the same key store as the station without being told how. So
 * the default soft key store ("keys" next to the store file, used when
 * POSPROV_KEY_STORE is unset) is unlocked, when POSPROV_KEY_STORE_SECRET is
 * unset too, with a random passphrase kept in the file "keys.passphrase"
 * beside it, mode 0600, made once when sealing creates the key store. This
 * keeps the journal key out of the database file and its copies; against
 * someone who can read every file of the station the protection is forward
 * security (docs/keystore.md).
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include <glib/gi18n-lib.h>
#include <glib/gstdio.h>
#include <openssl/crypto.h>
#include <openssl/rand.h>

#include "pp-store-private.h"

/* 32 random bytes as hex; anything much longer is not one of ours. */
#define PASSPHRASE_BYTES 32
#define MAX_PASSPHRASE_FILE 1024

char *
pp_store_get_key_store_passphrase_path (PpStore *self)
{
  const char *location = g_getenv (PP_STORE_KEY_STORE_ENV);
  const char *secret = g_getenv (PP_STORE_KEY_STORE_SECRET_ENV);
  g_autofree char *dir = NULL;

  g_return_val_if_fail (PP_IS_STORE (self), NULL);

  if ((location != NULL && *location != '\0') || (secret != NULL && *secret != '\0'))
    return NULL;
  dir = g_path_get_dirname (pp_store_get_path (self));
  return g_build_filename (dir, PP_STORE_KEY_STORE_PASSPHRASE_FILE, NULL);
}

/* TRUE if @dir is missing or an empty folder: a key store not made yet. */
static gboolean
is_new_key_store (const char *dir)
{
  g_autoptr(GDir) d = g_dir_open (dir, 0, NULL);

  if (!g_file_test (dir, G_FILE_TEST_EXISTS))
    return TRUE;
  return d != NULL && g_dir_read_name (d) == NULL;
}

static PpSecureBuffer *
read_passphrase_file (const char  *path,
                      GError     **error)
{
  g_autoptr(PpSecureBuffer) buf = NULL;
  GStatBuf st;
  gsize len = 0;
  int fd;

  fd = g_open (path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW, 0);
  if (fd < 0)
    {
      int saved = errno;

      g_set_error (error, PP_STORE_ERROR, PP_STORE_ERROR_OPEN,
                   _("cannot read the key store passphrase file %s: %s; set %s to the key "
                     "store's passphrase instead"),
                   path, g_strerror (saved), PP_STORE_KEY_STORE_SECRET_ENV);
      return NULL;
    }
  if (fstat (fd, &st) != 0 || !S_ISREG (st.st_mode) || st.st_size <= 0 ||
      st.st_size > MAX_PASSPHRASE_FILE)
    {
      close (fd);
      g_set_error (error, PP_STORE_ERROR, PP_STORE_ERROR_OPEN,
                   _("the key store passphrase file %s is not a small regular file"), path);
      return NULL;
    }
  /* Like ssh with a private key: a passphrase others can read protects nothing. */
  if ((st.st_mode & 077) != 0)
    {
      close (fd);
      g_set_error (error, PP_STORE_ERROR, PP_STORE_ERROR_OPEN,
                   _("the key store passphrase file %s can be read by other users; make it "
                     "private (chmod 600) or remove their access"), path);
      return NULL;
    }

  buf = pp_secure_buffer_new ((gsize) st.st_size + 1);
  while (len < (gsize) st.st_size)
    {
      ssize_t n = read (fd, pp_secure_buffer_get_data (buf) + len, (gsize) st.st_size - len);

      if (n < 0 && errno == EINTR)
        continue;
      if (n <= 0)
        {
          int saved = errno;

          close (fd);
          g_set_error (error, PP_STORE_ERROR, PP_STORE_ERROR_OPEN,
                       _("cannot read the key store passphrase file %s: %s"), path,
                       n < 0 ? g_strerror (saved) : _("it ended early"));
          return NULL;
        }
      len += (gsize) n;
    }
  close (fd);

  while (len > 0 && (pp_secure_buffer_peek (buf)[len - 1] == '\n' ||
                     pp_secure_buffer_peek (buf)[len - 1] == '\r'))
    len--;
  pp_secure_buffer_get_data (buf)[len] = '\0';
  if (len == 0 || memchr (pp_secure_buffer_peek (buf), '\0', len) != NULL)
    {
      g_set_error (error, PP_STORE_ERROR, PP_STORE_ERROR_OPEN,
                   _("the key store passphrase file %s holds no passphrase"), path);
      return NULL;
    }
  return g_steal_pointer (&buf);
}

static PpSecureBuffer *
make_passphrase_file (const char  *path,
                      GError     **error)
{
  static const char hex[] = "0123456789abcdef";
  g_autoptr(PpSecureBuffer) raw = pp_secure_buffer_new (PASSPHRASE_BYTES);
  g_autoptr(PpSecureBuffer) text = pp_secure_buffer_new (2 * PASSPHRASE_BYTES + 2);
  g_autoptr(GError) local = NULL;
  g_autofree char *dir = g_path_get_dirname (path);
  guint8 *out = pp_secure_buffer_get_data (text);

  if (RAND_bytes (pp_secure_buffer_get_data (raw), PASSPHRASE_BYTES) != 1)
    {
      g_set_error_literal (error, PP_STORE_ERROR, PP_STORE_ERROR_OPEN,
                           _("cannot make a key store passphrase: no random bytes"));
      return NULL;
    }
  for (gsize i = 0; i < PASSPHRASE_BYTES; i++)
    {
      out[2 * i] = (guint8) hex[pp_secure_buffer_peek (raw)[i] >> 4];
      out[2 * i + 1] = (guint8) hex[pp_secure_buffer_peek (raw)[i] & 0xf];
    }
  out[2 * PASSPHRASE_BYTES] = '\n';

  /* A temporary file made 0600, synced, then renamed: never a prefix. */
  if (g_mkdir_with_parents (dir, 0700) != 0 ||
      !g_file_set_contents_full (path, (const char *) out, 2 * PASSPHRASE_BYTES + 1,
                                 G_FILE_SET_CONTENTS_CONSISTENT | G_FILE_SET_CONTENTS_DURABLE,
                                 0600, &local))
    {
      g_set_error (error, PP_STORE_ERROR, PP_STORE_ERROR_OPEN,
                   _("cannot write the key store passphrase file %s: %s"), path,
                   local != NULL ? local->message : g_strerror (errno));
      return NULL;
    }
  out[2 * PASSPHRASE_BYTES] = '\0';
  return g_steal_pointer (&text);
}

gboolean
pp_store_get_key_store_secret (PpStore         *self,
                               const char      *location,
                               gboolean         create,
                               PpSecureBuffer **out_secret,
                               GError         **error)
{
  const char *secret = g_getenv (PP_STORE_KEY_STORE_SECRET_ENV);
  g_autofree char *path = NULL;

  *out_secret = NULL;
  if (secret != NULL && *secret != '\0')
    {
      *out_secret = pp_secure_buffer_new_from ((const guint8 *) secret, strlen (secret) + 1);
      return TRUE;
    }
  path = pp_store_get_key_store_passphrase_path (self);
  if (path == NULL)
    return TRUE;   /* an explicit key store without a secret: its own error says what to set */
  if (!g_file_test (path, G_FILE_TEST_EXISTS) && create && is_new_key_store (location))
    *out_secret = make_passphrase_file (path, error);
  else if (!g_file_test (path, G_FILE_TEST_EXISTS) && is_new_key_store (location))
    return TRUE;
  else
    *out_secret = read_passphrase_file (path, error);
  return *out_secret != NULL;
}
