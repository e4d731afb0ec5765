/**
 * Reads RAT's `.ratdb` files: JSON5 (comments, unquoted keys, trailing commas), several tables one
 * after another. Every problem is reported as `FILE:LINE:COLUMN: problem`, as compilers do, so an
 * editor can jump to it.
 */
import { readFile } from 'node:fs/promises';

import JSON5 from 'json5';

import type { RatdbTable } from '../backends/types.js';
import { usageError } from '../errors.js';
import { scanTables, type Position, type ScannedTable } from './scan.js';

export interface RatdbProblem {
  file: string;
  line: number;
  column: number;
  problem: string;
}

export interface RatdbFile {
  file: string;
  tables: RatdbTable[];
}

/** Header fields RAT keeps in every table; the rest of a table is its data. */
const headerFields = new Set(['type', 'index', 'run_range', 'version', 'pass', 'timestamp']);

/** Run numbers, versions and passes are PostgreSQL `int` columns. */
const int32 = (value: unknown): value is number =>
  typeof value === 'number' && Number.isInteger(value) && value >= -(2 ** 31) && value < 2 ** 31;

/** ISO 8601 with a date and, when a time is given, a zone (a zoneless time would depend on the machine). */
const isoTime = /^\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:?\d{2}))?$/;

/** Parses an ISO time as `--at` and `.ratdb` timestamps accept it; undefined when it is not one. */
export function parseIsoTime(text: string): Date | undefined {
  if (!isoTime.test(text)) return undefined;
  const time = new Date(text);
  return Number.isNaN(time.getTime()) ? undefined : time;
}

type FieldCheck = { ok: true } | { ok: false; key: string; problem: string };

const show = (value: unknown) => JSON.stringify(value) ?? String(value);

function checkHeader(t: Record<string, unknown>): FieldCheck {
  if (typeof t.type !== 'string' || t.type === '') {
    return {
      ok: false,
      key: 'type',
      problem: `table needs "type", the table name as a string (got ${show(t.type)})`,
    };
  }
  const range = t.run_range;
  if (range === undefined)
    return {
      ok: false,
      key: 'run_range',
      problem: `${t.type} table has no "run_range": add run_range: [begin, end]`,
    };
  if (!Array.isArray(range) || range.length !== 2 || !range.every(int32) || range[0] > range[1]) {
    return {
      ok: false,
      key: 'run_range',
      problem: `${t.type} table: "run_range" must be [begin, end], run numbers with begin <= end (got ${show(range)})`,
    };
  }
  if (t.version === undefined)
    return { ok: false, key: 'version', problem: `${t.type} table has no "version": add version: 1` };
  if (!int32(t.version))
    return {
      ok: false,
      key: 'version',
      problem: `${t.type} table: "version" must be an integer (got ${show(t.version)})`,
    };
  if (t.pass !== undefined && !int32(t.pass)) {
    return {
      ok: false,
      key: 'pass',
      problem: `${t.type} table: "pass" must be an integer (got ${show(t.pass)})`,
    };
  }
  if (t.index !== undefined && typeof t.index !== 'string') {
    return {
      ok: false,
      key: 'index',
      problem: `${t.type} table: "index" must be a string (got ${show(t.index)})`,
    };
  }
  return checkTimestamp(t);
}

function checkTimestamp(t: Record<string, unknown>): FieldCheck {
  const stamp = t.timestamp;
  if (stamp === undefined || stamp === null || stamp === '') return { ok: true };
  if (typeof stamp !== 'string' || parseIsoTime(stamp) === undefined) {
    return {
      ok: false,
      key: 'timestamp',
      problem: `${String(t.type)} table: "timestamp" must be an ISO time with a zone, e.g. "2026-11-20T02:00:00Z" (got ${show(stamp)})`,
    };
  }
  return { ok: true };
}

/** The table a parsed object describes: header fields taken out, everything else is data. */
function toTable(t: Record<string, unknown>): RatdbTable {
  const [begin, end] = t.run_range as [number, number];
  const data = Object.fromEntries(Object.entries(t).filter(([key]) => !headerFields.has(key)));
  return {
    type: t.type as string,
    index: (t.index as string | undefined) ?? '',
    run_begin: begin,
    run_end: end,
    version: t.version as number,
    pass: (t.pass as number | undefined) ?? 0,
    timestamp: typeof t.timestamp === 'string' && t.timestamp !== '' ? parseIsoTime(t.timestamp) : undefined,
    data,
  };
}

/** JSON5 counts lines and columns within the table's text; the file's own are wanted. */
function filePosition(table: ScannedTable, line: number, column: number): Position {
  return line === 1
    ? { line: table.start.line, column: table.start.column + column - 1 }
    : { line: table.start.line + line - 1, column };
}

function parseTable(file: string, table: ScannedTable): RatdbTable | RatdbProblem {
  let value: unknown;
  try {
    value = JSON5.parse(table.text);
  } catch (error) {
    const e = error as SyntaxError & { lineNumber?: number; columnNumber?: number };
    const at = filePosition(table, e.lineNumber ?? 1, e.columnNumber ?? 1);
    const problem = e.message.replace(/^JSON5: /, '').replace(/ at \d+:\d+$/, '');
    return { file, ...at, problem };
  }
  const fields = value as Record<string, unknown>;
  const check = checkHeader(fields);
  if (!check.ok) return { file, ...(table.keys.get(check.key) ?? table.start), problem: check.problem };
  return toTable(fields);
}

/** Parses and checks one file's text. Every problem is returned; tables only when there are none. */
export function parseRatdbText(
  file: string,
  text: string,
): { tables: RatdbTable[]; problems: RatdbProblem[] } {
  const scanned = scanTables(text);
  const problems: RatdbProblem[] = scanned.problems.map(({ at, problem }) => ({ file, ...at, problem }));
  const tables: RatdbTable[] = [];
  for (const table of scanned.tables) {
    const parsed = parseTable(file, table);
    if ('problem' in parsed) problems.push(parsed);
    else tables.push(parsed);
  }
  if (problems.length === 0 && tables.length === 0) {
    problems.push({
      file,
      line: 1,
      column: 1,
      problem: 'holds no tables: a .ratdb file is { type: ..., ... } tables',
    });
  }
  problems.sort((a, b) => a.line - b.line || a.column - b.column);
  return { tables, problems };
}

async function readText(file: string): Promise<string | RatdbProblem> {
  try {
    return await readFile(file, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    const why =
      code === 'ENOENT'
        ? 'no such file'
        : code === 'EISDIR'
          ? 'is a directory'
          : code === 'EACCES'
            ? 'permission denied'
            : String(error);
    return { file, line: 1, column: 1, problem: `cannot read: ${why}` };
  }
}

export const formatProblem = (p: RatdbProblem) => `${p.file}:${p.line}:${p.column}: ${p.problem}`;

/** How many problems a usage error lists before summing up the rest. */
const shownProblems = 20;

/**
 * Reads and checks every file before anything is loaded: any problem in any file is a usage error
 * (exit 2) listing them as FILE:LINE:COLUMN: problem.
 */
export async function readRatdbFiles(files: readonly string[]): Promise<RatdbFile[]> {
  const result: RatdbFile[] = [];
  const problems: RatdbProblem[] = [];
  for (const file of files) {
    const text = await readText(file);
    if (typeof text !== 'string') {
      problems.push(text);
      continue;
    }
    const parsed = parseRatdbText(file, text);
    problems.push(...parsed.problems);
    result.push({ file, tables: parsed.tables });
  }
  if (problems.length > 0) {
    const lines = problems.slice(0, shownProblems).map(formatProblem);
    if (problems.length > shownProblems)
      lines.push(`... and ${problems.length - shownProblems} more problems`);
    throw usageError(
      `${lines.join('\n')}\nnothing was loaded`,
      'fix the files named above and load them again',
    );
  }
  return result;
}
