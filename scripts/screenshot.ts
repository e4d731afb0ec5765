/**
 * `npm run screenshot`: the README's picture of the status page, taken from the demo's databases
 * (`npm run demo` leaves them filled) in headless chromium. Writes docs/status-page.png and
 * docs/status-run.png (the run the demo leaves waiting: no later run, no run_end).
 *
 *   npm run demo && npm run screenshot        (OPROC_DEMO_DIR as for the demo, if it was set)
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import { startBrowser } from '../test/support/browser.js';
import { startServe } from '../test/support/serve.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const custom = process.env.OPROC_DEMO_DIR;
const config = custom ? path.join(path.resolve(custom), 'site.json') : path.join(root, 'demo', 'site.json');
const state = custom ? path.resolve(custom) : path.join(root, '.oproc');
const heldRun = process.argv[2] ?? '300035';

if (!existsSync(path.join(state, '.oproc-demo'))) {
  console.error(`no demo databases in ${path.relative(root, state) || state}: run npm run demo first`);
  process.exit(2);
}

const serve = await startServe(config);
const browser = await startBrowser().catch(async (error: unknown) => {
  await serve.stop();
  throw error;
});
try {
  const page = await browser.context.newPage();
  const errors: string[] = [];
  page.on('console', (m) => m.type() === 'error' && errors.push(m.text()));
  page.on('pageerror', (e) => errors.push(e.message));
  await page.setViewportSize({ width: 1280, height: 900 });
  await page.goto(serve.url);
  await page.waitForSelector('body[data-rendered]');
  await page.waitForSelector('#live[data-state="live"]');
  await page.screenshot({ path: path.join(root, 'docs', 'status-page.png'), fullPage: true });
  await page.goto(new URL(`runs/${heldRun}?ratv=7.0.8&filetype=L2`, serve.url).href);
  await page.waitForSelector('[data-testid="verdict"]');
  await page.screenshot({ path: path.join(root, 'docs', 'status-run.png'), fullPage: true });
  if (errors.length) throw new Error(`the page logged errors: ${errors.join('; ')}`);
  console.log('wrote docs/status-page.png and docs/status-run.png');
} finally {
  await browser.stop();
  await serve.stop();
}
