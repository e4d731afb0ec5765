import { setTimeout as sleep } from 'node:timers/promises';

import type { DocumentStore } from '../backends/types.js';
import { redact } from '../util/mask.js';
import { ownIdPrefixes } from './types.js';

/**
 * After the first relevant change, wait this long before waking: files of a run are registered in
 * bursts, and one cycle should take the whole burst rather than one cycle per file.
 */
export const settleMs = 250;

/** A backend that answers a long-poll at once with nothing must not be asked again in a tight loop. */
const minPollGapMs = 1000;

/** Changes read per request; a burst of oproc's own writes is read in pages. */
const batchLimit = 1000;

/** Why a wait ended: a data-flow change, the interval passed, or the command is stopping. */
export type Wake = 'change' | 'interval' | 'stopped';

/**
 * A change is relevant unless it is one of oproc's own documents or a design document: data-flow and
 * processing may be one database (DESIGN.md 1), where a watcher's own writes (passes, journals, its
 * state, lease heartbeats) and grid clients' status changes would otherwise wake it in a loop.
 */
export function isDataflowChange(id: string): boolean {
  return !id.startsWith('_design/') && !ownIdPrefixes.some((prefix) => id.startsWith(prefix));
}

/**
 * Wakes a watcher when the data-flow database changes, through its change feed, instead of after a
 * fixed interval. The interval stays the longest wait (RATDB and lock releases have no feed). A store
 * without a feed, or whose feed fails, is polled: the wait lasts the interval.
 */
export class DataflowFeed {
  private since: string | undefined;
  /** Whether the polling warning was given since the feed last answered: one warning per outage. */
  private warned = false;

  /** `onPolling` is told, once per switch from the feed to polling, why the watcher polls. */
  constructor(
    private readonly store: DocumentStore,
    private readonly onPolling: (reason: string) => void,
  ) {}

  /**
   * Remembers where the feed stands. Called before each cycle, so a change written while the cycle
   * runs wakes the next wait at once.
   */
  async mark(): Promise<void> {
    this.since = undefined;
    if (!this.store.currentSeq || !this.store.changes) {
      this.poll(`the data-flow database ${this.store.description} has no change feed`);
      return;
    }
    try {
      this.since = await this.store.currentSeq();
    } catch (error) {
      this.poll(this.failure(error));
    }
  }

  /**
   * Resolves on the first relevant change after the mark (plus the settle time), after `maxMs`, or
   * when `signal` aborts. Changes may replay from before the mark: waking once too often is harmless.
   */
  async waitForChange(maxMs: number, signal?: AbortSignal): Promise<Wake> {
    const deadline = Date.now() + maxMs;
    const changes = this.store.changes?.bind(this.store);
    let since = this.since;
    if (since === undefined || !changes) return this.pause(deadline, signal);
    try {
      for (;;) {
        const left = deadline - Date.now();
        if (signal?.aborted) return 'stopped';
        if (left <= 0) return 'interval';
        const asked = Date.now();
        const batch = await changes({ since, waitMs: left, limit: batchLimit, signal });
        since = batch.lastSeq;
        this.warned = false;
        if (batch.results.some((change) => isDataflowChange(change.id))) {
          await this.pause(Math.min(deadline, Date.now() + settleMs), signal);
          return signal?.aborted ? 'stopped' : 'change';
        }
        if (batch.results.length === 0 && Date.now() - asked < minPollGapMs) {
          await this.pause(Math.min(deadline, asked + minPollGapMs), signal);
        }
      }
    } catch (error) {
      this.poll(this.failure(error));
      return this.pause(deadline, signal);
    }
  }

  private async pause(until: number, signal: AbortSignal | undefined): Promise<Wake> {
    const ms = until - Date.now();
    if (ms > 0 && !signal?.aborted) await sleep(ms, undefined, { signal }).catch(() => {});
    return signal?.aborted ? 'stopped' : 'interval';
  }

  private poll(reason: string): void {
    if (this.warned) return;
    this.warned = true;
    this.onPolling(reason);
  }

  private failure(error: unknown): string {
    const message = error instanceof Error ? error.message : String(error);
    return redact(`reading the change feed of ${this.store.description} failed: ${message}`);
  }
}
