/** What `oproc ratdb load`, `tag` and `tags` do, apart from parsing flags and printing. */
import type { Ratdb, RatdbTag } from '../backends/types.js';
import { usageError } from '../errors.js';
import { parseIsoTime, type RatdbFile } from './ratdb-file.js';

export interface LoadResult {
  ratdb: string;
  loaded: number;
  files: { file: string; tables: number }[];
}

function sqlState(error: unknown): string | undefined {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : undefined;
}

/**
 * Runs `work`; if the RATDB tables do not exist yet (an empty embedded or test database), creates
 * them and runs it again. An existing RATDB is never altered.
 */
async function withTables<T>(ratdb: Ratdb, work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (error) {
    // 42P01: undefined_table. `load` is one transaction, so nothing was written by the failed try.
    if (sqlState(error) !== '42P01') throw error;
    await ratdb.create();
    return work();
  }
}

/** Loads the tables of files already read and checked, all in one transaction. */
export async function loadRatdbFiles(ratdb: Ratdb, read: readonly RatdbFile[]): Promise<LoadResult> {
  const tables = read.flatMap((file) => file.tables);
  const loaded = await withTables(ratdb, () => ratdb.load(tables));
  return {
    ratdb: ratdb.description,
    loaded,
    files: read.map((f) => ({ file: f.file, tables: f.tables.length })),
  };
}

const tagName = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;

export function checkTagName(name: string): string {
  if (!tagName.test(name) || name.length > 200) {
    throw usageError(
      `tag name "${name}" is not valid: use letters, digits, "-", "_" and "." (e.g. water-physics-v2)`,
    );
  }
  return name;
}

/** `--at`: an ISO time with a zone, or a date (midnight UTC); default now. */
export function tagTime(at: string | undefined, now: () => Date = () => new Date()): Date {
  if (at === undefined) return now();
  const time = parseIsoTime(at);
  if (!time) {
    throw usageError(`--at "${at}" is not an ISO time: give e.g. 2026-11-24T10:00:00Z or 2026-11-24`);
  }
  return time;
}

export interface TagResult {
  name: string;
  timestamp: string;
  /** Where the tag was before it was moved; null for a new tag. */
  previous: string | null;
  ratdb: string;
}

/** Creates or moves a tag. */
export async function setTag(ratdb: Ratdb, name: string, timestamp: Date): Promise<TagResult> {
  checkTagName(name);
  return withTables(ratdb, async () => {
    const previous = await ratdb.tag(name);
    await ratdb.setTag({ name, timestamp });
    return {
      name,
      timestamp: timestamp.toISOString(),
      previous: previous ? previous.timestamp.toISOString() : null,
      ratdb: ratdb.description,
    };
  });
}

export async function listTags(ratdb: Ratdb): Promise<RatdbTag[]> {
  return withTables(ratdb, () => ratdb.listTags());
}
