/* The alert rules' evaluators (alerts/rules.h) on records and timer views
 * worked out by hand; the settings' inheritance down the organisation tree
 * and their bounds (alerts/alerts.h); people's actions and their states. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alerts/alerts.h"
#include "check.h"
#include "common/clock.h"
#include "common/err.h"
#include "fleet/inventory.h"
#include "quality/ruleset.h"
#include "setup/setup.h"
#include "vault/vault.h"

struct said {
	int n;
	char detail[8][32];
	int active[8];
};

static void hear(void *vctx, const char *detail, int active)
{
	struct said *s = vctx;

	if (s->n < 8) {
		snprintf(s->detail[s->n], sizeof(s->detail[0]), "%s", detail);
		s->active[s->n++] = active;
	}
}

static struct said on_record(const char *rule, enum record_kind kind, const char *body, const int64_t *p)
{
	const struct alert_rule *r = alert_rule_find(rule);
	struct said s;

	memset(&s, 0, sizeof(s));
	CHECK(r != NULL && r->on_record != NULL);
	if (r != NULL && r->on_record != NULL)
		r->on_record(p, kind, (const uint8_t *)body, strlen(body), hear, &s);
	return s;
}

static void test_critical_error(void)
{
	struct said s;

	s = on_record("critical_error", RECORD_EVENT,
	              "{\"seq\":1,\"ts\":1,\"type\":\"error\",\"code\":\"E201\",\"severity\":\"critical\",\"state\":\"raised\"}",
	              NULL);
	CHECK_EQ(s.n, 1);
	CHECK_STR(s.detail[0], "E201");
	CHECK_EQ(s.active[0], 1);
	s = on_record("critical_error", RECORD_EVENT,
	              "{\"seq\":2,\"ts\":1,\"type\":\"error\",\"code\":\"E201\",\"severity\":\"critical\",\"state\":\"cleared\"}",
	              NULL);
	CHECK_EQ(s.n, 1);
	CHECK_EQ(s.active[0], 0);
	/* Warnings open nothing; a warning's clearing may still resolve (same code). */
	s = on_record("critical_error", RECORD_EVENT,
	              "{\"seq\":3,\"ts\":1,\"type\":\"error\",\"code\":\"E011\",\"severity\":\"warning\",\"state\":\"raised\"}",
	              NULL);
	CHECK_EQ(s.n, 0);
	/* A momentary critical error: opened, for people to resolve. */
	s = on_record("critical_error", RECORD_EVENT,
	              "{\"seq\":4,\"ts\":1,\"type\":\"error\",\"code\":\"E310\",\"severity\":\"critical\"}", NULL);
	CHECK_EQ(s.n, 1);
	CHECK_EQ(s.active[0], 1);
	/* Other events, and telemetry, say nothing. */
	s = on_record("critical_error", RECORD_EVENT, "{\"seq\":5,\"ts\":1,\"type\":\"brew\",\"code\":\"E201\"}", NULL);
	CHECK_EQ(s.n, 0);
	s = on_record("critical_error", RECORD_TELEMETRY, "{\"seq\":6,\"ts\":1,\"m\":{\"bean_hopper_pct\":1}}", NULL);
	CHECK_EQ(s.n, 0);
}

static void test_consumable_low(void)
{
	int64_t p[ALERT_PARAMS_MAX] = { 10, 100 };
	struct said s;

	s = on_record("consumable_low", RECORD_TELEMETRY,
	              "{\"seq\":1,\"ts\":1,\"m\":{\"bean_hopper_pct\":9.5,\"filter_used_pct\":101}}", p);
	CHECK_EQ(s.n, 2);
	CHECK_STR(s.detail[0], "beans");
	CHECK_EQ(s.active[0], 1);
	CHECK_STR(s.detail[1], "water_filter");
	CHECK_EQ(s.active[1], 1);
	/* At the threshold: not below, not above. */
	s = on_record("consumable_low", RECORD_TELEMETRY,
	              "{\"seq\":2,\"ts\":1,\"m\":{\"bean_hopper_pct\":10,\"filter_used_pct\":100}}", p);
	CHECK_EQ(s.n, 2);
	CHECK_EQ(s.active[0], 0);
	CHECK_EQ(s.active[1], 0);
	/* A reading without either metric says nothing (the alert stays). */
	s = on_record("consumable_low", RECORD_TELEMETRY, "{\"seq\":3,\"ts\":1,\"m\":{\"boiler_temp_c\":92}}", p);
	CHECK_EQ(s.n, 0);
	/* A nested object of the same name is not the metric. */
	s = on_record("consumable_low", RECORD_TELEMETRY, "{\"seq\":4,\"ts\":1,\"x\":{\"bean_hopper_pct\":1},\"m\":{}}", p);
	CHECK_EQ(s.n, 0);
}

static struct said on_timer(const char *rule, const int64_t *p, const struct alert_timer_view *v)
{
	const struct alert_rule *r = alert_rule_find(rule);
	struct said s;

	memset(&s, 0, sizeof(s));
	CHECK(r != NULL && r->on_timer != NULL);
	if (r != NULL && r->on_timer != NULL)
		r->on_timer(p, v, hear, &s);
	return s;
}

/* quality_breach judges a brew by the rule set it is handed; cleaning_overdue
 * a program's last cleaning against the schedule, silent while unknown. */
static void test_quality_rules(void)
{
	static struct quality_ruleset rs;
	const struct alert_rule *r = alert_rule_find("quality_breach");
	const char *text = quality_default_text("barista-pro");
	const char *cold = "{\"type\":\"brew\",\"product\":\"espresso\",\"temp_c\":88.0,\"brew_time_s\":25}";
	const char *fine = "{\"type\":\"brew\",\"product\":\"lungo\",\"temp_c\":93.0,\"brew_time_s\":35}";
	char why[QUALITY_WHY_MAX];
	struct alert_timer_view v;
	struct said s;

	CHECK_EQ(quality_ruleset_parse(text, strlen(text), &rs, why, sizeof(why)), CC_OK);
	CHECK(r != NULL && r->on_brew != NULL);
	memset(&s, 0, sizeof(s));
	r->on_brew(NULL, &rs, (const uint8_t *)cold, strlen(cold), hear, &s);
	CHECK(s.n == 1 && strcmp(s.detail[0], "espresso") == 0 && s.active[0] == 1);
	memset(&s, 0, sizeof(s));
	r->on_brew(NULL, &rs, (const uint8_t *)fine, strlen(fine), hear, &s);
	CHECK(s.n == 1 && strcmp(s.detail[0], "lungo") == 0 && s.active[0] == 0);

	memset(&v, 0, sizeof(v));
	v.now_ms = 1800000000000LL;
	v.quality = &rs;
	CHECK_EQ(on_timer("cleaning_overdue", NULL, &v).n, 0); /* nothing known */
	v.last_cleaning_ms[QP_MILK_SYSTEM] = v.now_ms - 25LL * 3600000;  /* within 24 h + 2 h */
	v.last_cleaning_ms[QP_BREW_UNIT] = v.now_ms - 181LL * 3600000;   /* past 168 h + 12 h */
	s = on_timer("cleaning_overdue", NULL, &v);
	CHECK(s.n == 2 && strcmp(s.detail[0], "milk_system") == 0 && s.active[0] == 0);
	CHECK(strcmp(s.detail[1], "brew_unit") == 0 && s.active[1] == 1);
	/* Descaling by water: the default set's every_l, one millilitre either side. */
	CHECK(rs.cleaning[QP_DESCALE].due && rs.cleaning[QP_DESCALE].every_l > 0);
	v.water_known = 1;
	v.water_since_descale_ml = (int64_t)(rs.cleaning[QP_DESCALE].every_l * 1000.0);
	s = on_timer("cleaning_overdue", NULL, &v);
	CHECK(s.n == 3 && strcmp(s.detail[2], "descale") == 0 && s.active[2] == 0);
	v.water_since_descale_ml++;
	s = on_timer("cleaning_overdue", NULL, &v);
	CHECK(s.n == 3 && strcmp(s.detail[2], "descale") == 0 && s.active[2] == 1);
	v.water_known = 0; /* nothing counted: no verdict, not "fine" */
	CHECK_EQ(on_timer("cleaning_overdue", NULL, &v).n, 2);
}

static void test_timer_rules(void)
{
	int64_t offline[ALERT_PARAMS_MAX] = { 1800 }, oos[ALERT_PARAMS_MAX] = { 60 };
	int64_t refusals[ALERT_PARAMS_MAX] = { 10, 600 }, cert[ALERT_PARAMS_MAX] = { 30 };
	struct alert_timer_view v;
	struct said s;

	memset(&v, 0, sizeof(v));
	v.now_ms = 10000000;
	v.within_hours = 1;
	/* offline_long: 29:59 is not yet 30 minutes; 30:00 is. */
	v.state = MSTATE_OFFLINE;
	v.since_ms = v.now_ms - 1799999;
	v.open_in_state_ms = 1799999;
	CHECK_EQ(on_timer("offline_long", offline, &v).n, 0);
	v.since_ms = v.now_ms - 1800000;
	v.open_in_state_ms = 1800000;
	s = on_timer("offline_long", offline, &v);
	CHECK(s.n == 1 && s.active[0] == 1 && s.detail[0][0] == '\0');
	/* Offline all night, open for 29:59 of it: not yet. */
	v.since_ms = v.now_ms - 9 * 3600000;
	v.open_in_state_ms = 1799999;
	CHECK_EQ(on_timer("offline_long", offline, &v).n, 0);
	v.open_in_state_ms = 1800000;
	/* Outside business hours: no verdict either way. */
	v.within_hours = 0;
	CHECK_EQ(on_timer("offline_long", offline, &v).n, 0);
	v.within_hours = 1;
	/* Back online, or in maintenance: cleared; never seen: nothing. */
	v.state = MSTATE_ONLINE;
	s = on_timer("offline_long", offline, &v);
	CHECK(s.n == 1 && s.active[0] == 0);
	v.state = MSTATE_MAINTENANCE;
	s = on_timer("offline_long", offline, &v);
	CHECK(s.n == 1 && s.active[0] == 0);
	v.state = MSTATE_UNKNOWN;
	CHECK_EQ(on_timer("offline_long", offline, &v).n, 0);

	/* out_of_service: after its seconds; offline hides it (no verdict). */
	v.state = MSTATE_OUT_OF_SERVICE;
	v.since_ms = v.now_ms - 59000;
	CHECK_EQ(on_timer("out_of_service", oos, &v).n, 0);
	v.since_ms = v.now_ms - 60000;
	s = on_timer("out_of_service", oos, &v);
	CHECK(s.n == 1 && s.active[0] == 1);
	v.state = MSTATE_OFFLINE;
	CHECK_EQ(on_timer("out_of_service", oos, &v).n, 0);
	v.state = MSTATE_ONLINE;
	s = on_timer("out_of_service", oos, &v);
	CHECK(s.n == 1 && s.active[0] == 0);

	/* refusals: more than N in the window opens; none in the window clears. */
	v.refusals_recent = 10;
	v.refusals_last_ms = v.now_ms - 1000;
	CHECK_EQ(on_timer("refusals", refusals, &v).n, 0);
	v.refusals_recent = 11;
	s = on_timer("refusals", refusals, &v);
	CHECK(s.n == 1 && s.active[0] == 1);
	v.refusals_recent = 0;
	v.refusals_last_ms = v.now_ms - 600001;
	s = on_timer("refusals", refusals, &v);
	CHECK(s.n == 1 && s.active[0] == 0);

	/* cert_expiring: unknown not-after (until machines carry it) says nothing. */
	v.cert_not_after_ms = 0;
	CHECK_EQ(on_timer("cert_expiring", cert, &v).n, 0);
	v.cert_not_after_ms = v.now_ms + 29LL * 86400000;
	s = on_timer("cert_expiring", cert, &v);
	CHECK(s.n == 1 && s.active[0] == 1);
	v.cert_not_after_ms = v.now_ms + 31LL * 86400000;
	s = on_timer("cert_expiring", cert, &v);
	CHECK(s.n == 1 && s.active[0] == 0);
}

static void test_unknown_not_after_and_no_site(void)
{
	struct store_machine m;
	int64_t open = -1;

	/* A certificate from before expiries were kept: unknown (0). */
	memset(&m, 0, sizeof(m));
	CHECK_EQ(alerts_cert_not_after(NULL, &m), 0);
	m.cert_not_after_ms = 1234;
	CHECK_EQ(alerts_cert_not_after(NULL, &m), 1234);
	/* No site: always within, every millisecond counts (test_downtime has a site's). */
	CHECK_EQ(alerts_business_hours(NULL, &m, 1000, 61000, &open), 1);
	CHECK_EQ(open, 60000);
}

static void test_settings_inherit_and_are_bounded(void)
{
	struct setup_opts o = { 0 };
	struct setup_result res;
	struct vault *v = NULL;
	struct store *s;
	struct store_org dist, cafe;
	struct alert_rule_config c;
	const struct alert_rule *off = alert_rule_find("offline_long");
	char dir[900], why[128];

	check_tmpdir(dir, sizeof(dir), "alert-rules");
	strncat(dir, "/data", sizeof(dir) - strlen(dir) - 1);
	o.dir = dir;
	o.manufacturer = "acme";
	o.admin_login = "admin";
	o.admin_password = "correct horse battery staple";
	CHECK_EQ(setup_init(&o, &res), CC_OK);
	CHECK_EQ(vault_open(dir, NULL, &v), CC_OK);
	if (v == NULL)
		return;
	s = vault_store(v);
	CHECK_EQ(inventory_org_add(v, "dist-a", ORG_DISTRIBUTOR, "acme", &dist), CC_OK);
	CHECK_EQ(inventory_org_add(v, "cafe-a", ORG_CUSTOMER, "dist-a", &cafe), CC_OK);
	/* None set: the shipped default. */
	CHECK_EQ(alerts_rule_config(s, cafe.id, off, &c), CC_OK);
	CHECK(c.enabled == 1 && c.p[0] == 1800 && c.escalate_s == ALERT_ESCALATE_DEFAULT && c.from_org == 0);
	/* The distributor's setting reaches its customer ... */
	CHECK_EQ(alerts_rule_set(s, dist.id, "offline_long", 1, "{\"offline_seconds\":600,\"escalate_seconds\":60}",
	                         why, sizeof(why)), CC_OK);
	CHECK_EQ(alerts_rule_config(s, cafe.id, off, &c), CC_OK);
	CHECK(c.p[0] == 600 && c.escalate_s == 60 && c.from_org == dist.id);
	/* ... and the customer's own wins; what it leaves out stays inherited. */
	CHECK_EQ(alerts_rule_set(s, cafe.id, "offline_long", 0, "{\"offline_seconds\":900}", why, sizeof(why)), CC_OK);
	CHECK_EQ(alerts_rule_config(s, cafe.id, off, &c), CC_OK);
	CHECK(c.enabled == 0 && c.p[0] == 900 && c.escalate_s == 60 && c.from_org == cafe.id);
	CHECK_EQ(alerts_rule_config(s, dist.id, off, &c), CC_OK);
	CHECK(c.enabled == 1 && c.p[0] == 600);
	/* Bounds, names, types. */
	CHECK_EQ(alerts_rule_set(s, cafe.id, "offline_long", 1, "{\"offline_seconds\":0}", why, sizeof(why)),
	         CC_ERR_INVALID);
	CHECK(strstr(why, "offline_seconds") != NULL);
	CHECK_EQ(alerts_rule_set(s, cafe.id, "offline_long", 1, "{\"offline_seconds\":\"5\"}", why, sizeof(why)),
	         CC_ERR_INVALID);
	CHECK_EQ(alerts_rule_set(s, cafe.id, "offline_long", 1, "{\"beans_below_pct\":5}", why, sizeof(why)),
	         CC_ERR_INVALID);
	CHECK_EQ(alerts_rule_set(s, cafe.id, "no_such_rule", 1, "{}", why, sizeof(why)), CC_ERR_INVALID);
	CHECK_EQ(alerts_rule_set(s, cafe.id, "offline_long", 1, "[1]", why, sizeof(why)), CC_ERR_INVALID);
	CHECK_EQ(alerts_rule_config(s, cafe.id, off, &c), CC_OK);
	CHECK(c.enabled == 0 && c.p[0] == 900); /* unchanged by the refusals */

	/* People's actions: the states' order. */
	{
		struct store_machine m;
		struct store_alert a;
		int64_t id = 0, other = 0;
		int privacy = 0;

		CHECK_EQ(inventory_machine_add(v, "CM-R1", "barista-pro", "cafe-a", NULL, NULL, NULL, NULL), CC_OK);
		CHECK_EQ(inventory_machine_find(v, "CM-R1", &m), CC_OK);
		memset(&a, 0, sizeof(a));
		a.machine_id = m.id;
		snprintf(a.rule, sizeof(a.rule), "critical_error");
		snprintf(a.cause, sizeof(a.cause), "critical_error:E201");
		snprintf(a.severity, sizeof(a.severity), "critical");
		a.opened_ms = a.level_ms = clock_now_ms();
		CHECK_EQ(s->ops->alert_open(s, &a, &id), CC_OK);
		/* One unresolved per machine and cause. */
		CHECK_EQ(s->ops->alert_open(s, &a, &other), CC_ERR_EXISTS);
		CHECK_EQ(alerts_act(v, id, ALERT_COMMENT, "user:t", "", &privacy), CC_ERR_INVALID);
		CHECK_EQ(alerts_act(v, id, ALERT_COMMENT, "user:t", "card 4111 1111 1111 1111", &privacy), CC_ERR_INVALID);
		CHECK(privacy != 0);
		CHECK_EQ(alerts_act(v, id, ALERT_ACKNOWLEDGE, "user:t", NULL, NULL), CC_OK);
		CHECK_EQ(alerts_act(v, id, ALERT_ACKNOWLEDGE, "user:t", NULL, NULL), CC_ERR_STATE);
		CHECK_EQ(alerts_act(v, id, ALERT_RESOLVE, "user:t", NULL, NULL), CC_OK);
		CHECK_EQ(alerts_act(v, id, ALERT_RESOLVE, "user:t", NULL, NULL), CC_ERR_STATE);
		CHECK_EQ(alerts_act(v, id + 1, ALERT_RESOLVE, "user:t", NULL, NULL), CC_ERR_NOTFOUND);
		/* Resolved: the cause may open a new one. */
		CHECK_EQ(s->ops->alert_open(s, &a, &other), CC_OK);
		CHECK(other > id);
	}
	vault_close(v);
}


struct heard {
	int n;
	char what[8][16];
	int64_t level[8];
	size_t n_orgs[8];
	int64_t orgs[8][ALERT_LEVELS];
};

static int sink(void *ctx, struct vault *v, const struct alert_notice *n)
{
	struct heard *h = ctx;

	(void)v;
	if (h->n < 8) {
		snprintf(h->what[h->n], sizeof(h->what[0]), "%s", n->what);
		h->level[h->n] = n->alert->level;
		h->n_orgs[h->n] = n->n_orgs;
		memcpy(h->orgs[h->n], n->org_ids, sizeof(n->org_ids));
		h->n++;
	}
	return 0;
}

/* The timer through a store: offline for two hours opens offline_long; the
 * sink hears it with the customer; unacknowledged, it escalates to the
 * distributor, then the manufacturer; back online, it is resolved. */
static void test_timer_escalation_and_sink(void)
{
	struct setup_opts o = { 0 };
	struct setup_result res;
	struct vault *v = NULL;
	struct alerts_round *r = NULL;
	struct store_org dist, cafe;
	struct store_machine m;
	struct store_machine_state st;
	struct heard h;
	struct store *s;
	char dir[900], why[128];
	int64_t now = clock_now_ms();

	check_tmpdir(dir, sizeof(dir), "alert-timer");
	strncat(dir, "/data", sizeof(dir) - strlen(dir) - 1);
	o.dir = dir;
	o.manufacturer = "acme";
	o.admin_login = "admin";
	o.admin_password = "correct horse battery staple";
	CHECK_EQ(setup_init(&o, &res), CC_OK);
	CHECK_EQ(vault_open(dir, NULL, &v), CC_OK);
	if (v == NULL)
		return;
	s = vault_store(v);
	CHECK_EQ(inventory_org_add(v, "dist-a", ORG_DISTRIBUTOR, "acme", &dist), CC_OK);
	CHECK_EQ(inventory_org_add(v, "cafe-a", ORG_CUSTOMER, "dist-a", &cafe), CC_OK);
	CHECK_EQ(inventory_machine_add(v, "CM-T1", "barista-pro", "cafe-a", NULL, NULL, NULL, NULL), CC_OK);
	CHECK_EQ(inventory_machine_find(v, "CM-T1", &m), CC_OK);
	CHECK_EQ(alerts_rule_set(s, dist.id, "offline_long", 1, "{\"escalate_seconds\":1}", why, sizeof(why)), CC_OK);
	memset(&st, 0, sizeof(st));
	st.machine_id = m.id;
	st.online = 0;
	st.last_seen_ms = st.changed_ms = now - 2 * 3600000;
	snprintf(st.disconnect_reason, sizeof(st.disconnect_reason), "keepalive");
	CHECK_EQ(s->ops->machine_state_set(s, &st), CC_OK);

	memset(&h, 0, sizeof(h));
	alerts_set_sink(sink, &h);
	alerts_configure(1, 60000);
	CHECK_EQ(alerts_round_new(v, &r), CC_OK);
	CHECK_EQ(alerts_tick(r, now), CC_OK);
	CHECK_EQ(h.n, 1);
	CHECK_STR(h.what[0], "opened");
	CHECK(h.level[0] == 0 && h.n_orgs[0] == 1 && h.orgs[0][0] == cafe.id);
	/* Again at once: nothing new (one per cause). */
	CHECK_EQ(alerts_tick(r, now), CC_OK);
	CHECK_EQ(h.n, 1);
	CHECK_EQ(alerts_tick(r, now + 1000), CC_OK);
	CHECK_EQ(h.n, 2);
	CHECK(strcmp(h.what[1], "escalated") == 0 && h.level[1] == 1 && h.n_orgs[1] == 2 && h.orgs[1][1] == dist.id);
	/* Not yet a second since it reached level 1. */
	CHECK_EQ(alerts_tick(r, now + 1999), CC_OK);
	CHECK_EQ(h.n, 2);
	CHECK_EQ(alerts_tick(r, now + 2000), CC_OK);
	CHECK_EQ(h.n, 3);
	CHECK(h.level[2] == 2 && h.n_orgs[2] == 3 && h.orgs[2][2] == 1);
	/* The top level: no further. */
	CHECK_EQ(alerts_tick(r, now + 5000), CC_OK);
	CHECK_EQ(h.n, 3);
	/* alerts = false: the timer does nothing. */
	st.online = 1;
	st.last_seen_ms = st.changed_ms = clock_now_ms();
	CHECK_EQ(s->ops->machine_state_set(s, &st), CC_OK);
	alerts_configure(0, 60000);
	CHECK_EQ(alerts_tick(r, clock_now_ms()), CC_OK);
	CHECK_EQ(h.n, 3);
	alerts_configure(1, 60000);
	CHECK_EQ(alerts_tick(r, clock_now_ms()), CC_OK);
	CHECK_EQ(h.n, 4);
	CHECK_STR(h.what[3], "resolved");
	alerts_set_sink(NULL, NULL);
	alerts_round_free(r);
	vault_close(v);
}

int main(void)
{
	RUN(test_quality_rules);
	RUN(test_critical_error);
	RUN(test_consumable_low);
	RUN(test_timer_rules);
	RUN(test_unknown_not_after_and_no_site);
	RUN(test_settings_inherit_and_are_bounded);
	RUN(test_timer_escalation_and_sink);
	return check_summary();
}
