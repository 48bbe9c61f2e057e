/*
 * grants.h - time-limited access of a subcontractor to named machines or a
 * site, for a stated purpose (docs/PRODUCT.md §1, docs/ARCHITECTURE.md "Who may do what").
 *
 * Grants are made by admins or by service managers for machines in their
 * own organisation's subtree, to accounts with the subcontractor role, or
 * to site staff for a site of their own customer (and nothing else). A
 * grant gives nothing once expired or revoked; subcontractors and site
 * staff see nothing else.
 */
#ifndef CC_ACCESS_GRANTS_H
#define CC_ACCESS_GRANTS_H

#include <stdint.h>

#include "store/store.h"
#include "vault/vault.h"

/* A grant runs for at most this long. */
#define GRANTS_MAX_DAYS 366

struct grant_request {
	const char *login;    /* the subcontractor */
	const char *serial;   /* a machine, or */
	const char *customer; /* ... a customer's */
	const char *site;     /* ... site */
	const char *purpose;  /* downtime, quality, support or updates */
	int64_t expires_ms;
};

/* scope_org_id: the granter's organisation (its subtree bounds what it may
 * grant); 0 for no bound (the CLI, run by the operator). */
int grants_add(struct vault *v, const struct grant_request *req, const char *created_by,
               int64_t scope_org_id, int64_t *id);

/* CC_ERR_NOTFOUND also for a grant outside the scope. */
int grants_revoke(struct vault *v, int64_t id, int64_t scope_org_id);

/* Grants whose customer is inside the scope (0: all), newest first. */
int grants_list(struct vault *v, int64_t scope_org_id,
                int (*each)(void *ctx, const struct store_grant *g), void *ctx);

/* 1 if user_id may see the machine, for purpose, through a grant in force
 * now: a grant for updates opens nothing that serves support. */
int grants_cover(struct vault *v, int64_t user_id, const struct store_machine *m, const char *purpose);

/* 1 if user_id holds a grant of the site (not of one of its machines) for
 * purpose, in force now: what a site-wide report asks of a granted role. */
int grants_cover_site(struct vault *v, int64_t user_id, int64_t site_id, const char *purpose);

/* 1 if purpose is one of the policy's purposes. */
int grants_purpose_valid(const char *purpose);

#endif
