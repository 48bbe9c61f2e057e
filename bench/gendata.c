/*
 * gendata.c - `coffeecloud-bench-gendata`: fills a data directory for the
 * query benchmark (bench/api.py). Not part of the product, not installed.
 *
 *   coffeecloud-bench-gendata --data DIR [--machines N] [--customers C]
 *                             [--sites S] [--points P] [--day-start MS]
 *                             [--history-days D]
 *
 * DIR must have been made by `coffeecloud init`. It adds C customers under
 * one distributor, S sites per customer, N machines spread over them (serials
 * BM-00000..), a live state for each (every fifth never seen; the others with
 * a sealed `info` message) and, for machine BM-00000, P telemetry messages at
 * 1 Hz from MS on (the simulator's machine model, src/sim/fleet.c; events the
 * model emits meanwhile are stored as events). With D days of history, each
 * machine seen gets the state changes of D days before the last two hours
 * (fleet/downtime.h): on from about 06:00 to 22:00 every day, a critical
 * fault of 20 minutes every seventh day, an hour of maintenance every tenth.
 *
 * Everything goes through the product's own code, so that it is stored and
 * sealed exactly as the daemon stores it and keeps working when the store's
 * layout changes: organisations and sites through fleet/inventory.h; the
 * first machine through inventory_machine_add (a real certificate); the
 * other machines through the vault's store (`machine_add`, which the vault's
 * integrity layer seals with the row MAC) in one transaction, because
 * inventory_machine_add issues a certificate and commits (one fsync) per
 * machine: minutes for 10,000. They share the first machine's certificate
 * and get distinct fingerprints; nothing connects with them. Live state goes
 * through machine_state_set with the info sealed by vault_seal, as the
 * daemon's writer does; telemetry through records_put (records/records.h)
 * in transactions of 10,000. Never raw SQL.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/sha.h>

#include "common/clock.h"
#include "common/codec.h"
#include "common/err.h"
#include "common/log.h"
#include "fleet/inventory.h"
#include "records/records.h"
#include "records/rollup.h"
#include "sim/fleet.h"
#include "store/store.h"
#include "vault/vault.h"

#define BATCH 10000
#define MODEL "barista-pro"

struct opts {
	const char *data;
	long machines, customers, sites, points, history_days;
	long long day_start_ms;
};

static int usage(void)
{
	fprintf(stderr, "usage: coffeecloud-bench-gendata --data DIR [--machines N] [--customers C] [--sites S] "
	                "[--points P] [--day-start MS] [--history-days D]\n");
	return 2;
}

static int parse(int argc, char **argv, struct opts *o)
{
	int i;

	o->data = NULL;
	o->machines = 10000;
	o->customers = 10;
	o->sites = 10;
	o->points = 86400;
	o->history_days = 0;
	o->day_start_ms = 1796256000000LL; /* 2026-12-03 00:00 UTC */
	for (i = 1; i + 1 < argc; i += 2) {
		char *end;
		long long v = strtoll(argv[i + 1], &end, 10);
		int num = *end == '\0' && end != argv[i + 1] && v >= 0;

		if (strcmp(argv[i], "--data") == 0)
			o->data = argv[i + 1];
		else if (strcmp(argv[i], "--machines") == 0 && num && v >= 1)
			o->machines = (long)v;
		else if (strcmp(argv[i], "--customers") == 0 && num && v >= 1)
			o->customers = (long)v;
		else if (strcmp(argv[i], "--sites") == 0 && num && v >= 1)
			o->sites = (long)v;
		else if (strcmp(argv[i], "--points") == 0 && num)
			o->points = (long)v;
		else if (strcmp(argv[i], "--day-start") == 0 && num)
			o->day_start_ms = v;
		else if (strcmp(argv[i], "--history-days") == 0 && num && v <= 400)
			o->history_days = (long)v;
		else
			return CC_ERR_INVALID;
	}
	return i == argc && o->data != NULL ? CC_OK : CC_ERR_INVALID;
}

static void customer_name(char *out, size_t cap, long c) { snprintf(out, cap, "bench-cafe-%02ld", c); }
static void site_name(char *out, size_t cap, long c, long s) { snprintf(out, cap, "c%02ld-site-%02ld", c, s); }

/* The distributor, the customers and their sites; site ids into site_ids[c * sites + s]. */
static int add_orgs(struct vault *v, const struct opts *o, int64_t *cust_ids, int64_t *site_ids)
{
	struct store_org org;
	struct store_site site;
	char name[CC_NAME_MAX + 1], sname[CC_NAME_MAX + 1];
	long c, s;
	int rc = inventory_org_add(v, "bench-distributor", ORG_DISTRIBUTOR, "manufacturer", &org);

	for (c = 0; c < o->customers && rc == CC_OK; c++) {
		customer_name(name, sizeof(name), c);
		rc = inventory_org_add(v, name, ORG_CUSTOMER, c % 2 ? "bench-distributor" : "manufacturer", &org);
		cust_ids[c] = org.id;
		for (s = 0; s < o->sites && rc == CC_OK; s++) {
			site_name(sname, sizeof(sname), c, s);
			rc = inventory_site_add(v, name, sname, &site);
			site_ids[c * o->sites + s] = site.id;
		}
	}
	return rc;
}

static int change(struct store *st, int64_t machine_id, int64_t at, enum store_state_kind kind, const char *code,
                  int64_t value, const char *reason)
{
	struct store_state_change c;

	memset(&c, 0, sizeof(c));
	c.machine_id = machine_id;
	c.at_ms = at;
	c.kind = kind;
	snprintf(c.code, sizeof(c.code), "%s", code);
	c.value = value;
	snprintf(c.reason, sizeof(c.reason), "%s", reason);
	return st->ops->state_change_add(st, &c);
}

/* D days of machine i's state changes, ending two hours before now. */
static int add_history(struct vault *v, const struct store_machine *m, long i, long days, int64_t now)
{
	struct store *st = vault_store(v);
	int64_t day0 = (now - 2 * 3600000) / 86400000 * 86400000 - days * 86400000;
	long d;
	int rc = CC_OK;

	if (i % 5 == 4)
		return CC_OK; /* never seen */
	for (d = 0; d < days && rc == CC_OK; d++) {
		int64_t on = day0 + d * 86400000 + 6 * 3600000 + (i % 600) * 1000, off = on + 16 * 3600000;

		rc = change(st, m->id, on, STATE_LINK, "", 1, "");
		if (rc == CC_OK && (i + d) % 7 == 0)
			rc = change(st, m->id, on + 3 * 3600000, STATE_FAULT, "E042", 1, "");
		if (rc == CC_OK && (i + d) % 7 == 0)
			rc = change(st, m->id, on + 3 * 3600000 + 20 * 60000, STATE_FAULT, "E042", 0, "");
		if (rc == CC_OK && (i + d) % 10 == 0)
			rc = change(st, m->id, on + 5 * 3600000, STATE_MAINTENANCE, "planned_service", on + 6 * 3600000,
			            "user:bench");
		if (rc == CC_OK)
			rc = change(st, m->id, off, STATE_LINK, "", 0, "disconnected by the machine");
	}
	return rc;
}

/* The live state of machine i: every fifth never seen, the rest seen with an info message. */
static int add_state(struct vault *v, const struct store_machine *m, long i, int64_t now)
{
	struct store *st = vault_store(v);
	struct store_machine_state ms;
	struct seal_ad ad = { SEAL_MACHINE_INFO, m->customer_id, m->id, 0, 0, m->serial };
	char info[128];
	uint8_t *blob = NULL;
	size_t len = 0;
	int rc;

	if (i % 5 == 4)
		return CC_OK;
	memset(&ms, 0, sizeof(ms));
	ms.machine_id = m->id;
	ms.online = i % 5 != 3;
	ms.last_seen_ms = now - (i % 3600) * 1000;
	ms.changed_ms = ms.last_seen_ms - 3600000;
	if (!ms.online)
		snprintf(ms.disconnect_reason, sizeof(ms.disconnect_reason), "keep-alive timeout");
	snprintf(info, sizeof(info), "{\"model\":\"%s\",\"hw\":\"rev-C.2\",\"sw\":\"4.2.%ld\"}", MODEL, i % 4);
	rc = vault_seal(v, &ad, info, strlen(info), &blob, &len);
	if (rc == CC_OK && len > sizeof(ms.info))
		rc = CC_ERR_LIMIT;
	if (rc == CC_OK) {
		memcpy(ms.info, blob, len);
		ms.info_len = len;
		rc = st->ops->machine_state_set(st, &ms);
	}
	free(blob);
	return rc;
}

static int add_machines(struct vault *v, const struct opts *o, const int64_t *cust_ids, const int64_t *site_ids,
                        struct store_machine *first)
{
	struct store *st = vault_store(v);
	struct store_machine *m = calloc(1, sizeof(*m));
	char cust[CC_NAME_MAX + 1], site[CC_NAME_MAX + 1];
	unsigned char digest[SHA256_DIGEST_LENGTH];
	int64_t now = clock_now_ms();
	long i;
	int rc;

	if (m == NULL)
		return CC_ERR_NOMEM;
	customer_name(cust, sizeof(cust), 0);
	site_name(site, sizeof(site), 0, 0);
	/* The first one as provisioning makes it: a real certificate. */
	rc = inventory_machine_add(v, "BM-00000", MODEL, cust, site, NULL, NULL, NULL);
	if (rc == CC_OK)
		rc = st->ops->machine_find(st, "BM-00000", first);
	if (rc == CC_OK)
		rc = st->ops->begin(st);
	if (rc != CC_OK)
		goto out;
	rc = add_state(v, first, 0, now);
	if (rc == CC_OK)
		rc = add_history(v, first, 0, o->history_days, now);
	for (i = 1; i < o->machines && rc == CC_OK; i++) {
		long c = i % o->customers, s = (i / o->customers) % o->sites;

		*m = *first;
		snprintf(m->serial, sizeof(m->serial), "BM-%05ld", i);
		m->customer_id = cust_ids[c];
		m->site_id = site_ids[c * o->sites + s];
		m->created_ms = now;
		m->revoked_ms = i % 97 == 0 ? now : 0;
		SHA256((const unsigned char *)m->serial, strlen(m->serial), digest);
		rc = hex_encode(digest, sizeof(digest), m->cert_fingerprint, sizeof(m->cert_fingerprint));
		if (rc == CC_OK)
			rc = st->ops->machine_add(st, m, &m->id);
		if (rc == CC_OK)
			rc = add_state(v, m, i, now);
		if (rc == CC_OK)
			rc = add_history(v, m, i, o->history_days, now);
	}
	if (rc == CC_OK)
		rc = st->ops->meta_bump(st, "fleet-version");
	if (rc == CC_OK)
		rc = st->ops->commit(st);
	if (rc != CC_OK)
		st->ops->rollback(st);
out:
	free(m);
	return rc;
}

/* P seconds of the simulator's model of one machine, telemetry and events as they come. */
static int add_day(struct vault *v, const struct opts *o, const struct store_machine *m, long *telemetry,
                   long *events)
{
	struct store *st = vault_store(v);
	struct fleet_model *model = calloc(1, sizeof(*model));
	struct fleet_msg *msg = calloc(1, sizeof(*msg));
	struct record_in *recs = calloc(BATCH, sizeof(*recs));
	char *bodies = calloc(BATCH, FLEET_PAYLOAD_MAX);
	size_t n = 0, inserted;
	int64_t seq = 0;
	long t;
	int rc = model && msg && recs && bodies ? CC_OK : CC_ERR_NOMEM;

	if (rc == CC_OK)
		fleet_model_init(model, 42, 0, 0);
	for (t = 0; t < o->points && rc == CC_OK; t++) {
		double step = 1.0;
		int64_t ts = o->day_start_ms + (int64_t)t * 1000;

		do {
			rc = fleet_model_next(model, step, ++seq, ts, FLEET_FAULT_NONE, msg);
			step = 0;
			if (rc != CC_OK)
				break;
			memcpy(bodies + n * FLEET_PAYLOAD_MAX, msg->payload, msg->len);
			recs[n] = (struct record_in){ m->id, m->customer_id, m->serial,
			                              msg->kind == FLEET_EVENT ? RECORD_EVENT : RECORD_TELEMETRY,
			                              seq, ts, bodies + n * FLEET_PAYLOAD_MAX, msg->len };
			if (msg->kind == FLEET_EVENT)
				(*events)++;
			else
				(*telemetry)++;
			if (++n == BATCH || (msg->kind == FLEET_TELEMETRY && t + 1 == o->points)) {
				rc = st->ops->begin(st);
				if (rc == CC_OK)
					rc = records_put(v, recs, n, &inserted);
				if (rc == CC_OK)
					rc = st->ops->commit(st);
				if (rc != CC_OK)
					st->ops->rollback(st);
				n = 0;
			}
		} while (rc == CC_OK && msg->kind == FLEET_EVENT);
	}
	free(model);
	free(msg);
	free(recs);
	free(bodies);
	return rc;
}

/* Moves everything from the inbox into the tables and roll-ups, as the
 * daemon's settler does within a second, so queries meet the steady state. */
static int settle(struct vault *v)
{
	struct store *st = vault_store(v);
	struct rollup_round *round = NULL;
	struct store_settle_hooks hooks;
	size_t moved = 0;
	int rc = rollup_round_new(v, &round);

	if (rc == CC_OK)
		rollup_round_hooks(round, &hooks);
	do
		rc = rc == CC_OK ? st->ops->records_settle(st, 20000, &hooks, &moved) : rc;
	while (rc == CC_OK && moved > 0);
	rollup_round_free(round);
	return rc;
}

int main(int argc, char **argv)
{
	struct opts o;
	struct vault *v = NULL;
	struct store_machine *first = calloc(1, sizeof(*first));
	int64_t *cust_ids = NULL, *site_ids = NULL;
	long telemetry = 0, events = 0;
	int rc;

	if (parse(argc, argv, &o) != CC_OK) {
		free(first);
		return usage();
	}
	cust_ids = calloc((size_t)o.customers, sizeof(*cust_ids));
	site_ids = calloc((size_t)(o.customers * o.sites), sizeof(*site_ids));
	rc = first && cust_ids && site_ids ? vault_open(o.data, NULL, &v) : CC_ERR_NOMEM;
	if (rc == CC_OK)
		rc = add_orgs(v, &o, cust_ids, site_ids);
	if (rc == CC_OK)
		rc = add_machines(v, &o, cust_ids, site_ids, first);
	if (rc == CC_OK)
		rc = add_day(v, &o, first, &telemetry, &events);
	if (rc == CC_OK)
		rc = settle(v);
	if (rc == CC_OK)
		printf("{\"machines\":%ld,\"customers\":%ld,\"sites\":%ld,\"day_serial\":\"%s\",\"telemetry\":%ld,"
		       "\"events\":%ld,\"from_ms\":%lld,\"to_ms\":%lld}\n",
		       o.machines, o.customers, o.customers * o.sites, first->serial, telemetry, events,
		       o.day_start_ms, o.day_start_ms + (long long)o.points * 1000);
	else
		log_error("gendata", "failed: %s", cc_strerror(rc));
	vault_close(v);
	free(first);
	free(cust_ids);
	free(site_ids);
	return rc == CC_OK ? 0 : 1;
}
