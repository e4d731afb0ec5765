/**
 * Real Apache CouchDB for integration tests: a single node or a cluster started from the
 * repository's sibling kit (`../shared/couchdb`, or the folder `OPROC_COUCHDB_KIT` names), or a
 * server someone else runs (`OPROC_TEST_COUCHDB=URL`, single node only). Where neither is there,
 * suites skip with a printed line so a fresh clone's `npm test` still passes.
 *
 * The kit's `start DIR [--nodes N]` prints one `http://admin:PW@127.0.0.1:PORT` line per node;
 * `stop DIR` stops exactly what it started. A node stopped by a test (`stopNode`) is started again
 * with the environment it ran with and recorded in `DIR/pids`, so the kit's `stop` ends it too.
 */
import { execFile, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { appendFile, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

import type { RunningServer } from './servers.js';

const run = promisify(execFile);

const repositoryRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');

/** The kit's folder, or undefined when this machine has none. */
export function couchKit(): string | undefined {
  const dir = process.env.OPROC_COUCHDB_KIT ?? path.resolve(repositoryRoot, '..', 'shared', 'couchdb');
  return existsSync(path.join(dir, 'start')) ? dir : undefined;
}

export interface ApacheCouch extends RunningServer {
  /** One URL per node, with the admin's credentials (`http://admin:PW@127.0.0.1:PORT`). */
  urls: string[];
  /** The kit's DIR (data, logs), undefined for an outside server. */
  dir?: string;
  /** Stops node K (1-based) by PID; the others keep running. */
  stopNode(k: number): Promise<void>;
  /** Starts node K again on its port with its data, after `stopNode(k)`. */
  startNode(k: number): Promise<void>;
}

interface NodeRecord {
  pid: number;
  name: string;
  start: string;
}

async function pidRecords(dir: string): Promise<NodeRecord[]> {
  const text = await readFile(path.join(dir, 'pids'), 'utf8').catch(() => '');
  return text
    .split('\n')
    .filter((line) => line.trim() !== '')
    .map((line) => {
      const [pid, name, start] = line.trim().split(/\s+/);
      return { pid: Number(pid), name: name ?? '', start: start ?? '' };
    });
}

async function startTime(pid: number): Promise<string | undefined> {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8').catch(() => undefined);
  return stat?.slice(stat.lastIndexOf(') ') + 2).split(' ')[19];
}

async function nodeUp(url: string): Promise<boolean> {
  const parsed = new URL(url);
  const auth = `${decodeURIComponent(parsed.username)}:${decodeURIComponent(parsed.password)}`;
  try {
    const response = await fetch(`${parsed.origin}/_up`, {
      headers: { authorization: `Basic ${Buffer.from(auth).toString('base64')}` },
      signal: AbortSignal.timeout(2000),
    });
    return response.ok;
  } catch {
    return false;
  }
}

/** fetch() refuses URLs with credentials: the origin, and the URL's user as a Basic header. */
export function splitCredentials(url: string): { origin: string; headers: Record<string, string> } {
  const parsed = new URL(url);
  const headers: Record<string, string> = { 'content-type': 'application/json' };
  if (parsed.username) {
    const auth = `${decodeURIComponent(parsed.username)}:${decodeURIComponent(parsed.password)}`;
    headers.authorization = `Basic ${Buffer.from(auth).toString('base64')}`;
  }
  return { origin: `${parsed.origin}${parsed.pathname}`.replace(/\/+$/, ''), headers };
}

/** A request to a CouchDB as its admin (the URL's credentials): status and JSON body. */
export async function couchRequest(
  url: string,
  method: string,
  target: string,
  body?: unknown,
): Promise<{ status: number; body: unknown }> {
  const { origin, headers } = splitCredentials(url);
  const response = await fetch(`${origin}${target}`, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await response.text();
  return { status: response.status, body: text ? (JSON.parse(text) as unknown) : undefined };
}

/** Deletes databases of a test (missing ones are fine). */
export async function deleteDatabases(url: string, names: readonly string[]): Promise<void> {
  await Promise.all(
    names.map((name) => couchRequest(url, 'DELETE', `/${encodeURIComponent(name)}`).catch(() => undefined)),
  );
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Starts a CouchDB of `nodes` nodes from the kit in a new temporary DIR. */
export async function startApacheCouch(options: { nodes?: number } = {}): Promise<ApacheCouch> {
  const kit = couchKit();
  if (!kit) throw new Error('no CouchDB kit on this machine (../shared/couchdb)');
  const nodes = options.nodes ?? 1;
  const dir = await mkdtemp(path.join(tmpdir(), 'oproc-apache-couch-'));
  // A run killed from outside (CI's timeout) cannot stop its nodes: CI stops the DIRs listed here.
  const ledger = process.env.OPROC_TEST_COUCH_DIRS;
  if (ledger) await appendFile(ledger, `${dir}\n`);
  try {
    const { stdout } = await run('bash', [path.join(kit, 'start'), dir, '--nodes', String(nodes)], {
      env: { ...process.env, COUCHDB_START_TIMEOUT: '120' },
      maxBuffer: 1 << 20,
    });
    const urls = stdout.trim().split('\n').filter(Boolean);
    // Environments of stopped nodes, to start them again as the kit did.
    const stoppedEnv = new Map<number, string[]>();
    const kitStop = async () => {
      await run('bash', [path.join(kit, 'stop'), dir]).catch(() => {});
    };
    const node = async (k: number): Promise<NodeRecord> => {
      const record = (await pidRecords(dir)).find((r) => r.name === `node${k}`);
      if (!record) throw new Error(`node${k} is not in ${dir}/pids`);
      return record;
    };
    return {
      url: urls[0]!,
      urls,
      dir,
      get pid() {
        return 0;
      },
      async stopNode(k) {
        const record = await node(k);
        if ((await startTime(record.pid)) !== record.start) return;
        const environ = await readFile(`/proc/${record.pid}/environ`, 'utf8');
        stoppedEnv.set(k, environ.split('\0').filter(Boolean));
        process.kill(record.pid, 'SIGTERM');
        for (let i = 0; i < 200 && alive(record.pid); i++) await sleep(100);
        if (alive(record.pid)) process.kill(record.pid, 'SIGKILL');
      },
      async startNode(k) {
        const env = stoppedEnv.get(k);
        if (!env) throw new Error(`node${k} was not stopped by stopNode`);
        const record = await node(k);
        const release = path.join(dir, 'couchdb-3.5.0');
        const runAs =
          process.getuid?.() === 0
            ? ['setpriv', '--reuid=couchdb', '--regid=couchdb', '--init-groups', '--']
            : [];
        const command = [...runAs, 'env', '-i', ...env, path.join(release, 'bin', 'couchdb')];
        // Not detached: setsid forks when its caller leads a process group, and the PID would be the fork's.
        const child = spawn('setsid', command, { stdio: 'ignore' });
        child.unref();
        const pid = child.pid!;
        // setsid and setpriv exec into the node: the PID is the node's. Record it for the kit's stop.
        const start = (await startTime(pid)) ?? '';
        const records = (await pidRecords(dir)).map((r) =>
          r.name === record.name ? { ...r, pid, start } : r,
        );
        await writeFile(
          path.join(dir, 'pids'),
          records.map((r) => `${r.pid} ${r.name} ${r.start}\n`).join(''),
        );
        stoppedEnv.delete(k);
        const deadline = Date.now() + 60_000;
        while (!(await nodeUp(urls[k - 1]!))) {
          if (Date.now() > deadline) throw new Error(`node${k} did not come back within 60 s`);
          await sleep(200);
        }
      },
      async stop() {
        await kitStop();
        await rm(dir, { recursive: true, force: true });
      },
    };
  } catch (error) {
    await run('bash', [path.join(kit, 'stop'), dir]).catch(() => {});
    await rm(dir, { recursive: true, force: true });
    throw error;
  }
}

let single: Promise<ApacheCouch | undefined> | undefined;

/**
 * The run's single-node Apache CouchDB, started once and stopped by the root hook: the server
 * `OPROC_TEST_COUCHDB` names, else one from the kit, else undefined (the caller skips).
 */
export function apacheCouchServer(): Promise<ApacheCouch | undefined> {
  single ??= (async () => {
    const outside = process.env.OPROC_TEST_COUCHDB;
    if (outside) {
      const refuse = async () => {
        throw new Error('OPROC_TEST_COUCHDB names an outside server: its nodes are not ours to stop');
      };
      return {
        url: outside,
        urls: [outside],
        pid: 0,
        stop: async () => {},
        stopNode: refuse,
        startNode: refuse,
      };
    }
    return couchKit() ? startApacheCouch() : undefined;
  })();
  return single;
}

/** Why Apache CouchDB suites are skipped here, or undefined when they can run. */
export function apacheCouchMissing(): string | undefined {
  if (process.env.OPROC_TEST_COUCHDB || couchKit()) return undefined;
  return 'no Apache CouchDB: neither OPROC_TEST_COUCHDB nor the kit ../shared/couchdb';
}

/** Stops the shared single node, if this run started one (called by the root hook in servers.ts). */
export async function stopApacheCouchServer(): Promise<void> {
  const started = single;
  single = undefined;
  const server = await started?.catch(() => undefined);
  await server?.stop();
}
