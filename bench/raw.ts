/**
 * The baselines oproc is compared with: the same job documents written with nothing else around
 * them, by `_bulk_docs` over HTTP into a fresh database on the same server (in the chunk size and
 * number of requests in flight that a sweep in the same run found fastest), and by `bulkDocs` into
 * an embedded PouchDB on disk.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';

import PouchDB from 'pouchdb';

import type { DesignDocument, StoredDocument } from '../src/backends/types.js';
import { bulkWriteParallel, send, type HttpDatabase } from '../test/support/bulk-seed.js';

/** Documents per `_bulk_docs` request for the embedded baseline. */
export const rawChunk = 2000;

/** How raw writes are cut: documents per request and requests in flight. */
export interface WriteShape {
  chunk: number;
  inFlight: number;
}

export const sweepShapes: WriteShape[] = [500, 1000, 2000].flatMap((chunk) =>
  [1, 2, 4].map((inFlight) => ({ chunk, inFlight })),
);

/**
 * Job documents like the ones oproc wrote: the given templates (its own documents for the first
 * run, one per module) repeated for every run, with only the run and id changed.
 */
export function jobDocuments(
  templates: readonly StoredDocument[],
  runs: readonly number[],
): StoredDocument[] {
  const docs: StoredDocument[] = [];
  for (const run of runs) {
    for (const template of templates) {
      const { _rev: _ignored, ...body } = template;
      docs.push({ ...body, _id: `job_${run}_${String(template.module)}`, run });
    }
  }
  return docs;
}

/**
 * `_bulk_docs` into a fresh database in the given shape; returns the milliseconds spent writing.
 * With `design`, the database first gets that design document, so the server keeps its views up to
 * date while the documents arrive, as it does in oproc's processing database.
 */
export async function rawBulkDocs(
  db: HttpDatabase,
  docs: readonly StoredDocument[],
  shape: WriteShape,
  design?: DesignDocument,
): Promise<number> {
  await send(db, 'PUT');
  try {
    if (design)
      await send(db, 'PUT', `/_design/${design.name}`, { language: 'javascript', views: design.views });
    return await bulkWriteParallel(db, docs, shape);
  } finally {
    await send(db, 'DELETE').catch(() => undefined);
  }
}

export interface SweepResult extends WriteShape {
  ms: number;
}

/** Every shape of `sweepShapes` on the same documents, each into its own fresh database. */
export async function sweep(
  database: (label: string) => HttpDatabase,
  docs: readonly StoredDocument[],
): Promise<{ results: SweepResult[]; best: SweepResult }> {
  const results: SweepResult[] = [];
  for (const shape of sweepShapes)
    results.push({
      ...shape,
      ms: await rawBulkDocs(database(`${shape.chunk}-${shape.inFlight}`), docs, shape),
    });
  const best = results.reduce((a, b) => (b.ms < a.ms ? b : a));
  return { results, best };
}

/** The same documents by `bulkDocs` into a PouchDB on disk (the embedded baseline). */
export async function rawPouchBulkDocs(docs: readonly StoredDocument[]): Promise<number> {
  const dir = await mkdtemp(path.join(tmpdir(), 'oproc-bench-pouch-'));
  const db = new PouchDB<Record<string, unknown>>(path.join(dir, 'raw'));
  try {
    const started = performance.now();
    for (let i = 0; i < docs.length; i += rawChunk) {
      const rows = await db.bulkDocs(docs.slice(i, i + rawChunk));
      const failed = rows.find((row) => 'error' in row && row.error);
      if (failed) throw new Error(`raw bulkDocs failed: ${JSON.stringify(failed)}`);
    }
    return performance.now() - started;
  } finally {
    await db.close();
    await rm(dir, { recursive: true, force: true });
  }
}
