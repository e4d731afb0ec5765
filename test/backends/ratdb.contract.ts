/**
 * What every RATDB backend must do (DESIGN.md 1.2), run against each backend with a fresh database
 * per test. Backends are opened through their factories, as the core opens them.
 */
import { expect } from 'chai';

import type { Ratdb, RatdbTable, SqlClient } from '../../src/backends/types.js';

/** A fresh, empty database of one backend; `open` may be called more than once (reopening it). */
export interface RatdbTarget {
  open(): Promise<Ratdb>;
  remove(): Promise<void>;
}

/** Counts the statements a backend sends, to pin "one query" promises. */
export class QueryCounter {
  count = 0;

  wrap(client: SqlClient): SqlClient {
    return {
      query: (text, params) => {
        this.count++;
        return client.query(text, params);
      },
      transaction: (work) => client.transaction(work),
      close: () => client.close(),
    };
  }
}

const at = (iso: string) => new Date(iso);

/** A RAT table with the header fields filled in; `fields` become its data. */
export function table(
  type: string,
  runRange: [number, number],
  fields: Record<string, unknown> = {},
  header: Partial<Pick<RatdbTable, 'index' | 'version' | 'pass' | 'timestamp'>> = {},
): RatdbTable {
  return {
    type,
    index: header.index ?? '',
    run_begin: runRange[0],
    run_end: runRange[1],
    version: header.version ?? 1,
    pass: header.pass ?? 0,
    timestamp: header.timestamp,
    data: fields,
  };
}

export function ratdbContract(
  backend: string,
  fresh: () => Promise<RatdbTarget>,
  counter: QueryCounter,
): void {
  describe(`RATDB contract: ${backend}`, function () {
    let target: RatdbTarget;
    let ratdb: Ratdb;

    beforeEach(async function () {
      target = await fresh();
      ratdb = await target.open();
      await ratdb.create();
    });

    afterEach(async function () {
      await ratdb?.close();
      await target?.remove();
    });

    it('create is idempotent and keeps loaded tables', async function () {
      await ratdb.load([table('RUN', [100, 100], { runtype: 4 })]);
      await ratdb.create();
      expect(await ratdb.runTypes([100])).to.deep.equal(new Map([[100, 4]]));
    });

    it('runTypes picks the highest version, then pass, then the newest timestamp', async function () {
      await ratdb.load([
        table('RUN', [100, 100], { runtype: 1 }, { version: 1, pass: 9 }),
        table('RUN', [100, 100], { runtype: 2 }, { version: 2, pass: 0 }),
        table('RUN', [200, 200], { runtype: 4 }, { pass: 0 }),
        table('RUN', [200, 200], { runtype: 8 }, { pass: 1 }),
        table('RUN', [300, 300], { runtype: 32 }, { timestamp: at('2026-01-02T00:00:00Z') }),
        table('RUN', [300, 300], { runtype: 16 }, { timestamp: at('2026-01-01T00:00:00Z') }),
      ]);
      expect(await ratdb.runTypes([100, 200, 300])).to.deep.equal(
        new Map([
          [100, 2],
          [200, 8],
          [300, 32],
        ]),
      );
    });

    it('a run outside every RUN range, or with only an indexed RUN table, is absent', async function () {
      await ratdb.load([
        table('RUN', [100, 199], { runtype: 4 }),
        table('RUN', [300, 300], { runtype: 4 }, { index: 'other' }),
        table('DAQ_RUN_LEVEL', [250, 250], { trigger: 1 }),
      ]);
      const types = await ratdb.runTypes([99, 100, 199, 200, 250, 300]);
      expect([...types.keys()].sort((a, b) => a - b)).to.deep.equal([100, 199]);
    });

    it('tablesPresent names TYPE for any index and TYPE[index] for one index', async function () {
      await ratdb.load([
        table('DAQ_RUN_LEVEL', [100, 150]),
        table('PMT_DQXX', [100, 200], { dqcr: [1, 2] }, { index: 'cr0' }),
      ]);
      const present = await ratdb.tablesPresent(
        [100, 175, 250],
        [
          { type: 'DAQ_RUN_LEVEL' },
          { type: 'PMT_DQXX', index: 'cr0' },
          { type: 'PMT_DQXX', index: 'cr1' },
          { type: 'PMT_DQXX' },
        ],
      );
      expect(present).to.deep.equal(
        new Map([
          [100, new Set(['DAQ_RUN_LEVEL', 'PMT_DQXX[cr0]', 'PMT_DQXX'])],
          [175, new Set(['PMT_DQXX[cr0]', 'PMT_DQXX'])],
          [250, new Set()],
        ]),
      );
    });

    it('a table valid up to the largest run number counts for every later run; one with its bounds reversed for none', async function () {
      await ratdb.load([
        table('RUN', [100, 2147483647], { runtype: 4 }),
        table('PMT_DQXX', [1, 2147483647]),
        table('DAQ_RUN_LEVEL', [500, 400]),
      ]);
      expect(await ratdb.runTypes([99, 100, 450, 2147483647])).to.deep.equal(
        new Map([
          [100, 4],
          [450, 4],
          [2147483647, 4],
        ]),
      );
      const present = await ratdb.tablesPresent(
        [450, 2147483647],
        [{ type: 'PMT_DQXX' }, { type: 'DAQ_RUN_LEVEL' }],
      );
      expect(present).to.deep.equal(
        new Map([
          [450, new Set(['PMT_DQXX'])],
          [2147483647, new Set(['PMT_DQXX'])],
        ]),
      );
    });

    it('runs far apart in one call, and rows holding several of them, answer as each run asked alone', async function () {
      await ratdb.load([
        table('RUN', [100, 100], { runtype: 2 }),
        table('RUN', [100, 900000], { runtype: 4 }, { version: 0 }),
        table('RUN', [900000, 900000], { runtype: 8 }, { version: 2 }),
        table('PMT_DQXX', [50, 5000]),
        table('PMT_DQXX', [899999, 900001], {}, { index: 'cr0' }),
      ]);
      const runs = [900000, 100, 101, 5000, 100, 450000];
      expect(await ratdb.runTypes(runs)).to.deep.equal(
        new Map([
          [900000, 8],
          [100, 2],
          [101, 4],
          [5000, 4],
          [450000, 4],
        ]),
      );
      const present = await ratdb.tablesPresent(runs, [
        { type: 'PMT_DQXX' },
        { type: 'PMT_DQXX', index: 'cr0' },
      ]);
      expect(present).to.deep.equal(
        new Map([
          [900000, new Set(['PMT_DQXX', 'PMT_DQXX[cr0]'])],
          [100, new Set(['PMT_DQXX'])],
          [101, new Set(['PMT_DQXX'])],
          [5000, new Set(['PMT_DQXX'])],
          [450000, new Set()],
        ]),
      );
    });

    it('TYPE[] asks for the table with the empty index', async function () {
      await ratdb.load([table('PMT_DQXX', [100, 100], {}, { index: 'cr0' })]);
      const present = await ratdb.tablesPresent(
        [100],
        [{ type: 'PMT_DQXX', index: '' }, { type: 'PMT_DQXX' }],
      );
      expect(present.get(100)).to.deep.equal(new Set(['PMT_DQXX']));
    });

    it('reads as of a tag see only rows loaded before the tag', async function () {
      await ratdb.load([table('RUN', [100, 100], { runtype: 2 }, { timestamp: at('2026-03-01T00:00:00Z') })]);
      await ratdb.setTag({ name: 'water-physics-v2', timestamp: at('2026-03-02T00:00:00Z') });
      await ratdb.load([
        table('RUN', [100, 100], { runtype: 4 }, { version: 2, timestamp: at('2026-03-03T00:00:00Z') }),
        table('PMT_DQXX', [100, 100], {}, { timestamp: at('2026-03-03T00:00:00Z') }),
      ]);
      const tag = await ratdb.tag('water-physics-v2');
      expect(tag?.timestamp.toISOString()).to.equal('2026-03-02T00:00:00.000Z');
      expect(await ratdb.runTypes([100], tag!.timestamp)).to.deep.equal(new Map([[100, 2]]));
      expect(await ratdb.runTypes([100])).to.deep.equal(new Map([[100, 4]]));
      expect(
        (await ratdb.tablesPresent([100], [{ type: 'PMT_DQXX' }], tag!.timestamp)).get(100)?.size,
      ).to.equal(0);
      expect((await ratdb.tablesPresent([100], [{ type: 'PMT_DQXX' }])).get(100)?.size).to.equal(1);
    });

    it('a table loaded without a timestamp is visible from the moment it is loaded', async function () {
      const before = new Date(Date.now() - 60_000);
      await ratdb.load([table('RUN', [100, 100], { runtype: 2 })]);
      expect((await ratdb.runTypes([100], before)).size).to.equal(0);
      expect((await ratdb.runTypes([100], new Date(Date.now() + 60_000))).get(100)).to.equal(2);
    });

    it('tag of an unknown name is undefined', async function () {
      expect(await ratdb.tag('no-such-tag')).to.equal(undefined);
    });

    it('setTag moves a tag, and listTags lists each tag once', async function () {
      await ratdb.setTag({ name: 'fullscint-antinu-v3', timestamp: at('2026-01-01T00:00:00Z') });
      await ratdb.setTag({ name: 'water-physics-v2', timestamp: at('2026-02-01T00:00:00Z') });
      await ratdb.setTag({ name: 'fullscint-antinu-v3', timestamp: at('2026-03-01T00:00:00Z') });
      const tags = await ratdb.listTags();
      expect(tags.map((t) => [t.name, t.timestamp.toISOString()])).to.deep.equal([
        ['water-physics-v2', '2026-02-01T00:00:00.000Z'],
        ['fullscint-antinu-v3', '2026-03-01T00:00:00.000Z'],
      ]);
    });

    it('load is all or nothing: a batch with one invalid row loads none', async function () {
      const invalid = table('DAQ_RUN_LEVEL', [2 ** 40, 2 ** 40]);
      let failure: unknown;
      await ratdb.load([table('RUN', [100, 100], { runtype: 2 }), invalid]).catch((error: unknown) => {
        failure = error;
      });
      expect(failure, 'a run number beyond int range must be refused').to.be.instanceOf(Error);
      expect((await ratdb.runTypes([100])).size).to.equal(0);
      // The backend is still usable after the rolled-back batch.
      expect(await ratdb.load([table('RUN', [100, 100], { runtype: 2 })])).to.equal(1);
      expect(await ratdb.runTypes([100])).to.deep.equal(new Map([[100, 2]]));
    });

    it('loaded tables survive closing and reopening the database', async function () {
      await ratdb.load([table('RUN', [100, 100], { runtype: 2 })]);
      await ratdb.close();
      ratdb = await target.open();
      expect(await ratdb.runTypes([100])).to.deep.equal(new Map([[100, 2]]));
    });

    it('5,000 runs are answered in one query each for runTypes and tablesPresent', async function () {
      await ratdb.load([
        table('RUN', [1, 4000], { runtype: 4 }),
        table('RUN', [4001, 10_000], { runtype: 2 }),
        table('PMT_DQXX', [2, 10_000], {}, { index: 'cr0' }),
      ]);
      const runs = Array.from({ length: 5000 }, (_, i) => i + 1);
      counter.count = 0;
      const types = await ratdb.runTypes(runs);
      expect(counter.count).to.equal(1);
      expect(types.size).to.equal(5000);
      expect([types.get(4000), types.get(4001)]).to.deep.equal([4, 2]);
      counter.count = 0;
      const present = await ratdb.tablesPresent(runs, [{ type: 'PMT_DQXX', index: 'cr0' }]);
      expect(counter.count).to.equal(1);
      expect([...present.values()].filter((tables) => tables.has('PMT_DQXX[cr0]')).length).to.equal(4999);
    });

    it('runTypesAndTables answers as runTypes and tablesPresent do, in one query', async function () {
      await ratdb.load([
        table('RUN', [100, 100], { runtype: 2 }),
        table('RUN', [100, 900000], { runtype: 4 }, { version: 0 }),
        table('RUN', [200, 200], { runtype: 'not a word' }, { version: 3 }),
        table('RUN', [300, 300], { runtype: 8 }, { index: 'other' }),
        table('RUN', [400, 400], { runtype: '16' }),
        table('PMT_DQXX', [50, 5000]),
        table('PMT_DQXX', [300, 400], {}, { index: 'cr0' }),
        table('DAQ_RUN_LEVEL', [500, 400]),
      ]);
      const runs = [99, 100, 200, 300, 400, 450000, 900001];
      const tables = [
        { type: 'PMT_DQXX' },
        { type: 'PMT_DQXX', index: 'cr0' },
        { type: 'DAQ_RUN_LEVEL' },
        { type: 'RUN' },
      ];
      const expected = {
        runTypes: await ratdb.runTypes(runs),
        present: await ratdb.tablesPresent(runs, tables),
      };
      expect(expected.runTypes).to.deep.equal(
        new Map([
          [100, 2],
          [300, 4],
          [400, 16],
          [450000, 4],
        ]),
      );
      counter.count = 0;
      expect(await ratdb.runTypesAndTables!(runs, tables)).to.deep.equal(expected);
      expect(counter.count).to.equal(1);
      expect(await ratdb.runTypesAndTables!(runs, [])).to.deep.equal({
        runTypes: expected.runTypes,
        present: new Map(runs.map((run) => [run, new Set()])),
      });
    });

    it('5,000 tables load in one call', async function () {
      const tables = Array.from({ length: 5000 }, (_, i) => table('RUN', [i + 1, i + 1], { runtype: i % 8 }));
      expect(await ratdb.load(tables)).to.equal(5000);
      const types = await ratdb.runTypes([1, 2500, 5000, 5001]);
      expect(types).to.deep.equal(
        new Map([
          [1, 0],
          [2500, 2499 % 8],
          [5000, 4999 % 8],
        ]),
      );
    });
  });
}
