// The availability report (GET /api/v1/availability): availability %,
// downtime, incidents, MTBF and MTTR of the machines the caller sees, for a
// customer, a site or a machine over a period, in total and per row.
import { html, useState, useEffect, useMemo, useApp, Notice } from './ui.mjs';
import { api, allMachines, q } from './api.mjs';

const DAY = 86400e3;
const PERIODS = [['1', DAY], ['7', 7 * DAY], ['30', 30 * DAY], ['90', 90 * DAY], ['365', 365 * DAY]];
const GROUPS = ['total', 'machine', 'site', 'customer'];

// Does the served API take a query parameter on this route? The OpenAPI
// document is asked once; a parameter lands there (or in the operation's
// description) before the page offers it.
let openapi = null;
export async function declares(path, param) {
	if (!openapi) openapi = api('GET', '/api/v1/openapi.json').catch(() => ({}));
	const op = (((await openapi).paths || {})[path] || {}).get || {};
	return (op.parameters || []).some((p) => p.name === param) ||
		new RegExp('\\b' + param + '\\b').test((op.description || '') + ' ' + (op.summary || ''));
}

const uniq = (xs) => [...new Set(xs.filter(Boolean))].sort();

function Figures({ row }) {
	const { t } = useApp();
	const min = (x) => (typeof x === 'number' ? t('avail.min', { n: t.num(Math.round(x)) }) : '—');
	return html`<dl class="figures" data-testid="avail-total">
		<div><dt>${t('avail.pct')}</dt><dd data-testid="avail-pct">${typeof row.availability_pct === 'number'
			? t.num(row.availability_pct) + ' %' : '—'}</dd></div>
		<div><dt>${t('avail.downtime')}</dt><dd>${min(row.downtime_min)}</dd></div>
		<div><dt>${t('avail.incidents')}</dt><dd>${t.num(row.incidents ?? 0)}</dd></div>
		<div><dt>${t('avail.mtbf')}</dt><dd>${min(row.mtbf_min)}</dd></div>
		<div><dt>${t('avail.mttr')}</dt><dd>${min(row.mttr_min)}</dd></div>
		<div><dt>${t('avail.machines')}</dt><dd>${t.num(row.machines ?? 0)}</dd></div>
	</dl>`;
}

export function Availability() {
	const { t } = useApp();
	const [machines, setMachines] = useState(null);
	const [customer, setCustomer] = useState('');
	const [site, setSite] = useState('');
	const [serial, setSerial] = useState('');
	const [days, setDays] = useState('30');
	const [by, setBy] = useState('machine');
	const [businessHoursOffered, setOffered] = useState(false);
	const [businessHours, setBusinessHours] = useState(false);
	const [report, setReport] = useState(null);
	const [error, setError] = useState(null);

	useEffect(() => {
		// Customers, sites and serials for the pickers, from the fleet list the role reads anyway.
		allMachines().then(setMachines, () => setMachines([]));
		declares('/api/v1/availability', 'business_hours').then(setOffered);
	}, []);

	const customers = useMemo(() => uniq((machines || []).map((m) => m.customer)), [machines]);
	const sites = useMemo(() => uniq((machines || []).filter((m) => !customer || m.customer === customer)
		.map((m) => m.site)), [machines, customer]);
	const serials = useMemo(() => (machines || []).filter((m) => (!customer || m.customer === customer) &&
		(!site || m.site === site)).map((m) => m.serial).sort(), [machines, customer, site]);

	useEffect(() => {
		const to = Date.now(), from = to - PERIODS.find((p) => p[0] === days)[1];
		setReport(null); setError(null);
		// An answer for filters no longer chosen is dropped, whatever order they arrive in.
		let current = true;
		api('GET', '/api/v1/availability' + q({ customer, site, serial, from, to, by: by === 'total' ? null : by,
			business_hours: businessHoursOffered && businessHours ? 'true' : null }))
			.then((doc) => current && setReport(doc), (e) => current && setError(e.message));
		return () => { current = false; };
	}, [customer, site, serial, days, by, businessHours]);

	const rowName = (r) => (by === 'machine' ? r.serial : by === 'site' ? r.site : by === 'customer' ? r.customer : '');
	return html`<section aria-labelledby="avail-h">
		<h1 id="avail-h">${t('avail.title')}</h1>
		<form class="filters" onSubmit=${(e) => e.preventDefault()}>
			<label for="avail-customer">${t('fleet.customer')}</label>
			<select id="avail-customer" value=${customer}
				onChange=${(e) => { setCustomer(e.target.value); setSite(''); setSerial(''); }}>
				<option value="">${t('fleet.all')}</option>
				${customers.map((c) => html`<option value=${c}>${c}</option>`)}</select>
			<label for="avail-site">${t('fleet.site')}</label>
			<select id="avail-site" value=${site} onChange=${(e) => { setSite(e.target.value); setSerial(''); }}>
				<option value="">${t('fleet.all')}</option>
				${sites.map((s) => html`<option value=${s}>${s}</option>`)}</select>
			<label for="avail-serial">${t('avail.machine')}</label>
			<select id="avail-serial" value=${serial} onChange=${(e) => setSerial(e.target.value)}>
				<option value="">${t('fleet.all')}</option>
				${serials.map((s) => html`<option value=${s}>${s}</option>`)}</select>
			<label for="avail-period">${t('avail.period')}</label>
			<select id="avail-period" value=${days} onChange=${(e) => setDays(e.target.value)}>
				${PERIODS.map(([d]) => html`<option value=${d}>${t('avail.days.' + d)}</option>`)}</select>
			<label for="avail-by">${t('avail.by')}</label>
			<select id="avail-by" value=${by} onChange=${(e) => setBy(e.target.value)}>
				${GROUPS.map((g) => html`<option value=${g}>${t('avail.by.' + g)}</option>`)}</select>
			${businessHoursOffered && html`<label class="check"><input type="checkbox" checked=${businessHours}
				onChange=${(e) => setBusinessHours(e.target.checked)} /> ${t('avail.business')}</label>`}
		</form>
		<p class="meta">${t('avail.explain')}</p>
		${error ? html`<${Notice} kind="error">${t('error.generic', { msg: error })}<//>`
		: !report ? html`<p class="loading" role="status">${t('loading')}</p>`
		: html`
			${report.excluded_without_consent > 0 && html`<${Notice}>${t('avail.excluded',
				{ n: t.num(report.excluded_without_consent) })}<//>`}
			${!report.total || !report.total.machines ? html`<${Notice}>${t('avail.none')}<//>` : html`
			<p class="meta">${t('avail.span', { from: t.time(report.from), to: t.time(report.to) })}</p>
			<${Figures} row=${report.total} />
			${by !== 'total' && (report.rows || []).length > 0 && html`<div class="table-wrap"><table class="avail">
				<thead><tr><th scope="col">${t('avail.by.' + by)}</th><th scope="col">${t('avail.pct')}</th>
					<th scope="col">${t('avail.downtime')}</th><th scope="col">${t('avail.incidents')}</th>
					<th scope="col">${t('avail.mtbf')}</th><th scope="col">${t('avail.mttr')}</th></tr></thead>
				<tbody>${report.rows.map((r) => html`<tr data-row=${rowName(r)}>
					<th scope="row">${by === 'machine' ? html`<a href=${'#/machine/' + encodeURIComponent(r.serial)}>${r.serial}</a>`
						: rowName(r) || '—'}</th>
					<td>${typeof r.availability_pct === 'number' ? t.num(r.availability_pct) + ' %' : '—'}</td>
					<td>${t.num(Math.round(r.downtime_min || 0))}</td><td>${t.num(r.incidents || 0)}</td>
					<td>${typeof r.mtbf_min === 'number' ? t.num(Math.round(r.mtbf_min)) : '—'}</td>
					<td>${typeof r.mttr_min === 'number' ? t.num(Math.round(r.mttr_min)) : '—'}</td></tr>`)}</tbody>
			</table></div>`}`}`}
	</section>`;
}
