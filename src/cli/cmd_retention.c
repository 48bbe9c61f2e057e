/* cmd_retention.c - `retention show|set`: how long records are kept, the
 * CLI's twins of GET and POST /api/v1/retention (fleet/retention_terms.h,
 * docs/OPERATIONS.md "Retention"). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "common/err.h"
#include "common/log.h"
#include "fleet/inventory.h"
#include "fleet/retention_terms.h"

#define MOD "cli"

static int everywhere(void *ctx, int64_t org_id)
{
	(void)ctx;
	(void)org_id;
	return 1; /* the admin CLI sees every customer */
}

/* One row: the name, then the days of each kind in the table's order. */
static void print_row(const char *name, json_t *days)
{
	static const char *const columns[] = { "telemetry", "rollups", "events", "reports", "tickets" };

	printf("%-24s", name);
	for (size_t i = 0; i < sizeof(columns) / sizeof(columns[0]); i++) {
		json_t *d = json_object_get(days, columns[i]);

		if (d == NULL)
			printf(" %-10s", "-");
		else if (json_integer_value(d) == 0)
			printf(" %-10s", "erasure");
		else
			printf(" %-10lld", (long long)json_integer_value(d));
	}
	printf("\n");
}

static int run_show(struct cli_args *a)
{
	struct store *s = vault_store(a->vault);
	const char *customer = cli_get(a, "customer");
	int64_t installation[RETAIN_KINDS];
	struct store_org org = { 0 };
	json_t *doc = NULL, *c;
	size_t i;
	int rc;

	if (customer != NULL && (!inventory_name_valid(customer) || s->ops->org_find(s, customer, &org) != CC_OK ||
	                         org.kind != ORG_CUSTOMER)) {
		log_error(MOD, "no such customer");
		return CC_ERR_NOTFOUND;
	}
	rc = retention_installation_days(a->vault, installation);
	if (rc == CC_ERR_NOTFOUND)
		log_error(MOD, "no privacy policy yet: the daemon states the installation's retention when it starts");
	if (rc != CC_OK)
		return rc;
	rc = retention_terms_json(a->vault, installation, org.id, everywhere, NULL, &doc);
	if (rc != CC_OK)
		return rc;
	if (a->json)
		return cli_print_json(doc);
	printf("%-24s %-10s %-10s %-10s %-10s %-10s (days; erasure: kept until the customer is erased)\n", "",
	       "TELEMETRY", "ROLLUPS", "EVENTS", "REPORTS", "TICKETS");
	print_row("installation", json_object_get(doc, "installation"));
	json_array_foreach(json_object_get(doc, "customers"), i, c)
		print_row(json_string_value(json_object_get(c, "customer")), json_object_get(c, "effective"));
	json_decref(doc);
	return CC_OK;
}

static int run_set(struct cli_args *a)
{
	const char *customer = cli_get(a, "customer"), *days_text = cli_get(a, "days");
	enum retention_kind kind;
	char *end = NULL;
	long long days = days_text != NULL ? strtoll(days_text, &end, 10) : -1;
	int rc;

	if (retention_kind_parse(cli_get(a, "kind"), &kind) != CC_OK) {
		log_error(MOD, "--kind: telemetry, rollups, events, reports or tickets");
		return CC_ERR_INVALID;
	}
	if (end == days_text || end == NULL || *end != '\0' || days < 0 || days > RETENTION_DAYS_MAX) {
		log_error(MOD, "--days: 1 to %d (0 removes the customer's term)", RETENTION_DAYS_MAX);
		return CC_ERR_INVALID;
	}
	rc = retention_terms_set(a->vault, customer, kind, days, "cli");
	if (rc == CC_ERR_NOTFOUND)
		log_error(MOD, "no such customer");
	if (rc != CC_OK)
		return rc;
	if (a->json)
		return cli_print_json(json_pack("{s:s, s:s, s:I}", "customer", customer, "kind", retention_kind_name(kind),
		                                "days", (json_int_t)days));
	if (days == 0)
		printf("%s: %s kept as the installation keeps it\n", customer, retention_kind_name(kind));
	else
		printf("%s: %s kept %lld days at most\n", customer, retention_kind_name(kind), days);
	return CC_OK;
}

const struct cli_cmd cli_retention_cmds[] = {
	{ "retention", "show", "how long each kind of record is kept: the installation's days and customers' shorter "
	                       "terms", NULL, 1,
	  { { "customer", "C", "that customer's, agreed or not", 0 }, CLI_END_OPTS }, run_show },
	{ "retention", "set", "agree a shorter retention with a customer (the sweep deletes by the shorter of the "
	                      "two)", NULL, 1,
	  { { "customer", "C", "the customer", 1 }, { "kind", "K", "telemetry, rollups, events, reports or tickets", 1 },
	    { "days", "N", "1 to 36500; 0 removes the term", 1 }, CLI_END_OPTS },
	  run_set },
	CLI_END_CMDS,
};
