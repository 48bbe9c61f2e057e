/* login.c - sign-in (Argon2id on a worker thread, growing delays, lock-out), sign-out, who am I. */
#include "api/internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/clock.h"
#include "common/codec.h"
#include "common/err.h"
#include "common/limits.h"
#include "common/log.h"
#include "common/strmap.h"
#include "crypto/aead.h"
#include "crypto/password.h"
#include "fleet/inventory.h"

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

void api_login(struct http_req *r)
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
	api_token_key(token, key);
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
	                                       "expires", api_iso_time(s->expires_ms, expires, sizeof(expires)),
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

void api_logout(struct http_req *r)
{
	struct api *a = http_app(r);
	char key[2 * SHA256_DIGEST_LENGTH + 1];
	int from_cookie;
	struct session *s = api_authenticate(r);

	if (s == NULL)
		return;
	api_token_key(api_request_token(r, &from_cookie), key);
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

void api_me(struct http_req *r)
{
	struct session *s = api_authorize(r);

	if (s == NULL)
		return;
	http_reply_json(r, 200, json_pack("{s:s, s:s, s:s, s:s, s:s, s:o}", "login", s->user.login, "role",
	                                  s->user.role, "org", s->user.org, "display_name",
	                                  s->user.profile.display_name, "email", s->user.profile.email,
	                                  "data_classes", classes_json(s->role)));
}

int api_logins_start(struct api *a)
{
	pthread_mutex_init(&a->lock, NULL);
	pthread_cond_init(&a->wake, NULL);
	a->done_ev = event_new(a->base, -1, 0, done_cb, a);
	if (a->done_ev == NULL || pthread_create(&a->worker, NULL, worker_main, a) != 0) {
		if (a->done_ev != NULL)
			event_free(a->done_ev);
		pthread_mutex_destroy(&a->lock);
		pthread_cond_destroy(&a->wake);
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
}
