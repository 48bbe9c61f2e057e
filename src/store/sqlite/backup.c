/* backup.c - store_backup for the SQLite backend (store/backup.h). */
#include "store/backup.h"

#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sqlite3.h>

#include "common/err.h"
#include "common/file.h"
#include "common/log.h"
#include "store/sqlite/inbox.h"

#define MOD "store"

/* One file: source opened as it is used (WAL), destination a new file. */
static int copy_db(const char *src_path, const char *dst_path)
{
	sqlite3 *src = NULL, *dst = NULL;
	sqlite3_backup *b;
	int rc, fd;

	/* The destination exists before SQLite opens it, so it is 0600 from its first byte. */
	fd = open(dst_path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0) {
		log_error(MOD, "cannot create %s", dst_path);
		return CC_ERR_IO;
	}
	close(fd);
	rc = sqlite3_open_v2(src_path, &src, SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX, NULL);
	if (rc == SQLITE_OK) {
		sqlite3_busy_timeout(src, 10000);
		rc = sqlite3_open_v2(dst_path, &dst, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, NULL);
	}
	if (rc != SQLITE_OK) {
		log_error(MOD, "cannot open %s for a backup: %s", rc == SQLITE_OK || dst == NULL ? src_path : dst_path,
		          sqlite3_errstr(rc));
		sqlite3_close(src);
		sqlite3_close(dst);
		return CC_ERR_DB;
	}
	b = sqlite3_backup_init(dst, "main", src, "main");
	if (b == NULL) {
		log_error(MOD, "cannot start the backup of %s: %s", src_path, sqlite3_errmsg(dst));
		rc = SQLITE_ERROR;
	} else {
		/* -1: every page in one step, so one read snapshot of the source;
		 * a busy source (a checkpoint holding its lock) is waited for. */
		do {
			rc = sqlite3_backup_step(b, -1);
			if (rc == SQLITE_BUSY || rc == SQLITE_LOCKED)
				sqlite3_sleep(50);
		} while (rc == SQLITE_BUSY || rc == SQLITE_LOCKED);
		if (sqlite3_backup_finish(b) != SQLITE_OK && rc == SQLITE_DONE)
			rc = sqlite3_errcode(dst);
	}
	/* A copy stands alone: one file, no WAL beside it. */
	if (rc == SQLITE_DONE)
		rc = sqlite3_exec(dst, "PRAGMA journal_mode = DELETE", NULL, NULL, NULL);
	if (rc == SQLITE_OK || rc == SQLITE_DONE)
		rc = sqlite3_exec(dst, "PRAGMA quick_check", NULL, NULL, NULL);
	if (rc != SQLITE_OK && rc != SQLITE_DONE)
		log_error(MOD, "the backup of %s failed: %s", src_path, sqlite3_errstr(rc));
	sqlite3_close(src);
	sqlite3_close(dst);
	if (rc != SQLITE_OK && rc != SQLITE_DONE)
		return CC_ERR_DB;
	fd = open(dst_path, O_RDONLY | O_CLOEXEC);
	if (fd < 0 || fsync(fd) != 0) {
		if (fd >= 0)
			close(fd);
		return CC_ERR_IO;
	}
	close(fd);
	return CC_OK;
}

static const char *base_name(const char *path)
{
	const char *slash = strrchr(path, '/');

	return slash != NULL ? slash + 1 : path;
}

int store_backup(const char *db_path, const char *dest_dir, const char *names_out[STORE_BACKUP_FILES_MAX],
                 size_t *n_out)
{
	static char inbox_name[256], main_name[256];
	char inbox_src[4096], dst[4096 + 256];
	int rc = inbox_path(db_path, inbox_src, sizeof(inbox_src));

	*n_out = 0;
	if (rc != CC_OK)
		return rc;
	snprintf(inbox_name, sizeof(inbox_name), "%.200s", base_name(inbox_src));
	snprintf(main_name, sizeof(main_name), "%.200s", base_name(db_path));
	/* The inbox first: see backup.h. A directory made before the inbox has none. */
	if (file_exists(inbox_src)) {
		rc = file_join(dst, sizeof(dst), dest_dir, inbox_name);
		if (rc == CC_OK)
			rc = copy_db(inbox_src, dst);
		if (rc != CC_OK)
			return rc;
		names_out[(*n_out)++] = inbox_name;
	}
	rc = file_join(dst, sizeof(dst), dest_dir, main_name);
	if (rc == CC_OK)
		rc = copy_db(db_path, dst);
	if (rc != CC_OK)
		return rc;
	names_out[(*n_out)++] = main_name;
	return CC_OK;
}
