/* admin.c - organisations and accounts, for admins. */
#include "api/internal.h"

#include <stdio.h>
#include <string.h>

#include "common/err.h"
#include "common/limits.h"
#include "common/log.h"
#include "crypto/aead.h"
#include "crypto/password.h"
#include "fleet/inventory.h"

/* A listing limited to the caller's organisation subtree. */
struct scoped_lister {
	struct store *st;
	const struct caller *s;
	json_t *list;
};

static int add_org(void *arg, const struct store_org *o)
{
	struct scoped_lister *l = arg;
	struct store_org parent;
	const char *pname = NULL;

	if (!inventory_org_contains(l->st, l->s->user.org_id, o->id))
		return 0;
	if (o->parent_id != 0 && l->st->ops->org_get(l->st, o->parent_id, &parent) == CC_OK)
		pname = parent.name;
	/* id: what /orgs/{id}/... takes (the name: unique and stable). */
	return json_array_append_new(l->list, json_pack("{s:s, s:s, s:s, s:s?, s:b}", "id", o->name, "name", o->name,
	                             "kind", org_kind_name(o->kind), "parent", pname, "active",
	                             o->deactivated_ms == 0)) ? CC_ERR_NOMEM : 0;
}

void api_orgs_list(struct http_req *r)
{
	struct api *a = http_app(r);
	struct caller *s = api_caller(r);
	struct scoped_lister l;

	if (s == NULL)
		return;
	l.st = vault_store(a->vault);
	l.s = s;
	l.list = json_array();
	if (l.list == NULL || l.st->ops->org_list(l.st, add_org, &l) != CC_OK) {
		json_decref(l.list);
		http_reply_error(r, 500, "internal", "the organisations could not be listed");
		return;
	}
	api_reply_list(r, "orgs", l.list, "name");
}

void api_orgs_add(struct http_req *r)
{
	struct api *a = http_app(r);
	struct store *st = vault_store(a->vault);
	struct caller *s = api_caller(r);
	struct store_org parent, made;
	enum org_kind kind;
	const char *name, *kind_text, *parent_name;
	json_t *body = NULL;
	int rc;

	if (s == NULL || http_body_json(r, &body) != CC_OK)
		return;
	name = json_string_value(json_object_get(body, "name"));
	kind_text = json_string_value(json_object_get(body, "kind"));
	parent_name = json_string_value(json_object_get(body, "parent"));
	if (name == NULL || kind_text == NULL || parent_name == NULL || org_kind_parse(kind_text, &kind) != CC_OK ||
	    kind == ORG_MANUFACTURER || !inventory_name_valid(parent_name)) {
		json_decref(body);
		http_reply_error(r, 400, "invalid", "send name, kind (distributor or customer) and parent");
		return;
	}
	if (st->ops->org_find(st, parent_name, &parent) != CC_OK ||
	    !inventory_org_contains(st, s->user.org_id, parent.id)) {
		json_decref(body);
		http_reply_error(r, 404, "not_found", "no such parent organisation");
		return;
	}
	rc = inventory_org_add(a->vault, name, kind, parent_name, &made);
	json_decref(body);
	if (rc != CC_OK) {
		http_reply_error(r, rc == CC_ERR_EXISTS ? 409 : 400, rc == CC_ERR_EXISTS ? "conflict" : "invalid",
		                 rc == CC_ERR_EXISTS ? "that name is taken" : "the organisation could not be added");
		return;
	}
	if (api_audit_access(r, s, "org.add", NULL, "ok") != CC_OK)
		return;
	http_reply_json(r, 201, json_pack("{s:s, s:s, s:s}", "name", made.name, "kind", org_kind_name(made.kind),
	                                  "parent", parent.name));
}

static int add_user(void *arg, const struct user_info *u)
{
	struct scoped_lister *l = arg;
	char buf[40];

	if (!inventory_org_contains(l->st, l->s->user.org_id, u->org_id))
		return 0;
	/* A pending deletion request shows; without one the key is absent. */
	/* active: neither it nor one of its organisations is deactivated. */
	return json_array_append_new(l->list, json_pack("{s:s, s:s, s:s, s:s, s:s, s:s*, s:b}",
	                             "login", u->login, "role", u->role, "org", u->org, "display_name",
	                             u->profile.display_name, "email", u->profile.email, "deletion_requested",
	                             u->deletion_requested_ms != 0
	                             ? api_iso_time(u->deletion_requested_ms, buf, sizeof(buf)) : NULL,
	                             "active", !u->deactivated))
	       ? CC_ERR_NOMEM : 0;
}

void api_users_list(struct http_req *r)
{
	struct api *a = http_app(r);
	struct caller *s = api_caller(r);
	struct scoped_lister l;

	if (s == NULL)
		return;
	l.st = vault_store(a->vault);
	l.s = s;
	l.list = json_array();
	if (l.list == NULL || users_list(a->vault, NULL, add_user, &l) != CC_OK) {
		json_decref(l.list);
		http_reply_error(r, 500, "internal", "the accounts could not be listed");
		return;
	}
	/* Personal fields were opened: an audited read. */
	if (api_audit_access(r, s, "user.list", NULL, "ok") != CC_OK) {
		json_decref(l.list);
		return;
	}
	api_reply_list(r, "users", l.list, "login");
}

void api_users_add(struct http_req *r)
{
	struct api *a = http_app(r);
	struct store *st = vault_store(a->vault);
	struct caller *s = api_caller(r);
	struct user_profile profile;
	struct store_org org;
	const char *login, *role, *org_name, *password, *name, *email;
	char why[PASSWORD_WHY_MAX];
	json_t *body = NULL;

	if (s == NULL || http_body_json(r, &body) != CC_OK)
		return;
	login = json_string_value(json_object_get(body, "login"));
	role = json_string_value(json_object_get(body, "role"));
	org_name = json_string_value(json_object_get(body, "org"));
	password = json_string_value(json_object_get(body, "password"));
	name = json_string_value(json_object_get(body, "display_name"));
	email = json_string_value(json_object_get(body, "email"));
	memset(&profile, 0, sizeof(profile));
	if (login == NULL || role == NULL || org_name == NULL || password == NULL || !inventory_name_valid(org_name) ||
	    (name && strlen(name) > CC_PERSONAL_FIELD_MAX) || (email && strlen(email) > CC_PERSONAL_FIELD_MAX)) {
		json_decref(body);
		http_reply_error(r, 400, "invalid", "send login, role, org and password (display_name, email optional)");
		return;
	}
	if (st->ops->org_find(st, org_name, &org) != CC_OK || !inventory_org_contains(st, s->user.org_id, org.id)) {
		json_decref(body);
		http_reply_error(r, 404, "not_found", "no such organisation");
		return;
	}
	if (password_quality(password, login, why, sizeof(why)) != CC_OK) {
		json_decref(body);
		http_reply_error(r, 400, "weak_password", why);
		return;
	}
	snprintf(profile.display_name, sizeof(profile.display_name), "%s", name ? name : "");
	snprintf(profile.email, sizeof(profile.email), "%s", email ? email : "");
	/* Argon2id (64 MiB, tenths of a second) runs on the password worker:
	 * the loop serves every machine meanwhile. */
	api_user_add_later(r, s, org_name, login, role, &profile, password);
	crypto_wipe((char *)password, strlen(password));
	crypto_wipe(&profile, sizeof(profile));
	json_decref(body);
}

/* DELETE /api/v1/users/{login}: an admin deletes an account of its subtree,
 * whether the person asked (POST /api/v1/me/deletion) or not (a leaver).
 * Outside the subtree the answer is the one for an account that does not
 * exist. One's own account and the platform's last admin are refused. */
void api_users_delete(struct http_req *r)
{
	struct api *a = http_app(r);
	struct caller *s = api_caller(r);
	struct user_deleted d;
	const char *login;
	char buf[40];
	int rc;

	if (s == NULL)
		return;
	login = http_param(r, "login");
	rc = users_delete(a->vault, login, s->user.org_id, s->user.id, &d);
	if (rc == CC_ERR_NOTFOUND) {
		http_reply_error(r, 404, "not_found", "no such account");
		return;
	}
	if (rc == CC_ERR_PERM || rc == CC_ERR_STATE) {
		if (api_audit_access(r, s, "user.delete", NULL, "denied") != CC_OK)
			return;
		if (rc == CC_ERR_PERM)
			http_reply_error(r, 403, "forbidden", "you cannot delete your own account: ask for it with "
			                 "POST /api/v1/me/deletion, and another admin confirms");
		else
			http_reply_error(r, 409, "conflict", "this is the last admin of the platform's organisation: "
			                 "add another admin there first");
		return;
	}
	if (rc != CC_OK) {
		http_reply_error(r, 500, "internal", "the account could not be deleted");
		return;
	}
	log_info(MOD, "account %s deleted by %s (%s)", d.login, s->actor,
	         d.requested_ms != 0 ? "as its person asked" : "not requested");
	if (api_audit_access(r, s, "user.delete", NULL, "ok") != CC_OK)
		return;
	http_reply_json(r, 200, json_pack("{s:s, s:s, s:s, s:b, s:b, s:s?, s:b}", "login", d.login, "role", d.role,
	                                  "org", d.org, "deleted", 1, "requested", d.requested_ms != 0,
	                                  "deletion_requested", d.requested_ms != 0
	                                  ? api_iso_time(d.requested_ms, buf, sizeof(buf)) : NULL,
	                                  "login_retired", 1));
}
