/*
 * fuzz_ingest_diff.c - differential: the one-pass scanner (ingest/jscan.h)
 * and the ingest fast path built on it against jansson and the reference
 * path of message.h. Aborts on the first input where they disagree.
 *
 *   1. jscan_run says JSCAN_OK only for what json_loadb(JSON_REJECT_DUPLICATES)
 *      accepts as an object, and its tokens are that tree in document
 *      order: same kinds, decoded bytes, integer values, bit-identical reals.
 *   2. message_check_fast_at, when it judges, gives the verdict of
 *      message_check_reference_at field by field; message_check_at always does.
 *
 * The first byte chooses kind and model as in fuzz_telemetry.c; the rest is
 * the payload. "now" is fixed so runs are reproducible.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "common/log.h"
#include "ingest/jscan.h"
#include "ingest/message.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* 2026-11-28T12:00:00Z */
#define FUZZ_NOW INT64_C(1795867200000)
#define TOKENS_MAX 8192

struct tokens {
	struct jscan_token t[TOKENS_MAX];
	size_t n, at;
};

static int collect(void *ctx, const struct jscan_token *t)
{
	struct tokens *tk = ctx;

	if (tk->n == TOKENS_MAX)
		return 9; /* more than this harness compares: skip part 1 */
	tk->t[tk->n++] = *t;
	return 0;
}

static const struct jscan_token *next(struct tokens *tk, enum jscan_type type, int depth)
{
	const struct jscan_token *t;

	if (tk->at >= tk->n)
		abort();
	t = &tk->t[tk->at++];
	if (t->type != type || t->depth != depth)
		abort();
	return t;
}

static void same_bytes(const struct jscan_token *t, const char *s, size_t len)
{
	if (t->len != len || memcmp(t->s, s, len) != 0)
		abort();
}

/* The tokens from tk->at on are the value v at depth. */
static void walk(struct tokens *tk, json_t *v, int depth)
{
	const struct jscan_token *t;

	switch (json_typeof(v)) {
	case JSON_OBJECT: {
		void *it;

		next(tk, JSCAN_OBJECT, depth);
		for (it = json_object_iter(v); it != NULL; it = json_object_iter_next(v, it)) {
			t = next(tk, JSCAN_KEY, depth + 1);
			same_bytes(t, json_object_iter_key(it), json_object_iter_key_len(it));
			walk(tk, json_object_iter_value(it), depth + 1);
		}
		next(tk, JSCAN_OBJECT_END, depth);
		return;
	}
	case JSON_ARRAY: {
		size_t i;

		next(tk, JSCAN_ARRAY, depth);
		for (i = 0; i < json_array_size(v); i++)
			walk(tk, json_array_get(v, i), depth + 1);
		next(tk, JSCAN_ARRAY_END, depth);
		return;
	}
	case JSON_STRING:
		t = next(tk, JSCAN_STRING, depth);
		same_bytes(t, json_string_value(v), json_string_length(v));
		return;
	case JSON_INTEGER:
		t = next(tk, JSCAN_INTEGER, depth);
		if (t->i != json_integer_value(v) || t->d != json_number_value(v))
			abort();
		return;
	case JSON_REAL: {
		double d = json_real_value(v);

		t = next(tk, JSCAN_REAL, depth);
		if (memcmp(&t->d, &d, sizeof(d)) != 0)
			abort();
		return;
	}
	case JSON_TRUE:
		next(tk, JSCAN_TRUE, depth);
		return;
	case JSON_FALSE:
		next(tk, JSCAN_FALSE, depth);
		return;
	case JSON_NULL:
		next(tk, JSCAN_NULL, depth);
		return;
	}
	abort();
}

static void check_scanner(const uint8_t *p, size_t len)
{
	static struct jscan js;
	static struct tokens tk;
	json_t *doc;
	int rc;

	tk.n = 0;
	tk.at = 0;
	rc = jscan_run(&js, p, len, collect, &tk);
	if (rc != JSCAN_OK)
		return;
	doc = json_loadb((const char *)p, len, JSON_REJECT_DUPLICATES, NULL);
	if (doc == NULL || !json_is_object(doc))
		abort(); /* the scanner took what jansson refuses */
	walk(&tk, doc, 0);
	if (tk.at != tk.n)
		abort();
	json_decref(doc);
}

static void same_verdict(const struct message_verdict *a, const struct message_verdict *b)
{
	if (a->accepted != b->accepted || a->privacy != b->privacy || strcmp(a->reason, b->reason) != 0 ||
	    a->seq != b->seq || a->ts_ms != b->ts_ms || strcmp(a->event_type, b->event_type) != 0 ||
	    strcmp(a->model, b->model) != 0 || strcmp(a->hw_rev, b->hw_rev) != 0 ||
	    strcmp(a->sw_version, b->sw_version) != 0)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct message_verdict fast, ref, both;
	enum message_kind kind;
	const char *model = NULL;
	int rc_fast, rc_ref, rc_both;

	log_set_level(LOG_LEVEL_SILENT);
	if (size == 0)
		return 0;
	switch (data[0]) {
	case 't': kind = MESSAGE_TELEMETRY; model = "barista-pro"; break;
	case 'e': kind = MESSAGE_EVENT; model = "barista-pro"; break;
	case 'i': kind = MESSAGE_INFO; model = "barista-pro"; break;
	case 'T': kind = MESSAGE_TELEMETRY; model = "espresso-one"; break;
	case 'E': kind = MESSAGE_EVENT; model = "espresso-one"; break;
	case 'I': kind = MESSAGE_INFO; model = "espresso-one"; break;
	default: kind = (enum message_kind)(data[0] % 3 + 1); break;
	}
	check_scanner(data + 1, size - 1);
	rc_ref = message_check_reference_at(kind, model, data + 1, size - 1, FUZZ_NOW, &ref);
	if (rc_ref != 0)
		return 0; /* out of memory: nothing judged */
	rc_fast = message_check_fast_at(kind, model, data + 1, size - 1, FUZZ_NOW, &fast);
	if (rc_fast < 0)
		abort();
	if (rc_fast == 1)
		same_verdict(&fast, &ref);
	rc_both = message_check_at(kind, model, data + 1, size - 1, FUZZ_NOW, &both);
	if (rc_both != 0)
		abort();
	same_verdict(&both, &ref);
	return 0;
}
