#include "store/sql/params.h"

#include <string.h>

#include "common/err.h"

#define PARAM_MAX 999

struct writer {
	char *out;
	size_t cap, len;
	int rc;
};

static void put(struct writer *w, const char *p, size_t n)
{
	if (w->rc != CC_OK)
		return;
	if (w->len + n >= w->cap) {
		w->rc = CC_ERR_LIMIT;
		return;
	}
	memcpy(w->out + w->len, p, n);
	w->len += n;
}

/* The end of a literal or quoted identifier opened by q at *p (a doubled q
 * is one character of it), or NULL when it never closes. */
static const char *quoted_end(const char *p, char q)
{
	for (p++; *p != '\0'; p++) {
		if (*p != q)
			continue;
		if (p[1] == q) {
			p++;
			continue;
		}
		return p + 1;
	}
	return NULL;
}

int sql_params_pg(const char *sql, char *out, size_t cap, int *nparams)
{
	struct writer w = { out, cap, 0, CC_OK };
	const char *p = sql;
	int bare = 0, numbered = 0, highest = 0;

	if (cap == 0)
		return CC_ERR_LIMIT;
	while (*p != '\0' && w.rc == CC_OK) {
		const char *end;

		if (*p == '\'' || *p == '"') {
			end = quoted_end(p, *p);
			if (end == NULL)
				return CC_ERR_INVALID;
		} else if (p[0] == '-' && p[1] == '-') {
			end = strchr(p, '\n');
			end = end != NULL ? end + 1 : p + strlen(p);
		} else if (p[0] == '/' && p[1] == '*') {
			end = strstr(p + 2, "*/");
			if (end == NULL)
				return CC_ERR_INVALID;
			end += 2;
		} else if (*p == '?') {
			char num[8];
			int n = 0, digits = 0;

			for (end = p + 1; *end >= '0' && *end <= '9'; end++, digits++)
				if (digits < 4)
					n = n * 10 + (*end - '0');
			if (digits == 0) {
				bare = 1;
				n = highest + 1;
			} else {
				numbered = 1;
			}
			if (n < 1 || n > PARAM_MAX || digits > 3 || (bare && numbered))
				return CC_ERR_INVALID;
			if (n > highest)
				highest = n;
			num[0] = '$';
			digits = 1;
			if (n >= 100)
				num[digits++] = (char)('0' + n / 100);
			if (n >= 10)
				num[digits++] = (char)('0' + n / 10 % 10);
			num[digits++] = (char)('0' + n % 10);
			put(&w, num, (size_t)digits);
			p = end;
			continue;
		} else {
			end = p + 1;
		}
		put(&w, p, (size_t)(end - p));
		p = end;
	}
	if (w.rc != CC_OK)
		return w.rc;
	out[w.len] = '\0';
	if (nparams != NULL)
		*nparams = highest;
	return CC_OK;
}
