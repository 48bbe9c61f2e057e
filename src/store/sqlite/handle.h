/*
 * handle.h - what the SQLite backend's files share beyond store.h: the
 * connection of a store handle and the one mapping of SQLite results to
 * our codes. Only files under src/store/sqlite/ include it.
 */
#ifndef CC_STORE_SQLITE_HANDLE_H
#define CC_STORE_SQLITE_HANDLE_H

#include <sqlite3.h>

#include "store/store.h"

sqlite3 *sqlite_store_db(struct store *s);
/* Logs and maps a SQLite result code (CC_ERR_EXISTS for a unique key, ...). */
int sqlite_store_fail(struct store *s, int rc, const char *what);
/* sqlite3_prepare_v2 on the store's connection, failures mapped. */
int sqlite_store_prepare(struct store *s, const char *sql, sqlite3_stmt **st);
/* Steps a prepared write to its end and finalizes it. */
int sqlite_store_step_done(struct store *s, sqlite3_stmt *st, const char *what);
/* A text column into out (cut to cap - 1 bytes, NUL-terminated). */
void sqlite_copy_text(char *out, size_t cap, sqlite3_stmt *st, int col);
/* ids as a JSON array text for json_each(?) (malloc'd; NULL: out of
 * memory): one bound value however long the list (tickets_sqlite.c). */
char *sqlite_ids_json(const int64_t *ids, size_t n);

extern const struct store_notify_ops sqlite_notify_ops;
extern const struct store_update_ops sqlite_update_ops;
extern const struct store_diag_ops sqlite_diag_ops;
extern const struct store_ticket_ops sqlite_ticket_ops;
extern const struct store_machine_config_ops sqlite_machine_config_ops;
extern const struct store_rollout_ops sqlite_rollout_ops;

#endif
