// Software updates (docs/UPDATES.md): the stored artifacts with their signed
// metadata and release notes, and the staged rollouts with each phase's
// progress, paused, resumed or aborted from here. The manufacturer's
// engineers and administrators only, as the API's releaser check
// (src/api/updates.c); others get its refusal explained.
import { html, useState, useEffect, useApp, Notice } from './ui.mjs';
import { api } from './api.mjs';
import { may } from './roles.mjs';

const POLL_MS = 5000;
const ACTIVE = ['running', 'paused', 'halted'];
// The machine states of a phase, as the columns of its progress: each
// column sums the states it names (docs/UPDATES.md "Progress reports").
const COLUMNS = [
	['offered', ['offered']],
	['downloading', ['downloading']],
	['installing', ['verifying', 'installing', 'rebooting']],
	['succeeded', ['succeeded']],
	['failed', ['failed', 'rolled_back']],
	['skipped', ['skipped']],
];
// What a rollout in a state may be told (src/fleet/rollouts.c): a halted one is aborted, not resumed.
const ACTIONS = { running: ['pause', 'abort'], paused: ['resume', 'abort'], halted: ['abort'] };

const short = (sha) => (sha || '').slice(0, 12);
const SLICE = 1024 * 1024; // the API's largest body: an artifact travels in slices of it
const bytes = (t, n) => (n >= 1048576 ? t.num(Math.round(n / 104857.6) / 10) + ' MiB'
	: n >= 1024 ? t.num(Math.round(n / 102.4) / 10) + ' KiB' : t.num(n) + ' B');

function ArtifactDetail({ sha }) {
	const { t } = useApp();
	const [doc, setDoc] = useState(null);
	const [error, setError] = useState(null);
	useEffect(() => {
		let current = true;
		setDoc(null); setError(null);
		api('GET', '/api/v1/artifacts/' + sha).then((d) => current && setDoc(d), (e) => current && setError(e.message));
		return () => { current = false; };
	}, [sha]);
	if (error) return html`<${Notice} kind="error">${t('error.generic', { msg: error })}<//>`;
	if (!doc) return html`<p class="loading" role="status">${t('loading')}</p>`;
	return html`<section class="card" aria-labelledby="artifact-h" data-testid="artifact-detail">
		<h3 id="artifact-h">${t('updates.artifact.detail', { version: doc.version })}</h3>
		<dl class="facts">
			<dt>SHA-256</dt><dd><code>${doc.sha256}</code></dd>
			<dt>${t('updates.models')}</dt><dd>${(doc.models || []).join(', ')}</dd>
			<dt>${t('updates.minfrom')}</dt><dd>${doc.min_from_version || '—'}</dd>
			<dt>${t('updates.size')}</dt><dd>${bytes(t, doc.size)}</dd>
			<dt>${t('updates.key')}</dt><dd><code>${doc.key_id}</code></dd>
			<dt>${t('updates.expires')}</dt><dd>${t.time(doc.expires)}</dd>
			<dt>${t('updates.added')}</dt><dd>${t.time(doc.added_ms)} · ${doc.added_by}</dd>
		</dl>
		<h4>${t('updates.notes')}</h4>
		${doc.notes ? html`<p class="prose" data-testid="artifact-notes">${doc.notes}</p>`
		: html`<p>${t('updates.notes.none')}</p>`}
	</section>`;
}

function Artifacts({ artifacts, open, setOpen }) {
	const { t } = useApp();
	if (!artifacts.length) return html`<${Notice}>${t('updates.artifacts.none')}<//>`;
	return html`<div class="table-wrap"><table data-testid="artifacts">
		<caption>${t('updates.artifacts.caption', { n: t.num(artifacts.length) })}</caption>
		<thead><tr><th scope="col">${t('updates.version')}</th><th scope="col">${t('updates.models')}</th>
			<th scope="col">${t('updates.size')}</th><th scope="col">${t('updates.added')}</th>
			<th scope="col">SHA-256</th><th scope="col"><span class="vh">${t('updates.details')}</span></th></tr></thead>
		<tbody>${artifacts.map((a) => html`<tr data-sha=${a.sha256}>
			<th scope="row">${a.version}</th><td>${(a.models || []).join(', ')}</td><td>${bytes(t, a.size)}</td>
			<td>${t.time(a.added_ms)} · ${a.added_by}</td><td><code>${short(a.sha256)}</code></td>
			<td><button type="button" aria-expanded=${open === a.sha256}
				onClick=${() => setOpen(open === a.sha256 ? null : a.sha256)}>${t('updates.details')}<span class="vh"> ${a.version}</span></button></td></tr>`)}</tbody>
	</table></div>
	${open && html`<${ArtifactDetail} sha=${open} />`}`;
}

function Phases({ r }) {
	const { t } = useApp();
	const rows = r.phase_progress || [];
	return html`<div class="table-wrap"><table data-testid="rollout-phases">
		<caption>${t('updates.phases.caption', { phase: t.num(r.phase), n: t.num(rows.length) })}</caption>
		<thead><tr><th scope="col">${t('updates.phase')}</th><th scope="col">${t('updates.phase.share')}</th>
			<th scope="col">${t('updates.phase.machines')}</th><th scope="col">${t('updates.state.pending')}</th>
			${COLUMNS.map(([c]) => html`<th scope="col">${t('updates.state.' + c)}</th>`)}</tr></thead>
		<tbody>${rows.map((p) => {
			const counts = p.counts || {};
			const sum = (states) => states.reduce((s, k) => s + (counts[k] || 0), 0);
			const offered = Object.values(counts).reduce((s, n) => s + n, 0);
			return html`<tr data-phase=${p.phase} aria-current=${p.phase === r.phase && ACTIVE.includes(r.state) ? 'step' : undefined}>
				<th scope="row">${t.num(p.phase)}</th><td>${t.num(p.percent)} %</td><td>${t.num(p.machines)}</td>
				<td>${t.num(Math.max(0, p.machines - offered))}</td>
				${COLUMNS.map(([c, states]) => html`<td data-col=${c} class=${c === 'failed' && sum(states) ? 'bad' : ''}>${t.num(sum(states))}</td>`)}</tr>`;
		})}</tbody>
	</table></div>`;
}

function RolloutDetail({ id, mayAct, changed }) {
	const { t } = useApp();
	const [r, setR] = useState(null);
	const [error, setError] = useState(null);
	const [msg, setMsg] = useState(null);
	const [busy, setBusy] = useState(false);
	useEffect(() => {
		let current = true, timer = null;
		setR(null); setError(null); setMsg(null);
		const load = () => api('GET', '/api/v1/rollouts/' + id).then((d) => {
			if (!current) return;
			setR(d);
			// A running rollout moves by itself: followed while it does and the tab is shown.
			if (d.state === 'running') timer = setTimeout(() => (document.hidden ? timer = setTimeout(load, POLL_MS) : load()), POLL_MS);
		}, (e) => current && setError(e.message));
		load();
		return () => { current = false; clearTimeout(timer); };
	}, [id]);
	async function act(action) {
		setBusy(true); setMsg(null);
		try {
			const d = await api('POST', `/api/v1/rollouts/${id}/${action}`);
			setR(d);
			setMsg({ kind: 'info', key: 'updates.done.' + action, vars: { id } });
			changed();
		} catch (e) {
			setMsg({ kind: 'error', key: 'error.generic', vars: { msg: e.message } });
		}
		setBusy(false);
	}
	if (error) return html`<${Notice} kind="error">${t('error.generic', { msg: error })}<//>`;
	if (!r) return html`<p class="loading" role="status">${t('loading')}</p>`;
	const total = r.machines_total || 0;
	return html`<section class="card" aria-labelledby="rollout-h" data-testid="rollout-detail">
		<h3 id="rollout-h">${t('updates.rollout.detail', { id: r.id })}:
			<span class=${'badge ' + r.state} data-testid="rollout-state">${t('updates.rstate.' + r.state)}</span></h3>
		<p class="meta">${t('updates.rollout.progress', { pct: t.num(r.finished_percent ?? 0), n: t.num(total) })}
			${r.skipped > 0 ? ' · ' + t('updates.rollout.skipped', { n: t.num(r.skipped) }) : ''}
			${r.window ? ' · ' + t('updates.rollout.window', { window: r.window }) : ''}</p>
		${r.halt_reason && html`<${Notice} kind="error">${t('updates.rollout.halted', { why: r.halt_reason })}<//>`}
		${mayAct && (ACTIONS[r.state] || []).length > 0 && html`<p class="filters">
			${ACTIONS[r.state].map((a) => html`<button type="button" disabled=${busy}
				onClick=${() => act(a)}>${t('updates.act.' + a)}</button>`)}</p>`}
		${msg && html`<${Notice} kind=${msg.kind}>${t(msg.key, msg.vars)}<//>`}
		<${Phases} r=${r} />
		${(r.machines || []).length > 0 && html`<div class="table-wrap"><table data-testid="rollout-machines">
			<caption>${t('updates.machines.caption')}</caption>
			<thead><tr><th scope="col">${t('forecast.machine')}</th><th scope="col">${t('updates.phase')}</th>
				<th scope="col">${t('fleet.status')}</th><th scope="col">${t('updates.percent')}</th>
				<th scope="col">${t('updates.reason')}</th><th scope="col">${t('updates.updated')}</th></tr></thead>
			<tbody>${r.machines.map((m) => html`<tr data-serial=${m.serial}>
				<th scope="row"><a href=${'#/machine/' + encodeURIComponent(m.serial)}>${m.serial}</a></th>
				<td>${m.phase > 0 ? t.num(m.phase) : '—'}</td>
				<td class=${m.state === 'failed' || m.state === 'rolled_back' ? 'bad' : ''}>${t('updates.mstate.' + m.state)}</td>
				<td>${m.state === 'downloading' ? t.num(m.percent) + ' %' : '—'}</td><td>${m.reason || '—'}</td>
				<td>${m.updated_ms ? t.time(m.updated_ms) : '—'}</td></tr>`)}</tbody>
		</table></div>`}
	</section>`;
}

// The machine page's update: the artifact offered now, by a rollout or to the
// machine alone, and the latest the machine reported of it (GET
// /api/v1/machines/{serial}/update), for the technical class; the rollout's
// page is linked for those who release.
export function MachineUpdate({ serial }) {
	const { t, me } = useApp();
	const [doc, setDoc] = useState(null);
	const [error, setError] = useState(null);
	useEffect(() => {
		let current = true, timer = null;
		const load = () => api('GET', `/api/v1/machines/${encodeURIComponent(serial)}/update`).then((d) => {
			if (!current) return;
			setDoc(d);
			const o = d.offer;
			// A download under way moves: followed while the tab is shown.
			if (o && (o.rollout_state === null || o.rollout_state === 'running') &&
				!['succeeded', 'failed', 'rolled_back'].includes(o.state))
				timer = setTimeout(() => (document.hidden ? (timer = setTimeout(load, POLL_MS)) : load()), POLL_MS);
		}, (e) => current && setError(e.message));
		load();
		return () => { current = false; clearTimeout(timer); };
	}, [serial]);
	let body;
	if (error) body = html`<${Notice} kind="error">${t('error.generic', { msg: error })}<//>`;
	else if (!doc) body = html`<p class="loading" role="status">${t('loading')}</p>`;
	else if (!doc.offer) body = html`<p data-testid="update-none">${t('mupdate.none')}</p>`;
	else {
		const o = doc.offer;
		body = html`<dl class="facts" data-testid="machine-update">
			<dt>${t('mupdate.offer')}</dt><dd>${t('mupdate.offered', { version: o.version, when: t.time(o.offered_ms) })}</dd>
			${o.rollout !== null && html`<dt>${t('updates.rollout')}</dt><dd>${may.release(me)
				? html`<a href=${'#/updates/' + o.rollout}>${t('updates.rollout.detail', { id: o.rollout })}</a>`
				: t('updates.rollout.detail', { id: o.rollout })} · ${t('updates.rstate.' + o.rollout_state)}${o.phase
				? ' · ' + t('mupdate.phase', { phase: t.num(o.phase) }) : ''}</dd>`}
			<dt>${t('mupdate.progress')}</dt><dd data-testid="update-state" class=${o.state === 'failed' || o.state === 'rolled_back' ? 'bad' : ''}>
				${t('updates.mstate.' + o.state)}${o.state === 'downloading' ? ' · ' + t.num(o.percent) + ' %' : ''}${o.reason
				? ' · ' + o.reason : ''}${o.updated_ms ? ' · ' + t.time(o.updated_ms) : ''}</dd>
		</dl>`;
	}
	return html`<section aria-labelledby="mupdate-h" class="card">
		<h2 id="mupdate-h">${t('mupdate.title')}</h2>
		${body}
	</section>`;
}

// The upload: the signed metadata first (checked before any byte of the file:
// an untrusted key, an expired or unsigned document is refused here), then
// the file in slices at the offset the server has; a refusal says why.
function Upload({ uploaded }) {
	const { t } = useApp();
	const [msg, setMsg] = useState(null);
	const [sent, setSent] = useState(null); // [bytes, of]
	const [busy, setBusy] = useState(false);
	async function submit(e) {
		e.preventDefault();
		const form = e.target;
		const file = form.elements['upload-file'].files[0], meta = form.elements['upload-meta'].files[0];
		setMsg(null);
		if (!file || !meta) {
			setMsg({ kind: 'error', text: t('upload.both') });
			return;
		}
		setBusy(true);
		try {
			const start = await api('POST', '/api/v1/artifacts', { metadata: await meta.text() });
			if (start.size !== file.size) throw new Error(t('upload.size', { file: t.num(file.size), signed: t.num(start.size) }));
			let offset = start.received || 0;
			setSent([offset, file.size]);
			let done = false;
			while (!done) {
				const slice = new Uint8Array(await file.slice(offset, offset + SLICE).arrayBuffer());
				let got;
				try {
					got = await api('POST', `/api/v1/artifacts/${start.sha256}/content?offset=${offset}`, slice, { raw: true });
				} catch (err) {
					// The server has another count (an earlier attempt): go on from there.
					if (err.status === 409 && err.doc && typeof err.doc.received === 'number' && err.doc.received !== offset) {
						offset = err.doc.received;
						continue;
					}
					throw err;
				}
				offset = got.received;
				done = got.complete;
				setSent([offset, file.size]);
				if (!done && slice.length === 0) throw new Error(t('upload.short'));
			}
			setMsg({ kind: 'info', text: t('upload.done', { version: start.version }) });
			form.reset();
			uploaded(start.sha256);
		} catch (err) {
			setMsg({ kind: 'error', text: t('upload.refused', { msg: err.message }) });
		}
		setBusy(false);
	}
	return html`<form class="card stack wide" onSubmit=${submit} aria-labelledby="upload-h" data-testid="upload">
		<h3 id="upload-h">${t('upload.title')}</h3>
		<p class="meta">${t('upload.explain')}</p>
		<label for="upload-file">${t('upload.file')}</label>
		<input id="upload-file" name="upload-file" type="file" />
		<label for="upload-meta">${t('upload.meta')}</label>
		<input id="upload-meta" name="upload-meta" type="file" accept=".json,application/json" />
		<p><button type="submit" disabled=${busy}>${t('upload.submit')}</button></p>
		${sent && busy && html`<p><label for="upload-progress">${t('upload.progress')}</label>
			<progress id="upload-progress" max=${sent[1]} value=${sent[0]}></progress></p>`}
		${msg && html`<${Notice} kind=${msg.kind}>${msg.text}<//>`}
	</form>`;
}

const numbers = (text) => text.split(/[\s,;]+/).filter(Boolean).map(Number);

// A new rollout: the artifact, its target (a group's id, a list of serials,
// or a filter), the phases, soak, failure threshold, health margin and a
// maintenance window; the API's refusal is shown as it gives it.
function CreateRollout({ artifacts, created }) {
	const { t } = useApp();
	const [kind, setKind] = useState('serials');
	const [msg, setMsg] = useState(null);
	const [busy, setBusy] = useState(false);
	async function submit(e) {
		e.preventDefault();
		const v = (name) => e.target.elements[name].value.trim();
		const body = { artifact: v('ro-artifact') };
		if (kind === 'group') body.target = { group: Number(v('ro-group')) };
		else if (kind === 'serials') body.target = { serials: v('ro-serials').split(/[\s,;]+/).filter(Boolean) };
		else {
			const filter = {};
			for (const k of ['model', 'version', 'site', 'customer']) if (v('ro-' + k)) filter[k] = v('ro-' + k);
			body.target = { filter };
		}
		if (v('ro-phases')) body.phases = numbers(v('ro-phases'));
		for (const [k, name] of [['soak', 'ro-soak'], ['threshold', 'ro-threshold'], ['health_margin', 'ro-margin']])
			if (v(name) !== '') body[k] = Number(v(name)) * (k === 'soak' ? 60 : 1);
		if (v('ro-window')) body.window = v('ro-window');
		setBusy(true); setMsg(null);
		try {
			const r = await api('POST', '/api/v1/rollouts', body);
			created(r.id);
		} catch (err) {
			setMsg(t('rollout.refused', { msg: err.message }));
		}
		setBusy(false);
	}
	if (!artifacts.length) return null;
	return html`<form class="card stack wide" onSubmit=${submit} aria-labelledby="newrollout-h" data-testid="new-rollout">
		<h3 id="newrollout-h">${t('rollout.new')}</h3>
		<label for="ro-artifact">${t('rollout.artifact')}</label>
		<select id="ro-artifact" name="ro-artifact">${artifacts.map((a) => html`<option value=${a.sha256}>${a.version} (${short(a.sha256)})</option>`)}</select>
		<fieldset><legend>${t('rollout.target')}</legend>
			${['serials', 'group', 'filter'].map((k) => html`<label class="check"><input type="radio" name="ro-kind" value=${k}
				checked=${kind === k} onChange=${() => setKind(k)} /> ${t('rollout.target.' + k)}</label> `)}
		</fieldset>
		${kind === 'serials' && html`<label for="ro-serials">${t('rollout.serials')}</label>
			<textarea id="ro-serials" name="ro-serials" rows="2" required></textarea>`}
		${kind === 'group' && html`<label for="ro-group">${t('rollout.group')}</label>
			<input id="ro-group" name="ro-group" type="number" min="1" required />`}
		${kind === 'filter' && ['model', 'version', 'site', 'customer'].map((k) => html`<label for=${'ro-' + k}>${t('rollout.f.' + k)}</label>
			<input id=${'ro-' + k} name=${'ro-' + k} />`)}
		<label for="ro-phases">${t('rollout.phases')}</label>
		<input id="ro-phases" name="ro-phases" placeholder="1, 10, 50, 100" />
		<label for="ro-soak">${t('rollout.soak')}</label>
		<input id="ro-soak" name="ro-soak" type="number" min="0" max="43200" />
		<label for="ro-threshold">${t('rollout.threshold')}</label>
		<input id="ro-threshold" name="ro-threshold" type="number" min="0" max="100" />
		<label for="ro-margin">${t('rollout.margin')}</label>
		<input id="ro-margin" name="ro-margin" type="number" min="0" max="100" />
		<label for="ro-window">${t('rollout.window')}</label>
		<input id="ro-window" name="ro-window" placeholder="mon-fri 01:00-05:00" />
		<p><button type="submit" disabled=${busy}>${t('rollout.start')}</button></p>
		${msg && html`<${Notice} kind="error">${msg}<//>`}
	</form>`;
}

export function Updates({ args }) {
	const { t, me } = useApp();
	const [artifacts, setArtifacts] = useState(null);
	const [rollouts, setRollouts] = useState(null);
	const [error, setError] = useState(null);
	const [refused, setRefused] = useState(false);
	const [openArtifact, setOpenArtifact] = useState(null);
	const [reload, setReload] = useState(0);
	const picked = args[0] ? Number(args[0]) : null;

	useEffect(() => {
		let current = true;
		const fail = (e) => { if (!current) return; if (e.status === 403) setRefused(true); else setError(e.message); };
		api('GET', '/api/v1/artifacts').then((d) => current && setArtifacts(d.artifacts || []), fail);
		api('GET', '/api/v1/rollouts').then((d) => current && setRollouts(d.rollouts || []), fail);
		return () => { current = false; };
	}, [reload]);

	const version = (sha) => ((artifacts || []).find((a) => a.sha256 === sha) || {}).version || short(sha);
	let body;
	if (refused) body = html`<${Notice}>${t('updates.refused')}<//>`;
	else if (error) body = html`<${Notice} kind="error">${t('error.generic', { msg: error })}<//>`;
	else if (!artifacts || !rollouts) body = html`<p class="loading" role="status">${t('loading')}</p>`;
	else body = html`
		<h2>${t('updates.rollouts')}</h2>
		${!rollouts.length ? html`<${Notice}>${t('updates.rollouts.none')}<//>` : html`
		<div class="table-wrap"><table data-testid="rollouts">
			<caption>${t('updates.rollouts.caption', { n: t.num(rollouts.length) })}</caption>
			<thead><tr><th scope="col">${t('updates.rollout')}</th><th scope="col">${t('updates.version')}</th>
				<th scope="col">${t('fleet.status')}</th><th scope="col">${t('updates.phase')}</th>
				<th scope="col">${t('updates.created')}</th></tr></thead>
			<tbody>${rollouts.map((r) => html`<tr data-rollout=${r.id}>
				<th scope="row"><a href=${'#/updates/' + r.id} aria-current=${picked === r.id ? 'true' : undefined}>
					${t('updates.rollout.detail', { id: r.id })}</a></th>
				<td>${version(r.artifact)}</td>
				<td><span class=${'badge ' + r.state}>${t('updates.rstate.' + r.state)}</span></td>
				<td>${t('updates.phase.of', { phase: t.num(r.phase), n: t.num((r.phases || []).length) })}</td>
				<td>${t.time(r.created_ms)} · ${r.created_by}</td></tr>`)}</tbody>
		</table></div>`}
		${picked && html`<${RolloutDetail} id=${picked} mayAct=${may.release(me)} changed=${() => setReload((n) => n + 1)} />`}
		${may.release(me) && html`<${CreateRollout} artifacts=${artifacts} created=${(id) => {
			setReload((n) => n + 1);
			location.hash = '#/updates/' + id;
		}} />`}
		<h2>${t('updates.artifacts')}</h2>
		<${Artifacts} artifacts=${artifacts} open=${openArtifact} setOpen=${setOpenArtifact} />
		${may.release(me) && html`<${Upload} uploaded=${() => setReload((n) => n + 1)} />`}`;
	return html`<section aria-labelledby="updates-h">
		<h1 id="updates-h">${t('updates.title')}</h1>
		<p class="meta">${t('updates.explain')}</p>
		${body}
	</section>`;
}
