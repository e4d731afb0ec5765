import { expect } from 'chai';

import type { DocumentStore, StoredDocument } from '../../src/backends/types.js';
import { silentReporter, type EngineContext } from '../../src/engine/batch.js';
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

      it('stops at the state conflict with no pass written, and its journal, if written, marked abandoned', async () => {
        const request: WatchRequest = {
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
        };
        const stateId = ids.watchState(s.ratv, 'L2');
        const failure = await s.withDatabases(async (db) => {
          const context: EngineContext = {
            processing: overtaken(db.processing, stateId),
            dataflow: db.dataflow,
            ratdb: db.ratdb,
            info: testProcessingInformation as unknown as ProcessingInformation,
            selector: runTypeSelector,
            now: () => new Date(),
            user: 'shifter@host',
            reporter: silentReporter,
          };
          return watchCycle(context, request).then(
            () => undefined,
            (error: unknown) => error as Error,
          );
        });
        expect(failure?.message).to.match(/writing watch_9\.9\.0_L2 failed: conflict \(another watcher/);
        const left = await s.withDatabases(async (db) => ({
          jobs: await docsWithPrefix(db, 'job_'),
          journals: await docsWithPrefix(db, 'submission_'),
        }));
        expect(left.jobs, 'no pass written').to.deep.equal([]);
        // One _bulk_docs wrote the journal but not the state: the journal must say it was never carried out.
        for (const journal of left.journals) {
          expect(
            journal.finished,
            `${journal._id} is left unfinished, claiming runs nobody will write`,
          ).to.be.a('string');
          expect(journal.abandoned).to.match(/another watcher/);
        }
      });
    },
  );
}
