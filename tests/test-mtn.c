/* SPDX-License-Identifier: GPL-3.0-or-later
 *
 * test-mtn.c: merchant-terminal number layout and Luhn check digit.
 *
 * Known Luhn values (public sources):
 * - 7992739871 -> check digit 3: the classic worked example of the Luhn
 *   algorithm (Wikipedia "Luhn algorithm", older revisions; also in many
 *   textbooks), i.e. 79927398713 is valid.
 * - 1789372997 -> check digit 4: the worked example of the current
 *   Wikipedia "Luhn algorithm" article.
 * - 4111111111111111 (Visa) and 378282246310005 (American Express): the
 *   public test card numbers published by payment processors (e.g. Stripe's
 *   and PayPal's testing documentation); both pass the Luhn check.
 */
#include "config.h"

#include <string.h>

#include "pp-mtn.h"

static void
test_luhn_known (void)
{
  g_assert_cmpint (pp_mtn_luhn_digit ("7992739871"), ==, '3');
  g_assert_cmpint (pp_mtn_luhn_digit ("1789372997"), ==, '4');
  g_assert_cmpint (pp_mtn_luhn_digit ("411111111111111"), ==, '1');
  g_assert_cmpint (pp_mtn_luhn_digit ("37828224631000"), ==, '5');
  /* sum a multiple of 10 gives 0, not 10 */
  g_assert_cmpint (pp_mtn_luhn_digit ("0"), ==, '0');
  g_assert_cmpint (pp_mtn_luhn_digit ("5"), ==, '9');
  g_assert_cmpint (pp_mtn_luhn_digit ("9"), ==, '1');

  g_assert_cmpint (pp_mtn_luhn_digit (""), ==, '\0');
  g_assert_cmpint (pp_mtn_luhn_digit ("12a4"), ==, '\0');
}

static void
test_luhn_catches_single_errors (void)
{
  /* Every single-digit change of a valid number must change the check
   * digit: the reason Luhn is used for numbers people type. */
  const char *base = "89812340000042";
  char good = pp_mtn_luhn_digit (base);

  for (gsize i = 0; i < strlen (base); i++)
    {
      for (char c = '0'; c <= '9'; c++)
        {
          char copy[32];

          if (c == base[i])
            continue;
          g_strlcpy (copy, base, sizeof copy);
          copy[i] = c;
          g_assert_cmpint (pp_mtn_luhn_digit (copy), !=, good);
        }
    }
}

static void
test_format_mid (void)
{
  g_autoptr(GError) error = NULL;
  char mid[16];

  /* The worked example of docs/merchant-terminal-numbers.md. */
  g_assert_true (pp_mtn_format_mid ("8981234", 42, mid, &error));
  g_assert_no_error (error);
  g_assert_cmpstr (mid, ==, "898123400000423");
  g_assert_true (pp_mtn_validate_mid (mid, &error));
  g_assert_no_error (error);

  g_assert_true (pp_mtn_format_mid ("", 0, mid, &error));
  g_assert_no_error (error);
  g_assert_cmpstr (mid, ==, "000000000000000");

  g_assert_true (pp_mtn_format_mid ("", 79927398713ULL, mid, &error));
  g_assert_no_error (error);
  g_assert_cmpstr (mid, ==, "000799273987138");

  /* Longest prefix leaves one sequence digit: 0..9. */
  g_assert_true (pp_mtn_format_mid ("1234567890123", 9, mid, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (strlen (mid), ==, 15);
  g_assert_true (g_str_has_prefix (mid, "12345678901239"));

  g_assert_false (pp_mtn_format_mid ("1234567890123", 10, mid, &error));
  g_assert_error (error, PP_MTN_ERROR, PP_MTN_ERROR_SEQUENCE_OVERFLOW);
  g_clear_error (&error);

  g_assert_false (pp_mtn_format_mid ("12345678901234", 1, mid, &error));
  g_assert_error (error, PP_MTN_ERROR, PP_MTN_ERROR_PREFIX_TOO_LONG);
  g_clear_error (&error);

  g_assert_false (pp_mtn_format_mid ("89A", 1, mid, &error));
  g_assert_error (error, PP_MTN_ERROR, PP_MTN_ERROR_BAD_PREFIX);
  g_clear_error (&error);

  g_assert_false (pp_mtn_format_mid ("", G_MAXUINT64, mid, &error));
  g_assert_error (error, PP_MTN_ERROR, PP_MTN_ERROR_SEQUENCE_OVERFLOW);
}

static void
test_format_tid (void)
{
  g_autoptr(GError) error = NULL;
  char tid[9];

  g_assert_true (pp_mtn_format_tid ("102", 7, tid, &error));
  g_assert_no_error (error);
  g_assert_cmpstr (tid, ==, "10200079");
  g_assert_true (pp_mtn_validate_tid (tid, &error));
  g_assert_no_error (error);

  g_assert_true (pp_mtn_format_tid ("102", 9999, tid, &error));
  g_assert_no_error (error);
  g_assert_true (g_str_has_prefix (tid, "1029999"));

  g_assert_false (pp_mtn_format_tid ("102", 10000, tid, &error));
  g_assert_error (error, PP_MTN_ERROR, PP_MTN_ERROR_SEQUENCE_OVERFLOW);
  g_clear_error (&error);

  g_assert_false (pp_mtn_format_tid ("1234567", 0, tid, &error));
  g_assert_error (error, PP_MTN_ERROR, PP_MTN_ERROR_PREFIX_TOO_LONG);
  g_clear_error (&error);

  g_assert_false (pp_mtn_format_tid ("-1", 0, tid, &error));
  g_assert_error (error, PP_MTN_ERROR, PP_MTN_ERROR_BAD_PREFIX);
}

static void
test_validate (void)
{
  g_autoptr(GError) error = NULL;

  g_assert_true (pp_mtn_validate_mid ("898123400000423", &error));
  g_assert_no_error (error);

  /* one digit mistyped */
  g_assert_false (pp_mtn_validate_mid ("898123400000483", &error));
  g_assert_error (error, PP_MTN_ERROR, PP_MTN_ERROR_CHECK_DIGIT);
  g_clear_error (&error);
  /* two adjacent digits swapped */
  g_assert_false (pp_mtn_validate_mid ("898213400000423", &error));
  g_assert_error (error, PP_MTN_ERROR, PP_MTN_ERROR_CHECK_DIGIT);
  g_clear_error (&error);

  g_assert_false (pp_mtn_validate_mid ("89812340000042", &error));
  g_assert_error (error, PP_MTN_ERROR, PP_MTN_ERROR_LENGTH);
  g_clear_error (&error);
  g_assert_false (pp_mtn_validate_mid ("", &error));
  g_assert_error (error, PP_MTN_ERROR, PP_MTN_ERROR_LENGTH);
  g_clear_error (&error);
  g_assert_false (pp_mtn_validate_mid ("8981234000004 3", &error));
  g_assert_error (error, PP_MTN_ERROR, PP_MTN_ERROR_NOT_DIGITS);
  g_assert_nonnull (strstr (error->message, "position 14"));
  g_clear_error (&error);

  g_assert_true (pp_mtn_validate_tid ("10200079", &error));
  g_assert_no_error (error);
  g_assert_false (pp_mtn_validate_tid ("10200078", &error));
  g_assert_error (error, PP_MTN_ERROR, PP_MTN_ERROR_CHECK_DIGIT);
  g_clear_error (&error);
  g_assert_false (pp_mtn_validate_tid ("102000790", &error));
  g_assert_error (error, PP_MTN_ERROR, PP_MTN_ERROR_LENGTH);
  g_clear_error (&error);
  g_assert_false (pp_mtn_validate_tid ("1O200079", &error));
  g_assert_error (error, PP_MTN_ERROR, PP_MTN_ERROR_NOT_DIGITS);
}

static void
test_round_trip (void)
{
  /* Every formatted number validates, across the sequence range edges. */
  const guint64 seqs[] = { 0, 1, 9, 10, 99999, 1234567, 9999999 };

  for (guint i = 0; i < G_N_ELEMENTS (seqs); i++)
    {
      g_autoptr(GError) error = NULL;
      char mid[16], tid[9];

      g_assert_true (pp_mtn_format_mid ("4401", seqs[i], mid, &error));
      g_assert_no_error (error);
      g_assert_true (pp_mtn_validate_mid (mid, &error));
      g_assert_no_error (error);

      g_assert_true (pp_mtn_format_tid ("", seqs[i], tid, &error));
      g_assert_no_error (error);
      g_assert_true (pp_mtn_validate_tid (tid, &error));
      g_assert_no_error (error);
    }
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/mtn/luhn/known", test_luhn_known);
  g_test_add_func ("/mtn/luhn/single-errors", test_luhn_catches_single_errors);
  g_test_add_func ("/mtn/format/mid", test_format_mid);
  g_test_add_func ("/mtn/format/tid", test_format_tid);
  g_test_add_func ("/mtn/validate", test_validate);
  g_test_add_func ("/mtn/round-trip", test_round_trip);
  return g_test_run ();
}
