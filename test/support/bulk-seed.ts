/**
 * Seeding large databases fast: documents by raw `_bulk_docs` over HTTP, several requests in
 * flight, with the credentials of the URL sent as a Basic header (fetch refuses URLs with them).
 * For the benchmark and the large-database tests, not for oproc itself.
 */
import type { DesignDocument, StoredDocument } from '../../src/backends/types.js';
import { dataflowDocsFor } from './scenario.js';

export interface HttpDatabase {
  /** `http://HOST:PORT/NAME`, without credentials. */
  url: string;
  headers: Record<string, string>;
}

/** A database of a server URL that may hold `user:password@`. */
export function httpDatabase(serverUrl: string, name: string): HttpDatabase {
  const parsed = new URL(serverUrl);
  const headers: Record<string, string> = { 'content-type': 'application/json' };
  if (parsed.username) {
    const auth = `${decodeURIComponent(parsed.username)}:${decodeURIComponent(parsed.password)}`;
    headers.authorization = `Basic ${Buffer.from(auth).toString('base64')}`;
  }
  return {
    url: `${parsed.origin}${parsed.pathname.replace(/\/+$/, '')}/${encodeURIComponent(name)}`,
    headers,
  };
}

/** One request; the parsed JSON answer, or an error naming the status and body. */
export async function send(db: HttpDatabase, method: string, path = '', body?: unknown): Promise<unknown> {
  const response = await fetch(`${db.url}${path}`, {
    method,
    headers: db.headers,
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await response.text();
  if (!response.ok)
    throw new Error(`${method} ${db.url}${path} failed with HTTP ${response.status}: ${text}`);
  return text ? (JSON.parse(text) as unknown) : undefined;
}

/**
 * Writes documents by `_bulk_docs` in chunks of `chunk`, `inFlight` requests at a time; throws on
 * the first row that failed. Returns the milliseconds spent.
 */
export async function bulkWriteParallel(
  db: HttpDatabase,
  docs: readonly StoredDocument[],
  options: { chunk?: number; inFlight?: number } = {},
): Promise<number> {
  const chunk = options.chunk ?? 1000;
  const inFlight = options.inFlight ?? 4;
  const started = performance.now();
  let next = 0;
  const worker = async () => {
    for (;;) {
      const start = next;
      next += chunk;
      if (start >= docs.length) return;
      const rows = (await send(db, 'POST', '/_bulk_docs', { docs: docs.slice(start, start + chunk) })) as {
        error?: string;
      }[];
      const failed = rows.find((row) => row.error);
      if (failed) throw new Error(`_bulk_docs into ${db.url} failed: ${JSON.stringify(failed)}`);
    }
  };
  await Promise.all(Array.from({ length: inFlight }, worker));
  return performance.now() - started;
}

/**
 * Writes documents made by `make(i)` for i in [0, count), a slice at a time, so a million
 * documents are never all in memory at once.
 */
export async function seedGenerated(
  db: HttpDatabase,
  count: number,
  make: (from: number, to: number) => StoredDocument[],
  options: { chunk?: number; inFlight?: number; slice?: number } = {},
): Promise<number> {
  const slice = options.slice ?? 50_000;
  const started = performance.now();
  for (let from = 0; from < count; from += slice)
    await bulkWriteParallel(db, make(from, Math.min(count, from + slice)), options);
  return performance.now() - started;
}

/**
 * The data-flow documents of `count` Physics runs from `first` (3 subruns, L1 and L2 files; the last
 * run closed by a run_end), written by parallel `_bulk_docs` into a database created here:
 * 6 documents a run, so 170,000 runs are a million documents.
 */
export async function seedDataflowRuns(
  db: HttpDatabase,
  first: number,
  count: number,
  options: { chunk?: number; inFlight?: number } = {},
): Promise<{ documents: number; ms: number }> {
  await send(db, 'PUT').catch((error: unknown) => {
    if (!String(error).includes('HTTP 412')) throw error;
  });
  const runsPerSlice = 5000;
  let documents = 0;
  const ms = await seedGenerated(
    db,
    count,
    (from, to) => {
      const docs: StoredDocument[] = [];
      for (let i = from; i < to; i++)
        docs.push(...dataflowDocsFor({ run: first + i, subruns: 3, ended: i === count - 1 }));
      documents += docs.length;
      return docs;
    },
    { ...options, slice: runsPerSlice },
  );
  return { documents, ms };
}

/** A design document as an older oproc might have left it: the same rows, other map text (another index). */
export function olderDesign(design: DesignDocument, mark = 'an older oproc'): DesignDocument {
  return {
    name: design.name,
    views: Object.fromEntries(
      Object.entries(design.views).map(([name, view]) => [
        name,
        { ...view, map: view.map.replace('function (doc) {', `function (doc) { // ${mark}`) },
      ]),
    ),
  };
}
