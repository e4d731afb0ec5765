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

    async runTypes(runs, asOf) {
      const result = new Map<number, number>();
      if (runs.length === 0) return result;
      const { rows } = await client.query<{ run: number; runtype: unknown }>(
        // Candidates are the RUN rows overlapping the batch, taken once; joining every run to the whole
        // table instead makes the query grow with the square of the runs.
        `WITH candidate AS MATERIALIZED (
           SELECT h.key, h.run_begin, h.run_end, h.version, h.pass, h.timestamp
             FROM ratdb_header_v2 h
            WHERE h.type = 'RUN' AND coalesce(h."index", '') = ''
              AND h.run_begin <= $4::int AND h.run_end >= $3::int
              AND ${runRange('h.')} && int8range($3::bigint, $4::bigint, '[]')
              AND ($2::timestamptz IS NULL OR h.timestamp <= $2::timestamptz))
         SELECT DISTINCT ON (r.run) r.run, d.data -> 'runtype' AS runtype
           FROM unnest($1::int[]) AS r(run)
           JOIN candidate c ON c.run_begin <= r.run AND r.run <= c.run_end
           JOIN ratdb_data d ON d.key = c.key
          ORDER BY r.run, c.version DESC NULLS LAST, c.pass DESC NULLS LAST, c.timestamp DESC NULLS LAST`,
        [runs, asOf ?? null, Math.min(...runs), Math.max(...runs)],
      );
      for (const row of rows) {
        const word = typeof row.runtype === 'string' ? Number(row.runtype) : row.runtype;
        if (typeof word === 'number' && Number.isSafeInteger(word) && word >= 0)
          result.set(Number(row.run), word);
      }
      return result;
    },

    async tablesPresent(runs, tables, asOf) {
      const result = new Map<number, Set<string>>(runs.map((run) => [run, new Set<string>()]));
      if (runs.length === 0 || tables.length === 0) return result;
      const { rows } = await client.query<{ run: number; type: string; idx: string | null }>(
        `WITH candidate AS MATERIALIZED (
           SELECT h.type, coalesce(h."index", '') AS idx, h.run_begin, h.run_end
             FROM ratdb_header_v2 h
            WHERE h.type = ANY($2::text[])
              AND h.run_begin <= $6::int AND h.run_end >= $5::int
              AND ${runRange('h.')} && int8range($5::bigint, $6::bigint, '[]')
              AND ($4::timestamptz IS NULL OR h.timestamp <= $4::timestamptz))
         SELECT DISTINCT r.run, t.type, t.idx
           FROM unnest($1::int[]) AS r(run)
           JOIN candidate c ON c.run_begin <= r.run AND r.run <= c.run_end
           JOIN unnest($2::text[], $3::text[]) AS t(type, idx)
             ON c.type = t.type AND (t.idx IS NULL OR c.idx = t.idx)`,
        [
          runs,
          tables.map((t) => t.type),
          tables.map((t) => t.index ?? null),
          asOf ?? null,
          Math.min(...runs),
          Math.max(...runs),
        ],
      );
      for (const row of rows) {
        result.get(Number(row.run))?.add(tableKey({ type: row.type, index: row.idx ?? undefined }));
      }
      return result;
    },

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
