#include "api/api.h"

#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/sha.h>

#include "access/audit.h"
#include "access/grants.h"
#include "access/policy.h"
#include "access/roles.h"
#include "access/users.h"
#include "common/clock.h"
#include "common/codec.h"
#include "common/err.h"
#include "common/limits.h"
#include "common/log.h"
#include "common/strmap.h"
#include "crypto/aead.h"
#include "crypto/password.h"
#include "fleet/erasure.h"
#include "fleet/inventory.h"
#include "records/export.h"
#include "records/records.h"

#define MOD "api"
#define TOKEN_BYTES 32
#define RECORDS_PAGE_MAX 10000

struct session {
	struct user_info user;
	char csrf[2 * 16 + 1];
	int64_t expires_ms;
	const struct role *role;
};

struct failures {
	unsigned count;
	int64_t locked_until_ms;
};

/* A password check handed to the worker thread. */
struct login_job {
	struct api *api;
	struct http_req *r;           /* NULL once the client has gone */
	struct evhttp_connection *conn;
	struct login_job *live_next;  /* every job in flight (loop thread only) */
	char password[PASSWORD_MAX_LEN + 1];
	char hash[CC_PASSWORD_HASH_MAX + 1];
	int known;
	struct user_info user;
	int ok;
	struct login_job *next;
};

struct api {
	struct event_base *base;
	struct vault *vault;
	struct strmap *sessions; /* hex SHA-256 of the token -> struct session * */
	struct strmap *failures; /* login -> struct failures * */
	pthread_t worker;
	pthread_mutex_t lock;
	pthread_cond_t wake;
	struct login_job *queued, *done; /* (lock) */
	struct login_job *live;        /* all jobs not yet answered (loop thread) */
	int stopping;                  /* (lock) */
	struct event *done_ev;
};

static const char *iso_time(int64_t ms, char *buf, size_t cap)
{
	clock_format_iso(ms, buf, cap);
	return buf;
}

/* ---- the password worker ---- */

static void *worker_main(void *arg)
{
	struct api *a = arg;

	for (;;) {
		struct login_job *job;

		pthread_mutex_lock(&a->lock);
		while (a->queued == NULL && !a->stopping)
			pthread_cond_wait(&a->wake, &a->lock);
		if (a->queued == NULL) {
			pthread_mutex_unlock(&a->lock);
			return NULL;
		}
		job = a->queued;
		a->queued = job->next;
		pthread_mutex_unlock(&a->lock);

		job->ok = users_verify_password(job->password, job->known ? job->hash : NULL) == CC_OK;
		crypto_wipe(job->password, sizeof(job->password));

		pthread_mutex_lock(&a->lock);
		job->next = a->done;
		a->done = job;
		pthread_mutex_unlock(&a->lock);
		event_active(a->done_ev, EV_READ, 0);
	}
}

/* ---- sessions ---- */

static void token_key(const char *token, char key[2 * SHA256_DIGEST_LENGTH + 1])
{
	unsigned char md[SHA256_DIGEST_LENGTH];

	SHA256((const unsigned char *)token, strlen(token), md);
	hex_encode(md, sizeof(md), key, 2 * SHA256_DIGEST_LENGTH + 1);
}

/* The bearer token or session cookie of the request, or NULL. */
static const char *request_token(struct http_req *r, int *from_cookie)
{
	static char cookie_token[2 * TOKEN_BYTES + 1];
	const char *h = http_header(r, "Authorization");
	const char *c = http_header(r, "Cookie"), *p;

	*from_cookie = 0;
	if (h != NULL && strncmp(h, "Bearer ", 7) == 0)
		return h + 7;
	if (c != NULL && (p = strstr(c, "cc_session=")) != NULL) {
		size_t n = strspn(p + 11, "0123456789abcdef");

		if (n == 2 * TOKEN_BYTES) {
			memcpy(cookie_token, p + 11, n);
			cookie_token[n] = '\0';
			*from_cookie = 1;
			return cookie_token;
		}
	}
	return NULL;
}

/* The caller's session, or NULL after replying 401/403. */
static struct session *authenticate(struct http_req *r)
{
	struct api *a = http_app(r);
	char key[2 * SHA256_DIGEST_LENGTH + 1];
	int from_cookie;
	const char *token = request_token(r, &from_cookie);
	struct session *s;

	if (token == NULL || strlen(token) != 2 * TOKEN_BYTES) {
		http_reply_error(r, 401, "unauthorized", "sign in first");
		return NULL;
	}
	token_key(token, key);
	s = strmap_get(a->sessions, key);
	if (s == NULL || s->expires_ms < clock_now_ms()) {
		if (s != NULL)
			free(strmap_remove(a->sessions, key));
		http_reply_error(r, 401, "unauthorized", "the session is unknown or has expired");
		return NULL;
	}
	/* A browser's cookie rides along with any request: writes also need the CSRF token. */
	if (from_cookie && http_route(r)->method != EVHTTP_REQ_GET) {
		const char *csrf = http_header(r, "X-CSRF-Token");

		if (csrf == NULL || strlen(csrf) != strlen(s->csrf) || !crypto_equal(csrf, s->csrf, strlen(s->csrf))) {
			http_reply_error(r, 403, "csrf", "the X-CSRF-Token header is missing or wrong");
			return NULL;
		}
	}
	return s;
}

/* Does the role see this class? "none" needs nothing. */
static int role_sees(const struct session *s, const char *data_class)
{
	static const struct { const char *name; unsigned bit; } classes[] = {
		{ "status", CLASS_STATUS }, { "technical", CLASS_TECHNICAL }, { "service", CLASS_SERVICE },
		{ "usage", CLASS_USAGE }, { "audit", CLASS_AUDIT },
	};
	size_t i;

	if (strcmp(data_class, "none") == 0)
		return 1;
	if (strcmp(data_class, "admin") == 0)
		return s->role->manages_org;
	for (i = 0; i < sizeof(classes) / sizeof(classes[0]); i++)
		if (strcmp(classes[i].name, data_class) == 0)
			return (s->role->classes & classes[i].bit) != 0;
	return 0;
}

/* Records a person's access to machine data. Reads fail closed: when the
 * record cannot be written, the data is not served. */
static int audit_access(struct http_req *r, const struct session *s, const char *action,
                        const struct store_machine *m, const char *outcome)
{
	struct api *a = http_app(r);
	char actor[CC_NAME_MAX + 8];
	struct audit_event e;
	int rc;

	snprintf(actor, sizeof(actor), "user:%s", s->user.login);
	memset(&e, 0, sizeof(e));
	e.actor = actor;
	e.source = http_source(r);
	e.action = action;
	e.machines = m != NULL ? m->serial : "*";
	/* Routes open to several roles (the access report) read audit data. */
	e.data_class = strcmp(http_route(r)->data_class, "none") == 0 ? "audit" : http_route(r)->data_class;
	e.purpose = http_route(r)->purpose;
	e.outcome = outcome;
	e.customer_id = m != NULL ? m->customer_id : 0;
	rc = audit_append(a->vault, &e);
	if (rc != CC_OK) {
		log_error(MOD, "the access of %s could not be recorded: refused", s->user.login);
		http_reply_error(r, 503, "audit_unavailable", "the access could not be recorded, so it is refused");
	}
	return rc;
}

/* Authenticates and checks the route's data class; NULL after replying. */
static struct session *authorize(struct http_req *r)
{
	struct session *s = authenticate(r);

	if (s != NULL && !role_sees(s, http_route(r)->data_class)) {
		/* Refused access attempts are part of the record too. */
		if (audit_access(r, s, http_route(r)->pattern, NULL, "denied") == CC_OK)
			http_reply_error(r, 403, "forbidden", "your role does not see this data");
		return NULL;
	}
	return s;
}

static int machine_visible(struct api *a, const struct session *s, const struct store_machine *m)
{
	if (s->role->granted_only)
		return grants_cover(a->vault, s->user.id, m); /* in force: not expired, not revoked */
	return inventory_org_contains(vault_store(a->vault), s->user.org_id, m->customer_id);
}

/* The machine named in the path, if the caller may see it; else 404, the
 * same answer as for a serial that does not exist. */
static int find_machine(struct http_req *r, const struct session *s, struct store_machine *m)
{
	struct api *a = http_app(r);
	struct store *st = vault_store(a->vault);
	const char *serial = http_param(r, "serial");

	if (serial == NULL || !inventory_serial_valid(serial) || st->ops->machine_find(st, serial, m) != CC_OK ||
	    !machine_visible(a, s, m)) {
		http_reply_error(r, 404, "not_found", "no such machine");
		return CC_ERR_NOTFOUND;
	}
	if (!policy_allows(a->vault, m->customer_id, http_route(r)->purpose)) {
		http_reply_error(r, 403, "consent_required",
		                 "the machine's customer has not consented to this purpose in the current policy");
		return CC_ERR_PERM;
	}
	return CC_OK;
}

/* ---- handlers ---- */

/* Refuses a body with fields outside allowed (NULL-terminated). */
static int only_fields(struct http_req *r, json_t *body, const char *const *allowed)
{
	const char *key;
	json_t *value;

	json_object_foreach(body, key, value) {
		const char *const *a;

		for (a = allowed; *a != NULL && strcmp(*a, key) != 0; a++)
			;
		if (*a == NULL) {
			http_reply_error(r, 400, "invalid", "unknown field");
			return CC_ERR_INVALID;
		}
	}
	return CC_OK;
}

static json_t *policy_json(const struct store_policy *p)
{
	json_t *purposes = json_array();
	char buf[CC_POLICY_PURPOSES_MAX + 1], *save = NULL, *tok;

	snprintf(buf, sizeof(buf), "%s", p->purposes);
	for (tok = strtok_r(buf, ",", &save); purposes != NULL && tok != NULL; tok = strtok_r(NULL, ",", &save))
		json_array_append_new(purposes, json_string(tok));
	return json_pack("{s:I, s:s, s:o, s:s}", "version", (json_int_t)p->version, "last_updated",
	                 p->last_updated, "purposes", purposes, "text", p->text);
}

static void h_policy(struct http_req *r)
{
	struct api *a = http_app(r);
	struct store_policy *p = malloc(sizeof(*p));

	if (p == NULL || policy_current(a->vault, p) != CC_OK) {
		free(p);
		http_reply_error(r, 503, "unavailable", "the policy could not be read");
		return;
	}
	http_reply_json(r, 200, policy_json(p));
	free(p);
}

static int add_policy(void *arg, const struct store_policy *p)
{
	return json_array_append_new(arg, policy_json(p)) == 0 ? 0 : CC_ERR_NOMEM;
}

static void h_policy_versions(struct http_req *r)
{
	struct api *a = http_app(r);
	struct store *st = vault_store(a->vault);
	struct session *s = authorize(r);
	json_t *list;

	if (s == NULL)
		return;
	list = json_array();
	if (list == NULL || st->ops->policy_each(st, add_policy, list) != CC_OK) {
		json_decref(list);
		http_reply_error(r, 500, "internal", "the policy versions could not be read");
		return;
	}
	http_reply_json(r, 200, json_pack("{s:o}", "versions", list));
}

static void h_policy_publish(struct http_req *r)
{
	static const char *const fields[] = { "text", "purposes", "last_updated", NULL };
	struct api *a = http_app(r);
	struct session *s = authorize(r);
	char purposes[CC_POLICY_PURPOSES_MAX + 1] = "";
	json_t *body = NULL, *list, *item;
	int64_t version = 0;
	size_t i, used = 0;
	int rc;

	if (s == NULL || http_body_json(r, &body) != CC_OK)
		return;
	if (only_fields(r, body, fields) != CC_OK) {
		json_decref(body);
		return;
	}
	list = json_object_get(body, "purposes");
	json_array_foreach(list, i, item) {
		const char *name = json_string_value(item);
		int n = snprintf(purposes + used, sizeof(purposes) - used, "%s%s", used ? "," : "", name ? name : "");

		if (name == NULL || n < 0 || (size_t)n >= sizeof(purposes) - used) {
			purposes[0] = '\0';
			break;
		}
		used += (size_t)n;
	}
	rc = policy_publish(a->vault, json_string_value(json_object_get(body, "text")), purposes,
	                    json_string_value(json_object_get(body, "last_updated")), &version);
	json_decref(body);
	if (rc != CC_OK) {
		http_reply_error(r, 400, "invalid", "send text, purposes (a list of names) and last_updated (YYYY-MM-DD)");
		return;
	}
	if (audit_access(r, s, "policy.publish", NULL, "ok") != CC_OK)
		return;
	http_reply_json(r, 201, json_pack("{s:I}", "version", (json_int_t)version));
}

/* A customer's consent to a policy version: by its own customer managers
 * (or anyone above it who manages organisations). */
static void h_consent(struct http_req *r)
{
	static const char *const fields[] = { "customer", "version", NULL };
	struct api *a = http_app(r);
	struct store *st = vault_store(a->vault);
	struct session *s = authenticate(r);
	struct store_org cust;
	const char *name;
	json_t *body = NULL;
	int64_t version;
	int rc;

	if (s == NULL || http_body_json(r, &body) != CC_OK)
		return;
	if (only_fields(r, body, fields) != CC_OK) {
		json_decref(body);
		return;
	}
	name = json_string_value(json_object_get(body, "customer"));
	version = json_integer_value(json_object_get(body, "version"));
	rc = name != NULL && inventory_name_valid(name) ? st->ops->org_find(st, name, &cust) : CC_ERR_NOTFOUND;
	json_decref(body);
	if (rc != CC_OK || cust.kind != ORG_CUSTOMER || !inventory_org_contains(st, s->user.org_id, cust.id)) {
		http_reply_error(r, 404, "not_found", "no such customer");
		return;
	}
	if (!s->role->manages_org && !(strcmp(s->role->name, "customer_manager") == 0 && s->user.org_id == cust.id)) {
		http_reply_error(r, 403, "forbidden", "only the customer's managers record its consent");
		return;
	}
	rc = policy_consent(a->vault, cust.id, version, s->user.login);
	if (rc != CC_OK) {
		http_reply_error(r, 404, "not_found", "no such policy version");
		return;
	}
	if (audit_access(r, s, "consent.record", NULL, "ok") != CC_OK)
		return;
	http_reply_json(r, 201, json_pack("{s:s, s:I}", "customer", cust.name, "version", (json_int_t)version));
}

static void h_openapi(struct http_req *r)
{
	http_reply_json(r, 200, http_openapi(api_routes(), "CoffeeCloud API", "1"));
}

/* evhttp frees a request whose connection closes: forget it in our jobs. */
static void connection_closed(struct evhttp_connection *conn, void *arg)
{
	struct api *a = arg;
	struct login_job *j;

	for (j = a->live; j != NULL; j = j->live_next)
		if (j->conn == conn)
			j->r = NULL;
}

static void job_forget(struct api *a, struct login_job *job)
{
	struct login_job **p;

	for (p = &a->live; *p != NULL; p = &(*p)->live_next) {
		if (*p == job) {
			*p = job->live_next;
			break;
		}
	}
	crypto_wipe(job, sizeof(*job));
	free(job);
}

static void h_login(struct http_req *r)
{
	struct api *a = http_app(r);
	struct login_job *job;
	struct failures *f;
	const char *login, *password;
	json_t *body = NULL;

	if (http_body_json(r, &body) != CC_OK)
		return;
	login = json_string_value(json_object_get(body, "login"));
	password = json_string_value(json_object_get(body, "password"));
	if (login == NULL || password == NULL || !inventory_name_valid(login) || strlen(password) > PASSWORD_MAX_LEN) {
		json_decref(body);
		http_reply_error(r, 400, "invalid", "send {\"login\": ..., \"password\": ...}");
		return;
	}
	f = strmap_get(a->failures, login);
	if (f != NULL && f->locked_until_ms > clock_now_ms()) {
		json_decref(body);
		http_reply_error(r, 429, "locked", "too many failed sign-ins; try again later");
		return;
	}
	job = calloc(1, sizeof(*job));
	if (job == NULL) {
		json_decref(body);
		http_reply_error(r, 503, "busy", "try again");
		return;
	}
	job->api = a;
	job->r = r;
	job->conn = evhttp_request_get_connection(http_evrequest(r));
	if (job->conn != NULL)
		evhttp_connection_set_closecb(job->conn, connection_closed, a);
	job->live_next = a->live;
	a->live = job;
	memcpy(job->password, password, strlen(password) + 1);
	job->known = users_find(a->vault, login, &job->user, job->hash, sizeof(job->hash)) == CC_OK;
	if (!job->known)
		snprintf(job->user.login, sizeof(job->user.login), "%s", login);
	crypto_wipe((char *)password, strlen(password));
	json_decref(body);
	pthread_mutex_lock(&a->lock);
	job->next = a->queued;
	a->queued = job;
	pthread_cond_signal(&a->wake);
	pthread_mutex_unlock(&a->lock);
}

static void reply_later_cb(evutil_socket_t fd, short what, void *arg)
{
	struct login_job *job = arg;

	(void)fd;
	(void)what;
	if (job->r != NULL)
		http_reply_error(job->r, 401, "unauthorized", "wrong login or password");
	job_forget(job->api, job);
}

static void login_failed(struct api *a, struct login_job *job)
{
	struct failures *f = strmap_get(a->failures, job->user.login);
	struct timeval delay;
	int64_t ms;

	if (f == NULL) {
		f = calloc(1, sizeof(*f));
		if (f == NULL || strmap_put(a->failures, job->user.login, f) != CC_OK) {
			free(f);
			f = NULL;
		}
	}
	if (f != NULL && ++f->count >= API_LOGIN_FAILURES_BEFORE_LOCK)
		f->locked_until_ms = clock_now_ms() + (int64_t)API_LOGIN_LOCK_S * 1000;
	log_info(MOD, "failed sign-in for '%s'", job->user.login);
	/* Growing delays: 0.1 s, 0.2 s, 0.4 s... up to 5 s, without blocking anyone else. */
	ms = f != NULL ? (int64_t)100 << (f->count > 6 ? 6 : f->count - 1) : 100;
	if (ms > 5000)
		ms = 5000;
	delay.tv_sec = ms / 1000;
	delay.tv_usec = (ms % 1000) * 1000;
	if (event_base_once(a->base, -1, EV_TIMEOUT, reply_later_cb, job, &delay) != 0)
		reply_later_cb(-1, 0, job);
}

static void login_succeeded(struct api *a, struct login_job *job)
{
	uint8_t raw[TOKEN_BYTES], csrf[16];
	char token[2 * TOKEN_BYTES + 1], key[2 * SHA256_DIGEST_LENGTH + 1], cookie[256], expires[40];
	struct session *s = calloc(1, sizeof(*s));

	if (s == NULL || crypto_random(raw, sizeof(raw)) != CC_OK || crypto_random(csrf, sizeof(csrf)) != CC_OK) {
		free(s);
		http_reply_error(job->r, 503, "busy", "try again");
		return;
	}
	hex_encode(raw, sizeof(raw), token, sizeof(token));
	hex_encode(csrf, sizeof(csrf), s->csrf, sizeof(s->csrf));
	token_key(token, key);
	s->user = job->user;
	s->role = role_find(job->user.role);
	s->expires_ms = clock_now_ms() + (int64_t)API_SESSION_TTL_S * 1000;
	if (s->role == NULL || strmap_put(a->sessions, key, s) != CC_OK) {
		free(s);
		http_reply_error(job->r, 503, "busy", "try again");
		return;
	}
	free(strmap_remove(a->failures, job->user.login));
	snprintf(cookie, sizeof(cookie), "cc_session=%s; Path=/; Max-Age=%d; HttpOnly; Secure; SameSite=Strict",
	         token, API_SESSION_TTL_S);
	http_add_header(job->r, "Set-Cookie", cookie);
	log_info(MOD, "%s signed in from %s", job->user.login, http_source(job->r));
	http_reply_json(job->r, 200, json_pack("{s:s, s:s, s:s, s:s}", "token", token, "csrf_token", s->csrf,
	                                       "expires", iso_time(s->expires_ms, expires, sizeof(expires)),
	                                       "role", s->user.role));
	crypto_wipe(token, sizeof(token));
	crypto_wipe(raw, sizeof(raw));
}

static void done_cb(evutil_socket_t fd, short what, void *arg)
{
	struct api *a = arg;
	struct login_job *jobs;

	(void)fd;
	(void)what;
	pthread_mutex_lock(&a->lock);
	jobs = a->done;
	a->done = NULL;
	pthread_mutex_unlock(&a->lock);
	while (jobs != NULL) {
		struct login_job *next = jobs->next;

		if (jobs->r == NULL) {
			job_forget(a, jobs); /* the client left */
		} else if (jobs->ok && jobs->known) {
			login_succeeded(a, jobs);
			job_forget(a, jobs);
		} else {
			login_failed(a, jobs); /* answers later, then forgets */
		}
		jobs = next;
	}
}

static void h_logout(struct http_req *r)
{
	struct api *a = http_app(r);
	char key[2 * SHA256_DIGEST_LENGTH + 1];
	int from_cookie;
	struct session *s = authenticate(r);

	if (s == NULL)
		return;
	token_key(request_token(r, &from_cookie), key);
	free(strmap_remove(a->sessions, key));
	http_add_header(r, "Set-Cookie", "cc_session=; Path=/; Max-Age=0; HttpOnly; Secure; SameSite=Strict");
	http_reply_json(r, 200, json_pack("{s:b}", "signed_out", 1));
}

static json_t *classes_json(const struct role *role)
{
	static const char *const names[] = { "status", "technical", "service", "usage", "audit" };
	json_t *list = json_array();
	size_t i;

	for (i = 0; list != NULL && i < sizeof(names) / sizeof(names[0]); i++)
		if (role->classes & (1u << i))
			json_array_append_new(list, json_string(names[i]));
	return list;
}

static void h_me(struct http_req *r)
{
	struct session *s = authorize(r);

	if (s == NULL)
		return;
	http_reply_json(r, 200, json_pack("{s:s, s:s, s:s, s:s, s:s, s:o}", "login", s->user.login, "role",
	                                  s->user.role, "org", s->user.org, "display_name",
	                                  s->user.profile.display_name, "email", s->user.profile.email,
	                                  "data_classes", classes_json(s->role)));
}

/* The status-class view of a machine, the only fields every machine role sees. */
static json_t *machine_status_json(struct api *a, const struct store_machine *m)
{
	struct store *st = vault_store(a->vault);
	struct store_machine_state ms;
	struct store_org cust;
	struct store_site site;
	char seen[40];
	char *info = NULL;
	json_t *doc, *info_doc = NULL;
	int known = st->ops->machine_state_get(st, m->id, &ms) == CC_OK;

	if (st->ops->org_get(st, m->customer_id, &cust) != CC_OK)
		snprintf(cust.name, sizeof(cust.name), "?");
	doc = json_pack("{s:s, s:s, s:s, s:b, s:b}", "serial", m->serial, "model", m->model, "customer",
	                cust.name, "online", known && ms.online, "revoked", m->revoked_ms != 0);
	if (doc == NULL)
		return NULL;
	if (m->site_id != 0 && st->ops->site_get(st, m->site_id, &site) == CC_OK)
		json_object_set_new(doc, "site", json_string(site.name));
	if (known) {
		json_object_set_new(doc, "last_seen", json_string(iso_time(ms.last_seen_ms, seen, sizeof(seen))));
		if (!ms.online && ms.disconnect_reason[0])
			json_object_set_new(doc, "last_disconnect_reason", json_string(ms.disconnect_reason));
		if (records_open_info(a->vault, m, &ms, &info) == CC_OK && (info_doc = json_loads(info, 0, NULL)))
			json_object_set_new(doc, "software_version", json_incref(json_object_get(info_doc, "sw")));
	}
	json_decref(info_doc);
	free(info);
	return doc;
}

struct machine_lister {
	struct api *a;
	const struct session *s;
	const char *purpose;
	json_t *list;
	json_int_t excluded; /* visible, but their customer did not consent to the purpose */
};

static int list_visible(void *arg, const struct store_machine *m)
{
	struct machine_lister *l = arg;

	if (!machine_visible(l->a, l->s, m))
		return 0;
	if (!policy_allows(l->a->vault, m->customer_id, l->purpose)) {
		l->excluded++;
		return 0;
	}
	return json_array_append_new(l->list, machine_status_json(l->a, m)) == 0 ? 0 : CC_ERR_NOMEM;
}

static void h_machines(struct http_req *r)
{
	struct api *a = http_app(r);
	struct store *st = vault_store(a->vault);
	struct session *s = authorize(r);
	struct machine_lister l;

	if (s == NULL)
		return;
	l.a = a;
	l.s = s;
	l.purpose = http_route(r)->purpose;
	l.excluded = 0;
	l.list = json_array();
	if (l.list == NULL || st->ops->machine_list(st, 0, list_visible, &l) != CC_OK) {
		json_decref(l.list);
		http_reply_error(r, 500, "internal", "the machines could not be listed");
		return;
	}
	if (audit_access(r, s, "machines.list", NULL, "ok") != CC_OK) {
		json_decref(l.list);
		return;
	}
	http_reply_json(r, 200, json_pack("{s:o, s:I}", "machines", l.list, "excluded_without_consent", l.excluded));
}

static void h_machine(struct http_req *r)
{
	struct session *s = authorize(r);
	struct store_machine m;

	if (s == NULL || find_machine(r, s, &m) != CC_OK || audit_access(r, s, "machine.get", &m, "ok") != CC_OK)
		return;
	http_reply_json(r, 200, machine_status_json(http_app(r), &m));
}

static int parse_ms(const char *text, int64_t dflt, int64_t *out)
{
	char *end;
	long long v;

	if (text == NULL) {
		*out = dflt;
		return CC_OK;
	}
	v = strtoll(text, &end, 10);
	if (end == text || *end != '\0')
		return CC_ERR_INVALID;
	*out = v;
	return CC_OK;
}

struct record_page {
	json_t *list;
	const char *metric;
	size_t count;
	int64_t next_from;
};

static int add_record(void *arg, const struct record_out *rec)
{
	struct record_page *p = arg;
	json_t *body, *m;

	if (p->count == RECORDS_PAGE_MAX) {
		p->next_from = rec->ts_ms;
		return 1; /* stop: the page is full */
	}
	body = json_loadb(rec->body, rec->body_len, 0, NULL);
	if (body == NULL)
		return 0;
	m = json_object_get(body, "m");
	if (p->metric != NULL && m != NULL) {
		json_t *only = json_object();
		json_t *v = json_object_get(m, p->metric);

		if (v != NULL)
			json_object_set(only, p->metric, v);
		json_object_set_new(body, "m", only);
		if (v == NULL) {
			json_decref(body);
			return 0;
		}
	}
	p->count++;
	return json_array_append_new(p->list, body) == 0 ? 0 : CC_ERR_NOMEM;
}

static void records_route(struct http_req *r, enum record_kind kind)
{
	struct api *a = http_app(r);
	struct session *s = authorize(r);
	struct store_machine m;
	struct record_page page = { NULL, NULL, 0, 0 };
	int64_t from, to;
	json_t *doc;
	int rc;

	if (s == NULL || find_machine(r, s, &m) != CC_OK)
		return;
	if (parse_ms(http_query(r, "from"), 0, &from) != CC_OK || parse_ms(http_query(r, "to"), INT64_MAX, &to) != CC_OK) {
		http_reply_error(r, 400, "invalid", "from and to are epoch milliseconds");
		return;
	}
	page.metric = kind == RECORD_TELEMETRY ? http_query(r, "metric") : NULL;
	page.list = json_array();
	rc = page.list ? records_get(a->vault, &m, kind, from, to, add_record, &page) : CC_ERR_NOMEM;
	if (rc < 0) {
		json_decref(page.list);
		http_reply_error(r, 500, "internal", "the records could not be read");
		return;
	}
	if (audit_access(r, s, kind == RECORD_EVENT ? "events.get" : "telemetry.get", &m, "ok") != CC_OK) {
		json_decref(page.list);
		return;
	}
	doc = json_pack("{s:s, s:o}", "serial", m.serial, kind == RECORD_EVENT ? "events" : "telemetry", page.list);
	if (doc != NULL && page.next_from != 0)
		json_object_set_new(doc, "next_from", json_integer(page.next_from));
	http_reply_json(r, 200, doc);
}

static void h_telemetry(struct http_req *r) { records_route(r, RECORD_TELEMETRY); }

/* The espresso standard of DESIGN §5: brewed at 90-96 degC in 20-30 s. */
#define QUALITY_TEMP_MIN 90.0
#define QUALITY_TEMP_MAX 96.0
#define QUALITY_TIME_MIN 20.0
#define QUALITY_TIME_MAX 30.0

struct quality {
	json_int_t brews, in_standard;
};

static int count_brew(void *arg, const struct record_out *rec)
{
	struct quality *q = arg;
	json_t *e = json_loadb(rec->body, rec->body_len, 0, NULL);
	const char *type = json_string_value(json_object_get(e, "type"));
	json_t *temp = json_object_get(e, "temp_c"), *secs = json_object_get(e, "brew_time_s");

	if (type != NULL && strcmp(type, "brew") == 0 && json_is_number(temp) && json_is_number(secs)) {
		double t = json_number_value(temp), d = json_number_value(secs);

		q->brews++;
		if (t >= QUALITY_TEMP_MIN && t <= QUALITY_TEMP_MAX && d >= QUALITY_TIME_MIN && d <= QUALITY_TIME_MAX)
			q->in_standard++;
	}
	json_decref(e);
	return 0;
}

static void h_quality(struct http_req *r)
{
	struct api *a = http_app(r);
	struct session *s = authorize(r);
	struct store_machine m;
	struct quality q = { 0, 0 };
	int64_t from, to;

	if (s == NULL || find_machine(r, s, &m) != CC_OK)
		return;
	if (parse_ms(http_query(r, "from"), 0, &from) != CC_OK || parse_ms(http_query(r, "to"), INT64_MAX, &to) != CC_OK) {
		http_reply_error(r, 400, "invalid", "from and to are epoch milliseconds");
		return;
	}
	if (records_get(a->vault, &m, RECORD_EVENT, from, to, count_brew, &q) < 0) {
		http_reply_error(r, 500, "internal", "the events could not be read");
		return;
	}
	if (audit_access(r, s, "quality.get", &m, "ok") != CC_OK)
		return;
	http_reply_json(r, 200, json_pack("{s:s, s:{s:f, s:f, s:f, s:f}, s:I, s:I, s:o?}", "serial", m.serial,
	                                  "standard", "temp_min_c", QUALITY_TEMP_MIN, "temp_max_c", QUALITY_TEMP_MAX,
	                                  "brew_min_s", QUALITY_TIME_MIN, "brew_max_s", QUALITY_TIME_MAX,
	                                  "brews", q.brews, "in_standard", q.in_standard, "compliance_pct",
	                                  q.brews ? json_real(100.0 * (double)q.in_standard / (double)q.brews) : NULL));
}
static void h_events(struct http_req *r) { records_route(r, RECORD_EVENT); }

struct audit_page {
	struct api *a;
	const struct session *s;
	json_t *list;
	int reads_only;
	int at_root; /* the caller belongs to the root organisation */
};

static int add_audit(void *arg, const struct store_audit *rec)
{
	struct audit_page *p = arg;
	struct store *st = vault_store(p->a->vault);
	char when[40];

	/* Records about customers outside the caller's subtree stay hidden;
	 * records about no customer are for callers at the root only. */
	if (rec->customer_id != 0 && !inventory_org_contains(st, p->s->user.org_id, rec->customer_id))
		return 0;
	if (rec->customer_id == 0 && !p->at_root)
		return 0;
	if (p->reads_only && strcmp(rec->data_class, "admin") == 0)
		return 0;
	clock_format_iso(rec->ts_ms, when, sizeof(when));
	return json_array_append_new(p->list, json_pack("{s:I, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s}",
	                             "seq", (json_int_t)rec->seq, "time", when, "actor", rec->actor,
	                             "source", rec->source, "action", rec->action, "machines", rec->machines,
	                             "data_class", rec->data_class, "purpose", rec->purpose,
	                             "outcome", rec->outcome)) == 0 ? 0 : CC_ERR_NOMEM;
}

static void audit_route(struct http_req *r, struct session *s, int64_t customer_id, int reads_only)
{
	struct api *a = http_app(r);
	struct audit_filter f;
	struct audit_page page = { a, s, json_array(), reads_only, 0 };
	struct store_org org;
	const char *limit = http_query(r, "limit");
	int64_t n = 100;

	page.at_root = vault_store(a->vault)->ops->org_get(vault_store(a->vault), s->user.org_id, &org) == CC_OK &&
	               org.parent_id == 0;
	memset(&f, 0, sizeof(f));
	if (parse_ms(http_query(r, "from"), 0, &f.from_ms) != CC_OK || parse_ms(http_query(r, "to"), 0, &f.to_ms) != CC_OK ||
	    parse_ms(limit, 100, &n) != CC_OK || n < 1 || n > 1000) {
		json_decref(page.list);
		http_reply_error(r, 400, "invalid", "from, to: epoch ms; limit: 1 to 1000");
		return;
	}
	f.limit = (size_t)n;
	f.newest_first = 1;
	f.customer_id = customer_id;
	f.action_prefix = http_query(r, "action");
	f.serial = http_query(r, "serial");
	if (page.list == NULL || audit_list(a->vault, &f, add_audit, &page) < 0) {
		json_decref(page.list);
		http_reply_error(r, 500, "internal", "the audit log could not be read");
		return;
	}
	/* Reading the audit log is an audited read of the audit class. */
	if (audit_access(r, s, customer_id ? "access-report.get" : "audit.get", NULL, "ok") != CC_OK) {
		json_decref(page.list);
		return;
	}
	http_reply_json(r, 200, json_pack("{s:o}", "records", page.list));
}

static void h_audit(struct http_req *r)
{
	struct session *s = authorize(r);

	if (s != NULL)
		audit_route(r, s, 0, 0);
}

/* A customer's access-transparency report: who read which of its machines'
 * data, when and why. For the customer's own managers, its service
 * company's, the manufacturer's admins and auditors. */
static void h_access_report(struct http_req *r)
{
	struct api *a = http_app(r);
	struct store *st = vault_store(a->vault);
	struct session *s = authenticate(r);
	const char *name = http_param(r, "id");
	struct store_org cust;
	const char *role;

	if (s == NULL)
		return;
	role = s->role->name;
	if (name == NULL || !inventory_name_valid(name) || st->ops->org_find(st, name, &cust) != CC_OK ||
	    cust.kind != ORG_CUSTOMER || !inventory_org_contains(st, s->user.org_id, cust.id)) {
		http_reply_error(r, 404, "not_found", "no such customer");
		return;
	}
	if (!s->role->manages_org && strcmp(role, "auditor") != 0 && strcmp(role, "customer_manager") != 0 &&
	    strcmp(role, "service_manager") != 0) {
		http_reply_error(r, 403, "forbidden", "your role does not see access reports");
		return;
	}
	audit_route(r, s, cust.id, 1);
}

/* ---- organisations and accounts (admins) ---- */

/* A listing limited to the caller's organisation subtree. */
struct scoped_lister {
	struct store *st;
	const struct session *s;
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
	return json_array_append_new(l->list, json_pack("{s:s, s:s, s:s?}", "name", o->name, "kind",
	                             org_kind_name(o->kind), "parent", pname)) ? CC_ERR_NOMEM : 0;
}

static void h_orgs_list(struct http_req *r)
{
	struct api *a = http_app(r);
	struct session *s = authorize(r);
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
	http_reply_json(r, 200, json_pack("{s:o}", "orgs", l.list));
}

static void h_orgs_add(struct http_req *r)
{
	static const char *const fields[] = { "name", "kind", "parent", NULL };
	struct api *a = http_app(r);
	struct store *st = vault_store(a->vault);
	struct session *s = authorize(r);
	struct store_org parent, made;
	enum org_kind kind;
	const char *name, *kind_text, *parent_name;
	json_t *body = NULL;
	int rc;

	if (s == NULL || http_body_json(r, &body) != CC_OK)
		return;
	if (only_fields(r, body, fields) != CC_OK) {
		json_decref(body);
		return;
	}
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
	if (audit_access(r, s, "org.add", NULL, "ok") != CC_OK)
		return;
	http_reply_json(r, 201, json_pack("{s:s, s:s, s:s}", "name", made.name, "kind", org_kind_name(made.kind),
	                                  "parent", parent.name));
}

static int add_user(void *arg, const struct user_info *u)
{
	struct scoped_lister *l = arg;

	if (!inventory_org_contains(l->st, l->s->user.org_id, u->org_id))
		return 0;
	return json_array_append_new(l->list, json_pack("{s:s, s:s, s:s, s:s, s:s}", "login", u->login, "role",
	                             u->role, "org", u->org, "display_name", u->profile.display_name, "email",
	                             u->profile.email)) ? CC_ERR_NOMEM : 0;
}

static void h_users_list(struct http_req *r)
{
	struct api *a = http_app(r);
	struct session *s = authorize(r);
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
	if (audit_access(r, s, "user.list", NULL, "ok") != CC_OK) {
		json_decref(l.list);
		return;
	}
	http_reply_json(r, 200, json_pack("{s:o}", "users", l.list));
}

static void h_users_add(struct http_req *r)
{
	static const char *const fields[] = { "login", "role", "org", "display_name", "email", "password", NULL };
	struct api *a = http_app(r);
	struct store *st = vault_store(a->vault);
	struct session *s = authorize(r);
	struct user_profile profile;
	struct store_org org;
	const char *login, *role, *org_name, *password, *name, *email;
	json_t *body = NULL, *reply;
	int rc;

	if (s == NULL || http_body_json(r, &body) != CC_OK)
		return;
	if (only_fields(r, body, fields) != CC_OK) {
		json_decref(body);
		return;
	}
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
	snprintf(profile.display_name, sizeof(profile.display_name), "%s", name ? name : "");
	snprintf(profile.email, sizeof(profile.email), "%s", email ? email : "");
	rc = users_add(a->vault, org_name, login, role, &profile, password, NULL);
	crypto_wipe((char *)password, strlen(password));
	crypto_wipe(&profile, sizeof(profile));
	/* The answer is built before the body (whose strings it quotes) goes. */
	reply = json_pack("{s:s, s:s, s:s}", "login", login, "role", role, "org", org_name);
	json_decref(body);
	if (rc != CC_OK) {
		json_decref(reply);
		http_reply_error(r, rc == CC_ERR_EXISTS ? 409 : 400, rc == CC_ERR_EXISTS ? "conflict" : "invalid",
		                 rc == CC_ERR_EXISTS ? "that login is taken"
		                                     : "unknown role, invalid login or a password under 12 characters");
		return;
	}
	if (audit_access(r, s, "user.add", NULL, "ok") != CC_OK) {
		json_decref(reply);
		return;
	}
	http_reply_json(r, 201, reply);
}

/* ---- export ---- */

static int stream_piece(void *ctx, const char *data, size_t len)
{
	return http_stream_write(ctx, data, len);
}

/* Everything stored for a customer's machines, decrypted: for its own
 * managers and the admins above it. Audited before a byte leaves. */
static void h_export(struct http_req *r)
{
	struct api *a = http_app(r);
	struct store *st = vault_store(a->vault);
	struct session *s = authenticate(r);
	const char *name = http_param(r, "id");
	enum export_format format;
	struct store_org cust;
	char disposition[128];

	if (s == NULL)
		return;
	if (export_format_parse(http_query(r, "format"), &format) != CC_OK) {
		http_reply_error(r, 400, "invalid", "format is json or csv");
		return;
	}
	if (name == NULL || !inventory_name_valid(name) || st->ops->org_find(st, name, &cust) != CC_OK ||
	    cust.kind != ORG_CUSTOMER || !inventory_org_contains(st, s->user.org_id, cust.id)) {
		http_reply_error(r, 404, "not_found", "no such customer");
		return;
	}
	if (!s->role->manages_org && !(strcmp(s->role->name, "customer_manager") == 0 && s->user.org_id == cust.id)) {
		if (audit_access(r, s, "customer.export", NULL, "denied") == CC_OK)
			http_reply_error(r, 403, "forbidden", "only the customer's managers and admins export its data");
		return;
	}
	{
		struct audit_event e;
		char actor[CC_NAME_MAX + 8];

		snprintf(actor, sizeof(actor), "user:%s", s->user.login);
		memset(&e, 0, sizeof(e));
		e.actor = actor;
		e.source = http_source(r);
		e.action = "customer.export";
		e.machines = "*";
		e.data_class = "technical";
		e.purpose = "administration";
		e.outcome = "ok";
		e.customer_id = cust.id;
		if (audit_append(a->vault, &e) != CC_OK) {
			http_reply_error(r, 503, "audit_unavailable", "the export could not be recorded, so it is refused");
			return;
		}
	}
	snprintf(disposition, sizeof(disposition), "attachment; filename=\"%s.%s\"", cust.name,
	         format == EXPORT_CSV ? "csv" : "json");
	http_stream_begin(r, format == EXPORT_CSV ? "text/csv" : "application/json", disposition);
	if (export_customer(a->vault, cust.id, format, stream_piece, r) != CC_OK)
		log_error(MOD, "the export of %s stopped early", cust.name); /* the client sees a truncated body */
	http_stream_end(r);
}

/* Erasure: crypto-shredding with a signed receipt. Admins only. */
static void h_customer_delete(struct http_req *r)
{
	struct api *a = http_app(r);
	struct store *st = vault_store(a->vault);
	struct session *s = authorize(r);
	const char *name = http_param(r, "id");
	struct store_org cust;
	char *receipt = NULL;
	int rc;

	if (s == NULL)
		return;
	if (name == NULL || !inventory_name_valid(name) || st->ops->org_find(st, name, &cust) != CC_OK ||
	    cust.kind != ORG_CUSTOMER || !inventory_org_contains(st, s->user.org_id, cust.id)) {
		http_reply_error(r, 404, "not_found", "no such customer");
		return;
	}
	rc = erasure_delete_customer(a->vault, name, s->user.login, &receipt);
	if (rc != CC_OK || receipt == NULL) {
		http_reply_error(r, 500, "internal", "the customer could not be deleted or its receipt signed");
		free(receipt);
		return;
	}
	(void)audit_access(r, s, "customer.delete", NULL, "ok"); /* deleted whatever the record says */
	http_reply_text(r, 200, "application/json", receipt);
	free(receipt);
}

/* ---- grants ---- */

static struct session *grant_manager(struct http_req *r)
{
	struct session *s = authenticate(r);

	if (s != NULL && !s->role->manages_grants) {
		if (audit_access(r, s, "grants", NULL, "denied") == CC_OK)
			http_reply_error(r, 403, "forbidden", "only admins and service managers manage grants");
		return NULL;
	}
	return s;
}

static int add_grant_json(void *arg, const struct store_grant *g)
{
	json_t *list = arg;
	char created[40], expires[40];

	clock_format_iso(g->created_ms, created, sizeof(created));
	clock_format_iso(g->expires_ms, expires, sizeof(expires));
	return json_array_append_new(list, json_pack("{s:I, s:I, s:I, s:I, s:s, s:s, s:s, s:s, s:b}", "id",
	                             (json_int_t)g->id, "user_id", (json_int_t)g->user_id, "machine_id",
	                             (json_int_t)g->machine_id, "site_id", (json_int_t)g->site_id, "purpose",
	                             g->purpose, "created_by", g->created_by, "created", created, "expires",
	                             expires, "in_force", g->revoked_ms == 0 && g->expires_ms > clock_now_ms()))
	               ? CC_ERR_NOMEM : 0;
}

static void h_grants_list(struct http_req *r)
{
	struct session *s = grant_manager(r);
	json_t *list;

	if (s == NULL)
		return;
	list = json_array();
	if (list == NULL || grants_list(((struct api *)http_app(r))->vault, s->user.org_id, add_grant_json, list) < 0) {
		json_decref(list);
		http_reply_error(r, 500, "internal", "the grants could not be listed");
		return;
	}
	http_reply_json(r, 200, json_pack("{s:o}", "grants", list));
}

static void h_grants_add(struct http_req *r)
{
	static const char *const grant_fields[] = { "login", "serial", "customer", "site", "purpose", "expires", NULL };
	struct api *a = http_app(r);
	struct session *s = grant_manager(r);
	struct grant_request req;
	json_t *body = NULL, *expires;
	int64_t id = 0;
	int rc;

	if (s == NULL || http_body_json(r, &body) != CC_OK)
		return;
	/* Only these fields: an attempt to set anything else (owner, org, role...) is refused. */
	if (only_fields(r, body, grant_fields) != CC_OK) {
		json_decref(body);
		return;
	}
	memset(&req, 0, sizeof(req));
	req.login = json_string_value(json_object_get(body, "login"));
	req.serial = json_string_value(json_object_get(body, "serial"));
	req.customer = json_string_value(json_object_get(body, "customer"));
	req.site = json_string_value(json_object_get(body, "site"));
	req.purpose = json_string_value(json_object_get(body, "purpose"));
	expires = json_object_get(body, "expires");
	req.expires_ms = json_is_integer(expires) ? json_integer_value(expires) : 0;
	if ((req.serial && !inventory_serial_valid(req.serial)) || (req.login && !inventory_name_valid(req.login)) ||
	    (req.site && !inventory_name_valid(req.site)) || (req.customer && !inventory_name_valid(req.customer))) {
		json_decref(body);
		http_reply_error(r, 400, "invalid", "malformed names in the grant");
		return;
	}
	rc = grants_add(a->vault, &req, s->user.login, s->user.org_id, &id);
	json_decref(body);
	if (rc == CC_ERR_NOTFOUND) {
		http_reply_error(r, 404, "not_found", "no such user, machine or site in your organisation");
		return;
	}
	if (rc != CC_OK) {
		http_reply_error(r, 400, "invalid", "a grant needs a subcontractor, one machine or site, a purpose "
		                 "(downtime, quality, support, updates) and a future expiry (epoch ms)");
		return;
	}
	if (audit_access(r, s, "grant.add", NULL, "ok") != CC_OK)
		return;
	http_reply_json(r, 201, json_pack("{s:I}", "id", (json_int_t)id));
}

static void h_grants_delete(struct http_req *r)
{
	struct api *a = http_app(r);
	struct session *s = grant_manager(r);
	int64_t id;
	int rc;

	if (s == NULL)
		return;
	if (parse_ms(http_param(r, "id"), 0, &id) != CC_OK || id <= 0) {
		http_reply_error(r, 404, "not_found", "no such grant");
		return;
	}
	rc = grants_revoke(a->vault, id, s->user.org_id);
	if (rc == CC_ERR_NOTFOUND || rc == CC_ERR_STATE) {
		http_reply_error(r, rc == CC_ERR_STATE ? 409 : 404, rc == CC_ERR_STATE ? "conflict" : "not_found",
		                 rc == CC_ERR_STATE ? "the grant is revoked already" : "no such grant");
		return;
	}
	if (rc != CC_OK || audit_access(r, s, "grant.revoke", NULL, "ok") != CC_OK) {
		if (rc != CC_OK)
			http_reply_error(r, 500, "internal", "the grant could not be revoked");
		return;
	}
	http_reply_json(r, 200, json_pack("{s:I, s:b}", "id", (json_int_t)id, "revoked", 1));
}

static const struct http_route routes[] = {
	{ EVHTTP_REQ_GET, "/policy", "none", "none", 1, h_policy, "the current privacy policy" },
	{ EVHTTP_REQ_GET, "/api/v1/openapi.json", "none", "none", 1, h_openapi, "this document" },
	{ EVHTTP_REQ_POST, "/api/v1/auth/login", "none", "none", 1, h_login, "sign in: a session token" },
	{ EVHTTP_REQ_POST, "/api/v1/auth/logout", "none", "none", 0, h_logout, "end the session" },
	{ EVHTTP_REQ_GET, "/api/v1/me", "none", "none", 0, h_me, "who is signed in" },
	{ EVHTTP_REQ_GET, "/api/v1/machines", "support", "status", 0, h_machines, "machines the caller sees" },
	{ EVHTTP_REQ_GET, "/api/v1/machines/{serial}", "support", "status", 0, h_machine, "one machine's status" },
	{ EVHTTP_REQ_GET, "/api/v1/machines/{serial}/telemetry", "support", "technical", 0, h_telemetry,
	  "a machine's telemetry (from, to: epoch ms; metric)" },
	{ EVHTTP_REQ_GET, "/api/v1/machines/{serial}/events", "support", "technical", 0, h_events,
	  "a machine's events (from, to: epoch ms)" },
	{ EVHTTP_REQ_GET, "/api/v1/machines/{serial}/quality", "quality", "technical", 0, h_quality,
	  "espresso brews against the standard (90-96 degC, 20-30 s), from, to: epoch ms" },
	{ EVHTTP_REQ_GET, "/api/v1/policy/versions", "none", "none", 0, h_policy_versions,
	  "every version of the privacy policy" },
	{ EVHTTP_REQ_POST, "/api/v1/policy/versions", "administration", "admin", 0, h_policy_publish,
	  "publish a new policy version (text, purposes, last_updated)" },
	{ EVHTTP_REQ_POST, "/api/v1/consents", "administration", "none", 0, h_consent,
	  "record a customer's consent to a policy version" },
	{ EVHTTP_REQ_GET, "/api/v1/customers/{id}/export", "administration", "none", 0, h_export,
	  "everything stored for a customer's machines, decrypted (format=json|csv)" },
	{ EVHTTP_REQ_DELETE, "/api/v1/customers/{id}", "administration", "admin", 0, h_customer_delete,
	  "erase a customer: certificates revoked, rows deleted, data key destroyed; a signed receipt" },
	{ EVHTTP_REQ_GET, "/api/v1/audit", "administration", "audit", 0, h_audit,
	  "audit records (from, to: epoch ms; action; serial; limit <= 1000), newest first" },
	{ EVHTTP_REQ_GET, "/api/v1/customers/{id}/access-report", "administration", "none", 0, h_access_report,
	  "who read which of a customer's machines' data, when and why" },
	{ EVHTTP_REQ_GET, "/api/v1/orgs", "administration", "admin", 0, h_orgs_list,
	  "organisations in the caller's subtree (admins)" },
	{ EVHTTP_REQ_POST, "/api/v1/orgs", "administration", "admin", 0, h_orgs_add,
	  "add a distributor or customer under an organisation of the caller's subtree" },
	{ EVHTTP_REQ_GET, "/api/v1/users", "administration", "admin", 0, h_users_list,
	  "accounts in the caller's subtree, personal fields opened (admins; audited)" },
	{ EVHTTP_REQ_POST, "/api/v1/users", "administration", "admin", 0, h_users_add,
	  "add an account (login, role, org, password, display_name, email)" },
	{ EVHTTP_REQ_GET, "/api/v1/grants", "administration", "admin", 0, h_grants_list,
	  "grants in the caller's organisation (admins, service managers)" },
	{ EVHTTP_REQ_POST, "/api/v1/grants", "administration", "admin", 0, h_grants_add,
	  "grant a subcontractor one machine or site, for a purpose, until an expiry" },
	{ EVHTTP_REQ_DELETE, "/api/v1/grants/{id}", "administration", "admin", 0, h_grants_delete,
	  "revoke a grant" },
	{ 0, NULL, NULL, NULL, 0, NULL, NULL },
};

const struct http_route *api_routes(void) { return routes; }

int api_new(struct event_base *base, struct vault *vault, struct api **out)
{
	struct api *a = calloc(1, sizeof(*a));

	if (a == NULL)
		return CC_ERR_NOMEM;
	a->base = base;
	a->vault = vault;
	pthread_mutex_init(&a->lock, NULL);
	pthread_cond_init(&a->wake, NULL);
	a->done_ev = event_new(base, -1, 0, done_cb, a);
	if (a->done_ev == NULL || strmap_new(&a->sessions) != CC_OK || strmap_new(&a->failures) != CC_OK ||
	    pthread_create(&a->worker, NULL, worker_main, a) != 0) {
		if (a->done_ev != NULL)
			event_free(a->done_ev);
		strmap_free(a->sessions);
		strmap_free(a->failures);
		free(a);
		return CC_ERR_NOMEM;
	}
	*out = a;
	return CC_OK;
}

static int free_value(void *ctx, const char *key, void *value)
{
	(void)ctx;
	(void)key;
	free(value);
	return 0;
}

void api_free(struct api *a)
{
	if (a == NULL)
		return;
	pthread_mutex_lock(&a->lock);
	a->stopping = 1;
	pthread_cond_signal(&a->wake);
	pthread_mutex_unlock(&a->lock);
	pthread_join(a->worker, NULL);
	/* Every job, queued, done or waiting out its delay, is on the live list. */
	while (a->live != NULL)
		job_forget(a, a->live);
	strmap_foreach(a->sessions, free_value, NULL);
	strmap_foreach(a->failures, free_value, NULL);
	strmap_free(a->sessions);
	strmap_free(a->failures);
	event_free(a->done_ev);
	pthread_mutex_destroy(&a->lock);
	pthread_cond_destroy(&a->wake);
	free(a);
}
