import { expect } from 'chai';

import type { StoredDocument } from '../../src/backends/types.js';
import { ids, type JobDocument } from '../../src/engine/types.js';
import { physicsRuns, scenario, type Scenario } from '../support/scenario.js';
import { checkJobs, docsWithPrefix, killLeftovers, sleep, startCli, type CliProcess } from './support.js';

const modules = ['Processing', 'Analysis'];
const leaseSeconds = 4;

/** Signals one of the test's own watchers by PID; false when it has already exited. */
function signal(cli: CliProcess, name: NodeJS.Signals): boolean {
  if (cli.child.exitCode !== null || cli.child.signalCode !== null) return false;
  try {
    process.kill(cli.child.pid!, name);
    return true;
  } catch {
    return false;
  }
}

async function waitFor(what: string, ok: () => Promise<boolean> | boolean, ms = 60_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await ok())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(50);
  }
}

/** Runs handled without exactly one pass of each module. */
function wrongRuns(jobs: readonly StoredDocument[], runs: readonly number[]): number[] {
  const perRun = new Map<number, string[]>();
  for (const doc of jobs as JobDocument[])
    for (const p of doc.passes)
      perRun.set(doc.run, [...(perRun.get(doc.run) ?? []), `${doc.module}#${p.pass}`]);
  return runs.filter((run) => {
    const got = perRun.get(run) ?? [];
    return got.length !== modules.length || !modules.every((m) => got.includes(`${m}#0`));
  });
}

describe('reliability: hot standby watchers (pouchdb-server + PostgreSQL)', function () {
  this.timeout(300_000);
  let s: Scenario;
  const watch = (host: string, first: number, env: Record<string, string> = {}) =>
    startCli(['watch', s.config, s.ratv, 'L2', '-r', String(first - 1), '--interval', '1'], {
      OPROC_HOSTNAME: host,
      ...env,
    });
  const lease = async () => (await s.docs([ids.lease(s.ratv, 'L2')])).get(ids.lease(s.ratv, 'L2'));
  const jobs = () => s.withDatabases((db) => docsWithPrefix(db, 'job_'));
  const state = async () => (await s.docs([ids.watchState(s.ratv, 'L2')])).get(ids.watchState(s.ratv, 'L2'));

  beforeEach(async () => {
    s = await scenario('servers', { watch: { interval_seconds: 1, lease_seconds: leaseSeconds } });
  });
  afterEach(async () => {
    await killLeftovers();
    await s.cleanup();
  });

  it('a standby on another host takes over within the lease when the holder is SIGKILLed, and resumes', async () => {
    await s.addRuns(physicsRuns(700000, 700010, { subruns: 1, filetypes: ['L2'] }));
    const holder = watch('host-a', 700000);
    await waitFor('the first watcher to handle runs', async () => (await state())?.last_run === 700009);
    const standby = watch('host-b', 700000);
    await waitFor('the standby to say so', () => /waiting as a standby/.test(standby.stderr()));
    expect(standby.stderr()).to.match(
      /another watcher holds lease_watch_9\.9\.0_L2: .* pid \d+ \w+ \(host host-a\), last heartbeat .*, expires .*; waiting as a standby, checking every 1 s/,
    );
    const before = await jobs();
    // Runs arriving while the holder is alive are the holder's to write, never the standby's.
    await s.addRuns(physicsRuns(700011, 700013, { subruns: 1, filetypes: ['L2'] }));
    await waitFor('the holder to take them', async () => (await state())?.last_run === 700012);
    expect((await lease())?.host).to.equal('host-a');

    const killedAt = Date.now();
    expect(signal(holder, 'SIGKILL')).to.equal(true);
    await waitFor('the standby to take over', () => /took over/.test(standby.stderr()), 30_000);
    const takeover = Date.now() - killedAt;
    expect(standby.stderr()).to.match(
      /took over the lease lease_watch_9\.9\.0_L2 from .* \(host host-a\) after [\d.]+ s as a standby; resuming from watch_9\.9\.0_L2 after run 700012/,
    );
    console.log(
      `      figures: standby took over ${(takeover / 1000).toFixed(2)} s after the holder was SIGKILLed (lease ${leaseSeconds} s)`,
    );
    expect(takeover, 'within the lease').to.be.below(leaseSeconds * 1000 + 1000);
    expect((await lease())?.host).to.equal('host-b');

    await s.addRuns(physicsRuns(700014, 700020, { subruns: 1, filetypes: ['L2'] }));
    await waitFor('the new holder to handle the new runs', async () => (await state())?.last_run === 700019);
    const after = await jobs();
    expect(after.length).to.be.greaterThan(before.length);
    const runs = Array.from({ length: 20 }, (_, i) => 700000 + i);
    expect(wrongRuns(after, runs)).to.deep.equal([]);
    const byHost = (host: string) =>
      (after as JobDocument[])
        .filter((d) => d.passes.some((p) => p.created_by.endsWith(`@${host}`)))
        .map((d) => d.run);
    expect(Math.max(...byHost('host-a'))).to.be.below(700013);
    expect(Math.min(...byHost('host-b'))).to.be.above(700012);
    expect(signal(standby, 'SIGTERM')).to.equal(true);
    expect((await standby.exit).code).to.equal(0);
  });

  it('Ctrl-C ends a standby at once with exit 0, and --once still exits 2 while the lease is held', async () => {
    await s.addRuns(physicsRuns(700000, 700002, { subruns: 1, filetypes: ['L2'] }));
    const holder = watch('host-a', 700000);
    await waitFor('the holder to handle the runs', async () => (await state())?.last_run === 700001);
    const once = startCli(['watch', s.config, s.ratv, 'L2', '-r', '699999', '--once'], {
      OPROC_HOSTNAME: 'host-b',
    });
    const onceExit = await once.exit;
    expect(onceExit.code).to.equal(2);
    expect(once.stderr()).to.match(/another watcher holds lease_watch_9\.9\.0_L2:[\s\S]*host-a/);
    const standby = watch('host-b', 700000);
    await waitFor('the standby to wait', () => /waiting as a standby/.test(standby.stderr()));
    const stateRev = (await state())?._rev;
    const interrupted = Date.now();
    expect(signal(standby, 'SIGINT')).to.equal(true);
    const exit = await standby.exit;
    expect(exit.code).to.equal(0);
    expect(Date.now() - interrupted, 'at once, not after the lease').to.be.below(3000);
    expect((await state())?._rev, 'a standby writes nothing').to.equal(stateRev);
    expect((await lease())?.host).to.equal('host-a');
    signal(holder, 'SIGTERM');
    expect((await holder.exit).code).to.equal(0);
  });

  it('a holder SIGSTOPped past its lease and continued writes nothing more', async () => {
    await s.addRuns(physicsRuns(710000, 710120, { subruns: 1, filetypes: ['L2'] }));
    const env = { OPROC_BATCH_SIZE: '4' };
    const holder = watch('host-a', 710000, env);
    await waitFor('the holder to take the lease', async () => (await lease())?.host === 'host-a');
    const standby = watch('host-b', 710000, env);
    await waitFor('the standby to wait', () => /waiting as a standby/.test(standby.stderr()));
    // Paused in the middle of its work.
    await waitFor('the holder to be writing', async () => (await jobs()).length >= 20);
    expect(signal(holder, 'SIGSTOP')).to.equal(true);
    const stoppedAt = Date.now();
    try {
      await waitFor('the standby to take over', () => /took over/.test(standby.stderr()), 30_000);
      console.log(
        `      figures: standby took over ${((Date.now() - stoppedAt) / 1000).toFixed(2)} s after the holder was SIGSTOPped (lease ${leaseSeconds} s)`,
      );
      await waitFor('the new holder to finish', async () => (await state())?.last_run === 710119, 120_000);
      await s.addRuns(physicsRuns(710121, 710130, { subruns: 1, filetypes: ['L2'] }));
      await waitFor('the new runs', async () => (await state())?.last_run === 710129, 60_000);
    } finally {
      signal(holder, 'SIGCONT');
    }
    const snapshot = await jobs();
    const journalsOf = async (host: string) =>
      (await s.withDatabases((db) => docsWithPrefix(db, 'submission_')))
        .filter((j) => String(j.created_by).endsWith(`@${host}`))
        .map((j) => `${j._id} ${j._rev}`);
    const journalsBefore = await journalsOf('host-a');
    const passesOf = (docs: readonly StoredDocument[], host: string) =>
      (docs as JobDocument[]).flatMap((d) =>
        d.passes.filter((p) => p.created_by.endsWith(`@${host}`)).map((p) => `${d._id}#${p.pass}`),
      );
    const exit = await holder.exit;
    expect(exit.code, holder.stderr()).to.equal(1);
    expect(holder.stderr()).to.match(/lost the lease lease_watch_9\.9\.0_L2/);
    await s.addRuns(physicsRuns(710131, 710132, { subruns: 1, filetypes: ['L2'] }));
    await waitFor('the holder after the pause', async () => (await state())?.last_run === 710131);
    const final = await jobs();
    expect(passesOf(final, 'host-a'), 'the paused holder wrote no pass after it was continued').to.deep.equal(
      passesOf(snapshot, 'host-a'),
    );
    const runs = Array.from({ length: 132 }, (_, i) => 710000 + i);
    expect(wrongRuns(final, runs)).to.deep.equal([]);
    expect(
      await journalsOf('host-a'),
      'no journal written by the paused holder once continued',
    ).to.deep.equal(journalsBefore);
    signal(standby, 'SIGTERM');
    await standby.exit;
  });

  it('three running watchers fed runs in bursts: exactly one pass per (run, module), takeovers work', async () => {
    const first = 720000;
    const bursts = 6;
    const perBurst = 25;
    const env = { OPROC_BATCH_SIZE: '10' };
    const hosts = ['host-1', 'host-2', 'host-3'];
    const watchers = new Map(hosts.map((h) => [h, watch(h, first, env)]));
    let kills = 0;
    const takeovers: number[] = [];
    let next = first;
    for (let burst = 0; burst < bursts; burst++) {
      await s.addRuns(physicsRuns(next, next + perBurst - 1, { subruns: 1, filetypes: ['L2'] }));
      next += perBurst;
      await waitFor(
        `burst ${burst + 1} handled`,
        async () => (await state())?.last_run === next - 2,
        120_000,
      );
      if (burst === 1 || burst === 3) {
        // The holder dies; one of the standbys takes over; the dead one comes back as a standby.
        const host = String((await lease())?.host);
        const killedAt = Date.now();
        expect(signal(watchers.get(host)!, 'SIGKILL')).to.equal(true);
        kills++;
        await waitFor('a takeover', async () => {
          const now = await lease();
          return now !== undefined && now.host !== host;
        });
        takeovers.push(Date.now() - killedAt);
        watchers.set(host, watch(host, first, env));
      }
    }
    await s.addRuns([{ run: next, subruns: 1, filetypes: ['L2'] }]);
    await waitFor('every run handled', async () => (await state())?.last_run === next - 1, 120_000);
    for (const cli of watchers.values()) signal(cli, 'SIGTERM');
    const exits = await Promise.all([...watchers.values()].map((c) => c.exit));
    const all = await jobs();
    const journals = (await s.withDatabases((db) => docsWithPrefix(db, 'submission_'))).sort((a, b) =>
      String(a.started).localeCompare(String(b.started)),
    );
    const carried = journals.filter((j) => !j.abandoned);
    const check = checkJobs(
      all,
      new Map(carried.map((j) => [j._id.replace(/^submission_/, ''), { runs: j.runs as number[], modules }])),
    );
    const overlaps = carried.slice(1).filter((j, i) => String(j.started) < String(carried[i]!.finished));
    const runs = Array.from({ length: bursts * perBurst }, (_, i) => first + i);
    const took = [...watchers.values()].filter((c) => /took over/.test(c.stderr())).length;
    console.log(
      `      figures: ${runs.length} runs in ${bursts} bursts, 3 watchers, ${kills} holders SIGKILLed, takeovers after ` +
        `${takeovers.map((t) => (t / 1000).toFixed(2)).join(' s, ')} s (lease ${leaseSeconds} s); ${carried.length} submissions, ${check.passes} passes`,
    );
    expect(wrongRuns(all, runs)).to.deep.equal([]);
    expect(check.duplicates).to.deep.equal([]);
    expect(check.losses).to.deep.equal([]);
    expect(check.broken).to.deep.equal([]);
    expect(
      overlaps.map((j) => j._id),
      'one lease holder at a time',
    ).to.deep.equal([]);
    expect(exits.map((e) => e.code)).to.deep.equal([0, 0, 0]);
    expect(took, 'standbys said they took over').to.be.greaterThan(0);
    for (const t of takeovers) expect(t).to.be.below(leaseSeconds * 1000 + 1000);
  });
});
