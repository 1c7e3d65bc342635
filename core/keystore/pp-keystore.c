/* SPDX-License-Identifier: GPL-3.0-or-later
 *
 * pp-keystore.c: the PpKeyStore interface, its async wrappers and the
 * error domain shared by the signer and both backends.
 */
#include "config.h"

#include "pp-keystore.h"
#include "pp-keystore-private.h"

G_DEFINE_QUARK (pp-keystore-error-quark, pp_keystore_error)
