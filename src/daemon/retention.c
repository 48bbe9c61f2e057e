#define _GNU_SOURCE /* pthread_setname_np: the thread's name in top -H and perf */
#include "daemon/retention.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "access/audit.h"
#include "common/clock.h"
#include "common/err.h"
#include "common/log.h"
#include "fleet/diagnostics.h"
#include "records/records.h"
#include "records/event_days.h"
#include "records/rollup.h"
#include "store/diagnostics.h"
#include "store/tickets.h"
#include "vault/vault.h"

#define MOD "retention"
#define DAY_MS INT64_C(86400000)

/* The data class each kind is read under, for the audit record. */
static const char *const kind_classes[RETAIN_KINDS] = { "technical", "technical", "service", "technical",
                                                                  "service" };

/* Deleted rows per customer and kind in one sweep. */
struct tally {
	int64_t customer_id;
	int64_t deleted[RETAIN_KINDS];
	int64_t cut_ms[RETAIN_KINDS]; /* what was older than this went */
	int64_t bundles, bundles_cut_ms; /* diagnostics bundles (their own setting, not a kind) */
};

struct retention {
	struct vault *vault;
	struct retention_policy policy;
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t wake;
	int stopping; /* (lock) */
	struct tally *tallies;
	size_t ntallies, captallies;
	struct retention_agreement *terms; /* customers' shorter terms, by org id, read per sweep */
	size_t nterms;
};

struct slice {
	int64_t machines[256][2]; /* id, customer */
	size_t n;
	int64_t after; /* machines are visited by id, a slice at a time */
	int more;
};

static int collect_machine(void *arg, const struct store_machine *m)
{
	struct slice *sl = arg;

	if (m->id <= sl->after)
		return 0;
	if (sl->n == sizeof(sl->machines) / sizeof(sl->machines[0])) {
		sl->more = 1;
		return 1;
	}
	sl->machines[sl->n][0] = m->id;
	sl->machines[sl->n++][1] = m->customer_id;
	return 0;
}

static int cmp_machine(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

	return x < y ? -1 : x > y;
}

static int stopping(struct retention *r)
{
	int stop;

	pthread_mutex_lock(&r->lock);
	stop = r->stopping;
	pthread_mutex_unlock(&r->lock);
	return stop;
}

static struct tally *tally_of(struct retention *r, int64_t customer_id)
{
	for (size_t i = 0; i < r->ntallies; i++)
		if (r->tallies[i].customer_id == customer_id)
			return &r->tallies[i];
	if (r->ntallies == r->captallies) {
		size_t cap = r->captallies ? r->captallies * 2 : 16;
		struct tally *grown = realloc(r->tallies, cap * sizeof(*grown));

		if (grown == NULL)
			return NULL;
		r->tallies = grown;
		r->captallies = cap;
	}
	memset(&r->tallies[r->ntallies], 0, sizeof(r->tallies[0]));
	r->tallies[r->ntallies].customer_id = customer_id;
	return &r->tallies[r->ntallies++];
}

/* One batch of one machine and kind, in its own transaction. */
static int delete_batch(struct retention *r, int64_t machine_id, enum retention_kind k, int64_t cut_ms,
                        int64_t *deleted)
{
	struct store *s = vault_store(r->vault);
	int64_t limit = (int64_t)r->policy.batch_rows, n = 0, hours = 0, days = 0;
	int rc = s->ops->begin(s);

	*deleted = 0;
	if (rc == CC_OK) {
		if (k == RETAIN_TICKETS) {
			/* Closed before the cut-off; their history goes with them. */
			rc = s->ops->tickets->purge(s, machine_id, cut_ms, limit, &n);
		} else if (k == RETAIN_ROLLUPS) {
			/* Summaries wholly before the cut-off. */
			rc = s->ops->rollup_purge(s, machine_id, ROLLUP_MINUTE_MS, cut_ms - ROLLUP_MINUTE_MS + 1, limit,
			                          &n);
			if (rc == CC_OK && n < limit)
				rc = s->ops->rollup_purge(s, machine_id, ROLLUP_HOUR_MS, cut_ms - ROLLUP_HOUR_MS + 1,
				                          limit - n, &hours);
			n += hours;
		} else {
			rc = s->ops->records_purge(s, machine_id, (enum record_kind)(RECORD_TELEMETRY + k), cut_ms, limit,
			                           &n);
			/* The digests of days wholly before the cut-off go with their
			 * events (records/event_days.h); not counted as events. */
			if (rc == CC_OK && k == RETAIN_EVENTS && n < limit)
				rc = s->ops->rollup_purge(s, machine_id, EVENT_DAYS_WIDTH_MS, cut_ms - EVENT_DAYS_DAY_MS + 1,
				                          limit - n, &days);
		}
	}
	if (rc == CC_OK)
		rc = s->ops->commit(s);
	if (rc != CC_OK) {
		s->ops->rollback(s);
		return rc;
	}
	*deleted = n;
	return CC_OK;
}

static const int64_t *agreed_days(const struct retention *r, int64_t customer_id)
{
	static const int64_t none[RETAIN_KINDS];

	for (size_t i = 0; i < r->nterms; i++)
		if (r->terms[i].org_id == customer_id)
			return r->terms[i].days;
	return none;
}

/* Everything of one machine past its retention, a batch at a time. */
static void sweep_machine(struct retention *r, int64_t machine_id, int64_t customer_id, int64_t now,
                          int64_t total[RETAIN_KINDS])
{
	const int64_t *agreed = agreed_days(r, customer_id);

	for (int k = 0; k < RETAIN_KINDS; k++) {
		int64_t deleted, days = retention_effective(r->policy.days[k], agreed[k]);

		if (days <= 0)
			continue;
		do {
			int rc = delete_batch(r, machine_id, (enum retention_kind)k, now - days * DAY_MS, &deleted);
			struct tally *t;

			if (rc != CC_OK) {
				log_warn(MOD, "%s of machine %lld could not be deleted (%s); again at the next sweep",
				         retention_kind_name((enum retention_kind)k), (long long)machine_id, cc_strerror(rc));
				break;
			}
			total[k] += deleted;
			t = deleted > 0 ? tally_of(r, customer_id) : NULL;
			if (t != NULL) {
				t->deleted[k] += deleted;
				t->cut_ms[k] = now - days * DAY_MS;
			}
		} while (deleted >= (int64_t)r->policy.batch_rows && !stopping(r));
	}
}

/* A machine's diagnostics bundles asked for before the cut-off, a batch of
 * chunks per transaction (a bundle may be 256 of them): whole bundles go
 * once their chunks have. */
static void sweep_bundles(struct retention *r, int64_t machine_id, int64_t customer_id, int64_t now)
{
	struct store *s = vault_store(r->vault);
	int64_t limit = (int64_t)r->policy.batch_rows, cut = now - r->policy.diagnostics_days * DAY_MS;
	int64_t bundles = 0, chunks = 0;

	if (r->policy.diagnostics_days <= 0)
		return;
	do {
		struct tally *t;
		int rc = s->ops->begin(s);

		if (rc == CC_OK)
			rc = s->ops->diagnostics->purge(s, machine_id, cut, limit, &bundles, &chunks);
		if (rc == CC_OK)
			rc = s->ops->commit(s);
		if (rc != CC_OK) {
			s->ops->rollback(s);
			log_warn(MOD, "diagnostics bundles of machine %lld could not be deleted (%s); again at the next sweep",
			         (long long)machine_id, cc_strerror(rc));
			return;
		}
		t = bundles > 0 ? tally_of(r, customer_id) : NULL;
		if (t != NULL) {
			t->bundles += bundles;
			t->bundles_cut_ms = cut;
		}
	} while (bundles + chunks >= limit && !stopping(r));
}

/* One audit record per customer and kind that lost records in this sweep. */
static void audit_sweep(struct retention *r)
{
	for (size_t i = 0; i < r->ntallies; i++) {
		for (int k = 0; k < RETAIN_KINDS; k++) {
			char action[48], detail[96];
			struct audit_event e = { 0 };
			time_t cut = (time_t)(r->tallies[i].cut_ms[k] / 1000);
			struct tm tm;

			if (r->tallies[i].deleted[k] == 0)
				continue;
			gmtime_r(&cut, &tm);
			snprintf(action, sizeof(action), "retention.%s.delete", retention_kind_name((enum retention_kind)k));
			snprintf(detail, sizeof(detail), "deleted %lld older than %04d-%02d-%02dT%02d:%02dZ",
			         (long long)r->tallies[i].deleted[k], tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
			         tm.tm_hour, tm.tm_min);
			e.actor = "daemon:retention";
			e.source = detail;
			e.action = action;
			e.machines = "*";
			e.data_class = kind_classes[k];
			e.purpose = "administration";
			e.outcome = "ok";
			e.customer_id = r->tallies[i].customer_id;
			if (audit_append(r->vault, &e) != CC_OK)
				log_warn(MOD, "the audit record of a retention sweep could not be written");
		}
		if (r->tallies[i].bundles > 0) {
			struct audit_event e = { 0 };
			char detail[96];
			time_t cut = (time_t)(r->tallies[i].bundles_cut_ms / 1000);
			struct tm tm;

			gmtime_r(&cut, &tm);
			snprintf(detail, sizeof(detail), "deleted %lld bundles asked for before %04d-%02d-%02dT%02d:%02dZ",
			         (long long)r->tallies[i].bundles, tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
			         tm.tm_min);
			e.actor = "daemon:retention";
			e.source = detail;
			e.action = "retention.diagnostics.delete";
			e.machines = "*";
			e.data_class = "technical";
			e.purpose = "administration";
			e.outcome = "ok";
			e.customer_id = r->tallies[i].customer_id;
			if (audit_append(r->vault, &e) != CC_OK)
				log_warn(MOD, "the audit record of a retention sweep could not be written");
		}
	}
	r->ntallies = 0;
}

/* Open requests past their time expire (fleet/diagnostics.h): what they
 * had received goes; one audit record when any did. Old bundles go per
 * machine, in batches (sweep_bundles). */
static void sweep_diagnostics(struct retention *r)
{
	struct audit_event e = { 0 };
	char detail[96];
	int64_t n = 0;

	if (diagnostics_sweep(r->vault, 0, &n) != CC_OK) {
		log_warn(MOD, "diagnostics requests past their time could not be expired; again at the next sweep");
		return;
	}
	if (n == 0)
		return;
	snprintf(detail, sizeof(detail), "%lld requests not uploaded in time expired", (long long)n);
	e.actor = "daemon:retention";
	e.source = detail;
	e.action = "retention.diagnostics.expire";
	e.machines = "*";
	e.data_class = "technical";
	e.purpose = "administration";
	e.outcome = "ok";
	if (audit_append(r->vault, &e) != CC_OK)
		log_warn(MOD, "the audit record of a retention sweep could not be written");
}

static void sweep(struct retention *r)
{
	struct store *s = vault_store(r->vault);
	int64_t now = clock_now_ms(), total[RETAIN_KINDS] = { 0 };
	struct slice sl;

	memset(&sl, 0, sizeof(sl));
	r->ntallies = 0;
	free(r->terms);
	r->terms = NULL;
	r->nterms = 0;
	if (retention_terms_load(r->vault, &r->terms, &r->nterms) != CC_OK) {
		/* Without the customers' terms a sweep would keep too much: wait. */
		log_warn(MOD, "customers' retention terms could not be read; trying at the next sweep");
		return;
	}
	do {
		sl.n = 0;
		sl.more = 0;
		if (s->ops->machine_list(s, 0, collect_machine, &sl) < 0) {
			log_warn(MOD, "the machines could not be listed; trying at the next sweep");
			return;
		}
		qsort(sl.machines, sl.n, sizeof(sl.machines[0]), cmp_machine);
		for (size_t i = 0; i < sl.n && !stopping(r); i++) {
			sweep_machine(r, sl.machines[i][0], sl.machines[i][1], now, total);
			sweep_bundles(r, sl.machines[i][0], sl.machines[i][1], now);
		}
		if (sl.n > 0)
			sl.after = sl.machines[sl.n - 1][0];
	} while (sl.more && !stopping(r));
	for (int k = 0; k < RETAIN_KINDS; k++)
		if (total[k] > 0)
			log_info(MOD, "deleted %lld %s records past their retention (the installation's: %lld days)",
			         (long long)total[k], retention_kind_name((enum retention_kind)k),
			         (long long)r->policy.days[k]);
	audit_sweep(r);
	if (!stopping(r))
		sweep_diagnostics(r);
}

static void *retention_main(void *arg)
{
	struct retention *r = arg;
	int64_t next = clock_mono_ms() + r->policy.sweep_ms;

	pthread_setname_np(pthread_self(), "cc-retention");
	for (;;) {
		int64_t wait;
		int stop;

		pthread_mutex_lock(&r->lock);
		wait = next - clock_mono_ms();
		if (!r->stopping && wait > 0) {
			struct timespec until;

			clock_gettime(CLOCK_MONOTONIC, &until);
			until.tv_sec += (time_t)(wait / 1000);
			until.tv_nsec += (long)(wait % 1000) * 1000000L;
			if (until.tv_nsec >= 1000000000L) {
				until.tv_sec++;
				until.tv_nsec -= 1000000000L;
			}
			pthread_cond_timedwait(&r->wake, &r->lock, &until);
		}
		stop = r->stopping;
		pthread_mutex_unlock(&r->lock);
		if (stop)
			break;
		if (clock_mono_ms() >= next) {
			sweep(r);
			next = clock_mono_ms() + r->policy.sweep_ms;
		}
	}
	return NULL;
}

int retention_start(const char *data_dir, const char *master_key_file, const struct retention_policy *p,
                    struct retention **out)
{
	struct retention *r;
	pthread_condattr_t attr;
	int rc;

	*out = NULL;
	r = calloc(1, sizeof(*r));
	if (r == NULL)
		return CC_ERR_NOMEM;
	r->policy = *p;
	if (r->policy.sweep_ms <= 0)
		r->policy.sweep_ms = 3600000;
	if (r->policy.batch_rows == 0)
		r->policy.batch_rows = 5000;
	rc = vault_open(data_dir, master_key_file, &r->vault);
	if (rc != CC_OK) {
		free(r);
		return rc;
	}
	pthread_mutex_init(&r->lock, NULL);
	pthread_condattr_init(&attr);
	pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
	pthread_cond_init(&r->wake, &attr);
	pthread_condattr_destroy(&attr);
	if (pthread_create(&r->thread, NULL, retention_main, r) != 0) {
		pthread_mutex_destroy(&r->lock);
		pthread_cond_destroy(&r->wake);
		vault_close(r->vault);
		free(r);
		return CC_ERR_NOMEM;
	}
	*out = r;
	return CC_OK;
}

void retention_stop(struct retention *r)
{
	if (r == NULL)
		return;
	pthread_mutex_lock(&r->lock);
	r->stopping = 1;
	pthread_cond_signal(&r->wake);
	pthread_mutex_unlock(&r->lock);
	pthread_join(r->thread, NULL);
	vault_close(r->vault);
	pthread_mutex_destroy(&r->lock);
	pthread_cond_destroy(&r->wake);
	free(r->tallies);
	free(r->terms);
	free(r);
}
