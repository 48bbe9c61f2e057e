#include "fleet/provision.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "access/audit.h"
#include "common/clock.h"
#include "common/err.h"
#include "common/file.h"
#include "common/limits.h"
#include "common/log.h"
#include "common/strmap.h"
#include "crypto/ca.h"

#define MOD "provision"

static void issue(struct provision_report *rep, long line, const char *field, const char *fmt, ...)
{
	struct provision_issue *i;
	va_list ap;

	if (rep->n == PROVISION_ISSUES_MAX) {
		rep->more++;
		return;
	}
	i = &rep->issues[rep->n++];
	i->line = line;
	snprintf(i->field, sizeof(i->field), "%s", field);
	va_start(ap, fmt);
	vsnprintf(i->why, sizeof(i->why), fmt, ap);
	va_end(ap);
}

int provision_days(struct vault *v, int *days)
{
	struct store *s = vault_store(v);
	char text[16];
	long d;
	char *end;
	int rc = s->ops->meta_get(s, PROVISION_DAYS_META, text, sizeof(text));

	if (rc == CC_ERR_NOTFOUND) {
		*days = PROVISION_DEFAULT_DAYS;
		return CC_OK;
	}
	if (rc != CC_OK)
		return rc;
	d = strtol(text, &end, 10);
	if (*end != '\0' || d < 1 || d > CA_DAYS_MAX) {
		log_error(MOD, "the stored default validity of machine certificates is damaged");
		return CC_ERR_CORRUPT;
	}
	*days = (int)d;
	return CC_OK;
}

int provision_days_set(struct vault *v, int days)
{
	struct store *s = vault_store(v);
	char text[16];

	if (days < 1 || days > CA_DAYS_MAX) {
		log_error(MOD, "validity must be 1-%d days", CA_DAYS_MAX);
		return CC_ERR_INVALID;
	}
	snprintf(text, sizeof(text), "%d", days);
	return s->ops->meta_set(s, PROVISION_DAYS_META, text);
}

static int resolve_days(struct vault *v, int days, int *out)
{
	if (days == 0)
		return provision_days(v, out);
	if (days < 1 || days > CA_DAYS_MAX) {
		log_error(MOD, "validity must be 1-%d days", CA_DAYS_MAX);
		return CC_ERR_INVALID;
	}
	*out = days;
	return CC_OK;
}

/* The organisations a batch names, looked up once each. */
struct org_cache {
	struct strmap *by_name; /* name -> struct cached_org * */
};

struct cached_org {
	int rc; /* CC_OK, or why the row's customer is refused */
	struct store_org org;
};

static int free_cached(void *ctx, const char *key, void *value)
{
	(void)ctx;
	(void)key;
	free(value);
	return 0;
}

static const struct cached_org *customer_of(struct vault *v, struct org_cache *c, const char *name,
                                            int64_t scope)
{
	struct store *s = vault_store(v);
	struct cached_org *o = strmap_get(c->by_name, name);

	if (o != NULL)
		return o;
	o = calloc(1, sizeof(*o));
	if (o == NULL)
		return NULL;
	o->rc = inventory_name_valid(name) ? s->ops->org_find(s, name, &o->org) : CC_ERR_NOTFOUND;
	if (o->rc == CC_OK && scope != 0 && !inventory_org_contains(s, scope, o->org.id))
		o->rc = CC_ERR_NOTFOUND; /* outside the caller's subtree: as absent */
	if (o->rc == CC_OK && o->org.kind != ORG_CUSTOMER)
		o->rc = CC_ERR_INVALID;
	if (strmap_put(c->by_name, name, o) != CC_OK) {
		free(o);
		return NULL;
	}
	return o;
}

static int check_rows(struct vault *v, const struct provision_row *rows, size_t n,
                      const struct provision_opts *o, struct provision_report *rep, int64_t *site_ids)
{
	struct store *s = vault_store(v);
	struct org_cache orgs = { NULL };
	struct strmap *seen = NULL;
	struct store_machine *m = malloc(sizeof(*m));
	size_t i;
	int rc = CC_OK;

	if (m == NULL || strmap_new(&orgs.by_name) != CC_OK || strmap_new(&seen) != CC_OK) {
		rc = CC_ERR_NOMEM;
		goto out;
	}
	for (i = 0; i < n && rc == CC_OK; i++) {
		const struct provision_row *r = &rows[i];
		const struct cached_org *cust = NULL;
		const char *why = NULL;
		struct store_site site;

		site_ids[i] = 0;
		if (r->serial == NULL || !inventory_serial_valid(r->serial)) {
			issue(rep, r->line, "serial", "use 1-%d letters, digits, '.', '_' or '-', and nothing shaped "
			      "like a card or phone number", CC_SERIAL_MAX);
		} else if (strmap_get(seen, r->serial) != NULL) {
			issue(rep, r->line, "serial", "%s appears twice in the batch (first on line %ld)", r->serial,
			      ((const struct provision_row *)strmap_get(seen, r->serial))->line);
		} else {
			if (strmap_put(seen, r->serial, (void *)r) != CC_OK)
				rc = CC_ERR_NOMEM;
			else if (s->ops->machine_find(s, r->serial, m) == CC_OK)
				issue(rep, r->line, "serial", "a machine with serial %s exists already", r->serial);
		}
		if (r->model == NULL || !inventory_name_valid(r->model))
			issue(rep, r->line, "model", "use 1-%d letters, digits, '.', '_' or '-', starting with a "
			      "letter or digit, and nothing shaped like a card or phone number", CC_NAME_MAX);
		if (r->customer == NULL || (cust = customer_of(v, &orgs, r->customer, o->scope_org_id)) == NULL) {
			if (r->customer != NULL)
				rc = CC_ERR_NOMEM;
			else
				issue(rep, r->line, "customer", "missing");
		} else if (cust->rc == CC_ERR_NOTFOUND) {
			issue(rep, r->line, "customer", "no such customer");
		} else if (cust->rc == CC_ERR_INVALID) {
			issue(rep, r->line, "customer", "%s is a %s, not a customer", r->customer,
			      org_kind_name(cust->org.kind));
		} else if (cust->rc != CC_OK) {
			rc = cust->rc;
		} else if (r->site != NULL) {
			if (!inventory_name_valid(r->site) || s->ops->site_find(s, cust->org.id, r->site, &site) != CC_OK)
				issue(rep, r->line, "site", "customer %s has no such site", r->customer);
			else
				site_ids[i] = site.id;
		}
		if (r->csr_pem == NULL) {
			if (o->csr_required)
				issue(rep, r->line, "csr", "a CSR is required: the server never hands out private keys");
		} else if (!o->csrs_checked && r->serial != NULL && inventory_serial_valid(r->serial) &&
		           ca_csr_check(r->csr_pem, r->serial, NULL, &why) != CC_OK) {
			issue(rep, r->line, "csr", "refused: %s", why != NULL ? why : "unreadable");
		}
	}
out:
	if (orgs.by_name != NULL)
		strmap_foreach(orgs.by_name, free_cached, NULL);
	strmap_free(orgs.by_name);
	strmap_free(seen);
	free(m);
	if (rc == CC_OK && (rep->n > 0 || rep->more > 0))
		rc = CC_ERR_INVALID;
	return rc;
}

int provision_check(struct vault *v, const struct provision_row *rows, size_t n,
                    const struct provision_opts *o, struct provision_report *rep)
{
	int64_t *site_ids = calloc(n ? n : 1, sizeof(*site_ids));
	int rc;

	if (site_ids == NULL)
		return CC_ERR_NOMEM;
	rc = check_rows(v, rows, n, o, rep, site_ids);
	free(site_ids);
	return rc;
}

static int load_ca(struct vault *v, char **ca_pem, char **ca_key, size_t *ca_key_len)
{
	size_t len;
	int rc = file_read_all(vault_path(v, VAULT_CA_CERT), CC_SMALL_FILE_MAX, (unsigned char **)ca_pem, &len);

	if (rc != CC_OK)
		return rc;
	rc = vault_secret_get(v, "ca-key", ca_key, ca_key_len);
	if (rc != CC_OK) {
		log_error(MOD, "the fleet CA key is missing from the keyring");
		free(*ca_pem);
		*ca_pem = NULL;
	}
	return rc;
}

/* Certificates are made before the transaction opens, so the store's
 * write lock is held for the inserts only, not for the signing. */
static int issue_all(const struct provision_row *rows, size_t n, int days, struct machine_bundle *b,
                     const char *ca_pem, const char *ca_key)
{
	struct ca_signer *sg = NULL;
	size_t i;
	int rc = ca_signer_open(ca_pem, ca_key, &sg);

	for (i = 0; i < n && rc == CC_OK; i++) {
		struct store_machine *m = &b[i].machine;
		long long not_after = 0;

		rc = ca_signer_issue_machine(sg, rows[i].serial, days, rows[i].csr_pem, &b[i].cert_pem, &b[i].key_pem,
		                             m->cert_fingerprint, &not_after);
		if (rc == CC_OK && strlen(b[i].cert_pem) > CC_CERT_PEM_MAX)
			rc = CC_ERR_LIMIT;
		m->cert_not_after_ms = not_after;
		b[i].ca_pem = (char *)ca_pem; /* shared; detached before the bundles are freed */
	}
	ca_signer_free(sg);
	return rc;
}

int provision_batch(struct vault *v, const struct provision_row *rows, size_t n,
                    const struct provision_opts *o, struct provision_report *rep)
{
	struct store *s = vault_store(v);
	struct machine_bundle *b = NULL;
	int64_t *site_ids = NULL;
	struct org_cache orgs = { NULL };
	char *ca_pem = NULL, *ca_key = NULL;
	size_t ca_key_len = 0, i;
	int days = 0, rc;

	if (n == 0 || n > PROVISION_BATCH_MAX) {
		log_error(MOD, "a batch holds 1-%d machines", PROVISION_BATCH_MAX);
		return CC_ERR_LIMIT;
	}
	rc = resolve_days(v, o->days, &days);
	if (rc != CC_OK)
		return rc;
	b = calloc(n, sizeof(*b));
	site_ids = calloc(n, sizeof(*site_ids));
	if (b == NULL || site_ids == NULL || strmap_new(&orgs.by_name) != CC_OK) {
		rc = CC_ERR_NOMEM;
		goto out;
	}
	rc = check_rows(v, rows, n, o, rep, site_ids);
	if (rc == CC_OK)
		rc = load_ca(v, &ca_pem, &ca_key, &ca_key_len);
	if (rc == CC_OK)
		rc = issue_all(rows, n, days, b, ca_pem, ca_key);
	if (rc != CC_OK)
		goto out;
	rc = s->ops->begin(s);
	if (rc != CC_OK)
		goto out;
	for (i = 0; i < n && rc == CC_OK; i++) {
		struct store_machine *m = &b[i].machine;
		const struct cached_org *cust = customer_of(v, &orgs, rows[i].customer, o->scope_org_id);

		if (cust == NULL || cust->rc != CC_OK) {
			rc = cust == NULL ? CC_ERR_NOMEM : cust->rc;
			break;
		}
		memcpy(m->serial, rows[i].serial, strlen(rows[i].serial) + 1);
		memcpy(m->model, rows[i].model, strlen(rows[i].model) + 1);
		memcpy(m->cert_pem, b[i].cert_pem, strlen(b[i].cert_pem) + 1);
		m->customer_id = cust->org.id;
		m->site_id = site_ids[i];
		m->created_ms = clock_now_ms();
		rc = s->ops->machine_add(s, m, &m->id);
		if (rc == CC_ERR_EXISTS)
			issue(rep, rows[i].line, "serial", "a machine with serial %s exists already", rows[i].serial);
		if (rc == CC_OK && o->deliver != NULL)
			rc = o->deliver(o->ctx, i, &b[i]);
	}
	if (rc == CC_OK && o->delivered != NULL)
		rc = o->delivered(o->ctx);
	if (rc == CC_OK)
		rc = s->ops->meta_bump(s, INVENTORY_FLEET_VERSION);
	if (rc == CC_OK)
		rc = s->ops->commit(s);
	if (rc != CC_OK)
		s->ops->rollback(s);
out:
	if (b != NULL)
		for (i = 0; i < n; i++) {
			b[i].ca_pem = NULL;
			inventory_bundle_free(&b[i]);
		}
	if (orgs.by_name != NULL)
		strmap_foreach(orgs.by_name, free_cached, NULL);
	strmap_free(orgs.by_name);
	free(b);
	free(site_ids);
	free(ca_pem);
	vault_secret_free(ca_key, ca_key_len);
	return rc;
}

int provision_renew(struct vault *v, const char *serial, const char *csr_pem, int days,
                    char **cert_pem, struct store_machine *out, const char **why)
{
	struct store *s = vault_store(v);
	struct store_machine *m = calloc(1, sizeof(*m));
	char *ca_pem = NULL, *ca_key = NULL, *cert = NULL, *key = NULL;
	char new_spki[65], old_spki[65];
	long long not_after = 0, old_not_after = 0;
	size_t ca_key_len = 0;
	int64_t now = clock_now_ms(), until;
	int rc;

	*why = NULL;
	if (m == NULL)
		return CC_ERR_NOMEM;
	rc = resolve_days(v, days, &days);
	if (rc == CC_OK)
		rc = inventory_machine_find(v, serial, m);
	if (rc == CC_OK && m->revoked_ms != 0) {
		*why = "the machine is revoked";
		rc = CC_ERR_STATE;
	}
	if (rc == CC_OK && (rc = ca_csr_check(csr_pem, serial, new_spki, why)) == CC_OK &&
	    (rc = ca_cert_validity(m->cert_pem, &old_not_after, old_spki)) == CC_OK &&
	    CRYPTO_memcmp(new_spki, old_spki, 64) == 0) {
		*why = "the CSR's key is the current certificate's: make a new key";
		rc = CC_ERR_INVALID;
	}
	if (rc == CC_OK)
		rc = load_ca(v, &ca_pem, &ca_key, &ca_key_len);
	if (rc == CC_OK)
		rc = ca_issue_machine(ca_pem, ca_key, serial, days, csr_pem, &cert, &key, m->cert_fingerprint);
	if (rc == CC_OK && strlen(cert) > CC_CERT_PEM_MAX)
		rc = CC_ERR_LIMIT;
	if (rc == CC_OK)
		rc = ca_cert_validity(cert, &not_after, NULL);
	if (rc == CC_OK) {
		memcpy(m->cert_pem, cert, strlen(cert) + 1);
		m->cert_not_after_ms = not_after;
		until = now + PROVISION_OVERLAP_MS;
		if (old_not_after < until)
			until = old_not_after;
		rc = s->ops->begin(s);
		if (rc == CC_OK)
			rc = s->ops->machine_cert_set(s, m->id, m, until);
		if (rc == CC_OK)
			rc = s->ops->meta_bump(s, INVENTORY_FLEET_VERSION);
		if (rc == CC_OK)
			rc = s->ops->commit(s);
		else
			s->ops->rollback(s);
		if (rc == CC_ERR_STATE)
			*why = "the machine is revoked";
	}
	if (rc == CC_OK)
		rc = s->ops->machine_get(s, m->id, m);
	if (rc == CC_OK) {
		*cert_pem = cert;
		cert = NULL;
		if (out != NULL)
			*out = *m;
	}
	free(cert);
	ca_free_secret(key);
	free(ca_pem);
	vault_secret_free(ca_key, ca_key_len);
	free(m);
	return rc;
}

int provision_renew_by_machine(struct vault *v, const char *serial, const uint8_t *csr, size_t len,
                               char **cert_pem, const char **why)
{
	struct store_machine *m = calloc(1, sizeof(*m));
	struct audit_event e;
	char *text = NULL, actor[CC_AUDIT_ACTOR_MAX + 1];
	long long issued = 0;
	int rc = CC_OK;

	*why = NULL;
	if (m == NULL)
		return CC_ERR_NOMEM;
	if (len == 0 || len > CA_CSR_MAX || memchr(csr, '\0', len) != NULL) {
		*why = "the payload is not a PEM CSR";
		rc = CC_ERR_INVALID;
	}
	if (rc == CC_OK && (text = malloc(len + 1)) == NULL)
		rc = CC_ERR_NOMEM;
	if (rc == CC_OK) {
		memcpy(text, csr, len);
		text[len] = '\0';
		rc = inventory_machine_find(v, serial, m);
	}
	/* Only a renewal counts: the certificate it was registered with may be renewed at once. */
	if (rc == CC_OK && m->prev_cert_fingerprint[0] != '\0' && ca_cert_issued(m->cert_pem, &issued) == CC_OK &&
	    issued + CA_BACKDATE_S * 1000LL + PROVISION_MACHINE_RENEW_MS > clock_now_ms()) {
		*why = "renewed less than an hour ago";
		rc = CC_ERR_LIMIT;
	}
	if (rc == CC_OK)
		rc = provision_renew(v, serial, text, 0, cert_pem, m, why);
	if (rc == CC_OK) {
		memset(&e, 0, sizeof(e));
		snprintf(actor, sizeof(actor), "machine:%s", serial);
		e.actor = actor;
		e.source = "";
		e.action = "machine.renew";
		e.machines = serial;
		e.data_class = "admin";
		e.purpose = "administration";
		e.outcome = "ok";
		e.customer_id = m->customer_id;
		if (audit_append(v, &e) != CC_OK)
			log_error(MOD, "%s: the renewal could not be recorded in the audit log", serial);
	}
	free(text);
	free(m);
	return rc;
}

int provision_cert_accepted(const char *current, const char *previous, int64_t previous_until_ms,
                            const char *fingerprint, int64_t now_ms)
{
	size_t n = strlen(fingerprint);

	if (n != 64)
		return 0;
	if (strlen(current) == 64 && CRYPTO_memcmp(current, fingerprint, 64) == 0)
		return 1;
	return previous[0] != '\0' && now_ms < previous_until_ms && strlen(previous) == 64 &&
	       CRYPTO_memcmp(previous, fingerprint, 64) == 0;
}

struct audit_walk {
	struct vault *v;
	struct store *s;
	int64_t scope, now_ms, expiring_ms;
	int64_t cust_id;
	struct store_org cust;
	int cust_in;
	int (*each)(void *, const struct provision_cert_row *);
	void *ctx;
};

static int audit_one(void *arg, const struct store_machine_status *x)
{
	struct audit_walk *w = arg;
	struct provision_cert_row row;
	int findings = 0;

	if (x->m.customer_id != w->cust_id) {
		w->cust_id = x->m.customer_id;
		w->cust_in = w->s->ops->org_get(w->s, w->cust_id, &w->cust) == CC_OK &&
		             (w->scope == 0 || inventory_org_contains(w->s, w->scope, w->cust_id));
	}
	if (!w->cust_in)
		return 0;
	if (x->m.revoked_ms == 0 && x->m.cert_not_after_ms != 0 &&
	    x->m.cert_not_after_ms <= w->now_ms + w->expiring_ms)
		findings |= PROVISION_EXPIRING;
	if (x->m.revoked_ms != 0 && x->has_state && x->st.online)
		findings |= PROVISION_REVOKED_ONLINE;
	if (!x->has_state && x->m.revoked_ms == 0)
		findings |= PROVISION_NEVER_SEEN;
	if (findings == 0)
		return 0;
	row.m = &x->m;
	row.customer = w->cust.name;
	row.findings = findings;
	return w->each(w->ctx, &row);
}

int provision_cert_audit(struct vault *v, int64_t scope_org_id, int64_t now_ms, int64_t expiring_ms,
                         int (*each)(void *ctx, const struct provision_cert_row *row), void *ctx)
{
	struct audit_walk w;
	struct store_machine_filter f;

	memset(&w, 0, sizeof(w));
	memset(&f, 0, sizeof(f));
	w.v = v;
	w.s = vault_store(v);
	w.scope = scope_org_id;
	w.now_ms = now_ms;
	w.expiring_ms = expiring_ms;
	w.cust_id = -1;
	w.each = each;
	w.ctx = ctx;
	return w.s->ops->machine_status_list(w.s, &f, audit_one, &w);
}
