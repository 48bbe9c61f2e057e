// The fleet page's map of sites: an SVG drawn here from the sites' coarse
// positions (GET /api/v1/site-locations), with no tiles, fonts or scripts
// from anywhere else (the CSP allows none). An equirectangular plot of the
// sites' extent with a graticule; a marker per site, its area by machine
// count and its colour by the worst status there, each a link (reachable
// with the keyboard) that narrows the table to the site.
import { html, useApp } from './ui.mjs';

const W = 400, H = 220, PAD = 24;
const WORST = ['offline', 'never', 'revoked', 'online']; // worst first, as the table sorts

export const siteHref = (customer, site) =>
	'#/fleet/site/' + encodeURIComponent(customer) + '/' + encodeURIComponent(site);

// Degrees shown: the sites' extent with a margin, at least 8 degrees each way,
// within the world; x is scaled by the cosine of the middle latitude so that
// distances look right where the sites are.
function frame(points) {
	let [w, e, s, n] = [180, -180, 90, -90];
	for (const p of points) { w = Math.min(w, p.lon); e = Math.max(e, p.lon); s = Math.min(s, p.lat); n = Math.max(n, p.lat); }
	const grow = (lo, hi, min, floor, ceil) => {
		const span = Math.max(hi - lo, min) * 1.2, mid = (lo + hi) / 2;
		return [Math.max(floor, mid - span / 2), Math.min(ceil, mid + span / 2)];
	};
	[s, n] = grow(s, n, 8, -85, 85);
	[w, e] = grow(w, e, 8, -180, 180);
	const k = Math.cos(((s + n) / 2) * Math.PI / 180);
	const scale = Math.min((W - 2 * PAD) / ((e - w) * k), (H - 2 * PAD) / (n - s));
	const ox = (W - (e - w) * k * scale) / 2, oy = (H - (n - s) * scale) / 2;
	return { w, e, s, n, x: (lon) => ox + (lon - w) * k * scale, y: (lat) => oy + (n - lat) * scale };
}

function graticule(f) {
	const span = Math.max(f.e - f.w, f.n - f.s);
	const step = span > 90 ? 30 : span > 40 ? 10 : 5;
	const lines = [];
	for (let lon = Math.ceil(f.w / step) * step; lon <= f.e; lon += step)
		lines.push(html`<line x1=${f.x(lon)} x2=${f.x(lon)} y1=${f.y(f.n)} y2=${f.y(f.s)} />`);
	for (let lat = Math.ceil(f.s / step) * step; lat <= f.n; lat += step)
		lines.push(html`<line x1=${f.x(f.w)} x2=${f.x(f.e)} y1=${f.y(lat)} y2=${f.y(lat)} class=${lat === 0 ? 'equator' : ''} />`);
	return html`<g class="graticule" aria-hidden="true">${lines}</g>`;
}

// sites: [{ customer, name, lat?, lon? }]; machines: the fleet list (statuses
// and counts come from it, so the map moves with the table's polls).
export function SiteMap({ sites, machines, statusOf, current }) {
	const { t } = useApp();
	if (!sites || !sites.length) return null;
	const at = new Map();
	for (const m of machines) {
		if (!m.site) continue;
		const key = m.customer + '\n' + m.site;
		const x = at.get(key) || { n: 0, worst: 3, counts: {} };
		const st = statusOf(m);
		x.n++;
		x.counts[st] = (x.counts[st] || 0) + 1;
		x.worst = Math.min(x.worst, WORST.indexOf(st));
		at.set(key, x);
	}
	const placed = sites.filter((s) => typeof s.lat === 'number' && typeof s.lon === 'number' && at.has(s.customer + '\n' + s.name));
	const unplaced = sites.filter((s) => !placed.includes(s));
	const f = frame(placed.length ? placed : [{ lat: 47, lon: 19 }]);
	const most = Math.max(1, ...placed.map((s) => at.get(s.customer + '\n' + s.name).n));
	const label = (s, x) => t('map.site', {
		site: s.name, customer: s.customer, n: t.num(x.n),
		status: WORST.filter((w) => x.counts[w]).map((w) => t.num(x.counts[w]) + ' ' + t('fleet.' + w).toLowerCase()).join(', '),
	});
	// Largest first, so a small site is drawn over a large one and stays clickable.
	const order = placed.slice().sort((a, b) => at.get(b.customer + '\n' + b.name).n - at.get(a.customer + '\n' + a.name).n);
	return html`<figure class="sitemap">
		<figcaption id="sitemap-h">${t('map.title', { n: t.num(placed.length) })}</figcaption>
		${placed.length > 0 && html`<svg viewBox=${`0 0 ${W} ${H}`} aria-labelledby="sitemap-h" data-testid="sitemap">
			<rect class="sea" x="0" y="0" width=${W} height=${H} />
			${graticule(f)}
			${order.map((s) => {
				const x = at.get(s.customer + '\n' + s.name);
				const r = 4 + 8 * Math.sqrt(x.n / most);
				const here = current && current[0] === s.customer && current[1] === s.name;
				return html`<a href=${siteHref(s.customer, s.name)} aria-label=${label(s, x)} data-site=${s.customer + '/' + s.name}
					data-worst=${WORST[x.worst]} aria-current=${here ? 'true' : undefined}>
					<circle class=${'marker ' + WORST[x.worst]} cx=${f.x(s.lon)} cy=${f.y(s.lat)} r=${r} />
					<text x=${f.x(s.lon)} y=${f.y(s.lat) + r + 10} aria-hidden="true">${s.name}</text></a>`;
			})}
		</svg>`}
		${unplaced.length > 0 && html`<p class="meta" data-testid="sitemap-unplaced">${t('map.unplaced', { n: t.num(unplaced.length) })}
			${unplaced.map((s, i) => html`${i ? ', ' : ' '}<a href=${siteHref(s.customer, s.name)}>${s.customer}/${s.name}</a>`)}</p>`}
		<ul class="legend" aria-label=${t('map.legend')}>
			${WORST.map((w) => html`<li><svg viewBox="0 0 12 12" width="12" height="12" aria-hidden="true">
				<circle class=${'marker ' + w} cx="6" cy="6" r="5" /></svg> ${t('fleet.' + w)}</li>`)}
			<li>${t('map.size')}</li>
		</ul>
	</figure>`;
}
