import { expect } from 'chai';

import { dataflowDesign } from '../../src/engine/design.js';
import { runCli } from '../support/cli.js';
import {
  backendKinds,
  backendLabel,
  describeKind,
  physicsRuns,
  scenario,
  type Scenario,
} from '../support/scenario.js';

/** The data-flow design document as an oproc before `by_filetype` installed it. */
const olderDesign = { name: dataflowDesign.name, views: { by_run: dataflowDesign.views.by_run! } };

for (const kind of backendKinds) {
  describeKind(kind, `a data-flow database set up by an older oproc (${backendLabel(kind)})`, function () {
    this.timeout(120_000);
    let s: Scenario;
    beforeEach(async () => {
      s = await scenario(kind);
      await s.addRuns(physicsRuns(300000, 300003));
      await s.withDatabases(async (db) => {
        const id = `_design/${dataflowDesign.name}`;
        const [current] = await db.dataflow.allDocs({ startkey: id, endkey: id });
        await db.dataflow.bulkWrite([{ ...current!, views: olderDesign.views }]);
      });
    });
    afterEach(() => s.cleanup());

    it('a reprocess names the missing view and `oproc init`, exits 2 and writes nothing; after init it runs', async () => {
      const args = ['reprocess', 'range', s.config, s.ratv, 'L2', '300000', '300002'];
      const refused = await runCli(args);
      expect(refused.code, refused.stderr).to.equal(2);
      const message = refused.stderr.replace(/\s*\n\s*›\s*/g, ' ');
      expect(message).to.match(/has no view oproc_dataflow\/by_filetype: run `oproc init CONFIG`/);
      expect(message).to.not.match(/Resume with/);
      const written = await s.withDatabases((db) =>
        db.processing.allDocs({ startkey: 'job_', endkey: 'sub\ufff0' }),
      );
      expect(written.map((d) => d._id)).to.deep.equal([]);

      expect((await runCli(['init', s.config])).code).to.equal(0);
      const after = await runCli(args);
      expect(after.code, after.stderr).to.equal(0);
      expect((await s.job(300002, 'Analysis'))?.passes).to.have.length(1);
    });

    it('a watcher stops at once with the same message (exit 2) rather than retrying every cycle', async () => {
      const watch = await runCli([
        'watch',
        s.config,
        s.ratv,
        'L2',
        '--start-run',
        '299999',
        '--interval',
        '1',
      ]);
      expect(watch.code, watch.stderr).to.equal(2);
      expect(watch.stderr.replace(/\s*\n\s*›\s*/g, ' ')).to.match(/has no view oproc_dataflow\/by_filetype/);
      expect(await s.job(300000, 'Processing')).to.equal(undefined);
    });
  });
}
