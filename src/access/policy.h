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

/* Records that login consented to version for customer_id. */
int policy_consent(struct vault *v, int64_t customer_id, int64_t version, const char *login);

#endif
