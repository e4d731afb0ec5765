/**
 * Conflicted documents (DESIGN.md 4, Clusters). On a CouchDB cluster two writes from one revision
 * through different nodes can both be accepted and leave two leaf revisions: the document then has
 * `_conflicts` when read with `conflicts: true`. oproc merges the leaves of its own documents into
 * the winning revision and deletes the others, in one `_bulk_docs`; docs/RELIABILITY.md says how.
 */
import type { DocumentStore, StoredDocument } from '../backends/types.js';
import type { JobDocument, Pass, SubJob } from './types.js';

/**
 * How far a status has come, for merging two revisions' copies of one pass: the more advanced one
 * is kept. A grid client moves a pass forward (waiting, new, submitted, running, then an end);
 * an operator's cancel or delete comes last. Statuses oproc does not know rank beside `running`.
 */
export const statusOrder: readonly string[] = [
  'waiting',
  'new',
  'submitted',
  'running',
  'unsatisfied',
  'partFail',
  'failed',
  'completed',
  'canceled',
  'deleted',
];

function rank(status: unknown): number {
  const i = statusOrder.indexOf(String(status));
  return i >= 0 ? i : statusOrder.indexOf('running') + 0.5;
}

function advanced<T extends { status: unknown }>(a: T, b: T): T {
  return rank(b.status) > rank(a.status) ? b : a;
}

/** Every leaf revision of a document, the winner first; empty when it does not exist. */
export async function leafRevisions(store: DocumentStore, id: string): Promise<StoredDocument[]> {
  const doc = (await store.getMany([id], { conflicts: true })).get(id);
  if (!doc) return [];
  return [stripConflicts(doc), ...(await losers(store, doc))];
}

function stripConflicts(doc: StoredDocument): StoredDocument {
  if (!doc._conflicts) return doc;
  const { _conflicts: _ignored, ...rest } = doc;
  return rest;
}

async function losers(store: DocumentStore, doc: StoredDocument): Promise<StoredDocument[]> {
  const revs = doc._conflicts ?? [];
  if (revs.length === 0) return [];
  return (await store.getRevisions(revs.map((rev) => ({ id: doc._id, rev })))).filter((d) => !d._deleted);
}

const passKey = (pass: Pass) => `${pass.submission} ${pass.pass} ${pass.created}`;

/**
 * One job document from its leaf revisions (the winner first): every pass of every revision once
 * (by submission, pass number and created), each with the most advanced status of its copies, and
 * of each subjob's copies. Two different passes with one number: the one that keeps it is the
 * winner's, unless `yielding` names the submission that must give its number up (a writer whose
 * write was not confirmed); the other is renumbered after the highest pass.
 */
export function mergeJob(leaves: readonly JobDocument[], yielding?: string): JobDocument {
  const winner = leaves[0]!;
  const byKey = new Map<string, { pass: Pass; fromWinner: boolean }>();
  leaves.forEach((leaf, i) => {
    for (const pass of Array.isArray(leaf.passes) ? leaf.passes : []) {
      const key = passKey(pass);
      const seen = byKey.get(key);
      if (!seen) byKey.set(key, { pass, fromWinner: i === 0 });
      else byKey.set(key, { pass: mergePass(seen.pass, pass), fromWinner: seen.fromWinner || i === 0 });
    }
  });
  const entries = [...byKey.values()];
  // Who keeps a contested number: not the yielding submission; then the winner's; then the earliest.
  const keeps = (e: { pass: Pass; fromWinner: boolean }) => [
    e.pass.submission === yielding ? 1 : 0,
    e.fromWinner ? 0 : 1,
    e.pass.created,
    e.pass.submission,
  ];
  entries.sort((a, b) => compare(keeps(a), keeps(b)));
  const taken = new Set<number>();
  let next = Math.max(-1, ...entries.map((e) => e.pass.pass)) + 1;
  const passes: Pass[] = [];
  for (const { pass } of entries) {
    if (!taken.has(pass.pass)) {
      taken.add(pass.pass);
      passes.push(pass);
    } else {
      taken.add(next);
      passes.push({ ...pass, pass: next++ });
    }
  }
  passes.sort((a, b) => a.pass - b.pass);
  return { ...winner, passes };
}

function compare(a: readonly (string | number)[], b: readonly (string | number)[]): number {
  for (let i = 0; i < a.length; i++) {
    if (a[i]! < b[i]!) return -1;
    if (a[i]! > b[i]!) return 1;
  }
  return 0;
}

function mergePass(a: Pass, b: Pass): Pass {
  const status = advanced(a, b).status;
  const subjobs: SubJob[] = a.subjobs.map((job, i) => {
    const other = b.subjobs[i];
    return other ? advanced(job, other) : job;
  });
  return { ...a, status, subjobs: [...subjobs, ...b.subjobs.slice(a.subjobs.length)] };
}

/** The content to keep of any other document of oproc's (states, journals, locks). */
function mergeOther(leaves: readonly StoredDocument[]): StoredDocument {
  const winner = leaves[0]!;
  if (winner.type === 'submission') {
    // A journal: every run recorded done by any copy; finished or abandoned when any copy says so.
    const done = [...new Set(leaves.flatMap((l) => (Array.isArray(l.done) ? (l.done as number[]) : [])))];
    const finished = leaves.map((l) => l.finished).find((f) => typeof f === 'string') ?? winner.finished;
    const abandoned = leaves.map((l) => l.abandoned).find((a) => typeof a === 'string');
    return { ...winner, done, finished, ...(abandoned ? { abandoned } : {}) };
  }
  // A watch state, a calibration lock, a lease: the copy written last.
  const stamp = (d: StoredDocument) => String(d.updated ?? d.released_at ?? d.heartbeat ?? d.set_at ?? '');
  return [...leaves].sort((a, b) => stamp(b).localeCompare(stamp(a)))[0]!;
}

/** Merges leaf revisions (winner first) into the content to write on the winner's revision. */
export function mergeLeaves(leaves: readonly StoredDocument[], yielding?: string): StoredDocument {
  const merged = leaves[0]!.type === 'job' ? mergeJob(leaves as JobDocument[], yielding) : mergeOther(leaves);
  return { ...merged, _id: leaves[0]!._id, _rev: leaves[0]!._rev };
}

export interface Resolution {
  /** The document as it now is (merged, at its new revision). */
  doc: StoredDocument;
  /** How many losing revisions were deleted. */
  deleted: number;
  /** False when the merged write was itself only accepted (202) or refused: read and resolve again. */
  confirmed: boolean;
}

/**
 * Resolves the conflicted documents among `docs` (read with `conflicts: true`): reads their losing
 * revisions, writes each merge on the winner and deletes the losers, all in one `_bulk_docs`. A
 * document changed meanwhile (409) is read and resolved again, a few times. Returns the documents
 * as now stored, conflicted ones replaced, with how many revisions were deleted. `dryRun` merges in
 * memory only.
 */
export async function resolveConflicts(
  store: DocumentStore,
  docs: readonly StoredDocument[],
  options: { yielding?: string; dryRun?: boolean } = {},
): Promise<{ docs: Map<string, StoredDocument>; deleted: number }> {
  const out = new Map(docs.map((d) => [d._id, stripConflicts(d)]));
  let deleted = 0;
  let pending = docs.filter((d) => d._conflicts?.length);
  for (let attempt = 0; attempt < 10 && pending.length > 0; attempt++) {
    const merges: { merged: StoredDocument; gone: StoredDocument[] }[] = [];
    for (const doc of pending) {
      const others = await losers(store, doc);
      const merged = mergeLeaves([stripConflicts(doc), ...others], options.yielding);
      merges.push({ merged, gone: others });
    }
    if (options.dryRun) {
      for (const { merged } of merges) out.set(merged._id, merged);
      break;
    }
    const writes = merges.flatMap(({ merged, gone }) => [
      merged,
      ...gone.map((g) => ({ _id: g._id, _rev: g._rev!, _deleted: true })),
    ]);
    const results = await store.bulkWrite(writes);
    const again: string[] = [];
    let at = 0;
    for (const { merged, gone } of merges) {
      const result = results[at]!;
      at += 1 + gone.length;
      deleted += results.slice(at - gone.length, at).filter((r) => r.ok).length;
      if (result.ok && !result.accepted) out.set(merged._id, { ...merged, _rev: result.rev });
      else again.push(merged._id);
    }
    if (again.length === 0) break;
    const fresh = await store.getMany(again, { conflicts: true });
    for (const id of again) {
      const doc = fresh.get(id);
      if (doc) out.set(id, stripConflicts(doc));
      else out.delete(id);
    }
    pending = [...fresh.values()].filter((d) => d._conflicts?.length);
  }
  return { docs: out, deleted };
}

/**
 * `getMany` with conflicts resolved: what the engine reads before it appends to or rewrites one of
 * its documents.
 */
export async function readResolved(
  store: DocumentStore,
  ids: readonly string[],
  options: { yielding?: string; dryRun?: boolean } = {},
): Promise<Map<string, StoredDocument>> {
  const found = await store.getMany(ids, { conflicts: true });
  if (![...found.values()].some((d) => d._conflicts?.length)) return found;
  return (await resolveConflicts(store, [...found.values()], options)).docs;
}
