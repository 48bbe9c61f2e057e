#define _GNU_SOURCE /* memrchr */
#include "records/columns.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "common/err.h"
#include "common/limits.h"
#include "ingest/jscan.h"
#include "ingest/message.h"

/* A growing text buffer. */
struct text {
	char *p;
	size_t n, cap;
};

static int text_add(struct text *t, const char *s, size_t len)
{
	if (t->n + len + 1 > t->cap) {
		size_t cap = t->cap ? t->cap : 256;
		char *grown;

		while (cap < t->n + len + 1)
			cap *= 2;
		grown = realloc(t->p, cap);
		if (grown == NULL)
			return CC_ERR_NOMEM;
		t->p = grown;
		t->cap = cap;
	}
	memcpy(t->p + t->n, s, len);
	t->n += len;
	return CC_OK;
}

/* A string literal, its length counted by the compiler. */
#define TEXT_LIT(t, lit) text_add((t), (lit), sizeof(lit) - 1)

static int text_int(struct text *t, int64_t v)
{
	char b[24];
	int n = snprintf(b, sizeof(b), "%" PRId64, v);

	return text_add(t, b, (size_t)n);
}

struct column {
	char name[96];
	size_t name_len;
	int keep;      /* the caller's verdict */
	size_t rows;   /* values (or nulls) written */
	struct text values;
};

struct columns {
	int (*visible)(void *, const char *, size_t);
	void *ctx;
	struct column cols[INGEST_METRICS_MAX];
	struct column hidden; /* every name the caller does not keep (keep = 0) */
	size_t ncols, nrows;
	struct text ts, seq;   /* seq: the records' numbers, or a bucket's count (columns_add_bucket) */
	int buckets;           /* columns_add_bucket was used: the second column is "n" */
	struct text rows, row; /* columns_add_row: the rows so far, the one being written */
	size_t nrow_items;
	/* while scanning one record */
	int in_m, added;
	struct column *pending; /* the metric whose value comes next */
	int rc;
};

int columns_new(int (*visible)(void *ctx, const char *name, size_t len), void *ctx, struct columns **out)
{
	struct columns *c = calloc(1, sizeof(*c));

	if (c == NULL)
		return CC_ERR_NOMEM;
	c->visible = visible;
	c->ctx = ctx;
	*out = c;
	return CC_OK;
}

void columns_free(struct columns *c)
{
	size_t i;

	if (c == NULL)
		return;
	for (i = 0; i < c->ncols; i++)
		free(c->cols[i].values.p);
	free(c->ts.p);
	free(c->seq.p);
	free(c->rows.p);
	free(c->row.p);
	free(c);
}

static struct column *column_of(struct columns *c, const char *name, size_t len)
{
	size_t i;

	for (i = 0; i < c->ncols; i++)
		if (c->cols[i].name_len == len && memcmp(c->cols[i].name, name, len) == 0)
			return &c->cols[i];
	/* A name the caller does not keep takes no column (so hostile names
	 * cannot use them up); one it keeps is a catalogue name, short and few. */
	if (len >= sizeof(c->cols[0].name) || !c->visible(c->ctx, name, len))
		return &c->hidden;
	if (c->ncols == sizeof(c->cols) / sizeof(c->cols[0])) {
		c->rc = CC_ERR_LIMIT;
		return NULL;
	}
	memcpy(c->cols[c->ncols].name, name, len);
	c->cols[c->ncols].name_len = len;
	c->cols[c->ncols].keep = 1;
	return &c->cols[c->ncols++];
}

/* Nulls up to row (exclusive), then a comma when values came before. */
static int pad(struct column *col, size_t row)
{
	int rc = CC_OK;

	while (col->rows < row && rc == CC_OK) {
		rc = text_add(&col->values, col->rows ? ",null" : "null", col->rows ? 5 : 4);
		col->rows++;
	}
	return rc;
}

/* A value for a column of the columns: nulls for the rows it missed, then it. */
static int put_column_value(struct columns *c, struct column *col, const char *num, size_t len)
{
	int rc = pad(col, c->nrows);

	if (rc == CC_OK)
		rc = text_add(&col->values, ",", col->rows ? 1 : 0);
	if (rc == CC_OK)
		rc = text_add(&col->values, num, len);
	col->rows = c->nrows + 1;
	c->added = 1;
	return rc;
}

/* A value for the row being written: "name":value. Catalogue names
 * ([a-z0-9_]), the only ones visible() keeps: nothing to escape. */
static int put_row_value(struct columns *c, struct column *col, const char *num, size_t len)
{
	int rc = c->added ? TEXT_LIT(&c->row, ",\"") : TEXT_LIT(&c->row, "\"");

	if (rc == CC_OK)
		rc = text_add(&c->row, col->name, col->name_len);
	if (rc == CC_OK)
		rc = TEXT_LIT(&c->row, "\":");
	if (rc == CC_OK)
		rc = text_add(&c->row, num, len);
	c->added = 1;
	return rc;
}

typedef int (*put_fn)(struct columns *c, struct column *col, const char *num, size_t len);

struct scan {
	struct columns *c;
	put_fn put;
};

/* Follows the members of the top-level "m" and hands each kept number,
 * as written, to put. */
static int on_token(void *ctx, const struct jscan_token *t)
{
	struct scan *sc = ctx;
	struct columns *c = sc->c;
	struct column *col;

	if (t->depth == 1 && t->type == JSCAN_KEY) {
		c->in_m = t->len == 1 && t->s[0] == 'm';
		return 0;
	}
	if (!c->in_m || t->depth != 2)
		return 0;
	if (t->type == JSCAN_KEY) {
		c->pending = column_of(c, t->s, t->len);
		return c->pending == NULL ? 1 : 0;
	}
	col = c->pending;
	c->pending = NULL;
	if (col == NULL || !col->keep || (t->type != JSCAN_INTEGER && t->type != JSCAN_REAL))
		return 0;
	c->rc = sc->put(c, col, t->s, t->len);
	return c->rc != CC_OK;
}

/* Takes back the values this record wrote (a declined document's prefix). */
static void take_back(struct columns *c)
{
	size_t i;

	for (i = 0; i < c->ncols; i++)
		if (c->cols[i].rows == c->nrows + 1) {
			char *comma = memrchr(c->cols[i].values.p, ',', c->cols[i].values.n);

			c->cols[i].values.n = comma != NULL ? (size_t)(comma - c->cols[i].values.p) : 0;
			c->cols[i].rows = c->nrows;
		}
	c->added = 0;
}

/* A stored body the scanner declines (ingest accepted it through jansson:
 * a real of more than 15 significant digits, say): jansson reads it here too. */
static int add_slowly(struct columns *c, const char *body, size_t len, put_fn put)
{
	json_t *doc = json_loadb(body, len, JSON_REJECT_DUPLICATES, NULL), *value;
	const char *name;
	int rc = CC_OK;

	json_object_foreach(json_object_get(doc, "m"), name, value) {
		struct column *col;
		char num[40];
		int n;

		if (!json_is_number(value) || (col = column_of(c, name, strlen(name))) == NULL || !col->keep)
			continue;
		n = json_is_integer(value) ? snprintf(num, sizeof(num), "%" PRId64, (int64_t)json_integer_value(value))
		                           : snprintf(num, sizeof(num), "%.17g", json_real_value(value));
		rc = put(c, col, num, (size_t)n);
		if (rc != CC_OK)
			break;
	}
	json_decref(doc);
	return c->rc != CC_OK ? c->rc : rc;
}

/* One body through the scanner (or jansson when it declines): put gets
 * each kept number; c->added says whether there was one. */
static int scan_body(struct columns *c, const char *body, size_t len, put_fn put)
{
	struct scan sc = { c, put };
	struct jscan js;
	int rc;

	c->in_m = c->added = 0;
	c->pending = NULL;
	c->rc = CC_OK;
	rc = jscan_run(&js, (const uint8_t *)body, len, on_token, &sc);
	if (c->rc != CC_OK)
		return c->rc;
	if (rc == JSCAN_DECLINED) {
		take_back(c);
		c->row.n = 0;
		return add_slowly(c, body, len, put);
	}
	return CC_OK;
}

int columns_add_row(struct columns *c, int64_t seq, int64_t ts_ms, const char *body, size_t len)
{
	int rc;

	c->row.n = 0;
	rc = scan_body(c, body, len, put_row_value);
	if (rc != CC_OK)
		return rc;
	if (!c->added)
		return 1;
	rc = c->nrow_items ? TEXT_LIT(&c->rows, ",{\"seq\":") : TEXT_LIT(&c->rows, "{\"seq\":");
	if (rc == CC_OK)
		rc = text_int(&c->rows, seq);
	if (rc == CC_OK)
		rc = TEXT_LIT(&c->rows, ",\"ts\":");
	if (rc == CC_OK)
		rc = text_int(&c->rows, ts_ms);
	if (rc == CC_OK)
		rc = TEXT_LIT(&c->rows, ",\"m\":{");
	if (rc == CC_OK)
		rc = text_add(&c->rows, c->row.p, c->row.n);
	if (rc == CC_OK)
		rc = TEXT_LIT(&c->rows, "}}");
	c->nrow_items++;
	return rc;
}

const char *columns_rows_text(struct columns *c, size_t *len)
{
	*len = c->rows.n;
	return c->rows.n ? c->rows.p : "";
}

int columns_add_bucket(struct columns *c, int64_t start_ms, int64_t n, const char *name, const char *suffix,
                       double value)
{
	struct column *col;
	char full[CC_NAME_MAX + 8], num[40];
	int len, nn, rc;

	c->buckets = 1;
	if (name == NULL) { /* the bucket's row begins */
		if (c->nrows > 0 || c->ts.n > 0)
			c->nrows++;
		rc = text_add(&c->ts, ",", c->nrows ? 1 : 0);
		if (rc == CC_OK)
			rc = text_int(&c->ts, start_ms);
		if (rc == CC_OK)
			rc = text_add(&c->seq, ",", c->nrows ? 1 : 0);
		return rc == CC_OK ? text_int(&c->seq, n) : rc;
	}
	len = snprintf(full, sizeof(full), "%s%s", name, suffix);
	if (len < 0 || (size_t)len >= sizeof(full) || (col = column_of(c, full, (size_t)len)) == NULL)
		return CC_ERR_LIMIT;
	if (col == &c->hidden)
		return CC_ERR_LIMIT; /* not a catalogue name */
	/* As the trees write reals: 15 significant digits, a point or an exponent. */
	nn = isfinite(value) ? snprintf(num, sizeof(num) - 2, "%.15g", value) : snprintf(num, sizeof(num), "null");
	if (isfinite(value) && strpbrk(num, ".eEn") == NULL) {
		num[nn++] = '.';
		num[nn++] = '0';
	}
	rc = pad(col, c->nrows);
	if (rc == CC_OK)
		rc = text_add(&col->values, ",", col->rows ? 1 : 0);
	if (rc == CC_OK)
		rc = text_add(&col->values, num, (size_t)nn);
	col->rows = c->nrows + 1;
	return rc;
}

int columns_add(struct columns *c, int64_t seq, int64_t ts_ms, const char *body, size_t len)
{
	int rc = scan_body(c, body, len, put_column_value);

	if (rc != CC_OK)
		return rc;
	if (!c->added)
		return 1;
	rc = text_add(&c->ts, ",", c->nrows ? 1 : 0);
	if (rc == CC_OK)
		rc = text_int(&c->ts, ts_ms);
	if (rc == CC_OK)
		rc = text_add(&c->seq, ",", c->nrows ? 1 : 0);
	if (rc == CC_OK)
		rc = text_int(&c->seq, seq);
	c->nrows++;
	return rc;
}

int columns_json(struct columns *c, char **out, size_t *len)
{
	struct text t = { NULL, 0, 0 };
	size_t i;
	int rc = TEXT_LIT(&t, "{\"ts\":[");

	if (rc == CC_OK && c->ts.n)
		rc = text_add(&t, c->ts.p, c->ts.n);
	if (rc == CC_OK)
		rc = c->buckets ? TEXT_LIT(&t, "],\"n\":[") : TEXT_LIT(&t, "],\"seq\":[");
	if (rc == CC_OK && c->seq.n)
		rc = text_add(&t, c->seq.p, c->seq.n);
	if (rc == CC_OK)
		rc = TEXT_LIT(&t, "]");
	if (c->buckets && c->ts.n > 0)
		c->nrows++; /* the last bucket's row is complete */
	for (i = 0; i < c->ncols && rc == CC_OK; i++) {
		struct column *col = &c->cols[i];

		if (!col->keep || col->rows == 0)
			continue;
		rc = pad(col, c->nrows);
		/* Metric names are catalogue names ([a-z0-9_]): no escaping needed,
		 * and visible() only keeps catalogue names. */
		if (rc == CC_OK)
			rc = TEXT_LIT(&t, ",\"");
		if (rc == CC_OK)
			rc = text_add(&t, col->name, col->name_len);
		if (rc == CC_OK)
			rc = TEXT_LIT(&t, "\":[");
		if (rc == CC_OK && col->values.n)
			rc = text_add(&t, col->values.p, col->values.n);
		if (rc == CC_OK)
			rc = TEXT_LIT(&t, "]");
	}
	if (rc == CC_OK)
		rc = text_add(&t, "}", 2); /* and the NUL that ends the text */
	if (rc != CC_OK) {
		free(t.p);
		return rc;
	}
	*out = t.p;
	*len = t.n - 1;
	return CC_OK;
}
