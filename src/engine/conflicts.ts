/**
 * Conflicted documents (DESIGN.md 4, Clusters). On a CouchDB cluster two writes from one revision
 * through different nodes can both be accepted and leave two leaf revisions: the document then has
 * `_conflicts` when read with `conflicts: true`. oproc merges the leaves of its own documents into
 * the winning revision and, once that is confirmed, deletes the others; docs/RELIABILITY.md says how.
 */
import type { DocumentStore, StoredDocument } from '../backends/types.js';
import { processingDesign } from './design.js';
import { ownIdPrefixes, type JobDocument, type Pass, type SubJob } from './types.js';

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

/**
 * One pass across revisions: a submission writes at most one pass per job document, so its id and
 * creation time name it whatever number a merge has given it since.
 */
const passKey = (pass: Pass) => `${pass.submission} ${pass.created}`;

/** A pass a grid client has changed (its status or a subjob's is no longer oproc's `waiting`). */
export function touched(pass: Pass): boolean {
  return pass.status !== 'waiting' || pass.subjobs.some((job) => job.status !== 'waiting');
}

/** A pass a merge gave another number: the number it was written with, and the one it has now. */
export interface Renumbering {
  run: number;
  module: string;
  submission: string;
  from: number;
  to: number;
}

/**
 * One job document from its leaf revisions (the winner first): every pass of every revision once
 * (by submission and created), each with the most advanced status of its copies, and of each
 * subjob's copies. Two different passes with one number (two writers through different nodes):
 * one keeps it, the other is renumbered to the next free number (docs/RELIABILITY.md, the merge
 * rule). The one that keeps it: a pass a grid client has touched (the grid may already have
 * submitted `_pNNN`), then not the `yielding` submission (a writer settling its own unconfirmed
 * write), then the winner's, then the earliest created.
 */
export function mergeJob(leaves: readonly JobDocument[], yielding?: string): JobDocument {
  return mergeJobDetailed(leaves, yielding).doc;
}

export function mergeJobDetailed(
  leaves: readonly JobDocument[],
  yielding?: string,
): { doc: JobDocument; renumbered: Renumbering[] } {
  const winner = leaves[0]!;
  const byKey = new Map<string, { pass: Pass; fromWinner: boolean }>();
  leaves.forEach((leaf, i) => {
    for (const pass of Array.isArray(leaf.passes) ? leaf.passes : []) {
      const key = passKey(pass);
      const seen = byKey.get(key);
      // The number of the copy seen first (the winner's when it has one): an earlier merge's renumbering.
      if (!seen) byKey.set(key, { pass, fromWinner: i === 0 });
      else byKey.set(key, { pass: mergePass(seen.pass, pass), fromWinner: seen.fromWinner || i === 0 });
    }
  });
  const entries = [...byKey.values()];
  const keeps = (e: { pass: Pass; fromWinner: boolean }) => [
    touched(e.pass) ? 0 : 1,
    e.pass.submission === yielding ? 1 : 0,
    e.fromWinner ? 0 : 1,
    e.pass.created,
    e.pass.submission,
  ];
  entries.sort((a, b) => compare(keeps(a), keeps(b)));
  const taken = new Set<number>();
  let next = Math.max(-1, ...entries.map((e) => e.pass.pass)) + 1;
  const passes: Pass[] = [];
  const renumbered: Renumbering[] = [];
  for (const { pass } of entries) {
    if (!taken.has(pass.pass)) {
      taken.add(pass.pass);
      passes.push(pass);
    } else {
      renumbered.push({
        run: winner.run,
        module: winner.module,
        submission: pass.submission,
        from: pass.pass,
        to: next,
      });
      taken.add(next);
      passes.push({ ...pass, pass: next++ });
    }
  }
  passes.sort((a, b) => a.pass - b.pass);
  return { doc: { ...winner, passes }, renumbered };
}

function compare(a: readonly (string | number)[], b: readonly (string | number)[]): number {
  for (let i = 0; i < a.length; i++) {
    if (a[i]! < b[i]!) return -1;
    if (a[i]! > b[i]!) return 1;
  }
  return 0;
}

function mergePass(a: Pass, b: Pass): Pass {
  // A retry (`oproc retry`) sets a failed pass back to waiting and records itself: the copy retried
  // more often is the later one, whatever its status says.
  const retries = (p: Pass) => (Array.isArray(p.retries) ? p.retries.length : 0);
  if (retries(a) !== retries(b)) return retries(a) > retries(b) ? a : b;
  // The more advanced copy gives the status and what came with it (a cancel's canceled_at and
  // canceled_by); the number stays the first copy's.
  const ahead = advanced(a, b);
  const subjobs: SubJob[] = a.subjobs.map((job, i) => {
    const other = b.subjobs[i];
    return other ? advanced(job, other) : job;
  });
  return { ...ahead, pass: a.pass, subjobs: [...subjobs, ...b.subjobs.slice(a.subjobs.length)] };
}

/** The content to keep of any other document of oproc's (states, journals, locks). */
function mergeOther(leaves: readonly StoredDocument[]): StoredDocument {
  const winner = leaves[0]!;
  if (winner.type === 'submission') {
    // A journal: every run recorded done by any copy; finished or abandoned when any copy says so.
    const done = [...new Set(leaves.flatMap((l) => (Array.isArray(l.done) ? (l.done as number[]) : [])))];
    const finished = leaves.map((l) => l.finished).find((f) => typeof f === 'string') ?? winner.finished;
    const abandoned = leaves.map((l) => l.abandoned).find((a) => typeof a === 'string');
    const renumbered = unionRenumbered(leaves.map((l) => l.renumbered));
    return {
      ...winner,
      done,
      finished,
      ...(abandoned ? { abandoned } : {}),
      ...(renumbered.length ? { renumbered } : {}),
    };
  }
  // A watch state, a calibration lock, a lease: the copy written last.
  const stamp = (d: StoredDocument) => String(d.updated ?? d.released_at ?? d.heartbeat ?? d.set_at ?? '');
  return [...leaves].sort((a, b) => stamp(b).localeCompare(stamp(a)))[0]!;
}

function unionRenumbered(lists: readonly unknown[]): JournalRenumbering[] {
  const all = lists.flatMap((l) => (Array.isArray(l) ? (l as JournalRenumbering[]) : []));
  const key = (r: JournalRenumbering) => `${r.run} ${r.module} ${r.from} ${r.to}`;
  return [...new Map(all.map((r) => [key(r), r])).values()];
}

/** What a submission's journal records of a pass of its renumbered by a merge. */
export interface JournalRenumbering {
  run: number;
  module: string;
  from: number;
  to: number;
  at: string;
}

/** Merges leaf revisions (winner first) into the content to write on the winner's revision. */
export function mergeLeaves(leaves: readonly StoredDocument[], yielding?: string): StoredDocument {
  return mergeLeavesDetailed(leaves, yielding).doc;
}

function mergeLeavesDetailed(
  leaves: readonly StoredDocument[],
  yielding?: string,
): { doc: StoredDocument; renumbered: Renumbering[] } {
  const { doc, renumbered } =
    leaves[0]!.type === 'job'
      ? mergeJobDetailed(leaves as JobDocument[], yielding)
      : { doc: mergeOther(leaves), renumbered: [] };
  return { doc: { ...doc, _id: leaves[0]!._id, _rev: leaves[0]!._rev }, renumbered };
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
 * revisions, writes each merge on the winner, and once that write is confirmed deletes the losers. A document changed meanwhile (409), or a merge the cluster
 * only accepted (202), is read and resolved again, a few times. Then each renumbered pass is followed
 * (`followRenumberings`). Returns the documents as now stored, conflicted ones replaced, with how
 * many were merged, how many revisions deleted and which passes renumbered. `dryRun` merges in
 * memory only.
 */
export async function resolveConflicts(
  store: DocumentStore,
  docs: readonly StoredDocument[],
  options: { yielding?: string; dryRun?: boolean; now?: () => Date } = {},
): Promise<{
  docs: Map<string, StoredDocument>;
  deleted: number;
  merged: number;
  renumbered: Renumbering[];
}> {
  const out = new Map(docs.map((d) => [d._id, stripConflicts(d)]));
  let deleted = 0;
  const mergedIds = new Set<string>();
  const renumbered: Renumbering[] = [];
  let pending = docs.filter((d) => d._conflicts?.length);
  for (let attempt = 0; attempt < 10 && pending.length > 0; attempt++) {
    const merges: { merged: StoredDocument; gone: StoredDocument[]; renumbered: Renumbering[] }[] = [];
    for (const doc of pending) {
      const others = await losers(store, doc);
      const { doc: merged, renumbered: moved } = mergeLeavesDetailed(
        [stripConflicts(doc), ...others],
        options.yielding,
      );
      merges.push({ merged, gone: others, renumbered: moved });
    }
    if (options.dryRun) {
      for (const { merged } of merges) out.set(merged._id, merged);
      break;
    }
    const results = await store.bulkWrite(merges.map((m) => m.merged));
    const again: string[] = [];
    const deletions: StoredDocument[] = [];
    merges.forEach(({ merged, gone, renumbered: moved }, i) => {
      const result = results[i]!;
      if (result.ok) {
        mergedIds.add(merged._id);
        // Stored, on a quorum or not: the renumbering is in the document and must be followed.
        renumbered.push(...moved);
      }
      if (result.ok && !result.accepted) {
        out.set(merged._id, { ...merged, _rev: result.rev });
        deletions.push(...gone.map((g) => ({ _id: g._id, _rev: g._rev!, _deleted: true })));
      } else again.push(merged._id);
    });
    // The losers go only once the merge holding their passes is confirmed, in a request of their own:
    // `_bulk_docs` is not atomic, and a loser deleted beside a refused merge (a grid client changed
    // the winner meanwhile) would take its passes with it. A merge not confirmed is merged again.
    if (deletions.length) deleted += (await store.bulkWrite(deletions)).filter((r) => r.ok).length;
    if (again.length === 0) break;
    const fresh = await store.getMany(again, { conflicts: true });
    for (const id of again) {
      const doc = fresh.get(id);
      if (doc) out.set(id, stripConflicts(doc));
      else out.delete(id);
    }
    pending = [...fresh.values()].filter((d) => d._conflicts?.length);
  }
  const settled = dedupeRenumberings(renumbered);
  if (settled.length && !options.dryRun)
    await followRenumberings(store, settled, (options.now ?? (() => new Date()))());
  return { docs: out, deleted, merged: mergedIds.size, renumbered: settled };
}

/** One renumbering per pass: a pass moved twice (merged again) ends at its last number. */
function dedupeRenumberings(list: readonly Renumbering[]): Renumbering[] {
  const byPass = new Map<string, Renumbering>();
  for (const r of list) {
    const key = `${r.run} ${r.module} ${r.submission}`;
    const seen = byPass.get(key);
    byPass.set(key, seen ? { ...r, from: seen.from } : r);
  }
  return [...byPass.values()].filter((r) => r.from !== r.to);
}

/**
 * What follows a renumbered pass: the passes of the same submission in the run's other job
 * documents that link it as a prerequisite link its new number, and the submission's journal records
 * `renumbered: [{run, module, from, to, at}]` (what the outlist it wrote said, and what it is now).
 * Best effort, retried on 409: the merge itself is what must not be lost.
 */
export async function followRenumberings(
  store: DocumentStore,
  renumbered: readonly Renumbering[],
  now: Date,
): Promise<void> {
  for (let attempt = 0; attempt < 5; attempt++) {
    const writes: StoredDocument[] = [];
    for (const run of new Set(renumbered.map((r) => r.run))) {
      const moved = renumbered.filter((r) => r.run === run);
      const prefix = `job_${run}_`;
      const siblings = await store.allDocs({ startkey: prefix, endkey: `${prefix}\ufff0`, limit: 1000 });
      for (const doc of siblings as JobDocument[]) {
        if (doc.run !== run || !Array.isArray(doc.passes)) continue;
        let changed = false;
        const passes = doc.passes.map((pass) => {
          const prerequisites = (pass.prerequisites ?? []).map((link) => {
            const r = moved.find(
              (m) => m.module === link.module && m.submission === pass.submission && m.from === link.pass,
            );
            if (!r) return link;
            changed = true;
            return { ...link, pass: r.to };
          });
          return changed ? { ...pass, prerequisites } : pass;
        });
        if (changed) writes.push({ ...doc, passes });
      }
    }
    const journals = await store.getMany([...new Set(renumbered.map((r) => `submission_${r.submission}`))]);
    for (const journal of journals.values()) {
      const mine = renumbered
        .filter((r) => `submission_${r.submission}` === journal._id)
        .map(({ run, module, from, to }) => ({ run, module, from, to, at: now.toISOString() }));
      const renumberedBefore = Array.isArray(journal.renumbered) ? journal.renumbered : [];
      const union = unionRenumbered([renumberedBefore, mine]);
      if (union.length > renumberedBefore.length) writes.push({ ...journal, renumbered: union });
    }
    if (writes.length === 0) return;
    const results = await store.bulkWrite(writes);
    if (results.every((r) => r.ok || r.error !== 'conflict')) return;
  }
}

/** What one sweep of the conflicted documents found and did. */
export interface SweepResult {
  /** oproc documents the conflicts view listed (leases left to their holders' own writes). */
  found: number;
  merged: number;
  deleted: number;
  renumbered: Renumbering[];
}

const sweepPage = 500;

/**
 * Merges every conflicted document of oproc's the conflicts view lists (DESIGN.md 4, Clusters): a
 * running watcher calls it every cycle, so a conflict internal replication brings after a write
 * returned is resolved although no one reads that document again. Leases are left out: their
 * holders' heartbeats delete the other leaves (lease.ts), and a merge must not pick a holder.
 */
export async function sweepConflicts(
  store: DocumentStore,
  options: { now?: () => Date } = {},
): Promise<SweepResult> {
  const rows = await store.queryView(processingDesign.name, 'conflicts', { reduce: false, limit: sweepPage });
  const wanted = [...new Set(rows.map((r) => r.id))].filter(
    (id) => ownIdPrefixes.some((p) => id.startsWith(p)) && !id.startsWith('lease_'),
  );
  if (wanted.length === 0) return { found: 0, merged: 0, deleted: 0, renumbered: [] };
  const docs = [...(await store.getMany(wanted, { conflicts: true })).values()];
  const conflicted = docs.filter((d) => d._conflicts?.length);
  const result = await resolveConflicts(store, conflicted, options);
  return {
    found: conflicted.length,
    merged: result.merged,
    deleted: result.deleted,
    renumbered: result.renumbered,
  };
}

/** How many of oproc's documents have conflicting revisions now (the conflicts view, reduced). */
export async function countConflicts(store: DocumentStore): Promise<number> {
  const rows = await store.queryView(processingDesign.name, 'conflicts', { reduce: true });
  const value = rows[0]?.value;
  return typeof value === 'number' ? value : 0;
}

/**
 * Whether a write that returned can still meet a conflicting revision: the documents have copies
 * on several nodes (a cluster), which exchange their writes after both were answered. On one
 * server, a write without `new_edits=false` never leaves a conflict, so reading it back at once
 * finds none; there a writer does not re-check (DESIGN.md 4, Clusters; docs/behaviour.md).
 */
export async function writesMayConflict(store: DocumentStore): Promise<boolean> {
  if (!store.replicationLagMs) return false;
  return (await store.replicationLagMs().catch(() => 1)) > 0;
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
