import { expect } from 'chai';

import { ids, type JobDocument } from '../../src/engine/types.js';
import {
  physicsRuns,
  scenario,
  type Scenario,
  backendLabel,
  describeKind,
  serverKinds,
} from '../support/scenario.js';
import { checkJobs, docsWithPrefix, killLeftovers, sleep, startCli } from './support.js';

const first = 650000;
const runCount = 300;
const last = first + runCount - 1;
const modules = ['Processing', 'Analysis'];

for (const kind of serverKinds) {
  describeKind(
    kind,
    `reliability: a reprocess running beside a watcher over the same runs (${backendLabel(kind)})`,
    function () {
      this.timeout(300_000);
      let s: Scenario;

      before(async () => {
        s = await scenario(kind);
        await s.addRuns([...physicsRuns(first, last, { subruns: 1, filetypes: ['L2'] }), { run: last + 1 }]);
      });
      afterEach(killLeftovers);
      after(() => s.cleanup());

      it("corrupts neither's documents: each run gets one watch pass and one reprocess pass per module", async () => {
        const watcher = startCli(
          ['watch', s.config, s.ratv, 'L2', '-r', String(first - 1), '--interval', '1'],
          {
            OPROC_BATCH_SIZE: '5',
          },
        );
        const state = async () =>
          (await s.docs([ids.watchState(s.ratv, 'L2')])).get(ids.watchState(s.ratv, 'L2'));
        for (let i = 0; i < 200 && !(Number((await state())?.last_run) >= first); i++) await sleep(50);
        const reprocess = startCli(
          ['reprocess', 'range', s.config, s.ratv, 'L2', String(first), String(last)],
          {
            OPROC_BATCH_SIZE: '10',
          },
        );
        const done = await reprocess.exit;
        expect(done.code, reprocess.stderr()).to.equal(0);
        for (let i = 0; i < 600; i++) {
          const now = await state();
          if (now?.last_run === last && now.in_flight === null) break;
          await sleep(100);
        }
        process.kill(watcher.child.pid!, 'SIGTERM');
        expect((await watcher.exit).code, watcher.stderr()).to.equal(0);

        const jobs = (await s.withDatabases((db) => docsWithPrefix(db, 'job_'))) as JobDocument[];
        const journals = await s.withDatabases((db) => docsWithPrefix(db, 'submission_'));
        const intended = new Map(
          journals
            .filter((j) => !j.abandoned)
            .map((j) => [j._id.replace(/^submission_/, ''), { runs: j.runs as number[], modules }]),
        );
        const check = checkJobs(jobs, intended);
        const modesOf = (doc: JobDocument) =>
          doc.passes
            .map((p) => p.mode)
            .sort()
            .join(',');
        const wrong = jobs.filter((d) => modesOf(d) !== 'range,watch').map((d) => `${d._id}: ${modesOf(d)}`);
        const overlapped = jobs.filter(
          (d) => d.passes[0]!.mode !== d.passes[1]?.mode && d.passes[0]!.mode === 'range',
        ).length;
        console.log(
          `      figures: ${runCount} runs, a watcher and a reprocess at once; ${check.passes} passes in ${jobs.length} job documents ` +
            `(${overlapped} where the reprocess came first); duplicates ${check.duplicates.length}, losses ${check.losses.length}, broken ${check.broken.length}`,
        );
        expect(jobs).to.have.length(runCount * modules.length);
        expect(wrong, 'documents without exactly one watch pass and one reprocess pass').to.deep.equal([]);
        expect(check.duplicates).to.deep.equal([]);
        expect(check.losses).to.deep.equal([]);
        expect(check.broken).to.deep.equal([]);
      });
    },
  );
}
