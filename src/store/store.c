#include "store/store.h"

#include <string.h>

#include "common/err.h"

extern const struct store_ops store_sqlite_ops;
#ifdef CC_STORE_POSTGRESQL /* in progress, not in the default build (docs/STORE.md) */
extern const struct store_ops store_postgresql_ops;
#endif

static const struct store_ops *const backends[] = {
	&store_sqlite_ops,
#ifdef CC_STORE_POSTGRESQL
	&store_postgresql_ops,
#endif
};

const struct store_ops *store_backend_find(const char *name)
{
	size_t i;

	for (i = 0; i < sizeof(backends) / sizeof(backends[0]); i++)
		if (strcmp(backends[i]->name, name) == 0)
			return backends[i];
	return NULL;
}

static const char *const kind_names[] = { NULL, "manufacturer", "distributor", "customer" };

const char *org_kind_name(enum org_kind kind)
{
	if (kind < ORG_MANUFACTURER || kind > ORG_CUSTOMER)
		return "unknown";
	return kind_names[kind];
}

int org_kind_parse(const char *name, enum org_kind *out)
{
	int k;

	for (k = ORG_MANUFACTURER; k <= ORG_CUSTOMER; k++) {
		if (strcmp(name, kind_names[k]) == 0) {
			*out = (enum org_kind)k;
			return CC_OK;
		}
	}
	return CC_ERR_INVALID;
}
