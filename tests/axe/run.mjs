// axe-core (WCAG 2.0/2.1 A and AA rules) on local HTML files, in the system Chromium driven by
// playwright-core: `node tests/axe/run.mjs FILE...` prints one JSON object per file with its
// violations, the console messages the page logged, and any request for something other than
// the file itself. Used by tests/report_a11y.rs. The reports forbid scripts by CSP; the browser
// context bypasses the CSP only so that axe itself can be injected.
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { pathToFileURL } from 'node:url';
import { chromium } from 'playwright-core';

const require = createRequire(import.meta.url);
const axeSource = readFileSync(require.resolve('axe-core/axe.min.js'), 'utf8');

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
         '--disable-component-update', '--disable-sync'],
});
try {
  for (const file of process.argv.slice(2)) {
    const context = await browser.newContext({ bypassCSP: true, viewport: { width: 1200, height: 900 } });
    const page = await context.newPage();
    const url = pathToFileURL(file).href;
    const console_ = [];
    const requests = [];
    page.on('console', (m) => console_.push(`${m.type()}: ${m.text()}`));
    page.on('request', (r) => { if (r.url() !== url) requests.push(r.url()); });
    await page.goto(url, { waitUntil: 'load' });
    // Open every <details>: their content is checked too (it is what a reader expands).
    await page.evaluate(() => document.querySelectorAll('details').forEach((d) => { d.open = true; }));
    await page.evaluate(axeSource);
    const results = await page.evaluate(() =>
      window.axe.run(document, { runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa'] } }));
    const violations = results.violations.map((v) => ({
      id: v.id,
      impact: v.impact,
      help: v.help,
      nodes: v.nodes.length,
      examples: v.nodes.slice(0, 3).map((n) => ({ target: n.target.join(' '), summary: n.failureSummary })),
    }));
    console.log(JSON.stringify({ file, axe: results.testEngine.version, passes: results.passes.length, violations,
                                 console: console_, requests }));
    await context.close();
  }
} finally {
  await browser.close();
}
