/**
 * Writes the demo data set under demo/data/: data-flow documents for runs 300000–300035 and the
 * RATDB tables oproc reads for them, as RAT's .ratdb files. Deterministic: running it again gives
 * the same files. Run with `npx tsx demo/make-data.ts`; its output is committed.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';

import { runTypeWord } from '../src/engine/run-type.js';

const dataDir = path.join(import.meta.dirname, 'data');
const firstRun = 300000;
const lastRun = 300035;
/** Runs start one hour apart from here (before the first RATDB load and the tag). */
const firstStart = Date.parse('2026-11-20T00:00:00Z');

interface RunPlan {
  run: number;
  types: string[];
  subruns: number;
  l1: boolean;
  l2: boolean;
  runEnd: boolean;
  dqxx: boolean;
  why?: string;
}

/** The runs that show something; every other run is an ordinary Physics run. */
const special: Record<number, Partial<RunPlan> & { why: string }> = {
  300003: { types: ['ExternalSource', 'TELLIE'], why: 'TELLIE calibration (ExternalSource + TELLIE bits)' },
  300005: {
    types: ['Maintenance'],
    why: 'recorded as Maintenance by mistake; run_correction.ratdb makes it Physics (version 2)',
  },
  300006: { types: ['DeployedSource'], why: 'a source deployed in the detector' },
  300012: { types: ['DeployedSource', 'PCA'], why: 'PCA calibration: sets the PCA calibration lock' },
  300020: { types: ['ECA', 'ECAPDST'], why: 'ECA pedestal run: sets the ECA calibration lock' },
  300027: { l2: false, why: 'L1 files only: no jobs for L2' },
  300030: {
    dqxx: false,
    why: 'PMT_DQXX comes late (late_pmt_dqxx.ratdb): the watcher holds here until it is loaded',
  },
  300035: { runEnd: false, why: 'the run being taken: no run_end and no later run, so not complete' },
};

/** A small deterministic generator (mulberry32), so the committed data never churns. */
function random(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const next = random(300000);
const between = (low: number, high: number) => low + Math.floor(next() * (high - low + 1));

function planRun(run: number): RunPlan {
  const plan: RunPlan = {
    run,
    types: ['Physics'],
    subruns: between(3, 6),
    // Some runs' L1 files were not kept (as at the experiment, where L1 is not always stored).
    l1: run % 7 !== 4,
    l2: true,
    // Half the runs have an explicit end-of-run marker; the rest are complete because a later run exists.
    runEnd: run % 2 === 0,
    dqxx: true,
  };
  return { ...plan, ...special[run] };
}

const plans = Array.from({ length: lastRun - firstRun + 1 }, (_, i) => planRun(firstRun + i));

function iso(ms: number): string {
  return new Date(ms).toISOString().replace('.000Z', 'Z');
}

function runStart(run: number): number {
  return firstStart + (run - firstRun) * 3_600_000;
}

function fileDocuments(plan: RunPlan): Record<string, unknown>[] {
  const docs: Record<string, unknown>[] = [];
  for (let subrun = 0; subrun < plan.subruns; subrun++) {
    for (const filetype of ['L1', 'L2'] as const) {
      if ((filetype === 'L1' && !plan.l1) || (filetype === 'L2' && !plan.l2)) continue;
      const sub = String(subrun).padStart(3, '0');
      docs.push({
        _id: `file_${filetype}_${plan.run}_${sub}`,
        type: 'file',
        run: plan.run,
        subrun,
        filetype,
        name: `SNOP_0000${plan.run}_${sub}.${filetype.toLowerCase()}.zdab`,
        size: filetype === 'L1' ? between(900, 1024) * 1_048_576 : between(150, 700) * 1_048_576,
        checksum: `adler32:${between(0, 0xffffffff).toString(16).padStart(8, '0')}`,
        registered: iso(runStart(plan.run) + (subrun + 1) * 600_000 + between(30, 300) * 1000),
      });
    }
  }
  return docs;
}

function dataflowDocuments(): Record<string, unknown>[] {
  const docs: Record<string, unknown>[] = [];
  for (const plan of plans) {
    docs.push(...fileDocuments(plan));
    if (plan.runEnd)
      docs.push({ _id: `run_end_${plan.run}`, type: 'run_end', run: plan.run, subruns: plan.subruns });
  }
  return docs;
}

/** One RAT table in .ratdb syntax: unquoted keys, a comment line above. */
function ratdbTable(comment: string, fields: Record<string, unknown>): string {
  const lines = Object.entries(fields).map(([key, value]) => `  ${key}: ${JSON.stringify(value)},`);
  return `// ${comment}\n{\n${lines.join('\n')}\n}\n`;
}

/** Header fields of a table valid for one run, loaded (timestamp) an hour after the run ended. */
function header(type: string, run: number, version = 1): Record<string, unknown> {
  return {
    type,
    version,
    index: '',
    run_range: [run, run],
    pass: 0,
    timestamp: iso(runStart(run) + 2 * 3_600_000),
  };
}

function runTables(): string {
  return plans
    .map((plan) =>
      ratdbTable(`run ${plan.run}: ${plan.why ?? 'Physics'}`, {
        ...header('RUN', plan.run),
        runtype: runTypeWord(...plan.types),
        start_time: iso(runStart(plan.run)),
        comment: plan.types.join(' + '),
      }),
    )
    .join('\n');
}

function daqRunLevelTables(): string {
  return plans
    .map((plan) =>
      ratdbTable(`run ${plan.run}: trigger settings`, {
        ...header('DAQ_RUN_LEVEL', plan.run),
        gt_mask: plan.types.includes('Physics') ? 0x1c6e : 0x8000,
        nhit100_lo_threshold: 7,
        crate_mask: 0x7ffff,
      }),
    )
    .join('\n');
}

function dqxxTables(late: boolean): string {
  return plans
    .filter((plan) => plan.dqxx !== late)
    .map((plan) =>
      ratdbTable(`run ${plan.run}: PMT data quality (19 crates)`, {
        ...header('PMT_DQXX', plan.run),
        // Produced late: stamped after the tag, so the tag does not see it.
        ...(late ? { timestamp: '2026-11-24T15:00:00Z' } : {}),
        cratestatus_n100: Array.from({ length: 19 }, () => 1),
        dqcr: Array.from({ length: 19 }, (_, crate) => (crate === 11 && plan.run % 5 === 0 ? 0x10 : 0)),
      }),
    )
    .join('\n');
}

function dqhlTables(): string {
  return plans
    .map((plan) =>
      ratdbTable(`run ${plan.run}: data-quality high-level checks`, {
        ...header('DQHL', plan.run),
        checks: { run_length: 1, general_coverage: 1, crate_coverage: 1, trigger: 1 },
      }),
    )
    .join('\n');
}

/** PMT calibration constants: one table valid for the whole demo range, as a calibration is. */
function pmtcalibTables(): string {
  return ratdbTable('PMT calibration constants for runs 300000-300035', {
    type: 'PMTCALIB',
    version: 1,
    index: '',
    run_range: [firstRun, lastRun],
    pass: 0,
    timestamp: iso(firstStart - 86_400_000),
    tslp_offsets_ns: [0.0, 0.4, -0.2, 0.1],
    qhs_peds: [412, 409, 415, 411],
  });
}

/** When the tag is made (`oproc ratdb tag --at`): after every version-1 table, before the correction. */
const tagTime = '2026-11-23T12:00:00Z';

/** A later correction of one run's type: stamped after the tag, so the tag still sees version 1. */
function correctionTables(): string {
  const run = 300005;
  return (
    `// Stamped after the tag water-physics-v2 (${tagTime}): the tag keeps seeing version 1,\n` +
    '// live reads see this version 2 (the highest version wins).\n' +
    ratdbTable(`run ${run}: run type corrected by the run coordinator`, {
      ...header('RUN', run, 2),
      timestamp: '2026-11-24T09:00:00Z',
      runtype: runTypeWord('Physics'),
      start_time: iso(runStart(run)),
      comment: 'Physics (corrected: was Maintenance)',
    })
  );
}

function fileHeader(what: string): string {
  return `// ${what}\n// Written by demo/make-data.ts; regenerate rather than edit.\n\n`;
}

async function main(): Promise<void> {
  await mkdir(path.join(dataDir, 'ratdb'), { recursive: true });
  const docs = dataflowDocuments();
  await writeFile(
    path.join(dataDir, 'dataflow.json'),
    `[\n${docs.map((d) => JSON.stringify(d)).join(',\n')}\n]\n`,
  );
  const ratdb: Record<string, string> = {
    'run.ratdb': fileHeader('RUN tables: the run type word of each run') + runTables(),
    'daq_run_level.ratdb': fileHeader('DAQ_RUN_LEVEL tables') + daqRunLevelTables(),
    'pmt_dqxx.ratdb': fileHeader('PMT_DQXX tables (none for run 300030)') + dqxxTables(false),
    'late_pmt_dqxx.ratdb': fileHeader('PMT_DQXX for run 300030, produced late') + dqxxTables(true),
    'dqhl.ratdb': fileHeader('DQHL tables') + dqhlTables(),
    'pmtcalib.ratdb': fileHeader('PMTCALIB: PMT calibration constants') + pmtcalibTables(),
    'run_correction.ratdb': fileHeader('A second RUN version for run 300005') + correctionTables(),
  };
  for (const [name, text] of Object.entries(ratdb)) await writeFile(path.join(dataDir, 'ratdb', name), text);
  console.log(
    `wrote ${docs.length} data-flow documents and ${Object.keys(ratdb).length} .ratdb files under ${path.relative(process.cwd(), dataDir) || '.'}`,
  );
}

await main();
