import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';

import { expect } from 'chai';

import { json, runCli } from '../support/cli.js';

const root = path.resolve(import.meta.dirname, '../..');
const fixture = (name: string) => path.join(root, 'test', 'fixtures', name);

/** The error text as one line: messages are prefixed with ›, and suggestions come on lines of their own. */
const oneLine = (stderr: string) => stderr.replace(/\s*›\s*/g, ' ').replace(/\s+/g, ' ');

describe('oproc modules (built CLI)', () => {
  let dir: string;

  before(() => {
    if (!existsSync(path.join(root, 'dist', 'commands', 'modules', 'import.js'))) {
      throw new Error('the CLI is not built: run npm run build first');
    }
  });
  beforeEach(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'oproc-modules-'));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  describe('modules import', () => {
    it('prints the JSON form of a fixture, with the RAT version from the file name', async () => {
      const result = await runCli(['modules', 'import', fixture('processing_information_7_0_8.py')]);
      expect(result.code, result.stderr).to.equal(0);
      const info = JSON.parse(result.stdout) as {
        ratv: string;
        processing_modules: Record<string, Record<string, unknown>>;
        modules_for_run_type: Record<string, string[]>;
      };
      expect(info.ratv).to.equal('7.0.8');
      expect(Object.keys(info.processing_modules)).to.deep.equal(['Processing', 'DataQuality', 'Analysis']);
      expect(info.processing_modules.Processing).to.include({ level: 'sub_run', raw_processor: true });
      expect(info.modules_for_run_type.TELLIE).to.deep.equal(['DataQuality', 'Processing']);
      // One line, however long the path of the clone: grep finds it and the path can be copied.
      expect(result.stderr.split('\n')).to.include(
        ` ›   Warning: ${fixture('processing_information_7_0_8.py')}:65:1: skipped a "if" statement`,
      );
    });

    it('takes --ratv over the file name, and --json gives the same object', async () => {
      const result = await runCli([
        'modules',
        'import',
        fixture('processing_information_7_0_15.py'),
        '--ratv',
        '7.0.15-patch1',
        '--json',
      ]);
      expect(result.code, result.stderr).to.equal(0);
      expect(json(result)).to.include({ ratv: '7.0.15-patch1' });
    });

    it('exits 2 at FILE:LINE:COLUMN for a syntax error', async () => {
      const file = path.join(dir, 'processing_information_7_0_9.py');
      await writeFile(
        file,
        'processing_modules = {\n    "Processing": {"level": "sub_run",\n        "path": "mac/p.mac}}\n',
      );
      const result = await runCli(['modules', 'import', file]);
      expect(result.code).to.equal(2);
      expect(result.stdout).to.equal('');
      expect(oneLine(result.stderr)).to.include(`${file}:3:17: unterminated string`);
    });

    it('exits 2 naming the module for content the catalog would refuse', async () => {
      const file = path.join(dir, 'processing_information_7_0_9.py');
      await writeFile(
        file,
        'processing_modules = {"Fit": {"level": "run", "path": "f.mac", "prerequisites": ["Processing"]}}\n' +
          'modules_for_run_type = {"Physics": set(["Fit"])}\n',
      );
      const result = await runCli(['modules', 'import', file]);
      expect(result.code).to.equal(2);
      expect(oneLine(result.stderr)).to.include('ratv 7.0.9: module Fit: prerequisite "Processing"');
    });

    it("imports the data-flow manual's shape: import lines skipped, Ganga output calls as { call, args, kwargs }", async () => {
      const file = fixture('processing_information_7_0_9.py');
      const result = await runCli(['modules', 'import', file]);
      expect(result.code, result.stderr).to.equal(0);
      expect(result.stderr, 'no statement skipped with a warning').to.equal('');
      const pgsql = (namePattern: string, version: number) => ({
        args: [],
        kwargs: {
          namePattern,
          dbServer: 'postgres://pgsql.example.org:5400',
          dbName: 'ratdbtest',
          passDefault: -1,
          version,
        },
      });
      const partialWater = 'mac/processing/partial_water';
      expect(JSON.parse(result.stdout)).to.deep.equal({
        ratv: '7.0.9',
        processing_modules: {
          Processing: {
            type: 'macro',
            level: 'sub_run',
            path: `${partialWater}/processing.mac`,
            ganga_outputs: [
              { call: 'LocalFile', args: ['*.zdab.root'], kwargs: {} },
              { call: 'MassStorageFile', args: ['*.ntuple.root', '/snoplus/processed'], kwargs: {} },
            ],
            outputs: ['ratds', 'ntuple'],
            prerequisites: [],
            raw_processor: true,
          },
          DQCSS: {
            type: 'macro',
            level: 'run',
            path: `${partialWater}/runLevelProcessing.mac`,
            ganga_outputs: [{ call: 'PGSQLFile', ...pgsql('CSS_RESULT_*.ratdb', 1) }],
            outputs: [],
            prerequisites: ['Processing'],
            raw_processor: false,
          },
          DQHL: {
            type: 'macro',
            level: 'run',
            path: `${partialWater}/dqhl.mac`,
            ganga_outputs: [{ call: 'Applications.PGSQLFile', ...pgsql('DQHL_*.ratdb', 2) }],
            outputs: [],
            prerequisites: ['Processing'],
            raw_processor: false,
          },
          Analysis: {
            type: 'macro',
            level: 'run_root',
            path: `${partialWater}/analysis.mac`,
            ganga_outputs: [
              {
                call: 'MassStorageFile',
                args: [],
                kwargs: {
                  namePattern: '*.analysis.root',
                  inputfiles: [{ call: 'LocalFile', args: ['analysis.log'], kwargs: {} }],
                  compressed: false,
                },
              },
            ],
            outputs: ['ntuple'],
            prerequisites: ['Processing'],
            raw_processor: false,
            nhit_cut: null,
          },
        },
        modules_for_run_type: {
          Physics: ['Analysis', 'DQCSS', 'DQHL', 'Processing'],
          DeployedSource: ['DQCSS', 'Processing'],
          TELLIE: ['Processing'],
          Maintenance: [],
        },
      });
    });

    // The manual's file with one value changed: still refused where it stands, nothing printed.
    for (const [what, written, at] of [
      ['a bare name', 'passDefault = PASS_DEFAULT, version = 1)', '21:79: "PASS_DEFAULT" is not a literal'],
      ['an arithmetic expression', 'passDefault = -1, version = 1 + 1)', '21:95: expected "," or ")"'],
    ] as const) {
      it(`refuses ${what} in a call's arguments at FILE:LINE:COLUMN, exit 2, nothing printed`, async () => {
        const text = await readFile(fixture('processing_information_7_0_9.py'), 'utf8');
        const file = path.join(dir, 'processing_information_7_0_9.py');
        await writeFile(file, text.replace('passDefault = -1, version = 1)', written));
        const result = await runCli(['modules', 'import', file]);
        expect(result.code).to.equal(2);
        expect(result.stdout).to.equal('');
        expect(oneLine(result.stderr)).to.include(`${file}:${at}`);
      });
    }

    it('exits 2 when the RAT version cannot be told', async () => {
      const file = path.join(dir, 'info.py');
      await writeFile(file, 'processing_modules = {}\nmodules_for_run_type = {}\n');
      const result = await runCli(['modules', 'import', file]);
      expect(result.code).to.equal(2);
      expect(oneLine(result.stderr)).to.include('--ratv');
    });

    it('exits 2 for a file that does not exist', async () => {
      const result = await runCli(['modules', 'import', path.join(dir, 'processing_information_1_0_0.py')]);
      expect(result.code).to.equal(2);
      expect(oneLine(result.stderr)).to.include('no such file');
    });
  });

  describe('modules CONFIG RATV, with the files imported from the experiment and nothing else installed', () => {
    /** `oproc modules import FIXTURE > dir/NAME`, as a site would bring its information. */
    async function imported(pyFile: string, name: string): Promise<string> {
      const result = await runCli(['modules', 'import', fixture(pyFile)]);
      expect(result.code, result.stderr).to.equal(0);
      await writeFile(path.join(dir, name), result.stdout);
      return name;
    }

    async function site(information: string | string[] | undefined, extra?: unknown): Promise<string> {
      const config = path.join(dir, 'site.json');
      await writeFile(
        config,
        JSON.stringify({
          processing: { backend: 'pouchdb', path: 'p' },
          dataflow: { backend: 'pouchdb', path: 'p' },
          ratdb: { backend: 'pglite', path: 'r' },
          ...(information === undefined ? {} : { processing_information: information }),
        }),
      );
      if (extra !== undefined) {
        await writeFile(
          path.join(dir, 'extra.json'),
          typeof extra === 'string' ? extra : JSON.stringify(extra),
        );
      }
      return config;
    }

    const recoordination = {
      ratv: '7.0.8',
      processing_modules: {
        Recoordination: {
          level: 'run',
          path: 'mac/recoord.mac',
          prerequisites: ['Processing'],
          ratdb_tables: ['RUN'],
        },
      },
      modules_for_run_type: { Physics: ['Recoordination'] },
    };

    it('the default install holds no processing information', async () => {
      const config = await site(undefined);
      // No plugin the user may have installed: oclif's plugin list in an empty data directory.
      const env = { OPROC_DATA_DIR: path.join(dir, 'oclif-data') };
      const listed = await runCli(['modules', config, '--json'], { cwd: dir, env });
      expect(listed.code, listed.stderr).to.equal(0);
      expect(json(listed)).to.deep.include({ ratvs: [] });

      const result = await runCli(['modules', config, '7.0.8'], { cwd: dir, env });
      expect(result.code).to.equal(2);
      expect(result.stderr).to.include(
        'Error: no processing information for RAT version 7.0.8 (versions with processing information: none)',
      );
    });

    it('lists modules and run types from the imported file and another file, with their sources', async () => {
      const config = await site(
        [await imported('processing_information_7_0_8.py', 'pi.json'), 'extra.json'],
        [recoordination],
      );
      const result = await runCli(['modules', config, '7.0.8'], { cwd: dir });
      expect(result.code, result.stderr).to.equal(0);
      const lines = result.stdout.split('\n');
      expect(lines.find((l) => l.startsWith('Processing '))).to.match(
        /sub_run +mac\/processing\/processing.mac +- +RUN, DAQ_RUN_LEVEL, PMT_DQXX, PMTCALIB +pi\.json$/,
      );
      expect(lines.find((l) => l.startsWith('Recoordination '))).to.match(
        /run +mac\/recoord.mac +Processing +RUN +extra\.json$/,
      );
      expect(lines.find((l) => l.startsWith('Physics '))).to.match(
        /Physics +Processing, DataQuality, Analysis, Recoordination$/,
      );
      expect(lines.find((l) => l.startsWith('TELLIE '))).to.match(/TELLIE +Processing, DataQuality$/);
    });

    it('returns the merged information with sources under --json', async () => {
      const config = await site(
        [await imported('processing_information_7_0_8.py', 'pi.json'), 'extra.json'],
        recoordination,
      );
      const result = await runCli(['modules', config, '7.0.8', '--json'], { cwd: dir });
      expect(result.code, result.stderr).to.equal(0);
      const merged = json<{
        ratv: string;
        processing_modules: Record<string, Record<string, unknown>>;
        modules_for_run_type: Record<string, string[]>;
        sources: Record<string, string>;
      }>(result);
      expect(merged.ratv).to.equal('7.0.8');
      expect(merged.sources).to.deep.equal({
        Processing: 'pi.json',
        DataQuality: 'pi.json',
        Analysis: 'pi.json',
        Recoordination: 'extra.json',
      });
      expect(merged.processing_modules.Recoordination).to.include({ type: 'macro', raw_processor: false });
      expect(merged.processing_modules.DataQuality).to.include({ other_suffix: '_dq' });
      expect(merged.modules_for_run_type.Physics).to.include('Recoordination');
    });

    it('names the RAT versions that exist when asked for another, and how to provide one, exit 2', async () => {
      const config = await site([
        await imported('processing_information_7_0_8.py', 'pi-7.0.8.json'),
        await imported('processing_information_7_0_15.py', 'pi-7.0.15.json'),
      ]);
      const result = await runCli(['modules', config, '6.0.0'], { cwd: dir });
      expect(result.code).to.equal(2);
      const lines = result.stderr.split('\n');
      expect(lines).to.include(
        ' ›   Error: no processing information for RAT version 6.0.0 (versions with processing information: 7.0.8, 7.0.15)',
      );
      expect(oneLine(result.stderr))
        .to.include('oproc modules import processing_information_6_0_0.py > 6.0.0.json')
        .and.include('"processing_information" (a file or a list of files)')
        .and.include('module plugin');
    });

    it('names both files when one redefines a module of the other differently, exit 2', async () => {
      const config = await site(
        [await imported('processing_information_7_0_8.py', 'pi.json'), 'extra.json'],
        {
          ratv: '7.0.8',
          processing_modules: { Processing: { level: 'sub_run', path: 'mac/mine.mac', raw_processor: true } },
        },
      );
      const result = await runCli(['modules', config, '7.0.8'], { cwd: dir });
      expect(result.code).to.equal(2);
      expect(result.stderr).to.include('module Processing is defined differently by pi.json and extra.json');
    });

    it('names the file, line and column of invalid JSON, exit 2', async () => {
      const config = await site('extra.json', '[\n  { "ratv": "7.0.8",\n    processing_modules: {} }\n]');
      const result = await runCli(['modules', config, '7.0.8'], { cwd: dir });
      expect(result.code).to.equal(2);
      expect(result.stderr).to.include('extra.json:3:5');
    });

    it('lists the RAT versions when RATV is left out', async () => {
      const config = await site(
        [await imported('processing_information_7_0_15.py', 'pi.json'), 'extra.json'],
        {
          ratv: '6.18.9',
          processing_modules: {},
        },
      );
      const env = { OPROC_DATA_DIR: path.join(dir, 'oclif-data') };
      const result = await runCli(['modules', config, '--json'], { cwd: dir, env });
      expect(result.code, result.stderr).to.equal(0);
      expect(json(result)).to.deep.include({
        ratvs: ['6.18.9', '7.0.15'],
        sources: { '6.18.9': ['extra.json'], '7.0.15': ['pi.json'] },
        module_plugins: [],
      });
      const text = await runCli(['modules', config], { cwd: dir, env });
      expect(text.stdout.split('\n')).to.deep.equal([
        'RAT versions with processing information: 6.18.9, 7.0.15',
        '  6.18.9: extra.json',
        '  7.0.15: pi.json',
        'module plugins used (every installed one): none',
        '',
      ]);
    });
  });
});
