/*
 * One SQL text for both dialects (store/sql/params.h): SQLite's ?N and ?
 * become PostgreSQL's $N, never inside literals, quoted names or comments.
 */
#include "check.h"
#include "common/err.h"
#include "store/sql/params.h"

static void pg_is(const char *in, const char *want, int want_n)
{
	char out[256];
	int n = -1;

	CHECK_EQ(sql_params_pg(in, out, sizeof(out), &n), CC_OK);
	CHECK_STR(out, want);
	CHECK_EQ(n, want_n);
	if (strcmp(out, want) != 0)
		fprintf(stderr, "  in:   %s\n  got:  %s\n  want: %s\n", in, out, want);
}

static void test_rewrites(void)
{
	pg_is("SELECT 1", "SELECT 1", 0);
	pg_is("SELECT * FROM t WHERE a = ?1 AND (?3 = 0 OR b < ?3) LIMIT ?2",
	      "SELECT * FROM t WHERE a = $1 AND ($3 = 0 OR b < $3) LIMIT $2", 3);
	pg_is("INSERT INTO t(a, b, c) VALUES (?, ?, ?)", "INSERT INTO t(a, b, c) VALUES ($1, $2, $3)", 3);
	pg_is("SELECT ?12, ?100", "SELECT $12, $100", 100);
	/* Literals, quoted names and comments keep their question marks. */
	pg_is("SELECT 'why?', 'it''s ?1' FROM \"odd?name\" WHERE a = ?", "SELECT 'why?', 'it''s ?1' FROM \"odd?name\" WHERE a = $1",
	      1);
	pg_is("SELECT a -- is it ?1\nFROM t /* ?2 */ WHERE b = ?1", "SELECT a -- is it ?1\nFROM t /* ?2 */ WHERE b = $1", 1);
	pg_is("SELECT a || ',' || ?1", "SELECT a || ',' || $1", 1);
}

static void test_refuses(void)
{
	char out[64];
	int n;

	CHECK_EQ(sql_params_pg("SELECT 'open", out, sizeof(out), &n), CC_ERR_INVALID);
	CHECK_EQ(sql_params_pg("SELECT /* open", out, sizeof(out), &n), CC_ERR_INVALID);
	CHECK_EQ(sql_params_pg("SELECT ?0", out, sizeof(out), &n), CC_ERR_INVALID);
	CHECK_EQ(sql_params_pg("SELECT ?1000", out, sizeof(out), &n), CC_ERR_INVALID);
	CHECK_EQ(sql_params_pg("SELECT ?1, ?", out, sizeof(out), &n), CC_ERR_INVALID);
	CHECK_EQ(sql_params_pg("SELECT ?, ?1", out, sizeof(out), &n), CC_ERR_INVALID);
	CHECK_EQ(sql_params_pg("SELECT 1234567", out, 8, &n), CC_ERR_LIMIT);
	CHECK_EQ(sql_params_pg("SELECT 123456", out, 14, &n), CC_OK);
	CHECK_EQ(sql_params_pg("SELECT 1234567", out, 14, &n), CC_ERR_LIMIT); /* the NUL too */
	CHECK_EQ(sql_params_pg("", out, 0, &n), CC_ERR_LIMIT);
}

int main(void)
{
	RUN(test_rewrites);
	RUN(test_refuses);
	return check_summary();
}
