import { readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';

import type { Config } from '@oclif/core';
import { expect } from 'chai';

import type { OprocConfig } from '../../src/config/load.js';
import { runTypeNames, runTypeWord } from '../../src/engine/run-type.js';
import type { ModulesContribution, ProcessingInformation } from '../../src/engine/types.js';
import { ExitCode, OprocError } from '../../src/errors.js';
import { ModuleCatalog, runTypeSelector, type CatalogSource } from '../../src/modules/catalog.js';

/** The example module plugin of the tests (made-up information for RAT 7.0.8 and 7.0.15). */
const plugin = 'oproc-plugin-modules-example';
const example: CatalogSource = {
  source: plugin,
  contribution: {
    processing_information: JSON.parse(
      readFileSync(
        path.join(import.meta.dirname, '../fixtures/oproc-plugin-modules-example/information.json'),
        'utf8',
      ),
    ) as ProcessingInformation[],
  },
};

function info(
  ratv: string,
  modules: Record<string, unknown>,
  runTypes: Record<string, string[]> = {},
): unknown {
  return { ratv, processing_modules: modules, modules_for_run_type: runTypes };
}

/** A source from untyped data, as a JavaScript plugin or a JSON file could give it. */
function source(name: string, ...information: unknown[]): CatalogSource {
  return { source: name, contribution: { processing_information: information } as ModulesContribution };
}

function usageFailure(work: () => unknown): OprocError {
  try {
    work();
  } catch (error) {
    expect(error).to.be.instanceOf(OprocError);
    expect((error as OprocError).exitCode).to.equal(ExitCode.Usage);
    return error as OprocError;
  }
  expect.fail('expected a usage error');
}

async function loadFailure(oclif: Config, config: OprocConfig): Promise<OprocError> {
  const error = await ModuleCatalog.load(oclif, config).then(
    () => expect.fail('expected loading to fail'),
    (e: unknown) => e,
  );
  expect(error).to.be.instanceOf(OprocError);
  return error as OprocError;
}

const run = (...bits: string[]) => ({ run: 300050, runtype: runTypeWord(...bits), run_type_names: bits });

describe('module catalog', () => {
  describe('the run-type selector', () => {
    const catalog = ModuleCatalog.fromSources([example]);
    const v708 = catalog.forRatv('7.0.8');

    it('takes the union over the set bits: a TELLIE run is ExternalSource and TELLIE', async () => {
      const tellie = runTypeWord('ExternalSource', 'TELLIE');
      const names = runTypeNames(tellie);
      expect(await runTypeSelector({ run: 1, runtype: tellie, run_type_names: names }, v708)).to.deep.equal([
        'Processing',
        'DataQuality',
      ]);
    });

    it('returns modules in processing_modules order, each once', async () => {
      const selected = await runTypeSelector(run('Supernova', 'Physics', 'PCA'), catalog.forRatv('7.0.15'));
      expect(selected).to.deep.equal(['Processing', 'DataQuality', 'Analysis', 'ScintFit']);
    });

    it('selects nothing for bits no module runs for', async () => {
      expect(await runTypeSelector(run('Maintenance', 'Transition'), v708)).to.deep.equal([]);
    });

    it('is the built-in "run-type" selector', () => {
      expect(catalog.selector('run-type')).to.equal(runTypeSelector);
      expect(catalog.selectorNames()).to.deep.equal(['run-type']);
    });
  });

  describe('merging sources', () => {
    const extra = source(
      'extra.json',
      info(
        '7.0.8',
        { Recoordination: { level: 'run', path: 'mac/recoord.mac', prerequisites: ['Processing'] } },
        { Physics: ['Recoordination'], PCA: ['Recoordination', 'Processing'] },
      ),
    );

    it('adds modules of one RAT version from several sources and unions the run-type lists', () => {
      const merged = ModuleCatalog.fromSources([example, extra]).forRatv('7.0.8');
      expect(Object.keys(merged.processing_modules)).to.deep.equal([
        'Processing',
        'DataQuality',
        'Analysis',
        'Recoordination',
      ]);
      expect(merged.modules_for_run_type.Physics).to.deep.equal([
        'Processing',
        'DataQuality',
        'Analysis',
        'Recoordination',
      ]);
      expect(merged.modules_for_run_type.PCA).to.deep.equal(['Processing', 'Recoordination']);
    });

    it('names the source of each module', () => {
      const catalog = ModuleCatalog.fromSources([example, extra]);
      expect(catalog.sourceOf('7.0.8', 'Processing')).to.equal(plugin);
      expect(catalog.sourceOf('7.0.8', 'Recoordination')).to.equal('extra.json');
      expect(usageFailure(() => catalog.sourceOf('7.0.8', 'Nope')).message).to.include('Recoordination');
    });

    it('accepts the same module twice when the definitions are identical once defaults are filled', () => {
      const a = source(
        'a.json',
        info('7.0.8', { P: { level: 'run', path: 'p.mac', type: 'macro', outputs: [] } }),
      );
      const b = source('b.json', info('7.0.8', { P: { level: 'run', path: 'p.mac' } }));
      expect(ModuleCatalog.fromSources([a, b]).sourceOf('7.0.8', 'P')).to.equal('a.json');
    });

    it('refuses one module defined differently by two sources, naming both and the differing fields', () => {
      const clash = source(
        'site/processing_information.json',
        info('7.0.8', { Processing: { level: 'sub_run', path: 'mac/other.mac', raw_processor: true } }),
      );
      const error = usageFailure(() => ModuleCatalog.fromSources([example, clash]));
      expect(error.message).to.include(plugin).and.include('site/processing_information.json');
      expect(error.message).to.include('ratv 7.0.8').and.include('module Processing').and.include('path');
    });

    it('keeps fields the experiment adds and fills the defaults', () => {
      const catalog = ModuleCatalog.fromSources([
        source(
          'x.json',
          info('7.0.8', { Fit: { level: 'run_root', path: 'fit.mac', nhit_cut: 20, other_suffix: '_f' } }),
        ),
      ]);
      expect(catalog.forRatv('7.0.8').processing_modules.Fit).to.deep.equal({
        type: 'macro',
        level: 'run_root',
        path: 'fit.mac',
        outputs: [],
        prerequisites: [],
        raw_processor: false,
        ratdb_tables: [],
        nhit_cut: 20,
        other_suffix: '_f',
      });
    });

    it('hands out copies, so a caller cannot change the catalog', () => {
      const catalog = ModuleCatalog.fromSources([example]);
      catalog.forRatv('7.0.8').processing_modules.Processing!.path = 'changed';
      expect(catalog.forRatv('7.0.8').processing_modules.Processing!.path).to.equal(
        'mac/processing/processing.mac',
      );
    });
  });

  describe('validation', () => {
    const cases: [string, unknown, string[]][] = [
      ['a missing level', info('7.0.8', { Fit: { path: 'f.mac' } }), ['module Fit', 'level', 'missing']],
      [
        'an unknown level',
        info('7.0.8', { Fit: { level: 'subrun', path: 'f.mac' } }),
        ['module Fit', 'level', 'sub_run, run, run_zdab, run_root'],
      ],
      [
        'a path that is not a string',
        info('7.0.8', { Fit: { level: 'run', path: 3 } }),
        ['module Fit', 'path'],
      ],
      [
        'a malformed RATDB table',
        info('7.0.8', { Fit: { level: 'run', path: 'f.mac', ratdb_tables: ['RUN', 'PMT_DQXX[0'] } }),
        ['module Fit', 'ratdb_tables[1]', 'TYPE[index]'],
      ],
      [
        'a prerequisite of another RAT version',
        info('7.0.8', { Fit: { level: 'run', path: 'f.mac', prerequisites: ['ScintFit'] } }),
        ['module Fit', 'prerequisite "ScintFit"', 'modules: Fit'],
      ],
      [
        'a run type that is not a bit name',
        info('7.0.8', { Fit: { level: 'run', path: 'f.mac' } }, { Physic: ['Fit'] }),
        ['"Physic"', 'run type'],
      ],
      [
        'a run-type entry naming no module',
        info('7.0.8', { Fit: { level: 'run', path: 'f.mac' } }, { Physics: ['Fit', 'Analysis'] }),
        ['modules_for_run_type.Physics', '"Analysis"'],
      ],
      [
        'a prerequisite cycle',
        info('7.0.8', {
          A: { level: 'run', path: 'a.mac', prerequisites: ['B'] },
          B: { level: 'run', path: 'b.mac', prerequisites: ['A'] },
        }),
        ['cycle', 'A -> B -> A'],
      ],
      ['a missing ratv', { processing_modules: {} }, ['ratv', 'missing']],
    ];
    for (const [problem, raw, words] of cases) {
      it(`names the source, RAT version and module of ${problem}`, () => {
        const error = usageFailure(() => ModuleCatalog.fromSources([source('bad.json', raw)]));
        expect(error.message).to.include('bad.json');
        if (problem !== 'a missing ratv') expect(error.message).to.include('ratv 7.0.8');
        for (const word of words) expect(error.message).to.include(word);
      });
    }

    it('checks references after merging, so a file may build on a plugin module', () => {
      const extra = source(
        'extra.json',
        info('7.0.15', { Recoord: { level: 'run', path: 'r.mac', prerequisites: ['ScintFit'] } }),
      );
      expect(() => ModuleCatalog.fromSources([example, extra])).not.to.throw();
    });
  });

  describe('RAT versions and selectors', () => {
    it('lists RAT versions in version order', () => {
      const catalog = ModuleCatalog.fromSources([example, source('old.json', info('6.18.9', {}))]);
      expect(catalog.ratvs()).to.deep.equal(['6.18.9', '7.0.8', '7.0.15']);
    });

    it('names the versions that exist when asked for one that does not', () => {
      const error = usageFailure(() => ModuleCatalog.fromSources([example]).forRatv('8.0.0'));
      expect(error.message).to.include('8.0.0').and.include('7.0.8, 7.0.15');
      expect(error.suggestions.join('\n'))
        .to.include('oproc modules import processing_information_8_0_0.py > 8.0.0.json')
        .and.include('"processing_information"')
        .and.include('module plugin');
    });

    it('offers a plugin selector by name', async () => {
      const bySource = () => ['Processing'];
      const catalog = ModuleCatalog.fromSources([
        example,
        { source: 'sources-plugin', contribution: { selectors: { 'by-source': bySource } } },
      ]);
      expect(catalog.selectorNames()).to.deep.equal(['by-source', 'run-type']);
      expect(catalog.selector('by-source')).to.equal(bySource);
    });

    it('refuses one selector name from two plugins, naming both', () => {
      const a = { source: 'plugin-a', contribution: { selectors: { 'by-source': () => [] } } };
      const b = { source: 'plugin-b', contribution: { selectors: { 'by-source': () => [] } } };
      const error = usageFailure(() => ModuleCatalog.fromSources([a, b]));
      expect(error.message).to.include('plugin-a').and.include('plugin-b').and.include('by-source');
    });

    it('lists the available selectors for an unknown name', () => {
      const error = usageFailure(() => ModuleCatalog.fromSources([example]).selector('by-source'));
      expect(error.message).to.include('by-source').and.include('run-type');
    });
  });

  describe('loading from plugins and the config', () => {
    let dir: string;
    beforeEach(async () => {
      dir = await mkdtemp(path.join(tmpdir(), 'oproc-catalog-'));
    });
    afterEach(async () => {
      await rm(dir, { recursive: true, force: true });
    });

    /** Installed plugins with an oproc:modules hook, and what each hook gives (an Error: the hook fails). */
    const oclif = (...results: { plugin: string; result: unknown }[]) =>
      ({
        plugins: new Map(
          [
            ...results.map(({ plugin }) => ({ name: plugin, hooks: { 'oproc:modules': [{}] } })),
            { name: '@oproc/plugin-pouchdb', hooks: { 'oproc:backends': [{}] } },
          ].map((plugin): [string, { name: string; hooks: Record<string, object[]> }] => [
            plugin.name,
            plugin,
          ]),
        ),
        runHook: async () => ({
          successes: [...results]
            .reverse()
            .filter(({ result }) => !(result instanceof Error))
            .map(({ plugin, result }) => ({ plugin: { name: plugin }, result })),
          failures: results
            .filter(({ result }) => result instanceof Error)
            .map(({ plugin, result }) => ({ plugin: { name: plugin }, error: result })),
        }),
      }) as unknown as Config;

    const config = (...files: string[]) =>
      ({ file: 'site.json', processingInformationFiles: files }) as unknown as OprocConfig;
    const naming = (modulePlugins: string[], ...files: string[]) =>
      ({ ...config(...files), modulePlugins }) as OprocConfig;
    const exampleResult = () => structuredClone(example.contribution);

    it('merges hook results in plugin order with the JSON files, one object or an array', async () => {
      const one = path.join(dir, 'one.json');
      const many = path.join(dir, 'many.json');
      await writeFile(one, JSON.stringify(info('7.0.8', { Fit: { level: 'run', path: 'f.mac' } })));
      await writeFile(
        many,
        JSON.stringify([info('7.0.15', { Fit: { level: 'run', path: 'f.mac' } }), info('5.0.0', {})]),
      );
      const catalog = await ModuleCatalog.load(
        oclif({ plugin, result: exampleResult() }, { plugin: 'other', result: undefined }),
        config(one, many),
      );
      expect(catalog.ratvs()).to.deep.equal(['5.0.0', '7.0.8', '7.0.15']);
      expect(catalog.sourceOf('7.0.8', 'Processing')).to.equal(plugin);
      expect(catalog.sourceOf('7.0.8', 'Fit')).to.match(/one\.json$/);
    });

    it('names the file, line and column of a JSON syntax error', async () => {
      const file = path.join(dir, 'broken.json');
      await writeFile(file, '{\n  "ratv": "7.0.8",\n  processing_modules: {}\n}\n');
      const error = await loadFailure(oclif(), config(file));
      expect(error.message).to.include('broken.json:3:3');
    });

    it('names a file that cannot be read', async () => {
      const error = await loadFailure(oclif(), config(path.join(dir, 'absent.json')));
      expect(error.message).to.include('absent.json').and.include('no such file');
    });

    it('without module_plugins, every installed module plugin counts: two of them defining one module differently conflict', async () => {
      const other = {
        processing_information: [info('7.0.8', { Processing: { level: 'run', path: 'x.mac' } })],
      };
      const error = await loadFailure(
        oclif({ plugin, result: exampleResult() }, { plugin: '@site/plugin-modules-x', result: other }),
        config(),
      );
      expect(error.message).to.include(
        `module Processing is defined differently by ${plugin} and @site/plugin-modules-x`,
      );
    });

    it('with module_plugins, only the plugins named count, and an unnamed one that fails is left alone', async () => {
      const other = {
        processing_information: [info('7.0.8', { Processing: { level: 'run', path: 'x.mac' } })],
      };
      const catalog = await ModuleCatalog.load(
        oclif(
          { plugin, result: exampleResult() },
          { plugin: '@site/plugin-modules-x', result: other },
          { plugin: 'broken-plugin', result: new Error('cannot find module') },
        ),
        naming(['@site/plugin-modules-x']),
      );
      expect(catalog.ratvs()).to.deep.equal(['7.0.8']);
      expect(catalog.sourceOf('7.0.8', 'Processing')).to.equal('@site/plugin-modules-x');
      expect(catalog.forRatv('7.0.8').processing_modules.Processing!.path).to.equal('x.mac');
    });

    it('module_plugins: [] uses no plugin, only the config files', async () => {
      const file = path.join(dir, 'pi.json');
      await writeFile(file, JSON.stringify(info('7.0.8', { Processing: { level: 'run', path: 'p.mac' } })));
      const catalog = await ModuleCatalog.load(oclif({ plugin, result: exampleResult() }), naming([], file));
      expect(catalog.ratvs()).to.deep.equal(['7.0.8']);
      expect(catalog.sourceOf('7.0.8', 'Processing')).to.match(/pi\.json$/);
    });

    it('a name in module_plugins that is no installed module plugin is a config error naming the installed ones', async () => {
      const installed = oclif(
        { plugin, result: exampleResult() },
        { plugin: '@site/plugin-modules-x', result: {} },
      );
      const unknown = await loadFailure(installed, naming(['@site/plugin-modules-y']));
      expect(unknown.exitCode).to.equal(ExitCode.Usage);
      expect(unknown.message).to.equal(
        `config site.json: module_plugins: "@site/plugin-modules-y" is not installed (installed module plugins: ${plugin}, @site/plugin-modules-x)`,
      );
      const backend = await loadFailure(installed, naming(['@oproc/plugin-pouchdb']));
      expect(backend.message).to.include(
        '"@oproc/plugin-pouchdb" is installed but has no oproc:modules hook',
      );
    });

    it('names the plugin whose hook returned something unusable', async () => {
      const error = await loadFailure(oclif({ plugin: 'odd-plugin', result: 42 }), config());
      expect(error.message).to.include('odd-plugin');
    });
  });
});

// Keeps the example's data honest: it must be valid on its own.
describe('the example module plugin of the tests', () => {
  it('gives valid processing information for 7.0.8 and 7.0.15 with every run type the brief names', () => {
    const catalog = ModuleCatalog.fromSources([example]);
    expect(catalog.ratvs()).to.deep.equal(['7.0.8', '7.0.15']);
    const v: ProcessingInformation = catalog.forRatv('7.0.15');
    for (const name of [
      'Physics',
      'DeployedSource',
      'ExternalSource',
      'TELLIE',
      'SMELLIE',
      'AMELLIE',
      'PCA',
      'ECA',
      'ECAPDST',
      'ECATSLP',
      'Supernova',
    ]) {
      expect(v.modules_for_run_type[name], name).to.include('Processing');
    }
    expect(v.processing_modules.Processing!.raw_processor).to.equal(true);
    expect(v.processing_modules.Processing!.ganga_outputs).to.be.an('array');
  });
});
