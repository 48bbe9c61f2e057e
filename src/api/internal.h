/*
 * internal.h - what the files of the API share: the api object, the caller
 * of a request, and the guards every handler runs before it touches data.
 *
 * One file per resource (login.c, machines.c, admin.c, grants.c, policy.c,
 * audit.c, customers.c); caller.c holds the guards; api.c the route table.
 * Every handler replies exactly once. A guard that returns NULL or an error
 * has replied already.
 */
#ifndef CC_API_INTERNAL_H
#define CC_API_INTERNAL_H

#include <pthread.h>
#include <stdint.h>

#include <jansson.h>
#include <openssl/sha.h>

#include "access/credentials.h"
#include "access/roles.h"
#include "access/users.h"
#include "api/api.h"
#include "records/records.h"
#include "store/store.h"

#define MOD "api"
#define TOKEN_BYTES 32
#define RECORDS_PAGE_MAX 10000


struct login_job;
struct export_job;
struct download;
struct diag_download;
struct http_sender;

struct api {
	struct event_base *base;
	struct vault *vault;
	struct api_opts opts;
	struct caller caller;    /* the current request's: valid until its handler returns */
	struct http_req *guarded; /* the request api_guard let through (caller and machine are its) */
	struct store_machine machine; /* the {serial} of that request's path, found in scope */
	int has_machine;
	struct strmap *buckets;  /* API token id -> its rate-limit bucket */
	struct throttle *throttle; /* failed sign-ins (access/throttle.h) */
	struct export_job *exports;   /* exports being written (customers.c) */
	struct download *downloads;   /* artifacts being sent to machines, or waiting to be (updates.c) */
	int64_t downloads_active, downloads_waiting, downloads_seq;
	int stopping_downloads;
	struct http_sender *sender;   /* writes downloads off the loop (http/sender.h); started by the first */
	int sender_failed;            /* it could not start: downloads stay on the loop */
	struct diag_download *diag_downloads; /* diagnostics bundles being sent to people (diagnostics.c) */
	struct audit_queue *audits; /* records appended off the loop (audit_queue.h); NULL: on it */
	json_t *machines_tls, *people_tls; /* the listeners' TLS, for the policy's facts (copies) */
	char purposes[256];                /* enabled purposes, comma-separated */
	/* the password worker (login.c) */
	pthread_t worker;
	pthread_mutex_t lock;
	pthread_cond_t wake;
	struct login_job *queued, *done; /* (lock) */
	struct login_job *live;          /* all jobs not yet answered (loop thread) */
	int stopping;                    /* (lock) */
	struct event *done_ev;
};

/* ---- caller.c: the guards ---- */

const char *api_iso_time(int64_t ms, char *buf, size_t cap);
/* The bearer token or session cookie of the request, or NULL; a cookie's
 * token is copied into buf. */
const char *api_request_token(struct http_req *r, int *from_cookie, char buf[CREDENTIAL_TOKEN_TEXT_MAX]);
/* The caller the guard let through, for the handler of that request (never
 * NULL for a guarded route; NULL after a 500 if the guard did not run). */
struct caller *api_caller(struct http_req *r);
/* Does the role see this data class ("none" needs nothing)? A
 * comma-separated list: one of them. */
int api_role_sees(const struct caller *s, const char *data_class);
/* The route's classes that the role sees, comma-separated into buf (for the audit record). */
const char *api_classes_served(const struct caller *s, const char *data_class, char *buf, size_t cap);
/* The audit record of an access: queued for the audit thread, the request's
 * reply held until it is appended (api/audit_queue.h), a failure there
 * turning the reply into 503 audit_unavailable; without the thread (or when
 * it cannot take it), appended here. A non-zero return has replied 503
 * already (reads fail closed). */
int api_audit_access(struct http_req *r, const struct caller *s, const char *action,
                     const struct store_machine *m, const char *outcome);
/* The same, appended here before it returns: for a chunked reply, which
 * cannot be held. */
int api_audit_access_now(struct http_req *r, const struct caller *s, const char *action,
                         const struct store_machine *m, const char *outcome);
/* In the caller's scope: its organisation's subtree, or for subcontractors a
 * grant in force for the purpose. */
int api_machine_visible(struct api *a, const struct caller *s, const struct store_machine *m, const char *purpose);
/* The {serial} of the path, found by the guard (in scope, consented). */
int api_find_machine(struct http_req *r, const struct caller *s, struct store_machine *m);
/* The customer of that name in the caller's scope, else 404 as for one that
 * does not exist (name may be NULL: 404). */
int api_find_customer(struct http_req *r, const struct caller *s, const char *name, struct store_org *cust);
/* A string field of the route's declared body (http_body), or NULL. */
const char *api_field(struct http_req *r, const char *name);
/*
 * Pages. Every listing takes ?limit (1..max, a default otherwise) and
 * ?cursor, and answers "next_cursor" when there is more: an opaque string
 * (the hex of the key to continue after) to send back as it is.
 */
#define API_CURSOR_KEY_MAX 64
struct api_page {
	size_t limit;
	int has_cursor;
	char after[API_CURSOR_KEY_MAX + 1]; /* the key of the last item of the previous page */
};
/* Reads limit and cursor; 400 and an error for bad ones. */
int api_page_params(struct http_req *r, size_t dflt, size_t max, struct api_page *out);
/* The cursor's key as a number (for keys that are: seq, id). */
int64_t api_page_after_int(const struct api_page *p);
/* Sets doc's "next_cursor" to continue after key (a string). */
void api_page_next(json_t *doc, const char *key);
void api_page_next_int(json_t *doc, int64_t key);
/* Pages a short listing built whole (organisations, accounts, grants,
 * tokens): doc's array `name` sorted by its items' `field` (a string or an
 * integer), the items after the cursor, at most limit of them. */
int api_page_cut(json_t *doc, const char *name, const char *field, const struct api_page *pg);
/* Replies {name: list} paged by field as above (list is stolen). */
void api_reply_list(struct http_req *r, const char *name, json_t *list, const char *field);

/* A decimal integer query parameter, dflt when absent. */
int api_parse_ms(const char *text, int64_t dflt, int64_t *out);
/* A yes/no query parameter: true/false (1/0); 0 when absent. */
int api_parse_bool(const char *text, int *out);

/* ---- machine_caller.c ---- */
/* The machine whose certificate the client presented, in service; else
 * replies 401 (no certificate, or not one of the fleet CA's) or 403. */
int api_machine_caller(struct http_req *r, struct store_machine *m);

/* ---- machine_config.c ---- */

void api_machine_config_show(struct http_req *r);
void api_machine_config_set(struct http_req *r);
void api_machine_config_history(struct http_req *r);
void api_machine_config_fetch(struct http_req *r);
/* ---- config_templates.c ---- */
void api_config_templates_list(struct http_req *r);
void api_config_template_set(struct http_req *r);
void api_config_limits_set(struct http_req *r);
void api_machine_config_effective(struct http_req *r);
/* 1 when the caller acts for a customer (its own people: the manufacturer's limits bind them). */
int api_caller_is_customer(struct http_req *r, const struct caller *s);
/* CC_OK when config keeps within the limits the manufacturer set for the
 * customer and model, or the caller is not a customer's; else replies 403
 * naming the member and the range allowed (audited action, denied). */
int api_config_within_limits(struct http_req *r, const struct caller *s, int64_t customer_id, const char *model,
                             const json_t *config, const char *action, const struct store_machine *m);

/* ---- rollouts.c ---- */
void api_rollouts_create(struct http_req *r);
void api_rollouts_list(struct http_req *r);
void api_rollouts_show(struct http_req *r);
void api_rollouts_act(struct http_req *r);
void api_machine_update_progress(struct http_req *r);
void api_machine_update_status(struct http_req *r);

/* ---- customers.c ---- */
void api_exports_stop(struct api *a);

/* ---- updates.c ---- */
/* The caller when one of the manufacturer's engineers or administrators
 * (who release software); else audits the denial, replies 403, NULL. */
struct caller *api_releaser(struct http_req *r, const char *action);
void api_downloads_stop(struct api *a);
void api_release_keys_list(struct http_req *r);
void api_release_keys_add(struct http_req *r);
void api_release_keys_revoke(struct http_req *r);
void api_artifacts_list(struct http_req *r);
void api_artifacts_show(struct http_req *r);
void api_artifacts_offer(struct http_req *r);
void api_artifacts_upload(struct http_req *r);
void api_artifacts_content(struct http_req *r);
void api_machine_update(struct http_req *r);
void api_machine_artifact(struct http_req *r);

/* ---- diagnostics.c ---- */
void api_diag_downloads_stop(struct api *a);
void api_diagnostics_request(struct http_req *r);
void api_diagnostics_list(struct http_req *r);
void api_diagnostics_list_all(struct http_req *r);
void api_diagnostics_show(struct http_req *r);
void api_diagnostics_content(struct http_req *r);
void api_machine_diagnostics_upload(struct http_req *r);

/* ---- login.c ---- */
int api_logins_start(struct api *a);
void api_logins_stop(struct api *a);

/* ---- report_scope.c ---- */
/* The machines a fleet report covers (compliance, beverages, forecasts):
 * those in the caller's scope whose customer consented to the route's
 * purpose (in-scope machines of customers who did not are counted in
 * excluded); a subcontractor's granted machines of consenting customers.
 * The query narrows them: customer_param (a customer's name), site=,
 * machine= (a serial; none found is 404). On a bad parameter it replies
 * and returns the error; free the scope either way. */
struct compliance_target;
struct api_report_scope {
	struct compliance_target *machines; /* quality/compliance.h: machine, site, customer */
	size_t n;
	int64_t excluded;
};
int api_report_scope(struct http_req *r, const struct caller *s, const char *customer_param,
                     struct api_report_scope *sc);
void api_report_scope_free(struct api_report_scope *sc);

/* ---- scope_lists.c ---- */
/* The caller's scope as the store's listings take it (store/tickets.h,
 * store/diagnostics.h): the customers in its organisation's subtree that
 * consented to purpose, or a subcontractor's granted machines and sites
 * (grants in force for purpose). The store narrows by these clear ids;
 * handlers still judge what they show by the verified rows. */
struct api_scope {
	int64_t *customers, *machines, *sites;
	size_t ncustomers, nmachines, nsites;
	int manufacturer; /* the caller's organisation is the root (not a subcontractor) */
};
int api_scope_build(struct api *a, const struct caller *s, const char *purpose, struct api_scope *sc);
void api_scope_free(struct api_scope *sc);

/* ---- openapi.c ---- */
/* The served document: the route table (http_openapi) with each
 * operation's request and response schemas from share/api/schemas.json.
 * NULL when an operation has no schema there (a test keeps them in step). */
json_t *api_openapi_document(void);

/* ---- the handlers, by file ---- */
void api_openapi(struct http_req *r);
void api_signing_key(struct http_req *r);
void api_haccp_report(struct http_req *r);
void api_retention(struct http_req *r);
void api_retention_set(struct http_req *r);
void api_errors(struct http_req *r);
void api_timeline(struct http_req *r);
void api_tickets_open(struct http_req *r);
void api_tickets_list(struct http_req *r);
void api_tickets_get(struct http_req *r);
void api_tickets_comment(struct http_req *r);
void api_tickets_assign(struct http_req *r);
void api_tickets_state(struct http_req *r);
void api_tickets_close(struct http_req *r);
void api_availability(struct http_req *r);
void api_health_scores(struct http_req *r);
void api_site_locations(struct http_req *r);      /* site_map.c */
void api_maintenance_start(struct http_req *r);
void api_maintenance_end(struct http_req *r);
void api_webhooks_enable(struct http_req *r);
void api_login(struct http_req *r);
void api_logout(struct http_req *r);
void api_me(struct http_req *r);
void api_me_data(struct http_req *r);
void api_me_deletion(struct http_req *r);
void api_totp_enrol(struct http_req *r);
void api_totp_confirm(struct http_req *r);
void api_totp_disable(struct http_req *r);
void api_password_change(struct http_req *r);
void api_password_reset(struct http_req *r);
/* Adds the account on the password worker (Argon2id off the event loop),
 * then answers r: 201, 400 weak_password / invalid, 409; audited user.add
 * as by. The strings are copied. */
void api_user_add_later(struct http_req *r, const struct caller *by, const char *org, const char *login,
                        const char *role, const struct user_profile *profile, const char *password);

void api_tokens_list(struct http_req *r);
void api_tokens_add(struct http_req *r);
void api_tokens_delete(struct http_req *r);

void api_machines(struct http_req *r);
/* The fleet list (GET /api/v1/machines) of a request: group (may be NULL)
 * limits it to the group's machines; action names the audit record. */
void api_fleet_list(struct http_req *r, const struct store_group *group, const char *action);
/* The group {id} in the caller's scope, else 404 as for none (replied). */
int api_find_group(struct http_req *r, const struct caller *s, const char *id_text, struct store_group *g);
void api_machine(struct http_req *r);
void api_telemetry(struct http_req *r);
void api_events(struct http_req *r);
void api_quality(struct http_req *r);
/* quality.c */
void api_rulesets_list(struct http_req *r);
void api_rulesets_show(struct http_req *r);
void api_rulesets_upload(struct http_req *r);
void api_compliance(struct http_req *r);
/* usage.c: beverage counts and service forecasts */
void api_beverages(struct http_req *r);
void api_forecasts(struct http_req *r);
/* A page of a machine's records of one kind (machines.c): telemetry, events, reports. */
void api_records_route(struct http_req *r, enum record_kind kind);
/* reports.c */
void api_reports_list(struct http_req *r);
void api_reports_add(struct http_req *r);

/* ---- policy.c ---- */
/* Does this installation use customers' data for purpose? ("none" and
 * "administration" always.) */
int api_purpose_enabled(const struct api *a, const char *purpose);
/* The facts of the privacy policy this daemon enforces now (new reference). */
json_t *api_policy_facts(struct api *a);
/* Keeps the draft in step with those facts (at start, and when the data
 * controller is named): policy_draft_refresh. */
int api_policy_refresh(struct api *a);
void api_policy(struct http_req *r);
void api_policy_versions(struct http_req *r);
void api_policy_draft(struct http_req *r);
void api_policy_prose(struct http_req *r);
void api_policy_controller(struct http_req *r);
void api_policy_publish(struct http_req *r);
void api_consent(struct http_req *r);

void api_audit_list(struct http_req *r);
void api_access_report(struct http_req *r);

void api_orgs_list(struct http_req *r);
void api_orgs_add(struct http_req *r);
void api_users_list(struct http_req *r);
void api_users_add(struct http_req *r);
void api_users_delete(struct http_req *r);

void api_export(struct http_req *r);
void api_customer_delete(struct http_req *r);

void api_jobs_create(struct http_req *r);
void api_jobs_list(struct http_req *r);
void api_jobs_get(struct http_req *r);
void api_jobs_cancel(struct http_req *r);
/* provision.c */
void api_machines_add(struct http_req *r);
void api_machines_batch(struct http_req *r);
void api_machine_renew(struct http_req *r);
void api_certificates_audit(struct http_req *r);
/* fleet_admin.c */
void api_sites_list(struct http_req *r);
void api_sites_add(struct http_req *r);
void api_sites_update(struct http_req *r);
void api_groups_list(struct http_req *r);
void api_groups_add(struct http_req *r);
void api_group_machines(struct http_req *r);
void api_group_machines_add(struct http_req *r);
void api_group_machines_remove(struct http_req *r);
void api_machine_move(struct http_req *r);
void api_machine_decommission(struct http_req *r);
void api_org_deactivate(struct http_req *r);
void api_org_activate(struct http_req *r);
void api_user_deactivate(struct http_req *r);
void api_user_activate(struct http_req *r);

void api_alerts_list(struct http_req *r);
void api_alerts_get(struct http_req *r);
void api_alerts_acknowledge(struct http_req *r);
void api_alerts_resolve(struct http_req *r);
void api_alerts_comment(struct http_req *r);
void api_alert_rules_get(struct http_req *r);
void api_alert_rules_put(struct http_req *r);

void api_grants_list(struct http_req *r);
void api_grants_add(struct http_req *r);
void api_grants_delete(struct http_req *r);

void api_webhooks_list(struct http_req *r);
void api_webhooks_add(struct http_req *r);
void api_webhooks_delete(struct http_req *r);
void api_webhooks_rotate(struct http_req *r);
void api_webhooks_deliveries(struct http_req *r);
void api_webhooks_test(struct http_req *r);
void api_me_notifications(struct http_req *r);
void api_me_notifications_set(struct http_req *r);

#endif
