/*
 * privacy.c - the detectors of privacy.h. Every scan is linear in its input
 * (each detector looks a bounded distance from each start position) and uses
 * a few hundred bytes of stack (privacy_scan_note: about 20 KiB, its word
 * table and a normalised copy); nothing here allocates or logs.
 */
#include <math.h>
#include <pthread.h>
#include <stdint.h>
#include <string.h>

#include "ingest/privacy.h"

#define CARD_MIN 13
#define CARD_MAX 19

/* Phone numbers have at most 15 digits (E.164); we look at most this many
 * groups past a start, which keeps the scan linear on digit soup. */
#define PHONE_DIGITS_MAX 15
#define PHONE_GROUPS_MAX 10
#define PHONE_PAREN_MAX 5

/* Longest word part compared against the short financial words. */
#define FIN_WORD_MAX 16

static int is_digit(unsigned char c)
{
	return c >= '0' && c <= '9';
}

static int is_alpha(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static int is_upper(unsigned char c)
{
	return c >= 'A' && c <= 'Z';
}

static int is_lower(unsigned char c)
{
	return c >= 'a' && c <= 'z';
}

static int is_alnum(unsigned char c)
{
	return is_digit(c) || is_alpha(c);
}

static unsigned char to_lower(unsigned char c)
{
	return is_upper(c) ? (unsigned char)(c + ('a' - 'A')) : c;
}

static int is_space(unsigned char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

const char *privacy_reason_name(enum privacy_reason r)
{
	switch (r) {
	case PRIVACY_NONE:
		return "none";
	case PRIVACY_CARD_NUMBER:
		return "card-number";
	case PRIVACY_EMAIL:
		return "email";
	case PRIVACY_PHONE:
		return "phone";
	case PRIVACY_FINANCIAL_KEY:
		return "financial";
	case PRIVACY_UNSCANNABLE:
		return "unscannable";
	case PRIVACY_BIRTH_DATE:
		return "birth-date";
	case PRIVACY_ADDRESS:
		return "address";
	case PRIVACY_PERSON_NAME:
		return "person-name";
	}
	return "unknown";
}

int privacy_luhn_valid(const char *d, size_t len)
{
	unsigned sum = 0;
	int dbl = 0;
	size_t i;

	if (len == 0)
		return 0;
	for (i = len; i-- > 0;) {
		unsigned v = (unsigned)((unsigned char)d[i] - '0');

		if (v > 9)
			return 0;
		if (dbl) {
			v *= 2;
			if (v > 9)
				v -= 9;
		}
		sum += v;
		dbl = !dbl;
	}
	return sum % 10 == 0;
}

/* ---- card numbers ---------------------------------------------------- */

static int is_card_sep(unsigned char c)
{
	return c == ' ' || c == '-';
}

/* Luhn over the digits of s[from, to), separators skipped. */
static int luhn_span(const unsigned char *s, size_t from, size_t to)
{
	char d[CARD_MAX];
	size_t n = 0, i;

	for (i = from; i < to; i++) {
		if (!is_digit(s[i]))
			continue;
		if (n == CARD_MAX)
			return 0;
		d[n++] = (char)s[i];
	}
	return n >= CARD_MIN && privacy_luhn_valid(d, n);
}

/* Eight digits that read as a date 19000101..20991231: a build stamp such as
 * "20261128.101530.123" leads with one, no card number does (no issuer
 * prefix starts with 19 or 20). */
static int group_is_date(const unsigned char *g, size_t n)
{
	unsigned y, m, d;

	if (n != 8)
		return 0;
	y = (unsigned)((g[0] - '0') * 1000 + (g[1] - '0') * 100 + (g[2] - '0') * 10 + (g[3] - '0'));
	m = (unsigned)((g[4] - '0') * 10 + (g[5] - '0'));
	d = (unsigned)((g[6] - '0') * 10 + (g[7] - '0'));
	return y >= 1900 && y <= 2099 && m >= 1 && m <= 12 && d >= 1 && d <= 31;
}

struct group {
	size_t start, len;
};

/* One run s[start, end): digits, single separators between them. */
static int card_run(const unsigned char *s, size_t start, size_t end)
{
	struct group ring[CARD_MAX]; /* the last CARD_MAX groups: enough, each has >= 1 digit */
	size_t ng = 0, i = start;

	while (i < end) {
		size_t gs = i, gl, back, total = 0;

		while (i < end && is_digit(s[i]))
			i++;
		gl = i - gs;
		ring[ng % CARD_MAX].start = gs;
		ring[ng % CARD_MAX].len = gl;
		ng++;

		/* (b) a card glued to other digits inside one long group */
		if (gl > CARD_MAX) {
			size_t w, p;

			for (w = CARD_MIN; w <= CARD_MAX; w++)
				for (p = gs; p + w <= gs + gl; p++)
					if (privacy_luhn_valid((const char *)s + p, w))
						return 1;
		}
		/* (a) every sequence of whole groups ending with this one */
		for (back = 0; back < ng && back < CARD_MAX; back++) {
			const struct group *g = &ring[(ng - 1 - back) % CARD_MAX];

			total += g->len;
			if (total > CARD_MAX)
				break;
			if (total >= CARD_MIN && !(back > 0 && group_is_date(s + g->start, g->len)) &&
			    luhn_span(s, g->start, gs + gl))
				return 1;
		}
		if (i < end)
			i++; /* the single separator */
	}
	return 0;
}

/* In raw JSON text: is the run s[start, end) the integer value of a "ts"
 * member, inside the epoch-ms window? Only 13-digit values matter:
 * shorter ones are no card candidates, longer ones are outside the window. */
static int json_text_exempt(const unsigned char *s, size_t len, size_t start, size_t end)
{
	int64_t v = 0;
	size_t j;

	if (end - start != CARD_MIN)
		return 0;
	if (end < len && (s[end] == '.' || s[end] == 'e' || s[end] == 'E'))
		return 0;
	for (j = start; j < end; j++) {
		if (!is_digit(s[j]))
			return 0;
		v = v * 10 + (s[j] - '0');
	}
	if (v < PRIVACY_EPOCH_MS_MIN || v >= PRIVACY_EPOCH_MS_MAX)
		return 0;
	j = start;
	while (j > 0 && is_space(s[j - 1]))
		j--;
	if (j == 0 || s[j - 1] != ':')
		return 0;
	j--;
	while (j > 0 && is_space(s[j - 1]))
		j--;
	if (j == 0 || s[j - 1] != '"')
		return 0;
	j--;
	if (j >= 3 && memcmp(s + j - 2, "ts", 2) == 0 && s[j - 3] == '"')
		return 1;
	return 0;
}

static int card_scan(const unsigned char *s, size_t len, int json_text)
{
	size_t i = 0;

	while (i < len) {
		size_t start;

		if (!is_digit(s[i])) {
			i++;
			continue;
		}
		start = i;
		for (;;) {
			while (i < len && is_digit(s[i]))
				i++;
			if (i + 1 < len && is_card_sep(s[i]) && is_digit(s[i + 1])) {
				i++;
				continue;
			}
			break;
		}
		if (i - start < CARD_MIN)
			continue; /* fewer bytes than a card has digits */
		if (json_text && json_text_exempt(s, len, start, i))
			continue;
		if (card_run(s, start, i))
			return 1;
	}
	return 0;
}

/* ---- split card numbers ---------------------------------------------- */

/* A "split" run: digit groups of >= SPLIT_GROUP_MIN digits with a gap between
 * consecutive groups of 1..SPLIT_GAP_MAX bytes that are neither letters nor
 * digits (any punctuation, spaces, control bytes: "4111.1111.1111.1111",
 * "4111--1111", "4111 / 1111") or of exactly one ASCII letter
 * ("4111a1111b1111c1111", "x4111x1111x1111x1111x"). Candidates are
 * SPLIT_GROUPS_MIN or more consecutive whole groups with 13..19 digits in
 * all, passing Luhn. Short groups end a run (a short group may still be
 * the last of a candidate: 17- and 18-digit cards in fours end in one):
 * that is what keeps dates and times ("2026-11-28T10:15:30.123Z") and
 * version numbers out,
 * and why a card split into groups of one or two digits by anything but a
 * single space or dash is not found (docs/METRICS.md measures it). Two
 * groups are too few: "20261128.143200" build stamps are that shape. */
#define SPLIT_GROUP_MIN 3
#define SPLIT_GROUPS_MIN 3
#define SPLIT_GAP_MAX 3

static int is_gap_byte(unsigned char c)
{
	return c < 0x80 && !is_alnum(c);
}

/* The end of the gap starting at s[i] when a digit follows it, else 0. */
static size_t split_gap(const unsigned char *s, size_t len, size_t i)
{
	size_t j = i;

	if (i < len && is_alpha(s[i]))
		j = i + 1;
	else
		while (j < len && j - i < SPLIT_GAP_MAX && is_gap_byte(s[j]))
			j++;
	return j > i && j < len && is_digit(s[j]) ? j : 0;
}

/* Dotted groups of 1..3 digits, each <= 255, the last one after a '.' or a
 * ':': (a part of) an IPv4 address, with a port ("12.145.224.170:61675" holds
 * 13+ digits). */
static int groups_are_ipv4(const unsigned char *s, const struct group *ring, size_t ng, size_t back)
{
	size_t k;

	for (k = 0; k < back; k++) {
		const struct group *g = &ring[(ng - 1 - back + k) % CARD_MAX];
		unsigned char sep = s[g->start + g->len];
		unsigned v = 0;
		size_t i;

		if (g->len > 3 || !(sep == '.' || (sep == ':' && k + 1 == back)) ||
		    (sep != ':' && !is_digit(s[g->start + g->len + 1])))
			return 0;
		for (i = 0; i < g->len; i++)
			v = v * 10 + (unsigned)(s[g->start + i] - '0');
		if (v > 255)
			return 0;
	}
	return 1;
}

static int split_candidate(const unsigned char *s, const struct group *ring, size_t ng, size_t back)
{
	char d[CARD_MAX];
	size_t n = 0, k;

	if (group_is_date(s + ring[(ng - 1 - back) % CARD_MAX].start, ring[(ng - 1 - back) % CARD_MAX].len) ||
	    groups_are_ipv4(s, ring, ng, back))
		return 0;
	for (k = back + 1; k-- > 0;) {
		const struct group *g = &ring[(ng - 1 - k) % CARD_MAX];

		memcpy(d + n, s + g->start, g->len);
		n += g->len;
	}
	return privacy_luhn_valid(d, n);
}

static int card_split_scan(const unsigned char *s, size_t len)
{
	struct group ring[CARD_MAX];
	size_t ng = 0, i = 0;

	while (i < len) {
		size_t gs, gl, back, total = 0, next;

		if (!is_digit(s[i])) {
			i++;
			continue;
		}
		gs = i;
		while (i < len && is_digit(s[i]))
			i++;
		gl = i - gs;
		if (gl > CARD_MAX || (gl < SPLIT_GROUP_MIN && ng < SPLIT_GROUPS_MIN - 1)) {
			ng = 0; /* a long group, or a short one that cannot end a candidate, ends the run */
		} else {
			ring[ng % CARD_MAX].start = gs;
			ring[ng % CARD_MAX].len = gl;
			ng++;
			for (back = 0; back < ng && back < CARD_MAX; back++) {
				total += ring[(ng - 1 - back) % CARD_MAX].len;
				if (total > CARD_MAX)
					break;
				if (back + 1 >= SPLIT_GROUPS_MIN && total >= CARD_MIN &&
				    split_candidate(s, ring, ng, back))
					return 1;
			}
			if (gl < SPLIT_GROUP_MIN)
				ng = 0; /* a short group may only be the last of a candidate ("4111.1111.1111.1111.1") */
		}
		next = split_gap(s, len, i);
		if (next == 0) {
			ng = 0;
			if (i < len)
				i++;
		} else {
			i = next;
		}
	}
	return 0;
}

/* ---- cards hidden in base64 or hex ----------------------------------- */

/* Decoded text is scanned DECODE_CHUNK bytes at a time; consecutive chunks
 * overlap by DECODE_OVERLAP bytes, more than a card written with separators
 * takes, so a card across a chunk border is still whole in one of them. */
#define DECODE_CHUNK 384
#define DECODE_OVERLAP 96
/* Shortest encodings worth decoding: 13 bytes (a 13-digit card). */
#define B64_TOKEN_MIN 18
#define HEX_TOKEN_MIN 26

static int card_decoded(const unsigned char *d, size_t n)
{
	return card_scan(d, n, 0) || card_split_scan(d, n);
}

/* Standard and URL-safe alphabets; -1 for anything else ('=' included). */
static int b64_value(unsigned char c)
{
	if (is_upper(c))
		return c - 'A';
	if (is_lower(c))
		return c - 'a' + 26;
	if (is_digit(c))
		return c - '0' + 52;
	if (c == '+' || c == '-')
		return 62;
	if (c == '/' || c == '_')
		return 63;
	return -1;
}

static int hex_value(unsigned char c)
{
	if (is_digit(c))
		return c - '0';
	c = to_lower(c);
	return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* Decodes the base64 characters t[0, n) (no padding) into out; returns the
 * number of bytes. n <= DECODE_CHUNK * 4 / 3. */
static size_t b64_chunk(const unsigned char *t, size_t n, unsigned char *out)
{
	uint32_t acc = 0;
	size_t i, o = 0;
	int bits = 0;

	for (i = 0; i < n; i++) {
		acc = (acc << 6) | (uint32_t)b64_value(t[i]);
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			out[o++] = (unsigned char)(acc >> bits);
		}
	}
	return o;
}

/* A base64 token t[0, n): every one of its four alignments (an encoded card
 * may follow encoded text of any length, or the token may start with plain
 * characters of the alphabet), decoded a chunk at a time. */
static int card_in_b64(const unsigned char *t, size_t n)
{
	unsigned char out[DECODE_CHUNK];
	const size_t chars = DECODE_CHUNK / 3 * 4, step = (DECODE_CHUNK - DECODE_OVERLAP) / 3 * 4;
	size_t a, pos;

	for (a = 0; a < 4 && a + B64_TOKEN_MIN <= n; a++)
		for (pos = a; pos + B64_TOKEN_MIN <= n; pos += step) {
			size_t take = n - pos < chars ? n - pos : chars;

			if (card_decoded(out, b64_chunk(t + pos, take, out)))
				return 1;
			if (take < chars)
				break;
		}
	return 0;
}

static int card_in_hex(const unsigned char *t, size_t n)
{
	unsigned char out[DECODE_CHUNK];
	size_t a, pos;

	for (a = 0; a < 2 && a + HEX_TOKEN_MIN <= n; a++)
		for (pos = a; pos + HEX_TOKEN_MIN <= n; pos += 2 * (DECODE_CHUNK - DECODE_OVERLAP)) {
			size_t k, o = 0;

			for (k = pos; k + 1 < n && o < DECODE_CHUNK; k += 2)
				out[o++] = (unsigned char)(hex_value(t[k]) << 4 | hex_value(t[k + 1]));
			if (card_decoded(out, o))
				return 1;
			if (k + 1 >= n)
				break;
		}
	return 0;
}

/* Every maximal token of the base64 alphabet long enough to hold an encoded
 * card, decoded as base64 and, when it is all hex digits, as hex. */
static int card_encoded_scan(const unsigned char *s, size_t len)
{
	size_t i = 0;

	while (i < len) {
		size_t start = i, k;
		int hex = 1;

		if (b64_value(s[i]) < 0) {
			i++;
			continue;
		}
		while (i < len && b64_value(s[i]) >= 0)
			i++;
		if (i - start < B64_TOKEN_MIN)
			continue;
		if (card_in_b64(s + start, i - start))
			return 1;
		for (k = start; k < i && hex; k++)
			hex = hex_value(s[k]) >= 0;
		if (hex && i - start >= HEX_TOKEN_MIN && card_in_hex(s + start, i - start))
			return 1;
	}
	return 0;
}

/* A magnitude of 13..19 digits passing Luhn. */
static int card_in_u64(uint64_t m)
{
	char d[20];
	size_t n = 0, a, b;

	if (m < UINT64_C(1000000000000))
		return 0;
	while (m > 0) {
		d[n++] = (char)('0' + m % 10);
		m /= 10;
	}
	if (n > CARD_MAX)
		return 0;
	for (a = 0, b = n - 1; a < b; a++, b--) {
		char t = d[a];

		d[a] = d[b];
		d[b] = t;
	}
	return privacy_luhn_valid(d, n);
}

static int card_in_real(double v)
{
	double a;

	if (!isfinite(v))
		return 0;
	a = fabs(v);
	if (a < 1e12 || a >= 1e19)
		return 0;
	/* Above 2^53 a double no longer holds every integer: the digits the
	 * machine wrote are gone, so fail closed. */
	if (a >= 9007199254740992.0)
		return 1;
	return card_in_u64((uint64_t)floor(a));
}

/* ---- e-mail addresses ------------------------------------------------ */

static int is_local_char(unsigned char c)
{
	return is_alnum(c) || c >= 0x80 || (c != 0 && strchr("!#$%&'*+/=?^_`{|}~.-", c) != NULL);
}

static int is_label_char(unsigned char c)
{
	return is_alnum(c) || c == '-' || c >= 0x80;
}

static int tld_ok(const unsigned char *t, size_t n)
{
	size_t i;

	if (n >= 5 && to_lower(t[0]) == 'x' && to_lower(t[1]) == 'n' && t[2] == '-' && t[3] == '-')
		return 1;
	if (n < 2)
		return 0;
	for (i = 0; i < n; i++)
		if (!is_alpha(t[i]) && t[i] < 0x80)
			return 0;
	return 1;
}

static int email_at(const unsigned char *s, size_t len, size_t at)
{
	size_t j = at + 1, labels = 0, last = 0, last_len = 0;

	if (at == 0 || !is_local_char(s[at - 1]))
		return 0;
	if (j < len && s[j] == '[') {
		size_t k = j + 1;

		while (k < len && (is_alnum(s[k]) || s[k] == '.' || s[k] == ':'))
			k++;
		return k - j > 2 && k < len && s[k] == ']';
	}
	for (;;) {
		size_t ls = j;

		while (j < len && is_label_char(s[j]))
			j++;
		if (j == ls)
			break;
		labels++;
		last = ls;
		last_len = j - ls;
		if (j + 1 < len && s[j] == '.' && is_label_char(s[j + 1])) {
			j++;
			continue;
		}
		break;
	}
	return labels >= 2 && tld_ok(s + last, last_len);
}

static int email_scan(const unsigned char *s, size_t len)
{
	const unsigned char *p = s, *end = s + len;

	while (p < end && (p = memchr(p, '@', (size_t)(end - p))) != NULL) {
		if (email_at(s, len, (size_t)(p - s)))
			return 1;
		p++;
	}
	return 0;
}

/* ---- phone numbers --------------------------------------------------- */

struct pgroup {
	size_t start, len;
	unsigned char sep; /* separator before this group; 0 for the first, ')' after a paren group */
	int paren;
};

static int phone_left_ok(const unsigned char *s, size_t i)
{
	unsigned char p;

	if (i == 0)
		return 1;
	p = s[i - 1];
	if (is_alnum(p) || p == '_' || p == '.' || p == '+' || p == '@' || p >= 0x80)
		return 0;
	if ((p == '-' || p == '/') && i >= 2 && (is_alnum(s[i - 2]) || s[i - 2] == '_' || s[i - 2] >= 0x80))
		return 0;
	return 1;
}

static int phone_end_ok(const unsigned char *s, size_t len, size_t j)
{
	unsigned char c;

	if (j >= len)
		return 1;
	c = s[j];
	if (is_alnum(c) || c == '_' || c >= 0x80)
		return 0;
	if (c == ',' && j + 1 < len && is_digit(s[j + 1]))
		return 0; /* a decimal comma */
	return 1;
}

static unsigned group_value(const unsigned char *s, const struct pgroup *g)
{
	unsigned v = 0;
	size_t i;

	for (i = 0; i < g->len && i < 6; i++)
		v = v * 10 + (unsigned)(s[g->start + i] - '0');
	return v;
}

/* Is the leading part g[0..n) (digits dig[0..nd)) a phone number? */
static int phone_classify(const unsigned char *s, const struct pgroup *g, size_t n,
                          const char *dig, size_t nd, int plus)
{
	size_t k;
	int seps_plain = 1, seps_dot = 1, seps_nanp = 1;

	if (plus)
		return nd >= 7 && nd <= PHONE_DIGITS_MAX && dig[0] != '0';
	if (nd < 8)
		return 0;
	for (k = 1; k < n; k++) {
		unsigned char c = g[k].sep;

		if (c != ' ' && c != '-' && c != '/' && c != ')')
			seps_plain = 0;
		if (c != '.')
			seps_dot = 0;
		if (c != ' ' && c != '-' && c != '.' && c != ')')
			seps_nanp = 0;
	}
	/* "00" + country code */
	if (n >= 2 && dig[0] == '0' && dig[1] == '0' && dig[2] != '0' && nd >= 10 &&
	    (seps_plain || seps_nanp))
		return 1;
	/* North American: [1 ]ddd ddd dddd or (ddd) ddd-dddd */
	if (seps_nanp) {
		size_t o = (n == 4 && g[0].len == 1 && dig[0] == '1') ? 1 : 0;

		if (n == 3 + o && g[o].len == 3 && g[o + 1].len == 3 && g[o + 2].len == 4)
			return 1;
	}
	/* national, trunk prefix 0 */
	if (n >= 2 && dig[0] == '0' && dig[1] != '0' && g[0].len >= 2 && g[0].len <= 5 &&
	    nd <= 12 && (seps_plain || (seps_dot && n >= 4))) {
		/* dd-mm-yyyy is a date */
		if (n == 3 && g[0].len == 2 && g[1].len == 2 && g[2].len == 4 && group_value(s, &g[1]) <= 31)
			return 0;
		return 1;
	}
	/* unseparated national number */
	if (n == 1 && !g[0].paren && dig[0] == '0' && dig[1] != '0' && nd >= 10 && nd <= 11)
		return 1;
	return 0;
}

static int phone_at(const unsigned char *s, size_t len, size_t i)
{
	struct pgroup g[PHONE_GROUPS_MAX];
	char dig[PHONE_DIGITS_MAX + 1];
	size_t n = 0, nd = 0, j = i;
	unsigned char sep = 0;
	int plus = 0;

	if (s[j] == '+') {
		plus = 1;
		j++;
	}
	while (n < PHONE_GROUPS_MAX) {
		size_t gs, gl, k;
		int paren = 0;

		if (j < len && s[j] == '(') {
			paren = 1;
			gs = ++j;
			while (j < len && is_digit(s[j]) && j - gs < PHONE_PAREN_MAX + 1)
				j++;
			gl = j - gs;
			if (gl == 0 || gl > PHONE_PAREN_MAX || j >= len || s[j] != ')')
				return 0;
			j++;
		} else if (j < len && is_digit(s[j])) {
			gs = j;
			while (j < len && is_digit(s[j]) && j - gs <= PHONE_DIGITS_MAX)
				j++;
			gl = j - gs;
		} else {
			return 0;
		}
		if (nd + gl > PHONE_DIGITS_MAX)
			return 0;
		for (k = 0; k < gl; k++)
			dig[nd++] = (char)s[gs + k];
		dig[nd] = 0;
		g[n].start = gs;
		g[n].len = gl;
		g[n].sep = sep;
		g[n].paren = paren;
		n++;
		if (phone_end_ok(s, len, j) && phone_classify(s, g, n, dig, nd, plus))
			return 1;
		if (j + 1 < len && (s[j] == ' ' || s[j] == '-' || s[j] == '.' || s[j] == '/') &&
		    (is_digit(s[j + 1]) || s[j + 1] == '(')) {
			sep = s[j];
			j++;
		} else if (paren && j < len && is_digit(s[j])) {
			sep = ')'; /* "(555)123-4567" */
		} else {
			return 0;
		}
	}
	return 0;
}

static int phone_scan(const unsigned char *s, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++) {
		unsigned char c = s[i];

		if (c == '+') {
			if (i + 1 >= len || !(is_digit(s[i + 1]) || s[i + 1] == '('))
				continue;
		} else if (c == '(') {
			if (i + 1 >= len || !is_digit(s[i + 1]))
				continue;
		} else if (!is_digit(c)) {
			continue;
		}
		if (!phone_left_ok(s, i))
			continue;
		if (phone_at(s, len, i))
			return 1;
	}
	return 0;
}

/* ---- financial keys -------------------------------------------------- */

/* Matched anywhere in the key: long enough not to occur inside innocent
 * words. Grouped by first letter so a key costs one small list per byte. */
static const char *const stems_a[] = { "amount", NULL };
static const char *const stems_b[] = { "billing", "banking", NULL };
static const char *const stems_c[] = { "currency", "credit", "coupon", "checkout", "cashless", "cashbox", NULL };
static const char *const stems_d[] = { "debit", "discount", NULL };
static const char *const stems_e[] = { "expense", NULL };
static const char *const stems_g[] = { "gratuity", NULL };
static const char *const stems_i[] = { "invoice", NULL };
static const char *const stems_m[] = { "mastercard", NULL };
static const char *const stems_p[] = { "price", "pricing", "payment", "payout", "paypal", "profit", NULL };
static const char *const stems_r[] = { "revenue", "refund", "receipt", NULL };
static const char *const stems_s[] = { "salary", "salaries", NULL };
static const char *const stems_t[] = { "turnover", "transaction", NULL };
static const char *const stems_v[] = { "voucher", NULL };
static const char *const stems_w[] = { "wallet", NULL };

/* Matched only as a whole word part: "tip" is financial, "tipping" is not. */
static const char *const words_b[] = { "bic", "bank", "bill", "bills", "budget", NULL };
static const char *const words_c[] = { "cost", "costs", "cash", "coin", "coins", "card", "cards", "cent",
	                               "cents", "chf", "cny", "cvv", "cvc", NULL };
static const char *const words_d[] = { "dollar", "dollars", NULL };
static const char *const words_e[] = { "eur", "euro", "euros", "earning", "earnings", NULL };
static const char *const words_f[] = { "fee", "fees", "fare", NULL };
static const char *const words_g[] = { "gbp", NULL };
static const char *const words_i[] = { "iban", "income", NULL };
static const char *const words_j[] = { "jpy", NULL };
static const char *const words_l[] = { "loan", NULL };
static const char *const words_m[] = { "money", NULL };
static const char *const words_p[] = { "pay", "paid", "payee", "payer", NULL };
static const char *const words_s[] = { "swift", "sepa", "sale", "sales", "spend", "spent", NULL };
static const char *const words_t[] = { "tip", "tips", "tax", "taxes", "tariff", NULL };
static const char *const words_u[] = { "usd", NULL };
static const char *const words_v[] = { "vat", NULL };
static const char *const words_w[] = { "wage", "wages", NULL };
static const char *const words_y[] = { "yen", NULL };

/* c is lower case */
static const char *const *stems_for(unsigned char c)
{
	switch (c) {
	case 'a': return stems_a;
	case 'b': return stems_b;
	case 'c': return stems_c;
	case 'd': return stems_d;
	case 'e': return stems_e;
	case 'g': return stems_g;
	case 'i': return stems_i;
	case 'm': return stems_m;
	case 'p': return stems_p;
	case 'r': return stems_r;
	case 's': return stems_s;
	case 't': return stems_t;
	case 'v': return stems_v;
	case 'w': return stems_w;
	default: return NULL;
	}
}

static const char *const *words_for(unsigned char c)
{
	switch (c) {
	case 'b': return words_b;
	case 'c': return words_c;
	case 'd': return words_d;
	case 'e': return words_e;
	case 'f': return words_f;
	case 'g': return words_g;
	case 'i': return words_i;
	case 'j': return words_j;
	case 'l': return words_l;
	case 'm': return words_m;
	case 'p': return words_p;
	case 's': return words_s;
	case 't': return words_t;
	case 'u': return words_u;
	case 'v': return words_v;
	case 'w': return words_w;
	case 'y': return words_y;
	default: return NULL;
	}
}

/* Derived once from the lists above, so that most positions of a key are
 * dismissed with three table reads instead of a walk through a list:
 * letter[c] is the letter index 0..25 of byte c in either case, 26 for any
 * other byte; bit b of pairs[a] says that some entry starts with the
 * letters a, b (every entry is lower-case ASCII letters; pairs[26] and bit
 * 26 stay clear); plus the shortest stem and the shortest and longest word.
 * The verdicts are those of the lists. */
struct fin_tables {
	uint8_t letter[256];
	uint32_t stem_pairs[27], word_pairs[27];
	size_t stem_min, word_min, word_max;
};
static struct fin_tables fin;
static pthread_once_t fin_once = PTHREAD_ONCE_INIT;

static void fin_tables_build(void)
{
	unsigned c;
	size_t s, n;

	for (c = 0; c < 256; c++)
		fin.letter[c] = is_alpha((unsigned char)c) ? (uint8_t)(to_lower((unsigned char)c) - 'a') : 26;
	fin.stem_min = SIZE_MAX;
	fin.word_min = SIZE_MAX;
	for (c = 'a'; c <= 'z'; c++) {
		const char *const *stems = stems_for((unsigned char)c), *const *words = words_for((unsigned char)c);

		for (s = 0; stems != NULL && stems[s] != NULL; s++) {
			fin.stem_pairs[c - 'a'] |= UINT32_C(1) << (stems[s][1] - 'a');
			n = strlen(stems[s]);
			fin.stem_min = n < fin.stem_min ? n : fin.stem_min;
		}
		for (s = 0; words != NULL && words[s] != NULL; s++) {
			fin.word_pairs[c - 'a'] |= UINT32_C(1) << (words[s][1] - 'a');
			n = strlen(words[s]);
			fin.word_min = n < fin.word_min ? n : fin.word_min;
			fin.word_max = n > fin.word_max ? n : fin.word_max;
		}
	}
}

/* 1 if some entry of the table starts with the letters a, b (any case). */
static inline int fin_pair(const uint32_t *pairs, unsigned char a, unsigned char b)
{
	return (int)((pairs[fin.letter[a]] >> fin.letter[b]) & 1u);
}

/* Does a stem start at k[i]? */
static int stem_at(const unsigned char *k, size_t len, size_t i)
{
	const char *const *list;
	size_t s, j;

	if (len - i < fin.stem_min || !fin_pair(fin.stem_pairs, k[i], k[i + 1]))
		return 0;
	list = stems_for(to_lower(k[i]));
	for (s = 0; list != NULL && list[s] != NULL; s++) {
		const char *stem = list[s];

		for (j = 1; stem[j] != 0 && i + j < len; j++)
			if (to_lower(k[i + j]) != (unsigned char)stem[j])
				break;
		if (stem[j] == 0)
			return 1;
	}
	return 0;
}

static int fin_word(const unsigned char *w, size_t n)
{
	const char *const *list;
	size_t s, j;

	if (n < fin.word_min || n > fin.word_max || n > FIN_WORD_MAX || !fin_pair(fin.word_pairs, w[0], w[1]))
		return 0;
	list = words_for(to_lower(w[0]));
	for (s = 0; list != NULL && list[s] != NULL; s++) {
		const char *word = list[s];

		for (j = 0; j < n && word[j] != 0; j++)
			if (to_lower(w[j]) != (unsigned char)word[j])
				break;
		if (j == n && word[j] == 0)
			return 1;
	}
	return 0;
}

/* A word part ends before i when the character class changes: lower->Upper
 * ("unitPrice"), letter<->digit ("price2"), or "EURPrice" (upper run ending
 * in an upper that starts a capitalised word). */
static int part_breaks(const unsigned char *k, size_t len, size_t i)
{
	unsigned char a = k[i - 1], b = k[i];

	if (is_lower(a) && is_upper(b))
		return 1;
	if (is_digit(a) != is_digit(b))
		return 1;
	if (is_upper(a) && is_upper(b) && i + 1 < len && is_lower(k[i + 1]))
		return 1;
	return 0;
}

int privacy_key_is_financial(const char *key, size_t len)
{
	const unsigned char *k = (const unsigned char *)key;
	size_t i = 0;

	if (key == NULL)
		return 0;
	pthread_once(&fin_once, fin_tables_build);
	for (i = 0; i < len; i++)
		if (stem_at(k, len, i))
			return 1;
	i = 0;
	while (i < len) {
		size_t start;

		if (!is_alnum(k[i])) {
			i++;
			continue;
		}
		start = i++;
		while (i < len && is_alnum(k[i]) && !part_breaks(k, len, i))
			i++;
		if (fin_word(k + start, i - start))
			return 1;
	}
	return 0;
}

/* ---- entry points ---------------------------------------------------- */

static size_t count_digits(const unsigned char *s, size_t len)
{
	size_t i, n = 0;

	for (i = 0; i < len; i++)
		n += is_digit(s[i]);
	return n;
}

static enum privacy_reason scan_text(const unsigned char *s, size_t len, int json_text)
{
	if (s == NULL || len == 0)
		return PRIVACY_NONE;
	/* Most strings are short: fewer than 13 digits cannot hold a card in
	 * clear, fewer than 18 bytes cannot hold one encoded. */
	if (len >= CARD_MIN && count_digits(s, len) >= CARD_MIN &&
	    (card_scan(s, len, json_text) || card_split_scan(s, len)))
		return PRIVACY_CARD_NUMBER;
	if (len >= B64_TOKEN_MIN && card_encoded_scan(s, len))
		return PRIVACY_CARD_NUMBER;
	if (email_scan(s, len))
		return PRIVACY_EMAIL;
	if (phone_scan(s, len))
		return PRIVACY_PHONE;
	return PRIVACY_NONE;
}

enum privacy_reason privacy_scan_text(const char *s, size_t len)
{
	return scan_text((const unsigned char *)s, len, 0);
}

enum privacy_reason privacy_scan_json_text(const char *text, size_t len)
{
	const unsigned char *s = (const unsigned char *)text;
	enum privacy_reason r = scan_text(s, len, 1);
	size_t i = 0;

	if (r != PRIVACY_NONE)
		return r;
	while (i < len) {
		size_t close, k;

		if (s[i] != '"') {
			i++;
			continue;
		}
		for (close = i + 1; close < len && s[close] != '"'; close++)
			if (s[close] == '\\')
				close++;
		if (close >= len)
			break;
		for (k = close + 1; k < len && is_space(s[k]); k++)
			;
		if (k < len && s[k] == ':' && privacy_key_is_financial(text + i + 1, close - i - 1))
			return PRIVACY_FINANCIAL_KEY;
		i = close + 1;
	}
	return PRIVACY_NONE;
}

int privacy_ts_exempt(const char *key, size_t klen, int64_t n)
{
	return klen == 2 && memcmp(key, "ts", 2) == 0 && n >= PRIVACY_EPOCH_MS_MIN && n < PRIVACY_EPOCH_MS_MAX;
}

enum privacy_reason privacy_scan_key(const char *key, size_t klen)
{
	enum privacy_reason r = privacy_scan_text(key, klen);

	if (r != PRIVACY_NONE)
		return r;
	return privacy_key_is_financial(key, klen) ? PRIVACY_FINANCIAL_KEY : PRIVACY_NONE;
}

enum privacy_reason privacy_scan_integer(int64_t n)
{
	uint64_t m = n < 0 ? (uint64_t)0 - (uint64_t)n : (uint64_t)n;

	return card_in_u64(m) ? PRIVACY_CARD_NUMBER : PRIVACY_NONE;
}

enum privacy_reason privacy_scan_real(double v)
{
	return card_in_real(v) ? PRIVACY_CARD_NUMBER : PRIVACY_NONE;
}

static enum privacy_reason scan_value(const json_t *v, int depth)
{
	enum privacy_reason r;

	if (depth > PRIVACY_DEPTH_MAX)
		return PRIVACY_UNSCANNABLE;
	switch (json_typeof(v)) {
	case JSON_OBJECT: {
		json_t *obj = (json_t *)v; /* jansson's iterators take non-const */
		void *it;

		for (it = json_object_iter(obj); it != NULL; it = json_object_iter_next(obj, it)) {
			const char *key = json_object_iter_key(it);
			size_t klen = json_object_iter_key_len(it);
			const json_t *val = json_object_iter_value(it);

			if ((r = privacy_scan_key(key, klen)) != PRIVACY_NONE)
				return r;
			if (depth == 1 && json_is_integer(val) && privacy_ts_exempt(key, klen, json_integer_value(val)))
				continue;
			if ((r = scan_value(val, depth + 1)) != PRIVACY_NONE)
				return r;
		}
		return PRIVACY_NONE;
	}
	case JSON_ARRAY: {
		size_t i, n = json_array_size(v);

		for (i = 0; i < n; i++)
			if ((r = scan_value(json_array_get(v, i), depth + 1)) != PRIVACY_NONE)
				return r;
		return PRIVACY_NONE;
	}
	case JSON_STRING:
		return privacy_scan_text(json_string_value(v), json_string_length(v));
	case JSON_INTEGER:
		return privacy_scan_integer(json_integer_value(v));
	case JSON_REAL:
		return privacy_scan_real(json_real_value(v));
	case JSON_TRUE:
	case JSON_FALSE:
	case JSON_NULL:
		return PRIVACY_NONE;
	}
	return PRIVACY_NONE;
}

enum privacy_reason privacy_scan_json(const json_t *doc)
{
	if (doc == NULL)
		return PRIVACY_NONE;
	return scan_value(doc, 1);
}

/* ---- notes people write ------------------------------------------------ */

/* Notes are tokenised into words: maximal runs of letters, digits and UTF-8
 * bytes, with one trailing '.' kept ("str.", "Mr."). */
#define NOTE_WORDS_MAX 1024
#define NOTE_WORD_MAX 32

struct word {
	size_t start, len; /* len includes a trailing '.' */
};

static int is_word_byte(unsigned char c)
{
	return is_alnum(c) || c >= 0x80;
}

static size_t note_words(const unsigned char *s, size_t len, struct word *w, size_t cap)
{
	size_t n = 0, i = 0;

	while (i < len && n < cap) {
		size_t st;

		if (!is_word_byte(s[i])) {
			i++;
			continue;
		}
		st = i;
		while (i < len && is_word_byte(s[i]))
			i++;
		if (i < len && s[i] == '.')
			i++;
		w[n].start = st;
		w[n].len = i - st;
		n++;
	}
	return n;
}

/* Case-insensitive (ASCII) comparison of a word with a lower-case literal;
 * a word's trailing '.' (the end of a sentence) may be left out of lit. */
static int word_is(const unsigned char *s, const struct word *w, const char *lit)
{
	size_t n = strlen(lit), i;

	if (w->len != n && !(w->len == n + 1 && s[w->start + n] == '.'))
		return 0;
	for (i = 0; i < n; i++)
		if (to_lower(s[w->start + i]) != (unsigned char)lit[i])
			return 0;
	return 1;
}

static int word_in(const unsigned char *s, const struct word *w, const char *const *list)
{
	for (; *list != NULL; list++)
		if (word_is(s, w, *list))
			return 1;
	return 0;
}

static int word_ends(const unsigned char *s, const struct word *w, const char *lit)
{
	size_t n = strlen(lit), i;

	if (w->len <= n)
		return 0;
	for (i = 0; i < n; i++)
		if (to_lower(s[w->start + w->len - n + i]) != (unsigned char)lit[i])
			return 0;
	return 1;
}

static int word_capitalised(const unsigned char *s, const struct word *w)
{
	unsigned char c = s[w->start];

	return is_upper(c) || (c >= 0xc3 && w->len > 1); /* a UTF-8 letter: Ö, Š, ... */
}

/* -- obfuscated e-mail -- */

/* At s[i]: optional spaces, then word in brackets, or a bare word between
 * spaces; *end after the trailing spaces. */
static int spelled_token(const unsigned char *s, size_t len, size_t i, const char *word, size_t *end)
{
	size_t j = i, sp = 0, n = strlen(word), k;
	unsigned char open = 0, close = 0;

	while (j < len && s[j] == ' ')
		j++, sp++;
	if (j < len && (s[j] == '(' || s[j] == '[' || s[j] == '{' || s[j] == '<')) {
		open = s[j];
		close = open == '(' ? ')' : open == '[' ? ']' : open == '{' ? '}' : '>';
		j++;
		while (j < len && s[j] == ' ')
			j++;
	} else if (sp == 0) {
		return 0;
	}
	for (k = 0; k < n; k++)
		if (j + k >= len || to_lower(s[j + k]) != (unsigned char)word[k])
			return 0;
	j += n;
	if (open) {
		while (j < len && s[j] == ' ')
			j++;
		if (j >= len || s[j] != close)
			return 0;
		j++;
	} else if (j >= len || s[j] != ' ') {
		return 0;
	}
	while (j < len && s[j] == ' ')
		j++;
	*end = j;
	return 1;
}

/* After spelling is undone, an address must also end in a common top-level
 * domain: "arrived at site.Replaced" would read as site.replaced. */
static const char *const common_tlds[] = {
	"com", "org", "net", "edu", "gov", "info", "biz", "io", "co", "eu", "de", "at", "ch", "hu", "fr", "it",
	"es", "nl", "be", "lu", "uk", "ie", "pl", "cz", "sk", "si", "hr", "ro", "bg", "gr", "pt", "dk", "se",
	"no", "fi", "ee", "lv", "lt", "us", "ca", "au", "nz", "jp", "cn", "ru", "tr", "br", "mx", "in", NULL,
};

static int spelled_email_scan(const unsigned char *s, size_t len)
{
	size_t at, j, last, k;

	for (at = 1; at < len; at++) {
		if (s[at] != '@' || !email_at(s, len, at))
			continue;
		j = last = at + 1;
		while (j < len && (is_label_char(s[j]) || (s[j] == '.' && j + 1 < len && is_label_char(s[j + 1])))) {
			if (s[j] == '.')
				last = j + 1;
			j++;
		}
		for (k = 0; common_tlds[k] != NULL; k++)
			if (j - last == strlen(common_tlds[k]) && memcmp(s + last, common_tlds[k], j - last) == 0)
				return 1;
	}
	return 0;
}

static int note_email(const unsigned char *s, size_t len)
{
	static const char *const ats[] = { "at", "@", NULL };
	static const char *const dots[] = { "dot", "punkt", "point", ".", NULL };
	unsigned char norm[PRIVACY_NOTE_SCAN_MAX];
	size_t i = 0, o = 0, end, k;
	int changed = 0;

	while (i < len) {
		int hit = 0;

		if (s[i] == ' ' || s[i] == '(' || s[i] == '[' || s[i] == '{' || s[i] == '<') {
			for (k = 0; ats[k] != NULL && !hit; k++)
				if (spelled_token(s, len, i, ats[k], &end))
					norm[o++] = '@', hit = 1;
			for (k = 0; dots[k] != NULL && !hit; k++)
				if ((dots[k][0] != '.' || s[i] != ' ') && spelled_token(s, len, i, dots[k], &end))
					norm[o++] = '.', hit = 1;
		}
		if (hit) {
			i = end;
			changed = 1;
		} else {
			norm[o++] = to_lower(s[i++]);
		}
	}
	return changed && spelled_email_scan(norm, o);
}

/* -- spaced phone digits -- */

static int is_phone_gap(unsigned char c)
{
	return c == ' ' || c == '.' || c == '-' || c == '/' || c == '(' || c == ')';
}

static int note_spaced_phone(const unsigned char *s, size_t len)
{
	size_t i = 0;

	while (i < len) {
		size_t digits = 0, groups = 0;

		if (!is_digit(s[i]) || (i > 0 && (is_word_byte(s[i - 1]) || s[i - 1] == '.'))) {
			i++;
			continue;
		}
		for (;;) {
			size_t gs = i, j;

			while (i < len && is_digit(s[i]))
				i++;
			if (i - gs > 3) {
				if (groups >= 5 && digits >= 7)
					return 1;
				digits = groups = 0; /* a long group: a new chain may start after it */
			} else {
				digits += i - gs;
				groups++;
			}
			for (j = i; j < len && j - i < 3 && is_phone_gap(s[j]); j++)
				;
			if (j == i || j >= len || !is_digit(s[j]))
				break;
			i = j;
		}
		if (groups >= 5 && digits >= 7 && (i >= len || !is_word_byte(s[i])))
			return 1;
	}
	return 0;
}

/* -- dates -- */

static const char *const month_names[] = {
	"jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec",
	"januar", "februar", "märz", "mai", "juni", "juli", "okt", "dez", NULL,
};

static int word_is_month(const unsigned char *s, const struct word *w)
{
	size_t i, n = w->len;
	char low[NOTE_WORD_MAX];

	if (n > 0 && s[w->start + n - 1] == '.')
		n--;
	if (n < 3 || n >= sizeof(low))
		return 0;
	for (i = 0; i < n; i++)
		low[i] = (char)to_lower(s[w->start + i]);
	for (i = 0; month_names[i] != NULL; i++) {
		size_t m = strlen(month_names[i]);

		/* a name or any longer spelling of its prefix: "apr", "april", "sept." */
		if (n >= m && memcmp(low, month_names[i], m) == 0 && (i >= 12 || n <= 9))
			return 1;
	}
	return 0;
}

static int word_number(const unsigned char *s, const struct word *w, unsigned *v)
{
	size_t i, n = w->len;

	if (n > 0 && s[w->start + n - 1] == '.')
		n--;
	if (n == 0 || n > 4)
		return 0;
	*v = 0;
	for (i = 0; i < n; i++) {
		if (!is_digit(s[w->start + i]))
			return 0;
		*v = *v * 10 + (unsigned)(s[w->start + i] - '0');
	}
	return 1;
}

/* A numeric date at s[i]: y-m-d (- / .), d.m.y, d/m/y, d-m-y with y of 2 or
 * 4 digits. *year is the four-digit year (two digits: 19xx or 20xx, the
 * nearer past), *end the byte after it. */
static int numeric_date_at(const unsigned char *s, size_t len, size_t i, unsigned *year, int *year4, size_t *end)
{
	unsigned part[3] = { 0, 0, 0 };
	size_t ndig[3] = { 0, 0, 0 }, j = i, k;
	unsigned char sep = 0;

	if (i > 0 && (is_digit(s[i - 1]) || s[i - 1] == '.'))
		return 0;
	for (k = 0; k < 3; k++) {
		while (j < len && is_digit(s[j]) && ndig[k] < 5)
			part[k] = part[k] * 10 + (unsigned)(s[j++] - '0'), ndig[k]++;
		if (ndig[k] == 0 || ndig[k] > 4)
			return 0;
		if (k < 2) {
			if (j >= len || !(s[j] == '-' || s[j] == '/' || s[j] == '.'))
				return 0;
			if (sep != 0 && s[j] != sep)
				return 0;
			sep = s[j++];
		}
	}
	if (j < len && is_digit(s[j]))
		return 0;
	if (ndig[0] == 4 && ndig[1] <= 2 && ndig[2] <= 2) {
		*year = part[0];
		if (part[1] < 1 || part[1] > 12 || part[2] < 1 || part[2] > 31)
			return 0;
	} else if (ndig[0] <= 2 && ndig[1] <= 2 && (ndig[2] == 4 || ndig[2] == 2)) {
		/* d.m.y or m/d/y: either reading will do, both parts <= 31, one <= 12 */
		if (part[0] < 1 || part[0] > 31 || part[1] < 1 || part[1] > 31 || (part[0] > 12 && part[1] > 12))
			return 0;
		*year = ndig[2] == 4 ? part[2] : part[2] <= 29 ? 2000 + part[2] : 1900 + part[2];
	} else {
		return 0;
	}
	if (*year < 1900 || *year > 2099)
		return 0;
	*year4 = ndig[0] == 4 || ndig[2] == 4;
	*end = j;
	return 1;
}

/* A date written with a month name over words w[k..]: "12 April 1980",
 * "12. April 1980", "April 12, 1980". */
static int named_date_at(const unsigned char *s, const struct word *w, size_t n, size_t k, unsigned *year)
{
	unsigned a, b;

	if (k + 2 < n && word_number(s, &w[k], &a) && a >= 1 && a <= 31 && word_is_month(s, &w[k + 1]) &&
	    word_number(s, &w[k + 2], &b) && b >= 1900 && b <= 2099) {
		*year = b;
		return 1;
	}
	if (k + 2 < n && word_is_month(s, &w[k]) && word_number(s, &w[k + 1], &a) && a >= 1 && a <= 31 &&
	    word_number(s, &w[k + 2], &b) && b >= 1900 && b <= 2099) {
		*year = b;
		return 1;
	}
	return 0;
}

#define BIRTH_WINDOW 24
#define BIRTH_YEAR_BEFORE 2010

static int note_birth_date(const unsigned char *s, size_t len, const struct word *w, size_t n)
{
	static const char *const birth[] = {
		"born", "birth", "birthday", "dob", "dob.", "d.o.b.", "b.", "geb.", "geb", "geboren",
		"geburtsdatum", "geburtstag", "n\xc3\xa9", "n\xc3\xa9" "e", "nacido", "nacida", "nato", "nata",
		"sz\xc3\xbcl.", "sz\xc3\xbclet\xc3\xa9si", NULL,
	};
	size_t k, i, end;
	unsigned year;
	int year4;

	/* without a birth word: four-digit years only ("v1.2.03" is a version) */
	for (i = 0; i < len; i++)
		if (is_digit(s[i]) && numeric_date_at(s, len, i, &year, &year4, &end) && year4 &&
		    year < BIRTH_YEAR_BEFORE)
			return 1;
	for (k = 0; k < n; k++)
		if (named_date_at(s, w, n, k, &year) && year < BIRTH_YEAR_BEFORE)
			return 1;
	for (k = 0; k < n; k++) {
		size_t from = w[k].start + w[k].len, m;

		/* "d.o.b." tokenises as d. o. b.: look at the joined text too */
		if (!word_in(s, &w[k], birth) &&
		    !(k + 2 < n && word_is(s, &w[k], "d.") && word_is(s, &w[k + 1], "o.") && (word_is(s, &w[k + 2], "b.") || word_is(s, &w[k + 2], "b"))))
			continue;
		for (i = from; i < len && i < from + BIRTH_WINDOW; i++)
			if (is_digit(s[i]) && numeric_date_at(s, len, i, &year, &year4, &end))
				return 1;
		for (m = k + 1; m < n && w[m].start < from + BIRTH_WINDOW; m++)
			if (named_date_at(s, w, n, m, &year))
				return 1;
	}
	return 0;
}

/* -- street addresses -- */

static int word_is_house_number(const unsigned char *s, const struct word *w)
{
	size_t i = 0, n = w->len;

	if (n > 0 && s[w->start + n - 1] == '.')
		n--;
	while (i < n && is_digit(s[w->start + i]))
		i++;
	return i >= 1 && i <= 5 && (i == n || (i + 1 == n && is_alpha(s[w->start + i])));
}

static int word_is_street(const unsigned char *s, const struct word *w)
{
	static const char *const words[] = {
		"street", "st.", "road", "rd.", "avenue", "ave.", "lane", "boulevard", "blvd.", "blvd", "square",
		"terrace", "stra\xc3\x9f" "e", "strasse", "str.", "gasse", "allee", "platz", "weg", "rue", "calle",
		"avenida", "piazza", "straat", "laan", "plein", "\xc3\xbat", "utca", "t\xc3\xa9r", "ulica", "ul.", NULL,
	};
	static const char *const suffixes[] = { "stra\xc3\x9f" "e", "strasse", "str.", "gasse", "allee", "weg",
		                                "straat", "laan", NULL };
	size_t i;

	if (word_in(s, w, words))
		return 1;
	for (i = 0; suffixes[i] != NULL; i++)
		if (word_ends(s, w, suffixes[i]))
			return 1;
	return 0;
}

static int note_address(const unsigned char *s, const struct word *w, size_t n)
{
	size_t k, m;

	for (k = 0; k < n; k++) {
		if (!word_is_street(s, &w[k]))
			continue;
		for (m = k >= 3 ? k - 3 : 0; m < k; m++)
			if (word_is_house_number(s, &w[m]))
				return 1;
		for (m = k + 1; m < n && m <= k + 2; m++)
			if (word_is_house_number(s, &w[m]))
				return 1;
	}
	return 0;
}

/* -- person names introduced by a title -- */

static int note_person(const unsigned char *s, const struct word *w, size_t n)
{
	static const char *const titles[] = {
		"mr", "mr.", "mrs", "mrs.", "ms", "ms.", "miss", "dr.", "herr", "frau", "hr.", "fr.", "monsieur",
		"madame", "mme", "mme.", "se\xc3\xb1or", "se\xc3\xb1ora", "sr.", "sra.", "signor", "signora", NULL,
	};
	size_t k;

	for (k = 0; k + 1 < n; k++) {
		const struct word *next = &w[k + 1];

		if (word_in(s, &w[k], titles) && word_capitalised(s, next))
			return 1;
		if (word_is(s, &w[k], "named") && word_capitalised(s, next))
			return 1;
		if (word_is(s, &w[k], "name") || word_is(s, &w[k], "name.")) {
			size_t gap = w[k + 1].start - (w[k].start + w[k].len), i;
			int colon = 0;

			for (i = w[k].start + w[k].len; i < next->start; i++)
				colon |= s[i] == ':';
			if (colon && gap <= 3 && word_capitalised(s, next))
				return 1;
			if (k + 2 < n && (word_is(s, next, "is") || word_is(s, next, "was")) &&
			    word_capitalised(s, &w[k + 2]))
				return 1;
		}
	}
	return 0;
}

enum privacy_reason privacy_scan_note(const char *text, size_t len)
{
	const unsigned char *s = (const unsigned char *)text;
	struct word w[NOTE_WORDS_MAX];
	enum privacy_reason r;
	size_t n;

	if (s == NULL || len == 0)
		return PRIVACY_NONE;
	if (len > PRIVACY_NOTE_SCAN_MAX)
		return PRIVACY_UNSCANNABLE;
	if ((r = privacy_scan_text(text, len)) != PRIVACY_NONE)
		return r;
	if (note_email(s, len))
		return PRIVACY_EMAIL;
	if (note_spaced_phone(s, len))
		return PRIVACY_PHONE;
	n = note_words(s, len, w, NOTE_WORDS_MAX);
	if (note_birth_date(s, len, w, n))
		return PRIVACY_BIRTH_DATE;
	if (note_address(s, w, n))
		return PRIVACY_ADDRESS;
	if (note_person(s, w, n))
		return PRIVACY_PERSON_NAME;
	return PRIVACY_NONE;
}
