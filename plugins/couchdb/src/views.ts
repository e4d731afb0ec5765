/** Index builds as Apache CouchDB reports them in `_active_tasks`. */
import type { ViewBuildProgress } from 'oproc';

import { isObject } from './json.js';

/**
 * The database a task's `database` field names: `shards/00000000-ffffffff/NAME.1764590000` for a
 * clustered database's shard (one per shard range and node), or the name itself.
 */
function databaseOf(task: string): string {
  const shard = /^shards\/[0-9a-f]+-[0-9a-f]+\/(.+)\.\d+$/.exec(task);
  return shard ? shard[1]! : task;
}

/**
 * The `indexer` tasks of one design document of one database, summed over its shards, or
 * undefined when none is running.
 */
export function indexerProgress(
  tasks: unknown,
  database: string,
  design: string,
): ViewBuildProgress | undefined {
  if (!Array.isArray(tasks)) return undefined;
  let found = false;
  let changesDone = 0;
  let totalChanges = 0;
  for (const task of tasks) {
    if (!isObject(task) || task.type !== 'indexer') continue;
    if (typeof task.database !== 'string' || databaseOf(task.database) !== database) continue;
    if (task.design_document !== `_design/${design}`) continue;
    found = true;
    changesDone += typeof task.changes_done === 'number' ? task.changes_done : 0;
    totalChanges += typeof task.total_changes === 'number' ? task.total_changes : 0;
  }
  return found ? { design, changesDone, totalChanges } : undefined;
}

/** `views of _design/NAME are being built: 42% (420,000 of 1,000,000 changes)`. */
export function progressLine(progress: ViewBuildProgress): string {
  const n = (value: number) => value.toLocaleString('en');
  const percent =
    progress.totalChanges > 0 ? Math.floor((100 * progress.changesDone) / progress.totalChanges) : 0;
  return `views of _design/${progress.design} are being built: ${percent}% (${n(progress.changesDone)} of ${n(progress.totalChanges)} changes)`;
}
