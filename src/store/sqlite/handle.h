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

extern const struct store_notify_ops sqlite_notify_ops;

#endif
