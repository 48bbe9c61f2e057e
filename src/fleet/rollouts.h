/*
 * rollouts.h - staged rollouts on the server (docs/UPDATES.md "Staged
 * rollouts"): an artifact offered to a group, a filter or a list of
 * machines in phases, each machine at most in one active rollout; a timer
 * runs the engine (update/rollout.h) and writes the offers through
 * fleet/updates.h, within each site's maintenance window, and halts a
 * rollout whose phase fails (an alert, a notification). Machines report
 * their progress with their certificate (rollouts_report).
 *
 * Every function runs its own transaction on the vault's store.
 */
#ifndef CC_FLEET_ROLLOUTS_H
#define CC_FLEET_ROLLOUTS_H

#include <stdint.h>

#include <jansson.h>

#include "store/store.h"
#include "vault/vault.h"

#define ROLLOUTS_WHY_MAX 200
#define ROLLOUTS_SERIALS_MAX 200
#define ROLLOUTS_SOAK_MAX_S (30 * 86400)
#define ROLLOUTS_REASON_MAX 64 /* a machine's reason: a refusal name of docs/UPDATES.md */

/* Creates and starts a rollout from req, a JSON object:
 *   artifact   the sha256 of a stored artifact
 *   target     {"group": id} | {"serials": [S, ...]} |
 *              {"filter": {"model", "version", "site", "customer"}} (strings, at least one)
 *   phases     [1, 10, 50, 100]: cumulative percentages (default that)
 *   soak       seconds between a phase's end and the next (default 3600)
 *   threshold  % of a phase's finished machines that may fail (default 10)
 *   min_reports  finished machines before a phase is judged (default 1)
 *   health_margin  points of availability the machines updated so far may
 *              lose against the others over a soak before the rollout
 *              halts (default 5; 100: not compared; update/rollout.h)
 *   window     business-hours text (fleet/hours.h) in each site's zone: when
 *              machines are offered ("" or absent: any time)
 * Machines in another active rollout are left out and counted ("skipped");
 * revoked and decommissioned ones too. CC_ERR_INVALID/CC_ERR_NOTFOUND
 * with why (never the input); *out: the rollout as rollouts_json. */
int rollouts_create(struct vault *v, const json_t *req, const char *by, json_t **out, char why[ROLLOUTS_WHY_MAX]);

/* pause (running), resume (paused), abort (running, paused, halted):
 * CC_ERR_NOTFOUND, CC_ERR_INVALID (action), CC_ERR_STATE (not from that
 * state). Abort withdraws the offers not yet taken and frees the machines. */
int rollouts_act(struct vault *v, int64_t id, const char *action, const char *by, char why[ROLLOUTS_WHY_MAX]);

/* {"rollouts": [...]} newest first (state NULL: all), without machines. */
int rollouts_list_json(struct vault *v, const char *state, json_t **out);
/* One rollout: counts per state, per phase, and each machine. */
int rollouts_json(struct vault *v, int64_t id, json_t **out);

/* One round of every running rollout at now_ms. The daemon runs it on the
 * settler's thread and store connection (daemon/settler.h) every
 * rollouts_tick_ms(), never on the event loop: a round reads machines'
 * availability and writes offers. */
int rollouts_tick(struct vault *v, int64_t now_ms);

/* The period of those rounds (the rollouts_tick_ms setting), set once at
 * start; 10 s until then. */
void rollouts_configure(int64_t tick_ms);
int64_t rollouts_tick_ms(void);

/* A machine's progress report on the artifact it is offered, by a
 * rollout or to it alone (`artifact offer`): state one of offered,
 * downloading, verifying, installing, rebooting, succeeded, failed,
 * rolled_back; percent 0-100 (downloading); reason a refusal name (failed,
 * rolled_back). Kept on the rollout's row and the machine's offer, and a
 * change of state (*changed) in the history behind its timeline.
 * CC_ERR_INVALID with why, CC_ERR_NOTFOUND when the machine is neither in
 * an active rollout of that artifact nor offered it, CC_ERR_STATE when it
 * finished already. */
int rollouts_report(struct vault *v, const struct store_machine *m, const char *sha256, const char *state,
                    int64_t percent, const char *reason, int *changed, char why[ROLLOUTS_WHY_MAX]);

#endif
