/* catalogue.c - the catalogues people read alongside the data: the error
 * codes (ingest/errors.h), cut to the caller's data classes. */
#include "api/internal.h"

#include <string.h>

#include "fleet/inventory.h"
#include "ingest/catalogue.h"
#include "ingest/errors.h"

void api_errors(struct http_req *r)
{
	struct caller *s = api_caller(r);
	const char *model = http_query(r, "model"), *lang = http_query(r, "lang");
	const struct error_entry *e;
	enum error_lang l = errors_lang(lang);
	json_t *list = json_array();
	size_t i;

	if (s == NULL)
		goto out;
	if (model != NULL && !inventory_name_valid(model)) {
		http_reply_error(r, 400, "invalid", "model: a model's name");
		goto out;
	}
	for (i = 0; list != NULL && (e = errors_at(i)) != NULL; i++) {
		if (!(e->data_class & s->role->classes))
			continue;
		/* A model's view: its own entries, and those for every model it has no own entry for. */
		if (model != NULL && errors_find(model, e->code) != e)
			continue;
		json_array_append_new(list, json_pack("{s:s, s:s, s:s, s:s, s:s, s:s}", "code", e->code, "model", e->model,
		                                      "severity", e->severity, "data_class",
		                                      catalogue_class_name(e->data_class), "text", e->text[l], "action",
		                                      e->action[l]));
	}
	/* Not audited: the catalogue is the manufacturer's text, not machine data. */
	http_reply_json(r, 200, json_pack("{s:s, s:s, s:o}", "version", errors_version(), "language",
	                                  l == ERRORS_HU ? "hu" : "en", "errors", list));
	return;
out:
	json_decref(list);
}
