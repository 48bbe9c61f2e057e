/*
 * params.h - one SQL text for both dialects' placeholders.
 *
 * Shared statements are written once with SQLite's `?N` (or bare `?`,
 * numbered in order) placeholders; PostgreSQL wants `$N`. sql_params_pg
 * rewrites one into the other, leaving string literals ('...'), quoted
 * identifiers ("...") and comments untouched. docs/STORE.md: the few
 * statements that differ beyond this live in the dialect table instead.
 */
#ifndef CC_STORE_SQL_PARAMS_H
#define CC_STORE_SQL_PARAMS_H

#include <stddef.h>

/* Writes the PostgreSQL form of sql into out (cap bytes, NUL-terminated).
 * *nparams gets the highest parameter number. CC_ERR_LIMIT when out is
 * too small, CC_ERR_INVALID for an unterminated literal or comment, a
 * parameter number of 0 or above 999, or bare and numbered `?` mixed. */
int sql_params_pg(const char *sql, char *out, size_t cap, int *nparams);

#endif
