/**
 * `oproc retry` and `oproc cancel` of many passes in a large processing database, beside raw
 * `_bulk_docs` of the same job documents. The database holds `background` job documents whose
 * passes are `completed` and `changed` (half Processing, half Analysis) whose pass is `failed`,
 * spread over the same run range: retry must find the failed ones among all of them.
 */
import path from 'node:path';

import type { StoredDocument } from '../src/backends/types.js';
import { processingDesign } from '../src/engine/design.js';
import { send, type HttpDatabase } from '../test/support/bulk-seed.js';
import type { RunningServer } from '../test/support/servers.js';
import { measureCli } from './processes.js';
import { rawBulkDocs } from './raw.js';
import { firstRun, ratv, serverDatabases, withDatabases } from './seed.js';

export interface PassChangesResult {
  /** The document server: `Apache CouchDB 3.5.0` or `pouchdb-server`. */
  server: string;
  /** Job documents in the processing database. */
  jobDocuments: number;
  /** Passes retried, then canceled. */
  passes: number;
  retryMs: number;
  /** `oproc retry --dry-run` just before: start-up, the reads and the plan, nothing written. */
  retryDryRunMs?: number;
  /** `oproc --version`: the CLI's start-up alone. */
  startupMs?: number;
  cancelMs: number;
  retryRssMb: number | undefined;
  /** Raw `_bulk_docs` of the changed job documents into a fresh database. */
  rawMs: number;
}

const seedChunk = 5000;

function jobDocument(run: number, module: string, status: string): StoredDocument {
  const subjobs =
    module === 'Processing' ? [0, 1, 2].map((subrun) => ({ subrun, status })) : [{ subrun: null, status }];
  return {
    _id: `job_${run}_${module}`,
    type: 'job',
    run,
    module,
    passes: [
      {
        pass: 0,
        ratv,
        filetype: 'L2',
        ratdb_tag: null,
        status,
        level: module === 'Processing' ? 'sub_run' : 'run_root',
        path: `mac/processing/${module.toLowerCase()}.mac`,
        outputs: ['ntuple'],
        prerequisites: module === 'Analysis' ? [{ module: 'Processing', pass: 0 }] : [],
        subjobs,
        submission: 'sub_2026-11-24T10-00-00Z_bench',
        mode: 'range',
        created: '2026-11-24T10:00:01Z',
        created_by: 'oproc@bench',
      },
    ],
  };
}

/**
 * Queries each view of the processing design until it answers: pouchdb-server builds a view on its
 * first query, which for hundreds of thousands of documents outlasts a client's request timeout.
 */
async function buildViews(db: HttpDatabase): Promise<void> {
  for (const view of Object.keys(processingDesign.views)) {
    for (let attempt = 1; ; attempt++) {
      try {
        await send(db, 'GET', `/_design/${processingDesign.name}/_view/${view}?limit=1`);
        break;
      } catch (error) {
        if (attempt >= 20) throw error;
        log(`retry/cancel: view ${view} still building (${String(error)})`);
      }
    }
  }
}

const log = (message: string) =>
  console.error(`[bench ${new Date().toISOString().slice(11, 19)}] ${message}`);

export async function benchPassChanges(
  dir: string,
  servers: { couch: RunningServer; postgres: RunningServer },
  sizes: { jobDocuments: number; passes: number },
  target: { server: string; raw: { chunk: number; inFlight: number } },
): Promise<PassChangesResult> {
  const dbs = await serverDatabases(path.join(dir, 'pass-changes'), servers.couch, servers.postgres, 'ops');
  const runs = sizes.jobDocuments / 2;
  // Every `every`-th run's two documents are the failed ones.
  const every = Math.max(1, Math.floor(runs / (sizes.passes / 2)));
  const changed: StoredDocument[] = [];
  log(`retry/cancel on ${target.server}: seeding ${sizes.jobDocuments.toLocaleString('en')} job documents`);
  await withDatabases(dbs.config, async (db) => {
    await db.processing.create();
    await db.processing.ensureDesign(processingDesign);
    let batch: StoredDocument[] = [];
    for (let i = 0; i < runs; i++) {
      const failed = i % every === 0 && changed.length < sizes.passes;
      for (const module of ['Processing', 'Analysis']) {
        const doc = jobDocument(firstRun + i, module, failed ? 'failed' : 'completed');
        if (failed) changed.push(doc);
        batch.push(doc);
      }
      if (batch.length >= seedChunk || i === runs - 1) {
        const results = await db.processing.bulkWrite(batch);
        if (results.some((r) => !r.ok)) throw new Error('seeding job documents failed');
        batch = [];
      }
    }
  });
  // As at the experiment, the views are up to date when a shifter retries.
  await buildViews(dbs.processing!);
  // Where a retry's time goes: start-up alone, then start-up, reads and plan (a dry run).
  const startup = await measureCli(['--version']);
  const dryRun = await measureCli(['retry', dbs.config, ratv, '--dry-run', '--json']);
  if (dryRun.code !== 0)
    throw new Error(`oproc retry --dry-run exited ${dryRun.code}: ${dryRun.stderr.slice(-2000)}`);
  log(`retry/cancel: oproc retry of ${changed.length.toLocaleString('en')} failed passes`);
  const retry = await measureCli(['retry', dbs.config, ratv, '--yes', '--json']);
  const retried = retry.code === 0 ? (JSON.parse(retry.stdout) as { changed: unknown[] }).changed.length : -1;
  if (retried !== changed.length)
    throw new Error(`oproc retry exited ${retry.code}, retried ${retried}: ${retry.stderr.slice(-2000)}`);
  // The views indexed again after the retry's writes (untimed), as for the retry.
  await withDatabases(dbs.config, (db) =>
    db.processing.queryView(processingDesign.name, 'pass_ids_by_status', { limit: 1 }),
  );
  log('retry/cancel: oproc cancel of the same passes, now waiting');
  const cancel = await measureCli([
    'cancel',
    dbs.config,
    ratv,
    '-m',
    '*',
    '--status',
    'waiting',
    '--yes',
    '--json',
  ]);
  const canceled =
    cancel.code === 0 ? (JSON.parse(cancel.stdout) as { changed: unknown[] }).changed.length : -1;
  if (canceled !== changed.length)
    throw new Error(
      `oproc cancel exited ${cancel.code}, canceled ${canceled}: ${cancel.stderr.slice(-2000)}`,
    );
  const rawMs = await rawBulkDocs(dbs.other!('raw'), changed, target.raw);
  log(
    `retry/cancel: start-up ${(startup.wallMs / 1000).toFixed(2)} s, retry --dry-run ${(dryRun.wallMs / 1000).toFixed(2)} s, retry ${(retry.wallMs / 1000).toFixed(2)} s, cancel ${(cancel.wallMs / 1000).toFixed(2)} s, raw ${(rawMs / 1000).toFixed(2)} s`,
  );
  return {
    server: target.server,
    jobDocuments: sizes.jobDocuments,
    passes: changed.length,
    retryMs: retry.wallMs,
    retryDryRunMs: dryRun.wallMs,
    startupMs: startup.wallMs,
    cancelMs: cancel.wallMs,
    retryRssMb: retry.peakRssMb,
    rawMs,
  };
}
