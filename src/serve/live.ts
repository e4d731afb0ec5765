/**
 * What keeps the status page live: followers of the databases' change feeds (polling where a backend
 * has none), and a hub that recomputes the status once per burst of changes and hands the result to
 * every connected page.
 */
import { setTimeout as sleep } from 'node:timers/promises';

import type { DocumentStore } from '../backends/types.js';
import { redact } from '../util/mask.js';

/** Longest long-poll; the backend's own timeout is not trusted (pouchdb-server ignores it). */
const longPollMs = 25_000;
/** A backend that answers a long-poll at once with nothing is not asked again in a tight loop. */
const minPollGapMs = 500;
/** After a feed fails, how long the page is polled before the feed is tried again. */
const feedRetryMs = 30_000;

export interface FollowerEvents {
  /** Something changed (or, while polling, may have changed). */
  onChange(): void;
  /** The feed is unavailable: the page is kept fresh by polling; said once per outage. */
  onPolling(reason: string): void;
}

/**
 * Follows one database's change feed until `signal` aborts. Sequences are opaque: passed back only as
 * `since`. Without a feed (or while it fails) it calls `onChange` every `pollMs` instead.
 */
export async function followChanges(
  store: DocumentStore,
  events: FollowerEvents,
  options: { pollMs: number; signal: AbortSignal },
): Promise<void> {
  const { signal } = options;
  const wait = (ms: number) => sleep(ms, undefined, { signal }).catch(() => {});
  const poll = async (until: number) => {
    while (!signal.aborted && Date.now() < until) {
      await wait(Math.min(options.pollMs, until - Date.now()));
      if (!signal.aborted) events.onChange();
    }
  };
  if (!store.currentSeq || !store.changes) {
    events.onPolling(`${store.description} has no change feed`);
    await poll(Number.POSITIVE_INFINITY);
    return;
  }
  while (!signal.aborted) {
    try {
      const first = await untilAborted(store.currentSeq(), signal);
      if (first === undefined) return;
      let since = first;
      while (!signal.aborted) {
        const asked = Date.now();
        const batch = await untilAborted(
          store.changes({ since, waitMs: longPollMs, limit: 1000, signal }),
          signal,
        );
        if (batch === undefined) return;
        since = batch.lastSeq;
        if (batch.results.some((change) => !change.id.startsWith('_design/'))) events.onChange();
        else if (Date.now() - asked < minPollGapMs) await wait(minPollGapMs);
      }
    } catch (error) {
      if (signal.aborted) return;
      const message = error instanceof Error ? error.message : String(error);
      events.onPolling(redact(`reading the change feed of ${store.description} failed: ${message}`));
      // Whatever was missed meanwhile is read again by the next computation.
      events.onChange();
      await poll(Date.now() + feedRetryMs);
    }
  }
}

/**
 * The promise's value, or undefined as soon as `signal` aborts. Node 20's fetch can lose an abort once
 * a response's headers have come (its request, collected by GC, no longer hears the signal): a
 * long-poll aborted then would go on until the server answers. Stopping does not wait for it; the
 * command closes the connection (`closeHttpConnections`).
 */
function untilAborted<T>(work: Promise<T>, signal: AbortSignal): Promise<T | undefined> {
  if (signal.aborted) {
    work.catch(() => {});
    return Promise.resolve(undefined);
  }
  return new Promise<T | undefined>((resolve, reject) => {
    const stop = () => resolve(undefined);
    signal.addEventListener('abort', stop, { once: true });
    work.then(
      (value) => {
        signal.removeEventListener('abort', stop);
        resolve(value);
      },
      (error: unknown) => {
        signal.removeEventListener('abort', stop);
        if (signal.aborted) resolve(undefined);
        else reject(error);
      },
    );
  });
}

export interface HubOptions {
  /** After the first change of a burst, wait this long for the rest before recomputing. */
  debounceMs: number;
  /** Told when a computation fails (the pages keep the last status). */
  onError(message: string): void;
}

type Listener<T> = (value: T) => void;

/**
 * One computation per burst of changes, shared by all pages: changes arriving while one is scheduled
 * or running are folded into the next. Pages get the newest value on subscribing and on each change.
 */
export class Hub<T> {
  private latest: T | undefined;
  private scheduled: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private dirty = false;
  private closed = false;
  private readonly listeners = new Set<Listener<T>>();
  /** How many computations ran: one per burst (tests read it). */
  computations = 0;

  constructor(
    private readonly compute: () => Promise<T>,
    private readonly options: HubOptions,
  ) {}

  get subscribers(): number {
    return this.listeners.size;
  }

  /** Subscribes a page; it gets the current value at once (computed when there is none yet). */
  subscribe(listener: Listener<T>): () => void {
    this.listeners.add(listener);
    if (this.latest !== undefined && !this.dirty && !this.scheduled && !this.running) listener(this.latest);
    else this.changed(0);
    return () => this.listeners.delete(listener);
  }

  /** Something changed: recompute after the debounce, once for however many changes come meanwhile. */
  changed(delayMs = this.options.debounceMs): void {
    if (this.closed) return;
    // With no page open there is nobody to tell; the next subscriber triggers a computation.
    if (this.listeners.size === 0) {
      this.latest = undefined;
      return;
    }
    if (this.running) {
      this.dirty = true;
      return;
    }
    if (this.scheduled) return;
    this.scheduled = setTimeout(() => {
      this.scheduled = undefined;
      this.running = this.run().finally(() => {
        this.running = undefined;
        if (this.dirty) {
          this.dirty = false;
          this.changed();
        }
      });
    }, delayMs);
  }

  private async run(): Promise<void> {
    try {
      this.computations++;
      const value = await this.compute();
      if (this.closed) return;
      this.latest = value;
      for (const listener of this.listeners) listener(value);
    } catch (error) {
      // A computation cut short by stopping (its databases closing) is no news.
      if (!this.closed) this.options.onError(redact(error instanceof Error ? error.message : String(error)));
    }
  }

  /**
   * Stops scheduling, and waits (at most `graceMs`) for a computation in flight to end before its
   * databases are closed; one that takes longer is dropped, its result or failure ignored.
   */
  async close(graceMs = 2000): Promise<void> {
    this.closed = true;
    if (this.scheduled) clearTimeout(this.scheduled);
    this.scheduled = undefined;
    this.listeners.clear();
    if (!this.running) return;
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([this.running, new Promise((resolve) => (timer = setTimeout(resolve, graceMs)))]);
    clearTimeout(timer);
  }
}

interface Cached<T> {
  value?: T;
  /** When the computation of `value` started. */
  at: number;
  /** Something changed after `value`'s computation started. */
  valueStale: boolean;
  pending?: Promise<T>;
  /** Something changed after the pending computation started. */
  pendingStale: boolean;
}

/**
 * The last value computed per key, valid until a change: requests between changes are answered at
 * once, and requests during a computation share it. A value older than `maxAgeMs` (with no change
 * since) is still given to a request that allows it, while a new one is computed behind it; heartbeat
 * ages are all that changes meanwhile. After a change, requests wait for a computation that began
 * after it.
 */
export class ChangeCache<T> {
  private readonly entries = new Map<string, Cached<T>>();

  constructor(
    private readonly compute: (key: string) => Promise<T>,
    private readonly maxAgeMs: number,
  ) {}

  invalidate(): void {
    for (const entry of this.entries.values()) {
      entry.valueStale = true;
      entry.pendingStale = true;
    }
  }

  get(key: string, options: { allowAged?: boolean } = {}): Promise<T> {
    let entry = this.entries.get(key);
    if (!entry) {
      entry = { at: 0, valueStale: true, pendingStale: true };
      this.entries.set(key, entry);
    }
    const unchanged = entry.value !== undefined && !entry.valueStale;
    if (unchanged && Date.now() - entry.at < this.maxAgeMs) return Promise.resolve(entry.value!);
    if (unchanged && options.allowAged) {
      if (!entry.pending) this.start(key, entry).catch(() => {});
      return Promise.resolve(entry.value!);
    }
    if (entry.pending && !entry.pendingStale) return entry.pending;
    // The computation in flight began before the last change: wait for it, then for one after it.
    if (entry.pending) return entry.pending.catch(() => undefined).then(() => this.get(key, options));
    return this.start(key, entry);
  }

  private start(key: string, entry: Cached<T>): Promise<T> {
    entry.pendingStale = false;
    const started = Date.now();
    const pending = this.compute(key).then(
      (value) => {
        entry.value = value;
        entry.at = started;
        entry.valueStale = entry.pendingStale;
        entry.pending = undefined;
        return value;
      },
      (error: unknown) => {
        entry.pending = undefined;
        throw error;
      },
    );
    entry.pending = pending;
    return pending;
  }
}
