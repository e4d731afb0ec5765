/**
 * The two database interfaces of oproc, published for backend plugins.
 *
 * A backend plugin contributes factories through the `oproc:backends` oclif hook; the core names
 * no backend. Document stores speak the CouchDB model (ids, revisions, 409 conflicts, views and,
 * where the backend has one, a changes feed); RATDB backends answer the conditions-database reads
 * of DESIGN.md 1.2.
 */

/** A JSON document as stored in a CouchDB-model database. */
export interface StoredDocument {
  _id: string;
  _rev?: string;
  _deleted?: boolean;
  /** The other leaf revisions of a conflicted document, when read with `conflicts: true`. */
  _conflicts?: string[];
  [field: string]: unknown;
}

/**
 * One row of a bulk write: each document succeeds or fails on its own (`_bulk_docs` is not atomic).
 * `accepted` marks a write a CouchDB cluster took with fewer copies than its write quorum (HTTP 202):
 * written, but not confirmed; another revision written through another node may win.
 */
export type WriteResult =
  | { id: string; ok: true; rev: string; accepted?: boolean }
  | { id: string; ok: false; error: 'conflict' | string; reason?: string };

/** A document at one revision, for `getRevisions`. */
export interface RevisionRef {
  id: string;
  rev: string;
}

/** How `getMany` and `allDocs` read. */
export interface ReadOptions {
  /** Also return `_conflicts` (the losing leaf revisions) of each document that has them. */
  conflicts?: boolean;
}

/** A view defined in a design document: a JavaScript map function, as CouchDB and PouchDB accept. */
export interface ViewDefinition {
  map: string;
  reduce?: string;
}

/** A design document the core needs in a store; `ensureDesign` installs or updates it. */
export interface DesignDocument {
  /** Name without the `_design/` prefix. */
  name: string;
  views: Record<string, ViewDefinition>;
}

/**
 * A view index being built (CouchDB `_active_tasks` entries of type `indexer` for one design
 * document, summed over the database's shards).
 */
export interface ViewBuildProgress {
  /** The design document's name, without `_design/`. */
  design: string;
  /** Changes (documents) indexed so far, and in all, by the builds under way. */
  changesDone: number;
  totalChanges: number;
}

/** How `ensureDesign` treats the views' build. */
export interface EnsureDesignOptions {
  /** Wait until the views are built and answer (the default); false starts the build and returns. */
  wait?: boolean;
  /** Told of a build's progress every few seconds while it is waited for. */
  onProgress?: (progress: ViewBuildProgress) => void;
}

/**
 * What `ensureDesign` did: `unchanged` (already there), `created`, `updated` (rewritten in place),
 * `staged` (changed views written under a staged design document, being built, not yet switched:
 * `wait: false`) or `switched` (built under the staged document, then copied over the live one).
 */
export type DesignOutcome = 'unchanged' | 'created' | 'updated' | 'staged' | 'switched';

export type ViewKey = unknown;

export interface ViewQuery {
  startkey?: ViewKey;
  endkey?: ViewKey;
  /** Number of rows to skip (used only as `skip: 1` after a page's last key). */
  skip?: number;
  limit?: number;
  descending?: boolean;
  includeDocs?: boolean;
  /**
   * For a view with a reduce function: false reads the mapped rows, true (the default where the view
   * has one) the reduced value. Only for reduce views.
   */
  reduce?: boolean;
  /** Reduce per distinct key (CouchDB `group=true`). */
  group?: boolean;
  /** Reduce per distinct first N elements of an array key (CouchDB `group_level`). */
  groupLevel?: number;
  /**
   * Told of the index build's progress while the query waits for it (a server that answers a view
   * only when its index is up to date). Without it the store reports through `helpers.notice`.
   */
  onBuilding?: (progress: ViewBuildProgress) => void;
}

export interface ViewRow {
  /** The document's id; empty for a reduced row, which stands for many documents. */
  id: string;
  key: ViewKey;
  value: unknown;
  doc?: StoredDocument;
}

export interface Change {
  id: string;
  /** Opaque: pass back only as `since`, never compare or do arithmetic. */
  seq: string;
  deleted?: boolean;
}

export interface ChangesBatch {
  results: Change[];
  /** Opaque sequence to pass as `since` for the next call. */
  lastSeq: string;
}

export interface ChangesQuery {
  /** Opaque sequence from `currentSeq()` or a previous batch; `'0'`/undefined means from the start. */
  since?: string;
  /** Long-poll: wait up to this long for a change when none are pending (client-side timeout). */
  waitMs?: number;
  limit?: number;
  /** Lets the caller stop a long-poll early (e.g. on SIGINT). */
  signal?: AbortSignal;
}

/** A CouchDB-model database: the `dataflow` and `processing` databases of DESIGN.md 1. */
export interface DocumentStore {
  /** Where this store is, for messages: never contains a password. */
  readonly description: string;
  /** Creates the database if missing (idempotent). */
  create(): Promise<void>;
  /**
   * Installs or updates a design document (idempotent; unchanged definitions are not rewritten).
   * A server that builds indexes while others read them (Apache CouchDB) builds changed views under
   * a staged design document and switches when they are built, so readers of the live views never
   * wait for a rebuild. With `wait` (the default) it returns once the views answer.
   */
  ensureDesign(design: DesignDocument, options?: EnsureDesignOptions): Promise<DesignOutcome | void>;
  /**
   * The build under way of a design document's views, or undefined when none is (or the server does
   * not say: pouchdb-server, PouchDB). Optional.
   */
  viewBuild?(design: string): Promise<ViewBuildProgress | undefined>;
  /**
   * Reads documents by id, the winning revision of each; missing and deleted ids are absent. Over
   * HTTP by `_bulk_get` (with `conflicts`, by `_all_docs?keys=...&include_docs=true&conflicts=true`).
   */
  getMany(ids: readonly string[], options?: ReadOptions): Promise<Map<string, StoredDocument>>;
  /** One page of `_all_docs` between two ids, inclusive, in id order. */
  allDocs(
    query: {
      startkey?: string;
      endkey?: string;
      limit?: number;
      skip?: number;
    } & ReadOptions,
  ): Promise<StoredDocument[]>;
  /**
   * Documents at given revisions (`open_revs`, e.g. the `_conflicts` of a document), in the order
   * asked; a revision the store does not have is left out.
   */
  getRevisions(refs: readonly RevisionRef[]): Promise<StoredDocument[]>;
  /**
   * Writes documents in one `_bulk_docs` request. Each result row says ok (with the new revision)
   * or failed (e.g. `conflict` when `_rev` is stale), in the order given.
   */
  bulkWrite(docs: readonly StoredDocument[]): Promise<WriteResult[]>;
  /** One page of a view of a design document installed with `ensureDesign`. */
  queryView(design: string, view: string, query: ViewQuery): Promise<ViewRow[]>;
  /**
   * The sequence of the latest change now (opaque). Optional, with `changes`: a backend without a
   * feed leaves them out; watchers then poll.
   */
  currentSeq?(): Promise<string>;
  /**
   * Changes since a sequence; long-polls up to `waitMs` when none are pending. Optional, with
   * `currentSeq`: a backend without a feed leaves them out; watchers then poll.
   */
  changes?(query: ChangesQuery): Promise<ChangesBatch>;
  /**
   * How long after two writes both returned their conflict may still be on its way between the
   * copies of a document: on an Apache CouchDB cluster, internal replication's push delay
   * (`[mem3] sync_delay`, 5 s by default) and a margin; 0 on a single server. Optional: a backend
   * without copies leaves it out.
   */
  replicationLagMs?(): Promise<number>;
  /** Releases connections, file handles and locks. */
  close(): Promise<void>;
}

/** A RATDB table requirement: `type`, optionally with `index` (written `TYPE[index]`). */
export interface TableRequirement {
  type: string;
  index?: string;
}

/** One RATDB table as RAT's `.ratdb` files hold it, ready to load. */
export interface RatdbTable {
  type: string;
  index: string;
  run_begin: number;
  run_end: number;
  version: number;
  pass: number;
  /** When the row becomes visible (defaults to now); tags compare against it. */
  timestamp?: Date;
  /** All other fields of the table. */
  data: Record<string, unknown>;
}

export interface RatdbTag {
  name: string;
  timestamp: Date;
}

/** The conditions database (DESIGN.md 1.2). Every read takes an optional `asOf` from a tag. */
export interface Ratdb {
  readonly description: string;
  /** Creates `ratdb_header_v2`, `ratdb_data` and `ratdb_tag` if missing (idempotent). */
  create(): Promise<void>;
  /** The tag's timestamp, or undefined when no such tag exists. */
  tag(name: string): Promise<RatdbTag | undefined>;
  listTags(): Promise<RatdbTag[]>;
  /** Creates or moves a tag (used by `oproc ratdb tag`). */
  setTag(tag: RatdbTag): Promise<void>;
  /**
   * The run type word of each run from its `RUN` table (`index=''`), in one query: highest
   * `version`, then `pass`, then newest `timestamp` wins. Runs without a RUN table are absent.
   */
  runTypes(runs: readonly number[], asOf?: Date): Promise<Map<number, number>>;
  /**
   * For each run, which of the required tables exist (a row of that type, and index where
   * given, whose range holds the run), in one query. Keys are `TYPE` or `TYPE[index]`.
   */
  tablesPresent(
    runs: readonly number[],
    tables: readonly TableRequirement[],
    asOf?: Date,
  ): Promise<Map<number, Set<string>>>;
  /**
   * Both reads above for one batch, in one query where the backend can (the planner's per-batch
   * read; optional, so a RATDB plugin written before it still works through the two above).
   */
  runTypesAndTables?(
    runs: readonly number[],
    tables: readonly TableRequirement[],
    asOf?: Date,
  ): Promise<{ runTypes: Map<number, number>; present: Map<number, Set<string>> }>;
  /** Loads tables in one transaction: all or nothing. Returns the number of tables loaded. */
  load(tables: readonly RatdbTable[]): Promise<number>;
  close(): Promise<void>;
}

/** What a backend factory is given: the config section and how to get a password when needed. */
export interface BackendContext<Section = Record<string, unknown>> {
  /** The section of CONFIG (`processing`, `dataflow` or `ratdb`), validated for its `backend`. */
  section: Section;
  /** The section's name in CONFIG, for messages. */
  role: 'processing' | 'dataflow' | 'ratdb';
  /** The directory relative paths in CONFIG are taken from (the config file's directory). */
  baseDir: string;
  /**
   * The password, asked for only when the server wants one: from the environment variable the
   * config names, else a terminal prompt, else a clear error. Never logged.
   */
  password(user: string): Promise<string>;
  /** Helpers the core lends to backends, so plugins need no runtime import of the core. */
  helpers: BackendHelpers;
  /**
   * False when the command only reads (status, why, passes, locks, serve): a database that is not
   * there is an error, never created. An embedded backend then makes nothing (no folder, no lock
   * file) and throws `helpers.missingDatabase(location)`. Undefined counts as true.
   */
  create?: boolean;
}

export interface SqlClient {
  query<Row = Record<string, unknown>>(text: string, params?: readonly unknown[]): Promise<{ rows: Row[] }>;
  /** Runs `work` in one transaction: committed when it resolves, rolled back when it throws. */
  transaction<T>(work: (client: Omit<SqlClient, 'transaction' | 'close'>) => Promise<T>): Promise<T>;
  close(): Promise<void>;
}

export interface BackendHelpers {
  /** The RATDB reads and loads over any PostgreSQL-dialect client (shared by postgres and pglite). */
  sqlRatdb(client: SqlClient, description: string): Ratdb;
  /** Replaces the password in a URL with `***`. */
  maskUrl(url: string): string;
  /** Retries a database call with backoff on connection errors. */
  retry<T>(what: string, work: () => Promise<T>): Promise<T>;
  /**
   * Takes `<dataDir>.lock` for this process (embedded single-user databases); throws a clear error
   * naming the holder when another live process has it. Returns the release function.
   */
  lockDirectory(dataDir: string, what: string): () => void;
  /** A line for the user on stderr (e.g. that a view is being built, with its progress). Optional. */
  notice?(message: string): void;
  /** A warning for the user (stderr), e.g. a cluster node given up for the next; passwords masked. */
  warn(message: string): void;
  /** A config problem in this section (exit 2), e.g. `configError('url', 'is missing')`. */
  configError(key: string, problem: string): Error;
  /** The embedded database of this section is not at `location` and the command may not create it (exit 2). */
  missingDatabase(location: string): Error;
}

export type DocumentStoreFactory = (context: BackendContext) => Promise<DocumentStore>;
export type RatdbFactory = (context: BackendContext) => Promise<Ratdb>;

/** What an `oproc:backends` hook returns. */
export interface BackendContribution {
  documentStores?: Record<string, DocumentStoreFactory>;
  ratdbs?: Record<string, RatdbFactory>;
}
