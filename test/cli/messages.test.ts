import { execFile } from 'node:child_process';
import { copyFile, mkdir, readdir, writeFile } from 'node:fs/promises';
import path from 'node:path';

import { expect } from 'chai';

import { formatMessage, messageWidth } from '../../src/cli/messages.js';
import { runCli } from '../support/cli.js';
import { tempDir } from '../support/context.js';

const root = path.resolve(import.meta.dirname, '../..');

/** Quotes a word for `sh -c`. */
const quote = (word: string) => `'${word.replace(/'/g, `'\\''`)}'`;

/**
 * Runs the built CLI on a pseudo-terminal (util-linux `script`) of `columns` columns; what it drew,
 * without colors. With `answer`, types `answer.type` once the output shows `answer.when`.
 */
function onTerminal(
  args: readonly string[],
  columns: number,
  answer?: { when: string; type: string },
): Promise<{ code: number; output: string }> {
  const command = `stty cols ${columns} rows 40; ${[process.execPath, path.join(root, 'bin', 'run.js'), ...args].map(quote).join(' ')}`;
  return new Promise((resolve, reject) => {
    const child = execFile(
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
    let seen = '';
    let answered = answer === undefined;
    child.stdout?.on('data', (chunk: Buffer) => {
      seen += chunk.toString();
      // eslint-disable-next-line no-control-regex -- the colors a terminal gets
      if (!answered && seen.replace(/\u001b\[[0-9;?]*[A-Za-z]/g, '').includes(answer!.when)) {
        answered = true;
        child.stdin?.write(answer!.type);
      }
    });
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
      expect(result.stderr).to.match(
        /^ › {3}Error: no-such-command-x{100} is not an oproc command; oproc help lists the commands\n$/,
      );
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

  describe('the built CLI: a mistyped command, flag or argument', function () {
    this.timeout(60_000);

    it('a mistyped command names the nearest one and the whole command line to run: exit 2, no prompt off a terminal', async () => {
      const status = await runCli(['stauts', 'demo/site.json']);
      expect(status.code).to.equal(2);
      expect(status.stderr.split('\n')).to.deep.equal([
        ' ›   Error: stauts is not an oproc command; did you mean status?',
        ' ›   Try this: oproc status demo/site.json',
        '',
      ]);
      const range = await runCli(['reprocess', 'rnage', 'demo/site.json', '7.0.8', 'L2', '300001', '300004']);
      expect(range.code).to.equal(2);
      expect(range.stderr.split('\n')).to.deep.equal([
        ' ›   Error: reprocess rnage is not an oproc command; did you mean reprocess range?',
        ' ›   Try this: oproc reprocess range demo/site.json 7.0.8 L2 300001 300004',
        '',
      ]);
    });

    it('on a terminal, @oclif/plugin-not-found asks, and yes runs the nearest command with the arguments given', async () => {
      const missing = '/nonexistent/oproc-site.json';
      const { code, output } = await onTerminal(['stauts', missing], 120, {
        when: 'Did you mean status?',
        type: 'y\r',
      });
      expect(output).to.match(/Warning: stauts is not a oproc command\./);
      // status ran, with the config given: it names that file.
      expect(output).to.include(`Error: cannot read config ${missing}: no such file`);
      expect(code).to.equal(2);
    });

    it('a mistyped flag: exit 2 and one short line naming the nearest flag, never the whole help', async () => {
      const json = await runCli(['status', 'demo/site.json', '--jsn']);
      expect(json.code).to.equal(2);
      expect(json.stdout).to.equal('');
      expect(json.stderr).to.equal(' ›   Error: unknown flag --jsn (did you mean --json?)\n');
      // Under --json too: the same words in the JSON error, and exit 2.
      const underJson = await runCli(['status', 'demo/site.json', '--jsn', '--json']);
      expect(underJson.code).to.equal(2);
      expect(underJson.stdout).to.include('unknown flag --jsn (did you mean --json?)');
      const dry = await runCli([
        'reprocess',
        'one-shot',
        'demo/site.json',
        '7.0.8',
        'L2',
        '300001',
        '--dryrun',
      ]);
      expect(dry.code).to.equal(2);
      expect(dry.stderr).to.equal(' ›   Error: unknown flag --dryrun (did you mean --dry-run?)\n');
      const far = await runCli(['status', 'demo/site.json', '--frobnicate']);
      expect(far.code).to.equal(2);
      expect(far.stderr).to.equal(
        ' ›   Error: unknown flag --frobnicate; oproc status --help lists the flags\n',
      );
    });

    it('reprocess one-shot --help: CONFIG RATV FILETYPE RUNS..., only RUNS repeats', async () => {
      const help = await runCli(['reprocess', 'one-shot', '--help']);
      expect(help.code).to.equal(0);
      expect(help.stdout).to.match(
        /^ {2}\$ oproc reprocess one-shot CONFIG RATV FILETYPE RUNS\.\.\. \[--json\]/m,
      );
      expect(help.stdout).to.match(/^ {2}CONFIG {4}Config file/m);
      expect(help.stdout).to.match(/^ {2}RUNS\.\.\. {3}Run numbers, one or more$/m);
      expect(help.stdout).not.to.match(/(CONFIG|RATV|FILETYPE)\.\.\./);
      for (const [command, usage] of [
        ['ratdb load', 'CONFIG FILE...'],
        ['dataflow import', 'CONFIG FILE...'],
      ] as const) {
        const other = await runCli([...command.split(' '), '--help']);
        expect(other.stdout).to.include(`$ oproc ${command} ${usage} [--json]`);
        expect(other.stdout).not.to.include('CONFIG...');
      }
    });

    it('a missing argument is named with what it is, and the usage line; no note about --modules, no help', async () => {
      const result = await runCli(['reprocess', 'one-shot', 'demo/site.json', '7.0.8', 'L2']);
      expect(result.code).to.equal(2);
      expect(result.stderr.split('\n')).to.deep.equal([
        ' ›   Error: missing argument RUNS (Run numbers, one or more)',
        ' ›   Usage: oproc reprocess one-shot CONFIG RATV FILETYPE RUNS... [flags] (oproc reprocess one-shot --help lists them)',
        '',
      ]);
      const two = await runCli(['reprocess', 'one-shot', 'demo/site.json', '7.0.8']);
      expect(two.code).to.equal(2);
      expect(two.stderr).to.include(
        'Error: missing arguments FILETYPE (Input files: L1 or L2), RUNS (Run numbers, one or more)',
      );
      expect(two.stderr).not.to.match(/--modules|USAGE|FLAGS/);
    });
  });

  describe('the built CLI: a config or database that is not there', function () {
    this.timeout(300_000);
    let temp: Awaited<ReturnType<typeof tempDir>>;

    before(async () => {
      temp = await tempDir('oproc-missing-');
    });
    after(() => temp.remove());

    /** Every file and folder under the temporary directory, relative to it. */
    const tree = async () => (await readdir(temp.dir, { recursive: true })).sort();

    it('a config path that is a directory is named with what is wrong: exit 2, never EISDIR', async () => {
      const result = await runCli(['status', temp.dir]);
      expect(result.code).to.equal(2);
      expect(result.stderr).to.equal(
        ` ›   Error: cannot read config ${temp.dir}: it is a directory; CONFIG is a file (JSON or YAML)\n`,
      );
    });

    it('a config path that does not exist is named, and nothing is created for it (not even user settings)', async () => {
      const settings = path.join(temp.dir, 'settings');
      const missing = path.join(temp.dir, 'absent.json');
      const result = await runCli(['status', missing], { env: { OPROC_CONFIG_DIR: settings } });
      expect(result.code).to.equal(2);
      expect(result.stderr).to.equal(` ›   Error: cannot read config ${missing}: no such file\n`);
      expect(await tree()).to.deep.equal([]);
    });

    it('no read-only command creates an embedded database: each says the database is not there, and how to create it', async () => {
      const config = path.join(temp.dir, 'site.json');
      await writeFile(
        config,
        JSON.stringify({
          processing: { backend: 'pouchdb', path: 'state/procesing' },
          dataflow: { backend: 'pouchdb', path: 'state/procesing' },
          ratdb: { backend: 'pglite', path: 'state/ratbd' },
          processing_information: path.join(root, 'demo', 'processing_information.example.json'),
        }),
      );
      const processing = path.join(temp.dir, 'state', 'procesing');
      const reads = [
        ['status', config],
        ['status', config, '7.0.8'],
        ['why', config, '7.0.8', 'L2', '300001'],
        ['passes', config],
        ['locks', config],
        ['locks', 'release', config, 'PCA', '--validto', '300012'],
        ['retry', config, '7.0.8', '--run', '300001', '--yes'],
        ['cancel', config, '7.0.8', '--run', '300001', '-m', 'Processing', '--yes'],
        ['reprocess', 'resume', config, 'sub_2026-12-05T18-54-45Z_cb3a'],
        ['serve', config, '--port', '0'],
      ];
      for (const args of reads) {
        const result = await runCli(args);
        expect(result.code, `${args.join(' ')}\n${result.stderr}`).to.equal(2);
        expect(result.stderr.split('\n'), args.join(' ')).to.deep.equal([
          ` ›   Error: no processing database at ${processing} (processing.path in config ${config}); nothing was created`,
          ' ›   Try this:',
          ` ›     * If the path is mistyped, correct processing.path in ${config}`,
          ` ›     * To create the databases: oproc init ${config}`,
          '',
        ]);
        expect(await tree(), args.join(' ')).to.deep.equal(['site.json']);
      }
      const tags = await runCli(['ratdb', 'tags', config]);
      expect(tags.code).to.equal(2);
      expect(tags.stderr).to.include(
        `Error: no ratdb database at ${path.join(temp.dir, 'state', 'ratbd')} (ratdb.path in config ${config}); nothing was created`,
      );
      // modules reads only the processing information: it works, and opens no database.
      const modules = await runCli(['modules', config, '7.0.8']);
      expect(modules.code, modules.stderr).to.equal(0);
      expect(await tree()).to.deep.equal(['site.json']);
    });
  });
});
