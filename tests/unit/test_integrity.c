/*
 * Integrity of the data that decides access, through the real modules:
 * row MACs bind a row's identity and access columns (a copied MAC, a NULL
 * one, an edited column all fail); grant coverage is decided over verified
 * rows only; revocations keep a good row good; and an erasure made by one
 * vault reaches the key cache of another (the daemon's loop and writer).
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

#include "check.h"
#include "common/clock.h"
#include "common/err.h"
#include "common/log.h"
#include "fleet/inventory.h"
#include "setup/setup.h"
#include "vault/vault.h"

static char dir[900];

static void init_dir(const char *name)
{
	struct setup_opts o = { 0 };
	struct setup_result r;

	check_tmpdir(dir, sizeof(dir), name);
	strncat(dir, "/data", sizeof(dir) - strlen(dir) - 1);
	o.dir = dir;
	o.manufacturer = "acme";
	o.admin_login = "admin";
	o.admin_password = "correct horse battery staple";
	CHECK_EQ(setup_init(&o, &r), CC_OK);
}

/* Runs SQL on the database file behind the product's back. */
static void edit(const char *sql)
{
	char path[1000];
	sqlite3 *db = NULL;

	snprintf(path, sizeof(path), "%s/coffeecloud.db", dir);
	CHECK_EQ(sqlite3_open(path, &db), SQLITE_OK);
	sqlite3_busy_timeout(db, 10000);
	CHECK_EQ(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(db);
}

static int no_bundle(void *ctx, const struct machine_bundle *b)
{
	(void)ctx;
	(void)b;
	return CC_OK;
}

static void test_mac_binds_the_row(void)
{
	struct vault *v = NULL;
	struct store *s;
	struct store_org a, b;

	init_dir("integrity-bind");
	CHECK_EQ(vault_open(dir, NULL, &v), CC_OK);
	CHECK_EQ(inventory_org_add(v, "cafe-a", ORG_CUSTOMER, "acme", &a), CC_OK);
	CHECK_EQ(inventory_org_add(v, "cafe-b", ORG_CUSTOMER, "acme", &b), CC_OK);
	CHECK_EQ(vault_rows_check(v), CC_OK);
	s = vault_store(v);

	/* Same columns but the name, and the other row's MAC: the id is in the MAC. */
	edit("UPDATE orgs SET name = 'cafe-x', mac = (SELECT mac FROM orgs WHERE name = 'cafe-a') "
	     "WHERE name = 'cafe-b'");
	CHECK_EQ(s->ops->org_get(s, b.id, &b), CC_ERR_NOTFOUND);
	CHECK_EQ(s->ops->org_find(s, "cafe-x", &b), CC_ERR_NOTFOUND);
	CHECK_EQ(s->ops->org_get(s, a.id, &a), CC_OK);
	/* Moving an organisation under another changes scope: caught. */
	edit("UPDATE orgs SET parent_id = NULL WHERE name = 'cafe-a'");
	CHECK_EQ(s->ops->org_find(s, "cafe-a", &a), CC_ERR_NOTFOUND);
	CHECK_EQ(vault_rows_check(v), CC_ERR_CORRUPT);
	/* A NULL MAC is a mismatch once the rows are sealed. */
	edit("UPDATE orgs SET mac = NULL WHERE name = 'acme'");
	CHECK_EQ(s->ops->org_find(s, "acme", &a), CC_ERR_NOTFOUND);
	vault_close(v);
}

struct count {
	int n;
};

static int count_one(void *arg, const struct store_grant *g)
{
	(void)g;
	((struct count *)arg)->n++;
	return 0;
}

static void test_grants_decided_over_verified_rows(void)
{
	struct vault *v = NULL;
	struct store *s;
	struct store_machine m;
	struct store_grant g;
	struct count c = { 0 };
	int64_t now = clock_now_ms(), id1 = 0, id2 = 0;

	init_dir("integrity-grants");
	CHECK_EQ(vault_open(dir, NULL, &v), CC_OK);
	CHECK_EQ(inventory_org_add(v, "cafe-a", ORG_CUSTOMER, "acme", NULL), CC_OK);
	CHECK_EQ(inventory_machine_add(v, "G1", "barista-pro", "cafe-a", NULL, NULL, no_bundle, NULL), CC_OK);
	s = vault_store(v);
	CHECK_EQ(s->ops->machine_find(s, "G1", &m), CC_OK);

	memset(&g, 0, sizeof(g));
	g.user_id = 1;
	g.machine_id = m.id;
	g.customer_id = m.customer_id;
	snprintf(g.purpose, sizeof(g.purpose), "support");
	snprintf(g.created_by, sizeof(g.created_by), "test");
	g.created_ms = now;
	g.expires_ms = now + 3600 * 1000;
	CHECK_EQ(s->ops->grant_add(s, &g, &id1), CC_OK);
	CHECK_EQ(s->ops->grant_add(s, &g, &id2), CC_OK);
	CHECK_EQ(s->ops->grant_covers(s, 1, m.id, 0, "support", now), 1);
	CHECK_EQ(s->ops->grant_covers(s, 1, m.id, 0, "quality", now), 0);

	/* A revocation through the product keeps the row verifiable. */
	CHECK_EQ(s->ops->grant_revoke(s, id1, now), CC_OK);
	CHECK_EQ(s->ops->grant_get(s, id1, &g), CC_OK);
	CHECK(g.revoked_ms == now);
	CHECK_EQ(s->ops->grant_covers(s, 1, m.id, 0, "support", now), 1); /* id2 */
	CHECK_EQ(s->ops->grant_revoke(s, id2, now), CC_OK);
	CHECK_EQ(s->ops->grant_covers(s, 1, m.id, 0, "support", now), 0);
	CHECK_EQ(vault_rows_check(v), CC_OK);

	/* Un-revoked behind the product's back: listed nowhere, covers nothing. */
	edit("UPDATE grants SET revoked_ms = 0, expires_ms = 9999999999999");
	CHECK_EQ(s->ops->grant_covers(s, 1, m.id, 0, "support", now), 0);
	CHECK_EQ(s->ops->grant_get(s, id1, &g), CC_ERR_NOTFOUND);
	CHECK_EQ(s->ops->grant_list(s, 0, count_one, &c), CC_OK);
	CHECK_EQ(c.n, 0);
	/* A revocation still applies to a tampered row, and does not make it good. */
	CHECK_EQ(s->ops->grant_revoke(s, id1, now), CC_OK);
	CHECK_EQ(s->ops->grant_get(s, id1, &g), CC_ERR_NOTFOUND);

	/* A machine moved to another customer is not found. */
	CHECK_EQ(inventory_org_add(v, "cafe-b", ORG_CUSTOMER, "acme", NULL), CC_OK);
	edit("UPDATE machines SET customer_id = (SELECT id FROM orgs WHERE name = 'cafe-b')");
	CHECK_EQ(s->ops->machine_find(s, "G1", &m), CC_ERR_NOTFOUND);
	vault_close(v);
}

struct dropped {
	int64_t ids[4];
	int n;
};

static void on_dropped(void *ctx, int64_t org_id)
{
	struct dropped *d = ctx;

	if (d->n < 4)
		d->ids[d->n++] = org_id;
}

static void test_erasure_reaches_another_vaults_cache(void)
{
	struct vault *loop = NULL, *cli = NULL;
	struct store_org cust, other;
	struct seal_ad ad = { SEAL_TELEMETRY, 0, 1, 1, 1, "E1" };
	struct dropped d = { { 0 }, 0 };
	uint8_t *blob = NULL, *pt = NULL, *blob2 = NULL;
	size_t bloblen = 0, ptlen = 0, blob2len = 0;

	init_dir("integrity-erasure");
	CHECK_EQ(vault_open(dir, NULL, &loop), CC_OK);
	CHECK_EQ(inventory_org_add(loop, "cafe-e", ORG_CUSTOMER, "acme", &cust), CC_OK);
	CHECK_EQ(inventory_org_add(loop, "cafe-f", ORG_CUSTOMER, "acme", &other), CC_OK);
	ad.org_id = cust.id;
	CHECK_EQ(vault_seal(loop, &ad, "{}", 2, &blob, &bloblen), CC_OK);
	ad.org_id = other.id;
	CHECK_EQ(vault_seal(loop, &ad, "{}", 2, &blob2, &blob2len), CC_OK);
	CHECK(vault_org_key_cached(loop, cust.id));

	/* Another process erases the customer. */
	CHECK_EQ(vault_open(dir, NULL, &cli), CC_OK);
	CHECK_EQ(inventory_customer_delete(cli, "cafe-e"), CC_OK);
	vault_close(cli);

	/* Nothing has told the loop yet: its cache still holds the key (the finding). */
	CHECK(vault_org_key_cached(loop, cust.id));
	CHECK_EQ(vault_keys_refresh(loop, on_dropped, &d), 1);
	CHECK_EQ(d.n, 1);
	CHECK(d.ids[0] == cust.id);
	CHECK(!vault_org_key_cached(loop, cust.id));
	ad.org_id = cust.id;
	CHECK_EQ(vault_unseal(loop, &ad, blob, bloblen, &pt, &ptlen), CC_ERR_NOTFOUND);
	/* The other customer's key stays. */
	CHECK(vault_org_key_cached(loop, other.id));
	ad.org_id = other.id;
	CHECK_EQ(vault_unseal(loop, &ad, blob2, blob2len, &pt, &ptlen), CC_OK);
	free(pt);
	CHECK_EQ(vault_keys_refresh(loop, on_dropped, &d), 0);
	free(blob);
	free(blob2);
	vault_close(loop);
}

int main(void)
{
	log_set_level(LOG_LEVEL_SILENT);
	RUN(test_mac_binds_the_row);
	RUN(test_grants_decided_over_verified_rows);
	RUN(test_erasure_reaches_another_vaults_cache);
	return check_summary();
}
