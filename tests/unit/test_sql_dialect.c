/*
 * The dialect table (store/sql/dialect.h): every statement has both texts,
 * both take the same parameters, and SQLite's text of the month start is
 * the UTC month (PostgreSQL's is checked by the conformance suite's
 * records_months, on a real server).
 */
#include <sqlite3.h>

#include "check.h"
#include "common/err.h"
#include "store/sql/dialect.h"
#include "store/sql/params.h"

static void test_every_statement(void)
{
	char out[4096];
	int id, sqlite_n, pg_n;

	for (id = 0; id < SQL_STMT_COUNT; id++) {
		const char *lite = sql_text(SQL_SQLITE, (enum sql_stmt)id), *pg = sql_text(SQL_POSTGRESQL, (enum sql_stmt)id);

		CHECK(lite != NULL && pg != NULL);
		if (lite == NULL || pg == NULL)
			continue;
		sqlite_n = pg_n = -1;
		CHECK_EQ(sql_params_pg(lite, out, sizeof(out), &sqlite_n), CC_OK);
		CHECK_EQ(sql_params_pg(pg, out, sizeof(out), &pg_n), CC_OK);
		CHECK(sqlite_n > 0);
		if (sqlite_n != pg_n)
			fprintf(stderr, "statement %d: %d parameters in SQLite's text, %d in PostgreSQL's\n", id, sqlite_n, pg_n);
		CHECK_EQ(sqlite_n, pg_n);
		CHECK(strcmp(lite, pg) != 0); /* a row here is for what differs */
	}
	CHECK(sql_text(SQL_SQLITE, SQL_STMT_COUNT) == NULL);
	CHECK(sql_text((enum sql_dialect)2, SQL_ROLLUP_PUT) == NULL);
}

static long long month_start(sqlite3 *db, long long ms)
{
	sqlite3_stmt *st = NULL;
	long long v = -1;

	CHECK_EQ(sqlite3_prepare_v2(db, sql_text(SQL_SQLITE, SQL_MONTH_START), -1, &st, NULL), SQLITE_OK);
	sqlite3_bind_int64(st, 1, ms);
	if (sqlite3_step(st) == SQLITE_ROW)
		v = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	return v;
}

static void test_month_start(void)
{
	sqlite3 *db = NULL;

	CHECK_EQ(sqlite3_open(":memory:", &db), SQLITE_OK);
	CHECK_EQ(month_start(db, 1700000000000LL), 1698796800000LL);   /* 2023-11-14 -> 2023-11-01 */
	CHECK_EQ(month_start(db, 1698796800000LL), 1698796800000LL);   /* a month's first millisecond */
	CHECK_EQ(month_start(db, 1698796799999LL), 1696118400000LL);   /* the last of October */
	CHECK_EQ(month_start(db, 1709251199999LL), 1706745600000LL);   /* 2024-02-29T23:59:59.999 -> 02-01 */
	CHECK_EQ(month_start(db, 0), 0);
	sqlite3_close(db);
}

int main(void)
{
	RUN(test_every_statement);
	RUN(test_month_start);
	return check_summary();
}
