import { html, useState, useEffect, useApp, Notice } from './ui.mjs';
import { api, q } from './api.mjs';
import { statusOf } from './fleet.mjs';
import { Chart } from './chart.mjs';
import { MachineTickets, Bundles } from './support.mjs';
import { MachineConfig } from './machineconfig.mjs';
import { MachineUpdate } from './updates.mjs';

const PERIODS = [['hour', 3600e3, null], ['day', 86400e3, 60000], ['week', 7 * 86400e3, 60000]];
const CLASSES = ['status', 'technical', 'service', 'usage'];

// Every page of the telemetry columns over [from, to): raw for an hour,
// 1-minute mean/min/max buckets beyond (the API does the reduction).
async function telemetry(serial, from, to, step) {
	const all = {};
	let cursor = null;
	do {
		const doc = await api('GET', `/api/v1/machines/${encodeURIComponent(serial)}/telemetry` +
			q({ from, to, step, stats: step ? 'mean,min,max' : null, format: 'columns', limit: 10000, cursor }));
		const cols = doc.columns || {};
		const n = (cols.ts || []).length;
		const have = (all.ts || []).length;
		for (const k of Object.keys(cols)) {
			if (!all[k]) all[k] = new Array(have).fill(null);
			all[k].push(...cols[k]);
		}
		for (const k of Object.keys(all)) if (!cols[k]) all[k].push(...new Array(n).fill(null));
		cursor = doc.next_cursor || null;
	} while (cursor);
	return all;
}

// One timeline item in words: its kind, an error's code and the catalogue's
// explanation and action, a reason where there is one.
function describe(t, it) {
	const kind = t('kind.' + it.kind) === 'kind.' + it.kind ? it.kind : t('kind.' + it.kind);
	const parts = [kind];
	if (it.code) parts.push(it.code);
	if (it.explained) parts.push(it.explained.text + (it.explained.action ? ' → ' + it.explained.action : ''));
	if (it.reason) parts.push(it.reason);
	return parts.join(' · ');
}

function Latest({ latest }) {
	const { t } = useApp();
	const classes = CLASSES.filter((c) => latest && latest[c] && Object.keys(latest[c]).length);
	if (!classes.length) return html`<${Notice}>${t('machine.latest.none')}<//>`;
	return classes.map((c) => html`<table class="latest" data-class=${c}>
		<caption>${t('class.' + c)}</caption>
		<thead><tr><th scope="col">${t('machine.metric')}</th><th scope="col">${t('machine.value')}</th>
			<th scope="col">${t('machine.readat')}</th></tr></thead>
		<tbody>${Object.entries(latest[c]).map(([k, v]) => html`<tr data-metric=${k}>
			<th scope="row">${k}</th><td>${t.num(v)}</td><td>${t.time(latest.read_at && latest.read_at[k])}</td></tr>`)}</tbody>
	</table>`);
}

function Health({ health }) {
	const { t } = useApp();
	if (!health) return null;
	return html`<section aria-labelledby="health-h" class="card">
		<h2 id="health-h">${t('machine.health')}: <span data-testid="health-score">${t.num(health.score)}</span> / 100</h2>
		${(health.parts || []).length === 0 ? html`<p>${t('machine.health.none')}</p>` : html`
		<p>${t('machine.health.parts')}</p>
		<ul>${health.parts.map((p) => html`<li>−${t.num(p.penalty)}: ${p.why}</li>`)}</ul>`}
	</section>`;
}

const JOB_POLL_MS = 3000;
const OPEN_STATES = ['queued', 'sent', 'acknowledged'];

// Commands: a diagnostics request to this machine (POST /api/v1/jobs), and
// the state of the ones sent from this page, followed until they end. Roles
// with the technical class only, as the jobs API allows.
function Commands({ serial }) {
	const { t } = useApp();
	const [jobs, setJobs] = useState([]);
	const [msg, setMsg] = useState(null);
	useEffect(() => {
		const open = jobs.filter((j) => j.targets && j.targets.some((x) => OPEN_STATES.includes(x.state)));
		if (!open.length) return undefined;
		const timer = setTimeout(async () => {
			const fresh = await Promise.all(jobs.map((j) => (open.includes(j)
				? api('GET', '/api/v1/jobs/' + j.id).catch(() => j) : j)));
			setJobs(fresh);
		}, JOB_POLL_MS);
		return () => clearTimeout(timer);
	}, [jobs]);
	async function diagnostics() {
		setMsg(null);
		try {
			const job = await api('POST', '/api/v1/jobs', { command: 'diagnostics', target: { serial }, body: {} });
			setJobs((cur) => [job, ...cur]);
		} catch (e) {
			setMsg(t('error.generic', { msg: e.message }));
		}
	}
	return html`<section aria-labelledby="commands-h" class="card">
		<h2 id="commands-h">${t('machine.commands')}</h2>
		<p>${t('machine.commands.explain')}</p>
		<p><button type="button" onClick=${diagnostics}>${t('machine.diagnostics')}</button></p>
		${msg && html`<${Notice} kind="error">${msg}<//>`}
		${jobs.length > 0 && html`<ul class="jobs">${jobs.map((j) => {
			const target = (j.targets || []).find((x) => x.serial === serial) || {};
			return html`<li data-job=${j.id}>${t('machine.job', { id: j.id, command: j.command })}:
				<strong data-testid=${'job-state-' + j.id}>${t('job.' + (target.state || 'queued'))}</strong>
				${target.reason ? ' · ' + target.reason : ''}</li>`;
		})}</ul>`}
	</section>`;
}

export function Machine({ args }) {
	const { t, me } = useApp();
	const serial = decodeURIComponent(args[0] || '');
	const [m, setM] = useState(null);
	const [error, setError] = useState(null);
	const [period, setPeriod] = useState('hour');
	const [cols, setCols] = useState(null);
	const [metric, setMetric] = useState('');
	const [timeline, setTimeline] = useState(null);
	const [raw, setRaw] = useState(false); // every reading instead of 1-minute buckets (up to a day)

	useEffect(() => {
		setM(null); setError(null);
		api('GET', '/api/v1/machines/' + encodeURIComponent(serial))
			.then(setM, (e) => setError(e.status === 404 || e.status === 403 ? t('machine.notfound') : e.message));
	}, [serial]);

	useEffect(() => {
		const [, span, bucket] = PERIODS.find((p) => p[0] === period);
		const step = raw && span <= 86400e3 ? null : bucket;
		const to = Date.now(), from = to - span;
		setCols(null);
		telemetry(serial, from, to, step).then((c) => {
			setCols(c);
			const names = Object.keys(c).filter((k) => !['ts', 'n', 'seq'].includes(k) && !k.includes(':'));
			setMetric((cur) => (names.includes(cur) ? cur : names[0] || ''));
		}, () => setCols({}));
	}, [serial, period, raw]);

	// The timeline explains error codes from the catalogue in the page's language.
	useEffect(() => {
		const span = PERIODS.find((p) => p[0] === period)[1];
		const to = Date.now(), from = to - span;
		setTimeline(null);
		api('GET', `/api/v1/machines/${encodeURIComponent(serial)}/timeline` + q({ from, to, lang: t.lang }))
			.then((d) => setTimeline(d.items || []), () => setTimeline([]));
	}, [serial, period, t.lang]);

	if (error) return html`<${Notice} kind="error">${error}<//>`;
	if (!m) return html`<p class="loading" role="status">${t('loading')}</p>`;
	const st = statusOf(m);
	const metrics = cols ? Object.keys(cols).filter((k) => !['ts', 'n', 'seq'].includes(k) && !k.includes(':')) : [];

	return html`<article aria-labelledby="machine-h">
		<p><a href="#/fleet">${t('machine.back')}</a></p>
		<h1 id="machine-h">${m.serial} <small>${m.model}</small></h1>
		<dl class="facts">
			<dt>${t('machine.state')}</dt><dd><span class=${'badge ' + st} data-testid="state">${t('fleet.' + st)}</span></dd>
			${m.last_disconnect_reason && html`<dt>${t('machine.reason')}</dt><dd>${m.last_disconnect_reason}</dd>`}
			<dt>${t('fleet.customer')}</dt><dd>${m.customer}</dd>
			<dt>${t('fleet.site')}</dt><dd>${m.site || '—'}</dd>
			<dt>${t('fleet.lastseen')}</dt><dd>${t.time(m.last_seen)}</dd>
			<dt>${t('machine.software')}</dt><dd>${m.software_version || '—'}</dd>
		</dl>
		<${Health} health=${m.health} />
		<section aria-labelledby="latest-h" class="card">
			<h2 id="latest-h">${t('machine.latest')}</h2>
			<${Latest} latest=${m.latest} />
		</section>
		<section aria-labelledby="chart-h" class="card">
			<h2 id="chart-h">${t('machine.chart')}</h2>
			<div class="filters" role="group" aria-label=${t('machine.period')}>
				${PERIODS.map(([p]) => html`<button type="button" aria-pressed=${period === p}
					onClick=${() => setPeriod(p)}>${t('machine.' + p)}</button>`)}
				<label class="check"><input type="checkbox" checked=${raw || period === 'hour'}
					disabled=${period !== 'day'} onChange=${(e) => setRaw(e.target.checked)} /> ${t('machine.raw')}</label>
				${metrics.length > 0 && html`<label for="metric">${t('machine.metric')}</label>
				<select id="metric" value=${metric} onChange=${(e) => setMetric(e.target.value)}>
					${metrics.map((k) => html`<option value=${k}>${k}</option>`)}</select>`}
			</div>
			${!cols ? html`<p class="loading" role="status">${t('loading')}</p>`
			: metrics.length === 0 ? html`<${Notice}>${t('machine.chart.none')}<//>`
			: html`<${Chart} columns=${cols} metric=${metric} label=${metric} />`}
		</section>
		${(me.data_classes || []).includes('technical') && html`<${Commands} serial=${m.serial} />`}
		${(me.data_classes || []).includes('technical') && html`<${Bundles} serial=${m.serial} />`}
		${(me.data_classes || []).includes('technical') && html`<${MachineUpdate} serial=${m.serial} />`}
		${(me.data_classes || []).includes('technical') && html`<${MachineConfig} serial=${m.serial} />`}
		${(me.data_classes || []).includes('service') && html`<${MachineTickets} serial=${m.serial} />`}
		<section aria-labelledby="timeline-h" class="card">
			<h2 id="timeline-h">${t('machine.timeline')}</h2>
			${!timeline ? html`<p class="loading" role="status">${t('loading')}</p>`
			: timeline.length === 0 ? html`<${Notice}>${t('machine.timeline.none')}<//>`
			: html`<div class="table-wrap"><table class="timeline"><thead><tr><th scope="col">${t('machine.when')}</th>
				<th scope="col">${t('machine.what')}</th></tr></thead>
				<tbody>${timeline.slice().reverse().map((it) => html`<tr><td>${t.time(it.time)}</td>
					<td>${describe(t, it)}</td></tr>`)}</tbody></table></div>`}
		</section>
	</article>`;
}
