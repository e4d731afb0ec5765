import { expect } from 'chai';

import type { DocumentStore, StoredDocument } from '../../src/backends/types.js';
import { silentReporter, type EngineContext } from '../../src/engine/context.js';
import { fencedStore, type Lease } from '../../src/engine/lease.js';
import { ids, type ProcessingInformation } from '../../src/engine/types.js';
import { watchCycle, type WatchRequest } from '../../src/engine/watch.js';
import { runTypeSelector } from '../../src/modules/catalog.js';
import {
  physicsRuns,
  scenario,
  testProcessingInformation,
  type Scenario,
  backendLabel,
  describeKind,
  serverKinds,
} from '../support/scenario.js';
import { docsWithPrefix } from './support.js';

/**
 * A processing store where another watcher writes the state document just before this one journals
 * a batch: what a watcher paused past its lease finds when it wakes.
 */
function overtaken(store: DocumentStore, stateId: string): DocumentStore {
  let done = false;
  return new Proxy(store, {
    get(target, key, receiver) {
      if (key !== 'bulkWrite') return Reflect.get(target, key, receiver) as unknown;
      return async (docs: readonly StoredDocument[]) => {
        if (!done && docs.some((d) => d._id === stateId)) {
          done = true;
          const current = (await target.getMany([stateId])).get(stateId);
          const other = {
            ...(current ?? { _id: stateId, type: 'watch_state' }),
            updated: 'by another watcher',
          };
          const [written] = await target.bulkWrite([other]);
          if (!written?.ok) throw new Error(`the other watcher's write failed: ${written?.error}`);
        }
        return target.bulkWrite(docs);
      };
    },
  });
}

for (const kind of serverKinds) {
  describeKind(
    kind,
    `reliability: a watcher overtaken by another leaves no journal of work it never did (${backendLabel(kind)})`,
    function () {
      this.timeout(60_000);
      let s: Scenario;

      beforeEach(async () => {
        s = await scenario(kind);
        await s.addRuns(physicsRuns(700000, 700003));
      });
      afterEach(() => s.cleanup());

      const request = (): WatchRequest => ({
        mode: 'watch',
        after: 699999,
        ratv: s.ratv,
        filetype: 'L2',
        ratdbTag: null,
        skipRatdbCheck: false,
        findPrereq: false,
        forcePrereqPass: {},
        ignoreCalibrationLocks: false,
        dryRun: false,
        args: {},
      });

      /** One cycle on the processing store `wrap` gives; its error, and what it left in the database. */
      const overtakenCycle = async (wrap: (store: DocumentStore) => DocumentStore) => {
        const failure = await s.withDatabases(async (db) => {
          const context: EngineContext = {
            processing: wrap(overtaken(db.processing, ids.watchState(s.ratv, 'L2'))),
            dataflow: db.dataflow,
            ratdb: db.ratdb,
            info: testProcessingInformation as unknown as ProcessingInformation,
            selector: runTypeSelector,
            now: () => new Date(),
            user: 'shifter@host',
            reporter: silentReporter,
          };
          return watchCycle(context, request()).then(
            () => undefined,
            (error: unknown) => error as Error,
          );
        });
        const left = await s.withDatabases(async (db) => ({
          jobs: await docsWithPrefix(db, 'job_'),
          journals: await docsWithPrefix(db, 'submission_'),
        }));
        return { failure, ...left };
      };

      /** No pass, and every journal written said to be never carried out. */
      const expectNothingClaimed = (left: { jobs: StoredDocument[]; journals: StoredDocument[] }) => {
        expect(left.jobs, 'no pass written').to.deep.equal([]);
        for (const journal of left.journals) {
          expect(
            journal.finished,
            `${journal._id} is left unfinished, claiming runs nobody will write`,
          ).to.be.a('string');
          expect(journal.abandoned).to.match(/another watcher/);
        }
      };

      it('stops at the state conflict with no pass written, and its journal, if written, marked abandoned', async () => {
        const left = await overtakenCycle((store) => store);
        expect(left.failure?.message).to.match(/writing watch_9\.9\.0_L2 failed: conflict \(another watcher/);
        // One _bulk_docs wrote the journal but not the state: the journal must say it was never carried out.
        expectNothingClaimed(left);
      });

      it('marks its journal abandoned also when it was paused between the fence and the write, and lost the lease', async () => {
        // The fence said the lease was held; by the time the write arrived another watcher held it.
        let checks = 0;
        let lost = 0;
        const lease = {
          id: ids.lease(s.ratv, 'L2'),
          stillHeld: async () => checks++ < 1,
        } as unknown as Lease;
        const left = await overtakenCycle((store) => fencedStore(store, lease, () => lost++));
        expect(left.failure?.message).to.match(/writing watch_9\.9\.0_L2 failed: conflict \(another watcher/);
        expect(left.journals, 'the journal went in with the refused state').to.have.length(1);
        expectNothingClaimed(left);
        expect(lost, 'no other write was attempted past the lost lease').to.equal(0);
      });
    },
  );
}
