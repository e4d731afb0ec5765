import { expect } from 'chai';

import type { JobDocument } from '../../src/engine/types.js';
import { ids } from '../../src/engine/types.js';
import { kindMissing, physicsRuns, serverKinds, type Scenario } from '../support/scenario.js';
import {
  checkJobs,
  docsWithPrefix,
  killLeftovers,
  ownServers,
  ownServersMissing,
  serverScenario,
  sleep,
  startCli,
  type OwnServers,
} from './support.js';

const modules = ['Processing', 'Analysis'];
const outageMs = 3000;

/**
 * Each server is stopped for a few seconds in the middle of a command and started again on the same
 * port with the same data. The suite runs its own servers, so the shared ones never go away.
 */
for (const kind of serverKinds) {
  const title = `reliability: a database server stopped and restarted mid-command (own ${kind === 'apache' ? 'Apache CouchDB node' : 'pouchdb-server'} + PostgreSQL)`;
  const missing = ownServersMissing(kind) ?? kindMissing(kind);
  if (missing) {
    describe(title, () => it(`skipped: ${missing}`));
    continue;
  }
  describe(title, function () {
    this.timeout(300_000);
    let servers: OwnServers;
    let s: Scenario;
    const outages: string[] = [];

    before(async function () {
      this.timeout(120_000);
      servers = await ownServers(kind);
    });
    beforeEach(async () => {
      s = await serverScenario(servers.couch, servers.postgres, {}, kind);
    });
    afterEach(async () => {
      await killLeftovers();
      // Whatever happened, both servers are up again for the next test.
      await servers.couch.start();
      if (servers.postgres.pid === 0) await servers.postgres.start();
      await s.cleanup();
    });
    after(async function () {
      this.timeout(60_000);
      console.log(`      figures: outages survived: ${outages.join('; ')}`);
      await servers?.stop();
    });

    // PostgreSQL is the same server whatever the CouchDB: its outage is proven once, beside pouchdb-server.
    const outage = {
      CouchDB: { stop: () => servers.couch.stopOnly(), start: () => servers.couch.start() },
      ...(kind === 'servers'
        ? { PostgreSQL: { stop: () => servers.postgres.halt(), start: () => servers.postgres.start() } }
        : {}),
    };
    const journals = () => s.withDatabases((db) => docsWithPrefix(db, 'submission_'));
    const everyRun = (first: number, count: number) => Array.from({ length: count }, (_, i) => first + i);

    /** Runs a 250-run reprocess from `first` and returns once 20 runs have their passes (into its write phase). */
    const reprocessMidway = async (first: number) => {
      const count = 250;
      await s.addRuns([
        ...physicsRuns(first, first + count - 1, { subruns: 1, filetypes: ['L2'] }),
        { run: first + count },
      ]);
      const cli = startCli(
        ['reprocess', 'range', s.config, s.ratv, 'L2', String(first), String(first + count - 1)],
        { OPROC_BATCH_SIZE: '10' },
      );
      for (let i = 0; i < 300; i++) {
        const jobs = await s.withDatabases((db) => docsWithPrefix(db, 'job_'));
        if (jobs.length >= 40) break;
        await sleep(50);
      }
      return { cli, count };
    };

    it('a reprocess whose CouchDB stays away past the retries stops with the resume command; resume finishes it', async () => {
      const first = 820000;
      const { cli, count } = await reprocessMidway(first);
      await servers.couch.stopOnly();
      const stoppedAt = Date.now();
      let exit;
      try {
        exit = await cli.exit;
      } finally {
        await servers.couch.start();
      }
      const gaveUpAfter = Date.now() - stoppedAt;
      expect(exit.code, `${cli.stdout()}${cli.stderr()}`).to.equal(1);
      // oclif wraps a long message over lines that start with ›.
      const message = cli.stderr().replace(/\s*\n\s*›\s*/g, ' ');
      const resume = /Resume with: \S+ reprocess resume (\S+) (sub_\S+)/.exec(message);
      expect(resume, message).to.not.equal(null);
      expect(resume![1]).to.equal(s.config);
      expect(message, 'the message names the database').to.match(
        /CouchDB at http:\/\/(admin:\*\*\*@)?127\.0\.0\.1:\d+ is unreachable/,
      );
      const submission = resume![2]!;

      const resumed = startCli(['reprocess', 'resume', s.config, submission]);
      expect((await resumed.exit).code, `${resumed.stdout()}${resumed.stderr()}`).to.equal(0);
      const [journal] = await journals();
      expect(journal!._id).to.equal(`submission_${submission}`);
      expect(journal!.finished).to.be.a('string');
      const jobs = await s.withDatabases((db) => docsWithPrefix(db, 'job_'));
      const check = checkJobs(jobs, new Map([[submission, { runs: everyRun(first, count), modules }]]));
      expect(check.duplicates).to.deep.equal([]);
      expect(check.losses).to.deep.equal([]);
      expect(check.broken).to.deep.equal([]);
      outages.push(
        `CouchDB gone for good mid-reprocess: stopped after ${(gaveUpAfter / 1000).toFixed(1)} s of retries with the resume command, resumed to ${check.passes} passes, 0 duplicates, 0 losses`,
      );
    });

    for (const [name, server] of Object.entries(outage)) {
      it(`a reprocess through a ${name} outage finishes, every pass once`, async () => {
        const first = 800000;
        // Into the write phase: the journal has some batches done.
        const { cli, count } = await reprocessMidway(first);
        expect(cli.child.exitCode, 'still running when the server goes').to.equal(null);
        const stoppedAt = Date.now();
        await server.stop();
        await sleep(outageMs);
        await server.start();
        const exit = await cli.exit;
        expect(exit.code, `${cli.stdout()}${cli.stderr()}`).to.equal(0);
        const waited = Date.now() - stoppedAt;
        expect(waited, 'the command was still at work when the server came back').to.be.greaterThan(outageMs);
        const [journal] = await journals();
        expect(journal!.finished).to.be.a('string');
        const jobs = await s.withDatabases((db) => docsWithPrefix(db, 'job_'));
        const submission = journal!._id.replace(/^submission_/, '');
        const check = checkJobs(jobs, new Map([[submission, { runs: everyRun(first, count), modules }]]));
        expect(check.duplicates).to.deep.equal([]);
        expect(check.losses).to.deep.equal([]);
        expect(check.broken).to.deep.equal([]);
        expect(check.passes).to.equal(count * modules.length);
        outages.push(
          `${name} ${outageMs / 1000} s mid-reprocess (${count} runs, finished ${((waited - outageMs) / 1000).toFixed(1)} s after the server returned, ${check.passes} passes, 0 duplicates, 0 losses)`,
        );
      });

      it(`a watcher keeps running through a ${name} outage and catches up when it returns`, async () => {
        const first = 810000;
        const count = 100;
        await s.addRuns(physicsRuns(first, first + count - 1, { subruns: 1, filetypes: ['L2'] }));
        const watcher = startCli(
          ['watch', s.config, s.ratv, 'L2', '-r', String(first - 1), '--interval', '1'],
          {
            OPROC_BATCH_SIZE: '5',
          },
        );
        const state = async () =>
          (await s.docs([ids.watchState(s.ratv, 'L2')])).get(ids.watchState(s.ratv, 'L2'));
        const waitFor = async (what: string, ok: () => Promise<boolean>) => {
          for (let i = 0; i < 600; i++) {
            if (await ok()) return;
            await sleep(100);
          }
          throw new Error(`timed out waiting for ${what}:\n${watcher.stdout()}${watcher.stderr()}`);
        };
        await waitFor(
          'the watcher to start writing',
          async () => Number((await state())?.last_run) >= first + 20,
        );
        await server.stop();
        await sleep(outageMs);
        await server.start();
        // New runs after the outage: the watcher takes them too, without a restart.
        const more = 20;
        await s.addRuns(physicsRuns(first + count, first + count + more, { subruns: 1, filetypes: ['L2'] }));
        const lastComplete = first + count + more - 1;
        await waitFor('the watcher to catch up', async () => {
          const now = await state();
          return now?.last_run === lastComplete && now.in_flight === null;
        });
        expect(watcher.child.exitCode, 'the watcher is still running').to.equal(null);
        process.kill(watcher.child.pid!, 'SIGTERM');
        const exit = await watcher.exit;
        expect(exit.code, watcher.stderr()).to.equal(0);

        const jobs = (await s.withDatabases((db) => docsWithPrefix(db, 'job_'))) as JobDocument[];
        const perRun = new Map<number, number>();
        for (const doc of jobs) perRun.set(doc.run, (perRun.get(doc.run) ?? 0) + doc.passes.length);
        const wrong = everyRun(first, count + more).filter((run) => perRun.get(run) !== modules.length);
        expect(wrong, 'runs without exactly one pass per module').to.deep.equal([]);
        const failedCycles = (watcher.stderr().match(/cycle \d+ failed/g) ?? []).length;
        outages.push(
          `${name} ${outageMs / 1000} s mid-watch (${count + more} runs, ${jobs.reduce((n, d) => n + d.passes.length, 0)} passes, ${failedCycles} cycle(s) failed and retried, 0 duplicates, 0 losses)`,
        );
      });
    }
  });
}
