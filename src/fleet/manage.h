/*
 * manage.h - the fleet as an operator manages it, shared by the API and the
 * CLI: sites' places, groups (listed or dynamic) and their members, the
 * fleet-list filter, machines moved or decommissioned, organisations and
 * accounts deactivated.
 *
 * Each call is one store transaction and logs a clear error (never the
 * refused content) before returning a negative code: CC_ERR_INVALID for bad
 * input, CC_ERR_NOTFOUND, CC_ERR_EXISTS, CC_ERR_STATE for a change the
 * object's state refuses (a dynamic group's members are computed; a machine
 * decommissioned already).
 */
#ifndef CC_FLEET_MANAGE_H
#define CC_FLEET_MANAGE_H

#include <stdint.h>

#include "store/store.h"
#include "vault/vault.h"

/* A site's place as given (text; NULL: not given, "" on update: clear it).
 * lat/lon are decimal degrees with at most 2 decimals (about 1 km: a place,
 * not a door); timezone a zone of the tz database (common/zone.h), which
 * business hours are read in. */
struct site_place {
	const char *address, *lat, *lon, *timezone;
	const char *hours; /* business hours (fleet/hours.h), kept in their canonical form */
};

int manage_site_add(struct vault *v, const char *customer, const char *name, const struct site_place *p,
                    struct store_site *out);
/* Changes the fields of p that are given. */
int manage_site_update(struct vault *v, int64_t site_id, const struct site_place *p, struct store_site *out);

/*
 * The fleet list's filter fields, shared by GET /api/v1/machines, `machine
 * list`/`status` and dynamic groups: status, model, version (software),
 * site, error, last_seen_after, last_seen_before (epoch ms).
 */
struct fleet_query {
	enum store_machine_status_filter status;
	int has_status;
	char model[CC_NAME_MAX + 1];
	char version[CC_NAME_MAX + 1];
	char site[CC_NAME_MAX + 1];
	enum store_error_filter error;
	int64_t seen_after_ms, seen_before_ms;
	int contradicts; /* two filters asked for different values of one field: nothing matches */
};

/* 1 when key is a filter field. */
int fleet_query_field(const char *key);
/* Sets one field from its text; CC_ERR_INVALID for a bad value (nothing
 * logged: fleet_query_help says what the field takes). A field set already
 * to another value marks the query contradictory (filters AND). */
int fleet_query_set(struct fleet_query *q, const char *key, const char *value);
const char *fleet_query_help(const char *key);
/* A dynamic group's filter text into q (ANDed with what q holds). */
int fleet_query_from_json(struct fleet_query *q, const char *filter);
/* sort=field[,-field]... (serial, model, customer, site, last_seen, online,
 * created; "-": descending; at most STORE_SORT_MAX) into f. */
int fleet_sort_parse(const char *text, struct store_machine_filter *f);
/* Copies q's SQL-side fields into f (strings point into q). */
void fleet_query_apply(const struct fleet_query *q, struct store_machine_filter *f);

/* A group of customer; filter (JSON object of filter fields, may be NULL)
 * makes it dynamic. parent: a group of the same customer, or NULL. */
int manage_group_add(struct vault *v, const char *customer, const char *name, const char *parent,
                     const char *filter, struct store_group *out);
/* The machines of group group_id: a listed group's (and its sub-groups'),
 * or those a dynamic group's filter selects now (its software version
 * read from each machine's sealed info). CC_ERR_NOTFOUND: no such group. */
int manage_group_machines(struct vault *v, int64_t group_id,
                          int (*each)(void *ctx, const struct store_machine_status *row), void *ctx);
/* Lists / unlists a machine of the group's own customer in a listed group. */
int manage_group_member(struct vault *v, int64_t group_id, const char *serial, int add);

/* Moves a machine. customer NULL: within its customer, to site (NULL: no
 * site). To another customer: the row is retired under its customer (its
 * records stay sealed under that customer's key, erased with it) and a new
 * row of the same serial and certificate carries the machine on; groups of
 * the old customer no longer list it. *out: the machine as it is after. */
int manage_machine_move(struct vault *v, const char *serial, const char *customer, const char *site,
                        struct store_machine *out);
/* Revokes the certificate (CRL rewritten; a live connection is dropped at the
 * daemon's next fleet poll) and marks the machine decommissioned. */
int manage_machine_decommission(struct vault *v, const char *serial);

/* Deactivates (active 0) or activates an organisation or an account.
 * A deactivated account's sessions end. */
int manage_org_set_active(struct vault *v, const char *org, int active);
int manage_user_set_active(struct vault *v, const char *login, int active);
/* 1 when neither the organisation nor one of its ancestors is deactivated;
 * any failure answers 0 (access fails closed). */
int manage_org_active(struct store *s, int64_t org_id);

#endif
