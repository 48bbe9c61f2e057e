/*
 * Encryption at rest, end to end through the real modules: canaries never
 * reach the disk in clear; sealed blobs are bound to their rows; deleting a
 * customer shreds its data even in an old copy of the database; rotating the
 * master key re-wraps everything and retires the old key.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "access/users.h"
#include "check.h"
#include "common/clock.h"
#include "common/err.h"
#include "common/file.h"
#include "common/log.h"
#include "crypto/keyring.h"
#include "fleet/inventory.h"
#include "records/records.h"
#include "records/rollup.h"
#include "setup/setup.h"
#include "vault/vault.h"

#define TELEMETRY_CANARY "CANARY-TELEMETRY-7f3a9c"
#define EMAIL_CANARY "canary.person.91b2@example.org"
#define NAME_CANARY "Canary McPersonname"

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

/* Counts files in dir whose raw bytes contain needle. */
static int files_containing(const char *needle, char *which, size_t cap)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	int hits = 0;

	which[0] = '\0';
	if (d == NULL)
		return -1;
	while ((e = readdir(d)) != NULL) {
		char path[1200];
		unsigned char *buf = NULL;
		size_t len = 0;

		if (e->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
		if (file_read_all(path, 256u << 20, &buf, &len) != CC_OK)
			continue;
		if (len > 0 && memmem(buf, len, needle, strlen(needle)) != NULL) {
			hits++;
			snprintf(which, cap, "%s", e->d_name);
		}
		free(buf);
	}
	closedir(d);
	return hits;
}

static int add_machine(struct vault *v, const char *serial, const char *customer)
{
	return inventory_machine_add(v, serial, "barista-pro", customer, NULL, NULL, NULL, NULL);
}

static void put_telemetry(struct vault *v, const char *serial, int count, const char *extra)
{
	struct store_machine m;
	char body[256];
	int i;

	CHECK_EQ(inventory_machine_find(v, serial, &m), CC_OK);
	for (i = 1; i <= count; i++) {
		struct record_in r;
		size_t inserted = 0;

		snprintf(body, sizeof(body), "{\"seq\":%d,\"ts\":%d,\"m\":{\"boiler_temp_c\":93.%d},\"note\":\"%s\"}",
		         i, 1000 * i, i, extra);
		r.machine_id = m.id;
		r.customer_id = m.customer_id;
		r.serial = m.serial;
		r.kind = RECORD_TELEMETRY;
		r.seq = i;
		r.ts_ms = 1000 * i;
		r.body = body;
		r.body_len = strlen(body);
		CHECK_EQ(records_put(v, &r, 1, &inserted), CC_OK);
		CHECK_EQ(inserted, 1);
	}
}

static int count_record(void *arg, const struct record_out *r)
{
	int *n = arg;

	(*n)++;
	return strstr(r->body, "boiler_temp_c") != NULL ? 0 : CC_ERR_CORRUPT;
}

static int read_all(struct vault *v, const char *serial, int *n)
{
	struct store_machine m;
	int rc = inventory_machine_find(v, serial, &m);

	*n = 0;
	if (rc != CC_OK)
		return rc;
	return records_get(v, &m, RECORD_TELEMETRY, 0, INT64_MAX, count_record, n);
}

static void test_canaries_never_on_disk(void)
{
	struct vault *v = NULL;
	struct user_profile p;
	char which[256];
	int n = 0;

	init_dir("at-rest");
	CHECK_EQ(vault_open(dir, NULL, &v), CC_OK);
	CHECK_EQ(inventory_org_add(v, "cafe-a", ORG_CUSTOMER, "acme", NULL), CC_OK);
	CHECK_EQ(add_machine(v, "CM-A1", "cafe-a"), CC_OK);
	memset(&p, 0, sizeof(p));
	snprintf(p.email, sizeof(p.email), "%s", EMAIL_CANARY);
	snprintf(p.display_name, sizeof(p.display_name), "%s", NAME_CANARY);
	CHECK_EQ(users_add(v, "cafe-a", "tech-1", "technician", &p, "a long enough password", NULL), CC_OK);
	put_telemetry(v, "CM-A1", 200, TELEMETRY_CANARY);

	/* While the vault is open the WAL holds the fresh pages. */
	CHECK(file_exists(vault_path(v, VAULT_DB)));
	CHECK_EQ(files_containing(TELEMETRY_CANARY, which, sizeof(which)), 0);
	CHECK_EQ(files_containing(EMAIL_CANARY, which, sizeof(which)), 0);
	CHECK_EQ(files_containing(NAME_CANARY, which, sizeof(which)), 0);
	/* Sanity: the scanner does find clear text that is there. */
	CHECK(files_containing("CM-A1", which, sizeof(which)) > 0);

	CHECK_EQ(read_all(v, "CM-A1", &n), CC_OK);
	CHECK_EQ(n, 200);
	vault_close(v); /* checkpoints the WAL into the database */

	CHECK_EQ(files_containing(TELEMETRY_CANARY, which, sizeof(which)), 0);
	CHECK_EQ(files_containing(EMAIL_CANARY, which, sizeof(which)), 0);
	CHECK_EQ(files_containing(NAME_CANARY, which, sizeof(which)), 0);
}

struct raw_row {
	uint8_t body[512];
	size_t len;
	int64_t seq, ts;
};

static int grab_raw(void *arg, const struct store_record *r)
{
	struct raw_row *rows = arg;
	int i = (int)r->seq - 1;

	if (i < 0 || i > 1 || r->body_len > sizeof(rows[i].body))
		return 0;
	memcpy(rows[i].body, r->body, r->body_len);
	rows[i].len = r->body_len;
	rows[i].seq = r->seq;
	rows[i].ts = r->ts_ms;
	return 0;
}

static void test_blob_bound_to_row(void)
{
	struct vault *v = NULL;
	struct store_machine a, b;
	struct raw_row rows[2], other[2];
	struct seal_ad ad;
	uint8_t *pt = NULL;
	size_t len = 0;
	struct store *s;

	init_dir("binding");
	CHECK_EQ(vault_open(dir, NULL, &v), CC_OK);
	s = vault_store(v);
	CHECK_EQ(inventory_org_add(v, "cafe-a", ORG_CUSTOMER, "acme", NULL), CC_OK);
	CHECK_EQ(inventory_org_add(v, "cafe-b", ORG_CUSTOMER, "acme", NULL), CC_OK);
	CHECK_EQ(add_machine(v, "CM-A1", "cafe-a"), CC_OK);
	CHECK_EQ(add_machine(v, "CM-A2", "cafe-a"), CC_OK);
	put_telemetry(v, "CM-A1", 2, "x");
	put_telemetry(v, "CM-A2", 2, "y");
	inventory_machine_find(v, "CM-A1", &a);
	inventory_machine_find(v, "CM-A2", &b);
	memset(rows, 0, sizeof(rows));
	memset(other, 0, sizeof(other));
	CHECK_EQ(s->ops->records_get(s, a.id, RECORD_TELEMETRY, 0, INT64_MAX, 0, grab_raw, rows), CC_OK);
	CHECK_EQ(s->ops->records_get(s, b.id, RECORD_TELEMETRY, 0, INT64_MAX, 0, grab_raw, other), CC_OK);

	memset(&ad, 0, sizeof(ad));
	ad.kind = SEAL_TELEMETRY;
	ad.org_id = a.customer_id;
	ad.subject_id = a.id;
	ad.name = a.serial;
	ad.seq = rows[0].seq;
	ad.ts_ms = rows[0].ts;
	CHECK_EQ(vault_unseal(v, &ad, rows[0].body, rows[0].len, &pt, &len), CC_OK);
	free(pt);
	/* Row 2's blob in row 1's place (same machine, another seq): refused. */
	CHECK_EQ(vault_unseal(v, &ad, rows[1].body, rows[1].len, &pt, &len), CC_ERR_AUTH);
	/* Another machine's blob at the same seq: refused. */
	CHECK_EQ(vault_unseal(v, &ad, other[0].body, other[0].len, &pt, &len), CC_ERR_AUTH);
	/* The right blob claimed by another customer: refused (other key). */
	ad.org_id = a.customer_id + 1;
	CHECK(vault_unseal(v, &ad, rows[0].body, rows[0].len, &pt, &len) != CC_OK);
	/* One flipped bit: refused. */
	ad.org_id = a.customer_id;
	rows[0].body[rows[0].len / 2] ^= 4;
	CHECK_EQ(vault_unseal(v, &ad, rows[0].body, rows[0].len, &pt, &len), CC_ERR_AUTH);
	vault_close(v);
}

static int copy_file(const char *from, const char *to)
{
	unsigned char *buf = NULL;
	size_t len = 0;
	int rc = file_read_all(from, 256u << 20, &buf, &len);

	if (rc == CC_OK)
		rc = file_write_atomic(to, buf, len, 0600);
	free(buf);
	return rc;
}

static void test_crypto_shredding(void)
{
	struct vault *v = NULL;
	char db[1024], backup[1100];
	int n = 0;

	init_dir("shred");
	CHECK_EQ(vault_open(dir, NULL, &v), CC_OK);
	CHECK_EQ(inventory_org_add(v, "cafe-a", ORG_CUSTOMER, "acme", NULL), CC_OK);
	CHECK_EQ(inventory_org_add(v, "cafe-b", ORG_CUSTOMER, "acme", NULL), CC_OK);
	CHECK_EQ(add_machine(v, "CM-A1", "cafe-a"), CC_OK);
	CHECK_EQ(add_machine(v, "CM-B1", "cafe-b"), CC_OK);
	put_telemetry(v, "CM-A1", 20, "a");
	put_telemetry(v, "CM-B1", 20, "b");
	snprintf(db, sizeof(db), "%s", vault_path(v, VAULT_DB));
	vault_close(v);

	/* An old backup: the database as it was before the deletion. */
	snprintf(backup, sizeof(backup), "%s.backup", db);
	CHECK_EQ(copy_file(db, backup), CC_OK);

	CHECK_EQ(vault_open(dir, NULL, &v), CC_OK);
	CHECK_EQ(inventory_customer_delete(v, "cafe-a"), CC_OK);
	CHECK_EQ(read_all(v, "CM-A1", &n), CC_ERR_NOTFOUND);
	CHECK_EQ(read_all(v, "CM-B1", &n), CC_OK);
	CHECK_EQ(n, 20);
	vault_close(v);

	/* Restore the old backup under the current keyring. */
	CHECK_EQ(copy_file(backup, db), CC_OK);
	CHECK_EQ(vault_open(dir, NULL, &v), CC_OK);
	n = 0;
	CHECK_EQ(read_all(v, "CM-A1", &n), CC_ERR_NOTFOUND); /* the key is gone */
	CHECK_EQ(n, 0);
	CHECK_EQ(read_all(v, "CM-B1", &n), CC_OK);
	CHECK_EQ(n, 20);
	vault_close(v);
}

static void test_master_rotation(void)
{
	struct vault *v = NULL;
	char old_key[1024], new_key[1024];
	uint8_t k[KEYRING_MASTER_LEN];
	struct user_info u;
	int n = 0;

	init_dir("rotate");
	CHECK_EQ(vault_open(dir, NULL, &v), CC_OK);
	CHECK_EQ(inventory_org_add(v, "cafe-a", ORG_CUSTOMER, "acme", NULL), CC_OK);
	CHECK_EQ(add_machine(v, "CM-A1", "cafe-a"), CC_OK);
	put_telemetry(v, "CM-A1", 10, "r");
	snprintf(old_key, sizeof(old_key), "%s/../old.key", dir);
	snprintf(new_key, sizeof(new_key), "%s/../new.key", dir);
	CHECK_EQ(copy_file(vault_path(v, VAULT_MASTER_KEY), old_key), CC_OK);
	CHECK_EQ(keyring_master_generate(new_key, k), CC_OK);
	CHECK_EQ(vault_rotate_master(v, new_key), CC_OK);
	vault_close(v);

	/* The old key opens nothing; the managed key file (DIR.master.key) is now the new key. */
	CHECK_EQ(vault_open(dir, old_key, &v), CC_ERR_AUTH);
	CHECK_EQ(vault_open(dir, new_key, &v), CC_OK);
	vault_close(v);
	CHECK_EQ(vault_open(dir, NULL, &v), CC_OK);
	CHECK_EQ(read_all(v, "CM-A1", &n), CC_OK);
	CHECK_EQ(n, 10);
	CHECK_EQ(users_authenticate(v, "admin", "correct horse battery staple", &u), CC_OK);
	CHECK_EQ(users_authenticate(v, "admin", "wrong horse battery staple", &u), CC_ERR_AUTH);
	vault_close(v);
	CHECK_EQ(setup_check(dir, NULL), CC_OK);
}

static void put_again(struct vault *v, const char *serial, int64_t seq)
{
	struct store_machine m;
	struct record_in r = { 0, 0, NULL, RECORD_TELEMETRY, seq, seq * 1000, "{\"again\":1}", 11 };
	size_t inserted = 0;

	CHECK_EQ(inventory_machine_find(v, serial, &m), CC_OK);
	r.machine_id = m.id;
	r.customer_id = m.customer_id;
	r.serial = m.serial;
	CHECK_EQ(records_put(v, &r, 1, &inserted), CC_OK);
}

static size_t settle(struct vault *v)
{
	struct store *s = vault_store(v);
	size_t moved = 0;

	CHECK_EQ(s->ops->records_settle(s, 1000, NULL, &moved), CC_OK);
	return moved;
}

/* A retransmission is stored once and the first copy stays the record,
 * whether the two meet in the inbox, in the table, or one in each
 * (count_record fails on the second copy's body). */
static void test_duplicate_seq_stored_once(void)
{
	struct vault *v = NULL;
	int64_t last = 0;
	int n = 0;

	init_dir("dedup");
	CHECK_EQ(vault_open(dir, NULL, &v), CC_OK);
	CHECK_EQ(inventory_org_add(v, "cafe-a", ORG_CUSTOMER, "acme", NULL), CC_OK);
	CHECK_EQ(add_machine(v, "CM-A1", "cafe-a"), CC_OK);
	put_telemetry(v, "CM-A1", 5, "first");
	put_again(v, "CM-A1", 3);
	CHECK_EQ(read_all(v, "CM-A1", &n), CC_OK); /* both in the inbox */
	CHECK_EQ(n, 5);
	CHECK_EQ(settle(v), 6);
	CHECK_EQ(read_all(v, "CM-A1", &n), CC_OK); /* moved: the first copy kept */
	CHECK_EQ(n, 5);
	put_again(v, "CM-A1", 4);
	CHECK_EQ(read_all(v, "CM-A1", &n), CC_OK); /* one in each: the table's wins */
	CHECK_EQ(n, 5);
	CHECK_EQ(settle(v), 1);
	CHECK_EQ(settle(v), 0);
	CHECK_EQ(read_all(v, "CM-A1", &n), CC_OK);
	CHECK_EQ(n, 5);
	{
		struct store *s = vault_store(v);
		struct store_machine m;

		CHECK_EQ(inventory_machine_find(v, "CM-A1", &m), CC_OK);
		put_again(v, "CM-A1", 9);
		CHECK_EQ(s->ops->records_last_seq(s, m.id, RECORD_TELEMETRY, &last), CC_OK);
		CHECK_EQ(last, 9); /* the inbox counts before it is moved */
	}
	vault_close(v);
}

/* Reopening keeps what the inbox holds, and ids never restart below what
 * was moved, even when the inbox file is lost (a row of a new id is read). */
static void test_inbox_survives_reopen(void)
{
	struct vault *v = NULL;
	char inbox[1024];
	int n = 0;

	init_dir("reopen");
	CHECK_EQ(vault_open(dir, NULL, &v), CC_OK);
	CHECK_EQ(inventory_org_add(v, "cafe-a", ORG_CUSTOMER, "acme", NULL), CC_OK);
	CHECK_EQ(add_machine(v, "CM-A1", "cafe-a"), CC_OK);
	put_telemetry(v, "CM-A1", 3, "x");
	vault_close(v);
	CHECK_EQ(vault_open(dir, NULL, &v), CC_OK);
	CHECK_EQ(read_all(v, "CM-A1", &n), CC_OK);
	CHECK_EQ(n, 3);
	CHECK_EQ(settle(v), 3);
	vault_close(v);
	snprintf(inbox, sizeof(inbox), "%s/coffeecloud-inbox.db", dir);
	CHECK_EQ(unlink(inbox), 0);
	CHECK_EQ(vault_open(dir, NULL, &v), CC_OK);
	put_again(v, "CM-A1", 7); /* "again" would fail count_record: read the seq instead */
	{
		struct store *s = vault_store(v);
		struct store_machine m;
		int64_t last = 0;

		CHECK_EQ(inventory_machine_find(v, "CM-A1", &m), CC_OK);
		CHECK_EQ(s->ops->records_last_seq(s, m.id, RECORD_TELEMETRY, &last), CC_OK);
		CHECK_EQ(last, 7);
	}
	CHECK_EQ(settle(v), 1);
	vault_close(v);
}

/* Roll-ups answer what the records say, whether the records are still in
 * the inbox, partly moved, all moved, or a late one lands in a minute that
 * was summarised already (the stored summary is read, merged, sealed again). */
#define RU_BASE (INT64_C(10) * 3600000)
#define RU_STEP INT64_C(600000)
struct ru_bucket {
	int64_t start, n, count;
	double min, max, sum;
};
struct ru_seen {
	struct ru_bucket b[16];
	size_t n;
};

static double ru_value(int i) { return 90.0 + (i % 5) * 0.5; }
static int64_t ru_ts(int i) { return i <= 150 ? RU_BASE + (int64_t)i * 20000 : RU_BASE + 5000; }

static void ru_put(struct vault *v, const struct store_machine *m, int from, int to)
{
	char body[160];
	int i;

	for (i = from; i <= to; i++) {
		struct record_in r = { m->id, m->customer_id, m->serial, RECORD_TELEMETRY, i, ru_ts(i), body, 0 };
		size_t inserted = 0;

		snprintf(body, sizeof(body), "{\"seq\":%d,\"ts\":%lld,\"m\":{\"boiler_temp_c\":%.1f,\"water_l\":%d}}", i,
		         (long long)ru_ts(i), ru_value(i), i);
		r.body_len = strlen(body);
		CHECK_EQ(records_put(v, &r, 1, &inserted), CC_OK);
	}
}

static int ru_collect(void *ctx, const struct rollup_summary *bucket)
{
	struct ru_seen *seen = ctx;
	struct ru_bucket *b;
	size_t i;

	if (seen->n == sizeof(seen->b) / sizeof(seen->b[0]))
		return CC_ERR_LIMIT;
	b = &seen->b[seen->n++];
	memset(b, 0, sizeof(*b));
	b->start = bucket->start_ms;
	b->n = bucket->records;
	for (i = 0; i < bucket->nmetrics; i++)
		if (strcmp(bucket->m[i].name, "boiler_temp_c") == 0) {
			b->count = bucket->m[i].count;
			b->min = bucket->m[i].min;
			b->max = bucket->m[i].max;
			b->sum = bucket->m[i].sum;
		}
	return 0;
}

/* The buckets of width computed here from records 1..last. */
static void ru_expect(int last, int64_t width, struct ru_seen *want)
{
	int i;
	size_t k;

	memset(want, 0, sizeof(*want));
	for (i = 1; i <= last; i++) {
		int64_t start = ru_ts(i) - ru_ts(i) % width;
		struct ru_bucket *b = NULL;

		for (k = 0; k < want->n; k++)
			if (want->b[k].start == start)
				b = &want->b[k];
		if (b == NULL) {
			for (k = want->n; k > 0 && want->b[k - 1].start > start; k--)
				want->b[k] = want->b[k - 1];
			b = &want->b[k];
			memset(b, 0, sizeof(*b));
			b->start = start;
			b->min = b->max = ru_value(i);
			want->n++;
		}
		b->n++;
		b->count++;
		b->sum += ru_value(i);
		b->min = ru_value(i) < b->min ? ru_value(i) : b->min;
		b->max = ru_value(i) > b->max ? ru_value(i) : b->max;
	}
}

static void ru_check(struct vault *v, const struct store_machine *m, int last, int64_t width)
{
	struct ru_seen got, want;
	size_t k;

	memset(&got, 0, sizeof(got));
	ru_expect(last, width, &want);
	CHECK_EQ(rollup_read(v, m, width, RU_BASE, RU_BASE + 3600000, ru_collect, &got, NULL), CC_OK);
	CHECK_EQ(got.n, want.n);
	for (k = 0; k < got.n && k < want.n; k++) {
		CHECK_EQ(got.b[k].start, want.b[k].start);
		CHECK_EQ(got.b[k].n, want.b[k].n);
		CHECK_EQ(got.b[k].count, want.b[k].count);
		CHECK(got.b[k].min == want.b[k].min && got.b[k].max == want.b[k].max);
		CHECK(got.b[k].sum > want.b[k].sum - 1e-9 && got.b[k].sum < want.b[k].sum + 1e-9);
	}
}

static void test_rollups_agree_with_records(void)
{
	struct vault *v = NULL;
	struct rollup_round *round = NULL;
	struct store_settle_hooks hooks;
	struct store_machine m;
	struct store *s;
	size_t moved = 0;

	init_dir("rollup");
	CHECK_EQ(vault_open(dir, NULL, &v), CC_OK);
	s = vault_store(v);
	CHECK_EQ(inventory_org_add(v, "cafe-a", ORG_CUSTOMER, "acme", NULL), CC_OK);
	CHECK_EQ(add_machine(v, "CM-R1", "cafe-a"), CC_OK);
	CHECK_EQ(inventory_machine_find(v, "CM-R1", &m), CC_OK);
	CHECK_EQ(rollup_round_new(v, &round), CC_OK);
	rollup_round_hooks(round, &hooks);

	ru_put(v, &m, 1, 150);
	ru_check(v, &m, 150, RU_STEP); /* all in the inbox */
	CHECK_EQ(s->ops->records_settle(s, 100, &hooks, &moved), CC_OK);
	CHECK_EQ(moved, 100);
	ru_check(v, &m, 150, RU_STEP); /* 100 summarised, 50 in the inbox */
	CHECK_EQ(s->ops->records_settle(s, 100, &hooks, &moved), CC_OK);
	CHECK_EQ(moved, 50);
	ru_check(v, &m, 150, RU_STEP);
	ru_check(v, &m, 150, ROLLUP_HOUR_MS); /* the hour summary */
	ru_put(v, &m, 151, 151); /* late: into the first, summarised minute */
	ru_put(v, &m, 7, 7);     /* a retransmission adds nothing */
	ru_check(v, &m, 151, RU_STEP);
	CHECK_EQ(s->ops->records_settle(s, 100, &hooks, &moved), CC_OK);
	CHECK_EQ(moved, 2);
	ru_check(v, &m, 151, RU_STEP);
	ru_check(v, &m, 151, ROLLUP_HOUR_MS);
	/* Not whole minutes: refused, the caller reads records instead. */
	CHECK_EQ(rollup_read(v, &m, RU_STEP, RU_BASE + 1, RU_BASE + 3600000, ru_collect, NULL, NULL), CC_ERR_INVALID);
	rollup_round_free(round);
	vault_close(v);
}

/* The latest reading of each metric: the one with the latest time, not the
 * last stored; as the machine wrote it; found whether in the inbox or in
 * hour summaries, and days back for a metric sent rarely. */
struct lr_seen {
	char boiler[ROLLUP_LAST_MAX + 1], water[ROLLUP_LAST_MAX + 1];
	int64_t boiler_ts, water_ts;
	int metrics;
};

static int lr_all(void *ctx, const char *name)
{
	(void)ctx;
	(void)name;
	return 1;
}

static int lr_collect(void *ctx, const struct rollup_metric *x)
{
	struct lr_seen *seen = ctx;

	seen->metrics++;
	if (strcmp(x->name, "boiler_temp_c") == 0) {
		snprintf(seen->boiler, sizeof(seen->boiler), "%s", x->last);
		seen->boiler_ts = x->last_ts;
	} else if (strcmp(x->name, "water_l") == 0) {
		snprintf(seen->water, sizeof(seen->water), "%s", x->last);
		seen->water_ts = x->last_ts;
	}
	return 0;
}

static void lr_put(struct vault *v, const struct store_machine *m, int seq, int64_t ts, const char *metrics)
{
	char body[200];
	struct record_in r = { m->id, m->customer_id, m->serial, RECORD_TELEMETRY, seq, ts, body, 0 };
	size_t inserted = 0;

	snprintf(body, sizeof(body), "{\"seq\":%d,\"ts\":%lld,\"m\":{%s}}", seq, (long long)ts, metrics);
	r.body_len = strlen(body);
	CHECK_EQ(records_put(v, &r, 1, &inserted), CC_OK);
	CHECK_EQ(inserted, 1);
}

static void lr_check(struct vault *v, const struct store_machine *m, const char *boiler, int64_t boiler_ts,
                     const char *water, int64_t water_ts)
{
	struct lr_seen seen;

	memset(&seen, 0, sizeof(seen));
	CHECK_EQ(rollup_latest(v, m, lr_all, lr_collect, &seen, NULL), CC_OK);
	CHECK_EQ(seen.metrics, 2);
	CHECK_STR(seen.boiler, boiler);
	CHECK_EQ(seen.boiler_ts, boiler_ts);
	CHECK_STR(seen.water, water);
	CHECK_EQ(seen.water_ts, water_ts);
}

static void test_latest_reading_of_each_metric(void)
{
	struct vault *v = NULL;
	struct rollup_round *round = NULL;
	struct store_settle_hooks hooks;
	struct store_machine m;
	struct store *s;
	size_t moved = 0;
	int64_t now = clock_now_ms(), days5 = now - 5 * INT64_C(86400000), hour1 = now - 3600000;

	init_dir("latest");
	CHECK_EQ(vault_open(dir, NULL, &v), CC_OK);
	s = vault_store(v);
	CHECK_EQ(inventory_org_add(v, "cafe-a", ORG_CUSTOMER, "acme", NULL), CC_OK);
	CHECK_EQ(add_machine(v, "CM-L1", "cafe-a"), CC_OK);
	CHECK_EQ(inventory_machine_find(v, "CM-L1", &m), CC_OK);
	CHECK_EQ(rollup_round_new(v, &round), CC_OK);
	rollup_round_hooks(round, &hooks);

	lr_put(v, &m, 1, days5, "\"boiler_temp_c\":91.50");
	lr_put(v, &m, 2, hour1, "\"water_l\":3");
	lr_put(v, &m, 3, hour1 - 60000, "\"water_l\":2"); /* older, stored later */
	lr_check(v, &m, "91.50", days5, "3", hour1);      /* all in the inbox */
	CHECK_EQ(s->ops->records_settle(s, 100, &hooks, &moved), CC_OK);
	CHECK_EQ(moved, 3);
	lr_check(v, &m, "91.50", days5, "3", hour1);      /* from hour summaries, 5 days back */
	lr_put(v, &m, 4, now - 60000, "\"boiler_temp_c\":92");
	lr_check(v, &m, "92", now - 60000, "3", hour1);   /* the inbox and the summaries */
	CHECK_EQ(s->ops->records_settle(s, 100, &hooks, &moved), CC_OK);
	lr_put(v, &m, 5, hour1, "\"water_l\":4");        /* the same time as seq 2, stored later: wins */
	CHECK_EQ(s->ops->records_settle(s, 100, &hooks, &moved), CC_OK);
	lr_check(v, &m, "92", now - 60000, "4", hour1);
	rollup_round_free(round);
	vault_close(v);
}

int main(void)
{
	log_set_level(LOG_LEVEL_WARN);
	RUN(test_canaries_never_on_disk);
	RUN(test_blob_bound_to_row);
	RUN(test_crypto_shredding);
	RUN(test_master_rotation);
	RUN(test_duplicate_seq_stored_once);
	RUN(test_inbox_survives_reopen);
	RUN(test_rollups_agree_with_records);
	RUN(test_latest_reading_of_each_metric);
	return check_summary();
}
