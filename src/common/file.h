/*
 * file.h - whole-file reads and crash-safe writes, with permission checks
 * for secrets.
 *
 * A "secret" file must be a regular file with no group or other permission
 * bits; reading one that is not is refused (CC_ERR_PERM) with a message that
 * names the file and the fix. Buffers returned are NUL-terminated (the NUL is
 * not counted in *len) and are owned by the caller, who frees them with
 * free(), or with file_free_secret() for secret contents.
 */
#ifndef CC_COMMON_FILE_H
#define CC_COMMON_FILE_H

#include <stddef.h>
#include <sys/types.h>

/* Reads at most max bytes; a larger file is CC_ERR_LIMIT. */
int file_read_all(const char *path, size_t max, unsigned char **out, size_t *len);

/* As file_read_all, but refuses a file readable or writable by group/others. */
int file_read_secret(const char *path, size_t max, unsigned char **out, size_t *len);

/* Wipes and frees a buffer from file_read_secret. Accepts NULL. */
void file_free_secret(unsigned char *buf, size_t len);

/* Creates path with mode; fails with CC_ERR_EXISTS rather than overwrite. */
int file_write_new(const char *path, const void *data, size_t len, mode_t mode);

/* Replaces path atomically (temp file, fsync, rename, fsync of the directory). */
int file_write_atomic(const char *path, const void *data, size_t len, mode_t mode);

/* 0 when path is a regular file (or directory) with no group/other bits set;
 * CC_ERR_PERM (logged, naming the file) otherwise; CC_ERR_NOTFOUND if absent. */
int file_check_private(const char *path);

/* fsync() the directory that holds path, so a rename or create is durable. */
int file_sync_parent_dir(const char *path);

/* Creates dir and any missing parents with mode (like mkdir -p). */
int file_mkdirs(const char *dir, mode_t mode);

/* 1 if path exists (any type), 0 otherwise. */
int file_exists(const char *path);

/* Joins dir and name into out (cap bytes); CC_ERR_LIMIT if it does not fit. */
int file_join(char *out, size_t cap, const char *dir, const char *name);

#endif
