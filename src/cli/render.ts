import { Listr, PRESET_TIMESTAMP, type ListrTask } from 'listr2';

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
 * Runs engine work with listr2 progress. On a terminal: one task per batch being written, then one
 * task per run with its modules (✔ passes created, ↓ no pass and why). Not on a terminal (CI,
 * screen logs, pipes): plain timestamped lines, one per run. Nothing with --json.
 */
export async function withProgress<T>(
  title: string,
  options: { json: boolean },
  work: (reporter: Reporter) => Promise<T>,
  finalTitle: (result: T) => string,
): Promise<T> {
  // With --json, stdout is the result alone; a warning (a skipped document) still reaches the user on stderr.
  if (options.json)
    return work({
      run: () => {},
      note: () => {},
      warn: (message) => process.stderr.write(`warning: ${message}\n`),
    });
  if (process.stdout.isTTY) return withTerminalTasks(title, work, finalTitle);
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
      },
    ],
    {
      renderer: 'simple',
      rendererOptions: { timestamp: PRESET_TIMESTAMP },
      registerSignalListeners: false,
      exitOnError: true,
    },
  );
  await list.run();
  return result as T;
}

/** A run's task: done when it got passes, skipped (with why) when it got none. */
function runTask(outcome: RunOutcome): ListrTask {
  return {
    title: describeOutcome(outcome),
    task: (_ctx, task) => {
      if (outcome.created.length === 0) task.skip(describeOutcome(outcome));
    },
  };
}

async function withTerminalTasks<T>(
  title: string,
  work: (reporter: Reporter) => Promise<T>,
  finalTitle: (result: T) => string,
): Promise<T> {
  const shown = new Set<RunNumber>();
  // One list on the terminal at a time: each waits for the one before it.
  let queue: Promise<unknown> = Promise.resolve();
  const list = (tasks: ListrTask[]) => {
    const next = queue.then(() =>
      new Listr(tasks, {
        renderer: 'default',
        registerSignalListeners: false,
        exitOnError: true,
        rendererOptions: { collapseSubtasks: false, collapseSkips: true, suffixSkips: false },
      }).run(),
    );
    queue = next.catch(() => {});
    return next.then(() => {});
  };
  const reporter: Reporter = {
    batch: (runs, outcomes) => {
      runs.forEach((run) => shown.add(run));
      const span = runs.length === 1 ? `run ${runs[0]}` : `runs ${runs[0]}–${runs[runs.length - 1]}`;
      return list([
        {
          title: `${span}: writing passes`,
          task: async (_ctx, task) => {
            const done = await outcomes;
            const passes = done.reduce((n, o) => n + o.created.length, 0);
            task.title = `${span}: ${passes} pass(es)`;
            return task.newListr(done.map(runTask), { rendererOptions: { collapseSubtasks: false } });
          },
        },
      ]);
    },
    // Runs outside a batch (unknown or incomplete ones in a runlist) get a task of their own.
    run: (outcome) => {
      if (!shown.has(outcome.run)) void list([runTask(outcome)]);
    },
    note: (message) => process.stdout.write(`  ${message}\n`),
    warn: (message) => process.stderr.write(`  warning: ${message}\n`),
  };
  process.stdout.write(`${title}\n`);
  const result = await work(reporter);
  await queue;
  process.stdout.write(`✔ ${finalTitle(result)}\n`);
  return result;
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
