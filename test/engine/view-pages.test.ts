import { expect } from 'chai';

import type { DocumentStore, ViewQuery, ViewRow } from '../../src/backends/types.js';
import { viewPages } from '../../src/engine/view-pages.js';

/** A view over `rows` (kept sorted by key, then id) that answers as CouchDB does: from startkey, inclusive. */
function viewOf(rows: ViewRow[], afterEachPage: (answer: ViewRow[]) => void = () => {}): DocumentStore {
  const order = (r: ViewRow) => JSON.stringify([r.key, r.id]);
  return {
    queryView: async (_design: string, _view: string, query: ViewQuery) => {
      const from = JSON.stringify(query.startkey);
      const sorted = [...rows].sort((a, b) => order(a).localeCompare(order(b)));
      const answer = sorted
        .filter((r) => JSON.stringify(r.key) >= from)
        .slice(query.skip ?? 0, (query.skip ?? 0) + (query.limit ?? sorted.length));
      afterEachPage(answer);
      return answer;
    },
  } as unknown as DocumentStore;
}

const row = (key: number, id: string): ViewRow => ({ key, id, value: null });
const read = async (store: DocumentStore, pageSize: number) => {
  const got: string[] = [];
  for await (const rows of viewPages(store, 'd', 'v', { startkey: 0, endkey: 9, pageSize }))
    got.push(...rows.map((r) => r.id));
  return got;
};

describe('engine: reading a view page by page', () => {
  it('misses nothing when the row a page ended on leaves the view before the next page', async () => {
    const rows = [1, 2, 3, 4, 5, 6, 7].map((k) => row(k, `d${k}`));
    // After each page, its last row's document changes and its row leaves the view (as a retry does).
    const store = viewOf(rows, (answer) => {
      const last = answer.at(-1);
      if (last) rows.splice(rows.indexOf(last), 1);
    });
    expect(await read(store, 2)).to.deep.equal(['d1', 'd2', 'd3', 'd4', 'd5', 'd6', 'd7']);
  });

  it('gives every row of a key shared by more rows than a page holds, once', async () => {
    const rows = [row(1, 'a'), ...['b', 'c', 'd', 'e', 'f'].map((id) => row(2, id)), row(3, 'g')];
    expect(await read(viewOf(rows), 2)).to.deep.equal(['a', 'b', 'c', 'd', 'e', 'f', 'g']);
  });
});
