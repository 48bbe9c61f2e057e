/* cmd_diagnostics.c - `diagnostics request|list|show|download`: diagnostics
 * bundles (fleet/diagnostics.h), the twins of /api/v1/.../diagnostics. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "cli/table.h"
#include "common/err.h"
#include "common/log.h"
#include "fleet/diagnostics.h"
#include "fleet/inventory.h"

#define MOD "cli"

static int parse_id(const char *text, int64_t *id)
{
	char *end;
	long long v = text != NULL ? strtoll(text, &end, 10) : 0;

	if (text == NULL || end == text || *end != '\0' || v <= 0) {
		log_error(MOD, "a bundle id is a positive number");
		return CC_ERR_INVALID;
	}
	*id = v;
	return CC_OK;
}

static void table_row(struct cli_table *t, const json_t *doc)
{
	char received[24], id[24];
#define S(k) json_string_value(json_object_get(doc, k))
	snprintf(id, sizeof(id), "%lld", (long long)json_integer_value(json_object_get(doc, "id")));
	snprintf(received, sizeof(received), "%lld", (long long)json_integer_value(json_object_get(doc, "received")));
	cli_table_add(t, id, S("serial"), S("state"), S("requested"), S("requested_by"), received,
	              S("reason") ? S("reason") : S("sha256"));
#undef S
}

static const char *const headers[] = { "ID", "SERIAL", "STATE", "REQUESTED", "BY", "BYTES", "SHA256/REASON", NULL };

static int print_one(struct cli_args *a, json_t *doc)
{
	struct cli_table *t;

	if (doc == NULL)
		return CC_ERR_NOMEM;
	if (a->json)
		return cli_print_json(doc);
	t = cli_table_new(headers);
	if (t == NULL) {
		json_decref(doc);
		return CC_ERR_NOMEM;
	}
	table_row(t, doc);
	json_decref(doc);
	return cli_table_print(t);
}

static int run_request(struct cli_args *a)
{
	struct store_machine m;
	struct store_diag d;
	const char *limit = cli_get(a, "max-bytes");
	char actor[CC_NAME_MAX + 8];
	int64_t max = DIAG_MAX_BYTES_DEFAULT;
	int rc = inventory_machine_find(a->vault, cli_get(a, "serial"), &m);

	if (rc != CC_OK)
		return rc;
	if (limit != NULL && (parse_id(limit, &max) != CC_OK || max < 1024)) {
		log_error(MOD, "--max-bytes: at least 1024");
		return CC_ERR_INVALID;
	}
	if (m.revoked_ms != 0 || m.decommissioned_ms != 0) {
		log_error(MOD, "machine '%s' is not in service", m.serial);
		return CC_ERR_STATE;
	}
	cli_actor(actor, sizeof(actor));
	rc = diagnostics_request(a->vault, &m, actor, max, &d);
	if (rc != CC_OK)
		return rc;
	if (!a->json)
		printf("asked %s for diagnostics bundle %lld (job %lld): it uploads when it gets the command\n", m.serial,
		       (long long)d.id, (long long)d.job_id);
	return print_one(a, diagnostics_json(&d, m.serial));
}

struct rows {
	json_t *rows;
	struct cli_table *table;
	const char *serial;
};

static int list_one(void *ctx, const struct store_diag *d)
{
	struct rows *l = ctx;
	json_t *doc = diagnostics_json(d, l->serial);

	if (doc == NULL)
		return CC_ERR_NOMEM;
	table_row(l->table, doc);
	return json_array_append_new(l->rows, doc) == 0 ? 0 : CC_ERR_NOMEM;
}

static int run_list(struct cli_args *a)
{
	struct store *s = vault_store(a->vault);
	struct store_machine m;
	struct rows l = { json_array(), cli_table_new(headers), NULL };
	int rc = inventory_machine_find(a->vault, cli_get(a, "serial"), &m);

	if (rc == CC_OK && (l.rows == NULL || l.table == NULL))
		rc = CC_ERR_NOMEM;
	l.serial = m.serial;
	if (rc == CC_OK)
		rc = s->ops->diagnostics->list(s, m.id, 1000, list_one, &l);
	return cli_list_done(a, rc, l.rows, l.table);
}

static int find(struct cli_args *a, struct store_diag *d, struct store_machine *m)
{
	struct store *s = vault_store(a->vault);
	int64_t id;
	int rc = parse_id(cli_get(a, "id"), &id);

	if (rc == CC_OK)
		rc = s->ops->diagnostics->get(s, id, d);
	if (rc == CC_OK)
		rc = s->ops->machine_get(s, d->machine_id, m);
	if (rc == CC_ERR_NOTFOUND)
		log_error(MOD, "no such diagnostics bundle: %s", cli_get(a, "id"));
	return rc;
}

static int run_show(struct cli_args *a)
{
	struct store_diag d;
	struct store_machine m;
	int rc = find(a, &d, &m);

	return rc == CC_OK ? print_one(a, diagnostics_json(&d, m.serial)) : rc;
}

static int write_all(int fd, const uint8_t *p, size_t len)
{
	while (len > 0) {
		ssize_t n = write(fd, p, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return CC_ERR_IO;
		p += n;
		len -= (size_t)n;
	}
	return CC_OK;
}

/* Unsealed a chunk at a time into the file: never more than one in memory. */
static int run_download(struct cli_args *a)
{
	struct store_diag d;
	struct store_machine m;
	const char *out = cli_get(a, "out");
	int64_t at = 0, off = 0;
	int fd = -1, rc = find(a, &d, &m);

	if (rc != CC_OK)
		return rc;
	if (d.state != DIAG_COMPLETE) {
		log_error(MOD, "bundle %lld is %s, not complete", (long long)d.id, diagnostics_state_name(d.state));
		return CC_ERR_STATE;
	}
	fd = open(out, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0) {
		log_error(MOD, "%s: %s (an existing file is not overwritten)", out, strerror(errno));
		return errno == EEXIST ? CC_ERR_EXISTS : CC_ERR_IO;
	}
	while (rc == CC_OK && at < d.received) {
		uint8_t *pt = NULL;
		size_t len = 0;

		rc = diagnostics_chunk(a->vault, &d, m.serial, at, &off, &pt, &len);
		if (rc == CC_OK && (off != at || len == 0))
			rc = CC_ERR_CORRUPT;
		if (rc == CC_OK)
			rc = write_all(fd, pt, len);
		at += (int64_t)len;
		free(pt);
	}
	if (rc == CC_OK && fsync(fd) != 0)
		rc = CC_ERR_IO;
	if (close(fd) != 0 && rc == CC_OK)
		rc = CC_ERR_IO;
	if (rc != CC_OK) {
		unlink(out);
		log_error(MOD, "bundle %lld could not be read (%s): nothing written", (long long)d.id, cc_strerror(rc));
		return rc;
	}
	if (a->json)
		return cli_print_json(json_pack("{s:I, s:s, s:I, s:s, s:s}", "id", (json_int_t)d.id, "serial", m.serial,
		                                "bytes", (json_int_t)d.received, "sha256", d.sha256, "out", out));
	printf("bundle %lld of %s: %lld bytes written to %s (SHA-256 %s)\n", (long long)d.id, m.serial,
	       (long long)d.received, out, d.sha256);
	return CC_OK;
}

const struct cli_cmd cli_diagnostics_cmds[] = {
	{ "diagnostics", "request", "ask a machine for a diagnostics bundle (the diagnostics command; it uploads "
	  "over HTTPS with its certificate)", "serial", 1,
	  { { "serial", "S", "the machine", 1 },
	    { "max-bytes", "N", "the largest bundle it may upload (default 16777216)", 0 },
	    CLI_END_OPTS },
	  run_request },
	{ "diagnostics", "list", "a machine's diagnostics bundles, newest first, with their state", "serial", 1,
	  { { "serial", "S", "the machine", 1 }, CLI_END_OPTS }, run_list },
	{ "diagnostics", "show", "one diagnostics bundle: state, size, SHA-256, why it failed", "id", 1,
	  { { "id", "ID", "the bundle", 1 }, CLI_END_OPTS }, run_show },
	{ "diagnostics", "download", "write a complete bundle to a file, unsealed", "id", 1,
	  { { "id", "ID", "the bundle", 1 }, { "out", "FILE", "where to write it (not overwritten)", 1 }, CLI_END_OPTS },
	  run_download },
	CLI_END_CMDS,
};
