/*
 * policy.h - privacy policy versions and consent (DESIGN §2.6).
 *
 * Every version has a text, a "last updated" date and the purposes data is
 * used for. Version 1 is accepted by contract. When a later version adds a
 * purpose, a customer's data serves that purpose only once the customer
 * has consented to that version or a later one: every API route declares
 * its purpose and asks policy_allows before it serves a customer's data.
 */
#ifndef CC_ACCESS_POLICY_H
#define CC_ACCESS_POLICY_H

#include <stdint.h>

#include "access/users.h"
#include "store/store.h"
#include "vault/vault.h"

/* The newest version. */
int policy_current(struct vault *v, struct store_policy *out);

/* Publishes a new version. purposes: comma-separated names of [a-z_]. */
int policy_publish(struct vault *v, const char *text, const char *purposes, const char *last_updated,
                   int64_t *version);

/* 1 if customer_id's data may serve purpose; 0 if not (a purpose no version
 * names, or one added by a version the customer has not consented to).
 * Purpose "none" (no customer data) and "administration" are always allowed. */
int policy_allows(struct vault *v, int64_t customer_id, const char *purpose);

/*
 * Consent is the customer's own act (docs/ARCHITECTURE.md, "Who may do
 * what"): given by an account of the customer itself with the role
 * customer_manager or admin. Nobody above it - not its distributor, not the
 * manufacturer - consents for it, or the consent gate on new purposes
 * would be the manufacturer's to open. The API and the CLI both go through
 * this one check.
 */
int policy_may_consent(const struct user_info *by, int64_t customer_id);

/* Records that the account `login` gave the consent of customer_id to
 * version: CC_ERR_PERM when policy_may_consent refuses that account,
 * CC_ERR_NOTFOUND for no such account or version. */
int policy_consent(struct vault *v, int64_t customer_id, int64_t version, const char *login);

#endif
