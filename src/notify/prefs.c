#include "notify/prefs.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/err.h"
#include "common/zone.h"

static void defaults(struct store_notify_prefs *p, int64_t user_id)
{
	memset(p, 0, sizeof(*p));
	p->user_id = user_id;
	p->email = 1;
	snprintf(p->tz, sizeof(p->tz), "UTC");
	snprintf(p->language, sizeof(p->language), "en");
}

int notify_prefs_get(struct vault *v, int64_t user_id, struct store_notify_prefs *out)
{
	struct store *s = vault_store(v);
	int rc = s->ops->notify->prefs_get(s, user_id, out);

	if (rc == CC_ERR_NOTFOUND) {
		defaults(out, user_id);
		rc = CC_OK;
	}
	return rc;
}

int notify_prefs_set(struct vault *v, const struct store_notify_prefs *p)
{
	struct store *s = vault_store(v);

	return s->ops->notify->prefs_set(s, p);
}

static int parse_hhmm(const char *t, int *minutes)
{
	if (strlen(t) < 5 || t[0] < '0' || t[0] > '2' || t[1] < '0' || t[1] > '9' || t[2] != ':' || t[3] < '0' ||
	    t[3] > '5' || t[4] < '0' || t[4] > '9')
		return CC_ERR_INVALID;
	*minutes = ((t[0] - '0') * 10 + (t[1] - '0')) * 60 + (t[3] - '0') * 10 + (t[4] - '0');
	return *minutes < 24 * 60 ? CC_OK : CC_ERR_INVALID;
}

static int parse_quiet(const char *q, int *from, int *to)
{
	if (strlen(q) != 11 || q[5] != '-' || parse_hhmm(q, from) != CC_OK || parse_hhmm(q + 6, to) != CC_OK ||
	    *from == *to)
		return CC_ERR_INVALID;
	return CC_OK;
}

/* An IANA zone the system has: letters, digits, '/', '_', '+', '-', no "..". */
static int join_list(const json_t *arr, char *out, size_t cap, size_t item_max)
{
	size_t i, used = 0;
	json_t *x;

	if (!json_is_array(arr))
		return CC_ERR_INVALID;
	out[0] = '\0';
	json_array_foreach(arr, i, x) {
		const char *t = json_string_value(x);
		size_t n = t ? strlen(t) : 0;

		if (n == 0 || n > item_max || strspn(t, "abcdefghijklmnopqrstuvwxyz0123456789._-") != n)
			return CC_ERR_INVALID;
		if (used + n + 2 > cap)
			return CC_ERR_LIMIT;
		used += (size_t)snprintf(out + used, cap - used, "%s%s", used ? "," : "", t);
	}
	return CC_OK;
}

int notify_prefs_apply(struct store_notify_prefs *p, const json_t *changes, char *why, size_t cap)
{
	const char *key;
	json_t *val;
	int from, to;

	json_object_foreach((json_t *)changes, key, val) {
		if (strcmp(key, "email") == 0 && json_is_boolean(val)) {
			p->email = json_is_true(val);
		} else if (strcmp(key, "kinds") == 0) {
			if (join_list(val, p->kinds, sizeof(p->kinds), STORE_NOTIFY_KIND_MAX) != CC_OK)
				goto bad;
		} else if (strcmp(key, "sites") == 0) {
			if (join_list(val, p->sites, sizeof(p->sites), CC_NAME_MAX) != CC_OK)
				goto bad;
		} else if (strcmp(key, "quiet") == 0 && json_is_string(val)) {
			const char *q = json_string_value(val);

			if (q[0] != '\0' && parse_quiet(q, &from, &to) != CC_OK)
				goto bad;
			snprintf(p->quiet, sizeof(p->quiet), "%s", q);
		} else if (strcmp(key, "tz") == 0 && json_is_string(val)) {
			if (!zone_valid(json_string_value(val)))
				goto bad;
			snprintf(p->tz, sizeof(p->tz), "%s", json_string_value(val));
		} else if (strcmp(key, "language") == 0 && json_is_string(val)) {
			if (strcmp(json_string_value(val), "en") != 0 && strcmp(json_string_value(val), "hu") != 0)
				goto bad;
			snprintf(p->language, sizeof(p->language), "%s", json_string_value(val));
		} else {
			goto bad;
		}
	}
	return CC_OK;
bad:
	snprintf(why, cap, "%s: expected email (true|false), kinds and sites (lists of names), quiet "
	                   "(HH:MM-HH:MM or empty), tz (a time zone such as Europe/Budapest), language (en|hu)",
	         key);
	return CC_ERR_INVALID;
}

static json_t *list_json(const char *csv)
{
	json_t *arr = json_array();
	const char *p = csv;

	while (arr != NULL && *p) {
		size_t n = strcspn(p, ",");

		json_array_append_new(arr, json_stringn(p, n));
		p += n + (p[n] == ',');
	}
	return arr;
}

json_t *notify_prefs_json(const struct store_notify_prefs *p)
{
	return json_pack("{s:b, s:o, s:o, s:s, s:s, s:s}", "email", p->email, "kinds", list_json(p->kinds), "sites",
	                 list_json(p->sites), "quiet", p->quiet, "tz", p->tz, "language", p->language);
}

static int in_list(const char *csv, const char *item)
{
	size_t n = strlen(item);
	const char *p = csv;

	if (csv[0] == '\0')
		return 1;
	while (*p) {
		size_t m = strcspn(p, ",");

		if (m == n && strncmp(p, item, n) == 0)
			return 1;
		p += m + (p[m] == ',');
	}
	return 0;
}

int notify_prefs_want(const struct store_notify_prefs *p, const char *kind, const char *site)
{
	if (!p->email || !in_list(p->kinds, kind))
		return 0;
	return p->sites[0] == '\0' || (site != NULL && site[0] != '\0' && in_list(p->sites, site));
}

int64_t notify_quiet_until(const struct store_notify_prefs *p, int64_t now_ms)
{
	struct tm tm;
	int from, to, m, quiet;

	if (p->quiet[0] == '\0' || parse_quiet(p->quiet, &from, &to) != CC_OK)
		return 0;
	zone_localtime(zone_valid(p->tz) ? p->tz : "UTC", (time_t)(now_ms / 1000), &tm);
	m = tm.tm_hour * 60 + tm.tm_min;
	quiet = from < to ? (m >= from && m < to) : (m >= from || m < to);
	if (!quiet)
		return 0;
	return now_ms - (int64_t)tm.tm_sec * 1000 - now_ms % 1000 + (int64_t)((to - m + 1440) % 1440) * 60000;
}
