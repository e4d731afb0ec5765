import { setTimeout as sleep } from 'node:timers/promises';

import { expect } from 'chai';

import { ChangeCache, followChanges, Hub } from '../../src/serve/live.js';
import { scenario, type Scenario } from '../support/scenario.js';

/** Resolves when `check` holds, polling; fails after `ms` with `what`. */
async function eventually(check: () => boolean, what: string, ms = 20_000): Promise<void> {
  const until = Date.now() + ms;
  while (!check()) {
    if (Date.now() > until) throw new Error(`never happened: ${what}`);
    await sleep(20);
  }
}

describe('status page hub: one computation per burst, shared by all pages', () => {
  it('folds a burst of 100 changes into one computation that every page receives', async () => {
    let reads = 0;
    const hub = new Hub(async () => ++reads, { debounceMs: 50, onError: () => {} });
    const seen: number[][] = [[], [], []];
    seen.forEach((values) => hub.subscribe((v) => values.push(v)));
    await eventually(() => seen.every((v) => v.length === 1), 'the first value reaches every page');
    for (let i = 0; i < 100; i++) hub.changed();
    await eventually(() => seen.every((v) => v.length === 2), 'the burst reaches every page');
    await sleep(150);
    expect(hub.computations).to.equal(2);
    expect(seen).to.deep.equal([
      [1, 2],
      [1, 2],
      [1, 2],
    ]);
    await hub.close();
  });

  it('computes again after a computation that changes arrived during', async () => {
    let release: () => void = () => {};
    let reads = 0;
    const hub = new Hub(
      async () => {
        reads++;
        if (reads === 2) await new Promise<void>((resolve) => (release = resolve));
        return reads;
      },
      { debounceMs: 10, onError: () => {} },
    );
    const values: number[] = [];
    hub.subscribe((v) => values.push(v));
    await eventually(() => values.length === 1, 'first value');
    hub.changed();
    await eventually(() => reads === 2, 'second computation started');
    hub.changed();
    hub.changed();
    release();
    await eventually(() => values.length === 3, 'a third computation for the changes during the second');
    expect(values).to.deep.equal([1, 2, 3]);
    await hub.close();
  });

  it('keeps the last value and reports a failed computation', async () => {
    let fail = false;
    const errors: string[] = [];
    const hub = new Hub(
      async () => {
        if (fail) throw new Error('database http://u:pw@127.0.0.1:1/x went away');
        return 'ok';
      },
      { debounceMs: 10, onError: (m) => errors.push(m) },
    );
    const values: string[] = [];
    hub.subscribe((v) => values.push(v));
    await eventually(() => values.length === 1, 'first value');
    fail = true;
    hub.changed();
    await eventually(() => errors.length === 1, 'the failure is reported');
    expect(errors[0]).to.include('http://u:***@127.0.0.1:1/x');
    expect(values).to.deep.equal(['ok']);
    await hub.close();
  });
});

describe('status cache: answers between changes from the last computation', () => {
  it('computes once for requests between changes, shares one in flight, and again after a change', async () => {
    let computed = 0;
    let release: () => void = () => {};
    const cache = new ChangeCache(async (key) => {
      computed++;
      if (computed === 4) await new Promise<void>((resolve) => (release = resolve));
      return `${key}:${computed}`;
    }, 60_000);
    expect(await cache.get('')).to.equal(':1');
    expect(await cache.get('')).to.equal(':1');
    expect(await cache.get('9.9.0')).to.equal('9.9.0:2');
    cache.invalidate();
    const [a, b] = [cache.get(''), cache.get('')];
    await eventually(() => computed === 3, 'one computation for both requests');
    expect(await Promise.all([a, b])).to.deep.equal([':3', ':3']);
    // A change while a computation runs: its result is given, and the next request computes again.
    cache.invalidate();
    const during = cache.get('9.9.0');
    await eventually(() => computed === 4, 'computing');
    cache.invalidate();
    release();
    expect(await during).to.equal('9.9.0:4');
    expect(await cache.get('9.9.0')).to.equal('9.9.0:5');
  });
});

describe('status cache: an aged value, with no change since', () => {
  it('is given at once to a request that allows it while a new one is computed, and waited for otherwise', async () => {
    let computed = 0;
    const cache = new ChangeCache(async () => ++computed, 50);
    expect(await cache.get('')).to.equal(1);
    await sleep(80);
    expect(await cache.get('', { allowAged: true })).to.equal(1);
    await eventually(() => computed === 2, 'computed again behind the answer');
    expect(await cache.get('', { allowAged: true })).to.equal(2);
    await sleep(80);
    expect(await cache.get('')).to.equal(3);
    // After a change nobody gets the old value, however it is asked.
    cache.invalidate();
    expect(await cache.get('', { allowAged: true })).to.equal(4);
  });

  it('never answers after a change with a computation that began before it', async () => {
    let computed = 0;
    let release: () => void = () => {};
    const cache = new ChangeCache(async () => {
      computed++;
      if (computed === 2) await new Promise<void>((resolve) => (release = resolve));
      return computed;
    }, 10);
    expect(await cache.get('')).to.equal(1);
    await sleep(30);
    expect(await cache.get('', { allowAged: true })).to.equal(1); // starts computation 2 behind it
    await eventually(() => computed === 2, 'computation 2 running');
    cache.invalidate();
    const after = cache.get('', { allowAged: true });
    release();
    expect(await after).to.equal(3);
  });
});

describe('status page feed (pouchdb-server)', function () {
  this.timeout(60_000);
  let s: Scenario;
  before(async () => {
    s = await scenario('servers');
  });
  after(() => s.cleanup());

  it('wakes on writes to the processing database, and the hub computes less often than it is woken', async () => {
    await s.withDatabases(async (db) => {
      let computations = 0;
      const hub = new Hub(async () => ++computations, { debounceMs: 300, onError: () => {} });
      const received: number[] = [];
      hub.subscribe((v) => received.push(v));
      let wakes = 0;
      const stop = new AbortController();
      const following = followChanges(
        db.processing,
        {
          onChange: () => {
            wakes++;
            hub.changed();
          },
          onPolling: (reason) => {
            throw new Error(`should follow the feed, not poll: ${reason}`);
          },
        },
        { pollMs: 1000, signal: stop.signal },
      );
      await eventually(() => received.length === 1, 'first value');
      await sleep(300); // the follower has its since
      for (let i = 0; i < 10; i++) {
        await db.processing.bulkWrite([{ _id: `submission_burst_${i}`, type: 'submission' }]);
      }
      await eventually(() => wakes > 0 && received.length >= 2, 'the burst reaches the page');
      await sleep(700);
      expect(computations).to.be.lessThan(1 + 10);
      stop.abort();
      await following;
      await hub.close();
    });
  });

  it('polls a store without a change feed, saying so once', async () => {
    const polled: string[] = [];
    let changes = 0;
    const stop = new AbortController();
    const following = followChanges(
      {
        description: 'a store without a feed',
        create: async () => {},
        ensureDesign: async () => {},
        getMany: async () => new Map(),
        allDocs: async () => [],
        getRevisions: async () => [],
        bulkWrite: async () => [],
        queryView: async () => [],
        close: async () => {},
      },
      { onChange: () => changes++, onPolling: (reason) => polled.push(reason) },
      { pollMs: 30, signal: stop.signal },
    );
    await eventually(() => changes >= 3, 'polled three times');
    stop.abort();
    await following;
    expect(polled).to.deep.equal(['a store without a feed has no change feed']);
  });
});
