import { expect } from 'chai';
import fc from 'fast-check';

import { ids, type JobDocument } from '../../src/engine/types.js';
import { maxRunNumber, parseRunlist } from '../../src/engine/runlist.js';
import { OprocError } from '../../src/errors.js';
import { json, runCli } from '../support/cli.js';
import {
  physicsRuns,
  scenario,
  type Scenario,
  backendLabel,
  describeKind,
  serverKinds,
} from '../support/scenario.js';

/** What parseRunlist may do with any input: runs in range, or a usage error naming the runlist. */
function parsesOrRefuses(text: string): void {
  try {
    const runs = parseRunlist(text, 'runs.txt');
    for (const run of runs) expect(Number.isInteger(run) && run >= 0 && run <= maxRunNumber).to.equal(true);
    expect(new Set(runs).size).to.equal(runs.length);
  } catch (error) {
    expect(error, String(error)).to.be.instanceOf(OprocError);
    expect((error as OprocError).exitCode).to.equal(2);
    expect((error as Error).message).to.match(/^runlist runs\.txt/);
  }
}

describe('reliability: hostile runlists (property-based)', () => {
  const run = fc.integer({ min: 0, max: maxRunNumber });
  const filler = fc.constantFrom('', '   ', '# a comment', '\t', '#', '  # indented comment');

  it('reads any list of runs with comments, blank lines, spaces and CRLF: the runs once each, first order', () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(run, fc.constantFrom('', ' ', '\t'), fc.constantFrom('', ' # why', '#x')), {
          maxLength: 60,
        }),
        fc.array(filler, { maxLength: 10 }),
        fc.constantFrom('\n', '\r\n'),
        (entries, extra, eol) => {
          const lines = entries.map(([r, pad, comment]) => `${pad}${r}${pad}${comment}`);
          extra.forEach((line, i) => lines.splice((i * 7) % (lines.length + 1), 0, line));
          const expected = [...new Set(entries.map(([r]) => r))];
          expect(parseRunlist(lines.join(eol), 'runs.txt')).to.deep.equal(expected);
        },
      ),
    );
  });

  it('never crashes on arbitrary text or binary junk: runs in range, or a usage error naming the runlist', () => {
    fc.assert(fc.property(fc.string({ maxLength: 300 }), parsesOrRefuses), { numRuns: 500 });
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), (bytes) =>
        parsesOrRefuses(Buffer.from(bytes).toString('latin1')),
      ),
      { numRuns: 500 },
    );
    fc.assert(
      fc.property(
        fc.array(fc.oneof(run.map(String), fc.string({ maxLength: 12 })), { maxLength: 40 }),
        (lines) => parsesOrRefuses(lines.join('\n')),
      ),
      { numRuns: 500 },
    );
  });

  it('refuses a run out of range or a junk line, naming the line', () => {
    fc.assert(
      fc.property(
        fc.array(run, { maxLength: 10 }),
        fc.oneof(
          fc.bigInt({ min: BigInt(maxRunNumber) + 1n, max: 10n ** 30n }).map(String),
          fc.constantFrom('-1', '3e5', '300000.5', '0x10', 'run 3', '½', '３００'),
        ),
        (before, bad) => {
          const text = [...before.map(String), bad].join('\n');
          expect(() => parseRunlist(text, 'runs.txt')).to.throw(OprocError, `line ${before.length + 1}`);
        },
      ),
    );
  });

  it('reads a huge runlist (200,000 lines, duplicates included): each run once, in first order', () => {
    const lines = Array.from({ length: 200_000 }, (_, i) => String(300000 + (i % 150_000)));
    const runs = parseRunlist(lines.join('\n'), 'huge.txt');
    expect(runs).to.have.length(150_000);
    expect(runs[0]).to.equal(300000);
    expect(runs.at(-1)).to.equal(449_999);
  });
});

for (const kind of serverKinds) {
  describeKind(kind, `reliability: hostile documents in the databases (${backendLabel(kind)})`, function () {
    this.timeout(120_000);
    let s: Scenario;

    beforeEach(async () => {
      s = await scenario(kind);
      await s.addRuns(physicsRuns(300000, 300004));
    });
    afterEach(() => s.cleanup());

    const hostileDataflow = [
      { _id: 'file_L2_300001_bad_subrun', type: 'file', run: 300001, subrun: 'three', filetype: 'L2' },
      { _id: 'file_L2_300001_no_subrun', type: 'file', run: 300001, filetype: 'L2' },
      { _id: 'file_X_300002_bad_filetype', type: 'file', run: 300002, subrun: 7, filetype: 7 },
      { _id: 'file_L2_300002_negative', type: 'file', run: 300002, subrun: -1, filetype: 'L2' },
      // No run number the view can key: never read, so never able to crash anything.
      { _id: 'file_run_is_text', type: 'file', run: '300003', subrun: 0, filetype: 'L2' },
      { _id: 'file_run_is_fraction', type: 'file', run: 300003.5, subrun: 0, filetype: 'L2' },
      { _id: 'file_no_run', type: 'file', subrun: 0, filetype: 'L2' },
      { _id: 'run_end_junk', type: 'run_end', run: null },
    ];
    const bad = [
      'file_L2_300001_bad_subrun',
      'file_L2_300001_no_subrun',
      'file_X_300002_bad_filetype',
      'file_L2_300002_negative',
    ];

    it('data-flow documents with missing or wrong-typed fields are skipped with a warning naming each', async () => {
      await s.withDatabases((db) => db.dataflow.bulkWrite(hostileDataflow));
      const result = await runCli(['reprocess', 'range', s.config, s.ratv, 'L2', '300000', '300003']);
      expect(result.code, `${result.stdout}${result.stderr}`).to.equal(0);
      for (const id of bad)
        expect(result.stdout).to.match(new RegExp(`warning: data-flow document ${id} skipped: `));
      // With --json the result alone is on stdout; the warnings still reach the user, on stderr.
      const quiet = await runCli([
        'reprocess',
        'range',
        s.config,
        s.ratv,
        'L2',
        '300000',
        '300003',
        '--json',
      ]);
      expect(quiet.code, quiet.stderr).to.equal(0);
      expect(json<{ created: unknown[] }>(quiet).created).to.have.length(8);
      for (const id of bad)
        expect(quiet.stderr).to.match(new RegExp(`warning: data-flow document ${id} skipped: `));
      // The runs' good files still make their subjobs; the bad ones add none.
      const processing = await s.job(300001, 'Processing');
      expect(processing!.passes[0]!.subjobs.map((j) => j.subrun)).to.deep.equal([0, 1, 2]);
      const watch = await runCli(['watch', s.config, s.ratv, 'L2', '-r', '299999', '--once']);
      expect(watch.code, `${watch.stdout}${watch.stderr}`).to.equal(0);
      expect(watch.stdout).to.match(
        /data-flow document file_X_300002_bad_filetype skipped: filetype 7 is not L1 or L2/,
      );
    });

    it('a job document whose passes is not an array, or has a pass without a number, is reported by name; other runs go on', async () => {
      await s.withDatabases((db) =>
        db.processing.bulkWrite([
          {
            _id: ids.job(300001, 'Processing'),
            type: 'job',
            run: 300001,
            module: 'Processing',
            passes: 'none',
          },
          {
            _id: ids.job(300002, 'Processing'),
            type: 'job',
            run: 300002,
            module: 'Processing',
            passes: [{ pass: 'zero' }],
          },
          { _id: ids.job(300003, 'Processing'), type: 'note', run: 300003 },
        ]),
      );
      const result = await runCli([
        'reprocess',
        'range',
        s.config,
        s.ratv,
        'L2',
        '300000',
        '300003',
        '--json',
      ]);
      expect(result.code, result.stderr).to.equal(1);
      const out = json<{
        created: { run: number; module: string }[];
        skipped: { run: number; module?: string; reason: string }[];
      }>(result);
      const reasons = out.skipped.map((sk) => `${sk.run} ${sk.module ?? ''} ${sk.reason}`).join('\n');
      expect(reasons).to.match(/300001 Processing .*job document job_300001_Processing has no passes array/);
      expect(reasons).to.match(
        /300002 Processing .*job_300002_Processing has a pass without a valid pass number/,
      );
      expect(reasons).to.match(/300003 Processing .*job_300003_Processing has type "note"/);
      expect(out.created.map((c) => `${c.run} ${c.module}`)).to.include.members([
        '300000 Processing',
        '300000 Analysis',
      ]);
      // The hostile documents are left as they were: oproc never overwrites what it cannot read.
      const left = await s.docs([ids.job(300001, 'Processing')]);
      expect((left.get(ids.job(300001, 'Processing')) as unknown as JobDocument).passes).to.equal('none');

      const passes = await runCli(['passes', s.config, '--from', '300000', '--to', '300003']);
      expect(passes.code, passes.stderr).to.equal(0);
      expect(passes.stdout).to.match(/^300000\tProcessing\t0\t/m);
      expect(passes.stderr).to.match(/skipped document job_300001_Processing: has no passes array/);
      expect(passes.stderr).to.match(/skipped document job_300002_Processing: has a pass without a/);
      expect(passes.stderr, 'no stack trace').to.not.match(/\n\s+at /);
    });
  });
}
