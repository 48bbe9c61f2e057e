#define _GNU_SOURCE /* pthread_setname_np: the thread's name in top -H and perf */
#include "daemon/writer.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/clock.h"
#include "common/err.h"
#include "common/log.h"
#include "daemon/settler.h"
#include "fleet/inventory.h"
#include "ops/metrics.h"
#include "records/records.h"
#include "vault/vault.h"

#define MOD "writer"
#define QUEUE_MAX 262144
/* The settler's rounds (settler.h): at least once a second, and as soon as
 * this many records arrived; a round moves at most SETTLE_ROWS per transaction. */
#define SETTLE_MS 1000
#define SETTLE_ROWS 20000

struct vec {
	struct writer_item *items;
	size_t n, cap;
};

struct writer {
	struct vault *vault;
	struct settler *settler;
	size_t appended;            /* records since the last kick of the settler */
	uint64_t appended_total;    /* records appended since the start */
	uint64_t backlog_max;       /* (lock) writer_set_backlog */
	int holding;                /* hold_back is holding the writer back (logged once) */
	size_t max_batch;
	void (*notify)(void *);
	void *notify_arg;
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t wake;
	struct vec pending;         /* submitted, not yet taken (lock) */
	struct writer_done *done;   /* completions for the loop (lock) */
	size_t ndone, capdone;
	int stopping;               /* (lock) */
	int idle;                   /* (lock) waiting for work: a submit wakes it */
	int64_t first_us;           /* (lock) when pending last went from empty to not */
	size_t last_batch;          /* items in the batch before (the writer's own) */
	int64_t gather_us;          /* (lock) writer_set_gather */
	struct writer_stats stats;  /* (lock) */
	/* Erasures reach this thread's key cache through the fleet version. */
	int64_t poll_ms, next_poll_ms;
	char fleet_version[32];
};

void writer_set_backlog(struct writer *w, uint64_t records)
{
	pthread_mutex_lock(&w->lock);
	w->backlog_max = records > 0 ? records : 1;
	pthread_mutex_unlock(&w->lock);
}

void writer_set_gather(struct writer *w, int64_t us)
{
	pthread_mutex_lock(&w->lock);
	w->gather_us = us > 0 ? us : 0;
	pthread_mutex_unlock(&w->lock);
}

static int vec_push(struct vec *v, const struct writer_item *it)
{
	if (v->n == v->cap) {
		size_t cap = v->cap ? v->cap * 2 : 1024;
		struct writer_item *grown = realloc(v->items, cap * sizeof(*grown));

		if (grown == NULL)
			return CC_ERR_NOMEM;
		v->items = grown;
		v->cap = cap;
	}
	v->items[v->n++] = *it;
	return CC_OK;
}

int writer_submit(struct writer *w, struct writer_item *item)
{
	int rc;

	pthread_mutex_lock(&w->lock);
	if (w->pending.n >= QUEUE_MAX || w->stopping)
		rc = CC_ERR_LIMIT;
	else
		rc = vec_push(&w->pending, item);
	if (rc == CC_OK && w->pending.n == 1)
		w->first_us = clock_mono_us();
	/* Not while a batch gathers (writer_set_gather): that wait ends on its clock. */
	if (rc == CC_OK && w->idle)
		pthread_cond_signal(&w->wake);
	pthread_mutex_unlock(&w->lock);
	return rc;
}

size_t writer_take_done(struct writer *w, struct writer_done *out, size_t max)
{
	size_t n;

	pthread_mutex_lock(&w->lock);
	n = w->ndone < max ? w->ndone : max;
	if (n > 0) {
		memcpy(out, w->done, n * sizeof(*out));
		memmove(w->done, w->done + n, (w->ndone - n) * sizeof(*out));
		w->ndone -= n;
	}
	pthread_mutex_unlock(&w->lock);
	return n;
}

static int store_state(struct vault *v, const struct writer_item *it)
{
	struct store *s = vault_store(v);
	struct store_machine_state st;
	int rc = CC_OK;

	memset(&st, 0, sizeof(st));
	st.machine_id = it->machine_id;
	st.online = it->online;
	st.last_seen_ms = it->at_ms;
	st.changed_ms = it->at_ms;
	memcpy(st.disconnect_reason, it->reason, sizeof(st.disconnect_reason) - 1);
	st.disconnect_reason[sizeof(st.disconnect_reason) - 1] = '\0';
	if (it->payload != NULL) {
		struct seal_ad ad = { SEAL_MACHINE_INFO, it->customer_id, it->machine_id, 0, 0, it->serial };
		uint8_t *blob = NULL;
		size_t len = 0;

		rc = vault_seal(v, &ad, it->payload, it->len, &blob, &len);
		if (rc == CC_OK && len > sizeof(st.info))
			rc = CC_ERR_LIMIT;
		if (rc == CC_OK) {
			memcpy(st.info, blob, len);
			st.info_len = len;
		}
		free(blob);
	}
	if (rc == CC_OK)
		rc = s->ops->machine_state_set(s, &st);
	return rc;
}

static int store_item(struct writer *w, struct writer_item *it, int64_t now)
{
	struct store *s = vault_store(w->vault);

	switch (it->op) {
	case WRITER_RECORD:
		return CC_OK; /* appended to the inbox before (append_records) */
	case WRITER_STATE:
		return store_state(w->vault, it);
	case WRITER_REFUSAL:
		return s->ops->refusal_count(s, it->machine_id, it->reason, now);
	case WRITER_COMMAND_DONE:
		return s->ops->command_delivered(s, it->seq, now);
	case WRITER_COMMAND_FAILED:
		return s->ops->command_failed(s, it->seq, now, it->reason);
	case WRITER_BARRIER:
		return CC_OK;
	case WRITER_COMMAND_RESULT: {
		int late = 0, rc = s->ops->command_result(s, it->seq, it->machine_id, it->report, it->reason, now, &late);

		if (rc == CC_OK && late)
			log_info(MOD, "%s: a result for command %lld came after it ended: ignored, counted", it->serial,
			         (long long)it->seq);
		return rc;
	}
	case WRITER_COMMANDS_EXPIRE: {
		int64_t n = 0;
		int rc = s->ops->command_expire(s, it->at_ms, &n);

		if (rc == CC_OK && n > 0)
			log_info(MOD, "%lld command(s) timed out", (long long)n);
		return rc;
	}
	}
	return CC_ERR_INVALID;
}

static struct record_in record_of(const struct writer_item *it)
{
	struct record_in r = { it->machine_id, it->customer_id, it->serial, it->kind,
	                       it->seq, it->ts_ms, (const char *)it->payload, it->len };

	return r;
}

/* Telemetry and events: sealed and appended to the store's inbox, all of
 * the batch in one commit (store.h records_put), which is all an
 * acknowledgement waits for. When that fails, one append each, so that a
 * record that cannot be stored (its customer erased a moment ago) fails alone. */
static int append_records(struct writer *w, struct writer_item *items, size_t n, uint8_t *ok)
{
	struct record_in *recs = malloc(n * sizeof(*recs));
	size_t i, m = 0, inserted = 0;
	int rc;

	if (recs == NULL)
		return CC_ERR_NOMEM;
	for (i = 0; i < n; i++)
		if (items[i].op == WRITER_RECORD)
			recs[m++] = record_of(&items[i]);
	rc = m > 0 ? records_put(w->vault, recs, m, &inserted) : CC_OK;
	free(recs);
	if (rc == CC_OK) {
		for (i = 0; i < n; i++)
			if (items[i].op == WRITER_RECORD)
				ok[i] = 1;
		w->appended += m;
		w->appended_total += m;
		return CC_OK;
	}
	for (i = 0; i < n; i++) {
		struct record_in r;

		if (items[i].op != WRITER_RECORD)
			continue;
		r = record_of(&items[i]);
		ok[i] = records_put(w->vault, &r, 1, &inserted) == CC_OK;
		w->appended += ok[i];
		w->appended_total += ok[i];
	}
	return rc;
}

/* Everything but records (state, refusals, commands) in one transaction of
 * the main database; ok[i] says which items are durable. isolate: each
 * item in a savepoint, so that one that cannot be stored (its machine
 * deleted a moment ago, say) fails alone. Returns 0 when it committed. */
static int commit_batch(struct writer *w, struct writer_item *items, size_t n, int isolate, uint8_t *ok)
{
	struct store *s = vault_store(w->vault);
	int64_t now = clock_now_ms();
	size_t i, others = 0;
	int rc;

	for (i = 0; i < n; i++)
		others += items[i].op != WRITER_RECORD;
	if (others == 0)
		return CC_OK;
	rc = s->ops->begin(s);
	for (i = 0; i < n && rc == CC_OK; i++) {
		int item_rc;

		if (items[i].op == WRITER_RECORD)
			continue;
		if (isolate) {
			rc = s->ops->savepoint(s);
			if (rc != CC_OK)
				break;
		}
		item_rc = store_item(w, &items[i], now);
		ok[i] = item_rc == CC_OK;
		if (isolate) {
			if (item_rc == CC_OK)
				rc = s->ops->savepoint_release(s);
			else
				s->ops->savepoint_rollback(s);
		} else {
			rc = item_rc;
		}
	}
	if (rc == CC_OK)
		rc = s->ops->commit(s);
	if (rc != CC_OK)
		s->ops->rollback(s);
	return rc;
}

/* Records first (their acknowledgements wait for nothing else), then the
 * rest; each part's fast path stores it at once, and when that fails it is
 * stored again item by item so one bad item costs only itself. */
static int store_batch(struct writer *w, struct writer_item *items, size_t n, uint8_t *ok)
{
	size_t i, failed = 0;
	int rc;

	memset(ok, 0, n);
	rc = append_records(w, items, n, ok);
	if (commit_batch(w, items, n, 0, ok) != CC_OK) {
		for (i = 0; i < n; i++)
			if (items[i].op != WRITER_RECORD)
				ok[i] = 0;
		if (commit_batch(w, items, n, 1, ok) != CC_OK) {
			for (i = 0; i < n; i++)
				if (items[i].op != WRITER_RECORD)
					ok[i] = 0;
			rc = CC_ERR_DB;
		}
	}
	if (w->appended >= SETTLE_ROWS) {
		settler_kick(w->settler);
		w->appended = 0;
	}
	for (i = 0; i < n; i++)
		failed += !ok[i];
	if (failed == n && n > 0) {
		log_error(MOD, "a batch of %zu messages was not stored (%s); they are not acknowledged",
		          n, cc_strerror(rc != CC_OK ? rc : CC_ERR_DB));
		return rc != CC_OK ? rc : CC_ERR_DB;
	}
	if (failed > 0)
		log_warn(MOD, "%zu of %zu messages could not be stored and are not acknowledged", failed, n);
	return CC_OK;
}

static void dropped_key(void *ctx, int64_t org_id)
{
	(void)ctx;
	log_info(MOD, "dropped the data key of organisation %lld from the writer's cache (erased)",
	         (long long)org_id);
}

/* Reads the fleet version (bumped by every erasure, among others); when it
 * moved, forgets the data keys that left the keyring. */
static void poll_fleet(struct writer *w)
{
	struct store *s = vault_store(w->vault);
	char version[32] = "0";
	int rc = s->ops->meta_get(s, INVENTORY_FLEET_VERSION, version, sizeof(version));

	w->next_poll_ms = clock_mono_ms() + w->poll_ms;
	if ((rc != CC_OK && rc != CC_ERR_NOTFOUND) || strcmp(version, w->fleet_version) == 0)
		return;
	rc = vault_keys_refresh(w->vault, dropped_key, w);
	if (rc < 0) {
		log_warn(MOD, "the keyring could not be read again (%s); trying at the next poll", cc_strerror(rc));
		return;
	}
	snprintf(w->fleet_version, sizeof(w->fleet_version), "%s", version);
}

static uint64_t backlog_max(struct writer *w)
{
	uint64_t max;

	pthread_mutex_lock(&w->lock);
	max = w->backlog_max;
	pthread_mutex_unlock(&w->lock);
	return max;
}

static int stopping(struct writer *w)
{
	int stop;

	pthread_mutex_lock(&w->lock);
	stop = w->stopping;
	pthread_mutex_unlock(&w->lock);
	return stop;
}

/* Waits while more records wait in the inbox than writer_set_backlog allows. */
static void hold_back(struct writer *w)
{
	uint64_t max = backlog_max(w);
	struct settler_stats st;

	settler_get_stats(w->settler, &st);
	metrics_gauge_set(METRIC_INBOX_BACKLOG,
	                  w->appended_total > st.moved ? (int64_t)(w->appended_total - st.moved) : 0);
	if (w->appended_total <= max || st.moved >= w->appended_total - max) {
		if (w->holding)
			log_info(MOD, "the inbox is back under %llu records: messages are taken as they come",
			         (unsigned long long)max);
		w->holding = 0;
		return;
	}
	if (!w->holding)
		log_info(MOD, "the inbox holds more than %llu records: new messages wait until they are moved",
		         (unsigned long long)max);
	w->holding = 1;
	while (!settler_wait_moved(w->settler, w->appended_total - max, 1000) && !stopping(w))
		metrics_writer_beat(); /* held back, not stuck */
}

/* Waits for work or the next fleet poll, whichever comes first (lock held). */
static void wait_for_work(struct writer *w)
{
	struct timespec until;
	int64_t left = w->next_poll_ms - clock_mono_ms();

	if (left <= 0)
		return;
	clock_gettime(CLOCK_MONOTONIC, &until);
	until.tv_sec += (time_t)(left / 1000);
	until.tv_nsec += (long)(left % 1000) * 1000000L;
	if (until.tv_nsec >= 1000000000L) {
		until.tv_sec++;
		until.tv_nsec -= 1000000000L;
	}
	w->idle = 1;
	pthread_cond_timedwait(&w->wake, &w->lock, &until);
	w->idle = 0;
}

/* Lets a batch gather until gather_us after its first item, when the one
 * before showed that messages keep coming (lock held). */
static void gather(struct writer *w)
{
	int64_t until_us = w->first_us + w->gather_us;
	struct timespec until;

	if (w->gather_us == 0 || w->last_batch < 2 || w->stopping || w->pending.n >= w->max_batch ||
	    clock_mono_us() >= until_us)
		return;
	until.tv_sec = (time_t)(until_us / 1000000);
	until.tv_nsec = (long)(until_us % 1000000) * 1000L;
	while (!w->stopping && w->pending.n < w->max_batch &&
	       pthread_cond_timedwait(&w->wake, &w->lock, &until) == 0)
		;
}

static void *writer_main(void *arg)
{
	struct writer *w = arg;
	struct vec batch = { NULL, 0, 0 };
	uint8_t *ok = NULL;
	size_t okcap = 0;

	pthread_setname_np(pthread_self(), "cc-writer");
	for (;;) {
		size_t i, n;
		int rc, stop;

		metrics_writer_beat();
		if (clock_mono_ms() >= w->next_poll_ms)
			poll_fleet(w);
		pthread_mutex_lock(&w->lock);
		if (w->pending.n == 0 && !w->stopping) {
			wait_for_work(w);
			if (w->pending.n == 0 && !w->stopping) {
				pthread_mutex_unlock(&w->lock);
				continue; /* time for the fleet poll */
			}
		}
		gather(w);
		stop = w->stopping && w->pending.n == 0;
		/* Take everything up to max_batch: the group that gathered while we committed. */
		n = w->pending.n < w->max_batch ? w->pending.n : w->max_batch;
		if (n > 0) {
			if (batch.cap < n) {
				struct writer_item *grown = realloc(batch.items, n * sizeof(*grown));

				if (grown == NULL) {
					pthread_mutex_unlock(&w->lock);
					continue; /* try again with the queue untouched */
				}
				batch.items = grown;
				batch.cap = n;
			}
			memcpy(batch.items, w->pending.items, n * sizeof(*batch.items));
			memmove(w->pending.items, w->pending.items + n,
			        (w->pending.n - n) * sizeof(*batch.items));
			w->pending.n -= n;
		}
		metrics_gauge_set(METRIC_WRITER_QUEUE, (int64_t)w->pending.n);
		pthread_mutex_unlock(&w->lock);
		if (stop)
			break;

		if (okcap < n) {
			uint8_t *grown = realloc(ok, n);

			if (grown == NULL) {
				/* Put the batch back and try again. */
				pthread_mutex_lock(&w->lock);
				for (i = 0; i < n && vec_push(&w->pending, &batch.items[i]) == CC_OK; i++)
					;
				pthread_mutex_unlock(&w->lock);
				continue;
			}
			ok = grown;
			okcap = n;
		}
		hold_back(w);
		{
			int64_t started_us = clock_mono_us();

			rc = store_batch(w, batch.items, n, ok);
			metrics_commit(n, clock_mono_us() - started_us);
		}
		w->last_batch = n;

		pthread_mutex_lock(&w->lock);
		w->stats.batches++;
		if (rc != CC_OK)
			w->stats.failures++;
		for (i = 0; i < n; i++) {
			struct writer_item *it = &batch.items[i];

			if (it->op == WRITER_RECORD && ok[i])
				w->stats.records++;
			if (it->conn_id != 0) {
				if (w->ndone == w->capdone) {
					size_t cap = w->capdone ? w->capdone * 2 : 1024;
					struct writer_done *grown = realloc(w->done, cap * sizeof(*grown));

					if (grown != NULL) {
						w->done = grown;
						w->capdone = cap;
					}
				}
				if (w->ndone < w->capdone) {
					struct writer_done *d = &w->done[w->ndone++];

					d->conn_id = it->conn_id;
					d->packet_id = it->packet_id;
					d->seq = it->seq;
					d->op = it->op;
					d->ok = ok[i];
				}
			}
			free(it->payload);
		}
		pthread_mutex_unlock(&w->lock);
		w->notify(w->notify_arg);
	}
	free(batch.items);
	free(ok);
	return NULL;
}

int writer_start(const char *data_dir, const char *master_key_file, size_t max_batch, int64_t poll_ms,
                 void (*notify)(void *arg), void *arg, struct writer **out)
{
	struct writer *w = calloc(1, sizeof(*w));
	pthread_condattr_t attr;
	struct store *s;
	int rc;

	if (w == NULL)
		return CC_ERR_NOMEM;
	rc = vault_open(data_dir, master_key_file, &w->vault);
	if (rc != CC_OK) {
		free(w);
		return rc;
	}
	w->max_batch = max_batch > 0 ? max_batch : 1;
	w->notify = notify;
	w->notify_arg = arg;
	w->poll_ms = poll_ms > 0 ? poll_ms : 250;
	w->backlog_max = 100000;
	w->next_poll_ms = clock_mono_ms() + w->poll_ms;
	rc = settler_start(data_dir, master_key_file, SETTLE_MS, SETTLE_ROWS, poll_ms > 0 ? poll_ms : 250, &w->settler);
	if (rc != CC_OK) {
		vault_close(w->vault);
		free(w);
		return rc;
	}
	s = vault_store(w->vault);
	if (s->ops->meta_get(s, INVENTORY_FLEET_VERSION, w->fleet_version, sizeof(w->fleet_version)) != CC_OK)
		snprintf(w->fleet_version, sizeof(w->fleet_version), "0");
	pthread_mutex_init(&w->lock, NULL);
	pthread_condattr_init(&attr);
	pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
	pthread_cond_init(&w->wake, &attr);
	pthread_condattr_destroy(&attr);
	if (pthread_create(&w->thread, NULL, writer_main, w) != 0) {
		settler_stop(w->settler);
		vault_close(w->vault);
		free(w);
		return CC_ERR_NOMEM;
	}
	*out = w;
	return CC_OK;
}

void writer_stop(struct writer *w)
{
	size_t i;

	if (w == NULL)
		return;
	pthread_mutex_lock(&w->lock);
	w->stopping = 1;
	pthread_cond_signal(&w->wake);
	pthread_mutex_unlock(&w->lock);
	pthread_join(w->thread, NULL);
	/* After the writer: what it appended last is moved too. */
	settler_stop(w->settler);
	for (i = 0; i < w->pending.n; i++)
		free(w->pending.items[i].payload);
	free(w->pending.items);
	free(w->done);
	vault_close(w->vault);
	pthread_mutex_destroy(&w->lock);
	pthread_cond_destroy(&w->wake);
	free(w);
}

void writer_get_stats(struct writer *w, struct writer_stats *out)
{
	pthread_mutex_lock(&w->lock);
	*out = w->stats;
	pthread_mutex_unlock(&w->lock);
}
