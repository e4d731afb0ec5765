/** `oproc locks` and `oproc locks release`: the calibration locks as a user reads them. */
import type { DocumentStore } from '../backends/types.js';
import { usageError } from '../errors.js';
import { isHolding, readLocks } from '../engine/locks.js';
import { calibrations, type Calibration, type CalibrationLock, type RunNumber } from '../engine/types.js';

/** `set` holds runs after `run`; `released` (by `oproc locks release` or a `validto` set in the document) does not. */
export type LockState = 'set' | 'released' | 'none';

export interface LockView {
  calibration: Calibration;
  state: LockState;
  /** The calibration run the lock was set at. */
  run: RunNumber | null;
  validto: RunNumber | null;
  set_at: string | null;
  released_at: string | null;
  released_by: string | null;
}

/** CAL, case-insensitive; anything else is a usage error naming the valid ones. */
export function parseCalibration(text: string): Calibration {
  const found = calibrations.find((c) => c === text.trim().toUpperCase());
  if (!found) throw usageError(`unknown calibration "${text}" (valid: ${calibrations.join(', ')})`);
  return found;
}

export function viewOf(calibration: Calibration, lock: CalibrationLock | undefined): LockView {
  if (!lock) {
    return {
      calibration,
      state: 'none',
      run: null,
      validto: null,
      set_at: null,
      released_at: null,
      released_by: null,
    };
  }
  return {
    calibration,
    state: isHolding(lock) ? 'set' : 'released',
    run: lock.run,
    validto: lock.validto ?? null,
    set_at: lock.set_at ?? null,
    released_at: lock.released_at ?? null,
    released_by: lock.released_by ?? null,
  };
}

/** Every calibration, with or without a lock, in a fixed order. */
export async function lockViews(store: DocumentStore): Promise<LockView[]> {
  const locks = await readLocks(store);
  return calibrations.map((c) => viewOf(c, locks.get(c)));
}

/** One line per calibration: `PCA  set at run 300003 (2026-...): holding later runs`. */
export function describeLock(view: LockView): string {
  const name = view.calibration.padEnd(4);
  if (view.state === 'none') return `${name}no lock`;
  const setAt = `run ${view.run}${view.set_at ? ` (set ${view.set_at})` : ''}`;
  if (view.state === 'set') return `${name}set at ${setAt}: holding later runs`;
  return `${name}released: set at ${setAt}, validto ${view.validto ?? '-'}${releasedHow(view)}`;
}

function releasedHow(view: LockView): string {
  if (view.released_by)
    return `, released by ${view.released_by}${view.released_at ? ` at ${view.released_at}` : ''}`;
  // Not released by oproc: the calibration group edited the document.
  return view.validto !== null ? ' (set in the lock document)' : ', unlocked in the lock document';
}
