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

/* A key the terminal holds, as IDENTIFY and STATUS list it (KEYS in
 * docs/link-protocol.md).  Never a key's value. */
typedef struct {
  guint     slot;
  char     *usage;              /* TR-31 usage: "K0", "P0", "M3", "B1" */
  gboolean  working;            /* a sign-on working key (deleted by sign-off) */
  char     *kcv;                /* upper-case hex */
} PpTerminalKey;

PpTerminalKey  *pp_terminal_key_new       (guint slot, const char *usage, gboolean working,
                                           const char *kcv);
PpTerminalKey  *pp_terminal_key_copy      (const PpTerminalKey *key);
void            pp_terminal_key_free      (PpTerminalKey *key);
/* A copy of @keys (element-type PpTerminalKey), NULL for NULL. */
GPtrArray      *pp_terminal_keys_copy     (GPtrArray *keys);

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
  /* PpTerminalKey *: the keys it holds; NULL when the terminal does not
   * tell (then a lost LOAD_KEY answer cannot be settled by IDENTIFY). */
  GPtrArray *keys;
} PpTerminalInfo;

#define PP_TYPE_TERMINAL_INFO (pp_terminal_info_get_type ())
GType           pp_terminal_info_get_type (void) G_GNUC_CONST;
PpTerminalInfo *pp_terminal_info_copy     (const PpTerminalInfo *info);
void            pp_terminal_info_free     (PpTerminalInfo       *info);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (PpTerminalInfo, pp_terminal_info_free)
/* The held key whose KCV is @kcv (compared in constant time), or NULL. */
const PpTerminalKey *pp_terminal_info_find_kcv (const PpTerminalInfo *info,
                                                const char           *kcv);

/* What STATUS tells.  Text is the terminal's: print it with care. */
typedef struct {
  gboolean   tampered;
  gboolean   has_cert;
  char      *bound_kdh;         /* NULL: unbound */
  char      *program_name;      /* NULL: no program installed */
  char      *program_version;
  char      *summary;           /* the terminal's one-line English summary, or NULL */
  GPtrArray *keys;              /* PpTerminalKey *; NULL when the terminal lists none */
} PpTerminalStatus;

#define PP_TYPE_TERMINAL_STATUS (pp_terminal_status_get_type ())
GType             pp_terminal_status_get_type (void) G_GNUC_CONST;
PpTerminalStatus *pp_terminal_status_copy     (const PpTerminalStatus *status);
void              pp_terminal_status_free     (PpTerminalStatus       *status);
/* The master key the terminal unwraps working keys under: the non-working
 * key of usage K* in the lowest slot (docs/link-protocol.md, SIGN_ON), or NULL. */
const PpTerminalKey *pp_terminal_status_get_master_key (const PpTerminalStatus *status);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (PpTerminalStatus, pp_terminal_status_free)

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

  /* sign-on, status */
  void            (*sign_on_async)     (PpTerminalDevice *self, guint32 operator_id, const char *password,
                                        const char *pin_key_block, const char *mac_key_block,
                                        GCancellable *cancellable,
                                        GAsyncReadyCallback callback, gpointer user_data);
  gboolean        (*sign_on_finish)    (PpTerminalDevice *self, GAsyncResult *result,
                                        char **out_pin_kcv, char **out_mac_kcv, GError **error);
  void            (*sign_off_async)    (PpTerminalDevice *self, GCancellable *cancellable,
                                        GAsyncReadyCallback callback, gpointer user_data);
  gboolean        (*sign_off_finish)   (PpTerminalDevice *self, GAsyncResult *result, GError **error);
  void            (*status_async)      (PpTerminalDevice *self, GCancellable *cancellable,
                                        GAsyncReadyCallback callback, gpointer user_data);
  PpTerminalStatus *(*status_finish)   (PpTerminalDevice *self, GAsyncResult *result, GError **error);
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

/* sign-on, status */

/* SIGN_ON: operator and password, PIN and MAC keys as TR-31 blocks under
 * the master key; returns the KCVs the terminal computed of the PIN key
 * and of the MAC key (NULL when the terminal does not report it).  A wrong
 * operator or password is REFUSED with reason 0x0004, no master key
 * 0x0001, a block the terminal refuses 0x0005 (the REASON codes of
 * docs/link-protocol.md). */
void            pp_terminal_device_sign_on_async     (PpTerminalDevice    *self,
                                                      guint32              operator_id,
                                                      const char          *password,
                                                      const char          *pin_key_block,
                                                      const char          *mac_key_block,
                                                      GCancellable        *cancellable,
                                                      GAsyncReadyCallback  callback,
                                                      gpointer             user_data);
gboolean        pp_terminal_device_sign_on_finish    (PpTerminalDevice    *self,
                                                      GAsyncResult        *result,
                                                      char               **out_pin_kcv,
                                                      char               **out_mac_kcv,
                                                      GError             **error);
/* SIGN_OFF: the working keys deleted. */
void            pp_terminal_device_sign_off_async    (PpTerminalDevice    *self,
                                                      GCancellable        *cancellable,
                                                      GAsyncReadyCallback  callback,
                                                      gpointer             user_data);
gboolean        pp_terminal_device_sign_off_finish   (PpTerminalDevice    *self,
                                                      GAsyncResult        *result,
                                                      GError             **error);
/* STATUS: tamper state, certificate, binding, program and the held keys. */
void              pp_terminal_device_status_async    (PpTerminalDevice    *self,
                                                      GCancellable        *cancellable,
                                                      GAsyncReadyCallback  callback,
                                                      gpointer             user_data);
PpTerminalStatus *pp_terminal_device_status_finish   (PpTerminalDevice    *self,
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
