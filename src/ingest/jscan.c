/*
 * jscan.c - the scanner of jscan.h: an explicit stack instead of recursion,
 * one byte loop per string, numbers converted without strtod.
 *
 * Whenever this file is unsure that jansson would read a token the same
 * way, it declines rather than guess: a declined document costs the caller
 * a trip through the reference decoder, a wrong guess would be a verdict
 * that differs from it.
 */
#include <string.h>

#include "ingest/jscan.h"

/* Parser position and the bits of state the helpers share. */
struct scan {
	struct jscan *js;
	const uint8_t *p;
	size_t len, i;
	size_t scratch_used;
};

static void skip_ws(struct scan *s)
{
	while (s->i < s->len) {
		uint8_t c = s->p[s->i];

		if (c != ' ' && c != '\t' && c != '\n' && c != '\r')
			return;
		s->i++;
	}
}

/* Length of the valid UTF-8 sequence starting with lead byte p[i] (>= 0x80),
 * or 0: no overlong forms, no surrogates, nothing above U+10FFFF. */
static size_t utf8_seq(const uint8_t *p, size_t len, size_t i)
{
	uint8_t c = p[i], c1;
	size_t n, k;

	if (c >= 0xC2 && c <= 0xDF)
		n = 2;
	else if (c >= 0xE0 && c <= 0xEF)
		n = 3;
	else if (c >= 0xF0 && c <= 0xF4)
		n = 4;
	else
		return 0;
	if (len - i < n)
		return 0;
	for (k = 1; k < n; k++)
		if ((p[i + k] & 0xC0) != 0x80)
			return 0;
	c1 = p[i + 1];
	if ((c == 0xE0 && c1 < 0xA0) || (c == 0xED && c1 > 0x9F) || (c == 0xF0 && c1 < 0x90) ||
	    (c == 0xF4 && c1 > 0x8F))
		return 0;
	return n;
}

static int hex4(const uint8_t *p, size_t len, size_t i, unsigned *out)
{
	unsigned v = 0;
	size_t k;

	if (len - i < 4)
		return -1;
	for (k = 0; k < 4; k++) {
		uint8_t c = p[i + k];

		v <<= 4;
		if (c >= '0' && c <= '9')
			v |= (unsigned)(c - '0');
		else if (c >= 'a' && c <= 'f')
			v |= (unsigned)(c - 'a' + 10);
		else if (c >= 'A' && c <= 'F')
			v |= (unsigned)(c - 'A' + 10);
		else
			return -1;
	}
	*out = v;
	return 0;
}

/* Appends code point cp as UTF-8 to the scratch. */
static int put_utf8(struct scan *s, unsigned cp)
{
	char *o = s->js->scratch + s->scratch_used;
	size_t n = cp < 0x80 ? 1 : cp < 0x800 ? 2 : cp < 0x10000 ? 3 : 4;

	if (JSCAN_SCRATCH_MAX - s->scratch_used < n)
		return -1;
	if (n == 1) {
		o[0] = (char)cp;
	} else if (n == 2) {
		o[0] = (char)(0xC0 | (cp >> 6));
		o[1] = (char)(0x80 | (cp & 0x3F));
	} else if (n == 3) {
		o[0] = (char)(0xE0 | (cp >> 12));
		o[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
		o[2] = (char)(0x80 | (cp & 0x3F));
	} else {
		o[0] = (char)(0xF0 | (cp >> 18));
		o[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
		o[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
		o[3] = (char)(0x80 | (cp & 0x3F));
	}
	s->scratch_used += n;
	return 0;
}

/* The rest of a string whose first escape is at s->i; bytes [start, s->i)
 * are plain. Decodes everything into the scratch. */
static int string_escaped(struct scan *s, size_t start, const char **out, size_t *outlen)
{
	const uint8_t *p = s->p;
	size_t first = s->scratch_used, plain = s->i - start;

	if (JSCAN_SCRATCH_MAX - s->scratch_used < plain)
		return -1;
	memcpy(s->js->scratch + s->scratch_used, p + start, plain);
	s->scratch_used += plain;
	while (s->i < s->len) {
		uint8_t c = p[s->i];
		unsigned cp, lo;

		if (c == '"') {
			s->i++;
			*out = s->js->scratch + first;
			*outlen = s->scratch_used - first;
			return 0;
		}
		if (c < 0x20)
			return -1;
		if (c >= 0x80) {
			size_t n = utf8_seq(p, s->len, s->i);

			if (n == 0 || JSCAN_SCRATCH_MAX - s->scratch_used < n)
				return -1;
			memcpy(s->js->scratch + s->scratch_used, p + s->i, n);
			s->scratch_used += n;
			s->i += n;
			continue;
		}
		if (c != '\\') {
			if (put_utf8(s, c) != 0)
				return -1;
			s->i++;
			continue;
		}
		if (++s->i >= s->len)
			return -1;
		c = p[s->i++];
		switch (c) {
		case '"': case '\\': case '/': cp = c; break;
		case 'b': cp = '\b'; break;
		case 'f': cp = '\f'; break;
		case 'n': cp = '\n'; break;
		case 'r': cp = '\r'; break;
		case 't': cp = '\t'; break;
		case 'u':
			if (hex4(p, s->len, s->i, &cp) != 0)
				return -1;
			s->i += 4;
			/* "\u0000" would put a NUL into a string or key: declined, so
			 * that every string handed out is free of NUL. */
			if (cp == 0 || (cp >= 0xDC00 && cp <= 0xDFFF))
				return -1;
			if (cp >= 0xD800 && cp <= 0xDBFF) {
				if (s->len - s->i < 6 || p[s->i] != '\\' || p[s->i + 1] != 'u' ||
				    hex4(p, s->len, s->i + 2, &lo) != 0 || lo < 0xDC00 || lo > 0xDFFF)
					return -1;
				s->i += 6;
				cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
			}
			break;
		default:
			return -1;
		}
		if (put_utf8(s, cp) != 0)
			return -1;
	}
	return -1;
}

/* A string starting at the opening quote s->p[s->i]. */
static int string_scan(struct scan *s, const char **out, size_t *outlen)
{
	const uint8_t *p = s->p;
	size_t start = ++s->i;

	while (s->i < s->len) {
		uint8_t c = p[s->i];

		if (c == '"') {
			*out = (const char *)p + start;
			*outlen = s->i - start;
			s->i++;
			return 0;
		}
		if (c == '\\')
			return string_escaped(s, start, out, outlen);
		if (c < 0x20)
			return -1;
		if (c >= 0x80) {
			size_t n = utf8_seq(p, s->len, s->i);

			if (n == 0)
				return -1;
			s->i += n;
			continue;
		}
		s->i++;
	}
	return -1;
}

static const double pow10_exact[] = { 1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,
	                              1e8,  1e9,  1e10, 1e11, 1e12, 1e13, 1e14, 1e15,
	                              1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22 };

/* A number per RFC 8259. Integers (no fraction, no exponent) exactly, as
 * int64 like jansson's json_int_t. Reals only on Clinger's fast path: at
 * most 15 significant digits (the mantissa is exact in a double) and a
 * decimal exponent within +-22 (the power of ten is exact), where one
 * multiplication or division is the correctly rounded result, the same
 * double strtod gives. Everything else is declined. */
static int number_scan(struct scan *s, struct jscan_token *t)
{
	const uint8_t *p = s->p;
	size_t len = s->len, i = s->i;
	int neg = 0, real = 0, sig = 0, frac = 0;
	uint64_t m = 0;
	long exp10 = 0;

	if (p[i] == '-') {
		neg = 1;
		if (++i >= len)
			return -1;
	}
	if (p[i] == '0') {
		i++;
		if (i < len && p[i] >= '0' && p[i] <= '9')
			return -1;
	} else if (p[i] >= '1' && p[i] <= '9') {
		while (i < len && p[i] >= '0' && p[i] <= '9') {
			if (m > (UINT64_MAX - 9) / 10)
				return -1;
			m = m * 10 + (uint64_t)(p[i] - '0');
			sig++;
			i++;
		}
	} else {
		return -1;
	}
	if (i < len && p[i] == '.') {
		real = 1;
		if (++i >= len || p[i] < '0' || p[i] > '9')
			return -1;
		while (i < len && p[i] >= '0' && p[i] <= '9') {
			if (m != 0 || p[i] != '0')
				sig++;
			if (sig > 15)
				return -1;
			m = m * 10 + (uint64_t)(p[i] - '0');
			frac++;
			i++;
		}
	}
	if (i < len && (p[i] == 'e' || p[i] == 'E')) {
		int eneg = 0, edigits = 0;
		long e = 0;

		real = 1;
		if (++i < len && (p[i] == '+' || p[i] == '-'))
			eneg = p[i++] == '-';
		if (i >= len || p[i] < '0' || p[i] > '9')
			return -1;
		while (i < len && p[i] >= '0' && p[i] <= '9') {
			if (++edigits > 4)
				return -1;
			e = e * 10 + (p[i] - '0');
			i++;
		}
		exp10 = eneg ? -e : e;
	}
	if (!real) {
		if ((!neg && m > (uint64_t)INT64_MAX) || (neg && m > (uint64_t)INT64_MAX + 1))
			return -1;
		t->type = JSCAN_INTEGER;
		t->i = neg ? (int64_t)(0 - m) : (int64_t)m;
		t->d = (double)t->i;
	} else {
		double d;

		if (sig > 15)
			return -1;
		exp10 -= frac;
		if (exp10 < -22 || exp10 > 22)
			return -1;
		d = (double)m;
		d = exp10 < 0 ? d / pow10_exact[-exp10] : d * pow10_exact[exp10];
		t->type = JSCAN_REAL;
		t->d = neg ? -d : d;
	}
	t->s = (const char *)p + s->i; /* the number as written, for callers that copy it */
	t->len = i - s->i;
	s->i = i;
	return 0;
}

static int literal(struct scan *s, const char *word, size_t n)
{
	if (s->len - s->i < n || memcmp(s->p + s->i, word, n) != 0)
		return -1;
	s->i += n;
	return 0;
}

static uint32_t key_hash(const char *k, size_t n)
{
	uint32_t h = 2166136261u;
	size_t i;

	for (i = 0; i < n; i++) {
		h ^= (uint8_t)k[i];
		h *= 16777619u;
	}
	return h;
}

int jscan_run(struct jscan *js, const uint8_t *p, size_t len, jscan_fn fn, void *ctx)
{
	struct scan s = { .js = js, .p = p, .len = len };
	uint8_t is_object[JSCAN_DEPTH_MAX + 1];
	unsigned key_base[JSCAN_DEPTH_MAX + 1];
	unsigned nkeys = 0;
	int sp = 0, rc;
	struct jscan_token t;

	if (js == NULL || fn == NULL || (p == NULL && len > 0))
		return JSCAN_DECLINED;
	skip_ws(&s);
	if (s.i >= len || p[s.i] != '{')
		return JSCAN_DECLINED;

value:
	/* A value at depth sp starts at s.i (whitespace skipped). */
	if (s.i >= len)
		return JSCAN_DECLINED;
	memset(&t, 0, sizeof(t));
	t.depth = sp;
	switch (p[s.i]) {
	case '{':
	case '[':
		if (sp >= JSCAN_DEPTH_MAX)
			return JSCAN_DECLINED;
		t.type = p[s.i] == '{' ? JSCAN_OBJECT : JSCAN_ARRAY;
		if ((rc = fn(ctx, &t)) != 0)
			return rc;
		s.i++;
		sp++;
		is_object[sp] = t.type == JSCAN_OBJECT;
		key_base[sp] = nkeys;
		skip_ws(&s);
		if (s.i < len && p[s.i] == (is_object[sp] ? '}' : ']')) {
			s.i++;
			goto close;
		}
		if (is_object[sp])
			goto key;
		goto value;
	case '"':
		t.type = JSCAN_STRING;
		if (string_scan(&s, &t.s, &t.len) != 0)
			return JSCAN_DECLINED;
		break;
	case 't':
		t.type = JSCAN_TRUE;
		if (literal(&s, "true", 4) != 0)
			return JSCAN_DECLINED;
		break;
	case 'f':
		t.type = JSCAN_FALSE;
		if (literal(&s, "false", 5) != 0)
			return JSCAN_DECLINED;
		break;
	case 'n':
		t.type = JSCAN_NULL;
		if (literal(&s, "null", 4) != 0)
			return JSCAN_DECLINED;
		break;
	default:
		if (number_scan(&s, &t) != 0)
			return JSCAN_DECLINED;
		break;
	}
	if ((rc = fn(ctx, &t)) != 0)
		return rc;
	goto after;

key:
	/* An object member's key at s.i (whitespace skipped), then ':'. */
	{
		struct jscan_key *k;
		unsigned j;

		if (s.i >= len || p[s.i] != '"')
			return JSCAN_DECLINED;
		memset(&t, 0, sizeof(t));
		t.type = JSCAN_KEY;
		t.depth = sp;
		if (string_scan(&s, &t.s, &t.len) != 0)
			return JSCAN_DECLINED;
		if (nkeys >= JSCAN_KEYS_MAX || nkeys - key_base[sp] >= JSCAN_OBJECT_KEYS)
			return JSCAN_DECLINED;
		k = &js->keys[nkeys];
		k->s = t.s;
		k->len = (uint32_t)t.len;
		k->hash = key_hash(t.s, t.len);
		for (j = key_base[sp]; j < nkeys; j++)
			if (js->keys[j].hash == k->hash && js->keys[j].len == k->len &&
			    memcmp(js->keys[j].s, k->s, k->len) == 0)
				return JSCAN_DECLINED; /* duplicate key */
		nkeys++;
		if ((rc = fn(ctx, &t)) != 0)
			return rc;
		skip_ws(&s);
		if (s.i >= len || p[s.i] != ':')
			return JSCAN_DECLINED;
		s.i++;
		skip_ws(&s);
		goto value;
	}

after:
	/* After a value at depth sp: ',' or the end of its container. */
	skip_ws(&s);
	if (s.i >= len)
		return JSCAN_DECLINED;
	if (p[s.i] == ',') {
		s.i++;
		skip_ws(&s);
		if (is_object[sp])
			goto key;
		goto value;
	}
	if (p[s.i] != (is_object[sp] ? '}' : ']'))
		return JSCAN_DECLINED;
	s.i++;

close:
	/* The container at depth sp ended just before s.i. */
	memset(&t, 0, sizeof(t));
	t.type = is_object[sp] ? JSCAN_OBJECT_END : JSCAN_ARRAY_END;
	if (is_object[sp])
		nkeys = key_base[sp];
	sp--;
	t.depth = sp;
	if ((rc = fn(ctx, &t)) != 0)
		return rc;
	if (sp > 0)
		goto after;
	skip_ws(&s);
	return s.i == len ? JSCAN_OK : JSCAN_DECLINED;
}
