/**
 * Iterates `source` up to `depth` items ahead: while the consumer works on an item, the next ones
 * are already being produced. Reprocessing uses it to read and plan batch N+1 while batch N is
 * written, so the databases' reads and writes overlap instead of taking turns.
 *
 * An error producing an item surfaces when the consumer reaches it. When the consumer stops early,
 * the items in production are awaited (and dropped) before the source is closed.
 */
export async function* readAhead<T>(source: AsyncIterable<T>, depth = 1): AsyncGenerator<T> {
  const iterator = source[Symbol.asyncIterator]();
  // An async generator answers queued next() calls one after another, in order.
  const ahead: Promise<IteratorResult<T>>[] = [];
  const fill = (count: number) => {
    while (ahead.length < count) {
      const next = iterator.next();
      // Handled when the consumer reaches it; this only keeps it from counting as unhandled.
      next.catch(() => {});
      ahead.push(next);
    }
  };
  let finished = false;
  try {
    for (;;) {
      fill(1);
      const current = await ahead.shift()!;
      if (current.done) {
        finished = true;
        return;
      }
      fill(depth);
      yield current.value;
    }
  } finally {
    if (!finished) {
      await Promise.allSettled(ahead);
      await iterator.return?.();
    }
  }
}
