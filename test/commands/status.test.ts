import { execFile } from 'node:child_process';
import { hostname } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import { expect } from 'chai';

import type { StoredDocument } from '../../src/backends/types.js';
import { processingDesign } from '../../src/engine/design.js';
import { ids, type JobDocument } from '../../src/engine/types.js';
import type { StatusReport } from '../../src/operations/status.js';
import { json, oneLine, runCli } from '../support/cli.js';
import {
  commandKinds,
  backendLabel,
  describeKind,
  physicsRuns,
  scenario,
  type Scenario,
} from '../support/scenario.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const modules = ['Processing', 'Analysis', 'Calibration'];

/** Runs the CLI on a pseudo-terminal (util-linux `script`), as a shifter would; returns its exit code and text. */
function onTerminal(args: readonly string[], columns = 160): Promise<{ code: number; output: string }> {
  const quote = (word: string) => `'${word.replace(/'/g, `'\\''`)}'`;
  const command = `stty cols ${columns} rows 40; ${[process.execPath, path.join(root, 'bin', 'run.js'), ...args].map(quote).join(' ')}`;
  return new Promise((resolve, reject) => {
    execFile(
      'script',
      ['-qec', command, '/dev/null'],
      { cwd: root, env: { ...process.env, TERM: 'xterm-256color' } },
      (error, stdout) => {
        const code = error ? (typeof error.code === 'number' ? error.code : NaN) : 0;
        if (Number.isNaN(code)) reject(error instanceof Error ? error : new Error(String(error)));
        // eslint-disable-next-line no-control-regex -- the colors a terminal gets
        else resolve({ code, output: stdout.replace(/\u001b\[[0-9;?]*[A-Za-z]/g, '').replace(/\r/g, '') });
      },
    );
  });
}
const leaseSeconds = 60;

/** Counts per module and status, from the job documents themselves: all passes, and each job's newest of the RAT version. */
function countPasses(jobs: Iterable<JobDocument>, ratv: string) {
  const all: Record<string, Record<string, number>> = {};
  const newest: Record<string, Record<string, number>> = {};
  const add = (into: typeof all, module: string, status: string) => {
    into[module] ??= {};
    into[module][status] = (into[module][status] ?? 0) + 1;
  };
  for (const job of jobs) {
    const passes = job.passes.filter((p) => p.ratv === ratv);
    for (const p of passes) add(all, job.module, String(p.status));
    if (passes.length)
      add(newest, job.module, String(passes.reduce((a, b) => (b.pass > a.pass ? b : a)).status));
  }
  return { all, newest };
}

for (const kind of commandKinds) {
  describeKind(kind, `status (${backendLabel(kind)})`, function () {
    this.timeout(180_000);
    let s: Scenario;
    const runs = [300000, 300001, 300002, 300003, 300004];
    const status = (...rest: string[]) => runCli(['status', s.config, ...rest]);

    /** Writes a lease as a watcher elsewhere would: holder, host, heartbeat and expiry. */
    async function setLease(heartbeatAgoSeconds: number, expiresInSeconds: number): Promise<void> {
      await s.withDatabases(async (db) => {
        const id = ids.lease(s.ratv, 'L2');
        const current = (await db.processing.getMany([id])).get(id);
        const now = Date.now();
        // A live watcher writes its lease afresh: no mark of an earlier holder's clean stop.
        const { released: _released, stopped: _stopped, ...earlier } = (current ?? {}) as StoredDocument;
        const lease: StoredDocument = {
          ...earlier,
          _id: id,
          type: 'lease',
          holder: 'shifter@grid-host pid 4242 abc123',
          host: 'grid-host',
          pid: 4242,
          acquired: new Date(now - 3_600_000).toISOString(),
          heartbeat: new Date(now - heartbeatAgoSeconds * 1000).toISOString(),
          expires: new Date(now + expiresInSeconds * 1000).toISOString(),
        };
        const [result] = await db.processing.bulkWrite([lease]);
        expect(result?.ok).to.equal(true);
      });
    }

    before(async () => {
      s = await scenario(kind, { watch: { interval_seconds: 1, lease_seconds: leaseSeconds } });
      // 300002 is a PCA run: the watcher takes it and sets the lock, so 300003 and 300004 are the backlog.
      await s.addRuns([
        ...physicsRuns(300000, 300001),
        { run: 300002, types: ['PCA'] },
        ...physicsRuns(300003, 300005),
      ]);
      const watch = await runCli(['watch', s.config, s.ratv, 'L2', '--start-run', '299999', '--once']);
      expect(watch.code, watch.stderr).to.equal(0);
      const again = await runCli([
        'reprocess',
        'one-shot',
        s.config,
        s.ratv,
        'L2',
        '300000',
        '-N',
        'Processing',
      ]);
      expect(again.code, again.stderr).to.equal(0);
      // A grid client's statuses: pass 0 of run 300000 failed, run 300001's Analysis completed.
      await s.withDatabases(async (db) => {
        const docs = await db.processing.getMany([
          ids.job(300000, 'Processing'),
          ids.job(300001, 'Analysis'),
        ]);
        const p = docs.get(ids.job(300000, 'Processing')) as JobDocument;
        p.passes[0]!.status = 'failed';
        const a = docs.get(ids.job(300001, 'Analysis')) as JobDocument;
        a.passes[0]!.status = 'completed';
        const results = await db.processing.bulkWrite([p, a]);
        expect(results.every((r) => r.ok)).to.equal(true);
      });
    });
    after(() => s.cleanup());

    it('counts passes per module and status as the job documents hold them: newest and all', async () => {
      const report = json<StatusReport>(await status(s.ratv, '--json'));
      const jobs = await s.jobs(runs, modules);
      const expected = countPasses(jobs.values(), s.ratv);
      expect(report.ratvs).to.have.length(1);
      expect(report.ratvs[0]!.passes).to.deep.equal(expected);
      expect(expected.all.Processing).to.deep.equal({ failed: 1, waiting: 2 });
      expect(expected.newest.Processing).to.deep.equal({ waiting: 2 });
      expect(report.ratvs[0]!.passes.newest.Analysis).to.deep.equal({ completed: 1, waiting: 1 });
    });

    it('has the JSON shape the status page reads', async () => {
      const report = json<StatusReport>(await status('--json'));
      expect(report).to.have.keys(['generated', 'ratvs', 'locks', 'submissions', 'stale', 'conflicts']);
      expect(report.conflicts, 'no oproc document has conflicting revisions').to.equal(0);
      expect(report.ratvs.map((r) => r.ratv)).to.deep.equal([s.ratv]);
      const ratv = report.ratvs[0]!;
      expect(ratv).to.have.keys(['ratv', 'passes', 'handled_per_day', 'runs_handled', 'watchers']);
      expect(ratv.handled_per_day).to.have.length(28);
      const today = new Date().toISOString().slice(0, 10);
      // The watcher's 3 runs; 300000 again by the one-shot is the same run of the same day: counted once.
      expect(ratv.handled_per_day.at(-1)).to.deep.equal({ day: today, runs: 3, passes: 6 });
      expect(ratv.runs_handled, 'distinct runs').to.equal(3);
      expect(ratv.handled_per_day.slice(0, -1).every((d) => d.runs === 0 && d.passes === 0)).to.equal(true);
      const [watcher] = ratv.watchers;
      expect(watcher).to.include.keys([
        'filetype',
        'state',
        'last_run',
        'holder',
        'host',
        'heartbeat',
        'heartbeat_age_seconds',
        'expires',
        'stopped',
        'stopped_how',
        'stale',
        'newest_complete_run',
        'backlog',
        'backlog_runs',
      ]);
      expect(watcher).to.include({
        filetype: 'L2',
        state: 'watch_9.9.0_L2',
        last_run: 300002,
        host: hostname(),
      });
      expect(watcher).to.include({ newest_complete_run: 300004, backlog: 2 });
      expect(watcher!.backlog_runs.map((b) => b.run)).to.deep.equal([300003, 300004]);
      expect(watcher!.backlog_runs[0]!.verdict).to.match(/^held: PCA calibration lock set at run 300002/);
    });

    it('lists the locks and the newest submissions', async () => {
      const report = json<StatusReport>(await status(s.ratv, '--json'));
      expect(report.locks).to.have.length(1);
      expect(report.locks[0]).to.include({
        calibration: 'PCA',
        run: 300002,
        locked: true,
        validto: null,
        holds: true,
      });
      expect(report.submissions.map((x) => x.mode)).to.deep.equal(['one-shot', 'watch']);
      const [oneShot, watch] = report.submissions;
      expect(watch).to.include({ ratv: s.ratv, filetype: 'L2', runs: 3, done: 3 });
      expect(oneShot).to.include({ runs: 1, done: 1 });
      const stored = await s.docs([`submission_${oneShot!.id}`, `submission_${watch!.id}`]);
      expect(stored.size).to.equal(2);
      const unknown = await status('9.9.9');
      expect(unknown.code, 'a RAT version with neither processing information nor a pass').to.equal(2);
      expect(oneLine(unknown.stderr)).to.match(
        /RAT 9\.9\.9 has no processing information here and no pass in the processing database \(RAT versions that do: [^)]*\b9\.9\.0\b/,
      );
      expect(unknown.stdout).to.equal('');
    });

    it('a watcher that stopped cleanly is stopped, not stale: exit 0; a live one: exit 0; an expired lease or an old heartbeat: exit 1', async () => {
      const released = await status(s.ratv, '--json');
      expect(released.code, released.stderr).to.equal(0);
      expect(json<StatusReport>(released).stale).to.equal(false);
      expect(json<StatusReport>(released).ratvs[0]!.watchers[0]!).to.include({
        stale: false,
        stale_reason: null,
        stopped_how: 'once',
      });
      const lines = await status(s.ratv);
      expect(lines.code).to.equal(0);
      expect(lines.stdout).to.match(
        /^watcher watch_9\.9\.0_L2 last_run 300002 .* stopped at \d{4}-\d\d-\d\dT[\d:]+Z \(--once done\)$/m,
      );

      await setLease(5, -1);
      const expired = await status(s.ratv, '--json');
      expect(expired.code).to.equal(1);
      expect(json<StatusReport>(expired).ratvs[0]!.watchers[0]!.stale_reason).to.match(/^lease expired at /);

      await setLease(5, leaseSeconds);
      const live = await status(s.ratv, '--json');
      expect(live.code, live.stderr).to.equal(0);
      const watcher = json<StatusReport>(live).ratvs[0]!.watchers[0]!;
      expect(watcher).to.include({
        stale: false,
        holder: 'shifter@grid-host pid 4242 abc123',
        host: 'grid-host',
      });
      expect(watcher.heartbeat_age_seconds).to.be.within(5, 5 + 30);

      await setLease(leaseSeconds * 3, leaseSeconds);
      const old = await status(s.ratv);
      expect(old.code).to.equal(1);
      expect(old.stdout).to.match(
        /^watcher watch_9\.9\.0_L2 last_run 300002 newest_complete 300004 backlog 2 holder shifter@grid-host .* STALE: last heartbeat 18\d s ago, longer than the lease \(60 s\)$/m,
      );

      // A watcher that stopped itself because it made no progress released its lease as `stalled`.
      await s.withDatabases(async (db) => {
        const id = ids.lease(s.ratv, 'L2');
        const current = (await db.processing.getMany([id])).get(id)!;
        const now = new Date().toISOString();
        const [result] = await db.processing.bulkWrite([
          { ...current, expires: now, released: now, stopped: 'stalled' },
        ]);
        expect(result?.ok).to.equal(true);
      });
      const stalled = await status(s.ratv);
      expect(stalled.code).to.equal(1);
      expect(stalled.stdout).to.match(
        /^watcher watch_9\.9\.0_L2 last_run 300002 .* STALE: stopped at \d{4}-\d\d-\d\dT[\d:.]+Z after it made no progress \(stalled\)$/m,
      );
    });

    it('on a terminal prints tables', async () => {
      await setLease(1, leaseSeconds);
      const { code, output } = await onTerminal(['status', s.config, s.ratv]);
      expect(code, output).to.equal(0);
      expect(output).to.match(/^RAT 9\.9\.0$/m);
      expect(output).to.match(/^ {2}MODULE +PASSES +completed +failed +waiting$/m);
      expect(output).to.match(/^ {2}Processing +all +0 +1 +2$/m);
      expect(output).to.match(
        /^ {2}WATCHER +LAST RUN +NEWEST COMPLETE +BACKLOG +HOLDER +HEARTBEAT +HEALTH$/m,
      );
      expect(output).to.match(
        /^ {2}watch_9\.9\.0_L2 +300002 +300004 +2 +shifter@grid-host pid 4242 abc123 +\d+ s +ok$/m,
      );
      expect(output).to.match(/^Calibration lock PCA: run 300002, holding later runs/m);
      expect(output).to.match(/^Conflicted documents: 0$/m);
      expect(output).to.match(/^SUBMISSION +MODE +RATV/m);
      expect(output).to.match(
        /^ {2}runs handled in the last 28 days: 3 \(latest day \d{4}-\d\d-\d\d: 3 runs, 6 passes\)$/m,
      );
    });

    it('on an 80-column terminal every line fits: the watcher, too wide for a table row, is a record', async () => {
      await setLease(1, leaseSeconds);
      const { code, output } = await onTerminal(['status', s.config, s.ratv], 80);
      expect(code, output).to.equal(0);
      const lines = output.trimEnd().split('\n');
      for (const line of lines) expect(line.length, `${line}\n\n${output}`).to.be.at.most(80);
      // The narrow table stays a table; the watcher's fields come as "column value", none split.
      expect(output).to.match(/^ {2}MODULE +PASSES +completed +failed +waiting$/m);
      expect(output).not.to.match(/^ {2}WATCHER +LAST RUN/m);
      const watcher = lines.slice(lines.findIndex((l) => l.startsWith('  watch_9.9.0_L2:'))).join('\n');
      expect(watcher).to.match(
        /^ {2}watch_9\.9\.0_L2: last run 300002, newest complete 300004, backlog 2,\n {4}holder shifter@grid-host pid 4242 abc123, heartbeat \d+ s, health ok\n/,
      );
      expect(output).to.match(/^ {4}watch_9\.9\.0_L2 run 300003: held: PCA/m);
      expect(output).to.match(
        /^sub_\S+: mode one-shot, ratv 9\.9\.0, filetype L2, runs 1,\n {2}done 1, started /m,
      );
    });

    it('without RATV shows every RAT version with passes, in version order', async () => {
      await s.withDatabases(async (db) => {
        const id = ids.job(300000, 'Processing');
        const job = (await db.processing.getMany([id])).get(id) as JobDocument;
        const extra = (pass: number, ratv: string) => ({
          ...job.passes[0]!,
          pass,
          ratv,
          status: 'completed',
        });
        job.passes.push(extra(2, '10.0.1'), extra(3, '7.0.8'));
        const [result] = await db.processing.bulkWrite([job]);
        expect(result?.ok).to.equal(true);
      });
      const report = json<StatusReport>(await status('--json'));
      expect(report.ratvs.map((r) => r.ratv)).to.deep.equal(['7.0.8', s.ratv, '10.0.1']);
      expect(report.ratvs[0]!.passes).to.deep.equal({
        newest: { Processing: { completed: 1 } },
        all: { Processing: { completed: 1 } },
      });
      expect(report.ratvs[0]!.watchers).to.deep.equal([]);
    });

    it('off a terminal prints plain lines a script can grep', async () => {
      await setLease(1, leaseSeconds);
      const result = await status(s.ratv);
      expect(result.code, result.stderr).to.equal(0);
      const lines = result.stdout.trimEnd().split('\n');
      expect(lines).to.include(`passes ${s.ratv} newest Processing waiting 2`);
      expect(lines).to.include(`passes ${s.ratv} all Processing failed 1`);
      expect(lines.some((l) => /^backlog watch_9\.9\.0_L2 300003 held: PCA/.test(l))).to.equal(true);
      expect(lines.some((l) => /^lock PCA run 300002 holding validto -/.test(l))).to.equal(true);
      expect(lines.filter((l) => l.startsWith('submission '))).to.have.length(2);
    });

    it('a processing database set up by an older oproc (without the views) is a config error naming oproc init', async () => {
      await s.withDatabases(async (db) => {
        const id = `_design/${processingDesign.name}`;
        const current = (await db.processing.getMany([id])).get(id)!;
        const older = { jobs_by_run: processingDesign.views.jobs_by_run };
        expect((await db.processing.bulkWrite([{ ...current, views: older }]))[0]?.ok).to.equal(true);
      });
      const result = await status(s.ratv);
      expect(result.code).to.equal(2);
      expect(oneLine(result.stderr)).to.match(
        /has no view oproc\/(passes_by_status|passes_by_day|submissions_by_started): run `oproc init CONFIG`/,
      );
      const init = await runCli(['init', s.config]);
      expect(init.code, init.stderr).to.equal(0);
      expect((await status(s.ratv, '--json')).code).to.be.oneOf([0, 1]);
    });
  });
}
