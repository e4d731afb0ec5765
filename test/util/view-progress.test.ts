import { expect } from 'chai';

import { indexerProgress, progressLine } from '../../plugins/couchdb/src/views.js';
import { buildDisplay, describeBuild } from '../../src/cli/view-progress.js';

/** `_active_tasks` as Apache CouchDB 3.5 answers it while it builds a database of two shards. */
const tasks = [
  {
    type: 'indexer',
    database: 'shards/00000000-7fffffff/data-flow.1796159656',
    design_document: '_design/oproc_dataflow',
    changes_done: 4242,
    total_changes: 30000,
  },
  {
    type: 'indexer',
    database: 'shards/80000000-ffffffff/data-flow.1796159656',
    design_document: '_design/oproc_dataflow',
    changes_done: 5000,
    total_changes: 30002,
  },
  {
    type: 'indexer',
    database: 'shards/00000000-7fffffff/data-flow-old.1796159000',
    design_document: '_design/oproc_dataflow',
    changes_done: 1,
    total_changes: 2,
  },
  { type: 'replication', database: 'shards/00000000-7fffffff/data-flow.1796159656' },
];

describe('view build progress', () => {
  it('sums the indexer tasks of one design document over the shards of one database', () => {
    expect(indexerProgress(tasks, 'data-flow', 'oproc_dataflow')).to.deep.equal({
      design: 'oproc_dataflow',
      changesDone: 9242,
      totalChanges: 60002,
    });
    expect(indexerProgress(tasks, 'data-flow', 'oproc')).to.equal(undefined);
    expect(indexerProgress(tasks, 'other', 'oproc_dataflow')).to.equal(undefined);
    expect(indexerProgress({ error: 'unauthorized' }, 'data-flow', 'oproc_dataflow')).to.equal(undefined);
  });

  it('says how far a build is, and after two readings how fast and how long is left', () => {
    const progress = { design: 'oproc_dataflow', changesDone: 420_000, totalChanges: 1_000_000 };
    expect(progressLine(progress)).to.equal(
      'views of _design/oproc_dataflow are being built: 42% (420,000 of 1,000,000 changes)',
    );
    expect(describeBuild(progress, undefined, 0)).to.equal('42% (420,000 of 1,000,000 documents)');
    expect(describeBuild(progress, { at: 0, done: 300_000 }, 10_000)).to.equal(
      '42% (420,000 of 1,000,000 documents), 12,000 a second, about 48 s left',
    );
  });

  it('off a terminal writes a plain line for the first reading, then at most every interval', () => {
    const written: string[] = [];
    const stream = {
      isTTY: false,
      write: (text: string) => written.push(text),
    } as unknown as NodeJS.WriteStream;
    const display = buildDisplay(stream, { everyMs: 60_000 });
    display.update({ design: 'oproc_dataflow', changesDone: 1, totalChanges: 10 });
    display.update({ design: 'oproc_dataflow', changesDone: 2, totalChanges: 10 });
    display.done();
    expect(written).to.have.length(1);
    expect(written[0]).to.match(
      /^\[\d\d:\d\d:\d\d\] views of _design\/oproc_dataflow being built: 10% \(1 of 10 documents\)\n$/,
    );
  });

  it('on a terminal redraws one bar in place, and ends its line when done', () => {
    const written: string[] = [];
    const stream = {
      isTTY: true,
      write: (text: string) => written.push(text),
    } as unknown as NodeJS.WriteStream;
    const display = buildDisplay(stream);
    display.update({ design: 'oproc_dataflow', changesDone: 5, totalChanges: 10 });
    display.update({ design: 'oproc_dataflow', changesDone: 10, totalChanges: 10 });
    display.done();
    expect(written).to.have.length(3);
    const erase = '\r\u001b[2K'; // back to the line's start, and clear it
    expect(written.slice(0, 2).every((text) => text.startsWith(erase))).to.equal(true);
    expect(written[0]!.slice(erase.length)).to.match(
      /^\[█{15}░{15}\] views of _design\/oproc_dataflow being built: 50%/,
    );
    expect(written[1]!.slice(erase.length)).to.match(/^\[█{30}\] .*100% \(10 of 10 documents\)/);
    expect(written[2]).to.equal('\n');
  });
});
