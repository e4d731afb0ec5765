import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';

import { expect } from 'chai';

import { runCli, type CliResult } from '../support/cli.js';
import { tempDir } from '../support/context.js';

describe('shell completion (oproc autocomplete)', function () {
  this.timeout(60_000);
  let oclifDirs: Awaited<ReturnType<typeof tempDir>>;
  const cacheDir = () => path.join(oclifDirs.dir, 'cache');

  // The completion cache lives in OPROC_CACHE_DIR: a temp dir keeps the user's own untouched.
  const cli = (...args: string[]): Promise<CliResult> =>
    runCli(args, {
      env: {
        OPROC_DATA_DIR: path.join(oclifDirs.dir, 'data'),
        OPROC_CONFIG_DIR: path.join(oclifDirs.dir, 'config'),
        OPROC_CACHE_DIR: cacheDir(),
      },
    });

  /** What bash offers after sourcing the setup line, for the words typed so far (the last one is being completed). */
  async function complete(setup: string, words: string[]): Promise<string[]> {
    const script = [
      setup,
      `COMP_WORDS=(${words.map((w) => `'${w}'`).join(' ')})`,
      `COMP_CWORD=${words.length - 1}`,
      '_oproc_autocomplete',
      'printf "%s\\n" "${COMPREPLY[@]}"',
    ].join('\n');
    const { stdout } = await promisify(execFile)('bash', ['--norc', '--noprofile', '-c', script]);
    return [...new Set(stdout.split('\n').filter(Boolean))];
  }

  beforeEach(async () => {
    oclifDirs = await tempDir('oproc-oclif-');
  });
  afterEach(() => oclifDirs.remove());

  it('oproc autocomplete bash builds the cache and says how to install it', async () => {
    const result = await cli('autocomplete', 'bash');
    expect(result.code, result.stderr).to.equal(0);
    expect(result.stdout).to.include('printf "$(oproc autocomplete script bash)" >> ~/.bashrc');
    const functions = await readFile(
      path.join(cacheDir(), 'autocomplete', 'functions', 'bash', 'oproc.bash'),
      'utf8',
    );
    expect(functions).to.match(/^reprocess:one-shot .*--ratdb-tag.*--find-prereq/m);
  });

  it('the script sourced in bash completes commands, subcommands and reprocess flags', async () => {
    expect((await cli('autocomplete', 'bash')).code).to.equal(0);
    const script = await cli('autocomplete', 'script', 'bash');
    expect(script.code, script.stderr).to.equal(0);
    expect(script.stdout).to.include(path.join(cacheDir(), 'autocomplete', 'bash_setup'));

    expect(await complete(script.stdout, ['oproc', 'repr'])).to.deep.equal(['reprocess']);
    expect(await complete(script.stdout, ['oproc', 'reprocess', ''])).to.include.members([
      'one-shot',
      'range',
      'runlist',
      'after',
      'resume',
    ]);
    expect(await complete(script.stdout, ['oproc', 'reprocess', 'one-shot', '--rat'])).to.deep.equal([
      '--ratdb-tag',
    ]);
  });

  it('zsh gets a completion function naming the reprocess flags too', async () => {
    expect((await cli('autocomplete', 'zsh')).code).to.equal(0);
    const script = await cli('autocomplete', 'script', 'zsh');
    expect(script.code, script.stderr).to.equal(0);
    expect(script.stdout).to.include(path.join(cacheDir(), 'autocomplete', 'zsh_setup'));
    const functions = await readFile(
      path.join(cacheDir(), 'autocomplete', 'functions', 'zsh', '_oproc'),
      'utf8',
    );
    expect(functions).to.include('reprocess');
    expect(functions).to.include('--ratdb-tag');
  });
});
