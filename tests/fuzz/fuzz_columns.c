/*
 * fuzz_columns.c - telemetry written as text without a tree (records/
 * columns.h) and summarised (records/rollup.h) from hostile stored bodies:
 * no crash, and what is written is always JSON of the promised shape.
 *
 * The input is several bodies separated by '\n'. Each goes into a set of
 * columns, a set of rows and a summary. A metric name is "visible" when it
 * is [a-z0-9_]+, the property of catalogue names the writers rely on (they
 * copy names without escaping). Then: the columns must parse as a JSON
 * object whose arrays all have as many items as "ts"; the rows must parse
 * as a JSON array of that many objects; the summary's readings must add up.
 */
#include <jansson.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "records/columns.h"
#include "records/rollup.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int catalogue_like(void *ctx, const char *name, size_t len)
{
	size_t i;

	(void)ctx;
	if (len == 0)
		return 0;
	for (i = 0; i < len; i++)
		if (!((name[i] >= 'a' && name[i] <= 'z') || (name[i] >= '0' && name[i] <= '9') || name[i] == '_'))
			return 0;
	return 1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct columns *cols = NULL, *rows = NULL;
	struct rollup_summary sum = { 0, 0, 0, 0, NULL };
	size_t at = 0, added = 0, kept_rows = 0, i, rlen = 0;
	int64_t seq = 0;
	char *text = NULL, *wrapped;
	size_t len = 0;
	json_t *doc, *value;
	const char *key, *rtext;

	log_set_level(LOG_LEVEL_SILENT);
	if (columns_new(catalogue_like, NULL, &cols) != 0 || columns_new(catalogue_like, NULL, &rows) != 0)
		abort();
	while (at <= size && seq < 64) {
		const uint8_t *nl = memchr(data + at, '\n', size - at);
		size_t n = nl != NULL ? (size_t)(nl - (data + at)) : size - at;
		int rc;

		seq++;
		rc = columns_add(cols, seq, seq * 1000, (const char *)data + at, n);
		if (rc < 0)
			abort();
		added += rc == 0;
		rc = columns_add_row(rows, seq, seq * 1000, (const char *)data + at, n);
		if (rc < 0)
			abort();
		kept_rows += rc == 0;
		if (rollup_summary_add(&sum, 0, (const char *)data + at, n) < 0)
			abort();
		at += n + 1;
		if (nl == NULL)
			break;
	}
	/* Columns: one object, every array as long as "ts". */
	if (columns_json(cols, &text, &len) != 0 || strlen(text) != len)
		abort();
	doc = json_loads(text, 0, NULL);
	if (!json_is_object(doc) || json_array_size(json_object_get(doc, "ts")) != added)
		abort();
	json_object_foreach(doc, key, value)
		if (!json_is_array(value) || json_array_size(value) != added)
			abort();
	json_decref(doc);
	free(text);
	/* Rows: an array of as many objects as were kept. */
	rtext = columns_rows_text(rows, &rlen);
	wrapped = malloc(rlen + 3);
	if (wrapped == NULL)
		abort();
	wrapped[0] = '[';
	memcpy(wrapped + 1, rtext, rlen);
	wrapped[rlen + 1] = ']';
	wrapped[rlen + 2] = '\0';
	doc = json_loads(wrapped, 0, NULL);
	if (!json_is_array(doc) || json_array_size(doc) != kept_rows)
		abort();
	json_decref(doc);
	free(wrapped);
	/* The summary: readings counted, extremes in order. */
	for (i = 0; i < sum.nmetrics; i++)
		if (sum.m[i].count <= 0 || (sum.m[i].count > 0 && !(sum.m[i].min <= sum.m[i].max)))
			abort();
	if (sum.records > seq)
		abort();
	rollup_summary_free(&sum);
	columns_free(cols);
	columns_free(rows);
	return 0;
}
