/* test_agent_config.c - the agent's configuration side (src/agent/agent_config.c)
 * without a network: what the firmware is handed, what it refuses, and
 * the hostile commands the strict reader must refuse before anything is
 * applied or stored. */
#include <stdlib.h>
#include <string.h>

#include "agent/internal.h"
#include "check.h"

static char stored[256];
static int has_stored, applied_calls;
static struct cc_machine_config_value last[8];
static size_t nlast;

static int st_get(void *ud, const char *key, void *buf, size_t cap, size_t *len)
{
	(void)ud;
	if (!has_stored || strcmp(key, "mconf.last") != 0)
		return 1;
	*len = strlen(stored) < cap ? strlen(stored) : cap;
	memcpy(buf, stored, *len);
	return 0;
}

static int st_put(void *ud, const char *key, const void *buf, size_t len)
{
	(void)ud;
	if (strcmp(key, "mconf.last") != 0 || len >= sizeof(stored))
		return -1;
	memcpy(stored, buf, len);
	stored[len] = '\0';
	has_stored = 1;
	return 0;
}

static int apply(void *ud, const struct cc_machine_config_value *v, size_t n, char *reason, size_t cap)
{
	(void)ud;
	applied_calls++;
	for (size_t i = 0; i < n; i++)
		if (strcmp(v[i].field, "grounds_g") == 0 && v[i].number > 20) {
			snprintf(reason, cap, "grinder\tcannot dose that much\n");
			return -1;
		}
	nlast = n < 8 ? n : 8;
	memcpy(last, v, nlast * sizeof(*v));
	return 0;
}

static int running(void *ud, struct cc_machine_config_value *v, size_t cap, size_t *n)
{
	(void)ud;
	*n = nlast < cap ? nlast : cap;
	memcpy(v, last, *n * sizeof(*v));
	return 0;
}

static const char *const products[] = { "espresso", "lungo", NULL };
static const char *const languages[] = { "en", "de", NULL };
static const struct cc_machine_config_field recipe[] = {
	{ "water_ml", 5, 100, 1, NULL },
	{ "grounds_g", 4, 30, 0, NULL },
};
static const struct cc_machine_config_field settings[] = {
	{ "standby_min", 0, 480, 1, NULL },
	{ "panel_language", 0, 0, 0, languages },
};

static cc_agent *agent(void)
{
	cc_agent *a = calloc(1, sizeof(*a));
	struct cc_machine_config_fw fw = { products, recipe, 2, settings, 2, apply, running, NULL };

	snprintf(a->serial, sizeof(a->serial), "S1");
	a->cfg.storage.get = st_get;
	a->cfg.storage.put = st_put;
	CHECK_EQ(cc_agent_machine_config_setup(a, &fw), CC_AGENT_OK);
	return a;
}

static void done(cc_agent *a)
{
	cc_ag_mconf_free(a);
	free(a);
}

static int command(cc_agent *a, const char *body)
{
	return cc_ag_mconf_command(a, 7, body, strlen(body));
}

static void state(cc_agent *a, int64_t version, int applied, const char *reason)
{
	struct cc_machine_config_state st;

	CHECK_EQ(cc_agent_machine_config_state(a, &st), CC_AGENT_OK);
	CHECK_EQ(st.version, version);
	CHECK_EQ(st.applied, applied);
	CHECK_STR(st.reason, reason);
}

static void test_applied_refused_kept(void)
{
	cc_agent *a;

	has_stored = 0;
	a = agent();
	state(a, 0, 0, "");
	CHECK_EQ(command(a, "{\"version\":1,\"config\":{\"recipes\":{\"espresso\":{\"water_ml\":30,\"grounds_g\":9.5}},"
	                    "\"settings\":{\"panel_language\":\"de\",\"standby_min\":30}}}"), 1);
	state(a, 1, 1, "");
	CHECK_EQ(nlast, 4);
	CHECK_STR(last[0].product, "espresso");
	CHECK_STR(last[0].field, "water_ml");
	CHECK(last[1].number == 9.5);
	CHECK_STR(last[2].product, "");
	CHECK_STR(last[2].text, "de");
	/* The firmware's refusal, made one printable line. */
	CHECK_EQ(command(a, "{\"version\":2,\"config\":{\"recipes\":{\"lungo\":{\"grounds_g\":24.0}}}}"), 1);
	state(a, 2, 0, "grinder cannot dose that much ");
	/* The agent's own bounds: the firmware never sees it. */
	applied_calls = 0;
	CHECK_EQ(command(a, "{\"version\":3,\"config\":{\"recipes\":{\"lungo\":{\"water_ml\":200}}}}"), 1);
	state(a, 3, 0, "recipes.lungo.water_ml: out of range 5..100");
	CHECK_EQ(applied_calls, 0);
	/* Delivered again, or an older one: nothing applied, the outcome stands. */
	CHECK_EQ(command(a, "{\"version\":1,\"config\":{\"settings\":{\"standby_min\":1}}}"), 1);
	CHECK_EQ(applied_calls, 0);
	state(a, 3, 0, "recipes.lungo.water_ml: out of range 5..100");
	done(a);
	/* A reboot: the state is read back from storage. */
	a = agent();
	state(a, 3, 0, "recipes.lungo.water_ml: out of range 5..100");
	done(a);
}

static void test_refusals_name_the_member(void)
{
	static const struct {
		const char *config, *why;
	} cases[] = {
		{ "{\"recipes\":{\"frappe\":{\"water_ml\":30}}}", "recipes.frappe: not a product of this machine" },
		{ "{\"recipes\":{\"espresso\":{\"price\":2}}}", "recipes.espresso.price: not a field of this machine" },
		{ "{\"recipes\":{\"espresso\":{\"water_ml\":30.5}}}", "recipes.espresso.water_ml: a whole number" },
		{ "{\"recipes\":{\"espresso\":{\"water_ml\":30,\"water_ml\":31}}}", "recipes.espresso.water_ml: given twice" },
		{ "{\"recipes\":{\"espresso\":{}}}", "recipes.espresso: an empty recipe" },
		{ "{\"settings\":{\"panel_language\":\"xx\"}}", "settings.panel_language: not a value this machine has" },
		{ "{\"settings\":{\"standby_min\":\"30\"}}", "settings.standby_min: a number" },
		{ "{\"currency\":\"EUR\"}", "config: unknown member currency" },
		{ "{}", "config: a document (recipes, settings)" },
	};
	cc_agent *a;
	char body[512];

	has_stored = 0;
	a = agent();
	applied_calls = 0;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		snprintf(body, sizeof(body), "{\"version\":%zu,\"config\":%s}", i + 1, cases[i].config);
		CHECK_EQ(command(a, body), 1);
		state(a, (int64_t)i + 1, 0, cases[i].why);
	}
	CHECK_EQ(applied_calls, 0);
	done(a);
}

static void test_hostile_envelopes_change_nothing(void)
{
	static const char *const bad[] = {
		"",
		"[1]",
		"{\"version\":1}",                                          /* neither config nor fetch */
		"{\"version\":1,\"config\":{},\"fetch\":\"/api/v1/machine/config\"}", /* both */
		"{\"version\":1,\"fetch\":\"https://evil.example/x\"}",     /* a path the message names */
		"{\"version\":0,\"config\":{\"settings\":{\"standby_min\":1}}}",
		"{\"version\":1.5,\"config\":{\"settings\":{\"standby_min\":1}}}",
		"{\"version\":1,\"version\":2,\"config\":{\"settings\":{\"standby_min\":1}}}",
		"{\"version\":1,\"config\":{\"settings\":{\"standby_min\":1}}} trailing",
		"{\"version\":1,\"config\":{\"settings\":{\"standby_min\":1}}",   /* cut short */
		"{\"version\":1,\"x\":[[[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]],\"config\":{}}", /* too deep */
		"{\"version\":1,\"config\":{\"settings\":{\"standby_min\":01}}}",
		"{\"version\":1,\"config\":{\"settings\":{\"panel_language\":\"d\\u0065\"}}}",
	};
	cc_agent *a;

	has_stored = 0;
	a = agent();
	applied_calls = 0;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		CHECK_EQ(command(a, bad[i]), 1);
		if (i < 11)
			state(a, 0, 0, ""); /* malformed: nothing stored */
	}
	CHECK_EQ(applied_calls, 0);
	done(a);
	/* Not set up: the firmware's on_command gets it. */
	a = calloc(1, sizeof(*a));
	CHECK_EQ(command(a, "{\"version\":1,\"config\":{}}"), 0);
	free(a);
}

int main(void)
{
	RUN(test_applied_refused_kept);
	RUN(test_refusals_name_the_member);
	RUN(test_hostile_envelopes_change_nothing);
	return check_summary();
}
