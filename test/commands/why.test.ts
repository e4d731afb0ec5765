import { expect } from 'chai';

import type { WatchSummary } from '../../src/cli/watch-command.js';
import type { WhyReport } from '../../src/operations/why.js';
import { json, oneLine, runCli } from '../support/cli.js';
import {
  commandKinds,
  backendLabel,
  describeKind,
  ratdbTablesFor,
  scenario,
  type RunSpec,
  type Scenario,
} from '../support/scenario.js';

const modules = ['Processing', 'Analysis', 'Calibration'];

for (const kind of commandKinds) {
  describeKind(kind, `why (${backendLabel(kind)})`, function () {
    this.timeout(180_000);
    let s: Scenario;

    const why = async (run: number, ...rest: string[]) =>
      json<WhyReport>(await runCli(['why', s.config, s.ratv, 'L2', String(run), '--json', ...rest]));
    const watchOnce = async () =>
      json<WatchSummary>(
        await runCli(['watch', s.config, s.ratv, 'L2', '--start-run', '299999', '--once', '--json']),
      );
    const passCounts = async (run: number) => {
      const jobs = await s.jobs([run], modules);
      return Object.fromEntries(modules.map((m) => [m, jobs.get(`job_${run}_${m}`)?.passes.length ?? 0]));
    };

    /**
     * Asks why of each run, runs `watch --once`, and holds each verdict against what the watcher did:
     * the modules a verdict says would be created got exactly one new pass each, and a run whose verdict
     * is anything else got none.
     */
    async function whyThenWatch(runs: number[]): Promise<Map<number, WhyReport>> {
      const reports = new Map<number, WhyReport>();
      const before = new Map<number, Record<string, number>>();
      for (const run of runs) {
        reports.set(run, await why(run));
        before.set(run, await passCounts(run));
      }
      await watchOnce();
      for (const run of runs) {
        const report = reports.get(run)!;
        const after = await passCounts(run);
        const expected = report.verdict_kind === 'would-create' ? report.plan.create : [];
        const grew = modules.filter((m) => after[m]! > before.get(run)![m]!);
        expect(grew, `run ${run}: "${report.verdict}"`).to.deep.equal(
          modules.filter((m) => expected.includes(m)),
        );
        for (const m of grew) expect(after[m]! - before.get(run)![m]!).to.equal(1);
      }
      return reports;
    }

    const specs: RunSpec[] = [
      { run: 300000 },
      { run: 300001, filetypes: ['L1'] },
      { run: 300002, types: ['Maintenance'] },
      { run: 300003, missing: ['PMT_DQXX'] },
      { run: 300004, missing: ['RUN'] },
      { run: 300005, types: ['PCA'] },
      { run: 300006 },
      { run: 300007, subruns: 2 },
    ];

    before(async () => {
      s = await scenario(kind);
      await s.addRuns(specs);
    });
    after(() => s.cleanup());

    it('says what watch --once then does: complete, no files of the filetype, maintenance, missing table', async () => {
      const reports = await whyThenWatch([300000, 300001, 300002, 300003]);
      const complete = reports.get(300000)!;
      expect(complete.verdict).to.equal('would create: Processing, Analysis');
      expect(complete.dataflow).to.deep.include({
        known: true,
        complete: true,
        ended: false,
        latest_run: 300007,
      });
      expect(complete.dataflow.complete_reason).to.equal('a later run is sensed (run 300007)');
      expect(complete.dataflow.files).to.deep.equal({ L1: [0, 1, 2], L2: [0, 1, 2] });
      expect(complete.run_type.names).to.deep.equal(['Physics']);
      expect(complete.modules.selected).to.deep.equal(['Processing', 'Analysis']);
      expect(complete.tables).to.deep.include({
        module: 'Processing',
        required: ['RUN', 'DAQ_RUN_LEVEL', 'PMT_DQXX'],
        present: ['RUN', 'DAQ_RUN_LEVEL', 'PMT_DQXX'],
        missing: [],
      });
      expect(complete.prerequisites.find((p) => p.module === 'Analysis')?.links).to.deep.equal([
        { module: 'Processing', pass: null, how: 'its pass created in the same submission' },
      ]);
      expect(reports.get(300001)!.verdict).to.equal('would skip: no L2 files registered for the run');
      expect(reports.get(300001)!.dataflow.files).to.deep.equal({ L1: [0, 1, 2], L2: [] });
      expect(reports.get(300002)!.verdict).to.equal('would skip: no module runs for run type Maintenance');
      expect(reports.get(300002)!.run_type.names).to.deep.equal(['Maintenance']);
      const missing = reports.get(300003)!;
      expect(missing.verdict).to.equal('held: Processing needs RATDB table(s) PMT_DQXX');
      expect(missing.tables.find((t) => t.module === 'Processing')?.missing).to.deep.equal(['PMT_DQXX']);
    });

    it('says already handled for a processed run, and shows its passes and the watcher', async () => {
      const handled = await why(300000);
      expect(handled.verdict).to.equal(
        'already handled: watch_9.9.0_L2 is past run 300000 (last_run 300002)',
      );
      expect(handled.passes.map((p) => [p.module, p.pass, p.status])).to.deep.equal([
        ['Analysis', 0, 'waiting'],
        ['Processing', 0, 'waiting'],
      ]);
      expect(handled.watchers).to.have.length(1);
      expect(handled.watchers[0]).to.include({ state: 'watch_9.9.0_L2', last_run: 300002 });
      expect(handled.watchers[0]!.holder).to.be.a('string');
    });

    it('a run the watcher passed over says why it got no pass: no files of the filetype, a Maintenance run', async () => {
      expect((await why(300001)).verdict).to.equal(
        'already handled: watch_9.9.0_L2 is past run 300001 (last_run 300002), without a pass: no L2 files registered for the run',
      );
      expect((await why(300002)).verdict).to.equal(
        'already handled: watch_9.9.0_L2 is past run 300002 (last_run 300002), without a pass: no module runs for run type Maintenance',
      );
      // A held run's Analysis waits for Processing; there is no submission to speak of.
      const held = await runCli(['why', s.config, s.ratv, 'L2', '300003']);
      expect(held.stdout).to.match(
        /^ {2}Analysis: Processing \(not linked\); prerequisite Processing gets no pass for the run$/m,
      );
      expect(held.stdout).not.to.match(/submission/);
    });

    it('a run behind a held one waits for it, and the watcher takes neither', async () => {
      const reports = await whyThenWatch([300003, 300004]);
      expect(reports.get(300004)!.verdict).to.equal(
        'waits: behind run 300003, held: RATDB table(s) missing: PMT_DQXX',
      );
    });

    it('once the table arrives the run is taken, and the next one without a RUN table holds', async () => {
      await s.withDatabases((db) =>
        db.ratdb.load(ratdbTablesFor({ run: 300003 }).filter((t) => t.type === 'PMT_DQXX')),
      );
      const reports = await whyThenWatch([300003, 300004]);
      expect(reports.get(300003)!.verdict).to.equal('would create: Processing, Analysis');
      const noRunTable = reports.get(300004)!;
      expect(noRunTable.verdict).to.equal(
        'held: no RUN table in RATDB for the run, so its run type is unknown',
      );
      expect(noRunTable.run_type).to.deep.equal({ word: null, names: [] });
    });

    it('a PCA run is taken and sets its lock; the run after it waits, then is held by the lock', async () => {
      await s.withDatabases((db) =>
        db.ratdb.load(ratdbTablesFor({ run: 300004 }).filter((t) => t.type === 'RUN')),
      );
      const reports = await whyThenWatch([300004, 300005, 300006]);
      expect(reports.get(300005)!.verdict).to.equal(
        'would create: Calibration; then sets the PCA calibration lock at run 300005',
      );
      expect(reports.get(300006)!.verdict).to.equal(
        'waits: behind run 300005, a PCA calibration run whose lock will hold later runs',
      );
      const locked = await whyThenWatch([300006]);
      const report = locked.get(300006)!;
      expect(report.verdict).to.match(/^held: PCA calibration lock set at run 300005: later runs wait/);
      expect(report.locks).to.deep.equal([
        {
          calibration: 'PCA',
          run: 300005,
          locked: true,
          validto: null,
          set_at: report.locks[0]!.set_at,
          holds: true,
        },
      ]);
    });

    it('released, the lock holds no more; the newest run waits until it is complete', async () => {
      const release = await runCli(['locks', 'release', s.config, 'PCA', '--validto', '300005']);
      expect(release.code, release.stderr).to.equal(0);
      const reports = await whyThenWatch([300006, 300007]);
      expect(reports.get(300006)!.verdict).to.equal('would create: Processing, Analysis');
      const incomplete = reports.get(300007)!;
      expect(incomplete.verdict).to.equal('waits: run 300007 is not complete (no later run, no run_end)');
      expect(incomplete.dataflow).to.deep.include({
        complete: false,
        complete_reason: 'no later run, no run_end',
      });
    });

    it('prints the decision section by section and ends with the verdict line; exits 0', async () => {
      const result = await runCli(['why', s.config, s.ratv, 'L2', '300003']);
      expect(result.code, result.stderr).to.equal(0);
      const lines = result.stdout.trimEnd().split('\n');
      expect(lines[0]).to.equal('Run 300003, RAT 9.9.0 L2');
      expect(result.stdout).to.contain('  L2: 3 subruns 0-2');
      expect(result.stdout).to.contain('  complete: a later run is sensed (run 300007)');
      expect(result.stdout).to.contain('  Processing pass 0: waiting');
      expect(lines.at(-1)).to.equal('already handled: watch_9.9.0_L2 is past run 300003 (last_run 300006)');
    });

    it('bad input is a usage error, exit 2', async () => {
      const badFiletype = await runCli(['why', s.config, s.ratv, 'L3', '300000']);
      expect(badFiletype.code).to.equal(2);
      expect(badFiletype.stderr).to.contain('FILETYPE must be L1 or L2');
      const badRun = await runCli(['why', s.config, s.ratv, 'L2', 'x1']);
      expect(badRun.code).to.equal(2);
      expect(badRun.stderr).to.contain('is not a run number');
      const badRatv = await runCli(['why', s.config, '1.2.3', 'L2', '300000']);
      expect(badRatv.code).to.equal(2);
      expect(oneLine(badRatv.stderr)).to.match(
        /RAT 1\.2\.3 has no processing information here and no pass in the processing database \(RAT versions that do: .*\b9\.9\.0\b/,
      );
      const badTag = await runCli(['why', s.config, s.ratv, 'L2', '300000', '-t', 'nope']);
      expect(badTag.code).to.equal(2);
      expect(badTag.stderr).to.contain('unknown RATDB tag "nope"');
    });
  });
}
