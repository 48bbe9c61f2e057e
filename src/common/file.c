#include "common/file.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "common/err.h"
#include "common/log.h"

#define MOD "file"

static int read_fd_all(int fd, const char *path, size_t max, unsigned char **out, size_t *len)
{
	struct stat st;
	unsigned char *buf = NULL;
	size_t used = 0;
	int rc = CC_ERR_IO;

	if (fstat(fd, &st) != 0) {
		log_error(MOD, "%s: %s", path, strerror(errno));
		goto out;
	}
	if (!S_ISREG(st.st_mode)) {
		log_error(MOD, "%s: not a regular file", path);
		rc = CC_ERR_INVALID;
		goto out;
	}
	if ((size_t)st.st_size > max) {
		log_error(MOD, "%s: larger than %zu bytes", path, max);
		rc = CC_ERR_LIMIT;
		goto out;
	}
	buf = malloc((size_t)st.st_size + 1);
	if (buf == NULL) {
		rc = CC_ERR_NOMEM;
		goto out;
	}
	while (used < (size_t)st.st_size) {
		ssize_t n = read(fd, buf + used, (size_t)st.st_size - used);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			log_error(MOD, "%s: short read", path);
			goto out;
		}
		used += (size_t)n;
	}
	buf[used] = '\0';
	*out = buf;
	*len = used;
	buf = NULL;
	rc = CC_OK;
out:
	if (buf != NULL) {
		OPENSSL_cleanse(buf, (size_t)st.st_size);
		free(buf);
	}
	return rc;
}

static int open_for_read(const char *path, int *fd)
{
	*fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (*fd >= 0)
		return CC_OK;
	if (errno == ENOENT) {
		log_error(MOD, "%s: no such file", path);
		return CC_ERR_NOTFOUND;
	}
	log_error(MOD, "%s: %s", path, strerror(errno));
	return errno == EACCES ? CC_ERR_PERM : CC_ERR_IO;
}

int file_read_all(const char *path, size_t max, unsigned char **out, size_t *len)
{
	int fd, rc;

	rc = open_for_read(path, &fd);
	if (rc != CC_OK)
		return rc;
	rc = read_fd_all(fd, path, max, out, len);
	close(fd);
	return rc;
}

static int check_private_fd(int fd, const char *path)
{
	struct stat st;

	if (fstat(fd, &st) != 0) {
		log_error(MOD, "%s: %s", path, strerror(errno));
		return CC_ERR_IO;
	}
	if (st.st_mode & (S_IRWXG | S_IRWXO)) {
		log_error(MOD, "%s: mode %04o lets group or others access a secret; "
		          "refusing to use it (fix: chmod 600 %s)",
		          path, (unsigned)(st.st_mode & 07777), path);
		return CC_ERR_PERM;
	}
	return CC_OK;
}

int file_read_secret(const char *path, size_t max, unsigned char **out, size_t *len)
{
	int fd, rc;

	rc = open_for_read(path, &fd);
	if (rc != CC_OK)
		return rc;
	rc = check_private_fd(fd, path);
	if (rc == CC_OK)
		rc = read_fd_all(fd, path, max, out, len);
	close(fd);
	return rc;
}

void file_free_secret(unsigned char *buf, size_t len)
{
	if (buf == NULL)
		return;
	OPENSSL_cleanse(buf, len);
	free(buf);
}

int file_check_private(const char *path)
{
	struct stat st;

	if (lstat(path, &st) != 0) {
		if (errno == ENOENT)
			return CC_ERR_NOTFOUND;
		log_error(MOD, "%s: %s", path, strerror(errno));
		return CC_ERR_IO;
	}
	if (!S_ISREG(st.st_mode) && !S_ISDIR(st.st_mode)) {
		log_error(MOD, "%s: not a regular file or directory", path);
		return CC_ERR_PERM;
	}
	if (st.st_mode & (S_IRWXG | S_IRWXO)) {
		log_error(MOD, "%s: mode %04o lets group or others in; it must be private "
		          "(fix: chmod %s %s)", path, (unsigned)(st.st_mode & 07777),
		          S_ISDIR(st.st_mode) ? "700" : "600", path);
		return CC_ERR_PERM;
	}
	return CC_OK;
}

static int write_fd_all(int fd, const void *data, size_t len)
{
	const unsigned char *p = data;

	while (len > 0) {
		ssize_t n = write(fd, p, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return CC_ERR_IO;
		p += n;
		len -= (size_t)n;
	}
	return CC_OK;
}

int file_sync_parent_dir(const char *path)
{
	char copy[PATH_MAX];
	int fd, rc = CC_OK;

	if (strlen(path) >= sizeof(copy))
		return CC_ERR_LIMIT;
	memcpy(copy, path, strlen(path) + 1);
	fd = open(dirname(copy), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return CC_ERR_IO;
	if (fsync(fd) != 0)
		rc = CC_ERR_IO;
	close(fd);
	return rc;
}

static int write_and_sync(int fd, const char *path, const void *data, size_t len)
{
	if (write_fd_all(fd, data, len) != CC_OK || fsync(fd) != 0) {
		log_error(MOD, "%s: write failed: %s", path, strerror(errno));
		return CC_ERR_IO;
	}
	return CC_OK;
}

int file_write_new(const char *path, const void *data, size_t len, mode_t mode)
{
	int fd, rc;

	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, mode);
	if (fd < 0) {
		if (errno == EEXIST) {
			log_error(MOD, "%s: exists already; refusing to overwrite", path);
			return CC_ERR_EXISTS;
		}
		log_error(MOD, "%s: %s", path, strerror(errno));
		return CC_ERR_IO;
	}
	/* The umask may have narrowed mode; it never widens it. Set it exactly. */
	if (fchmod(fd, mode) != 0) {
		close(fd);
		unlink(path);
		return CC_ERR_IO;
	}
	rc = write_and_sync(fd, path, data, len);
	close(fd);
	if (rc != CC_OK) {
		unlink(path);
		return rc;
	}
	return file_sync_parent_dir(path);
}

int file_write_atomic(const char *path, const void *data, size_t len, mode_t mode)
{
	char tmp[PATH_MAX];
	int n, fd, rc;

	n = snprintf(tmp, sizeof(tmp), "%s.tmp.%ld", path, (long)getpid());
	if (n < 0 || (size_t)n >= sizeof(tmp))
		return CC_ERR_LIMIT;
	unlink(tmp);
	fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, mode);
	if (fd < 0) {
		log_error(MOD, "%s: %s", tmp, strerror(errno));
		return CC_ERR_IO;
	}
	rc = fchmod(fd, mode) == 0 ? write_and_sync(fd, tmp, data, len) : CC_ERR_IO;
	close(fd);
	if (rc == CC_OK && rename(tmp, path) != 0) {
		log_error(MOD, "%s: rename failed: %s", path, strerror(errno));
		rc = CC_ERR_IO;
	}
	if (rc != CC_OK) {
		unlink(tmp);
		return rc;
	}
	return file_sync_parent_dir(path);
}

int file_mkdirs(const char *dir, mode_t mode)
{
	char path[PATH_MAX];
	size_t len = strlen(dir), i;

	if (len == 0 || len >= sizeof(path))
		return CC_ERR_LIMIT;
	memcpy(path, dir, len + 1);
	for (i = 1; i <= len; i++) {
		if (path[i] != '/' && path[i] != '\0')
			continue;
		path[i] = '\0';
		if (mkdir(path, mode) != 0 && errno != EEXIST) {
			log_error(MOD, "%s: cannot create: %s", path, strerror(errno));
			return CC_ERR_IO;
		}
		path[i] = dir[i];
	}
	return CC_OK;
}

int file_exists(const char *path)
{
	struct stat st;

	return lstat(path, &st) == 0;
}

int file_join(char *out, size_t cap, const char *dir, const char *name)
{
	int n = snprintf(out, cap, "%s/%s", dir, name);

	if (n < 0 || (size_t)n >= cap) {
		log_error(MOD, "path too long under %s", dir);
		return CC_ERR_LIMIT;
	}
	return CC_OK;
}
