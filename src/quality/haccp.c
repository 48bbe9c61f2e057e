/* haccp.c - the signed cleaning report of a site; see haccp.h. */
#define _GNU_SOURCE /* asprintf */
#include "quality/haccp.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/err.h"
#include "common/zone.h"
#include "quality/compliance.h"
#include "quality/ruleset.h"
#include "records/records.h"

/* The columns of the report's table, in the order every row carries them. */
#define HACCP_COLUMNS "kind,customer,site,serial,model,program,result,duration_s,time_utc,time_local,until_utc," \
	              "until_local,detail,seq,signature"

enum row_kind { ROW_CLEANING, ROW_MISSED, ROW_SCHEDULE };
static const char *const kind_names[] = { "cleaning", "missed", "schedule" };

/* One cleaning event as the machine sent it (ingest validated it). */
struct cleaning {
	int64_t ts, seq;
	char program[24], result[16], duration[32]; /* duration as the row shows it, "" when not sent */
	json_t *duration_s;                         /* as the JSON item shows it, NULL when not sent */
};

struct cleanings {
	struct cleaning *c;
	size_t n, cap;
	int rc;
};

static const char *const results[] = { "ok", "aborted", "failed", NULL };

static int known_result(const char *s)
{
	size_t i;

	for (i = 0; results[i] != NULL; i++)
		if (strcmp(s, results[i]) == 0)
			return 1;
	return 0;
}

static int on_event(void *ctx, const struct record_out *rec)
{
	struct cleanings *cs = ctx;
	json_t *e, *d;
	const char *type, *program, *result;
	struct cleaning *c;

	/* Most events are brews: only a body naming a cleaning is parsed. */
	if (memmem(rec->body, rec->body_len, "\"cleaning\"", 10) == NULL)
		return 0;
	e = json_loadb(rec->body, rec->body_len, 0, NULL);
	type = json_string_value(json_object_get(e, "type"));
	program = json_string_value(json_object_get(e, "program"));
	result = json_string_value(json_object_get(e, "result"));

	/* Only the values the event's schema allows reach a signed row: the
	 * rows are comma-separated and never quoted. */
	if (type == NULL || strcmp(type, "cleaning") != 0 || program == NULL || result == NULL ||
	    quality_program_find(program, strlen(program)) < 0 || !known_result(result)) {
		json_decref(e);
		return 0;
	}
	if (cs->n == cs->cap) {
		size_t cap = cs->cap ? 2 * cs->cap : 64;
		struct cleaning *grown = realloc(cs->c, cap * sizeof(*grown));

		if (grown == NULL) {
			json_decref(e);
			return CC_ERR_NOMEM;
		}
		cs->c = grown;
		cs->cap = cap;
	}
	c = &cs->c[cs->n++];
	memset(c, 0, sizeof(*c));
	c->ts = rec->ts_ms;
	c->seq = rec->seq;
	snprintf(c->program, sizeof(c->program), "%s", program);
	snprintf(c->result, sizeof(c->result), "%s", result);
	d = json_object_get(e, "duration_s");
	if (json_is_integer(d)) {
		snprintf(c->duration, sizeof(c->duration), "%lld", (long long)json_integer_value(d));
		c->duration_s = json_incref(d);
	} else if (json_is_real(d)) {
		snprintf(c->duration, sizeof(c->duration), "%.1f", json_real_value(d));
		c->duration_s = json_real(strtod(c->duration, NULL));
	}
	json_decref(e);
	return 0;
}

static int by_time(const void *a, const void *b)
{
	const struct cleaning *x = a, *y = b;

	if (x->ts != y->ts)
		return x->ts < y->ts ? -1 : 1;
	return x->seq < y->seq ? -1 : x->seq > y->seq;
}

static void iso_utc(int64_t ms, char out[32])
{
	time_t t = (time_t)(ms / 1000);
	struct tm tm;

	gmtime_r(&t, &tm);
	strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/* The wall clock of the site, with its offset from UTC (+01:00). */
static void iso_local(const char *zone, int64_t ms, char out[40])
{
	time_t t = (time_t)(ms / 1000);
	struct tm tm;
	int off;
	char base[32];

	zone_localtime(zone, t, &tm);
	/* Zones are within a day of UTC. */
	off = (int)(tm.tm_gmtoff % 86400);
	strftime(base, sizeof(base), "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(out, 40, "%.20s%c%02d:%02d", base, off < 0 ? '-' : '+', (off < 0 ? -off : off) / 3600,
	         ((off < 0 ? -off : off) % 3600) / 60);
}

/* ---- the report ---- */

struct report {
	const struct signing_key *k;
	const struct haccp_query *q;
	const char *zone;
	FILE *csv;
	char *csv_text;
	size_t csv_len;
	json_t *records, *missed, *schedule;
	int rc;
};

/* Renders one row, signs it, appends it to the CSV and its item to list.
 * until 0: none; seq < 0: none. */
static void row(struct report *r, enum row_kind kind, const struct store_machine *m, const char *program,
                const char *result, const char *duration, int64_t ts, int64_t until, const char *detail, int64_t seq,
                json_t *item)
{
	char tu[32] = "", tl[40] = "", uu[32] = "", ul[40] = "", seqs[24] = "", sig[SIGNING_SIG_B64_LEN];
	char *line = NULL;
	int len;

	if (r->rc != CC_OK || item == NULL) {
		json_decref(item);
		r->rc = r->rc != CC_OK ? r->rc : CC_ERR_NOMEM;
		return;
	}
	if (ts > 0) {
		iso_utc(ts, tu);
		iso_local(r->zone, ts, tl);
	}
	if (until > 0) {
		iso_utc(until, uu);
		iso_local(r->zone, until, ul);
	}
	if (seq >= 0)
		snprintf(seqs, sizeof(seqs), "%lld", (long long)seq);
	/* The signed bytes: the row without its signature column, ending in a
	 * newline (what `cut -d, -f1-14` prints of it). */
	len = asprintf(&line, "%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s\n", kind_names[kind], r->q->customer, r->q->site,
	               m->serial, m->model, program, result, duration, tu, tl, uu, ul, detail, seqs);
	if (len < 0) {
		json_decref(item);
		r->rc = CC_ERR_NOMEM;
		return;
	}
	r->rc = signing_sign_b64(r->k, line, (size_t)len, sig);
	if (r->rc == CC_OK) {
		fprintf(r->csv, "%.*s,%s\n", len - 1, line, sig);
		json_object_set_new(item, "serial", json_string(m->serial));
		json_object_set_new(item, "model", json_string(m->model));
		json_object_set_new(item, "program", json_string(program));
		if (ts > 0) {
			json_object_set_new(item, "time_utc", json_string(tu));
			json_object_set_new(item, "time_local", json_string(tl));
		}
		if (until > 0) {
			json_object_set_new(item, "until_utc", json_string(uu));
			json_object_set_new(item, "until_local", json_string(ul));
		}
		json_object_set_new(item, "signed", json_stringn(line, (size_t)len));
		json_object_set_new(item, "signature", json_string(sig));
		json_array_append(kind == ROW_CLEANING ? r->records : kind == ROW_MISSED ? r->missed : r->schedule, item);
	}
	json_decref(item);
	free(line);
}

static int64_t json_ms(json_t *o, const char *key)
{
	return json_integer_value(json_object_get(o, key));
}

/* What was due of one program, and when it was missed (compliance.h's schedule item). */
static void schedule_rows(struct report *r, const struct store_machine *m, json_t *s)
{
	const char *program = json_string_value(json_object_get(s, "program"));
	json_t *span, *every_l = json_object_get(s, "every_l");
	char rule[64], detail[192], last[32] = "-";
	int64_t last_ms = json_ms(s, "last_ms"), version = json_ms(s, "ruleset_version");
	size_t i;

	if (program == NULL)
		return;
	if (json_is_number(every_l))
		snprintf(rule, sizeof(rule), "every %g l", json_number_value(every_l));
	else
		snprintf(rule, sizeof(rule), "every %lld h + %lld h grace", (long long)json_ms(s, "every_h"),
		         (long long)json_ms(s, "grace_h"));
	json_array_foreach(json_object_get(s, "overdue_spans"), i, span) {
		snprintf(detail, sizeof(detail), "not done within %s (rule set version %lld)", rule, (long long)version);
		row(r, ROW_MISSED, m, program, "missed", "", json_ms(span, "from_ms"), json_ms(span, "to_ms"), detail, -1,
		    json_pack("{s:I, s:I, s:s, s:I}", "from", (json_int_t)json_ms(span, "from_ms"), "to",
		              (json_int_t)json_ms(span, "to_ms"), "rule", rule, "ruleset_version", (json_int_t)version));
	}
	if (last_ms > 0)
		iso_utc(last_ms, last);
	snprintf(detail, sizeof(detail), "%s; done %lld; due %lld; missed %lld; last %s; rule set version %lld", rule,
	         (long long)json_ms(s, "done"), (long long)json_ms(s, "due"), (long long)json_ms(s, "overdue"), last,
	         (long long)version);
	row(r, ROW_SCHEDULE, m, program, "", "", 0, 0, detail, -1,
	    json_pack("{s:s, s:I, s:I, s:I, s:O, s:I}", "rule", rule, "done", (json_int_t)json_ms(s, "done"), "due",
	              (json_int_t)json_ms(s, "due"), "missed", (json_int_t)json_ms(s, "overdue"), "last_ms",
	              json_object_get(s, "last_ms") ? json_object_get(s, "last_ms") : json_null(), "ruleset_version",
	              (json_int_t)version));
}

static int machine_rows(struct report *r, struct vault *v, const struct compliance_rules *rules,
                        const struct store_machine *m)
{
	struct cleanings cs;
	struct compliance_sum sum;
	json_t *detail = NULL, *s;
	size_t i;
	int rc;

	memset(&cs, 0, sizeof(cs));
	memset(&sum, 0, sizeof(sum));
	rc = records_get(v, m, RECORD_EVENT, r->q->from_ms, r->q->to_ms, on_event, &cs);
	if (rc == CC_OK)
		rc = compliance_machine(v, rules, m, r->q->from_ms, r->q->to_ms, r->q->now_ms, 1, 0, &sum, &detail);
	if (rc == CC_OK && cs.n > 1)
		qsort(cs.c, cs.n, sizeof(cs.c[0]), by_time);
	for (i = 0; rc == CC_OK && i < cs.n; i++) {
		const struct cleaning *c = &cs.c[i];
		json_t *item = json_pack("{s:I, s:I, s:s}", "ts", (json_int_t)c->ts, "seq", (json_int_t)c->seq, "result",
		                         c->result);

		if (item != NULL && c->duration_s != NULL)
			json_object_set(item, "duration_s", c->duration_s);
		row(r, ROW_CLEANING, m, c->program, c->result, c->duration, c->ts, 0, "", c->seq, item);
		rc = r->rc;
	}
	json_array_foreach(json_object_get(detail, "schedule"), i, s) {
		if (rc != CC_OK)
			break;
		schedule_rows(r, m, s);
		rc = r->rc;
	}
	json_decref(detail);
	compliance_sum_free(&sum);
	for (i = 0; i < cs.n; i++)
		json_decref(cs.c[i].duration_s);
	free(cs.c);
	return rc;
}

int haccp_report(struct vault *v, const struct signing_key *k, const struct haccp_query *q, json_t **out)
{
	struct compliance_rules *rules = NULL;
	struct report r;
	char from[32], to[32], sig[SIGNING_SIG_B64_LEN];
	json_t *serials = json_array();
	FILE *body = NULL;
	char *body_text = NULL;
	size_t body_len = 0, i;
	int rc;

	*out = NULL;
	memset(&r, 0, sizeof(r));
	r.k = k;
	r.q = q;
	r.zone = q->timezone != NULL && q->timezone[0] != '\0' ? q->timezone : "UTC";
	r.records = json_array();
	r.missed = json_array();
	r.schedule = json_array();
	if (q->from_ms < 0 || q->from_ms >= q->to_ms) {
		rc = CC_ERR_INVALID;
		goto out;
	}
	/* The rows first (their counts head the report), then the whole. */
	body = open_memstream(&body_text, &body_len);
	r.csv = body;
	rc = body != NULL && serials != NULL && r.records != NULL && r.missed != NULL && r.schedule != NULL
	             ? compliance_rules_load(vault_store(v), &rules)
	             : CC_ERR_NOMEM;
	for (i = 0; rc == CC_OK && i < q->nmachines; i++) {
		json_array_append_new(serials, json_string(q->machines[i].serial));
		rc = machine_rows(&r, v, rules, &q->machines[i]);
	}
	if (body != NULL && fclose(body) != 0 && rc == CC_OK)
		rc = CC_ERR_NOMEM;
	body = NULL;
	if (rc != CC_OK)
		goto out;
	iso_utc(q->from_ms, from);
	iso_utc(q->to_ms, to);
	{
		FILE *csv = open_memstream(&r.csv_text, &r.csv_len);
		size_t n;
		json_t *s;

		if (csv == NULL) {
			rc = CC_ERR_NOMEM;
			goto out;
		}
		fprintf(csv, "format,%s\ncustomer,%s\nsite,%s\ntimezone,%s\nfrom_utc,%s\nto_utc,%s\nkey_id,%s\nmachines,",
		        HACCP_FORMAT, q->customer, q->site, r.zone, from, to, k->id);
		json_array_foreach(serials, n, s)
			fprintf(csv, "%s%s", n ? " " : "", json_string_value(s));
		fprintf(csv, "\ncleanings_total,%zu\nmissed_total,%zu\n%s\n", json_array_size(r.records), json_array_size(r.missed),
		        HACCP_COLUMNS);
		fwrite(body_text != NULL ? body_text : "", 1, body_len, csv);
		if (fclose(csv) != 0 || r.csv_text == NULL) {
			rc = CC_ERR_NOMEM;
			goto out;
		}
	}
	rc = signing_sign_b64(k, r.csv_text, r.csv_len, sig);
	if (rc != CC_OK)
		goto out;
	*out = json_pack("{s:s, s:s, s:s, s:s, s:I, s:I, s:s, s:s, s:s, s:O, s:O, s:O, s:O, s:s%, s:s}", "format",
	                 HACCP_FORMAT, "customer", q->customer, "site", q->site, "timezone", r.zone, "from",
	                 (json_int_t)q->from_ms, "to", (json_int_t)q->to_ms, "from_utc", from, "to_utc", to, "key_id", k->id,
	                 "machines", serials, "records", r.records, "missed", r.missed, "schedule", r.schedule, "csv",
	                 r.csv_text, r.csv_len, "signature", sig);
	if (*out == NULL)
		rc = CC_ERR_NOMEM;
out:
	if (body != NULL)
		fclose(body);
	free(body_text);
	free(r.csv_text);
	compliance_rules_free(rules);
	json_decref(serials);
	json_decref(r.records);
	json_decref(r.missed);
	json_decref(r.schedule);
	return rc != CC_OK ? rc : r.rc;
}

struct site_machines {
	struct store_machine *m;
	size_t n, cap;
};

static int add_machine(void *ctx, const struct store_machine_status *row)
{
	struct site_machines *ms = ctx;

	if (ms->n == ms->cap) {
		size_t cap = ms->cap ? 2 * ms->cap : 16;
		struct store_machine *grown = realloc(ms->m, cap * sizeof(*grown));

		if (grown == NULL)
			return CC_ERR_NOMEM;
		ms->m = grown;
		ms->cap = cap;
	}
	ms->m[ms->n++] = row->m;
	return 0;
}

int haccp_site_report(struct vault *v, const struct store_org *customer, const struct store_site *site,
                      int64_t from_ms, int64_t to_ms, int64_t now_ms, json_t **out)
{
	struct store *st = vault_store(v);
	struct store_machine_filter f;
	struct site_machines ms = { NULL, 0, 0 };
	struct signing_key k;
	struct haccp_query q;
	int rc;

	memset(&f, 0, sizeof(f));
	f.customer_id = customer->id;
	f.site = site->name;
	rc = st->ops->machine_status_list(st, &f, add_machine, &ms);
	if (rc == CC_OK)
		rc = signing_key_load(v, &k);
	if (rc == CC_OK) {
		memset(&q, 0, sizeof(q));
		q.customer = customer->name;
		q.site = site->name;
		q.timezone = site->timezone;
		q.from_ms = from_ms;
		q.to_ms = to_ms;
		q.now_ms = now_ms;
		q.machines = ms.m;
		q.nmachines = ms.n;
		rc = haccp_report(v, &k, &q, out);
		signing_key_wipe(&k);
	}
	free(ms.m);
	return rc;
}
