/**
 * The status page at the experiment's scale: 300,000 job documents (150,000 runs, 2 modules, passes
 * over the last four weeks in every status), a watcher with a backlog, locks and submissions, on
 * Apache CouchDB from the kit (where it is there; else pouchdb-server) and PostgreSQL. Times `GET /`, `GET /api/status` (warm, after the views are built),
 * how long a status change takes to reach a connected page over the event stream, and (where
 * chromium is installed) how long the page takes to render in a browser. Writes its own section of
 * docs/PERFORMANCE.md.
 *
 *   tsx bench/serve.ts [--jobs 300000] [--server couchdb|pouchdb-server] [--no-write]
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
import { firstRun, ratv, serverDatabases, withDatabases } from './seed.js';

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
  pageMs: number[];
  statusMs: number[];
  statusBytes: number;
  liveMs: number[];
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
  processing: HttpDatabase,
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
  let docs: StoredDocument[] = [];
  for (let i = 0; i < runs; i++) {
    for (const [m, module] of ['Processing', 'Analysis'].entries()) {
      if (2 * i + m >= jobs) break;
      docs.push(jobDocument(firstRun + i, module, 2 * i + m, now));
    }
    if (docs.length >= 20_000) {
      await bulk(processing, docs);
      docs = [];
    }
  }
  await bulk(processing, docs);
  return { runs, seedMs: performance.now() - started };
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

/** The scenario on running servers (bench/run.ts passes its own). */
export async function benchServe(
  dir: string,
  servers: { couch: RunningServer; postgres: RunningServer },
  jobs = 300_000,
  server = 'pouchdb-server',
): Promise<ServeFigures> {
  const loadAverage = loadavg()[0];
  const dbs = await serverDatabases(path.join(dir, 'serve'), servers.couch, servers.postgres, 'serve');
  log(`seeding ${jobs} job documents`);
  const { runs, seedMs } = await seedServe(dbs.config, dbs.processing!, jobs);
  log(`seeded in ${(seedMs / 1000).toFixed(1)} s; building the views`);
  const viewStart = performance.now();
  await withDatabases(dbs.config, async (db) => {
    for (const view of Object.keys(processingDesign.views))
      await db.processing.queryView(processingDesign.name, view, { limit: 1 });
  });
  const viewBuildMs = performance.now() - viewStart;
  log(`views built in ${(viewBuildMs / 1000).toFixed(1)} s; oproc serve`);
  const serve = await startServe(dbs.config);
  onCleanup(`oproc serve (PID ${serve.pid})`, async () => void (await serve.stop()));
  try {
    await timed(new URL('api/status', serve.url).href); // warm: first reads after the build
    const page: number[] = [];
    const status: number[] = [];
    let statusBytes = 0;
    for (let i = 0; i < samples; i++) {
      page.push((await timed(serve.url)).ms);
      const s = await timed(new URL('api/status', serve.url).href);
      status.push(s.ms);
      statusBytes = s.bytes;
    }
    log(`GET / median ${median(page).toFixed(1)} ms; GET /api/status median ${median(status).toFixed(0)} ms`);
    const liveMs = await liveLatency(serve.url, dbs.processing!, 5);
    log(`status change to page: median ${median(liveMs).toFixed(0)} ms`);
    const browserMs = await browserRender(serve.url, 3);
    if (browserMs) log(`page rendered in chromium: median ${median(browserMs).toFixed(0)} ms`);
    const cliStatusMs: number[] = [];
    for (let i = 0; i < 3; i++) {
      const cli = await measureCli(['status', dbs.config, ratv, '--json']);
      if (cli.code !== 0 && cli.code !== 1)
        throw new Error(`oproc status exited ${cli.code}: ${cli.stderr.slice(-2000)}`);
      cliStatusMs.push(cli.wallMs);
    }
    log(`oproc status --json: median ${median(cliStatusMs).toFixed(0)} ms`);
    return {
      server,
      loadAverage,
      jobs,
      runs,
      seedMs,
      viewBuildMs,
      pageMs: page,
      statusMs: status,
      statusBytes,
      liveMs,
      browserMs,
      cliStatusMs,
    };
  } finally {
    await serve.stop();
  }
}

const ms = (values: number[]) => `${median(values).toFixed(0)} ms (max ${Math.max(...values).toFixed(0)})`;

export function serveSection(f: ServeFigures, date: string): string {
  const verdict = (value: number, limit: number) => (value < limit ? 'met' : '**not met**');
  return [
    markers[0],
    '',
    '## Status page (`oproc serve`) at scale',
    '',
    `Measured by \`bench/serve.ts\` (part of \`npm run bench\`, or alone with \`npx tsx bench/serve.ts\`) on ${date}, on the machine above (1-minute load average ${f.loadAverage?.toFixed(1) ?? 'not recorded'} at the start), against ${f.server ?? 'pouchdb-server'} and PostgreSQL.`,
    '',
    `Workload: ${f.jobs.toLocaleString('en')} job documents (${f.runs.toLocaleString('en')} runs, Processing and Analysis), one pass each (every tenth job two), passes in every status and created over the last 28 days; a watcher with a backlog of ${backlogRuns} complete runs (each with its verdict), a lock, 30 submissions. Seeded by raw \`_bulk_docs\` in ${(f.seedMs / 1000).toFixed(0)} s; the processing views (reduce views for the counts and days) built once in ${(f.viewBuildMs / 1000).toFixed(0)} s, which a database kept up to date never pays at once. Medians of ${f.statusMs.length} requests after one warm-up request.`,
    '',
    '| what | measured | target | |',
    '|---|---:|---|---|',
    `| \`GET /\` (the page) | ${ms(f.pageMs)} | < 1 s | ${verdict(median(f.pageMs), 1000)} |`,
    `| \`GET /api/status\` between changes (= \`oproc status --json\`, ${(f.statusBytes / 1024).toFixed(0)} KiB, the last computation) | ${ms(f.statusMs)} | < 1 s | ${median(f.statusMs) < 1000 && Math.max(...f.statusMs) >= 1000 ? 'met between changes, **not** when it waits for a computation' : verdict(Math.max(...f.statusMs), 1000)} |`,
    ...(f.browserMs
      ? [
          `| page rendered in chromium (HTML, scripts, status, charts) | ${ms(f.browserMs)} | < 1 s | ${verdict(median(f.browserMs), 1000)} |`,
        ]
      : []),
    ...(f.cliStatusMs
      ? [
          `| \`oproc status CONFIG RATV --json\` from the command line (start-up included; ${f.cliStatusMs.length} runs) | ${ms(f.cliStatusMs)} | ≤ 1 s | ${verdict(median(f.cliStatusMs), 1000)} |`,
        ]
      : []),
    `| a grid client's status change, until a connected page's event stream has it (one status computation, plus 200 ms of debounce) | ${ms(f.liveMs)} | < 2 s | ${verdict(median(f.liveMs), 2000)} |`,
    '',
    'The page itself is static and holds no document list, only the status JSON; `/api/status` is answered from the last computation until the change feed reports a change, and a request after a change waits for one computation, shared with every other request and page. A computation older than 10 s is answered at once while a new one runs behind it (heartbeat ages change with time alone). A change on the feed waits 200 ms for the rest of its burst, then one status computation is sent to every open page.',
    '',
    `So the figure that decides is one status computation (\`readStatus\`, the same as \`oproc status\`): here about ${((median(f.liveMs) - 200) / 1000).toFixed(1)} s for ${f.jobs.toLocaleString('en')} job documents on ${f.server ?? 'pouchdb-server'}. Apache CouchDB keeps reductions in its view B-tree, so the grouped counts cost by the number of keys; pouchdb-server keeps none and reduces every mapped row of a grouped read (see the \`oproc status\` section above), so there a status computation grows with the job documents. Every read of a status is by keys, not documents: the passes per day are one reduced row per day; the runs per day are counted exactly, a grouped row per run and day (\`passes_by_day\` at group level 3), which is what grows with the database: here ${f.runs.toLocaleString('en')} runs with passes spread over 28 days. \`oproc serve\` keeps each past day's runs for an hour, so after a change it reads today's rows only; \`oproc status\` from the command line reads every day's.`,
    '',
    markers[1],
  ].join('\n');
}

/** Puts the section into docs/PERFORMANCE.md, replacing an earlier one (the rest of the file is left as it is). */
export async function writeServeSection(figures: ServeFigures): Promise<void> {
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

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      jobs: { type: 'string', default: '300000' },
      server: { type: 'string' },
      'no-write': { type: 'boolean', default: false },
      'from-json': { type: 'string' },
    },
  });
  if (values['from-json']) {
    // The section again from the figures an earlier run printed, measuring nothing.
    await writeServeSection(JSON.parse(await readFile(values['from-json'], 'utf8')) as ServeFigures);
    return;
  }
  guardSignals();
  const dir = await mkdtemp(path.join(tmpdir(), 'oproc-bench-serve-'));
  onCleanup('benchmark directory', () => rm(dir, { recursive: true, force: true }));
  const server = values.server ?? (apacheCouchMissing() ? 'pouchdb-server' : 'couchdb');
  const couch = server === 'couchdb' ? await startApacheCouch() : await startCouch();
  onCleanup(`${server} (PID ${couch.pid})`, () => couch.stop());
  const postgres = await startPostgres();
  onCleanup(`PostgreSQL (PID ${postgres.pid})`, () => postgres.stop());
  const figures = await benchServe(
    dir,
    { couch, postgres },
    Number(values.jobs),
    server === 'couchdb' ? 'Apache CouchDB 3.5.0' : server,
  );
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
