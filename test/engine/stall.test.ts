import v8 from 'node:v8';
import vm from 'node:vm';

import { expect } from 'chai';

import { stallLimitMs, Watchdog } from '../../src/engine/stall.js';

describe('engine: a watcher stalls when nothing moves', () => {
  it('by default allows three leases, and never less than an interval plus the longest request', () => {
    expect(stallLimitMs({ intervalSeconds: 30, leaseSeconds: 60 })).to.equal(180_000);
    expect(stallLimitMs({ intervalSeconds: 1, leaseSeconds: 4 })).to.equal(151_000);
    expect(stallLimitMs({ intervalSeconds: 600, leaseSeconds: 60 })).to.equal(750_000);
    expect(stallLimitMs({ intervalSeconds: 30, leaseSeconds: 60, stallSeconds: 20 })).to.equal(20_000);
  });

  it('counts a call that ends as progress, answered or failed, and fires once past the limit', async () => {
    let now = 0;
    const watchdog = new Watchdog(10_000, () => now);
    const store = watchdog.watch({
      answer: (x: number) => Promise.resolve(x * 2),
      fail: () => Promise.reject(new Error('refused')),
      name: 'store',
    });
    const pending = watchdog.race(new Promise<never>(() => {}));

    now = 9_000;
    expect(await store.answer(2)).to.equal(4);
    now = 18_000;
    expect(watchdog.check(), 'a call ended 9 s ago').to.equal(true);
    await store.fail().catch(() => {});
    expect(store.name).to.equal('store');
    now = 28_000;
    expect(watchdog.check(), 'a failure is progress too').to.equal(true);
    now = 28_001;
    expect(watchdog.check()).to.equal(false);
    expect(watchdog.hasStalled).to.equal(true);
    const error = await pending.then(
      () => undefined,
      (e: Error) => e,
    );
    expect(error?.message).to.equal(
      'no progress for 10 s (limit 10 s): no database call ended and no cycle turned; stopped so that another watcher can take over',
    );
    watchdog.progress();
    expect(watchdog.check(), 'once stalled, always stalled').to.equal(false);
  });

  it('keeps nothing of a race once it has settled', async () => {
    // A watcher races three times a cycle for weeks: a race that kept its result (as Promise.race
    // with a promise that only a stall settles does) grew the watcher's heap by megabytes an hour.
    v8.setFlagsFromString('--expose-gc');
    const gc = vm.runInNewContext('gc') as () => void;
    const watchdog = new Watchdog(10_000);
    const refs: WeakRef<object>[] = [];
    // In a function of their own: a suspended frame would hold its last result itself.
    const cycles = async () => {
      for (let i = 0; i < 3; i++) {
        const result = { cycle: i, created: new Array(1000).fill(i) };
        refs.push(new WeakRef(result));
        expect(await watchdog.race(Promise.resolve(result))).to.equal(result);
      }
    };
    await cycles();
    await new Promise((resolve) => setImmediate(resolve));
    gc();
    expect(refs.map((ref) => ref.deref() === undefined)).to.deep.equal([true, true, true]);
  });

  it('rejects a race begun after it fired, at once', async () => {
    let now = 0;
    const watchdog = new Watchdog(1_000, () => now);
    now = 1_001;
    expect(watchdog.check()).to.equal(false);
    const error = await watchdog.race(new Promise<never>(() => {})).then(
      () => undefined,
      (e: Error) => e,
    );
    expect(error?.message).to.match(/^no progress for 1 s/);
  });

  it('does not count a call still waiting', () => {
    let now = 0;
    const watchdog = new Watchdog(5_000, () => now);
    const store = watchdog.watch({ hang: () => new Promise<void>(() => {}) });
    void store.hang();
    now = 5_001;
    expect(watchdog.check()).to.equal(false);
  });

  it('counts a view read waiting for its index as progress, for ten limits', async () => {
    let now = 0;
    const watchdog = new Watchdog(5_000, () => now);
    let built!: () => void;
    const store = watchdog.watch({
      queryView: () => new Promise<void>((resolve) => (built = resolve)),
    });
    const reading = store.queryView();
    now = 50_000;
    expect(watchdog.check(), 'ten limits into an index build').to.equal(true);
    now = 55_001;
    expect(watchdog.check(), 'past ten limits and five more: a server that stopped answering').to.equal(
      false,
    );
    built();
    await reading;
  });
});
