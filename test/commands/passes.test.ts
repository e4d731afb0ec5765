import { writeFile } from 'node:fs/promises';
import path from 'node:path';

import { expect } from 'chai';

import type { PassesResult } from '../../src/commands/passes.js';
import type { SubmissionResult } from '../../src/engine/reprocess.js';
import { ids, type JobDocument } from '../../src/engine/types.js';
import { listPasses, type PassSelection } from '../../src/operations/passes.js';
import type { DocumentStore } from '../../src/backends/types.js';
import { json, runCli, type CliResult } from '../support/cli.js';
import {
  commandKinds,
  backendLabel,
  describeKind,
  physicsRuns,
  scenario,
  testProcessingInformation,
  type Scenario,
} from '../support/scenario.js';

const label = backendLabel;

/** `run module pass` of each TSV line under the header. */
function listed(result: CliResult): string[] {
  const lines = result.stdout.trimEnd().split('\n');
  expect(lines[0]).to.equal(
    'run\tmodule\tpass\tratv\tfiletype\tstatus\tsubjobs_done\tsubjobs_total\tsubjob_statuses\tsubmission\tcreated',
  );
  return lines.slice(1).map((line) => line.split('\t').slice(0, 3).join(' '));
}

/** Stderr as one line: oclif wraps long messages. */
const oneLine = (text: string) => text.replace(/\s*›\s*/g, ' ').replace(/\s+/g, ' ');

for (const kind of commandKinds) {
  describeKind(kind, `oproc passes (${label(kind)})`, function () {
    this.timeout(120_000);
    let s: Scenario;
    let first: string;
    let second: string;
    const passes = (...rest: string[]) => runCli(['passes', s.config, ...rest]);
    const reprocess = async (...rest: string[]) => {
      const result = await runCli(['reprocess', ...rest, '--json']);
      expect(result.code, result.stderr).to.equal(0);
      return json<SubmissionResult>(result).submission!;
    };

    before(async () => {
      // A second RAT version beside the scenario's: the same modules, as 7.0.8.
      s = await scenario(kind, { processing_information: ['info.json', 'rat-7.0.8.json'] });
      await writeFile(
        path.join(s.dir, 'rat-7.0.8.json'),
        JSON.stringify({ ...testProcessingInformation, ratv: '7.0.8' }),
      );
      await s.addRuns(physicsRuns(300000, 300007));
      first = await reprocess('range', s.config, s.ratv, 'L2', '300000', '300003');
      second = await reprocess('one-shot', s.config, s.ratv, 'L2', '300002', '-N', 'Processing');
      await reprocess('one-shot', s.config, '7.0.8', 'L2', '300005', '-N', 'Processing');
      await s.withDatabases(async (db) => {
        // A grid client picked up run 300003's Processing pass: one subjob failed.
        const job = (await db.processing.getMany([ids.job(300003, 'Processing')])).get(
          ids.job(300003, 'Processing'),
        ) as JobDocument;
        const pass = job.passes[0]!;
        pass.status = 'partFail';
        pass.subjobs = pass.subjobs.map((sub, i) => ({ ...sub, status: i === 1 ? 'failed' : 'completed' }));
        const broken = {
          _id: 'job_300001_Broken',
          type: 'job',
          run: 300001,
          module: 'Broken',
          passes: 'none',
        };
        const results = await db.processing.bulkWrite([job, broken]);
        expect(results.every((r) => r.ok)).to.equal(true);
      });
    });
    after(() => s.cleanup());

    it('lists every pass, one tab-separated line each, and warns of a document that is not a job', async () => {
      const result = await passes();
      expect(result.code, result.stderr).to.equal(0);
      expect(listed(result)).to.deep.equal([
        '300000 Analysis 0',
        '300000 Processing 0',
        '300001 Analysis 0',
        '300001 Processing 0',
        '300002 Analysis 0',
        '300002 Processing 0',
        '300002 Processing 1',
        '300003 Analysis 0',
        '300003 Processing 0',
        '300005 Processing 0',
      ]);
      const line = result.stdout.split('\n').find((l) => l.startsWith('300003\tProcessing\t0\t'))!;
      const fields = line.split('\t');
      expect(fields.slice(3, 10)).to.deep.equal([
        s.ratv,
        'L2',
        'partFail',
        '2',
        '3',
        'completed:2,failed:1',
        first,
      ]);
      expect(fields[10]).to.match(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d/);
      expect(oneLine(result.stderr)).to.match(/skipped document job_300001_Broken: has no passes array/);
    });

    it('--from/--to select a range, either side optional', async () => {
      expect(listed(await passes('--from', '300002', '--to', '300003'))).to.deep.equal([
        '300002 Analysis 0',
        '300002 Processing 0',
        '300002 Processing 1',
        '300003 Analysis 0',
        '300003 Processing 0',
      ]);
      expect(listed(await passes('--from', '300003'))).to.deep.equal([
        '300003 Analysis 0',
        '300003 Processing 0',
        '300005 Processing 0',
      ]);
      expect(listed(await passes('--to', '300000'))).to.deep.equal([
        '300000 Analysis 0',
        '300000 Processing 0',
      ]);
    });

    it('--run (repeatable or a comma list) selects runs, with or without --module', async () => {
      const runs = await passes('--run', '300000', '--run', '300005');
      expect(listed(runs)).to.deep.equal(['300000 Analysis 0', '300000 Processing 0', '300005 Processing 0']);
      expect(listed(await passes('--run', '300002,300003', '--module', 'Processing'))).to.deep.equal([
        '300002 Processing 0',
        '300002 Processing 1',
        '300003 Processing 0',
      ]);
      const withBroken = await passes('--run', '300001');
      expect(listed(withBroken)).to.deep.equal(['300001 Analysis 0', '300001 Processing 0']);
      expect(oneLine(withBroken.stderr)).to.match(/skipped document job_300001_Broken/);
    });

    it('--runlist selects the runs a runlist file lists, as retry and cancel read it', async () => {
      const file = path.join(s.dir, 'some.runlist');
      await writeFile(file, '# two runs\n300005\n300000 # the first\n');
      const result = await passes('--runlist', file);
      expect(result.code, result.stderr).to.equal(0);
      expect(listed(result)).to.deep.equal([
        '300000 Analysis 0',
        '300000 Processing 0',
        '300005 Processing 0',
      ]);
    });

    it('--module, --ratv and --submission filter, and combine', async () => {
      expect(listed(await passes('--module', 'Analysis', '--to', '300001'))).to.deep.equal([
        '300000 Analysis 0',
        '300001 Analysis 0',
      ]);
      expect(listed(await passes('--ratv', '7.0.8'))).to.deep.equal(['300005 Processing 0']);
      expect(listed(await passes('--submission', second))).to.deep.equal(['300002 Processing 1']);
      expect(
        listed(await passes('--submission', first, '--module', 'Processing', '--from', '300002')),
      ).to.deep.equal(['300002 Processing 0', '300003 Processing 0']);
    });

    it('--status selects what a grid client set, any case; several statuses match any', async () => {
      expect(listed(await passes('--status', 'partfail'))).to.deep.equal(['300003 Processing 0']);
      const either = await passes('--status', 'partFail', '--status', 'waiting', '--module', 'Processing');
      expect(listed(either)).to.deep.equal([
        '300000 Processing 0',
        '300001 Processing 0',
        '300002 Processing 0',
        '300002 Processing 1',
        '300003 Processing 0',
        '300005 Processing 0',
      ]);
      expect(listed(await passes('--status', 'completed'))).to.deep.equal([]);
    });

    it('an unknown status exits 2 naming the valid ones', async () => {
      const result = await passes('--status', 'done');
      expect(result.code).to.equal(2);
      expect(oneLine(result.stderr)).to.match(
        /--status "done" is not a pass status \(valid: waiting, new, submitted, running, completed, failed, partFail, unsatisfied, canceled, deleted\)/,
      );
    });

    it('--json returns the passes with run, module and the pass fields', async () => {
      const result = json<PassesResult>(await passes('--run', '300003', '--module', 'Processing', '--json'));
      expect(result.passes).to.have.length(1);
      expect(result.passes[0]).to.deep.include({
        run: 300003,
        module: 'Processing',
        pass: 0,
        ratv: s.ratv,
        filetype: 'L2',
        status: 'partFail',
        level: 'sub_run',
        submission: first,
        prerequisites: [],
      });
      expect(result.passes[0]!.subjobs.map((sub) => sub.status)).to.deep.equal([
        'completed',
        'failed',
        'completed',
      ]);
      expect(result.missing).to.deep.equal([]);
    });

    it('nothing matching is not an error: the header alone, exit 0', async () => {
      const result = await passes('--from', '300100');
      expect(result.code).to.equal(0);
      expect(listed(result)).to.deep.equal([]);
    });

    it('--exactly lists an outlist`s passes (tabs, spaces, comments) and names the lines whose pass does not exist', async () => {
      const outlist = path.join(s.dir, 'runs.exactly');
      await writeFile(
        outlist,
        [
          '# passes for the water reprocessing',
          'Processing\t300002\t1',
          'Analysis   300000 0',
          '',
          'Processing \t 300005\t0   # the 7.0.8 one',
          'Analysis\t300002\t7',
          'Processing\t300009\t0',
          'Analysis 300000 0',
        ].join('\n'),
      );
      const result = await passes('--exactly', outlist);
      expect(result.code).to.equal(1);
      expect(listed(result)).to.deep.equal([
        '300000 Analysis 0',
        '300002 Processing 1',
        '300005 Processing 0',
      ]);
      const stderr = oneLine(result.stderr);
      expect(stderr).to.match(/2 passes named in \S*runs\.exactly do not exist/);
      expect(stderr).to.match(/Analysis 300002 7: job_300002_Analysis has passes 0/);
      expect(stderr).to.match(/Processing 300009 0: no job document job_300009_Processing/);

      const asJson = await passes('--exactly', outlist, '--json');
      expect(asJson.code).to.equal(1);
      expect(json<PassesResult>(asJson).missing.map((m) => `${m.module} ${m.run} ${m.pass}`)).to.deep.equal([
        'Analysis 300002 7',
        'Processing 300009 0',
      ]);
    });

    it('--exactly with every pass present exits 0', async () => {
      const outlist = path.join(s.dir, 'present.exactly');
      await writeFile(outlist, 'Processing\t300000\t0\nAnalysis\t300001\t0\n');
      const result = await passes('--exactly', outlist);
      expect(result.code, result.stderr).to.equal(0);
      expect(listed(result)).to.deep.equal(['300000 Processing 0', '300001 Analysis 0']);
    });

    describe('bad input exits 2 with a message', () => {
      const cases: [string, () => Promise<string[]>, RegExp][] = [
        ['a bad --run', async () => ['--run', '30000x'], /--run: "30000x" is not a run number/],
        [
          '--from after --to',
          async () => ['--from', '300005', '--to', '300001'],
          /--from 300005 is after --to 300001/,
        ],
        [
          '--run with --from',
          async () => ['--run', '300000', '--from', '300001'],
          /--run and --from\/--to select runs two ways: use one/,
        ],
        [
          '--exactly with --to',
          async () => ['--exactly', 'runs.exactly', '--to', '300001'],
          /--from\/--to and --exactly select runs two ways: use one.*--exactly takes the runs, modules and passes from the outlist/,
        ],
        [
          '--runlist with --run',
          async () => {
            const file = path.join(s.dir, 'runs.txt');
            await writeFile(file, '300000\n');
            return ['--runlist', file, '--run', '300001'];
          },
          /--run and --runlist select runs two ways: use one/,
        ],
        [
          'an empty --runlist',
          async () => {
            const file = path.join(s.dir, 'empty.txt');
            await writeFile(file, '# none\n');
            return ['--runlist', file];
          },
          /runlist \S*empty\.txt lists no runs/,
        ],
        [
          'a malformed outlist line',
          async () => {
            const file = path.join(s.dir, 'bad.exactly');
            await writeFile(file, 'Processing\t300000\t0\nProcessing 300001\n');
            return ['--exactly', file];
          },
          /outlist \S*bad\.exactly, line 2: expected MODULE RUN PASS, found "Processing 300001"/,
        ],
        [
          'a missing outlist',
          async () => ['--exactly', path.join(s.dir, 'nowhere.exactly')],
          /cannot read outlist \S*nowhere\.exactly: ENOENT/,
        ],
      ];
      for (const [what, argv, message] of cases) {
        it(what, async () => {
          const result = await passes(...(await argv()));
          expect(result.code, result.stdout).to.equal(2);
          expect(oneLine(result.stderr)).to.match(message);
        });
      }
    });
  });

  describeKind(kind, `reading passes in bounded requests (${label(kind)})`, function () {
    this.timeout(120_000);
    let s: Scenario;
    const runs = [300000, 300001, 300002, 300003, 300004];

    /** A store that counts the requests made through it. */
    function counting(store: DocumentStore) {
      const calls = { getMany: [] as number[], queryView: 0 };
      const wrapped: DocumentStore = Object.create(store) as DocumentStore;
      wrapped.getMany = (wanted) => {
        calls.getMany.push(wanted.length);
        return store.getMany(wanted);
      };
      wrapped.queryView = (design, view, query) => {
        calls.queryView++;
        return store.queryView(design, view, query);
      };
      return { store: wrapped, calls };
    }

    const job = (run: number, module: string, id = ids.job(run, module)) => ({
      _id: id,
      type: 'job',
      run,
      module,
      passes: [{ pass: 0, ratv: '9.9.0', status: 'waiting', subjobs: [], submission: 'sub_test' }],
    });

    before(async () => {
      s = await scenario(kind);
      await s.withDatabases(async (db) => {
        const docs = runs.flatMap((run) => [job(run, 'Processing'), job(run, 'Analysis')]);
        // Two documents with one [run, module] key: a page boundary between them must lose neither.
        docs.push(job(300002, 'Processing', 'job_300002_Processing_copy'));
        const results = await db.processing.bulkWrite(docs);
        expect(results.every((r) => r.ok)).to.equal(true);
      });
    });
    after(() => s.cleanup());

    const read = (selection: PassSelection, limits: { chunkSize: number; pageSize: number }) =>
      s.withDatabases(async (db) => {
        const { store, calls } = counting(db.processing);
        const listing = await listPasses(store, selection, limits);
        return { ids: listing.passes.map((p) => `${p.run} ${p.module}`), calls };
      });

    it('pages through a range by key, whatever the page size, reading each document once', async () => {
      const all = await read({ source: { kind: 'range' } }, { chunkSize: 1000, pageSize: 1000 });
      expect(all.ids).to.have.length(11);
      expect(all.calls.queryView).to.equal(1);
      for (const pageSize of [1, 2, 3, 4]) {
        const paged = await read({ source: { kind: 'range' } }, { chunkSize: 1000, pageSize });
        expect(paged.ids, `page size ${pageSize}`).to.deep.equal(all.ids);
        expect(paged.calls.queryView, `page size ${pageSize}`).to.equal(Math.floor(11 / pageSize) + 1);
      }
    });

    it('--run reads nearby runs as one range, and by id in chunks when modules are given', async () => {
      const byView = await read(
        { source: { kind: 'runs', runs: [300001, 300003, 300004] } },
        {
          chunkSize: 1000,
          pageSize: 1000,
        },
      );
      expect(byView.ids).to.deep.equal([
        '300001 Analysis',
        '300001 Processing',
        '300003 Analysis',
        '300003 Processing',
        '300004 Analysis',
        '300004 Processing',
      ]);
      expect(byView.calls).to.deep.equal({ getMany: [], queryView: 1 });

      const byId = await read(
        { source: { kind: 'runs', runs }, modules: ['Processing', 'Analysis'] },
        { chunkSize: 4, pageSize: 1000 },
      );
      expect(byId.ids).to.have.length(10);
      expect(byId.calls).to.deep.equal({ getMany: [4, 4, 2], queryView: 0 });
    });

    it('--exactly reads by id in chunks', async () => {
      const entries = runs.map((run) => ({ module: 'Processing', run, pass: 0 }));
      const exact = await read({ source: { kind: 'exactly', entries } }, { chunkSize: 2, pageSize: 1000 });
      expect(exact.ids).to.deep.equal(runs.map((run) => `${run} Processing`));
      expect(exact.calls).to.deep.equal({ getMany: [2, 2, 1], queryView: 0 });
    });
  });
}
