#include "fleet/inventory.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "common/clock.h"
#include "common/err.h"
#include "common/file.h"
#include "common/limits.h"
#include "common/log.h"
#include "crypto/ca.h"
#include "fleet/provision.h"
#include "ingest/privacy.h"

#define MOD "inventory"
#define CRL_DAYS 30

static int charset_ok(const char *s, size_t max)
{
	size_t len = strlen(s), i;

	if (len == 0 || len > max)
		return 0;
	for (i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];
		if (!isalnum(c) && c != '.' && c != '_' && c != '-')
			return 0;
	}
	return 1;
}

/* Names and serials are stored, indexed, logged and audited in clear: none
 * may be a card number (plain, split or encoded) or a phone number. The
 * charset already keeps e-mail addresses out ('@' is not in it). */
static int shape_ok(const char *s)
{
	return privacy_scan_text(s, strlen(s)) == PRIVACY_NONE;
}

int inventory_name_valid(const char *name)
{
	return charset_ok(name, CC_NAME_MAX) && isalnum((unsigned char)name[0]) && shape_ok(name);
}

int inventory_serial_valid(const char *serial)
{
	return charset_ok(serial, CC_SERIAL_MAX) && shape_ok(serial);
}

static int check_name(const char *what, const char *name)
{
	if (inventory_name_valid(name))
		return CC_OK;
	log_error(MOD, "invalid %s name: use 1-%d letters, digits, '.', '_' or '-', "
	          "starting with a letter or digit, and nothing shaped like a card or phone number",
	          what, CC_NAME_MAX);
	return CC_ERR_INVALID;
}

int inventory_org_find(struct vault *v, const char *name, struct store_org *out)
{
	struct store *s = vault_store(v);
	int rc = s->ops->org_find(s, name, out);

	if (rc == CC_ERR_NOTFOUND)
		log_error(MOD, "no organisation named '%s'", name);
	return rc;
}

static int find_customer(struct vault *v, const char *name, struct store_org *out)
{
	int rc = inventory_org_find(v, name, out);

	if (rc == CC_OK && out->kind != ORG_CUSTOMER) {
		log_error(MOD, "'%s' is a %s, not a customer", name, org_kind_name(out->kind));
		rc = CC_ERR_INVALID;
	}
	return rc;
}

/* Which kinds may sit under which: the tree of docs/PRODUCT.md §1. */
static int parent_allowed(enum org_kind child, enum org_kind parent)
{
	if (child == ORG_MANUFACTURER)
		return 0;
	return parent == ORG_MANUFACTURER || parent == ORG_DISTRIBUTOR;
}

static int org_depth(struct store *s, int64_t id, int *depth)
{
	struct store_org o;
	int d = 0, rc;

	while (id != 0) {
		if (++d > CC_ORG_DEPTH_MAX)
			break;
		rc = s->ops->org_get(s, id, &o);
		if (rc != CC_OK)
			return rc;
		id = o.parent_id;
	}
	*depth = d;
	return CC_OK;
}

int inventory_org_add(struct vault *v, const char *name, enum org_kind kind, const char *parent,
                      struct store_org *out)
{
	struct store *s = vault_store(v);
	struct store_org org, up;
	int depth = 0, rc;

	rc = check_name("organisation", name);
	if (rc != CC_OK)
		return rc;
	memset(&org, 0, sizeof(org));
	memcpy(org.name, name, strlen(name) + 1);
	org.kind = kind;
	org.created_ms = clock_now_ms();

	rc = s->ops->begin(s);
	if (rc != CC_OK)
		return rc;
	if (parent == NULL) {
		if (kind != ORG_MANUFACTURER) {
			log_error(MOD, "a %s needs a parent organisation (--parent)", org_kind_name(kind));
			rc = CC_ERR_INVALID;
		}
	} else {
		rc = inventory_org_find(v, parent, &up);
		if (rc == CC_OK && !parent_allowed(kind, up.kind)) {
			log_error(MOD, "a %s cannot belong to a %s", org_kind_name(kind),
			          org_kind_name(up.kind));
			rc = CC_ERR_INVALID;
		}
		if (rc == CC_OK)
			rc = org_depth(s, up.id, &depth);
		if (rc == CC_OK && depth >= CC_ORG_DEPTH_MAX) {
			log_error(MOD, "the organisation tree may be at most %d levels deep", CC_ORG_DEPTH_MAX);
			rc = CC_ERR_LIMIT;
		}
		org.parent_id = up.id;
	}
	if (rc == CC_OK) {
		rc = s->ops->org_add(s, &org, &org.id);
		if (rc == CC_ERR_EXISTS)
			log_error(MOD, "an organisation named '%s' exists already", name);
	}
	/* The key is written before the row commits: a crash in between leaves an
	 * unused key, never an organisation without one. */
	if (rc == CC_OK)
		rc = vault_org_key_create(v, org.id);
	if (rc == CC_OK)
		rc = s->ops->commit(s);
	if (rc != CC_OK) {
		s->ops->rollback(s);
		return rc;
	}
	if (out != NULL)
		*out = org;
	return CC_OK;
}

int inventory_site_add(struct vault *v, const char *customer, const char *name, struct store_site *out)
{
	struct store *s = vault_store(v);
	struct store_org cust;
	struct store_site site;
	int rc = check_name("site", name);

	if (rc != CC_OK)
		return rc;
	rc = find_customer(v, customer, &cust);
	if (rc != CC_OK)
		return rc;
	memset(&site, 0, sizeof(site));
	site.customer_id = cust.id;
	memcpy(site.name, name, strlen(name) + 1);
	site.created_ms = clock_now_ms();
	rc = s->ops->site_add(s, &site, &site.id);
	if (rc == CC_ERR_EXISTS)
		log_error(MOD, "customer '%s' has a site named '%s' already", customer, name);
	if (rc == CC_OK && out != NULL)
		*out = site;
	return rc;
}

int inventory_group_add(struct vault *v, const char *customer, const char *name, const char *parent,
                        struct store_group *out)
{
	struct store *s = vault_store(v);
	struct store_org cust;
	struct store_group group, up;
	int rc = check_name("group", name);

	if (rc != CC_OK)
		return rc;
	rc = find_customer(v, customer, &cust);
	if (rc != CC_OK)
		return rc;
	memset(&group, 0, sizeof(group));
	group.customer_id = cust.id;
	memcpy(group.name, name, strlen(name) + 1);
	group.created_ms = clock_now_ms();
	if (parent != NULL) {
		rc = s->ops->group_find(s, cust.id, parent, &up);
		if (rc == CC_ERR_NOTFOUND)
			log_error(MOD, "customer '%s' has no group named '%s'", customer, parent);
		if (rc != CC_OK)
			return rc;
		group.parent_id = up.id;
	}
	rc = s->ops->group_add(s, &group, &group.id);
	if (rc == CC_ERR_EXISTS)
		log_error(MOD, "customer '%s' has a group named '%s' already", customer, name);
	if (rc == CC_OK && out != NULL)
		*out = group;
	return rc;
}

void inventory_bundle_free(struct machine_bundle *b)
{
	if (b == NULL)
		return;
	free(b->cert_pem);
	ca_free_secret(b->key_pem);
	free(b->ca_pem);
	memset(b, 0, sizeof(*b));
}

/* The CA certificate and its private key, for signing. */
static int load_ca(struct vault *v, char **ca_pem, char **ca_key, size_t *ca_key_len)
{
	size_t len;
	int rc = file_read_all(vault_path(v, VAULT_CA_CERT), CC_SMALL_FILE_MAX,
	                       (unsigned char **)ca_pem, &len);

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

int inventory_machine_add(struct vault *v, const char *serial, const char *model,
                          const char *customer, const char *site, const char *csr_pem,
                          int (*deliver)(void *ctx, const struct machine_bundle *b), void *ctx)
{
	return inventory_machine_add_days(v, serial, model, customer, site, csr_pem, 0, deliver, ctx);
}

int inventory_machine_add_days(struct vault *v, const char *serial, const char *model,
                               const char *customer, const char *site, const char *csr_pem, int days,
                               int (*deliver)(void *ctx, const struct machine_bundle *b), void *ctx)
{
	long long not_after = 0;
	struct store *s = vault_store(v);
	struct machine_bundle b;
	struct store_org cust;
	struct store_site st;
	struct store_machine *m = &b.machine;
	char *ca_key = NULL;
	size_t ca_key_len = 0;
	int rc;

	memset(&b, 0, sizeof(b));
	if (!inventory_serial_valid(serial)) {
		log_error(MOD, "invalid serial: use 1-%d letters, digits, '.', '_' or '-', and nothing shaped "
		          "like a card or phone number", CC_SERIAL_MAX);
		return CC_ERR_INVALID;
	}
	rc = check_name("model", model);
	if (rc == CC_OK && days == 0)
		rc = provision_days(v, &days);
	if (rc != CC_OK)
		return rc;
	rc = s->ops->begin(s);
	if (rc != CC_OK)
		return rc;
	rc = find_customer(v, customer, &cust);
	if (rc == CC_OK && site != NULL) {
		rc = s->ops->site_find(s, cust.id, site, &st);
		if (rc == CC_ERR_NOTFOUND)
			log_error(MOD, "customer '%s' has no site named '%s'", customer, site);
		if (rc == CC_OK)
			m->site_id = st.id;
	}
	if (rc == CC_OK && s->ops->machine_find(s, serial, m) == CC_OK) {
		log_error(MOD, "a machine with serial '%s' exists already", serial);
		rc = CC_ERR_EXISTS;
	}
	if (rc == CC_OK)
		rc = load_ca(v, &b.ca_pem, &ca_key, &ca_key_len);
	if (rc == CC_OK)
		rc = ca_issue_machine(b.ca_pem, ca_key, serial, days, csr_pem,
		                      &b.cert_pem, &b.key_pem, m->cert_fingerprint);
	if (rc == CC_OK && strlen(b.cert_pem) > CC_CERT_PEM_MAX)
		rc = CC_ERR_LIMIT;
	if (rc == CC_OK)
		rc = ca_cert_validity(b.cert_pem, &not_after, NULL);
	m->cert_not_after_ms = not_after;
	if (rc == CC_OK) {
		memcpy(m->serial, serial, strlen(serial) + 1);
		memcpy(m->model, model, strlen(model) + 1);
		memcpy(m->cert_pem, b.cert_pem, strlen(b.cert_pem) + 1);
		m->customer_id = cust.id;
		m->created_ms = clock_now_ms();
		rc = s->ops->machine_add(s, m, &m->id);
	}
	if (rc == CC_OK)
		rc = s->ops->meta_bump(s, INVENTORY_FLEET_VERSION);
	if (rc == CC_OK && deliver != NULL)
		rc = deliver(ctx, &b);
	if (rc == CC_OK)
		rc = s->ops->commit(s);
	if (rc != CC_OK)
		s->ops->rollback(s);
	vault_secret_free(ca_key, ca_key_len);
	inventory_bundle_free(&b);
	return rc;
}

int inventory_machine_find(struct vault *v, const char *serial, struct store_machine *out)
{
	struct store *s = vault_store(v);
	int rc = s->ops->machine_find(s, serial, out);

	if (rc == CC_ERR_NOTFOUND)
		log_error(MOD, "no machine with serial '%s'", serial);
	return rc;
}

struct crl_list {
	struct ca_revoked *items;
	char **pems;
	size_t n, cap;
};

static int collect_revoked(void *arg, const struct store_revoked_cert *c)
{
	struct crl_list *l = arg;

	if (l->n == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 64;
		struct ca_revoked *items = realloc(l->items, cap * sizeof(*items));
		char **pems;

		if (items == NULL)
			return CC_ERR_NOMEM;
		l->items = items;
		pems = realloc(l->pems, cap * sizeof(*pems));
		if (pems == NULL)
			return CC_ERR_NOMEM;
		l->pems = pems;
		l->cap = cap;
	}
	if (l->n >= CA_CRL_MAX)
		return CC_ERR_LIMIT;
	l->pems[l->n] = strdup(c->cert_pem);
	if (l->pems[l->n] == NULL)
		return CC_ERR_NOMEM;
	l->items[l->n].cert_pem = l->pems[l->n];
	l->items[l->n].revoked_at_s = c->revoked_ms / 1000;
	l->n++;
	return 0;
}

int inventory_write_crl(struct vault *v)
{
	struct store *s = vault_store(v);
	struct crl_list l = { 0 };
	char *ca_pem = NULL, *ca_key = NULL, *crl = NULL;
	size_t ca_key_len = 0, i;
	int rc;

	rc = s->ops->revoked_cert_list(s, collect_revoked, &l);
	if (rc == CC_OK)
		rc = load_ca(v, &ca_pem, &ca_key, &ca_key_len);
	if (rc == CC_OK)
		rc = ca_make_crl(ca_pem, ca_key, l.items, l.n, CRL_DAYS, &crl);
	if (rc == CC_OK)
		rc = file_write_atomic(vault_path(v, VAULT_CRL), crl, strlen(crl), 0644);
	for (i = 0; i < l.n; i++)
		free(l.pems[i]);
	free(l.pems);
	free(l.items);
	free(crl);
	free(ca_pem);
	vault_secret_free(ca_key, ca_key_len);
	return rc;
}

int inventory_machine_revoke(struct vault *v, const char *serial)
{
	struct store *s = vault_store(v);
	struct store_machine m;
	int rc = inventory_machine_find(v, serial, &m);

	if (rc != CC_OK)
		return rc;
	rc = s->ops->begin(s);
	if (rc != CC_OK)
		return rc;
	rc = s->ops->machine_revoke(s, m.id, clock_now_ms());
	if (rc == CC_OK)
		rc = s->ops->meta_bump(s, INVENTORY_FLEET_VERSION);
	if (rc == CC_OK)
		rc = s->ops->commit(s);
	else
		s->ops->rollback(s);
	if (rc == CC_ERR_STATE) {
		log_error(MOD, "machine '%s' is revoked already", serial);
		return rc;
	}
	if (rc != CC_OK)
		return rc;
	return inventory_write_crl(v);
}

static int revoke_cert_of(void *arg, const struct store_machine *m)
{
	struct store *s = arg;
	struct store_revoked_cert c;

	if (m->revoked_ms != 0 || m->moved)
		return 0; /* listed when it was revoked; a moved machine's certificate serves its new row */
	memset(&c, 0, sizeof(c));
	memcpy(c.fingerprint, m->cert_fingerprint, sizeof(c.fingerprint));
	memcpy(c.cert_pem, m->cert_pem, sizeof(c.cert_pem));
	c.revoked_ms = clock_now_ms();
	return s->ops->revoked_cert_add(s, &c);
}

int inventory_customer_delete(struct vault *v, const char *customer)
{
	struct store *s = vault_store(v);
	struct store_org cust;
	int rc;

	rc = s->ops->begin(s);
	if (rc != CC_OK)
		return rc;
	rc = find_customer(v, customer, &cust);
	if (rc == CC_OK)
		rc = s->ops->machine_list(s, cust.id, revoke_cert_of, s);
	if (rc == CC_OK)
		rc = s->ops->org_delete(s, cust.id);
	if (rc == CC_OK)
		rc = s->ops->meta_bump(s, INVENTORY_FLEET_VERSION);
	/* Shred before committing: if the commit then fails, the rows that remain
	 * are unreadable, and running the command again finishes the deletion. */
	if (rc == CC_OK) {
		rc = vault_org_key_destroy(v, cust.id);
		if (rc == CC_ERR_NOTFOUND)
			rc = CC_OK; /* shredded by an earlier, interrupted run */
	}
	if (rc == CC_OK)
		rc = s->ops->commit(s);
	if (rc != CC_OK) {
		s->ops->rollback(s);
		return rc;
	}
	return inventory_write_crl(v);
}

int inventory_org_contains(struct store *s, int64_t ancestor_id, int64_t org_id)
{
	struct store_org o;
	int64_t id = org_id;
	int depth;

	for (depth = 0; id != 0 && depth <= CC_ORG_DEPTH_MAX; depth++) {
		if (id == ancestor_id)
			return 1;
		if (s->ops->org_get(s, id, &o) != CC_OK)
			return 0;
		id = o.parent_id;
	}
	return 0;
}
