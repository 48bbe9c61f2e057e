/* customers.c - a customer's export and erasure. */
#include "api/internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "access/audit.h"
#include "common/err.h"
#include "common/log.h"
#include "fleet/erasure.h"
#include "fleet/inventory.h"
#include "records/export.h"

static int stream_piece(void *ctx, const char *data, size_t len)
{
	return http_stream_write(ctx, data, len);
}

/* Everything stored for a customer's machines, decrypted: for its own
 * managers and the admins above it. Audited before a byte leaves. */
void api_export(struct http_req *r)
{
	struct api *a = http_app(r);
	struct store *st = vault_store(a->vault);
	struct caller *s = api_authenticate(r);
	const char *name = http_param(r, "id");
	enum export_format format;
	struct store_org cust;
	char disposition[128];

	if (s == NULL)
		return;
	if (export_format_parse(http_query(r, "format"), &format) != CC_OK) {
		http_reply_error(r, 400, "invalid", "format is json or csv");
		return;
	}
	if (name == NULL || !inventory_name_valid(name) || st->ops->org_find(st, name, &cust) != CC_OK ||
	    cust.kind != ORG_CUSTOMER || !inventory_org_contains(st, s->user.org_id, cust.id)) {
		http_reply_error(r, 404, "not_found", "no such customer");
		return;
	}
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
	snprintf(disposition, sizeof(disposition), "attachment; filename=\"%s.%s\"", cust.name,
	         format == EXPORT_CSV ? "csv" : "json");
	http_stream_begin(r, format == EXPORT_CSV ? "text/csv" : "application/json", disposition);
	if (export_customer(a->vault, cust.id, format, stream_piece, r) != CC_OK)
		log_error(MOD, "the export of %s stopped early", cust.name); /* the client sees a truncated body */
	http_stream_end(r);
}

/* Erasure: crypto-shredding with a signed receipt. Admins only. */
void api_customer_delete(struct http_req *r)
{
	struct api *a = http_app(r);
	struct store *st = vault_store(a->vault);
	struct caller *s = api_authorize(r);
	const char *name = http_param(r, "id");
	struct store_org cust;
	char *receipt = NULL;
	int rc;

	if (s == NULL)
		return;
	if (name == NULL || !inventory_name_valid(name) || st->ops->org_find(st, name, &cust) != CC_OK ||
	    cust.kind != ORG_CUSTOMER || !inventory_org_contains(st, s->user.org_id, cust.id)) {
		http_reply_error(r, 404, "not_found", "no such customer");
		return;
	}
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
