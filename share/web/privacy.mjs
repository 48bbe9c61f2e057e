// Privacy: the current policy and when it was last updated (everyone); a
// customer's consent (its own managers); who read a customer's data, when and
// why (the access-transparency report: admins, auditors, customer and
// service managers); export (admins, the customer's managers) and erasure
// with its signed receipt (admins).
import { html, useState, useEffect, useApp, Notice } from './ui.mjs';
import { api, q } from './api.mjs';
import { may } from './roles.mjs';

const date = (t, iso) => (iso ? new Intl.DateTimeFormat(t.locale, { dateStyle: 'long' })
	.format(new Date(iso.length === 10 ? iso + 'T12:00:00Z' : iso)) : '—');

function Policy() {
	const { t } = useApp();
	const [doc, setDoc] = useState(null);
	const [error, setError] = useState(null);
	useEffect(() => {
		// The policy in the page's language, or its own language when it has no such text.
		api('GET', '/policy' + q({ lang: t.lang })).catch(() => api('GET', '/policy'))
			.then(setDoc, (e) => setError(e.message));
	}, [t.lang]);
	if (error) return html`<${Notice} kind="error">${t('error.generic', { msg: error })}<//>`;
	if (!doc) return html`<p class="loading" role="status">${t('loading')}</p>`;
	return html`<section aria-labelledby="policy-h" class="card">
		<h2 id="policy-h">${doc.title || t('privacy.policy')}</h2>
		<p data-testid="policy-updated">${t('privacy.version', { v: doc.version })} · ${t('privacy.updated',
			{ date: date(t, doc.last_updated) })}</p>
		${doc.language !== t.lang && html`<p class="meta">${t('privacy.otherlang', { lang: doc.language })}</p>`}
		<p>${t('privacy.purposes')}: ${(doc.purposes || []).map((p) => t('purpose.' + p) === 'purpose.' + p ? p
			: t('purpose.' + p)).join(', ')}</p>
		${(doc.clauses || []).length > 0 ? (doc.clauses || []).map((c) => html`<details>
			<summary>${c.title}</summary><p class="prose">${c.text}</p>
			${(c.facts || []).length > 0 && html`<ul>${c.facts.map((f) => html`<li>${f}</li>`)}</ul>`}</details>`)
		: doc.text && html`<details><summary>${t('privacy.text')}</summary><p class="prose">${doc.text}</p></details>`}
		<p><a href=${'/policy' + q({ lang: doc.language })}>${t('privacy.full')}</a></p>
	</section>`;
}

function Consent({ customer, versions }) {
	const { t } = useApp();
	const [msg, setMsg] = useState(null);
	const latest = versions && versions.length ? versions.reduce((a, b) => (b.version > a.version ? b : a)) : null;
	if (!latest) return null;
	async function give(e) {
		e.preventDefault();
		const f = Object.fromEntries(new FormData(e.target));
		try {
			const doc = await api('POST', '/api/v1/consents', { customer, version: Number(f.version), language: f.language });
			setMsg(['info', 'consent.given', { customer: doc.customer, v: doc.version }]);
		} catch (err) {
			setMsg(['error', 'admin.refused', { msg: err.message }]);
		}
	}
	return html`<section aria-labelledby="consent-h" class="card">
		<h2 id="consent-h">${t('consent.title', { customer })}</h2>
		<p>${t('consent.explain')}</p>
		<form class="stack" onSubmit=${give}>
			<label for="consent-version">${t('consent.version')}</label>
			<select id="consent-version" name="version">${versions.slice().sort((a, b) => b.version - a.version)
				.map((v) => html`<option value=${v.version}>${t('privacy.version', { v: v.version })} (${date(t, v.last_updated)})</option>`)}</select>
			<label for="consent-lang">${t('consent.language')}</label>
			<select id="consent-lang" name="language">${(latest.languages || ['en']).map((l) => html`<option value=${l}>${l}</option>`)}</select>
			<div><button type="submit">${t('consent.give')}</button></div>
		</form>
		${msg && html`<${Notice} kind=${msg[0]}>${t(msg[1], msg[2])}<//>`}
	</section>`;
}

function AccessReport({ customer }) {
	const { t } = useApp();
	const [records, setRecords] = useState(null);
	const [error, setError] = useState(null);
	useEffect(() => {
		if (!customer) return;
		setRecords(null); setError(null);
		api('GET', `/api/v1/customers/${encodeURIComponent(customer)}/access-report`)
			.then((d) => setRecords(d.records || []), (e) => setError(e.status === 404 ? t('privacy.nocustomer') : e.message));
	}, [customer]);
	return html`<section aria-labelledby="report-h" class="card">
		<h2 id="report-h">${t('report.title', { customer })}</h2>
		<p>${t('report.explain')}</p>
		${error ? html`<${Notice} kind="error">${error}<//>`
		: !records ? html`<p class="loading" role="status">${t('loading')}</p>`
		: records.length === 0 ? html`<${Notice}>${t('report.none')}<//>`
		: html`<div class="table-wrap"><table class="access">
			<thead><tr><th scope="col">${t('machine.when')}</th><th scope="col">${t('report.who')}</th>
				<th scope="col">${t('report.action')}</th><th scope="col">${t('grants.what')}</th>
				<th scope="col">${t('report.class')}</th><th scope="col">${t('grants.purpose')}</th>
				<th scope="col">${t('report.outcome')}</th></tr></thead>
			<tbody>${records.slice().reverse().map((r) => html`<tr data-actor=${r.actor}>
				<td>${t.time(r.time)}</td><td>${r.actor}${r.source ? html` <span class="meta">(${r.source})</span>` : ''}</td>
				<td><code>${r.action}</code></td><td>${r.machines || '—'}</td><td>${r.data_class || '—'}</td>
				<td>${r.purpose ? (t('purpose.' + r.purpose) === 'purpose.' + r.purpose ? r.purpose : t('purpose.' + r.purpose)) : '—'}</td>
				<td>${r.outcome}</td></tr>`)}</tbody></table></div>`}
	</section>`;
}

function ExportErase({ customer, me }) {
	const { t } = useApp();
	const [confirm, setConfirm] = useState('');
	const [receipt, setReceipt] = useState(null);
	const [msg, setMsg] = useState(null);
	const base = `/api/v1/customers/${encodeURIComponent(customer)}`;
	async function erase(e) {
		e.preventDefault();
		setMsg(null);
		try {
			setReceipt(await api('DELETE', base));
			setConfirm('');
		} catch (err) {
			setMsg(['error', 'admin.refused', { msg: err.message }]);
		}
	}
	return html`<section aria-labelledby="export-h" class="card">
		<h2 id="export-h">${t('export.title', { customer })}</h2>
		<p>${t('export.explain')}</p>
		<p class="filters"><a class="button" href=${base + '/export?format=json'} download=${customer + '.json'}>${t('export.json')}</a>
			${['telemetry', 'events', 'reports'].map((tb) => html`<a class="button" href=${base + '/export' + q({ format: 'csv', table: tb })}
				download=${customer + '-' + tb + '.csv'}>${t('export.csv', { table: t('export.table.' + tb) })}</a>`)}</p>
		${may.eraseCustomer(me) && html`<h3>${t('erase.title')}</h3>
		<p>${t('erase.explain')}</p>
		<form class="stack" onSubmit=${erase}>
			<label for="erase-confirm">${t('erase.confirm', { customer })}</label>
			<input id="erase-confirm" value=${confirm} onInput=${(e) => setConfirm(e.target.value)} autocomplete="off" />
			<div><button type="submit" class="danger" disabled=${confirm !== customer}>${t('erase.go', { customer })}</button></div>
		</form>`}
		${receipt && html`<div class="notice" data-testid="erase-receipt"><p>${t('erase.done')}</p>
			<dl class="facts"><dt>${t('erase.receipt')}</dt><dd><code>${receipt.receipt}</code></dd>
			<dt>${t('erase.signature')}</dt><dd><code>${receipt.signature}</code></dd>
			<dt>${t('erase.algorithm')}</dt><dd>${receipt.algorithm}</dd><dt>${t('erase.signedby')}</dt><dd>${receipt.signed_by}</dd></dl></div>`}
		${msg && html`<${Notice} kind=${msg[0]}>${t(msg[1], msg[2])}<//>`}
	</section>`;
}

export function Privacy() {
	const { t, me } = useApp();
	const [versions, setVersions] = useState(null);
	const [customers, setCustomers] = useState(undefined); // undefined: asking; null: typed by hand
	const own = me.role === 'customer_manager';
	const [customer, setCustomer] = useState(own ? me.org : '');
	const [typed, setTyped] = useState('');
	const [ownIsCustomer, setOwnIsCustomer] = useState(own);
	useEffect(() => {
		api('GET', '/api/v1/policy/versions').then((d) => setVersions(d.versions || []), () => setVersions([]));
		// The customers to pick from: an admin lists the organisations; the others with
		// machine data see their machines' customers; an auditor types the name.
		if (own) return;
		if (may.manageOrg(me)) {
			api('GET', '/api/v1/orgs').then((d) => {
				const cs = (d.orgs || []).filter((o) => o.kind === 'customer').map((o) => o.name).sort();
				setCustomers(cs);
				setOwnIsCustomer(cs.includes(me.org));
			}, () => setCustomers(null));
		} else if ((me.data_classes || []).includes('status')) {
			api('GET', '/api/v1/machines' + q({ limit: 500 })).then((d) =>
				setCustomers([...new Set((d.machines || []).map((m) => m.customer))].sort()), () => setCustomers(null));
		} else {
			setCustomers(null);
		}
	}, []);
	const reports = may.readAccessReport(me) || may.exportCustomer(me);
	return html`<div>
		<h1>${t('privacy.title')}</h1>
		<${Policy} />
		${may.consent(me) && ownIsCustomer && versions && html`<${Consent} customer=${me.org} versions=${versions} />`}
		${reports && !own && html`<section class="card" aria-labelledby="pick-h">
			<h2 id="pick-h">${t('privacy.customer')}</h2>
			${customers === undefined ? html`<p class="loading" role="status">${t('loading')}</p>`
			: customers ? html`<label for="privacy-customer">${t('fleet.customer')}</label>
				<select id="privacy-customer" value=${customer} onChange=${(e) => setCustomer(e.target.value)}>
					<option value="">${t('privacy.choose')}</option>
					${customers.map((c) => html`<option value=${c}>${c}</option>`)}</select>`
			: html`<form class="filters" onSubmit=${(e) => { e.preventDefault(); setCustomer(typed.trim()); }}>
				<label for="privacy-customer">${t('fleet.customer')}</label>
				<input id="privacy-customer" value=${typed} onInput=${(e) => setTyped(e.target.value)} />
				<button type="submit">${t('privacy.show')}</button></form>`}
			${!customer && html`<${Notice}>${t('privacy.pick')}<//>`}
		</section>`}
		${customer && may.readAccessReport(me) && html`<${AccessReport} customer=${customer} />`}
		${customer && may.exportCustomer(me) && html`<${ExportErase} customer=${customer} me=${me} />`}
	</div>`;
}
