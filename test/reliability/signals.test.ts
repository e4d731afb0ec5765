import { expect } from 'chai';

import { ids, type JobDocument } from '../../src/engine/types.js';
import { runCli } from '../support/cli.js';
import {
  physicsRuns,
  scenario,
  type Scenario,
  backendLabel,
  describeKind,
  serverKinds,
} from '../support/scenario.js';
import { checkJobs, docsWithPrefix, killLeftovers, sleep, startCli } from './support.js';

const first = 900000;
const runCount = 1000;
const batchSize = 40;
const modules = ['Processing', 'Analysis'];
const everyRun = Array.from({ length: runCount }, (_, i) => first + i);

for (const kind of serverKinds) {
  describeKind(kind, `reliability: SIGINT and SIGTERM on a reprocess (${backendLabel(kind)})`, function () {
    this.timeout(300_000);
    let s: Scenario;

    before(async () => {
      s = await scenario(kind);
      await s.addRuns([
        ...physicsRuns(first, first + runCount - 1, { subruns: 1, filetypes: ['L2'] }),
        { run: first + runCount },
      ]);
    });
    afterEach(killLeftovers);
    after(() => s.cleanup());

    for (const signal of ['SIGINT', 'SIGTERM'] as const) {
      it(`${signal}: the batch in flight is finished and recorded, exit 1 with the resume command, and resume completes it`, async () => {
        const before = new Set(
          (await s.withDatabases((db) => docsWithPrefix(db, 'submission_'))).map((d) => d._id),
        );
        const cli = startCli(
          ['reprocess', 'range', s.config, s.ratv, 'L2', String(first), String(first + runCount - 1)],
          {
            OPROC_BATCH_SIZE: String(batchSize),
          },
        );
        // Once a few batches are written (the plain progress lines name the runs).
        for (let i = 0; i < 400 && !cli.stdout().includes(`run ${first + 3 * batchSize}`); i++)
          await sleep(25);
        process.kill(cli.child.pid!, signal);
        const exit = await cli.exit;
        expect(exit.code, `${cli.stdout()}${cli.stderr()}`).to.equal(1);
        expect(cli.stderr()).to.include(`${signal}: finishing the batch in flight, then stopping`);
        const resume = /Resume with: (\S+) reprocess resume (\S+) (\S+)/.exec(cli.stdout());
        expect(resume, cli.stdout()).to.not.equal(null);
        expect(resume![2]).to.equal(s.config);
        const submission = resume![3]!;

        const journals = await s.withDatabases((db) => docsWithPrefix(db, 'submission_'));
        expect(journals.filter((j) => !before.has(j._id)).map((j) => j._id)).to.deep.equal([
          ids.submission(submission),
        ]);
        const journal = journals.find((j) => j._id === ids.submission(submission))!;
        const done = journal.done as number[];
        expect(journal.finished, 'stopped early, not finished').to.equal(null);
        expect(done.length, 'whole batches recorded').to.be.greaterThan(0).and.lessThan(runCount);
        expect(done.length % batchSize).to.equal(0);
        // Exactly the recorded runs have their passes: the batch in flight was finished, nothing after it begun.
        const jobs = (await s.withDatabases((db) => docsWithPrefix(db, 'job_'))) as JobDocument[];
        const written = new Set(
          jobs.filter((d) => d.passes.some((p) => p.submission === submission)).map((d) => d.run),
        );
        expect([...written].sort((a, b) => a - b)).to.deep.equal([...done].sort((a, b) => a - b));

        const resumed = await runCli(['reprocess', 'resume', s.config, submission]);
        expect(resumed.code, `${resumed.stdout}${resumed.stderr}`).to.equal(0);
        const after = await s.withDatabases(async (db) => ({
          jobs: await docsWithPrefix(db, 'job_'),
          journal: (await db.processing.getMany([ids.submission(submission)])).get(
            ids.submission(submission),
          )!,
        }));
        expect(after.journal.finished).to.be.a('string');
        const check = checkJobs(after.jobs, new Map([[submission, { runs: everyRun, modules }]]));
        expect(check.duplicates).to.deep.equal([]);
        expect(check.losses).to.deep.equal([]);
        expect(check.broken).to.deep.equal([]);
        console.log(
          `      figures: ${signal} after ${done.length} of ${runCount} runs; exit ${exit.code}; resume created the rest, exit ${resumed.code}; duplicates 0, losses 0`,
        );
      });
    }
  });
}
