// Beverages and service of one site (docs/OPERATIONS.md "Beverage statistics",
// "Maintenance forecasts"): the beverages per day and product with the cup
// counters' reconciliation (GET /api/v1/beverages, class usage), and when
// each machine's next service is due (GET /api/v1/forecasts, class service).
// Each part shows only to the roles whose classes it needs; the API cuts the
// rest anyway.
import { html, useState, useEffect, useMemo, useApp, Notice } from './ui.mjs';
import { api, q } from './api.mjs';
import { useSitePick } from './sites.mjs';

const DAY = 86400e3;
const PERIODS = ['7', '30', '90'];

// rows of {day, product, beverages} as days x products.
function pivot(rows) {
	const products = [...new Set(rows.map((r) => r.product))].sort();
	const days = [...new Set(rows.map((r) => r.day))].sort();
	const cell = new Map(rows.map((r) => [r.day + '\u0000' + r.product, r.beverages]));
	return { products, days, at: (d, p) => cell.get(d + '\u0000' + p) || 0 };
}

function Beverages({ doc }) {
	const { t } = useApp();
	const { products, days, at } = useMemo(() => pivot(doc.rows || []), [doc]);
	const total = doc.total || {};
	return html`
		<p class="meta" data-testid="beverages-total">${t('usage.total', {
			n: t.num(total.beverages || 0), machines: t.num(total.machines || 0) })}
			${total.machines_with_counter > 0 && ' · ' + t('usage.reconcile', {
				counter: t.num(total.counter_total), gap: t.num(total.gap) })}</p>
		${!days.length ? html`<${Notice}>${t('usage.none')}<//>` : html`
		<div class="table-wrap"><table data-testid="beverages">
			<caption>${t('usage.perday')}</caption>
			<thead><tr><th scope="col">${t('usage.day')}</th>
				${products.map((p) => html`<th scope="col">${p}</th>`)}
				<th scope="col">${t('usage.sum')}</th></tr></thead>
			<tbody>${days.map((d) => html`<tr><th scope="row">${d}</th>
				${products.map((p) => html`<td>${t.num(at(d, p))}</td>`)}
				<td>${t.num(products.reduce((s, p) => s + at(d, p), 0))}</td></tr>`)}</tbody>
		</table></div>`}
		${(doc.machines || []).some((m) => m.gap > 0) && html`
		<${Notice}>${t('usage.gap')}<//>`}`;
}

function Forecasts({ doc }) {
	const { t } = useApp();
	const rows = [];
	for (const m of doc.machines || [])
		for (const s of m.services || []) rows.push({ serial: m.serial, ...s });
	const order = { overdue: 0, due_soon: 1, ok: 2, unknown: 3 };
	rows.sort((a, b) => (order[a.status] - order[b.status]) || ((a.due_ms ?? Infinity) - (b.due_ms ?? Infinity)));
	if (!rows.length) return html`<${Notice}>${t('forecast.none')}<//>`;
	const amount = (v, unit) => (typeof v === 'number' ? t.num(Math.round(v * 10) / 10) + ' ' + t('forecast.unit.' + unit) : '—');
	return html`<div class="table-wrap"><table data-testid="forecasts">
		<caption>${t('forecast.caption', { n: t.num((doc.overdue || []).length), soon: t.num((doc.due_soon || []).length) })}</caption>
		<thead><tr><th scope="col">${t('forecast.machine')}</th><th scope="col">${t('forecast.service')}</th>
			<th scope="col">${t('forecast.status')}</th><th scope="col">${t('forecast.due')}</th>
			<th scope="col">${t('forecast.used')}</th><th scope="col">${t('forecast.interval')}</th>
			<th scope="col">${t('forecast.rate')}</th></tr></thead>
		<tbody>${rows.map((r) => html`<tr data-status=${r.status}>
			<td>${r.serial}</td><td>${t('forecast.service.' + r.service)}</td>
			<td class=${r.status === 'overdue' ? 'bad' : ''}>${t('forecast.status.' + r.status)}</td>
			<td>${typeof r.due_ms === 'number' ? t.time(r.due_ms) : '—'}</td>
			<td>${amount(r.used, r.unit)}</td><td>${amount(r.interval, r.unit)}</td>
			<td>${amount(r.rate_per_day, r.unit)}</td></tr>`)}</tbody>
	</table></div>`;
}

export function Usage() {
	const { t, me } = useApp();
	const classes = (me && me.data_classes) || [];
	const { machines, sites, site, choose } = useSitePick();
	const [days, setDays] = useState('7');
	const [beverages, setBeverages] = useState(null);
	const [forecasts, setForecasts] = useState(null);
	const [error, setError] = useState(null);

	useEffect(() => {
		if (!site) return;
		const to = Math.floor(Date.now() / 60000) * 60000, from = to - Number(days) * DAY;
		const [customer, name] = site.split('/');
		setBeverages(null); setForecasts(null); setError(null);
		// An answer for a site or period no longer picked is dropped, whatever order they arrive in.
		let current = true;
		const keep = (set) => (doc) => current && set(doc);
		const fail = (e) => current && setError(e.message);
		if (classes.includes('usage'))
			api('GET', '/api/v1/beverages' + q({ customer, site: name, from, to, group_by: 'product,day' }))
				.then(keep(setBeverages), fail);
		if (classes.includes('service'))
			api('GET', '/api/v1/forecasts' + q({ customer, site: name })).then(keep(setForecasts), fail);
		return () => { current = false; };
	}, [site, days]);

	return html`<section aria-labelledby="usage-h">
		<h1 id="usage-h">${t('usage.title')}</h1>
		<form class="filters" onSubmit=${(e) => e.preventDefault()}>
			<label for="usage-site">${t('fleet.site')}</label>
			<select id="usage-site" value=${site} onChange=${(e) => choose(e.target.value)}>
				${sites.map((s) => html`<option value=${s}>${s.replace('/', ' · ')}</option>`)}</select>
			<label for="usage-period">${t('avail.period')}</label>
			<select id="usage-period" value=${days} onChange=${(e) => setDays(e.target.value)}>
				${PERIODS.map((d) => html`<option value=${d}>${t('avail.days.' + d)}</option>`)}</select>
		</form>
		${machines && !sites.length ? html`<${Notice}>${t('quality.nosites')}<//>`
		: error ? html`<${Notice} kind="error">${t('error.generic', { msg: error })}<//>`
		: html`
			${classes.includes('usage') && html`<h2>${t('usage.beverages')}</h2>
				${beverages ? html`<${Beverages} doc=${beverages} />`
				: html`<p class="loading" role="status">${t('loading')}</p>`}`}
			${classes.includes('service') && html`<h2>${t('forecast.title')}</h2>
				${forecasts ? html`<${Forecasts} doc=${forecasts} />`
				: html`<p class="loading" role="status">${t('loading')}</p>`}`}`}
	</section>`;
}
