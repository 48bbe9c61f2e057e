/*
 * table.h - what the CLI prints for people: a header row, then rows whose
 * columns line up, and times as ISO 8601 UTC. Every listing goes through
 * here, so they all read alike (--json output does not: it is for scripts).
 *
 * A table keeps its rows until it is printed, to size its columns; a long
 * listing (the audit log can be longer than memory) is printed a chunk at a
 * time, the widths of the first chunk holding for the rest.
 */
#ifndef CC_CLI_TABLE_H
#define CC_CLI_TABLE_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#define CLI_TABLE_COLS_MAX 64

struct cli_table;

/* A table of these column headers (NULL-terminated, at most
 * CLI_TABLE_COLS_MAX); NULL when out of memory. */
struct cli_table *cli_table_new(const char *const *headers);
/* Adds a column after the others (before the first row): for columns
 * known only once the data is read (telemetry metrics). */
int cli_table_add_column(struct cli_table *t, const char *header);
/* One row: ncols cells, copied; a NULL or empty cell prints as "-". */
int cli_table_row(struct cli_table *t, const char *const *cells);
/* The same with the cells as arguments (exactly as many as columns). */
int cli_table_add(struct cli_table *t, ...);
/* Prints what is left (the header too, if no chunk was printed yet) to
 * stdout and frees the table; NULL is a no-op. */
int cli_table_print(struct cli_table *t);
/* Frees without printing. */
void cli_table_free(struct cli_table *t);

/* Ends a listing that built both forms (rows for --json, table for
 * people): prints the one asked for when rc is CC_OK, frees both, and
 * returns rc or the printing's failure. */
struct cli_args;
int cli_list_done(struct cli_args *a, int rc, json_t *rows, struct cli_table *table);

/* ms since the epoch as ISO 8601 UTC to the second (2026-12-07T05:01:02Z),
 * what listings show; "-" for 0. */
const char *cli_time_s(int64_t ms, char *buf, size_t cap);

#endif
