import { spawn } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import { expect } from 'chai';

import type { WatchSummary } from '../../src/cli/watch-command.js';
import { dataflowDesign } from '../../src/engine/design.js';
import { ids } from '../../src/engine/types.js';
import { json, runCli } from '../support/cli.js';
import {
  commandKinds,
  backendLabel,
  describeKind,
  physicsRuns,
  ratdbTablesFor,
  scenario,
  serverKinds,
  type Scenario,
} from '../support/scenario.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

/** A watcher running in its own process, as a shifter starts it; its output kept. */
function startWatch(args: readonly string[]) {
  const child = spawn(process.execPath, [path.join(root, 'bin/run.js'), 'watch', ...args], {
    env: { ...process.env, NO_COLOR: '1' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  child.stdout.on('data', (c: Buffer) => (out += c.toString()));
  child.stderr.on('data', (c: Buffer) => (err += c.toString()));
  const exited = new Promise<number | null>((resolve) => child.on('close', resolve));
  return {
    child,
    exited,
    stdout: () => out,
    output: () => `${out}${err}`,
    /** The highest cycle number it has started. */
    cycles: () => Math.max(0, ...[...out.matchAll(/: cycle (\d+)/g)].map((m) => Number(m[1]))),
  };
}

/** SIGINT, as Ctrl-C: the exit code, or 'still running' (then killed) when it has not stopped within 20 s. */
async function interrupt(watcher: ReturnType<typeof startWatch>): Promise<number | null | 'still running'> {
  watcher.child.kill('SIGINT');
  const timer = new Promise<'still running'>((r) => setTimeout(() => r('still running'), 20_000).unref());
  const outcome = await Promise.race([watcher.exited, timer]);
  if (outcome === 'still running') watcher.child.kill('SIGKILL');
  return outcome;
}

/** Waits until `check` holds, or fails after `ms` saying what was awaited. */
async function until(what: string, ms: number, check: () => boolean | Promise<boolean>): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`gave up after ${ms / 1000} s waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

/** Rewrites the scenario's config with a lease of `seconds`. */
async function setLeaseSeconds(s: Scenario, seconds: number): Promise<void> {
  const config = JSON.parse(await readFile(s.config, 'utf8')) as Record<string, unknown>;
  const watch = { ...(config.watch as object), lease_seconds: seconds };
  await writeFile(s.config, JSON.stringify({ ...config, watch }, null, 2));
}

/** Rewrites the scenario's config: the data-flow database is the processing database, as at the experiment. */
async function oneDatabase(s: Scenario, leaseSeconds: number): Promise<void> {
  const config = JSON.parse(await readFile(s.config, 'utf8')) as Record<string, unknown>;
  const watch = { ...(config.watch as object), lease_seconds: leaseSeconds };
  await writeFile(s.config, JSON.stringify({ ...config, dataflow: config.processing, watch }, null, 2));
  await s.withDatabases((db) => db.dataflow.ensureDesign(dataflowDesign));
}

for (const kind of commandKinds) {
  describeKind(kind, `watch and block (${backendLabel(kind)})`, function () {
    this.timeout(120_000);
    let s: Scenario;
    const watchOnce = (...rest: string[]) =>
      runCli(['watch', s.config, s.ratv, 'L2', '--start-run', '299999', '--once', ...rest]);
    const passCount = async (run: number, module = 'Processing') =>
      (await s.job(run, module))?.passes.length ?? 0;

    beforeEach(async () => {
      s = await scenario(kind);
    });
    afterEach(() => s.cleanup());

    it('takes each complete run once, in order, and leaves the run still being taken', async () => {
      await s.addRuns(physicsRuns(300000, 300003));
      const first = json<WatchSummary>(await watchOnce('--json'));
      expect(first.created.filter((c) => c.module === 'Processing').map((c) => c.run)).to.deep.equal([
        300000, 300001, 300002,
      ]);
      expect(await passCount(300003)).to.equal(0);
      const state = (await s.docs([ids.watchState(s.ratv, 'L2')])).get(ids.watchState(s.ratv, 'L2'))!;
      expect(state).to.include({ type: 'watch_state', last_run: 300002, in_flight: null });

      const again = json<WatchSummary>(await watchOnce('--json'));
      expect(again.created, 'a restarted watcher resumes from its state document').to.deep.equal([]);

      await s.addRuns([{ run: 300004 }]);
      const next = json<WatchSummary>(await watchOnce('--json'));
      expect(next.created.filter((c) => c.module === 'Processing').map((c) => c.run)).to.deep.equal([300003]);
      for (const run of [300000, 300001, 300002, 300003]) expect(await passCount(run)).to.equal(1);
      expect((await s.job(300003, 'Processing'))!.passes[0]).to.include({ mode: 'watch', pass: 0 });
    });

    it('considers only runs after --start-run, and a run_end completes the last run', async () => {
      await s.addRuns([...physicsRuns(300000, 300002), { run: 300003, ended: true }]);
      const result = await runCli(['watch', s.config, s.ratv, 'L2', '-r', '300001', '--once']);
      expect(result.code, result.stderr).to.equal(0);
      expect(await passCount(300001)).to.equal(0);
      expect(await passCount(300002)).to.equal(1);
      expect(await passCount(300003)).to.equal(1);
    });

    it('a cycle that handles a run without a pass exits 1, with --json or without', async () => {
      await s.addRuns([
        ...physicsRuns(300000, 300000),
        { run: 300001, types: ['Maintenance'] },
        ...physicsRuns(300002, 300002),
      ]);
      const plain = await watchOnce();
      expect(plain.code, plain.stderr).to.equal(1);
      expect(plain.stdout).to.match(/Handled without a pass \(1\):/);
      expect(plain.stdout).to.include('300001');
      expect(await passCount(300000)).to.equal(1);
      await s.addRuns([{ run: 300003, types: ['Maintenance'] }, ...physicsRuns(300004, 300004)]);
      const asJson = await watchOnce('--json');
      expect(asJson.code, asJson.stderr).to.equal(1);
      expect(json<WatchSummary>(asJson).skipped.map((skip) => skip.run)).to.deep.equal([300003]);
    });

    it('holds at a run whose RATDB tables are missing and goes on once they arrive', async () => {
      await s.addRuns([
        ...physicsRuns(300000, 300001),
        { run: 300002, missing: ['PMT_DQXX'] },
        ...physicsRuns(300003, 300004),
      ]);
      const held = await watchOnce();
      expect(held.code).to.equal(0);
      expect(held.stdout).to.match(/Held at run 300002: RATDB table\(s\) missing: PMT_DQXX/);
      expect(await passCount(300001)).to.equal(1);
      expect(await passCount(300002)).to.equal(0);
      expect(await passCount(300003), 'no run after the held one').to.equal(0);

      await s.withDatabases((db) =>
        db.ratdb.load(ratdbTablesFor({ run: 300002 }).filter((t) => t.type === 'PMT_DQXX')),
      );
      const resumed = await watchOnce();
      expect(resumed.code, resumed.stdout).to.equal(0);
      expect(await passCount(300002)).to.equal(1);
      expect(await passCount(300003)).to.equal(1);
      expect(await passCount(300000)).to.equal(1);
    });

    it('a PCA run gets its jobs and sets the lock; later runs wait until its validto is set', async () => {
      await s.addRuns([
        ...physicsRuns(300000, 300001),
        { run: 300002, types: ['PCA'] },
        ...physicsRuns(300003, 300005),
      ]);
      const first = json<WatchSummary>(await watchOnce('--json'));
      expect(first.locks_set).to.deep.equal([{ calibration: 'PCA', run: 300002 }]);
      expect(await passCount(300002, 'Calibration')).to.equal(1);
      expect(await passCount(300003)).to.equal(0);
      const lockId = ids.calibrationLock('PCA');
      const lock = (await s.docs([lockId])).get(lockId)!;
      expect(lock).to.include({
        type: 'calibration_lock',
        calibration: 'PCA',
        run: 300002,
        locked: true,
        validto: null,
      });

      const stillHeld = json<WatchSummary>(await watchOnce('--json'));
      expect(stillHeld.created).to.deep.equal([]);
      expect(stillHeld.held?.run).to.equal(300002);

      // The calibration group sets validto in the lock document directly: that counts as released.
      await s.withDatabases((db) => db.processing.bulkWrite([{ ...lock, validto: 300002 }]));
      await watchOnce();
      expect(await passCount(300003)).to.equal(1);
      expect(await passCount(300004)).to.equal(1);
    });

    it('an L1 watcher following an L2 watcher over a released PCA run goes on, and sets nothing', async () => {
      await s.addRuns([
        ...physicsRuns(300000, 300000),
        { run: 300001, types: ['PCA'] },
        ...physicsRuns(300002, 300004),
      ]);
      json<WatchSummary>(await watchOnce('--json'));
      const release = await runCli(['locks', 'release', s.config, 'PCA', '--validto', '300001']);
      expect(release.code, release.stderr).to.equal(0);
      const lockId = ids.calibrationLock('PCA');
      const released = (await s.docs([lockId])).get(lockId)!;

      const l1 = await runCli(['watch', s.config, s.ratv, 'L1', '--start-run', '299999', '--once']);
      expect(l1.code, l1.stdout + l1.stderr).to.equal(0);
      expect(l1.stdout).not.to.match(/Held|calibration lock set/);
      expect(await passCount(300003)).to.equal(1);
      expect((await s.docs([lockId])).get(lockId), 'the released lock is left as it was').to.deep.equal(
        released,
      );
    });

    it('one PCA lock for every watcher: an L1 watcher meeting an earlier PCA run never moves the lock back', async () => {
      await s.addRuns([
        ...physicsRuns(300000, 300000),
        { run: 300001, types: ['PCA'] },
        ...physicsRuns(300002, 300002),
        { run: 300003, types: ['PCA'] },
        ...physicsRuns(300004, 300005),
      ]);
      json<WatchSummary>(await watchOnce('--json'));
      await runCli(['locks', 'release', s.config, 'PCA', '--validto', '300001']);
      const l2 = json<WatchSummary>(await watchOnce('--json'));
      expect(l2.locks_set).to.deep.equal([{ calibration: 'PCA', run: 300003 }]);

      const l1 = json<WatchSummary>(
        await runCli(['watch', s.config, s.ratv, 'L1', '--start-run', '299999', '--once', '--json']),
      );
      expect(l1.locks_set, 'it sets no lock').to.deep.equal([]);
      expect(l1.held?.run, 'held by the lock that holds, at its run').to.equal(300003);
      expect(l1.last_run).to.equal(300003);
      const lockId = ids.calibrationLock('PCA');
      expect((await s.docs([lockId])).get(lockId)).to.include({ run: 300003, locked: true, validto: null });
      expect(await passCount(300004), 'no run after the holding lock').to.equal(0);

      await runCli(['locks', 'release', s.config, 'PCA', '--validto', '300003']);
      const after = json<WatchSummary>(
        await runCli(['watch', s.config, s.ratv, 'L1', '--start-run', '299999', '--once', '--json']),
      );
      expect(after.held).to.equal(null);
      expect(after.created.map((c) => c.run)).to.include(300004);
    });

    it('watch --once --dry-run and block --dry-run say what they would create, never "created"', async () => {
      await s.addRuns([
        ...physicsRuns(300000, 300002),
        { run: 300003, types: ['PCA'] },
        ...physicsRuns(300004, 300005),
      ]);
      const watch = await watchOnce('--dry-run');
      expect(watch.code, watch.stderr).to.equal(0);
      expect(watch.stdout).to.match(/: cycle 1: would create 7 passes, held$/m);
      expect(watch.stdout).to.contain(
        'Would create 7 passes (Processing 3, Analysis 3, Calibration 1); last run it would handle 300003.',
      );
      expect(watch.stdout).to.contain('PCA calibration lock would be set at run 300003.');
      expect(watch.stdout).to.contain('Held at run 300003: PCA calibration lock would be set at run 300003');
      expect(watch.stdout).not.to.match(/\bcreated\b|lock set/);
      const block = await runCli(['block', s.config, s.ratv, 'L2', '300000', '300000', '--dry-run']);
      expect(block.code, block.stderr).to.equal(0);
      expect(block.stdout).to.contain('Would create 2 passes (Processing 1, Analysis 1)');
      expect(block.stdout).not.to.match(/\bcreated\b/);
      expect(await passCount(300000), 'nothing written').to.equal(0);
    });

    it('an ECA run (ECA + ECAPDST bits) sets the ECA lock; --testing-nocal neither honours nor sets locks', async () => {
      await s.addRuns([{ run: 300000, types: ['ECA', 'ECAPDST'] }, ...physicsRuns(300001, 300003)]);
      const ignoring = json<WatchSummary>(await watchOnce('--testing-nocal', '--json'));
      expect(ignoring.locks_set).to.deep.equal([]);
      expect(ignoring.created.map((c) => c.run)).to.include.members([300000, 300001, 300002]);
      expect((await s.docs([ids.calibrationLock('ECA')])).size).to.equal(0);
    });

    it('records the RATDB tag in every pass and reads the run type as the tag saw it', async () => {
      const before = new Date('2026-11-01T00:00:00Z');
      await s.addRuns([
        { run: 300000, types: ['ExternalSource', 'TELLIE'], loadedAt: before },
        { run: 300001, loadedAt: before },
      ]);
      await s.withDatabases(async (db) => {
        await db.ratdb.setTag({ name: 'water-physics-v2', timestamp: new Date('2026-11-02T00:00:00Z') });
        // A newer RUN table, after the tag, says Physics.
        await db.ratdb.load([
          { ...ratdbTablesFor({ run: 300000 })[0]!, version: 2, timestamp: new Date('2026-11-03T00:00:00Z') },
        ]);
      });
      const tagged = json<WatchSummary>(await watchOnce('-t', 'water-physics-v2', '--json'));
      expect(tagged.created.filter((c) => c.run === 300000).map((c) => c.module)).to.deep.equal([
        'Processing',
      ]);
      expect((await s.job(300000, 'Processing'))!.passes[0]!.ratdb_tag).to.equal('water-physics-v2');

      const live = json<{ created: { module: string }[] }>(
        await runCli(['reprocess', 'one-shot', s.config, s.ratv, 'L2', '300000', '--json']),
      );
      expect(live.created.map((c) => c.module)).to.deep.equal(['Processing', 'Analysis']);
    });

    it('resumes a submission a killed watcher left in flight, creating each pass once', async () => {
      await s.addRuns(physicsRuns(300000, 300002));
      const submission = 'sub_2026-11-24T10-00-00Z_dead';
      const stateDoc = ids.watchState(s.ratv, 'L2');
      // What a watcher killed after writing run 300000's Processing pass leaves behind.
      await s.withDatabases(async (db) => {
        await db.processing.bulkWrite([
          {
            _id: ids.submission(submission),
            type: 'submission',
            mode: 'watch',
            ratv: s.ratv,
            filetype: 'L2',
            runs: [300000, 300001],
            done: [],
            args: {},
            started: '2026-11-24T10:00:00Z',
            finished: null,
          },
          {
            _id: stateDoc,
            type: 'watch_state',
            ratv: s.ratv,
            filetype: 'L2',
            last_run: null,
            in_flight: submission,
            updated: '2026-11-24T10:00:00Z',
          },
          {
            _id: ids.job(300000, 'Processing'),
            type: 'job',
            run: 300000,
            module: 'Processing',
            passes: [
              {
                pass: 0,
                ratv: s.ratv,
                filetype: 'L2',
                ratdb_tag: null,
                status: 'waiting',
                level: 'sub_run',
                path: 'p',
                outputs: [],
                prerequisites: [],
                subjobs: [],
                submission,
                mode: 'watch',
                created: '2026-11-24T10:00:01Z',
                created_by: 'shifter@host',
              },
            ],
          },
        ]);
      });
      const result = await watchOnce();
      expect(result.code, result.stdout).to.equal(0);
      expect(result.stdout).to.match(/resuming submission sub_2026-11-24T10-00-00Z_dead/);
      const processing = (await s.job(300000, 'Processing'))!;
      expect(processing.passes.map((p) => p.submission)).to.deep.equal([submission]);
      expect((await s.job(300000, 'Analysis'))!.passes[0]!.prerequisites).to.deep.equal([
        { module: 'Processing', pass: 0 },
      ]);
      expect((await s.job(300001, 'Processing'))!.passes.map((p) => p.submission)).to.deep.equal([
        submission,
      ]);
      expect(await passCount(300002)).to.equal(0);
      const state = (await s.docs([stateDoc])).get(stateDoc)!;
      expect(state).to.include({ last_run: 300001, in_flight: null });
    });

    it('block takes the runs of its block only and stops when all are handled', async () => {
      await s.addRuns(physicsRuns(300000, 300006));
      const result = await runCli(['block', s.config, s.ratv, 'L2', '300002', '300004', '--interval', '1']);
      expect(result.code, result.stderr).to.equal(0);
      expect(await passCount(300001)).to.equal(0);
      for (const run of [300002, 300003, 300004]) expect(await passCount(run)).to.equal(1);
      expect(await passCount(300005)).to.equal(0);
    });

    it("a waiting watcher's own writes do not wake it when data-flow and processing are one database", async () => {
      // Lease heartbeats every second: a watcher woken by its own writes would cycle every second.
      await oneDatabase(s, 3);
      await s.addRuns(physicsRuns(300000, 300002));
      const watcher = startWatch([s.config, s.ratv, 'L2', '-r', '299999', '--interval', '600']);
      let stopped;
      try {
        await until('the first cycle', 60_000, () => /last run handled 300001/.test(watcher.stdout()));
        await new Promise((r) => setTimeout(r, 5000));
        expect(watcher.cycles(), watcher.output()).to.be.at.most(2);
      } finally {
        stopped = await interrupt(watcher);
      }
      expect(stopped, `SIGINT ends the wait on the feed: ${watcher.output()}`).to.equal(0);
      const lease = (await s.docs([ids.lease(s.ratv, 'L2')])).get(ids.lease(s.ratv, 'L2'))!;
      expect(new Date(String(lease.expires)).getTime(), 'lease released').to.be.at.most(Date.now());
    });

    // Leases matter where two processes can open the database: the servers (an embedded one takes one process).
    if (serverKinds.includes(kind)) {
      it('a watcher wakes when the document that completes a run is written, not after its interval', async () => {
        await s.addRuns(physicsRuns(300000, 300001));
        const watcher = startWatch([s.config, s.ratv, 'L2', '-r', '299999', '--interval', '600']);
        let stopped;
        try {
          await until('the first cycle', 60_000, () => /last run handled 300000/.test(watcher.stdout()));
          // A file of a later run completes run 300001; the interval alone would not see it for 600 s.
          await s.addRuns([{ run: 300002 }]);
          await until('the jobs of run 300001', 60_000, async () => (await passCount(300001)) === 1);
          expect(await passCount(300001, 'Analysis')).to.equal(1);
          expect(await passCount(300002), 'the run still being taken').to.equal(0);
        } finally {
          stopped = await interrupt(watcher);
        }
        expect(stopped, `SIGINT ends the wait on the feed: ${watcher.output()}`).to.equal(0);
        const lease = (await s.docs([ids.lease(s.ratv, 'L2')])).get(ids.lease(s.ratv, 'L2'))!;
        expect(new Date(String(lease.expires)).getTime(), 'lease released').to.be.at.most(Date.now());
      });

      it('a watcher killed outright can be restarted at once: its lease is taken over', async () => {
        await s.addRuns(physicsRuns(300000, 300002));
        const first = spawn(
          process.execPath,
          [path.join(root, 'bin/run.js'), 'watch', s.config, s.ratv, 'L2', '-r', '299999', '--interval', '1'],
          { stdio: ['ignore', 'pipe', 'pipe'] },
        );
        let out = '';
        first.stdout.on('data', (c: Buffer) => (out += c.toString()));
        const exited = new Promise((resolve) => first.on('close', resolve));
        for (let i = 0; i < 100 && !/cycle 1:/.test(out); i++) await new Promise((r) => setTimeout(r, 100));
        first.kill('SIGKILL');
        await exited;
        const lease = (await s.docs([ids.lease(s.ratv, 'L2')])).get(ids.lease(s.ratv, 'L2'))!;
        expect(
          new Date(String(lease.expires)).getTime(),
          'the killed watcher left an unexpired lease',
        ).to.be.greaterThan(Date.now());
        await s.addRuns([{ run: 300003 }]);
        const restarted = await watchOnce();
        expect(restarted.code, `${restarted.stdout}${restarted.stderr}`).to.equal(0);
        expect(restarted.stderr, 'a crashed holder is taken over').to.match(
          /took over the lease lease_watch_9\.9\.0_L2 from /,
        );
        expect(await passCount(300002)).to.equal(1);
      });

      it('a watcher stopped cleanly (--once, SIGTERM) is stopped, not stale, after its lease; the next takes the lease without a takeover', async () => {
        await setLeaseSeconds(s, 2);
        await s.addRuns(physicsRuns(300000, 300002));
        const status = () => runCli(['status', s.config, s.ratv]);
        const once = await watchOnce();
        expect(once.code, once.stderr).to.equal(0);
        await new Promise((r) => setTimeout(r, 3000));
        const afterOnce = await status();
        expect(afterOnce.code, afterOnce.stdout).to.equal(0);
        expect(afterOnce.stdout).to.match(/^watcher watch_9\.9\.0_L2 .* stopped at \S+ \(--once done\)$/m);
        expect(afterOnce.stdout).not.to.match(/STALE/);

        const watcher = startWatch([s.config, s.ratv, 'L2', '-r', '299999', '--interval', '600']);
        try {
          await until(
            'the first cycle',
            60_000,
            () => watcher.cycles() >= 1 && /cycle 1:.*created/.test(watcher.stdout()),
          );
        } finally {
          watcher.child.kill('SIGTERM');
        }
        expect(await watcher.exited, watcher.output()).to.equal(0);
        expect(watcher.output(), 'a released lease is no takeover').not.to.match(/took over/);
        expect(watcher.output()).to.match(/took the lease lease_watch_9\.9\.0_L2, released by .* \(once\)/);
        await new Promise((r) => setTimeout(r, 3000));
        const afterSigterm = await status();
        expect(afterSigterm.code, afterSigterm.stdout).to.equal(0);
        expect(afterSigterm.stdout).to.match(/^watcher watch_9\.9\.0_L2 .* stopped at \S+ \(SIGTERM\)$/m);

        const next = await watchOnce();
        expect(next.code, next.stderr).to.equal(0);
        expect(next.stderr).not.to.match(/took over/);
      });

      it('a second watcher for the same RAT version and filetype is refused while the first holds the lease', async () => {
        await s.addRuns(physicsRuns(300000, 300001));
        const first = spawn(
          process.execPath,
          [path.join(root, 'bin/run.js'), 'watch', s.config, s.ratv, 'L2', '-r', '299999', '--interval', '1'],
          {
            stdio: ['ignore', 'pipe', 'pipe'],
          },
        );
        let out = '';
        first.stdout.on('data', (c: Buffer) => (out += c.toString()));
        const exited = new Promise<number | null>((resolve) => first.on('close', resolve));
        try {
          for (let i = 0; i < 100 && !/cycle 1:/.test(out); i++) await new Promise((r) => setTimeout(r, 100));
          const second = await watchOnce();
          expect(second.code).to.equal(2);
          expect(second.stderr).to.match(/another watcher holds lease_watch_9\.9\.0_L2/);
        } finally {
          first.kill('SIGTERM');
        }
        expect(await exited, 'SIGTERM stops the watcher cleanly').to.equal(0);
        const after = await watchOnce();
        expect(after.code, `${after.stdout}${after.stderr}`).to.equal(0);
      });
    }
  });
}
