/* cmd_fleet.c - the fleet as an operator manages it (fleet/manage.h):
 * `machine move`, `machine decommission`, `machine search`, `user deactivate|activate`.
 * Their rows sit in the machine and user tables (cmd_machine.c, cmd_admin.c). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "common/err.h"
#include "common/log.h"
#include "fleet/inventory.h"
#include "fleet/manage.h"
#include "records/records.h"

#define MOD "cli"

int cli_run_machine_move(struct cli_args *a)
{
	struct store *s = vault_store(a->vault);
	struct store_machine m;
	struct store_org o;
	struct store_site site;
	const char *serial = cli_get(a, "serial");
	int rc;

	if (cli_get(a, "customer") == NULL && cli_get(a, "site") == NULL && !cli_flag(a, "no-site")) {
		log_error(MOD, "say where to: --site X, --customer C [--site X], or --no-site");
		return CC_ERR_INVALID;
	}
	if (cli_get(a, "site") != NULL && cli_flag(a, "no-site")) {
		log_error(MOD, "--site and --no-site exclude each other");
		return CC_ERR_INVALID;
	}
	rc = manage_machine_move(a->vault, serial, cli_get(a, "customer"), cli_get(a, "site"), &m);
	if (rc != CC_OK)
		return rc;
	if (s->ops->org_get(s, m.customer_id, &o) != CC_OK)
		snprintf(o.name, sizeof(o.name), "?");
	if (m.site_id == 0 || s->ops->site_get(s, m.site_id, &site) != CC_OK)
		site.name[0] = '\0';
	if (a->json)
		return cli_print_json(json_pack("{s:s, s:s, s:s?}", "serial", m.serial, "customer", o.name, "site",
		                                site.name[0] ? site.name : NULL));
	printf("moved %s to %s%s%s\n", m.serial, o.name, site.name[0] ? ", site " : "", site.name);
	return CC_OK;
}

int cli_run_machine_decommission(struct cli_args *a)
{
	const char *serial = cli_get(a, "serial");
	int rc;

	if (!cli_flag(a, "yes")) {
		log_error(MOD, "decommissioning '%s' revokes its certificate for good; add --yes to confirm", serial);
		return CC_ERR_INVALID;
	}
	rc = manage_machine_decommission(a->vault, serial);
	if (rc != CC_OK)
		return rc;
	if (a->json)
		return cli_print_json(json_pack("{s:s, s:b, s:b}", "serial", serial, "decommissioned", 1, "revoked", 1));
	printf("decommissioned %s: certificate revoked, data kept until the customer's erasure\n", serial);
	return CC_OK;
}

static int user_active(struct cli_args *a, int active)
{
	int rc = manage_user_set_active(a->vault, cli_get(a, "login"), active);

	if (rc != CC_OK)
		return rc;
	if (a->json)
		return cli_print_json(json_pack("{s:s, s:b}", "login", cli_get(a, "login"), "active", active));
	printf("%s %s\n", active ? "activated" : "deactivated", cli_get(a, "login"));
	return CC_OK;
}

int cli_run_user_deactivate(struct cli_args *a) { return user_active(a, 0); }
int cli_run_user_activate(struct cli_args *a) { return user_active(a, 1); }

/* ---- machine search: the fleet list's filters on the command line ---- */

struct searcher {
	struct cli_args *a;
	const char *version;
	json_t *rows;
	int64_t customer_id;
	char customer[CC_NAME_MAX + 1];
};

static int search_row(void *arg, const struct store_machine_status *row)
{
	struct searcher *l = arg;
	struct store *s = vault_store(l->a->vault);
	struct store_org o;
	char *info = NULL, when[40];
	json_t *doc = NULL;
	const char *sw = NULL;
	const char *status = row->m.decommissioned_ms != 0 ? "decommissioned"
	                     : row->m.revoked_ms != 0 ? "revoked"
	                     : row->has_state && row->st.online ? "online" : "offline";
	int rc = 0;

	if (row->has_state && records_open_info(l->a->vault, &row->m, &row->st, &info) == CC_OK &&
	    (doc = json_loads(info, 0, NULL)) != NULL)
		sw = json_string_value(json_object_get(doc, "sw"));
	if (l->version != NULL && (sw == NULL || strcmp(sw, l->version) != 0))
		goto out;
	if (row->m.customer_id != l->customer_id) {
		l->customer_id = row->m.customer_id;
		snprintf(l->customer, sizeof(l->customer), "%s",
		         s->ops->org_get(s, row->m.customer_id, &o) == CC_OK ? o.name : "?");
	}
	if (l->a->json)
		rc = json_array_append_new(l->rows, json_pack("{s:s, s:s, s:s, s:s?, s:s, s:s?, s:s?}", "serial",
		                           row->m.serial, "model", row->m.model, "customer", l->customer, "site",
		                           row->site[0] ? row->site : NULL, "status", status, "last_seen",
		                           row->has_state ? cli_time(row->st.last_seen_ms, when, sizeof(when)) : NULL,
		                           "software_version", sw)) ? CC_ERR_NOMEM : 0;
	else
		printf("%-24s %-16s %-20s %-16s %-14s %-20s %s\n", row->m.serial, row->m.model, l->customer,
		       row->site[0] ? row->site : "-", status,
		       row->has_state ? cli_time(row->st.last_seen_ms, when, sizeof(when)) : "never", sw ? sw : "-");
out:
	json_decref(doc);
	free(info);
	return rc;
}

int cli_run_machine_search(struct cli_args *a)
{
	static const char *const fields[][2] = { { "status", "status" }, { "model", "model" },
		{ "version", "version" }, { "site", "site" }, { "error", "error" } };
	struct store *s = vault_store(a->vault);
	struct store_machine_filter f;
	struct fleet_query q;
	struct store_group g;
	struct store_org o;
	struct searcher l = { a, NULL, NULL, 0, "" };
	const char *group = cli_get(a, "group");
	char ms[24];
	int64_t t;
	size_t i;
	int rc = CC_OK;

	memset(&f, 0, sizeof(f));
	memset(&q, 0, sizeof(q));
	for (i = 0; i < sizeof(fields) / sizeof(fields[0]); i++) {
		const char *v = cli_get(a, fields[i][0]);

		if (v != NULL && fleet_query_set(&q, fields[i][1], v) != CC_OK) {
			log_error(MOD, "--%s", fleet_query_help(fields[i][1]));
			return CC_ERR_INVALID;
		}
	}
	for (i = 0; i < 2; i++) {
		const char *opt = i == 0 ? "seen-after" : "seen-before", *v = cli_get(a, opt);

		if (v == NULL)
			continue;
		if (cli_parse_time(v, &t) != CC_OK) {
			log_error(MOD, "--%s: epoch ms or YYYY-MM-DD[THH:MM:SS[Z]]", opt);
			return CC_ERR_INVALID;
		}
		snprintf(ms, sizeof(ms), "%lld", (long long)t);
		if (fleet_query_set(&q, i == 0 ? "last_seen_after" : "last_seen_before", ms) != CC_OK) {
			log_error(MOD, "--%s: a time after 1970", opt);
			return CC_ERR_INVALID;
		}
	}
	if (cli_get(a, "sort") != NULL && fleet_sort_parse(cli_get(a, "sort"), &f) != CC_OK) {
		log_error(MOD, "--sort: serial, model, customer, site, last_seen, online or created, a leading - for "
		               "descending, comma-separated (at most 4)");
		return CC_ERR_INVALID;
	}
	if (cli_get(a, "customer") != NULL) {
		rc = inventory_org_find(a->vault, cli_get(a, "customer"), &o);
		if (rc != CC_OK)
			return rc;
		f.customer_id = o.id;
	}
	if (group != NULL) {
		if (f.customer_id == 0) {
			log_error(MOD, "--group names a group of --customer");
			return CC_ERR_INVALID;
		}
		rc = s->ops->group_find(s, f.customer_id, group, &g);
		if (rc == CC_ERR_NOTFOUND)
			log_error(MOD, "customer '%s' has no group named '%s'", cli_get(a, "customer"), group);
		if (rc != CC_OK)
			return rc;
		if (g.filter[0] == '\0')
			f.group_id = g.id;
		else if (fleet_query_from_json(&q, g.filter) != CC_OK)
			return CC_ERR_CORRUPT;
	}
	fleet_query_apply(&q, &f);
	l.version = q.version[0] ? q.version : NULL;
	l.rows = json_array();
	if (l.rows == NULL)
		return CC_ERR_NOMEM;
	if (!a->json)
		printf("%-24s %-16s %-20s %-16s %-14s %-20s %s\n", "SERIAL", "MODEL", "CUSTOMER", "SITE", "STATUS",
		       "LAST SEEN", "SOFTWARE");
	if (!q.contradicts)
		rc = s->ops->machine_status_list(s, &f, search_row, &l);
	if (rc == CC_OK && a->json)
		return cli_print_json(l.rows);
	json_decref(l.rows);
	return rc;
}
