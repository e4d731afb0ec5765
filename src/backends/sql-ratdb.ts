import type { Ratdb, RatdbTable, RatdbTag, SqlClient, TableRequirement } from './types.js';

/** The RATDB schema as at the experiment (DESIGN.md 1.2); `ratdb_tag` is oproc's own. */
const schema = [
  `CREATE TABLE IF NOT EXISTS ratdb_header_v2 (
     key bigserial PRIMARY KEY, type text, "index" text, run_begin int, run_end int,
     pass int, version int, timestamp timestamptz)`,
  `CREATE TABLE IF NOT EXISTS ratdb_data (key bigint PRIMARY KEY REFERENCES ratdb_header_v2, data jsonb)`,
  `CREATE TABLE IF NOT EXISTS ratdb_tag (name text PRIMARY KEY, timestamp timestamptz)`,
  `CREATE INDEX IF NOT EXISTS ratdb_header_v2_type_range ON ratdb_header_v2 (type, run_begin, run_end)`,
  // The rows whose validity overlaps a batch's runs (see runRange). The B-tree above finds them by
  // run_begin <= last, which reads every row that begins earlier: all of them, late in a long
  // reprocess (35 s of PostgreSQL's CPU at 200,000 runs). Bigint, and bounds in order, so that no
  // row of the experiment's (run_end 2147483647, or bounds the wrong way round) makes it fail.
  `CREATE INDEX IF NOT EXISTS ratdb_header_v2_run_range ON ratdb_header_v2 USING gist (${runRange('')})`,
];

/** A header row's validity as a range of runs, as the GiST index on it is written. */
function runRange(prefix: string): string {
  const [begin, end] = [`${prefix}run_begin`, `${prefix}run_end`];
  return `int8range(least(${begin}, ${end})::bigint, greatest(${begin}, ${end})::bigint, '[]')`;
}

/**
 * A header row's type compared with `operand`, written so that the (type, run_begin, run_end) B-tree
 * cannot serve it. Without statistics (a RATDB loaded in bulk, before autovacuum has analysed it) the
 * planner would otherwise AND the GiST probe with a scan of that B-tree for the type alone, which
 * reads every row of the type in every batch: 16 s of PostgreSQL's CPU at 200,000 runs instead of
 * 1.5 s. The GiST probe then finds the rows, and the type only filters them.
 */
function typeIs(prefix: string, operand: string): string {
  return `coalesce(${prefix}type, '') = ${operand}`;
}

/**
 * Runs further apart than this are read as separate spans: the rows between two runs of a batch
 * are read with it, so a sparse list would otherwise read every row between its first and last run.
 */
const spanGap = 100;

/** The distinct runs, in order. */
function sortedRuns(runs: readonly number[]): number[] {
  return [...new Set(runs)].sort((a, b) => a - b);
}

/** Sorted runs as [first, last] spans, a new span where two runs are more than `spanGap` apart. */
function runSpans(sorted: readonly number[]): [number, number][] {
  const spans: [number, number][] = [];
  for (const run of sorted) {
    const last = spans.at(-1);
    if (last && run - last[1] <= spanGap) last[1] = run;
    else spans.push([run, run]);
  }
  return spans;
}

/** Calls `visit` for each of the sorted runs from `begin` to `end` (a binary search, then a walk). */
function eachRunIn(
  sorted: readonly number[],
  begin: number,
  end: number,
  visit: (run: number) => void,
): void {
  let lo = 0;
  let hi = sorted.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (sorted[mid]! < begin) lo = mid + 1;
    else hi = mid;
  }
  for (let i = lo; i < sorted.length && sorted[i]! <= end; i++) visit(sorted[i]!);
}

/**
 * Run types and the tables present for a batch of runs, in one query: the header rows of the types
 * asked for (and RUN for the run types) overlapping each span of the batch's runs, found by the GiST
 * index (one probe a span; OFFSET 0 keeps the planner from turning the probe into a join with the
 * whole table). Only a RUN row (`index=''`) has its data read, for the run type word, and the rows
 * come best first (highest `version`, then `pass`, then newest `timestamp`): each run takes the
 * first RUN row that holds it. One query instead of one for each takes a fifth less of PostgreSQL's
 * CPU (docs/PERFORMANCE.md). Which runs each row holds is worked out here, in one pass over the
 * sorted runs.
 */
async function readBatch(
  client: SqlClient,
  runs: readonly number[],
  tables: readonly TableRequirement[],
  asOf: Date | undefined,
  withRunTypes: boolean,
): Promise<{ runTypes: Map<number, number>; present: Map<number, Set<string>> }> {
  const present = new Map<number, Set<string>>(runs.map((run) => [run, new Set<string>()]));
  const types = [...new Set([...(withRunTypes ? ['RUN'] : []), ...tables.map((t) => t.type)])];
  if (runs.length === 0 || types.length === 0) return { runTypes: new Map(), present };
  const sorted = sortedRuns(runs);
  const spans = runSpans(sorted);
  // runtype: null for a row whose data is not read (or has no data row); else [word], [null] when
  // the table holds no run type.
  const { rows } = await client.query<{
    type: string;
    idx: string;
    run_begin: number;
    run_end: number;
    runtype: unknown[] | null;
  }>(
    `SELECT c.type, c.idx, c.run_begin, c.run_end,
            ${withRunTypes ? `CASE WHEN c.type = 'RUN' AND c.idx = '' THEN (SELECT jsonb_build_array(d.data -> 'runtype') FROM ratdb_data d WHERE d.key = c.key) END` : 'NULL'} AS runtype
       FROM unnest($1::int[], $2::int[]) AS s(lo, hi)
       CROSS JOIN LATERAL (
         SELECT h.key, h.type, coalesce(h."index", '') AS idx, h.run_begin, h.run_end,
                h.version, h.pass, h.timestamp
           FROM ratdb_header_v2 h
          WHERE ${runRange('h.')} && int8range(s.lo::bigint, s.hi::bigint, '[]')
            AND h.run_begin <= h.run_end
            AND ${typeIs('h.', 'ANY($3::text[])')}
            AND ($4::timestamptz IS NULL OR h.timestamp <= $4::timestamptz)
         OFFSET 0) c
      ${withRunTypes ? 'ORDER BY c.version DESC NULLS LAST, c.pass DESC NULLS LAST, c.timestamp DESC NULLS LAST' : ''}`,
    [spans.map((s) => s[0]), spans.map((s) => s[1]), types, asOf ?? null],
  );
  const wanted = new Map<string, TableRequirement[]>();
  for (const t of tables) wanted.set(t.type, [...(wanted.get(t.type) ?? []), t]);
  const found = new Map<number, number>();
  // Runs whose best RUN row holds no usable run type word: absent, as if they had no RUN table.
  const skipped = new Set<number>();
  for (const row of rows) {
    const [begin, end] = [Number(row.run_begin), Number(row.run_end)];
    if (Array.isArray(row.runtype)) {
      const value = row.runtype[0];
      const word = typeof value === 'string' ? Number(value) : value;
      eachRunIn(sorted, begin, end, (run) => {
        if (found.has(run) || skipped.has(run)) return;
        if (typeof word === 'number' && Number.isSafeInteger(word) && word >= 0) found.set(run, word);
        else skipped.add(run);
      });
    }
    const keys = (wanted.get(row.type) ?? [])
      .filter((t) => t.index === undefined || t.index === row.idx)
      .map(tableKey);
    if (keys.length === 0) continue;
    eachRunIn(sorted, begin, end, (run) => {
      const held = present.get(run)!;
      for (const key of keys) held.add(key);
    });
  }
  // In run order, as the runs are read everywhere else (rows come best first, not by run).
  const runTypes = new Map(
    sorted.flatMap((run) => (found.has(run) ? [[run, found.get(run)!] as const] : [])),
  );
  return { runTypes, present };
}

/** Rows per statement when loading: large enough to be quick, small enough for one parameter. */
const loadChunk = 2000;

/** Tag key of a table requirement, as messages and `tablesPresent` name it: `TYPE` or `TYPE[index]`. */
export function tableKey(table: TableRequirement): string {
  return table.index === undefined ? table.type : `${table.type}[${table.index}]`;
}

/** The RATDB reads and loads over any PostgreSQL-dialect client (postgres and pglite share it). */
export function sqlRatdb(client: SqlClient, description: string): Ratdb {
  return {
    description,

    async create() {
      await client.transaction(async (tx) => {
        for (const statement of schema) await tx.query(statement);
      });
    },

    async tag(name) {
      const { rows } = await client.query<{ name: string; timestamp: Date }>(
        'SELECT name, timestamp FROM ratdb_tag WHERE name = $1',
        [name],
      );
      return rows[0] ? { name: rows[0].name, timestamp: new Date(rows[0].timestamp) } : undefined;
    },

    async listTags() {
      const { rows } = await client.query<RatdbTag>(
        'SELECT name, timestamp FROM ratdb_tag ORDER BY timestamp, name',
      );
      return rows.map((row) => ({ name: row.name, timestamp: new Date(row.timestamp) }));
    },

    async setTag(tag) {
      await client.query(
        `INSERT INTO ratdb_tag (name, timestamp) VALUES ($1, $2)
         ON CONFLICT (name) DO UPDATE SET timestamp = EXCLUDED.timestamp`,
        [tag.name, tag.timestamp],
      );
    },

    runTypes: async (runs, asOf) => (await readBatch(client, runs, [], asOf, true)).runTypes,

    tablesPresent: async (runs, tables, asOf) => (await readBatch(client, runs, tables, asOf, false)).present,

    runTypesAndTables: (runs, tables, asOf) => readBatch(client, runs, tables, asOf, true),

    async load(tables) {
      if (tables.length === 0) return 0;
      await client.transaction(async (tx) => {
        for (let start = 0; start < tables.length; start += loadChunk) {
          const chunk = tables.slice(start, start + loadChunk);
          const { rows: keys } = await tx.query<{ key: string }>(
            `SELECT nextval(pg_get_serial_sequence('ratdb_header_v2', 'key'))::text AS key
               FROM generate_series(1, $1::int)`,
            [chunk.length],
          );
          const batch = JSON.stringify(chunk.map((table, i) => ({ ...serialize(table), key: keys[i]!.key })));
          await tx.query(
            `INSERT INTO ratdb_header_v2 (key, type, "index", run_begin, run_end, version, pass, timestamp)
             SELECT (e->>'key')::bigint, e->>'type', e->>'index', (e->>'run_begin')::int, (e->>'run_end')::int,
                    (e->>'version')::int, (e->>'pass')::int, coalesce((e->>'timestamp')::timestamptz, now())
               FROM jsonb_array_elements($1::jsonb) AS e`,
            [batch],
          );
          await tx.query(
            `INSERT INTO ratdb_data (key, data)
             SELECT (e->>'key')::bigint, e->'data' FROM jsonb_array_elements($1::jsonb) AS e`,
            [batch],
          );
        }
      });
      return tables.length;
    },

    close: () => client.close(),
  };
}

function serialize(table: RatdbTable) {
  return {
    type: table.type,
    index: table.index,
    run_begin: table.run_begin,
    run_end: table.run_end,
    version: table.version,
    pass: table.pass,
    timestamp: table.timestamp?.toISOString() ?? null,
    // RAT keeps the header fields inside the table too; the data column holds the whole table.
    data: {
      ...table.data,
      type: table.type,
      index: table.index,
      run_range: [table.run_begin, table.run_end],
      version: table.version,
      pass: table.pass,
    },
  };
}
