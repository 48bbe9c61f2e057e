#include "fleet/downtime.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/clock.h"
#include "common/err.h"
#include "common/log.h"
#include "crypto/aead.h"
#include "ingest/jscan.h"
#include "records/records.h"

#define MOD "downtime"
#define MAINTENANCE_MAX_MS (INT64_C(30) * 86400000)
#define OPEN_FAULTS_MAX 16 /* more open at once count as one more: still out of service */

static const char *const state_names[] = {
	[MSTATE_UNKNOWN] = "unknown", [MSTATE_ONLINE] = "online", [MSTATE_OFFLINE] = "offline",
	[MSTATE_OUT_OF_SERVICE] = "out_of_service", [MSTATE_MAINTENANCE] = "maintenance",
};

const char *downtime_state_name(enum machine_state s)
{
	return (unsigned)s < sizeof(state_names) / sizeof(state_names[0]) ? state_names[s] : "unknown";
}

static const char *const maintenance_reasons[] = {
	"planned_service", "repair", "installation", "cleaning", "descaling", "relocation", "other", NULL,
};

int downtime_maintenance_reason_valid(const char *reason)
{
	size_t i;

	for (i = 0; reason != NULL && maintenance_reasons[i] != NULL; i++)
		if (strcmp(reason, maintenance_reasons[i]) == 0)
			return 1;
	return 0;
}

static int keep_state(void *ctx, int64_t machine_id, const struct availability *a)
{
	(void)machine_id;
	*(struct availability *)ctx = *a;
	return 0;
}

int downtime_state_now(struct store *s, int64_t machine_id, struct availability *out)
{
	int64_t now = clock_now_ms();

	memset(out, 0, sizeof(*out));
	out->state_at_end = MSTATE_UNKNOWN;
	return availability_each(s, machine_id, now, now + 1, keep_state, out);
}

int downtime_maintenance(struct vault *v, const struct store_machine *m, const char *reason, int64_t until_ms,
                         const char *who)
{
	struct store *s = vault_store(v);
	struct store_state_change c;
	struct availability now;
	int rc;

	memset(&c, 0, sizeof(c));
	c.machine_id = m->id;
	c.at_ms = clock_now_ms();
	c.kind = STATE_MAINTENANCE;
	snprintf(c.reason, sizeof(c.reason), "%s", who);
	if (until_ms == 0) {
		rc = downtime_state_now(s, m->id, &now);
		if (rc != CC_OK)
			return rc;
		if (now.state_at_end != MSTATE_MAINTENANCE)
			return CC_ERR_STATE;
		snprintf(c.code, sizeof(c.code), "ended");
	} else {
		if (!downtime_maintenance_reason_valid(reason) || until_ms <= c.at_ms ||
		    until_ms > c.at_ms + MAINTENANCE_MAX_MS)
			return CC_ERR_INVALID;
		snprintf(c.code, sizeof(c.code), "%s", reason);
		c.value = until_ms;
	}
	return s->ops->state_change_add(s, &c);
}

int64_t availability_down_ms(const struct availability *a)
{
	return a->offline_ms + a->out_of_service_ms;
}

/* ---- the sweep over one machine's changes ---- */

struct sweep {
	int64_t machine_id; /* 0: none yet */
	int64_t from_ms, to_ms, t;
	int link;           /* -1 never seen, 0 offline, 1 online */
	char link_reason[64];
	char faults[OPEN_FAULTS_MAX][CC_NAME_MAX + 1];
	int nfaults;
	int64_t maint_until, maint_ended_ms;
	char maint_reason[CC_NAME_MAX + 1];
	enum machine_state state;
	struct availability a;
	int (*each)(void *ctx, int64_t machine_id, const struct availability *a);
	void *ctx;
	int rc;
	/* Business hours: only time inside the windows counts, and the state
	 * seen there (vstate) is what incidents are counted on, as if the
	 * closed hours were cut out of the timeline. */
	const struct availability_hours *hours;
	int windowed;
	const struct hours_window *win;
	size_t nwin, wi;
	enum machine_state vstate;
	int vstate_set;
};

static enum machine_state state_at(const struct sweep *w, int64_t t)
{
	if (w->maint_until > t)
		return MSTATE_MAINTENANCE;
	if (w->link < 0)
		return MSTATE_UNKNOWN;
	if (w->link == 0)
		return MSTATE_OFFLINE;
	return w->nfaults > 0 ? MSTATE_OUT_OF_SERVICE : MSTATE_ONLINE;
}

static int is_down(enum machine_state s)
{
	return s == MSTATE_OFFLINE || s == MSTATE_OUT_OF_SERVICE;
}

/* An incident: from online to down; a restoration: back. */
static void transition(struct sweep *w, enum machine_state from, enum machine_state to)
{
	if (from == MSTATE_ONLINE && is_down(to))
		w->a.incidents++;
	if (is_down(from) && to == MSTATE_ONLINE)
		w->a.restorations++;
}

/* Counts [w->t, w->t + ms) as state s (within the business hours, if any). */
static void count(struct sweep *w, enum machine_state s, int64_t ms)
{
	int64_t *bucket[] = { [MSTATE_UNKNOWN] = &w->a.unknown_ms, [MSTATE_ONLINE] = &w->a.up_ms,
		              [MSTATE_OFFLINE] = &w->a.offline_ms, [MSTATE_OUT_OF_SERVICE] = &w->a.out_of_service_ms,
		              [MSTATE_MAINTENANCE] = &w->a.maintenance_ms };
	int64_t from = w->t, to = w->t + ms;
	size_t i;

	if (ms <= 0)
		return;
	if (!w->windowed) {
		*bucket[s] += ms;
		return;
	}
	while (w->wi < w->nwin && w->win[w->wi].end_ms <= from)
		w->wi++;
	for (i = w->wi; i < w->nwin && w->win[i].start_ms < to; i++) {
		int64_t lo = from > w->win[i].start_ms ? from : w->win[i].start_ms;
		int64_t hi = to < w->win[i].end_ms ? to : w->win[i].end_ms;

		if (hi <= lo)
			continue;
		if (s != w->vstate) {
			transition(w, w->vstate, s);
			w->vstate = s;
		}
		*bucket[s] += hi - lo;
	}
}

/* The state moved (or may have) at t: incidents and restorations. */
static void moved(struct sweep *w, int64_t t)
{
	enum machine_state now = state_at(w, t);

	if (now == w->state)
		return;
	if (t >= w->from_ms && !w->windowed) /* within business hours: counted as time is (count) */
		transition(w, w->state, now);
	w->state = now;
	w->a.since_ms = t;
}

/* Counts [w->t, until) in the states it passes through (a maintenance
 * window may end inside it). */
static void advance(struct sweep *w, int64_t until)
{
	if (until > w->to_ms)
		until = w->to_ms;
	if (w->maint_until > w->t && w->maint_until < until) {
		count(w, MSTATE_MAINTENANCE, w->maint_until - w->t);
		w->t = w->maint_until;
		moved(w, w->t);
	}
	if (until > w->t) {
		count(w, state_at(w, w->t), until - w->t);
		w->t = until;
	}
}

/* strlcpy: a sweep copies a reason per change, 100,000s in a fleet report. */
static void copy_reason(char *out, size_t cap, const char *in)
{
	size_t n = strnlen(in, cap - 1);

	memcpy(out, in, n);
	out[n] = '\0';
}

static void apply(struct sweep *w, const struct store_state_change *c)
{
	int i;

	switch (c->kind) {
	case STATE_LINK:
		w->link = c->value != 0;
		copy_reason(w->link_reason, sizeof(w->link_reason), c->reason);
		break;
	case STATE_FAULT:
		for (i = 0; i < w->nfaults && strcmp(w->faults[i], c->code) != 0; i++)
			;
		if (c->value != 0 && i == w->nfaults && w->nfaults < OPEN_FAULTS_MAX)
			snprintf(w->faults[w->nfaults++], sizeof(w->faults[0]), "%s", c->code);
		else if (c->value == 0 && i < w->nfaults)
			memmove(&w->faults[i], &w->faults[i + 1], (size_t)(--w->nfaults - i) * sizeof(w->faults[0]));
		break;
	case STATE_MAINTENANCE:
		/* Changes of one millisecond are read in code order: an end
		 * wins over a start made in the same millisecond. */
		if (c->value == 0)
			w->maint_ended_ms = c->at_ms;
		else if (c->at_ms == w->maint_ended_ms)
			break;
		w->maint_until = c->value;
		copy_reason(w->maint_reason, sizeof(w->maint_reason), c->code);
		break;
	}
}

static void reason_of(struct sweep *w)
{
	const char *why = "";

	if (w->state == MSTATE_MAINTENANCE)
		why = w->maint_reason;
	else if (w->state == MSTATE_OFFLINE)
		why = w->link_reason;
	else if (w->state == MSTATE_OUT_OF_SERVICE)
		why = w->faults[w->nfaults - 1];
	snprintf(w->a.reason, sizeof(w->a.reason), "%s", why);
}

/* The state at the period's start, once the changes before it are read. */
static void period_starts(struct sweep *w)
{
	if (!w->vstate_set) {
		w->vstate = w->state;
		w->vstate_set = 1;
	}
}

static void finish(struct sweep *w)
{
	if (w->machine_id == 0 || w->rc != 0)
		return;
	period_starts(w);
	advance(w, w->to_ms);
	w->a.state_at_end = w->state;
	reason_of(w);
	if (w->each != NULL)
		w->rc = w->each(w->ctx, w->machine_id, &w->a);
	w->machine_id = 0;
}

static void start(struct sweep *w, int64_t machine_id)
{
	w->machine_id = machine_id;
	w->t = w->from_ms;
	w->link = -1;
	w->link_reason[0] = '\0';
	w->nfaults = 0;
	w->maint_until = 0;
	w->maint_ended_ms = INT64_MIN;
	w->maint_reason[0] = '\0';
	w->state = MSTATE_UNKNOWN;
	memset(&w->a, 0, sizeof(w->a));
	w->a.since_ms = INT64_MIN;
	w->windowed = w->hours != NULL && w->hours->of(w->hours->ctx, machine_id, &w->win, &w->nwin);
	w->wi = 0;
	w->vstate_set = 0;
}

static int on_change(void *ctx, const struct store_state_change *c, int before)
{
	struct sweep *w = ctx;

	if (c->machine_id != w->machine_id) {
		finish(w);
		if (w->rc != 0)
			return w->rc;
		start(w, c->machine_id);
	}
	if (before) {
		apply(w, c);
		w->state = state_at(w, w->from_ms);
		return 0;
	}
	if (c->at_ms >= w->to_ms)
		return 0;
	period_starts(w);
	advance(w, c->at_ms);
	apply(w, c);
	moved(w, c->at_ms);
	return 0;
}

int availability_each(struct store *s, int64_t machine_id, int64_t from_ms, int64_t to_ms,
                      int (*each)(void *ctx, int64_t machine_id, const struct availability *a), void *ctx)
{
	return availability_within(s, machine_id, from_ms, to_ms, NULL, each, ctx);
}

int availability_within(struct store *s, int64_t machine_id, int64_t from_ms, int64_t to_ms,
                        const struct availability_hours *hours,
                        int (*each)(void *ctx, int64_t machine_id, const struct availability *a), void *ctx)
{
	struct sweep w;
	int64_t now = clock_now_ms();
	int rc;

	/* The future is unknown; a change made this very millisecond is known. */
	if (to_ms > now + 1)
		to_ms = now + 1;
	if (from_ms >= to_ms)
		return CC_ERR_INVALID;
	memset(&w, 0, sizeof(w));
	w.from_ms = from_ms;
	w.to_ms = to_ms;
	w.each = each;
	w.ctx = ctx;
	w.hours = hours;
	rc = s->ops->state_changes(s, machine_id, from_ms, to_ms, on_change, &w);
	if (rc == CC_OK)
		finish(&w);
	return rc != CC_OK ? rc : w.rc;
}

/* ---- faults, from the events the settler moves in ---- */

struct pending_fault {
	struct store_state_change c;
};

struct downtime_round {
	struct vault *v;
	struct store_machine machine; /* the last one looked up */
	int have_machine;
	struct pending_fault *p;
	size_t n, cap;
};

int downtime_round_new(struct vault *v, struct downtime_round **out)
{
	struct downtime_round *r = calloc(1, sizeof(*r));

	if (r == NULL)
		return CC_ERR_NOMEM;
	r->v = v;
	*out = r;
	return CC_OK;
}

void downtime_round_free(struct downtime_round *r)
{
	if (r == NULL)
		return;
	free(r->p);
	free(r);
}

struct event_scan {
	int is_error, critical, state; /* state: 0 none, 1 raised, 2 cleared */
	char code[CC_NAME_MAX + 1];
	const char *key;
	size_t klen;
};

static int key_is(const struct event_scan *e, const char *name)
{
	return e->klen == strlen(name) && memcmp(e->key, name, e->klen) == 0;
}

static int value_is(const struct jscan_token *t, const char *text)
{
	return t->len == strlen(text) && memcmp(t->s, text, t->len) == 0;
}

static int on_event_token(void *ctx, const struct jscan_token *t)
{
	struct event_scan *e = ctx;

	if (t->depth != 1)
		return 0;
	if (t->type == JSCAN_KEY) {
		e->key = t->s;
		e->klen = t->len;
		return 0;
	}
	if (t->type == JSCAN_STRING && e->key != NULL) {
		if (key_is(e, "type"))
			e->is_error = value_is(t, "error");
		else if (key_is(e, "severity"))
			e->critical = value_is(t, "critical");
		else if (key_is(e, "state"))
			e->state = value_is(t, "raised") ? 1 : value_is(t, "cleared") ? 2 : 0;
		else if (key_is(e, "code") && t->len < sizeof(e->code)) {
			memcpy(e->code, t->s, t->len);
			e->code[t->len] = '\0';
		}
	}
	e->key = NULL;
	return 0;
}

static int round_row(void *ctx, const struct store_record *rec)
{
	struct downtime_round *r = ctx;
	struct store *s = vault_store(r->v);
	struct event_scan e;
	struct jscan js;
	uint8_t *pt = NULL;
	size_t len = 0;
	int rc;

	if (rec->kind != RECORD_EVENT)
		return CC_OK;
	if (!r->have_machine || r->machine.id != rec->machine_id) {
		r->have_machine = s->ops->machine_get(s, rec->machine_id, &r->machine) == CC_OK;
		if (!r->have_machine)
			return CC_OK; /* deleted meanwhile */
	}
	rc = records_open_record(r->v, &r->machine, rec, &pt, &len);
	if (rc == CC_ERR_AUTH || rc == CC_ERR_CORRUPT || rc == CC_ERR_NOTFOUND)
		return CC_OK; /* damaged, or its customer's key destroyed */
	if (rc != CC_OK)
		return rc;
	memset(&e, 0, sizeof(e));
	/* Ingest validated the event: a declined scan (an odd number) has no
	 * bearing on the strings read here. */
	(void)jscan_run(&js, pt, len, on_event_token, &e);
	crypto_wipe(pt, len);
	free(pt);
	if (!e.is_error || !e.critical || e.state == 0 || e.code[0] == '\0')
		return CC_OK;
	if (r->n == r->cap) {
		size_t cap = r->cap ? 2 * r->cap : 16;
		struct pending_fault *grown = realloc(r->p, cap * sizeof(*grown));

		if (grown == NULL)
			return CC_ERR_NOMEM;
		r->p = grown;
		r->cap = cap;
	}
	memset(&r->p[r->n], 0, sizeof(r->p[0]));
	r->p[r->n].c.machine_id = rec->machine_id;
	r->p[r->n].c.at_ms = rec->ts_ms;
	r->p[r->n].c.kind = STATE_FAULT;
	snprintf(r->p[r->n].c.code, sizeof(r->p[0].c.code), "%s", e.code);
	r->p[r->n].c.value = e.state == 1;
	r->n++;
	return CC_OK;
}

static int round_finish(void *ctx, struct store *s)
{
	struct downtime_round *r = ctx;
	size_t i;
	int rc = CC_OK;

	for (i = 0; i < r->n && rc == CC_OK; i++)
		rc = s->ops->state_change_add(s, &r->p[i].c);
	r->n = 0;
	r->have_machine = 0;
	return rc;
}

void downtime_round_hooks(struct downtime_round *r, struct store_settle_hooks *out)
{
	out->row = round_row;
	out->finish = round_finish;
	out->ctx = r;
}
