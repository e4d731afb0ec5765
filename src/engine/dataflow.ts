import type { DocumentStore, ViewRow } from '../backends/types.js';
import { dataflowDesign } from './design.js';
import { viewPages } from './view-pages.js';
import type { FileType, RunNumber } from './types.js';

/** What the data-flow database says of one run, for the filetype being processed. */
export interface RunData {
  run: RunNumber;
  /** Subruns with a file of the filetype, sorted, each once. */
  subruns: number[];
  /** A `run_end` document exists for the run. */
  ended: boolean;
}

/** Something odd in the data-flow database, skipped with a warning naming the document. */
export interface DataflowWarning {
  id: string;
  problem: string;
}

const maxRun = 2 ** 31 - 1;

/**
 * Runs without a file of the filetype between two runs with one are looked up in the `by_run`
 * view; gaps closer than this are looked up in one range (re-reading the runs between them), so
 * scattered gaps cost a few requests rather than one each.
 */
const gapMerge = 16;

/**
 * Reads raw-data registrations (DESIGN.md 1.1) for one filetype. This is the one place that knows
 * the data-flow document shape, so another shape needs only another reader.
 *
 * Runs are read from the `by_filetype` view, which holds only the chosen filetype's files (and the
 * `run_end` markers): reading a row costs the same whatever is in it, so reading L2 runs does not
 * pay for their L1 files. The runs in between that have data-flow documents but no file of the
 * filetype (reported as skipped: no files) are found in the `by_run` view, gap by gap.
 */
export class DataflowReader {
  constructor(
    private readonly store: DocumentStore,
    private readonly filetype: FileType,
    private readonly pageSize = 2000,
    private readonly onWarning: (warning: DataflowWarning) => void = () => {},
  ) {}

  /**
   * Reads one row of each view the reader uses, so a database set up by an older oproc (without a
   * view `oproc init` now installs) is reported before a command writes anything.
   */
  async check(): Promise<void> {
    for (const view of Object.keys(dataflowDesign.views))
      await this.store.queryView(dataflowDesign.name, view, { limit: 1 });
  }

  /** The highest run with any data-flow document; a run below it is complete. */
  async latestRun(): Promise<RunNumber | undefined> {
    const rows = await this.store.queryView(dataflowDesign.name, 'by_run', {
      descending: true,
      limit: 1,
      startkey: [maxRun, {}],
    });
    const key = rows[0]?.key;
    return Array.isArray(key) && typeof key[0] === 'number' ? key[0] : undefined;
  }

  /** A run is complete when a later run is sensed or its `run_end` exists (DESIGN.md 1.1). */
  static isComplete(run: RunData, latest: RunNumber | undefined): boolean {
    return DataflowReader.completeness(run, latest).complete;
  }

  /** Whether a run is complete, and why in words (for `oproc why`). */
  static completeness(run: RunData, latest: RunNumber | undefined): { complete: boolean; reason: string } {
    if (latest !== undefined && latest > run.run)
      return { complete: true, reason: `a later run is sensed (run ${latest})` };
    if (run.ended) return { complete: true, reason: `its run_end document exists` };
    return { complete: false, reason: 'no later run, no run_end' };
  }

  /**
   * The newest complete run: the latest run when it has ended, else the run before it (any run
   * below the latest is complete). Two or three small reads, whatever the database holds.
   */
  async newestCompleteRun(): Promise<RunNumber | undefined> {
    const latest = await this.latestRun();
    if (latest === undefined) return undefined;
    const data = (await this.runsOf([latest])).get(latest);
    if (data && DataflowReader.isComplete(data, latest)) return latest;
    const rows = await this.store.queryView(dataflowDesign.name, 'by_run', {
      descending: true,
      limit: 1,
      startkey: [latest - 1, {}],
    });
    const key = rows[0]?.key;
    return Array.isArray(key) && typeof key[0] === 'number' ? key[0] : undefined;
  }

  /** Every run with data-flow documents in [first, last], in run order. */
  async *runs(first: RunNumber, last: RunNumber = maxRun): AsyncGenerator<RunData> {
    let next = first;
    for await (const page of this.pagesWithFiles(first, last)) {
      const gaps: [RunNumber, RunNumber][] = [];
      for (const data of page) {
        if (data.run > next) gaps.push([next, data.run - 1]);
        next = data.run + 1;
      }
      yield* merge(page, await this.runsWithoutFiles(gaps, new Set(page.map((d) => d.run))));
    }
    if (next <= last) yield* await this.runsWithoutFiles([[next, last]], new Set());
  }

  /** The data of the given runs (any order, may be scattered), read in ranges of nearby runs. */
  async runsOf(runs: readonly RunNumber[]): Promise<Map<RunNumber, RunData>> {
    const wanted = new Set(runs);
    const result = new Map<RunNumber, RunData>();
    for (const [first, last] of clusters([...wanted].sort((a, b) => a - b))) {
      for await (const data of this.runs(first, last)) {
        if (wanted.has(data.run)) result.set(data.run, data);
      }
    }
    return result;
  }

  /**
   * Runs with a file of the filetype (or a `run_end`) in [first, last], a page of whole runs at a
   * time, from the `by_filetype` view paged by its unique keys ([filetype, run, _id]).
   */
  private async *pagesWithFiles(first: RunNumber, last: RunNumber): AsyncGenerator<RunData[]> {
    const range = {
      startkey: [this.filetype, first],
      endkey: [this.filetype, last, {}],
      pageSize: this.pageSize,
    };
    // A run's rows may go on in the next page: it is held until a row of another run is read.
    let current: RunData | undefined;
    for await (const rows of viewPages(this.store, dataflowDesign.name, 'by_filetype', range)) {
      const page: RunData[] = [];
      for (const row of rows) {
        const run = (row.key as [FileType, number, string])[1];
        if (current && current.run !== run) {
          page.push(finish(current));
          current = undefined;
        }
        current ??= { run, subruns: [], ended: false };
        this.addFileRow(current, row);
      }
      if (page.length) yield page;
    }
    if (current) yield [finish(current)];
  }

  /** Runs with data-flow documents in the gaps (but none in `known`): no file of the filetype. */
  private async runsWithoutFiles(
    gaps: readonly [RunNumber, RunNumber][],
    known: ReadonlySet<RunNumber>,
  ): Promise<RunData[]> {
    const found: RunData[] = [];
    for (const [first, last] of mergeRanges(gaps, gapMerge)) {
      const range = { startkey: [first], endkey: [last, {}], pageSize: this.pageSize };
      for await (const rows of viewPages(this.store, dataflowDesign.name, 'by_run', range)) {
        for (const row of rows) {
          const run = (row.key as [number, string])[0];
          if (known.has(run)) continue;
          let data = found.at(-1);
          if (data?.run !== run) {
            data = { run, subruns: [], ended: false };
            found.push(data);
          }
          this.addRunRow(data, row);
        }
      }
    }
    return found;
  }

  /** A `by_filetype` row: `[subrun]` for a file, null for a `run_end`, `{filetype}` for a bad filetype. */
  private addFileRow(data: RunData, row: ViewRow): void {
    if (row.value === null) {
      data.ended = true;
      return;
    }
    if (!Array.isArray(row.value)) {
      const filetype = (row.value as { filetype?: unknown }).filetype;
      this.onWarning({ id: row.id, problem: `filetype ${JSON.stringify(filetype)} is not L1 or L2` });
      return;
    }
    const subrun = row.value[0] as unknown;
    if (typeof subrun !== 'number' || !Number.isInteger(subrun) || subrun < 0) {
      this.onWarning({
        id: row.id,
        problem: `subrun ${JSON.stringify(subrun)} is not a non-negative integer`,
      });
      return;
    }
    data.subruns.push(subrun);
  }

  /** A `by_run` row of a run without files of the filetype: only a `run_end` or an odd file matters. */
  private addRunRow(data: RunData, row: ViewRow): void {
    const value = (row.value ?? {}) as { type?: unknown; filetype?: unknown };
    if (value.type === 'run_end') data.ended = true;
    else if (value.filetype !== 'L1' && value.filetype !== 'L2') {
      this.onWarning({ id: row.id, problem: `filetype ${JSON.stringify(value.filetype)} is not L1 or L2` });
    }
  }
}

function finish(data: RunData): RunData {
  data.subruns.sort((a, b) => a - b);
  // A subrun registered twice is still one subrun.
  data.subruns = data.subruns.filter((subrun, i, all) => i === 0 || all[i - 1] !== subrun);
  return data;
}

/** Two lists of runs, each in run order, as one in run order. */
function merge(a: readonly RunData[], b: readonly RunData[]): RunData[] {
  if (b.length === 0) return [...a];
  return [...a, ...b].sort((x, y) => x.run - y.run);
}

/** Sorted, disjoint ranges, with those at most `gap` apart joined into one. */
function mergeRanges(ranges: readonly [RunNumber, RunNumber][], gap: number): [RunNumber, RunNumber][] {
  const result: [RunNumber, RunNumber][] = [];
  for (const [first, last] of ranges) {
    const previous = result[result.length - 1];
    if (previous && first - previous[1] <= gap) previous[1] = last;
    else result.push([first, last]);
  }
  return result;
}

/** Groups sorted runs into ranges, so scattered runlists do not scan the gaps between them. */
export function clusters(sorted: readonly RunNumber[], gap = 64): [RunNumber, RunNumber][] {
  return mergeRanges(
    sorted.map((run) => [run, run]),
    gap,
  );
}
