/* netaddr.h - "host:port" and "[v6]:port" listener addresses. */
#ifndef CC_DAEMON_NETADDR_H
#define CC_DAEMON_NETADDR_H

#include <sys/socket.h>

struct netaddr {
	struct sockaddr_storage ss;
	socklen_t len;
};

/* Parses a numeric address and port (no name lookups). 0 or CC_ERR_INVALID. */
int netaddr_parse(const char *text, struct netaddr *out);

/* 1 for 127.0.0.0/8 and ::1. */
int netaddr_is_loopback(const struct netaddr *a);

/* The address (no port) as text, for logs and per-address limits. */
void netaddr_host(const struct sockaddr *sa, char *out, size_t cap);

#endif
