/**
 * Helpers of the reliability suites: a scenario on servers of the suite's own (so an outage test
 * can stop them without touching the shared ones), CLI processes that can be killed at any instant,
 * and the full check of every job document against the submissions that should have written it.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import type { Databases } from '../../src/backends/registry.js';
import couchdbBackends from '../../plugins/couchdb/src/hooks/backends.js';
import type { DocumentStore, StoredDocument } from '../../src/backends/types.js';
import { ids, type JobDocument } from '../../src/engine/types.js';
import { startCouch, type RunningCouch } from '../support/couch-server.js';
import { startPostgres, type PostgresServer } from '../support/postgres-server.js';
import { couchKit, startApacheCouch } from '../support/apache-couch.js';
import { backendContext } from '../support/context.js';
import { scenario, type BackendKind, type Scenario } from '../support/scenario.js';
import type { RunningServer } from '../support/servers.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

/** A CouchDB server of a suite's own that it may stop and start again (same port, same data). */
export type OwnCouch = Pick<RunningCouch, 'url' | 'pid' | 'stop' | 'stopOnly' | 'start'>;

/** A CouchDB-protocol server and a PostgreSQL server of one suite, stopped by PID at its end. */
export interface OwnServers {
  couch: OwnCouch;
  postgres: PostgresServer;
  stop(): Promise<void>;
}

/** An Apache CouchDB node of the suite's own, from the kit: stopped and started by PID. */
async function ownApacheCouch(): Promise<OwnCouch> {
  const node = await startApacheCouch();
  let stopped = false;
  return {
    url: node.url,
    pid: 0,
    stopOnly: async () => {
      if (stopped) return;
      await node.stopNode(1);
      stopped = true;
    },
    start: async () => {
      if (!stopped) return;
      await node.startNode(1);
      stopped = false;
    },
    stop: () => node.stop(),
  };
}

/** Why a suite cannot have servers of its own of this kind here, or undefined when it can. */
export function ownServersMissing(kind: BackendKind): string | undefined {
  if (kind !== 'apache' || couchKit()) return undefined;
  return 'no CouchDB kit (../shared/couchdb): this suite stops a node of its own, which OPROC_TEST_COUCHDB cannot give';
}

export async function ownServers(kind: BackendKind = 'servers'): Promise<OwnServers> {
  const couchStart = kind === 'apache' ? ownApacheCouch() : startCouch();
  const [couch, postgres] = await Promise.allSettled([couchStart, startPostgres()]);
  const started = [couch, postgres].flatMap((r) => (r.status === 'fulfilled' ? [r.value] : []));
  const stop = async () => {
    await Promise.allSettled(started.map((s) => s.stop()));
  };
  if (couch.status === 'rejected' || postgres.status === 'rejected') {
    await stop();
    throw couch.status === 'rejected' ? couch.reason : (postgres as PromiseRejectedResult).reason;
  }
  return { couch: couch.value, postgres: postgres.value, stop };
}

/** Like `scenario(kind)`, on the given servers, with watch settings of the suite's choosing. */
export function serverScenario(
  couch: RunningServer,
  postgres: RunningServer,
  extra: Record<string, unknown> = {},
  kind: BackendKind = 'servers',
): Promise<Scenario> {
  return scenario(kind, extra, { couch, postgres });
}

/** Every document whose id starts with `prefix`, paged by key. */
export async function docsWithPrefix(db: Databases, prefix: string): Promise<StoredDocument[]> {
  const all: StoredDocument[] = [];
  const endkey = `${prefix}\uffff`;
  let page = await db.processing.allDocs({ startkey: prefix, endkey, limit: 2000 });
  for (;;) {
    all.push(...page);
    if (page.length < 2000) return all;
    page = await db.processing.allDocs({ startkey: page.at(-1)!._id, endkey, limit: 2000, skip: 1 });
  }
}

/** A CLI process of the suite: output kept, stopped by PID when the suite ends however it ends. */
export interface CliProcess {
  child: ChildProcess;
  started: number;
  stdout(): string;
  stderr(): string;
  exit: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

const live = new Set<ChildProcess>();

export function startCli(args: readonly string[], env: NodeJS.ProcessEnv = {}): CliProcess {
  const child = spawn(process.execPath, [path.join(root, 'bin', 'run.js'), ...args], {
    cwd: root,
    env: { ...process.env, ...env, NO_COLOR: '1' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  live.add(child);
  let out = '';
  let err = '';
  child.stdout!.on('data', (c: Buffer) => (out += c.toString()));
  child.stderr!.on('data', (c: Buffer) => (err += c.toString()));
  const exit = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.on('close', (code, signal) => {
      live.delete(child);
      resolve({ code, signal });
    }),
  );
  return { child, started: Date.now(), stdout: () => out, stderr: () => err, exit };
}

/** SIGKILLs (by PID) every CLI process a test left running: for `afterEach`. */
export async function killLeftovers(): Promise<void> {
  const left = [...live];
  for (const child of left) if (child.pid !== undefined) process.kill(child.pid, 'SIGKILL');
  await Promise.all(
    left.map((c) => new Promise((resolve) => (c.exitCode !== null ? resolve(0) : c.once('close', resolve)))),
  );
}

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** What the full check of the job documents found. */
export interface DocumentCheck {
  jobs: number;
  passes: number;
  /** (submission, run, module) with more than one pass. */
  duplicates: string[];
  /** Intended (submission, run, module) without a pass. */
  losses: string[];
  /** Pass numbers repeated in one job document, or prerequisites naming another pass. */
  broken: string[];
}

/**
 * Checks every job document: each intended (run, module) of each submission has exactly one pass of
 * it, pass numbers never repeat within a document, and an Analysis pass links the Processing pass
 * of its own submission.
 */
export function checkJobs(
  jobs: readonly StoredDocument[],
  intended: ReadonlyMap<string, { runs: readonly number[]; modules: readonly string[] }>,
): DocumentCheck {
  const check: DocumentCheck = { jobs: jobs.length, passes: 0, duplicates: [], losses: [], broken: [] };
  const seen = new Map<string, number>();
  const byId = new Map(jobs.map((d) => [d._id, d as JobDocument]));
  for (const doc of byId.values()) {
    if (!Array.isArray(doc.passes)) {
      check.broken.push(`${doc._id}: passes is not an array`);
      continue;
    }
    check.passes += doc.passes.length;
    const numbers = doc.passes.map((p) => p.pass);
    if (new Set(numbers).size !== numbers.length)
      check.broken.push(`${doc._id}: pass numbers ${numbers.join(',')}`);
    for (const pass of doc.passes) {
      const key = `${pass.submission} ${doc.run} ${doc.module}`;
      seen.set(key, (seen.get(key) ?? 0) + 1);
      for (const prerequisite of pass.prerequisites) {
        const linked = byId.get(ids.job(doc.run, prerequisite.module));
        const target = linked?.passes.find((p) => p.submission === pass.submission);
        if (target?.pass !== prerequisite.pass) {
          check.broken.push(
            `${doc._id} pass ${pass.pass} links ${prerequisite.module} pass ${prerequisite.pass}, not ${target?.pass}`,
          );
        }
      }
    }
  }
  for (const [key, count] of seen) if (count > 1) check.duplicates.push(`${key} ×${count}`);
  for (const [submission, { runs, modules }] of intended) {
    for (const run of runs)
      for (const module of modules)
        if (!seen.has(`${submission} ${run} ${module}`)) check.losses.push(`${submission} ${run} ${module}`);
  }
  return check;
}

/** Sends a signal to a CLI process still running; false when it has exited (or was never started). */
export function signal(cli: CliProcess | undefined, name: NodeJS.Signals): boolean {
  if (!cli || cli.child.exitCode !== null || cli.child.signalCode !== null) return false;
  try {
    process.kill(cli.child.pid!, name);
    return true;
  } catch {
    return false;
  }
}

/** Asks `ok` every 200 ms until it says yes; an error (a node being down) is asked again. */
export async function waitFor(what: string, ok: () => Promise<boolean>, ms = 180_000): Promise<void> {
  const deadline = Date.now() + ms;
  for (;;) {
    try {
      if (await ok()) return;
    } catch {
      // A node being down: ask again.
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(200);
  }
}

/** The processing database through one node of a cluster, as oproc's couchdb backend opens it. */
export async function openNode(url: string, database: string): Promise<DocumentStore> {
  const factory = (await couchdbBackends()).documentStores!.couchdb!;
  const context = backendContext('processing', { backend: 'couchdb', url, database });
  context.helpers.warn = () => {};
  return factory(context);
}
