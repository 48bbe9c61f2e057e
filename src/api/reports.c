/* reports.c - installation and service reports (records/reports.h): filed by
 * the service side, read by everyone whose role holds the service class. */
#include "api/internal.h"

#include "common/clock.h"
#include "common/err.h"
#include "records/reports.h"

void api_reports_list(struct http_req *r) { api_records_route(r, RECORD_REPORT); }

/* Filed by the people of distributors and the manufacturer who work on the
 * machine; a customer's people read them. A refused report is quoted
 * nowhere: not in the answer, not in the log. */
void api_reports_add(struct http_req *r)
{
	struct api *a = http_app(r);
	struct store *st = vault_store(a->vault);
	struct caller *s = api_caller(r);
	struct store_machine m;
	struct store_org org;
	enum report_refusal verdict;
	enum privacy_reason why = PRIVACY_NONE;
	json_t *body = NULL;
	int64_t seq = 0;
	int rc;

	if (s == NULL || api_find_machine(r, s, &m) != CC_OK)
		return;
	if (st->ops->org_get(st, s->user.org_id, &org) != CC_OK || org.kind == ORG_CUSTOMER) {
		if (api_audit_access(r, s, "report.add", &m, "denied") == CC_OK)
			http_reply_error(r, 403, "forbidden", "reports are filed by the service side, not by customers");
		return;
	}
	if (http_body_json(r, &body) != CC_OK)
		return;
	verdict = reports_check_at(body, clock_now_ms(), &why);
	if (verdict != REPORT_OK) {
		char msg[200];

		json_decref(body);
		if (verdict == REPORT_PRIVACY) {
			snprintf(msg, sizeof(msg),
			         "the report holds personal or financial data (%s): reports carry work codes, part "
			         "numbers and a short technical note, never people, addresses, contacts or prices",
			         privacy_reason_name(why));
			http_reply_error(r, 422, "not_machine_data", msg);
		} else {
			http_reply_error(r, 400, "invalid",
			                 "send type (installation, service, maintenance, repair), work (1-16 work codes "
			                 "of the catalogue), outcome (fixed, not_fixed, follow_up, no_fault_found, "
			                 "replaced), and optionally parts (part numbers such as GSK-58), duration_min, "
			                 "travel_min (0-1440), performed (epoch ms), note (<= 280 characters)");
		}
		return;
	}
	rc = reports_add(a->vault, &m, body, s->actor, &seq);
	json_decref(body);
	if (rc != CC_OK) {
		http_reply_error(r, rc == CC_ERR_LIMIT ? 413 : 500, rc == CC_ERR_LIMIT ? "too_large" : "internal",
		                 "the report could not be stored");
		return;
	}
	if (api_audit_access(r, s, "report.add", &m, "ok") == CC_OK)
		http_reply_json(r, 201, json_pack("{s:s, s:I}", "serial", m.serial, "seq", (json_int_t)seq));
}
