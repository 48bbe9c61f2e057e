/* openapi.c - the served OpenAPI document: what the route table says
 * (http/server.h http_openapi: paths, parameters, access, errors) plus
 * each operation's request and response schema, written once in
 * share/api/schemas.json and compiled in. */
#include "api/internal.h"

#include <stdio.h>
#include <string.h>

#include "common/log.h"

#define MOD "api"

struct embedded_file {
	const char *name;
	const char *bytes;
	size_t len;
};
extern const struct embedded_file api_schemas_builtin[];

static const char *method_name(const char *m)
{
	return strcmp(m, "get") == 0 ? "GET" : strcmp(m, "post") == 0 ? "POST" : "DELETE";
}

/* The body fields the dispatcher takes get the types and the required
 * ones the schema file gives; the set of fields stays the route table's. */
static int add_request(json_t *op, json_t *request)
{
	json_t *body = json_object_get(json_object_get(op, "requestBody"), "content");
	json_t *schema = json_object_get(json_object_get(body, "application/json"), "schema");
	json_t *props = json_object_get(schema, "properties"), *typed = json_object_get(request, "properties"), *v;
	const char *field;

	if (props == NULL)
		return request == NULL ? 0 : -1;
	if (request == NULL || json_object_size(props) != json_object_size(typed))
		return -1;
	json_object_foreach(props, field, v) {
		json_t *t = json_object_get(typed, field);

		if (t == NULL)
			return -1;
		json_object_set(props, field, t);
	}
	if (json_array_size(json_object_get(request, "required")) > 0)
		json_object_set(schema, "required", json_object_get(request, "required"));
	return 0;
}

static int add_response(json_t *op, json_t *entry)
{
	json_t *responses = json_object_get(op, "responses"), *schema = json_object_get(entry, "response");
	json_int_t status = json_integer_value(json_object_get(entry, "status"));
	char code[8];

	if (status < 200 || status > 299 || !json_is_object(schema))
		return -1;
	snprintf(code, sizeof(code), "%d", (int)status);
	json_object_del(responses, "2XX");
	/* A file (an update artifact) is bytes, not JSON: "media" names its type. */
	if (json_is_string(json_object_get(entry, "media"))) {
		json_object_set_new(responses, code,
		                    json_pack("{s:s, s:{s:{s:{s:s, s:s}}}}", "description", json_string_value(json_object_get(
		                                                                 schema, "description")) != NULL
		                                                                 ? json_string_value(json_object_get(schema, "description"))
		                                                                 : "success",
		                              "content", json_string_value(json_object_get(entry, "media")), "schema", "type",
		                              "string", "format", "binary"));
		return 0;
	}
	json_object_set_new(responses, code,
	                    json_pack("{s:s, s:{s:{s:O}}}", "description", status == 201 ? "created" : "success",
	                              "content", "application/json", "schema", schema));
	return 0;
}

json_t *api_openapi_document(void)
{
	json_t *doc = http_openapi(api_routes(), "CoffeeCloud API", "1"), *schemas, *ops, *item, *op;
	const char *path, *method;
	json_error_t err;
	char key[300];
	int bad = 0;

	schemas = json_loadb(api_schemas_builtin[0].bytes, api_schemas_builtin[0].len, 0, &err);
	ops = json_object_get(schemas, "operations");
	if (doc == NULL || ops == NULL) {
		log_error(MOD, "the API schemas do not load: %s", schemas == NULL ? err.text : "no operations");
		json_decref(schemas);
		json_decref(doc);
		return NULL;
	}
	json_object_foreach(json_object_get(doc, "paths"), path, item) {
		json_object_foreach(item, method, op) {
			json_t *entry;

			snprintf(key, sizeof(key), "%s %s", method_name(method), path);
			entry = json_object_get(ops, key);
			if (entry == NULL || add_response(op, entry) != 0 ||
			    add_request(op, json_object_get(entry, "request")) != 0) {
				log_error(MOD, "share/api/schemas.json: no complete schema for %s", key);
				bad++;
			}
		}
	}
	json_object_update_missing(json_object_get(json_object_get(doc, "components"), "schemas"),
	                           json_object_get(schemas, "components"));
	json_decref(schemas);
	if (bad > 0) {
		json_decref(doc);
		return NULL;
	}
	return doc;
}

void api_openapi(struct http_req *r)
{
	json_t *doc = api_openapi_document();

	if (doc == NULL) {
		http_reply_error(r, 500, "internal", "the API description is incomplete");
		return;
	}
	http_reply_json(r, 200, doc);
}
