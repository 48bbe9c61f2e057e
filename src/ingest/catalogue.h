/*
 * catalogue.h - the versioned catalogue of what a machine may report: its
 * metrics (per machine model) and its event types with their fields.
 *
 * The catalogue is a compiled-in table: read-only, static storage, no
 * allocation, safe from any thread. Every pointer it hands out lives as long
 * as the program. A metric or field that is not in the catalogue is not
 * machine data CoffeeCloud knows how to protect, so ingest refuses it
 * (docs/PRODUCT.md §2.1). docs/METRICS.md renders this table for people; the unit
 * test test_ingest checks that the document names every entry and the
 * version.
 *
 * Metrics: a default set applies to every model ("*"); a model may add
 * metrics of its own (barista-pro: the milk system). Units are part of the
 * name (boiler_temp_c is in degrees Celsius). Each metric carries its data
 * class (docs/ARCHITECTURE.md "Who may do what"; enum data_class of access/roles.h) and, where one exists,
 * the equivalent variable of the OPC UA companion specification for
 * commercial kitchen equipment (OPC 30200), as a BrowseName path below a
 * CoffeeMachineDeviceType instance; "—" where the specification has none.
 *
 * Bump CATALOGUE_VERSION ("YYYY.MM-n") with every change of meaning: a
 * metric added, removed, re-ranged or re-classed.
 */
#ifndef CC_INGEST_CATALOGUE_H
#define CC_INGEST_CATALOGUE_H

#include <stddef.h>

#include "access/roles.h"

#define CATALOGUE_VERSION "2026.11-1"

/* Longest metric, event type or field name (bytes, without the NUL). */
#define CATALOGUE_NAME_MAX 32
/* Longest string value of an event field (enum value, error code, version). */
#define CATALOGUE_STRING_MAX 32

struct catalogue_metric {
	const char *name;   /* snake_case, unit suffix */
	const char *unit;   /* UTF-8, for people: "°C", "bar", "ml/s", "%", "count" */
	unsigned data_class; /* exactly one enum data_class bit */
	double min, max;    /* inclusive */
	int integer_only;   /* 1: a JSON integer is required (counters) */
	const char *opcua;  /* OPC 30200 BrowseName path, or "—" */
	const char *what;   /* one line for people */
};

enum catalogue_field_type {
	CATALOGUE_FIELD_NUMBER = 1, /* a JSON number in [min, max], integer if integer_only */
	CATALOGUE_FIELD_ENUM,       /* a string from the allow-list `values` */
	CATALOGUE_FIELD_ERROR_CODE, /* a string [A-Z]{1,3}[0-9]{1,4}, e.g. "E042" */
	CATALOGUE_FIELD_VERSION,    /* a string N.N[.N[.N]][(-|+)[0-9A-Za-z.+-]+], <= 32 bytes */
};

struct catalogue_field {
	const char *name;
	enum catalogue_field_type type;
	int required;
	double min, max;            /* NUMBER only */
	int integer_only;           /* NUMBER only */
	const char *unit;           /* NUMBER only, for people */
	const char *const *values;  /* ENUM only: NULL-terminated */
};

struct catalogue_event {
	const char *type;           /* "brew", "error", ... */
	unsigned data_class;        /* exactly one enum data_class bit */
	const struct catalogue_field *fields;
	size_t nfields;
	const char *what;
};

struct catalogue_model {
	const char *model;          /* a machine model slug */
	const struct catalogue_metric *extra; /* metrics beyond the default set */
	size_t nextra;
};

/* CATALOGUE_VERSION. */
const char *catalogue_version(void);

/* The metric called name that model may report (the default set, plus the
 * model's own), or NULL. model may be NULL or unknown: the default set only. */
const struct catalogue_metric *catalogue_find_metric(const char *model, const char *name);

/* As catalogue_find_metric, _event and _field, for a name of len bytes that
 * is not NUL-terminated (a key the JSON scanner hands out). A name holding
 * a NUL byte, or of length 0, is never found. */
const struct catalogue_metric *catalogue_find_metric_len(const char *model, const char *name, size_t len);
const struct catalogue_event *catalogue_find_event_len(const char *type, size_t len);
const struct catalogue_field *catalogue_find_field_len(const struct catalogue_event *ev, const char *name,
                                                       size_t len);

/* The i-th metric model may report (default set first), NULL past the end. */
const struct catalogue_metric *catalogue_metric_at(const char *model, size_t i);

/* The i-th model with extra metrics, NULL past the end. */
const struct catalogue_model *catalogue_model_at(size_t i);

/* The event type called type, or NULL. Event types are the same for every model. */
const struct catalogue_event *catalogue_find_event(const char *type);

/* The i-th event type, NULL past the end. */
const struct catalogue_event *catalogue_event_at(size_t i);

/* The field of ev called name, or NULL. */
const struct catalogue_field *catalogue_find_field(const struct catalogue_event *ev, const char *name);

/* 1 if v is an acceptable value of m: finite, in range, and integral when
 * m->integer_only (is_integer: the JSON token was an integer). */
int catalogue_metric_accepts(const struct catalogue_metric *m, double v, int is_integer);

/* 1 if v is acceptable for a NUMBER field, as above. */
int catalogue_field_accepts_number(const struct catalogue_field *f, double v, int is_integer);

/* 1 if the len bytes at s are acceptable for a string field (ENUM,
 * ERROR_CODE or VERSION). */
int catalogue_field_accepts_string(const struct catalogue_field *f, const char *s, size_t len);

/* "status", "technical", "service", "usage", "audit"; "?" otherwise. */
const char *catalogue_class_name(unsigned data_class);

#endif
