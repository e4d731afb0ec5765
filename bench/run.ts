/**
 * `npm run bench`: oproc against the real servers and the embedded backends, at several sizes,
 * beside raw bulk writes of the same documents; writes docs/PERFORMANCE.md and docs/performance.svg.
 *
 *   tsx bench/run.ts [--sizes 1000,10000,50000] [--subruns 3] [--no-embedded] [--embedded-runs 10000]
 *                    [--no-watch] [--no-write] [--serve-jobs 300000 (0: no status page scenario)]
 *   tsx bench/run.ts --from-json RESULTS.json   (the report again from a run's printed results)
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { cpus, freemem, release, tmpdir, totalmem, type } from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';

import { startCouch } from '../test/support/couch-server.js';
import { startPostgres } from '../test/support/postgres-server.js';
import type { RunningServer } from '../test/support/servers.js';
import { cleanupAll, guardSignals, measureCli, median, onCleanup } from './processes.js';
import { jobDocuments, rawBulkDocs, rawPouchBulkDocs } from './raw.js';
import {
  writeReport,
  type BenchResults,
  type EmbeddedResult,
  type Machine,
  type SizeResult,
} from './report.js';
import {
  embeddedDatabases,
  firstRun,
  ratv,
  seed,
  seedInChild,
  serverDatabases,
  withDatabases,
  type Workload,
} from './seed.js';
import { benchServe, writeServeSection } from './serve.js';
import { watchLatency } from './watch.js';

interface Options {
  sizes: number[];
  subruns: number;
  embedded: boolean;
  embeddedRuns: number;
  watch: boolean;
  write: boolean;
  /** Job documents of the status page scenario (bench/serve.ts); 0 skips it. */
  serveJobs: number;
  /** Re-render the report from results printed by an earlier run, measuring nothing. */
  fromJson?: string;
}

function options(): Options {
  const { values } = parseArgs({
    options: {
      sizes: { type: 'string', default: '1000,10000,50000' },
      subruns: { type: 'string', default: '3' },
      'no-embedded': { type: 'boolean', default: false },
      'embedded-runs': { type: 'string', default: '10000' },
      'no-watch': { type: 'boolean', default: false },
      'no-write': { type: 'boolean', default: false },
      'serve-jobs': { type: 'string', default: '300000' },
      'from-json': { type: 'string' },
    },
  });
  const sizes = values.sizes.split(',').map(Number);
  if (sizes.some((n) => !Number.isInteger(n) || n < 2))
    throw new Error(`--sizes: whole numbers ≥ 2, comma-separated`);
  return {
    sizes,
    subruns: Number(values.subruns),
    embedded: !values['no-embedded'],
    embeddedRuns: Number(values['embedded-runs']),
    watch: !values['no-watch'],
    write: !values['no-write'],
    serveJobs: Number(values['serve-jobs']),
    fromJson: values['from-json'],
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

/** `reprocess range` over every seeded run, checked to have created both passes of each. */
async function reprocessRange(
  config: string,
  runs: number,
): Promise<{ ms: number; rssMb: number | undefined }> {
  const last = firstRun + runs - 1;
  const result = await measureCli([
    'reprocess',
    'range',
    config,
    ratv,
    'L2',
    String(firstRun),
    String(last),
    '--json',
  ]);
  if (result.code !== 0)
    throw new Error(
      `oproc exited with ${result.code}:\n${result.stderr.slice(-2000)}\n${result.stdout.slice(0, 2000)}`,
    );
  const created = (JSON.parse(result.stdout) as { created: unknown[] }).created.length;
  if (created !== 2 * runs)
    throw new Error(`oproc created ${created} passes for ${runs} runs, not ${2 * runs}`);
  return { ms: result.wallMs, rssMb: result.peakRssMb };
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

async function benchSize(
  dir: string,
  servers: { couch: RunningServer; postgres: RunningServer },
  workload: Workload,
): Promise<SizeResult> {
  const dbs = await serverDatabases(
    path.join(dir, `size-${workload.runs}`),
    servers.couch,
    servers.postgres,
    String(workload.runs),
  );
  log(`${workload.runs} runs: seeding`);
  const seedStart = performance.now();
  const { documents, writeMs, viewMs } = await seed(dbs.config, workload);
  const seedMs = performance.now() - seedStart;
  log(
    `${workload.runs} runs: seeded ${documents} data-flow documents in ${(seedMs / 1000).toFixed(1)} s ` +
      `(writes ${(writeMs / 1000).toFixed(1)} s, view ${(viewMs / 1000).toFixed(1)} s); oproc reprocess range`,
  );
  const oproc = await reprocessRange(dbs.config, workload.runs);
  log(
    `${workload.runs} runs: oproc ${(oproc.ms / 1000).toFixed(1)} s, peak RSS ${oproc.rssMb?.toFixed(0)} MB; raw _bulk_docs`,
  );
  const docs = jobDocuments(await templates(dbs.config), runNumbers(workload.runs));
  const rawMs = await rawBulkDocs(`${dbs.processingUrl}-raw`, docs);
  log(`${workload.runs} runs: raw ${(rawMs / 1000).toFixed(1)} s (ratio ${(oproc.ms / rawMs).toFixed(2)})`);
  return {
    runs: workload.runs,
    dataflowDocuments: documents,
    seedMs,
    oprocMs: oproc.ms,
    peakRssMb: oproc.rssMb,
    jobDocuments: docs.length,
    rawMs,
  };
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

/** Starts both servers, each registered to be stopped by PID whatever happens next. */
async function startServers(): Promise<{ couch: RunningServer; postgres: RunningServer }> {
  const couch = await startCouch();
  onCleanup(`pouchdb-server (PID ${couch.pid})`, () => couch.stop());
  const postgres = await startPostgres();
  onCleanup(`PostgreSQL (PID ${postgres.pid})`, () => postgres.stop());
  log(`pouchdb-server PID ${couch.pid} at ${couch.url}; PostgreSQL PID ${postgres.pid}`);
  return { couch, postgres };
}

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
  log(`free memory ${(freemem() / 2 ** 30).toFixed(1)} GiB; sizes ${opts.sizes.join(', ')}`);
  const servers = await startServers();
  const results: BenchResults = {
    date: new Date().toISOString().slice(0, 10),
    command: `npm run bench${process.argv.length > 2 ? ` -- ${process.argv.slice(2).join(' ')}` : ''}`,
    machine: machine(),
    subruns: opts.subruns,
    sizes: [],
    totalMs: 0,
  };
  for (const runs of opts.sizes)
    results.sizes.push(await benchSize(dir, servers, { runs, subruns: opts.subruns }));
  if (opts.watch) {
    log('watch latency');
    results.watch = await watchLatency(
      await serverDatabases(path.join(dir, 'watch'), servers.couch, servers.postgres, 'watch'),
    );
  }
  log('oproc --help start-up');
  results.helpMs = await helpStartup();
  if (opts.embedded)
    results.embedded = await benchEmbedded(dir, { runs: opts.embeddedRuns, subruns: opts.subruns });
  results.totalMs = performance.now() - started;
  console.log(JSON.stringify(results, null, 2));
  if (opts.write) {
    await writeReport(results);
    log('wrote docs/PERFORMANCE.md and docs/performance.svg');
  }
  // After the report: it rewrites PERFORMANCE.md, and the status page's section goes in after.
  if (opts.serveJobs > 0) {
    const serve = await benchServe(dir, servers, opts.serveJobs);
    console.log(JSON.stringify({ serve }, null, 2));
    if (opts.write) await writeServeSection(serve);
  }
}

try {
  await main();
} catch (error) {
  console.error(error instanceof Error ? (error.stack ?? error.message) : String(error));
  process.exitCode = 1;
} finally {
  await cleanupAll();
}
