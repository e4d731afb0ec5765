import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';

import type { DocumentStore, StoredDocument } from '../backends/types.js';
import { OprocError } from '../errors.js';
import { processAlive } from '../util/process.js';

interface LeaseDocument extends StoredDocument {
  type: 'lease';
  holder: string;
  /** Where the holder runs, so a restarted watcher can tell its killed predecessor is gone. */
  host?: string;
  pid?: number;
  acquired: string;
  heartbeat: string;
  expires: string;
}

/**
 * A watcher's lease (DESIGN.md 4): one document whose CouchDB revision is the lock. Taken when free
 * or expired, renewed by heartbeat; a holder that finds another's revision has lost it.
 */
export class Lease {
  readonly holder: string;
  private rev: string | undefined;
  private acquiredAt: string | undefined;

  constructor(
    private readonly store: DocumentStore,
    readonly id: string,
    who: string,
    private readonly ttlMs: number,
    private readonly now: () => Date,
  ) {
    this.holder = `${who} pid ${process.pid} ${randomBytes(3).toString('hex')}`;
  }

  /** Takes the lease, or throws naming who holds it and until when. */
  async acquire(): Promise<void> {
    for (let attempt = 0; attempt < 5; attempt++) {
      const current = await this.read();
      if (
        current &&
        current.holder !== this.holder &&
        new Date(current.expires) > this.now() &&
        !deadHolder(current)
      ) {
        throw new OprocError(
          `another watcher holds ${this.id}: ${current.holder}, last heartbeat ${current.heartbeat}, expires ${current.expires}`,
          2,
          ['stop that watcher first, or wait for its lease to expire'],
        );
      }
      if (await this.write(current?._rev)) return;
    }
    throw new OprocError(`could not take ${this.id}: other watchers keep taking it`, 2);
  }

  /** Extends the lease; false when another holder has it now (the caller must stop writing). */
  async renew(): Promise<boolean> {
    if (await this.write(this.rev)) return true;
    const current = await this.read();
    return current?.holder === this.holder && (await this.write(current._rev));
  }

  async release(): Promise<void> {
    const current = await this.read();
    if (current?.holder !== this.holder) return;
    await this.store.bulkWrite([{ ...current, expires: this.now().toISOString(), _rev: current._rev }]);
  }

  private async read(): Promise<LeaseDocument | undefined> {
    return (await this.store.getMany([this.id])).get(this.id) as LeaseDocument | undefined;
  }

  private async write(rev: string | undefined): Promise<boolean> {
    const now = this.now();
    // When this holder first took the lease; heartbeats keep it.
    this.acquiredAt ??= now.toISOString();
    const doc: LeaseDocument = {
      _id: this.id,
      ...(rev ? { _rev: rev } : {}),
      type: 'lease',
      holder: this.holder,
      host: hostname(),
      pid: process.pid,
      acquired: this.acquiredAt,
      heartbeat: now.toISOString(),
      expires: new Date(now.getTime() + this.ttlMs).toISOString(),
    };
    const [result] = await this.store.bulkWrite([doc]);
    if (result?.ok) {
      this.rev = result.rev;
      // In a CouchDB cluster a write may be accepted by fewer than a quorum: read it back.
      const back = await this.read();
      return back?.holder === this.holder;
    }
    if (result?.error === 'conflict') return false;
    throw new Error(`writing ${this.id} failed: ${result?.error}`);
  }
}

/** A holder on this host whose process is gone (a watcher killed outright): its lease is free. */
function deadHolder(lease: LeaseDocument): boolean {
  return (
    lease.host === hostname() &&
    typeof lease.pid === 'number' &&
    lease.pid !== process.pid &&
    !processAlive(lease.pid)
  );
}
