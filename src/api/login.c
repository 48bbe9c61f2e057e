/* login.c - sign-in (Argon2id on a worker thread, throttled per login and source), sign-out, who am I. */
#define _GNU_SOURCE /* pthread_setname_np: the thread's name in top -H and perf */
#include "api/internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "access/credentials.h"
#include "access/throttle.h"
#include "ops/metrics.h"
#include "common/clock.h"
#include "common/codec.h"
#include "common/err.h"
#include "common/limits.h"
#include "common/log.h"
#include "crypto/aead.h"
#include "crypto/password.h"
#include "crypto/totp.h"
#include "fleet/inventory.h"

/* What a job asks of the worker. */
enum job_kind {
	JOB_SIGN_IN,  /* verify password against hash */
	JOB_CHANGE,   /* verify password, then check and hash new_password */
	JOB_RESET,    /* check and hash new_password */
	JOB_ADD,      /* check and hash new_password of a new account (user: its login, role, org, profile) */
};

/* Argon2id work handed to the worker thread. */
struct login_job {
	struct api *api;
	struct http_req *r;           /* NULL once the client has gone */
	struct login_job *live_next;  /* every job in flight (loop thread only) */
	enum job_kind kind;
	char password[PASSWORD_MAX_LEN + 1];
	char hash[CC_PASSWORD_HASH_MAX + 1];
	char totp[TOTP_DIGITS + 1];   /* the one-time code, when the body had one */
	char source[64];              /* the client's address */
	int known;
	struct user_info user;        /* sign-in and change: the account; reset: the target */
	int ok;                       /* the password was right (sign-in, change) */
	/* change and reset */
	struct caller caller;         /* who asked, for the audit record */
	char new_password[PASSWORD_MAX_LEN + 1];
	char new_hash[CC_PASSWORD_HASH_MAX + 1];
	char why[PASSWORD_WHY_MAX];   /* why new_password was refused */
	int new_rc;                   /* 0: new_hash is made */
	struct login_job *next;
};

/* ---- the password worker ---- */

static void *worker_main(void *arg)
{
	struct api *a = arg;

	pthread_setname_np(pthread_self(), "cc-passwords");
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

		if (job->kind == JOB_SIGN_IN || job->kind == JOB_CHANGE)
			job->ok = users_verify_password(job->password, job->known ? job->hash : NULL) == CC_OK;
		if (job->kind == JOB_RESET || job->kind == JOB_ADD || (job->kind == JOB_CHANGE && job->ok))
			job->new_rc = users_password_hash(job->user.login, job->new_password, job->new_hash,
			                                  sizeof(job->new_hash), job->why, sizeof(job->why));
		crypto_wipe(job->password, sizeof(job->password));
		crypto_wipe(job->new_password, sizeof(job->new_password));

		pthread_mutex_lock(&a->lock);
		job->next = a->done;
		a->done = job;
		pthread_mutex_unlock(&a->lock);
		event_active(a->done_ev, EV_READ, 0);
	}
}

/* The client left before its answer: the request is gone, the job stays
 * until the worker is done with it. */
static void client_gone(void *arg)
{
	struct login_job *job = arg;

	job->r = NULL;
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

/* A new job for request r (answered later), on the live list. NULL after
 * replying 503. */
static struct login_job *job_new(struct api *a, struct http_req *r, enum job_kind kind)
{
	struct login_job *job = calloc(1, sizeof(*job));

	if (job == NULL) {
		http_reply_error(r, 503, "busy", "try again");
		return NULL;
	}
	job->api = a;
	job->r = r;
	job->kind = kind;
	snprintf(job->source, sizeof(job->source), "%s", http_source(r));
	http_req_later(r, client_gone, job);
	job->live_next = a->live;
	a->live = job;
	return job;
}

static void job_queue(struct api *a, struct login_job *job)
{
	pthread_mutex_lock(&a->lock);
	job->next = a->queued;
	a->queued = job;
	pthread_cond_signal(&a->wake);
	pthread_mutex_unlock(&a->lock);
}

void api_login(struct http_req *r)
{
	struct api *a = http_app(r);
	struct login_job *job;
	const char *login, *password, *totp;
	json_t *body = NULL;
	int64_t wait_ms;

	if (http_body_json(r, &body) != CC_OK)
		return;
	login = json_string_value(json_object_get(body, "login"));
	password = json_string_value(json_object_get(body, "password"));
	totp = json_string_value(json_object_get(body, "totp"));
	/* A login no account can have (a card number typed in the wrong field)
	 * is answered like an unknown one: same time, same 401, and only its
	 * keyed hash in the log. */
	if (login == NULL || password == NULL || login[0] == '\0' || strlen(login) > CC_NAME_MAX ||
	    strlen(password) > PASSWORD_MAX_LEN ||
	    (totp != NULL && strlen(totp) != TOTP_DIGITS)) {
		json_decref(body);
		http_reply_error(r, 400, "invalid", "send {\"login\": ..., \"password\": ...} (and \"totp\": a 6-digit code)");
		return;
	}
	wait_ms = throttle_admit(a->throttle, login, http_source(r), clock_now_ms());
	if (wait_ms > 0) {
		char retry[24];

		json_decref(body);
		snprintf(retry, sizeof(retry), "%lld", (long long)(wait_ms + 999) / 1000);
		http_add_header(r, "Retry-After", retry);
		http_reply_error(r, 429, "slow_down", "too many failed sign-ins; try again later");
		return;
	}
	job = job_new(a, r, JOB_SIGN_IN);
	if (job == NULL) {
		json_decref(body);
		return;
	}
	memcpy(job->password, password, strlen(password) + 1);
	if (totp != NULL)
		memcpy(job->totp, totp, TOTP_DIGITS + 1);
	/* A deactivated account is answered like an unknown one. */
	job->known = users_find(a->vault, login, &job->user, job->hash, sizeof(job->hash)) == CC_OK &&
	             !job->user.deactivated;
	if (!job->known)
		snprintf(job->user.login, sizeof(job->user.login), "%s", login);
	crypto_wipe((char *)password, strlen(password));
	json_decref(body);
	job_queue(a, job);
}

static void reply_later_cb(evutil_socket_t fd, short what, void *arg)
{
	struct login_job *job = arg;

	(void)fd;
	(void)what;
	if (job->r != NULL && job->kind == JOB_CHANGE)
		http_reply_error(job->r, 403, "wrong_password", "the current password is wrong");
	else if (job->r != NULL)
		http_reply_error(job->r, 401, "unauthorized",
		                 "wrong login, password or code (an account with TOTP also sends \"totp\")");
	job_forget(job->api, job);
}

static void login_failed(struct api *a, struct login_job *job)
{
	struct timeval delay;
	char tag[17];
	int64_t ms;

	/* The login as typed is refused input: the log gets a keyed hash of it. */
	throttle_tag(a->throttle, job->user.login, tag);
	log_info(MOD, "failed sign-in for login#%s from %s", tag, job->source);
	metrics_count(METRIC_SIGNIN_FAILURES);
	/* Held a little longer each time, without blocking anyone else. */
	ms = throttle_failed(a->throttle, job->user.login, job->source, clock_now_ms());
	delay.tv_sec = ms / 1000;
	delay.tv_usec = (ms % 1000) * 1000;
	if (event_base_once(a->base, -1, EV_TIMEOUT, reply_later_cb, job, &delay) != 0)
		reply_later_cb(-1, 0, job);
}

static void login_succeeded(struct api *a, struct login_job *job)
{
	char token[CREDENTIAL_TOKEN_TEXT_MAX], csrf[CREDENTIAL_CSRF_HEX + 1], cookie[256], expires[40];
	int enrol_only = a->opts.totp_required_for_admins && !job->user.totp_enabled &&
	                 role_find(job->user.role) != NULL && role_find(job->user.role)->manages_org;
	int64_t expires_ms;
	json_t *doc;

	if (credentials_session_new(a->vault, &job->user, enrol_only ? CREDENTIAL_ENROL_ONLY : 0,
	                            a->opts.session_ttl_s, token, csrf, &expires_ms) != CC_OK) {
		http_reply_error(job->r, 503, "busy", "try again");
		return;
	}
	throttle_succeeded(a->throttle, job->user.login, job->source, clock_now_ms());
	(void)credentials_purge(a->vault, clock_now_ms()); /* housekeeping: expired sessions go */
	snprintf(cookie, sizeof(cookie), "cc_session=%s; Path=/; Max-Age=%lld; HttpOnly; Secure; SameSite=Strict",
	         token, (long long)a->opts.session_ttl_s);
	http_add_header(job->r, "Set-Cookie", cookie);
	log_info(MOD, "%s signed in from %s", job->user.login, http_source(job->r));
	doc = json_pack("{s:s, s:s, s:s, s:s}", "token", token, "csrf_token", csrf, "expires",
	                api_iso_time(expires_ms, expires, sizeof(expires)), "role", job->user.role);
	if (doc != NULL && enrol_only)
		json_object_set_new(doc, "totp_enrolment_required", json_true());
	http_reply_json(job->r, 200, doc);
	crypto_wipe(token, sizeof(token));
	crypto_wipe(cookie, sizeof(cookie));
	crypto_wipe(csrf, sizeof(csrf));
}

/* A change (JOB_CHANGE) or reset (JOB_RESET) back from the worker. */
static void password_done(struct api *a, struct login_job *job)
{
	const char *action = job->kind == JOB_CHANGE ? "user.password_change" : "user.password_reset";
	int rc;

	if (job->kind == JOB_CHANGE && !job->ok) {
		/* A wrong current password: a failed sign-in, answered as one. */
		if (api_audit_access(job->r, &job->caller, action, NULL, "denied") != CC_OK)
			job->r = NULL; /* answered 503 already */
		login_failed(a, job);
		return;
	}
	if (job->new_rc == CC_ERR_INVALID) {
		http_reply_error(job->r, 400, "weak_password", job->why);
		job_forget(a, job);
		return;
	}
	rc = job->new_rc;
	if (rc == CC_OK)
		rc = users_password_store(a->vault, job->user.id, job->new_hash);
	/* The other sessions end; after a reset, all of them. */
	if (rc == CC_OK)
		rc = credentials_end_sessions(a->vault, job->user.id, job->kind == JOB_CHANGE ? job->caller.cred.id : 0);
	if (rc != CC_OK) {
		http_reply_error(job->r, 500, "internal", "the password could not be set");
		job_forget(a, job);
		return;
	}
	log_info(MOD, "password of %s %s by %s", job->user.login, job->kind == JOB_CHANGE ? "changed" : "reset",
	         job->caller.actor);
	if (api_audit_access(job->r, &job->caller, action, NULL, "ok") == CC_OK)
		http_reply_json(job->r, 200, json_pack("{s:s, s:b}", "login", job->user.login, "other_sessions_ended", 1));
	job_forget(a, job);
}

/* A new account (JOB_ADD) back from the worker: stored with its hash. */
static void user_added(struct api *a, struct login_job *job)
{
	int rc = job->new_rc;

	if (rc == CC_ERR_INVALID) {
		http_reply_error(job->r, 400, "weak_password", job->why);
		job_forget(a, job);
		return;
	}
	if (rc == CC_OK)
		rc = users_add_hashed(a->vault, job->user.org, job->user.login, job->user.role, &job->user.profile,
		                      job->new_hash, NULL);
	if (rc != CC_OK) {
		http_reply_error(job->r, rc == CC_ERR_EXISTS ? 409 : 400, rc == CC_ERR_EXISTS ? "conflict" : "invalid",
		                 rc == CC_ERR_EXISTS ? "that login is taken" : "unknown role or invalid login");
		job_forget(a, job);
		return;
	}
	if (api_audit_access(job->r, &job->caller, "user.add", NULL, "ok") == CC_OK)
		http_reply_json(job->r, 201, json_pack("{s:s, s:s, s:s}", "login", job->user.login, "role",
		                                       job->user.role, "org", job->user.org));
	job_forget(a, job);
}

void api_user_add_later(struct http_req *r, const struct caller *by, const char *org, const char *login,
                        const char *role, const struct user_profile *profile, const char *password)
{
	struct api *a = http_app(r);
	struct login_job *job;

	/* What is refused anyway is refused before a hash is spent on it. */
	if (strlen(org) > CC_NAME_MAX || !inventory_name_valid(login) || role_find(role) == NULL ||
	    strlen(role) >= sizeof(job->user.role) || strlen(password) > PASSWORD_MAX_LEN) {
		http_reply_error(r, 400, "invalid", "unknown role or invalid login");
		return;
	}
	job = job_new(a, r, JOB_ADD);
	if (job == NULL)
		return;
	job->caller = *by;
	memcpy(job->user.org, org, strlen(org) + 1);
	memcpy(job->user.login, login, strlen(login) + 1);
	memcpy(job->user.role, role, strlen(role) + 1);
	job->user.profile = *profile;
	memcpy(job->new_password, password, strlen(password) + 1);
	job_queue(a, job);
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
		} else if (jobs->kind == JOB_ADD) {
			user_added(a, jobs);
		} else if (jobs->kind != JOB_SIGN_IN) {
			password_done(a, jobs); /* answers (maybe later), then forgets */
		} else if (jobs->ok && jobs->known &&
		           (!jobs->user.totp_enabled || users_totp_check(a->vault, jobs->user.id, jobs->totp) == CC_OK)) {
			login_succeeded(a, jobs);
			job_forget(a, jobs);
		} else {
			/* A wrong password, code or login - and a right password
			 * without the code TOTP asks for: one answer, one delay, one
			 * more failure, so the answer tells nothing about the password. */
			login_failed(a, jobs); /* answers later, then forgets */
		}
		jobs = next;
	}
}

void api_logout(struct http_req *r)
{
	struct api *a = http_app(r);
	char buf[CREDENTIAL_TOKEN_TEXT_MAX];
	int from_cookie;
	struct caller *s = api_caller(r);

	if (s == NULL)
		return;
	if (s->cred.kind != CREDENTIAL_SESSION) {
		http_reply_error(r, 400, "invalid", "API tokens are revoked (DELETE /api/v1/tokens/{id}), not signed out");
		return;
	}
	if (credentials_end(a->vault, api_request_token(r, &from_cookie, buf)) != CC_OK) {
		crypto_wipe(buf, sizeof(buf));
		http_reply_error(r, 503, "unavailable", "the session could not be ended");
		return;
	}
	crypto_wipe(buf, sizeof(buf));
	http_add_header(r, "Set-Cookie", "cc_session=; Path=/; Max-Age=0; HttpOnly; Secure; SameSite=Strict");
	http_reply_json(r, 200, json_pack("{s:b}", "signed_out", 1));
}

/* ---- password change and reset ---- */

/* The body's string fields (NULL-terminated names; all required), or NULL
 * after replying 400. */
static json_t *password_body(struct http_req *r, const char *const *fields, const char **values)
{
	json_t *body = NULL;
	size_t i;

	/* The dispatcher has refused fields the route does not declare. */
	if (http_body_json(r, &body) != CC_OK)
		return NULL;
	for (i = 0; fields[i] != NULL; i++) {
		values[i] = json_string_value(json_object_get(body, fields[i]));
		if (values[i] == NULL || strlen(values[i]) > PASSWORD_MAX_LEN) {
			json_decref(body);
			http_reply_error(r, 400, "invalid", fields[1] != NULL
			                 ? "send {\"current_password\": ..., \"new_password\": ...}"
			                 : "send {\"new_password\": ...} (12 to 256 bytes)");
			return NULL;
		}
	}
	return body;
}

/* One's own password: the current one, then a new one. Argon2id and the
 * quality check run on the password worker; a wrong current password counts
 * as a failed sign-in of this login from this address. */
void api_password_change(struct http_req *r)
{
	static const char *const fields[] = { "current_password", "new_password", NULL };
	struct api *a = http_app(r);
	struct caller *s = api_caller(r);
	const char *v[2];
	struct login_job *job;
	json_t *body;
	int64_t wait_ms;

	if (s == NULL)
		return;
	if (s->cred.kind != CREDENTIAL_SESSION) {
		http_reply_error(r, 403, "forbidden", "a password belongs to a person's account, not to an API token");
		return;
	}
	wait_ms = throttle_admit(a->throttle, s->user.login, http_source(r), clock_now_ms());
	if (wait_ms > 0) {
		char retry[24];

		snprintf(retry, sizeof(retry), "%lld", (long long)(wait_ms + 999) / 1000);
		http_add_header(r, "Retry-After", retry);
		http_reply_error(r, 429, "slow_down", "too many wrong passwords; try again later");
		return;
	}
	body = password_body(r, fields, v);
	if (body == NULL)
		return;
	job = job_new(a, r, JOB_CHANGE);
	if (job != NULL) {
		job->caller = *s;
		job->known = users_find(a->vault, s->user.login, &job->user, job->hash, sizeof(job->hash)) == CC_OK;
		if (!job->known)
			job->user = s->user;
		memcpy(job->password, v[0], strlen(v[0]) + 1);
		memcpy(job->new_password, v[1], strlen(v[1]) + 1);
	}
	crypto_wipe((char *)v[0], strlen(v[0]));
	crypto_wipe((char *)v[1], strlen(v[1]));
	json_decref(body);
	if (job != NULL)
		job_queue(a, job);
}

/* An admin sets the password of an account in their organisation's
 * subtree; every session of that account ends. Audited. */
void api_password_reset(struct http_req *r)
{
	static const char *const fields[] = { "new_password", NULL };
	struct api *a = http_app(r);
	struct store *st = vault_store(a->vault);
	struct caller *s = api_caller(r);
	const char *v[1], *login;
	struct login_job *job;
	json_t *body;
	char hash[CC_PASSWORD_HASH_MAX + 1];
	struct user_info target;

	if (s == NULL)
		return;
	if (strcmp(s->user.role, "admin") != 0) {
		http_reply_error(r, 403, "forbidden", "only admins reset passwords");
		return;
	}
	login = http_param(r, "login");
	if (login == NULL || !inventory_name_valid(login) ||
	    users_find(a->vault, login, &target, hash, sizeof(hash)) != CC_OK ||
	    !inventory_org_contains(st, s->user.org_id, target.org_id)) {
		crypto_wipe(hash, sizeof(hash));
		http_reply_error(r, 404, "not_found", "no such account");
		return;
	}
	crypto_wipe(hash, sizeof(hash));
	body = password_body(r, fields, v);
	if (body == NULL)
		return;
	job = job_new(a, r, JOB_RESET);
	if (job != NULL) {
		job->caller = *s;
		job->user = target;
		memcpy(job->new_password, v[0], strlen(v[0]) + 1);
	}
	crypto_wipe((char *)v[0], strlen(v[0]));
	crypto_wipe(&target, sizeof(target));
	json_decref(body);
	if (job != NULL)
		job_queue(a, job);
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

void api_me(struct http_req *r)
{
	struct caller *s = api_caller(r);

	if (s == NULL)
		return;
	if (s->cred.kind == CREDENTIAL_API_TOKEN) {
		http_reply_json(r, 200, json_pack("{s:s, s:s, s:s, s:s, s:I, s:o}", "kind", "api_token", "name",
		                                  s->user.login, "role", s->user.role, "org", s->user.org,
		                                  "rate_per_min", (json_int_t)s->cred.rate_per_min,
		                                  "data_classes", classes_json(s->role)));
		return;
	}
	http_reply_json(r, 200, json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:b, s:b, s:o}", "kind", "session", "login",
	                                  s->user.login, "role", s->user.role, "org", s->user.org, "display_name",
	                                  s->user.profile.display_name, "email", s->user.profile.email,
	                                  "totp_enabled", s->user.totp_enabled, "totp_enrolment_required",
	                                  (s->cred.flags & CREDENTIAL_ENROL_ONLY) != 0,
	                                  "data_classes", classes_json(s->role)));
}

/* ---- TOTP ---- */

/* The person behind a session (API tokens have no second factor), and the
 * body's "code" when one is needed: NULL after replying. */
static struct caller *totp_caller(struct http_req *r, json_t **body, int code_needed)
{
	struct caller *s = api_caller(r);
	const char *code;

	if (s == NULL)
		return NULL;
	if (s->cred.kind != CREDENTIAL_SESSION) {
		http_reply_error(r, 403, "forbidden", "a second factor belongs to a person's account");
		return NULL;
	}
	*body = NULL;
	if (http_body_json(r, body) != CC_OK)
		return NULL;
	code = json_string_value(json_object_get(*body, "code"));
	if (code_needed && code == NULL) {
		json_decref(*body);
		http_reply_error(r, 400, "invalid", "send {\"code\": the 6-digit code of your authenticator}");
		return NULL;
	}
	return s;
}

/* A new secret: the otpauth:// URI to show as a QR code. Replacing a secret
 * in force takes a code of the old one, so a stolen session cannot. */
void api_totp_enrol(struct http_req *r)
{
	struct api *a = http_app(r);
	char uri[TOTP_URI_MAX];
	json_t *body;
	struct caller *s = totp_caller(r, &body, 0);
	const char *code;

	if (s == NULL)
		return;
	code = json_string_value(json_object_get(body, "code"));
	if (s->user.totp_enabled && (code == NULL || users_totp_check(a->vault, s->user.id, code) != CC_OK)) {
		json_decref(body);
		(void)api_audit_access(r, s, "totp.enrol", NULL, "denied");
		http_reply_error(r, 403, "totp_required", "TOTP is on: send a current code to replace its secret");
		return;
	}
	json_decref(body);
	if (users_totp_enrol(a->vault, s->user.id, a->opts.issuer, uri, sizeof(uri)) != CC_OK) {
		http_reply_error(r, 500, "internal", "the secret could not be made");
		return;
	}
	if (api_audit_access(r, s, "totp.enrol", NULL, "ok") == CC_OK)
		http_reply_json(r, 201, json_pack("{s:s, s:s}", "otpauth_uri", uri, "next",
		                                  "confirm with POST /api/v1/me/totp/confirm {\"code\": ...}"));
	crypto_wipe(uri, sizeof(uri));
}

void api_totp_confirm(struct http_req *r)
{
	struct api *a = http_app(r);
	json_t *body;
	struct caller *s = totp_caller(r, &body, 1);
	int rc;

	if (s == NULL)
		return;
	rc = users_totp_confirm(a->vault, s->user.id, json_string_value(json_object_get(body, "code")));
	json_decref(body);
	if (rc == CC_ERR_STATE) {
		http_reply_error(r, 409, "conflict", "nothing to confirm: enrol first (POST /api/v1/me/totp)");
		return;
	}
	if (rc != CC_OK) {
		(void)api_audit_access(r, s, "totp.confirm", NULL, "denied");
		http_reply_error(r, 403, "totp_wrong", "that code does not match the enrolled secret");
		return;
	}
	/* Sessions opened with the password alone end, but this one. */
	if (credentials_end_sessions(a->vault, s->user.id, s->cred.id) != CC_OK) {
		http_reply_error(r, 500, "internal", "TOTP is on, but the other sessions could not be ended");
		return;
	}
	if (api_audit_access(r, s, "totp.confirm", NULL, "ok") == CC_OK)
		http_reply_json(r, 200, json_pack("{s:b, s:s, s:b}", "totp_enabled", 1, "next",
		                                  "sign in again with your password and a code", "other_sessions_ended", 1));
}

void api_totp_disable(struct http_req *r)
{
	struct api *a = http_app(r);
	json_t *body;
	struct caller *s = totp_caller(r, &body, 1);
	int rc;

	if (s == NULL)
		return;
	if (a->opts.totp_required_for_admins && s->role->manages_org) {
		json_decref(body);
		http_reply_error(r, 403, "forbidden", "accounts of your role must keep a second factor");
		return;
	}
	rc = users_totp_check(a->vault, s->user.id, json_string_value(json_object_get(body, "code")));
	json_decref(body);
	if (rc != CC_OK) {
		(void)api_audit_access(r, s, "totp.disable", NULL, "denied");
		http_reply_error(r, 403, "totp_wrong", "send a current code to turn TOTP off");
		return;
	}
	if (users_totp_disable(a->vault, s->user.id) != CC_OK) {
		http_reply_error(r, 500, "internal", "TOTP could not be turned off");
		return;
	}
	if (api_audit_access(r, s, "totp.disable", NULL, "ok") == CC_OK)
		http_reply_json(r, 200, json_pack("{s:b}", "totp_enabled", 0));
}

int api_logins_start(struct api *a)
{
	if (throttle_new(&a->throttle) != CC_OK)
		return CC_ERR_NOMEM;
	pthread_mutex_init(&a->lock, NULL);
	pthread_cond_init(&a->wake, NULL);
	a->done_ev = event_new(a->base, -1, 0, done_cb, a);
	if (a->done_ev == NULL || pthread_create(&a->worker, NULL, worker_main, a) != 0) {
		if (a->done_ev != NULL)
			event_free(a->done_ev);
		pthread_mutex_destroy(&a->lock);
		pthread_cond_destroy(&a->wake);
		throttle_free(a->throttle);
		return CC_ERR_NOMEM;
	}
	return CC_OK;
}

void api_logins_stop(struct api *a)
{
	pthread_mutex_lock(&a->lock);
	a->stopping = 1;
	pthread_cond_signal(&a->wake);
	pthread_mutex_unlock(&a->lock);
	pthread_join(a->worker, NULL);
	/* Every job, queued, done or waiting out its delay, is on the live list. */
	while (a->live != NULL)
		job_forget(a, a->live);
	event_free(a->done_ev);
	pthread_mutex_destroy(&a->lock);
	pthread_cond_destroy(&a->wake);
	throttle_free(a->throttle);
}
