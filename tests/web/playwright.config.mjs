// Run by tests/integration/test_dashboard.py, which starts the daemon and
// passes where it is (CC_DASH_*). The browser is Debian's Chromium: Playwright's
// own downloads are never used (nor fetched).
import { defineConfig } from '@playwright/test';

export default defineConfig({
	testDir: '.',
	testMatch: /.*\.spec\.mjs$/,
	timeout: 60_000,
	expect: { timeout: 15_000 },
	workers: 1,
	retries: 0,
	forbidOnly: true,
	reporter: [['list']],
	outputDir: process.env.CC_DASH_OUT || 'test-results',
	use: {
		baseURL: process.env.CC_DASH_URL,
		ignoreHTTPSErrors: true, // the daemon's certificate is from the installation's own CA
		headless: true,
		launchOptions: {
			executablePath: process.env.CC_CHROMIUM || '/usr/bin/chromium',
			args: ['--no-sandbox', '--disable-dev-shm-usage'],
		},
	},
});
