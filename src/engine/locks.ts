import type { DocumentStore, StoredDocument } from '../backends/types.js';
import { usageError } from '../errors.js';
import { readResolved } from './conflicts.js';
import { runTypeBits } from './run-type.js';
import { calibrations, ids, type Calibration, type CalibrationLock, type RunNumber } from './types.js';

/** Run type bits that make a run a calibration run of each kind (DESIGN.md 3). */
const calibrationBits: Record<Calibration, string[]> = {
  PCA: ['PCA'],
  ECA: ['ECA', 'ECAPDST', 'ECATSLP'],
};

/** The calibrations a run type word sets a lock for. */
export function calibrationsOf(runTypeNames: readonly string[]): Calibration[] {
  return calibrations.filter((c) => calibrationBits[c].some((bit) => runTypeNames.includes(bit)));
}

// Keep the mapping honest against the bit table.
for (const bits of Object.values(calibrationBits)) {
  for (const bit of bits)
    if (!Object.values(runTypeBits).includes(bit)) throw new Error(`unknown bit ${bit}`);
}

/** A lock holds later runs while it is locked and the calibration group has not set `validto`. */
export function isHolding(lock: CalibrationLock | undefined): boolean {
  return lock !== undefined && lock.locked === true && (lock.validto === null || lock.validto === undefined);
}

function asLock(doc: StoredDocument | undefined, calibration: Calibration): CalibrationLock | undefined {
  if (!doc || doc.type !== 'calibration_lock' || typeof doc.run !== 'number') return undefined;
  return { ...(doc as CalibrationLock), calibration };
}

export async function readLocks(store: DocumentStore): Promise<Map<Calibration, CalibrationLock>> {
  const docs = await readResolved(store, calibrations.map(ids.calibrationLock));
  const locks = new Map<Calibration, CalibrationLock>();
  for (const calibration of calibrations) {
    const lock = asLock(docs.get(ids.calibrationLock(calibration)), calibration);
    if (lock) locks.set(calibration, lock);
  }
  return locks;
}

/** The earliest run a holding lock is set at: runs after it wait. */
export function holdingLock(locks: Map<Calibration, CalibrationLock>): CalibrationLock | undefined {
  const holding = [...locks.values()].filter((lock) => isHolding(lock));
  return holding.sort((a, b) => a.run - b.run)[0];
}

/** A holding lock holds the runs after the one it is set at (that calibration run itself is taken). */
export function holdsRun(lock: CalibrationLock | undefined, run: RunNumber): boolean {
  return lock !== undefined && isHolding(lock) && run > lock.run;
}

/** What a held watcher says, and what `oproc why` gives as the reason. */
export function lockReason(calibration: string, run: RunNumber): string {
  return `${calibration} calibration lock set at run ${run}: later runs wait until it is released (oproc locks release CONFIG ${calibration.split(' ')[0]} --validto RUN)`;
}

/** Writes a lock document, re-reading and retrying on a 409 so a concurrent change is never overwritten. */
async function updateLock(
  store: DocumentStore,
  calibration: Calibration,
  change: (current: CalibrationLock | undefined) => CalibrationLock | undefined,
): Promise<CalibrationLock | undefined> {
  const id = ids.calibrationLock(calibration);
  for (let attempt = 0; attempt < 10; attempt++) {
    const stored = (await readResolved(store, [id])).get(id);
    const next = change(asLock(stored, calibration));
    if (!next) return undefined;
    const [result] = await store.bulkWrite([{ ...stored, ...next, _id: id, _rev: stored?._rev }]);
    if (result?.ok) {
      // Re-checked with conflicts=true before it is reported (DESIGN.md 4, Clusters).
      await readResolved(store, [id]);
      return next;
    }
    if (result?.error !== 'conflict') throw new Error(`writing ${id} failed: ${result?.error}`);
  }
  throw new Error(`writing ${id} kept conflicting`);
}

/**
 * Whether a calibration run moves the lock (DESIGN.md 3): only a run later than the one the lock
 * document names. One at or before it was met already (by this watcher or another: one lock serves
 * every RAT version and filetype), and its lock was set then and released or moved on since.
 */
export function movesLock(lock: CalibrationLock | undefined, run: RunNumber): boolean {
  return lock === undefined || run > lock.run;
}

/**
 * Sets the calibration's lock at a run (a calibration run was processed), unless the lock document
 * already names that run or a later one. Returns the lock written, or undefined when it was left.
 */
export async function setLock(store: DocumentStore, calibration: Calibration, run: RunNumber, now: Date) {
  return updateLock(store, calibration, (current) => {
    // Set at this run or a later one (a resumed cycle, another watcher ahead): leave it, including a release.
    if (!movesLock(current, run)) return undefined;
    return {
      _id: ids.calibrationLock(calibration),
      type: 'calibration_lock',
      calibration,
      run,
      locked: true,
      validto: null,
      set_at: now.toISOString(),
      released_at: null,
      released_by: null,
    };
  });
}

/** `oproc locks release`: sets `validto` and releases; refuses a lock that is not set. */
export async function releaseLock(
  store: DocumentStore,
  calibration: Calibration,
  validto: RunNumber,
  by: string,
  now: Date,
): Promise<CalibrationLock> {
  const released = await updateLock(store, calibration, (current) => {
    if (!current) throw usageError(`there is no ${calibration} calibration lock to release`);
    if (!isHolding(current)) {
      throw usageError(
        `the ${calibration} calibration lock (run ${current.run}) is not set: released ${current.released_at ?? ''}` +
          `${current.released_by ? ` by ${current.released_by}` : ''}${current.validto !== null ? `, validto ${current.validto}` : ''}`,
      );
    }
    return { ...current, locked: false, validto, released_at: now.toISOString(), released_by: by };
  });
  return released!;
}
