/**
 * The reprocess pipeline, top to bottom: the request and its result, the entry points and the loop
 * that drives a request, then its steps in order: read the runs from the data-flow database, plan
 * their passes, write them, keep the submission journal. A watcher (watch.ts) writes through the
 * same `writePlans` and keeps a journal of the same shape.
 */
import { randomBytes } from 'node:crypto';

import type { Ratdb, StoredDocument } from '../backends/types.js';
import { ExitCode, OprocError, usageError } from '../errors.js';
import { garbageCollector } from '../util/memory.js';
import { readAhead } from '../util/read-ahead.js';
import { readResolved } from './conflicts.js';
import type { CreatedPass, EngineContext, PassOptions, RunOutcome } from './context.js';
import { DataflowReader, type RunData } from './dataflow.js';
import { writeIntents } from './jobs.js';
import { holdingLock, readLocks } from './locks.js';
import { appendOutlist } from './outlist.js';
import { intentsAtDepth, planBatch, type PlanOptions, type RunPlan, type Skip } from './plan.js';
import { ids, type FileType, type RunNumber, type SubmissionMode } from './types.js';

/** Where a reprocess takes its runs from: a list (`one-shot`, `runlist`) or a range (`range`, `after`). */
export type RunSource =
  { kind: 'list'; runs: RunNumber[] } | { kind: 'range'; first: RunNumber; last?: RunNumber };

export interface ReprocessRequest extends PassOptions {
  mode: Extract<SubmissionMode, 'range' | 'after' | 'one-shot' | 'runlist'>;
  source: RunSource;
  ignoreCalibrationLocks: boolean;
  dryRun: boolean;
  outlist?: string;
  /** The command line as given, kept in the submission journal. */
  args: Record<string, unknown>;
}

export interface SubmissionResult {
  submission: string | null;
  mode: SubmissionMode;
  ratv: string;
  filetype: FileType;
  ratdb_tag: string | null;
  dry_run: boolean;
  created: CreatedPass[];
  skipped: Skip[];
  /** Runs left for later: not complete yet in a range, or held by a watcher. */
  pending: { run: RunNumber; reason: string }[];
  interrupted: boolean;
}

/** 0 when everything asked for was done, 1 when some runs or modules were skipped or failed. */
export function exitCodeOf(result: SubmissionResult): 0 | 1 {
  return result.skipped.length > 0 || result.interrupted ? 1 : 0;
}

/** The submission journal document (DESIGN.md 1.3), with the request needed to resume it. */
export interface SubmissionDocument extends StoredDocument {
  type: 'submission';
  mode: SubmissionMode;
  ratv: string;
  filetype: FileType;
  runs: RunNumber[];
  done: RunNumber[];
  args: Record<string, unknown>;
  request: Omit<ReprocessRequest, 'args' | 'outlist'> & { outlist?: string };
  started: string;
  finished: string | null;
  /** Set (with `finished`) on a watcher's journal whose batch was never written: why. */
  abandoned?: string;
  created_by: string;
}

/** Creates a new pass for every run the request names (DESIGN.md 3, reprocess modes). */
export async function reprocess(
  context: EngineContext,
  request: ReprocessRequest,
): Promise<SubmissionResult> {
  const asOf = await tagTime(context.ratdb, request.ratdbTag);
  const submission = newSubmissionId(context.now());
  const journal: SubmissionDocument = {
    _id: ids.submission(submission),
    type: 'submission',
    mode: request.mode,
    ratv: request.ratv,
    filetype: request.filetype,
    runs: request.source.kind === 'list' ? [...request.source.runs] : [],
    done: [],
    args: request.args,
    request: { ...request, args: undefined } as SubmissionDocument['request'],
    started: context.now().toISOString(),
    finished: null,
    created_by: context.user,
  };
  await dataflowReader(context, request.filetype).check();
  if (request.dryRun) return run(context, request, journal, asOf);
  // The journal is written before the first pass (in run), not before a run is known: a request
  // with no run to take writes nothing.
  return resumable(journal, run(context, request, journal, asOf));
}

/** A reprocess stopped by an error (a database away past the retries) after its journal was written. */
export class StoppedSubmission extends OprocError {
  constructor(
    readonly submission: string,
    cause: unknown,
  ) {
    super(
      `${cause instanceof Error ? cause.message : String(cause)}; submission ${submission} stopped before the end`,
      ExitCode.Partial,
    );
    this.name = 'StoppedSubmission';
  }
}

/** Names the submission in an error that stops it once its journal is written, so the command can say how to resume it. */
async function resumable<T>(journal: SubmissionDocument, work: Promise<T>): Promise<T> {
  try {
    return await work;
  } catch (error) {
    if (error instanceof OprocError || journal._rev === undefined) throw error;
    throw new StoppedSubmission(journal._id.replace(/^submission_/, ''), error);
  }
}

/** Finishes an interrupted reprocess: the same submission id, so passes already written are not written again. */
export async function resume(context: EngineContext, submission: string): Promise<SubmissionResult> {
  const id = submission.startsWith('submission_') ? submission : ids.submission(submission);
  const doc = (await readResolved(context.processing, [id])).get(id) as SubmissionDocument | undefined;
  if (!doc || doc.type !== 'submission')
    throw usageError(`no submission ${submission} in the processing database`);
  if (!doc.request || !['range', 'after', 'one-shot', 'runlist'].includes(doc.mode)) {
    throw usageError(
      `submission ${submission} is a ${doc.mode} submission; a watcher resumes its own when restarted`,
    );
  }
  const request: ReprocessRequest = { ...doc.request, args: doc.args, dryRun: false };
  if (doc.finished) {
    context.reporter.note(`submission ${submission} finished at ${doc.finished}: nothing to resume`);
    return emptyResult(request, id.replace(/^submission_/, ''));
  }
  const asOf = await tagTime(context.ratdb, request.ratdbTag);
  return resumable(doc, run(context, request, doc, asOf));
}

/** The timestamp RATDB reads are limited to, from `--ratdb-tag`; an unknown tag is a usage error. */
export async function tagTime(ratdb: Ratdb, tag: string | null): Promise<Date | undefined> {
  if (tag === null) return undefined;
  const found = await ratdb.tag(tag);
  if (found) return found.timestamp;
  const known = (await ratdb.listTags()).map((t) => t.name);
  throw usageError(
    `unknown RATDB tag "${tag}" (known tags: ${known.join(', ') || 'none'})`,
    'create one with: oproc ratdb tag CONFIG NAME',
  );
}

function emptyResult(request: ReprocessRequest, submission: string | null): SubmissionResult {
  return {
    submission,
    mode: request.mode,
    ratv: request.ratv,
    filetype: request.filetype,
    ratdb_tag: request.ratdbTag,
    dry_run: request.dryRun,
    created: [],
    skipped: [],
    pending: [],
    interrupted: false,
  };
}

/** How much a reprocess's heap may grow between batches before its garbage is collected. */
const collectAfterGrowth = 48 * 2 ** 20;

/** Each batch read and planned (the next one already on its way), written, then noted in the journal. */
async function run(
  context: EngineContext,
  request: ReprocessRequest,
  journal: SubmissionDocument,
  asOf: Date | undefined,
): Promise<SubmissionResult> {
  const submission = journal._id.replace(/^submission_/, '');
  const result = emptyResult(request, request.dryRun ? null : submission);
  const options = { ...request, submission, createdBy: context.user, asOf };
  let journalled = performance.now();
  const collector = garbageCollector(collectAfterGrowth);
  /** Some run of a range is known to the data-flow database (complete or not). */
  let known = false;

  for await (const batch of readAhead(preparedBatches(context, request, journal, options))) {
    known ||= batch.runs.length > 0 || batch.pending.length > 0 || batch.skips.length > 0;
    for (const skip of batch.skips) {
      result.skipped.push(skip);
      context.reporter.run({ run: skip.run, runTypeNames: [], created: [], skips: [skip] });
    }
    result.pending.push(...batch.pending);
    if (batch.runs.length === 0) continue;
    if (!request.dryRun && journal._rev === undefined) await writeJournal(context, journal);
    const outcomes = await writePlans(context, batch.plans, batch.known, request);
    collect(result, outcomes);
    const stopping = context.signal?.aborted === true;
    if (!request.dryRun) {
      journal.done.push(...batch.runs);
      if (request.source.kind === 'range') journal.runs.push(...batch.runs);
      if (stopping || performance.now() - journalled >= journalInterval(journal.done.length)) {
        await writeJournal(context, journal);
        journalled = performance.now();
      }
    }
    collector.betweenBatches();
    if (stopping) {
      result.interrupted = true;
      return result;
    }
  }
  if (request.source.kind === 'range' && !known)
    throw nothingKnown(request.source, await latestKnown(context));
  // In run order (stable: a run's modules keep theirs): a list's unknown runs were found before the planned ones.
  result.skipped.sort((a, b) => a.run - b.run);
  if (journal._rev === undefined) {
    // Nothing was written: no journal, and no submission to name.
    result.submission = null;
    return result;
  }
  journal.finished = context.now().toISOString();
  await writeJournal(context, journal);
  return result;
}

type BatchItem = { data: RunData } | { skip: Skip } | { pending: { run: RunNumber; reason: string } };

/** The runs of a request in batches, in run order, each marked complete, incomplete or unknown. */
async function* batches(
  context: EngineContext,
  request: ReprocessRequest,
  latest: RunNumber | undefined,
): AsyncGenerator<BatchItem[]> {
  const size = context.batchSize ?? 500;
  const reader = dataflowReader(context, request.filetype);
  const source = request.source;
  if (source.kind === 'list') {
    const sorted = [...new Set(source.runs)].sort((a, b) => a - b);
    for (let i = 0; i < sorted.length; i += size) {
      const chunk = sorted.slice(i, i + size);
      const found = await reader.runsOf(chunk);
      yield chunk.map((run): BatchItem => {
        const data = found.get(run);
        if (!data) return { skip: { run, kind: 'no-data', reason: 'no data-flow documents for the run' } };
        if (!DataflowReader.isComplete(data, latest)) {
          return {
            skip: { run, kind: 'incomplete', reason: 'run not complete yet (no later run and no run_end)' },
          };
        }
        return { data };
      });
    }
    return;
  }
  let chunk: BatchItem[] = [];
  for await (const data of reader.runs(source.first, source.last)) {
    chunk.push(
      DataflowReader.isComplete(data, latest)
        ? { data }
        : { pending: { run: data.run, reason: 'not complete yet: left for the watcher' } },
    );
    if (chunk.length >= size) {
      yield chunk;
      chunk = [];
    }
  }
  if (chunk.length) yield chunk;
}

/** The data-flow reader of a filetype; a document it cannot read is skipped with a warning. */
export function dataflowReader(context: EngineContext, filetype: FileType): DataflowReader {
  return new DataflowReader(context.dataflow, filetype, 2000, (w) =>
    context.reporter.warn(`data-flow document ${w.id} skipped: ${w.problem}`),
  );
}

/** The highest run the data-flow database knows, of any filetype. */
async function latestKnown(context: EngineContext): Promise<RunNumber | undefined> {
  return new DataflowReader(context.dataflow, 'L1').latestRun();
}

/** A range or `after` with no run the data-flow database knows: exit 1, nothing written. */
function nothingKnown(
  source: Extract<RunSource, { kind: 'range' }>,
  latest: RunNumber | undefined,
): OprocError {
  const span =
    source.last === undefined ? `from ${source.first} on` : `from ${source.first} to ${source.last}`;
  const hint = latest === undefined ? 'it knows no run at all' : `its latest run is ${latest}`;
  return new OprocError(
    `no run ${span} is known to the data-flow database (${hint}); nothing was written`,
    ExitCode.Partial,
  );
}

/** A batch read and planned, ready to write; runs it gives no pass to are in `skips` or `pending`. */
interface PreparedBatch {
  skips: Skip[];
  pending: { run: RunNumber; reason: string }[];
  /** The runs planned, for the journal. */
  runs: RunNumber[];
  plans: RunPlan[];
  known: Map<string, StoredDocument>;
}

/** The request's batches, read from the data-flow database and RATDB and planned, in run order. */
async function* preparedBatches(
  context: EngineContext,
  request: ReprocessRequest,
  journal: SubmissionDocument,
  options: PlanOptions,
): AsyncGenerator<PreparedBatch> {
  const lock = request.ignoreCalibrationLocks ? undefined : holdingLock(await readLocks(context.processing));
  const done = new Set(journal.done);
  const latest = await dataflowReader(context, request.filetype).latestRun();
  // The data-flow read of the batch after next runs while this one is planned from RATDB.
  for await (const items of readAhead(batches(context, request, latest))) {
    const batch: PreparedBatch = { skips: [], pending: [], runs: [], plans: [], known: new Map() };
    const runs: RunData[] = [];
    for (const item of items) {
      if ('skip' in item) batch.skips.push(item.skip);
      else if ('pending' in item) batch.pending.push(item.pending);
      else if (done.has(item.data.run)) continue;
      else if (lock && item.data.run > lock.run) {
        batch.skips.push({
          run: item.data.run,
          kind: 'locked',
          reason: `after the ${lock.calibration} calibration lock set at run ${lock.run} (release it, or --ignore-calibration-locks)`,
        });
      } else runs.push(item.data);
    }
    if (runs.length) {
      Object.assign(batch, await planBatch(runs, options, context));
      batch.runs = runs.map((r) => r.run);
    }
    yield batch;
  }
}

/** Writes the planned passes of a batch and reports each run's outcome. */
export async function writePlans(
  context: EngineContext,
  plans: readonly RunPlan[],
  known: Map<string, StoredDocument>,
  options: { dryRun: boolean; outlist?: string },
): Promise<RunOutcome[]> {
  const work = writeBatch(context, plans, known, options);
  await context.reporter.batch?.(
    plans.map((p) => p.run),
    work,
  );
  const outcomes = await work;
  for (const outcome of outcomes) context.reporter.run(outcome);
  return outcomes;
}

/**
 * Modules without prerequisites in this submission first, then those that link to them, so a
 * linked pass number is always one that was written.
 */
async function writeBatch(
  context: EngineContext,
  plans: readonly RunPlan[],
  known: Map<string, StoredDocument>,
  options: { dryRun: boolean; outlist?: string },
): Promise<RunOutcome[]> {
  const created = new Map<string, number>();
  const outcomes = new Map<RunNumber, RunOutcome>(
    plans.map((p) => [p.run, { run: p.run, runTypeNames: p.runTypeNames, created: [], skips: [...p.skips] }]),
  );
  const depth = Math.max(-1, ...plans.flatMap((p) => p.modules.map((m) => m.depth)));
  const subjobs = new Map(
    plans.flatMap((p) => p.modules.map((m) => [`${p.run} ${m.module}`, m.body.subjobs.length])),
  );
  for (let d = 0; d <= depth; d++) {
    const { intents, unresolved } = intentsAtDepth(plans, d, (run, module) =>
      created.get(`${run} ${module}`),
    );
    for (const skip of unresolved) outcomes.get(skip.run)!.skips.push(skip);
    const { written, failed } = await writeIntents(context.processing, intents, known, {
      dryRun: options.dryRun,
    });
    for (const w of written) {
      created.set(`${w.run} ${w.module}`, w.pass);
      outcomes
        .get(w.run)!
        .created.push({ module: w.module, pass: w.pass, subjobs: subjobs.get(`${w.run} ${w.module}`) ?? 0 });
    }
    for (const f of failed)
      outcomes.get(f.run)!.skips.push({ run: f.run, module: f.module, kind: 'write', reason: f.reason });
  }
  const result = [...outcomes.values()];
  if (options.outlist && !options.dryRun) {
    await appendOutlist(
      options.outlist,
      result.flatMap((o) => o.created.map((c) => ({ module: c.module, run: o.run, pass: c.pass }))),
    );
  }
  return result;
}

/** Adds a batch's outcomes to the result. */
function collect(result: SubmissionResult, outcomes: readonly RunOutcome[]): void {
  for (const o of outcomes) {
    result.created.push(...o.created.map((c) => ({ run: o.run, module: c.module, pass: c.pass })));
    result.skipped.push(...o.skips);
  }
}

/** A new submission id: `sub_2026-11-24T10-00-00Z_ab12`. */
export function newSubmissionId(now: Date): string {
  const stamp = now
    .toISOString()
    .replace(/\.\d+Z$/, 'Z')
    .replace(/:/g, '-');
  return `sub_${stamp}_${randomBytes(2).toString('hex')}`;
}

async function writeJournal(context: EngineContext, journal: SubmissionDocument): Promise<void> {
  const [result] = await context.processing.bulkWrite([journal]);
  if (!result?.ok) throw new Error(`writing the submission journal ${journal._id} failed: ${result?.error}`);
  journal._rev = result.rev;
  // Re-checked with conflicts=true (DESIGN.md 4, Clusters): a conflict is merged now, and the next
  // rewrite goes on from the merged revision.
  const now = (await readResolved(context.processing, [journal._id])).get(journal._id);
  if (now?._rev) journal._rev = now._rev;
}

/**
 * How often the journal's `done` list is brought up to date while a reprocess runs (and always when
 * it stops or ends): every 5 s, and less often as the journal grows, 0.1 ms per run in it (20 s at
 * 200,000 runs). Each rewrite sends the whole journal, so a fixed interval made its cost grow with
 * the square of the runs; this keeps the number of rewrites about constant on a long reprocess. A
 * resume re-reads the runs done since the last rewrite, finds their passes already there (each pass
 * names its submission) and writes nothing for them.
 */
function journalInterval(runsInJournal: number): number {
  return Math.max(5000, runsInJournal * 0.1);
}
