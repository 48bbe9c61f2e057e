/* rollouts_sqlite.c - staged rollouts in SQLite (store/rollouts.h). */
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "store/rollouts.h"
#include "store/sqlite/handle.h"

#define ROLLOUT_COLUMNS                                                                                      \
	"id, sha256, target, phases, soak_ms, threshold_pct, min_reports, win, state, phase, phase_done_ms, " \
	"skipped, halt_reason, created_ms, created_by, updated_ms, updated_by, ended_ms, health_margin, kind, "        \
	"COALESCE(sha256, ''), config, why, compliance_margin, effective, take_back"

static void read_rollout(sqlite3_stmt *st, struct store_rollout *r)
{
	memset(r, 0, sizeof(*r));
	r->id = sqlite3_column_int64(st, 0);
	sqlite_copy_text(r->target, sizeof(r->target), st, 2);
	sqlite_copy_text(r->phases, sizeof(r->phases), st, 3);
	r->soak_ms = sqlite3_column_int64(st, 4);
	r->threshold_pct = sqlite3_column_int64(st, 5);
	r->min_reports = sqlite3_column_int64(st, 6);
	sqlite_copy_text(r->window, sizeof(r->window), st, 7);
	sqlite_copy_text(r->state, sizeof(r->state), st, 8);
	r->phase = sqlite3_column_int64(st, 9);
	r->phase_done_ms = sqlite3_column_int64(st, 10);
	r->skipped = sqlite3_column_int64(st, 11);
	sqlite_copy_text(r->halt_reason, sizeof(r->halt_reason), st, 12);
	r->created_ms = sqlite3_column_int64(st, 13);
	sqlite_copy_text(r->created_by, sizeof(r->created_by), st, 14);
	r->updated_ms = sqlite3_column_int64(st, 15);
	sqlite_copy_text(r->updated_by, sizeof(r->updated_by), st, 16);
	r->ended_ms = sqlite3_column_int64(st, 17);
	r->health_margin = sqlite3_column_int64(st, 18);
	sqlite_copy_text(r->kind, sizeof(r->kind), st, 19);
	sqlite_copy_text(r->sha256, sizeof(r->sha256), st, 20);
	sqlite_copy_text(r->config, sizeof(r->config), st, 21);
	sqlite_copy_text(r->why, sizeof(r->why), st, 22);
	r->compliance_margin = sqlite3_column_int64(st, 23);
	r->effective = sqlite3_column_int64(st, 24);
	r->take_back = sqlite3_column_int64(st, 25);
}

static int add(struct store *s, const struct store_rollout *r, int64_t *id)
{
	sqlite3_stmt *st;
	int rc = sqlite_store_prepare(s, "INSERT INTO rollouts(sha256, target, phases, soak_ms, threshold_pct, "
	                                 "min_reports, win, state, phase, phase_done_ms, skipped, halt_reason, "
	                                 "created_ms, created_by, updated_ms, updated_by, ended_ms, health_margin, kind, config, why, "
	                                 "compliance_margin, effective, take_back) "
	                                 "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
	                              &st);

	if (rc != CC_OK)
		return rc;
	if (strcmp(r->kind, "config") == 0)
		sqlite3_bind_null(st, 1);
	else
		sqlite3_bind_text(st, 1, r->sha256, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, r->target, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 3, r->phases, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 4, r->soak_ms);
	sqlite3_bind_int64(st, 5, r->threshold_pct);
	sqlite3_bind_int64(st, 6, r->min_reports);
	sqlite3_bind_text(st, 7, r->window, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 8, r->state, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 9, r->phase);
	sqlite3_bind_int64(st, 10, r->phase_done_ms);
	sqlite3_bind_int64(st, 11, r->skipped);
	sqlite3_bind_text(st, 12, r->halt_reason, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 13, r->created_ms);
	sqlite3_bind_text(st, 14, r->created_by, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 15, r->updated_ms);
	sqlite3_bind_text(st, 16, r->updated_by, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 17, r->ended_ms);
	sqlite3_bind_int64(st, 18, r->health_margin);
	sqlite3_bind_text(st, 19, r->kind[0] != '\0' ? r->kind : "update", -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 20, r->config, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 21, r->why, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 22, r->compliance_margin);
	sqlite3_bind_int64(st, 23, r->effective);
	sqlite3_bind_int64(st, 24, r->take_back);
	rc = sqlite_store_step_done(s, st, "rollout_add");
	if (rc == CC_OK)
		*id = sqlite3_last_insert_rowid(sqlite_store_db(s));
	return rc;
}

static int get(struct store *s, int64_t id, struct store_rollout *out)
{
	sqlite3_stmt *st;
	int rc = sqlite_store_prepare(s, "SELECT " ROLLOUT_COLUMNS " FROM rollouts WHERE id = ?", &st);

	if (rc != CC_OK)
		return rc;
	sqlite3_bind_int64(st, 1, id);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		read_rollout(st, out);
		rc = CC_OK;
	} else {
		rc = rc == SQLITE_DONE ? CC_ERR_NOTFOUND : sqlite_store_fail(s, rc, "rollout_get");
	}
	sqlite3_finalize(st);
	return rc;
}

static int list(struct store *s, const char *state, int (*each)(void *ctx, const struct store_rollout *r), void *ctx)
{
	sqlite3_stmt *st;
	int rc = sqlite_store_prepare(s, "SELECT " ROLLOUT_COLUMNS " FROM rollouts WHERE (?1 IS NULL OR state = ?1) "
	                                 "ORDER BY id DESC", &st);
	int stop = 0;

	if (rc != CC_OK)
		return rc;
	if (state != NULL)
		sqlite3_bind_text(st, 1, state, -1, SQLITE_STATIC);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		struct store_rollout *r = malloc(sizeof(*r));

		if (r == NULL) {
			stop = CC_ERR_NOMEM;
			break;
		}
		read_rollout(st, r);
		stop = each(ctx, r);
		free(r);
		if (stop != 0)
			break;
	}
	sqlite3_finalize(st);
	if (stop != 0)
		return stop;
	return rc == SQLITE_DONE ? CC_OK : sqlite_store_fail(s, rc, "rollout_list");
}

static int update(struct store *s, const struct store_rollout *r)
{
	sqlite3_stmt *st;
	int rc = sqlite_store_prepare(s, "UPDATE rollouts SET state = ?, phase = ?, phase_done_ms = ?, halt_reason = ?, "
	                                 "updated_ms = ?, updated_by = ?, ended_ms = ?, skipped = ? WHERE id = ?", &st);

	if (rc != CC_OK)
		return rc;
	sqlite3_bind_text(st, 1, r->state, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, r->phase);
	sqlite3_bind_int64(st, 3, r->phase_done_ms);
	sqlite3_bind_text(st, 4, r->halt_reason, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 5, r->updated_ms);
	sqlite3_bind_text(st, 6, r->updated_by, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 7, r->ended_ms);
	sqlite3_bind_int64(st, 8, r->skipped);
	sqlite3_bind_int64(st, 9, r->id);
	rc = sqlite_store_step_done(s, st, "rollout_update");
	if (rc == CC_OK && sqlite3_changes(sqlite_store_db(s)) != 1)
		rc = CC_ERR_NOTFOUND;
	return rc;
}

static int machine_add(struct store *s, int64_t rollout_id, int64_t machine_id, int64_t at_ms)
{
	sqlite3_stmt *st;
	int rc = sqlite_store_prepare(s, "INSERT INTO rollout_machines(rollout_id, machine_id, active, phase, state, "
	                                 "percent, reason, offered_ms, updated_ms) "
	                                 "VALUES (?, ?, 1, -1, 'pending', 0, '', 0, ?)", &st);

	if (rc != CC_OK)
		return rc;
	sqlite3_bind_int64(st, 1, rollout_id);
	sqlite3_bind_int64(st, 2, machine_id);
	sqlite3_bind_int64(st, 3, at_ms);
	return sqlite_store_step_done(s, st, "rollout_machine_add");
}

#define RM_COLUMNS                                                                                  \
	"rm.rollout_id, rm.machine_id, m.serial, COALESCE(m.site_id, 0), rm.phase, rm.state, rm.percent, " \
	"rm.reason, rm.offered_ms, rm.updated_ms, rm.config_version"

static void read_rm(sqlite3_stmt *st, struct store_rollout_machine *m)
{
	memset(m, 0, sizeof(*m));
	m->rollout_id = sqlite3_column_int64(st, 0);
	m->machine_id = sqlite3_column_int64(st, 1);
	sqlite_copy_text(m->serial, sizeof(m->serial), st, 2);
	m->site_id = sqlite3_column_int64(st, 3);
	m->phase = sqlite3_column_int64(st, 4);
	sqlite_copy_text(m->state, sizeof(m->state), st, 5);
	m->percent = sqlite3_column_int64(st, 6);
	sqlite_copy_text(m->reason, sizeof(m->reason), st, 7);
	m->offered_ms = sqlite3_column_int64(st, 8);
	m->updated_ms = sqlite3_column_int64(st, 9);
	m->config_version = sqlite3_column_int64(st, 10);
}

static int machines(struct store *s, int64_t rollout_id,
                    int (*each)(void *ctx, const struct store_rollout_machine *m), void *ctx)
{
	sqlite3_stmt *st;
	int rc = sqlite_store_prepare(s, "SELECT " RM_COLUMNS " FROM rollout_machines rm "
	                                 "JOIN machines m ON m.id = rm.machine_id WHERE rm.rollout_id = ? "
	                                 "ORDER BY m.serial, m.id", &st);
	int stop = 0;

	if (rc != CC_OK)
		return rc;
	sqlite3_bind_int64(st, 1, rollout_id);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		struct store_rollout_machine m;

		read_rm(st, &m);
		if ((stop = each(ctx, &m)) != 0)
			break;
	}
	sqlite3_finalize(st);
	if (stop != 0)
		return stop;
	return rc == SQLITE_DONE ? CC_OK : sqlite_store_fail(s, rc, "rollout_machines");
}

static int machine_set(struct store *s, const struct store_rollout_machine *m)
{
	sqlite3_stmt *st;
	int rc = sqlite_store_prepare(s, "UPDATE rollout_machines SET phase = ?, state = ?, percent = ?, reason = ?, "
	                                 "offered_ms = ?, updated_ms = ?, config_version = ? "
	                                 "WHERE rollout_id = ? AND machine_id = ?",
	                              &st);

	if (rc != CC_OK)
		return rc;
	sqlite3_bind_int64(st, 1, m->phase);
	sqlite3_bind_text(st, 2, m->state, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 3, m->percent);
	sqlite3_bind_text(st, 4, m->reason, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 5, m->offered_ms);
	sqlite3_bind_int64(st, 6, m->updated_ms);
	sqlite3_bind_int64(st, 7, m->config_version);
	sqlite3_bind_int64(st, 8, m->rollout_id);
	sqlite3_bind_int64(st, 9, m->machine_id);
	rc = sqlite_store_step_done(s, st, "rollout_machine_set");
	if (rc == CC_OK && sqlite3_changes(sqlite_store_db(s)) != 1)
		rc = CC_ERR_NOTFOUND;
	return rc;
}

static int release(struct store *s, int64_t rollout_id)
{
	sqlite3_stmt *st;
	/* The unique index covers active rows only: released ones are history. */
	int rc = sqlite_store_prepare(s, "UPDATE rollout_machines SET active = 0 WHERE rollout_id = ?", &st);

	if (rc != CC_OK)
		return rc;
	sqlite3_bind_int64(st, 1, rollout_id);
	return sqlite_store_step_done(s, st, "rollout_release");
}

static int active_of(struct store *s, int64_t machine_id, struct store_rollout_machine *out)
{
	sqlite3_stmt *st;
	int rc = sqlite_store_prepare(s, "SELECT " RM_COLUMNS " FROM rollout_machines rm "
	                                 "JOIN machines m ON m.id = rm.machine_id "
	                                 "WHERE rm.machine_id = ? AND rm.active = 1", &st);

	if (rc != CC_OK)
		return rc;
	sqlite3_bind_int64(st, 1, machine_id);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		read_rm(st, out);
		rc = CC_OK;
	} else {
		rc = rc == SQLITE_DONE ? CC_ERR_NOTFOUND : sqlite_store_fail(s, rc, "rollout_active_of");
	}
	sqlite3_finalize(st);
	return rc;
}

static int report_add(struct store *s, const struct store_rollout_report *r)
{
	sqlite3_stmt *st;
	int rc = sqlite_store_prepare(s, "INSERT INTO rollout_reports(rollout_id, machine_id, at_ms, state, percent, "
	                                 "reason, sha256) VALUES (?, ?, ?, ?, ?, ?, ?)", &st);

	if (rc != CC_OK)
		return rc;
	if (r->rollout_id != 0)
		sqlite3_bind_int64(st, 1, r->rollout_id);
	else
		sqlite3_bind_null(st, 1);
	sqlite3_bind_text(st, 7, r->sha256, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, r->machine_id);
	sqlite3_bind_int64(st, 3, r->at_ms);
	sqlite3_bind_text(st, 4, r->state, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 5, r->percent);
	sqlite3_bind_text(st, 6, r->reason, -1, SQLITE_STATIC);
	return sqlite_store_step_done(s, st, "rollout_report_add");
}

static int reports(struct store *s, int64_t machine_id, int64_t from_ms, int64_t to_ms,
                   int (*each)(void *ctx, const struct store_rollout_report *r), void *ctx)
{
	sqlite3_stmt *st;
	int rc = sqlite_store_prepare(s, "SELECT COALESCE(rollout_id, 0), machine_id, at_ms, state, percent, reason, sha256 "
	                                 "FROM rollout_reports WHERE machine_id = ? AND at_ms >= ? AND at_ms < ? "
	                                 "ORDER BY at_ms, seq", &st);
	int stop = 0;

	if (rc != CC_OK)
		return rc;
	sqlite3_bind_int64(st, 1, machine_id);
	sqlite3_bind_int64(st, 2, from_ms);
	sqlite3_bind_int64(st, 3, to_ms);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		struct store_rollout_report r;

		memset(&r, 0, sizeof(r));
		r.rollout_id = sqlite3_column_int64(st, 0);
		r.machine_id = sqlite3_column_int64(st, 1);
		r.at_ms = sqlite3_column_int64(st, 2);
		sqlite_copy_text(r.state, sizeof(r.state), st, 3);
		r.percent = sqlite3_column_int64(st, 4);
		sqlite_copy_text(r.reason, sizeof(r.reason), st, 5);
		sqlite_copy_text(r.sha256, sizeof(r.sha256), st, 6);
		if ((stop = each(ctx, &r)) != 0)
			break;
	}
	sqlite3_finalize(st);
	if (stop != 0)
		return stop;
	return rc == SQLITE_DONE ? CC_OK : sqlite_store_fail(s, rc, "rollout_reports");
}

const struct store_rollout_ops sqlite_rollout_ops = {
	.add = add,
	.get = get,
	.list = list,
	.update = update,
	.machine_add = machine_add,
	.machines = machines,
	.machine_set = machine_set,
	.release = release,
	.active_of = active_of,
	.report_add = report_add,
	.reports = reports,
};
