// Administration: grants to subcontractors (admins and service managers);
// organisations, sites, groups, users, API tokens and webhooks (admins).
// Each section is a list and the create/revoke actions the API offers; what
// the API refuses is explained where it happened.
import { html, useState, useEffect, useApp, Notice } from './ui.mjs';
import { api } from './api.mjs';
import { may } from './roles.mjs';

const ROLES = ['admin', 'engineer', 'technician', 'service_manager', 'sales', 'customer_manager', 'subcontractor',
	'site_staff', 'auditor'];
const PURPOSES = ['support', 'downtime', 'quality', 'updates'];
const DAY = 86400e3;

// The end of a chosen day (input type=date, the browser's time zone) as epoch ms.
const endOfDay = (value) => new Date(value + 'T23:59:59').getTime();
const inDays = (n) => new Date(Date.now() + n * DAY).toISOString().slice(0, 10);

function useList(path, key) {
	const [items, setItems] = useState(null);
	const [error, setError] = useState(null);
	const load = () => (path === null ? Promise.resolve() : api('GET', path).then((d) => { setItems(d[key] || []); setError(null); },
		(e) => { setItems([]); setError(e.message); }));
	useEffect(() => { load(); }, [path]);
	return [items, load, error];
}

// A section: heading, its list (or why it is empty), then its form; msg is
// the outcome of the last action.
function Section({ id, title, items, error, empty, head, row, children, msg }) {
	const { t } = useApp();
	return html`<section aria-labelledby=${id} class="card" data-section=${id}>
		<h2 id=${id}>${title}</h2>
		${error ? html`<${Notice} kind="error">${t('error.generic', { msg: error })}<//>`
		: !items ? html`<p class="loading" role="status">${t('loading')}</p>`
		: items.length === 0 ? html`<${Notice}>${empty}<//>`
		: html`<div class="table-wrap"><table class="admin"><thead><tr>${head.map((h) => html`<th scope="col">${h}</th>`)}</tr></thead>
			<tbody>${items.map(row)}</tbody></table></div>`}
		${children}
		${msg && html`<${Notice} kind=${msg[0]}>${t(msg[1], msg[2])}<//>`}
	</section>`;
}

// Submits the form's named fields through make(fields) and reports the outcome
// (as a string key, so a language switch translates it too).
function useAction(done) {
	const [msg, setMsg] = useState(null);
	const run = (make, okKey) => async (e) => {
		if (e && e.preventDefault) e.preventDefault();
		const form = e && e.target && e.target.tagName === 'FORM' ? e.target : null;
		const f = form ? Object.fromEntries(new FormData(form)) : {};
		setMsg(null);
		try {
			const doc = await make(f);
			setMsg(['info', okKey, doc || {}]);
			if (form) form.reset();
			done();
		} catch (err) {
			setMsg(['error', 'admin.refused', { msg: err.message }]);
		}
	};
	return [msg, run, setMsg];
}

const bool = (t, x) => (x ? t('admin.yes') : t('admin.no'));

function Grants() {
	const { t } = useApp();
	const [items, load, error] = useList('/api/v1/grants', 'grants');
	const [msg, run] = useAction(load);
	const add = run((f) => api('POST', '/api/v1/grants', {
		login: f.login, [f.scope]: f.target, purpose: f.purpose, expires: endOfDay(f.expires),
	}), 'grants.added');
	return html`<${Section} id="grants-h" title=${t('grants.title')} items=${items} error=${error} msg=${msg}
		empty=${t('grants.none')}
		head=${[t('admin.id'), t('grants.who'), t('grants.what'), t('grants.purpose'), t('grants.by'), t('grants.expires'),
			t('grants.inforce'), t('alerts.actions')]}
		row=${(g) => html`<tr data-grant=${g.id}><td>${g.id}</td><td>${t('grants.user', { id: g.user_id })}</td>
			<td>${g.machine_id ? t('grants.machine', { id: g.machine_id }) : t('grants.site', { id: g.site_id })}</td>
			<td>${t('purpose.' + g.purpose)}</td><td>${g.created_by}</td><td>${t.time(g.expires)}</td>
			<td>${bool(t, g.in_force)}</td>
			<td>${g.in_force && html`<button type="button" onClick=${run(() => api('DELETE', '/api/v1/grants/' + g.id),
				'grants.revoked')}>${t('admin.revoke')}<span class="vh"> ${t('admin.id')} ${g.id}</span></button>`}</td></tr>`}>
		<h3>${t('grants.new')}</h3>
		<p class="meta">${t('grants.explain')}</p>
		<form class="stack" onSubmit=${add}>
			<label for="grant-login">${t('grants.login')}</label><input id="grant-login" name="login" required />
			<label for="grant-scope">${t('grants.scope')}</label>
			<select id="grant-scope" name="scope">${['serial', 'site', 'customer'].map((s) => html`
				<option value=${s}>${t('grants.scope.' + s)}</option>`)}</select>
			<label for="grant-target">${t('grants.target')}</label><input id="grant-target" name="target" required />
			<label for="grant-purpose">${t('grants.purpose')}</label>
			<select id="grant-purpose" name="purpose">${PURPOSES.map((p) => html`<option value=${p}>${t('purpose.' + p)}</option>`)}</select>
			<label for="grant-expires">${t('grants.expires')}</label>
			<input id="grant-expires" name="expires" type="date" required value=${inDays(7)} min=${inDays(0)} max=${inDays(365)} />
			<div><button type="submit">${t('grants.add')}</button></div>
		</form>
	<//>`;
}

function Orgs({ orgs, load, error }) {
	const { t } = useApp();
	const [msg, run] = useAction(load);
	const add = run((f) => api('POST', '/api/v1/orgs', { name: f.name, kind: f.kind, parent: f.parent }), 'orgs.added');
	return html`<${Section} id="orgs-h" title=${t('orgs.title')} items=${orgs} error=${error} msg=${msg} empty=${t('orgs.none')}
		head=${[t('admin.name'), t('orgs.kind'), t('orgs.parent')]}
		row=${(o) => html`<tr data-org=${o.name}><th scope="row">${o.name}</th><td>${t('orgkind.' + o.kind)}</td>
			<td>${o.parent || '—'}</td></tr>`}>
		<h3>${t('orgs.new')}</h3>
		<form class="stack" onSubmit=${add}>
			<label for="org-name">${t('admin.name')}</label><input id="org-name" name="name" required />
			<label for="org-kind">${t('orgs.kind')}</label>
			<select id="org-kind" name="kind"><option value="customer">${t('orgkind.customer')}</option>
				<option value="distributor">${t('orgkind.distributor')}</option></select>
			<label for="org-parent">${t('orgs.parent')}</label>
			<select id="org-parent" name="parent">${(orgs || []).filter((o) => o.kind !== 'customer')
				.map((o) => html`<option value=${o.name}>${o.name}</option>`)}</select>
			<div><button type="submit">${t('orgs.add')}</button></div>
		</form>
	<//>`;
}

const CustomerPicker = ({ id, orgs, t }) => html`<label for=${id}>${t('fleet.customer')}</label>
	<select id=${id} name="customer" required>${(orgs || []).filter((o) => o.kind === 'customer')
		.map((o) => html`<option value=${o.name}>${o.name}</option>`)}</select>`;

function Sites({ orgs }) {
	const { t } = useApp();
	const [items, load, error] = useList('/api/v1/sites', 'sites');
	const [msg, run] = useAction(load);
	const add = run((f) => api('POST', '/api/v1/sites', { customer: f.customer, name: f.name,
		...(f.timezone ? { timezone: f.timezone } : {}), ...(f.address ? { address: f.address } : {}) }), 'sites.added');
	return html`<${Section} id="sites-h" title=${t('sites.title')} items=${items} error=${error} msg=${msg}
		empty=${t('sites.none')} head=${[t('admin.name'), t('fleet.customer'), t('sites.address'), t('sites.tz')]}
		row=${(s) => html`<tr data-site=${s.name}><th scope="row">${s.name}</th><td>${s.customer}</td>
			<td>${s.address || '—'}</td><td>${s.timezone || '—'}</td></tr>`}>
		<h3>${t('sites.new')}</h3>
		<form class="stack" onSubmit=${add}>
			<${CustomerPicker} id="site-customer" orgs=${orgs} t=${t} />
			<label for="site-name">${t('admin.name')}</label><input id="site-name" name="name" required />
			<label for="site-address">${t('sites.address')}</label><input id="site-address" name="address" maxlength="200" />
			<label for="site-tz">${t('sites.tz')}</label><input id="site-tz" name="timezone" placeholder="Europe/Budapest" />
			<div><button type="submit">${t('sites.add')}</button></div>
		</form>
	<//>`;
}

function Groups({ orgs }) {
	const { t } = useApp();
	const [items, load, error] = useList('/api/v1/groups', 'groups');
	const [msg, run] = useAction(load);
	const add = run((f) => api('POST', '/api/v1/groups', { customer: f.customer, name: f.name }), 'groups.added');
	return html`<${Section} id="groups-h" title=${t('groups.title')} items=${items} error=${error} msg=${msg}
		empty=${t('groups.none')} head=${[t('admin.id'), t('admin.name'), t('fleet.customer'), t('groups.dynamic')]}
		row=${(g) => html`<tr><td>${g.id}</td><th scope="row">${g.name}</th><td>${g.customer}</td>
			<td>${bool(t, g.dynamic)}</td></tr>`}>
		<h3>${t('groups.new')}</h3>
		<form class="stack" onSubmit=${add}>
			<${CustomerPicker} id="group-customer" orgs=${orgs} t=${t} />
			<label for="group-name">${t('admin.name')}</label><input id="group-name" name="name" required />
			<div><button type="submit">${t('groups.add')}</button></div>
		</form>
	<//>`;
}

const OrgPicker = ({ id, orgs, t }) => html`<label for=${id}>${t('account.org')}</label>
	<select id=${id} name="org" required>${(orgs || []).map((o) => html`<option value=${o.name}>${o.name}</option>`)}</select>`;
const RolePicker = ({ id, t }) => html`<label for=${id}>${t('account.role')}</label>
	<select id=${id} name="role" required>${ROLES.map((r) => html`<option value=${r}>${t('role.' + r)}</option>`)}</select>`;

function Users({ orgs }) {
	const { t } = useApp();
	const [items, load, error] = useList('/api/v1/users', 'users');
	const [msg, run] = useAction(load);
	const add = run((f) => api('POST', '/api/v1/users', { login: f.login, role: f.role, org: f.org,
		...(f.email ? { email: f.email } : {}), password: f.password }), 'users.added');
	return html`<${Section} id="users-h" title=${t('users.title')} items=${items} error=${error} msg=${msg}
		empty=${t('users.none')} head=${[t('signin.login'), t('account.role'), t('account.org'), t('users.email')]}
		row=${(u) => html`<tr data-user=${u.login}><th scope="row">${u.login}</th><td>${t('role.' + u.role)}</td>
			<td>${u.org}</td><td>${u.email || '—'}${u.deletion_requested ? ' · ' + t('users.deletion') : ''}</td></tr>`}>
		<h3>${t('users.new')}</h3>
		<form class="stack" onSubmit=${add}>
			<label for="user-login">${t('users.login')}</label><input id="user-login" name="login" required />
			<${RolePicker} id="user-role" t=${t} />
			<${OrgPicker} id="user-org" orgs=${orgs} t=${t} />
			<label for="user-email">${t('users.email')}</label><input id="user-email" name="email" type="email" />
			<label for="user-password">${t('users.password')}</label>
			<input id="user-password" name="password" type="password" autocomplete="new-password" minlength="12" required />
			<div><button type="submit">${t('users.add')}</button></div>
		</form>
	<//>`;
}

function Tokens({ orgs }) {
	const { t } = useApp();
	const [items, load, error] = useList('/api/v1/tokens', 'tokens');
	const [secret, setSecret] = useState(null);
	const [msg, run] = useAction(load);
	const add = run(async (f) => {
		const doc = await api('POST', '/api/v1/tokens', { name: f.name, org: f.org, role: f.role,
			expires: endOfDay(f.expires) });
		setSecret(doc.token);
		return doc;
	}, 'tokens.added');
	return html`<${Section} id="tokens-h" title=${t('tokens.title')} items=${items} error=${error} msg=${msg}
		empty=${t('tokens.none')} head=${[t('admin.id'), t('admin.name'), t('account.org'), t('account.role'),
			t('grants.expires'), t('grants.inforce'), t('alerts.actions')]}
		row=${(k) => html`<tr data-token=${k.id}><td>${k.id}</td><th scope="row">${k.name}</th><td>${k.org}</td>
			<td>${t('role.' + k.role)}</td><td>${t.time(k.expires)}</td><td>${bool(t, k.in_force)}</td>
			<td>${k.in_force && html`<button type="button" onClick=${run(() => api('DELETE', '/api/v1/tokens/' + k.id),
				'tokens.revoked')}>${t('admin.revoke')}<span class="vh"> ${k.name}</span></button>`}</td></tr>`}>
		${secret && html`<p class="notice" data-testid="token-secret">${t('tokens.once')} <code>${secret}</code></p>`}
		<h3>${t('tokens.new')}</h3>
		<form class="stack" onSubmit=${add}>
			<label for="token-name">${t('admin.name')}</label><input id="token-name" name="name" required />
			<${OrgPicker} id="token-org" orgs=${orgs} t=${t} />
			<${RolePicker} id="token-role" t=${t} />
			<label for="token-expires">${t('grants.expires')}</label>
			<input id="token-expires" name="expires" type="date" required value=${inDays(90)} min=${inDays(0)} />
			<div><button type="submit">${t('tokens.add')}</button></div>
		</form>
	<//>`;
}

function Webhooks({ orgs }) {
	const { t } = useApp();
	const [items, load, error] = useList('/api/v1/webhooks', 'webhooks');
	const [secret, setSecret] = useState(null);
	const [msg, run] = useAction(load);
	const add = run(async (f) => {
		const doc = await api('POST', '/api/v1/webhooks', { org: f.org, url: f.url });
		setSecret(doc.secret);
		return doc;
	}, 'webhooks.added');
	return html`<${Section} id="webhooks-h" title=${t('webhooks.title')} items=${items} error=${error} msg=${msg}
		empty=${t('webhooks.none')} head=${[t('admin.id'), t('account.org'), 'URL', t('webhooks.enabled'),
			t('webhooks.failures'), t('alerts.actions')]}
		row=${(w) => html`<tr><td>${w.id}</td><td>${w.org}</td><td><code>${w.url}</code></td><td>${bool(t, w.enabled)}</td>
			<td>${t.num(w.failures || 0)}</td>
			<td><button type="button" onClick=${run(() => api('DELETE', '/api/v1/webhooks/' + w.id), 'webhooks.removed')}>
				${t('webhooks.remove')}<span class="vh"> ${w.url}</span></button></td></tr>`}>
		${secret && html`<p class="notice">${t('webhooks.once')} <code>${secret}</code></p>`}
		<h3>${t('webhooks.new')}</h3>
		<form class="stack" onSubmit=${add}>
			<${OrgPicker} id="webhook-org" orgs=${orgs} t=${t} />
			<label for="webhook-url">URL (https)</label><input id="webhook-url" name="url" type="url" required />
			<div><button type="submit">${t('webhooks.add')}</button></div>
		</form>
	<//>`;
}

export function Admin() {
	const { t, me } = useApp();
	const admin = may.manageOrg(me);
	const [orgs, loadOrgs, orgError] = useList(admin ? '/api/v1/orgs' : null, 'orgs');
	return html`<div>
		<h1>${t('admin.title')}</h1>
		<nav aria-label=${t('admin.sections')} class="filters">${[
			['grants-h', 'grants.title', may.manageGrants(me)], ['orgs-h', 'orgs.title', admin], ['sites-h', 'sites.title', admin],
			['groups-h', 'groups.title', admin], ['users-h', 'users.title', admin], ['tokens-h', 'tokens.title', admin],
			['webhooks-h', 'webhooks.title', admin]].filter((x) => x[2]).map(([id, key]) => html`
			<a href=${'#/admin'} onClick=${(e) => { e.preventDefault(); document.getElementById(id).scrollIntoView(); }}>${t(key)}</a>`)}
		</nav>
		${may.manageGrants(me) && html`<${Grants} />`}
		${admin && html`<${Orgs} orgs=${orgs} load=${loadOrgs} error=${orgError} />
			<${Sites} orgs=${orgs} /><${Groups} orgs=${orgs} /><${Users} orgs=${orgs} />
			<${Tokens} orgs=${orgs} /><${Webhooks} orgs=${orgs} />`}
	</div>`;
}
