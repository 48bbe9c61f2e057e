import { html, useState, useEffect, useApp, Notice } from './ui.mjs';
import { api } from './api.mjs';
import qrcode from './qrcode.mjs';

// The otpauth URI as a QR code, drawn as SVG rectangles (no inline style or
// script, so the Content-Security-Policy stays strict).
export function QrCode({ text, label }) {
	const qr = qrcode(0, 'M');
	qr.addData(text);
	qr.make();
	const n = qr.getModuleCount();
	const cells = [];
	for (let r = 0; r < n; r++)
		for (let c = 0; c < n; c++) if (qr.isDark(r, c)) cells.push(html`<rect x=${c + 4} y=${r + 4} width="1" height="1" />`);
	return html`<svg class="qr" viewBox=${`0 0 ${n + 8} ${n + 8}`} width="220" height="220" shape-rendering="crispEdges" role="img" aria-label=${label}
		data-otpauth=${text}><rect width=${n + 8} height=${n + 8} fill="#fff" /><g fill="#000">${cells}</g></svg>`;
}

// TOTP enrolment: the secret as a QR code (and as text), then a code from the
// authenticator to confirm. The API ends every session on confirmation:
// done() then brings the person back to sign-in.
export function Enrol({ done }) {
	const { t } = useApp();
	const [uri, setUri] = useState(null);
	const [code, setCode] = useState('');
	const [error, setError] = useState(null);

	useEffect(() => {
		api('POST', '/api/v1/me/totp', {}).then((d) => setUri(d.otpauth_uri), (e) => setError(e.message));
	}, []);

	async function confirm(e) {
		e.preventDefault();
		setError(null);
		try {
			await api('POST', '/api/v1/me/totp/confirm', { code });
			// This session was signed in without a code: it ends too.
			await api('POST', '/api/v1/auth/logout', undefined, { quiet401: true }).catch(() => {});
			done();
		} catch (err) {
			setError(err.code === 'totp_wrong' ? t('totp.wrong') : err.message);
		}
	}

	const secret = uri ? new URL(uri).searchParams.get('secret') : '';
	return html`<section class="card" aria-labelledby="enrol-h">
		<h2 id="enrol-h">${t('totp.title')}</h2>
		${error && html`<${Notice} kind="error">${error}<//>`}
		${!uri ? html`<p class="loading" role="status">${t('loading')}</p>` : html`
		<p>${t('totp.scan')}</p>
		<${QrCode} text=${uri} label=${t('totp.qr')} />
		<p>${t('totp.manual')} <code data-testid="totp-secret">${secret}</code></p>
		<form onSubmit=${confirm}>
			<label for="totp-code">${t('totp.code')}</label>
			<input id="totp-code" inputmode="numeric" autocomplete="one-time-code" pattern="[0-9]{6}" required
				value=${code} onInput=${(e) => setCode(e.target.value)} />
			<button type="submit">${t('totp.confirm')}</button>
		</form>`}
	</section>`;
}

function PasswordChange() {
	const { t } = useApp();
	const [current, setCurrent] = useState('');
	const [next, setNext] = useState('');
	const [result, setResult] = useState(null);

	async function submit(e) {
		e.preventDefault();
		try {
			await api('POST', '/api/v1/me/password', { current_password: current, new_password: next });
			setCurrent(''); setNext('');
			setResult(['info', t('password.changed')]);
		} catch (err) {
			setResult(['error', err.code === 'weak_password' ? t('password.weak', { why: err.message }) : t('password.failed')]);
		}
	}

	return html`<section class="card" aria-labelledby="pw-h">
		<h2 id="pw-h">${t('password.title')}</h2>
		${result && html`<${Notice} kind=${result[0]}>${result[1]}<//>`}
		<form onSubmit=${submit} class="stack">
			<label for="pw-current">${t('password.current')}</label>
			<input id="pw-current" type="password" autocomplete="current-password" required value=${current}
				onInput=${(e) => setCurrent(e.target.value)} />
			<label for="pw-new">${t('password.new')}</label>
			<input id="pw-new" type="password" autocomplete="new-password" required minlength="12" value=${next}
				onInput=${(e) => setNext(e.target.value)} />
			<button type="submit">${t('password.submit')}</button>
		</form>
	</section>`;
}

export function Account({ signedOut }) {
	const { t, me } = useApp();
	const [enrolling, setEnrolling] = useState(false);
	return html`<section aria-labelledby="account-h">
		<h1 id="account-h">${t('account.title')}</h1>
		<dl class="facts"><dt>${t('signin.login')}</dt><dd>${me.login}</dd>
			<dt>${t('account.role')}</dt><dd>${me.role}</dd><dt>${t('account.org')}</dt><dd>${me.org}</dd></dl>
		<${PasswordChange} />
		${me.totp_enabled ? html`<${Notice}>${t('totp.on')}<//>`
		: enrolling ? html`<${Enrol} done=${() => signedOut('totp.enabled')} />`
		: html`<section class="card"><h2>${t('totp.title')}</h2><p>${t('totp.off')}</p>
			<button type="button" onClick=${() => setEnrolling(true)}>${t('totp.start')}</button></section>`}
	</section>`;
}
