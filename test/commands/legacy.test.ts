import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';

import { expect } from 'chai';

import { runCli } from '../support/cli.js';
import {
  backendKinds,
  backendLabel,
  describeKind,
  physicsRuns,
  scenario,
  type Scenario,
} from '../support/scenario.js';

for (const kind of backendKinds) {
  describeKind(kind, `offline_processing, the original command line (${backendLabel(kind)})`, function () {
    this.timeout(120_000);
    let s: Scenario;

    beforeEach(async () => {
      s = await scenario(kind);
      await s.addRuns(physicsRuns(300000, 300004));
    });
    afterEach(() => s.cleanup());

    it('runs the manual line unchanged: -N once per module, -L runlist, -o outlist', async () => {
      const runlist = path.join(s.dir, 'runs.txt');
      const outlist = path.join(s.dir, 'runs.exactly');
      await writeFile(runlist, '300001\n300003\n');
      const result = await runCli(
        [s.config, s.ratv, 'L2', '-N', 'Processing', '-N', 'Analysis', '-L', runlist, '-o', outlist],
        { bin: 'offline_processing.js' },
      );
      expect(result.code, result.stderr).to.equal(0);
      expect(result.stderr).to.match(/running oproc reprocess runlist/);
      const lines = (await readFile(outlist, 'utf8')).trim().split('\n').sort();
      expect(lines).to.deep.equal([
        'Analysis\t300001\t0',
        'Analysis\t300003\t0',
        'Processing\t300001\t0',
        'Processing\t300003\t0',
      ]);
      expect((await s.job(300003, 'Analysis'))!.passes[0]!.prerequisites).to.deep.equal([
        { module: 'Processing', pass: 0 },
      ]);
    });

    it('-r starts the watcher and --testing-nodb writes nothing', async () => {
      const dry = await runCli(['legacy', s.config, s.ratv, 'L2', '-r', '299999', '--testing-nodb']);
      expect(dry.code, dry.stderr).to.equal(0);
      expect(await s.job(300000, 'Processing')).to.equal(undefined);
      const real = await runCli(['legacy', s.config, s.ratv, 'L2', '-R', '300000', '300001']);
      expect(real.code, real.stderr).to.equal(0);
      expect((await s.job(300001, 'Processing'))!.passes[0]!.mode).to.equal('range');
    });

    it('a malformed original line exits 2 and writes nothing', async () => {
      const result = await runCli([s.config, s.ratv, 'L2', '-b', '300000'], { bin: 'offline_processing.js' });
      expect(result.code).to.equal(2);
      expect(result.stderr).to.match(/-b expects 2 argument/);
      expect(await s.job(300000, 'Processing')).to.equal(undefined);
    });
  });
}
