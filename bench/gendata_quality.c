/*
 * gendata_quality.c - `coffeecloud-bench-gendata-quality`: fills a data
 * directory for the compliance benchmark (bench/quality.py). Not part of
 * the product, not installed.
 *
 *   coffeecloud-bench-gendata-quality --data DIR [--machines N] [--days D] [--brews B]
 *
 * DIR must have been made by `coffeecloud init`. One customer (bench-cafe)
 * with one site (bench-site) and N barista-pro machines (QB-000..), each
 * with D whole days (UTC) before today of: B brews a day between 06:00 and
 * 22:00 (the simulator's products, about 3 % out of spec), the milk system
 * cleaned every evening (skipped every ninth day), the brew unit weekly,
 * and a telemetry message a minute with the milk fridge's temperature (a
 * 20-minute warm spell every fifth day). Everything through the product's
 * own code (inventory, records_put, the settler's roll-ups), so it is
 * sealed and summarised exactly as the daemon does it. Prints one JSON
 * line: machines, days, events, telemetry, from_ms, to_ms, lost.
 *
 * --counters (the beverage and forecast benchmark, bench/usage.py): each
 * telemetry message also carries the counters (cup_counter,
 * brew_unit_cycles, water_used_l, filter_used_pct of a 150 l cartridge
 * changed when full, water_hardness_dh 10), and one brew in 250 is counted
 * by the cup counter but its event is lost (`lost`: how many).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/clock.h"
#include "common/err.h"
#include "common/log.h"
#include "fleet/inventory.h"
#include "records/event_days.h"
#include "records/records.h"
#include "records/rollup.h"
#include "store/store.h"
#include "vault/vault.h"

#define DAY_MS INT64_C(86400000)
#define MIN_MS INT64_C(60000)
#define BATCH 10000
#define BODY_MAX 320

static const char *const products[] = { "espresso", "cappuccino", "caffe_latte", "americano", "flat_white" };
static const int volumes[] = { 30, 180, 250, 200, 160 };

struct gen {
	struct vault *v;
	struct record_in recs[BATCH];
	char bodies[BATCH][BODY_MAX];
	size_t n;
	long events, telemetry, lost;
	uint64_t rng;
	int counters;
};

static double rnd(struct gen *g)
{
	g->rng = g->rng * 6364136223846793005ULL + 1442695040888963407ULL;
	return (double)(g->rng >> 11) / 9007199254740992.0;
}

static int flush(struct gen *g)
{
	struct store *st = vault_store(g->v);
	size_t inserted;
	int rc = st->ops->begin(st);

	if (rc == CC_OK)
		rc = records_put(g->v, g->recs, g->n, &inserted);
	if (rc == CC_OK)
		rc = st->ops->commit(st);
	if (rc != CC_OK)
		st->ops->rollback(st);
	g->n = 0;
	return rc;
}

static int add(struct gen *g, const struct store_machine *m, enum record_kind kind, int64_t seq, int64_t ts,
               const char *body)
{
	snprintf(g->bodies[g->n], BODY_MAX, "%s", body);
	g->recs[g->n] = (struct record_in){ m->id, m->customer_id, m->serial, kind, seq, ts, g->bodies[g->n],
		                            strlen(g->bodies[g->n]) };
	if (kind == RECORD_EVENT)
		g->events++;
	else
		g->telemetry++;
	return ++g->n == BATCH ? flush(g) : CC_OK;
}

static int machine_days(struct gen *g, const struct store_machine *m, long index, int64_t first_day, long days,
                        long brews)
{
	char body[BODY_MAX];
	int64_t seq = 0;
	long d, b, minute;
	int rc = CC_OK;
	/* the counters: so many brews before today, a filter's litres */
	long long cups_before = 10000 * index;
	double filter_l = 0, step = brews > 0 ? 16.0 * 3600000 / (double)brews : 0;

	for (d = 0; d < days && rc == CC_OK; d++) {
		int64_t day = first_day + d * DAY_MS;
		int warm = (d + index) % 5 == 0;

		for (minute = 0; minute < 1440 && rc == CC_OK; minute++) {
			double c = warm && minute >= 13 * 60 && minute < 13 * 60 + 20 ? 6.5 : 3.8 + rnd(g) * 0.6;
			int len;

			len = snprintf(body, sizeof(body), "{\"seq\":%lld,\"ts\":%lld,\"m\":{\"milk_fridge_temp_c\":%.1f,"
			               "\"boiler_temp_c\":%.1f", (long long)(seq + 1), (long long)(day + minute * MIN_MS), c,
			               93.0 + rnd(g));
			if (g->counters) {
				/* the brews at or before this minute (their times below) */
				int64_t since = minute * MIN_MS - 6 * 3600000;
				long done = since < 0 || brews == 0 ? 0 : (long)((double)since / step) + 1;
				long long cups = cups_before + (done < brews ? done : brews);
				double litres = (double)cups * 0.15, pct;

				filter_l = litres - (double)(long long)(litres / 150.0) * 150.0;
				pct = filter_l / 150.0 * 100.0;
				len += snprintf(body + len, sizeof(body) - (size_t)len,
				                ",\"cup_counter\":%lld,\"brew_unit_cycles\":%lld,\"water_used_l\":%.1f,"
				                "\"filter_used_pct\":%.1f,\"water_hardness_dh\":10.0", cups, cups + cups / 40,
				                litres, pct);
			}
			snprintf(body + len, sizeof(body) - (size_t)len, "}}");
			rc = add(g, m, RECORD_TELEMETRY, ++seq, day + minute * MIN_MS, body);
		}
		cups_before += brews;
		for (b = 0; b < brews && rc == CC_OK; b++) {
			int64_t ts = day + 6 * 3600000 + (int64_t)(b * (16.0 * 3600000 / (double)brews));
			size_t p = (size_t)(rnd(g) * 5) % 5;
			double q = rnd(g), temp = 93.0 + (rnd(g) - 0.5) * 2, secs = 25 + (rnd(g) - 0.5) * 4;

			if (q < 0.015)
				temp = 88.5;
			else if (q < 0.03)
				secs = 36;
			if (g->counters && b % 250 == 137) {
				g->lost++; /* the counter saw it; its event never came */
				continue;
			}
			snprintf(body, sizeof(body), "{\"seq\":%lld,\"ts\":%lld,\"type\":\"brew\",\"product\":\"%s\","
			         "\"volume_ml\":%d,\"brew_time_s\":%.1f,\"temp_c\":%.1f}", (long long)(seq + 1), (long long)ts,
			         products[p], volumes[p], secs, temp);
			rc = add(g, m, RECORD_EVENT, ++seq, ts, body);
		}
		if (rc == CC_OK && (d + index) % 9 != 0) {
			snprintf(body, sizeof(body), "{\"seq\":%lld,\"ts\":%lld,\"type\":\"cleaning\",\"program\":"
			         "\"milk_system\",\"result\":\"ok\",\"duration_s\":300}", (long long)(seq + 1),
			         (long long)(day + 22 * 3600000));
			rc = add(g, m, RECORD_EVENT, ++seq, day + 22 * 3600000, body);
		}
		if (rc == CC_OK && (d + index) % 7 == 0) {
			snprintf(body, sizeof(body), "{\"seq\":%lld,\"ts\":%lld,\"type\":\"cleaning\",\"program\":"
			         "\"brew_unit\",\"result\":\"ok\",\"duration_s\":600}", (long long)(seq + 1),
			         (long long)(day + 22 * 3600000 + 600000));
			rc = add(g, m, RECORD_EVENT, ++seq, day + 22 * 3600000 + 600000, body);
		}
	}
	return rc;
}

/* Both parts of a settle round that reports read: the telemetry's
 * summaries and the marks of the days of events. */
struct settle_parts {
	struct store_settle_hooks part[2];
};

static int parts_row(void *ctx, const struct store_record *rec)
{
	struct settle_parts *p = ctx;
	int rc = p->part[0].row(p->part[0].ctx, rec);

	return rc == CC_OK ? p->part[1].row(p->part[1].ctx, rec) : rc;
}

static int parts_finish(void *ctx, struct store *s)
{
	struct settle_parts *p = ctx;
	int rc = p->part[0].finish(p->part[0].ctx, s);

	return rc == CC_OK ? p->part[1].finish(p->part[1].ctx, s) : rc;
}

static int settle(struct vault *v)
{
	struct store *st = vault_store(v);
	struct rollup_round *round = NULL;
	struct event_days_round *days = NULL;
	struct settle_parts parts;
	struct store_settle_hooks hooks = { parts_row, parts_finish, &parts };
	size_t moved = 0;
	int rc = rollup_round_new(v, &round);

	if (rc == CC_OK)
		rc = event_days_round_new(&days);
	if (rc == CC_OK) {
		rollup_round_hooks(round, &parts.part[0]);
		event_days_round_hooks(days, &parts.part[1]);
	}
	do
		rc = rc == CC_OK ? st->ops->records_settle(st, 20000, &hooks, &moved) : rc;
	while (rc == CC_OK && moved > 0);
	rollup_round_free(round);
	event_days_round_free(days);
	return rc;
}

/* The background digest of every finished day, as the daemon's settler
 * makes it, timed: *ms of wall time (one thread) for *n machine-days. */
static int digest(struct vault *v, long *n, double *ms)
{
	int64_t t0 = clock_mono_us();
	size_t built = 0;
	int rc;

	*n = 0;
	do {
		rc = event_days_build(v, clock_now_ms(), 256, &built);
		*n += (long)built;
	} while (rc == CC_OK && built > 0);
	*ms = (double)(clock_mono_us() - t0) / 1000.0;
	return rc;
}

int main(int argc, char **argv)
{
	const char *data = NULL;
	long machines = 20, days = 30, brews = 300, i, digested = 0;
	double digest_ms = 0;
	struct gen *g = calloc(1, sizeof(*g));
	struct store_org org;
	struct store_site site;
	struct store_machine m;
	int64_t first_day = (clock_now_ms() / DAY_MS - 1) * DAY_MS;
	char serial[CC_SERIAL_MAX + 1];
	int rc = g != NULL ? CC_OK : CC_ERR_NOMEM;

	for (i = 1; i < argc && g != NULL; i++)
		if (strcmp(argv[i], "--counters") == 0) {
			g->counters = 1;
			memmove(&argv[i], &argv[i + 1], (size_t)(argc - i) * sizeof(*argv));
			argc--;
			break;
		}
	for (i = 1; i + 1 < argc; i += 2) {
		if (strcmp(argv[i], "--data") == 0)
			data = argv[i + 1];
		else if (strcmp(argv[i], "--machines") == 0)
			machines = strtol(argv[i + 1], NULL, 10);
		else if (strcmp(argv[i], "--days") == 0)
			days = strtol(argv[i + 1], NULL, 10);
		else if (strcmp(argv[i], "--brews") == 0)
			brews = strtol(argv[i + 1], NULL, 10);
	}
	if (data == NULL || machines < 1 || machines > 1000 || days < 1 || days > 92 || brews < 0 || brews > 5000) {
		fprintf(stderr, "usage: coffeecloud-bench-gendata-quality --data DIR [--machines N] [--days D] [--brews B] "
		                "[--counters]\n");
		free(g);
		return 2;
	}
	log_set_level(LOG_LEVEL_WARN);
	first_day -= (days - 1) * DAY_MS;
	g->rng = 42;
	if (rc == CC_OK)
		rc = vault_open(data, NULL, &g->v);
	if (rc == CC_OK)
		rc = inventory_org_add(g->v, "bench-cafe", ORG_CUSTOMER, "manufacturer", &org);
	if (rc == CC_OK)
		rc = inventory_site_add(g->v, "bench-cafe", "bench-site", &site);
	for (i = 0; i < machines && rc == CC_OK; i++) {
		snprintf(serial, sizeof(serial), "QB-%03ld", i);
		rc = inventory_machine_add(g->v, serial, "barista-pro", "bench-cafe", "bench-site", NULL, NULL, NULL);
		if (rc == CC_OK)
			rc = vault_store(g->v)->ops->machine_find(vault_store(g->v), serial, &m);
		if (rc == CC_OK)
			rc = machine_days(g, &m, i, first_day, days, brews);
		/* The records point into m: stored before it is the next machine. */
		if (rc == CC_OK && g->n > 0)
			rc = flush(g);
	}
	if (rc == CC_OK && g->n > 0)
		rc = flush(g);
	if (rc == CC_OK)
		rc = settle(g->v);
	if (rc == CC_OK)
		rc = digest(g->v, &digested, &digest_ms);
	if (rc == CC_OK)
		printf("{\"machines\":%ld,\"days\":%ld,\"events\":%ld,\"telemetry\":%ld,\"from_ms\":%lld,\"to_ms\":%lld,"
		       "\"lost\":%ld,\"digested_days\":%ld,\"digest_ms\":%.1f}\n", machines, days, g->events, g->telemetry,
		       (long long)first_day, (long long)(first_day + days * DAY_MS), g->lost, digested, digest_ms);
	else
		fprintf(stderr, "gendata-quality: %s\n", cc_strerror(rc));
	if (g != NULL && g->v != NULL)
		vault_close(g->v);
	free(g);
	return rc == CC_OK ? 0 : 1;
}
