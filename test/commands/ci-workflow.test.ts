/**
 * The GitHub Actions workflow in docs/ci.md, taken out of the page and run: its reprocess step's
 * shell lines run in bash with the form's inputs in the environment, as on a runner, and the
 * `oproc reprocess runlist` line they expand to runs through the built CLI against a scenario.
 */
import { execFile } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

import { expect } from 'chai';
import { parse as parseYaml } from 'yaml';

import type { SubmissionResult } from '../../src/engine/reprocess.js';
import { ids } from '../../src/engine/types.js';
import { runCli, type CliResult } from '../support/cli.js';
import { physicsRuns, scenario, type Scenario } from '../support/scenario.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const run = promisify(execFile);

interface Step {
  name?: string;
  uses?: string;
  run?: string;
  if?: string;
  env?: Record<string, string>;
  with?: Record<string, unknown>;
}

interface Workflow {
  on: { workflow_dispatch: { inputs: Record<string, { type: string; options?: string[] }> } };
  jobs: Record<string, { env?: Record<string, string>; steps: Step[] }>;
}

/** The fenced yaml block of docs/ci.md that holds the workflow. */
async function workflowFromDocs(): Promise<Workflow> {
  const page = await readFile(path.join(root, 'docs', 'ci.md'), 'utf8');
  const blocks = [...page.matchAll(/^```yaml\n([\s\S]*?)^```$/gm)].map((m) => m[1]!);
  const text = blocks.find((b) => b.includes('workflow_dispatch'));
  if (!text) throw new Error('docs/ci.md has no yaml block with a workflow_dispatch workflow');
  return parseYaml(text) as Workflow;
}

/** The form's inputs, as the workflow receives them (booleans arrive in `env` as "true"/"false"). */
interface Inputs {
  runlist: string;
  ratv: string;
  filetype: 'L1' | 'L2';
  modules?: string;
  ratdb_tag?: string;
  dry_run?: boolean;
}

interface StepRun {
  /** The command line oproc was given, after the shell expanded it. */
  argv: string[];
  stdin: string;
  cli: CliResult;
  result: string;
}

/**
 * Runs the workflow's reprocess step in `cwd` as a runner would: the step's and the job's `env`
 * with `${{ inputs.X }}` replaced by the input and secrets left empty (the embedded backends need
 * no password), the shell lines before the oproc line run by bash, and the oproc line's words
 * expanded by bash; then that command line runs through the built CLI with the same stdin, and its
 * stdout goes where the line redirects it.
 */
async function runReprocessStep(workflow: Workflow, inputs: Inputs, cwd: string): Promise<StepRun> {
  const job = Object.values(workflow.jobs)[0]!;
  const step = job.steps.find((s) => s.run?.includes('oproc reprocess runlist'))!;
  const env: Record<string, string> = { ...job.env };
  for (const [name, value] of Object.entries(step.env ?? {})) {
    const input = /^\$\{\{\s*inputs\.(\w+)\s*\}\}$/.exec(value)?.[1];
    const given = input === undefined ? undefined : (inputs as unknown as Record<string, unknown>)[input];
    env[name] = given === undefined ? (input === 'dry_run' ? 'false' : '') : String(given);
  }
  const lines = step.run!.trimEnd().split('\n');
  const at = lines.findIndex((l) => l.includes('oproc reprocess runlist'));
  expect(at, 'the oproc line ends the step').to.equal(lines.length - 1);
  const line = /^(.*)\|\s*(oproc reprocess runlist .*?)\s*>\s*(\S+)\s*$/.exec(lines[at]!);
  if (!line) throw new Error(`not "PRODUCER | oproc reprocess runlist ... > FILE": ${lines[at]}`);
  const [, producer, command, target] = line;
  const script = [
    'set -eo pipefail',
    ...lines.slice(0, at),
    `{ ${producer!.trim()}; } > "$OPROC_TEST_STDIN"`,
    `set -- ${command}`,
    `printf '%s\\0' "$@" > "$OPROC_TEST_ARGV"`,
  ].join('\n');
  const stdinFile = path.join(cwd, '.step-stdin');
  const argvFile = path.join(cwd, '.step-argv');
  await run('bash', ['-c', script], {
    cwd,
    env: { PATH: process.env.PATH, ...env, OPROC_TEST_STDIN: stdinFile, OPROC_TEST_ARGV: argvFile },
  });
  const argv = (await readFile(argvFile, 'utf8')).split('\0').slice(0, -1);
  const stdin = await readFile(stdinFile, 'utf8');
  expect(argv[0]).to.equal('oproc');
  const cli = await runCli(argv.slice(1), { input: stdin, cwd });
  await writeFile(path.join(cwd, target!), cli.stdout);
  return { argv, stdin, cli, result: path.join(cwd, target!) };
}

/** The outlist the step wrote, line by line. */
async function outlist(cwd: string): Promise<string[]> {
  return (await readFile(path.join(cwd, 'runs.exactly'), 'utf8')).trimEnd().split('\n');
}

describe('the CI workflow of docs/ci.md (PouchDB + PGlite)', function () {
  this.timeout(120_000);
  let workflow: Workflow;
  let s: Scenario;
  const loaded = new Date('2026-11-01T00:00:00Z');

  before(async () => {
    workflow = await workflowFromDocs();
  });

  beforeEach(async () => {
    s = await scenario('embedded');
    await s.addRuns([
      ...physicsRuns(300000, 300003, { loadedAt: loaded }),
      { run: 300004, types: ['ExternalSource', 'TELLIE'], loadedAt: loaded },
      { run: 300005, loadedAt: loaded },
    ]);
  });
  afterEach(() => s.cleanup());

  it('is a form with the inputs a user fills, keeps its files when oproc fails, and keeps secrets out of scripts', () => {
    const inputs = workflow.on.workflow_dispatch.inputs;
    expect(Object.keys(inputs)).to.deep.equal([
      'runlist',
      'ratv',
      'filetype',
      'modules',
      'ratdb_tag',
      'dry_run',
    ]);
    expect(inputs.filetype).to.deep.include({ type: 'choice', options: ['L1', 'L2'] });
    expect(inputs.dry_run!.type).to.equal('boolean');

    const steps = Object.values(workflow.jobs)[0]!.steps;
    const upload = steps.find((step) => step.uses?.startsWith('actions/upload-artifact'))!;
    expect(upload.if).to.equal('always()');
    expect(String(upload.with!.path).trim().split('\n')).to.deep.equal(['runs.exactly', 'result.json']);
    expect(steps.some((step) => step.uses === 'actions/setup-node@v4')).to.equal(true);

    const reprocess = steps.find((step) => step.run?.includes('oproc reprocess runlist'))!;
    for (const role of ['PROCESSING', 'DATAFLOW', 'RATDB']) {
      expect(reprocess.env![`OPROC_${role}_PASSWORD`]).to.equal(`\${{ secrets.OPROC_${role}_PASSWORD }}`);
    }
    for (const step of steps) {
      expect(step.run ?? '', `${step.name}: inputs and secrets come in through env`).to.not.match(
        /\$\{\{\s*(inputs|secrets)\./,
      );
    }
  });

  it('reprocesses a pasted list with comments, blank lines and a duplicate: JSON result, outlist, exit 0', async () => {
    const step = await runReprocessStep(
      workflow,
      {
        runlist: '# runs for the new PMT calibration\n300002\n300000  # good run\n\n300004\n300002\n',
        ratv: s.ratv,
        filetype: 'L2',
        dry_run: false,
      },
      s.dir,
    );
    expect(step.argv.slice(1)).to.deep.equal([
      'reprocess',
      'runlist',
      'site.json',
      s.ratv,
      'L2',
      '-',
      '--json',
      '-o',
      'runs.exactly',
    ]);
    expect(step.cli.code, step.cli.stderr).to.equal(0);

    const result = JSON.parse(await readFile(step.result, 'utf8')) as SubmissionResult;
    expect(result).to.include({ mode: 'runlist', ratv: s.ratv, filetype: 'L2', ratdb_tag: null });
    expect(result.dry_run ?? false).to.equal(false);
    expect(result.submission).to.match(/^sub_/);
    expect(result.created).to.deep.equal([
      { run: 300000, module: 'Processing', pass: 0 },
      { run: 300000, module: 'Analysis', pass: 0 },
      { run: 300002, module: 'Processing', pass: 0 },
      { run: 300002, module: 'Analysis', pass: 0 },
      { run: 300004, module: 'Processing', pass: 0 },
    ]);
    expect(result.skipped).to.deep.equal([]);

    expect(await outlist(s.dir)).to.deep.equal([
      'Processing\t300000\t0',
      'Analysis\t300000\t0',
      'Processing\t300002\t0',
      'Analysis\t300002\t0',
      'Processing\t300004\t0',
    ]);
    const job = (await s.job(300002, 'Analysis'))!;
    expect(job.passes).to.have.length(1);
    expect(job.passes[0]).to.deep.include({
      submission: result.submission,
      mode: 'runlist',
      prerequisites: [{ module: 'Processing', pass: 0 }],
    });
  });

  it('takes the one-line web form, -N and -t; lists the runs it skipped and exits 1', async () => {
    await s.withDatabases((db) =>
      db.ratdb.setTag({ name: 'water-physics-v2', timestamp: new Date('2026-11-02T00:00:00Z') }),
    );
    // Two passes of Processing for run 300001 exist already: the new one is pass 2.
    await runCli(['reprocess', 'one-shot', s.config, s.ratv, 'L2', '300001', '-N', 'Processing']);
    await runCli(['reprocess', 'one-shot', s.config, s.ratv, 'L2', '300001', '-N', 'Processing']);

    const step = await runReprocessStep(
      workflow,
      {
        runlist: '300001, 300003 300005,299000',
        ratv: s.ratv,
        filetype: 'L2',
        modules: 'Processing',
        ratdb_tag: 'water-physics-v2',
        dry_run: false,
      },
      s.dir,
    );
    expect(step.argv.slice(-4)).to.deep.equal(['-N', 'Processing', '-t', 'water-physics-v2']);
    expect(step.stdin.split('\n').filter(Boolean)).to.deep.equal(['300001', '300003', '300005', '299000']);
    expect(step.cli.code, step.cli.stderr).to.equal(1);

    const result = JSON.parse(await readFile(step.result, 'utf8')) as SubmissionResult;
    expect(result.ratdb_tag).to.equal('water-physics-v2');
    expect(result.created).to.deep.equal([
      { run: 300001, module: 'Processing', pass: 2 },
      { run: 300003, module: 'Processing', pass: 0 },
    ]);
    expect(result.skipped).to.deep.equal([
      { run: 299000, kind: 'no-data', reason: 'no data-flow documents for the run' },
      { run: 300005, kind: 'incomplete', reason: 'run not complete yet (no later run and no run_end)' },
    ]);
    expect(await outlist(s.dir)).to.deep.equal(['Processing\t300001\t2', 'Processing\t300003\t0']);
    expect((await s.job(300003, 'Processing'))!.passes[0]!.ratdb_tag).to.equal('water-physics-v2');
    expect(await s.job(300003, 'Analysis'), '-N replaced the selection').to.equal(undefined);
  });

  it('a dry run writes nothing: no pass, no journal, no outlist; the plan is in the result', async () => {
    const step = await runReprocessStep(
      workflow,
      { runlist: '300000\n300001\n', ratv: s.ratv, filetype: 'L2', dry_run: true },
      s.dir,
    );
    expect(step.argv.at(-1)).to.equal('--dry-run');
    expect(step.cli.code, step.cli.stderr).to.equal(0);
    const result = JSON.parse(await readFile(step.result, 'utf8')) as SubmissionResult;
    expect(result).to.include({ submission: null, dry_run: true });
    expect(result.created.map((c) => `${c.module} ${c.run} ${c.pass}`)).to.deep.equal([
      'Processing 300000 0',
      'Analysis 300000 0',
      'Processing 300001 0',
      'Analysis 300001 0',
    ]);
    expect((await s.jobs([300000, 300001], ['Processing', 'Analysis'])).size).to.equal(0);
    const journals = await s.withDatabases((db) =>
      db.processing.allDocs({ startkey: ids.submission(''), endkey: ids.submission('\uffff') }),
    );
    expect(journals).to.deep.equal([]);
    await readFile(path.join(s.dir, 'runs.exactly')).then(
      () => expect.fail('the outlist was written'),
      (error: NodeJS.ErrnoException) => expect(error.code).to.equal('ENOENT'),
    );
  });

  it('a malformed runlist exits 2 naming the line, writes nothing, and the result is the error', async () => {
    const step = await runReprocessStep(
      workflow,
      { runlist: '300000\n3000O1\n', ratv: s.ratv, filetype: 'L2' },
      s.dir,
    );
    expect(step.cli.code, step.cli.stderr).to.equal(2);
    const result = JSON.parse(await readFile(step.result, 'utf8')) as {
      error: { message: string; code: number };
    };
    expect(result.error.code).to.equal(2);
    expect(result.error.message).to.match(/line 2: "3000O1" is not a run number/);
    expect(await s.job(300000, 'Processing')).to.equal(undefined);
    await readFile(path.join(s.dir, 'runs.exactly')).then(
      () => expect.fail('the outlist was written'),
      (error: NodeJS.ErrnoException) => expect(error.code).to.equal('ENOENT'),
    );
  });
});
