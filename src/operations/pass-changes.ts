/**
 * `oproc retry` and `oproc cancel` (DESIGN.md 4a, the experiment's `retry_failed.py` and
 * `cancel_jobs.py`): select passes of one RAT version, then change their status in place. No pass
 * is created. Documents are read as `oproc passes` reads them; writes carry the revision read and, on
 * a 409, the job document is read again and the change applied again to it, so a grid client's
 * concurrent change survives. A pass that no longer matches then is left alone and reported.
 */
import pMap from 'p-map';
import picomatch from 'picomatch';

import type { DocumentStore, StoredDocument, WriteResult } from '../backends/types.js';
import { readResolved, writesMayConflict } from '../engine/conflicts.js';
import { usageError } from '../errors.js';
import {
  passStatuses,
  ids,
  type JobDocument,
  type Pass,
  type PassStatus,
  type RunNumber,
} from '../engine/types.js';
import {
  exactPasses,
  jobShapeProblem,
  readSourceDocuments,
  sortPasses,
  type DocumentWarning,
  type PassSource,
  type ReadLimits,
} from './passes.js';

export type PassChangeKind = 'retry' | 'cancel';

/** What each kind sets a pass (and its subjobs not `completed`) to. */
export const targetStatus: Record<PassChangeKind, PassStatus> = { retry: 'waiting', cancel: 'canceled' };

/** Statuses each kind takes when `--status` is not given. */
export const defaultStatuses: Record<PassChangeKind, readonly PassStatus[]> = {
  retry: ['failed'],
  cancel: ['waiting', 'new', 'submitted', 'running'],
};

/** Retry: may be on the grid still; only with `--force`. */
export const forceStatuses: readonly PassStatus[] = ['submitted', 'running'];

const allowed: Record<PassChangeKind, readonly PassStatus[]> = {
  retry: ['failed', 'partFail', 'unsatisfied', 'canceled', ...forceStatuses],
  cancel: ['waiting', 'new', 'submitted', 'running', 'failed', 'partFail', 'unsatisfied'],
};

/** Why a status cannot be selected, in words a shifter can act on. */
const refusals: Record<PassChangeKind, Partial<Record<PassStatus, string>>> = {
  retry: {
    completed: 'a completed pass is reprocessed, not retried (oproc reprocess ... makes a new pass)',
    waiting: 'a waiting pass is already waiting for the grid',
    new: 'a new pass is already queued on the grid',
    deleted: 'a deleted pass was removed on purpose; reprocess the run for a new pass',
  },
  cancel: {
    completed: 'a completed pass has its output; there is nothing to cancel',
    canceled: 'the pass is already canceled',
    deleted: 'a deleted pass was removed on purpose; there is nothing to cancel',
  },
};

/**
 * The statuses a retry or cancel selects: the default, or `--status` checked against what the kind
 * may change. A refused status is a usage error; `submitted` and `running` need `force` on a retry.
 */
export function resolveStatuses(
  kind: PassChangeKind,
  given: readonly PassStatus[] | undefined,
  force: boolean,
): PassStatus[] {
  const statuses = [...new Set(given?.length ? given : defaultStatuses[kind])];
  for (const status of statuses) {
    if (!allowed[kind].includes(status)) {
      throw usageError(
        `--status ${status}: ${refusals[kind][status] ?? 'not a status this command changes'}`,
        `${kind} takes: ${allowed[kind].join(', ')}`,
      );
    }
    if (kind === 'retry' && forceStatuses.includes(status) && !force) {
      throw usageError(
        `--status ${status}: the pass may still be running on the grid; retrying it may run the job twice`,
        'give --force as well when the grid site running it is gone',
      );
    }
  }
  return statuses;
}

/** `--pass` values: pass numbers (0, 1, ...). */
export function parsePassNumbers(values: readonly string[]): number[] {
  return values.map((value) => {
    const text = value.trim();
    if (!/^\d+$/.test(text))
      throw usageError(`--pass "${text.slice(0, 40)}" is not a pass number (0, 1, 2, ...)`);
    return Number(text);
  });
}

export interface PassChangeRequest {
  kind: PassChangeKind;
  ratv: string;
  source: PassSource;
  /** Module names or shell globs (`Analysis*`); empty: every module. */
  modules: readonly string[];
  passes: readonly number[];
  /** Resolved with `resolveStatuses`. */
  statuses: readonly PassStatus[];
  /** Only each job document's newest pass of the RAT version. */
  lastPass: boolean;
  /** The modules the RAT version's processing information names (undefined when it has none). */
  knownModules?: readonly string[];
}

/** A pass by its job document and number. */
export interface PassRef {
  run: RunNumber;
  module: string;
  pass: number;
}

/** A selected pass and its status when read. */
export interface MatchedPass extends PassRef {
  status: string;
}

export interface ChangedPass extends PassRef {
  from: string;
  to: PassStatus;
}

/** A pass asked for and not changed: its status now (null when it does not exist) and why. */
export interface LeftPass extends PassRef {
  status: string | null;
  reason: string;
}

export interface PassChangePlan {
  request: PassChangeRequest;
  matched: MatchedPass[];
  /** Outlist lines naming a pass that does not exist. */
  left: LeftPass[];
  warnings: DocumentWarning[];
  /** Whether any job document read has a pass of the RAT version (to say so when none matched). */
  ratvSeen: boolean;
  /** The job documents as read, by id: what the first write is made against. */
  docs: Map<string, JobDocument>;
}

export interface PassChangeOutcome {
  changed: ChangedPass[];
  left: LeftPass[];
}

/** Whether a module pattern has glob characters (else it is an exact name, and ids can be read directly). */
function isGlob(pattern: string): boolean {
  return picomatch.scan(pattern).isGlob;
}

/** The newest pass of a RAT version in a job document. */
function newestOf(doc: JobDocument, ratv: string): number | undefined {
  let newest: number | undefined;
  for (const pass of doc.passes)
    if (pass.ratv === ratv && (newest === undefined || pass.pass > newest)) newest = pass.pass;
  return newest;
}

/** Reads the job documents of the selection and picks the passes that match it. Changes nothing. */
export async function planPassChanges(
  store: DocumentStore,
  request: PassChangeRequest,
  limits?: ReadLimits,
): Promise<PassChangePlan> {
  const exact = request.modules.length > 0 && !request.modules.some(isGlob) ? request.modules : undefined;
  // A run range is read through the view of passes by RAT version and status: what matches only.
  const index = { ratv: request.ratv, statuses: request.statuses };
  const stored = await readSourceDocuments(store, request.source, exact, limits, index);
  const warnings: DocumentWarning[] = [];
  const docs = new Map<string, JobDocument>();
  const accept = (doc: StoredDocument): JobDocument | undefined => {
    const problem = jobShapeProblem(doc);
    if (problem) warnings.push({ id: doc._id, problem });
    return problem ? undefined : (doc as JobDocument);
  };
  for (const doc of stored) {
    const job = accept(doc);
    if (job) docs.set(job._id, job);
  }
  checkModulePatterns(request, docs);

  let candidates: PassRef[];
  const left: LeftPass[] = [];
  const { source } = request;
  if (source.kind === 'exactly') {
    const byId = new Map(stored.map((d) => [d._id, d]));
    const { passes, missing } = exactPasses(source.entries, byId, (d) => docs.get(d._id));
    candidates = passes.map(({ run, module, pass }) => ({ run, module, pass }));
    const selected = moduleMatcher(request.modules);
    for (const m of missing)
      if (selected(m.module))
        left.push({
          run: m.run,
          module: m.module,
          pass: m.pass,
          status: null,
          reason: `no such pass: ${m.reason}`,
        });
  } else {
    const runs = source.kind === 'runs' ? new Set(source.runs) : undefined;
    candidates = [...docs.values()]
      .filter((doc) => !runs || runs.has(doc.run))
      .flatMap((doc) => doc.passes.map((p) => ({ run: doc.run, module: doc.module, pass: p.pass })));
  }
  const matches = selectionMatcher(request);
  const matched: MatchedPass[] = [];
  for (const ref of candidates) {
    const doc = docs.get(ids.job(ref.run, ref.module));
    if (doc && matches(doc, ref) === undefined)
      matched.push({ ...ref, status: String(passOf(doc, ref.pass)!.status) });
  }
  const ratvSeen = [...docs.values()].some((doc) => doc.passes.some((p) => p.ratv === request.ratv));
  return { request, matched: sortPasses(matched), left: sortPasses(left), warnings, ratvSeen, docs };
}

function moduleMatcher(patterns: readonly string[]): (module: string) => boolean {
  if (patterns.length === 0) return () => true;
  return picomatch([...patterns]);
}

/** A `-m` pattern that names no module of the RAT version nor of any document read is a usage error. */
function checkModulePatterns(request: PassChangeRequest, docs: ReadonlyMap<string, JobDocument>): void {
  const names = new Set([...(request.knownModules ?? []), ...[...docs.values()].map((d) => d.module)]);
  for (const pattern of request.modules) {
    const matcher = picomatch(pattern);
    if ([...names].some((name) => matcher(name))) continue;
    const known = [...names].sort().join(', ') || 'none';
    throw usageError(
      `-m ${pattern}: no module of RAT ${request.ratv} matches it (modules: ${known})`,
      'module names are case-sensitive; quote a glob so the shell leaves it alone: -m "Analysis*"',
    );
  }
}

function passOf(doc: JobDocument, number: number): Pass | undefined {
  return doc.passes.find((p) => p.pass === number);
}

/**
 * Whether a pass of a job document matches the selection now: undefined when it does, else why not.
 * Used on the documents first read, and again on a document re-read after a conflict.
 */
function selectionMatcher(
  request: PassChangeRequest,
): (doc: JobDocument | undefined, ref: PassRef) => string | undefined {
  const module = moduleMatcher(request.modules);
  const passes = new Set(request.passes);
  const statuses = new Set<string>(request.statuses);
  return (doc, ref) => {
    if (!doc) return `job document ${ids.job(ref.run, ref.module)} was deleted meanwhile`;
    const pass = passOf(doc, ref.pass);
    if (!pass) return `pass ${ref.pass} is no longer in ${doc._id}`;
    if (pass.ratv !== request.ratv) return `pass ${ref.pass} is of RAT ${pass.ratv}`;
    if (!module(doc.module)) return `module ${doc.module} is not selected`;
    if (passes.size && !passes.has(pass.pass)) return `pass ${pass.pass} is not selected`;
    if (!statuses.has(String(pass.status))) return `status is ${String(pass.status)}`;
    if (request.lastPass) {
      const newest = newestOf(doc, request.ratv);
      if (newest !== pass.pass) return `pass ${newest} of RAT ${request.ratv} is newer`;
    }
    return undefined;
  };
}

/** The pass with the change made: its status, its subjobs not `completed`, and the history field. */
function changedPass(pass: Pass, kind: PassChangeKind, by: string, at: string): Pass {
  const to = targetStatus[kind];
  const subjobs = Array.isArray(pass.subjobs)
    ? pass.subjobs.map((sub) => (sub?.status === 'completed' ? sub : { ...sub, status: to }))
    : pass.subjobs;
  if (kind === 'cancel') return { ...pass, status: to, subjobs, canceled_at: at, canceled_by: by };
  const retries = Array.isArray(pass.retries) ? (pass.retries as unknown[]) : [];
  return { ...pass, status: to, subjobs, retries: [...retries, { at, by, from: String(pass.status) }] };
}

/** Whether a pass read back carries the mark `changedPass` wrote on it. */
function carriesChange(pass: Pass, kind: PassChangeKind, by: string, at: string): boolean {
  if (kind === 'cancel') return pass.canceled_at === at && pass.canceled_by === by;
  const retries = Array.isArray(pass.retries) ? (pass.retries as { at?: unknown; by?: unknown }[]) : [];
  return retries.some((r) => r?.at === at && r?.by === by);
}

/**
 * Job documents per `_bulk_docs` request at most, and requests in flight, as passes are written: the
 * fastest raw writes of changed job documents into Apache CouchDB (docs/PERFORMANCE.md).
 */
const writeChunk = 500;
const writesInFlight = 4;

/**
 * Makes the planned changes. Each job document is written with the revision read; on a conflict it is
 * read again and each of its passes checked against the selection again: one that still matches is
 * changed in the fresh document, one that does not is left and reported with its status now.
 */
export async function applyPassChanges(
  store: DocumentStore,
  plan: PassChangePlan,
  options: { by: string; now: Date; maxAttempts?: number },
): Promise<PassChangeOutcome> {
  const { kind } = plan.request;
  const at = options.now.toISOString();
  const maxAttempts = options.maxAttempts ?? 10;
  const matches = selectionMatcher(plan.request);
  const changed: ChangedPass[] = [];
  const left: LeftPass[] = [...plan.left];
  const known = new Map<string, JobDocument | undefined>(plan.docs);
  let pending = new Map<string, PassRef[]>();
  for (const ref of plan.matched) {
    const id = ids.job(ref.run, ref.module);
    pending.set(id, [...(pending.get(id) ?? []), ref]);
  }
  for (let attempt = 1; pending.size > 0; attempt++) {
    const toWrite: { doc: JobDocument; refs: PassRef[]; changes: ChangedPass[] }[] = [];
    for (const [id, refs] of pending) {
      let doc = known.get(id);
      const changes: ChangedPass[] = [];
      for (const ref of refs) {
        const why = matches(doc, ref);
        if (why !== undefined) {
          const status = doc ? passOf(doc, ref.pass)?.status : undefined;
          left.push({
            ...ref,
            status: status === undefined ? null : String(status),
            reason: `changed meanwhile: ${why}`,
          });
          continue;
        }
        const pass = passOf(doc!, ref.pass)!;
        changes.push({
          run: ref.run,
          module: ref.module,
          pass: ref.pass,
          from: String(pass.status),
          to: targetStatus[kind],
        });
        doc = {
          ...doc!,
          passes: doc!.passes.map((p) => (p.pass === ref.pass ? changedPass(p, kind, options.by, at) : p)),
        };
      }
      if (changes.length)
        toWrite.push({
          doc: doc!,
          refs: refs.filter((r) => changes.some((c) => c.pass === r.pass)),
          changes,
        });
    }
    const chunks = Array.from({ length: Math.ceil(toWrite.length / writeChunk) }, (_, i) =>
      toWrite.slice(i * writeChunk, (i + 1) * writeChunk).map((w) => w.doc),
    );
    const results: WriteResult[] = (
      await pMap(chunks, (chunk) => store.bulkWrite(chunk), { concurrency: writesInFlight })
    ).flat();
    const conflicts = new Map<string, PassRef[]>();
    results.forEach((result, i) => {
      const { doc, refs, changes } = toWrite[i]!;
      if (result.ok) changed.push(...changes);
      else if (result.error === 'conflict' && attempt < maxAttempts) conflicts.set(doc._id, refs);
      else {
        const why =
          result.error === 'conflict' ? `still conflicting after ${attempt} attempts` : result.error;
        for (const c of changes)
          left.push({
            run: c.run,
            module: c.module,
            pass: c.pass,
            status: c.from,
            reason: `writing ${doc._id} failed: ${why}`,
          });
      }
    });
    if (conflicts.size === 0) break;
    const fresh = await store.getMany([...conflicts.keys()]);
    for (const id of conflicts.keys()) {
      const doc = fresh.get(id);
      known.set(id, doc && !jobShapeProblem(doc) ? (doc as JobDocument) : undefined);
    }
    pending = conflicts;
  }
  // Re-checked with conflicts=true before it is reported (DESIGN.md 4, Clusters): a conflicting
  // revision is merged now; a change the merge did not keep is reported left, not changed. A change
  // is kept when the pass still carries its mark (this cancel's canceled_at, this retry's entry): a
  // grid client that read it and wrote the pass on (a late completion) does not undo it.
  // On one server no conflict can follow a write (writesMayConflict): nothing to read back.
  const written = [...new Set(changed.map((c) => ids.job(c.run, c.module)))];
  if (written.length === 0 || !(await writesMayConflict(store)))
    return { changed: sortPasses(changed), left: sortPasses(left) };
  const read = await readResolved(store, written);
  const kept = changed.filter((c) => {
    const doc = read.get(ids.job(c.run, c.module));
    const pass = doc && !jobShapeProblem(doc) ? passOf(doc as JobDocument, c.pass) : undefined;
    if (pass && carriesChange(pass, kind, options.by, at)) return true;
    const status = pass?.status;
    left.push({
      run: c.run,
      module: c.module,
      pass: c.pass,
      status: status === undefined ? null : String(status),
      reason: `a conflicting revision (another CouchDB node) kept status ${String(status)}`,
    });
    return false;
  });
  return { changed: sortPasses(kept), left: sortPasses(left) };
}

/** What a dry run reports: each matched pass as it would change. */
export function wouldChange(plan: PassChangePlan): ChangedPass[] {
  const to = targetStatus[plan.request.kind];
  return plan.matched.map(({ run, module, pass, status }) => ({ run, module, pass, from: status, to }));
}

/** Matched passes counted per module and status, in module then status order. */
export function countsByModuleAndStatus(
  matched: readonly MatchedPass[],
): { module: string; status: string; count: number }[] {
  const counts = new Map<string, { module: string; status: string; count: number }>();
  for (const m of matched) {
    const key = `${m.module}\u0000${m.status}`;
    const entry = counts.get(key) ?? { module: m.module, status: m.status, count: 0 };
    entry.count++;
    counts.set(key, entry);
  }
  const order = (s: string) => passStatuses.indexOf(s as PassStatus);
  return [...counts.values()].sort((a, b) =>
    a.module < b.module ? -1 : a.module > b.module ? 1 : order(a.status) - order(b.status),
  );
}
