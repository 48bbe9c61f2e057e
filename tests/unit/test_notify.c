/* test_notify.c - the pure parts of notifications: the Standard Webhooks
 * signature (the specification's own test vector), the address rule that
 * keeps webhooks out of the operator's network, the URL check, e-mail
 * composition and quiet hours. */
#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "common/err.h"
#include "notify/mail.h"
#include "notify/prefs.h"
#include "notify/webhook.h"

static void test_signature_vector(void)
{
	/* From the Standard Webhooks reference implementations' tests. */
	const char *body = "{\"test\": 2432232314}";
	char sig[WEBHOOK_SIGNATURE_MAX];

	CHECK_EQ(webhook_sign("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330,
	                      body, strlen(body), sig, sizeof(sig)), CC_OK);
	CHECK_STR(sig, "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
	CHECK(webhook_sign("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "m", 1, "x", 1, sig, sizeof(sig)) != CC_OK);
	CHECK(webhook_sign("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "m", 1, "x", 1, sig, 10) != CC_OK);
}

static int v4(const char *text)
{
	struct sockaddr_in a;

	memset(&a, 0, sizeof(a));
	a.sin_family = AF_INET;
	CHECK(inet_pton(AF_INET, text, &a.sin_addr) == 1);
	return webhook_addr_public((struct sockaddr *)&a);
}

static int v6(const char *text)
{
	struct sockaddr_in6 a;

	memset(&a, 0, sizeof(a));
	a.sin6_family = AF_INET6;
	CHECK(inet_pton(AF_INET6, text, &a.sin6_addr) == 1);
	return webhook_addr_public((struct sockaddr *)&a);
}

static void test_addresses(void)
{
	static const char *const internal4[] = { "127.0.0.1", "127.255.1.2", "10.0.0.1", "172.16.0.1", "172.31.255.255",
		                                 "192.168.1.1", "169.254.169.254", "0.0.0.0", "100.64.0.1",
		                                 "224.0.0.1", "255.255.255.255", "192.0.2.5", "198.18.0.1" };
	static const char *const internal6[] = { "::1", "::", "fe80::1", "fc00::1", "fd12:3456::1", "ff02::1",
		                                 "::ffff:127.0.0.1", "::ffff:10.1.2.3", "::ffff:169.254.169.254",
		                                 "2001:db8::1", "64:ff9b::a00:1", "2002:a00:1::1", "fec0::1" };
	size_t i;

	for (i = 0; i < sizeof(internal4) / sizeof(internal4[0]); i++)
		CHECK(!v4(internal4[i]));
	for (i = 0; i < sizeof(internal6) / sizeof(internal6[0]); i++)
		CHECK(!v6(internal6[i]));
	CHECK(v4("93.184.215.14"));
	CHECK(v4("172.32.0.1"));
	CHECK(v4("8.8.8.8"));
	CHECK(v6("2a00:1450:4001:80b::200e"));
	CHECK(v6("::ffff:8.8.8.8"));
}

static void test_url_check(void)
{
	char why[200];

	CHECK_EQ(webhook_url_check("https://93.184.215.14/x", 0, 0, why, sizeof(why)), CC_OK);
	CHECK_EQ(webhook_url_check("https://hooks.example.com:8443/a?b=c", 0, 0, why, sizeof(why)), CC_OK);
	CHECK_EQ(webhook_url_check("https://[2a00:1450:4001:80b::200e]:443/", 0, 0, why, sizeof(why)), CC_OK);
	CHECK_EQ(webhook_url_check("https://127.0.0.1:1/x", 1, 0, why, sizeof(why)), CC_OK);
	CHECK_EQ(webhook_url_check("https://127.0.0.1/x", 0, 0, why, sizeof(why)), CC_ERR_PERM);
	CHECK_EQ(webhook_url_check("https://[::ffff:7f00:1]/x", 0, 0, why, sizeof(why)), CC_ERR_PERM);
	CHECK_EQ(webhook_url_check("https://0x7f.1/x", 0, 1, why, sizeof(why)) != CC_OK, 1);
	CHECK_EQ(webhook_url_check("http://hooks.example.com/", 1, 0, why, sizeof(why)), CC_ERR_INVALID);
	CHECK_EQ(webhook_url_check("https://a@hooks.example.com/", 1, 0, why, sizeof(why)), CC_ERR_INVALID);
	CHECK_EQ(webhook_url_check("https://hooks.example.com:0/", 1, 0, why, sizeof(why)), CC_ERR_INVALID);
	CHECK_EQ(webhook_url_check("https://hooks.example.com:99999/", 1, 0, why, sizeof(why)), CC_ERR_INVALID);
	CHECK_EQ(webhook_url_check("https:///x", 1, 0, why, sizeof(why)), CC_ERR_INVALID);
	CHECK_EQ(webhook_url_check("https://[::1/x", 1, 0, why, sizeof(why)), CC_ERR_INVALID);
	CHECK_EQ(webhook_url_check("https://host\r\nX: y/", 1, 0, why, sizeof(why)), CC_ERR_INVALID);
}

static void test_mail(void)
{
	const char *body = "{\"type\":\"alert.opened\",\"timestamp\":\"2026-12-07T05:00:00.000Z\",\"data\":"
	                   "{\"serial\":\"SN<1>\",\"site\":\"lobby\",\"severity\":\"critical\",\"title_key\":\"boiler\"}}";
	char *m = NULL;
	size_t len = 0;

	CHECK_EQ(mail_compose("cc@example.com", "ops@example.com", "hu", "msg_1", body, 1765083600000LL, &m, &len),
	         CC_OK);
	CHECK(strstr(m, "multipart/alternative") != NULL);
	CHECK(strstr(m, "Content-Type: text/plain; charset=utf-8") != NULL);
	CHECK(strstr(m, "Content-Type: text/html; charset=utf-8") != NULL);
	CHECK(strstr(m, "Content-Language: hu") != NULL);
	CHECK(strstr(m, "To: <ops@example.com>") != NULL);
	CHECK(strstr(m, "\r\n\r\n") != NULL);
	free(m);
	CHECK(!mail_address_ok("a@b.c>\r\nBcc: x@y.z"));
	CHECK(!mail_address_ok("a b@c.d"));
	CHECK(!mail_address_ok("nobody"));
	CHECK(mail_address_ok("first.last+tag@example.co.hu"));
	CHECK_EQ(mail_compose("cc@example.com", "x>@y", "en", "msg_1", body, 0, &m, &len), CC_ERR_INVALID);
}

static void test_quiet_hours(void)
{
	struct store_notify_prefs p;
	char why[300];
	json_t *c = json_pack("{s:s, s:s}", "quiet", "22:00-06:30", "tz", "UTC");
	/* 2026-12-07 23:15:30 UTC */
	int64_t t = 1796685330000LL;

	memset(&p, 0, sizeof(p));
	CHECK_EQ(notify_prefs_apply(&p, c, why, sizeof(why)), CC_OK);
	json_decref(c);
	CHECK_EQ(notify_quiet_until(&p, t), 1796711400000LL); /* 06:30 the next day */
	CHECK_EQ(notify_quiet_until(&p, t - 3 * 3600 * 1000LL), 0); /* 20:15: not quiet */
	c = json_pack("{s:s}", "tz", "Europe/Budapest"); /* UTC+1 in December: 00:15 there */
	CHECK_EQ(notify_prefs_apply(&p, c, why, sizeof(why)), CC_OK);
	json_decref(c);
	CHECK_EQ(notify_quiet_until(&p, t), 1796711400000LL - 3600 * 1000LL);
	c = json_pack("{s:s}", "quiet", "24:00-01:00");
	CHECK_EQ(notify_prefs_apply(&p, c, why, sizeof(why)), CC_ERR_INVALID);
	json_decref(c);
	c = json_pack("{s:s}", "tz", "../../../etc/passwd");
	CHECK_EQ(notify_prefs_apply(&p, c, why, sizeof(why)), CC_ERR_INVALID);
	json_decref(c);
	c = json_pack("{s:[s,s], s:[s]}", "kinds", "alert.opened", "test", "sites", "lobby");
	CHECK_EQ(notify_prefs_apply(&p, c, why, sizeof(why)), CC_OK);
	json_decref(c);
	p.email = 1;
	CHECK(notify_prefs_want(&p, "test", "lobby"));
	CHECK(!notify_prefs_want(&p, "alert.resolved", "lobby"));
	CHECK(!notify_prefs_want(&p, "test", "cellar"));
	CHECK(!notify_prefs_want(&p, "test", ""));
	CHECK(!notify_prefs_want(&p, "tes", "lobby"));
}

int main(void)
{
	RUN(test_signature_vector);
	RUN(test_addresses);
	RUN(test_url_check);
	RUN(test_mail);
	RUN(test_quiet_hours);
	return check_summary();
}
