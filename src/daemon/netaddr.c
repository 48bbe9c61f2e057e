#include "daemon/netaddr.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"

int netaddr_parse(const char *text, struct netaddr *out)
{
	char host[64];
	const char *colon, *h = text;
	size_t hlen;
	char *end;
	long port;

	memset(out, 0, sizeof(*out));
	if (text[0] == '[') {
		const char *close = strchr(text, ']');

		if (close == NULL || close[1] != ':')
			return CC_ERR_INVALID;
		h = text + 1;
		hlen = (size_t)(close - h);
		colon = close + 1;
	} else {
		colon = strrchr(text, ':');
		if (colon == NULL)
			return CC_ERR_INVALID;
		hlen = (size_t)(colon - text);
	}
	if (hlen == 0 || hlen >= sizeof(host))
		return CC_ERR_INVALID;
	memcpy(host, h, hlen);
	host[hlen] = '\0';
	errno = 0;
	port = strtol(colon + 1, &end, 10);
	if (errno != 0 || end == colon + 1 || *end != '\0' || port < 0 || port > 65535)
		return CC_ERR_INVALID;
	{
		struct sockaddr_in *v4 = (struct sockaddr_in *)&out->ss;
		struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)&out->ss;

		if (inet_pton(AF_INET, host, &v4->sin_addr) == 1) {
			v4->sin_family = AF_INET;
			v4->sin_port = htons((uint16_t)port);
			out->len = sizeof(*v4);
			return CC_OK;
		}
		if (inet_pton(AF_INET6, host, &v6->sin6_addr) == 1) {
			v6->sin6_family = AF_INET6;
			v6->sin6_port = htons((uint16_t)port);
			out->len = sizeof(*v6);
			return CC_OK;
		}
	}
	return CC_ERR_INVALID;
}

int netaddr_is_loopback(const struct netaddr *a)
{
	if (a->ss.ss_family == AF_INET)
		return (ntohl(((const struct sockaddr_in *)&a->ss)->sin_addr.s_addr) >> 24) == 127;
	if (a->ss.ss_family == AF_INET6)
		return IN6_IS_ADDR_LOOPBACK(&((const struct sockaddr_in6 *)&a->ss)->sin6_addr);
	return 0;
}

void netaddr_host(const struct sockaddr *sa, char *out, size_t cap)
{
	const void *addr = sa->sa_family == AF_INET6 ? (const void *)&((const struct sockaddr_in6 *)sa)->sin6_addr
	                                             : (const void *)&((const struct sockaddr_in *)sa)->sin_addr;

	if (cap == 0)
		return;
	if (inet_ntop(sa->sa_family, addr, out, (socklen_t)cap) == NULL)
		out[0] = '\0';
}
