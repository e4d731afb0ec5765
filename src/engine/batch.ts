import { randomBytes } from 'node:crypto';

import type { DocumentStore, Ratdb, StoredDocument } from '../backends/types.js';
import { usageError } from '../errors.js';
import { DataflowReader } from './dataflow.js';
import { writeIntents } from './jobs.js';
import { appendOutlist } from './outlist.js';
import { intentsAtDepth, type PlanOptions, type RunPlan, type Skip } from './plan.js';
import type { FileType, ProcessingInformation, RunNumber, Selector } from './types.js';

/** What a run came to, reported as soon as its batch is written. */
export interface RunOutcome {
  run: RunNumber;
  runTypeNames: string[];
  created: { module: string; pass: number; subjobs: number }[];
  skips: Skip[];
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

export interface CreatedPass {
  run: RunNumber;
  module: string;
  pass: number;
}

export function dataflowReader(context: EngineContext, filetype: FileType): DataflowReader {
  return new DataflowReader(context.dataflow, filetype, 2000, (w) =>
    context.reporter.warn(`data-flow document ${w.id} skipped: ${w.problem}`),
  );
}

/** A new submission id: `sub_2026-11-24T10-00-00Z_ab12`. */
export function newSubmissionId(now: Date): string {
  const stamp = now
    .toISOString()
    .replace(/\.\d+Z$/, 'Z')
    .replace(/:/g, '-');
  return `sub_${stamp}_${randomBytes(2).toString('hex')}`;
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

/** Options shared by every mode, before a submission id exists. */
export type PassOptions = Omit<PlanOptions, 'submission' | 'mode' | 'createdBy' | 'asOf'>;
