// The dashboard's only way to the daemon: the public API, same origin, with
// the HttpOnly session cookie; writes carry the CSRF token the sign-in gave.
const CSRF_KEY = 'cc_csrf';
let expired = () => {};

export function onSessionExpired(fn) { expired = fn; }
export function setCsrf(token) {
	if (token) sessionStorage.setItem(CSRF_KEY, token); else sessionStorage.removeItem(CSRF_KEY);
}

export class ApiError extends Error {
	constructor(status, code, message) { super(message || code); this.status = status; this.code = code; }
}

// GET or POST path; {etag} makes a conditional GET: null comes back for 304;
// {seen(etag)} is told the answer's ETag; {raw} sends body as bytes
// (application/octet-stream: an artifact's slice), not as JSON.
export async function api(method, path, body, opts = {}) {
	const headers = { Accept: 'application/json' };
	if (body !== undefined) headers['Content-Type'] = opts.raw ? 'application/octet-stream' : 'application/json';
	if (method !== 'GET') headers['X-CSRF-Token'] = sessionStorage.getItem(CSRF_KEY) || '';
	if (opts.etag) headers['If-None-Match'] = opts.etag;
	const res = await fetch(path, {
		method, headers, credentials: 'same-origin', cache: 'no-store',
		body: body === undefined ? undefined : opts.raw ? body : JSON.stringify(body),
	});
	if (opts.seen) opts.seen(res.headers.get('ETag'));
	if (res.status === 304) return null;
	let doc = null;
	try { doc = await res.json(); } catch (e) { doc = null; }
	if (!res.ok) {
		const err = (doc && doc.error) || {};
		if (res.status === 401 && !opts.quiet401) expired();
		const e = new ApiError(res.status, err.code || 'http_' + res.status, err.message);
		e.doc = doc; // what else the refusal says (an upload's received)
		throw e;
	}
	return doc;
}

export const q = (params) => {
	const s = Object.entries(params).filter(([, v]) => v !== undefined && v !== null && v !== '')
		.map(([k, v]) => encodeURIComponent(k) + '=' + encodeURIComponent(v)).join('&');
	return s ? '?' + s : '';
};

// Every machine the caller sees, page by page: the pickers of the report pages.
export async function allMachines() {
	const out = [];
	let cursor = null;
	do {
		const doc = await api('GET', '/api/v1/machines' + q({ limit: 500, cursor }));
		out.push(...(doc.machines || []));
		cursor = doc.next_cursor || null;
	} while (cursor);
	return out;
}
