import type { DocumentStore, StoredDocument, WriteResult } from '../backends/types.js';
import { readResolved, resolveConflicts, writesMayConflict } from './conflicts.js';
import { clusters } from './dataflow.js';
import { ids, type JobDocument, type Pass, type PassBody, type RunNumber } from './types.js';

/** A pass to append to the job document of (run, module), identified by its submission. */
export interface PassIntent {
  run: RunNumber;
  module: string;
  /** Everything but the pass number, which is the job document's next when written. */
  pass: PassBody;
}

export interface WrittenPass {
  run: RunNumber;
  module: string;
  pass: number;
  /** False when the submission's pass was already there (a resumed or retried write). */
  created: boolean;
}

export interface FailedWrite {
  run: RunNumber;
  module: string;
  reason: string;
}

/** Checks a stored document is a job document oproc can append to; returns the problem otherwise. */
export function jobProblem(doc: StoredDocument): string | undefined {
  if (doc.type !== 'job') return `has type ${JSON.stringify(doc.type)}, not "job"`;
  if (!Array.isArray(doc.passes)) return 'has no passes array';
  for (const pass of doc.passes as unknown[]) {
    const number = (pass as { pass?: unknown } | null)?.pass;
    if (typeof number !== 'number' || !Number.isInteger(number) || number < 0) {
      return `has a pass without a valid pass number (${JSON.stringify(number)})`;
    }
  }
  return undefined;
}

const rangePage = 2000;

/**
 * Job documents per `_bulk_docs` request at most. A batch writes one request per prerequisite depth,
 * as many documents as runs × modules at that depth; many modules make it large, so it is cut here
 * (500 or 2,000 documents a request took the same time on pouchdb-server: docs/PERFORMANCE.md).
 */
const writeChunk = 1000;

/**
 * Reads the job documents with the given ids by `_all_docs` id ranges instead of by keys: the ids
 * `job_<run>_<module>` sort by run among runs of one width, so the runs of a batch are a few ranges,
 * and a range read costs by the documents that exist (none, the first time a RAT version is
 * processed), where a read by keys costs by the keys asked for. Runs are grouped by the width of
 * their number; scattered runs make several ranges. Documents in a range that were not asked for
 * (other modules, runs of another width sorting in between) are dropped.
 */
export async function readJobDocuments(
  store: DocumentStore,
  wanted: ReadonlySet<string>,
  runs: readonly RunNumber[],
  options: { dryRun?: boolean } = {},
): Promise<Map<string, StoredDocument>> {
  const found = new Map<string, StoredDocument>();
  const byWidth = new Map<number, RunNumber[]>();
  for (const run of new Set(runs)) {
    const width = String(run).length;
    const sameWidth = byWidth.get(width);
    if (sameWidth) sameWidth.push(run);
    else byWidth.set(width, [run]);
  }
  for (const sameWidth of byWidth.values()) {
    for (const [first, last] of clusters(sameWidth.sort((a, b) => a - b))) {
      const endkey = `${ids.job(last, '')}\ufff0`;
      const range = { endkey, limit: rangePage, conflicts: true };
      let page = await store.allDocs({ startkey: ids.job(first, ''), ...range });
      for (;;) {
        for (const doc of page) if (wanted.has(doc._id)) found.set(doc._id, doc);
        if (page.length < rangePage) break;
        page = await store.allDocs({ startkey: page.at(-1)!._id, ...range, skip: 1 });
      }
    }
  }
  // A document left with two leaf revisions (a cluster) is merged before anything is appended to it.
  const conflicted = [...found.values()].filter((doc) => doc._conflicts?.length);
  if (conflicted.length === 0) return found;
  const resolved = await resolveConflicts(store, conflicted, options);
  for (const [id, doc] of resolved.docs) found.set(id, doc);
  return found;
}

/** The submission's pass in a job document, if it has one. */
export function passOf(doc: JobDocument | undefined, submission: string): Pass | undefined {
  return doc?.passes.find((pass) => pass.submission === submission);
}

/** The number the next pass of a job document gets: passes count from 0 and never repeat. */
export function nextPassNumber(doc: JobDocument | undefined): number {
  if (!doc || doc.passes.length === 0) return 0;
  return Math.max(...doc.passes.map((pass) => pass.pass)) + 1;
}

/**
 * Appends the intent's pass to a job document (a new one when absent), unless the document already
 * has a pass of the same submission: applying an intent twice leaves one pass.
 */
export function applyIntent(
  doc: JobDocument | undefined,
  intent: PassIntent,
): { doc: JobDocument; pass: number; created: boolean } {
  const existing = passOf(doc, intent.pass.submission);
  if (doc && existing) return { doc, pass: existing.pass, created: false };
  const pass = nextPassNumber(doc);
  const base: JobDocument = doc ?? {
    _id: ids.job(intent.run, intent.module),
    type: 'job',
    run: intent.run,
    module: intent.module,
    passes: [],
  };
  return { doc: { ...base, passes: [...base.passes, { pass, ...intent.pass }] }, pass, created: true };
}

/**
 * Writes intents with one `_bulk_docs` per attempt. A 409 conflict (someone else — a grid client,
 * another oproc — changed the document since it was read) is re-read and the intent applied again
 * to the new revision, never overwritten. `known` holds documents already read for this batch.
 */
export async function writeIntents(
  store: DocumentStore,
  intents: readonly PassIntent[],
  known: Map<string, StoredDocument>,
  options: { dryRun: boolean; maxAttempts?: number },
): Promise<{ written: WrittenPass[]; failed: FailedWrite[] }> {
  const written: WrittenPass[] = [];
  const failed: FailedWrite[] = [];
  let pending = [...intents];
  const maxAttempts = options.maxAttempts ?? 10;
  for (let attempt = 1; pending.length > 0; attempt++) {
    const toWrite: { intent: PassIntent; doc: JobDocument; pass: number }[] = [];
    for (const intent of pending) {
      const id = ids.job(intent.run, intent.module);
      const stored = known.get(id);
      const problem = stored && jobProblem(stored);
      if (problem) {
        failed.push({ run: intent.run, module: intent.module, reason: `job document ${id} ${problem}` });
        continue;
      }
      const applied = applyIntent(stored as JobDocument | undefined, intent);
      if (!applied.created || options.dryRun) {
        written.push({
          run: intent.run,
          module: intent.module,
          pass: applied.pass,
          created: applied.created,
        });
        if (options.dryRun && applied.created) known.set(id, applied.doc);
        continue;
      }
      toWrite.push({ intent, doc: applied.doc, pass: applied.pass });
    }
    if (toWrite.length === 0) break;
    const results: WriteResult[] = [];
    for (let i = 0; i < toWrite.length; i += writeChunk)
      results.push(...(await store.bulkWrite(toWrite.slice(i, i + writeChunk).map((w) => w.doc))));
    const conflicts: PassIntent[] = [];
    const unconfirmed: { intent: PassIntent; doc: JobDocument }[] = [];
    results.forEach((result, i) => {
      const { intent, doc, pass } = toWrite[i]!;
      if (result.ok && result.accepted) {
        // A cluster took it with fewer copies than its quorum: another revision may claim the number.
        unconfirmed.push({ intent, doc: { ...doc, _rev: result.rev } });
      } else if (result.ok) {
        written.push({ run: intent.run, module: intent.module, pass, created: true });
        known.set(doc._id, { ...doc, _rev: result.rev });
      } else if (result.error === 'conflict' && attempt < maxAttempts) {
        conflicts.push(intent);
      } else {
        const why =
          result.error === 'conflict' ? `still conflicting after ${attempt} attempts` : result.error;
        failed.push({ run: intent.run, module: intent.module, reason: `writing ${doc._id} failed: ${why}` });
      }
    });
    for (const { intent, pass } of await confirm(store, unconfirmed, known)) {
      if (pass === undefined) conflicts.push(intent);
      else written.push({ run: intent.run, module: intent.module, pass, created: true });
    }
    if (conflicts.length === 0) break;
    const fresh = await readResolved(
      store,
      conflicts.map((intent) => ids.job(intent.run, intent.module)),
    );
    for (const intent of conflicts) {
      const id = ids.job(intent.run, intent.module);
      const doc = fresh.get(id);
      if (doc) known.set(id, doc);
      else known.delete(id);
    }
    pending = conflicts;
  }
  if (!options.dryRun && (await writesMayConflict(store))) await recheck(store, written, known);
  return { written, failed };
}

/**
 * A writer's check before it reports success (DESIGN.md 4, Clusters): the documents it wrote, read
 * again with `conflicts=true`. A conflict found is merged now, and each pass written reports the
 * number it has after the merge (the outlist and prerequisites take that one).
 */
async function recheck(
  store: DocumentStore,
  written: WrittenPass[],
  known: Map<string, StoredDocument>,
): Promise<void> {
  const created = written
    .filter((w) => w.created)
    .map((w) => ({ w, id: ids.job(w.run, w.module) }))
    .map(({ w, id }) => ({ w, id, submission: submissionOf(known.get(id) as JobDocument, w.pass) }));
  if (created.length === 0) return;
  const read = await readResolved(
    store,
    created.map((c) => c.id),
  );
  for (const { w, id, submission } of created) {
    const doc = read.get(id) as JobDocument | undefined;
    if (doc) known.set(id, doc);
    const now = submission === undefined ? undefined : passOf(doc, submission)?.pass;
    if (now !== undefined) w.pass = now;
  }
}

function submissionOf(doc: JobDocument | undefined, pass: number): string | undefined {
  return doc?.passes.find((p) => p.pass === pass)?.submission;
}

/**
 * Settles writes a cluster answered with 202: reads them again with conflicts, merges any other leaf
 * (our pass giving its number up to the other's), and returns each intent's pass number as now
 * stored, or undefined when the pass is not there to be seen (the intent is then applied again).
 */
async function confirm(
  store: DocumentStore,
  unconfirmed: readonly { intent: PassIntent; doc: JobDocument }[],
  known: Map<string, StoredDocument>,
): Promise<{ intent: PassIntent; pass: number | undefined }[]> {
  if (unconfirmed.length === 0) return [];
  const out: { intent: PassIntent; pass: number | undefined }[] = [];
  const bySubmission = new Map<string, { intent: PassIntent; doc: JobDocument }[]>();
  for (const u of unconfirmed) {
    const list = bySubmission.get(u.intent.pass.submission) ?? [];
    list.push(u);
    bySubmission.set(u.intent.pass.submission, list);
  }
  for (const [submission, group] of bySubmission) {
    const read = await readResolved(
      store,
      group.map((u) => u.doc._id),
      { yielding: submission },
    );
    for (const { intent, doc } of group) {
      const now = read.get(doc._id) as JobDocument | undefined;
      if (now) known.set(doc._id, now);
      else known.delete(doc._id);
      out.push({ intent, pass: passOf(now, submission)?.pass });
    }
  }
  return out;
}
