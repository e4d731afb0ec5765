import { expect } from 'chai';

import type { Databases } from '../../src/backends/registry.js';
import { ids, type JobDocument } from '../../src/engine/types.js';
import {
  physicsRuns,
  scenario,
  type Scenario,
  backendLabel,
  describeKind,
  serverKinds,
} from '../support/scenario.js';
import { checkJobs, docsWithPrefix, killLeftovers, startCli } from './support.js';

const first = 500000;
const runCount = 300;
const modules = ['Processing', 'Analysis'];
const everyRun = Array.from({ length: runCount }, (_, i) => first + i);

/** A grid change the simulated client made: a pass and a subjob of a job document set to a status. */
interface GridChange {
  id: string;
  pass: number;
  status: string;
}

/**
 * A grid client as the experiment's tools behave: reads job documents, sets the status of a pass and
 * of its first subjob, writes with the revision it read and, on a 409, reads again and redoes its
 * change. Each (document, pass) is changed once, so its final status is known.
 */
async function gridClient(
  db: Databases,
  stop: () => boolean,
): Promise<{ changes: GridChange[]; conflicts: number; writes: number }> {
  const changes: GridChange[] = [];
  const touched = new Set<string>();
  let conflicts = 0;
  let writes = 0;
  const statuses = ['submitted', 'running', 'completed', 'failed'];
  while (!stop()) {
    // A handful of documents of the batch oproc is writing now (from its journal), to race its writes.
    const journals = await docsWithPrefix(db, 'submission_');
    const current = journals.find((j) => !j.finished);
    const done = Array.isArray(current?.done) ? current.done.length : Math.floor(Math.random() * runCount);
    const start = first + Math.min(runCount - 8, done + Math.floor(Math.random() * 6));
    const wanted = Array.from({ length: 8 }, (_, i) => ids.job(start + (i >> 1), modules[i % 2]!));
    let pending = wanted;
    for (let attempt = 0; attempt < 20 && pending.length; attempt++) {
      const docs = [...(await db.processing.getMany(pending)).values()] as JobDocument[];
      const edits: { doc: JobDocument; change: GridChange }[] = [];
      for (const doc of docs) {
        const pass = doc.passes.find((p) => !touched.has(`${doc._id} ${p.pass}`));
        if (!pass) continue;
        const status = statuses[(pass.pass + doc.run) % statuses.length]!;
        const passes = doc.passes.map((p) =>
          p.pass === pass.pass
            ? { ...p, status, subjobs: p.subjobs.map((j, i) => (i === 0 ? { ...j, status } : j)) }
            : p,
        );
        edits.push({ doc: { ...doc, passes }, change: { id: doc._id, pass: pass.pass, status } });
      }
      if (edits.length === 0) break;
      const results = await db.processing.bulkWrite(edits.map((e) => e.doc));
      writes++;
      const again: string[] = [];
      results.forEach((r, i) => {
        const { change } = edits[i]!;
        if (r.ok) {
          touched.add(`${change.id} ${change.pass}`);
          changes.push(change);
        } else if (r.error === 'conflict') {
          conflicts++;
          again.push(change.id);
        } else throw new Error(`grid client: writing ${change.id} failed: ${r.error}`);
      });
      pending = again;
    }
  }
  return { changes, conflicts, writes };
}

for (const kind of serverKinds) {
  describeKind(
    kind,
    `reliability: a grid client updates statuses while a reprocess appends passes (${backendLabel(kind)})`,
    function () {
      this.timeout(300_000);
      let s: Scenario;

      before(async () => {
        s = await scenario(kind);
        await s.addRuns([
          ...physicsRuns(first, first + runCount - 1, { subruns: 2, filetypes: ['L2'] }),
          { run: first + runCount },
        ]);
      });
      afterEach(killLeftovers);
      after(() => s.cleanup());

      it("keeps every grid change and every one of oproc's passes, each once", async () => {
        const range = [
          'reprocess',
          'range',
          s.config,
          s.ratv,
          'L2',
          String(first),
          String(first + runCount - 1),
        ];
        // Pass 0 everywhere first, for the grid client to work on from the start.
        const seed = startCli(range);
        expect((await seed.exit).code, seed.stderr()).to.equal(0);

        const reprocesses = [startCli(range, { OPROC_BATCH_SIZE: '10' })];
        let running = true;
        const grid = s.withDatabases((db) => gridClient(db, () => !running));
        const second = await reprocesses[0]!.exit;
        // A second reprocess right after, so the grid client also races passes appended to changed documents.
        reprocesses.push(startCli(range, { OPROC_BATCH_SIZE: '10' }));
        const third = await reprocesses[1]!.exit;
        running = false;
        const { changes, conflicts, writes } = await grid;
        expect(second.code, reprocesses[0]!.stderr()).to.equal(0);
        expect(third.code, reprocesses[1]!.stderr()).to.equal(0);

        const jobs = await s.withDatabases((db) => docsWithPrefix(db, 'job_'));
        const submissions = await s.withDatabases((db) => docsWithPrefix(db, 'submission_'));
        expect(submissions).to.have.length(3);
        const intended = new Map(
          submissions.map((d) => [d._id.replace(/^submission_/, ''), { runs: everyRun, modules }]),
        );
        const check = checkJobs(jobs, intended);
        const byId = new Map(jobs.map((d) => [d._id, d as JobDocument]));
        const lost = changes.filter((c) => {
          const pass = byId.get(c.id)?.passes.find((p) => p.pass === c.pass);
          return pass?.status !== c.status || pass.subjobs[0]?.status !== c.status;
        });
        console.log(
          `      figures: ${runCount} runs, 3 reprocesses (two during the grid client); grid client: ${writes} bulk writes, ` +
            `${changes.length} status changes, ${conflicts} conflicts redone; lost grid changes ${lost.length}; ` +
            `oproc passes ${check.passes}, duplicates ${check.duplicates.length}, losses ${check.losses.length}, broken ${check.broken.length}`,
        );
        expect(changes.length, 'the grid client got to work during the reprocess').to.be.greaterThan(50);
        expect(
          lost.map((c) => `${c.id} pass ${c.pass} ${c.status}`),
          'grid changes overwritten',
        ).to.deep.equal([]);
        expect(check.duplicates).to.deep.equal([]);
        expect(check.losses).to.deep.equal([]);
        expect(check.broken).to.deep.equal([]);
        expect(check.passes).to.equal(3 * runCount * modules.length);
      });
    },
  );
}
