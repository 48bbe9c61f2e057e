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
	for (i = 0; i < len; i++) {
		char c = s[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
		      c == '_' || c == '+' || c == '-'))
			return refuse(out, "info: %s has characters outside [A-Za-z0-9._+-]", key);
	}
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

int message_check_at(enum message_kind kind, const char *model, const uint8_t *payload,
                     size_t len, int64_t now_ms, struct message_verdict *out)
{
	enum privacy_reason r;
	json_error_t jerr;
	json_t *doc;
	int ok;

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
	if (too_deep(payload, len)) {
		refuse_raw(out, payload, len, "nesting too deep (max 16 levels)");
		return 0;
	}
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
	if (ok) {
		out->accepted = 1;
		snprintf(out->reason, sizeof(out->reason), "ok");
	}
	return 0;
}

int message_check(enum message_kind kind, const char *model, const uint8_t *payload, size_t len,
                  struct message_verdict *out)
{
	return message_check_at(kind, model, payload, len, clock_now_ms(), out);
}
