/* SPDX-License-Identifier: GPL-3.0-or-later
 *
 * pp-reviewer-form.h: "Reviewer Signs In Here": a reviewer at this station
 * types their user name, password and reason and approves or rejects the
 * request on screen (the install wizard's and the recycle page's approval
 * step).  The form checks the password with the registry
 * (pp_registry_authenticate) and hands the decision over with "decided";
 * whether the reviewer may decide is the registry's and the flow's call.
 */
#pragma once

#include <adwaita.h>

#include "pp-registry.h"

G_BEGIN_DECLS

#define PP_TYPE_REVIEWER_FORM (pp_reviewer_form_get_type ())
G_DECLARE_FINAL_TYPE (PpReviewerForm, pp_reviewer_form, PP, REVIEWER_FORM, GtkBox)

/* Signal "decided" (const char *reviewer, gboolean approve, const char
 * *reason): the reviewer signed in; the password is gone from its entry.
 * Properties "registry" (PpRegistry, checks the password), "accepting"
 * (boolean: the request waits for a decision; the form is usable only
 * then), "open" (boolean, read: the reviewer's fields are shown). */
GtkWidget *pp_reviewer_form_new                (void);
void       pp_reviewer_form_set_registry       (PpReviewerForm *self,
                                                PpRegistry     *registry);
void       pp_reviewer_form_set_accepting      (PpReviewerForm *self,
                                                gboolean        accepting);
gboolean   pp_reviewer_form_get_open           (PpReviewerForm *self);
/* Shows why the decision was refused (NULL: nothing). */
void       pp_reviewer_form_set_error          (PpReviewerForm *self,
                                                const char     *message);
/* Closed, with no reason typed: for the next request. */
void       pp_reviewer_form_reset              (PpReviewerForm *self);
/* The button that opens the form (the page's first field) and Approve
 * (the window's default while the form is open). */
GtkWidget *pp_reviewer_form_get_toggle         (PpReviewerForm *self);
GtkWidget *pp_reviewer_form_get_approve_button (PpReviewerForm *self);

G_END_DECLS
