import { OprocError } from '../errors.js';

/** The longest a database request may take before the CouchDB client gives it up, with its grace. */
const longestRequestMs = 150_000;

/**
 * How long a watcher may go without progress before it counts as stalled: `watch.stall_seconds`,
 * or by default three leases, and never less than an interval plus the longest request.
 */
export function stallLimitMs(watch: {
  intervalSeconds: number;
  leaseSeconds: number;
  stallSeconds?: number;
}): number {
  if (watch.stallSeconds !== undefined) return watch.stallSeconds * 1000;
  return Math.max(3 * watch.leaseSeconds * 1000, watch.intervalSeconds * 1000 + longestRequestMs);
}

/**
 * Calls that may wait long without failing: a view read waits for the server to build its index
 * (minutes on millions of documents, after an upgrade or a large reprocess). Each counts as
 * progress for up to `patience` times the limit, not forever: a server that stopped answering
 * (pouchdb-server shows no build) would otherwise hold the watcher as before.
 */
const patientCalls = new Set<string | symbol>(['queryView']);
const patience = 10;

/**
 * What a watcher's heartbeat renews on: proof that its loop still moves. Progress is a database call
 * that ended (answered or failed) through a store this watchdog wraps, a view read still waiting
 * for its index, or a turn of the loop. A watcher parked on a promise nothing settles makes none;
 * then its heartbeat must stop, or its lease stays live for weeks while no run is handled and no
 * standby may take over.
 */
export class Watchdog {
  private last: number;
  /** When each view read under way (`patientCalls`) began. */
  private readonly viewReads = new Set<{ since: number }>();
  private stalledError: OprocError | undefined;
  /** How to reject each race still under way, should the watchdog fire. */
  private readonly racing = new Set<(error: OprocError) => void>();

  constructor(
    readonly limitMs: number,
    private readonly now: () => number = Date.now,
  ) {
    this.last = now();
  }

  /** The loop moved. */
  progress(): void {
    this.last = this.now();
  }

  /** Whether it has stalled, as last checked. */
  get hasStalled(): boolean {
    return this.stalledError !== undefined;
  }

  /**
   * True while the loop has moved within the limit. Past it, the watchdog fires once: every `race`
   * rejects with an error that says how long nothing moved.
   */
  check(): boolean {
    if (this.stalledError) return false;
    const now = this.now();
    if ([...this.viewReads].some((read) => now - read.since <= patience * this.limitMs)) this.last = now;
    const idleMs = now - this.last;
    if (idleMs <= this.limitMs) return true;
    this.stalledError = new OprocError(
      `no progress for ${Math.round(idleMs / 1000)} s (limit ${Math.round(this.limitMs / 1000)} s): no database call ended and no cycle turned; stopped so that another watcher can take over`,
      1,
    );
    for (const reject of this.racing) reject(this.stalledError);
    this.racing.clear();
    return false;
  }

  /**
   * `work`, or the stall error as soon as the watchdog fires. Not `Promise.race` with a promise that
   * settles only on a stall: each race would add a reaction to that promise, holding the race's
   * result, for as long as the watcher lives (a watcher races three times a cycle, for weeks).
   */
  race<T>(work: Promise<T>): Promise<T> {
    if (this.stalledError) return Promise.reject(this.stalledError);
    return new Promise<T>((resolve, reject) => {
      this.racing.add(reject);
      void work.then(resolve, reject).finally(() => this.racing.delete(reject));
    });
  }

  /** `target` with each promise its methods return counted as progress when it settles. */
  watch<T extends object>(target: T): T {
    const progress = () => this.progress();
    const reads = this.viewReads;
    const now = this.now;
    return new Proxy(target, {
      get(object, key, receiver) {
        const value = Reflect.get(object, key, receiver) as unknown;
        if (typeof value !== 'function') return value;
        const patient = patientCalls.has(key);
        return (...args: unknown[]) => {
          const result = (value as (...a: unknown[]) => unknown).apply(object, args);
          if (!(result instanceof Promise)) return result;
          if (!patient) return result.finally(progress);
          const read = { since: now() };
          reads.add(read);
          return result.finally(() => {
            reads.delete(read);
            progress();
          });
        };
      },
    });
  }
}
