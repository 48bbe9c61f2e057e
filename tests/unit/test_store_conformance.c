/*
 * The store conformance suite: every case runs against every backend named
 * in `backends` below, through the backend's ops table only (store/store.h),
 * on a fresh empty store per case. What a case asserts is the interface's
 * contract, so that a second backend (PostgreSQL, issue 14) is proven equal
 * to SQLite by passing the same cases, failure cases included: a grant check
 * that cannot be proven is no access, a retransmitted record is stored once,
 * a transaction with a failing member leaves nothing.
 *
 * The backend sees only what the vault hands it: bodies and profiles here
 * are opaque bytes, MACs are opaque 32-byte blobs (the vault's wrapper that
 * computes and checks them is tested in test_integrity.c).
 *
 * Adding a backend: one row in `backends`, with the environment variable
 * that names its location template (a libpq connection string whose "%s"
 * becomes a database name per case, see docs/STORE.md). A backend whose
 * variable is unset fails the run: nothing is skipped silently.
 */
#define _GNU_SOURCE
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "access/audit.h"
#include "check.h"
#include "common/err.h"
#include "common/log.h"
#include "store/store.h"

struct backend {
	const char *name; /* store_backend_find's */
	/* NULL: a file per case in a temporary directory; else the variable
	 * holding a location template with one "%s" (the case's name). */
	const char *location_env;
	/* A backend in the making, outside the product: its ops table (not in
	 * store_backend_find's list) and the cases it passes so far, which a
	 * run without arguments is limited to. NULL: in the product, every case. */
	const struct store_ops *in_progress;
	const char *const *ready;
};

#ifdef CC_TEST_STORE_POSTGRESQL
/* test_store_conformance_pg: the PostgreSQL backend before it joins the
 * product (docs/STORE.md). A case goes on this list once it passes; the
 * list goes when every case does and CC_STORE_POSTGRESQL is on by default. */
extern const struct store_ops store_postgresql_ops;
static const char *const pg_ready[] = {
	"meta", "orgs", "sites", "users", "credentials", "grants", "row_macs",
	"tx_all_or_nothing", "tx_failure_keeps_tx", "tx_savepoint", "tx_read_snapshot", "audit_chain",
	"records_range", "records_duplicates", "records_settle", "records_purge", "records_outside_tx",
	"records_batch", "records_months", "rollups", "event_days_cleanings", "commands", "jobs", "alerts",
	"settings", "org_delete", "machines", "machine_certs", "state_changes_refusals",
	NULL,
};

static const struct backend backends[] = {
	{ "postgresql", "CC_TEST_POSTGRESQL", &store_postgresql_ops, pg_ready },
};
#else
static const struct backend backends[] = {
	{ "sqlite", NULL, NULL, NULL },
#ifdef CC_STORE_POSTGRESQL /* -DCC_STORE_POSTGRESQL=ON; tests/support/pgserver.py sets the variable */
	{ "postgresql", "CC_TEST_POSTGRESQL", NULL, NULL },
#endif
};
#endif

/* The case being run: its backend and location, for cases that reopen. */
static const struct store_ops *ops;
static char location[1200];

#define T0 INT64_C(1700000000000) /* a fixed "now": cases never read the clock */
#define MIN INT64_C(60000)

/* ---- fixtures ---- */

static uint8_t fake_mac[STORE_MAC_LEN];

static int64_t add_org(struct store *s, int64_t parent, enum org_kind kind, const char *name)
{
	struct store_org o = { 0 };
	int64_t id = 0;

	o.parent_id = parent;
	o.kind = kind;
	snprintf(o.name, sizeof(o.name), "%s", name);
	o.created_ms = T0;
	CHECK_EQ(s->ops->org_add(s, &o, &id), CC_OK);
	CHECK(id > 0);
	return id;
}

static int64_t add_site(struct store *s, int64_t customer, const char *name)
{
	struct store_site site = { 0 };
	int64_t id = 0;

	site.customer_id = customer;
	snprintf(site.name, sizeof(site.name), "%s", name);
	site.created_ms = T0;
	CHECK_EQ(s->ops->site_add(s, &site, &id), CC_OK);
	CHECK(id > 0);
	return id;
}

static void machine_row(struct store_machine *m, int64_t customer, int64_t site, const char *serial)
{
	memset(m, 0, sizeof(*m));
	snprintf(m->serial, sizeof(m->serial), "%s", serial);
	snprintf(m->model, sizeof(m->model), "%s", "barista-9");
	m->customer_id = customer;
	m->site_id = site;
	snprintf(m->cert_fingerprint, sizeof(m->cert_fingerprint), "%064d", (int)strlen(serial));
	m->cert_fingerprint[0] = serial[strlen(serial) - 1];
	snprintf(m->cert_pem, sizeof(m->cert_pem), "-----BEGIN CERTIFICATE-----\n%s\n-----END CERTIFICATE-----\n",
	         serial);
	m->created_ms = T0;
	m->cert_not_after_ms = T0 + 365 * 24 * 60 * MIN;
}

static int64_t add_machine(struct store *s, int64_t customer, int64_t site, const char *serial)
{
	struct store_machine m;
	int64_t id = 0;

	machine_row(&m, customer, site, serial);
	CHECK_EQ(s->ops->machine_add(s, &m, &id), CC_OK);
	CHECK(id > 0);
	return id;
}

static int64_t add_user(struct store *s, int64_t org, const char *login)
{
	struct store_user u = { 0 };
	int64_t id = 0;

	u.org_id = org;
	snprintf(u.login, sizeof(u.login), "%s", login);
	snprintf(u.role, sizeof(u.role), "%s", "viewer");
	snprintf(u.password_hash, sizeof(u.password_hash), "%s", "$argon2id$v=19$m=65536,t=3,p=1$c2FsdA$aGFzaA");
	memcpy(u.profile, "sealed-profile", 14);
	u.profile_len = 14;
	u.created_ms = T0;
	CHECK_EQ(s->ops->user_add(s, &u, &id), CC_OK);
	CHECK(id > 0);
	return id;
}

/* A manufacturer with one customer, one site, two machines, one user. */
struct fleet {
	int64_t maker, customer, site, m1, m2, user;
};

static void fleet(struct store *s, struct fleet *f)
{
	f->maker = add_org(s, 0, ORG_MANUFACTURER, "acme");
	f->customer = add_org(s, f->maker, ORG_CUSTOMER, "cafe-co");
	f->site = add_site(s, f->customer, "main-street");
	f->m1 = add_machine(s, f->customer, f->site, "SN-0001");
	f->m2 = add_machine(s, f->customer, 0, "SN-0002");
	f->user = add_user(s, f->customer, "barista");
}

/* Row counters, one per row type (a callback is called through its own type). */
#define COUNTER_OF(type)                                          \
	static int count_##type(void *ctx, const struct type *row) \
	{                                                          \
		(void)row;                                         \
		(*(int *)ctx)++;                                   \
		return 0;                                          \
	}
COUNTER_OF(store_alert)
COUNTER_OF(store_alert_event)
COUNTER_OF(store_artifact)
COUNTER_OF(store_command)
COUNTER_OF(store_credential)
COUNTER_OF(store_diag)
COUNTER_OF(store_grant)
COUNTER_OF(store_group)
COUNTER_OF(store_job)
COUNTER_OF(store_machine)
COUNTER_OF(store_machine_status)
COUNTER_OF(store_notify_attempt)
COUNTER_OF(store_org)
COUNTER_OF(store_record)
COUNTER_OF(store_release_key)
COUNTER_OF(store_revoked_cert)
COUNTER_OF(store_rollout)
COUNTER_OF(store_rollout_machine)
COUNTER_OF(store_rollout_report)
COUNTER_OF(store_site)
COUNTER_OF(store_ticket)
COUNTER_OF(store_ticket_event)
COUNTER_OF(store_user)
COUNTER_OF(store_webhook)
#define COUNTER(type) count_##type

/* Stops a list at its first row with a value of its own. */
static int stop_at_first_org(void *ctx, const struct store_org *row)
{
	(void)row;
	(*(int *)ctx)++;
	return 7;
}

static struct store *reopen(struct store *s)
{
	struct store *again = NULL;

	ops->close(s);
	CHECK_EQ(ops->open(location, 0, &again), CC_OK);
	return again;
}

/* ---- meta ---- */

static void case_meta(struct store **sp)
{
	struct store *s = *sp;
	char out[64], tiny[3];

	CHECK_EQ(s->ops->meta_get(s, "conformance-key", out, sizeof(out)), CC_ERR_NOTFOUND);
	CHECK_EQ(s->ops->meta_set(s, "conformance-key", "first"), CC_OK);
	CHECK_EQ(s->ops->meta_set(s, "conformance-key", "second value"), CC_OK);
	CHECK_EQ(s->ops->meta_get(s, "conformance-key", out, sizeof(out)), CC_OK);
	CHECK_STR(out, "second value");
	/* A value longer than the buffer comes back cut, terminated, never overflowing. */
	memset(tiny, 'x', sizeof(tiny));
	CHECK_EQ(s->ops->meta_get(s, "conformance-key", tiny, sizeof(tiny)), CC_OK);
	CHECK(memcmp(tiny, "se", 3) == 0);
	CHECK_EQ(s->ops->meta_bump(s, "conformance-counter"), CC_OK);
	CHECK_EQ(s->ops->meta_bump(s, "conformance-counter"), CC_OK);
	CHECK_EQ(s->ops->meta_get(s, "conformance-counter", out, sizeof(out)), CC_OK);
	CHECK_STR(out, "2");
	*sp = s = reopen(s);
	CHECK_EQ(s->ops->meta_get(s, "conformance-key", out, sizeof(out)), CC_OK);
	CHECK_STR(out, "second value");
}

/* ---- organisations, sites, groups ---- */

static void case_orgs(struct store **sp)
{
	struct store *s = *sp;
	struct store_org o = { 0 }, got;
	int64_t maker, dist, cust, id = 0;
	int n = 0;

	maker = add_org(s, 0, ORG_MANUFACTURER, "acme");
	dist = add_org(s, maker, ORG_DISTRIBUTOR, "beans-dist");
	cust = add_org(s, dist, ORG_CUSTOMER, "cafe-co");
	CHECK(maker != dist && dist != cust);
	CHECK_EQ(s->ops->org_get(s, cust, &got), CC_OK);
	CHECK_STR(got.name, "cafe-co");
	CHECK_EQ(got.parent_id, dist);
	CHECK_EQ(got.kind, ORG_CUSTOMER);
	CHECK_EQ(got.created_ms, T0);
	CHECK_EQ(got.deactivated_ms, 0);
	CHECK_EQ(s->ops->org_find(s, "beans-dist", &got), CC_OK);
	CHECK_EQ(got.id, dist);
	CHECK_EQ(s->ops->org_get(s, maker, &got), CC_OK);
	CHECK_EQ(got.parent_id, 0);
	CHECK_EQ(s->ops->org_get(s, cust + 1000, &got), CC_ERR_NOTFOUND);
	CHECK_EQ(s->ops->org_find(s, "nobody", &got), CC_ERR_NOTFOUND);
	/* A name is unique. */
	o.parent_id = maker;
	o.kind = ORG_CUSTOMER;
	snprintf(o.name, sizeof(o.name), "%s", "cafe-co");
	o.created_ms = T0;
	CHECK_EQ(s->ops->org_add(s, &o, &id), CC_ERR_EXISTS);
	CHECK_EQ(s->ops->org_list(s, COUNTER(store_org), &n), CC_OK);
	CHECK_EQ(n, 3);
	n = 0;
	CHECK_EQ(s->ops->org_list(s, stop_at_first_org, &n), 7);
	CHECK_EQ(n, 1);
	/* Deactivation is a column of the row. */
	CHECK_EQ(s->ops->row_set(s, STORE_COL_ORG_DEACTIVATED, cust, T0 + 5), CC_OK);
	CHECK_EQ(s->ops->org_get(s, cust, &got), CC_OK);
	CHECK_EQ(got.deactivated_ms, T0 + 5);
	CHECK_EQ(s->ops->row_set(s, STORE_COL_ORG_DEACTIVATED, cust, 0), CC_OK);
	CHECK_EQ(s->ops->org_get(s, cust, &got), CC_OK);
	CHECK_EQ(got.deactivated_ms, 0);
	CHECK_EQ(s->ops->row_set(s, STORE_COL_ORG_DEACTIVATED, cust + 1000, T0), CC_ERR_NOTFOUND);
}

static void case_org_delete(struct store **sp)
{
	struct store *s = *sp;
	struct fleet f;
	struct store_machine m;
	struct store_user u;
	struct store_record r = { 0 };
	size_t ins = 0;
	int n = 0;

	fleet(s, &f);
	r.machine_id = f.m1;
	r.kind = RECORD_REPORT;
	r.seq = 1;
	r.ts_ms = T0;
	r.body = (const uint8_t *)"x";
	r.body_len = 1;
	CHECK_EQ(s->ops->records_put(s, &r, 1, &ins), CC_OK);
	/* An organisation with children stays. */
	CHECK_EQ(s->ops->org_delete(s, f.maker), CC_ERR_STATE);
	CHECK_EQ(s->ops->machine_get(s, f.m1, &m), CC_OK);
	/* A leaf goes with everything that belongs to it. */
	CHECK_EQ(s->ops->org_delete(s, f.customer), CC_OK);
	CHECK_EQ(s->ops->machine_get(s, f.m1, &m), CC_ERR_NOTFOUND);
	CHECK_EQ(s->ops->machine_find(s, "SN-0002", &m), CC_ERR_NOTFOUND);
	CHECK_EQ(s->ops->user_get(s, f.user, &u), CC_ERR_NOTFOUND);
	CHECK_EQ(s->ops->site_list(s, 0, COUNTER(store_site), &n), CC_OK);
	CHECK_EQ(n, 0);
	CHECK_EQ(s->ops->records_get(s, f.m1, RECORD_REPORT, 0, INT64_MAX, 0,
	                             COUNTER(store_record), &n), CC_OK);
	CHECK_EQ(n, 0);
	CHECK_EQ(s->ops->org_delete(s, f.maker), CC_OK);
	n = 0;
	CHECK_EQ(s->ops->org_list(s, COUNTER(store_org), &n), CC_OK);
	CHECK_EQ(n, 0);
}

static void case_sites(struct store **sp)
{
	struct store *s = *sp;
	struct store_site site = { 0 }, got;
	int64_t maker, c1, c2, s1, id = 0;
	int n = 0;

	maker = add_org(s, 0, ORG_MANUFACTURER, "acme");
	c1 = add_org(s, maker, ORG_CUSTOMER, "c1");
	c2 = add_org(s, maker, ORG_CUSTOMER, "c2");
	s1 = add_site(s, c1, "hall");
	(void)add_site(s, c2, "hall"); /* a name is unique per customer only */
	site.customer_id = c1;
	snprintf(site.name, sizeof(site.name), "%s", "hall");
	site.created_ms = T0;
	CHECK_EQ(s->ops->site_add(s, &site, &id), CC_ERR_EXISTS);
	CHECK_EQ(s->ops->site_find(s, c1, "hall", &got), CC_OK);
	CHECK_EQ(got.id, s1);
	CHECK_EQ(s->ops->site_find(s, c1, "annex", &got), CC_ERR_NOTFOUND);
	CHECK_EQ(s->ops->site_get(s, s1 + 1000, &got), CC_ERR_NOTFOUND);
	CHECK_EQ(s->ops->site_list(s, c1, COUNTER(store_site), &n), CC_OK);
	CHECK_EQ(n, 1);
	n = 0;
	CHECK_EQ(s->ops->site_list(s, 0, COUNTER(store_site), &n), CC_OK);
	CHECK_EQ(n, 2);
	CHECK_EQ(s->ops->site_get(s, s1, &got), CC_OK);
	snprintf(got.address, sizeof(got.address), "%s", "1 Main Street");
	got.has_position = 1;
	got.lat_e2 = 4750;
	got.lon_e2 = -1905;
	snprintf(got.timezone, sizeof(got.timezone), "%s", "Europe/Budapest");
	CHECK_EQ(s->ops->site_update(s, &got), CC_OK);
	memset(&got, 0, sizeof(got));
	CHECK_EQ(s->ops->site_get(s, s1, &got), CC_OK);
	CHECK_STR(got.address, "1 Main Street");
	CHECK_EQ(got.has_position, 1);
	CHECK_EQ(got.lat_e2, 4750);
	CHECK_EQ(got.lon_e2, -1905);
	CHECK_STR(got.timezone, "Europe/Budapest");
}

static void case_groups(struct store **sp)
{
	struct store *s = *sp;
	struct fleet f;
	struct store_group g = { 0 }, got;
	struct store_machine_filter filt = { 0 };
	int64_t top = 0, sub = 0, id = 0;
	int n = 0;

	fleet(s, &f);
	g.customer_id = f.customer;
	snprintf(g.name, sizeof(g.name), "%s", "espresso-bar");
	g.created_ms = T0;
	CHECK_EQ(s->ops->group_add(s, &g, &top), CC_OK);
	CHECK_EQ(s->ops->group_add(s, &g, &id), CC_ERR_EXISTS);
	g.parent_id = top;
	snprintf(g.name, sizeof(g.name), "%s", "upstairs");
	CHECK_EQ(s->ops->group_add(s, &g, &sub), CC_OK);
	CHECK_EQ(s->ops->group_find(s, f.customer, "upstairs", &got), CC_OK);
	CHECK_EQ(got.id, sub);
	CHECK_EQ(got.parent_id, top);
	CHECK_EQ(s->ops->group_get(s, top, &got), CC_OK);
	CHECK_STR(got.name, "espresso-bar");
	CHECK_EQ(s->ops->group_get(s, sub + 1000, &got), CC_ERR_NOTFOUND);
	CHECK_EQ(s->ops->group_list(s, f.customer, COUNTER(store_group), &n), CC_OK);
	CHECK_EQ(n, 2);

	CHECK_EQ(s->ops->group_member_add(s, sub, f.m1), CC_OK);
	CHECK_EQ(s->ops->group_member_add(s, sub, f.m1), CC_ERR_EXISTS);
	CHECK_EQ(s->ops->group_member_remove(s, top, f.m1), CC_ERR_NOTFOUND);
	/* A group's machines are those of its sub-groups too. */
	filt.group_id = top;
	n = 0;
	CHECK_EQ(s->ops->machine_status_list(s, &filt, COUNTER(store_machine_status), &n), CC_OK);
	CHECK_EQ(n, 1);
	CHECK_EQ(s->ops->group_member_add(s, top, f.m2), CC_OK);
	CHECK_EQ(s->ops->group_unlist_machine(s, f.m1), CC_OK);
	CHECK_EQ(s->ops->group_member_remove(s, sub, f.m1), CC_ERR_NOTFOUND);
	CHECK_EQ(s->ops->group_member_remove(s, top, f.m2), CC_OK);
	n = 0;
	CHECK_EQ(s->ops->machine_status_list(s, &filt, COUNTER(store_machine_status), &n), CC_OK);
	CHECK_EQ(n, 0);
}

/* ---- machines ---- */

static void case_machines(struct store **sp)
{
	struct store *s = *sp;
	struct fleet f;
	struct store_machine m, got;
	int64_t id = 0;
	int n = 0;

	fleet(s, &f);
	CHECK_EQ(s->ops->machine_find(s, "SN-0001", &got), CC_OK);
	CHECK_EQ(got.id, f.m1);
	CHECK_STR(got.model, "barista-9");
	CHECK_EQ(got.customer_id, f.customer);
	CHECK_EQ(got.site_id, f.site);
	CHECK(strstr(got.cert_pem, "SN-0001") != NULL);
	CHECK_EQ(got.revoked_ms, 0);
	CHECK_EQ(got.cert_not_after_ms, T0 + 365 * 24 * 60 * MIN);
	CHECK_EQ(s->ops->machine_get(s, f.m2, &got), CC_OK);
	CHECK_EQ(got.site_id, 0);
	CHECK_EQ(s->ops->machine_get(s, f.m2 + 1000, &got), CC_ERR_NOTFOUND);
	CHECK_EQ(s->ops->machine_find(s, "SN-9999", &got), CC_ERR_NOTFOUND);
	machine_row(&m, f.customer, 0, "SN-0001");
	CHECK_EQ(s->ops->machine_add(s, &m, &id), CC_ERR_EXISTS);
	CHECK_EQ(s->ops->machine_list(s, f.customer, COUNTER(store_machine), &n), CC_OK);
	CHECK_EQ(n, 2);

	/* Site changes and decommissioning are columns of the row. */
	CHECK_EQ(s->ops->row_set(s, STORE_COL_MACHINE_SITE, f.m2, f.site), CC_OK);
	CHECK_EQ(s->ops->machine_get(s, f.m2, &got), CC_OK);
	CHECK_EQ(got.site_id, f.site);
	CHECK_EQ(s->ops->row_set(s, STORE_COL_MACHINE_SITE, f.m2, 0), CC_OK);
	CHECK_EQ(s->ops->machine_get(s, f.m2, &got), CC_OK);
	CHECK_EQ(got.site_id, 0);
	CHECK_EQ(s->ops->row_set(s, STORE_COL_MACHINE_DECOMMISSIONED, f.m2, T0 + 9), CC_OK);
	CHECK_EQ(s->ops->machine_get(s, f.m2, &got), CC_OK);
	CHECK_EQ(got.decommissioned_ms, T0 + 9);
	CHECK_EQ(got.moved, 0);
	/* Retiring frees the serial for a new row; the old row keeps reading it. */
	CHECK_EQ(s->ops->row_set(s, STORE_COL_MACHINE_RETIRED, f.m1, T0 + 10), CC_OK);
	CHECK_EQ(s->ops->machine_get(s, f.m1, &got), CC_OK);
	CHECK_EQ(got.moved, 1);
	CHECK_STR(got.serial, "SN-0001");
	CHECK_EQ(s->ops->machine_add(s, &m, &id), CC_OK);
	CHECK(id != f.m1);
	CHECK_EQ(s->ops->machine_find(s, "SN-0001", &got), CC_OK);
	CHECK_EQ(got.id, id);
	CHECK_EQ(got.moved, 0);
}

static int find_fp(void *ctx, const struct store_revoked_cert *c)
{
	const char *want = ctx;

	return strcmp(c->fingerprint, want) == 0;
}

static void case_machine_certs(struct store **sp)
{
	struct store *s = *sp;
	struct fleet f;
	struct store_machine got, renewed;
	struct store_revoked_cert rc = { 0 };
	char old_fp[65];
	int n = 0;

	fleet(s, &f);
	CHECK_EQ(s->ops->machine_get(s, f.m1, &got), CC_OK);
	memcpy(old_fp, got.cert_fingerprint, sizeof(old_fp));
	machine_row(&renewed, f.customer, f.site, "SN-0001");
	memset(renewed.cert_fingerprint, 'e', 64);
	renewed.cert_not_after_ms = T0 + 1000;
	CHECK_EQ(s->ops->machine_cert_set(s, f.m1, &renewed, T0 + 500), CC_OK);
	CHECK_EQ(s->ops->machine_get(s, f.m1, &got), CC_OK);
	CHECK_STR(got.cert_fingerprint, renewed.cert_fingerprint);
	CHECK_STR(got.prev_cert_fingerprint, old_fp);
	CHECK_EQ(got.prev_cert_until_ms, T0 + 500);
	CHECK_EQ(got.cert_not_after_ms, T0 + 1000);

	CHECK_EQ(s->ops->machine_revoke(s, f.m1, T0 + 20), CC_OK);
	CHECK_EQ(s->ops->machine_revoke(s, f.m1, T0 + 21), CC_ERR_STATE);
	CHECK_EQ(s->ops->machine_get(s, f.m1, &got), CC_OK);
	CHECK_EQ(got.revoked_ms, T0 + 20);
	/* A revoked machine's certificate is not renewed. */
	CHECK_EQ(s->ops->machine_cert_set(s, f.m1, &renewed, T0 + 600), CC_ERR_STATE);
	/* The CRL lists the certificate and the previous one still accepted. */
	CHECK_EQ(s->ops->revoked_cert_list(s, find_fp, renewed.cert_fingerprint), 1);
	CHECK_EQ(s->ops->revoked_cert_list(s, find_fp, old_fp), 1);
	memset(rc.fingerprint, 'a', 64);
	snprintf(rc.cert_pem, sizeof(rc.cert_pem), "%s", "pem");
	rc.revoked_ms = T0;
	CHECK_EQ(s->ops->revoked_cert_add(s, &rc), CC_OK);
	CHECK_EQ(s->ops->revoked_cert_add(s, &rc), CC_OK); /* idempotent */
	CHECK_EQ(s->ops->revoked_cert_list(s, COUNTER(store_revoked_cert), &n), CC_OK);
	CHECK_EQ(n, 3);
	/* The CRL outlives the machine rows. */
	CHECK_EQ(s->ops->org_delete(s, f.customer), CC_OK);
	n = 0;
	CHECK_EQ(s->ops->revoked_cert_list(s, COUNTER(store_revoked_cert), &n), CC_OK);
	CHECK_EQ(n, 3);
}

struct serials {
	char text[256];
};

static int collect_serial(void *ctx, const struct store_machine_status *row)
{
	struct serials *sv = ctx;

	strncat(sv->text, row->m.serial, sizeof(sv->text) - strlen(sv->text) - 2);
	strcat(sv->text, ",");
	return 0;
}

static void case_machine_state(struct store **sp)
{
	struct store *s = *sp;
	struct fleet f;
	struct store_machine_state st = { 0 }, got;
	struct store_machine_filter filt = { 0 };
	struct serials sv = { "" };

	fleet(s, &f);
	(void)add_machine(s, f.customer, 0, "SN-0003");
	CHECK_EQ(s->ops->machine_state_get(s, f.m1, &got), CC_ERR_NOTFOUND);
	st.machine_id = f.m1;
	st.online = 1;
	st.last_seen_ms = T0 + 100;
	st.changed_ms = T0 + 100;
	memcpy(st.info, "sealed-info", 11);
	st.info_len = 11;
	CHECK_EQ(s->ops->machine_state_set(s, &st), CC_OK);
	CHECK_EQ(s->ops->machine_state_touch(s, f.m1, T0 + 200), CC_OK);
	CHECK_EQ(s->ops->machine_state_get(s, f.m1, &got), CC_OK);
	CHECK_EQ(got.online, 1);
	CHECK_EQ(got.last_seen_ms, T0 + 200);
	CHECK_EQ(got.info_len, 11);
	CHECK(memcmp(got.info, "sealed-info", 11) == 0);
	/* info_len 0 keeps the info. */
	st.online = 0;
	st.info_len = 0;
	st.last_seen_ms = T0 + 300;
	st.changed_ms = T0 + 300;
	snprintf(st.disconnect_reason, sizeof(st.disconnect_reason), "%s", "keepalive timeout");
	CHECK_EQ(s->ops->machine_state_set(s, &st), CC_OK);
	CHECK_EQ(s->ops->machine_state_get(s, f.m1, &got), CC_OK);
	CHECK_EQ(got.online, 0);
	CHECK_EQ(got.info_len, 11);
	CHECK_STR(got.disconnect_reason, "keepalive timeout");
	st.machine_id = f.m2;
	st.online = 1;
	CHECK_EQ(s->ops->machine_state_set(s, &st), CC_OK);

	/* The fleet list: by serial, filtered. */
	CHECK_EQ(s->ops->machine_status_list(s, &filt, collect_serial, &sv), CC_OK);
	CHECK_STR(sv.text, "SN-0001,SN-0002,SN-0003,");
	sv.text[0] = '\0';
	filt.status = STORE_STATUS_ONLINE;
	CHECK_EQ(s->ops->machine_status_list(s, &filt, collect_serial, &sv), CC_OK);
	CHECK_STR(sv.text, "SN-0002,");
	sv.text[0] = '\0';
	filt.status = STORE_STATUS_OFFLINE; /* never seen counts as offline */
	CHECK_EQ(s->ops->machine_status_list(s, &filt, collect_serial, &sv), CC_OK);
	CHECK_STR(sv.text, "SN-0001,SN-0003,");
	sv.text[0] = '\0';
	filt.status = STORE_STATUS_ANY;
	filt.after_serial = "SN-0001";
	CHECK_EQ(s->ops->machine_status_list(s, &filt, collect_serial, &sv), CC_OK);
	CHECK_STR(sv.text, "SN-0002,SN-0003,");
	sv.text[0] = '\0';
	filt.after_serial = NULL;
	filt.site = "main-street";
	CHECK_EQ(s->ops->machine_status_list(s, &filt, collect_serial, &sv), CC_OK);
	CHECK_STR(sv.text, "SN-0001,");
	sv.text[0] = '\0';
	filt.site = NULL;
	filt.nsort = 1;
	filt.sort[0] = STORE_SORT_SERIAL;
	filt.sort_desc[0] = 1;
	CHECK_EQ(s->ops->machine_status_list(s, &filt, collect_serial, &sv), CC_OK);
	CHECK_STR(sv.text, "SN-0003,SN-0002,SN-0001,");
	sv.text[0] = '\0';
	memset(&filt, 0, sizeof(filt));
	CHECK_EQ(s->ops->row_set(s, STORE_COL_MACHINE_DECOMMISSIONED, f.m2, T0), CC_OK);
	CHECK_EQ(s->ops->machine_status_list(s, &filt, collect_serial, &sv), CC_OK);
	CHECK_STR(sv.text, "SN-0001,SN-0003,");
	sv.text[0] = '\0';
	filt.status = STORE_STATUS_DECOMMISSIONED;
	CHECK_EQ(s->ops->machine_status_list(s, &filt, collect_serial, &sv), CC_OK);
	CHECK_STR(sv.text, "SN-0002,");
}

struct state_seen {
	int n, before;
	int64_t last_at;
};

static int see_state(void *ctx, const struct store_state_change *c, int before)
{
	struct state_seen *ss = ctx;

	ss->n++;
	ss->before += before;
	ss->last_at = c->at_ms;
	return 0;
}

static int see_refusal(void *ctx, const char *reason, int64_t count, int64_t last_ms)
{
	int64_t *out = ctx;

	if (strcmp(reason, "too-large") == 0) {
		out[0] = count;
		out[1] = last_ms;
	}
	return 0;
}

static void case_state_changes_refusals(struct store **sp)
{
	struct store *s = *sp;
	struct fleet f;
	struct store_state_change c = { 0 };
	struct state_seen ss = { 0 };
	int64_t got[2] = { 0, 0 };

	fleet(s, &f);
	c.machine_id = f.m1;
	c.kind = STATE_FAULT;
	snprintf(c.code, sizeof(c.code), "%s", "E42");
	c.at_ms = T0 + 10;
	c.value = 1;
	CHECK_EQ(s->ops->state_change_add(s, &c), CC_OK);
	CHECK_EQ(s->ops->state_change_add(s, &c), CC_OK); /* the same again: replaced */
	c.at_ms = T0 + 50;
	c.value = 0;
	CHECK_EQ(s->ops->state_change_add(s, &c), CC_OK);
	c.machine_id = f.m2 + 1000; /* a machine deleted meanwhile: a no-op */
	CHECK_EQ(s->ops->state_change_add(s, &c), CC_OK);
	CHECK_EQ(s->ops->state_changes(s, f.m1, T0 + 20, T0 + 100, see_state, &ss), CC_OK);
	CHECK_EQ(ss.n, 2);
	CHECK_EQ(ss.before, 1);
	CHECK_EQ(ss.last_at, T0 + 50);
	memset(&ss, 0, sizeof(ss));
	CHECK_EQ(s->ops->state_changes(s, f.m1, T0, T0 + 50, see_state, &ss), CC_OK);
	CHECK_EQ(ss.n, 1); /* to_ms is exclusive */

	CHECK_EQ(s->ops->refusal_count(s, f.m1, "too-large", T0 + 1), CC_OK);
	CHECK_EQ(s->ops->refusal_count(s, f.m1, "too-large", T0 + 2), CC_OK);
	CHECK_EQ(s->ops->refusal_count(s, f.m1, "bad-json", T0 + 3), CC_OK);
	CHECK_EQ(s->ops->refusal_list(s, f.m1, see_refusal, got), CC_OK);
	CHECK_EQ(got[0], 2);
	CHECK_EQ(got[1], T0 + 2);
}

/* ---- users ---- */

static void case_users(struct store **sp)
{
	struct store *s = *sp;
	struct fleet f;
	struct store_user u = { 0 }, got;
	int64_t id = 0, req = 0;
	uint8_t totp[20];
	int n = 0;

	fleet(s, &f);
	CHECK_EQ(s->ops->user_find(s, "barista", &got), CC_OK);
	CHECK_EQ(got.id, f.user);
	CHECK_EQ(got.org_id, f.customer);
	CHECK_STR(got.role, "viewer");
	CHECK_EQ(got.profile_len, 14);
	CHECK(memcmp(got.profile, "sealed-profile", 14) == 0);
	CHECK_EQ(got.totp_len, 0);
	CHECK_EQ(s->ops->user_get(s, f.user + 1000, &got), CC_ERR_NOTFOUND);
	CHECK_EQ(s->ops->user_find(s, "nobody", &got), CC_ERR_NOTFOUND);
	u.org_id = f.customer;
	snprintf(u.login, sizeof(u.login), "%s", "barista");
	snprintf(u.role, sizeof(u.role), "%s", "admin");
	snprintf(u.password_hash, sizeof(u.password_hash), "%s", "x");
	u.profile_len = 1;
	CHECK_EQ(s->ops->user_add(s, &u, &id), CC_ERR_EXISTS);
	(void)add_user(s, f.maker, "engineer");
	CHECK_EQ(s->ops->user_list(s, f.customer, COUNTER(store_user), &n), CC_OK);
	CHECK_EQ(n, 1);
	n = 0;
	CHECK_EQ(s->ops->user_list(s, 0, COUNTER(store_user), &n), CC_OK);
	CHECK_EQ(n, 2);

	CHECK_EQ(s->ops->user_password_set(s, f.user, "$argon2id$new"), CC_OK);
	CHECK_EQ(s->ops->user_password_set(s, f.user + 1000, "$argon2id$new"), CC_ERR_NOTFOUND);
	CHECK_EQ(s->ops->user_get(s, f.user, &got), CC_OK);
	CHECK_STR(got.password_hash, "$argon2id$new");

	/* TOTP: a code's step is good once. */
	memset(totp, 7, sizeof(totp));
	CHECK_EQ(s->ops->user_totp_set(s, f.user, totp, sizeof(totp), 1), CC_OK);
	CHECK_EQ(s->ops->user_totp_step(s, f.user, 100), CC_OK);
	CHECK_EQ(s->ops->user_totp_step(s, f.user, 100), CC_ERR_STATE);
	CHECK_EQ(s->ops->user_totp_step(s, f.user, 99), CC_ERR_STATE);
	CHECK_EQ(s->ops->user_totp_step(s, f.user, 101), CC_OK);
	CHECK_EQ(s->ops->user_get(s, f.user, &got), CC_OK);
	CHECK_EQ(got.totp_len, sizeof(totp));
	CHECK_EQ(got.totp_enabled, 1);
	CHECK_EQ(got.totp_last_step, 101);
	CHECK_EQ(s->ops->user_totp_set(s, f.user, NULL, 0, 0), CC_OK);
	CHECK_EQ(s->ops->user_get(s, f.user, &got), CC_OK);
	CHECK_EQ(got.totp_len, 0);

	CHECK_EQ(s->ops->row_set(s, STORE_COL_USER_DEACTIVATED, f.user, T0 + 3), CC_OK);
	CHECK_EQ(s->ops->user_get(s, f.user, &got), CC_OK);
	CHECK_EQ(got.deactivated_ms, T0 + 3);

	/* A deletion request is recorded once. */
	CHECK_EQ(s->ops->user_deletion_request(s, f.user, T0 + 40, &req), CC_OK);
	CHECK_EQ(req, T0 + 40);
	CHECK_EQ(s->ops->user_deletion_request(s, f.user, T0 + 80, &req), CC_OK);
	CHECK_EQ(req, T0 + 40);
	CHECK_EQ(s->ops->user_deletion_request(s, f.user + 1000, T0, &req), CC_ERR_NOTFOUND);

	/* A deleted account's login is never given again. */
	CHECK_EQ(s->ops->login_retired(s, "barista"), 0);
	CHECK_EQ(s->ops->user_delete(s, f.user), CC_OK);
	CHECK_EQ(s->ops->user_delete(s, f.user), CC_ERR_NOTFOUND);
	CHECK_EQ(s->ops->login_retired(s, "barista"), 1);
	CHECK_EQ(s->ops->user_add(s, &u, &id), CC_ERR_STATE);
	CHECK_EQ(s->ops->user_find(s, "barista", &got), CC_ERR_NOTFOUND);
}

/* ---- credentials ---- */

static void credential_row(struct store_credential *c, int kind, int64_t user, int64_t org, uint8_t tag,
                           int64_t expires)
{
	memset(c, 0, sizeof(*c));
	memset(c->token_hash, tag, sizeof(c->token_hash));
	memset(c->csrf_hash, tag ^ 0xff, sizeof(c->csrf_hash));
	c->kind = kind;
	c->user_id = user;
	c->org_id = org;
	snprintf(c->role, sizeof(c->role), "%s", "viewer");
	snprintf(c->name, sizeof(c->name), "cred-%u", tag);
	snprintf(c->created_by, sizeof(c->created_by), "%s", "cli:root");
	c->created_ms = T0;
	c->expires_ms = expires;
	c->rate_per_min = kind == CREDENTIAL_API_TOKEN ? 60 : 0;
}

static void case_credentials(struct store **sp)
{
	struct store *s = *sp;
	struct fleet f;
	struct store_credential c, got;
	int64_t s1 = 0, s2 = 0, s3 = 0, tok = 0, id = 0;
	uint8_t h[32];
	int n = 0;

	fleet(s, &f);
	credential_row(&c, CREDENTIAL_SESSION, f.user, f.customer, 1, T0 + 60 * MIN);
	c.flags = CREDENTIAL_ENROL_ONLY;
	CHECK_EQ(s->ops->credential_add(s, &c, &s1), CC_OK);
	CHECK_EQ(s->ops->credential_add(s, &c, &id), CC_ERR_EXISTS); /* the token hash is unique */
	credential_row(&c, CREDENTIAL_SESSION, f.user, f.customer, 2, T0 + 60 * MIN);
	CHECK_EQ(s->ops->credential_add(s, &c, &s2), CC_OK);
	credential_row(&c, CREDENTIAL_SESSION, f.user, f.customer, 3, T0 - 1); /* expired */
	CHECK_EQ(s->ops->credential_add(s, &c, &s3), CC_OK);
	credential_row(&c, CREDENTIAL_API_TOKEN, 0, f.customer, 4, T0 + 24 * 60 * MIN);
	CHECK_EQ(s->ops->credential_add(s, &c, &tok), CC_OK);

	memset(h, 1, sizeof(h));
	CHECK_EQ(s->ops->credential_find(s, h, &got), CC_OK);
	CHECK_EQ(got.id, s1);
	CHECK_EQ(got.kind, CREDENTIAL_SESSION);
	CHECK_EQ(got.user_id, f.user);
	CHECK_EQ(got.flags, CREDENTIAL_ENROL_ONLY);
	CHECK_EQ(got.csrf_hash[0], 0xfe);
	CHECK_EQ(got.expires_ms, T0 + 60 * MIN);
	memset(h, 9, sizeof(h));
	CHECK_EQ(s->ops->credential_find(s, h, &got), CC_ERR_NOTFOUND);
	CHECK_EQ(s->ops->credential_get(s, tok, &got), CC_OK);
	CHECK_EQ(got.kind, CREDENTIAL_API_TOKEN);
	CHECK_EQ(got.user_id, 0);
	CHECK_EQ(got.rate_per_min, 60);
	CHECK_EQ(s->ops->credential_list(s, CREDENTIAL_SESSION, COUNTER(store_credential), &n), CC_OK);
	CHECK_EQ(n, 3);
	n = 0;
	CHECK_EQ(s->ops->credential_list(s, CREDENTIAL_API_TOKEN, COUNTER(store_credential), &n), CC_OK);
	CHECK_EQ(n, 1);

	CHECK_EQ(s->ops->credential_revoke(s, tok, T0 + 1), CC_OK);
	CHECK_EQ(s->ops->credential_revoke(s, tok, T0 + 2), CC_ERR_STATE);
	CHECK_EQ(s->ops->credential_revoke(s, tok + 1000, T0 + 2), CC_ERR_NOTFOUND);
	CHECK_EQ(s->ops->credential_get(s, tok, &got), CC_OK);
	CHECK_EQ(got.revoked_ms, T0 + 1);

	/* Signing out everywhere else keeps the session in use. */
	CHECK_EQ(s->ops->credential_revoke_sessions(s, f.user, s2, T0 + 5), CC_OK);
	CHECK_EQ(s->ops->credential_get(s, s1, &got), CC_OK);
	CHECK_EQ(got.revoked_ms, T0 + 5);
	CHECK_EQ(s->ops->credential_get(s, s2, &got), CC_OK);
	CHECK_EQ(got.revoked_ms, 0);

	/* Purge: expired and revoked sessions go; the live one stays. */
	CHECK_EQ(s->ops->credential_purge(s, T0), CC_OK);
	CHECK_EQ(s->ops->credential_get(s, s1, &got), CC_ERR_NOTFOUND);
	CHECK_EQ(s->ops->credential_get(s, s3, &got), CC_ERR_NOTFOUND);
	CHECK_EQ(s->ops->credential_get(s, s2, &got), CC_OK);
	/* A deleted account's sessions go with it. */
	CHECK_EQ(s->ops->user_delete(s, f.user), CC_OK);
	CHECK_EQ(s->ops->credential_get(s, s2, &got), CC_ERR_NOTFOUND);
}

/* ---- grants: a check that fails means no access ---- */

static int64_t add_grant(struct store *s, const struct fleet *f, int64_t machine, int64_t site, const char *purpose,
                         int64_t expires)
{
	struct store_grant g = { 0 };
	int64_t id = 0;

	g.user_id = f->user;
	g.machine_id = machine;
	g.site_id = site;
	g.customer_id = f->customer;
	snprintf(g.purpose, sizeof(g.purpose), "%s", purpose);
	snprintf(g.created_by, sizeof(g.created_by), "%s", "user:admin");
	g.created_ms = T0;
	g.expires_ms = expires;
	CHECK_EQ(s->ops->grant_add(s, &g, &id), CC_OK);
	CHECK(id > 0);
	return id;
}

static void case_grants(struct store **sp)
{
	struct store *s = *sp;
	struct fleet f;
	struct store_grant got;
	int64_t g1, g2, other;
	int n = 0;

	fleet(s, &f);
	other = add_user(s, f.customer, "other");
	g1 = add_grant(s, &f, f.m1, 0, "support", T0 + 60 * MIN);
	CHECK_EQ(s->ops->grant_get(s, g1, &got), CC_OK);
	CHECK_EQ(got.user_id, f.user);
	CHECK_EQ(got.machine_id, f.m1);
	CHECK_EQ(got.site_id, 0);
	CHECK_STR(got.purpose, "support");
	CHECK_EQ(got.expires_ms, T0 + 60 * MIN);
	CHECK_EQ(s->ops->grant_get(s, g1 + 1000, &got), CC_ERR_NOTFOUND);

	CHECK_EQ(s->ops->grant_covers(s, f.user, f.m1, f.site, "support", T0), 1);
	/* Everything that is not exactly that grant, in force, is no access. */
	CHECK_EQ(s->ops->grant_covers(s, f.user, f.m1, f.site, "maintenance", T0), 0);
	CHECK_EQ(s->ops->grant_covers(s, other, f.m1, f.site, "support", T0), 0);
	CHECK_EQ(s->ops->grant_covers(s, 0, f.m1, f.site, "support", T0), 0);
	CHECK_EQ(s->ops->grant_covers(s, f.user, f.m2, 0, "support", T0), 0);
	CHECK_EQ(s->ops->grant_covers(s, f.user, f.m1, f.site, "support", T0 + 60 * MIN), 0); /* expiry is exclusive */
	CHECK_EQ(s->ops->grant_covers(s, f.user, f.m1, f.site, "support", T0 + 60 * MIN - 1), 1);
	CHECK_EQ(s->ops->grant_covers(s, f.user, f.m1, f.site, "", T0), 0);
	CHECK_EQ(s->ops->grant_covers(s, f.user, f.m1, f.site, "Support", T0), 0);
	CHECK_EQ(s->ops->grant_covers(s, f.user, f.m1, f.site, NULL, T0), 0);

	/* A site grant covers the machines at the site, and only them. */
	g2 = add_grant(s, &f, 0, f.site, "maintenance", T0 + 60 * MIN);
	CHECK_EQ(s->ops->grant_covers(s, f.user, f.m1, f.site, "maintenance", T0), 1);
	CHECK_EQ(s->ops->grant_covers(s, f.user, f.m2, 0, "maintenance", T0), 0);
	CHECK_EQ(s->ops->grant_covers(s, f.user, f.m2, f.site + 1000, "maintenance", T0), 0);
	/* "No machine" (id 0) is covered by nothing, a site grant's empty machine neither. */
	CHECK_EQ(s->ops->grant_covers(s, f.user, 0, 0, "maintenance", T0), 0);

	CHECK_EQ(s->ops->grant_list(s, f.user, COUNTER(store_grant), &n), CC_OK);
	CHECK_EQ(n, 2);
	n = 0;
	CHECK_EQ(s->ops->grant_list(s, other, COUNTER(store_grant), &n), CC_OK);
	CHECK_EQ(n, 0);

	CHECK_EQ(s->ops->grant_revoke(s, g1, T0 + 1), CC_OK);
	CHECK_EQ(s->ops->grant_revoke(s, g1, T0 + 2), CC_ERR_STATE);
	CHECK_EQ(s->ops->grant_covers(s, f.user, f.m1, 0, "support", T0), 0);
	CHECK_EQ(s->ops->grant_get(s, g1, &got), CC_OK);
	CHECK_EQ(got.revoked_ms, T0 + 1);
	/* A machine's grants go with the machine, an account's with the account. */
	CHECK_EQ(s->ops->user_delete(s, f.user), CC_OK);
	CHECK_EQ(s->ops->grant_get(s, g2, &got), CC_ERR_NOTFOUND);
}

/* ---- integrity MACs: stored and returned as opaque bytes ---- */

static void case_row_macs(struct store **sp)
{
	struct store *s = *sp;
	struct fleet f;
	struct store_org o;
	struct store_machine m;
	struct store_user u;
	struct store_grant g;
	struct store_credential c;
	int64_t grant, cred = 0;
	size_t i;

	for (i = 0; i < sizeof(fake_mac); i++)
		fake_mac[i] = (uint8_t)(i * 7 + 1);
	fleet(s, &f);
	grant = add_grant(s, &f, f.m1, 0, "support", T0 + MIN);
	credential_row(&c, CREDENTIAL_SESSION, f.user, f.customer, 5, T0 + MIN);
	CHECK_EQ(s->ops->credential_add(s, &c, &cred), CC_OK);
	/* A row written by the backend alone has no MAC: mac_len 0. */
	CHECK_EQ(s->ops->org_get(s, f.customer, &o), CC_OK);
	CHECK_EQ(o.mac_len, 0);
	CHECK_EQ(s->ops->machine_get(s, f.m1, &m), CC_OK);
	CHECK_EQ(m.mac_len, 0);

	CHECK_EQ(s->ops->row_mac_set(s, STORE_TABLE_ORGS, f.customer, fake_mac, STORE_MAC_LEN), CC_OK);
	CHECK_EQ(s->ops->row_mac_set(s, STORE_TABLE_MACHINES, f.m1, fake_mac, STORE_MAC_LEN), CC_OK);
	CHECK_EQ(s->ops->row_mac_set(s, STORE_TABLE_USERS, f.user, fake_mac, STORE_MAC_LEN), CC_OK);
	CHECK_EQ(s->ops->row_mac_set(s, STORE_TABLE_GRANTS, grant, fake_mac, STORE_MAC_LEN), CC_OK);
	CHECK_EQ(s->ops->row_mac_set(s, STORE_TABLE_CREDENTIALS, cred, fake_mac, STORE_MAC_LEN), CC_OK);
	*sp = s = reopen(s);
	CHECK_EQ(s->ops->org_get(s, f.customer, &o), CC_OK);
	CHECK_EQ(o.mac_len, STORE_MAC_LEN);
	CHECK(memcmp(o.mac, fake_mac, STORE_MAC_LEN) == 0);
	CHECK_EQ(s->ops->machine_find(s, "SN-0001", &m), CC_OK);
	CHECK_EQ(m.mac_len, STORE_MAC_LEN);
	CHECK(memcmp(m.mac, fake_mac, STORE_MAC_LEN) == 0);
	CHECK_EQ(s->ops->user_find(s, "barista", &u), CC_OK);
	CHECK_EQ(u.mac_len, STORE_MAC_LEN);
	CHECK(memcmp(u.mac, fake_mac, STORE_MAC_LEN) == 0);
	CHECK_EQ(s->ops->grant_get(s, grant, &g), CC_OK);
	CHECK_EQ(g.mac_len, STORE_MAC_LEN);
	CHECK(memcmp(g.mac, fake_mac, STORE_MAC_LEN) == 0);
	CHECK_EQ(s->ops->credential_get(s, cred, &c), CC_OK);
	CHECK_EQ(c.mac_len, STORE_MAC_LEN);
	CHECK(memcmp(c.mac, fake_mac, STORE_MAC_LEN) == 0);

	/* Damage stays visible: a short MAC comes back short, never padded;
	 * a cleared one comes back empty. */
	CHECK_EQ(s->ops->row_mac_set(s, STORE_TABLE_GRANTS, grant, fake_mac, 5), CC_OK);
	CHECK_EQ(s->ops->grant_get(s, grant, &g), CC_OK);
	CHECK_EQ(g.mac_len, 5);
	CHECK_EQ(s->ops->row_mac_set(s, STORE_TABLE_MACHINES, f.m1, NULL, 0), CC_OK);
	CHECK_EQ(s->ops->machine_get(s, f.m1, &m), CC_OK);
	CHECK_EQ(m.mac_len, 0);
	/* A MAC for no row is an error, not a new row. */
	CHECK(s->ops->row_mac_set(s, STORE_TABLE_USERS, f.user + 1000, fake_mac, STORE_MAC_LEN) != CC_OK);
}

/* ---- transactions ---- */

static void case_tx_all_or_nothing(struct store **sp)
{
	struct store *s = *sp;
	struct fleet f;
	struct store_org o;
	struct store_machine m;
	struct store_user u = { 0 };
	int64_t id = 0;
	int n = 0;

	fleet(s, &f);
	CHECK_EQ(s->ops->in_transaction(s), 0);
	/* A batch whose last member fails leaves nothing of the others. */
	CHECK_EQ(s->ops->begin(s), CC_OK);
	CHECK_EQ(s->ops->in_transaction(s), 1);
	id = add_org(s, f.maker, ORG_CUSTOMER, "new-customer");
	(void)add_machine(s, id, 0, "SN-0100");
	CHECK_EQ(s->ops->meta_set(s, "in-batch", "yes"), CC_OK);
	u.org_id = id;
	snprintf(u.login, sizeof(u.login), "%s", "barista"); /* taken */
	snprintf(u.role, sizeof(u.role), "%s", "viewer");
	snprintf(u.password_hash, sizeof(u.password_hash), "%s", "x");
	u.profile_len = 1;
	CHECK_EQ(s->ops->user_add(s, &u, &id), CC_ERR_EXISTS);
	s->ops->rollback(s);
	CHECK_EQ(s->ops->in_transaction(s), 0);
	CHECK_EQ(s->ops->org_find(s, "new-customer", &o), CC_ERR_NOTFOUND);
	CHECK_EQ(s->ops->machine_find(s, "SN-0100", &m), CC_ERR_NOTFOUND);
	{
		char out[8];

		CHECK_EQ(s->ops->meta_get(s, "in-batch", out, sizeof(out)), CC_ERR_NOTFOUND);
	}
	/* rollback outside a transaction is safe. */
	s->ops->rollback(s);

	/* A committed batch is all there, after a reopen too. */
	CHECK_EQ(s->ops->begin(s), CC_OK);
	id = add_org(s, f.maker, ORG_CUSTOMER, "new-customer");
	(void)add_machine(s, id, 0, "SN-0100");
	CHECK_EQ(s->ops->commit(s), CC_OK);
	*sp = s = reopen(s);
	CHECK_EQ(s->ops->org_find(s, "new-customer", &o), CC_OK);
	CHECK_EQ(s->ops->machine_find(s, "SN-0100", &m), CC_OK);
	CHECK_EQ(s->ops->machine_list(s, 0, COUNTER(store_machine), &n), CC_OK);
	CHECK_EQ(n, 3);
}

/* An op that fails as documented (a name taken) inside a transaction
 * leaves the transaction usable: callers try, look at the code, and go
 * on (PostgreSQL would abort the whole transaction unless the backend
 * fences each statement). */
static void case_tx_failure_keeps_tx(struct store **sp)
{
	struct store *s = *sp;
	struct store_org o = { 0 }, got;
	int64_t maker, id = 0;

	maker = add_org(s, 0, ORG_MANUFACTURER, "acme");
	CHECK_EQ(s->ops->begin(s), CC_OK);
	(void)add_org(s, maker, ORG_CUSTOMER, "first");
	o.parent_id = maker;
	o.kind = ORG_CUSTOMER;
	snprintf(o.name, sizeof(o.name), "%s", "acme"); /* taken */
	o.created_ms = T0;
	CHECK_EQ(s->ops->org_add(s, &o, &id), CC_ERR_EXISTS);
	CHECK_EQ(s->ops->org_get(s, id + 1000, &got), CC_ERR_NOTFOUND);
	(void)add_org(s, maker, ORG_CUSTOMER, "second");
	CHECK_EQ(s->ops->meta_set(s, "after-failure", "yes"), CC_OK);
	CHECK_EQ(s->ops->commit(s), CC_OK);
	CHECK_EQ(s->ops->in_transaction(s), 0);
	CHECK_EQ(s->ops->org_find(s, "first", &got), CC_OK);
	CHECK_EQ(s->ops->org_find(s, "second", &got), CC_OK);
}

static void case_tx_savepoint(struct store **sp)
{
	struct store *s = *sp;
	struct fleet f;
	struct store_machine m;

	fleet(s, &f);
	CHECK_EQ(s->ops->begin(s), CC_OK);
	(void)add_machine(s, f.customer, 0, "SN-0200");
	CHECK_EQ(s->ops->savepoint(s), CC_OK);
	(void)add_machine(s, f.customer, 0, "SN-0201");
	s->ops->savepoint_rollback(s);
	CHECK_EQ(s->ops->in_transaction(s), 1);
	CHECK_EQ(s->ops->savepoint(s), CC_OK);
	(void)add_machine(s, f.customer, 0, "SN-0202");
	CHECK_EQ(s->ops->savepoint_release(s), CC_OK);
	CHECK_EQ(s->ops->commit(s), CC_OK);
	CHECK_EQ(s->ops->machine_find(s, "SN-0200", &m), CC_OK);
	CHECK_EQ(s->ops->machine_find(s, "SN-0201", &m), CC_ERR_NOTFOUND);
	CHECK_EQ(s->ops->machine_find(s, "SN-0202", &m), CC_OK);
}

/* A read transaction sees one snapshot while another connection writes. */
static void case_tx_read_snapshot(struct store **sp)
{
	struct store *s = *sp, *writer = NULL;
	struct fleet f;
	struct store_machine m;
	int n = 0;

	fleet(s, &f);
	CHECK_EQ(ops->open(location, 0, &writer), CC_OK);
	if (writer == NULL)
		return;
	CHECK_EQ(s->ops->begin_read(s), CC_OK);
	CHECK_EQ(s->ops->in_transaction(s), 1);
	CHECK_EQ(s->ops->machine_list(s, 0, COUNTER(store_machine), &n), CC_OK);
	CHECK_EQ(n, 2);
	(void)add_machine(writer, f.customer, 0, "SN-0300");
	n = 0;
	CHECK_EQ(s->ops->machine_list(s, 0, COUNTER(store_machine), &n), CC_OK);
	CHECK_EQ(n, 2);
	s->ops->rollback(s);
	CHECK_EQ(s->ops->machine_find(s, "SN-0300", &m), CC_OK);
	ops->close(writer);
}

/* ---- the audit log ---- */

static void audit_row(struct store_audit *r, int64_t seq, const char *actor, const char *action, const char *serial,
                      int64_t customer)
{
	memset(r, 0, sizeof(*r));
	r->seq = seq;
	r->ts_ms = T0 + seq * 1000;
	r->customer_id = customer;
	snprintf(r->actor, sizeof(r->actor), "%s", actor);
	snprintf(r->source, sizeof(r->source), "%s", "192.0.2.1:5555");
	snprintf(r->action, sizeof(r->action), "%s", action);
	snprintf(r->machines, sizeof(r->machines), "%s", serial);
	snprintf(r->data_class, sizeof(r->data_class), "%s", "technical");
	snprintf(r->purpose, sizeof(r->purpose), "%s", "support");
	snprintf(r->outcome, sizeof(r->outcome), "%s", "ok");
}

struct chain {
	uint8_t prev[STORE_AUDIT_HASH_LEN];
	int64_t next_seq;
	int good, bad;
	char seqs[128];
};

static int verify_link(void *ctx, const struct store_audit *r)
{
	struct chain *c = ctx;
	uint8_t h[STORE_AUDIT_HASH_LEN];
	char one[24];

	if (r->seq == c->next_seq && r->hash_len == STORE_AUDIT_HASH_LEN &&
	    audit_record_hash(c->prev, r, h) == CC_OK && memcmp(h, r->hash, sizeof(h)) == 0)
		c->good++;
	else
		c->bad++;
	memcpy(c->prev, r->hash, sizeof(c->prev));
	c->next_seq = r->seq + 1;
	snprintf(one, sizeof(one), "%lld,", (long long)r->seq);
	strncat(c->seqs, one, sizeof(c->seqs) - strlen(c->seqs) - 1);
	return 0;
}

static int list_seqs(void *ctx, const struct store_audit *r)
{
	char *out = ctx, one[24];

	snprintf(one, sizeof(one), "%lld,", (long long)r->seq);
	strncat(out, one, 128 - strlen(out) - 1);
	return 0;
}

static int stop_after_one(void *ctx, const struct store_audit *r)
{
	list_seqs(ctx, r);
	return 5;
}

static void case_audit_chain(struct store **sp)
{
	struct store *s = *sp;
	struct store_audit r;
	struct store_audit_filter filt = { 0 };
	struct chain c = { { 0 }, 1, 0, 0, "" };
	uint8_t prev[STORE_AUDIT_HASH_LEN] = { 0 }, head[STORE_AUDIT_HASH_LEN];
	static const char *const actors[] = { "user:ann", "user:bob", "cli:root", "user:ann", "token:7" };
	static const char *const actions[] = { "telemetry.get", "machine.add", "telemetry.list", "grant.add",
	                                       "telemetry.get" };
	static const char *const serials[] = { "SN-1", "SN-2", "*", "SN-1,SN-2", "SN-10" };
	int64_t seq = 0, i;
	char seqs[128] = "";

	CHECK_EQ(s->ops->audit_head(s, &seq, head), CC_ERR_NOTFOUND);
	/* Appending: each record's hash chains it to its predecessor. */
	for (i = 1; i <= 5; i++) {
		audit_row(&r, i, actors[i - 1], actions[i - 1], serials[i - 1], i % 2 ? 11 : 12);
		CHECK_EQ(audit_record_hash(prev, &r, r.hash), CC_OK);
		r.hash_len = STORE_AUDIT_HASH_LEN;
		CHECK_EQ(s->ops->audit_insert(s, &r), CC_OK);
		memcpy(prev, r.hash, sizeof(prev));
	}
	/* A seq is taken once: a second writer racing for it loses. */
	audit_row(&r, 3, "user:mallory", "machine.add", "SN-9", 0);
	r.hash_len = STORE_AUDIT_HASH_LEN;
	CHECK_EQ(s->ops->audit_insert(s, &r), CC_ERR_EXISTS);
	CHECK_EQ(s->ops->audit_head(s, &seq, head), CC_OK);
	CHECK_EQ(seq, 5);
	CHECK(memcmp(head, prev, sizeof(head)) == 0);

	/* Verifying: the stored records recompute to the stored chain. */
	*sp = s = reopen(s);
	CHECK_EQ(s->ops->audit_each(s, &filt, verify_link, &c), CC_OK);
	CHECK_EQ(c.good, 5);
	CHECK_EQ(c.bad, 0);
	CHECK_STR(c.seqs, "1,2,3,4,5,");

	/* Filters and pages. */
	filt.action_prefix = "telemetry.";
	CHECK_EQ(s->ops->audit_each(s, &filt, list_seqs, seqs), CC_OK);
	CHECK_STR(seqs, "1,3,5,");
	memset(&filt, 0, sizeof(filt));
	seqs[0] = '\0';
	filt.action_prefix = "telemetry_"; /* plain text: "_" is no wildcard */
	CHECK_EQ(s->ops->audit_each(s, &filt, list_seqs, seqs), CC_OK);
	CHECK_STR(seqs, "");
	memset(&filt, 0, sizeof(filt));
	seqs[0] = '\0';
	filt.serial = "SN-1"; /* an element of the list, exactly: not "SN-10" */
	CHECK_EQ(s->ops->audit_each(s, &filt, list_seqs, seqs), CC_OK);
	CHECK_STR(seqs, "1,4,");
	memset(&filt, 0, sizeof(filt));
	seqs[0] = '\0';
	filt.actor = "user:ann";
	CHECK_EQ(s->ops->audit_each(s, &filt, list_seqs, seqs), CC_OK);
	CHECK_STR(seqs, "1,4,");
	memset(&filt, 0, sizeof(filt));
	seqs[0] = '\0';
	filt.customer_id = 12;
	CHECK_EQ(s->ops->audit_each(s, &filt, list_seqs, seqs), CC_OK);
	CHECK_STR(seqs, "2,4,");
	memset(&filt, 0, sizeof(filt));
	seqs[0] = '\0';
	filt.from_ms = T0 + 2000; /* [from, to) */
	filt.to_ms = T0 + 4000;
	CHECK_EQ(s->ops->audit_each(s, &filt, list_seqs, seqs), CC_OK);
	CHECK_STR(seqs, "2,3,");
	memset(&filt, 0, sizeof(filt));
	seqs[0] = '\0';
	filt.newest_first = 1;
	filt.before_seq = 5;
	filt.limit = 2;
	CHECK_EQ(s->ops->audit_each(s, &filt, list_seqs, seqs), CC_OK);
	CHECK_STR(seqs, "4,3,");
	memset(&filt, 0, sizeof(filt));
	seqs[0] = '\0';
	filt.from_seq = 4;
	CHECK_EQ(s->ops->audit_each(s, &filt, list_seqs, seqs), CC_OK);
	CHECK_STR(seqs, "4,5,");
	/* A stop is returned, and the store is usable right after it. */
	memset(&filt, 0, sizeof(filt));
	seqs[0] = '\0';
	CHECK_EQ(s->ops->audit_each(s, &filt, stop_after_one, seqs), 5);
	CHECK_STR(seqs, "1,");
	CHECK_EQ(s->ops->audit_head(s, &seq, head), CC_OK);
	CHECK_EQ(seq, 5);
}

/* ---- records ---- */

struct rec_seen {
	int n;
	char text[512];
};

static int see_record(void *ctx, const struct store_record *r)
{
	struct rec_seen *rs = ctx;
	char one[64];

	rs->n++;
	snprintf(one, sizeof(one), "%lld:%.*s,", (long long)r->seq, (int)(r->body_len < 16 ? r->body_len : 16),
	         (const char *)r->body);
	strncat(rs->text, one, sizeof(rs->text) - strlen(rs->text) - 1);
	return 0;
}

static void rec(struct store_record *r, int64_t machine, enum record_kind kind, int64_t seq, int64_t ts,
                const char *body)
{
	r->machine_id = machine;
	r->kind = kind;
	r->seq = seq;
	r->ts_ms = ts;
	r->body = (const uint8_t *)body;
	r->body_len = strlen(body);
}

static size_t settle_all(struct store *s)
{
	size_t moved = 0, total = 0;

	do {
		moved = 0;
		CHECK_EQ(s->ops->records_settle(s, 1000, NULL, &moved), CC_OK);
		total += moved;
	} while (moved > 0);
	return total;
}

static void case_records_range(struct store **sp)
{
	struct store *s = *sp;
	struct fleet f;
	struct store_record r[6];
	struct rec_seen rs = { 0, "" };
	size_t ins = 0;
	int64_t last = -1;

	fleet(s, &f);
	rec(&r[0], f.m1, RECORD_TELEMETRY, 1, T0 + 0, "t1");
	rec(&r[1], f.m1, RECORD_TELEMETRY, 2, T0 + 10, "t2");
	rec(&r[2], f.m1, RECORD_TELEMETRY, 3, T0 + 20, "t3");
	rec(&r[3], f.m1, RECORD_TELEMETRY, 4, T0 + 30, "t4");
	rec(&r[4], f.m2, RECORD_TELEMETRY, 1, T0 + 10, "other");
	rec(&r[5], f.m1, RECORD_EVENT, 9, T0 + 10, "e9");
	CHECK_EQ(s->ops->records_last_seq(s, f.m1, RECORD_TELEMETRY, &last), CC_OK);
	CHECK_EQ(last, 0);
	CHECK_EQ(s->ops->records_put(s, r, 6, &ins), CC_OK);
	CHECK_EQ(ins, 6);
	/* Readable once put, before and after they settle, with the same bounds:
	 * from inclusive, to exclusive, seq after after_seq, by seq. */
	CHECK_EQ(s->ops->records_get(s, f.m1, RECORD_TELEMETRY, T0 + 10, T0 + 30, 0, see_record, &rs), CC_OK);
	CHECK_STR(rs.text, "2:t2,3:t3,");
	CHECK_EQ(settle_all(s), 6);
	memset(&rs, 0, sizeof(rs));
	CHECK_EQ(s->ops->records_get(s, f.m1, RECORD_TELEMETRY, T0 + 10, T0 + 30, 0, see_record, &rs), CC_OK);
	CHECK_STR(rs.text, "2:t2,3:t3,");
	memset(&rs, 0, sizeof(rs));
	CHECK_EQ(s->ops->records_get(s, f.m1, RECORD_TELEMETRY, T0, T0 + 31, 2, see_record, &rs), CC_OK);
	CHECK_STR(rs.text, "3:t3,4:t4,");
	memset(&rs, 0, sizeof(rs));
	CHECK_EQ(s->ops->records_get(s, f.m1, RECORD_EVENT, 0, INT64_MAX, 0, see_record, &rs), CC_OK);
	CHECK_STR(rs.text, "9:e9,");
	memset(&rs, 0, sizeof(rs));
	CHECK_EQ(s->ops->records_get(s, f.m1, RECORD_TELEMETRY, T0 + 31, T0 + 100, 0, see_record, &rs), CC_OK);
	CHECK_EQ(rs.n, 0);
	CHECK_EQ(s->ops->records_last_seq(s, f.m1, RECORD_TELEMETRY, &last), CC_OK);
	CHECK_EQ(last, 4);
	CHECK_EQ(s->ops->records_last_seq(s, f.m2, RECORD_TELEMETRY, &last), CC_OK);
	CHECK_EQ(last, 1);
	/* Durable: there after a reopen. */
	*sp = s = reopen(s);
	memset(&rs, 0, sizeof(rs));
	CHECK_EQ(s->ops->records_get(s, f.m1, RECORD_TELEMETRY, 0, INT64_MAX, 0, see_record, &rs), CC_OK);
	CHECK_EQ(rs.n, 4);
}

/* A retransmission (same machine, kind and seq) is stored exactly once,
 * and the first copy stays the record. */
static void case_records_duplicates(struct store **sp)
{
	struct store *s = *sp;
	struct fleet f;
	struct store_record r[3];
	struct rec_seen rs = { 0, "" };
	size_t ins = 0;

	fleet(s, &f);
	rec(&r[0], f.m1, RECORD_TELEMETRY, 5, T0, "first");
	CHECK_EQ(s->ops->records_put(s, r, 1, &ins), CC_OK);
	rec(&r[0], f.m1, RECORD_TELEMETRY, 5, T0 + 1, "again");
	rec(&r[1], f.m1, RECORD_TELEMETRY, 5, T0 + 2, "thrice");
	rec(&r[2], f.m2, RECORD_TELEMETRY, 5, T0, "m2-own");
	CHECK_EQ(s->ops->records_put(s, r, 3, &ins), CC_OK);
	/* Unsettled: one row per seq already. */
	CHECK_EQ(s->ops->records_get(s, f.m1, RECORD_TELEMETRY, 0, INT64_MAX, 0, see_record, &rs), CC_OK);
	CHECK_STR(rs.text, "5:first,");
	settle_all(s);
	/* And again after the first copy settled. */
	rec(&r[0], f.m1, RECORD_TELEMETRY, 5, T0 + 3, "late");
	CHECK_EQ(s->ops->records_put(s, r, 1, &ins), CC_OK);
	memset(&rs, 0, sizeof(rs));
	CHECK_EQ(s->ops->records_get(s, f.m1, RECORD_TELEMETRY, 0, INT64_MAX, 0, see_record, &rs), CC_OK);
	CHECK_STR(rs.text, "5:first,");
	settle_all(s);
	memset(&rs, 0, sizeof(rs));
	CHECK_EQ(s->ops->records_get(s, f.m1, RECORD_TELEMETRY, 0, INT64_MAX, 0, see_record, &rs), CC_OK);
	CHECK_STR(rs.text, "5:first,");
	/* The same seq of another kind or machine is another record. */
	memset(&rs, 0, sizeof(rs));
	CHECK_EQ(s->ops->records_get(s, f.m2, RECORD_TELEMETRY, 0, INT64_MAX, 0, see_record, &rs), CC_OK);
	CHECK_STR(rs.text, "5:m2-own,");
	rec(&r[0], f.m1, RECORD_EVENT, 5, T0, "event");
	CHECK_EQ(s->ops->records_put(s, r, 1, &ins), CC_OK);
	settle_all(s);
	memset(&rs, 0, sizeof(rs));
	CHECK_EQ(s->ops->records_get(s, f.m1, RECORD_EVENT, 0, INT64_MAX, 0, see_record, &rs), CC_OK);
	CHECK_STR(rs.text, "5:event,");

	/* Reports: numbered by the caller, a duplicate is not counted. */
	rec(&r[0], f.m1, RECORD_REPORT, 1, T0, "report-1");
	CHECK_EQ(s->ops->records_put(s, r, 1, &ins), CC_OK);
	CHECK_EQ(ins, 1);
	rec(&r[0], f.m1, RECORD_REPORT, 1, T0, "report-1b");
	CHECK_EQ(s->ops->records_put(s, r, 1, &ins), CC_OK);
	CHECK_EQ(ins, 0);
	memset(&rs, 0, sizeof(rs));
	CHECK_EQ(s->ops->records_get(s, f.m1, RECORD_REPORT, 0, INT64_MAX, 0, see_record, &rs), CC_OK);
	CHECK_STR(rs.text, "1:report-1,");
}

struct hook_seen {
	int rows, finished;
};

static int hook_row(void *ctx, const struct store_record *r)
{
	(void)r;
	((struct hook_seen *)ctx)->rows++;
	return 0;
}

static int hook_finish(void *ctx, struct store *s)
{
	((struct hook_seen *)ctx)->finished++;
	return s->ops->meta_set(s, "settled-round", "done");
}

static int hook_fail(void *ctx, struct store *s)
{
	(void)ctx;
	(void)s;
	return CC_ERR_IO;
}

static void case_records_settle(struct store **sp)
{
	struct store *s = *sp;
	struct fleet f;
	struct store_record r[4];
	struct rec_seen rs = { 0, "" };
	struct store_settle_hooks hooks = { hook_row, hook_fail, NULL };
	struct hook_seen hs = { 0, 0 };
	struct store_machine_state st;
	size_t ins = 0, moved = 0;
	char out[16];

	fleet(s, &f);
	memset(&st, 0, sizeof(st));
	st.machine_id = f.m2;
	st.last_seen_ms = st.changed_ms = T0 - 100;
	CHECK_EQ(s->ops->machine_state_set(s, &st), CC_OK);
	rec(&r[0], f.m1, RECORD_TELEMETRY, 1, T0, "a");
	rec(&r[1], f.m1, RECORD_TELEMETRY, 1, T0, "dup");
	rec(&r[2], f.m2, RECORD_EVENT, 1, T0 + 5, "b");
	rec(&r[3], f.m2, RECORD_EVENT, 2, T0 + 6, "c");
	CHECK_EQ(s->ops->records_put(s, r, 4, &ins), CC_OK);
	/* Unsettled rows are listed as such, by seq. */
	CHECK_EQ(s->ops->records_unsettled(s, f.m2, RECORD_EVENT, T0, T0 + 6, see_record, &rs), CC_OK);
	CHECK_STR(rs.text, "1:b,");
	/* A round whose finish fails moves nothing. */
	hooks.ctx = &hs;
	CHECK(s->ops->records_settle(s, 100, &hooks, &moved) != CC_OK);
	memset(&rs, 0, sizeof(rs));
	CHECK_EQ(s->ops->records_unsettled(s, f.m2, RECORD_EVENT, 0, INT64_MAX, see_record, &rs), CC_OK);
	CHECK_EQ(rs.n, 2);
	/* A round that finishes commits the rows and the hook's writes together;
	 * the hook sees each row stored, the duplicate not. */
	hooks.finish = hook_finish;
	hs.rows = 0;
	moved = 0;
	CHECK_EQ(s->ops->records_settle(s, 100, &hooks, &moved), CC_OK);
	CHECK_EQ(moved, 4);
	CHECK_EQ(hs.rows, 3);
	CHECK_EQ(hs.finished, 1);
	CHECK_EQ(s->ops->meta_get(s, "settled-round", out, sizeof(out)), CC_OK);
	memset(&rs, 0, sizeof(rs));
	CHECK_EQ(s->ops->records_unsettled(s, f.m2, RECORD_EVENT, 0, INT64_MAX, see_record, &rs), CC_OK);
	CHECK_EQ(rs.n, 0);
	memset(&rs, 0, sizeof(rs));
	CHECK_EQ(s->ops->records_get(s, f.m2, RECORD_EVENT, 0, INT64_MAX, 0, see_record, &rs), CC_OK);
	CHECK_STR(rs.text, "1:b,2:c,");
	/* The machine's last-seen time moved to its latest arrival. */
	CHECK_EQ(s->ops->machine_state_get(s, f.m2, &st), CC_OK);
	CHECK(st.last_seen_ms > T0); /* arrival time, not the records' own stamps */
	moved = 1;
	CHECK_EQ(s->ops->records_settle(s, 100, NULL, &moved), CC_OK);
	CHECK_EQ(moved, 0);

	/* Records of a machine deleted before they settle are dropped. */
	rec(&r[0], f.m1, RECORD_TELEMETRY, 2, T0, "orphan");
	CHECK_EQ(s->ops->records_put(s, r, 1, &ins), CC_OK);
	CHECK_EQ(s->ops->org_delete(s, f.customer), CC_OK);
	CHECK_EQ(s->ops->records_settle(s, 100, NULL, &moved), CC_OK);
	memset(&rs, 0, sizeof(rs));
	CHECK_EQ(s->ops->records_get(s, f.m1, RECORD_TELEMETRY, 0, INT64_MAX, 0, see_record, &rs), CC_OK);
	CHECK_EQ(rs.n, 0);
}

static void case_records_purge(struct store **sp)
{
	struct store *s = *sp;
	struct fleet f;
	struct store_record r[10];
	struct rec_seen rs = { 0, "" };
	char bodies[10][16];
	size_t ins = 0;
	int64_t deleted = -1;
	int i;

	fleet(s, &f);
	for (i = 0; i < 10; i++) {
		snprintf(bodies[i], sizeof(bodies[i]), "b%d", i + 1);
		rec(&r[i], f.m1, RECORD_TELEMETRY, i + 1, T0 + i * MIN, bodies[i]);
	}
	CHECK_EQ(s->ops->records_put(s, r, 10, &ins), CC_OK);
	settle_all(s);
	rec(&r[0], f.m2, RECORD_TELEMETRY, 1, T0, "keep");
	CHECK_EQ(s->ops->records_put(s, r, 1, &ins), CC_OK);
	settle_all(s);
	/* Oldest first, at most limit, strictly before the cut. */
	CHECK_EQ(s->ops->records_purge(s, f.m1, RECORD_TELEMETRY, T0 + 5 * MIN, 3, &deleted), CC_OK);
	CHECK_EQ(deleted, 3);
	CHECK_EQ(s->ops->records_get(s, f.m1, RECORD_TELEMETRY, 0, INT64_MAX, 0, see_record, &rs), CC_OK);
	CHECK_STR(rs.text, "4:b4,5:b5,6:b6,7:b7,8:b8,9:b9,10:b10,");
	CHECK_EQ(s->ops->records_purge(s, f.m1, RECORD_TELEMETRY, T0 + 5 * MIN, 100, &deleted), CC_OK);
	CHECK_EQ(deleted, 2);
	CHECK_EQ(s->ops->records_purge(s, f.m1, RECORD_TELEMETRY, T0 + 5 * MIN, 100, &deleted), CC_OK);
	CHECK_EQ(deleted, 0);
	memset(&rs, 0, sizeof(rs));
	CHECK_EQ(s->ops->records_get(s, f.m1, RECORD_TELEMETRY, 0, INT64_MAX, 0, see_record, &rs), CC_OK);
	CHECK_STR(rs.text, "6:b6,7:b7,8:b8,9:b9,10:b10,");
	/* Another machine's and another kind's records are untouched. */
	memset(&rs, 0, sizeof(rs));
	CHECK_EQ(s->ops->records_get(s, f.m2, RECORD_TELEMETRY, 0, INT64_MAX, 0, see_record, &rs), CC_OK);
	CHECK_EQ(rs.n, 1);
	/* A purge inside a transaction that rolls back deletes nothing. */
	CHECK_EQ(s->ops->begin(s), CC_OK);
	CHECK_EQ(s->ops->records_purge(s, f.m1, RECORD_TELEMETRY, INT64_MAX, 100, &deleted), CC_OK);
	CHECK_EQ(deleted, 5);
	s->ops->rollback(s);
	memset(&rs, 0, sizeof(rs));
	CHECK_EQ(s->ops->records_get(s, f.m1, RECORD_TELEMETRY, 0, INT64_MAX, 0, see_record, &rs), CC_OK);
	CHECK_EQ(rs.n, 5);
}

/* Machine records are durable when put, whatever the caller's transaction
 * does after; reports are the caller's. A batch mixing both is refused
 * whole. */
static void case_records_outside_tx(struct store **sp)
{
	struct store *s = *sp;
	struct fleet f;
	struct store_record r[2];
	struct rec_seen rs = { 0, "" };
	size_t ins = 0;

	fleet(s, &f);
	CHECK_EQ(s->ops->begin(s), CC_OK);
	rec(&r[0], f.m1, RECORD_TELEMETRY, 1, T0, "kept");
	CHECK_EQ(s->ops->records_put(s, r, 1, &ins), CC_OK);
	rec(&r[0], f.m1, RECORD_REPORT, 1, T0, "undone");
	CHECK_EQ(s->ops->records_put(s, r, 1, &ins), CC_OK);
	CHECK_EQ(ins, 1);
	s->ops->rollback(s);
	CHECK_EQ(s->ops->records_get(s, f.m1, RECORD_TELEMETRY, 0, INT64_MAX, 0, see_record, &rs), CC_OK);
	CHECK_STR(rs.text, "1:kept,");
	memset(&rs, 0, sizeof(rs));
	CHECK_EQ(s->ops->records_get(s, f.m1, RECORD_REPORT, 0, INT64_MAX, 0, see_record, &rs), CC_OK);
	CHECK_EQ(rs.n, 0);
	/* Mixed: nothing of it stored. */
	rec(&r[0], f.m1, RECORD_TELEMETRY, 2, T0, "mixed");
	rec(&r[1], f.m1, RECORD_REPORT, 1, T0, "mixed");
	ins = 9;
	CHECK(s->ops->records_put(s, r, 2, &ins) != CC_OK);
	memset(&rs, 0, sizeof(rs));
	CHECK_EQ(s->ops->records_get(s, f.m1, RECORD_TELEMETRY, 0, INT64_MAX, 0, see_record, &rs), CC_OK);
	CHECK_STR(rs.text, "1:kept,");
	memset(&rs, 0, sizeof(rs));
	CHECK_EQ(s->ops->records_get(s, f.m1, RECORD_REPORT, 0, INT64_MAX, 0, see_record, &rs), CC_OK);
	CHECK_EQ(rs.n, 0);
	/* And they settle into their table with a transaction open elsewhere. */
	CHECK_EQ(settle_all(s), 1);
	*sp = s = reopen(s);
	memset(&rs, 0, sizeof(rs));
	CHECK_EQ(s->ops->records_get(s, f.m1, RECORD_TELEMETRY, 0, INT64_MAX, 0, see_record, &rs), CC_OK);
	CHECK_STR(rs.text, "1:kept,");
}

static int see_rollup(void *ctx, int64_t start_ms, const uint8_t *body, size_t len);

/* A settle hook that writes through the store as it goes, as the roll-up
 * hook does (a backend must let a callback call it back). */
struct hooked {
	struct store *s;
	int rows;
};

static int count_hook_row(void *ctx, const struct store_record *r)
{
	struct hooked *h = ctx;

	h->rows++;
	if (r->seq % 500 == 0)
		return h->s->ops->rollup_put(h->s, r->machine_id, MIN, r->ts_ms, r->body, r->body_len);
	return 0;
}

static int count_rows(void *ctx, const struct store_record *r)
{
	(void)r;
	(*(int *)ctx)++;
	return 0;
}

/* A batch larger than one statement's worth, resends inside it and a
 * resend a month later: each seq stored exactly once, counted once by the
 * settle hooks, the first copy kept. */
#define BATCH_ROWS 2500
#define BATCH_RESENT 100

static void case_records_batch(struct store **sp)
{
	struct store *s = *sp;
	struct fleet f;
	struct store_record *r = calloc(BATCH_ROWS + BATCH_RESENT, sizeof(*r)), one;
	struct rec_seen rs = { 0, "" };
	struct hooked hooked = { NULL, 0 };
	int read = 0, i;
	struct store_settle_hooks hooks = { count_hook_row, NULL, &hooked };
	char seen[256] = "";
	size_t ins = 0, moved = 0;
	int64_t last = 0;

	CHECK(r != NULL);
	if (r == NULL)
		return;
	fleet(s, &f);
	hooked.s = s;
	for (i = 0; i < BATCH_ROWS; i++)
		rec(&r[i], f.m1, RECORD_TELEMETRY, i + 1, T0 + i * 1000, i == 4 ? "five" : "x");
	for (i = 0; i < BATCH_RESENT; i++)
		rec(&r[BATCH_ROWS + i], f.m1, RECORD_TELEMETRY, i + 1, T0 + i * 1000, "resent");
	CHECK_EQ(s->ops->records_put(s, r, BATCH_ROWS + BATCH_RESENT, &ins), CC_OK);
	CHECK_EQ(s->ops->records_last_seq(s, f.m1, RECORD_TELEMETRY, &last), CC_OK);
	CHECK_EQ(last, BATCH_ROWS);
	CHECK_EQ(s->ops->records_get(s, f.m1, RECORD_TELEMETRY, 0, INT64_MAX, 0, count_rows, &read), CC_OK);
	CHECK_EQ(read, BATCH_ROWS);
	do {
		moved = 0;
		CHECK_EQ(s->ops->records_settle(s, 1000, &hooks, &moved), CC_OK);
	} while (moved > 0);
	CHECK_EQ(hooked.rows, BATCH_ROWS);
	CHECK_EQ(s->ops->rollup_each(s, f.m1, MIN, 0, INT64_MAX, see_rollup, seen), CC_OK);
	CHECK_STR(seen, "499000=x,999000=x,1499000=x,1999000=x,2499000=x,");
	/* The same seq a month later: not a new record. */
	rec(&one, f.m1, RECORD_TELEMETRY, 5, T0 + 40 * 24 * 60 * MIN, "later");
	CHECK_EQ(s->ops->records_put(s, &one, 1, &ins), CC_OK);
	memset(&rs, 0, sizeof(rs));
	CHECK_EQ(s->ops->records_get(s, f.m1, RECORD_TELEMETRY, 0, INT64_MAX, 4, see_record, &rs), CC_OK);
	CHECK(strncmp(rs.text, "5:five,6:x,", 11) == 0);
	hooked.rows = 0;
	CHECK_EQ(s->ops->records_settle(s, 1000, &hooks, &moved), CC_OK);
	CHECK_EQ(moved, 1);
	CHECK_EQ(hooked.rows, 0);
	read = 0;
	CHECK_EQ(s->ops->records_get(s, f.m1, RECORD_TELEMETRY, 0, INT64_MAX, 0, count_rows, &read), CC_OK);
	CHECK_EQ(read, BATCH_ROWS);
	memset(&rs, 0, sizeof(rs));
	CHECK_EQ(s->ops->records_get(s, f.m1, RECORD_TELEMETRY, T0 + 40 * 24 * 60 * MIN, INT64_MAX, 0, see_record, &rs),
	         CC_OK);
	CHECK_EQ(rs.n, 0);
	free(r);
}

/* Retention by whole months (PostgreSQL: partitions dropped). */
#define NOV_2023 INT64_C(1698796800000) /* 2023-11-01T00:00:00Z; T0 is 2023-11-14 */
#define OCT_2023 INT64_C(1696118400000)
#define DEC_2023 INT64_C(1701388800000)

static void case_records_months(struct store **sp)
{
	struct store *s = *sp;
	struct fleet f;
	struct store_record r[6];
	struct rec_seen rs = { 0, "" };
	size_t ins = 0;
	int64_t cut = 0;

	fleet(s, &f);
	rec(&r[0], f.m1, RECORD_TELEMETRY, 1, OCT_2023 + 14 * 24 * 60 * MIN, "oct");
	rec(&r[1], f.m1, RECORD_TELEMETRY, 2, NOV_2023, "nov1");
	rec(&r[2], f.m1, RECORD_TELEMETRY, 3, NOV_2023 - 1, "oct31");
	rec(&r[3], f.m2, RECORD_TELEMETRY, 1, OCT_2023, "m2oct");
	rec(&r[4], f.m1, RECORD_TELEMETRY, 4, 1000, "1970");
	rec(&r[5], f.m1, RECORD_EVENT, 1, OCT_2023 + 9 * 24 * 60 * MIN, "evoct");
	CHECK_EQ(s->ops->records_put(s, r, 6, &ins), CC_OK);
	CHECK_EQ(settle_all(s), 6);
	CHECK_EQ(s->ops->records_drop_months(s, RECORD_REPORT, T0, &cut), CC_ERR_INVALID);
	CHECK_EQ(s->ops->records_drop_months(s, RECORD_TELEMETRY, -1, &cut), CC_ERR_INVALID);
	/* Rolled back with the caller's transaction. */
	CHECK_EQ(s->ops->begin(s), CC_OK);
	CHECK_EQ(s->ops->records_drop_months(s, RECORD_TELEMETRY, DEC_2023, &cut), CC_OK);
	CHECK_EQ(cut, DEC_2023);
	CHECK_EQ(s->ops->records_get(s, f.m1, RECORD_TELEMETRY, 0, INT64_MAX, 0, see_record, &rs), CC_OK);
	CHECK_EQ(rs.n, 0);
	s->ops->rollback(s);
	memset(&rs, 0, sizeof(rs));
	CHECK_EQ(s->ops->records_get(s, f.m1, RECORD_TELEMETRY, 0, INT64_MAX, 0, see_record, &rs), CC_OK);
	CHECK_EQ(rs.n, 4);
	/* Before T0's month: October and 1970 go, every machine's; November
	 * and the events stay. */
	CHECK_EQ(s->ops->records_drop_months(s, RECORD_TELEMETRY, T0, &cut), CC_OK);
	CHECK_EQ(cut, NOV_2023);
	memset(&rs, 0, sizeof(rs));
	CHECK_EQ(s->ops->records_get(s, f.m1, RECORD_TELEMETRY, 0, INT64_MAX, 0, see_record, &rs), CC_OK);
	CHECK_STR(rs.text, "2:nov1,");
	memset(&rs, 0, sizeof(rs));
	CHECK_EQ(s->ops->records_get(s, f.m2, RECORD_TELEMETRY, 0, INT64_MAX, 0, see_record, &rs), CC_OK);
	CHECK_EQ(rs.n, 0);
	memset(&rs, 0, sizeof(rs));
	CHECK_EQ(s->ops->records_get(s, f.m1, RECORD_EVENT, 0, INT64_MAX, 0, see_record, &rs), CC_OK);
	CHECK_STR(rs.text, "1:evoct,");
	/* A dropped month takes records again. */
	rec(&r[0], f.m2, RECORD_TELEMETRY, 2, OCT_2023 + MIN, "again");
	CHECK_EQ(s->ops->records_put(s, r, 1, &ins), CC_OK);
	CHECK_EQ(settle_all(s), 1);
	memset(&rs, 0, sizeof(rs));
	CHECK_EQ(s->ops->records_get(s, f.m2, RECORD_TELEMETRY, 0, INT64_MAX, 0, see_record, &rs), CC_OK);
	CHECK_STR(rs.text, "2:again,");
}

/* ---- roll-ups, event days, cleanings ---- */

static int see_rollup(void *ctx, int64_t start_ms, const uint8_t *body, size_t len)
{
	char *out = ctx, one[48];

	snprintf(one, sizeof(one), "%lld=%.*s,", (long long)(start_ms - T0), (int)len, (const char *)body);
	strncat(out, one, 256 - strlen(out) - 1);
	return 0;
}

static void case_rollups(struct store **sp)
{
	struct store *s = *sp;
	struct fleet f;
	uint8_t buf[64];
	size_t len = 0;
	int64_t deleted = 0, hour = 60 * MIN;
	char seen[256] = "";
	int i;

	fleet(s, &f);
	CHECK_EQ(s->ops->rollup_get(s, f.m1, hour, T0, buf, sizeof(buf), &len), CC_ERR_NOTFOUND);
	for (i = 0; i < 4; i++) {
		char body[16];

		snprintf(body, sizeof(body), "h%d", i);
		CHECK_EQ(s->ops->rollup_put(s, f.m1, hour, T0 + i * hour, (const uint8_t *)body, strlen(body)), CC_OK);
	}
	CHECK_EQ(s->ops->rollup_put(s, f.m1, MIN, T0, (const uint8_t *)"minute", 6), CC_OK);
	CHECK_EQ(s->ops->rollup_put(s, f.m1, hour, T0 + hour, (const uint8_t *)"replaced", 8), CC_OK);
	CHECK_EQ(s->ops->rollup_get(s, f.m1, hour, T0 + hour, buf, sizeof(buf), &len), CC_OK);
	CHECK_EQ(len, 8);
	CHECK(memcmp(buf, "replaced", 8) == 0);
	CHECK_EQ(s->ops->rollup_get(s, f.m1, hour, T0 + hour, buf, 4, &len), CC_ERR_LIMIT);
	CHECK_EQ(s->ops->rollup_get(s, f.m2, hour, T0 + hour, buf, sizeof(buf), &len), CC_ERR_NOTFOUND);
	/* [from, to), by start, one width. */
	CHECK_EQ(s->ops->rollup_each(s, f.m1, hour, T0 + hour, T0 + 3 * hour, see_rollup, seen), CC_OK);
	CHECK_STR(seen, "3600000=replaced,7200000=h2,");
	CHECK_EQ(s->ops->rollup_purge(s, f.m1, hour, T0 + 3 * hour, 2, &deleted), CC_OK);
	CHECK_EQ(deleted, 2);
	seen[0] = '\0';
	CHECK_EQ(s->ops->rollup_each(s, f.m1, hour, 0, INT64_MAX, see_rollup, seen), CC_OK);
	CHECK_STR(seen, "7200000=h2,10800000=h3,");
	CHECK_EQ(s->ops->rollup_get(s, f.m1, MIN, T0, buf, sizeof(buf), &len), CC_OK);
	CHECK_EQ(len, 6);
}

static int see_day(void *ctx, int64_t machine_id, int64_t day_ms)
{
	char *out = ctx, one[48];

	snprintf(one, sizeof(one), "%lld@%lld,", (long long)machine_id, (long long)((day_ms - T0) / MIN));
	strncat(out, one, 256 - strlen(out) - 1);
	return 0;
}

static int see_cleaning(void *ctx, int64_t machine_id, const char *program, int64_t ts_ms)
{
	char *out = ctx, one[64];

	snprintf(one, sizeof(one), "%lld:%s=%lld,", (long long)machine_id, program, (long long)(ts_ms - T0));
	strncat(out, one, 256 - strlen(out) - 1);
	return 0;
}

static int see_water(void *ctx, int64_t machine_id, const uint8_t *sealed, size_t len)
{
	char *out = ctx, one[64];

	snprintf(one, sizeof(one), "%lld=%.*s,", (long long)machine_id, (int)len, (const char *)sealed);
	strncat(out, one, 256 - strlen(out) - 1);
	return 0;
}

static void case_event_days_cleanings(struct store **sp)
{
	struct store *s = *sp;
	struct fleet f;
	int64_t day = 24 * 60 * MIN, wdigest = day + 1;
	uint8_t buf[16];
	size_t len = 0;
	char seen[256] = "", want[256];

	fleet(s, &f);
	CHECK_EQ(s->ops->rollup_put(s, f.m1, wdigest, T0, (const uint8_t *)"digest", 6), CC_OK);
	CHECK_EQ(s->ops->event_day_touch(s, f.m1, T0, wdigest), CC_OK);
	/* Touching a day drops its digest. */
	CHECK_EQ(s->ops->rollup_get(s, f.m1, wdigest, T0, buf, sizeof(buf), &len), CC_ERR_NOTFOUND);
	CHECK_EQ(s->ops->event_day_touch(s, f.m1, T0, wdigest), CC_OK); /* once marked */
	CHECK_EQ(s->ops->event_day_touch(s, f.m2, T0 + day, wdigest), CC_OK);
	CHECK_EQ(s->ops->event_day_touch(s, f.m2, T0 + 2 * day, wdigest), CC_OK);
	CHECK_EQ(s->ops->event_days_dirty(s, T0 + 2 * day, 10, see_day, seen), CC_OK);
	snprintf(want, sizeof(want), "%lld@0,%lld@1440,", (long long)f.m1, (long long)f.m2);
	CHECK_STR(seen, want);
	seen[0] = '\0';
	CHECK_EQ(s->ops->event_days_dirty(s, INT64_MAX, 1, see_day, seen), CC_OK);
	snprintf(want, sizeof(want), "%lld@0,", (long long)f.m1);
	CHECK_STR(seen, want);
	CHECK_EQ(s->ops->event_day_clean(s, f.m1, T0), CC_OK);
	seen[0] = '\0';
	CHECK_EQ(s->ops->event_days_dirty(s, INT64_MAX, 10, see_day, seen), CC_OK);
	snprintf(want, sizeof(want), "%lld@1440,%lld@2880,", (long long)f.m2, (long long)f.m2);
	CHECK_STR(seen, want);

	/* The last cleaning per program keeps the later time. */
	CHECK_EQ(s->ops->last_cleaning_put(s, f.m1, "rinse", T0 + 50), CC_OK);
	CHECK_EQ(s->ops->last_cleaning_put(s, f.m1, "rinse", T0 + 20), CC_OK);
	CHECK_EQ(s->ops->last_cleaning_put(s, f.m1, "descale", T0 + 7), CC_OK);
	seen[0] = '\0';
	CHECK_EQ(s->ops->last_cleanings_each(s, see_cleaning, seen), CC_OK);
	CHECK(strstr(seen, ":rinse=50,") != NULL);
	CHECK(strstr(seen, ":descale=7,") != NULL);
	CHECK(strstr(seen, ":rinse=20,") == NULL);

	/* The water since a descale: one row per machine, the last put wins. */
	CHECK_EQ(s->ops->descale_water_put(s, f.m1, (const uint8_t *)"old", 3), CC_OK);
	CHECK_EQ(s->ops->descale_water_put(s, f.m1, (const uint8_t *)"newer", 5), CC_OK);
	CHECK_EQ(s->ops->descale_water_put(s, f.m2, (const uint8_t *)"m2", 2), CC_OK);
	seen[0] = '\0';
	CHECK_EQ(s->ops->descale_water_each(s, see_water, seen), CC_OK);
	snprintf(want, sizeof(want), "%lld=newer,%lld=m2,", (long long)f.m1, (long long)f.m2);
	CHECK_STR(seen, want);
}

/* ---- commands and jobs ---- */

static int64_t add_command(struct store *s, int64_t machine, const char *name, int64_t job, int64_t deadline)
{
	struct store_command c = { 0 };
	int64_t id = 0;

	c.machine_id = machine;
	snprintf(c.name, sizeof(c.name), "%s", name);
	memcpy(c.body, "sealed-cmd", 10);
	c.body_len = 10;
	c.created_ms = T0;
	c.job_id = job;
	c.deadline_ms = deadline;
	CHECK_EQ(s->ops->command_add(s, &c, &id), CC_OK);
	CHECK(id > 0);
	return id;
}

static int see_command_name(void *ctx, const struct store_command *c)
{
	char *out = ctx;

	strncat(out, c->name, 256 - strlen(out) - 2);
	strcat(out, ",");
	return 0;
}

static void case_commands(struct store **sp)
{
	struct store *s = *sp;
	struct fleet f;
	struct store_command got;
	int64_t c1, c2, c3, deadline = 0, count = 0;
	char seen[256] = "";
	int late = -1;

	fleet(s, &f);
	c1 = add_command(s, f.m1, "reboot", 0, 0);
	c2 = add_command(s, f.m1, "rinse", 0, T0 + 100);
	c3 = add_command(s, f.m1, "descale", 0, T0 + 50);
	CHECK_EQ(s->ops->command_pending(s, f.m1, see_command_name, seen), CC_OK);
	CHECK_STR(seen, "reboot,rinse,descale,");
	CHECK_EQ(s->ops->command_get(s, c1, &got), CC_OK);
	CHECK_EQ(got.body_len, 10);
	CHECK(memcmp(got.body, "sealed-cmd", 10) == 0);
	CHECK_EQ(s->ops->command_get(s, c3 + 1000, &got), CC_ERR_NOTFOUND);
	CHECK_EQ(s->ops->command_delivered(s, c1, T0 + 1), CC_OK);
	seen[0] = '\0';
	CHECK_EQ(s->ops->command_pending(s, f.m1, see_command_name, seen), CC_OK);
	CHECK_STR(seen, "rinse,descale,");
	seen[0] = '\0';
	CHECK_EQ(s->ops->command_list(s, f.m1, see_command_name, seen), CC_OK);
	CHECK_STR(seen, "descale,rinse,reboot,"); /* newest first */

	/* Results: another machine's report changes nothing. */
	CHECK_EQ(s->ops->command_result(s, c1, f.m2, STORE_REPORT_SUCCEEDED, "ok", T0 + 2, &late), CC_OK);
	CHECK_EQ(s->ops->command_get(s, c1, &got), CC_OK);
	CHECK_EQ(got.ended_ms, 0);
	CHECK_EQ(s->ops->command_result(s, c1, f.m1, STORE_REPORT_ACCEPTED, "", T0 + 2, &late), CC_OK);
	CHECK_EQ(late, 0);
	CHECK_EQ(s->ops->command_result(s, c1, f.m1, STORE_REPORT_SUCCEEDED, "done 42", T0 + 3, &late), CC_OK);
	CHECK_EQ(s->ops->command_get(s, c1, &got), CC_OK);
	CHECK_EQ(got.accepted_ms, T0 + 2);
	CHECK_EQ(got.ended_ms, T0 + 3);
	CHECK_STR(got.end_state, "succeeded");
	CHECK_STR(got.detail, "done 42");
	CHECK_EQ(s->ops->command_result(s, c1, f.m1, STORE_REPORT_FAILED, "again", T0 + 4, &late), CC_OK);
	CHECK_EQ(late, 1);
	CHECK_EQ(s->ops->command_get(s, c1, &got), CC_OK);
	CHECK_STR(got.end_state, "succeeded");
	CHECK_EQ(got.late_results, 1);

	/* Deadlines: the earliest open one; expiry ends those due. */
	CHECK_EQ(s->ops->command_next_deadline(s, &deadline), CC_OK);
	CHECK_EQ(deadline, T0 + 50);
	CHECK_EQ(s->ops->command_expire(s, T0 + 50, &count), CC_OK);
	CHECK_EQ(count, 1);
	CHECK_EQ(s->ops->command_get(s, c3, &got), CC_OK);
	CHECK_STR(got.end_state, "timed_out");
	CHECK_EQ(s->ops->command_next_deadline(s, &deadline), CC_OK);
	CHECK_EQ(deadline, T0 + 100);
	CHECK_EQ(s->ops->command_cancel(s, c2, T0 + 60), CC_OK);
	CHECK_EQ(s->ops->command_cancel(s, c2, T0 + 61), CC_ERR_STATE);
	CHECK_EQ(s->ops->command_next_deadline(s, &deadline), CC_OK);
	CHECK_EQ(deadline, 0);
	CHECK_EQ(s->ops->command_failed(s, add_command(s, f.m2, "x", 0, 0), T0 + 70, "machine gone"), CC_OK);
	seen[0] = '\0';
	CHECK_EQ(s->ops->command_pending(s, f.m2, see_command_name, seen), CC_OK);
	CHECK_STR(seen, "");
}

static void case_jobs(struct store **sp)
{
	struct store *s = *sp;
	struct fleet f;
	struct store_job j = { 0 }, got;
	int64_t j1 = 0, j2 = 0;
	int n = 0;

	fleet(s, &f);
	snprintf(j.name, sizeof(j.name), "%s", "rinse");
	snprintf(j.created_by, sizeof(j.created_by), "%s", "user:admin");
	snprintf(j.target, sizeof(j.target), "%s", "serials");
	j.created_ms = T0;
	j.timeout_ms = 60000;
	CHECK_EQ(s->ops->job_add(s, &j, &j1), CC_OK);
	CHECK_EQ(s->ops->job_add(s, &j, &j2), CC_OK);
	CHECK(j2 > j1);
	(void)add_command(s, f.m1, "rinse", j1, T0 + 60000);
	(void)add_command(s, f.m2, "rinse", j1, T0 + 60000);
	(void)add_command(s, f.m2, "rinse", j2, T0 + 60000);
	CHECK_EQ(s->ops->command_list_job(s, j1, COUNTER(store_command), &n), CC_OK);
	CHECK_EQ(n, 2);
	CHECK_EQ(s->ops->job_get(s, j1, &got), CC_OK);
	CHECK_STR(got.target, "serials");
	CHECK_EQ(got.cancelled_ms, 0);
	CHECK_EQ(s->ops->job_get(s, j2 + 1000, &got), CC_ERR_NOTFOUND);
	CHECK_EQ(s->ops->job_cancelled(s, j1, T0 + 9, "user:ann"), CC_OK);
	CHECK_EQ(s->ops->job_get(s, j1, &got), CC_OK);
	CHECK_EQ(got.cancelled_ms, T0 + 9);
	CHECK_STR(got.cancelled_by, "user:ann");
	n = 0;
	CHECK_EQ(s->ops->job_list(s, 0, COUNTER(store_job), &n), CC_OK);
	CHECK_EQ(n, 2);
	n = 0;
	CHECK_EQ(s->ops->job_list(s, j2, COUNTER(store_job), &n), CC_OK);
	CHECK_EQ(n, 1);
}

/* ---- alerts ---- */

static void case_alerts(struct store **sp)
{
	struct store *s = *sp;
	struct fleet f;
	struct store_alert a = { 0 }, got;
	struct store_alert_filter filt = { 0 };
	struct store_alert_event e = { 0 };
	int64_t a1 = 0, a2 = 0, id = 0;
	int n = 0;

	fleet(s, &f);
	a.machine_id = f.m1;
	snprintf(a.rule, sizeof(a.rule), "%s", "offline");
	snprintf(a.cause, sizeof(a.cause), "%s", "offline");
	snprintf(a.severity, sizeof(a.severity), "%s", "warning");
	snprintf(a.state, sizeof(a.state), "%s", "open");
	a.opened_ms = a.level_ms = T0;
	CHECK_EQ(s->ops->alert_open(s, &a, &a1), CC_OK);
	/* At most one unresolved per machine and cause. */
	CHECK_EQ(s->ops->alert_open(s, &a, &id), CC_ERR_EXISTS);
	CHECK_EQ(s->ops->alert_find_open(s, f.m1, "offline", &got), CC_OK);
	CHECK_EQ(got.id, a1);
	CHECK_EQ(s->ops->alert_find_open(s, f.m2, "offline", &got), CC_ERR_NOTFOUND);
	got.acknowledged_ms = T0 + 1;
	snprintf(got.acknowledged_by, sizeof(got.acknowledged_by), "%s", "user:ann");
	snprintf(got.state, sizeof(got.state), "%s", "acknowledged");
	CHECK_EQ(s->ops->alert_update(s, &got), CC_OK);
	CHECK_EQ(s->ops->alert_open(s, &a, &id), CC_ERR_EXISTS);
	got.resolved_ms = T0 + 2;
	snprintf(got.resolved_by, sizeof(got.resolved_by), "%s", "auto");
	snprintf(got.state, sizeof(got.state), "%s", "resolved");
	got.level = 1;
	CHECK_EQ(s->ops->alert_update(s, &got), CC_OK);
	CHECK_EQ(s->ops->alert_find_open(s, f.m1, "offline", &got), CC_ERR_NOTFOUND);
	CHECK_EQ(s->ops->alert_open(s, &a, &a2), CC_OK); /* resolved: a new one may open */
	CHECK_EQ(s->ops->alert_get(s, a1, &got), CC_OK);
	CHECK_STR(got.state, "resolved");
	CHECK_STR(got.acknowledged_by, "user:ann");
	CHECK_EQ(got.level, 1);
	CHECK_EQ(s->ops->alert_get(s, a2 + 1000, &got), CC_ERR_NOTFOUND);

	filt.unresolved = 1;
	CHECK_EQ(s->ops->alert_list(s, &filt, COUNTER(store_alert), &n), CC_OK);
	CHECK_EQ(n, 1);
	memset(&filt, 0, sizeof(filt));
	n = 0;
	CHECK_EQ(s->ops->alert_list(s, &filt, COUNTER(store_alert), &n), CC_OK);
	CHECK_EQ(n, 2);
	filt.before_id = a2;
	n = 0;
	CHECK_EQ(s->ops->alert_list(s, &filt, COUNTER(store_alert), &n), CC_OK);
	CHECK_EQ(n, 1);
	memset(&filt, 0, sizeof(filt));
	filt.machine_id = f.m2;
	n = 0;
	CHECK_EQ(s->ops->alert_list(s, &filt, COUNTER(store_alert), &n), CC_OK);
	CHECK_EQ(n, 0);

	e.alert_id = a1;
	e.at_ms = T0;
	snprintf(e.who, sizeof(e.who), "%s", "auto");
	snprintf(e.what, sizeof(e.what), "%s", "opened");
	CHECK_EQ(s->ops->alert_event_add(s, &e), CC_OK);
	snprintf(e.what, sizeof(e.what), "%s", "commented");
	memcpy(e.note, "sealed-note", 11);
	e.note_len = 11;
	CHECK_EQ(s->ops->alert_event_add(s, &e), CC_OK);
	n = 0;
	CHECK_EQ(s->ops->alert_events(s, a1, COUNTER(store_alert_event), &n), CC_OK);
	CHECK_EQ(n, 2);
	n = 0;
	CHECK_EQ(s->ops->alert_events(s, a2, COUNTER(store_alert_event), &n), CC_OK);
	CHECK_EQ(n, 0);
}

struct rule_seen {
	int n, enabled;
	char params[64];
};

static int see_rule(void *ctx, int64_t org_id, const char *rule, int enabled, const char *params)
{
	struct rule_seen *rs = ctx;

	(void)org_id;
	if (strcmp(rule, "offline") == 0) {
		rs->enabled = enabled;
		snprintf(rs->params, sizeof(rs->params), "%s", params);
	}
	rs->n++;
	return 0;
}

static int see_term(void *ctx, int64_t org_id, const char *kind, int64_t days)
{
	char *out = ctx, one[64];

	(void)org_id;
	snprintf(one, sizeof(one), "%s=%lld,", kind, (long long)days);
	strncat(out, one, 256 - strlen(out) - 1);
	return 0;
}

static int see_ruleset(void *ctx, const struct store_ruleset *r, const char *doc)
{
	char *out = ctx, one[96];

	snprintf(one, sizeof(one), "%s/%lld:%s,", r->model, (long long)r->version, doc);
	strncat(out, one, 256 - strlen(out) - 1);
	return 0;
}

static int see_policy(void *ctx, const struct store_policy *p)
{
	int64_t *last = ctx;

	*last = p->version;
	return 0;
}

/* Small per-organisation documents: rule settings, retention terms, quality
 * rule sets, privacy policy versions and consent. */
static void case_settings(struct store **sp)
{
	struct store *s = *sp;
	struct fleet f;
	struct rule_seen rs = { 0, 0, "" };
	struct store_ruleset r = { 0 };
	struct store_policy p = { 0 };
	int64_t version = 0, last = 0;
	char seen[256] = "";

	fleet(s, &f);
	CHECK_EQ(s->ops->alert_rule_set(s, f.customer, "offline", 1, "{\"after_s\":300}"), CC_OK);
	CHECK_EQ(s->ops->alert_rule_set(s, f.customer, "offline", 0, "{\"after_s\":600}"), CC_OK);
	CHECK_EQ(s->ops->alert_rule_list(s, f.customer, see_rule, &rs), CC_OK);
	CHECK_EQ(rs.n, 1);
	CHECK_EQ(rs.enabled, 0);
	CHECK_STR(rs.params, "{\"after_s\":600}");

	CHECK_EQ(s->ops->retention_term_set(s, f.customer, "telemetry", 90, "user:ann", T0), CC_OK);
	CHECK_EQ(s->ops->retention_term_set(s, f.customer, "events", 30, "user:ann", T0), CC_OK);
	CHECK_EQ(s->ops->retention_term_set(s, f.customer, "telemetry", 120, "user:ann", T0), CC_OK);
	CHECK_EQ(s->ops->retention_term_list(s, f.customer, see_term, seen), CC_OK);
	CHECK_STR(seen, "events=30,telemetry=120,");
	CHECK_EQ(s->ops->retention_term_set(s, f.customer, "events", 0, "user:ann", T0), CC_OK);
	seen[0] = '\0';
	CHECK_EQ(s->ops->retention_term_list(s, 0, see_term, seen), CC_OK);
	CHECK_STR(seen, "telemetry=120,");

	snprintf(r.model, sizeof(r.model), "%s", "barista-9");
	snprintf(r.author, sizeof(r.author), "%s", "user:ann");
	r.created_ms = T0;
	CHECK_EQ(s->ops->ruleset_add(s, &r, "{\"v\":1}", &version), CC_OK);
	CHECK_EQ(version, 1);
	CHECK_EQ(s->ops->ruleset_add(s, &r, "{\"v\":2}", &version), CC_OK);
	CHECK_EQ(version, 2);
	snprintf(r.model, sizeof(r.model), "%s", "alpha");
	CHECK_EQ(s->ops->ruleset_add(s, &r, "{\"a\":1}", &version), CC_OK);
	CHECK_EQ(version, 1);
	seen[0] = '\0';
	CHECK_EQ(s->ops->ruleset_list(s, NULL, see_ruleset, seen), CC_OK);
	CHECK_STR(seen, "alpha/1:{\"a\":1},barista-9/1:{\"v\":1},barista-9/2:{\"v\":2},");
	seen[0] = '\0';
	CHECK_EQ(s->ops->ruleset_list(s, "barista-9", see_ruleset, seen), CC_OK);
	CHECK_STR(seen, "barista-9/1:{\"v\":1},barista-9/2:{\"v\":2},");

	/* Policy versions count up from what is there; consent is per customer. */
	CHECK_EQ(s->ops->policy_each(s, see_policy, &last), CC_OK);
	snprintf(p.last_updated, sizeof(p.last_updated), "%s", "2026-12-01");
	snprintf(p.purposes, sizeof(p.purposes), "%s", "support,analytics");
	snprintf(p.text, sizeof(p.text), "%s", "We keep machine data.");
	p.published_ms = T0;
	CHECK_EQ(s->ops->policy_publish(s, &p, &version), CC_OK);
	CHECK_EQ(version, last + 1);
	CHECK_EQ(s->ops->policy_each(s, see_policy, &last), CC_OK);
	CHECK_EQ(last, version);
	CHECK_EQ(s->ops->consent_latest(s, f.customer, &last), CC_OK);
	CHECK_EQ(last, 0);
	CHECK_EQ(s->ops->consent_add(s, f.customer, version, "en", "barista", T0), CC_OK);
	CHECK_EQ(s->ops->consent_add(s, f.customer, version, "en", "barista", T0 + 1), CC_OK);
	CHECK_EQ(s->ops->consent_latest(s, f.customer, &last), CC_OK);
	CHECK_EQ(last, version);
}

/* ---- notifications ---- */

static int64_t add_webhook(struct store *s, int64_t org, const char *url)
{
	struct store_webhook w = { 0 };
	int64_t id = 0;

	w.org_id = org;
	snprintf(w.url, sizeof(w.url), "%s", url);
	memcpy(w.secret, "sealed-secret", 13);
	w.secret_len = 13;
	w.created_ms = T0;
	CHECK_EQ(s->ops->notify->webhook_add(s, &w, &id), CC_OK);
	CHECK(id > 0);
	return id;
}

static int64_t add_note(struct store *s, int64_t org, int64_t webhook, int64_t user, const char *msg_id,
                        int64_t next)
{
	struct store_notification n = { 0 };
	int64_t id = 0;

	snprintf(n.msg_id, sizeof(n.msg_id), "%s", msg_id);
	n.org_id = org;
	n.webhook_id = webhook;
	n.user_id = user;
	snprintf(n.kind, sizeof(n.kind), "%s", "alert.opened");
	n.created_ms = T0;
	memcpy(n.body, "sealed-body", 11);
	n.body_len = 11;
	n.next_ms = next;
	CHECK_EQ(s->ops->notify->outbox_add(s, &n, &id), CC_OK);
	CHECK(id > 0);
	return id;
}

static int see_msg(void *ctx, const struct store_notification *n)
{
	char *out = ctx;

	strncat(out, n->msg_id, 256 - strlen(out) - 2);
	strcat(out, ",");
	return 0;
}

static void case_notify_webhooks(struct store **sp)
{
	struct store *s = *sp;
	const struct store_notify_ops *no = s->ops->notify;
	struct fleet f;
	struct store_notify_prefs p = { 0 }, got;
	struct store_webhook w;
	int64_t h1, h2, failures = 0;
	int n = 0;

	fleet(s, &f);
	CHECK_EQ(no->prefs_get(s, f.user, &got), CC_ERR_NOTFOUND);
	p.user_id = f.user;
	p.email = 1;
	snprintf(p.kinds, sizeof(p.kinds), "%s", "alert.opened");
	snprintf(p.quiet, sizeof(p.quiet), "%s", "22:00-06:00");
	snprintf(p.tz, sizeof(p.tz), "%s", "Europe/Budapest");
	snprintf(p.language, sizeof(p.language), "%s", "hu");
	CHECK_EQ(no->prefs_set(s, &p), CC_OK);
	p.email = 0;
	CHECK_EQ(no->prefs_set(s, &p), CC_OK); /* replaces */
	CHECK_EQ(no->prefs_get(s, f.user, &got), CC_OK);
	CHECK_EQ(got.email, 0);
	CHECK_STR(got.quiet, "22:00-06:00");
	CHECK_STR(got.language, "hu");

	h1 = add_webhook(s, f.customer, "https://example.com/hook");
	h2 = add_webhook(s, f.maker, "https://example.org/hook");
	CHECK_EQ(no->webhook_get(s, h1, &w), CC_OK);
	CHECK_STR(w.url, "https://example.com/hook");
	CHECK_EQ(w.secret_len, 13);
	CHECK_EQ(no->webhook_get(s, h2 + 1000, &w), CC_ERR_NOTFOUND);
	CHECK_EQ(no->webhook_list(s, f.customer, COUNTER(store_webhook), &n), CC_OK);
	CHECK_EQ(n, 1);
	n = 0;
	CHECK_EQ(no->webhook_list(s, 0, COUNTER(store_webhook), &n), CC_OK);
	CHECK_EQ(n, 2);
	CHECK_EQ(no->webhook_set_secret(s, h1, (const uint8_t *)"new-secret", 10, (const uint8_t *)"sealed-secret", 13,
	                                T0 + 100),
	         CC_OK);
	CHECK_EQ(no->webhook_get(s, h1, &w), CC_OK);
	CHECK_EQ(w.secret_len, 10);
	CHECK_EQ(w.prev_secret_len, 13);
	CHECK_EQ(w.prev_until_ms, T0 + 100);
	CHECK_EQ(no->webhook_outcome(s, h1, 1, &failures), CC_OK);
	CHECK_EQ(failures, 1);
	CHECK_EQ(no->webhook_outcome(s, h1, 1, &failures), CC_OK);
	CHECK_EQ(failures, 2);
	CHECK_EQ(no->webhook_outcome(s, h1, 0, &failures), CC_OK);
	CHECK_EQ(failures, 0);
	CHECK_EQ(no->webhook_outcome(s, h1, 1, &failures), CC_OK);
	CHECK_EQ(no->webhook_disable(s, h1, T0 + 5), CC_OK);
	CHECK_EQ(no->webhook_get(s, h1, &w), CC_OK);
	CHECK_EQ(w.disabled_ms, T0 + 5);
	CHECK_EQ(no->webhook_disable(s, h1, 0), CC_OK);
	CHECK_EQ(no->webhook_get(s, h1, &w), CC_OK);
	CHECK_EQ(w.disabled_ms, 0);
	CHECK_EQ(w.failures, 0);

	/* Removing an endpoint makes its pending notifications gone. */
	(void)add_note(s, f.customer, h1, 0, "msg-h1", T0);
	CHECK_EQ(no->webhook_remove(s, h1, T0 + 9), CC_OK);
	CHECK_EQ(no->webhook_get(s, h1, &w), CC_ERR_NOTFOUND);
	{
		int64_t pending = -1;

		CHECK_EQ(no->outbox_pending(s, &pending), CC_OK);
		CHECK_EQ(pending, 0);
	}
}

static void case_notify_outbox(struct store **sp)
{
	struct store *s = *sp;
	const struct store_notify_ops *no = s->ops->notify;
	struct fleet f;
	struct store_notify_attempt at = { 0 };
	int64_t h, n1, n2, n3, next = 0, pending = 0, deleted = 0;
	char seen[256] = "";
	int n = 0;

	fleet(s, &f);
	h = add_webhook(s, f.customer, "https://example.com/hook");
	CHECK_EQ(no->outbox_next_due(s, &next), CC_ERR_NOTFOUND);
	n1 = add_note(s, f.customer, h, 0, "m1", T0 + 10);
	n2 = add_note(s, f.customer, h, 0, "m2", T0 + 5);
	n3 = add_note(s, f.customer, 0, f.user, "m3", T0 + 50);
	CHECK_EQ(no->outbox_next_due(s, &next), CC_OK);
	CHECK_EQ(next, T0 + 5);
	CHECK_EQ(no->outbox_pending(s, &pending), CC_OK);
	CHECK_EQ(pending, 3);
	/* Due at now, by id, after after_id, at most max. */
	CHECK_EQ(no->outbox_due(s, T0 + 10, 0, 10, see_msg, seen), CC_OK);
	CHECK_STR(seen, "m1,m2,");
	seen[0] = '\0';
	CHECK_EQ(no->outbox_due(s, T0 + 10, n1, 10, see_msg, seen), CC_OK);
	CHECK_STR(seen, "m2,");
	seen[0] = '\0';
	CHECK_EQ(no->outbox_due(s, T0 + 100, 0, 2, see_msg, seen), CC_OK);
	CHECK_STR(seen, "m1,m2,");
	CHECK_EQ(no->outbox_defer(s, n2, T0 + 70), CC_OK);
	seen[0] = '\0';
	CHECK_EQ(no->outbox_due(s, T0 + 10, 0, 10, see_msg, seen), CC_OK);
	CHECK_STR(seen, "m1,");

	/* An attempt that fails leaves it pending at its next time; one that
	 * succeeds ends it. */
	at.outbox_id = n1;
	snprintf(at.msg_id, sizeof(at.msg_id), "%s", "m1");
	at.attempt = 1;
	at.at_ms = T0 + 10;
	at.status = 503;
	snprintf(at.error, sizeof(at.error), "%s", "HTTP 503");
	CHECK_EQ(no->outbox_attempt(s, &at, NOTIFY_PENDING, T0 + 40), CC_OK);
	seen[0] = '\0';
	CHECK_EQ(no->outbox_due(s, T0 + 39, 0, 10, see_msg, seen), CC_OK);
	CHECK_STR(seen, "");
	at.attempt = 2;
	at.at_ms = T0 + 40;
	at.status = 204;
	at.error[0] = '\0';
	CHECK_EQ(no->outbox_attempt(s, &at, NOTIFY_DELIVERED, 0), CC_OK);
	CHECK_EQ(no->attempts_of(s, n1, COUNTER(store_notify_attempt), &n), CC_OK);
	CHECK_EQ(n, 2);
	CHECK_EQ(no->outbox_pending(s, &pending), CC_OK);
	CHECK_EQ(pending, 2);
	seen[0] = '\0';
	CHECK_EQ(no->outbox_of_webhook(s, h, 10, see_msg, seen), CC_OK);
	CHECK_STR(seen, "m2,m1,"); /* newest first */

	/* Purge: ended before the cut go, with their attempts; pending stay. */
	CHECK_EQ(no->outbox_purge(s, T0 + 1, &deleted), CC_OK);
	CHECK_EQ(deleted, 0);
	CHECK_EQ(no->outbox_purge(s, INT64_MAX, &deleted), CC_OK);
	CHECK_EQ(deleted, 1);
	n = 0;
	CHECK_EQ(no->attempts_of(s, n1, COUNTER(store_notify_attempt), &n), CC_OK);
	CHECK_EQ(n, 0);
	CHECK_EQ(no->outbox_pending(s, &pending), CC_OK);
	CHECK_EQ(pending, 2);
	/* A person's notification (no endpoint) is due like the others. */
	seen[0] = '\0';
	CHECK_EQ(no->outbox_due(s, T0 + 100, n2, 10, see_msg, seen), CC_OK);
	CHECK_STR(seen, "m3,");
	CHECK(n3 > n2);
}

/* ---- tickets ---- */

static void case_tickets(struct store **sp)
{
	struct store *s = *sp;
	const struct store_ticket_ops *to = s->ops->tickets;
	struct fleet f;
	struct store_ticket t = { 0 }, got;
	struct store_ticket_filter filt = { 0 };
	struct store_ticket_event e = { 0 };
	int64_t t1 = 0, t2 = 0, alert = 0;
	int n = 0;

	fleet(s, &f);
	{
		struct store_alert a = { 0 };

		a.machine_id = f.m1;
		snprintf(a.rule, sizeof(a.rule), "%s", "offline");
		snprintf(a.cause, sizeof(a.cause), "%s", "offline");
		snprintf(a.severity, sizeof(a.severity), "%s", "warning");
		snprintf(a.state, sizeof(a.state), "%s", "open");
		a.opened_ms = a.level_ms = T0;
		CHECK_EQ(s->ops->alert_open(s, &a, &alert), CC_OK);
	}
	t.machine_id = f.m1;
	t.customer_id = f.customer;
	t.alert_id = alert;
	snprintf(t.state, sizeof(t.state), "%s", "open");
	t.opened_ms = t.updated_ms = T0;
	snprintf(t.opened_by, sizeof(t.opened_by), "%s", "user:ann");
	memcpy(t.title, "sealed-title", 12);
	t.title_len = 12;
	CHECK_EQ(to->add(s, &t, &t1), CC_OK);
	t.alert_id = 0;
	t.machine_id = f.m2;
	CHECK_EQ(to->add(s, &t, &t2), CC_OK);
	CHECK_EQ(to->get(s, t1, &got), CC_OK);
	CHECK_EQ(got.title_len, 12);
	CHECK(memcmp(got.title, "sealed-title", 12) == 0);
	CHECK_EQ(got.description_len, 0);
	CHECK_EQ(to->get(s, t2 + 1000, &got), CC_ERR_NOTFOUND);
	CHECK_EQ(to->find_by_alert(s, alert, &got), CC_OK);
	CHECK_EQ(got.id, t1);
	CHECK_EQ(to->find_by_alert(s, alert + 1000, &got), CC_ERR_NOTFOUND);

	CHECK_EQ(to->get(s, t1, &got), CC_OK);
	snprintf(got.state, sizeof(got.state), "%s", "closed");
	snprintf(got.assignee, sizeof(got.assignee), "%s", "tech");
	got.closed_ms = got.updated_ms = T0 + 10;
	got.events = 2;
	memcpy(got.description, "sealed-desc", 11);
	got.description_len = 11;
	CHECK_EQ(to->update(s, &got), CC_OK);
	CHECK_EQ(to->get(s, t1, &got), CC_OK);
	CHECK_STR(got.state, "closed");
	CHECK_STR(got.assignee, "tech");
	CHECK_EQ(got.closed_ms, T0 + 10);
	CHECK_EQ(got.events, 2);
	CHECK_EQ(got.description_len, 11);

	filt.unclosed = 1;
	CHECK_EQ(to->list(s, &filt, COUNTER(store_ticket), &n), CC_OK);
	CHECK_EQ(n, 1);
	memset(&filt, 0, sizeof(filt));
	filt.machine_id = f.m1;
	n = 0;
	CHECK_EQ(to->list(s, &filt, COUNTER(store_ticket), &n), CC_OK);
	CHECK_EQ(n, 1);
	memset(&filt, 0, sizeof(filt));
	filt.before_id = t2;
	n = 0;
	CHECK_EQ(to->list(s, &filt, COUNTER(store_ticket), &n), CC_OK);
	CHECK_EQ(n, 1);

	e.ticket_id = t1;
	e.seq = 1;
	e.at_ms = T0;
	snprintf(e.who, sizeof(e.who), "%s", "user:ann");
	snprintf(e.what, sizeof(e.what), "%s", "opened");
	CHECK_EQ(to->event_add(s, &e), CC_OK);
	e.seq = 2;
	e.at_ms = T0 + 10;
	snprintf(e.what, sizeof(e.what), "%s", "closed");
	memcpy(e.text, "sealed-report", 13);
	e.text_len = 13;
	CHECK_EQ(to->event_add(s, &e), CC_OK);
	CHECK(to->event_add(s, &e) != CC_OK); /* a line of history is written once */
	n = 0;
	CHECK_EQ(to->events(s, t1, COUNTER(store_ticket_event), &n), CC_OK);
	CHECK_EQ(n, 2);
	n = 0;
	CHECK_EQ(to->machine_events(s, f.m1, T0, T0 + 10, COUNTER(store_ticket_event), &n), CC_OK);
	CHECK_EQ(n, 1);
	n = 0;
	CHECK_EQ(to->machine_events(s, f.m2, 0, INT64_MAX, COUNTER(store_ticket_event), &n), CC_OK);
	CHECK_EQ(n, 0);

	/* The caller's scope in the query: customers, granted machines, granted sites; empty lists: none. */
	{
		int64_t other = add_org(s, f.maker, ORG_CUSTOMER, "cafe-other"), none[1] = { 0 };
		int64_t m3 = add_machine(s, other, 0, "SN-0003"), t3 = 0, deleted = -1;

		t.machine_id = m3;
		t.customer_id = other;
		CHECK_EQ(to->add(s, &t, &t3), CC_OK);
		memset(&filt, 0, sizeof(filt));
		filt.scoped = 1;
		n = 0;
		CHECK_EQ(to->list(s, &filt, COUNTER(store_ticket), &n), CC_OK);
		CHECK_EQ(n, 0);
		filt.customers = &other;
		filt.ncustomers = 1;
		n = 0;
		CHECK_EQ(to->list(s, &filt, COUNTER(store_ticket), &n), CC_OK);
		CHECK_EQ(n, 1);
		filt.customers = none;
		filt.machines = &f.m2;
		filt.nmachines = 1;
		filt.sites = &f.site; /* m1 is there */
		filt.nsites = 1;
		n = 0;
		CHECK_EQ(to->list(s, &filt, COUNTER(store_ticket), &n), CC_OK);
		CHECK_EQ(n, 2);
		memset(&filt, 0, sizeof(filt));
		filt.site_name = "main-street";
		n = 0;
		CHECK_EQ(to->list(s, &filt, COUNTER(store_ticket), &n), CC_OK);
		CHECK_EQ(n, 1);
		/* Retention: closed before the cut-off only, its history with it. */
		CHECK_EQ(to->purge(s, f.m1, T0 + 10, 10, &deleted), CC_OK);
		CHECK_EQ(deleted, 0);
		CHECK_EQ(to->purge(s, f.m2, T0 + 11, 10, &deleted), CC_OK); /* open: kept */
		CHECK_EQ(deleted, 0);
		CHECK_EQ(to->purge(s, f.m1, T0 + 11, 10, &deleted), CC_OK);
		CHECK_EQ(deleted, 1);
		CHECK_EQ(to->get(s, t1, &got), CC_ERR_NOTFOUND);
		n = 0;
		CHECK_EQ(to->events(s, t1, COUNTER(store_ticket_event), &n), CC_OK);
		CHECK_EQ(n, 0);
	}
}

/* ---- rollouts ---- */

/* A release key and an artifact signed by it, named by fill (64 times). */
static void add_artifact(struct store *s, char fill)
{
	struct store_release_key k = { 0 };
	struct store_artifact a = { 0 };

	memset(k.key_id, 'k', 64);
	snprintf(k.pem, sizeof(k.pem), "%s", "-----BEGIN PUBLIC KEY-----");
	snprintf(k.label, sizeof(k.label), "%s", "release 2026");
	k.added_ms = T0;
	snprintf(k.added_by, sizeof(k.added_by), "%s", "cli:root");
	(void)s->ops->updates->release_key_add(s, &k); /* known already from another artifact: fine */
	memset(a.sha256, fill, 64);
	snprintf(a.version, sizeof(a.version), "%s", "2.1.0");
	snprintf(a.models, sizeof(a.models), "%s", "barista-9");
	a.size = 12345;
	memcpy(a.key_id, k.key_id, sizeof(a.key_id));
	a.expires_ms = T0 + 1000;
	a.added_ms = T0;
	snprintf(a.added_by, sizeof(a.added_by), "%s", "cli:root");
	CHECK_EQ(s->ops->updates->artifact_add(s, &a, "{\"version\":\"2.1.0\"}"), CC_OK);
}

static void case_rollouts(struct store **sp)
{
	struct store *s = *sp;
	const struct store_rollout_ops *ro = s->ops->rollouts;
	struct fleet f;
	struct store_rollout r = { 0 }, got;
	struct store_rollout_machine rm;
	struct store_rollout_report rep = { 0 };
	int64_t r1 = 0, r2 = 0;
	int n = 0;

	fleet(s, &f);
	add_artifact(s, 'a');
	memset(r.sha256, 'a', 64);
	snprintf(r.target, sizeof(r.target), "%s", "{\"model\":\"barista-9\"}");
	snprintf(r.phases, sizeof(r.phases), "%s", "10,50,100");
	r.soak_ms = 60 * MIN;
	r.threshold_pct = 5;
	r.min_reports = 3;
	snprintf(r.state, sizeof(r.state), "%s", "running");
	r.created_ms = r.updated_ms = T0;
	snprintf(r.created_by, sizeof(r.created_by), "%s", "user:ann");
	CHECK_EQ(ro->add(s, &r, &r1), CC_OK);
	CHECK_EQ(ro->add(s, &r, &r2), CC_OK);
	CHECK_EQ(ro->get(s, r1, &got), CC_OK);
	CHECK_STR(got.phases, "10,50,100");
	CHECK_EQ(got.soak_ms, 60 * MIN);
	CHECK_EQ(ro->get(s, r2 + 1000, &got), CC_ERR_NOTFOUND);

	CHECK_EQ(ro->machine_add(s, r1, f.m1, T0), CC_OK);
	CHECK_EQ(ro->machine_add(s, r1, f.m2, T0), CC_OK);
	/* A machine is in one active rollout at a time. */
	CHECK_EQ(ro->machine_add(s, r2, f.m1, T0), CC_ERR_EXISTS);
	CHECK_EQ(ro->active_of(s, f.m1, &rm), CC_OK);
	CHECK_EQ(rm.rollout_id, r1);
	CHECK_STR(rm.serial, "SN-0001");
	CHECK_EQ(rm.phase, -1);
	rm.phase = 0;
	snprintf(rm.state, sizeof(rm.state), "%s", "downloading");
	rm.percent = 40;
	rm.offered_ms = rm.updated_ms = T0 + 1;
	CHECK_EQ(ro->machine_set(s, &rm), CC_OK);
	CHECK_EQ(ro->active_of(s, f.m1, &rm), CC_OK);
	CHECK_EQ(rm.percent, 40);
	CHECK_STR(rm.state, "downloading");
	CHECK_EQ(ro->machines(s, r1, COUNTER(store_rollout_machine), &n), CC_OK);
	CHECK_EQ(n, 2);

	CHECK_EQ(ro->get(s, r1, &got), CC_OK);
	snprintf(got.state, sizeof(got.state), "%s", "completed");
	got.ended_ms = T0 + 99;
	got.phase = 2;
	CHECK_EQ(ro->update(s, &got), CC_OK);
	CHECK_EQ(ro->release(s, r1), CC_OK);
	CHECK_EQ(ro->active_of(s, f.m1, &rm), CC_ERR_NOTFOUND);
	CHECK_EQ(ro->machine_add(s, r2, f.m1, T0 + 100), CC_OK);
	n = 0;
	CHECK_EQ(ro->list(s, "completed", COUNTER(store_rollout), &n), CC_OK);
	CHECK_EQ(n, 1);
	n = 0;
	CHECK_EQ(ro->list(s, NULL, COUNTER(store_rollout), &n), CC_OK);
	CHECK_EQ(n, 2);

	rep.rollout_id = r1;
	rep.machine_id = f.m1;
	rep.at_ms = T0 + 5;
	snprintf(rep.state, sizeof(rep.state), "%s", "installed");
	CHECK_EQ(ro->report_add(s, &rep), CC_OK);
	rep.at_ms = T0 + 15;
	CHECK_EQ(ro->report_add(s, &rep), CC_OK);
	n = 0;
	CHECK_EQ(ro->reports(s, f.m1, T0, T0 + 15, COUNTER(store_rollout_report), &n), CC_OK);
	CHECK_EQ(n, 1);
}

/* ---- updates and diagnostics ---- */

static void case_updates(struct store **sp)
{
	struct store *s = *sp;
	const struct store_update_ops *uo = s->ops->updates;
	struct fleet f;
	struct store_release_key k = { 0 };
	struct store_artifact a = { 0 }, got;
	char sha[65], *meta = NULL;
	int64_t at = 0;
	int n = 0;

	fleet(s, &f);
	memset(k.key_id, 'k', 64);
	snprintf(k.pem, sizeof(k.pem), "%s", "-----BEGIN PUBLIC KEY-----");
	snprintf(k.label, sizeof(k.label), "%s", "release 2026");
	k.added_ms = T0;
	snprintf(k.added_by, sizeof(k.added_by), "%s", "cli:root");
	CHECK_EQ(uo->release_key_add(s, &k), CC_OK);
	CHECK_EQ(uo->release_key_add(s, &k), CC_ERR_EXISTS);
	CHECK_EQ(uo->release_key_revoke(s, k.key_id, T0 + 1, "cli:root"), CC_OK);
	CHECK_EQ(uo->release_key_add(s, &k), CC_ERR_EXISTS); /* revoked keys stay known */
	CHECK_EQ(uo->release_key_list(s, COUNTER(store_release_key), &n), CC_OK);
	CHECK_EQ(n, 1);

	memset(a.sha256, 'd', 64);
	snprintf(a.version, sizeof(a.version), "%s", "2.1.0");
	snprintf(a.models, sizeof(a.models), "%s", "barista-9");
	a.size = 12345;
	memcpy(a.key_id, k.key_id, sizeof(a.key_id));
	a.expires_ms = T0 + 1000;
	a.added_ms = T0;
	snprintf(a.added_by, sizeof(a.added_by), "%s", "cli:root");
	CHECK_EQ(uo->artifact_add(s, &a, "{\"version\":\"2.1.0\"}"), CC_OK);
	CHECK_EQ(uo->artifact_get(s, a.sha256, &got, &meta), CC_OK);
	CHECK_STR(got.version, "2.1.0");
	CHECK_EQ(got.size, 12345);
	CHECK(meta != NULL && strcmp(meta, "{\"version\":\"2.1.0\"}") == 0);
	free(meta);
	memset(sha, 'e', 64);
	sha[64] = '\0';
	meta = NULL;
	CHECK_EQ(uo->artifact_get(s, sha, &got, &meta), CC_ERR_NOTFOUND);
	free(meta);
	n = 0;
	CHECK_EQ(uo->artifact_list(s, COUNTER(store_artifact), &n), CC_OK);
	CHECK_EQ(n, 1);

	CHECK_EQ(uo->offer_get(s, f.m1, sha, &at), CC_ERR_NOTFOUND);
	CHECK_EQ(uo->offer_set(s, f.m1, a.sha256, T0 + 7, "user:ann"), CC_OK);
	CHECK_EQ(uo->offer_get(s, f.m1, sha, &at), CC_OK);
	CHECK_STR(sha, a.sha256);
	CHECK_EQ(at, T0 + 7);
	CHECK_EQ(uo->offer_clear(s, f.m1), CC_OK);
	CHECK_EQ(uo->offer_get(s, f.m1, sha, &at), CC_ERR_NOTFOUND);
}

static void case_diagnostics(struct store **sp)
{
	struct store *s = *sp;
	const struct store_diag_ops *dg = s->ops->diagnostics;
	struct fleet f;
	struct store_diag d = { 0 }, got;
	uint8_t *blob = NULL;
	size_t len = 0;
	int64_t off = -1, swept = 0;
	int n = 0;

	fleet(s, &f);
	d.machine_id = f.m1;
	d.customer_id = f.customer;
	snprintf(d.requested_by, sizeof(d.requested_by), "%s", "user:ann");
	d.requested_ms = T0;
	d.expires_ms = T0 + 10 * MIN;
	d.max_bytes = 1 << 20;
	d.state = DIAG_REQUESTED;
	CHECK_EQ(dg->add(s, &d), CC_OK);
	CHECK(d.id > 0);
	CHECK_EQ(dg->get(s, d.id, &got), CC_OK);
	CHECK_EQ(got.state, DIAG_REQUESTED);
	CHECK_EQ(got.max_bytes, 1 << 20);
	CHECK_EQ(dg->get(s, d.id + 1000, &got), CC_ERR_NOTFOUND);
	CHECK_EQ(dg->chunk_add(s, d.id, 0, (const uint8_t *)"first-", 6), CC_OK);
	CHECK_EQ(dg->chunk_add(s, d.id, 6, (const uint8_t *)"second", 6), CC_OK);
	CHECK_EQ(dg->chunk_next(s, d.id, 0, &off, &blob, &len), CC_OK);
	CHECK_EQ(off, 0);
	CHECK(len == 6 && blob != NULL && memcmp(blob, "first-", 6) == 0);
	free(blob);
	blob = NULL;
	CHECK_EQ(dg->chunk_next(s, d.id, 1, &off, &blob, &len), CC_OK);
	CHECK_EQ(off, 6);
	CHECK(len == 6 && blob != NULL && memcmp(blob, "second", 6) == 0);
	free(blob);
	blob = NULL;
	CHECK_EQ(dg->chunk_next(s, d.id, 7, &off, &blob, &len), CC_ERR_NOTFOUND);
	free(blob);
	got.state = DIAG_COMPLETE;
	got.received = 12;
	got.completed_ms = T0 + 1;
	memset(got.sha256, 'c', 64);
	got.sha256[64] = '\0';
	CHECK_EQ(dg->update(s, &got), CC_OK);
	CHECK_EQ(dg->get(s, d.id, &got), CC_OK);
	CHECK_EQ(got.state, DIAG_COMPLETE);
	CHECK_EQ(got.received, 12);
	CHECK_EQ(dg->list(s, f.m1, 10, COUNTER(store_diag), &n), CC_OK);
	CHECK_EQ(n, 1);
	CHECK_EQ(dg->chunks_drop(s, d.id), CC_OK);
	blob = NULL;
	CHECK_EQ(dg->chunk_next(s, d.id, 0, &off, &blob, &len), CC_ERR_NOTFOUND);
	free(blob);
	/* A request not complete by its expiry is swept. */
	d.state = DIAG_REQUESTED;
	CHECK_EQ(dg->add(s, &d), CC_OK);
	CHECK_EQ(dg->sweep(s, T0 + 11 * MIN, 0, &swept), CC_OK);
	CHECK(swept >= 1);
	CHECK_EQ(dg->get(s, d.id, &got), CC_OK);
	CHECK(got.state == DIAG_EXPIRED || got.state == DIAG_FAILED);

	/* Pages, newest first, by cursor and by the caller's scope. */
	{
		struct store_diag_filter pf = { 0 };
		int64_t other = add_org(s, f.maker, ORG_CUSTOMER, "cafe-diag"), first = d.id, bundles = -1, chunks = -1;

		pf.machine_id = f.m1;
		n = 0;
		CHECK_EQ(dg->page(s, &pf, COUNTER(store_diag), &n), CC_OK);
		CHECK_EQ(n, 2);
		pf.before_id = first;
		n = 0;
		CHECK_EQ(dg->page(s, &pf, COUNTER(store_diag), &n), CC_OK);
		CHECK_EQ(n, 1);
		memset(&pf, 0, sizeof(pf));
		pf.serial = "SN-0001";
		n = 0;
		CHECK_EQ(dg->page(s, &pf, COUNTER(store_diag), &n), CC_OK);
		CHECK_EQ(n, 2);
		pf.scoped = 1;
		pf.customers = &other;
		pf.ncustomers = 1;
		n = 0;
		CHECK_EQ(dg->page(s, &pf, COUNTER(store_diag), &n), CC_OK);
		CHECK_EQ(n, 0);
		pf.customers = &f.customer;
		n = 0;
		CHECK_EQ(dg->page(s, &pf, COUNTER(store_diag), &n), CC_OK);
		CHECK_EQ(n, 2);
		/* Retention in batches: chunks first, then the bundles left without any. */
		CHECK_EQ(dg->chunk_add(s, first, 0, (const uint8_t *)"a", 1), CC_OK);
		CHECK_EQ(dg->chunk_add(s, first, 1, (const uint8_t *)"b", 1), CC_OK);
		CHECK_EQ(dg->purge(s, f.m1, T0 + 1, 1, &bundles, &chunks), CC_OK);
		CHECK(chunks == 1 && bundles == 0);
		CHECK_EQ(dg->purge(s, f.m1, T0 + 1, 2, &bundles, &chunks), CC_OK);
		CHECK(chunks == 1 && bundles == 1);
		CHECK_EQ(dg->purge(s, f.m1, T0 + 1, 5, &bundles, &chunks), CC_OK);
		CHECK(chunks == 0 && bundles == 1);
		CHECK_EQ(dg->get(s, first, &got), CC_ERR_NOTFOUND);
		CHECK_EQ(dg->purge(s, f.m1, T0 + 1, 5, &bundles, &chunks), CC_OK);
		CHECK(chunks == 0 && bundles == 0);
	}
}

/* ---- the table itself ---- */

/* Every slot of a table of pointers, from first on, is filled: callers
 * never check an op for NULL, so a backend that leaves one out would
 * crash where it is first used instead of failing here. The tables hold
 * nothing but pointers (checked), so they are walked slot by slot. */
static int slots_filled(const void *table, size_t size, size_t first, const char *what /* NULL: quiet */)
{
	typedef void (*fn)(void);
	const unsigned char *p = table;
	size_t off, empty = 0;

	CHECK_EQ(size % sizeof(fn), 0);
	for (off = first; off + sizeof(fn) <= size; off += sizeof(fn)) {
		fn f;

		memcpy(&f, p + off, sizeof(f));
		if (f == NULL && empty++ == 0 && what != NULL)
			fprintf(stderr, "%s: slot %zu of the table is empty\n", what, off / sizeof(fn));
	}
	if (empty > 1 && what != NULL)
		fprintf(stderr, "%s: %zu of %zu slots empty\n", what, empty, (size - first) / sizeof(fn));
	return empty == 0;
}

static void case_ops_complete(struct store **sp)
{
	const struct store_ops *o = (*sp)->ops;

	CHECK(o->name != NULL && strcmp(o->name, ops->name) == 0);
	CHECK(o->notify != NULL && o->updates != NULL && o->diagnostics != NULL && o->tickets != NULL &&
	      o->rollouts != NULL);
	if (o->notify == NULL || o->updates == NULL || o->diagnostics == NULL || o->tickets == NULL ||
	    o->rollouts == NULL)
		return;
	CHECK(slots_filled(o, sizeof(*o), offsetof(struct store_ops, open), "store_ops"));
	CHECK(slots_filled(o->notify, sizeof(*o->notify), 0, "notify"));
	CHECK(slots_filled(o->updates, sizeof(*o->updates), 0, "updates"));
	CHECK(slots_filled(o->diagnostics, sizeof(*o->diagnostics), 0, "diagnostics"));
	CHECK(slots_filled(o->tickets, sizeof(*o->tickets), 0, "tickets"));
	CHECK(slots_filled(o->rollouts, sizeof(*o->rollouts), 0, "rollouts"));
	/* The walk sees a hole where there is one. */
	{
		struct store_ops holed = *o;

		holed.row_mac_set = NULL;
		CHECK(!slots_filled(&holed, sizeof(holed), offsetof(struct store_ops, open), NULL));
	}
}

/* ---- the runner ---- */

struct conformance_case {
	const char *name;
	void (*run)(struct store **s);
};

#define CASE(fn) { #fn + 5, fn }
static const struct conformance_case cases[] = {
	CASE(case_ops_complete),
	CASE(case_meta),
	CASE(case_orgs),
	CASE(case_org_delete),
	CASE(case_sites),
	CASE(case_groups),
	CASE(case_machines),
	CASE(case_machine_certs),
	CASE(case_machine_state),
	CASE(case_state_changes_refusals),
	CASE(case_users),
	CASE(case_credentials),
	CASE(case_grants),
	CASE(case_row_macs),
	CASE(case_tx_all_or_nothing),
	CASE(case_tx_failure_keeps_tx),
	CASE(case_tx_savepoint),
	CASE(case_tx_read_snapshot),
	CASE(case_audit_chain),
	CASE(case_records_range),
	CASE(case_records_duplicates),
	CASE(case_records_settle),
	CASE(case_records_purge),
	CASE(case_records_outside_tx),
	CASE(case_records_batch),
	CASE(case_records_months),
	CASE(case_rollups),
	CASE(case_event_days_cleanings),
	CASE(case_commands),
	CASE(case_jobs),
	CASE(case_alerts),
	CASE(case_settings),
	CASE(case_notify_webhooks),
	CASE(case_notify_outbox),
	CASE(case_tickets),
	CASE(case_rollouts),
	CASE(case_updates),
	CASE(case_diagnostics),
};

/* Where this case's store lives: a new file, or the backend's template
 * from the environment with the case's name in it. */
static int case_location(const struct backend *b, const char *dir, const char *name)
{
	const char *tmpl;
	int n;

	if (b->location_env == NULL) {
		n = snprintf(location, sizeof(location), "%s/%s-%s.db", dir, b->name, name);
		return n > 0 && (size_t)n < sizeof(location) ? 0 : -1;
	}
	tmpl = getenv(b->location_env);
	if (tmpl == NULL || strstr(tmpl, "%s") == NULL || strchr(strstr(tmpl, "%s") + 2, '%') != NULL) {
		fprintf(stderr, "%s: set %s to a location template with one %%s\n", b->name, b->location_env);
		return -1;
	}
	n = snprintf(location, sizeof(location), tmpl, name);
	return n > 0 && (size_t)n < sizeof(location) ? 0 : -1;
}

/* With arguments, only the cases named run; ctest gives none: every case,
 * or those a backend in the making passes so far. */
static int wanted(int argc, char **argv, const struct backend *b, const char *name)
{
	int i;

	if (argc < 2 && b->ready != NULL) {
		for (i = 0; b->ready[i] != NULL; i++)
			if (strcmp(b->ready[i], name) == 0)
				return 1;
		return 0;
	}
	if (argc < 2)
		return 1;
	for (i = 1; i < argc; i++)
		if (strcmp(argv[i], name) == 0)
			return 1;
	return 0;
}

int main(int argc, char **argv)
{
	char dir[900];
	size_t b, c;

	log_set_level(LOG_LEVEL_ERROR);
	check_tmpdir(dir, sizeof(dir), "store-conformance");
	for (b = 0; b < sizeof(backends) / sizeof(backends[0]); b++) {
		ops = backends[b].in_progress != NULL ? backends[b].in_progress : store_backend_find(backends[b].name);
		CHECK(ops != NULL);
		if (ops == NULL)
			continue;
		if (backends[b].ready != NULL) {
			size_t r, n = 0;

			/* A name that is no case would leave a case out unnoticed. */
			for (r = 0; backends[b].ready[r] != NULL; r++) {
				for (c = 0; c < sizeof(cases) / sizeof(cases[0]); c++)
					n += strcmp(cases[c].name, backends[b].ready[r]) == 0;
				CHECK_EQ(n, r + 1);
			}
			printf("%s (in progress): %zu of %zu cases pass so far, those run\n", backends[b].name, n,
			       sizeof(cases) / sizeof(cases[0]));
		}
		for (c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
			int before = check_failures;
			struct store *s = NULL;

			if (!wanted(argc, argv, &backends[b], cases[c].name))
				continue;
			if (case_location(&backends[b], dir, cases[c].name) != 0) {
				CHECK(!"no location for the backend");
				continue;
			}
			CHECK_EQ(ops->open(location, 1, &s), CC_OK);
			if (s == NULL)
				continue;
			cases[c].run(&s);
			if (s != NULL) {
				CHECK(s->ops->in_transaction(s) == 0);
				CHECK_EQ(s->ops->check(s), CC_OK);
				ops->close(s);
			}
			printf("%s %s/%s\n", check_failures == before ? "ok  " : "FAIL", backends[b].name, cases[c].name);
			/* A table with holes would crash the cases that call them. */
			if (cases[c].run == case_ops_complete && check_failures != before && argc < 2) {
				printf("FAIL %s: the ops table has empty slots, its other cases not run\n", backends[b].name);
				break;
			}
		}
	}
	return check_summary();
}
