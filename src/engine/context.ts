/** What the engine is given and reports through: shared by reprocess, watch and the commands. */
import type { DocumentStore, Ratdb } from '../backends/types.js';
import type { PlanOptions, Skip } from './plan.js';
import type { ProcessingInformation, RunNumber, Selector } from './types.js';

/** Everything the engine needs: databases, processing information, a clock. No oclif, no terminal. */
export interface EngineContext {
  processing: DocumentStore;
  dataflow: DocumentStore;
  ratdb: Ratdb;
  info: ProcessingInformation;
  selector: Selector;
  now: () => Date;
  /** `user@host`, recorded in passes and releases. */
  user: string;
  reporter: Reporter;
  /** Runs per batch: one RATDB query, one job-document read and one bulk write each. */
  batchSize?: number;
  /** Aborted on SIGINT/SIGTERM: the batch in flight finishes, then the command stops. */
  signal?: AbortSignal;
}

/** Progress as the engine makes it; the command renders it (listr2 on a terminal, lines otherwise). */
export interface Reporter {
  /** A batch of runs is being written; `outcomes` settles when it is (a terminal shows a task per run). */
  batch?(runs: readonly RunNumber[], outcomes: Promise<RunOutcome[]>): Promise<void>;
  run(outcome: RunOutcome): void;
  note(message: string): void;
  warn(message: string): void;
}

export const silentReporter: Reporter = { run: () => {}, note: () => {}, warn: () => {} };

/** What a run came to, reported as soon as its batch is written. */
export interface RunOutcome {
  run: RunNumber;
  runTypeNames: string[];
  created: { module: string; pass: number; subjobs: number }[];
  skips: Skip[];
}

export interface CreatedPass {
  run: RunNumber;
  module: string;
  pass: number;
}

/** Options shared by every mode, before a submission id exists. */
export type PassOptions = Omit<PlanOptions, 'submission' | 'mode' | 'createdBy' | 'asOf'>;
