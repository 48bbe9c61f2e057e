/*
 * jscan.h - a single-pass, allocation-free, bounded JSON scanner for the
 * ingest hot path (docs/ARCHITECTURE.md "Parse once").
 *
 * jscan_run reads one JSON document and hands every key and value to a
 * callback, in document order, while it validates. It builds no tree and
 * allocates nothing: strings without escapes are handed out as pointers
 * into the input, strings with escapes are decoded into the caller's
 * struct jscan (bounded scratch), numbers are converted on the spot.
 *
 * The contract is one-sided on purpose. JSCAN_OK means: the input is one
 * JSON object that jansson's json_loadb(JSON_REJECT_DUPLICATES) accepts, and
 * every token the callback saw is exactly what jansson's tree would hold
 * (same decoded bytes, integer vs real, same int64 or double value). Anything
 * else is JSCAN_DECLINED: not JSON, or JSON the scanner does not judge
 * itself - a top level that is not an object, nesting deeper than
 * JSCAN_DEPTH_MAX, an object of more than JSCAN_OBJECT_KEYS members, more
 * escaped text than the scratch holds, "\u0000", an integer outside int64,
 * a real that is not exactly convertible by the fast path (more than 15
 * significant digits or a decimal exponent beyond +-22). A caller that must
 * say why a declined input is refused asks the reference decoder (jansson);
 * that path is cold (malformed or unusual documents only). The differential
 * fuzz target tests/fuzz/fuzz_ingest_diff.c holds the scanner to this.
 *
 * Strict RFC 8259 as jansson reads it: whitespace is space, tab, CR, LF;
 * strings are valid UTF-8 (no overlong forms, no surrogates, nothing above
 * U+10FFFF), no control bytes below 0x20, escapes \" \\ \/ \b \f \n \r \t
 * \u and four hex digits, surrogate pairs paired; numbers without leading zeros,
 * '+', NaN or Infinity; duplicate keys in one object refused.
 *
 * Pure: no globals, no I/O, safe from any thread; stack use is
 * sizeof(struct jscan) (the caller's) plus a few words.
 */
#ifndef CC_INGEST_JSCAN_H
#define CC_INGEST_JSCAN_H

#include <stddef.h>
#include <stdint.h>

/* Nesting of arrays/objects the scanner follows (top level = 1). */
#define JSCAN_DEPTH_MAX 16
/* Members of one object; more are declined (no catalogue object has
 * anywhere near this many, so such a document is refused anyway). */
#define JSCAN_OBJECT_KEYS 64
/* Keys of all objects open at one time. */
#define JSCAN_KEYS_MAX 256
/* Bytes of decoded escaped strings per document. */
#define JSCAN_SCRATCH_MAX 4096

enum jscan_result { JSCAN_OK = 0, JSCAN_DECLINED = 1 };

enum jscan_type {
	JSCAN_OBJECT = 1, /* an object begins */
	JSCAN_OBJECT_END,
	JSCAN_ARRAY,      /* an array begins */
	JSCAN_ARRAY_END,
	JSCAN_KEY,        /* an object member's key; its value follows */
	JSCAN_STRING,
	JSCAN_INTEGER,    /* v.i exact, v.d = (double)v.i as jansson's json_number_value */
	JSCAN_REAL,       /* v.d */
	JSCAN_TRUE,
	JSCAN_FALSE,
	JSCAN_NULL,
};

struct jscan_token {
	enum jscan_type type;
	/* Depth of the container this token is in: the top-level object's keys
	 * and values are at 1; its own OBJECT/OBJECT_END tokens at 0. */
	int depth;
	const char *s; /* KEY, STRING: decoded UTF-8 (no NUL inside); INTEGER, REAL: the
	                  number's text as written (valid JSON); not NUL-terminated */
	size_t len;
	int64_t i;
	double d;
};

/* Called for every token; a non-zero return stops the scan, and jscan_run
 * returns that value. Pointers in the token live as long as the input and
 * the struct jscan. */
typedef int (*jscan_fn)(void *ctx, const struct jscan_token *t);

/* Workspace, on the caller's stack; no initialisation needed. */
struct jscan {
	struct jscan_key {
		const char *s;
		uint32_t len, hash;
	} keys[JSCAN_KEYS_MAX];
	char scratch[JSCAN_SCRATCH_MAX];
};

/* Scans the len bytes at p (not NUL-terminated). Returns JSCAN_OK,
 * JSCAN_DECLINED (see above; the callback may already have seen a prefix
 * of the tokens), or the callback's non-zero return value. */
int jscan_run(struct jscan *js, const uint8_t *p, size_t len, jscan_fn fn, void *ctx);

#endif
