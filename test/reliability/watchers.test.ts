import { expect } from 'chai';

import { ids, type JobDocument } from '../../src/engine/types.js';
import {
  physicsRuns,
  scenario,
  type Scenario,
  backendLabel,
  describeKind,
  serverKinds,
} from '../support/scenario.js';
import {
  checkJobs,
  docsWithPrefix,
  killLeftovers,
  signal,
  sleep,
  startCli,
  waitFor,
  type CliProcess,
} from './support.js';

const first = 600000;
const runCount = 300;
const last = first + runCount - 1;
const modules = ['Processing', 'Analysis'];

for (const kind of serverKinds) {
  describeKind(
    kind,
    `reliability: three watchers on one RAT version and filetype over 300 complete runs (${backendLabel(kind)})`,
    function () {
      this.timeout(300_000);
      let s: Scenario;

      before(async () => {
        // A short lease, so a paused holder loses it within the test.
        s = await scenario(kind, { watch: { interval_seconds: 1, lease_seconds: 3 } });
        await s.addRuns([...physicsRuns(first, last, { subruns: 1, filetypes: ['L2'] }), { run: last + 1 }]);
      });
      afterEach(killLeftovers);
      after(() => s.cleanup());

      it('give every run exactly one pass per module, written by one lease holder at a time, through kills and a pause', async () => {
        const env = { OPROC_BATCH_SIZE: '5' };
        const watchArgs = ['watch', s.config, s.ratv, 'L2', '-r', String(first - 1), '--interval', '1'];
        const slots: CliProcess[] = [];
        const finished: { code: number | null; signal: NodeJS.Signals | null; out: string }[] = [];
        let supervising = true;
        // Three slots, each restarted when its watcher exits (killed, or stopped after losing the lease), as a
        // process supervisor would; the ones not holding the lease wait as standbys.
        const supervise = async (slot: number) => {
          while (supervising) {
            const cli = startCli(watchArgs, env);
            slots[slot] = cli;
            const exit = await cli.exit;
            finished.push({ ...exit, out: cli.stdout() + cli.stderr() });
            if (supervising) await sleep(1000);
          }
        };
        const supervisors = [0, 1, 2].map(supervise);
        const lease = async () => (await s.docs([ids.lease(s.ratv, 'L2')])).get(ids.lease(s.ratv, 'L2'));
        const holder = async () => {
          const pid = (await lease())?.pid;
          return slots.find((c) => c.child.pid === pid && c.child.exitCode === null);
        };
        const progress = async () => (await s.withDatabases((db) => docsWithPrefix(db, 'job_'))).length;
        // What the watchers were doing, for a failure: the lease, the watch state, each process's last lines.
        const diagnosis = async () => {
          const [held, state] = await Promise.all([
            lease().catch(() => undefined),
            s
              .docs([ids.watchState(s.ratv, 'L2')])
              .then((m) => m.get(ids.watchState(s.ratv, 'L2')))
              .catch(() => undefined),
          ]);
          const tail = (text: string) => text.trim().split('\n').slice(-12).join('\n          ');
          const processes = [
            ...finished.map((f) => `exited ${f.code ?? f.signal}:\n          ${tail(f.out)}`),
            ...slots
              .filter((c) => c.child.exitCode === null && c.child.signalCode === null)
              .map((c) => `running pid ${c.child.pid}:\n          ${tail(c.stdout() + c.stderr())}`),
          ];
          return [
            `lease: ${JSON.stringify(held)}`,
            `watch state: ${JSON.stringify(state)}`,
            `job documents: ${await progress().catch(() => '?')}`,
            ...processes,
          ].join('\n        ');
        };
        // The whole scenario within 200 s of mocha's 300, so a stall is reported with its diagnosis.
        const deadline = Date.now() + 200_000;
        const within = (what: string, ok: () => Promise<boolean>) =>
          waitFor(what, ok, Math.max(1000, deadline - Date.now())).catch(async (error: Error) => {
            throw new Error(`${error.message}\n        ${await diagnosis()}`);
          });

        let stuck: string | undefined;
        let kills = 0;
        let paused = 0;
        try {
          for (const [target, action] of [
            [80, 'kill'],
            [200, 'pause'],
            [450, 'kill'],
          ] as const) {
            await within(`${target} job documents`, async () => (await progress()) >= target);
            const current = await holder();
            if (!current) continue;
            // SIGKILLed: another slot takes the lease at once and resumes the submission left in flight.
            if (action === 'kill') {
              if (signal(current, 'SIGKILL')) kills++;
              continue;
            }
            // Paused past its lease: another takes over; woken, the paused one must stop writing.
            if (!signal(current, 'SIGSTOP')) continue;
            paused++;
            try {
              await within('another holder', async () => {
                const now = await holder();
                return now !== undefined && now !== current;
              });
              await sleep(1500);
            } finally {
              signal(current, 'SIGCONT');
            }
          }
          await within('every run handled', async () => {
            const state = (await s.docs([ids.watchState(s.ratv, 'L2')])).get(ids.watchState(s.ratv, 'L2'));
            return state?.last_run === last && state.in_flight === null;
          });
        } finally {
          supervising = false;
          for (const cli of slots) signal(cli, 'SIGTERM');
          // A watcher must stop on SIGTERM; one still running after 30 s is reported, then SIGKILLed.
          const stopped = await Promise.race([
            Promise.all(supervisors).then(() => true),
            sleep(30_000).then(() => false),
          ]);
          if (!stopped) {
            const report = await diagnosis();
            for (const cli of slots) signal(cli, 'SIGKILL');
            await Promise.all(supervisors);
            stuck = `a watcher did not stop within 30 s of SIGTERM\n        ${report}`;
          }
        }
        if (stuck) throw new Error(stuck);

        const jobs = await s.withDatabases((db) => docsWithPrefix(db, 'job_'));
        const journals = (await s.withDatabases((db) => docsWithPrefix(db, 'submission_'))).sort((a, b) =>
          String(a.started).localeCompare(String(b.started)),
        );
        const intended = new Map(
          journals
            .filter((j) => !j.abandoned)
            .map((j) => [j._id.replace(/^submission_/, ''), { runs: j.runs as number[], modules }]),
        );
        const check = checkJobs(jobs, intended);
        const perRun = new Map<number, number>();
        for (const doc of jobs as JobDocument[])
          perRun.set(doc.run, (perRun.get(doc.run) ?? 0) + doc.passes.length);
        const wrong = [...Array(runCount).keys()]
          .map((i) => first + i)
          .filter((run) => perRun.get(run) !== modules.length);
        // One holder at a time: submissions follow one another; none starts before the one before it finished.
        const carried = journals.filter((j) => !j.abandoned);
        const overlaps = carried.slice(1).filter((j, i) => String(j.started) < String(carried[i]!.finished));
        const standbys = finished.filter((f) => /waiting as a standby/.test(f.out)).length;
        const tookOver = finished.filter((f) => /took over the lease/.test(f.out)).length;
        const lostLease = finished.filter((f) => /lost the lease/.test(f.out)).length;
        const stoppedCleanly = finished.filter((f) => f.signal === null && f.code === 0).length;
        console.log(
          `      figures: ${runCount} runs, 3 watcher slots, ${finished.length} watcher processes (${standbys} waited as standbys, ${tookOver} took over, ` +
            `${kills} SIGKILLed holders, ${paused} paused holder, ${lostLease} said they lost the lease, ${stoppedCleanly} stopped cleanly by SIGTERM); ` +
            `${carried.length} submissions (${journals.length - carried.length} abandoned), ${check.passes} passes; duplicates ${check.duplicates.length}, runs without exactly one pass per module ${wrong.length}, overlapping submissions ${overlaps.length}`,
        );
        if (wrong.length || overlaps.length) {
          const detail = (jobs as JobDocument[])
            .filter((d) => wrong.includes(d.run))
            .map(
              (d) => `${d._id}: ${d.passes.map((p) => `${p.pass} ${p.submission} ${p.created}`).join('; ')}`,
            );
          const around = overlaps.flatMap((j) => {
            const i = carried.indexOf(j);
            return [carried[i - 1]!, j].map(
              (x) => `${x._id} ${String(x.started)}..${String(x.finished)} ${JSON.stringify(x.runs)}`,
            );
          });
          console.log(`      detail:\n        ${[...detail, ...around].join('\n        ')}`);
        }
        expect(wrong, 'runs without exactly one pass of each module').to.deep.equal([]);
        expect(check.duplicates).to.deep.equal([]);
        expect(check.losses).to.deep.equal([]);
        expect(check.broken).to.deep.equal([]);
        expect(journals.filter((j) => !j.finished).map((j) => j._id)).to.deep.equal([]);
        expect(
          overlaps.map((j) => j._id),
          'submissions written while another was in flight',
        ).to.deep.equal([]);
        expect(
          standbys,
          'the other slots waited as standbys while a watcher held the lease',
        ).to.be.greaterThan(0);
        expect(tookOver, 'standbys took over from killed holders').to.be.greaterThan(0);
        if (paused) expect(lostLease, 'the paused holder says it lost the lease').to.be.greaterThan(0);
      });
    },
  );
}
