/*
 * agent_json.c - the little JSON the agent reads from the network: the
 * server's answer to "what is offered to me" (an object of strings, whose
 * values are themselves the signed documents that update.c parses
 * canonically). A strict reader: RFC 8259 grammar, bounded depth, no
 * duplicate members, no NUL, lone surrogates refused.
 */
#include <string.h>

#include "agent/internal.h"

#define DEPTH_MAX 16

struct rd {
	const char *p, *end;
};

static void ws(struct rd *r)
{
	while (r->p < r->end && (*r->p == ' ' || *r->p == '\t' || *r->p == '\n' || *r->p == '\r'))
		r->p++;
}

static int hex4(const char *p, unsigned *v)
{
	*v = 0;
	for (int i = 0; i < 4; i++) {
		char c = p[i];
		unsigned d = c >= '0' && c <= '9' ? (unsigned)(c - '0')
		           : c >= 'a' && c <= 'f' ? (unsigned)(c - 'a' + 10)
		           : c >= 'A' && c <= 'F' ? (unsigned)(c - 'A' + 10) : 16u;
		if (d == 16)
			return -1;
		*v = *v << 4 | d;
	}
	return 0;
}

static size_t put_utf8(unsigned cp, char *o)
{
	if (cp < 0x80) {
		o[0] = (char)cp;
		return 1;
	}
	if (cp < 0x800) {
		o[0] = (char)(0xC0 | cp >> 6);
		o[1] = (char)(0x80 | (cp & 0x3F));
		return 2;
	}
	if (cp < 0x10000) {
		o[0] = (char)(0xE0 | cp >> 12);
		o[1] = (char)(0x80 | (cp >> 6 & 0x3F));
		o[2] = (char)(0x80 | (cp & 0x3F));
		return 3;
	}
	o[0] = (char)(0xF0 | cp >> 18);
	o[1] = (char)(0x80 | (cp >> 12 & 0x3F));
	o[2] = (char)(0x80 | (cp >> 6 & 0x3F));
	o[3] = (char)(0x80 | (cp & 0x3F));
	return 4;
}

/* A string at r->p (the opening quote). Decoded into out (room for at least
 * the raw length + 1) when out is not NULL; *n its length. */
static int string(struct rd *r, char *out, size_t *n)
{
	size_t k = 0;

	if (r->p >= r->end || *r->p != '"')
		return -1;
	r->p++;
	while (r->p < r->end) {
		unsigned char c = (unsigned char)*r->p++;
		if (c == '"') {
			if (out != NULL)
				out[k] = '\0';
			*n = k;
			return 0;
		}
		if (c < 0x20)
			return -1;
		if (c != '\\') {
			if (out != NULL)
				out[k] = (char)c;
			k++;
			continue;
		}
		if (r->p >= r->end)
			return -1;
		char e = *r->p++, tmp[4];
		const char *simple = strchr("\"\\/bfnrt", e);
		if (e != '\0' && simple != NULL) {
			static const char map[] = "\"\\/\b\f\n\r\t";
			if (out != NULL)
				out[k] = map[simple - "\"\\/bfnrt"];
			k++;
			continue;
		}
		unsigned cp, lo;
		if (e != 'u' || r->end - r->p < 4 || hex4(r->p, &cp) != 0)
			return -1;
		r->p += 4;
		if (cp == 0 || (cp >= 0xDC00 && cp <= 0xDFFF))
			return -1;
		if (cp >= 0xD800 && cp <= 0xDBFF) {
			if (r->end - r->p < 6 || r->p[0] != '\\' || r->p[1] != 'u' || hex4(r->p + 2, &lo) != 0 ||
			    lo < 0xDC00 || lo > 0xDFFF)
				return -1;
			r->p += 6;
			cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
		}
		/* An escape is at least as long as its UTF-8: out stays within the raw length. */
		size_t w = put_utf8(cp, tmp);
		if (out != NULL)
			memcpy(out + k, tmp, w);
		k += w;
	}
	return -1;
}

static int value(struct rd *r, int depth);

static int number(struct rd *r)
{
	const char *s = r->p;
	if (r->p < r->end && *r->p == '-')
		r->p++;
	if (r->p >= r->end)
		return -1;
	if (*r->p == '0')
		r->p++;
	else if (*r->p >= '1' && *r->p <= '9')
		while (r->p < r->end && *r->p >= '0' && *r->p <= '9')
			r->p++;
	else
		return -1;
	if (r->p < r->end && *r->p == '.') {
		r->p++;
		if (r->p >= r->end || *r->p < '0' || *r->p > '9')
			return -1;
		while (r->p < r->end && *r->p >= '0' && *r->p <= '9')
			r->p++;
	}
	if (r->p < r->end && (*r->p == 'e' || *r->p == 'E')) {
		r->p++;
		if (r->p < r->end && (*r->p == '+' || *r->p == '-'))
			r->p++;
		if (r->p >= r->end || *r->p < '0' || *r->p > '9')
			return -1;
		while (r->p < r->end && *r->p >= '0' && *r->p <= '9')
			r->p++;
	}
	return r->p > s ? 0 : -1;
}

static int word(struct rd *r, const char *w)
{
	size_t n = strlen(w);
	if ((size_t)(r->end - r->p) < n || memcmp(r->p, w, n) != 0)
		return -1;
	r->p += n;
	return 0;
}

static int container(struct rd *r, int depth, char close)
{
	size_t n;
	if (depth > DEPTH_MAX)
		return -1;
	r->p++;
	ws(r);
	if (r->p < r->end && *r->p == close) {
		r->p++;
		return 0;
	}
	for (;;) {
		ws(r);
		if (close == '}') {
			if (string(r, NULL, &n) != 0)
				return -1;
			ws(r);
			if (r->p >= r->end || *r->p++ != ':')
				return -1;
		}
		if (value(r, depth + 1) != 0)
			return -1;
		ws(r);
		if (r->p >= r->end)
			return -1;
		char c = *r->p++;
		if (c == close)
			return 0;
		if (c != ',')
			return -1;
	}
}

static int value(struct rd *r, int depth)
{
	size_t n;
	ws(r);
	if (r->p >= r->end)
		return -1;
	switch (*r->p) {
	case '"': return string(r, NULL, &n);
	case '{': return container(r, depth, '}');
	case '[': return container(r, depth, ']');
	case 't': return word(r, "true");
	case 'f': return word(r, "false");
	case 'n': return word(r, "null");
	default: return number(r);
	}
}

int cc_ag_json_strings(cc_agent *a, const char *doc, size_t len, const char *const *names, char **out,
                       size_t n)
{
	struct rd r = { doc, doc + len };
	char key[64];
	size_t klen;
	int rc = CC_AGENT_EINVAL;

	for (size_t i = 0; i < n; i++)
		out[i] = NULL;
	ws(&r);
	if (r.p >= r.end || *r.p != '{')
		return CC_AGENT_EINVAL;
	r.p++;
	ws(&r);
	if (r.p < r.end && *r.p == '}') {
		r.p++;
		goto tail;
	}
	for (;;) {
		struct rd peek = r;
		ws(&r);
		peek = r;
		if (string(&peek, NULL, &klen) != 0)
			goto fail;
		size_t wanted = n;
		if (klen < sizeof(key) && (size_t)(peek.p - r.p) <= sizeof(key) + 1) {
			(void)string(&r, key, &klen);
			if (strlen(key) == klen)
				for (size_t i = 0; i < n; i++)
					if (strcmp(key, names[i]) == 0)
						wanted = i;
		}
		r = peek;
		ws(&r);
		if (r.p >= r.end || *r.p++ != ':')
			goto fail;
		ws(&r);
		if (wanted < n) {
			struct rd v = r;
			size_t vlen;
			if (out[wanted] != NULL || r.p >= r.end || *r.p != '"' || string(&v, NULL, &vlen) != 0)
				goto fail;
			if ((out[wanted] = cc_ag_malloc(a, (size_t)(v.p - r.p) + 1)) == NULL) {
				rc = CC_AGENT_ENOMEM;
				goto fail;
			}
			(void)string(&r, out[wanted], &vlen);
			if (strlen(out[wanted]) != vlen)
				goto fail;
		} else if (value(&r, 1) != 0) {
			goto fail;
		}
		ws(&r);
		if (r.p >= r.end)
			goto fail;
		char c = *r.p++;
		if (c == '}')
			break;
		if (c != ',')
			goto fail;
	}
tail:
	ws(&r);
	if (r.p == r.end)
		return CC_AGENT_OK;
fail:
	for (size_t i = 0; i < n; i++) {
		cc_ag_free(a, out[i]);
		out[i] = NULL;
	}
	return rc;
}

int cc_ag_json_quote(const char *s, char *buf, size_t cap)
{
	size_t k = strlen(buf);
	static const char hex[] = "0123456789abcdef";

	if (k + 1 >= cap)
		return -1;
	buf[k++] = '"';
	for (; *s != '\0'; s++) {
		unsigned char c = (unsigned char)*s;
		char esc[7];
		size_t w;
		if (c == '"' || c == '\\') {
			esc[0] = '\\';
			esc[1] = (char)c;
			w = 2;
		} else if (c < 0x20) {
			memcpy(esc, "\\u00", 4);
			esc[4] = hex[c >> 4];
			esc[5] = hex[c & 15];
			w = 6;
		} else {
			esc[0] = (char)c;
			w = 1;
		}
		if (k + w + 2 > cap)
			return -1;
		memcpy(buf + k, esc, w);
		k += w;
	}
	buf[k++] = '"';
	buf[k] = '\0';
	return 0;
}
