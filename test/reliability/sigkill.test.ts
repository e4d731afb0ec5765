import { expect } from 'chai';

import type { Databases } from '../../src/backends/registry.js';
import type { StoredDocument } from '../../src/backends/types.js';
import { ids, type JobDocument } from '../../src/engine/types.js';
import {
  physicsRuns,
  scenario,
  type Scenario,
  backendLabel,
  describeKind,
  serverKinds,
  type BackendKind,
} from '../support/scenario.js';
import { checkJobs, docsWithPrefix, killLeftovers, sleep, startCli } from './support.js';

const full = process.env.OPROC_RELIABILITY_FULL === '1';
const batchSize = 40;
const first = 400000;
const modules = ['Processing', 'Analysis'];

/**
 * The default run proves the guarantee once per backend and keeps CI lean: 400 runs and 8 kills on
 * pouchdb-server, 300 and 5 on Apache CouchDB; `npm run test:reliability` gives both 3,000 and 60.
 */
function sizes(kind: BackendKind): { runCount: number; killCount: number } {
  const small = kind === 'apache' ? { runCount: 300, killCount: 5 } : { runCount: 400, killCount: 8 };
  const chosen = full ? { runCount: 3000, killCount: 60 } : small;
  return { ...chosen, killCount: Number(process.env.OPROC_RELIABILITY_KILLS) || chosen.killCount };
}

for (const kind of serverKinds) {
  const { runCount, killCount } = sizes(kind);
  const last = first + runCount - 1;
  describeKind(
    kind,
    `reliability: SIGKILL at ${killCount} points of a ${runCount}-run reprocess, then resume (${backendLabel(kind)})`,
    function () {
      this.timeout(full ? 3_600_000 : 600_000);
      let s: Scenario;
      // One connection for the whole test: opening one per check would cost more than the checks.
      let db: Databases;
      let close: () => void;

      before(async function () {
        this.timeout(120_000);
        s = await scenario(kind);
        // One subrun each keeps documents small; a later run makes the last one complete.
        await s.addRuns([...physicsRuns(first, last, { subruns: 1, filetypes: ['L2'] }), { run: last + 1 }]);
        const opened = new Promise<Databases>((resolve) => {
          void s.withDatabases((d) => {
            resolve(d);
            return new Promise<void>((done) => (close = done));
          });
        });
        db = await opened;
      });
      afterEach(killLeftovers);
      after(async () => {
        close?.();
        await s?.cleanup();
      });

      const submissions = () =>
        docsWithPrefix(db, 'submission_').then((docs) => new Map(docs.map((d) => [d._id, d])));
      const env = { OPROC_BATCH_SIZE: String(batchSize) };
      const args = () => ['reprocess', 'range', s.config, s.ratv, 'L2', String(first), String(last)];

      it('every intended (run, module) has exactly one pass of its submission, linked to the right prerequisite', async () => {
        // An unkilled run measures the duration kill points are drawn over, and when its journal appears.
        const baseline = startCli(args(), env);
        let journalAt: number | undefined;
        while (journalAt === undefined && baseline.child.exitCode === null) {
          if ((await submissions()).size > 0) journalAt = Date.now() - baseline.started;
          else await sleep(50);
        }
        const ended = await baseline.exit;
        const duration = Date.now() - baseline.started;
        expect(ended.code, baseline.stderr()).to.equal(0);
        journalAt ??= duration;
        console.log(`      unkilled run: ${duration} ms, journal at ${journalAt} ms`);
        const intended = new Map<string, { runs: number[]; modules: string[] }>();
        const everyRun = Array.from({ length: runCount }, (_, i) => first + i);
        for (const id of (await submissions()).keys())
          intended.set(id.replace(/^submission_/, ''), { runs: everyRun, modules });

        const phases = {
          'before the journal': 0,
          'between batches': 0,
          'inside a batch': 0,
          'after the last batch': 0,
        };
        // Stratified over [0.7 × journal time, 0.97 × duration]: some kills land before the journal on purpose.
        const from = 0.7 * journalAt;
        const span = 0.97 * duration - from;
        let endedFirst = 0;
        let shrink = 1;
        for (let k = 0; k < killCount; k++) {
          const before = await submissions();
          const delay = shrink * (from + span * ((k + Math.random()) / killCount));
          const cli = startCli(args(), env);
          await sleep(delay - (Date.now() - cli.started));
          if (cli.child.exitCode === null) process.kill(cli.child.pid!, 'SIGKILL');
          const exit = await cli.exit;
          if (exit.signal !== 'SIGKILL') {
            // Faster than the unkilled run was: its passes count as a submission; the point is tried earlier.
            expect(exit.code, cli.stderr()).to.equal(0);
            endedFirst++;
            shrink *= 0.85;
            for (const id of (await submissions()).keys())
              if (!before.has(id)) intended.set(id.replace(/^submission_/, ''), { runs: everyRun, modules });
            k--;
            continue;
          }
          const after = await submissions();
          const fresh = [...after.keys()].filter((id) => !before.has(id));
          if (fresh.length === 0) {
            // Killed before its journal: it must have written nothing, and is simply run again.
            phases['before the journal']++;
            const passes = await docsWithPrefix(db, 'job_').then((jobs) =>
              jobs.reduce((n, d) => n + (d as JobDocument).passes.length, 0),
            );
            expect(passes, 'a command killed before its journal wrote no pass').to.equal(
              intended.size * runCount * 2,
            );
            const again = startCli(args(), env);
            expect((await again.exit).code, again.stderr()).to.equal(0);
            const added = [...(await submissions()).keys()].filter((id) => !after.has(id));
            for (const id of added) intended.set(id.replace(/^submission_/, ''), { runs: everyRun, modules });
            continue;
          }
          expect(fresh, 'one journal per command run').to.have.length(1);
          const journalId = fresh[0]!;
          const submission = journalId.replace(/^submission_/, '');
          intended.set(submission, { runs: everyRun, modules });
          phases[await phaseOf(after.get(journalId)!, submission)]++;

          const resumed = startCli(['reprocess', 'resume', s.config, submission], env);
          const done = await resumed.exit;
          expect(done.code, `${resumed.stdout()}${resumed.stderr()}`).to.equal(0);
          expect(resumed.stdout()).to.include(`Submission ${submission}:`);
          const journal = (await submissions()).get(journalId)!;
          expect(journal.finished, `journal ${journalId} finished after resume`).to.be.a('string');
          expect([...(journal.done as number[])].sort((a, b) => a - b)).to.deep.equal(everyRun);
        }

        const jobs = await docsWithPrefix(db, 'job_');
        const check = checkJobs(jobs, intended);
        const unfinished = [...(await submissions()).values()].filter((d) => !d.finished).map((d) => d._id);
        console.log(
          `      figures: ${runCount} runs, batch ${batchSize}, unkilled run ${duration} ms (journal at ${journalAt} ms); ` +
            `${killCount} SIGKILLs (${endedFirst} more ended before their kill): ${Object.entries(phases)
              .map(([phase, n]) => `${n} ${phase}`)
              .join(
                ', ',
              )}; ${intended.size} submissions, ${check.jobs} job documents, ${check.passes} passes checked; ` +
            `duplicates ${check.duplicates.length}, losses ${check.losses.length}, broken links ${check.broken.length}, unfinished journals ${unfinished.length}`,
        );
        expect(check.duplicates, 'passes written twice').to.deep.equal([]);
        expect(check.losses, 'intended passes missing').to.deep.equal([]);
        expect(check.broken, 'pass numbers or prerequisite links').to.deep.equal([]);
        expect(unfinished).to.deep.equal([]);
        expect(check.passes).to.equal(intended.size * runCount * modules.length);
      });

      /** Where the kill fell: how far the journal got, and whether the next batch was partly written. */
      async function phaseOf(
        journal: StoredDocument,
        submission: string,
      ): Promise<'between batches' | 'inside a batch' | 'after the last batch'> {
        const done = (journal.done as number[]).length;
        if (done >= runCount) return 'after the last batch';
        const next = Array.from({ length: Math.min(batchSize, runCount - done) }, (_, i) => first + done + i);
        const docs = await db.processing.getMany(next.flatMap((run) => modules.map((m) => ids.job(run, m))));
        const written = [...docs.values()].filter((d) =>
          (d as JobDocument).passes.some((p) => p.submission === submission),
        ).length;
        return written > 0 ? 'inside a batch' : 'between batches';
      }
    },
  );
}
