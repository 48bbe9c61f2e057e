/*
 * The tamper-evident audit log: 1,000 appended records verify; then an
 * attacker with the database file (and sqlite3) edits, removes, inserts,
 * truncates, and finally edits and recomputes every later hash with the
 * public chain rule. Each is caught, named with its kind and first bad seq.
 * Two processes appending at once produce one unbroken chain.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <sqlite3.h>

#include "access/audit.h"
#include "check.h"
#include "common/codec.h"
#include "common/err.h"
#include "common/log.h"
#include "setup/setup.h"
#include "vault/vault.h"

#define RECORDS 1000

static char root[900];
static char base[1000]; /* the data directory with RECORDS records, never tampered with */

static void init_dir(const char *dir)
{
	struct setup_opts o = { 0 };
	struct setup_result r;

	o.dir = dir;
	o.manufacturer = "acme";
	o.admin_login = "admin";
	o.admin_password = "correct horse battery staple";
	CHECK_EQ(setup_init(&o, &r), CC_OK);
}

static void copy_dir(const char *from, const char *to)
{
	char cmd[4096];

	/* The master key lives beside a data directory (DIR.master.key): it goes along. */
	snprintf(cmd, sizeof(cmd), "rm -rf '%s' && cp -a '%s' '%s' && cp -a '%s.master.key' '%s.master.key'", to, from,
	         to, from, to);
	CHECK_EQ(system(cmd), 0);
}

static void path_in(char *out, size_t cap, const char *name)
{
	snprintf(out, cap, "%s/%s", root, name);
}

static int append_one(struct vault *v, int i)
{
	static const char *const actions[] = { "telemetry.get", "machine.add", "events.get", "customer.delete" };
	static const char *const classes[] = { "technical", "admin", "technical", "admin" };
	static const char *const purposes[] = { "support", "administration", "support", "administration" };
	char actor[32], machines[64];
	struct audit_event e;

	snprintf(actor, sizeof(actor), "user:tech-%d", i % 7);
	snprintf(machines, sizeof(machines), "SN-%d,SN-%d", i, i + 1);
	memset(&e, 0, sizeof(e));
	e.ts_ms = 1700000000000LL + (int64_t)i * 1000;
	e.actor = actor;
	e.source = i % 2 ? "192.0.2.7:50412" : "";
	e.action = actions[i % 4];
	e.machines = machines;
	e.data_class = classes[i % 4];
	e.purpose = purposes[i % 4];
	e.outcome = i % 10 == 9 ? "denied" : "ok";
	e.customer_id = 2 + i % 3;
	return audit_append(v, &e);
}

static int verify_dir(const char *dir, struct audit_report *r)
{
	struct vault *v = NULL;
	int rc = vault_open(dir, NULL, &v);

	CHECK_EQ(rc, CC_OK);
	if (rc != CC_OK)
		return rc;
	rc = audit_verify(v, r);
	vault_close(v);
	return rc;
}

static void expect_damage(const char *dir, enum audit_damage d, int64_t seq, const char *what)
{
	struct audit_report r;
	int rc = verify_dir(dir, &r);

	CHECK_EQ(rc, CC_ERR_CORRUPT);
	CHECK_EQ(r.damage, d);
	CHECK_EQ(r.bad_seq, seq);
	if (rc != CC_ERR_CORRUPT || r.damage != d || r.bad_seq != seq)
		fprintf(stderr, "  %s: got %s at %lld (%s)\n", what, audit_damage_name(r.damage),
		        (long long)r.bad_seq, r.detail);
}

/* ---- the attacker's tools: sqlite3 on the file, and the public chain rule ---- */

static sqlite3 *db_open(const char *dir)
{
	char path[1200];
	sqlite3 *db = NULL;

	snprintf(path, sizeof(path), "%s/coffeecloud.db", dir);
	CHECK_EQ(sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE, NULL), SQLITE_OK);
	return db;
}

static void db_exec(const char *dir, const char *sql)
{
	sqlite3 *db = db_open(dir);
	char *err = NULL;

	CHECK_EQ(sqlite3_exec(db, sql, NULL, NULL, &err), SQLITE_OK);
	if (err != NULL)
		fprintf(stderr, "  sql: %s\n", err);
	sqlite3_free(err);
	sqlite3_close(db);
}

static void text_col(char *out, size_t cap, sqlite3_stmt *st, int col)
{
	snprintf(out, cap, "%s", sqlite3_column_text(st, col) ? (const char *)sqlite3_column_text(st, col) : "");
}

static int db_row(sqlite3 *db, int64_t seq, struct store_audit *r)
{
	sqlite3_stmt *st = NULL;
	int found;

	memset(r, 0, sizeof(*r));
	sqlite3_prepare_v2(db, "SELECT seq, ts_ms, customer_id, actor, source, action, machines, data_class, "
	                       "purpose, outcome, hash FROM audit WHERE seq = ?", -1, &st, NULL);
	sqlite3_bind_int64(st, 1, seq);
	found = sqlite3_step(st) == SQLITE_ROW;
	if (found) {
		r->seq = sqlite3_column_int64(st, 0);
		r->ts_ms = sqlite3_column_int64(st, 1);
		r->customer_id = sqlite3_column_int64(st, 2);
		text_col(r->actor, sizeof(r->actor), st, 3);
		text_col(r->source, sizeof(r->source), st, 4);
		text_col(r->action, sizeof(r->action), st, 5);
		text_col(r->machines, sizeof(r->machines), st, 6);
		text_col(r->data_class, sizeof(r->data_class), st, 7);
		text_col(r->purpose, sizeof(r->purpose), st, 8);
		text_col(r->outcome, sizeof(r->outcome), st, 9);
		r->hash_len = (size_t)sqlite3_column_bytes(st, 10);
		if (r->hash_len == AUDIT_HASH_LEN)
			memcpy(r->hash, sqlite3_column_blob(st, 10), AUDIT_HASH_LEN);
	}
	sqlite3_finalize(st);
	return found;
}

static void db_insert(sqlite3 *db, const struct store_audit *r)
{
	sqlite3_stmt *st = NULL;

	sqlite3_prepare_v2(db, "INSERT INTO audit(seq, ts_ms, customer_id, actor, source, action, machines, "
	                       "data_class, purpose, outcome, hash) VALUES (?,?,?,?,?,?,?,?,?,?,?)", -1, &st, NULL);
	sqlite3_bind_int64(st, 1, r->seq);
	sqlite3_bind_int64(st, 2, r->ts_ms);
	sqlite3_bind_int64(st, 3, r->customer_id);
	sqlite3_bind_text(st, 4, r->actor, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 5, r->source, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 6, r->action, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 7, r->machines, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 8, r->data_class, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 9, r->purpose, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 10, r->outcome, -1, SQLITE_STATIC);
	sqlite3_bind_blob(st, 11, r->hash, AUDIT_HASH_LEN, SQLITE_STATIC);
	CHECK_EQ(sqlite3_step(st), SQLITE_DONE);
	sqlite3_finalize(st);
}

static void db_set_hash(sqlite3 *db, int64_t seq, const uint8_t hash[AUDIT_HASH_LEN])
{
	sqlite3_stmt *st = NULL;

	sqlite3_prepare_v2(db, "UPDATE audit SET hash = ? WHERE seq = ?", -1, &st, NULL);
	sqlite3_bind_blob(st, 1, hash, AUDIT_HASH_LEN, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, seq);
	CHECK_EQ(sqlite3_step(st), SQLITE_DONE);
	sqlite3_finalize(st);
}

/* A plausible forged record: what an intruder would like the log to say. */
static void forge(struct store_audit *r, int64_t seq, int64_t ts_ms)
{
	memset(r, 0, sizeof(*r));
	r->seq = seq;
	r->ts_ms = ts_ms;
	r->customer_id = 3;
	snprintf(r->actor, sizeof(r->actor), "user:alibi");
	snprintf(r->action, sizeof(r->action), "machine.add");
	snprintf(r->machines, sizeof(r->machines), "SN-FAKE");
	snprintf(r->data_class, sizeof(r->data_class), "admin");
	snprintf(r->purpose, sizeof(r->purpose), "administration");
	snprintf(r->outcome, sizeof(r->outcome), "ok");
	r->hash_len = AUDIT_HASH_LEN;
}

/* ---- tests ---- */

struct counter {
	int64_t n, last_seq;
	int ordered;
};

static int count_row(void *arg, const struct store_audit *r)
{
	struct counter *c = arg;

	if (c->n > 0 && r->seq <= c->last_seq)
		c->ordered = 0;
	c->last_seq = r->seq;
	c->n++;
	return 0;
}

static int64_t count(struct vault *v, const struct audit_filter *f)
{
	struct counter c = { 0, 0, 1 };

	CHECK_EQ(audit_list(v, f, count_row, &c), CC_OK);
	CHECK(c.ordered);
	return c.n;
}

struct rechain {
	uint8_t prev[AUDIT_HASH_LEN];
	int64_t ok, bad;
};

static int rechain_row(void *arg, const struct store_audit *r)
{
	struct rechain *c = arg;
	uint8_t h[AUDIT_HASH_LEN];

	CHECK_EQ(audit_record_hash(c->prev, r, h), CC_OK);
	if (r->hash_len == AUDIT_HASH_LEN && memcmp(h, r->hash, AUDIT_HASH_LEN) == 0)
		c->ok++;
	else
		c->bad++;
	memcpy(c->prev, r->hash, AUDIT_HASH_LEN);
	return 0;
}

static void test_append_and_verify(void)
{
	struct vault *v = NULL;
	struct store *s;
	struct audit_report r;
	struct audit_filter f;
	struct rechain rc = { { 0 }, 0, 0 };
	struct audit_event bad;
	char head[200], hex[2 * AUDIT_HASH_LEN + 1];
	int i, ok = 1;

	init_dir(base);
	CHECK_EQ(vault_open(base, NULL, &v), CC_OK);
	if (v == NULL)
		return;
	s = vault_store(v);
	/* An empty log verifies, and has no key yet. */
	CHECK_EQ(audit_verify(v, &r), CC_OK);
	CHECK_EQ(r.records, 0);
	CHECK_EQ(audit_ready(v), CC_OK);
	/* Ten in autocommit (each its own transaction), the rest in the caller's. */
	for (i = 0; i < 10; i++)
		ok &= append_one(v, i) == CC_OK;
	CHECK_EQ(s->ops->begin(s), CC_OK);
	for (; i < RECORDS; i++)
		ok &= append_one(v, i) == CC_OK;
	CHECK_EQ(s->ops->commit(s), CC_OK);
	CHECK(ok);

	CHECK_EQ(audit_verify(v, &r), CC_OK);
	CHECK_EQ(r.records, RECORDS);
	CHECK_EQ(r.damage, AUDIT_INTACT);
	CHECK_EQ(r.bad_seq, 0);

	/* The chain is exactly the documented rule, recomputed from outside. */
	CHECK_EQ(audit_genesis(v, rc.prev), CC_OK);
	CHECK_EQ(audit_list(v, NULL, rechain_row, &rc), CC_OK);
	CHECK_EQ(rc.ok, RECORDS);
	CHECK_EQ(rc.bad, 0);
	CHECK(memcmp(rc.prev, r.head_hash, AUDIT_HASH_LEN) == 0);
	/* The checkpoint names the head: "1000:<hash>:<mac>". */
	CHECK_EQ(s->ops->meta_get(s, AUDIT_HEAD_META, head, sizeof(head)), CC_OK);
	hex_encode(r.head_hash, AUDIT_HASH_LEN, hex, sizeof(hex));
	CHECK(strncmp(head, "1000:", 5) == 0 && strncmp(head + 5, hex, 64) == 0 && strlen(head) == 5 + 64 + 1 + 64);

	/* Filters. */
	memset(&f, 0, sizeof(f));
	CHECK_EQ(count(v, &f), RECORDS);
	f.action_prefix = "telemetry.";
	CHECK_EQ(count(v, &f), RECORDS / 4);
	f.action_prefix = "machine.add";
	CHECK_EQ(count(v, &f), RECORDS / 4);
	f.action_prefix = "machine._dd"; /* no LIKE wildcards */
	CHECK_EQ(count(v, &f), 0);
	f.action_prefix = NULL;
	f.serial = "SN-10"; /* records 9 and 10 name it; SN-100 does not match */
	CHECK_EQ(count(v, &f), 2);
	f.serial = NULL;
	f.from_ms = 1700000000000LL + 100 * 1000;
	f.to_ms = 1700000000000LL + 200 * 1000;
	CHECK_EQ(count(v, &f), 100);
	f.customer_id = 2;
	CHECK_EQ(count(v, &f), 33); /* i = 102, 105 ... 198 */
	f.customer_id = 0;
	f.limit = 7;
	CHECK_EQ(count(v, &f), 7);
	f.newest_first = 1;
	{
		struct counter c = { 0, 0, 1 };

		CHECK_EQ(audit_list(v, &f, count_row, &c), CC_OK);
		CHECK_EQ(c.n, 7);
		CHECK(!c.ordered);
		CHECK_EQ(c.last_seq, 194); /* seqs 101..200 in range: 200 down to 194 */
	}

	/* Malformed events are refused, and nothing is appended. */
	memset(&bad, 0, sizeof(bad));
	bad.actor = "user:x";
	bad.action = "telemetry.get";
	bad.data_class = "financial";
	bad.purpose = "support";
	bad.outcome = "ok";
	CHECK_EQ(audit_append(v, &bad), CC_ERR_INVALID);
	bad.data_class = "technical";
	bad.outcome = "maybe";
	CHECK_EQ(audit_append(v, &bad), CC_ERR_INVALID);
	bad.outcome = "ok";
	bad.actor = "user:x\nforged line";
	CHECK_EQ(audit_append(v, &bad), CC_ERR_INVALID);
	bad.actor = "user:x";
	bad.machines = "SN-1,,SN-2";
	CHECK_EQ(audit_append(v, &bad), CC_ERR_INVALID);
	bad.machines = "SN 1";
	CHECK_EQ(audit_append(v, &bad), CC_ERR_INVALID);
	bad.machines = NULL;
	bad.action = NULL;
	CHECK_EQ(audit_append(v, &bad), CC_ERR_INVALID);
	{
		char big[CC_AUDIT_MACHINES_MAX + 80];
		size_t n = 0;

		while (n + 8 < sizeof(big) - 1)
			n += (size_t)snprintf(big + n, sizeof(big) - n, "SN-%04d,", (int)n);
		big[n - 1] = '\0';
		bad.action = "telemetry.get";
		bad.machines = big;
		CHECK_EQ(audit_append(v, &bad), CC_ERR_LIMIT);
	}
	CHECK_EQ(audit_verify(v, &r), CC_OK);
	CHECK_EQ(r.records, RECORDS);
	vault_close(v);
}

static void test_edited(void)
{
	char dir[1000];

	path_in(dir, sizeof(dir), "edited");
	copy_dir(base, dir);
	db_exec(dir, "UPDATE audit SET actor = 'user:somebody-else' WHERE seq = 500");
	expect_damage(dir, AUDIT_EDITED, 500, "edited actor");

	copy_dir(base, dir);
	db_exec(dir, "UPDATE audit SET ts_ms = ts_ms + 1 WHERE seq = 500");
	expect_damage(dir, AUDIT_EDITED, 500, "edited time");

	copy_dir(base, dir);
	db_exec(dir, "UPDATE audit SET hash = zeroblob(32) WHERE seq = 500");
	expect_damage(dir, AUDIT_EDITED, 500, "edited hash");

	copy_dir(base, dir);
	db_exec(dir, "UPDATE audit SET outcome = 'ok' WHERE seq = 1000 AND outcome = 'denied'");
	expect_damage(dir, AUDIT_EDITED, 1000, "edited last record");

	copy_dir(base, dir);
	db_exec(dir, "UPDATE meta SET value = 'someone-else' WHERE key = 'installation-id'");
	expect_damage(dir, AUDIT_EDITED, 1, "other genesis");
}

static void test_removed(void)
{
	char dir[1000];

	path_in(dir, sizeof(dir), "removed");
	copy_dir(base, dir);
	db_exec(dir, "DELETE FROM audit WHERE seq = 500");
	expect_damage(dir, AUDIT_REMOVED, 500, "removed one");

	copy_dir(base, dir);
	db_exec(dir, "DELETE FROM audit WHERE seq BETWEEN 1 AND 20");
	expect_damage(dir, AUDIT_REMOVED, 1, "removed the first twenty");
}

static void test_inserted(void)
{
	struct store_audit fake, prev;
	char dir[1000];
	sqlite3 *db;

	path_in(dir, sizeof(dir), "inserted");

	/* A forged record at 500, later ones renumbered; its hash is junk. */
	copy_dir(base, dir);
	db_exec(dir, "UPDATE audit SET seq = -seq WHERE seq >= 500; UPDATE audit SET seq = 1 - seq WHERE seq < 0");
	db = db_open(dir);
	forge(&fake, 500, 1700000000000LL + 499 * 1000 + 500);
	memset(fake.hash, 0xab, sizeof(fake.hash));
	db_insert(db, &fake);
	sqlite3_close(db);
	expect_damage(dir, AUDIT_INSERTED, 500, "inserted, junk hash");

	/* The same, by someone who knows the chain rule: the forgery chains. */
	copy_dir(base, dir);
	db_exec(dir, "UPDATE audit SET seq = -seq WHERE seq >= 500; UPDATE audit SET seq = 1 - seq WHERE seq < 0");
	db = db_open(dir);
	CHECK(db_row(db, 499, &prev));
	forge(&fake, 500, 1700000000000LL + 499 * 1000 + 500);
	CHECK_EQ(audit_record_hash(prev.hash, &fake, fake.hash), CC_OK);
	db_insert(db, &fake);
	sqlite3_close(db);
	expect_damage(dir, AUDIT_INSERTED, 500, "inserted, chained hash");

	/* A duplicate of a seq, made possible by moving the original aside. */
	copy_dir(base, dir);
	db = db_open(dir);
	CHECK(db_row(db, 700, &prev));
	sqlite3_close(db);
	db_exec(dir, "UPDATE audit SET seq = 1000000 WHERE seq = 700");
	db = db_open(dir);
	prev.seq = 700;
	snprintf(prev.outcome, sizeof(prev.outcome), "%s", strcmp(prev.outcome, "ok") ? "ok" : "denied");
	db_insert(db, &prev);
	sqlite3_close(db);
	expect_damage(dir, AUDIT_EDITED, 700, "replaced record");

	/* Appended after the checkpoint, chained, checkpoint left alone. */
	copy_dir(base, dir);
	db = db_open(dir);
	CHECK(db_row(db, RECORDS, &prev));
	forge(&fake, RECORDS + 1, 1700000000000LL + RECORDS * 1000);
	CHECK_EQ(audit_record_hash(prev.hash, &fake, fake.hash), CC_OK);
	db_insert(db, &fake);
	sqlite3_close(db);
	expect_damage(dir, AUDIT_INSERTED, RECORDS + 1, "appended after the checkpoint");
	/* ... and the next real append refuses to bless it. */
	{
		struct vault *v = NULL;

		CHECK_EQ(vault_open(dir, NULL, &v), CC_OK);
		CHECK_EQ(audit_ready(v), CC_ERR_CORRUPT);
		CHECK_EQ(append_one(v, 5000), CC_ERR_CORRUPT);
		vault_close(v);
	}
	expect_damage(dir, AUDIT_INSERTED, RECORDS + 1, "still appended after the checkpoint");
}

static void test_truncated(void)
{
	struct vault *v = NULL;
	char dir[1000];

	path_in(dir, sizeof(dir), "truncated");
	copy_dir(base, dir);
	db_exec(dir, "DELETE FROM audit WHERE seq > 990");
	expect_damage(dir, AUDIT_TRUNCATED, 991, "last ten deleted");

	/* Appending afterwards chains from the checkpoint, so the evidence stays: a gap. */
	CHECK_EQ(vault_open(dir, NULL, &v), CC_OK);
	CHECK_EQ(append_one(v, 7777), CC_OK);
	vault_close(v);
	expect_damage(dir, AUDIT_REMOVED, 991, "truncated, then appended");

	/* Everything gone, checkpoint included: the audit key still says records existed. */
	copy_dir(base, dir);
	db_exec(dir, "DELETE FROM audit; DELETE FROM meta WHERE key = 'audit-head'");
	expect_damage(dir, AUDIT_TRUNCATED, 1, "log and checkpoint deleted");

	/* Rows kept, checkpoint deleted. */
	copy_dir(base, dir);
	db_exec(dir, "DELETE FROM meta WHERE key = 'audit-head'");
	expect_damage(dir, AUDIT_REWRITTEN, RECORDS, "checkpoint deleted");
	CHECK_EQ(vault_open(dir, NULL, &v), CC_OK);
	CHECK_EQ(append_one(v, 1), CC_ERR_CORRUPT);
	vault_close(v);
}

/* Edit 500 and recompute 500..end with the public rule: a consistent chain. */
static void rewrite_from(const char *dir, int64_t from)
{
	struct store_audit r, prev;
	sqlite3 *db = db_open(dir);
	int64_t seq;

	CHECK(db_row(db, from - 1, &prev));
	for (seq = from; db_row(db, seq, &r); seq++) {
		CHECK_EQ(audit_record_hash(prev.hash, &r, r.hash), CC_OK);
		db_set_hash(db, seq, r.hash);
		prev = r;
	}
	sqlite3_close(db);
}

static void test_rewritten(void)
{
	struct store_audit last;
	struct vault *v = NULL;
	char dir[1000], sql[400], hex[2 * AUDIT_HASH_LEN + 1];
	sqlite3 *db;

	path_in(dir, sizeof(dir), "rewritten");
	copy_dir(base, dir);
	db_exec(dir, "UPDATE audit SET action = 'machine.list', machines = '' WHERE seq = 500");
	rewrite_from(dir, 500);
	expect_damage(dir, AUDIT_REWRITTEN, RECORDS, "rewritten chain, checkpoint untouched");

	/* Appending afterwards chains from the checkpoint: still caught. */
	CHECK_EQ(vault_open(dir, NULL, &v), CC_OK);
	CHECK_EQ(append_one(v, 4242), CC_OK);
	vault_close(v);
	{
		struct audit_report r;

		CHECK_EQ(verify_dir(dir, &r), CC_ERR_CORRUPT);
		CHECK(r.damage != AUDIT_INTACT);
	}

	/* The attacker also forges a checkpoint, without the key. */
	copy_dir(base, dir);
	db_exec(dir, "UPDATE audit SET action = 'machine.list', machines = '' WHERE seq = 500");
	rewrite_from(dir, 500);
	db = db_open(dir);
	CHECK(db_row(db, RECORDS, &last));
	sqlite3_close(db);
	hex_encode(last.hash, AUDIT_HASH_LEN, hex, sizeof(hex));
	snprintf(sql, sizeof(sql), "UPDATE meta SET value = '%d:%s:%s' WHERE key = 'audit-head'", RECORDS, hex, hex);
	db_exec(dir, sql);
	expect_damage(dir, AUDIT_REWRITTEN, RECORDS, "rewritten chain, forged checkpoint");
	CHECK_EQ(vault_open(dir, NULL, &v), CC_OK);
	CHECK_EQ(audit_ready(v), CC_ERR_CORRUPT);
	CHECK_EQ(append_one(v, 1), CC_ERR_CORRUPT);
	vault_close(v);

	/* A checkpoint that does not parse. */
	copy_dir(base, dir);
	db_exec(dir, "UPDATE meta SET value = 'garbage' WHERE key = 'audit-head'");
	expect_damage(dir, AUDIT_REWRITTEN, RECORDS, "garbled checkpoint");
}

/* Two processes append 500 records each, at the same time, into a log whose
 * key does not exist yet: one chain, no gaps, no fork, one key. */
static int child_appends(const char *dir, int who)
{
	struct vault *v = NULL;
	char actor[32];
	int i, failed = 0;

	if (vault_open(dir, NULL, &v) != CC_OK)
		return 2;
	snprintf(actor, sizeof(actor), "machine:SN-P%d", who);
	for (i = 0; i < RECORDS / 2; i++) {
		struct audit_event e = { 0 };

		e.actor = actor;
		e.action = "telemetry.put";
		e.machines = who ? "SN-P1" : "SN-P0";
		e.data_class = "technical";
		e.purpose = "support";
		e.outcome = "ok";
		if (audit_append(v, &e) != CC_OK)
			failed++;
	}
	vault_close(v);
	return failed ? 1 : 0;
}

static void test_concurrent_appenders(void)
{
	struct audit_report r;
	struct audit_filter f;
	struct vault *v = NULL;
	char dir[1000];
	pid_t pid[2];
	int i, status;

	path_in(dir, sizeof(dir), "concurrent");
	init_dir(dir);
	fflush(NULL);
	for (i = 0; i < 2; i++) {
		pid[i] = fork();
		CHECK(pid[i] >= 0);
		if (pid[i] == 0)
			exit(child_appends(dir, i));
	}
	for (i = 0; i < 2; i++) {
		CHECK_EQ(waitpid(pid[i], &status, 0), pid[i]);
		CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	}
	CHECK_EQ(verify_dir(dir, &r), CC_OK);
	CHECK_EQ(r.records, RECORDS);
	CHECK_EQ(vault_open(dir, NULL, &v), CC_OK);
	memset(&f, 0, sizeof(f));
	f.serial = "SN-P0";
	CHECK_EQ(count(v, &f), RECORDS / 2);
	f.serial = "SN-P1";
	CHECK_EQ(count(v, &f), RECORDS / 2);
	vault_close(v);
}

int main(void)
{
	log_set_level(LOG_LEVEL_SILENT);
	check_tmpdir(root, sizeof(root), "audit");
	path_in(base, sizeof(base), "base");
	RUN(test_append_and_verify);
	RUN(test_edited);
	RUN(test_removed);
	RUN(test_inserted);
	RUN(test_truncated);
	RUN(test_rewritten);
	RUN(test_concurrent_appenders);
	return check_summary();
}
