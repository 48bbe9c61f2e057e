// The site picker of the per-site pages (quality, beverages and service):
// the sites of the machines the caller sees, as "customer/site", and the
// one shown.
import { useState, useEffect, useMemo } from './ui.mjs';
import { allMachines } from './api.mjs';

// { machines (null while asking), sites, site, choose(site) }. The site shown
// is the one chosen, else the first: derived in the render, never set by an
// effect. An effect that set the default ran a frame after the options had
// appeared and, holding that render's empty choice, overwrote a site chosen
// in between; the page then showed the first site's machines.
export function useSitePick() {
	const [machines, setMachines] = useState(null);
	const [chosen, choose] = useState('');
	useEffect(() => {
		let current = true;
		allMachines().then((ms) => current && setMachines(ms), () => current && setMachines([]));
		return () => { current = false; };
	}, []);
	const sites = useMemo(() => [...new Set((machines || []).filter((m) => m.site)
		.map((m) => m.customer + '/' + m.site))].sort(), [machines]);
	return { machines, sites, site: chosen || sites[0] || '', choose };
}
