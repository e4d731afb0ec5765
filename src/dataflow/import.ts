import type { DocumentStore, StoredDocument, WriteResult } from '../backends/types.js';
import { ExitCode, OprocError } from '../errors.js';
import type { DataflowDocument } from './documents.js';
import { canonicalJson } from './read.js';

export { readDataflowFiles } from './read.js';

/** What an import did: each document is counted once, by what its final write did. */
export interface ImportCounts {
  new: number;
  updated: number;
  unchanged: number;
}

export interface ImportOptions {
  /** Documents per `_bulk_docs` request. */
  chunkSize?: number;
  /** How often a document that keeps meeting conflicts is re-read and written again. */
  maxAttempts?: number;
  /** Called after each chunk with the number of documents done so far. */
  onProgress?: (done: number, total: number) => void;
}

type Decision = { kind: 'unchanged' } | { kind: 'new' | 'updated'; write: StoredDocument };

/**
 * Writes data-flow documents idempotently: identical documents are left alone, changed ones
 * updated with their current revision, and conflicts (someone wrote in between) re-read and retried.
 */
export async function importDataflow(
  store: DocumentStore,
  documents: readonly DataflowDocument[],
  options: ImportOptions = {},
): Promise<ImportCounts> {
  const chunkSize = options.chunkSize ?? 1000;
  const counts: ImportCounts = { new: 0, updated: 0, unchanged: 0 };
  for (let start = 0; start < documents.length; start += chunkSize) {
    await importChunk(store, documents.slice(start, start + chunkSize), counts, options.maxAttempts ?? 5);
    options.onProgress?.(Math.min(start + chunkSize, documents.length), documents.length);
  }
  return counts;
}

async function importChunk(
  store: DocumentStore,
  chunk: readonly DataflowDocument[],
  counts: ImportCounts,
  maxAttempts: number,
): Promise<void> {
  let pending = chunk;
  for (let attempt = 1; pending.length > 0; attempt++) {
    if (attempt > maxAttempts) {
      throw new OprocError(
        `data-flow import: ${pending.length} documents still met write conflicts after ${maxAttempts} attempts ` +
          `(first: ${pending[0]!._id}); another writer keeps changing them. Run the import again.`,
        ExitCode.Partial,
      );
    }
    pending = await writeOnce(store, pending, counts);
  }
}

/** One read-compare-write round; returns the documents whose write met a conflict. */
async function writeOnce(
  store: DocumentStore,
  documents: readonly DataflowDocument[],
  counts: ImportCounts,
): Promise<DataflowDocument[]> {
  const existing = await store.getMany(documents.map((d) => d._id));
  const toWrite: { document: DataflowDocument; decision: Decision & { kind: 'new' | 'updated' } }[] = [];
  for (const document of documents) {
    const decision = decide(document, existing.get(document._id));
    if (decision.kind === 'unchanged') counts.unchanged++;
    else toWrite.push({ document, decision });
  }
  if (toWrite.length === 0) return [];
  const results = await store.bulkWrite(toWrite.map((w) => w.decision.write));
  const conflicted: DataflowDocument[] = [];
  toWrite.forEach(({ document, decision }, i) => {
    const result = resultFor(results, i, document._id);
    if (result.ok) counts[decision.kind]++;
    else if (result.error === 'conflict') conflicted.push(document);
    else throw writeError(document._id, result);
  });
  return conflicted;
}

function decide(document: DataflowDocument, current: StoredDocument | undefined): Decision {
  if (!current || current._deleted) return { kind: 'new', write: { ...document } };
  const { _rev: rev, ...content } = current;
  if (canonicalJson(content) === canonicalJson(document)) return { kind: 'unchanged' };
  return { kind: 'updated', write: { ...document, _rev: rev } };
}

/** Results come in the order given; the id check guards against a backend that reorders. */
function resultFor(results: readonly WriteResult[], i: number, id: string): WriteResult {
  const result = results[i]?.id === id ? results[i] : results.find((r) => r.id === id);
  if (!result)
    throw new OprocError(`data-flow import: the database gave no result for ${id}`, ExitCode.Partial);
  return result;
}

function writeError(id: string, result: WriteResult & { ok: false }): OprocError {
  const reason = result.reason ? ` (${result.reason})` : '';
  return new OprocError(
    `data-flow import: writing ${id} failed: ${result.error}${reason}. Documents before it were written; ` +
      'run the import again once the cause is fixed (it skips what is already there).',
    ExitCode.Partial,
  );
}
