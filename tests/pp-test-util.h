/* SPDX-License-Identifier: GPL-3.0-or-later
 *
 * pp-test-util.h: what the tests share: public vectors, temp dirs and
 * running posprov-tool as a user would.
 */
#pragma once

#include <glib.h>
#include <json-glib/json-glib.h>

G_BEGIN_DECLS

/* Path of a file under tests/vectors (found through G_TEST_SRCDIR); never
 * NULL: a missing file aborts the test, which then fails. */
char      *pp_test_vector_path  (const char *relative);

/* A vector file's "cases" array, never NULL or empty (that fails the test). */
JsonArray *pp_test_vector_cases (const char *relative,
                                 JsonParser **out_parser);

/* A password that passes the account policy (pp_password_check_policy: 12
 * characters or more, not a common one, no test user's name in it), one per
 * @tag (a string literal), so tests that set several can tell them apart. */
#define PP_TEST_PASSWORD(tag) "tidy-otter-lamp-" tag

/* A fresh directory under the test's temp dir, removed at exit. */
char      *pp_test_make_tmpdir  (void);

/* Runs posprov-tool (PP_TOOL) with @argv (NULL-terminated, without the
 * program) and optional stdin text; returns its exit status. */
int        pp_test_run_tool     (const char * const *argv,
                                 const char         *stdin_text,
                                 char              **out_stdout,
                                 char              **out_stderr);

/* Runs posprov-tool in Simplified Chinese with the build tree's catalogue,
 * as scripts/run does (LANGUAGE works under the C.UTF-8 of the test env);
 * stdout is dropped. Returns its exit status. */
int        pp_test_run_tool_zh_cn (const char * const *argv,
                                   char              **out_stderr);

/* Same, but a tool still running after @timeout_seconds is killed and the
 * result is -2: for inputs (a FIFO) that once made the tool block. */
int        pp_test_run_tool_timeout (const char * const *argv,
                                     guint               timeout_seconds,
                                     char              **out_stdout,
                                     char              **out_stderr);

/* Runs the program named by the environment variable @binary_env with
 * @args (NULL-terminated) as a user would, nothing of the caller's
 * environment speaking for the test: PP_REGISTRY_USER and
 * PP_REGISTRY_PASSWORD unset, POSPROV_KEY_STORE_SECRET @key_store_secret;
 * then @env applied in order ("NAME=value" sets, a bare "NAME" unsets).
 * Its output in @out_stdout/@out_stderr (nullable); returns its exit
 * status (-1: killed). */
int        pp_test_run_program  (const char         *binary_env,
                                 const char * const *args,
                                 const char * const *env,
                                 const char         *key_store_secret,
                                 char              **out_stdout,
                                 char              **out_stderr);

/* Runs posprov-tool as @user with @password in PP_REGISTRY_USER and
 * PP_REGISTRY_PASSWORD, trusting the PEM @ca in PP_REGISTRY_CA (NULL:
 * unset), without POSPROV_KEY_STORE; returns its exit status (-1 when it
 * did not exit). */
int        pp_test_run_tool_as  (const char * const *argv,
                                 const char         *user,
                                 const char         *password,
                                 const char         *ca,
                                 char              **out_stdout,
                                 char              **out_stderr);

G_END_DECLS
