/**
 * RATDB reads alone: seeds the benchmark's RATDB tables for N runs into a fresh PostgreSQL, then
 * reads the run types and the tables present for every run, in batches of 500 and in one query a
 * batch as a reprocess does (`runTypesAndTables`), and reports PostgreSQL's CPU for those reads.
 * With --separate, in two queries a batch (`runTypes`, then `tablesPresent`), as before. With
 * --explain, prints the plans of the last batch's queries (EXPLAIN (ANALYZE, BUFFERS)).
 *
 *   tsx bench/ratdb.ts [--runs 200000] [--separate] [--explain] [--no-analyze (as loaded, before autovacuum)]
 */
import { parseArgs } from 'node:util';

import pg from 'pg';

import { sqlRatdb } from '../src/backends/sql-ratdb.js';
import type { SqlClient, TableRequirement } from '../src/backends/types.js';
import { createDatabase, startPostgres } from '../test/support/postgres-server.js';
import { ratdbTablesFor } from '../test/support/scenario.js';
import { cleanupAll, guardSignals, onCleanup, treeCpuSeconds } from './processes.js';
import { firstRun, specs, vacuumAnalyze } from './seed.js';

const batch = 500;
const tables: TableRequirement[] = [
  { type: 'RUN' },
  { type: 'DAQ_RUN_LEVEL' },
  { type: 'PMT_DQXX' },
  { type: 'PMTCALIB', index: 'calib' },
];

function client(url: string, explain: { on: boolean; plans: string[] }): SqlClient {
  const pool = new pg.Pool({ connectionString: url, max: 2 });
  const query = async <Row>(text: string, params?: readonly unknown[]) => {
    if (!explain.on) return { rows: (await pool.query(text, params as unknown[])).rows as Row[] };
    const { rows } = await pool.query(`EXPLAIN (ANALYZE, BUFFERS) ${text}`, params as unknown[]);
    explain.plans.push(rows.map((row: Record<string, string>) => row['QUERY PLAN']).join('\n'));
    return { rows: [] as Row[] };
  };
  return {
    query,
    async transaction(work) {
      const connection = await pool.connect();
      try {
        await connection.query('BEGIN');
        const result = await work({
          query: async <Row>(text: string, params?: readonly unknown[]) => ({
            rows: (await connection.query(text, params as unknown[])).rows as Row[],
          }),
        });
        await connection.query('COMMIT');
        return result;
      } catch (error) {
        await connection.query('ROLLBACK');
        throw error;
      } finally {
        connection.release();
      }
    },
    close: () => pool.end(),
  };
}

/** The mean of each tenth of `values`, in order, to two decimals. */
function tenths(values: readonly number[]): number[] {
  const size = Math.ceil(values.length / 10);
  return Array.from({ length: Math.ceil(values.length / size) }, (_, i) => {
    const part = values.slice(i * size, (i + 1) * size);
    return Math.round((part.reduce((sum, v) => sum + v, 0) / part.length) * 100) / 100;
  });
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      runs: { type: 'string', default: '200000' },
      explain: { type: 'boolean', default: false },
      separate: { type: 'boolean', default: false },
      'no-analyze': { type: 'boolean', default: false },
    },
  });
  const runs = Number(values.runs);
  guardSignals();
  const postgres = await startPostgres();
  onCleanup(`PostgreSQL (PID ${postgres.pid})`, () => postgres.stop());
  const explain = { on: false, plans: [] as string[] };
  const url = await createDatabase(postgres);
  const ratdb = sqlRatdb(client(url, explain), 'bench');
  try {
    await ratdb.create();
    const all = specs({ runs, subruns: 3 });
    for (let i = 0; i < all.length; i += 2500)
      await ratdb.load(all.slice(i, i + 2500).flatMap(ratdbTablesFor));
    // A long-lived RATDB has its statistics; without them (a fresh load before autovacuum has run)
    // the planner may take the (type, run_begin, run_end) B-tree for the type alone.
    if (!values['no-analyze']) await vacuumAnalyze(url);
    const read = async (numbers: number[]) =>
      values.separate
        ? { runTypes: await ratdb.runTypes(numbers), present: await ratdb.tablesPresent(numbers, tables) }
        : ratdb.runTypesAndTables!(numbers, tables);
    const before = await treeCpuSeconds([postgres.pid]);
    const started = performance.now();
    let typed = 0;
    let present = 0;
    const batchMs: number[] = [];
    for (let start = firstRun; start < firstRun + runs; start += batch) {
      const batchStarted = performance.now();
      const numbers = Array.from({ length: Math.min(batch, firstRun + runs - start) }, (_, i) => start + i);
      const facts = await read(numbers);
      typed += facts.runTypes.size;
      for (const found of facts.present.values()) present += found.size;
      batchMs.push(performance.now() - batchStarted);
    }
    const figures = {
      runs,
      queries: values.separate ? 'two a batch' : 'one a batch',
      runTypes: typed,
      tablesPresent: present,
      wallSeconds: (performance.now() - started) / 1000,
      postgresCpuSeconds: (await treeCpuSeconds([postgres.pid])) - before,
      // A part that grows with the position in the range would show as later tenths taking longer.
      batchMsByTenthOfRange: tenths(batchMs),
    };
    if (typed !== runs || present !== runs * tables.length)
      throw new Error(`wrong answers: ${JSON.stringify(figures)}`);
    console.log(JSON.stringify(figures));
    if (values.explain) {
      explain.on = true;
      const last = Array.from({ length: batch }, (_, i) => firstRun + runs - batch + i);
      await read(last);
      console.log(explain.plans.join('\n\n'));
    }
  } finally {
    await ratdb.close();
  }
}

try {
  await main();
} catch (error) {
  console.error(error instanceof Error ? (error.stack ?? error.message) : String(error));
  process.exitCode = 1;
} finally {
  await cleanupAll();
}
