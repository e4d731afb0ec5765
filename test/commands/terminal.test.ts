import { execFile } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import { expect } from 'chai';

import { physicsRuns, scenario, type Scenario } from '../support/scenario.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

/** Quotes a word for `sh -c`. */
const quote = (word: string) => `'${word.replace(/'/g, `'\\''`)}'`;

/**
 * Runs the CLI on a pseudo-terminal (util-linux `script`), 120 columns by 40 rows, as a shifter
 * would in a terminal session: listr2 draws its live tasks. Returns the exit code and what was drawn.
 */
function onTerminal(args: readonly string[]): Promise<{ code: number; output: string }> {
  const command = `stty cols 120 rows 40; ${[process.execPath, path.join(root, 'bin', 'run.js'), ...args].map(quote).join(' ')}`;
  return new Promise((resolve, reject) => {
    execFile(
      'script',
      ['-qec', command, '/dev/null'],
      { cwd: root, maxBuffer: 64 << 20, env: { ...process.env, TERM: 'xterm-256color' } },
      (error, stdout) => {
        const code = error ? (typeof error.code === 'number' ? error.code : NaN) : 0;
        if (Number.isNaN(code)) reject(error instanceof Error ? error : new Error(String(error)));
        // eslint-disable-next-line no-control-regex -- the colors and cursor moves a terminal gets
        else resolve({ code, output: stdout.replace(/\u001b\[[0-9;?]*[A-Za-z]/g, '').replace(/\r/g, '') });
      },
    );
  });
}

describe('progress on a terminal (pouchdb-server + PostgreSQL)', function () {
  // A reprocess on a terminal that redrew a task per run on every frame took minutes for a few
  // hundred runs; this one must end well within the timeout.
  this.timeout(120_000);
  let s: Scenario;
  beforeEach(async () => {
    s = await scenario('servers');
    await s.addRuns([
      ...physicsRuns(300000, 300598),
      { run: 300599, missing: ['PMT_DQXX'] },
      { run: 300600 },
    ]);
  });
  afterEach(() => s.cleanup());

  it('shows each batch as a task and then every run once, ✔ with its passes or ↓ with why', async () => {
    const { code, output } = await onTerminal([
      'reprocess',
      'range',
      s.config,
      s.ratv,
      'L2',
      '300000',
      '300599',
    ]);
    expect(code, output.slice(-2000)).to.equal(1); // one run got no pass
    expect(output).to.match(/✔ runs 300000–300499: 1000 passes/);
    expect(output).to.match(/✔ runs 300500–300599: 198 passes/);
    const ticks = output.match(
      /^ {2}✔ run \d+ \[Physics\]: Processing pass 0 \(3 subjobs\); Analysis pass 0$/gm,
    );
    expect(ticks).to.have.length(599);
    expect(new Set(ticks).size, 'each run once').to.equal(599);
    expect(output).to.match(
      /^ {2}↓ run 300599 \[Physics\]: no Processing: RATDB table\(s\) missing: PMT_DQXX/m,
    );
    expect(output).to.match(/1198 passes created/);
  });
});
