import { writeFile } from 'node:fs/promises';
import { hostname, userInfo } from 'node:os';
import path from 'node:path';

import { expect } from 'chai';

import type { PassChangeResult } from '../../src/cli/pass-change-command.js';
import { json, oneLine, runCli } from '../support/cli.js';
import { notCompleted, passScenario, setStates } from '../support/pass-states.js';
import { commandKinds, backendLabel, describeKind, type Scenario } from '../support/scenario.js';
import { onTerminal } from '../support/terminal.js';

const me = `${userInfo().username}@${hostname()}`;
const changedKeys = (r: PassChangeResult) => r.changed.map((c) => `${c.run} ${c.module} ${c.pass} ${c.from}`);

for (const kind of commandKinds) {
  describeKind(kind, `oproc retry (${backendLabel(kind)})`, function () {
    this.timeout(180_000);
    let s: Scenario;
    const retry = (...rest: string[]) => runCli(['retry', s.config, s.ratv, ...rest]);

    before(async () => {
      s = await passScenario(kind);
    });
    after(() => s.cleanup());

    it('puts failed passes back to waiting by default, subjobs not completed too, and records the retry', async () => {
      await setStates(s, {
        '300001 Processing 0': { status: 'failed', subjobs: ['completed', 'failed', 'failed'] },
        '300003 Processing 0': 'partFail',
        '300004 Analysis 0': 'failed',
      });
      const before = new Date().toISOString();
      const result = await retry('--yes');
      expect(result.code, result.stderr).to.equal(0);
      expect(result.stdout).to.contain('Processing\t300001\t0\t# failed -> waiting');
      expect(result.stdout).to.contain('Analysis\t300004\t0\t# failed -> waiting');
      expect(result.stdout).to.match(/2 passes of RAT 9\.9\.0 retried/);
      expect(await notCompleted(s)).to.deep.equal([
        '300001 Processing 0 waiting [completed,waiting,waiting]',
        '300003 Processing 0 partFail [partFail,partFail,partFail]',
        '300004 Analysis 0 waiting [waiting]',
      ]);
      const job = (await s.job(300001, 'Processing'))!;
      expect(job.passes).to.have.length(1, 'no new pass');
      const retries = job.passes[0]!.retries as { at: string; by: string; from: string }[];
      expect(retries).to.have.length(1);
      expect(retries[0]!.by).to.equal(me).and.to.equal(job.passes[0]!.created_by);
      expect(retries[0]!.from).to.equal('failed');
      expect(retries[0]!.at >= before).to.equal(true);
    });

    it('a second retry appends to the history; canceled, unsatisfied and partFail are taken when asked for', async () => {
      await setStates(s, { '300000 Processing 0': 'failed', '300002 Analysis 0': 'canceled' });
      expect((await retry('--yes')).code).to.equal(0);
      await s.withDatabases(async (db) => {
        const doc = (await db.processing.getMany(['job_300000_Processing'])).get('job_300000_Processing')!;
        const passes = doc.passes as { status: string }[];
        passes[0]!.status = 'unsatisfied';
        await db.processing.bulkWrite([doc]);
      });
      const result = json<PassChangeResult>(
        await retry('--status', 'unsatisfied,canceled', '--status', 'partFail', '--yes', '--json'),
      );
      expect(changedKeys(result)).to.deep.equal([
        '300000 Processing 0 unsatisfied',
        '300002 Analysis 0 canceled',
      ]);
      expect(result.changed[0]).to.deep.equal({
        run: 300000,
        module: 'Processing',
        pass: 0,
        from: 'unsatisfied',
        to: 'waiting',
      });
      expect(result.left).to.deep.equal([]);
      expect(result.dry_run).to.equal(false);
      const history = (await s.job(300000, 'Processing'))!.passes[0]!.retries as { from: string }[];
      expect(history.map((h) => h.from)).to.deep.equal(['failed', 'unsatisfied']);
    });

    it('selects by module glob, pass, run, range and runlist; only passes of RATV count', async () => {
      const failed = {
        '300000 Processing 0': 'failed',
        '300000 Analysis 0': 'failed',
        '300002 Processing 0': 'failed',
        '300002 Processing 1': 'failed',
        '300004 Processing 0': 'failed',
        '300005 Processing 0': 'failed',
        '300005 Processing 1': 'failed', // RAT 7.0.8
      } as const;
      const dry = async (...rest: string[]) => {
        const result = await retry('--dry-run', '--json', ...rest);
        expect(result.code, result.stderr).to.equal(0);
        return changedKeys(json<PassChangeResult>(result)).map((k) => k.replace(/ failed$/, ''));
      };
      await setStates(s, failed);
      expect(await dry('-m', 'Ana*')).to.deep.equal(['300000 Analysis 0']);
      expect(await dry('-m', 'Processing', '--pass', '1')).to.deep.equal(['300002 Processing 1']);
      expect(await dry('--run', '300002', '--run', '300005')).to.deep.equal([
        '300002 Processing 0',
        '300002 Processing 1',
        '300005 Processing 0',
      ]);
      expect(await dry('--from', '300001', '--to', '300004', '-m', 'P*')).to.deep.equal([
        '300002 Processing 0',
        '300002 Processing 1',
        '300004 Processing 0',
      ]);
      expect(await dry('--from', '300004')).to.deep.equal(['300004 Processing 0', '300005 Processing 0']);
      const runlist = path.join(s.dir, 'runs.txt');
      await writeFile(runlist, '# runs to retry\n300000\n300004  # second\n');
      expect(await dry('--runlist', runlist, '-m', 'Processing', '-m', 'Analysis')).to.deep.equal([
        '300000 Analysis 0',
        '300000 Processing 0',
        '300004 Processing 0',
      ]);
      const other = json<PassChangeResult>(await runCli(['retry', s.config, '7.0.8', '--dry-run', '--json']));
      expect(changedKeys(other)).to.deep.equal(['300005 Processing 1 failed']);
      expect(await notCompleted(s), 'dry runs change nothing').to.have.length(Object.keys(failed).length);
    });

    it("--last-pass takes only each job's newest pass of RATV", async () => {
      await setStates(s, {
        '300002 Processing 0': 'failed',
        '300002 Processing 1': 'failed',
        '300005 Processing 0': 'failed', // its pass 1 is of RAT 7.0.8: pass 0 is the newest of 9.9.0
      });
      const result = json<PassChangeResult>(await retry('--last-pass', '--dry-run', '--json'));
      expect(changedKeys(result)).to.deep.equal(['300002 Processing 1 failed', '300005 Processing 0 failed']);
      await setStates(s, { '300002 Processing 0': 'failed' });
      const none = await retry('--last-pass', '-m', 'Processing', '--run', '300002', '--yes');
      expect(none.code).to.equal(0);
      expect(none.stdout).to.match(/No pass of RAT 9\.9\.0 in status failed matches; nothing changed/);
      expect(await notCompleted(s)).to.deep.equal(['300002 Processing 0 failed [failed,failed,failed]']);
    });

    it('--exactly retries the passes an outlist names, and reports a line whose pass does not exist (exit 1)', async () => {
      await setStates(s, {
        '300001 Processing 0': 'failed',
        '300003 Analysis 0': 'failed',
        '300004 Processing 0': 'failed',
      });
      const outlist = path.join(s.dir, 'runs.exactly');
      await writeFile(
        outlist,
        'Processing\t300001\t0\nAnalysis   300003 0  # the bad one\nAnalysis\t300003\t4\n',
      );
      const result = await retry('--exactly', outlist, '--yes', '--json');
      expect(result.code).to.equal(1);
      const body = json<PassChangeResult>(result);
      expect(changedKeys(body)).to.deep.equal(['300001 Processing 0 failed', '300003 Analysis 0 failed']);
      expect(body.left).to.deep.equal([
        {
          run: 300003,
          module: 'Analysis',
          pass: 4,
          status: null,
          reason: 'no such pass: job_300003_Analysis has passes 0',
        },
      ]);
      expect(await notCompleted(s)).to.deep.equal([
        '300001 Processing 0 waiting [waiting,waiting,waiting]',
        '300003 Analysis 0 waiting [waiting]',
        '300004 Processing 0 failed [failed,failed,failed]',
      ]);
    });

    it('refuses completed (exit 2), and submitted or running without --force; with it, warns that the job may run twice', async () => {
      await setStates(s, { '300001 Processing 0': 'running', '300002 Analysis 0': 'submitted' });
      const completed = await retry('--status', 'completed', '--yes');
      expect(completed.code).to.equal(2);
      expect(oneLine(completed.stderr)).to.match(/a completed pass is reprocessed, not retried/);
      const running = await retry('--status', 'running', '--yes');
      expect(running.code).to.equal(2);
      expect(oneLine(running.stderr)).to.match(/may run the job twice.*--force/);
      expect(await notCompleted(s)).to.have.length(2);
      const forced = await retry('--status', 'running,submitted', '--force', '--yes');
      expect(forced.code, forced.stderr).to.equal(0);
      expect(oneLine(forced.stderr)).to.match(/2 passes are submitted or running: .* the job may run twice/);
      expect(await notCompleted(s)).to.deep.equal([
        '300001 Processing 0 waiting [waiting,waiting,waiting]',
        '300002 Analysis 0 waiting [waiting]',
      ]);
    });

    it('under --json the warning that the job may run twice is kept: in the result and on stderr', async () => {
      await setStates(s, { '300001 Processing 0': 'running' });
      const forced = await retry('--status', 'running', '--force', '--yes', '--json');
      expect(forced.code, forced.stderr).to.equal(0);
      const body = json<PassChangeResult>(forced);
      expect(changedKeys(body)).to.deep.equal(['300001 Processing 0 running']);
      expect(body.warnings).to.have.length(1);
      expect(body.warnings[0]).to.match(/1 pass is submitted or running: .* the job may run twice/);
      expect(oneLine(forced.stderr)).to.match(
        /Warning: 1 pass is submitted or running: .* the job may run twice/,
      );
    });

    it('an error under --json is { error: { code, message } } and nothing of the framework', async () => {
      const bad = await retry('--status', 'broken', '--yes', '--json');
      expect(bad.code).to.equal(2);
      const body = json<{ error: Record<string, unknown> }>(bad);
      expect(body).to.have.keys(['error']);
      expect(body.error).to.have.keys(['code', 'message']);
      expect(body.error.code).to.equal(2);
      expect(body.error.message).to.match(/--status "broken" is not a pass status/);
      const unknownFlag = await retry('--bogus', '--json');
      expect(unknownFlag.code).to.equal(2);
      const parse = json<{ error: Record<string, unknown> }>(unknownFlag);
      expect(parse.error).to.have.keys(['code', 'message']);
      expect(parse.error).to.include({ code: 2 });
    });

    it('without a terminal and without --yes lists what would change and exits 2, changing nothing', async () => {
      await setStates(s, { '300001 Processing 0': 'failed', '300003 Analysis 0': 'failed' });
      const result = await retry();
      expect(result.code).to.equal(2);
      expect(result.stdout).to.contain('Processing\t300001\t0\t# failed -> waiting');
      expect(result.stdout).to.match(/Processing\s+failed\s+1/);
      expect(oneLine(result.stderr)).to.match(
        /2 passes match and nothing was changed: there is no terminal to ask on.*--yes \(or --fearless\)/,
      );
      expect(await notCompleted(s)).to.have.length(2);
      const fearless = await retry('--fearless');
      expect(fearless.code, fearless.stderr).to.equal(0);
      expect(await notCompleted(s)).to.deep.equal([
        '300001 Processing 0 waiting [waiting,waiting,waiting]',
        '300003 Analysis 0 waiting [waiting]',
      ]);
    });

    it('a RAT version with neither processing information nor a pass is a usage error naming those that have (exit 2)', async () => {
      for (const command of ['retry', 'cancel']) {
        const result = await runCli([command, s.config, '1.2.3', '-m', 'Processing', '--yes']);
        expect(result.code, result.stderr).to.equal(2);
        expect(oneLine(result.stderr)).to.match(
          /RAT 1\.2\.3 has no processing information here and no pass in the processing database \(RAT versions that do: .*\b9\.9\.0\b/,
        );
      }
    });

    describe('bad input exits 2 with a message, and changes nothing', () => {
      const cases: [string, () => Promise<string[]>, RegExp][] = [
        ['an unknown status', async () => ['--status', 'broken'], /--status "broken" is not a pass status/],
        ['a bad run', async () => ['--run', '3000x'], /--run: "3000x" is not a run number/],
        ['a bad pass', async () => ['--pass', 'two'], /--pass "two" is not a pass number/],
        [
          '--from after --to',
          async () => ['--from', '300005', '--to', '300001'],
          /--from 300005 is after --to 300001/,
        ],
        [
          'two run selections',
          async () => ['--run', '300001', '--from', '300000'],
          /--run and --from\/--to select runs two ways/,
        ],
        [
          'an unknown module',
          async () => ['-m', 'Analisys'],
          /-m Analisys: no module of RAT 9\.9\.0 matches it \(modules: Analysis, Calibration, Processing\)/,
        ],
        [
          'an unreadable runlist',
          async () => ['--runlist', path.join(s.dir, 'nowhere.txt')],
          /cannot read runlist \S*nowhere\.txt: ENOENT/,
        ],
        [
          'a malformed runlist',
          async () => {
            const file = path.join(s.dir, 'bad-runs.txt');
            await writeFile(file, '300001\nthree\n');
            return ['--runlist', file];
          },
          /runlist \S*bad-runs\.txt, line 2: "three" is not a run number/,
        ],
        [
          'an unreadable outlist',
          async () => ['--exactly', path.join(s.dir, 'nowhere.exactly')],
          /cannot read outlist \S*nowhere\.exactly: ENOENT/,
        ],
      ];
      for (const [what, argv, message] of cases) {
        it(what, async () => {
          await setStates(s, { '300001 Processing 0': 'failed' });
          const result = await retry(...(await argv()), '--yes');
          expect(result.code, result.stdout).to.equal(2);
          expect(oneLine(result.stderr)).to.match(message);
          expect(await notCompleted(s)).to.deep.equal(['300001 Processing 0 failed [failed,failed,failed]']);
        });
      }
    });
  });
}

describe('oproc retry on a terminal (PouchDB + PGlite)', function () {
  this.timeout(120_000);
  let s: Scenario;
  before(async () => {
    s = await passScenario('embedded');
  });
  after(() => s.cleanup());

  for (const [answer, expected] of [
    ['n', 'failed'],
    ['y', 'waiting'],
  ] as const) {
    it(`shows the count per module and status and asks; answered ${answer}, the passes are ${expected}`, async () => {
      await setStates(s, {
        '300001 Processing 0': 'failed',
        '300003 Processing 0': 'failed',
        '300003 Analysis 0': 'failed',
      });
      const { code, output } = await onTerminal(['retry', s.config, s.ratv], `${answer}\r`);
      expect(code, output).to.equal(0);
      expect(output).to.match(/3 passes of RAT 9\.9\.0 match:/);
      expect(output).to.match(/MODULE\s+STATUS\s+PASSES/);
      expect(output).to.match(/Analysis\s+failed\s+1/);
      expect(output).to.match(/Processing\s+failed\s+2/);
      expect(output).to.match(/Retry 3 passes of RAT 9\.9\.0 \(failed -> waiting\)\?/);
      if (answer === 'n') expect(output).to.match(/Nothing changed/);
      const statuses = (await notCompleted(s)).map((line) => line.split(' ')[3]);
      expect(statuses).to.deep.equal([expected, expected, expected]);
    });
  }
});
