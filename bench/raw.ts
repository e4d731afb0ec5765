/**
 * The baselines oproc is compared with: the same job documents written with nothing else around
 * them, by `_bulk_docs` over HTTP into a fresh database on the same server, and by `bulkDocs`
 * into an embedded PouchDB on disk.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';

import PouchDB from 'pouchdb';

import type { StoredDocument } from '../src/backends/types.js';

/** Documents per `_bulk_docs` request for the baselines (the best of 500–5000 measured here). */
export const rawChunk = 2000;

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

async function send(url: string, method: string, body?: unknown): Promise<unknown> {
  const response = await fetch(url, {
    method,
    headers: { 'Content-Type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await response.text();
  if (!response.ok) throw new Error(`${method} ${url} failed with HTTP ${response.status}: ${text}`);
  return JSON.parse(text) as unknown;
}

/** One `_bulk_docs` per chunk, in sequence, into a fresh database; returns the milliseconds spent writing. */
export async function rawBulkDocs(databaseUrl: string, docs: readonly StoredDocument[]): Promise<number> {
  await send(databaseUrl, 'PUT');
  try {
    const started = performance.now();
    for (let i = 0; i < docs.length; i += rawChunk) {
      const rows = (await send(`${databaseUrl}/_bulk_docs`, 'POST', {
        docs: docs.slice(i, i + rawChunk),
      })) as {
        error?: string;
      }[];
      const failed = rows.find((row) => row.error);
      if (failed) throw new Error(`raw _bulk_docs failed: ${JSON.stringify(failed)}`);
    }
    return performance.now() - started;
  } finally {
    await send(databaseUrl, 'DELETE').catch(() => undefined);
  }
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
