/*
 * errors.h - the error-code catalogue: what a code a machine sends in an
 * `error` event means, how grave the manufacturer judges it, and what to
 * do about it, in English and Hungarian (docs/METRICS.md "Error codes").
 *
 * Machines send codes, never text (catalogue.h: the `error` event has no
 * free-text field): the catalogue explains them. An entry is for every
 * model ("*") or for one model, which wins over "*" for its code. Compiled
 * in, read-only, safe from any thread. Bump ERRORS_VERSION ("YYYY.MM-n")
 * with every change of meaning.
 */
#ifndef CC_INGEST_ERRORS_H
#define CC_INGEST_ERRORS_H

#include <stddef.h>

#define ERRORS_VERSION "2026.12-1"

struct error_entry {
	const char *model;    /* "*" or a model slug */
	const char *code;     /* [A-Z]{1,3}[0-9]{1,4} */
	const char *severity; /* info, warning, critical: the manufacturer's judgement */
	unsigned data_class;  /* enum data_class (access/roles.h): who may read it */
	const char *text[2];  /* en, hu: what is wrong */
	const char *action[2]; /* en, hu: what to do */
};

enum error_lang { ERRORS_EN = 0, ERRORS_HU = 1 };

const char *errors_version(void);
/* The entry for code on model (the model's own, else every model's); NULL
 * when the catalogue does not know the code. */
const struct error_entry *errors_find(const char *model, const char *code);
/* The i-th entry, NULL past the end: for listings and the docs check. */
const struct error_entry *errors_at(size_t i);
/* "en" or "hu" (a prefix such as "hu-HU" counts); anything else is English. */
enum error_lang errors_lang(const char *tag);

#endif
