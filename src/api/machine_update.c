/* machine_update.c - GET /api/v1/machines/{serial}/update: what a machine in
 * the caller's scope is offered now (the artifact, its version, since when)
 * and its place in its active rollout (phase, state, download percent,
 * reason), for the machine page of the technical roles. The releasers'
 * views (artifacts, rollouts) stay theirs: this names the version and the
 * rollout's number, never its targets or other machines. Read in one
 * snapshot, so the offer and the rollout's row fit together. */
#include "api/internal.h"

#include <string.h>

#include "common/err.h"

void api_machine_update_state(struct http_req *r)
{
	struct api *a = http_app(r);
	struct store *st = vault_store(a->vault);
	struct caller *s = api_caller(r);
	struct store_machine m;
	struct store_artifact art;
	struct store_rollout ro;
	struct store_rollout_machine row;
	char sha[65], when[40];
	int64_t at = 0;
	int offered, in_rollout, rc;
	json_t *doc, *x;

	if (s == NULL || api_find_machine(r, s, &m) != CC_OK)
		return;
	doc = json_pack("{s:s}", "serial", m.serial);
	if (doc == NULL || st->ops->begin_read(st) != CC_OK) {
		json_decref(doc);
		http_reply_error(r, 500, "internal", "the update could not be read");
		return;
	}
	rc = st->ops->updates->offer_get(st, m.id, sha, &at);
	offered = rc == CC_OK;
	if (rc == CC_ERR_NOTFOUND)
		rc = CC_OK;
	if (rc == CC_OK && offered)
		rc = st->ops->updates->artifact_get(st, sha, &art, NULL);
	if (rc == CC_OK)
		rc = st->ops->rollouts->active_of(st, m.id, &row);
	in_rollout = rc == CC_OK;
	if (rc == CC_ERR_NOTFOUND)
		rc = CC_OK;
	if (rc == CC_OK && in_rollout)
		rc = st->ops->rollouts->get(st, row.rollout_id, &ro);
	st->ops->rollback(st);
	if (rc != CC_OK) {
		json_decref(doc);
		http_reply_error(r, 500, "internal", "the update could not be read");
		return;
	}
	if (offered) {
		x = json_pack("{s:s, s:s, s:s}", "sha256", art.sha256, "version", art.version, "offered",
		              api_iso_time(at, when, sizeof(when)));
		json_object_set_new(doc, "offer", x);
	}
	if (in_rollout) {
		x = json_pack("{s:I, s:s, s:s, s:I}", "id", (json_int_t)ro.id, "rollout_state", ro.state, "state",
		              row.state, "percent", (json_int_t)row.percent);
		if (x != NULL && row.phase >= 0)
			json_object_set_new(x, "phase", json_integer(row.phase + 1));
		if (x != NULL && row.reason[0])
			json_object_set_new(x, "reason", json_string(row.reason));
		if (x != NULL && row.updated_ms > 0)
			json_object_set_new(x, "updated", json_string(api_iso_time(row.updated_ms, when, sizeof(when))));
		json_object_set_new(doc, "rollout", x);
	}
	if (api_audit_access(r, s, "machines.update", &m, "ok") != CC_OK) {
		json_decref(doc);
		return;
	}
	http_reply_json(r, 200, doc);
}
