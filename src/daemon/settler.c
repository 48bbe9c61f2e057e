#define _GNU_SOURCE /* pthread_setname_np: the thread's name in top -H and perf */
#include "daemon/settler.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "alerts/alerts.h"
#include "common/clock.h"
#include "common/err.h"
#include "common/log.h"
#include "fleet/downtime.h"
#include "fleet/inventory.h"
#include "fleet/rollouts.h"
#include "records/event_days.h"
#include "records/rollup.h"
#include "vault/vault.h"

#define MOD "settler"

/* Days digested between two looks at the inbox: about 50 ms of work. */
#define DIGEST_BATCH 16

struct settler {
	struct vault *vault;
	struct rollup_round *rollups; /* the summaries each round brings up to date */
	struct downtime_round *faults; /* the critical errors each round brings in */
	struct alerts_round *alerts;   /* the alert rules each round's records are judged by */
	struct event_days_round *days; /* the days of events each round marks for their digest */
	struct store_settle_hooks parts[4];
	int64_t next_alert_tick;       /* the time-based alert rules and escalation (alerts.h) */
	int64_t next_rollouts_tick;    /* the staged rollouts' rounds (fleet/rollouts.h) */
	int64_t round_ms;
	int64_t poll_ms;               /* how often erasures are looked for */
	size_t round_rows;
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t wake;
	pthread_cond_t progress;       /* broadcast after each round */
	char fleet_version[32];        /* erasures reach this thread's key cache through it */
	int kicked, stopping;          /* (lock) */
	struct settler_stats stats;    /* (lock) */
};

static void dropped_key(void *ctx, int64_t org_id)
{
	(void)ctx;
	log_info(MOD, "dropped the data key of organisation %lld from the settler's cache (erased)",
	         (long long)org_id);
}

/* When the fleet version moved (an erasure among others), forgets the data
 * keys that left the keyring, before a round could use one. */
static void follow_erasures(struct settler *st)
{
	struct store *s = vault_store(st->vault);
	char version[32] = "0";
	int rc = s->ops->meta_get(s, INVENTORY_FLEET_VERSION, version, sizeof(version));

	if ((rc != CC_OK && rc != CC_ERR_NOTFOUND) || strcmp(version, st->fleet_version) == 0)
		return;
	if (vault_keys_refresh(st->vault, dropped_key, st) >= 0)
		snprintf(st->fleet_version, sizeof(st->fleet_version), "%s", version);
}

/* Every record of a round goes to each part: roll-ups, faults, then alerts
 * (which read the faults' state changes of the same round). */
static int each_row(void *ctx, const struct store_record *rec)
{
	struct settler *st = ctx;
	size_t i;
	int rc = CC_OK;

	for (i = 0; i < 4 && rc == CC_OK; i++)
		rc = st->parts[i].row(st->parts[i].ctx, rec);
	return rc;
}

static int each_finish(void *ctx, struct store *s)
{
	struct settler *st = ctx;
	size_t i;
	int rc = CC_OK;

	for (i = 0; i < 4 && rc == CC_OK; i++)
		rc = st->parts[i].finish(st->parts[i].ctx, s);
	return rc;
}

/* Rounds until the inbox holds less than a round (or a round fails). */
static void settle_all(struct settler *st)
{
	struct store *s = vault_store(st->vault);
	struct store_settle_hooks hooks = { each_row, each_finish, st };

	for (;;) {
		size_t moved = 0;
		int rc = s->ops->records_settle(s, st->round_rows, &hooks, &moved);

		pthread_mutex_lock(&st->lock);
		st->stats.rounds++;
		st->stats.moved += moved;
		if (rc != CC_OK)
			st->stats.failures++;
		pthread_cond_broadcast(&st->progress);
		pthread_mutex_unlock(&st->lock);
		if (rc != CC_OK) {
			log_warn(MOD, "records stay in the inbox until the next round (%s)", cc_strerror(rc));
			return;
		}
		if (moved < st->round_rows)
			return;
	}
}

/* A batch of finished days of events digested, here because no record
 * moves in while this thread digests (event_days.h). 1: more are due. */
static int digest_days(struct settler *st)
{
	size_t built = 0;
	int rc = event_days_build(st->vault, clock_now_ms(), DIGEST_BATCH, &built);

	if (rc != CC_OK) {
		log_warn(MOD, "digesting days of events: %s (again after the next round)", cc_strerror(rc));
		return 0;
	}
	return built == DIGEST_BATCH;
}

static void *settler_main(void *arg)
{
	struct settler *st = arg;
	int64_t next_round = clock_mono_ms() + st->round_ms;
	int more_days = 1; /* days of events may wait for their digest */

	pthread_setname_np(pthread_self(), "cc-settler");
	for (;;) {
		struct timespec until;
		int64_t wait;
		int stop, due;

		pthread_mutex_lock(&st->lock);
		/* Wake for the next round or the next look at erasures, whichever is first. */
		wait = next_round - clock_mono_ms();
		wait = wait < st->poll_ms ? wait : st->poll_ms;
		if (st->next_alert_tick - clock_mono_ms() < wait)
			wait = st->next_alert_tick - clock_mono_ms();
		if (st->next_rollouts_tick - clock_mono_ms() < wait)
			wait = st->next_rollouts_tick - clock_mono_ms();
		if (more_days)
			wait = 0;
		if (!st->kicked && !st->stopping && wait > 0) {
			clock_gettime(CLOCK_MONOTONIC, &until);
			until.tv_sec += (time_t)(wait / 1000);
			until.tv_nsec += (long)(wait % 1000) * 1000000L;
			if (until.tv_nsec >= 1000000000L) {
				until.tv_sec++;
				until.tv_nsec -= 1000000000L;
			}
			pthread_cond_timedwait(&st->wake, &st->lock, &until);
		}
		due = st->kicked || st->stopping || clock_mono_ms() >= next_round;
		st->kicked = 0;
		stop = st->stopping;
		pthread_mutex_unlock(&st->lock);
		follow_erasures(st);
		if (due) {
			settle_all(st);
			next_round = clock_mono_ms() + st->round_ms;
		}
		/* On this thread: a tick scans every machine's state, which must
		 * never hold up the event loop or the writer. */
		if (clock_mono_ms() >= st->next_alert_tick && !stop) {
			int rc = alerts_tick(st->alerts, clock_now_ms());

			if (rc != CC_OK)
				log_warn(MOD, "alert timer: %s (again at the next tick)", cc_strerror(rc));
			st->next_alert_tick = clock_mono_ms() + alerts_tick_ms();
		}
		/* Likewise the rollouts' rounds: availability reads and offers. */
		if (clock_mono_ms() >= st->next_rollouts_tick && !stop) {
			if (rollouts_tick(st->vault, clock_now_ms()) != CC_OK)
				log_error(MOD, "the rollouts' round failed: again at the next");
			st->next_rollouts_tick = clock_mono_ms() + rollouts_tick_ms();
		}
		if (stop)
			break;
		more_days = digest_days(st);
	}
	return NULL;
}

int settler_start(const char *data_dir, const char *master_key_file, int64_t round_ms, size_t round_rows,
                  int64_t poll_ms, struct settler **out)
{
	struct settler *st = calloc(1, sizeof(*st));
	pthread_condattr_t attr;
	int rc;

	if (st == NULL)
		return CC_ERR_NOMEM;
	rc = vault_open(data_dir, master_key_file, &st->vault);
	if (rc == CC_OK) {
		rc = rollup_round_new(st->vault, &st->rollups);
		if (rc == CC_OK)
			rc = downtime_round_new(st->vault, &st->faults);
		if (rc == CC_OK)
			rc = alerts_round_new(st->vault, &st->alerts);
		if (rc == CC_OK)
			rc = event_days_round_new(&st->days);
		if (rc != CC_OK) {
			rollup_round_free(st->rollups);
			downtime_round_free(st->faults);
			alerts_round_free(st->alerts);
			vault_close(st->vault);
		}
	}
	if (rc != CC_OK) {
		free(st);
		return rc;
	}
	rollup_round_hooks(st->rollups, &st->parts[0]);
	downtime_round_hooks(st->faults, &st->parts[1]);
	alerts_round_hooks(st->alerts, &st->parts[2]);
	event_days_round_hooks(st->days, &st->parts[3]);
	st->next_alert_tick = clock_mono_ms() + alerts_tick_ms();
	st->next_rollouts_tick = clock_mono_ms() + rollouts_tick_ms();
	st->round_ms = round_ms > 0 ? round_ms : 1000;
	st->poll_ms = poll_ms > 0 ? poll_ms : 250;
	{
		struct store *s = vault_store(st->vault);

		if (s->ops->meta_get(s, INVENTORY_FLEET_VERSION, st->fleet_version, sizeof(st->fleet_version)) != CC_OK)
			snprintf(st->fleet_version, sizeof(st->fleet_version), "0");
	}
	st->round_rows = round_rows > 0 ? round_rows : 20000;
	pthread_mutex_init(&st->lock, NULL);
	pthread_condattr_init(&attr);
	pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
	pthread_cond_init(&st->wake, &attr);
	pthread_cond_init(&st->progress, &attr);
	pthread_condattr_destroy(&attr);
	if (pthread_create(&st->thread, NULL, settler_main, st) != 0) {
		pthread_mutex_destroy(&st->lock);
		pthread_cond_destroy(&st->wake);
		pthread_cond_destroy(&st->progress);
		rollup_round_free(st->rollups);
		downtime_round_free(st->faults);
		alerts_round_free(st->alerts);
		event_days_round_free(st->days);
		vault_close(st->vault);
		free(st);
		return CC_ERR_NOMEM;
	}
	*out = st;
	return CC_OK;
}

void settler_kick(struct settler *st)
{
	pthread_mutex_lock(&st->lock);
	st->kicked = 1;
	pthread_cond_signal(&st->wake);
	pthread_mutex_unlock(&st->lock);
}

void settler_stop(struct settler *st)
{
	if (st == NULL)
		return;
	pthread_mutex_lock(&st->lock);
	st->stopping = 1;
	pthread_cond_signal(&st->wake);
	pthread_mutex_unlock(&st->lock);
	pthread_join(st->thread, NULL);
	rollup_round_free(st->rollups);
	downtime_round_free(st->faults);
	alerts_round_free(st->alerts);
	event_days_round_free(st->days);
	vault_close(st->vault);
	pthread_mutex_destroy(&st->lock);
	pthread_cond_destroy(&st->wake);
	pthread_cond_destroy(&st->progress);
	free(st);
}

int settler_wait_moved(struct settler *st, uint64_t moved, int64_t timeout_ms)
{
	struct timespec until;
	int reached;

	clock_gettime(CLOCK_MONOTONIC, &until);
	until.tv_sec += (time_t)(timeout_ms / 1000);
	until.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
	if (until.tv_nsec >= 1000000000L) {
		until.tv_sec++;
		until.tv_nsec -= 1000000000L;
	}
	pthread_mutex_lock(&st->lock);
	st->kicked = 1;
	pthread_cond_signal(&st->wake);
	while (st->stats.moved < moved && !st->stopping &&
	       pthread_cond_timedwait(&st->progress, &st->lock, &until) == 0)
		;
	reached = st->stats.moved >= moved;
	pthread_mutex_unlock(&st->lock);
	return reached;
}

void settler_get_stats(struct settler *st, struct settler_stats *out)
{
	pthread_mutex_lock(&st->lock);
	*out = st->stats;
	pthread_mutex_unlock(&st->lock);
}
