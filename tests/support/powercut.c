/*
 * powercut.c - an LD_PRELOAD library for tests: it keeps, beside each file
 * a process writes under POWERCUT_DIR, the image a power cut would leave of
 * it, so that a test can cut the power after kill -9 (tests/integration/
 * test_power_loss.py, docs/SERVICE.md "Power loss").
 *
 * The model is the one POSIX promises and no more: what reached a file
 * counts only once fsync() or fdatasync() of that file returned; a write
 * not synced since is lost. Each file opened for writing gets a shadow
 * under POWERCUT_SHADOW (same relative path) holding its content when
 * the first process of the test opened it, assumed durable; every write records the byte range it touched, and a
 * sync copies the ranges written since into the shadow and gives it the
 * file's size. After kill -9 the test copies each shadow over its file:
 * what is left is what a machine that lost power at that instant would
 * have on its disk. Syncs through any descriptor of a file cover writes
 * through all of them, as the kernel's do; several processes (the daemon
 * and the simulator, which provisions machines in the same store) share
 * the shadows, each syncing what it wrote. Only files directly in
 * POWERCUT_DIR are followed. SQLite's shared-memory index
 * (-shm) is not data and is left out; the test deletes it, as a reboot
 * loses it.
 *
 * Not product code: built only for the tests, not installed.
 */
#define _GNU_SOURCE
#undef _FORTIFY_SOURCE /* this file defines open() itself */
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <unistd.h>

#define FDS_MAX 65536
#define FILES_MAX 256
#define RANGES_MAX 4096

struct range {
	off_t off;
	size_t len;
};

struct tracked {
	char path[PATH_MAX];   /* the file's */
	char shadow[PATH_MAX]; /* its image after a power cut */
	struct range *ranges;  /* written since the last sync */
	size_t nranges;
	int all;               /* too many ranges: the whole file at the next sync */
};

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static struct tracked files[FILES_MAX];
static size_t nfiles;
static short fd_file[FDS_MAX]; /* 1 + index into files; 0 untracked */

static int (*real_open)(const char *, int, ...);
static int (*real_openat)(int, const char *, int, ...);
static ssize_t (*real_write)(int, const void *, size_t);
static ssize_t (*real_pwrite)(int, const void *, size_t, off_t);
static ssize_t (*real_writev)(int, const struct iovec *, int);
static ssize_t (*real_pwritev)(int, const struct iovec *, int, off_t);
static int (*real_fsync)(int);
static int (*real_fdatasync)(int);
static int (*real_close)(int);

static void resolve(void)
{
	if (real_open != NULL)
		return;
	real_openat = dlsym(RTLD_NEXT, "openat");
	real_write = dlsym(RTLD_NEXT, "write");
	real_pwrite = dlsym(RTLD_NEXT, "pwrite64");
	real_writev = dlsym(RTLD_NEXT, "writev");
	real_pwritev = dlsym(RTLD_NEXT, "pwritev64");
	real_fsync = dlsym(RTLD_NEXT, "fsync");
	real_fdatasync = dlsym(RTLD_NEXT, "fdatasync");
	real_close = dlsym(RTLD_NEXT, "close");
	real_open = dlsym(RTLD_NEXT, "open");
}

__attribute__((constructor)) static void powercut_init(void) { resolve(); }

/* Copies len bytes at off from the file into the shadow (both by path:
 * the process's descriptor may be write-only). */
static void copy_range(const char *from, const char *to, off_t off, size_t len, int whole)
{
	char buf[65536];
	int in = real_openat(AT_FDCWD, from, O_RDONLY | O_CLOEXEC);
	int out = real_openat(AT_FDCWD, to, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
	struct stat st;

	if (in < 0 || out < 0 || fstat(in, &st) != 0)
		goto done;
	if (whole) {
		off = 0;
		len = (size_t)st.st_size;
	}
	while (len > 0) {
		ssize_t n = pread(in, buf, len < sizeof(buf) ? len : sizeof(buf), off);

		if (n <= 0)
			break;
		if (real_pwrite(out, buf, (size_t)n, off) != n)
			break;
		off += n;
		len -= (size_t)n;
	}
	/* A synced file has its size as of the sync. */
	if (ftruncate(out, st.st_size) != 0)
		perror("powercut: ftruncate");
done:
	if (in >= 0)
		real_close(in);
	if (out >= 0)
		real_close(out);
}

static int wanted(const char *path, char shadow[PATH_MAX])
{
	const char *dir = getenv("POWERCUT_DIR"), *sdir = getenv("POWERCUT_SHADOW");
	size_t n, len = strlen(path);

	if (dir == NULL || sdir == NULL)
		return 0;
	n = strlen(dir);
	if (strncmp(path, dir, n) != 0 || path[n] != '/' || strchr(path + n + 1, '/') != NULL)
		return 0;
	if (len > 4 && strcmp(path + len - 4, "-shm") == 0)
		return 0;
	return snprintf(shadow, PATH_MAX, "%s/%s", sdir, path + n + 1) < PATH_MAX;
}

static void track(int fd, const char *path, int flags)
{
	char shadow[PATH_MAX];
	size_t i;

	if (fd < 0 || fd >= FDS_MAX || (flags & (O_WRONLY | O_RDWR)) == 0 || !wanted(path, shadow))
		return;
	pthread_mutex_lock(&lock);
	for (i = 0; i < nfiles && strcmp(files[i].path, path) != 0; i++)
		;
	if (i == nfiles && nfiles < FILES_MAX) {
		struct stat st;

		snprintf(files[i].path, PATH_MAX, "%s", path);
		snprintf(files[i].shadow, PATH_MAX, "%s", shadow);
		files[i].ranges = calloc(RANGES_MAX, sizeof(struct range));
		/* What it holds now came before every process of the test, which
		 * all share the shadows: durable. A later process finds the
		 * shadow made and must not take another's unsynced writes in. */
		if (stat(shadow, &st) != 0)
			copy_range(path, shadow, 0, 0, 1);
		nfiles++;
	}
	if (i < nfiles)
		fd_file[fd] = (short)(i + 1);
	pthread_mutex_unlock(&lock);
}

static void note_write(int fd, off_t off, ssize_t n)
{
	struct tracked *t;

	if (n <= 0 || fd < 0 || fd >= FDS_MAX)
		return;
	pthread_mutex_lock(&lock);
	if (fd_file[fd] != 0) {
		t = &files[fd_file[fd] - 1];
		if (t->nranges > 0 && t->ranges[t->nranges - 1].off + (off_t)t->ranges[t->nranges - 1].len == off)
			t->ranges[t->nranges - 1].len += (size_t)n;
		else if (t->ranges != NULL && t->nranges < RANGES_MAX)
			t->ranges[t->nranges++] = (struct range){ off, (size_t)n };
		else
			t->all = 1;
	}
	pthread_mutex_unlock(&lock);
}

static void note_sync(int fd)
{
	struct tracked *t;

	if (fd < 0 || fd >= FDS_MAX)
		return;
	pthread_mutex_lock(&lock);
	if (fd_file[fd] != 0) {
		t = &files[fd_file[fd] - 1];
		if (t->all || t->nranges == 0)
			copy_range(t->path, t->shadow, 0, 0, 1);
		else
			for (size_t i = 0; i < t->nranges; i++)
				copy_range(t->path, t->shadow, t->ranges[i].off, t->ranges[i].len, 0);
		t->nranges = 0;
		t->all = 0;
	}
	pthread_mutex_unlock(&lock);
}

/* Only absolute paths are followed: the daemon and SQLite open by them. */
static int open_tracked(int dirfd, const char *path, int flags, mode_t mode)
{
	int fd = real_openat(dirfd, path, flags, mode);

	if (fd >= 0 && path[0] == '/')
		track(fd, path, flags);
	return fd;
}

#define MODE_ARG(flags, mode)                                      \
	do {                                                       \
		if ((flags) & (O_CREAT | O_TMPFILE)) {             \
			va_list ap;                                \
			va_start(ap, flags);                       \
			(mode) = (mode_t)va_arg(ap, int);          \
			va_end(ap);                                \
		}                                                  \
	} while (0)

int open(const char *path, int flags, ...)
{
	mode_t mode = 0;

	resolve();
	MODE_ARG(flags, mode);
	return open_tracked(AT_FDCWD, path, flags, mode);
}
int open64(const char *path, int flags, ...) __attribute__((alias("open")));

int openat(int dirfd, const char *path, int flags, ...)
{
	mode_t mode = 0;

	resolve();
	MODE_ARG(flags, mode);
	return open_tracked(dirfd, path, flags, mode);
}
int openat64(int dirfd, const char *path, int flags, ...) __attribute__((alias("openat")));

ssize_t write(int fd, const void *buf, size_t len)
{
	off_t at;
	ssize_t n;

	resolve();
	at = fd >= 0 && fd < FDS_MAX && fd_file[fd] != 0 ? lseek(fd, 0, SEEK_CUR) : -1;
	n = real_write(fd, buf, len);
	if (at >= 0)
		note_write(fd, at, n);
	return n;
}

ssize_t pwrite(int fd, const void *buf, size_t len, off_t off)
{
	ssize_t n;

	resolve();
	n = real_pwrite(fd, buf, len, off);
	note_write(fd, off, n);
	return n;
}
ssize_t pwrite64(int fd, const void *buf, size_t len, off_t off) __attribute__((alias("pwrite")));

ssize_t writev(int fd, const struct iovec *iov, int n)
{
	off_t at;
	ssize_t w;

	resolve();
	at = fd >= 0 && fd < FDS_MAX && fd_file[fd] != 0 ? lseek(fd, 0, SEEK_CUR) : -1;
	w = real_writev(fd, iov, n);
	if (at >= 0)
		note_write(fd, at, w);
	return w;
}

ssize_t pwritev(int fd, const struct iovec *iov, int n, off_t off)
{
	ssize_t w;

	resolve();
	w = real_pwritev(fd, iov, n, off);
	note_write(fd, off, w);
	return w;
}
ssize_t pwritev64(int fd, const struct iovec *iov, int n, off_t off) __attribute__((alias("pwritev")));

int fsync(int fd)
{
	int rc;

	resolve();
	rc = real_fsync(fd);
	if (rc == 0)
		note_sync(fd);
	return rc;
}

int fdatasync(int fd)
{
	int rc;

	resolve();
	rc = real_fdatasync(fd);
	if (rc == 0)
		note_sync(fd);
	return rc;
}

int close(int fd)
{
	resolve();
	if (fd >= 0 && fd < FDS_MAX) {
		pthread_mutex_lock(&lock);
		fd_file[fd] = 0;
		pthread_mutex_unlock(&lock);
	}
	return real_close(fd);
}
