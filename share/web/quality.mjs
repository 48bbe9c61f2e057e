// Quality and HACCP of one site (docs/QUALITY.md): compliance per day
// (GET /api/v1/compliance, cut to the caller's classes) and the site's signed
// cleaning report (GET /api/v1/haccp/cleaning-report): every cleaning, what
// was missed, what was due; the signed CSV, its signature and the printable
// page to download, and how an inspector checks them with openssl.
import { html, useState, useEffect, useApp, Notice } from './ui.mjs';
import { api, q } from './api.mjs';
import { useSitePick } from './sites.mjs';

const DAY = 86400e3;
const PERIODS = ['7', '30', '90'];
const REPORT = '/api/v1/haccp/cleaning-report';

// The commands of docs/QUALITY.md "Verifying a report", for the files as downloaded.
const verifySteps = (origin, csv, sig) => `curl -fsS "${origin}/api/v1/signing-key?format=pem" > signing-key.pem
base64 -d ${sig} > report.sig
openssl pkeyutl -verify -pubin -inkey signing-key.pem -rawin -in ${csv} -sigfile report.sig`;

function Days({ site }) {
	const { t } = useApp();
	const days = (site && site.days) || [];
	if (!days.length) return html`<${Notice}>${t('quality.nodays')}<//>`;
	const usage = days.some((d) => typeof d.brews === 'number');
	const technical = days.some((d) => 'in_spec_pct' in d);
	return html`<div class="table-wrap"><table data-testid="quality-days">
		<caption>${t('quality.days')}</caption>
		<thead><tr><th scope="col">${t('quality.day')}</th>
			${usage && html`<th scope="col">${t('quality.brews')}</th><th scope="col">${t('quality.inspec')}</th>`}
			${technical && html`<th scope="col">${t('quality.inspecpct')}</th><th scope="col">${t('quality.breaches')}</th>`}
		</tr></thead>
		<tbody>${days.map((d) => html`<tr><th scope="row">${d.day}</th>
			${usage && html`<td>${t.num(d.brews)}</td><td>${t.num(d.in_spec)}</td>`}
			${technical && html`<td>${typeof d.in_spec_pct === 'number' ? t.num(d.in_spec_pct) + ' %' : '—'}</td>
				<td>${t.num(d.breaches)}</td>`}</tr>`)}</tbody>
	</table></div>`;
}

function Cleanings({ report }) {
	const { t } = useApp();
	return html`
		<div class="table-wrap"><table data-testid="haccp-records">
			<caption>${t('haccp.records', { n: t.num(report.records.length) })}</caption>
			<thead><tr><th scope="col">${t('haccp.local')}</th><th scope="col">${t('haccp.machine')}</th>
				<th scope="col">${t('haccp.program')}</th><th scope="col">${t('haccp.result')}</th>
				<th scope="col">${t('haccp.duration')}</th></tr></thead>
			<tbody>${report.records.map((r) => html`<tr data-program=${r.program}>
				<td>${r.time_local}</td><td>${r.serial}</td><td>${r.program}</td>
				<td class=${r.result === 'ok' ? '' : 'bad'}>${t('haccp.result.' + r.result)}</td>
				<td>${typeof r.duration_s === 'number' ? t.num(r.duration_s) : '—'}</td></tr>`)}</tbody>
		</table></div>
		<div class="table-wrap"><table data-testid="haccp-missed">
			<caption>${t('haccp.missed', { n: t.num(report.missed.length) })}</caption>
			<thead><tr><th scope="col">${t('haccp.machine')}</th><th scope="col">${t('haccp.program')}</th>
				<th scope="col">${t('haccp.from')}</th><th scope="col">${t('haccp.until')}</th>
				<th scope="col">${t('haccp.rule')}</th></tr></thead>
			<tbody>${report.missed.map((m) => html`<tr class="missed"><td>${m.serial}</td><td>${m.program}</td>
				<td>${m.time_local}</td><td>${m.until_local}</td><td>${m.rule}</td></tr>`)}</tbody>
		</table></div>
		<div class="table-wrap"><table data-testid="haccp-schedule">
			<caption>${t('haccp.schedule')}</caption>
			<thead><tr><th scope="col">${t('haccp.machine')}</th><th scope="col">${t('haccp.program')}</th>
				<th scope="col">${t('haccp.rule')}</th><th scope="col">${t('haccp.done')}</th>
				<th scope="col">${t('haccp.due')}</th><th scope="col">${t('haccp.missedn')}</th></tr></thead>
			<tbody>${report.schedule.map((s) => html`<tr><td>${s.serial}</td><td>${s.program}</td><td>${s.rule}</td>
				<td>${t.num(s.done)}</td><td>${t.num(s.due)}</td><td>${t.num(s.missed)}</td></tr>`)}</tbody>
		</table></div>`;
}

export function Quality() {
	const { t } = useApp();
	const { machines, sites, site, choose } = useSitePick();
	const [days, setDays] = useState('7');
	const [span, setSpan] = useState(null);
	const [compliance, setCompliance] = useState(null);
	const [report, setReport] = useState(null);
	const [error, setError] = useState(null);

	useEffect(() => {
		if (!site) return;
		// One period for the page and its downloads: the CSV and its signature are the same bytes.
		const to = Math.floor(Date.now() / 60000) * 60000, from = to - Number(days) * DAY;
		const [org, name] = site.split('/');
		setSpan({ org, site: name, from, to });
		setCompliance(null); setReport(null); setError(null);
		// An answer for a site or period no longer picked is dropped, whatever order they arrive in.
		let current = true;
		api('GET', '/api/v1/compliance' + q({ org, site: name, from, to }))
			.then((doc) => current && setCompliance(doc), () => current && setCompliance({}));
		api('GET', REPORT + q({ org, site: name, from, to }))
			.then((doc) => current && setReport(doc), (e) => current && setError(e.message));
		return () => { current = false; };
	}, [site, days]);

	const link = (format) => REPORT + q({ org: span.org, site: span.site, from: span.from, to: span.to, format });
	const file = span && `haccp-${span.site}.csv`;
	const siteFigures = compliance && (compliance.sites || []).find((s) => span && s.site === span.site &&
		s.customer === span.org);
	return html`<section aria-labelledby="quality-h">
		<h1 id="quality-h">${t('quality.title')}</h1>
		<form class="filters" onSubmit=${(e) => e.preventDefault()}>
			<label for="quality-site">${t('fleet.site')}</label>
			<select id="quality-site" value=${site} onChange=${(e) => choose(e.target.value)}>
				${sites.map((s) => html`<option value=${s}>${s.replace('/', ' · ')}</option>`)}</select>
			<label for="quality-period">${t('avail.period')}</label>
			<select id="quality-period" value=${days} onChange=${(e) => setDays(e.target.value)}>
				${PERIODS.map((d) => html`<option value=${d}>${t('avail.days.' + d)}</option>`)}</select>
		</form>
		${machines && !sites.length ? html`<${Notice}>${t('quality.nosites')}<//>`
		: error ? html`<${Notice} kind="error">${t('error.generic', { msg: error })}<//>`
		: !report ? html`<p class="loading" role="status">${t('loading')}</p>`
		: html`
			<p class="meta">${t('avail.span', { from: t.time(report.from), to: t.time(report.to) }) + ' · ' +
				t('haccp.zone', { zone: report.timezone })}</p>
			${compliance && html`<${Days} site=${siteFigures} />`}
			<h2>${t('haccp.title')}</h2>
			<p class="filters">
				<a class="button" href=${link('csv')} download=${file}>${t('haccp.csv')}</a>
				<a class="button" href=${link('sig')} download=${file + '.sig'}>${t('haccp.sig')}</a>
				<a class="button" href=${link('html')} target="_blank" rel="noopener">${t('haccp.print')}</a>
				<a class="button" href="/api/v1/signing-key?format=pem" download="signing-key.pem">${t('haccp.key')}</a>
			</p>
			<p class="meta">${t('haccp.keyid')} <code data-testid="haccp-keyid">${report.key_id}</code></p>
			<${Cleanings} report=${report} />
			<h2>${t('haccp.verify')}</h2>
			<p>${t('haccp.verify.intro')}</p>
			<pre class="steps" data-testid="haccp-verify">${verifySteps(location.origin, file, file + '.sig')}</pre>
			<p class="meta">${t('haccp.verify.rows')}</p>`}
	</section>`;
}
