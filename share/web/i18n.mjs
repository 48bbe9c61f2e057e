// Every string the dashboard shows, in English and Hungarian; dates, times
// and numbers are formatted in the chosen language's locale. A page adds its
// keys to both tables (tests/web checks that the two have the same keys).
export const strings = {
	en: {
		'app.name': 'CoffeeCloud',
		'lang.label': 'Language',
		'nav.main': 'Main',
		'nav.fleet': 'Fleet',
		'nav.signout': 'Sign out',
		'signin.title': 'Sign in',
		'signin.login': 'User name',
		'signin.password': 'Password',
		'signin.totp': 'Authenticator code (if enabled)',
		'signin.submit': 'Sign in',
		'signin.failed': 'Sign-in failed: check the user name, password and code.',
		'signin.throttled': 'Too many attempts: wait a little and try again.',
		'signin.expired': 'Your session has ended. Please sign in again.',
		'signin.enrol': 'Your organisation requires a second factor. Enrolment in the dashboard comes with a later release; use the API (POST /api/v1/me/totp) meanwhile.',
		'signin.signedout': 'You have signed out.',
		'me.signedin': 'Signed in as {login} ({role})',
		'fleet.title': 'Fleet',
		'fleet.search': 'Search serial, site or customer',
		'fleet.status': 'Status',
		'fleet.all': 'All',
		'fleet.online': 'Online',
		'fleet.offline': 'Offline',
		'fleet.revoked': 'Revoked',
		'fleet.never': 'Never seen',
		'fleet.counts': 'Machines by status',
		'fleet.serial': 'Serial',
		'fleet.model': 'Model',
		'fleet.customer': 'Customer',
		'fleet.site': 'Site',
		'fleet.lastseen': 'Last seen',
		'fleet.software': 'Software',
		'fleet.sort': 'Sort by {col}',
		'fleet.empty': 'No machines match. Clear the search or the status filter to see the whole fleet.',
		'fleet.none': 'Your account sees no machines yet: machines appear here once they are assigned to your organisation or granted to you.',
		'fleet.updated': 'Updated {time}',
		'fleet.shown': '{n} of {total} machines',
		'machine.back': 'Back to the fleet',
		'machine.state': 'State',
		'machine.reason': 'Reason',
		'machine.health': 'Health',
		'machine.health.parts': 'What lowers the score',
		'machine.health.none': 'Nothing lowers the score.',
		'machine.latest': 'Latest values',
		'machine.latest.none': 'No readings that your role may see yet.',
		'machine.metric': 'Metric',
		'machine.value': 'Value',
		'machine.readat': 'Read at',
		'machine.chart': 'Telemetry',
		'machine.period': 'Period',
		'machine.hour': 'Last hour',
		'machine.day': 'Last day',
		'machine.week': 'Last week',
		'machine.raw': 'Every reading (otherwise 1-minute mean, min and max)',
		'home.nothing': 'Your role has no dashboard pages yet: its features (such as the audit log) come in later releases. The API serves it meanwhile.',
		'machine.chart.none': 'No telemetry your role may see in this period.',
		'machine.chart.hint': 'Drag across the chart to zoom; double-click to zoom out.',
		'machine.chart.drawn': '{n} points drawn in {ms} ms',
		'machine.timeline': 'Timeline',
		'machine.timeline.none': 'Nothing happened in this period that your role may see.',
		'machine.when': 'When',
		'machine.what': 'What',
		'machine.notfound': 'No such machine, or your account may not see it.',
		'machine.software': 'Software version',
		'class.status': 'Status',
		'class.technical': 'Technical',
		'class.service': 'Service',
		'class.usage': 'Usage',
		'error.generic': 'Something went wrong: {msg}',
		'loading': 'Loading…',
	},
	hu: {
		'app.name': 'CoffeeCloud',
		'lang.label': 'Nyelv',
		'nav.main': 'Fő menü',
		'nav.fleet': 'Géppark',
		'nav.signout': 'Kijelentkezés',
		'signin.title': 'Bejelentkezés',
		'signin.login': 'Felhasználónév',
		'signin.password': 'Jelszó',
		'signin.totp': 'Hitelesítő kód (ha be van kapcsolva)',
		'signin.submit': 'Bejelentkezés',
		'signin.failed': 'Sikertelen bejelentkezés: ellenőrizze a felhasználónevet, a jelszót és a kódot.',
		'signin.throttled': 'Túl sok próbálkozás: várjon egy kicsit, majd próbálja újra.',
		'signin.expired': 'A munkamenete lejárt. Kérjük, jelentkezzen be újra.',
		'signin.enrol': 'Szervezete második hitelesítési tényezőt ír elő. A beállítás a felületen egy későbbi kiadásban érkezik; addig az API-val (POST /api/v1/me/totp) végezhető el.',
		'signin.signedout': 'Kijelentkezett.',
		'me.signedin': 'Bejelentkezve: {login} ({role})',
		'fleet.title': 'Géppark',
		'fleet.search': 'Keresés sorozatszám, telephely vagy ügyfél szerint',
		'fleet.status': 'Állapot',
		'fleet.all': 'Mind',
		'fleet.online': 'Elérhető',
		'fleet.offline': 'Nem elérhető',
		'fleet.revoked': 'Visszavont',
		'fleet.never': 'Még nem jelentkezett',
		'fleet.counts': 'Gépek állapot szerint',
		'fleet.serial': 'Sorozatszám',
		'fleet.model': 'Típus',
		'fleet.customer': 'Ügyfél',
		'fleet.site': 'Telephely',
		'fleet.lastseen': 'Utoljára látva',
		'fleet.software': 'Szoftver',
		'fleet.sort': 'Rendezés: {col}',
		'fleet.empty': 'Nincs találat. Törölje a keresést vagy az állapotszűrőt a teljes géppark megtekintéséhez.',
		'fleet.none': 'Fiókja még egyetlen gépet sem lát: a gépek akkor jelennek meg, ha a szervezetéhez rendelik vagy hozzáférést kap hozzájuk.',
		'fleet.updated': 'Frissítve: {time}',
		'fleet.shown': '{n} / {total} gép',
		'machine.back': 'Vissza a gépparkhoz',
		'machine.state': 'Állapot',
		'machine.reason': 'Ok',
		'machine.health': 'Egészség',
		'machine.health.parts': 'Ami csökkenti a pontszámot',
		'machine.health.none': 'Semmi sem csökkenti a pontszámot.',
		'machine.latest': 'Legutóbbi értékek',
		'machine.latest.none': 'Még nincs olyan mért érték, amelyet a szerepköre láthat.',
		'machine.metric': 'Mérőszám',
		'machine.value': 'Érték',
		'machine.readat': 'Mérés ideje',
		'machine.chart': 'Telemetria',
		'machine.period': 'Időszak',
		'machine.hour': 'Utolsó óra',
		'machine.day': 'Utolsó nap',
		'machine.week': 'Utolsó hét',
		'machine.raw': 'Minden mért érték (egyébként percenkénti átlag, minimum és maximum)',
		'home.nothing': 'Szerepköréhez még nincs oldal a felületen: funkciói (például a naplózás) későbbi kiadásokban érkeznek. Addig az API szolgálja ki.',
		'machine.chart.none': 'Ebben az időszakban nincs olyan telemetria, amelyet a szerepköre láthat.',
		'machine.chart.hint': 'Húzza végig az egeret a grafikonon a nagyításhoz; dupla kattintással kicsinyít.',
		'machine.chart.drawn': '{n} pont kirajzolva {ms} ms alatt',
		'machine.timeline': 'Idővonal',
		'machine.timeline.none': 'Ebben az időszakban nem történt semmi, amit a szerepköre láthat.',
		'machine.when': 'Időpont',
		'machine.what': 'Esemény',
		'machine.notfound': 'Nincs ilyen gép, vagy a fiókja nem láthatja.',
		'machine.software': 'Szoftververzió',
		'class.status': 'Állapot',
		'class.technical': 'Műszaki',
		'class.service': 'Szerviz',
		'class.usage': 'Használat',
		'error.generic': 'Hiba történt: {msg}',
		'loading': 'Betöltés…',
	},
};

const LANG_KEY = 'cc_lang';
export const languages = [['en', 'English'], ['hu', 'Magyar']];

export function initialLang() {
	const saved = localStorage.getItem(LANG_KEY);
	if (saved && strings[saved]) return saved;
	return (navigator.language || 'en').toLowerCase().startsWith('hu') ? 'hu' : 'en';
}

export function saveLang(lang) { localStorage.setItem(LANG_KEY, lang); }

// A translator for one language: t('key', {var}) plus locale formatters.
export function translator(lang) {
	const table = strings[lang] || strings.en;
	const locale = lang === 'hu' ? 'hu-HU' : 'en-GB';
	const dt = new Intl.DateTimeFormat(locale, { dateStyle: 'medium', timeStyle: 'medium' });
	const nf = new Intl.NumberFormat(locale, { maximumFractionDigits: 2 });
	const t = (key, vars) => {
		let s = table[key] ?? strings.en[key] ?? key;
		if (vars) for (const [k, v] of Object.entries(vars)) s = s.replace('{' + k + '}', v);
		return s;
	};
	t.lang = lang;
	t.locale = locale;
	t.time = (iso) => (iso ? dt.format(new Date(iso)) : '—');
	t.num = (x) => (typeof x === 'number' ? nf.format(x) : String(x));
	return t;
}
