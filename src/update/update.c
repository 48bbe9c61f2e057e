/* update.c - see update.h. */
#define _GNU_SOURCE /* timegm */
#include "update/update.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "common/codec.h"
#include "common/err.h"

const char *update_verdict_name(enum update_verdict v)
{
	static const char *const names[] = {
		[UPDATE_ACCEPT] = "accepted",
		[UPDATE_MALFORMED] = "malformed",
		[UPDATE_UNKNOWN_KEY] = "unknown-key",
		[UPDATE_REVOKED_KEY] = "revoked-key",
		[UPDATE_BAD_SIGNATURE] = "bad-signature",
		[UPDATE_EXPIRED] = "expired",
		[UPDATE_WRONG_MODEL] = "wrong-model",
		[UPDATE_ROLLBACK] = "rollback",
		[UPDATE_BELOW_MIN_FROM] = "below-min-from",
		[UPDATE_OFFER_MALFORMED] = "offer-malformed",
		[UPDATE_OFFER_BAD_SIGNATURE] = "offer-bad-signature",
		[UPDATE_OFFER_EXPIRED] = "offer-expired",
		[UPDATE_OFFER_OTHER_MACHINE] = "offer-other-machine",
		[UPDATE_OFFER_OTHER_ARTIFACT] = "offer-other-artifact",
		[UPDATE_TOO_LARGE] = "too-large",
		[UPDATE_HASH_MISMATCH] = "hash-mismatch",
	};
	return (unsigned)v < sizeof(names) / sizeof(names[0]) && names[v] != NULL ? names[v] : "unknown";
}

/* ---- semantic versions ---- */

/* A numeric identifier: digits, no leading zero, at most 15 digits. */
static int numeric_ok(const char *s, size_t n)
{
	if (n == 0 || n > 15 || (n > 1 && s[0] == '0'))
		return 0;
	for (size_t i = 0; i < n; i++)
		if (s[i] < '0' || s[i] > '9')
			return 0;
	return 1;
}

static int all_digits(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (s[i] < '0' || s[i] > '9')
			return 0;
	return n > 0;
}

static int ident_ok(const char *s, size_t n)
{
	if (n == 0)
		return 0;
	if (all_digits(s, n))
		return numeric_ok(s, n);
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '-'))
			return 0;
	}
	return 1;
}

int update_version_valid(const char *v)
{
	const char *p = v, *e;
	int part;

	if (v == NULL || strlen(v) > CC_UPDATE_VERSION_MAX)
		return 0;
	for (part = 0; part < 3; part++) {
		e = p + strcspn(p, part < 2 ? "." : "-");
		if (!numeric_ok(p, (size_t)(e - p)) || (part < 2 && *e != '.'))
			return 0;
		p = *e != '\0' ? e + 1 : e;
	}
	if (p[-1] != '-')
		return *p == '\0' && p[-1] != '.';
	for (;;) {
		e = p + strcspn(p, ".");
		if (!ident_ok(p, (size_t)(e - p)))
			return 0;
		if (*e == '\0')
			return 1;
		p = e + 1;
	}
}

static unsigned long long num(const char *s, size_t n)
{
	unsigned long long x = 0;
	for (size_t i = 0; i < n; i++)
		x = x * 10 + (unsigned)(s[i] - '0');
	return x;
}

/* Compares identifiers of one dot-separated list: numbers numerically and
 * below alphanumerics, alphanumerics by ASCII. */
static int ident_cmp(const char *a, size_t an, const char *b, size_t bn)
{
	int ad = all_digits(a, an), bd = all_digits(b, bn);
	int c;

	if (ad && bd) {
		unsigned long long x = num(a, an), y = num(b, bn);
		return x < y ? -1 : x > y;
	}
	if (ad != bd)
		return ad ? -1 : 1;
	c = memcmp(a, b, an < bn ? an : bn);
	return c != 0 ? c : (an < bn ? -1 : an > bn);
}

int update_version_cmp(const char *a, const char *b)
{
	const char *pa = a, *pb = b;
	int part, c;

	for (part = 0; part < 3; part++) {
		size_t na = strcspn(pa, ".-"), nb = strcspn(pb, ".-");
		c = ident_cmp(pa, na, pb, nb);
		if (c != 0)
			return c;
		pa += na;
		pb += nb;
		if (part < 2) {
			pa++;
			pb++;
		}
	}
	/* A pre-release precedes its release. */
	if (*pa == '\0' && *pb == '\0')
		return 0;
	if (*pa == '\0' || *pb == '\0')
		return *pa == '\0' ? 1 : -1;
	pa++;
	pb++;
	for (;;) {
		size_t na = strcspn(pa, "."), nb = strcspn(pb, ".");
		c = ident_cmp(pa, na, pb, nb);
		if (c != 0)
			return c;
		pa += na;
		pb += nb;
		if (*pa == '\0' || *pb == '\0')
			return *pa == *pb ? 0 : (*pa == '\0' ? -1 : 1);
		pa++;
		pb++;
	}
}

/* ---- canonical JSON: the encoder ---- */

struct out {
	char *buf;
	size_t len, cap;
	int err;
};

static void put(struct out *o, const char *s, size_t n)
{
	if (o->err)
		return;
	if (o->len + n + 1 > o->cap) {
		size_t cap = o->cap ? o->cap * 2 : 512;
		char *b;
		while (cap < o->len + n + 1)
			cap *= 2;
		if (cap > CC_UPDATE_DOC_MAX + 1 || (b = realloc(o->buf, cap)) == NULL) {
			o->err = cap > CC_UPDATE_DOC_MAX + 1 ? CC_ERR_INVALID : CC_ERR_NOMEM;
			return;
		}
		o->buf = b;
		o->cap = cap;
	}
	memcpy(o->buf + o->len, s, n);
	o->len += n;
	o->buf[o->len] = '\0';
}

static void puts_(struct out *o, const char *s)
{
	put(o, s, strlen(s));
}

static void put_str(struct out *o, const char *s)
{
	put(o, "\"", 1);
	for (; *s != '\0'; s++) {
		unsigned char c = (unsigned char)*s;
		char esc[8];
		if (c == '"' || c == '\\') {
			esc[0] = '\\';
			esc[1] = (char)c;
			put(o, esc, 2);
		} else if (c == '\n') {
			put(o, "\\n", 2);
		} else if (c < 0x20 || c == 0x7f) {
			snprintf(esc, sizeof(esc), "\\u%04x", c);
			put(o, esc, 6);
		} else {
			put(o, (const char *)&c, 1);
		}
	}
	put(o, "\"", 1);
}

static void put_key(struct out *o, const char *k, int first)
{
	if (!first)
		put(o, ",", 1);
	put_str(o, k);
	put(o, ":", 1);
}

static int format_time(int64_t t, char out[21])
{
	time_t tt = (time_t)t;
	struct tm tm;

	if (t < 0 || t > 253402300799LL || gmtime_r(&tt, &tm) == NULL)
		return CC_ERR_INVALID;
	return strftime(out, 21, "%Y-%m-%dT%H:%M:%SZ", &tm) == 20 ? CC_OK : CC_ERR_INVALID;
}

static int parse_time(const char *s, int64_t *out)
{
	struct tm tm = { 0 };
	char back[21];
	const char *e;

	if (strlen(s) != 20 || (e = strptime(s, "%Y-%m-%dT%H:%M:%SZ", &tm)) == NULL || *e != '\0')
		return CC_ERR_INVALID;
	*out = (int64_t)timegm(&tm);
	/* "2027-02-30" normalises to March: only the canonical spelling passes. */
	return format_time(*out, back) == CC_OK && strcmp(back, s) == 0 ? CC_OK : CC_ERR_INVALID;
}

static int hex64_ok(const char *s)
{
	size_t i;
	for (i = 0; s[i] != '\0'; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return 0;
	return i == 64;
}

/* The slug of a model or the shape of a serial: [A-Za-z0-9._-], starting
 * with a letter or digit. */
static int name_ok(const char *s, size_t max)
{
	size_t i;
	for (i = 0; s[i] != '\0'; i++) {
		char c = s[i];
		int alnum = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
		if (!alnum && (i == 0 || (c != '.' && c != '_' && c != '-')))
			return 0;
	}
	return i > 0 && i <= max;
}

static int meta_ok(const struct update_meta *m)
{
	if (!hex64_ok(m->key_id) || !hex64_ok(m->sha256) || !update_version_valid(m->version) ||
	    !update_version_valid(m->min_from) || update_version_cmp(m->min_from, m->version) >= 0 ||
	    m->nmodels == 0 || m->nmodels > CC_UPDATE_MODELS_MAX || m->size == 0 ||
	    m->size > (uint64_t)CC_UPDATE_ARTIFACT_MAX || strlen(m->notes) > CC_UPDATE_NOTES_MAX)
		return 0;
	for (size_t i = 0; i < m->nmodels; i++)
		if (!name_ok(m->models[i], CC_NAME_MAX) || (i > 0 && strcmp(m->models[i - 1], m->models[i]) >= 0))
			return 0;
	return 1;
}

static int finish(struct out *o, char **out, size_t *len)
{
	if (o->err != 0) {
		free(o->buf);
		return o->err;
	}
	*out = o->buf;
	*len = o->len;
	return CC_OK;
}

int update_meta_encode(const struct update_meta *m, char **out, size_t *len)
{
	struct out o = { 0 };
	char t[21], n[24];

	if (!meta_ok(m) || format_time(m->expires, t) != CC_OK)
		return CC_ERR_INVALID;
	puts_(&o, "{");
	put_key(&o, "_type", 1);
	put_str(&o, "artifact");
	put_key(&o, "expires", 0);
	put_str(&o, t);
	put_key(&o, "key_id", 0);
	put_str(&o, m->key_id);
	put_key(&o, "min_from_version", 0);
	put_str(&o, m->min_from);
	put_key(&o, "models", 0);
	put(&o, "[", 1);
	for (size_t i = 0; i < m->nmodels; i++) {
		if (i > 0)
			put(&o, ",", 1);
		put_str(&o, m->models[i]);
	}
	put(&o, "]", 1);
	put_key(&o, "notes", 0);
	put_str(&o, m->notes);
	put_key(&o, "sha256", 0);
	put_str(&o, m->sha256);
	put_key(&o, "size", 0);
	snprintf(n, sizeof(n), "%llu", (unsigned long long)m->size);
	puts_(&o, n);
	put_key(&o, "version", 0);
	put_str(&o, m->version);
	puts_(&o, "}");
	return finish(&o, out, len);
}

int update_offer_encode(const struct update_offer *of, char **out, size_t *len)
{
	struct out o = { 0 };
	char issued[21], expires[21];

	if (!hex64_ok(of->key_id) || !hex64_ok(of->sha256) || !name_ok(of->serial, CC_SERIAL_MAX) ||
	    !update_version_valid(of->version) || format_time(of->issued, issued) != CC_OK ||
	    format_time(of->expires, expires) != CC_OK)
		return CC_ERR_INVALID;
	puts_(&o, "{");
	put_key(&o, "_type", 1);
	put_str(&o, "offer");
	put_key(&o, "expires", 0);
	put_str(&o, expires);
	put_key(&o, "issued", 0);
	put_str(&o, issued);
	put_key(&o, "key_id", 0);
	put_str(&o, of->key_id);
	put_key(&o, "serial", 0);
	put_str(&o, of->serial);
	put_key(&o, "sha256", 0);
	put_str(&o, of->sha256);
	put_key(&o, "version", 0);
	put_str(&o, of->version);
	puts_(&o, "}");
	return finish(&o, out, len);
}

#define ENV_HEAD "{\"signature\":\""
#define ENV_MID "\",\"signed\":"
#define SIG_B64 88

int update_envelope(const uint8_t seed[ED25519_SEED_LEN], const char *signed_doc, size_t len,
                    char **out, size_t *outlen)
{
	uint8_t sig[ED25519_SIG_LEN];
	char b64[SIG_B64 + 1];
	size_t n = strlen(ENV_HEAD) + SIG_B64 + strlen(ENV_MID) + len + 1;
	char *doc;
	int rc = ed25519_sign(seed, signed_doc, len, sig);

	if (rc != CC_OK)
		return rc;
	if (b64_encode(sig, sizeof(sig), b64, sizeof(b64)) < 0 || (doc = malloc(n + 1)) == NULL)
		return CC_ERR_NOMEM;
	snprintf(doc, n + 1, "%s%s%s%.*s}", ENV_HEAD, b64, ENV_MID, (int)len, signed_doc);
	*out = doc;
	*outlen = n;
	return CC_OK;
}

int update_envelope_split(const char *doc, size_t len, const char **inner, size_t *innerlen,
                          uint8_t sig[ED25519_SIG_LEN])
{
	size_t head = strlen(ENV_HEAD), mid = strlen(ENV_MID);
	char b64[SIG_B64 + 1];
	uint8_t raw[ED25519_SIG_LEN + 2];

	if (len > CC_UPDATE_DOC_MAX || len < head + SIG_B64 + mid + 3 || memcmp(doc, ENV_HEAD, head) != 0 ||
	    memcmp(doc + head + SIG_B64, ENV_MID, mid) != 0 || doc[len - 1] != '}')
		return CC_ERR_INVALID;
	memcpy(b64, doc + head, SIG_B64);
	b64[SIG_B64] = '\0';
	if (b64_decode(b64, raw, sizeof(raw)) != ED25519_SIG_LEN)
		return CC_ERR_INVALID;
	memcpy(sig, raw, ED25519_SIG_LEN);
	*inner = doc + head + SIG_B64 + mid;
	*innerlen = len - head - SIG_B64 - mid - 1;
	return CC_OK;
}

/* ---- canonical JSON: the parser of one flat object ---- */

struct scan {
	const char *p, *end;
};

/* A string into out (cap bytes with the NUL); escapes as the encoder
 * writes them and a few it does not (the re-encoding then differs). */
static int scan_str(struct scan *s, char *out, size_t cap)
{
	size_t n = 0;

	if (s->p >= s->end || *s->p != '"')
		return CC_ERR_INVALID;
	s->p++;
	while (s->p < s->end && *s->p != '"') {
		unsigned char c = (unsigned char)*s->p++;
		if (c < 0x20)
			return CC_ERR_INVALID;
		if (c == '\\') {
			if (s->p >= s->end)
				return CC_ERR_INVALID;
			c = (unsigned char)*s->p++;
			if (c == 'n') {
				c = '\n';
			} else if (c == 'u') {
				char h[5];
				uint8_t b[2];
				if (s->end - s->p < 4)
					return CC_ERR_INVALID;
				memcpy(h, s->p, 4);
				h[4] = '\0';
				s->p += 4;
				if (hex_decode(h, b, sizeof(b)) != 2 || b[0] != 0 || b[1] == 0)
					return CC_ERR_INVALID;
				c = b[1];
			} else if (c != '"' && c != '\\') {
				return CC_ERR_INVALID;
			}
		}
		if (n + 1 >= cap)
			return CC_ERR_INVALID;
		out[n++] = (char)c;
	}
	if (s->p >= s->end)
		return CC_ERR_INVALID;
	s->p++;
	out[n] = '\0';
	return CC_OK;
}

static int scan_char(struct scan *s, char c)
{
	if (s->p >= s->end || *s->p != c)
		return CC_ERR_INVALID;
	s->p++;
	return CC_OK;
}

static int scan_uint(struct scan *s, uint64_t *out)
{
	uint64_t x = 0;
	const char *start = s->p;

	while (s->p < s->end && *s->p >= '0' && *s->p <= '9' && s->p - start < 16)
		x = x * 10 + (uint64_t)(*s->p++ - '0');
	if (s->p == start)
		return CC_ERR_INVALID;
	*out = x;
	return CC_OK;
}

/* The fields of both documents; which ones a document has is checked by
 * the re-encoding, which writes exactly its own. */
struct fields {
	char type[16];
	char expires[24], issued[24];
	char key_id[65], sha256[65], serial[CC_SERIAL_MAX + 1];
	char version[CC_UPDATE_VERSION_MAX + 1], min_from[CC_UPDATE_VERSION_MAX + 1];
	char models[CC_UPDATE_MODELS_MAX][CC_NAME_MAX + 1];
	size_t nmodels;
	char notes[CC_UPDATE_NOTES_MAX + 1];
	uint64_t size;
};

static int scan_fields(const char *doc, size_t len, struct fields *f)
{
	struct scan s = { doc, doc + len };
	char key[24];
	int rc;

	memset(f, 0, sizeof(*f));
	if (len > CC_UPDATE_DOC_MAX || scan_char(&s, '{') != CC_OK)
		return CC_ERR_INVALID;
	for (;;) {
		if ((rc = scan_str(&s, key, sizeof(key))) != CC_OK || (rc = scan_char(&s, ':')) != CC_OK)
			return rc;
		if (strcmp(key, "_type") == 0)
			rc = scan_str(&s, f->type, sizeof(f->type));
		else if (strcmp(key, "expires") == 0)
			rc = scan_str(&s, f->expires, sizeof(f->expires));
		else if (strcmp(key, "issued") == 0)
			rc = scan_str(&s, f->issued, sizeof(f->issued));
		else if (strcmp(key, "key_id") == 0)
			rc = scan_str(&s, f->key_id, sizeof(f->key_id));
		else if (strcmp(key, "sha256") == 0)
			rc = scan_str(&s, f->sha256, sizeof(f->sha256));
		else if (strcmp(key, "serial") == 0)
			rc = scan_str(&s, f->serial, sizeof(f->serial));
		else if (strcmp(key, "version") == 0)
			rc = scan_str(&s, f->version, sizeof(f->version));
		else if (strcmp(key, "min_from_version") == 0)
			rc = scan_str(&s, f->min_from, sizeof(f->min_from));
		else if (strcmp(key, "notes") == 0)
			rc = scan_str(&s, f->notes, sizeof(f->notes));
		else if (strcmp(key, "size") == 0)
			rc = scan_uint(&s, &f->size);
		else if (strcmp(key, "models") == 0) {
			rc = scan_char(&s, '[');
			while (rc == CC_OK && f->nmodels < CC_UPDATE_MODELS_MAX) {
				rc = scan_str(&s, f->models[f->nmodels++], sizeof(f->models[0]));
				if (rc != CC_OK || scan_char(&s, ',') != CC_OK)
					break;
			}
			if (rc == CC_OK)
				rc = scan_char(&s, ']');
		} else
			return CC_ERR_INVALID;
		if (rc != CC_OK)
			return rc;
		if (scan_char(&s, ',') != CC_OK)
			break;
	}
	return scan_char(&s, '}') == CC_OK && s.p == s.end ? CC_OK : CC_ERR_INVALID;
}

/* The document is canonical when encoding what was read gives its bytes. */
static int same_bytes(int rc, char *enc, size_t enclen, const char *doc, size_t len)
{
	int same = rc == CC_OK && enclen == len && memcmp(enc, doc, len) == 0;

	if (rc == CC_OK)
		free(enc);
	return same ? CC_OK : CC_ERR_INVALID;
}

int update_meta_parse(const char *doc, size_t len, struct update_meta *m)
{
	struct fields f;
	char *enc = NULL;
	size_t enclen = 0;
	int rc = scan_fields(doc, len, &f);

	if (rc != CC_OK || strcmp(f.type, "artifact") != 0 || parse_time(f.expires, &m->expires) != CC_OK)
		return CC_ERR_INVALID;
	memcpy(m->key_id, f.key_id, sizeof(m->key_id));
	memcpy(m->sha256, f.sha256, sizeof(m->sha256));
	memcpy(m->version, f.version, sizeof(m->version));
	memcpy(m->min_from, f.min_from, sizeof(m->min_from));
	memcpy(m->models, f.models, sizeof(m->models));
	memcpy(m->notes, f.notes, sizeof(m->notes));
	m->nmodels = f.nmodels;
	m->size = f.size;
	rc = update_meta_encode(m, &enc, &enclen);
	return same_bytes(rc, enc, enclen, doc, len);
}

int update_offer_parse(const char *doc, size_t len, struct update_offer *o)
{
	struct fields f;
	char *enc = NULL;
	size_t enclen = 0;
	int rc = scan_fields(doc, len, &f);

	if (rc != CC_OK || strcmp(f.type, "offer") != 0 || parse_time(f.expires, &o->expires) != CC_OK ||
	    parse_time(f.issued, &o->issued) != CC_OK)
		return CC_ERR_INVALID;
	memcpy(o->key_id, f.key_id, sizeof(o->key_id));
	memcpy(o->sha256, f.sha256, sizeof(o->sha256));
	memcpy(o->serial, f.serial, sizeof(o->serial));
	memcpy(o->version, f.version, sizeof(o->version));
	rc = update_offer_encode(o, &enc, &enclen);
	return same_bytes(rc, enc, enclen, doc, len);
}

/* ---- verdicts ---- */

/* The key among keys whose id is key_id, or NULL. */
static const struct update_key *find_key(const struct update_key *keys, size_t n, const char *key_id)
{
	for (size_t i = 0; i < n; i++) {
		char id[65];
		if (ed25519_key_id(keys[i].pub, id) == CC_OK && CRYPTO_memcmp(id, key_id, 64) == 0)
			return &keys[i];
	}
	return NULL;
}

enum update_verdict update_check_meta(const char *doc, size_t len, const struct update_trust *t,
                                      const struct update_facts *f, struct update_meta *m)
{
	const char *inner;
	size_t innerlen;
	uint8_t sig[ED25519_SIG_LEN];
	const struct update_key *k;
	size_t i;

	if (update_envelope_split(doc, len, &inner, &innerlen, sig) != CC_OK ||
	    update_meta_parse(inner, innerlen, m) != CC_OK)
		return UPDATE_MALFORMED;
	k = find_key(t->release, t->nrelease, m->key_id);
	if (k == NULL)
		return UPDATE_UNKNOWN_KEY;
	if (k->revoked)
		return UPDATE_REVOKED_KEY;
	if (ed25519_verify(k->pub, inner, innerlen, sig) != CC_OK)
		return UPDATE_BAD_SIGNATURE;
	if (f == NULL)
		return UPDATE_ACCEPT;
	if (m->expires <= f->now)
		return UPDATE_EXPIRED;
	for (i = 0; i < m->nmodels && strcmp(m->models[i], f->model) != 0; i++)
		;
	if (i == m->nmodels)
		return UPDATE_WRONG_MODEL;
	/* An installed version the machine cannot read is no licence to go back. */
	if (!update_version_valid(f->installed) || update_version_cmp(m->version, f->installed) <= 0)
		return UPDATE_ROLLBACK;
	if (update_version_cmp(f->installed, m->min_from) < 0)
		return UPDATE_BELOW_MIN_FROM;
	return UPDATE_ACCEPT;
}

enum update_verdict update_check(const char *meta, size_t len, const char *offer, size_t olen,
                                 const struct update_trust *t, const struct update_facts *f,
                                 struct update_meta *m)
{
	enum update_verdict v = update_check_meta(meta, len, t, f, m);
	struct update_offer o;
	const char *inner;
	size_t innerlen;
	uint8_t sig[ED25519_SIG_LEN];
	const struct update_key *k;

	if (v != UPDATE_ACCEPT)
		return v;
	if (update_envelope_split(offer, olen, &inner, &innerlen, sig) != CC_OK ||
	    update_offer_parse(inner, innerlen, &o) != CC_OK)
		return UPDATE_OFFER_MALFORMED;
	k = find_key(t->server, t->nserver, o.key_id);
	if (k == NULL || k->revoked || ed25519_verify(k->pub, inner, innerlen, sig) != CC_OK)
		return UPDATE_OFFER_BAD_SIGNATURE;
	if (o.expires <= f->now)
		return UPDATE_OFFER_EXPIRED;
	if (strcmp(o.serial, f->serial) != 0)
		return UPDATE_OFFER_OTHER_MACHINE;
	if (strcmp(o.sha256, m->sha256) != 0 || strcmp(o.version, m->version) != 0)
		return UPDATE_OFFER_OTHER_ARTIFACT;
	return UPDATE_ACCEPT;
}

/* ---- the download ---- */

int update_download_begin(struct update_download *d, const struct update_meta *m)
{
	memset(d, 0, sizeof(*d));
	if (hex_decode(m->sha256, d->want, sizeof(d->want)) != 32)
		return CC_ERR_INVALID;
	d->size = m->size;
	d->md = EVP_MD_CTX_new();
	if (d->md == NULL || EVP_DigestInit_ex(d->md, EVP_sha256(), NULL) != 1) {
		update_download_free(d);
		return CC_ERR_CRYPTO;
	}
	return CC_OK;
}

enum update_verdict update_download_feed(struct update_download *d, const void *data, size_t n)
{
	if (d->md == NULL || n > d->size - d->got)
		return UPDATE_TOO_LARGE;
	if (EVP_DigestUpdate(d->md, data, n) != 1)
		return UPDATE_HASH_MISMATCH;
	d->got += n;
	return UPDATE_ACCEPT;
}

enum update_verdict update_download_finish(struct update_download *d)
{
	uint8_t md[EVP_MAX_MD_SIZE];
	unsigned mdlen = 0;
	int ok = d->md != NULL && d->got == d->size && EVP_DigestFinal_ex(d->md, md, &mdlen) == 1 && mdlen == 32 &&
	         CRYPTO_memcmp(md, d->want, 32) == 0;

	update_download_free(d);
	return ok ? UPDATE_ACCEPT : UPDATE_HASH_MISMATCH;
}

void update_download_free(struct update_download *d)
{
	EVP_MD_CTX_free(d->md);
	d->md = NULL;
}
