import { html, useState, useApp, Notice } from './ui.mjs';
import { api, setCsrf } from './api.mjs';
import { Enrol } from './account.mjs';

export function SignIn({ onSignedIn, onEnrolled, message }) {
	const { t } = useApp();
	const [login, setLogin] = useState('');
	const [password, setPassword] = useState('');
	const [totp, setTotp] = useState('');
	const [error, setError] = useState(null);
	const [busy, setBusy] = useState(false);
	const [enrol, setEnrol] = useState(false); // a session that may only enrol a second factor

	async function submit(e) {
		e.preventDefault();
		setBusy(true);
		setError(null);
		try {
			const body = { login, password };
			if (totp) body.totp = totp;
			const doc = await api('POST', '/api/v1/auth/login', body, { quiet401: true });
			setCsrf(doc.csrf_token);
			setPassword('');
			if (doc.totp_enrolment_required) setEnrol(true);
			else onSignedIn();
		} catch (err) {
			setError(err.status === 429 ? t('signin.throttled') : t('signin.failed'));
		} finally {
			setBusy(false);
		}
	}

	if (enrol) {
		return html`<main id="main" class="signin">
			<h1>${t('signin.title')}</h1>
			<${Notice}>${t('signin.enrol')}<//>
			<${Enrol} done=${() => { setCsrf(null); setEnrol(false); setTotp(''); onEnrolled(); }} />
		</main>`;
	}
	return html`<main id="main" class="signin">
		<h1>${t('signin.title')}</h1>
		${message && html`<${Notice}>${message}<//>`}
		${error && html`<${Notice} kind="error">${error}<//>`}
		<form onSubmit=${submit}>
			<label for="login">${t('signin.login')}</label>
			<input id="login" name="login" autocomplete="username" required value=${login}
				onInput=${(e) => setLogin(e.target.value)} />
			<label for="password">${t('signin.password')}</label>
			<input id="password" name="password" type="password" autocomplete="current-password" required
				value=${password} onInput=${(e) => setPassword(e.target.value)} />
			<label for="totp">${t('signin.totp')}</label>
			<input id="totp" name="totp" inputmode="numeric" autocomplete="one-time-code" pattern="[0-9]{6}"
				value=${totp} onInput=${(e) => setTotp(e.target.value)} />
			<button type="submit" disabled=${busy}>${t('signin.submit')}</button>
		</form>
	</main>`;
}
