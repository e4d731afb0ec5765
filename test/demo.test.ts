import { execFile } from 'node:child_process';
import { copyFile, mkdir, readdir, readFile, rm, stat, symlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';

import { expect } from 'chai';

import type { StoredDocument } from '../src/backends/types.js';
import type { StatusReport } from '../src/operations/status.js';
import type { WhyReport } from '../src/operations/why.js';
import pouchdbBackends from '../plugins/pouchdb/src/hooks/backends.js';
import { commandFor } from '../src/demo/run.js';
import { browserOrSkip, cutOff, pageCounts, startBrowser } from './support/browser.js';
import { json, oneLine, runCli, type CliResult } from './support/cli.js';
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

/** Every file and folder under `dir`, relative to it. */
async function tree(dir: string): Promise<string[]> {
  return (await readdir(dir, { recursive: true })).sort();
}

describe('oproc demo DIR (the built CLI, as installed: npm run demo runs it too)', function () {
  // The demo runs some 40 commands, each a new Node process: minutes on a busy machine.
  this.timeout(600_000);
  /** Where the user is: it holds the demo's folder `demo` and an empty home. */
  let cwd: string;
  let dir: string;
  let home: string;
  let remove: () => Promise<void>;
  let result: CliResult;
  let commands: Set<string>;
  /** The user's environment, with HOME and oclif's folders unset: anything written there shows. */
  let env: NodeJS.ProcessEnv;

  before(async function () {
    // Twenty steps, each a new process loading the CLI: minutes on a busy machine.
    this.timeout(600_000);
    ({ dir: cwd, remove } = await tempDir('oproc-demo-'));
    dir = path.join(cwd, 'demo');
    home = path.join(cwd, 'home');
    await mkdir(home);
    env = { HOME: home, XDG_CONFIG_HOME: '', XDG_CACHE_HOME: '', XDG_DATA_HOME: '' };
    for (const name of ['OPROC_CONFIG_DIR', 'OPROC_CACHE_DIR', 'OPROC_DATA_DIR', 'OPROC_DEMO_DIR'])
      env[name] = '';
    commands = await builtCommands();
    result = await runCli(['demo', 'demo'], { cwd, env });
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

  const output = () => result.stdout + result.stderr;

  const passNumbers = (doc: StoredDocument | undefined) =>
    ((doc?.passes as { pass: number }[] | undefined) ?? []).map((p) => p.pass);

  it('runs every step to the end and says where the databases are', () => {
    expect(result.code, output()).to.equal(0);
    expect(result.stdout).to.include('── Done');
    expect(result.stdout).to.include('RATDB (PGlite):                     demo/ratdb');
    expect(output()).to.not.include('demo stopped');
  });

  it('writes into DIR only: nothing in the home folder, nothing else in the current folder', async () => {
    expect(await tree(home)).to.deep.equal([]);
    expect(await readdir(cwd)).to.have.members(['demo', 'home']);
    const written = await tree(dir);
    expect(written).to.include.members([
      '.oproc-demo',
      'site.json',
      'processing_information.example.json',
      'data/dataflow.json',
      'data/ratdb/run.ratdb',
      'demo.exactly',
      'processing',
      'ratdb',
    ]);
  });

  it('prints each step as a command that runs as printed, from where the demo was started', async () => {
    const bin = path.relative(cwd, path.join(root, 'bin', 'run.js'));
    const shown = `node ${bin.startsWith('..') ? path.join(root, 'bin', 'run.js') : bin}`;
    const line = result.stdout.split('\n').find((l) => l.includes(' passes demo/site.json --exactly '));
    expect(line).to.equal(`   $ ${shown} passes demo/site.json --exactly demo/demo.exactly`);
    const again = await promisify(execFile)('sh', ['-c', line!.replace(/^ +\$ /, '')], {
      cwd,
      env: { ...process.env, ...env },
    });
    // The 12 passes of the outlist, each on a line of its own (after a header).
    expect(again.stdout.split('\n').filter((l) => /\b30000[1-4]\b/.test(l))).to.have.length(12);
    expect(result.stdout).to.match(
      /^ {5}node .*bin\/run\.js demo demo {3}\(starts again from empty databases\)$/m,
    );
  });

  it('refuses a folder it did not make, naming it, and writes nothing (exit 2)', async () => {
    const other = path.join(cwd, 'home', 'mine');
    await mkdir(other);
    await writeFile(path.join(other, 'notes.txt'), 'mine\n');
    const refused = await runCli(['demo'], {
      cwd: path.join(cwd, 'home'),
      env: { ...env, OPROC_DEMO_DIR: 'mine' },
    });
    expect(refused.code).to.equal(2);
    expect(oneLine(refused.stderr)).to.include(
      'mine exists and was not made by the demo; nothing was written',
    );
    expect(await readdir(other)).to.deep.equal(['notes.txt']);
    await rm(other, { recursive: true });
  });

  it("takes its processing information from the demo's example file, which says it is an example", async () => {
    const site = JSON.parse(await readFile(path.join(root, 'demo', 'site.json'), 'utf8')) as {
      processing_information?: unknown;
    };
    expect(site.processing_information).to.equal('processing_information.example.json');
    const written = JSON.parse(await readFile(path.join(dir, 'site.json'), 'utf8')) as {
      processing_information?: unknown;
      module_plugins?: unknown;
    };
    expect(written).to.deep.include({
      processing_information: 'processing_information.example.json',
      module_plugins: [],
    });
    const info = JSON.parse(
      await readFile(path.join(root, 'demo', 'processing_information.example.json'), 'utf8'),
    ) as { ratv: string; description?: string }[];
    expect(info.map((i) => i.ratv)).to.deep.equal(['7.0.8', '7.0.15']);
    for (const entry of info) expect(entry.description).to.match(/^Example processing information/);
    expect(output()).to.match(
      /^Processing +sub_run +mac\/processing\/processing\.mac .* demo\/processing_information\.example\.json$/m,
    );
  });

  it('imports the demo data set', () => {
    expect(output()).to.match(/data-flow import into .*: 322 new, 0 updated, 0 unchanged/);
  });

  it('reprocessing runs 300001–300004 and the original command line create the passes in the outlist', async function () {
    if (!commands.has('reprocess:range') || !commands.has('legacy')) this.skip();
    expect(output()).to.include('The reprocessing steps created 12 passes');
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
    expect(result.code, output()).to.equal(0);
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

describe('oproc demo prints each command as the user runs oproc', () => {
  let temp: Awaited<ReturnType<typeof tempDir>>;
  before(async () => (temp = await tempDir('oproc-demo-bin-')));
  after(() => temp.remove());

  /** A folder on PATH holding `oproc`, a link to this package's bin as npm makes it. */
  async function binFolder(...parts: string[]): Promise<string> {
    const folder = path.join(temp.dir, ...parts);
    await mkdir(folder, { recursive: true });
    await symlink(path.join(root, 'bin', 'run.js'), path.join(folder, 'oproc'));
    return folder;
  }

  it('installed (npm install -g, npm link): oproc', async () => {
    const global = await binFolder('prefix', 'bin');
    expect(commandFor('oproc', root, root, { PATH: `/usr/bin${path.delimiter}${global}` })).to.equal('oproc');
  });

  it('only in a node_modules/.bin (npx oproc, an npm script): npx oproc', async () => {
    const local = await binFolder('project', 'node_modules', '.bin');
    expect(commandFor('oproc', root, root, { PATH: local })).to.equal('npx oproc');
  });

  it('not on PATH (a clone): node and the bin, relative inside the folder the user is in, else absolute', () => {
    expect(commandFor('oproc', root, root, { PATH: '/usr/bin' })).to.equal('node bin/run.js');
    expect(commandFor('offline_processing', root, path.join(root, 'demo'), { PATH: '' })).to.equal(
      `node ${path.join(root, 'bin', 'offline_processing.js')}`,
    );
  });
});
