/**
 * `oproc why`: everything that decides whether a run gets passes, in the order a watcher decides it,
 * and what the next watch cycle would do with it. Every rule is the engine's own function
 * (completeness, selection, the table check, prerequisites, locks, where a watcher stops), called as
 * the watcher calls it; nothing is written.
 */
import { DataflowReader, type RunData } from '../engine/dataflow.js';
import { jobProblem } from '../engine/jobs.js';
import { holdingLock, holdsRun, lockReason, readLocks } from '../engine/locks.js';
import { planBatch, type PlanOptions, type RunPlan, type Skip } from '../engine/plan.js';
import { tagTime } from '../engine/reprocess.js';
import {
  calibrations,
  fileTypes,
  ids,
  type Calibration,
  type CalibrationLock,
  type FileType,
  type JobDocument,
  type RunNumber,
} from '../engine/types.js';
import { cutPlans, stateId } from '../engine/watch.js';
import { readWatchers, type InsightContext, type WatcherView } from './insight.js';

export interface WhyRequest {
  ratv: string;
  filetype: FileType;
  run: RunNumber;
  ratdbTag?: string | null;
}

/** What the next watch cycle would do with the run. */
export type VerdictKind = 'handled' | 'not-in-dataflow' | 'held' | 'waits' | 'would-skip' | 'would-create';

export interface LockStatus {
  calibration: Calibration;
  run: RunNumber;
  locked: boolean;
  validto: RunNumber | null;
  set_at: string | null;
  /** The lock holds this run (set, no validto, at an earlier run). */
  holds: boolean;
}

export interface PassSummary {
  module: string;
  pass: number;
  ratv: string;
  filetype: string;
  status: string;
  subjobs: number;
  subjobs_completed: number;
  ratdb_tag: string | null;
  submission: string;
  created: string;
}

export interface WhyReport {
  ratv: string;
  filetype: FileType;
  run: RunNumber;
  ratdb_tag: string | null;
  dataflow: {
    /** Any data-flow document names the run. */
    known: boolean;
    /** Subruns with a file, per filetype. */
    files: Record<FileType, number[]>;
    ended: boolean;
    latest_run: RunNumber | null;
    complete: boolean;
    complete_reason: string;
  };
  run_type: { word: number | null; names: string[] };
  modules: { selected: string[] };
  tables: { module: string; required: string[]; present: string[]; missing: string[] }[];
  prerequisites: {
    module: string;
    links: { module: string; pass: number | null; how: string }[];
    problem: string | null;
  }[];
  locks: LockStatus[];
  watchers: WatcherView[];
  passes: PassSummary[];
  plan: { create: string[]; skips: Skip[]; sets_locks: Calibration[] };
  verdict_kind: VerdictKind;
  verdict: string;
}

/** How many not yet handled runs before the asked one are planned to see whether one stops the watcher there. */
const aheadLimit = 500;

/** One run, as `oproc why --json` prints it. */
export async function explainRun(context: InsightContext, request: WhyRequest): Promise<WhyReport> {
  const [report] = await explainRuns(context, { ...request, runs: [request.run] });
  return report!;
}

/**
 * Several runs of one RAT version and filetype with shared reads (the status page's backlog): one
 * plan of the runs asked and of those before them a watcher would take first.
 */
export async function explainRuns(
  context: InsightContext,
  request: Omit<WhyRequest, 'run'> & { runs: readonly RunNumber[] },
): Promise<WhyReport[]> {
  const { ratv, filetype } = request;
  const tag = request.ratdbTag ?? null;
  const { info, selector } = context.processingFor(ratv);
  const asOf = await tagTime(context.ratdb, tag);
  const readers = Object.fromEntries(
    fileTypes.map((f) => [f, new DataflowReader(context.dataflow, f)]),
  ) as Record<FileType, DataflowReader>;
  const reader = readers[filetype];
  const runs = [...new Set(request.runs)].sort((a, b) => a - b);

  const [latest, locks, watchers, ...found] = await Promise.all([
    reader.latestRun(),
    readLocks(context.processing),
    readWatchers(context, ratv, filetype),
    ...fileTypes.map((f) => readers[f].runsOf(runs)),
  ]);
  const lock = holdingLock(locks);
  const watcher = watchers.find((w) => w.state === stateId({ mode: 'watch', ratv, filetype, after: 0 }));
  const lastRun = watcher?.last_run ?? null;

  const data = new Map<FileType, Map<RunNumber, RunData>>(fileTypes.map((f, i) => [f, found[i]!]));

  // The runs a watcher would take before the asked ones: from its last run, up to a holding lock.
  const ahead: RunData[] = [];
  let aheadTruncated = false;
  const highest = runs[runs.length - 1]!;
  if (lastRun !== null && highest > lastRun + 1) {
    const until = Math.min(highest - 1, lock?.run ?? Number.MAX_SAFE_INTEGER);
    for await (const d of until > lastRun ? reader.runs(lastRun + 1, until) : []) {
      if (runs.includes(d.run)) continue;
      if (!DataflowReader.isComplete(d, latest)) break;
      if (ahead.length >= aheadLimit) {
        aheadTruncated = true;
        break;
      }
      ahead.push(d);
    }
  }

  const own = runs.map((run) => data.get(filetype)!.get(run) ?? { run, subruns: [], ended: false });
  const options: PlanOptions = {
    ratv,
    filetype,
    ratdbTag: tag,
    asOf,
    skipRatdbCheck: false,
    findPrereq: false,
    forcePrereqPass: {},
    submission: 'why',
    mode: 'watch',
    createdBy: context.user,
  };
  const toPlan = [...ahead, ...own].sort((a, b) => a.run - b.run);
  const { plans } = await planBatch(toPlan, options, {
    info,
    selector,
    ratdb: context.ratdb,
    processing: context.processing,
    now: context.now,
  });
  const planOf = new Map(plans.map((p) => [p.run, p]));

  // Where the watcher would stop among the runs before each asked run (the engine's own cut).
  const stopBefore = new Map<RunNumber, string>();
  let stop: string | undefined;
  for (const plan of plans) {
    if (runs.includes(plan.run)) {
      if (stop) stopBefore.set(plan.run, stop);
      if (!data.get(filetype)!.has(plan.run)) continue;
    }
    if (stop || lastRun === null || plan.run <= lastRun) continue;
    const { held, locks: setting } = cutPlans([plan], false, locks);
    if (setting.length)
      stop = `behind run ${plan.run}, a ${setting.map((l) => l.calibration).join(' and ')} calibration run whose lock will hold later runs`;
    else if (held) stop = `behind run ${plan.run}, held: ${held.reason}`;
  }

  const passes = await passesOf(context, runs);
  return runs.map((run, i) => {
    const plan = planOf.get(run)!;
    const found = data.get(filetype)!.get(run);
    const known = fileTypes.some((f) => data.get(f)!.has(run));
    const completeness = DataflowReader.completeness(found ?? { run, subruns: [], ended: false }, latest);
    const files = Object.fromEntries(
      fileTypes.map((f) => [f, data.get(f)!.get(run)?.subruns ?? []]),
    ) as Record<FileType, number[]>;
    const lockStatuses = calibrations.filter((c) => locks.has(c)).map((c) => lockStatus(locks.get(c)!, run));
    const { kind, verdict } = decide({
      run,
      state: watcher?.state ?? stateId({ mode: 'watch', ratv, filetype, after: 0 }),
      lastRun,
      known,
      complete: completeness.complete,
      lock,
      locks,
      plan,
      passesHere: passes[i]!.filter((p) => p.ratv === ratv && p.filetype === filetype).length,
      stopBefore: stopBefore.get(run),
      aheadNote:
        aheadTruncated && run > (ahead.at(-1)?.run ?? 0)
          ? ` (more than ${aheadLimit} runs before it not yet handled)`
          : '',
    });
    return {
      ratv,
      filetype,
      run,
      ratdb_tag: tag,
      dataflow: {
        known,
        files,
        ended: fileTypes.some((f) => data.get(f)!.get(run)?.ended === true),
        latest_run: latest ?? null,
        complete: completeness.complete,
        complete_reason: known ? completeness.reason : 'no data-flow document names the run',
      },
      run_type: { word: plan.runtype ?? null, names: plan.runTypeNames },
      modules: { selected: plan.selected },
      tables: plan.tables.map((t) => ({
        module: t.module,
        required: t.required,
        present: t.required.filter((name) => !t.missing.includes(name)),
        missing: t.missing,
      })),
      prerequisites: prerequisitesOf(plan, info.processing_modules),
      locks: lockStatuses,
      watchers,
      passes: passes[i]!,
      plan: {
        create: plan.modules.map((m) => m.module),
        skips: plan.skips,
        sets_locks: cutPlans([plan], false, locks).locks.map((l) => l.calibration),
      },
      verdict_kind: kind,
      verdict,
    };
  });
}

function lockStatus(lock: CalibrationLock, run: RunNumber): LockStatus {
  return {
    calibration: lock.calibration,
    run: lock.run,
    locked: lock.locked === true,
    validto: lock.validto ?? null,
    set_at: lock.set_at ?? null,
    holds: holdsRun(lock, run),
  };
}

function prerequisitesOf(
  plan: RunPlan,
  modules: Record<string, { prerequisites: string[] }>,
): WhyReport['prerequisites'] {
  return plan.selected.map((module) => {
    const planned = plan.modules.find((m) => m.module === module);
    const skip = plan.skips.find((s) => s.module === module && s.kind === 'prerequisite');
    const links = planned
      ? planned.prerequisites.map((p) => ({
          module: p.module,
          pass: p.pass ?? null,
          how: p.pass === undefined ? 'its pass created in the same submission' : `pass ${p.pass}`,
        }))
      : (modules[module]?.prerequisites ?? []).map((p) => ({ module: p, pass: null, how: 'not linked' }));
    return { module, links, problem: skip?.reason ?? null };
  });
}

/** The passes of each run, from its job documents: one `_all_docs` range for runs of one width close together. */
async function passesOf(context: InsightContext, runs: readonly RunNumber[]): Promise<PassSummary[][]> {
  const first = runs[0]!;
  const last = runs[runs.length - 1]!;
  const ranges: [RunNumber, RunNumber][] =
    last - first < 100 && String(first).length === String(last).length
      ? [[first, last]]
      : runs.map((run) => [run, run]);
  const docs = (
    await Promise.all(
      ranges.map(([a, b]) =>
        context.processing.allDocs({ startkey: ids.job(a, ''), endkey: `${ids.job(b, '')}\ufff0` }),
      ),
    )
  ).flat();
  const byRun = new Map<RunNumber, PassSummary[]>(runs.map((run) => [run, []]));
  for (const doc of docs) {
    const passes = typeof doc.run === 'number' && !jobProblem(doc) ? byRun.get(doc.run) : undefined;
    if (!passes) continue;
    const job = doc as JobDocument;
    for (const p of job.passes) {
      const subjobs = Array.isArray(p.subjobs) ? p.subjobs : [];
      passes.push({
        module: job.module,
        pass: p.pass,
        ratv: String(p.ratv),
        filetype: String(p.filetype),
        status: String(p.status),
        subjobs: subjobs.length,
        subjobs_completed: subjobs.filter((s) => s.status === 'completed').length,
        ratdb_tag: typeof p.ratdb_tag === 'string' ? p.ratdb_tag : null,
        submission: String(p.submission),
        created: String(p.created),
      });
    }
  }
  return runs.map((run) =>
    byRun.get(run)!.sort((a, b) => a.module.localeCompare(b.module) || a.pass - b.pass),
  );
}

/** The verdict, in the order a watch cycle decides: its state, the locks, completeness, the runs before, the plan. */
function decide(input: {
  run: RunNumber;
  state: string;
  lastRun: RunNumber | null;
  known: boolean;
  complete: boolean;
  lock: CalibrationLock | undefined;
  locks: ReadonlyMap<Calibration, CalibrationLock>;
  plan: RunPlan;
  /** Passes of the run with this RAT version and filetype. */
  passesHere: number;
  stopBefore: string | undefined;
  aheadNote: string;
}): { kind: VerdictKind; verdict: string } {
  const { run, plan } = input;
  if (input.lastRun !== null && input.lastRun >= run) {
    const handled = `already handled: ${input.state} is past run ${run} (last_run ${input.lastRun})`;
    if (input.passesHere > 0) return { kind: 'handled', verdict: handled };
    // Passed over without a pass: say why, as the plan says it today.
    const skipped = plan.skips.map((s) => (s.module ? `${s.module}: ${s.reason}` : s.reason));
    const create = plan.modules.map((m) => m.module);
    const cause = !input.known
      ? `no data-flow document names run ${run}`
      : skipped.join('; ') || (create.length ? '' : 'no module selected');
    const now = create.length
      ? `${cause ? `${cause}; ` : ''}now it would create ${create.join(', ')} (a watcher does not go back: reprocess it)`
      : cause;
    return { kind: 'handled', verdict: `${handled}, without a pass: ${now}` };
  }
  if (!input.known)
    return {
      kind: 'not-in-dataflow',
      verdict: `not in data-flow: no data-flow document names run ${run}, so no watcher takes it`,
    };
  if (input.lock && holdsRun(input.lock, run))
    return { kind: 'held', verdict: `held: ${lockReason(input.lock.calibration, input.lock.run)}` };
  if (!input.complete)
    return { kind: 'waits', verdict: `waits: run ${run} is not complete (no later run, no run_end)` };
  if (input.stopBefore) return { kind: 'waits', verdict: `waits: ${input.stopBefore}` };
  const { held, locks } = cutPlans([plan], false, input.locks);
  if (held && locks.length === 0) {
    const lacking = plan.tables.filter((t) => t.missing.length);
    const why = plan.skips.some((s) => s.kind === 'ratdb')
      ? lacking.map((t) => `${t.module} needs RATDB table(s) ${t.missing.join(', ')}`).join('; ')
      : held.reason;
    return { kind: 'held', verdict: `held: ${why}${input.aheadNote}` };
  }
  const create = plan.modules.map((m) => m.module);
  const skipped = plan.skips.map((s) => (s.module ? `${s.module}: ${s.reason}` : s.reason));
  if (create.length === 0)
    return {
      kind: 'would-skip',
      verdict: `would skip: ${skipped.join('; ') || 'no module selected'}${input.aheadNote}`,
    };
  const parts = [`would create: ${create.join(', ')}`];
  if (skipped.length) parts.push(`would skip ${skipped.join('; ')}`);
  if (locks.length)
    parts.push(
      `then sets the ${locks.map((l) => l.calibration).join(' and ')} calibration lock at run ${run}`,
    );
  return { kind: 'would-create', verdict: `${parts.join('; ')}${input.aheadNote}` };
}
