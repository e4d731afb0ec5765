import { Listr, PRESET_TIMESTAMP } from 'listr2';

import type { Reporter, RunOutcome } from '../engine/batch.js';
import type { Skip } from '../engine/plan.js';
import type { RunNumber } from '../engine/types.js';

/** One line per run: what was created, and what was not and why. */
export function describeOutcome(outcome: RunOutcome): string {
  const kind = outcome.runTypeNames.length ? ` [${outcome.runTypeNames.join('+')}]` : '';
  const parts = outcome.created.map(
    (c) => `${c.module} pass ${c.pass}${c.subjobs > 1 ? ` (${c.subjobs} subjobs)` : ''}`,
  );
  for (const skip of outcome.skips) parts.push(`no ${skip.module ?? 'pass'}: ${skip.reason}`);
  return `run ${outcome.run}${kind}: ${parts.join('; ') || 'nothing to do'}`;
}

/**
 * Runs engine work as a listr2 task: on a terminal a live task with the latest runs under it; when
 * not on a terminal (CI, screen logs, pipes) plain timestamped lines; nothing with --json.
 */
export async function withProgress<T>(
  title: string,
  options: { json: boolean },
  work: (reporter: Reporter) => Promise<T>,
  finalTitle: (result: T) => string,
): Promise<T> {
  let result: T | undefined;
  const list = new Listr(
    [
      {
        title,
        task: async (_ctx, task) => {
          const reporter: Reporter = {
            run: (outcome) => {
              task.output = describeOutcome(outcome);
            },
            note: (message) => {
              task.output = message;
            },
            warn: (message) => {
              task.output = `warning: ${message}`;
            },
          };
          result = await work(reporter);
          task.title = finalTitle(result);
        },
        rendererOptions: { outputBar: 20, persistentOutput: true },
      },
    ],
    {
      renderer: 'default',
      fallbackRenderer: 'simple',
      fallbackRendererOptions: { timestamp: PRESET_TIMESTAMP },
      silentRendererCondition: options.json,
      registerSignalListeners: false,
      exitOnError: true,
      rendererOptions: { collapseErrors: false },
    },
  );
  await list.run();
  return result as T;
}

/** Groups skips by run for the summary: `run 300008: Processing: RATDB table(s) missing: PMT_DQXX`. */
export function describeSkips(skips: readonly Skip[]): string[] {
  return skips.map((s) => `  run ${s.run}${s.module ? ` ${s.module}` : ''}: ${s.reason}`);
}

export function countByModule(created: readonly { module: string }[]): string {
  const counts = new Map<string, number>();
  for (const c of created) counts.set(c.module, (counts.get(c.module) ?? 0) + 1);
  return [...counts].map(([module, n]) => `${module} ${n}`).join(', ');
}

export function runSpan(runs: readonly RunNumber[]): string {
  if (runs.length === 0) return 'no runs';
  return runs.length === 1
    ? `run ${runs[0]}`
    : `${runs.length} runs, ${Math.min(...runs)}–${Math.max(...runs)}`;
}
