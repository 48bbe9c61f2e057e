#include "access/roles.h"

#include <string.h>

static const struct role roles[] = {
	{ "admin", CLASS_STATUS | CLASS_TECHNICAL | CLASS_SERVICE | CLASS_USAGE | CLASS_AUDIT, 1, 1, 0 },
	{ "engineer", CLASS_STATUS | CLASS_TECHNICAL | CLASS_SERVICE | CLASS_USAGE, 0, 0, 0 },
	{ "technician", CLASS_STATUS | CLASS_TECHNICAL | CLASS_SERVICE, 0, 0, 0 },
	{ "service_manager", CLASS_STATUS | CLASS_TECHNICAL | CLASS_SERVICE, 0, 1, 0 },
	{ "sales", CLASS_STATUS | CLASS_USAGE, 0, 0, 0 },
	{ "customer_manager", CLASS_STATUS | CLASS_SERVICE | CLASS_USAGE, 0, 0, 0 },
	{ "subcontractor", CLASS_STATUS | CLASS_TECHNICAL | CLASS_SERVICE, 0, 0, 1 },
	/* The people at a customer's site: its machines' state and care, through
	 * grants of their own customer's site (access/grants.h). */
	{ "site_staff", CLASS_STATUS | CLASS_SERVICE, 0, 0, 1 },
	{ "auditor", CLASS_AUDIT, 0, 0, 0 },
	{ NULL, 0, 0, 0, 0 },
};

const struct role *role_find(const char *name)
{
	const struct role *r;

	for (r = roles; r->name != NULL; r++)
		if (strcmp(r->name, name) == 0)
			return r;
	return NULL;
}

const struct role *role_table(void) { return roles; }
