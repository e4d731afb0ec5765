import type { DocumentStore, ViewRow } from '../backends/types.js';
import { dataflowDesign } from './design.js';
import type { FileType, RunNumber } from './types.js';

/** What the data-flow database says of one run. */
export interface RunData {
  run: RunNumber;
  /** Subruns with a file of each filetype, sorted. */
  subruns: Record<FileType, number[]>;
  /** A `run_end` document exists for the run. */
  ended: boolean;
}

/** Something odd in the data-flow database, skipped with a warning naming the document. */
export interface DataflowWarning {
  id: string;
  problem: string;
}

const view = 'by_run';
const maxRun = 2 ** 31 - 1;

/**
 * Reads raw-data registrations (DESIGN.md 1.1) through the `oproc_dataflow/by_run` view. This is
 * the one place that knows the data-flow document shape, so another shape needs only another reader.
 */
export class DataflowReader {
  constructor(
    private readonly store: DocumentStore,
    private readonly pageSize = 2000,
    private readonly onWarning: (warning: DataflowWarning) => void = () => {},
  ) {}

  /** The highest run with any data-flow document; a run below it is complete. */
  async latestRun(): Promise<RunNumber | undefined> {
    const rows = await this.store.queryView(dataflowDesign.name, view, {
      descending: true,
      limit: 1,
      startkey: [maxRun, {}],
    });
    const key = rows[0]?.key;
    return Array.isArray(key) && typeof key[0] === 'number' ? key[0] : undefined;
  }

  /** A run is complete when a later run is sensed or its `run_end` exists (DESIGN.md 1.1). */
  static isComplete(run: RunData, latest: RunNumber | undefined): boolean {
    return run.ended || (latest !== undefined && latest > run.run);
  }

  /** Every run with data-flow documents in [first, last], in run order, paged by key. */
  async *runs(first: RunNumber, last: RunNumber = maxRun): AsyncGenerator<RunData> {
    let startkey: unknown[] = [first];
    let skip = 0;
    let current: RunData | undefined;
    for (;;) {
      const rows = await this.store.queryView(dataflowDesign.name, view, {
        startkey,
        endkey: [last, {}],
        skip,
        limit: this.pageSize,
      });
      for (const row of rows) {
        const run = (row.key as [number, string])[0];
        if (current && current.run !== run) {
          yield finish(current);
          current = undefined;
        }
        current ??= { run, subruns: { L1: [], L2: [] }, ended: false };
        this.addRow(current, row);
      }
      if (rows.length < this.pageSize) break;
      startkey = rows[rows.length - 1]!.key as unknown[];
      skip = 1;
    }
    if (current) yield finish(current);
  }

  /** The data of the given runs (any order, may be scattered), read in ranges of nearby runs. */
  async runsOf(runs: readonly RunNumber[]): Promise<Map<RunNumber, RunData>> {
    const wanted = new Set(runs);
    const result = new Map<RunNumber, RunData>();
    for (const [first, last] of clusters([...wanted].sort((a, b) => a - b))) {
      for await (const data of this.runs(first, last)) {
        if (wanted.has(data.run)) result.set(data.run, finish(data));
      }
    }
    return result;
  }

  private addRow(data: RunData, row: ViewRow): void {
    const value = (row.value ?? {}) as { type?: unknown; filetype?: unknown; subrun?: unknown };
    if (value.type === 'run_end') {
      data.ended = true;
      return;
    }
    if (value.filetype !== 'L1' && value.filetype !== 'L2') {
      this.onWarning({ id: row.id, problem: `filetype ${JSON.stringify(value.filetype)} is not L1 or L2` });
      return;
    }
    if (typeof value.subrun !== 'number' || !Number.isInteger(value.subrun) || value.subrun < 0) {
      this.onWarning({
        id: row.id,
        problem: `subrun ${JSON.stringify(value.subrun)} is not a non-negative integer`,
      });
      return;
    }
    data.subruns[value.filetype].push(value.subrun);
  }
}

function finish(data: RunData): RunData {
  for (const list of Object.values(data.subruns)) {
    list.sort((a, b) => a - b);
    // A subrun registered twice is still one subrun.
    for (let i = list.length - 1; i > 0; i--) if (list[i] === list[i - 1]) list.splice(i, 1);
  }
  return data;
}

/** Groups sorted runs into ranges, so scattered runlists do not scan the gaps between them. */
export function clusters(sorted: readonly RunNumber[], gap = 64): [RunNumber, RunNumber][] {
  const result: [RunNumber, RunNumber][] = [];
  for (const run of sorted) {
    const last = result[result.length - 1];
    if (last && run - last[1] <= gap) last[1] = run;
    else result.push([run, run]);
  }
  return result;
}
