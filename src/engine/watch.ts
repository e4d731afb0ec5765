import type { StoredDocument } from '../backends/types.js';
import { readResolved, sweepConflicts, type SweepResult } from './conflicts.js';
import { plural } from '../util/plural.js';
import { OprocError } from '../errors.js';
import type { CreatedPass, EngineContext, PassOptions } from './context.js';
import { DataflowReader, type RunData } from './dataflow.js';
import { unfenced } from './lease.js';
import { calibrationsOf, holdingLock, holdsRun, lockReason, movesLock, readLocks, setLock } from './locks.js';
import { planBatch, type RunPlan, type Skip } from './plan.js';
import {
  dataflowReader,
  newSubmissionId,
  tagTime,
  writePlans,
  type SubmissionDocument,
} from './reprocess.js';
import { ids, type Calibration, type CalibrationLock, type FileType, type RunNumber } from './types.js';

export interface WatchRequest extends PassOptions {
  mode: 'watch' | 'block';
  /** Only runs after this one are considered (`--start-run`; for a block, START - 1). */
  after: RunNumber;
  /** A block does not advance past its END. */
  last?: RunNumber;
  ignoreCalibrationLocks: boolean;
  dryRun: boolean;
  outlist?: string;
  args: Record<string, unknown>;
}

/** Where a watcher resumes (DESIGN.md 1.3): the last run handled and the submission in flight. */
export interface WatchState extends StoredDocument {
  type: 'watch_state';
  ratv: string;
  filetype: FileType;
  last_run: RunNumber | null;
  in_flight: string | null;
  block?: [RunNumber, RunNumber];
  updated: string;
}

export interface CycleResult {
  /** Submissions written in this cycle (none when nothing was new). */
  submissions: string[];
  created: CreatedPass[];
  /** Runs handled without a pass for some module (listed with why); the watcher moved past them. */
  skipped: Skip[];
  /** Why the cycle stopped before the newest complete run, if it did (a lock, a missing table). */
  held: { run: RunNumber; reason: string } | null;
  locks_set: { calibration: Calibration; run: RunNumber }[];
  last_run: RunNumber | null;
  /** A block whose runs are all handled: its loop ends. */
  block_done: boolean;
  /**
   * The sweep of conflicted documents this cycle began with (DESIGN.md 4, Clusters); undefined on a
   * dry run. `unavailable` says why it could not run (a database without the conflicts view).
   */
  swept?: SweepResult & { unavailable?: string };
}

/** The state document of a watcher, or of a block (which keeps its own so it can run beside one). */
export function stateId(
  request: Pick<WatchRequest, 'mode' | 'ratv' | 'filetype' | 'after' | 'last'>,
): string {
  const base = ids.watchState(request.ratv, request.filetype);
  return request.mode === 'block' ? `${base}_block_${request.after + 1}_${request.last}` : base;
}

/** Kinds of skip that stop a watcher at a run until a later cycle (DESIGN.md 3: retried, not advanced past). */
const holdKinds = new Set<Skip['kind']>(['ratdb', 'no-run-type']);

/**
 * One cycle of `watch` or `block`: resumes a submission left in flight, then takes the complete
 * runs after the state's last run, in run order, until a calibration run sets a lock, a run waits
 * for RATDB tables, or no complete run is left.
 */
export async function watchCycle(context: EngineContext, request: WatchRequest): Promise<CycleResult> {
  const asOf = await tagTime(context.ratdb, request.ratdbTag);
  const result: CycleResult = {
    submissions: [],
    created: [],
    skipped: [],
    held: null,
    locks_set: [],
    last_run: null,
    block_done: false,
  };
  if (!request.dryRun) result.swept = await sweep(context);
  const id = stateId(request);
  let state = (await readResolved(context.processing, [id], request)).get(id) as WatchState | undefined;
  state ??= {
    _id: id,
    type: 'watch_state',
    ratv: request.ratv,
    filetype: request.filetype,
    last_run: null,
    in_flight: null,
    ...(request.mode === 'block' ? { block: [request.after + 1, request.last!] as [number, number] } : {}),
    updated: context.now().toISOString(),
  };
  const cycle = new Cycle(context, request, state, result, asOf);
  await cycle.readLocks();
  if (state.in_flight && !request.dryRun) await cycle.resumeInFlight(state.in_flight);
  await cycle.advance();
  result.last_run = state.last_run;
  return result;
}

/**
 * Merges the processing database's conflicted documents, through the watcher's fenced store (only
 * the lease holder writes). A database whose design document predates the conflicts view (not yet
 * `oproc init`ed after an upgrade, or its staged views still building) is said, not fatal.
 */
async function sweep(context: EngineContext): Promise<NonNullable<CycleResult['swept']>> {
  try {
    return await sweepConflicts(context.processing, { now: context.now });
  } catch (error) {
    if (!(error instanceof OprocError) || !/has no view/.test(error.message)) throw error;
    return { found: 0, merged: 0, deleted: 0, renumbered: [], unavailable: error.message };
  }
}

class Cycle {
  private readonly reader: DataflowReader;
  /** The lock documents as the cycle began (released ones too): a calibration run at or before one sets nothing. */
  private locks = new Map<Calibration, CalibrationLock>();

  constructor(
    private readonly context: EngineContext,
    private readonly request: WatchRequest,
    private readonly state: WatchState,
    private readonly result: CycleResult,
    private readonly asOf: Date | undefined,
  ) {
    this.reader = dataflowReader(context, request.filetype);
  }

  private get cursor(): RunNumber {
    return Math.max(this.request.after, this.state.last_run ?? this.request.after);
  }

  /** A killed watcher's last submission: the same id again, so nothing is created twice. */
  async resumeInFlight(submission: string): Promise<void> {
    const id = ids.submission(submission);
    const doc = (await readResolved(this.context.processing, [id], this.request)).get(id) as
      SubmissionDocument | undefined;
    const done = new Set(doc?.done ?? []);
    const runs = (doc?.runs ?? []).filter((r) => !done.has(r));
    this.context.reporter.note(
      `resuming submission ${submission} left in flight (${plural(runs.length, 'run')})`,
    );
    const found = await this.reader.runsOf(runs);
    const data = runs.map((r) => found.get(r)).filter((d): d is RunData => d !== undefined);
    if (data.length) await this.process(data, submission, doc);
    else await this.finish(submission, doc, runs.length ? Math.max(...runs) : null);
  }

  async readLocks(): Promise<void> {
    if (!this.request.ignoreCalibrationLocks) this.locks = await readLocks(this.context.processing);
  }

  async advance(): Promise<void> {
    // Read again: a resumed submission may have set one.
    await this.readLocks();
    const lock = holdingLock(this.locks);
    if (lock && holdsRun(lock, this.cursor + 1)) {
      this.result.held = { run: lock.run, reason: lockReason(lock.calibration, lock.run) };
      return;
    }
    const limit = Math.min(
      this.request.last ?? Number.MAX_SAFE_INTEGER,
      lock?.run ?? Number.MAX_SAFE_INTEGER,
    );
    const latest = await this.reader.latestRun();
    const size = this.context.batchSize ?? 500;
    let batch: RunData[] = [];
    let reachedIncomplete = false;
    for await (const data of this.reader.runs(this.cursor + 1, limit)) {
      if (!DataflowReader.isComplete(data, latest)) {
        reachedIncomplete = true;
        break;
      }
      batch.push(data);
      if (batch.length >= size) {
        if (!(await this.process(batch))) return;
        batch = [];
      }
    }
    if (batch.length && !(await this.process(batch))) return;
    if (lock && this.result.held === null && limit === lock.run && this.cursor >= lock.run) {
      this.result.held = { run: lock.run, reason: lockReason(lock.calibration, lock.run) };
    }
    const blockEnd = this.request.last;
    this.result.block_done =
      blockEnd !== undefined &&
      !reachedIncomplete &&
      this.result.held === null &&
      latest !== undefined &&
      latest > blockEnd;
  }

  /**
   * Plans a batch, cuts it at the first run that must wait (missing RATDB tables) and after the first
   * calibration run, journals it, writes it, sets locks. Returns false when the cycle must stop.
   */
  private async process(
    runs: RunData[],
    resumed?: string,
    resumedDoc?: SubmissionDocument,
  ): Promise<boolean> {
    const submission = resumed ?? newSubmissionId(this.context.now());
    const options = {
      ...this.request,
      submission,
      createdBy: this.context.user,
      asOf: this.asOf,
    };
    const { plans, known } = await planBatch(runs, options, this.context);
    const cut = cutPlans(plans, this.request.ignoreCalibrationLocks, this.locks);
    const { take, locks } = cut;
    let held = cut.held;
    if (held && locks.length === 0) {
      const wait = plans[take.length]!.skips.find((s) => holdKinds.has(s.kind))!;
      this.context.reporter.note(
        `run ${held.run} waits: ${wait.module ? `${wait.module}: ` : ''}${wait.reason}`,
      );
    }
    if (take.length) {
      const journal =
        resumedDoc ??
        (await this.begin(
          submission,
          take.map((p) => p.run),
        ));
      const outcomes = await writePlans(this.context, take, known, this.request);
      for (const o of outcomes) {
        this.result.created.push(...o.created.map((c) => ({ run: o.run, module: c.module, pass: c.pass })));
        this.result.skipped.push(...o.skips);
      }
      let set = 0;
      for (const lock of locks) {
        // Another watcher may have moved the lock on since the cycle began: then this run sets nothing.
        if (
          this.request.dryRun ||
          (await setLock(this.context.processing, lock.calibration, lock.run, this.context.now()))
        ) {
          this.result.locks_set.push(lock);
          set++;
        }
      }
      // None set (moved on meanwhile): this run holds nothing; the next read of the locks sees them as they are.
      if (locks.length && set === 0) held = null;
      if (held && locks.length && this.request.dryRun) {
        const which = locks.map((l) => l.calibration).join(' and ');
        held = {
          run: held.run,
          reason: `${which} calibration lock would be set at run ${held.run}: later runs would wait`,
        };
      }
      await this.finish(submission, journal, take[take.length - 1]!.run);
      if (!resumed) this.result.submissions.push(submission);
    }
    if (held) this.result.held = held;
    return held === null && locks.length === 0 && !this.context.signal?.aborted;
  }

  /** Journals the intent before any pass is written: the submission, and the state pointing at it. */
  private async begin(submission: string, runs: RunNumber[]): Promise<SubmissionDocument | undefined> {
    if (this.request.dryRun) return undefined;
    const now = this.context.now().toISOString();
    const journal: SubmissionDocument = {
      _id: ids.submission(submission),
      type: 'submission',
      mode: this.request.mode,
      ratv: this.request.ratv,
      filetype: this.request.filetype,
      runs,
      done: [],
      args: this.request.args,
      request: { ...this.request, args: undefined } as unknown as SubmissionDocument['request'],
      started: now,
      finished: null,
      created_by: this.context.user,
    };
    this.state.in_flight = submission;
    this.state.updated = now;
    try {
      // One write: the state's revision fences out a watcher that lost its lease before it writes a pass.
      await this.save([journal, this.state]);
    } catch (error) {
      // _bulk_docs is not atomic: the journal may be in although the state was refused. Mark it, so it
      // claims no runs (best effort; the error says what happened), past the fence: the refusal most
      // often means this watcher has just lost its lease.
      if (journal._rev) {
        const abandoned = {
          ...journal,
          finished: now,
          abandoned: 'the state document changed first (another watcher)',
        };
        await unfenced(this.context.processing)
          .bulkWrite([abandoned])
          .catch(() => {});
      }
      throw error;
    }
    return journal;
  }

  private async finish(
    submission: string,
    journal: SubmissionDocument | undefined,
    lastRun: RunNumber | null,
  ) {
    if (lastRun !== null) this.state.last_run = Math.max(this.state.last_run ?? lastRun, lastRun);
    if (this.request.dryRun) return;
    const now = this.context.now().toISOString();
    this.state.in_flight = null;
    this.state.updated = now;
    const docs: StoredDocument[] = [this.state];
    if (journal) docs.push({ ...journal, done: journal.runs, finished: now });
    else
      this.context.reporter.warn(`submission ${submission} has no journal document; state advanced anyway`);
    await this.save(docs);
  }

  private async save(docs: StoredDocument[]): Promise<void> {
    const results = await this.context.processing.bulkWrite(docs);
    results.forEach((r, i) => {
      if (!r.ok)
        throw new Error(
          `writing ${docs[i]!._id} failed: ${r.error} (another watcher for ${this.request.ratv} ${this.request.filetype}?)`,
        );
      docs[i]!._rev = r.rev;
    });
    // Re-checked with conflicts=true before the cycle goes on (DESIGN.md 4, Clusters): a conflict is
    // merged now, and the state goes on from the merged revision.
    const read = await readResolved(
      this.context.processing,
      docs.map((d) => d._id),
    );
    for (const doc of docs) {
      const now = read.get(doc._id);
      if (now?._rev) doc._rev = now._rev;
    }
  }
}

/**
 * Where a watcher stops in a batch of plans, in run order: before the first run that must wait (a
 * missing RATDB table, no RUN table), or after the first calibration run later than its lock
 * document's run (whose locks it then sets; one at or before it sets and holds nothing).
 * `oproc why` asks the same function what a watcher would do with a run.
 */
export function cutPlans(
  plans: readonly RunPlan[],
  ignoreCalibrationLocks: boolean,
  current: ReadonlyMap<Calibration, CalibrationLock>,
): { take: RunPlan[]; held: CycleResult['held']; locks: CycleResult['locks_set'] } {
  const take: RunPlan[] = [];
  for (const plan of plans) {
    const wait = plan.skips.find((s) => holdKinds.has(s.kind));
    if (wait) return { take, held: { run: plan.run, reason: wait.reason }, locks: [] };
    take.push(plan);
    const calibrations = ignoreCalibrationLocks
      ? []
      : calibrationsOf(plan.runTypeNames).filter((c) => movesLock(current.get(c), plan.run));
    if (calibrations.length) {
      const locks = calibrations.map((calibration) => ({ calibration, run: plan.run }));
      const held = { run: plan.run, reason: lockReason(calibrations.join(' and '), plan.run) };
      return { take, held, locks };
    }
  }
  return { take, held: null, locks: [] };
}
