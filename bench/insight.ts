/**
 * `npm run bench:insight`: `oproc status` and `oproc why` on a processing database of many job
 * documents (default 300,000), on pouchdb-server + PostgreSQL, and optionally on the embedded
 * backends. Prints the figures as JSON on stdout; docs/PERFORMANCE.md quotes them.
 *
 *   tsx bench/insight.ts [--jobs 300000] [--samples 5] [--embedded]
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';

import PouchDB from 'pouchdb';

import type { StoredDocument } from '../src/backends/types.js';
import { processingDesign } from '../src/engine/design.js';
import { startCouch } from '../test/support/couch-server.js';
import { startPostgres } from '../test/support/postgres-server.js';
import { cleanupAll, guardSignals, measureCli, median, onCleanup } from './processes.js';
import {
  embeddedDatabases,
  firstRun,
  ratv,
  seed,
  seedInChild,
  serverDatabases,
  withDatabases,
} from './seed.js';

const log = (message: string) =>
  console.error(`[bench ${new Date().toISOString().slice(11, 19)}] ${message}`);

const statuses = [
  'waiting',
  'submitted',
  'running',
  'completed',
  'completed',
  'completed',
  'failed',
  'partFail',
];
const dataflowRuns = 1000;
const chunk = 2000;

/** Job documents of `count / 2` runs (Processing and Analysis), passes spread over five years and statuses; every tenth has a second pass. */
export function jobDocuments(count: number, now: Date): StoredDocument[] {
  const docs: StoredDocument[] = [];
  for (let i = 0; docs.length < count; i++) {
    const run = firstRun + i;
    for (const module of ['Processing', 'Analysis']) {
      if (docs.length >= count) break;
      // Spread over five years, as an experiment's database grows: the last 28 days hold a few percent.
      const created = new Date(now.getTime() - (i % 1800) * 86_400_000).toISOString();
      const pass = (n: number) => ({
        pass: n,
        ratv,
        filetype: 'L2',
        ratdb_tag: null,
        status: statuses[(i + n) % statuses.length],
        level: module === 'Processing' ? 'sub_run' : 'run_root',
        path: `mac/processing/${module.toLowerCase()}.mac`,
        outputs: ['ntuple'],
        prerequisites: module === 'Analysis' ? [{ module: 'Processing', pass: n }] : [],
        subjobs: [{ subrun: module === 'Processing' ? 0 : null, status: 'waiting' }],
        submission: `sub_bench_${Math.floor(i / 500)}`,
        mode: 'watch',
        created,
        created_by: 'bench@host',
      });
      docs.push({
        _id: `job_${run}_${module}`,
        type: 'job',
        run,
        module,
        passes: i % 10 === 0 ? [pass(0), pass(1)] : [pass(0)],
      });
    }
  }
  return docs;
}

export function others(now: Date): StoredDocument[] {
  const submissions = Array.from({ length: 50 }, (_, i) => ({
    _id: `submission_sub_bench_${String(i).padStart(3, '0')}`,
    type: 'submission',
    mode: 'watch',
    ratv,
    filetype: 'L2',
    runs: Array.from({ length: 500 }, (__, r) => firstRun + i * 500 + r),
    done: [],
    started: new Date(now.getTime() - (50 - i) * 3_600_000).toISOString(),
    finished: null,
  }));
  return [
    ...submissions,
    {
      _id: `watch_${ratv}_L2`,
      type: 'watch_state',
      ratv,
      filetype: 'L2',
      last_run: firstRun + dataflowRuns / 2,
      in_flight: null,
      updated: now.toISOString(),
    },
    {
      _id: `lease_watch_${ratv}_L2`,
      type: 'lease',
      holder: 'bench@host pid 1 abcdef',
      host: 'host',
      pid: 1,
      acquired: now.toISOString(),
      heartbeat: now.toISOString(),
      expires: new Date(now.getTime() + 3_600_000).toISOString(),
    },
  ];
}

async function post(url: string, body: unknown): Promise<unknown> {
  const response = await fetch(url, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify(body),
  });
  if (!response.ok) throw new Error(`POST ${url}: HTTP ${response.status} ${await response.text()}`);
  return response.json();
}

async function measure(label: string, args: string[], samples: number) {
  const times: number[] = [];
  for (let i = 0; i < samples; i++) {
    const result = await measureCli(args);
    if (result.code !== 0 && result.code !== 1)
      throw new Error(`${label} exited with ${result.code}: ${result.stderr.slice(-2000)}`);
    times.push(result.wallMs);
  }
  log(
    `${label}: median ${(median(times) / 1000).toFixed(2)} s (${times.map((t) => (t / 1000).toFixed(2)).join(', ')})`,
  );
  return { medianMs: median(times), samplesMs: times };
}

/** Queries each processing view once, so the timed commands read built indexes (as at a site, where they are kept up to date). */
async function buildViews(config: string): Promise<number> {
  const started = performance.now();
  await withDatabases(config, async (db) => {
    for (const view of Object.keys(processingDesign.views))
      await db.processing.queryView(processingDesign.name, view, {
        limit: 1,
        reduce: view.startsWith('passes_') ? false : undefined,
      });
  });
  return performance.now() - started;
}

async function commands(config: string, samples: number) {
  const run = String(firstRun + dataflowRuns / 2 + 10);
  return {
    // Baselines measured beside them: start-up alone, and a command that opens the same three databases and plans one run.
    help: await measure('oproc --help', ['--help'], samples),
    dryRun: await measure(
      'oproc reprocess one-shot --dry-run',
      ['reprocess', 'one-shot', config, ratv, 'L2', run, '--dry-run', '--json'],
      samples,
    ),
    status: await measure('oproc status RATV', ['status', config, ratv, '--json'], samples),
    statusAll: await measure('oproc status', ['status', config, '--json'], samples),
    why: await measure('oproc why', ['why', config, ratv, 'L2', run, '--json'], samples),
  };
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      jobs: { type: 'string', default: '300000' },
      samples: { type: 'string', default: '5' },
      embedded: { type: 'boolean', default: false },
    },
  });
  const jobs = Number(values.jobs);
  const samples = Number(values.samples);
  guardSignals();
  const dir = await mkdtemp(path.join(tmpdir(), 'oproc-bench-insight-'));
  onCleanup('bench directory', () => rm(dir, { recursive: true, force: true }));
  const now = new Date();
  const docs = [...jobDocuments(jobs, now), ...others(now)];
  const results: Record<string, unknown> = { jobs, samples };

  const couch = await startCouch();
  onCleanup(`pouchdb-server (PID ${couch.pid})`, () => couch.stop());
  const postgres = await startPostgres();
  onCleanup(`PostgreSQL (PID ${postgres.pid})`, () => postgres.stop());
  const dbs = await serverDatabases(path.join(dir, 'servers'), couch, postgres, 'insight');
  await seed(dbs.config, { runs: dataflowRuns, subruns: 3 });
  log(`servers: writing ${docs.length} documents`);
  let started = performance.now();
  for (let i = 0; i < docs.length; i += chunk)
    await post(`${dbs.processingUrl}/_bulk_docs`, { docs: docs.slice(i, i + chunk) });
  const writeMs = performance.now() - started;
  log(`servers: written in ${(writeMs / 1000).toFixed(1)} s; building the views`);
  const viewMs = await buildViews(dbs.config);
  log(`servers: views built in ${(viewMs / 1000).toFixed(1)} s`);
  results.servers = { writeMs, viewMs, ...(await commands(dbs.config, samples)) };

  if (values.embedded) {
    const embedded = await embeddedDatabases(path.join(dir, 'embedded'));
    await seedInChild(embedded.config, { runs: dataflowRuns, subruns: 3 });
    const db = new PouchDB(path.join(dir, 'embedded', 'db', 'processing'));
    started = performance.now();
    for (let i = 0; i < docs.length; i += chunk) await db.bulkDocs(docs.slice(i, i + chunk));
    await db.close();
    const embeddedWriteMs = performance.now() - started;
    const embeddedViewMs = await buildViews(embedded.config);
    log(`embedded: views built in ${(embeddedViewMs / 1000).toFixed(1)} s`);
    results.embedded = {
      writeMs: embeddedWriteMs,
      viewMs: embeddedViewMs,
      ...(await commands(embedded.config, samples)),
    };
  }
  process.stdout.write(`${JSON.stringify(results, null, 2)}\n`);
}

if (process.argv[1]?.endsWith('insight.ts'))
  main()
    .catch((error: unknown) => {
      console.error(error instanceof Error ? error.stack : error);
      process.exitCode = 1;
    })
    .finally(() => cleanupAll());
