/*
 * sender.h - the sender thread: the body of a large sized reply (an artifact
 * to a machine) written from its file straight into the TLS connection, off
 * the HTTPS server's loop (the daemon's people's loop), so that loop never
 * spends its time on it, and its bytes never pass through an evbuffer. The
 * thread runs at nice 10, below the loops, whose work for machines and
 * people comes first when the cores are busy.
 *
 * While the thread has a connection, the loop does not touch it (its
 * bufferevent is disabled): the thread alone calls SSL_write on it, 64 KiB
 * of the file at a time (pread into the send's own buffer: nothing more is
 * held; TLS records of 16 KiB). When the body is out, or the connection
 * failed or took nothing for the listener's timeout_s, the connection goes
 * back to the loop and done(arg, ok) runs there: ok, the reply is complete
 * and the caller ends it (http_stream_end); not ok, the socket was shut
 * down and the request's http_req_later gone() follows, as when a client
 * leaves.
 *
 * Kernel TLS (SSL_sendfile) would let the kernel send the pages itself; the
 * kernels this runs on do not always offer it (no "tls" TCP ULP), so the
 * thread is the userspace path, and the only one. docs/UPDATES.md.
 */
#ifndef CC_HTTP_SENDER_H
#define CC_HTTP_SENDER_H

#include <stdint.h>

#include <event2/event.h>

#include "http/server.h"

struct http_sender;
struct http_send;

/* Starts the thread; its completions run on base's loop. */
int http_sender_new(struct event_base *base, struct http_sender **out);
/* Stops the thread; every send still held is cancelled first (their done
 * never runs). */
void http_sender_free(struct http_sender *s);

/* Hands the rest of r's sized reply (http_stream_begin_sized, everything
 * so far written out: call it from a http_stream_chunk sent callback) to
 * the thread: len bytes of fd from off (fd stays the caller's). *out names
 * the send for http_send_cancel until done runs. */
int http_send_file(struct http_sender *s, struct http_req *r, int fd, uint64_t off, uint64_t len,
                   void (*done)(void *arg, int ok), void *arg, struct http_send **out);

/* Takes the connection back before the end (the request is going away):
 * when it returns, the thread no longer touches it and done never runs. */
void http_send_cancel(struct http_send *j);

#endif
