/**
 * Iterates `source` one item ahead: while the consumer works on an item, the next one is already
 * being produced. Reprocessing uses it to read and plan batch N+1 while batch N is written, so the
 * databases' reads and writes overlap instead of taking turns.
 *
 * An error producing the next item surfaces when the consumer asks for it. When the consumer stops
 * early, the item in production is awaited (and dropped) before the source is closed.
 */
export async function* readAhead<T>(source: AsyncIterable<T>): AsyncGenerator<T> {
  const iterator = source[Symbol.asyncIterator]();
  let next = iterator.next();
  let finished = false;
  try {
    for (;;) {
      const current = await next;
      if (current.done) {
        finished = true;
        return;
      }
      next = iterator.next();
      // Handled when awaited at the top of the loop; this only keeps it from counting as unhandled.
      next.catch(() => {});
      yield current.value;
    }
  } finally {
    if (!finished) {
      await next.catch(() => {});
      await iterator.return?.();
    }
  }
}
