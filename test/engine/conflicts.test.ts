import { expect } from 'chai';

import { mergeJob, mergeJobDetailed, mergeLeaves, statusOrder, touched } from '../../src/engine/conflicts.js';
import type { JobDocument, Pass } from '../../src/engine/types.js';

function pass(number: number, submission: string, created: string, status = 'waiting'): Pass {
  return {
    pass: number,
    ratv: '7.0.8',
    filetype: 'L2',
    ratdb_tag: null,
    status,
    level: 'run',
    path: '/x',
    outputs: [],
    subjobs: [
      { subrun: 0, status },
      { subrun: 1, status },
    ],
    submission,
    mode: 'watch',
    created,
    created_by: 'shifter@host',
    prerequisites: [],
  };
}

function job(rev: string, passes: Pass[]): JobDocument {
  return { _id: 'job_300050_Processing', _rev: rev, type: 'job', run: 300050, module: 'Processing', passes };
}

describe('merging the leaf revisions of a conflicted job document', () => {
  const base = pass(0, 'sub_a', '2026-11-24T10:00:00.000Z');

  it('keeps every pass of every revision once, by submission and created', () => {
    const winner = job('3-b', [base, pass(1, 'sub_w', '2026-11-24T11:00:00.000Z')]);
    const loser = job('3-a', [base, pass(2, 'sub_r', '2026-11-24T11:00:01.000Z')]);
    const merged = mergeJob([winner, loser]);
    expect(merged.passes.map((p) => [p.pass, p.submission])).to.deep.equal([
      [0, 'sub_a'],
      [1, 'sub_w'],
      [2, 'sub_r'],
    ]);
    expect(merged._rev, 'written on the winner').to.equal('3-b');
  });

  it("keeps a grid client's status change: the most advanced status of a pass and of each subjob", () => {
    const running = {
      ...base,
      status: 'running',
      subjobs: [{ subrun: 0, status: 'running' }, base.subjobs[1]!],
    };
    const completed = { ...base, subjobs: [base.subjobs[0]!, { subrun: 1, status: 'completed' }] };
    const merged = mergeJob([job('3-b', [completed]), job('3-a', [running])]);
    expect(merged.passes).to.have.length(1);
    expect(merged.passes[0]!.status).to.equal('running');
    expect(merged.passes[0]!.subjobs.map((j) => j.status)).to.deep.equal(['running', 'completed']);
    expect(statusOrder.indexOf('canceled')).to.be.greaterThan(statusOrder.indexOf('completed'));
  });

  it('gives a number claimed by two passes to one of them and the next free number to the other', () => {
    const watcher = pass(1, 'sub_w', '2026-11-24T11:00:00.000Z');
    const reprocess = pass(1, 'sub_r', '2026-11-24T10:59:59.000Z');
    const winnerKeeps = mergeJob([job('2-b', [base, watcher]), job('2-a', [base, reprocess])]);
    expect(winnerKeeps.passes.map((p) => [p.pass, p.submission])).to.deep.equal([
      [0, 'sub_a'],
      [1, 'sub_w'],
      [2, 'sub_r'],
    ]);
    // A writer whose write was not confirmed gives its number up, even from the winning revision.
    const yielded = mergeJob([job('2-b', [base, watcher]), job('2-a', [base, reprocess])], 'sub_w');
    expect(yielded.passes.map((p) => [p.pass, p.submission])).to.deep.equal([
      [0, 'sub_a'],
      [1, 'sub_r'],
      [2, 'sub_w'],
    ]);
    const numbers = yielded.passes.map((p) => p.pass);
    expect(new Set(numbers).size).to.equal(numbers.length);
  });

  it('a journal keeps every run any copy recorded done, and finished when any copy finished', () => {
    const merged = mergeLeaves([
      { _id: 'submission_x', _rev: '3-b', type: 'submission', done: [1, 2], finished: null },
      {
        _id: 'submission_x',
        _rev: '3-a',
        type: 'submission',
        done: [1, 3],
        finished: '2026-11-24T12:00:00Z',
      },
    ]);
    expect(merged).to.include({ _rev: '3-b', finished: '2026-11-24T12:00:00Z' });
    expect(merged.done).to.deep.equal([1, 2, 3]);
  });

  it('a watch state keeps the copy written last', () => {
    const merged = mergeLeaves([
      {
        _id: 'watch_7.0.8_L2',
        _rev: '3-b',
        type: 'watch_state',
        last_run: 5,
        updated: '2026-11-24T10:00:00Z',
      },
      {
        _id: 'watch_7.0.8_L2',
        _rev: '3-a',
        type: 'watch_state',
        last_run: 9,
        updated: '2026-11-24T11:00:00Z',
      },
    ]);
    expect(merged).to.include({ _rev: '3-b', last_run: 9 });
  });
});

describe('the merge rule for a pass number two writers gave (docs/RELIABILITY.md)', () => {
  const base = pass(0, 'sub_a', '2026-11-24T10:00:00.000Z');

  it('a pass a grid client has touched keeps its number; the untouched one is renumbered, even from the winner', () => {
    const watcher = pass(1, 'sub_w', '2026-11-24T11:00:00.000Z', 'running');
    const reprocess = pass(1, 'sub_r', '2026-11-24T10:59:59.000Z');
    const { doc, renumbered } = mergeJobDetailed([
      job('2-b', [base, reprocess]),
      job('2-a', [base, watcher]),
    ]);
    expect(doc.passes.map((p) => [p.pass, p.submission, p.status])).to.deep.equal([
      [0, 'sub_a', 'waiting'],
      [1, 'sub_w', 'running'],
      [2, 'sub_r', 'waiting'],
    ]);
    expect(renumbered).to.deep.equal([
      { run: 300050, module: 'Processing', submission: 'sub_r', from: 1, to: 2 },
    ]);
    // A subjob moved on is a touch too.
    const subjob = {
      ...pass(1, 'sub_w', '2026-11-24T11:00:00.000Z'),
      subjobs: [{ subrun: 0, status: 'submitted' }],
    };
    expect(touched(subjob)).to.equal(true);
    expect(touched(reprocess)).to.equal(false);
  });

  it('a pass an earlier merge renumbered is one pass when met again with its old number', () => {
    const watcher = pass(1, 'sub_w', '2026-11-24T11:00:00.000Z', 'running');
    const reprocess = pass(1, 'sub_r', '2026-11-24T10:59:59.000Z');
    const first = mergeJob([job('2-b', [base, reprocess]), job('2-a', [base, watcher])]);
    const again = mergeJob([{ ...first, _rev: '3-c' }, job('2-b', [base, reprocess])]);
    expect(again.passes.map((p) => [p.pass, p.submission])).to.deep.equal([
      [0, 'sub_a'],
      [1, 'sub_w'],
      [2, 'sub_r'],
    ]);
  });

  it('a retried copy of a pass wins over the failed copy it retried', () => {
    const failed = pass(0, 'sub_a', '2026-11-24T10:00:00.000Z', 'failed');
    const retried = {
      ...pass(0, 'sub_a', '2026-11-24T10:00:00.000Z'),
      retries: [{ at: 'x', by: 'y', from: 'failed' }],
    };
    expect(mergeJob([job('3-b', [failed]), job('3-a', [retried])]).passes[0]!.status).to.equal('waiting');
  });
});
