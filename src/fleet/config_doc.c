/* config_doc.c - remote configuration documents and their schema; see config_doc.h. */
#include "fleet/config_doc.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "access/roles.h"
#include "common/err.h"
#include "ingest/catalogue.h"
#include "ingest/privacy.h"

/* The languages a machine's panel speaks (ISO 639-1). */
static const char *const languages[] = { "en", "de", "fr", "it", "es", "nl", "hu", "pl", "cs", "sv", "da", NULL };

/* Ranges are what a commercial machine can be set to, not taste: a value
 * outside is a typo (300 g of grounds) or a misunderstanding (°F). */
static const struct config_field recipe_fields[CR_COUNT] = {
	{ "water_ml", CONFIG_INT, 5, 500, NULL, "ml", CLASS_TECHNICAL, 0, "water through the grounds" },
	{ "grounds_g", CONFIG_REAL, 4, 30, NULL, "g", CLASS_TECHNICAL, 0, "ground coffee per beverage" },
	{ "brew_temp_c", CONFIG_REAL, 85, 98, NULL, "°C", CLASS_TECHNICAL, 0, "brew water temperature" },
	{ "preinfusion_s", CONFIG_REAL, 0, 10, NULL, "s", CLASS_TECHNICAL, 0, "pre-infusion time" },
	{ "milk_foam_ratio", CONFIG_REAL, 0, 1, NULL, "", CLASS_TECHNICAL, 1,
	  "share of foam in the milk (0: liquid milk, 1: foam only)" },
	{ "size_scaling_pct", CONFIG_INT, 50, 150, NULL, "%", CLASS_TECHNICAL, 0,
	  "beverage size against the recipe (OPC 30200: 50-150 %)" },
};

static const struct config_field setting_fields[CS_COUNT] = {
	{ "standby_min", CONFIG_INT, 0, 480, NULL, "min", CLASS_TECHNICAL, 0,
	  "idle minutes before standby (0: never)" },
	{ "boiler_temp_c", CONFIG_REAL, 80, 100, NULL, "°C", CLASS_TECHNICAL, 0, "water (coffee) boiler temperature" },
	{ "steam_temp_c", CONFIG_REAL, 110, 140, NULL, "°C", CLASS_TECHNICAL, 1, "steam boiler temperature" },
	{ "rinse_every_h", CONFIG_INT, 1, 24, NULL, "h", CLASS_SERVICE, 0, "automatic rinse interval" },
	{ "milk_clean_every_h", CONFIG_INT, 1, 48, NULL, "h", CLASS_SERVICE, 1, "milk system cleaning interval" },
	{ "descale_every_l", CONFIG_INT, 50, 2000, NULL, "l", CLASS_SERVICE, 0, "litres of water between descalings" },
	{ "panel_language", CONFIG_ENUM, 0, 0, languages, "", CLASS_TECHNICAL, 0, "language of the machine's panel" },
};

/* The brew products of the catalogue (ingest/catalogue.c) each model makes. */
static const char *const espresso_products[] = {
	"espresso", "ristretto", "lungo", "doppio", "americano", "coffee", "cafe_creme", "hot_water", "tea", NULL,
};
static const char *const milk_products[] = {
	"espresso", "ristretto", "lungo", "doppio", "americano", "coffee", "cafe_creme", "cappuccino",
	"latte_macchiato", "caffe_latte", "flat_white", "cortado", "macchiato", "hot_water", "hot_milk", "milk_foam",
	"chocolate", "tea", NULL,
};

const struct config_field *config_recipe_field(enum config_recipe_field f)
{
	return (unsigned)f < CR_COUNT ? &recipe_fields[f] : NULL;
}

const struct config_field *config_setting_field(enum config_setting s)
{
	return (unsigned)s < CS_COUNT ? &setting_fields[s] : NULL;
}

int config_model_has_milk(const char *model)
{
	return model != NULL && strcmp(model, "barista-pro") == 0;
}

const char *const *config_model_products(const char *model)
{
	return config_model_has_milk(model) ? milk_products : espresso_products;
}

static int fail(char *why, size_t cap, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static int fail(char *why, size_t cap, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, cap, fmt, ap);
	va_end(ap);
	return CC_ERR_INVALID;
}

/* Names in reasons come from the document: printed only when they are plain
 * slugs, so a reason never carries arbitrary text back. */
static const char *shown(const char *s)
{
	size_t i, n = strlen(s);

	if (n == 0 || n > CC_NAME_MAX)
		return "(a member)";
	for (i = 0; i < n; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') || s[i] == '_' || s[i] == '-'))
			return "(a member)";
	return s;
}

static int product_index(const char *const *list, const char *name)
{
	int i;

	for (i = 0; list[i] != NULL; i++)
		if (strcmp(list[i], name) == 0)
			return i;
	return -1;
}

static int is_milk_product(const char *p)
{
	return product_index(espresso_products, p) < 0;
}

/* One value against its field; path is "recipes.x" or "settings". */
static int value_check(const struct config_field *f, const json_t *v, const char *path, double *out, char *why,
                       size_t cap)
{
	double d;
	int i;

	if (f->type == CONFIG_ENUM) {
		if (!json_is_string(v))
			return fail(why, cap, "%s.%s: a string is required", path, f->name);
		for (i = 0; f->values[i] != NULL; i++)
			if (strcmp(f->values[i], json_string_value(v)) == 0) {
				*out = i;
				return CC_OK;
			}
		return fail(why, cap, "%s.%s: not one of the allowed values", path, f->name);
	}
	if (f->type == CONFIG_INT && !json_is_integer(v))
		return fail(why, cap, "%s.%s: an integer is required", path, f->name);
	if (!json_is_number(v))
		return fail(why, cap, "%s.%s: a number is required", path, f->name);
	d = json_number_value(v);
	if (!isfinite(d) || d < f->min || d > f->max)
		return fail(why, cap, "%s.%s: out of range %g..%g%s%s", path, f->name, f->min, f->max,
		            f->unit[0] != '\0' ? " " : "", f->unit);
	*out = d;
	return CC_OK;
}

static int recipe_check(const char *model, const char *product, const json_t *r, struct config_recipe *out,
                        char *why, size_t cap)
{
	char path[CC_NAME_MAX + 16];
	const char *key;
	const json_t *v;
	int milk = config_model_has_milk(model);
	unsigned f;

	if (product_index(config_model_products(model), product) < 0)
		return fail(why, cap, "recipes.%s: not a product of this model", shown(product));
	snprintf(path, sizeof(path), "recipes.%s", product);
	if (!json_is_object(r))
		return fail(why, cap, "%s: an object is required", path);
	if (json_object_size(r) == 0)
		return fail(why, cap, "%s: sets nothing", path);
	memset(out, 0, sizeof(*out));
	snprintf(out->product, sizeof(out->product), "%s", product);
	json_object_foreach((json_t *)r, key, v) {
		for (f = 0; f < CR_COUNT && strcmp(recipe_fields[f].name, key) != 0; f++)
			;
		if (f == CR_COUNT)
			return fail(why, cap, "%s.%s: unknown field", path, shown(key));
		if (recipe_fields[f].milk && (!milk || !is_milk_product(product)))
			return fail(why, cap, "%s.%s: not for this product on this model", path, key);
		if (value_check(&recipe_fields[f], v, path, &out->v[f], why, cap) != CC_OK)
			return CC_ERR_INVALID;
		out->has |= 1u << f;
	}
	return CC_OK;
}

static int settings_check(const char *model, const json_t *s, struct config_doc *out, char *why, size_t cap)
{
	const char *key;
	const json_t *v;
	unsigned f;

	if (!json_is_object(s))
		return fail(why, cap, "settings: an object is required");
	json_object_foreach((json_t *)s, key, v) {
		for (f = 0; f < CS_COUNT && strcmp(setting_fields[f].name, key) != 0; f++)
			;
		if (f == CS_COUNT)
			return fail(why, cap, "settings.%s: unknown field", shown(key));
		if (setting_fields[f].milk && !config_model_has_milk(model))
			return fail(why, cap, "settings.%s: this model has no milk system", key);
		if (value_check(&setting_fields[f], v, "settings", &out->settings[f], why, cap) != CC_OK)
			return CC_ERR_INVALID;
		out->has |= 1u << f;
	}
	return CC_OK;
}

int config_doc_check(const char *model, const json_t *doc, struct config_doc *out, int *privacy, char *why,
                     size_t cap)
{
	const char *const *products = config_model_products(model);
	enum privacy_reason pr;
	const char *key;
	const json_t *v, *recipes;
	size_t i;

	if (privacy != NULL)
		*privacy = 0;
	why[0] = '\0';
	memset(out, 0, sizeof(*out));
	if (!json_is_object(doc))
		return fail(why, cap, "the configuration must be a JSON object");
	/* First, so that a price is refused as what it is, whatever its place. */
	pr = privacy_scan_json(doc);
	if (pr != PRIVACY_NONE) {
		if (privacy != NULL)
			*privacy = (int)pr;
		return fail(why, cap, "refused by the privacy filter: %s (no prices, payment or personal data)",
		            privacy_reason_name(pr));
	}
	json_object_foreach((json_t *)doc, key, v)
		if (strcmp(key, "recipes") != 0 && strcmp(key, "settings") != 0)
			return fail(why, cap, "%s: unknown field", shown(key));
	if (json_object_size(doc) == 0)
		return fail(why, cap, "the configuration sets nothing");
	recipes = json_object_get(doc, "recipes");
	if (recipes != NULL) {
		if (!json_is_object(recipes))
			return fail(why, cap, "recipes: an object is required");
		/* Walked in the model's product order: the canonical order. */
		json_object_foreach((json_t *)recipes, key, v)
			if (product_index(products, key) < 0)
				return fail(why, cap, "recipes.%s: not a product of this model", shown(key));
		for (i = 0; products[i] != NULL; i++) {
			v = json_object_get(recipes, products[i]);
			if (v == NULL)
				continue;
			if (out->nrecipes == CONFIG_RECIPES_MAX)
				return fail(why, cap, "recipes: too many");
			if (recipe_check(model, products[i], v, &out->recipes[out->nrecipes], why, cap) != CC_OK)
				return CC_ERR_INVALID;
			out->nrecipes++;
		}
	}
	v = json_object_get(doc, "settings");
	if (v != NULL && settings_check(model, v, out, why, cap) != CC_OK)
		return CC_ERR_INVALID;
	return CC_OK;
}

int config_doc_parse(const char *model, const char *json, size_t len, struct config_doc *out, int *privacy,
                     char *why, size_t cap)
{
	json_error_t err;
	json_t *doc;
	int rc;

	if (privacy != NULL)
		*privacy = 0;
	memset(out, 0, sizeof(*out));
	if (len > CONFIG_DOC_MAX)
		return fail(why, cap, "the configuration is larger than %d bytes", CONFIG_DOC_MAX);
	doc = json_loadb(json, len, JSON_REJECT_DUPLICATES, &err);
	if (doc == NULL)
		return fail(why, cap, "not valid JSON");
	rc = config_doc_check(model, doc, out, privacy, why, cap);
	json_decref(doc);
	return rc;
}

static json_t *value_json(const struct config_field *f, double v)
{
	if (f->type == CONFIG_ENUM)
		return json_string(f->values[(int)v]);
	if (f->type == CONFIG_INT)
		return json_integer((json_int_t)v);
	return json_real(v);
}

json_t *config_doc_json(const struct config_doc *d)
{
	json_t *doc = json_object(), *recipes = json_object(), *settings = json_object(), *r;
	size_t i;
	unsigned f;

	if (doc == NULL || recipes == NULL || settings == NULL)
		goto fail;
	for (i = 0; i < d->nrecipes; i++) {
		r = json_object();
		if (r == NULL || json_object_set_new(recipes, d->recipes[i].product, r) != 0)
			goto fail;
		for (f = 0; f < CR_COUNT; f++)
			if ((d->recipes[i].has & (1u << f)) &&
			    json_object_set_new(r, recipe_fields[f].name, value_json(&recipe_fields[f], d->recipes[i].v[f])) != 0)
				goto fail;
	}
	for (f = 0; f < CS_COUNT; f++)
		if ((d->has & (1u << f)) &&
		    json_object_set_new(settings, setting_fields[f].name, value_json(&setting_fields[f], d->settings[f])) != 0)
			goto fail;
	if (d->nrecipes > 0 && json_object_set(doc, "recipes", recipes) != 0)
		goto fail;
	if (d->has != 0 && json_object_set(doc, "settings", settings) != 0)
		goto fail;
	json_decref(recipes);
	json_decref(settings);
	return doc;
fail:
	json_decref(doc);
	json_decref(recipes);
	json_decref(settings);
	return NULL;
}

char *config_doc_text(const struct config_doc *d)
{
	json_t *doc = config_doc_json(d);
	char *text;

	if (doc == NULL)
		return NULL;
	text = json_dumps(doc, JSON_COMPACT | JSON_SORT_KEYS | JSON_REAL_PRECISION(10));
	json_decref(doc);
	return text;
}

int config_doc_satisfies(const struct config_doc *reported, const struct config_doc *desired, char *where,
                         size_t cap)
{
	const struct config_recipe *want, *got;
	size_t i, j;
	unsigned f;

	where[0] = '\0';
	for (i = 0; i < desired->nrecipes; i++) {
		want = &desired->recipes[i];
		got = NULL;
		for (j = 0; j < reported->nrecipes && got == NULL; j++)
			if (strcmp(reported->recipes[j].product, want->product) == 0)
				got = &reported->recipes[j];
		for (f = 0; f < CR_COUNT; f++) {
			if (!(want->has & (1u << f)))
				continue;
			if (got == NULL || !(got->has & (1u << f)) || got->v[f] != want->v[f]) {
				snprintf(where, cap, "recipes.%s.%s", want->product, recipe_fields[f].name);
				return 0;
			}
		}
	}
	for (f = 0; f < CS_COUNT; f++)
		if ((desired->has & (1u << f)) &&
		    (!(reported->has & (1u << f)) || reported->settings[f] != desired->settings[f])) {
			snprintf(where, cap, "settings.%s", setting_fields[f].name);
			return 0;
		}
	return 1;
}

int config_report_parse(const char *model, const uint8_t *payload, size_t len, struct config_report *out,
                        int *privacy, char *why, size_t cap)
{
	json_error_t err;
	json_t *doc;
	const json_t *v, *config;
	const char *key, *state, *reason;
	enum privacy_reason pr;
	int rc = CC_ERR_INVALID;

	if (privacy != NULL)
		*privacy = 0;
	why[0] = '\0';
	memset(out, 0, sizeof(*out));
	if (len > CONFIG_REPORT_MAX)
		return fail(why, cap, "the report is larger than %d bytes", CONFIG_REPORT_MAX);
	doc = json_loadb((const char *)payload, len, JSON_REJECT_DUPLICATES, &err);
	if (doc == NULL) {
		pr = privacy_scan_json_text((const char *)payload, len);
		if (privacy != NULL)
			*privacy = (int)pr;
		return fail(why, cap, "not valid JSON");
	}
	if (!json_is_object(doc)) {
		fail(why, cap, "the report must be a JSON object");
		goto out;
	}
	pr = privacy_scan_json(doc);
	if (pr != PRIVACY_NONE) {
		if (privacy != NULL)
			*privacy = (int)pr;
		fail(why, cap, "refused by the privacy filter: %s", privacy_reason_name(pr));
		goto out;
	}
	json_object_foreach(doc, key, v)
		if (strcmp(key, "version") != 0 && strcmp(key, "state") != 0 && strcmp(key, "reason") != 0 &&
		    strcmp(key, "config") != 0 && strcmp(key, "ts") != 0) {
			fail(why, cap, "%s: unknown field", shown(key));
			goto out;
		}
	v = json_object_get(doc, "version");
	if (!json_is_integer(v) || json_integer_value(v) < 0 || json_integer_value(v) > INT64_C(1000000000000)) {
		fail(why, cap, "version: a non-negative integer is required");
		goto out;
	}
	out->version = json_integer_value(v);
	state = json_string_value(json_object_get(doc, "state"));
	if (state == NULL || (strcmp(state, "applied") != 0 && strcmp(state, "rejected") != 0)) {
		fail(why, cap, "state: applied or rejected is required");
		goto out;
	}
	out->rejected = strcmp(state, "rejected") == 0;
	v = json_object_get(doc, "reason");
	if (v != NULL) {
		size_t i, n;

		reason = json_string_value(v);
		if (reason == NULL || !out->rejected) {
			fail(why, cap, "reason: a string, and only with rejected");
			goto out;
		}
		n = strlen(reason);
		if (n == 0 || n > CONFIG_REASON_MAX) {
			fail(why, cap, "reason: 1..%d bytes", CONFIG_REASON_MAX);
			goto out;
		}
		for (i = 0; i < n; i++)
			if ((unsigned char)reason[i] < 0x20 || reason[i] == 0x7f) {
				fail(why, cap, "reason: control characters");
				goto out;
			}
		memcpy(out->reason, reason, n + 1);
	} else if (out->rejected) {
		snprintf(out->reason, sizeof(out->reason), "rejected");
	}
	config = json_object_get(doc, "config");
	if (config == NULL && !out->rejected) {
		fail(why, cap, "config: required with applied");
		goto out;
	}
	if (config != NULL) {
		char inner[CONFIG_WHY_MAX];

		if (config_doc_check(model, config, &out->config, privacy, inner, sizeof(inner)) != CC_OK) {
			fail(why, cap, "config: %s", inner);
			goto out;
		}
		out->has_config = 1;
	}
	rc = CC_OK;
out:
	json_decref(doc);
	return rc;
}

static json_t *field_json(const struct config_field *f)
{
	json_t *o = json_object(), *vals;
	int i;

	if (o == NULL)
		return NULL;
	json_object_set_new(o, "type", json_string(f->type == CONFIG_INT ? "integer" : f->type == CONFIG_REAL ? "number"
	                                                                                                        : "enum"));
	if (f->type == CONFIG_ENUM) {
		vals = json_array();
		for (i = 0; f->values[i] != NULL; i++)
			json_array_append_new(vals, json_string(f->values[i]));
		json_object_set_new(o, "values", vals);
	} else {
		json_object_set_new(o, "min", json_real(f->min));
		json_object_set_new(o, "max", json_real(f->max));
	}
	json_object_set_new(o, "unit", json_string(f->unit));
	json_object_set_new(o, "class", json_string(catalogue_class_name(f->data_class)));
	json_object_set_new(o, "what", json_string(f->what));
	return o;
}

json_t *config_schema_json(const char *model)
{
	json_t *o = json_object(), *products = json_array(), *recipe = json_object(), *settings = json_object();
	const char *const *p = config_model_products(model);
	int milk = config_model_has_milk(model);
	size_t i;

	if (o == NULL || products == NULL || recipe == NULL || settings == NULL) {
		json_decref(o);
		json_decref(products);
		json_decref(recipe);
		json_decref(settings);
		return NULL;
	}
	for (i = 0; p[i] != NULL; i++)
		json_array_append_new(products, json_string(p[i]));
	for (i = 0; i < CR_COUNT; i++)
		if (!recipe_fields[i].milk || milk)
			json_object_set_new(recipe, recipe_fields[i].name, field_json(&recipe_fields[i]));
	for (i = 0; i < CS_COUNT; i++)
		if (!setting_fields[i].milk || milk)
			json_object_set_new(settings, setting_fields[i].name, field_json(&setting_fields[i]));
	json_object_set_new(o, "products", products);
	json_object_set_new(o, "milk", json_boolean(milk));
	json_object_set_new(o, "recipe", recipe);
	json_object_set_new(o, "settings", settings);
	return o;
}
