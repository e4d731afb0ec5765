import { getHeapStatistics, setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

let collect: (() => void) | null | undefined;

/**
 * A full garbage collection, now. A long reprocess keeps little (some 35 MB at 200,000
 * runs) but makes a lot of short-lived garbage (request bodies and pages of documents of a few MB
 * each); V8 lets its heap grow far past what is live before it collects, which put the peak RSS of
 * a reprocess of 200,000 runs at about 300 MB. Where the runtime refuses, it does nothing.
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

/**
 * Collects the garbage (`collectGarbage`) once the heap has grown by `growthBytes` since the last
 * collection: called between batches, it keeps the footprint near what is live, for some 20–50 ms
 * a collection. By growth, not by time: a faster machine makes more garbage a second. A reprocess of
 * 200,000 runs on Apache CouchDB peaked at 284 to 287 MB collecting every 3 s, at 219 to 231 MB
 * collecting after 48 MB of growth, in the same time (docs/PERFORMANCE.md).
 */
export function garbageCollector(growthBytes: number): { betweenBatches(): void } {
  let after = getHeapStatistics().used_heap_size;
  return {
    betweenBatches() {
      if (getHeapStatistics().used_heap_size - after < growthBytes) return;
      collectGarbage();
      after = getHeapStatistics().used_heap_size;
    },
  };
}
