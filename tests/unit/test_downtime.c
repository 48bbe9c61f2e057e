/* Machine states over time and their availability (fleet/downtime.h): a
 * scripted timeline whose figures are worked out by hand below, link
 * changes recorded by the store whichever way the live state changes,
 * critical errors picked up from settled events, and maintenance. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "common/clock.h"
#include "common/err.h"
#include "common/log.h"
#include "access/roles.h"
#include "alerts/alerts.h"
#include "fleet/downtime.h"
#include "fleet/hours.h"
#include "fleet/manage.h"
#include "fleet/uptime.h"
#include "fleet/health.h"
#include "fleet/inventory.h"
#include "records/records.h"
#include "setup/setup.h"
#include "vault/vault.h"

static char dir[900];
static int64_t t0;

static struct vault *fresh(const char *name, struct store_machine *m)
{
	struct setup_opts o = { 0 };
	struct setup_result r;
	struct vault *v = NULL;

	check_tmpdir(dir, sizeof(dir), name);
	strncat(dir, "/data", sizeof(dir) - strlen(dir) - 1);
	o.dir = dir;
	o.manufacturer = "acme";
	o.admin_login = "admin";
	o.admin_password = "correct horse battery staple";
	CHECK_EQ(setup_init(&o, &r), CC_OK);
	CHECK_EQ(vault_open(dir, NULL, &v), CC_OK);
	CHECK_EQ(inventory_org_add(v, "cafe-a", ORG_CUSTOMER, "acme", NULL), CC_OK);
	CHECK_EQ(inventory_machine_add(v, "CM-D1", "barista-pro", "cafe-a", NULL, NULL, NULL, NULL), CC_OK);
	CHECK_EQ(inventory_machine_find(v, "CM-D1", m), CC_OK);
	return v;
}

static void set_link(struct store *s, const struct store_machine *m, int64_t at_s, int online, const char *why)
{
	struct store_machine_state st;

	memset(&st, 0, sizeof(st));
	st.machine_id = m->id;
	st.online = online;
	st.last_seen_ms = st.changed_ms = t0 + at_s * 1000;
	snprintf(st.disconnect_reason, sizeof(st.disconnect_reason), "%s", why);
	CHECK_EQ(s->ops->machine_state_set(s, &st), CC_OK);
}

static void change(struct store *s, const struct store_machine *m, int64_t at_s, enum store_state_kind kind,
                   const char *code, int64_t value)
{
	struct store_state_change c;

	memset(&c, 0, sizeof(c));
	c.machine_id = m->id;
	c.at_ms = t0 + at_s * 1000;
	c.kind = kind;
	snprintf(c.code, sizeof(c.code), "%s", code);
	c.value = value;
	CHECK_EQ(s->ops->state_change_add(s, &c), CC_OK);
}

static int keep(void *ctx, int64_t machine_id, const struct availability *a)
{
	(void)machine_id;
	*(struct availability *)ctx = *a;
	return 0;
}

static struct availability over(struct store *s, const struct store_machine *m, int64_t from_s, int64_t to_s)
{
	struct availability a;

	memset(&a, 0xff, sizeof(a));
	CHECK_EQ(availability_each(s, m->id, t0 + from_s * 1000, t0 + to_s * 1000, keep, &a), CC_OK);
	return a;
}

/*
 *   0  online        up 100
 * 100  offline       offline 60    (incident 1; "keepalive timeout")
 * 160  online        up 40         (restored)
 * 200  E042 raised   out of service 30 (incident 2)
 * 230  E042 cleared  up 70         (restored)
 * 300  maintenance   until 400: maintenance 100 (neither up nor down)
 * 400  (its end)     up 100
 * 500  offline       offline 100   (incident 3)
 * 600  the end of the period
 */
static void test_a_scripted_timeline(void)
{
	struct store_machine m;
	struct vault *v = fresh("timeline", &m);
	struct store *s = vault_store(v);
	struct availability a;

	set_link(s, &m, 0, 1, "");
	set_link(s, &m, 100, 0, "keepalive timeout");
	set_link(s, &m, 160, 1, "");
	change(s, &m, 200, STATE_FAULT, "E042", 1);
	change(s, &m, 230, STATE_FAULT, "E042", 0);
	change(s, &m, 300, STATE_MAINTENANCE, "repair", t0 + 400 * 1000);
	set_link(s, &m, 500, 0, "connection lost");

	a = over(s, &m, 0, 600);
	CHECK_EQ(a.up_ms, 310000);
	CHECK_EQ(a.offline_ms, 160000);
	CHECK_EQ(a.out_of_service_ms, 30000);
	CHECK_EQ(a.maintenance_ms, 100000);
	CHECK_EQ(a.unknown_ms, 0);
	CHECK_EQ(a.incidents, 3);
	CHECK_EQ(a.restorations, 2);
	CHECK_EQ(a.state_at_end, MSTATE_OFFLINE);
	CHECK_STR(a.reason, "connection lost");
	CHECK_EQ(a.since_ms, t0 + 500000);

	/* A window that starts offline: the state in force is read from before it. */
	a = over(s, &m, 150, 250);
	CHECK_EQ(a.offline_ms, 10000);
	CHECK_EQ(a.up_ms, 60000);
	CHECK_EQ(a.out_of_service_ms, 30000);
	CHECK_EQ(a.incidents, 1);
	CHECK_EQ(a.restorations, 2);

	/* Inside the maintenance window, and across its end. */
	a = over(s, &m, 320, 420);
	CHECK_EQ(a.maintenance_ms, 80000);
	CHECK_EQ(a.up_ms, 20000);
	CHECK_EQ(a.incidents, 0);
	CHECK_EQ(a.state_at_end, MSTATE_ONLINE);

	/* Before the machine was first seen: unknown, not down. */
	a = over(s, &m, -50, 50);
	CHECK_EQ(a.unknown_ms, 50000);
	CHECK_EQ(a.up_ms, 50000);
	CHECK_EQ(a.incidents, 0);
	CHECK_EQ(availability_down_ms(&a), 0);
	vault_close(v);
}

/* Two faults at once: out of service until both are cleared; a fault
 * cleared that was never raised changes nothing. */
static void test_overlapping_faults(void)
{
	struct store_machine m;
	struct vault *v = fresh("faults", &m);
	struct store *s = vault_store(v);
	struct availability a;

	set_link(s, &m, 0, 1, "");
	change(s, &m, 10, STATE_FAULT, "E001", 1);
	change(s, &m, 20, STATE_FAULT, "E002", 1);
	change(s, &m, 30, STATE_FAULT, "E001", 0);
	change(s, &m, 35, STATE_FAULT, "E999", 0);
	change(s, &m, 50, STATE_FAULT, "E002", 0);
	a = over(s, &m, 0, 100);
	CHECK_EQ(a.out_of_service_ms, 40000);
	CHECK_EQ(a.up_ms, 60000);
	CHECK_EQ(a.incidents, 1);
	CHECK_EQ(a.restorations, 1);
	a = over(s, &m, 25, 40);
	CHECK_EQ(a.out_of_service_ms, 15000);
	CHECK_EQ(a.state_at_end, MSTATE_OUT_OF_SERVICE);
	CHECK_STR(a.reason, "E002");
	vault_close(v);
}

/* Maintenance set and ended through fleet/downtime.h: a bad reason or end
 * is refused; ending none is a state error. */
static void test_maintenance(void)
{
	struct store_machine m;
	struct vault *v = fresh("maintenance", &m);
	struct store *s = vault_store(v);
	struct availability now;
	int64_t t = clock_now_ms();

	CHECK_EQ(downtime_maintenance(v, &m, "repair", 0, "user:tech"), CC_ERR_STATE);
	CHECK_EQ(downtime_maintenance(v, &m, "haircut", t + 60000, "user:tech"), CC_ERR_INVALID);
	CHECK_EQ(downtime_maintenance(v, &m, "repair", t - 1, "user:tech"), CC_ERR_INVALID);
	CHECK_EQ(downtime_maintenance(v, &m, "repair", t + 40 * INT64_C(86400000), "user:tech"), CC_ERR_INVALID);
	CHECK_EQ(downtime_maintenance(v, &m, "repair", t + 3600000, "user:tech"), CC_OK);
	CHECK_EQ(downtime_state_now(s, m.id, &now), CC_OK);
	CHECK_EQ(now.state_at_end, MSTATE_MAINTENANCE);
	CHECK_STR(now.reason, "repair");
	CHECK_EQ(downtime_maintenance(v, &m, NULL, 0, "user:tech"), CC_OK);
	CHECK_EQ(downtime_state_now(s, m.id, &now), CC_OK);
	CHECK_EQ(now.state_at_end, MSTATE_UNKNOWN); /* never connected */
	vault_close(v);
}

static int put_event(struct vault *v, const struct store_machine *m, int64_t seq, int64_t ts, const char *body)
{
	struct record_in r = { m->id, m->customer_id, m->serial, RECORD_EVENT, seq, ts, body, strlen(body) };
	size_t inserted = 0;

	return records_put(v, &r, 1, &inserted);
}

/* Critical errors raised and cleared become fault changes when the events
 * are settled; warnings and momentary errors do not. */
static void test_faults_from_settled_events(void)
{
	struct store_machine m;
	struct vault *v = fresh("settled", &m);
	struct store *s = vault_store(v);
	struct downtime_round *round = NULL;
	struct store_settle_hooks hooks;
	struct availability a;
	size_t moved = 0;
	char body[200];

	set_link(s, &m, 0, 1, "");
	snprintf(body, sizeof(body), "{\"seq\":1,\"ts\":%lld,\"type\":\"error\",\"code\":\"E042\",\"severity\":"
	         "\"critical\",\"state\":\"raised\"}", (long long)(t0 + 100000));
	CHECK_EQ(put_event(v, &m, 1, t0 + 100000, body), CC_OK);
	snprintf(body, sizeof(body), "{\"seq\":2,\"ts\":%lld,\"type\":\"error\",\"code\":\"W007\",\"severity\":"
	         "\"warning\",\"state\":\"raised\"}", (long long)(t0 + 110000));
	CHECK_EQ(put_event(v, &m, 2, t0 + 110000, body), CC_OK);
	snprintf(body, sizeof(body), "{\"seq\":3,\"ts\":%lld,\"type\":\"error\",\"code\":\"E050\",\"severity\":"
	         "\"critical\"}", (long long)(t0 + 120000));
	CHECK_EQ(put_event(v, &m, 3, t0 + 120000, body), CC_OK);
	snprintf(body, sizeof(body), "{\"seq\":4,\"ts\":%lld,\"type\":\"error\",\"code\":\"E042\",\"severity\":"
	         "\"critical\",\"state\":\"cleared\"}", (long long)(t0 + 190000));
	CHECK_EQ(put_event(v, &m, 4, t0 + 190000, body), CC_OK);
	CHECK_EQ(downtime_round_new(v, &round), CC_OK);
	downtime_round_hooks(round, &hooks);
	CHECK_EQ(s->ops->records_settle(s, 100, &hooks, &moved), CC_OK);
	CHECK_EQ(moved, 4);
	a = over(s, &m, 0, 300);
	CHECK_EQ(a.out_of_service_ms, 90000);
	CHECK_EQ(a.up_ms, 210000);
	CHECK_EQ(a.incidents, 1);
	downtime_round_free(round);
	vault_close(v);
}

/* The health score and its parts: each counted only for a reader who may
 * see its class. */
static void test_health_score(void)
{
	struct store_machine m;
	struct vault *v = fresh("health", &m);
	struct store *s = vault_store(v);
	struct health h;
	char body[160];
	struct record_in r = { m.id, m.customer_id, m.serial, RECORD_TELEMETRY, 1, t0 + 200000, body, 0 };
	size_t inserted = 0;

	set_link(s, &m, 0, 1, "");
	change(s, &m, 100, STATE_FAULT, "E201", 1); /* never cleared: out of service since */
	snprintf(body, sizeof(body), "{\"seq\":1,\"ts\":%lld,\"m\":{\"filter_used_pct\":120,\"descale_due_l\":5}}",
	         (long long)(t0 + 200000));
	r.body_len = strlen(body);
	CHECK_EQ(records_put(v, &r, 1, &inserted), CC_OK);

	CHECK_EQ(health_of(v, &m, CLASS_STATUS | CLASS_TECHNICAL | CLASS_SERVICE, &h), CC_OK);
	CHECK_EQ(h.nparts, 4);
	CHECK_STR(h.parts[0].name, "availability"); /* ~1.4 %: the cap */
	CHECK_EQ(h.parts[0].penalty, 40);
	CHECK_STR(h.parts[1].name, "state");
	CHECK_EQ(h.parts[1].penalty, 30);
	CHECK(strstr(h.parts[1].why, "E201") != NULL);
	CHECK_STR(h.parts[2].name, "filter");
	CHECK_STR(h.parts[3].name, "faults");
	CHECK_EQ(h.parts[3].penalty, 5);
	CHECK_EQ(h.score, 100 - 40 - 30 - 10 - 5);
	/* A reader of status only: the parts it may see, and the score they make. */
	CHECK_EQ(health_of(v, &m, CLASS_STATUS, &h), CC_OK);
	CHECK_EQ(h.nparts, 2);
	CHECK_EQ(h.score, 30);
	vault_close(v);
}

static int keep_windows(void *ctx, int64_t machine_id, const struct hours_window **w, size_t *n)
{
	const struct hours_window *const *given = ctx;

	(void)machine_id;
	*w = given[0];
	*n = (size_t)(given[1] - given[0]);
	return 1;
}

static int keep_within(void *ctx, int64_t machine_id, const struct availability *a)
{
	(void)machine_id;
	*(struct availability *)ctx = *a;
	return 0;
}

/*
 * Monday 2026-11-30, UTC, a site open mon-fri 09:00-17:00 (hours from Monday 00:00):
 *   8  online                 before opening: not counted
 *  12  offline  until 13      down 1 h, incident 1 (within the hours)
 *  20  offline  until Tue 10  closed until 33: down at opening is incident 2, down 1 h
 * Around the clock the same history is 25 h up, 15 h down, 8 h unknown.
 */
static void test_within_business_hours(void)
{
	struct setup_opts o = { 0 };
	struct setup_result res;
	struct vault *v = NULL;
	struct store *s;
	struct store_machine m;
	struct store_site site;
	struct site_place place = { NULL, NULL, NULL, "UTC", "mon-fri 09:00-17:00" };
	struct week_hours wh;
	struct hours_window *w;
	const struct hours_window *given[2];
	struct availability_hours hours = { keep_windows, given };
	struct availability a;
	struct uptime_query q;
	struct uptime_report rep;
	struct store_machine_filter f;
	const int64_t monday = INT64_C(1795996800000), h = 3600000;
	int64_t saved = t0, open;
	size_t n;

	check_tmpdir(dir, sizeof(dir), "hours");
	strncat(dir, "/data", sizeof(dir) - strlen(dir) - 1);
	o.dir = dir;
	o.manufacturer = "acme";
	o.admin_login = "admin";
	o.admin_password = "correct horse battery staple";
	CHECK_EQ(setup_init(&o, &res), CC_OK);
	CHECK_EQ(vault_open(dir, NULL, &v), CC_OK);
	s = vault_store(v);
	CHECK_EQ(inventory_org_add(v, "cafe-a", ORG_CUSTOMER, "acme", NULL), CC_OK);
	CHECK_EQ(manage_site_add(v, "cafe-a", "corner", &place, &site), CC_OK);
	CHECK_STR(site.hours, "mon-fri 09:00-17:00");
	CHECK_EQ(inventory_machine_add(v, "CM-H1", "barista-pro", "cafe-a", "corner", NULL, NULL, NULL), CC_OK);
	CHECK_EQ(inventory_machine_find(v, "CM-H1", &m), CC_OK);
	t0 = monday;
	set_link(s, &m, 8 * 3600, 1, "");
	set_link(s, &m, 12 * 3600, 0, "keepalive timeout");
	set_link(s, &m, 13 * 3600, 1, "");
	set_link(s, &m, 20 * 3600, 0, "connection lost");
	set_link(s, &m, 34 * 3600, 1, "");

	CHECK_EQ(hours_parse(site.hours, &wh, NULL, 0), CC_OK);
	CHECK_EQ(hours_windows(&wh, "UTC", monday, monday + 48 * h, &w, &n), CC_OK);
	CHECK_EQ(n, 2);
	given[0] = w;
	given[1] = w + n;
	memset(&a, 0, sizeof(a));
	CHECK_EQ(availability_within(s, m.id, monday, monday + 48 * h, &hours, keep_within, &a), CC_OK);
	CHECK_EQ(a.up_ms, 14 * h);
	CHECK_EQ(a.offline_ms, 2 * h);
	CHECK_EQ(a.unknown_ms + a.maintenance_ms + a.out_of_service_ms, 0);
	CHECK_EQ(a.incidents, 2);
	CHECK_EQ(a.restorations, 2);
	CHECK_EQ(a.state_at_end, MSTATE_ONLINE);
	CHECK_EQ(a.since_ms, monday + 34 * h);
	free(w);

	/* The report reads the site's hours itself; without them, every hour. */
	memset(&q, 0, sizeof(q));
	memset(&f, 0, sizeof(f));
	q.from_ms = monday;
	q.to_ms = monday + 48 * h;
	q.filter = &f;
	q.by = UPTIME_BY_MACHINE;
	q.business_hours = 1;
	CHECK_EQ(uptime_report(v, &q, &rep), CC_OK);
	CHECK(rep.nrows == 1 && rep.business_hours == 1);
	CHECK_EQ(rep.total.sum.up_ms, 14 * h);
	CHECK_EQ(rep.total.sum.offline_ms, 2 * h);
	CHECK_EQ(rep.total.sum.incidents, 2);
	uptime_report_free(&rep);
	q.business_hours = 0;
	CHECK_EQ(uptime_report(v, &q, &rep), CC_OK);
	CHECK_EQ(rep.total.sum.up_ms, 25 * h);
	CHECK_EQ(rep.total.sum.offline_ms, 15 * h);
	CHECK_EQ(rep.total.sum.unknown_ms, 8 * h);
	CHECK_EQ(rep.total.sum.incidents, 2);
	uptime_report_free(&rep);

	/* The alert engine's view: offline since Monday 20:00, on Tuesday at
	 * 09:30 it was within the hours and offline for 30 open minutes. */
	CHECK_EQ(alerts_business_hours(s, &m, monday + 20 * h, monday + 33 * h + h / 2, &open), 1);
	CHECK_EQ(open, h / 2);
	CHECK_EQ(alerts_business_hours(s, &m, monday + 20 * h, monday + 23 * h, &open), 0);
	CHECK_EQ(open, 0);
	t0 = saved;
	vault_close(v);
}

int main(void)
{
	log_set_level(LOG_LEVEL_WARN);
	t0 = (clock_now_ms() / 1000 - 7200) * 1000; /* two hours ago, whole seconds */
	RUN(test_a_scripted_timeline);
	RUN(test_overlapping_faults);
	RUN(test_maintenance);
	RUN(test_faults_from_settled_events);
	RUN(test_health_score);
	RUN(test_within_business_hours);
	return check_summary();
}
