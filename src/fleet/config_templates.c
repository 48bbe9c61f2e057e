/* config_templates.c - templates down the organisation tree, customers' limits; see config_templates.h. */
#include "fleet/config_templates.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/clock.h"
#include "common/err.h"
#include "fleet/config_doc.h"
#include "fleet/tickets.h"
#include "ingest/privacy.h"

#define CHAIN_MAX 16 /* organisations from the root to a customer */

static int model_valid(const char *model)
{
	size_t n = model != NULL ? strlen(model) : 0;

	if (n == 0 || n > CC_NAME_MAX)
		return 0;
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)model[i] < 0x21 || (unsigned char)model[i] > 0x7e)
			return 0;
	return 1;
}

static int refuse(struct machine_config_refusal *ref, const char *field, int privacy, const char *why)
{
	ref->field = field;
	ref->privacy = privacy;
	snprintf(ref->why, sizeof(ref->why), "%s", why);
	return CC_ERR_INVALID;
}

int config_template_set(struct vault *v, const struct store_org *org, const char *model, const json_t *config,
                        const char *reason, const char *who, struct machine_config_refusal *ref)
{
	struct store *s = vault_store(v);
	struct config_doc *doc = NULL;
	struct store_config_template *row = NULL;
	char *text = NULL;
	int privacy = 0, rc;

	memset(ref, 0, sizeof(*ref));
	if (!model_valid(model))
		return refuse(ref, "model", 0, "model: a model's name");
	if (reason == NULL || tickets_text_check(reason, CONFIG_TEMPLATES_WHY_MAX, 0, &privacy) != CC_OK)
		return refuse(ref, "reason", privacy,
		              privacy != 0 ? "the reason was refused by the privacy filter (no personal data)"
		                           : "reason: 1 to 200 characters are required");
	if ((doc = malloc(sizeof(*doc))) == NULL || (row = calloc(1, sizeof(*row))) == NULL) {
		free(doc);
		return CC_ERR_NOMEM;
	}
	rc = config_doc_check(model, config, doc, &privacy, ref->why, sizeof(ref->why));
	if (rc != CC_OK) {
		ref->field = "config";
		ref->privacy = privacy;
		rc = CC_ERR_INVALID;
	}
	if (rc == CC_OK && (text = config_doc_text(doc)) == NULL)
		rc = CC_ERR_NOMEM;
	if (rc == CC_OK) {
		row->org_id = org->id;
		snprintf(row->model, sizeof(row->model), "%s", model);
		snprintf(row->what, sizeof(row->what), "template");
		row->at_ms = clock_now_ms();
		snprintf(row->who, sizeof(row->who), "%s", who);
		snprintf(row->doc, sizeof(row->doc), "%s", text);
		snprintf(row->why, sizeof(row->why), "%s", reason);
		rc = s->ops->machine_config->template_put(s, row);
	}
	free(text);
	free(row);
	free(doc);
	return rc;
}

/* ---- limits ---- */

static const struct config_field *recipe_field_named(const char *name)
{
	for (int f = 0; f < CR_COUNT; f++)
		if (strcmp(config_recipe_field((enum config_recipe_field)f)->name, name) == 0)
			return config_recipe_field((enum config_recipe_field)f);
	return NULL;
}

static const struct config_field *setting_field_named(const char *name)
{
	for (int f = 0; f < CS_COUNT; f++)
		if (strcmp(config_setting_field((enum config_setting)f)->name, name) == 0)
			return config_setting_field((enum config_setting)f);
	return NULL;
}

static int product_made(const char *model, const char *product)
{
	const char *const *p = config_model_products(model);

	for (; *p != NULL; p++)
		if (strcmp(*p, product) == 0)
			return 1;
	return 0;
}

/* An enumerated field's limit: {"values": [...]}, a subset of the field's own values without repeats. */
static int values_check(const char *part, const struct config_field *f, const json_t *r, char *why, size_t cap)
{
	const json_t *list = json_object_get(r, "values");
	size_t n = json_array_size(list);
	int ok = json_is_object(r) && json_object_size(r) == 1 && json_is_array(list) && n >= 1;

	for (size_t i = 0; ok && i < n; i++) {
		const char *x = json_string_value(json_array_get(list, i));
		size_t k = 0;

		while (x != NULL && f->values[k] != NULL && strcmp(f->values[k], x) != 0)
			k++;
		ok = x != NULL && f->values[k] != NULL;
		for (size_t j = 0; ok && j < i; j++)
			ok = strcmp(json_string_value(json_array_get(list, j)), x) != 0;
	}
	if (ok)
		return CC_OK;
	snprintf(why, cap, "%s.%s: {\"values\": [...]}, some of the model's values, each once", part, f->name);
	return CC_ERR_INVALID;
}

/* A part of the limits: {field: {"min", "max"}} within each field's own
 * range, or {field: {"values": [...]}} for an enumerated one. */
static int ranges_check(const char *model, const char *part, const json_t *ranges,
                        const struct config_field *(*named)(const char *), char *why, size_t cap)
{
	const char *key;
	const json_t *r;

	if (!json_is_object(ranges)) {
		snprintf(why, cap, "%s: an object of fields, each {\"min\", \"max\"}", part);
		return CC_ERR_INVALID;
	}
	json_object_foreach((json_t *)ranges, key, r) {
		const struct config_field *f = named(key);
		const json_t *lo = json_object_get(r, "min"), *hi = json_object_get(r, "max");

		if (f == NULL || (f->milk && !config_model_has_milk(model))) {
			snprintf(why, cap, "%s: only fields of this model (see its schema)", part);
			return CC_ERR_INVALID;
		}
		if (f->type == CONFIG_ENUM) {
			if (values_check(part, f, r, why, cap) != CC_OK)
				return CC_ERR_INVALID;
			continue;
		}
		if (!json_is_object(r) || json_object_size(r) != 2 || !json_is_number(lo) || !json_is_number(hi) ||
		    json_number_value(lo) > json_number_value(hi) || json_number_value(lo) < f->min ||
		    json_number_value(hi) > f->max) {
			snprintf(why, cap, "%s.%s: {\"min\", \"max\"} within the model's %g..%g %s", part, f->name, f->min,
			         f->max, f->unit != NULL ? f->unit : "");
			return CC_ERR_INVALID;
		}
	}
	return CC_OK;
}

int config_limits_set(struct vault *v, const struct store_org *customer, const char *model, const json_t *limits,
                      const char *who, char *why, size_t cap)
{
	struct store *s = vault_store(v);
	struct store_config_template *row;
	const json_t *products, *x;
	const char *key;
	char *text;
	int rc;

	if (!model_valid(model)) {
		snprintf(why, cap, "model: a model's name");
		return CC_ERR_INVALID;
	}
	if (!json_is_object(limits) || json_object_size(limits) == 0) {
		snprintf(why, cap, "limits: an object (products, recipe, settings)");
		return CC_ERR_INVALID;
	}
	/* As every configuration path: what the privacy filter refuses is not judged further. */
	if (privacy_scan_json(limits) != PRIVACY_NONE) {
		snprintf(why, cap, "limits: refused by the privacy filter: %s (no prices, payment or personal data)",
		         privacy_reason_name(privacy_scan_json(limits)));
		return CC_ERR_INVALID;
	}
	json_object_foreach((json_t *)limits, key, x) {
		if (strcmp(key, "products") != 0 && strcmp(key, "recipe") != 0 && strcmp(key, "settings") != 0) {
			snprintf(why, cap, "limits: products, recipe, settings only");
			return CC_ERR_INVALID;
		}
	}
	if ((products = json_object_get(limits, "products")) != NULL) {
		if (!json_is_array(products) || json_array_size(products) > CONFIG_RECIPES_MAX) {
			snprintf(why, cap, "products: a list of the model's products");
			return CC_ERR_INVALID;
		}
		for (size_t i = 0; i < json_array_size(products); i++) {
			const char *p = json_string_value(json_array_get(products, i));

			if (p == NULL || !product_made(model, p)) {
				snprintf(why, cap, "products: item %zu is not a product of this model", i + 1);
				return CC_ERR_INVALID;
			}
		}
	}
	if ((x = json_object_get(limits, "recipe")) != NULL &&
	    ranges_check(model, "recipe", x, recipe_field_named, why, cap) != CC_OK)
		return CC_ERR_INVALID;
	if ((x = json_object_get(limits, "settings")) != NULL &&
	    ranges_check(model, "settings", x, setting_field_named, why, cap) != CC_OK)
		return CC_ERR_INVALID;
	text = json_dumps(limits, JSON_COMPACT | JSON_SORT_KEYS | JSON_REAL_PRECISION(10));
	if (text == NULL)
		return CC_ERR_NOMEM;
	if (strlen(text) > STORE_CONFIG_TEMPLATE_MAX || (row = calloc(1, sizeof(*row))) == NULL) {
		snprintf(why, cap, "limits: too large");
		free(text);
		return CC_ERR_INVALID;
	}
	row->org_id = customer->id;
	snprintf(row->model, sizeof(row->model), "%s", model);
	snprintf(row->what, sizeof(row->what), "limits");
	row->at_ms = clock_now_ms();
	snprintf(row->who, sizeof(row->who), "%s", who);
	snprintf(row->doc, sizeof(row->doc), "%s", text);
	rc = s->ops->machine_config->template_put(s, row);
	free(row);
	free(text);
	return rc;
}

static int within(const char *path, const struct config_field *f, const json_t *value, const json_t *range, char *why,
                  size_t cap)
{
	double lo, hi, x = json_number_value(value);

	if (range != NULL && f != NULL && f->type == CONFIG_ENUM && json_is_string(value)) {
		const json_t *allowed = json_object_get(range, "values");
		size_t used = 0;

		for (size_t i = 0; i < json_array_size(allowed); i++)
			if (strcmp(json_string_value(json_array_get(allowed, i)), json_string_value(value)) == 0)
				return 1;
		used = (size_t)snprintf(why, cap, "%s: the manufacturer allows", path);
		for (size_t i = 0; i < json_array_size(allowed) && used < cap; i++)
			used += (size_t)snprintf(why + used, cap - used, "%s %s", i ? "," : "",
			                         json_string_value(json_array_get(allowed, i)));
		if (used < cap)
			snprintf(why + used, cap - used, " for this customer");
		return 0;
	}
	if (range == NULL || f == NULL || !json_is_number(value))
		return 1;
	lo = json_number_value(json_object_get(range, "min"));
	hi = json_number_value(json_object_get(range, "max"));
	if (x >= lo && x <= hi)
		return 1;
	snprintf(why, cap, "%s: the manufacturer allows %g..%g %s for this customer", path, lo, hi,
	         f->unit != NULL ? f->unit : "");
	return 0;
}

int config_limits_check(struct vault *v, int64_t customer_id, const char *model, const json_t *config, char *why,
                        size_t cap)
{
	struct store *s = vault_store(v);
	struct store_config_template *row = malloc(sizeof(*row));
	const json_t *products, *rl, *sl, *x, *val;
	const char *product, *key;
	json_t *limits = NULL;
	char path[96];
	int rc;

	if (row == NULL)
		return CC_ERR_NOMEM;
	rc = s->ops->machine_config->template_get(s, customer_id, model, "limits", row);
	if (rc == CC_OK && (limits = json_loads(row->doc, 0, NULL)) == NULL)
		rc = CC_ERR_CORRUPT;
	free(row);
	if (rc == CC_ERR_NOTFOUND)
		return CC_OK;
	if (rc != CC_OK)
		return rc;
	products = json_object_get(limits, "products");
	rl = json_object_get(limits, "recipe");
	sl = json_object_get(limits, "settings");
	json_object_foreach(json_object_get(config, "recipes"), product, x) {
		int listed = products == NULL;

		for (size_t i = 0; !listed && i < json_array_size(products); i++)
			listed = strcmp(json_string_value(json_array_get(products, i)), product) == 0;
		if (!listed) {
			snprintf(why, cap, "recipes.%.40s: the manufacturer does not let this customer configure this product",
			         product);
			rc = CC_ERR_PERM;
			break;
		}
		json_object_foreach((json_t *)x, key, val) {
			snprintf(path, sizeof(path), "recipes.%.40s.%.40s", product, key);
			if (!within(path, recipe_field_named(key), val, json_object_get(rl, key), why, cap)) {
				rc = CC_ERR_PERM;
				break;
			}
		}
		if (rc != CC_OK)
			break;
	}
	if (rc == CC_OK) {
		json_object_foreach(json_object_get(config, "settings"), key, val) {
			snprintf(path, sizeof(path), "settings.%.40s", key);
			if (!within(path, setting_field_named(key), val, json_object_get(sl, key), why, cap)) {
				rc = CC_ERR_PERM;
				break;
			}
		}
	}
	json_decref(limits);
	return rc;
}

/* ---- the effective configuration ---- */

static void merge(json_t *into, json_t *sources, const json_t *doc, const char *source)
{
	const char *product, *key;
	const json_t *r, *val;
	char path[96];
	json_t *recipes = json_object_get(into, "recipes"), *settings = json_object_get(into, "settings");

	json_object_foreach(json_object_get(doc, "recipes"), product, r) {
		json_t *mine = json_object_get(recipes, product);

		if (mine == NULL) {
			mine = json_object();
			json_object_set_new(recipes, product, mine);
		}
		json_object_foreach((json_t *)r, key, val) {
			json_object_set(mine, key, (json_t *)val);
			snprintf(path, sizeof(path), "recipes.%.40s.%.40s", product, key);
			json_object_set_new(sources, path, json_string(source));
		}
	}
	json_object_foreach(json_object_get(doc, "settings"), key, val) {
		json_object_set(settings, key, (json_t *)val);
		snprintf(path, sizeof(path), "settings.%.40s", key);
		json_object_set_new(sources, path, json_string(source));
	}
}

static const char *iso(int64_t ms, char *buf, size_t cap)
{
	clock_format_iso(ms, buf, cap);
	return buf;
}

json_t *config_effective_json(struct vault *v, const struct store_machine *m)
{
	struct store *s = vault_store(v);
	struct store_org *chain = calloc(CHAIN_MAX, sizeof(*chain));
	struct store_config_template *row = malloc(sizeof(*row));
	json_t *merged = json_pack("{s:o, s:o}", "recipes", json_object(), "settings", json_object());
	json_t *sources = json_object(), *layers = json_array(), *out = NULL, *mine = NULL;
	size_t n = 0;
	int64_t id = m->customer_id;
	int rc = chain != NULL && row != NULL && merged != NULL && sources != NULL && layers != NULL ? CC_OK
	                                                                                               : CC_ERR_NOMEM;
	char at[40], label[CC_NAME_MAX + 24];

	while (rc == CC_OK && id != 0 && n < CHAIN_MAX) {
		rc = s->ops->org_get(s, id, &chain[n]);
		id = rc == CC_OK ? chain[n++].parent_id : 0;
	}
	/* From the root down: the nearer organisation's value wins. */
	for (size_t i = n; rc == CC_OK && i-- > 0;) {
		json_t *doc;
		int got = s->ops->machine_config->template_get(s, chain[i].id, m->model, "template", row);

		if (got == CC_ERR_NOTFOUND)
			continue;
		if (got != CC_OK || (doc = json_loads(row->doc, 0, NULL)) == NULL) {
			rc = got != CC_OK ? got : CC_ERR_CORRUPT;
			break;
		}
		snprintf(label, sizeof(label), "%s:%s", org_kind_name(chain[i].kind), chain[i].name);
		merge(merged, sources, doc, label);
		json_decref(doc);
		json_array_append_new(layers, json_pack("{s:s, s:s, s:s, s:s}", "source", label, "at",
		                                        iso(row->at_ms, at, sizeof(at)), "by", row->who, "why", row->why));
	}
	if (rc == CC_OK) {
		int got = machine_config_desired_doc(v, m, &mine);

		if (got == CC_OK) {
			snprintf(label, sizeof(label), "machine:%lld",
			         (long long)json_integer_value(json_object_get(mine, "version")));
			merge(merged, sources, json_object_get(mine, "config"), label);
			json_array_append_new(layers, json_pack("{s:s, s:I}", "source", label, "version",
			                                        json_integer_value(json_object_get(mine, "version"))));
		} else if (got != CC_ERR_NOTFOUND) {
			rc = got;
		}
	}
	if (rc == CC_OK) {
		/* A part no layer sets is left out, as in a document. */
		if (json_object_size(json_object_get(merged, "recipes")) == 0)
			json_object_del(merged, "recipes");
		if (json_object_size(json_object_get(merged, "settings")) == 0)
			json_object_del(merged, "settings");
		out = json_pack("{s:s, s:s, s:O, s:O, s:O}", "serial", m->serial, "model", m->model, "config", merged,
		                "sources", sources, "layers", layers);
	}
	json_decref(mine);
	json_decref(merged);
	json_decref(sources);
	json_decref(layers);
	free(row);
	free(chain);
	return out;
}

struct listing {
	json_t *templates, *limits;
};

static int list_one(void *ctx, const struct store_config_template *t)
{
	struct listing *l = ctx;
	json_t *doc = json_loads(t->doc, 0, NULL);
	char at[40];
	int template = strcmp(t->what, "template") == 0;
	json_t *item = json_pack("{s:s, s:s, s:s, s:o}", "model", t->model, "at", iso(t->at_ms, at, sizeof(at)), "by",
	                         t->who, template ? "config" : "limits", doc != NULL ? doc : json_object());

	if (item == NULL)
		return CC_ERR_NOMEM;
	if (template)
		json_object_set_new(item, "why", json_string(t->why));
	return json_array_append_new(template ? l->templates : l->limits, item) == 0 ? 0 : CC_ERR_NOMEM;
}

json_t *config_templates_json(struct vault *v, const struct store_org *org)
{
	struct store *s = vault_store(v);
	struct listing l = { json_array(), json_array() };
	json_t *out = NULL;

	if (l.templates != NULL && l.limits != NULL &&
	    s->ops->machine_config->template_list(s, org->id, list_one, &l) == CC_OK)
		out = json_pack("{s:s, s:s, s:O, s:O}", "org", org->name, "kind", org_kind_name(org->kind), "templates",
		                l.templates, "limits", l.limits);
	json_decref(l.templates);
	json_decref(l.limits);
	return out;
}
