/**
 * The status page and `oproc status` at the experiment's scale: job documents of runs with 2
 * modules, passes over the last four weeks in every status, a watcher with a backlog, locks and
 * submissions. By default on Apache CouchDB from the kit (300,000 job documents), then, from
 * `npm run bench`, pouchdb-server and the embedded backends (20,000 each). Times `GET /`, the first
 * `GET /api/status` and later ones, how long a status change takes to reach a connected page over
 * the event stream, how long the page takes to render in chromium (where it is installed), and
 * `oproc status` from the command line. Writes its own section of docs/PERFORMANCE.md.
 *
 *   tsx bench/serve.ts [--server couchdb,pouchdb-server,embedded] [--jobs 300000,20000,20000] [--no-write]
 *                                                      (alone: starts and stops its own servers)
 *   tsx bench/serve.ts --from-json FIGURES.json        (the section again from a run's printed figures)
 *   npm run bench                                         (with the other scenarios: see bench/run.ts)
 */
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { loadavg, tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

import { format, resolveConfig } from 'prettier';

import type { StoredDocument } from '../src/backends/types.js';
import { dataflowDesign, processingDesign } from '../src/engine/design.js';
import type { HttpDatabase } from '../test/support/bulk-seed.js';
import { chromiumPath, startBrowser } from '../test/support/browser.js';
import { apacheCouchMissing, startApacheCouch } from '../test/support/apache-couch.js';
import { startCouch } from '../test/support/couch-server.js';
import { startPostgres } from '../test/support/postgres-server.js';
import { dataflowDocsFor, ratdbTablesFor } from '../test/support/scenario.js';
import type { RunningServer } from '../test/support/servers.js';
import { startServe } from '../test/support/serve.js';
import { cleanupAll, guardSignals, measureCli, median, onCleanup } from './processes.js';
import { embeddedDatabases, firstRun, ratv, seedingChild, serverDatabases, withDatabases } from './seed.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const chunk = 2000;
const samples = 7;
const backlogRuns = 10;
const markers = ['<!-- serve-bench:start -->', '<!-- serve-bench:end -->'] as const;

export interface ServeFigures {
  /** The document server measured, and the 1-minute load average when the run started. */
  server?: string;
  loadAverage?: number;
  jobs: number;
  runs: number;
  seedMs: number;
  viewBuildMs: number;
  /** `GET /api/status` just after `oproc serve` started: one computation with nothing kept. */
  firstStatusMs?: number;
  pageMs?: number[];
  statusMs?: number[];
  statusBytes?: number;
  /** A status change until a connected page has it (not embedded: no other process may write). */
  liveMs?: number[];
  browserMs?: number[];
  /** `oproc status CONFIG RATV --json` from the command line, start-up included. */
  cliStatusMs?: number[];
}

const log = (message: string) =>
  console.error(`[bench serve ${new Date().toISOString().slice(11, 19)}] ${message}`);

/** Weighted so every status appears, most passes done, as at the experiment. */
const statusMix: [string, number][] = [
  ['completed', 70],
  ['waiting', 8],
  ['submitted', 5],
  ['running', 6],
  ['failed', 4],
  ['partFail', 2],
  ['unsatisfied', 1],
  ['canceled', 2],
  ['new', 1],
  ['deleted', 1],
];
const statusWheel = statusMix.flatMap(([status, weight]) => Array<string>(weight).fill(status));

function jobDocument(run: number, module: string, index: number, now: number): StoredDocument {
  const created = new Date(now - (index % 28) * 86_400_000 - (index % 3600) * 1000).toISOString();
  const status = statusWheel[(index * 7919) % statusWheel.length]!;
  const pass = (number: number, passStatus: string, at: string) => ({
    pass: number,
    ratv,
    filetype: 'L2',
    ratdb_tag: null,
    status: passStatus,
    level: module === 'Processing' ? 'sub_run' : 'run_root',
    path: `mac/processing/${module.toLowerCase()}.mac`,
    outputs: ['ntuple'],
    prerequisites: module === 'Analysis' ? [{ module: 'Processing', pass: 0 }] : [],
    subjobs: [{ subrun: module === 'Processing' ? 0 : null, status: passStatus }],
    submission: `sub_bench_${index % 30}`,
    mode: 'watch',
    created: at,
    created_by: 'bench@localhost',
  });
  // Every tenth job was retried as a new pass: older failed, newest in its own status.
  const passes =
    index % 10 === 0
      ? [pass(0, 'failed', new Date(Date.parse(created) - 3_600_000).toISOString()), pass(1, status, created)]
      : [pass(0, status, created)];
  return { _id: `job_${run}_${module}`, type: 'job', run, module, passes };
}

async function post(url: string, body: unknown, headers: Record<string, string> = {}): Promise<unknown> {
  const response = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify(body),
  });
  if (!response.ok) throw new Error(`POST ${url}: HTTP ${response.status} ${await response.text()}`);
  return response.json();
}

async function bulk(db: HttpDatabase, docs: StoredDocument[]): Promise<void> {
  for (let i = 0; i < docs.length; i += chunk) {
    const rows = (await post(`${db.url}/_bulk_docs`, { docs: docs.slice(i, i + chunk) }, db.headers)) as {
      error?: string;
    }[];
    const failed = rows.find((r) => r.error);
    if (failed) throw new Error(`_bulk_docs: ${JSON.stringify(failed)}`);
  }
}

/** Job documents by raw `_bulk_docs`; data-flow, RATDB, a watcher with a backlog, locks, submissions through the backends. */
export async function seedServe(
  config: string,
  processing: HttpDatabase | undefined,
  jobs: number,
): Promise<{ runs: number; seedMs: number }> {
  const runs = Math.ceil(jobs / 2);
  const lastRun = firstRun + runs - 1;
  const now = Date.now();
  const started = performance.now();
  await withDatabases(config, async (db) => {
    await Promise.all([db.processing.create(), db.dataflow.create(), db.ratdb.create()]);
    await db.processing.ensureDesign(processingDesign);
    await db.dataflow.ensureDesign(dataflowDesign);
    // The newest runs are in the data-flow database (the last one ended), with their RATDB tables.
    const recent = Array.from({ length: backlogRuns + 5 }, (_, i) => ({
      run: lastRun + 1 + i,
      subruns: 2,
      ended: i === backlogRuns + 4,
    }));
    await db.dataflow.bulkWrite(recent.flatMap(dataflowDocsFor));
    await db.ratdb.load(recent.flatMap(ratdbTablesFor));
    const iso = new Date(now).toISOString();
    await db.processing.bulkWrite([
      {
        _id: `watch_${ratv}_L2`,
        type: 'watch_state',
        ratv,
        filetype: 'L2',
        last_run: lastRun + 5,
        updated: iso,
      },
      {
        _id: `lease_watch_${ratv}_L2`,
        type: 'lease',
        holder: 'bench@localhost pid 1',
        host: 'localhost',
        heartbeat: iso,
        expires: new Date(now + 3_600_000).toISOString(),
      },
      {
        _id: 'calibration_lock_PCA',
        type: 'calibration_lock',
        calibration: 'PCA',
        run: firstRun + 1000,
        locked: true,
        validto: firstRun + 1000,
        set_at: iso,
        released_at: iso,
        released_by: 'bench@localhost',
      },
      ...Array.from({ length: 30 }, (_, i) => ({
        _id: `submission_sub_bench_${i}`,
        type: 'submission',
        mode: 'watch',
        ratv,
        filetype: 'L2',
        runs: [firstRun + i],
        done: [firstRun + i],
        started: new Date(now - i * 3_600_000).toISOString(),
        finished: new Date(now - i * 3_600_000 + 60_000).toISOString(),
      })),
    ]);
  });
  // Job documents by raw `_bulk_docs` on a server; through the backend (PouchDB's bulkDocs) when embedded.
  const write = async (work: (docs: StoredDocument[]) => Promise<void>) => {
    let docs: StoredDocument[] = [];
    for (let i = 0; i < runs; i++) {
      for (const [m, module] of ['Processing', 'Analysis'].entries()) {
        if (2 * i + m >= jobs) break;
        docs.push(jobDocument(firstRun + i, module, 2 * i + m, now));
      }
      if (docs.length >= 20_000) {
        await work(docs);
        docs = [];
      }
    }
    await work(docs);
  };
  if (processing) await write((docs) => bulk(processing, docs));
  else await withDatabases(config, (db) => write(async (docs) => void (await db.processing.bulkWrite(docs))));
  return { runs, seedMs: performance.now() - started };
}

/** The scenario's documents, then every processing view built once (timed apart). */
export async function seedAndBuild(
  config: string,
  processing: HttpDatabase | undefined,
  jobs: number,
): Promise<{ runs: number; seedMs: number; viewBuildMs: number }> {
  const { runs, seedMs } = await seedServe(config, processing, jobs);
  const viewStart = performance.now();
  await withDatabases(config, async (db) => {
    for (const view of Object.keys(processingDesign.views))
      await db.processing.queryView(processingDesign.name, view, { limit: 1 });
  });
  return { runs, seedMs, viewBuildMs: performance.now() - viewStart };
}

async function timed(url: string): Promise<{ ms: number; bytes: number }> {
  const started = performance.now();
  const response = await fetch(url);
  const text = await response.text();
  if (!response.ok) throw new Error(`GET ${url}: HTTP ${response.status} ${text.slice(0, 500)}`);
  return { ms: performance.now() - started, bytes: text.length };
}

/** Statuses changed by a "grid client", each timed until a page's event stream shows it. */
async function liveLatency(serveUrl: string, processing: HttpDatabase, rounds: number): Promise<number[]> {
  const events = await fetch(new URL('api/events', serveUrl));
  const reader = events.body!.getReader();
  const decoder = new TextDecoder();
  let buffer = '';
  const nextStatus = async (): Promise<{ passes: { newest: Record<string, Record<string, number>> } }[]> => {
    for (;;) {
      const end = buffer.indexOf('\n\n');
      if (end >= 0) {
        const block = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        const data = /^data: (.*)$/m.exec(block);
        if (block.startsWith('event: status') && data)
          return (JSON.parse(data[1]!) as { ratvs: never[] }).ratvs;
        continue;
      }
      const { value, done } = await reader.read();
      if (done) throw new Error('event stream ended');
      buffer += decoder.decode(value);
    }
  };
  await nextStatus(); // the value every page gets on connecting
  const times: number[] = [];
  for (let round = 0; round < rounds; round++) {
    const id = `job_${firstRun + 1 + round * 2}_Processing`;
    const doc = (await (await fetch(`${processing.url}/${id}`, { headers: processing.headers })).json()) as {
      passes: { status: string }[];
    };
    const was = doc.passes.at(-1)!.status;
    const to = was === 'deleted' ? 'canceled' : 'deleted';
    const count = (r: Awaited<ReturnType<typeof nextStatus>>) => r[0]?.passes.newest.Processing?.[to] ?? 0;
    doc.passes.at(-1)!.status = to;
    const before = await fetch(new URL('api/status', serveUrl)).then(async (r) =>
      count((await r.json()).ratvs),
    );
    const started = performance.now();
    await post(`${processing.url}/_bulk_docs`, { docs: [doc] }, processing.headers);
    while (count(await nextStatus()) !== before + 1) {
      // A periodic refresh or an earlier change's event: wait for the one that shows this change.
    }
    times.push(performance.now() - started);
  }
  await reader.cancel();
  return times;
}

async function browserRender(serveUrl: string, rounds: number): Promise<number[] | undefined> {
  if (!existsSync(chromiumPath)) {
    log(`no chromium at ${chromiumPath}: page render in a browser not measured`);
    return undefined;
  }
  const browser = await startBrowser();
  onCleanup(`chromium (PID ${browser.pid})`, () => browser.stop());
  try {
    const page = await browser.context.newPage();
    await page.setViewportSize({ width: 1280, height: 900 });
    const times: number[] = [];
    for (let i = 0; i < rounds; i++) {
      const started = performance.now();
      await page.goto(serveUrl);
      await page.waitForSelector('body[data-rendered]', { timeout: 60_000 });
      times.push(performance.now() - started);
    }
    return times;
  } finally {
    await browser.stop();
  }
}

/** Where the scenario runs: a document server with PostgreSQL for RATDB, or the embedded backends. */
export type ServeTarget =
  | { server: string; couch: RunningServer; postgres: RunningServer }
  | { server: 'PouchDB + PGlite (embedded)' };

/**
 * The scenario on one target (bench/run.ts passes its own servers). `oproc serve` is measured first,
 * then `oproc status` from the command line once it has stopped: an embedded database is open to one
 * process at a time, and on a server the two would share its CPU.
 */
export async function benchServe(dir: string, target: ServeTarget, jobs = 300_000): Promise<ServeFigures> {
  const loadAverage = loadavg()[0];
  const dbs =
    'couch' in target
      ? await serverDatabases(path.join(dir, 'serve'), target.couch, target.postgres, 'serve')
      : await embeddedDatabases(path.join(dir, 'serve-embedded'));
  log(`${target.server}: seeding ${jobs} job documents, then building the views`);
  // Embedded PouchDB keeps a view index locked by the process that opened it: seed in a child.
  const { runs, seedMs, viewBuildMs } = dbs.processing
    ? await seedAndBuild(dbs.config, dbs.processing, jobs)
    : await seedingChild<Awaited<ReturnType<typeof seedAndBuild>>>('serve-seed-cli.ts', dbs.config, [
        String(jobs),
      ]);
  log(
    `seeded in ${(seedMs / 1000).toFixed(1)} s; views built in ${(viewBuildMs / 1000).toFixed(1)} s; oproc serve`,
  );
  const serve = await startServe(dbs.config);
  onCleanup(`oproc serve (PID ${serve.pid})`, async () => void (await serve.stop()));
  const figures: ServeFigures = { server: target.server, loadAverage, jobs, runs, seedMs, viewBuildMs };
  try {
    // The first request waits for the first computation, with nothing kept yet.
    figures.firstStatusMs = (await timed(new URL('api/status', serve.url).href)).ms;
    const page: number[] = [];
    const status: number[] = [];
    for (let i = 0; i < samples; i++) {
      page.push((await timed(serve.url)).ms);
      const s = await timed(new URL('api/status', serve.url).href);
      status.push(s.ms);
      figures.statusBytes = s.bytes;
    }
    Object.assign(figures, { pageMs: page, statusMs: status });
    log(`GET / median ${median(page).toFixed(1)} ms; GET /api/status median ${median(status).toFixed(0)} ms`);
    // A grid client's change needs the database over HTTP: an embedded one is open in serve alone.
    if (dbs.processing) {
      figures.liveMs = await liveLatency(serve.url, dbs.processing, 5);
      log(`status change to page: median ${median(figures.liveMs).toFixed(0)} ms`);
    }
    figures.browserMs = await browserRender(serve.url, 3);
    if (figures.browserMs)
      log(`page rendered in chromium: median ${median(figures.browserMs).toFixed(0)} ms`);
  } finally {
    await serve.stop();
  }
  figures.cliStatusMs = [];
  for (let i = 0; i < 3; i++) {
    const cli = await measureCli(['status', dbs.config, ratv, '--json']);
    if (cli.code !== 0 && cli.code !== 1)
      throw new Error(`oproc status exited ${cli.code}: ${cli.stderr.slice(-2000)}`);
    figures.cliStatusMs.push(cli.wallMs);
  }
  log(`oproc status --json: median ${median(figures.cliStatusMs).toFixed(0)} ms`);
  return figures;
}

/**
 * Issue 21's limit for one status on each target: 1 s at 300,000 job documents on Apache CouchDB,
 * 2 s at 20,000 on pouchdb-server; the embedded backends' figures are stated, with no limit.
 */
function statusLimitMs(f: ServeFigures): number | undefined {
  if (f.server?.startsWith('Apache')) return 1000;
  if (f.server === 'pouchdb-server') return 2000;
  return undefined;
}

const ms = (values: number[]) =>
  `${median(values).toFixed(0)} ms${values.length > 1 ? ` (max ${Math.max(...values).toFixed(0)})` : ''}`;

function cell(values: number[] | undefined, limit: number | undefined): string {
  if (!values?.length) return 'not measured';
  if (limit === undefined) return ms(values);
  return `${ms(values)}: ${median(values) <= limit ? 'met' : '**missed**'} (≤ ${limit / 1000} s)`;
}

export function serveSection(figures: ServeFigures[], date: string): string {
  const columns = figures.map(
    (f) => `${f.server ?? 'pouchdb-server'}, ${f.jobs.toLocaleString('en')} job documents`,
  );
  const row = (what: string, value: (f: ServeFigures) => string) =>
    `| ${what} | ${figures.map(value).join(' | ')} |`;
  const load = figures.map((f) => f.loadAverage?.toFixed(1) ?? 'not recorded').join(', ');
  return [
    markers[0],
    '',
    '## Status page (`oproc serve`) and `oproc status` at scale',
    '',
    `Measured by \`bench/serve.ts\` (part of \`npm run bench\`, or alone with \`npx tsx bench/serve.ts --server couchdb|pouchdb-server|embedded --jobs N\`) on ${date}, on the machine above (1-minute load average at the start of each: ${load}), with PostgreSQL for RATDB on the servers.`,
    '',
    `Workload: job documents of runs with Processing and Analysis, one pass each (every tenth job two), passes in every status and created over the last 28 days; a watcher with a backlog of ${backlogRuns} complete runs (each with its verdict), a lock, 30 submissions. Seeded by raw \`_bulk_docs\` (embedded: PouchDB's \`bulkDocs\`) in ${figures.map((f) => `${(f.seedMs / 1000).toFixed(0)} s`).join(', ')}; the processing views built once in ${figures.map((f) => `${(f.viewBuildMs / 1000).toFixed(0)} s`).join(', ')}, which a database kept up to date never pays at once. Medians of ${samples} requests after the first.`,
    '',
    `| what | ${columns.join(' | ')} |`,
    `|---|${figures.map(() => '---:|').join('')}`,
    row('`GET /` (the page; limit 1 s)', (f) => cell(f.pageMs, 1000)),
    row(
      'the first `GET /api/status` after `oproc serve` started: one status computation, nothing kept',
      (f) => cell(f.firstStatusMs === undefined ? undefined : [f.firstStatusMs], statusLimitMs(f)),
    ),
    row('`GET /api/status` between changes (the last computation)', (f) =>
      cell(f.statusMs, statusLimitMs(f)),
    ),
    row('`oproc status CONFIG RATV --json` from the command line (start-up included; 3 runs)', (f) =>
      cell(f.cliStatusMs, statusLimitMs(f)),
    ),
    row(
      "a grid client's status change, until a connected page's event stream has it (one computation, with past days kept, plus 200 ms of debounce)",
      (f) =>
        f.liveMs
          ? cell(f.liveMs, statusLimitMs(f) && statusLimitMs(f)! + 200)
          : 'no other process may write (one process opens an embedded database)',
    ),
    row('page rendered in chromium (HTML, scripts, status, charts; limit 1 s)', (f) =>
      cell(f.browserMs, 1000),
    ),
    '',
    "The limits are issue 21's: one status at most 1 s at 300,000 job documents on Apache CouchDB and at most 2 s at 20,000 on pouchdb-server; the embedded figures are stated. The page itself is static and holds no document list, only the status JSON; `/api/status` is answered from the last computation until the change feed reports a change, and a request after a change waits for one computation, shared with every other request and page. A computation older than 10 s is answered at once while a new one runs behind it (heartbeat ages change with time alone). A change on the feed waits 200 ms for the rest of its burst, then one status computation is sent to every open page.",
    '',
    "Every read of a status is by keys, not documents. The runs per day are counted exactly, a grouped row per run and day (`passes_by_day` at group level 3, one read a day, four days at a time), each row with the run's passes that day, which is what grows with the database. Apache CouchDB keeps reductions in its view B-tree, so there the grouped counts cost by the number of keys; pouchdb-server and embedded PouchDB keep none and reduce every mapped row of a grouped read (see the `oproc status` section above), so there a status grows with the passes. `oproc serve` keeps each past day's runs and passes for an hour, so after a change it reads today's rows only; `oproc status` from the command line reads every day's.",
    '',
    markers[1],
  ].join('\n');
}

/** Puts the section into docs/PERFORMANCE.md, replacing an earlier one (the rest of the file is left as it is). */
export async function writeServeSection(figures: ServeFigures[]): Promise<void> {
  const file = path.join(root, 'docs', 'PERFORMANCE.md');
  const text = existsSync(file) ? await readFile(file, 'utf8') : '# Performance\n';
  const section = serveSection(figures, new Date().toISOString().slice(0, 10));
  const start = text.indexOf(markers[0]);
  const end = text.indexOf(markers[1]);
  const next =
    start >= 0 && end > start
      ? `${text.slice(0, start)}${section}${text.slice(end + markers[1].length)}`
      : `${text.trimEnd()}\n\n${section}\n`;
  await writeFile(file, await format(next, { ...(await resolveConfig(file)), filepath: file }));
}

/** A target of the scenario and its size: `couchdb` is Apache CouchDB from the kit. */
export interface ServePlan {
  server: 'couchdb' | 'pouchdb-server' | 'embedded';
  jobs: number;
}

export function parseServePlan(servers: string, jobs: string[]): ServePlan[] {
  return servers.split(',').map((server, i) => {
    if (server !== 'couchdb' && server !== 'pouchdb-server' && server !== 'embedded')
      throw new Error(`--server: couchdb, pouchdb-server or embedded, not ${server}`);
    const n = Number(jobs[Math.min(i, jobs.length - 1)]);
    if (!Number.isInteger(n) || n < 2) throw new Error(`--jobs: whole numbers ≥ 2, comma-separated`);
    return { server, jobs: n };
  });
}

/**
 * The scenario on each target in turn, each server started before and stopped after it. Apache
 * CouchDB is left out, with a line saying so, where the kit is not beside the repository.
 */
export async function serveScenarios(
  dir: string,
  postgres: RunningServer,
  plan: ServePlan[],
): Promise<ServeFigures[]> {
  const figures: ServeFigures[] = [];
  for (const { server, jobs } of plan) {
    if (server === 'embedded') {
      figures.push(await benchServe(dir, { server: 'PouchDB + PGlite (embedded)' }, jobs));
      continue;
    }
    if (server === 'couchdb' && apacheCouchMissing()) {
      log(`Apache CouchDB not measured: ${apacheCouchMissing()}`);
      continue;
    }
    const couch = server === 'couchdb' ? await startApacheCouch() : await startCouch();
    onCleanup(`${server} (PID ${couch.pid})`, () => couch.stop());
    try {
      const name = server === 'couchdb' ? 'Apache CouchDB 3.5.0' : server;
      figures.push(await benchServe(path.join(dir, server), { server: name, couch, postgres }, jobs));
    } finally {
      await couch.stop();
    }
  }
  return figures;
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      jobs: { type: 'string', default: '300000' },
      server: { type: 'string', default: apacheCouchMissing() ? 'pouchdb-server' : 'couchdb' },
      'no-write': { type: 'boolean', default: false },
      'from-json': { type: 'string' },
    },
  });
  if (values['from-json']) {
    // The section again from the figures an earlier run printed, measuring nothing.
    const printed = JSON.parse(await readFile(values['from-json'], 'utf8')) as ServeFigures | ServeFigures[];
    await writeServeSection(Array.isArray(printed) ? printed : [printed]);
    return;
  }
  const plan = parseServePlan(values.server, values.jobs.split(','));
  guardSignals();
  const dir = await mkdtemp(path.join(tmpdir(), 'oproc-bench-serve-'));
  onCleanup('benchmark directory', () => rm(dir, { recursive: true, force: true }));
  const postgres = await startPostgres();
  onCleanup(`PostgreSQL (PID ${postgres.pid})`, () => postgres.stop());
  const figures = await serveScenarios(dir, postgres, plan);
  console.log(JSON.stringify(figures, null, 2));
  if (!values['no-write']) {
    await writeServeSection(figures);
    log('wrote its section of docs/PERFORMANCE.md');
  }
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  try {
    await main();
  } catch (error) {
    console.error(error instanceof Error ? (error.stack ?? error.message) : String(error));
    process.exitCode = 1;
  } finally {
    await cleanupAll();
  }
}
