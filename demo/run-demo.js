#!/usr/bin/env node
/**
 * The oproc demo: fills embedded databases with a small, realistic data set (demo/data) and runs
 * the CLI step by step, explaining before each step what happens and why. `npm run demo` builds
 * the CLI first. The databases go to .oproc/ at the repository root, or to $OPROC_DEMO_DIR.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';

const root = path.resolve(import.meta.dirname, '..');
const ratv = '7.0.8';
const tag = 'water-physics-v2';
/** After every table of the first load and before the correction (see demo/make-data.ts). */
const tagTime = '2026-11-23T12:00:00Z';
/** Written into the state directory, so the demo only ever removes a directory it made itself. */
const marker = '.oproc-demo';
const bold = (text) => (process.stdout.isTTY ? `\x1b[1m${text}\x1b[0m` : text);

class DemoError extends Error {}

/** Where the demo's databases, config and outlist live. */
function demoPaths() {
  const custom = process.env.OPROC_DEMO_DIR;
  const state = custom ? path.resolve(custom) : path.join(root, '.oproc');
  return {
    state,
    custom: Boolean(custom),
    config: custom ? path.join(state, 'site.json') : path.join(root, 'demo', 'site.json'),
    outlist: path.join(state, 'demo.exactly'),
    ratdbFiles: path.join(root, 'demo', 'data', 'ratdb'),
    dataflow: path.join(root, 'demo', 'data', 'dataflow.json'),
  };
}

/** Paths as a user would type them from the repository root. */
function shown(file) {
  const relative = path.relative(root, file);
  return relative.startsWith('..') || path.isAbsolute(relative) ? file : relative;
}

function resetStateDirectory(paths) {
  const entries = existsSync(paths.state) ? readdirSync(paths.state) : [];
  if (entries.length > 0 && !entries.includes(marker)) {
    throw new DemoError(
      `${shown(paths.state)} exists and was not made by the demo; move it away or set OPROC_DEMO_DIR to another directory`,
    );
  }
  rmSync(paths.state, { recursive: true, force: true });
  mkdirSync(paths.state, { recursive: true });
  writeFileSync(
    path.join(paths.state, marker),
    'Made by demo/run-demo.js; removed and recreated by each run.\n',
  );
  if (paths.custom) writeCustomConfig(paths);
}

/**
 * demo/site.json with its database paths moved into the custom state directory; the example
 * processing information stays in demo/.
 */
function writeCustomConfig(paths) {
  const site = JSON.parse(readFileSync(path.join(root, 'demo', 'site.json'), 'utf8'));
  for (const role of ['processing', 'dataflow', 'ratdb']) {
    if (site[role]?.path) site[role].path = path.basename(site[role].path);
  }
  const files = [site.processing_information ?? []].flat();
  site.processing_information = files.map((file) => path.resolve(root, 'demo', file));
  writeFileSync(paths.config, JSON.stringify(site, null, 2) + '\n');
}

/** Files loaded by later steps of the story; the first load takes every other .ratdb file. */
const laterLoads = { correction: 'run_correction.ratdb', late: 'late_pmt_dqxx.ratdb' };

function ratdbFiles(paths, which) {
  const names = readdirSync(paths.ratdbFiles)
    .filter((name) => name.endsWith('.ratdb'))
    .sort();
  const later = new Set(Object.values(laterLoads));
  const chosen = which === 'first' ? names.filter((name) => !later.has(name)) : [laterLoads[which]];
  return chosen.map((name) => path.join(paths.ratdbFiles, name));
}

/**
 * The steps, in order. `partialOk`: exit 1 means "some runs were skipped" (they are listed),
 * which the demo allows for commands that make passes; any other failure stops it.
 */
function demoSteps(paths) {
  const config = paths.config;
  const watch = ['watch', config, ratv, 'L2', '--start-run', '299999', '--once'];
  return [
    {
      title: 'Create the databases',
      why: 'Processing and data-flow share one embedded PouchDB database (as at the experiment); RATDB is an embedded PGlite.',
      id: 'init',
      args: ['init', config],
    },
    {
      title: 'Load the RATDB tables',
      why: 'The tables the modules of RAT 7.0.8 need: RUN (the run type word), DAQ_RUN_LEVEL, PMT_DQXX and DQHL per run, PMTCALIB for the range. Run 300030 has no PMT_DQXX yet.',
      id: 'ratdb load',
      args: ['ratdb', 'load', config, ...ratdbFiles(paths, 'first')],
    },
    {
      title: `Tag the RATDB state as ${tag}`,
      why: 'A tag freezes RATDB at a time: passes made with -t see only tables stamped no later than it.',
      id: 'ratdb tag',
      args: ['ratdb', 'tag', config, tag, '--at', tagTime],
    },
    {
      title: 'Load a correction made after the tag',
      why: 'Run 300005 was recorded as Maintenance; RUN version 2 makes it Physics. The highest version wins, but the tag still sees version 1.',
      id: 'ratdb load',
      args: ['ratdb', 'load', config, ...ratdbFiles(paths, 'correction')],
    },
    {
      title: 'Import the data-flow documents',
      why: 'One document per raw-data file (L1 and L2, per subrun) and run_end markers: what the watcher senses. Run 300035 has no run_end and no later run, so it is not complete.',
      id: 'dataflow import',
      args: ['dataflow', 'import', config, paths.dataflow],
    },
    {
      title: `Show the modules of RAT ${ratv}`,
      why: "The config's processing_information names demo/processing_information.example.json, the demo's example (made up, not the experiment's): which modules run for which run type, and which RATDB tables each needs. A site imports its own with oproc modules import processing_information_7_0_8.py.",
      id: 'modules',
      args: ['modules', config, ratv],
    },
    {
      title: 'Watch for complete runs (one cycle)',
      why: 'Jobs for every complete run after 299999, in run order, with the modules its run type selects. The PCA run 300012 sets the PCA calibration lock: its own jobs are made, no later run is taken.',
      id: 'watch',
      args: watch,
      partialOk: true,
    },
    {
      title: 'Show the calibration locks',
      why: 'The PCA lock is set at run 300012 and holds the watcher.',
      id: 'locks',
      args: ['locks', config],
    },
    {
      title: 'Release the PCA lock',
      why: 'The calibration group has produced constants valid up to run 300012.',
      id: 'locks release',
      args: ['locks', 'release', config, 'PCA', '--validto', '300012'],
    },
    {
      title: 'Watch again',
      why: 'The watcher resumes where it stopped, and stops again at the ECA run 300020 (ECA + ECAPDST bits).',
      id: 'watch',
      args: watch,
      partialOk: true,
    },
    {
      title: 'Release the ECA lock',
      why: 'ECA constants are valid up to run 300020.',
      id: 'locks release',
      args: ['locks', 'release', config, 'ECA', '--validto', '300020'],
    },
    {
      title: 'Watch once more',
      why: 'Run 300027 has only L1 files, so it gets no L2 jobs. Run 300030 still lacks PMT_DQXX: the watcher holds there and retries it on later cycles.',
      id: 'watch',
      args: watch,
      partialOk: true,
    },
    {
      title: 'Ask why run 300030 has no jobs',
      why: 'oproc why goes through the decision as the watcher makes it (data-flow, run type, modules, RATDB tables, prerequisites, locks, the watcher, the passes) and ends with the verdict.',
      id: 'why',
      args: ['why', config, ratv, 'L2', '300030'],
    },
    {
      title: 'Load the missing PMT_DQXX table',
      why: 'The data-quality group produces the table for run 300030.',
      id: 'ratdb load',
      args: ['ratdb', 'load', config, ...ratdbFiles(paths, 'late')],
    },
    {
      title: 'Watch again: the held run goes through',
      why: 'Run 300030 and the runs after it get their jobs. Run 300035 has no run_end and no later run: it is still being taken, so it waits.',
      id: 'watch',
      args: watch,
      partialOk: true,
    },
    {
      title: 'Show how processing stands',
      why: 'Passes per module and status, the watcher (stopped: a watch --once released its lease on the way out; a watcher that died without doing so would be stale, and status would exit 1), the backlog, the locks and the last submissions.',
      id: 'status',
      args: ['status', config, ratv],
    },
    {
      title: 'Reprocess runs 300001–300004',
      why: 'Reprocessing makes a new pass for every run given, whatever exists; the outlist records MODULE, RUN, PASS for each.',
      id: 'reprocess range',
      args: ['reprocess', 'range', config, ratv, 'L2', '300001', '300004', '-o', paths.outlist],
      partialOk: true,
    },
    {
      title: 'List exactly the passes in the outlist',
      why: 'What the grid tools read with processing_list --exactly.',
      id: 'passes',
      args: ['passes', config, '--exactly', paths.outlist],
    },
    {
      title: 'The same through the original command line',
      why: 'offline_processing takes the old flags unchanged: -1 one run (300002), -N the module, -f find prerequisites from earlier passes (Processing needs none), -o append to the outlist.',
      id: 'legacy',
      bin: 'offline_processing',
      args: [config, ratv, 'L2', '-1', '300002', '-N', 'Processing', '-f', '-o', paths.outlist],
      partialOk: true,
    },
    {
      title: `Plan run 300005 as the tag ${tag} sees it (dry run)`,
      why: 'Under the tag the run is still Maintenance, so no module is selected; nothing is written.',
      id: 'reprocess one-shot',
      args: ['reprocess', 'one-shot', config, ratv, 'L2', '300005', '-t', tag, '--dry-run'],
      partialOk: true,
    },
  ];
}

const binFiles = { oproc: 'bin/run.js', offline_processing: 'bin/offline_processing.js' };

function runCli(bin, args, stdio) {
  return spawnSync(process.execPath, [path.join(root, binFiles[bin]), ...args], { cwd: root, stdio });
}

let builtCommands;

/**
 * A step whose command is not in this build yet is skipped with a note, not failed. The build's
 * oclif manifest lists the commands; `help` alone would succeed for a topic with no command yet.
 */
function available(id) {
  builtCommands ??= readBuiltCommands();
  return builtCommands
    ? builtCommands.has(id.replaceAll(' ', ':'))
    : runCli('oproc', ['help', ...id.split(' ')], 'ignore').status === 0;
}

function readBuiltCommands() {
  try {
    const manifest = JSON.parse(readFileSync(path.join(root, 'oclif.manifest.json'), 'utf8'));
    return new Set(Object.keys(manifest.commands ?? {}));
  } catch {
    return undefined;
  }
}

function header(number, total, step, bin) {
  const command = [bin, ...step.args.map(shown)].join(' ');
  console.log(`\n${bold(`── Step ${number}/${total}: ${step.title}`)}`);
  console.log(`   ${step.why}`);
  console.log(`   $ ${command}\n`);
}

/** Runs one step; returns 'done', 'partial' or 'skipped', or throws a DemoError. */
function runStep(step, number, total) {
  const bin = step.bin ?? 'oproc';
  header(number, total, step, bin);
  if (!available(step.id)) {
    console.log(`   (skipped: \`oproc ${step.id}\` is not yet available in this build)`);
    return 'skipped';
  }
  const result = runCli(bin, step.args, 'inherit');
  if (result.status === 0) return 'done';
  if (result.status === 1 && step.partialOk) {
    console.log(`\n   (${step.exit1 ?? 'exit 1: some runs were skipped, as listed above'})`);
    return 'partial';
  }
  const how = result.error
    ? result.error.message
    : result.signal
      ? `signal ${result.signal}`
      : `exit ${result.status}`;
  throw new DemoError(`step ${number} (${step.title}) failed with ${how}`);
}

function outlistLines(paths) {
  if (!existsSync(paths.outlist)) return [];
  return readFileSync(paths.outlist, 'utf8')
    .split('\n')
    .filter((line) => line.trim() !== '');
}

function summary(paths, outcomes) {
  const skipped = outcomes.filter((o) => o === 'skipped').length;
  const created = outlistLines(paths).length;
  console.log(`\n${bold('── Done')}`);
  if (created > 0)
    console.log(`   The reprocessing steps created ${created} passes, listed in ${shown(paths.outlist)}.`);
  if (skipped > 0)
    console.log(`   ${skipped} steps were skipped: their commands are not yet available in this build.`);
  console.log('   The databases:');
  console.log(`     processing and data-flow (PouchDB): ${shown(path.join(paths.state, 'processing'))}`);
  console.log(`     RATDB (PGlite):                     ${shown(path.join(paths.state, 'ratdb'))}`);
  console.log(`     config:                             ${shown(paths.config)}`);
  console.log('   Try next:');
  console.log(`     node bin/run.js passes ${shown(paths.config)} --help`);
  console.log(
    `     node bin/run.js reprocess one-shot ${shown(paths.config)} ${ratv} L2 300030 -t ${tag} --dry-run`,
  );
  console.log('       (under the tag, run 300030 has no PMT_DQXX: see how a skipped run is reported)');
  console.log(`     node bin/run.js watch ${shown(paths.config)} ${ratv} L1 --start-run 299999 --once`);
  console.log('     npm run demo   (starts again from empty databases)');
}

function main() {
  if (!existsSync(path.join(root, 'dist', 'commands'))) {
    throw new DemoError('the CLI is not built: run `npm run demo` (it builds first) or `npm run build`');
  }
  const paths = demoPaths();
  resetStateDirectory(paths);
  console.log(bold('oproc demo: offline-processing jobs for runs 300000–300035'));
  console.log(`Databases in ${shown(paths.state)}, data from demo/data (made by demo/make-data.ts).`);
  const steps = demoSteps(paths);
  const outcomes = steps.map((step, i) => runStep(step, i + 1, steps.length));
  summary(paths, outcomes);
}

try {
  main();
} catch (error) {
  if (!(error instanceof DemoError)) throw error;
  console.error(`\ndemo stopped: ${error.message}`);
  process.exitCode = 1;
}
