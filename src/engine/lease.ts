import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';

import type { DocumentStore, StoredDocument } from '../backends/types.js';
import { OprocError } from '../errors.js';
import { processAlive } from '../util/process.js';
import { leafRevisions } from './conflicts.js';

export interface LeaseDocument extends StoredDocument {
  type: 'lease';
  holder: string;
  /** Where the holder runs, so a restarted watcher can tell its killed predecessor is gone. */
  host?: string;
  pid?: number;
  acquired: string;
  heartbeat: string;
  expires: string;
  /** Set by a holder that stopped on purpose (DESIGN.md 4a): when, and how. The lease is free, and no crash. */
  released?: string;
  /** How it stopped: `once`, `block-done`, a signal's name (`SIGTERM`), or `error`. */
  stopped?: string;
}

/** What a lease read found: who holds it now (another, live and unexpired), if anyone. */
export type LeaseAttempt =
  | {
      acquired: true;
      /** The holder it was taken over from, if the lease was someone's and not released (expired, or a dead holder's). */
      from?: LeaseDocument;
      /** The holder before, if it released the lease (stopped on purpose): no takeover. */
      released?: LeaseDocument;
    }
  | { acquired: false; holder: LeaseDocument };

/**
 * The host name written in leases: `OPROC_HOSTNAME` when set (containers, whose host names are not
 * the machine's, and tests of a standby on "another host"), else the system's.
 */
export function leaseHost(): string {
  return process.env.OPROC_HOSTNAME || hostname();
}

/**
 * A watcher's lease (DESIGN.md 4): one document whose CouchDB revision is the lock. Taken when free
 * or expired, renewed by heartbeat; a holder that finds another's revision has lost it.
 *
 * On a CouchDB cluster two writes from one revision through different nodes can both be accepted;
 * each copy takes only one of them, so at most one gathers the write quorum (201) and the other is
 * accepted (202) or refused (409). So only a 201 takes or renews the lease; a 202 writer re-reads
 * with `conflicts=true` and withdraws its revision when another leaf exists. Every read looks at
 * all leaf revisions: the lease is held while any leaf names another live holder that has not
 * expired, and whoever writes it next deletes the other leaves in the same request.
 */
export class Lease {
  readonly holder: string;
  private acquiredAt: string | undefined;
  /** Until when this process may write, by its own clock: a confirmed write's start plus the lease. */
  private confirmedUntil = 0;
  /** A heartbeat in flight: a release waits for it, so the heartbeat cannot write the lease back after. */
  private renewing: Promise<unknown> | undefined;

  constructor(
    private readonly store: DocumentStore,
    readonly id: string,
    who: string,
    private readonly ttlMs: number,
    private readonly now: () => Date,
  ) {
    this.holder = `${who} pid ${process.pid} ${randomBytes(3).toString('hex')}`;
  }

  /** Takes the lease, or throws naming who holds it and until when (`--once`). */
  async acquire(): Promise<LeaseDocument | undefined> {
    for (let attempt = 0; attempt < 5; attempt++) {
      const result = await this.tryAcquire();
      if (result.acquired) return result.from;
      if (result.holder.holder !== this.holder) throw heldError(this.id, result.holder);
    }
    // Giving up: withdraw the unconfirmed revision, so it does not hold others back until it expires.
    await this.release().catch(() => {});
    throw new OprocError(
      `could not take ${this.id}: no write of it was confirmed (other watchers kept taking it, or the cluster answered 202: fewer copies than its write quorum, nodes down?)`,
      2,
    );
  }

  /** One attempt: takes the lease when it is free, expired or a dead holder's on this host. */
  async tryAcquire(): Promise<LeaseAttempt> {
    const leaves = await this.leaves();
    const other = liveHolder(leaves, this.holder, this.now());
    if (other) {
      await this.withdraw(leaves);
      return { acquired: false, holder: other };
    }
    const mine = leaves.find((l) => l.holder === this.holder);
    const previous = mine ? undefined : newest(leaves);
    const outcome = await this.write(mine ?? previous, leaves);
    if (outcome === 'confirmed') {
      if (!previous) return { acquired: true };
      return { acquired: true, ...(previous.released ? { released: previous } : { from: previous }) };
    }
    // Not confirmed (409, or 202 on a cluster): who has it now?
    const after = await this.leaves();
    const holder = liveHolder(after, this.holder, this.now());
    if (holder) await this.withdraw(after);
    return { acquired: false, holder: holder ?? ownPlaceholder(this.holder, this.id) };
  }

  /**
   * Extends the lease. `lost`: another holder has it (the caller must stop writing); `unconfirmed`:
   * written without a quorum (202), so not extended. A failed request extends nothing either: the
   * fence stops writes when the confirmed time runs out.
   */
  renew(): Promise<'renewed' | 'unconfirmed' | 'lost'> {
    const renewing = this.renewOnce();
    this.renewing = renewing;
    return renewing;
  }

  private async renewOnce(): Promise<'renewed' | 'unconfirmed' | 'lost'> {
    const leaves = await this.leaves();
    const mine = leaves.find((l) => l.holder === this.holder);
    if (!mine || liveHolder(leaves, this.holder, this.now())) return 'lost';
    const outcome = await this.write(mine, leaves);
    return outcome === 'confirmed' ? 'renewed' : outcome === 'conflict' ? 'lost' : 'unconfirmed';
  }

  /** True while this process may still write: confirmed, by its own clock, and still named in the lease. */
  async stillHeld(): Promise<boolean> {
    if (!this.confirmed()) return false;
    const leaves = await this.leaves();
    return leaves.some((l) => l.holder === this.holder) && !liveHolder(leaves, this.holder, this.now());
  }

  /** By this process's clock alone: a confirmed write less than a lease ago. */
  confirmed(): boolean {
    return this.now().getTime() < this.confirmedUntil;
  }

  /**
   * Gives the lease up: it expires now. `stopped` (how a watcher stopped on purpose) also marks it
   * released, so `oproc status` shows the watcher as stopped, not stale, and the next holder takes a
   * free lease rather than taking over a crashed one's. Re-read and retried on a conflict.
   */
  async release(stopped?: string): Promise<void> {
    await this.renewing?.catch(() => {});
    this.confirmedUntil = 0;
    for (let attempt = 0; attempt < 5; attempt++) {
      const leaves = await this.leaves();
      const mine = leaves.find((l) => l.holder === this.holder);
      if (!mine) return;
      const now = this.now().toISOString();
      // Beside another leaf (a cluster), withdrawing this holder's leaf releases it and leaves no conflict.
      const [result] = await this.store.bulkWrite([
        leaves.length > 1
          ? { _id: mine._id, _rev: mine._rev!, _deleted: true }
          : { ...mine, expires: now, ...(stopped ? { released: now, stopped } : {}) },
      ]);
      if (result?.ok || result?.error !== 'conflict') return;
    }
  }

  /** Every leaf revision of the lease (the winner and its conflicts), deleted ones left out. */
  private async leaves(): Promise<LeaseDocument[]> {
    return (await leafRevisions(this.store, this.id)) as LeaseDocument[];
  }

  /** Deletes this process's own unconfirmed revision when another holder's leaf stands beside it. */
  private async withdraw(leaves: readonly LeaseDocument[]): Promise<void> {
    const mine = leaves.filter((l) => l.holder === this.holder && leaves.length > 1);
    if (mine.length === 0) return;
    await this.store.bulkWrite(mine.map((l) => ({ _id: l._id, _rev: l._rev!, _deleted: true })));
  }

  /**
   * Writes the lease on `base` (a leaf, or none for a new lease) and deletes every other leaf in the
   * same request. Confirmed only on a quorum write (not 202).
   */
  private async write(
    base: LeaseDocument | undefined,
    leaves: readonly LeaseDocument[],
  ): Promise<'confirmed' | 'unconfirmed' | 'conflict'> {
    const now = this.now();
    // When this holder first took the lease; heartbeats keep it.
    this.acquiredAt ??= now.toISOString();
    const doc: LeaseDocument = {
      _id: this.id,
      ...(base?._rev ? { _rev: base._rev } : {}),
      type: 'lease',
      holder: this.holder,
      host: leaseHost(),
      pid: process.pid,
      acquired: this.acquiredAt,
      heartbeat: now.toISOString(),
      expires: new Date(now.getTime() + this.ttlMs).toISOString(),
    };
    const losers = leaves
      .filter((l) => l._rev !== base?._rev)
      .map((l) => ({ _id: l._id, _rev: l._rev!, _deleted: true }));
    const [result] = await this.store.bulkWrite([doc, ...losers]);
    if (result?.ok) {
      if (result.accepted) return 'unconfirmed';
      this.confirmedUntil = now.getTime() + this.ttlMs;
      return 'confirmed';
    }
    if (result?.error === 'conflict') return 'conflict';
    throw new Error(`writing ${this.id} failed: ${result?.error}`);
  }
}

const unfencedStore = Symbol('unfenced store');

/**
 * The store behind a fence, for the one write a holder that lost its lease must still make: marking
 * abandoned the journal it has just written itself (it claims no runs and writes no pass). A holder
 * paused between the fence's check and its write wakes to write that journal after another took
 * over; left unfinished, it would claim runs the new holder wrote under its own submission.
 */
export function unfenced(store: DocumentStore): DocumentStore {
  return (store as unknown as Record<symbol, DocumentStore | undefined>)[unfencedStore] ?? store;
}

/**
 * A store whose writes each check first that the lease is still held (DESIGN.md 4): a watcher paused
 * past its lease (SIGSTOP, a frozen VM) and woken must not write a pass, a journal or its state.
 */
export function fencedStore(store: DocumentStore, lease: Lease, onLost: () => void): DocumentStore {
  return new Proxy(store, {
    get(target, key, receiver) {
      if (key === unfencedStore) return target;
      if (key !== 'bulkWrite') return Reflect.get(target, key, receiver) as unknown;
      return async (docs: readonly StoredDocument[]) => {
        if (!(await lease.stillHeld())) {
          onLost();
          throw new OprocError(`lost the lease ${lease.id}: stopped without writing more`, 1);
        }
        return target.bulkWrite(docs);
      };
    },
  });
}

export function heldError(id: string, holder: LeaseDocument): OprocError {
  return new OprocError(`another watcher holds ${id}: ${describeHolder(holder)}`, 2, [
    'stop that watcher first, or wait for its lease to expire (without --once a watcher waits as a standby)',
  ]);
}

/** `HOLDER (host H), last heartbeat T, expires T`. */
export function describeHolder(lease: LeaseDocument): string {
  return `${lease.holder}${lease.host ? ` (host ${lease.host})` : ''}, last heartbeat ${lease.heartbeat}, expires ${lease.expires}`;
}

/** The leaf naming another holder that is alive and unexpired, latest expiry first; none when free. */
function liveHolder(leaves: readonly LeaseDocument[], self: string, now: Date): LeaseDocument | undefined {
  return leaves
    .filter((l) => l.holder !== self && new Date(l.expires) > now && !deadHolder(l))
    .sort((a, b) => b.expires.localeCompare(a.expires))[0];
}

function newest(leaves: readonly LeaseDocument[]): LeaseDocument | undefined {
  return [...leaves].sort((a, b) => String(b.heartbeat).localeCompare(String(a.heartbeat)))[0];
}

/** After an unconfirmed write with no other holder in sight: ours, but not to be acted on. */
function ownPlaceholder(holder: string, id: string): LeaseDocument {
  const now = new Date().toISOString();
  return { _id: id, type: 'lease', holder, acquired: now, heartbeat: now, expires: now };
}

/** A holder on this host whose process is gone (a watcher killed outright): its lease is free. */
function deadHolder(lease: LeaseDocument): boolean {
  return (
    lease.host === leaseHost() &&
    typeof lease.pid === 'number' &&
    lease.pid !== process.pid &&
    !processAlive(lease.pid)
  );
}
