/*
 * due.h - the alert timer's memory of each machine's service forecast
 * (fleet/forecast.h) for maintenance_due_soon: a forecast reads two weeks
 * of roll-ups and a quarter of events, so it is made again only when the
 * machine sent something since and the last one is recheck_ms old (or
 * when there is none yet, e.g. after a restart); the timer spends at most
 * a quarter of a tick making them (alerts.c). The settler's thread only.
 */
#ifndef CC_ALERTS_DUE_H
#define CC_ALERTS_DUE_H

#include <stdint.h>

#include "fleet/forecast.h"
#include "store/store.h"
#include "vault/vault.h"

struct alert_due;
int alert_due_new(struct alert_due **out);
void alert_due_free(struct alert_due *d);
/* A record of the machine settled: its forecast may have moved. */
int alert_due_touch(struct alert_due *d, int64_t machine_id);
/* Makes the machine's forecast again when it is due to be (above): 1 when
 * it did, 0 when the one kept stands; < 0 an error. */
int alert_due_refresh(struct alert_due *d, struct vault *v, const struct store_machine *m, int64_t now_ms,
                      int64_t recheck_ms);
/* Each service's due date kept for the machine (INT64_MIN: none): 1, or 0
 * when no forecast was made for it yet. */
int alert_due_known(const struct alert_due *d, int64_t machine_id, int64_t due_ms[FS_COUNT]);

#endif
