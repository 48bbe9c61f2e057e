/* cmd_machine.c - `machine add|revoke|list|show`: provisioning and inventory. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli/cli.h"
#include "common/err.h"
#include "common/file.h"
#include "common/limits.h"
#include "common/log.h"
#include "crypto/ca.h"
#include "fleet/commands.h"
#include "fleet/inventory.h"

#define MOD "cli"

struct bundle_out {
	const char *dir;
	char cert[VAULT_PATH_MAX], key[VAULT_PATH_MAX], ca[VAULT_PATH_MAX];
	int wrote_key;
};

/* Writes the bundle before the machine is committed: if a file cannot be
 * written, the machine is not registered and nothing is left half-made. */
static int deliver_bundle(void *arg, const struct machine_bundle *b)
{
	struct bundle_out *o = arg;
	int rc;

	rc = file_mkdirs(o->dir, 0700);
	if (rc != CC_OK)
		return rc;
	rc = file_write_new(o->cert, b->cert_pem, strlen(b->cert_pem), 0644);
	if (rc != CC_OK)
		return rc;
	if (b->key_pem != NULL) {
		rc = file_write_new(o->key, b->key_pem, strlen(b->key_pem), 0600);
		o->wrote_key = rc == CC_OK;
	}
	if (rc == CC_OK)
		rc = file_write_new(o->ca, b->ca_pem, strlen(b->ca_pem), 0644);
	if (rc != CC_OK) {
		unlink(o->cert);
		if (o->wrote_key)
			unlink(o->key);
	}
	return rc;
}

static int run_machine_add(struct cli_args *a)
{
	struct bundle_out o;
	unsigned char *csr = NULL;
	size_t csr_len = 0;
	const char *csr_file = cli_get(a, "csr");
	int rc;

	memset(&o, 0, sizeof(o));
	o.dir = cli_get(a, "out");
	if (file_join(o.cert, sizeof(o.cert), o.dir, "machine.crt") != CC_OK ||
	    file_join(o.key, sizeof(o.key), o.dir, "machine.key") != CC_OK ||
	    file_join(o.ca, sizeof(o.ca), o.dir, "ca.crt") != CC_OK)
		return CC_ERR_LIMIT;
	if (csr_file != NULL) {
		rc = file_read_all(csr_file, CA_CSR_MAX, &csr, &csr_len);
		if (rc != CC_OK)
			return rc;
	}
	rc = inventory_machine_add(a->vault, cli_get(a, "serial"), cli_get(a, "model"),
	                           cli_get(a, "customer"), cli_get(a, "site"), (const char *)csr,
	                           deliver_bundle, &o);
	free(csr);
	if (rc != CC_OK)
		return rc;
	if (a->json)
		return cli_print_json(json_pack("{s:s, s:s, s:s?, s:s?, s:s}", "serial", cli_get(a, "serial"),
		                                "certificate", o.cert, "key", o.wrote_key ? o.key : NULL,
		                                "site", cli_get(a, "site"), "ca", o.ca));
	printf("provisioned %s: %s%s%s, %s\n", cli_get(a, "serial"), o.cert, o.wrote_key ? ", " : "",
	       o.wrote_key ? o.key : "", o.ca);
	return CC_OK;
}

static int run_machine_revoke(struct cli_args *a)
{
	int rc = inventory_machine_revoke(a->vault, cli_get(a, "serial"));

	if (rc != CC_OK)
		return rc;
	if (a->json)
		return cli_print_json(json_pack("{s:s, s:b, s:s}", "serial", cli_get(a, "serial"),
		                                "revoked", 1, "crl", vault_path(a->vault, VAULT_CRL)));
	printf("revoked %s; CRL updated: %s\n", cli_get(a, "serial"), vault_path(a->vault, VAULT_CRL));
	return CC_OK;
}

static json_t *machine_json(struct store *s, const struct store_machine *m)
{
	struct store_org cust;
	struct store_site site;
	const char *site_name = NULL;
	char created[40], revoked[40];

	if (s->ops->org_get(s, m->customer_id, &cust) != CC_OK)
		snprintf(cust.name, sizeof(cust.name), "?");
	if (m->site_id != 0 && s->ops->site_get(s, m->site_id, &site) == CC_OK)
		site_name = site.name;
	return json_pack("{s:s, s:s, s:s, s:s?, s:s, s:s, s:b, s:s?}", "serial", m->serial, "model",
	                 m->model, "customer", cust.name, "site", site_name, "cert_sha256",
	                 m->cert_fingerprint, "created", cli_time(m->created_ms, created, sizeof(created)),
	                 "revoked", m->revoked_ms != 0,
	                 "revoked_at", m->revoked_ms ? cli_time(m->revoked_ms, revoked, sizeof(revoked)) : NULL);
}

struct machine_lister {
	struct cli_args *a;
	struct store *s;
	json_t *rows;
};

static int list_machine(void *arg, const struct store_machine *m)
{
	struct machine_lister *l = arg;
	struct store_org cust;
	char created[40];

	if (l->a->json)
		return json_array_append_new(l->rows, machine_json(l->s, m)) ? CC_ERR_NOMEM : 0;
	if (l->s->ops->org_get(l->s, m->customer_id, &cust) != CC_OK)
		snprintf(cust.name, sizeof(cust.name), "?");
	printf("%-24s %-16s %-20s %-8s %s\n", m->serial, m->model, cust.name,
	       m->revoked_ms ? "REVOKED" : "valid", cli_time(m->created_ms, created, sizeof(created)));
	return 0;
}

static int run_machine_list(struct cli_args *a)
{
	struct machine_lister l = { a, vault_store(a->vault), json_array() };
	const char *customer = cli_get(a, "customer");
	struct store_org o = { 0 };
	int rc = CC_OK;

	if (l.rows == NULL)
		return CC_ERR_NOMEM;
	if (customer != NULL)
		rc = inventory_org_find(a->vault, customer, &o);
	if (rc == CC_OK && !a->json)
		printf("%-24s %-16s %-20s %-8s %s\n", "SERIAL", "MODEL", "CUSTOMER", "CERT", "CREATED");
	if (rc == CC_OK)
		rc = l.s->ops->machine_list(l.s, o.id, list_machine, &l);
	if (rc == CC_OK && a->json)
		return cli_print_json(l.rows);
	json_decref(l.rows);
	return rc;
}

static int run_machine_show(struct cli_args *a)
{
	struct store *s = vault_store(a->vault);
	struct store_machine m;
	json_t *doc;
	int rc = inventory_machine_find(a->vault, cli_get(a, "serial"), &m);

	if (rc != CC_OK)
		return rc;
	doc = machine_json(s, &m);
	if (a->json)
		return cli_print_json(doc);
	if (doc == NULL)
		return CC_ERR_NOMEM;
	{
		const char *key;
		json_t *value;

		json_object_foreach(doc, key, value) {
			if (json_is_string(value))
				printf("%-12s %s\n", key, json_string_value(value));
			else if (json_is_boolean(value))
				printf("%-12s %s\n", key, json_is_true(value) ? "yes" : "no");
		}
	}
	json_decref(doc);
	return CC_OK;
}

static int run_machine_command(struct cli_args *a)
{
	int64_t id = 0;
	int rc = commands_send(a->vault, cli_get(a, "serial"), cli_get(a, "name"), cli_get(a, "body"), &id);

	if (rc != CC_OK)
		return rc;
	if (a->json)
		return cli_print_json(json_pack("{s:I, s:s, s:s, s:b}", "id", (json_int_t)id, "serial",
		                                cli_get(a, "serial"), "name", cli_get(a, "name"), "queued", 1));
	printf("queued command %lld (%s) for %s; it is delivered when the machine is subscribed\n",
	       (long long)id, cli_get(a, "name"), cli_get(a, "serial"));
	return CC_OK;
}

struct command_rows {
	json_t *rows;
	int json;
};

/* One command's state, never its (sealed) body. */
static int list_command(void *arg, const struct store_command *c)
{
	struct command_rows *l = arg;
	char created[40], at[40];
	const char *state = c->failed_ms ? "failed" : c->delivered_ms ? "delivered" : "pending";
	int64_t at_ms = c->failed_ms ? c->failed_ms : c->delivered_ms;

	cli_time(c->created_ms, created, sizeof(created));
	cli_time(at_ms, at, sizeof(at));
	if (l->json) {
		json_t *row = json_pack("{s:I, s:s, s:s, s:s, s:s?, s:s?}", "id", (json_int_t)c->id, "name", c->name,
		                        "state", state, "created", created, "at", at_ms ? at : NULL,
		                        "reason", c->failed_ms ? c->failure : NULL);

		return row != NULL && json_array_append_new(l->rows, row) == 0 ? 0 : CC_ERR_NOMEM;
	}
	printf("%-8lld %-14s %-10s %-25s %-25s %s\n", (long long)c->id, c->name, state, created,
	       at_ms ? at : "-", c->failed_ms ? c->failure : "");
	return 0;
}

static int run_machine_commands(struct cli_args *a)
{
	struct store *s = vault_store(a->vault);
	struct store_machine m;
	struct command_rows l = { NULL, a->json };
	int rc = inventory_machine_find(a->vault, cli_get(a, "serial"), &m);

	if (rc != CC_OK)
		return rc;
	l.rows = json_array();
	if (l.rows == NULL)
		return CC_ERR_NOMEM;
	if (!a->json)
		printf("%-8s %-14s %-10s %-25s %-25s %s\n", "ID", "NAME", "STATE", "CREATED", "AT", "REASON");
	rc = s->ops->command_list(s, m.id, list_command, &l);
	if (rc == CC_OK && a->json)
		return cli_print_json(l.rows);
	json_decref(l.rows);
	return rc;
}

const struct cli_cmd cli_machine_cmds[] = {
	{ "machine", "add", "register a machine and issue its certificate bundle", NULL, 1,
	  { { "serial", "S", "the machine's serial: 1-64 of A-Z a-z 0-9 . _ -", 1 },
	    { "model", "M", "the machine model", 1 },
	    { "customer", "ORG", "the customer that operates it", 1 },
	    { "site", "SITE", "the customer's site where it stands", 0 },
	    { "out", "DIR", "where to write machine.crt, machine.key and ca.crt", 1 },
	    { "csr", "FILE", "sign this CSR (PEM, P-256) instead of generating a key", 0 },
	    CLI_END_OPTS },
	  run_machine_add },
	{ "machine", "revoke", "revoke a machine's certificate at once", "serial", 1,
	  { { "serial", "S", "the machine's serial", 1 }, CLI_END_OPTS }, run_machine_revoke },
	{ "machine", "move", "move a machine to a site, or to another customer (what was recorded stays with "
	  "the customer that owned it then)", "serial", 1,
	  { { "serial", "S", "the machine", 1 },
	    { "customer", "ORG", "the customer it goes to (default: its own)", 0 },
	    { "site", "SITE", "the site it goes to", 0 },
	    { "no-site", NULL, "at no site", 0 },
	    CLI_END_OPTS },
	  cli_run_machine_move },
	{ "machine", "search", "the fleet list with its filters: status, model, software version, site, group, "
	  "error state, last seen; sorted", NULL, 1,
	  { { "customer", "ORG", "only this customer's", 0 },
	    { "site", "SITE", "at a site of this name", 0 },
	    { "group", "GROUP", "in this group of --customer (its sub-groups too; a dynamic group's filter)", 0 },
	    { "status", "S", "online, offline, revoked, decommissioned, active (default) or all", 0 },
	    { "model", "M", "of this model", 0 },
	    { "version", "V", "running this software version", 0 },
	    { "error", "E", "connection, refused, any or none", 0 },
	    { "seen-after", "TIME", "last seen at or after", 0 },
	    { "seen-before", "TIME", "last seen before (or never)", 0 },
	    { "sort", "FIELDS", "serial, model, customer, site, last_seen, online, created; - for descending", 0 },
	    CLI_END_OPTS },
	  cli_run_machine_search },
	{ "machine", "decommission", "decommission a machine: certificate revoked, connection dropped, data kept",
	  "serial", 1,
	  { { "serial", "S", "the machine", 1 }, { "yes", NULL, "confirm: this cannot be undone", 0 }, CLI_END_OPTS },
	  cli_run_machine_decommission },
	{ "machine", "list", "list machines", NULL, 1,
	  { { "customer", "ORG", "only this customer's", 0 }, CLI_END_OPTS }, run_machine_list },
	{ "machine", "status", "live state: online/offline, last seen, software, last disconnect", "serial", 1,
	  { { "serial", "S", "only this machine", 0 }, CLI_END_OPTS }, cli_run_machine_status },
	{ "machine", "command", "queue a command for a machine (cc/v1/{serial}/cmd/{name}, QoS 1)", "serial", 1,
	  { { "serial", "S", "the machine", 1 },
	    { "name", "NAME", "update-offer, diagnostics or config", 1 },
	    { "body", "JSON", "a JSON object (default {})", 0 },
	    CLI_END_OPTS },
	  run_machine_command },
	{ "machine", "commands", "a machine's commands: pending, delivered, or failed and why", "serial", 1,
	  { { "serial", "S", "the machine", 1 }, CLI_END_OPTS }, run_machine_commands },
	{ "machine", "show", "show one machine", "serial", 1,
	  { { "serial", "S", "the machine's serial", 1 }, CLI_END_OPTS }, run_machine_show },
	CLI_END_CMDS,
};
