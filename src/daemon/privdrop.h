/*
 * privdrop.h - leaving root behind.
 *
 * Started as root, the daemon switches for good to the configured account,
 * which must own the data directory, and proves it cannot switch back.
 * `user = root` keeps root, with a warning: for throwaway test setups only.
 */
#ifndef CC_DAEMON_PRIVDROP_H
#define CC_DAEMON_PRIVDROP_H

/* No-op when not root. CC_ERR_NOTFOUND for an unknown account, CC_ERR_PERM
 * when the account does not own data_dir or root cannot be given up. */
int privdrop_to(const char *user, const char *data_dir);

/* For the CLI: when root works on a data directory owned by a service
 * account, become that account, so every file stays the account's. */
int privdrop_to_owner(const char *path);

/* No core dumps, no ptrace by others: keys and refused payloads stay in memory only. */
void privdrop_no_dumps(void);

#endif
