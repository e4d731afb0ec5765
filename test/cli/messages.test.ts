import { execFile } from 'node:child_process';
import { copyFile, mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';

import { expect } from 'chai';

import { formatMessage, messageWidth } from '../../src/cli/messages.js';
import { runCli } from '../support/cli.js';
import { tempDir } from '../support/context.js';

const root = path.resolve(import.meta.dirname, '../..');

/** Quotes a word for `sh -c`. */
const quote = (word: string) => `'${word.replace(/'/g, `'\\''`)}'`;

/** Runs the built CLI on a pseudo-terminal (util-linux `script`) of `columns` columns; what it drew, without colors. */
function onTerminal(args: readonly string[], columns: number): Promise<{ code: number; output: string }> {
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

/** The text of the lines behind the bang. */
const bangLines = (text: string) =>
  text
    .split('\n')
    .filter((line) => line.startsWith(' › '))
    .map((line) => line.replace(/^ › {3}/, ''));

const longPath = `/data/${'a-very-long-directory-name-for-wrapping/'.repeat(4)}processing_information_7_0_8.py`;

describe('messages', () => {
  describe('formatMessage', () => {
    it('off a terminal (no width) keeps each line whole, however long', () => {
      const text = formatMessage('Warning', `${longPath}:65:1: skipped a "if" statement`, {
        suggestions: ['one', 'two'],
      });
      expect(text.split('\n')).to.deep.equal([
        ` ›   Warning: ${longPath}:65:1: skipped a "if" statement`,
        ' ›   Try this:',
        ' ›     * one',
        ' ›     * two',
      ]);
    });

    it('on a terminal wraps at spaces only: a word longer than the line stays whole', () => {
      const message = `cannot read config ${longPath}: no such file, and more words after it to wrap`;
      const lines = bangLines(formatMessage('Error', message, { width: 50 }));
      expect(lines.length).to.be.greaterThan(2);
      expect(lines.join(' ')).to.equal(`Error: ${message}`);
      expect(lines).to.include(`${longPath}:`);
      for (const line of lines.filter((l) => !l.includes(longPath))) expect(line.length).to.be.at.most(44);
    });

    it('wraps a suggestion under its own indentation', () => {
      const lines = formatMessage('Error', 'x', {
        suggestions: ['a', 'word '.repeat(20).trim()],
        width: 40,
      }).split('\n');
      expect(lines.slice(3).every((line) => line.startsWith(' ›     '))).to.equal(true);
    });

    it('wraps only on a terminal, at OCLIF_COLUMNS when set', () => {
      const write = () => true;
      expect(messageWidth({ isTTY: false, columns: 100, write }, {})).to.equal(undefined);
      expect(messageWidth({ isTTY: true, columns: 100, write }, {})).to.equal(100);
      expect(messageWidth({ isTTY: true, columns: 100, write }, { OCLIF_COLUMNS: '60' })).to.equal(60);
      expect(messageWidth({ isTTY: true, write }, {})).to.equal(80);
    });
  });

  describe('the built CLI, with a path longer than 120 columns', function () {
    this.timeout(60_000);
    let temp: Awaited<ReturnType<typeof tempDir>>;
    let deep: string;

    before(async () => {
      temp = await tempDir('oproc-messages-');
      deep = path.join(temp.dir, ...Array(4).fill('a-very-long-directory-name-for-wrapping'));
      await mkdir(deep, { recursive: true });
      await copyFile(
        path.join(root, 'test', 'fixtures', 'processing_information_7_0_8.py'),
        path.join(deep, 'processing_information_7_0_8.py'),
      );
      expect(deep.length).to.be.greaterThan(120);
    });
    after(() => temp.remove());

    it('off a terminal, a warning and an error each come on one line, the path whole', async () => {
      const file = path.join(deep, 'processing_information_7_0_8.py');
      const imported = await runCli(['modules', 'import', file]);
      expect(imported.code, imported.stderr).to.equal(0);
      expect(imported.stderr.split('\n')).to.include(` ›   Warning: ${file}:65:1: skipped a "if" statement`);

      const missing = path.join(deep, 'absent.json');
      const failed = await runCli(['modules', missing, '7.0.8']);
      expect(failed.code).to.equal(2);
      expect(failed.stderr).to.equal(` ›   Error: cannot read config ${missing}: no such file\n`);
    });

    it('off a terminal, an error with suggestions: the message and each suggestion on a line of its own', async () => {
      const config = path.join(deep, 'site.json');
      await writeFile(
        config,
        JSON.stringify({
          processing: { backend: 'pouchdb', path: 'p' },
          dataflow: { backend: 'pouchdb', path: 'p' },
          ratdb: { backend: 'pglite', path: 'r' },
          module_plugins: [],
        }),
      );
      const result = await runCli(['modules', config, '7.0.8']);
      expect(result.code).to.equal(2);
      expect(result.stderr.split('\n')).to.deep.equal([
        ' ›   Error: no processing information for RAT version 7.0.8 (versions with processing information: none)',
        ' ›   Try this:',
        " ›     * Import the experiment's file: oproc modules import processing_information_7_0_8.py > 7.0.8.json",
        ' ›     * Name that JSON file in the config key "processing_information" (a file or a list of files)',
        ' ›     * Or install a module plugin that provides it (oproc plugins install|link), named in the config key "module_plugins" if the config has one',
        '',
      ]);
    });

    it('an unknown command is printed whole too', async () => {
      const result = await runCli([`no-such-command-${'x'.repeat(100)}`]);
      expect(result.code).to.equal(2);
      expect(result.stderr).to.match(/^ › {3}Error: command no-such-command-x{100} not found\n$/);
    });

    it('on an 80-column terminal, the error wraps at spaces and never inside a word', async () => {
      const missing = path.join(deep, 'absent.json');
      const { code, output } = await onTerminal(['modules', missing, '7.0.8'], 80);
      expect(code).to.equal(2);
      const lines = bangLines(output);
      expect(lines.length, output).to.be.greaterThan(1);
      expect(lines.join(' ')).to.equal(`Error: cannot read config ${missing}: no such file`);
      expect(lines).to.include(`${missing}:`);
      for (const line of lines.filter((l) => !l.includes(missing))) expect(line.length).to.be.at.most(74);
    });
  });
});
