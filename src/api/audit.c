/* audit.c - the audit log for auditors, and a customer's access-transparency report. */
#include "api/internal.h"

#include <stdio.h>
#include <string.h>

#include "access/audit.h"
#include "common/clock.h"
#include "common/err.h"
#include "fleet/inventory.h"

struct audit_page {
	struct api *a;
	const struct caller *s;
	json_t *list;
	int reads_only;
	int at_root; /* the caller belongs to the root organisation */
	size_t scanned;
	int64_t last_seq;
};

static int add_audit(void *arg, const struct store_audit *rec)
{
	struct audit_page *p = arg;
	struct store *st = vault_store(p->a->vault);
	char when[40];

	p->scanned++;
	p->last_seq = rec->seq;
	/* Records about customers outside the caller's subtree stay hidden;
	 * records about no customer are for callers at the root only. */
	if (rec->customer_id != 0 && !inventory_org_contains(st, p->s->user.org_id, rec->customer_id))
		return 0;
	if (rec->customer_id == 0 && !p->at_root)
		return 0;
	if (p->reads_only && strcmp(rec->data_class, "admin") == 0)
		return 0;
	clock_format_iso(rec->ts_ms, when, sizeof(when));
	return json_array_append_new(p->list, json_pack("{s:I, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s}",
	                             "seq", (json_int_t)rec->seq, "time", when, "actor", rec->actor,
	                             "source", rec->source, "action", rec->action, "machines", rec->machines,
	                             "data_class", rec->data_class, "purpose", rec->purpose,
	                             "outcome", rec->outcome)) == 0 ? 0 : CC_ERR_NOMEM;
}

static void audit_route(struct http_req *r, struct caller *s, int64_t customer_id, int reads_only)
{
	struct api *a = http_app(r);
	struct audit_filter f;
	struct audit_page page = { a, s, NULL, reads_only, 0, 0, 0 };
	struct store_org org;
	struct api_page pg;
	json_t *doc;

	page.at_root = vault_store(a->vault)->ops->org_get(vault_store(a->vault), s->user.org_id, &org) == CC_OK &&
	               org.parent_id == 0;
	memset(&f, 0, sizeof(f));
	if (api_parse_ms(http_query(r, "from"), 0, &f.from_ms) != CC_OK || api_parse_ms(http_query(r, "to"), 0, &f.to_ms) != CC_OK) {
		http_reply_error(r, 400, "invalid", "from, to: epoch ms");
		return;
	}
	if (api_page_params(r, 100, 1000, &pg) != CC_OK)
		return;
	/* Newest first: a page continues below the cursor's seq. Records out of
	 * the caller's view are skipped after the limit, so a page may be short. */
	f.limit = pg.limit;
	f.before_seq = api_page_after_int(&pg);
	page.list = json_array();
	f.newest_first = 1;
	f.customer_id = customer_id;
	f.action_prefix = http_query(r, "action");
	f.serial = http_query(r, "serial");
	if (page.list == NULL || audit_list(a->vault, &f, add_audit, &page) < 0) {
		json_decref(page.list);
		http_reply_error(r, 500, "internal", "the audit log could not be read");
		return;
	}
	/* Reading the audit log is an audited read of the audit class. */
	if (api_audit_access(r, s, customer_id ? "access-report.get" : "audit.get", NULL, "ok") != CC_OK) {
		json_decref(page.list);
		return;
	}
	doc = json_pack("{s:o}", "records", page.list);
	if (page.scanned == pg.limit && page.last_seq > 1)
		api_page_next_int(doc, page.last_seq);
	http_reply_json(r, 200, doc);
}

void api_audit_list(struct http_req *r)
{
	struct caller *s = api_caller(r);

	if (s != NULL)
		audit_route(r, s, 0, 0);
}

/* A customer's access-transparency report: who read which of its machines'
 * data, when and why. For the customer's own managers, its service
 * company's, the manufacturer's admins and auditors. */
void api_access_report(struct http_req *r)
{
	struct caller *s = api_caller(r);
	const char *name;
	struct store_org cust;
	const char *role;

	if (s == NULL)
		return;
	name = http_param(r, "id"); /* r is gone once a guard has replied */
	role = s->role->name;
	if (api_find_customer(r, s, name, &cust) != CC_OK)
		return;
	if (!s->role->manages_org && strcmp(role, "auditor") != 0 && strcmp(role, "customer_manager") != 0 &&
	    strcmp(role, "service_manager") != 0) {
		http_reply_error(r, 403, "forbidden", "your role does not see access reports");
		return;
	}
	audit_route(r, s, cust.id, 1);
}
