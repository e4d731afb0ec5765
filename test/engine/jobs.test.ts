import { expect } from 'chai';

import { readJobDocuments, writeIntents, type PassIntent } from '../../src/engine/jobs.js';
import { ids, type JobDocument } from '../../src/engine/types.js';
import { backendKinds, backendLabel, describeKind, scenario, type Scenario } from '../support/scenario.js';

function intent(run: number, submission: string): PassIntent {
  return {
    run,
    module: 'Processing',
    pass: {
      ratv: '9.9.0',
      filetype: 'L2',
      ratdb_tag: null,
      status: 'waiting',
      level: 'run',
      path: 'mac/processing/processing.mac',
      outputs: ['ratds'],
      subjobs: [{ subrun: null, status: 'waiting' }],
      submission,
      mode: 'range',
      created: '2026-11-25T00:00:00Z',
      created_by: 'test@host',
      prerequisites: [],
    },
  };
}

for (const kind of backendKinds) {
  describeKind(kind, `writing job documents (${backendLabel(kind)})`, function () {
    this.timeout(120_000);
    let s: Scenario;
    beforeEach(async () => {
      s = await scenario(kind);
    });
    afterEach(() => s.cleanup());

    it('writes more intents than one request takes, each pass once, and again only as a new submission', async () => {
      // 2,500 runs of one module at one depth: several _bulk_docs requests, numbers of two widths.
      const runs = [...Array.from({ length: 2490 }, (_, i) => 300000 + i), ...[9990, 9991, 1000000, 1000001]];
      const wanted = new Set(runs.map((run) => ids.job(run, 'Processing')));
      await s.withDatabases(async (db) => {
        const first = await writeIntents(
          db.processing,
          runs.map((run) => intent(run, 'sub_a')),
          new Map(),
          {
            dryRun: false,
          },
        );
        expect(first.failed).to.deep.equal([]);
        expect(first.written.filter((w) => w.created && w.pass === 0)).to.have.length(runs.length);

        // Read back by id ranges (runs of different widths sort apart): every document, nothing else.
        const known = await readJobDocuments(db.processing, wanted, runs);
        expect([...known.keys()].sort()).to.deep.equal([...wanted].sort());

        // The same intents again (a resume): nothing new. A new submission: pass 1 everywhere.
        const again = await writeIntents(
          db.processing,
          runs.map((run) => intent(run, 'sub_a')),
          known,
          {
            dryRun: false,
          },
        );
        expect(again.written.every((w) => !w.created && w.pass === 0)).to.equal(true);
        const next = await writeIntents(
          db.processing,
          runs.map((run) => intent(run, 'sub_b')),
          known,
          {
            dryRun: false,
          },
        );
        expect(next.written.filter((w) => w.created && w.pass === 1)).to.have.length(runs.length);
        const docs = (await db.processing.getMany([...wanted])) as Map<string, JobDocument>;
        for (const doc of docs.values())
          expect(doc.passes.map((p) => [p.pass, p.submission])).to.deep.equal([
            [0, 'sub_a'],
            [1, 'sub_b'],
          ]);
      });
    });
  });
}
