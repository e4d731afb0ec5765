import { hostname, userInfo } from 'node:os';

import { expect } from 'chai';

import type { LocksResult } from '../../src/commands/locks/index.js';
import type { ReleaseResult } from '../../src/commands/locks/release.js';
import { ids } from '../../src/engine/types.js';
import { json, runCli } from '../support/cli.js';
import {
  commandKinds,
  backendLabel,
  describeKind,
  physicsRuns,
  scenario,
  type Scenario,
} from '../support/scenario.js';

/** Stderr as one line: oclif wraps long messages. */
const oneLine = (text: string) => text.replace(/\s*›\s*/g, ' ').replace(/\s+/g, ' ');

const lockId = ids.calibrationLock('PCA');

for (const kind of commandKinds) {
  describeKind(kind, `oproc locks (${backendLabel(kind)})`, function () {
    this.timeout(120_000);
    let s: Scenario;
    const locks = (...rest: string[]) => runCli(['locks', s.config, ...rest]);
    const release = (...rest: string[]) => runCli(['locks', 'release', s.config, ...rest]);
    const watchOnce = async () => {
      const result = await runCli(['watch', s.config, s.ratv, 'L2', '--start-run', '299999', '--once']);
      expect(result.code, result.stderr).to.equal(0);
      return result;
    };
    const passCount = async (run: number, module = 'Processing') =>
      (await s.job(run, module))?.passes.length ?? 0;
    const lockDoc = async () => (await s.docs([lockId])).get(lockId);

    beforeEach(async () => {
      s = await scenario(kind);
      await s.addRuns([
        ...physicsRuns(300000, 300002),
        { run: 300003, types: ['PCA'] },
        ...physicsRuns(300004, 300006),
      ]);
    });
    afterEach(() => s.cleanup());

    it('shows no lock before a PCA run, and the PCA lock set at that run after it', async () => {
      const before = await locks();
      expect(before.code, before.stderr).to.equal(0);
      expect(before.stdout.trimEnd().split('\n')).to.deep.equal(['PCA no lock', 'ECA no lock']);
      expect(json<LocksResult>(await locks('--json')).locks.map((l) => l.state)).to.deep.equal([
        'none',
        'none',
      ]);

      await watchOnce();
      expect(await passCount(300003, 'Calibration')).to.equal(1);
      expect(await passCount(300004), 'the lock holds later runs').to.equal(0);
      const after = await locks();
      expect(after.code, after.stderr).to.equal(0);
      const [pca, eca] = after.stdout.trimEnd().split('\n');
      expect(pca).to.match(/^PCA set at run 300003 \(set \d{4}-\d\d-\d\dT[\d:.]+Z\): holding later runs$/);
      expect(eca).to.equal('ECA no lock');
      const [lock] = json<LocksResult>(await locks('--json')).locks;
      expect(lock).to.deep.include({
        calibration: 'PCA',
        state: 'set',
        run: 300003,
        validto: null,
        released_at: null,
        released_by: null,
      });
      expect(lock!.set_at).to.equal((await lockDoc())!.set_at);
    });

    it('locks release sets validto, released_by and released_at, and the watcher then goes past the lock run', async () => {
      await watchOnce();
      const started = Date.now();
      const result = await release('pca', '--validto', '300010');
      expect(result.code, result.stderr).to.equal(0);
      expect(result.stdout).to.match(/Released the PCA calibration lock/);
      expect(result.stdout).to.match(/validto 300010, released by \S+@\S+ at /);

      const doc = (await lockDoc())!;
      expect(doc).to.include({
        run: 300003,
        locked: false,
        validto: 300010,
        released_by: `${userInfo().username}@${hostname()}`,
      });
      const releasedAt = Date.parse(String(doc.released_at));
      expect(releasedAt).to.be.within(started - 1000, Date.now() + 1000);

      const [lock] = json<LocksResult>(await locks('--json')).locks;
      expect(lock).to.deep.include({ state: 'released', validto: 300010, released_at: doc.released_at });

      await watchOnce();
      expect(await passCount(300004)).to.equal(1);
      expect(await passCount(300005)).to.equal(1);
      expect(await passCount(300006), 'the last run is not complete yet').to.equal(0);
    });

    it('locks release --json returns the released lock', async () => {
      await watchOnce();
      const result = json<ReleaseResult>(await release('PCA', '--validto', '300003', '--json'));
      expect(result.lock).to.deep.include({
        calibration: 'PCA',
        state: 'released',
        run: 300003,
        validto: 300003,
      });
      expect(result.lock.released_by).to.equal(`${userInfo().username}@${hostname()}`);
    });

    it('releasing a lock that is not set is refused and changes nothing', async () => {
      await watchOnce();
      expect((await release('PCA', '--validto', '300010')).code).to.equal(0);
      const released = (await lockDoc())!;

      const again = await release('PCA', '--validto', '300020');
      expect(again.code).to.equal(2);
      expect(oneLine(again.stderr)).to.match(
        /the PCA calibration lock \(run 300003\) is not set: released \S+ by \S+@\S+, validto 300010/,
      );
      const after = (await lockDoc())!;
      expect(after._rev).to.equal(released._rev);
      expect(after.validto).to.equal(300010);

      const none = await release('ECA', '--validto', '300020');
      expect(none.code).to.equal(2);
      expect(oneLine(none.stderr)).to.match(/there is no ECA calibration lock to release/);
      expect((await s.docs([ids.calibrationLock('ECA')])).size).to.equal(0);
    });

    describe('bad input exits 2 and changes nothing', () => {
      const cases: [string, string[], RegExp][] = [
        [
          'an unknown calibration',
          ['TELLIE', '--validto', '300010'],
          /unknown calibration "TELLIE" \(valid: PCA, ECA\)/,
        ],
        ['no --validto', ['PCA'], /Missing required flag validto/],
        [
          'a --validto that is not a run',
          ['PCA', '--validto', 'soon'],
          /--validto: "soon" is not a run number/,
        ],
      ];
      for (const [what, argv, message] of cases) {
        it(what, async () => {
          await watchOnce();
          const before = (await lockDoc())!;
          const result = await release(...argv);
          expect(result.code, result.stdout).to.equal(2);
          expect(oneLine(result.stderr)).to.match(message);
          expect((await lockDoc())!._rev).to.equal(before._rev);
        });
      }
    });

    it('a lock whose validto the calibration group set in the document counts as released', async () => {
      await watchOnce();
      const lock = (await lockDoc())!;
      await s.withDatabases((db) => db.processing.bulkWrite([{ ...lock, validto: 300003 }]));

      const shown = await locks();
      expect(shown.stdout.split('\n')[0]).to.match(
        /^PCA released: set at run 300003 \(set \S+\), validto 300003 \(set in the lock document\)$/,
      );
      const [view] = json<LocksResult>(await locks('--json')).locks;
      expect(view).to.deep.include({ state: 'released', validto: 300003, released_by: null });

      await watchOnce();
      expect(await passCount(300004)).to.equal(1);
      expect(await passCount(300005)).to.equal(1);
    });
  });
}
