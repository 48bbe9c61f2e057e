// Alerts: open, acknowledged and resolved, filtered by severity and machine;
// acknowledge, resolve and comment from the page (the alert's history opens
// beside it); and the signed-in person's notification e-mail settings.
import { html, useState, useEffect, useRef, useApp, Notice } from './ui.mjs';
import { api, q } from './api.mjs';

const STATES = ['open', 'acknowledged', 'resolved'];
const SEVERITIES = ['critical', 'warning', 'info'];
const COMMENT_MAX = 280;

// The rule in words, then the cause's detail (an error code, a consumable)
// when the role sees it: the API cuts it for the others.
function cause(t, a) {
	const rule = t('rule.' + a.rule) === 'rule.' + a.rule ? a.rule : t('rule.' + a.rule);
	const detail = a.cause && a.cause.startsWith(a.rule + ':') ? a.cause.slice(a.rule.length + 1) : '';
	return detail ? `${rule} · ${detail}` : rule;
}

function History({ alert, onChanged }) {
	const { t } = useApp();
	const [doc, setDoc] = useState(null);
	const [text, setText] = useState('');
	const [msg, setMsg] = useState(null);
	const load = () => api('GET', '/api/v1/alerts/' + alert.id).then(setDoc, (e) => setMsg(['error', 'error.generic', { msg: e.message }]));
	useEffect(() => { load(); }, [alert.id, alert.state]);

	async function comment(e) {
		e.preventDefault();
		setMsg(null);
		try {
			setDoc(await api('POST', `/api/v1/alerts/${alert.id}/comment`, { text }));
			setText('');
			setMsg(['info', 'alerts.commented']);
		} catch (err) {
			setMsg(['error', 'alerts.comment.refused', { msg: err.message }]);
		}
	}
	const id = 'comment-' + alert.id;
	return html`<div class="history" data-testid=${'history-' + alert.id}>
		<h3>${t('alerts.history')}</h3>
		${!doc ? html`<p class="loading" role="status">${t('loading')}</p>` : html`<ol>
			${(doc.history || []).map((h) => html`<li><span class="meta">${t.time(h.at)}</span>
				${' '}${t('alerts.what.' + h.what) === 'alerts.what.' + h.what ? h.what : t('alerts.what.' + h.what)}
				${' '}(${h.who})${h.text ? html`: <q>${h.text}</q>` : ''}</li>`)}</ol>`}
		<form class="stack" onSubmit=${comment}>
			<label for=${id}>${t('alerts.comment', { max: COMMENT_MAX })}</label>
			<textarea id=${id} rows="2" maxlength=${COMMENT_MAX} required value=${text}
				onInput=${(e) => setText(e.target.value)}></textarea>
			<p class="meta">${t('alerts.comment.hint')}</p>
			<div><button type="submit">${t('alerts.comment.send')}</button></div>
		</form>
		${msg && html`<${Notice} kind=${msg[0]}>${t(msg[1], msg[2])}<//>`}
	</div>`;
}

function Notifications() {
	const { t } = useApp();
	const [prefs, setPrefs] = useState(null);
	const [msg, setMsg] = useState(null);
	useEffect(() => {
		api('GET', '/api/v1/me/notifications').then(setPrefs, (e) => setMsg(['error', 'error.generic', { msg: e.message }]));
	}, []);
	if (!prefs) return msg ? html`<${Notice} kind="error">${t(msg[1], msg[2])}<//>` : null;
	const list = (s) => s.split(',').map((x) => x.trim()).filter(Boolean);
	async function save(e) {
		e.preventDefault();
		const f = new FormData(e.target);
		const body = {
			email: f.get('email') === 'on', kinds: list(f.get('kinds') || ''), sites: list(f.get('sites') || ''),
			quiet: f.get('quiet') || '', tz: f.get('tz') || 'UTC', language: f.get('language'),
		};
		try {
			setPrefs(await api('POST', '/api/v1/me/notifications', body));
			setMsg(['info', 'notify.saved']);
		} catch (err) {
			setMsg(['error', 'notify.refused', { msg: err.message }]);
		}
	}
	return html`<section aria-labelledby="notify-h" class="card">
		<h2 id="notify-h">${t('notify.title')}</h2>
		<p>${t('notify.intro')}</p>
		<form class="stack" onSubmit=${save}>
			<label class="check"><input type="checkbox" name="email" checked=${prefs.email} /> ${t('notify.email')}</label>
			<label for="notify-kinds">${t('notify.kinds')}</label>
			<input id="notify-kinds" name="kinds" value=${(prefs.kinds || []).join(', ')} />
			<label for="notify-sites">${t('notify.sites')}</label>
			<input id="notify-sites" name="sites" value=${(prefs.sites || []).join(', ')} />
			<label for="notify-quiet">${t('notify.quiet')}</label>
			<input id="notify-quiet" name="quiet" placeholder="22:00-07:00" pattern="^$|^\\d\\d:\\d\\d-\\d\\d:\\d\\d$"
				value=${prefs.quiet || ''} />
			<label for="notify-tz">${t('notify.tz')}</label>
			<input id="notify-tz" name="tz" value=${prefs.tz || 'UTC'} />
			<label for="notify-lang">${t('notify.language')}</label>
			<select id="notify-lang" name="language" value=${prefs.language || 'en'}>
				<option value="en">English</option><option value="hu">Magyar</option></select>
			<div><button type="submit">${t('notify.save')}</button></div>
		</form>
		${msg && html`<${Notice} kind=${msg[0]}>${t(msg[1], msg[2])}<//>`}
	</section>`;
}

export function Alerts() {
	const { t } = useApp();
	const [state, setState] = useState('open');
	const [severity, setSeverity] = useState('');
	const [serial, setSerial] = useState('');
	const [list, setList] = useState(null);
	const [cursor, setCursor] = useState(null);
	const [error, setError] = useState(null);
	const [open, setOpen] = useState(null); // the alert whose history is shown
	const [done, setDone] = useState(null);

	// Each load is numbered: an answer for filters changed meanwhile is dropped.
	const asked = useRef(0);
	const load = async (more) => {
		const mine = ++asked.current;
		try {
			const doc = await api('GET', '/api/v1/alerts' + q({ state, severity, serial: serial.trim(), limit: 50,
				cursor: more ? cursor : null }));
			if (mine !== asked.current) return;
			setList((cur) => (more ? [...(cur || []), ...doc.alerts] : doc.alerts));
			setCursor(doc.next_cursor || null);
			setError(null);
		} catch (e) {
			if (mine !== asked.current) return;
			setError(e.status === 400 ? t('alerts.badfilter') : e.message);
			setList([]);
		}
	};
	useEffect(() => { setList(null); load(false); }, [state, severity, serial]);

	async function act(a, verb) {
		setDone(null);
		try {
			await api('POST', `/api/v1/alerts/${a.id}/${verb}`);
			setDone(['info', 'alerts.done.' + verb, { id: a.id }]);
		} catch (e) {
			setDone(['error', e.status === 409 ? 'alerts.conflict' : 'error.generic', { msg: e.message }]);
		}
		load(false);
	}

	return html`<section aria-labelledby="alerts-h">
		<h1 id="alerts-h">${t('alerts.title')}</h1>
		<div class="filters" role="group" aria-label=${t('alerts.state')}>
			${STATES.map((s) => html`<button type="button" aria-pressed=${state === s}
				onClick=${() => setState(s)}>${t('alerts.state.' + s)}</button>`)}
		</div>
		<div class="filters">
			<label for="alerts-severity">${t('alerts.severity')}</label>
			<select id="alerts-severity" value=${severity} onChange=${(e) => setSeverity(e.target.value)}>
				<option value="">${t('fleet.all')}</option>
				${SEVERITIES.map((s) => html`<option value=${s}>${t('severity.' + s)}</option>`)}
			</select>
			<label for="alerts-serial">${t('alerts.serial')}</label>
			<input id="alerts-serial" type="search" value=${serial} onChange=${(e) => setSerial(e.target.value)} />
		</div>
		${done && html`<${Notice} kind=${done[0]}>${t(done[1], done[2])}<//>`}
		${error ? html`<${Notice} kind="error">${error}<//>`
		: !list ? html`<p class="loading" role="status">${t('loading')}</p>`
		: list.length === 0 ? html`<${Notice}>${t('alerts.none.' + state)}<//>`
		: html`<div class="table-wrap"><table class="alerts">
			<thead><tr><th scope="col">${t('alerts.severity')}</th><th scope="col">${t('fleet.serial')}</th>
				<th scope="col">${t('alerts.cause')}</th><th scope="col">${t('alerts.opened')}</th>
				<th scope="col">${t('alerts.level')}</th><th scope="col">${t('alerts.by')}</th>
				<th scope="col">${t('alerts.actions')}</th></tr></thead>
			<tbody>${list.map((a) => html`<tr key=${a.id} data-alert=${a.id} data-state=${a.state}>
				<td><span class=${'badge sev-' + a.severity}>${t('severity.' + a.severity)}</span></td>
				<th scope="row"><a href=${'#/machine/' + encodeURIComponent(a.serial)}>${a.serial}</a></th>
				<td>${cause(t, a)}</td><td>${t.time(a.opened)}</td>
				<td>${t('level.' + (a.level_name || 'unknown'))}</td>
				<td>${a.state === 'acknowledged' ? t('alerts.ackby', { who: a.acknowledged_by, time: t.time(a.acknowledged) })
					: a.state === 'resolved' ? t('alerts.resolvedby', { who: a.resolved_by, time: t.time(a.resolved) }) : '—'}</td>
				<td class="actions">
					${a.state === 'open' && html`<button type="button" onClick=${() => act(a, 'acknowledge')}>
						${t('alerts.ack')}<span class="vh">${t('alerts.of.verb', { id: a.id, serial: a.serial })}</span></button>`}
					${a.state !== 'resolved' && html`<button type="button" onClick=${() => act(a, 'resolve')}>
						${t('alerts.resolve')}<span class="vh">${t('alerts.of.verb', { id: a.id, serial: a.serial })}</span></button>`}
					<button type="button" aria-expanded=${open === a.id} onClick=${() => setOpen(open === a.id ? null : a.id)}>
						${t('alerts.details')}<span class="vh">${t('alerts.of.noun', { id: a.id, serial: a.serial })}</span></button>
				</td></tr>`)}</tbody>
		</table></div>
		${cursor && html`<p><button type="button" onClick=${() => load(true)}>${t('alerts.more')}</button></p>`}
		${open && list.find((a) => a.id === open) && html`<${History} alert=${list.find((a) => a.id === open)} />`}`}
		<${Notifications} />
	</section>`;
}
