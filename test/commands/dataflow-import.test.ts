import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';

import { expect } from 'chai';

import type { DocumentStore } from '../../src/backends/types.js';
import { importDataflow } from '../../src/dataflow/import.js';
import couchdbBackends from '../../plugins/couchdb/src/hooks/backends.js';
import pouchdbBackends from '../../plugins/pouchdb/src/hooks/backends.js';
import { backendContext, tempDir } from '../support/context.js';
import { apacheCouchMissing, apacheCouchServer, deleteDatabases } from '../support/apache-couch.js';
import { couchServer } from '../support/servers.js';

const root = path.resolve(import.meta.dirname, '../..');

/** The error text as one line: oclif prefixes error lines with › and wraps them to the terminal width. */
function oneLine(stderr: string): string {
  return stderr.replace(/\s*›\s*/g, ' ').replace(/\s+/g, ' ');
}

interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs the built CLI as a user would, in its own process. */
function oproc(...args: string[]): Promise<CliResult> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [path.join(root, 'bin/run.js'), ...args],
      { cwd: root },
      (error, stdout, stderr) => {
        const code = error ? (typeof error.code === 'number' ? error.code : 1) : 0;
        resolve({ code, stdout, stderr });
      },
    );
  });
}

function fileDocument(run: number, subrun: number, filetype: 'L1' | 'L2' = 'L2', size = 1_073_741_824) {
  const ext = filetype.toLowerCase();
  return {
    type: 'file',
    run,
    subrun,
    filetype,
    name: `SNOP_0000${run}_${String(subrun).padStart(3, '0')}.${ext}.zdab`,
    size,
    checksum: 'adler32:0a1b2c3d',
    registered: '2026-11-24T10:00:00Z',
  };
}

/** The store with its bulk write replaced, every other call passed through. */
function withBulkWrite(store: DocumentStore, bulkWrite: DocumentStore['bulkWrite']): DocumentStore {
  return {
    description: store.description,
    create: () => store.create(),
    ensureDesign: (design) => store.ensureDesign(design),
    getMany: (ids, options) => store.getMany(ids, options),
    getRevisions: (refs) => store.getRevisions(refs),
    allDocs: (query) => store.allDocs(query),
    bulkWrite,
    queryView: (design, view, query) => store.queryView(design, view, query),
    currentSeq: store.currentSeq?.bind(store),
    changes: store.changes?.bind(store),
    close: () => store.close(),
  };
}

interface Backend {
  name: string;
  /** Why this backend cannot run here (no Apache CouchDB), if it cannot. */
  missing?: string;
  /** Drops the databases the suite made on a shared server. */
  dropAll?(): Promise<void>;
  /** The dataflow section of CONFIG, for a fresh database. */
  section(dir: string): Promise<Record<string, unknown>>;
  open(section: Record<string, unknown>, dir: string): Promise<DocumentStore>;
}

let databases = 0;

const backends: Backend[] = [
  {
    name: 'pouchdb (embedded)',
    section: async (dir) => ({ backend: 'pouchdb', path: path.join(dir, 'dataflow') }),
    open: async (section, dir) => {
      const factory = (await pouchdbBackends()).documentStores?.pouchdb;
      if (!factory) throw new Error('the pouchdb plugin provides no document store');
      return factory(backendContext('dataflow', section, { baseDir: dir }));
    },
  },
  {
    name: 'couchdb (CouchDB protocol server)',
    section: async () => ({
      backend: 'couchdb',
      url: (await couchServer()).url,
      database: `oproc-dataflow-import-${process.pid}-${++databases}`,
    }),
    open: async (section, dir) => {
      const factory = (await couchdbBackends()).documentStores?.couchdb;
      if (!factory) throw new Error('the couchdb plugin provides no document store');
      return factory(backendContext('dataflow', section, { baseDir: dir }));
    },
  },
  {
    name: 'couchdb (Apache CouchDB)',
    missing: apacheCouchMissing(),
    section: async () => {
      const database = `oproc-dataflow-import-${randomBytes(5).toString('hex')}`;
      apacheDatabases.push(database);
      return { backend: 'couchdb', url: (await apacheCouchServer())!.url, database };
    },
    dropAll: async () => {
      const server = await apacheCouchServer();
      if (server) await deleteDatabases(server.url, apacheDatabases.splice(0));
    },
    open: async (section, dir) => {
      const factory = (await couchdbBackends()).documentStores?.couchdb;
      if (!factory) throw new Error('the couchdb plugin provides no document store');
      return factory(backendContext('dataflow', section, { baseDir: dir }));
    },
  },
];

const apacheDatabases: string[] = [];

for (const backend of backends) {
  if (backend.missing) {
    describe(`oproc dataflow import — ${backend.name}`, () => it(`skipped: ${backend.missing}`));
    continue;
  }
  describe(`oproc dataflow import — ${backend.name}`, function () {
    this.timeout(120_000);
    after(async () => backend.dropAll?.());
    let dir: string;
    let remove: () => Promise<void>;
    let section: Record<string, unknown>;
    let config: string;

    beforeEach(async () => {
      ({ dir, remove } = await tempDir('oproc-dataflow-'));
      section = await backend.section(dir);
      config = path.join(dir, 'site.json');
      const ratdb = { backend: 'pglite', path: path.join(dir, 'ratdb') };
      await writeFile(config, JSON.stringify({ processing: section, dataflow: section, ratdb }));
    });
    afterEach(() => remove());

    /** Opens the data-flow database, reads it, closes it (an embedded store allows one process at a time). */
    async function withStore<T>(read: (store: DocumentStore) => Promise<T>): Promise<T> {
      const store = await backend.open(section, dir);
      try {
        return await read(store);
      } finally {
        await store.close();
      }
    }

    async function writeJson(name: string, value: unknown): Promise<string> {
      const file = path.join(dir, name);
      await writeFile(file, JSON.stringify(value, null, 2));
      return file;
    }

    it('imports a JSON array and an NDJSON file, deriving ids, and the runs are readable by run', async () => {
      const array = await writeJson('files.json', [
        fileDocument(300050, 0),
        { _id: 'file_L2_300050_001', ...fileDocument(300050, 1) },
        fileDocument(300050, 0, 'L1'),
        { type: 'run_end', run: 300050, subruns: 2 },
      ]);
      const ndjson = path.join(dir, 'more.ndjson');
      await writeFile(
        ndjson,
        [fileDocument(300051, 0), fileDocument(300051, 1)].map((d) => JSON.stringify(d)).join('\n'),
      );

      const result = await oproc('dataflow', 'import', config, array, ndjson, '--json');
      expect(result.code, result.stderr).to.equal(0);
      expect(JSON.parse(result.stdout)).to.include({ new: 6, updated: 0, unchanged: 0, documents: 6 });

      await withStore(async (store) => {
        const docs = await store.getMany([
          'file_L2_300050_000',
          'file_L1_300050_000',
          'run_end_300050',
          'file_L2_300051_001',
        ]);
        expect([...docs.keys()]).to.have.members([
          'file_L2_300050_000',
          'file_L1_300050_000',
          'run_end_300050',
          'file_L2_300051_001',
        ]);
        expect(docs.get('file_L2_300051_001')).to.include({
          run: 300051,
          subrun: 1,
          filetype: 'L2',
          size: 1_073_741_824,
        });
        // The design document was installed: the view the watcher reads answers.
        const rows = await store.queryView('oproc_dataflow', 'by_run', {
          startkey: [300050],
          endkey: [300050, {}],
        });
        expect(rows.map((r) => r.id)).to.deep.equal([
          'file_L1_300050_000',
          'file_L2_300050_000',
          'file_L2_300050_001',
          'run_end_300050',
        ]);
      });
    });

    it('importing again changes nothing, and a changed document is updated in place', async () => {
      const docs = [
        fileDocument(300060, 0),
        fileDocument(300060, 1),
        { type: 'run_end', run: 300060, subruns: 2 },
      ];
      const file = await writeJson('files.json', docs);
      expect((await oproc('dataflow', 'import', config, file)).code).to.equal(0);
      const before = await withStore((store) => store.getMany(['file_L2_300060_001']));

      const again = await oproc('dataflow', 'import', config, file);
      expect(again.code, again.stderr).to.equal(0);
      expect(again.stdout).to.match(/0 new, 0 updated, 3 unchanged/);

      docs[1] = fileDocument(300060, 1, 'L2', 42);
      await writeJson('files.json', docs);
      const changed = await oproc('dataflow', 'import', config, file, '--json');
      expect(changed.code, changed.stderr).to.equal(0);
      expect(JSON.parse(changed.stdout)).to.include({ new: 0, updated: 1, unchanged: 2 });
      const after = await withStore((store) => store.getMany(['file_L2_300060_001']));
      expect(after.get('file_L2_300060_001')).to.include({ size: 42 });
      expect(after.get('file_L2_300060_001')?._rev).to.not.equal(before.get('file_L2_300060_001')?._rev);
    });

    it('rejects bad input with exit 2, naming file, document and field, and writes nothing', async () => {
      const good = await writeJson('good.json', [fileDocument(300070, 0)]);
      const bad = await writeJson('bad.json', [
        fileDocument(300070, 1),
        { ...fileDocument(300070, 2), run: 0 },
        { _id: 'file_L2_300070_3', ...fileDocument(300070, 3) },
        { ...fileDocument(300070, 4), filetype: 'L3' },
      ]);
      const result = await oproc('dataflow', 'import', config, good, bad);
      expect(result.code).to.equal(2);
      const message = oneLine(result.stderr);
      expect(message).to.include('3 invalid data-flow documents');
      expect(message).to.include('bad.json[1]: run must be a positive integer');
      expect(message).to.include('bad.json[2] (file_L2_300070_3): _id must be "file_L2_300070_003"');
      expect(message).to.include('bad.json[3]: filetype must be "L1" or "L2"');
      const stored = await withStore(async (store) => {
        await store.create();
        return store.getMany(['file_L2_300070_000', 'file_L2_300070_001']);
      });
      expect(stored.size).to.equal(0);

      const none = await oproc('dataflow', 'import', config);
      expect(none.code).to.equal(2);
      expect(oneLine(none.stderr)).to.include(
        'Error: missing argument FILE (JSON or NDJSON file(s) of data-flow documents) Usage: oproc dataflow import CONFIG FILE...',
      );
    });

    it('writes a file bigger than one chunk completely', async () => {
      const lines: string[] = [];
      for (let run = 300100; run < 300100 + 250; run++) {
        for (let subrun = 0; subrun < 10; subrun++) lines.push(JSON.stringify(fileDocument(run, subrun)));
      }
      const file = path.join(dir, 'big.ndjson');
      await writeFile(file, lines.join('\n') + '\n');
      const result = await oproc('dataflow', 'import', config, file, '--json');
      expect(result.code, result.stderr).to.equal(0);
      expect(JSON.parse(result.stdout)).to.include({ new: 2500, updated: 0, unchanged: 0 });
      const count = await withStore(async (store) => {
        let total = 0;
        let startkey = 'file_L2_';
        for (;;) {
          const page = await store.allDocs({
            startkey,
            endkey: 'file_L2_\uffff',
            limit: 1000,
            skip: total ? 1 : 0,
          });
          total += page.length;
          if (page.length < 1000) return total;
          startkey = page[page.length - 1]!._id;
        }
      });
      expect(count).to.equal(2500);
    });

    it('re-reads and retries a document another writer changed between read and write', async () => {
      await withStore(async (store) => {
        await store.create();
        const [first] = await store.bulkWrite([
          { _id: 'run_end_300080', type: 'run_end', run: 300080, subruns: 1 },
        ]);
        expect(first?.ok).to.equal(true);
        let interfered = false;
        // Another writer updates the document after the import has read it: the import's _rev is stale.
        const racing = withBulkWrite(store, async (docs) => {
          if (!interfered) {
            interfered = true;
            const current = (await store.getMany(['run_end_300080'])).get('run_end_300080')!;
            await store.bulkWrite([{ ...current, subruns: 2 }]);
          }
          return store.bulkWrite(docs);
        });
        const counts = await importDataflow(racing, [
          { _id: 'run_end_300080', type: 'run_end', run: 300080, subruns: 3 },
        ]);
        expect(interfered).to.equal(true);
        expect(counts).to.deep.equal({ new: 0, updated: 1, unchanged: 0 });
        const stored = (await store.getMany(['run_end_300080'])).get('run_end_300080');
        expect(stored).to.include({ subruns: 3 });
      });
    });
  });
}
