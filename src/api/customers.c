/* customers.c - a customer's export and erasure. */
#include "api/internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>

#include "access/audit.h"
#include "common/err.h"
#include "common/limits.h"
#include "common/log.h"
#include "fleet/erasure.h"
#include "fleet/inventory.h"
#include "records/export.h"

/* Records per slice: a slice is decrypted in one turn of the loop (a few
 * milliseconds), then waits until the client has taken it. */
#define EXPORT_SLICE 2000

/* An export being written, a slice at a time. */
struct export_job {
	struct api *api;
	struct http_req *r; /* NULL once the client has gone */
	struct export *cursor;
	struct evbuffer *buf;
	char customer[CC_NAME_MAX + 1];
	struct export_job *next; /* a->exports */
};

static void job_free(struct export_job *job)
{
	struct export_job **p;

	for (p = &job->api->exports; *p != NULL; p = &(*p)->next) {
		if (*p == job) {
			*p = job->next;
			break;
		}
	}
	export_close(job->cursor);
	if (job->buf != NULL)
		evbuffer_free(job->buf);
	free(job);
}

static void export_client_gone(void *arg)
{
	struct export_job *job = arg;

	log_info(MOD, "the export of %s stopped: the client left", job->customer);
	job_free(job);
}

static int to_buffer(void *ctx, const char *data, size_t len)
{
	return evbuffer_add(ctx, data, len) == 0 ? CC_OK : CC_ERR_NOMEM;
}

static void export_finish(void *arg)
{
	struct export_job *job = arg;

	http_stream_end(job->r);
	job_free(job);
}

/* Writes the next slice; the sending of it calls back for the one after. */
static void export_slice(void *arg)
{
	struct export_job *job = arg;
	int done = 0;
	int rc = export_step(job->cursor, EXPORT_SLICE, to_buffer, job->buf, &done);

	if (rc != CC_OK) {
		/* The client sees a truncated body: the chunked encoding never ends properly. */
		log_error(MOD, "the export of %s stopped early (%s)", job->customer, cc_strerror(rc));
		export_finish(job);
		return;
	}
	if (evbuffer_get_length(job->buf) == 0) {
		if (done)
			export_finish(job);
		else
			export_slice(job);
		return;
	}
	http_stream_chunk(job->r, job->buf, done ? export_finish : export_slice, job);
}

void api_exports_stop(struct api *a)
{
	while (a->exports != NULL)
		job_free(a->exports);
}

/* Everything stored for a customer's machines, decrypted: for its own
 * managers and the admins above it. Audited before a byte leaves. */
void api_export(struct http_req *r)
{
	struct api *a = http_app(r);
	struct caller *s = api_caller(r);
	const char *name;
	enum export_format format;
	enum record_kind table;
	struct store_org cust;
	struct export_job *job;
	char disposition[128];

	if (s == NULL)
		return;
	name = http_param(r, "id"); /* r is gone once a guard has replied */
	if (export_format_parse(http_query(r, "format"), &format) != CC_OK) {
		http_reply_error(r, 400, "invalid", "format is json or csv");
		return;
	}
	if (export_table_parse(http_query(r, "table"), &table) != CC_OK) {
		http_reply_error(r, 400, "invalid", "table is telemetry, events or reports");
		return;
	}
	if (api_find_customer(r, s, name, &cust) != CC_OK)
		return;
	if (!s->role->manages_org && !(strcmp(s->role->name, "customer_manager") == 0 && s->user.org_id == cust.id)) {
		if (api_audit_access(r, s, "customer.export", NULL, "denied") == CC_OK)
			http_reply_error(r, 403, "forbidden", "only the customer's managers and admins export its data");
		return;
	}
	{
		struct audit_event e;
		char actor[CC_NAME_MAX + 8];

		snprintf(actor, sizeof(actor), "user:%s", s->user.login);
		memset(&e, 0, sizeof(e));
		e.actor = actor;
		e.source = http_source(r);
		e.action = "customer.export";
		e.machines = "*";
		e.data_class = "technical";
		e.purpose = "administration";
		e.outcome = "ok";
		e.customer_id = cust.id;
		if (audit_append(a->vault, &e) != CC_OK) {
			http_reply_error(r, 503, "audit_unavailable", "the export could not be recorded, so it is refused");
			return;
		}
	}
	if (format == EXPORT_CSV)
		snprintf(disposition, sizeof(disposition), "attachment; filename=\"%s-%s.csv\"", cust.name,
		         table == RECORD_EVENT ? "events" : table == RECORD_REPORT ? "reports" : "telemetry");
	else
		snprintf(disposition, sizeof(disposition), "attachment; filename=\"%s.json\"", cust.name);
	job = calloc(1, sizeof(*job));
	if (job == NULL || (job->buf = evbuffer_new()) == NULL ||
	    export_open(a->vault, cust.id, format, table, &job->cursor) != CC_OK) {
		if (job != NULL && job->buf != NULL)
			evbuffer_free(job->buf);
		free(job);
		http_reply_error(r, 503, "busy", "the export could not be started");
		return;
	}
	job->api = a;
	job->r = r;
	snprintf(job->customer, sizeof(job->customer), "%s", cust.name);
	job->next = a->exports;
	a->exports = job;
	http_req_later(r, export_client_gone, job);
	http_stream_begin(r, format == EXPORT_CSV ? "text/csv" : "application/json", disposition);
	export_slice(job);
}

/* Erasure: crypto-shredding with a signed receipt. Admins only. */
void api_customer_delete(struct http_req *r)
{
	struct api *a = http_app(r);
	struct caller *s = api_caller(r);
	const char *name;
	struct store_org cust;
	char *receipt = NULL;
	int rc;

	if (s == NULL)
		return;
	name = http_param(r, "id"); /* r is gone once a guard has replied */
	if (api_find_customer(r, s, name, &cust) != CC_OK)
		return;
	rc = erasure_delete_customer(a->vault, name, s->user.login, &receipt);
	if (rc != CC_OK || receipt == NULL) {
		http_reply_error(r, 500, "internal", "the customer could not be deleted or its receipt signed");
		free(receipt);
		return;
	}
	(void)api_audit_access(r, s, "customer.delete", NULL, "ok"); /* deleted whatever the record says */
	http_reply_text(r, 200, "application/json", receipt);
	free(receipt);
}
