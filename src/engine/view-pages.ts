import type { DocumentStore, ViewKey, ViewRow } from '../backends/types.js';

/**
 * The rows of a view between two keys (inclusive), a page at a time. Each page restarts at the
 * previous page's last key, inclusive, and drops the rows of that key it has already given (by
 * document id). So no row is read twice or missed, whatever the page size, and no `_find` bookmark
 * is needed (pouchdb-server ignores them: DESIGN.md 8). Not `skip`: a row at the last key that
 * left the view meanwhile (a grid client, or the reader itself, changed its document) would make
 * `skip=1` pass over the next row instead.
 */
export async function* viewPages(
  store: DocumentStore,
  design: string,
  view: string,
  range: { startkey: ViewKey; endkey: ViewKey; pageSize: number; includeDocs?: boolean },
): AsyncGenerator<ViewRow[]> {
  let startkey = range.startkey;
  /** Ids of the rows already given with the key `startkey`. */
  let given = new Set<string>();
  for (;;) {
    const limit = range.pageSize + given.size;
    const rows = await store.queryView(design, view, {
      startkey,
      endkey: range.endkey,
      limit,
      includeDocs: range.includeDocs,
    });
    const fresh = given.size ? rows.filter((r) => !(given.has(r.id) && sameKey(r.key, startkey))) : rows;
    if (fresh.length) yield fresh;
    if (rows.length < limit) return;
    const lastKey = rows[rows.length - 1]!.key;
    // A page that stayed on its first key adds to the ids given with it.
    const next = sameKey(lastKey, startkey) ? given : new Set<string>();
    for (const row of rows) if (sameKey(row.key, lastKey)) next.add(row.id);
    given = next;
    startkey = lastKey;
  }
}

function sameKey(a: unknown, b: unknown): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}
