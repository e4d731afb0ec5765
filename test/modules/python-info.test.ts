import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';

import { expect } from 'chai';

import { OprocError } from '../../src/errors.js';
import { ModuleCatalog } from '../../src/modules/catalog.js';
import { ratvFromFileName, readPythonInformation } from '../../src/modules/python-info.js';

const fixture = (name: string) => path.join('test', 'fixtures', name);

function refused(text: string): OprocError {
  try {
    readPythonInformation(text, 'info.py', '7.0.8');
  } catch (error) {
    expect(error).to.be.instanceOf(OprocError);
    return error as OprocError;
  }
  expect.fail('expected the file to be refused');
}

const minimal = `processing_modules = {"P": {"level": "run", "path": "p.mac"}}\nmodules_for_run_type = {"Physics": set(["P"])}\n`;

describe('processing_information_X_Y_Z.py files', () => {
  it('take the RAT version from the file name', () => {
    expect(ratvFromFileName('dir/processing_information_7_0_8.py')).to.equal('7.0.8');
    expect(ratvFromFileName('processing_information_7_0_15.py')).to.equal('7.0.15');
    expect(ratvFromFileName('info.py')).to.equal(undefined);
    expect(ratvFromFileName('processing_information_7_0_8.py.bak')).to.equal(undefined);
  });

  it('read the 7.0.8 fixture: comments, mixed quotes, continuations, sets, and a constant used by name', async () => {
    const file = fixture('processing_information_7_0_8.py');
    const { info, skipped } = readPythonInformation(await readFile(file, 'utf8'), file, '7.0.8');
    const modules = info.processing_modules as Record<string, Record<string, unknown>>;
    expect(Object.keys(modules)).to.deep.equal(['Processing', 'DataQuality', 'Analysis']);
    expect(modules.Processing!.ratdb_tables).to.deep.equal(['RUN', 'DAQ_RUN_LEVEL', 'PMT_DQXX', 'PMTCALIB']);
    expect(modules.DataQuality!.path).to.equal('mac/processing/dataquality.mac');
    expect(modules.Analysis).to.include({ nhit_cut: 20 });
    expect(modules.Analysis!.outputs).to.deep.equal(['ntuple']);
    expect(modules.Analysis!.energy_window).to.deep.equal([-0.5, 15]);
    expect(modules.Analysis!.ganga_outputs).to.deep.equal(['*.ntuple.root']);
    const runTypes = info.modules_for_run_type as Record<string, string[]>;
    expect(runTypes.Physics).to.deep.equal(['Analysis', 'DataQuality', 'Processing']);
    expect(runTypes.AMELLIE).to.deep.equal(['DataQuality', 'Processing']);
    expect(runTypes.ECA).to.deep.equal(['Processing']);
    expect(runTypes.Maintenance).to.deep.equal([]);
    expect(skipped.map((s) => [s.line, s.start])).to.deep.equal([[65, 'if']]);
  });

  it('read the 7.0.15 fixture into information the catalog accepts, with defaults filled there', async () => {
    const file = fixture('processing_information_7_0_15.py');
    const { info } = readPythonInformation(await readFile(file, 'utf8'), file, '7.0.15');
    const merged = ModuleCatalog.check([
      { source: file, contribution: { processing_information: [info] } },
    ]).forRatv('7.0.15');
    expect(merged.processing_modules.ScintFit!.ratdb_tables).to.deep.equal([
      'EFFECTIVE_VELOCITY',
      'OPTICS[labppo_2p2_scintillator]',
    ]);
    expect(merged.processing_modules.ScintFit!.description).to.equal(
      'Scintillator vertex and energy fit\tv2 \u2013 "partial fill"',
    );
    expect(merged.processing_modules.ScintFit).to.include({
      fit_timeout: 3600,
      pass_offset: -1,
      enabled: null,
    });
    expect(merged.processing_modules.Analysis).to.include({
      type: 'macro',
      raw_processor: false,
      nhit_cut: 20,
    });
    expect(merged.modules_for_run_type.Physics).to.deep.equal(['Processing', 'ScintFit', 'Analysis']);
  });

  it('never run the file: __import__ in an assignment is refused at its line and column', () => {
    const marker = path.join(tmpdir(), `oproc-never-${process.pid}`);
    const text = `processing_modules = __import__('os').system('touch ${marker}')\n`;
    expect(refused(text).message).to.match(
      /^info\.py:1:38: "\." after the call to __import__: a call is read as data and never run/,
    );
    expect(existsSync(marker)).to.equal(false);
  });

  it('ignore imports and docstrings, remember literal constants, and list other statements as skipped', () => {
    const text = `"""doc"""\nimport os\nfrom x import y\nOUT = ["ntuple"]\nHOME = os.environ["HOME"]\nprint("hi")\n${minimal.replace('"p.mac"}', '"p.mac", "outputs": OUT}')}`;
    const { info, skipped } = readPythonInformation(text, 'info.py', '7.0.8');
    expect((info.processing_modules as Record<string, { outputs: string[] }>).P!.outputs).to.deep.equal([
      'ntuple',
    ]);
    expect(skipped).to.deep.equal([{ line: 6, column: 1, start: 'print' }]);
  });

  it("read the 7.0.9 fixture in the manual's shape: imports skipped, Ganga outputs as calls", async () => {
    const file = fixture('processing_information_7_0_9.py');
    const { info, skipped } = readPythonInformation(await readFile(file, 'utf8'), file, '7.0.9');
    // Every import form (a list, `as`, a parenthesised from-import over two lines) passes quietly.
    expect(skipped).to.deep.equal([]);
    const modules = info.processing_modules as Record<string, Record<string, unknown>>;
    expect(modules.DQCSS!.ganga_outputs).to.deep.equal([
      {
        call: 'PGSQLFile',
        args: [],
        kwargs: {
          namePattern: 'CSS_RESULT_*.ratdb',
          dbServer: 'postgres://pgsql.example.org:5400',
          dbName: 'ratdbtest',
          passDefault: -1,
          version: 1,
        },
      },
    ]);
    expect((modules.DQHL!.ganga_outputs as { call: string }[])[0]!.call).to.equal('Applications.PGSQLFile');
    expect(modules.Processing!.ganga_outputs).to.deep.equal([
      { call: 'LocalFile', args: ['*.zdab.root'], kwargs: {} },
      { call: 'MassStorageFile', args: ['*.ntuple.root', '/snoplus/processed'], kwargs: {} },
    ]);
    expect(modules.Analysis).to.deep.include({ nhit_cut: null, raw_processor: false });
    expect((info.modules_for_run_type as Record<string, string[]>).Physics).to.deep.equal([
      'Analysis',
      'DQCSS',
      'DQHL',
      'Processing',
    ]);
  });

  it('skip import lines of every form, and read a call bound to a name where the name is used', () => {
    const text =
      'import os, sys\nimport GangaSNOplus.Lib as Lib, json as j\nfrom . import here\n' +
      'from GangaSNOplus.Lib.Applications import (PGSQLFile,\n    LocalFile as LF,\n)\n' +
      'from x import *; import y\nLOG = LF("p.log")\n' +
      minimal.replace('"p.mac"}', '"p.mac", "ganga_outputs": [LOG, Lib.PGSQLFile(version = 1)]}');
    const { info, skipped } = readPythonInformation(text, 'info.py', '7.0.8');
    expect(skipped).to.deep.equal([]);
    expect(
      (info.processing_modules as Record<string, Record<string, unknown>>).P!.ganga_outputs,
    ).to.deep.equal([
      { call: 'LF', args: ['p.log'], kwargs: {} },
      { call: 'Lib.PGSQLFile', args: [], kwargs: { version: 1 } },
    ]);
  });

  const refusals: [string, string, string][] = [
    [
      'a name that is not a literal constant',
      minimal.replace('"p.mac"', 'HOME'),
      'info.py:1:53: "HOME" is not a literal',
    ],
    [
      'an item assignment that changes the modules',
      `${minimal}processing_modules["P"]["path"] = "q.mac"\n`,
      'info.py:3:1: only "processing_modules = <literal>"',
    ],
    ['a method call on the run-type table', `${minimal}modules_for_run_type.update({})\n`, 'info.py:3:1'],
    [
      'an assignment inside a block',
      `if True:\n    ${minimal.split('\n')[0]}\n${minimal.split('\n')[1]}\n`,
      'info.py:2:5',
    ],
    [
      'a second assignment',
      `${minimal}processing_modules = {}\n`,
      'assigned twice (first at line 1, column 1)',
    ],
    [
      'an arithmetic expression',
      minimal.replace('"p.mac"}', '"p.mac", "ganga_outputs": [LocalFile("a")],\n  "nhit_cut": 10 * 2}'),
      'info.py:2:18: expected "," or "}"',
    ],
    [
      'a bare name as a call argument',
      minimal.replace('"p.mac"}', '"p.mac", "ganga_outputs": [PGSQLFile(dbName = DB)]}'),
      'info.py:1:99: "DB" is not a literal',
    ],
    ['a missing assignment', minimal.split('\n')[0]!, 'no top-level "modules_for_run_type = ..."'],
    [
      'an unterminated string',
      `processing_modules = {\n  "P": {"level": 'run", "path": "p.mac"}}\n`,
      'info.py:2:18: unterminated string',
    ],
    [
      'a run type that is not a bit name',
      minimal.replace('"Physics"', '"Physic"'),
      '"Physic" is not a run type bit name',
    ],
    ['a module without a level', minimal.replace('"level": "run", ', ''), 'module P: level: is missing'],
    [
      'a run-type entry naming no module',
      minimal.replace('set(["P"])', 'set(["P", "Q"])'),
      'modules_for_run_type.Physics: "Q"',
    ],
  ];
  for (const [what, text, words] of refusals) {
    it(`refuse ${what}`, () => {
      expect(refused(text).message).to.include(words);
    });
  }
});
