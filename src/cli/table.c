#include "cli/table.h"

#include <jansson.h>

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "common/clock.h"
#include "common/err.h"

/* Rows held before a chunk is printed: bounds memory for any listing. */
#define CHUNK_ROWS 1000

struct cli_table {
	size_t ncols;
	char *headers[CLI_TABLE_COLS_MAX];
	size_t width[CLI_TABLE_COLS_MAX];
	char **cells; /* nrows * ncols */
	size_t nrows, cap;
	int printed;  /* a chunk went out: the widths hold from now on */
};

/* Display width of UTF-8 text: one per character, not per byte (°C). */
static size_t text_width(const char *s)
{
	size_t n = 0;

	for (; *s != '\0'; s++)
		if (((unsigned char)*s & 0xC0) != 0x80)
			n++;
	return n;
}

static void grow_width(struct cli_table *t, size_t col, const char *s)
{
	size_t w = text_width(s);

	if (!t->printed && w > t->width[col])
		t->width[col] = w;
}

int cli_table_add_column(struct cli_table *t, const char *header)
{
	if (t->ncols == CLI_TABLE_COLS_MAX || t->nrows > 0 || t->printed)
		return CC_ERR_LIMIT;
	t->headers[t->ncols] = strdup(header);
	if (t->headers[t->ncols] == NULL)
		return CC_ERR_NOMEM;
	t->width[t->ncols] = 0;
	grow_width(t, t->ncols, header);
	t->ncols++;
	return CC_OK;
}

struct cli_table *cli_table_new(const char *const *headers)
{
	struct cli_table *t = calloc(1, sizeof(*t));
	size_t i;

	if (t == NULL)
		return NULL;
	for (i = 0; headers[i] != NULL; i++) {
		if (cli_table_add_column(t, headers[i]) != CC_OK) {
			cli_table_free(t);
			return NULL;
		}
	}
	return t;
}

static void put_padded(const char *s, size_t width, int last)
{
	size_t w = text_width(s);

	fputs(s, stdout);
	if (!last)
		for (; w < width + 2; w++)
			fputc(' ', stdout);
}

static void put_row(const struct cli_table *t, char *const *cells)
{
	size_t c;

	for (c = 0; c < t->ncols; c++)
		put_padded(cells[c], t->width[c], c + 1 == t->ncols);
	fputc('\n', stdout);
}

static void flush_rows(struct cli_table *t)
{
	size_t r, c;

	if (!t->printed)
		put_row(t, t->headers);
	t->printed = 1;
	for (r = 0; r < t->nrows; r++) {
		put_row(t, t->cells + r * t->ncols);
		for (c = 0; c < t->ncols; c++)
			free(t->cells[r * t->ncols + c]);
	}
	t->nrows = 0;
}

int cli_table_row(struct cli_table *t, const char *const *cells)
{
	size_t c;
	char **row;

	if (t->nrows == t->cap) {
		size_t cap = t->cap ? 2 * t->cap : 16;
		char **grown = realloc(t->cells, cap * t->ncols * sizeof(*grown));

		if (grown == NULL)
			return CC_ERR_NOMEM;
		t->cells = grown;
		t->cap = cap;
	}
	row = t->cells + t->nrows * t->ncols;
	for (c = 0; c < t->ncols; c++) {
		const char *s = cells[c] != NULL && cells[c][0] != '\0' ? cells[c] : "-";

		char *p;

		row[c] = strdup(s);
		if (row[c] == NULL) {
			while (c-- > 0)
				free(row[c]);
			return CC_ERR_NOMEM;
		}
		/* No control character reaches the terminal (escape sequences, line breaks). */
		for (p = row[c]; *p != '\0'; p++)
			if ((unsigned char)*p < 0x20 || *p == 0x7f)
				*p = ' ';
		grow_width(t, c, s);
	}
	t->nrows++;
	if (t->nrows == CHUNK_ROWS)
		flush_rows(t);
	return CC_OK;
}

int cli_table_add(struct cli_table *t, ...)
{
	const char *cells[CLI_TABLE_COLS_MAX];
	va_list ap;
	size_t c;

	va_start(ap, t);
	for (c = 0; c < t->ncols; c++)
		cells[c] = va_arg(ap, const char *);
	va_end(ap);
	return cli_table_row(t, cells);
}

int cli_table_print(struct cli_table *t)
{
	int rc;

	if (t == NULL)
		return CC_OK;
	flush_rows(t);
	rc = fflush(stdout) == 0 ? CC_OK : CC_ERR_IO;
	cli_table_free(t);
	return rc;
}

void cli_table_free(struct cli_table *t)
{
	size_t i;

	if (t == NULL)
		return;
	for (i = 0; i < t->nrows * t->ncols; i++)
		free(t->cells[i]);
	for (i = 0; i < t->ncols; i++)
		free(t->headers[i]);
	free(t->cells);
	free(t);
}

const char *cli_time_s(int64_t ms, char *buf, size_t cap)
{
	char full[40];
	char *dot;

	if (ms == 0 || cap < 21)
		return "-";
	clock_format_iso(ms, full, sizeof(full));
	dot = strchr(full, '.');
	if (dot != NULL)
		memcpy(dot, "Z", 2);
	snprintf(buf, cap, "%s", full);
	return buf;
}

int cli_list_done(struct cli_args *a, int rc, json_t *rows, struct cli_table *table)
{
	if (rc == CC_OK && a->json) {
		cli_table_free(table);
		return cli_print_json(rows);
	}
	json_decref(rows);
	if (rc == CC_OK)
		return cli_table_print(table);
	cli_table_free(table);
	return rc;
}
