import type { DocumentStore, ViewKey, ViewRow } from '../backends/types.js';

/**
 * The rows of a view between two keys (inclusive), a page at a time. Each page restarts at the
 * previous page's last key, skipping the rows already read with that key: one where keys are unique,
 * more where several rows share a key. So no row is read twice or missed, whatever the page size, and
 * no `_find` bookmark is needed (pouchdb-server ignores them: DESIGN.md 8).
 */
export async function* viewPages(
  store: DocumentStore,
  design: string,
  view: string,
  range: { startkey: ViewKey; endkey: ViewKey; pageSize: number; includeDocs?: boolean },
): AsyncGenerator<ViewRow[]> {
  let startkey = range.startkey;
  let skip = 0;
  for (;;) {
    const rows = await store.queryView(design, view, {
      startkey,
      endkey: range.endkey,
      skip,
      limit: range.pageSize,
      includeDocs: range.includeDocs,
    });
    if (rows.length) yield rows;
    if (rows.length < range.pageSize) return;
    const lastKey = rows[rows.length - 1]!.key;
    const atLastKey = trailingWithKey(rows, lastKey);
    // A page made only of rows with the key it started at: skip those too, as well as the earlier ones.
    skip = atLastKey === rows.length && sameKey(lastKey, startkey) ? skip + atLastKey : atLastKey;
    startkey = lastKey;
  }
}

function trailingWithKey(rows: readonly ViewRow[], key: unknown): number {
  let n = 0;
  while (n < rows.length && sameKey(rows[rows.length - 1 - n]!.key, key)) n++;
  return n;
}

function sameKey(a: unknown, b: unknown): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}
