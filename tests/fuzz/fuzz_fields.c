/*
 * fuzz_fields.c - a stored record's body as flat (name, value) pairs
 * (records/fields.h), the CLI's tables and the CSV columns, from hostile
 * bodies: no crash, and every number handed out is a JSON number equal to
 * what the reference decoder (jansson) reads for that name.
 *
 * The first byte picks the kind of record (telemetry, event, report); the
 * rest is the body.
 */
#include <jansson.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "records/fields.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct check {
	json_t *fields; /* the object whose members are the fields, or NULL */
};

static int each(void *ctx, const char *name, size_t name_len, const char *value, size_t value_len, int is_text)
{
	struct check *c = ctx;
	char key[256], num[128];
	json_t *reference, *parsed;

	if (name == NULL || value == NULL)
		abort();
	if (is_text || c->fields == NULL || name_len >= sizeof(key) || value_len >= sizeof(num) ||
	    memchr(name, 0, name_len) != NULL)
		return 0;
	memcpy(key, name, name_len);
	key[name_len] = '\0';
	reference = json_object_get(c->fields, key);
	if (reference == NULL || !json_is_number(reference))
		return 0; /* lists, true/false/null */
	memcpy(num, value, value_len);
	num[value_len] = '\0';
	parsed = json_loads(num, JSON_DECODE_ANY, NULL);
	if (!json_is_number(parsed) || json_number_value(parsed) != json_number_value(reference))
		abort();
	json_decref(parsed);
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct check c = { NULL };
	enum record_kind kind;
	json_t *doc;

	if (size < 1)
		return 0;
	log_set_level(LOG_LEVEL_SILENT);
	kind = (enum record_kind)(1 + data[0] % 3);
	doc = json_loadb((const char *)data + 1, size - 1, JSON_REJECT_DUPLICATES, NULL);
	if (json_is_object(doc))
		c.fields = kind == RECORD_TELEMETRY ? json_object_get(doc, "m") : doc;
	if (!json_is_object(c.fields))
		c.fields = NULL;
	(void)record_fields(kind, (const char *)data + 1, size - 1, each, &c);
	json_decref(doc);
	return 0;
}
