/*
 * backup.h - a consistent copy of a live store, while the daemon writes.
 *
 * store_backup copies the database at db_path and the files the backend
 * keeps beside it (the SQLite backend: coffeecloud-inbox.db) into dest_dir
 * under their own names, each through SQLite's online backup API
 * (sqlite3_backup_*: a read snapshot, page by page, writers never
 * blocked), the inbox before the main database. That order makes the pair
 * fit together: rows move from the inbox into the tables (committed in the
 * main file first, deleted from the inbox after), so a main snapshot taken
 * after the inbox one holds at least every row the inbox copy lacks; a row
 * in both is resolved on reads and moves, as after any crash (inbox.h).
 * The copies are written 0600 and synced. *names_out gets the file names
 * written (static strings), at most 4.
 */
#ifndef CC_STORE_BACKUP_H
#define CC_STORE_BACKUP_H

#include <stddef.h>

#define STORE_BACKUP_FILES_MAX 4

int store_backup(const char *db_path, const char *dest_dir, const char *names_out[STORE_BACKUP_FILES_MAX],
                 size_t *n_out);

#endif
