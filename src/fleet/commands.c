#include "fleet/commands.h"

#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "common/err.h"
#include "common/log.h"

#define MOD "commands"

static const char *const allowed[] = { "update-offer", "diagnostics", "config" };

int commands_name_allowed(const char *name)
{
	size_t i;

	for (i = 0; i < sizeof(allowed) / sizeof(allowed[0]); i++)
		if (strcmp(allowed[i], name) == 0)
			return 1;
	return 0;
}

static void command_ad(struct seal_ad *ad, const struct store_machine *m, int64_t created_ms, const char *name)
{
	(void)name;
	memset(ad, 0, sizeof(*ad));
	ad->kind = SEAL_COMMAND;
	ad->org_id = m->customer_id;
	ad->subject_id = m->id;
	ad->ts_ms = created_ms;
	ad->name = m->serial;
}

int commands_body(const char *body, char **text)
{
	json_t *doc = body ? json_loads(body, JSON_REJECT_DUPLICATES, NULL) : json_object();

	*text = NULL;
	if (doc == NULL || !json_is_object(doc)) {
		log_error(MOD, "the command body must be a JSON object");
		json_decref(doc);
		return CC_ERR_INVALID;
	}
	*text = json_dumps(doc, JSON_COMPACT | JSON_REAL_PRECISION(15)); /* 0.1 stays 0.1 */
	json_decref(doc);
	if (*text == NULL)
		return CC_ERR_NOMEM;
	if (strlen(*text) > COMMAND_BODY_MAX) {
		log_error(MOD, "the command body is larger than %d bytes", COMMAND_BODY_MAX);
		free(*text);
		*text = NULL;
		return CC_ERR_LIMIT;
	}
	return CC_OK;
}

int commands_add(struct vault *v, const struct store_machine *m, const char *name, const char *text,
                 int64_t created_ms, int64_t job_id, int64_t deadline_ms, int64_t *id)
{
	struct store *s = vault_store(v);
	struct store_command *c = calloc(1, sizeof(*c));
	struct seal_ad ad;
	uint8_t *blob = NULL;
	size_t bloblen = 0;
	int rc = c != NULL ? CC_OK : CC_ERR_NOMEM;

	if (rc == CC_OK && !commands_name_allowed(name))
		rc = CC_ERR_INVALID;
	if (rc == CC_OK) {
		c->machine_id = m->id;
		snprintf(c->name, sizeof(c->name), "%s", name);
		c->created_ms = created_ms;
		c->job_id = job_id;
		c->deadline_ms = deadline_ms;
		command_ad(&ad, m, c->created_ms, name);
		rc = vault_seal(v, &ad, text, strlen(text), &blob, &bloblen);
	}
	if (rc == CC_OK && bloblen > sizeof(c->body))
		rc = CC_ERR_LIMIT;
	if (rc == CC_OK) {
		memcpy(c->body, blob, bloblen);
		c->body_len = bloblen;
		rc = s->ops->command_add(s, c, id);
	}
	free(blob);
	free(c);
	return rc;
}

struct pending_ctx {
	struct vault *v;
	const struct store_machine *m;
	int (*each)(void *, int64_t, const char *, const char *);
	void *ctx;
};

static int open_pending(void *arg, const struct store_command *c)
{
	struct pending_ctx *p = arg;
	struct seal_ad ad;
	uint8_t *pt = NULL;
	size_t len = 0;
	int rc;

	command_ad(&ad, p->m, c->created_ms, c->name);
	rc = vault_unseal(p->v, &ad, c->body, c->body_len, &pt, &len);
	if (rc != CC_OK)
		return 0; /* an unreadable command (its customer shredded) is skipped */
	rc = p->each(p->ctx, c->id, c->name, (const char *)pt);
	free(pt);
	return rc;
}

int commands_pending(struct vault *v, const struct store_machine *m,
                     int (*each)(void *ctx, int64_t id, const char *name, const char *body), void *ctx)
{
	struct store *s = vault_store(v);
	struct pending_ctx p = { v, m, each, ctx };

	return s->ops->command_pending(s, m->id, open_pending, &p);
}
