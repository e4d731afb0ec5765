/**
 * What retry and cancel report after they wrote (DESIGN.md 4, Clusters: writers re-check with
 * conflicts=true): a change is reported changed when the pass read back still carries it, whether
 * a grid client wrote the pass on after it or a conflicting revision from another node was merged
 * with it; left only when the merged pass lost it.
 */
import { expect } from 'chai';

import type { DocumentStore, StoredDocument } from '../../src/backends/types.js';
import type { JobDocument, Pass } from '../../src/engine/types.js';
import {
  applyPassChanges,
  targetStatus,
  type PassChangeKind,
  type PassChangePlan,
} from '../../src/operations/pass-changes.js';
import { craftedPass, leaf, replicate } from '../support/replicate.js';
import { backendLabel, describeKind, scenario, serverKinds, type Scenario } from '../support/scenario.js';

const run = 300070;
const id = `job_${run}_Processing`;
const by = 'shifter@host';
const now = new Date('2026-12-05T12:00:00.000Z');

function pass(status: string): Pass {
  const subjobs = [0, 1].map((subrun) => ({ subrun, status }));
  return craftedPass({ pass: 0, submission: 'sub_a', status, subjobs, created: '2026-12-01T10:00:00.000Z' });
}

/**
 * A store that runs `after` once, right after the command's first write. With `copies`, it says the
 * database has copies on several nodes (a cluster), as the one server here cannot: a revision
 * replicated in is then what another node's write would bring.
 */
function afterFirstWrite(
  store: DocumentStore,
  after: () => Promise<void>,
  options: { copies?: boolean } = {},
): DocumentStore {
  let done = false;
  return new Proxy(store, {
    get(target, key, receiver) {
      if (key === 'replicationLagMs' && options.copies) return async () => 6500;
      if (key !== 'bulkWrite') return Reflect.get(target, key, receiver) as unknown;
      return async (docs: readonly StoredDocument[]) => {
        const results = await target.bulkWrite(docs);
        if (!done) {
          done = true;
          await after();
        }
        return results;
      };
    },
  });
}

/** The grid's late completion: the pass and its subjobs completed, everything else kept. */
const completed = (p: Pass): Pass => ({
  ...p,
  status: 'completed',
  subjobs: p.subjobs.map((j) => ({ ...j, status: 'completed' })),
});

for (const kind of serverKinds) {
  describeKind(kind, `retry and cancel read back what they wrote (${backendLabel(kind)})`, function () {
    this.timeout(120_000);
    let s: Scenario;
    beforeEach(async () => {
      s = await scenario(kind);
    });
    afterEach(async () => s?.cleanup());

    /** Writes the job document with its pass in `status`; returns it as stored and the plan to change it. */
    async function prepare(change: PassChangeKind, status: string): Promise<[JobDocument, PassChangePlan]> {
      const doc = await s.withDatabases(async (db) => {
        await db.processing.bulkWrite([
          { _id: id, type: 'job', run, module: 'Processing', passes: [pass(status)] },
        ]);
        return (await db.processing.getMany([id])).get(id) as JobDocument;
      });
      const plan: PassChangePlan = {
        request: {
          kind: change,
          ratv: '9.9.0',
          source: { kind: 'runs', runs: [run] },
          modules: [],
          passes: [],
          statuses: [status as 'failed'],
          lastPass: false,
        },
        matched: [{ run, module: 'Processing', pass: 0, status }],
        left: [],
        warnings: [],
        ratvSeen: true,
        docs: new Map([[id, doc]]),
      };
      return [doc, plan];
    }

    for (const [change, before] of [
      ['cancel', 'running'],
      ['retry', 'failed'],
    ] as const) {
      it(`${change}: a grid client that completes the pass right after the write does not make it "left"`, async () => {
        const [, plan] = await prepare(change, before);
        const outcome = await s.withDatabases(async (db) => {
          const store = afterFirstWrite(db.processing, async () => {
            const doc = (await db.processing.getMany([id])).get(id) as JobDocument;
            const [result] = await db.processing.bulkWrite([{ ...doc, passes: doc.passes.map(completed) }]);
            expect(result!.ok).to.equal(true);
          });
          return applyPassChanges(store, plan, { by, now });
        });
        expect(outcome.left).to.deep.equal([]);
        expect(outcome.changed).to.deep.equal([
          { run, module: 'Processing', pass: 0, from: before, to: targetStatus[change] },
        ]);
        const stored = (await s.job(run, 'Processing'))!.passes[0]!;
        expect(stored.status).to.equal('completed');
        if (change === 'cancel') expect(stored.canceled_at).to.equal(now.toISOString());
        else expect(stored.retries).to.have.length(1);
      });

      it(`${change}: on one server nothing is read back after the write: no conflict can follow it there`, async () => {
        const [, plan] = await prepare(change, before);
        const readsAfterWrite = await s.withDatabases(async (db) => {
          let written = false;
          let reads = 0;
          const store = new Proxy(db.processing, {
            get(target, key, receiver) {
              if (key === 'bulkWrite')
                return async (docs: readonly StoredDocument[]) => {
                  written = true;
                  return target.bulkWrite(docs);
                };
              if (key === 'getMany')
                return async (...args: Parameters<DocumentStore['getMany']>) => {
                  if (written) reads++;
                  return target.getMany(...args);
                };
              return Reflect.get(target, key, receiver) as unknown;
            },
          });
          const outcome = await applyPassChanges(store, plan, { by, now });
          expect(outcome.changed.map((c) => c.to)).to.deep.equal([targetStatus[change]]);
          return reads;
        });
        expect(readsAfterWrite).to.equal(0);
        expect((await s.job(run, 'Processing'))!.passes[0]!.status).to.equal(targetStatus[change]);
      });

      it(`${change}: a conflicting revision from another node, merged, keeps the change and its mark`, async () => {
        const [doc, plan] = await prepare(change, before);
        const outcome = await s.withDatabases(async (db) => {
          // The grid client's completion through another node, from the revision before the change.
          const store = afterFirstWrite(
            db.processing,
            () =>
              replicate(s, [
                leaf(id, `2-${'f'.repeat(32)}`, doc._rev, {
                  type: 'job',
                  run,
                  module: 'Processing',
                  passes: doc.passes.map(completed),
                }),
              ]),
            { copies: true },
          );
          return applyPassChanges(store, plan, { by, now });
        });
        const stored = await s.withDatabases(
          async (db) => (await db.processing.getMany([id], { conflicts: true })).get(id) as JobDocument,
        );
        expect(stored._conflicts ?? [], 'merged: no conflict left').to.deep.equal([]);
        const merged = stored.passes[0]!;
        expect(outcome.left).to.deep.equal([]);
        expect(outcome.changed.map((c) => c.to)).to.deep.equal([targetStatus[change]]);
        if (change === 'cancel') {
          // canceled ranks after completed: the cancel stands, with who and when.
          expect(merged.status).to.equal('canceled');
          expect(merged.canceled_at).to.equal(now.toISOString());
          expect(merged.canceled_by).to.equal(by);
        } else {
          // The copy retried more often is the later one.
          expect(merged.status).to.equal('waiting');
          expect(merged.retries).to.deep.equal([{ at: now.toISOString(), by, from: 'failed' }]);
        }
      });
    }
  });
}
