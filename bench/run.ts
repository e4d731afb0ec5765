/**
 * `npm run bench`: oproc against real servers (Apache CouchDB from the kit beside the repository,
 * when it is there, and pouchdb-server) and the embedded backends, at several sizes, beside raw
 * bulk writes of the same documents; writes docs/PERFORMANCE.md and docs/performance.svg.
 *
 *   tsx bench/run.ts [--sizes 10000,50000,200000] [--pouchdb-sizes 10000,50000] [--servers couchdb,pouchdb-server]
 *                    [--subruns 3] [--no-embedded] [--embedded-runs 10000] [--no-watch] [--no-write]
 *                    [--no-ops] [--ops-jobs 40000] [--ops-passes 10000]
 *                    [--serve-jobs 300000 (0: no status page scenario)]
 *                    [--serve-pouchdb-jobs 20000 (pouchdb-server and embedded; 0 leaves them out)]
 *   tsx bench/run.ts --soak 2h                          (only the soak: bench/soak.ts)
 *   OPROC_BENCH_SIZES=10000 tsx bench/run.ts          (a quick run: these sizes on every server)
 *   tsx bench/run.ts --from-json RESULTS.json          (the report again from a run's printed results)
 *
 * The benchmark is a list of scenarios (`scenarios` below), each adding its figures to the results.
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { cpus, freemem, loadavg, release, tmpdir, totalmem, type } from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';

import { processingDesign } from '../src/engine/design.js';
import { apacheCouchMissing, startApacheCouch } from '../test/support/apache-couch.js';
import { httpDatabase, send } from '../test/support/bulk-seed.js';
import { startCouch } from '../test/support/couch-server.js';
import { startPostgres } from '../test/support/postgres-server.js';
import type { RunningServer } from '../test/support/servers.js';
import { cleanupAll, guardSignals, measureCli, median, onCleanup, treeCpuSeconds } from './processes.js';
import { benchPassChanges } from './pass-changes.js';
import { jobDocuments, rawBulkDocs, rawPouchBulkDocs, sweep } from './raw.js';
import {
  writeReport,
  type BenchResults,
  type CpuFigures,
  type EmbeddedResult,
  type Machine,
  type ServerResult,
  type SizeResult,
  type ViewWait,
} from './report.js';
import {
  embeddedDatabases,
  firstRun,
  ratv,
  seedInChild,
  seedServer,
  serverDatabases,
  withDatabases,
  type BenchDatabases,
  type Workload,
} from './seed.js';
import { serveScenarios, writeServeSection, type ServePlan } from './serve.js';
import { parseDuration, soak } from './soak.js';
import { watchLatency } from './watch.js';

export interface Options {
  couchSizes: number[];
  pouchSizes: number[];
  servers: string[];
  subruns: number;
  embedded: boolean;
  embeddedRuns: number;
  watch: boolean;
  write: boolean;
  /** retry and cancel of `opsPasses` passes among `opsJobs` job documents. */
  ops: boolean;
  opsJobs: number;
  opsPasses: number;
  /** Job documents of the status page scenario (bench/serve.ts) on Apache CouchDB; 0 skips the scenario. */
  serveJobs: number;
  /** The same on pouchdb-server and the embedded backends; 0 leaves them out. */
  servePouchJobs: number;
  /** Re-render the report from results printed by an earlier run, measuring nothing. */
  fromJson?: string;
  /** Only the soak (bench/soak.ts), for this many milliseconds. */
  soakMs?: number;
}

function sizeList(text: string, flag: string): number[] {
  const sizes = text.split(',').filter(Boolean).map(Number);
  if (sizes.some((n) => !Number.isInteger(n) || n < 2))
    throw new Error(`${flag}: whole numbers ≥ 2, comma-separated`);
  return sizes;
}

function options(): Options {
  const { values } = parseArgs({
    options: {
      sizes: { type: 'string', default: '10000,50000,200000' },
      'pouchdb-sizes': { type: 'string', default: '10000,50000' },
      servers: { type: 'string', default: 'couchdb,pouchdb-server' },
      subruns: { type: 'string', default: '3' },
      'no-embedded': { type: 'boolean', default: false },
      'embedded-runs': { type: 'string', default: '10000' },
      'no-watch': { type: 'boolean', default: false },
      'no-write': { type: 'boolean', default: false },
      'no-ops': { type: 'boolean', default: false },
      'ops-jobs': { type: 'string', default: '40000' },
      'ops-passes': { type: 'string', default: '10000' },
      'serve-jobs': { type: 'string', default: '300000' },
      'serve-pouchdb-jobs': { type: 'string', default: '20000' },
      'from-json': { type: 'string' },
      soak: { type: 'string' },
    },
  });
  const quick = process.env.OPROC_BENCH_SIZES;
  return {
    couchSizes: sizeList(quick ?? values.sizes, '--sizes'),
    pouchSizes: sizeList(quick ?? values['pouchdb-sizes'], '--pouchdb-sizes'),
    servers: values.servers.split(',').filter(Boolean),
    subruns: Number(values.subruns),
    embedded: !values['no-embedded'],
    embeddedRuns: Number(values['embedded-runs']),
    watch: !values['no-watch'],
    write: !values['no-write'],
    ops: !values['no-ops'],
    opsJobs: Number(values['ops-jobs']),
    opsPasses: Number(values['ops-passes']),
    serveJobs: Number(values['serve-jobs']),
    servePouchJobs: Number(values['serve-pouchdb-jobs']),
    fromJson: values['from-json'],
    soakMs: values.soak === undefined ? undefined : parseDuration(values.soak),
  };
}

function machine(): Machine {
  return {
    cpu: cpus()[0]?.model.trim() ?? 'unknown CPU',
    cores: cpus().length,
    memoryGiB: Math.round(totalmem() / 2 ** 30),
    os: `${type()} ${release()}`,
    node: process.versions.node,
  };
}

const log = (message: string) =>
  console.error(`[bench ${new Date().toISOString().slice(11, 19)}] ${message}`);

/** Runs the CLI, failing the benchmark with its output when it does not exit 0. */
async function cli(args: string[]) {
  const result = await measureCli(args);
  if (result.code !== 0)
    throw new Error(
      `oproc ${args[0]} exited with ${result.code}:\n${result.stderr.slice(-2000)}\n${result.stdout.slice(0, 2000)}`,
    );
  return result;
}

/** `reprocess range` over every seeded run, checked to have created both passes of each. */
async function reprocessRange(
  config: string,
  runs: number,
): Promise<{ ms: number; rssMb: number | undefined; cpuSeconds: number | undefined }> {
  const last = firstRun + runs - 1;
  const result = await cli([
    'reprocess',
    'range',
    config,
    ratv,
    'L2',
    String(firstRun),
    String(last),
    '--json',
  ]);
  const created = (JSON.parse(result.stdout) as { created: unknown[] }).created.length;
  if (created !== 2 * runs)
    throw new Error(`oproc created ${created} passes for ${runs} runs, not ${2 * runs}`);
  return { ms: result.wallMs, rssMb: result.peakRssMb, cpuSeconds: result.cpuSeconds };
}

/** oproc's own job documents of the first run, as templates for the raw baselines. */
function templates(config: string) {
  return withDatabases(config, async (db) => [
    ...(await db.processing.getMany([`job_${firstRun}_Processing`, `job_${firstRun}_Analysis`])).values(),
  ]);
}

function runNumbers(count: number): number[] {
  return Array.from({ length: count }, (_, i) => firstRun + i);
}

/**
 * The views' build on a database that has none: `oproc init --no-wait` starts it, and a watcher
 * started at once meets it, says so with its progress and waits, then handles the last run.
 */
async function buildMetByWatcher(dbs: BenchDatabases, runs: number): Promise<ViewWait> {
  const started = await cli(['init', dbs.config, '--no-wait']);
  const last = firstRun + runs - 1;
  const watch = await cli(['watch', dbs.config, ratv, 'L2', '--once', '--start-run', String(last - 1)]);
  const notices = watch.stderr.split('\n').filter((line) => line.includes('being built'));
  const init = await cli(['init', dbs.config]);
  return {
    noWaitMs: started.wallMs,
    watchMs: watch.wallMs,
    notices: notices.length,
    sampleNotice: notices.at(-1)?.replace(/http:\/\/[^ ]*\//, 'URL/'),
    initAfterMs: init.wallMs,
  };
}

/** The PIDs of a server's processes: the kit's nodes (listed in its DIR/pids), else the one started. */
async function serverPids(server: RunningServer & { dir?: string }): Promise<number[]> {
  const text = server.dir ? await readFile(path.join(server.dir, 'pids'), 'utf8').catch(() => '') : '';
  const listed = text
    .split('\n')
    .map((line) => Number(line.trim().split(/\s+/)[0]))
    .filter((pid) => Number.isInteger(pid) && pid > 0);
  return listed.length ? listed : [server.pid];
}

/** Deletes a size's databases (which also ends any index build on them). */
async function dropDatabases(dbs: BenchDatabases): Promise<void> {
  for (const db of [dbs.processing, dbs.dataflow]) if (db) await send(db, 'DELETE');
}

interface ServerUnderTest {
  name: string;
  couch: RunningServer;
  sizes: number[];
  /** Measure a view build met by a watcher at the largest size (servers that report builds). */
  viewWait: boolean;
}

async function benchSize(
  dir: string,
  target: ServerUnderTest,
  postgres: RunningServer,
  workload: Workload,
  shape: { chunk: number; inFlight: number },
  metByWatcher: boolean,
): Promise<SizeResult> {
  const tag = `${target.name}, ${workload.runs} runs`;
  const dbs = await serverDatabases(
    path.join(dir, `${target.name.replace(/\W+/g, '-')}-${workload.runs}`),
    target.couch,
    postgres,
    String(workload.runs),
  );
  log(`${tag}: seeding`);
  const { documents, writeMs } = await seedServer(dbs, workload);
  log(`${tag}: seeded ${documents} data-flow documents in ${(writeMs / 1000).toFixed(1)} s; oproc init`);
  let viewMs: number;
  let wait: ViewWait | undefined;
  if (metByWatcher) {
    wait = await buildMetByWatcher(dbs, workload.runs);
    viewMs = wait.noWaitMs + wait.watchMs;
  } else {
    viewMs = (await cli(['init', dbs.config])).wallMs;
  }
  log(`${tag}: views built in ${(viewMs / 1000).toFixed(1)} s`);
  const quietMs = await serverQuiet(target.couch, tag);
  log(`${tag}: oproc reprocess range`);
  const pids = await serverPids(target.couch);
  const cpuBefore = { server: await treeCpuSeconds(pids), postgres: await treeCpuSeconds([postgres.pid]) };
  const oproc = await reprocessRange(dbs.config, workload.runs);
  const serverCpu = (await treeCpuSeconds(pids)) - cpuBefore.server;
  const postgresCpu = (await treeCpuSeconds([postgres.pid])) - cpuBefore.postgres;
  log(
    `${tag}: oproc ${(oproc.ms / 1000).toFixed(1)} s, peak RSS ${oproc.rssMb?.toFixed(0)} MB; raw _bulk_docs`,
  );
  const docs = jobDocuments(await templates(dbs.config), runNumbers(workload.runs));
  // The server indexes the views of the processing database just written for a while after the
  // reprocess; the raw writes are measured on a server doing nothing else.
  await dropDatabases(dbs);
  await serverQuiet(target.couch, tag);
  const rawServerBefore = await treeCpuSeconds(pids);
  const rawClientBefore = process.cpuUsage();
  const rawMs = await rawBulkDocs(dbs.other!('raw'), docs, shape);
  const rawClient = process.cpuUsage(rawClientBefore);
  const cpu: CpuFigures = {
    oproc: oproc.cpuSeconds,
    server: serverCpu,
    postgres: postgresCpu,
    rawClient: (rawClient.user + rawClient.system) / 1e6,
    rawServer: (await treeCpuSeconds(pids)) - rawServerBefore,
  };
  log(
    `${tag}: raw ${(rawMs / 1000).toFixed(1)} s (ratio ${(oproc.ms / rawMs).toFixed(2)}); with oproc's views`,
  );
  const rawViewsMs = await rawBulkDocs(dbs.other!('raw-views'), docs, shape, processingDesign);
  log(`${tag}: raw into a database with oproc's views ${(rawViewsMs / 1000).toFixed(1)} s`);
  return {
    runs: workload.runs,
    dataflowDocuments: documents,
    seedMs: writeMs,
    viewMs,
    oprocMs: oproc.ms,
    peakRssMb: oproc.rssMb,
    jobDocuments: docs.length,
    rawMs,
    rawViewsMs,
    cpu,
    quietMs,
    ...(wait ? { viewWait: wait } : {}),
  };
}

/**
 * Waits until the server runs no background task (`_active_tasks`: view indexing, compaction), so
 * that a timed command or baseline is not charged with work the seeding left behind: after a large
 * view build Apache CouchDB compacts the new index and the database files. Says what it waited
 * for; a server without the endpoint counts as quiet. Returns the milliseconds waited.
 */
async function serverQuiet(couch: RunningServer, tag: string): Promise<number> {
  const started = performance.now();
  const seen = new Set<string>();
  for (;;) {
    const tasks = await send(httpDatabase(couch.url, '_active_tasks'), 'GET').catch(() => []);
    if (!Array.isArray(tasks) || tasks.length === 0) break;
    for (const task of tasks as { type?: string; database?: string }[]) {
      // A shard's file name (shards/RANGE/NAME.SUFFIX) stands for its database.
      const database = /(?:shards\/[^/]+\/)?([^.]+)/.exec(task.database ?? '')?.[1] ?? '';
      seen.add(`${task.type ?? 'task'} of ${database}`);
    }
    if (performance.now() - started > 15 * 60_000) {
      log(`${tag}: the server is still busy after 15 minutes; measuring anyway`);
      break;
    }
    await new Promise((resolve) => setTimeout(resolve, 1000));
  }
  const waited = performance.now() - started;
  if (seen.size > 0)
    log(`${tag}: waited ${(waited / 1000).toFixed(1)} s for the server's own work: ${[...seen].join(', ')}`);
  return waited;
}

/** The raw sweep on the job documents of the smallest size, then every size, then the watch latency. */
async function benchServer(
  dir: string,
  target: ServerUnderTest,
  postgres: RunningServer,
  opts: Options,
): Promise<ServerResult> {
  const result: ServerResult = { server: target.name, sizes: [] };
  const sweepRuns = Math.min(...target.sizes);
  // The sweep needs oproc's documents: a small reprocess gives them.
  const probe = await serverDatabases(path.join(dir, 'sweep'), target.couch, postgres, 'sweep');
  const probeRuns = { runs: 2, subruns: opts.subruns };
  await seedServer(probe, probeRuns);
  await cli(['init', probe.config]);
  await reprocessRange(probe.config, probeRuns.runs);
  const docs = jobDocuments(await templates(probe.config), runNumbers(sweepRuns));
  log(`${target.name}: raw _bulk_docs sweep on ${docs.length} job documents`);
  const swept = await sweep((label) => probe.other!(`sweep-${label}`), docs);
  result.sweep = { documents: docs.length, results: swept.results, best: swept.best };
  log(
    `${target.name}: fastest raw writes: ${swept.best.chunk} a request, ${swept.best.inFlight} in flight (${(swept.best.ms / 1000).toFixed(2)} s)`,
  );
  const largest = Math.max(...target.sizes);
  for (const runs of target.sizes)
    result.sizes.push(
      await benchSize(
        dir,
        target,
        postgres,
        { runs, subruns: opts.subruns },
        swept.best,
        target.viewWait && runs === largest,
      ),
    );
  if (opts.watch) {
    log(`${target.name}: watch latency`);
    result.watch = await watchLatency(
      await serverDatabases(path.join(dir, 'watch'), target.couch, postgres, 'watch'),
    );
  }
  return result;
}

async function benchEmbedded(dir: string, workload: Workload): Promise<EmbeddedResult> {
  const dbs = await embeddedDatabases(path.join(dir, 'embedded'));
  log(`embedded ${workload.runs} runs: seeding`);
  await seedInChild(dbs.config, workload);
  log(`embedded ${workload.runs} runs: oproc reprocess range`);
  const oproc = await reprocessRange(dbs.config, workload.runs);
  const docs = jobDocuments(await templates(dbs.config), runNumbers(workload.runs));
  const rawMs = await rawPouchBulkDocs(docs);
  log(`embedded: oproc ${(oproc.ms / 1000).toFixed(1)} s, raw bulkDocs ${(rawMs / 1000).toFixed(1)} s`);
  return { runs: workload.runs, oprocMs: oproc.ms, peakRssMb: oproc.rssMb, rawMs };
}

async function helpStartup(samples = 10): Promise<{ median: number; samples: number[] }> {
  const times: number[] = [];
  for (let i = 0; i < samples; i++) {
    const result = await measureCli(['--help']);
    if (result.code !== 0) throw new Error(`oproc --help exited with ${result.code}: ${result.stderr}`);
    times.push(result.wallMs);
  }
  return { median: median(times), samples: times };
}

/** What a scenario is given: the options, a scratch directory and PostgreSQL for RATDB. */
export interface BenchContext {
  opts: Options;
  dir: string;
  postgres: RunningServer;
  log(message: string): void;
}

/** One part of the benchmark: it adds its figures to the results. */
export interface BenchScenario {
  name: string;
  run(context: BenchContext, results: BenchResults): Promise<void>;
}

/** The document servers measured: Apache CouchDB from the kit (when there) and pouchdb-server. */
const serverScenarios: BenchScenario = {
  name: 'document servers',
  async run({ opts, dir, postgres }, results) {
    // A server with no sizes is left out of this scenario (the retry and cancel one may still use it).
    if (opts.servers.includes('couchdb') && opts.couchSizes.length > 0) {
      const missing = apacheCouchMissing();
      if (missing || process.env.OPROC_TEST_COUCHDB) {
        results.notes.push(
          `Apache CouchDB not measured: ${missing ?? 'OPROC_TEST_COUCHDB names an outside server; the benchmark starts its own from the kit'}.`,
        );
        log(`Apache CouchDB not measured: ${missing ?? 'outside server'}`);
      } else {
        const couch = await startApacheCouch();
        onCleanup('Apache CouchDB (kit)', () => couch.stop());
        log(`Apache CouchDB 3.5.0 from the kit at ${new URL(couch.url).origin}`);
        const target = { name: 'Apache CouchDB 3.5.0', couch, sizes: opts.couchSizes, viewWait: true };
        results.servers.push(await benchServer(path.join(dir, 'couchdb'), target, postgres, opts));
        await couch.stop();
      }
    }
    if (opts.servers.includes('pouchdb-server') && opts.pouchSizes.length > 0) {
      const couch = await startCouch();
      onCleanup(`pouchdb-server (PID ${couch.pid})`, () => couch.stop());
      log(`pouchdb-server PID ${couch.pid} at ${couch.url}`);
      const target = { name: 'pouchdb-server', couch, sizes: opts.pouchSizes, viewWait: false };
      results.servers.push(await benchServer(path.join(dir, 'pouchdb'), target, postgres, opts));
    }
  },
};

const helpScenario: BenchScenario = {
  name: 'oproc --help start-up',
  async run(_context, results) {
    results.helpMs = await helpStartup();
  },
};

const embeddedScenario: BenchScenario = {
  name: 'embedded backends',
  async run({ opts, dir }, results) {
    if (opts.embedded)
      results.embedded = await benchEmbedded(dir, { runs: opts.embeddedRuns, subruns: opts.subruns });
  },
};

/**
 * retry and cancel of many passes among many job documents, on Apache CouchDB from the kit (when
 * there) and on pouchdb-server; raw writes cut as each server's sweep found fastest (500 x 4 and
 * 1000 x 1).
 */
const passChangesScenario: BenchScenario = {
  name: 'retry and cancel',
  async run({ opts, dir, postgres }, results) {
    if (!opts.ops) return;
    const sizes = { jobDocuments: opts.opsJobs, passes: opts.opsPasses };
    results.passChanges = [];
    if (opts.servers.includes('couchdb') && !apacheCouchMissing() && !process.env.OPROC_TEST_COUCHDB) {
      const couch = await startApacheCouch();
      onCleanup('Apache CouchDB (kit)', () => couch.stop());
      const target = { server: 'Apache CouchDB 3.5.0', raw: { chunk: 500, inFlight: 4 } };
      results.passChanges.push(
        await benchPassChanges(path.join(dir, 'ops-couchdb'), { couch, postgres }, sizes, target),
      );
      await couch.stop();
    }
    const couch = await startCouch();
    onCleanup(`pouchdb-server (PID ${couch.pid})`, () => couch.stop());
    const target = { server: 'pouchdb-server', raw: { chunk: 1000, inFlight: 1 } };
    results.passChanges.push(
      await benchPassChanges(path.join(dir, 'ops-pouchdb'), { couch, postgres }, sizes, target),
    );
    await couch.stop();
  },
};

export const scenarios: BenchScenario[] = [
  serverScenarios,
  passChangesScenario,
  helpScenario,
  embeddedScenario,
];

async function main(): Promise<void> {
  const opts = options();
  if (opts.fromJson) {
    await writeReport(JSON.parse(await readFile(opts.fromJson, 'utf8')) as BenchResults);
    return;
  }
  const started = performance.now();
  guardSignals();
  const dir = await mkdtemp(path.join(tmpdir(), 'oproc-bench-'));
  onCleanup('benchmark directory', () => rm(dir, { recursive: true, force: true }));
  log(`free memory ${(freemem() / 2 ** 30).toFixed(1)} GiB; load average ${loadavg()[0]!.toFixed(1)}`);
  const postgres = await startPostgres();
  onCleanup(`PostgreSQL (PID ${postgres.pid})`, () => postgres.stop());
  if (opts.soakMs !== undefined) {
    const result = await soak(dir, postgres, opts.soakMs, log);
    console.log(JSON.stringify({ date: new Date().toISOString().slice(0, 10), soak: result }, null, 2));
    return;
  }
  const results: BenchResults = {
    date: new Date().toISOString().slice(0, 10),
    command: `npm run bench${process.argv.length > 2 ? ` -- ${process.argv.slice(2).join(' ')}` : ''}${process.env.OPROC_BENCH_SIZES ? ` (OPROC_BENCH_SIZES=${process.env.OPROC_BENCH_SIZES})` : ''}`,
    machine: machine(),
    subruns: opts.subruns,
    servers: [],
    notes: [],
    loadAverage: [],
    totalMs: 0,
  };
  const sampler = setInterval(() => results.loadAverage.push(loadavg()[0]!), 10_000);
  try {
    for (const scenario of scenarios) {
      log(scenario.name);
      await scenario.run({ opts, dir, postgres, log }, results);
    }
  } finally {
    clearInterval(sampler);
  }
  results.totalMs = performance.now() - started;
  console.log(JSON.stringify(results, null, 2));
  if (opts.write) {
    await writeReport(results);
    log('wrote docs/PERFORMANCE.md and docs/performance.svg');
  }
  // After the report: it rewrites PERFORMANCE.md, and the status page's section goes in after.
  if (servePlan(opts).length > 0) {
    log('status page');
    const serve = await serveScenarios(dir, postgres, servePlan(opts));
    console.log(JSON.stringify({ serve }, null, 2));
    if (opts.write) await writeServeSection(serve);
  }
}

/**
 * The status page and `oproc status`: Apache CouchDB from the kit where it is there (its stored
 * reductions) at the experiment's scale, then pouchdb-server and the embedded backends at the size
 * issue 21 holds them to.
 */
function servePlan(opts: Options): ServePlan[] {
  if (opts.serveJobs === 0) return [];
  return [
    ...(opts.servers.includes('couchdb') ? [{ server: 'couchdb' as const, jobs: opts.serveJobs }] : []),
    ...(opts.servers.includes('pouchdb-server') && opts.servePouchJobs > 0
      ? [{ server: 'pouchdb-server' as const, jobs: opts.servePouchJobs }]
      : []),
    ...(opts.embedded && opts.servePouchJobs > 0
      ? [{ server: 'embedded' as const, jobs: opts.servePouchJobs }]
      : []),
  ];
}

try {
  await main();
} catch (error) {
  console.error(error instanceof Error ? (error.stack ?? error.message) : String(error));
  process.exitCode = 1;
} finally {
  await cleanupAll();
}
