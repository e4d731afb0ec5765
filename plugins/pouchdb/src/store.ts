import { existsSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import path from 'node:path';

import type {
  BackendContext,
  ChangesBatch,
  ChangesQuery,
  DesignDocument,
  DesignOutcome,
  DocumentStore,
  EnsureDesignOptions,
  ReadOptions,
  RevisionRef,
  StoredDocument,
  ViewQuery,
  ViewRow,
  WriteResult,
} from 'oproc';
import PouchDB from 'pouchdb';

import {
  asDocument,
  designToWrite,
  isObject,
  pouchStatus,
  rowsInOrderOf,
  writeInRounds,
  type JsonObject,
} from './json.js';

type Database = PouchDB.Database<JsonObject>;

const designWriteAttempts = 5;

/** Query options with the undefined ones left out. */
function defined<T extends Record<string, unknown>>(options: T): Partial<T> {
  return Object.fromEntries(Object.entries(options).filter(([, value]) => value !== undefined)) as Partial<T>;
}

/** Our sequences are PouchDB's numbers as strings; give PouchDB its number back. */
function pouchSeq(since: string): number | string {
  return /^\d+$/.test(since) ? Number(since) : since;
}

function writeResult(row: unknown, doc: StoredDocument): WriteResult {
  const fields: JsonObject = isObject(row) ? row : {};
  const id = typeof fields.id === 'string' ? fields.id : doc._id;
  if (fields.ok === true && typeof fields.rev === 'string') return { id, ok: true, rev: fields.rev };
  // PouchDB puts CouchDB's `error` word in `name` (`error` is just `true`).
  const error =
    typeof fields.name === 'string'
      ? fields.name
      : typeof fields.error === 'string'
        ? fields.error
        : 'unknown_error';
  return typeof fields.message === 'string'
    ? { id, ok: false, error, reason: fields.message }
    : { id, ok: false, error };
}

function errorMessage(error: unknown): string {
  if (error instanceof Error) return error.message;
  if (isObject(error) && typeof error.message === 'string') return error.message;
  return String(error);
}

/** A CouchDB-model database embedded in this process: PouchDB on disk (leveldb). */
export class PouchStore implements DocumentStore {
  /** Long-polls in progress, ended early by `close()`. */
  private readonly waiting = new Set<() => void>();

  constructor(
    private readonly db: Database,
    readonly description: string,
    private readonly releaseLock: () => void,
    /** A setup problem of this store's config section (exit 2), e.g. a view `oproc init` installs. */
    private readonly configError: (key: string, problem: string) => Error,
  ) {}

  async create(): Promise<void> {
    // PouchDB creates the database when it opens it.
  }

  async ensureDesign(design: DesignDocument, _options: EnsureDesignOptions = {}): Promise<DesignOutcome> {
    const id = `_design/${design.name}`;
    for (let attempt = 0; attempt < designWriteAttempts; attempt++) {
      const stored = await this.getDocument(id);
      const wanted = designToWrite(design, stored);
      if (wanted) {
        try {
          await this.db.put(wanted);
        } catch (error) {
          if (pouchStatus(error) !== 409) throw error; // written meanwhile: compare again
          continue;
        }
      }
      // PouchDB builds a view on the first query of it, in the process that queries: a command's
      // first read waits for it. Not queried here, where nothing would keep the index open for the
      // command (and an index PouchDB opened stays locked until this process ends).
      return !wanted ? 'unchanged' : stored ? 'updated' : 'created';
    }
    throw new Error(
      `could not install ${id} in ${this.description}: it kept changing under us (409 conflicts)`,
    );
  }

  async getMany(ids: readonly string[], options: ReadOptions = {}): Promise<Map<string, StoredDocument>> {
    const found = new Map<string, StoredDocument>();
    if (ids.length === 0) return found;
    const response = await this.db.allDocs({
      keys: [...ids],
      include_docs: true,
      ...(options.conflicts ? { conflicts: true } : {}),
    });
    for (const row of response.rows as unknown[]) {
      const doc = isObject(row) ? asDocument(row.doc) : undefined; // missing and deleted ids have no doc
      if (doc) found.set(doc._id, doc);
    }
    return found;
  }

  async allDocs(
    query: {
      startkey?: string;
      endkey?: string;
      limit?: number;
      skip?: number;
    } & ReadOptions,
  ): Promise<StoredDocument[]> {
    const response = await this.db.allDocs({
      include_docs: true,
      ...defined({ ...query, conflicts: query.conflicts || undefined }),
    });
    return response.rows
      .map((row) => asDocument(row.doc))
      .filter((doc): doc is StoredDocument => doc !== undefined);
  }

  async bulkWrite(docs: readonly StoredDocument[]): Promise<WriteResult[]> {
    return writeInRounds(docs, async (round) => {
      if (round.length === 0) return [];
      const answer: unknown[] = await this.db.bulkDocs(round.map((doc) => ({ ...doc })));
      const rows = rowsInOrderOf(round, answer);
      return round.map((doc, i) => writeResult(rows[i], doc));
    });
  }

  async getRevisions(refs: readonly RevisionRef[]): Promise<StoredDocument[]> {
    if (refs.length === 0) return [];
    const response = await this.db.bulkGet({ docs: refs.map((ref) => ({ id: ref.id, rev: ref.rev })) });
    const found = new Map<string, StoredDocument>();
    for (const result of response.results as unknown[]) {
      const docs = isObject(result) && Array.isArray(result.docs) ? result.docs : [];
      for (const entry of docs as unknown[]) {
        const doc = isObject(entry) ? asDocument(entry.ok) : undefined;
        if (doc?._rev) found.set(`${doc._id} ${doc._rev}`, doc);
      }
    }
    return refs.flatMap((ref) => found.get(`${ref.id} ${ref.rev}`) ?? []);
  }

  async queryView(design: string, view: string, query: ViewQuery): Promise<ViewRow[]> {
    const options = defined({
      startkey: query.startkey,
      endkey: query.endkey,
      limit: query.limit,
      skip: query.skip,
      descending: query.descending,
      include_docs: query.includeDocs,
      reduce: query.reduce,
      group: query.group,
      group_level: query.groupLevel,
    });
    let response: { rows: unknown[] };
    try {
      response = await this.db.query(`${design}/${view}`, options);
    } catch (error) {
      if (pouchStatus(error) !== 404) throw error;
      throw this.configError(
        'path',
        `${this.description} has no view ${design}/${view}: run \`oproc init CONFIG\` to install it`,
      );
    }
    return response.rows.filter(isObject).map((row) => {
      const doc = asDocument(row.doc);
      const id = row.id === undefined || row.id === null ? '' : String(row.id); // reduced rows have none
      return { id, key: row.key, value: row.value, ...(doc ? { doc } : {}) };
    });
  }

  async currentSeq(): Promise<string> {
    const info = await this.db.info();
    return String(info.update_seq);
  }

  async changes(query: ChangesQuery): Promise<ChangesBatch> {
    const since = query.since ?? '0';
    if (query.signal?.aborted) return { results: [], lastSeq: since };
    const pending = await this.readChanges(since, query.limit);
    if (pending.results.length > 0 || !query.waitMs) return pending;
    const woke = await this.waitForChange(since, query.waitMs, query.signal);
    return woke ? this.readChanges(since, query.limit) : { results: [], lastSeq: since };
  }

  async close(): Promise<void> {
    for (const stop of this.waiting) stop();
    try {
      await this.db.close();
    } finally {
      this.releaseLock();
    }
  }

  private async readChanges(since: string, limit: number | undefined): Promise<ChangesBatch> {
    const response = await this.db.changes({ since: pouchSeq(since), ...(limit ? { limit } : {}) });
    const results = response.results.map((change) => ({
      id: change.id,
      seq: String(change.seq),
      ...(change.deleted ? { deleted: true } : {}),
    }));
    return { results, lastSeq: String(response.last_seq) };
  }

  /**
   * Resolves true on the first change after `since`, false after `waitMs`, on abort or on close.
   * The live feed starts from `since`, so a change written since the last read is not missed.
   */
  private waitForChange(since: string, waitMs: number, signal: AbortSignal | undefined): Promise<boolean> {
    return new Promise((resolve, reject) => {
      const feed = this.db.changes({ since: pouchSeq(since), live: true });
      let settled = false;
      const finish = (woke: boolean, error?: unknown) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        signal?.removeEventListener('abort', stop);
        this.waiting.delete(stop);
        feed.cancel();
        if (error === undefined) resolve(woke);
        else reject(error instanceof Error ? error : new Error(errorMessage(error)));
      };
      const stop = () => finish(false);
      const timer = setTimeout(stop, waitMs);
      signal?.addEventListener('abort', stop, { once: true });
      this.waiting.add(stop);
      feed.on('change', () => finish(true));
      feed.on('error', (error: unknown) => finish(false, error ?? 'changes feed failed'));
    });
  }

  /** A document, or undefined when there is none. */
  private async getDocument(id: string): Promise<StoredDocument | undefined> {
    try {
      return asDocument(await this.db.get(id));
    } catch (error) {
      if (pouchStatus(error) === 404) return undefined;
      throw error;
    }
  }
}

/** The `path` key of the section, absolute (relative paths are taken from the config's directory). */
function readLocation(context: BackendContext): string {
  const value = context.section.path;
  if (value === undefined || value === null || value === '')
    throw context.helpers.configError('path', 'is missing');
  if (typeof value !== 'string') throw context.helpers.configError('path', 'must be a string');
  return path.resolve(context.baseDir, value);
}

/**
 * Opens (creating as needed, unless the command only reads) a PouchDB database on disk. It takes
 * the directory's lock first, so a second process gets a clear "in use" error instead of a
 * corrupted database.
 */
export async function openPouchStore(context: BackendContext): Promise<DocumentStore> {
  const location = readLocation(context);
  // A read creates nothing: no database folder, no parent folders, no lock file.
  if (context.create === false && !existsSync(location)) throw context.helpers.missingDatabase(location);
  await mkdir(path.dirname(location), { recursive: true });
  const release = context.helpers.lockDirectory(location, 'embedded PouchDB database');
  let db: Database | undefined;
  try {
    db = new PouchDB<JsonObject>(location);
    await db.info(); // opens it now, so a damaged directory is reported here
  } catch (error) {
    await db?.close().catch(() => undefined);
    release();
    throw new Error(`could not open the PouchDB database at ${location}: ${errorMessage(error)}`);
  }
  return new PouchStore(db, location, release, context.helpers.configError);
}
