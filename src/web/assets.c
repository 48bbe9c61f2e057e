#include "web/assets.h"

#include <stdio.h>
#include <string.h>

#include "http/server.h"

/* Scripts, styles, data and API calls from this origin only; uPlot sets
 * element sizes through the style attribute (CSSOM), which style-src
 * does not govern, so no 'unsafe-inline' is needed. */
#define WEB_CSP "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; " \
                "connect-src 'self'; font-src 'self'; object-src 'none'; frame-ancestors 'none'; " \
                "base-uri 'none'; form-action 'self'"

const struct web_asset *web_asset_find(const char *path)
{
	const struct web_asset *a;

	for (a = web_assets; a->path != NULL; a++) {
		if (strcmp(a->path, path) == 0)
			return a;
	}
	return NULL;
}

static const char *content_type(const char *path)
{
	const char *dot = strrchr(path, '.');

	if (strcmp(path, "/") == 0)
		return "text/html; charset=utf-8";
	if (dot == NULL)
		return "application/octet-stream";
	if (strcmp(dot, ".mjs") == 0 || strcmp(dot, ".js") == 0)
		return "text/javascript; charset=utf-8";
	if (strcmp(dot, ".css") == 0)
		return "text/css; charset=utf-8";
	if (strcmp(dot, ".json") == 0)
		return "application/json";
	if (strcmp(dot, ".svg") == 0)
		return "image/svg+xml";
	if (strcmp(dot, ".png") == 0)
		return "image/png";
	return "application/octet-stream";
}

int web_serve(struct http_req *r, const char *path)
{
	const struct web_asset *a = web_asset_find(path);
	char etag[64];

	if (a == NULL)
		return 1;
	if (strcmp(a->path, "/") == 0) {
		/* The page names the version of its assets: its ETag is that version. */
		snprintf(etag, sizeof(etag), "\"%s\"", web_assets_version);
		http_reply_file(r, content_type(a->path), a->bytes, a->len, "no-cache", WEB_CSP, etag);
	} else {
		http_reply_file(r, content_type(a->path), a->bytes, a->len, "public, max-age=31536000, immutable",
		                WEB_CSP, NULL);
	}
	return 0;
}
