/**
 * A detector scenario in real databases, for tests of the engine and the commands: data-flow files,
 * RATDB RUN and calibration tables, and a config file pointing at them. On the embedded backends
 * (PouchDB and PGlite in a temp dir), on the test servers (pouchdb-server and PostgreSQL), or on
 * real Apache CouchDB (the run's shared node, see apache-couch.ts) with the suite's PostgreSQL.
 */
import { randomBytes } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';

import couchdbHook from '../../plugins/couchdb/src/hooks/backends.js';
import pgliteHook from '../../plugins/pglite/src/hooks/backends.js';
import postgresHook from '../../plugins/postgres/src/hooks/backends.js';
import pouchdbHook from '../../plugins/pouchdb/src/hooks/backends.js';
import { BackendRegistry, openDatabases, type Databases } from '../../src/backends/registry.js';
import type { RatdbTable, StoredDocument } from '../../src/backends/types.js';
import { loadConfig } from '../../src/config/load.js';
import { dataflowDesign, processingDesign } from '../../src/engine/design.js';
import { runTypeWord } from '../../src/engine/run-type.js';
import { ids, type FileType, type JobDocument } from '../../src/engine/types.js';
import { apacheCouchMissing, apacheCouchServer, deleteDatabases } from './apache-couch.js';
import { tempDir } from './context.js';
import { createDatabase } from './postgres-server.js';
import { couchServer, postgresServer, type RunningServer } from './servers.js';

export type BackendKind = 'embedded' | 'servers' | 'apache';
export const backendKinds: BackendKind[] = ['embedded', 'servers', 'apache'];
/** The kinds with a CouchDB server that several processes share (leases, change feeds, outages). */
export const serverKinds: BackendKind[] = ['servers', 'apache'];
/**
 * The kinds of the command suites (reprocess, watch, retry, cancel, why, status, locks, passes): the
 * servers by default, every kind with OPROC_RELIABILITY_FULL=1 (`npm run test:reliability`). The
 * embedded backends stay in the default run end to end through their contract suites, the demo
 * (some 40 commands on PouchDB + PGlite), the original command line, the site-information, CI
 * workflow and plugin suites, which run on them.
 */
export const commandKinds: BackendKind[] =
  process.env.OPROC_RELIABILITY_FULL === '1' ? backendKinds : serverKinds;

const labels: Record<BackendKind, string> = {
  embedded: 'PouchDB + PGlite',
  servers: 'pouchdb-server + PostgreSQL',
  apache: 'Apache CouchDB + PostgreSQL',
};

/** How a suite's title names the backends of a kind. */
export function backendLabel(kind: BackendKind): string {
  return labels[kind];
}

/** Why a kind cannot run on this machine (no Apache CouchDB), or undefined when it can. */
export function kindMissing(kind: BackendKind): string | undefined {
  return kind === 'apache' ? apacheCouchMissing() : undefined;
}

/**
 * `describe` for one backend kind; where the kind cannot run here, the suite is one pending line
 * (`- skipped: no Apache CouchDB ...`) instead of a line per test.
 */
export function describeKind(kind: BackendKind, title: string, body: (this: Mocha.Suite) => void): void {
  const missing = kindMissing(kind);
  if (missing) {
    describe(title, () => it(`skipped: ${missing}`));
    return;
  }
  describe(title, body);
}

/** The CouchDB server of a kind with one: pouchdb-server, or the run's Apache CouchDB node. */
export async function couchFor(kind: BackendKind): Promise<RunningServer> {
  if (kind === 'apache') {
    const server = await apacheCouchServer();
    if (!server) throw new Error(apacheCouchMissing());
    return server;
  }
  return couchServer();
}

/** The RAT version of the test processing information (distinct from the example information's 7.0.8 and 7.0.15). */
export const testRatv = '9.9.0';

export const testProcessingInformation = {
  ratv: testRatv,
  processing_modules: {
    Processing: {
      type: 'macro',
      level: 'sub_run',
      path: 'mac/processing/processing.mac',
      outputs: ['ratds', 'ntuple'],
      prerequisites: [],
      raw_processor: true,
      ratdb_tables: ['RUN', 'DAQ_RUN_LEVEL', 'PMT_DQXX'],
      ganga_outputs: ['ratds'],
    },
    Analysis: {
      type: 'macro',
      level: 'run_root',
      path: 'mac/processing/analysis.mac',
      outputs: ['ntuple'],
      prerequisites: ['Processing'],
      raw_processor: false,
      ratdb_tables: [],
    },
    Calibration: {
      type: 'macro',
      level: 'run',
      path: 'mac/processing/calibration.mac',
      outputs: ['ratds'],
      prerequisites: [],
      raw_processor: true,
      ratdb_tables: ['RUN', 'PMTCALIB[calib]'],
    },
  },
  modules_for_run_type: {
    Physics: ['Processing', 'Analysis'],
    DeployedSource: ['Processing'],
    TELLIE: ['Processing'],
    PCA: ['Calibration'],
    ECA: ['Calibration'],
  },
};

export interface RunSpec {
  run: number;
  /** Run type bit names; default Physics. */
  types?: string[];
  subruns?: number;
  filetypes?: FileType[];
  ended?: boolean;
  /** RATDB tables this run lacks (of RUN, DAQ_RUN_LEVEL, PMT_DQXX, PMTCALIB[calib]). */
  missing?: string[];
  /** When its RATDB tables become visible (for tags). */
  loadedAt?: Date;
}

export interface Scenario {
  kind: BackendKind;
  dir: string;
  config: string;
  ratv: string;
  /** Registers runs in the data-flow database and their tables in RATDB. */
  addRuns(specs: RunSpec[]): Promise<void>;
  /** Opens the databases (embedded ones take their lock: close before running the CLI). */
  withDatabases<T>(work: (db: Databases) => Promise<T>): Promise<T>;
  jobs(runs: number[], modules: string[]): Promise<Map<string, JobDocument>>;
  job(run: number, module: string): Promise<JobDocument | undefined>;
  docs(ids: string[]): Promise<Map<string, StoredDocument>>;
  cleanup(): Promise<void>;
}

export async function registry(): Promise<BackendRegistry> {
  const r = new BackendRegistry();
  r.add('@oproc/plugin-couchdb', await couchdbHook());
  r.add('@oproc/plugin-pouchdb', await pouchdbHook());
  r.add('@oproc/plugin-postgres', await postgresHook());
  r.add('@oproc/plugin-pglite', await pgliteHook());
  return r;
}

export function ratdbTablesFor(spec: RunSpec): RatdbTable[] {
  const base = { run_begin: spec.run, run_end: spec.run, version: 1, pass: 0, timestamp: spec.loadedAt };
  const tables: RatdbTable[] = [
    { ...base, type: 'RUN', index: '', data: { runtype: runTypeWord(...(spec.types ?? ['Physics'])) } },
    { ...base, type: 'DAQ_RUN_LEVEL', index: '', data: { trigger_mask: 0x7fff } },
    { ...base, type: 'PMT_DQXX', index: '', data: { dqcr: [0, 0, 0] } },
    { ...base, type: 'PMTCALIB', index: 'calib', data: { gain: [1.0] } },
  ];
  const missing = new Set(spec.missing ?? []);
  return tables.filter((t) => !missing.has(t.index ? `${t.type}[${t.index}]` : t.type));
}

export function dataflowDocsFor(spec: RunSpec): StoredDocument[] {
  const docs: StoredDocument[] = [];
  for (const filetype of spec.filetypes ?? ['L1', 'L2']) {
    for (let subrun = 0; subrun < (spec.subruns ?? 3); subrun++) {
      const sub = String(subrun).padStart(3, '0');
      docs.push({
        _id: `file_${filetype}_${spec.run}_${sub}`,
        type: 'file',
        run: spec.run,
        subrun,
        filetype,
        name: `SNOP_${String(spec.run).padStart(10, '0')}_${sub}.${filetype.toLowerCase()}.zdab`,
        size: 1_073_741_824,
        checksum: 'adler32:0a1b2c3d',
        registered: '2026-11-24T10:00:00Z',
      });
    }
  }
  if (spec.ended)
    docs.push({ _id: `run_end_${spec.run}`, type: 'run_end', run: spec.run, subruns: spec.subruns ?? 3 });
  return docs;
}

/** A fresh scenario: empty databases, created and with their views, and a config file (on the shared servers unless given others). */
export async function scenario(
  kind: BackendKind,
  extra: Record<string, unknown> = {},
  servers?: { couch: RunningServer; postgres: RunningServer },
): Promise<Scenario> {
  const temp = await tempDir('oproc-scenario-');
  let sections: Record<string, unknown>;
  let dropDatabases = async () => {};
  if (kind === 'embedded') {
    sections = {
      processing: { backend: 'pouchdb', path: 'db/processing' },
      dataflow: { backend: 'pouchdb', path: 'db/processing' },
      ratdb: { backend: 'pglite', path: 'db/ratdb' },
    };
  } else {
    const couch = servers?.couch ?? (await couchFor(kind));
    const name = `oproc-${randomBytes(5).toString('hex')}`;
    // The CouchDB server is shared by the whole run: leave it as found. pouchdb-server keeps every
    // database it has opened open (a LevelDB each, and one per design document's views): left
    // behind, a run's hundreds of scenarios made it hold thousands of open files and slow down.
    dropDatabases = () => deleteDatabases(couch.url, [`${name}-processing`, `${name}-dataflow`]);
    sections = {
      processing: { backend: 'couchdb', url: couch.url, database: `${name}-processing` },
      dataflow: { backend: 'couchdb', url: couch.url, database: `${name}-dataflow` },
      ratdb: {
        backend: 'postgres',
        url: await createDatabase(servers?.postgres ?? (await postgresServer())),
      },
    };
  }
  await writeFile(path.join(temp.dir, 'info.json'), JSON.stringify(testProcessingInformation, null, 2));
  const config = path.join(temp.dir, 'site.json');
  await writeFile(
    config,
    JSON.stringify(
      { ...sections, processing_information: 'info.json', watch: { interval_seconds: 1 }, ...extra },
      null,
      2,
    ),
  );
  const backends = await registry();
  const withDatabases = async <T>(work: (db: Databases) => Promise<T>): Promise<T> => {
    const db = await openDatabases(backends, await loadConfig(config));
    try {
      return await work(db);
    } finally {
      await db.close();
    }
  };
  await withDatabases(async (db) => {
    await db.processing.create();
    await db.processing.ensureDesign(processingDesign);
    await db.dataflow.create();
    await db.dataflow.ensureDesign(dataflowDesign);
    await db.ratdb.create();
  });
  const docs = (wanted: string[]) => withDatabases((db) => db.processing.getMany(wanted));
  const jobs = async (runs: number[], modules: string[]) =>
    (await docs(runs.flatMap((r) => modules.map((m) => ids.job(r, m))))) as Map<string, JobDocument>;
  return {
    kind,
    dir: temp.dir,
    config,
    ratv: testRatv,
    addRuns: (specs) =>
      withDatabases(async (db) => {
        await db.ratdb.load(specs.flatMap(ratdbTablesFor));
        const results = await db.dataflow.bulkWrite(specs.flatMap(dataflowDocsFor));
        const failed = results.filter((r) => !r.ok);
        if (failed.length) throw new Error(`seeding data-flow failed: ${JSON.stringify(failed[0])}`);
      }),
    withDatabases,
    jobs,
    job: async (run, module) => (await jobs([run], [module])).get(ids.job(run, module)),
    docs,
    cleanup: async () => {
      await dropDatabases();
      await temp.remove();
    },
  };
}

/** Physics runs `first..last` with defaults, complete when a later run exists. */
export function physicsRuns(first: number, last: number, overrides: Partial<RunSpec> = {}): RunSpec[] {
  const specs: RunSpec[] = [];
  for (let run = first; run <= last; run++) specs.push({ run, ...overrides });
  return specs;
}
