/* SPDX-License-Identifier: GPL-3.0-or-later
 *
 * tool-kcv.c: posprov-tool kcv: the check value of a key given in hex.
 */
#include "config.h"

#include <stdio.h>

#include <glib/gi18n.h>

#include "pp-hex.h"
#include "pp-kcv.h"
#include "pp-secure-buffer.h"
#include "tool-commands.h"
#include "tool-common.h"

int
pp_tool_kcv_main (int    argc,
                  char **argv)
{
  g_autofree char *algorithm = NULL;
  g_autoptr(GOptionContext) context = NULL;
  g_autoptr(PpSecureBuffer) key = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *kcv = NULL;
  PpKeyAlgorithm alg;
  int length = 0;
  GOptionEntry entries[] = {
    { "algorithm", 'a', 0, G_OPTION_ARG_STRING, &algorithm,
      N_("Key algorithm: tdes or aes"), N_("ALG") },
    { "length", 'l', 0, G_OPTION_ARG_INT, &length,
      N_("Check value length in bytes, 2 to 8 (default: 3 for TDES, 5 for AES)"), N_("N") },
    { NULL }
  };

  context = g_option_context_new (_("KEY_HEX"));
  g_option_context_set_summary (context,
                                _("Prints the key check value: TDES encrypts a zero block, "
                                  "AES takes the CMAC of a zero block."));
  g_option_context_add_main_entries (context, entries, GETTEXT_PACKAGE);
  if (!pp_tool_parse (context, &argc, &argv))
    return 1;

  if (algorithm == NULL)
    return pp_tool_fail (_("missing --algorithm (tdes or aes)"));
  if (g_ascii_strcasecmp (algorithm, "tdes") == 0)
    alg = PP_KEY_ALGORITHM_TDES;
  else if (g_ascii_strcasecmp (algorithm, "aes") == 0)
    alg = PP_KEY_ALGORITHM_AES;
  else
    return pp_tool_fail (_("unknown algorithm “%s” (tdes or aes)"), algorithm);

  if (argc != 2)
    return pp_tool_fail (_("expected exactly one KEY_HEX argument"));

  key = pp_secure_buffer_new_from_hex (argv[1], &error);
  if (key == NULL)
    return pp_tool_fail (_("invalid key: %s"), error->message);

  if (length == 0)
    length = pp_kcv_default_length (alg);
  if (length < PP_KCV_MIN_LENGTH || length > PP_KCV_MAX_LENGTH)
    return pp_tool_fail (_("--length must be %d to %d, not %d"),
                         PP_KCV_MIN_LENGTH, PP_KCV_MAX_LENGTH, length);

  kcv = pp_kcv_compute (alg, key, length, &error);
  if (kcv == NULL)
    return pp_tool_fail (_("cannot compute the check value: %s"), error->message);

  printf ("%s\n", kcv);
  return 0;
}
