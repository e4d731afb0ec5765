import { spawn } from 'node:child_process';
import { copyFile, mkdir, readFile, stat } from 'node:fs/promises';
import path from 'node:path';

import { expect } from 'chai';

import type { StoredDocument } from '../src/backends/types.js';
import type { StatusReport } from '../src/operations/status.js';
import type { WhyReport } from '../src/operations/why.js';
import pouchdbBackends from '../plugins/pouchdb/src/hooks/backends.js';
import { browserOrSkip, cutOff, pageCounts, startBrowser } from './support/browser.js';
import { json, runCli } from './support/cli.js';
import { backendContext, tempDir } from './support/context.js';
import { startServe } from './support/serve.js';

const root = path.resolve(import.meta.dirname, '..');
/** The run the demo leaves waiting: its files are registered, with no later run and no run_end. */
const heldRun = 300035;

/** The commands this build has (the demo skips steps whose command is not built yet). */
async function builtCommands(): Promise<Set<string>> {
  const manifest = JSON.parse(await readFile(path.join(root, 'oclif.manifest.json'), 'utf8')) as {
    commands: Record<string, unknown>;
  };
  return new Set(Object.keys(manifest.commands));
}

/** Runs the demo as `npm run demo` does (after the build), with its databases in `dir`. */
function runDemo(dir: string): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [path.join(root, 'demo/run-demo.js')], {
      cwd: root,
      env: { ...process.env, OPROC_DEMO_DIR: dir },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.on('error', reject);
    child.on('exit', (code) => resolve({ code, output }));
  });
}

describe('npm run demo', function () {
  // The demo runs some 40 commands, each a new Node process: minutes on a busy machine.
  this.timeout(600_000);
  let dir: string;
  let remove: () => Promise<void>;
  let result: { code: number | null; output: string };
  let commands: Set<string>;

  before(async () => {
    ({ dir, remove } = await tempDir('oproc-demo-'));
    commands = await builtCommands();
    result = await runDemo(dir);
  });
  after(() => remove());

  /** Job documents of the demo's processing database, by id. */
  async function jobs(ids: string[]): Promise<Map<string, StoredDocument>> {
    const factory = (await pouchdbBackends()).documentStores?.pouchdb;
    if (!factory) throw new Error('the pouchdb plugin provides no document store');
    const store = await factory(
      backendContext('processing', { backend: 'pouchdb', path: 'processing' }, { baseDir: dir }),
    );
    try {
      return await store.getMany(ids);
    } finally {
      await store.close();
    }
  }

  const passNumbers = (doc: StoredDocument | undefined) =>
    ((doc?.passes as { pass: number }[] | undefined) ?? []).map((p) => p.pass);

  it('runs every step to the end and says where the databases are', () => {
    expect(result.code, result.output).to.equal(0);
    expect(result.output).to.include('── Done');
    expect(result.output).to.include(`RATDB (PGlite):`);
    expect(result.output).to.not.include('demo stopped');
  });

  it("takes its processing information from the demo's example file, which says it is an example", async () => {
    const site = JSON.parse(await readFile(path.join(root, 'demo', 'site.json'), 'utf8')) as {
      processing_information?: unknown;
    };
    expect(site.processing_information).to.equal('processing_information.example.json');
    const info = JSON.parse(
      await readFile(path.join(root, 'demo', 'processing_information.example.json'), 'utf8'),
    ) as { ratv: string; description?: string }[];
    expect(info.map((i) => i.ratv)).to.deep.equal(['7.0.8', '7.0.15']);
    for (const entry of info) expect(entry.description).to.match(/^Example processing information/);
    expect(result.output).to.match(
      /^Processing +sub_run +mac\/processing\/processing\.mac .* demo\/processing_information\.example\.json$/m,
    );
  });

  it('imports the demo data set', () => {
    expect(result.output).to.match(/data-flow import into .*: 322 new, 0 updated, 0 unchanged/);
  });

  it('reprocessing runs 300001–300004 and the original command line create the passes in the outlist', async function () {
    if (!commands.has('reprocess:range') || !commands.has('legacy')) this.skip();
    expect(result.output).to.include('The reprocessing steps created 12 passes');
    const outlist = await readFile(path.join(dir, 'demo.exactly'), 'utf8');
    const lines = outlist.trim().split('\n').sort();
    // Pass 0 is the watcher's; the TELLIE run 300003 has no Analysis; -1 300002 -N Processing adds pass 2.
    expect(lines).to.deep.equal(
      [
        'Analysis\t300001\t1',
        'Analysis\t300002\t1',
        'Analysis\t300004\t1',
        'DataQuality\t300001\t1',
        'DataQuality\t300002\t1',
        'DataQuality\t300003\t1',
        'DataQuality\t300004\t1',
        'Processing\t300001\t1',
        'Processing\t300002\t1',
        'Processing\t300002\t2',
        'Processing\t300003\t1',
        'Processing\t300004\t1',
      ].sort(),
    );
  });

  it('the watcher made jobs up to the PCA run, and none for a run still being taken', async function () {
    if (!commands.has('watch')) this.skip();
    const docs = await jobs(['job_300005_Analysis', 'job_300012_Processing', 'job_300035_Processing']);
    // Run 300005 is Physics by its corrected RUN table (version 2), so Analysis runs for it.
    expect(passNumbers(docs.get('job_300005_Analysis'))).to.deep.equal([0]);
    expect(passNumbers(docs.get('job_300012_Processing'))).to.deep.equal([0]);
    expect(docs.has('job_300035_Processing')).to.equal(false);
  });

  /**
   * The status page on the demo's databases, in chromium: what `oproc status` and `oproc why` say
   * of them (read first: embedded databases belong to one process at a time). Its screenshots are
   * the README's: OPROC_UPDATE_SCREENSHOTS=1 (`npm run screenshot`) copies them into docs/.
   */
  it("the status page shows the demo's passes, watcher, locks and held run, as status and why say", async function () {
    browserOrSkip(this);
    expect(result.code, result.output).to.equal(0);
    const config = path.join(dir, 'site.json');
    const status = json<StatusReport>(await runCli(['status', config, '7.0.8', '--json']));
    const held = json<WhyReport>(await runCli(['why', config, '7.0.8', 'L2', String(heldRun), '--json']));
    expect(held.verdict).to.match(/not complete|no later run/);
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
      await page.goto(new URL('?ratv=7.0.8', serve.url).href);
      await page.waitForSelector('body[data-rendered]');
      await page.waitForSelector('#live[data-state="live"]');
      const [ratv] = status.ratvs;
      expect(await pageCounts(page, '7.0.8')).to.deep.equal(ratv!.passes);
      expect(Object.keys(ratv!.passes.all)).to.include.members(['Processing', 'Analysis']);
      const watchers = await page.$$eval('tr[data-testid="watcher"]', (rows) =>
        rows.map((r) => (r as HTMLElement).dataset.filetype),
      );
      expect(watchers).to.deep.equal(ratv!.watchers.map((w) => w.filetype));
      // The demo's watcher ran with --once and released its lease: stopped, no alarm. An embedded
      // database cannot have a watcher running beside the page, and the page says so.
      const states = await page.$$eval('tr[data-testid="watcher"]', (rows) =>
        rows.map((r) => (r as HTMLElement).dataset.state),
      );
      expect(states).to.deep.equal(['stopped']);
      expect(await page.locator('[data-testid="stale-alert"]').count()).to.equal(0);
      expect(await page.textContent('[data-testid="embedded-note"]')).to.match(/^Embedded database/);
      const locks = await page.$$eval('tr[data-testid="lock"]', (rows) =>
        rows.map((r) => ({
          calibration: (r as HTMLElement).dataset.calibration,
          holds: (r as HTMLElement).dataset.holds,
        })),
      );
      expect(locks).to.deep.equal(
        status.locks.map((l) => ({ calibration: l.calibration, holds: String(l.holds) })),
      );
      expect(locks.map((l) => l.calibration)).to.deep.equal(['PCA', 'ECA']);
      const shots = path.join(dir, 'screenshots');
      await mkdir(shots, { recursive: true });
      // For the README, the databases where `npm run demo` puts them, not this test's folder.
      const inRepository = () =>
        page.evaluate((folder) => {
          const source = document.getElementById('source');
          if (source?.textContent) source.textContent = source.textContent.replaceAll(folder, '.oproc');
        }, dir);
      await inRepository();
      // Every column shows at 1280 px: nothing is cut off.
      expect(await cutOff(page), 'the status page').to.deep.equal([]);
      await page.screenshot({ path: path.join(shots, 'status-page.png'), fullPage: true });
      await page.goto(new URL(`runs/${heldRun}?ratv=7.0.8&filetype=L2`, serve.url).href);
      await page.waitForSelector('[data-testid="verdict"]');
      expect(await page.textContent('[data-testid="verdict"]')).to.equal(held.verdict);
      await inRepository();
      expect(await cutOff(page), `the page of run ${heldRun}`).to.deep.equal([]);
      await page.screenshot({ path: path.join(shots, 'status-run.png'), fullPage: true });
      expect(errors).to.deep.equal([]);
      for (const name of ['status-page.png', 'status-run.png']) {
        expect((await stat(path.join(shots, name))).size).to.be.greaterThan(10_000);
        if (process.env.OPROC_UPDATE_SCREENSHOTS === '1')
          await copyFile(path.join(shots, name), path.join(root, 'docs', name));
      }
    } finally {
      await browser.stop();
      await serve.stop();
    }
  });

  it('after the locks are released and the late table loaded, the watcher reaches the last complete run', async function () {
    if (!commands.has('watch') || !commands.has('locks:release')) this.skip();
    const docs = await jobs(['job_300027_Processing', 'job_300030_Processing', 'job_300034_Analysis']);
    expect(docs.has('job_300027_Processing'), 'run 300027 has no L2 files').to.equal(false);
    expect(passNumbers(docs.get('job_300030_Processing'))).to.deep.equal([0]);
    expect(passNumbers(docs.get('job_300034_Analysis'))).to.deep.equal([0]);
  });
});
