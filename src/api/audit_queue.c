#define _GNU_SOURCE /* pthread_setname_np: the thread's name in top -H and perf */
#include "api/audit_queue.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "common/log.h"
#include "vault/vault.h"

#define MOD "audit"
/* Records in one transaction at most: a burst is cut into commits of this. */
#define BATCH_MAX 512

struct entry {
	struct entry *next;
	struct http_server *srv;
	uint64_t req_id;
	int ok;
	struct audit_event e; /* its strings live in text */
	char *text;
};

struct audit_queue {
	struct vault *vault; /* the thread's own */
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t wake;
	struct entry *queued, **queued_tail, *done, **done_tail;
	int stopping;
	struct event *done_ev;
};

static void entry_free(struct entry *x)
{
	free(x->text);
	free(x);
}

/* Appends a batch in one transaction; one that fails is tried record by
 * record, so that a bad record fails alone. */
static void append_batch(struct audit_queue *q, struct entry *batch)
{
	struct store *s = vault_store(q->vault);
	struct entry *x;
	int rc = s->ops->begin(s);

	for (x = batch; rc == CC_OK && x != NULL; x = x->next)
		rc = audit_append(q->vault, &x->e);
	if (rc == CC_OK)
		rc = s->ops->commit(s);
	else
		s->ops->rollback(s);
	if (rc == CC_OK) {
		for (x = batch; x != NULL; x = x->next)
			x->ok = 1;
		return;
	}
	for (x = batch; x != NULL; x = x->next)
		x->ok = audit_append(q->vault, &x->e) == CC_OK;
}

static void *run(void *arg)
{
	struct audit_queue *q = arg;

	pthread_setname_np(pthread_self(), "cc-audit");
	pthread_mutex_lock(&q->lock);
	for (;;) {
		struct entry *batch, *x, **tail;
		size_t n = 0;

		while (q->queued == NULL && !q->stopping)
			pthread_cond_wait(&q->wake, &q->lock);
		if (q->queued == NULL)
			break;
		batch = q->queued;
		for (tail = &batch; *tail != NULL && n < BATCH_MAX; tail = &(*tail)->next)
			n++;
		q->queued = *tail;
		if (q->queued == NULL)
			q->queued_tail = &q->queued;
		*tail = NULL;
		pthread_mutex_unlock(&q->lock);
		append_batch(q, batch);
		pthread_mutex_lock(&q->lock);
		for (x = batch; x != NULL; x = x->next)
			tail = &x->next;
		*q->done_tail = batch;
		q->done_tail = tail;
		event_active(q->done_ev, 0, 0);
	}
	pthread_mutex_unlock(&q->lock);
	return NULL;
}

/* On the loop: each appended (or failed) record releases its request. */
static void done_cb(evutil_socket_t fd, short what, void *arg)
{
	struct audit_queue *q = arg;
	struct entry *list, *x;

	(void)fd;
	(void)what;
	pthread_mutex_lock(&q->lock);
	list = q->done;
	q->done = NULL;
	q->done_tail = &q->done;
	pthread_mutex_unlock(&q->lock);
	while ((x = list) != NULL) {
		list = x->next;
		if (!x->ok)
			log_error(MOD, "the access of %s could not be recorded: refused", x->e.actor);
		http_req_release(x->srv, x->req_id, x->ok);
		entry_free(x);
	}
}

int audit_queue_start(struct event_base *base, const char *data_dir, const char *master_key_file,
                      struct audit_queue **out)
{
	struct audit_queue *q = calloc(1, sizeof(*q));
	int rc;

	if (q == NULL)
		return CC_ERR_NOMEM;
	rc = vault_open(data_dir, master_key_file, &q->vault);
	if (rc != CC_OK) {
		free(q);
		return rc;
	}
	q->queued_tail = &q->queued;
	q->done_tail = &q->done;
	pthread_mutex_init(&q->lock, NULL);
	pthread_cond_init(&q->wake, NULL);
	q->done_ev = event_new(base, -1, 0, done_cb, q);
	if (q->done_ev == NULL || pthread_create(&q->thread, NULL, run, q) != 0) {
		if (q->done_ev != NULL)
			event_free(q->done_ev);
		pthread_mutex_destroy(&q->lock);
		pthread_cond_destroy(&q->wake);
		vault_close(q->vault);
		free(q);
		return CC_ERR_NOMEM;
	}
	*out = q;
	return CC_OK;
}

void audit_queue_stop(struct audit_queue *q)
{
	struct entry *x;

	if (q == NULL)
		return;
	pthread_mutex_lock(&q->lock);
	q->stopping = 1;
	pthread_cond_signal(&q->wake);
	pthread_mutex_unlock(&q->lock);
	pthread_join(q->thread, NULL);
	/* The loop has stopped and the listeners may be gone: the held replies
	 * are not sent (their records are appended). */
	while ((x = q->done) != NULL) {
		q->done = x->next;
		entry_free(x);
	}
	while ((x = q->queued) != NULL) {
		q->queued = x->next;
		entry_free(x);
	}
	event_free(q->done_ev);
	pthread_mutex_destroy(&q->lock);
	pthread_cond_destroy(&q->wake);
	vault_close(q->vault);
	free(q);
}

/* The event's strings, copied into one block the entry owns. */
static int copy_event(struct entry *x, const struct audit_event *e)
{
	const char *src[7] = { e->actor, e->source, e->action, e->machines, e->data_class, e->purpose, e->outcome };
	const char **dst[7] = { &x->e.actor, &x->e.source, &x->e.action, &x->e.machines, &x->e.data_class,
		                &x->e.purpose, &x->e.outcome };
	size_t len = 0, at = 0;
	int i;

	for (i = 0; i < 7; i++)
		len += (src[i] != NULL ? strlen(src[i]) : 0) + 1;
	x->text = malloc(len);
	if (x->text == NULL)
		return CC_ERR_NOMEM;
	x->e = *e;
	for (i = 0; i < 7; i++) {
		size_t n = src[i] != NULL ? strlen(src[i]) : 0;

		if (src[i] == NULL) {
			*dst[i] = NULL;
			continue;
		}
		memcpy(x->text + at, src[i], n + 1);
		*dst[i] = x->text + at;
		at += n + 1;
	}
	return CC_OK;
}

int audit_queue_add(struct audit_queue *q, struct http_req *r, const struct audit_event *e)
{
	struct entry *x = calloc(1, sizeof(*x));

	if (x == NULL || copy_event(x, e) != CC_OK) {
		free(x);
		return CC_ERR_NOMEM;
	}
	x->srv = http_req_server(r);
	x->req_id = http_req_hold(r);
	pthread_mutex_lock(&q->lock);
	*q->queued_tail = x;
	q->queued_tail = &x->next;
	pthread_cond_signal(&q->wake);
	pthread_mutex_unlock(&q->lock);
	return CC_OK;
}
