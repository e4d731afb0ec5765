/**
 * A throwaway PostgreSQL cluster for tests: initdb in a fresh temp dir, started with pg_ctl on a free
 * loopback port. The superuser `postgres` connects over 127.0.0.1 without a password; every other
 * role needs one (scram-sha-256), so tests can exercise password handling.
 */
import { execFile } from 'node:child_process';
import { existsSync, readdirSync, rmSync } from 'node:fs';
import { chown, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';

import pg from 'pg';

import { processAlive as alive } from '../../src/util/process.js';
import { freePort } from './ports.js';
import type { RunningServer } from './servers.js';

export { freePort };

export interface PostgresServer extends RunningServer {
  port: number;
  /** Stops the server, keeping its data (for outage tests); `start` brings it back on the same port. */
  halt(): Promise<void>;
  start(): Promise<void>;
  restart(): Promise<void>;
}

const asRoot = process.getuid?.() === 0;

/** initdb and pg_ctl: on PATH, else the newest under /usr/lib/postgresql/N/bin. */
function binary(name: string): string {
  for (const dir of (process.env.PATH ?? '').split(path.delimiter)) {
    if (dir && existsSync(path.join(dir, name))) return path.join(dir, name);
  }
  const root = '/usr/lib/postgresql';
  const versions = existsSync(root) ? readdirSync(root).sort((a, b) => Number(b) - Number(a)) : [];
  for (const version of versions) {
    const candidate = path.join(root, version, 'bin', name);
    if (existsSync(candidate)) return candidate;
  }
  throw new Error(
    `${name} not found on PATH or under ${root}/*/bin: install PostgreSQL (apt-get install postgresql)`,
  );
}

/** Runs a PostgreSQL tool, as the `postgres` user when we are root (the server refuses to run as root). */
function run(tool: string, args: string[]): Promise<string> {
  const [file, argv] = asRoot
    ? ['runuser', ['-u', 'postgres', '--', binary(tool), ...args]]
    : [binary(tool), args];
  return new Promise((resolve, reject) => {
    execFile(file, argv, { timeout: 60_000 }, (error, stdout, stderr) => {
      if (error) reject(new Error(`${tool} ${args.join(' ')} failed: ${stderr || error.message}`));
      else resolve(stdout);
    });
  });
}

async function waitGone(pid: number, ms: number): Promise<boolean> {
  const until = Date.now() + ms;
  while (alive(pid)) {
    if (Date.now() > until) return false;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return true;
}

const hba = [
  '# oproc tests: the superuser without a password, every other role with one',
  'local all postgres trust',
  'host  all postgres 127.0.0.1/32 trust',
  'local all all scram-sha-256',
  'host  all all 127.0.0.1/32 scram-sha-256',
  '',
].join('\n');

async function initCluster(dir: string, dataDir: string): Promise<void> {
  if (asRoot) {
    const { uid, gid } = await postgresUser();
    await chown(dir, uid, gid);
  }
  await run('initdb', [
    '-D',
    dataDir,
    '-U',
    'postgres',
    '-A',
    'trust',
    '-E',
    'UTF8',
    '--locale=C',
    '--no-sync',
  ]);
  await writeFile(path.join(dataDir, 'pg_hba.conf'), hba);
  if (asRoot) {
    const { uid, gid } = await postgresUser();
    await chown(path.join(dataDir, 'pg_hba.conf'), uid, gid);
  }
}

async function postgresUser(): Promise<{ uid: number; gid: number }> {
  const passwd = await readFile('/etc/passwd', 'utf8');
  const line = passwd.split('\n').find((entry) => entry.startsWith('postgres:'));
  if (!line) throw new Error('running as root needs a "postgres" system user to run the server as');
  const [, , uid, gid] = line.split(':');
  return { uid: Number(uid), gid: Number(gid) };
}

async function postmasterPid(dataDir: string): Promise<number> {
  const text = await readFile(path.join(dataDir, 'postmaster.pid'), 'utf8');
  const pid = Number(text.split('\n')[0]);
  if (!Number.isInteger(pid) || pid <= 0) throw new Error(`no PID in ${dataDir}/postmaster.pid`);
  return pid;
}

/** Postmasters running now, by PID, with their directories. */
const running = new Map<number, string>();
let guarded = false;

/** Immediate shutdown (SIGQUIT) of every server still running, and their directories removed. */
function stopAllNow(): void {
  for (const [pid, dir] of running) {
    try {
      process.kill(pid, 'SIGQUIT');
    } catch {
      // Already gone.
    }
    rmSync(dir, { recursive: true, force: true, maxRetries: 3 });
  }
  running.clear();
}

/** A test run ended early (a timeout's SIGTERM, a closed terminal) takes its servers with it. */
function guardExit(): void {
  if (guarded) return;
  guarded = true;
  process.once('exit', stopAllNow);
  for (const signal of ['SIGTERM', 'SIGHUP'] as const) {
    process.once(signal, () => {
      stopAllNow();
      process.kill(process.pid, signal);
    });
  }
}

/** Starts a fresh cluster; stop() stops it (by PID if pg_ctl fails) and removes its directory. */
export async function startPostgres(): Promise<PostgresServer> {
  const dir = await mkdtemp(path.join(tmpdir(), 'oproc-pg-'));
  const dataDir = path.join(dir, 'data');
  try {
    await initCluster(dir, dataDir);
  } catch (error) {
    await rm(dir, { recursive: true, force: true });
    throw error;
  }
  let pid = 0;
  let port = 0;
  const pgStart = async () => {
    const options = [
      `-p ${port}`,
      '-c listen_addresses=127.0.0.1',
      `-c unix_socket_directories=${dir}`,
      '-c fsync=off',
      '-c synchronous_commit=off',
      '-c full_page_writes=off',
      '-c max_connections=200',
    ].join(' ');
    await run('pg_ctl', [
      '-D',
      dataDir,
      '-l',
      path.join(dir, 'server.log'),
      '-w',
      '-t',
      '60',
      '-o',
      options,
      'start',
    ]);
    pid = await postmasterPid(dataDir);
    running.set(pid, dir);
    guardExit();
  };
  const halt = async () => {
    if (pid === 0) return;
    await run('pg_ctl', ['-D', dataDir, '-m', 'fast', '-w', '-t', '30', 'stop']).catch(() => undefined);
    if (!(await waitGone(pid, 10_000))) {
      process.kill(pid, 'SIGKILL');
      await waitGone(pid, 10_000);
    }
    running.delete(pid);
    pid = 0;
  };
  // A port found free may be taken before the server binds it: try a few.
  for (let attempt = 1; pid === 0; attempt++) {
    port = await freePort();
    try {
      await pgStart();
    } catch (error) {
      if (attempt >= 3) {
        await rm(dir, { recursive: true, force: true });
        throw error;
      }
    }
  }
  const server: PostgresServer = {
    url: `postgres://postgres@127.0.0.1:${port}/postgres`,
    port,
    get pid() {
      return pid;
    },
    halt,
    start: pgStart,
    restart: async () => {
      await halt();
      await pgStart();
    },
    async stop() {
      await halt();
      await rm(dir, { recursive: true, force: true });
    },
  };
  return server;
}

/** The PostgreSQL controls of a server from `postgresServer()`. */
export function postgresControl(server: RunningServer): PostgresServer {
  if (!('restart' in server)) throw new Error(`${server.url} is not a test PostgreSQL server`);
  return server as PostgresServer;
}

async function asSuperuser<T>(server: RunningServer, work: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: server.url });
  await client.connect();
  try {
    return await work(client);
  } finally {
    await client.end();
  }
}

const ident = (name: string) => `"${name.replace(/"/g, '""')}"`;
const literal = (text: string) => `'${text.replace(/'/g, "''")}'`;

/** A fresh database (one per test, so tests never collide); returns its URL as the superuser. */
export async function createDatabase(
  server: RunningServer,
  name = `t_${randomBytes(6).toString('hex')}`,
  options: { owner?: string } = {},
): Promise<string> {
  await asSuperuser(server, (client) =>
    client.query(`CREATE DATABASE ${ident(name)}${options.owner ? ` OWNER ${ident(options.owner)}` : ''}`),
  );
  return server.url.replace(/\/[^/]*$/, `/${name}`);
}

/** A login role that must give `password` (pg_hba asks every role but the superuser for one). */
export async function createRole(server: RunningServer, name: string, password: string): Promise<void> {
  await asSuperuser(server, (client) =>
    client.query(`CREATE ROLE ${ident(name)} LOGIN PASSWORD ${literal(password)}`),
  );
}
