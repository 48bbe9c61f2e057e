/* fleet.c - machine models and their messages; see fleet.h. */
#include "sim/fleet.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "common/err.h"

enum phase { PH_HEATING, PH_READY, PH_GRIND, PH_BREW, PH_STEAM, PH_WATER, PH_CLEAN, PH_ERROR };

/* Event types and their fields follow the catalogue (docs/METRICS.md):
 * anything else is refused at ingest. */
enum ev_type { EV_BREW = 1, EV_ERROR, EV_CLEANING, EV_MAINTENANCE, EV_UPDATE, EV_POWER };
enum ev_severity { SEV_INFO, SEV_WARNING, SEV_CRITICAL };
enum ev_state { STATE_NONE, STATE_RAISED, STATE_CLEARED };
enum ev_program { PROG_MILK, PROG_BREW_UNIT, PROG_RINSE, PROG_DESCALE };
enum ev_action { ACT_FILTER_CHANGE, ACT_SERVICE_VISIT, ACT_GASKET_CHANGE, ACT_GRINDER_CALIBRATION };
enum power_state { POWER_ON, POWER_OFF, POWER_STANDBY };

static const char *const severity_names[] = { "info", "warning", "critical" };
static const char *const state_names[] = { "", "raised", "cleared" };
static const char *const program_names[] = { "milk_system", "brew_unit", "rinse", "descale" };
static const char *const action_names[] = {
	"filter_change", "service_visit", "gasket_change", "grinder_calibration",
};
static const char *const power_names[] = { "on", "off", "standby" };

/* Error codes (the error-code catalogue explains them; no text is sent). */
enum {
	CODE_WATER_LOW = 11, CODE_DRIP_FULL = 12, CODE_BEANS_LOW = 31, CODE_BREW_UNIT = 42,
	CODE_DESCALE_DUE = 50, CODE_FILTER_DUE = 61, CODE_GRINDER_BLOCKED = 73, CODE_PRESSURE_LOW = 105,
	CODE_BOILER_OVERTEMP = 201, CODE_FLOW_METER = 310,
};

#define SW_VERSION "4.2.1"

/* The drinks a barista-pro makes. espresso_ml runs through the puck in
 * brew_s seconds; milk drinks then steam milk, americano adds hot water. */
struct product {
	const char *name;
	uint16_t espresso_ml, total_ml;
	double brew_s, dose_g, steam_s, water_s;
};

static const struct product products[] = {
	{ "espresso", 30, 30, 24.5, 8.0, 0, 0 },
	{ "ristretto", 20, 20, 21.0, 8.0, 0, 0 },
	{ "doppio", 60, 60, 27.0, 16.0, 0, 0 },
	{ "lungo", 110, 110, 35.0, 9.0, 0, 0 },
	{ "americano", 40, 200, 25.0, 9.0, 0, 7 },
	{ "cappuccino", 30, 180, 24.0, 8.0, 12, 0 },
	{ "latte_macchiato", 30, 300, 24.0, 8.0, 18, 0 },
	{ "caffe_latte", 30, 250, 24.0, 8.0, 15, 0 },
	{ "flat_white", 60, 160, 27.0, 16.0, 10, 0 },
};
#define N_PRODUCTS (sizeof(products) / sizeof(products[0]))

/* Product mix by part of the day: more espresso in the morning, more milk
 * drinks in the afternoon. Weights in the order of products[]. */
static const uint8_t mix[5][N_PRODUCTS] = {
	{ 26, 4, 8, 10, 18, 10, 8, 8, 8 },   /* night 22-5 */
	{ 30, 5, 12, 9, 13, 15, 5, 5, 6 },   /* morning 5-11 */
	{ 30, 4, 10, 6, 13, 14, 8, 7, 8 },   /* midday 11-14 */
	{ 12, 2, 4, 5, 9, 20, 24, 14, 10 },  /* afternoon 14-18 */
	{ 18, 3, 6, 8, 13, 16, 16, 12, 8 },  /* evening 18-22 */
};

/* Drinks per hour of a machine of average business, by hour of day. */
static const uint8_t brews_per_hour[24] = {
	0, 0, 0, 0, 0, 1, 8, 30, 45, 40, 30, 24, 26, 34, 30, 26, 20, 12, 6, 4, 2, 1, 0, 0,
};

/* ---- random numbers: xoshiro256**, seeded through splitmix64 ---- */

static uint64_t splitmix64(uint64_t *x)
{
	uint64_t z = (*x += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static uint64_t rotl(uint64_t x, int k)
{
	return (x << k) | (x >> (64 - k));
}

static uint64_t rng_next(struct fleet_model *m)
{
	uint64_t *s = m->rng;
	uint64_t result = rotl(s[1] * 5, 7) * 9;
	uint64_t t = s[1] << 17;

	s[2] ^= s[0];
	s[3] ^= s[1];
	s[1] ^= s[2];
	s[0] ^= s[3];
	s[2] ^= t;
	s[3] = rotl(s[3], 45);
	return result;
}

/* Uniform in [0, 1). */
static double rnd(struct fleet_model *m)
{
	return (double)(rng_next(m) >> 11) * (1.0 / 9007199254740992.0);
}

static double uniform(struct fleet_model *m, double a, double b)
{
	return a + (b - a) * rnd(m);
}

/* Roughly standard normal (Irwin-Hall of 6, scaled): enough for sensor
 * noise, and no libm. */
static double gauss(struct fleet_model *m)
{
	double s = 0;
	int i;

	for (i = 0; i < 6; i++)
		s += rnd(m);
	return (s - 3.0) * 1.41421356;
}

static int chance(struct fleet_model *m, double p)
{
	return rnd(m) < p;
}

static double clamp(double v, double lo, double hi)
{
	return v < lo ? lo : v > hi ? hi : v;
}

/* ---- faults ---- */

static const char *const fault_names[] = {
	"none", "card", "email", "phone", "price", "foreign-topic", "bad-json", "unknown-metric", "disconnect",
};

int fleet_fault_parse(const char *name, enum fleet_fault *out)
{
	size_t i;

	for (i = 0; i < sizeof(fault_names) / sizeof(fault_names[0]); i++) {
		if (strcmp(name, fault_names[i]) == 0) {
			*out = (enum fleet_fault)i;
			return CC_OK;
		}
	}
	return CC_ERR_INVALID;
}

const char *fleet_fault_name(enum fleet_fault f)
{
	if ((size_t)f < sizeof(fault_names) / sizeof(fault_names[0]))
		return fault_names[f];
	return "?";
}

int fleet_fault_hostile(enum fleet_fault f)
{
	return f != FLEET_FAULT_NONE && f != FLEET_FAULT_DISCONNECT;
}

int fleet_luhn_valid(const char *s)
{
	int digits[32], n = 0, sum = 0, i;

	for (; *s != '\0'; s++) {
		if (*s >= '0' && *s <= '9') {
			if (n == 32)
				return 0;
			digits[n++] = *s - '0';
		} else if (*s != ' ' && *s != '-') {
			return 0;
		}
	}
	if (n < 13 || n > 19)
		return 0;
	for (i = 0; i < n; i++) {
		int d = digits[n - 1 - i];

		if (i % 2 == 1) {
			d *= 2;
			if (d > 9)
				d -= 9;
		}
		sum += d;
	}
	return sum % 10 == 0;
}

/* ---- events ---- */

static void queue_event(struct fleet_model *m, const struct fleet_event *e)
{
	if (m->ev_count == FLEET_EVENTS_MAX) {
		m->events_dropped++;
		return;
	}
	m->events[(m->ev_head + m->ev_count) % FLEET_EVENTS_MAX] = *e;
	m->ev_count++;
}

static void queue_error(struct fleet_model *m, uint16_t code, enum ev_severity severity, enum ev_state state)
{
	struct fleet_event e;

	memset(&e, 0, sizeof(e));
	e.type = EV_ERROR;
	e.code = code;
	e.severity = (uint8_t)severity;
	e.result = (uint8_t)state;
	queue_event(m, &e);
}

/* maintenance (action, counter) and power (state) */
static void queue_action(struct fleet_model *m, enum ev_type type, uint8_t action, uint32_t counter)
{
	struct fleet_event e;

	memset(&e, 0, sizeof(e));
	e.type = (uint8_t)type;
	e.action = action;
	e.counter = counter;
	queue_event(m, &e);
}

uint32_t fleet_model_events_dropped(const struct fleet_model *m)
{
	return m->events_dropped;
}

/* ---- the machine ---- */

static int hour_of(const struct fleet_model *m)
{
	return (int)(m->day_s / 3600.0) % 24;
}

static int day_part(int hour)
{
	if (hour >= 5 && hour < 11)
		return 1;
	if (hour >= 11 && hour < 14)
		return 2;
	if (hour >= 14 && hour < 18)
		return 3;
	if (hour >= 18 && hour < 22)
		return 4;
	return 0;
}

static uint8_t pick_product(struct fleet_model *m)
{
	const uint8_t *w = mix[day_part(hour_of(m))];
	unsigned total = 0, i;
	double r;

	for (i = 0; i < N_PRODUCTS; i++)
		total += w[i];
	r = rnd(m) * total;
	for (i = 0; i < N_PRODUCTS; i++) {
		if (r < w[i])
			return (uint8_t)i;
		r -= w[i];
	}
	return 0;
}

static void set_phase(struct fleet_model *m, enum phase p, double seconds)
{
	m->phase = p;
	m->phase_left_s = seconds;
	m->phase_total_s = seconds;
}

static void start_drink(struct fleet_model *m)
{
	const struct product *p;
	double q = rnd(m);

	m->product = pick_product(m);
	p = &products[m->product];
	/* A few drinks miss the quality standard (90-96 °C, 20-30 s). */
	m->quality_fault = q < 0.015 ? 1 : q < 0.025 ? 2 : q < 0.04 ? 3 : q < 0.05 ? 4 : 0;
	if (m->scenario == FLEET_SCENARIO_OUT_OF_SPEC)
		m->quality_fault = 1; /* too cold, every one */
	m->brew_time_s = p->brew_s + gauss(m) * 1.2;
	if (m->quality_fault == 3)
		m->brew_time_s = uniform(m, 14, 18);
	else if (m->quality_fault == 4)
		m->brew_time_s = uniform(m, 33, 40);
	m->brew_time_s = clamp(m->brew_time_s, 10, 60);
	m->dose_g = p->dose_g + gauss(m) * 0.3;
	m->grind_s = m->dose_g / 2.6 + gauss(m) * 0.1;
	m->steam_s = p->steam_s > 0 ? p->steam_s + gauss(m) * 1.0 : 0;
	m->volume_ml = (uint16_t)(p->total_ml + (int)(gauss(m) * 2));
	m->brew_temp_sum = 0;
	m->brew_temp_n = 0;
	m->brew_press_sum = 0;
	m->brew_press_n = 0;
	m->product_stage = 0;
	set_phase(m, PH_GRIND, clamp(m->grind_s, 1.5, 8));
}

static void finish_drink(struct fleet_model *m)
{
	struct fleet_event e;

	memset(&e, 0, sizeof(e));
	e.type = EV_BREW;
	e.product = m->product;
	e.volume_ml = m->volume_ml;
	e.brew_time_s = (float)m->brew_time_s;
	e.temp_c = (float)(m->brew_temp_n > 0 ? m->brew_temp_sum / m->brew_temp_n : m->brew_c);
	/* The extraction's mean pressure, after the pre-infusion. */
	e.pressure_bar = (float)(m->brew_press_n > 0 ? m->brew_press_sum / m->brew_press_n : 0);
	queue_event(m, &e);
	m->cups++;
	m->cycles++;
	if (products[m->product].steam_s > 0)
		m->cups_since_milk_clean++;
	set_phase(m, PH_READY, 0);
}

static void start_cleaning(struct fleet_model *m, enum ev_program prog)
{
	static const double seconds[] = { 300, 600, 45, 1800 };

	m->program = (uint8_t)prog;
	set_phase(m, PH_CLEAN, seconds[prog]);
}

static void finish_cleaning(struct fleet_model *m)
{
	struct fleet_event e;

	memset(&e, 0, sizeof(e));
	e.type = EV_CLEANING;
	e.program = m->program;
	e.result = chance(m, 0.04) ? 1 : 0;
	e.duration_s = (uint16_t)m->phase_total_s;
	if (e.result == 1) /* aborted part-way */
		e.duration_s = (uint16_t)(m->phase_total_s * uniform(m, 0.2, 0.8));
	queue_event(m, &e);
	if (e.result == 0) {
		if (e.program == PROG_MILK) {
			m->since_milk_clean_s = 0;
			m->cups_since_milk_clean = 0;
		} else if (e.program == PROG_BREW_UNIT) {
			m->since_unit_clean_s = 0;
			m->cycles++;
		} else if (e.program == PROG_DESCALE) {
			m->descale_l = 0;
			if (m->warn_descale) {
				m->warn_descale = 0;
				queue_error(m, CODE_DESCALE_DUE, SEV_WARNING, STATE_CLEARED);
			}
		}
	}
	m->drip_pct += e.program == PROG_RINSE ? 1.0 : 6.0;
	m->water_pct -= e.program == PROG_RINSE ? 2.0 : e.program == PROG_DESCALE ? 30.0 : 8.0;
	set_phase(m, PH_READY, 0);
}

/* Warnings about consumables: raised once, cleared when a person has
 * refilled or emptied (minutes later) or changed the filter (hours later). */
static void consumables(struct fleet_model *m, double dt)
{
	if (!m->warn_beans && m->beans_pct < 8) {
		m->warn_beans = 1;
		m->fix_beans_s = uniform(m, 300, 2400);
		queue_error(m, CODE_BEANS_LOW, SEV_WARNING, STATE_RAISED);
	} else if (m->warn_beans && (m->fix_beans_s -= dt) <= 0) {
		m->warn_beans = 0;
		m->beans_pct = uniform(m, 95, 100);
		queue_error(m, CODE_BEANS_LOW, SEV_WARNING, STATE_CLEARED);
	}
	if (!m->warn_water && m->water_pct < 8) {
		m->warn_water = 1;
		m->fix_water_s = uniform(m, 120, 900);
		queue_error(m, CODE_WATER_LOW, SEV_WARNING, STATE_RAISED);
	} else if (m->warn_water && (m->fix_water_s -= dt) <= 0) {
		m->warn_water = 0;
		m->water_pct = uniform(m, 97, 100);
		queue_error(m, CODE_WATER_LOW, SEV_WARNING, STATE_CLEARED);
	}
	if (!m->warn_drip && m->drip_pct > 90) {
		m->warn_drip = 1;
		m->fix_drip_s = uniform(m, 120, 900);
		queue_error(m, CODE_DRIP_FULL, SEV_WARNING, STATE_RAISED);
	} else if (m->warn_drip && (m->fix_drip_s -= dt) <= 0) {
		m->warn_drip = 0;
		m->drip_pct = uniform(m, 0, 2);
		queue_error(m, CODE_DRIP_FULL, SEV_WARNING, STATE_CLEARED);
	}
	if (!m->warn_filter && m->filter_pct >= 100) {
		m->warn_filter = 1;
		m->fix_filter_s = uniform(m, 1800, 14400);
		queue_error(m, CODE_FILTER_DUE, SEV_WARNING, STATE_RAISED);
	} else if (m->warn_filter && m->scenario != FLEET_SCENARIO_WORN_FILTER && (m->fix_filter_s -= dt) <= 0) {
		m->warn_filter = 0;
		m->filter_pct = 0;
		queue_action(m, EV_MAINTENANCE, ACT_FILTER_CHANGE, m->cycles);
		queue_error(m, CODE_FILTER_DUE, SEV_WARNING, STATE_CLEARED);
	}
	/* Scale builds up with the water used, faster with hard water. */
	if (!m->warn_descale && m->descale_l > 4500.0 / m->hardness_dh) {
		m->warn_descale = 1;
		queue_error(m, CODE_DESCALE_DUE, SEV_WARNING, STATE_RAISED);
	}
	m->beans_pct = clamp(m->beans_pct, 0, 100);
	m->water_pct = clamp(m->water_pct, 0, 100);
	m->drip_pct = clamp(m->drip_pct, 0, 100);
	m->filter_pct = clamp(m->filter_pct, 0, 120);
}

/* What may happen to a machine standing ready, per second. */
static void ready_events(struct fleet_model *m, double dt)
{
	static const uint16_t warnings[] = { CODE_BREW_UNIT, CODE_PRESSURE_LOW, CODE_GRINDER_BLOCKED };
	static const uint16_t criticals[] = { CODE_BOILER_OVERTEMP, CODE_FLOW_METER };
	int hour = hour_of(m);
	double brew_p = brews_per_hour[hour] * m->busy / 3600.0 * dt;

	if (chance(m, 0.15 / 3600.0 * dt)) {
		queue_error(m, warnings[rng_next(m) % 3], SEV_WARNING, STATE_NONE);
		return;
	}
	if (chance(m, 0.03 / 3600.0 * dt)) {
		m->error_code = criticals[rng_next(m) % 2];
		queue_error(m, m->error_code, SEV_CRITICAL, STATE_RAISED);
		set_phase(m, PH_ERROR, uniform(m, 180, 1800));
		return;
	}
	if (chance(m, 0.01 / 3600.0 * dt)) { /* switched off and on again */
		queue_action(m, EV_POWER, POWER_OFF, 0);
		queue_action(m, EV_POWER, POWER_ON, 0);
		m->boiler_c -= 15;
		m->steam_c -= 20;
		set_phase(m, PH_HEATING, 0);
		return;
	}
	if (chance(m, 0.004 / 3600.0 * dt)) { /* a technician's visit */
		queue_action(m, EV_MAINTENANCE, ACT_SERVICE_VISIT, m->cycles);
		if (chance(m, 0.5))
			queue_action(m, EV_MAINTENANCE, chance(m, 0.5) ? ACT_GASKET_CHANGE : ACT_GRINDER_CALIBRATION,
			             m->cycles);
		return;
	}
	if (m->warn_descale && chance(m, dt / 7200.0)) {
		start_cleaning(m, PROG_DESCALE);
		return;
	}
	/* Daily milk-system cleaning, usually at closing time; the brew unit weekly. */
	if (m->scenario != FLEET_SCENARIO_SKIPPED_CLEANING && m->scenario != FLEET_SCENARIO_NO_CLEANING &&
	    (m->since_milk_clean_s > 24 * 3600.0 || m->cups_since_milk_clean > 250 ||
	     (hour >= 19 && m->since_milk_clean_s > 10 * 3600.0))) {
		if (chance(m, dt / 600.0)) {
			start_cleaning(m, PROG_MILK);
			return;
		}
	}
	if (m->since_unit_clean_s > 7 * 24 * 3600.0 && chance(m, dt / 1800.0)) {
		start_cleaning(m, PROG_BREW_UNIT);
		return;
	}
	if (m->beans_pct > 1 && m->water_pct > 2 && chance(m, brew_p))
		start_drink(m);
}

/* One second (or less) of model time. */
static void substep(struct fleet_model *m, double dt)
{
	const struct product *p = &products[m->product < N_PRODUCTS ? m->product : 0];
	double set = 93.0 + m->temp_offset, in_phase;

	m->day_s += dt;
	if (m->day_s >= 86400.0)
		m->day_s -= 86400.0;
	m->since_milk_clean_s += dt;
	m->since_unit_clean_s += dt;

	/* The milk fridge holds 3-5 °C, its set point drifting slowly; rarely
	 * its door is left open or it fails and it warms past 5 °C. */
	if ((m->fridge_target_left_s -= dt) <= 0 && m->scenario != FLEET_SCENARIO_WARM_FRIDGE) {
		m->fridge_target = chance(m, 0.03) ? uniform(m, 5.5, 7.5) : uniform(m, 3.3, 4.6);
		m->fridge_target_left_s = uniform(m, 1800, 7200);
	}
	m->fridge_c += (m->fridge_target - m->fridge_c) * dt / 900.0 + gauss(m) * 0.004;

	m->grinder_a = 0;
	m->pressure_bar = 0;
	m->flow_ml_s = 0;
	m->phase_left_s -= dt;
	in_phase = m->phase_total_s - m->phase_left_s;

	switch (m->phase) {
	case PH_HEATING:
		m->boiler_c += (106.0 - m->boiler_c) * dt / 150.0;
		m->steam_c += (145.0 - m->steam_c) * dt / 260.0;
		m->brew_c += (m->boiler_c - 2.0 - m->brew_c) * dt / 45.0;
		if (m->boiler_c >= set - 0.5) /* warm: the automatic rinse */
			start_cleaning(m, PROG_RINSE);
		break;
	case PH_READY:
		m->boiler_c += (set - m->boiler_c) * dt / 20.0 + gauss(m) * 0.05;
		m->steam_c += (124.0 - m->steam_c) * dt / 40.0 + gauss(m) * 0.1;
		m->brew_c += (m->boiler_c - 2.5 - m->brew_c) * dt / 60.0;
		ready_events(m, dt);
		break;
	case PH_GRIND:
		m->grinder_a = (in_phase < 0.6 ? 6.4 : 4.2) + gauss(m) * 0.3;
		m->boiler_c += (set - m->boiler_c) * dt / 20.0;
		if (m->phase_left_s <= 0)
			set_phase(m, PH_BREW, m->brew_time_s);
		break;
	case PH_BREW: {
		double target = set + (m->quality_fault == 1 ? -4.5 : m->quality_fault == 2 ? 3.8 : 0);

		m->pressure_bar = in_phase < 3 ? 2.5 + gauss(m) * 0.15 : 9.0 + gauss(m) * 0.15;
		if (m->quality_fault == 3)
			m->pressure_bar -= 1.5;
		m->flow_ml_s = p->espresso_ml / m->brew_time_s + gauss(m) * 0.08;
		m->brew_c += (target - m->brew_c) * dt / 3.0 + gauss(m) * 0.15;
		m->boiler_c += (set - 3.0 - m->boiler_c) * dt / 30.0;
		m->brew_temp_sum += m->brew_c * dt;
		m->brew_temp_n += dt;
		if (in_phase >= 3) {
			m->brew_press_sum += m->pressure_bar * dt;
			m->brew_press_n += dt;
		}
		if (m->phase_left_s <= 0) {
			m->beans_pct -= m->dose_g / 10.0;                     /* 1 kg hopper */
			m->water_pct -= m->volume_ml / 100.0;                 /* 10 l tank */
			m->filter_pct += m->volume_ml / 1000.0 / (1500.0 / m->hardness_dh) * 100.0;
			m->descale_l += m->volume_ml / 1000.0;
			m->drip_pct += 0.6;
			if (m->steam_s > 0)
				set_phase(m, PH_STEAM, m->steam_s);
			else if (p->water_s > 0)
				set_phase(m, PH_WATER, p->water_s);
			else
				finish_drink(m);
		}
		break;
	}
	case PH_STEAM:
		m->steam_c += (108.0 - m->steam_c) * dt / 8.0;
		m->fridge_c += 0.004 * dt;
		m->boiler_c += (set - m->boiler_c) * dt / 20.0;
		if (m->phase_left_s <= 0)
			finish_drink(m);
		break;
	case PH_WATER:
		m->pressure_bar = 1.1 + gauss(m) * 0.05;
		m->flow_ml_s = 22.0 + gauss(m) * 0.5;
		m->boiler_c += (set - 1.5 - m->boiler_c) * dt / 20.0;
		if (m->phase_left_s <= 0)
			finish_drink(m);
		break;
	case PH_CLEAN:
		/* pulses of hot water and detergent */
		if ((int)in_phase % 20 < 8) {
			m->pressure_bar = 1.6 + gauss(m) * 0.1;
			m->flow_ml_s = 3.2 + gauss(m) * 0.2;
		}
		m->boiler_c += (set - m->boiler_c) * dt / 20.0 + gauss(m) * 0.05;
		m->brew_c += (m->boiler_c - 4.0 - m->brew_c) * dt / 30.0;
		if (m->phase_left_s <= 0)
			finish_cleaning(m);
		break;
	case PH_ERROR:
		if (m->error_code == 201) /* boiler overtemperature: heater cut */
			m->boiler_c += (60.0 - m->boiler_c) * dt / 400.0;
		else
			m->boiler_c += (set - m->boiler_c) * dt / 20.0;
		m->brew_c += (m->boiler_c - 3.0 - m->brew_c) * dt / 60.0;
		if (m->phase_left_s <= 0) {
			queue_error(m, m->error_code, SEV_CRITICAL, STATE_CLEARED);
			m->error_code = 0;
			set_phase(m, m->boiler_c < set - 0.5 ? PH_HEATING : PH_READY, 0);
		}
		break;
	default:
		set_phase(m, PH_READY, 0);
		break;
	}
	consumables(m, dt);
}

static const char *const scenario_names[] = { "none", "out-of-spec", "warm-fridge", "skipped-cleaning",
	                                             "worn-filter", "no-cleaning" };

int fleet_scenario_parse(const char *name, size_t len, enum fleet_scenario *out)
{
	size_t i;

	for (i = 0; i < sizeof(scenario_names) / sizeof(scenario_names[0]); i++)
		if (strlen(scenario_names[i]) == len && memcmp(scenario_names[i], name, len) == 0) {
			*out = (enum fleet_scenario)i;
			return CC_OK;
		}
	return CC_ERR_INVALID;
}

const char *fleet_scenario_name(enum fleet_scenario s)
{
	return (size_t)s < sizeof(scenario_names) / sizeof(scenario_names[0]) ? scenario_names[s] : "?";
}

void fleet_model_scenario(struct fleet_model *m, enum fleet_scenario s)
{
	struct fleet_event e;

	m->scenario = (uint8_t)s;
	switch (s) {
	case FLEET_SCENARIO_WARM_FRIDGE:
		m->fridge_target = 7.5;
		m->fridge_c = 7.2;
		break;
	case FLEET_SCENARIO_SKIPPED_CLEANING:
		/* Cleaned now, so the server knows when it was last done. */
		memset(&e, 0, sizeof(e));
		e.type = EV_CLEANING;
		e.program = PROG_MILK;
		e.duration_s = 600;
		queue_event(m, &e);
		m->since_milk_clean_s = 0;
		m->cups_since_milk_clean = 0;
		break;
	case FLEET_SCENARIO_WORN_FILTER:
		m->filter_pct = 99.5;
		break;
	default:
		break;
	}
}

void fleet_model_init(struct fleet_model *m, uint64_t seed, uint32_t index, double start_day_s)
{
	uint64_t x = seed ^ ((uint64_t)index * 0xd1342543de82ef95ULL);
	double r;
	int i;

	memset(m, 0, sizeof(*m));
	for (i = 0; i < 4; i++)
		m->rng[i] = splitmix64(&x);
	m->index = index;
	m->day_s = clamp(start_day_s, 0, 86399.0);

	m->busy = uniform(m, 0.4, 1.6);
	m->temp_offset = gauss(m) * 0.4;
	m->hardness_dh = uniform(m, 6, 22);
	m->fridge_target = uniform(m, 3.4, 4.6);
	m->fridge_target_left_s = uniform(m, 600, 7200);
	m->fridge_c = m->fridge_target + gauss(m) * 0.2;
	m->beans_pct = uniform(m, 12, 100);
	m->water_pct = uniform(m, 20, 100);
	m->drip_pct = uniform(m, 0, 70);
	m->filter_pct = uniform(m, 0, 97);
	m->cups = 500 + (uint32_t)(rnd(m) * 150000);
	m->cycles = m->cups + m->cups / 40 + (uint32_t)(rnd(m) * 200);
	m->since_milk_clean_s = uniform(m, 0, 26 * 3600.0);
	m->since_unit_clean_s = uniform(m, 0, 8 * 24 * 3600.0);
	m->cups_since_milk_clean = (uint32_t)(rnd(m) * 120);
	m->rotate = (uint8_t)(rng_next(m) % 4);

	/* Most machines are warm and ready; some are being switched on, some
	 * are in the middle of a drink or of their cleaning. */
	m->boiler_c = 93.0 + m->temp_offset + gauss(m) * 0.2;
	m->steam_c = 124.0 + gauss(m) * 0.5;
	m->brew_c = m->boiler_c - 2.5;
	r = rnd(m);
	if (r < 0.12) {
		m->boiler_c = uniform(m, 18, 24);
		m->steam_c = m->boiler_c;
		m->brew_c = m->boiler_c;
		queue_action(m, EV_POWER, POWER_ON, 0);
		if (chance(m, 0.1)) /* booted into newly installed software */
			queue_action(m, EV_UPDATE, 0, 0);
		set_phase(m, PH_HEATING, 0);
	} else if (r < 0.16) {
		start_cleaning(m, PROG_MILK);
		m->phase_left_s = uniform(m, 5, 300);
	} else if (r < 0.30 && brews_per_hour[hour_of(m)] > 0) {
		start_drink(m);
	} else {
		set_phase(m, PH_READY, 0);
	}
}

/* ---- messages ---- */

static int put(struct fleet_msg *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static int put(struct fleet_msg *o, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (o->len >= sizeof(o->payload))
		return CC_ERR_LIMIT;
	va_start(ap, fmt);
	n = vsnprintf(o->payload + o->len, sizeof(o->payload) - o->len, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof(o->payload) - o->len)
		return CC_ERR_LIMIT;
	o->len += (size_t)n;
	return CC_OK;
}

/* Sensor readings never print as "-0.0". */
static double reading(double v, double lo, double hi)
{
	v = clamp(v, lo, hi);
	return v < 0.05 && v > -0.05 ? 0.0 : v;
}

static int put_telemetry(struct fleet_model *m, struct fleet_msg *o, int64_t seq, int64_t ts_ms,
                         int unknown_metric)
{
	int rc = put(o, "{\"seq\":%lld,\"ts\":%lld,\"m\":{", (long long)seq, (long long)ts_ms);
	int i;

	if (rc == CC_OK && unknown_metric)
		rc = put(o, "\"flux_capacitor_gw\":1.21,");
	if (rc == CC_OK)
		rc = put(o, "\"boiler_temp_c\":%.1f,\"brew_temp_c\":%.1f,\"pump_pressure_bar\":%.1f,"
		         "\"flow_ml_s\":%.1f,\"grinder_current_a\":%.1f,\"milk_fridge_temp_c\":%.1f",
		         reading(m->boiler_c, -20, 180), reading(m->brew_c, -20, 180),
		         reading(m->pressure_bar, 0, 20), reading(m->flow_ml_s, 0, 50),
		         reading(m->grinder_a, 0, 20), reading(m->fridge_c, -5, 30));
	/* Two of the eight slowly changing values per message, in turn. */
	for (i = 0; i < 2 && rc == CC_OK; i++) {
		switch ((m->rotate * 2 + i) % 8) {
		case 0: rc = put(o, ",\"steam_temp_c\":%.1f", reading(m->steam_c, -20, 200)); break;
		case 1: rc = put(o, ",\"water_hardness_dh\":%.1f", m->hardness_dh + gauss(m) * 0.05); break;
		case 2: rc = put(o, ",\"filter_used_pct\":%.1f", reading(m->filter_pct, 0, 120)); break;
		case 3: rc = put(o, ",\"bean_hopper_pct\":%.1f", reading(m->beans_pct, 0, 100)); break;
		case 4: rc = put(o, ",\"cup_counter\":%u", m->cups); break;
		case 5: rc = put(o, ",\"brew_unit_cycles\":%u", m->cycles); break;
		case 6: rc = put(o, ",\"water_tank_pct\":%.1f", reading(m->water_pct, 0, 100)); break;
		default: rc = put(o, ",\"drip_tray_pct\":%.1f", reading(m->drip_pct, 0, 100)); break;
		}
	}
	m->rotate = (uint8_t)((m->rotate + 1) % 4);
	if (rc == CC_OK)
		rc = put(o, "}}");
	o->kind = FLEET_TELEMETRY;
	return rc;
}

static int put_event(struct fleet_msg *o, int64_t seq, int64_t ts_ms, const struct fleet_event *e)
{
	int rc = put(o, "{\"seq\":%lld,\"ts\":%lld,", (long long)seq, (long long)ts_ms);

	o->kind = FLEET_EVENT;
	if (rc != CC_OK)
		return rc;
	switch (e->type) {
	case EV_BREW:
		rc = put(o, "\"type\":\"brew\",\"product\":\"%s\",\"volume_ml\":%u,\"brew_time_s\":%.1f,"
		         "\"temp_c\":%.1f", products[e->product % N_PRODUCTS].name, e->volume_ml,
		         (double)e->brew_time_s, (double)e->temp_c);
		if (rc == CC_OK && e->pressure_bar > 0)
			rc = put(o, ",\"pressure_bar\":%.1f", (double)e->pressure_bar);
		if (rc == CC_OK)
			rc = put(o, "}");
		break;
	case EV_ERROR:
		rc = put(o, "\"type\":\"error\",\"code\":\"E%03u\",\"severity\":\"%s\"", e->code,
		         severity_names[e->severity % 3]);
		if (rc == CC_OK && e->result != STATE_NONE)
			rc = put(o, ",\"state\":\"%s\"", state_names[e->result % 3]);
		if (rc == CC_OK)
			rc = put(o, "}");
		break;
	case EV_CLEANING:
		rc = put(o, "\"type\":\"cleaning\",\"program\":\"%s\",\"result\":\"%s\",\"duration_s\":%u}",
		         program_names[e->program % 4], e->result ? "aborted" : "ok", e->duration_s);
		break;
	case EV_MAINTENANCE:
		rc = put(o, "\"type\":\"maintenance\",\"action\":\"%s\",\"counter\":%u}",
		         action_names[e->action % 4], e->counter);
		break;
	case EV_UPDATE:
		rc = put(o, "\"type\":\"update\",\"phase\":\"success\",\"version\":\"" SW_VERSION "\"}");
		break;
	default:
		rc = put(o, "\"type\":\"power\",\"state\":\"%s\"}", power_names[e->action % 3]);
		break;
	}
	return rc;
}

/* A card number of 16 digits in groups of four that passes Luhn. */
static void make_card(struct fleet_model *m, char *out, size_t cap)
{
	static const char *const prefixes[] = { "4", "51", "55", "37" };
	char digits[17];
	const char *pre = prefixes[rng_next(m) % 4];
	size_t n = strlen(pre), i, o = 0;
	int sum = 0, check;

	memcpy(digits, pre, n);
	for (i = n; i < 15; i++)
		digits[i] = (char)('0' + rng_next(m) % 10);
	/* The check digit makes the 16-digit sum a multiple of ten; from the
	 * right, the digit before it is doubled. */
	for (i = 0; i < 15; i++) {
		int d = digits[14 - i] - '0';

		if (i % 2 == 0) {
			d *= 2;
			if (d > 9)
				d -= 9;
		}
		sum += d;
	}
	check = (10 - sum % 10) % 10;
	digits[15] = (char)('0' + check);
	digits[16] = '\0';
	for (i = 0; i < 16 && o + 2 < cap; i++) {
		if (i > 0 && i % 4 == 0)
			out[o++] = ' ';
		out[o++] = digits[i];
	}
	out[o] = '\0';
}

static int put_hostile(struct fleet_model *m, struct fleet_msg *o, int64_t seq, int64_t ts_ms,
                       enum fleet_fault fault)
{
	static const char *const names[] = { "anna.keller", "j.smith", "marco.rossi", "li.wei" };
	static const char *const domains[] = { "example.com", "example.org", "cafe.example" };
	char buf[64];
	int rc;

	o->hostile = 1;
	switch (fault) {
	case FLEET_FAULT_CARD:
		make_card(m, buf, sizeof(buf));
		o->kind = FLEET_EVENT;
		return put(o, "{\"seq\":%lld,\"ts\":%lld,\"type\":\"maintenance\",\"action\":\"service_visit\","
		           "\"note\":\"paid by card %s\"}", (long long)seq, (long long)ts_ms, buf);
	case FLEET_FAULT_EMAIL:
		o->kind = FLEET_EVENT;
		return put(o, "{\"seq\":%lld,\"ts\":%lld,\"type\":\"maintenance\",\"action\":\"service_visit\","
		           "\"technician\":\"%s@%s\"}", (long long)seq, (long long)ts_ms,
		           names[rng_next(m) % 4], domains[rng_next(m) % 3]);
	case FLEET_FAULT_PHONE:
		o->kind = FLEET_EVENT;
		return put(o, "{\"seq\":%lld,\"ts\":%lld,\"type\":\"maintenance\",\"action\":\"service_visit\","
		           "\"contact\":\"+49 30 %04u %04u\"}", (long long)seq, (long long)ts_ms,
		           (unsigned)(rng_next(m) % 10000), (unsigned)(rng_next(m) % 10000));
	case FLEET_FAULT_PRICE: {
		static const double prices[] = { 1.9, 2.5, 3.2, 3.8 };
		const struct product *p = &products[pick_product(m)];

		o->kind = FLEET_EVENT;
		return put(o, "{\"seq\":%lld,\"ts\":%lld,\"type\":\"brew\",\"product\":\"%s\",\"volume_ml\":%u,"
		           "\"brew_time_s\":%.1f,\"temp_c\":%.1f,\"price\":%.1f}", (long long)seq,
		           (long long)ts_ms, p->name, p->total_ml, p->brew_s, 93.0 + m->temp_offset,
		           prices[rng_next(m) % 4]);
	}
	case FLEET_FAULT_FOREIGN_TOPIC:
		o->foreign = 1;
		return put_telemetry(m, o, seq, ts_ms, 0);
	case FLEET_FAULT_BAD_JSON:
		rc = put_telemetry(m, o, seq, ts_ms, 0);
		/* Cut it off two thirds of the way: braces never close. */
		if (rc == CC_OK) {
			o->len = o->len * 2 / 3;
			o->payload[o->len] = '\0';
		}
		return rc;
	case FLEET_FAULT_UNKNOWN_METRIC:
		return put_telemetry(m, o, seq, ts_ms, 1);
	default:
		o->hostile = 0;
		return put_telemetry(m, o, seq, ts_ms, 0);
	}
}

int fleet_model_next(struct fleet_model *m, double step_s, int64_t seq, int64_t ts_ms,
                     enum fleet_fault fault, struct fleet_msg *out)
{
	double left = clamp(step_s, 0, FLEET_STEP_MAX_S);
	int rc;

	while (left > 0) {
		double dt = left > 1.0 ? 1.0 : left;

		substep(m, dt);
		left -= dt;
	}
	memset(out, 0, offsetof(struct fleet_msg, payload));
	out->payload[0] = '\0';
	if (fleet_fault_hostile(fault)) {
		rc = put_hostile(m, out, seq, ts_ms, fault);
	} else if (m->ev_count > 0) {
		struct fleet_event e = m->events[m->ev_head];

		m->ev_head = (uint8_t)((m->ev_head + 1) % FLEET_EVENTS_MAX);
		m->ev_count--;
		rc = put_event(out, seq, ts_ms, &e);
	} else {
		rc = put_telemetry(m, out, seq, ts_ms, 0);
	}
	if (rc != CC_OK) {
		out->len = 0;
		out->payload[0] = '\0';
	}
	return rc;
}
