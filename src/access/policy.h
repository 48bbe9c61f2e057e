/*
 * policy.h - privacy policy versions and consent (docs/PRODUCT.md §2.6).
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

#include <jansson.h>

#include "access/users.h"
#include "store/store.h"
#include "vault/vault.h"

/* The newest version. */
int policy_current(struct vault *v, struct store_policy *out);
/* One version, CC_ERR_NOTFOUND if there is none of that number. */
int policy_version_get(struct vault *v, int64_t version, struct store_policy *out);

/* Publishes a new version. purposes: comma-separated names of [a-z_].
 * The product publishes drafts (below); this is their last step. */
int policy_publish(struct vault *v, const char *text, const char *purposes, const char *last_updated,
                   int64_t *version);

/*
 * Drafts (access/policy_doc.h). The daemon builds the facts of its running
 * configuration at start and hands them to policy_draft_refresh: when they
 * differ from the current version's, a draft is kept (in meta
 * "policy-draft", its prose taken from the current version, or the default
 * texts) until the platform's admins publish it; until then the current
 * version stays in force and is what GET /policy serves. Facts equal to the
 * current version's drop the draft. *changed: 1 if a new draft was written.
 */
int policy_draft_refresh(struct vault *v, json_t *facts, int *changed);
/* The draft document (new reference), CC_ERR_NOTFOUND when there is none. */
int policy_draft_get(struct vault *v, json_t **out);
/* The facts the running daemon last rendered: the draft's when one waits,
 * else the current version's (*out: a new reference). CC_ERR_NOTFOUND: none. */
int policy_facts_in_force(struct vault *v, json_t **out);
/* Replaces the prose of a clause of the draft in one language (a language
 * the draft does not have yet starts from the English text). */
int policy_draft_set_prose(struct vault *v, const char *lang, const char *clause, const char *prose);
/* Publishes the draft as the next version; last_updated NULL: today (UTC). */
int policy_draft_publish(struct vault *v, const char *last_updated, int64_t *version);

/* The data controller named in the policy: {"name","address","contact"}
 * (new reference; empty strings until named). */
json_t *policy_controller_get(struct vault *v);
/* Names the data controller; the draft (or a new one, from the current
 * version's facts) follows at once. Each field 1..CC_CONTROLLER_FIELD_MAX bytes. */
int policy_controller_set(struct vault *v, const char *name, const char *address, const char *contact);
/* 1 if those would be accepted by policy_controller_set. */
int policy_controller_valid(const char *name, const char *address, const char *contact);

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
 * version, shown in language (a language of that version; NULL: English):
 * CC_ERR_PERM when policy_may_consent refuses that account,
 * CC_ERR_NOTFOUND for no such account, version or language. */
int policy_consent(struct vault *v, int64_t customer_id, int64_t version, const char *language, const char *login);

#endif
