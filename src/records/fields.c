#include "records/fields.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "common/err.h"
#include "ingest/jscan.h"

/* A list's items joined: reports hold at most 48 short codes. */
#define LIST_TEXT_MAX 2048

struct walk {
	enum record_kind kind;
	record_field_fn each;
	void *ctx;
	int emit;                 /* 0 on the scanner's checking pass */
	int in_metrics;           /* telemetry: inside "m" */
	const char *name;         /* the key whose value comes next */
	size_t name_len;
	int in_list, list_text;
	char list[LIST_TEXT_MAX];
	size_t list_len;
};

static int is_key(const char *s, size_t len, const char *word)
{
	return len == strlen(word) && memcmp(s, word, len) == 0;
}

static void list_append(struct walk *w, const char *s, size_t len)
{
	size_t sep = w->list_len ? 2 : 0;

	if (w->list_len + sep + len >= sizeof(w->list))
		return; /* longer than any valid report's list: cut */
	memcpy(w->list + w->list_len, "; ", sep);
	memcpy(w->list + w->list_len + sep, s, len);
	w->list_len += sep + len;
}

static const char *scalar_text(const struct jscan_token *t, size_t *len, int *is_text)
{
	*is_text = t->type == JSCAN_STRING;
	switch (t->type) {
	case JSCAN_STRING:
	case JSCAN_INTEGER:
	case JSCAN_REAL:
		*len = t->len;
		return t->s;
	case JSCAN_TRUE: *len = 4; return "true";
	case JSCAN_FALSE: *len = 5; return "false";
	case JSCAN_NULL: *len = 4; return "null";
	default: return NULL;
	}
}

static int on_token(void *arg, const struct jscan_token *t)
{
	struct walk *w = arg;
	int field_depth = w->kind == RECORD_TELEMETRY ? 2 : 1;
	const char *v;
	size_t vlen;
	int is_text;

	if (!w->emit)
		return 0;
	if (w->kind == RECORD_TELEMETRY && t->depth == 1) {
		if (t->type == JSCAN_KEY)
			w->in_metrics = -(int)is_key(t->s, t->len, "m"); /* -1: the next token opens it */
		else if (t->type == JSCAN_OBJECT && w->in_metrics == -1)
			w->in_metrics = 1;
		else if (t->type == JSCAN_OBJECT_END)
			w->in_metrics = 0;
		else
			w->in_metrics = 0;
		return 0;
	}
	if (w->kind == RECORD_TELEMETRY && !w->in_metrics)
		return 0;
	if (w->in_list) {
		if (t->type == JSCAN_ARRAY_END && t->depth == field_depth) {
			w->in_list = 0;
			return w->each(w->ctx, w->name, w->name_len, w->list, w->list_len, w->list_text);
		}
		if (t->depth == field_depth + 1 && (v = scalar_text(t, &vlen, &is_text)) != NULL) {
			list_append(w, v, vlen);
			w->list_text |= is_text;
		}
		return 0;
	}
	if (t->depth != field_depth)
		return 0;
	if (t->type == JSCAN_KEY) {
		w->name = t->s;
		w->name_len = t->len;
		if (w->kind != RECORD_TELEMETRY && (is_key(t->s, t->len, "seq") || is_key(t->s, t->len, "ts")))
			w->name = NULL;
		return 0;
	}
	if (w->name == NULL)
		return 0;
	if (t->type == JSCAN_ARRAY) {
		w->in_list = 1;
		w->list_len = 0;
		w->list_text = 0;
		return 0;
	}
	v = scalar_text(t, &vlen, &is_text);
	if (v == NULL)
		return 0; /* an object where a value belongs: not machine data, not a column */
	return w->each(w->ctx, w->name, w->name_len, v, vlen, is_text);
}

/* The reference decoder's path, for what the scanner declines (very long
 * numbers, deep escapes): reals print with 17 digits, which read back exact. */
static int value_text(const json_t *v, char **out, size_t *len, int *is_text)
{
	*is_text = json_is_string(v);
	if (json_is_string(v)) {
		*len = json_string_length(v);
		*out = malloc(*len + 1);
		if (*out != NULL)
			memcpy(*out, json_string_value(v), *len + 1);
	} else if (json_is_array(v)) {
		size_t i, used = 0;
		json_t *item;

		*out = malloc(LIST_TEXT_MAX);
		if (*out == NULL)
			return CC_ERR_NOMEM;
		json_array_foreach(v, i, item) {
			char *t;
			size_t tl;
			int it;

			if (json_is_array(item) || json_is_object(item) || value_text(item, &t, &tl, &it) != CC_OK)
				continue;
			*is_text |= it;
			if (used + 2 + tl < LIST_TEXT_MAX) {
				memcpy(*out + used, "; ", used ? 2 : 0);
				used += used ? 2 : 0;
				memcpy(*out + used, t, tl);
				used += tl;
			}
			free(t);
		}
		*len = used;
	} else {
		*out = json_dumps(v, JSON_ENCODE_ANY | JSON_REAL_PRECISION(17));
		*len = *out != NULL ? strlen(*out) : 0;
	}
	return *out != NULL ? CC_OK : CC_ERR_NOMEM;
}

static int fields_jansson(enum record_kind kind, const char *body, size_t len, record_field_fn each, void *ctx)
{
	json_t *doc = json_loadb(body, len, 0, NULL), *obj, *v;
	const char *key;
	int rc = CC_OK;

	if (!json_is_object(doc)) {
		json_decref(doc);
		return CC_ERR_INVALID;
	}
	obj = kind == RECORD_TELEMETRY ? json_object_get(doc, "m") : doc;
	if (json_is_object(obj)) {
		json_object_foreach(obj, key, v) {
			char *text;
			size_t tl;
			int is_text;

			if (json_is_object(v) ||
			    (kind != RECORD_TELEMETRY && (strcmp(key, "seq") == 0 || strcmp(key, "ts") == 0)))
				continue;
			rc = value_text(v, &text, &tl, &is_text);
			if (rc == CC_OK)
				rc = each(ctx, key, strlen(key), text, tl, is_text);
			free(text);
			if (rc != CC_OK)
				break;
		}
	}
	json_decref(doc);
	return rc;
}

int record_fields(enum record_kind kind, const char *body, size_t len, record_field_fn each, void *ctx)
{
	struct jscan *js = malloc(sizeof(*js));
	struct walk w;
	int rc;

	if (js == NULL)
		return CC_ERR_NOMEM;
	memset(&w, 0, sizeof(w));
	w.kind = kind;
	w.each = each;
	w.ctx = ctx;
	/* The scanner may have handed out a prefix before it declines: check
	 * first, then walk, so that no field is given twice. */
	rc = jscan_run(js, (const uint8_t *)body, len, on_token, &w);
	if (rc == JSCAN_OK) {
		w.emit = 1;
		rc = jscan_run(js, (const uint8_t *)body, len, on_token, &w);
	} else {
		rc = fields_jansson(kind, body, len, each, ctx);
	}
	free(js);
	return rc;
}
