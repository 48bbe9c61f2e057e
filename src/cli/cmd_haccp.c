/* cmd_haccp.c - `report haccp`: the CLI's twin of GET
 * /api/v1/haccp/cleaning-report (quality/haccp.h, docs/QUALITY.md). The
 * admin CLI sees every site, like `report compliance`; it signs with the
 * installation's key, the one the daemon publishes. */
#define _GNU_SOURCE /* asprintf */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "common/clock.h"
#include "common/err.h"
#include "common/file.h"
#include "common/log.h"
#include "fleet/inventory.h"
#include "quality/compliance.h"
#include "quality/haccp.h"

#define MOD "cli"

struct site_search {
	const char *name;
	struct store_site found;
	int n;
};

static int same_name(void *ctx, const struct store_site *site)
{
	struct site_search *ss = ctx;

	if (strcmp(site->name, ss->name) == 0 && ss->n++ == 0)
		ss->found = *site;
	return 0;
}

static int find_site(struct cli_args *a, struct store_site *site, struct store_org *cust)
{
	struct store *s = vault_store(a->vault);
	const char *name = cli_get(a, "site"), *customer = cli_get(a, "customer");
	struct site_search ss;
	int rc;

	if (name == NULL || !inventory_name_valid(name)) {
		log_error(MOD, "--site: a site's name");
		return CC_ERR_INVALID;
	}
	if (customer != NULL) {
		rc = s->ops->org_find(s, customer, cust);
		if (rc == CC_OK && cust->kind != ORG_CUSTOMER)
			rc = CC_ERR_NOTFOUND;
		if (rc != CC_OK) {
			log_error(MOD, "no customer %s", customer);
			return rc;
		}
		rc = s->ops->site_find(s, cust->id, name, site);
	} else {
		memset(&ss, 0, sizeof(ss));
		ss.name = name;
		rc = s->ops->site_list(s, 0, same_name, &ss);
		if (rc == CC_OK && ss.n > 1) {
			log_error(MOD, "several customers have a site %s: name the customer (--customer)", name);
			return CC_ERR_INVALID;
		}
		if (rc == CC_OK && ss.n == 0)
			rc = CC_ERR_NOTFOUND;
		if (rc == CC_OK) {
			*site = ss.found;
			rc = s->ops->org_get(s, site->customer_id, cust);
		}
	}
	if (rc == CC_ERR_NOTFOUND)
		log_error(MOD, "no site %s", name);
	return rc;
}

/* The report in its format to out (or stdout), and for CSV its signature
 * beside it in OUT.sig (base64, as `base64 -d` reads it). sig: the
 * signature alone (the report is the same bytes every time it is made). */
static int write_out(const char *out, const char *format, const json_t *doc, char **sig_path)
{
	char *text = NULL, *sig = NULL;
	const char *bytes;
	int rc = CC_OK;

	*sig_path = NULL;
	if (strcmp(format, "csv") == 0)
		bytes = json_string_value(json_object_get(doc, "csv"));
	else if (strcmp(format, "sig") == 0 && asprintf(&text, "%s\n", json_string_value(json_object_get(doc, "signature"))) > 0)
		bytes = text;
	else if (strcmp(format, "html") == 0)
		bytes = text = haccp_report_html(doc);
	else
		bytes = text = json_dumps(doc, JSON_INDENT(2));
	if (bytes == NULL)
		return CC_ERR_NOMEM;
	if (out == NULL) {
		fputs(bytes, stdout);
		if (strcmp(format, "json") == 0)
			fputc('\n', stdout);
	} else {
		rc = file_write_atomic(out, bytes, strlen(bytes), 0644);
		if (rc == CC_OK && strcmp(format, "csv") == 0) {
			if (asprintf(sig_path, "%s.sig", out) < 0 ||
			    asprintf(&sig, "%s\n", json_string_value(json_object_get(doc, "signature"))) < 0) {
				*sig_path = NULL;
				rc = CC_ERR_NOMEM;
			} else {
				rc = file_write_atomic(*sig_path, sig, strlen(sig), 0644);
			}
		}
		if (rc != CC_OK)
			log_error(MOD, "--out: %s could not be written", out);
	}
	free(text);
	free(sig);
	return rc;
}

static int run_haccp(struct cli_args *a)
{
	const char *format = cli_get(a, "format") != NULL ? cli_get(a, "format") : "csv", *out = cli_get(a, "out");
	struct store_site site;
	struct store_org cust;
	int64_t now = clock_now_ms(), from, to = now;
	json_t *doc = NULL;
	char *sig_path = NULL;
	int rc;

	if (strcmp(format, "csv") != 0 && strcmp(format, "sig") != 0 && strcmp(format, "json") != 0 &&
	    strcmp(format, "html") != 0) {
		log_error(MOD, "--format: csv, sig, json or html");
		return CC_ERR_INVALID;
	}
	if (cli_get(a, "to") != NULL && cli_parse_time(cli_get(a, "to"), &to) != CC_OK)
		to = -1;
	from = (to < now ? to : now) - 7 * COMPLIANCE_DAY_MS;
	if (to < 0 || (cli_get(a, "from") != NULL && cli_parse_time(cli_get(a, "from"), &from) != CC_OK) ||
	    from < 0 || from >= to || from >= now || to - from > 92 * COMPLIANCE_DAY_MS) {
		log_error(MOD, "--from and --to: a period that starts before now, at most 92 days (epoch ms or "
		               "YYYY-MM-DDTHH:MM:SSZ)");
		return CC_ERR_INVALID;
	}
	rc = find_site(a, &site, &cust);
	if (rc != CC_OK)
		return rc;
	rc = haccp_site_report(a->vault, &cust, &site, from, to, now, &doc);
	if (rc != CC_OK) {
		log_error(MOD, "the cleaning report could not be made: %s", cc_strerror(rc));
		return rc;
	}
	if (a->json && out == NULL) /* the report itself */
		return cli_print_json(doc);
	rc = write_out(out, format, doc, &sig_path);
	if (rc == CC_OK && a->json) {
		rc = cli_print_json(json_pack("{s:s, s:s?, s:s, s:s, s:s, s:I, s:I, s:s}", "out", out, "sig", sig_path,
		                              "format", format, "customer", cust.name, "site", site.name, "records",
		                              (json_int_t)json_array_size(json_object_get(doc, "records")), "missed",
		                              (json_int_t)json_array_size(json_object_get(doc, "missed")), "key_id",
		                              json_string_value(json_object_get(doc, "key_id"))));
	} else if (rc == CC_OK && out != NULL) {
		printf("%s: %zu cleanings, %zu missed, signed by key %.16s...%s%s\n", out,
		       json_array_size(json_object_get(doc, "records")), json_array_size(json_object_get(doc, "missed")),
		       json_string_value(json_object_get(doc, "key_id")), sig_path ? "; signature in " : "",
		       sig_path ? sig_path : "");
	}
	free(sig_path);
	json_decref(doc);
	return rc;
}

/* `report haccp` is a row of the report noun's table (cmd_report.c). */
int cli_run_report_haccp(struct cli_args *a)
{
	return run_haccp(a);
}
