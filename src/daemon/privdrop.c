#include "daemon/privdrop.h"

#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/err.h"
#include "common/log.h"

#define MOD "privdrop"

void privdrop_no_dumps(void)
{
	struct rlimit none = { 0, 0 };

	setrlimit(RLIMIT_CORE, &none);
	prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
}

int privdrop_to(const char *user, const char *data_dir)
{
	struct passwd *pw;
	struct stat st;

	if (geteuid() != 0)
		return CC_OK;
	if (strcmp(user, "root") == 0) {
		log_warn(MOD, "running as root because the configuration says user = root; "
		         "use a service account outside of tests");
		return CC_OK;
	}
	pw = getpwnam(user);
	if (pw == NULL) {
		log_error(MOD, "account '%s' does not exist (create it: useradd --system %s)", user, user);
		return CC_ERR_NOTFOUND;
	}
	if (stat(data_dir, &st) != 0 || st.st_uid != pw->pw_uid) {
		log_error(MOD, "%s is not owned by '%s', the account the daemon runs as "
		          "(fix: chown -R %s %s)", data_dir, user, user, data_dir);
		return CC_ERR_PERM;
	}
	if (setgroups(0, NULL) != 0 || setgid(pw->pw_gid) != 0 || setuid(pw->pw_uid) != 0) {
		log_error(MOD, "cannot switch to '%s': %s", user, strerror(errno));
		return CC_ERR_PERM;
	}
	if (setuid(0) == 0 || geteuid() == 0) {
		log_error(MOD, "root could be regained after switching to '%s'; refusing to run", user);
		return CC_ERR_PERM;
	}
	/* setuid cleared the dumpable flag's effect only partly: set it again. */
	privdrop_no_dumps();
	log_debug(MOD, "running as %s (uid %u)", user, (unsigned)pw->pw_uid);
	return CC_OK;
}

int privdrop_to_owner(const char *path)
{
	struct passwd *pw;
	struct stat st;

	if (geteuid() != 0 || stat(path, &st) != 0 || st.st_uid == 0)
		return CC_OK;
	pw = getpwuid(st.st_uid);
	if (pw == NULL) {
		log_error(MOD, "%s is owned by uid %u, which has no account", path, (unsigned)st.st_uid);
		return CC_ERR_PERM;
	}
	return privdrop_to(pw->pw_name, path);
}
