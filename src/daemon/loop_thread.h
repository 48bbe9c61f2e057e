/*
 * loop_thread.h - an event loop that runs on a thread of its own.
 *
 * The daemon runs two loops: the machines' (the main thread: MQTT sessions,
 * their acknowledgements) and the people's (HTTPS and the API), so that no
 * person's request, however slow, holds back a machine's acknowledgement
 * (docs/ARCHITECTURE.md, "Threads"). Everything attached to the base before
 * loop_thread_start belongs to the thread from then on: other threads reach
 * it only through loop_thread_call (or event_active, which libevent makes
 * thread-safe once evthread_use_pthreads ran before the base was made).
 */
#ifndef CC_DAEMON_LOOP_THREAD_H
#define CC_DAEMON_LOOP_THREAD_H

struct event_base;
struct loop_thread;

/* Runs base on a new thread named name (top -H, perf), until stopped. */
int loop_thread_start(struct event_base *base, const char *name, struct loop_thread **out);

/* Runs fn(arg) on the thread, between two of its callbacks, and returns
 * when it has run. Not from the thread itself. */
int loop_thread_call(struct loop_thread *t, void (*fn)(void *arg), void *arg);

/* Lets the callbacks running finish, stops the loop, joins the thread and
 * frees it (not the base). NULL is a no-op. */
void loop_thread_stop(struct loop_thread *t);

#endif
