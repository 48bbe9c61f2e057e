/*
 * catalogue.c - the metric and event tables of catalogue.h.
 *
 * Ranges are physical plausibility bounds, not quality limits (those are the
 * manufacturer's rule sets, docs/PRODUCT.md §3): a value outside them is a broken
 * sensor or a message that is not what it claims to be. No metric value can
 * reach 10^12, so no legitimate metric collides with the card-number
 * detector (privacy.h); counters are capped at 10^10.
 */
#include <math.h>
#include <string.h>

#include "ingest/catalogue.h"

#define NONE "—"
#define COUNTER_MAX 1e10

/* The default set: every model. */
static const struct catalogue_metric default_metrics[] = {
	{ "boiler_temp_c", "°C", CLASS_TECHNICAL, -20, 160, 0, "Parameters/BoilerTempWater",
	  "water (coffee) boiler temperature" },
	{ "brew_temp_c", "°C", CLASS_TECHNICAL, -20, 110, 0, NONE,
	  "water temperature at the brew group" },
	{ "steam_temp_c", "°C", CLASS_TECHNICAL, -20, 180, 0, "Parameters/BoilerTempSteam",
	  "steam boiler temperature" },
	{ "boiler_pressure_bar", "bar", CLASS_TECHNICAL, -1, 5, 0, "Parameters/BoilerPressureWater",
	  "water boiler pressure (OPC 30200 uses Pa: x 100000)" },
	{ "steam_pressure_bar", "bar", CLASS_TECHNICAL, -1, 5, 0, "Parameters/BoilerPressureSteam",
	  "steam boiler pressure (OPC 30200 uses Pa: x 100000)" },
	{ "pump_pressure_bar", "bar", CLASS_TECHNICAL, 0, 20, 0, NONE,
	  "pump (extraction) pressure" },
	{ "flow_ml_s", "ml/s", CLASS_TECHNICAL, 0, 50, 0, NONE,
	  "water flow through the brew group" },
	{ "grinder_current_a", "A", CLASS_TECHNICAL, 0, 20, 0, NONE,
	  "grinder motor current" },
	{ "heater_duty_pct", "%", CLASS_TECHNICAL, 0, 100, 0, NONE,
	  "heating element duty cycle" },
	{ "supply_voltage_v", "V", CLASS_TECHNICAL, 0, 500, 0, NONE,
	  "mains supply voltage" },
	{ "ambient_temp_c", "°C", CLASS_TECHNICAL, -40, 70, 0, NONE,
	  "temperature inside the housing" },
	{ "water_hardness_dh", "°dH", CLASS_TECHNICAL, 0, 60, 0, NONE,
	  "measured or configured water hardness" },
	{ "water_tank_pct", "%", CLASS_TECHNICAL, 0, 100, 0, NONE,
	  "water tank fill level" },
	{ "bean_hopper_pct", "%", CLASS_TECHNICAL, 0, 100, 0, NONE,
	  "bean hopper fill level" },
	{ "drip_tray_pct", "%", CLASS_TECHNICAL, 0, 100, 0, NONE,
	  "drip tray fill level" },
	{ "grounds_container_pct", "%", CLASS_TECHNICAL, 0, 100, 0, NONE,
	  "grounds container fill level" },
	{ "filter_used_pct", "%", CLASS_SERVICE, 0, 200, 0, NONE,
	  "water filter capacity used (over 100: overdue)" },
	{ "descale_due_l", "l", CLASS_SERVICE, -10000, 100000, 0, NONE,
	  "litres of water until descaling is due (negative: overdue)" },
	{ "brew_unit_cycles", "count", CLASS_SERVICE, 0, COUNTER_MAX, 1, "Parameters/TotalBrew_<No.>",
	  "brew unit cycles since manufacture (brew unit 1)" },
	{ "grinder_runtime_s", "s", CLASS_SERVICE, 0, COUNTER_MAX, 1, "Parameters/GrinderRuntime_<No.>",
	  "grinder running time since manufacture (grinder 1)" },
	{ "cup_counter", "count", CLASS_USAGE, 0, COUNTER_MAX, 1, "Parameters/TotalMix",
	  "beverages dispensed since manufacture" },
	{ "water_used_l", "l", CLASS_USAGE, 0, COUNTER_MAX, 0, NONE,
	  "water drawn since manufacture" },
};

/* barista-pro: a milk system with its own fridge. */
static const struct catalogue_metric barista_pro_metrics[] = {
	{ "milk_fridge_temp_c", "°C", CLASS_TECHNICAL, -10, 40, 0, NONE,
	  "milk fridge temperature (HACCP: <= 5 °C)" },
	{ "milk_temp_c", "°C", CLASS_TECHNICAL, -10, 100, 0, NONE,
	  "milk temperature at the outlet" },
	{ "milk_flow_ml_s", "ml/s", CLASS_TECHNICAL, 0, 50, 0, NONE,
	  "milk pump flow" },
	{ "milk_system_cleanings", "count", CLASS_SERVICE, 0, COUNTER_MAX, 1, NONE,
	  "milk system cleaning programs run since manufacture" },
};

#define N(a) (sizeof(a) / sizeof((a)[0]))

static const struct catalogue_model models[] = {
	{ "barista-pro", barista_pro_metrics, N(barista_pro_metrics) },
	{ "espresso-one", NULL, 0 },
};

/* ---- events ---------------------------------------------------------- */

static const char *const products[] = {
	"espresso", "ristretto", "lungo", "doppio", "americano", "coffee", "cafe_creme",
	"cappuccino", "latte_macchiato", "caffe_latte", "flat_white", "cortado", "macchiato",
	"hot_water", "hot_milk", "milk_foam", "chocolate", "tea", NULL,
};
static const char *const severities[] = { "info", "warning", "critical", NULL };
static const char *const error_states[] = { "raised", "cleared", NULL };
static const char *const clean_programs[] = { "rinse", "milk_system", "brew_unit", "descale", NULL };
static const char *const clean_results[] = { "ok", "aborted", "failed", NULL };
static const char *const maint_actions[] = {
	"filter_change", "descale", "gasket_change", "grinder_calibration", "brew_unit_change",
	"service_visit", NULL,
};
static const char *const update_phases[] = {
	"offered", "downloading", "installing", "success", "failed", "rollback", NULL,
};
static const char *const power_states[] = { "on", "off", "standby", NULL };

#define F_ENUM(name, req, list) { name, CATALOGUE_FIELD_ENUM, req, 0, 0, 0, NULL, list }
#define F_NUM(name, req, lo, hi, integer, unit) \
	{ name, CATALOGUE_FIELD_NUMBER, req, lo, hi, integer, unit, NULL }

static const struct catalogue_field brew_fields[] = {
	F_ENUM("product", 1, products),
	F_NUM("volume_ml", 0, 0, 2000, 0, "ml"),
	F_NUM("brew_time_s", 0, 0, 600, 0, "s"),
	F_NUM("temp_c", 0, 0, 110, 0, "°C"),
	F_NUM("pressure_bar", 0, 0, 20, 0, "bar"),
};
static const struct catalogue_field error_fields[] = {
	{ "code", CATALOGUE_FIELD_ERROR_CODE, 1, 0, 0, 0, NULL, NULL },
	F_ENUM("severity", 1, severities),
	F_ENUM("state", 0, error_states),
};
static const struct catalogue_field cleaning_fields[] = {
	F_ENUM("program", 1, clean_programs),
	F_ENUM("result", 1, clean_results),
	F_NUM("duration_s", 0, 0, 7200, 0, "s"),
};
static const struct catalogue_field maintenance_fields[] = {
	F_ENUM("action", 1, maint_actions),
	F_NUM("counter", 0, 0, COUNTER_MAX, 1, "count"),
};
static const struct catalogue_field update_fields[] = {
	F_ENUM("phase", 1, update_phases),
	{ "version", CATALOGUE_FIELD_VERSION, 1, 0, 0, 0, NULL, NULL },
	F_NUM("progress_pct", 0, 0, 100, 0, "%"),
};
static const struct catalogue_field power_fields[] = {
	F_ENUM("state", 1, power_states),
};

static const struct catalogue_event events[] = {
	{ "brew", CLASS_USAGE, brew_fields, N(brew_fields), "one beverage dispensed" },
	{ "error", CLASS_TECHNICAL, error_fields, N(error_fields),
	  "an error condition raised or cleared (no free text)" },
	{ "cleaning", CLASS_SERVICE, cleaning_fields, N(cleaning_fields), "a cleaning program ran" },
	{ "maintenance", CLASS_SERVICE, maintenance_fields, N(maintenance_fields),
	  "a maintenance action was recorded" },
	{ "update", CLASS_TECHNICAL, update_fields, N(update_fields), "software update progress" },
	{ "power", CLASS_STATUS, power_fields, N(power_fields), "power state changed" },
};

const char *catalogue_version(void)
{
	return CATALOGUE_VERSION;
}

static const struct catalogue_model *find_model(const char *model)
{
	size_t i;

	if (model == NULL)
		return NULL;
	for (i = 0; i < N(models); i++)
		if (strcmp(models[i].model, model) == 0)
			return &models[i];
	return NULL;
}

const struct catalogue_metric *catalogue_find_metric(const char *model, const char *name)
{
	return name != NULL ? catalogue_find_metric_len(model, name, strlen(name)) : NULL;
}

/* A catalogue name equals the len bytes at s (which hold no NUL). */
static int name_is(const char *name, const char *s, size_t len)
{
	return name[0] == s[0] && strncmp(name, s, len) == 0 && name[len] == 0;
}

const struct catalogue_metric *catalogue_find_metric_len(const char *model, const char *name, size_t len)
{
	const struct catalogue_model *m;
	size_t i;

	if (name == NULL || len == 0 || memchr(name, 0, len) != NULL)
		return NULL;
	for (i = 0; i < N(default_metrics); i++)
		if (name_is(default_metrics[i].name, name, len))
			return &default_metrics[i];
	if ((m = find_model(model)) == NULL)
		return NULL;
	for (i = 0; i < m->nextra; i++)
		if (name_is(m->extra[i].name, name, len))
			return &m->extra[i];
	return NULL;
}

const struct catalogue_metric *catalogue_metric_at(const char *model, size_t i)
{
	const struct catalogue_model *m;

	if (i < N(default_metrics))
		return &default_metrics[i];
	i -= N(default_metrics);
	m = find_model(model);
	if (m == NULL || i >= m->nextra)
		return NULL;
	return &m->extra[i];
}

const struct catalogue_model *catalogue_model_at(size_t i)
{
	return i < N(models) ? &models[i] : NULL;
}

const struct catalogue_event *catalogue_find_event(const char *type)
{
	return type != NULL ? catalogue_find_event_len(type, strlen(type)) : NULL;
}

const struct catalogue_event *catalogue_find_event_len(const char *type, size_t len)
{
	size_t i;

	if (type == NULL || len == 0 || memchr(type, 0, len) != NULL)
		return NULL;
	for (i = 0; i < N(events); i++)
		if (name_is(events[i].type, type, len))
			return &events[i];
	return NULL;
}

const struct catalogue_event *catalogue_event_at(size_t i)
{
	return i < N(events) ? &events[i] : NULL;
}

const struct catalogue_field *catalogue_find_field(const struct catalogue_event *ev, const char *name)
{
	return name != NULL ? catalogue_find_field_len(ev, name, strlen(name)) : NULL;
}

const struct catalogue_field *catalogue_find_field_len(const struct catalogue_event *ev, const char *name,
                                                       size_t len)
{
	size_t i;

	if (ev == NULL || name == NULL || len == 0 || memchr(name, 0, len) != NULL)
		return NULL;
	for (i = 0; i < ev->nfields; i++)
		if (name_is(ev->fields[i].name, name, len))
			return &ev->fields[i];
	return NULL;
}

static int number_ok(double v, int is_integer, double lo, double hi, int integer_only)
{
	if (!isfinite(v))
		return 0;
	if (integer_only && !is_integer)
		return 0;
	return v >= lo && v <= hi;
}

int catalogue_metric_accepts(const struct catalogue_metric *m, double v, int is_integer)
{
	return m != NULL && number_ok(v, is_integer, m->min, m->max, m->integer_only);
}

int catalogue_field_accepts_number(const struct catalogue_field *f, double v, int is_integer)
{
	return f != NULL && f->type == CATALOGUE_FIELD_NUMBER &&
	       number_ok(v, is_integer, f->min, f->max, f->integer_only);
}

static int is_digit(char c)
{
	return c >= '0' && c <= '9';
}

/* [A-Z]{1,3}[0-9]{1,4} */
static int error_code_ok(const char *s, size_t len)
{
	size_t i = 0, letters, digits;

	while (i < len && s[i] >= 'A' && s[i] <= 'Z')
		i++;
	letters = i;
	while (i < len && is_digit(s[i]))
		i++;
	digits = i - letters;
	return i == len && letters >= 1 && letters <= 3 && digits >= 1 && digits <= 4;
}

/* N.N[.N[.N]] then optionally (-|+) and [0-9A-Za-z.+-]+ */
static int version_ok(const char *s, size_t len)
{
	size_t i = 0, parts = 0;

	if (len == 0 || len > CATALOGUE_STRING_MAX)
		return 0;
	for (;;) {
		size_t start = i;

		while (i < len && is_digit(s[i]))
			i++;
		if (i == start || i - start > 9)
			return 0;
		parts++;
		if (i < len && s[i] == '.' && parts < 4) {
			i++;
			continue;
		}
		break;
	}
	if (parts < 2)
		return 0;
	if (i == len)
		return 1;
	if (s[i] != '-' && s[i] != '+')
		return 0;
	if (++i == len)
		return 0;
	for (; i < len; i++) {
		char c = s[i];

		if (!(is_digit(c) || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '.' ||
		      c == '+' || c == '-'))
			return 0;
	}
	return 1;
}

int catalogue_field_accepts_string(const struct catalogue_field *f, const char *s, size_t len)
{
	size_t i;

	if (f == NULL || s == NULL || len > CATALOGUE_STRING_MAX)
		return 0;
	switch (f->type) {
	case CATALOGUE_FIELD_ENUM:
		for (i = 0; f->values[i] != NULL; i++)
			if (strlen(f->values[i]) == len && memcmp(f->values[i], s, len) == 0)
				return 1;
		return 0;
	case CATALOGUE_FIELD_ERROR_CODE:
		return error_code_ok(s, len);
	case CATALOGUE_FIELD_VERSION:
		return version_ok(s, len);
	case CATALOGUE_FIELD_NUMBER:
		return 0;
	}
	return 0;
}

const char *catalogue_class_name(unsigned data_class)
{
	switch (data_class) {
	case CLASS_STATUS:
		return "status";
	case CLASS_TECHNICAL:
		return "technical";
	case CLASS_SERVICE:
		return "service";
	case CLASS_USAGE:
		return "usage";
	case CLASS_AUDIT:
		return "audit";
	}
	return "?";
}
