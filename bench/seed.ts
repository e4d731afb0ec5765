/**
 * Databases for the benchmark: a config per size (fresh databases on the shared servers, or
 * embedded ones in a directory) and the seeding of data-flow files and RATDB tables in chunks.
 */
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import pg from 'pg';

import { openDatabases, type Databases } from '../src/backends/registry.js';
import type { StoredDocument } from '../src/backends/types.js';
import { loadConfig } from '../src/config/load.js';
import { dataflowDesign, processingDesign } from '../src/engine/design.js';
import { track } from './processes.js';
import { createDatabase } from '../test/support/postgres-server.js';
import { httpDatabase, seedDataflowRuns, type HttpDatabase } from '../test/support/bulk-seed.js';
import type { RunningServer } from '../test/support/servers.js';
import {
  dataflowDocsFor,
  ratdbTablesFor,
  registry,
  testProcessingInformation,
  testRatv,
  type RunSpec,
} from '../test/support/scenario.js';

export const ratv = testRatv;
export const firstRun = 300000;

/** Runs as the benchmark seeds them: Physics (2 modules), L1 and L2 files, `subruns` each. */
export interface Workload {
  runs: number;
  subruns: number;
}

export interface BenchDatabases {
  config: string;
  /** The processing and data-flow databases over HTTP, for raw reads and writes (servers only). */
  processing?: HttpDatabase;
  dataflow?: HttpDatabase;
  /** Another database of the same server, named after this size's (raw baselines). */
  other?: (suffix: string) => HttpDatabase;
}

const docChunk = 5000;
const ratdbChunkRuns = 2500;

async function writeConfig(dir: string, sections: Record<string, unknown>): Promise<string> {
  await mkdir(dir, { recursive: true });
  await writeFile(path.join(dir, 'info.json'), JSON.stringify(testProcessingInformation, null, 2));
  const config = path.join(dir, 'site.json');
  const body = { ...sections, processing_information: 'info.json', watch: { interval_seconds: 1 } };
  await writeFile(config, JSON.stringify(body, null, 2));
  return config;
}

/** Fresh databases on the servers, named for the size so runs never share one. */
export async function serverDatabases(
  dir: string,
  couch: RunningServer,
  postgres: RunningServer,
  label: string,
): Promise<BenchDatabases> {
  const name = `bench-${label}-${randomBytes(3).toString('hex')}`;
  const config = await writeConfig(dir, {
    processing: { backend: 'couchdb', url: couch.url, database: `${name}-processing` },
    dataflow: { backend: 'couchdb', url: couch.url, database: `${name}-dataflow` },
    ratdb: { backend: 'postgres', url: await createDatabase(postgres) },
  });
  return {
    config,
    processing: httpDatabase(couch.url, `${name}-processing`),
    dataflow: httpDatabase(couch.url, `${name}-dataflow`),
    other: (suffix) => httpDatabase(couch.url, `${name}-${suffix}`),
  };
}

/**
 * Seeds server databases as fast as the server takes them: data-flow documents by parallel raw
 * `_bulk_docs` (4 requests of 1,000 in flight) while RATDB is loaded, with no views yet: the
 * benchmark then times `oproc init` building them.
 */
export async function seedServer(
  dbs: BenchDatabases,
  workload: Workload,
): Promise<{ documents: number; writeMs: number }> {
  return withDatabases(dbs.config, async (db) => {
    await Promise.all([db.processing.create(), db.ratdb.create()]);
    const started = performance.now();
    const [written] = await Promise.all([
      seedDataflowRuns(dbs.dataflow!, firstRun, workload.runs),
      loadRatdb(db, specs(workload)).then(() => settleRatdb(dbs.config)),
    ]);
    return { documents: written.documents, writeMs: performance.now() - started };
  });
}

/**
 * `VACUUM (ANALYZE)` of a RATDB on PostgreSQL just loaded, as a site's long-lived RATDB is: else
 * autovacuum takes up the fresh tables while oproc is timed, and its CPU is counted as oproc's.
 */
async function settleRatdb(config: string): Promise<void> {
  const { ratdb } = await loadConfig(config);
  if (ratdb.backend === 'postgres') await vacuumAnalyze(String(ratdb.url));
}

/** `VACUUM (ANALYZE)` of a PostgreSQL database, as autovacuum would in time. */
export async function vacuumAnalyze(url: string): Promise<void> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    await client.query('VACUUM (ANALYZE)');
  } finally {
    await client.end();
  }
}

/** Embedded databases on disk (PouchDB and PGlite), as a site without servers would have them. */
export async function embeddedDatabases(dir: string): Promise<BenchDatabases> {
  const config = await writeConfig(dir, {
    processing: { backend: 'pouchdb', path: 'db/processing' },
    dataflow: { backend: 'pouchdb', path: 'db/dataflow' },
    ratdb: { backend: 'pglite', path: 'db/ratdb' },
  });
  return { config };
}

export async function withDatabases<T>(config: string, work: (db: Databases) => Promise<T>): Promise<T> {
  const db = await openDatabases(await registry(), await loadConfig(config));
  try {
    return await work(db);
  } finally {
    await db.close();
  }
}

export function specs(workload: Workload, first = firstRun): RunSpec[] {
  const result: RunSpec[] = [];
  for (let i = 0; i < workload.runs; i++) {
    // The last run is closed by a run_end document, so every seeded run is complete.
    result.push({ run: first + i, subruns: workload.subruns, ended: i === workload.runs - 1 });
  }
  return result;
}

async function writeAll(db: Databases, docs: readonly StoredDocument[]): Promise<void> {
  for (let i = 0; i < docs.length; i += docChunk) {
    const results = await db.dataflow.bulkWrite(docs.slice(i, i + docChunk));
    const failed = results.find((r) => !r.ok);
    if (failed) throw new Error(`seeding data-flow failed: ${JSON.stringify(failed)}`);
  }
}

async function loadRatdb(db: Databases, runs: readonly RunSpec[]): Promise<void> {
  for (let i = 0; i < runs.length; i += ratdbChunkRuns) {
    await db.ratdb.load(runs.slice(i, i + ratdbChunkRuns).flatMap(ratdbTablesFor));
  }
}

/**
 * Creates the databases and seeds them: data-flow documents by `_bulk_docs` in chunks, RATDB by one
 * `load` per chunk (both at once), then builds the data-flow views so oproc's timing does not
 * include indexing every document ever registered (at the experiment the view is kept up to date).
 */
export async function seed(
  config: string,
  workload: Workload,
): Promise<{ documents: number; writeMs: number; viewMs: number }> {
  return withDatabases(config, async (db) => {
    await Promise.all([db.processing.create(), db.dataflow.create(), db.ratdb.create()]);
    await db.processing.ensureDesign(processingDesign);
    await db.dataflow.ensureDesign(dataflowDesign);
    const runs = specs(workload);
    const docs = runs.flatMap(dataflowDocsFor);
    const started = performance.now();
    await Promise.all([writeAll(db, docs), loadRatdb(db, runs)]);
    const written = performance.now();
    // pouchdb-server builds each view on its first query; Apache CouchDB builds a design's views together.
    for (const view of Object.keys(dataflowDesign.views))
      await db.dataflow.queryView(dataflowDesign.name, view, { limit: 1 });
    return { documents: docs.length, writeMs: written - started, viewMs: performance.now() - written };
  });
}

export type SeedFigures = Awaited<ReturnType<typeof seed>>;

/**
 * A seeding script of bench/ in a child process, so that embedded databases are fully closed after
 * it (PouchDB keeps a view index it opened locked until its process ends); it prints its figures.
 */
export function seedingChild<T>(script: string, config: string, args: string[]): Promise<T> {
  const file = path.join(path.dirname(fileURLToPath(import.meta.url)), script);
  return new Promise((resolve, reject) => {
    track(
      execFile(
        process.execPath,
        ['--import', 'tsx', file, config, ...args],
        { maxBuffer: 1 << 20 },
        (error, stdout, stderr) => {
          if (error) reject(new Error(`seeding ${config} failed: ${stderr || error.message}`));
          else resolve(JSON.parse(stdout) as T);
        },
      ),
    );
  });
}

/** `seed` in a child process (bench/seed-cli.ts). */
export function seedInChild(config: string, workload: Workload): Promise<SeedFigures> {
  return seedingChild('seed-cli.ts', config, [String(workload.runs), String(workload.subruns)]);
}
