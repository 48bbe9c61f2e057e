/*
 * message.c - the decoder and schema checks of message.h.
 *
 * Every reason string below is either a fixed phrase or formatted from a
 * catalogue entry's own name (never from the key that found it): nothing a
 * machine sent can reach the verdict, and so the logs.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <jansson.h>

#include "common/clock.h"
#include "common/err.h"
#include "common/limits.h"
#include "common/log.h"
#include "ingest/catalogue.h"
#include "ingest/jscan.h"
#include "ingest/message.h"

const char *message_kind_name(enum message_kind kind)
{
	switch (kind) {
	case MESSAGE_TELEMETRY:
		return "telemetry";
	case MESSAGE_EVENT:
		return "event";
	case MESSAGE_INFO:
		return "info";
	}
	return "?";
}

/* Returns 0 so that checks can `return refuse(...)`. */
static int refuse(struct message_verdict *out, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static int refuse(struct message_verdict *out, const char *fmt, ...)
{
	va_list ap;

	out->accepted = 0;
	va_start(ap, fmt);
	vsnprintf(out->reason, sizeof(out->reason), fmt, ap);
	va_end(ap);
	return 0;
}

static int refuse_privacy(struct message_verdict *out, enum privacy_reason r)
{
	out->privacy = r;
	return refuse(out, "refused by the privacy filter: %s", privacy_reason_name(r));
}

static void accept(struct message_verdict *out)
{
	out->accepted = 1;
	snprintf(out->reason, sizeof(out->reason), "ok");
}

/* A payload we could not decode: privacy first, on the raw bytes. */
static int refuse_raw(struct message_verdict *out, const uint8_t *p, size_t len, const char *why)
{
	enum privacy_reason r = privacy_scan_json_text((const char *)p, len);

	if (r != PRIVACY_NONE)
		return refuse_privacy(out, r);
	return refuse(out, "%s", why);
}

/* Arrays and objects nested deeper than INGEST_DEPTH_MAX, counted outside
 * strings. jansson parses recursively; this keeps hostile nesting away. */
static int too_deep(const uint8_t *p, size_t len)
{
	size_t i, depth = 0;
	int in_str = 0;

	for (i = 0; i < len; i++) {
		uint8_t c = p[i];

		if (in_str) {
			if (c == '\\')
				i++;
			else if (c == '"')
				in_str = 0;
			continue;
		}
		if (c == '"') {
			in_str = 1;
		} else if (c == '[' || c == '{') {
			if (++depth > INGEST_DEPTH_MAX)
				return 1;
		} else if ((c == ']' || c == '}') && depth > 0) {
			depth--;
		}
	}
	return 0;
}

static const char *decode_error(const json_error_t *e)
{
	switch (json_error_code(e)) {
	case json_error_duplicate_key:
		return "duplicate key";
	case json_error_invalid_utf8:
		return "invalid UTF-8";
	case json_error_null_character:
	case json_error_null_byte_in_key:
		return "NUL character in a string";
	case json_error_numeric_overflow:
		return "number out of range";
	case json_error_stack_overflow:
		return "nesting too deep";
	case json_error_premature_end_of_input:
		return "truncated JSON";
	case json_error_end_of_input_expected:
		return "data after the JSON document";
	default:
		return "invalid JSON";
	}
}

/* A key jansson handed us; keys with an embedded NUL cannot be looked up. */
static const char *plain_key(void *it)
{
	const char *k = json_object_iter_key(it);

	return strlen(k) == json_object_iter_key_len(it) ? k : NULL;
}

/* 1 if every key of obj is one of allowed[] (NULL-terminated). */
static int only_keys(json_t *obj, const char *const *allowed)
{
	void *it;

	for (it = json_object_iter(obj); it != NULL; it = json_object_iter_next(obj, it)) {
		const char *k = plain_key(it);
		size_t i;

		if (k == NULL)
			return 0;
		for (i = 0; allowed[i] != NULL; i++)
			if (strcmp(k, allowed[i]) == 0)
				break;
		if (allowed[i] == NULL)
			return 0;
	}
	return 1;
}

static int read_seq_ts(json_t *doc, int64_t now_ms, struct message_verdict *out)
{
	json_t *seq = json_object_get(doc, "seq"), *ts = json_object_get(doc, "ts");
	json_int_t n;

	if (seq == NULL)
		return refuse(out, "missing seq");
	if (!json_is_integer(seq))
		return refuse(out, "seq is not an integer");
	n = json_integer_value(seq);
	if (n < 1 || n > INGEST_SEQ_MAX)
		return refuse(out, "seq out of range (1..999999999999)");
	out->seq = n;
	if (ts == NULL)
		return refuse(out, "missing ts");
	if (!json_is_integer(ts))
		return refuse(out, "ts is not an integer (epoch milliseconds)");
	n = json_integer_value(ts);
	if (n < INGEST_TS_MIN_MS || n > now_ms + INGEST_TS_FUTURE_MS)
		return refuse(out, "ts out of range (2020-01-01 .. now + 1 day)");
	out->ts_ms = n;
	return 1;
}

static int check_telemetry(json_t *doc, const char *model, int64_t now_ms, struct message_verdict *out)
{
	static const char *const keys[] = { "seq", "ts", "m", NULL };
	json_t *m;
	void *it;

	if (!only_keys(doc, keys))
		return refuse(out, "unexpected top-level field in telemetry");
	if (!read_seq_ts(doc, now_ms, out))
		return 0;
	m = json_object_get(doc, "m");
	if (m == NULL)
		return refuse(out, "missing m");
	if (!json_is_object(m))
		return refuse(out, "m is not an object");
	if (json_object_size(m) == 0)
		return refuse(out, "m is empty");
	if (json_object_size(m) > INGEST_METRICS_MAX)
		return refuse(out, "too many metrics (max %d)", INGEST_METRICS_MAX);
	for (it = json_object_iter(m); it != NULL; it = json_object_iter_next(m, it)) {
		const char *k = plain_key(it);
		const struct catalogue_metric *met = k != NULL ? catalogue_find_metric(model, k) : NULL;
		json_t *v = json_object_iter_value(it);

		if (met == NULL)
			return refuse(out, "unknown metric for this model");
		if (!json_is_number(v))
			return refuse(out, "metric '%s' is not a number", met->name);
		if (met->integer_only && !json_is_integer(v))
			return refuse(out, "metric '%s' must be an integer", met->name);
		if (!catalogue_metric_accepts(met, json_number_value(v), json_is_integer(v)))
			return refuse(out, "metric '%s' out of range", met->name);
	}
	return 1;
}

static int check_field(const struct catalogue_event *ev, const struct catalogue_field *f, json_t *v,
                       struct message_verdict *out)
{
	if (f->type == CATALOGUE_FIELD_NUMBER) {
		if (!json_is_number(v))
			return refuse(out, "%s event: field '%s' is not a number", ev->type, f->name);
		if (f->integer_only && !json_is_integer(v))
			return refuse(out, "%s event: field '%s' must be an integer", ev->type, f->name);
		if (!catalogue_field_accepts_number(f, json_number_value(v), json_is_integer(v)))
			return refuse(out, "%s event: field '%s' out of range", ev->type, f->name);
		return 1;
	}
	if (!json_is_string(v))
		return refuse(out, "%s event: field '%s' is not a string", ev->type, f->name);
	if (!catalogue_field_accepts_string(f, json_string_value(v), json_string_length(v)))
		return refuse(out, "%s event: field '%s' has a value that is not allowed", ev->type, f->name);
	return 1;
}

static int check_event(json_t *doc, int64_t now_ms, struct message_verdict *out)
{
	const struct catalogue_event *ev;
	json_t *type;
	size_t i;
	void *it;

	if (!read_seq_ts(doc, now_ms, out))
		return 0;
	type = json_object_get(doc, "type");
	if (type == NULL)
		return refuse(out, "missing type");
	if (!json_is_string(type))
		return refuse(out, "type is not a string");
	ev = strlen(json_string_value(type)) == json_string_length(type)
	             ? catalogue_find_event(json_string_value(type))
	             : NULL;
	if (ev == NULL)
		return refuse(out, "unknown event type");
	snprintf(out->event_type, sizeof(out->event_type), "%s", ev->type);
	for (it = json_object_iter(doc); it != NULL; it = json_object_iter_next(doc, it)) {
		const char *k = plain_key(it);
		const struct catalogue_field *f;

		if (k != NULL && (strcmp(k, "seq") == 0 || strcmp(k, "ts") == 0 || strcmp(k, "type") == 0))
			continue;
		f = k != NULL ? catalogue_find_field(ev, k) : NULL;
		if (f == NULL)
			return refuse(out, "%s event: field not allowed", ev->type);
		if (!check_field(ev, f, json_object_iter_value(it), out))
			return 0;
	}
	for (i = 0; i < ev->nfields; i++)
		if (ev->fields[i].required && json_object_get(doc, ev->fields[i].name) == NULL)
			return refuse(out, "%s event: missing field '%s'", ev->type, ev->fields[i].name);
	return 1;
}

static int info_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
	       c == '_' || c == '+' || c == '-';
}

/* 1..max bytes of [A-Za-z0-9._+-], copied into buf (max + 1 bytes). */
static int info_string(json_t *doc, const char *key, size_t max, char *buf, struct message_verdict *out)
{
	json_t *v = json_object_get(doc, key);
	const char *s;
	size_t len, i;

	if (v == NULL)
		return refuse(out, "info: missing %s", key);
	if (!json_is_string(v))
		return refuse(out, "info: %s is not a string", key);
	s = json_string_value(v);
	len = json_string_length(v);
	if (len == 0 || len > max)
		return refuse(out, "info: %s must be 1..%zu bytes", key, max);
	for (i = 0; i < len; i++)
		if (!info_char(s[i]))
			return refuse(out, "info: %s has characters outside [A-Za-z0-9._+-]", key);
	memcpy(buf, s, len);
	buf[len] = 0;
	return 1;
}

static int check_info(json_t *doc, struct message_verdict *out)
{
	static const char *const keys[] = { "model", "hw", "sw", NULL };

	if (!only_keys(doc, keys))
		return refuse(out, "unexpected field in info");
	return info_string(doc, "model", INGEST_MODEL_MAX, out->model, out) &&
	       info_string(doc, "hw", INGEST_HW_MAX, out->hw_rev, out) &&
	       info_string(doc, "sw", INGEST_SW_MAX, out->sw_version, out);
}

/* ---- the fast path: one pass of the scanner (jscan.h) ----------------- */

/* Top-level members kept for the schema checks. A document with more is
 * left to the reference decoder: no kind accepts more than a dozen. */
#define SCAN_MEMBERS 24

/* One top-level member: its key and, for scalars, its value. */
struct scan_member {
	const char *key;
	size_t klen;
	struct jscan_token v; /* type, s/len, i, d of the value (OBJECT/ARRAY for containers) */
};

/* Why the first failing metric of a telemetry message fails. */
enum scan_metric_fail { METRIC_OK = 0, METRIC_UNKNOWN, METRIC_NOT_NUMBER, METRIC_NOT_INTEGER, METRIC_RANGE };

struct scan_state {
	enum message_kind kind;
	const char *model;
	enum privacy_reason privacy;   /* the first reason in document order */
	struct scan_member top[SCAN_MEMBERS];
	size_t ntop;
	int want_value;                /* the next depth-1 token is the value of top[ntop - 1] */
	int in_m;                      /* inside telemetry's top-level "m" object */
	size_t nmetrics;
	const struct catalogue_metric *met; /* the metric whose value comes next */
	enum scan_metric_fail mfail;
	const struct catalogue_metric *mfail_met;
};

/* Returned by the callback when the document is beyond what the fast path
 * keeps; any value other than JSCAN_OK means "declined" to the caller. */
#define SCAN_TOO_MANY 2

static int key_is(const char *k, size_t klen, const char *lit)
{
	size_t n = strlen(lit);

	return klen == n && memcmp(k, lit, n) == 0;
}

static int is_number(const struct jscan_token *v)
{
	return v->type == JSCAN_INTEGER || v->type == JSCAN_REAL;
}

static void scan_privacy(struct scan_state *st, const struct jscan_token *t)
{
	switch (t->type) {
	case JSCAN_KEY:
		st->privacy = privacy_scan_key(t->s, t->len);
		break;
	case JSCAN_STRING:
		st->privacy = privacy_scan_text(t->s, t->len);
		break;
	case JSCAN_INTEGER:
		if (t->depth == 1 && st->want_value &&
		    privacy_ts_exempt(st->top[st->ntop - 1].key, st->top[st->ntop - 1].klen, t->i))
			break;
		st->privacy = privacy_scan_integer(t->i);
		break;
	case JSCAN_REAL:
		st->privacy = privacy_scan_real(t->d);
		break;
	default:
		break;
	}
}

/* A value inside "m": the metric's checks in the order of check_telemetry. */
static void scan_metric_value(struct scan_state *st, const struct jscan_token *v)
{
	const struct catalogue_metric *met = st->met;

	if (!is_number(v))
		st->mfail = METRIC_NOT_NUMBER;
	else if (met->integer_only && v->type != JSCAN_INTEGER)
		st->mfail = METRIC_NOT_INTEGER;
	else if (!catalogue_metric_accepts(met, v->d, v->type == JSCAN_INTEGER))
		st->mfail = METRIC_RANGE;
	if (st->mfail != METRIC_OK)
		st->mfail_met = met;
}

static int scan_token(void *ctx, const struct jscan_token *t)
{
	struct scan_state *st = ctx;

	if (st->privacy == PRIVACY_NONE)
		scan_privacy(st, t);
	if (t->depth == 1) {
		if (t->type == JSCAN_KEY) {
			if (st->ntop == SCAN_MEMBERS)
				return SCAN_TOO_MANY;
			st->top[st->ntop].key = t->s;
			st->top[st->ntop].klen = t->len;
			st->ntop++;
			st->want_value = 1;
		} else if (t->type == JSCAN_OBJECT_END) {
			st->in_m = 0;
		} else if (st->want_value) {
			struct scan_member *mb = &st->top[st->ntop - 1];

			mb->v = *t;
			st->want_value = 0;
			if (t->type == JSCAN_OBJECT && st->kind == MESSAGE_TELEMETRY && key_is(mb->key, mb->klen, "m"))
				st->in_m = 1;
		}
		return 0;
	}
	if (t->depth != 2 || !st->in_m)
		return 0;
	if (t->type == JSCAN_KEY) {
		st->nmetrics++;
		st->met = NULL;
		if (st->mfail != METRIC_OK)
			return 0;
		st->met = catalogue_find_metric_len(st->model, t->s, t->len);
		if (st->met == NULL)
			st->mfail = METRIC_UNKNOWN;
	} else if (t->type != JSCAN_OBJECT_END && t->type != JSCAN_ARRAY_END && st->met != NULL) {
		scan_metric_value(st, t);
		st->met = NULL;
	}
	return 0;
}

static const struct scan_member *scan_find(const struct scan_state *st, const char *key)
{
	size_t i;

	for (i = 0; i < st->ntop; i++)
		if (key_is(st->top[i].key, st->top[i].klen, key))
			return &st->top[i];
	return NULL;
}

/* 1 if every top-level key is one of allowed[] (NULL-terminated). */
static int scan_only_keys(const struct scan_state *st, const char *const *allowed)
{
	size_t i, j;

	for (i = 0; i < st->ntop; i++) {
		for (j = 0; allowed[j] != NULL; j++)
			if (key_is(st->top[i].key, st->top[i].klen, allowed[j]))
				break;
		if (allowed[j] == NULL)
			return 0;
	}
	return 1;
}

static int scan_seq_ts(const struct scan_state *st, int64_t now_ms, struct message_verdict *out)
{
	const struct scan_member *seq = scan_find(st, "seq"), *ts = scan_find(st, "ts");

	if (seq == NULL)
		return refuse(out, "missing seq");
	if (seq->v.type != JSCAN_INTEGER)
		return refuse(out, "seq is not an integer");
	if (seq->v.i < 1 || seq->v.i > INGEST_SEQ_MAX)
		return refuse(out, "seq out of range (1..999999999999)");
	out->seq = seq->v.i;
	if (ts == NULL)
		return refuse(out, "missing ts");
	if (ts->v.type != JSCAN_INTEGER)
		return refuse(out, "ts is not an integer (epoch milliseconds)");
	if (ts->v.i < INGEST_TS_MIN_MS || ts->v.i > now_ms + INGEST_TS_FUTURE_MS)
		return refuse(out, "ts out of range (2020-01-01 .. now + 1 day)");
	out->ts_ms = ts->v.i;
	return 1;
}

static int scan_telemetry(const struct scan_state *st, int64_t now_ms, struct message_verdict *out)
{
	static const char *const keys[] = { "seq", "ts", "m", NULL };
	const struct scan_member *m;
	const char *name = st->mfail_met != NULL ? st->mfail_met->name : "";

	if (!scan_only_keys(st, keys))
		return refuse(out, "unexpected top-level field in telemetry");
	if (!scan_seq_ts(st, now_ms, out))
		return 0;
	m = scan_find(st, "m");
	if (m == NULL)
		return refuse(out, "missing m");
	if (m->v.type != JSCAN_OBJECT)
		return refuse(out, "m is not an object");
	if (st->nmetrics == 0)
		return refuse(out, "m is empty");
	if (st->nmetrics > INGEST_METRICS_MAX)
		return refuse(out, "too many metrics (max %d)", INGEST_METRICS_MAX);
	switch (st->mfail) {
	case METRIC_OK:
		return 1;
	case METRIC_UNKNOWN:
		return refuse(out, "unknown metric for this model");
	case METRIC_NOT_NUMBER:
		return refuse(out, "metric '%s' is not a number", name);
	case METRIC_NOT_INTEGER:
		return refuse(out, "metric '%s' must be an integer", name);
	case METRIC_RANGE:
		return refuse(out, "metric '%s' out of range", name);
	}
	return refuse(out, "internal error");
}

static int scan_field(const struct catalogue_event *ev, const struct catalogue_field *f,
                      const struct jscan_token *v, struct message_verdict *out)
{
	if (f->type == CATALOGUE_FIELD_NUMBER) {
		if (!is_number(v))
			return refuse(out, "%s event: field '%s' is not a number", ev->type, f->name);
		if (f->integer_only && v->type != JSCAN_INTEGER)
			return refuse(out, "%s event: field '%s' must be an integer", ev->type, f->name);
		if (!catalogue_field_accepts_number(f, v->d, v->type == JSCAN_INTEGER))
			return refuse(out, "%s event: field '%s' out of range", ev->type, f->name);
		return 1;
	}
	if (v->type != JSCAN_STRING)
		return refuse(out, "%s event: field '%s' is not a string", ev->type, f->name);
	if (!catalogue_field_accepts_string(f, v->s, v->len))
		return refuse(out, "%s event: field '%s' has a value that is not allowed", ev->type, f->name);
	return 1;
}

static int scan_event(const struct scan_state *st, int64_t now_ms, struct message_verdict *out)
{
	const struct catalogue_event *ev;
	const struct scan_member *type;
	size_t i;

	if (!scan_seq_ts(st, now_ms, out))
		return 0;
	type = scan_find(st, "type");
	if (type == NULL)
		return refuse(out, "missing type");
	if (type->v.type != JSCAN_STRING)
		return refuse(out, "type is not a string");
	ev = catalogue_find_event_len(type->v.s, type->v.len);
	if (ev == NULL)
		return refuse(out, "unknown event type");
	snprintf(out->event_type, sizeof(out->event_type), "%s", ev->type);
	for (i = 0; i < st->ntop; i++) {
		const struct scan_member *mb = &st->top[i];
		const struct catalogue_field *f;

		if (key_is(mb->key, mb->klen, "seq") || key_is(mb->key, mb->klen, "ts") ||
		    key_is(mb->key, mb->klen, "type"))
			continue;
		f = catalogue_find_field_len(ev, mb->key, mb->klen);
		if (f == NULL)
			return refuse(out, "%s event: field not allowed", ev->type);
		if (!scan_field(ev, f, &mb->v, out))
			return 0;
	}
	for (i = 0; i < ev->nfields; i++)
		if (ev->fields[i].required && scan_find(st, ev->fields[i].name) == NULL)
			return refuse(out, "%s event: missing field '%s'", ev->type, ev->fields[i].name);
	return 1;
}

static int scan_info_string(const struct scan_state *st, const char *key, size_t max, char *buf,
                            struct message_verdict *out)
{
	const struct scan_member *mb = scan_find(st, key);
	size_t i;

	if (mb == NULL)
		return refuse(out, "info: missing %s", key);
	if (mb->v.type != JSCAN_STRING)
		return refuse(out, "info: %s is not a string", key);
	if (mb->v.len == 0 || mb->v.len > max)
		return refuse(out, "info: %s must be 1..%zu bytes", key, max);
	for (i = 0; i < mb->v.len; i++)
		if (!info_char(mb->v.s[i]))
			return refuse(out, "info: %s has characters outside [A-Za-z0-9._+-]", key);
	memcpy(buf, mb->v.s, mb->v.len);
	buf[mb->v.len] = 0;
	return 1;
}

static int scan_info(const struct scan_state *st, struct message_verdict *out)
{
	static const char *const keys[] = { "model", "hw", "sw", NULL };

	if (!scan_only_keys(st, keys))
		return refuse(out, "unexpected field in info");
	return scan_info_string(st, "model", INGEST_MODEL_MAX, out->model, out) &&
	       scan_info_string(st, "hw", INGEST_HW_MAX, out->hw_rev, out) &&
	       scan_info_string(st, "sw", INGEST_SW_MAX, out->sw_version, out);
}

/* Returns 1 with the verdict in *out, or 0 when the scanner declined the
 * document (out then holds nothing meaningful). */
static int check_scan(enum message_kind kind, const char *model, const uint8_t *payload, size_t len,
                      int64_t now_ms, struct message_verdict *out)
{
	struct jscan js;
	struct scan_state st;
	int ok;

	memset(&st, 0, sizeof(st));
	st.kind = kind;
	st.model = model;
	if (jscan_run(&js, payload, len, scan_token, &st) != JSCAN_OK)
		return 0;
	if (st.privacy != PRIVACY_NONE)
		ok = refuse_privacy(out, st.privacy);
	else if (kind == MESSAGE_TELEMETRY)
		ok = scan_telemetry(&st, now_ms, out);
	else if (kind == MESSAGE_EVENT)
		ok = scan_event(&st, now_ms, out);
	else
		ok = scan_info(&st, out);
	if (ok)
		accept(out);
	return 1;
}

/* The checks every path starts with: arguments, size, emptiness.
 * Returns 1 when the payload may go on to a decoder, 0 when *out already
 * holds the verdict, CC_ERR_INVALID for a bad argument. */
static int check_prefix(enum message_kind kind, const uint8_t *payload, size_t len,
                        struct message_verdict *out)
{
	if (out == NULL)
		return CC_ERR_INVALID;
	memset(out, 0, sizeof(*out));
	if ((payload == NULL && len > 0) ||
	    (kind != MESSAGE_TELEMETRY && kind != MESSAGE_EVENT && kind != MESSAGE_INFO)) {
		refuse(out, "internal error: bad argument");
		return CC_ERR_INVALID;
	}
	if (len > CC_PAYLOAD_MAX) {
		refuse(out, "payload too large (max %d bytes)", CC_PAYLOAD_MAX);
		return 0;
	}
	if (len == 0) {
		refuse(out, "empty payload");
		return 0;
	}
	return 1;
}

/* The last check before decoding. The scanner declines any nesting deeper
 * than JSCAN_DEPTH_MAX (== INGEST_DEPTH_MAX), and on a document it takes
 * this count is its nesting, so it runs only before the reference path. */
_Static_assert(JSCAN_DEPTH_MAX == INGEST_DEPTH_MAX, "the scanner and the depth check must agree");

static int check_depth(const uint8_t *payload, size_t len, struct message_verdict *out)
{
	if (too_deep(payload, len)) {
		refuse_raw(out, payload, len, "nesting too deep (max 16 levels)");
		return 0;
	}
	return 1;
}

/* The reference decoder: jansson's tree, then the checks above over it. */
static int check_tree(enum message_kind kind, const char *model, const uint8_t *payload, size_t len,
                      int64_t now_ms, struct message_verdict *out)
{
	enum privacy_reason r;
	json_error_t jerr;
	json_t *doc;
	int ok;

	doc = json_loadb((const char *)payload, len, JSON_REJECT_DUPLICATES, &jerr);
	if (doc == NULL) {
		if (json_error_code(&jerr) == json_error_out_of_memory) {
			log_error("ingest", "out of memory decoding a %s message", message_kind_name(kind));
			refuse(out, "internal error");
			return CC_ERR_NOMEM;
		}
		refuse_raw(out, payload, len, decode_error(&jerr));
		return 0;
	}
	r = privacy_scan_json(doc);
	if (r != PRIVACY_NONE)
		ok = refuse_privacy(out, r);
	else if (!json_is_object(doc))
		ok = refuse(out, "not a JSON object");
	else if (kind == MESSAGE_TELEMETRY)
		ok = check_telemetry(doc, model, now_ms, out);
	else if (kind == MESSAGE_EVENT)
		ok = check_event(doc, now_ms, out);
	else
		ok = check_info(doc, out);
	json_decref(doc);
	if (ok)
		accept(out);
	return 0;
}

int message_check_reference_at(enum message_kind kind, const char *model, const uint8_t *payload,
                               size_t len, int64_t now_ms, struct message_verdict *out)
{
	int rc = check_prefix(kind, payload, len, out);

	if (rc != 1)
		return rc;
	if (!check_depth(payload, len, out))
		return 0;
	return check_tree(kind, model, payload, len, now_ms, out);
}

int message_check_fast_at(enum message_kind kind, const char *model, const uint8_t *payload,
                          size_t len, int64_t now_ms, struct message_verdict *out)
{
	int rc = check_prefix(kind, payload, len, out);

	if (rc != 1)
		return rc < 0 ? rc : 1;
	return check_scan(kind, model, payload, len, now_ms, out);
}

int message_check_at(enum message_kind kind, const char *model, const uint8_t *payload,
                     size_t len, int64_t now_ms, struct message_verdict *out)
{
	int rc = check_prefix(kind, payload, len, out);

	if (rc != 1)
		return rc;
	if (check_scan(kind, model, payload, len, now_ms, out) == 1)
		return 0;
	memset(out, 0, sizeof(*out));
	if (!check_depth(payload, len, out))
		return 0;
	return check_tree(kind, model, payload, len, now_ms, out);
}

int message_check(enum message_kind kind, const char *model, const uint8_t *payload, size_t len,
                  struct message_verdict *out)
{
	return message_check_at(kind, model, payload, len, clock_now_ms(), out);
}
