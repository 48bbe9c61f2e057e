#define _GNU_SOURCE /* pthread_setname_np: the thread's name in top -H and perf */
/* loop_thread.c - an event loop on a thread of its own (loop_thread.h). */
#include "daemon/loop_thread.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#include "common/err.h"

struct loop_thread {
	struct event_base *base;
	pthread_t thread;
	char name[16]; /* the kernel's limit for a thread's name, with its NUL */
};

/* One call: made on the caller's stack, done under its lock. */
struct call {
	void (*fn)(void *arg);
	void *arg;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	int done;
};

static void *run(void *arg)
{
	struct loop_thread *t = arg;

	pthread_setname_np(pthread_self(), t->name);
	event_base_loop(t->base, EVLOOP_NO_EXIT_ON_EMPTY);
	return NULL;
}

int loop_thread_start(struct event_base *base, const char *name, struct loop_thread **out)
{
	struct loop_thread *t = calloc(1, sizeof(*t));

	if (t == NULL)
		return CC_ERR_NOMEM;
	t->base = base;
	strncpy(t->name, name, sizeof(t->name) - 1);
	if (pthread_create(&t->thread, NULL, run, t) != 0) {
		free(t);
		return CC_ERR_NOMEM;
	}
	*out = t;
	return CC_OK;
}

static void call_cb(evutil_socket_t fd, short what, void *arg)
{
	struct call *c = arg;

	(void)fd;
	(void)what;
	c->fn(c->arg);
	pthread_mutex_lock(&c->lock);
	c->done = 1;
	pthread_cond_signal(&c->cond);
	pthread_mutex_unlock(&c->lock);
}

int loop_thread_call(struct loop_thread *t, void (*fn)(void *arg), void *arg)
{
	struct call c = { fn, arg, PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0 };
	struct event *ev = event_new(t->base, -1, 0, call_cb, &c);

	if (ev == NULL)
		return CC_ERR_NOMEM;
	event_active(ev, 0, 0);
	pthread_mutex_lock(&c.lock);
	while (!c.done)
		pthread_cond_wait(&c.cond, &c.lock);
	pthread_mutex_unlock(&c.lock);
	event_free(ev);
	pthread_mutex_destroy(&c.lock);
	pthread_cond_destroy(&c.cond);
	return CC_OK;
}

void loop_thread_stop(struct loop_thread *t)
{
	if (t == NULL)
		return;
	event_base_loopexit(t->base, NULL);
	pthread_join(t->thread, NULL);
	free(t);
}
