import { rowsInOrderOf, writeInRounds } from '@oproc/couch-common';
import { expect } from 'chai';
import fc from 'fast-check';

import type { StoredDocument } from '../../src/index.js';

/** Documents with ids from a small alphabet, so repeats are common; `n` is each one's place. */
const documents = fc
  .array(fc.constantFrom('job_1', 'job_2', 'job_3', 'submission_9'), { maxLength: 12 })
  .map((ids) => ids.map((_id, n): StoredDocument => ({ _id, n })));

describe('bulk writes with a repeated id (writeInRounds)', () => {
  it('sends each id at most once a request and answers in the order of the documents', async () => {
    await fc.assert(
      fc.asyncProperty(documents, async (docs) => {
        const requests: StoredDocument[][] = [];
        const answers = await writeInRounds(docs, async (round) => {
          requests.push([...round]);
          // Answered in reverse, as pouchdb-server may: the rows are matched by id.
          const rows = round.map((doc) => ({ id: doc._id, n: doc.n })).reverse();
          return rowsInOrderOf(round, rows);
        });
        for (const request of requests) {
          expect(new Set(request.map((doc) => doc._id)).size).to.equal(request.length);
        }
        expect(
          requests
            .flat()
            .map((doc) => doc.n)
            .sort((a, b) => Number(a) - Number(b)),
        ).to.deep.equal(docs.map((doc) => doc.n));
        expect(answers.map((row) => (row as { n: number }).n)).to.deep.equal(docs.map((doc) => doc.n));
        const repeated = new Set(docs.map((doc) => doc._id)).size < docs.length;
        expect(requests.length, 'requests').to.equal(repeated ? Math.max(...countsOf(docs)) : 1);
      }),
    );
  });

  it('writes the first copy of an id before the second', async () => {
    const requests: unknown[][] = [];
    await writeInRounds(
      [
        { _id: 'job_5_Processing', side: 'merged' },
        { _id: 'job_5_Processing', _deleted: true },
        { _id: 'job_6_Processing' },
      ],
      async (round) => {
        requests.push(round.map((doc) => doc.side ?? doc._deleted ?? doc._id));
        return round.map(() => ({}));
      },
    );
    expect(requests).to.deep.equal([['merged', 'job_6_Processing'], [true]]);
  });
});

function countsOf(docs: readonly StoredDocument[]): number[] {
  const counts = new Map<string, number>();
  for (const doc of docs) counts.set(doc._id, (counts.get(doc._id) ?? 0) + 1);
  return [...counts.values()];
}
