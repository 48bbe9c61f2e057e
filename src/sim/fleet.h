/*
 * fleet.h - the simulated coffee machines: their state and the messages
 * they send (docs/METRICS.md "Message formats"). Pure: no I/O, no clock, no globals.
 *
 * A model advances only when asked, by a step of model time, and draws every
 * random number from its own generator seeded by (seed, index): the same
 * seed, index, start time of day, step and fault give byte-identical payloads
 * apart from the seq and ts the caller passes in. The caller owns the
 * struct (no allocation inside, nothing to free) and treats its fields as
 * private.
 *
 * What a machine does: heats its boiler from cold to ~93 °C after power on,
 * brews products whose mix follows the hour of day (espresso in the morning,
 * milk drinks in the afternoon), grinds, steams milk, runs its cleaning
 * programs, uses up beans, water, filter and drip-tray space and raises
 * warnings when they run low, has occasional errors and rare power and
 * update events. Events are queued when they happen (at most
 * FLEET_EVENTS_MAX; beyond that they are dropped and counted) and sent in
 * place of the next telemetry message. Metrics, event types and their fields
 * are those of the catalogue (docs/METRICS.md): a well-formed message is one
 * the server must store.
 */
#ifndef CC_SIM_FLEET_H
#define CC_SIM_FLEET_H

#include <stddef.h>
#include <stdint.h>

/* A payload never exceeds this, hostile ones included. */
#define FLEET_PAYLOAD_MAX 512
/* Events waiting to be sent, per machine. */
#define FLEET_EVENTS_MAX 8
/* Model time covered by one message at most (larger steps are clamped). */
#define FLEET_STEP_MAX_S 3600.0

/* Faults the simulator can inject (--fault). */
enum fleet_fault {
	FLEET_FAULT_NONE = 0,
	FLEET_FAULT_CARD,           /* an event note holding a Luhn-valid card number */
	FLEET_FAULT_EMAIL,          /* an event field holding an e-mail address */
	FLEET_FAULT_PHONE,          /* an event field holding a phone number */
	FLEET_FAULT_PRICE,          /* a brew event with a "price" field */
	FLEET_FAULT_FOREIGN_TOPIC,  /* normal telemetry, published on another machine's topic */
	FLEET_FAULT_BAD_JSON,       /* truncated telemetry JSON */
	FLEET_FAULT_UNKNOWN_METRIC, /* telemetry with a metric outside the catalogue */
	FLEET_FAULT_DISCONNECT,     /* no payload change: the client drops the connection */
};

/* 0 and *out set, or CC_ERR_INVALID for an unknown name. */
int fleet_fault_parse(const char *name, enum fleet_fault *out);
const char *fleet_fault_name(enum fleet_fault f);
/* 1 when the fault's message must be refused by the server. */
int fleet_fault_hostile(enum fleet_fault f);

enum fleet_kind { FLEET_TELEMETRY = 1, FLEET_EVENT = 2 };

struct fleet_msg {
	enum fleet_kind kind; /* which topic: telemetry or event */
	int hostile;          /* an injected fault the server must refuse */
	int foreign;          /* publish on another machine's topic */
	size_t len;           /* bytes of payload, without the NUL */
	char payload[FLEET_PAYLOAD_MAX];
};

/* One pending event (private to fleet.c). */
struct fleet_event {
	uint8_t type, product, program, result, severity, action;
	uint16_t code, volume_ml, duration_s;
	uint32_t counter;
	float brew_time_s, temp_c, pressure_bar; /* pressure_bar 0: none */
};

/* What a machine is made to do wrong (--scenario), on top of its random
 * character, so that the quality and service reports and alerts have
 * something known to find (docs/SIMULATOR.md "Scenarios"):
 *   out-of-spec       every brew 4.5 degC too cold;
 *   warm-fridge       the milk fridge held at 7.5 degC;
 *   skipped-cleaning  the milk system cleaned once at the start, never again;
 *   no-cleaning       the milk system never cleaned (a skipped-cleaning machine's
 *                     next run: its last cleaning stays where it was);
 *   worn-filter       the water filter at its end and never changed. */
enum fleet_scenario {
	FLEET_SCENARIO_NONE,
	FLEET_SCENARIO_OUT_OF_SPEC,
	FLEET_SCENARIO_WARM_FRIDGE,
	FLEET_SCENARIO_SKIPPED_CLEANING,
	FLEET_SCENARIO_WORN_FILTER,
	FLEET_SCENARIO_NO_CLEANING,
};
int fleet_scenario_parse(const char *name, size_t len, enum fleet_scenario *out);
const char *fleet_scenario_name(enum fleet_scenario s);

/* A machine's state (fields private to fleet.c). */
struct fleet_model {
	uint64_t rng[4];
	uint32_t index;
	double day_s;          /* model seconds since local midnight, 0..86400 */
	int phase;
	double phase_left_s;   /* time left in the current phase */
	double phase_total_s;
	/* the drink being made */
	uint8_t product, product_stage, program;
	double brew_time_s, brew_temp_sum, brew_temp_n, brew_press_sum, brew_press_n, grind_s, steam_s, dose_g;
	uint16_t volume_ml;
	int8_t quality_fault;  /* 0 fine, 1 too cold, 2 too hot, 3 too fast, 4 too slow */
	/* character of this machine */
	double busy, temp_offset, hardness_dh, fridge_target, fridge_target_left_s;
	/* sensors */
	double boiler_c, brew_c, steam_c, pressure_bar, flow_ml_s, grinder_a, fridge_c;
	/* consumables and counters */
	double filter_pct, beans_pct, water_pct, drip_pct;
	uint32_t cups, cycles;
	double since_milk_clean_s, since_unit_clean_s, descale_l;
	uint32_t cups_since_milk_clean;
	/* warnings raised and not yet resolved, with time until someone acts */
	uint8_t warn_beans, warn_water, warn_drip, warn_filter, warn_descale;
	double fix_beans_s, fix_water_s, fix_drip_s, fix_filter_s;
	uint16_t error_code;   /* the critical error keeping it out of service */
	uint8_t rotate;        /* which slow metrics the next telemetry carries */
	/* pending events, a ring */
	struct fleet_event events[FLEET_EVENTS_MAX];
	uint8_t ev_head, ev_count;
	uint32_t events_dropped;
	uint8_t scenario;      /* enum fleet_scenario */
};

/* Sets up machine `index` of a fleet with its own random character and
 * starting state (most warm and ready, some starting cold or mid-cleaning).
 * start_day_s: local seconds since midnight when the run starts. */
void fleet_model_init(struct fleet_model *m, uint64_t seed, uint32_t index, double start_day_s);

/* Puts machine m (just initialised) on scenario s. */
void fleet_model_scenario(struct fleet_model *m, enum fleet_scenario s);

/* Advances the model by step_s seconds of model time (clamped to
 * 0..FLEET_STEP_MAX_S), then writes the next message: a pending event if
 * there is one, else telemetry (150-250 bytes). With a fault other than
 * NONE and DISCONNECT the message is that fault's hostile message instead.
 * Returns 0, or CC_ERR_LIMIT if a payload did not fit (never expected). */
int fleet_model_next(struct fleet_model *m, double step_s, int64_t seq, int64_t ts_ms,
                     enum fleet_fault fault, struct fleet_msg *out);

/* Events dropped because the queue was full. */
uint32_t fleet_model_events_dropped(const struct fleet_model *m);

/* 1 if the digits of s (spaces and dashes ignored) pass the Luhn check. */
int fleet_luhn_valid(const char *s);

#endif
