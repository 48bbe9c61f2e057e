// The dashboard shell: sign-in, then the pages of pages.mjs the caller's role
// may see, routed by the URL's hash (#/fleet, #/machine/SERIAL), so the
// daemon serves one page and the API.
import { html, render, useState, useEffect, useMemo, Ctx } from './ui.mjs';
import { api, setCsrf, onSessionExpired } from './api.mjs';
import { translator, initialLang, saveLang, languages } from './i18n.mjs';
import { pages, visible } from './pages.mjs';
import { SignIn } from './signin.mjs';
import { Enrol } from './account.mjs';

const route = () => {
	const parts = location.hash.replace(/^#\/?/, '').split('/').filter(Boolean);
	return { name: parts[0] || 'fleet', args: parts.slice(1) };
};

function LanguageSwitch({ lang, setLang, t }) {
	return html`<label class="lang">${t('lang.label')}
		<select value=${lang} onChange=${(e) => setLang(e.target.value)}>
			${languages.map(([code, name]) => html`<option value=${code} lang=${code}>${name}</option>`)}
		</select></label>`;
}

function App() {
	const [lang, setLangState] = useState(initialLang());
	const t = useMemo(() => translator(lang), [lang]);
	const [me, setMe] = useState(undefined); // undefined: asking; null: signed out
	const [message, setMessage] = useState(null);
	const [where, setWhere] = useState(route());

	const setLang = (l) => { saveLang(l); setLangState(l); };
	useEffect(() => { document.documentElement.lang = lang; }, [lang]);
	useEffect(() => {
		const on = () => setWhere(route());
		window.addEventListener('hashchange', on);
		return () => window.removeEventListener('hashchange', on);
	}, []);
	const loadMe = () => api('GET', '/api/v1/me', undefined, { quiet401: true })
		.then((d) => { setMe(d); setMessage(null); }, () => setMe(null));
	useEffect(() => {
		onSessionExpired(() => { setCsrf(null); setMe(null); setMessage('signin.expired'); });
		loadMe();
	}, []);

	const signedOut = (key) => { setCsrf(null); setMe(null); setMessage(key); };

	async function signOut() {
		try { await api('POST', '/api/v1/auth/logout', undefined, { quiet401: true }); } catch (e) { /* gone already */ }
		signedOut('signin.signedout');
	}

	const ctx = { t, me };
	const header = html`<header class="top">
		<a class="skip" href="#main">Skip</a>
		<span class="brand">${t('app.name')}</span>
		${me && !me.totp_enrolment_required && html`<nav aria-label=${t('nav.main')}><ul>
			${pages.filter((p) => p.nav && visible(p, me)).map((p) => html`<li>
				<a href=${'#/' + p.route} aria-current=${where.name === p.route ? 'page' : undefined}>${t(p.nav)}</a></li>`)}
		</ul></nav>`}
		<${LanguageSwitch} lang=${lang} setLang=${setLang} t=${t} />
		${me && html`<span class="who">${t('me.signedin', { login: me.login, role: me.role })}</span>
			<button type="button" onClick=${signOut}>${t('nav.signout')}</button>`}
	</header>`;

	let body;
	if (me === undefined) body = html`<main id="main"><p class="loading" role="status">${t('loading')}</p></main>`;
	else if (me !== null && me.totp_enrolment_required) {
		// A session that may only enrol (an admin who must use TOTP, back after a reload).
		body = html`<main id="main" class="signin"><h1>${t('signin.title')}</h1>
			<p class="notice">${t('signin.enrol')}</p><${Enrol} done=${() => signedOut('totp.enabled')} /></main>`;
	} else if (me === null) body = html`<${SignIn} message=${message && t(message)} onSignedIn=${loadMe}
		onEnrolled=${() => setMessage('totp.enabled')} />`;
	else {
		const page = pages.find((p) => p.route === where.name && visible(p, me)) ||
			pages.find((p) => p.nav && visible(p, me));
		body = html`<main id="main">${page ? html`<${page.component} args=${where.args} signedOut=${signedOut} />`
			: html`<h1>${t('app.name')}</h1><p class="notice">${t('home.nothing')}</p>`}</main>`;
	}
	return html`<${Ctx.Provider} value=${ctx}>${header}${body}<//>`;
}

// The placeholder of index.html goes first: Preact adds to a container.
const root = document.getElementById('app');
root.textContent = '';
render(html`<${App} />`, root);
