/* site_map.c - GET /api/v1/site-locations: the sites of the machines the
 * caller sees, with their coarse position (hundredths of a degree, as
 * stored) and how many of those machines are there, for the dashboard's
 * map. The machines are the fleet list's: the caller's scope (a
 * subcontractor's grants), customers that consented to the route's purpose
 * (api_report_scope); a site is named only through a machine the caller
 * may see, so no other customer's site is ever revealed. */
#include "api/internal.h"

#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "quality/compliance.h"

struct site_count {
	int64_t id;
	size_t machines;
	const struct compliance_target *first; /* its customer's and site's names */
};

static int by_site(const void *x, const void *y)
{
	const struct compliance_target *a = *(const struct compliance_target *const *)x;
	const struct compliance_target *b = *(const struct compliance_target *const *)y;

	return a->m.site_id < b->m.site_id ? -1 : a->m.site_id > b->m.site_id;
}

/* One entry per site among the machines, counted, by site id (sorted, not
 * searched: a fleet of 10,000 machines at 1,000 sites). *n: how many. */
static struct site_count *count_sites(const struct api_report_scope *sc, size_t *n)
{
	const struct compliance_target **placed = calloc(sc->n ? sc->n : 1, sizeof(*placed));
	struct site_count *sites = calloc(sc->n ? sc->n : 1, sizeof(*sites));
	size_t i, m = 0, used = 0;

	if (placed == NULL || sites == NULL) {
		free(placed);
		free(sites);
		return NULL;
	}
	for (i = 0; i < sc->n; i++)
		if (sc->machines[i].m.site_id != 0 && sc->machines[i].site[0] != '\0')
			placed[m++] = &sc->machines[i];
	qsort(placed, m, sizeof(*placed), by_site);
	for (i = 0; i < m; i++) {
		if (used == 0 || sites[used - 1].id != placed[i]->m.site_id) {
			sites[used].id = placed[i]->m.site_id;
			sites[used].first = placed[i];
			used++;
		}
		sites[used - 1].machines++;
	}
	free(placed);
	*n = used;
	return sites;
}

void api_site_locations(struct http_req *r)
{
	struct api *a = http_app(r);
	struct store *st = vault_store(a->vault);
	struct caller *s = api_caller(r);
	struct api_report_scope sc = { 0 };
	struct site_count *sites = NULL;
	struct store_site site;
	json_t *doc = NULL, *list;
	size_t n = 0, i;

	if (s == NULL || api_report_scope(r, s, "customer", &sc) != CC_OK)
		goto out;
	sites = count_sites(&sc, &n);
	doc = json_pack("{s:[], s:I}", "sites", "excluded_without_consent", (json_int_t)sc.excluded);
	if (sites == NULL || doc == NULL) {
		http_reply_error(r, 500, "internal", "out of memory");
		goto out;
	}
	list = json_object_get(doc, "sites");
	for (i = 0; i < n; i++) {
		json_t *x;

		if (st->ops->site_get(st, sites[i].id, &site) != CC_OK) {
			http_reply_error(r, 500, "internal", "the sites could not be read");
			goto out;
		}
		x = json_pack("{s:I, s:s, s:s, s:I}", "id", (json_int_t)site.id, "customer", sites[i].first->customer,
		              "name", site.name, "machines", (json_int_t)sites[i].machines);
		if (x != NULL && site.has_position) {
			json_object_set_new(x, "lat", json_real((double)site.lat_e2 / 100.0));
			json_object_set_new(x, "lon", json_real((double)site.lon_e2 / 100.0));
		}
		if (x == NULL || json_array_append_new(list, x) != 0) {
			http_reply_error(r, 500, "internal", "out of memory");
			goto out;
		}
	}
	if (api_audit_access(r, s, "sites.locations", NULL, "ok") != CC_OK)
		goto out;
	http_reply_json(r, 200, doc);
	doc = NULL;
out:
	json_decref(doc);
	free(sites);
	api_report_scope_free(&sc);
}
