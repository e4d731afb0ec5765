import type {
  BackendContext,
  ChangesBatch,
  ChangesQuery,
  DesignDocument,
  DocumentStore,
  StoredDocument,
  ViewQuery,
  ViewRow,
  WriteResult,
} from 'oproc';

import {
  CouchClient,
  CouchConnectionError,
  CouchHttpError,
  CouchRequestAborted,
  type CouchRequest,
} from './client.js';
import {
  asDocument,
  designToWrite,
  isObject,
  rowsInOrderOf,
  rowsOf,
  seqString,
  type JsonObject,
} from './json.js';
import { readSettings } from './settings.js';

const designWriteAttempts = 5;

function isStatus(error: unknown, status: number): error is CouchHttpError {
  return error instanceof CouchHttpError && error.statusCode === status;
}

/** Query parameters with the undefined ones left out (nano would send them as "undefined"). */
function defined(qs: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(qs).filter(([, value]) => value !== undefined));
}

function writeResult(row: unknown, doc: StoredDocument): WriteResult {
  const fields: JsonObject = isObject(row) ? row : {};
  const id = typeof fields.id === 'string' ? fields.id : doc._id;
  if (typeof fields.rev === 'string' && fields.error === undefined) return { id, ok: true, rev: fields.rev };
  const error = typeof fields.error === 'string' ? fields.error : 'unknown_error';
  return typeof fields.reason === 'string'
    ? { id, ok: false, error, reason: fields.reason }
    : { id, ok: false, error };
}

function changesBatch(body: unknown, since: string): ChangesBatch {
  const fields: JsonObject = isObject(body) ? body : {};
  const results = (Array.isArray(fields.results) ? fields.results : []).filter(isObject).map((row) => ({
    id: String(row.id),
    seq: seqString(row.seq),
    ...(row.deleted === true ? { deleted: true } : {}),
  }));
  return { results, lastSeq: fields.last_seq === undefined ? since : seqString(fields.last_seq) };
}

/** A CouchDB 3 database over HTTP (Apache CouchDB or pouchdb-server). */
export class CouchStore implements DocumentStore {
  constructor(
    private readonly client: CouchClient,
    private readonly context: BackendContext,
  ) {}

  get description(): string {
    return this.client.description;
  }

  async create(): Promise<void> {
    try {
      await this.context.helpers.retry(`create ${this.description}`, () =>
        this.client.request({ method: 'PUT' }),
      );
    } catch (error) {
      if (!isStatus(error, 412)) throw error; // 412 file_exists: already there
    }
  }

  async ensureDesign(design: DesignDocument): Promise<void> {
    const id = `_design/${design.name}`;
    const path = `_design/${encodeURIComponent(design.name)}`;
    for (let attempt = 0; attempt < designWriteAttempts; attempt++) {
      const stored = await this.getDocument(path);
      const wanted = designToWrite(design, stored);
      if (!wanted) return;
      try {
        await this.call(`write ${id} in`, { method: 'PUT', path, body: wanted });
        return;
      } catch (error) {
        if (!isStatus(error, 409)) throw error; // someone else wrote it meanwhile: compare again
      }
    }
    throw new Error(
      `could not install ${id} in ${this.description}: it kept changing under us (409 conflicts)`,
    );
  }

  async getMany(ids: readonly string[]): Promise<Map<string, StoredDocument>> {
    const found = new Map<string, StoredDocument>();
    if (ids.length === 0) return found;
    const body = await this.call('read documents from', {
      method: 'POST',
      path: '_all_docs',
      qs: { include_docs: true },
      body: { keys: ids },
    });
    for (const row of rowsOf(body)) {
      const doc = asDocument(row.doc); // missing ids have no doc; deleted ones have doc null
      if (doc) found.set(doc._id, doc);
    }
    return found;
  }

  async allDocs(query: {
    startkey?: string;
    endkey?: string;
    limit?: number;
    skip?: number;
  }): Promise<StoredDocument[]> {
    const qs = defined({ include_docs: true, ...query });
    const body = await this.call('list documents of', { path: '_all_docs', qs });
    return rowsOf(body)
      .map((row) => asDocument(row.doc))
      .filter((doc): doc is StoredDocument => doc !== undefined);
  }

  async bulkWrite(docs: readonly StoredDocument[]): Promise<WriteResult[]> {
    if (docs.length === 0) return [];
    // Retrying is safe: a repeated write of an already written document comes back as a conflict.
    const body = await this.call('write documents to', {
      method: 'POST',
      path: '_bulk_docs',
      body: { docs },
    });
    if (!Array.isArray(body) || body.length !== docs.length) {
      throw new Error(
        `${this.description}/_bulk_docs answered ${Array.isArray(body) ? body.length : 'no'} rows for ${docs.length} documents`,
      );
    }
    const rows = rowsInOrderOf(docs, body);
    return docs.map((doc, i) => writeResult(rows[i], doc));
  }

  async queryView(design: string, view: string, query: ViewQuery): Promise<ViewRow[]> {
    const path = `_design/${encodeURIComponent(design)}/_view/${encodeURIComponent(view)}`;
    const qs = defined({
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
    let body: unknown;
    try {
      body = await this.call(`query view ${design}/${view} of`, { path, qs });
    } catch (error) {
      if (!isStatus(error, 404)) throw error;
      throw this.context.helpers.configError(
        'database',
        `${this.description} has no view ${design}/${view}: run \`oproc init CONFIG\` to install it`,
      );
    }
    return rowsOf(body).map((row) => {
      const doc = asDocument(row.doc);
      const id = row.id === undefined || row.id === null ? '' : String(row.id); // reduced rows have none
      return { id, key: row.key, value: row.value, ...(doc ? { doc } : {}) };
    });
  }

  async currentSeq(): Promise<string> {
    const info = await this.call('read the update sequence of', {});
    return seqString(isObject(info) ? info.update_seq : undefined);
  }

  async changes(query: ChangesQuery): Promise<ChangesBatch> {
    const since = query.since ?? '0';
    if (query.signal?.aborted) return { results: [], lastSeq: since };
    const qs = defined({ since, limit: query.limit });
    // pouchdb-server ignores `timeout` on long-poll, so the wait is bounded here, on the client.
    const timer = new AbortController();
    const wait = query.waitMs ? setTimeout(() => timer.abort(), query.waitMs) : undefined;
    const bounded = query.signal ? AbortSignal.any([query.signal, timer.signal]) : timer.signal;
    const signal = query.waitMs ? bounded : query.signal;
    const longpoll = query.waitMs ? { feed: 'longpoll', timeout: query.waitMs } : {};
    try {
      const body = await this.call('read changes of', {
        path: '_changes',
        qs: { ...qs, ...longpoll },
        signal,
      });
      return changesBatch(body, since);
    } catch (error) {
      if (error instanceof CouchRequestAborted) return { results: [], lastSeq: since };
      throw error;
    } finally {
      clearTimeout(wait);
    }
  }

  async close(): Promise<void> {
    this.client.close();
  }

  /** A document, or undefined when it does not exist (the database must). */
  private async getDocument(path: string): Promise<StoredDocument | undefined> {
    try {
      return asDocument(await this.call(`read ${path} of`, { path }));
    } catch (error) {
      if (isStatus(error, 404)) return undefined;
      throw error;
    }
  }

  /** One request, retried on transient failures; a 404 is first checked for a missing database. */
  private async call(what: string, request: CouchRequest): Promise<unknown> {
    return this.context.helpers.retry(`${what} ${this.description}`, async () => {
      try {
        return await this.client.request(request);
      } catch (error) {
        if (isStatus(error, 404) && request.path !== undefined) await this.requireDatabase();
        if (isStatus(error, 404) && request.path === undefined) throw this.missingDatabase();
        throw error;
      }
    });
  }

  private async requireDatabase(): Promise<void> {
    try {
      await this.client.request({ method: 'HEAD' });
    } catch (error) {
      if (isStatus(error, 404)) throw this.missingDatabase();
      throw error;
    }
  }

  private missingDatabase(): Error {
    return this.context.helpers.configError(
      'database',
      `the database ${this.description} does not exist: run \`oproc init CONFIG\` to create it`,
    );
  }
}

/** Opens a CouchDB store: checks the server answers and settles credentials; never creates the database. */
export async function openCouchStore(context: BackendContext): Promise<DocumentStore> {
  const client = new CouchClient(readSettings(context), context);
  try {
    await reachServer(client);
    await probeDatabase(client);
  } catch (error) {
    client.close();
    throw error;
  }
  return new CouchStore(client, context);
}

/** GET / with a few quick tries: an unreachable server should fail fast at open, not after minutes. */
async function reachServer(client: CouchClient): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    try {
      await client.request({ server: true });
      return;
    } catch (error) {
      if (!(error instanceof CouchConnectionError) || attempt >= 3) throw error;
      await new Promise((resolve) => setTimeout(resolve, 200 * attempt));
    }
  }
}

/** Reads the database once so a server that wants a password asks for it now; missing is fine here. */
async function probeDatabase(client: CouchClient): Promise<void> {
  try {
    await client.request({ method: 'HEAD' });
  } catch (error) {
    if (!isStatus(error, 404)) throw error;
  }
}
