import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';

import { expect } from 'chai';

import type { SubmissionResult } from '../../src/engine/reprocess.js';
import { json, runCli, type CliResult } from '../support/cli.js';
import { scenario, type Scenario } from '../support/scenario.js';

const root = path.resolve(import.meta.dirname, '../..');
const manualShape = path.join(root, 'test', 'fixtures', 'processing_information_7_0_9.py');

describe("the data-flow manual's processing information, Ganga output calls and all, end to end (PouchDB + PGlite)", function () {
  this.timeout(180_000);
  let s: Scenario;
  let config: string;

  // oclif's plugin list in the scenario's directory: no module plugin of the user's takes part.
  const cli = (...args: string[]): Promise<CliResult> =>
    runCli(args, { cwd: s.dir, env: { OPROC_DATA_DIR: path.join(s.dir, 'oclif-data') } });

  before(async () => {
    s = await scenario('embedded');
    // 300001 makes 300000 complete.
    await s.addRuns([
      { run: 300000, types: ['Physics'], subruns: 2 },
      { run: 300001, types: ['Physics'], subruns: 1 },
    ]);

    // As the README says: oproc modules import processing_information_7_0_9.py > pi-7.0.9.json
    const imported = await cli('modules', 'import', manualShape);
    expect(imported.code, imported.stderr).to.equal(0);
    await writeFile(path.join(s.dir, 'pi-7.0.9.json'), imported.stdout);
    const { processing, dataflow, ratdb } = JSON.parse(await readFile(s.config, 'utf8')) as Record<
      string,
      unknown
    >;
    config = path.join(s.dir, 'manual.json');
    await writeFile(
      config,
      JSON.stringify({ processing, dataflow, ratdb, processing_information: 'pi-7.0.9.json' }, null, 2),
    );
  });

  after(async () => {
    await s?.cleanup();
  });

  it('reprocess creates passes that carry ganga_outputs as { call, args, kwargs }, for a grid client to rebuild', async () => {
    const result = await cli('reprocess', 'range', config, '7.0.9', 'L2', '300000', '300000', '--json');
    expect(result.code, result.stdout + result.stderr).to.equal(0);
    expect(json<SubmissionResult>(result).created).to.have.deep.members([
      { run: 300000, module: 'Processing', pass: 0 },
      { run: 300000, module: 'DQCSS', pass: 0 },
      { run: 300000, module: 'DQHL', pass: 0 },
      { run: 300000, module: 'Analysis', pass: 0 },
    ]);

    // The manual's DQCSS module, its PGSQLFile call as the file wrote it.
    const dqcss = (await s.job(300000, 'DQCSS'))!.passes[0]!;
    expect(dqcss).to.deep.include({
      ratv: '7.0.9',
      level: 'run',
      path: 'mac/processing/partial_water/runLevelProcessing.mac',
      prerequisites: [{ module: 'Processing', pass: 0 }],
      ganga_outputs: [
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
      ],
    });
    expect((await s.job(300000, 'DQHL'))!.passes[0]!.ganga_outputs).to.deep.equal([
      {
        call: 'Applications.PGSQLFile',
        args: [],
        kwargs: {
          namePattern: 'DQHL_*.ratdb',
          dbServer: 'postgres://pgsql.example.org:5400',
          dbName: 'ratdbtest',
          passDefault: -1,
          version: 2,
        },
      },
    ]);
    // Positional arguments, and a call inside a call.
    expect((await s.job(300000, 'Processing'))!.passes[0]!.ganga_outputs).to.deep.equal([
      { call: 'LocalFile', args: ['*.zdab.root'], kwargs: {} },
      { call: 'MassStorageFile', args: ['*.ntuple.root', '/snoplus/processed'], kwargs: {} },
    ]);
    expect((await s.job(300000, 'Analysis'))!.passes[0]).to.deep.include({
      nhit_cut: null,
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
    });
  });
});
