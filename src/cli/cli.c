#define _GNU_SOURCE /* strptime, timegm */
#include "cli/cli.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <string.h>

#include "common/clock.h"
#include "common/err.h"
#include "common/log.h"
#include "store/store.h"

const char *cli_get(const struct cli_args *a, const char *name)
{
	int i;

	for (i = 0; i < CLI_OPTS_MAX && a->cmd->opts[i].name != NULL; i++)
		if (strcmp(a->cmd->opts[i].name, name) == 0)
			return a->values[i];
	return NULL;
}

int cli_flag(const struct cli_args *a, const char *name)
{
	return cli_get(a, name) != NULL;
}

int cli_exit_code(int err)
{
	switch (err) {
	case CC_OK: return EXIT_OK;
	case CC_ERR_INVALID: return EXIT_USAGE;
	case CC_ERR_NOTFOUND: return EXIT_NOTFOUND;
	case CC_ERR_EXISTS: return EXIT_EXISTS;
	case CC_ERR_PERM: return EXIT_PERM;
	case CC_ERR_AUTH: return EXIT_KEY;
	case CC_ERR_CORRUPT: return EXIT_CORRUPT;
	default: return EXIT_FAILURE_;
	}
}

static int printed_json;

int cli_printed_json(void) { return printed_json; }

int cli_print_json(json_t *doc)
{
	int rc;

	if (doc == NULL)
		return CC_ERR_NOMEM;
	printed_json = 1;
	/* 15 significant digits: numbers print as they were typed (93.4, not 93.400000000000006). */
	rc = json_dumpf(doc, stdout, JSON_INDENT(2) | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(15)) == 0 ? CC_OK
	                                                                                                  : CC_ERR_IO;
	fputc('\n', stdout);
	json_decref(doc);
	return rc;
}

const char *cli_time(int64_t ms, char *buf, size_t cap)
{
	if (ms == 0)
		return "-";
	clock_format_iso(ms, buf, cap);
	return buf;
}

int cli_read_line_stdin(char *out, size_t cap)
{
	size_t len;

	if (fgets(out, (int)cap, stdin) == NULL)
		return CC_ERR_INVALID;
	len = strlen(out);
	if (len > 0 && out[len - 1] == '\n')
		out[--len] = '\0';
	else if (!feof(stdin))
		return CC_ERR_LIMIT;
	if (len > 0 && out[len - 1] == '\r')
		out[--len] = '\0';
	return CC_OK;
}

int cli_parse_time(const char *text, int64_t *out)
{
	struct tm tm;
	char *end;
	long long v;

	errno = 0;
	v = strtoll(text, &end, 10);
	if (errno == 0 && end != text && *end == '\0' && v >= 0) {
		*out = v;
		return CC_OK;
	}
	memset(&tm, 0, sizeof(tm));
	end = strptime(text, "%Y-%m-%dT%H:%M:%S", &tm);
	if (end == NULL || (*end != '\0' && strcmp(end, "Z") != 0)) {
		memset(&tm, 0, sizeof(tm));
		end = strptime(text, "%Y-%m-%d", &tm);
		if (end == NULL || *end != '\0') {
			log_error("cli", "'%s' is not a time: use epoch milliseconds or YYYY-MM-DDTHH:MM:SSZ", text);
			return CC_ERR_INVALID;
		}
	}
	*out = (int64_t)timegm(&tm) * 1000;
	return CC_OK;
}

int cli_report_scope(const struct cli_args *a, struct store_machine_filter *f)
{
	struct store *s = vault_store(a->vault);
	const char *customer = cli_get(a, "customer");
	struct store_org org;
	int rc;

	if (customer != NULL) {
		rc = s->ops->org_find(s, customer, &org);
		if (rc == CC_OK && org.kind != ORG_CUSTOMER)
			rc = CC_ERR_NOTFOUND;
		if (rc != CC_OK) {
			fprintf(stderr, "coffeecloud: no customer %s\n", customer);
			return rc;
		}
		f->customer_id = org.id;
	}
	f->site = cli_get(a, "site");
	return CC_OK;
}
