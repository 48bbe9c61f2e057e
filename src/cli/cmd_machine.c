/* cmd_machine.c - `machine add|revoke|list|show`: provisioning and inventory. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli/cli.h"
#include "cli/table.h"
#include "common/clock.h"
#include "common/err.h"
#include "common/file.h"
#include "common/limits.h"
#include "common/log.h"
#include "crypto/ca.h"
#include "fleet/commands.h"
#include "fleet/jobs.h"
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
	const char *days_text = cli_get(a, "validity-days");
	char *end = NULL;
	long days = days_text != NULL ? strtol(days_text, &end, 10) : 0;
	int rc;

	memset(&o, 0, sizeof(o));
	o.dir = cli_get(a, "out");
	if (file_join(o.cert, sizeof(o.cert), o.dir, "machine.crt") != CC_OK ||
	    file_join(o.key, sizeof(o.key), o.dir, "machine.key") != CC_OK ||
	    file_join(o.ca, sizeof(o.ca), o.dir, "ca.crt") != CC_OK)
		return CC_ERR_LIMIT;
	if (days_text != NULL && (*end != '\0' || days < 1 || days > CA_DAYS_MAX)) {
		log_error(MOD, "--validity-days must be a whole number 1-%d", CA_DAYS_MAX);
		return CC_ERR_INVALID;
	}
	if (csr_file != NULL) {
		rc = file_read_all(csr_file, CA_CSR_MAX, &csr, &csr_len);
		if (rc != CC_OK)
			return rc;
	}
	rc = inventory_machine_add_days(a->vault, cli_get(a, "serial"), cli_get(a, "model"),
	                                cli_get(a, "customer"), cli_get(a, "site"), (const char *)csr, (int)days,
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
	char created[40], revoked[40], not_after[40], prev_until[40];
	int64_t now = clock_now_ms();
	const char *state = m->revoked_ms != 0 ? "revoked"
	                    : m->cert_not_after_ms != 0 && m->cert_not_after_ms <= now ? "expired" : "valid";
	int overlap = m->prev_cert_fingerprint[0] != '\0' && m->prev_cert_until_ms > now && m->revoked_ms == 0;

	if (s->ops->org_get(s, m->customer_id, &cust) != CC_OK)
		snprintf(cust.name, sizeof(cust.name), "?");
	if (m->site_id != 0 && s->ops->site_get(s, m->site_id, &site) == CC_OK)
		site_name = site.name;
	return json_pack("{s:s, s:s, s:s, s:s?, s:s, s:s, s:s, s:s, s:b, s:s?, s:s?, s:s?}", "serial", m->serial,
	                 "model", m->model, "customer", cust.name, "site", site_name, "cert_sha256",
	                 m->cert_fingerprint, "cert_not_after", cli_time(m->cert_not_after_ms, not_after,
	                 sizeof(not_after)), "cert_state", state,
	                 "created", cli_time(m->created_ms, created, sizeof(created)),
	                 "revoked", m->revoked_ms != 0,
	                 "revoked_at", m->revoked_ms ? cli_time(m->revoked_ms, revoked, sizeof(revoked)) : NULL,
	                 "prev_cert_sha256", overlap ? m->prev_cert_fingerprint : NULL,
	                 "prev_cert_until", overlap ? cli_time(m->prev_cert_until_ms, prev_until, sizeof(prev_until))
	                                            : NULL);
}

struct machine_lister {
	struct cli_args *a;
	struct store *s;
	json_t *rows;
	struct cli_table *table;
};

static int list_machine(void *arg, const struct store_machine *m)
{
	struct machine_lister *l = arg;
	struct store_org cust;
	struct store_site site;
	char created[40];

	if (l->a->json)
		return json_array_append_new(l->rows, machine_json(l->s, m)) ? CC_ERR_NOMEM : 0;
	if (l->s->ops->org_get(l->s, m->customer_id, &cust) != CC_OK)
		snprintf(cust.name, sizeof(cust.name), "?");
	if (m->site_id == 0 || l->s->ops->site_get(l->s, m->site_id, &site) != CC_OK)
		site.name[0] = '\0';
	return cli_table_add(l->table, m->serial, m->model, cust.name, site.name,
	                     m->revoked_ms ? "revoked" : "valid", cli_time_s(m->created_ms, created, sizeof(created)));
}

static int run_machine_list(struct cli_args *a)
{
	static const char *const headers[] = { "SERIAL", "MODEL", "CUSTOMER", "SITE", "CERT", "CREATED", NULL };
	struct machine_lister l = { a, vault_store(a->vault), json_array(), cli_table_new(headers) };
	const char *customer = cli_get(a, "customer");
	struct store_org o = { 0 };
	int rc = CC_OK;

	if (l.rows == NULL || l.table == NULL) {
		json_decref(l.rows);
		cli_table_free(l.table);
		return CC_ERR_NOMEM;
	}
	if (customer != NULL)
		rc = inventory_org_find(a->vault, customer, &o);
	if (rc == CC_OK)
		rc = l.s->ops->machine_list(l.s, o.id, list_machine, &l);
	return cli_list_done(a, rc, l.rows, l.table);
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
				printf("%-16s %s\n", key, json_string_value(value));
			else if (json_is_boolean(value))
				printf("%-16s %s\n", key, json_is_true(value) ? "yes" : "no");
		}
	}
	json_decref(doc);
	return CC_OK;
}

static int first_command(void *arg, const struct store_command *c)
{
	*(int64_t *)arg = c->id;
	return 1;
}

/* A one-target job (fleet/jobs.h), so it is tracked like any other. */
static int run_machine_command(struct cli_args *a)
{
	struct store *s = vault_store(a->vault);
	struct job_request req;
	char actor[CC_NAME_MAX + 8], bad[CC_SERIAL_MAX + 1];
	const char *serial = cli_get(a, "serial"), *timeout = cli_get(a, "timeout");
	int64_t job = 0, id = 0;
	int rc;

	memset(&req, 0, sizeof(req));
	cli_actor(actor, sizeof(actor));
	req.name = cli_get(a, "name");
	req.body = cli_get(a, "body");
	req.created_by = actor;
	req.kind = JOB_TARGET_SERIALS;
	req.serials = &serial;
	req.nserials = 1;
	if (timeout != NULL && (sscanf(timeout, "%" SCNd64, &req.timeout_s) != 1 || req.timeout_s <= 0)) {
		log_error(MOD, "--timeout is a number of seconds");
		return CC_ERR_INVALID;
	}
	rc = jobs_create(a->vault, &req, &job, bad);
	if (rc == CC_ERR_NOTFOUND)
		log_error(MOD, "no such machine: %s", serial);
	else if (rc == CC_ERR_STATE)
		log_error(MOD, "machine '%s' is revoked", serial);
	if (rc == CC_OK)
		rc = s->ops->command_list_job(s, job, first_command, &id) < 0 ? CC_ERR_DB : CC_OK;
	if (rc != CC_OK)
		return rc;
	if (a->json)
		return cli_print_json(json_pack("{s:I, s:I, s:s, s:s, s:b}", "id", (json_int_t)id, "job", (json_int_t)job,
		                                "serial", serial, "name", cli_get(a, "name"), "queued", 1));
	printf("queued command %lld (%s) for %s as job %lld; it is delivered when the machine is subscribed\n",
	       (long long)id, cli_get(a, "name"), serial, (long long)job);
	return CC_OK;
}

struct command_rows {
	json_t *rows;
	struct cli_table *table;
	int json;
};

/* One command's state, never its (sealed) body. */
static int list_command(void *arg, const struct store_command *c)
{
	struct command_rows *l = arg;
	char created[40], at[40], id[24], job[24];
	const char *state = jobs_target_state(c);
	int64_t at_ms = c->ended_ms ? c->ended_ms : c->failed_ms ? c->failed_ms : c->accepted_ms ? c->accepted_ms
	                                                                                         : c->delivered_ms;
	const char *why = c->failed_ms ? c->failure : c->detail;

	if (l->json) {
		json_t *row = json_pack("{s:I, s:I, s:s, s:s, s:s, s:s?, s:s?}", "id", (json_int_t)c->id, "job",
		                        (json_int_t)c->job_id, "name", c->name, "state", state, "created",
		                        cli_time(c->created_ms, created, sizeof(created)), "at",
		                        at_ms ? cli_time(at_ms, at, sizeof(at)) : NULL, "reason", why[0] ? why : NULL);

		return row != NULL && json_array_append_new(l->rows, row) == 0 ? 0 : CC_ERR_NOMEM;
	}
	snprintf(id, sizeof(id), "%lld", (long long)c->id);
	snprintf(job, sizeof(job), "%lld", (long long)c->job_id);
	return cli_table_add(l->table, id, job, c->name, state, cli_time_s(c->created_ms, created, sizeof(created)),
	                     cli_time_s(at_ms, at, sizeof(at)), why);
}

static int run_machine_commands(struct cli_args *a)
{
	static const char *const headers[] = { "ID", "JOB", "NAME", "STATE", "CREATED", "AT", "REASON", NULL };
	struct store *s = vault_store(a->vault);
	struct store_machine m;
	struct command_rows l = { json_array(), cli_table_new(headers), a->json };
	int rc = inventory_machine_find(a->vault, cli_get(a, "serial"), &m);

	if (rc == CC_OK && (l.rows == NULL || l.table == NULL))
		rc = CC_ERR_NOMEM;
	if (rc == CC_OK)
		rc = s->ops->command_list(s, m.id, list_command, &l);
	return cli_list_done(a, rc, l.rows, l.table);
}

const struct cli_cmd cli_machine_cmds[] = {
	{ "machine", "add", "register a machine and issue its certificate bundle", NULL, 1,
	  { { "serial", "S", "the machine's serial: 1-64 of A-Z a-z 0-9 . _ -", 1 },
	    { "model", "M", "the machine model", 1 },
	    { "customer", "ORG", "the customer that operates it", 1 },
	    { "site", "SITE", "the customer's site where it stands", 0 },
	    { "out", "DIR", "where to write machine.crt, machine.key and ca.crt", 1 },
	    { "csr", "FILE", "sign this CSR (PEM, P-256) instead of generating a key", 0 },
	    { "validity-days", "N", "certificate validity (default: machine cert-validity)", 0 },
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
	{ "machine", "command", "queue a command for a machine: a one-target job (cc/v1/{serial}/cmd/{name}/{id})",
	  "serial", 1,
	  { { "serial", "S", "the machine", 1 },
	    { "name", "NAME", "update-offer, diagnostics or config", 1 },
	    { "body", "JSON", "a JSON object (default {})", 0 },
	    { "timeout", "SEC", "it ends as timed out if not done by then (default 3600)", 0 },
	    CLI_END_OPTS },
	  run_machine_command },
	{ "machine", "commands", "a machine's commands and their jobs: state, when, and why", "serial", 1,
	  { { "serial", "S", "the machine", 1 }, CLI_END_OPTS }, run_machine_commands },
	{ "machine", "show", "show one machine", "serial", 1,
	  { { "serial", "S", "the machine's serial", 1 }, CLI_END_OPTS }, run_machine_show },
	{ "machine", "import", "register machines from a CSV (serial,model,customer[,site][,csr]) in batches", NULL, 1,
	  { { "csv", "FILE", "the CSV; its header names the columns", 1 },
	    { "out", "DIR", "bundles go to DIR/SERIAL/ (machine.crt, machine.key for generated keys, ca.crt)", 1 },
	    { "csr-dir", "DIR", "where the csr column's file names are (else they are paths)", 0 },
	    { "validity-days", "N", "certificate validity (default: machine cert-validity)", 0 },
	    { "batch", "N", "machines per transaction (default 1000)", 0 },
	    CLI_END_OPTS },
	  cli_run_machine_import },
	{ "machine", "renew", "issue a machine a new certificate for a CSR with a new key", "serial", 1,
	  { { "serial", "S", "the machine", 1 },
	    { "csr", "FILE", "the CSR (PEM, P-256)", 1 },
	    { "out", "FILE", "where to write the certificate", 1 },
	    { "validity-days", "N", "certificate validity (default: machine cert-validity)", 0 },
	    CLI_END_OPTS },
	  cli_run_machine_renew },
	{ "machine", "certs", "certificate audit: expiring, revoked but connected, never seen", NULL, 1,
	  { { "expiring-days", "N", "expiring within N days (default 30)", 0 }, CLI_END_OPTS },
	  cli_run_machine_certs },
	{ "machine", "cert-validity", "show or set the validity of new machine certificates", NULL, 1,
	  { { "days", "N", "set it to N days (default 730)", 0 }, CLI_END_OPTS },
	  cli_run_machine_cert_validity },
	CLI_END_CMDS,
};
