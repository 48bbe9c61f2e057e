/*
 * downtime.h - the state of each machine over time, and its availability
 * (docs/OPERATIONS.md "Downtime and availability").
 *
 * A machine's state at any moment follows from three histories, kept as
 * changes in the store (store.h state_changes):
 *   link         online or offline, recorded with every change of the live
 *                state (connect, DISCONNECT, keepalive, TCP reset,
 *                revocation, daemon restart);
 *   faults       critical errors raised and not yet cleared (error events,
 *                read when the settler moves them in: a critical error
 *                without a state is momentary and leaves none);
 *   maintenance  set by a person, with a reason and a planned end.
 * In that order of precedence: in maintenance, else unknown (never seen),
 * else offline, else out of service (a fault is open), else online.
 * Maintenance and unknown time count neither as up nor as down.
 */
#ifndef CC_FLEET_DOWNTIME_H
#define CC_FLEET_DOWNTIME_H

#include <stddef.h>
#include <stdint.h>

#include "fleet/hours.h"
#include "store/store.h"
#include "vault/vault.h"

enum machine_state {
	MSTATE_UNKNOWN = 0,   /* never seen (before its first connection) */
	MSTATE_ONLINE,
	MSTATE_OFFLINE,
	MSTATE_OUT_OF_SERVICE,
	MSTATE_MAINTENANCE,
};
const char *downtime_state_name(enum machine_state s);

/* Maintenance reasons: a fixed list, so that no free text is kept. */
int downtime_maintenance_reason_valid(const char *reason);
/* Puts the machine in maintenance from now until until_ms (> now, at most
 * 30 days ahead), or ends it (until_ms 0). who: the actor, kept with it.
 * CC_ERR_INVALID for a bad reason or end, CC_ERR_STATE to end none. */
int downtime_maintenance(struct vault *v, const struct store_machine *m, const char *reason, int64_t until_ms,
                         const char *who);

/* Availability of one machine over a period, in ms. */
struct availability {
	int64_t up_ms, offline_ms, out_of_service_ms, maintenance_ms, unknown_ms;
	int64_t incidents;    /* times it went from online to offline or out of service */
	int64_t restorations; /* times it came back online */
	enum machine_state state_at_end;
	char reason[CC_NAME_MAX + 1]; /* why it is in that state (disconnect reason, fault code, maintenance reason) */
	int64_t since_ms;     /* since when it is in that state (INT64_MIN: before the period) */
};
/* down = offline + out of service; availability % = up / (up + down). */
int64_t availability_down_ms(const struct availability *a);

/* The availability over [from_ms, to_ms) of one machine (machine_id) or of
 * every machine (0): each(ctx, machine_id, a) once per machine that has
 * any history, by machine id. to_ms beyond now is cut to now (the end of
 * the current millisecond: a change made in it counts). */
int availability_each(struct store *s, int64_t machine_id, int64_t from_ms, int64_t to_ms,
                      int (*each)(void *ctx, int64_t machine_id, const struct availability *a), void *ctx);

/* The same within business hours: of(ctx, machine_id, &windows, &n) gives
 * a machine's open stretches over the period (fleet/hours.h) and returns 1,
 * or 0 for a machine counted around the clock. Only time inside them
 * counts; incidents and restorations are counted as if the closed hours
 * were cut out (down at opening after up at closing is an incident). The
 * state at the end, its reason and since are the machine's, hours or not. */
struct availability_hours {
	int (*of)(void *ctx, int64_t machine_id, const struct hours_window **windows, size_t *n);
	void *ctx;
};
int availability_within(struct store *s, int64_t machine_id, int64_t from_ms, int64_t to_ms,
                        const struct availability_hours *hours,
                        int (*each)(void *ctx, int64_t machine_id, const struct availability *a), void *ctx);

/* The state of one machine now (state_at_end, reason, since_ms); a
 * machine with no history is MSTATE_UNKNOWN. */
int downtime_state_now(struct store *s, int64_t machine_id, struct availability *out);

/* The settler's hooks (store.h records_settle): critical error events
 * become fault changes in the round's transaction. */
struct downtime_round;
int downtime_round_new(struct vault *v, struct downtime_round **out);
void downtime_round_free(struct downtime_round *r);
void downtime_round_hooks(struct downtime_round *r, struct store_settle_hooks *out);

#endif
