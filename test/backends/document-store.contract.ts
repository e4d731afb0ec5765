/**
 * What every document-store backend must do (src/backends/types.ts), as behaviour a caller relies
 * on. Run against each backend by document-store.test.ts.
 */
import { expect } from 'chai';

import type { DocumentStore, StoredDocument, ViewRow, WriteResult } from '../../src/backends/types.js';

export interface StoreUnderTest {
  /** A store on a fresh, empty database (not yet `create`d). */
  store: DocumentStore;
  /** Another writer on the same database ("from elsewhere"); the store itself where only one may open it. */
  elsewhere: DocumentStore;
  /**
   * Writes documents as replication does (`new_edits: false`, revisions kept as given): how a test
   * makes the conflicted document two writes through different cluster nodes leave.
   */
  replicate(docs: readonly StoredDocument[]): Promise<void>;
  cleanup(): Promise<void>;
}

/** A document with two leaf revisions on top of its first: `2-aaa…` and `2-bbb…`; returns the revs. */
async function conflicted(
  subject: StoreUnderTest,
  id: string,
  bodies: [Record<string, unknown>, Record<string, unknown>],
): Promise<{ first: string; a: string; b: string }> {
  const [row] = written(await subject.store.bulkWrite([{ _id: id, type: 'job', passes: [] }]));
  const first = row!.rev;
  const parent = first.split('-')[1]!;
  const [a, b] = ['a', 'b'].map((c) => c.repeat(32));
  await subject.replicate(
    [a, b].map((hash, i) => ({
      _id: id,
      _rev: `2-${hash}`,
      _revisions: { start: 2, ids: [hash!, parent] },
      ...bodies[i],
    })),
  );
  return { first, a: `2-${a}`, b: `2-${b}` };
}

const jobsByRun = {
  name: 'jobs',
  views: { by_run: { map: "function (doc) { if (doc.type === 'job') emit(doc.run, doc.module); }" } },
};

const passesByStatus = {
  name: 'counts',
  views: {
    by_status: {
      map: "function (doc) { if (doc.type === 'job' && Array.isArray(doc.passes)) doc.passes.forEach(function (s) { emit([s, doc._id], null); }); }",
      reduce: '_count',
    },
  },
};

function written(rows: WriteResult[]): Extract<WriteResult, { ok: true }>[] {
  for (const row of rows) expect(row, `write of ${row.id}`).to.include({ ok: true });
  return rows as Extract<WriteResult, { ok: true }>[];
}

function ids(docs: readonly { _id: string }[] | readonly { id: string }[]): string[] {
  return docs.map((doc) => ('_id' in doc ? doc._id : doc.id));
}

function jobs(runs: readonly number[]): StoredDocument[] {
  return runs.map((run) => ({ _id: `job_${run}_Processing`, type: 'job', run, module: 'Processing' }));
}

async function designRev(store: DocumentStore, name: string): Promise<string | undefined> {
  return (await store.getMany([`_design/${name}`])).get(`_design/${name}`)?._rev;
}

export function documentStoreContract(backend: string, fresh: () => Promise<StoreUnderTest>): void {
  describe(`document store contract: ${backend}`, () => {
    let subject: StoreUnderTest;
    let store: DocumentStore;

    beforeEach(async () => {
      subject = await fresh();
      store = subject.store;
      await store.create();
    });
    afterEach(async () => {
      await subject.cleanup();
    });

    describe('create', () => {
      it('is idempotent: creating an existing database keeps its documents', async () => {
        written(await store.bulkWrite([{ _id: 'file_L2_300050_000', type: 'file' }]));
        await store.create();
        expect([...(await store.getMany(['file_L2_300050_000'])).keys()]).to.deep.equal([
          'file_L2_300050_000',
        ]);
      });

      it('describes where the store is', () => {
        expect(store.description).to.be.a('string').with.length.above(0);
      });
    });

    describe('ensureDesign', () => {
      it('installs views that queryView then answers', async () => {
        await store.ensureDesign(jobsByRun);
        written(await store.bulkWrite(jobs([300050])));
        const rows = await store.queryView('jobs', 'by_run', {});
        expect(rows.map((r) => [r.id, r.key, r.value])).to.deep.equal([
          ['job_300050_Processing', 300050, 'Processing'],
        ]);
      });

      it('leaves an unchanged design document alone (same revision)', async () => {
        await store.ensureDesign(jobsByRun);
        const before = await designRev(store, 'jobs');
        await store.ensureDesign({ name: 'jobs', views: { by_run: { ...jobsByRun.views.by_run } } });
        expect(before).to.be.a('string');
        expect(await designRev(store, 'jobs')).to.equal(before);
      });

      it('replaces a view whose definition changed', async () => {
        await store.ensureDesign(jobsByRun);
        written(await store.bulkWrite(jobs([300050])));
        expect((await store.queryView('jobs', 'by_run', {}))[0]?.value).to.equal('Processing');
        const before = await designRev(store, 'jobs');
        const byModule = "function (doc) { if (doc.type === 'job') emit(doc.run, doc.module + '!'); }";
        await store.ensureDesign({ name: 'jobs', views: { by_run: { map: byModule } } });
        expect(await designRev(store, 'jobs')).to.not.equal(before);
        expect((await store.queryView('jobs', 'by_run', {}))[0]?.value).to.equal('Processing!');
      });
    });

    describe('getMany', () => {
      it('returns the documents found by id and leaves missing ids out', async () => {
        written(await store.bulkWrite(jobs([1, 2, 3])));
        const found = await store.getMany(['job_1_Processing', 'job_9_Processing', 'job_3_Processing']);
        expect([...found.keys()].sort()).to.deep.equal(['job_1_Processing', 'job_3_Processing']);
        expect(found.get('job_3_Processing')).to.include({ type: 'job', run: 3, module: 'Processing' });
        expect(found.get('job_3_Processing')?._rev).to.be.a('string');
      });

      it('reads more ids than one request carries, each once, missing ones left out', async () => {
        const runs = Array.from({ length: 1201 }, (_, i) => 1000 + i);
        written(await store.bulkWrite(jobs(runs)));
        const asked = [...runs.map((run) => `job_${run}_Processing`), 'job_5000_Processing'];
        const found = await store.getMany(asked);
        expect(found.size).to.equal(1201);
        expect(found.get('job_2200_Processing')).to.include({ run: 2200 });
        expect(found.has('job_5000_Processing')).to.equal(false);
      });

      it('answers an empty list of ids with an empty map', async () => {
        expect((await store.getMany([])).size).to.equal(0);
      });

      it('leaves out a deleted document', async () => {
        const [row] = written(await store.bulkWrite(jobs([7])));
        written(await store.bulkWrite([{ _id: row!.id, _rev: row!.rev, _deleted: true }]));
        expect((await store.getMany([row!.id])).size).to.equal(0);
      });
    });

    describe('conflicts', () => {
      it('getMany and allDocs with conflicts: true return the losing leaf revisions, and only then', async () => {
        const revs = await conflicted(subject, 'job_5_Processing', [{ side: 'a' }, { side: 'b' }]);
        written(await store.bulkWrite(jobs([6])));
        const plain = (await store.getMany(['job_5_Processing'])).get('job_5_Processing');
        expect(plain?._conflicts).to.equal(undefined);
        expect(plain).to.include({ _rev: revs.b, side: 'b' }); // the winner, as every read gives it
        // CouchDB's winner among equal generations is the highest revision id: 2-bbb…
        const found = await store.getMany(['job_5_Processing', 'job_6_Processing'], { conflicts: true });
        expect(found.get('job_5_Processing')).to.include({ _rev: revs.b, side: 'b' });
        expect(found.get('job_5_Processing')?._conflicts).to.deep.equal([revs.a]);
        expect(found.get('job_6_Processing')?._conflicts).to.equal(undefined);
        const ranged = await store.allDocs({ startkey: 'job_5', endkey: 'job_6\ufff0', conflicts: true });
        expect(ranged.map((d) => [d._id, d._conflicts])).to.deep.equal([
          ['job_5_Processing', [revs.a]],
          ['job_6_Processing', undefined],
        ]);
        const unasked = await store.allDocs({ startkey: 'job_5', endkey: 'job_5\ufff0' });
        expect(unasked[0]?._conflicts).to.equal(undefined);
      });

      it('getRevisions reads given revisions in the order asked, leaving out unknown ones', async () => {
        const revs = await conflicted(subject, 'job_5_Processing', [{ side: 'a' }, { side: 'b' }]);
        const docs = await store.getRevisions([
          { id: 'job_5_Processing', rev: revs.a },
          { id: 'job_5_Processing', rev: `2-${'c'.repeat(32)}` },
          { id: 'job_5_Processing', rev: revs.b },
        ]);
        expect(docs.map((d) => [d._rev, d.side])).to.deep.equal([
          [revs.a, 'a'],
          [revs.b, 'b'],
        ]);
        expect(await store.getRevisions([])).to.deep.equal([]);
      });

      it('writing the winner and deleting the loser in one bulk write leaves no conflict', async () => {
        const revs = await conflicted(subject, 'job_5_Processing', [{ side: 'a' }, { side: 'b' }]);
        const rows = written(
          await store.bulkWrite([
            { _id: 'job_5_Processing', _rev: revs.b, side: 'merged' },
            { _id: 'job_5_Processing', _rev: revs.a, _deleted: true },
          ]),
        );
        expect(rows.map((r) => r.accepted)).to.deep.equal([undefined, undefined]);
        const now = (await store.getMany(['job_5_Processing'], { conflicts: true })).get('job_5_Processing');
        expect(now).to.include({ side: 'merged', _rev: rows[0]!.rev });
        expect(now?._conflicts).to.equal(undefined);
      });
    });

    describe('allDocs', () => {
      const runs = [300050, 300051, 300052, 300053, 300054, 300055, 300056];
      beforeEach(async () => {
        written(await store.bulkWrite([...jobs(runs), { _id: 'file_L2_300050_000', type: 'file' }]));
      });

      it('returns the documents between two ids, inclusive, in id order', async () => {
        const docs = await store.allDocs({
          startkey: 'job_300051_Processing',
          endkey: 'job_300053_Processing',
        });
        expect(ids(docs)).to.deep.equal([
          'job_300051_Processing',
          'job_300052_Processing',
          'job_300053_Processing',
        ]);
        expect(docs[0]).to.include({ type: 'job', run: 300051 });
      });

      it('pages with limit, then skip: 1 after the last id of a page, losing and repeating nothing', async () => {
        const seen: string[] = [];
        let page = await store.allDocs({ startkey: 'job_', endkey: 'job_\ufff0', limit: 3 });
        while (page.length > 0) {
          seen.push(...ids(page));
          const last = page[page.length - 1]!._id;
          page = await store.allDocs({ startkey: last, endkey: 'job_\ufff0', limit: 3, skip: 1 });
        }
        expect(seen).to.deep.equal(runs.map((run) => `job_${run}_Processing`));
      });
    });

    describe('bulkWrite', () => {
      it('answers one ok row with a new revision per document, in the order given', async () => {
        const rows = written(await store.bulkWrite(jobs([3, 1, 2])));
        expect(rows.map((r) => r.id)).to.deep.equal([
          'job_3_Processing',
          'job_1_Processing',
          'job_2_Processing',
        ]);
        for (const row of rows) expect(row.rev).to.match(/^1-/);
      });

      it('a stale revision is a conflict for that document only, the others are written', async () => {
        const [first, second] = written(await store.bulkWrite(jobs([1, 2])));
        written(await store.bulkWrite([{ ...jobs([1])[0]!, _rev: first!.rev, note: 'newer' }]));
        const rows = await store.bulkWrite([
          { ...jobs([1])[0]!, _rev: first!.rev, note: 'stale' },
          { ...jobs([2])[0]!, _rev: second!.rev, note: 'current' },
          ...jobs([3]),
        ]);
        expect(rows.map((r) => [r.id, r.ok])).to.deep.equal([
          ['job_1_Processing', false],
          ['job_2_Processing', true],
          ['job_3_Processing', true],
        ]);
        expect(rows[0]).to.include({ error: 'conflict' });
        const stored = await store.getMany(['job_1_Processing', 'job_2_Processing', 'job_3_Processing']);
        expect(stored.get('job_1_Processing')?.note).to.equal('newer');
        expect(stored.get('job_2_Processing')?.note).to.equal('current');
        expect(stored.has('job_3_Processing')).to.equal(true);
      });

      it('creating a document whose id exists is a conflict, and the stored one is kept', async () => {
        written(await store.bulkWrite([{ _id: 'lease_watch_7.0.8_L2', holder: 'a' }]));
        const [row] = await store.bulkWrite([{ _id: 'lease_watch_7.0.8_L2', holder: 'b' }]);
        expect(row).to.include({ id: 'lease_watch_7.0.8_L2', ok: false, error: 'conflict' });
        expect((await store.getMany(['lease_watch_7.0.8_L2'])).get('lease_watch_7.0.8_L2')?.holder).to.equal(
          'a',
        );
      });

      it('an update with the current revision is written and gets a newer revision', async () => {
        const [created] = written(await store.bulkWrite(jobs([5])));
        const [updated] = written(
          await store.bulkWrite([{ ...jobs([5])[0]!, _rev: created!.rev, passes: [] }]),
        );
        expect(updated!.rev).to.match(/^2-/);
        expect((await store.getMany([created!.id])).get(created!.id)).to.deep.include({
          _rev: updated!.rev,
          passes: [],
        });
      });

      it('answers an empty write with no rows', async () => {
        expect(await store.bulkWrite([])).to.deep.equal([]);
      });
    });

    describe('queryView', () => {
      const runs = [300050, 300051, 300052, 300053, 300054, 300055];
      const keys = (rows: ViewRow[]) => rows.map((r) => r.key);
      beforeEach(async () => {
        await store.ensureDesign(jobsByRun);
        written(
          await store.bulkWrite([...jobs(runs), { _id: 'file_L2_300050_000', type: 'file', run: 300050 }]),
        );
      });

      it('selects an inclusive key range with startkey and endkey', async () => {
        expect(
          keys(await store.queryView('jobs', 'by_run', { startkey: 300051, endkey: 300053 })),
        ).to.deep.equal([300051, 300052, 300053]);
      });

      it('pages with limit, then skip: 1 after the last key of a page', async () => {
        const seen: unknown[] = [];
        let page = await store.queryView('jobs', 'by_run', { limit: 4 });
        while (page.length > 0) {
          seen.push(...keys(page));
          page = await store.queryView('jobs', 'by_run', {
            startkey: page[page.length - 1]!.key,
            skip: 1,
            limit: 4,
          });
        }
        expect(seen).to.deep.equal(runs);
      });

      it('descending returns keys from high to low, startkey being the high end', async () => {
        const rows = await store.queryView('jobs', 'by_run', {
          descending: true,
          startkey: 300054,
          limit: 3,
        });
        expect(keys(rows)).to.deep.equal([300054, 300053, 300052]);
      });

      it('includeDocs attaches each row its document, and only when asked', async () => {
        const [withDoc] = await store.queryView('jobs', 'by_run', {
          startkey: 300052,
          limit: 1,
          includeDocs: true,
        });
        expect(withDoc?.doc).to.include({ _id: 'job_300052_Processing', run: 300052, type: 'job' });
        const [plain] = await store.queryView('jobs', 'by_run', { startkey: 300052, limit: 1 });
        expect(plain).to.not.have.property('doc');
        expect(plain?.id).to.equal('job_300052_Processing');
      });

      it('reduces with _count: in total, per distinct key (group) and per key prefix (groupLevel)', async () => {
        await store.ensureDesign(passesByStatus);
        written(
          await store.bulkWrite([
            { _id: 'job_1_Processing', type: 'job', passes: ['failed', 'waiting', 'failed'] },
            { _id: 'job_1_Analysis', type: 'job', passes: ['waiting'] },
          ]),
        );
        const total = await store.queryView('counts', 'by_status', {});
        expect(total.map((r) => r.value)).to.deep.equal([4]);
        expect(total[0]?.id).to.equal('');
        const grouped = await store.queryView('counts', 'by_status', { group: true });
        expect(grouped.map((r) => [r.key, r.value])).to.deep.equal([
          [['failed', 'job_1_Processing'], 2],
          [['waiting', 'job_1_Analysis'], 1],
          [['waiting', 'job_1_Processing'], 1],
        ]);
        const byStatus = await store.queryView('counts', 'by_status', {
          groupLevel: 1,
          startkey: ['waiting'],
          endkey: ['waiting', {}],
        });
        expect(byStatus.map((r) => [r.key, r.value])).to.deep.equal([[['waiting'], 2]]);
        const mapped = await store.queryView('counts', 'by_status', { reduce: false, limit: 2 });
        expect(mapped.map((r) => r.id)).to.deep.equal(['job_1_Processing', 'job_1_Processing']);
      });

      it('a view that was never installed is an error naming it', async () => {
        let failure: unknown;
        await store.queryView('locks', 'by_calibration', {}).catch((error: unknown) => (failure = error));
        expect(failure).to.be.instanceOf(Error);
        expect((failure as Error).message).to.contain('locks/by_calibration');
      });
    });

    describe('changes', () => {
      it('sequences are opaque strings', async () => {
        written(await store.bulkWrite(jobs([1])));
        const batch = await store.changes!({ since: '0' });
        expect(await store.currentSeq!()).to.be.a('string');
        expect(batch.lastSeq).to.be.a('string');
        expect(batch.results.map((c) => typeof c.seq)).to.deep.equal(['string']);
      });

      it('changes since a sequence contain the changes made after it', async () => {
        written(await store.bulkWrite(jobs([1, 2])));
        const since = await store.currentSeq!();
        written(await store.bulkWrite(jobs([3, 4])));
        const later = await store.changes!({ since });
        expect(ids(later.results)).to.include.members(['job_3_Processing', 'job_4_Processing']);
        const all = await store.changes!({ since: '0' });
        expect(ids(all.results)).to.include.members([
          'job_1_Processing',
          'job_2_Processing',
          'job_3_Processing',
        ]);
      });

      it('nothing after the current sequence gives an empty batch at once when not waiting', async () => {
        written(await store.bulkWrite(jobs([1])));
        const batch = await store.changes!({ since: await store.currentSeq!() });
        expect(batch.results).to.deep.equal([]);
      });

      it('limit bounds a batch, and lastSeq continues where it stopped', async () => {
        const all = jobs([1, 2, 3, 4, 5]);
        written(await store.bulkWrite(all));
        const first = await store.changes!({ since: '0', limit: 2 });
        expect(first.results).to.have.length(2);
        const seen = new Set(ids(first.results));
        let since = first.lastSeq;
        for (let i = 0; i < 10 && seen.size < all.length; i++) {
          const batch = await store.changes!({ since, limit: 2 });
          for (const change of batch.results) seen.add(change.id);
          since = batch.lastSeq;
        }
        expect([...seen].sort()).to.deep.equal(ids(all).sort());
      });

      it("a deleted document's change says so", async () => {
        const [row] = written(await store.bulkWrite(jobs([8])));
        const since = await store.currentSeq!();
        written(await store.bulkWrite([{ _id: row!.id, _rev: row!.rev, _deleted: true }]));
        const batch = await store.changes!({ since });
        expect(batch.results.find((c) => c.id === row!.id)).to.include({ deleted: true });
      });

      it('a long-poll returns as soon as a document is written from elsewhere', async () => {
        written(await store.bulkWrite(jobs([1])));
        const since = await store.currentSeq!();
        const started = Date.now();
        const writer = setTimeout(() => void subject.elsewhere.bulkWrite(jobs([2])), 300);
        const batch = await store.changes!({ since, waitMs: 20_000 });
        clearTimeout(writer);
        expect(ids(batch.results)).to.include('job_2_Processing');
        expect(Date.now() - started).to.be.below(10_000);
        expect(batch.lastSeq).to.be.a('string');
      });

      it('a long-poll with nothing happening returns an empty batch after waitMs', async () => {
        written(await store.bulkWrite(jobs([1])));
        const since = await store.currentSeq!();
        const started = Date.now();
        const batch = await store.changes!({ since, waitMs: 600 });
        const elapsed = Date.now() - started;
        expect(batch.results).to.deep.equal([]);
        expect(batch.lastSeq).to.be.a('string');
        expect(elapsed).to.be.within(500, 5000);
      });

      it("the caller's signal ends a long-poll early with an empty batch", async () => {
        written(await store.bulkWrite(jobs([1])));
        const since = await store.currentSeq!();
        const controller = new AbortController();
        setTimeout(() => controller.abort(), 200);
        const started = Date.now();
        const batch = await store.changes!({ since, waitMs: 20_000, signal: controller.signal });
        expect(batch.results).to.deep.equal([]);
        expect(Date.now() - started).to.be.below(5000);
      });
    });
  });
}
