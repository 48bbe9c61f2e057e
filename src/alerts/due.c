/* due.c - remembered service forecasts for the alert timer; see due.h. */
#include "alerts/due.h"

#include <stdlib.h>
#include <string.h>

#include "common/err.h"

struct entry {
	int64_t machine_id, computed_ms;
	int dirty;
	int64_t due[FS_COUNT];
};

struct alert_due {
	struct entry *e; /* by machine id */
	size_t n, cap;
};

int alert_due_new(struct alert_due **out)
{
	*out = calloc(1, sizeof(**out));
	return *out != NULL ? CC_OK : CC_ERR_NOMEM;
}

void alert_due_free(struct alert_due *d)
{
	if (d == NULL)
		return;
	free(d->e);
	free(d);
}

static struct entry *entry_of(struct alert_due *d, int64_t machine_id, int add)
{
	size_t lo = 0, hi = d->n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (d->e[mid].machine_id < machine_id)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo < d->n && d->e[lo].machine_id == machine_id)
		return &d->e[lo];
	if (!add)
		return NULL;
	if (d->n == d->cap) {
		size_t cap = d->cap ? 2 * d->cap : 64;
		struct entry *grown = realloc(d->e, cap * sizeof(*grown));

		if (grown == NULL)
			return NULL;
		d->e = grown;
		d->cap = cap;
	}
	memmove(&d->e[lo + 1], &d->e[lo], (d->n - lo) * sizeof(d->e[0]));
	memset(&d->e[lo], 0, sizeof(d->e[0]));
	d->e[lo].machine_id = machine_id;
	d->n++;
	return &d->e[lo];
}

int alert_due_touch(struct alert_due *d, int64_t machine_id)
{
	struct entry *e = entry_of(d, machine_id, 0);

	if (e != NULL)
		e->dirty = 1;
	return CC_OK; /* not known yet: made at its first tick anyway */
}

int alert_due_refresh(struct alert_due *d, struct vault *v, const struct store_machine *m, int64_t now_ms,
                      int64_t recheck_ms)
{
	struct entry *e = entry_of(d, m->id, 1);
	json_t *doc = NULL;
	int rc;

	if (e == NULL)
		return CC_ERR_NOMEM;
	if (e->computed_ms != 0 && !(e->dirty && now_ms - e->computed_ms >= recheck_ms))
		return 0;
	rc = forecast_machine(v, m, now_ms, 0, &doc, e->due);
	json_decref(doc);
	if (rc != CC_OK) {
		e->computed_ms = 0; /* none: tried again at the next tick */
		return rc;
	}
	e->computed_ms = now_ms;
	e->dirty = 0;
	return 1;
}

int alert_due_known(const struct alert_due *d, int64_t machine_id, int64_t due_ms[FS_COUNT])
{
	struct entry *e = entry_of((struct alert_due *)d, machine_id, 0);

	if (e == NULL || e->computed_ms == 0)
		return 0;
	memcpy(due_ms, e->due, sizeof(e->due));
	return 1;
}
