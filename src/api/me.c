/* me.c - what the product holds about the person asking: their account,
 * sessions, the API tokens they issued, and their audit trail; and their
 * request to have the account deleted. */
#include "api/internal.h"

#include <string.h>

#include "access/audit.h"
#include "common/clock.h"
#include "common/err.h"

/* The newest records of one's own trail in one answer; older ones by
 * ?before=SEQ (the "next_before" of the previous answer). */
#define ME_AUDIT_MAX 1000

struct mine {
	const struct caller *s;
	json_t *sessions, *tokens;
};

static json_t *when(int64_t ms)
{
	char buf[40];

	if (ms == 0)
		return json_null();
	return json_string(api_iso_time(ms, buf, sizeof(buf)));
}

static int add_credential(void *arg, const struct store_credential *c)
{
	struct mine *m = arg;

	if (c->kind == CREDENTIAL_SESSION && c->user_id == m->s->user.id)
		return json_array_append_new(m->sessions, json_pack("{s:o, s:o, s:o, s:b}", "created",
		                             when(c->created_ms), "expires", when(c->expires_ms), "ended",
		                             when(c->revoked_ms), "this_session", c->id == m->s->cred.id))
		       ? CC_ERR_NOMEM : 0;
	if (c->kind == CREDENTIAL_API_TOKEN && strcmp(c->created_by, m->s->actor) == 0)
		return json_array_append_new(m->tokens, json_pack("{s:I, s:s, s:s, s:o, s:o, s:o}", "id",
		                             (json_int_t)c->id, "name", c->name, "role", c->role, "created",
		                             when(c->created_ms), "expires", when(c->expires_ms), "revoked",
		                             when(c->revoked_ms)))
		       ? CC_ERR_NOMEM : 0;
	return 0;
}

static int add_trail(void *arg, const struct store_audit *rec)
{
	return json_array_append_new(arg, json_pack("{s:I, s:o, s:s, s:s, s:s, s:s, s:s, s:s}", "seq",
	                             (json_int_t)rec->seq, "time", when(rec->ts_ms), "source", rec->source,
	                             "action", rec->action, "machines", rec->machines, "data_class",
	                             rec->data_class, "purpose", rec->purpose, "outcome", rec->outcome))
	       ? CC_ERR_NOMEM : 0;
}

/* GET /api/v1/me/data: a person's own data, to read or download (a
 * Content-Disposition makes browsers save it). Audited like any read. */
void api_me_data(struct http_req *r)
{
	struct api *a = http_app(r);
	struct store *st = vault_store(a->vault);
	struct caller *s = api_caller(r);
	struct mine m;
	struct audit_filter f;
	json_t *doc, *trail;
	int64_t before = 0;
	int rc;

	if (s == NULL)
		return;
	if (api_parse_ms(http_query(r, "before"), 0, &before) != CC_OK || before < 0) {
		http_reply_error(r, 400, "invalid", "before is an audit seq");
		return;
	}
	m.s = s;
	m.sessions = json_array();
	m.tokens = json_array();
	trail = json_array();
	memset(&f, 0, sizeof(f));
	f.actor = s->actor;
	f.limit = ME_AUDIT_MAX + 1;
	f.newest_first = 1;
	f.before_seq = before;
	rc = m.sessions != NULL && m.tokens != NULL && trail != NULL ? CC_OK : CC_ERR_NOMEM;
	if (rc == CC_OK)
		rc = st->ops->credential_list(st, CREDENTIAL_SESSION, add_credential, &m);
	if (rc == CC_OK)
		rc = st->ops->credential_list(st, CREDENTIAL_API_TOKEN, add_credential, &m);
	if (rc == CC_OK)
		rc = audit_list(a->vault, &f, add_trail, trail);
	if (rc < 0) {
		json_decref(m.sessions);
		json_decref(m.tokens);
		json_decref(trail);
		http_reply_error(r, 500, "internal", "your data could not be gathered");
		return;
	}
	if (api_audit_access(r, s, "me.data", NULL, "ok") != CC_OK) {
		json_decref(m.sessions);
		json_decref(m.tokens);
		json_decref(trail);
		return;
	}
	doc = json_pack("{s:{s:s, s:s, s:s, s:s, s:s, s:o, s:b, s:o}, s:o, s:o, s:o}", "account", "login",
	                s->user.login, "role", s->user.role, "org", s->user.org, "display_name",
	                s->user.profile.display_name, "email", s->user.profile.email, "created",
	                when(s->user.created_ms), "totp_enabled", s->user.totp_enabled, "deletion_requested",
	                when(s->user.deletion_requested_ms), "sessions", m.sessions, "api_tokens_issued", m.tokens,
	                "audit_trail", trail);
	if (doc != NULL && json_array_size(trail) > ME_AUDIT_MAX) {
		json_int_t last = json_integer_value(json_object_get(json_array_get(trail, ME_AUDIT_MAX - 1), "seq"));

		json_array_remove(trail, ME_AUDIT_MAX);
		json_object_set_new(doc, "next_before", json_integer(last));
	}
	http_add_header(r, "Content-Disposition", "attachment; filename=\"my-coffeecloud-data.json\"");
	http_reply_json(r, 200, doc);
}

/* POST /api/v1/me/deletion: the person asks for their account to be
 * deleted. Recorded on the account (admins see it in GET /api/v1/users) and
 * audited; an admin confirms with DELETE /api/v1/users/{login}. Asking
 * again changes nothing: the first request's time stays. */
void api_me_deletion(struct http_req *r)
{
	struct api *a = http_app(r);
	struct caller *s = api_caller(r);
	int already, rc;
	int64_t at = 0;

	if (s == NULL)
		return;
	already = s->user.deletion_requested_ms != 0;
	rc = users_deletion_request(a->vault, s->user.id, &at);
	if (rc != CC_OK) {
		http_reply_error(r, 500, "internal", "the request could not be recorded");
		return;
	}
	if (api_audit_access(r, s, "me.deletion_request", NULL, "ok") != CC_OK)
		return;
	http_reply_json(r, 202, json_pack("{s:s, s:o, s:b, s:s}", "login", s->user.login, "deletion_requested",
	                                  when(at), "already_requested", already, "next",
	                                  "an administrator of your organisation confirms the deletion"));
}
