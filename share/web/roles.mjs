// What a role may do beyond reading its data classes, as the API's guards
// decide it (src/access/roles.c: manages_org, manages_grants; the access
// report's, export's and consent's own checks). GET /api/v1/me carries the
// classes, not these, so the dashboard mirrors them here to show a page or a
// button only to those the API lets through. It hides; it never grants: the
// API refuses the rest whatever the page shows.
const ADMINS = ['admin'];
const GRANT_MANAGERS = ['admin', 'service_manager'];
const ACCESS_REPORT_READERS = ['admin', 'auditor', 'customer_manager', 'service_manager'];
const EXPORTERS = ['admin', 'customer_manager'];
const CONSENTERS = ['admin', 'customer_manager']; // of their own customer only
// Artifacts and rollouts: the manufacturer's (the API also checks the organisation's kind, which /me does not say).
const RELEASERS = ['admin', 'engineer'];

const is = (list) => (me) => !!me && list.includes(me.role);
const reads = (cls) => (me) => !!me && (me.data_classes || []).includes(cls);
export const may = {
	manageOrg: is(ADMINS),
	manageGrants: is(GRANT_MANAGERS),
	readAccessReport: is(ACCESS_REPORT_READERS),
	exportCustomer: is(EXPORTERS),
	eraseCustomer: is(ADMINS),
	consent: is(CONSENTERS),
	release: is(RELEASERS),
	// A machine's remote configuration: set by whoever reads it, the technical class (src/api/api.c).
	configure: reads('technical'),
	administer: (me) => is(ADMINS)(me) || is(GRANT_MANAGERS)(me),
};
