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
  describeKind(kind, `oproc cancel (${backendLabel(kind)})`, function () {
    this.timeout(180_000);
    let s: Scenario;
    const cancel = (...rest: string[]) => runCli(['cancel', s.config, s.ratv, ...rest]);

    before(async () => {
      s = await passScenario(kind);
    });
    after(() => s.cleanup());

    it('needs at least one -m (exit 2, nothing changed)', async () => {
      await setStates(s, { '300001 Processing 0': 'waiting' });
      const result = await cancel('--yes');
      expect(result.code).to.equal(2);
      expect(oneLine(result.stderr)).to.match(/cancel needs at least one -m\/--module/);
      expect(await notCompleted(s)).to.deep.equal(['300001 Processing 0 waiting [waiting,waiting,waiting]']);
    });

    it('cancels waiting, new, submitted and running passes of the module by default, keeping completed subjobs, and records who and when', async () => {
      await setStates(s, {
        '300000 Analysis 0': 'waiting',
        '300001 Analysis 0': 'new',
        '300002 Analysis 0': 'submitted',
        '300003 Analysis 0': 'running',
        '300004 Analysis 0': 'failed',
        '300001 Processing 0': { status: 'running', subjobs: ['completed', 'running', 'waiting'] },
        '300002 Processing 0': 'waiting',
      });
      const before = new Date().toISOString();
      const result = await cancel('-m', 'Analysis', '--yes', '--json');
      expect(result.code, result.stderr).to.equal(0);
      const body = json<PassChangeResult>(result);
      expect(changedKeys(body)).to.deep.equal([
        '300000 Analysis 0 waiting',
        '300001 Analysis 0 new',
        '300002 Analysis 0 submitted',
        '300003 Analysis 0 running',
      ]);
      expect(body.changed.every((c) => c.to === 'canceled')).to.equal(true);
      expect(body).to.deep.include({ left: [], dry_run: false });
      const pass = (await s.job(300003, 'Analysis'))!.passes[0]!;
      expect(pass.status).to.equal('canceled');
      expect(pass.canceled_by).to.equal(me);
      expect(String(pass.canceled_at) >= before).to.equal(true);

      const processing = await cancel('-m', 'Proc*', '--run', '300001', '--yes');
      expect(processing.code, processing.stderr).to.equal(0);
      expect(processing.stdout).to.contain('Processing\t300001\t0\t# running -> canceled');
      expect(await notCompleted(s)).to.deep.equal([
        '300000 Analysis 0 canceled [canceled]',
        '300001 Analysis 0 canceled [canceled]',
        '300001 Processing 0 canceled [completed,canceled,canceled]',
        '300002 Analysis 0 canceled [canceled]',
        '300002 Processing 0 waiting [waiting,waiting,waiting]',
        '300003 Analysis 0 canceled [canceled]',
        '300004 Analysis 0 failed [failed]',
      ]);
    });

    it('selects by --pass, --status, range and --exactly; refuses completed and canceled', async () => {
      await setStates(s, {
        '300002 Processing 0': 'failed',
        '300002 Processing 1': 'waiting',
        '300003 Processing 0': 'waiting',
        '300004 Processing 0': 'waiting',
        '300005 Processing 1': 'waiting', // RAT 7.0.8
      });
      const dry = async (...rest: string[]) => {
        const result = await cancel('--dry-run', '--json', ...rest);
        expect(result.code, result.stderr).to.equal(0);
        expect(json<PassChangeResult>(result).dry_run).to.equal(true);
        return changedKeys(json<PassChangeResult>(result));
      };
      expect(await dry('-m', '*', '--pass', '1')).to.deep.equal(['300002 Processing 1 waiting']);
      expect(await dry('-m', 'Processing', '--status', 'failed')).to.deep.equal([
        '300002 Processing 0 failed',
      ]);
      expect(await dry('-m', 'Processing', '--from', '300003', '--to', '300005')).to.deep.equal([
        '300003 Processing 0 waiting',
        '300004 Processing 0 waiting',
      ]);
      const outlist = path.join(s.dir, 'cancel.exactly');
      await writeFile(
        outlist,
        'Processing 300002 1\nProcessing 300004 0\nProcessing 300003 0 # completed? no: waiting\n',
      );
      const exact = await cancel('-m', 'Processing', '--exactly', outlist, '--pass', '0', '--yes');
      expect(exact.code, exact.stderr).to.equal(0);
      expect(exact.stdout).to.match(/2 passes of RAT 9\.9\.0 canceled/);
      expect(await notCompleted(s)).to.deep.equal([
        '300002 Processing 0 failed [failed,failed,failed]',
        '300002 Processing 1 waiting [waiting,waiting,waiting]',
        '300003 Processing 0 canceled [canceled,canceled,canceled]',
        '300004 Processing 0 canceled [canceled,canceled,canceled]',
        '300005 Processing 1 waiting [waiting,waiting,waiting]',
      ]);
      for (const status of ['completed', 'canceled']) {
        const refused = await cancel('-m', 'Processing', '--status', status, '--yes');
        expect(refused.code).to.equal(2);
        expect(oneLine(refused.stderr)).to.match(new RegExp(`--status ${status}: `));
      }
    });

    it('without a terminal and without --yes lists and exits 2, changing nothing; a canceled pass can be retried', async () => {
      await setStates(s, { '300000 Processing 0': 'waiting' });
      const result = await cancel('-m', 'Processing');
      expect(result.code).to.equal(2);
      expect(result.stdout).to.contain('Processing\t300000\t0\t# waiting -> canceled');
      expect(await notCompleted(s)).to.deep.equal(['300000 Processing 0 waiting [waiting,waiting,waiting]']);
      expect((await cancel('-m', 'Processing', '--yes')).code).to.equal(0);
      const retried = await runCli(['retry', s.config, s.ratv, '--status', 'canceled', '--yes']);
      expect(retried.code, retried.stderr).to.equal(0);
      const pass = (await s.job(300000, 'Processing'))!.passes[0]!;
      expect(pass.status).to.equal('waiting');
      expect((pass.retries as { from: string }[]).map((r) => r.from)).to.deep.equal(['canceled']);
      expect(pass.canceled_by, 'the cancel stays in the history').to.equal(me);
    });
  });
}

describe('oproc cancel on a terminal (PouchDB + PGlite)', function () {
  this.timeout(120_000);
  let s: Scenario;
  before(async () => {
    s = await passScenario('embedded');
  });
  after(() => s.cleanup());

  it('asks with the counts; answered y, the passes are canceled', async () => {
    await setStates(s, { '300001 Analysis 0': 'waiting', '300002 Analysis 0': 'running' });
    const { code, output } = await onTerminal(['cancel', s.config, s.ratv, '-m', 'Analysis'], 'y\r');
    expect(code, output).to.equal(0);
    expect(output).to.match(/Analysis\s+waiting\s+1/);
    expect(output).to.match(/Analysis\s+running\s+1/);
    expect(output).to.match(/Cancel 2 passes of RAT 9\.9\.0 \(waiting, running -> canceled\)\?/);
    expect(await notCompleted(s)).to.deep.equal([
      '300001 Analysis 0 canceled [canceled]',
      '300002 Analysis 0 canceled [canceled]',
    ]);
  });
});
