/**
 * The demo's story: a small, realistic data set (demo/data, made by demo/make-data.ts) taken
 * through the CLI step by step, each step saying first what happens and why.
 */

export const demoRatv = '7.0.8';
export const demoTag = 'water-physics-v2';
/** After every table of the first load and before the correction (see demo/make-data.ts). */
const tagTime = '2026-11-23T12:00:00Z';

export type DemoBin = 'oproc' | 'offline_processing';

export interface DemoStep {
  title: string;
  why: string;
  bin: DemoBin;
  args: string[];
  /** Exit 1 means "some runs were skipped" (they are listed): allowed for commands that make passes. */
  partialOk?: boolean;
}

/** The files of the demo's folder the steps name. */
export interface DemoFiles {
  config: string;
  outlist: string;
  /** The RATDB files of the first load, then the correction, then the late table. */
  ratdb: { first: string[]; correction: string; late: string };
  dataflow: string;
}

/** Files loaded by later steps of the story; the first load takes every other .ratdb file. */
export const laterRatdbFiles = { correction: 'run_correction.ratdb', late: 'late_pmt_dqxx.ratdb' };

export function demoSteps(files: DemoFiles): DemoStep[] {
  const { config } = files;
  const ratv = demoRatv;
  const watch = ['watch', config, ratv, 'L2', '--start-run', '299999', '--once'];
  const oproc = (step: Omit<DemoStep, 'bin'>): DemoStep => ({ bin: 'oproc', ...step });
  return [
    oproc({
      title: 'Create the databases',
      why: 'Processing and data-flow share one embedded PouchDB database (as at the experiment); RATDB is an embedded PGlite.',
      args: ['init', config],
    }),
    oproc({
      title: 'Load the RATDB tables',
      why: 'The tables the modules of RAT 7.0.8 need: RUN (the run type word), DAQ_RUN_LEVEL, PMT_DQXX and DQHL per run, PMTCALIB for the range. Run 300030 has no PMT_DQXX yet.',
      args: ['ratdb', 'load', config, ...files.ratdb.first],
    }),
    oproc({
      title: `Tag the RATDB state as ${demoTag}`,
      why: 'A tag freezes RATDB at a time: passes made with -t see only tables stamped no later than it.',
      args: ['ratdb', 'tag', config, demoTag, '--at', tagTime],
    }),
    oproc({
      title: 'Load a correction made after the tag',
      why: 'Run 300005 was recorded as Maintenance; RUN version 2 makes it Physics. The highest version wins, but the tag still sees version 1.',
      args: ['ratdb', 'load', config, files.ratdb.correction],
    }),
    oproc({
      title: 'Import the data-flow documents',
      why: 'One document per raw-data file (L1 and L2, per subrun) and run_end markers: what the watcher senses. Run 300035 has no run_end and no later run, so it is not complete.',
      args: ['dataflow', 'import', config, files.dataflow],
    }),
    oproc({
      title: `Show the modules of RAT ${ratv}`,
      why: "The config's processing_information names processing_information.example.json, the demo's example (made up, not the experiment's): which modules run for which run type, and which RATDB tables each needs. A site imports its own with oproc modules import processing_information_7_0_8.py.",
      args: ['modules', config, ratv],
    }),
    oproc({
      title: 'Watch for complete runs (one cycle)',
      why: 'Jobs for every complete run after 299999, in run order, with the modules its run type selects. The PCA run 300012 sets the PCA calibration lock: its own jobs are made, no later run is taken.',
      args: watch,
      partialOk: true,
    }),
    oproc({
      title: 'Show the calibration locks',
      why: 'The PCA lock is set at run 300012 and holds the watcher.',
      args: ['locks', config],
    }),
    oproc({
      title: 'Release the PCA lock',
      why: 'The calibration group has produced constants valid up to run 300012.',
      args: ['locks', 'release', config, 'PCA', '--validto', '300012'],
    }),
    oproc({
      title: 'Watch again',
      why: 'The watcher resumes where it stopped, and stops again at the ECA run 300020 (ECA + ECAPDST bits).',
      args: watch,
      partialOk: true,
    }),
    oproc({
      title: 'Release the ECA lock',
      why: 'ECA constants are valid up to run 300020.',
      args: ['locks', 'release', config, 'ECA', '--validto', '300020'],
    }),
    oproc({
      title: 'Watch once more',
      why: 'Run 300027 has only L1 files, so it gets no L2 jobs. Run 300030 still lacks PMT_DQXX: the watcher holds there and retries it on later cycles.',
      args: watch,
      partialOk: true,
    }),
    oproc({
      title: 'Ask why run 300030 has no jobs',
      why: 'oproc why goes through the decision as the watcher makes it (data-flow, run type, modules, RATDB tables, prerequisites, locks, the watcher, the passes) and ends with the verdict.',
      args: ['why', config, ratv, 'L2', '300030'],
    }),
    oproc({
      title: 'Load the missing PMT_DQXX table',
      why: 'The data-quality group produces the table for run 300030.',
      args: ['ratdb', 'load', config, files.ratdb.late],
    }),
    oproc({
      title: 'Watch again: the held run goes through',
      why: 'Run 300030 and the runs after it get their jobs. Run 300035 has no run_end and no later run: it is still being taken, so it waits.',
      args: watch,
      partialOk: true,
    }),
    oproc({
      title: 'Show how processing stands',
      why: 'Passes per module and status, the watcher (stopped: a watch --once released its lease on the way out; a watcher that died without doing so would be stale, and status would exit 1), the backlog, the locks and the last submissions.',
      args: ['status', config, ratv],
    }),
    oproc({
      title: 'Reprocess runs 300001–300004',
      why: 'Reprocessing makes a new pass for every run given, whatever exists; the outlist records MODULE, RUN, PASS for each.',
      args: ['reprocess', 'range', config, ratv, 'L2', '300001', '300004', '-o', files.outlist],
      partialOk: true,
    }),
    oproc({
      title: 'List exactly the passes in the outlist',
      why: 'What the grid tools read with processing_list --exactly.',
      args: ['passes', config, '--exactly', files.outlist],
    }),
    {
      title: 'The same through the original command line',
      why: 'offline_processing takes the old flags unchanged: -1 one run (300002), -N the module, -f find prerequisites from earlier passes (Processing needs none), -o append to the outlist.',
      bin: 'offline_processing',
      args: [config, ratv, 'L2', '-1', '300002', '-N', 'Processing', '-f', '-o', files.outlist],
      partialOk: true,
    },
    oproc({
      title: `Plan run 300005 as the tag ${demoTag} sees it (dry run)`,
      why: 'Under the tag the run is still Maintenance, so no module is selected; nothing is written.',
      args: ['reprocess', 'one-shot', config, ratv, 'L2', '300005', '-t', demoTag, '--dry-run'],
      partialOk: true,
    }),
  ];
}
