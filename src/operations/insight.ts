/**
 * What `oproc why` and `oproc status` (and the status page) read through: the databases, the
 * processing information of any RAT version, a clock and the lease length; and where each watcher
 * stands.
 */
import type { Databases } from '../backends/registry.js';
import type { DocumentStore, Ratdb, StoredDocument } from '../backends/types.js';
import type { OprocConfig } from '../config/load.js';
import type { ModuleCatalog } from '../modules/catalog.js';
import type { WatchState } from '../engine/watch.js';
import type { PastDays } from './status.js';
import {
  ids,
  type FileType,
  type ProcessingInformation,
  type RunNumber,
  type Selector,
} from '../engine/types.js';

/** A subset of the engine's context, for reads across RAT versions. */
export interface InsightContext {
  processing: DocumentStore;
  dataflow: DocumentStore;
  ratdb: Ratdb;
  now: () => Date;
  /** `watch.lease_seconds` of the config: a heartbeat older than this is stale. */
  leaseSeconds: number;
  /** The processing information and selector of a RAT version; a usage error naming the known ones when it has none. */
  processingFor(ratv: string): { info: ProcessingInformation; selector: Selector };
  /** `user@host`, recorded nowhere (reads only) but given to the planner. */
  user: string;
  /** Past days' runs and passes kept between status computations by a long-lived reader (`oproc serve`). */
  pastDays?: PastDays;
}

/** Builds the context from a loaded config, its opened databases and the module catalog (as `why`, `status` and `serve` do). */
export function insightContext(
  db: Pick<Databases, 'processing' | 'dataflow' | 'ratdb'>,
  config: OprocConfig,
  catalog: Pick<ModuleCatalog, 'forRatv' | 'selector'>,
  user = 'oproc-why',
): InsightContext {
  const selector = catalog.selector(config.selector);
  return {
    processing: db.processing,
    dataflow: db.dataflow,
    ratdb: db.ratdb,
    now: () => new Date(),
    leaseSeconds: config.watch.leaseSeconds,
    processingFor: (ratv) => ({ info: catalog.forRatv(ratv), selector }),
    user,
  };
}

/** Where one watcher (or block) of a RAT version and filetype stands. */
export interface WatcherView {
  filetype: FileType;
  /** Its state document: `watch_<ratv>_<filetype>`, or `..._block_<START>_<END>` for a block. */
  state: string;
  /** For a block: its START and END. */
  block: [RunNumber, RunNumber] | null;
  last_run: RunNumber | null;
  /** A submission the watcher journaled and has not finished (it resumes it on restart). */
  in_flight: string | null;
  updated: string | null;
  holder: string | null;
  host: string | null;
  heartbeat: string | null;
  heartbeat_age_seconds: number | null;
  expires: string | null;
  /** When it released its lease on stopping on purpose (`--once` done, a block finished, SIGINT, SIGTERM); null otherwise. */
  stopped: string | null;
  /** How it stopped: `once`, `block-done`, `SIGINT`, `SIGTERM`, or `error` or `stalled` (which are stale). */
  stopped_how: string | null;
  /** No live lease and no clean stop: heartbeat older than the lease, lease expired, stopped on an error, or no lease at all. */
  stale: boolean;
  /** Why it is stale, in words; null when it is not. */
  stale_reason: string | null;
  /** A block whose runs are all handled: it has ended, so it is not stale. */
  done: boolean;
}

interface LeaseFields {
  holder?: unknown;
  host?: unknown;
  heartbeat?: unknown;
  expires?: unknown;
  released?: unknown;
  stopped?: unknown;
}

const text = (value: unknown): string | null => (typeof value === 'string' ? value : null);

/** The state documents of a RAT version (watchers and blocks), in id order: one small range read. */
async function watchStates(store: DocumentStore, ratv: string): Promise<WatchState[]> {
  const prefix = `watch_${ratv}_`;
  const docs = await store.allDocs({ startkey: prefix, endkey: `${prefix}\ufff0` });
  return docs.filter((d): d is WatchState => d.type === 'watch_state' && d.ratv === ratv);
}

/** The RAT versions some watcher has a state for. */
export async function watchedRatvs(store: DocumentStore): Promise<string[]> {
  const docs = await store.allDocs({ startkey: 'watch_', endkey: 'watch_\ufff0' });
  return [
    ...new Set(
      docs.filter((d) => d.type === 'watch_state' && typeof d.ratv === 'string').map((d) => d.ratv as string),
    ),
  ];
}

/**
 * Every watcher and block of a RAT version (optionally one filetype) with its lease. A block shares the
 * watch lease of its RAT version and filetype, so both show its holder.
 */
export async function readWatchers(
  context: Pick<InsightContext, 'processing' | 'now' | 'leaseSeconds'>,
  ratv: string,
  filetype?: FileType,
): Promise<WatcherView[]> {
  const states = (await watchStates(context.processing, ratv)).filter(
    (s) => filetype === undefined || s.filetype === filetype,
  );
  const leaseIds = [...new Set(states.map((s) => ids.lease(ratv, s.filetype)))];
  const leases = leaseIds.length
    ? await context.processing.getMany(leaseIds)
    : new Map<string, StoredDocument>();
  const now = context.now();
  return states.map((state) => {
    const lease = leases.get(ids.lease(ratv, state.filetype)) as LeaseFields | undefined;
    const heartbeat = text(lease?.heartbeat);
    const expires = text(lease?.expires);
    const age =
      heartbeat === null ? null : Math.max(0, Math.round((now.getTime() - Date.parse(heartbeat)) / 1000));
    const block = Array.isArray(state.block) ? state.block : null;
    const done = block !== null && state.last_run !== null && state.last_run >= block[1];
    const released = text(lease?.released);
    const how = released === null ? null : (text(lease?.stopped) ?? 'error');
    const clean = released !== null && how !== 'error' && how !== 'stalled';
    const staleReason =
      done || clean
        ? null
        : released !== null
          ? how === 'stalled'
            ? `stopped at ${released} after it made no progress (stalled)`
            : `stopped after an error at ${released}`
          : staleness(age, expires, now, context.leaseSeconds);
    return {
      filetype: state.filetype,
      state: state._id,
      block,
      last_run: typeof state.last_run === 'number' ? state.last_run : null,
      in_flight: text(state.in_flight),
      updated: text(state.updated),
      holder: text(lease?.holder),
      host: text(lease?.host),
      heartbeat,
      heartbeat_age_seconds: age,
      expires,
      stopped: released,
      stopped_how: how,
      stale: staleReason !== null,
      stale_reason: staleReason,
      done,
    };
  });
}

function staleness(
  age: number | null,
  expires: string | null,
  now: Date,
  leaseSeconds: number,
): string | null {
  if (age === null) return 'no lease: no watcher has run with a lease';
  if (age > leaseSeconds) return `last heartbeat ${age} s ago, longer than the lease (${leaseSeconds} s)`;
  if (expires !== null && Date.parse(expires) <= now.getTime()) return `lease expired at ${expires}`;
  return null;
}
