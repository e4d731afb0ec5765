import { color, figures, Listr, PRESET_TIMESTAMP } from 'listr2';

import type { Reporter, RunOutcome } from '../engine/context.js';
import type { Skip } from '../engine/plan.js';
import type { RunNumber } from '../engine/types.js';
import { plural } from './messages.js';

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

/**
 * A run's task line, as listr2 draws a finished task: ✔ when it got passes, ↓ (with why) when it
 * got none. Drawn once, not kept in a live task list: listr2 redraws every task of a list on every
 * frame, which with a batch of 500 runs took the CPU from the work itself (200 runs took 140 s).
 */
export function runLine(outcome: RunOutcome): string {
  const mark = outcome.created.length ? color.green(figures.tick) : color.yellow(figures.arrowDown);
  return `  ${mark} ${describeOutcome(outcome)}`;
}

async function withTerminalTasks<T>(
  title: string,
  work: (reporter: Reporter) => Promise<T>,
  finalTitle: (result: T) => string,
): Promise<T> {
  const shown = new Set<RunNumber>();
  // One thing on the terminal at a time: each waits for the one before it.
  let queue: Promise<unknown> = Promise.resolve();
  const inTurn = (show: () => Promise<void>) => {
    const next = queue.then(show);
    queue = next.catch(() => {});
    return next;
  };
  const printRun = (outcome: RunOutcome) => {
    process.stdout.write(`${runLine(outcome)}\n`);
  };
  const reporter: Reporter = {
    // A live task (a spinner) while the batch is written, then a line per run.
    batch: (runs, outcomes) => {
      runs.forEach((run) => shown.add(run));
      const span = runs.length === 1 ? `run ${runs[0]}` : `runs ${runs[0]}–${runs[runs.length - 1]}`;
      return inTurn(async () => {
        let done: RunOutcome[] = [];
        await new Listr(
          [
            {
              title: `${span}: writing passes`,
              task: async (_ctx, task) => {
                done = await outcomes;
                const passes = done.reduce((n, o) => n + o.created.length, 0);
                task.title = `${span}: ${plural(passes, 'pass')}`;
              },
            },
          ],
          { renderer: 'default', registerSignalListeners: false, exitOnError: true },
        ).run();
        done.forEach(printRun);
      });
    },
    // Runs outside a batch (unknown or incomplete ones in a runlist) get a line of their own.
    run: (outcome) => {
      if (!shown.has(outcome.run)) void inTurn(async () => printRun(outcome));
    },
    note: (message) => process.stdout.write(`  ${message}\n`),
    warn: (message) => process.stderr.write(`  warning: ${message}\n`),
  };
  process.stdout.write(`${title}\n`);
  const result = await work(reporter);
  await queue;
  process.stdout.write(`${color.green(figures.tick)} ${finalTitle(result)}\n`);
  return result;
}

/** Groups skips by run for the summary: `run 300008: Processing: RATDB table(s) missing: PMT_DQXX`. */
export function describeSkips(skips: readonly Skip[]): string[] {
  // In run order: unknown or incomplete runs of a list are found before the planned ones.
  return [...skips]
    .sort((a, b) => a.run - b.run)
    .map((s) => `  run ${s.run}${s.module ? ` ${s.module}` : ''}: ${s.reason}`);
}

/** `6 passes created`, or in a dry run `would create 6 passes` (a dry run creates nothing). */
export function createdText(passes: number, dryRun: boolean): string {
  return dryRun ? `would create ${plural(passes, 'pass')}` : `${plural(passes, 'pass')} created`;
}

export function countByModule(created: readonly { module: string }[]): string {
  const counts = new Map<string, number>();
  for (const c of created) counts.set(c.module, (counts.get(c.module) ?? 0) + 1);
  return [...counts].map(([module, n]) => `${module} ${n}`).join(', ');
}
