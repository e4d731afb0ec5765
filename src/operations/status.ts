/**
 * `oproc status`: how processing stands, from views and a few small reads (never every job
 * document): pass counts per module and status, runs handled per day, each watcher's health and
 * backlog, the calibration locks and the last submissions.
 */
import pMap from 'p-map';
import { countConflicts } from '../engine/conflicts.js';
import { DataflowReader } from '../engine/dataflow.js';
import { OprocError } from '../errors.js';
import { processingDesign } from '../engine/design.js';
import { isHolding, readLocks } from '../engine/locks.js';
import { calibrations, type Calibration, type RunNumber } from '../engine/types.js';
import { compareVersions } from '../modules/catalog.js';
import { readWatchers, watchedRatvs, type InsightContext, type WatcherView } from './insight.js';
import { ratvsWithPasses } from './versions.js';
import { explainRuns } from './why.js';

/** Counts per module, then per status. */
export type PassCounts = Record<string, Record<string, number>>;

export interface BacklogRun {
  run: RunNumber;
  verdict: string;
}

export interface WatcherStatus extends WatcherView {
  newest_complete_run: RunNumber | null;
  /** Complete runs after `last_run` (within a block's END) that the watcher has not handled yet. */
  backlog: number;
  /** The backlog was counted up to `backlogCountLimit` runs and there are more. */
  backlog_capped: boolean;
  /** The first runs of the backlog, each with what `oproc why` says of it. */
  backlog_runs: BacklogRun[];
}

export interface RatvStatus {
  ratv: string;
  passes: { newest: PassCounts; all: PassCounts };
  /** The last 28 days (UTC), oldest first, by the passes' `created`: runs given passes (each once a day), passes created. */
  handled_per_day: { day: string; runs: number; passes: number }[];
  /** Distinct runs given a pass of the version in those 28 days (a run handled on two days counts once). */
  runs_handled: number;
  watchers: WatcherStatus[];
}

export interface LockSummary {
  calibration: Calibration;
  run: RunNumber;
  locked: boolean;
  validto: RunNumber | null;
  set_at: string | null;
  /** It holds the runs after `run` (set, and no `validto`). */
  holds: boolean;
}

export interface SubmissionSummary {
  id: string;
  mode: string;
  ratv: string;
  filetype: string;
  runs: number;
  done: number;
  started: string;
  finished: string | null;
}

export interface StatusReport {
  generated: string;
  ratvs: RatvStatus[];
  locks: LockSummary[];
  /** The newest 10 submissions (of the RAT version asked, else of all). */
  submissions: SubmissionSummary[];
  /** Some watcher is stale: `oproc status` exits 1. */
  stale: boolean;
  /**
   * oproc's documents with conflicting revisions now (DESIGN.md 4, Clusters): 0 normally, above 0
   * for a cycle or two on a cluster until a watcher's sweep merges them; null when the database has
   * no conflicts view yet (`oproc init` installs it).
   */
  conflicts: number | null;
}

const days = 28;
const backlogListed = 10;
/** A watcher far behind is not counted further than this: the count stays a bounded read. */
export const backlogCountLimit = 10_000;

/** What `oproc status --json` prints (and `GET /api/status`). */
export async function readStatus(
  context: InsightContext,
  options: { ratv?: string; now?: Date } = {},
): Promise<StatusReport> {
  const now = options.now ?? context.now();
  const ratvs = options.ratv === undefined ? await knownRatvs(context) : [options.ratv];
  const reader = new DataflowReader(context.dataflow, 'L2');
  const [newestComplete, locks, submissions, conflicts] = await Promise.all([
    reader.newestCompleteRun(),
    readLocks(context.processing),
    lastSubmissions(context, options.ratv),
    countConflicts(context.processing).catch((error: unknown) => {
      if (error instanceof OprocError && /has no view/.test(error.message)) return null;
      throw error;
    }),
  ]);
  const perRatv: RatvStatus[] = [];
  for (const ratv of ratvs) {
    const [passes, { perDay: handled, runs: runsHandled }, watchers] = await Promise.all([
      passCounts(context, ratv),
      handledPerDay(context, ratv, now),
      readWatchers({ ...context, now: () => now }, ratv),
    ]);
    const statuses: WatcherStatus[] = [];
    for (const watcher of watchers) statuses.push(await withBacklog(context, ratv, watcher, newestComplete));
    perRatv.push({ ratv, passes, handled_per_day: handled, runs_handled: runsHandled, watchers: statuses });
  }
  return {
    generated: now.toISOString(),
    ratvs: perRatv,
    locks: calibrations
      .filter((c) => locks.has(c))
      .map((c) => {
        const lock = locks.get(c)!;
        return {
          calibration: c,
          run: lock.run,
          locked: lock.locked === true,
          validto: lock.validto ?? null,
          set_at: lock.set_at ?? null,
          holds: isHolding(lock),
        };
      }),
    submissions,
    stale: perRatv.some((r) => r.watchers.some((w) => w.stale)),
    conflicts,
  };
}

/**
 * RAT versions with passes or a watcher. Found by hopping from one version to the next in the mapped
 * rows (one row read per version): a reduced read would reduce every row on PouchDB.
 */
async function knownRatvs(context: InsightContext): Promise<string[]> {
  const found = await ratvsWithPasses(context.processing);
  return [...new Set([...found, ...(await watchedRatvs(context.processing))])].sort(compareVersions);
}

async function passCounts(context: InsightContext, ratv: string): Promise<RatvStatus['passes']> {
  const rows = await context.processing.queryView(processingDesign.name, 'passes_by_status', {
    group: true,
    startkey: [ratv],
    endkey: [ratv, {}],
  });
  const counts: RatvStatus['passes'] = { newest: {}, all: {} };
  for (const row of rows) {
    const [, which, module, status] = row.key as [string, 'newest' | 'all', string, string];
    const byModule = (counts[which][module] ??= {});
    byModule[status] = (byModule[status] ?? 0) + Number(row.value);
  }
  return counts;
}

function utcDay(date: Date): string {
  return date.toISOString().slice(0, 10);
}

/** Grouped rows read per request when counting the distinct runs of each day. */
const runPage = 5000;
/** Days read at once. */
const daysInFlight = 4;

/** A day of a RAT version: the distinct runs given a pass that day, and the passes created. */
export interface DayHandled {
  runs: readonly number[];
  passes: number;
}

/**
 * The days of a RAT version before today, kept by a long-lived reader (`oproc serve`), so that a
 * computation after a change reads today's rows only. A past day changes only when a pass created
 * that day arrives later (another node's revision merged, a replication): an entry is read again
 * after an hour.
 */
export class PastDays {
  private readonly days = new Map<string, { day: string; handled: DayHandled; read: number }>();

  constructor(private readonly maxAgeMs = 3_600_000) {}

  get(ratv: string, day: string, now: number): DayHandled | undefined {
    const entry = this.days.get(`${ratv} ${day}`);
    return entry && now - entry.read < this.maxAgeMs ? entry.handled : undefined;
  }

  /** Keeps a day, and forgets days older than `oldest` (out of the window). */
  set(ratv: string, day: string, handled: DayHandled, now: number, oldest: string): void {
    this.days.set(`${ratv} ${day}`, { day, handled, read: now });
    for (const [key, entry] of this.days) if (entry.day < oldest) this.days.delete(key);
  }
}

async function handledPerDay(
  context: InsightContext,
  ratv: string,
  now: Date,
): Promise<{ perDay: RatvStatus['handled_per_day']; runs: number }> {
  const dayList: string[] = [];
  for (let back = days - 1; back >= 0; back--)
    dayList.push(utcDay(new Date(now.getTime() - back * 86_400_000)));
  const first = dayList[0]!;
  const today = dayList[dayList.length - 1]!;
  // Each day is read alone, several at once; a past day kept by the reader is not read again.
  const kept = context.pastDays;
  const perDay = await pMap(
    dayList,
    async (day) => {
      const known = day === today ? undefined : kept?.get(ratv, day, now.getTime());
      if (known) return known;
      const handled = await dayHandled(context, ratv, day);
      if (day !== today) kept?.set(ratv, day, handled, now.getTime(), first);
      return handled;
    },
    { concurrency: daysInFlight },
  );
  const distinct = new Set<number>();
  for (const { runs } of perDay) for (const run of runs) distinct.add(run);
  return {
    perDay: dayList.map((day, i) => ({ day, runs: perDay[i]!.runs.length, passes: perDay[i]!.passes })),
    runs: distinct.size,
  };
}

/**
 * A day's runs and passes: the grouped keys of `passes_by_day` for the day, one row per run (so a
 * run is counted once a day however many passes, modules, filetypes or submissions it had), each
 * with its passes. This is the read that grows with the runs handled: a day's reprocess of 200,000
 * runs is 200,000 grouped rows. (A read of the day's passes alone, at group level 2, is one row on
 * Apache CouchDB, but on pouchdb-server and PouchDB, which keep no reductions, it costs as much as
 * this one: so the passes are summed from these rows.)
 */
async function dayHandled(context: InsightContext, ratv: string, day: string): Promise<DayHandled> {
  const runs: number[] = [];
  let passes = 0;
  let startkey: unknown[] = [ratv, day];
  let skip = 0;
  for (;;) {
    const rows = await context.processing.queryView(processingDesign.name, 'passes_by_day', {
      startkey,
      endkey: [ratv, day, {}],
      groupLevel: 3,
      limit: runPage,
      skip,
    });
    for (const r of rows) {
      runs.push((r.key as [string, string, number])[2]);
      passes += Number(r.value);
    }
    if (rows.length < runPage) return { runs, passes };
    startkey = rows[rows.length - 1]!.key as unknown[];
    skip = 1; // grouped keys are unique: the last one read is the only one to skip
  }
}

async function withBacklog(
  context: InsightContext,
  ratv: string,
  watcher: WatcherView,
  newestComplete: RunNumber | undefined,
): Promise<WatcherStatus> {
  const from = (watcher.last_run ?? (watcher.block ? watcher.block[0] - 1 : 0)) + 1;
  const to = Math.min(newestComplete ?? -1, watcher.block ? watcher.block[1] : Number.MAX_SAFE_INTEGER);
  const reader = new DataflowReader(context.dataflow, watcher.filetype);
  const backlog: RunNumber[] = [];
  let capped = false;
  if (to >= from) {
    for await (const data of reader.runs(from, to)) {
      if (backlog.length >= backlogCountLimit) {
        capped = true;
        break;
      }
      backlog.push(data.run);
    }
  }
  return {
    ...watcher,
    newest_complete_run: newestComplete ?? null,
    backlog: backlog.length,
    backlog_capped: capped,
    backlog_runs: await verdicts(context, ratv, watcher, backlog.slice(0, backlogListed)),
  };
}

async function verdicts(
  context: InsightContext,
  ratv: string,
  watcher: WatcherView,
  runs: RunNumber[],
): Promise<BacklogRun[]> {
  if (runs.length === 0) return [];
  try {
    context.processingFor(ratv);
  } catch (error) {
    // No processing information for the RAT version here: the counts still stand.
    const message = error instanceof Error ? error.message : String(error);
    return runs.map((run) => ({ run, verdict: `unknown: ${message}` }));
  }
  const reports = await explainRuns(context, { ratv, filetype: watcher.filetype, runs });
  return reports.map((r) => ({ run: r.run, verdict: r.verdict }));
}

async function lastSubmissions(
  context: InsightContext,
  ratv: string | undefined,
): Promise<SubmissionSummary[]> {
  const key = ratv ?? null;
  const rows = await context.processing.queryView(processingDesign.name, 'submissions_by_started', {
    descending: true,
    startkey: [key, {}],
    endkey: [key],
    limit: backlogListed,
  });
  return rows.map((row) => {
    const v = (row.value ?? {}) as Partial<SubmissionSummary>;
    return {
      id: row.id.replace(/^submission_/, ''),
      mode: String(v.mode),
      ratv: String(v.ratv),
      filetype: String(v.filetype),
      runs: Number(v.runs ?? 0),
      done: Number(v.done ?? 0),
      started: String(v.started),
      finished: v.finished ?? null,
    };
  });
}
