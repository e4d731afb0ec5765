import { spawnSync } from 'node:child_process';
import {
  cpSync,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  realpathSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import path from 'node:path';

import { ExitCode, OprocError, usageError } from '../errors.js';
import {
  demoRatv,
  demoSteps,
  demoTag,
  laterRatdbFiles,
  type DemoBin,
  type DemoFiles,
  type DemoStep,
} from './steps.js';

/** Written into the demo's folder, so the demo only ever empties a folder it made itself. */
const marker = '.oproc-demo';
const infoFile = 'processing_information.example.json';

export interface DemoOptions {
  /** The installed package's root: its `demo/` holds the data, its `bin/` the CLI. */
  packageRoot: string;
  /** The folder for the databases, config, data and outlist. */
  dir: string;
  /** Where the user is: printed paths are relative to it, and the steps run in it. */
  cwd: string;
  env: NodeJS.ProcessEnv;
  /** What the user types to start the demo again; default `oproc demo DIR`, as the user runs oproc. */
  again?: string;
  write: (line: string) => void;
}

export type StepOutcome = 'done' | 'partial';

export interface DemoResult {
  dir: string;
  config: string;
  outlist: string;
  steps: { title: string; command: string; outcome: StepOutcome }[];
  passes: number;
}

const binFiles: Record<DemoBin, string> = {
  oproc: 'bin/run.js',
  offline_processing: 'bin/offline_processing.js',
};

/**
 * How the user runs `bin` as printed: its name when that name on PATH is this package's bin (an
 * installed or linked CLI); `npx NAME` when it is on PATH only from a node_modules/.bin (npx, an
 * npm script); else `node PATH/TO/bin/FILE` (a clone).
 */
export function commandFor(bin: DemoBin, packageRoot: string, cwd: string, env: NodeJS.ProcessEnv): string {
  const file = path.join(packageRoot, binFiles[bin]);
  const real = realOrUndefined(file);
  const onPath = (env.PATH ?? '')
    .split(path.delimiter)
    .filter((dir) => dir !== '' && real !== undefined && realOrUndefined(path.join(dir, bin)) === real);
  if (onPath.some((dir) => !isLocalBin(dir))) return bin;
  if (onPath.length > 0) return `npx ${bin}`;
  return `node ${shownFrom(cwd, file)}`;
}

/** A project's node_modules/.bin (or npx's cache of one): on PATH only under npm. */
function isLocalBin(dir: string): boolean {
  return path.basename(dir) === '.bin' && path.basename(path.dirname(dir)) === 'node_modules';
}

function realOrUndefined(file: string): string | undefined {
  try {
    return realpathSync(file);
  } catch {
    return undefined;
  }
}

/** A path as the user would type it where they are: relative inside `cwd`, absolute elsewhere. */
function shownFrom(cwd: string, file: string): string {
  const relative = path.relative(cwd, file);
  return relative === '' ? '.' : relative.startsWith('..') || path.isAbsolute(relative) ? file : relative;
}

/** A shell word: quoted only when it needs to be. */
function word(text: string): string {
  return /^[\w@%+=:,./–-]+$/.test(text) ? text : `'${text.replaceAll("'", "'\\''")}'`;
}

/**
 * Empties (or makes) the demo's folder and fills it with the config, the example processing
 * information and the data set. A folder with anything in it that the demo did not make is left
 * alone: a usage error names it.
 */
function prepareFolder(options: DemoOptions): DemoFiles {
  const { dir, packageRoot } = options;
  const source = path.join(packageRoot, 'demo');
  const entries = existsSync(dir) ? readdirSync(dir) : [];
  if (entries.length > 0 && !entries.includes(marker)) {
    throw usageError(
      `${shownFrom(options.cwd, dir)} exists and was not made by the demo; nothing was written`,
      'Give the demo another folder: oproc demo DIR',
    );
  }
  // Only a folder the demo made is emptied: the marker says so.
  if (entries.length > 0) rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  writeFileSync(path.join(dir, marker), 'Made by oproc demo; emptied and filled again by each run.\n');
  cpSync(path.join(source, 'data'), path.join(dir, 'data'), { recursive: true });
  cpSync(path.join(source, infoFile), path.join(dir, infoFile));

  // demo/site.json with its databases in this folder, and only the demo's example processing
  // information: a module plugin the user has installed does not change the story.
  const site = JSON.parse(readFileSync(path.join(source, 'site.json'), 'utf8')) as Record<
    string,
    { path?: string } | unknown
  >;
  for (const role of ['processing', 'dataflow', 'ratdb']) {
    const section = site[role] as { path?: string } | undefined;
    if (section?.path) section.path = path.basename(section.path);
  }
  site.processing_information = infoFile;
  site.module_plugins = [];
  const config = path.join(dir, 'site.json');
  writeFileSync(config, JSON.stringify(site, null, 2) + '\n');

  const ratdbDir = path.join(dir, 'data', 'ratdb');
  const later = new Set(Object.values(laterRatdbFiles));
  const first = readdirSync(ratdbDir)
    .filter((name) => name.endsWith('.ratdb') && !later.has(name))
    .sort()
    .map((name) => path.join(ratdbDir, name));
  return {
    config,
    outlist: path.join(dir, 'demo.exactly'),
    ratdb: {
      first,
      correction: path.join(ratdbDir, laterRatdbFiles.correction),
      late: path.join(ratdbDir, laterRatdbFiles.late),
    },
    dataflow: path.join(dir, 'data', 'dataflow.json'),
  };
}

/** Runs the demo: every step as a child process of the same CLI, printed as the user would type it. */
export function runDemo(options: DemoOptions): DemoResult {
  const { write, cwd, packageRoot, env } = options;
  const bold = (text: string) => (process.stdout.isTTY ? `\x1b[1m${text}\x1b[0m` : text);
  const files = prepareFolder(options);
  const shown = (file: string) => shownFrom(cwd, file);
  const typed = (bin: DemoBin) => commandFor(bin, packageRoot, cwd, env);
  const steps = demoSteps(files);

  write(bold('oproc demo: offline-processing jobs for runs 300000–300035'));
  write(`Databases, config and data in ${shown(options.dir)}; every step can be typed again as printed.`);
  const done: DemoResult['steps'] = [];
  steps.forEach((step, i) => {
    const command = [
      typed(step.bin),
      ...step.args.map((arg) => word(path.isAbsolute(arg) ? shown(arg) : arg)),
    ].join(' ');
    write(`\n${bold(`── Step ${i + 1}/${steps.length}: ${step.title}`)}`);
    write(`   ${step.why}`);
    write(`   $ ${command}\n`);
    done.push({ title: step.title, command, outcome: runStep(step, i + 1, options) });
  });

  const passes = existsSync(files.outlist)
    ? readFileSync(files.outlist, 'utf8')
        .split('\n')
        .filter((line) => line.trim() !== '').length
    : 0;
  const config = shown(files.config);
  const oproc = typed('oproc');
  write(`\n${bold('── Done')}`);
  if (passes > 0)
    write(`   The reprocessing steps created ${passes} passes, listed in ${shown(files.outlist)}.`);
  write('   The databases:');
  write(`     processing and data-flow (PouchDB): ${shown(path.join(options.dir, 'processing'))}`);
  write(`     RATDB (PGlite):                     ${shown(path.join(options.dir, 'ratdb'))}`);
  write(`     config:                             ${config}`);
  write('   Try next:');
  write(`     ${oproc} passes ${config} --help`);
  write(`     ${oproc} reprocess one-shot ${config} ${demoRatv} L2 300030 -t ${demoTag} --dry-run`);
  write('       (under the tag, run 300030 has no PMT_DQXX: see how a skipped run is reported)');
  write(`     ${oproc} watch ${config} ${demoRatv} L1 --start-run 299999 --once`);
  write(
    `     ${options.again ?? `${oproc} demo ${word(shown(options.dir))}`}   (starts again from empty databases)`,
  );
  return { dir: options.dir, config: files.config, outlist: files.outlist, steps: done, passes };
}

function runStep(step: DemoStep, number: number, options: DemoOptions): StepOutcome {
  const result = spawnSync(
    process.execPath,
    [path.join(options.packageRoot, binFiles[step.bin]), ...step.args],
    {
      cwd: options.cwd,
      env: options.env,
      stdio: 'inherit',
    },
  );
  if (result.status === 0) return 'done';
  if (result.status === 1 && step.partialOk) {
    options.write('\n   (exit 1: some runs were skipped, as listed above)');
    return 'partial';
  }
  const how = result.error
    ? result.error.message
    : result.signal
      ? `signal ${result.signal}`
      : `exit ${result.status}`;
  throw new OprocError(`demo stopped: step ${number} (${step.title}) failed with ${how}`, ExitCode.Partial);
}
