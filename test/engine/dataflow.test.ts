import { expect } from 'chai';
import fc from 'fast-check';

import type { StoredDocument } from '../../src/backends/types.js';
import { DataflowReader, type DataflowWarning, type RunData } from '../../src/engine/dataflow.js';
import { backendKinds, backendLabel, describeKind, scenario, type Scenario } from '../support/scenario.js';

/** What the reader must return, worked out from the documents themselves (DESIGN.md 1.1). */
function expected(docs: readonly StoredDocument[], first: number, last: number): RunData[] {
  const runs = new Map<number, RunData>();
  for (const doc of docs) {
    const run = doc.run;
    if (typeof run !== 'number' || !Number.isInteger(run) || run < first || run > last) continue;
    if (doc.type !== 'file' && doc.type !== 'run_end') continue;
    const data = runs.get(run) ?? { run, subruns: [], ended: false };
    runs.set(run, data);
    if (doc.type === 'run_end') data.ended = true;
    else if (doc.filetype === 'L2' && Number.isInteger(doc.subrun) && (doc.subrun as number) >= 0)
      data.subruns = [...new Set([...data.subruns, doc.subrun as number])].sort((a, b) => a - b);
  }
  return [...runs.values()].sort((a, b) => a.run - b.run);
}

async function readAll(reader: DataflowReader, first: number, last: number): Promise<RunData[]> {
  const result: RunData[] = [];
  for await (const data of reader.runs(first, last)) result.push(data);
  return result;
}

function file(run: number, filetype: unknown, subrun: unknown, tag = ''): StoredDocument {
  return {
    _id: `file_${String(filetype)}_${run}_${String(subrun)}${tag}`,
    type: 'file',
    run,
    filetype,
    subrun,
  };
}

for (const kind of backendKinds) {
  describeKind(kind, `data-flow reader for one filetype (${backendLabel(kind)})`, function () {
    this.timeout(120_000);
    let s: Scenario;
    beforeEach(async () => {
      s = await scenario(kind);
    });
    afterEach(() => s.cleanup());

    it('finds runs without a file of the filetype between runs with one, with run_ends, in run order', async () => {
      const docs = [
        file(100, 'L2', 0),
        file(100, 'L2', 1),
        file(100, 'L1', 0),
        file(101, 'L1', 0), // only L1: a run with no L2 files
        file(103, 'L2', 2),
        file(103, 'L2', 0),
        file(103, 'L2', 2, '_again'), // registered twice: one subrun
        { _id: 'run_end_104', type: 'run_end', run: 104, subruns: 0 }, // ended, no files at all
        file(105, 7, 0), // a filetype that is neither: warned, the run has no L2 files
        file(106, 'L2', 'three'), // a subrun that is not a number: warned
        file(106, 'L2', 1),
        { _id: 'run_end_106', type: 'run_end', run: 106, subruns: 2 },
        file(200, 'L1', 0), // far after: reached through the trailing gap
      ];
      const warnings: DataflowWarning[] = [];
      await s.withDatabases(async (db) => {
        await db.dataflow.bulkWrite(docs);
        for (const pageSize of [1, 2, 3, 2000]) {
          warnings.length = 0;
          const reader = new DataflowReader(db.dataflow, 'L2', pageSize, (w) => warnings.push(w));
          expect(await readAll(reader, 100, 300), `page size ${pageSize}`).to.deep.equal(
            expected(docs, 100, 300),
          );
          expect(warnings.map((w) => w.id).sort(), `page size ${pageSize}`).to.deep.equal([
            'file_7_105_0',
            'file_L2_106_three',
          ]);
        }
        const reader = new DataflowReader(db.dataflow, 'L2', 2);
        expect(await readAll(reader, 102, 104)).to.deep.equal(expected(docs, 102, 104));
        expect(await reader.latestRun()).to.equal(200);
        const some = await reader.runsOf([106, 101, 150, 100]);
        expect([...some.keys()].sort()).to.deep.equal([100, 101, 106]);
        expect(some.get(101)).to.deep.equal({ run: 101, subruns: [], ended: false });
      });
    });

    if (kind === 'embedded') {
      it('reads exactly what the documents say, for any documents and page size (property)', async () => {
        let base = 0;
        const doc = (first: number) =>
          fc.oneof(
            fc.record({
              run: fc.integer({ min: first, max: first + 40 }),
              filetype: fc.constantFrom<unknown>('L1', 'L2', 'L2', 'L3', 7, undefined),
              subrun: fc.constantFrom<unknown>(0, 1, 2, 3, -1, 'x', undefined),
            }),
            fc.record({ run: fc.integer({ min: first, max: first + 40 }), end: fc.constant(true) }),
          );
        await s.withDatabases(async (db) => {
          await fc.assert(
            fc.asyncProperty(
              fc.array(doc(0), { maxLength: 60 }),
              fc.integer({ min: 1, max: 7 }),
              fc.integer({ min: 0, max: 20 }),
              fc.integer({ min: 20, max: 45 }),
              async (specs, pageSize, from, to) => {
                // Each case in its own run numbers, so earlier cases' documents are outside its range.
                base += 1000;
                const docs = specs.map((d, i): StoredDocument => {
                  const run = base + d.run;
                  return 'end' in d
                    ? { _id: `c${base}_${i}`, type: 'run_end', run }
                    : { _id: `c${base}_${i}`, type: 'file', run, filetype: d.filetype, subrun: d.subrun };
                });
                if (docs.length) await db.dataflow.bulkWrite(docs);
                const reader = new DataflowReader(db.dataflow, 'L2', pageSize);
                const first = base + from;
                const last = base + to;
                expect(await readAll(reader, first, last)).to.deep.equal(expected(docs, first, last));
              },
            ),
            { numRuns: 40 },
          );
        });
      });
    }
  });
}
