/* SPDX-License-Identifier: GPL-3.0-or-later
 *
 * pp-terminal-device.h: one payment terminal, whatever carries it (the
 * seam of docs/terminal-device.md).  The flows in core/ drive a terminal
 * through this interface only; devices/ implements it with a driver (the
 * open posprov link protocol first) over a transport (serial, TCP).
 *
 * Every verb is _async/_finish with a GCancellable; the callback runs on
 * the thread-default main context of the caller.  TR-34 tokens cross the
 * seam as DER bytes, exactly as the terminal sends or receives them, so a
 * station can also relay them to a remote key host.
 */
#pragma once

#include <gio/gio.h>

#include "pp-program-package.h"

G_BEGIN_DECLS

#define PP_TERMINAL_DEVICE_ERROR (pp_terminal_device_error_quark ())

/* What a flow can act on.  The messages are written for the person at the
 * station: what is wrong and what to do. */
typedef enum {
  PP_TERMINAL_DEVICE_ERROR_NO_PORT,      /* no such port */
  PP_TERMINAL_DEVICE_ERROR_PORT_BUSY,    /* the port is open elsewhere */
  PP_TERMINAL_DEVICE_ERROR_UNREACHABLE,  /* no answer, or the terminal went away */
  PP_TERMINAL_DEVICE_ERROR_GARBAGE,      /* wrong baud rate or not a posprov-protocol terminal */
  PP_TERMINAL_DEVICE_ERROR_PROTOCOL,     /* the terminal broke the protocol */
  PP_TERMINAL_DEVICE_ERROR_TAMPERED,     /* security attack: return it for inspection */
  PP_TERMINAL_DEVICE_ERROR_NOT_BOUND,    /* bind it to a KDH first */
  PP_TERMINAL_DEVICE_ERROR_NO_CERT,      /* certify it first */
  PP_TERMINAL_DEVICE_ERROR_REFUSED,      /* refused: pp_terminal_device_error_get_reason () */
  PP_TERMINAL_DEVICE_ERROR_BUSY,         /* the terminal is busy: try again */
  PP_TERMINAL_DEVICE_ERROR_UNSUPPORTED,  /* the terminal does not know the command */
} PpTerminalDeviceError;

GQuark  pp_terminal_device_error_quark      (void);
/* The terminal's own reason code of a PP_TERMINAL_DEVICE_ERROR_REFUSED
 * (0 when it gave none, or for any other error). */
guint   pp_terminal_device_error_get_reason (const GError *error);
/* Sets @error with @reason attached. */
void    pp_terminal_device_set_refused      (GError     **error,
                                             guint        reason,
                                             const char  *format,
                                             ...) G_GNUC_PRINTF (3, 4);

/* Capabilities (the same bits as the link protocol's CAPABILITIES). */
typedef enum {
  PP_TERMINAL_CAP_CERTIFY    = 1 << 0,
  PP_TERMINAL_CAP_TR34_2PASS = 1 << 1,
  PP_TERMINAL_CAP_TR34_1PASS = 1 << 2,
  PP_TERMINAL_CAP_PROGRAM    = 1 << 3,
  PP_TERMINAL_CAP_SIGN_ON    = 1 << 4,
  PP_TERMINAL_CAP_DUKPT      = 1 << 5,
} PpTerminalCapabilities;

/* What IDENTIFY tells.  Text is the terminal's: print it with care. */
typedef struct {
  char     *serial;
  char     *vendor;
  char     *model;
  char     *firmware;
  guint     protocol_version;
  guint32   capabilities;       /* PpTerminalCapabilities */
  gboolean  tampered;
  gboolean  has_cert;
  char     *bound_kdh;          /* the bound KDH's subject (RFC 2253), NULL: unbound */
  char     *program_name;       /* NULL: no program installed */
  char     *program_version;
} PpTerminalInfo;

#define PP_TYPE_TERMINAL_INFO (pp_terminal_info_get_type ())
GType           pp_terminal_info_get_type (void) G_GNUC_CONST;
PpTerminalInfo *pp_terminal_info_copy     (const PpTerminalInfo *info);
void            pp_terminal_info_free     (PpTerminalInfo       *info);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (PpTerminalInfo, pp_terminal_info_free)

#define PP_TYPE_TERMINAL_DEVICE (pp_terminal_device_get_type ())
G_DECLARE_INTERFACE (PpTerminalDevice, pp_terminal_device, PP, TERMINAL_DEVICE, GObject)

/* Called on the caller's context as blocks are confirmed: bytes the
 * terminal confirmed so far and the total. */
typedef void (*PpTerminalDeviceProgressFunc) (guint64 confirmed, guint64 total, gpointer user_data);

/* Each verb's finish returns through GTask in every implementation so far;
 * the vfuncs stay separate so that a driver may do otherwise. */
struct _PpTerminalDeviceInterface
{
  GTypeInterface parent_iface;

  void            (*identify_async)    (PpTerminalDevice *self, GCancellable *cancellable,
                                        GAsyncReadyCallback callback, gpointer user_data);
  PpTerminalInfo *(*identify_finish)   (PpTerminalDevice *self, GAsyncResult *result, GError **error);

  void            (*get_csr_async)     (PpTerminalDevice *self, GCancellable *cancellable,
                                        GAsyncReadyCallback callback, gpointer user_data);
  GBytes         *(*get_csr_finish)    (PpTerminalDevice *self, GAsyncResult *result, GError **error);

  void            (*put_cert_async)    (PpTerminalDevice *self, GBytes *cert_der, GCancellable *cancellable,
                                        GAsyncReadyCallback callback, gpointer user_data);
  gboolean        (*put_cert_finish)   (PpTerminalDevice *self, GAsyncResult *result, GError **error);

  void            (*get_ct_krd_async)  (PpTerminalDevice *self, GCancellable *cancellable,
                                        GAsyncReadyCallback callback, gpointer user_data);
  GBytes         *(*get_ct_krd_finish) (PpTerminalDevice *self, GAsyncResult *result, GError **error);

  void            (*bind_async)        (PpTerminalDevice *self, GBytes *ct_kdh, GCancellable *cancellable,
                                        GAsyncReadyCallback callback, gpointer user_data);
  char           *(*bind_finish)       (PpTerminalDevice *self, GAsyncResult *result, GError **error);

  void            (*get_nonce_async)   (PpTerminalDevice *self, GCancellable *cancellable,
                                        GAsyncReadyCallback callback, gpointer user_data);
  GBytes         *(*get_nonce_finish)  (PpTerminalDevice *self, GAsyncResult *result, GError **error);

  void            (*load_key_async)    (PpTerminalDevice *self, GBytes *kt_kdh, int slot,
                                        GCancellable *cancellable,
                                        GAsyncReadyCallback callback, gpointer user_data);
  gboolean        (*load_key_finish)   (PpTerminalDevice *self, GAsyncResult *result,
                                        guint *out_slot, char **out_kcv, GError **error);

  void            (*rebind_async)      (PpTerminalDevice *self, GBytes *rbt_kdh, GCancellable *cancellable,
                                        GAsyncReadyCallback callback, gpointer user_data);
  char           *(*rebind_finish)     (PpTerminalDevice *self, GAsyncResult *result, GError **error);

  void            (*unbind_async)      (PpTerminalDevice *self, GBytes *ubt_kdh, GCancellable *cancellable,
                                        GAsyncReadyCallback callback, gpointer user_data);
  gboolean        (*unbind_finish)     (PpTerminalDevice *self, GAsyncResult *result, GError **error);

  void            (*zeroize_async)     (PpTerminalDevice *self, GCancellable *cancellable,
                                        GAsyncReadyCallback callback, gpointer user_data);
  gboolean        (*zeroize_finish)    (PpTerminalDevice *self, GAsyncResult *result, GError **error);

  /* programs */
  void            (*push_program_async)  (PpTerminalDevice *self, PpProgramPackage *package,
                                          PpTerminalDeviceProgressFunc progress, gpointer progress_data,
                                          GCancellable *cancellable,
                                          GAsyncReadyCallback callback, gpointer user_data);
  gboolean        (*push_program_finish) (PpTerminalDevice *self, GAsyncResult *result,
                                          guint64 *out_resumed_from, GError **error);
};

/* IDENTIFY: serial, vendor, model, firmware, protocol, capabilities,
 * tamper state, certificate, binding, installed program. */
void            pp_terminal_device_identify_async    (PpTerminalDevice    *self,
                                                      GCancellable        *cancellable,
                                                      GAsyncReadyCallback  callback,
                                                      gpointer             user_data);
PpTerminalInfo *pp_terminal_device_identify_finish   (PpTerminalDevice    *self,
                                                      GAsyncResult        *result,
                                                      GError             **error);
/* The terminal's certificate request (DER PKCS#10), for certification. */
void            pp_terminal_device_get_csr_async     (PpTerminalDevice    *self,
                                                      GCancellable        *cancellable,
                                                      GAsyncReadyCallback  callback,
                                                      gpointer             user_data);
GBytes         *pp_terminal_device_get_csr_finish    (PpTerminalDevice    *self,
                                                      GAsyncResult        *result,
                                                      GError             **error);
/* The device certificate issued for that request (DER X.509). */
void            pp_terminal_device_put_cert_async    (PpTerminalDevice    *self,
                                                      GBytes              *cert_der,
                                                      GCancellable        *cancellable,
                                                      GAsyncReadyCallback  callback,
                                                      gpointer             user_data);
gboolean        pp_terminal_device_put_cert_finish   (PpTerminalDevice    *self,
                                                      GAsyncResult        *result,
                                                      GError             **error);
/* CT_KRD: the terminal's credential token (DER), to be verified by the
 * caller (pp_tr34_kdh_receive_krd_credential) before anything is sent. */
void            pp_terminal_device_get_ct_krd_async  (PpTerminalDevice    *self,
                                                      GCancellable        *cancellable,
                                                      GAsyncReadyCallback  callback,
                                                      gpointer             user_data);
GBytes         *pp_terminal_device_get_ct_krd_finish (PpTerminalDevice    *self,
                                                      GAsyncResult        *result,
                                                      GError             **error);
/* BIND with CT_KDH; returns the subject of the KDH the terminal is now bound to. */
void            pp_terminal_device_bind_async        (PpTerminalDevice    *self,
                                                      GBytes              *ct_kdh,
                                                      GCancellable        *cancellable,
                                                      GAsyncReadyCallback  callback,
                                                      gpointer             user_data);
char           *pp_terminal_device_bind_finish       (PpTerminalDevice    *self,
                                                      GAsyncResult        *result,
                                                      GError             **error);
/* RT_KRD: a token carrying a fresh nonce the terminal will accept once. */
void            pp_terminal_device_get_nonce_async   (PpTerminalDevice    *self,
                                                      GCancellable        *cancellable,
                                                      GAsyncReadyCallback  callback,
                                                      gpointer             user_data);
GBytes         *pp_terminal_device_get_nonce_finish  (PpTerminalDevice    *self,
                                                      GAsyncResult        *result,
                                                      GError             **error);
/* LOAD_KEY with KT_KDH into @slot (-1: the terminal chooses); returns the
 * slot used and the terminal's KCV of the key (upper hex). */
void            pp_terminal_device_load_key_async    (PpTerminalDevice    *self,
                                                      GBytes              *kt_kdh,
                                                      int                  slot,
                                                      GCancellable        *cancellable,
                                                      GAsyncReadyCallback  callback,
                                                      gpointer             user_data);
gboolean        pp_terminal_device_load_key_finish   (PpTerminalDevice    *self,
                                                      GAsyncResult        *result,
                                                      guint               *out_slot,
                                                      char               **out_kcv,
                                                      GError             **error);
/* REBIND with RBT_KDH; returns the new KDH's subject. */
void            pp_terminal_device_rebind_async      (PpTerminalDevice    *self,
                                                      GBytes              *rbt_kdh,
                                                      GCancellable        *cancellable,
                                                      GAsyncReadyCallback  callback,
                                                      gpointer             user_data);
char           *pp_terminal_device_rebind_finish     (PpTerminalDevice    *self,
                                                      GAsyncResult        *result,
                                                      GError             **error);
/* UNBIND with UBT_KDH. */
void            pp_terminal_device_unbind_async      (PpTerminalDevice    *self,
                                                      GBytes              *ubt_kdh,
                                                      GCancellable        *cancellable,
                                                      GAsyncReadyCallback  callback,
                                                      gpointer             user_data);
gboolean        pp_terminal_device_unbind_finish     (PpTerminalDevice    *self,
                                                      GAsyncResult        *result,
                                                      GError             **error);
/* ZEROIZE: every key and the KDH binding erased; the device certificate stays. */
void            pp_terminal_device_zeroize_async     (PpTerminalDevice    *self,
                                                      GCancellable        *cancellable,
                                                      GAsyncReadyCallback  callback,
                                                      gpointer             user_data);
gboolean        pp_terminal_device_zeroize_finish    (PpTerminalDevice    *self,
                                                      GAsyncResult        *result,
                                                      GError             **error);

/* programs */
/* PROGRAM_BEGIN (the terminal says how much of this very program it
 * already holds: the push resumes there), PROGRAM_BLOCKs with the link's
 * window kept full, PROGRAM_COMMIT (manifest, signature, signer
 * certificate: the terminal verifies and installs; its old program stays
 * until the new one verifies). @progress (nullable) is called as blocks
 * are confirmed; @progress_data stays alive until @callback. */
void            pp_terminal_device_push_program_async  (PpTerminalDevice             *self,
                                                        PpProgramPackage             *package,
                                                        PpTerminalDeviceProgressFunc  progress,
                                                        gpointer                      progress_data,
                                                        GCancellable                 *cancellable,
                                                        GAsyncReadyCallback           callback,
                                                        gpointer                      user_data);
/* @out_resumed_from: the offset the terminal already held (0: from the start). */
gboolean        pp_terminal_device_push_program_finish (PpTerminalDevice  *self,
                                                        GAsyncResult      *result,
                                                        guint64           *out_resumed_from,
                                                        GError           **error);

G_END_DECLS
