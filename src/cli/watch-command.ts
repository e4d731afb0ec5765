import { setTimeout as sleep } from 'node:timers/promises';

import { sweepConflicts } from '../engine/conflicts.js';
import { DataflowFeed } from '../engine/feed.js';
import type { Databases } from '../backends/registry.js';
import {
  describeHolder,
  fencedStore,
  Lease,
  type LeaseAttempt,
  type LeaseDocument,
} from '../engine/lease.js';
import { stallLimitMs, Watchdog } from '../engine/stall.js';
import { stateId, watchCycle, type CycleResult, type WatchRequest } from '../engine/watch.js';
import { ids } from '../engine/types.js';
import { OprocError } from '../errors.js';
import { redact } from '../util/mask.js';
import { countByModule, createdText, describeSkips, withProgress } from './render.js';
import { plural } from '../util/plural.js';
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
    this.stopOnSignals();
    if (lease && !(await this.takeLease(lease, db, summary.state, options.once, leaseMs))) {
      // Ctrl-C while a standby: nothing was written.
      summary.stopped_by = 'signal';
      process.exitCode = 0;
      return summary;
    }
    // The heartbeat renews the lease only while the loop moves: a watcher that stalls lets it go.
    const watchdog = new Watchdog(stallLimitMs(prepared.config.watch));
    let lost = false;
    const loseLease = () => {
      if (lost) return;
      lost = true;
      process.stderr.write(`lost the lease ${lease!.id} to another watcher: stopping without writing more\n`);
    };
    const heartbeat = setInterval(
      () => {
        if (!watchdog.check()) return;
        void lease?.renew().then(
          (outcome) => {
            if (outcome === 'lost') loseLease();
          },
          () => {},
        );
      },
      Math.max(1000, leaseMs / 3),
    );
    // Every database call that ends is progress; every write of a cycle checks first that the lease
    // is still this watcher's.
    const processing = watchdog.watch(db.processing);
    const databases: Databases = {
      processing: lease ? fencedStore(processing, lease, loseLease) : processing,
      dataflow: watchdog.watch(db.dataflow),
      ratdb: watchdog.watch(db.ratdb),
      close: () => db.close(),
    };
    // One cycle needs no feed; a watcher wakes on data-flow changes, at the latest after the interval.
    const feed =
      options.once || request.dryRun
        ? undefined
        : new DataflowFeed(databases.dataflow, (reason) =>
            this.warn(`${reason}: polling, a cycle every ${options.intervalSeconds} s`),
          );
    // How the watcher stopped, written into the lease it releases; an error leaves 'error'.
    let stopped = 'error';
    let skippedAny = false;
    try {
      for (;;) {
        watchdog.progress();
        if (lost) throw new OprocError(`lost the lease ${lease!.id} to another watcher; stopped`, 1);
        await watchdog.race(feed?.mark() ?? Promise.resolve());
        const title = `${request.mode} RAT ${request.ratv} ${request.filetype}: cycle ${summary.cycles + 1}`;
        let cycle: CycleResult;
        try {
          cycle = await watchdog.race(
            withProgress(
              title,
              { json: this.jsonEnabled() },
              (reporter) =>
                watchCycle(engineContext(databases, prepared, reporter, this.stopSignal), request),
              (r) => `${title}: ${createdText(r.created.length, request.dryRun)}${r.held ? ', held' : ''}`,
            ),
          );
        } catch (error) {
          // A watcher runs for weeks: a database outage fails one cycle, not the watcher. Usage errors
          // and a stall stop it.
          if (options.once || watchdog.hasStalled || (error instanceof OprocError && error.exitCode === 2))
            throw error;
          if (lost) throw new OprocError(`lost the lease ${lease!.id} to another watcher; stopped`, 1);
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
        skippedAny ||= cycle.skipped.length > 0;
        // The lists are for the `--json` summary at the end: a watcher without it, running for weeks,
        // keeps none of them (each cycle has said its own on the terminal).
        if (this.jsonEnabled()) {
          summary.created.push(...cycle.created);
          summary.skipped.push(...cycle.skipped);
          summary.locks_set.push(...cycle.locks_set);
        }
        summary.held = cycle.held;
        summary.last_run = cycle.last_run;
        this.report(cycle, options.config, request.dryRun);
        if (request.dryRun) summary.stopped_by = 'dry-run';
        else if (cycle.block_done) summary.stopped_by = 'block-done';
        else if (this.stopping) summary.stopped_by = 'signal';
        else if (options.once) summary.stopped_by = 'once';
        else {
          await watchdog.race<unknown>(
            feed?.waitForChange(options.intervalSeconds * 1000, this.stopSignal) ?? Promise.resolve(),
          );
          if (!this.stopping) continue;
          summary.stopped_by = 'signal';
        }
        break;
      }
      stopped = summary.stopped_by === 'signal' ? (this.stoppedBySignal ?? 'signal') : summary.stopped_by;
    } finally {
      // A last sweep before the lease goes: a conflict that replication brought since the last cycle.
      // On a cluster once more after internal replication's delay, the heartbeat still running: two
      // writes from one revision that each returned (a grid client's 202 beside oproc's write) show
      // as a conflict only when the copies exchange them, seconds later. A stalled watcher just goes.
      if (lease && !lost && !watchdog.hasStalled) {
        const lastSweep = async (when: string) => {
          const swept = await sweepConflicts(databases.processing).catch(() => undefined);
          if (swept?.found) this.log(`${when}: ${sweptLine(swept)}`);
        };
        await lastSweep('stopping');
        const lag = (await db.processing.replicationLagMs?.().catch(() => 0)) ?? 0;
        if (lag > 0 && !lost) {
          process.stderr.write(
            `a last sweep of conflicted documents in ${(lag / 1000).toFixed(1)} s, once the cluster's copies have exchanged the last writes (again to stop at once)\n`,
          );
          await sleep(lag);
          if (!lost) await lastSweep('last sweep');
        }
      }
      clearInterval(heartbeat);
      if (watchdog.hasStalled) await leaveStalled(lease);
      else if (!lost) await lease?.release(stopped).catch(() => {});
    }
    process.exitCode = skippedAny ? 1 : 0;
    return summary;
  }

  /**
   * Takes the lease, waiting as a standby while a live holder has it (checking at least every third
   * of the lease, and just after it expires). False when stopped (Ctrl-C) before taking it. With
   * `--once` a held lease is an error (exit 2).
   */
  private async takeLease(
    lease: Lease,
    db: Databases,
    state: string,
    once: boolean,
    leaseMs: number,
  ): Promise<boolean> {
    if (once) {
      const from = await lease.acquire();
      // A released lease (its holder stopped on purpose) is free: taken without a word.
      if (from) this.logToStderr(`took over the lease ${lease.id} from ${describeHolder(from)}`);
      return true;
    }
    let waitingSince: number | undefined;
    let holder: LeaseDocument | undefined;
    let unconfirmedSaid = false;
    for (;;) {
      if (this.stopping) return false;
      let attempt: LeaseAttempt | undefined;
      try {
        attempt = await lease.tryAcquire();
      } catch (error) {
        if (error instanceof OprocError && error.exitCode === 2) throw error;
        this.warn(
          `reading the lease ${lease.id} failed: ${redact(error instanceof Error ? error.message : String(error))}`,
        );
      }
      if (attempt?.acquired) {
        const from = attempt.released ? undefined : (holder ?? attempt.from);
        const previous = attempt.released ?? from;
        if (previous) {
          const stored = (await db.processing.getMany([state]).catch(() => new Map())).get(state) as
            { last_run?: unknown } | undefined;
          const resume =
            typeof stored?.last_run === 'number' ? `after run ${stored.last_run}` : 'from the start';
          const waited =
            waitingSince === undefined
              ? ''
              : ` after ${((Date.now() - waitingSince) / 1000).toFixed(1)} s as a standby`;
          const who = `${previous.holder}${previous.host ? ` (host ${previous.host})` : ''}`;
          this.logToStderr(
            from
              ? `took over the lease ${lease.id} from ${who}${waited}; resuming from ${state} ${resume}`
              : `took the lease ${lease.id}, released by ${who} at ${previous.released} (${previous.stopped})${waited}; resuming from ${state} ${resume}`,
          );
        }
        return true;
      }
      if (attempt && !attempt.acquired && attempt.holder.holder !== lease.holder) {
        if (holder?.holder !== attempt.holder.holder) {
          this.logToStderr(
            `another watcher holds ${lease.id}: ${describeHolder(attempt.holder)}; waiting as a standby, checking every ${Math.round(leaseMs / 3000)} s (Ctrl-C to stop)`,
          );
        }
        holder = attempt.holder;
      } else if (attempt && !unconfirmedSaid) {
        unconfirmedSaid = true;
        this.warn(
          `the lease ${lease.id} was written but not confirmed (a CouchDB cluster answered 202: fewer copies than its write quorum); trying again every ${Math.round(leaseMs / 3000)} s`,
        );
      }
      waitingSince ??= Date.now();
      const untilExpiry = holder ? new Date(holder.expires).getTime() - Date.now() + 100 : leaseMs / 3;
      const wait = Math.max(100, Math.min(leaseMs / 3, untilExpiry));
      await sleep(wait, undefined, { signal: this.stopSignal }).catch(() => {});
    }
  }

  private sweepUnavailableSaid = false;

  private report(cycle: CycleResult, config: string, dryRun: boolean): void {
    const swept = cycle.swept;
    if (swept?.unavailable && !this.sweepUnavailableSaid) {
      this.sweepUnavailableSaid = true;
      this.warn(`conflicted documents are not swept: ${swept.unavailable.replace('CONFIG', config)}`);
    }
    if (swept?.found) {
      this.log(sweptLine(swept));
    }
    for (const r of swept?.renumbered ?? []) {
      this.warn(
        `pass ${r.from} of ${r.run} ${r.module} (submission ${r.submission}) renumbered to ${r.to}: another writer's pass had the number; submission_${r.submission} records it`,
      );
    }
    if (cycle.created.length) {
      const what = createdText(cycle.created.length, dryRun);
      this.log(
        `${what[0]!.toUpperCase()}${what.slice(1)} (${countByModule(cycle.created)}); last run ${dryRun ? 'it would handle' : 'handled'} ${cycle.last_run}.`,
      );
    }
    if (cycle.skipped.length) {
      this.log(`Handled without a pass (${cycle.skipped.length}):`);
      for (const line of describeSkips(cycle.skipped)) this.log(line);
    }
    for (const lock of cycle.locks_set)
      this.log(`${lock.calibration} calibration lock ${dryRun ? 'would be set' : 'set'} at run ${lock.run}.`);
    if (cycle.held) this.log(`Held at run ${cycle.held.run}: ${cycle.held.reason.replace('CONFIG', config)}`);
  }
}

/**
 * A stalled watcher's way out: its lease released as `stalled` if the database answers within 10 s
 * (else it expires), and an exit within 30 s whatever the stalled call still holds open.
 */
async function leaveStalled(lease: Lease | undefined): Promise<void> {
  setTimeout(() => process.exit(1), 30_000).unref();
  if (lease)
    await Promise.race([lease.release('stalled').catch(() => {}), sleep(10_000, undefined, { ref: false })]);
}

/** What a sweep of conflicted documents merged, as the watcher says it each cycle and at a stop. */
function sweptLine(swept: { merged: number; found: number; deleted: number }): string {
  return `merged ${plural(swept.merged, 'conflicted document')} of ${swept.found} found (${plural(swept.deleted, 'losing revision')} deleted).`;
}
