import { expect } from 'chai';
import fc from 'fast-check';

import { readAhead } from '../../src/util/read-ahead.js';

/** A source that records when each item's production starts and whether it was closed. */
function recordingSource(items: readonly number[], failAt?: number) {
  const started: number[] = [];
  const state = { closed: false };
  async function* source(): AsyncGenerator<number> {
    try {
      for (const [i, item] of items.entries()) {
        started.push(i);
        await new Promise((resolve) => setImmediate(resolve));
        if (i === failAt) throw new Error(`item ${i} failed`);
        yield item;
      }
    } finally {
      state.closed = true;
    }
  }
  return { source: source(), started, state };
}

describe('readAhead', () => {
  it('yields every item once, in order, whatever the depth (property)', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(fc.integer()), fc.integer({ min: 1, max: 4 }), async (items, depth) => {
        const seen: number[] = [];
        for await (const item of readAhead(recordingSource(items).source, depth)) seen.push(item);
        expect(seen).to.deep.equal(items);
      }),
    );
  });

  it('produces up to `depth` items ahead while the consumer holds one', async () => {
    for (const depth of [1, 2]) {
      const { source, started } = recordingSource([10, 11, 12, 13, 14]);
      const iterator = readAhead(source, depth);
      expect((await iterator.next()).value).to.equal(10);
      await new Promise((resolve) => setTimeout(resolve, 20));
      // Item 0 is with the consumer; items 1..depth are being (or were) produced, no further.
      expect(started, `depth ${depth}`).to.deep.equal([0, 1, 2].slice(0, depth + 1));
      await iterator.return(undefined);
    }
  });

  it('surfaces an error when the consumer reaches the failed item, after the items before it', async () => {
    const { source } = recordingSource([1, 2, 3, 4], 2);
    const seen: number[] = [];
    let failure: unknown;
    try {
      for await (const item of readAhead(source, 2)) seen.push(item);
    } catch (error) {
      failure = error;
    }
    expect(seen).to.deep.equal([1, 2]);
    expect(failure).to.be.instanceOf(Error).with.property('message', 'item 2 failed');
  });

  it('closes the source when the consumer stops early, after the items in production settle', async () => {
    const { source, state } = recordingSource([1, 2, 3, 4, 5], 3);
    for await (const item of readAhead(source, 2)) if (item === 1) break;
    expect(state.closed).to.equal(true);
  });
});
