/**
 * The sweep of conflicted documents (DESIGN.md 4, Clusters) on real servers: conflicting leaf
 * revisions written as replication writes them (`new_edits: false`), then merged by the sweep a
 * watcher runs every cycle, and counted as `oproc status` counts them.
 */
import { expect } from 'chai';

import { countConflicts, resolveConflicts, sweepConflicts } from '../../src/engine/conflicts.js';
import { processingDesign } from '../../src/engine/design.js';
import type { JobDocument, Pass } from '../../src/engine/types.js';
import { OprocError } from '../../src/errors.js';
import { craftedPass, leaf, replicate } from '../support/replicate.js';
import { backendLabel, describeKind, scenario, serverKinds, type Scenario } from '../support/scenario.js';

function pass(
  number: number,
  submission: string,
  status = 'waiting',
  prerequisites: Pass['prerequisites'] = [],
): Pass {
  const mode = submission === 'sub_r' ? 'range' : 'watch';
  return craftedPass({
    pass: number,
    submission,
    status,
    prerequisites,
    mode,
    created: `2026-11-24T10:00:0${number}.000Z`,
  });
}

for (const kind of serverKinds) {
  describeKind(kind, `the sweep of conflicted documents (${backendLabel(kind)})`, function () {
    this.timeout(120_000);
    let s: Scenario;
    beforeEach(async () => {
      s = await scenario(kind);
    });
    afterEach(async () => s?.cleanup());

    it('merges a job document two writers gave pass 1: the grid-touched pass keeps it, the other is renumbered and its link and journal follow', async () => {
      const id = 'job_300050_Processing';
      const base = { type: 'job', run: 300050, module: 'Processing' };
      const h = (c: string) => c.repeat(32);
      await replicate(s, [
        leaf(id, `1-${h('1')}`, undefined, { ...base, passes: [pass(0, 'sub_a')] }),
        leaf('job_300050_Analysis', `1-${h('1')}`, undefined, {
          type: 'job',
          run: 300050,
          module: 'Analysis',
          passes: [{ ...pass(0, 'sub_r', 'waiting', [{ module: 'Processing', pass: 1 }]), pass: 0 }],
        }),
        { _id: 'submission_sub_r', type: 'submission', runs: [300050], done: [300050], _rev: `1-${h('1')}` },
      ]);
      // The reprocess's pass 1 through one node; the watcher's pass 1, already running, through another.
      await replicate(s, [
        leaf(id, `2-${h('b')}`, `1-${h('1')}`, { ...base, passes: [pass(0, 'sub_a'), pass(1, 'sub_r')] }),
        leaf(id, `2-${h('a')}`, `1-${h('1')}`, {
          ...base,
          passes: [pass(0, 'sub_a'), pass(1, 'sub_w', 'running')],
        }),
      ]);
      await s.withDatabases(async (db) => {
        expect((await db.processing.getMany([id], { conflicts: true })).get(id)?._conflicts).to.have.length(
          1,
        );
        expect(await countConflicts(db.processing), 'oproc status counts it').to.equal(1);

        const swept = await sweepConflicts(db.processing);
        expect(swept).to.deep.include({ found: 1, merged: 1, deleted: 1 });
        expect(swept.renumbered).to.deep.equal([
          { run: 300050, module: 'Processing', submission: 'sub_r', from: 1, to: 2 },
        ]);

        const now = await db.processing.getMany([id, 'job_300050_Analysis', 'submission_sub_r'], {
          conflicts: true,
        });
        const job = now.get(id) as JobDocument;
        expect(job._conflicts).to.equal(undefined);
        expect(job.passes.map((p) => [p.pass, p.submission, p.status])).to.deep.equal([
          [0, 'sub_a', 'waiting'],
          [1, 'sub_w', 'running'],
          [2, 'sub_r', 'waiting'],
        ]);
        const analysis = now.get('job_300050_Analysis') as JobDocument;
        expect(analysis.passes[0]!.prerequisites).to.deep.equal([{ module: 'Processing', pass: 2 }]);
        const journal = now.get('submission_sub_r')!;
        expect(journal.renumbered).to.have.length(1);
        expect((journal.renumbered as object[])[0]).to.include({
          run: 300050,
          module: 'Processing',
          from: 1,
          to: 2,
        });
        expect(await countConflicts(db.processing), 'nothing conflicted any more').to.equal(0);
        expect((await sweepConflicts(db.processing)).found, 'a second sweep finds nothing').to.equal(0);
      });
    });

    it('a merge refused because a grid client changed the winner meanwhile deletes no loser: it merges again and loses no pass', async () => {
      const id = 'job_300060_Processing';
      const base = { type: 'job', run: 300060, module: 'Processing' };
      const h = (c: string) => c.repeat(32);
      await replicate(s, [leaf(id, `1-${h('1')}`, undefined, { ...base, passes: [pass(0, 'sub_a')] })]);
      await replicate(s, [
        leaf(id, `2-${h('b')}`, `1-${h('1')}`, { ...base, passes: [pass(0, 'sub_a'), pass(1, 'sub_w')] }),
        leaf(id, `2-${h('a')}`, `1-${h('1')}`, { ...base, passes: [pass(0, 'sub_a'), pass(1, 'sub_r')] }),
      ]);
      await s.withDatabases(async (db) => {
        const stale = (await db.processing.getMany([id], { conflicts: true })).get(id)!;
        const { _conflicts: _listed, ...winner } = stale as JobDocument;
        const grid = { ...winner, passes: winner.passes.map((p) => ({ ...p, status: 'running' })) };
        expect((await db.processing.bulkWrite([grid]))[0]!.ok, 'the grid client wrote first').to.equal(true);
        const result = await resolveConflicts(db.processing, [stale]);
        const job = (await db.processing.getMany([id], { conflicts: true })).get(id) as JobDocument;
        expect(job._conflicts).to.equal(undefined);
        expect(job.passes.map((p) => [p.pass, p.submission, p.status])).to.deep.equal([
          [0, 'sub_a', 'running'],
          [1, 'sub_w', 'running'],
          [2, 'sub_r', 'waiting'],
        ]);
        expect(result.deleted).to.equal(1);
      });
    });

    it('a database initialised before the conflicts view gets it from oproc init (the design document is upgraded)', async () => {
      await s.withDatabases(async (db) => {
        const { conflicts: _added, ...older } = processingDesign.views;
        await db.processing.ensureDesign({ name: processingDesign.name, views: older });
        const missing = await countConflicts(db.processing).then(
          () => undefined,
          (error: unknown) => error,
        );
        expect(missing).to.be.instanceOf(OprocError);
        expect(String((missing as Error).message)).to.match(
          /has no view oproc\/conflicts: run `oproc init CONFIG`/,
        );
        expect(await db.processing.ensureDesign(processingDesign)).to.be.oneOf(['updated', 'switched']);
        expect(await countConflicts(db.processing)).to.equal(0);
      });
    });
  });
}
