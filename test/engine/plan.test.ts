/**
 * The planner's RATDB read: with a backend that answers run types and tables in one query, and with
 * one that has only the two reads (a RATDB plugin written before `runTypesAndTables`), a batch is
 * planned the same way, and the tables each module lacks are named.
 */
import { expect } from 'chai';

import type { Ratdb } from '../../src/backends/types.js';
import { planBatch, type PlanOptions, type RunPlan } from '../../src/engine/plan.js';
import type { ProcessingInformation } from '../../src/engine/types.js';
import { runTypeSelector } from '../../src/modules/catalog.js';
import { scenario, testProcessingInformation, testRatv, type Scenario } from '../support/scenario.js';

const info = testProcessingInformation as ProcessingInformation;

const options = (overrides: Partial<PlanOptions> = {}): PlanOptions => ({
  ratv: testRatv,
  filetype: 'L2',
  ratdbTag: null,
  skipRatdbCheck: false,
  findPrereq: false,
  forcePrereqPass: {},
  submission: 'plan-test',
  mode: 'range',
  createdBy: 'tester',
  ...overrides,
});

/** The same database without `runTypesAndTables`, as an older RATDB plugin offers it. */
function twoReads(ratdb: Ratdb): Ratdb {
  return {
    ...ratdb,
    runTypesAndTables: undefined,
    runTypes: (runs, asOf) => ratdb.runTypes(runs, asOf),
    tablesPresent: (runs, tables, asOf) => ratdb.tablesPresent(runs, tables, asOf),
  };
}

const summary = (plans: RunPlan[]) =>
  plans.map((p) => ({
    run: p.run,
    selected: p.selected,
    tables: p.tables,
    modules: p.modules.map((m) => m.module),
    skips: p.skips.map((s) => `${s.kind}${s.module ? ` ${s.module}` : ''}`),
  }));

describe('planning a batch: the RATDB read (embedded)', function () {
  this.timeout(120_000);
  let s: Scenario;

  before(async function () {
    s = await scenario('embedded');
    await s.addRuns([
      { run: 300001 },
      { run: 300002, missing: ['PMT_DQXX'] },
      { run: 300003, types: ['PCA'], missing: ['PMTCALIB[calib]'] },
      { run: 300004, types: ['ECA'] },
      { run: 300005, missing: ['RUN'] },
    ]);
  });
  after(() => s?.cleanup());

  const runs = [300001, 300002, 300003, 300004, 300005].map((run) => ({
    run,
    subruns: [0, 1, 2],
    ended: false,
  }));

  const plan = (shape: 'one query' | 'two reads', overrides: Partial<PlanOptions> = {}) =>
    s.withDatabases(async (db) => {
      const ratdb = shape === 'one query' ? db.ratdb : twoReads(db.ratdb);
      const { plans } = await planBatch(runs, options(overrides), {
        info,
        selector: runTypeSelector,
        ratdb,
        processing: db.processing,
        now: () => new Date('2026-12-01T00:00:00Z'),
      });
      return summary(plans);
    });

  for (const shape of ['one query', 'two reads'] as const) {
    it(`names the tables each selected module lacks (${shape})`, async function () {
      const plans = await plan(shape);
      const byRun = new Map(plans.map((p) => [p.run, p]));
      expect(byRun.get(300001)!.tables).to.deep.equal([
        { module: 'Processing', required: ['RUN', 'DAQ_RUN_LEVEL', 'PMT_DQXX'], missing: [] },
        { module: 'Analysis', required: [], missing: [] },
      ]);
      expect(byRun.get(300001)!.modules).to.deep.equal(['Processing', 'Analysis']);
      expect(byRun.get(300002)!.tables[0]).to.deep.equal({
        module: 'Processing',
        required: ['RUN', 'DAQ_RUN_LEVEL', 'PMT_DQXX'],
        missing: ['PMT_DQXX'],
      });
      expect(byRun.get(300002)!.modules).to.not.include('Processing');
      expect(byRun.get(300003)!.tables).to.deep.equal([
        { module: 'Calibration', required: ['RUN', 'PMTCALIB[calib]'], missing: ['PMTCALIB[calib]'] },
      ]);
      expect(byRun.get(300004)!.modules).to.deep.equal(['Calibration']);
      expect(byRun.get(300005)!.skips).to.deep.equal(['no-run-type']);
    });

    it(`checks the tables of -N's modules, whatever the run type (${shape})`, async function () {
      const plans = await plan(shape, { modules: ['Calibration'] });
      const byRun = new Map(plans.map((p) => [p.run, p]));
      expect(byRun.get(300001)!.tables).to.deep.equal([
        { module: 'Calibration', required: ['RUN', 'PMTCALIB[calib]'], missing: [] },
      ]);
      expect(byRun.get(300003)!.tables[0]!.missing).to.deep.equal(['PMTCALIB[calib]']);
      expect(byRun.get(300005)!.tables[0]!.missing).to.deep.equal(['RUN']);
    });
  }

  it('plans the same batch with one query as with the two reads', async function () {
    expect(await plan('one query')).to.deep.equal(await plan('two reads'));
    expect(await plan('one query', { modules: ['Processing', 'Calibration'] })).to.deep.equal(
      await plan('two reads', { modules: ['Processing', 'Calibration'] }),
    );
  });
});
