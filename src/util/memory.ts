import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

let collect: (() => void) | null | undefined;

/**
 * A full garbage collection, now. A long reprocess keeps little (some 35 MB at 200,000
 * runs) but makes a lot of short-lived garbage (request bodies and pages of documents of a few MB
 * each); V8 lets its heap grow far past what is live before it collects, which put the peak RSS of
 * a reprocess of 200,000 runs at about 300 MB. Called between batches, at most every few seconds,
 * it keeps the footprint near what is live, for some 20–50 ms each time. Where the runtime
 * refuses, it does nothing.
 */
export function collectGarbage(): void {
  if (collect === undefined) {
    try {
      setFlagsFromString('--expose-gc');
      collect = runInNewContext('gc') as () => void;
    } catch {
      collect = null;
    }
  }
  collect?.();
}
