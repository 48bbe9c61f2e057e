// The dashboard's pages: one row each. A later feature adds its module and a
// row here; the shell (app.mjs) builds the navigation and the routing from
// this table, showing a page only to the roles whose data classes it needs.
import { Fleet } from './fleet.mjs';
import { Machine } from './machine.mjs';
import { Account } from './account.mjs';
import { Alerts } from './alerts.mjs';
import { Availability } from './availability.mjs';
import { Admin } from './admin.mjs';
import { Privacy } from './privacy.mjs';
import { Quality } from './quality.mjs';
import { Usage } from './usage.mjs';
import { Updates } from './updates.mjs';
import { Tickets } from './tickets.mjs';
import { may } from './roles.mjs';

export const pages = [
	// route: the hash path's first segment; nav: its label key, or null when it
	// is reached from another page; needs: data classes, any of which suffices
	// (null: every signed-in person); may: a further test of the role (roles.mjs),
	// for pages of the API's access levels rather than data classes.
	// A component gets { args, signedOut(messageKey) }.
	{ route: 'fleet', nav: 'nav.fleet', needs: ['status'], component: Fleet },
	{ route: 'machine', nav: null, needs: ['status'], component: Machine },
	{ route: 'alerts', nav: 'nav.alerts', needs: ['status'], component: Alerts },
	{ route: 'availability', nav: 'nav.availability', needs: ['status'], component: Availability },
	{ route: 'quality', nav: 'nav.quality', needs: ['service'], component: Quality },
	{ route: 'usage', nav: 'nav.usage', needs: ['usage', 'service'], component: Usage },
	{ route: 'tickets', nav: 'nav.tickets', needs: ['service'], component: Tickets },
	{ route: 'updates', nav: 'nav.updates', needs: ['technical'], may: may.release, component: Updates },
	{ route: 'admin', nav: 'nav.admin', needs: null, may: may.administer, component: Admin },
	{ route: 'account', nav: 'nav.account', needs: null, component: Account },
	{ route: 'privacy', nav: 'nav.privacy', needs: null, component: Privacy },
];

export const visible = (page, me) =>
	(!page.needs || page.needs.some((c) => (me.data_classes || []).includes(c))) && (!page.may || page.may(me));
