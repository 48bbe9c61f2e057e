// Service tickets (docs/OPERATIONS.md "Service tickets", /api/v1/tickets):
// the list with its filters, a ticket with its history, and what the
// signed-in person's side may do with it. The customer side (the people of
// the machine's customer) opens, comments, answers a ticket waiting for it
// and reopens; the service side (the service company above it, and
// subcontractors granted the machine) also assigns, moves and closes with a
// service report. The API decides; the page only offers what it would take.
import { html, useState, useEffect, useApp, Notice } from './ui.mjs';
import { api, allMachines, q } from './api.mjs';

export const STATES = ['open', 'assigned', 'in_progress', 'waiting_customer', 'resolved', 'closed'];
const COUNTERS = ['brew_unit', 'grinder_burrs', 'water_filter', 'descaling'];
// The steps a side makes with a state change (src/fleet/tickets.c `allowed`):
// assigned comes from an assignment, closed from a close.
const STEPS = {
	service: { assigned: ['in_progress', 'waiting_customer', 'resolved'], in_progress: ['waiting_customer', 'resolved'],
		waiting_customer: ['in_progress', 'resolved'], resolved: ['open'], closed: ['open'] },
	customer: { waiting_customer: ['in_progress'], resolved: ['open'], closed: ['open'] },
};
const CLOSABLE = ['assigned', 'in_progress', 'waiting_customer', 'resolved'];

// The machine's customer's own people are its customer side; everybody else who sees it, the service side.
export const sideOf = (me, ticket) => (me && me.role !== 'subcontractor' && ticket.customer &&
	me.org === ticket.customer ? 'customer' : 'service');

const path = (id, action) => '/api/v1/tickets/' + id + (action ? '/' + action : '');

export function TicketRows({ tickets, caption }) {
	const { t } = useApp();
	return html`<div class="table-wrap"><table data-testid="tickets">
		<caption>${caption}</caption>
		<thead><tr><th scope="col">${t('tickets.title.col')}</th><th scope="col">${t('forecast.machine')}</th>
			<th scope="col">${t('fleet.site')}</th><th scope="col">${t('tickets.state')}</th>
			<th scope="col">${t('tickets.assignee')}</th><th scope="col">${t('tickets.updated')}</th></tr></thead>
		<tbody>${tickets.map((k) => html`<tr data-ticket=${k.id} data-state=${k.state}>
			<th scope="row"><a href=${'#/tickets/' + k.id}>#${k.id} ${k.title}</a></th>
			<td><a href=${'#/machine/' + encodeURIComponent(k.serial)}>${k.serial}</a></td>
			<td>${[k.customer, k.site].filter(Boolean).join(' · ') || '—'}</td>
			<td><span class=${'badge ' + k.state}>${t('tickets.s.' + k.state)}</span></td>
			<td>${k.assignee || '—'}</td><td>${t.time(k.updated)}</td></tr>`)}</tbody>
	</table></div>`;
}

function OpenForm({ serials, serial: given, opened }) {
	const { t } = useApp();
	const [serial, setSerial] = useState(given || '');
	const [title, setTitle] = useState('');
	const [description, setDescription] = useState('');
	const [msg, setMsg] = useState(null);
	const chosen = serial || serials[0] || '';
	async function submit(e) {
		e.preventDefault();
		setMsg(null);
		try {
			const doc = await api('POST', '/api/v1/tickets', { serial: chosen, title, description: description || undefined });
			opened(doc.id);
		} catch (err) {
			setMsg(err.message);
		}
	}
	return html`<form class="card stack" onSubmit=${submit} aria-labelledby="ticket-open-h">
		<h2 id="ticket-open-h">${t('tickets.open.title')}</h2>
		<p class="meta">${t('tickets.open.explain')}</p>
		<label for="ticket-serial">${t('forecast.machine')}</label>
		<select id="ticket-serial" value=${chosen} onChange=${(e) => setSerial(e.target.value)}>
			${serials.map((s) => html`<option value=${s}>${s}</option>`)}</select>
		<label for="ticket-title">${t('tickets.title.col')}</label>
		<input id="ticket-title" required maxlength="120" value=${title} onInput=${(e) => setTitle(e.target.value)} />
		<label for="ticket-description">${t('tickets.description')}</label>
		<textarea id="ticket-description" rows="3" maxlength="2000" value=${description}
			onInput=${(e) => setDescription(e.target.value)}></textarea>
		<button type="submit" disabled=${!chosen}>${t('tickets.open.submit')}</button>
		${msg && html`<${Notice} kind="error">${t('error.generic', { msg })}<//>`}
	</form>`;
}

function History({ items }) {
	const { t } = useApp();
	return html`<ol class="history" data-testid="ticket-history">${items.map((h) => html`<li data-what=${h.what}>
		<strong>${t('tickets.h.' + h.what)}</strong>${h.detail && h.what !== 'closed' ? ' · ' + (STATES.includes(h.detail) ? t('tickets.s.' + h.detail) : h.detail) : ''}
		<span class="meta"> · ${h.who} · ${t.time(h.at)}</span>
		${h.text && html`<p class="prose">${h.text}</p>`}
		${h.report && html`<p class="prose">${t('tickets.report.work')}: ${h.report.work}
			${(h.report.parts || []).length > 0 && html`<br />${t('tickets.report.parts')}: ${h.report.parts.join(', ')}`}
			${(h.report.counters_reset || []).length > 0 && html`<br />${t('tickets.report.counters')}: ${
				h.report.counters_reset.map((c) => t('forecast.service.' + c)).join(', ')}`}</p>`}
	</li>`)}</ol>`;
}

function CloseForm({ act }) {
	const { t } = useApp();
	const [work, setWork] = useState('');
	const [parts, setParts] = useState('');
	const [counters, setCounters] = useState([]);
	const toggle = (c) => setCounters((cur) => (cur.includes(c) ? cur.filter((x) => x !== c) : [...cur, c]));
	return html`<form class="stack" onSubmit=${(e) => { e.preventDefault(); act('close', { report: {
			work, parts: parts.split(',').map((p) => p.trim()).filter(Boolean), counters_reset: counters } }); }}>
		<h3>${t('tickets.close.title')}</h3>
		<label for="ticket-work">${t('tickets.report.work')}</label>
		<textarea id="ticket-work" rows="3" required maxlength="2000" value=${work}
			onInput=${(e) => setWork(e.target.value)}></textarea>
		<label for="ticket-parts">${t('tickets.report.parts.input')}</label>
		<input id="ticket-parts" value=${parts} onInput=${(e) => setParts(e.target.value)} />
		<fieldset><legend>${t('tickets.report.counters')}</legend>
			${COUNTERS.map((c) => html`<label class="check"><input type="checkbox" checked=${counters.includes(c)}
				onChange=${() => toggle(c)} /> ${t('forecast.service.' + c)}</label>`)}</fieldset>
		<button type="submit">${t('tickets.close.submit')}</button>
	</form>`;
}

function Ticket({ id, changed }) {
	const { t, me } = useApp();
	const [k, setK] = useState(null);
	const [error, setError] = useState(null);
	const [msg, setMsg] = useState(null);
	const [comment, setComment] = useState('');
	const [assignee, setAssignee] = useState('');
	useEffect(() => {
		let current = true;
		setK(null); setError(null); setMsg(null);
		api('GET', path(id)).then((d) => current && setK(d),
			(e) => current && setError(e.status === 404 ? t('tickets.notfound') : e.message));
		return () => { current = false; };
	}, [id]);
	// Every action answers the ticket with its history: shown as it is now.
	async function act(action, body, done) {
		setMsg(null);
		try {
			setK(await api('POST', path(id, action), body));
			setMsg({ kind: 'info', key: 'tickets.done.' + action });
			if (done) done();
			changed();
		} catch (e) {
			setMsg({ kind: 'error', key: 'error.generic', vars: { msg: e.message } });
		}
	}
	if (error) return html`<${Notice} kind="error">${error}<//>`;
	if (!k) return html`<p class="loading" role="status">${t('loading')}</p>`;
	const side = sideOf(me, k);
	const steps = (STEPS[side][k.state] || []);
	const service = side === 'service';
	return html`<article class="card" aria-labelledby="ticket-h" data-testid="ticket">
		<h2 id="ticket-h">#${k.id} ${k.title}
			<span class=${'badge ' + k.state} data-testid="ticket-state">${t('tickets.s.' + k.state)}</span></h2>
		<dl class="facts">
			<dt>${t('forecast.machine')}</dt><dd><a href=${'#/machine/' + encodeURIComponent(k.serial)}>${k.serial}</a></dd>
			<dt>${t('fleet.site')}</dt><dd>${[k.customer, k.site].filter(Boolean).join(' · ') || '—'}</dd>
			<dt>${t('tickets.assignee')}</dt><dd data-testid="ticket-assignee">${k.assignee || '—'}</dd>
			<dt>${t('tickets.opened')}</dt><dd>${t.time(k.opened)} · ${k.opened_by}</dd>
			${k.alert && html`<dt>${t('tickets.alert')}</dt><dd>#${k.alert}</dd>`}
			<dt>${t('tickets.side')}</dt><dd>${t('tickets.side.' + side)}</dd>
		</dl>
		${k.description && html`<p class="prose">${k.description}</p>`}
		${msg && html`<${Notice} kind=${msg.kind}>${t(msg.key, msg.vars)}<//>`}
		${(steps.length > 0 || (service && !['resolved', 'closed'].includes(k.state))) && html`
		<div class="filters" role="group" aria-label=${t('tickets.actions')}>
			${steps.map((s) => html`<button type="button" onClick=${() => act('state', { state: s })}>${
				t(s === 'open' ? 'tickets.reopen' : 'tickets.to.' + s)}</button>`)}
		</div>`}
		${service && !['resolved', 'closed'].includes(k.state) && html`<form class="filters"
			onSubmit=${(e) => { e.preventDefault(); act('assign', { login: assignee }, () => setAssignee('')); }}>
			<label for="ticket-assignee">${t('tickets.assign.to')}</label>
			<input id="ticket-assignee" required value=${assignee} onInput=${(e) => setAssignee(e.target.value)} />
			<button type="submit">${t('tickets.assign')}</button>
		</form>`}
		${service && CLOSABLE.includes(k.state) && html`<${CloseForm} act=${act} />`}
		<h3>${t('tickets.history')}</h3>
		<${History} items=${k.history || []} />
		${k.state !== 'closed' ? html`<form class="stack"
			onSubmit=${(e) => { e.preventDefault(); act('comments', { text: comment }, () => setComment('')); }}>
			<label for="ticket-comment">${t('tickets.comment')}</label>
			<textarea id="ticket-comment" rows="2" required maxlength="2000" value=${comment}
				onInput=${(e) => setComment(e.target.value)}></textarea>
			<button type="submit">${t('tickets.comment.submit')}</button>
		</form>` : html`<p class="meta">${t('tickets.closed.nocomment')}</p>`}
	</article>`;
}

export function Tickets({ args }) {
	const { t } = useApp();
	const [machines, setMachines] = useState(null);
	const [state, setState] = useState('unclosed');
	const [machine, setMachine] = useState('');
	const [list, setList] = useState(null);
	const [more, setMore] = useState(null);
	const [error, setError] = useState(null);
	const [reload, setReload] = useState(0);
	const newFor = args[0] === 'new' ? decodeURIComponent(args[1] || '') : null;
	const picked = args[0] && args[0] !== 'new' ? args[0] : null;

	useEffect(() => {
		let current = true;
		allMachines().then((ms) => current && setMachines(ms), () => current && setMachines([]));
		return () => { current = false; };
	}, []);
	useEffect(() => {
		let current = true;
		setList(null); setError(null);
		api('GET', '/api/v1/tickets' + q({ state: state || null, machine: machine || null, limit: 50 }))
			.then((d) => { if (current) { setList(d.tickets || []); setMore(d.next_cursor || null); } },
				(e) => current && setError(e.message));
		return () => { current = false; };
	}, [state, machine, reload, picked]);
	async function loadMore() {
		const d = await api('GET', '/api/v1/tickets' + q({ state: state || null, machine: machine || null, limit: 50, cursor: more }));
		setList((cur) => [...cur, ...(d.tickets || [])]);
		setMore(d.next_cursor || null);
	}
	const serials = (machines || []).map((m) => m.serial).sort();

	return html`<section aria-labelledby="tickets-h">
		<h1 id="tickets-h">${t('tickets.heading')}</h1>
		<p class="meta">${t('tickets.explain')}</p>
		${picked && html`<${Ticket} id=${picked} changed=${() => setReload((n) => n + 1)} />`}
		${newFor !== null ? html`<${OpenForm} serials=${serials} serial=${newFor}
			opened=${(id) => { setReload((n) => n + 1); location.hash = '#/tickets/' + id; }} />`
		: html`<p><a class="button" href=${'#/tickets/new/' + encodeURIComponent(machine)}>${t('tickets.open.title')}</a></p>`}
		<form class="filters" onSubmit=${(e) => e.preventDefault()}>
			<label for="tickets-state">${t('tickets.state')}</label>
			<select id="tickets-state" value=${state} onChange=${(e) => setState(e.target.value)}>
				<option value="unclosed">${t('tickets.unclosed')}</option>
				<option value="">${t('fleet.all')}</option>
				${STATES.map((s) => html`<option value=${s}>${t('tickets.s.' + s)}</option>`)}</select>
			<label for="tickets-machine">${t('forecast.machine')}</label>
			<select id="tickets-machine" value=${machine} onChange=${(e) => setMachine(e.target.value)}>
				<option value="">${t('fleet.all')}</option>
				${serials.map((s) => html`<option value=${s}>${s}</option>`)}</select>
		</form>
		${error ? html`<${Notice} kind="error">${t('error.generic', { msg: error })}<//>`
		: !list ? html`<p class="loading" role="status">${t('loading')}</p>`
		: !list.length ? html`<${Notice}>${t(machine || (state && state !== 'unclosed') ? 'tickets.none.filtered' : 'tickets.none')}<//>`
		: html`<${TicketRows} tickets=${list} caption=${t('tickets.caption', { n: t.num(list.length) })} />
			${more && html`<p><button type="button" onClick=${loadMore}>${t('tickets.more')}</button></p>`}`}
	</section>`;
}
