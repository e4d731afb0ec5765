import { expect } from 'chai';

import { ids } from '../../src/engine/types.js';
import { physicsRuns, type Scenario } from '../support/scenario.js';
import {
  killLeftovers,
  ownServers,
  serverScenario,
  signal,
  startCli,
  waitFor,
  type CliProcess,
  type OwnServers,
} from './support.js';

const stallSeconds = 6;

/**
 * A watcher whose database stops answering without failing (its server SIGSTOPped: every request
 * hangs; the client would give one up only after 120 s) makes no progress. Its heartbeat must stop
 * with it, so that a standby takes over, instead of renewing a lease for a watcher that handles
 * nothing. The suite runs its own pouchdb-server, so the shared one is never paused.
 */
describe('reliability: a stalled watcher gives way (own pouchdb-server + PostgreSQL)', function () {
  this.timeout(300_000);
  let servers: OwnServers;
  let s: Scenario;
  let paused = false;

  before(async function () {
    this.timeout(120_000);
    servers = await ownServers('servers');
  });
  beforeEach(async () => {
    s = await serverScenario(servers.couch, servers.postgres, {
      watch: { interval_seconds: 1, lease_seconds: 4, stall_seconds: stallSeconds },
    });
  });
  afterEach(async () => {
    if (paused) process.kill(servers.couch.pid, 'SIGCONT');
    paused = false;
    await killLeftovers();
    await s.cleanup();
  });
  after(async function () {
    this.timeout(60_000);
    await servers?.stop();
  });

  const watch = (host: string, first: number): CliProcess =>
    startCli(['watch', s.config, s.ratv, 'L2', '-r', String(first - 1), '--interval', '1'], {
      OPROC_HOSTNAME: host,
    });
  const state = async () =>
    (await s.docs([ids.watchState(s.ratv, 'L2')])).get(ids.watchState(s.ratv, 'L2')) as
      { last_run?: number } | undefined;
  const lease = async () =>
    (await s.docs([ids.lease(s.ratv, 'L2')])).get(ids.lease(s.ratv, 'L2')) as { host?: string } | undefined;

  it('stops renewing its lease, exits 1 naming the stall, and its standby carries on', async () => {
    await s.addRuns(physicsRuns(720000, 720002, { subruns: 1, filetypes: ['L2'] }));
    const holder = watch('host-a', 720000);
    await waitFor('the holder to handle the runs', async () => (await state())?.last_run === 720001, 60_000);
    const standby = watch('host-b', 720000);
    await waitFor('the standby to wait', async () => /waiting as a standby/.test(standby.stderr()), 60_000);

    process.kill(servers.couch.pid, 'SIGSTOP');
    paused = true;
    const pausedAt = Date.now();
    const exit = await Promise.race([
      holder.exit,
      new Promise<undefined>((resolve) => setTimeout(resolve, 150_000, undefined)),
    ]);
    const stalledAfter = (Date.now() - pausedAt) / 1000;
    process.kill(servers.couch.pid, 'SIGCONT');
    paused = false;
    if (!exit) {
      signal(holder, 'SIGKILL');
      expect.fail(`the holder still ran 150 s after its database stopped answering:\n${holder.stderr()}`);
    }
    console.log(
      `      figures: the stalled holder exited ${stalledAfter.toFixed(1)} s after its server was paused`,
    );
    expect(exit.code, holder.stderr()).to.equal(1);
    expect(holder.stderr()).to.match(
      new RegExp(`no progress for \\d+ s \\(limit ${stallSeconds} s\\).*another watcher can take over`),
    );
    // The stall limit (eleven limits when the call that hangs is a view read, which may be waiting
    // for its index), the heartbeat's check (every third of the lease), up to 10 s for the release
    // and the process's own exit. A view read on pouchdb-server is never given up by the client.
    expect(stalledAfter).to.be.within(stallSeconds, 11 * stallSeconds + 30);

    await waitFor('the standby to take the lease', async () => (await lease())?.host === 'host-b', 60_000);
    expect(standby.stderr()).to.match(/took (over )?the lease lease_watch_9\.9\.0_L2/);
    await s.addRuns(physicsRuns(720003, 720005, { subruns: 1, filetypes: ['L2'] }));
    await waitFor(
      'the standby to handle the new runs',
      async () => (await state())?.last_run === 720004,
      60_000,
    );
    expect(signal(standby, 'SIGTERM')).to.equal(true);
    expect((await standby.exit).code).to.equal(0);
  });
});
