/* api.c - the route table, and the api object's life. */
#include "api/internal.h"

#include <stdio.h>
#include <stdlib.h>

#include "api/audit_queue.h"
#include "common/err.h"
#include "common/strmap.h"

/* The body fields each writing route takes: anything else is refused (400)
 * by the dispatcher before the handler runs. */
static const char *const login_fields[] = { "login", "password", "totp", NULL };
static const char *const code_fields[] = { "code", NULL };
static const char *const report_fields[] = { "type", "work", "parts", "outcome", "duration_min", "travel_min",
	                                       "performed", "note", NULL };
static const char *const publish_fields[] = { "last_updated", NULL };
static const char *const prose_fields[] = { "language", "clause", "text", NULL };
static const char *const machine_config_fields[] = { "config", "reason", NULL };
static const char *const config_template_fields[] = { "org", "model", "config", "reason", NULL };
static const char *const config_limits_fields[] = { "customer", "model", "limits", NULL };
static const char *const controller_fields[] = { "name", "address", "contact", NULL };
static const char *const consent_fields[] = { "customer", "version", "language", NULL };
static const char *const org_fields[] = { "name", "kind", "parent", NULL };
static const char *const user_fields[] = { "login", "role", "org", "display_name", "email", "password", NULL };
static const char *const grant_fields[] = { "login", "serial", "customer", "site", "purpose", "expires", NULL };
static const char *const token_fields[] = { "name", "org", "role", "expires", "rate_per_min", NULL };
static const char *const password_fields[] = { "current_password", "new_password", NULL };
static const char *const reset_fields[] = { "new_password", NULL };
static const char *const maintenance_fields[] = { "reason", "until", NULL };
static const char *const job_fields[] = { "command", "body", "target", "timeout_s", NULL };
static const char *const machine_add_fields[] = { "serial", "model", "customer", "site", "csr", "validity_days", NULL };
static const char *const machine_batch_fields[] = { "machines", "validity_days", HTTP_ALSO_CSV, NULL };
static const char *const renew_fields[] = { "csr", "validity_days", NULL };
static const char *const site_fields[] = { "customer", "name", "address", "lat", "lon", "timezone", "hours", NULL };
static const char *const place_fields[] = { "address", "lat", "lon", "timezone", "hours", NULL };
static const char *const group_fields[] = { "customer", "name", "parent", "filter", NULL };
static const char *const member_fields[] = { "serial", NULL };
static const char *const move_fields[] = { "customer", "site", NULL };
static const char *const decommission_fields[] = { "confirm", NULL };
static const char *const webhook_fields[] = { "org", "url", NULL };
static const char *const notify_pref_fields[] = { "email", "kinds", "sites", "quiet", "tz", "language", NULL };
static const char *const alert_comment_fields[] = { "text", NULL };
static const char *const alert_rule_fields[] = { "org", "rule", "enabled", "params", NULL };
static const char *const retention_fields[] = { "customer", "kind", "days", NULL };
static const char *const ruleset_fields[] = { "model", "name", "products", "telemetry", "cleaning", NULL };
static const char *const release_key_fields[] = { "public_key", "label", NULL };
static const char *const offer_fields[] = { "serial", NULL };
static const char *const upload_fields[] = { "metadata", NULL };
static const char *const ticket_fields[] = { "serial", "alert", "title", "description", NULL };
static const char *const ticket_assign_fields[] = { "login", NULL };
static const char *const ticket_state_fields[] = { "state", NULL };
static const char *const ticket_close_fields[] = { "report", NULL };
static const char *const rollout_fields[] = { "artifact", "config", "reason", "target", "phases", "soak",
	                                      "threshold", "min_reports", "window", "health_margin",
	                                      "compliance_margin", "effective", "take_back", NULL };
static const char *const progress_fields[] = { "sha256", "state", "percent", "reason", NULL };

/* Machine data routes serve each role its own classes of the data: the
 * handler cuts fields to the caller's classes (ingest/catalogue.h). */
#define MACHINE_DATA "technical,service,usage"

/*
 * One row per route: method, path, the purpose it serves (policy consent),
 * the data classes it reads, who may call it, the body it takes, the
 * handler, and the OpenAPI summary. The dispatcher (http/server.c) and the
 * guard (caller.c) enforce all of it before the handler runs.
 */
static const struct http_route routes[] = {
	{ EVHTTP_REQ_GET, "/policy", "none", "none", HTTP_OPEN, NULL, api_policy,
	  "the current privacy policy: HTML for browsers, JSON otherwise (lang, or Accept-Language)" },
	{ EVHTTP_REQ_GET, "/api/v1/openapi.json", "none", "none", HTTP_OPEN, NULL, api_openapi, "this document" },
	{ EVHTTP_REQ_GET, "/api/v1/signing-key", "none", "none", HTTP_OPEN, NULL, api_signing_key,
	  "the public key (Ed25519, PEM) that verifies what this installation signs (format=pem: the PEM text alone)" },
	{ EVHTTP_REQ_POST, "/api/v1/auth/login", "none", "none", HTTP_OPEN, login_fields, api_login,
	  "sign in: a session token" },
	{ EVHTTP_REQ_POST, "/api/v1/auth/logout", "none", "none", HTTP_SIGNED_IN, NULL, api_logout, "end the session" },
	{ EVHTTP_REQ_GET, "/api/v1/me", "none", "none", HTTP_SIGNED_IN, NULL, api_me,
	  "who is signed in (or which API token)" },
	{ EVHTTP_REQ_GET, "/api/v1/me/data", "none", "none", HTTP_PERSON, NULL, api_me_data,
	  "everything held about the signed-in person: account, sessions, API tokens they issued, their audit "
	  "trail (newest 1000; before: an audit seq for older)" },
	{ EVHTTP_REQ_POST, "/api/v1/me/deletion", "none", "none", HTTP_PERSON, NULL, api_me_deletion,
	  "ask for one's account to be deleted (an admin of one's organisation confirms; idempotent)" },
	{ EVHTTP_REQ_POST, "/api/v1/me/totp", "none", "none", HTTP_PERSON, code_fields, api_totp_enrol,
	  "a new TOTP secret as an otpauth:// URI (a current code replaces one in force)" },
	{ EVHTTP_REQ_POST, "/api/v1/me/totp/confirm", "none", "none", HTTP_PERSON, code_fields, api_totp_confirm,
	  "turn TOTP on with the first code" },
	{ EVHTTP_REQ_DELETE, "/api/v1/me/totp", "none", "none", HTTP_PERSON, code_fields, api_totp_disable,
	  "turn TOTP off (with a current code)" },
	{ EVHTTP_REQ_GET, "/api/v1/machines", "support", "status", HTTP_DATA, NULL, api_machines,
	  "machines the caller sees, with their status, by serial (customer: a customer's name; site: a site's "
	  "name; status: online, offline, revoked, decommissioned, active (default: in service) or all; model; "
	  "version: software version; group: a group's id (its sub-groups too; a dynamic group's filter); "
	  "error: connection, refused, any or none; last_seen_after, last_seen_before: epoch ms; "
	  "sort: fields (serial, model, customer, site, last_seen, online, created), - for descending; "
	  "facets: counts per status, model, version, site, customer over the filtered set; limit (1000, at most "
	  "10000), cursor)" },
	{ EVHTTP_REQ_GET, "/api/v1/machines/{serial}", "support", "status", HTTP_DATA, NULL, api_machine,
	  "one machine's status, and the latest reading of every metric of the caller's classes (latest.read_at: "
	  "each one's time)" },
	{ EVHTTP_REQ_GET, "/api/v1/machines/{serial}/telemetry", "support", MACHINE_DATA, HTTP_DATA, NULL, api_telemetry,
	  "a machine's telemetry, metrics of the caller's classes only (from, to: epoch ms; metric; "
	  "step: buckets of step ms, from the per-minute summaries when from, to and step are whole minutes; "
	  "stats: mean, min, max per bucket (default mean); format: rows, or columns (one array per metric); "
	  "limit, cursor)" },
	{ EVHTTP_REQ_GET, "/api/v1/machines/{serial}/events", "support", MACHINE_DATA, HTTP_DATA, NULL, api_events,
	  "a machine's events, types of the caller's classes only, an error with its catalogue entry as "
	  "`explained` (from, to: epoch ms; type; lang: en or hu; limit, cursor)" },
	{ EVHTTP_REQ_GET, "/api/v1/machines/{serial}/reports", "support", "service", HTTP_DATA, NULL, api_reports_list,
	  "installation and service reports of a machine: type, work codes, parts, outcome, durations, note, author "
	  "(from, to: epoch ms; limit, cursor)" },
	{ EVHTTP_REQ_POST, "/api/v1/machines/{serial}/reports", "support", "service", HTTP_DATA, report_fields,
	  api_reports_add, "file an installation or service report: type, work (codes of the work catalogue), outcome, "
	  "and optionally parts (part numbers), duration_min, travel_min, performed (epoch ms), note (<= 280 "
	  "characters, no personal data); docs/METRICS.md" },
	{ EVHTTP_REQ_GET, "/api/v1/machines/{serial}/timeline", "support", "status,technical,service", HTTP_DATA, NULL,
	  api_timeline, "one machine's story by time: online/offline with the reason, faults, maintenance, errors "
	  "with their catalogue entry, cleanings, updates, commands, service reports, tickets; each item cut to the caller's "
	  "classes (from, to: epoch ms, default the last 7 days, at most 92; lang: en or hu; the newest 1,000)" },
	{ EVHTTP_REQ_GET, "/api/v1/machines/{serial}/quality", "quality", "technical,usage", HTTP_DATA, NULL, api_quality,
	  "brews against the model's quality rule set (docs/QUALITY.md; each brew by the version judging its "
	  "day), from, to: epoch ms; compliance for technical roles, brew counts for usage roles" },
	{ EVHTTP_REQ_GET, "/api/v1/health-scores", "support", "status", HTTP_DATA, NULL, api_health_scores,
	  "the health score (0-100) of the machines the caller sees, worst first, each with the parts it is made "
	  "of, counted only for the caller's data classes (docs/OPERATIONS.md \"Health\"; customer, site: which "
	  "machines; limit: how many, 1-1000, default 50; count: how many were scored)" },
	{ EVHTTP_REQ_GET, "/api/v1/site-locations", "support", "status", HTTP_DATA, NULL, api_site_locations,
	  "the sites of the machines the caller sees (the fleet list's scope and consent), each with its coarse "
	  "position (lat, lon: 2 decimals, about 1 km; absent when not given) and how many of those machines are "
	  "there (customer: a customer's name; site: a site's name)" },
	{ EVHTTP_REQ_GET, "/api/v1/quality/rulesets", "quality", "technical", HTTP_DATA, NULL, api_rulesets_list,
	  "the quality rule sets: every version of every model's, and the shipped ones (version 0) (model)" },
	{ EVHTTP_REQ_GET, "/api/v1/quality/rulesets/{model}", "quality", "technical", HTTP_DATA, NULL,
	  api_rulesets_show, "one model's rule set with its document: the newest, or version= (0: the shipped one); "
	  "docs/QUALITY.md" },
	{ EVHTTP_REQ_POST, "/api/v1/quality/rulesets", "quality", "technical", HTTP_DATA, ruleset_fields,
	  api_rulesets_upload, "upload a model's rule set (the manufacturer's engineers): the body is the document "
	  "(model, name, products, telemetry, cleaning; docs/QUALITY.md), validated; stored as the model's next version" },
	/* Software updates (docs/UPDATES.md): the release keys (platform administrators), artifacts and offers
	 * (the manufacturer's engineers: checked in the handler); machines with their certificate, no credential. */
	{ EVHTTP_REQ_GET, "/api/v1/release-keys", "updates", "admin", HTTP_PLATFORM, NULL, api_release_keys_list,
	  "the release keys the platform trusts, and the revoked ones" },
	{ EVHTTP_REQ_POST, "/api/v1/release-keys", "updates", "admin", HTTP_PLATFORM, release_key_fields,
	  api_release_keys_add, "trust a release key (public_key: Ed25519, PEM; label)" },
	{ EVHTTP_REQ_POST, "/api/v1/release-keys/{id}/revoke", "updates", "admin", HTTP_PLATFORM, NULL,
	  api_release_keys_revoke, "stop trusting a release key, for good: its artifacts are no longer offered" },
	{ EVHTTP_REQ_GET, "/api/v1/artifacts", "updates", "technical", HTTP_DATA, NULL, api_artifacts_list,
	  "the stored update artifacts, newest first (the manufacturer's engineers)" },
	{ EVHTTP_REQ_GET, "/api/v1/artifacts/{sha256}", "updates", "technical", HTTP_DATA, NULL, api_artifacts_show,
	  "one artifact: its signed metadata and release notes" },
	{ EVHTTP_REQ_POST, "/api/v1/artifacts", "updates", "technical", HTTP_DATA, upload_fields, api_artifacts_upload,
	  "start an artifact's upload with its signed metadata (release sign), checked before any of the file" },
	{ EVHTTP_REQ_POST, "/api/v1/artifacts/{sha256}/content", "updates", "technical", HTTP_DATA, NULL,
	  api_artifacts_content, "one slice of the artifact (application/octet-stream body, at most 1 MiB) at "
	  "offset, the bytes received so far; the last publishes it, checked against the signed size and SHA-256" },
	{ EVHTTP_REQ_POST, "/api/v1/artifacts/{sha256}/offers", "updates", "technical", HTTP_DATA, offer_fields,
	  api_artifacts_offer, "offer the artifact to a machine (serial), replacing its offer" },
	{ EVHTTP_REQ_GET, "/api/v1/machine/update", "updates", "none", HTTP_OPEN, NULL, api_machine_update,
	  "for machines, with their certificate (mutual TLS): the update offered, as an offer signed by the "
	  "installation's key for 24 h and the release key's signed metadata" },
	{ EVHTTP_REQ_GET, "/api/v1/machine/artifacts/{sha256}", "updates", "none", HTTP_OPEN, NULL,
	  api_machine_artifact, "for machines, with their certificate (mutual TLS): the artifact offered to them "
	  "(application/octet-stream; one Range for a resumed download)" },
	/* Diagnostics bundles (docs/METRICS.md "Diagnostics bundles"): people with the technical class ask
	 * and download; the machine uploads with its certificate, no credential. */
	{ EVHTTP_REQ_POST, "/api/v1/machines/{serial}/diagnostics", "support", "technical", HTTP_DATA, NULL,
	  api_diagnostics_request, "ask the machine for a diagnostics bundle: the \"diagnostics\" command tells it "
	  "where to upload it (within 24 h, at most diagnostics_max_bytes)" },
	{ EVHTTP_REQ_GET, "/api/v1/machines/{serial}/diagnostics", "support", "technical", HTTP_DATA, NULL,
	  api_diagnostics_list, "the machine's diagnostics bundles, newest first, with their state (limit: 1-200, "
	  "default 50; cursor: next_cursor of the page before)" },
	{ EVHTTP_REQ_GET, "/api/v1/diagnostics", "support", "technical", HTTP_DATA, NULL, api_diagnostics_list_all,
	  "diagnostics bundles the caller may see, newest first (serial: one machine's, the rows it had before a move "
	  "too: the customer it then belonged to and the manufacturer keep seeing those; limit: 1-200, cursor)" },
	{ EVHTTP_REQ_GET, "/api/v1/diagnostics/{id}", "support", "technical", HTTP_DATA, NULL, api_diagnostics_show,
	  "one diagnostics bundle: state (requested, uploading, complete, failed, expired), size, SHA-256" },
	{ EVHTTP_REQ_GET, "/api/v1/diagnostics/{id}/content", "support", "technical", HTTP_DATA, NULL,
	  api_diagnostics_content, "download a complete bundle (application/octet-stream), unsealed as it is sent" },
	{ EVHTTP_REQ_POST, "/api/v1/machine/diagnostics/{id}", "support", "none", HTTP_OPEN, NULL,
	  api_machine_diagnostics_upload, "for machines, with their certificate (mutual TLS): one slice of the "
	  "bundle asked for (application/octet-stream, at most 1 MiB) at offset, the bytes received so far (409 "
	  "with received when another); final=true and sha256 (hex) on the last, which checks the whole" },
	/* Remote configuration (docs/CONFIGURATION-REMOTE.md): the technical roles, as for jobs (setting one
	 * sends the machine the config command); the machine fetches a large one with its certificate. */
	{ EVHTTP_REQ_GET, "/api/v1/machines/{serial}/config", "support", "technical", HTTP_DATA, NULL,
	  api_machine_config_show, "the machine's configuration: the newest desired version (who, when, why), what "
	  "the machine reports it runs, and the status: unset, pending, in_sync, rejected (with the machine's reason), "
	  "drifted (changed at the panel: drift names the first member that differs)" },
	{ EVHTTP_REQ_POST, "/api/v1/machines/{serial}/config", "support", "technical", HTTP_DATA, machine_config_fields,
	  api_machine_config_set, "set the machine's desired configuration (config: recipes and settings, validated "
	  "for its model, no prices or payment settings; reason: why, <= 200 characters, no personal data): stored as "
	  "its next version and sent with the config command" },
	{ EVHTTP_REQ_GET, "/api/v1/machines/{serial}/config/history", "support", "technical", HTTP_DATA, NULL,
	  api_machine_config_history, "every desired version of the machine's configuration, newest first, with "
	  "who, when, why and the document (limit: 1-200, default 50; before: a version)" },
	{ EVHTTP_REQ_GET, "/api/v1/machines/{serial}/config/effective", "support", "technical", HTTP_DATA, NULL,
	  api_machine_config_effective, "the machine's effective configuration: its model's templates from the "
	  "manufacturer down to its customer, its own desired version on top, and where each value comes from" },
	{ EVHTTP_REQ_GET, "/api/v1/config/templates", "support", "technical", HTTP_DATA, NULL, api_config_templates_list,
	  "the configuration templates and limits an organisation in the caller's subtree holds (org: its name)" },
	{ EVHTTP_REQ_POST, "/api/v1/config/templates", "support", "technical", HTTP_DATA, config_template_fields,
	  api_config_template_set, "set an organisation's configuration template for a model (org, model, config, "
	  "reason), inherited by the machines below it; a customer's own people within the manufacturer's limits" },
	{ EVHTTP_REQ_POST, "/api/v1/config/limits", "support", "technical", HTTP_DATA, config_limits_fields,
	  api_config_limits_set, "the manufacturer's limits on what a customer's own people may configure for a "
	  "model (customer, model, limits: products, recipe and settings ranges within the model's)" },
	{ EVHTTP_REQ_GET, "/api/v1/machine/config", "support", "none", HTTP_OPEN, NULL, api_machine_config_fetch,
	  "for machines, with their certificate (mutual TLS): the newest desired configuration, when the config "
	  "command could not carry it (over 2,048 bytes)" },
	/* Staged rollouts (docs/UPDATES.md): whoever offers artifacts; machines report with their certificate. */
	{ EVHTTP_REQ_POST, "/api/v1/rollouts", "updates", "technical", HTTP_DATA, rollout_fields, api_rollouts_create,
	  "start a staged rollout of an artifact (artifact: its sha256) or of a configuration (config: a document, "
	  "reason: why; each machine's desired configuration, succeeded when it applies it, failed when it rejects "
	  "it); target: group, serials or filter {model, "
	  "version, site, customer}; phases: cumulative percentages, default [1, 10, 50, 100]; soak: seconds between "
	  "phases; threshold: % of a phase's finished machines that may fail before it halts; min_reports; window: "
	  "maintenance hours in each site's local time); machines in another active rollout are skipped" },
	{ EVHTTP_REQ_GET, "/api/v1/rollouts", "updates", "technical", HTTP_DATA, NULL, api_rollouts_list,
	  "the rollouts, newest first (state: running, paused, halted, aborted, completed)" },
	{ EVHTTP_REQ_GET, "/api/v1/rollouts/{id}", "updates", "technical", HTTP_DATA, NULL, api_rollouts_show,
	  "one rollout: its progress per state and per phase, and each machine's state, download percent and reason" },
	{ EVHTTP_REQ_POST, "/api/v1/rollouts/{id}/pause", "updates", "technical", HTTP_DATA, NULL, api_rollouts_act,
	  "pause a running rollout: no new offers until resumed" },
	{ EVHTTP_REQ_POST, "/api/v1/rollouts/{id}/resume", "updates", "technical", HTTP_DATA, NULL, api_rollouts_act,
	  "resume a paused rollout" },
	{ EVHTTP_REQ_POST, "/api/v1/rollouts/{id}/abort", "updates", "technical", HTTP_DATA, NULL, api_rollouts_act,
	  "abort a rollout (running, paused or halted): offers not yet taken are withdrawn, its machines freed" },
	{ EVHTTP_REQ_GET, "/api/v1/machines/{serial}/update", "updates", "technical", HTTP_DATA, NULL,
	  api_machine_update_status, "the machine's update status: the artifact it is offered (by a rollout, "
	  "named, or to it alone), and the state, download percent and reason it last reported" },
	{ EVHTTP_REQ_POST, "/api/v1/machine/update/progress", "updates", "none", HTTP_OPEN, progress_fields,
	  api_machine_update_progress, "for machines, with their certificate (mutual TLS): progress on the artifact "
	  "offered, by a rollout or to it alone (state: offered, downloading, verifying, installing, rebooting, "
	  "succeeded, failed, rolled_back; "
	  "percent; reason: a refusal name of docs/UPDATES.md)" },
	{ EVHTTP_REQ_GET, "/api/v1/compliance", "quality", "technical,usage", HTTP_DATA, NULL, api_compliance,
	  "quality compliance of the machines the caller sees (org: a customer's name; site; machine: a serial; from, "
	  "to: epoch ms, default the last 7 days, at most 92): brews in spec per product and day, breaches with their "
	  "times and values, cleanings done against due; in total, per customer, site and machine; each day names "
	  "the rule set version that judged it. Shares and breaches for technical roles, brew counts for usage roles" },
	/* Cleaning records are service data; auditors (food-safety inspectors
	 * among them) read compliance reports, so the audit class opens it too. */
	{ EVHTTP_REQ_GET, "/api/v1/haccp/cleaning-report", "quality", "service,audit", HTTP_DATA, NULL, api_haccp_report,
	  "the signed HACCP cleaning report of one site (docs/QUALITY.md): every cleaning of its machines, what was "
	  "due and missed by the rule set's schedule, each row and the whole signed with the installation's Ed25519 "
	  "key (site: the site's name; org: its customer, when the name is not unique; from, to: epoch ms, default the "
	  "last 7 days, at most 92; format: json, csv (the signed text, signature in X-Signature), sig (the "
	  "signature alone) or html (a printable page))" },
	{ EVHTTP_REQ_GET, "/api/v1/beverages", "quality", "usage", HTTP_DATA, NULL, api_beverages,
	  "beverages dispensed by the machines the caller sees (docs/OPERATIONS.md \"Beverage statistics\"): "
	  "counts of brew events, never prices, group_by any of product, machine, site, day, hour (the site's local "
	  "day and hour); per machine the cup counter's increase against the events and the gap (customer, site, "
	  "machine: which machines; from, to: epoch ms, default the last 7 days, at most 92)" },
	{ EVHTTP_REQ_GET, "/api/v1/forecasts", "support", "service", HTTP_DATA, NULL, api_forecasts,
	  "service due dates of the machines the caller sees (docs/OPERATIONS.md \"Maintenance forecasts\"): brew "
	  "unit, grinder burrs, water filter, descaling, each with its basis (interval, last service, counter, rate "
	  "per day); overdue and due-soon lists (customer, site, machine; due_within_days: 0-365, default 14)" },
	{ EVHTTP_REQ_GET, "/api/v1/availability", "downtime", "status", HTTP_DATA, NULL, api_availability,
	  "availability of the machines the caller sees (docs/OPERATIONS.md): availability %, downtime, "
	  "incidents, MTBF and MTTR in total and by= machine, site, customer or distributor (customer, site, "
	  "serial: which machines; from, to: epoch ms, default the last 30 days; business_hours=true: only within "
	  "each site's business hours)" },
	{ EVHTTP_REQ_POST, "/api/v1/machines/{serial}/maintenance", "downtime", "service", HTTP_DATA,
	  maintenance_fields, api_maintenance_start, "put the machine in maintenance until a planned end (reason: "
	  "planned_service, repair, installation, cleaning, descaling, relocation, other; until: epoch ms, at "
	  "most 30 days ahead): neither up nor down time" },
	{ EVHTTP_REQ_DELETE, "/api/v1/machines/{serial}/maintenance", "downtime", "service", HTTP_DATA, NULL,
	  api_maintenance_end, "end the machine's maintenance now (409 when it is not in maintenance)" },
	{ EVHTTP_REQ_GET, "/api/v1/errors", "support", "technical,service", HTTP_DATA, NULL, api_errors,
	  "the error-code catalogue (version, and per code: model, severity, data class, text, action), cut to the "
	  "caller's classes (model: one model's view; lang: en or hu)" },
	{ EVHTTP_REQ_GET, "/api/v1/retention", "none", "none", HTTP_SIGNED_IN, NULL, api_retention,
	  "how long each kind of record is kept: the installation's days and the shorter terms agreed with customers "
	  "in the caller's scope (customer=NAME: that one's, agreed or not)" },
	{ EVHTTP_REQ_POST, "/api/v1/retention", "administration", "admin", HTTP_PLATFORM, retention_fields,
	  api_retention_set, "agree a shorter retention with a customer: customer, kind (telemetry, rollups, events, "
	  "reports, tickets), days (0 removes the term)" },
	{ EVHTTP_REQ_GET, "/api/v1/policy/versions", "none", "none", HTTP_SIGNED_IN, NULL, api_policy_versions,
	  "every version of the privacy policy" },
	{ EVHTTP_REQ_POST, "/api/v1/policy/versions", "administration", "admin", HTTP_PLATFORM, publish_fields,
	  api_policy_publish, "publish the draft as the next version (last_updated: YYYY-MM-DD, default today)" },
	{ EVHTTP_REQ_GET, "/api/v1/policy/draft", "administration", "admin", HTTP_PLATFORM, NULL, api_policy_draft,
	  "the draft the running configuration made (lang), 404 when the published version says it all" },
	{ EVHTTP_REQ_POST, "/api/v1/policy/draft/prose", "administration", "admin", HTTP_PLATFORM, prose_fields,
	  api_policy_prose, "replace the draft's text of one clause in one language (language, clause, text)" },
	{ EVHTTP_REQ_POST, "/api/v1/policy/controller", "administration", "admin", HTTP_PLATFORM, controller_fields,
	  api_policy_controller, "name the data controller (name, address, contact); the draft follows" },
	{ EVHTTP_REQ_POST, "/api/v1/consents", "administration", "none", HTTP_PERSON, consent_fields, api_consent,
	  "record a customer's consent to a policy version in a language (the customer's own managers)" },
	{ EVHTTP_REQ_GET, "/api/v1/customers/{id}/export", "administration", "none", HTTP_SIGNED_IN, NULL, api_export,
	  "everything stored for a customer's machines, decrypted (format=json|csv; csv: one table, "
	  "table=telemetry|events|reports)" },
	{ EVHTTP_REQ_DELETE, "/api/v1/customers/{id}", "administration", "admin", HTTP_ADMIN, NULL, api_customer_delete,
	  "erase a customer: certificates revoked, rows deleted, data key destroyed; a signed receipt" },
	{ EVHTTP_REQ_GET, "/api/v1/audit", "administration", "audit", HTTP_DATA, NULL, api_audit_list,
	  "audit records (from, to: epoch ms; action; serial; limit <= 1000), newest first" },
	{ EVHTTP_REQ_GET, "/api/v1/customers/{id}/access-report", "administration", "none", HTTP_SIGNED_IN, NULL,
	  api_access_report, "who read which of a customer's machines' data, when and why" },
	{ EVHTTP_REQ_GET, "/api/v1/orgs", "administration", "admin", HTTP_ADMIN, NULL, api_orgs_list,
	  "organisations in the caller's subtree (admins)" },
	{ EVHTTP_REQ_POST, "/api/v1/orgs", "administration", "admin", HTTP_ADMIN, org_fields, api_orgs_add,
	  "add a distributor or customer under an organisation of the caller's subtree" },
	{ EVHTTP_REQ_GET, "/api/v1/users", "administration", "admin", HTTP_ADMIN, NULL, api_users_list,
	  "accounts in the caller's subtree, personal fields opened (admins; audited)" },
	{ EVHTTP_REQ_POST, "/api/v1/users", "administration", "admin", HTTP_ADMIN, user_fields, api_users_add,
	  "add an account (login: a handle, not the person's name, kept by the audit log and never reused; role, "
	  "org, password, display_name, email)" },
	{ EVHTTP_REQ_DELETE, "/api/v1/users/{login}", "administration", "admin", HTTP_ADMIN, NULL, api_users_delete,
	  "delete an account in the caller's subtree (requested or not): sessions end, grants to it go, "
	  "personal fields destroyed, the login retired; audit records keep the login as a pseudonym" },
	{ EVHTTP_REQ_GET, "/api/v1/grants", "administration", "admin", HTTP_GRANTS, NULL, api_grants_list,
	  "grants in the caller's organisation (admins, service managers)" },
	{ EVHTTP_REQ_POST, "/api/v1/grants", "administration", "admin", HTTP_GRANTS, grant_fields, api_grants_add,
	  "grant a subcontractor one machine or site, or site staff their own site, for a purpose, until an expiry "
	  "(people, not API tokens)" },
	{ EVHTTP_REQ_DELETE, "/api/v1/grants/{id}", "administration", "admin", HTTP_GRANTS, NULL, api_grants_delete,
	  "revoke a grant (also the customer's own admins, for grants on its machines)" },
	{ EVHTTP_REQ_GET, "/api/v1/tokens", "administration", "admin", HTTP_ADMIN, NULL, api_tokens_list,
	  "API tokens of partner systems in the caller's subtree (admins)" },
	{ EVHTTP_REQ_POST, "/api/v1/tokens", "administration", "admin", HTTP_ADMIN, token_fields, api_tokens_add,
	  "issue an API token (name, org, role, expires, rate_per_min); shown once" },
	{ EVHTTP_REQ_DELETE, "/api/v1/tokens/{id}", "administration", "admin", HTTP_ADMIN, NULL, api_tokens_delete,
	  "revoke an API token" },
	{ EVHTTP_REQ_POST, "/api/v1/me/password", "none", "none", HTTP_PERSON, password_fields, api_password_change,
	  "change one's password (current_password, new_password); ends one's other sessions" },
	{ EVHTTP_REQ_POST, "/api/v1/users/{login}/password", "administration", "admin", HTTP_ADMIN, reset_fields,
	  api_password_reset, "set an account's password (new_password; admins, in their subtree; audited); ends "
	  "its sessions" },
	{ EVHTTP_REQ_POST, "/api/v1/jobs", "support", "technical", HTTP_DATA, job_fields, api_jobs_create,
	  "send a command (update-offer, diagnostics, config; body: a JSON object) to machines in the caller's "
	  "scope: target {serial}, {serials: [...]}, {filter: {customer, site, status, model}}; timeout_s "
	  "(default 3600); tracked per machine (docs/METRICS.md \"Commands and jobs\")" },
	{ EVHTTP_REQ_GET, "/api/v1/jobs", "support", "technical", HTTP_DATA, NULL, api_jobs_list,
	  "jobs with a machine in the caller's scope, newest first, with how many targets are in each state "
	  "(limit (50, at most 200), cursor)" },
	{ EVHTTP_REQ_GET, "/api/v1/jobs/{id}", "support", "technical", HTTP_DATA, NULL, api_jobs_get,
	  "one job: each target's state (queued, sent, acknowledged, succeeded, failed, timed out, cancelled), "
	  "its times (ISO 8601 UTC) and the machine's reason or result" },
	{ EVHTTP_REQ_POST, "/api/v1/jobs/{id}/cancel", "support", "technical", HTTP_DATA, NULL, api_jobs_cancel,
	  "cancel the job's open targets in the caller's scope; results that come later are ignored, counted" },
	{ EVHTTP_REQ_POST, "/api/v1/machines", "administration", "admin", HTTP_ADMIN, machine_add_fields,
	  api_machines_add, "register a machine of a customer in the caller's subtree with its CSR (PEM, EC P-256; "
	  "serial, model, customer, site, csr, validity_days): its certificate and the CA" },
	{ EVHTTP_REQ_POST, "/api/v1/machines/batch", "administration", "admin", HTTP_ADMIN, machine_batch_fields,
	  api_machines_batch, "register up to 1000 machines with their CSRs, all or none: application/json "
	  "{machines: [{serial, model, customer, site, csr}], validity_days}, or text/csv with a header line "
	  "serial,model,customer[,site],csr (PEM in double quotes; validity_days in the query); 400 names each "
	  "bad item by its position or CSV line" },
	{ EVHTTP_REQ_POST, "/api/v1/machines/{serial}/certificate", "administration", "admin", HTTP_ADMIN,
	  renew_fields, api_machine_renew, "renew a machine's certificate for a CSR with a new key (csr, "
	  "validity_days); the previous one is accepted for 7 more days at most" },
	{ EVHTTP_REQ_GET, "/api/v1/certificates/audit", "administration", "admin", HTTP_ADMIN, NULL,
	  api_certificates_audit, "machine certificates expiring within expiring_days (30), revoked but connected, "
	  "or never used, in the caller's subtree" },
	/* The fleet as managed (fleet_admin.c): a path takes what the listing calls `id`. */
	{ EVHTTP_REQ_GET, "/api/v1/sites", "administration", "admin", HTTP_ADMIN, NULL, api_sites_list,
	  "sites of the customers in the caller's subtree (customer: one customer's); id: what /sites/{id} takes" },
	{ EVHTTP_REQ_POST, "/api/v1/sites", "administration", "admin", HTTP_ADMIN, site_fields, api_sites_add,
	  "add a site of a customer (customer, name; address, lat and lon with at most 2 decimals, timezone: a tz "
	  "database zone, hours: business hours such as \"mon-fri 07:00-19:00; sat 08:00-12:00\")" },
	{ EVHTTP_REQ_POST, "/api/v1/sites/{id}", "administration", "admin", HTTP_ADMIN, place_fields, api_sites_update,
	  "change a site's address, position (lat and lon together; \"\" clears), time zone or business hours" },
	{ EVHTTP_REQ_GET, "/api/v1/groups", "administration", "admin", HTTP_ADMIN, NULL, api_groups_list,
	  "machine groups of the customers in the caller's subtree (customer); id: what /groups/{id} takes" },
	{ EVHTTP_REQ_POST, "/api/v1/groups", "administration", "admin", HTTP_ADMIN, group_fields, api_groups_add,
	  "add a group of a customer (customer, name; parent: a group's id; filter: fleet-list filters, which make "
	  "it dynamic: its machines are computed)" },
	{ EVHTTP_REQ_GET, "/api/v1/groups/{id}/machines", "administration", "status", HTTP_ADMIN, NULL,
	  api_group_machines, "the group's machines (and its sub-groups'), as the fleet list shows them, with its "
	  "filters, sort and facets" },
	{ EVHTTP_REQ_POST, "/api/v1/groups/{id}/machines", "administration", "admin", HTTP_ADMIN, member_fields,
	  api_group_machines_add, "list a machine of the group's customer in the group (serial)" },
	{ EVHTTP_REQ_DELETE, "/api/v1/groups/{id}/machines/{serial}", "administration", "admin", HTTP_ADMIN, NULL,
	  api_group_machines_remove, "take a machine out of the group" },
	{ EVHTTP_REQ_POST, "/api/v1/machines/{serial}/move", "administration", "admin", HTTP_ADMIN, move_fields,
	  api_machine_move, "move a machine to a site (site; null: none) or to another customer (customer, site): "
	  "what was recorded before stays with the customer that owned the machine then" },
	{ EVHTTP_REQ_POST, "/api/v1/machines/{serial}/decommission", "administration", "admin", HTTP_ADMIN,
	  decommission_fields, api_machine_decommission, "decommission a machine (confirm: its serial): certificate "
	  "revoked, connection dropped, kept for its data until erasure; listed with status=decommissioned" },
	{ EVHTTP_REQ_POST, "/api/v1/orgs/{id}/deactivate", "administration", "admin", HTTP_ADMIN, NULL,
	  api_org_deactivate, "deactivate an organisation of the caller's subtree ({id}: its name): its accounts "
	  "and API tokens, and those below it, stop working; its machines keep sending" },
	{ EVHTTP_REQ_POST, "/api/v1/orgs/{id}/activate", "administration", "admin", HTTP_ADMIN, NULL, api_org_activate,
	  "activate a deactivated organisation again" },
	{ EVHTTP_REQ_POST, "/api/v1/users/{login}/deactivate", "administration", "admin", HTTP_ADMIN, NULL,
	  api_user_deactivate, "deactivate an account: it cannot sign in, its sessions end at once" },
	{ EVHTTP_REQ_POST, "/api/v1/users/{login}/activate", "administration", "admin", HTTP_ADMIN, NULL,
	  api_user_activate, "activate a deactivated account again (it signs in anew)" },
	{ EVHTTP_REQ_GET, "/api/v1/webhooks", "administration", "admin", HTTP_ADMIN, NULL, api_webhooks_list,
	  "webhook endpoints of organisations in the caller's subtree (admins)" },
	{ EVHTTP_REQ_POST, "/api/v1/webhooks", "administration", "admin", HTTP_ADMIN, webhook_fields,
	  api_webhooks_add, "add a webhook endpoint (org, url: https, no internal address); its signing secret is "
	  "in the answer, once" },
	{ EVHTTP_REQ_DELETE, "/api/v1/webhooks/{id}", "administration", "admin", HTTP_ADMIN, NULL,
	  api_webhooks_delete, "remove a webhook endpoint (its undelivered notifications end as gone)" },
	{ EVHTTP_REQ_POST, "/api/v1/webhooks/{id}/rotate-secret", "administration", "admin", HTTP_ADMIN, NULL,
	  api_webhooks_rotate, "a new signing secret, in the answer once; the previous one stays valid for 24 hours" },
	{ EVHTTP_REQ_POST, "/api/v1/webhooks/{id}/enable", "administration", "admin", HTTP_ADMIN, NULL,
	  api_webhooks_enable, "enable an endpoint again (one disabled after persistent failure): deliveries resume" },
	{ EVHTTP_REQ_GET, "/api/v1/webhooks/{id}/deliveries", "administration", "admin", HTTP_ADMIN, NULL,
	  api_webhooks_deliveries, "an endpoint's notifications, newest first, each with its attempts (limit)" },
	{ EVHTTP_REQ_POST, "/api/v1/webhooks/{id}/test", "administration", "admin", HTTP_ADMIN, NULL,
	  api_webhooks_test, "queue a test notification to this endpoint" },
	{ EVHTTP_REQ_GET, "/api/v1/me/notifications", "none", "none", HTTP_PERSON, NULL, api_me_notifications,
	  "one's notification e-mail preferences: on or off, kinds, sites, quiet hours, time zone, language" },
	{ EVHTTP_REQ_POST, "/api/v1/me/notifications", "none", "none", HTTP_PERSON, notify_pref_fields,
	  api_me_notifications_set, "change one's notification e-mail preferences (the fields sent)" },
	{ EVHTTP_REQ_GET, "/api/v1/alerts", "downtime", "status", HTTP_DATA, NULL, api_alerts_list,
	  "alerts of the machines in the caller's scope, newest first (state: open, acknowledged, resolved or "
	  "unresolved; severity; rule; serial; customer; site; limit (50, at most 500), cursor); the cause's detail "
	  "(an error code, a consumable) only for roles that see the rule's data class (docs/OPERATIONS.md \"Alerts\")" },
	{ EVHTTP_REQ_GET, "/api/v1/alerts/{id}", "downtime", "status", HTTP_DATA, NULL, api_alerts_get,
	  "one alert with its history: who did what when (opened, acknowledged, resolved, commented, escalated)" },
	{ EVHTTP_REQ_POST, "/api/v1/alerts/{id}/acknowledge", "downtime", "status", HTTP_DATA, NULL,
	  api_alerts_acknowledge, "acknowledge an open alert (it stops escalating); 409 when it is not open" },
	{ EVHTTP_REQ_POST, "/api/v1/alerts/{id}/resolve", "downtime", "status", HTTP_DATA, NULL, api_alerts_resolve,
	  "resolve an alert by hand; 409 when it is resolved" },
	{ EVHTTP_REQ_POST, "/api/v1/alerts/{id}/comment", "downtime", "status", HTTP_DATA, alert_comment_fields,
	  api_alerts_comment, "comment on an alert (text: <= 280 characters, no personal data; sealed)" },
	{ EVHTTP_REQ_GET, "/api/v1/alert-rules", "administration", "admin", HTTP_ADMIN, NULL, api_alert_rules_get,
	  "the alert rules in force for an organisation of the caller's subtree (org, default the caller's own): "
	  "enabled, parameters with bounds, and whose setting it is (its own, an ancestor's, or the default)" },
	{ EVHTTP_REQ_POST, "/api/v1/alert-rules", "administration", "admin", HTTP_ADMIN, alert_rule_fields,
	  api_alert_rules_put, "set an organisation's own setting of a rule (org, rule, enabled, params: an object "
	  "of the rule's parameters; those left out keep the value in force); its subtree inherits it" },
	/* Service tickets (tickets.c): the customer's people and the service side of its machines. */
	{ EVHTTP_REQ_POST, "/api/v1/tickets", "support", "service", HTTP_DATA, ticket_fields, api_tickets_open,
	  "open a service ticket for a machine (serial; title <= 120 characters, description <= 2000, no personal "
	  "data; alert: an alert of the machine to open it from); the customer and its service company are told" },
	{ EVHTTP_REQ_GET, "/api/v1/tickets", "support", "service", HTTP_DATA, NULL, api_tickets_list,
	  "service tickets of the machines in the caller's scope, newest first (machine: a serial; site: a site's "
	  "name; customer; state, or unclosed; limit (50, at most 500), cursor)" },
	{ EVHTTP_REQ_GET, "/api/v1/tickets/{id}", "support", "service", HTTP_DATA, NULL, api_tickets_get,
	  "one ticket with its history: who did what when, comments, the service report" },
	{ EVHTTP_REQ_POST, "/api/v1/tickets/{id}/comments", "support", "service", HTTP_DATA, alert_comment_fields,
	  api_tickets_comment, "comment on a ticket (text: <= 2000 characters, no personal data; sealed); 409 when closed" },
	{ EVHTTP_REQ_POST, "/api/v1/tickets/{id}/assign", "support", "service", HTTP_DATA, ticket_assign_fields,
	  api_tickets_assign, "assign a ticket (login: an account of the service company that serves the machine, or "
	  "a subcontractor granted it); the service side only; the assignee is told" },
	{ EVHTTP_REQ_POST, "/api/v1/tickets/{id}/state", "support", "service", HTTP_DATA, ticket_state_fields,
	  api_tickets_state, "move a ticket (state: in_progress, waiting_customer, resolved; open reopens a resolved "
	  "or closed one); the customer answers a ticket waiting for it; 409 for a step the state does not allow" },
	{ EVHTTP_REQ_POST, "/api/v1/tickets/{id}/close", "support", "service", HTTP_DATA, ticket_close_fields,
	  api_tickets_close, "close a ticket with a service report (report: {work: <= 2000 characters, parts: part "
	  "numbers or names, counters_reset: service counters}); the service side only" },
	{ 0, NULL, NULL, NULL, HTTP_OPEN, NULL, NULL, NULL },
};

const struct http_route *api_routes(void) { return routes; }

int api_new(struct event_base *base, struct vault *vault, const struct api_opts *opts, struct api **out)
{
	struct api *a = calloc(1, sizeof(*a));
	int rc;

	if (a == NULL)
		return CC_ERR_NOMEM;
	a->base = base;
	a->vault = vault;
	a->opts = *opts;
	a->opts.machines_tls = a->opts.people_tls = NULL;
	a->opts.purposes = NULL;
	if (a->opts.downloads_max < 1)
		a->opts.downloads_max = 1;
	snprintf(a->purposes, sizeof(a->purposes), "%s", opts->purposes != NULL ? opts->purposes : "");
	a->machines_tls = json_deep_copy(opts->machines_tls);
	a->people_tls = json_deep_copy(opts->people_tls);
	if (strmap_new(&a->buckets) != CC_OK || api_logins_start(a) != CC_OK) {
		strmap_free(a->buckets);
		json_decref(a->machines_tls);
		json_decref(a->people_tls);
		free(a);
		return CC_ERR_NOMEM;
	}
	a->opts.data_dir = a->opts.master_key_file = NULL;
	rc = opts->data_dir != NULL ? audit_queue_start(base, opts->data_dir, opts->master_key_file, &a->audits) : CC_OK;
	if (rc == CC_OK)
		rc = api_policy_refresh(a);
	if (rc != CC_OK) {
		api_free(a);
		return rc;
	}
	*out = a;
	return CC_OK;
}

static int free_value(void *ctx, const char *key, void *value)
{
	(void)ctx;
	(void)key;
	free(value);
	return 0;
}

void api_free(struct api *a)
{
	if (a == NULL)
		return;
	audit_queue_stop(a->audits);
	api_logins_stop(a);
	api_exports_stop(a);
	api_downloads_stop(a);
	api_diag_downloads_stop(a);
	strmap_foreach(a->buckets, free_value, NULL);
	strmap_free(a->buckets);
	json_decref(a->machines_tls);
	json_decref(a->people_tls);
	free(a);
}
