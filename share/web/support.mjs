// The machine page's support parts: its service tickets (class service) and
// its diagnostics bundles (class technical: docs/METRICS.md "Diagnostics
// bundles"): ask the machine for one, follow its state, download it.
import { html, useState, useEffect, useApp, Notice } from './ui.mjs';
import { api, q } from './api.mjs';
import { TicketRows } from './tickets.mjs';

const BUNDLE_POLL_MS = 3000;
const PENDING = ['requested', 'uploading'];

export function MachineTickets({ serial }) {
	const { t } = useApp();
	const [list, setList] = useState(null);
	useEffect(() => {
		let current = true;
		setList(null);
		api('GET', '/api/v1/tickets' + q({ machine: serial, limit: 20 }))
			.then((d) => current && setList(d.tickets || []), () => current && setList([]));
		return () => { current = false; };
	}, [serial]);
	return html`<section aria-labelledby="mtickets-h" class="card">
		<h2 id="mtickets-h">${t('tickets.heading')}</h2>
		${!list ? html`<p class="loading" role="status">${t('loading')}</p>`
		: !list.length ? html`<${Notice}>${t('tickets.machine.none')}<//>`
		: html`<${TicketRows} tickets=${list} caption=${t('tickets.machine.caption', { n: t.num(list.length) })} />`}
		<p><a class="button" href=${'#/tickets/new/' + encodeURIComponent(serial)}>${t('tickets.open.title')}</a></p>
	</section>`;
}

const size = (t, n) => (n >= 1024 ? t.num(Math.round(n / 102.4) / 10) + ' KiB' : t.num(n) + ' B');

export function Bundles({ serial }) {
	const { t } = useApp();
	const [list, setList] = useState(null);
	const [msg, setMsg] = useState(null);
	const [reload, setReload] = useState(0);
	const url = `/api/v1/machines/${encodeURIComponent(serial)}/diagnostics`;
	useEffect(() => {
		let current = true, timer = null;
		api('GET', url + q({ limit: 20 })).then((d) => {
			if (!current) return;
			const bundles = d.bundles || [];
			setList(bundles);
			// A bundle on its way is followed until it lands, fails or expires.
			if (bundles.some((b) => PENDING.includes(b.state))) timer = setTimeout(() => setReload((n) => n + 1), BUNDLE_POLL_MS);
		}, (e) => current && setMsg({ kind: 'error', key: 'error.generic', vars: { msg: e.message } }));
		return () => { current = false; clearTimeout(timer); };
	}, [serial, reload]);
	async function request() {
		setMsg(null);
		try {
			const b = await api('POST', url);
			setList((cur) => [b, ...(cur || []).filter((x) => x.id !== b.id)]);
			setMsg({ kind: 'info', key: 'diag.requested', vars: { id: b.id } });
			setReload((n) => n + 1);
		} catch (e) {
			setMsg({ kind: 'error', key: 'error.generic', vars: { msg: e.message } });
		}
	}
	return html`<section aria-labelledby="bundles-h" class="card">
		<h2 id="bundles-h">${t('diag.title')}</h2>
		<p>${t('diag.explain')}</p>
		<p><button type="button" onClick=${request}>${t('diag.request')}</button></p>
		${msg && html`<${Notice} kind=${msg.kind}>${t(msg.key, msg.vars)}<//>`}
		${!list ? html`<p class="loading" role="status">${t('loading')}</p>`
		: !list.length ? html`<${Notice}>${t('diag.none')}<//>`
		: html`<div class="table-wrap"><table data-testid="bundles">
			<caption>${t('diag.caption', { n: t.num(list.length) })}</caption>
			<thead><tr><th scope="col">${t('diag.bundle')}</th><th scope="col">${t('tickets.state')}</th>
				<th scope="col">${t('diag.requested.by')}</th><th scope="col">${t('diag.size')}</th>
				<th scope="col">${t('diag.file')}</th></tr></thead>
			<tbody>${list.map((b) => html`<tr data-bundle=${b.id} data-state=${b.state}>
				<th scope="row">#${b.id}</th>
				<td class=${b.state === 'failed' ? 'bad' : ''}>${t('diag.s.' + b.state)}${b.reason ? ' · ' + b.reason : ''}</td>
				<td>${t.time(b.requested)} · ${b.requested_by}</td>
				<td>${b.state === 'complete' ? size(t, b.received) : t('diag.received', { n: size(t, b.received), max: size(t, b.max_bytes) })}</td>
				<td>${b.state === 'complete' ? html`<a href=${`/api/v1/diagnostics/${b.id}/content`}
					download=${`diagnostics-${serial}-${b.id}.bin`}>${t('diag.download')}<span class="vh"> #${b.id}</span></a>
					${b.sha256 && html`<br /><code class="meta" title="SHA-256">${b.sha256.slice(0, 16)}…</code>`}` : '—'}</td>
			</tr>`)}</tbody>
		</table></div>`}
	</section>`;
}
