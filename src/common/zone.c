#include "common/zone.h"

#include <ctype.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/limits.h"

static pthread_mutex_t zone_lock = PTHREAD_MUTEX_INITIALIZER;

void zone_init(void)
{
	setenv("TZ", "UTC", 0);
	tzset();
}

int zone_valid(const char *name)
{
	char path[sizeof(ZONE_INFO_DIR) + CC_TIMEZONE_MAX + 2];
	const char *seg;
	char magic[4];
	struct stat sb;
	size_t n = strlen(name), i;
	int fd, ok;

	if (strcmp(name, "UTC") == 0)
		return 1;
	if (n == 0 || n > CC_TIMEZONE_MAX || name[0] == '/' || name[n - 1] == '/')
		return 0;
	for (i = 0; i < n; i++)
		if (!isalnum((unsigned char)name[i]) && strchr("_+-/", name[i]) == NULL)
			return 0;
	/* Every segment starts with a letter or digit: no "..", no "//", no hidden files. */
	for (seg = name; seg != NULL; seg = strchr(seg, '/') ? strchr(seg, '/') + 1 : NULL)
		if (!isalnum((unsigned char)seg[0]))
			return 0;
	snprintf(path, sizeof(path), "%s/%s", ZONE_INFO_DIR, name);
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
	if (fd < 0)
		return 0;
	ok = fstat(fd, &sb) == 0 && S_ISREG(sb.st_mode) && read(fd, magic, 4) == 4 && memcmp(magic, "TZif", 4) == 0;
	close(fd);
	return ok;
}

int zone_run(const char *zone, int (*convert)(void *ctx), void *ctx)
{
	char saved[CC_TIMEZONE_MAX + 2] = "";
	const char *cur;
	int had, rc;

	if (!zone_valid(zone))
		zone = "UTC";
	pthread_mutex_lock(&zone_lock);
	cur = getenv("TZ");
	had = cur != NULL;
	if (had)
		snprintf(saved, sizeof(saved), "%s", cur);
	setenv("TZ", zone, 1);
	tzset();
	rc = convert(ctx);
	if (had)
		setenv("TZ", saved, 1);
	else
		unsetenv("TZ");
	tzset();
	pthread_mutex_unlock(&zone_lock);
	return rc;
}

struct one {
	time_t t;
	struct tm *out;
};

static int one_localtime(void *ctx)
{
	struct one *o = ctx;

	localtime_r(&o->t, o->out);
	return 0;
}

void zone_localtime(const char *zone, time_t t, struct tm *out)
{
	struct one o = { t, out };

	zone_run(zone, one_localtime, &o);
}
