/* ruleset.c - a model's quality standard: parse and validate; see ruleset.h. */
#include "quality/ruleset.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <jansson.h>

#include "common/err.h"
#include "ingest/catalogue.h"

static const char *const field_names[QF_COUNT] = { "temp_c", "brew_time_s", "volume_ml", "pressure_bar" };
static const char *const program_names[QP_COUNT] = { "rinse", "milk_system", "brew_unit", "descale" };

#define FOR_S_MIN 60
#define FOR_S_MAX 86400
#define EVERY_H_MAX (366 * 24)
#define EVERY_L_MAX 100000.0

const char *quality_field_name(enum quality_field f) { return f < QF_COUNT ? field_names[f] : "?"; }
const char *quality_program_name(enum quality_program p) { return p < QP_COUNT ? program_names[p] : "?"; }

int quality_program_find(const char *name, size_t len)
{
	int i;

	for (i = 0; i < QP_COUNT; i++)
		if (strlen(program_names[i]) == len && memcmp(program_names[i], name, len) == 0)
			return i;
	return -1;
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

/* Names in error messages come from the document: printed only when they
 * are plain slugs, so a reason never carries arbitrary text back. */
static int slug(const char *s)
{
	size_t i, n = strlen(s);

	if (n == 0 || n > CC_NAME_MAX)
		return 0;
	for (i = 0; i < n; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') || s[i] == '_' || s[i] == '-'))
			return 0;
	return 1;
}

static int only_keys(json_t *obj, const char *const *allowed, const char *path, char *why, size_t cap)
{
	const char *key;
	json_t *v;
	size_t i;

	json_object_foreach(obj, key, v) {
		for (i = 0; allowed[i] != NULL; i++)
			if (strcmp(key, allowed[i]) == 0)
				break;
		if (allowed[i] == NULL)
			return slug(key) ? fail(why, cap, "%s%s%s: not a member of a rule set", path, *path ? "." : "", key)
			                 : fail(why, cap, "%s: a member that is not part of a rule set", *path ? path : "the document");
	}
	return CC_OK;
}

/* {min, max}: at least one, finite numbers within [lo, hi], min <= max. */
static int parse_range(json_t *o, double lo, double hi, const char *path, struct quality_range *r, char *why,
                       size_t cap)
{
	static const char *const keys[] = { "min", "max", NULL };
	json_t *mn, *mx;
	int rc;

	memset(r, 0, sizeof(*r));
	if (!json_is_object(o))
		return fail(why, cap, "%s: an object {min, max}", path);
	if ((rc = only_keys(o, keys, path, why, cap)) != CC_OK)
		return rc;
	mn = json_object_get(o, "min");
	mx = json_object_get(o, "max");
	if (mn == NULL && mx == NULL)
		return fail(why, cap, "%s: needs min, max or both", path);
	if ((mn != NULL && !json_is_number(mn)) || (mx != NULL && !json_is_number(mx)))
		return fail(why, cap, "%s: min and max are numbers", path);
	if (mn != NULL) {
		r->has_min = 1;
		r->min = json_number_value(mn);
	}
	if (mx != NULL) {
		r->has_max = 1;
		r->max = json_number_value(mx);
	}
	if ((r->has_min && (!isfinite(r->min) || r->min < lo || r->min > hi)) ||
	    (r->has_max && (!isfinite(r->max) || r->max < lo || r->max > hi)))
		return fail(why, cap, "%s: min and max within %g .. %g", path, lo, hi);
	if (r->has_min && r->has_max && r->min > r->max)
		return fail(why, cap, "%s: min above max", path);
	return CC_OK;
}

static int parse_products(json_t *o, struct quality_ruleset *rs, char *why, size_t cap)
{
	const struct catalogue_event *brew = catalogue_find_event("brew");
	const struct catalogue_field *product = brew != NULL ? catalogue_find_field(brew, "product") : NULL;
	const char *name;
	json_t *spec;
	char path[CC_NAME_MAX + 64];
	int rc;

	if (!json_is_object(o))
		return fail(why, cap, "products: an object of product -> ranges");
	if (json_object_size(o) > QUALITY_PRODUCTS_MAX)
		return fail(why, cap, "products: at most %d", QUALITY_PRODUCTS_MAX);
	json_object_foreach(o, name, spec) {
		struct quality_product *p = &rs->products[rs->nproducts];
		int f, any = 0;

		if (strcmp(name, "*") != 0 &&
		    (product == NULL || !catalogue_field_accepts_string(product, name, strlen(name))))
			return slug(name) ? fail(why, cap, "products.%s: not a product of the brew event (docs/METRICS.md)", name)
			                  : fail(why, cap, "products: a name that is not a product of the brew event");
		snprintf(p->name, sizeof(p->name), "%s", name);
		if (!json_is_object(spec))
			return fail(why, cap, "products.%s: an object of field -> {min, max}", name);
		{
			const char *key;
			json_t *v;

			json_object_foreach(spec, key, v) {
				for (f = 0; f < QF_COUNT; f++)
					if (strcmp(key, field_names[f]) == 0)
						break;
				if (f == QF_COUNT)
					return slug(key) ? fail(why, cap, "products.%s.%s: not a field of the brew event "
					                                  "(temp_c, brew_time_s, volume_ml, pressure_bar)", name, key)
					                 : fail(why, cap, "products.%s: fields are temp_c, brew_time_s, volume_ml, pressure_bar",
					                        name);
			}
		}
		for (f = 0; f < QF_COUNT; f++) {
			const struct catalogue_field *cf = brew != NULL ? catalogue_find_field(brew, field_names[f]) : NULL;
			json_t *range = json_object_get(spec, field_names[f]);

			if (range == NULL)
				continue;
			snprintf(path, sizeof(path), "products.%s.%s", name, field_names[f]);
			if ((rc = parse_range(range, cf != NULL ? cf->min : 0, cf != NULL ? cf->max : 0, path, &p->r[f], why,
			                      cap)) != CC_OK)
				return rc;
			any = 1;
		}
		if (!any)
			return fail(why, cap, "products.%s: at least one of temp_c, brew_time_s, volume_ml, pressure_bar", name);
		rs->nproducts++;
	}
	return CC_OK;
}

static int parse_limits(json_t *a, struct quality_ruleset *rs, char *why, size_t cap)
{
	static const char *const keys[] = { "metric", "min", "max", "for_s", NULL };
	size_t i, j;
	json_t *l;
	char path[64];
	int rc;

	if (!json_is_array(a))
		return fail(why, cap, "telemetry: an array of {metric, min, max, for_s}");
	if (json_array_size(a) > QUALITY_LIMITS_MAX)
		return fail(why, cap, "telemetry: at most %d limits", QUALITY_LIMITS_MAX);
	json_array_foreach(a, i, l) {
		struct quality_limit *q = &rs->limits[i];
		const char *metric = json_string_value(json_object_get(l, "metric"));
		const struct catalogue_metric *cm;
		json_t *for_s = json_object_get(l, "for_s"), *range;

		snprintf(path, sizeof(path), "telemetry[%zu]", i);
		if (!json_is_object(l))
			return fail(why, cap, "%s: an object {metric, min, max, for_s}", path);
		if ((rc = only_keys(l, keys, path, why, cap)) != CC_OK)
			return rc;
		cm = metric != NULL ? catalogue_find_metric(rs->model, metric) : NULL;
		if (cm == NULL)
			return fail(why, cap, "%s.metric: a metric the model reports (docs/METRICS.md)", path);
		if (cm->integer_only)
			return fail(why, cap, "%s.metric: a measured value, not a counter", path);
		for (j = 0; j < i; j++)
			if (strcmp(rs->limits[j].metric, metric) == 0)
				return fail(why, cap, "%s.metric: %s has a limit already", path, metric);
		snprintf(q->metric, sizeof(q->metric), "%s", metric);
		range = json_pack("{}");
		if (range == NULL)
			return CC_ERR_NOMEM;
		if (json_object_get(l, "min") != NULL)
			json_object_set(range, "min", json_object_get(l, "min"));
		if (json_object_get(l, "max") != NULL)
			json_object_set(range, "max", json_object_get(l, "max"));
		rc = parse_range(range, cm->min, cm->max, path, &q->r, why, cap);
		json_decref(range);
		if (rc != CC_OK)
			return rc;
		if (!json_is_integer(for_s) || json_integer_value(for_s) < FOR_S_MIN || json_integer_value(for_s) > FOR_S_MAX)
			return fail(why, cap, "%s.for_s: whole seconds, %d .. %d", path, FOR_S_MIN, FOR_S_MAX);
		q->for_s = json_integer_value(for_s);
		rs->nlimits++;
	}
	return CC_OK;
}

static int parse_cleaning(json_t *a, struct quality_ruleset *rs, char *why, size_t cap)
{
	static const char *const keys[] = { "program", "every_h", "grace_h", "every_l", NULL };
	size_t i;
	json_t *c;
	char path[64];
	int rc;

	if (!json_is_array(a) || json_array_size(a) > QP_COUNT)
		return fail(why, cap, "cleaning: an array of at most %d {program, every_h, grace_h, every_l}", QP_COUNT);
	json_array_foreach(a, i, c) {
		const char *program = json_string_value(json_object_get(c, "program"));
		json_t *h = json_object_get(c, "every_h"), *g = json_object_get(c, "grace_h"), *l = json_object_get(c, "every_l");
		struct quality_cleaning *q;
		int p;

		snprintf(path, sizeof(path), "cleaning[%zu]", i);
		if (!json_is_object(c))
			return fail(why, cap, "%s: an object {program, every_h, grace_h, every_l}", path);
		if ((rc = only_keys(c, keys, path, why, cap)) != CC_OK)
			return rc;
		p = program != NULL ? quality_program_find(program, strlen(program)) : -1;
		if (p < 0)
			return fail(why, cap, "%s.program: rinse, milk_system, brew_unit or descale", path);
		q = &rs->cleaning[p];
		if (q->due)
			return fail(why, cap, "%s.program: %s has a schedule already", path, program_names[p]);
		if ((h == NULL) == (l == NULL))
			return fail(why, cap, "%s: every_h (hours) or every_l (litres), one of them", path);
		if (h != NULL && (!json_is_integer(h) || json_integer_value(h) < 1 || json_integer_value(h) > EVERY_H_MAX))
			return fail(why, cap, "%s.every_h: whole hours, 1 .. %d", path, EVERY_H_MAX);
		if (g != NULL && (h == NULL || !json_is_integer(g) || json_integer_value(g) < 0 ||
		                  json_integer_value(g) > json_integer_value(h)))
			return fail(why, cap, "%s.grace_h: whole hours, 0 .. every_h, with every_h", path);
		if (l != NULL && (!json_is_number(l) || !(json_number_value(l) >= 1) || json_number_value(l) > EVERY_L_MAX))
			return fail(why, cap, "%s.every_l: litres, 1 .. %g", path, EVERY_L_MAX);
		q->due = 1;
		q->every_h = h != NULL ? json_integer_value(h) : 0;
		q->grace_h = g != NULL ? json_integer_value(g) : 0;
		q->every_l = l != NULL ? json_number_value(l) : 0;
	}
	return CC_OK;
}

int quality_ruleset_parse(const char *json, size_t len, struct quality_ruleset *out, char *why, size_t cap)
{
	static const char *const keys[] = { "model", "name", "products", "telemetry", "cleaning", NULL };
	json_t *doc, *name, *v;
	const char *model;
	int rc;

	memset(out, 0, sizeof(*out));
	if (cap > 0)
		why[0] = '\0';
	if (len == 0 || len > QUALITY_DOC_MAX)
		return fail(why, cap, "a rule set is a JSON object of at most %d bytes", QUALITY_DOC_MAX);
	doc = json_loadb(json, len, JSON_REJECT_DUPLICATES, NULL);
	if (!json_is_object(doc)) {
		json_decref(doc);
		return fail(why, cap, "a rule set is a JSON object (docs/QUALITY.md); this is not one, or has a key twice");
	}
	rc = only_keys(doc, keys, "", why, cap);
	model = json_string_value(json_object_get(doc, "model"));
	name = json_object_get(doc, "name");
	if (rc == CC_OK && (model == NULL || (!slug(model) && strcmp(model, "*") != 0)))
		rc = fail(why, cap, "model: the machine model, a slug (e.g. barista-pro), or * for models without their own");
	if (rc == CC_OK)
		snprintf(out->model, sizeof(out->model), "%s", model);
	if (rc == CC_OK && name != NULL &&
	    (!json_is_string(name) || json_string_length(name) > QUALITY_NAME_TEXT_MAX || json_string_length(name) == 0))
		rc = fail(why, cap, "name: text of 1 .. %d bytes", QUALITY_NAME_TEXT_MAX);
	if (rc == CC_OK && name != NULL) {
		size_t i;

		snprintf(out->name, sizeof(out->name), "%s", json_string_value(name));
		for (i = 0; out->name[i] != '\0'; i++)
			if ((unsigned char)out->name[i] < 0x20 || out->name[i] == 0x7f)
				rc = fail(why, cap, "name: no control characters");
	}
	if (rc == CC_OK && (v = json_object_get(doc, "products")) != NULL)
		rc = parse_products(v, out, why, cap);
	if (rc == CC_OK && (v = json_object_get(doc, "telemetry")) != NULL)
		rc = parse_limits(v, out, why, cap);
	if (rc == CC_OK && (v = json_object_get(doc, "cleaning")) != NULL)
		rc = parse_cleaning(v, out, why, cap);
	if (rc == CC_OK && out->nproducts == 0 && out->nlimits == 0 && json_object_get(doc, "cleaning") == NULL)
		rc = fail(why, cap, "a rule set names products, telemetry limits or cleaning schedules");
	json_decref(doc);
	if (rc != CC_OK) {
		if (rc != CC_ERR_INVALID)
			fail(why, cap, "the rule set could not be read");
		memset(out->products, 0, sizeof(out->products));
		out->nproducts = out->nlimits = 0;
	}
	return rc;
}

const struct quality_product *quality_ruleset_product(const struct quality_ruleset *rs, const char *product,
                                                      size_t len)
{
	const struct quality_product *any = NULL;
	size_t i;

	for (i = 0; i < rs->nproducts; i++) {
		if (strlen(rs->products[i].name) == len && memcmp(rs->products[i].name, product, len) == 0)
			return &rs->products[i];
		if (strcmp(rs->products[i].name, "*") == 0)
			any = &rs->products[i];
	}
	return any;
}

unsigned quality_brew_judge(const struct quality_product *p, const double v[QF_COUNT], const int has[QF_COUNT])
{
	unsigned out = 0;
	int f;

	for (f = 0; f < QF_COUNT; f++) {
		const struct quality_range *r = &p->r[f];

		if (!has[f])
			continue;
		if ((r->has_min && v[f] < r->min) || (r->has_max && v[f] > r->max))
			out |= 1u << f;
	}
	return out;
}

/* The shipped standards (docs/QUALITY.md "The default rule sets"): the
 * simulator's barista-pro, drinks as it makes them, its milk fridge and
 * milk system; every other model the espresso standard the product had
 * before rule sets (90-96 degC, 20-30 s), weekly brew unit and descaling. */
static const char barista_pro[] =
	"{\"model\":\"barista-pro\",\"name\":\"Barista Pro factory standard\","
	"\"products\":{"
	"\"espresso\":{\"temp_c\":{\"min\":90,\"max\":96},\"brew_time_s\":{\"min\":20,\"max\":30},\"volume_ml\":{\"min\":25,\"max\":35},\"pressure_bar\":{\"min\":8,\"max\":10}},"
	"\"ristretto\":{\"temp_c\":{\"min\":90,\"max\":96},\"brew_time_s\":{\"min\":17,\"max\":26},\"volume_ml\":{\"min\":15,\"max\":25},\"pressure_bar\":{\"min\":8,\"max\":10}},"
	"\"doppio\":{\"temp_c\":{\"min\":90,\"max\":96},\"brew_time_s\":{\"min\":22,\"max\":32},\"volume_ml\":{\"min\":52,\"max\":68},\"pressure_bar\":{\"min\":8,\"max\":10}},"
	"\"lungo\":{\"temp_c\":{\"min\":90,\"max\":96},\"brew_time_s\":{\"min\":30,\"max\":42},\"volume_ml\":{\"min\":95,\"max\":125},\"pressure_bar\":{\"min\":8,\"max\":10}},"
	"\"americano\":{\"temp_c\":{\"min\":90,\"max\":96},\"brew_time_s\":{\"min\":20,\"max\":30},\"volume_ml\":{\"min\":180,\"max\":220},\"pressure_bar\":{\"min\":8,\"max\":10}},"
	"\"cappuccino\":{\"temp_c\":{\"min\":90,\"max\":96},\"brew_time_s\":{\"min\":20,\"max\":30},\"volume_ml\":{\"min\":160,\"max\":200},\"pressure_bar\":{\"min\":8,\"max\":10}},"
	"\"latte_macchiato\":{\"temp_c\":{\"min\":90,\"max\":96},\"brew_time_s\":{\"min\":20,\"max\":30},\"volume_ml\":{\"min\":270,\"max\":330},\"pressure_bar\":{\"min\":8,\"max\":10}},"
	"\"caffe_latte\":{\"temp_c\":{\"min\":90,\"max\":96},\"brew_time_s\":{\"min\":20,\"max\":30},\"volume_ml\":{\"min\":225,\"max\":275},\"pressure_bar\":{\"min\":8,\"max\":10}},"
	"\"flat_white\":{\"temp_c\":{\"min\":90,\"max\":96},\"brew_time_s\":{\"min\":22,\"max\":32},\"volume_ml\":{\"min\":145,\"max\":175},\"pressure_bar\":{\"min\":8,\"max\":10}},"
	"\"*\":{\"temp_c\":{\"min\":90,\"max\":96},\"brew_time_s\":{\"min\":20,\"max\":30}}},"
	"\"telemetry\":[{\"metric\":\"milk_fridge_temp_c\",\"max\":5,\"for_s\":600}],"
	"\"cleaning\":[{\"program\":\"milk_system\",\"every_h\":24,\"grace_h\":2},"
	"{\"program\":\"brew_unit\",\"every_h\":168,\"grace_h\":12},"
	"{\"program\":\"descale\",\"every_l\":400}]}";

static const char generic[] =
	"{\"model\":\"*\",\"name\":\"Espresso standard\","
	"\"products\":{\"*\":{\"temp_c\":{\"min\":90,\"max\":96},\"brew_time_s\":{\"min\":20,\"max\":30}}},"
	"\"cleaning\":[{\"program\":\"brew_unit\",\"every_h\":168,\"grace_h\":12},"
	"{\"program\":\"descale\",\"every_l\":400}]}";

const char *quality_default_text(const char *model)
{
	return model != NULL && strcmp(model, "barista-pro") == 0 ? barista_pro : generic;
}
