/* Sign-in throttling: a source that keeps failing waits while other sources
 * do not; a login hammered from many sources is slowed, never locked, for
 * sources that signed in before; memory stays bounded under spraying. */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "access/throttle.h"
#include "check.h"
#include "common/err.h"
#include "common/limits.h"

#define T0 1000000000000LL

static void test_pair_waits_other_sources_do_not(void)
{
	struct throttle *t = NULL;
	int64_t hold = 0;
	int i;

	CHECK_EQ(throttle_new(&t), CC_OK);
	for (i = 0; i < THROTTLE_PAIR_FREE; i++) {
		CHECK_EQ(throttle_admit(t, "admin", "10.0.0.2", T0), 0);
		hold = throttle_failed(t, "admin", "10.0.0.2", T0);
	}
	CHECK(hold >= 1000 && hold <= 5000);
	/* The attacker's address waits 30 s ... */
	CHECK_EQ(throttle_admit(t, "admin", "10.0.0.2", T0), THROTTLE_PAIR_WAIT_MS);
	/* ... the real user's does not, and signs in. */
	CHECK_EQ(throttle_admit(t, "admin", "10.0.0.1", T0), 0);
	throttle_succeeded(t, "admin", "10.0.0.1", T0);
	/* Each further failure doubles the wait, up to 15 minutes. */
	CHECK_EQ(throttle_admit(t, "admin", "10.0.0.2", T0 + THROTTLE_PAIR_WAIT_MS), 0);
	throttle_failed(t, "admin", "10.0.0.2", T0 + THROTTLE_PAIR_WAIT_MS);
	CHECK_EQ(throttle_admit(t, "admin", "10.0.0.2", T0 + THROTTLE_PAIR_WAIT_MS), 2 * THROTTLE_PAIR_WAIT_MS);
	for (i = 0; i < 30; i++)
		throttle_failed(t, "admin", "10.0.0.2", T0);
	CHECK_EQ(throttle_admit(t, "admin", "10.0.0.2", T0), THROTTLE_PAIR_WAIT_MAX_MS);
	throttle_free(t);
}

static void test_login_slowed_known_sources_pass(void)
{
	struct throttle *t = NULL;
	char src[32];
	int i;

	CHECK_EQ(throttle_new(&t), CC_OK);
	throttle_succeeded(t, "boss", "192.0.2.1", T0);
	/* Guessing spread over many addresses, a few tries each. */
	for (i = 0; i < THROTTLE_LOGIN_SLOW; i++) {
		snprintf(src, sizeof(src), "198.51.100.%d", i);
		CHECK_EQ(throttle_admit(t, "boss", src, T0), 0);
		throttle_failed(t, "boss", src, T0);
	}
	/* A new address gets one try per gap, counted from the last failure ... */
	CHECK_EQ(throttle_admit(t, "boss", "203.0.113.9", T0), THROTTLE_LOGIN_GAP_MS);
	CHECK_EQ(throttle_admit(t, "boss", "203.0.113.9", T0 + THROTTLE_LOGIN_GAP_MS), 0);
	CHECK_EQ(throttle_admit(t, "boss", "203.0.113.10", T0 + THROTTLE_LOGIN_GAP_MS), THROTTLE_LOGIN_GAP_MS);
	throttle_failed(t, "boss", "203.0.113.9", T0 + THROTTLE_LOGIN_GAP_MS + 500);
	CHECK_EQ(throttle_admit(t, "boss", "203.0.113.10", T0 + 2 * THROTTLE_LOGIN_GAP_MS), 500);
	CHECK_EQ(throttle_admit(t, "boss", "203.0.113.10", T0 + 2 * THROTTLE_LOGIN_GAP_MS + 500), 0);
	/* ... the address the user signed in from before is not slowed. */
	CHECK_EQ(throttle_admit(t, "boss", "192.0.2.1", T0), 0);
	CHECK_EQ(throttle_admit(t, "boss", "192.0.2.1", T0), 0);
	/* Other logins are not affected. */
	CHECK_EQ(throttle_admit(t, "other", "203.0.113.10", T0), 0);
	/* An hour without failures and the login is no longer slowed. */
	CHECK_EQ(throttle_admit(t, "boss", "203.0.113.11", T0 + THROTTLE_FORGET_MS + 10 * THROTTLE_LOGIN_GAP_MS), 0);
	CHECK_EQ(throttle_admit(t, "boss", "203.0.113.12", T0 + THROTTLE_FORGET_MS + 10 * THROTTLE_LOGIN_GAP_MS), 0);
	throttle_free(t);
}

static void test_memory_is_bounded(void)
{
	struct throttle *t = NULL;
	size_t pairs, logins, trusted;
	char login[32];
	int i;

	CHECK_EQ(throttle_new(&t), CC_OK);
	throttle_succeeded(t, "keeper", "192.0.2.1", T0);
	for (i = 0; i < CC_SIGNIN_PAIRS_MAX * 3; i++) {
		snprintf(login, sizeof(login), "spray-%d", i);
		throttle_failed(t, login, "198.51.100.1", T0 + i);
	}
	throttle_sizes(t, &pairs, &logins, &trusted);
	CHECK_EQ(pairs, CC_SIGNIN_PAIRS_MAX);
	CHECK_EQ(logins, CC_SIGNIN_LOGINS_MAX);
	/* Failures cannot evict the pairs that signed in. */
	CHECK_EQ(trusted, 1);
	/* The newest entries are the ones kept. */
	for (i = 0; i < THROTTLE_PAIR_FREE; i++)
		throttle_failed(t, "spray-last", "198.51.100.1", T0 + CC_SIGNIN_PAIRS_MAX * 3 + i);
	CHECK(throttle_admit(t, "spray-last", "198.51.100.1", T0 + CC_SIGNIN_PAIRS_MAX * 3 + 10) > 0);
	throttle_free(t);
}

static void test_tag(void)
{
	struct throttle *t = NULL, *u = NULL;
	char a[17], b[17], c[17];

	CHECK_EQ(throttle_new(&t), CC_OK);
	CHECK_EQ(throttle_new(&u), CC_OK);
	throttle_tag(t, "4111111111111111", a);
	throttle_tag(t, "4111111111111111", b);
	throttle_tag(u, "4111111111111111", c);
	CHECK_EQ(strlen(a), 16);
	CHECK_STR(a, b);
	/* A key per process: the tag of one run says nothing in another. */
	CHECK(strcmp(a, c) != 0);
	CHECK(strstr(a, "4111") == NULL || strcmp(a, c) != 0);
	throttle_free(t);
	throttle_free(u);
}

int main(void)
{
	RUN(test_pair_waits_other_sources_do_not);
	RUN(test_login_slowed_known_sources_pass);
	RUN(test_memory_is_bounded);
	RUN(test_tag);
	return check_summary();
}
