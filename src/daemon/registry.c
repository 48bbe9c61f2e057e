#include "daemon/registry.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "common/log.h"
#include "common/clock.h"
#include "fleet/inventory.h"
#include "fleet/provision.h"

#define MOD "registry"

struct registry {
	struct store *store;
	struct registry_entry *entries;
	size_t count, cap;
	char version[32];
};

static int add_entry(void *arg, const struct store_machine *m)
{
	struct registry *r = arg;
	struct registry_entry *e;

	if (m->moved)
		return 0; /* retired by a move: the machine goes on as its new row */

	if (r->count == r->cap) {
		size_t cap = r->cap ? r->cap * 2 : 256;
		struct registry_entry *grown = realloc(r->entries, cap * sizeof(*grown));

		if (grown == NULL)
			return CC_ERR_NOMEM;
		r->entries = grown;
		r->cap = cap;
	}
	e = &r->entries[r->count++];
	memset(e, 0, sizeof(*e));
	e->id = m->id;
	e->customer_id = m->customer_id;
	memcpy(e->serial, m->serial, sizeof(e->serial));
	memcpy(e->model, m->model, sizeof(e->model));
	memcpy(e->cert_fingerprint, m->cert_fingerprint, sizeof(e->cert_fingerprint));
	memcpy(e->prev_cert_fingerprint, m->prev_cert_fingerprint, sizeof(e->prev_cert_fingerprint));
	e->prev_cert_until_ms = m->prev_cert_until_ms;
	e->revoked = m->revoked_ms != 0;
	return 0;
}

static int by_serial(const void *a, const void *b)
{
	return strcmp(((const struct registry_entry *)a)->serial, ((const struct registry_entry *)b)->serial);
}

static int reload(struct registry *r)
{
	int rc;

	r->count = 0;
	rc = r->store->ops->machine_list(r->store, 0, add_entry, r);
	if (rc != CC_OK)
		return rc;
	/* The store lists by serial already; sort anyway so lookups never depend on it. */
	if (r->count > 1)
		qsort(r->entries, r->count, sizeof(*r->entries), by_serial);
	log_debug(MOD, "%zu machines loaded", r->count);
	return CC_OK;
}

int registry_new(struct store *s, struct registry **out)
{
	struct registry *r = calloc(1, sizeof(*r));
	int changed, rc;

	if (r == NULL)
		return CC_ERR_NOMEM;
	r->store = s;
	snprintf(r->version, sizeof(r->version), "unset");
	rc = registry_poll(r, &changed);
	if (rc != CC_OK) {
		registry_free(r);
		return rc;
	}
	*out = r;
	return CC_OK;
}

void registry_free(struct registry *r)
{
	if (r == NULL)
		return;
	free(r->entries);
	free(r);
}

int registry_poll(struct registry *r, int *changed)
{
	char version[32];
	int rc = r->store->ops->meta_get(r->store, INVENTORY_FLEET_VERSION, version, sizeof(version));

	*changed = 0;
	if (rc == CC_ERR_NOTFOUND) {
		snprintf(version, sizeof(version), "0");
		rc = CC_OK;
	}
	if (rc != CC_OK)
		return rc;
	if (strcmp(version, r->version) == 0)
		return CC_OK;
	rc = reload(r);
	if (rc != CC_OK)
		return rc;
	memcpy(r->version, version, sizeof(version));
	*changed = 1;
	return CC_OK;
}

const struct registry_entry *registry_find(const struct registry *r, const char *serial)
{
	struct registry_entry key;
	size_t n = strlen(serial);

	if (n > CC_SERIAL_MAX || r->count == 0)
		return NULL;
	memcpy(key.serial, serial, n + 1);
	return bsearch(&key, r->entries, r->count, sizeof(key), by_serial);
}

size_t registry_count(const struct registry *r) { return r->count; }

int registry_cert_ok(const struct registry_entry *e, const char *fingerprint)
{
	return provision_cert_accepted(e->cert_fingerprint, e->prev_cert_fingerprint, e->prev_cert_until_ms,
	                               fingerprint, clock_now_ms());
}
