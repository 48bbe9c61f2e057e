/* sender.c - the sender thread (sender.h). */
#define _GNU_SOURCE /* pthread_setname_np: the thread's name in top -H and perf */
#include "http/sender.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/http.h>
#include <openssl/err.h>
#include <openssl/ssl.h>

#include "common/err.h"
#include "common/log.h"

#define MOD "http"
#define SEND_BUF (64 * 1024)
/* The sender thread's niceness, relative to the loop's 0. */
#define SEND_NICE 10
/* What one connection may send before the others get their turn. */
#define SEND_TURN (256 * 1024)

enum send_state { SEND_QUEUED, SEND_ACTIVE, SEND_DONE, SEND_RELEASED };

struct http_send {
	struct http_sender *s;
	struct bufferevent *bev;
	short enabled; /* the bufferevent's events before the thread took it */
	SSL *ssl;
	int sock, file;
	uint64_t off, left;
	size_t have, at; /* bytes of buf read, and written (a retried SSL_write is given the same ones) */
	long mode;       /* the SSL's modes before the thread took it */
	int ok, cancel;
	int stall_s; /* the listener's timeout: a client that takes nothing for so long is dropped */
	enum send_state state;
	double progress_at;
	void (*done)(void *arg, int ok);
	void *arg;
	struct http_send *next; /* the list its state puts it in */
	unsigned char buf[SEND_BUF];
};

struct http_sender {
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t released;
	int epfd, wake;
	struct event *done_ev;
	/* (lock) */
	struct http_send *queued, *done;
	int stopping;
	/* the thread's own */
	struct http_send *active;
};

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void unlink_from(struct http_send **list, struct http_send *j)
{
	for (; *list != NULL; list = &(*list)->next)
		if (*list == j) {
			*list = j->next;
			return;
		}
}

static void poke(int fd)
{
	uint64_t one = 1;
	ssize_t n = write(fd, &one, sizeof(one));

	(void)n; /* a full counter wakes the thread all the same */
}

/* Writes j's bytes until the socket is full, its turn is over or it ends:
 * 1 while it goes on, 0 when it ended (j->ok says how). */
static int pump(struct http_send *j)
{
	size_t turn = 0;

	while (turn < SEND_TURN) {
		int n, err;

		if (j->have == 0) {
			size_t want = j->left < SEND_BUF ? (size_t)j->left : SEND_BUF;
			ssize_t got;

			do
				got = pread(j->file, j->buf, want, (off_t)j->off);
			while (got < 0 && errno == EINTR);
			if (got <= 0) {
				log_error(MOD, "an artifact could not be read while being sent: the download stops short");
				return 0;
			}
			j->have = (size_t)got;
		}
		ERR_clear_error();
		n = SSL_write(j->ssl, j->buf + j->at, (int)(j->have - j->at));
		if (n > 0) {
			j->off += (uint64_t)n;
			j->left -= (uint64_t)n;
			j->at += (size_t)n;
			if (j->at == j->have)
				j->have = j->at = 0;
			turn += (size_t)n;
			j->progress_at = now_s();
			if (j->left == 0) {
				j->ok = 1;
				return 0;
			}
			continue;
		}
		err = SSL_get_error(j->ssl, n);
		ERR_clear_error();
		return err == SSL_ERROR_WANT_WRITE ? 1 : 0;
	}
	return 1;
}

/* Under the lock: j leaves the thread (to the loop, or to its canceller). */
static void retire(struct http_sender *s, struct http_send *j)
{
	epoll_ctl(s->epfd, EPOLL_CTL_DEL, j->sock, NULL);
	unlink_from(&s->active, j);
	if (j->cancel) {
		j->state = SEND_RELEASED;
		pthread_cond_broadcast(&s->released);
		return;
	}
	if (!j->ok)
		shutdown(j->sock, SHUT_RDWR); /* the loop's bufferevent learns it as an end of file */
	j->state = SEND_DONE;
	j->next = s->done;
	s->done = j;
	event_active(s->done_ev, EV_READ, 1);
}

static void *sender_main(void *arg)
{
	struct http_sender *s = arg;
	struct epoll_event evs[64];

	/* Below the event loop: when the cores are busy, a machine's message
	 * is acknowledged first and the downloads take what is left (they are
	 * resumable and have no deadline; an acknowledgement has one). */
	if (setpriority(PRIO_PROCESS, (id_t)gettid(), SEND_NICE) != 0)
		log_info(MOD, "the sender thread keeps the daemon's priority: %s", strerror(errno));
	for (;;) {
		struct http_send *j, *nx;
		double now;
		int n, i;

		pthread_mutex_lock(&s->lock);
		while ((j = s->queued) != NULL) {
			struct epoll_event ev = { .events = EPOLLOUT, .data.ptr = j };

			s->queued = j->next;
			j->state = SEND_ACTIVE;
			j->next = s->active;
			s->active = j;
			j->progress_at = now_s();
			epoll_ctl(s->epfd, EPOLL_CTL_ADD, j->sock, &ev);
		}
		if (s->stopping) {
			/* http_sender_free takes what is left. */
			pthread_mutex_unlock(&s->lock);
			return NULL;
		}
		now = now_s();
		for (j = s->active; j != NULL; j = nx) {
			nx = j->next;
			if (j->cancel) {
				retire(s, j);
			} else if (now - j->progress_at > j->stall_s) {
				log_info(MOD, "a download took nothing for %d s: dropped (resumable with Range)", j->stall_s);
				retire(s, j);
			}
		}
		pthread_mutex_unlock(&s->lock);

		n = epoll_wait(s->epfd, evs, 64, 1000);
		for (i = 0; i < n; i++) {
			if (evs[i].data.ptr == NULL) {
				uint64_t v;
				ssize_t r = read(s->wake, &v, sizeof(v));
				(void)r;
				continue;
			}
			j = evs[i].data.ptr;
			/* A cancel waits for the locked pass above: j stays valid here. */
			if (!(evs[i].events & (EPOLLERR | EPOLLHUP)) && pump(j))
				continue;
			pthread_mutex_lock(&s->lock);
			retire(s, j);
			pthread_mutex_unlock(&s->lock);
		}
	}
}

/* On the loop: the sends the thread is done with. */
static void sends_done(evutil_socket_t fd, short what, void *arg)
{
	struct http_sender *s = arg;
	struct http_send *list, *j;

	(void)fd;
	(void)what;
	pthread_mutex_lock(&s->lock);
	list = s->done;
	s->done = NULL;
	pthread_mutex_unlock(&s->lock);
	while ((j = list) != NULL) {
		struct bufferevent *bev = j->bev;
		short enabled = j->enabled;
		int ok = j->ok;
		void (*done)(void *arg, int ok) = j->done;
		void *done_arg = j->arg;

		list = j->next;
		SSL_set_mode(j->ssl, j->mode);
		SSL_clear_mode(j->ssl, SSL_MODE_ENABLE_PARTIAL_WRITE & ~j->mode);
		free(j);
		if (ok) {
			bufferevent_enable(bev, enabled);
			done(done_arg, 1); /* may end the reply, and free the connection with it */
		} else {
			/* Reading again meets the shut-down socket's end: the request
			 * goes the way of a client that left. */
			done(done_arg, 0);
			bufferevent_enable(bev, (short)(enabled | EV_READ));
		}
	}
}

int http_sender_new(struct event_base *base, struct http_sender **out)
{
	struct http_sender *s = calloc(1, sizeof(*s));
	struct epoll_event ev = { .events = EPOLLIN, .data.ptr = NULL };

	*out = NULL;
	if (s == NULL)
		return CC_ERR_NOMEM;
	s->epfd = epoll_create1(EPOLL_CLOEXEC);
	s->wake = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	s->done_ev = event_new(base, -1, 0, sends_done, s);
	pthread_mutex_init(&s->lock, NULL);
	pthread_cond_init(&s->released, NULL);
	if (s->epfd < 0 || s->wake < 0 || s->done_ev == NULL || epoll_ctl(s->epfd, EPOLL_CTL_ADD, s->wake, &ev) != 0 ||
	    pthread_create(&s->thread, NULL, sender_main, s) != 0) {
		if (s->epfd >= 0)
			close(s->epfd);
		if (s->wake >= 0)
			close(s->wake);
		if (s->done_ev != NULL)
			event_free(s->done_ev);
		pthread_mutex_destroy(&s->lock);
		pthread_cond_destroy(&s->released);
		free(s);
		return CC_ERR_IO;
	}
	pthread_setname_np(s->thread, "cc-sender");
	*out = s;
	return CC_OK;
}

void http_sender_free(struct http_sender *s)
{
	struct http_send *j;

	if (s == NULL)
		return;
	pthread_mutex_lock(&s->lock);
	s->stopping = 1;
	pthread_mutex_unlock(&s->lock);
	poke(s->wake);
	pthread_join(s->thread, NULL);
	while ((j = s->queued) != NULL) {
		s->queued = j->next;
		free(j);
	}
	while ((j = s->done) != NULL) {
		s->done = j->next;
		free(j);
	}
	while ((j = s->active) != NULL) {
		s->active = j->next;
		free(j);
	}
	event_free(s->done_ev);
	close(s->epfd);
	close(s->wake);
	pthread_mutex_destroy(&s->lock);
	pthread_cond_destroy(&s->released);
	free(s);
}

int http_send_file(struct http_sender *s, struct http_req *r, int fd, uint64_t off, uint64_t len,
                   void (*done)(void *arg, int ok), void *arg, struct http_send **out)
{
	struct evhttp_connection *conn = evhttp_request_get_connection(http_evrequest(r));
	struct bufferevent *bev = conn != NULL ? evhttp_connection_get_bufferevent(conn) : NULL;
	SSL *ssl = http_ssl(r);
	struct http_send *j;

	*out = NULL;
	/* Only a TLS connection with nothing left in its output: the thread's
	 * bytes must come right after the loop's. */
	if (bev == NULL || ssl == NULL || bufferevent_getfd(bev) < 0 ||
	    evbuffer_get_length(bufferevent_get_output(bev)) != 0)
		return CC_ERR_INVALID;
	j = calloc(1, sizeof(*j));
	if (j == NULL)
		return CC_ERR_NOMEM;
	j->s = s;
	j->bev = bev;
	j->ssl = ssl;
	j->sock = bufferevent_getfd(bev);
	j->file = fd;
	j->off = off;
	j->left = len;
	j->done = done;
	j->arg = arg;
	j->stall_s = http_timeout_s(r) > 0 ? http_timeout_s(r) : 30;
	j->enabled = bufferevent_get_enabled(bev);
	/* From here on the loop does not read or write the connection. */
	bufferevent_disable(bev, EV_READ | EV_WRITE);
	/* Each record written counts as progress, for the stall time. */
	j->mode = SSL_get_mode(ssl);
	SSL_set_mode(ssl, SSL_MODE_ENABLE_PARTIAL_WRITE);
	pthread_mutex_lock(&s->lock);
	j->state = SEND_QUEUED;
	j->next = s->queued;
	s->queued = j;
	pthread_mutex_unlock(&s->lock);
	poke(s->wake);
	*out = j;
	return CC_OK;
}

void http_send_cancel(struct http_send *j)
{
	struct http_sender *s;

	if (j == NULL)
		return;
	s = j->s;
	pthread_mutex_lock(&s->lock);
	switch (j->state) {
	case SEND_QUEUED:
		unlink_from(&s->queued, j);
		break;
	case SEND_DONE:
		unlink_from(&s->done, j);
		break;
	case SEND_ACTIVE:
		j->cancel = 1;
		poke(s->wake);
		while (j->state != SEND_RELEASED)
			pthread_cond_wait(&s->released, &s->lock);
		break;
	case SEND_RELEASED:
		break;
	}
	pthread_mutex_unlock(&s->lock);
	free(j);
}
