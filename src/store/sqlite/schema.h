/*
 * schema.h - the SQLite schema as an ordered list of migrations.
 *
 * Migration i brings PRAGMA user_version from i to i+1. Never edit a
 * migration that has shipped: append a new one.
 */
#ifndef CC_STORE_SQLITE_SCHEMA_H
#define CC_STORE_SQLITE_SCHEMA_H

#include <stddef.h>

extern const char *const sqlite_migrations[];
extern const size_t sqlite_migration_count;

#endif
