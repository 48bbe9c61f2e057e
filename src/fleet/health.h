/*
 * health.h - a machine's health score, 0 to 100, and the parts it is made
 * of, so that every score can be explained (docs/OPERATIONS.md "Health").
 *
 * 100 less a penalty per part, each bounded; a part counts only when the
 * reader may see its data class, so a score never hides a reason:
 *   availability  status     (100 - availability % of the last 7 days) x 2, at most 40
 *   state         status     out of service now 30, offline now 10 (not in maintenance)
 *   faults        technical  5 per critical fault raised in the last 7 days, at most 20
 *   filter        service    10 when the water filter is past its capacity (filter_used_pct > 100)
 *   descaling     service    10 when descaling is overdue (descale_due_l < 0)
 * The alert engine adds its unresolved alerts as one more part
 * (alerts_health in alerts/alerts.h), through health_add.
 */
#ifndef CC_FLEET_HEALTH_H
#define CC_FLEET_HEALTH_H

#include <jansson.h>
#include <stdint.h>

#include "fleet/downtime.h"
#include "store/store.h"
#include "vault/vault.h"

#define HEALTH_WINDOW_MS (INT64_C(7) * 86400000)
#define HEALTH_PARTS_MAX 8

struct health_part {
	const char *name;      /* availability, state, faults, filter, descaling */
	unsigned data_class;   /* enum data_class */
	int penalty;           /* points taken off */
	char why[96];          /* for people: "availability 93.5 % over 7 days" */
};

struct health {
	int score;             /* 0..100 */
	struct health_part parts[HEALTH_PARTS_MAX];
	int nparts;            /* the parts with a penalty, worst first */
	struct availability week;
};

/* The health of machine m now, counting only parts of the classes given
 * (a bit set of enum data_class). */
int health_of(struct vault *v, const struct store_machine *m, unsigned classes, struct health *out);

/* One more part (a penalty <= 0 adds none); the parts stay worst first and
 * the score follows. */
void health_add(struct health *h, const char *name, unsigned data_class, int penalty, const char *why);

/* {"score", "parts": [{"part", "penalty", "why", "data_class"}]} */
json_t *health_json(const struct health *h);

#endif
