import { randomBytes } from 'node:crypto';
import path from 'node:path';

import { expect } from 'chai';

import couchdbBackends from '../../plugins/couchdb/src/hooks/backends.js';
import pouchdbBackends from '../../plugins/pouchdb/src/hooks/backends.js';
import type { DocumentStore, StoredDocument } from '../../src/backends/types.js';
import { DataflowFeed, isDataflowChange, settleMs } from '../../src/engine/feed.js';
import { ids } from '../../src/engine/types.js';
import { dataflowDocsFor } from '../support/scenario.js';
import { backendContext, tempDir } from '../support/context.js';
import { apacheCouchMissing, apacheCouchServer, deleteDatabases } from '../support/apache-couch.js';
import { couchServer } from '../support/servers.js';

interface Backend {
  name: string;
  /** Why this backend cannot run here (no Apache CouchDB), if it cannot. */
  missing?: string;
  /** A store on a fresh data-flow database, and how to drop it. */
  open(): Promise<{ store: DocumentStore; cleanup(): Promise<void> }>;
}

const backends: Backend[] = [
  {
    name: 'PouchDB',
    open: async () => {
      const temp = await tempDir('oproc-feed-');
      const factory = (await pouchdbBackends()).documentStores!.pouchdb!;
      const store = await factory(
        backendContext('dataflow', { backend: 'pouchdb', path: path.join(temp.dir, 'dataflow') }),
      );
      return {
        store,
        cleanup: async () => {
          await store.close();
          await temp.remove();
        },
      };
    },
  },
  {
    name: 'pouchdb-server',
    open: async () => {
      const factory = (await couchdbBackends()).documentStores!.couchdb!;
      const section = {
        backend: 'couchdb',
        url: (await couchServer()).url,
        database: `oproc-feed-${randomBytes(5).toString('hex')}`,
      };
      const store = await factory(backendContext('dataflow', section));
      await store.create();
      return { store, cleanup: () => store.close() };
    },
  },
  {
    name: 'Apache CouchDB',
    missing: apacheCouchMissing(),
    open: async () => {
      const factory = (await couchdbBackends()).documentStores!.couchdb!;
      const server = (await apacheCouchServer())!;
      const section = {
        backend: 'couchdb',
        url: server.url,
        database: `oproc-feed-${randomBytes(5).toString('hex')}`,
      };
      const store = await factory(backendContext('dataflow', section));
      await store.create();
      return {
        store,
        cleanup: async () => {
          await store.close();
          await deleteDatabases(server.url, [section.database]);
        },
      };
    },
  },
];

/** The files of a run, as the data-flow database registers them. */
function filesOf(run: number): StoredDocument[] {
  return dataflowDocsFor({ run, filetypes: ['L2'], subruns: 2 });
}

/** oproc's own documents, as a watcher, its lease and grid clients write them where both databases are one. */
function ownDocuments(): StoredDocument[] {
  return [
    { _id: ids.job(300000, 'Processing'), type: 'job', run: 300000, module: 'Processing', passes: [] },
    { _id: ids.submission('sub_x'), type: 'submission' },
    { _id: ids.watchState('7.0.8', 'L2'), type: 'watch_state' },
    { _id: ids.lease('7.0.8', 'L2'), type: 'lease' },
    { _id: ids.calibrationLock('PCA'), type: 'calibration_lock' },
    { _id: '_design/oproc_test', views: {} },
  ];
}

/** Writes after `ms`, so the write falls inside a wait that has started. */
function writeLater(store: DocumentStore, docs: StoredDocument[], ms: number): Promise<void> {
  return new Promise((resolve, reject) =>
    setTimeout(() => store.bulkWrite(docs).then(() => resolve(), reject), ms),
  );
}

/** The store without its change feed, as a backend that has none. */
function withoutFeed(store: DocumentStore): DocumentStore {
  return {
    description: store.description,
    create: () => store.create(),
    ensureDesign: (design) => store.ensureDesign(design),
    getMany: (wanted, options) => store.getMany(wanted, options),
    getRevisions: (refs) => store.getRevisions(refs),
    allDocs: (query) => store.allDocs(query),
    bulkWrite: (docs) => store.bulkWrite(docs),
    queryView: (design, view, query) => store.queryView(design, view, query),
    close: () => store.close(),
  };
}

describe('which changes wake a watcher', () => {
  it('every id oproc gives its own documents is one the feed ignores; data-flow ids are not', () => {
    const own = [
      ids.job(300050, 'Analysis'),
      ids.submission('sub_2026-11-24T10-00-00Z_ab12'),
      ids.watchState('7.0.8', 'L1'),
      ids.lease('7.0.8', 'L1'),
      ids.calibrationLock('ECA'),
      '_design/oproc',
    ];
    for (const id of own) expect(isDataflowChange(id), id).to.equal(false);
    for (const id of ['file_L2_300050_003', 'run_end_300050', 'raw_300050'])
      expect(isDataflowChange(id), id).to.equal(true);
  });
});

for (const backend of backends) {
  if (backend.missing) {
    describe(`the data-flow change feed (${backend.name})`, () => it(`skipped: ${backend.missing}`));
    continue;
  }
  describe(`the data-flow change feed (${backend.name})`, function () {
    this.timeout(60_000);
    let store: DocumentStore;
    let cleanup: () => Promise<void>;
    let warnings: string[];
    let feed: DataflowFeed;

    beforeEach(async () => {
      ({ store, cleanup } = await backend.open());
      await store.bulkWrite(filesOf(300000));
      warnings = [];
      feed = new DataflowFeed(store, (reason) => warnings.push(reason));
    });
    afterEach(() => cleanup());

    it('a data-flow document written during the wait ends it long before the interval', async () => {
      await feed.mark();
      const writing = writeLater(store, filesOf(300001), 200);
      const wake = await feed.waitForChange(30_000);
      await writing;
      expect(wake).to.equal('change');
      expect(warnings).to.deep.equal([]);
    });

    it('a document written after the mark, before the wait starts, ends the wait: no wake-up is lost', async () => {
      await feed.mark();
      await store.bulkWrite(filesOf(300001)); // as if written while the cycle ran
      expect(await feed.waitForChange(30_000)).to.equal('change');
    });

    it("oproc's own documents and design documents do not end the wait", async () => {
      await feed.mark();
      const writing = writeLater(store, ownDocuments(), 100);
      const started = Date.now();
      const wake = await feed.waitForChange(1500);
      await writing;
      expect(wake).to.equal('interval');
      expect(Date.now() - started).to.be.at.least(1450);
    });

    it('waits the settle time after the first change, so a burst of registrations makes one wake-up', async () => {
      await feed.mark();
      const first = Date.now();
      for (const doc of filesOf(300001)) await store.bulkWrite([doc]);
      expect(await feed.waitForChange(30_000)).to.equal('change');
      expect(Date.now() - first).to.be.at.least(settleMs - 10);
    });

    it('the stop signal ends the wait', async () => {
      await feed.mark();
      const controller = new AbortController();
      setTimeout(() => controller.abort(), 200);
      expect(await feed.waitForChange(30_000, controller.signal)).to.equal('stopped');
    });

    it('without a change feed, the wait lasts the whole interval and it says once that it polls', async () => {
      const polling = new DataflowFeed(withoutFeed(store), (reason) => warnings.push(reason));
      for (let cycle = 0; cycle < 2; cycle++) {
        await polling.mark();
        const writing = writeLater(store, filesOf(300001 + cycle), 50);
        const started = Date.now();
        expect(await polling.waitForChange(300)).to.equal('interval');
        expect(Date.now() - started).to.be.at.least(290);
        await writing;
      }
      expect(warnings).to.have.length(1);
      expect(warnings[0]).to.contain(`the data-flow database ${store.description} has no change feed`);
    });

    it('a feed that fails falls back to waiting the interval, and the warning masks the password', async () => {
      const failing: DocumentStore = {
        ...withoutFeed(store),
        currentSeq: () => store.currentSeq!(),
        changes: async () => {
          throw new Error(
            'http://oproc:s3cret@127.0.0.1:5984/data-flow is unreachable: connect ECONNREFUSED',
          );
        },
      };
      const polling = new DataflowFeed(failing, (reason) => warnings.push(reason));
      for (let cycle = 0; cycle < 2; cycle++) {
        await polling.mark();
        const started = Date.now();
        expect(await polling.waitForChange(300)).to.equal('interval');
        expect(Date.now() - started).to.be.at.least(290);
      }
      expect(warnings, 'one warning for the outage, not one per cycle').to.have.length(1);
      expect(warnings[0]).to.contain('reading the change feed of');
      expect(warnings[0]).to.contain('oproc:***@127.0.0.1');
      expect(warnings[0]).to.not.contain('s3cret');
    });
  });
}
