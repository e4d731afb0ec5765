import { randomBytes } from 'node:crypto';

import type { Ratdb, StoredDocument } from '../backends/types.js';
import { usageError } from '../errors.js';
import type { EngineContext, RunOutcome } from './context.js';
import { DataflowReader } from './dataflow.js';
import { writeIntents } from './jobs.js';
import { appendOutlist } from './outlist.js';
import { intentsAtDepth, type RunPlan } from './plan.js';
import type { FileType, RunNumber } from './types.js';

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
