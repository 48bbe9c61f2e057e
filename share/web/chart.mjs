import { html, useEffect, useRef, useState, useApp } from './ui.mjs';
import uPlot from './uplot.mjs';

// A time series with uPlot: x in ms from the API's columns, y the metric's
// values (and, for 1-minute buckets, their min and max). Drag to zoom,
// double-click to zoom out (uPlot's own cursor). The draw time is kept in
// data-draw-ms for the browser tests.
export function Chart({ columns, metric, label }) {
	const { t } = useApp();
	const box = useRef(null);
	const [drawn, setDrawn] = useState(null);

	useEffect(() => {
		const el = box.current;
		if (!el || !columns || !columns[metric]) return undefined;
		const started = performance.now();
		const xs = columns.ts.map((ms) => ms / 1000);
		const series = [{}, { label, stroke: '#1f5f99', width: 1.5 }];
		const data = [xs, columns[metric]];
		if (columns[metric + ':min']) {
			series.push({ label: 'min', stroke: '#7a9cc0', width: 1, dash: [4, 4] });
			series.push({ label: 'max', stroke: '#7a9cc0', width: 1, dash: [4, 4] });
			data.push(columns[metric + ':min'], columns[metric + ':max']);
		}
		const width = Math.max(280, el.clientWidth || 600);
		delete el.dataset.points;
		delete el.dataset.zoomed;
		// uPlot paints after its constructor (in a microtask): the first draw
		// hook is when the data is on the screen.
		const drawnOnce = (u) => {
			if (el.dataset.points) return;
			const ms = Math.round((performance.now() - started) * 10) / 10;
			el.dataset.drawMs = String(ms);
			el.dataset.points = String(xs.length);
			setDrawn({ n: xs.length, ms });
		};
		const zoomed = (u, key) => {
			if (key !== 'x' || !xs.length) return;
			const s = u.scales.x;
			el.dataset.zoomed = s.min > xs[0] || s.max < xs[xs.length - 1] ? 'yes' : 'no';
		};
		const plot = new uPlot({
			width, height: 280, series,
			scales: { x: { time: true } },
			axes: [{}, { values: (u, vals) => vals.map((v) => t.num(v)) }],
			tzDate: (ts) => new Date(ts * 1000),
			hooks: { draw: [drawnOnce], setScale: [zoomed] },
		}, data, el);
		const resize = () => plot.setSize({ width: Math.max(280, el.clientWidth), height: 280 });
		window.addEventListener('resize', resize);
		return () => { window.removeEventListener('resize', resize); plot.destroy(); };
	}, [columns, metric, t.lang]);

	return html`<figure class="chart">
		<div ref=${box} class="plot" role="img" aria-label=${label}></div>
		<figcaption>${t('machine.chart.hint')}${drawn ? ' ' + t('machine.chart.drawn', { n: t.num(drawn.n), ms: t.num(drawn.ms) }) : ''}</figcaption>
	</figure>`;
}
