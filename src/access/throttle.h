/*
 * throttle.h - how often a login may be tried, and from where.
 *
 * Failed sign-ins are counted per (login, source address) and per login.
 * A source that keeps failing for a login waits, longer each time, while the
 * same login from any other address signs in as usual: an attacker cannot
 * lock the real user out. Against guessing spread over many addresses, a
 * login with many recent failures is slowed down, not locked: sources that
 * have not signed in to it before get one try per growing gap; sources that
 * have (a table only a right password writes) pass. The policy is told in
 * README.md ("Signing in").
 *
 * Memory is bounded (limits.h CC_SIGNIN_*): each table evicts its oldest
 * entry. Entries hold a keyed hash of the login and the source (HMAC-SHA-256
 * under a random per-process key), never the text typed. Pure: no I/O, the
 * caller passes the time. Not thread-safe: the event loop owns it.
 */
#ifndef CC_ACCESS_THROTTLE_H
#define CC_ACCESS_THROTTLE_H

#include <stddef.h>
#include <stdint.h>

/* Failures of one (login, source) answered without waiting. */
#define THROTTLE_PAIR_FREE 5
/* Then the pair waits 30 s, doubling per failure, at most 15 min. */
#define THROTTLE_PAIR_WAIT_MS 30000
#define THROTTLE_PAIR_WAIT_MAX_MS (15 * 60 * 1000)
/* Failures of a login from anywhere before it is slowed down. */
#define THROTTLE_LOGIN_SLOW 20
/* Then unknown sources get one try per gap, counted from the last try or
 * failure: 2 s, doubling every 20 more failures, at most 60 s. */
#define THROTTLE_LOGIN_GAP_MS 2000
#define THROTTLE_LOGIN_GAP_MAX_MS 60000
/* Failures older than this are forgotten. */
#define THROTTLE_FORGET_MS (60 * 60 * 1000)
/* A pair that signed in is trusted this long. */
#define THROTTLE_TRUST_MS (30LL * 24 * 60 * 60 * 1000)

struct throttle;

int throttle_new(struct throttle **out);
void throttle_free(struct throttle *t);

/* May login be tried from source now? 0, or the milliseconds to wait. A 0
 * counts as a try for a slowed-down login. */
int64_t throttle_admit(struct throttle *t, const char *login, const char *source, int64_t now_ms);
/* A failed try: returns how long to hold the answer (0.1 s, doubling per
 * failure of the pair, at most 5 s), so a guesser is slow even before it waits. */
int64_t throttle_failed(struct throttle *t, const char *login, const char *source, int64_t now_ms);
/* A successful sign-in: the pair's failures go, the pair is trusted. */
void throttle_succeeded(struct throttle *t, const char *login, const char *source, int64_t now_ms);

/* 8 bytes of the keyed hash of text, as 16 hex digits into out (17 bytes):
 * what logs may say about input that was refused. */
void throttle_tag(const struct throttle *t, const char *text, char out[17]);

/* Entries held (pairs, logins, trusted): for tests. */
void throttle_sizes(const struct throttle *t, size_t *pairs, size_t *logins, size_t *trusted);

#endif
