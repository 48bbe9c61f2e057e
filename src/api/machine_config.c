/* machine_config.c - /api/v1/machines/{serial}/config (fleet/machine_config.h,
 * docs/CONFIGURATION-REMOTE.md): the desired and reported configuration of
 * a machine in the caller's scope whose customer consented to support, for
 * the roles of the technical class (as jobs: setting one sends a command);
 * and /api/v1/machine/config, where the machine itself fetches a desired
 * version too large for the command, with its certificate. Every read and
 * every change is audited; a refused document is quoted nowhere. */
#include "api/internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "fleet/machine_config.h"
#include "ingest/privacy.h"

#define HISTORY_DEFAULT 50
#define HISTORY_MAX 200

void api_machine_config_show(struct http_req *r)
{
	struct api *a = http_app(r);
	struct caller *s = api_caller(r);
	struct store_machine m;
	json_t *doc;

	if (s == NULL || api_find_machine(r, s, &m) != CC_OK)
		return;
	doc = machine_config_json(a->vault, &m);
	if (doc == NULL) {
		http_reply_error(r, 500, "internal", "the configuration could not be read");
		return;
	}
	if (api_audit_access(r, s, "config.get", &m, "ok") != CC_OK) {
		json_decref(doc);
		return;
	}
	http_reply_json(r, 200, doc);
}

void api_machine_config_set(struct http_req *r)
{
	struct api *a = http_app(r);
	struct caller *s = api_caller(r);
	struct store_machine m;
	struct machine_config_refusal ref;
	const json_t *config = json_object_get(http_body(r), "config");
	const char *reason = api_field(r, "reason");
	char msg[CONFIG_WHY_MAX + 96];
	json_t *doc;
	int64_t version = 0;
	int rc;

	if (s == NULL || api_find_machine(r, s, &m) != CC_OK)
		return;
	if (!json_is_object(config) || reason == NULL) {
		if (api_audit_access(r, s, "config.set", &m, "denied") == CC_OK)
			http_reply_error(r, 400, "invalid", "send config (an object: recipes, settings) and reason (why)");
		return;
	}
	if (api_config_within_limits(r, s, m.customer_id, m.model, config, "config.set", &m) != CC_OK)
		return;
	rc = machine_config_set(a->vault, &m, config, reason, s->actor, &ref, &version);
	if (rc == CC_ERR_INVALID) {
		if (ref.privacy != PRIVACY_NONE && strcmp(ref.field, "config") == 0)
			snprintf(msg, sizeof(msg), "%s: configuration carries no prices, currencies, payment or personal "
			         "data; nothing was stored", ref.why);
		else
			snprintf(msg, sizeof(msg), "%s; nothing was stored", ref.why);
		if (api_audit_access(r, s, "config.set", &m, "denied") == CC_OK)
			http_reply_error(r, 400, "invalid", msg);
		return;
	}
	if (rc == CC_ERR_STATE) {
		if (api_audit_access(r, s, "config.set", &m, "denied") == CC_OK)
			http_reply_error(r, 409, "conflict", "the machine is not in service");
		return;
	}
	if (api_audit_access(r, s, "config.set", &m, rc == CC_OK ? "ok" : "error") != CC_OK)
		return;
	doc = rc == CC_OK ? machine_config_json(a->vault, &m) : NULL;
	if (doc == NULL) {
		http_reply_error(r, 500, "internal", "the configuration could not be stored");
		return;
	}
	http_reply_json(r, 201, doc);
}

void api_machine_config_history(struct http_req *r)
{
	struct api *a = http_app(r);
	struct caller *s = api_caller(r);
	struct store_machine m;
	int64_t limit = HISTORY_DEFAULT, before = 0;
	json_t *doc;

	if (s == NULL || api_find_machine(r, s, &m) != CC_OK)
		return;
	if (api_parse_ms(http_query(r, "limit"), HISTORY_DEFAULT, &limit) != CC_OK || limit < 1 || limit > HISTORY_MAX ||
	    api_parse_ms(http_query(r, "before"), 0, &before) != CC_OK || before < 0) {
		http_reply_error(r, 400, "invalid", "limit: 1 to 200; before: a version");
		return;
	}
	doc = machine_config_history_json(a->vault, &m, before, (size_t)limit);
	if (doc == NULL) {
		http_reply_error(r, 500, "internal", "the configuration history could not be read");
		return;
	}
	if (api_audit_access(r, s, "config.history", &m, "ok") != CC_OK) {
		json_decref(doc);
		return;
	}
	http_reply_json(r, 200, doc);
}

void api_machine_config_fetch(struct http_req *r)
{
	struct api *a = http_app(r);
	struct store_machine m;
	json_t *doc = NULL;
	int rc;

	if (api_machine_caller(r, &m) != CC_OK)
		return;
	rc = machine_config_desired_doc(a->vault, &m, &doc);
	if (rc == CC_ERR_NOTFOUND) {
		http_reply_error(r, 404, "not_found", "no configuration was set for this machine");
		return;
	}
	if (rc != CC_OK) {
		http_reply_error(r, 500, "internal", "the configuration could not be read");
		return;
	}
	json_object_set_new(doc, "serial", json_string(m.serial));
	http_reply_json(r, 200, doc);
}
