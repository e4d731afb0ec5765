import { setTimeout as sleep } from 'node:timers/promises';

import { DataflowFeed } from '../engine/feed.js';
import { Lease } from '../engine/lease.js';
import { stateId, watchCycle, type CycleResult, type WatchRequest } from '../engine/watch.js';
import { ids } from '../engine/types.js';
import { OprocError } from '../errors.js';
import { redact } from '../util/mask.js';
import { countByModule, describeSkips, withProgress } from './render.js';
import { engineContext, SubmissionCommand, whoAmI, type Prepared } from './submission-command.js';

export interface WatchSummary {
  cycles: number;
  created: CycleResult['created'];
  skipped: CycleResult['skipped'];
  held: CycleResult['held'];
  locks_set: CycleResult['locks_set'];
  last_run: number | null;
  state: string;
  stopped_by: 'once' | 'block-done' | 'signal' | 'dry-run';
}

/** `watch` and `block`: cycles under a lease until told to stop (or, for a block, until it is done). */
export abstract class WatchCommand extends SubmissionCommand {
  protected async loop(
    prepared: Prepared,
    request: WatchRequest,
    options: { once: boolean; intervalSeconds: number; config: string },
  ): Promise<WatchSummary> {
    const db = await this.openDatabases(prepared.config);
    const summary: WatchSummary = {
      cycles: 0,
      created: [],
      skipped: [],
      held: null,
      locks_set: [],
      last_run: null,
      state: stateId(request),
      stopped_by: 'once',
    };
    const leaseMs = prepared.config.watch.leaseSeconds * 1000;
    const lease = request.dryRun
      ? undefined
      : new Lease(
          db.processing,
          ids.lease(request.ratv, request.filetype),
          whoAmI(),
          leaseMs,
          () => new Date(),
        );
    await lease?.acquire();
    let lost = false;
    const heartbeat = setInterval(
      () => {
        void lease?.renew().then(
          (ok) => {
            if (!ok && !lost) {
              lost = true;
              process.stderr.write(
                `lost the lease ${lease.id} to another watcher: stopping without writing more\n`,
              );
            }
          },
          () => {},
        );
      },
      Math.max(1000, leaseMs / 3),
    );
    // One cycle needs no feed; a watcher wakes on data-flow changes, at the latest after the interval.
    const feed =
      options.once || request.dryRun
        ? undefined
        : new DataflowFeed(db.dataflow, (reason) =>
            this.warn(`${reason}: polling, a cycle every ${options.intervalSeconds} s`),
          );
    this.stopOnSignals();
    try {
      for (;;) {
        if (lost) throw new OprocError(`lost the lease ${lease!.id} to another watcher; stopped`, 1);
        await feed?.mark();
        const title = `${request.mode} RAT ${request.ratv} ${request.filetype}: cycle ${summary.cycles + 1}`;
        let cycle: CycleResult;
        try {
          cycle = await withProgress(
            title,
            { json: this.jsonEnabled() },
            (reporter) => watchCycle(engineContext(db, prepared, reporter, this.stopSignal), request),
            (r) =>
              `${title}: ${r.created.length} pass(es) ${request.dryRun ? 'planned' : 'created'}${r.held ? ', held' : ''}`,
          );
        } catch (error) {
          // A watcher runs for weeks: a database outage fails one cycle, not the watcher. Usage errors stop it.
          if (options.once || (error instanceof OprocError && error.exitCode === 2)) throw error;
          const message = redact(error instanceof Error ? error.message : String(error));
          this.warn(
            `cycle ${summary.cycles + 1} failed: ${message}; trying again in ${options.intervalSeconds} s`,
          );
          await sleep(options.intervalSeconds * 1000, undefined, { signal: this.stopSignal }).catch(() => {});
          if (this.stopping) {
            summary.stopped_by = 'signal';
            break;
          }
          continue;
        }
        summary.cycles++;
        summary.created.push(...cycle.created);
        summary.skipped.push(...cycle.skipped);
        summary.locks_set.push(...cycle.locks_set);
        summary.held = cycle.held;
        summary.last_run = cycle.last_run;
        this.report(cycle, options.config);
        if (request.dryRun) summary.stopped_by = 'dry-run';
        else if (cycle.block_done) summary.stopped_by = 'block-done';
        else if (this.stopping) summary.stopped_by = 'signal';
        else if (options.once) summary.stopped_by = 'once';
        else {
          await feed?.waitForChange(options.intervalSeconds * 1000, this.stopSignal);
          if (!this.stopping) continue;
          summary.stopped_by = 'signal';
        }
        break;
      }
    } finally {
      clearInterval(heartbeat);
      if (!lost) await lease?.release().catch(() => {});
    }
    process.exitCode = summary.skipped.length ? 1 : 0;
    return summary;
  }

  private report(cycle: CycleResult, config: string): void {
    if (cycle.created.length) {
      this.log(
        `${cycle.created.length} pass(es) created (${countByModule(cycle.created)}); last run handled ${cycle.last_run}.`,
      );
    }
    if (cycle.skipped.length) {
      this.log(`Handled without a pass (${cycle.skipped.length}):`);
      for (const line of describeSkips(cycle.skipped)) this.log(line);
    }
    for (const lock of cycle.locks_set)
      this.log(`${lock.calibration} calibration lock set at run ${lock.run}.`);
    if (cycle.held) this.log(`Held at run ${cycle.held.run}: ${cycle.held.reason.replace('CONFIG', config)}`);
  }
}
