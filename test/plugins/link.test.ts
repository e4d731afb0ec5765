import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';

import { expect } from 'chai';

import type { RatdbTable } from '../../src/backends/types.js';
import type { ModulesResult } from '../../src/commands/modules/index.js';
import type { SubmissionResult } from '../../src/engine/reprocess.js';
import { json, runCli, type CliResult } from '../support/cli.js';
import { tempDir } from '../support/context.js';
import { scenario, type Scenario } from '../support/scenario.js';

const root = path.resolve(import.meta.dirname, '../..');
const example = path.join(root, 'examples', 'oproc-plugin-example');
const pluginName = 'oproc-plugin-example';

/** The RATDB tables of RAT 7.0.8 that scenario.ts does not load: DataQuality's and the plugin's own. */
function extraTables(first: number, last: number): RatdbTable[] {
  const range = { index: '', run_begin: first, run_end: last, version: 1, pass: 0 };
  return [
    { ...range, type: 'DQHL', data: { checks: ['nhit', 'trigger'] } },
    { ...range, type: 'REACTOR_STATUS', data: { cores_on: 4 } },
  ];
}

describe('an external module plugin linked with oproc plugins link (PouchDB + PGlite)', function () {
  this.timeout(120_000);
  let oclifDirs: Awaited<ReturnType<typeof tempDir>>;
  let s: Scenario;
  let bySourceConfig: string;
  let rat708: string;
  let linked = false;

  // oclif keeps the plugin list in OPROC_DATA_DIR and caches in OPROC_CACHE_DIR: temp dirs keep the user's own
  // untouched. The registry points nowhere and npm is offline, so any network use fails the test.
  const cli = (...args: string[]): Promise<CliResult> =>
    runCli(args, {
      env: {
        OPROC_DATA_DIR: path.join(oclifDirs.dir, 'data'),
        OPROC_CONFIG_DIR: path.join(oclifDirs.dir, 'config'),
        OPROC_CACHE_DIR: path.join(oclifDirs.dir, 'cache'),
        OPROC_NPM_REGISTRY: 'http://127.0.0.1:9/',
        npm_config_offline: 'true',
        npm_config_registry: 'http://127.0.0.1:9/',
      },
    });
  const listed = (result: CliResult) => /^oproc-plugin-example 0\.1\.0 \(link\) /m.test(result.stdout);

  before(async () => {
    if (!existsSync(path.join(root, 'dist', 'commands', 'reprocess', 'one-shot.js'))) {
      throw new Error('the CLI is not built: run npm run build first');
    }
    oclifDirs = await tempDir('oproc-oclif-');
    s = await scenario('embedded');
    await s.addRuns([
      { run: 300100, types: ['Physics'], subruns: 2 },
      { run: 300101, types: ['Physics', 'DeployedSource'], subruns: 2 },
      { run: 300102, types: ['Physics'], subruns: 1 },
      // A later run makes 300102 complete.
      { run: 300103, types: ['Physics'], subruns: 1 },
    ]);
    await s.withDatabases((db) => db.ratdb.load(extraTables(300100, 300103)));
    // RAT 7.0.8 as a site brings it: the experiment's file, imported, beside the tests' own information.
    const imported = await cli(
      'modules',
      'import',
      path.join(root, 'test', 'fixtures', 'processing_information_7_0_8.py'),
    );
    expect(imported.code, imported.stderr).to.equal(0);
    rat708 = path.join(s.dir, 'rat-7.0.8.json');
    await writeFile(rat708, imported.stdout);
    const config = JSON.parse(await readFile(s.config, 'utf8')) as Record<string, unknown>;
    config.processing_information = ['info.json', 'rat-7.0.8.json'];
    await writeFile(s.config, JSON.stringify(config, null, 2));
    bySourceConfig = path.join(s.dir, 'by-source.json');
    await writeFile(bySourceConfig, JSON.stringify({ ...config, selector: 'by-source' }, null, 2));

    const before = await cli('plugins');
    expect(listed(before), 'the plugin is not linked before the test').to.equal(false);
    const link = await cli('plugins', 'link', example, '--no-install');
    expect(link.code, link.stderr).to.equal(0);
    linked = true;
  });

  after(async () => {
    if (linked) await cli('plugins', 'unlink', pluginName);
    await s?.cleanup();
    await oclifDirs?.remove();
  });

  it("the example type-checks against oproc's published types (tsc --checkJs)", async () => {
    const tsc = path.join(root, 'node_modules', 'typescript', 'bin', 'tsc');
    // execFile rejects on a non-zero exit, with tsc's messages on stdout.
    await promisify(execFile)(process.execPath, [tsc, '-p', path.join(example, 'jsconfig.json')]).catch(
      (error: { stdout?: string }) => expect.fail(`tsc found type errors:\n${error.stdout ?? String(error)}`),
    );
  });

  it('oproc plugins lists the linked plugin with its path', async () => {
    const result = await cli('plugins');
    expect(result.code, result.stderr).to.equal(0);
    expect(result.stdout).to.match(
      /^oproc-plugin-example 0\.1\.0 \(link\) .*examples\/oproc-plugin-example$/m,
    );
  });

  it("oproc modules shows the new module of 7.0.8 beside the site's imported ones, with the plugin as its source", async () => {
    const result = json<ModulesResult>(await cli('modules', s.config, '7.0.8', '--json'));
    expect(result.processing_modules.AntinuFit).to.deep.include({
      level: 'run_root',
      prerequisites: ['Processing'],
      ratdb_tables: ['RUN', 'REACTOR_STATUS'],
    });
    expect(result.sources).to.include({
      AntinuFit: pluginName,
      Processing: rat708,
    });
    expect(result.modules_for_run_type.Physics).to.have.members([
      'Processing',
      'DataQuality',
      'Analysis',
      'AntinuFit',
    ]);
    expect(result.selectors).to.deep.equal({ 'by-source': pluginName, 'run-type': 'oproc' });
  });

  it('reprocess creates a pass of the new module, linked to the Processing pass of the same submission', async () => {
    const result = await cli('reprocess', 'one-shot', s.config, '7.0.8', 'L2', '300100', '--json');
    expect(result.code, result.stderr).to.equal(0);
    const created = json<SubmissionResult>(result).created.map((c) => c.module);
    expect(created).to.have.members(['Processing', 'DataQuality', 'Analysis', 'AntinuFit']);

    const pass = (await s.job(300100, 'AntinuFit'))!.passes[0]!;
    expect(pass).to.deep.include({
      pass: 0,
      ratv: '7.0.8',
      status: 'waiting',
      level: 'run_root',
      path: 'mac/analysis/antinu/antinufit.mac',
      prerequisites: [{ module: 'Processing', pass: 0 }],
      subjobs: [{ subrun: null, status: 'waiting' }],
      nhit_cut: 10,
    });
  });

  it("the plugin's selector, named in the config, gives a DeployedSource run only Processing", async () => {
    const union = json<SubmissionResult>(
      await cli('reprocess', 'one-shot', s.config, '7.0.8', 'L2', '300101', '--dry-run', '--json'),
    );
    expect(union.created.map((c) => c.module)).to.have.members([
      'Processing',
      'DataQuality',
      'Analysis',
      'AntinuFit',
    ]);

    const result = await cli('reprocess', 'one-shot', bySourceConfig, '7.0.8', 'L2', '300101', '--json');
    expect(result.code, result.stdout).to.equal(0);
    expect(json<SubmissionResult>(result).created).to.deep.equal([
      { run: 300101, module: 'Processing', pass: 0 },
    ]);
    const jobs = await s.jobs([300101], ['Processing', 'DataQuality', 'Analysis', 'AntinuFit']);
    expect([...jobs.keys()]).to.deep.equal(['job_300101_Processing']);

    const physics = await cli('reprocess', 'one-shot', bySourceConfig, '7.0.8', 'L2', '300102', '--json');
    expect(physics.code, physics.stdout).to.equal(0);
    expect(
      json<SubmissionResult>(physics).created.map((c) => c.module),
      'other runs: the union',
    ).to.have.members(['Processing', 'DataQuality', 'Analysis', 'AntinuFit']);
  });

  it('oproc plugins unlink removes it: no AntinuFit, and a config naming by-source is refused', async () => {
    const unlink = await cli('plugins', 'unlink', pluginName);
    expect(unlink.code, unlink.stderr).to.equal(0);
    linked = false;

    expect(listed(await cli('plugins'))).to.equal(false);
    const modules = json<ModulesResult>(await cli('modules', s.config, '7.0.8', '--json'));
    expect(Object.keys(modules.processing_modules)).to.not.include('AntinuFit');
    expect(modules.selectors).to.deep.equal({ 'run-type': 'oproc' });

    const refused = await cli('reprocess', 'one-shot', bySourceConfig, '7.0.8', 'L2', '300100');
    expect(refused.code).to.equal(2);
    expect(refused.stderr).to.match(/unknown selector "by-source"/);
  });
});
