import { html, useState, useEffect, useMemo, useApp, Notice } from './ui.mjs';
import { api, q } from './api.mjs';
import { SiteMap } from './sitemap.mjs';

const POLL_MS = 15000;

// A machine's status as the list gives it; worst first when sorted by status.
export function statusOf(m) {
	if (m.revoked) return 'revoked';
	if (m.online) return 'online';
	return m.last_seen ? 'offline' : 'never';
}
const SEVERITY = { offline: 0, never: 1, revoked: 2, online: 3 };

// The whole list; null when it has not changed since the last call (a fleet
// of one page is asked with If-None-Match, answered 304 without a body).
let lastEtag = null;
async function allMachines() {
	const out = [];
	let cursor = null;
	let first = true;
	do {
		let etag = null;
		const doc = await api('GET', '/api/v1/machines' + q({ limit: 500, cursor }), undefined,
			{ etag: first ? lastEtag : null, seen: (e) => { etag = e; } });
		if (doc === null) return null;
		if (first) lastEtag = doc.next_cursor ? null : etag;
		first = false;
		out.push(...(doc.machines || []));
		cursor = doc.next_cursor || null;
	} while (cursor);
	return out;
}

const COLUMNS = [
	['status', 'fleet.status', (m) => SEVERITY[statusOf(m)]],
	['serial', 'fleet.serial', (m) => m.serial],
	['model', 'fleet.model', (m) => m.model],
	['customer', 'fleet.customer', (m) => m.customer],
	['site', 'fleet.site', (m) => m.site || ''],
	['last_seen', 'fleet.lastseen', (m) => m.last_seen || ''],
	['software', 'fleet.software', (m) => m.software_version || ''],
];
// Health (0-100, worst first when sorted): one request a poll to
// GET /api/v1/health-scores, never one per row. The daemon scores every
// machine in scope at each call (about 0.2 ms a machine), so a fleet larger
// than HEALTH_MAX goes without the column; a role that may not read scores
// (the request refused) too.
const HEALTH_MAX = 1000;
const healthOf = (m) => (m.health && typeof m.health.score === 'number' ? m.health.score
	: typeof m.health_score === 'number' ? m.health_score : null);
const HEALTH = ['health', 'fleet.health', (m) => healthOf(m) ?? 101];

async function healthScores() {
	try {
		const doc = await api('GET', '/api/v1/health-scores' + q({ limit: HEALTH_MAX }));
		if (doc.count > HEALTH_MAX) return null;
		return new Map((doc.machines || []).map((x) => [x.serial, x.score]));
	} catch (e) {
		return null;
	}
}

const withScores = (list, scores) => (scores === null ? list
	: list.map((m) => ({ ...m, health_score: scores.has(m.serial) ? scores.get(m.serial) : null })));

export function Fleet({ args = [] }) {
	const { t } = useApp();
	const [machines, setMachines] = useState(null);
	const [sites, setSites] = useState(null);
	// #/fleet/site/CUSTOMER/SITE: the table narrowed to one site (the map's links).
	const atSite = args[0] === 'site' && args.length === 3 ? [decodeURIComponent(args[1]), decodeURIComponent(args[2])] : null;
	const [error, setError] = useState(null);
	const [updated, setUpdated] = useState(null);
	const [search, setSearch] = useState('');
	const [status, setStatus] = useState('');
	const [sort, setSort] = useState(['status', 1]);

	useEffect(() => {
		let live = true;
		lastEtag = null; // a new page asks for the whole list
		let timer = null;
		const load = async () => {
			try {
				const list = await allMachines();
				const scores = await healthScores();
				if (!live) return;
				if (list !== null) setMachines(withScores(list, scores));
				else if (scores !== null) setMachines((old) => (old === null ? old : withScores(old, scores)));
				setUpdated(new Date().toISOString());
				setError(null);
			} catch (e) {
				if (live) setError(e.message);
			}
			// Polled while the tab is visible; hidden tabs leave the daemon alone.
			if (live) timer = setTimeout(tick, POLL_MS);
		};
		const tick = () => (document.hidden ? (timer = setTimeout(tick, POLL_MS)) : load());
		load();
		// The sites' places change seldom: asked once a visit, not at each poll.
		api('GET', '/api/v1/site-locations').then((d) => live && setSites(d.sites || []), () => live && setSites([]));
		return () => { live = false; clearTimeout(timer); };
	}, []);

	const counts = useMemo(() => {
		const c = { online: 0, offline: 0, never: 0, revoked: 0 };
		for (const m of machines || []) c[statusOf(m)]++;
		return c;
	}, [machines]);

	const rows = useMemo(() => {
		const needle = search.trim().toLowerCase();
		const key = [...COLUMNS, HEALTH].find((c) => c[0] === sort[0])[2];
		return (machines || [])
			.filter((m) => !atSite || (m.customer === atSite[0] && m.site === atSite[1]))
			.filter((m) => !status || statusOf(m) === status)
			.filter((m) => !needle || [m.serial, m.site, m.customer].some((x) => x && x.toLowerCase().includes(needle)))
			.sort((a, b) => {
				const x = key(a), y = key(b);
				return (x < y ? -1 : x > y ? 1 : a.serial < b.serial ? -1 : 1) * sort[1];
			});
	}, [machines, search, status, sort, atSite && atSite.join('\n')]);

	if (error && !machines) return html`<${Notice} kind="error">${t('error.generic', { msg: error })}<//>`;
	if (!machines) return html`<p class="loading" role="status">${t('loading')}</p>`;

	const columns = machines.some((m) => healthOf(m) !== null) ? [COLUMNS[0], HEALTH, ...COLUMNS.slice(1)] : COLUMNS;
	const by = (col) => setSort(sort[0] === col ? [col, -sort[1]] : [col, 1]);
	const ariaSort = (col) => (sort[0] !== col ? 'none' : sort[1] > 0 ? 'ascending' : 'descending');

	return html`<section aria-labelledby="fleet-h">
		<h1 id="fleet-h">${t('fleet.title')}</h1>
		<ul class="counts" aria-label=${t('fleet.counts')}>
			${['online', 'offline', 'never', 'revoked'].map((s) => html`<li class=${'count ' + s}>
				<span class="n" data-testid=${'count-' + s}>${t.num(counts[s])}</span> ${t('fleet.' + s)}</li>`)}
		</ul>
		<${SiteMap} sites=${sites} machines=${machines} statusOf=${statusOf} current=${atSite} />
		${atSite && html`<p class="notice" role="status" data-testid="fleet-site">${t('map.showing', { site: atSite[1], customer: atSite[0] })}
			· <a href="#/fleet">${t('map.all')}</a></p>`}
		<div class="filters">
			<label for="fleet-search">${t('fleet.search')}</label>
			<input id="fleet-search" type="search" value=${search} onInput=${(e) => setSearch(e.target.value)} />
			<label for="fleet-status">${t('fleet.status')}</label>
			<select id="fleet-status" value=${status} onChange=${(e) => setStatus(e.target.value)}>
				<option value="">${t('fleet.all')}</option>
				${['online', 'offline', 'never', 'revoked'].map((s) => html`<option value=${s}>${t('fleet.' + s)}</option>`)}
			</select>
		</div>
		<p class="meta" aria-live="polite">${t('fleet.shown', { n: t.num(rows.length), total: t.num(machines.length) })}
			· ${t('fleet.updated', { time: t.time(updated) })}</p>
		${machines.length === 0 ? html`<${Notice}>${t('fleet.none')}<//>`
		: rows.length === 0 ? html`<${Notice}>${t('fleet.empty')}<//>`
		: html`<div class="table-wrap"><table class="fleet">
			<thead><tr>${columns.map(([col, label]) => html`<th scope="col" aria-sort=${ariaSort(col)}>
				<button type="button" class="sort" onClick=${() => by(col)} title=${t('fleet.sort', { col: t(label) })}>
					${t(label)}<span aria-hidden="true">${sort[0] === col ? (sort[1] > 0 ? ' ▲' : ' ▼') : ''}</span>
				</button></th>`)}</tr></thead>
			<tbody>${rows.map((m) => html`<tr key=${m.serial} data-serial=${m.serial}>
				<td><span class=${'badge ' + statusOf(m)}>${t('fleet.' + statusOf(m))}</span></td>
				${columns === COLUMNS ? null : html`<td data-health=${healthOf(m) ?? ''}>${healthOf(m) === null ? '—'
					: t.num(healthOf(m))}</td>`}
				<th scope="row"><a href=${'#/machine/' + encodeURIComponent(m.serial)}>${m.serial}</a></th>
				<td>${m.model}</td><td>${m.customer}</td><td>${m.site || '—'}</td>
				<td>${m.last_seen ? t.time(m.last_seen) : '—'}</td><td>${m.software_version || '—'}</td>
			</tr>`)}</tbody>
		</table></div>`}
	</section>`;
}
