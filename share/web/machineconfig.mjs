// The machine page's remote configuration (docs/CONFIGURATION-REMOTE.md):
// what is desired against what the machine reports it runs, member by
// member, the status (unset, pending, in sync, rejected with the machine's
// reason, drifted at the panel), the desired versions' history, and for
// the roles the API lets set one (roles.mjs configure) a form: the document
// as JSON and why. GET/POST /api/v1/machines/{serial}/config, .../history.
import { html, useState, useEffect, useApp, Notice } from './ui.mjs';
import { api, q } from './api.mjs';
import { may } from './roles.mjs';

const HISTORY = 10;

// { "settings.standby_min": 30, "recipes.espresso.water_ml": 30, ... }
function flatten(doc, prefix = '', out = {}) {
	for (const [k, v] of Object.entries(doc || {})) {
		if (v && typeof v === 'object' && !Array.isArray(v)) flatten(v, prefix + k + '.', out);
		else out[prefix + k] = v;
	}
	return out;
}

const shown = (t, v) => (v === undefined ? '—' : typeof v === 'number' ? t.num(v) : String(v));

function Members({ desired, reported }) {
	const { t } = useApp();
	const d = flatten(desired), r = flatten(reported);
	const keys = [...new Set([...Object.keys(d), ...Object.keys(r)])].sort();
	if (!keys.length) return null;
	return html`<div class="table-wrap"><table data-testid="config-members">
		<caption>${t('config.members')}</caption>
		<thead><tr><th scope="col">${t('config.member')}</th><th scope="col">${t('config.desired')}</th>
			<th scope="col">${t('config.reported')}</th></tr></thead>
		<tbody>${keys.map((k) => {
			const differs = reported !== undefined && JSON.stringify(d[k]) !== JSON.stringify(r[k]);
			return html`<tr data-member=${k} class=${differs ? 'differs' : ''}>
				<th scope="row"><code>${k}</code></th><td>${shown(t, d[k])}</td>
				<td>${shown(t, r[k])}${differs ? html` <span class="vh">${t('config.differs')}</span>` : ''}</td></tr>`;
		})}</tbody>
	</table></div>`;
}

// Kept by the section, not the form: a saved version remounts the form (its
// text the new desired document) and the message must outlive it.
function Editor({ serial, current, saved, setMsg }) {
	const { t } = useApp();
	const [text, setText] = useState(JSON.stringify(current || { settings: {} }, null, 2));
	const [why, setWhy] = useState('');
	const [busy, setBusy] = useState(false);
	async function submit(e) {
		e.preventDefault();
		setMsg(null);
		let config;
		try {
			config = JSON.parse(text);
		} catch (err) {
			setMsg({ kind: 'error', text: t('config.badjson', { msg: err.message }) });
			return;
		}
		setBusy(true);
		try {
			const doc = await api('POST', `/api/v1/machines/${encodeURIComponent(serial)}/config`, { config, reason: why });
			setMsg({ kind: 'info', text: t('config.saved', { version: t.num(doc.version) }) });
			saved(doc);
		} catch (err) {
			setMsg({ kind: 'error', text: t('config.refused', { msg: err.message }) });
		}
		setBusy(false);
	}
	return html`<form class="stack wide" onSubmit=${submit}>
		<h3>${t('config.edit')}</h3>
		<label for="config-doc">${t('config.doc')}</label>
		<textarea id="config-doc" rows="8" spellcheck="false" value=${text} onInput=${(e) => setText(e.target.value)}></textarea>
		<label for="config-why">${t('config.why')}</label>
		<input id="config-why" required maxlength="200" value=${why} onInput=${(e) => setWhy(e.target.value)} />
		<p><button type="submit" disabled=${busy}>${t('config.save')}</button></p>
	</form>`;
}

export function MachineConfig({ serial }) {
	const { t, me } = useApp();
	const [doc, setDoc] = useState(null);
	const [history, setHistory] = useState(null);
	const [error, setError] = useState(null);
	const [reload, setReload] = useState(0);
	const [msg, setMsg] = useState(null);
	useEffect(() => {
		let current = true;
		const path = `/api/v1/machines/${encodeURIComponent(serial)}/config`;
		api('GET', path).then((d) => current && setDoc(d), (e) => current && setError(e.message));
		api('GET', path + '/history' + q({ limit: HISTORY })).then((d) => current && setHistory(d.versions || []),
			() => current && setHistory([]));
		return () => { current = false; };
	}, [serial, reload]);
	let body;
	if (error) body = html`<${Notice} kind="error">${t('error.generic', { msg: error })}<//>`;
	else if (!doc) body = html`<p class="loading" role="status">${t('loading')}</p>`;
	else {
		const desired = doc.desired, reported = doc.reported;
		body = html`
		<p>${t('config.status')}: <span class=${'badge cfg-' + doc.status} data-testid="config-status">${t('config.s.' + doc.status)}</span>
			${doc.status === 'rejected' && doc.reason ? html` · ${t('config.rejected', { why: doc.reason })}` : ''}
			${doc.status === 'drifted' && doc.drift ? html` · ${t('config.drift', { member: doc.drift })}` : ''}</p>
		${doc.status === 'unset' ? html`<p>${t('config.unset')}</p>` : html`<dl class="facts">
			<dt>${t('config.desired')}</dt><dd data-testid="config-desired">${desired
				? t('config.version', { version: t.num(desired.version), when: t.time(desired.at), by: desired.by })
				+ (desired.why ? ' · ' + desired.why : '') : '—'}</dd>
			<dt>${t('config.reported')}</dt><dd>${reported
				? t('config.version.reported', { version: t.num(reported.version), when: t.time(reported.at) })
				+ ' · ' + t('config.r.' + reported.state) : t('config.reported.none')}</dd>
		</dl>`}
		<${Members} desired=${desired && desired.config} reported=${reported && reported.config} />
		${history && history.length > 0 && html`<div class="table-wrap"><table data-testid="config-history">
			<caption>${t('config.history', { n: t.num(history.length) })}</caption>
			<thead><tr><th scope="col">${t('config.v')}</th><th scope="col">${t('machine.when')}</th>
				<th scope="col">${t('config.by')}</th><th scope="col">${t('config.why.short')}</th></tr></thead>
			<tbody>${history.map((v) => html`<tr data-version=${v.version}><th scope="row">${t.num(v.version)}</th>
				<td>${t.time(v.at)}</td><td>${v.by}</td><td>${v.why || '—'}</td></tr>`)}</tbody>
		</table></div>`}
		${may.configure(me) ? html`<${Editor} key=${doc.version} serial=${serial} current=${desired && desired.config}
			saved=${() => setReload((n) => n + 1)} setMsg=${setMsg} />` : html`<p class="meta">${t('config.readonly')}</p>`}
		${msg && html`<${Notice} kind=${msg.kind}>${msg.text}<//>`}`;
	}
	return html`<section aria-labelledby="config-h" class="card" data-testid="machine-config">
		<h2 id="config-h">${t('config.title')}</h2>
		${body}
	</section>`;
}
