/*
 * assets.h - the dashboard's files, compiled into the daemon
 * (cmake/embed_web.cmake from share/web and web/package-lock.json's
 * libraries) and served on the HTTPS listener beside the API, outside its
 * route table: the dashboard is a client of the public API and has no
 * other way in (docs/DASHBOARD.md).
 *
 * GET / is the page (no-cache: a new daemon is seen at once); everything
 * else is /assets/VERSION/NAME, VERSION a hash of every file, cached for a
 * year as immutable. Each answer carries a Content-Security-Policy that
 * allows this origin's scripts, styles and API only: no inline script, no
 * third party, no framing.
 */
#ifndef CC_WEB_ASSETS_H
#define CC_WEB_ASSETS_H

#include <stddef.h>

struct http_req;

struct web_asset {
	const char *path;  /* "/" or "/assets/VERSION/NAME" */
	const char *bytes;
	size_t len;
};

/* The generated table (NULL-path terminated) and its version. */
extern const struct web_asset web_assets[];
extern const char web_assets_version[];

/* The asset served at path, or NULL. */
const struct web_asset *web_asset_find(const char *path);

/* For http_server_opts.files: answers a GET for an asset (0), or returns
 * nonzero for any other path. */
int web_serve(struct http_req *r, const char *path);

#endif
