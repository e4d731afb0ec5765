import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';

import { expect } from 'chai';

import type { RatdbTable } from '../../src/backends/types.js';
import type { ModulesResult } from '../../src/commands/modules/index.js';
import type { SubmissionResult } from '../../src/engine/reprocess.js';
import { json, runCli, type CliResult } from '../support/cli.js';
import { tempDir } from '../support/context.js';
import { scenario, type Scenario } from '../support/scenario.js';

const root = path.resolve(import.meta.dirname, '../..');
const fixture = (name: string) => path.join(root, 'test', 'fixtures', name);
const examplePlugin = fixture('oproc-plugin-modules-example');
const pluginName = 'oproc-plugin-modules-example';

/** The RATDB tables of the imported modules that scenario.ts does not load (DataQuality's, 7.0.15's). */
function siteTables(first: number, last: number): RatdbTable[] {
  const range = { index: '', run_begin: first, run_end: last, version: 1, pass: 0 };
  return [
    { ...range, type: 'DQHL', data: { checks: ['nhit', 'trigger'] } },
    { ...range, type: 'NOISE_RUN_LEVEL', data: { rate: [1.5] } },
    { ...range, type: 'EFFECTIVE_VELOCITY', data: { velocity: 185.0 } },
    { ...range, type: 'OPTICS', index: 'labppo_2p2_scintillator', data: { absorption: [0.1] } },
  ];
}

describe("a site's own processing information: the experiment's files, imported (PouchDB + PGlite)", function () {
  this.timeout(180_000);
  let oclifDirs: Awaited<ReturnType<typeof tempDir>>;
  let s: Scenario;
  let sections: Record<string, unknown>;

  // oclif's plugin list, config and cache in temp dirs: no plugin of the user's, and links made here stay here.
  const cli = (...args: string[]): Promise<CliResult> =>
    runCli(args, {
      cwd: s.dir,
      env: {
        OPROC_DATA_DIR: path.join(oclifDirs.dir, 'data'),
        OPROC_CONFIG_DIR: path.join(oclifDirs.dir, 'config'),
        OPROC_CACHE_DIR: path.join(oclifDirs.dir, 'cache'),
        npm_config_offline: 'true',
        npm_config_registry: 'http://127.0.0.1:9/',
      },
    });

  /** A config in the scenario's directory: its databases, and the keys given. */
  async function site(name: string, keys: Record<string, unknown>): Promise<string> {
    const file = path.join(s.dir, name);
    await writeFile(file, JSON.stringify({ ...sections, ...keys }, null, 2));
    return file;
  }

  const created = (result: CliResult) => json<SubmissionResult>(result).created;

  before(async () => {
    oclifDirs = await tempDir('oproc-oclif-');
    s = await scenario('embedded');
    await s.addRuns([
      { run: 300000, types: ['Physics'], subruns: 2 },
      { run: 300001, types: ['Physics'], subruns: 1 },
      { run: 300002, types: ['ExternalSource', 'TELLIE'], subruns: 1 },
      { run: 300003, types: ['Physics'], subruns: 1 },
      { run: 300004, types: ['Physics'], subruns: 1 },
      // A later run makes 300004 complete.
      { run: 300005, types: ['Physics'], subruns: 1 },
    ]);
    await s.withDatabases((db) => db.ratdb.load(siteTables(300000, 300005)));
    const { processing, dataflow, ratdb } = JSON.parse(await readFile(s.config, 'utf8')) as Record<
      string,
      unknown
    >;
    sections = { processing, dataflow, ratdb };

    // As the README says: oproc modules import processing_information_7_0_8.py > pi.json
    for (const [py, out] of [
      ['processing_information_7_0_8.py', 'pi.json'],
      ['processing_information_7_0_15.py', 'pi-7.0.15.json'],
    ] as const) {
      const imported = await cli('modules', 'import', fixture(py));
      expect(imported.code, imported.stderr).to.equal(0);
      await writeFile(path.join(s.dir, out), imported.stdout);
    }
  });

  after(async () => {
    await s?.cleanup();
    await oclifDirs?.remove();
  });

  describe('with nothing installed but the backends', () => {
    it('reprocess range with processing_information: "pi.json" creates the passes the file defines', async () => {
      const config = await site('site.json', { processing_information: 'pi.json' });
      const outlist = path.join(s.dir, 'site.exactly');
      const result = await cli(
        'reprocess',
        'range',
        config,
        '7.0.8',
        'L2',
        '300000',
        '300002',
        '-o',
        outlist,
        '--json',
      );
      expect(result.code, result.stdout + result.stderr).to.equal(0);
      expect(created(result)).to.have.deep.members([
        { run: 300000, module: 'Processing', pass: 0 },
        { run: 300000, module: 'DataQuality', pass: 0 },
        { run: 300000, module: 'Analysis', pass: 0 },
        { run: 300001, module: 'Processing', pass: 0 },
        { run: 300001, module: 'DataQuality', pass: 0 },
        { run: 300001, module: 'Analysis', pass: 0 },
        // ExternalSource + TELLIE: the union of both rows of modules_for_run_type.
        { run: 300002, module: 'Processing', pass: 0 },
        { run: 300002, module: 'DataQuality', pass: 0 },
      ]);
      expect((await readFile(outlist, 'utf8')).trim().split('\n')).to.include('Processing\t300000\t0');

      // The experiment's fields, as the file gives them, in the pass the grid job reads.
      const processing = (await s.job(300000, 'Processing'))!.passes[0]!;
      expect(processing).to.deep.include({
        ratv: '7.0.8',
        level: 'sub_run',
        path: 'mac/processing/processing.mac',
        ganga_outputs: ['*.zdab.root'],
        subjobs: [
          { subrun: 0, status: 'waiting' },
          { subrun: 1, status: 'waiting' },
        ],
      });
      const analysis = (await s.job(300000, 'Analysis'))!.passes[0]!;
      expect(analysis).to.deep.include({
        prerequisites: [{ module: 'Processing', pass: 0 }],
        nhit_cut: 20,
        energy_window: [-0.5, 15],
        ganga_outputs: ['*.ntuple.root'],
      });
    });

    it('a list of files gives each RAT version its own; passes count on across versions', async () => {
      const config = await site('both.json', { processing_information: ['pi.json', 'pi-7.0.15.json'] });
      const result = await cli('reprocess', 'one-shot', config, '7.0.15', 'L2', '300001', '--json');
      expect(result.code, result.stdout + result.stderr).to.equal(0);
      expect(created(result)).to.have.deep.members([
        { run: 300001, module: 'Processing', pass: 1 },
        { run: 300001, module: 'ScintFit', pass: 0 },
        { run: 300001, module: 'Analysis', pass: 1 },
      ]);
      const analysis = (await s.job(300001, 'Analysis'))!.passes[1]!;
      expect(analysis.prerequisites).to.have.deep.members([
        { module: 'ScintFit', pass: 0 },
        { module: 'Processing', pass: 1 },
      ]);
    });

    it("oproc modules names each module's file", async () => {
      const config = await site('both.json', { processing_information: ['pi.json', 'pi-7.0.15.json'] });
      const result = json<ModulesResult>(await cli('modules', config, '7.0.15', '--json'));
      expect(result.sources).to.deep.equal({
        Processing: 'pi-7.0.15.json',
        ScintFit: 'pi-7.0.15.json',
        Analysis: 'pi-7.0.15.json',
      });
    });
  });

  describe('with a module plugin that defines RAT 7.0.8 too, linked beside the file', () => {
    let linked = false;

    before(async () => {
      const link = await cli('plugins', 'link', examplePlugin, '--no-install');
      expect(link.code, link.stderr).to.equal(0);
      linked = true;
    });
    after(async () => {
      if (linked) await cli('plugins', 'unlink', pluginName);
    });

    it('without module_plugins both sources count: the existing conflict message, exit 2, nothing written', async () => {
      const config = await site('site.json', { processing_information: 'pi.json' });
      const result = await cli('reprocess', 'one-shot', config, '7.0.8', 'L2', '300003');
      expect(result.code).to.equal(2);
      expect(result.stderr).to.include(
        ` ›   Error: ratv 7.0.8: module Processing is defined differently by ${pluginName} and pi.json (differing fields: ganga_outputs)`,
      );
      expect(await s.job(300003, 'Processing')).to.equal(undefined);
    });

    it('module_plugins: [] leaves the plugin out: the file alone, and the passes are created', async () => {
      const config = await site('own.json', { processing_information: 'pi.json', module_plugins: [] });
      const modules = json<ModulesResult>(await cli('modules', config, '7.0.8', '--json'));
      expect(modules.sources).to.deep.equal({
        Processing: 'pi.json',
        DataQuality: 'pi.json',
        Analysis: 'pi.json',
      });

      const result = await cli('reprocess', 'one-shot', config, '7.0.8', 'L2', '300003', '--json');
      expect(result.code, result.stdout + result.stderr).to.equal(0);
      expect(created(result).map((c) => c.module)).to.have.members(['Processing', 'DataQuality', 'Analysis']);
      expect((await s.job(300003, 'Processing'))!.passes[0]!.ganga_outputs).to.deep.equal(['*.zdab.root']);
    });

    it('another site names the plugin in module_plugins and uses it, whatever the first site does', async () => {
      const config = await site('other.json', { module_plugins: [pluginName] });
      const modules = json<ModulesResult>(await cli('modules', config, '7.0.8', '--json'));
      expect(modules.sources).to.deep.equal({
        Processing: pluginName,
        DataQuality: pluginName,
        Analysis: pluginName,
      });
      const result = await cli('reprocess', 'one-shot', config, '7.0.8', 'L2', '300004', '--json');
      expect(result.code, result.stdout + result.stderr).to.equal(0);
      expect((await s.job(300004, 'Processing'))!.passes[0]!.ganga_outputs).to.deep.equal([
        '*.zdab.root',
        '*.ntuple.root',
      ]);
    });

    it('naming the plugin and the file makes both active again: the conflict, exit 2', async () => {
      const config = await site('both-sources.json', {
        processing_information: 'pi.json',
        module_plugins: [pluginName],
      });
      const result = await cli('modules', config, '7.0.8');
      expect(result.code).to.equal(2);
      expect(result.stderr).to.include(
        `module Processing is defined differently by ${pluginName} and pi.json`,
      );
    });

    it('a name in module_plugins that is not installed is a config error naming the installed ones, exit 2', async () => {
      const config = await site('typo.json', {
        processing_information: 'pi.json',
        module_plugins: ['@site/plugin-modules-x'],
      });
      const result = await cli('reprocess', 'one-shot', config, '7.0.8', 'L2', '300003');
      expect(result.code).to.equal(2);
      expect(result.stderr).to.include(
        `Error: config ${config}: module_plugins: "@site/plugin-modules-x" is not installed (installed module plugins: ${pluginName})`,
      );
      const job = await s.job(300003, 'Processing');
      expect(job!.passes, 'nothing written').to.have.length(1);
    });

    it('module_plugins must be a list of names', async () => {
      const config = await site('bad.json', { module_plugins: pluginName });
      const result = await cli('modules', config, '7.0.8');
      expect(result.code).to.equal(2);
      expect(result.stderr).to.match(/config .*bad\.json: module_plugins: expected array/);
    });
  });
});
