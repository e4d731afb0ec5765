import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';

import { expect } from 'chai';

import type { SubmissionResult } from '../../src/engine/reprocess.js';
import { ids } from '../../src/engine/types.js';
import { json, oneLine, runCli } from '../support/cli.js';
import {
  commandKinds,
  backendLabel,
  describeKind,
  physicsRuns,
  scenario,
  type Scenario,
} from '../support/scenario.js';

for (const kind of commandKinds) {
  describeKind(kind, `reprocess commands (${backendLabel(kind)})`, function () {
    this.timeout(120_000);
    let s: Scenario;
    const reprocess = (mode: string, ...rest: string[]) =>
      runCli(['reprocess', mode, s.config, s.ratv, 'L2', ...rest]);

    beforeEach(async () => {
      s = await scenario(kind);
      await s.addRuns([
        ...physicsRuns(300000, 300003, { subruns: 3 }),
        { run: 300004, types: ['ExternalSource', 'TELLIE'], subruns: 2 },
        { run: 300005, missing: ['PMT_DQXX'] },
        { run: 300006, filetypes: ['L1'] },
        { run: 300007, subruns: 1 },
      ]);
    });
    afterEach(() => s.cleanup());

    it('creates pass 0 of each module the run type selects, with one subjob per subrun, and links Analysis to it', async () => {
      const outlist = path.join(s.dir, 'runs.exactly');
      const result = await reprocess('range', '300000', '300001', '-o', outlist);
      expect(result.code, result.stderr).to.equal(0);

      const processing = (await s.job(300000, 'Processing'))!;
      expect(processing.passes).to.have.length(1);
      const pass = processing.passes[0]!;
      expect(pass).to.include({
        pass: 0,
        ratv: s.ratv,
        filetype: 'L2',
        ratdb_tag: null,
        status: 'waiting',
        level: 'sub_run',
        mode: 'range',
      });
      expect(pass.path).to.equal('mac/processing/processing.mac');
      expect(pass.ganga_outputs, 'experiment fields are copied into the pass').to.deep.equal(['ratds']);
      expect(pass.subjobs).to.deep.equal([0, 1, 2].map((subrun) => ({ subrun, status: 'waiting' })));
      expect(pass.submission).to.match(/^sub_\d{4}-\d\d-\d\dT\d\d-\d\d-\d\dZ_[0-9a-f]{4}$/);

      const analysis = (await s.job(300000, 'Analysis'))!;
      expect(analysis.passes[0]).to.deep.include({
        pass: 0,
        level: 'run_root',
        prerequisites: [{ module: 'Processing', pass: 0 }],
      });
      expect(analysis.passes[0]!.subjobs).to.deep.equal([{ subrun: null, status: 'waiting' }]);

      const lines = (await readFile(outlist, 'utf8')).trim().split('\n').sort();
      expect(lines).to.deep.equal([
        'Analysis\t300000\t0',
        'Analysis\t300001\t0',
        'Processing\t300000\t0',
        'Processing\t300001\t0',
      ]);

      const journal = (await s.docs([ids.submission(pass.submission)])).get(ids.submission(pass.submission))!;
      expect(journal).to.include({ type: 'submission', mode: 'range', ratv: s.ratv, filetype: 'L2' });
      expect(journal.done).to.have.members([300000, 300001]);
      expect(journal.finished).to.be.a('string');
    });

    it('numbers a second reprocess pass 1 and appends it to the outlist', async () => {
      const outlist = path.join(s.dir, 'runs.exactly');
      await reprocess('one-shot', '300002', '-o', outlist);
      const second = await reprocess('one-shot', '300002', '-o', outlist, '-N', 'Processing');
      expect(second.code, second.stderr).to.equal(0);
      const job = (await s.job(300002, 'Processing'))!;
      expect(job.passes.map((p) => p.pass)).to.deep.equal([0, 1]);
      expect(job.passes[0]!.submission).to.not.equal(job.passes[1]!.submission);
      const lines = (await readFile(outlist, 'utf8')).trim().split('\n');
      expect(lines.at(-1)).to.equal('Processing\t300002\t1');
      expect((await s.job(300002, 'Analysis'))!.passes, '-N replaced the selection').to.have.length(1);
    });

    it('selects by the union over set bits: a TELLIE run gets Processing only', async () => {
      const result = json<SubmissionResult>(await reprocess('one-shot', '300004', '--json'));
      expect(result.created.map((c) => c.module)).to.deep.equal(['Processing']);
      expect(await s.job(300004, 'Analysis')).to.equal(undefined);
    });

    it('skips a module whose RATDB tables are missing, names them, and exits 1; -s creates it', async () => {
      const result = await reprocess('one-shot', '300005', '300000');
      expect(result.code).to.equal(1);
      expect(result.stdout).to.match(/300005 Processing: RATDB table\(s\) missing: PMT_DQXX/);
      expect(result.stdout).to.match(/300005 Analysis: prerequisite Processing gets no pass for the run/);
      expect(await s.job(300005, 'Processing')).to.equal(undefined);
      expect((await s.job(300000, 'Processing'))!.passes).to.have.length(1);

      const skipping = await reprocess('one-shot', '300005', '-s');
      expect(skipping.code, skipping.stdout).to.equal(0);
      expect((await s.job(300005, 'Processing'))!.passes).to.have.length(1);
    });

    it('reports a run without files of the filetype as skipped', async () => {
      const result = json<SubmissionResult>(await reprocess('one-shot', '300006', '--json'));
      expect(result.skipped).to.deep.include({
        run: 300006,
        kind: 'no-files',
        reason: 'no L2 files registered for the run',
      });
      expect(await s.job(300006, 'Processing')).to.equal(undefined);
    });

    it('refuses a module whose prerequisite is not in the submission, unless -f finds its newest pass', async () => {
      const alone = await reprocess('one-shot', '300001', '-N', 'Analysis');
      expect(alone.code).to.equal(1);
      expect(alone.stdout).to.match(/prerequisite Processing is not created in this submission/);
      expect(await s.job(300001, 'Analysis')).to.equal(undefined);

      await reprocess('one-shot', '300001', '-N', 'Processing');
      await reprocess('one-shot', '300001', '-N', 'Processing');
      const found = await reprocess('one-shot', '300001', '-N', 'Analysis', '-f');
      expect(found.code, found.stdout).to.equal(0);
      expect((await s.job(300001, 'Analysis'))!.passes[0]!.prerequisites).to.deep.equal([
        { module: 'Processing', pass: 1 },
      ]);

      const forced = await reprocess(
        'one-shot',
        '300001',
        '-N',
        'Analysis',
        '--force-prereq-pass',
        'Processing=0',
      );
      expect(forced.code, forced.stdout).to.equal(0);
      expect((await s.job(300001, 'Analysis'))!.passes[1]!.prerequisites).to.deep.equal([
        { module: 'Processing', pass: 0 },
      ]);

      const missing = await reprocess(
        'one-shot',
        '300001',
        '-N',
        'Analysis',
        '--force-prereq-pass',
        'Processing=7',
      );
      expect(missing.code).to.equal(1);
      expect(missing.stdout).to.match(/forced prerequisite pass Processing=7 does not exist for run 300001/);
    });

    it('finds a prerequisite of another RAT version with --prereq-ratv', async () => {
      const result = await reprocess('one-shot', '300001', '-N', 'Analysis', '-f', '--prereq-ratv', '7.0.8');
      expect(result.code).to.equal(1);
      expect(result.stdout).to.match(/no pass of Processing with RAT 7\.0\.8 exists for run 300001/);
    });

    it('reads a runlist from stdin, with comments and blank lines', async () => {
      const result = await runCli(['reprocess', 'runlist', s.config, s.ratv, 'L2', '-', '-N', 'Processing'], {
        input: '# runs for the new calibration\n300000\n\n300002  # good run\n',
      });
      expect(result.code, result.stderr).to.equal(0);
      expect((await s.job(300000, 'Processing'))!.passes).to.have.length(1);
      expect((await s.job(300002, 'Processing'))!.passes).to.have.length(1);
      expect(await s.job(300001, 'Processing')).to.equal(undefined);
    });

    it('reprocess after takes every complete run from RUN on and leaves the incomplete last run', async () => {
      const result = json<SubmissionResult>(await reprocess('after', '300006', '--json'));
      expect(result.pending).to.deep.equal([
        { run: 300007, reason: 'not complete yet: left for the watcher' },
      ]);
      expect(await s.job(300007, 'Processing')).to.equal(undefined);
    });

    it('a range or after holding no run the data-flow database knows exits 1 saying so, and writes nothing', async () => {
      const submissions = () =>
        s.withDatabases((db) =>
          db.processing.allDocs({ startkey: 'submission_', endkey: 'submission_\uffff' }),
        );
      const range = await reprocess('range', '400000', '400010');
      expect(range.code, range.stdout).to.equal(1);
      expect(oneLine(range.stderr)).to.match(
        /no run from 400000 to 400010 is known to the data-flow database \(its latest run is 300007\); nothing was written/,
      );
      const after = await reprocess('after', '400000', '--json');
      expect(after.code).to.equal(1);
      expect(json<{ error: { message: string } }>(after).error.message).to.match(
        /^no run from 400000 on is known/,
      );
      const dry = await reprocess('range', '400000', '400010', '--dry-run');
      expect(dry.code).to.equal(1);
      expect(await submissions(), 'no submission journal').to.deep.equal([]);

      const listed = await reprocess('one-shot', '300001', '400000', '400001');
      expect(listed.code).to.equal(1);
      expect(listed.stdout).to.contain('Not in the data-flow database (2): 400000, 400001');
      expect(await submissions()).to.have.length(1);
      const none = await reprocess('one-shot', '400002', '400003');
      expect(none.code).to.equal(1);
      expect(none.stdout).to.contain('Not in the data-flow database (2): 400002, 400003');
      expect(none.stdout).not.to.match(/Submission/);
      expect(await submissions(), 'nothing to take: no journal').to.have.length(1);

      const mixed = await reprocess('one-shot', '400000', '300006', '--json');
      expect(
        json<SubmissionResult>(mixed).skipped.map((k) => k.run),
        'in run order',
      ).to.deep.equal([300006, 400000]);
    });

    it('a dry run says what it would create, never "created"', async () => {
      const result = await reprocess('range', '300000', '300002', '--dry-run');
      expect(result.code, result.stderr).to.equal(0);
      expect(result.stdout).to.contain(
        'Dry run: would create 6 passes for 3 runs (Processing 3, Analysis 3).',
      );
      expect(result.stdout).to.match(/\(dry run: nothing written\): would create 6 passes$/m);
      expect(result.stdout).not.to.match(/\bcreated\b/);
      const one = await reprocess('one-shot', '300004', '--dry-run');
      expect(one.stdout).to.contain('Dry run: would create 1 pass for 1 run (Processing 1).');
    });

    it('a dry run writes nothing: no pass, no journal, no outlist', async () => {
      const outlist = path.join(s.dir, 'dry.exactly');
      const result = await reprocess('range', '300000', '300002', '--testing-nodb', '-o', outlist);
      expect(result.code, result.stderr).to.equal(0);
      expect(result.stdout).to.match(/Processing\t300000\t0/);
      const jobs = await s.jobs([300000, 300001, 300002], ['Processing', 'Analysis']);
      expect(jobs.size).to.equal(0);
      const written = await s.withDatabases((db) =>
        db.processing.allDocs({ startkey: 'submission_', endkey: 'submission_\uffff' }),
      );
      expect(written).to.deep.equal([]);
      await readFile(outlist).then(
        () => expect.fail('the outlist was written'),
        (error: NodeJS.ErrnoException) => expect(error.code).to.equal('ENOENT'),
      );
    });

    describe('bad input exits 2 with a message and writes nothing', () => {
      const cases: [string, () => Promise<string[]>, RegExp][] = [
        [
          'a malformed runlist line',
          async () => {
            const file = path.join(s.dir, 'bad.txt');
            await writeFile(file, '300000\n300001\nthree hundred\n');
            return ['reprocess', 'runlist', s.config, s.ratv, 'L2', file];
          },
          /bad\.txt, line 3: "three hundred" is not a run number/,
        ],
        [
          'START after END',
          async () => ['reprocess', 'range', s.config, s.ratv, 'L2', '300005', '300001'],
          /START 300005 is after END 300001/,
        ],
        [
          'an unknown module',
          async () => ['reprocess', 'one-shot', s.config, s.ratv, 'L2', '300000', '-N', 'Procesing'],
          /unknown module "Procesing" for RAT 9\.9\.0 \(known: Processing, Analysis, Calibration\)/,
        ],
        [
          'a bad FILETYPE',
          async () => ['reprocess', 'one-shot', s.config, s.ratv, 'L3', '300000'],
          /FILETYPE must be L1 or L2, not "L3"/,
        ],
        [
          'an unknown RATV',
          async () => ['reprocess', 'one-shot', s.config, '6.1.0', 'L2', '300000'],
          /6\.1\.0.*9\.9\.0/,
        ],
        [
          'an unknown RATDB tag',
          async () => ['reprocess', 'one-shot', s.config, s.ratv, 'L2', '300000', '-t', 'water-physics-v9'],
          /unknown RATDB tag "water-physics-v9"/,
        ],
        [
          'a malformed --force-prereq-pass',
          async () => [
            'reprocess',
            'one-shot',
            s.config,
            s.ratv,
            'L2',
            '300000',
            '--force-prereq-pass',
            'Processing:3',
          ],
          /--force-prereq-pass "Processing:3": expected MODULE=PASS/,
        ],
      ];
      for (const [what, argv, message] of cases) {
        it(what, async () => {
          const result = await runCli(await argv());
          expect(result.code, result.stdout).to.equal(2);
          expect(result.stderr.replace(/\s*›\s*/g, ' ')).to.match(message);
          const written = await s.withDatabases((db) =>
            db.processing.allDocs({ startkey: 'job_', endkey: 'submission_\uffff' }),
          );
          expect(written.filter((d) => d.type === 'job' || d.type === 'submission')).to.deep.equal([]);
        });
      }
    });
  });
}
