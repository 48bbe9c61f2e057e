/*
 * fuzz_http.c - the request target of an HTTP request: libevent's URI
 * parser, then our path splitting and route matching against the real API
 * route table, for every method.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "api/api.h"
#include "common/log.h"
#include "http/server.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const enum evhttp_cmd_type methods[] = { EVHTTP_REQ_GET, EVHTTP_REQ_POST, EVHTTP_REQ_DELETE };
	const struct http_route *route;
	char *uri;
	size_t i;

	log_set_level(LOG_LEVEL_SILENT);
	if (size > 8192)
		return 0;
	uri = malloc(size + 1);
	if (uri == NULL)
		return 0;
	memcpy(uri, data, size);
	uri[size] = '\0';
	for (i = 0; i < sizeof(methods) / sizeof(methods[0]); i++) {
		route = NULL;
		if (http_resolve(api_routes(), methods[i], uri, &route) == 0 && route == NULL)
			abort(); /* a match must name its route */
	}
	free(uri);
	return 0;
}
