/*
 * agent_config.c - remote configuration on the machine (docs/AGENT.md
 * "Remote configuration", docs/CONFIGURATION-REMOTE.md): the "config"
 * command carries {"version": N, "config": {document}} or, for a document
 * too large for a command, {"version": N, "fetch": "/api/v1/machine/config"}
 * (then fetched over HTTPS with the machine certificate). The document is
 * checked again against what the firmware declares (its products, fields
 * and bounds: the server judged it by the model's schema, the firmware
 * knows its own machine), handed to the firmware as values, and the
 * outcome reported, retained, on cc/v1/{serial}/config/reported with what
 * the machine runs now. "mconf.last" in storage keeps the last version
 * handled ("N applied" or "N rejected REASON"), so a command delivered
 * again is answered as before, and the report is sent again at each
 * connection. Every byte from the network is hostile until parsed: a
 * strict, bounded JSON reader of its own (no library), names and values
 * copied only into fixed buffers, nothing refused ever logged.
 */
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <mosquitto.h>

#include "agent/internal.h"

#define FETCH_PATH "/api/v1/machine/config"
#define DOC_MAX 8192      /* the server's CONFIG_DOC_MAX */
#define FETCH_MAX (DOC_MAX + 512)
#define REPORT_MAX (DOC_MAX + 256)
#define NAME_MAX_ 32
#define REASON_MAX 80

struct cc_ag_mconf {
	struct cc_machine_config_fw fw;
	struct cc_machine_config_state last;
	int loaded;
	struct cc_machine_config_value *vals; /* CC_AGENT_MACHINE_CONFIG_VALUES_MAX */
};

/* ---- a strict JSON reader over [p, end) ---- */

struct rd {
	const char *p, *end;
};

static void ws(struct rd *r)
{
	while (r->p < r->end && (*r->p == ' ' || *r->p == '\t' || *r->p == '\n' || *r->p == '\r'))
		r->p++;
}

static int eat(struct rd *r, char c)
{
	ws(r);
	if (r->p < r->end && *r->p == c) {
		r->p++;
		return 1;
	}
	return 0;
}

/* A string of printable ASCII (escapes \" \\ \/ only) of at most cap-1 bytes. */
static int string(struct rd *r, char *out, size_t cap)
{
	size_t n = 0;

	if (!eat(r, '"'))
		return -1;
	while (r->p < r->end && *r->p != '"') {
		char c = *r->p++;

		if (c == '\\') {
			if (r->p == r->end || (*r->p != '"' && *r->p != '\\' && *r->p != '/'))
				return -1;
			c = *r->p++;
		} else if ((unsigned char)c < 0x20 || (unsigned char)c > 0x7e) {
			return -1;
		}
		if (n + 1 >= cap)
			return -1;
		out[n++] = c;
	}
	if (r->p == r->end)
		return -1;
	r->p++;
	out[n] = '\0';
	return 0;
}

/* Over a string without keeping it (any length, the same rules). */
static int skip_string(struct rd *r)
{
	if (!eat(r, '"'))
		return -1;
	while (r->p < r->end && *r->p != '"') {
		char c = *r->p++;

		if (c == '\\') {
			if (r->p == r->end || (*r->p != '"' && *r->p != '\\' && *r->p != '/'))
				return -1;
			r->p++;
		} else if ((unsigned char)c < 0x20 || (unsigned char)c > 0x7e) {
			return -1;
		}
	}
	if (r->p == r->end)
		return -1;
	r->p++;
	return 0;
}

/* A JSON number: -?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)?; *whole when it has neither fraction nor exponent. */
static int number(struct rd *r, double *v, int *whole)
{
	const char *s;
	char buf[40];
	size_t n;

	ws(r);
	s = r->p;
	*whole = 1;
	if (r->p < r->end && *r->p == '-')
		r->p++;
	if (r->p < r->end && *r->p == '0')
		r->p++;
	else if (r->p < r->end && *r->p >= '1' && *r->p <= '9')
		while (r->p < r->end && *r->p >= '0' && *r->p <= '9')
			r->p++;
	else
		return -1;
	if (r->p < r->end && *r->p == '.') {
		*whole = 0;
		r->p++;
		if (r->p == r->end || *r->p < '0' || *r->p > '9')
			return -1;
		while (r->p < r->end && *r->p >= '0' && *r->p <= '9')
			r->p++;
	}
	if (r->p < r->end && (*r->p == 'e' || *r->p == 'E')) {
		*whole = 0;
		r->p++;
		if (r->p < r->end && (*r->p == '+' || *r->p == '-'))
			r->p++;
		if (r->p == r->end || *r->p < '0' || *r->p > '9')
			return -1;
		while (r->p < r->end && *r->p >= '0' && *r->p <= '9')
			r->p++;
	}
	n = (size_t)(r->p - s);
	if (n >= sizeof(buf))
		return -1;
	memcpy(buf, s, n);
	buf[n] = '\0';
	*v = strtod(buf, NULL);
	return isfinite(*v) ? 0 : -1;
}

/* Skips any value (depth-bounded, little stack: firmware's threads are small). */
static int skip(struct rd *r, int depth)
{
	double d;
	int w;

	ws(r);
	if (depth > 16 || r->p == r->end)
		return -1;
	if (*r->p == '"')
		return skip_string(r);
	if (*r->p == '{' || *r->p == '[') {
		char close = *r->p == '{' ? '}' : ']';

		r->p++;
		if (eat(r, close))
			return 0;
		do {
			if (close == '}' && (skip_string(r) != 0 || !eat(r, ':')))
				return -1;
			if (skip(r, depth + 1) != 0)
				return -1;
		} while (eat(r, ','));
		return eat(r, close) ? 0 : -1;
	}
	for (const char *lit = *r->p == 't' ? "true" : *r->p == 'f' ? "false" : *r->p == 'n' ? "null" : NULL;
	     lit != NULL;) {
		size_t n = strlen(lit);

		if ((size_t)(r->end - r->p) < n || memcmp(r->p, lit, n) != 0)
			return -1;
		r->p += n;
		return 0;
	}
	return number(r, &d, &w);
}

/* ---- the document, judged against what the firmware declares ---- */

static const struct cc_machine_config_field *field_of(const struct cc_machine_config_field *f, size_t n,
                                                      const char *name)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(f[i].name, name) == 0)
			return &f[i];
	return NULL;
}

static int product_known(const struct cc_machine_config_fw *fw, const char *p)
{
	for (const char *const *x = fw->products; x != NULL && *x != NULL; x++)
		if (strcmp(*x, p) == 0)
			return 1;
	return 0;
}

struct judge {
	const struct cc_machine_config_fw *fw;
	struct cc_machine_config_value *v;
	size_t n;
	char why[REASON_MAX + 1];
};

/* The reason, cut to what a report carries (names are at most 32 bytes). */
static int refuse(struct judge *j, const char *fmt, const char *a, const char *b)
{
	char full[256];

	snprintf(full, sizeof(full), fmt, a, b);
	full[REASON_MAX] = '\0';
	memcpy(j->why, full, strlen(full) + 1);
	return -1;
}

/* One member's value: a number within the field's bounds, or one of its texts. */
static int value(struct rd *r, struct judge *j, const char *product, const char *name,
                 const struct cc_machine_config_field *f)
{
	struct cc_machine_config_value *v;
	char path[NAME_MAX_ * 2 + 16];
	int whole;

	snprintf(path, sizeof(path), "%s%s%s", product[0] ? "recipes." : "settings.", product,
	         product[0] ? "." : "");
	if (f == NULL)
		return refuse(j, "%s%s: not a field of this machine", path, name);
	for (size_t i = 0; i < j->n; i++)
		if (strcmp(j->v[i].product, product) == 0 && strcmp(j->v[i].field, name) == 0)
			return refuse(j, "%s%s: given twice", path, name);
	if (j->n == CC_AGENT_MACHINE_CONFIG_VALUES_MAX)
		return refuse(j, "%s%s: too many values", path, name);
	v = &j->v[j->n];
	memset(v, 0, sizeof(*v));
	snprintf(v->product, sizeof(v->product), "%s", product);
	snprintf(v->field, sizeof(v->field), "%s", name);
	if (f->values != NULL) {
		size_t k = 0;

		if (string(r, v->text, sizeof(v->text)) != 0)
			return refuse(j, "%s%s: one of this machine's values", path, name);
		while (f->values[k] != NULL && strcmp(f->values[k], v->text) != 0)
			k++;
		if (f->values[k] == NULL)
			return refuse(j, "%s%s: not a value this machine has", path, name);
	} else {
		char range[NAME_MAX_ + 64];

		if (number(r, &v->number, &whole) != 0)
			return refuse(j, "%s%s: a number", path, name);
		if (f->integer && (!whole && v->number != floor(v->number)))
			return refuse(j, "%s%s: a whole number", path, name);
		if (v->number < f->min || v->number > f->max) {
			snprintf(range, sizeof(range), "%s: out of range %g..%g", name, f->min, f->max);
			return refuse(j, "%s%s", path, range);
		}
	}
	j->n++;
	return 0;
}

/* {field: value, ...} of a recipe (product) or the settings (product ""). */
static int fields(struct rd *r, struct judge *j, const char *product)
{
	const struct cc_machine_config_field *defs = product[0] ? j->fw->recipe : j->fw->settings;
	size_t ndefs = product[0] ? j->fw->nrecipe : j->fw->nsettings;
	char name[NAME_MAX_ + 1];
	size_t before = j->n;

	if (!eat(r, '{'))
		return refuse(j, "%s%s: an object", product[0] ? "recipes." : "settings", product);
	if (eat(r, '}'))
		return product[0] ? refuse(j, "recipes.%s%s: an empty recipe", product, "") : 0;
	do {
		if (string(r, name, sizeof(name)) != 0 || !eat(r, ':'))
			return refuse(j, "%s%s: malformed", product[0] ? "recipes." : "settings", product);
		if (value(r, j, product, name, field_of(defs, ndefs, name)) != 0)
			return -1;
	} while (eat(r, ','));
	if (!eat(r, '}'))
		return refuse(j, "%s%s: malformed", product[0] ? "recipes." : "settings", product);
	return j->n > before || !product[0] ? 0 : -1;
}

/* The whole document: {"recipes": {product: {...}}, "settings": {...}}. */
static int document(struct rd *r, struct judge *j)
{
	char name[NAME_MAX_ + 1];
	int recipes = 0, settings = 0;

	if (!eat(r, '{') || eat(r, '}'))
		return refuse(j, "config: a document (recipes, settings)%s%s", "", "");
	do {
		if (string(r, name, sizeof(name)) != 0 || !eat(r, ':'))
			return refuse(j, "config: malformed%s%s", "", "");
		if (strcmp(name, "settings") == 0 && !settings++) {
			if (fields(r, j, "") != 0)
				return -1;
		} else if (strcmp(name, "recipes") == 0 && !recipes++) {
			char product[NAME_MAX_ + 1];

			if (!eat(r, '{'))
				return refuse(j, "recipes: an object%s%s", "", "");
			if (!eat(r, '}')) {
				do {
					if (string(r, product, sizeof(product)) != 0 || !eat(r, ':'))
						return refuse(j, "recipes: malformed%s%s", "", "");
					if (!product_known(j->fw, product))
						return refuse(j, "recipes.%s: not a product of this machine%s", product, "");
					for (size_t i = 0; i < j->n; i++)
						if (strcmp(j->v[i].product, product) == 0)
							return refuse(j, "recipes.%s: given twice%s", product, "");
					if (fields(r, j, product) != 0)
						return -1;
				} while (eat(r, ','));
				if (!eat(r, '}'))
					return refuse(j, "recipes: malformed%s%s", "", "");
			}
		} else {
			return refuse(j, "config: unknown member %s%s", name, "");
		}
	} while (eat(r, ','));
	return eat(r, '}') ? 0 : refuse(j, "config: malformed%s%s", "", "");
}

/* ---- the envelope ---- */

struct envelope {
	int64_t version;
	const char *doc, *doc_end; /* the config member's bytes */
	int fetch;
	char serial[CC_SERIAL_MAX + 1];
};

/* {"version": N, "config": {...}} | {"version": N, "fetch": PATH} | the fetch's {"serial", "version", "config"}. */
static int envelope(const char *body, size_t len, struct envelope *e)
{
	struct rd r = { body, body + len };
	char name[NAME_MAX_ + 1], path[64];
	int has_version = 0;

	memset(e, 0, sizeof(*e));
	if (!eat(&r, '{'))
		return -1;
	do {
		if (string(&r, name, sizeof(name)) != 0 || !eat(&r, ':'))
			return -1;
		if ((strcmp(name, "version") == 0 && has_version) || (strcmp(name, "config") == 0 && e->doc != NULL) ||
		    (strcmp(name, "fetch") == 0 && e->fetch) || (strcmp(name, "serial") == 0 && e->serial[0] != '\0'))
			return -1; /* a member twice: which one counts is not for the reader to guess */
		if (strcmp(name, "version") == 0) {
			double v;
			int whole;

			if (number(&r, &v, &whole) != 0 || !whole || v < 1 || v > 9e15)
				return -1;
			e->version = (int64_t)v;
			has_version = 1;
		} else if (strcmp(name, "config") == 0) {
			ws(&r);
			e->doc = r.p;
			if (skip(&r, 1) != 0)
				return -1;
			e->doc_end = r.p;
		} else if (strcmp(name, "fetch") == 0) {
			if (string(&r, path, sizeof(path)) != 0 || strcmp(path, FETCH_PATH) != 0)
				return -1; /* only the machine route: never a path the message names */
			e->fetch = 1;
		} else if (strcmp(name, "serial") == 0) {
			if (string(&r, e->serial, sizeof(e->serial)) != 0)
				return -1;
		} else if (skip(&r, 1) != 0) {
			return -1;
		}
	} while (eat(&r, ','));
	if (!eat(&r, '}'))
		return -1;
	ws(&r);
	return has_version && r.p == r.end && (e->doc != NULL) != e->fetch ? 0 : -1;
}

/* ---- state and report ---- */

static int load(cc_agent *a)
{
	struct cc_ag_mconf *c = a->mconf;
	char buf[128], *end;
	int rc;

	if (c->loaded)
		return 0;
	memset(&c->last, 0, sizeof(c->last));
	rc = cc_ag_get(a, "mconf.last", buf, sizeof(buf));
	if (rc < 0)
		return rc;
	if (rc == 0) {
		c->last.version = (int64_t)strtoll(buf, &end, 10);
		if (strncmp(end, " applied", 8) == 0) {
			c->last.applied = 1;
		} else if (strncmp(end, " rejected ", 10) == 0) {
			snprintf(c->last.reason, sizeof(c->last.reason), "%s", end + 10);
		} else {
			return CC_AGENT_ESTORAGE;
		}
	}
	c->loaded = 1;
	return 0;
}

static int save(cc_agent *a, int64_t version, int applied, const char *reason)
{
	struct cc_ag_mconf *c = a->mconf;
	char buf[128];
	int rc;

	snprintf(buf, sizeof(buf), "%" PRId64 " %s%s%s", version, applied ? "applied" : "rejected",
	         applied ? "" : " ", applied ? "" : reason);
	if ((rc = cc_ag_put(a, "mconf.last", buf)) != 0)
		return rc;
	c->last.version = version;
	c->last.applied = applied;
	snprintf(c->last.reason, sizeof(c->last.reason), "%s", applied ? "" : reason);
	return 0;
}

static int append(char *out, size_t cap, size_t *used, const char *fmt, const char *s)
{
	int n = snprintf(out + *used, cap - *used, fmt, s);

	if (n < 0 || (size_t)n >= cap - *used)
		return -1;
	*used += (size_t)n;
	return 0;
}

/* s as a JSON string in q (cc_ag_json_quote appends). */
static int quote(const char *s, char *q, size_t cap)
{
	q[0] = '\0';
	return cc_ag_json_quote(s, q, cap);
}

/* A number as the server keeps it: a whole field as an integer, others with a fraction. */
static void number_text(double x, int integer, char out[40])
{
	if (integer) {
		snprintf(out, 40, "%.0f", x);
		return;
	}
	snprintf(out, 40, "%.10g", x);
	if (strpbrk(out, ".eE") == NULL)
		memcpy(out + strlen(out), ".0", 3); /* "%.10g" is at most 17 bytes of the 40 */
}

/* What the firmware runs, as a document; "" when it runs nothing it declares. */
static int running_doc(cc_agent *a, char *out, size_t cap)
{
	struct cc_ag_mconf *c = a->mconf;
	size_t n = 0, used = 0, nset = 0;
	char q[80], num[40];
	int parts = 0;

	out[0] = '\0';
	if (c->fw.running(c->fw.ud, c->vals, CC_AGENT_MACHINE_CONFIG_VALUES_MAX, &n) != 0 ||
	    n > CC_AGENT_MACHINE_CONFIG_VALUES_MAX)
		return CC_AGENT_EFIRMWARE;
	if (n == 0)
		return 0;
	if (append(out, cap, &used, "%s", "{") != 0)
		return CC_AGENT_EINVAL;
	/* Recipes in the firmware's product order, then the settings. */
	for (const char *const *p = c->fw.products; p != NULL && *p != NULL; p++) {
		int first = 1;

		for (size_t i = 0; i < n; i++) {
			const struct cc_machine_config_field *f = field_of(c->fw.recipe, c->fw.nrecipe, c->vals[i].field);

			if (strcmp(c->vals[i].product, *p) != 0 || f == NULL)
				continue;
			if (first && quote(*p, q, sizeof(q)) == 0 &&
			    append(out, cap, &used, parts++ == 0 ? "\"recipes\":{%s:{" : ",%s:{", q) != 0)
				return CC_AGENT_EINVAL;
			number_text(c->vals[i].number, f->integer, num);
			if (quote(f->name, q, sizeof(q)) != 0 ||
			    append(out, cap, &used, first ? "%s:" : ",%s:", q) != 0 ||
			    append(out, cap, &used, "%s", f->values != NULL && quote(c->vals[i].text, q, sizeof(q))
			                                  == 0 ? q : num) != 0)
				return CC_AGENT_EINVAL;
			first = 0;
		}
		if (!first && append(out, cap, &used, "%s", "}") != 0)
			return CC_AGENT_EINVAL;
	}
	if (parts > 0 && append(out, cap, &used, "%s", "}") != 0)
		return CC_AGENT_EINVAL;
	for (size_t i = 0; i < n; i++) {
		const struct cc_machine_config_field *f = field_of(c->fw.settings, c->fw.nsettings, c->vals[i].field);

		if (c->vals[i].product[0] != '\0' || f == NULL)
			continue;
		if (nset == 0 && append(out, cap, &used, "%s", parts > 0 ? ",\"settings\":{" : "\"settings\":{") != 0)
			return CC_AGENT_EINVAL;
		number_text(c->vals[i].number, f->integer, num);
		if (quote(f->name, q, sizeof(q)) != 0 || append(out, cap, &used, nset ? ",%s:" : "%s:", q) != 0 ||
		    append(out, cap, &used, "%s", f->values != NULL && quote(c->vals[i].text, q, sizeof(q)) == 0
		                                      ? q : num) != 0)
			return CC_AGENT_EINVAL;
		if (nset++ == 0)
			parts++;
	}
	if (nset > 0 && append(out, cap, &used, "%s", "}") != 0)
		return CC_AGENT_EINVAL;
	if (parts == 0) {
		out[0] = '\0';
		return 0;
	}
	return append(out, cap, &used, "%s", "}") != 0 ? CC_AGENT_EINVAL : 0;
}

/* {"version", "state", "reason"?, "config"?}, retained, QoS 1. */
static int report(cc_agent *a)
{
	struct cc_ag_mconf *c = a->mconf;
	char *body = cc_ag_malloc(a, REPORT_MAX), *doc = cc_ag_malloc(a, DOC_MAX + 1), why[2 * REASON_MAX + 8] = "";
	char topic[128];
	int rc;

	if (body == NULL || doc == NULL) {
		cc_ag_free(a, body);
		cc_ag_free(a, doc);
		return CC_AGENT_ENOMEM;
	}
	rc = running_doc(a, doc, DOC_MAX + 1);
	if (rc == 0 && !c->last.applied && quote(c->last.reason, why, sizeof(why)) != 0)
		rc = CC_AGENT_EINVAL;
	if (rc == 0 && doc[0] == '\0' && (c->last.applied || c->last.version == 0))
		rc = CC_AGENT_ESTATE; /* nothing to say: an applied report names what runs */
	if (rc == 0) {
		snprintf(body, REPORT_MAX, "{\"version\":%" PRId64 ",\"state\":\"%s\"%s%s%s%s%s}", c->last.version,
		         c->last.applied || c->last.version == 0 ? "applied" : "rejected",
		         c->last.applied || c->last.version == 0 ? "" : ",\"reason\":",
		         c->last.applied || c->last.version == 0 ? "" : why, doc[0] ? ",\"config\":" : "", doc, "");
		snprintf(topic, sizeof(topic), "cc/v1/%s/config/reported", a->serial);
		rc = a->connected && mosquitto_publish(a->mosq, NULL, topic, (int)strlen(body), body, 1, true) ==
		                         MOSQ_ERR_SUCCESS
		     ? 0 : CC_AGENT_ENET;
	}
	cc_ag_free(a, body);
	cc_ag_free(a, doc);
	return rc == CC_AGENT_ESTATE ? 0 : rc;
}

/* ---- the command ---- */

static int fetch(cc_agent *a, int64_t version, char **body, size_t *len, struct envelope *e)
{
	long status = 0;
	int rc = cc_ag_http_get(a, FETCH_PATH, body, len, FETCH_MAX, &status);

	if (rc != 0)
		return rc;
	if (status != 200 || envelope(*body, *len, e) != 0 || e->fetch || strcmp(e->serial, a->serial) != 0 ||
	    e->version != version) {
		cc_ag_free(a, *body);
		*body = NULL;
		return CC_AGENT_ENET;
	}
	return 0;
}

int cc_ag_mconf_command(cc_agent *a, uint64_t id, const char *body, size_t len)
{
	struct cc_ag_mconf *c = a->mconf;
	struct envelope e;
	struct judge j;
	char *fetched = NULL;
	size_t flen = 0;
	int rc;

	if (c == NULL)
		return 0;
	if (load(a) != 0 || envelope(body, len, &e) != 0) {
		cc_ag_log(a, "config command %" PRIu64 ": malformed", id);
		(void)cc_agent_command_result(a, id, "failed", "malformed");
		return 1;
	}
	if (e.version <= c->last.version) {
		/* Delivered again (or older): the outcome stands; the report is sent again. */
		(void)report(a);
		(void)cc_agent_command_result(a, id, e.version == c->last.version && c->last.applied ? "succeeded" : "failed",
		                              e.version == c->last.version ? (c->last.applied ? NULL : c->last.reason)
		                                                           : "older than the version handled");
		return 1;
	}
	if (e.fetch && (rc = fetch(a, e.version, &fetched, &flen, &e)) != 0) {
		/* Nothing stored: the same version sent again is tried again. */
		cc_ag_log(a, "config %" PRId64 ": the document could not be fetched (%s)", e.version, cc_agent_strerror(rc));
		(void)cc_agent_command_result(a, id, "failed", "the configuration could not be fetched");
		return 1;
	}
	memset(&j, 0, sizeof(j));
	j.fw = &c->fw;
	j.v = c->vals;
	{
		struct rd r = { e.doc, e.doc_end };

		rc = (size_t)(e.doc_end - e.doc) > DOC_MAX ? refuse(&j, "config: more than %s bytes%s", "8192", "")
		                                           : document(&r, &j);
	}
	if (rc == 0) {
		char why[REASON_MAX + 1] = "";

		if (c->fw.apply(c->fw.ud, j.v, j.n, why, sizeof(why)) != 0) {
			why[REASON_MAX] = '\0';
			/* One line of printable ASCII, as the server takes a reason. */
			for (char *w = why; *w != '\0'; w++)
				if ((unsigned char)*w < 0x20 || (unsigned char)*w > 0x7e)
					*w = ' ';
			snprintf(j.why, sizeof(j.why), "%s", why[0] ? why : "refused by the firmware");
			rc = -1;
		}
	}
	cc_ag_free(a, fetched);
	if (save(a, e.version, rc == 0, j.why) != 0)
		cc_ag_log(a, "config %" PRId64 ": the outcome could not be stored", e.version);
	cc_ag_log(a, "config %" PRId64 ": %s", e.version, rc == 0 ? "applied" : "refused");
	(void)report(a);
	(void)cc_agent_command_result(a, id, rc == 0 ? "succeeded" : "failed", rc == 0 ? NULL : j.why);
	return 1;
}

void cc_ag_mconf_connected(cc_agent *a)
{
	if (a->mconf != NULL && load(a) == 0)
		(void)report(a);
}

void cc_ag_mconf_free(cc_agent *a)
{
	if (a->mconf == NULL)
		return;
	cc_ag_free(a, a->mconf->vals);
	cc_ag_free(a, a->mconf);
	a->mconf = NULL;
}

/* ---- the firmware's side ---- */

int cc_agent_machine_config_setup(cc_agent *a, const struct cc_machine_config_fw *fw)
{
	struct cc_ag_mconf *c;

	if (a == NULL || fw == NULL || fw->apply == NULL || fw->running == NULL || fw->products == NULL ||
	    (fw->nrecipe > 0 && fw->recipe == NULL) || (fw->nsettings > 0 && fw->settings == NULL))
		return CC_AGENT_EINVAL;
	for (size_t i = 0; i < fw->nrecipe + fw->nsettings; i++) {
		const struct cc_machine_config_field *f = i < fw->nrecipe ? &fw->recipe[i] : &fw->settings[i - fw->nrecipe];

		if (f->name == NULL || strlen(f->name) > NAME_MAX_ || (f->values == NULL && !(f->min <= f->max)))
			return CC_AGENT_EINVAL;
	}
	cc_ag_mconf_free(a);
	if ((c = cc_ag_malloc(a, sizeof(*c))) == NULL)
		return CC_AGENT_ENOMEM;
	memset(c, 0, sizeof(*c));
	c->fw = *fw;
	if ((c->vals = cc_ag_malloc(a, CC_AGENT_MACHINE_CONFIG_VALUES_MAX * sizeof(*c->vals))) == NULL) {
		cc_ag_free(a, c);
		return CC_AGENT_ENOMEM;
	}
	a->mconf = c;
	return load(a);
}

int cc_agent_machine_config_changed(cc_agent *a)
{
	if (a == NULL || a->mconf == NULL)
		return CC_AGENT_ESTATE;
	return load(a) != 0 ? CC_AGENT_ESTORAGE : report(a);
}

int cc_agent_machine_config_state(cc_agent *a, struct cc_machine_config_state *out)
{
	int rc;

	if (a == NULL || a->mconf == NULL || out == NULL)
		return CC_AGENT_ESTATE;
	if ((rc = load(a)) != 0)
		return rc;
	*out = a->mconf->last;
	return 0;
}
