/*
 * roles.h - the roles of docs/ARCHITECTURE.md "Who may do what" and the data classes each one sees.
 *
 * This table is the single source of truth for who sees what; the API's
 * field filters and the authorization tests are generated from it.
 */
#ifndef CC_ACCESS_ROLES_H
#define CC_ACCESS_ROLES_H

enum data_class {
	CLASS_STATUS = 1 << 0,
	CLASS_TECHNICAL = 1 << 1,
	CLASS_SERVICE = 1 << 2,
	CLASS_USAGE = 1 << 3,
	CLASS_AUDIT = 1 << 4,
};

struct role {
	const char *name;
	unsigned classes;   /* bit set of enum data_class */
	int manages_org;    /* admin: organisations, users, keys */
	int manages_grants; /* may grant machines of its org to subcontractors */
	int granted_only;   /* sees granted machines only, never its org's subtree */
};

/* The role of that name, or NULL. */
const struct role *role_find(const char *name);

/* The roles in table order, NULL-terminated by name; for listings and tests. */
const struct role *role_table(void);

#endif
