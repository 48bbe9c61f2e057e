#include "notify/deliver.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <curl/curl.h>
#include <jansson.h>

#include "common/clock.h"
#include "common/err.h"
#include "common/zone.h"
#include "common/log.h"
#include "crypto/aead.h"
#include "access/users.h"
#include "common/file.h"
#include "notify/mail.h"
#include "notify/outbox.h"
#include "notify/prefs.h"
#include "notify/seal.h"
#include "notify/webhook.h"

#define MOD "notify"
#define INFLIGHT_MAX 32
#define BACKOFF_CAP_MS (3600LL * 1000)
#define ANSWER_MAX (64 * 1024) /* what we read of an answer before cutting it */
#define PURGE_EVERY_MS (3600LL * 1000)

struct transfer {
	struct notify_delivery *d;
	CURL *easy;
	struct curl_slist *headers;
	char *body;
	int64_t outbox_id, webhook_id, org_id, created_ms, attempt;
	int64_t started_ms;
	size_t answer_bytes;
	int refused_address; /* the open-socket hook refused the address */
	int mail;            /* an e-mail: body is the message, sent from upload_off */
	size_t body_len, upload_off;
	struct curl_slist *rcpt;
	char error[CURL_ERROR_SIZE];
};

struct sock_watch {
	struct event *ev;
};

struct notify_delivery {
	struct event_base *base;
	struct vault *vault;
	struct notify_delivery_opts o;
	char ca_file[512];
	char smtp_url[256], smtp_from[256], smtp_ca[512];
	char *smtp_user, *smtp_password; /* from the credentials file, wiped at the end */
	int smtp_loopback;
	CURLM *multi;
	struct event *timer; /* libcurl's timeout */
	struct event *poll;  /* the outbox */
	struct transfer *inflight[INFLIGHT_MAX];
	size_t ninflight;
	int64_t purged_ms; /* when ended notifications were last deleted */
};

static void check_done(struct notify_delivery *d);

/* ---- libcurl on the loop ---- */

static void on_socket_event(evutil_socket_t fd, short what, void *arg)
{
	struct notify_delivery *d = arg;
	int running = 0, flags = 0;

	if (what & EV_READ)
		flags |= CURL_CSELECT_IN;
	if (what & EV_WRITE)
		flags |= CURL_CSELECT_OUT;
	curl_multi_socket_action(d->multi, fd, flags, &running);
	check_done(d);
}

static int socket_cb(CURL *easy, curl_socket_t fd, int what, void *userp, void *socketp)
{
	struct notify_delivery *d = userp;
	struct sock_watch *w = socketp;
	short kind = EV_PERSIST;

	(void)easy;
	if (what == CURL_POLL_REMOVE) {
		if (w != NULL) {
			event_free(w->ev);
			free(w);
			curl_multi_assign(d->multi, fd, NULL);
		}
		return 0;
	}
	if (what == CURL_POLL_IN || what == CURL_POLL_INOUT)
		kind |= EV_READ;
	if (what == CURL_POLL_OUT || what == CURL_POLL_INOUT)
		kind |= EV_WRITE;
	if (w == NULL) {
		w = calloc(1, sizeof(*w));
		if (w == NULL)
			return -1;
		curl_multi_assign(d->multi, fd, w);
	} else {
		event_free(w->ev);
	}
	w->ev = event_new(d->base, fd, kind, on_socket_event, d);
	if (w->ev == NULL || event_add(w->ev, NULL) != 0)
		return -1;
	return 0;
}

static void on_timeout(evutil_socket_t fd, short what, void *arg)
{
	struct notify_delivery *d = arg;
	int running = 0;

	(void)fd;
	(void)what;
	curl_multi_socket_action(d->multi, CURL_SOCKET_TIMEOUT, 0, &running);
	check_done(d);
}

static int timer_cb(CURLM *multi, long timeout_ms, void *userp)
{
	struct notify_delivery *d = userp;
	struct timeval tv;

	(void)multi;
	if (timeout_ms < 0) {
		event_del(d->timer);
		return 0;
	}
	tv.tv_sec = timeout_ms / 1000;
	tv.tv_usec = (timeout_ms % 1000) * 1000;
	return event_add(d->timer, &tv) == 0 ? 0 : -1;
}

/* The connection's address, judged before the socket exists: resolution is
 * libcurl's (asynchronous), the decision ours. */
static curl_socket_t open_socket(void *clientp, curlsocktype purpose, struct curl_sockaddr *addr)
{
	struct transfer *t = clientp;

	if (purpose != CURLSOCKTYPE_IPCXN)
		return CURL_SOCKET_BAD;
	if (!t->d->o.allow_private && !webhook_addr_public(&addr->addr)) {
		t->refused_address = 1;
		return CURL_SOCKET_BAD;
	}
	return socket(addr->family, addr->socktype | SOCK_CLOEXEC, addr->protocol);
}

static size_t discard_answer(char *ptr, size_t size, size_t n, void *userp)
{
	struct transfer *t = userp;

	(void)ptr;
	t->answer_bytes += size * n;
	return t->answer_bytes > ANSWER_MAX ? 0 : size * n; /* a receiver that talks on is cut */
}

/* ---- one attempt ---- */

static void transfer_free(struct transfer *t)
{
	if (t == NULL)
		return;
	if (t->easy != NULL)
		curl_easy_cleanup(t->easy);
	curl_slist_free_all(t->headers);
	curl_slist_free_all(t->rcpt);
	if (t->body != NULL) {
		crypto_wipe(t->body, t->body_len);
		free(t->body);
	}
	free(t);
}

static int64_t backoff_ms(const struct notify_delivery *d, int64_t attempt)
{
	int64_t ms = d->o.retry_base_ms;
	uint32_t r = 0;

	while (--attempt > 0 && ms < BACKOFF_CAP_MS)
		ms *= 2;
	if (ms > BACKOFF_CAP_MS)
		ms = BACKOFF_CAP_MS;
	/* Jitter of +-20 %: endpoints that failed together do not retry together. */
	crypto_random(&r, sizeof(r));
	return ms - ms / 5 + (int64_t)(r % (uint32_t)(ms * 2 / 5 + 1));
}

/* Disables an endpoint after too many failed messages and tells its organisation. */
static void count_outcome(struct notify_delivery *d, int64_t webhook_id, int failed)
{
	struct store *s = vault_store(d->vault);
	struct store_webhook w;
	int64_t failures = 0;
	json_t *data;

	if (s->ops->notify->webhook_outcome(s, webhook_id, failed, &failures) != CC_OK || !failed ||
	    failures < d->o.disable_after)
		return;
	if (s->ops->notify->webhook_get(s, webhook_id, &w) != CC_OK || w.disabled_ms != 0)
		return;
	if (s->ops->notify->webhook_disable(s, webhook_id, clock_now_ms()) != CC_OK)
		return;
	log_warn(MOD, "webhook %lld of organisation %lld disabled after %lld failed messages", (long long)webhook_id,
	         (long long)w.org_id, (long long)failures);
	data = json_pack("{s:I, s:I, s:s}", "webhook_id", (json_int_t)webhook_id, "failed_messages",
	                 (json_int_t)failures, "reason", "persistent delivery failure");
	if (data != NULL)
		notify_enqueue(d->vault, w.org_id, NOTIFY_KIND_WEBHOOK_DISABLED, data, NULL); /* the endpoint's owner */
	json_decref(data);
}

static void finish(struct notify_delivery *d, struct transfer *t, CURLcode res)
{
	struct store *s = vault_store(d->vault);
	struct store_notify_attempt a;
	long status = 0;
	int64_t now = clock_now_ms(), next = 0;
	int state;

	curl_easy_getinfo(t->easy, CURLINFO_RESPONSE_CODE, &status);
	memset(&a, 0, sizeof(a));
	a.outbox_id = t->outbox_id;
	a.attempt = t->attempt;
	a.at_ms = t->started_ms;
	a.status = res == CURLE_OK ? status : 0;
	a.duration_ms = now - t->started_ms;
	if (t->refused_address)
		snprintf(a.error, sizeof(a.error), "refused: the address is internal (webhook_allow_private)");
	else if (res != CURLE_OK)
		snprintf(a.error, sizeof(a.error), "%.120s", t->error[0] ? t->error : curl_easy_strerror(res));
	else if (!t->mail && (status < 200 || status > 299))
		snprintf(a.error, sizeof(a.error), "HTTP %ld", status);
	if (t->mail && res == CURLE_OK) {
		a.error[0] = '\0';
		state = NOTIFY_DELIVERED;
	} else if (!t->mail && res == CURLE_OK && status >= 200 && status <= 299) {
		state = NOTIFY_DELIVERED;
	} else {
		next = now + backoff_ms(d, t->attempt);
		state = next - t->created_ms >= d->o.retry_window_s * 1000 ? NOTIFY_FAILED : NOTIFY_PENDING;
		if (state == NOTIFY_FAILED)
			next = 0;
	}
	if (s->ops->notify->outbox_attempt(s, &a, state, next) != CC_OK)
		log_error(MOD, "the outcome of notification %lld could not be stored; it will be sent again",
		          (long long)t->outbox_id);
	else if (state != NOTIFY_PENDING && !t->mail)
		count_outcome(d, t->webhook_id, state == NOTIFY_FAILED);
	log_debug(MOD, "notification %lld attempt %lld: %s", (long long)t->outbox_id, (long long)t->attempt,
	          state == NOTIFY_DELIVERED ? "delivered" : a.error);
}

static void check_done(struct notify_delivery *d)
{
	CURLMsg *m;
	int left;
	size_t i;

	while ((m = curl_multi_info_read(d->multi, &left)) != NULL) {
		struct transfer *t = NULL;

		if (m->msg != CURLMSG_DONE)
			continue;
		curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, (char **)&t);
		if (t == NULL)
			continue;
		finish(d, t, m->data.result);
		curl_multi_remove_handle(d->multi, t->easy);
		for (i = 0; i < d->ninflight; i++)
			if (d->inflight[i] == t) {
				d->inflight[i] = d->inflight[--d->ninflight];
				break;
			}
		transfer_free(t);
	}
}

static int in_flight(const struct notify_delivery *d, int64_t outbox_id)
{
	size_t i;

	for (i = 0; i < d->ninflight; i++)
		if (d->inflight[i]->outbox_id == outbox_id)
			return 1;
	return 0;
}

/* Ends a row that can never be sent (its endpoint gone or disabled, its body unreadable). */
static void end_row(struct notify_delivery *d, const struct store_notification *n, int state, const char *why)
{
	struct store *s = vault_store(d->vault);
	struct store_notify_attempt a;

	memset(&a, 0, sizeof(a));
	a.outbox_id = n->id;
	a.attempt = n->attempts + 1;
	a.at_ms = clock_now_ms();
	snprintf(a.error, sizeof(a.error), "%s", why);
	s->ops->notify->outbox_attempt(s, &a, state, 0);
}

static int add_header(struct transfer *t, const char *name, const char *value)
{
	char line[512];
	struct curl_slist *l;

	snprintf(line, sizeof(line), "%s: %s", name, value);
	l = curl_slist_append(t->headers, line);
	if (l == NULL)
		return CC_ERR_NOMEM;
	t->headers = l;
	return CC_OK;
}

static size_t read_message(char *buf, size_t size, size_t n, void *userp)
{
	struct transfer *t = userp;
	size_t left = t->body_len - t->upload_off, take = size * n < left ? size * n : left;

	memcpy(buf, t->body + t->upload_off, take);
	t->upload_off += take;
	return take;
}

/* A failed attempt that never reached the network (no relay configured...). */
static void fail_attempt(struct notify_delivery *d, const struct store_notification *n, const char *why)
{
	struct store *s = vault_store(d->vault);
	struct store_notify_attempt a;
	int64_t now = clock_now_ms(), next = now + backoff_ms(d, n->attempts + 1);
	int state = next - n->created_ms >= d->o.retry_window_s * 1000 ? NOTIFY_FAILED : NOTIFY_PENDING;

	memset(&a, 0, sizeof(a));
	a.outbox_id = n->id;
	a.attempt = n->attempts + 1;
	a.at_ms = now;
	snprintf(a.error, sizeof(a.error), "%s", why);
	s->ops->notify->outbox_attempt(s, &a, state, state == NOTIFY_PENDING ? next : 0);
}

static int start_mail(struct notify_delivery *d, const struct store_notification *n)
{
	struct store *s = vault_store(d->vault);
	struct store_notify_prefs p;
	struct user_info *u;
	struct transfer *t;
	struct seal_ad ad;
	uint8_t *pt = NULL;
	size_t ptlen = 0;
	int64_t now = clock_now_ms(), quiet;
	char rcpt[CC_PERSONAL_FIELD_MAX + 3];
	int rc;

	if (d->smtp_url[0] == '\0') {
		fail_attempt(d, n, "no SMTP relay is configured (smtp_url)");
		return 0;
	}
	u = calloc(1, sizeof(*u));
	if (u == NULL)
		return CC_ERR_NOMEM;
	rc = users_get(d->vault, n->user_id, u);
	if (rc == CC_ERR_NOTFOUND || (rc == CC_OK && !mail_address_ok(u->profile.email))) {
		end_row(d, n, NOTIFY_GONE, "the person's account or address is gone");
		free(u);
		return 0;
	}
	if (rc == CC_OK)
		rc = notify_prefs_get(d->vault, n->user_id, &p);
	if (rc == CC_OK && (quiet = notify_quiet_until(&p, now)) != 0) {
		s->ops->notify->outbox_defer(s, n->id, quiet);
		crypto_wipe(u, sizeof(*u));
		free(u);
		return 0;
	}
	if (rc == CC_OK) {
		notify_body_ad(&ad, n);
		if (vault_unseal(d->vault, &ad, n->body, n->body_len, &pt, &ptlen) != CC_OK) {
			end_row(d, n, NOTIFY_FAILED, "the notification cannot be opened (its organisation erased?)");
			crypto_wipe(u, sizeof(*u));
			free(u);
			return 0;
		}
	}
	t = rc == CC_OK ? calloc(1, sizeof(*t)) : NULL;
	if (t == NULL) {
		rc = rc == CC_OK ? CC_ERR_NOMEM : rc;
		goto out;
	}
	t->d = d;
	t->mail = 1;
	t->outbox_id = n->id;
	t->org_id = n->org_id;
	t->created_ms = n->created_ms;
	t->attempt = n->attempts + 1;
	t->started_ms = now;
	rc = mail_compose(d->smtp_from, u->profile.email, p.language, n->msg_id, (const char *)pt, now, &t->body,
	                  &t->body_len);
	snprintf(rcpt, sizeof(rcpt), "<%s>", u->profile.email);
	if (rc == CC_OK)
		rc = (t->rcpt = curl_slist_append(NULL, rcpt)) != NULL ? CC_OK : CC_ERR_NOMEM;
	if (rc == CC_OK)
		rc = (t->easy = curl_easy_init()) != NULL ? CC_OK : CC_ERR_NOMEM;
	if (rc == CC_OK) {
		CURL *e = t->easy;
		char from[300];

		snprintf(from, sizeof(from), "<%s>", d->smtp_from);
		curl_easy_setopt(e, CURLOPT_URL, d->smtp_url);
		curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "smtp,smtps");
		curl_easy_setopt(e, CURLOPT_NOPROXY, "*");
		/* STARTTLS or nothing, except to a relay on this host. */
		curl_easy_setopt(e, CURLOPT_USE_SSL, d->smtp_loopback ? (long)CURLUSESSL_TRY : (long)CURLUSESSL_ALL);
		curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, 1L);
		curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, 2L);
		if (d->smtp_ca[0] != '\0')
			curl_easy_setopt(e, CURLOPT_CAINFO, d->smtp_ca);
		if (d->smtp_user != NULL) {
			curl_easy_setopt(e, CURLOPT_USERNAME, d->smtp_user);
			curl_easy_setopt(e, CURLOPT_PASSWORD, d->smtp_password);
		}
		curl_easy_setopt(e, CURLOPT_MAIL_FROM, from);
		curl_easy_setopt(e, CURLOPT_MAIL_RCPT, t->rcpt);
		curl_easy_setopt(e, CURLOPT_UPLOAD, 1L);
		curl_easy_setopt(e, CURLOPT_INFILESIZE_LARGE, (curl_off_t)t->body_len);
		curl_easy_setopt(e, CURLOPT_READFUNCTION, read_message);
		curl_easy_setopt(e, CURLOPT_READDATA, t);
		curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, (long)(d->o.timeout_s * 1000 * 3));
		curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, (long)(d->o.timeout_s * 1000));
		curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
		curl_easy_setopt(e, CURLOPT_ERRORBUFFER, t->error);
		curl_easy_setopt(e, CURLOPT_PRIVATE, t);
		rc = curl_multi_add_handle(d->multi, e) == CURLM_OK ? CC_OK : CC_ERR_NOMEM;
	}
	if (rc == CC_OK) {
		d->inflight[d->ninflight++] = t;
		t = NULL;
	}
out:
	transfer_free(t);
	if (pt != NULL) {
		crypto_wipe(pt, ptlen);
		free(pt);
	}
	crypto_wipe(u, sizeof(*u));
	free(u);
	return rc;
}

static int start_one(void *ctx, const struct store_notification *n)
{
	struct notify_delivery *d = ctx;
	struct store *s = vault_store(d->vault);
	struct store_webhook w;
	struct transfer *t;
	struct seal_ad ad;
	uint8_t *pt = NULL;
	size_t ptlen = 0;
	char cur[WEBHOOK_SECRET_TEXT_MAX], prev[WEBHOOK_SECRET_TEXT_MAX];
	char sig[2 * WEBHOOK_SIGNATURE_MAX], sig2[WEBHOOK_SIGNATURE_MAX], ts[24];
	int64_t now = clock_now_ms();
	int rc;

	if (d->ninflight >= INFLIGHT_MAX)
		return 1;
	if (in_flight(d, n->id))
		return 0;
	if (n->webhook_id == 0)
		return n->user_id != 0 ? start_mail(d, n) : (end_row(d, n, NOTIFY_GONE, "the destination is gone"), 0);
	rc = s->ops->notify->webhook_get(s, n->webhook_id, &w);
	if (rc == CC_ERR_NOTFOUND) {
		end_row(d, n, NOTIFY_GONE, "the endpoint was removed");
		return 0;
	}
	if (rc != CC_OK)
		return rc;
	if (w.disabled_ms != 0) {
		end_row(d, n, NOTIFY_FAILED, "the endpoint is disabled");
		return 0;
	}
	notify_body_ad(&ad, n);
	if (vault_unseal(d->vault, &ad, n->body, n->body_len, &pt, &ptlen) != CC_OK) {
		end_row(d, n, NOTIFY_FAILED, "the notification cannot be opened (its organisation erased?)");
		return 0;
	}
	if (webhook_secrets(d->vault, &w, now, cur, prev) != CC_OK) {
		crypto_wipe(pt, ptlen);
		free(pt);
		end_row(d, n, NOTIFY_FAILED, "the endpoint's secret cannot be opened (its URL was edited?)");
		return 0;
	}
	snprintf(ts, sizeof(ts), "%lld", (long long)(now / 1000));
	rc = webhook_sign(cur, n->msg_id, now / 1000, (const char *)pt, ptlen, sig, sizeof(sig));
	if (rc == CC_OK && prev[0] != '\0' &&
	    (rc = webhook_sign(prev, n->msg_id, now / 1000, (const char *)pt, ptlen, sig2, sizeof(sig2))) == CC_OK) {
		size_t l = strlen(sig);

		snprintf(sig + l, sizeof(sig) - l, " %s", sig2);
	}
	crypto_wipe(cur, sizeof(cur));
	crypto_wipe(prev, sizeof(prev));
	t = rc == CC_OK ? calloc(1, sizeof(*t)) : NULL;
	if (t == NULL) {
		crypto_wipe(pt, ptlen);
		free(pt);
		return rc == CC_OK ? CC_ERR_NOMEM : rc;
	}
	t->d = d;
	t->body = (char *)pt;
	t->body_len = ptlen;
	t->outbox_id = n->id;
	t->webhook_id = n->webhook_id;
	t->org_id = n->org_id;
	t->created_ms = n->created_ms;
	t->attempt = n->attempts + 1;
	t->started_ms = now;
	t->easy = curl_easy_init();
	rc = t->easy != NULL ? CC_OK : CC_ERR_NOMEM;
	if (rc == CC_OK)
		rc = add_header(t, "Content-Type", "application/json");
	if (rc == CC_OK)
		rc = add_header(t, "webhook-id", n->msg_id);
	if (rc == CC_OK)
		rc = add_header(t, "webhook-timestamp", ts);
	if (rc == CC_OK)
		rc = add_header(t, "webhook-signature", sig);
	if (rc == CC_OK)
		rc = add_header(t, "Expect", ""); /* no 100-continue round trip */
	if (rc == CC_OK) {
		CURL *e = t->easy;

		curl_easy_setopt(e, CURLOPT_URL, w.url);
		curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "https");
		curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 0L);
		curl_easy_setopt(e, CURLOPT_NOPROXY, "*"); /* the environment's proxy would dodge the address check */
		curl_easy_setopt(e, CURLOPT_POST, 1L);
		curl_easy_setopt(e, CURLOPT_POSTFIELDS, t->body);
		curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE, (long)ptlen);
		curl_easy_setopt(e, CURLOPT_HTTPHEADER, t->headers);
		curl_easy_setopt(e, CURLOPT_USERAGENT, "CoffeeCloud-Webhooks/" CC_VERSION);
		curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, 1L);
		curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, 2L);
		if (d->ca_file[0] != '\0')
			curl_easy_setopt(e, CURLOPT_CAINFO, d->ca_file);
		curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, (long)(d->o.timeout_s * 1000));
		curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, (long)(d->o.timeout_s * 1000));
		curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
		curl_easy_setopt(e, CURLOPT_OPENSOCKETFUNCTION, open_socket);
		curl_easy_setopt(e, CURLOPT_OPENSOCKETDATA, t);
		curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, discard_answer);
		curl_easy_setopt(e, CURLOPT_WRITEDATA, t);
		curl_easy_setopt(e, CURLOPT_ERRORBUFFER, t->error);
		curl_easy_setopt(e, CURLOPT_PRIVATE, t);
		rc = curl_multi_add_handle(d->multi, e) == CURLM_OK ? CC_OK : CC_ERR_NOMEM;
	}
	if (rc != CC_OK) {
		transfer_free(t);
		return rc;
	}
	d->inflight[d->ninflight++] = t;
	return 0;
}

static void on_poll(evutil_socket_t fd, short what, void *arg)
{
	struct notify_delivery *d = arg;
	struct store *s = vault_store(d->vault);

	(void)fd;
	(void)what;
	if (clock_now_ms() - d->purged_ms >= PURGE_EVERY_MS) {
		int64_t deleted = 0;

		d->purged_ms = clock_now_ms();
		if (s->ops->notify->outbox_purge(s, d->purged_ms - NOTIFY_LOG_KEEP_MS, &deleted) == CC_OK && deleted > 0)
			log_info(MOD, "deleted %lld notifications that ended more than 30 days ago", (long long)deleted);
	}
	if (d->ninflight >= INFLIGHT_MAX)
		return;
	/* More due rows than free slots: in-flight ones are skipped by id. */
	s->ops->notify->outbox_due(s, clock_now_ms(), 0, INFLIGHT_MAX + d->ninflight, start_one, d);
}

/* The relay's URL, sender and credentials: checked once, at start. */
static int smtp_setup(struct notify_delivery *d, const char *cred_file)
{
	const char *host;
	unsigned char *cred = NULL;
	size_t len = 0, size;
	char *colon;

	if (d->smtp_url[0] == '\0')
		return CC_OK;
	if (strncmp(d->smtp_url, "smtp://", 7) == 0)
		host = d->smtp_url + 7;
	else if (strncmp(d->smtp_url, "smtps://", 8) == 0)
		host = d->smtp_url + 8;
	else {
		log_error(MOD, "smtp_url: expected smtp://HOST[:PORT] or smtps://HOST[:PORT]");
		return CC_ERR_INVALID;
	}
	d->smtp_loopback = strncmp(host, "127.", 4) == 0 || strncmp(host, "[::1]", 5) == 0 ||
	                   strncmp(host, "localhost", 9) == 0;
	if (d->smtp_loopback && strncmp(host, "localhost", 9) == 0 && host[9] != '\0' && host[9] != ':' &&
	    host[9] != '/')
		d->smtp_loopback = 0; /* localhost.example.com is not this host */
	if (!mail_address_ok(d->smtp_from)) {
		log_error(MOD, "smtp_from: expected the sender's address (name@domain)");
		return CC_ERR_INVALID;
	}
	if (cred_file == NULL || cred_file[0] == '\0')
		return CC_OK;
	if (file_read_secret(cred_file, 1024, &cred, &len) != CC_OK) {
		log_error(MOD, "smtp_credentials_file: cannot be read, or is readable by others (it must be 0600)");
		return CC_ERR_PERM;
	}
	size = len;
	while (len > 0 && (cred[len - 1] == '\n' || cred[len - 1] == '\r'))
		len--;
	colon = memchr(cred, ':', len);
	if (colon == NULL || memchr(cred, '\n', len) != NULL) {
		log_error(MOD, "smtp_credentials_file: expected one line USER:PASSWORD");
		file_free_secret(cred, size);
		return CC_ERR_INVALID;
	}
	d->smtp_user = strndup((const char *)cred, (size_t)(colon - (char *)cred));
	d->smtp_password = strndup(colon + 1, len - (size_t)(colon + 1 - (char *)cred));
	file_free_secret(cred, size);
	return d->smtp_user != NULL && d->smtp_password != NULL ? CC_OK : CC_ERR_NOMEM;
}

int notify_delivery_start(struct event_base *base, struct vault *v, const struct notify_delivery_opts *o,
                          struct notify_delivery **out)
{
	struct timeval every = { (time_t)(o->poll_ms / 1000), (suseconds_t)((o->poll_ms % 1000) * 1000) };
	struct notify_delivery *d;

	zone_init(); /* before any resolver thread (common/zone.h) */
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
		return CC_ERR_NOMEM;
	d = calloc(1, sizeof(*d));
	if (d == NULL)
		return CC_ERR_NOMEM;
	d->base = base;
	d->vault = v;
	d->o = *o;
	snprintf(d->ca_file, sizeof(d->ca_file), "%s", o->ca_file ? o->ca_file : "");
	d->o.ca_file = d->ca_file;
	snprintf(d->smtp_url, sizeof(d->smtp_url), "%s", o->smtp_url ? o->smtp_url : "");
	snprintf(d->smtp_from, sizeof(d->smtp_from), "%s", o->smtp_from ? o->smtp_from : "");
	snprintf(d->smtp_ca, sizeof(d->smtp_ca), "%s", o->smtp_ca_file ? o->smtp_ca_file : "");
	if (smtp_setup(d, o->smtp_credentials_file) != CC_OK) {
		notify_delivery_free(d);
		return CC_ERR_INVALID;
	}
	d->multi = curl_multi_init();
	d->timer = evtimer_new(base, on_timeout, d);
	d->poll = event_new(base, -1, EV_PERSIST, on_poll, d);
	if (d->multi == NULL || d->timer == NULL || d->poll == NULL || event_add(d->poll, &every) != 0) {
		notify_delivery_free(d);
		return CC_ERR_NOMEM;
	}
	curl_multi_setopt(d->multi, CURLMOPT_SOCKETFUNCTION, socket_cb);
	curl_multi_setopt(d->multi, CURLMOPT_SOCKETDATA, d);
	curl_multi_setopt(d->multi, CURLMOPT_TIMERFUNCTION, timer_cb);
	curl_multi_setopt(d->multi, CURLMOPT_TIMERDATA, d);
	*out = d;
	return CC_OK;
}

void notify_delivery_free(struct notify_delivery *d)
{
	size_t i;

	if (d == NULL)
		return;
	for (i = 0; i < d->ninflight; i++) {
		curl_multi_remove_handle(d->multi, d->inflight[i]->easy);
		transfer_free(d->inflight[i]);
	}
	if (d->poll != NULL)
		event_free(d->poll);
	if (d->timer != NULL)
		event_free(d->timer);
	if (d->multi != NULL)
		curl_multi_cleanup(d->multi);
	if (d->smtp_user != NULL) {
		crypto_wipe(d->smtp_user, strlen(d->smtp_user));
		free(d->smtp_user);
	}
	if (d->smtp_password != NULL) {
		crypto_wipe(d->smtp_password, strlen(d->smtp_password));
		free(d->smtp_password);
	}
	free(d);
	curl_global_cleanup();
}
