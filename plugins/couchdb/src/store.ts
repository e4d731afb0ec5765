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
  ViewBuildProgress,
  ViewQuery,
  ViewRow,
  WriteResult,
} from 'oproc';
import { anySignal } from 'any-signal';
import pMap from 'p-map';

import {
  CouchClient,
  CouchConnectionError,
  CouchHttpError,
  CouchRequestAborted,
  type CouchAnswer,
  type CouchRequest,
} from './client.js';
import {
  asDocument,
  designToWrite,
  isObject,
  rowsInOrderOf,
  rowsOf,
  seqString,
  writeInRounds,
  type JsonObject,
} from './json.js';
import { readSettings } from './settings.js';
import { indexerProgress, progressLine } from './views.js';

const designWriteAttempts = 5;
/** A view query not answered this long is checked against `_active_tasks` (then every `buildPollMs`). */
const buildProbeMs = 2000;
const buildPollMs = 5000;
/** A view query with no build under way and no answer this long is given up (and retried). */
const viewIdleMs = 120_000;
/** Default notices of a build a query waits for: the first at once, then at most this often. */
const noticeEveryMs = 15_000;
/** Documents per `_bulk_docs` request, and such requests at a time (see `bulkWrite`). */
const writeChunk = 250;
const writesInFlight = 4;
/**
 * Documents per `_bulk_get` request, and such requests at a time (see `getMany`). 10,000 job
 * documents read by id from Apache CouchDB 3.5: 0.55 s this way, 1.8 s by `_all_docs` with `keys`
 * (four requests of 500 at a time), which opens one document after another; on pouchdb-server 0.7
 * against 1.6 s.
 */
const readChunk = 500;
const readsInFlight = 4;
/**
 * An index update with fewer changes left than this is the routine catching-up of a built view
 * (the documents written since its last query), not a build: said, as catching up and not as a
 * build, only once it has lasted `noticeEveryMs`, so a slow answer on a loaded server does not
 * read as a rebuild.
 */
const routineUpdateChanges = 5_000;

/** The suffix of the design document changed views are built under before they replace the live one. */
export const stagedSuffix = '_staged';

function isStatus(error: unknown, status: number): error is CouchHttpError {
  return error instanceof CouchHttpError && error.statusCode === status;
}

/** Query parameters with the undefined ones left out (nano would send them as "undefined"). */
function defined(qs: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(qs).filter(([, value]) => value !== undefined));
}

function writeResult(row: unknown, doc: StoredDocument, accepted: boolean): WriteResult {
  const fields: JsonObject = isObject(row) ? row : {};
  const id = typeof fields.id === 'string' ? fields.id : doc._id;
  if (typeof fields.rev === 'string' && fields.error === undefined)
    return accepted ? { id, ok: true, rev: fields.rev, accepted } : { id, ok: true, rev: fields.rev };
  const error = typeof fields.error === 'string' ? fields.error : 'unknown_error';
  return typeof fields.reason === 'string'
    ? { id, ok: false, error, reason: fields.reason }
    : { id, ok: false, error };
}

/**
 * The documents of a `_bulk_get` answer: `{results: [{id, docs: [{ok: doc} | {error: …}]}]}`. A
 * missing id comes back as an error (Apache CouchDB) or an empty entry (pouchdb-server): left out.
 */
function bulkGetDocuments(body: unknown): StoredDocument[] {
  const results = isObject(body) && Array.isArray(body.results) ? body.results.filter(isObject) : [];
  return results.flatMap((result) =>
    (Array.isArray(result.docs) ? result.docs.filter(isObject) : []).flatMap(
      (entry) => asDocument(entry.ok) ?? [],
    ),
  );
}

/** `items` in consecutive slices of `size`, for requests made a few at a time. */
function inChunks<T>(items: readonly T[], size: number): T[][] {
  return Array.from({ length: Math.ceil(items.length / size) }, (_, i) =>
    items.slice(i * size, (i + 1) * size),
  );
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

/** How long a store trusts its answer to whether the database has copies (nodes join rarely). */
const lagTtlMs = 10 * 60_000;

/** A CouchDB 3 database over HTTP (Apache CouchDB or pouchdb-server). */
export class CouchStore implements DocumentStore {
  constructor(
    private readonly client: CouchClient,
    private readonly context: BackendContext,
    /**
     * Apache CouchDB builds a design document's index while the old one answers, and reuses an
     * index for a design document of the same signature: changed views are staged. pouchdb-server
     * builds each view on its first query, and is updated in place.
     */
    private readonly stagesViews = false,
  ) {}

  get description(): string {
    return this.client.description;
  }

  async create(): Promise<void> {
    // Apache CouchDB answers a PUT of an existing database with 401 to anyone but a server admin:
    // a member running `oproc init` on databases an admin created must not be refused.
    if (await this.exists()) return;
    try {
      await this.context.helpers.retry(`create ${this.description}`, () =>
        this.client.request({ method: 'PUT' }),
      );
    } catch (error) {
      if (!isStatus(error, 412)) throw error; // 412 file_exists: already there
    }
  }

  async ensureDesign(design: DesignDocument, options: EnsureDesignOptions = {}): Promise<DesignOutcome> {
    for (let attempt = 0; attempt < designWriteAttempts; attempt++) {
      const stored = await this.getDocument(designPath(design.name));
      const wanted = designToWrite(design, stored);
      try {
        if (!wanted) {
          await this.settle(design, options);
          return 'unchanged';
        }
        if (!stored || !this.stagesViews) {
          await this.call(`write ${wanted._id} in`, {
            method: 'PUT',
            path: designPath(design.name),
            body: wanted,
          });
          await this.settle(design, options);
          return stored ? 'updated' : 'created';
        }
        return await this.stage(design, stored, options);
      } catch (error) {
        if (!isStatus(error, 409)) throw error; // someone else wrote it meanwhile: compare again
      }
    }
    throw new Error(
      `could not install _design/${design.name} in ${this.description}: it kept changing under us (409 conflicts)`,
    );
  }

  /**
   * Changed views on a live database: written under `_design/NAME_staged` and built there while the
   * live views keep answering, then copied over the live design document. The copy has the staged
   * one's signature (same views, language and options), so CouchDB reuses the index just built
   * rather than building it again; once the live views answer, the staged document is deleted. A 409 on the way is thrown
   * for `ensureDesign` to compare again.
   */
  private async stage(
    design: DesignDocument,
    live: StoredDocument,
    options: EnsureDesignOptions,
  ): Promise<DesignOutcome> {
    const stagedName = `${design.name}${stagedSuffix}`;
    const staged = await this.getDocument(designPath(stagedName));
    const stagedWanted = designToWrite({ name: stagedName, views: design.views }, staged);
    if (stagedWanted) {
      const body = { ...stagedWanted, ...(live.options === undefined ? {} : { options: live.options }) };
      await this.call(`write ${stagedWanted._id} in`, { method: 'PUT', path: designPath(stagedName), body });
    }
    if (options.wait === false) {
      await this.startBuild(stagedName, Object.keys(design.views)[0]);
      return 'staged';
    }
    await this.waitBuilt({ name: stagedName, views: design.views }, design.name, options.onProgress);
    const switched = designToWrite(design, live);
    if (switched)
      await this.call(`write ${switched._id} in`, {
        method: 'PUT',
        path: designPath(design.name),
        body: switched,
      });
    // The live name is queried before the staged document goes: CouchDB shares one index process
    // between the design documents of one signature, but knows a design document only once it has
    // been opened. Deleted while the staged one was the only one known, the process is shut down
    // and the work since its last commit lost: the live views would be built again, in part.
    await this.waitBuilt(design, design.name, options.onProgress);
    const built = await this.getDocument(designPath(stagedName));
    if (built?._rev)
      await this.call(`delete _design/${stagedName} of`, {
        method: 'DELETE',
        path: designPath(stagedName),
        qs: { rev: built._rev },
      }).catch(() => undefined); // left over, it is reused or removed by the next `oproc init`
    return 'switched';
  }

  /** After a design document is in place: wait until its views answer, or only start their build. */
  private async settle(design: DesignDocument, options: EnsureDesignOptions): Promise<void> {
    if (options.wait === false) await this.startBuild(design.name, Object.keys(design.views)[0]);
    else await this.waitBuilt(design, design.name, options.onProgress);
  }

  /**
   * Queries each view once, so it is built and up to date (Apache CouchDB builds all of a design
   * document's views together; pouchdb-server each on its first query); builds under way are
   * reported under the live name.
   */
  private async waitBuilt(
    design: DesignDocument,
    shownAs: string,
    onProgress: ((progress: ViewBuildProgress) => void) | undefined,
  ): Promise<void> {
    const report =
      onProgress && ((progress: ViewBuildProgress) => onProgress({ ...progress, design: shownAs }));
    for (const view of Object.keys(design.views))
      await this.queryView(design.name, view, { limit: 1, ...(report ? { onBuilding: report } : {}) });
  }

  /**
   * Starts a build and returns: a view query the client gives up on after a moment. Apache CouchDB
   * goes on building an index whose reader went away (and its background indexer builds new design
   * documents' views anyway); pouchdb-server builds the view on the next query.
   */
  private async startBuild(design: string, view: string | undefined): Promise<void> {
    if (view === undefined) return;
    const path = `${designPath(design)}/_view/${encodeURIComponent(view)}`;
    await this.client
      .request({ path, qs: { limit: 1 }, signal: AbortSignal.timeout(500) })
      .catch((error: unknown) => {
        if (!(error instanceof CouchRequestAborted)) throw error;
      });
  }

  async viewBuild(design: string): Promise<ViewBuildProgress | undefined> {
    let tasks: unknown;
    try {
      tasks = await this.client.request({ server: true, path: '_active_tasks' });
    } catch (error) {
      // Only admins may read _active_tasks: without it there is no progress to show.
      if (isStatus(error, 401) || isStatus(error, 403)) return undefined;
      throw error;
    }
    return indexerProgress(tasks, this.client.database, design);
  }

  /**
   * By `_bulk_get`, `readChunk` ids a request, `readsInFlight` at a time; with `conflicts`, by
   * `_all_docs` with `keys`, the one read that also gives each document's `_conflicts`.
   */
  async getMany(ids: readonly string[], options: ReadOptions = {}): Promise<Map<string, StoredDocument>> {
    const found = new Map<string, StoredDocument>();
    if (ids.length === 0) return found;
    if (options.conflicts) {
      const body = await this.call('read documents from', {
        method: 'POST',
        path: '_all_docs',
        qs: { include_docs: true, conflicts: true },
        body: { keys: ids },
      });
      for (const row of rowsOf(body)) {
        const doc = asDocument(row.doc); // missing ids have no doc; deleted ones have doc null
        if (doc) found.set(doc._id, doc);
      }
      return found;
    }
    await pMap(
      inChunks(ids, readChunk),
      async (chunk) => {
        const body = await this.call('read documents from', {
          method: 'POST',
          path: '_bulk_get',
          body: { docs: chunk.map((id) => ({ id })) },
        });
        for (const doc of bulkGetDocuments(body)) if (!doc._deleted) found.set(doc._id, doc);
      },
      { concurrency: readsInFlight },
    );
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
    const qs = defined({ include_docs: true, ...query, conflicts: query.conflicts || undefined });
    const body = await this.call('list documents of', { path: '_all_docs', qs });
    return rowsOf(body)
      .map((row) => asDocument(row.doc))
      .filter((doc): doc is StoredDocument => doc !== undefined);
  }

  /**
   * Writes in requests of `writeChunk` documents, `writesInFlight` at a time: CouchDB takes
   * parallel requests much faster than one large one (the benchmark's raw sweep: 20,000 job
   * documents in 1.3 s as 500 a request with 4 in flight, 5.4 s as one request). A reprocess
   * writes a prerequisite depth of 500 documents at a time: two requests of 250 at once. `_bulk_docs` is
   * not atomic across documents anyway: each row says ok or conflict on its own, in either form.
   */
  async bulkWrite(docs: readonly StoredDocument[]): Promise<WriteResult[]> {
    return writeInRounds(docs, async (round) => {
      if (round.length <= writeChunk) return this.writeRequest(round);
      const results = await pMap(inChunks(round, writeChunk), (chunk) => this.writeRequest(chunk), {
        concurrency: writesInFlight,
      });
      return results.flat();
    });
  }

  private async writeRequest(docs: readonly StoredDocument[]): Promise<WriteResult[]> {
    if (docs.length === 0) return [];
    // Retrying is safe: a repeated write of an already written document comes back as a conflict.
    const { body, status } = await this.answer('write documents to', {
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
    // 202: some document of the request got fewer copies than the write quorum; the rows do not say which.
    return docs.map((doc, i) => writeResult(rows[i], doc, status === 202));
  }

  async getRevisions(refs: readonly RevisionRef[]): Promise<StoredDocument[]> {
    if (refs.length === 0) return [];
    const body = await this.call('read revisions from', {
      method: 'POST',
      path: '_bulk_get',
      body: { docs: refs.map((ref) => ({ id: ref.id, rev: ref.rev })) },
    });
    const found = new Map<string, StoredDocument>();
    for (const doc of bulkGetDocuments(body)) if (doc._rev) found.set(`${doc._id} ${doc._rev}`, doc);
    return refs.flatMap((ref) => found.get(`${ref.id} ${ref.rev}`) ?? []);
  }

  async queryView(design: string, view: string, query: ViewQuery): Promise<ViewRow[]> {
    const path = `${designPath(design)}/_view/${encodeURIComponent(view)}`;
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
      body = await this.context.helpers.retry(`query view ${design}/${view} of ${this.description}`, () =>
        this.waitForView(design, view, { path, qs }, query.onBuilding),
      );
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

  /**
   * One view request. Apache CouchDB answers a view only once its index is up to date, which on a
   * database of millions of documents takes minutes: a request not answered within 2 s is checked
   * against `_active_tasks` (every 5 s), and while the design document's index is being built the
   * request waits with no time limit and the build's progress is reported (a routine catching-up of
   * a few documents is not a build: said, as such, only once it has lasted 15 s). With no build under way,
   * no answer within 120 s is a server gone quiet: given up, and retried by the caller.
   */
  private async waitForView(
    design: string,
    view: string,
    request: CouchRequest,
    onBuilding: ((progress: ViewBuildProgress) => void) | undefined,
  ): Promise<unknown> {
    const giveUp = new AbortController();
    const answered = new AbortController();
    const report = onBuilding ?? this.defaultBuildNotice(design, view);
    const started = Date.now();
    let idleSince = started;
    const watch = (async () => {
      let delay = buildProbeMs;
      let silentNoticeAt = noticeEveryMs;
      let catchUpNoticeAt = noticeEveryMs;
      while (!(await sleepUnless(delay, answered.signal))) {
        delay = buildPollMs;
        const progress = this.stagesViews ? await this.indexerOrUnknown(design) : 'unknown';
        if (answered.signal.aborted) return;
        if (progress === 'unknown') {
          // pouchdb-server builds a view on its first query and says nothing of it; nor does
          // CouchDB to a user who is not an admin: wait, saying so now and then.
          if (Date.now() - started >= silentNoticeAt) {
            silentNoticeAt *= 4;
            this.notice(
              `${this.description}: view ${design}/${view} has not answered for ${Math.round((Date.now() - started) / 1000)} s; the server builds a view before it answers and shows no progress to this user; waiting`,
            );
          }
        } else if (progress) {
          idleSince = Date.now();
          const left = progress.totalChanges - progress.changesDone;
          if (left >= routineUpdateChanges) report(progress);
          else if (Date.now() - started >= catchUpNoticeAt) {
            // Not a build: the index catching up on a busy server. Said as such, so it is not read as one.
            catchUpNoticeAt = Date.now() - started + noticeEveryMs;
            this.notice(
              `${this.description}: view ${design}/${view} is bringing its index up to date (${left.toLocaleString('en')} change(s) left) on a busy server; waiting`,
            );
          }
        } else if (Date.now() - idleSince > viewIdleMs) {
          giveUp.abort();
          return;
        }
      }
    })();
    try {
      return await this.withDatabaseCheck(request, () =>
        this.client.request({ ...request, signal: giveUp.signal }),
      );
    } catch (error) {
      if (error instanceof CouchRequestAborted)
        throw new CouchConnectionError(
          `CouchDB at ${this.description} did not answer view ${design}/${view} within ${viewIdleMs / 1000} s, and is building no index for it`,
          'ETIMEDOUT',
        );
      throw error;
    } finally {
      answered.abort();
      await watch;
    }
  }

  /** Progress lines through `helpers.notice`: the first at once, then at most every 15 s. */
  private defaultBuildNotice(design: string, view: string): (progress: ViewBuildProgress) => void {
    let last = 0;
    return (progress) => {
      if (Date.now() - last < noticeEveryMs) return;
      last = Date.now();
      this.notice(
        `${this.description}: ${progressLine(progress)}; view ${design}/${view} answers when it is built, waiting`,
      );
    };
  }

  private notice(line: string): void {
    if (this.context.helpers.notice) this.context.helpers.notice(line);
    else process.stderr.write(`${line}\n`);
  }

  /** The build under way, undefined when none is, 'unknown' when `_active_tasks` is not ours to read. */
  private async indexerOrUnknown(design: string): Promise<ViewBuildProgress | undefined | 'unknown'> {
    try {
      const tasks = await this.client.request({ server: true, path: '_active_tasks' });
      return indexerProgress(tasks, this.client.database, design);
    } catch (error) {
      if (isStatus(error, 401) || isStatus(error, 403)) return 'unknown';
      return undefined;
    }
  }

  /**
   * A cluster (`/_membership` lists more than one node) pushes a changed shard to its other copies
   * `[mem3] sync_delay` ms after the change (5000 by default; read from the node's config where the
   * user may); a second and a half more for the push itself. A database without copies (`hasCopies`)
   * has no lag to wait for. Writers ask it to know whether to read their writes back.
   */
  async replicationLagMs(): Promise<number> {
    const now = Date.now();
    if (!this.lag || now - this.lag.at > lagTtlMs) this.lag = { at: now, ms: this.readReplicationLag() };
    return this.lag.ms;
  }

  /** The last answer of `replicationLagMs` (a command asks it once per batch; a watcher for weeks). */
  private lag: { at: number; ms: Promise<number> } | undefined;

  private async readReplicationLag(): Promise<number> {
    if (!(await this.hasCopies())) return 0;
    let delay = 5000;
    try {
      const configured = await this.client.request({
        server: true,
        path: '_node/_local/_config/mem3/sync_delay',
      });
      const value = Number(configured);
      if (Number.isFinite(value) && value >= 0) delay = value;
    } catch {
      // Not an admin, or the default: 5 s.
    }
    return delay + 1500;
  }

  /**
   * Whether the database's documents have copies on several nodes: a cluster of two nodes or more
   * (`_membership`, for server admins), else the database's own `cluster.n` (any member may read
   * it; pouchdb-server has none). A failed read counts as copies: the cautious answer.
   */
  private async hasCopies(): Promise<boolean> {
    try {
      const membership = await this.client.request({ server: true, path: '_membership' });
      const nodes =
        isObject(membership) && Array.isArray(membership.cluster_nodes) ? membership.cluster_nodes : [];
      return nodes.length >= 2;
    } catch (error) {
      // pouchdb-server has no _membership (404): one server, no copies.
      if (isStatus(error, 404)) return false;
    }
    try {
      const info = await this.client.request({});
      const cluster = isObject(info) && isObject(info.cluster) ? info.cluster : undefined;
      return typeof cluster?.n === 'number' && cluster.n > 1;
    } catch {
      return true;
    }
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
    // anySignal, cleared below, not AbortSignal.any: see CouchClient.send.
    const bounded = query.waitMs && query.signal ? anySignal([query.signal, timer.signal]) : undefined;
    const signal = query.waitMs ? (bounded ?? timer.signal) : query.signal;
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
      bounded?.clear();
    }
  }

  async close(): Promise<void> {
    this.client.close();
  }

  private async exists(): Promise<boolean> {
    try {
      await this.context.helpers.retry(`look for ${this.description}`, () =>
        this.client.request({ method: 'HEAD' }),
      );
      return true;
    } catch (error) {
      if (isStatus(error, 404)) return false;
      throw error;
    }
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
    return (await this.answer(what, request)).body;
  }

  /** Like `call`, with the HTTP status. */
  private async answer(what: string, request: CouchRequest): Promise<CouchAnswer> {
    return this.context.helpers.retry(`${what} ${this.description}`, () =>
      this.withDatabaseCheck(request, () => this.client.answer(request)),
    );
  }

  /** Runs a request; its 404 is first checked for a missing database (a config error). */
  private async withDatabaseCheck<T>(request: CouchRequest, send: () => Promise<T>): Promise<T> {
    try {
      return await send();
    } catch (error) {
      if (isStatus(error, 404) && request.path !== undefined) await this.requireDatabase();
      if (isStatus(error, 404) && request.path === undefined) throw this.missingDatabase();
      throw error;
    }
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
    const root = await reachServer(client);
    await probeDatabase(client);
    return new CouchStore(client, context, isApacheCouch(root));
  } catch (error) {
    client.close();
    throw error;
  }
}

/** The server's welcome (`GET /`) says Apache CouchDB, not pouchdb-server. */
function isApacheCouch(root: unknown): boolean {
  return isObject(root) && isObject(root.vendor) && root.vendor.name === 'The Apache Software Foundation';
}

function designPath(name: string): string {
  return `_design/${encodeURIComponent(name)}`;
}

/** Waits `ms`; true when the signal stopped the wait first. */
function sleepUnless(ms: number, signal: AbortSignal): Promise<boolean> {
  if (signal.aborted) return Promise.resolve(true);
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      signal.removeEventListener('abort', stop);
      resolve(false);
    }, ms);
    const stop = () => {
      clearTimeout(timer);
      resolve(true);
    };
    signal.addEventListener('abort', stop, { once: true });
  });
}

/** GET / with a few quick tries: an unreachable server should fail fast at open, not after minutes. */
async function reachServer(client: CouchClient): Promise<unknown> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await client.request({ server: true });
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
